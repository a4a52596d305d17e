/* Point-to-point helpers and thresholds shared by the collective
 * algorithms: blocking send/receive/exchange over sf_rt on the
 * communicator's collective context. No algorithms here. Single-threaded. */
#include "mpi-shim/coll_int.h"

#include "runtime/base/sf_err.h"
#include "runtime/base/sf_tun.h"
#include "runtime/rt/sf_rt.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/* Defaults measured on a 2-core box at 4 and 8 ranks (oversubscribed, shared
 * memory), see bench/README.md. There the binomial broadcast beat or tied
 * scatter + allgather up to 4 MiB (a CMA copy per hop is cheap; extra steps
 * cost scheduling rounds), so the long-message broadcast is kept for larger
 * messages and networks where bandwidth, not steps, is the limit. */
static const struct sf_tun coll_tun_items[] = {
    {"bcast_large", SF_TUN_SIZE, "8m",
     "broadcasts of at least this many bytes use scatter + ring allgather",
     offsetof(struct sf_coll__tun, bcast_large)},
    {"allreduce_large", SF_TUN_SIZE, "128k",
     "allreduces of at least this many bytes use reduce-scatter + allgather",
     offsetof(struct sf_coll__tun, allreduce_large)},
    {"reduce_large", SF_TUN_SIZE, "8m",
     "reduces of at least this many bytes use reduce-scatter + gather",
     offsetof(struct sf_coll__tun, reduce_large)},
    {"gather_large", SF_TUN_SIZE, "64k",
     "gathers/scatters moving at least this many bytes in total go linear (not binomial)",
     offsetof(struct sf_coll__tun, gather_large)},
    {"allgather_large", SF_TUN_SIZE, "64k",
     "allgathers of at least this many bytes in total use the ring (not Bruck)",
     offsetof(struct sf_coll__tun, allgather_large)},
    {"alltoall_small", SF_TUN_SIZE, "256",
     "alltoalls of fewer bytes per pair use Bruck's algorithm (log p rounds)...",
     offsetof(struct sf_coll__tun, alltoall_small)},
    {"alltoall_bruck_ranks", SF_TUN_INT, "32",
     "... on communicators of at least this many ranks (below, one round of direct messages)",
     offsetof(struct sf_coll__tun, alltoall_bruck_ranks)},
    {"alltoall_large", SF_TUN_SIZE, "8k",
     "alltoalls of at least this many bytes per pair use pairwise exchange",
     offsetof(struct sf_coll__tun, alltoall_large)},
};
static const struct sf_tun_table coll_tun_table = {
    "coll", coll_tun_items, sizeof(coll_tun_items) / sizeof(coll_tun_items[0])};

void sf_coll_params(FILE *out)
{
    struct sf_coll__tun t;
    if (sf_tun_load(&coll_tun_table, &t) == 0) {
        sf_tun_print(&coll_tun_table, &t, out);
    }
}

const struct sf_coll__tun *sf_coll__tun(void)
{
    /* Loaded on first use; a bad value falls back to the defaults (the
     * loader has already said which variable was wrong). */
    static struct sf_coll__tun tun;
    static bool loaded;
    if (!loaded) {
        if (sf_tun_load(&coll_tun_table, &tun) != 0) {
            tun.bcast_large = 8u << 20;
            tun.allreduce_large = 128u << 10;
            tun.reduce_large = 8u << 20;
            tun.gather_large = 64u << 10;
            tun.allgather_large = 64u << 10;
            tun.alltoall_small = 256;
            tun.alltoall_bruck_ranks = 32;
            tun.alltoall_large = 8u << 10;
        }
        loaded = true;
    }
    return &tun;
}

int sf_coll__wait(const struct sf_coll_comm *c, struct sf_rt_req *r)
{
    if (c->poll == NULL && c->idle == NULL) {
        return sf_rt_wait(c->rt, r);
    }
    unsigned idle = 0;
    while (!r->complete) {
        int n = sf_rt_progress(c->rt);
        if (n < 0) {
            return n;
        }
        int m = c->poll != NULL ? c->poll(c->poll_arg) : 0;
        if (m < 0) {
            return m;
        }
        if (!r->complete) {
            unsigned i = n + m == 0 ? ++idle : (idle = 0);
            if (c->idle != NULL) {
                c->idle(c->rt, i);
            } else {
                sf_rt_idle(c->rt, i);
            }
        }
    }
    return 0;
}

static int check_recv(const struct sf_rt_req *r, size_t len)
{
    if (r->status.error != 0) {
        return r->status.error;
    }
    return r->status.count == len ? 0 : SF_ERR_TRUNCATE;
}

int sf_coll__send(const struct sf_coll_comm *c, const void *buf, size_t len, int peer, int tag)
{
    struct sf_rt_req s;
    memset(&s, 0, sizeof s);
    int rc = sf_rt_isend(c->rt, &s, buf, len, c->world[peer], c->ctx, c->rank, tag, SF_RT_STANDARD);
    if (rc != 0) {
        return rc;
    }
    return sf_coll__wait(c, &s);
}

int sf_coll__recv(const struct sf_coll_comm *c, void *buf, size_t len, int peer, int tag)
{
    struct sf_rt_req r;
    memset(&r, 0, sizeof r);
    int rc = sf_rt_irecv(c->rt, &r, buf, len, peer, c->ctx, tag);
    if (rc != 0) {
        return rc;
    }
    rc = sf_coll__wait(c, &r);
    return rc != 0 ? rc : check_recv(&r, len);
}

int sf_coll__combine(const struct sf_coll_op *op, bool tmp_is_lower, unsigned char **acc,
                     unsigned char **tmp, size_t count)
{
    if (tmp_is_lower) {
        return op->fn(*tmp, *acc, count, op->arg);
    }
    int rc = op->fn(*acc, *tmp, count, op->arg);
    unsigned char *t = *acc;
    *acc = *tmp;
    *tmp = t;
    return rc;
}

int sf_coll__sendrecv(const struct sf_coll_comm *c, const void *sbuf, size_t slen, int dest,
                      void *rbuf, size_t rlen, int src, int tag)
{
    struct sf_rt_req r, s;
    memset(&r, 0, sizeof r);
    memset(&s, 0, sizeof s);
    /* Receive first so the peer's message finds it posted. */
    int rc = sf_rt_irecv(c->rt, &r, rbuf, rlen, src, c->ctx, tag);
    if (rc != 0) {
        return rc;
    }
    rc = sf_rt_isend(c->rt, &s, sbuf, slen, c->world[dest], c->ctx, c->rank, tag, SF_RT_STANDARD);
    if (rc != 0) {
        /* The receive lives on this stack frame: it must not outlive it. */
        if (sf_rt_cancel(c->rt, &r) == 0) {
            (void)sf_coll__wait(c, &r);
        }
        return rc;
    }
    int rr = sf_coll__wait(c, &r);
    int rs = sf_coll__wait(c, &s);
    if (rr != 0) {
        return rr;
    }
    if (rs != 0) {
        return rs;
    }
    return check_recv(&r, rlen);
}
