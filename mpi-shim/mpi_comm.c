/* Communicators: set-up of the predefined ones, context-id agreement,
 * dup/split/create/create_group/free, inter-communicators (create, merge,
 * point-to-point across them), names, info hints and comparisons.
 * Collective calls here block until done (Comm_idup completes eagerly).
 * Inter-communicator collectives are in mpi_coll.c. Caller's thread. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpi-shim/shim_int.h"

/* Library-internal tags on a communicator's point-to-point context: the
 * engine's ANY_TAG never matches negative tags, so programs cannot
 * intercept them. */
#define TAG_CREATE_GROUP(t) (-0x40000000 - ((t)&0x0fffffff))
#define TAG_INTER_CREATE(t) (-0x50000000 - ((t)&0x0fffffff))
#define TAG_INTER_AGREE (-0x60000001)
#define TAG_INTER_SPLIT (-0x60000002)

enum { CTX_WORDS = SF_MPI_MAX_CTX_PAIRS / 64 };

void sf_mpi__comm_setup(struct ompi_communicator_t *c, uint32_t ctx, int rank, int size, int *world,
                        const char *name)
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
    c->coll.nb_seq = 0;
    c->coll.idle = sf_mpi__mt ? sf_mpi__coll_idle : NULL;
    if (name != NULL) {
        snprintf(c->name, sizeof(c->name), "%s", name);
    }
}

int sf_mpi__chk_intra(const char *fn, MPI_Comm comm)
{
    if (comm->is_inter) {
        /* MPI-3.1 defines these calls on intra-communicators only. */
        return sf_mpi__raise(comm, MPI_ERR_COMM, fn,
                             "%s is an inter-communicator; this call needs an "
                             "intra-communicator",
                             sf_mpi__comm_name(comm));
    }
    return 0;
}

static int bor_u64(const void *in, void *inout, size_t count, void *arg)
{
    (void)arg;
    const uint64_t *a = in;
    uint64_t *b = inout;
    for (size_t i = 0; i < count; i++) {
        uint64_t x, y;
        memcpy(&x, &a[i], sizeof(x));
        memcpy(&y, &b[i], sizeof(y));
        y |= x;
        memcpy(&b[i], &y, sizeof(y));
    }
    return 0;
}

/* Lowest context pair free in an OR of used bitmaps, or -EAGAIN. */
static int ctx_pick(const uint64_t *used, uint32_t *ctx)
{
    for (int i = 0; i < CTX_WORDS; i++) {
        if (~used[i] != 0) {
            int b = __builtin_ctzll(~used[i]);
            *ctx = (uint32_t)(i * 64 + b) * 2;
            return 0;
        }
    }
    return -EAGAIN;
}

static void ctx_take(uint32_t ctx)
{
    uint32_t pair = ctx / 2;
    sf_mpi__st.ctx_used[pair / 64] |= 1ull << (pair % 64);
}

static void ctx_release(uint32_t ctx)
{
    uint32_t pair = ctx / 2;
    sf_mpi__st.ctx_used[pair / 64] &= ~(1ull << (pair % 64));
}

/* Context agreement over an intra-communicator: one allreduce-OR of
 * [used-context bitmap | extra words]. The lowest pair free at every
 * member is chosen (a member's bitmap does not change during the call:
 * calls are blocking and serialised), so no member already uses it; only
 * members with take set mark it used (split/create: members that get a
 * communicator). Disjoint communicators created by one call (split
 * colours) share the pair, which is safe: none has a member in another.
 * extra (n words, may be NULL) is ORed in place. */
static int ctx_agree(const struct sf_coll_comm *c, bool take, uint64_t *extra, size_t n,
                     uint32_t *ctx)
{
    size_t total = CTX_WORDS + n;
    uint64_t *buf = malloc(sizeof(uint64_t) * total);
    if (buf == NULL) {
        return -ENOMEM;
    }
    memcpy(buf, sf_mpi__st.ctx_used, sizeof(uint64_t) * CTX_WORDS);
    if (n > 0) {
        memcpy(buf + CTX_WORDS, extra, sizeof(uint64_t) * n);
    }
    struct sf_coll_op op = {.fn = bor_u64, .commutative = true, .elem_size = sizeof(uint64_t)};
    int rc = sf_coll_allreduce(c, NULL, buf, total, &op);
    if (rc == 0) {
        rc = ctx_pick(buf, ctx);
        if (n > 0) {
            memcpy(extra, buf + CTX_WORDS, sizeof(uint64_t) * n);
        }
    }
    free(buf);
    if (rc == 0 && take) {
        ctx_take(*ctx);
    }
    return rc;
}

/* Blocking exchange on (ctx, tag): send to world rank 'dest' as rank
 * 'me', receive from rank 'src' of the same matching space. Either side
 * may be skipped (dest/src SF_RT_PROC_NULL). */
static int xfer(uint32_t ctx, int tag, int me, const void *sbuf, size_t slen, int dest, void *rbuf,
                size_t rlen, int src)
{
    struct sf_rt_req s, r;
    int rc = sf_rt_irecv(sf_mpi__st.rt, &r, rbuf, rlen, src, ctx, tag);
    if (rc < 0) {
        return rc;
    }
    rc = sf_rt_isend(sf_mpi__st.rt, &s, sbuf, slen, dest, ctx, me, tag, SF_RT_STANDARD);
    if (rc == 0) {
        rc = sf_mpi__rt_wait(&s);
    }
    int rc2 = sf_mpi__rt_wait(&r);
    if (rc < 0) {
        return rc;
    }
    if (rc2 < 0) {
        return rc2;
    }
    if (r.status.error) {
        return r.status.error;
    }
    return s.status.error;
}

