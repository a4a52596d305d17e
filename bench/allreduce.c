/* MPI_Allreduce benchmark: MPI_SUM over doubles from 8 B to 4 MiB. The
 * time per call is the slowest rank's average over a batch; the figure is
 * the median over several batches. Plain MPI: built once against Starfish
 * and once against Open MPI (bench/run.sh). Output: "allreduce BYTES USEC".
 * Also checks the sum, so a wrong answer cannot pass as a fast one. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#define REPS 7

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const size_t maxn = (4u << 20) / sizeof(double);
    double *s = malloc(maxn * sizeof(double)), *r = malloc(maxn * sizeof(double));
    for (size_t i = 0; i < maxn; i++) {
        s[i] = rank + 1;
    }
    /* About a second of small allreduces before timing (start-up settling);
     * rank 0's clock decides, carried by the allreduce itself. */
    double w0 = MPI_Wtime();
    for (int go = 1; go;) {
        int mine = rank == 0 && MPI_Wtime() - w0 < 1.0;
        MPI_Allreduce(&mine, &go, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    }
    int bad = 0;
    static const size_t sizes[] = {8, 64, 512, 4096, 32768, 262144, 1u << 20, 4u << 20};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        size_t bytes = sizes[si];
        int n = (int)(bytes / sizeof(double));
        /* About 32 MiB reduced per batch, at least 4 and at most 500 calls. */
        int iters = (int)((32u << 20) / bytes);
        iters = iters < 4 ? 4 : iters > 500 ? 500 : iters;
        double v[REPS];
        MPI_Allreduce(s, r, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD); /* warm-up */
        for (int k = 0; k < REPS; k++) {
            MPI_Barrier(MPI_COMM_WORLD);
            double t0 = MPI_Wtime();
            for (int i = 0; i < iters; i++) {
                MPI_Allreduce(s, r, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
            }
            double t = (MPI_Wtime() - t0) * 1e6 / iters, tmax;
            MPI_Allreduce(&t, &tmax, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
            v[k] = tmax;
        }
        double expect = (double)size * (size + 1) / 2;
        if (r[0] != expect || r[n - 1] != expect) {
            bad = 1;
        }
        if (rank == 0) {
            qsort(v, REPS, sizeof(double), cmp_double);
            printf("allreduce %zu %.2f\n", bytes, v[REPS / 2]);
            fflush(stdout);
        }
    }
    if (bad) {
        fprintf(stderr, "allreduce: rank %d got a wrong sum\n", rank);
    }
    free(s);
    free(r);
    MPI_Finalize();
    return bad;
}
