/* A rank's channels inside sfd: the control socket (wire-up: HELLO, ADDR,
 * the ADDR_TABLE reply, FINALIZE, ABORT), its stdout/stderr pipes turned
 * into OUTPUT frames for the client, and rank 0's stdin fed from STDIN
 * frames. Judging exits is sfd_job.c's business. Loop thread only. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/base/sf_err.h"
#include "runtime/base/sf_log.h"
#include "launcher/sfd/sfd_int.h"

static void flow(struct sf_sfd_job *job, bool pause);
static bool congested(struct sf_sfd_job *job, size_t limit);

static void close_fd(struct sf_sfd_rank *r, int *fd)
{
    if (*fd >= 0) {
        sf_loop_del_fd(r->job->sfd->loop, *fd);
        close(*fd);
        *fd = -1;
    }
}

int sf_sfd__io_output(struct sf_sfd_job *job, int rank, int stream, const void *p, size_t len)
{
    if (!job->coord) {
        /* A part forwards its ranks' output to the coordinator. */
        if (job->coord_peer == NULL) {
            return SF_ERR_PEER_GONE;
        }
        struct sf_wire_enc e;
        sf_wire_enc_begin(&e, SF_OP_JOB_OUTPUT, sf_sfd__peer_seq(job->coord_peer));
        sf_wire_put_u64(&e, job->id);
        sf_wire_put_i32(&e, rank);
        sf_wire_put_u8(&e, (uint8_t)stream);
        sf_wire_put_bytes(&e, p, len);
        int rc = sf_sfd__peer_send(job->coord_peer, &e);
        sf_wire_enc_free(&e);
        return rc;
    }
    struct sf_sfd_client *c = job->client;
    if (c == NULL || c->dead) {
        return SF_ERR_PEER_GONE;
    }
    if (!sf_sfd__ckpt_output(job, rank, stream, &p, &len)) {
        return 0; /* a restarted rank repeating what was printed already */
    }
    struct sf_wire_enc e;
    sf_wire_enc_begin(&e, SF_OP_OUTPUT, c->seq++);
    sf_wire_put_i32(&e, rank);
    sf_wire_put_u8(&e, (uint8_t)stream);
    sf_wire_put_bytes(&e, p, len);
    int rc = sf_sfd__client_send(c, &e);
    sf_wire_enc_free(&e);
    if (rc == 0 && job->nlocal < job->n && !job->flow_paused && congested(job, SFD_OUT_HIGH)) {
        flow(job, true);
    }
    return rc;
}

int sf_sfd__io_send_rank(struct sf_sfd_rank *r, struct sf_wire_enc *e)
{
    if (r->ctl_fd < 0) {
        return SF_ERR_PEER_GONE;
    }
    int rc = sf_wire_enc_end(e);
    if (rc == 0) {
        rc = sf_wire_write_all(r->ctl_fd, e->buf, e->len);
    }
    if (rc != 0) {
        SF_DBG("rank %d: control write failed: %s", r->rank, sf_strerror(rc));
    }
    return rc;
}

/* Send an encoded ADDR_TABLE to this node's ranks. */
static void table_to_ranks(struct sf_sfd_job *job, struct sf_wire_enc *e)
{
    job->table_sent = true;
    for (int i = 0; i < job->n; i++) {
        struct sf_sfd_rank *r = &job->ranks[i];
        if (r->local && r->ctl_fd >= 0 && sf_wire_write_all(r->ctl_fd, e->buf, e->len) != 0) {
            SF_DBG("rank %d: cannot send the address table", i);
        }
    }
}