static int raise_ctx(MPI_Comm comm, int rc, const char *fn)
{
    if (rc == -EAGAIN) {
        return sf_mpi__raise(comm, MPI_ERR_INTERN, fn,
                             "out of context ids (%u communicators exist)", SF_MPI_MAX_CTX_PAIRS);
    }
    if (rc == -ENOMEM) {
        return sf_mpi__raise(comm, MPI_ERR_NO_MEM, fn, "out of memory");
    }
    return sf_mpi__raise_rt(comm, rc, fn);
}

/* A new intra-communicator on a taken context; world (n entries) is
 * copied. Inherits parent's error handler. NULL if out of memory. */
static struct ompi_communicator_t *comm_new(MPI_Comm parent, uint32_t ctx, int rank, int n,
                                            const int *world)
{
    struct ompi_communicator_t *c = calloc(1, sizeof(*c));
    int *w = malloc(sizeof(int) * (size_t)(n > 0 ? n : 1));
    if (c == NULL || w == NULL) {
        free(c);
        free(w);
        return NULL;
    }
    memcpy(w, world, sizeof(int) * (size_t)n);
    sf_mpi__comm_setup(c, ctx, rank, n, w, NULL);
    c->errh = parent->errh;
    if (!c->errh->predefined) {
        c->errh->refcount++;
    }
    return c;
}

/* Release everything but the attributes (already deleted). */
static void comm_destroy(struct ompi_communicator_t *c)
{
    ctx_release(c->ctx);
    if (!c->errh->predefined && --c->errh->refcount == 0) {
        c->errh->magic = SF_MPI_MAGIC_DEAD;
        free(c->errh);
    }
    sf_mpi__topo_free(c->topo);
    sf_mpi__info_free(c->info);
    free(c->world);
    free(c->local_world);
    c->magic = SF_MPI_MAGIC_DEAD;
    free(c);
}

static int chk_comm_out(const char *fn, MPI_Comm comm, const void *out)
{
    int err = sf_mpi__chk_init(fn);
    if (!err) {
        err = sf_mpi__chk_comm(fn, comm);
    }
    if (!err && out == NULL) {
        err = sf_mpi__raise(comm, MPI_ERR_ARG, fn, "output handle is NULL");
    }
    return err;
}

/* --- inter-communicator agreement (dup, merge) --- */

/* Both groups of an inter-communicator agree on a context pair: each
 * group ORs its bitmaps, the leaders (local rank 0) swap theirs plus one
 * word of 'mine' across the inter-communicator, and each leader
 * broadcasts the result to its group. *theirs gets the remote leader's
 * word. Everyone takes the pair. */
static int inter_agree(MPI_Comm ic, uint64_t mine, uint64_t *theirs, uint32_t *ctx)
{
    uint64_t used[CTX_WORDS + 1], rem[CTX_WORDS + 1] = {0};
    memcpy(used, sf_mpi__st.ctx_used, sizeof(uint64_t) * CTX_WORDS);
    struct sf_coll_op op = {.fn = bor_u64, .commutative = true, .elem_size = sizeof(uint64_t)};
    int rc = sf_coll_allreduce(&ic->coll, NULL, used, CTX_WORDS, &op);
    if (rc < 0) {
        return rc;
    }
    uint64_t out[2] = {0, 0};
    if (ic->rank == 0) {
        used[CTX_WORDS] = mine;
        rc = xfer(ic->ctx, TAG_INTER_AGREE, 0, used, sizeof(used), ic->world[0], rem, sizeof(rem),
                  0);
        uint32_t c = 0;
        if (rc == 0) {
            bor_u64(rem, used, CTX_WORDS, NULL);
            rc = ctx_pick(used, &c);
        }
        /* On failure the group still gets a broadcast (a marker). */
        out[0] = rc == 0 ? c : UINT64_MAX;
        out[1] = rem[CTX_WORDS];
    }
    int rc2 = sf_coll_bcast(&ic->coll, out, sizeof(out), 0);
    if (rc < 0) {
        return rc;
    }
    if (rc2 < 0) {
        return rc2;
    }
    if (out[0] == UINT64_MAX) {
        return -EAGAIN;
    }
    *ctx = (uint32_t)out[0];
    *theirs = out[1];
    ctx_take(*ctx);
    return 0;
}

/* --- dup --- */

