/* Allreduce. Short messages: recursive doubling, with the ranks beyond the
 * largest power of two first folded into their neighbours. Long ones:
 * Rabenseifner's recursive halving/doubling when p is a power of two,
 * otherwise a ring reduce-scatter then ring allgather (2(p-1) steps of n/p
 * bytes). Non-commutative ops: reduce to rank 0 then broadcast. Every
 * combination has a fixed place and operand order, so results are
 * bit-identical run to run and on every rank. Single-threaded. */
#include "mpi-shim/coll_int.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int allreduce_rd(const struct sf_coll_comm *c, unsigned char *rbuf, size_t count, size_t n,
                        const struct sf_coll_op *op)
{
    int p = c->size, rank = c->rank;
    int p2 = 1;
    while (p2 * 2 <= p) {
        p2 *= 2;
    }
    int rem = p - p2;
    unsigned char *mem = malloc(n);
    if (mem == NULL) {
        return -ENOMEM;
    }
    unsigned char *acc = rbuf, *tmp = mem;
    int rc = 0, newrank;

    /* Fold: of each of the first rem pairs, the even rank hands its data
     * to the odd one (its upper neighbour) and waits for the answer. */
    if (rank < 2 * rem) {
        if (rank % 2 == 0) {
            rc = sf_coll__send(c, acc, n, rank + 1, SF_COLL__TAG(SF_COLL__T_ALLREDUCE_FOLD, 0));
            newrank = -1;
        } else {
            rc = sf_coll__recv(c, tmp, n, rank - 1, SF_COLL__TAG(SF_COLL__T_ALLREDUCE_FOLD, 0));
            if (rc == 0) {
                rc = op->fn(tmp, acc, count, op->arg);
            }
            newrank = rank / 2;
        }
    } else {
        newrank = rank - rem;
    }
    if (rc != 0) {
        goto out;
    }

    if (newrank >= 0) {
        for (int mask = 1, k = 0; mask < p2; mask <<= 1, k++) {
            int np = newrank ^ mask;
            int peer = np < rem ? 2 * np + 1 : np + rem;
            rc = sf_coll__sendrecv(c, acc, n, peer, tmp, n, peer,
                                   SF_COLL__TAG(SF_COLL__T_ALLREDUCE_RD, k));
            if (rc != 0) {
                goto out;
            }
            /* Both partners compute (lower ranks' part) op (higher ranks'
             * part), so they hold identical bits afterwards. */
            rc = sf_coll__combine(op, peer < rank, &acc, &tmp, count);
            if (rc != 0) {
                goto out;
            }
        }
    }

    /* Unfold: hand the result back to the even ranks that sat out. */
    if (rank < 2 * rem) {
        int tag = SF_COLL__TAG(SF_COLL__T_ALLREDUCE_FOLD, 1);
        if (rank % 2 == 0) {
            rc = sf_coll__recv(c, rbuf, n, rank + 1, tag);
        } else {
            rc = sf_coll__send(c, acc, n, rank - 1, tag);
        }
    }
    if (rc == 0 && acc != rbuf) {
        memcpy(rbuf, acc, n);
    }
out:
    free(mem);
    return rc;
}

/* Element range of ring chunk j: count split into p nearly equal parts. */
static size_t ring_lo(size_t count, int p, int j)
{
    size_t q = count / (size_t)p, r = count % (size_t)p;
    return (size_t)j * q + ((size_t)j < r ? (size_t)j : r);
}

static int allreduce_ring(const struct sf_coll_comm *c, unsigned char *rbuf, size_t count,
                          const struct sf_coll_op *op)
{
    int p = c->size, rank = c->rank;
    size_t es = op->elem_size;
    unsigned char *tmp = malloc((count / (size_t)p + 1) * es);
    if (tmp == NULL) {
        return -ENOMEM;
    }
    int right = (rank + 1) % p, left = (rank - 1 + p) % p;
    int rc = 0;

    /* Reduce-scatter: chunk j starts at rank j and collects one
     * contribution per hop; after p-1 hops rank r owns chunk r+1. */
    for (int s = 0; s < p - 1 && rc == 0; s++) {
        int sj = (rank - s + p) % p, rj = (rank - s - 1 + 2 * p) % p;
        size_t slo = ring_lo(count, p, sj), shi = ring_lo(count, p, sj + 1);
        size_t rlo = ring_lo(count, p, rj), rhi = ring_lo(count, p, rj + 1);
        rc = sf_coll__sendrecv(c, rbuf + slo * es, (shi - slo) * es, right, tmp, (rhi - rlo) * es,
                               left, SF_COLL__TAG(SF_COLL__T_ALLREDUCE_RS, s));
        if (rc == 0) {
            rc = op->fn(tmp, rbuf + rlo * es, rhi - rlo, op->arg);
        }
    }
    /* Allgather the finished chunks around the same ring. */
    for (int s = 0; s < p - 1 && rc == 0; s++) {
        int sj = (rank + 1 - s + p) % p, rj = (rank - s + p) % p;
        size_t slo = ring_lo(count, p, sj), shi = ring_lo(count, p, sj + 1);
        size_t rlo = ring_lo(count, p, rj), rhi = ring_lo(count, p, rj + 1);
        rc = sf_coll__sendrecv(c, rbuf + slo * es, (shi - slo) * es, right, rbuf + rlo * es,
                               (rhi - rlo) * es, left, SF_COLL__TAG(SF_COLL__T_ALLREDUCE_AG, s));
    }
    free(tmp);
    return rc;
}

