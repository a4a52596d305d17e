/* Process topologies: Cartesian, graph and distributed graph
 * communicators, their queries, MPI_Dims_create, and the blocking
 * neighbourhood collectives over point-to-point. reorder is ignored (ranks
 * keep their order). The non-blocking neighbourhood collectives are
 * schedules (mpi_coll.c) over the neighbour lists made here. Caller's
 * thread. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mpi-shim/shim_int.h"

struct sf_mpi_topo {
    int kind; /* MPI_CART, MPI_GRAPH, MPI_DIST_GRAPH */
    /* Cartesian */
    int ndims;
    int *dims, *periods, *coords;
    /* graph: MPI_Graph_create's index/edges of all nodes */
    int nnodes, nedges;
    int *index, *edges;
    /* distributed graph: this process's edges */
    int indeg, outdeg;
    int *srcs, *srcw, *dsts, *dstw;
    bool weighted;
};

static int *dup_ints(const int *a, int n, bool *ok)
{
    if (n <= 0 || a == NULL) {
        return NULL;
    }
    int *b = malloc(sizeof(int) * (size_t)n);
    if (b == NULL) {
        *ok = false;
        return NULL;
    }
    memcpy(b, a, sizeof(int) * (size_t)n);
    return b;
}

void sf_mpi__topo_free(struct sf_mpi_topo *t)
{
    if (t == NULL) {
        return;
    }
    free(t->dims);
    free(t->periods);
    free(t->coords);
    free(t->index);
    free(t->edges);
    free(t->srcs);
    free(t->srcw);
    free(t->dsts);
    free(t->dstw);
    free(t);
}

struct sf_mpi_topo *sf_mpi__topo_dup(const struct sf_mpi_topo *t)
{
    struct sf_mpi_topo *n = malloc(sizeof(*n));
    if (n == NULL) {
        return NULL;
    }
    *n = *t;
    bool ok = true;
    n->dims = dup_ints(t->dims, t->ndims, &ok);
    n->periods = dup_ints(t->periods, t->ndims, &ok);
    n->coords = dup_ints(t->coords, t->ndims, &ok);
    n->index = dup_ints(t->index, t->nnodes, &ok);
    n->edges = dup_ints(t->edges, t->nedges, &ok);
    n->srcs = dup_ints(t->srcs, t->indeg, &ok);
    n->srcw = dup_ints(t->srcw, t->indeg, &ok);
    n->dsts = dup_ints(t->dsts, t->outdeg, &ok);
    n->dstw = dup_ints(t->dstw, t->outdeg, &ok);
    if (!ok) {
        sf_mpi__topo_free(n);
        return NULL;
    }
    return n;
}

#define TAG_NBR (-0x70000000)
#define TAG_DIST_CREATE (-0x68000000)

static int chk_topo(const char *fn, MPI_Comm comm, int kind)
{
    int err = sf_mpi__chk_init(fn);
    if (!err) {
        err = sf_mpi__chk_comm(fn, comm);
    }
    if (err) {
        return err;
    }
    if (comm->topo == NULL || (kind != 0 && comm->topo->kind != kind)) {
        return sf_mpi__raise(comm, MPI_ERR_TOPOLOGY, fn, "%s has no %s topology",
                             sf_mpi__comm_name(comm),
                             kind == MPI_CART         ? "Cartesian"
                             : kind == MPI_GRAPH      ? "graph"
                             : kind == MPI_DIST_GRAPH ? "distributed graph"
                                                      : "");
    }
    return 0;
}

/* The first n ranks of comm in a new communicator (the others get
 * MPI_COMM_NULL), with topology t attached (consumed). */
static int topo_comm(const char *fn, MPI_Comm comm, int n, struct sf_mpi_topo *t, MPI_Comm *out)
{
    MPI_Comm c;
    int err = PMPI_Comm_split(comm, comm->rank < n ? 0 : MPI_UNDEFINED, comm->rank, &c);
    if (err) {
        sf_mpi__topo_free(t);
        return err;
    }
    if (c == MPI_COMM_NULL) {
        sf_mpi__topo_free(t);
    } else {
        c->topo = t;
        if (t == NULL) {
            PMPI_Comm_free(&c);
            return sf_mpi__raise(comm, MPI_ERR_NO_MEM, fn, "out of memory");
        }
    }
    *out = c;
    return MPI_SUCCESS;
}

