/* Launch-latency benchmark program: MPI_Init, one MPI_Barrier,
 * MPI_Finalize, nothing else, so the launcher's start-to-exit time is what
 * bench/launch.sh measures. Prints nothing on success (output forwarding
 * is not what is timed). Plain MPI: built once against Starfish and once
 * against Open MPI. */
#include <mpi.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    if (MPI_Init(&argc, &argv) != MPI_SUCCESS) {
        fprintf(stderr, "hello: MPI_Init failed\n");
        return 1;
    }
    int rc = MPI_Barrier(MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) {
        fprintf(stderr, "hello: MPI_Barrier failed (%d)\n", rc);
    }
    MPI_Finalize();
    return rc == MPI_SUCCESS ? 0 : 1;
}
