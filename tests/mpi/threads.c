/* MPI_THREAD_MULTIPLE: 4 threads per rank doing, at the same time,
 * blocking and non-blocking ring exchanges (distinct tags on WORLD and one
 * duplicated communicator per thread, eager and rendezvous sizes, data
 * checked), collectives (one communicator per thread), Iprobe loops; a
 * thread blocked in MPI_Recv from itself that another thread of the rank
 * satisfies; MPI_Waitany over receives other threads posted. Threads meet
 * at pthread barriers only (no sleeps). Needs SF_MPI_THREAD_LEVEL=multiple
 * under Starfish. Main thread + 4 workers. */
#include <pthread.h>
#include <stdbool.h>

#include "mt.h"

enum { NT = 4, ROUNDS = 50, BIG = 64 * 1024 / 4 };

static MPI_Comm comms[NT];
static pthread_barrier_t bar;
static int left, right;
static MPI_Request posted[NT][2];
static int pbuf[NT][2];

static int val(int src, int t, int r, int i)
{
    return src * 1000003 + t * 10007 + r * 101 + i;
}

static void ring(int t, MPI_Comm comm, int tag, int r, int n, int *sbuf, int *rbuf, bool nb)
{
    for (int i = 0; i < n; i++) {
        sbuf[i] = val(mt_rank, t, r, i);
    }
    if (nb) {
        MPI_Request q[2];
        OK(MPI_Irecv(rbuf, n, MPI_INT, left, tag, comm, &q[0]));
        OK(MPI_Isend(sbuf, n, MPI_INT, right, tag, comm, &q[1]));
        OK(MPI_Waitall(2, q, MPI_STATUSES_IGNORE));
    } else {
        MPI_Status st;
        OK(MPI_Sendrecv(sbuf, n, MPI_INT, right, tag, rbuf, n, MPI_INT, left, tag, comm, &st));
        CHECK(st.MPI_SOURCE == left && st.MPI_TAG == tag, "status %d/%d", st.MPI_SOURCE,
              st.MPI_TAG);
    }
    for (int i = 0; i < n; i++) {
        CHECK(rbuf[i] == val(left, t, r, i), "thread %d round %d [%d] = %d", t, r, i, rbuf[i]);
    }
}

