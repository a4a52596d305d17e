/* Non-blocking neighbourhood collectives (Cartesian with MPI_PROC_NULL
 * edges and self/duplicate neighbours, graph and distributed graph with
 * duplicate edges, non-contiguous types) and inter-communicator
 * collectives, blocking and non-blocking, on unequal halves: every result
 * is checked against values computed from the senders' ranks. Any size;
 * meant for 1..8 ranks. Builds with Open MPI's mpicc too; under Open MPI
 * 4.1's own runtime the Cartesian part fails: its non-blocking neighbour
 * collectives pair the blocks of a periodic dimension of 1 or 2 processes
 * in list order, against the MPI-4.0 errata for MPI-3.1 followed here. */
#include "mt.h"

#include <stdint.h>

/* ---------------- neighbourhood collectives ---------------- */

/* Ineighbor_* (waited for at once or after a second one started) against
 * expected blocks: exp_a2a[k] is what the alltoall block of in-slot k
 * must hold (s * 100 + sender's slot), exp_src[k] the in-neighbour. */
static void nbr_check(MPI_Comm c, int nin, const int *src, int nout, const int *exp_a2a,
                      const int *out_to_slot, const char *what)
{
    int r;
    OK(MPI_Comm_rank(c, &r));
    int sb[16], rb[16], rb2[16];
    CHECK(nin <= 16 && nout <= 16, "degree");
    for (int i = 0; i < nout; i++) {
        sb[i] = r * 100 + i;
    }
    for (int k = 0; k < nin; k++) {
        rb[k] = rb2[k] = -1;
    }
    /* alltoall and allgather at once, waited for in reverse order */
    MPI_Request q[2];
    int ag[16];
    for (int k = 0; k < nin; k++) {
        ag[k] = -1;
    }
    OK(MPI_Ineighbor_alltoall(sb, 1, MPI_INT, rb, 1, MPI_INT, c, &q[0]));
    OK(MPI_Ineighbor_allgather(&r, 1, MPI_INT, ag, 1, MPI_INT, c, &q[1]));
    OK(MPI_Wait(&q[1], MPI_STATUS_IGNORE));
    OK(MPI_Wait(&q[0], MPI_STATUS_IGNORE));
    OK(MPI_Neighbor_alltoall(sb, 1, MPI_INT, rb2, 1, MPI_INT, c));
    for (int k = 0; k < nin; k++) {
        CHECK(rb[k] == exp_a2a[k], "%s ialltoall slot %d: %d want %d", what, k, rb[k], exp_a2a[k]);
        CHECK(rb2[k] == exp_a2a[k], "%s alltoall slot %d: %d want %d", what, k, rb2[k], exp_a2a[k]);
        int want = src[k] == MPI_PROC_NULL ? -1 : src[k];
        CHECK(ag[k] == want, "%s iallgather slot %d: %d want %d", what, k, ag[k], want);
    }
    /* allgatherv: sender s sends 1 + s % 3 ints s * 10 + e, slots land
     * with a gap of one int between them */
    int agv[16 * 4], rc[16], rd[16], mine[3];
    for (int e = 0; e < 3; e++) {
        mine[e] = r * 10 + e;
    }
    int off = 0;
    for (int k = 0; k < nin; k++) {
        rc[k] = src[k] == MPI_PROC_NULL ? 0 : 1 + src[k] % 3;
        rd[k] = off;
        off += rc[k] + 1;
    }
    for (int i = 0; i < off; i++) {
        agv[i] = -7;
    }
    MPI_Request q1;
    OK(MPI_Ineighbor_allgatherv(mine, 1 + r % 3, MPI_INT, agv, rc, rd, MPI_INT, c, &q1));
    OK(MPI_Wait(&q1, MPI_STATUS_IGNORE));
    for (int k = 0; k < nin; k++) {
        for (int e = 0; e < rc[k]; e++) {
            CHECK(agv[rd[k] + e] == src[k] * 10 + e, "%s iallgatherv slot %d[%d]: %d", what, k, e,
                  agv[rd[k] + e]);
        }
        CHECK(agv[rd[k] + rc[k]] == -7, "%s iallgatherv gap after slot %d", what, k);
    }
    /* alltoallv: out-slot i carries 2 + i % 2 ints, sender * 1000 + i * 10
     * + e; in-slot k gets the sender's slot out_to_slot[k] */
    int sv[16 * 3], sc[16], sd[16], rv[16 * 4], rcv[16], rdv[16];
    off = 0;
    for (int i = 0; i < nout; i++) {
        sc[i] = 2 + i % 2;
        sd[i] = off;
        for (int e = 0; e < sc[i]; e++) {
            sv[off + e] = r * 1000 + i * 10 + e;
        }
        off += sc[i];
    }
    off = 0;
    for (int k = 0; k < nin; k++) {
        rcv[k] = src[k] == MPI_PROC_NULL ? 0 : 2 + out_to_slot[k] % 2;
        rdv[k] = off;
        off += rcv[k] + 1;
    }
    for (int i = 0; i < off; i++) {
        rv[i] = -7;
    }
    MPI_Request q2;
    OK(MPI_Ineighbor_alltoallv(sv, sc, sd, MPI_INT, rv, rcv, rdv, MPI_INT, c, &q2));
    OK(MPI_Wait(&q2, MPI_STATUS_IGNORE));
    for (int k = 0; k < nin; k++) {
        for (int e = 0; e < rcv[k]; e++) {
            int want = src[k] * 1000 + out_to_slot[k] * 10 + e;
            CHECK(rv[rdv[k] + e] == want, "%s ialltoallv slot %d[%d]: %d want %d", what, k, e,
                  rv[rdv[k] + e], want);
        }
        CHECK(rv[rdv[k] + rcv[k]] == -7, "%s ialltoallv gap after slot %d", what, k);
    }
    /* alltoallw: 2 ints sent contiguous, received through a strided type
     * (every other int), blocks at byte offsets in reverse order */
    MPI_Datatype vec;
    OK(MPI_Type_vector(2, 1, 2, MPI_INT, &vec));
    OK(MPI_Type_commit(&vec));
    int ws[16 * 2], wr[16 * 4], wc[16], rcw[16];
    MPI_Aint wsd[16], wrd[16];
    MPI_Datatype wst[16], wrt[16];
    for (int i = 0; i < nout; i++) {
        ws[2 * i] = r * 100 + i;
        ws[2 * i + 1] = -(r * 100 + i);
        wc[i] = 2;
        wsd[i] = (MPI_Aint)(2 * i * sizeof(int));
        wst[i] = MPI_INT;
    }
    for (int k = 0; k < nin; k++) {
        rcw[k] = 1;
        wrd[k] = (MPI_Aint)(4 * (nin - 1 - k) * sizeof(int));
        wrt[k] = vec;
    }
    for (int i = 0; i < 4 * nin; i++) {
        wr[i] = -7;
    }
    MPI_Request q3;
    OK(MPI_Ineighbor_alltoallw(ws, wc, wsd, wst, wr, rcw, wrd, wrt, c, &q3));
    OK(MPI_Type_free(&vec)); /* still in use by q3 */
    OK(MPI_Wait(&q3, MPI_STATUS_IGNORE));
    for (int k = 0; k < nin; k++) {
        int *b = wr + 4 * (nin - 1 - k);
        int want = exp_a2a[k];
        if (src[k] == MPI_PROC_NULL) {
            CHECK(b[0] == -7 && b[2] == -7, "%s ialltoallw PROC_NULL slot %d written", what, k);
        } else {
            CHECK(b[0] == want && b[2] == -want && b[1] == -7 && b[3] == -7,
                  "%s ialltoallw slot %d: %d %d %d %d want %d", what, k, b[0], b[1], b[2], b[3],
                  want);
        }
    }
}