static int dup_common(const char *fn, MPI_Comm comm, MPI_Info info, bool use_info,
                      MPI_Comm *newcomm)
{
    int err = chk_comm_out(fn, comm, newcomm);
    if (err) {
        return err;
    }
    if (use_info && !sf_mpi__info_ok(info, true)) {
        return sf_mpi__raise(comm, MPI_ERR_INFO, fn, "invalid info");
    }
    uint32_t ctx;
    uint64_t dummy;
    int rc = comm->is_inter ? inter_agree(comm, 0, &dummy, &ctx)
                            : ctx_agree(&comm->coll, true, NULL, 0, &ctx);
    if (rc < 0) {
        return raise_ctx(comm, rc, fn);
    }
    struct ompi_communicator_t *c = comm_new(comm, ctx, comm->rank, comm->size, comm->world);
    if (c == NULL) {
        ctx_release(ctx);
        return sf_mpi__raise(comm, MPI_ERR_NO_MEM, fn, "out of memory");
    }
    if (comm->is_inter) {
        c->is_inter = true;
        c->local_size = comm->local_size;
        c->local_world = malloc(sizeof(int) * (size_t)comm->local_size);
        if (c->local_world == NULL) {
            comm_destroy(c);
            return sf_mpi__raise(comm, MPI_ERR_NO_MEM, fn, "out of memory");
        }
        memcpy(c->local_world, comm->local_world, sizeof(int) * (size_t)comm->local_size);
        c->coll.rank = comm->coll.rank;
        c->coll.size = comm->coll.size;
        c->coll.world = c->local_world;
    }
    if (comm->topo != NULL) {
        c->topo = sf_mpi__topo_dup(comm->topo);
        if (c->topo == NULL) {
            comm_destroy(c);
            return sf_mpi__raise(comm, MPI_ERR_NO_MEM, fn, "out of memory");
        }
    }
    MPI_Info src = use_info ? info : comm->info;
    if (src != NULL && src != MPI_INFO_NULL) {
        c->info = sf_mpi__info_dup(src, &err);
        if (c->info == NULL) {
            comm_destroy(c);
            return sf_mpi__raise(comm, err, fn, "cannot copy the info");
        }
    }
    err = sf_mpi__attr_copy(SF_MPI_ATTR_COMM, comm, comm->attrs, c, &c->attrs);
    if (err) {
        comm_destroy(c);
        return sf_mpi__raise(comm, err, fn, "an attribute copy callback failed");
    }
    *newcomm = c;
    return MPI_SUCCESS;
}

int PMPI_Comm_dup(MPI_Comm comm, MPI_Comm *newcomm)
{
    SF_MPI_ENTER();
    return dup_common("MPI_Comm_dup", comm, MPI_INFO_NULL, false, newcomm);
}
SF_MPI_ALIAS(Comm_dup);

int PMPI_Comm_dup_with_info(MPI_Comm comm, MPI_Info info, MPI_Comm *newcomm)
{
    SF_MPI_ENTER();
    return dup_common("MPI_Comm_dup_with_info", comm, info, true, newcomm);
}
SF_MPI_ALIAS(Comm_dup_with_info);

/* Completes before returning (a blocking dup); the request is already
 * complete, which MPI permits. A program that starts Comm_idup on two
 * communicators in different orders on different ranks would deadlock. */
int PMPI_Comm_idup(MPI_Comm comm, MPI_Comm *newcomm, MPI_Request *request)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Comm_idup";
    int err = chk_comm_out(fn, comm, request);
    if (err) {
        return err;
    }
    struct ompi_request_t *r = sf_mpi__req_new();
    if (r == NULL) {
        return sf_mpi__raise(comm, MPI_ERR_NO_MEM, fn, "out of memory");
    }
    err = dup_common(fn, comm, MPI_INFO_NULL, false, newcomm);
    if (err) {
        sf_mpi__req_release(r);
        return err;
    }
    r->kind = SF_MPI_REQ_DONE;
    r->active = true;
    r->comm = comm;
    sf_mpi__status_empty(&r->done_status);
    *request = r;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Comm_idup);

int PMPI_Comm_free(MPI_Comm *comm)
{
    SF_MPI_ENTER();
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
    /* Delete callbacks see a valid communicator, so they run first. */
    err = sf_mpi__attr_delete_all(SF_MPI_ATTR_COMM, c, &c->attrs);
    if (err) {
        return sf_mpi__raise(c, err, fn, "an attribute delete callback failed");
    }
    /* Every member frees its communicators in the same order (the call is
     * collective), so the context pair becomes free everywhere. */
    comm_destroy(c);
    *comm = MPI_COMM_NULL;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Comm_free);

int PMPI_Comm_disconnect(MPI_Comm *comm)
{
    SF_MPI_ENTER();
    /* No dynamic processes: a disconnect is a barrier plus a free. */
    static const char fn[] = "MPI_Comm_disconnect";
    int err = sf_mpi__chk_init(fn);
    if (!err && comm == NULL) {
        err = sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn, "comm is NULL");
    }
    if (!err) {
        err = sf_mpi__chk_comm(fn, *comm);
    }
    if (err) {
        return err;
    }
    int rc = (*comm)->is_inter ? sf_mpi__inter_barrier(*comm) : sf_coll_barrier(&(*comm)->coll);
    if (rc < 0) {
        return sf_mpi__raise_rt(*comm, rc, fn);
    }
    return PMPI_Comm_free(comm);
}
SF_MPI_ALIAS(Comm_disconnect);

/* --- split --- */

struct split_ent {
    int key, prank;
};

static int cmp_ent(const void *a, const void *b)
{
    const struct split_ent *x = a, *y = b;
    if (x->key != y->key) {
        return x->key < y->key ? -1 : 1;
    }
    return x->prank < y->prank ? -1 : x->prank > y->prank;
}

/* Members of colour 'color' among n (colour << 32 | key) words, ordered
 * by key then position, into ent; returns how many. */
static int split_members(const uint64_t *ck, int n, int color, struct split_ent *ent)
{
    int m = 0;
    for (int i = 0; i < n; i++) {
        if ((int)(uint32_t)(ck[i] >> 32) == color) {
            ent[m].key = (int)(uint32_t)ck[i];
            ent[m].prank = i;
            m++;
        }
    }
    qsort(ent, (size_t)m, sizeof(*ent), cmp_ent);
    return m;
}

/* Split of an inter-communicator (MPI-3.1 6.4.2): each group gathers its
 * (colour, key) words and the context bitmap (one allreduce), the leaders
 * swap both across, each leader picks the pair from the union (so both
 * pick the same) and broadcasts it with the remote words. A process gets
 * the inter-communicator between the local and remote members of its
 * colour, or MPI_COMM_NULL when either side has none. Disjoint results
 * share the pair, as colours of an intra split do. */
