/* Inter-communicator collectives as schedules (coll_sched.c runs them,
 * blocking or not). Where data must be combined or spread, each group
 * works through its rank 0, which alone talks to the other group (barrier,
 * bcast, reduce, allreduce, allgatherv, reduce_scatter); rooted
 * gathers/scatters and alltoallv go directly between the members
 * concerned. Correctness before speed: no pipelining, linear where the
 * data is per member anyway. Single-threaded. */
#include "mpi-shim/coll_int.h"

#include "runtime/base/sf_err.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

typedef struct sf_coll__sched S;
#define B(p, off) ((unsigned char *)(p) + (off))
#define CB(p, off) ((const unsigned char *)(p) + (off))

/* Everyone has entered once the local group has (local barrier) and the
 * leaders have heard from each other; the leader then releases its group. */
static int i_barrier(S *s)
{
    unsigned char *z = sf_coll__s_alloc(s, 2);
    if (s->err) {
        return s->err;
    }
    memset(z, 0, 2);
    sf_coll__b_barrier(s);
    sf_coll__s_round(s);
    if (s->c.rank == 0) {
        sf_coll__s_rsend(s, z, 1, 0);
        sf_coll__s_rrecv(s, z + 1, 1, 0);
        sf_coll__s_round(s);
    }
    return sf_coll__b_bcast(s, z + 1, 1, 0);
}

static int i_bcast(S *s, void *buf, size_t len, int root)
{
    if (root == SF_COLL_NOROOT || len == 0) {
        return s->err;
    }
    if (root == SF_COLL_ROOT) {
        sf_coll__s_rsend(s, buf, len, 0);
        return sf_coll__s_round(s);
    }
    if (s->c.rank == 0) {
        sf_coll__s_rrecv(s, buf, len, root);
        sf_coll__s_round(s);
    }
    return sf_coll__b_bcast(s, buf, len, 0);
}

/* The remote group's data reduced at its rank 0 (in rank order), which
 * sends the result to the root. */
static int i_reduce(S *s, const void *sbuf, void *rbuf, size_t count, int root)
{
    size_t n = count * s->op.elem_size;
    if (root == SF_COLL_NOROOT || n == 0) {
        return s->err;
    }
    if (root == SF_COLL_ROOT) {
        sf_coll__s_rrecv(s, rbuf, n, 0);
        return sf_coll__s_round(s);
    }
    unsigned char *acc = s->c.rank == 0 ? sf_coll__s_alloc(s, n) : NULL;
    if (s->err) {
        return s->err;
    }
    sf_coll__b_reduce(s, sbuf, acc, count, 0);
    if (s->c.rank == 0) {
        sf_coll__s_round(s);
        sf_coll__s_rsend(s, acc, n, root);
    }
    return sf_coll__s_round(s);
}

/* Each group reduces to its leader; the leaders swap; each leader
 * broadcasts the other group's result. */
static int i_allreduce(S *s, const void *sbuf, void *rbuf, size_t count)
{
    size_t n = count * s->op.elem_size;
    if (n == 0) {
        return s->err;
    }
    unsigned char *acc = s->c.rank == 0 ? sf_coll__s_alloc(s, n) : NULL;
    if (s->err) {
        return s->err;
    }
    sf_coll__b_reduce(s, sbuf, acc, count, 0);
    if (s->c.rank == 0) {
        sf_coll__s_round(s);
        sf_coll__s_rsend(s, acc, n, 0);
        sf_coll__s_rrecv(s, rbuf, n, 0);
        sf_coll__s_round(s);
    }
    return sf_coll__b_bcast(s, rbuf, n, 0);
}

static int i_gather(S *s, const void *sbuf, void *rbuf, size_t n, int root)
{
    if (root == SF_COLL_NOROOT || n == 0) {
        return s->err;
    }
    if (root == SF_COLL_ROOT) {
        for (int i = 0; i < s->x.size; i++) {
            sf_coll__s_rrecv(s, B(rbuf, (size_t)i * n), n, i);
        }
    } else {
        sf_coll__s_rsend(s, sbuf, n, root);
    }
    return sf_coll__s_round(s);
}

