/* Collective bindings over sf_coll.h: all blocking and non-blocking
 * collectives on intra- and inter-communicators (scan/exscan intra only),
 * the non-blocking neighbourhood ones (the blocking ones are in
 * mpi_topo.c), the request kind of non-blocking collectives and its
 * progress; and
 * reduction operations: the predefined ones map to sf_op.h kernels, user
 * ones are called through a wrapper that passes the datatype handle.
 * Caller's thread. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpi-shim/shim_int.h"

/* What a reduction callback needs; lives on the binding's stack. */
struct op_ctx {
    enum sf_op_kind kind;
    enum sf_type type;
    MPI_User_function *user;
    MPI_Datatype dt; /* user ops: the caller's datatype */
};

static int predef_fn(const void *in, void *inout, size_t count, void *arg)
{
    const struct op_ctx *o = arg;
    return sf_op_apply(o->kind, o->type, in, inout, count);
}

static int user_fn(const void *in, void *inout, size_t count, void *arg)
{
    const struct op_ctx *o = arg;
    MPI_Datatype dt = o->dt;
    size_t esz = (size_t)dt->extent;
    /* The user function takes an int count: feed it in int-sized chunks. */
    while (count > 0) {
        int len = count > INT_MAX ? INT_MAX : (int)count;
        o->user((void *)in, inout, &len, &dt);
        in = (const char *)in + (size_t)len * esz;
        inout = (char *)inout + (size_t)len * esz;
        count -= (size_t)len;
    }
    return 0;
}

static bool op_ok(MPI_Op op)
{
    return op != NULL && op->magic == SF_MPI_MAGIC_OP && (op->kind != SF_OP_NULL || op->user_fn);
}

/* Build the sf_coll op for (op, type); 0 or the raised class. A user
 * function sees the caller's datatype and counts in its units; a
 * predefined op works on the elements, *mult per instance of type. */
static int make_op(const char *fn, MPI_Comm comm, MPI_Op op, MPI_Datatype type, struct op_ctx *ctx,
                   struct sf_coll_op *out, size_t *mult)
{
    if (!op_ok(op)) {
        return sf_mpi__raise(comm, MPI_ERR_OP, fn, "invalid operation");
    }
    memset(ctx, 0, sizeof(*ctx));
    out->arg = ctx;
    out->commutative = op->commute;
    if (op->user_fn != NULL) {
        ctx->user = op->user_fn;
        ctx->dt = type;
        out->fn = user_fn;
        out->elem_size = (size_t)type->extent;
        *mult = 1;
        return 0;
    }
    /* Predefined ops need one basic element type throughout (a derived
     * type of doubles is fine, a struct of int and double is not). */
    MPI_Datatype elem = type->elem;
    if (elem == NULL || elem->basic == SF_T_NONE || !sf_op_valid(op->kind, elem->basic)) {
        return sf_mpi__raise(comm, MPI_ERR_OP, fn, "%s is not defined for datatype %s", op->name,
                             elem != NULL    ? elem->name
                             : type->name[0] ? type->name
                                             : "(derived, mixed element types)");
    }
    ctx->kind = op->kind;
    ctx->type = elem->basic;
    out->fn = predef_fn;
    out->elem_size = (size_t)elem->extent;
    *mult = type->n;
    return 0;
}

/* Predefined reductions see only an array of elements: a datatype whose
 * data is not one such span of memory is reduced on gathered copies
 * ('tmp'); a span is used in place from its first byte. User ops get the
 * memory image as is. */
struct red_stage {
    char *tmp;
    size_t bytes;
    const void *s;
    void *r;
};

static int stage_in(struct red_stage *st, const struct sf_coll_op *sop, MPI_Datatype t, int count,
                    const void *sendbuf, void *recvbuf, bool recv_is_input)
{
    st->tmp = NULL;
    st->s = sendbuf;
    st->r = recvbuf;
    if (sop->fn != predef_fn || t->predefined) {
        return 0;
    }
    if (sf_mpi__type_span(t, count) && t->elem->size == (size_t)t->elem->extent) {
        st->s = sendbuf != NULL ? (const char *)sendbuf + t->true_lb : NULL;
        st->r = recvbuf != NULL ? (char *)recvbuf + t->true_lb : NULL;
        return 0;
    }
    st->bytes = (size_t)count * t->n * (size_t)t->elem->extent;
    st->tmp = malloc(2 * st->bytes + 1);
    if (st->tmp == NULL) {
        return MPI_ERR_NO_MEM;
    }
    if (sendbuf != NULL) {
        sf_mpi__dt_gather_elems(t, count, sendbuf, st->tmp);
        st->s = st->tmp;
    }
    st->r = st->tmp + st->bytes;
    if (recv_is_input) {
        sf_mpi__dt_gather_elems(t, count, recvbuf, st->r);
    }
    return 0;
}

static void stage_out(struct red_stage *st, MPI_Datatype t, int count, void *recvbuf,
                      bool has_result)
{
    if (st->tmp != NULL) {
        if (has_result) {
            sf_mpi__dt_scatter_elems(t, count, st->r, recvbuf);
        }
        free(st->tmp);
    }
}

static int chk_coll(const char *fn, MPI_Comm comm)
{
    int err = sf_mpi__chk_init(fn);
    if (!err) {
        err = sf_mpi__chk_comm(fn, comm);
    }
    return err;
}

/* Inter-communicators: the transfers between the groups use the
 * point-to-point context with library tags from here down (shim_int.h). */
#define TAG_ICOLL (-0x30000000)

/* Rooted collectives: a rank of comm, or on an inter-communicator also
 * MPI_ROOT / MPI_PROC_NULL (the root and the rest of its group); root
 * ranks there name the remote group. */
static int chk_root(const char *fn, MPI_Comm comm, int root)
{
    if (comm->is_inter && (root == MPI_ROOT || root == MPI_PROC_NULL)) {
        return 0;
    }
    return sf_mpi__chk_root(fn, comm, root);
}

/* Does this process hold the root's buffers? */
static bool is_root(MPI_Comm comm, int root)
{
    return comm->is_inter ? root == MPI_ROOT : comm->rank == root;
}

/* The root argument for sf_coll. */
static int coll_root(MPI_Comm comm, int root)
{
    if (!comm->is_inter || root >= 0) {
        return root;
    }
    return root == MPI_ROOT ? SF_COLL_ROOT : SF_COLL_NOROOT;
}

static int no_in_place(const char *fn, MPI_Comm comm)
{
    return sf_mpi__raise(comm, MPI_ERR_BUFFER, fn,
                         "MPI_IN_PLACE is not valid on an inter-communicator (%s)",
                         sf_mpi__comm_name(comm));
}

/* ---- the other collectives, blocking and non-blocking ----
 * A binding checks its arguments, describes the operation as an
 * sf_coll_args block in a job (which also owns the packing buffers and
 * remembers what to unpack at the end), and hands the job to go(): run to
 * completion, or start as a schedule owned by a request. Blocks whose
 * datatype is one span of memory are used in place; others go through
 * packing buffers (the pack engine) or, for predefined reductions, the
 * element gather/scatter of stage_in. */

enum { UN_UNPACK = 0, UN_SCATTER_ELEMS, UN_IMAGE };
struct unstage {
    int kind;
    MPI_Datatype t;
    size_t count;
    void *tmp, *user;
    void *aux; /* UN_IMAGE: room for the packed data */
};
struct sf_mpi_cjob {
    struct op_ctx ctx;
    struct sf_coll_op sop;
    struct sf_coll_args a;
    void **mem;
    size_t nmem, capmem;
    struct unstage *un;
    size_t nun, capun;
    int rc; /* runtime code of a finished non-blocking collective */
    bool oom;
};

struct ompi_request_t *sf_mpi__coll_running;

static struct sf_mpi_cjob *job_new(void)
{
    return calloc(1, sizeof(struct sf_mpi_cjob));
}

static void *job_alloc(struct sf_mpi_cjob *j, size_t len)
{
    if (j->oom) {
        return NULL;
    }
    if (j->nmem == j->capmem) {
        size_t nc = j->capmem ? 2 * j->capmem : 8;
        void **m = realloc(j->mem, nc * sizeof(void *));
        if (m == NULL) {
            j->oom = true;
            return NULL;
        }
        j->mem = m;
        j->capmem = nc;
    }
    void *p = malloc(len ? len : 1);
    if (p == NULL) {
        j->oom = true;
        return NULL;
    }
    j->mem[j->nmem++] = p;
    return p;
}

static void job_later(struct sf_mpi_cjob *j, int kind, MPI_Datatype t, size_t count, void *tmp,
                      void *user, void *aux)
{
    if (j->oom) {
        return;
    }
    if (j->nun == j->capun) {
        size_t nc = j->capun ? 2 * j->capun : 8;
        struct unstage *u = realloc(j->un, nc * sizeof(*u));
        if (u == NULL) {
            j->oom = true;
            return;
        }
        j->un = u;
        j->capun = nc;
    }
    sf_mpi__type_retain(t); /* the program may free it before we finish */
    j->un[j->nun++] = (struct unstage){kind, t, count, tmp, user, aux};
}

/* Bytes to send for count instances of t at buf. */
static const void *job_send(struct sf_mpi_cjob *j, MPI_Datatype t, size_t count, const void *buf)
{
    if (count == 0 || t->size == 0 || sf_mpi__type_span(t, count > INT_MAX ? 2 : (int)count)) {
        return (const char *)buf + t->true_lb;
    }
    void *tmp = job_alloc(j, count * t->size);
    if (tmp != NULL) {
        sf_mpi__pack(t, (int)count, buf, tmp);
    }
    return tmp;
}