static int inter_split(const char *fn, MPI_Comm comm, int color, int key, MPI_Comm *newcomm)
{
    int ln = comm->local_size, rn = comm->size;
    size_t words = CTX_WORDS + (size_t)ln;
    uint64_t *mine = calloc(words, sizeof(uint64_t));
    uint64_t *rem = calloc(CTX_WORDS + (size_t)rn + 1, sizeof(uint64_t));
    struct split_ent *lent = malloc(sizeof(*lent) * (size_t)ln);
    struct split_ent *rent = malloc(sizeof(*rent) * (size_t)(rn > 0 ? rn : 1));
    int *lw = malloc(sizeof(int) * (size_t)ln), *rw = malloc(sizeof(int) * (size_t)rn);
    int rc = 0;
    if (!mine || !rem || !lent || !rent || !lw || !rw) {
        rc = -ENOMEM;
    }
    if (rc == 0) {
        memcpy(mine, sf_mpi__st.ctx_used, sizeof(uint64_t) * CTX_WORDS);
        mine[CTX_WORDS + (size_t)comm->rank] = (uint64_t)(uint32_t)color << 32 | (uint32_t)key;
        struct sf_coll_op op = {.fn = bor_u64, .commutative = true, .elem_size = sizeof(uint64_t)};
        rc = sf_coll_allreduce(&comm->coll, NULL, mine, words, &op);
    }
    /* rem: [ctx or UINT64_MAX | remote words], broadcast by the leader. */
    if (comm->rank == 0) {
        uint64_t *got = rc == 0 ? calloc(CTX_WORDS + (size_t)rn, sizeof(uint64_t)) : NULL;
        if (rc == 0 && got == NULL) {
            rc = -ENOMEM;
        }
        if (rc == 0) {
            rc = xfer(comm->ctx, TAG_INTER_SPLIT, 0, mine, sizeof(uint64_t) * words,
                      comm->world[0], got, sizeof(uint64_t) * (CTX_WORDS + (size_t)rn), 0);
        }
        uint32_t ctx = 0;
        if (rc == 0) {
            bor_u64(got, mine, CTX_WORDS, NULL);
            rc = ctx_pick(mine, &ctx);
        }
        rem[0] = rc == 0 ? ctx : UINT64_MAX;
        if (rc == 0) {
            memcpy(rem + 1, got + CTX_WORDS, sizeof(uint64_t) * (size_t)rn);
        }
        free(got);
    }
    int rc2 = sf_coll_bcast(&comm->coll, rem, sizeof(uint64_t) * ((size_t)rn + 1), 0);
    if (rc == 0 && rc2 == 0 && rem[0] == UINT64_MAX) {
        rc = -EAGAIN;
    }
    int ml = 0, mr = 0, me = 0;
    if (rc == 0 && rc2 == 0 && color != MPI_UNDEFINED) {
        ml = split_members(mine + CTX_WORDS, ln, color, lent);
        mr = split_members(rem + 1, rn, color, rent);
        for (int i = 0; i < ml; i++) {
            lw[i] = comm->local_world[lent[i].prank];
            if (lent[i].prank == comm->rank) {
                me = i;
            }
        }
        for (int i = 0; i < mr; i++) {
            rw[i] = comm->world[rent[i].prank];
        }
    }
    uint32_t ctx = rem[0] == UINT64_MAX ? 0 : (uint32_t)rem[0];
    free(mine);
    free(rem);
    free(lent);
    free(rent);
    struct ompi_communicator_t *c = NULL;
    if (rc == 0 && rc2 == 0 && ml > 0 && mr > 0) {
        ctx_take(ctx);
        c = comm_new(comm, ctx, me, mr, rw);
        if (c == NULL) {
            ctx_release(ctx);
            rc = -ENOMEM;
        } else {
            c->is_inter = true;
            c->local_size = ml;
            c->local_world = lw;
            c->coll.size = ml;
            c->coll.world = lw;
            lw = NULL;
        }
    }
    free(lw);
    free(rw);
    if (rc < 0 || rc2 < 0) {
        return raise_ctx(comm, rc < 0 ? rc : rc2, fn);
    }
    *newcomm = c != NULL ? c : MPI_COMM_NULL;
    return MPI_SUCCESS;
}

/* Split 'comm' by colour/key: one allreduce carries the context
 * agreement and everybody's (colour, key). */
static int split(const char *fn, MPI_Comm comm, int color, int key, MPI_Comm *newcomm)
{
    int err = chk_comm_out(fn, comm, newcomm);
    if (err) {
        return err;
    }
    if (color < 0 && color != MPI_UNDEFINED) {
        return sf_mpi__raise(comm, MPI_ERR_ARG, fn, "invalid colour %d", color);
    }
    if (comm->is_inter) {
        return inter_split(fn, comm, color, key, newcomm);
    }
    int n = comm->size;
    uint64_t *ck = calloc((size_t)n, sizeof(uint64_t));
    struct split_ent *ent = malloc(sizeof(*ent) * (size_t)n);
    int *world = malloc(sizeof(int) * (size_t)n);
    if (ck == NULL || ent == NULL || world == NULL) {
        free(ck);
        free(ent);
        free(world);
        return sf_mpi__raise(comm, MPI_ERR_NO_MEM, fn, "out of memory");
    }
    /* Each member fills only its own word: the OR is a gather. */
    ck[comm->rank] = (uint64_t)(uint32_t)color << 32 | (uint32_t)key;
    uint32_t ctx;
    bool member = color != MPI_UNDEFINED;
    int rc = ctx_agree(&comm->coll, member, ck, (size_t)n, &ctx);
    if (rc < 0) {
        free(ck);
        free(ent);
        free(world);
        return raise_ctx(comm, rc, fn);
    }
    if (!member) {
        free(ck);
        free(ent);
        free(world);
        *newcomm = MPI_COMM_NULL;
        return MPI_SUCCESS;
    }
    int m = split_members(ck, n, color, ent);
    int me = 0;
    for (int i = 0; i < m; i++) {
        world[i] = comm->world[ent[i].prank];
        if (ent[i].prank == comm->rank) {
            me = i;
        }
    }
    struct ompi_communicator_t *c = comm_new(comm, ctx, me, m, world);
    free(ck);
    free(ent);
    free(world);
    if (c == NULL) {
        ctx_release(ctx);
        return sf_mpi__raise(comm, MPI_ERR_NO_MEM, fn, "out of memory");
    }
    *newcomm = c;
    return MPI_SUCCESS;
}

