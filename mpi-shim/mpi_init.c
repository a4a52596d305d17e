/* MPI start-up, shut-down and environment queries: Init/Init_thread bring
 * up the rank runtime and the predefined communicators, Finalize runs a
 * barrier and tears it down; Wtime, versions, processor name. Init and
 * Finalize on one thread; the queries on any (SF_MPI_ENTER). */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mpi-shim/shim_int.h"
#include "runtime/base/sf_err.h"

struct sf_mpi_state sf_mpi__st;

static pthread_t main_thread;

static int do_init(const char *fn, int required, int *provided)
{
    if (sf_mpi__st.state != SF_MPI_ST_NONE) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_OTHER, fn, "MPI was already %s",
                             sf_mpi__st.state == SF_MPI_ST_INIT ? "initialized" : "finalized");
    }
    struct sf_rt *rt = NULL;
    int rc = sf_rt_init(&rt);
    if (rc == -ENOENT && rt != NULL) {
        rc = 0; /* not started by sfrun: a singleton (one-rank world) */
    }
    if (rc < 0) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_OTHER, fn,
                             "cannot start the Starfish runtime: %s", sf_strerror(rc));
    }
    int rank = sf_rt_rank(rt), size = sf_rt_size(rt);
    int *world = malloc(sizeof(int) * (size_t)size);
    if (world == NULL) {
        sf_rt_finalize(rt);
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_NO_MEM, fn, "out of memory");
    }
    for (int i = 0; i < size; i++) {
        world[i] = i;
    }
    sf_mpi__st.rt = rt;
    sf_mpi__st.world_rank = rank;
    sf_mpi__st.world_size = size;
    sf_mpi__st.world_ranks = world;
    sf_mpi__st.self_rank[0] = rank;
    memset(sf_mpi__st.ctx_used, 0, sizeof(sf_mpi__st.ctx_used));
    sf_mpi__st.ctx_used[0] = 0x3; /* pairs 0 (WORLD) and 1 (SELF) */
    const char *host = sf_rt_hostname(rt);
    if (host != NULL && host[0]) {
        snprintf(sf_mpi__st.host, sizeof(sf_mpi__st.host), "%s", host);
    } else if (gethostname(sf_mpi__st.host, sizeof(sf_mpi__st.host) - 1) != 0) {
        snprintf(sf_mpi__st.host, sizeof(sf_mpi__st.host), "localhost");
    }
    /* MULTIPLE serialises the threads' calls through one critical section
     * (mpi_thread.c); SF_MPI_THREAD_LEVEL caps the level. Decided before
     * the predefined communicators are set up: their waits depend on it. */
    int level = required, cap = sf_mpi__thread_cap();
    if (level > cap) {
        level = cap;
    }
    if (level < MPI_THREAD_SINGLE) {
        level = MPI_THREAD_SINGLE;
    }
    sf_mpi__st.thread_level = level;
    sf_mpi__mt = level == MPI_THREAD_MULTIPLE;
    sf_mpi__comm_setup(SF_COMM_WORLD, SF_MPI_CTX_WORLD, rank, size, world, "MPI_COMM_WORLD");
    sf_mpi__comm_setup(SF_COMM_SELF, SF_MPI_CTX_SELF, 0, 1, sf_mpi__st.self_rank,
                       "MPI_COMM_SELF");
    if (provided != NULL) {
        *provided = level;
    }
    main_thread = pthread_self();
    sf_mpi__st.state = SF_MPI_ST_INIT;
    return MPI_SUCCESS;
}

int PMPI_Init(int *argc, char ***argv)
{
    SF_MPI_ENTER();
    return do_init("MPI_Init", MPI_THREAD_SINGLE, NULL);
}
SF_MPI_ALIAS(Init);

int PMPI_Init_thread(int *argc, char ***argv, int required, int *provided)
{
    SF_MPI_ENTER();
    if (provided == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, "MPI_Init_thread", "provided is NULL");
    }
    return do_init("MPI_Init_thread", required, provided);
}
SF_MPI_ALIAS(Init_thread);

int PMPI_Initialized(int *flag)
{
    SF_MPI_NOLOCK();
    if (flag == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, "MPI_Initialized", "flag is NULL");
    }
    *flag = sf_mpi__st.state != SF_MPI_ST_NONE;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Initialized);

int PMPI_Finalized(int *flag)
{
    SF_MPI_NOLOCK();
    if (flag == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, "MPI_Finalized", "flag is NULL");
    }
    *flag = sf_mpi__st.state == SF_MPI_ST_FINALIZED;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Finalized);

