/* More conformance-style checks (own code): completion families and
 * MPI_ERR_IN_STATUS, Request_get_status, message order with wildcards,
 * many outstanding requests, send cancel, TAG_UB as a tag, Pack/Unpack in
 * pieces, negative strides and true extents, in-place and rooted
 * collectives with displacements, Exscan/Reduce_local, non-blocking
 * collectives mixed with point-to-point, Comm_idup/create_group/compare,
 * user error handlers, classes and codes, status setters, info objects.
 * Any size >= 1. */
#include <stdbool.h>

#include "mt.h"

static int handler_calls, handler_code;

static void my_handler(MPI_Comm *c, int *code, ...)
{
    (void)c;
    handler_calls++;
    handler_code = *code;
}

int main(int argc, char **argv)
{
    mt_init(&argc, &argv);
    int p = mt_size, me = mt_rank;
    int right = (me + 1) % p, left = (me + p - 1) % p;
    MPI_Status st;
    int n, flag;

    SAY("conform2: Waitall reports MPI_ERR_IN_STATUS with the truncated receive's class");
    {
        MPI_Comm d;
        OK(MPI_Comm_dup(MPI_COMM_WORLD, &d));
        OK(MPI_Comm_set_errhandler(d, MPI_ERRORS_RETURN));
        int big[4] = {1, 2, 3, 4}, small[2] = {0, 0}, ok_in = -1, ok_out = me;
        MPI_Request rs[3];
        MPI_Status sts[3];
        OK(MPI_Irecv(small, 2, MPI_INT, left, 1, d, &rs[0]));
        OK(MPI_Irecv(&ok_in, 1, MPI_INT, left, 2, d, &rs[1]));
        OK(MPI_Isend(big, 4, MPI_INT, right, 1, d, &rs[2]));
        OK(MPI_Send(&ok_out, 1, MPI_INT, right, 2, d));
        int e = MPI_Waitall(3, rs, sts);
        CHECK(e == MPI_ERR_IN_STATUS, "waitall gave %d", e);
        int c0 = -1;
        MPI_Error_class(sts[0].MPI_ERROR, &c0);
        CHECK(c0 == MPI_ERR_TRUNCATE, "status 0 class %d", c0);
        CHECK(sts[1].MPI_ERROR == MPI_SUCCESS && ok_in == left, "status 1 %d", sts[1].MPI_ERROR);
        CHECK(small[0] == 1 && small[1] == 2, "truncated data %d %d", small[0], small[1]);
        OK(MPI_Comm_free(&d));
    }

    SAY("conform2: Request_get_status leaves the request; Testsome/Waitsome");
    {
        int v = me, got = -1;
        MPI_Request r;
        OK(MPI_Irecv(&got, 1, MPI_INT, left, 3, MPI_COMM_WORLD, &r));
        OK(MPI_Send(&v, 1, MPI_INT, right, 3, MPI_COMM_WORLD));
        flag = 0;
        while (!flag) {
            OK(MPI_Request_get_status(r, &flag, &st));
        }
        CHECK(r != MPI_REQUEST_NULL && st.MPI_SOURCE == left, "get_status freed or wrong");
        OK(MPI_Wait(&r, &st));
        CHECK(r == MPI_REQUEST_NULL && got == left, "wait after get_status");
        MPI_Request rs[4];
        int vals[2] = {me, me + 1}, ins[2] = {-1, -1}, idx[4], out = 0, done = 0;
        OK(MPI_Irecv(&ins[0], 1, MPI_INT, left, 4, MPI_COMM_WORLD, &rs[0]));
        OK(MPI_Irecv(&ins[1], 1, MPI_INT, left, 5, MPI_COMM_WORLD, &rs[1]));
        OK(MPI_Isend(&vals[1], 1, MPI_INT, right, 5, MPI_COMM_WORLD, &rs[2]));
        OK(MPI_Isend(&vals[0], 1, MPI_INT, right, 4, MPI_COMM_WORLD, &rs[3]));
        MPI_Status sts[4];
        while (done < 4) {
            OK(MPI_Testsome(4, rs, &out, idx, sts));
            if (out == MPI_UNDEFINED) {
                break;
            }
            done += out;
        }
        CHECK(done == 4 && ins[0] == left && ins[1] == left + 1, "testsome %d", done);
        OK(MPI_Waitsome(4, rs, &out, idx, sts));
        CHECK(out == MPI_UNDEFINED, "waitsome on finished %d", out);
    }

    SAY("conform2: wildcard receives keep each sender's order; 500 outstanding sends");
    {
        enum { N = 500 };
        int *sv = malloc(sizeof(int) * N), *rv = malloc(sizeof(int) * N);
        MPI_Request *rs = malloc(sizeof(MPI_Request) * N);
        for (int i = 0; i < N; i++) {
            sv[i] = i;
            OK(MPI_Isend(&sv[i], 1, MPI_INT, right, 6, MPI_COMM_WORLD, &rs[i]));
        }
        for (int i = 0; i < N; i++) {
            OK(MPI_Recv(&rv[i], 1, MPI_INT, p == 1 ? MPI_ANY_SOURCE : left, MPI_ANY_TAG,
                        MPI_COMM_WORLD, &st));
            CHECK(rv[i] == i, "message %d arrived as %d (overtaken)", i, rv[i]);
        }
        OK(MPI_Waitall(N, rs, MPI_STATUSES_IGNORE));
        free(sv);
        free(rv);
        free(rs);
    }

    SAY("conform2: send cancel either cancels or delivers; MPI_TAG_UB is a valid tag");
    {
        int v = me, got = -1, *ub, fl;
        OK(MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_TAG_UB, &ub, &fl));
        MPI_Request r;
        OK(MPI_Isend(&v, 1, MPI_INT, right, *ub, MPI_COMM_WORLD, &r));
        OK(MPI_Cancel(&r));
        OK(MPI_Wait(&r, &st));
        int canc;
        OK(MPI_Test_cancelled(&st, &canc));
        int sent = !canc, nsent = 0;
        /* Tell the receiver whether the message still comes. */
        OK(MPI_Sendrecv(&sent, 1, MPI_INT, right, 7, &nsent, 1, MPI_INT, left, 7, MPI_COMM_WORLD,
                        MPI_STATUS_IGNORE));
        if (nsent) {
            OK(MPI_Recv(&got, 1, MPI_INT, left, *ub, MPI_COMM_WORLD, &st));
            CHECK(got == left && st.MPI_TAG == *ub, "tag_ub message %d tag %d", got, st.MPI_TAG);
        } else {
            OK(MPI_Iprobe(left, *ub, MPI_COMM_WORLD, &flag, &st));
            CHECK(!flag, "a cancelled send arrived");
        }
        OK(MPI_Barrier(MPI_COMM_WORLD));
    }

    SAY("conform2: Pack/Unpack in two calls; negative-stride vector; true extent");
    {
        int a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {0};
        double x = 2.5, y = 0;
        int size1, size2, pos = 0;
        OK(MPI_Pack_size(6, MPI_INT, MPI_COMM_WORLD, &size1));
        OK(MPI_Pack_size(1, MPI_DOUBLE, MPI_COMM_WORLD, &size2));
        char *buf = malloc((size_t)(size1 + size2));
        OK(MPI_Pack(a, 6, MPI_INT, buf, size1 + size2, &pos, MPI_COMM_WORLD));
        OK(MPI_Pack(&x, 1, MPI_DOUBLE, buf, size1 + size2, &pos, MPI_COMM_WORLD));
        int packed = pos;
        pos = 0;
        OK(MPI_Unpack(buf, packed, &pos, b, 6, MPI_INT, MPI_COMM_WORLD));
        OK(MPI_Unpack(buf, packed, &pos, &y, 1, MPI_DOUBLE, MPI_COMM_WORLD));
        CHECK(pos == packed && b[5] == 6 && y == 2.5, "unpack pos %d b5 %d y %g", pos, b[5], y);
        free(buf);
        /* Three ints going backwards from a[4]: a[4], a[2], a[0]. */
        MPI_Datatype back;
        OK(MPI_Type_vector(3, 1, -2, MPI_INT, &back));
        OK(MPI_Type_commit(&back));
        MPI_Aint lb, ext, tlb, text;
        OK(MPI_Type_get_extent(back, &lb, &ext));
        OK(MPI_Type_get_true_extent(back, &tlb, &text));
        CHECK(lb == -4 * (MPI_Aint)sizeof(int) && ext == 5 * (MPI_Aint)sizeof(int) && tlb == lb &&
                  text == ext,
              "negative stride lb %ld ext %ld", (long)lb, (long)ext);
        int got[3];
        OK(MPI_Sendrecv(&a[4], 1, back, right, 8, got, 3, MPI_INT, left, 8, MPI_COMM_WORLD,
                        MPI_STATUS_IGNORE));
        CHECK(got[0] == 5 && got[1] == 3 && got[2] == 1, "backwards %d %d %d", got[0], got[1],
              got[2]);
        MPI_Datatype dup;
        OK(MPI_Type_dup(back, &dup));
        OK(MPI_Type_get_extent(dup, &tlb, &text));
        CHECK(tlb == lb && text == ext, "dup extent");
        OK(MPI_Type_free(&dup));
        OK(MPI_Type_free(&back));
        /* Elements of a partial struct receive. */
        MPI_Datatype pair;
        int bl[2] = {1, 1};
        MPI_Aint disp[2] = {0, sizeof(double)};
        MPI_Datatype ts[2] = {MPI_DOUBLE, MPI_INT};
        OK(MPI_Type_create_struct(2, bl, disp, ts, &pair));
        OK(MPI_Type_commit(&pair));
        /* 20 bytes: one (double, int) pair and one more double. */
        char sb[20] = {0}, rb[64];
        OK(MPI_Sendrecv(sb, 20, MPI_BYTE, right, 9, rb, 2, pair, left, 9, MPI_COMM_WORLD, &st));
        OK(MPI_Get_elements(&st, pair, &n));
        CHECK(n == 3, "elements of 20 bytes as pairs: %d", n);
        OK(MPI_Get_count(&st, pair, &n));
        CHECK(n == MPI_UNDEFINED, "count of 1.5 pairs: %d", n);
        OK(MPI_Type_free(&pair));
    }

    SAY("conform2: in-place and rooted collectives with displacements");
    {
        int root = p - 1;
        int *all = malloc(sizeof(int) * (size_t)p * 2);
        for (int i = 0; i < p; i++) {
            all[i] = i == me ? me * 3 : -1;
        }
        OK(MPI_Allgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, all, 1, MPI_INT, MPI_COMM_WORLD));
        for (int i = 0; i < p; i++) {
            CHECK(all[i] == i * 3, "allgather in place [%d] = %d", i, all[i]);
        }
        int v = me + 1, sum = v;
        OK(MPI_Allreduce(MPI_IN_PLACE, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD));
        CHECK(sum == p * (p + 1) / 2, "allreduce in place %d", sum);
        int r = v;
        if (me == root) {
            OK(MPI_Reduce(MPI_IN_PLACE, &r, 1, MPI_INT, MPI_MAX, root, MPI_COMM_WORLD));
            CHECK(r == p, "reduce in place %d", r);
        } else {
            OK(MPI_Reduce(&v, NULL, 1, MPI_INT, MPI_MAX, root, MPI_COMM_WORLD));
        }
        /* Scatterv with gaps: rank i gets i + 1 ints from offset 2 * i * i. */
        int *counts = malloc(sizeof(int) * (size_t)p * 2), *displs = counts + p, total = 0;
        for (int i = 0; i < p; i++) {
            counts[i] = i + 1;
            displs[i] = 2 * i * i;
            total = displs[i] + counts[i];
        }
        int *src = malloc(sizeof(int) * (size_t)total), *dst = malloc(sizeof(int) * (size_t)p);
        for (int i = 0; i < total; i++) {
            src[i] = i;
        }
        OK(MPI_Scatterv(src, counts, displs, MPI_INT, dst, me + 1, MPI_INT, root, MPI_COMM_WORLD));
        for (int k = 0; k <= me; k++) {
            CHECK(dst[k] == 2 * me * me + k, "scatterv [%d] = %d", k, dst[k]);
        }
        /* Gatherv back in place at the root. */
        if (me == root) {
            for (int k = 0; k <= me; k++) {
                src[displs[me] + k] = -7; /* the root's own part stays as is */
            }
            for (int i = 0; i < p - 1; i++) {
                for (int k = 0; k < counts[i]; k++) {
                    src[displs[i] + k] = -1;
                }
            }
            OK(MPI_Gatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, src, counts, displs, MPI_INT, root,
                           MPI_COMM_WORLD));
            for (int i = 0; i < p - 1; i++) {
                for (int k = 0; k < counts[i]; k++) {
                    CHECK(src[displs[i] + k] == displs[i] + k, "gatherv [%d]", displs[i] + k);
                }
            }
            CHECK(src[displs[me]] == -7, "in-place root part overwritten");
        } else {
            OK(MPI_Gatherv(dst, me + 1, MPI_INT, NULL, NULL, NULL, MPI_INT, root, MPI_COMM_WORLD));
        }
        /* Alltoallv where everyone sends only to the next rank. */
        int *sc = calloc((size_t)p * 4, sizeof(int)), *sd = sc + p, *rc = sd + p, *rd = rc + p;
        int token = me * 11, in = -1;
        sc[right] = 1;
        rc[left] = 1;
        OK(MPI_Alltoallv(&token, sc, sd, MPI_INT, &in, rc, rd, MPI_INT, MPI_COMM_WORLD));
        CHECK(in == left * 11, "alltoallv sparse got %d", in);
        int blk[2] = {me, me}, rblk[2];
        int *full = malloc(sizeof(int) * (size_t)p * 2);
        for (int i = 0; i < 2 * p; i++) {
            full[i] = i;
        }
        OK(MPI_Reduce_scatter_block(full, rblk, 2, MPI_INT, MPI_SUM, MPI_COMM_WORLD));
        CHECK(rblk[0] == 2 * me * p && rblk[1] == (2 * me + 1) * p, "rsb %d %d", rblk[0], rblk[1]);
        (void)blk;
        int ex = -5, exv = me + 1;
        OK(MPI_Exscan(&exv, &ex, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD));
        if (me > 0) {
            CHECK(ex == me * (me + 1) / 2, "exscan %d", ex);
        }
        int l1[3] = {1, 2, 3}, l2[3] = {10, 20, 30};
        OK(MPI_Reduce_local(l1, l2, 3, MPI_INT, MPI_PROD));
        CHECK(l2[2] == 90, "reduce_local %d", l2[2]);
        free(all);
        free(counts);
        free(src);
        free(dst);
        free(sc);
        free(full);
    }

    SAY("conform2: non-blocking collectives interleaved with point-to-point");
    {
        int b = me == 0 ? 77 : -1, v = me, got = -1, s = me, tot = -1;
        MPI_Request rs[4];
        OK(MPI_Ibcast(&b, 1, MPI_INT, 0, MPI_COMM_WORLD, &rs[0]));
        OK(MPI_Irecv(&got, 1, MPI_INT, left, 10, MPI_COMM_WORLD, &rs[1]));
        OK(MPI_Iallreduce(&s, &tot, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD, &rs[2]));
        OK(MPI_Isend(&v, 1, MPI_INT, right, 10, MPI_COMM_WORLD, &rs[3]));
        int all = 0;
        while (!all) {
            OK(MPI_Testall(4, rs, &all, MPI_STATUSES_IGNORE));
        }
        CHECK(b == 77 && got == left && tot == p * (p - 1) / 2, "nbc %d %d %d", b, got, tot);
        MPI_Request br;
        OK(MPI_Ibarrier(MPI_COMM_WORLD, &br));
        OK(MPI_Wait(&br, MPI_STATUS_IGNORE));
    }

    SAY("conform2: Comm_idup, Comm_create_group, Comm_compare");
    {
        MPI_Comm d, g;
        MPI_Request r;
        OK(MPI_Comm_idup(MPI_COMM_WORLD, &d, &r));
        OK(MPI_Wait(&r, MPI_STATUS_IGNORE));
        int res;
        OK(MPI_Comm_compare(MPI_COMM_WORLD, d, &res));
        CHECK(res == MPI_CONGRUENT, "idup compare %d", res);
        OK(MPI_Comm_compare(d, d, &res));
        CHECK(res == MPI_IDENT, "self compare %d", res);
        MPI_Group wg, eg;
        OK(MPI_Comm_group(MPI_COMM_WORLD, &wg));
        int range[1][3] = {{0, p - 1, 2}};
        OK(MPI_Group_range_incl(wg, 1, range, &eg));
        if (me % 2 == 0) {
            OK(MPI_Comm_create_group(d, eg, 12, &g));
            int gs, gr;
            OK(MPI_Comm_size(g, &gs));
            OK(MPI_Comm_rank(g, &gr));
            CHECK(gs == (p + 1) / 2 && gr == me / 2, "create_group %d %d", gs, gr);
            int x = 1;
            OK(MPI_Allreduce(MPI_IN_PLACE, &x, 1, MPI_INT, MPI_SUM, g));
            CHECK(x == gs, "create_group allreduce %d", x);
            OK(MPI_Comm_free(&g));
        }
        /* A split in reverse order is similar, not congruent. */
        MPI_Comm rev;
        OK(MPI_Comm_split(MPI_COMM_WORLD, 0, -me, &rev));
        OK(MPI_Comm_compare(MPI_COMM_WORLD, rev, &res));
        CHECK(res == (p == 1 ? MPI_CONGRUENT : MPI_SIMILAR), "reversed compare %d", res);
        OK(MPI_Comm_free(&rev));
        OK(MPI_Group_free(&eg));
        OK(MPI_Group_free(&wg));
        OK(MPI_Comm_free(&d));
    }

    SAY("conform2: user error handler, added classes and codes, call_errhandler");
    {
        MPI_Comm d;
        MPI_Errhandler eh;
        OK(MPI_Comm_dup(MPI_COMM_WORLD, &d));
        OK(MPI_Comm_create_errhandler(my_handler, &eh));
        OK(MPI_Comm_set_errhandler(d, eh));
        int x = 0;
        int e = MPI_Send(&x, 1, MPI_INT, p + 9, 0, d);
        int cls;
        MPI_Error_class(e, &cls);
        CHECK(handler_calls == 1 && cls == MPI_ERR_RANK && handler_code == e,
              "handler calls %d code %d", handler_calls, handler_code);
        int myclass, mycode;
        OK(MPI_Add_error_class(&myclass));
        OK(MPI_Add_error_code(myclass, &mycode));
        OK(MPI_Add_error_string(mycode, "conform2 test error"));
        char s[MPI_MAX_ERROR_STRING];
        int len;
        OK(MPI_Error_string(mycode, s, &len));
        CHECK(!strcmp(s, "conform2 test error"), "added string '%s'", s);
        OK(MPI_Error_class(mycode, &cls));
        CHECK(cls == myclass, "added code's class %d", cls);
        OK(MPI_Comm_call_errhandler(d, mycode));
        CHECK(handler_calls == 2 && handler_code == mycode, "call_errhandler");
        int *lastused, fl;
        OK(MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_LASTUSEDCODE, &lastused, &fl));
        CHECK(fl && *lastused >= mycode, "lastusedcode %d", fl ? *lastused : -1);
        MPI_Errhandler got;
        OK(MPI_Comm_get_errhandler(d, &got));
        CHECK(got == eh, "get_errhandler");
        OK(MPI_Errhandler_free(&got));
        OK(MPI_Errhandler_free(&eh));
        OK(MPI_Comm_free(&d));
        /* Bsend with no attached buffer is MPI_ERR_BUFFER. */
        OK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
        e = MPI_Bsend(&x, 1, MPI_INT, right, 0, MPI_COMM_WORLD);
        MPI_Error_class(e, &cls);
        CHECK(cls == MPI_ERR_BUFFER, "bsend without buffer gave %d", e);
        OK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL));
    }

    SAY("conform2: status setters and info objects");
    {
        MPI_Status s2;
        OK(MPI_Status_set_elements(&s2, MPI_DOUBLE, 3));
        OK(MPI_Get_elements(&s2, MPI_DOUBLE, &n));
        CHECK(n == 3, "set_elements %d", n);
        OK(MPI_Get_count(&s2, MPI_DOUBLE, &n));
        CHECK(n == 3, "set_elements count %d", n);
        OK(MPI_Status_set_cancelled(&s2, 1));
        OK(MPI_Test_cancelled(&s2, &flag));
        CHECK(flag, "set_cancelled");
        MPI_Info info, dup;
        OK(MPI_Info_create(&info));
        OK(MPI_Info_set(info, "alpha", "1"));
        OK(MPI_Info_set(info, "beta", "two"));
        OK(MPI_Info_set(info, "alpha", "3"));
        OK(MPI_Info_dup(info, &dup));
        int nk, vlen;
        OK(MPI_Info_get_nkeys(dup, &nk));
        CHECK(nk == 2, "nkeys %d", nk);
        char key[MPI_MAX_INFO_KEY], val[16];
        OK(MPI_Info_get_nthkey(dup, 1, key));
        CHECK(!strcmp(key, "beta"), "nthkey '%s'", key);
        OK(MPI_Info_get_valuelen(dup, "alpha", &vlen, &flag));
        CHECK(flag && vlen == 1, "valuelen %d", vlen);
        OK(MPI_Info_get(dup, "alpha", sizeof val - 1, val, &flag));
        CHECK(flag && !strcmp(val, "3"), "value '%s'", val);
        OK(MPI_Info_delete(dup, "alpha"));
        OK(MPI_Info_get(dup, "alpha", sizeof val - 1, val, &flag));
        CHECK(!flag, "deleted key found");
        OK(MPI_Info_free(&info));
        OK(MPI_Info_free(&dup));
        CHECK(info == MPI_INFO_NULL, "info not nulled");
    }
