/* Schedule builders (coll_sched.c runs them): gather(v), scatter(v),
 * allgather(v), alltoall(v), reduce_scatter(_block), scan, exscan for the
 * blocking and non-blocking paths, and barrier/bcast/reduce/allreduce for
 * the non-blocking path (their blocking versions are coll_barrier.c etc).
 * Algorithms: gather/scatter binomial below SF_COLL_GATHER_LARGE total,
 * else linear (v variants linear); allgather Bruck below
 * SF_COLL_ALLGATHER_LARGE total, else ring (allgatherv ring); alltoall
 * Bruck below SF_COLL_ALLTOALL_SMALL per pair, all pairs posted at once
 * below SF_COLL_ALLTOALL_LARGE, else pairwise (alltoallv pairwise);
 * reduce_scatter recursive halving (commutative, p = 2^k) else reduce +
 * scatterv; scan/exscan recursive doubling; non-blocking barrier
 * dissemination, bcast/reduce binomial, allreduce recursive doubling or
 * (long, commutative) ring; neighbourhood exchanges all transfers at
 * once. Every combination of a reduction has a fixed
 * place and operand order (lower ranks' operand first), so results are
 * deterministic. Single-threaded. */
#include "mpi-shim/coll_int.h"

#include "runtime/base/sf_err.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

typedef struct sf_coll__sched S;
#define B(p, off) ((unsigned char *)(p) + (off))
#define CB(p, off) ((const unsigned char *)(p) + (off))

static int lowbit_or(int v, int p)
{
    return v == 0 ? p : (v & -v);
}
static size_t min_z(size_t a, size_t b)
{
    return a < b ? a : b;
}
/* Largest power of two below p (p > 1), or 0. */
static int top_mask(int p)
{
    int m = 1;
    while (m * 2 < p) {
        m <<= 1;
    }
    return p > 1 ? m : 0;
}

/* ---- barrier, bcast, reduce, allreduce (non-blocking versions) ---- */

static int b_barrier(S *s)
{
    int p = s->c.size, r = s->c.rank;
    unsigned char *z = sf_coll__s_alloc(s, 1);
    for (int d = 1; d < p; d <<= 1) {
        sf_coll__s_send(s, z, 0, (r + d) % p);
        sf_coll__s_recv(s, z, 0, (r - d + p) % p);
        sf_coll__s_round(s);
    }
    return s->err;
}

/* Binomial tree from root; buf at every member. */
static int b_bcast(S *s, void *buf, size_t len, int root)
{
    int p = s->c.size, vr = (s->c.rank - root + p) % p;
    if (len == 0 || p == 1) {
        return s->err;
    }
    int lb = lowbit_or(vr, p);
    if (vr != 0) {
        sf_coll__s_recv(s, buf, len, (vr - lb + root) % p);
        sf_coll__s_round(s);
    }
    for (int m = vr == 0 ? top_mask(p) : lb >> 1; m > 0; m >>= 1) {
        if (vr + m < p) {
            sf_coll__s_send(s, buf, len, (vr + m + root) % p);
        }
    }
    return sf_coll__s_round(s);
}

/* Binomial reduce of count elements to root; sbuf NULL = in place at root.
 * Non-commutative ops reduce towards rank 0 in absolute ranks (every
 * combination is lower op higher) and the result hops to the root. */
static int b_reduce(S *s, const void *sbuf, void *rbuf, size_t count, int root)
{
    int p = s->c.size, rank = s->c.rank;
    size_t n = count * s->op.elem_size;
    if (sbuf == NULL) {
        sbuf = rbuf;
    }
    if (n == 0) {
        return s->err;
    }
    if (p == 1) {
        return sf_coll__s_copy(s, sbuf, rbuf, n);
    }
    bool comm = s->op.commutative;
    int troot = comm ? root : 0, vr = (rank - troot + p) % p;
    int lb = lowbit_or(vr, p);
    bool leaf = vr + 1 >= p || (vr & 1);
    const unsigned char *res = sbuf;
    if (!leaf) {
        unsigned char *acc = rank == root ? rbuf : sf_coll__s_alloc(s, n);
        unsigned char *tmp = sf_coll__s_alloc(s, n);
        if (s->err) {
            return s->err;
        }
        sf_coll__s_copy(s, sbuf, acc, n);
        sf_coll__s_round(s);
        for (int m = 1; m < lb && vr + m < p; m <<= 1) {
            sf_coll__s_recv(s, tmp, n, (vr + m + troot) % p);
            if (comm) {
                sf_coll__s_op(s, tmp, acc, count);
            } else {
                /* ours covers lower ranks than the child's */
                sf_coll__s_op(s, acc, tmp, count);
                unsigned char *t = acc;
                acc = tmp;
                tmp = t;
            }
            sf_coll__s_round(s);
        }
        res = acc;
    }
    if (vr != 0) {
        sf_coll__s_send(s, res, n, (vr - lb + troot) % p);
        sf_coll__s_round(s);
        if (rank == root) {
            sf_coll__s_recv(s, rbuf, n, troot);
        }
    } else if (rank == root) {
        sf_coll__s_copy(s, res, rbuf, n);
    } else {
        sf_coll__s_send(s, res, n, root);
    }
    return sf_coll__s_round(s);
}

