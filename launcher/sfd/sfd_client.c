/* sfd's side of a controller connection (sfrun, sf): reads frames,
 * dispatches JOB_SUBMIT / STDIN / SIGNAL / STATUS_REQ / GOODBYE, and queues
 * replies (never blocking the loop). A lost client takes its job down with
 * it. Also the byte queue shared with peer connections. Loop thread. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/base/sf_err.h"
#include "runtime/base/sf_log.h"
#include "launcher/sfd/sfd_int.h"

int sf_sfd__txq_flush(struct sf_loop *loop, int fd, struct sf_sfd_txq *q)
{
    while (q->off < q->len) {
        ssize_t n = write(fd, q->buf + q->off, q->len - q->off);
        if (n > 0) {
            q->off += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return sf_loop_mod_fd(loop, fd, SF_LOOP_IN | SF_LOOP_OUT);
        } else {
            return n < 0 ? -errno : -EPIPE;
        }
    }
    q->off = q->len = 0;
    return sf_loop_mod_fd(loop, fd, SF_LOOP_IN);
}

int sf_sfd__txq_send(struct sf_loop *loop, int fd, struct sf_sfd_txq *q, const void *p, size_t n)
{
    bool idle = q->off == q->len;
    if (idle) {
        q->off = q->len = 0;
    }
    if (q->len - q->off + n > SFD_TXQ_MAX) {
        return -ENOBUFS;
    }
    if (q->off > 0 && q->off > q->cap / 2) {
        memmove(q->buf, q->buf + q->off, q->len - q->off);
        q->len -= q->off;
        q->off = 0;
    }
    if (q->len + n > q->cap) {
        size_t cap = q->cap ? q->cap : 4096;
        while (cap < q->len + n) {
            cap *= 2;
        }
        uint8_t *nb = realloc(q->buf, cap);
        if (nb == NULL) {
            return -ENOMEM;
        }
        q->buf = nb;
        q->cap = cap;
    }
    memcpy(q->buf + q->len, p, n);
    q->len += n;
    return idle ? sf_sfd__txq_flush(loop, fd, q) : 0;
}

void sf_sfd__txq_free(struct sf_sfd_txq *q)
{
    free(q->buf);
    memset(q, 0, sizeof(*q));
}

struct sf_sfd_txq *sf_sfd__client_txq(struct sf_sfd_client *c)
{
    return c->pc != NULL ? &c->pc->tx : &c->tx;
}

int sf_sfd__client_send(struct sf_sfd_client *c, struct sf_wire_enc *e)
{
    if (c->dead) {
        return SF_ERR_PEER_GONE;
    }
    if (c->pc != NULL) {
        /* Remote: the frame leaves sealed; the header's sequence number
         * is the connection's, not the client's counter. */
        uint32_t s = sf_sfd__auth_next_seq(&c->pc->auth);
        if (e->buf != NULL && e->len >= SF_WIRE_HDR_LEN) {
            e->buf[8] = (uint8_t)(s >> 24);
            e->buf[9] = (uint8_t)(s >> 16);
            e->buf[10] = (uint8_t)(s >> 8);
            e->buf[11] = (uint8_t)s;
        }
        int rc = sf_sfd__pconn_send(c->pc, e);
        if (rc != 0) {
            sf_sfd__client_lost(c);
        }
        return rc;
    }
    int rc = sf_wire_enc_end(e);
    if (rc == 0) {
        rc = sf_sfd__txq_send(c->sfd->loop, c->fd, &c->tx, e->buf, e->len);
        if (rc != 0) {
            SF_DBG("client write failed: %s", sf_strerror(rc));
            sf_sfd__client_lost(c);
        }
    } else {
        SF_ERR("encoding op %u failed: %s", e->op, sf_strerror(rc));
    }
    return rc;
}

int sf_sfd__client_error(struct sf_sfd_client *c, int code, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    struct sf_wire_enc e;
    sf_wire_enc_begin(&e, SF_OP_ERROR, c->seq++);
    sf_wire_put_i32(&e, code);
    sf_wire_put_str(&e, text);
    int rc = sf_sfd__client_send(c, &e);
    sf_wire_enc_free(&e);
    return rc;
}

