/* Large non-contiguous messages: strided vector types much larger than the
 * runtime's segment go through bounded staging. Checks the data exactly
 * (vector <-> vector, contiguous <-> vector, odd block sizes that straddle
 * segments, probe + matched receive, self-sends) and that the process's
 * peak resident memory (VmHWM) grows by far less than one message.
 * Ranks pair up (0-1, 2-3, ...); an odd last rank, or a singleton, talks to
 * itself. Not a timing test. */
#include "mt.h"

#define NDBL (6u << 20) /* 48 MiB of doubles per message */

/* Start peak tracking afresh: the peak becomes the current resident set
 * (Linux >= 4.0), so what came before (building the types) does not
 * hide what the transfers need. */
static void vm_hwm_reset(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (f != NULL) {
        fputs("5", f);
        fclose(f);
    }
}

/* Peak resident set in KiB, or -1 where /proc is missing. */
static long vm_hwm_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    if (f == NULL) {
        return -1;
    }
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "VmHWM:", 6) == 0) {
            v = strtol(line + 6, NULL, 10);
        }
    }
    fclose(f);
    return v;
}

static double val(int who, size_t i)
{
    return (double)who * 1e9 + (double)i;
}

int main(int argc, char **argv)
{
    mt_init(&argc, &argv);
    int peer = mt_rank ^ 1;
    if (peer >= mt_size) {
        peer = mt_rank;
    }
    /* Strided: every other double. Contiguous: one per element. */
    double *sv = malloc(2 * (size_t)NDBL * sizeof(double));
    double *rv = malloc(2 * (size_t)NDBL * sizeof(double));
    double *cv = malloc((size_t)NDBL * sizeof(double));
    CHECK(sv && rv && cv, "out of memory");
    for (size_t i = 0; i < 2 * (size_t)NDBL; i++) {
        sv[i] = (i % 2) ? -1.0 : val(mt_rank, i / 2);
        rv[i] = -2.0;
    }
    for (size_t i = 0; i < NDBL; i++) {
        cv[i] = -3.0;
    }
    /* 3-int blocks at stride 5: 36 MiB of ints. */
    int nblk = 3 << 20;
    int *a = malloc((size_t)nblk * 5 * sizeof(int));
    int *b = malloc((size_t)nblk * 5 * sizeof(int));
    CHECK(a && b, "out of memory");
    memset(a, 1, (size_t)nblk * 5 * sizeof(int)); /* non-zero: touches the pages */
    memset(b, 1, (size_t)nblk * 5 * sizeof(int));
    /* Warm up: a contiguous message of the same size, so the transports'
     * one-time buffer pools (libfabric tcp grows ~35 MiB on its first large
     * transfers) are in place before the peak is measured. */
    {
        MPI_Request r;
        OK(MPI_Irecv(cv, (int)NDBL, MPI_DOUBLE, peer, 9, MPI_COMM_WORLD, &r));
        OK(MPI_Send(rv, (int)NDBL, MPI_DOUBLE, peer, 9, MPI_COMM_WORLD));
        OK(MPI_Wait(&r, MPI_STATUS_IGNORE));
        /* A rank paired with itself meets the network first in the
         * broadcast below: warm that path up too. */
        OK(MPI_Bcast(cv, (int)NDBL, MPI_DOUBLE, mt_size - 1, MPI_COMM_WORLD));
    }
    OK(MPI_Barrier(MPI_COMM_WORLD));
    vm_hwm_reset();
    long base = vm_hwm_kib();
    /* Building the types is inside the measured part too: a vector takes
     * no memory per block. */
    MPI_Datatype vec;
    OK(MPI_Type_vector((int)NDBL, 1, 2, MPI_DOUBLE, &vec));
    OK(MPI_Type_commit(&vec));
    MPI_Datatype t3;
    OK(MPI_Type_vector(nblk, 3, 5, MPI_INT, &t3));
    OK(MPI_Type_commit(&t3));

    SAY("dt_big: vector -> vector, %u MiB of data", (unsigned)(NDBL * 8 >> 20));
    MPI_Status st;
    int n;
    {
        MPI_Request r;
        OK(MPI_Irecv(rv, 1, vec, peer, 1, MPI_COMM_WORLD, &r));
        OK(MPI_Send(sv, 1, vec, peer, 1, MPI_COMM_WORLD));
        OK(MPI_Wait(&r, &st));
        OK(MPI_Get_count(&st, MPI_DOUBLE, &n));
        CHECK(n == (int)NDBL, "count %d", n);
        for (size_t i = 0; i < 2 * (size_t)NDBL; i++) {
            double want = (i % 2) ? -2.0 : val(peer, i / 2);
            CHECK(rv[i] == want, "rv[%zu] = %g, want %g", i, rv[i], want);
        }
    }

    SAY("dt_big: vector -> contiguous and contiguous -> vector");
    {
        MPI_Request r;
        OK(MPI_Irecv(cv, (int)NDBL, MPI_DOUBLE, peer, 2, MPI_COMM_WORLD, &r));
        OK(MPI_Send(sv, 1, vec, peer, 2, MPI_COMM_WORLD));
        OK(MPI_Wait(&r, MPI_STATUS_IGNORE));
        for (size_t i = 0; i < NDBL; i++) {
            CHECK(cv[i] == val(peer, i), "cv[%zu] = %g", i, cv[i]);
        }
        /* Send the contiguous copy back into the strided buffer: each
         * rank gets its own values back. */
        for (size_t i = 0; i < 2 * (size_t)NDBL; i++) {
            rv[i] = -2.0;
        }
        OK(MPI_Irecv(rv, 1, vec, peer, 3, MPI_COMM_WORLD, &r));
        OK(MPI_Ssend(cv, (int)NDBL, MPI_DOUBLE, peer, 3, MPI_COMM_WORLD));
        OK(MPI_Wait(&r, MPI_STATUS_IGNORE));
        for (size_t i = 0; i < 2 * (size_t)NDBL; i++) {
            double want = (i % 2) ? -2.0 : val(mt_rank, i / 2);
            CHECK(rv[i] == want, "rv[%zu] = %g, want %g", i, rv[i], want);
        }
    }

    SAY("dt_big: 3-int blocks at stride 5 (blocks straddle segments), probe + Mrecv");
    {
        for (size_t i = 0; i < (size_t)nblk * 5; i++) {
            a[i] = (int)(i * 7 + (size_t)mt_rank);
            b[i] = -1;
        }
        MPI_Request r;
        OK(MPI_Isend(a, 1, t3, peer, 4, MPI_COMM_WORLD, &r));
        MPI_Message m;
        OK(MPI_Mprobe(peer, 4, MPI_COMM_WORLD, &m, &st));
        OK(MPI_Get_count(&st, t3, &n));
        CHECK(n == 1, "count %d", n);
        OK(MPI_Mrecv(b, 1, t3, &m, &st));
        OK(MPI_Wait(&r, MPI_STATUS_IGNORE));
        for (size_t i = 0; i < (size_t)nblk * 5; i++) {
            int want = i % 5 < 3 ? (int)(i * 7 + (size_t)peer) : -1;
            CHECK(b[i] == want, "b[%zu] = %d, want %d", i, b[i], want);
        }
    }

    SAY("dt_big: a short message into a large strided receive");
    {
        for (size_t i = 0; i < 2 * (size_t)NDBL; i++) {
            rv[i] = -2.0;
        }
        MPI_Request r;
        OK(MPI_Irecv(rv, 1, vec, peer, 5, MPI_COMM_WORLD, &r));
        OK(MPI_Send(sv, 1000, MPI_DOUBLE, peer, 5, MPI_COMM_WORLD));
        OK(MPI_Wait(&r, &st));
        OK(MPI_Get_count(&st, MPI_DOUBLE, &n));
        CHECK(n == 1000, "count %d", n);
        OK(MPI_Get_count(&st, vec, &n));
        CHECK(n == MPI_UNDEFINED, "count in vectors %d", n);
        /* Element j of the sender's first 1000 doubles lands at rv[2j]. */
        for (size_t j = 0; j < 1000; j++) {
            double want = (j % 2) ? -1.0 : val(peer, j / 2);
            CHECK(rv[2 * j] == want && rv[2 * j + 1] == -2.0, "rv[%zu] = %g, want %g", 2 * j,
                  rv[2 * j], want);
        }
        CHECK(rv[2000] == -2.0, "wrote past the message");
    }

    SAY("dt_big: 4 strided messages at once each way, received in reverse order");
    {
        /* Quarter q of the strided buffers, tag q; receives posted last
         * tag first so the segments of all four interleave. */
        int qn = (int)NDBL / 4;
        MPI_Datatype qv;
        OK(MPI_Type_vector(qn, 1, 2, MPI_DOUBLE, &qv));
        OK(MPI_Type_commit(&qv));
        for (size_t i = 0; i < 2 * (size_t)NDBL; i++) {
            rv[i] = -2.0;
        }
        MPI_Request rq[8];
        for (int q = 3; q >= 0; q--) {
            OK(MPI_Irecv(rv + 2 * (size_t)q * (size_t)qn, 1, qv, peer, 20 + q, MPI_COMM_WORLD,
                         &rq[q]));
        }
        for (int q = 0; q < 4; q++) {
            OK(MPI_Isend(sv + 2 * (size_t)q * (size_t)qn, 1, qv, peer, 20 + q, MPI_COMM_WORLD,
                         &rq[4 + q]));
        }
        OK(MPI_Waitall(8, rq, MPI_STATUSES_IGNORE));
        for (size_t i = 0; i < 2 * (size_t)NDBL; i++) {
            double want = (i % 2) ? -2.0 : val(peer, i / 2);
            CHECK(rv[i] == want, "rv[%zu] = %g, want %g", i, rv[i], want);
        }
        OK(MPI_Type_free(&qv));
    }

    SAY("dt_big: MPI_Bcast of the strided type from the last rank");
    {
        int root = mt_size - 1;
        for (size_t i = 0; i < 2 * (size_t)NDBL; i++) {
            rv[i] = mt_rank == root ? ((i % 2) ? -1.0 : val(root, i / 2)) : -2.0;
        }
        OK(MPI_Bcast(rv, 1, vec, root, MPI_COMM_WORLD));
        for (size_t i = 0; i < 2 * (size_t)NDBL; i++) {
            double want = (i % 2) ? (mt_rank == root ? -1.0 : -2.0) : val(root, i / 2);
            CHECK(rv[i] == want, "bcast rv[%zu] = %g, want %g", i, rv[i], want);
        }
    }

    SAY("dt_big: truncation: a strided message into a shorter strided receive");
    {
        MPI_Datatype half;
        OK(MPI_Type_vector((int)NDBL / 2, 1, 2, MPI_DOUBLE, &half));
        OK(MPI_Type_commit(&half));
        for (size_t i = 0; i < 2 * (size_t)NDBL; i++) {
            rv[i] = -2.0;
        }
        MPI_Comm d;
        OK(MPI_Comm_dup(MPI_COMM_WORLD, &d));
        OK(MPI_Comm_set_errhandler(d, MPI_ERRORS_RETURN));
        MPI_Request r;
        OK(MPI_Irecv(rv, 1, half, peer, 6, d, &r));
        OK(MPI_Send(sv, 1, vec, peer, 6, d));
        int e = MPI_Wait(&r, &st);
        int cls = -1;
        MPI_Error_class(e, &cls);
        CHECK(cls == MPI_ERR_TRUNCATE, "truncated receive gave %d", e);
        for (size_t i = 0; i < (size_t)NDBL; i++) {
            double want = (i % 2) ? -2.0 : val(peer, i / 2);
            CHECK(rv[i] == want, "rv[%zu] = %g, want %g", i, rv[i], want);
        }
        CHECK(rv[NDBL] == -2.0, "wrote past the receive buffer");
        /* The connection still works after the truncation. */
        int x = mt_rank, y = -1;
        OK(MPI_Sendrecv(&x, 1, MPI_INT, peer, 7, &y, 1, MPI_INT, peer, 7, d, MPI_STATUS_IGNORE));
        CHECK(y == peer, "after truncation got %d", y);
        OK(MPI_Comm_free(&d));
        OK(MPI_Type_free(&half));
    }

    long grow = vm_hwm_kib() - base;
    SAY("dt_big: peak resident memory grew by %ld KiB for %u KiB messages", grow,
        (unsigned)(NDBL * 8 >> 10));
    if (base >= 0) {
        /* A whole-message staging copy would add 48 MiB, a type built
         * block by block more. */
        CHECK(grow < (long)(NDBL * 8 >> 10) / 4, "VmHWM grew by %ld KiB", grow);
    }
    OK(MPI_Type_free(&vec));
    OK(MPI_Type_free(&t3));
    free(sv);
    free(rv);
    free(cv);
    free(a);
    free(b);
    OK(MPI_Finalize());
    return 0;
}