int PMPI_Dims_create(int nnodes, int ndims, int dims[])
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Dims_create";
    if (nnodes <= 0 || ndims < 0 || (ndims > 0 && dims == NULL)) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn, "invalid nnodes %d or ndims %d",
                             nnodes, ndims);
    }
    int rest = nnodes, nfree = 0;
    for (int i = 0; i < ndims; i++) {
        if (dims[i] < 0) {
            return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_DIMS, fn, "dims[%d] = %d is negative", i,
                                 dims[i]);
        }
        if (dims[i] > 0) {
            if (rest % dims[i] != 0) {
                return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_DIMS, fn,
                                     "%d nodes cannot be divided by the fixed dimensions", nnodes);
            }
            rest /= dims[i];
        } else {
            nfree++;
        }
    }
    if (nfree == 0) {
        if (rest != 1) {
            return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_DIMS, fn,
                                 "the dimensions' product is not %d", nnodes);
        }
        return MPI_SUCCESS;
    }
    int *f = malloc(sizeof(int) * (size_t)nfree);
    int primes[32], np = 0;
    if (f == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_NO_MEM, fn, "out of memory");
    }
    for (int p = 2; (long)p * p <= rest; p++) {
        while (rest % p == 0) {
            primes[np++] = p;
            rest /= p;
        }
    }
    if (rest > 1) {
        primes[np++] = rest;
    }
    for (int i = 0; i < nfree; i++) {
        f[i] = 1;
    }
    /* Largest factors first, each onto the currently smallest dimension:
     * keeps the dimensions as close to each other as this greedy can. */
    for (int k = np - 1; k >= 0; k--) {
        int m = 0;
        for (int i = 1; i < nfree; i++) {
            if (f[i] < f[m]) {
                m = i;
            }
        }
        f[m] *= primes[k];
    }
    /* non-increasing order */
    for (int i = 0; i < nfree; i++) {
        for (int j = i + 1; j < nfree; j++) {
            if (f[j] > f[i]) {
                int x = f[i];
                f[i] = f[j];
                f[j] = x;
            }
        }
    }
    for (int i = 0, k = 0; i < ndims; i++) {
        if (dims[i] == 0) {
            dims[i] = f[k++];
        }
    }
    free(f);
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Dims_create);

static void cart_coords(const struct sf_mpi_topo *t, int rank, int *coords)
{
    for (int i = t->ndims - 1; i >= 0; i--) {
        coords[i] = rank % t->dims[i];
        rank /= t->dims[i];
    }
}

static struct sf_mpi_topo *cart_new(int ndims, const int dims[], const int periods[], int rank)
{
    struct sf_mpi_topo *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return NULL;
    }
    t->kind = MPI_CART;
    t->ndims = ndims;
    bool ok = true;
    t->dims = dup_ints(dims, ndims, &ok);
    t->periods = dup_ints(periods, ndims, &ok);
    t->coords = calloc((size_t)(ndims > 0 ? ndims : 1), sizeof(int));
    if (!ok || t->coords == NULL) {
        sf_mpi__topo_free(t);
        return NULL;
    }
    for (int i = 0; i < ndims; i++) {
        t->periods[i] = t->periods[i] != 0;
    }
    cart_coords(t, rank, t->coords);
    return t;
}

int PMPI_Cart_create(MPI_Comm comm_old, int ndims, const int dims[], const int periods[],
                     int reorder, MPI_Comm *comm_cart)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Cart_create";
    (void)reorder;
    int err = sf_mpi__chk_init(fn);
    if (!err) {
        err = sf_mpi__chk_comm(fn, comm_old);
    }
    if (!err) {
        err = sf_mpi__chk_intra(fn, comm_old);
    }
    if (err) {
        return err;
    }
    if (ndims < 0 || comm_cart == NULL || (ndims > 0 && (dims == NULL || periods == NULL))) {
        return sf_mpi__raise(comm_old, MPI_ERR_ARG, fn, "invalid ndims %d or NULL argument", ndims);
    }
    if (ndims > 64) {
        /* a 65-dimensional grid has at least 2^65 processes... unless
         * dimensions of 1 pad it; keep the fixed-size scratch arrays safe */
        return sf_mpi__raise(comm_old, MPI_ERR_DIMS, fn, "%d dimensions (at most 64)", ndims);
    }
    long n = 1;
    for (int i = 0; i < ndims; i++) {
        if (dims[i] <= 0) {
            return sf_mpi__raise(comm_old, MPI_ERR_DIMS, fn, "dims[%d] = %d", i, dims[i]);
        }
        n *= dims[i];
        if (n > comm_old->size) {
            break;
        }
    }
    if (n > comm_old->size) {
        return sf_mpi__raise(comm_old, MPI_ERR_DIMS, fn, "the grid has more than %d processes",
                             comm_old->size);
    }
    struct sf_mpi_topo *t = NULL;
    if (comm_old->rank < n) {
        t = cart_new(ndims, dims, periods, comm_old->rank);
    }
    return topo_comm(fn, comm_old, (int)n, t, comm_cart);
}
SF_MPI_ALIAS(Cart_create);

int PMPI_Cart_coords(MPI_Comm comm, int rank, int maxdims, int coords[])
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Cart_coords";
    int err = chk_topo(fn, comm, MPI_CART);
    if (err) {
        return err;
    }
    if (rank < 0 || rank >= comm->size) {
        return sf_mpi__raise(comm, MPI_ERR_RANK, fn, "invalid rank %d", rank);
    }
    if (maxdims < comm->topo->ndims || (maxdims > 0 && coords == NULL)) {
        return sf_mpi__raise(comm, MPI_ERR_ARG, fn, "maxdims %d < %d dimensions", maxdims,
                             comm->topo->ndims);
    }
    cart_coords(comm->topo, rank, coords);
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Cart_coords);

/* Rank at coords (periodic dimensions wrap); -1 if off a closed edge. */
static int cart_rank(const struct sf_mpi_topo *t, const int *coords)
{
    int r = 0;
    for (int i = 0; i < t->ndims; i++) {
        int c = coords[i], d = t->dims[i];
        if (c < 0 || c >= d) {
            if (!t->periods[i]) {
                return -1;
            }
            c = ((c % d) + d) % d;
        }
        r = r * d + c;
    }
    return r;
}

