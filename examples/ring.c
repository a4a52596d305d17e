/* Passes a token around the ring of ranks for a number of laps; each rank
 * adds its rank number on every pass, so the final value is known. Prints
 * the value, its check and the time per hop. Usage: ring [laps] */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int laps = argc > 1 ? atoi(argv[1]) : 1000;
    if (laps < 1) {
        laps = 1;
    }
    int next = (rank + 1) % size, prev = (rank - 1 + size) % size;

    long long token = 0;
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    for (int lap = 0; lap < laps; lap++) {
        if (rank == 0) {
            token += rank;
            MPI_Send(&token, 1, MPI_LONG_LONG, next, lap, MPI_COMM_WORLD);
            MPI_Recv(&token, 1, MPI_LONG_LONG, prev, lap, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        } else {
            MPI_Recv(&token, 1, MPI_LONG_LONG, prev, lap, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            token += rank;
            MPI_Send(&token, 1, MPI_LONG_LONG, next, lap, MPI_COMM_WORLD);
        }
    }
    double t1 = MPI_Wtime();

    int ok = 1;
    if (rank == 0) {
        long long expect = (long long)laps * size * (size - 1) / 2;
        ok = token == expect;
        printf("token ring: %d laps over %d ranks, each rank adds its rank number\n", laps, size);
        printf("  token      %lld (expected %lld)\n", token, expect);
        printf("  time       %.3f s, %.2f us per hop\n", t1 - t0,
               (t1 - t0) * 1e6 / ((double)laps * size));
        printf("%s\n", ok ? "OK" : "FAILED: wrong token");
    }
    MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
    MPI_Finalize();
    return ok ? 0 : 1;
}
