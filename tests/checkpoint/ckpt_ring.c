/* Test program for checkpoints: ranks exchange messages without pause
 * (small ones around a ring, a 160 KB one to the right neighbour every few
 * iterations: rendezvous, an allreduce each iteration) and check every
 * large message's contents, so a lost, duplicated or torn message is
 * caught; the final answer depends on every message. Prints "iter K"
 * (rank 0, every 100) so a test knows it is mid-run, and "answer X".
 *   ckpt_ring [ITERS [DELAY_US]] */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define BIG (20 * 1024) /* uint64 words: 160 KB */

static uint64_t word(int from, int it, int i)
{
    uint64_t x = (uint64_t)from * 0x9e3779b97f4a7c15ull ^ (uint64_t)it << 20 ^ (uint64_t)i;
    x ^= x >> 29;
    return x * 0xbf58476d1ce4e5b9ull;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int iters = argc > 1 ? atoi(argv[1]) : 2000;
    int delay = argc > 2 ? atoi(argv[2]) : 0;
    int right = (rank + 1) % size, left = (rank + size - 1) % size;
    uint64_t *out = malloc(BIG * sizeof(uint64_t)), *in = malloc(BIG * sizeof(uint64_t));
    uint64_t acc = (uint64_t)rank + 1;
    for (int it = 0; it < iters; it++) {
        uint64_t s = acc * 6364136223846793005ull + (uint64_t)it, r = 0;
        MPI_Sendrecv(&s, 1, MPI_UINT64_T, right, 1, &r, 1, MPI_UINT64_T, left, 1, MPI_COMM_WORLD,
                     MPI_STATUS_IGNORE);
        acc ^= r + (uint64_t)it;
        if (it % 5 == 0) {
            for (int i = 0; i < BIG; i++) {
                out[i] = word(rank, it, i);
            }
            MPI_Request q[2];
            MPI_Irecv(in, BIG, MPI_UINT64_T, left, 2, MPI_COMM_WORLD, &q[0]);
            MPI_Isend(out, BIG, MPI_UINT64_T, right, 2, MPI_COMM_WORLD, &q[1]);
            MPI_Waitall(2, q, MPI_STATUSES_IGNORE);
            for (int i = 0; i < BIG; i++) {
                if (in[i] != word(left, it, i)) {
                    fprintf(stderr, "rank %d: iteration %d: word %d from rank %d is wrong\n", rank,
                            it, i, left);
                    MPI_Abort(MPI_COMM_WORLD, 3);
                }
            }
            acc += in[it % BIG];
        }
        uint64_t v = acc % 1000003, sum = 0;
        MPI_Allreduce(&v, &sum, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
        acc += sum;
        if (rank == 0 && it % 100 == 0) {
            printf("iter %d\n", it);
            fflush(stdout);
        }
        if (delay > 0) {
            usleep((useconds_t)delay);
        }
    }
    uint64_t all = 0;
    MPI_Reduce(&acc, &all, 1, MPI_UINT64_T, MPI_BXOR, 0, MPI_COMM_WORLD);
    if (rank == 0) {
        printf("answer %016llx\n", (unsigned long long)all);
    }
    free(out);
    free(in);
    MPI_Finalize();
    return 0;
}