/* The client went away (EOF, error, protocol violation). Its job dies. In
 * embedded mode there is nobody else to serve: the daemon leaves. */
void sf_sfd__client_lost(struct sf_sfd_client *c)
{
    if (c->dead) {
        return;
    }
    c->dead = true;
    if (c->pc != NULL) {
        c->pc->dead = true; /* the tick closes it */
        c->pc->client = NULL;
        c->pc = NULL;
    } else {
        sf_loop_del_fd(c->sfd->loop, c->fd);
    }
    struct sf_sfd_job *job = c->job;
    if (job != NULL) {
        job->client = NULL;
        c->job = NULL;
        if (job->state != SFD_JOB_DONE) {
            SF_INFO("client gone: killing job %llu", (unsigned long long)job->id);
            sf_sfd__job_kill_now(job);
        }
    }
    if (!c->sfd->listening) {
        sf_loop_stop(c->sfd->loop);
    }
}

static int on_submit(void *ctx, const struct sf_wire_msg *m)
{
    struct sf_sfd_client *c = ctx;
    return sf_sfd__job_submit(c->sfd, c, m);
}

static int on_stdin(void *ctx, const struct sf_wire_msg *m)
{
    struct sf_sfd_client *c = ctx;
    if (c->job != NULL) {
        sf_sfd__job_stdin(c->job, m->f[0].p, m->f[0].len);
    }
    return 0;
}

static int on_signal(void *ctx, const struct sf_wire_msg *m)
{
    struct sf_sfd_client *c = ctx;
    int signo = (int)m->f[0].i;
    if (signo <= 0 || signo >= 65) {
        SF_WARN_SPARSE("client sent bad signal number %d", signo);
        return 0;
    }
    if (c->job != NULL) {
        sf_sfd__job_signal(c->job, signo);
    }
    return 0;
}

static int on_status(void *ctx, const struct sf_wire_msg *m)
{
    struct sf_sfd_client *c = ctx;
    char **lines = NULL;
    size_t n = 0;
    sf_sfd__status_lines(c->sfd, &lines, &n);
    struct sf_wire_enc e;
    sf_wire_enc_begin(&e, SF_OP_STATUS, c->seq++);
    sf_wire_put_strv(&e, lines, n);
    sf_sfd__client_send(c, &e);
    sf_wire_enc_free(&e);
    for (size_t i = 0; i < n; i++) {
        free(lines[i]);
    }
    free(lines);
    return 0;
}

static int on_goodbye(void *ctx, const struct sf_wire_msg *m)
{
    struct sf_sfd_client *c = ctx;
    SF_DBG("client said goodbye");
    sf_sfd__client_lost(c);
    return 0;
}

static int on_fs(void *ctx, const struct sf_wire_msg *m)
{
    return sf_sfd__fs_client_op(ctx, m);
}

static int on_fs_meta(void *ctx, const struct sf_wire_msg *m)
{
    return sf_sfd__fs_meta_client_op(ctx, m);
}

static const sf_wire_handler client_ops[SF_OP_COUNT] = {
    [SF_OP_JOB_SUBMIT] = on_submit, [SF_OP_STDIN] = on_stdin,
    [SF_OP_SIGNAL] = on_signal,     [SF_OP_GOODBYE] = on_goodbye,
    [SF_OP_STATUS_REQ] = on_status, [SF_OP_CKPT_REQ] = sf_sfd__ckpt_client_req,
    [SF_OP_FS_BLOCK_WRITE] = on_fs, [SF_OP_FS_BLOCK_READ] = on_fs,
    [SF_OP_FS_ADMIN] = on_fs,
    [SF_OP_FS_NS] = on_fs_meta,     [SF_OP_FS_READDIR] = on_fs_meta,
    [SF_OP_CKPT_PREPARE] = sf_sfd__ckpt_criu_client,
};

void sf_sfd__client_dispatch(struct sf_sfd_client *c, const struct sf_wire_msg *m)
{
    if (c->dead) {
        return;
    }
    if (sf_wire_dispatch(client_ops, SF_OP_COUNT, c, m) == SF_ERR_PROTO) {
        c->sfd->drops[SFD_DROP_PROTO]++;
        SF_WARN_SPARSE("remote client sent unexpected op %u", m->op);
    }
}

