/* Private to the collective algorithms (mpi-shim/coll_*.c): internal tags,
 * point-to-point helpers over sf_rt, algorithm thresholds. Not for the MPI
 * bindings, which use sf_coll.h. Single-threaded like sf_coll.h. */
#ifndef SF_COLL_INT_H
#define SF_COLL_INT_H

#include "mpi-shim/sf_coll.h"

#include <stddef.h>

/* Tags on a communicator's collective context: the algorithm in the high
 * bits, the round/step in the low 16. Collectives are started in the same
 * order everywhere and messages between two ranks on one (context, tag)
 * do not overtake, so successive calls need no sequence number. */
enum {
    SF_COLL__T_BARRIER = 1,
    SF_COLL__T_BCAST = 2,
    SF_COLL__T_BCAST_SCATTER = 3,
    SF_COLL__T_BCAST_RING = 4,
    SF_COLL__T_REDUCE = 5,
    SF_COLL__T_REDUCE_ROOT = 6,
    SF_COLL__T_ALLREDUCE_RD = 7,
    SF_COLL__T_ALLREDUCE_FOLD = 8,
    SF_COLL__T_ALLREDUCE_RS = 9,
    SF_COLL__T_ALLREDUCE_AG = 10,
    SF_COLL__T_REDUCE_RS = 11,
    SF_COLL__T_REDUCE_GATHER = 12,
};
#define SF_COLL__TAG(alg, step) ((int)(((alg) << 16) | ((step)&0xffff)))

/* Algorithm switch points, bytes; read once from SF_COLL_<NAME>.
 * Process-wide read-only configuration: every rank of a job sees the same
 * environment, so every rank picks the same algorithm for a given call. */
struct sf_coll__tun {
    size_t bcast_large;     /* >= : scatter + ring allgather (size > 2) */
    size_t allreduce_large; /* >= : reduce-scatter + allgather (Rabenseifner or ring) */
    size_t reduce_large;    /* >= : reduce-scatter + gather (commutative, p = 2^k) */
};
const struct sf_coll__tun *sf_coll__tun(void);

/* Blocking helpers; peers are ranks in c. A receive must deliver exactly
 * len bytes (the algorithms always know the size): anything else means the
 * ranks disagree about the call and is reported as an error. */
int sf_coll__send(const struct sf_coll_comm *c, const void *buf, size_t len, int peer, int tag);
int sf_coll__recv(const struct sf_coll_comm *c, void *buf, size_t len, int peer, int tag);
int sf_coll__sendrecv(const struct sf_coll_comm *c, const void *sbuf, size_t slen, int dest,
                      void *rbuf, size_t rlen, int src, int tag);

/* Binomial-tree broadcast of len bytes from root (used by bcast and by the
 * non-commutative allreduce). */
int sf_coll__bcast_binomial(const struct sf_coll_comm *c, void *buf, size_t len, int root);

#endif