/* Where to receive count instances of t for buf; 'input': the bytes there
 * are read first (in place), 'output': they are the result. */
static void *job_recv(struct sf_mpi_cjob *j, MPI_Datatype t, size_t count, void *buf, bool input,
                      bool output)
{
    if (count == 0 || t->size == 0 || sf_mpi__type_span(t, count > INT_MAX ? 2 : (int)count)) {
        return (char *)buf + t->true_lb;
    }
    void *tmp = job_alloc(j, count * t->size);
    if (tmp != NULL) {
        if (input) {
            sf_mpi__pack(t, (int)count, buf, tmp);
        }
        if (output) {
            job_later(j, UN_UNPACK, t, count, tmp, buf, NULL);
        }
    }
    return tmp;
}

/* Reduction operands: count_in instances read, count_out written back. */
static void *job_red(struct sf_mpi_cjob *j, MPI_Datatype t, size_t count_in, size_t count_out,
                     void *buf)
{
    size_t count = count_in > count_out ? count_in : count_out;
    if (t->predefined || count == 0) {
        return buf;
    }
    if (j->sop.fn != predef_fn) {
        /* User ops see memory images of count extents; the algorithms
         * copy whole images, holes included, so a type with holes gets
         * its result in a scratch image of which only the data is
         * copied out (the holes of recvbuf stay untouched). */
        bool holes = !(sf_mpi__type_span(t, count > INT_MAX ? 2 : (int)count) &&
                       t->size == (size_t)t->extent);
        bool normal = t->true_lb >= 0 && t->true_lb + t->true_extent <= t->extent;
        if (!holes || !normal || count_out == 0 || count > INT_MAX) {
            return buf;
        }
        size_t img = count * (size_t)t->extent;
        char *tmp = job_alloc(j, img + count_out * t->size);
        if (tmp != NULL) {
            memcpy(tmp, buf, img);
            job_later(j, UN_IMAGE, t, count_out, tmp, buf, tmp + img);
        }
        return tmp;
    }
    if (sf_mpi__type_span(t, count > INT_MAX ? 2 : (int)count) &&
        t->elem->size == (size_t)t->elem->extent) {
        return (char *)buf + t->true_lb;
    }
    void *tmp = job_alloc(j, count * t->n * (size_t)t->elem->extent);
    if (tmp != NULL) {
        if (count_in > 0) {
            sf_mpi__dt_gather_elems(t, (int)count_in, buf, tmp);
        }
        if (count_out > 0) {
            job_later(j, UN_SCATTER_ELEMS, t, count_out, tmp, buf, NULL);
        }
    }
    return tmp;
}

/* Unpack the results (when 'ok') and free the job. */
static void job_end(struct sf_mpi_cjob *j, bool ok)
{
    for (size_t i = 0; i < j->nun; i++) {
        struct unstage *u = &j->un[i];
        if (ok && u->kind == UN_UNPACK) {
            sf_mpi__unpack(u->t, (int)u->count, u->tmp, u->count * u->t->size, u->user);
        } else if (ok && u->kind == UN_IMAGE) {
            sf_mpi__pack(u->t, (int)u->count, u->tmp, u->aux);
            sf_mpi__unpack(u->t, (int)u->count, u->aux, u->count * u->t->size, u->user);
        } else if (ok) {
            sf_mpi__dt_scatter_elems(u->t, (int)u->count, u->tmp, u->user);
        }
        sf_mpi__type_release(u->t);
    }
    for (size_t i = 0; i < j->nmem; i++) {
        free(j->mem[i]);
    }
    free(j->mem);
    free(j->un);
    free(j);
}

static int poll_colls(void *arg)
{
    (void)arg;
    return sf_mpi__coll_progress();
}

/* The communicator's collective view; while non-blocking collectives run,
 * blocking ones keep them moving as they wait. */
static const struct sf_coll_comm *coll_of(MPI_Comm comm, struct sf_coll_comm *tmp)
{
    /* With threads, another one may start a collective while we wait. */
    if (sf_mpi__coll_running == NULL && !sf_mpi__mt) {
        return &comm->coll;
    }
    *tmp = comm->coll;
    tmp->poll = poll_colls;
    tmp->poll_arg = NULL;
    return tmp;
}

int sf_mpi__coll_progress(void)
{
    int n = 0;
    struct ompi_request_t **pp = &sf_mpi__coll_running;
    while (*pp != NULL) {
        struct ompi_request_t *r = *pp;
        bool done;
        int rc = sf_coll_sched_test(r->sched, &done);
        if (done) {
            r->cjob->rc = rc;
            r->rt.complete = true;
            *pp = r->next_coll;
            r->next_coll = NULL;
            n++;
        } else {
            pp = &r->next_coll;
        }
    }
    return n;
}

static void coll_unlink(struct ompi_request_t *r)
{
    for (struct ompi_request_t **pp = &sf_mpi__coll_running; *pp != NULL; pp = &(*pp)->next_coll) {
        if (*pp == r) {
            *pp = r->next_coll;
            r->next_coll = NULL;
            return;
        }
    }
}

int sf_mpi__coll_finish(struct ompi_request_t *r, MPI_Status *st)
{
    int cls = MPI_SUCCESS;
    if (r->cjob != NULL) {
        cls = r->cjob->rc < 0 ? sf_mpi__class_of(r->cjob->rc) : MPI_SUCCESS;
        job_end(r->cjob, cls == MPI_SUCCESS);
        r->cjob = NULL;
    }
    sf_coll_sched_free(r->sched);
    r->sched = NULL;
    sf_mpi__status_set(st, MPI_ANY_SOURCE, MPI_ANY_TAG, cls, false, 0);
    r->rt_started = false;
    return cls;
}

void sf_mpi__coll_release(struct ompi_request_t *r)
{
    coll_unlink(r);
    sf_coll_sched_free(r->sched);
    r->sched = NULL;
    if (r->cjob != NULL) {
        job_end(r->cjob, false);
        r->cjob = NULL;
    }
}

/* Run or start job j on comm; frees j (or gives it to the request). */
static int go(const char *fn, MPI_Comm comm, struct sf_mpi_cjob *j, MPI_Request *req)
{
    if (j->oom) {
        job_end(j, false);
        return sf_mpi__raise(comm, MPI_ERR_NO_MEM, fn, "out of memory");
    }
    struct sf_coll_inter x = {comm->ctx, TAG_ICOLL, comm->size, comm->world};
    if (req == NULL) {
        struct sf_coll_comm tmp;
        const struct sf_coll_comm *c = coll_of(comm, &tmp);
        int rc = comm->is_inter ? sf_coll_inter_run(c, &x, &j->a) : sf_coll_run(c, &j->a);
        job_end(j, rc >= 0);
        return rc < 0 ? sf_mpi__raise_rt(comm, rc, fn) : MPI_SUCCESS;
    }
    struct ompi_request_t *r = sf_mpi__req_new();
    if (r == NULL) {
        job_end(j, false);
        return sf_mpi__raise(comm, MPI_ERR_NO_MEM, fn, "out of memory");
    }
    int rc = comm->is_inter ? sf_coll_inter_start(&comm->coll, &x, &j->a, &r->sched)
                            : sf_coll_start(&comm->coll, &j->a, &r->sched);
    if (rc < 0) {
        job_end(j, false);
        sf_mpi__req_release(r);
        return sf_mpi__raise_rt(comm, rc, fn);
    }
    r->kind = SF_MPI_REQ_COLL;
    r->comm = comm;
    r->cjob = j;
    r->rt_started = true;
    r->rt.complete = false;
    r->active = true;
    r->next_coll = sf_mpi__coll_running;
    sf_mpi__coll_running = r;
    *req = r;
    return MPI_SUCCESS;
}

int sf_mpi__inter_barrier(MPI_Comm comm)
{
    struct sf_coll_inter x = {comm->ctx, TAG_ICOLL, comm->size, comm->world};
    struct sf_coll_args a = {.kind = SF_COLL_BARRIER};
    struct sf_coll_comm tmp;
    return sf_coll_inter_run(coll_of(comm, &tmp), &x, &a);
}

static int chk_req(const char *fn, MPI_Comm comm, MPI_Request *req, bool nb)
{
    if (nb && req == NULL) {
        return sf_mpi__raise(comm, MPI_ERR_ARG, fn, "request is NULL");
    }
    return 0;
}

/* counts[] (and displs[] when given) of n members: present, counts >= 0. */
static int chk_counts(const char *fn, MPI_Comm comm, const int *counts, const int *displs, int n,
                      bool need_displs)
{
    if (counts == NULL || (need_displs && displs == NULL)) {
        return sf_mpi__raise(comm, MPI_ERR_ARG, fn, "counts or displacements array is NULL");
    }
    for (int i = 0; i < n; i++) {
        if (counts[i] < 0) {
            return sf_mpi__raise(comm, MPI_ERR_COUNT, fn, "negative count %d for rank %d",
                                 counts[i], i);
        }
    }
    return 0;
}

static int chk_match(const char *fn, MPI_Comm comm, size_t sbytes, size_t rbytes)
{
    if (sbytes != rbytes) {
        return sf_mpi__raise(comm, MPI_ERR_TRUNCATE, fn,
                             "own block: %zu bytes sent but %zu bytes expected", sbytes, rbytes);
    }
    return 0;
}

