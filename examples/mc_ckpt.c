/* Monte Carlo estimate of pi that survives failures: every rank draws
 * samples from a generator seeded by (rank, step), so the answer does not
 * depend on timing; the state (step, global hit count, this rank's own
 * count) is protected with Starfish's application-level checkpoint API and
 * saved every K steps. Run it with sfrun --ft=restart: kill a rank and the
 * job rolls back to the last checkpoint and prints exactly what an
 * undisturbed run prints. It checks its own answer (prints OK).
 *
 *   mc_ckpt [STEPS [SAMPLES [K]]] [--pause-at STEP FILE]... [--tag LABEL]
 *           [--ballast MIB] [--time FILE] [--stall RANK STEP FILE]
 * --ballast: protect MIB more MiB per rank (deterministic contents,
 * checked at the end) to measure checkpoints of that size; --time: rank 0
 * appends each checkpoint's duration and when it recovered to FILE (not
 * to stdout/stderr: after a restart, output is matched by position with
 * what was shown before, so only output that repeats exactly belongs
 * there).
 * --pause-at (for fault drills): a process that reaches STEP (after its
 * checkpoint there, if any) waits until FILE exists, unless it was
 * restarted from STEP or later; a test kills ranks while they wait.
 * --stall: rank RANK of a fresh run waits for FILE just before its
 * checkpoint at STEP, while the others wait inside theirs (a failure
 * during a checkpoint). */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mpi.h>
#include <sf_ckpt.h>

#define MAX_PAUSES 8

struct state {
    long step;
    uint64_t global_hits; /* all ranks' hits so far (same on every rank) */
    uint64_t my_hits;     /* this rank's own */
};

/* splitmix64: a small generator whose stream is fixed by its seed. */
static uint64_t next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t hits_of_step(int rank, long step, long samples)
{
    uint64_t s = ((uint64_t)rank << 40) ^ (uint64_t)step * 0x2545f4914f6cdd1dull ^ 12345;
    uint64_t hits = 0;
    for (long i = 0; i < samples; i++) {
        double x = (double)(next(&s) >> 11) * 0x1.0p-53;
        double y = (double)(next(&s) >> 11) * 0x1.0p-53;
        hits += x * x + y * y <= 1.0;
    }
    return hits;
}