int PMPI_Comm_split(MPI_Comm comm, int color, int key, MPI_Comm *newcomm)
{
    SF_MPI_ENTER();
    return split("MPI_Comm_split", comm, color, key, newcomm);
}
SF_MPI_ALIAS(Comm_split);

int PMPI_Comm_split_type(MPI_Comm comm, int split_type, int key, MPI_Info info, MPI_Comm *newcomm)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Comm_split_type";
    int err = chk_comm_out(fn, comm, newcomm);
    if (err) {
        return err;
    }
    err = sf_mpi__chk_intra(fn, comm);
    if (err) {
        return err;
    }
    (void)info; /* no hints understood */
    int color;
    if (split_type == MPI_UNDEFINED) {
        color = MPI_UNDEFINED;
    } else if (split_type == OMPI_COMM_TYPE_CU || split_type == OMPI_COMM_TYPE_CLUSTER) {
        color = 0; /* one cluster (single-node jobs for now) */
    } else if (split_type == MPI_COMM_TYPE_SHARED || split_type == OMPI_COMM_TYPE_HOST ||
               split_type == OMPI_COMM_TYPE_BOARD) {
        /* The node's lowest world rank names the node. */
        int cnt = 0;
        const int *node = sf_rt_node_ranks(sf_mpi__st.rt, &cnt);
        color = sf_mpi__st.world_rank;
        for (int i = 0; i < cnt; i++) {
            if (node[i] < color) {
                color = node[i];
            }
        }
    } else {
        return sf_mpi__raise(comm, MPI_ERR_ARG, fn,
                             "split type %d is not supported (MPI_COMM_TYPE_SHARED and "
                             "OMPI_COMM_TYPE_HOST/BOARD/CU/CLUSTER are; ranks are not bound "
                             "to cores, so finer hardware splits have no meaning yet)",
                             split_type);
    }
    return split(fn, comm, color, key, newcomm);
}
SF_MPI_ALIAS(Comm_split_type);

/* Position of each group member in comm, or -1 if one is not in comm. */
static int group_in_comm(MPI_Comm comm, MPI_Group g, int *prank)
{
    for (int i = 0; i < g->size; i++) {
        prank[i] = -1;
        for (int j = 0; j < comm->size; j++) {
            if (comm->world[j] == g->world[i]) {
                prank[i] = j;
                break;
            }
        }
        if (prank[i] < 0) {
            return -1;
        }
    }
    return 0;
}

static bool group_valid(MPI_Group g)
{
    return g != NULL && g->magic == SF_MPI_MAGIC_GROUP && g->size >= 0;
}

int PMPI_Comm_create(MPI_Comm comm, MPI_Group group, MPI_Comm *newcomm)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Comm_create";
    int err = chk_comm_out(fn, comm, newcomm);
    if (err) {
        return err;
    }
    if (!group_valid(group)) {
        return sf_mpi__raise(comm, MPI_ERR_GROUP, fn, "invalid group");
    }
    if (comm->is_inter) {
        /* The group is a subset of the local group; the result joins the
         * groups both sides gave, in their orders: a split with colour 0
         * for members (key: rank in the group). A group with members
         * outside the local group is refused after taking part. */
        bool bad = false;
        for (int i = 0; i < group->size && !bad; i++) {
            bad = true;
            for (int j = 0; j < comm->local_size; j++) {
                if (comm->local_world[j] == group->world[i]) {
                    bad = false;
                    break;
                }
            }
        }
        int color = !bad && group->rank != MPI_UNDEFINED ? 0 : MPI_UNDEFINED;
        err = inter_split(fn, comm, color, bad ? 0 : group->rank, newcomm);
        if (!err && bad) {
            return sf_mpi__raise(comm, MPI_ERR_GROUP, fn,
                                 "the group has members outside the local group of %s",
                                 sf_mpi__comm_name(comm));
        }
        return err;
    }
    int *prank = malloc(sizeof(int) * (size_t)(group->size + 1));
    if (prank == NULL) {
        return sf_mpi__raise(comm, MPI_ERR_NO_MEM, fn, "out of memory");
    }
    bool bad = group_in_comm(comm, group, prank) < 0;
    free(prank);
    /* Everyone must take part in the agreement, even with a bad group. */
    bool member = !bad && group->rank != MPI_UNDEFINED;
    uint64_t anybad = bad;
    uint32_t ctx;
    int rc = ctx_agree(&comm->coll, member, &anybad, 1, &ctx);
    if (rc < 0) {
        return raise_ctx(comm, rc, fn);
    }
    if (anybad) {
        if (member) {
            ctx_release(ctx);
        }
        return sf_mpi__raise(comm, MPI_ERR_GROUP, fn,
                             "the group has members outside %s (at some rank)",
                             sf_mpi__comm_name(comm));
    }
    if (!member) {
        *newcomm = MPI_COMM_NULL;
        return MPI_SUCCESS;
    }
    struct ompi_communicator_t *c = comm_new(comm, ctx, group->rank, group->size, group->world);
    if (c == NULL) {
        ctx_release(ctx);
        return sf_mpi__raise(comm, MPI_ERR_NO_MEM, fn, "out of memory");
    }
    *newcomm = c;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Comm_create);