/* Cartesian: slot k comes from in-neighbour k's slot k ^ 1. */
static void nbr_cart(MPI_Comm base, int ndims, const int *dims, const int *periods,
                     const char *what)
{
    MPI_Comm c;
    OK(MPI_Cart_create(base, ndims, dims, periods, 0, &c));
    if (c == MPI_COMM_NULL) {
        return;
    }
    int src[16], exp_a2a[16], slot[16];
    for (int d = 0; d < ndims; d++) {
        OK(MPI_Cart_shift(c, d, 1, &src[2 * d], &src[2 * d + 1]));
    }
    for (int k = 0; k < 2 * ndims; k++) {
        slot[k] = k ^ 1;
        exp_a2a[k] = src[k] == MPI_PROC_NULL ? -1 : src[k] * 100 + slot[k];
    }
    nbr_check(c, 2 * ndims, src, 2 * ndims, exp_a2a, slot, what);
    OK(MPI_Comm_free(&c));
}

/* Order-matched topologies (graph, dist graph): the m-th receive slot
 * naming s gets the m-th of s's out-slots naming us. outs(s, list)
 * fills s's out-list and returns its length. */
static void expect_ordered(int me, int nin, const int *src, int (*outs)(int, int, int *), int n,
                           int *exp_a2a, int *slot)
{
    for (int k = 0; k < nin; k++) {
        int m = 0;
        for (int j = 0; j < k; j++) {
            m += src[j] == src[k];
        }
        int ol[16], no = outs(src[k], n, ol), hit = -1;
        for (int i = 0; i < no && hit < 0; i++) {
            if (ol[i] == me && m-- == 0) {
                hit = i;
            }
        }
        CHECK(hit >= 0, "no out-slot of %d for in-slot %d", src[k], k);
        slot[k] = hit;
        exp_a2a[k] = src[k] * 100 + hit;
    }
}