/* Wait (bounded: a drill that never comes is an error) for a gate file. */
static void pause_at(const char *file)
{
    struct timespec ts = {0, 10 * 1000 * 1000};
    for (int i = 0; i < 60 * 100; i++) {
        if (access(file, F_OK) == 0) {
            return;
        }
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "mc_ckpt: %s did not appear within 60 s\n", file);
    MPI_Abort(MPI_COMM_WORLD, 3);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    long num[3] = {200, 20000, 10}; /* steps, samples per rank and step, K */
    long pause_step[MAX_PAUSES];
    const char *pause_file[MAX_PAUSES];
    int npause = 0, nnum = 0;
    long ballast_mib = 0, stall_step = -1;
    int stall_rank = -1;
    const char *stall_file = NULL;
    FILE *timing = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--stall") == 0 && i + 3 < argc) {
            stall_rank = atoi(argv[i + 1]);
            stall_step = atol(argv[i + 2]);
            stall_file = argv[i + 3];
            i += 3;
        } else if (strcmp(argv[i], "--ballast") == 0 && i + 1 < argc) {
            ballast_mib = atol(argv[++i]);
        } else if (strcmp(argv[i], "--time") == 0 && i + 1 < argc) {
            timing = rank == 0 ? fopen(argv[++i], "a") : (++i, NULL);
        } else if (strcmp(argv[i], "--tag") == 0 && i + 1 < argc) {
            i++; /* a label for ps/pgrep, nothing else */
        } else if (strcmp(argv[i], "--pause-at") == 0 && i + 2 < argc && npause < MAX_PAUSES) {
            pause_step[npause] = atol(argv[i + 1]);
            pause_file[npause++] = argv[i + 2];
            i += 2;
        } else if (nnum < 3 && atol(argv[i]) > 0) {
            num[nnum++] = atol(argv[i]);
        } else {
            if (rank == 0) {
                fprintf(stderr, "usage: mc_ckpt [STEPS [SAMPLES [K]]] [--pause-at STEP FILE]... "
                        "[--tag LABEL]\n");
            }
            MPI_Abort(MPI_COMM_WORLD, 2);
        }
    }
    long steps = num[0], samples = num[1], k = num[2];

    struct state st = {0, 0, 0};
    sf_ckpt_protect(1, &st, sizeof(st));
    size_t nb = (size_t)ballast_mib << 17; /* 8-byte words */
    uint64_t *ballast = nb > 0 ? malloc(nb * sizeof(uint64_t)) : NULL;
    if (nb > 0) {
        if (ballast == NULL) {
            MPI_Abort(MPI_COMM_WORLD, 5);
        }
        for (size_t i = 0; i < nb; i++) {
            ballast[i] = i * 0x9e3779b97f4a7c15ull ^ (uint64_t)rank;
        }
        sf_ckpt_protect(2, ballast, nb * sizeof(uint64_t));
    }
    uint32_t from = sf_ckpt_restarted();
    if (from > 0) {
        int rc = sf_ckpt_recover();
        if (rc != 0) {
            fprintf(stderr, "rank %d: cannot recover epoch %u: %s\n", rank, from, strerror(-rc));
            MPI_Abort(MPI_COMM_WORLD, 4);
        }
        if (timing != NULL) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            fprintf(timing, "mc_ckpt: recovered epoch %u at %ld.%03ld\n", from, (long)ts.tv_sec,
                    ts.tv_nsec / 1000000);
            fflush(timing);
        }
    }
    long start = st.step;
    bool warned = false;
    for (;;) {
        for (int p = 0; p < npause; p++) {
            if (pause_step[p] == st.step && !(from > 0 && start >= st.step)) {
                pause_at(pause_file[p]);
            }
        }
        if (st.step >= steps) {
            break;
        }
        uint64_t mine = hits_of_step(rank, st.step, samples), all;
        MPI_Allreduce(&mine, &all, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
        st.my_hits += mine;
        st.global_hits += all;
        st.step++;
        if (st.step % k == 0 && st.step < steps) {
            /* Output before the checkpoint belongs to it: a restarted
             * process continues as from the checkpoint's return. */
            if (rank == 0) {
                double n = (double)st.step * (double)samples * size;
                printf("step %ld: pi ~ %.12f\n", st.step, 4.0 * (double)st.global_hits / n);
            }
            if (rank == stall_rank && st.step == stall_step && from == 0) {
                pause_at(stall_file);
            }
            /* Every rank is here with its Allreduce complete: a cut. */
            struct timespec t0, t1;
            clock_gettime(CLOCK_MONOTONIC, &t0);
            int rc = sf_ckpt_checkpoint();
            clock_gettime(CLOCK_MONOTONIC, &t1);
            if (timing != NULL) {
                fprintf(timing, "mc_ckpt: checkpoint at step %ld: %.1f ms\n", st.step,
                        (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
                fflush(timing);
            }
            if (rc != 0 && !warned && rank == 0) {
                fprintf(stderr, "mc_ckpt: checkpoint at step %ld failed (%s): running "
                        "unprotected\n", st.step, strerror(-rc));
                warned = true;
            }
        }
    }
    /* Check: the per-rank counts add up to the global one, and the answer
     * is within 6 standard deviations of pi. */
    uint64_t sum = 0;
    MPI_Reduce(&st.my_hits, &sum, 1, MPI_UINT64_T, MPI_SUM, 0, MPI_COMM_WORLD);
    int bad = 0;
    for (size_t i = 0; i < nb; i++) {
        if (ballast[i] != (i * 0x9e3779b97f4a7c15ull ^ (uint64_t)rank)) {
            printf("FAIL: rank %d: ballast word %zu differs after a restart\n", rank, i);
            bad = 1;
            break;
        }
    }
    free(ballast);
    MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (rank == 0 && !bad) {
        double n = (double)steps * (double)samples * size;
        double pi = 4.0 * (double)st.global_hits / n;
        double sd = 4.0 * sqrt(M_PI / 4 * (1 - M_PI / 4) / n);
        printf("pi ~ %.12f from %.0f samples on %d ranks\n", pi, n, size);
        if (sum != st.global_hits) {
            printf("FAIL: ranks' hits add up to %llu, the global count is %llu\n",
                   (unsigned long long)sum, (unsigned long long)st.global_hits);
            bad = 1;
        } else if (fabs(pi - M_PI) > 6 * sd) {
            printf("FAIL: %.12f is more than 6 sd (%.2g) from pi\n", pi, sd);
            bad = 1;
        } else {
            printf("OK\n");
        }
    }
    if (timing != NULL) {
        fclose(timing);
    }
    MPI_Finalize();
    return bad;
}
