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
    SF_COLL__T_SCHED = 13, /* blocking runs of schedules */
};
/* Non-blocking collectives: bit 30 set and 14 bits of the per-communicator
 * start sequence (16384 may be outstanding at once). */
#define SF_COLL__NB_TAG(seq) ((int)(0x40000000u | (((seq)&0x3fffu) << 16)))
#define SF_COLL__TAG(alg, step) ((int)(((alg) << 16) | ((step)&0xffff)))

/* Algorithm switch points, bytes; read once from SF_COLL_<NAME>.
 * Process-wide read-only configuration: every rank of a job sees the same
 * environment, so every rank picks the same algorithm for a given call. */
struct sf_coll__tun {
    size_t bcast_large;     /* >= : scatter + ring allgather (size > 2) */
    size_t allreduce_large; /* >= : reduce-scatter + allgather (Rabenseifner or ring) */
    size_t reduce_large;    /* >= : reduce-scatter + gather (commutative, p = 2^k) */
    size_t gather_large;    /* total bytes >= : linear gather/scatter, else binomial */
    size_t allgather_large; /* total bytes >= : ring allgather, else Bruck */
    size_t alltoall_small;  /* bytes per pair < : Bruck (p > 2) ...  */
    int alltoall_bruck_ranks; /* ... when p >= this */
    size_t alltoall_large;  /* bytes per pair >= : pairwise exchange, else all posted at once */
};
const struct sf_coll__tun *sf_coll__tun(void);

struct sf_rt_req;
/* Wait for r, calling c->poll between polls when set. */
int sf_coll__wait(const struct sf_coll_comm *c, struct sf_rt_req *r);

/* Blocking helpers; peers are ranks in c. A receive must deliver exactly
 * len bytes (the algorithms always know the size): anything else means the
 * ranks disagree about the call and is reported as an error. */
int sf_coll__send(const struct sf_coll_comm *c, const void *buf, size_t len, int peer, int tag);
int sf_coll__recv(const struct sf_coll_comm *c, void *buf, size_t len, int peer, int tag);
int sf_coll__sendrecv(const struct sf_coll_comm *c, const void *sbuf, size_t slen, int dest,
                      void *rbuf, size_t rlen, int src, int tag);

/* Fold a partner's partial result (in *tmp) into ours (in *acc) as
 * lower (op) higher, so non-commutative ops keep rank order. When ours is
 * the lower part the result lands in *tmp and the buffers swap: *acc
 * always holds the result afterwards. */
int sf_coll__combine(const struct sf_coll_op *op, bool tmp_is_lower, unsigned char **acc,
                     unsigned char **tmp, size_t count);

/* Binomial-tree broadcast of len bytes from root (used by bcast and by the
 * non-commutative allreduce). */
int sf_coll__bcast_binomial(const struct sf_coll_comm *c, void *buf, size_t len, int root);

/* Schedules (coll_sched.c): a list of steps; SF_COLL__S_END closes a
 * round. A round's transfers are posted together; its copies and reductions
 * run in order once they have all completed. Pointers are fixed when the
 * schedule is built (scratch memory comes from sf_coll__s_alloc). */
enum {
    SF_COLL__S_SEND = 1,
    SF_COLL__S_RECV,
    SF_COLL__S_COPY,
    SF_COLL__S_OP,
    SF_COLL__S_END,
    SF_COLL__S_RSEND, /* to / from a member of the remote group (inter) */
    SF_COLL__S_RRECV,
};
struct sf_coll__step {
    int kind;
    int peer;        /* comm rank for SEND/RECV, remote rank for RSEND/RRECV */
    void *buf;       /* SEND/RECV buffer, COPY destination, OP inout */
    const void *src; /* COPY source, OP in (the lower-ranked operand) */
    size_t len;      /* bytes; elements for OP */
};
struct sf_coll__sched {
    struct sf_coll_comm c; /* world[] is a private copy */
    int tagbase;
    struct sf_coll_op op;
    struct sf_coll__step *steps;
    size_t n, cap;
    size_t cur; /* first step of the current round */
    unsigned round;
    bool posted;
    struct sf_rt_req *reqs;
    size_t nreq, reqcap;
    void **mem;
    size_t nmem, memcap;
    int err; /* first build failure */
    /* Inter-communicators: the remote group (world[] a private copy),
     * its tag for this schedule; x.world NULL otherwise. */
    struct sf_coll_inter x;
};
int sf_coll__sched_init(struct sf_coll__sched *s, const struct sf_coll_comm *c, int tagbase,
                        const struct sf_coll_op *op);
int sf_coll__s_send(struct sf_coll__sched *s, const void *buf, size_t len, int peer);
int sf_coll__s_recv(struct sf_coll__sched *s, void *buf, size_t len, int peer);
int sf_coll__s_rsend(struct sf_coll__sched *s, const void *buf, size_t len, int peer);
int sf_coll__s_rrecv(struct sf_coll__sched *s, void *buf, size_t len, int peer);
int sf_coll__s_copy(struct sf_coll__sched *s, const void *src, void *dst, size_t len);
/* inout = in (op) inout over count elements */
int sf_coll__s_op(struct sf_coll__sched *s, const void *in, void *inout, size_t count);
int sf_coll__s_round(struct sf_coll__sched *s);
void *sf_coll__s_alloc(struct sf_coll__sched *s, size_t len);
/* Run rounds: until done (block) or until a transfer is still pending. */
int sf_coll__sched_step(struct sf_coll__sched *s, bool block, bool *done);
void sf_coll__sched_fini(struct sf_coll__sched *s);
/* Builds the schedule for a (coll_nb.c); 'blocking' lets it pick the
 * algorithms that only the blocking path has. */
int sf_coll__build(struct sf_coll__sched *s, const struct sf_coll_args *a, bool blocking);
/* The same for inter-communicators (coll_inter.c); s->x is set. */
int sf_coll__build_inter(struct sf_coll__sched *s, const struct sf_coll_args *a);
/* Local-group parts the inter-communicator builders reuse (coll_nb.c). */
int sf_coll__b_barrier(struct sf_coll__sched *s);
int sf_coll__b_bcast(struct sf_coll__sched *s, void *buf, size_t len, int root);
int sf_coll__b_reduce(struct sf_coll__sched *s, const void *sbuf, void *rbuf, size_t count,
                      int root);
int sf_coll__b_scatterv(struct sf_coll__sched *s, const void *const *sptr, const size_t *scounts,
                        void *rbuf, size_t n, int root);

#endif
