/* Requests: thousands outstanding, waitany/waitsome/testany/testsome/
 * testall with null and inactive entries, persistent requests restarted,
 * cancel of an unmatched receive, request_free, request_get_status,
 * generalized requests (MPI_Grequest_start/complete and their callbacks).
 * Any size >= 1. */
#include <stdbool.h>
#include "mt.h"

#define MANY 4000

/* Generalized requests: what the callbacks saw. */
struct greq_log {
    int queries, frees, cancels, cancel_complete, tag;
    bool cancelled;
};

static int greq_query(void *extra, MPI_Status *st)
{
    struct greq_log *g = extra;
    g->queries++;
    st->MPI_SOURCE = 3;
    st->MPI_TAG = g->tag;
    MPI_Status_set_elements(st, MPI_INT, 5);
    MPI_Status_set_cancelled(st, g->cancelled);
    return MPI_SUCCESS;
}

static int greq_free(void *extra)
{
    ((struct greq_log *)extra)->frees++;
    return MPI_SUCCESS;
}

static int greq_cancel(void *extra, int complete)
{
    struct greq_log *g = extra;
    g->cancels++;
    g->cancel_complete = complete;
    g->cancelled = !complete;
    return MPI_SUCCESS;
}

int main(int argc, char **argv)
{
    mt_init(&argc, &argv);
    int right = (mt_rank + 1) % mt_size, left = (mt_rank + mt_size - 1) % mt_size;
    MPI_Status st;

    SAY("many: %d receives and %d sends outstanding at once", MANY, MANY);
    {
        static MPI_Request rq[2 * MANY];
        static int in[MANY], out[MANY];
        for (int i = 0; i < MANY; i++) {
            OK(MPI_Irecv(&in[i], 1, MPI_INT, left, i % 7, MPI_COMM_WORLD, &rq[i]));
        }
        for (int i = 0; i < MANY; i++) {
            out[i] = i * 3 + mt_rank;
            OK(MPI_Isend(&out[i], 1, MPI_INT, right, i % 7, MPI_COMM_WORLD, &rq[MANY + i]));
        }
        OK(MPI_Waitall(2 * MANY, rq, MPI_STATUSES_IGNORE));
        for (int i = 0; i < MANY; i++) {
            CHECK(in[i] == i * 3 + left, "in[%d] = %d", i, in[i]);
        }
    }

    SAY("waitany/waitsome: null entries skipped, all-null gives MPI_UNDEFINED");
    {
        MPI_Request rq[4] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL, MPI_REQUEST_NULL,
                             MPI_REQUEST_NULL};
        int idx = 0, out = 0, idxs[4], v[2] = {mt_rank, mt_rank}, g[2] = {-1, -1};
        OK(MPI_Waitany(4, rq, &idx, &st));
        CHECK(idx == MPI_UNDEFINED, "waitany on nulls: %d", idx);
        OK(MPI_Waitsome(4, rq, &out, idxs, MPI_STATUSES_IGNORE));
        CHECK(out == MPI_UNDEFINED, "waitsome on nulls: %d", out);
        OK(MPI_Irecv(&g[0], 1, MPI_INT, left, 31, MPI_COMM_WORLD, &rq[1]));
        OK(MPI_Irecv(&g[1], 1, MPI_INT, left, 32, MPI_COMM_WORLD, &rq[3]));
        OK(MPI_Send(&v[1], 1, MPI_INT, right, 32, MPI_COMM_WORLD));
        OK(MPI_Waitany(4, rq, &idx, &st));
        CHECK(idx == 3 && st.MPI_TAG == 32 && g[1] == left && rq[3] == MPI_REQUEST_NULL,
              "waitany index %d", idx);
        int flag = 1;
        OK(MPI_Testany(4, rq, &idx, &flag, &st));
        CHECK(!flag || idx == 1, "testany reported a message not yet sent");
        /* Tag 31 is sent only once every rank has looked at its requests. */
        OK(MPI_Barrier(MPI_COMM_WORLD));
        OK(MPI_Send(&v[0], 1, MPI_INT, right, 31, MPI_COMM_WORLD));
        out = 0;
        while (out == 0) {
            OK(MPI_Testsome(4, rq, &out, idxs, MPI_STATUSES_IGNORE));
        }
        CHECK(out == 1 && idxs[0] == 1 && g[0] == left, "testsome %d", out);
        OK(MPI_Testall(4, rq, &flag, MPI_STATUSES_IGNORE));
        CHECK(flag, "testall on nulls");
    }

    SAY("persistent: send_init/recv_init started 50 times, startall, inactive waits");
    {
        int v = 0, g = -1;
        MPI_Request p[2];
        OK(MPI_Recv_init(&g, 1, MPI_INT, left, 33, MPI_COMM_WORLD, &p[0]));
        OK(MPI_Send_init(&v, 1, MPI_INT, right, 33, MPI_COMM_WORLD, &p[1]));
        OK(MPI_Wait(&p[0], &st)); /* inactive: returns at once, empty status */
        CHECK(st.MPI_SOURCE == MPI_ANY_SOURCE && st.MPI_TAG == MPI_ANY_TAG, "inactive status");
        for (int i = 0; i < 50; i++) {
            v = i * 10 + mt_rank;
            OK(MPI_Startall(2, p));
            OK(MPI_Waitall(2, p, MPI_STATUSES_IGNORE));
            CHECK(g == i * 10 + left, "round %d got %d", i, g);
            CHECK(p[0] != MPI_REQUEST_NULL, "persistent request was freed");
        }
        MPI_Request ps, rr;
        OK(MPI_Ssend_init(&v, 1, MPI_INT, right, 34, MPI_COMM_WORLD, &ps));
        OK(MPI_Irecv(&g, 1, MPI_INT, left, 34, MPI_COMM_WORLD, &rr));
        v = 77;
        OK(MPI_Start(&ps));
        OK(MPI_Wait(&ps, MPI_STATUS_IGNORE));
        OK(MPI_Wait(&rr, MPI_STATUS_IGNORE));
        CHECK(g == 77, "ssend_init got %d", g);
        OK(MPI_Request_free(&ps));
        OK(MPI_Request_free(&p[0]));
        OK(MPI_Request_free(&p[1]));
        CHECK(p[0] == MPI_REQUEST_NULL && ps == MPI_REQUEST_NULL, "request_free");
    }

    SAY("cancel: an unmatched receive is cancelled; test_cancelled says so");
    {
        int g = 0, flag = 0;
        MPI_Request r;
        OK(MPI_Irecv(&g, 1, MPI_INT, left, 35, MPI_COMM_WORLD, &r));
        OK(MPI_Cancel(&r));
        OK(MPI_Wait(&r, &st));
        OK(MPI_Test_cancelled(&st, &flag));
        CHECK(flag, "receive not cancelled");
        OK(MPI_Irecv(&g, 1, MPI_INT, left, 36, MPI_COMM_WORLD, &r));
        OK(MPI_Request_get_status(r, &flag, &st));
        CHECK(!flag, "get_status on an unsent message");
        OK(MPI_Barrier(MPI_COMM_WORLD));
        int v = mt_rank;
        OK(MPI_Send(&v, 1, MPI_INT, right, 36, MPI_COMM_WORLD));
        while (!flag) {
            OK(MPI_Request_get_status(r, &flag, &st));
        }
        CHECK(r != MPI_REQUEST_NULL && st.MPI_SOURCE == left, "get_status must not free");
        OK(MPI_Wait(&r, MPI_STATUS_IGNORE));
        CHECK(g == left, "g %d", g);
        /* A receive freed while pending is reaped once it completes. */
        int h = -1;
        OK(MPI_Irecv(&h, 1, MPI_INT, left, 37, MPI_COMM_WORLD, &r));
        OK(MPI_Request_free(&r));
        OK(MPI_Send(&v, 1, MPI_INT, right, 37, MPI_COMM_WORLD));
        OK(MPI_Barrier(MPI_COMM_WORLD));
    }

    SAY("generalized requests: test/wait/waitall/get_status/cancel/free run the callbacks");
    {
        struct greq_log g = {.tag = 41};
        MPI_Request r, rr[2];
        int flag = 1, n = -1;
        OK(MPI_Grequest_start(greq_query, greq_free, greq_cancel, &g, &r));
        OK(MPI_Test(&r, &flag, &st));
        CHECK(!flag && g.queries == 0, "test before completion: flag %d", flag);
        OK(MPI_Grequest_complete(r));
        OK(MPI_Request_get_status(r, &flag, &st));
        CHECK(flag && g.queries == 1 && g.frees == 0 && st.MPI_TAG == 41, "get_status");
        OK(MPI_Wait(&r, &st));
        OK(MPI_Get_count(&st, MPI_INT, &n));
        CHECK(r == MPI_REQUEST_NULL && g.queries == 2 && g.frees == 1, "wait: q %d f %d",
              g.queries, g.frees);
        CHECK(st.MPI_SOURCE == 3 && st.MPI_TAG == 41 && n == 5, "status from query: %d %d %d",
              st.MPI_SOURCE, st.MPI_TAG, n);
        /* Cancel before completion, then complete: the status says cancelled. */
        struct greq_log c = {.tag = 42};
        OK(MPI_Grequest_start(greq_query, greq_free, greq_cancel, &c, &r));
        OK(MPI_Cancel(&r));
        CHECK(c.cancels == 1 && c.cancel_complete == 0, "cancel_fn(complete=0)");
        OK(MPI_Grequest_complete(r));
        OK(MPI_Wait(&r, &st));
        OK(MPI_Test_cancelled(&st, &flag));
        CHECK(flag && c.frees == 1, "cancelled generalized request");
        /* Mixed with a real receive in one waitall. */
        struct greq_log m = {.tag = 43};
        int v = mt_rank, w = -1;
        OK(MPI_Grequest_start(greq_query, greq_free, greq_cancel, &m, &rr[0]));
        OK(MPI_Irecv(&w, 1, MPI_INT, left, 44, MPI_COMM_WORLD, &rr[1]));
        OK(MPI_Send(&v, 1, MPI_INT, right, 44, MPI_COMM_WORLD));
        OK(MPI_Grequest_complete(rr[0]));
        MPI_Status sts[2];
        OK(MPI_Waitall(2, rr, sts));
        CHECK(w == left && sts[0].MPI_TAG == 43 && sts[1].MPI_TAG == 44 && m.frees == 1,
              "waitall mixed");
        /* Freed before completion: free_fn runs once it completes. */
        struct greq_log f = {.tag = 45};
        OK(MPI_Grequest_start(greq_query, greq_free, greq_cancel, &f, &r));
        MPI_Request keep = r;
        OK(MPI_Request_free(&r));
        CHECK(r == MPI_REQUEST_NULL && f.frees == 0, "freed early");
        OK(MPI_Grequest_complete(keep));
        OK(MPI_Barrier(MPI_COMM_WORLD)); /* progress reaps it */
        CHECK(f.frees == 1, "free_fn after completion of a freed request: %d", f.frees);
        OK(MPI_Grequest_start(greq_query, greq_free, greq_cancel, &f, &r));
        OK(MPI_Grequest_complete(r));
        MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
        CHECK(MPI_Grequest_complete(r) != MPI_SUCCESS, "second complete accepted");
        MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL);
        OK(MPI_Wait(&r, MPI_STATUS_IGNORE));
        /* NULL callbacks do nothing (Open MPI accepts them too). */
        OK(MPI_Grequest_start(NULL, NULL, NULL, NULL, &r));
        OK(MPI_Cancel(&r));
        OK(MPI_Grequest_complete(r));
        OK(MPI_Wait(&r, &st));
        CHECK(r == MPI_REQUEST_NULL, "NULL-callback request completed");
    }

    OK(MPI_Finalize());
    SAY("p2p_req: all checks passed");
    return 0;
}
