/* Derived datatypes on the wire: vector/indexed/struct messages around a
 * ring, a 2-D halo exchange of columns (MPI_Type_vector), Sendrecv with
 * different send and receive types of one signature, a large strided
 * message (rendezvous path), bcast and allreduce of strided types, and a
 * type freed while its request is pending. Any number of ranks. (Open MPI
 * 4.1 runs all but the allreduce part: it refuses predefined ops on
 * derived types, which MPI allows and Starfish supports.) */
#include <stdbool.h>
#include <stddef.h>

#include "mt.h"

struct rec {
    int id;
    double v[2];
    char tag;
};

static void ring_vector_indexed(int right, int left)
{
    /* send every third int of 30; receive them into an indexed layout */
    int src[30], dst[40];
    for (int i = 0; i < 30; i++) {
        src[i] = mt_rank * 1000 + i;
    }
    memset(dst, 0, sizeof(dst));
    MPI_Datatype vec, idx;
    OK(MPI_Type_vector(10, 1, 3, MPI_INT, &vec));
    int bl[] = {4, 6}, disp[] = {30, 2};
    OK(MPI_Type_indexed(2, bl, disp, MPI_INT, &idx));
    OK(MPI_Type_commit(&vec));
    OK(MPI_Type_commit(&idx));
    MPI_Status st;
    OK(MPI_Sendrecv(src, 1, vec, right, 1, dst, 1, idx, left, 1, MPI_COMM_WORLD, &st));
    for (int k = 0; k < 10; k++) {
        int pos = k < 4 ? 30 + k : 2 + (k - 4);
        CHECK(dst[pos] == left * 1000 + 3 * k, "dst[%d] = %d", pos, dst[pos]);
    }
    CHECK(dst[0] == 0 && dst[1] == 0 && dst[8] == 0 && dst[29] == 0 && dst[34] == 0,
          "gaps were written");
    int n;
    OK(MPI_Get_count(&st, idx, &n));
    CHECK(n == 1, "count %d", n);
    OK(MPI_Get_elements(&st, vec, &n));
    CHECK(n == 10, "elements %d", n);
    OK(MPI_Type_free(&vec));
    OK(MPI_Type_free(&idx));
    SAY("vector -> indexed Sendrecv around the ring");
}

static void ring_struct(int right, int left)
{
    int bl[] = {1, 2, 1};
    MPI_Aint disp[] = {offsetof(struct rec, id), offsetof(struct rec, v),
                       offsetof(struct rec, tag)};
    MPI_Datatype types[] = {MPI_INT, MPI_DOUBLE, MPI_CHAR}, t;
    OK(MPI_Type_create_struct(3, bl, disp, types, &t));
    OK(MPI_Type_commit(&t));
    MPI_Aint lb, ext;
    OK(MPI_Type_get_extent(t, &lb, &ext));
    CHECK(ext == (MPI_Aint)sizeof(struct rec), "struct extent %ld", (long)ext);
    struct rec out[5], in[5];
    for (int i = 0; i < 5; i++) {
        out[i].id = mt_rank * 10 + i;
        out[i].v[0] = i * 0.5;
        out[i].v[1] = -i;
        out[i].tag = (char)('a' + mt_rank);
    }
    memset(in, 0, sizeof(in));
    MPI_Request rq[2];
    OK(MPI_Irecv(in, 5, t, left, 2, MPI_COMM_WORLD, &rq[0]));
    OK(MPI_Isend(out, 5, t, right, 2, MPI_COMM_WORLD, &rq[1]));
    OK(MPI_Type_free(&t)); /* the requests keep it alive */
    OK(MPI_Waitall(2, rq, MPI_STATUSES_IGNORE));
    for (int i = 0; i < 5; i++) {
        CHECK(in[i].id == left * 10 + i && in[i].v[0] == i * 0.5 && in[i].v[1] == -i &&
                  in[i].tag == 'a' + left,
              "record %d", i);
    }
    SAY("struct array Isend/Irecv with the type freed while pending");
}

/* A ROWS x COLS block per rank with one halo column on each side,
 * neighbours left/right on a periodic ring: send the first and last
 * interior columns, receive into the halos. */
