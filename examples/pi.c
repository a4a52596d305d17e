/* Computes pi as the integral of 4/(1+x^2) over [0,1] by the midpoint rule,
 * the intervals dealt round-robin to the ranks: MPI_Bcast of the interval
 * count, MPI_Reduce of the partial sums. Prints the answer and its error
 * and exits non-zero if the error is too large. Usage: pi [intervals] */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);

    long long n = 0;
    if (rank == 0) {
        n = argc > 1 ? atoll(argv[1]) : 50000000LL;
        if (n < 1) {
            n = 1;
        }
    }
    double t0 = MPI_Wtime();
    MPI_Bcast(&n, 1, MPI_LONG_LONG, 0, MPI_COMM_WORLD);

    double h = 1.0 / (double)n, sum = 0.0;
    for (long long i = rank; i < n; i += size) {
        double x = h * ((double)i + 0.5);
        sum += 4.0 / (1.0 + x * x);
    }
    double part = h * sum, pi = 0.0;
    MPI_Reduce(&part, &pi, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
    double t1 = MPI_Wtime();

    int ok = 1;
    if (rank == 0) {
        const double exact = 3.14159265358979323846;
        double err = fabs(pi - exact);
        /* Midpoint rule: truncation error under 1/(6n^2); the sums of
         * ~n/size terms add rounding far below 1e-10. */
        double bound = 1.0 / (6.0 * (double)n * (double)n) + 1e-10;
        ok = err <= bound;
        printf("pi = integral of 4/(1+x^2) over [0,1], midpoint rule\n");
        printf("  intervals  %lld on %d rank%s\n", n, size, size == 1 ? "" : "s");
        printf("  pi         %.12f\n", pi);
        printf("  exact      %.12f\n", exact);
        printf("  error      %.1e (bound %.1e)\n", err, bound);
        printf("  time       %.3f s\n", t1 - t0);
        printf("%s\n", ok ? "OK" : "FAILED: error above the bound");
    }
    MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
    MPI_Finalize();
    return ok ? 0 : 1;
}
