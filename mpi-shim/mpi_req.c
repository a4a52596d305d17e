/* Request completion: the wait/test families (single, any, all, some),
 * MPI_Start/Startall for persistent requests, cancel, free and
 * get_status. An inactive persistent request and MPI_REQUEST_NULL count
 * as complete with an empty status. Caller's thread; progress happens
 * while waiting. */
#include <stdlib.h>
#include <string.h>

#include "mpi-shim/shim_int.h"

static bool req_inactive(MPI_Request r)
{
    return r == MPI_REQUEST_NULL || (r->persistent && !r->active);
}

static bool req_valid(MPI_Request r)
{
    return r != NULL && r->magic == SF_MPI_MAGIC_REQ && !r->freed;
}

/* Checks an array of requests; 0 or the raised class. */
static int chk_reqs(const char *fn, int count, MPI_Request reqs[])
{
    int err = sf_mpi__chk_init(fn);
    if (err) {
        return err;
    }
    if (count < 0) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_COUNT, fn, "negative count %d", count);
    }
    if (count > 0 && reqs == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_REQUEST, fn, "request array is NULL");
    }
    for (int i = 0; i < count; i++) {
        if (!req_valid(reqs[i])) {
            return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_REQUEST, fn, "invalid request at index %d",
                                 i);
        }
    }
    return 0;
}

/* Complete a finished request; frees a non-persistent one. When 'raise',
 * an error goes through the communicator's handler; otherwise the class
 * is returned (and recorded in *st) for MPI_ERR_IN_STATUS reporting. */
static int complete(const char *fn, MPI_Request *rp, MPI_Status *st, bool raise)
{
    struct ompi_request_t *r = *rp;
    if (req_inactive(r)) {
        sf_mpi__status_empty(st);
        return MPI_SUCCESS;
    }
    int cls = sf_mpi__p2p_finish(r, st);
    if (cls && raise) {
        cls = sf_mpi__raise_op(r->comm, cls, fn, r);
    }
    if (r->persistent) {
        r->active = false;
    } else {
        sf_mpi__req_release(r);
        *rp = MPI_REQUEST_NULL;
    }
    return cls;
}

/* Progress once; on a runtime failure raise it. */
static int poll(const char *fn, MPI_Comm comm, unsigned *idle)
{
    int n = sf_mpi__progress();
    if (n < 0) {
        return sf_mpi__raise_rt(comm, n, fn);
    }
    if (idle != NULL) {
        sf_mpi__idle(n == 0 ? ++*idle : (*idle = 0));
    }
    return 0;
}

int PMPI_Wait(MPI_Request *request, MPI_Status *status)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Wait";
    if (request == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_REQUEST, fn, "request is NULL");
    }
    int err = chk_reqs(fn, 1, request);
    if (err) {
        return err;
    }
    struct ompi_request_t *r = *request;
    if (!req_inactive(r)) {
        int cls = sf_mpi__p2p_wait(r);
        if (cls) {
            return sf_mpi__raise_op(r->comm, cls, fn, r);
        }
    }
    return complete(fn, request, status, true);
}
SF_MPI_ALIAS(Wait);

int PMPI_Test(MPI_Request *request, int *flag, MPI_Status *status)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Test";
    if (request == NULL || flag == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn, "request or flag is NULL");
    }
    int err = chk_reqs(fn, 1, request);
    if (err) {
        return err;
    }
    struct ompi_request_t *r = *request;
    if (!req_inactive(r) && !sf_mpi__p2p_finished(r)) {
        err = poll(fn, r->comm, NULL);
        if (err) {
            return err;
        }
        if (!sf_mpi__p2p_finished(r)) {
            *flag = 0;
            return MPI_SUCCESS;
        }
    }
    *flag = 1;
    return complete(fn, request, status, true);
}
SF_MPI_ALIAS(Test);