int PMPI_Cart_rank(MPI_Comm comm, const int coords[], int *rank)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Cart_rank";
    int err = chk_topo(fn, comm, MPI_CART);
    if (err) {
        return err;
    }
    if (rank == NULL || (comm->topo->ndims > 0 && coords == NULL)) {
        return sf_mpi__raise(comm, MPI_ERR_ARG, fn, "NULL argument");
    }
    int r = cart_rank(comm->topo, coords);
    if (r < 0) {
        return sf_mpi__raise(comm, MPI_ERR_ARG, fn, "coordinates outside a non-periodic dimension");
    }
    *rank = r;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Cart_rank);

static void cart_shift(const struct sf_mpi_topo *t, int dir, int disp, int *src, int *dst)
{
    int c[64];
    memcpy(c, t->coords, sizeof(int) * (size_t)t->ndims);
    c[dir] = t->coords[dir] - disp;
    int s = cart_rank(t, c);
    c[dir] = t->coords[dir] + disp;
    int d = cart_rank(t, c);
    *src = s < 0 ? MPI_PROC_NULL : s;
    *dst = d < 0 ? MPI_PROC_NULL : d;
}

int PMPI_Cart_shift(MPI_Comm comm, int direction, int disp, int *rank_source, int *rank_dest)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Cart_shift";
    int err = chk_topo(fn, comm, MPI_CART);
    if (err) {
        return err;
    }
    if (rank_source == NULL || rank_dest == NULL) {
        return sf_mpi__raise(comm, MPI_ERR_ARG, fn, "NULL argument");
    }
    if (direction < 0 || direction >= comm->topo->ndims) {
        return sf_mpi__raise(comm, MPI_ERR_DIMS, fn, "invalid direction %d (%d dimensions)",
                             direction, comm->topo->ndims);
    }
    cart_shift(comm->topo, direction, disp, rank_source, rank_dest);
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Cart_shift);

int PMPI_Cart_sub(MPI_Comm comm, const int remain_dims[], MPI_Comm *newcomm)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Cart_sub";
    int err = chk_topo(fn, comm, MPI_CART);
    if (err) {
        return err;
    }
    struct sf_mpi_topo *t = comm->topo;
    if (newcomm == NULL || (t->ndims > 0 && remain_dims == NULL)) {
        return sf_mpi__raise(comm, MPI_ERR_ARG, fn, "NULL argument");
    }
    /* Colour: position in the dropped dimensions; key: position in the
     * kept ones (row-major, as the standard orders the subgrid). */
    int color = 0, key = 0, nd = 0;
    int dims[64], periods[64];
    for (int i = 0; i < t->ndims && i < 64; i++) {
        if (remain_dims[i]) {
            key = key * t->dims[i] + t->coords[i];
            dims[nd] = t->dims[i];
            periods[nd] = t->periods[i];
            nd++;
        } else {
            color = color * t->dims[i] + t->coords[i];
        }
    }
    MPI_Comm c;
    err = PMPI_Comm_split(comm, color, key, &c);
    if (err) {
        return err;
    }
    c->topo = cart_new(nd, dims, periods, c->rank);
    if (c->topo == NULL) {
        PMPI_Comm_free(&c);
        return sf_mpi__raise(comm, MPI_ERR_NO_MEM, fn, "out of memory");
    }
    *newcomm = c;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Cart_sub);

int PMPI_Cartdim_get(MPI_Comm comm, int *ndims)
{
    SF_MPI_ENTER();
    int err = chk_topo("MPI_Cartdim_get", comm, MPI_CART);
    if (err) {
        return err;
    }
    if (ndims == NULL) {
        return sf_mpi__raise(comm, MPI_ERR_ARG, "MPI_Cartdim_get", "ndims is NULL");
    }
    *ndims = comm->topo->ndims;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Cartdim_get);

int PMPI_Cart_get(MPI_Comm comm, int maxdims, int dims[], int periods[], int coords[])
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Cart_get";
    int err = chk_topo(fn, comm, MPI_CART);
    if (err) {
        return err;
    }
    struct sf_mpi_topo *t = comm->topo;
    int n = maxdims < t->ndims ? maxdims : t->ndims;
    if (n > 0 && (dims == NULL || periods == NULL || coords == NULL)) {
        return sf_mpi__raise(comm, MPI_ERR_ARG, fn, "NULL argument");
    }
    for (int i = 0; i < n; i++) {
        dims[i] = t->dims[i];
        periods[i] = t->periods[i];
        coords[i] = t->coords[i];
    }
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Cart_get);

int PMPI_Cart_map(MPI_Comm comm, int ndims, const int dims[], const int periods[], int *newrank)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Cart_map";
    (void)periods;
    int err = sf_mpi__chk_init(fn);
    if (!err) {
        err = sf_mpi__chk_comm(fn, comm);
    }
    if (err) {
        return err;
    }
    if (newrank == NULL || ndims < 0 || (ndims > 0 && dims == NULL)) {
        return sf_mpi__raise(comm, MPI_ERR_ARG, fn, "invalid argument");
    }
    long n = 1;
    for (int i = 0; i < ndims && n <= comm->size; i++) {
        n *= dims[i];
    }
    if (n > comm->size) {
        return sf_mpi__raise(comm, MPI_ERR_DIMS, fn, "the grid is larger than the communicator");
    }
    *newrank = comm->rank < n ? comm->rank : MPI_UNDEFINED;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Cart_map);

/* --- graphs --- */

