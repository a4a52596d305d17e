/* Communicators: set-up of the predefined ones, context-id allocation,
 * MPI_Comm_dup/free, names and comparisons. Groups, split and
 * inter-communicators come with the communicator issue. Caller's thread;
 * dup and free are collective over the communicator. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpi-shim/shim_int.h"

void sf_mpi__comm_setup(struct ompi_communicator_t *c, uint32_t ctx, int rank, int size,
                        int *world, const char *name)
{
    c->magic = SF_MPI_MAGIC_COMM;
    c->ctx = ctx;
    c->rank = rank;
    c->size = size;
    c->world = world;
    c->coll.rt = sf_mpi__st.rt;
    c->coll.ctx = ctx + 1;
    c->coll.rank = rank;
    c->coll.size = size;
    c->coll.world = world;
    if (name != NULL) {
        snprintf(c->name, sizeof(c->name), "%s", name);
    }
}

static int band_u64(const void *in, void *inout, size_t count, void *arg)
{
    const uint64_t *a = in;
    uint64_t *b = inout;
    for (size_t i = 0; i < count; i++) {
        uint64_t x, y;
        memcpy(&x, &a[i], sizeof(x));
        memcpy(&y, &b[i], sizeof(y));
        y &= x;
        memcpy(&b[i], &y, sizeof(y));
    }
    return 0;
}

/* Agree on a context pair free at every member of 'parent': the lowest
 * pair free everywhere (an allreduce-AND of the free bitmaps). */
static int ctx_alloc(MPI_Comm parent, uint32_t *ctx)
{
    enum { W = SF_MPI_MAX_CTX_PAIRS / 64 };
    uint64_t free_bits[W], agreed[W];
    for (int i = 0; i < W; i++) {
        free_bits[i] = ~sf_mpi__st.ctx_used[i];
    }
    struct sf_coll_op op = {.fn = band_u64, .commutative = true, .elem_size = sizeof(uint64_t)};
    int rc = sf_coll_allreduce(&parent->coll, free_bits, agreed, W, &op);
    if (rc < 0) {
        return rc;
    }
    for (int i = 0; i < W; i++) {
        if (agreed[i] != 0) {
            int b = __builtin_ctzll(agreed[i]);
            sf_mpi__st.ctx_used[i] |= 1ull << b;
            *ctx = (uint32_t)(i * 64 + b) * 2;
            return 0;
        }
    }
    return -EAGAIN;
}

static void ctx_release(uint32_t ctx)
{
    uint32_t pair = ctx / 2;
    sf_mpi__st.ctx_used[pair / 64] &= ~(1ull << (pair % 64));
}

int PMPI_Comm_dup(MPI_Comm comm, MPI_Comm *newcomm)
{
    static const char fn[] = "MPI_Comm_dup";
    int err = sf_mpi__chk_init(fn);
    if (!err) {
        err = sf_mpi__chk_comm(fn, comm);
    }
    if (err) {
        return err;
    }
    if (newcomm == NULL) {
        return sf_mpi__raise(comm, MPI_ERR_ARG, fn, "newcomm is NULL");
    }
    struct ompi_communicator_t *c = calloc(1, sizeof(*c));
    int *world = malloc(sizeof(int) * (size_t)comm->size);
    if (c == NULL || world == NULL) {
        free(c);
        free(world);
        return sf_mpi__raise(comm, MPI_ERR_NO_MEM, fn, "out of memory");
    }
    uint32_t ctx;
    int rc = ctx_alloc(comm, &ctx);
    if (rc < 0) {
        free(c);
        free(world);
        if (rc == -EAGAIN) {
            return sf_mpi__raise(comm, MPI_ERR_INTERN, fn,
                                 "out of context ids (%u communicators exist)",
                                 SF_MPI_MAX_CTX_PAIRS);
        }
        return sf_mpi__raise_rt(comm, rc, fn);
    }
    memcpy(world, comm->world, sizeof(int) * (size_t)comm->size);
    sf_mpi__comm_setup(c, ctx, comm->rank, comm->size, world, NULL);
    c->errh = comm->errh;
    if (!c->errh->predefined) {
        c->errh->refcount++;
    }
    *newcomm = c;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Comm_dup);