/* Graph: a ring with every edge doubled: i -> i+1, i+1, i-1, i-1. */
static int ring2(int i, int n, int *l)
{
    l[0] = l[1] = (i + 1) % n;
    l[2] = l[3] = (i - 1 + n) % n;
    return 4;
}

/* Dist graph: destinations i+1, i+1, i-2; sources i-1, i-1, i+2. */
static int dg_out(int i, int n, int *l)
{
    l[0] = l[1] = (i + 1) % n;
    l[2] = ((i - 2) % n + n) % n;
    return 3;
}

static void nbr_graphs(void)
{
    int n = mt_size;
    int *index = malloc(sizeof(int) * (size_t)n), *edges = malloc(sizeof(int) * 4 * (size_t)n);
    for (int i = 0; i < n; i++) {
        index[i] = 4 * (i + 1);
        ring2(i, n, edges + 4 * i);
    }
    MPI_Comm g;
    OK(MPI_Graph_create(MPI_COMM_WORLD, n, index, edges, 0, &g));
    int src[16], exp_a2a[16], slot[16];
    ring2(mt_rank, n, src);
    expect_ordered(mt_rank, 4, src, ring2, n, exp_a2a, slot);
    nbr_check(g, 4, src, 4, exp_a2a, slot, "graph");
    OK(MPI_Comm_free(&g));
    free(index);
    free(edges);

    int dsts[3], srcs[3] = {(mt_rank - 1 + n) % n, (mt_rank - 1 + n) % n, (mt_rank + 2) % n};
    int w[3] = {1, 2, 3};
    dg_out(mt_rank, n, dsts);
    MPI_Comm dg;
    OK(MPI_Dist_graph_create_adjacent(MPI_COMM_WORLD, 3, srcs, w, 3, dsts, w, MPI_INFO_NULL, 0,
                                      &dg));
    expect_ordered(mt_rank, 3, srcs, dg_out, n, exp_a2a, slot);
    nbr_check(dg, 3, srcs, 3, exp_a2a, slot, "dist graph");
    OK(MPI_Comm_free(&dg));
}

/* A star: member 0 sends to all others, which send nothing; degrees of
 * zero on one side. And a communicator without a topology is refused. */
static void nbr_star(void)
{
    int n = mt_size, me = mt_rank;
    /* weights given (Open MPI's MPI_UNWEIGHTED is a zero-length array,
     * which gcc's overread check flags) */
    int *others = malloc(sizeof(int) * (size_t)n), *wts = malloc(sizeof(int) * (size_t)n);
    int zero = 0;
    for (int i = 0; i < n; i++) {
        others[i] = i + 1;
        wts[i] = 1;
    }
    MPI_Comm st;
    OK(MPI_Dist_graph_create_adjacent(MPI_COMM_WORLD, me == 0 ? 0 : 1, &zero, wts,
                                      me == 0 ? n - 1 : 0, others, wts, MPI_INFO_NULL, 0, &st));
    int got = -1, val0 = 4711;
    MPI_Request q;
    OK(MPI_Ineighbor_allgather(&val0, 1, MPI_INT, &got, 1, MPI_INT, st, &q));
    OK(MPI_Wait(&q, MPI_STATUS_IGNORE));
    CHECK(got == (me == 0 ? -1 : 4711), "star allgather got %d", got);
    OK(MPI_Comm_free(&st));
    free(others);
    free(wts);
    char lib[MPI_MAX_LIBRARY_VERSION_STRING];
    int len, cls;
    MPI_Get_library_version(lib, &len);
    if (strstr(lib, "Starfish") != NULL) {
        MPI_Comm d;
        OK(MPI_Comm_dup(MPI_COMM_WORLD, &d));
        OK(MPI_Comm_set_errhandler(d, MPI_ERRORS_RETURN));
        int e = MPI_Ineighbor_alltoall(&val0, 1, MPI_INT, &got, 1, MPI_INT, d, &q);
        MPI_Error_class(e, &cls);
        CHECK(cls == MPI_ERR_TOPOLOGY, "no topology gave %d", e);
        OK(MPI_Comm_free(&d));
    }
}

static void nbr_all(void)
{
    int d2[2] = {0, 0}, per[2] = {1, 0};
    OK(MPI_Dims_create(mt_size, 2, d2));
    nbr_cart(MPI_COMM_WORLD, 2, d2, per, "cart periodic x non-periodic");
    int per11[2] = {1, 1};
    nbr_cart(MPI_COMM_WORLD, 2, d2, per11, "cart periodic x periodic");
    /* one process per dimension, periodic: self as both neighbours */
    int one[3] = {1, 1, 1}, p3[3] = {1, 0, 1};
    nbr_cart(MPI_COMM_SELF, 3, one, p3, "cart self");
    /* two processes, periodic: the same neighbour on both sides */
    if (mt_size >= 2) {
        int two[1] = {2}, pp[1] = {1};
        nbr_cart(MPI_COMM_WORLD, 1, two, pp, "cart ring of two");
    }
    nbr_graphs();
    nbr_star();
    SAY("ineighbor_allgather(v)/alltoall(v,w): cart/graph/dist graph ok");
}

