/* MPI program for the launcher tests: rank 1 misbehaves as argv[1] says
 * (ok, abort, nofin, segv), the others wait in a receive that never completes
 * unless the job is torn down. Built at test time with sfcc (and with Open
 * MPI's mpicc to check the ABI path); single-threaded. */
#include <mpi.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    int rank, size;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const char *mode = argc > 1 ? argv[1] : "ok";
    printf("hello from %d of %d\n", rank, size);
    fflush(stdout);
    if (strcmp(mode, "ok") == 0) {
        MPI_Barrier(MPI_COMM_WORLD);
        MPI_Finalize();
        return 0;
    }
    if (rank == 1 && strcmp(mode, "abort") == 0) {
        MPI_Abort(MPI_COMM_WORLD, 3);
    }
    if (rank == 1 && strcmp(mode, "nofin") == 0) {
        exit(0);
    }
    if (rank == 1 && strcmp(mode, "segv") == 0) {
        raise(SIGSEGV);
    }
    int x;
    MPI_Recv(&x, 1, MPI_INT, MPI_ANY_SOURCE, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    MPI_Finalize();
    return 0;
}
