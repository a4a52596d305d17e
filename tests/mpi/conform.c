/* What MPI conformance suites check on every implementation, in one
 * program (own code, modelled on the kinds of checks, not on any suite):
 * wildcard probes, Sendrecv_replace, synchronous/ready/buffered send
 * semantics, receive cancel, Wait/Test families with MPI_REQUEST_NULL,
 * persistent requests, zero counts and MPI_PROC_NULL, struct + resized
 * types, Get_count giving MPI_UNDEFINED, error classes under
 * MPI_ERRORS_RETURN, split with MPI_UNDEFINED, uneven Reduce_scatter,
 * Alltoallw, a non-commutative user op at any size, and the environment
 * calls. Any size >= 1 (ring neighbours; alone, a rank talks to itself). */
#include <stdbool.h>

#include "mt.h"

/* 2x2 integer matrices, row-major: a non-commutative associative op. */
static void matmul_op(void *in, void *inout, int *len, MPI_Datatype *t)
{
    (void)t;
    int *a = in, *b = inout;
    for (int k = 0; k < *len; k++, a += 4, b += 4) {
        int r[4] = {a[0] * b[0] + a[1] * b[2], a[0] * b[1] + a[1] * b[3], a[2] * b[0] + a[3] * b[2],
                    a[2] * b[1] + a[3] * b[3]};
        memcpy(b, r, sizeof r);
    }
}

static void mat_of(int rank, int *m)
{
    m[0] = 1;
    m[1] = rank + 1;
    m[2] = 0;
    m[3] = 1 + (rank % 2);
}

static int err_class(int e)
{
    int c = -1;
    MPI_Error_class(e, &c);
    return c;
}