/* ---------------- inter-communicator collectives ---------------- */

static MPI_Comm ic;
static int grp, lsz, rsz, lr; /* my group (0/1), local size, remote size, local rank */

/* What member r of group g contributes, element e. */
static int val(int g, int r, int e)
{
    return 100000 * (g + 1) + 100 * r + e;
}

/* Run the blocking call, or its I-version then wait. */
#define RUN(nb, blk, ...)                                                                          \
    do {                                                                                           \
        if (nb) {                                                                                  \
            MPI_Request rq_;                                                                       \
            OK(__VA_ARGS__);                                                                       \
            OK(MPI_Wait(&rq_, MPI_STATUS_IGNORE));                                                 \
        } else {                                                                                   \
            OK(blk);                                                                               \
        }                                                                                          \
    } while (0)

/* Leftmost and rightmost operand: associative, not commutative. */
static void op_left(void *in, void *inout, int *len, MPI_Datatype *t)
{
    (void)t;
    memcpy(inout, in, sizeof(int) * (size_t)*len);
}
static void op_right(void *in, void *inout, int *len, MPI_Datatype *t)
{
    (void)in;
    (void)inout;
    (void)len;
    (void)t;
}

static void ic_rooted(int nb)
{
    const char *how = nb ? "non-blocking" : "blocking";
    int big = 20000;
    int *buf = malloc(sizeof(int) * (size_t)big);
    /* bcast from group 0's last member, then from group 1's member 1 (or 0) */
    for (int pass = 0; pass < 2; pass++) {
        int rg = pass,
            rroot = pass == 0 ? (grp == 0 ? lsz - 1 : rsz - 1) : (grp == 1 ? (lsz > 1) : (rsz > 1));
        int root = grp == rg ? (lr == rroot ? MPI_ROOT : MPI_PROC_NULL) : rroot;
        for (int e = 0; e < big; e++) {
            buf[e] = root == MPI_ROOT ? val(rg, rroot, e) : -1;
        }
        RUN(nb, MPI_Bcast(buf, big, MPI_INT, root, ic),
            MPI_Ibcast(buf, big, MPI_INT, root, ic, &rq_));
        for (int e = 0; e < big; e++) {
            int want = root == MPI_PROC_NULL ? -1 : val(rg, rroot, e);
            CHECK(buf[e] == want, "%s bcast pass %d [%d]: %d want %d", how, pass, e, buf[e], want);
        }
    }
    /* reduce to group 1's member 0: sum, leftmost, rightmost of group 0 */
    MPI_Op ops[3] = {MPI_SUM, MPI_OP_NULL, MPI_OP_NULL};
    OK(MPI_Op_create(op_left, 0, &ops[1]));
    OK(MPI_Op_create(op_right, 0, &ops[2]));
    int g0 = grp == 0 ? lsz : rsz;
    for (int o = 0; o < 3; o++) {
        int root = grp == 1 ? (lr == 0 ? MPI_ROOT : MPI_PROC_NULL) : 0;
        int sb[5], rb[5] = {-1, -1, -1, -1, -1};
        for (int e = 0; e < 5; e++) {
            sb[e] = val(grp, lr, e);
        }
        RUN(nb, MPI_Reduce(sb, rb, 5, MPI_INT, ops[o], root, ic),
            MPI_Ireduce(sb, rb, 5, MPI_INT, ops[o], root, ic, &rq_));
        for (int e = 0; e < 5; e++) {
            int want = -1;
            if (root == MPI_ROOT) {
                want = 0;
                for (int i = 0; i < g0; i++) {
                    want += val(0, i, e);
                }
                want = o == 0 ? want : o == 1 ? val(0, 0, e) : val(0, g0 - 1, e);
            }
            CHECK(rb[e] == want, "%s reduce op %d [%d]: %d want %d", how, o, e, rb[e], want);
        }
    }
    OK(MPI_Op_free(&ops[1]));
    OK(MPI_Op_free(&ops[2]));
    /* gather to group 0's member 0: group 1 sends 3 ints each */
    {
        int root = grp == 0 ? (lr == 0 ? MPI_ROOT : MPI_PROC_NULL) : 0;
        int sb[3], *rb = malloc(sizeof(int) * 3 * (size_t)rsz);
        for (int e = 0; e < 3; e++) {
            sb[e] = val(grp, lr, e);
        }
        for (int i = 0; i < 3 * rsz; i++) {
            rb[i] = -1;
        }
        RUN(nb, MPI_Gather(sb, 3, MPI_INT, rb, 3, MPI_INT, root, ic),
            MPI_Igather(sb, 3, MPI_INT, rb, 3, MPI_INT, root, ic, &rq_));
        if (root == MPI_ROOT) {
            for (int i = 0; i < rsz; i++) {
                for (int e = 0; e < 3; e++) {
                    CHECK(rb[3 * i + e] == val(1, i, e), "%s gather %d[%d]: %d", how, i, e,
                          rb[3 * i + e]);
                }
            }
        }
        free(rb);
    }
    /* gatherv to group 1's last member: member i of group 0 sends i + 1 */
    {
        int rroot = grp == 1 ? lsz - 1 : rsz - 1;
        int root = grp == 1 ? (lr == rroot ? MPI_ROOT : MPI_PROC_NULL) : rroot;
        int sb[16], rb[256], rc[16], rd[16], off = 0;
        for (int e = 0; e <= lr; e++) {
            sb[e] = val(grp, lr, e);
        }
        for (int i = 0; i < rsz && i < 16; i++) {
            rc[i] = i + 1;
            rd[i] = off;
            off += i + 2;
        }
        for (int i = 0; i < 256; i++) {
            rb[i] = -1;
        }
        RUN(nb, MPI_Gatherv(sb, lr + 1, MPI_INT, rb, rc, rd, MPI_INT, root, ic),
            MPI_Igatherv(sb, lr + 1, MPI_INT, rb, rc, rd, MPI_INT, root, ic, &rq_));
        if (root == MPI_ROOT) {
            for (int i = 0; i < rsz; i++) {
                for (int e = 0; e <= i; e++) {
                    CHECK(rb[rd[i] + e] == val(0, i, e), "%s gatherv %d[%d]: %d", how, i, e,
                          rb[rd[i] + e]);
                }
                CHECK(rb[rd[i] + i + 1] == -1, "%s gatherv gap %d", how, i);
            }
        }
    }
    /* scatter from group 1's member 0: 2 ints to each of group 0, through
     * a strided receive type */
    {
        int root = grp == 1 ? (lr == 0 ? MPI_ROOT : MPI_PROC_NULL) : 0;
        int *sb = malloc(sizeof(int) * 2 * (size_t)rsz), rb[4] = {-1, -1, -1, -1};
        for (int i = 0; i < rsz; i++) {
            sb[2 * i] = val(0, i, 0);
            sb[2 * i + 1] = val(0, i, 1);
        }
        MPI_Datatype vec;
        OK(MPI_Type_vector(2, 1, 2, MPI_INT, &vec));
        OK(MPI_Type_commit(&vec));
        RUN(nb, MPI_Scatter(sb, 2, MPI_INT, rb, 1, vec, root, ic),
            MPI_Iscatter(sb, 2, MPI_INT, rb, 1, vec, root, ic, &rq_));
        OK(MPI_Type_free(&vec));
        if (grp == 0) {
            CHECK(rb[0] == val(0, lr, 0) && rb[2] == val(0, lr, 1) && rb[1] == -1,
                  "%s scatter: %d %d %d", how, rb[0], rb[1], rb[2]);
        } else {
            CHECK(rb[0] == -1, "%s scatter wrote at the root's group", how);
        }
        free(sb);
    }
    /* scatterv from group 0's last member: member i of group 1 gets i + 1 */
    {
        int rroot = grp == 0 ? lsz - 1 : rsz - 1;
        int root = grp == 0 ? (lr == rroot ? MPI_ROOT : MPI_PROC_NULL) : rroot;
        int sb[256], sc[16], sd[16], rb[17], off = 0;
        for (int i = 0; i < rsz && i < 16; i++) {
            sc[i] = i + 1;
            sd[i] = off;
            for (int e = 0; e <= i; e++) {
                sb[off + e] = val(1, i, e);
            }
            off += i + 2;
        }
        for (int e = 0; e < 17; e++) {
            rb[e] = -1;
        }
        RUN(nb, MPI_Scatterv(sb, sc, sd, MPI_INT, rb, lr + 1, MPI_INT, root, ic),
            MPI_Iscatterv(sb, sc, sd, MPI_INT, rb, lr + 1, MPI_INT, root, ic, &rq_));
        if (grp == 1) {
            for (int e = 0; e <= lr; e++) {
                CHECK(rb[e] == val(1, lr, e), "%s scatterv [%d]: %d", how, e, rb[e]);
            }
            CHECK(rb[lr + 1] == -1, "%s scatterv overran", how);
        }
    }
    free(buf);
}