static void *worker(void *arg)
{
    int t = (int)(long)arg;
    int flag = 1;
    OK(MPI_Is_thread_main(&flag));
    CHECK(!flag, "thread %d says it is the main thread", t);
    int *sbuf = malloc(sizeof(int) * BIG), *rbuf = malloc(sizeof(int) * BIG);
    CHECK(sbuf && rbuf, "malloc");

    /* 1: point-to-point on WORLD (tag t) and on comms[t], blocking and not. */
    for (int r = 0; r < ROUNDS; r++) {
        int n = r % 10 == 9 ? BIG : 1 + r;
        ring(t, MPI_COMM_WORLD, 100 + t, r, n, sbuf, rbuf, r % 2);
        ring(t, comms[t], 7, r, n, sbuf, rbuf, !(r % 2));
    }

    /* 2: collectives, one communicator per thread. */
    for (int r = 0; r < ROUNDS; r++) {
        int x = mt_rank + t + r, sum = 0;
        OK(MPI_Allreduce(&x, &sum, 1, MPI_INT, MPI_SUM, comms[t]));
        CHECK(sum == mt_size * (mt_size - 1) / 2 + mt_size * (t + r), "allreduce %d", sum);
        int b = mt_rank == r % mt_size ? r * 7 + t : -1;
        OK(MPI_Bcast(&b, 1, MPI_INT, r % mt_size, comms[t]));
        CHECK(b == r * 7 + t, "bcast %d", b);
        MPI_Request q;
        OK(MPI_Ibarrier(comms[t], &q));
        OK(MPI_Wait(&q, MPI_STATUS_IGNORE));
    }

    /* 3: Iprobe loops, each thread on its own tag. */
    for (int r = 0; r < ROUNDS; r++) {
        int v = val(mt_rank, t, r, 0), got = -1;
        MPI_Request q;
        OK(MPI_Isend(&v, 1, MPI_INT, right, 200 + t, MPI_COMM_WORLD, &q));
        int f = 0;
        MPI_Status st;
        while (!f) {
            OK(MPI_Iprobe(left, 200 + t, MPI_COMM_WORLD, &f, &st));
        }
        CHECK(st.MPI_TAG == 200 + t, "probed tag %d", st.MPI_TAG);
        OK(MPI_Recv(&got, 1, MPI_INT, left, 200 + t, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
        CHECK(got == val(left, t, r, 0), "probe round %d got %d", r, got);
        OK(MPI_Wait(&q, MPI_STATUS_IGNORE));
    }

    /* 4: thread 0 blocks receiving from its own rank; thread 1 sends it
     * after more MPI work of its own. */
    pthread_barrier_wait(&bar);
    for (int r = 0; r < ROUNDS; r++) {
        if (t == 0) {
            int got = -1;
            OK(MPI_Recv(&got, 1, MPI_INT, mt_rank, 300, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
            CHECK(got == r, "self recv %d, want %d", got, r);
        } else if (t == 1) {
            int f;
            for (int k = 0; k < 10; k++) {
                OK(MPI_Iprobe(MPI_ANY_SOURCE, 301, MPI_COMM_WORLD, &f, MPI_STATUS_IGNORE));
            }
            OK(MPI_Send(&r, 1, MPI_INT, mt_rank, 300, MPI_COMM_WORLD));
        }
    }

    /* 5: each thread posts receives; the main thread waits for them with
     * MPI_Waitany; the sends come from the left rank's same thread. */
    for (int k = 0; k < 2; k++) {
        OK(MPI_Irecv(&pbuf[t][k], 1, MPI_INT, left, 400 + k, comms[t], &posted[t][k]));
    }
    pthread_barrier_wait(&bar); /* posted: the main thread may wait */
    for (int k = 0; k < 2; k++) {
        int v = val(mt_rank, t, k, 0);
        OK(MPI_Send(&v, 1, MPI_INT, right, 400 + k, comms[t]));
    }
    pthread_barrier_wait(&bar); /* the main thread has them all */
    free(sbuf);
    free(rbuf);
    return NULL;
}

int main(int argc, char **argv)
{
    int provided = -1;
    OK(MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided));
    MPI_Comm_rank(MPI_COMM_WORLD, &mt_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &mt_size);
    if (argc > 1 && strcmp(argv[1], "capped") == 0) {
        /* SF_MPI_THREAD_LEVEL unset: the default cap */
        CHECK(provided == MPI_THREAD_SERIALIZED, "provided %d", provided);
        SAY("threads: capped at MPI_THREAD_SERIALIZED");
        MPI_Finalize();
        return 0;
    }
    CHECK(provided == MPI_THREAD_MULTIPLE, "provided %d", provided);
    int q = -1, flag = 0;
    OK(MPI_Query_thread(&q));
    CHECK(q == MPI_THREAD_MULTIPLE, "Query_thread %d", q);
    OK(MPI_Is_thread_main(&flag));
    CHECK(flag, "main thread not the main thread");
    left = (mt_rank + mt_size - 1) % mt_size;
    right = (mt_rank + 1) % mt_size;
    for (int t = 0; t < NT; t++) {
        OK(MPI_Comm_dup(MPI_COMM_WORLD, &comms[t]));
    }
    pthread_barrier_init(&bar, NULL, NT + 1);
    pthread_t th[NT];
    for (long t = 0; t < NT; t++) {
        CHECK(pthread_create(&th[t], NULL, worker, (void *)t) == 0, "pthread_create");
    }
    pthread_barrier_wait(&bar); /* step 4 starts */
    pthread_barrier_wait(&bar); /* step 5: all receives posted */
    MPI_Request all[2 * NT];
    for (int t = 0; t < NT; t++) {
        all[2 * t] = posted[t][0];
        all[2 * t + 1] = posted[t][1];
    }
    for (int n = 0; n < 2 * NT; n++) {
        int idx = -1;
        MPI_Status st;
        OK(MPI_Waitany(2 * NT, all, &idx, &st));
        CHECK(idx >= 0 && idx < 2 * NT && all[idx] == MPI_REQUEST_NULL, "index %d", idx);
        int t = idx / 2, k = idx % 2;
        CHECK(st.MPI_TAG == 400 + k && pbuf[t][k] == val(left, t, k, 0), "waitany %d: %d", idx,
              pbuf[t][k]);
    }
    int idx = 0;
    OK(MPI_Waitany(2 * NT, all, &idx, MPI_STATUS_IGNORE));
    CHECK(idx == MPI_UNDEFINED, "all done, index %d", idx);
    pthread_barrier_wait(&bar);
    for (int t = 0; t < NT; t++) {
        pthread_join(th[t], NULL);
        OK(MPI_Comm_free(&comms[t]));
    }
    pthread_barrier_destroy(&bar);
    SAY("threads: %d ranks x %d threads: p2p, collectives, probes, self-recv, waitany ok",
        mt_size, NT);
    MPI_Finalize();
    return 0;
}