int main(int argc, char **argv)
{
    mt_init(&argc, &argv);
    int right = (mt_rank + 1) % mt_size, left = (mt_rank + mt_size - 1) % mt_size;
    MPI_Status st;
    int n, flag;

    SAY("conform: Probe/Iprobe/Improbe with MPI_ANY_SOURCE and MPI_ANY_TAG");
    {
        int v[3] = {mt_rank, 7, 9}, got[3];
        MPI_Request r;
        OK(MPI_Isend(v, 3, MPI_INT, right, 100 + mt_rank, MPI_COMM_WORLD, &r));
        OK(MPI_Probe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &st));
        CHECK(st.MPI_SOURCE == left && st.MPI_TAG == 100 + left, "probe %d %d", st.MPI_SOURCE,
              st.MPI_TAG);
        OK(MPI_Get_count(&st, MPI_INT, &n));
        CHECK(n == 3, "probe count %d", n);
        flag = 0;
        while (!flag) {
            OK(MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st));
        }
        CHECK(st.MPI_SOURCE == left, "iprobe source %d", st.MPI_SOURCE);
        MPI_Message m = MPI_MESSAGE_NULL;
        flag = 0;
        while (!flag) {
            OK(MPI_Improbe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &m, &st));
        }
        OK(MPI_Mrecv(got, 3, MPI_INT, &m, &st));
        CHECK(m == MPI_MESSAGE_NULL && got[0] == left && got[2] == 9, "mrecv %d", got[0]);
        OK(MPI_Wait(&r, MPI_STATUS_IGNORE));
    }

    SAY("conform: Sendrecv_replace around the ring");
    {
        int v[4] = {mt_rank, mt_rank * 2, mt_rank * 3, -1};
        OK(MPI_Sendrecv_replace(v, 4, MPI_INT, right, 3, left, 3, MPI_COMM_WORLD, &st));
        CHECK(v[0] == left && v[2] == 3 * left && st.MPI_SOURCE == left && st.MPI_TAG == 3,
              "replace got %d from %d", v[0], st.MPI_SOURCE);
        OK(MPI_Get_count(&st, MPI_INT, &n));
        CHECK(n == 4, "replace count %d", n);
    }

    SAY("conform: Issend completes only after the receive is posted; Rsend; Bsend");
    {
        int v = mt_rank, got = -1;
        MPI_Request r;
        OK(MPI_Issend(&v, 1, MPI_INT, right, 4, MPI_COMM_WORLD, &r));
        if (right != mt_rank) {
            OK(MPI_Test(&r, &flag, MPI_STATUS_IGNORE));
            CHECK(!flag, "a synchronous send completed before its receive was posted");
        }
        OK(MPI_Barrier(MPI_COMM_WORLD));
        OK(MPI_Recv(&got, 1, MPI_INT, left, 4, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
        OK(MPI_Wait(&r, MPI_STATUS_IGNORE));
        CHECK(got == left, "ssend got %d", got);
        /* Ready send: the receive is posted before the barrier. */
        MPI_Request rr;
        OK(MPI_Irecv(&got, 1, MPI_INT, left, 5, MPI_COMM_WORLD, &rr));
        OK(MPI_Barrier(MPI_COMM_WORLD));
        OK(MPI_Rsend(&v, 1, MPI_INT, right, 5, MPI_COMM_WORLD));
        OK(MPI_Wait(&rr, MPI_STATUS_IGNORE));
        CHECK(got == left, "rsend got %d", got);
        int size;
        OK(MPI_Pack_size(100, MPI_INT, MPI_COMM_WORLD, &size));
        size += MPI_BSEND_OVERHEAD;
        char *buf = malloc((size_t)size);
        OK(MPI_Buffer_attach(buf, size));
        int big[100];
        for (int i = 0; i < 100; i++) {
            big[i] = mt_rank + i;
        }
        OK(MPI_Bsend(big, 100, MPI_INT, right, 6, MPI_COMM_WORLD));
        memset(big, 0, sizeof big); /* the buffered copy is what goes */
        int in[100];
        OK(MPI_Recv(in, 100, MPI_INT, left, 6, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
        CHECK(in[0] == left && in[99] == left + 99, "bsend got %d", in[0]);
        void *det;
        int dsize;
        OK(MPI_Buffer_detach(&det, &dsize));
        CHECK(det == buf && dsize == size, "detach gave %p/%d", det, dsize);
        free(buf);
    }

    SAY("conform: cancelling a receive; Test_cancelled");
    {
        int x;
        MPI_Request r;
        OK(MPI_Irecv(&x, 1, MPI_INT, MPI_ANY_SOURCE, 999, MPI_COMM_WORLD, &r));
        OK(MPI_Cancel(&r));
        OK(MPI_Wait(&r, &st));
        OK(MPI_Test_cancelled(&st, &flag));
        CHECK(flag && r == MPI_REQUEST_NULL, "receive not cancelled");
    }

    SAY("conform: Waitany/Waitsome/Testall/Testany with MPI_REQUEST_NULL entries");
    {
        MPI_Request rs[3] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL, MPI_REQUEST_NULL};
        int idx = 0, outc = 0, idxs[3];
        MPI_Status sts[3];
        OK(MPI_Waitany(3, rs, &idx, &st));
        CHECK(idx == MPI_UNDEFINED, "waitany on nulls gave %d", idx);
        OK(MPI_Waitsome(3, rs, &outc, idxs, sts));
        CHECK(outc == MPI_UNDEFINED, "waitsome on nulls gave %d", outc);
        OK(MPI_Testall(3, rs, &flag, sts));
        CHECK(flag, "testall on nulls not true");
        OK(MPI_Testany(3, rs, &idx, &flag, &st));
        CHECK(flag && idx == MPI_UNDEFINED, "testany on nulls %d %d", flag, idx);
        OK(MPI_Waitall(0, NULL, MPI_STATUSES_IGNORE));
        int v = mt_rank, got = -1;
        OK(MPI_Irecv(&got, 1, MPI_INT, left, 7, MPI_COMM_WORLD, &rs[1]));
        OK(MPI_Send(&v, 1, MPI_INT, right, 7, MPI_COMM_WORLD));
        OK(MPI_Waitany(3, rs, &idx, &st));
        CHECK(idx == 1 && rs[1] == MPI_REQUEST_NULL && got == left && st.MPI_SOURCE == left,
              "waitany idx %d", idx);
    }

    SAY("conform: persistent requests with Startall, three rounds");
    {
        int v, got;
        MPI_Request rs[2];
        OK(MPI_Recv_init(&got, 1, MPI_INT, left, 8, MPI_COMM_WORLD, &rs[0]));
        OK(MPI_Send_init(&v, 1, MPI_INT, right, 8, MPI_COMM_WORLD, &rs[1]));
        for (int round = 0; round < 3; round++) {
            v = mt_rank * 10 + round;
            got = -1;
            OK(MPI_Startall(2, rs));
            OK(MPI_Waitall(2, rs, MPI_STATUSES_IGNORE));
            CHECK(got == left * 10 + round, "round %d got %d", round, got);
            CHECK(rs[0] != MPI_REQUEST_NULL, "persistent request freed by wait");
        }
        OK(MPI_Request_free(&rs[0]));
        OK(MPI_Request_free(&rs[1]));
    }

    SAY("conform: zero counts and MPI_PROC_NULL");
    {
        int x = 42;
        OK(MPI_Send(&x, 1, MPI_INT, MPI_PROC_NULL, 1, MPI_COMM_WORLD));
        OK(MPI_Recv(&x, 1, MPI_INT, MPI_PROC_NULL, 1, MPI_COMM_WORLD, &st));
        OK(MPI_Get_count(&st, MPI_INT, &n));
        CHECK(x == 42 && st.MPI_SOURCE == MPI_PROC_NULL && st.MPI_TAG == MPI_ANY_TAG && n == 0,
              "proc_null recv %d %d %d", st.MPI_SOURCE, st.MPI_TAG, n);
        OK(MPI_Sendrecv(&x, 1, MPI_INT, MPI_PROC_NULL, 2, &x, 1, MPI_INT, MPI_PROC_NULL, 2,
                        MPI_COMM_WORLD, &st));
        CHECK(st.MPI_SOURCE == MPI_PROC_NULL, "sendrecv proc_null");
        OK(MPI_Probe(MPI_PROC_NULL, MPI_ANY_TAG, MPI_COMM_WORLD, &st));
        CHECK(st.MPI_SOURCE == MPI_PROC_NULL, "probe proc_null");
        OK(MPI_Sendrecv(NULL, 0, MPI_INT, right, 9, NULL, 0, MPI_INT, left, 9, MPI_COMM_WORLD,
                        &st));
        OK(MPI_Get_count(&st, MPI_INT, &n));
        CHECK(n == 0 && st.MPI_SOURCE == left, "zero count %d", n);
        OK(MPI_Bcast(NULL, 0, MPI_INT, 0, MPI_COMM_WORLD));
        OK(MPI_Allreduce(NULL, NULL, 0, MPI_INT, MPI_SUM, MPI_COMM_WORLD));
        OK(MPI_Alltoall(NULL, 0, MPI_INT, NULL, 0, MPI_INT, MPI_COMM_WORLD));
        OK(MPI_Gather(NULL, 0, MPI_INT, NULL, 0, MPI_INT, 0, MPI_COMM_WORLD));
    }

    SAY("conform: struct type resized to a larger extent, two elements");
    {
        struct rec {
            double d;
            char c;
            int i;
        } a[2], b[2];
        int bl[3] = {1, 1, 1};
        MPI_Aint disp[3] = {offsetof(struct rec, d), offsetof(struct rec, c),
                            offsetof(struct rec, i)};
        MPI_Datatype ts[3] = {MPI_DOUBLE, MPI_CHAR, MPI_INT}, t, tr;
        OK(MPI_Type_create_struct(3, bl, disp, ts, &t));
        OK(MPI_Type_create_resized(t, 0, sizeof(struct rec), &tr));
        OK(MPI_Type_commit(&tr));
        MPI_Aint lb, ext;
        OK(MPI_Type_get_extent(tr, &lb, &ext));
        CHECK(lb == 0 && ext == (MPI_Aint)sizeof(struct rec), "extent %ld", (long)ext);
        int size;
        OK(MPI_Type_size(tr, &size));
        CHECK(size == (int)(sizeof(double) + 1 + sizeof(int)), "size %d", size);
        for (int k = 0; k < 2; k++) {
            a[k].d = mt_rank + 0.5 + k;
            a[k].c = (char)('a' + k);
            a[k].i = mt_rank * 100 + k;
        }
        memset(b, 0, sizeof b);
        OK(MPI_Sendrecv(a, 2, tr, right, 10, b, 2, tr, left, 10, MPI_COMM_WORLD, &st));
        CHECK(b[1].d == left + 1.5 && b[1].c == 'b' && b[1].i == left * 100 + 1, "struct got %g",
              b[1].d);
        OK(MPI_Get_count(&st, tr, &n));
        CHECK(n == 2, "struct count %d", n);
        OK(MPI_Get_elements(&st, tr, &n));
        CHECK(n == 6, "struct elements %d", n);
        OK(MPI_Type_free(&tr));
        OK(MPI_Type_free(&t));
    }

    SAY("conform: Get_count gives MPI_UNDEFINED for a partial element");
    {
        char c[5] = "abcd";
        int got[2];
        OK(MPI_Sendrecv(c, 5, MPI_CHAR, right, 11, got, 8, MPI_BYTE, left, 11, MPI_COMM_WORLD,
                        &st));
        OK(MPI_Get_count(&st, MPI_INT, &n));
        CHECK(n == MPI_UNDEFINED, "count of 5 bytes in ints: %d", n);
        OK(MPI_Get_count(&st, MPI_BYTE, &n));
        CHECK(n == 5, "bytes %d", n);
    }

    SAY("conform: MPI_ERRORS_RETURN gives the right error classes");
    {
        MPI_Comm d;
        OK(MPI_Comm_dup(MPI_COMM_WORLD, &d));
        OK(MPI_Comm_set_errhandler(d, MPI_ERRORS_RETURN));
        OK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
        int x = 0, e;
        e = MPI_Send(&x, 1, MPI_INT, mt_size + 3, 0, d);
        CHECK(err_class(e) == MPI_ERR_RANK, "bad rank gave %d", e);
        e = MPI_Send(&x, 1, MPI_INT, right, -5, d);
        CHECK(err_class(e) == MPI_ERR_TAG, "bad tag gave %d", e);
        e = MPI_Send(&x, -1, MPI_INT, right, 0, d);
        CHECK(err_class(e) == MPI_ERR_COUNT, "bad count gave %d", e);
        e = MPI_Send(&x, 1, MPI_DATATYPE_NULL, right, 0, d);
        CHECK(err_class(e) == MPI_ERR_TYPE, "null type gave %d", e);
        e = MPI_Send(&x, 1, MPI_INT, right, 0, MPI_COMM_NULL);
        CHECK(err_class(e) == MPI_ERR_COMM, "null comm gave %d", e);
        e = MPI_Recv(&x, 1, MPI_INT, -7, 0, d, MPI_STATUS_IGNORE);
        CHECK(err_class(e) == MPI_ERR_RANK, "bad source gave %d", e);
        e = MPI_Bcast(&x, 1, MPI_INT, mt_size, d);
        CHECK(err_class(e) == MPI_ERR_ROOT, "bad root gave %d", e);
        e = MPI_Allreduce(&x, &n, 1, MPI_INT, MPI_OP_NULL, d);
        CHECK(err_class(e) == MPI_ERR_OP, "null op gave %d", e);
        MPI_Request r = MPI_REQUEST_NULL;
        e = MPI_Start(&r);
        CHECK(err_class(e) == MPI_ERR_REQUEST, "start of null gave %d", e);
        MPI_Win w;
        e = MPI_Win_create(&x, sizeof x, 1, MPI_INFO_NULL, d, &w);
        CHECK(e != MPI_SUCCESS, "Win_create succeeded");
        char msg[MPI_MAX_ERROR_STRING];
        int len = 0;
        OK(MPI_Error_string(MPI_ERR_RANK, msg, &len));
        CHECK(len > 0 && (int)strlen(msg) == len, "error string '%s' %d", msg, len);
        OK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL));
        OK(MPI_Comm_free(&d));
    }

    SAY("conform: Comm_split with MPI_UNDEFINED");
    {
        MPI_Comm s;
        OK(MPI_Comm_split(MPI_COMM_WORLD, mt_rank % 3 == 1 ? MPI_UNDEFINED : mt_rank % 3, -mt_rank,
                          &s));
        CHECK((mt_rank % 3 == 1) == (s == MPI_COMM_NULL), "undefined colour");
        if (s != MPI_COMM_NULL) {
            int r, sz;
            OK(MPI_Comm_rank(s, &r));
            OK(MPI_Comm_size(s, &sz));
            int want_sz = 0, want_r = 0;
            for (int i = 0; i < mt_size; i++) {
                if (i % 3 == mt_rank % 3) {
                    want_sz++;
                    want_r += i > mt_rank;
                }
            }
            CHECK(sz == want_sz && r == want_r, "split %d/%d want %d/%d", r, sz, want_r, want_sz);
            OK(MPI_Comm_free(&s));
        }
    }

    SAY("conform: Reduce_scatter with uneven counts (rank i gets i + 1)");
    {
        int *counts = malloc(sizeof(int) * (size_t)mt_size), total = 0;
        for (int i = 0; i < mt_size; i++) {
            counts[i] = i + 1;
            total += counts[i];
        }
        int *in = malloc(sizeof(int) * (size_t)total),
            *out = malloc(sizeof(int) * (size_t)(mt_rank + 1));
        for (int i = 0; i < total; i++) {
            in[i] = i * (mt_rank + 1);
        }
        OK(MPI_Reduce_scatter(in, out, counts, MPI_INT, MPI_SUM, MPI_COMM_WORLD));
        int off = mt_rank * (mt_rank + 1) / 2, f = mt_size * (mt_size + 1) / 2;
        for (int k = 0; k <= mt_rank; k++) {
            CHECK(out[k] == (off + k) * f, "reduce_scatter [%d] = %d want %d", k, out[k],
                  (off + k) * f);
        }
        free(counts);
        free(in);
        free(out);
    }

    SAY("conform: Alltoallw with a different type per peer");
    {
        int p = mt_size;
        int *sc = malloc(sizeof(int) * (size_t)p * 4), *rc = sc + p, *sd = rc + p, *rd = sd + p;
        MPI_Datatype *st_ = malloc(sizeof(MPI_Datatype) * (size_t)p * 2), *rt_ = st_ + p;
        double *sbuf = malloc(sizeof(double) * (size_t)p),
               *rbuf = malloc(sizeof(double) * (size_t)p);
        int *ibuf = malloc(sizeof(int) * (size_t)p), *irecv = malloc(sizeof(int) * (size_t)p);
        (void)ibuf;
        for (int i = 0; i < p; i++) {
            sbuf[i] = mt_rank * 1000 + i;
            rbuf[i] = -1;
            sc[i] = rc[i] = 1;
            sd[i] = rd[i] = (int)(i * sizeof(double));
            st_[i] = rt_[i] = MPI_DOUBLE;
            irecv[i] = 0;
        }
        OK(MPI_Alltoallw(sbuf, sc, sd, st_, rbuf, rc, rd, rt_, MPI_COMM_WORLD));
        for (int i = 0; i < p; i++) {
            CHECK(rbuf[i] == i * 1000 + mt_rank, "alltoallw [%d] = %g", i, rbuf[i]);
        }
        free(sc);
        free(st_);
        free(sbuf);
        free(rbuf);
        free(ibuf);
        free(irecv);
    }

    SAY("conform: non-commutative user op (2x2 matrix product) in rank order");
    {
        MPI_Op op;
        MPI_Datatype mat;
        OK(MPI_Type_contiguous(4, MPI_INT, &mat));
        OK(MPI_Type_commit(&mat));
        OK(MPI_Op_create(matmul_op, 0, &op));
        int commute = 1;
        OK(MPI_Op_commutative(op, &commute));
        CHECK(!commute, "op reported commutative");
        int m[4], res[4], want[4] = {1, 0, 0, 1}, pre[4] = {1, 0, 0, 1};
        mat_of(mt_rank, m);
        for (int r = 0; r < mt_size; r++) {
            /* want = M0 * M1 * ... * M(p-1): fold in rank order */
            int x[4];
            mat_of(r, x);
            int t[4] = {want[0] * x[0] + want[1] * x[2], want[0] * x[1] + want[1] * x[3],
                        want[2] * x[0] + want[3] * x[2], want[2] * x[1] + want[3] * x[3]};
            memcpy(want, t, sizeof t);
            if (r == mt_rank) {
                memcpy(pre, want, sizeof want);
            }
        }
        OK(MPI_Allreduce(m, res, 1, mat, op, MPI_COMM_WORLD));
        CHECK(!memcmp(res, want, sizeof want), "allreduce %d %d %d %d", res[0], res[1], res[2],
              res[3]);
        memset(res, 0, sizeof res);
        OK(MPI_Reduce(m, res, 1, mat, op, mt_size - 1, MPI_COMM_WORLD));
        if (mt_rank == mt_size - 1) {
            CHECK(!memcmp(res, want, sizeof want), "reduce %d %d", res[0], res[1]);
        }
        OK(MPI_Scan(m, res, 1, mat, op, MPI_COMM_WORLD));
        CHECK(!memcmp(res, pre, sizeof pre), "scan %d %d", res[1], pre[1]);
        OK(MPI_Op_free(&op));
        CHECK(op == MPI_OP_NULL, "op not nulled");
        OK(MPI_Type_free(&mat));
    }

    SAY("conform: Wtime/Wtick, processor name, versions, thread level");
    {
        double t0 = MPI_Wtime(), tick = MPI_Wtick();
        CHECK(tick > 0 && tick < 1, "wtick %g", tick);
        CHECK(MPI_Wtime() >= t0, "wtime went back");
        char name[MPI_MAX_PROCESSOR_NAME];
        int len = -1;
        OK(MPI_Get_processor_name(name, &len));
        CHECK(len > 0 && len < MPI_MAX_PROCESSOR_NAME && (int)strlen(name) == len, "name '%s'",
              name);
        char lib[MPI_MAX_LIBRARY_VERSION_STRING];
        OK(MPI_Get_library_version(lib, &len));
        CHECK(len > 0 && (int)strlen(lib) == len, "library version");
        int v, sv;
        OK(MPI_Get_version(&v, &sv));
        CHECK(v == MPI_VERSION && sv == MPI_SUBVERSION, "version %d.%d", v, sv);
        int lvl = -1;
        OK(MPI_Query_thread(&lvl));
        CHECK(lvl >= MPI_THREAD_SINGLE && lvl <= MPI_THREAD_MULTIPLE, "thread level %d", lvl);
        OK(MPI_Is_thread_main(&flag));
        CHECK(flag, "not the main thread");
        int *tagub, fl;
        OK(MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_TAG_UB, &tagub, &fl));
        CHECK(fl && *tagub >= 32767, "tag_ub");
        OK(MPI_Initialized(&flag));
        CHECK(flag, "not initialized");
    }
    OK(MPI_Finalize());
    OK(MPI_Finalized(&flag));
    CHECK(flag, "not finalized");
    SAY("conform: ok");
    return 0;
}