static void ic_all(int nb)
{
    const char *how = nb ? "non-blocking" : "blocking";
    if (nb) {
        MPI_Request rq;
        OK(MPI_Ibarrier(ic, &rq));
        OK(MPI_Wait(&rq, MPI_STATUS_IGNORE));
    } else {
        OK(MPI_Barrier(ic));
    }
    int rg = 1 - grp;
    /* allreduce: sums over the other group, 3000 ints */
    {
        int n = 3000, *sb = malloc(sizeof(int) * (size_t)n), *rb = malloc(sizeof(int) * (size_t)n);
        for (int e = 0; e < n; e++) {
            sb[e] = val(grp, lr, e);
            rb[e] = -1;
        }
        RUN(nb, MPI_Allreduce(sb, rb, n, MPI_INT, MPI_SUM, ic),
            MPI_Iallreduce(sb, rb, n, MPI_INT, MPI_SUM, ic, &rq_));
        for (int e = 0; e < n; e++) {
            int want = 0;
            for (int i = 0; i < rsz; i++) {
                want += val(rg, i, e);
            }
            CHECK(rb[e] == want, "%s allreduce [%d]: %d want %d", how, e, rb[e], want);
        }
        free(sb);
        free(rb);
    }
    /* allgather: group 0 sends 2 ints each, group 1 sends 3 */
    {
        int mine = grp == 0 ? 2 : 3, theirs = 5 - mine;
        int sb[3], *rb = malloc(sizeof(int) * 3 * (size_t)rsz);
        for (int e = 0; e < mine; e++) {
            sb[e] = val(grp, lr, e);
        }
        for (int i = 0; i < 3 * rsz; i++) {
            rb[i] = -1;
        }
        RUN(nb, MPI_Allgather(sb, mine, MPI_INT, rb, theirs, MPI_INT, ic),
            MPI_Iallgather(sb, mine, MPI_INT, rb, theirs, MPI_INT, ic, &rq_));
        for (int i = 0; i < rsz; i++) {
            for (int e = 0; e < theirs; e++) {
                CHECK(rb[theirs * i + e] == val(rg, i, e), "%s allgather %d[%d]: %d", how, i, e,
                      rb[theirs * i + e]);
            }
        }
        free(rb);
    }
    /* allgatherv: member i sends i + 1 ints; gaps between blocks */
    {
        int sb[16], rb[256], rc[16], rd[16], off = 0;
        for (int e = 0; e <= lr; e++) {
            sb[e] = val(grp, lr, e);
        }
        for (int i = 0; i < rsz; i++) {
            rc[i] = i + 1;
            rd[i] = off;
            off += i + 3;
        }
        for (int i = 0; i < 256; i++) {
            rb[i] = -1;
        }
        RUN(nb, MPI_Allgatherv(sb, lr + 1, MPI_INT, rb, rc, rd, MPI_INT, ic),
            MPI_Iallgatherv(sb, lr + 1, MPI_INT, rb, rc, rd, MPI_INT, ic, &rq_));
        for (int i = 0; i < rsz; i++) {
            for (int e = 0; e <= i; e++) {
                CHECK(rb[rd[i] + e] == val(rg, i, e), "%s allgatherv %d[%d]: %d", how, i, e,
                      rb[rd[i] + e]);
            }
            CHECK(rb[rd[i] + i + 1] == -1, "%s allgatherv gap %d", how, i);
        }
    }
    /* alltoall: group 0 sends 1 int per remote member, group 1 sends 2;
     * element e of the block for member j is val(sender, 10 * j + e) */
    {
        int mine = grp == 0 ? 1 : 2, theirs = 3 - mine;
        int *sb = malloc(sizeof(int) * 2 * (size_t)rsz),
            *rb = malloc(sizeof(int) * 2 * (size_t)rsz);
        for (int j = 0; j < rsz; j++) {
            for (int e = 0; e < mine; e++) {
                sb[mine * j + e] = val(grp, lr, 10 * j + e);
            }
        }
        for (int i = 0; i < 2 * rsz; i++) {
            rb[i] = -1;
        }
        RUN(nb, MPI_Alltoall(sb, mine, MPI_INT, rb, theirs, MPI_INT, ic),
            MPI_Ialltoall(sb, mine, MPI_INT, rb, theirs, MPI_INT, ic, &rq_));
        for (int i = 0; i < rsz; i++) {
            for (int e = 0; e < theirs; e++) {
                CHECK(rb[theirs * i + e] == val(rg, i, 10 * lr + e), "%s alltoall %d[%d]: %d", how,
                      i, e, rb[theirs * i + e]);
            }
        }
        free(sb);
        free(rb);
    }
    /* alltoallv: i -> j carries 1 + (i + j) % 3 ints; alltoallw the same
     * with byte displacements and a strided receive type for odd blocks */
    {
        int sb[64], rb[128], sc[16], sd[16], rc[16], rd[16], so = 0, ro = 0;
        int sdw[16], rdw[16]; /* byte displacements */
        MPI_Datatype st[16], rt[16], vec2;
        OK(MPI_Type_vector(3, 1, 2, MPI_INT, &vec2));
        OK(MPI_Type_commit(&vec2));
        int rcw[16];
        for (int j = 0; j < rsz; j++) {
            sc[j] = 1 + (lr + j) % 3;
            sd[j] = so;
            sdw[j] = so * (int)sizeof(int);
            st[j] = MPI_INT;
            for (int e = 0; e < sc[j]; e++) {
                sb[so + e] = val(grp, lr, 10 * j + e);
            }
            so += sc[j];
            rc[j] = 1 + (lr + j) % 3;
            rd[j] = ro;
            rdw[j] = ro * (int)sizeof(int);
            /* a 3-int block may arrive as one strided vector */
            rt[j] = rc[j] == 3 ? vec2 : MPI_INT;
            rcw[j] = rc[j] == 3 ? 1 : rc[j];
            ro += 6;
        }
        for (int pass = 0; pass < 2; pass++) {
            for (int i = 0; i < 128; i++) {
                rb[i] = -1;
            }
            if (pass == 0) {
                RUN(nb, MPI_Alltoallv(sb, sc, sd, MPI_INT, rb, rc, rd, MPI_INT, ic),
                    MPI_Ialltoallv(sb, sc, sd, MPI_INT, rb, rc, rd, MPI_INT, ic, &rq_));
            } else {
                RUN(nb, MPI_Alltoallw(sb, sc, sdw, st, rb, rcw, rdw, rt, ic),
                    MPI_Ialltoallw(sb, sc, sdw, st, rb, rcw, rdw, rt, ic, &rq_));
            }
            for (int i = 0; i < rsz; i++) {
                int strided = pass == 1 && rc[i] == 3;
                for (int e = 0; e < rc[i]; e++) {
                    int at = rd[i] + (strided ? 2 * e : e);
                    CHECK(rb[at] == val(rg, i, 10 * lr + e), "%s alltoall%c %d[%d]: %d", how,
                          pass ? 'w' : 'v', i, e, rb[at]);
                }
                if (strided) {
                    CHECK(rb[rd[i] + 1] == -1 && rb[rd[i] + 3] == -1, "%s alltoallw hole", how);
                }
            }
        }
        OK(MPI_Type_free(&vec2));
    }
    /* reduce_scatter: 12 elements in both groups, member i of the local
     * group gets its share of the other group's sums */
    {
        int total = 12, rc[16], off[17], sb[12], rb[12];
        off[0] = 0;
        for (int i = 0; i < lsz; i++) {
            rc[i] = total / lsz + (i < total % lsz);
            off[i + 1] = off[i] + rc[i];
        }
        for (int e = 0; e < total; e++) {
            sb[e] = val(grp, lr, e);
            rb[e] = -1;
        }
        RUN(nb, MPI_Reduce_scatter(sb, rb, rc, MPI_INT, MPI_SUM, ic),
            MPI_Ireduce_scatter(sb, rb, rc, MPI_INT, MPI_SUM, ic, &rq_));
        for (int e = 0; e < rc[lr]; e++) {
            int want = 0;
            for (int i = 0; i < rsz; i++) {
                want += val(rg, i, off[lr] + e);
            }
            CHECK(rb[e] == want, "%s reduce_scatter [%d]: %d want %d", how, e, rb[e], want);
        }
        CHECK(rc[lr] == 12 || rb[rc[lr]] == -1, "%s reduce_scatter overran", how);
    }
    /* reduce_scatter_block: recvcount = remote size, so both groups
     * reduce lsz * rsz elements */
    {
        int n = lsz * rsz, *sb = malloc(sizeof(int) * (size_t)n), rb[17];
        for (int e = 0; e < n; e++) {
            sb[e] = val(grp, lr, e);
        }
        for (int e = 0; e < 17; e++) {
            rb[e] = -1;
        }
        RUN(nb, MPI_Reduce_scatter_block(sb, rb, rsz, MPI_INT, MPI_MAX, ic),
            MPI_Ireduce_scatter_block(sb, rb, rsz, MPI_INT, MPI_MAX, ic, &rq_));
        for (int e = 0; e < rsz; e++) {
            int want = val(rg, rsz - 1, lr * rsz + e); /* MAX: the highest member's */
            CHECK(rb[e] == want, "%s reduce_scatter_block [%d]: %d want %d", how, e, rb[e], want);
        }
        CHECK(rb[rsz] == -1, "%s reduce_scatter_block overran", how);
        free(sb);
    }
}