static int no_mem(const char *fn, MPI_Comm comm)
{
    return sf_mpi__raise(comm, MPI_ERR_NO_MEM, fn, "out of memory");
}

static int bcast_impl(const char *fn, void *buffer, int count, MPI_Datatype datatype, int root,
                      MPI_Comm comm, MPI_Request *req, bool nb)
{
    int err = chk_coll(fn, comm);
    if (!err) {
        err = chk_req(fn, comm, req, nb);
    }
    if (!err) {
        err = chk_root(fn, comm, root);
    }
    /* MPI_PROC_NULL members of an inter-communicator's root group take
     * no part: their buffer arguments do not matter. */
    bool idle = comm->is_inter && root == MPI_PROC_NULL;
    if (!err && !idle) {
        err = sf_mpi__chk_buf(fn, comm, buffer, count, datatype);
    }
    if (err) {
        return err;
    }
    struct sf_mpi_cjob *j = job_new();
    if (j == NULL) {
        return no_mem(fn, comm);
    }
    bool me = is_root(comm, root);
    j->a.kind = SF_COLL_BCAST;
    j->a.root = coll_root(comm, root);
    if (!idle) {
        j->a.n = sf_mpi__type_bytes(datatype, count);
        j->a.rbuf = job_recv(j, datatype, (size_t)count, buffer, me, !me);
    }
    return go(fn, comm, j, req);
}

int PMPI_Ibarrier(MPI_Comm comm, MPI_Request *request)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Ibarrier";
    int err = chk_coll(fn, comm);
    if (!err) {
        err = chk_req(fn, comm, request, true);
    }
    if (err) {
        return err;
    }
    struct sf_mpi_cjob *j = job_new();
    if (j == NULL) {
        return no_mem(fn, comm);
    }
    j->a.kind = SF_COLL_BARRIER;
    return go(fn, comm, j, request);
}
SF_MPI_ALIAS(Ibarrier);

int PMPI_Ibcast(void *buffer, int count, MPI_Datatype datatype, int root, MPI_Comm comm,
                MPI_Request *request)
{
    SF_MPI_ENTER();
    return bcast_impl("MPI_Ibcast", buffer, count, datatype, root, comm, request, true);
}
SF_MPI_ALIAS(Ibcast);

/* Reductions to all or one (reduce, allreduce, scan, exscan) through a job. */
static int red_impl(const char *fn, enum sf_coll_kind kind, const void *sendbuf, void *recvbuf,
                    int count, MPI_Datatype datatype, MPI_Op op, int root, MPI_Comm comm,
                    MPI_Request *req, bool nb)
{
    int err = chk_coll(fn, comm);
    if (!err) {
        err = chk_req(fn, comm, req, nb);
    }
    if (!err && comm->is_inter && (kind == SF_COLL_SCAN || kind == SF_COLL_EXSCAN)) {
        return sf_mpi__raise(comm, MPI_ERR_COMM, fn, "not defined on an inter-communicator (%s)",
                             sf_mpi__comm_name(comm));
    }
    bool rooted = kind == SF_COLL_REDUCE;
    if (!err && rooted) {
        err = chk_root(fn, comm, root);
    }
    bool in_place = sendbuf == MPI_IN_PLACE;
    bool has_out = !rooted || is_root(comm, root);
    /* Inter-communicator reduce: only the other group's members send. */
    bool has_in = !comm->is_inter || !rooted || root >= 0;
    if (!err && in_place && comm->is_inter) {
        err = no_in_place(fn, comm);
    }
    if (!err && in_place && !has_out) {
        err = sf_mpi__raise(comm, MPI_ERR_BUFFER, fn, "MPI_IN_PLACE is only valid at the root");
    }
    if (!err && !in_place && has_in) {
        err = sf_mpi__chk_buf(fn, comm, sendbuf, count, datatype);
    }
    if (!err && has_out) {
        err = sf_mpi__chk_buf(fn, comm, recvbuf, count, datatype);
    }
    struct sf_mpi_cjob *j = NULL;
    size_t mult = 1;
    if (!err) {
        j = job_new();
        if (j == NULL) {
            return no_mem(fn, comm);
        }
        err = make_op(fn, comm, op, datatype, &j->ctx, &j->sop, &mult);
    }
    if (err) {
        free(j);
        return err;
    }
    j->a.kind = kind;
    j->a.root = coll_root(comm, root);
    j->a.op = &j->sop;
    j->a.n = (size_t)count * mult;
    size_t c = (size_t)count;
    j->a.sbuf = in_place || !has_in ? NULL : job_red(j, datatype, c, 0, (void *)sendbuf);
    /* exscan leaves rank 0's recvbuf alone */
    bool out = has_out && !(kind == SF_COLL_EXSCAN && comm->rank == 0);
    j->a.rbuf = has_out ? job_red(j, datatype, in_place ? c : 0, out ? c : 0, recvbuf) : NULL;
    return go(fn, comm, j, req);
}

int PMPI_Ireduce(const void *sendbuf, void *recvbuf, int count, MPI_Datatype datatype, MPI_Op op,
                 int root, MPI_Comm comm, MPI_Request *request)
{
    SF_MPI_ENTER();
    return red_impl("MPI_Ireduce", SF_COLL_REDUCE, sendbuf, recvbuf, count, datatype, op, root,
                    comm, request, true);
}
SF_MPI_ALIAS(Ireduce);

int PMPI_Iallreduce(const void *sendbuf, void *recvbuf, int count, MPI_Datatype datatype, MPI_Op op,
                    MPI_Comm comm, MPI_Request *request)
{
    SF_MPI_ENTER();
    return red_impl("MPI_Iallreduce", SF_COLL_ALLREDUCE, sendbuf, recvbuf, count, datatype, op, 0,
                    comm, request, true);
}
SF_MPI_ALIAS(Iallreduce);

int PMPI_Scan(const void *sendbuf, void *recvbuf, int count, MPI_Datatype datatype, MPI_Op op,
              MPI_Comm comm)
{
    SF_MPI_ENTER();
    return red_impl("MPI_Scan", SF_COLL_SCAN, sendbuf, recvbuf, count, datatype, op, 0, comm, NULL,
                    false);
}
SF_MPI_ALIAS(Scan);

int PMPI_Iscan(const void *sendbuf, void *recvbuf, int count, MPI_Datatype datatype, MPI_Op op,
               MPI_Comm comm, MPI_Request *request)
{
    SF_MPI_ENTER();
    return red_impl("MPI_Iscan", SF_COLL_SCAN, sendbuf, recvbuf, count, datatype, op, 0, comm,
                    request, true);
}
SF_MPI_ALIAS(Iscan);

int PMPI_Exscan(const void *sendbuf, void *recvbuf, int count, MPI_Datatype datatype, MPI_Op op,
                MPI_Comm comm)
{
    SF_MPI_ENTER();
    return red_impl("MPI_Exscan", SF_COLL_EXSCAN, sendbuf, recvbuf, count, datatype, op, 0, comm,
                    NULL, false);
}
SF_MPI_ALIAS(Exscan);

int PMPI_Iexscan(const void *sendbuf, void *recvbuf, int count, MPI_Datatype datatype, MPI_Op op,
                 MPI_Comm comm, MPI_Request *request)
{
    SF_MPI_ENTER();
    return red_impl("MPI_Iexscan", SF_COLL_EXSCAN, sendbuf, recvbuf, count, datatype, op, 0, comm,
                    request, true);
}
SF_MPI_ALIAS(Iexscan);

/* reduce_scatter (recvcounts) and reduce_scatter_block (recvcounts NULL,
 * recvcount each). */
static int rs_impl(const char *fn, const void *sendbuf, void *recvbuf, const int recvcounts[],
                   int recvcount, MPI_Datatype datatype, MPI_Op op, MPI_Comm comm, MPI_Request *req,
                   bool nb)
{
    int err = chk_coll(fn, comm);
    if (err) {
        return err;
    }
    /* recvcounts covers the local group (on an inter-communicator the
     * results come from the remote group's data). */
    int p = comm->is_inter ? comm->local_size : comm->size, me = comm->rank;
    err = chk_req(fn, comm, req, nb);
    if (!err && comm->is_inter && sendbuf == MPI_IN_PLACE) {
        err = no_in_place(fn, comm);
    }
    if (!err && recvcounts != NULL) {
        err = chk_counts(fn, comm, recvcounts, NULL, p, false);
    }
    size_t total = 0;
    if (!err) {
        for (int i = 0; i < p; i++) {
            total += (size_t)(recvcounts != NULL ? recvcounts[i] : recvcount);
        }
        if (total > INT_MAX) {
            err = sf_mpi__raise(comm, MPI_ERR_COUNT, fn, "%zu elements in total", total);
        }
    }
    int mine = recvcounts != NULL ? (err ? 0 : recvcounts[me]) : recvcount;
    bool in_place = sendbuf == MPI_IN_PLACE;
    if (!err && !in_place) {
        err = sf_mpi__chk_buf(fn, comm, sendbuf, (int)total, datatype);
    }
    if (!err) {
        err = sf_mpi__chk_buf(fn, comm, recvbuf, in_place ? (int)total : mine, datatype);
    }
    struct sf_mpi_cjob *j = NULL;
    size_t mult = 1;
    if (!err) {
        j = job_new();
        if (j == NULL) {
            return no_mem(fn, comm);
        }
        err = make_op(fn, comm, op, datatype, &j->ctx, &j->sop, &mult);
    }
    if (err) {
        free(j);
        return err;
    }
    j->a.op = &j->sop;
    if (recvcounts != NULL) {
        size_t *rc = job_alloc(j, sizeof(size_t) * (size_t)p);
        for (int i = 0; rc != NULL && i < p; i++) {
            rc[i] = (size_t)recvcounts[i] * mult;
        }
        j->a.kind = SF_COLL_REDUCE_SCATTER;
        j->a.rcounts = rc;
    } else {
        j->a.kind = SF_COLL_REDUCE_SCATTER_BLOCK;
        j->a.n = (size_t)recvcount * mult;
    }
    j->a.sbuf = in_place ? NULL : job_red(j, datatype, total, 0, (void *)sendbuf);
    j->a.rbuf = job_red(j, datatype, in_place ? total : 0, (size_t)mine, recvbuf);
    return go(fn, comm, j, req);
}