int PMPI_Request_get_status(MPI_Request request, int *flag, MPI_Status *status)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Request_get_status";
    if (flag == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn, "flag is NULL");
    }
    int err = chk_reqs(fn, 1, &request);
    if (err) {
        return err;
    }
    if (req_inactive(request)) {
        *flag = 1;
        sf_mpi__status_empty(status);
        return MPI_SUCCESS;
    }
    if (!sf_mpi__p2p_finished(request)) {
        err = poll(fn, request->comm, NULL);
        if (err) {
            return err;
        }
    }
    *flag = sf_mpi__p2p_finished(request);
    if (*flag && request->kind == SF_MPI_REQ_GREQ) {
        int cls = sf_mpi__greq_status(request, status);
        return cls ? sf_mpi__raise(request->comm, cls, fn, "the query function failed") : 0;
    }
    if (*flag && status != MPI_STATUS_IGNORE) {
        /* Report without completing: no unpacking, the request stays. */
        if (!request->rt_started) {
            *status = request->done_status;
        } else {
            const struct sf_rt_status *rs = &request->rt.status;
            bool recv = request->kind == SF_MPI_REQ_RECV;
            sf_mpi__status_set(status, recv ? rs->source : MPI_ANY_SOURCE,
                               recv ? rs->tag : MPI_ANY_TAG, sf_mpi__class_of(rs->error),
                               rs->cancelled, recv ? rs->count : 0);
        }
    }
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Request_get_status);

/* Raise MPI_ERR_IN_STATUS for a multiple completion that had failures. */
static int in_status(const char *fn, MPI_Comm comm, int first_cls, int failures)
{
    return sf_mpi__raise(comm, MPI_ERR_IN_STATUS, fn,
                         "%d request(s) failed, the first with error class %d on communicator %s",
                         failures, first_cls, sf_mpi__comm_name(comm));
}

int PMPI_Waitall(int count, MPI_Request array_of_requests[], MPI_Status array_of_statuses[])
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Waitall";
    int err = chk_reqs(fn, count, array_of_requests);
    if (err) {
        return err;
    }
    /* Wait for all first (skipping finished ones), then complete in order. */
    unsigned idle = 0;
    int done_upto = 0;
    while (done_upto < count) {
        MPI_Request r = array_of_requests[done_upto];
        if (req_inactive(r) || sf_mpi__p2p_finished(r)) {
            done_upto++;
            continue;
        }
        err = poll(fn, r->comm, &idle);
        if (err) {
            return err;
        }
    }
    int failures = 0, first = 0;
    MPI_Comm fcomm = SF_COMM_WORLD;
    for (int i = 0; i < count; i++) {
        MPI_Status *st =
            array_of_statuses == MPI_STATUSES_IGNORE ? MPI_STATUS_IGNORE : &array_of_statuses[i];
        MPI_Comm c = req_inactive(array_of_requests[i]) ? NULL : array_of_requests[i]->comm;
        int cls = complete(fn, &array_of_requests[i], st, false);
        if (cls && failures++ == 0) {
            first = cls;
            fcomm = c;
        }
    }
    if (failures) {
        /* The other statuses say MPI_SUCCESS; with MPI_ERR_IN_STATUS their
         * MPI_ERROR fields are already set by completion. */
        return in_status(fn, fcomm, first, failures);
    }
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Waitall);

int PMPI_Testall(int count, MPI_Request array_of_requests[], int *flag,
                 MPI_Status array_of_statuses[])
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Testall";
    if (flag == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn, "flag is NULL");
    }
    int err = chk_reqs(fn, count, array_of_requests);
    if (err) {
        return err;
    }
    for (int pass = 0; pass < 2; pass++) {
        bool all = true;
        for (int i = 0; i < count && all; i++) {
            MPI_Request r = array_of_requests[i];
            all = req_inactive(r) || sf_mpi__p2p_finished(r);
        }
        if (all) {
            *flag = 1;
            return PMPI_Waitall(count, array_of_requests, array_of_statuses);
        }
        if (pass == 0) {
            err = poll(fn, SF_COMM_WORLD, NULL);
            if (err) {
                return err;
            }
        }
    }
    *flag = 0;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Testall);

