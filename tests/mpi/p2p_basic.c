/* Point-to-point semantics: ordering, wildcards, PROC_NULL, sendrecv(_replace),
 * send modes, 16 MiB messages, pair datatypes with holes, contiguous types,
 * get_count/get_elements and truncation (MPI_ERRORS_RETURN). Any size >= 1. */
#include "mt.h"

#define NORDER 200

int main(int argc, char **argv)
{
    mt_init(&argc, &argv);
    int right = (mt_rank + 1) % mt_size, left = (mt_rank + mt_size - 1) % mt_size;
    MPI_Status st;

    SAY("ordering: %d messages to the right neighbour arrive in order", NORDER);
    {
        MPI_Request rq[NORDER];
        int out[NORDER], in[NORDER];
        for (int i = 0; i < NORDER; i++) {
            out[i] = mt_rank * 100000 + i;
            OK(MPI_Isend(&out[i], 1, MPI_INT, right, 7, MPI_COMM_WORLD, &rq[i]));
        }
        for (int i = 0; i < NORDER; i++) {
            OK(MPI_Recv(&in[i], 1, MPI_INT, left, 7, MPI_COMM_WORLD, &st));
            CHECK(in[i] == left * 100000 + i, "message %d is %d", i, in[i]);
        }
        OK(MPI_Waitall(NORDER, rq, MPI_STATUSES_IGNORE));
    }

    SAY("wildcards: ANY_SOURCE/ANY_TAG report the real source, tag and count");
    {
        int v = mt_rank, got = -1, n = 0;
        MPI_Request r;
        OK(MPI_Isend(&v, 1, MPI_INT, right, 100 + mt_rank, MPI_COMM_WORLD, &r));
        OK(MPI_Recv(&got, 1, MPI_INT, MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &st));
        CHECK(st.MPI_SOURCE == left && st.MPI_TAG == 100 + left && got == left,
              "source %d tag %d value %d", st.MPI_SOURCE, st.MPI_TAG, got);
        OK(MPI_Get_count(&st, MPI_INT, &n));
        CHECK(n == 1, "count %d", n);
        OK(MPI_Wait(&r, MPI_STATUS_IGNORE));
        CHECK(r == MPI_REQUEST_NULL, "request not reset");
    }

    SAY("tags: a later message with another tag can be received first");
    {
        int a = 1, b = 2, x = 0, y = 0;
        MPI_Request r[2];
        OK(MPI_Isend(&a, 1, MPI_INT, right, 1, MPI_COMM_WORLD, &r[0]));
        OK(MPI_Isend(&b, 1, MPI_INT, right, 2, MPI_COMM_WORLD, &r[1]));
        OK(MPI_Recv(&y, 1, MPI_INT, left, 2, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
        OK(MPI_Recv(&x, 1, MPI_INT, left, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
        CHECK(x == 1 && y == 2, "x %d y %d", x, y);
        OK(MPI_Waitall(2, r, MPI_STATUSES_IGNORE));
    }

    SAY("MPI_PROC_NULL: sends vanish, receives return at once with an empty status");
    {
        int v = 5;
        OK(MPI_Send(&v, 1, MPI_INT, MPI_PROC_NULL, 0, MPI_COMM_WORLD));
        OK(MPI_Recv(&v, 1, MPI_INT, MPI_PROC_NULL, 0, MPI_COMM_WORLD, &st));
        int n = -1;
        MPI_Get_count(&st, MPI_INT, &n);
        CHECK(st.MPI_SOURCE == MPI_PROC_NULL && st.MPI_TAG == MPI_ANY_TAG && n == 0 && v == 5,
              "source %d tag %d count %d", st.MPI_SOURCE, st.MPI_TAG, n);
    }

    SAY("sendrecv and sendrecv_replace around the ring");
    {
        int v = mt_rank, got = -1;
        OK(MPI_Sendrecv(&v, 1, MPI_INT, right, 3, &got, 1, MPI_INT, left, 3, MPI_COMM_WORLD, &st));
        CHECK(got == left && st.MPI_SOURCE == left, "got %d", got);
        double d[3] = {mt_rank, mt_rank + 0.5, -mt_rank};
        OK(MPI_Sendrecv_replace(d, 3, MPI_DOUBLE, right, 4, left, 4, MPI_COMM_WORLD, &st));
        CHECK(d[0] == left && d[1] == left + 0.5 && d[2] == -left, "d %g %g %g", d[0], d[1], d[2]);
    }

    SAY("send modes: Ssend, Rsend (receive posted before a barrier), Bsend covered elsewhere");
    {
        int v = mt_rank, got = -1;
        MPI_Request r;
        OK(MPI_Irecv(&got, 1, MPI_INT, left, 5, MPI_COMM_WORLD, &r));
        OK(MPI_Ssend(&v, 1, MPI_INT, right, 5, MPI_COMM_WORLD));
        OK(MPI_Wait(&r, &st));
        CHECK(got == left, "ssend got %d", got);
        OK(MPI_Irecv(&got, 1, MPI_INT, left, 6, MPI_COMM_WORLD, &r));
        OK(MPI_Barrier(MPI_COMM_WORLD));
        OK(MPI_Rsend(&v, 1, MPI_INT, right, 6, MPI_COMM_WORLD));
        OK(MPI_Wait(&r, &st));
        CHECK(got == left, "rsend got %d", got);
    }

    SAY("large: 16 MiB to the right neighbour, contents checked");
    {
        size_t n = 16u << 20;
        unsigned char *out = malloc(n), *in = malloc(n);
        CHECK(out && in, "malloc");
        for (size_t i = 0; i < n; i++) {
            out[i] = (unsigned char)(i * 31 + (size_t)mt_rank);
        }
        memset(in, 0, n);
        MPI_Request r;
        OK(MPI_Irecv(in, (int)n, MPI_BYTE, left, 8, MPI_COMM_WORLD, &r));
        OK(MPI_Send(out, (int)n, MPI_BYTE, right, 8, MPI_COMM_WORLD));
        OK(MPI_Wait(&r, &st));
        int cnt = 0;
        MPI_Get_count(&st, MPI_BYTE, &cnt);
        CHECK((size_t)cnt == n, "count %d", cnt);
        for (size_t i = 0; i < n; i++) {
            if (in[i] != (unsigned char)(i * 31 + (size_t)left)) {
                CHECK(0, "byte %zu differs", i);
            }
        }
        free(out);
        free(in);
    }

    SAY("pair types with holes (MPI_DOUBLE_INT, MPI_SHORT_INT) and MPI_Type_contiguous");
    {
        struct { double v; int i; } po[4], pi[4];
        struct { short v; int i; } so[3], si[3];
        for (int k = 0; k < 4; k++) {
            po[k].v = mt_rank + k * 0.25;
            po[k].i = k + mt_rank;
        }
        for (int k = 0; k < 3; k++) {
            so[k].v = (short)(mt_rank * 10 + k);
            so[k].i = -k;
        }
        memset(pi, 0, sizeof(pi));
        OK(MPI_Sendrecv(po, 4, MPI_DOUBLE_INT, right, 9, pi, 4, MPI_DOUBLE_INT, left, 9,
                        MPI_COMM_WORLD, &st));
        for (int k = 0; k < 4; k++) {
            CHECK(pi[k].v == left + k * 0.25 && pi[k].i == k + left, "pair %d", k);
        }
        int n = 0;
        OK(MPI_Get_count(&st, MPI_DOUBLE_INT, &n));
        CHECK(n == 4, "double_int count %d", n);
        OK(MPI_Get_elements(&st, MPI_DOUBLE_INT, &n));
        CHECK(n == 8, "double_int elements %d", n);
        OK(MPI_Sendrecv(so, 3, MPI_SHORT_INT, right, 10, si, 3, MPI_SHORT_INT, left, 10,
                        MPI_COMM_WORLD, MPI_STATUS_IGNORE));
        for (int k = 0; k < 3; k++) {
            CHECK(si[k].v == left * 10 + k && si[k].i == -k, "short_int %d", k);
        }
        MPI_Datatype t3;
        OK(MPI_Type_contiguous(3, MPI_INT, &t3));
        OK(MPI_Type_commit(&t3));
        int a[6] = {mt_rank, 1, 2, 3, 4, 5}, b[6] = {0};
        OK(MPI_Sendrecv(a, 2, t3, right, 11, b, 2, t3, left, 11, MPI_COMM_WORLD, &st));
        CHECK(b[0] == left && b[5] == 5, "contiguous");
        OK(MPI_Get_count(&st, t3, &n));
        CHECK(n == 2, "t3 count %d", n);
        OK(MPI_Get_count(&st, MPI_INT, &n));
        CHECK(n == 6, "int count %d", n);
        OK(MPI_Type_free(&t3));
        CHECK(t3 == MPI_DATATYPE_NULL, "type not reset");
    }

    SAY("get_count: MPI_UNDEFINED when the bytes are not a multiple of the type");
    {
        char c[6] = {0};
        OK(MPI_Sendrecv(c, 6, MPI_CHAR, right, 12, c, 6, MPI_CHAR, left, 12, MPI_COMM_WORLD, &st));
        int n = 0;
        OK(MPI_Get_count(&st, MPI_INT, &n));
        CHECK(n == MPI_UNDEFINED, "count %d", n);
        OK(MPI_Get_count(&st, MPI_SHORT, &n));
        CHECK(n == 3, "count %d", n);
    }

    SAY("truncation: MPI_ERR_TRUNCATE from Recv and from Wait (MPI_ERRORS_RETURN)");
    {
        OK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
        int big[8] = {1, 2, 3, 4, 5, 6, 7, 8}, small[2] = {0, 0};
        MPI_Request r;
        OK(MPI_Isend(big, 8, MPI_INT, right, 13, MPI_COMM_WORLD, &r));
        int rc = MPI_Recv(small, 2, MPI_INT, left, 13, MPI_COMM_WORLD, &st);
        int cls = -1;
        MPI_Error_class(rc, &cls);
        CHECK(cls == MPI_ERR_TRUNCATE, "Recv returned class %d", cls);
        CHECK(small[0] == 1 && small[1] == 2, "kept %d %d", small[0], small[1]);
        OK(MPI_Wait(&r, MPI_STATUS_IGNORE));
        MPI_Request rr;
        OK(MPI_Irecv(small, 2, MPI_INT, left, 14, MPI_COMM_WORLD, &rr));
        OK(MPI_Send(big, 8, MPI_INT, right, 14, MPI_COMM_WORLD));
        rc = MPI_Wait(&rr, &st);
        CHECK(rc == MPI_ERR_TRUNCATE, "Wait returned %d", rc);
        OK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL));
    }

    OK(MPI_Finalize());
    SAY("p2p_basic: all checks passed");
    return 0;
}