int PMPI_Graph_create(MPI_Comm comm_old, int nnodes, const int index[], const int edges[],
                      int reorder, MPI_Comm *comm_graph)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Graph_create";
    (void)reorder;
    int err = sf_mpi__chk_init(fn);
    if (!err) {
        err = sf_mpi__chk_comm(fn, comm_old);
    }
    if (!err) {
        err = sf_mpi__chk_intra(fn, comm_old);
    }
    if (err) {
        return err;
    }
    if (comm_graph == NULL || nnodes < 0 || nnodes > comm_old->size ||
        (nnodes > 0 && index == NULL)) {
        return sf_mpi__raise(comm_old, MPI_ERR_ARG, fn, "invalid nnodes %d or NULL argument",
                             nnodes);
    }
    int nedges = nnodes > 0 ? index[nnodes - 1] : 0;
    for (int i = 0; i < nedges; i++) {
        if (edges == NULL || edges[i] < 0 || edges[i] >= nnodes) {
            return sf_mpi__raise(comm_old, MPI_ERR_ARG, fn, "invalid edge %d", i);
        }
    }
    struct sf_mpi_topo *t = NULL;
    if (comm_old->rank < nnodes) {
        t = calloc(1, sizeof(*t));
        bool ok = t != NULL;
        if (ok) {
            t->kind = MPI_GRAPH;
            t->nnodes = nnodes;
            t->nedges = nedges;
            t->index = dup_ints(index, nnodes, &ok);
            t->edges = dup_ints(edges, nedges, &ok);
        }
        if (!ok) {
            sf_mpi__topo_free(t);
            t = NULL;
        }
    }
    return topo_comm(fn, comm_old, nnodes, t, comm_graph);
}
SF_MPI_ALIAS(Graph_create);

int PMPI_Graphdims_get(MPI_Comm comm, int *nnodes, int *nedges)
{
    SF_MPI_ENTER();
    int err = chk_topo("MPI_Graphdims_get", comm, MPI_GRAPH);
    if (err) {
        return err;
    }
    if (nnodes == NULL || nedges == NULL) {
        return sf_mpi__raise(comm, MPI_ERR_ARG, "MPI_Graphdims_get", "NULL argument");
    }
    *nnodes = comm->topo->nnodes;
    *nedges = comm->topo->nedges;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Graphdims_get);

int PMPI_Graph_get(MPI_Comm comm, int maxindex, int maxedges, int index[], int edges[])
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Graph_get";
    int err = chk_topo(fn, comm, MPI_GRAPH);
    if (err) {
        return err;
    }
    struct sf_mpi_topo *t = comm->topo;
    int ni = maxindex < t->nnodes ? maxindex : t->nnodes;
    int ne = maxedges < t->nedges ? maxedges : t->nedges;
    if ((ni > 0 && index == NULL) || (ne > 0 && edges == NULL)) {
        return sf_mpi__raise(comm, MPI_ERR_ARG, fn, "NULL argument");
    }
    memcpy(index, t->index, sizeof(int) * (size_t)(ni > 0 ? ni : 0));
    memcpy(edges, t->edges, sizeof(int) * (size_t)(ne > 0 ? ne : 0));
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Graph_get);

static void graph_span(const struct sf_mpi_topo *t, int rank, int *first, int *n)
{
    *first = rank == 0 ? 0 : t->index[rank - 1];
    *n = t->index[rank] - *first;
}

int PMPI_Graph_neighbors_count(MPI_Comm comm, int rank, int *nneighbors)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Graph_neighbors_count";
    int err = chk_topo(fn, comm, MPI_GRAPH);
    if (err) {
        return err;
    }
    if (rank < 0 || rank >= comm->topo->nnodes || nneighbors == NULL) {
        return sf_mpi__raise(comm, MPI_ERR_RANK, fn, "invalid rank %d", rank);
    }
    int first;
    graph_span(comm->topo, rank, &first, nneighbors);
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Graph_neighbors_count);

int PMPI_Graph_neighbors(MPI_Comm comm, int rank, int maxneighbors, int neighbors[])
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Graph_neighbors";
    int err = chk_topo(fn, comm, MPI_GRAPH);
    if (err) {
        return err;
    }
    if (rank < 0 || rank >= comm->topo->nnodes) {
        return sf_mpi__raise(comm, MPI_ERR_RANK, fn, "invalid rank %d", rank);
    }
    int first, n;
    graph_span(comm->topo, rank, &first, &n);
    if (maxneighbors < n) {
        n = maxneighbors;
    }
    if (n > 0 && neighbors == NULL) {
        return sf_mpi__raise(comm, MPI_ERR_ARG, fn, "neighbors is NULL");
    }
    for (int i = 0; i < n; i++) {
        neighbors[i] = comm->topo->edges[first + i];
    }
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Graph_neighbors);

int PMPI_Graph_map(MPI_Comm comm, int nnodes, const int index[], const int edges[], int *newrank)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Graph_map";
    (void)index;
    (void)edges;
    int err = sf_mpi__chk_init(fn);
    if (!err) {
        err = sf_mpi__chk_comm(fn, comm);
    }
    if (err) {
        return err;
    }
    if (newrank == NULL || nnodes < 0 || nnodes > comm->size) {
        return sf_mpi__raise(comm, MPI_ERR_ARG, fn, "invalid nnodes %d", nnodes);
    }
    *newrank = comm->rank < nnodes ? comm->rank : MPI_UNDEFINED;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Graph_map);

int PMPI_Topo_test(MPI_Comm comm, int *status)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Topo_test";
    int err = sf_mpi__chk_init(fn);
    if (!err) {
        err = sf_mpi__chk_comm(fn, comm);
    }
    if (err) {
        return err;
    }
    if (status == NULL) {
        return sf_mpi__raise(comm, MPI_ERR_ARG, fn, "status is NULL");
    }
    *status = comm->topo != NULL ? comm->topo->kind : MPI_UNDEFINED;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Topo_test);

