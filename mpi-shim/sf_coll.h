/* Collective algorithms over the rank runtime's point-to-point engine.
 * Independent of MPI handles: a communicator is described by its context
 * id, rank, size and the world rank of each member; data are bytes and
 * reductions take a callback. Algorithms are chosen by size and process
 * count; for a given process count the order of reduction is fixed, so
 * results are bit-identical from run to run. Single-threaded (the MPI
 * layer serialises its threads; waits call the 'idle' hook). */
#ifndef SF_COLL_H
#define SF_COLL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct sf_rt;

struct sf_coll_comm {
    struct sf_rt *rt;
    uint32_t ctx; /* context id reserved for this communicator's collectives */
    int rank, size;
    const int *world; /* world[i]: world rank of member i; owned by the caller */
    uint32_t nb_seq;  /* non-blocking collectives started so far (must start at 0) */
    /* Optional: called while a blocking collective waits, so that the
     * caller's other operations (running non-blocking collectives) keep
     * moving; returns < 0 to give up with that code. NULL: plain waits. */
    int (*poll)(void *arg);
    void *poll_arg;
    /* Optional: called instead of sf_rt_idle between the polls of a
     * blocking wait (the MPI layer lets its other threads in there at
     * MPI_THREAD_MULTIPLE). NULL: sf_rt_idle. */
    void (*idle)(struct sf_rt *rt, unsigned idle);
};

/* inout[i] = in[i] (op) inout[i], count elements. Returns 0 or a negative
 * code (e.g. -EINVAL for an op undefined on the type). For a
 * non-commutative op, 'in' holds the lower-ranked operand. */
typedef int (*sf_coll_op_fn)(const void *in, void *inout, size_t count, void *arg);

