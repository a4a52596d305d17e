/* Reduce by a binomial tree. The tree and the operand order at every node
 * are fixed by (size, root), so floating-point results are bit-identical
 * from run to run. Commutative ops use ranks relative to the root; other
 * ops use absolute ranks so every combination is (lower ranks) op (higher
 * ranks), finish at rank 0 and hop to the root. Long messages with a
 * commutative op on a power-of-two size use reduce-scatter + gather
 * (Rabenseifner). Single-threaded. */
#include "mpi-shim/coll_int.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Element range start of block j when count elements are cut into p. */
static size_t blk_lo(size_t count, int p, int j)
{
    size_t q = count / (size_t)p, r = count % (size_t)p;
    return (size_t)j * q + ((size_t)j < r ? (size_t)j : r);
}

/* Long messages, commutative op, p a power of two: reduce-scatter by
 * recursive halving (virtual rank v ends owning block v, fully reduced)
 * then a binomial gather of the blocks to the root. About 2n bytes move per
 * rank instead of n log p, and each rank combines only about n elements. */
static int reduce_rab(const struct sf_coll_comm *c, const void *sbuf, void *rbuf, size_t count,
                      const struct sf_coll_op *op, int root)
{
    int p = c->size, vr = (c->rank - root + p) % p;
    size_t es = op->elem_size, n = count * es;
    unsigned char *mem = malloc(c->rank == root ? count / 2 * es + (size_t)p * es
                                                : n + count / 2 * es + (size_t)p * es);
    if (mem == NULL) {
        return -ENOMEM;
    }
    unsigned char *acc = c->rank == root ? rbuf : mem;
    unsigned char *tmp = c->rank == root ? mem : mem + n;
    if (acc != sbuf) {
        memcpy(acc, sbuf, n);
    }
#define REAL(v) (((v) + root) % p)
    int rc = 0, k = 0, lo = 0, hi = p;
    for (int mask = p / 2; mask > 0 && rc == 0; mask >>= 1, k++) {
        int peer = vr ^ mask, mid = lo + mask;
        int klo = (vr & mask) ? mid : lo, khi = (vr & mask) ? hi : mid;
        int slo = (vr & mask) ? lo : mid, shi = (vr & mask) ? mid : hi;
        size_t sa = blk_lo(count, p, slo), sb = blk_lo(count, p, shi);
        size_t ka = blk_lo(count, p, klo), kb = blk_lo(count, p, khi);
        rc = sf_coll__sendrecv(c, acc + sa * es, (sb - sa) * es, REAL(peer), tmp, (kb - ka) * es,
                               REAL(peer), SF_COLL__TAG(SF_COLL__T_REDUCE_RS, k));
        if (rc == 0) {
            rc = op->fn(tmp, acc + ka * es, kb - ka, op->arg);
        }
        lo = klo;
        hi = khi;
    }
    /* Gather: at step mask a rank holds blocks vr .. vr+mask-1. */
    for (int mask = 1; mask < p && rc == 0; mask <<= 1) {
        if (vr & mask) {
            size_t a = blk_lo(count, p, vr), b = blk_lo(count, p, vr + mask);
            rc = sf_coll__send(c, acc + a * es, (b - a) * es, REAL(vr - mask),
                               SF_COLL__TAG(SF_COLL__T_REDUCE_GATHER, 0));
            break;
        }
        size_t a = blk_lo(count, p, vr + mask), b = blk_lo(count, p, vr + 2 * mask);
        rc = sf_coll__recv(c, acc + a * es, (b - a) * es, REAL(vr + mask),
                           SF_COLL__TAG(SF_COLL__T_REDUCE_GATHER, 0));
    }
#undef REAL
    free(mem);
    return rc;
}

int sf_coll_reduce(const struct sf_coll_comm *c, const void *sbuf, void *rbuf, size_t count,
                   const struct sf_coll_op *op, int root)
{
    int p = c->size, rank = c->rank;
    if (root < 0 || root >= p) {
        return -EINVAL;
    }
    if (count != 0 && op->elem_size > SIZE_MAX / count) {
        return -EOVERFLOW;
    }
    size_t n = count * op->elem_size;
    if (sbuf == NULL) {
        sbuf = rbuf; /* in place: the root's data are in rbuf */
    }
    if (n == 0) {
        return 0;
    }
    if (sbuf == NULL) {
        return -EINVAL;
    }
    if (p == 1) {
        if (sbuf != rbuf) {
            memcpy(rbuf, sbuf, n);
        }
        return 0;
    }

    if (op->commutative && (p & (p - 1)) == 0 && count >= (size_t)p &&
        n >= sf_coll__tun()->reduce_large) {
        return reduce_rab(c, sbuf, rbuf, count, op, root);
    }

    /* Tree root: the real root for commutative ops, rank 0 otherwise. */
    int troot = op->commutative ? root : 0;
    int vr = (rank - troot + p) % p;
    int tag = SF_COLL__TAG(SF_COLL__T_REDUCE, 0);
    int nchild = 0;
    for (int m = 1; m < p && !(vr & m); m <<= 1) {
        nchild += (vr | m) < p;
    }

    /* A leaf sends its input as is. */
    if (nchild == 0) {
        int rc = sf_coll__send(c, sbuf, n, (vr - (vr & -vr) + troot) % p, tag);
        if (rc == 0 && rank == root && rank != troot) {
            rc = sf_coll__recv(c, rbuf, n, troot, SF_COLL__TAG(SF_COLL__T_REDUCE_ROOT, 0));
        }
        return rc;
    }

    /* acc holds the partial result of this subtree, tmp the child's. At the
     * tree root acc can be rbuf when it is also the real root. */
    unsigned char *mem = malloc(rank == root ? n : 2 * n);
    if (mem == NULL) {
        return -ENOMEM;
    }
    unsigned char *acc, *tmp;
    if (rank == root) {
        acc = rbuf;
        tmp = mem;
    } else {
        acc = mem;
        tmp = mem + n;
    }
    if (acc != sbuf) {
        memcpy(acc, sbuf, n);
    }
    int rc = 0;
    int m = 1;
    for (; m < p && !(vr & m); m <<= 1) {
        int child = vr | m;
        if (child >= p) {
            continue;
        }
        rc = sf_coll__recv(c, tmp, n, (child + troot) % p, tag);
        if (rc != 0) {
            goto out;
        }
        /* Ours covers ranks vr..child-1, the child's the ones above; a
         * commutative op may take them either way round (no swap). */
        rc = sf_coll__combine(op, op->commutative, &acc, &tmp, count);
        if (rc != 0) {
            goto out;
        }
    }
    if (vr != 0) {
        rc = sf_coll__send(c, acc, n, (vr - m + troot) % p, tag);
        if (rc == 0 && rank == root) {
            /* Non-commutative, root inside the tree: the result comes back
             * from rank 0. */
            rc = sf_coll__recv(c, rbuf, n, troot, SF_COLL__TAG(SF_COLL__T_REDUCE_ROOT, 0));
        }
    } else if (rank == root) {
        if (acc != (unsigned char *)rbuf) {
            memcpy(rbuf, acc, n);
        }
    } else {
        rc = sf_coll__send(c, acc, n, root, SF_COLL__TAG(SF_COLL__T_REDUCE_ROOT, 0));
    }
out:
    free(mem);
    return rc;
}