/* Index of a finished active request, -1 if none, -2 if none is active. */
static int find_finished(int count, MPI_Request reqs[])
{
    bool any_active = false;
    for (int i = 0; i < count; i++) {
        if (req_inactive(reqs[i])) {
            continue;
        }
        any_active = true;
        if (sf_mpi__p2p_finished(reqs[i])) {
            return i;
        }
    }
    return any_active ? -1 : -2;
}

static int any_common(const char *fn, int count, MPI_Request reqs[], int *index, int *flag,
                      MPI_Status *status, bool block)
{
    if (index == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn, "index is NULL");
    }
    int err = chk_reqs(fn, count, reqs);
    if (err) {
        return err;
    }
    unsigned idle = 0;
    for (int pass = 0;; pass++) {
        int i = find_finished(count, reqs);
        if (i == -2) {
            *index = MPI_UNDEFINED;
            if (flag != NULL) {
                *flag = 1;
            }
            sf_mpi__status_empty(status);
            return MPI_SUCCESS;
        }
        if (i >= 0) {
            *index = i;
            if (flag != NULL) {
                *flag = 1;
            }
            return complete(fn, &reqs[i], status, true);
        }
        if (!block && pass == 1) {
            *index = MPI_UNDEFINED;
            *flag = 0;
            return MPI_SUCCESS;
        }
        err = poll(fn, SF_COMM_WORLD, block ? &idle : NULL);
        if (err) {
            return err;
        }
    }
}

int PMPI_Waitany(int count, MPI_Request array_of_requests[], int *index, MPI_Status *status)
{
    SF_MPI_ENTER();
    return any_common("MPI_Waitany", count, array_of_requests, index, NULL, status, true);
}
SF_MPI_ALIAS(Waitany);

int PMPI_Testany(int count, MPI_Request array_of_requests[], int *index, int *flag,
                 MPI_Status *status)
{
    SF_MPI_ENTER();
    if (flag == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, "MPI_Testany", "flag is NULL");
    }
    return any_common("MPI_Testany", count, array_of_requests, index, flag, status, false);
}
SF_MPI_ALIAS(Testany);

static int some_common(const char *fn, int incount, MPI_Request reqs[], int *outcount,
                       int indices[], MPI_Status statuses[], bool block)
{
    if (outcount == NULL || (incount > 0 && indices == NULL)) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn, "outcount or indices is NULL");
    }
    int err = chk_reqs(fn, incount, reqs);
    if (err) {
        return err;
    }
    unsigned idle = 0;
    for (int pass = 0;; pass++) {
        int i = find_finished(incount, reqs);
        if (i == -2) {
            *outcount = MPI_UNDEFINED;
            return MPI_SUCCESS;
        }
        if (i >= 0) {
            break;
        }
        if (!block && pass == 1) {
            *outcount = 0;
            return MPI_SUCCESS;
        }
        err = poll(fn, SF_COMM_WORLD, block ? &idle : NULL);
        if (err) {
            return err;
        }
    }
    int n = 0, failures = 0, first = 0;
    MPI_Comm fcomm = SF_COMM_WORLD;
    for (int i = 0; i < incount; i++) {
        MPI_Request r = reqs[i];
        if (req_inactive(r) || !sf_mpi__p2p_finished(r)) {
            continue;
        }
        MPI_Status *st = statuses == MPI_STATUSES_IGNORE ? MPI_STATUS_IGNORE : &statuses[n];
        MPI_Comm c = r->comm;
        int cls = complete(fn, &reqs[i], st, false);
        if (cls && failures++ == 0) {
            first = cls;
            fcomm = c;
        }
        indices[n++] = i;
    }
    *outcount = n;
    return failures ? in_status(fn, fcomm, first, failures) : MPI_SUCCESS;
}

