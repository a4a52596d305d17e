/* Reduction kernels: one plain loop per (op, basic type) that the compiler
 * vectorises, selected through a table; misaligned buffers go through
 * aligned bounce buffers. Knows no MPI handles and keeps no state; any
 * thread. User-defined ops are the MPI layer's business, not this file's. */
#include "mpi-shim/sf_op.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <wchar.h>

typedef void (*op_kern)(const void *restrict in, void *restrict inout, size_t n);

/* One loop over n elements of T; EXPR sees a[i] (in) and b[i] (inout). */
#define K_LOOP(name, T, EXPR)                                                                      \
    static void name(const void *restrict vin, void *restrict vio, size_t n)                       \
    {                                                                                              \
        const T *restrict a = vin;                                                                 \
        T *restrict b = vio;                                                                       \
        for (size_t i = 0; i < n; i++) {                                                           \
            EXPR;                                                                                  \
        }                                                                                          \
    }

/* Integer sums and products are computed in an unsigned type at least as
 * wide as int: signed overflow would be undefined, and MPI programs expect
 * the usual two's-complement wrap-around. */
#define K_INT(tag, T, U)                                                                           \
    K_LOOP(k_max_##tag, T, b[i] = a[i] > b[i] ? a[i] : b[i])                                       \
    K_LOOP(k_min_##tag, T, b[i] = a[i] < b[i] ? a[i] : b[i])                                       \
    K_LOOP(k_sum_##tag, T, b[i] = (T)((U)a[i] + (U)b[i]))                                          \
    K_LOOP(k_prod_##tag, T, b[i] = (T)((U)a[i] * (U)b[i]))                                         \
    K_LOOP(k_land_##tag, T, b[i] = (T)(a[i] && b[i]))                                              \
    K_LOOP(k_lor_##tag, T, b[i] = (T)(a[i] || b[i]))                                               \
    K_LOOP(k_lxor_##tag, T, b[i] = (T)(!a[i] != !b[i]))                                            \
    K_LOOP(k_band_##tag, T, b[i] = (T)(a[i] & b[i]))                                               \
    K_LOOP(k_bor_##tag, T, b[i] = (T)(a[i] | b[i]))                                                \
    K_LOOP(k_bxor_##tag, T, b[i] = (T)(a[i] ^ b[i]))

#define K_FLT(tag, T)                                                                              \
    K_LOOP(k_max_##tag, T, b[i] = a[i] > b[i] ? a[i] : b[i])                                       \
    K_LOOP(k_min_##tag, T, b[i] = a[i] < b[i] ? a[i] : b[i])                                       \
    K_LOOP(k_sum_##tag, T, b[i] = a[i] + b[i])                                                     \
    K_LOOP(k_prod_##tag, T, b[i] = a[i] * b[i])

#define K_CPLX(tag, T)                                                                             \
    K_LOOP(k_sum_##tag, T, b[i] = a[i] + b[i])                                                     \
    K_LOOP(k_prod_##tag, T, b[i] = a[i] * b[i])

/* MAXLOC/MINLOC: MPI's rule is that equal values keep the lower index. */
#define K_LOC(tag, VT)                                                                             \
    struct pair_##tag {                                                                            \
        VT v;                                                                                      \
        int i;                                                                                     \
    };                                                                                             \
    K_LOOP(                                                                                        \
        k_maxloc_##tag, struct pair_##tag,                                                         \
        if (a[i].v > b[i].v) { b[i] = a[i]; } else if (a[i].v == b[i].v && a[i].i < b[i].i) {      \
            b[i].i = a[i].i;                                                                       \
        })                                                                                         \
    K_LOOP(                                                                                        \
        k_minloc_##tag, struct pair_##tag,                                                         \
        if (a[i].v < b[i].v) { b[i] = a[i]; } else if (a[i].v == b[i].v && a[i].i < b[i].i) {      \
            b[i].i = a[i].i;                                                                       \
        })

/* C integer types (MPI-3.1 5.9.2), plus the multi-language MPI_AINT,
 * MPI_OFFSET and MPI_COUNT, which take the same operations. */
K_INT(schar, signed char, unsigned)
K_INT(uchar, unsigned char, unsigned)
K_INT(short, short, unsigned)
K_INT(ushort, unsigned short, unsigned)
K_INT(int, int, unsigned)
K_INT(uint, unsigned, unsigned)
K_INT(long, long, unsigned long)
K_INT(ulong, unsigned long, unsigned long)
K_INT(llong, long long, unsigned long long)
K_INT(ullong, unsigned long long, unsigned long long)
K_INT(i8, int8_t, unsigned)
K_INT(i16, int16_t, unsigned)
K_INT(i32, int32_t, uint32_t)
K_INT(i64, int64_t, uint64_t)
K_INT(u8, uint8_t, unsigned)
K_INT(u16, uint16_t, unsigned)
K_INT(u32, uint32_t, uint32_t)
K_INT(u64, uint64_t, uint64_t)
K_INT(aint, intptr_t, uintptr_t)

K_FLT(float, float)
K_FLT(double, double)
K_FLT(ldouble, long double)

K_CPLX(cfloat, float _Complex)
K_CPLX(cdouble, double _Complex)
K_CPLX(cldouble, long double _Complex)

K_LOOP(k_land_bool, bool, b[i] = a[i] && b[i])
K_LOOP(k_lor_bool, bool, b[i] = a[i] || b[i])
K_LOOP(k_lxor_bool, bool, b[i] = a[i] != b[i])

K_LOC(float, float)
K_LOC(double, double)
K_LOC(long, long)
K_LOC(int, int)
K_LOC(short, short)
K_LOC(ldouble, long double)

/* Table rows: [type] = { [op] = kernel }; a missing entry is an op the
 * standard does not define on that type. */
#define ROW_INT(tag)                                                                               \
    {                                                                                              \
        [SF_OP_MAX] = k_max_##tag, [SF_OP_MIN] = k_min_##tag, [SF_OP_SUM] = k_sum_##tag,           \
        [SF_OP_PROD] = k_prod_##tag, [SF_OP_LAND] = k_land_##tag, [SF_OP_LOR] = k_lor_##tag,       \
        [SF_OP_LXOR] = k_lxor_##tag, [SF_OP_BAND] = k_band_##tag, [SF_OP_BOR] = k_bor_##tag,       \
        [SF_OP_BXOR] = k_bxor_##tag,                                                               \
    }
#define ROW_FLT(tag)                                                                               \
    {                                                                                              \
        [SF_OP_MAX] = k_max_##tag, [SF_OP_MIN] = k_min_##tag, [SF_OP_SUM] = k_sum_##tag,           \
        [SF_OP_PROD] = k_prod_##tag,                                                               \
    }
#define ROW_CPLX(tag)                                                                              \
    {                                                                                              \
        [SF_OP_SUM] = k_sum_##tag, [SF_OP_PROD] = k_prod_##tag,                                    \
    }
#define ROW_LOC(tag)                                                                               \
    {                                                                                              \
        [SF_OP_MAXLOC] = k_maxloc_##tag, [SF_OP_MINLOC] = k_minloc_##tag,                          \
    }

static const op_kern kern[SF_T_LAST][SF_OP_LAST] = {
    /* MPI_CHAR and MPI_WCHAR are text types: no arithmetic per MPI-3.1. */
    [SF_T_SIGNED_CHAR] = ROW_INT(schar),
    [SF_T_UNSIGNED_CHAR] = ROW_INT(uchar),
    [SF_T_BYTE] = {[SF_OP_BAND] = k_band_u8, [SF_OP_BOR] = k_bor_u8, [SF_OP_BXOR] = k_bxor_u8},
    [SF_T_SHORT] = ROW_INT(short),
    [SF_T_UNSIGNED_SHORT] = ROW_INT(ushort),
    [SF_T_INT] = ROW_INT(int),
    [SF_T_UNSIGNED] = ROW_INT(uint),
    [SF_T_LONG] = ROW_INT(long),
    [SF_T_UNSIGNED_LONG] = ROW_INT(ulong),
    [SF_T_LONG_LONG] = ROW_INT(llong),
    [SF_T_UNSIGNED_LONG_LONG] = ROW_INT(ullong),
    [SF_T_FLOAT] = ROW_FLT(float),
    [SF_T_DOUBLE] = ROW_FLT(double),
    [SF_T_LONG_DOUBLE] = ROW_FLT(ldouble),
    [SF_T_C_BOOL] =
        {[SF_OP_LAND] = k_land_bool, [SF_OP_LOR] = k_lor_bool, [SF_OP_LXOR] = k_lxor_bool},
    [SF_T_INT8] = ROW_INT(i8),
    [SF_T_INT16] = ROW_INT(i16),
    [SF_T_INT32] = ROW_INT(i32),
    [SF_T_INT64] = ROW_INT(i64),
    [SF_T_UINT8] = ROW_INT(u8),
    [SF_T_UINT16] = ROW_INT(u16),
    [SF_T_UINT32] = ROW_INT(u32),
    [SF_T_UINT64] = ROW_INT(u64),
    [SF_T_AINT] = ROW_INT(aint),
    [SF_T_OFFSET] = ROW_INT(i64),
    [SF_T_COUNT] = ROW_INT(i64),
    [SF_T_C_FLOAT_COMPLEX] = ROW_CPLX(cfloat),
    [SF_T_C_DOUBLE_COMPLEX] = ROW_CPLX(cdouble),
    [SF_T_C_LONG_DOUBLE_COMPLEX] = ROW_CPLX(cldouble),
    [SF_T_FLOAT_INT] = ROW_LOC(float),
    [SF_T_DOUBLE_INT] = ROW_LOC(double),
    [SF_T_LONG_INT] = ROW_LOC(long),
    [SF_T_2INT] = ROW_LOC(int),
    [SF_T_SHORT_INT] = ROW_LOC(short),
    [SF_T_LONG_DOUBLE_INT] = ROW_LOC(ldouble),
};

/* Size and alignment of one element. For the pair types the size is the
 * C struct's, i.e. MPI's extent (the stride between elements of an array),
 * which is what a contiguous reduction walks by. */
struct tinfo {
    unsigned char size, align;
};
#define TI(T)                                                                                      \
    {                                                                                              \
        sizeof(T), _Alignof(T)                                                                     \
    }
static const struct tinfo tinfo[SF_T_LAST] = {
    [SF_T_CHAR] = TI(char),
    [SF_T_SIGNED_CHAR] = TI(signed char),
    [SF_T_UNSIGNED_CHAR] = TI(unsigned char),
    [SF_T_BYTE] = TI(unsigned char),
    [SF_T_SHORT] = TI(short),
    [SF_T_UNSIGNED_SHORT] = TI(unsigned short),
    [SF_T_INT] = TI(int),
    [SF_T_UNSIGNED] = TI(unsigned),
    [SF_T_LONG] = TI(long),
    [SF_T_UNSIGNED_LONG] = TI(unsigned long),
    [SF_T_LONG_LONG] = TI(long long),
    [SF_T_UNSIGNED_LONG_LONG] = TI(unsigned long long),
    [SF_T_FLOAT] = TI(float),
    [SF_T_DOUBLE] = TI(double),
    [SF_T_LONG_DOUBLE] = TI(long double),
    [SF_T_WCHAR] = TI(wchar_t),
    [SF_T_C_BOOL] = TI(bool),
    [SF_T_INT8] = TI(int8_t),
    [SF_T_INT16] = TI(int16_t),
    [SF_T_INT32] = TI(int32_t),
    [SF_T_INT64] = TI(int64_t),
    [SF_T_UINT8] = TI(uint8_t),
    [SF_T_UINT16] = TI(uint16_t),
    [SF_T_UINT32] = TI(uint32_t),
    [SF_T_UINT64] = TI(uint64_t),
    [SF_T_AINT] = TI(intptr_t),
    [SF_T_OFFSET] = TI(int64_t),
    [SF_T_COUNT] = TI(int64_t),
    [SF_T_C_FLOAT_COMPLEX] = TI(float _Complex),
    [SF_T_C_DOUBLE_COMPLEX] = TI(double _Complex),
    [SF_T_C_LONG_DOUBLE_COMPLEX] = TI(long double _Complex),
    [SF_T_FLOAT_INT] = TI(struct pair_float),
    [SF_T_DOUBLE_INT] = TI(struct pair_double),
    [SF_T_LONG_INT] = TI(struct pair_long),
    [SF_T_2INT] = TI(struct pair_int),
    [SF_T_SHORT_INT] = TI(struct pair_short),
    [SF_T_LONG_DOUBLE_INT] = TI(struct pair_ldouble),
    [SF_T_PACKED] = TI(unsigned char),
};

size_t sf_type_size(enum sf_type t)
{
    if ((unsigned)t >= SF_T_LAST) {
        return 0;
    }
    return tinfo[t].size;
}

int sf_op_valid(enum sf_op_kind op, enum sf_type t)
{
    if ((unsigned)t >= SF_T_LAST || t == SF_T_NONE || (unsigned)op >= SF_OP_LAST) {
        return 0;
    }
    /* REPLACE and NO_OP (one-sided accumulate) apply to any basic type. */
    if (op == SF_OP_REPLACE || op == SF_OP_NO_OP) {
        return 1;
    }
    return kern[t][op] != NULL;
}

/* Bounce-buffer size for misaligned operands: a multiple of every element
 * size, small enough for the stack. */
#define BOUNCE 4096

int sf_op_apply(enum sf_op_kind op, enum sf_type t, const void *in, void *inout, size_t count)
{
    if (!sf_op_valid(op, t)) {
        return -EINVAL;
    }
    size_t size = tinfo[t].size;
    if (op == SF_OP_NO_OP || count == 0) {
        return 0;
    }
    if (op == SF_OP_REPLACE) {
        memmove(inout, in, count * size);
        return 0;
    }
    op_kern k = kern[t][op];
    uintptr_t mis = ((uintptr_t)in | (uintptr_t)inout) & (uintptr_t)(tinfo[t].align - 1);
    if (mis == 0) {
        k(in, inout, count);
        return 0;
    }
    /* Misaligned (e.g. a packed receive buffer): copy through aligned
     * scratch. Costs two extra memcpy passes, only on this rare path. */
    _Alignas(64) unsigned char ba[BOUNCE], bb[BOUNCE];
    const unsigned char *pi = in;
    unsigned char *po = inout;
    size_t per = BOUNCE / size;
    while (count > 0) {
        size_t n = count < per ? count : per;
        memcpy(ba, pi, n * size);
        memcpy(bb, po, n * size);
        k(ba, bb, n);
        memcpy(po, bb, n * size);
        pi += n * size;
        po += n * size;
        count -= n;
    }
    return 0;
}
