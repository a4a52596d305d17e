/* Datatypes: sizes, extents and names of the predefined types, packing of
 * types with holes, element counts from statuses, and the contiguous
 * constructor. Other derived-type constructors come with the datatype
 * issue and are reported as unsupported until then. Caller's thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpi-shim/shim_int.h"

void sf_mpi__pack(MPI_Datatype t, int count, const void *ubuf, void *packed)
{
    const struct ompi_datatype_t *e = t->elem;
    size_t n = (size_t)count * t->n;
    const char *s = ubuf;
    char *d = packed;
    for (size_t i = 0; i < n; i++, s += e->extent) {
        memcpy(d, s, e->part0);
        d += e->part0;
        if (e->part1) {
            memcpy(d, s + e->off1, e->part1);
            d += e->part1;
        }
    }
}

void sf_mpi__unpack(MPI_Datatype t, int count, const void *packed, size_t bytes, void *ubuf)
{
    const struct ompi_datatype_t *e = t->elem;
    size_t n = (size_t)count * t->n;
    const char *s = packed;
    char *d = ubuf;
    for (size_t i = 0; i < n && bytes > 0; i++, d += e->extent) {
        size_t k = e->part0 < bytes ? e->part0 : bytes;
        memcpy(d, s, k);
        s += k;
        bytes -= k;
        if (e->part1 && bytes > 0) {
            k = e->part1 < bytes ? e->part1 : bytes;
            memcpy(d + e->off1, s, k);
            s += k;
            bytes -= k;
        }
    }
}

static int chk_type_arg(const char *fn, MPI_Datatype type)
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

#define SF_NULLARG(fn, p)                                                        \
    do {                                                                         \
        if ((p) == NULL) {                                                       \
            return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn, #p " is NULL"); \
        }                                                                        \
    } while (0)

int PMPI_Type_size(MPI_Datatype datatype, int *size)
{
    static const char fn[] = "MPI_Type_size";
    int err = chk_type_arg(fn, datatype);
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
    static const char fn[] = "MPI_Type_size_x";
    int err = chk_type_arg(fn, datatype);
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
    static const char fn[] = "MPI_Type_get_extent";
    int err = chk_type_arg(fn, datatype);
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
    static const char fn[] = "MPI_Type_get_extent_x";
    int err = chk_type_arg(fn, datatype);
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

/* The true extent spans the data only: for a pair type the trailing
 * padding after the index is not part of it. */
static MPI_Aint true_extent(MPI_Datatype t)
{
    const struct ompi_datatype_t *e = t->elem;
    if (t->n == 0 || t->size == 0) {
        return 0;
    }
    MPI_Aint last = e->part1 ? (MPI_Aint)(e->off1 + e->part1) : (MPI_Aint)e->part0;
    return (MPI_Aint)(t->n - 1) * e->extent + last;
}

int PMPI_Type_get_true_extent(MPI_Datatype datatype, MPI_Aint *true_lb, MPI_Aint *true_extent_)
{
    static const char fn[] = "MPI_Type_get_true_extent";
    int err = chk_type_arg(fn, datatype);
    if (err) {
        return err;
    }
    SF_NULLARG(fn, true_lb);
    SF_NULLARG(fn, true_extent_);
    *true_lb = datatype->lb;
    *true_extent_ = true_extent(datatype);
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Type_get_true_extent);

int PMPI_Type_get_true_extent_x(MPI_Datatype datatype, MPI_Count *true_lb, MPI_Count *true_extent_)
{
    static const char fn[] = "MPI_Type_get_true_extent_x";
    int err = chk_type_arg(fn, datatype);
    if (err) {
        return err;
    }
    SF_NULLARG(fn, true_lb);
    SF_NULLARG(fn, true_extent_);
    *true_lb = datatype->lb;
    *true_extent_ = true_extent(datatype);
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Type_get_true_extent_x);

int PMPI_Type_get_name(MPI_Datatype datatype, char *type_name, int *resultlen)
{
    static const char fn[] = "MPI_Type_get_name";
    int err = chk_type_arg(fn, datatype);
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
    static const char fn[] = "MPI_Type_set_name";
    int err = chk_type_arg(fn, datatype);
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

int PMPI_Type_commit(MPI_Datatype *datatype)
{
    static const char fn[] = "MPI_Type_commit";
    SF_NULLARG(fn, datatype);
    int err = chk_type_arg(fn, *datatype);
    if (err) {
        return err;
    }
    /* Predefined types are committed already; committing again is harmless. */
    (*datatype)->committed = true;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Type_commit);

void sf_mpi__type_release(MPI_Datatype t)
{
    if (!t->predefined && --t->refcount == 0) {
        t->magic = SF_MPI_MAGIC_DEAD;
        free(t);
    }
}

int PMPI_Type_free(MPI_Datatype *datatype)
{
    static const char fn[] = "MPI_Type_free";
    SF_NULLARG(fn, datatype);
    int err = chk_type_arg(fn, *datatype);
    if (err) {
        return err;
    }
    if ((*datatype)->predefined) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_TYPE, fn,
                             "cannot free predefined datatype %s", (*datatype)->name);
    }
    /* Pending operations hold their own references. */
    sf_mpi__type_release(*datatype);
    *datatype = MPI_DATATYPE_NULL;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Type_free);