void sf_sfd__io_send_table(struct sf_sfd_job *job)
{
    int32_t *nodes = calloc((size_t)job->n, sizeof(int32_t));
    size_t total = 0;
    for (int i = 0; i < job->n; i++) {
        total += 4 + job->ranks[i].addr_len;
    }
    uint8_t *blob = malloc(total > 0 ? total : 1);
    if (nodes == NULL || blob == NULL) {
        free(nodes);
        free(blob);
        sf_sfd__job_fail(job, -1, 1, "sfd on host %s ran out of memory during wire-up",
                         job->sfd->host);
        return;
    }
    size_t off = 0;
    for (int i = 0; i < job->n; i++) {
        uint32_t l = (uint32_t)job->ranks[i].addr_len;
        blob[off] = (uint8_t)(l >> 24);
        blob[off + 1] = (uint8_t)(l >> 16);
        blob[off + 2] = (uint8_t)(l >> 8);
        blob[off + 3] = (uint8_t)l;
        memcpy(blob + off + 4, job->ranks[i].addr, l);
        off += 4 + l;
        nodes[i] = job->ranks[i].node;
    }
    struct sf_wire_enc e;
    sf_wire_enc_begin(&e, SF_OP_ADDR_TABLE, 0);
    sf_wire_put_u32(&e, job->table_epoch);
    sf_wire_put_i32v(&e, nodes, (size_t)job->n);
    sf_wire_put_bytes(&e, blob, total);
    int rc = sf_wire_enc_end(&e);
    if (rc == 0) {
        table_to_ranks(job, &e);
        for (int k = 0; k < job->nnodes; k++) {
            struct sf_sfd_jnode *jn = &job->nodes[k];
            if (jn->peer == NULL || jn->done) {
                continue;
            }
            struct sf_wire_enc t;
            sf_wire_enc_begin(&t, SF_OP_JOB_TABLE, sf_sfd__peer_seq(jn->peer));
            sf_wire_put_u64(&t, job->id);
            sf_wire_put_u32(&t, job->table_epoch);
            sf_wire_put_i32v(&t, nodes, (size_t)job->n);
            sf_wire_put_bytes(&t, blob, total);
            sf_sfd__peer_send(jn->peer, &t);
            sf_wire_enc_free(&t);
        }
    } else {
        sf_sfd__job_fail(job, -1, 1, "sfd on host %s could not encode the address table: %s",
                         job->sfd->host, sf_strerror(rc));
    }
    sf_wire_enc_free(&e);
    free(nodes);
    free(blob);
}

void sf_sfd__io_table_from(struct sf_sfd_job *job, const struct sf_wire_msg *m)
{
    if (job->table_sent || m->f[2].len != (uint32_t)job->n) {
        job->sfd->drops[SFD_DROP_PROTO]++;
        return;
    }
    int32_t *nodes = calloc((size_t)job->n, sizeof(int32_t));
    if (nodes == NULL) {
        sf_sfd__job_fail(job, -1, 1, "sfd on host %s ran out of memory during wire-up",
                         job->sfd->host);
        return;
    }
    for (int i = 0; i < job->n; i++) {
        nodes[i] = sf_wire_i32v_get(&m->f[2], (uint32_t)i);
    }
    struct sf_wire_enc e;
    sf_wire_enc_begin(&e, SF_OP_ADDR_TABLE, 0);
    sf_wire_put_u32(&e, (uint32_t)m->f[1].u);
    sf_wire_put_i32v(&e, nodes, (size_t)job->n);
    sf_wire_put_bytes(&e, m->f[3].p, m->f[3].len);
    if (sf_wire_enc_end(&e) == 0) {
        table_to_ranks(job, &e);
    }
    sf_wire_enc_free(&e);
    free(nodes);
}

static int on_hello(void *ctx, const struct sf_wire_msg *m)
{
    struct sf_sfd_rank *r = ctx;
    if (m->f[0].u != r->job->id || m->f[1].i != r->rank) {
        SF_WARN_SPARSE("rank %d sent HELLO for job %llu rank %lld: ignored", r->rank,
                       (unsigned long long)m->f[0].u, (long long)m->f[1].i);
        return 0;
    }
    r->hello = true;
    return 0;
}