/* Several non-blocking inter-communicator collectives in flight at once,
 * completed in another order, interleaved with a blocking one. */
static void ic_overlap(void)
{
    int a[4], b[4], c = -1, one = lr + 1;
    for (int e = 0; e < 4; e++) {
        a[e] = val(grp, lr, e);
        b[e] = -1;
    }
    MPI_Request q[3];
    OK(MPI_Iallreduce(a, b, 4, MPI_INT, MPI_SUM, ic, &q[0]));
    OK(MPI_Ibarrier(ic, &q[1]));
    int root = grp == 0 ? (lr == 0 ? MPI_ROOT : MPI_PROC_NULL) : 0;
    int x = root == MPI_ROOT ? 4242 : -1;
    OK(MPI_Ibcast(&x, 1, MPI_INT, root, ic, &q[2]));
    OK(MPI_Allreduce(&one, &c, 1, MPI_INT, MPI_SUM, ic));
    OK(MPI_Waitall(3, q, MPI_STATUSES_IGNORE));
    int want = 0;
    for (int i = 0; i < rsz; i++) {
        want += i + 1;
    }
    CHECK(c == want, "overlapped allreduce %d want %d", c, want);
    for (int e = 0; e < 4; e++) {
        int s = 0;
        for (int i = 0; i < rsz; i++) {
            s += val(1 - grp, i, e);
        }
        CHECK(b[e] == s, "overlapped iallreduce [%d]: %d want %d", e, b[e], s);
    }
    CHECK(x == (root == MPI_PROC_NULL ? -1 : 4242), "overlapped ibcast %d", x);
}

