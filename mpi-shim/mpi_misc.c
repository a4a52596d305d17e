/* Small environment bindings: addresses, MPI_Alloc_mem/Free_mem, the
 * profiling control hook, the (absent) parent communicator, type matching
 * by size and Fortran status conversion. Caller's thread. */
#include <stdlib.h>
#include <string.h>

#include "mpi-shim/shim_int.h"

int PMPI_Get_address(const void *location, MPI_Aint *address)
{
    SF_MPI_ENTER();
    if (address == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, "MPI_Get_address", "address is NULL");
    }
    *address = (MPI_Aint)(uintptr_t)location;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Get_address);

int PMPI_Alloc_mem(MPI_Aint size, MPI_Info info, void *baseptr)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Alloc_mem";
    int err = sf_mpi__chk_init(fn);
    if (err) {
        return err;
    }
    if (size < 0 || baseptr == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn, "invalid size %ld or NULL baseptr",
                             (long)size);
    }
    /* No registered/special memory yet: plain, cache-line aligned. */
    void *p = NULL;
    if (posix_memalign(&p, 64, size > 0 ? (size_t)size : 1) != 0) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_NO_MEM, fn, "cannot allocate %ld bytes",
                             (long)size);
    }
    *(void **)baseptr = p;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Alloc_mem);

int PMPI_Free_mem(void *base)
{
    SF_MPI_ENTER();
    int err = sf_mpi__chk_init("MPI_Free_mem");
    if (err) {
        return err;
    }
    free(base);
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Free_mem);

int PMPI_Pcontrol(const int level, ...)
{
    SF_MPI_ENTER();
    /* Meaningful only to profiling tools interposing MPI_Pcontrol. */
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Pcontrol);

int PMPI_Comm_get_parent(MPI_Comm *parent)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Comm_get_parent";
    int err = sf_mpi__chk_init(fn);
    if (err) {
        return err;
    }
    if (parent == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn, "parent is NULL");
    }
    *parent = MPI_COMM_NULL; /* no dynamic process creation: never spawned */
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Comm_get_parent);

int PMPI_Type_match_size(int typeclass, int size, MPI_Datatype *datatype)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Type_match_size";
    if (datatype == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn, "datatype is NULL");
    }
    MPI_Datatype t = MPI_DATATYPE_NULL;
    switch (typeclass) {
    case MPI_TYPECLASS_INTEGER:
        t = size == 1 ? MPI_INTEGER1 : size == 2 ? MPI_INTEGER2 : size == 4 ? MPI_INTEGER4
          : size == 8 ? MPI_INTEGER8 : MPI_DATATYPE_NULL;
        break;
    case MPI_TYPECLASS_REAL:
        t = size == 4 ? MPI_REAL4 : size == 8 ? MPI_REAL8 : size == 16 ? MPI_REAL16
                                                                       : MPI_DATATYPE_NULL;
        break;
    case MPI_TYPECLASS_COMPLEX:
        t = size == 8 ? MPI_COMPLEX8 : size == 16 ? MPI_COMPLEX16 : size == 32 ? MPI_COMPLEX32
                                                                              : MPI_DATATYPE_NULL;
        break;
    default:
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn, "invalid type class %d", typeclass);
    }
    if (t == MPI_DATATYPE_NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn,
                             "no type of class %d has size %d", typeclass, size);
    }
    *datatype = t;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Type_match_size);

/* A Fortran status is the C status' memory image: 6 INTEGERs (the three
 * public fields, the cancelled flag and the 8-byte count). */
_Static_assert(sizeof(MPI_Status) == 6 * sizeof(MPI_Fint), "Fortran status size");

int PMPI_Status_c2f(const MPI_Status *c_status, MPI_Fint *f_status)
{
    SF_MPI_ENTER();
    if (c_status == NULL || f_status == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, "MPI_Status_c2f", "NULL status");
    }
    memcpy(f_status, c_status, sizeof(*c_status));
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Status_c2f);

int PMPI_Status_f2c(const MPI_Fint *f_status, MPI_Status *c_status)
{
    SF_MPI_ENTER();
    if (c_status == NULL || f_status == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, "MPI_Status_f2c", "NULL status");
    }
    memcpy(c_status, f_status, sizeof(*c_status));
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Status_f2c);
