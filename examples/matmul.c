/* C = A B for N x N matrices: rank 0 builds A and B, hands out blocks of
 * A's rows with MPI_Scatterv (N need not divide evenly), sends B to all
 * with MPI_Bcast, every rank multiplies its rows, and MPI_Gatherv brings C
 * back. The entries are small integers, so every product is exact in
 * doubles: rank 0 compares C with a serial product bit for bit and exits
 * non-zero on any difference. Usage: matmul [N] */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void multiply(const double *a, const double *b, double *c, int rows, int n)
{
    memset(c, 0, (size_t)rows * (size_t)n * sizeof(double));
    for (int i = 0; i < rows; i++) {
        for (int k = 0; k < n; k++) {
            double aik = a[(size_t)i * (size_t)n + (size_t)k];
            for (int j = 0; j < n; j++) {
                c[(size_t)i * (size_t)n + (size_t)j] += aik * b[(size_t)k * (size_t)n + (size_t)j];
            }
        }
    }
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int n = argc > 1 ? atoi(argv[1]) : 250;
    size_t nn = (size_t)n * (size_t)n;
    int *counts = malloc((size_t)size * sizeof(int)), *displs = malloc((size_t)size * sizeof(int));
    double *b = malloc(nn * sizeof(double));
    if (counts == NULL || displs == NULL || b == NULL) {
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    /* Rows per rank, in elements: the first n % size ranks get one more. */
    for (int r = 0, off = 0; r < size; r++) {
        counts[r] = (n / size + (r < n % size)) * n;
        displs[r] = off;
        off += counts[r];
    }
    int rows = counts[rank] / n;
    double *a = NULL, *c = NULL;
    if (rank == 0) {
        a = malloc(nn * sizeof(double));
        c = malloc(nn * sizeof(double));
        if (a == NULL || c == NULL) {
            MPI_Abort(MPI_COMM_WORLD, 2);
        }
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                a[(size_t)i * (size_t)n + (size_t)j] = (double)((i * 7 + j * 3) % 11 - 5);
                b[(size_t)i * (size_t)n + (size_t)j] = (double)((i * 5 + j * 13) % 9 - 4);
            }
        }
    }
    double *my_a = malloc((size_t)rows * (size_t)n * sizeof(double) + 1);
    double *my_c = malloc((size_t)rows * (size_t)n * sizeof(double) + 1);
    if (my_a == NULL || my_c == NULL) {
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    double t0 = MPI_Wtime();
    MPI_Scatterv(a, counts, displs, MPI_DOUBLE, my_a, counts[rank], MPI_DOUBLE, 0, MPI_COMM_WORLD);
    MPI_Bcast(b, n * n, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    multiply(my_a, b, my_c, rows, n);
    MPI_Gatherv(my_c, counts[rank], MPI_DOUBLE, c, counts, displs, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    double t1 = MPI_Wtime();
    int ok = 1;
    if (rank == 0) {
        double *ref = malloc(nn * sizeof(double));
        if (ref == NULL) {
            MPI_Abort(MPI_COMM_WORLD, 2);
        }
        multiply(a, b, ref, n, n);
        ok = memcmp(ref, c, nn * sizeof(double)) == 0;
        double trace = 0.0;
        for (int i = 0; i < n; i++) {
            trace += c[(size_t)i * (size_t)n + (size_t)i];
        }
        printf("matmul: %d x %d over %d ranks in %.3f s, trace %.0f\n", n, n, size, t1 - t0, trace);
        printf("  equal to the serial product: %s\n", ok ? "yes" : "NO");
        printf("%s\n", ok ? "OK" : "FAILED");
        free(ref);
    }
    MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
    free(a);
    free(b);
    free(c);
    free(my_a);
    free(my_c);
    free(counts);
    free(displs);
    MPI_Finalize();
    return ok ? 0 : 1;
}