/* Element range start of ring chunk j: count split into p nearly equal parts. */
static size_t chunk_lo(size_t count, int p, int j)
{
    size_t q = count / (size_t)p, rr = count % (size_t)p;
    return (size_t)j * q + ((size_t)j < rr ? (size_t)j : rr);
}

/* Long messages, commutative ops: ring reduce-scatter then ring allgather
 * (2(p-1) rounds of n/p bytes instead of log p rounds of n bytes). Chunk j
 * is combined in a fixed order around the ring, so every run gives the
 * same bits on every member. */
static int allreduce_ring(S *s, unsigned char *rbuf, size_t count)
{
    int p = s->c.size, r = s->c.rank;
    size_t es = s->op.elem_size;
    unsigned char *tmp = sf_coll__s_alloc(s, (count / (size_t)p + 1) * es);
    if (s->err) {
        return s->err;
    }
    int right = (r + 1) % p, left = (r - 1 + p) % p;
    for (int k = 0; k < p - 1; k++) {
        int sj = (r - k + p) % p, rj = (r - k - 1 + 2 * p) % p;
        size_t slo = chunk_lo(count, p, sj), shi = chunk_lo(count, p, sj + 1);
        size_t rlo = chunk_lo(count, p, rj), rhi = chunk_lo(count, p, rj + 1);
        sf_coll__s_send(s, rbuf + slo * es, (shi - slo) * es, right);
        sf_coll__s_recv(s, tmp, (rhi - rlo) * es, left);
        sf_coll__s_op(s, tmp, rbuf + rlo * es, rhi - rlo);
        sf_coll__s_round(s);
    }
    for (int k = 0; k < p - 1; k++) {
        int sj = (r + 1 - k + p) % p, rj = (r - k + p) % p;
        size_t slo = chunk_lo(count, p, sj), shi = chunk_lo(count, p, sj + 1);
        size_t rlo = chunk_lo(count, p, rj), rhi = chunk_lo(count, p, rj + 1);
        sf_coll__s_send(s, rbuf + slo * es, (shi - slo) * es, right);
        sf_coll__s_recv(s, rbuf + rlo * es, (rhi - rlo) * es, left);
        sf_coll__s_round(s);
    }
    return s->err;
}

/* Recursive doubling after folding the ranks beyond the largest power of
 * two into their neighbours (the blocking path's short-message algorithm;
 * also right for non-commutative ops: partners combine lower op higher). */
