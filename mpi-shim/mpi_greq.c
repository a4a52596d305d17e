/* Generalized requests (MPI-3.1 12.2): a request the program completes
 * itself with MPI_Grequest_complete; waits and tests see it like any other
 * request, and completing it (wait/test) calls the query function for the
 * status, then the free function. MPI_Cancel calls the cancel function.
 * Caller's thread (at most MPI_THREAD_SERIALIZED: no concurrent calls). */
#include <stdlib.h>

#include "mpi-shim/shim_int.h"

struct sf_mpi_greq {
    MPI_Grequest_query_function *query;
    MPI_Grequest_free_function *free;
    MPI_Grequest_cancel_function *cancel;
    void *state;
};

int PMPI_Grequest_start(MPI_Grequest_query_function *query_fn, MPI_Grequest_free_function *free_fn,
                        MPI_Grequest_cancel_function *cancel_fn, void *extra_state,
                        MPI_Request *request)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Grequest_start";
    int err = sf_mpi__chk_init(fn);
    if (err) {
        return err;
    }
    if (request == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn, "request is NULL");
    }
    struct ompi_request_t *r = sf_mpi__req_new();
    struct sf_mpi_greq *g = malloc(sizeof(*g));
    if (r == NULL || g == NULL) {
        free(g);
        if (r != NULL) {
            sf_mpi__req_release(r);
        }
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_NO_MEM, fn, "out of memory");
    }
    *g = (struct sf_mpi_greq){query_fn, free_fn, cancel_fn, extra_state};
    r->kind = SF_MPI_REQ_GREQ;
    r->comm = SF_COMM_WORLD;
    r->active = true;
    r->rt_started = true; /* finished only once rt.complete is set */
    r->rt.complete = false;
    r->greq = g;
    *request = r;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Grequest_start);

int PMPI_Grequest_complete(MPI_Request request)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Grequest_complete";
    int err = sf_mpi__chk_init(fn);
    if (err) {
        return err;
    }
    /* A request the program already freed stays valid until completed. */
    if (request == MPI_REQUEST_NULL || request->magic != SF_MPI_MAGIC_REQ ||
        request->kind != SF_MPI_REQ_GREQ) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_REQUEST, fn,
                             "not a generalized request from MPI_Grequest_start");
    }
    if (request->rt.complete) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_REQUEST, fn,
                             "the generalized request is already complete");
    }
    __atomic_store_n(&request->rt.complete, true, __ATOMIC_RELEASE);
    if (request->freed) {
        /* MPI_Request_free came first: clean up now (free_fn runs). */
        (void)sf_mpi__progress();
    }
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Grequest_complete);

int sf_mpi__greq_status(struct ompi_request_t *r, MPI_Status *st)
{
    MPI_Status tmp;
    MPI_Status *s = st != MPI_STATUS_IGNORE ? st : &tmp;
    sf_mpi__status_empty(s);
    /* The program's own code is what the wait returns (MPI-3.1 12.2). */
    return r->greq->query != NULL ? r->greq->query(r->greq->state, s) : MPI_SUCCESS;
}

int sf_mpi__greq_finish(struct ompi_request_t *r, MPI_Status *st)
{
    if (!r->rt_started) {
        sf_mpi__status_empty(st);
        return MPI_SUCCESS;
    }
    int cls = sf_mpi__greq_status(r, st);
    int fcls = r->greq->free != NULL ? r->greq->free(r->greq->state) : MPI_SUCCESS;
    r->rt_started = false;
    if (st != MPI_STATUS_IGNORE) {
        st->MPI_ERROR = cls ? cls : fcls;
    }
    return cls ? cls : fcls;
}

int sf_mpi__greq_cancel(struct ompi_request_t *r)
{
    bool done = __atomic_load_n(&r->rt.complete, __ATOMIC_ACQUIRE);
    return r->greq->cancel != NULL ? r->greq->cancel(r->greq->state, done) : MPI_SUCCESS;
}

void sf_mpi__greq_release(struct ompi_request_t *r)
{
    free(r->greq);
    r->greq = NULL;
}