int PMPI_Reduce_scatter(const void *sendbuf, void *recvbuf, const int recvcounts[],
                        MPI_Datatype datatype, MPI_Op op, MPI_Comm comm)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Reduce_scatter";
    if (recvcounts == NULL) {
        return sf_mpi__raise(comm, MPI_ERR_ARG, fn, "recvcounts is NULL");
    }
    return rs_impl(fn, sendbuf, recvbuf, recvcounts, 0, datatype, op, comm, NULL, false);
}
SF_MPI_ALIAS(Reduce_scatter);

int PMPI_Ireduce_scatter(const void *sendbuf, void *recvbuf, const int recvcounts[],
                         MPI_Datatype datatype, MPI_Op op, MPI_Comm comm, MPI_Request *request)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Ireduce_scatter";
    if (recvcounts == NULL) {
        return sf_mpi__raise(comm, MPI_ERR_ARG, fn, "recvcounts is NULL");
    }
    return rs_impl(fn, sendbuf, recvbuf, recvcounts, 0, datatype, op, comm, request, true);
}
SF_MPI_ALIAS(Ireduce_scatter);

int PMPI_Reduce_scatter_block(const void *sendbuf, void *recvbuf, int recvcount,
                              MPI_Datatype datatype, MPI_Op op, MPI_Comm comm)
{
    SF_MPI_ENTER();
    return rs_impl("MPI_Reduce_scatter_block", sendbuf, recvbuf, NULL, recvcount, datatype, op,
                   comm, NULL, false);
}
SF_MPI_ALIAS(Reduce_scatter_block);

int PMPI_Ireduce_scatter_block(const void *sendbuf, void *recvbuf, int recvcount,
                               MPI_Datatype datatype, MPI_Op op, MPI_Comm comm,
                               MPI_Request *request)
{
    SF_MPI_ENTER();
    return rs_impl("MPI_Ireduce_scatter_block", sendbuf, recvbuf, NULL, recvcount, datatype, op,
                   comm, request, true);
}
SF_MPI_ALIAS(Ireduce_scatter_block);

/* gather (recvcounts NULL) and gatherv */
static int gather_impl(const char *fn, const void *sendbuf, int sendcount, MPI_Datatype sendtype,
                       void *recvbuf, int recvcount, const int *recvcounts, const int *displs,
                       MPI_Datatype recvtype, int root, MPI_Comm comm, MPI_Request *req, bool nb)
{
    int err = chk_coll(fn, comm);
    if (!err) {
        err = chk_req(fn, comm, req, nb);
    }
    if (!err) {
        err = chk_root(fn, comm, root);
    }
    if (err) {
        return err;
    }
    /* On an inter-communicator p is the remote group's size: the root
     * receives from each of its members. */
    int p = comm->size, me = comm->rank;
    bool at_root = is_root(comm, root), in_place = sendbuf == MPI_IN_PLACE, v = displs != NULL;
    bool sends = !comm->is_inter || root >= 0;
    if (in_place && comm->is_inter) {
        err = no_in_place(fn, comm);
    } else if (in_place && !at_root) {
        err = sf_mpi__raise(comm, MPI_ERR_BUFFER, fn, "MPI_IN_PLACE is only valid at the root");
    }
    if (!err && !in_place && sends) {
        err = sf_mpi__chk_buf(fn, comm, sendbuf, sendcount, sendtype);
    }
    if (!err && at_root && v) {
        err = chk_counts(fn, comm, recvcounts, displs, p, true);
        if (!err) {
            err = sf_mpi__chk_type(fn, comm, recvtype);
        }
    } else if (!err && at_root) {
        err = sf_mpi__chk_buf(fn, comm, recvbuf, recvcount, recvtype);
    }
    size_t sbytes = in_place || !sends ? 0 : sf_mpi__type_bytes(sendtype, sendcount);
    size_t rbytes = 0;
    if (!err && at_root && comm->is_inter) {
        rbytes = v ? 0 : sf_mpi__type_bytes(recvtype, recvcount);
    } else if (!err && at_root) {
        rbytes = sf_mpi__type_bytes(recvtype, v ? recvcounts[me] : recvcount);
        if (!in_place) {
            err = chk_match(fn, comm, sbytes, rbytes);
        }
    }
    if (err) {
        return err;
    }
    struct sf_mpi_cjob *j = job_new();
    if (j == NULL) {
        return no_mem(fn, comm);
    }
    j->a.root = coll_root(comm, root);
    j->a.sbuf = in_place || !sends ? NULL : job_send(j, sendtype, (size_t)sendcount, sendbuf);
    if (!v) {
        j->a.kind = SF_COLL_GATHER;
        j->a.n = at_root ? rbytes : sbytes;
        if (at_root) {
            j->a.rbuf =
                job_recv(j, recvtype, (size_t)recvcount * (size_t)p, recvbuf, in_place, true);
        }
        return go(fn, comm, j, req);
    }
    j->a.kind = SF_COLL_GATHERV;
    j->a.n = at_root ? rbytes : sbytes;
    if (at_root) {
        void **rp = job_alloc(j, sizeof(void *) * (size_t)p);
        size_t *rc = job_alloc(j, sizeof(size_t) * (size_t)p);
        for (int i = 0; rp != NULL && rc != NULL && i < p; i++) {
            rc[i] = sf_mpi__type_bytes(recvtype, recvcounts[i]);
            rp[i] = job_recv(j, recvtype, (size_t)recvcounts[i],
                             (char *)recvbuf + (MPI_Aint)displs[i] * recvtype->extent,
                             in_place && i == me, true);
        }
        j->a.rptr = rp;
        j->a.rcounts = rc;
    }
    return go(fn, comm, j, req);
}

/* Gatherv/scatterv: the root's displacement array must be there. */
static bool root_displs_missing(MPI_Comm comm, int root, const int *displs)
{
    return displs == NULL && sf_mpi__comm_ok(comm) && !comm->is_null && is_root(comm, root);
}

int PMPI_Gather(const void *sendbuf, int sendcount, MPI_Datatype sendtype, void *recvbuf,
                int recvcount, MPI_Datatype recvtype, int root, MPI_Comm comm)
{
    SF_MPI_ENTER();
    return gather_impl("MPI_Gather", sendbuf, sendcount, sendtype, recvbuf, recvcount, NULL, NULL,
                       recvtype, root, comm, NULL, false);
}
SF_MPI_ALIAS(Gather);

int PMPI_Igather(const void *sendbuf, int sendcount, MPI_Datatype sendtype, void *recvbuf,
                 int recvcount, MPI_Datatype recvtype, int root, MPI_Comm comm,
                 MPI_Request *request)
{
    SF_MPI_ENTER();
    return gather_impl("MPI_Igather", sendbuf, sendcount, sendtype, recvbuf, recvcount, NULL, NULL,
                       recvtype, root, comm, request, true);
}
SF_MPI_ALIAS(Igather);

int PMPI_Gatherv(const void *sendbuf, int sendcount, MPI_Datatype sendtype, void *recvbuf,
                 const int recvcounts[], const int displs[], MPI_Datatype recvtype, int root,
                 MPI_Comm comm)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Gatherv";
    if (root_displs_missing(comm, root, displs)) {
        return sf_mpi__raise(comm, MPI_ERR_ARG, fn, "displs is NULL");
    }
    static const int none[1];
    return gather_impl(fn, sendbuf, sendcount, sendtype, recvbuf, 0, recvcounts,
                       displs != NULL ? displs : none, recvtype, root, comm, NULL, false);
}
SF_MPI_ALIAS(Gatherv);

int PMPI_Igatherv(const void *sendbuf, int sendcount, MPI_Datatype sendtype, void *recvbuf,
                  const int recvcounts[], const int displs[], MPI_Datatype recvtype, int root,
                  MPI_Comm comm, MPI_Request *request)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Igatherv";
    if (root_displs_missing(comm, root, displs)) {
        return sf_mpi__raise(comm, MPI_ERR_ARG, fn, "displs is NULL");
    }
    static const int none[1];
    return gather_impl(fn, sendbuf, sendcount, sendtype, recvbuf, 0, recvcounts,
                       displs != NULL ? displs : none, recvtype, root, comm, request, true);
}
SF_MPI_ALIAS(Igatherv);