/* OR-allreduce of n words among the group members only (binomial tree to
 * member 0 and back), over comm's point-to-point context with an internal
 * tag derived from the program's tag. Members match each other by their
 * ranks in comm, so concurrent create_group calls on other groups (other
 * tags) cannot be confused with this one. */
static int group_or(MPI_Comm comm, MPI_Group g, const int *prank, int tag, uint64_t *buf, size_t n)
{
    int me = g->rank, sz = g->size;
    int t = TAG_CREATE_GROUP(tag);
    size_t len = n * sizeof(uint64_t);
    uint64_t *tmp = malloc(len);
    if (tmp == NULL) {
        return -ENOMEM;
    }
    int rc = 0, mask;
    for (mask = 1; mask < sz && rc == 0; mask <<= 1) {
        if (me & mask) {
            int to = me - mask;
            rc = xfer(comm->ctx, t, comm->rank, buf, len, g->world[to], NULL, 0, SF_RT_PROC_NULL);
            break;
        }
        if (me + mask < sz) {
            rc = xfer(comm->ctx, t, comm->rank, NULL, 0, SF_RT_PROC_NULL, tmp, len,
                      prank[me + mask]);
            if (rc == 0) {
                bor_u64(tmp, buf, n, NULL);
            }
        }
    }
    /* Broadcast back down the same tree: from the parent (own rank less
     * its lowest set bit), then to the children below that bit. */
    if (rc == 0 && me != 0) {
        rc = xfer(comm->ctx, t, comm->rank, NULL, 0, SF_RT_PROC_NULL, buf, len,
                  prank[me - (me & -me)]);
    }
    int top = 1;
    while (top < sz) {
        top <<= 1;
    }
    for (mask = (me == 0 ? top : (me & -me)) >> 1; rc == 0 && mask > 0; mask >>= 1) {
        if (me + mask < sz) {
            rc = xfer(comm->ctx, t, comm->rank, buf, len, g->world[me + mask], NULL, 0,
                      SF_RT_PROC_NULL);
        }
    }
    free(tmp);
    return rc;
}

int PMPI_Comm_create_group(MPI_Comm comm, MPI_Group group, int tag, MPI_Comm *newcomm)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Comm_create_group";
    int err = chk_comm_out(fn, comm, newcomm);
    if (!err) {
        err = sf_mpi__chk_intra(fn, comm);
    }
    if (!err) {
        err = sf_mpi__chk_tag(fn, comm, tag, false);
    }
    if (err) {
        return err;
    }
    if (!group_valid(group)) {
        return sf_mpi__raise(comm, MPI_ERR_GROUP, fn, "invalid group");
    }
    if (group->rank == MPI_UNDEFINED) {
        *newcomm = MPI_COMM_NULL;
        return MPI_SUCCESS;
    }
    int *prank = malloc(sizeof(int) * (size_t)group->size);
    if (prank == NULL) {
        return sf_mpi__raise(comm, MPI_ERR_NO_MEM, fn, "out of memory");
    }
    if (group_in_comm(comm, group, prank) < 0) {
        free(prank);
        return sf_mpi__raise(comm, MPI_ERR_GROUP, fn, "the group has members outside %s",
                             sf_mpi__comm_name(comm));
    }
    uint64_t used[CTX_WORDS];
    memcpy(used, sf_mpi__st.ctx_used, sizeof(used));
    int rc = group_or(comm, group, prank, tag, used, CTX_WORDS);
    free(prank);
    uint32_t ctx = 0;
    if (rc == 0) {
        rc = ctx_pick(used, &ctx);
    }
    if (rc < 0) {
        return raise_ctx(comm, rc, fn);
    }
    ctx_take(ctx);
    struct ompi_communicator_t *c = comm_new(comm, ctx, group->rank, group->size, group->world);
    if (c == NULL) {
        ctx_release(ctx);
        return sf_mpi__raise(comm, MPI_ERR_NO_MEM, fn, "out of memory");
    }
    *newcomm = c;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Comm_create_group);

/* --- inter-communicators --- */