/* Rabenseifner: reduce-scatter by recursive halving, then allgather by
 * recursive doubling, over a power-of-two number of ranks: 2 log p steps
 * moving about 2n bytes per rank. Rank r ends the first phase owning
 * block r; each block is reduced by exactly one rank, so all ranks end
 * with the same bits. */
static int allreduce_rab(const struct sf_coll_comm *c, unsigned char *rbuf, size_t count,
                         const struct sf_coll_op *op)
{
    int p = c->size, r = c->rank;
    size_t es = op->elem_size;
    unsigned char *tmp = malloc((count / 2 + (size_t)p) * es);
    if (tmp == NULL) {
        return -ENOMEM;
    }
    int rc = 0, k = 0;
    int lo = 0, hi = p; /* blocks this rank is still responsible for */
    for (int mask = p / 2; mask > 0 && rc == 0; mask >>= 1, k++) {
        int peer = r ^ mask, mid = lo + mask;
        int klo = (r & mask) ? mid : lo, khi = (r & mask) ? hi : mid; /* kept */
        int slo = (r & mask) ? lo : mid, shi = (r & mask) ? mid : hi; /* given away */
        size_t sa = ring_lo(count, p, slo), sb = ring_lo(count, p, shi);
        size_t ka = ring_lo(count, p, klo), kb = ring_lo(count, p, khi);
        rc = sf_coll__sendrecv(c, rbuf + sa * es, (sb - sa) * es, peer, tmp, (kb - ka) * es, peer,
                               SF_COLL__TAG(SF_COLL__T_ALLREDUCE_RS, k));
        if (rc == 0) {
            rc = op->fn(tmp, rbuf + ka * es, kb - ka, op->arg);
        }
        lo = klo;
        hi = khi;
    }
    for (int mask = 1; mask < p && rc == 0; mask <<= 1, k++) {
        int peer = r ^ mask;
        int mine = r & ~(mask - 1), theirs = peer & ~(mask - 1);
        size_t ma = ring_lo(count, p, mine), mb = ring_lo(count, p, mine + mask);
        size_t ta = ring_lo(count, p, theirs), tb = ring_lo(count, p, theirs + mask);
        rc = sf_coll__sendrecv(c, rbuf + ma * es, (mb - ma) * es, peer, rbuf + ta * es,
                               (tb - ta) * es, peer, SF_COLL__TAG(SF_COLL__T_ALLREDUCE_AG, k));
    }
    free(tmp);
    return rc;
}

int sf_coll_allreduce(const struct sf_coll_comm *c, const void *sbuf, void *rbuf, size_t count,
                      const struct sf_coll_op *op)
{
    if (count != 0 && op->elem_size > SIZE_MAX / count) {
        return -EOVERFLOW;
    }
    size_t n = count * op->elem_size;
    if (n == 0) {
        return 0;
    }
    if (sbuf != NULL && sbuf != rbuf) {
        memcpy(rbuf, sbuf, n);
    }
    if (c->size == 1) {
        return 0;
    }
    if (!op->commutative) {
        int rc = sf_coll_reduce(c, NULL, rbuf, count, op, 0);
        return rc != 0 ? rc : sf_coll_bcast(c, rbuf, n, 0);
    }
    if (n >= sf_coll__tun()->allreduce_large && count >= (size_t)c->size) {
        /* Powers of two take the log-step algorithm; others the ring,
         * which needs no folding (folding would add two full-size hops). */
        if ((c->size & (c->size - 1)) == 0) {
            return allreduce_rab(c, rbuf, count, op);
        }
        return allreduce_ring(c, rbuf, count, op);
    }
    return allreduce_rd(c, rbuf, count, n, op);
}