int PMPI_Comm_free(MPI_Comm *comm)
{
    static const char fn[] = "MPI_Comm_free";
    int err = sf_mpi__chk_init(fn);
    if (err) {
        return err;
    }
    if (comm == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn, "comm is NULL");
    }
    err = sf_mpi__chk_comm(fn, *comm);
    if (err) {
        return err;
    }
    struct ompi_communicator_t *c = *comm;
    if (c->predefined) {
        return sf_mpi__raise(c, MPI_ERR_COMM, fn, "cannot free %s", c->name);
    }
    /* Every member frees its communicators in the same order (the call is
     * collective), so the context pair becomes free everywhere. */
    ctx_release(c->ctx);
    if (!c->errh->predefined && --c->errh->refcount == 0) {
        c->errh->magic = SF_MPI_MAGIC_DEAD;
        free(c->errh);
    }
    free(c->world);
    c->magic = SF_MPI_MAGIC_DEAD;
    free(c);
    *comm = MPI_COMM_NULL;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Comm_free);

int PMPI_Comm_get_name(MPI_Comm comm, char *comm_name, int *resultlen)
{
    static const char fn[] = "MPI_Comm_get_name";
    int err = sf_mpi__chk_init(fn);
    if (!err) {
        err = sf_mpi__comm_ok(comm) ? 0
                                    : sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_COMM, fn,
                                                    "invalid communicator");
    }
    if (err) {
        return err;
    }
    if (comm_name == NULL || resultlen == NULL) {
        return sf_mpi__raise(comm, MPI_ERR_ARG, fn, "comm_name or resultlen is NULL");
    }
    size_t len = strnlen(comm->name, MPI_MAX_OBJECT_NAME - 1);
    memcpy(comm_name, comm->name, len);
    comm_name[len] = '\0';
    *resultlen = (int)len;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Comm_get_name);

int PMPI_Comm_set_name(MPI_Comm comm, const char *comm_name)
{
    static const char fn[] = "MPI_Comm_set_name";
    int err = sf_mpi__chk_init(fn);
    if (!err) {
        err = sf_mpi__chk_comm(fn, comm);
    }
    if (err) {
        return err;
    }
    if (comm_name == NULL) {
        return sf_mpi__raise(comm, MPI_ERR_ARG, fn, "comm_name is NULL");
    }
    snprintf(comm->name, sizeof(comm->name), "%s", comm_name);
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Comm_set_name);

int PMPI_Comm_compare(MPI_Comm comm1, MPI_Comm comm2, int *result)
{
    static const char fn[] = "MPI_Comm_compare";
    int err = sf_mpi__chk_init(fn);
    if (!err) {
        err = sf_mpi__chk_comm(fn, comm1);
    }
    if (!err) {
        err = sf_mpi__chk_comm(fn, comm2);
    }
    if (err) {
        return err;
    }
    if (result == NULL) {
        return sf_mpi__raise(comm1, MPI_ERR_ARG, fn, "result is NULL");
    }
    if (comm1 == comm2) {
        *result = MPI_IDENT;
        return MPI_SUCCESS;
    }
    if (comm1->size != comm2->size) {
        *result = MPI_UNEQUAL;
        return MPI_SUCCESS;
    }
    bool same_order = true;
    for (int i = 0; i < comm1->size && same_order; i++) {
        same_order = comm1->world[i] == comm2->world[i];
    }
    if (same_order) {
        *result = MPI_CONGRUENT;
        return MPI_SUCCESS;
    }
    /* Same members in another order? Both are small sets of world ranks. */
    bool similar = true;
    for (int i = 0; i < comm1->size && similar; i++) {
        bool found = false;
        for (int j = 0; j < comm2->size && !found; j++) {
            found = comm1->world[i] == comm2->world[j];
        }
        similar = found;
    }
    *result = similar ? MPI_SIMILAR : MPI_UNEQUAL;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Comm_compare);

int PMPI_Comm_test_inter(MPI_Comm comm, int *flag)
{
    static const char fn[] = "MPI_Comm_test_inter";
    int err = sf_mpi__chk_init(fn);
    if (!err) {
        err = sf_mpi__chk_comm(fn, comm);
    }
    if (err) {
        return err;
    }
    if (flag == NULL) {
        return sf_mpi__raise(comm, MPI_ERR_ARG, fn, "flag is NULL");
    }
    *flag = 0; /* no inter-communicators exist yet */
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Comm_test_inter);
