/* Process topologies: Cartesian, graph and distributed graph
 * communicators, their queries, MPI_Dims_create, and the blocking
 * neighbourhood collectives over point-to-point. reorder is ignored (ranks
 * keep their order). Non-blocking neighbourhood collectives are not here.
 * Caller's thread. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mpi-shim/shim_int.h"

struct sf_mpi_topo {
    int kind;               /* MPI_CART, MPI_GRAPH, MPI_DIST_GRAPH */
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
