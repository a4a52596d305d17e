/* sfd's side of a controller connection (sfrun): reads frames, dispatches
 * JOB_SUBMIT / STDIN / SIGNAL / GOODBYE, and sends replies. A lost client
 * takes its job down with it. Runs on the loop thread. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/base/sf_err.h"
#include "runtime/base/sf_log.h"
#include "runtime/sfd/sfd_int.h"

int sf_sfd__client_send(struct sf_sfd_client *c, struct sf_wire_enc *e)
{
    if (c->dead) {
        return SF_ERR_PEER_GONE;
    }
    int rc = sf_wire_enc_end(e);
    if (rc == 0) {
        rc = sf_wire_write_all(c->fd, e->buf, e->len);
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

/* The client went away (EOF, error, protocol violation). In embedded mode
 * there is nobody else to report to: kill the job and leave. */
void sf_sfd__client_lost(struct sf_sfd_client *c)
{
    if (c->dead) {
        return;
    }
    c->dead = true;
    sf_loop_del_fd(c->sfd->loop, c->fd);
    if (c->job != NULL && c->job->state != SFD_JOB_DONE) {
        SF_INFO("client gone: killing job %llu", (unsigned long long)c->job->id);
        sf_sfd__job_kill_now(c->job);
    }
    sf_loop_stop(c->sfd->loop);
}

static int on_submit(void *ctx, const struct sf_wire_msg *m)
{
    struct sf_sfd_client *c = ctx;
    return sf_sfd__job_submit(c->sfd, c, m);
}

static int on_stdin(void *ctx, const struct sf_wire_msg *m)
{
    struct sf_sfd_client *c = ctx;
    if (c->job == NULL) {
        return 0;
    }
    return sf_sfd__io_stdin(c->job, m->f[0].p, m->f[0].len);
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

static int on_goodbye(void *ctx, const struct sf_wire_msg *m)
{
    struct sf_sfd_client *c = ctx;
    SF_DBG("client said goodbye");
    sf_sfd__client_lost(c);
    return 0;
}

static const sf_wire_handler client_ops[SF_OP_COUNT] = {
    [SF_OP_JOB_SUBMIT] = on_submit,
    [SF_OP_STDIN] = on_stdin,
    [SF_OP_SIGNAL] = on_signal,
    [SF_OP_GOODBYE] = on_goodbye,
};

static void on_client_io(struct sf_loop *loop, int fd, int events, void *arg)
{
    struct sf_sfd_client *c = arg;
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
            SF_WARN_SPARSE("client sent unexpected op %u", m.op);
        }
    }
    if (!c->dead && rc < 0) {
        SF_ERR("client stream corrupt (%s): closing", sf_strerror(rc));
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
    /* The inherited socket must not leak into ranks. */
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
    *out = c;
    return 0;
}

void sf_sfd__client_free(struct sf_sfd_client *c)
{
    if (!c->dead) {
        sf_loop_del_fd(c->sfd->loop, c->fd);
    }
    close(c->fd);
    sf_wire_rx_free(&c->rx);
    free(c);
}
