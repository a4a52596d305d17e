/* Topologies: Dims_create results, Cartesian coords/rank/shift/sub on
 * periodic and non-periodic grids, graph queries, distributed graphs
 * (adjacent and general) and the neighbourhood collectives' values. */
#include "mt.h"

static void dims(void)
{
    int d[3] = {0, 0, 0};
    OK(MPI_Dims_create(12, 3, d));
    CHECK(d[0] == 3 && d[1] == 2 && d[2] == 2, "12/3: %d %d %d", d[0], d[1], d[2]);
    int e[2] = {0, 0};
    OK(MPI_Dims_create(16, 2, e));
    CHECK(e[0] == 4 && e[1] == 4, "16/2: %d %d", e[0], e[1]);
    int f[2] = {0, 3};
    OK(MPI_Dims_create(6, 2, f));
    CHECK(f[0] == 2 && f[1] == 3, "6 with 3 fixed: %d %d", f[0], f[1]);
    int g[2] = {0, 0};
    OK(MPI_Dims_create(7, 2, g));
    CHECK(g[0] == 7 && g[1] == 1, "7/2: %d %d", g[0], g[1]);
}

static void cart(void)
{
    int d[2] = {0, 0}, per[2] = {1, 0};
    OK(MPI_Dims_create(mt_size, 2, d));
    MPI_Comm c;
    OK(MPI_Cart_create(MPI_COMM_WORLD, 2, d, per, 0, &c));
    int st, r, co[2], nd;
    OK(MPI_Topo_test(c, &st));
    CHECK(st == MPI_CART, "topo %d", st);
    OK(MPI_Cartdim_get(c, &nd));
    CHECK(nd == 2, "ndims %d", nd);
    OK(MPI_Comm_rank(c, &r));
    OK(MPI_Cart_coords(c, r, 2, co));
    CHECK(co[0] == r / d[1] && co[1] == r % d[1], "coords %d %d", co[0], co[1]);
    int back;
    OK(MPI_Cart_rank(c, co, &back));
    CHECK(back == r, "cart rank %d", back);
    int wrap[2] = {co[0] + d[0], co[1]};
    OK(MPI_Cart_rank(c, wrap, &back));
    CHECK(back == r, "periodic wrap %d", back);
    int src, dst;
    OK(MPI_Cart_shift(c, 0, 1, &src, &dst));
    CHECK(src == ((co[0] - 1 + d[0]) % d[0]) * d[1] + co[1], "shift0 src %d", src);
    CHECK(dst == ((co[0] + 1) % d[0]) * d[1] + co[1], "shift0 dst %d", dst);
    OK(MPI_Cart_shift(c, 1, 1, &src, &dst));
    CHECK(src == (co[1] == 0 ? MPI_PROC_NULL : r - 1), "shift1 src %d", src);
    CHECK(dst == (co[1] == d[1] - 1 ? MPI_PROC_NULL : r + 1), "shift1 dst %d", dst);
    /* neighbour alltoall: each block says (sender, direction slot) */
    int sb[4], rb[4];
    for (int i = 0; i < 4; i++) {
        sb[i] = r * 10 + i;
        rb[i] = -1;
    }
    OK(MPI_Neighbor_alltoall(sb, 1, MPI_INT, rb, 1, MPI_INT, c));
    int nb[4];
    OK(MPI_Cart_shift(c, 0, 1, &nb[0], &nb[1]));
    OK(MPI_Cart_shift(c, 1, 1, &nb[2], &nb[3]));
    for (int k = 0; k < 4; k++) {
        /* from the negative neighbour comes its positive-direction block */
        int want = nb[k] == MPI_PROC_NULL ? -1 : nb[k] * 10 + (k ^ 1);
        CHECK(rb[k] == want, "alltoall slot %d: %d want %d", k, rb[k], want);
    }
    int ag[4] = {-1, -1, -1, -1};
    OK(MPI_Neighbor_allgather(&r, 1, MPI_INT, ag, 1, MPI_INT, c));
    for (int k = 0; k < 4; k++) {
        CHECK(ag[k] == (nb[k] == MPI_PROC_NULL ? -1 : nb[k]), "allgather %d: %d", k, ag[k]);
    }
    /* alltoallw with byte displacements, reversed block order */
    int wb[4] = {-1, -1, -1, -1}, cnt[4] = {1, 1, 1, 1};
    MPI_Aint sdis[4], rdis[4];
    MPI_Datatype ty[4] = {MPI_INT, MPI_INT, MPI_INT, MPI_INT};
    for (int k = 0; k < 4; k++) {
        sdis[k] = (MPI_Aint)(k * sizeof(int));
        rdis[k] = (MPI_Aint)((3 - k) * sizeof(int));
    }
    OK(MPI_Neighbor_alltoallw(sb, cnt, sdis, ty, wb, cnt, rdis, ty, c));
    for (int k = 0; k < 4; k++) {
        CHECK(wb[3 - k] == rb[k], "alltoallw slot %d: %d want %d", k, wb[3 - k], rb[k]);
    }
    /* a dup keeps the topology; MPI_COMM_WORLD has none */
    MPI_Comm cd;
    OK(MPI_Comm_dup(c, &cd));
    OK(MPI_Topo_test(cd, &st));
    CHECK(st == MPI_CART, "dup topo %d", st);
    OK(MPI_Cart_shift(cd, 0, 1, &src, &dst));
    CHECK(src == nb[0] && dst == nb[1], "dup shift");
    OK(MPI_Comm_free(&cd));
    OK(MPI_Topo_test(MPI_COMM_WORLD, &st));
    CHECK(st == MPI_UNDEFINED, "world topo %d", st);
    int nr;
    OK(MPI_Cart_map(MPI_COMM_WORLD, 2, d, per, &nr));
    CHECK(nr == mt_rank, "cart_map %d", nr);
    /* sub: keep dimension 1 (rows) */
    int keep[2] = {0, 1};
    MPI_Comm row;
    OK(MPI_Cart_sub(c, keep, &row));
    int rs, rr;
    OK(MPI_Comm_size(row, &rs));
    OK(MPI_Comm_rank(row, &rr));
    CHECK(rs == d[1] && rr == co[1], "sub size %d rank %d", rs, rr);
    int dd[1], pp[1], cc[1];
    OK(MPI_Cart_get(row, 1, dd, pp, cc));
    CHECK(dd[0] == d[1] && pp[0] == 0 && cc[0] == co[1], "sub get");
    OK(MPI_Comm_free(&row));
    OK(MPI_Comm_free(&c));
    /* a grid smaller than the world leaves the last rank out */
    if (mt_size > 1) {
        int one[1] = {mt_size - 1}, p1[1] = {1};
        OK(MPI_Cart_create(MPI_COMM_WORLD, 1, one, p1, 0, &c));
        CHECK((mt_rank == mt_size - 1) == (c == MPI_COMM_NULL), "small grid");
        if (c != MPI_COMM_NULL) {
            OK(MPI_Comm_free(&c));
        }
    }
    SAY("cartesian ok (%d x %d)", d[0], d[1]);
}

