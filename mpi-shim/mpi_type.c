/* Datatype queries: sizes, extents, true extents, names, and counts of
 * items and basic elements from statuses (partial elements included).
 * Construction is in dt_build.c, packing in dt_pack.c. Caller's thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpi-shim/shim_int.h"

int PMPI_Type_size(MPI_Datatype datatype, int *size)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Type_size";
    int err = sf_mpi__chk_type_handle(fn, datatype);
    if (err) {
        return err;
    }
    SF_NULLARG(fn, size);
    *size = datatype->size > (size_t)INT32_MAX ? MPI_UNDEFINED : (int)datatype->size;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Type_size);

int PMPI_Type_size_x(MPI_Datatype datatype, MPI_Count *size)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Type_size_x";
    int err = sf_mpi__chk_type_handle(fn, datatype);
    if (err) {
        return err;
    }
    SF_NULLARG(fn, size);
    *size = (MPI_Count)datatype->size;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Type_size_x);

int PMPI_Type_get_extent(MPI_Datatype datatype, MPI_Aint *lb, MPI_Aint *extent)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Type_get_extent";
    int err = sf_mpi__chk_type_handle(fn, datatype);
    if (err) {
        return err;
    }
    SF_NULLARG(fn, lb);
    SF_NULLARG(fn, extent);
    *lb = datatype->lb;
    *extent = datatype->extent;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Type_get_extent);

int PMPI_Type_get_extent_x(MPI_Datatype datatype, MPI_Count *lb, MPI_Count *extent)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Type_get_extent_x";
    int err = sf_mpi__chk_type_handle(fn, datatype);
    if (err) {
        return err;
    }
    SF_NULLARG(fn, lb);
    SF_NULLARG(fn, extent);
    *lb = datatype->lb;
    *extent = datatype->extent;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Type_get_extent_x);

int PMPI_Type_get_true_extent(MPI_Datatype datatype, MPI_Aint *true_lb, MPI_Aint *true_extent_)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Type_get_true_extent";
    int err = sf_mpi__chk_type_handle(fn, datatype);
    if (err) {
        return err;
    }
    SF_NULLARG(fn, true_lb);
    SF_NULLARG(fn, true_extent_);
    *true_lb = datatype->true_lb;
    *true_extent_ = datatype->true_extent;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Type_get_true_extent);

int PMPI_Type_get_true_extent_x(MPI_Datatype datatype, MPI_Count *true_lb, MPI_Count *true_extent_)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Type_get_true_extent_x";
    int err = sf_mpi__chk_type_handle(fn, datatype);
    if (err) {
        return err;
    }
    SF_NULLARG(fn, true_lb);
    SF_NULLARG(fn, true_extent_);
    *true_lb = datatype->true_lb;
    *true_extent_ = datatype->true_extent;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Type_get_true_extent_x);

int PMPI_Type_get_name(MPI_Datatype datatype, char *type_name, int *resultlen)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Type_get_name";
    int err = sf_mpi__chk_type_handle(fn, datatype);
    if (err) {
        return err;
    }
    SF_NULLARG(fn, type_name);
    SF_NULLARG(fn, resultlen);
    size_t len = strnlen(datatype->name, MPI_MAX_OBJECT_NAME - 1);
    memcpy(type_name, datatype->name, len);
    type_name[len] = '\0';
    *resultlen = (int)len;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Type_get_name);

int PMPI_Type_set_name(MPI_Datatype datatype, const char *type_name)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Type_set_name";
    int err = sf_mpi__chk_type_handle(fn, datatype);
    if (err) {
        return err;
    }
    SF_NULLARG(fn, type_name);
    if (datatype->predefined) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_TYPE, fn,
                             "cannot rename predefined datatype %s", datatype->name);
    }
    snprintf(datatype->name, sizeof(datatype->name), "%s", type_name);
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Type_set_name);

/* ---- element counts ---- */

/* Basic elements of a predefined element (pairs count as two). */
static MPI_Count elem_parts(MPI_Datatype e)
{
    return e->part1 ? 2 : 1;
}

/* Basic elements in 'bytes' of packed data of type t; -1 when 'bytes'
 * ends inside a basic element. */