/* Zero counts, and (Starfish) what MPI leaves undefined refused cleanly. */
static void ic_edges(void)
{
    int x = -1, y = -1;
    int root = grp == 0 ? (lr == 0 ? MPI_ROOT : MPI_PROC_NULL) : 0;
    OK(MPI_Bcast(&x, 0, MPI_INT, root, ic));
    OK(MPI_Allreduce(&x, &y, 0, MPI_INT, MPI_SUM, ic));
    CHECK(x == -1 && y == -1, "zero-count calls wrote");
    char lib[MPI_MAX_LIBRARY_VERSION_STRING];
    int len, cls;
    MPI_Get_library_version(lib, &len);
    if (strstr(lib, "Starfish") == NULL) {
        return;
    }
    OK(MPI_Comm_set_errhandler(ic, MPI_ERRORS_RETURN));
    int e = MPI_Allreduce(MPI_IN_PLACE, &y, 1, MPI_INT, MPI_SUM, ic);
    MPI_Error_class(e, &cls);
    CHECK(cls == MPI_ERR_BUFFER, "in-place inter allreduce gave %d", e);
    e = MPI_Bcast(&x, 1, MPI_INT, rsz, ic);
    MPI_Error_class(e, &cls);
    CHECK(cls == MPI_ERR_ROOT, "inter bcast root %d gave %d", rsz, e);
    MPI_Request q;
    e = MPI_Iexscan(&x, &y, 1, MPI_INT, MPI_SUM, ic, &q);
    MPI_Error_class(e, &cls);
    CHECK(cls == MPI_ERR_COMM, "inter iexscan gave %d", e);
    OK(MPI_Comm_set_errhandler(ic, MPI_ERRORS_ARE_FATAL));
}

