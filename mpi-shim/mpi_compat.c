/* MPI-1 bindings removed in MPI-3.0 (MPI_Address, MPI_Errhandler_create/
 * get/set, MPI_Type_extent/lb/ub/hindexed/hvector/struct): Open MPI 4.1's
 * libmpi.so.40 still exports them, and old codes and test suites call
 * them, so each forwards to its MPI-2 replacement. Caller's thread. */
#include "mpi-shim/shim_int.h"

int PMPI_Address(void *location, MPI_Aint *address)
{
    SF_MPI_ENTER();
    return PMPI_Get_address(location, address);
}
SF_MPI_ALIAS(Address);

int PMPI_Errhandler_create(MPI_Handler_function *function, MPI_Errhandler *errhandler)
{
    SF_MPI_ENTER();
    return PMPI_Comm_create_errhandler(function, errhandler);
}
SF_MPI_ALIAS(Errhandler_create);

int PMPI_Errhandler_get(MPI_Comm comm, MPI_Errhandler *errhandler)
{
    SF_MPI_ENTER();
    return PMPI_Comm_get_errhandler(comm, errhandler);
}
SF_MPI_ALIAS(Errhandler_get);

int PMPI_Errhandler_set(MPI_Comm comm, MPI_Errhandler errhandler)
{
    SF_MPI_ENTER();
    return PMPI_Comm_set_errhandler(comm, errhandler);
}
SF_MPI_ALIAS(Errhandler_set);

int PMPI_Type_extent(MPI_Datatype type, MPI_Aint *extent)
{
    SF_MPI_ENTER();
    MPI_Aint lb;
    return PMPI_Type_get_extent(type, &lb, extent);
}
SF_MPI_ALIAS(Type_extent);

int PMPI_Type_lb(MPI_Datatype type, MPI_Aint *lb)
{
    SF_MPI_ENTER();
    MPI_Aint extent;
    return PMPI_Type_get_extent(type, lb, &extent);
}
SF_MPI_ALIAS(Type_lb);

int PMPI_Type_ub(MPI_Datatype type, MPI_Aint *ub)
{
    SF_MPI_ENTER();
    MPI_Aint lb, extent;
    int err = PMPI_Type_get_extent(type, &lb, &extent);
    if (err == MPI_SUCCESS && ub != NULL) {
        *ub = lb + extent;
    }
    return err;
}
SF_MPI_ALIAS(Type_ub);

int PMPI_Type_hindexed(int count, int array_of_blocklengths[], MPI_Aint array_of_displacements[],
                       MPI_Datatype oldtype, MPI_Datatype *newtype)
{
    SF_MPI_ENTER();
    return PMPI_Type_create_hindexed(count, array_of_blocklengths, array_of_displacements, oldtype,
                                     newtype);
}
SF_MPI_ALIAS(Type_hindexed);

int PMPI_Type_hvector(int count, int blocklength, MPI_Aint stride, MPI_Datatype oldtype,
                      MPI_Datatype *newtype)
{
    SF_MPI_ENTER();
    return PMPI_Type_create_hvector(count, blocklength, stride, oldtype, newtype);
}
SF_MPI_ALIAS(Type_hvector);

int PMPI_Type_struct(int count, int array_of_blocklengths[], MPI_Aint array_of_displacements[],
                     MPI_Datatype array_of_types[], MPI_Datatype *newtype)
{
    SF_MPI_ENTER();
    return PMPI_Type_create_struct(count, array_of_blocklengths, array_of_displacements,
                                   array_of_types, newtype);
}
SF_MPI_ALIAS(Type_struct);