static int b_allreduce(S *s, const void *sbuf, void *rbuf, size_t count)
{
    int p = s->c.size, rank = s->c.rank;
    size_t n = count * s->op.elem_size;
    if (n == 0) {
        return s->err;
    }
    if (sbuf != NULL) {
        sf_coll__s_copy(s, sbuf, rbuf, n);
        sf_coll__s_round(s);
    }
    if (p == 1) {
        return s->err;
    }
    if (s->op.commutative && n >= sf_coll__tun()->allreduce_large && count >= (size_t)p) {
        return allreduce_ring(s, rbuf, count);
    }
    int p2 = 1;
    while (p2 * 2 <= p) {
        p2 *= 2;
    }
    int rem = p - p2, newrank;
    unsigned char *acc = rbuf, *tmp = sf_coll__s_alloc(s, n);
    if (s->err) {
        return s->err;
    }
    if (rank < 2 * rem) {
        if (rank % 2 == 0) {
            sf_coll__s_send(s, acc, n, rank + 1);
            newrank = -1;
        } else {
            sf_coll__s_recv(s, tmp, n, rank - 1);
            sf_coll__s_op(s, tmp, acc, count);
            newrank = rank / 2;
        }
        sf_coll__s_round(s);
    } else {
        newrank = rank - rem;
    }
    if (newrank >= 0) {
        for (int mask = 1; mask < p2; mask <<= 1) {
            int np = newrank ^ mask;
            int peer = np < rem ? 2 * np + 1 : np + rem;
            sf_coll__s_send(s, acc, n, peer);
            sf_coll__s_recv(s, tmp, n, peer);
            if (peer < rank) {
                sf_coll__s_op(s, tmp, acc, count);
            } else {
                sf_coll__s_op(s, acc, tmp, count);
                unsigned char *t = acc;
                acc = tmp;
                tmp = t;
            }
            sf_coll__s_round(s);
        }
    }
    if (rank < 2 * rem) {
        if (rank % 2 == 0) {
            sf_coll__s_recv(s, rbuf, n, rank + 1);
        } else {
            sf_coll__s_send(s, acc, n, rank - 1);
        }
    }
    sf_coll__s_copy(s, acc, rbuf, n);
    return sf_coll__s_round(s);
}

/* ---- gather / scatter ---- */

/* n bytes per member; sbuf NULL: the root's block is in place. */
static int b_gather(S *s, const void *sbuf, void *rbuf, size_t n, int root)
{
    int p = s->c.size, r = s->c.rank, vr = (r - root + p) % p;
    if (n == 0) {
        return s->err;
    }
    if ((size_t)p * n >= sf_coll__tun()->gather_large || p <= 2) {
        if (r == root) {
            for (int i = 0; i < p; i++) {
                if (i != r) {
                    sf_coll__s_recv(s, B(rbuf, (size_t)i * n), n, i);
                }
            }
            if (sbuf != NULL) {
                sf_coll__s_copy(s, sbuf, B(rbuf, (size_t)r * n), n);
            }
        } else {
            sf_coll__s_send(s, sbuf, n, root);
        }
        return sf_coll__s_round(s);
    }
    /* Binomial: member vr collects its subtree's blocks vr..vr+sz-1 in
     * virtual order, then hands them to its parent in one message. */
    int lb = lowbit_or(vr, p);
    size_t sz = min_z((size_t)lb, (size_t)(p - vr));
    const unsigned char *own = sbuf != NULL ? sbuf : CB(rbuf, (size_t)r * n);
    unsigned char *tmp;
    if (sz == 1) {
        sf_coll__s_send(s, own, n, (vr - lb + root) % p);
        return sf_coll__s_round(s);
    }
    tmp = (vr == 0 && root == 0) ? rbuf : sf_coll__s_alloc(s, sz * n);
    if (s->err) {
        return s->err;
    }
    sf_coll__s_copy(s, own, tmp, n);
    for (int m = 1; m < lb && vr + m < p; m <<= 1) {
        sf_coll__s_recv(s, tmp + (size_t)m * n, min_z((size_t)m, (size_t)(p - vr - m)) * n,
                        (vr + m + root) % p);
    }
    sf_coll__s_round(s);
    if (vr != 0) {
        sf_coll__s_send(s, tmp, sz * n, (vr - lb + root) % p);
    } else if (root != 0) {
        /* virtual v is real (v + root) % p */
        sf_coll__s_copy(s, tmp, B(rbuf, (size_t)root * n), (size_t)(p - root) * n);
        sf_coll__s_copy(s, tmp + (size_t)(p - root) * n, rbuf, (size_t)root * n);
    }
    return sf_coll__s_round(s);
}

static int b_gatherv(S *s, const void *sbuf, size_t n, void *const *rptr, const size_t *rcounts,
                     int root)
{
    int p = s->c.size, r = s->c.rank;
    if (r == root) {
        for (int i = 0; i < p; i++) {
            if (i != r && rcounts[i] > 0) {
                sf_coll__s_recv(s, rptr[i], rcounts[i], i);
            }
        }
        if (sbuf != NULL) {
            if (n > rcounts[r]) {
                return s->err = SF_ERR_TRUNCATE;
            }
            sf_coll__s_copy(s, sbuf, rptr[r], n);
        }
    } else if (n > 0) {
        sf_coll__s_send(s, sbuf, n, root);
    }
    return sf_coll__s_round(s);
}