/* --- distributed graphs --- */

static bool weights_given(const int *w)
{
    return w != MPI_UNWEIGHTED && w != MPI_WEIGHTS_EMPTY && w != NULL;
}

static struct sf_mpi_topo *dist_new(int indeg, const int *srcs, const int *srcw, int outdeg,
                                    const int *dsts, const int *dstw, bool weighted)
{
    struct sf_mpi_topo *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return NULL;
    }
    bool ok = true;
    t->kind = MPI_DIST_GRAPH;
    t->indeg = indeg;
    t->outdeg = outdeg;
    t->weighted = weighted;
    t->srcs = dup_ints(srcs, indeg, &ok);
    t->dsts = dup_ints(dsts, outdeg, &ok);
    if (weighted) {
        t->srcw = dup_ints(srcw, indeg, &ok);
        t->dstw = dup_ints(dstw, outdeg, &ok);
    }
    if (!ok) {
        sf_mpi__topo_free(t);
        return NULL;
    }
    return t;
}

/* Dup comm_old and attach t (consumed). */
static int dist_comm(const char *fn, MPI_Comm comm_old, struct sf_mpi_topo *t, MPI_Comm *out)
{
    MPI_Comm c;
    if (t == NULL) {
        return sf_mpi__raise(comm_old, MPI_ERR_NO_MEM, fn, "out of memory");
    }
    struct sf_mpi_topo *saved = comm_old->topo;
    comm_old->topo = NULL; /* the dup must not copy comm_old's topology */
    int err = PMPI_Comm_dup(comm_old, &c);
    comm_old->topo = saved;
    if (err) {
        sf_mpi__topo_free(t);
        return err;
    }
    c->topo = t;
    *out = c;
    return MPI_SUCCESS;
}

static int chk_dist_args(const char *fn, MPI_Comm comm, int n, const int *ranks)
{
    for (int i = 0; i < n; i++) {
        if (ranks[i] < 0 || ranks[i] >= comm->size) {
            return sf_mpi__raise(comm, MPI_ERR_RANK, fn, "invalid neighbour rank %d", ranks[i]);
        }
    }
    return 0;
}

int PMPI_Dist_graph_create_adjacent(MPI_Comm comm_old, int indegree, const int sources[],
                                    const int sourceweights[], int outdegree,
                                    const int destinations[], const int destweights[],
                                    MPI_Info info, int reorder, MPI_Comm *comm_dist_graph)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Dist_graph_create_adjacent";
    (void)info;
    (void)reorder;
    int err = sf_mpi__chk_init(fn);
    if (!err) {
        err = sf_mpi__chk_comm(fn, comm_old);
    }
    if (!err) {
        err = sf_mpi__chk_intra(fn, comm_old);
    }
    if (err) {
        return err;
    }
    if (comm_dist_graph == NULL || indegree < 0 || outdegree < 0 ||
        (indegree > 0 && sources == NULL) || (outdegree > 0 && destinations == NULL)) {
        return sf_mpi__raise(comm_old, MPI_ERR_ARG, fn, "invalid degree or NULL argument");
    }
    err = chk_dist_args(fn, comm_old, indegree, sources);
    if (!err) {
        err = chk_dist_args(fn, comm_old, outdegree, destinations);
    }
    if (err) {
        return err;
    }
    bool weighted = (indegree > 0 && weights_given(sourceweights)) ||
                    (outdegree > 0 && weights_given(destweights)) ||
                    (sourceweights != MPI_UNWEIGHTED && destweights != MPI_UNWEIGHTED);
    struct sf_mpi_topo *t =
        dist_new(indegree, sources, weights_given(sourceweights) ? sourceweights : NULL, outdegree,
                 destinations, weights_given(destweights) ? destweights : NULL, weighted);
    if (t != NULL && weighted) {
        /* weights arrays of zero-degree sides stay NULL; fill missing ones with 1 */
        if (t->srcw == NULL && indegree > 0) {
            t->srcw = calloc((size_t)indegree, sizeof(int));
        }
        if (t->dstw == NULL && outdegree > 0) {
            t->dstw = calloc((size_t)outdegree, sizeof(int));
        }
    }
    return dist_comm(fn, comm_old, t, comm_dist_graph);
}
SF_MPI_ALIAS(Dist_graph_create_adjacent);

/* Edge records exchanged by Dist_graph_create: (peer, weight, dir) with
 * dir 0 = an out-edge of the receiver to peer, 1 = an in-edge from peer. */
struct edge_rec {
    int peer, weight, dir;
};

