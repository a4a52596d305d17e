/* Point-to-point benchmark between ranks 0 and 1 in the style of the OSU
 * micro-benchmarks: latency (half round trip) for 8 B, 1 KiB, 64 KiB and
 * 1 MiB; bandwidth with a window of non-blocking sends for 64 KiB, 1 MiB
 * and 4 MiB. Each figure is the median of several repetitions. Plain MPI:
 * built once against Starfish and once against Open MPI (bench/run.sh).
 * Output lines: "lat BYTES USEC" and "bw BYTES MB/s". Extra ranks idle. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPS 7
#define WINDOW 64

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Round trips of 'bytes'; returns the one-way time in microseconds. */
static double latency(int rank, char *buf, int bytes, int iters)
{
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    for (int i = 0; i < iters; i++) {
        if (rank == 0) {
            MPI_Send(buf, bytes, MPI_CHAR, 1, 1, MPI_COMM_WORLD);
            MPI_Recv(buf, bytes, MPI_CHAR, 1, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        } else if (rank == 1) {
            MPI_Recv(buf, bytes, MPI_CHAR, 0, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            MPI_Send(buf, bytes, MPI_CHAR, 0, 1, MPI_COMM_WORLD);
        }
    }
    return (MPI_Wtime() - t0) * 1e6 / (2.0 * iters);
}

/* Windows of WINDOW sends, each window acknowledged; returns MB/s
 * (10^6 bytes per second, as OSU reports). */
static double bandwidth(int rank, char *sbuf, char *rbuf, int bytes, int iters)
{
    MPI_Request req[WINDOW];
    char ack = 0;
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    for (int i = 0; i < iters; i++) {
        if (rank == 0) {
            for (int w = 0; w < WINDOW; w++) {
                MPI_Isend(sbuf, bytes, MPI_CHAR, 1, 2, MPI_COMM_WORLD, &req[w]);
            }
            MPI_Waitall(WINDOW, req, MPI_STATUSES_IGNORE);
            MPI_Recv(&ack, 1, MPI_CHAR, 1, 3, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        } else if (rank == 1) {
            for (int w = 0; w < WINDOW; w++) {
                MPI_Irecv(rbuf, bytes, MPI_CHAR, 0, 2, MPI_COMM_WORLD, &req[w]);
            }
            MPI_Waitall(WINDOW, req, MPI_STATUSES_IGNORE);
            MPI_Send(&ack, 1, MPI_CHAR, 0, 3, MPI_COMM_WORLD);
        }
    }
    double t = MPI_Wtime() - t0;
    return (double)bytes * WINDOW * iters / t / 1e6;
}

/* Round trips for about 'secs' seconds before any timing, so pages,
 * caches and connections are warm and the launcher's start-up work is
 * over. Rank 0 decides when to stop and says so in the message. */
static void warm_up(int rank, double secs)
{
    int go = 1;
    double t0 = MPI_Wtime();
    while (go) {
        if (rank == 0) {
            go = MPI_Wtime() - t0 < secs;
            MPI_Send(&go, 1, MPI_INT, 1, 4, MPI_COMM_WORLD);
            MPI_Recv(&go, 1, MPI_INT, 1, 4, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        } else if (rank == 1) {
            MPI_Recv(&go, 1, MPI_INT, 0, 4, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            MPI_Send(&go, 1, MPI_INT, 0, 4, MPI_COMM_WORLD);
        } else {
            go = 0;
        }
    }
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size < 2) {
        if (rank == 0) {
            fprintf(stderr, "pingpong: needs 2 ranks\n");
        }
        MPI_Finalize();
        return 2;
    }
    const int max = 4 << 20;
    char *sbuf = malloc(max), *rbuf = malloc(max);
    memset(sbuf, 'a', max);
    memset(rbuf, 'b', max);

    warm_up(rank, 1.0);
    static const int lat_sizes[] = {8, 1024, 65536, 1 << 20};
    for (size_t k = 0; k < sizeof lat_sizes / sizeof lat_sizes[0]; k++) {
        int b = lat_sizes[k];
        int iters = b <= 1024 ? 2000 : b <= 65536 ? 300 : 40;
        double v[REPS];
        latency(rank, sbuf, b, iters / 10 + 1); /* warm-up */
        for (int r = 0; r < REPS; r++) {
            v[r] = latency(rank, sbuf, b, iters);
        }
        if (rank == 0) {
            printf("lat %d %.2f\n", b, median(v, REPS));
            fflush(stdout);
        }
    }
    static const int bw_sizes[] = {65536, 1 << 20, 4 << 20};
    for (size_t k = 0; k < sizeof bw_sizes / sizeof bw_sizes[0]; k++) {
        int b = bw_sizes[k];
        int iters = b <= 65536 ? 20 : b <= (1 << 20) ? 4 : 2;
        double v[REPS];
        bandwidth(rank, sbuf, rbuf, b, 1); /* warm-up */
        for (int r = 0; r < REPS; r++) {
            v[r] = bandwidth(rank, sbuf, rbuf, b, iters);
        }
        if (rank == 0) {
            printf("bw %d %.1f\n", b, median(v, REPS));
            fflush(stdout);
        }
    }
    free(sbuf);
    free(rbuf);
    MPI_Finalize();
    return 0;
}
