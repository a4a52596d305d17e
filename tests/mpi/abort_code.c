/* MPI_Abort from one rank while the others wait in a barrier: the whole
 * job ends and sfrun (or the singleton process) exits with the code given,
 * 7 (tests/mpi/run.sh checks the status). */
#include "mt.h"

int main(int argc, char **argv)
{
    mt_init(&argc, &argv);
    if (mt_rank == mt_size - 1) {
        MPI_Abort(MPI_COMM_WORLD, 7);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    fprintf(stderr, "rank %d: got past the barrier after MPI_Abort\n", mt_rank);
    MPI_Finalize();
    return 0;
}