int PMPI_Dist_graph_create(MPI_Comm comm_old, int n, const int sources[], const int degrees[],
                           const int destinations[], const int weights[], MPI_Info info,
                           int reorder, MPI_Comm *comm_dist_graph)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Dist_graph_create";
    (void)info;
    (void)reorder;
    int err = sf_mpi__chk_init(fn);
    if (!err) {
        err = sf_mpi__chk_comm(fn, comm_old);
    }
    if (!err) {
        err = sf_mpi__chk_intra(fn, comm_old);
    }
    if (err) {
        return err;
    }
    if (comm_dist_graph == NULL || n < 0 || (n > 0 && (sources == NULL || degrees == NULL))) {
        return sf_mpi__raise(comm_old, MPI_ERR_ARG, fn, "invalid n or NULL argument");
    }
    int p = comm_old->size, nedge = 0;
    for (int i = 0; i < n; i++) {
        if (sources[i] < 0 || sources[i] >= p || degrees[i] < 0) {
            return sf_mpi__raise(comm_old, MPI_ERR_ARG, fn, "invalid source %d or degree %d",
                                 sources[i], degrees[i]);
        }
        nedge += degrees[i];
    }
    err = chk_dist_args(fn, comm_old, nedge, destinations);
    if (err) {
        return err;
    }
    bool w = weights_given(weights);
    /* Per destination process: its records; counts summed over all. */
    int *cnt = calloc((size_t)p, sizeof(int));
    int *off = calloc((size_t)p + 1, sizeof(int));
    struct edge_rec *out = malloc(sizeof(*out) * (size_t)(2 * nedge + 1));
    int64_t *tot = calloc((size_t)p + 1, sizeof(int64_t));
    if (cnt == NULL || off == NULL || out == NULL || tot == NULL) {
        free(cnt);
        free(off);
        free(out);
        free(tot);
        return sf_mpi__raise(comm_old, MPI_ERR_NO_MEM, fn, "out of memory");
    }
    for (int i = 0, e = 0; i < n; i++) {
        for (int j = 0; j < degrees[i]; j++, e++) {
            cnt[sources[i]]++;
            cnt[destinations[e]]++;
        }
    }
    for (int r = 0; r < p; r++) {
        off[r + 1] = off[r] + cnt[r];
        tot[r] = cnt[r];
    }
    memset(cnt, 0, sizeof(int) * (size_t)p);
    for (int i = 0, e = 0; i < n; i++) {
        for (int j = 0; j < degrees[i]; j++, e++) {
            int s = sources[i], d = destinations[e], wt = w ? weights[e] : 1;
            out[off[s] + cnt[s]++] = (struct edge_rec){d, wt, 0};
            out[off[d] + cnt[d]++] = (struct edge_rec){s, wt, 1};
        }
    }
    /* How many records each process gets: a sum over all contributions. */
    MPI_Comm c = comm_old;
    err = PMPI_Allreduce(MPI_IN_PLACE, tot, p, MPI_INT64_T, MPI_SUM, c);
    int mine = err ? 0 : (int)tot[c->rank];
    struct edge_rec *in = malloc(sizeof(*in) * (size_t)(mine + 1));
    struct sf_rt_req *sreq = calloc((size_t)p, sizeof(*sreq));
    int rc = err || in == NULL || sreq == NULL ? -ENOMEM : 0;
    /* Everyone sends every process its (possibly empty) list, then
     * receives from each in rank order into what is left of its buffer. */
    int started = 0;
    for (int r = 0; r < p && rc == 0; r++, started++) {
        rc = sf_rt_isend(sf_mpi__st.rt, &sreq[r], out + off[r], sizeof(*out) * (size_t)cnt[r],
                         c->world[r], c->ctx, c->rank, TAG_DIST_CREATE, SF_RT_STANDARD);
    }
    size_t got = 0;
    for (int r = 0; r < p && rc == 0; r++) {
        struct sf_rt_req rr;
        rc = sf_rt_irecv(sf_mpi__st.rt, &rr, in + got, sizeof(*in) * ((size_t)mine - got), r,
                         c->ctx, TAG_DIST_CREATE);
        if (rc == 0) {
            rc = sf_mpi__rt_wait(&rr);
        }
        if (rc == 0 && rr.status.error) {
            rc = rr.status.error;
        }
        got += rr.status.count / sizeof(*in);
    }
    for (int r = 0; r < started; r++) {
        int rc2 = sf_mpi__rt_wait(&sreq[r]);
        if (rc == 0 && rc2 < 0) {
            rc = rc2;
        }
    }
    free(cnt);
    free(off);
    free(out);
    free(tot);
    free(sreq);
    if (err) {
        free(in);
        return err;
    }
    if (rc < 0) {
        free(in);
        return rc == -ENOMEM ? sf_mpi__raise(comm_old, MPI_ERR_NO_MEM, fn, "out of memory")
                             : sf_mpi__raise_rt(comm_old, rc, fn);
    }
    int indeg = 0, outdeg = 0;
    for (size_t i = 0; i < got; i++) {
        if (in[i].dir) {
            indeg++;
        } else {
            outdeg++;
        }
    }
    int *a = malloc(sizeof(int) * (size_t)(2 * (indeg + outdeg) + 1));
    struct sf_mpi_topo *t = NULL;
    if (a != NULL) {
        int *srcs = a, *srcw = a + indeg, *dsts = a + 2 * indeg, *dstw = a + 2 * indeg + outdeg;
        int ki = 0, ko = 0;
        for (size_t i = 0; i < got; i++) {
            if (in[i].dir) {
                srcs[ki] = in[i].peer;
                srcw[ki++] = in[i].weight;
            } else {
                dsts[ko] = in[i].peer;
                dstw[ko++] = in[i].weight;
            }
        }
        t = dist_new(indeg, srcs, srcw, outdeg, dsts, dstw, w);
    }
    free(a);
    free(in);
    return dist_comm(fn, comm_old, t, comm_dist_graph);
}
SF_MPI_ALIAS(Dist_graph_create);