/* n bytes per member; rbuf NULL at the root: its block stays in sbuf. */
static int b_scatter(S *s, const void *sbuf, void *rbuf, size_t n, int root)
{
    int p = s->c.size, r = s->c.rank, vr = (r - root + p) % p;
    if (n == 0) {
        return s->err;
    }
    if ((size_t)p * n >= sf_coll__tun()->gather_large || p <= 2) {
        if (r == root) {
            for (int i = 0; i < p; i++) {
                if (i != r) {
                    sf_coll__s_send(s, CB(sbuf, (size_t)i * n), n, i);
                }
            }
            if (rbuf != NULL) {
                sf_coll__s_copy(s, CB(sbuf, (size_t)r * n), rbuf, n);
            }
        } else {
            sf_coll__s_recv(s, rbuf, n, root);
        }
        return sf_coll__s_round(s);
    }
    int lb = lowbit_or(vr, p);
    size_t sz = min_z((size_t)lb, (size_t)(p - vr));
    if (sz == 1) {
        sf_coll__s_recv(s, rbuf, n, (vr - lb + root) % p);
        return sf_coll__s_round(s);
    }
    const unsigned char *tmp;
    if (vr == 0) {
        if (root == 0) {
            tmp = sbuf;
        } else {
            unsigned char *t = sf_coll__s_alloc(s, (size_t)p * n);
            if (s->err) {
                return s->err;
            }
            sf_coll__s_copy(s, CB(sbuf, (size_t)root * n), t, (size_t)(p - root) * n);
            sf_coll__s_copy(s, sbuf, t + (size_t)(p - root) * n, (size_t)root * n);
            tmp = t;
        }
    } else {
        unsigned char *t = sf_coll__s_alloc(s, sz * n);
        if (s->err) {
            return s->err;
        }
        sf_coll__s_recv(s, t, sz * n, (vr - lb + root) % p);
        tmp = t;
    }
    sf_coll__s_round(s);
    for (int m = vr == 0 ? top_mask(p) : lb >> 1; m > 0; m >>= 1) {
        if (vr + m < p) {
            sf_coll__s_send(s, tmp + (size_t)m * n, min_z((size_t)m, (size_t)(p - vr - m)) * n,
                            (vr + m + root) % p);
        }
    }
    if (rbuf != NULL) {
        sf_coll__s_copy(s, tmp, rbuf, n);
    }
    return sf_coll__s_round(s);
}

static int b_scatterv(S *s, const void *const *sptr, const size_t *scounts, void *rbuf, size_t n,
                      int root)
{
    int p = s->c.size, r = s->c.rank;
    if (r == root) {
        for (int i = 0; i < p; i++) {
            if (i != r && scounts[i] > 0) {
                sf_coll__s_send(s, sptr[i], scounts[i], i);
            }
        }
        if (rbuf != NULL) {
            if (scounts[r] > n) {
                return s->err = SF_ERR_TRUNCATE;
            }
            sf_coll__s_copy(s, sptr[r], rbuf, scounts[r]);
        }
    } else if (n > 0) {
        sf_coll__s_recv(s, rbuf, n, root);
    }
    return sf_coll__s_round(s);
}

/* ---- allgather ---- */

