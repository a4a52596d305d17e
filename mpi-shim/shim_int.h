/* mpi-shim private: the layouts behind MPI handles, the library's state and
 * the helpers the bindings share (parameter checks, error reporting,
 * datatype packing, request completion). Not installed. The MPI layer is
 * used from one thread at a time: at MPI_THREAD_MULTIPLE every binding
 * holds the process-wide section (SF_MPI_ENTER, mpi_thread.c). */
#ifndef SF_MPI_SHIM_INT_H
#define SF_MPI_SHIM_INT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The library defines the deprecated bindings too. */
#define MPI_NO_DEPRECATION_WARNINGS 1
#include "mpi-shim/mpi.h"
#include "mpi-shim/sf_coll.h"
#include "mpi-shim/sf_op.h"
#include "runtime/rt/sf_rt.h"

/* Binding definition helpers: PMPI_x is the implementation, MPI_x a strong
 * alias of it, so a profiling tool can interpose MPI_x and call PMPI_x. */
#define SF_MPI_ALIAS(name) \
    extern __typeof__(PMPI_##name) MPI_##name __attribute__((alias("PMPI_" #name)))

/* --- threads (mpi_thread.c) ---
 * At MPI_THREAD_MULTIPLE (sf_mpi__mt) one process-wide critical section
 * covers all MPI and runtime state. Every binding opens with SF_MPI_ENTER()
 * (or SF_MPI_NOLOCK() when it touches no shared state:
 * tests/mpi/thread_entry.sh checks that each has one); the section is given
 * back when the binding's scope ends, on every return path (a cleanup
 * attribute, so no binding needs restructuring). Nested entries from our
 * own callbacks (error handlers, attribute callbacks, user ops, generalized
 * requests) on the same thread only count depth. Every loop that waits
 * for progress calls sf_mpi__idle between passes, which lets other
 * threads in. Below MULTIPLE the cost is one predictable branch. */
extern bool sf_mpi__mt;
void sf_mpi__lk_enter_mt(void);
void sf_mpi__lk_leave_mt(void);
void sf_mpi__idle_mt(unsigned idle);
static inline bool sf_mpi__lk_enter(void)
{
    if (__builtin_expect(sf_mpi__mt, 0)) {
        sf_mpi__lk_enter_mt();
        return true;
    }
    return false;
}
static inline void sf_mpi__lk_leave(const bool *entered)
{
    if (__builtin_expect(*entered, 0)) {
        sf_mpi__lk_leave_mt();
    }
}
#define SF_MPI_ENTER()                                                            \
    __attribute__((cleanup(sf_mpi__lk_leave))) const bool sf_mpi__entered_ =     \
        sf_mpi__lk_enter()
#define SF_MPI_NOLOCK() ((void)0)
/* Between two progress passes of a wait: idle = consecutive idle passes
 * (0 after a pass that handled events: no yield below MULTIPLE). */
static inline void sf_mpi__idle(unsigned idle);
/* sf_rt_wait that gives the section up while it waits. */
int sf_mpi__rt_wait(struct sf_rt_req *r);
/* sf_coll_comm.idle for communicators at MULTIPLE. */
void sf_mpi__coll_idle(struct sf_rt *rt, unsigned idle);
/* What SF_MPI_THREAD_LEVEL allows MPI_Init_thread to provide. */
int sf_mpi__thread_cap(void);

/* Magic numbers tell a live object of each kind from garbage or a freed one. */
enum {
    SF_MPI_MAGIC_COMM = 0x436f6d6d,
    SF_MPI_MAGIC_TYPE = 0x54797065,
    SF_MPI_MAGIC_OP = 0x4f705f5f,
    SF_MPI_MAGIC_REQ = 0x52657175,
    SF_MPI_MAGIC_ERRH = 0x45727248,
    SF_MPI_MAGIC_GROUP = 0x47727570,
    SF_MPI_MAGIC_MSG = 0x4d736773,
    SF_MPI_MAGIC_OTHER = 0x4f746872, /* info, win, file null objects */
    SF_MPI_MAGIC_DEAD = 0x44656164,
};

/* Context ids: each communicator owns an even/odd pair, the even one for
 * point-to-point and the odd one for its collectives. WORLD has 0/1, SELF
 * 2/3. Every process keeps a bitmap of the pairs it uses (ctx_used); a new
 * communicator takes the lowest pair unused at ALL its future members
 * (mpi_comm.c): dup/split/create OR the bitmaps over the parent (one
 * allreduce), create_group over the group members only (a tree over the
 * parent's point-to-point context, internal tag from the program's tag),
 * Intercomm_create ORs each group's bitmap and the two leaders swap theirs
 * over the peer communicator, merge/dup of an inter-communicator does the
 * same across it. So no process ever has two communicators on one pair,
 * and disjoint communicators from one split may share a pair. Library
 * traffic on a point-to-point context uses negative tags (mpi_comm.c,
 * mpi_topo.c: -0x40000000 and below; inter-communicator collectives in
 * mpi_coll.c: -0x30000000 to -0x30004000), which MPI_ANY_TAG never
 * matches. */
#define SF_MPI_CTX_WORLD 0u
#define SF_MPI_CTX_SELF 2u
#define SF_MPI_MAX_CTX_PAIRS 2048u

struct ompi_errhandler_t {
    uint32_t magic;
    int kind; /* SF_MPI_EH_* */
    MPI_Comm_errhandler_function *fn;
    int refcount;
    bool predefined;
};
enum { SF_MPI_EH_NULL = 0, SF_MPI_EH_FATAL, SF_MPI_EH_RETURN, SF_MPI_EH_USER };

struct ompi_group_t {
    uint32_t magic;
    int size;
    int rank;     /* own rank in the group, or MPI_UNDEFINED */
    int *world;   /* world rank of each member (owned unless predefined) */
    int refcount;
    bool predefined;
};

struct ompi_communicator_t {
    uint32_t magic;
    bool is_null;     /* MPI_COMM_NULL */
    bool predefined;
    uint32_t ctx;     /* point-to-point context; ctx + 1 for collectives */
    int rank, size;
    int *world;       /* world rank of each member (owned unless predefined) */
    struct ompi_errhandler_t *errh;
    struct sf_coll_comm coll;
    char name[MPI_MAX_OBJECT_NAME];
    /* Inter-communicators: 'size'/'world' address the REMOTE group (so
     * point-to-point needs no special case) and 'rank' is the own rank in
     * the local group; the local group is local_size/local_world, and
     * 'coll' runs over it (the collective bindings add the link to the
     * remote group: sf_coll_inter_run/start). */
    bool is_inter;
    int local_size;
    int *local_world;           /* inter only; owned */
    struct sf_mpi_attr *attrs;  /* cached attributes, in setting order (mpi_attr.c) */
    struct sf_mpi_topo *topo;   /* Cartesian/graph/dist-graph topology or NULL (mpi_topo.c) */
    struct ompi_info_t *info;   /* hints (Comm_set_info, dup_with_info) or NULL; owned */
};

/* A datatype's layout, flattened when it is built (dt_build.c):
 * - 'ent': the data of one instance as strided blocks in typemap (= pack)
 *   order, each 'n' blocks of 'len' bytes at off, off + stride, ...
 *   relative to the buffer address; adjacent blocks are merged as they are
 *   appended, so a vector of doubles is one entry whatever its count.
 * - 'sig': the type signature as runs of predefined elements (pair types
 *   such as MPI_DOUBLE_INT stay one element), merged; it drives
 *   reductions, external32 and element counts.
 * A large repeat of a multi-block type (contiguous of a struct, a vector
 * of single structs) keeps one copy: the blocks and signature of one
 * instance are 'rep' copies of ent/sig, copy r shifted by r * rep_stride.
 * 'contig' means one block at true_lb whose length is the extent: count
 * instances are then one span of memory and go without copies.
 * Predefined types point 'ent'/'sig' at their inline one-entry arrays. */
struct sf_dt_ent {
    MPI_Aint off;
    size_t len;
    size_t n;
    MPI_Aint stride;
};
struct sf_dt_run {
    struct ompi_datatype_t *t; /* predefined element type */
    size_t n;
};
struct ompi_datatype_t {
    uint32_t magic;
    bool predefined;
    bool committed;
    bool is_null;
    bool contig;
    bool xlb, xub;        /* lb/ub set by markers (MPI_LB/MPI_UB, resized) */
    bool has_lb, has_ub;  /* the typemap has any lb/ub contributor */
    enum sf_type basic;   /* predefined: element kind for reductions */
    size_t size;          /* bytes of data in one instance */
    MPI_Aint lb, extent;
    MPI_Aint true_lb, true_extent;
    size_t align;         /* for the struct extent padding rule */
    /* uniform signature: all elements of predefined type 'elem' (n per
     * instance); elem is NULL when the signature mixes types */
    size_t n;
    struct ompi_datatype_t *elem;
    size_t nent, nsig;
    struct sf_dt_ent *ent;
    struct sf_dt_run *sig;
    size_t rep;           /* >= 1 */
    MPI_Aint rep_stride;
    /* predefined only: element layout (pairs: part 1 at off1) and the
     * inline flattened form */
    size_t part0, part1, off1;
    struct sf_dt_ent ent1[2];
    struct sf_dt_run run1[1];
    /* construction arguments for MPI_Type_get_contents */
    int combiner;
    int ni, na, nd;
    int *ints;
    MPI_Aint *aints;
    struct ompi_datatype_t **types; /* referenced */
    struct sf_mpi_attr *attrs; /* cached attributes (mpi_attr.c); Type_dup copies and
                                * Type_free deletes them: sf_mpi__attr_copy/_delete_all */
    int refcount;
    char name[MPI_MAX_OBJECT_NAME];
};

struct ompi_op_t {
    uint32_t magic;
    bool predefined;
    bool commute;
    enum sf_op_kind kind;   /* SF_OP_NULL for user ops */
    MPI_User_function *user_fn;
    char name[MPI_MAX_OBJECT_NAME];
};

/* Resumable pack engine: a cursor walks count instances of t at 'base';
 * each call moves at most 'max' bytes and returns how many it moved, so
 * a large message can go through a bounded staging buffer. */
struct sf_dt_cursor {
    MPI_Datatype t;
    char *base;
    size_t count;
    size_t inst, copy, ent, rep, boff; /* position: instance, copy, entry, block, byte */
};
/* Staging of a large non-contiguous message (mpi_pt2pt.c): the runtime
 * packs/unpacks through 'lay' one segment of 'stage' at a time. */
struct sf_mpi_seg {
    struct sf_rt_layout lay;
    struct sf_dt_cursor cur;
    unsigned char stage[SF_RT_SEG_BYTES];
};
enum sf_mpi_req_kind {
    SF_MPI_REQ_NULL = 0,
    SF_MPI_REQ_SEND,
    SF_MPI_REQ_RECV,
    SF_MPI_REQ_DONE, /* completed at start (PROC_NULL, errors, bsend copies) */
    SF_MPI_REQ_COLL, /* non-blocking collective: 'rt.complete' is set by
                      * sf_mpi__coll_progress when its schedule finishes */
    SF_MPI_REQ_GREQ, /* generalized request: 'rt.complete' is set by
                      * MPI_Grequest_complete (mpi_greq.c) */
};
struct sf_mpi_cjob;
struct sf_coll_sched;
struct sf_mpi_greq;

struct ompi_request_t {
    uint32_t magic;
    enum sf_mpi_req_kind kind;
    bool persistent;
    bool active;        /* started and not yet completed by wait/test */
    bool is_null;       /* MPI_REQUEST_NULL */
    bool freed;         /* MPI_Request_free on an active request */
    bool bsend;
    bool rt_started;    /* rt owns 'rt' until it completes */
    bool seg;           /* large non-contiguous: the runtime moves it a segment
                         * at a time through tmp (struct sf_mpi_seg) */
    int err;            /* MPI class recorded at start (DONE requests) */
    struct sf_rt_req rt;
    MPI_Comm comm;
    MPI_Datatype type;
    void *ubuf;         /* user buffer */
    int count;
    int peer, tag;      /* as given (comm ranks) for persistent restarts */
    enum sf_rt_mode mode;
    void *tmp;          /* pack buffer when the datatype has holes: the whole
                         * message, or with 'seg' a struct sf_mpi_seg */
    size_t tmplen;
    MPI_Status done_status; /* status of a DONE request */
    struct ompi_request_t *next_live; /* list of live requests (debug/finalize) */
    /* SF_MPI_REQ_COLL (mpi_coll.c) */
    struct sf_coll_sched *sched;
    struct sf_mpi_cjob *cjob;
    struct ompi_request_t *next_coll; /* running collectives */
    struct sf_mpi_greq *greq; /* SF_MPI_REQ_GREQ: callbacks (mpi_greq.c) */
};

struct ompi_message_t {
    uint32_t magic;
    bool no_proc;
    struct sf_rt_msg *msg;
    MPI_Comm comm;
    size_t count; /* bytes */
    int source, tag;
};

/* Info objects: 'which' 0 = MPI_INFO_NULL, 1 = MPI_INFO_ENV (filled on
 * first use), 2 = created by the program. Keys keep insertion order. */
struct sf_mpi_info_kv {
    struct sf_mpi_info_kv *next;
    char *key, *val;
};
struct ompi_info_t {
    uint32_t magic;
    int which;
    int nkeys;
    struct sf_mpi_info_kv *kv;
};
/* Objects we only need as predefined handles for now. */
struct ompi_win_t { uint32_t magic; };
struct ompi_file_t { uint32_t magic; };

/* Library state (one per process: MPI is a process-wide API). */
enum { SF_MPI_ST_NONE = 0, SF_MPI_ST_INIT, SF_MPI_ST_FINALIZED };
struct sf_mpi_state {
    int state;
    int thread_level;
    struct sf_rt *rt;
    int world_rank, world_size;
    int *world_ranks;            /* 0..n-1, WORLD's map */
    int self_rank[1];
    uint64_t ctx_used[SF_MPI_MAX_CTX_PAIRS / 64]; /* allocated context pairs */
    /* MPI_Buffer_attach */
    char *bsend_buf;
    size_t bsend_size;
    struct sf_mpi_bsend *bsend_list; /* in buffer order */
    char host[MPI_MAX_PROCESSOR_NAME];
    int appnum, universe_size;
};
extern struct sf_mpi_state sf_mpi__st;

static inline void sf_mpi__idle(unsigned idle)
{
    if (__builtin_expect(sf_mpi__mt, 0)) {
        sf_mpi__idle_mt(idle);
    } else if (idle > 0) {
        sf_rt_idle(sf_mpi__st.rt, idle);
    }
}

/* Predefined objects reached from C (their ABI names are in mpi.h). */
#define SF_COMM_WORLD ((struct ompi_communicator_t *)(void *)&ompi_mpi_comm_world)
#define SF_COMM_SELF ((struct ompi_communicator_t *)(void *)&ompi_mpi_comm_self)
#define SF_COMM_NULL ((struct ompi_communicator_t *)(void *)&ompi_mpi_comm_null)

/* --- errors (mpi_err.c) --- */
/* Report an error of MPI class 'cls' raised by binding 'fn' on 'comm' (NULL
 * or invalid: MPI_COMM_WORLD's handler): formats "fn: message", then
 * ERRORS_ARE_FATAL prints it and aborts the job, ERRORS_RETURN returns
 * cls, a user handler is called and then cls returned. */
int sf_mpi__raise(MPI_Comm comm, int cls, const char *fn, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Fatal-unless-returning report for a runtime code (negative errno /
 * SF_ERR_*); returns the MPI class. */
int sf_mpi__raise_rt(MPI_Comm comm, int rc, const char *fn);
/* MPI error class for a runtime code. */
int sf_mpi__class_of(int rc);
int sf_mpi__unsupported(const char *fn);
/* Name of a communicator for messages ("MPI_COMM_WORLD", its set name, ...). */
const char *sf_mpi__comm_name(MPI_Comm comm);

/* --- parameter checks: 0 or the raised class (mpi_check.c) --- */
int sf_mpi__chk_init(const char *fn);
int sf_mpi__chk_comm(const char *fn, MPI_Comm comm);
int sf_mpi__chk_type(const char *fn, MPI_Comm comm, MPI_Datatype type);
/* A datatype handle for the datatype calls themselves: library initialised
 * and a valid handle, committed or not (errors raised on MPI_COMM_WORLD). */
int sf_mpi__chk_type_handle(const char *fn, MPI_Datatype type);
/* Return MPI_ERR_ARG through the error handler when pointer p is NULL. */
#define SF_NULLARG(fn, p)                                                        \
    do {                                                                         \
        if ((p) == NULL) {                                                       \
            return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn, #p " is NULL"); \
        }                                                                        \
    } while (0)
int sf_mpi__chk_buf(const char *fn, MPI_Comm comm, const void *buf, int count, MPI_Datatype type);
/* dest: a rank of comm or MPI_PROC_NULL; src may also be MPI_ANY_SOURCE */
int sf_mpi__chk_dest(const char *fn, MPI_Comm comm, int dest);
int sf_mpi__chk_src(const char *fn, MPI_Comm comm, int src);
int sf_mpi__chk_tag(const char *fn, MPI_Comm comm, int tag, bool any_ok);
int sf_mpi__chk_root(const char *fn, MPI_Comm comm, int root);
bool sf_mpi__comm_ok(MPI_Comm comm);
bool sf_mpi__type_ok(MPI_Datatype type);

/* --- datatypes (mpi_type.c, dt_build.c, dt_pack.c) --- */
/* Can count instances be sent straight from the buffer (the data is the
 * span [buf + t->true_lb, + count * size))? */
static inline bool sf_mpi__type_span(MPI_Datatype t, int count)
{
    if (t->nent == 0) {
        return true;
    }
    return t->nent == 1 && t->ent[0].n == 1 && t->rep == 1 && (count <= 1 || t->contig);
}
/* Legacy test: a contiguous type whose data starts at the buffer address. */
static inline bool sf_mpi__type_contig(MPI_Datatype t)
{
    return t->contig && t->true_lb == 0;
}
/* Bytes on the wire for count instances. */
static inline size_t sf_mpi__type_bytes(MPI_Datatype t, int count)
{
    return (size_t)count * t->size;
}
void sf_mpi__pack(MPI_Datatype t, int count, const void *ubuf, void *packed);
/* Unpacks 'bytes' of packed data (possibly fewer than count instances). */
void sf_mpi__unpack(MPI_Datatype t, int count, const void *packed, size_t bytes, void *ubuf);

void sf_mpi__dt_cursor(struct sf_dt_cursor *c, MPI_Datatype t, size_t count, const void *base);
size_t sf_mpi__dt_pack(struct sf_dt_cursor *c, void *out, size_t max);
size_t sf_mpi__dt_unpack(struct sf_dt_cursor *c, const void *in, size_t len);
/* For reductions: the elements of count instances of t (uniform element
 * type t->elem) as an array of t->elem extents, and back ('in' is
 * clobbered). 'out' holds count * t->n * t->elem->extent bytes. */
void sf_mpi__dt_gather_elems(MPI_Datatype t, int count, const void *ubuf, void *out);
void sf_mpi__dt_scatter_elems(MPI_Datatype t, int count, void *in, void *ubuf);

/* --- requests and point-to-point (mpi_pt2pt.c, mpi_req.c) --- */
void sf_mpi__type_release(MPI_Datatype t);
static inline void sf_mpi__type_retain(MPI_Datatype t)
{
    if (!t->predefined) {
        t->refcount++;
    }
}
struct ompi_request_t *sf_mpi__req_new(void);
void sf_mpi__req_release(struct ompi_request_t *r);
/* Fill a request (stack or heap) for a send or receive; nothing starts. */
void sf_mpi__p2p_prepare(struct ompi_request_t *r, enum sf_mpi_req_kind kind, void *buf,
                         int count, MPI_Datatype type, int peer, int tag, MPI_Comm comm,
                         enum sf_rt_mode mode, bool bsend);
/* Start (or restart, for persistent requests) r. 0 or an MPI class (not
 * raised: the binding raises it with its own name). */
int sf_mpi__p2p_start(struct ompi_request_t *r);
/* Has r's operation finished (no progress driven)? */
static inline bool sf_mpi__p2p_finished(const struct ompi_request_t *r)
{
    return !r->rt_started || r->rt.complete;
}
/* Finish a finished operation: unpack, release scratch, fill *st (may be
 * MPI_STATUS_IGNORE). Returns the operation's MPI class. r stays allocated. */
int sf_mpi__p2p_finish(struct ompi_request_t *r, MPI_Status *st);
/* Generalized requests (mpi_greq.c): finish = query_fn then free_fn;
 * status = query_fn only (MPI_Request_get_status); cancel = cancel_fn.
 * Each returns an MPI class (not raised). */
int sf_mpi__greq_finish(struct ompi_request_t *r, MPI_Status *st);
int sf_mpi__greq_status(struct ompi_request_t *r, MPI_Status *st);
int sf_mpi__greq_cancel(struct ompi_request_t *r);
void sf_mpi__greq_release(struct ompi_request_t *r);
/* Wait for r's operation: 0 or the MPI class of a runtime failure. */
int sf_mpi__p2p_wait(struct ompi_request_t *r);
void sf_mpi__status_empty(MPI_Status *st);
/* Drive the runtime once and reap buffered sends / freed requests. */
int sf_mpi__progress(void);
/* MPI_Request_free on a running request: reaped once it finishes. */
void sf_mpi__req_zombie(struct ompi_request_t *r);
int sf_mpi__bsend_detach_wait(void);
/* Message about a failed operation for the error handler. */
int sf_mpi__raise_op(MPI_Comm comm, int cls, const char *fn, const struct ompi_request_t *r);

/* --- non-blocking collectives (mpi_coll.c) --- */
/* Advance every running non-blocking collective; the number finished. */
int sf_mpi__coll_progress(void);
/* sf_mpi__p2p_finish for a finished SF_MPI_REQ_COLL request. */
int sf_mpi__coll_finish(struct ompi_request_t *r, MPI_Status *st);
/* Free what a collective request still holds (from sf_mpi__req_release). */
void sf_mpi__coll_release(struct ompi_request_t *r);
extern struct ompi_request_t *sf_mpi__coll_running;
/* Barrier across both groups of an inter-communicator (for
 * MPI_Comm_disconnect): 0 or a runtime code, nothing raised. */
int sf_mpi__inter_barrier(MPI_Comm comm);

/* --- communicators (mpi_comm.c) --- */
void sf_mpi__comm_setup(struct ompi_communicator_t *c, uint32_t ctx, int rank, int size,
                        int *world, const char *name);
/* For the calls MPI defines on intra-communicators only (create_group,
 * split_type, Intercomm_create's local_comm, topologies): 0, or raises
 * MPI_ERR_COMM for an inter-communicator. */
int sf_mpi__chk_intra(const char *fn, MPI_Comm comm);

/* --- groups (mpi_group.c) --- */
/* A new group of n members with the given world ranks (copied). NULL if
 * out of memory. */
struct ompi_group_t *sf_mpi__group_new(int n, const int *world);

/* --- attribute caching (mpi_attr.c) --- */
struct sf_mpi_attr;
enum sf_mpi_attr_kind { SF_MPI_ATTR_COMM = 0, SF_MPI_ATTR_TYPE, SF_MPI_ATTR_WIN };
/* On dup: run the copy callbacks of old's attributes (setting order) and
 * attach what they return to *to (a list, initially NULL). 0 or the MPI
 * class a callback returned (the partial list is then deleted). */
int sf_mpi__attr_copy(enum sf_mpi_attr_kind kind, void *oldobj, struct sf_mpi_attr *from,
                      void *newobj, struct sf_mpi_attr **to);
/* On free: run the delete callbacks (reverse setting order) and empty
 * *list. 0 or the first failing callback's class (the rest still run). */
int sf_mpi__attr_delete_all(enum sf_mpi_attr_kind kind, void *obj, struct sf_mpi_attr **list);
/* Built-in attribute of MPI_LASTUSEDCODE follows MPI_Add_error_code. */
void sf_mpi__attr_lastcode(int code);

/* --- info (mpi_info.c) --- */
bool sf_mpi__info_ok(MPI_Info info, bool null_ok);
/* A copy of info (NULL for MPI_INFO_NULL); *err set to an MPI class on
 * failure. */
struct ompi_info_t *sf_mpi__info_dup(MPI_Info info, int *err);
void sf_mpi__info_free(struct ompi_info_t *info);

/* --- topologies (mpi_topo.c) --- */
/* In- and out-neighbours of comm's topology (comm->topo set) in MPI-3.1
 * 7.6 order, MPI_PROC_NULL for missing Cartesian ones; *cart for a
 * Cartesian topology. One allocation: the caller frees *in. 0 or -ENOMEM. */
int sf_mpi__topo_neighbours(MPI_Comm comm, int **in, int *nin, int **out, int *nout, bool *cart);
void sf_mpi__topo_free(struct sf_mpi_topo *t);
struct sf_mpi_topo *sf_mpi__topo_dup(const struct sf_mpi_topo *t);

/* --- user error classes/codes (mpi_f2c.c): class of a code added by
 * MPI_Add_error_code/class, or -1; its string or NULL --- */
int sf_mpi__user_err_class(int code);
const char *sf_mpi__user_err_string(int code);


/* Thread-unsafe helpers for statuses */
static inline void sf_mpi__status_set(MPI_Status *st, int src, int tag, int err, bool canc,
                                      size_t bytes)
{
    if (st != MPI_STATUS_IGNORE) {
        st->MPI_SOURCE = src;
        st->MPI_TAG = tag;
        st->MPI_ERROR = err;
        st->_cancelled = canc;
        st->_ucount = bytes;
    }
}

#endif