int PMPI_Dist_graph_neighbors_count(MPI_Comm comm, int *indegree, int *outdegree, int *weighted)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Dist_graph_neighbors_count";
    int err = chk_topo(fn, comm, MPI_DIST_GRAPH);
    if (err) {
        return err;
    }
    if (indegree == NULL || outdegree == NULL || weighted == NULL) {
        return sf_mpi__raise(comm, MPI_ERR_ARG, fn, "NULL argument");
    }
    *indegree = comm->topo->indeg;
    *outdegree = comm->topo->outdeg;
    *weighted = comm->topo->weighted;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Dist_graph_neighbors_count);

int PMPI_Dist_graph_neighbors(MPI_Comm comm, int maxindegree, int sources[], int sourceweights[],
                              int maxoutdegree, int destinations[], int destweights[])
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Dist_graph_neighbors";
    int err = chk_topo(fn, comm, MPI_DIST_GRAPH);
    if (err) {
        return err;
    }
    struct sf_mpi_topo *t = comm->topo;
    int ni = maxindegree < t->indeg ? maxindegree : t->indeg;
    int no = maxoutdegree < t->outdeg ? maxoutdegree : t->outdeg;
    for (int i = 0; i < ni; i++) {
        sources[i] = t->srcs[i];
        if (t->weighted && weights_given(sourceweights)) {
            sourceweights[i] = t->srcw[i];
        }
    }
    for (int i = 0; i < no; i++) {
        destinations[i] = t->dsts[i];
        if (t->weighted && weights_given(destweights)) {
            destweights[i] = t->dstw[i];
        }
    }
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Dist_graph_neighbors);

/* --- neighbourhood collectives --- */

/* In- and out-neighbour lists of comm's topology (MPI_PROC_NULL allowed
 * for Cartesian edges). *cart: the Cartesian case, where receive slot k
 * is matched by tag to the sender's slot k ^ 1 (with two processes in a
 * periodic dimension both neighbours are the same process). */
int sf_mpi__topo_neighbours(MPI_Comm comm, int **in, int *nin, int **out, int *nout, bool *cart)
{
    struct sf_mpi_topo *t = comm->topo;
    *cart = false;
    if (t->kind == MPI_CART) {
        int n = 2 * t->ndims;
        int *a = malloc(sizeof(int) * (size_t)(n + 1));
        if (a == NULL) {
            return -ENOMEM;
        }
        for (int d = 0; d < t->ndims; d++) {
            cart_shift(t, d, 1, &a[2 * d], &a[2 * d + 1]);
        }
        *in = *out = a;
        *nin = *nout = n;
        *cart = true;
        return 0;
    }
    if (t->kind == MPI_GRAPH) {
        int first, n;
        graph_span(t, comm->rank, &first, &n);
        int *a = malloc(sizeof(int) * (size_t)(n + 1));
        if (a == NULL) {
            return -ENOMEM;
        }
        if (n > 0) {
            memcpy(a, t->edges + first, sizeof(int) * (size_t)n);
        }
        *in = *out = a;
        *nin = *nout = n;
        return 0;
    }
    int *a = malloc(sizeof(int) * (size_t)(t->indeg + t->outdeg + 1));
    if (a == NULL) {
        return -ENOMEM;
    }
    /* A degree of 0 has no array (NULL): memcpy must not see it. */
    if (t->indeg > 0) {
        memcpy(a, t->srcs, sizeof(int) * (size_t)t->indeg);
    }
    if (t->outdeg > 0) {
        memcpy(a + t->indeg, t->dsts, sizeof(int) * (size_t)t->outdeg);
    }
    *in = a;
    *out = a + t->indeg;
    *nin = t->indeg;
    *nout = t->outdeg;
    return 0;
}

/* One exchange: block i of the send side goes to out-neighbour i, block
 * k of the receive side comes from in-neighbour k. Byte displacements. */
struct nbr_side {
    const void *buf;
    const int *counts; /* NULL: 'count' for every block */
    int count;
    const MPI_Aint *bdispl;    /* byte displacements, or NULL */
    const int *displ;          /* displacements in extents of the type, or NULL */
    const MPI_Datatype *types; /* per block, or NULL: 'type' */
    MPI_Datatype type;
    bool same; /* every block is the one at buf (allgather's send side) */
};

static void side_block(const struct nbr_side *s, int i, char **p, int *count, MPI_Datatype *t)
{
    *t = s->types != NULL ? s->types[i] : s->type;
    *count = s->counts != NULL ? s->counts[i] : s->count;
    MPI_Aint off;
    if (s->same) {
        off = 0;
    } else if (s->bdispl != NULL) {
        off = s->bdispl[i];
    } else if (s->displ != NULL) {
        off = (MPI_Aint)s->displ[i] * (*t)->extent;
    } else {
        off = (MPI_Aint)i * (*count) * (*t)->extent;
    }
    *p = (char *)s->buf + off;
}