static int b_allgather(S *s, const void *sbuf, void *rbuf, size_t n)
{
    int p = s->c.size, r = s->c.rank;
    if (n == 0) {
        return s->err;
    }
    const unsigned char *own = sbuf != NULL ? sbuf : CB(rbuf, (size_t)r * n);
    if ((size_t)p * n >= sf_coll__tun()->allgather_large || p <= 2) {
        /* Ring: in step k pass block r-k right, take r-k-1 from the left. */
        sf_coll__s_copy(s, own, B(rbuf, (size_t)r * n), n);
        sf_coll__s_round(s);
        int right = (r + 1) % p, left = (r - 1 + p) % p;
        for (int k = 0; k < p - 1; k++) {
            sf_coll__s_send(s, B(rbuf, (size_t)((r - k + p) % p) * n), n, right);
            sf_coll__s_recv(s, B(rbuf, (size_t)((r - k - 1 + 2 * p) % p) * n), n, left);
            sf_coll__s_round(s);
        }
        return s->err;
    }
    /* Bruck: tmp[i] holds block (r + i) % p; after the step with distance
     * d a member has 2d blocks (ceil(log2 p) steps for any p). */
    unsigned char *tmp = sf_coll__s_alloc(s, (size_t)p * n);
    if (s->err) {
        return s->err;
    }
    sf_coll__s_copy(s, own, tmp, n);
    sf_coll__s_round(s);
    for (int d = 1; d < p; d <<= 1) {
        size_t cnt = min_z((size_t)d, (size_t)(p - d));
        sf_coll__s_send(s, tmp, cnt * n, (r - d + p) % p);
        sf_coll__s_recv(s, tmp + (size_t)d * n, cnt * n, (r + d) % p);
        sf_coll__s_round(s);
    }
    sf_coll__s_copy(s, tmp, B(rbuf, (size_t)r * n), (size_t)(p - r) * n);
    sf_coll__s_copy(s, tmp + (size_t)(p - r) * n, rbuf, (size_t)r * n);
    return sf_coll__s_round(s);
}

static int b_allgatherv(S *s, const void *sbuf, void *const *rptr, const size_t *rcounts)
{
    int p = s->c.size, r = s->c.rank;
    if (sbuf != NULL) {
        sf_coll__s_copy(s, sbuf, rptr[r], rcounts[r]);
        sf_coll__s_round(s);
    }
    int right = (r + 1) % p, left = (r - 1 + p) % p;
    for (int k = 0; k < p - 1; k++) {
        int sj = (r - k + p) % p, rj = (r - k - 1 + 2 * p) % p;
        if (rcounts[sj] > 0) {
            sf_coll__s_send(s, rptr[sj], rcounts[sj], right);
        }
        if (rcounts[rj] > 0) {
            sf_coll__s_recv(s, rptr[rj], rcounts[rj], left);
        }
        sf_coll__s_round(s);
    }
    return s->err;
}

/* ---- alltoall ---- */

/* Peers of step k (1..p-1) of the pairwise exchange. */
static void pair_peers(int p, int r, int k, int *to, int *from)
{
    if ((p & (p - 1)) == 0) {
        *to = *from = r ^ k;
    } else {
        *to = (r + k) % p;
        *from = (r - k + p) % p;
    }
}

/* Bruck: ceil(log2 p) rounds instead of p - 1 messages. tmp[i] starts as
 * the block for member r + i; in the round with distance k every block
 * whose index has bit k goes to r + k (packed into one message) and is
 * replaced by the one from r - k; at the end tmp[i] came from r - i. */
static int alltoall_bruck(S *s, const void *sbuf, void *rbuf, size_t n)
{
    int p = s->c.size, r = s->c.rank;
    size_t half = (size_t)(p / 2 + 1) * n;
    unsigned char *tmp = sf_coll__s_alloc(s, (size_t)p * n);
    unsigned char *out = sf_coll__s_alloc(s, half), *in = sf_coll__s_alloc(s, half);
    if (s->err) {
        return s->err;
    }
    sf_coll__s_copy(s, CB(sbuf, (size_t)r * n), tmp, (size_t)(p - r) * n);
    sf_coll__s_copy(s, sbuf, tmp + (size_t)(p - r) * n, (size_t)r * n);
    for (int k = 1; k < p; k <<= 1) {
        size_t m = 0;
        for (int i = 0; i < p; i++) {
            if (i & k) {
                sf_coll__s_copy(s, tmp + (size_t)i * n, out + m * n, n);
                m++;
            }
        }
        sf_coll__s_round(s);
        sf_coll__s_send(s, out, m * n, (r + k) % p);
        sf_coll__s_recv(s, in, m * n, (r - k + p) % p);
        m = 0;
        for (int i = 0; i < p; i++) {
            if (i & k) {
                sf_coll__s_copy(s, in + m * n, tmp + (size_t)i * n, n);
                m++;
            }
        }
    }
    sf_coll__s_round(s);
    for (int i = 0; i < p; i++) {
        sf_coll__s_copy(s, tmp + (size_t)i * n, B(rbuf, (size_t)((r - i + p) % p) * n), n);
    }
    return sf_coll__s_round(s);
}