struct sf_coll_op {
    sf_coll_op_fn fn;
    void *arg;
    bool commutative;
    size_t elem_size; /* bytes per element */
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

/* The other collectives are described by one argument block and run either
 * to completion (sf_coll_run) or as a schedule of rounds that the caller
 * progresses (sf_coll_start / sf_coll_sched_test: non-blocking
 * collectives). Sizes are bytes except for the reductions (elements of
 * op->elem_size). Vector variants take one pointer and one byte count per
 * member instead of displacements, so every block can live anywhere (the
 * MPI layer points non-contiguous blocks into its packing buffers).
 * sbuf == NULL (sptr == NULL) means MPI_IN_PLACE:
 *   gather(v): the root's block is already in place in rbuf / rptr[root];
 *   scatter(v): rbuf == NULL at the root leaves its block where it is;
 *   allgather(v): own block already at rbuf + rank * n / rptr[rank];
 *   alltoall(v), reduce_scatter(_block), scan, exscan: input is in rbuf
 *   (for alltoallv: the rptr/rcounts blocks). */
enum sf_coll_kind {
    SF_COLL_BARRIER = 1,          /* no buffers */
    SF_COLL_BCAST,                /* rbuf, n bytes, root */
    SF_COLL_REDUCE,               /* sbuf, rbuf (root), n elements, op, root */
    SF_COLL_ALLREDUCE,            /* sbuf, rbuf, n elements, op */
    SF_COLL_GATHER,               /* sbuf, n bytes per member, rbuf (root), root */
    SF_COLL_GATHERV,              /* sbuf, n own bytes; root: rptr, rcounts */
    SF_COLL_SCATTER,              /* sbuf (root), rbuf, n bytes per member, root */
    SF_COLL_SCATTERV,             /* root: sptr, scounts; rbuf, n own bytes */
    SF_COLL_ALLGATHER,            /* sbuf, n bytes per member, rbuf */
    SF_COLL_ALLGATHERV,           /* sbuf (own block, rcounts[rank] bytes), rptr, rcounts */
    SF_COLL_ALLTOALL,             /* sbuf, rbuf, n bytes per pair */
    SF_COLL_ALLTOALLV,            /* sptr, scounts, rptr, rcounts (also alltoallw) */
    SF_COLL_REDUCE_SCATTER,       /* sbuf, rbuf, rcounts (elements), op */
    SF_COLL_REDUCE_SCATTER_BLOCK, /* sbuf, rbuf, n elements per member, op */
    SF_COLL_SCAN,                 /* sbuf, rbuf, n elements, op */
    SF_COLL_EXSCAN,               /* same; rbuf at rank 0 untouched */
    SF_COLL_NEIGHBOR,             /* speers/sptr/scounts, rpeers/rptr/rcounts */
};
struct sf_coll_args {
    enum sf_coll_kind kind;
    const void *sbuf;
    void *rbuf;
    size_t n;
    const void *const *sptr;
    const size_t *scounts;
    void *const *rptr;
    const size_t *rcounts;
    const struct sf_coll_op *op; /* copied at start; op->arg must outlive the operation */
    int root;
    /* SF_COLL_NEIGHBOR: block i of nsend (sptr[i], scounts[i] bytes) goes
     * to member speers[i], block k of nrecv (rptr[k], rcounts[k]) comes
     * from rpeers[k]; a negative peer means no transfer (MPI_PROC_NULL).
     * All transfers start at once; blocks for one peer are sent in array
     * order and receives from one peer match in array order (MPI-3.1
     * 7.6), so the caller orders duplicate neighbours' blocks. */
    const int *speers, *rpeers;
    int nsend, nrecv;
};

/* Blocking: returns when this rank's part is done. */
int sf_coll_run(const struct sf_coll_comm *c, const struct sf_coll_args *a);

/* Non-blocking: builds the schedule and posts its first round. Arrays and
 * the comm's world[] are read only during the call; buffers must stay
 * valid until completion. Every member must start its non-blocking
 * collectives on c in the same order; they use a tag space of their own
 * (c->nb_seq, bumped per start, folded into the tags), so they never
 * match blocking collectives or each other. */
struct sf_coll_sched;
int sf_coll_start(struct sf_coll_comm *c, const struct sf_coll_args *a, struct sf_coll_sched **out);
/* Advance as far as completed transfers allow (the caller drives
 * sf_rt_progress). *done once finished; returns 0 or the failure (then
 * *done too). */
int sf_coll_sched_test(struct sf_coll_sched *s, bool *done);
/* Frees s; transfers still posted are cancelled first. */
void sf_coll_sched_free(struct sf_coll_sched *s);

/* Inter-communicator collectives: c is the local group (its collective
 * context and ranks), x the link to the remote group. Kinds and arguments
 * as above except: per-member arrays and per-member blocks (gather(v),
 * scatter(v), allgather(v), alltoall(v)) cover the REMOTE group; root is
 * SF_COLL_ROOT at the root, SF_COLL_NOROOT at the other members of the
 * root's group and the root's rank in the remote group elsewhere; nothing
 * is in place (sbuf/sptr always given); allgatherv sends n own bytes from
 * sbuf; reduce_scatter(_block) rcounts/n describe the LOCAL group, whose
 * results reduce the remote group's data. Allgather and alltoall are
 * refused (-EINVAL; the groups' block sizes may differ: use the v forms),
 * and so are scan, exscan and neighbour exchanges. Designs: each group combines or
 * spreads within itself through its rank 0, which talks to the other
 * group (barrier, bcast, reduce, allreduce, allgather(v),
 * reduce_scatter); rooted gathers/scatters and alltoall(v) go directly
 * between the members concerned. */
#define SF_COLL_ROOT (-4)
#define SF_COLL_NOROOT (-2)
struct sf_coll_inter {
    uint32_t ctx;     /* context of the transfers between the groups */
    int tag;          /* negative: their tag (blocking); non-blocking runs use
                       * tag - 1 - (c->nb_seq & 0x3fff) */
    int size;         /* remote group size */
    const int *world; /* world rank of each remote member; read during the call */
};
int sf_coll_inter_run(const struct sf_coll_comm *c, const struct sf_coll_inter *x,
                      const struct sf_coll_args *a);
int sf_coll_inter_start(struct sf_coll_comm *c, const struct sf_coll_inter *x,
                        const struct sf_coll_args *a, struct sf_coll_sched **out);

/* Print the collectives' tunables (SF_COLL_*) for --params. */
void sf_coll_params(FILE *out);

#endif