static int nbr_exchange(const char *fn, MPI_Comm comm, const struct nbr_side *snd,
                        const struct nbr_side *rcv)
{
    int err = chk_topo(fn, comm, 0);
    if (err) {
        return err;
    }
    int *in, *out, nin, nout;
    bool cart;
    if (sf_mpi__topo_neighbours(comm, &in, &nin, &out, &nout, &cart) < 0) {
        return sf_mpi__raise(comm, MPI_ERR_NO_MEM, fn, "out of memory");
    }
    struct ompi_request_t **rq = calloc((size_t)(nin + nout + 1), sizeof(*rq));
    int nr = 0, cls = 0;
    if (rq == NULL) {
        free(in);
        return sf_mpi__raise(comm, MPI_ERR_NO_MEM, fn, "out of memory");
    }
    for (int k = 0; k < nin && !cls; k++) {
        if (in[k] == MPI_PROC_NULL) {
            continue;
        }
        char *p;
        int count;
        MPI_Datatype t;
        side_block(rcv, k, &p, &count, &t);
        struct ompi_request_t *r = sf_mpi__req_new();
        if (r == NULL) {
            cls = MPI_ERR_NO_MEM;
            break;
        }
        sf_mpi__p2p_prepare(r, SF_MPI_REQ_RECV, p, count, t, in[k], cart ? TAG_NBR - k : TAG_NBR,
                            comm, SF_RT_STANDARD, false);
        rq[nr++] = r;
        cls = sf_mpi__p2p_start(r);
    }
    for (int i = 0; i < nout && !cls; i++) {
        if (out[i] == MPI_PROC_NULL) {
            continue;
        }
        char *p;
        int count;
        MPI_Datatype t;
        side_block(snd, i, &p, &count, &t);
        struct ompi_request_t *r = sf_mpi__req_new();
        if (r == NULL) {
            cls = MPI_ERR_NO_MEM;
            break;
        }
        sf_mpi__p2p_prepare(r, SF_MPI_REQ_SEND, p, count, t, out[i],
                            cart ? TAG_NBR - (i ^ 1) : TAG_NBR, comm, SF_RT_STANDARD, false);
        rq[nr++] = r;
        cls = sf_mpi__p2p_start(r);
    }
    for (int i = 0; i < nr; i++) {
        int c = sf_mpi__p2p_wait(rq[i]);
        int c2 = sf_mpi__p2p_finish(rq[i], MPI_STATUS_IGNORE);
        if (!cls) {
            cls = c ? c : c2;
        }
        sf_mpi__req_release(rq[i]);
    }
    free(rq);
    free(in);
    return cls ? sf_mpi__raise(comm, cls, fn, "neighbour exchange failed") : MPI_SUCCESS;
}

int PMPI_Neighbor_alltoall(const void *sendbuf, int sendcount, MPI_Datatype sendtype, void *recvbuf,
                           int recvcount, MPI_Datatype recvtype, MPI_Comm comm)
{
    SF_MPI_ENTER();
    struct nbr_side s = {.buf = sendbuf, .count = sendcount, .type = sendtype};
    struct nbr_side r = {.buf = recvbuf, .count = recvcount, .type = recvtype};
    return nbr_exchange("MPI_Neighbor_alltoall", comm, &s, &r);
}
SF_MPI_ALIAS(Neighbor_alltoall);

int PMPI_Neighbor_alltoallv(const void *sendbuf, const int sendcounts[], const int sdispls[],
                            MPI_Datatype sendtype, void *recvbuf, const int recvcounts[],
                            const int rdispls[], MPI_Datatype recvtype, MPI_Comm comm)
{
    SF_MPI_ENTER();
    struct nbr_side s = {.buf = sendbuf, .counts = sendcounts, .displ = sdispls, .type = sendtype};
    struct nbr_side r = {.buf = recvbuf, .counts = recvcounts, .displ = rdispls, .type = recvtype};
    return nbr_exchange("MPI_Neighbor_alltoallv", comm, &s, &r);
}
SF_MPI_ALIAS(Neighbor_alltoallv);

int PMPI_Neighbor_alltoallw(const void *sendbuf, const int sendcounts[], const MPI_Aint sdispls[],
                            const MPI_Datatype sendtypes[], void *recvbuf, const int recvcounts[],
                            const MPI_Aint rdispls[], const MPI_Datatype recvtypes[], MPI_Comm comm)
{
    SF_MPI_ENTER();
    struct nbr_side s = {
        .buf = sendbuf, .counts = sendcounts, .bdispl = sdispls, .types = sendtypes};
    struct nbr_side r = {
        .buf = recvbuf, .counts = recvcounts, .bdispl = rdispls, .types = recvtypes};
    return nbr_exchange("MPI_Neighbor_alltoallw", comm, &s, &r);
}
SF_MPI_ALIAS(Neighbor_alltoallw);

/* Allgather: the same send block to every out-neighbour. */
int PMPI_Neighbor_allgather(const void *sendbuf, int sendcount, MPI_Datatype sendtype,
                            void *recvbuf, int recvcount, MPI_Datatype recvtype, MPI_Comm comm)
{
    SF_MPI_ENTER();
    struct nbr_side s = {.buf = sendbuf, .count = sendcount, .type = sendtype, .same = true};
    struct nbr_side r = {.buf = recvbuf, .count = recvcount, .type = recvtype};
    return nbr_exchange("MPI_Neighbor_allgather", comm, &s, &r);
}
SF_MPI_ALIAS(Neighbor_allgather);

int PMPI_Neighbor_allgatherv(const void *sendbuf, int sendcount, MPI_Datatype sendtype,
                             void *recvbuf, const int recvcounts[], const int displs[],
                             MPI_Datatype recvtype, MPI_Comm comm)
{
    SF_MPI_ENTER();
    struct nbr_side s = {.buf = sendbuf, .count = sendcount, .type = sendtype, .same = true};
    struct nbr_side r = {.buf = recvbuf, .counts = recvcounts, .displ = displs, .type = recvtype};
    return nbr_exchange("MPI_Neighbor_allgatherv", comm, &s, &r);
}
SF_MPI_ALIAS(Neighbor_allgatherv);
