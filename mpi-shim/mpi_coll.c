/* Collective bindings (barrier, bcast, reduce, allreduce, reduce_local)
 * over sf_coll.h, and reduction operations: the predefined ones map to
 * sf_op.h kernels, user ones are called through a wrapper that passes
 * the datatype handle. Other collectives come with the collectives issue.
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
    MPI_Datatype dt;     /* user ops: the caller's datatype */
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
static int make_op(const char *fn, MPI_Comm comm, MPI_Op op, MPI_Datatype type,
                   struct op_ctx *ctx, struct sf_coll_op *out, size_t *mult)
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
        return sf_mpi__raise(comm, MPI_ERR_OP, fn, "%s is not defined for datatype %s",
                             op->name,
                             elem != NULL ? elem->name
                             : type->name[0] ? type->name : "(derived, mixed element types)");
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
    if (!err) {
        err = sf_mpi__chk_intra(fn, comm); /* no inter-communicator collectives yet */
    }
    return err;
}

int PMPI_Barrier(MPI_Comm comm)
{
    static const char fn[] = "MPI_Barrier";
    int err = chk_coll(fn, comm);
    if (err) {
        return err;
    }
    int rc = sf_coll_barrier(&comm->coll);
    return rc < 0 ? sf_mpi__raise_rt(comm, rc, fn) : MPI_SUCCESS;
}
SF_MPI_ALIAS(Barrier);

int PMPI_Bcast(void *buffer, int count, MPI_Datatype datatype, int root, MPI_Comm comm)
{
    static const char fn[] = "MPI_Bcast";
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
        int rc = sf_coll_bcast(&comm->coll, (char *)buffer + datatype->true_lb, bytes, root);
        return rc < 0 ? sf_mpi__raise_rt(comm, rc, fn) : MPI_SUCCESS;
    }
    char *tmp = malloc(bytes);
    if (tmp == NULL) {
        return sf_mpi__raise(comm, MPI_ERR_NO_MEM, fn, "out of memory for %zu bytes", bytes);
    }
    if (comm->rank == root) {
        sf_mpi__pack(datatype, count, buffer, tmp);
    }
    int rc = sf_coll_bcast(&comm->coll, tmp, bytes, root);
    if (rc >= 0 && comm->rank != root) {
        sf_mpi__unpack(datatype, count, tmp, bytes, buffer);
    }
    free(tmp);
    return rc < 0 ? sf_mpi__raise_rt(comm, rc, fn) : MPI_SUCCESS;
}
SF_MPI_ALIAS(Bcast);

int PMPI_Reduce(const void *sendbuf, void *recvbuf, int count, MPI_Datatype datatype, MPI_Op op,
                int root, MPI_Comm comm)
{
    static const char fn[] = "MPI_Reduce";
    int err = chk_coll(fn, comm);
    if (!err) {
        err = sf_mpi__chk_root(fn, comm, root);
    }
    bool in_place = sendbuf == MPI_IN_PLACE;
    if (!err && in_place && comm->rank != root) {
        err = sf_mpi__raise(comm, MPI_ERR_BUFFER, fn, "MPI_IN_PLACE is only valid at the root");
    }
    if (!err) {
        err = sf_mpi__chk_buf(fn, comm, in_place ? recvbuf : sendbuf, count, datatype);
    }
    if (!err && comm->rank == root) {
        err = sf_mpi__chk_buf(fn, comm, recvbuf, count, datatype);
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
    size_t n = (size_t)count * mult;
    struct red_stage st;
    bool root_ = comm->rank == root;
    if (stage_in(&st, &sop, datatype, count, in_place ? NULL : sendbuf, root_ ? recvbuf : NULL,
                 in_place)) {
        return sf_mpi__raise(comm, MPI_ERR_NO_MEM, fn, "out of memory");
    }
    int rc = sf_coll_reduce(&comm->coll, st.s, st.r, n, &sop, root);
    stage_out(&st, datatype, count, recvbuf, rc >= 0 && root_);
    return rc < 0 ? sf_mpi__raise_rt(comm, rc, fn) : MPI_SUCCESS;
}
SF_MPI_ALIAS(Reduce);

int PMPI_Allreduce(const void *sendbuf, void *recvbuf, int count, MPI_Datatype datatype,
                   MPI_Op op, MPI_Comm comm)
{
    static const char fn[] = "MPI_Allreduce";
    int err = chk_coll(fn, comm);
    bool in_place = sendbuf == MPI_IN_PLACE;
    if (!err && !in_place) {
        err = sf_mpi__chk_buf(fn, comm, sendbuf, count, datatype);
    }
    if (!err) {
        err = sf_mpi__chk_buf(fn, comm, recvbuf, count, datatype);
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
    size_t n = (size_t)count * mult;
    struct red_stage st;
    if (stage_in(&st, &sop, datatype, count, in_place ? NULL : sendbuf, recvbuf, in_place)) {
        return sf_mpi__raise(comm, MPI_ERR_NO_MEM, fn, "out of memory");
    }
    int rc = sf_coll_allreduce(&comm->coll, st.s, st.r, n, &sop);
    stage_out(&st, datatype, count, recvbuf, rc >= 0);
    return rc < 0 ? sf_mpi__raise_rt(comm, rc, fn) : MPI_SUCCESS;
}
SF_MPI_ALIAS(Allreduce);

int PMPI_Reduce_local(const void *inbuf, void *inoutbuf, int count, MPI_Datatype datatype,
                      MPI_Op op)
{
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