static int b_alltoall(S *s, const void *sbuf, void *rbuf, size_t n)
{
    int p = s->c.size, r = s->c.rank;
    if (n == 0) {
        return s->err;
    }
    if (sbuf == NULL) {
        unsigned char *t = sf_coll__s_alloc(s, (size_t)p * n);
        if (s->err) {
            return s->err;
        }
        sf_coll__s_copy(s, rbuf, t, (size_t)p * n);
        sbuf = t;
    }
    /* Bruck trades p-1 messages for log p rounds with local shuffles: a
     * win only with many ranks (measured: at 4, 8 and 16 ranks on 2 cores
     * one round of direct messages took 0.6-0.8x Bruck's time). */
    if (p > 2 && p >= sf_coll__tun()->alltoall_bruck_ranks &&
        n < sf_coll__tun()->alltoall_small) {
        return alltoall_bruck(s, sbuf, rbuf, n);
    }
    sf_coll__s_copy(s, CB(sbuf, (size_t)r * n), B(rbuf, (size_t)r * n), n);
    sf_coll__s_round(s);
    bool pairwise = n >= sf_coll__tun()->alltoall_large;
    for (int k = 1; k < p; k++) {
        int to, from;
        pair_peers(p, r, k, &to, &from);
        sf_coll__s_recv(s, B(rbuf, (size_t)from * n), n, from);
        sf_coll__s_send(s, CB(sbuf, (size_t)to * n), n, to);
        if (pairwise) {
            sf_coll__s_round(s);
        }
    }
    return sf_coll__s_round(s);
}

/* Pairwise exchange: members cannot agree on a size-based choice here. */
static int b_alltoallv(S *s, const void *const *sptr, const size_t *scounts, void *const *rptr,
                       const size_t *rcounts)
{
    int p = s->c.size, r = s->c.rank;
    if (sptr == NULL) {
        const void **sp = sf_coll__s_alloc(s, sizeof(void *) * (size_t)p);
        size_t tot = 0;
        for (int i = 0; i < p; i++) {
            tot += rcounts[i];
        }
        unsigned char *t = sf_coll__s_alloc(s, tot);
        if (s->err) {
            return s->err;
        }
        for (int i = 0; i < p; i++) {
            sp[i] = t;
            sf_coll__s_copy(s, rptr[i], t, rcounts[i]);
            t += rcounts[i];
        }
        sptr = sp;
        scounts = rcounts;
    }
    if (scounts[r] > rcounts[r]) {
        return s->err = SF_ERR_TRUNCATE;
    }
    sf_coll__s_copy(s, sptr[r], rptr[r], scounts[r]);
    sf_coll__s_round(s);
    for (int k = 1; k < p; k++) {
        int to, from;
        pair_peers(p, r, k, &to, &from);
        if (rcounts[from] > 0) {
            sf_coll__s_recv(s, rptr[from], rcounts[from], from);
        }
        if (scounts[to] > 0) {
            sf_coll__s_send(s, sptr[to], scounts[to], to);
        }
        sf_coll__s_round(s);
    }
    return s->err;
}

/* ---- reduce_scatter ---- */