static void halo_columns(int right, int left)
{
    enum { ROWS = 6, COLS = 5, W = COLS + 2 };
    double g[ROWS][W];
    for (int r = 0; r < ROWS; r++) {
        for (int c = 0; c < W; c++) {
            g[r][c] = (c == 0 || c == W - 1) ? -1.0 : mt_rank * 100 + r * 10 + c;
        }
    }
    MPI_Datatype col;
    OK(MPI_Type_vector(ROWS, 1, W, MPI_DOUBLE, &col));
    OK(MPI_Type_commit(&col));
    /* to the right goes my last interior column, from the left comes theirs */
    OK(MPI_Sendrecv(&g[0][COLS], 1, col, right, 3, &g[0][0], 1, col, left, 3, MPI_COMM_WORLD,
                    MPI_STATUS_IGNORE));
    OK(MPI_Sendrecv(&g[0][1], 1, col, left, 4, &g[0][W - 1], 1, col, right, 4, MPI_COMM_WORLD,
                    MPI_STATUS_IGNORE));
    for (int r = 0; r < ROWS; r++) {
        CHECK(g[r][0] == left * 100 + r * 10 + COLS, "left halo row %d = %g", r, g[r][0]);
        CHECK(g[r][W - 1] == right * 100 + r * 10 + 1, "right halo row %d = %g", r, g[r][W - 1]);
        for (int c = 1; c < W - 1; c++) {
            CHECK(g[r][c] == mt_rank * 100 + r * 10 + c, "interior (%d,%d) changed", r, c);
        }
    }
    OK(MPI_Type_free(&col));
    SAY("2-D halo exchange of columns with MPI_Type_vector");
}

static void large_strided(int right, int left)
{
    /* 1 Mi doubles every other one: 8 MiB packed, far above eager */
    const int n = 1 << 20;
    double *a = malloc((size_t)n * 2 * sizeof(double));
    double *b = malloc((size_t)n * 2 * sizeof(double));
    CHECK(a != NULL && b != NULL, "malloc");
    for (int i = 0; i < 2 * n; i++) {
        a[i] = mt_rank + i * 1e-3;
        b[i] = -7;
    }
    MPI_Datatype v;
    OK(MPI_Type_vector(n, 1, 2, MPI_DOUBLE, &v));
    OK(MPI_Type_commit(&v));
    OK(MPI_Sendrecv(a, 1, v, right, 5, b + 1, 1, v, left, 5, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
    for (int i = 0; i < n; i += 997) {
        CHECK(b[2 * i + 1] == left + 2 * i * 1e-3, "b[%d] = %g", 2 * i + 1, b[2 * i + 1]);
        CHECK(b[2 * i] == -7, "gap %d written", 2 * i);
    }
    OK(MPI_Type_free(&v));
    free(a);
    free(b);
    SAY("8 MiB strided message");
}

static void collectives(void)
{
    /* bcast of a strided type leaves the receivers' gaps alone */
    int x[12];
    for (int i = 0; i < 12; i++) {
        x[i] = mt_rank == 0 ? i : -1;
    }
    MPI_Datatype v;
    OK(MPI_Type_vector(4, 2, 3, MPI_INT, &v));
    OK(MPI_Type_commit(&v));
    OK(MPI_Bcast(x, 1, v, 0, MPI_COMM_WORLD));
    for (int i = 0; i < 12; i++) {
        bool in = i % 3 != 2;
        CHECK(x[i] == (in || mt_rank == 0 ? i : -1), "bcast x[%d] = %d", i, x[i]);
    }
    OK(MPI_Type_free(&v));
    /* allreduce of every other double, and of a contiguous type */
    double d[8], r[8];
    for (int i = 0; i < 8; i++) {
        d[i] = mt_rank + i;
        r[i] = -5;
    }
    OK(MPI_Type_vector(4, 1, 2, MPI_DOUBLE, &v));
    OK(MPI_Type_commit(&v));
    OK(MPI_Allreduce(d, r, 1, v, MPI_SUM, MPI_COMM_WORLD));
    double rs = (double)mt_size * (mt_size - 1) / 2;
    for (int i = 0; i < 8; i++) {
        CHECK(r[i] == (i % 2 == 0 ? rs + mt_size * i : -5), "allreduce r[%d] = %g", i, r[i]);
    }
    OK(MPI_Type_free(&v));
    MPI_Datatype c;
    OK(MPI_Type_contiguous(4, MPI_DOUBLE, &c));
    OK(MPI_Type_commit(&c));
    OK(MPI_Allreduce(MPI_IN_PLACE, d, 2, c, MPI_MAX, MPI_COMM_WORLD));
    for (int i = 0; i < 8; i++) {
        CHECK(d[i] == mt_size - 1 + i, "allreduce max d[%d] = %g", i, d[i]);
    }
    OK(MPI_Type_free(&c));
    SAY("bcast and allreduce with derived types");
}

int main(int argc, char **argv)
{
    mt_init(&argc, &argv);
    int right = (mt_rank + 1) % mt_size, left = (mt_rank + mt_size - 1) % mt_size;
    ring_vector_indexed(right, left);
    ring_struct(right, left);
    halo_columns(right, left);
    large_strided(right, left);
    collectives();
    OK(MPI_Barrier(MPI_COMM_WORLD));
    SAY("dtype: all checks passed on %d ranks", mt_size);
    MPI_Finalize();
    return 0;
}
