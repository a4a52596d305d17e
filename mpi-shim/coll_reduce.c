/* Reduce by a binomial tree. The tree and the operand order at every node
 * are fixed by (size, root), so floating-point results are bit-identical
 * from run to run. Commutative ops use ranks relative to the root; other
 * ops use absolute ranks so every combination is (lower ranks) op (higher
 * ranks), finish at rank 0 and hop to the root. Single-threaded. */
#include "mpi-shim/coll_int.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
        if (op->commutative) {
            rc = op->fn(tmp, acc, count, op->arg);
        } else {
            /* Ours covers ranks vr..child-1, the child's the ones above. */
            rc = op->fn(acc, tmp, count, op->arg);
            unsigned char *t = acc;
            acc = tmp;
            tmp = t;
        }
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