/* scatter (sendcounts NULL) and scatterv */
static int scatter_impl(const char *fn, const void *sendbuf, int sendcount, const int *sendcounts,
                        const int *displs, MPI_Datatype sendtype, void *recvbuf, int recvcount,
                        MPI_Datatype recvtype, int root, MPI_Comm comm, MPI_Request *req, bool nb)
{
    int err = chk_coll(fn, comm);
    if (!err) {
        err = chk_req(fn, comm, req, nb);
    }
    if (!err) {
        err = chk_root(fn, comm, root);
    }
    if (err) {
        return err;
    }
    int p = comm->size, me = comm->rank; /* inter: the remote group's size */
    bool at_root = is_root(comm, root), in_place = recvbuf == MPI_IN_PLACE, v = displs != NULL;
    bool recvs = !comm->is_inter || root >= 0;
    if (in_place && comm->is_inter) {
        err = no_in_place(fn, comm);
    } else if (in_place && !at_root) {
        err = sf_mpi__raise(comm, MPI_ERR_BUFFER, fn, "MPI_IN_PLACE is only valid at the root");
    }
    if (!err && at_root && v) {
        err = chk_counts(fn, comm, sendcounts, displs, p, true);
        if (!err) {
            err = sf_mpi__chk_type(fn, comm, sendtype);
        }
    } else if (!err && at_root) {
        err = sf_mpi__chk_buf(fn, comm, sendbuf, sendcount, sendtype);
    }
    if (!err && !in_place && recvs) {
        err = sf_mpi__chk_buf(fn, comm, recvbuf, recvcount, recvtype);
    }
    size_t rbytes = in_place || !recvs ? 0 : sf_mpi__type_bytes(recvtype, recvcount);
    size_t sbytes = 0;
    if (!err && at_root && comm->is_inter) {
        sbytes = v ? 0 : sf_mpi__type_bytes(sendtype, sendcount);
    } else if (!err && at_root) {
        sbytes = sf_mpi__type_bytes(sendtype, v ? sendcounts[me] : sendcount);
        if (!in_place) {
            err = chk_match(fn, comm, sbytes, rbytes);
        }
    }
    if (err) {
        return err;
    }
    struct sf_mpi_cjob *j = job_new();
    if (j == NULL) {
        return no_mem(fn, comm);
    }
    j->a.root = coll_root(comm, root);
    j->a.n = at_root ? sbytes : rbytes;
    j->a.rbuf =
        in_place || !recvs ? NULL : job_recv(j, recvtype, (size_t)recvcount, recvbuf, false, true);
    if (!v) {
        j->a.kind = SF_COLL_SCATTER;
        if (at_root) {
            j->a.sbuf = job_send(j, sendtype, (size_t)sendcount * (size_t)p, sendbuf);
        }
        return go(fn, comm, j, req);
    }
    j->a.kind = SF_COLL_SCATTERV;
    if (at_root) {
        const void **sp = job_alloc(j, sizeof(void *) * (size_t)p);
        size_t *sc = job_alloc(j, sizeof(size_t) * (size_t)p);
        for (int i = 0; sp != NULL && sc != NULL && i < p; i++) {
            sc[i] = sf_mpi__type_bytes(sendtype, sendcounts[i]);
            sp[i] = job_send(j, sendtype, (size_t)sendcounts[i],
                             (const char *)sendbuf + (MPI_Aint)displs[i] * sendtype->extent);
        }
        j->a.sptr = sp;
        j->a.scounts = sc;
    }
    return go(fn, comm, j, req);
}

int PMPI_Scatter(const void *sendbuf, int sendcount, MPI_Datatype sendtype, void *recvbuf,
                 int recvcount, MPI_Datatype recvtype, int root, MPI_Comm comm)
{
    SF_MPI_ENTER();
    return scatter_impl("MPI_Scatter", sendbuf, sendcount, NULL, NULL, sendtype, recvbuf, recvcount,
                        recvtype, root, comm, NULL, false);
}
SF_MPI_ALIAS(Scatter);

int PMPI_Iscatter(const void *sendbuf, int sendcount, MPI_Datatype sendtype, void *recvbuf,
                  int recvcount, MPI_Datatype recvtype, int root, MPI_Comm comm,
                  MPI_Request *request)
{
    SF_MPI_ENTER();
    return scatter_impl("MPI_Iscatter", sendbuf, sendcount, NULL, NULL, sendtype, recvbuf,
                        recvcount, recvtype, root, comm, request, true);
}
SF_MPI_ALIAS(Iscatter);

int PMPI_Scatterv(const void *sendbuf, const int sendcounts[], const int displs[],
                  MPI_Datatype sendtype, void *recvbuf, int recvcount, MPI_Datatype recvtype,
                  int root, MPI_Comm comm)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Scatterv";
    if (root_displs_missing(comm, root, displs)) {
        return sf_mpi__raise(comm, MPI_ERR_ARG, fn, "displs is NULL");
    }
    static const int none[1];
    return scatter_impl(fn, sendbuf, 0, sendcounts, displs != NULL ? displs : none, sendtype,
                        recvbuf, recvcount, recvtype, root, comm, NULL, false);
}
SF_MPI_ALIAS(Scatterv);

int PMPI_Iscatterv(const void *sendbuf, const int sendcounts[], const int displs[],
                   MPI_Datatype sendtype, void *recvbuf, int recvcount, MPI_Datatype recvtype,
                   int root, MPI_Comm comm, MPI_Request *request)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Iscatterv";
    if (root_displs_missing(comm, root, displs)) {
        return sf_mpi__raise(comm, MPI_ERR_ARG, fn, "displs is NULL");
    }
    static const int none[1];
    return scatter_impl(fn, sendbuf, 0, sendcounts, displs != NULL ? displs : none, sendtype,
                        recvbuf, recvcount, recvtype, root, comm, request, true);
}
SF_MPI_ALIAS(Iscatterv);

/* allgather (recvcounts NULL) and allgatherv */
static int allgather_impl(const char *fn, const void *sendbuf, int sendcount, MPI_Datatype sendtype,
                          void *recvbuf, int recvcount, const int *recvcounts, const int *displs,
                          MPI_Datatype recvtype, MPI_Comm comm, MPI_Request *req, bool nb)
{
    int err = chk_coll(fn, comm);
    if (!err) {
        err = chk_req(fn, comm, req, nb);
    }
    if (err) {
        return err;
    }
    int p = comm->size, me = comm->rank; /* inter: blocks of the remote group */
    bool in_place = sendbuf == MPI_IN_PLACE, v = recvcounts != NULL || displs != NULL;
    if (in_place && comm->is_inter) {
        return no_in_place(fn, comm);
    }
    if (!in_place) {
        err = sf_mpi__chk_buf(fn, comm, sendbuf, sendcount, sendtype);
    }
    if (!err && v) {
        err = chk_counts(fn, comm, recvcounts, displs, p, true);
        if (!err) {
            err = sf_mpi__chk_type(fn, comm, recvtype);
        }
    } else if (!err) {
        err = sf_mpi__chk_buf(fn, comm, recvbuf, recvcount, recvtype);
    }
    size_t rbytes = 0;
    if (!err && comm->is_inter) {
        rbytes = v ? 0 : sf_mpi__type_bytes(recvtype, recvcount);
    } else if (!err) {
        rbytes = sf_mpi__type_bytes(recvtype, v ? recvcounts[me] : recvcount);
        if (!in_place) {
            err = chk_match(fn, comm, sf_mpi__type_bytes(sendtype, sendcount), rbytes);
        }
    }
    if (err) {
        return err;
    }
    struct sf_mpi_cjob *j = job_new();
    if (j == NULL) {
        return no_mem(fn, comm);
    }
    j->a.sbuf = in_place ? NULL : job_send(j, sendtype, (size_t)sendcount, sendbuf);
    if (comm->is_inter && !v) {
        /* The groups' block sizes may differ: always the v form. */
        j->a.kind = SF_COLL_ALLGATHERV;
        j->a.n = sf_mpi__type_bytes(sendtype, sendcount);
        char *base = job_recv(j, recvtype, (size_t)recvcount * (size_t)p, recvbuf, false, true);
        void **rp = job_alloc(j, sizeof(void *) * (size_t)p);
        size_t *rc = job_alloc(j, sizeof(size_t) * (size_t)p);
        for (int i = 0; !j->oom && i < p; i++) {
            rc[i] = rbytes;
            rp[i] = base + (size_t)i * rbytes;
        }
        j->a.rptr = rp;
        j->a.rcounts = rc;
        return go(fn, comm, j, req);
    }
    if (!v) {
        j->a.kind = SF_COLL_ALLGATHER;
        j->a.n = rbytes;
        j->a.rbuf = job_recv(j, recvtype, (size_t)recvcount * (size_t)p, recvbuf, in_place, true);
        return go(fn, comm, j, req);
    }
    j->a.kind = SF_COLL_ALLGATHERV;
    j->a.n = sf_mpi__type_bytes(sendtype, sendcount); /* read by the inter-communicator form */
    void **rp = job_alloc(j, sizeof(void *) * (size_t)p);
    size_t *rc = job_alloc(j, sizeof(size_t) * (size_t)p);
    for (int i = 0; rp != NULL && rc != NULL && i < p; i++) {
        rc[i] = sf_mpi__type_bytes(recvtype, recvcounts[i]);
        rp[i] = job_recv(j, recvtype, (size_t)recvcounts[i],
                         (char *)recvbuf + (MPI_Aint)displs[i] * recvtype->extent,
                         in_place && i == me, true);
    }
    j->a.rptr = rp;
    j->a.rcounts = rc;
    return go(fn, comm, j, req);
}

int PMPI_Allgather(const void *sendbuf, int sendcount, MPI_Datatype sendtype, void *recvbuf,
                   int recvcount, MPI_Datatype recvtype, MPI_Comm comm)
{
    SF_MPI_ENTER();
    return allgather_impl("MPI_Allgather", sendbuf, sendcount, sendtype, recvbuf, recvcount, NULL,
                          NULL, recvtype, comm, NULL, false);
}
SF_MPI_ALIAS(Allgather);