static int i_gatherv(S *s, const void *sbuf, size_t n, void *const *rptr, const size_t *rcounts,
                     int root)
{
    if (root == SF_COLL_NOROOT) {
        return s->err;
    }
    if (root == SF_COLL_ROOT) {
        for (int i = 0; i < s->x.size; i++) {
            if (rcounts[i] > 0) {
                sf_coll__s_rrecv(s, rptr[i], rcounts[i], i);
            }
        }
    } else if (n > 0) {
        sf_coll__s_rsend(s, sbuf, n, root);
    }
    return sf_coll__s_round(s);
}

static int i_scatter(S *s, const void *sbuf, void *rbuf, size_t n, int root)
{
    if (root == SF_COLL_NOROOT || n == 0) {
        return s->err;
    }
    if (root == SF_COLL_ROOT) {
        for (int i = 0; i < s->x.size; i++) {
            sf_coll__s_rsend(s, CB(sbuf, (size_t)i * n), n, i);
        }
    } else {
        sf_coll__s_rrecv(s, rbuf, n, root);
    }
    return sf_coll__s_round(s);
}

static int i_scatterv(S *s, const void *const *sptr, const size_t *scounts, void *rbuf, size_t n,
                      int root)
{
    if (root == SF_COLL_NOROOT) {
        return s->err;
    }
    if (root == SF_COLL_ROOT) {
        for (int i = 0; i < s->x.size; i++) {
            if (scounts[i] > 0) {
                sf_coll__s_rsend(s, sptr[i], scounts[i], i);
            }
        }
    } else if (n > 0) {
        sf_coll__s_rrecv(s, rbuf, n, root);
    }
    return sf_coll__s_round(s);
}

/* Every member sends its block to the remote leader, which broadcasts
 * what it got from the other group to its own. */
static int i_allgatherv(S *s, const void *sbuf, size_t n, void *const *rptr, const size_t *rcounts)
{
    int m = s->x.size;
    size_t tot = 0;
    for (int i = 0; i < m; i++) {
        if (rcounts[i] > SIZE_MAX - tot) {
            return -EOVERFLOW;
        }
        tot += rcounts[i];
    }
    unsigned char *tmp = sf_coll__s_alloc(s, tot);
    if (s->err) {
        return s->err;
    }
    if (n > 0) {
        sf_coll__s_rsend(s, sbuf, n, 0);
    }
    if (s->c.rank == 0) {
        size_t off = 0;
        for (int i = 0; i < m; i++) {
            if (rcounts[i] > 0) {
                sf_coll__s_rrecv(s, tmp + off, rcounts[i], i);
            }
            off += rcounts[i];
        }
    }
    sf_coll__s_round(s);
    sf_coll__b_bcast(s, tmp, tot, 0);
    sf_coll__s_round(s);
    size_t off = 0;
    for (int i = 0; i < m; i++) {
        sf_coll__s_copy(s, tmp + off, rptr[i], rcounts[i]);
        off += rcounts[i];
    }
    return sf_coll__s_round(s);
}

static int i_alltoallv(S *s, const void *const *sptr, const size_t *scounts, void *const *rptr,
                       const size_t *rcounts)
{
    int m = s->x.size;
    for (int j = 0; j < m; j++) {
        if (rcounts[j] > 0) {
            sf_coll__s_rrecv(s, rptr[j], rcounts[j], j);
        }
    }
    for (int j = 0; j < m; j++) {
        if (scounts[j] > 0) {
            sf_coll__s_rsend(s, sptr[j], scounts[j], j);
        }
    }
    return sf_coll__s_round(s);
}

/* rc[i]: elements for local member i (NULL: n each). The remote group's
 * reduction of all sum(rc) elements reaches our leader, which scatters it. */
