/* Collective benchmark: MPI_Bcast, MPI_Allgather and MPI_Alltoall of bytes,
 * 8 B to 4 MiB. SIZE is the message for bcast and the whole receive
 * buffer per rank for allgather and alltoall (SIZE / ranks per block).
 * Time per call is the slowest rank's average over a batch; the figure is
 * the median over several batches. Plain MPI: built against Starfish and
 * against Open MPI (bench/run.sh). Output: "KIND SIZE USEC". Checks the
 * data of the last call of each size. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPS 7

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int rank, size;

static void one(int kind, char *s, char *r, size_t bytes)
{
    int blk = (int)(bytes / (size_t)size);
    if (kind == 0) {
        MPI_Bcast(r, (int)bytes, MPI_BYTE, 0, MPI_COMM_WORLD);
    } else if (kind == 1) {
        MPI_Allgather(s, blk, MPI_BYTE, r, blk, MPI_BYTE, MPI_COMM_WORLD);
    } else {
        MPI_Alltoall(s, blk, MPI_BYTE, r, blk, MPI_BYTE, MPI_COMM_WORLD);
    }
}

/* Expected byte i of the result. */
static unsigned char expect(int kind, size_t bytes, size_t i)
{
    size_t blk = bytes / (size_t)size;
    if (kind == 0) {
        return (unsigned char)(i * 7);
    }
    int from = blk ? (int)(i / blk) : 0;
    if (kind == 1) {
        return (unsigned char)(from * 31 + i % blk);
    }
    return (unsigned char)(from * 31 + rank * 5 + i % blk);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const size_t maxb = 4u << 20;
    char *s = malloc(maxb), *r = malloc(maxb);
    double w0 = MPI_Wtime();
    for (int go = 1; go;) {
        int mine = rank == 0 && MPI_Wtime() - w0 < 1.0;
        MPI_Allreduce(&mine, &go, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    }
    static const char *names[] = {"bcast", "allgather", "alltoall"};
    static const size_t sizes[] = {8, 64, 512, 4096, 32768, 262144, 1u << 20, 4u << 20};
    int bad = 0;
    for (int kind = 0; kind < 3; kind++) {
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
            size_t bytes = sizes[si];
            if (kind > 0 && bytes < (size_t)size) {
                continue; /* less than a byte per block */
            }
            size_t blk = bytes / (size_t)size;
            for (size_t i = 0; i < bytes; i++) {
                if (kind == 0) {
                    r[i] = rank == 0 ? (char)(i * 7) : 0;
                } else if (kind == 1) {
                    s[i] = (char)(rank * 31 + i % blk);
                } else {
                    s[i] = (char)(rank * 31 + (int)(i / blk) * 5 + i % blk);
                }
            }
            int iters = (int)((32u << 20) / bytes);
            iters = iters < 4 ? 4 : iters > 500 ? 500 : iters;
            double v[REPS];
            one(kind, s, r, bytes); /* warm-up */
            for (int k = 0; k < REPS; k++) {
                MPI_Barrier(MPI_COMM_WORLD);
                double t0 = MPI_Wtime();
                for (int i = 0; i < iters; i++) {
                    one(kind, s, r, bytes);
                }
                double t = (MPI_Wtime() - t0) * 1e6 / iters, tmax;
                MPI_Allreduce(&t, &tmax, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
                v[k] = tmax;
            }
            size_t upto = kind == 0 ? bytes : blk * (size_t)size;
            for (size_t i = 0; i < upto; i++) {
                if ((unsigned char)r[i] != expect(kind, bytes, i)) {
                    bad = 1;
                    break;
                }
            }
            if (rank == 0) {
                qsort(v, REPS, sizeof(double), cmp_double);
                printf("%s %zu %.2f\n", names[kind], bytes, v[REPS / 2]);
                fflush(stdout);
            }
        }
    }
    if (bad) {
        fprintf(stderr, "coll: rank %d got wrong data\n", rank);
    }
    free(s);
    free(r);
    MPI_Finalize();
    return bad;
}