int PMPI_Waitsome(int incount, MPI_Request array_of_requests[], int *outcount,
                  int array_of_indices[], MPI_Status array_of_statuses[])
{
    SF_MPI_ENTER();
    return some_common("MPI_Waitsome", incount, array_of_requests, outcount, array_of_indices,
                       array_of_statuses, true);
}
SF_MPI_ALIAS(Waitsome);

int PMPI_Testsome(int incount, MPI_Request array_of_requests[], int *outcount,
                  int array_of_indices[], MPI_Status array_of_statuses[])
{
    SF_MPI_ENTER();
    return some_common("MPI_Testsome", incount, array_of_requests, outcount, array_of_indices,
                       array_of_statuses, false);
}
SF_MPI_ALIAS(Testsome);

int PMPI_Start(MPI_Request *request)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Start";
    if (request == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_REQUEST, fn, "request is NULL");
    }
    int err = chk_reqs(fn, 1, request);
    if (err) {
        return err;
    }
    struct ompi_request_t *r = *request;
    if (!r->persistent || r->active || r == MPI_REQUEST_NULL) {
        return sf_mpi__raise(r->comm, MPI_ERR_REQUEST, fn, "%s",
                             r->active ? "request is already active"
                                       : "not an inactive persistent request");
    }
    int cls = sf_mpi__p2p_start(r);
    if (cls) {
        return sf_mpi__raise_op(r->comm, cls, fn, r);
    }
    r->active = true;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Start);

int PMPI_Startall(int count, MPI_Request array_of_requests[])
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Startall";
    int err = chk_reqs(fn, count, array_of_requests);
    if (err) {
        return err;
    }
    for (int i = 0; i < count; i++) {
        err = PMPI_Start(&array_of_requests[i]);
        if (err) {
            return err;
        }
    }
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Startall);

int PMPI_Cancel(MPI_Request *request)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Cancel";
    if (request == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_REQUEST, fn, "request is NULL");
    }
    int err = chk_reqs(fn, 1, request);
    if (err) {
        return err;
    }
    struct ompi_request_t *r = *request;
    if (r == MPI_REQUEST_NULL || (r->persistent && !r->active)) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_REQUEST, fn, "request is not active");
    }
    if (r->kind == SF_MPI_REQ_COLL) {
        return sf_mpi__raise(r->comm, MPI_ERR_REQUEST, fn,
                             "a non-blocking collective cannot be cancelled");
    }
    if (r->kind == SF_MPI_REQ_GREQ) {
        int cls = sf_mpi__greq_cancel(r);
        return cls ? sf_mpi__raise(r->comm, cls, fn, "the cancel function failed") : 0;
    }
    /* Operations complete at start (PROC_NULL, buffered) cannot be undone. */
    if (r->rt_started && !r->rt.complete) {
        int rc = sf_rt_cancel(sf_mpi__st.rt, &r->rt);
        if (rc < 0) {
            return sf_mpi__raise_rt(r->comm, rc, fn);
        }
    }
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Cancel);

int PMPI_Request_free(MPI_Request *request)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Request_free";
    if (request == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_REQUEST, fn, "request is NULL");
    }
    int err = chk_reqs(fn, 1, request);
    if (err) {
        return err;
    }
    struct ompi_request_t *r = *request;
    if (r == MPI_REQUEST_NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_REQUEST, fn, "request is MPI_REQUEST_NULL");
    }
    if (sf_mpi__p2p_finished(r)) {
        sf_mpi__p2p_finish(r, MPI_STATUS_IGNORE);
        sf_mpi__req_release(r);
    } else {
        /* Still running: the runtime owns r->rt until it finishes. */
        sf_mpi__req_zombie(r);
    }
    *request = MPI_REQUEST_NULL;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Request_free);