int PMPI_Iallgather(const void *sendbuf, int sendcount, MPI_Datatype sendtype, void *recvbuf,
                    int recvcount, MPI_Datatype recvtype, MPI_Comm comm, MPI_Request *request)
{
    SF_MPI_ENTER();
    return allgather_impl("MPI_Iallgather", sendbuf, sendcount, sendtype, recvbuf, recvcount, NULL,
                          NULL, recvtype, comm, request, true);
}
SF_MPI_ALIAS(Iallgather);

int PMPI_Allgatherv(const void *sendbuf, int sendcount, MPI_Datatype sendtype, void *recvbuf,
                    const int recvcounts[], const int displs[], MPI_Datatype recvtype,
                    MPI_Comm comm)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Allgatherv";
    if (recvcounts == NULL || displs == NULL) {
        return sf_mpi__raise(comm, MPI_ERR_ARG, fn, "recvcounts or displs is NULL");
    }
    return allgather_impl(fn, sendbuf, sendcount, sendtype, recvbuf, 0, recvcounts, displs,
                          recvtype, comm, NULL, false);
}
SF_MPI_ALIAS(Allgatherv);

int PMPI_Iallgatherv(const void *sendbuf, int sendcount, MPI_Datatype sendtype, void *recvbuf,
                     const int recvcounts[], const int displs[], MPI_Datatype recvtype,
                     MPI_Comm comm, MPI_Request *request)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Iallgatherv";
    if (recvcounts == NULL || displs == NULL) {
        return sf_mpi__raise(comm, MPI_ERR_ARG, fn, "recvcounts or displs is NULL");
    }
    return allgather_impl(fn, sendbuf, sendcount, sendtype, recvbuf, 0, recvcounts, displs,
                          recvtype, comm, request, true);
}
SF_MPI_ALIAS(Iallgatherv);

static int alltoall_impl(const char *fn, const void *sendbuf, int sendcount, MPI_Datatype sendtype,
                         void *recvbuf, int recvcount, MPI_Datatype recvtype, MPI_Comm comm,
                         MPI_Request *req, bool nb)
{
    int err = chk_coll(fn, comm);
    if (!err) {
        err = chk_req(fn, comm, req, nb);
    }
    bool in_place = sendbuf == MPI_IN_PLACE;
    if (!err && !in_place) {
        err = sf_mpi__chk_buf(fn, comm, sendbuf, sendcount, sendtype);
    }
    if (!err) {
        err = sf_mpi__chk_buf(fn, comm, recvbuf, recvcount, recvtype);
    }
    size_t rbytes = err ? 0 : sf_mpi__type_bytes(recvtype, recvcount);
    if (!err && in_place && comm->is_inter) {
        err = no_in_place(fn, comm);
    }
    if (!err && !in_place && !comm->is_inter) {
        err = chk_match(fn, comm, sf_mpi__type_bytes(sendtype, sendcount), rbytes);
    }
    if (err) {
        return err;
    }
    size_t p = (size_t)comm->size; /* inter: the remote group */
    struct sf_mpi_cjob *j = job_new();
    if (j == NULL) {
        return no_mem(fn, comm);
    }
    if (comm->is_inter) {
        /* Send and receive blocks may differ in size: the v form. */
        size_t sbytes = sf_mpi__type_bytes(sendtype, sendcount);
        const char *sb = job_send(j, sendtype, (size_t)sendcount * p, sendbuf);
        char *rb = job_recv(j, recvtype, (size_t)recvcount * p, recvbuf, false, true);
        const void **sp = job_alloc(j, sizeof(void *) * p);
        void **rp = job_alloc(j, sizeof(void *) * p);
        size_t *sc = job_alloc(j, sizeof(size_t) * p);
        size_t *rc = job_alloc(j, sizeof(size_t) * p);
        for (size_t i = 0; !j->oom && i < p; i++) {
            sp[i] = sb + i * sbytes;
            sc[i] = sbytes;
            rp[i] = rb + i * rbytes;
            rc[i] = rbytes;
        }
        j->a.kind = SF_COLL_ALLTOALLV;
        j->a.sptr = sp;
        j->a.scounts = sc;
        j->a.rptr = rp;
        j->a.rcounts = rc;
        return go(fn, comm, j, req);
    }
    j->a.kind = SF_COLL_ALLTOALL;
    j->a.n = rbytes;
    j->a.sbuf = in_place ? NULL : job_send(j, sendtype, (size_t)sendcount * p, sendbuf);
    j->a.rbuf = job_recv(j, recvtype, (size_t)recvcount * p, recvbuf, in_place, true);
    return go(fn, comm, j, req);
}

int PMPI_Alltoall(const void *sendbuf, int sendcount, MPI_Datatype sendtype, void *recvbuf,
                  int recvcount, MPI_Datatype recvtype, MPI_Comm comm)
{
    SF_MPI_ENTER();
    return alltoall_impl("MPI_Alltoall", sendbuf, sendcount, sendtype, recvbuf, recvcount, recvtype,
                         comm, NULL, false);
}
SF_MPI_ALIAS(Alltoall);

int PMPI_Ialltoall(const void *sendbuf, int sendcount, MPI_Datatype sendtype, void *recvbuf,
                   int recvcount, MPI_Datatype recvtype, MPI_Comm comm, MPI_Request *request)
{
    SF_MPI_ENTER();
    return alltoall_impl("MPI_Ialltoall", sendbuf, sendcount, sendtype, recvbuf, recvcount,
                         recvtype, comm, request, true);
}
SF_MPI_ALIAS(Ialltoall);

/* alltoallv (one type per side, displacements in extents) and alltoallw
 * (a type per block, displacements in bytes). */
static int alltoallw_impl(const char *fn, const void *sendbuf, const int sendcounts[],
                          const int sdispls[], const MPI_Datatype *stypes, MPI_Datatype stype,
                          void *recvbuf, const int recvcounts[], const int rdispls[],
                          const MPI_Datatype *rtypes, MPI_Datatype rtype, MPI_Comm comm,
                          MPI_Request *req, bool nb)
{
    int err = chk_coll(fn, comm);
    if (!err) {
        err = chk_req(fn, comm, req, nb);
    }
    if (err) {
        return err;
    }
    int p = comm->size, me = comm->rank;
    bool in_place = sendbuf == MPI_IN_PLACE, w = rtypes != NULL;
    if (!in_place) {
        err = chk_counts(fn, comm, sendcounts, sdispls, p, true);
    }
    if (!err) {
        err = chk_counts(fn, comm, recvcounts, rdispls, p, true);
    }
    if (!err && w && ((!in_place && stypes == NULL))) {
        err = sf_mpi__raise(comm, MPI_ERR_ARG, fn, "sendtypes is NULL");
    }
    for (int i = 0; !err && i < p; i++) {
        if (!in_place) {
            err = sf_mpi__chk_type(fn, comm, w ? stypes[i] : stype);
        }
        if (!err) {
            err = sf_mpi__chk_type(fn, comm, w ? rtypes[i] : rtype);
        }
    }
    if (!err && in_place && comm->is_inter) {
        err = no_in_place(fn, comm);
    }
    if (!err && !in_place && !comm->is_inter) {
        MPI_Datatype st = w ? stypes[me] : stype, rt = w ? rtypes[me] : rtype;
        err = chk_match(fn, comm, sf_mpi__type_bytes(st, sendcounts[me]),
                        sf_mpi__type_bytes(rt, recvcounts[me]));
    }
    if (err) {
        return err;
    }
    struct sf_mpi_cjob *j = job_new();
    if (j == NULL) {
        return no_mem(fn, comm);
    }
    j->a.kind = SF_COLL_ALLTOALLV;
    void **rp = job_alloc(j, sizeof(void *) * (size_t)p);
    size_t *rc = job_alloc(j, sizeof(size_t) * (size_t)p);
    const void **sp = in_place ? NULL : job_alloc(j, sizeof(void *) * (size_t)p);
    size_t *sc = in_place ? NULL : job_alloc(j, sizeof(size_t) * (size_t)p);
    if (j->oom) {
        return go(fn, comm, j, req);
    }
    for (int i = 0; i < p; i++) {
        MPI_Datatype rt = w ? rtypes[i] : rtype;
        MPI_Aint roff = w ? rdispls[i] : (MPI_Aint)rdispls[i] * rt->extent;
        rc[i] = sf_mpi__type_bytes(rt, recvcounts[i]);
        rp[i] = job_recv(j, rt, (size_t)recvcounts[i], (char *)recvbuf + roff, in_place, true);
        if (!in_place) {
            MPI_Datatype st = w ? stypes[i] : stype;
            MPI_Aint soff = w ? sdispls[i] : (MPI_Aint)sdispls[i] * st->extent;
            sc[i] = sf_mpi__type_bytes(st, sendcounts[i]);
            sp[i] = job_send(j, st, (size_t)sendcounts[i], (const char *)sendbuf + soff);
        }
    }
    j->a.rptr = rp;
    j->a.rcounts = rc;
    j->a.sptr = sp;
    j->a.scounts = sc;
    return go(fn, comm, j, req);
}

