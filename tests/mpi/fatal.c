/* MPI_ERRORS_ARE_FATAL (the default): an invalid rank ends the whole job
 * with a message naming the call, the rank and the communicator. The last
 * rank makes the bad call; the others wait in a receive that never
 * completes, so only the abort can end the job. run.sh checks the exit
 * status and the message. */
#include "mt.h"

int main(int argc, char **argv)
{
    mt_init(&argc, &argv);
    int v = 0;
    if (mt_rank == mt_size - 1) {
        MPI_Send(&v, 1, MPI_INT, mt_size + 5, 0, MPI_COMM_WORLD);
        fprintf(stderr, "fatal: MPI_Send returned under MPI_ERRORS_ARE_FATAL\n");
        return 0; /* exit 0 makes the test fail: the job should have aborted */
    }
    MPI_Recv(&v, 1, MPI_INT, mt_size - 1, 99, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    fprintf(stderr, "fatal: rank %d received a message nobody sent\n", mt_rank);
    return 0;
}