/* off[i]: first element of member i's block; off[p] the total. */
static int b_reduce_scatter(S *s, const void *sbuf, void *rbuf, const size_t *off)
{
    int p = s->c.size, r = s->c.rank;
    size_t es = s->op.elem_size, total = off[p];
    const void *in = sbuf != NULL ? sbuf : rbuf;
    if (total == 0) {
        return s->err;
    }
    if (p == 1) {
        return sf_coll__s_copy(s, in, rbuf, total * es);
    }
    if (s->op.commutative && (p & (p - 1)) == 0) {
        /* Recursive halving: keep the half of the blocks containing our
         * own, send the other half to the partner, combine. */
        unsigned char *acc = sf_coll__s_alloc(s, total * es);
        unsigned char *tmp = sf_coll__s_alloc(s, total * es);
        if (s->err) {
            return s->err;
        }
        sf_coll__s_copy(s, in, acc, total * es);
        sf_coll__s_round(s);
        int lo = 0, hi = p;
        for (int mask = p / 2; mask > 0; mask >>= 1) {
            int peer = r ^ mask, mid = lo + mask;
            int klo = (r & mask) ? mid : lo, khi = (r & mask) ? hi : mid;
            int slo = (r & mask) ? lo : mid, shi = (r & mask) ? mid : hi;
            if (off[shi] > off[slo]) {
                sf_coll__s_send(s, acc + off[slo] * es, (off[shi] - off[slo]) * es, peer);
            }
            if (off[khi] > off[klo]) {
                sf_coll__s_recv(s, tmp, (off[khi] - off[klo]) * es, peer);
                sf_coll__s_op(s, tmp, acc + off[klo] * es, off[khi] - off[klo]);
            }
            sf_coll__s_round(s);
            lo = klo;
            hi = khi;
        }
        sf_coll__s_copy(s, acc + off[r] * es, rbuf, (off[r + 1] - off[r]) * es);
        return sf_coll__s_round(s);
    }
    /* Otherwise reduce everything to member 0 (rank-ordered for
     * non-commutative ops), then scatter the blocks. */
    unsigned char *all = r == 0 ? sf_coll__s_alloc(s, total * es) : NULL;
    if (s->err) {
        return s->err;
    }
    b_reduce(s, in, all, total, 0);
    const void **sp = sf_coll__s_alloc(s, sizeof(void *) * (size_t)p);
    size_t *sc = sf_coll__s_alloc(s, sizeof(size_t) * (size_t)p);
    if (s->err) {
        return s->err;
    }
    for (int i = 0; i < p; i++) {
        sp[i] = r == 0 ? all + off[i] * es : NULL;
        sc[i] = (off[i + 1] - off[i]) * es;
    }
    return b_scatterv(s, sp, sc, rbuf, sc[r], 0);
}

/* ---- neighbourhood exchange ---- */

/* One round: receives post in array order and sends go in array order,
 * which is what matches duplicate neighbours (sf_coll.h). Zero-byte
 * blocks still travel, so both sides always agree on the message count. */
static int b_neighbor(S *s, const struct sf_coll_args *a)
{
    int p = s->c.size;
    if (a->nsend < 0 || a->nrecv < 0) {
        return -EINVAL;
    }
    for (int k = 0; k < a->nrecv; k++) {
        if (a->rpeers[k] >= p) {
            return -EINVAL;
        }
        if (a->rpeers[k] >= 0) {
            sf_coll__s_recv(s, a->rptr[k], a->rcounts[k], a->rpeers[k]);
        }
    }
    for (int i = 0; i < a->nsend; i++) {
        if (a->speers[i] >= p) {
            return -EINVAL;
        }
        if (a->speers[i] >= 0) {
            sf_coll__s_send(s, a->sptr[i], a->scounts[i], a->speers[i]);
        }
    }
    return sf_coll__s_round(s);
}

/* ---- scan / exscan ---- */

/* Recursive doubling: 'acc' holds the combination of members r-2^k+1..r
 * and travels up by 2^k each step; every received operand is from lower
 * ranks, so it is always the left operand. */
static int b_scan(S *s, const void *sbuf, void *rbuf, size_t count, bool ex)
{
    int p = s->c.size, r = s->c.rank;
    size_t n = count * s->op.elem_size;
    if (n == 0 || (ex && p == 1)) {
        return s->err;
    }
    const void *in = sbuf != NULL ? sbuf : rbuf;
    unsigned char *acc = sf_coll__s_alloc(s, n), *tmp = sf_coll__s_alloc(s, n);
    if (s->err) {
        return s->err;
    }
    sf_coll__s_copy(s, in, acc, n);
    if (!ex) {
        sf_coll__s_copy(s, in, rbuf, n);
    }
    sf_coll__s_round(s);
    bool have = !ex; /* rbuf holds a partial result */
    for (int d = 1; d < p; d <<= 1) {
        if (r + d < p) {
            sf_coll__s_send(s, acc, n, r + d);
        }
        if (r - d >= 0) {
            sf_coll__s_recv(s, tmp, n, r - d);
            if (have) {
                sf_coll__s_op(s, tmp, rbuf, count);
            } else {
                sf_coll__s_copy(s, tmp, rbuf, n);
                have = true;
            }
            if (r + 2 * d < p) {
                sf_coll__s_op(s, tmp, acc, count);
            }
        }
        sf_coll__s_round(s);
    }
    return s->err;
}

