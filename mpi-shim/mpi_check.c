/* Parameter checks shared by the bindings. Each returns 0 or raises the
 * error through the right handler (and returns its class when the handler
 * returns), with a message naming the value and what was expected. Runs on
 * the calling thread. */
#include "mpi-shim/shim_int.h"

bool sf_mpi__comm_ok(MPI_Comm comm)
{
    return comm != NULL && comm->magic == SF_MPI_MAGIC_COMM;
}

bool sf_mpi__type_ok(MPI_Datatype type)
{
    return type != NULL && type->magic == SF_MPI_MAGIC_TYPE && !type->is_null;
}

int sf_mpi__chk_init(const char *fn)
{
    if (sf_mpi__st.state == SF_MPI_ST_INIT) {
        return 0;
    }
    return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_OTHER, fn, "called %s MPI_Init",
                         sf_mpi__st.state == SF_MPI_ST_NONE ? "before" : "after MPI_Finalize, not");
}

int sf_mpi__chk_comm(const char *fn, MPI_Comm comm)
{
    if (!sf_mpi__comm_ok(comm)) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_COMM, fn, "invalid communicator %p",
                             (void *)comm);
    }
    if (comm->is_null) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_COMM, fn, "communicator is MPI_COMM_NULL");
    }
    return 0;
}

int sf_mpi__chk_type(const char *fn, MPI_Comm comm, MPI_Datatype type)
{
    if (!sf_mpi__type_ok(type)) {
        return sf_mpi__raise(comm, MPI_ERR_TYPE, fn, "invalid datatype%s",
                             type != NULL && type->magic == SF_MPI_MAGIC_TYPE
                                 ? " (MPI_DATATYPE_NULL)" : "");
    }
    if (!type->committed) {
        return sf_mpi__raise(comm, MPI_ERR_TYPE, fn, "datatype %s is not committed",
                             type->name[0] ? type->name : "(unnamed)");
    }
    return 0;
}

int sf_mpi__chk_type_handle(const char *fn, MPI_Datatype type)
{
    int err = sf_mpi__chk_init(fn);
    if (err) {
        return err;
    }
    if (!sf_mpi__type_ok(type)) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_TYPE, fn, "invalid datatype");
    }
    return 0;
}

int sf_mpi__chk_buf(const char *fn, MPI_Comm comm, const void *buf, int count, MPI_Datatype type)
{
    if (count < 0) {
        return sf_mpi__raise(comm, MPI_ERR_COUNT, fn, "negative count %d", count);
    }
    int err = sf_mpi__chk_type(fn, comm, type);
    if (err) {
        return err;
    }
    /* MPI_BOTTOM (NULL) is a valid base address only with absolute
     * datatypes (data at addresses away from 0, e.g. struct types with
     * displacements from MPI_Get_address): refuse NULL otherwise. */
    if (buf == NULL && count > 0 && type->size > 0 && type->true_lb == 0) {
        return sf_mpi__raise(comm, MPI_ERR_BUFFER, fn, "NULL buffer with count %d", count);
    }
    return 0;
}

int sf_mpi__chk_dest(const char *fn, MPI_Comm comm, int dest)
{
    if (dest == MPI_PROC_NULL || (dest >= 0 && dest < comm->size)) {
        return 0;
    }
    return sf_mpi__raise(comm, MPI_ERR_RANK, fn, "invalid rank %d (size %d) on communicator %s",
                         dest, comm->size, sf_mpi__comm_name(comm));
}

int sf_mpi__chk_src(const char *fn, MPI_Comm comm, int src)
{
    if (src == MPI_ANY_SOURCE) {
        return 0;
    }
    return sf_mpi__chk_dest(fn, comm, src);
}

int sf_mpi__chk_root(const char *fn, MPI_Comm comm, int root)
{
    if (root >= 0 && root < comm->size) {
        return 0;
    }
    return sf_mpi__raise(comm, MPI_ERR_ROOT, fn, "invalid root %d (size %d) on communicator %s",
                         root, comm->size, sf_mpi__comm_name(comm));
}

int sf_mpi__chk_tag(const char *fn, MPI_Comm comm, int tag, bool any_ok)
{
    if (tag >= 0 || (any_ok && tag == MPI_ANY_TAG)) {
        return 0; /* MPI_TAG_UB is INT_MAX: every non-negative int is valid */
    }
    return sf_mpi__raise(comm, MPI_ERR_TAG, fn, "invalid tag %d on communicator %s", tag,
                         sf_mpi__comm_name(comm));
}