static void inter_all(void)
{
    if (mt_size < 2) {
        return;
    }
    /* unequal halves: group 0 = world ranks 0, 3, 6, ...; leaders are
     * world ranks 0 and 1 */
    grp = mt_rank % 3 == 0 ? 0 : 1;
    MPI_Comm half;
    OK(MPI_Comm_split(MPI_COMM_WORLD, grp, mt_rank, &half));
    OK(MPI_Intercomm_create(half, 0, MPI_COMM_WORLD, grp == 0 ? 1 : 0, 7, &ic));
    OK(MPI_Comm_size(ic, &lsz));
    OK(MPI_Comm_remote_size(ic, &rsz));
    OK(MPI_Comm_rank(ic, &lr));
    CHECK(lsz <= 16 && rsz <= 16, "sizes");
    for (int nb = 0; nb < 2; nb++) {
        ic_rooted(nb);
        ic_all(nb);
    }
    ic_overlap();
    ic_edges();
    /* a dup runs them too (its own contexts) */
    MPI_Comm ic2;
    OK(MPI_Comm_dup(ic, &ic2));
    int one = 1, n = 0;
    OK(MPI_Allreduce(&one, &n, 1, MPI_INT, MPI_SUM, ic2));
    CHECK(n == rsz, "dup'd inter allreduce %d", n);
    OK(MPI_Comm_disconnect(&ic2)); /* a barrier across both groups, then a free */
    CHECK(ic2 == MPI_COMM_NULL, "disconnect left a handle");
    OK(MPI_Comm_free(&ic));
    OK(MPI_Comm_free(&half));
    SAY("inter-communicator collectives (blocking and non-blocking) ok");
}

int main(int argc, char **argv)
{
    mt_init(&argc, &argv);
    nbr_all();
    inter_all();
    OK(MPI_Finalize());
    return 0;
}