#ifdef SF_MPI_REMOVED_
    /* Starfish's mpi.h declares the MPI-1 bindings MPI-3.0 removed (Open
     * MPI's hides them), so only an sfcc build calls them. */
    SAY("conform2: removed MPI-1 bindings forward to their replacements");
    {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
        struct {
            int a;
            double b;
        } s2[2];
        MPI_Aint a0, a1, ext, lb, ub;
        OK(MPI_Address(&s2[0].a, &a0));
        OK(MPI_Address(&s2[0].b, &a1));
        int bl[2] = {1, 1};
        MPI_Aint disp[2] = {0, a1 - a0};
        MPI_Datatype ts[2] = {MPI_INT, MPI_DOUBLE}, t, h;
        OK(MPI_Type_struct(2, bl, disp, ts, &t));
        OK(MPI_Type_extent(t, &ext));
        OK(MPI_Type_lb(t, &lb));
        OK(MPI_Type_ub(t, &ub));
        CHECK(ext == (MPI_Aint)sizeof s2[0] && lb == 0 && ub == ext, "struct extent %ld",
              (long)ext);
        OK(MPI_Type_hvector(2, 1, (MPI_Aint)sizeof s2[0], t, &h));
        OK(MPI_Type_commit(&h));
        s2[0].a = me;
        s2[1].b = me + 0.25;
        OK(MPI_Sendrecv_replace(s2, 1, h, right, 13, left, 13, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
        CHECK(s2[0].a == left && s2[1].b == left + 0.25, "hvector of structs %d", s2[0].a);
        MPI_Errhandler eh;
        OK(MPI_Errhandler_get(MPI_COMM_WORLD, &eh));
        CHECK(eh == MPI_ERRORS_ARE_FATAL, "errhandler_get");
        OK(MPI_Errhandler_set(MPI_COMM_WORLD, eh));
        OK(MPI_Errhandler_free(&eh));
        OK(MPI_Type_free(&h));
        OK(MPI_Type_free(&t));
#pragma GCC diagnostic pop
    }
#endif
    OK(MPI_Finalize());
    SAY("conform2: ok");
    return 0;
}
