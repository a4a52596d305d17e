/* Sample sort of N pseudo-random 64-bit keys per rank: each rank sorts its
 * keys, offers `size` evenly spaced samples (MPI_Allgather), all pick the
 * same splitters, and the keys move to their bucket's rank with
 * MPI_Alltoall (counts) and MPI_Alltoallv (keys). Checks that the result
 * is globally sorted (each rank's first key against its left neighbour's
 * last), that no key was lost or duplicated (count, sum and xor of all
 * keys before and after, MPI_Allreduce), and exits non-zero otherwise.
 * Usage: sort [KEYS_PER_RANK] */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* splitmix64: a fixed sequence per rank, so every run sorts the same keys. */
static uint64_t next_key(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void digest(const uint64_t *k, long n, uint64_t out[3])
{
    out[0] = (uint64_t)n;
    out[1] = out[2] = 0;
    for (long i = 0; i < n; i++) {
        out[1] += k[i];
        out[2] ^= k[i];
    }
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    long n = argc > 1 ? atol(argv[1]) : 200000;
    uint64_t seed = 12345u + (uint64_t)rank * 1000003u;
    uint64_t *keys = malloc((size_t)n * sizeof(*keys) + 1);
    uint64_t *samples = malloc((size_t)size * (size_t)size * sizeof(*samples));
    int *scount = calloc((size_t)size, sizeof(int)), *rcount = calloc((size_t)size, sizeof(int));
    int *sdispl = calloc((size_t)size, sizeof(int)), *rdispl = calloc((size_t)size, sizeof(int));
    if (!keys || !samples || !scount || !rcount || !sdispl || !rdispl) {
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    /* Skewed keys (the low half twice as likely) so buckets are uneven. */
    for (long i = 0; i < n; i++) {
        uint64_t k = next_key(&seed);
        keys[i] = (i % 3 == 0) ? k : k >> 1;
    }
    uint64_t before[3], gbefore[3];
    digest(keys, n, before);
    MPI_Allreduce(before, gbefore, 2, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
    MPI_Allreduce(&before[2], &gbefore[2], 1, MPI_UINT64_T, MPI_BXOR, MPI_COMM_WORLD);
    double t0 = MPI_Wtime();

    qsort(keys, (size_t)n, sizeof(*keys), cmp_u64);
    uint64_t *local_samples = malloc((size_t)size * sizeof(uint64_t));
    for (int i = 0; i < size; i++) {
        local_samples[i] = n > 0 ? keys[(long)i * n / size] : 0;
    }
    MPI_Allgather(local_samples, size, MPI_UINT64_T, samples, size, MPI_UINT64_T,
                  MPI_COMM_WORLD);
    qsort(samples, (size_t)size * (size_t)size, sizeof(*samples), cmp_u64);
    /* Splitter b (1..size-1) bounds bucket b from below. */
    long at = 0;
    for (int b = 0; b < size; b++) {
        long start = at;
        if (b == size - 1) {
            at = n;
        } else {
            uint64_t split = samples[(size_t)(b + 1) * (size_t)size];
            while (at < n && keys[at] < split) {
                at++;
            }
        }
        scount[b] = (int)(at - start);
        sdispl[b] = (int)start;
    }
    MPI_Alltoall(scount, 1, MPI_INT, rcount, 1, MPI_INT, MPI_COMM_WORLD);
    long total = 0;
    for (int b = 0; b < size; b++) {
        rdispl[b] = (int)total;
        total += rcount[b];
    }
    uint64_t *mine_keys = malloc((size_t)total * sizeof(uint64_t) + 1);
    if (mine_keys == NULL) {
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    MPI_Alltoallv(keys, scount, sdispl, MPI_UINT64_T, mine_keys, rcount, rdispl, MPI_UINT64_T,
                  MPI_COMM_WORLD);
    qsort(mine_keys, (size_t)total, sizeof(uint64_t), cmp_u64);
    double t1 = MPI_Wtime();

    int ok = 1;
    for (long i = 1; i < total; i++) {
        ok &= mine_keys[i - 1] <= mine_keys[i];
    }
    /* Boundaries: my first key against the last key of the nearest
     * non-empty rank on my left (empty ranks pass theirs along). */
    uint64_t last_left = 0, my_last;
    int left = rank > 0 ? rank - 1 : MPI_PROC_NULL, right = rank < size - 1 ? rank + 1 : MPI_PROC_NULL;
    MPI_Recv(&last_left, 1, MPI_UINT64_T, left, 7, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    my_last = total > 0 ? mine_keys[total - 1] : last_left;
    MPI_Send(&my_last, 1, MPI_UINT64_T, right, 7, MPI_COMM_WORLD);
    if (total > 0 && rank > 0) {
        ok &= last_left <= mine_keys[0];
    }
    uint64_t after[3], gafter[3];
    digest(mine_keys, total, after);
    MPI_Allreduce(after, gafter, 2, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
    MPI_Allreduce(&after[2], &gafter[2], 1, MPI_UINT64_T, MPI_BXOR, MPI_COMM_WORLD);
    int gok;
    MPI_Allreduce(&ok, &gok, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
    gok &= gafter[0] == gbefore[0] && gafter[1] == gbefore[1] && gafter[2] == gbefore[2];
    long most;
    MPI_Reduce(&total, &most, 1, MPI_LONG, MPI_MAX, 0, MPI_COMM_WORLD);
    if (rank == 0) {
        printf("sort: %llu keys over %d ranks in %.3f s (largest bucket %ld keys)\n",
               (unsigned long long)gbefore[0], size, t1 - t0, most);
        printf("  sorted across ranks, same count, sum and xor: %s\n", gok ? "yes" : "NO");
        printf("%s\n", gok ? "OK" : "FAILED");
    }
    free(keys);
    free(mine_keys);
    free(samples);
    free(local_samples);
    free(scount);
    free(rcount);
    free(sdispl);
    free(rdispl);
    MPI_Finalize();
    return gok ? 0 : 1;
}