int sf_coll__build(S *s, const struct sf_coll_args *a, bool blocking)
{
    (void)blocking;
    int p = s->c.size;
    switch (a->kind) {
    case SF_COLL_BCAST:
    case SF_COLL_REDUCE:
    case SF_COLL_GATHER:
    case SF_COLL_GATHERV:
    case SF_COLL_SCATTER:
    case SF_COLL_SCATTERV:
        if (a->root < 0 || a->root >= p) {
            return -EINVAL;
        }
        break;
    default:
        break;
    }
    bool red = a->kind == SF_COLL_REDUCE || a->kind == SF_COLL_ALLREDUCE ||
               a->kind == SF_COLL_REDUCE_SCATTER || a->kind == SF_COLL_REDUCE_SCATTER_BLOCK ||
               a->kind == SF_COLL_SCAN || a->kind == SF_COLL_EXSCAN;
    if (red && (a->op == NULL || a->op->fn == NULL || a->op->elem_size == 0)) {
        return -EINVAL;
    }
    if (red && a->n != 0 && a->op->elem_size > SIZE_MAX / a->n / (size_t)p) {
        return -EOVERFLOW;
    }
    switch (a->kind) {
    case SF_COLL_BARRIER:
        return b_barrier(s);
    case SF_COLL_BCAST:
        return b_bcast(s, a->rbuf, a->n, a->root);
    case SF_COLL_REDUCE:
        return b_reduce(s, a->sbuf, a->rbuf, a->n, a->root);
    case SF_COLL_ALLREDUCE:
        return b_allreduce(s, a->sbuf, a->rbuf, a->n);
    case SF_COLL_GATHER:
        return b_gather(s, a->sbuf, a->rbuf, a->n, a->root);
    case SF_COLL_GATHERV:
        return b_gatherv(s, a->sbuf, a->n, a->rptr, a->rcounts, a->root);
    case SF_COLL_SCATTER:
        return b_scatter(s, a->sbuf, a->rbuf, a->n, a->root);
    case SF_COLL_SCATTERV:
        return b_scatterv(s, a->sptr, a->scounts, a->rbuf, a->n, a->root);
    case SF_COLL_ALLGATHER:
        return b_allgather(s, a->sbuf, a->rbuf, a->n);
    case SF_COLL_ALLGATHERV:
        return b_allgatherv(s, a->sbuf, a->rptr, a->rcounts);
    case SF_COLL_ALLTOALL:
        return b_alltoall(s, a->sbuf, a->rbuf, a->n);
    case SF_COLL_ALLTOALLV:
        return b_alltoallv(s, a->sptr, a->scounts, a->rptr, a->rcounts);
    case SF_COLL_REDUCE_SCATTER:
    case SF_COLL_REDUCE_SCATTER_BLOCK: {
        size_t *off = sf_coll__s_alloc(s, sizeof(size_t) * ((size_t)p + 1));
        if (s->err) {
            return s->err;
        }
        off[0] = 0;
        for (int i = 0; i < p; i++) {
            size_t c = a->kind == SF_COLL_REDUCE_SCATTER ? a->rcounts[i] : a->n;
            if (c > SIZE_MAX / a->op->elem_size - off[i]) {
                return -EOVERFLOW;
            }
            off[i + 1] = off[i] + c;
        }
        return b_reduce_scatter(s, a->sbuf, a->rbuf, off);
    }
    case SF_COLL_SCAN:
        return b_scan(s, a->sbuf, a->rbuf, a->n, false);
    case SF_COLL_EXSCAN:
        return b_scan(s, a->sbuf, a->rbuf, a->n, true);
    case SF_COLL_NEIGHBOR:
        return b_neighbor(s, a);
    }
    return -EINVAL;
}

/* For the inter-communicator builders (coll_inter.c): local-group parts. */
int sf_coll__b_barrier(S *s)
{
    return b_barrier(s);
}

int sf_coll__b_bcast(S *s, void *buf, size_t len, int root)
{
    return b_bcast(s, buf, len, root);
}

int sf_coll__b_reduce(S *s, const void *sbuf, void *rbuf, size_t count, int root)
{
    return b_reduce(s, sbuf, rbuf, count, root);
}

int sf_coll__b_scatterv(S *s, const void *const *sptr, const size_t *scounts, void *rbuf, size_t n,
                        int root)
{
    return b_scatterv(s, sptr, scounts, rbuf, n, root);
}