static int on_addr(void *ctx, const struct sf_wire_msg *m)
{
    struct sf_sfd_rank *r = ctx;
    struct sf_sfd_job *job = r->job;
    if (m->f[0].i != r->rank) {
        SF_WARN_SPARSE("rank %d published an address as rank %lld: ignored", r->rank,
                       (long long)m->f[0].i);
        return 0;
    }
    if (sf_sfd__ckpt_criu_addr(r, m)) {
        return 0; /* a checkpoint's new wire-up (sfd_ckpt_criu.c) */
    }
    if (r->addr != NULL || job->table_sent) {
        SF_WARN_SPARSE("rank %d published its address twice: ignored", r->rank);
        return 0;
    }
    r->addr = malloc(m->f[1].len > 0 ? m->f[1].len : 1);
    if (r->addr == NULL) {
        return -ENOMEM;
    }
    memcpy(r->addr, m->f[1].p, m->f[1].len);
    r->addr_len = m->f[1].len;
    r->hello = true; /* publishing implies being an MPI rank */
    if (!job->coord) {
        if (job->coord_peer != NULL) {
            struct sf_wire_enc e;
            sf_wire_enc_begin(&e, SF_OP_JOB_RANK_ADDR, sf_sfd__peer_seq(job->coord_peer));
            sf_wire_put_u64(&e, job->id);
            sf_wire_put_i32(&e, r->rank);
            sf_wire_put_bytes(&e, r->addr, r->addr_len);
            sf_sfd__peer_send(job->coord_peer, &e);
            sf_wire_enc_free(&e);
        }
        return 0;
    }
    if (++job->naddr == job->n && job->state == SFD_JOB_RUNNING) {
        sf_sfd__io_send_table(job);
    }
    return 0;
}

static int on_finalize(void *ctx, const struct sf_wire_msg *m)
{
    struct sf_sfd_rank *r = ctx;
    r->finalized = true;
    return 0;
}

static int on_abort(void *ctx, const struct sf_wire_msg *m)
{
    struct sf_sfd_rank *r = ctx;
    int code = (int)m->f[1].i;
    char *text = sf_wire_strdup(&m->f[2]);
    sf_sfd__job_fail(r->job, r->rank, code & 0xff, "rank %d called MPI_Abort(%d): %s", r->rank,
                     code, text != NULL ? text : "");
    free(text);
    return 0;
}

static int on_goodbye(void *ctx, const struct sf_wire_msg *m)
{
    return 0;
}

static const sf_wire_handler rank_ops[SF_OP_COUNT] = {
    [SF_OP_RANK_HELLO] = on_hello,       [SF_OP_RANK_ADDR] = on_addr,
    [SF_OP_RANK_FINALIZE] = on_finalize, [SF_OP_RANK_ABORT] = on_abort,
    [SF_OP_GOODBYE] = on_goodbye,        [SF_OP_CKPT_STORED] = sf_sfd__ckpt_on_stored,
    [SF_OP_CKPT_READY] = sf_sfd__ckpt_criu_on_ready,
    [SF_OP_CKPT_RESUMED] = sf_sfd__ckpt_criu_on_resumed,
};

/* Read and handle everything the rank has sent; closes the socket at EOF
 * or on a corrupt stream. */
static void ctl_read(struct sf_sfd_rank *r)
{
    while (r->ctl_fd >= 0) {
        long n = sf_wire_rx_fill(&r->rx, r->ctl_fd);
        if (n == -EAGAIN) {
            return;
        }
        struct sf_wire_msg m;
        int rc;
        while ((rc = sf_wire_rx_next(&r->rx, &m)) == 1) {
            if (sf_wire_dispatch(rank_ops, SF_OP_COUNT, r, &m) == SF_ERR_PROTO) {
                SF_WARN_SPARSE("rank %d sent unexpected op %u: dropped", r->rank, m.op);
            }
        }
        if (rc < 0) {
            SF_WARN("rank %d: corrupt control stream (%s): closing it", r->rank, sf_strerror(rc));
            close_fd(r, &r->ctl_fd);
            return;
        }
        if (n <= 0) {
            close_fd(r, &r->ctl_fd);
            return;
        }
    }
}

static void on_ctl(struct sf_loop *loop, int fd, int events, void *arg)
{
    ctl_read(arg);
}

/* Forward what a pipe holds; at most 'rounds' reads so one chatty rank
 * cannot starve the loop (drain passes a large bound). */
