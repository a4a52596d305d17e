/* Reduction kernels for the predefined MPI operations over the predefined
 * basic types, independent of MPI handles: the MPI layer maps a datatype
 * to an sf_type and an MPI_Op to an sf_op_kind. No state; any thread. */
#ifndef SF_OP_H
#define SF_OP_H

#include <stddef.h>

/* Basic element types (C and the fixed-size / Fortran-compatible ones). */
enum sf_type {
    SF_T_NONE = 0,
    SF_T_CHAR, SF_T_SIGNED_CHAR, SF_T_UNSIGNED_CHAR, SF_T_BYTE,
    SF_T_SHORT, SF_T_UNSIGNED_SHORT, SF_T_INT, SF_T_UNSIGNED,
    SF_T_LONG, SF_T_UNSIGNED_LONG, SF_T_LONG_LONG, SF_T_UNSIGNED_LONG_LONG,
    SF_T_FLOAT, SF_T_DOUBLE, SF_T_LONG_DOUBLE, SF_T_WCHAR,
    SF_T_C_BOOL, SF_T_INT8, SF_T_INT16, SF_T_INT32, SF_T_INT64,
    SF_T_UINT8, SF_T_UINT16, SF_T_UINT32, SF_T_UINT64,
    SF_T_AINT, SF_T_OFFSET, SF_T_COUNT,
    SF_T_C_FLOAT_COMPLEX, SF_T_C_DOUBLE_COMPLEX, SF_T_C_LONG_DOUBLE_COMPLEX,
    /* pair types for MAXLOC/MINLOC: value then int index */
    SF_T_FLOAT_INT, SF_T_DOUBLE_INT, SF_T_LONG_INT, SF_T_2INT, SF_T_SHORT_INT,
    SF_T_LONG_DOUBLE_INT,
    SF_T_PACKED,
    SF_T_LAST
};

enum sf_op_kind {
    SF_OP_NULL = 0,
    SF_OP_MAX, SF_OP_MIN, SF_OP_SUM, SF_OP_PROD,
    SF_OP_LAND, SF_OP_BAND, SF_OP_LOR, SF_OP_BOR, SF_OP_LXOR, SF_OP_BXOR,
    SF_OP_MAXLOC, SF_OP_MINLOC, SF_OP_REPLACE, SF_OP_NO_OP,
    SF_OP_LAST
};

/* Size in bytes of one element of t (0 for SF_T_NONE). */
size_t sf_type_size(enum sf_type t);
/* Is op defined for t by the MPI standard? */
int sf_op_valid(enum sf_op_kind op, enum sf_type t);
/* inout[i] = in[i] op inout[i] for count elements. 0, or -EINVAL when the
 * op is not defined for the type. Buffers may be unaligned. */
int sf_op_apply(enum sf_op_kind op, enum sf_type t, const void *in, void *inout, size_t count);

#endif
