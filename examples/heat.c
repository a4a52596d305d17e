/* The heat equation u_t = u_xx + u_yy on the unit square, u = 0 on the
 * boundary, u(0) = sin(pi x) sin(pi y), by explicit finite differences on
 * an N x N grid split over a 2-D Cartesian communicator (MPI_Dims_create,
 * MPI_Cart_create, MPI_Cart_shift). Halos go by MPI_Sendrecv: rows as they
 * lie in memory, columns through an MPI_Type_vector. That initial state is
 * an eigenvector of the discrete operator, so after S steps the grid must
 * equal it times (1 - dt 8/h^2 sin^2(pi h / 2))^S to rounding: any halo
 * or decomposition error shows. Exits non-zero if it does not.
 * Usage: heat [N] [STEPS] */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

/* Block b of n points split into parts: first index and count. */
static void split(int n, int parts, int b, int *first, int *count)
{
    int base = n / parts, extra = n % parts;
    *count = base + (b < extra);
    *first = b * base + (b < extra ? b : extra);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int size, rank;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int n = argc > 1 ? atoi(argv[1]) : 96;
    int steps = argc > 2 ? atoi(argv[2]) : 200;
    int dims[2] = {0, 0}, periods[2] = {0, 0}, coords[2];
    MPI_Dims_create(size, 2, dims);
    if (n < dims[0] || n < dims[1]) {
        n = dims[0] > dims[1] ? dims[0] : dims[1];
    }
    MPI_Comm cart;
    MPI_Cart_create(MPI_COMM_WORLD, 2, dims, periods, 1, &cart);
    MPI_Comm_rank(cart, &rank);
    MPI_Cart_coords(cart, rank, 2, coords);
    int up, down, left, right;
    MPI_Cart_shift(cart, 0, 1, &up, &down);    /* rows: x direction */
    MPI_Cart_shift(cart, 1, 1, &left, &right); /* columns: y direction */

    int x0, nx, y0, ny;
    split(n, dims[0], coords[0], &x0, &nx);
    split(n, dims[1], coords[1], &y0, &ny);
    const int w = ny + 2; /* row length with halo */
    double *u = calloc((size_t)(nx + 2) * (size_t)w, sizeof(double));
    double *v = calloc((size_t)(nx + 2) * (size_t)w, sizeof(double));
    if (u == NULL || v == NULL) {
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
#define AT(a, i, j) (a)[(size_t)(i) * (size_t)w + (size_t)(j)]
    const double h = 1.0 / (n + 1), dt = 0.2 * h * h;
    for (int i = 1; i <= nx; i++) {
        for (int j = 1; j <= ny; j++) {
            AT(u, i, j) = sin(M_PI * (x0 + i) * h) * sin(M_PI * (y0 + j) * h);
        }
    }
    MPI_Datatype column;
    MPI_Type_vector(nx, 1, w, MPI_DOUBLE, &column);
    MPI_Type_commit(&column);

    const double r = dt / (h * h);
    for (int s = 0; s < steps; s++) {
        /* Halos: first/last interior row to up/down, columns left/right. */
        MPI_Sendrecv(&AT(u, 1, 1), ny, MPI_DOUBLE, up, 0, &AT(u, nx + 1, 1), ny, MPI_DOUBLE, down,
                     0, cart, MPI_STATUS_IGNORE);
        MPI_Sendrecv(&AT(u, nx, 1), ny, MPI_DOUBLE, down, 1, &AT(u, 0, 1), ny, MPI_DOUBLE, up, 1,
                     cart, MPI_STATUS_IGNORE);
        MPI_Sendrecv(&AT(u, 1, 1), 1, column, left, 2, &AT(u, 1, ny + 1), 1, column, right, 2,
                     cart, MPI_STATUS_IGNORE);
        MPI_Sendrecv(&AT(u, 1, ny), 1, column, right, 3, &AT(u, 1, 0), 1, column, left, 3, cart,
                     MPI_STATUS_IGNORE);
        for (int i = 1; i <= nx; i++) {
            for (int j = 1; j <= ny; j++) {
                AT(v, i, j) = AT(u, i, j) + r * (AT(u, i - 1, j) + AT(u, i + 1, j) + AT(u, i, j - 1) +
                                                 AT(u, i, j + 1) - 4.0 * AT(u, i, j));
            }
        }
        double *t = u;
        u = v;
        v = t;
    }

    /* The discrete eigenvalue of this mode, applied `steps` times. */
    const double s2 = sin(M_PI * h / 2.0);
    const double factor = pow(1.0 - dt * 8.0 / (h * h) * s2 * s2, steps);
    double err = 0.0, mass = 0.0;
    for (int i = 1; i <= nx; i++) {
        for (int j = 1; j <= ny; j++) {
            double want = factor * sin(M_PI * (x0 + i) * h) * sin(M_PI * (y0 + j) * h);
            err = fmax(err, fabs(AT(u, i, j) - want));
            mass += AT(u, i, j) * h * h;
        }
    }
    double gerr, gmass;
    MPI_Allreduce(&err, &gerr, 1, MPI_DOUBLE, MPI_MAX, cart);
    MPI_Reduce(&mass, &gmass, 1, MPI_DOUBLE, MPI_SUM, 0, cart);
    int ok = gerr < 1e-12;
    if (rank == 0) {
        printf("heat: %d x %d grid on a %d x %d process grid, %d steps\n", n, n, dims[0], dims[1],
               steps);
        printf("  heat left  %.9f (continuum %.9f)\n", gmass,
               4.0 / (M_PI * M_PI) * exp(-2.0 * M_PI * M_PI * dt * steps));
        printf("  max error against the discrete solution %.3e\n", gerr);
        printf("%s\n", ok ? "OK" : "FAILED");
    }
    MPI_Type_free(&column);
    MPI_Comm_free(&cart);
    free(u);
    free(v);
    MPI_Finalize();
    return ok ? 0 : 1;
}