int PMPI_Finalize(void)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Finalize";
    int err = sf_mpi__chk_init(fn);
    if (err) {
        return err;
    }
    /* MPI_COMM_SELF's attributes go first, while MPI is fully usable (the
     * standard's finalize hook), then MPI_COMM_WORLD's. */
    sf_mpi__attr_delete_all(SF_MPI_ATTR_COMM, SF_COMM_SELF, &SF_COMM_SELF->attrs);
    sf_mpi__attr_delete_all(SF_MPI_ATTR_COMM, SF_COMM_WORLD, &SF_COMM_WORLD->attrs);
    /* Buffered sends must reach their peers before the barrier. */
    int rc = sf_mpi__bsend_detach_wait();
    if (rc == 0) {
        rc = sf_coll_barrier(&SF_COMM_WORLD->coll);
    }
    if (rc < 0) {
        return sf_mpi__raise_rt(SF_COMM_WORLD, rc, fn);
    }
    rc = sf_rt_finalize(sf_mpi__st.rt);
    sf_mpi__st.rt = NULL;
    sf_mpi__st.state = SF_MPI_ST_FINALIZED;
    if (rc < 0) {
        return sf_mpi__raise_rt(SF_COMM_WORLD, rc, fn);
    }
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Finalize);

int PMPI_Abort(MPI_Comm comm, int errorcode)
{
    SF_MPI_ENTER();
    char msg[160];
    snprintf(msg, sizeof(msg), "MPI_Abort called by rank %d on communicator %s with code %d",
             sf_mpi__st.world_rank, sf_mpi__comm_ok(comm) ? sf_mpi__comm_name(comm) : "(invalid)",
             errorcode);
    fprintf(stderr, "Starfish: %s\n", msg);
    fflush(stderr);
    if (sf_mpi__st.rt != NULL) {
        sf_rt_abort(sf_mpi__st.rt, errorcode, msg);
    }
    _exit(errorcode & 0xff ? errorcode & 0xff : 1);
}
SF_MPI_ALIAS(Abort);

int PMPI_Query_thread(int *provided)
{
    SF_MPI_ENTER();
    int err = sf_mpi__chk_init("MPI_Query_thread");
    if (err) {
        return err;
    }
    if (provided == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, "MPI_Query_thread", "provided is NULL");
    }
    *provided = sf_mpi__st.thread_level;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Query_thread);

int PMPI_Is_thread_main(int *flag)
{
    SF_MPI_ENTER();
    int err = sf_mpi__chk_init("MPI_Is_thread_main");
    if (err) {
        return err;
    }
    if (flag == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, "MPI_Is_thread_main", "flag is NULL");
    }
    *flag = pthread_equal(main_thread, pthread_self());
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Is_thread_main);

int PMPI_Comm_rank(MPI_Comm comm, int *rank)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Comm_rank";
    int err = sf_mpi__chk_init(fn);
    if (!err) {
        err = sf_mpi__chk_comm(fn, comm);
    }
    if (err) {
        return err;
    }
    if (rank == NULL) {
        return sf_mpi__raise(comm, MPI_ERR_ARG, fn, "rank is NULL");
    }
    *rank = comm->rank;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Comm_rank);

int PMPI_Comm_size(MPI_Comm comm, int *size)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Comm_size";
    int err = sf_mpi__chk_init(fn);
    if (!err) {
        err = sf_mpi__chk_comm(fn, comm);
    }
    if (err) {
        return err;
    }
    if (size == NULL) {
        return sf_mpi__raise(comm, MPI_ERR_ARG, fn, "size is NULL");
    }
    /* an inter-communicator's size/world describe its remote group */
    *size = comm->is_inter ? comm->local_size : comm->size;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Comm_size);

int PMPI_Get_processor_name(char *name, int *resultlen)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Get_processor_name";
    int err = sf_mpi__chk_init(fn);
    if (err) {
        return err;
    }
    if (name == NULL || resultlen == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn, "name or resultlen is NULL");
    }
    size_t len = strnlen(sf_mpi__st.host, MPI_MAX_PROCESSOR_NAME - 1);
    memcpy(name, sf_mpi__st.host, len);
    name[len] = '\0';
    *resultlen = (int)len;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Get_processor_name);

int PMPI_Get_version(int *version, int *subversion)
{
    SF_MPI_NOLOCK();
    if (version == NULL || subversion == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, "MPI_Get_version", "NULL argument");
    }
    *version = MPI_VERSION;
    *subversion = MPI_SUBVERSION;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Get_version);

int PMPI_Get_library_version(char *version, int *resultlen)
{
    SF_MPI_NOLOCK();
    static const char v[] = "Starfish " PACKAGE_VERSION " (Open MPI 4.1 ABI)";
    if (version == NULL || resultlen == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, "MPI_Get_library_version",
                             "NULL argument");
    }
    memcpy(version, v, sizeof(v));
    *resultlen = (int)sizeof(v) - 1;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Get_library_version);

double PMPI_Wtime(void)
{
    SF_MPI_NOLOCK();
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
SF_MPI_ALIAS(Wtime);

double PMPI_Wtick(void)
{
    SF_MPI_NOLOCK();
    struct timespec ts;
    if (clock_getres(CLOCK_MONOTONIC, &ts) != 0) {
        return 1e-9;
    }
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
SF_MPI_ALIAS(Wtick);
