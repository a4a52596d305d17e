/* Collective algorithms over the rank runtime's point-to-point engine.
 * Independent of MPI handles: a communicator is described by its context
 * id, rank, size and the world rank of each member; data are bytes and
 * reductions take a callback. Algorithms are chosen by size and process
 * count; for a given process count the order of reduction is fixed, so
 * results are bit-identical from run to run. Single-threaded. */
#ifndef SF_COLL_H
#define SF_COLL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sf_rt;

struct sf_coll_comm {
    struct sf_rt *rt;
    uint32_t ctx;      /* context id reserved for this communicator's collectives */
    int rank, size;
    const int *world;  /* world[i]: world rank of member i; owned by the caller */
};

/* inout[i] = in[i] (op) inout[i], count elements. Returns 0 or a negative
 * code (e.g. -EINVAL for an op undefined on the type). For a
 * non-commutative op, 'in' holds the lower-ranked operand. */
typedef int (*sf_coll_op_fn)(const void *in, void *inout, size_t count, void *arg);

struct sf_coll_op {
    sf_coll_op_fn fn;
    void *arg;
    bool commutative;
    size_t elem_size;  /* bytes per element */
};

/* All return 0 or a negative code (SF_ERR_* / -errno). */
int sf_coll_barrier(const struct sf_coll_comm *c);
int sf_coll_bcast(const struct sf_coll_comm *c, void *buf, size_t bytes, int root);
/* sbuf == NULL means in place (data already in rbuf; at the root for
 * reduce). rbuf is significant only at root for reduce. */
int sf_coll_reduce(const struct sf_coll_comm *c, const void *sbuf, void *rbuf, size_t count,
                   const struct sf_coll_op *op, int root);
int sf_coll_allreduce(const struct sf_coll_comm *c, const void *sbuf, void *rbuf, size_t count,
                      const struct sf_coll_op *op);

#endif