int PMPI_Alltoallv(const void *sendbuf, const int sendcounts[], const int sdispls[],
                   MPI_Datatype sendtype, void *recvbuf, const int recvcounts[],
                   const int rdispls[], MPI_Datatype recvtype, MPI_Comm comm)
{
    SF_MPI_ENTER();
    return alltoallw_impl("MPI_Alltoallv", sendbuf, sendcounts, sdispls, NULL, sendtype, recvbuf,
                          recvcounts, rdispls, NULL, recvtype, comm, NULL, false);
}
SF_MPI_ALIAS(Alltoallv);

int PMPI_Ialltoallv(const void *sendbuf, const int sendcounts[], const int sdispls[],
                    MPI_Datatype sendtype, void *recvbuf, const int recvcounts[],
                    const int rdispls[], MPI_Datatype recvtype, MPI_Comm comm, MPI_Request *request)
{
    SF_MPI_ENTER();
    return alltoallw_impl("MPI_Ialltoallv", sendbuf, sendcounts, sdispls, NULL, sendtype, recvbuf,
                          recvcounts, rdispls, NULL, recvtype, comm, request, true);
}
SF_MPI_ALIAS(Ialltoallv);

int PMPI_Alltoallw(const void *sendbuf, const int sendcounts[], const int sdispls[],
                   const MPI_Datatype sendtypes[], void *recvbuf, const int recvcounts[],
                   const int rdispls[], const MPI_Datatype recvtypes[], MPI_Comm comm)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Alltoallw";
    if (recvtypes == NULL) {
        return sf_mpi__raise(comm, MPI_ERR_ARG, fn, "recvtypes is NULL");
    }
    return alltoallw_impl(fn, sendbuf, sendcounts, sdispls, sendtypes, NULL, recvbuf, recvcounts,
                          rdispls, recvtypes, NULL, comm, NULL, false);
}
SF_MPI_ALIAS(Alltoallw);

int PMPI_Ialltoallw(const void *sendbuf, const int sendcounts[], const int sdispls[],
                    const MPI_Datatype sendtypes[], void *recvbuf, const int recvcounts[],
                    const int rdispls[], const MPI_Datatype recvtypes[], MPI_Comm comm,
                    MPI_Request *request)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Ialltoallw";
    if (recvtypes == NULL) {
        return sf_mpi__raise(comm, MPI_ERR_ARG, fn, "recvtypes is NULL");
    }
    return alltoallw_impl(fn, sendbuf, sendcounts, sdispls, sendtypes, NULL, recvbuf, recvcounts,
                          rdispls, recvtypes, NULL, comm, request, true);
}
SF_MPI_ALIAS(Ialltoallw);

int PMPI_Barrier(MPI_Comm comm)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Barrier";
    struct sf_coll_comm ctmp;
    int err = chk_coll(fn, comm);
    if (err) {
        return err;
    }
    if (comm->is_inter) {
        struct sf_mpi_cjob *j = job_new();
        if (j == NULL) {
            return no_mem(fn, comm);
        }
        j->a.kind = SF_COLL_BARRIER;
        return go(fn, comm, j, NULL);
    }
    int rc = sf_coll_barrier(coll_of(comm, &ctmp));
    return rc < 0 ? sf_mpi__raise_rt(comm, rc, fn) : MPI_SUCCESS;
}
SF_MPI_ALIAS(Barrier);

int PMPI_Bcast(void *buffer, int count, MPI_Datatype datatype, int root, MPI_Comm comm)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Bcast";
    struct sf_coll_comm ctmp;
    if (sf_mpi__comm_ok(comm) && comm->is_inter) {
        return bcast_impl(fn, buffer, count, datatype, root, comm, NULL, false);
    }
    int err = chk_coll(fn, comm);
    if (!err) {
        err = sf_mpi__chk_buf(fn, comm, buffer, count, datatype);
    }
    if (!err) {
        err = sf_mpi__chk_root(fn, comm, root);
    }
    if (err) {
        return err;
    }
    /* A span goes as is; other layouts as packed bytes (the gaps of the
     * receivers' buffers must stay untouched). */
    size_t bytes = sf_mpi__type_bytes(datatype, count);
    if (sf_mpi__type_span(datatype, count)) {
        int rc =
            sf_coll_bcast(coll_of(comm, &ctmp), (char *)buffer + datatype->true_lb, bytes, root);
        return rc < 0 ? sf_mpi__raise_rt(comm, rc, fn) : MPI_SUCCESS;
    }
    /* Large layouts go in packed pieces of BCAST_PIECE bytes, so the
     * staging memory stays bounded; every rank cuts the same pieces (the
     * type signatures match, so bytes does). */
    enum { BCAST_PIECE = 1 << 20 };
    size_t piece = bytes > 4 * (size_t)BCAST_PIECE ? BCAST_PIECE : bytes;
    char *tmp = malloc(piece ? piece : 1);
    if (tmp == NULL) {
        return sf_mpi__raise(comm, MPI_ERR_NO_MEM, fn, "out of memory for %zu bytes", piece);
    }
    struct sf_dt_cursor cur;
    sf_mpi__dt_cursor(&cur, datatype, (size_t)count, buffer);
    int rc = 0;
    for (size_t off = 0; off < bytes && rc >= 0; off += piece) {
        size_t n = bytes - off < piece ? bytes - off : piece;
        if (comm->rank == root) {
            sf_mpi__dt_pack(&cur, tmp, n);
        }
        rc = sf_coll_bcast(coll_of(comm, &ctmp), tmp, n, root);
        if (rc >= 0 && comm->rank != root) {
            sf_mpi__dt_unpack(&cur, tmp, n);
        }
    }
    free(tmp);
    return rc < 0 ? sf_mpi__raise_rt(comm, rc, fn) : MPI_SUCCESS;
}
SF_MPI_ALIAS(Bcast);

int PMPI_Reduce(const void *sendbuf, void *recvbuf, int count, MPI_Datatype datatype, MPI_Op op,
                int root, MPI_Comm comm)
{
    SF_MPI_ENTER();
    return red_impl("MPI_Reduce", SF_COLL_REDUCE, sendbuf, recvbuf, count, datatype, op, root, comm,
                    NULL, false);
}
SF_MPI_ALIAS(Reduce);

int PMPI_Allreduce(const void *sendbuf, void *recvbuf, int count, MPI_Datatype datatype, MPI_Op op,
                   MPI_Comm comm)
{
    SF_MPI_ENTER();
    return red_impl("MPI_Allreduce", SF_COLL_ALLREDUCE, sendbuf, recvbuf, count, datatype, op, 0,
                    comm, NULL, false);
}
SF_MPI_ALIAS(Allreduce);

int PMPI_Reduce_local(const void *inbuf, void *inoutbuf, int count, MPI_Datatype datatype,
                      MPI_Op op)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Reduce_local";
    MPI_Comm comm = SF_COMM_WORLD;
    int err = sf_mpi__chk_init(fn);
    if (!err) {
        err = sf_mpi__chk_buf(fn, comm, inbuf, count, datatype);
    }
    if (!err) {
        err = sf_mpi__chk_buf(fn, comm, inoutbuf, count, datatype);
    }
    struct op_ctx ctx;
    struct sf_coll_op sop;
    size_t mult = 1;
    if (!err) {
        err = make_op(fn, comm, op, datatype, &ctx, &sop, &mult);
    }
    if (err) {
        return err;
    }
    struct red_stage st;
    if (stage_in(&st, &sop, datatype, count, inbuf, inoutbuf, true)) {
        return sf_mpi__raise(comm, MPI_ERR_NO_MEM, fn, "out of memory");
    }
    int rc = sop.fn(st.s, st.r, (size_t)count * mult, sop.arg);
    stage_out(&st, datatype, count, inoutbuf, rc >= 0);
    return rc < 0 ? sf_mpi__raise_rt(comm, rc, fn) : MPI_SUCCESS;
}
SF_MPI_ALIAS(Reduce_local);

int PMPI_Op_create(MPI_User_function *user_fn_, int commute, MPI_Op *op)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Op_create";
    int err = sf_mpi__chk_init(fn);
    if (err) {
        return err;
    }
    if (user_fn_ == NULL || op == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn, "function or op is NULL");
    }
    struct ompi_op_t *o = calloc(1, sizeof(*o));
    if (o == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_NO_MEM, fn, "out of memory");
    }
    o->magic = SF_MPI_MAGIC_OP;
    o->commute = commute != 0;
    o->kind = SF_OP_NULL;
    o->user_fn = user_fn_;
    snprintf(o->name, sizeof(o->name), "user operation");
    *op = o;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Op_create);

int PMPI_Op_free(MPI_Op *op)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Op_free";
    int err = sf_mpi__chk_init(fn);
    if (err) {
        return err;
    }
    if (op == NULL || !op_ok(*op)) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_OP, fn, "invalid operation");
    }
    if ((*op)->predefined) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_OP, fn, "cannot free predefined %s",
                             (*op)->name);
    }
    (*op)->magic = SF_MPI_MAGIC_DEAD;
    free(*op);
    *op = MPI_OP_NULL;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Op_free);

int PMPI_Op_commutative(MPI_Op op, int *commute)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Op_commutative";
    int err = sf_mpi__chk_init(fn);
    if (err) {
        return err;
    }
    if (!op_ok(op) || commute == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_OP, fn, "invalid operation");
    }
    *commute = op->commute;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Op_commutative);