static void graphs(void)
{
    /* a ring as a graph */
    int n = mt_size, index[64], edges[128], k = 0;
    for (int i = 0; i < n; i++) {
        edges[k++] = (i + 1) % n;
        edges[k++] = (i + n - 1) % n;
        index[i] = k;
    }
    MPI_Comm g;
    OK(MPI_Graph_create(MPI_COMM_WORLD, n, index, edges, 0, &g));
    int nn, ne, cnt, nb[2];
    OK(MPI_Graphdims_get(g, &nn, &ne));
    CHECK(nn == n && ne == 2 * n, "graphdims %d %d", nn, ne);
    OK(MPI_Graph_neighbors_count(g, mt_rank, &cnt));
    CHECK(cnt == 2, "count %d", cnt);
    OK(MPI_Graph_neighbors(g, mt_rank, 2, nb));
    CHECK(nb[0] == (mt_rank + 1) % n, "neighbour %d", nb[0]);
    int sb[2] = {mt_rank * 2, mt_rank * 2 + 1}, rb[2];
    OK(MPI_Neighbor_alltoall(sb, 1, MPI_INT, rb, 1, MPI_INT, g));
    if (n > 2) {
        /* from the right neighbour comes its 'left' block (index 1) */
        CHECK(rb[0] == nb[0] * 2 + 1 && rb[1] == nb[1] * 2, "graph alltoall %d %d", rb[0], rb[1]);
    }
    int gi[64], ge[128];
    OK(MPI_Graph_get(g, n, 2 * n, gi, ge));
    CHECK(gi[n - 1] == 2 * n && ge[1] == n - 1, "graph_get %d %d", gi[n - 1], ge[1]);
    int nr;
    OK(MPI_Graph_map(MPI_COMM_WORLD, n, index, edges, &nr));
    CHECK(nr == mt_rank, "graph_map %d", nr);
    OK(MPI_Comm_free(&g));
    /* dist graph: everyone names the edge rank -> rank+1 (a chain) */
    int src = mt_rank, deg = mt_rank + 1 < n ? 1 : 0, dst = mt_rank + 1, w = 7 + mt_rank;
    MPI_Comm dg;
    OK(MPI_Dist_graph_create(MPI_COMM_WORLD, 1, &src, &deg, &dst, &w, MPI_INFO_NULL, 0, &dg));
    int in, out, wt;
    OK(MPI_Dist_graph_neighbors_count(dg, &in, &out, &wt));
    CHECK(in == (mt_rank > 0) && out == (mt_rank + 1 < n) && wt, "dist counts %d %d %d", in, out,
          wt);
    int s1 = -1, sw = -1, d1 = -1, dw = -1;
    OK(MPI_Dist_graph_neighbors(dg, in, &s1, &sw, out, &d1, &dw));
    CHECK(!in || (s1 == mt_rank - 1 && sw == 6 + mt_rank), "dist in %d w %d", s1, sw);
    CHECK(!out || (d1 == mt_rank + 1 && dw == 7 + mt_rank), "dist out %d w %d", d1, dw);
    int got = -1;
    OK(MPI_Neighbor_allgather(&mt_rank, 1, MPI_INT, &got, 1, MPI_INT, dg));
    CHECK(got == (in ? mt_rank - 1 : -1), "dist allgather %d", got);
    OK(MPI_Comm_free(&dg));
    /* adjacent: a reversed chain, alltoallv */
    int asrc = mt_rank + 1, adst = mt_rank - 1;
    int ain = mt_rank + 1 < n, aout = mt_rank > 0;
    /* volatile: gcc takes the sentinel for an array and warns */
    int *volatile uw = MPI_UNWEIGHTED;
    OK(MPI_Dist_graph_create_adjacent(MPI_COMM_WORLD, ain, &asrc, uw, aout, &adst, uw,
                                      MPI_INFO_NULL, 0, &dg));
    int sv[3] = {mt_rank, mt_rank * 2, mt_rank * 3}, rv[3] = {-1, -1, -1};
    int sc = 3, sd = 0, rc = 3, rd = 0;
    OK(MPI_Neighbor_alltoallv(sv, &sc, &sd, MPI_INT, rv, &rc, &rd, MPI_INT, dg));
    if (ain) {
        CHECK(rv[0] == asrc && rv[2] == 3 * asrc, "alltoallv %d %d", rv[0], rv[2]);
    }
    OK(MPI_Comm_free(&dg));
    SAY("graphs ok");
}

int main(int argc, char **argv)
{
    mt_init(&argc, &argv);
    dims();
    cart();
    graphs();
    MPI_Finalize();
    return 0;
}