int PMPI_Intercomm_create(MPI_Comm local_comm, int local_leader, MPI_Comm peer_comm,
                          int remote_leader, int tag, MPI_Comm *newintercomm)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Intercomm_create";
    int err = chk_comm_out(fn, local_comm, newintercomm);
    if (!err) {
        err = sf_mpi__chk_intra(fn, local_comm);
    }
    if (!err) {
        err = sf_mpi__chk_root(fn, local_comm, local_leader);
    }
    if (!err) {
        err = sf_mpi__chk_tag(fn, local_comm, tag, false);
    }
    if (err) {
        return err;
    }
    bool leader = local_comm->rank == local_leader;
    /* A bad peer argument at the leader is reported after the group's
     * broadcast, so the other members do not wait forever. */
    bool peer_bad = leader && (!sf_mpi__comm_ok(peer_comm) || peer_comm->is_null ||
                               peer_comm->is_inter || remote_leader < 0 ||
                               remote_leader >= peer_comm->size);
    /* 1: the local group's used contexts. */
    uint64_t used[CTX_WORDS + 1], rem[CTX_WORDS + 1] = {0};
    memcpy(used, sf_mpi__st.ctx_used, sizeof(uint64_t) * CTX_WORDS);
    struct sf_coll_op op = {.fn = bor_u64, .commutative = true, .elem_size = sizeof(uint64_t)};
    int rc = sf_coll_allreduce(&local_comm->coll, NULL, used, CTX_WORDS, &op);
    if (rc < 0) {
        return sf_mpi__raise_rt(local_comm, rc, fn);
    }
    /* 2: the leaders swap [bitmap | size] and then their groups' world
     * ranks over peer_comm; 3: each leader broadcasts [ctx | remote size]
     * and the remote ranks to its group. */
    uint64_t hdr[2] = {0, 0};
    int *rworld = NULL;
    if (peer_bad) {
        hdr[0] = UINT64_MAX;
        hdr[1] = MPI_ERR_ARG;
    } else if (leader) {
        int t = TAG_INTER_CREATE(tag);
        int pdest = peer_comm->world[remote_leader];
        used[CTX_WORDS] = (uint64_t)local_comm->size;
        rc = xfer(peer_comm->ctx, t, peer_comm->rank, used, sizeof(used), pdest, rem, sizeof(rem),
                  remote_leader);
        int rsize = rc == 0 ? (int)rem[CTX_WORDS] : 0;
        if (rc == 0) {
            rworld = malloc(sizeof(int) * (size_t)(rsize > 0 ? rsize : 1));
            rc = rworld == NULL ? -ENOMEM : 0;
        }
        if (rc == 0) {
            rc = xfer(peer_comm->ctx, t, peer_comm->rank, local_comm->world,
                      sizeof(int) * (size_t)local_comm->size, pdest, rworld,
                      sizeof(int) * (size_t)rsize, remote_leader);
        }
        uint32_t ctx = 0;
        if (rc == 0) {
            bor_u64(rem, used, CTX_WORDS, NULL);
            rc = ctx_pick(used, &ctx);
        }
        hdr[0] = rc == 0 ? ctx : UINT64_MAX;
        hdr[1] = rc == 0 ? (uint64_t)rsize : (uint64_t)MPI_ERR_OTHER;
    }
    /* Non-leaders always join the broadcast; a failed leader sends a
     * failure marker so nobody waits forever. */
    int rc2 = sf_coll_bcast(&local_comm->coll, hdr, sizeof(hdr), local_leader);
    if (rc2 == 0 && hdr[0] != UINT64_MAX) {
        if (!leader) {
            rworld = malloc(sizeof(int) * (size_t)(hdr[1] > 0 ? hdr[1] : 1));
            if (rworld == NULL) {
                return sf_mpi__raise(local_comm, MPI_ERR_NO_MEM, fn, "out of memory");
            }
        }
        rc2 = sf_coll_bcast(&local_comm->coll, rworld, sizeof(int) * (size_t)hdr[1], local_leader);
    }
    if (rc < 0 || rc2 < 0) {
        free(rworld);
        return raise_ctx(local_comm, rc < 0 ? rc : rc2, fn);
    }
    if (hdr[0] == UINT64_MAX) {
        free(rworld);
        if (peer_bad) {
            return sf_mpi__raise(local_comm, MPI_ERR_ARG, fn,
                                 "invalid peer communicator or remote leader %d", remote_leader);
        }
        return sf_mpi__raise(local_comm, (int)hdr[1], fn,
                             "the local leader (rank %d) failed to set up the "
                             "inter-communicator",
                             local_leader);
    }
    uint32_t ctx = (uint32_t)hdr[0];
    int rsize = (int)hdr[1];
    for (int i = 0; i < rsize; i++) {
        for (int j = 0; j < local_comm->size; j++) {
            if (rworld[i] == local_comm->world[j]) {
                free(rworld);
                return sf_mpi__raise(local_comm, MPI_ERR_COMM, fn,
                                     "the local and remote groups overlap (world rank %d)",
                                     local_comm->world[j]);
            }
        }
    }
    ctx_take(ctx);
    struct ompi_communicator_t *c = comm_new(local_comm, ctx, local_comm->rank, rsize, rworld);
    free(rworld);
    int *lw = malloc(sizeof(int) * (size_t)local_comm->size);
    if (c == NULL || lw == NULL) {
        free(lw);
        if (c != NULL) {
            comm_destroy(c);
        } else {
            ctx_release(ctx);
        }
        return sf_mpi__raise(local_comm, MPI_ERR_NO_MEM, fn, "out of memory");
    }
    memcpy(lw, local_comm->world, sizeof(int) * (size_t)local_comm->size);
    c->is_inter = true;
    c->local_size = local_comm->size;
    c->local_world = lw;
    c->coll.size = local_comm->size;
    c->coll.world = lw;
    *newintercomm = c;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Intercomm_create);