static MPI_Count elements_of(MPI_Datatype t, size_t bytes)
{
    if (t->size == 0) {
        return 0;
    }
    MPI_Count per = 0;
    for (size_t i = 0; i < t->nsig; i++) {
        per += (MPI_Count)t->sig[i].n * elem_parts(t->sig[i].t);
    }
    /* whole instances, then whole signature copies, then run by run */
    size_t copy = t->size / t->rep;
    MPI_Count n = (MPI_Count)(bytes / t->size) * per * (MPI_Count)t->rep;
    size_t rem = bytes % t->size;
    n += (MPI_Count)(rem / copy) * per;
    rem %= copy;
    for (size_t i = 0; i < t->nsig && rem > 0; i++) {
        MPI_Datatype e = t->sig[i].t;
        size_t k = rem / e->size;
        if (k >= t->sig[i].n) {
            k = t->sig[i].n;
        }
        n += (MPI_Count)k * elem_parts(e);
        rem -= k * e->size;
        if (k < t->sig[i].n && rem > 0) {
            if (e->part1 && rem == e->part0) {
                return n + 1;
            }
            return -1;
        }
    }
    return n;
}

/* Bytes of packed data holding the first 'count' basic elements of
 * instances of t, repeated as needed. */
static size_t bytes_of(MPI_Datatype t, size_t count)
{
    size_t per = 0; /* elements of one signature copy */
    for (size_t i = 0; i < t->nsig; i++) {
        per += t->sig[i].n * (size_t)elem_parts(t->sig[i].t);
    }
    if (per == 0) {
        return 0;
    }
    size_t bytes = count / per * (t->size / t->rep), rem = count % per;
    for (size_t i = 0; i < t->nsig && rem > 0; i++) {
        MPI_Datatype e = t->sig[i].t;
        size_t parts = (size_t)elem_parts(e), k = rem / parts;
        if (k >= t->sig[i].n) {
            k = t->sig[i].n;
        }
        bytes += k * e->size;
        rem -= k * parts;
        if (k < t->sig[i].n && rem > 0) {
            bytes += e->part0; /* the value half of a pair */
            rem = 0;
        }
    }
    return bytes;
}

int PMPI_Get_count(const MPI_Status *status, MPI_Datatype datatype, int *count)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Get_count";
    SF_NULLARG(fn, status);
    SF_NULLARG(fn, count);
    int err = sf_mpi__chk_type_handle(fn, datatype);
    if (err) {
        return err;
    }
    size_t bytes = status->_ucount;
    if (datatype->size == 0) {
        *count = 0; /* any number of empty items fit; the standard's answer is 0 */
    } else if (bytes % datatype->size != 0 || bytes / datatype->size > (size_t)INT32_MAX) {
        *count = MPI_UNDEFINED;
    } else {
        *count = (int)(bytes / datatype->size);
    }
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Get_count);

int PMPI_Get_elements_x(const MPI_Status *status, MPI_Datatype datatype, MPI_Count *count)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Get_elements_x";
    SF_NULLARG(fn, status);
    SF_NULLARG(fn, count);
    int err = sf_mpi__chk_type_handle(fn, datatype);
    if (err) {
        return err;
    }
    MPI_Count n = elements_of(datatype, status->_ucount);
    *count = n < 0 ? MPI_UNDEFINED : n;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Get_elements_x);

int PMPI_Get_elements(const MPI_Status *status, MPI_Datatype datatype, int *count)
{
    SF_MPI_ENTER();
    MPI_Count n;
    int err = PMPI_Get_elements_x(status, datatype, &n);
    if (err) {
        return err;
    }
    *count = n > INT32_MAX ? MPI_UNDEFINED : (int)n;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Get_elements);

int PMPI_Status_set_elements_x(MPI_Status *status, MPI_Datatype datatype, MPI_Count count)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Status_set_elements_x";
    SF_NULLARG(fn, status);
    int err = sf_mpi__chk_type_handle(fn, datatype);
    if (err) {
        return err;
    }
    if (count < 0) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_COUNT, fn, "negative count %lld", count);
    }
    status->_ucount = bytes_of(datatype, (size_t)count);
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Status_set_elements_x);

int PMPI_Status_set_elements(MPI_Status *status, MPI_Datatype datatype, int count)
{
    SF_MPI_ENTER();
    return PMPI_Status_set_elements_x(status, datatype, count);
}
SF_MPI_ALIAS(Status_set_elements);

int PMPI_Status_set_cancelled(MPI_Status *status, int flag)
{
    SF_MPI_ENTER();
    SF_NULLARG("MPI_Status_set_cancelled", status);
    status->_cancelled = flag != 0;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Status_set_cancelled);

int PMPI_Test_cancelled(const MPI_Status *status, int *flag)
{
    SF_MPI_ENTER();
    SF_NULLARG("MPI_Test_cancelled", status);
    SF_NULLARG("MPI_Test_cancelled", flag);
    *flag = status->_cancelled != 0;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Test_cancelled);