static int i_reduce_scatter(S *s, const void *sbuf, void *rbuf, const size_t *rc, size_t n)
{
    int p = s->c.size, r = s->c.rank;
    size_t es = s->op.elem_size, total = 0;
    for (int i = 0; i < p; i++) {
        size_t c = rc != NULL ? rc[i] : n;
        if (c > SIZE_MAX / es - total) {
            return -EOVERFLOW;
        }
        total += c;
    }
    if (total == 0) {
        return s->err;
    }
    unsigned char *acc = NULL, *res = NULL;
    if (r == 0) {
        acc = sf_coll__s_alloc(s, total * es);
        res = sf_coll__s_alloc(s, total * es);
    }
    const void **sp = sf_coll__s_alloc(s, sizeof(void *) * (size_t)p);
    size_t *sc = sf_coll__s_alloc(s, sizeof(size_t) * (size_t)p);
    if (s->err) {
        return s->err;
    }
    size_t off = 0;
    for (int i = 0; i < p; i++) {
        size_t c = rc != NULL ? rc[i] : n;
        sp[i] = r == 0 ? res + off * es : NULL;
        sc[i] = c * es;
        off += c;
    }
    sf_coll__b_reduce(s, sbuf, acc, total, 0);
    if (r == 0) {
        sf_coll__s_round(s);
        sf_coll__s_rsend(s, acc, total * es, 0);
        sf_coll__s_rrecv(s, res, total * es, 0);
        sf_coll__s_round(s);
    }
    return sf_coll__b_scatterv(s, sp, sc, rbuf, sc[r], 0);
}

int sf_coll__build_inter(S *s, const struct sf_coll_args *a)
{
    switch (a->kind) {
    case SF_COLL_BCAST:
    case SF_COLL_REDUCE:
    case SF_COLL_GATHER:
    case SF_COLL_GATHERV:
    case SF_COLL_SCATTER:
    case SF_COLL_SCATTERV:
        if (a->root != SF_COLL_ROOT && a->root != SF_COLL_NOROOT &&
            (a->root < 0 || a->root >= s->x.size)) {
            return -EINVAL;
        }
        break;
    default:
        break;
    }
    bool red = a->kind == SF_COLL_REDUCE || a->kind == SF_COLL_ALLREDUCE ||
               a->kind == SF_COLL_REDUCE_SCATTER || a->kind == SF_COLL_REDUCE_SCATTER_BLOCK;
    if (red && (a->op == NULL || a->op->fn == NULL || a->op->elem_size == 0)) {
        return -EINVAL;
    }
    if (red && a->kind != SF_COLL_REDUCE_SCATTER && a->n != 0 &&
        a->op->elem_size > SIZE_MAX / a->n / (size_t)s->c.size) {
        return -EOVERFLOW;
    }
    switch (a->kind) {
    case SF_COLL_BARRIER:
        return i_barrier(s);
    case SF_COLL_BCAST:
        return i_bcast(s, a->rbuf, a->n, a->root);
    case SF_COLL_REDUCE:
        return i_reduce(s, a->sbuf, a->rbuf, a->n, a->root);
    case SF_COLL_ALLREDUCE:
        return i_allreduce(s, a->sbuf, a->rbuf, a->n);
    case SF_COLL_GATHER:
        return i_gather(s, a->sbuf, a->rbuf, a->n, a->root);
    case SF_COLL_GATHERV:
        return i_gatherv(s, a->sbuf, a->n, a->rptr, a->rcounts, a->root);
    case SF_COLL_SCATTER:
        return i_scatter(s, a->sbuf, a->rbuf, a->n, a->root);
    case SF_COLL_SCATTERV:
        return i_scatterv(s, a->sptr, a->scounts, a->rbuf, a->n, a->root);
    case SF_COLL_ALLGATHERV:
        return i_allgatherv(s, a->sbuf, a->n, a->rptr, a->rcounts);
    case SF_COLL_ALLTOALLV:
        return i_alltoallv(s, a->sptr, a->scounts, a->rptr, a->rcounts);
    case SF_COLL_REDUCE_SCATTER:
        return i_reduce_scatter(s, a->sbuf, a->rbuf, a->rcounts, 0);
    case SF_COLL_REDUCE_SCATTER_BLOCK:
        return i_reduce_scatter(s, a->sbuf, a->rbuf, NULL, a->n);
    default:
        /* allgather and alltoall: the v forms (the two groups' block
         * sizes may differ); scan, exscan, neighbours: undefined here. */
        return -EINVAL;
    }
}