static int new_contig(const char *fn, size_t count, MPI_Datatype old, int combiner,
                      MPI_Datatype *out)
{
    struct ompi_datatype_t *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_NO_MEM, fn, "out of memory");
    }
    t->magic = SF_MPI_MAGIC_TYPE;
    t->basic = old->basic;
    t->size = count * old->size;
    t->lb = 0;
    t->extent = (MPI_Aint)count * old->extent;
    t->n = count * old->n;
    t->elem = old->elem;
    t->combiner = combiner;
    t->refcount = 1;
    *out = t;
    return MPI_SUCCESS;
}

int PMPI_Type_contiguous(int count, MPI_Datatype oldtype, MPI_Datatype *newtype)
{
    static const char fn[] = "MPI_Type_contiguous";
    int err = chk_type_arg(fn, oldtype);
    if (err) {
        return err;
    }
    SF_NULLARG(fn, newtype);
    if (count < 0) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_COUNT, fn, "negative count %d", count);
    }
    if (oldtype == MPI_LB || oldtype == MPI_UB) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_TYPE, fn, "MPI_LB/MPI_UB are not supported");
    }
    return new_contig(fn, (size_t)count, oldtype, MPI_COMBINER_CONTIGUOUS, newtype);
}
SF_MPI_ALIAS(Type_contiguous);

int PMPI_Type_dup(MPI_Datatype oldtype, MPI_Datatype *newtype)
{
    static const char fn[] = "MPI_Type_dup";
    int err = chk_type_arg(fn, oldtype);
    if (err) {
        return err;
    }
    SF_NULLARG(fn, newtype);
    err = new_contig(fn, 1, oldtype, MPI_COMBINER_DUP, newtype);
    if (!err) {
        (*newtype)->committed = oldtype->committed;
    }
    return err;
}
SF_MPI_ALIAS(Type_dup);

/* ---- element counts ---- */

/* Basic elements in 'bytes' of packed data of type t; -1 when 'bytes'
 * ends inside a basic element. */
static MPI_Count elements_of(MPI_Datatype t, size_t bytes)
{
    const struct ompi_datatype_t *e = t->elem;
    size_t esz = e->part0 + e->part1;
    if (esz == 0) {
        return 0;
    }
    size_t full = bytes / esz, rem = bytes % esz;
    MPI_Count n = (MPI_Count)(full * (e->part1 ? 2 : 1));
    if (rem == 0) {
        return n;
    }
    if (e->part1 && rem == e->part0) {
        return n + 1;
    }
    return -1;
}

int PMPI_Get_count(const MPI_Status *status, MPI_Datatype datatype, int *count)
{
    static const char fn[] = "MPI_Get_count";
    SF_NULLARG(fn, status);
    SF_NULLARG(fn, count);
    int err = chk_type_arg(fn, datatype);
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
    static const char fn[] = "MPI_Get_elements_x";
    SF_NULLARG(fn, status);
    SF_NULLARG(fn, count);
    int err = chk_type_arg(fn, datatype);
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
    static const char fn[] = "MPI_Status_set_elements_x";
    SF_NULLARG(fn, status);
    int err = chk_type_arg(fn, datatype);
    if (err) {
        return err;
    }
    if (count < 0) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_COUNT, fn, "negative count %lld", count);
    }
    const struct ompi_datatype_t *e = datatype->elem;
    size_t per = e->part1 ? 2 : 1;
    status->_ucount = (size_t)count / per * (e->part0 + e->part1) +
                      ((size_t)count % per ? e->part0 : 0);
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Status_set_elements_x);

int PMPI_Status_set_elements(MPI_Status *status, MPI_Datatype datatype, int count)
{
    return PMPI_Status_set_elements_x(status, datatype, count);
}
SF_MPI_ALIAS(Status_set_elements);

int PMPI_Status_set_cancelled(MPI_Status *status, int flag)
{
    SF_NULLARG("MPI_Status_set_cancelled", status);
    status->_cancelled = flag != 0;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Status_set_cancelled);

int PMPI_Test_cancelled(const MPI_Status *status, int *flag)
{
    SF_NULLARG("MPI_Test_cancelled", status);
    SF_NULLARG("MPI_Test_cancelled", flag);
    *flag = status->_cancelled != 0;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Test_cancelled);

int PMPI_Type_get_envelope(MPI_Datatype datatype, int *num_integers, int *num_addresses,
                           int *num_datatypes, int *combiner)
{
    static const char fn[] = "MPI_Type_get_envelope";
    int err = chk_type_arg(fn, datatype);
    if (err) {
        return err;
    }
    SF_NULLARG(fn, num_integers);
    SF_NULLARG(fn, num_addresses);
    SF_NULLARG(fn, num_datatypes);
    SF_NULLARG(fn, combiner);
    *combiner = datatype->combiner;
    *num_addresses = 0;
    *num_integers = datatype->combiner == MPI_COMBINER_CONTIGUOUS ? 1 : 0;
    *num_datatypes = datatype->combiner == MPI_COMBINER_NAMED ? 0 : 1;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Type_get_envelope);