/* ---- non-blocking neighbourhood collectives ----
 * One schedule round over the topology's neighbour lists, with the block
 * order of the blocking versions (mpi_topo.c). Cartesian topologies: a
 * process can be both neighbours in one dimension (periodic, 1 or 2
 * processes), and the block sent to the -1 neighbour must land in that
 * process's +1 slot. Receives from one peer match in posting order (slot
 * order), so each dimension's two blocks are sent in reverse order
 * (+1 first): the blocking version gets the same pairing from its tags.
 * Graph and distributed graph neighbours keep their listed order on both
 * sides (MPI-3.1 7.6), which pairs duplicate edges in order. */
struct nbr_blocks {
    const void *buf;
    bool v, w;         /* per-block counts and displacements / types expected */
    const int *counts; /* v: per block; else 'count' each */
    int count;
    const MPI_Aint *bdispl;    /* w: byte displacements */
    const int *displ;          /* v (not w): displacements in extents of 'type' */
    const MPI_Datatype *types; /* w: per block; else 'type' */
    MPI_Datatype type;
    bool same; /* allgather's send side: one block for every neighbour */
};

static void nbr_block(const struct nbr_blocks *b, int i, const char **p, int *count,
                      MPI_Datatype *t)
{
    *t = b->w ? b->types[i] : b->type;
    *count = b->v ? b->counts[i] : b->count;
    MPI_Aint off = 0;
    if (b->same) {
        off = 0;
    } else if (b->w) {
        off = b->bdispl[i];
    } else if (b->v) {
        off = (MPI_Aint)b->displ[i] * (*t)->extent;
    } else {
        off = (MPI_Aint)i * (*count) * (*t)->extent;
    }
    *p = (const char *)b->buf + off;
}

/* Arrays present and every block's count and type valid. */
static int nbr_chk(const char *fn, MPI_Comm comm, const struct nbr_blocks *b, int n)
{
    if (n == 0) {
        return 0;
    }
    if (b->v && (b->counts == NULL || (b->w ? b->bdispl == NULL : b->displ == NULL))) {
        return sf_mpi__raise(comm, MPI_ERR_ARG, fn, "counts or displacements array is NULL");
    }
    if (b->w && b->types == NULL) {
        return sf_mpi__raise(comm, MPI_ERR_ARG, fn, "datatypes array is NULL");
    }
    for (int i = 0; i < n; i++) {
        const char *p;
        int count;
        MPI_Datatype t;
        /* nbr_block reads the type's extent */
        MPI_Datatype bt = b->w ? b->types[i] : b->type;
        if (!sf_mpi__type_ok(bt)) {
            return sf_mpi__chk_type(fn, comm, bt);
        }
        nbr_block(b, i, &p, &count, &t);
        int err = sf_mpi__chk_buf(fn, comm, p, count, t);
        if (err) {
            return err;
        }
    }
    return 0;
}

static int nbr_impl(const char *fn, MPI_Comm comm, const struct nbr_blocks *snd,
                    const struct nbr_blocks *rcv, MPI_Request *req)
{
    int err = chk_coll(fn, comm);
    if (!err) {
        err = chk_req(fn, comm, req, true);
    }
    if (err) {
        return err;
    }
    if (comm->topo == NULL) {
        return sf_mpi__raise(comm, MPI_ERR_TOPOLOGY, fn, "%s has no topology",
                             sf_mpi__comm_name(comm));
    }
    int *in, *out, nin, nout;
    bool cart;
    if (sf_mpi__topo_neighbours(comm, &in, &nin, &out, &nout, &cart) < 0) {
        return no_mem(fn, comm);
    }
    err = nbr_chk(fn, comm, snd, snd->same ? (nout > 0) : nout);
    if (!err) {
        err = nbr_chk(fn, comm, rcv, nin);
    }
    struct sf_mpi_cjob *j = err ? NULL : job_new();
    if (err || j == NULL) {
        free(in);
        return err ? err : no_mem(fn, comm);
    }
    int *speer = job_alloc(j, sizeof(int) * (size_t)nout);
    int *rpeer = job_alloc(j, sizeof(int) * (size_t)nin);
    const void **sp = job_alloc(j, sizeof(void *) * (size_t)nout);
    size_t *sc = job_alloc(j, sizeof(size_t) * (size_t)nout);
    void **rp = job_alloc(j, sizeof(void *) * (size_t)nin);
    size_t *rc = job_alloc(j, sizeof(size_t) * (size_t)nin);
    const void *one = NULL;
    bool have_one = false;
    for (int i = 0; !j->oom && i < nout; i++) {
        int b = cart ? i ^ 1 : i;
        speer[i] = out[b];
        sp[i] = NULL;
        sc[i] = 0;
        if (out[b] == MPI_PROC_NULL) {
            continue;
        }
        const char *p;
        int count;
        MPI_Datatype t;
        nbr_block(snd, b, &p, &count, &t);
        sc[i] = sf_mpi__type_bytes(t, count);
        if (snd->same && have_one) {
            sp[i] = one;
            continue;
        }
        sp[i] = job_send(j, t, (size_t)count, p);
        one = sp[i];
        have_one = true;
    }
    for (int k = 0; !j->oom && k < nin; k++) {
        rpeer[k] = in[k];
        rp[k] = NULL;
        rc[k] = 0;
        if (in[k] == MPI_PROC_NULL) {
            continue;
        }
        const char *p;
        int count;
        MPI_Datatype t;
        nbr_block(rcv, k, &p, &count, &t);
        rc[k] = sf_mpi__type_bytes(t, count);
        rp[k] = job_recv(j, t, (size_t)count, (void *)p, false, true);
    }
    free(in);
    j->a.kind = SF_COLL_NEIGHBOR;
    j->a.nsend = nout;
    j->a.speers = speer;
    j->a.sptr = sp;
    j->a.scounts = sc;
    j->a.nrecv = nin;
    j->a.rpeers = rpeer;
    j->a.rptr = rp;
    j->a.rcounts = rc;
    return go(fn, comm, j, req);
}

int PMPI_Ineighbor_allgather(const void *sendbuf, int sendcount, MPI_Datatype sendtype,
                             void *recvbuf, int recvcount, MPI_Datatype recvtype, MPI_Comm comm,
                             MPI_Request *request)
{
    SF_MPI_ENTER();
    struct nbr_blocks s = {.buf = sendbuf, .count = sendcount, .type = sendtype, .same = true};
    struct nbr_blocks r = {.buf = recvbuf, .count = recvcount, .type = recvtype};
    return nbr_impl("MPI_Ineighbor_allgather", comm, &s, &r, request);
}
SF_MPI_ALIAS(Ineighbor_allgather);

int PMPI_Ineighbor_allgatherv(const void *sendbuf, int sendcount, MPI_Datatype sendtype,
                              void *recvbuf, const int recvcounts[], const int displs[],
                              MPI_Datatype recvtype, MPI_Comm comm, MPI_Request *request)
{
    SF_MPI_ENTER();
    struct nbr_blocks s = {.buf = sendbuf, .count = sendcount, .type = sendtype, .same = true};
    struct nbr_blocks r = {
        .buf = recvbuf, .v = true, .counts = recvcounts, .displ = displs, .type = recvtype};
    return nbr_impl("MPI_Ineighbor_allgatherv", comm, &s, &r, request);
}
SF_MPI_ALIAS(Ineighbor_allgatherv);

int PMPI_Ineighbor_alltoall(const void *sendbuf, int sendcount, MPI_Datatype sendtype,
                            void *recvbuf, int recvcount, MPI_Datatype recvtype, MPI_Comm comm,
                            MPI_Request *request)
{
    SF_MPI_ENTER();
    struct nbr_blocks s = {.buf = sendbuf, .count = sendcount, .type = sendtype};
    struct nbr_blocks r = {.buf = recvbuf, .count = recvcount, .type = recvtype};
    return nbr_impl("MPI_Ineighbor_alltoall", comm, &s, &r, request);
}
SF_MPI_ALIAS(Ineighbor_alltoall);

int PMPI_Ineighbor_alltoallv(const void *sendbuf, const int sendcounts[], const int sdispls[],
                             MPI_Datatype sendtype, void *recvbuf, const int recvcounts[],
                             const int rdispls[], MPI_Datatype recvtype, MPI_Comm comm,
                             MPI_Request *request)
{
    SF_MPI_ENTER();
    struct nbr_blocks s = {
        .buf = sendbuf, .v = true, .counts = sendcounts, .displ = sdispls, .type = sendtype};
    struct nbr_blocks r = {
        .buf = recvbuf, .v = true, .counts = recvcounts, .displ = rdispls, .type = recvtype};
    return nbr_impl("MPI_Ineighbor_alltoallv", comm, &s, &r, request);
}
SF_MPI_ALIAS(Ineighbor_alltoallv);

int PMPI_Ineighbor_alltoallw(const void *sendbuf, const int sendcounts[], const MPI_Aint sdispls[],
                             const MPI_Datatype sendtypes[], void *recvbuf, const int recvcounts[],
                             const MPI_Aint rdispls[], const MPI_Datatype recvtypes[],
                             MPI_Comm comm, MPI_Request *request)
{
    SF_MPI_ENTER();
    struct nbr_blocks s = {.buf = sendbuf,
                           .v = true,
                           .w = true,
                           .counts = sendcounts,
                           .bdispl = sdispls,
                           .types = sendtypes};
    struct nbr_blocks r = {.buf = recvbuf,
                           .v = true,
                           .w = true,
                           .counts = recvcounts,
                           .bdispl = rdispls,
                           .types = recvtypes};
    return nbr_impl("MPI_Ineighbor_alltoallw", comm, &s, &r, request);
}
SF_MPI_ALIAS(Ineighbor_alltoallw);