int PMPI_Intercomm_merge(MPI_Comm intercomm, int high, MPI_Comm *newintracomm)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Intercomm_merge";
    int err = chk_comm_out(fn, intercomm, newintracomm);
    if (err) {
        return err;
    }
    if (!intercomm->is_inter) {
        return sf_mpi__raise(intercomm, MPI_ERR_COMM, fn, "%s is not an inter-communicator",
                             sf_mpi__comm_name(intercomm));
    }
    /* The group that passed high = false comes first; on a tie the group
     * whose leader has the lower world rank. */
    uint64_t mine = (uint64_t)(high != 0) << 32 | (uint32_t)intercomm->local_world[0];
    uint64_t theirs = 0;
    uint32_t ctx;
    int rc = inter_agree(intercomm, mine, &theirs, &ctx);
    if (rc < 0) {
        return raise_ctx(intercomm, rc, fn);
    }
    bool first =
        (mine >> 32) != (theirs >> 32) ? (mine >> 32) == 0 : (uint32_t)mine < (uint32_t)theirs;
    int ln = intercomm->local_size, rn = intercomm->size, n = ln + rn;
    int *w = malloc(sizeof(int) * (size_t)n);
    if (w == NULL) {
        ctx_release(ctx);
        return sf_mpi__raise(intercomm, MPI_ERR_NO_MEM, fn, "out of memory");
    }
    const int *a = first ? intercomm->local_world : intercomm->world;
    const int *b = first ? intercomm->world : intercomm->local_world;
    memcpy(w, a, sizeof(int) * (size_t)(first ? ln : rn));
    memcpy(w + (first ? ln : rn), b, sizeof(int) * (size_t)(first ? rn : ln));
    int me = first ? intercomm->rank : rn + intercomm->rank;
    struct ompi_communicator_t *c = comm_new(intercomm, ctx, me, n, w);
    free(w);
    if (c == NULL) {
        ctx_release(ctx);
        return sf_mpi__raise(intercomm, MPI_ERR_NO_MEM, fn, "out of memory");
    }
    *newintracomm = c;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Intercomm_merge);

int PMPI_Comm_remote_size(MPI_Comm comm, int *size)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Comm_remote_size";
    int err = chk_comm_out(fn, comm, size);
    if (err) {
        return err;
    }
    if (!comm->is_inter) {
        return sf_mpi__raise(comm, MPI_ERR_COMM, fn, "%s is not an inter-communicator",
                             sf_mpi__comm_name(comm));
    }
    *size = comm->size;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Comm_remote_size);

int PMPI_Comm_test_inter(MPI_Comm comm, int *flag)
{
    SF_MPI_ENTER();
    int err = chk_comm_out("MPI_Comm_test_inter", comm, flag);
    if (err) {
        return err;
    }
    *flag = comm->is_inter;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Comm_test_inter);

/* --- names, info, comparison --- */

int PMPI_Comm_get_name(MPI_Comm comm, char *comm_name, int *resultlen)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Comm_get_name";
    int err = sf_mpi__chk_init(fn);
    if (!err) {
        err = sf_mpi__comm_ok(comm)
                  ? 0
                  : sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_COMM, fn, "invalid communicator");
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
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Comm_set_name";
    int err = chk_comm_out(fn, comm, comm_name);
    if (err) {
        return err;
    }
    snprintf(comm->name, sizeof(comm->name), "%s", comm_name);
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Comm_set_name);

int PMPI_Comm_set_info(MPI_Comm comm, MPI_Info info)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Comm_set_info";
    int err = sf_mpi__chk_init(fn);
    if (!err) {
        err = sf_mpi__chk_comm(fn, comm);
    }
    if (err) {
        return err;
    }
    if (!sf_mpi__info_ok(info, false)) {
        return sf_mpi__raise(comm, MPI_ERR_INFO, fn, "invalid info");
    }
    /* No hint changes behaviour yet; keep them so Comm_get_info shows them. */
    struct ompi_info_t *copy = sf_mpi__info_dup(info, &err);
    if (copy == NULL) {
        return sf_mpi__raise(comm, err, fn, "cannot copy the info");
    }
    sf_mpi__info_free(comm->info);
    comm->info = copy;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Comm_set_info);

int PMPI_Comm_get_info(MPI_Comm comm, MPI_Info *info_used)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Comm_get_info";
    int err = chk_comm_out(fn, comm, info_used);
    if (err) {
        return err;
    }
    if (comm->info != NULL) {
        *info_used = sf_mpi__info_dup(comm->info, &err);
    } else {
        err = PMPI_Info_create(info_used) == MPI_SUCCESS ? 0 : MPI_ERR_NO_MEM;
        if (err) {
            *info_used = NULL;
        }
    }
    if (*info_used == NULL) {
        return sf_mpi__raise(comm, err ? err : MPI_ERR_NO_MEM, fn, "cannot create the info");
    }
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Comm_get_info);

/* IDENT/CONGRUENT/SIMILAR/UNEQUAL for two member lists. */
static int cmp_lists(int n1, const int *w1, int n2, const int *w2)
{
    if (n1 != n2) {
        return MPI_UNEQUAL;
    }
    bool same = true, similar = true;
    for (int i = 0; i < n1; i++) {
        same = same && w1[i] == w2[i];
        bool found = false;
        for (int j = 0; j < n2 && !found; j++) {
            found = w1[i] == w2[j];
        }
        similar = similar && found;
    }
    return same ? MPI_CONGRUENT : similar ? MPI_SIMILAR : MPI_UNEQUAL;
}

int PMPI_Comm_compare(MPI_Comm comm1, MPI_Comm comm2, int *result)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Comm_compare";
    int err = chk_comm_out(fn, comm1, result);
    if (!err) {
        err = sf_mpi__chk_comm(fn, comm2);
    }
    if (err) {
        return err;
    }
    if (comm1 == comm2) {
        *result = MPI_IDENT;
        return MPI_SUCCESS;
    }
    if (comm1->is_inter != comm2->is_inter) {
        *result = MPI_UNEQUAL;
        return MPI_SUCCESS;
    }
    int r = cmp_lists(comm1->size, comm1->world, comm2->size, comm2->world);
    if (comm1->is_inter && r != MPI_UNEQUAL) {
        int l =
            cmp_lists(comm1->local_size, comm1->local_world, comm2->local_size, comm2->local_world);
        r = l > r ? l : r;
    }
    *result = r;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Comm_compare);