static void on_client_io(struct sf_loop *loop, int fd, int events, void *arg)
{
    struct sf_sfd_client *c = arg;
    if (events & SF_LOOP_OUT) {
        int rc = sf_sfd__txq_flush(loop, fd, &c->tx);
        if (rc != 0) {
            sf_sfd__client_lost(c);
            return;
        }
        sf_sfd__io_resume(c->sfd);
    }
    if (!(events & (SF_LOOP_IN | SF_LOOP_HUP | SF_LOOP_ERR))) {
        return;
    }
    long n = sf_wire_rx_fill(&c->rx, fd);
    if (n == -EAGAIN) {
        return;
    }
    if (n <= 0) {
        if (n < 0) {
            SF_DBG("client read: %s", sf_strerror((int)n));
        }
        sf_sfd__client_lost(c);
        return;
    }
    struct sf_wire_msg m;
    int rc;
    while (!c->dead && (rc = sf_wire_rx_next(&c->rx, &m)) == 1) {
        int hr = sf_wire_dispatch(client_ops, SF_OP_COUNT, c, &m);
        if (hr == SF_ERR_PROTO) {
            /* Valid frame, but not one a client may send: drop it. */
            c->sfd->drops[SFD_DROP_PROTO]++;
            SF_WARN_SPARSE("client sent unexpected op %u", m.op);
        }
    }
    if (!c->dead && rc < 0) {
        SF_ERR("client stream corrupt (%s): closing", sf_strerror(rc));
        c->sfd->drops[SFD_DROP_GARBAGE]++;
        sf_sfd__client_lost(c);
    }
}

int sf_sfd__client_add(struct sf_sfd *sfd, int fd, struct sf_sfd_client **out)
{
    struct sf_sfd_client *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return -ENOMEM;
    }
    c->sfd = sfd;
    c->fd = fd;
    sf_wire_rx_init(&c->rx);
    /* The socket must not leak into ranks. */
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        int err = -errno;
        sf_wire_rx_free(&c->rx);
        free(c);
        return err;
    }
    int rc = sf_loop_add_fd(sfd->loop, fd, SF_LOOP_IN, on_client_io, c);
    if (rc != 0) {
        sf_wire_rx_free(&c->rx);
        free(c);
        return rc;
    }
    c->next = sfd->clients;
    sfd->clients = c;
    if (out != NULL) {
        *out = c;
    }
    return 0;
}

int sf_sfd__client_add_remote(struct sf_sfd *sfd, struct sf_sfd_pconn *pc,
                              struct sf_sfd_client **out)
{
    struct sf_sfd_client *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return -ENOMEM;
    }
    c->sfd = sfd;
    c->fd = -1;
    c->pc = pc;
    sf_wire_rx_init(&c->rx);
    pc->client = c;
    c->next = sfd->clients;
    sfd->clients = c;
    *out = c;
    return 0;
}

void sf_sfd__client_free(struct sf_sfd_client *c)
{
    for (struct sf_sfd_client **pp = &c->sfd->clients; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    if (c->job != NULL) {
        c->job->client = NULL;
    }
    sf_sfd__fs_client_gone(c->sfd, c);
    sf_sfd__fs_meta_client_gone(c->sfd, c);
    if (c->pc != NULL) {
        c->pc->client = NULL;
        c->pc->dead = true;
    } else if (c->fd >= 0) {
        if (!c->dead) {
            sf_loop_del_fd(c->sfd->loop, c->fd);
        }
        close(c->fd);
    }
    sf_wire_rx_free(&c->rx);
    sf_sfd__txq_free(&c->tx);
    free(c);
}

/* Free dead clients, and finished ones whose replies have left. Called
 * from the loop's before-sleep hook, never from inside a client callback. */
void sf_sfd__clients_reap(struct sf_sfd *sfd)
{
    struct sf_sfd_client *c = sfd->clients, *next;
    for (; c != NULL; c = next) {
        next = c->next;
        struct sf_sfd_txq *q = sf_sfd__client_txq(c);
        if (c->dead || (c->close_when_sent && q->off == q->len)) {
            sf_sfd__client_free(c);
        }
    }
}