static void pipe_read(struct sf_sfd_rank *r, int *fd, int stream, int rounds)
{
    size_t chunk = r->job->sfd->tun.output_chunk;
    if (chunk < 512) {
        chunk = 512;
    }
    uint8_t *buf = malloc(chunk);
    if (buf == NULL) {
        return;
    }
    while (*fd >= 0 && rounds-- > 0) {
        ssize_t n = read(*fd, buf, chunk);
        if (n > 0) {
            sf_sfd__io_output(r->job, r->rank, stream, buf, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            break;
        }
        close_fd(r, fd); /* EOF or error */
    }
    free(buf);
}

/* The queue this job's output goes into (client or coordinator link). */
static struct sf_sfd_txq *out_queue(struct sf_sfd_job *job)
{
    if (job->coord) {
        return job->client != NULL && !job->client->dead ? sf_sfd__client_txq(job->client)
                                                          : NULL;
    }
    if (job->coord_peer != NULL && job->coord_peer->conn != NULL) {
        return &job->coord_peer->conn->tx;
    }
    return NULL;
}

/* Back-pressure: with more than SFD_OUT_HIGH bytes queued for the reader,
 * stop reading the job's pipes, so a rank writing faster than sfrun's
 * consumer blocks in write() instead of filling our memory. */
static bool congested(struct sf_sfd_job *job, size_t limit)
{
    if (!job->coord && job->remote_paused) {
        return true;
    }
    struct sf_sfd_txq *q = out_queue(job);
    return q != NULL && q->len - q->off > limit;
}

static void set_pipes(struct sf_sfd_job *job, int events)
{
    for (int i = 0; i < job->n; i++) {
        struct sf_sfd_rank *r = &job->ranks[i];
        if (!r->local) {
            continue;
        }
        if (r->out_fd >= 0) {
            sf_loop_mod_fd(job->sfd->loop, r->out_fd, events);
        }
        if (r->err_fd >= 0) {
            sf_loop_mod_fd(job->sfd->loop, r->err_fd, events);
        }
    }
}

/* Coordinator: tell the other nodes to pause or resume their output (the
 * client reads too slowly). Their output already on the way still lands. */
static void flow(struct sf_sfd_job *job, bool pause)
{
    job->flow_paused = pause;
    for (int k = 0; k < job->nnodes; k++) {
        struct sf_sfd_jnode *jn = &job->nodes[k];
        if (jn->peer == NULL || jn->done) {
            continue;
        }
        struct sf_wire_enc e;
        sf_wire_enc_begin(&e, SF_OP_JOB_FLOW, sf_sfd__peer_seq(jn->peer));
        sf_wire_put_u64(&e, job->id);
        sf_wire_put_u8(&e, pause ? 1 : 0);
        sf_sfd__peer_send(jn->peer, &e);
        sf_wire_enc_free(&e);
    }
}

void sf_sfd__io_resume(struct sf_sfd *sfd)
{
    for (struct sf_sfd_job *job = sfd->jobs; job != NULL; job = job->next) {
        if (job->coord && job->flow_paused && !congested(job, SFD_OUT_LOW)) {
            flow(job, false);
        }
        if (job->out_paused && !congested(job, SFD_OUT_LOW)) {
            job->out_paused = false;
            set_pipes(job, SF_LOOP_IN);
        }
    }
}

static void on_out(struct sf_loop *loop, int fd, int events, void *arg)
{
    struct sf_sfd_rank *r = arg;
    /* A hung-up pipe is read anyway: its writer is gone, what is left is
     * bounded, and epoll would report the HUP again and again. */
    bool hup = (events & (SF_LOOP_HUP | SF_LOOP_ERR)) != 0;
    if (r->job->out_paused && !hup) {
        return;
    }
    if (!hup && congested(r->job, SFD_OUT_HIGH)) {
        r->job->out_paused = true;
        set_pipes(r->job, 0);
        return;
    }
    if (fd == r->out_fd) {
        pipe_read(r, &r->out_fd, 1, 4);
    } else {
        pipe_read(r, &r->err_fd, 2, 4);
    }
}

/* The submitter keeps at most a window of stdin unacknowledged, so this
 * queue stays bounded; acknowledge in steps, and whenever it empties. */
#define STDIN_ACK_STEP (64u << 10)

static void stdin_consumed(struct sf_sfd_rank *r, size_t n)
{
    r->in_done += n;
    bool empty = r->inq.off == r->inq.len;
    if (r->in_done - r->in_acked >= STDIN_ACK_STEP || (empty && r->in_done > r->in_acked)) {
        r->in_acked = r->in_done;
        sf_sfd__job_stdin_ack(r->job, r->in_done);
    }
}

static void stdin_flush(struct sf_sfd_rank *r)
{
    struct sf_sfd_bufq *q = &r->inq;
    while (r->in_fd >= 0 && q->off < q->len) {
        ssize_t n = write(r->in_fd, q->buf + q->off, q->len - q->off);
        if (n > 0) {
            q->off += (size_t)n;
            stdin_consumed(r, (size_t)n);
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && errno == EAGAIN) {
            sf_loop_mod_fd(r->job->sfd->loop, r->in_fd, SF_LOOP_OUT);
            return;
        } else {
            /* The rank closed its stdin: discard the rest (consumed too,
             * or the submitter would wait for room forever). */
            size_t rest = q->len - q->off;
            q->off = q->len;
            close_fd(r, &r->in_fd);
            stdin_consumed(r, rest);
            return;
        }
    }
    q->off = q->len = 0;
    if (r->in_fd >= 0) {
        if (r->in_eof) {
            close_fd(r, &r->in_fd);
        } else {
            sf_loop_mod_fd(r->job->sfd->loop, r->in_fd, 0);
        }
    }
}

static void on_in(struct sf_loop *loop, int fd, int events, void *arg)
{
    struct sf_sfd_rank *r = arg;
    if (events & (SF_LOOP_ERR | SF_LOOP_HUP)) {
        size_t rest = r->inq.len - r->inq.off;
        r->inq.off = r->inq.len = 0;
        close_fd(r, &r->in_fd);
        stdin_consumed(r, rest);
        return;
    }
    stdin_flush(r);
}

int sf_sfd__io_stdin(struct sf_sfd_job *job, const uint8_t *p, size_t len)
{
    struct sf_sfd_rank *r = &job->ranks[0];
    if (r->in_fd < 0) {
        stdin_consumed(r, len); /* rank 0 gone or stdin closed: drop */
        return 0;
    }
    if (len == 0) {
        r->in_eof = true;
    } else {
        struct sf_sfd_bufq *q = &r->inq;
        if (q->off > 0 && q->off == q->len) {
            q->off = q->len = 0;
        }
        uint8_t *nb = realloc(q->buf, q->len + len);
        if (nb == NULL) {
            return -ENOMEM;
        }
        q->buf = nb;
        memcpy(q->buf + q->len, p, len);
        q->len += len;
    }
    stdin_flush(r);
    return 0;
}

int sf_sfd__io_watch_rank(struct sf_sfd_rank *r)
{
    struct sf_loop *loop = r->job->sfd->loop;
    int rc = sf_loop_add_fd(loop, r->ctl_fd, SF_LOOP_IN, on_ctl, r);
    if (rc == 0) {
        rc = sf_loop_add_fd(loop, r->out_fd, SF_LOOP_IN, on_out, r);
    }
    if (rc == 0) {
        rc = sf_loop_add_fd(loop, r->err_fd, SF_LOOP_IN, on_out, r);
    }
    if (rc == 0 && r->in_fd >= 0) {
        rc = sf_loop_add_fd(loop, r->in_fd, 0, on_in, r);
    }
    if (rc != 0) {
        SF_ERR("rank %d: cannot watch its channels: %s", r->rank, sf_strerror(rc));
    }
    return rc;
}

void sf_sfd__io_drain_rank(struct sf_sfd_rank *r)
{
    ctl_read(r);
    pipe_read(r, &r->out_fd, 1, 1 << 20);
    pipe_read(r, &r->err_fd, 2, 1 << 20);
}

void sf_sfd__io_close_rank(struct sf_sfd_rank *r)
{
    close_fd(r, &r->ctl_fd);
    close_fd(r, &r->out_fd);
    close_fd(r, &r->err_fd);
    close_fd(r, &r->in_fd);
}
