/* MPI_Pack/Unpack/Pack_size over the pack engine (dt_engine.c) and the
 * "external32" representation
 * (big-endian, the standard's fixed sizes: long is 4 bytes, wchar 2,
 * long double IEEE binary128). No other data representations. Caller's
 * thread. */
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "mpi-shim/shim_int.h"

/* ---- MPI_Pack / MPI_Unpack ---- */

static int chk_pack(const char *fn, MPI_Comm comm, const void *buf, int count, MPI_Datatype t)
{
    int err = sf_mpi__chk_init(fn);
    if (!err) {
        err = sf_mpi__chk_comm(fn, comm);
    }
    if (!err) {
        err = sf_mpi__chk_buf(fn, comm, buf, count, t);
    }
    return err;
}

int PMPI_Pack(const void *inbuf, int incount, MPI_Datatype datatype, void *outbuf, int outsize,
              int *position, MPI_Comm comm)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Pack";
    int err = chk_pack(fn, comm, inbuf, incount, datatype);
    if (err) {
        return err;
    }
    if (position == NULL || *position < 0 || outsize < 0 || (outbuf == NULL && outsize > 0)) {
        return sf_mpi__raise(comm, MPI_ERR_ARG, fn, "invalid position, outbuf or outsize");
    }
    size_t bytes = sf_mpi__type_bytes(datatype, incount);
    if ((size_t)*position > (size_t)outsize || bytes > (size_t)outsize - (size_t)*position) {
        return sf_mpi__raise(comm, MPI_ERR_TRUNCATE, fn,
                             "%zu bytes do not fit at position %d of a %d-byte buffer", bytes,
                             *position, outsize);
    }
    sf_mpi__pack(datatype, incount, inbuf, (char *)outbuf + *position);
    *position += (int)bytes;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Pack);

int PMPI_Unpack(const void *inbuf, int insize, int *position, void *outbuf, int outcount,
                MPI_Datatype datatype, MPI_Comm comm)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Unpack";
    int err = chk_pack(fn, comm, outbuf, outcount, datatype);
    if (err) {
        return err;
    }
    if (position == NULL || *position < 0 || insize < 0 || (inbuf == NULL && insize > 0)) {
        return sf_mpi__raise(comm, MPI_ERR_ARG, fn, "invalid position, inbuf or insize");
    }
    size_t bytes = sf_mpi__type_bytes(datatype, outcount);
    if ((size_t)*position > (size_t)insize || bytes > (size_t)insize - (size_t)*position) {
        return sf_mpi__raise(comm, MPI_ERR_TRUNCATE, fn,
                             "%zu bytes wanted at position %d of a %d-byte buffer", bytes,
                             *position, insize);
    }
    sf_mpi__unpack(datatype, outcount, (const char *)inbuf + *position, bytes, outbuf);
    *position += (int)bytes;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Unpack);

int PMPI_Pack_size(int incount, MPI_Datatype datatype, MPI_Comm comm, int *size)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Pack_size";
    int err = sf_mpi__chk_init(fn);
    if (!err) {
        err = sf_mpi__chk_comm(fn, comm);
    }
    if (!err) {
        err = sf_mpi__chk_buf(fn, comm, size, incount, datatype);
    }
    if (err) {
        return err;
    }
    size_t bytes = sf_mpi__type_bytes(datatype, incount);
    if (bytes > (size_t)INT32_MAX) {
        return sf_mpi__raise(comm, MPI_ERR_COUNT, fn, "%zu bytes do not fit an int", bytes);
    }
    *size = (int)bytes;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Pack_size);

/* ---- external32 ---- */

/* How one part of a predefined element is converted. */
enum x32_kind {
    X32_BYTES, /* copied as is */
    X32_SINT,  /* two's complement integer, sign-extended/truncated */
    X32_UINT,  /* unsigned integer, zero-extended/truncated */
    X32_SWAP,  /* IEEE float (or 16-byte integer) of equal size: byte order */
    X32_LDBL,  /* native long double <-> binary128 */
};
struct x32_part {
    enum x32_kind kind;
    unsigned char nsize, esize, cnt; /* native bytes, external bytes, repeats */
};
struct x32_desc {
    int nparts;
    struct x32_part p[2];
};

#define P1(k, n, e, c) ((struct x32_desc){1, {{(k), (n), (e), (c)}, {0}}})
#define P2(k, n, e, k2, n2, e2) ((struct x32_desc){2, {{(k), (n), (e), 1}, {(k2), (n2), (e2), 1}}})

/* The conversion of a predefined type (MPI-3.1 table 13.2); nparts 0 if
 * it has none. */
static struct x32_desc x32_of(MPI_Datatype t)
{
    const unsigned L = sizeof(long), LD = sizeof(long double);
    if (t == MPI_LOGICAL || t == MPI_LOGICAL1 || t == MPI_LOGICAL2 || t == MPI_LOGICAL4 ||
        t == MPI_LOGICAL8) {
        return P1(X32_SINT, t->size, t->size, 1);
    }
    if (t == MPI_CHARACTER) {
        return P1(X32_BYTES, 1, 1, 1);
    }
    if (t == MPI_HANDLE_(MPI_Datatype, ompi_mpi_integer16) ||
        t == MPI_HANDLE_(MPI_Datatype, ompi_mpi_real2) || t == MPI_REAL16) {
        return P1(X32_SWAP, t->size, t->size, 1);
    }
    if (t == MPI_COMPLEX32) {
        return P1(X32_SWAP, 16, 16, 2);
    }
    if (t == MPI_2REAL || t == MPI_2DOUBLE_PRECISION) {
        return P1(X32_SWAP, t->size / 2, t->size / 2, 2);
    }
    if (t == MPI_2COMPLEX || t == MPI_2DOUBLE_COMPLEX) {
        return P1(X32_SWAP, t->size / 4, t->size / 4, 4);
    }
    switch (t->basic) {
    case SF_T_CHAR:
    case SF_T_SIGNED_CHAR:
    case SF_T_UNSIGNED_CHAR:
    case SF_T_BYTE:
    case SF_T_PACKED:
    case SF_T_C_BOOL:
    case SF_T_INT8:
    case SF_T_UINT8:
        return P1(X32_BYTES, 1, 1, 1);
    case SF_T_SHORT:
    case SF_T_INT16:
    case SF_T_INT:
    case SF_T_INT32:
    case SF_T_LONG_LONG:
    case SF_T_INT64:
    case SF_T_AINT:
    case SF_T_OFFSET:
    case SF_T_COUNT:
        return P1(X32_SINT, t->size, t->size, 1);
    case SF_T_UNSIGNED_SHORT:
    case SF_T_UINT16:
    case SF_T_UNSIGNED:
    case SF_T_UINT32:
    case SF_T_UNSIGNED_LONG_LONG:
    case SF_T_UINT64:
        return P1(X32_UINT, t->size, t->size, 1);
    case SF_T_LONG:
        return P1(X32_SINT, L, 4, 1);
    case SF_T_UNSIGNED_LONG:
        return P1(X32_UINT, L, 4, 1);
    case SF_T_WCHAR:
        return P1(X32_UINT, sizeof(wchar_t), 2, 1);
    case SF_T_FLOAT:
    case SF_T_DOUBLE:
        return P1(X32_SWAP, t->size, t->size, 1);
    case SF_T_LONG_DOUBLE:
        return P1(X32_LDBL, LD, 16, 1);
    case SF_T_C_FLOAT_COMPLEX:
    case SF_T_C_DOUBLE_COMPLEX:
        return P1(X32_SWAP, t->size / 2, t->size / 2, 2);
    case SF_T_C_LONG_DOUBLE_COMPLEX:
        return P1(X32_LDBL, LD, 16, 2);
    case SF_T_2INT:
        return P1(X32_SINT, 4, 4, 2);
    case SF_T_FLOAT_INT:
        return P2(X32_SWAP, 4, 4, X32_SINT, 4, 4);
    case SF_T_DOUBLE_INT:
        return P2(X32_SWAP, 8, 8, X32_SINT, 4, 4);
    case SF_T_LONG_INT:
        return P2(X32_SINT, L, 4, X32_SINT, 4, 4);
    case SF_T_SHORT_INT:
        return P2(X32_SINT, 2, 2, X32_SINT, 4, 4);
    case SF_T_LONG_DOUBLE_INT:
        return P2(X32_LDBL, LD, 16, X32_SINT, 4, 4);
    default:
        return (struct x32_desc){0, {{0}, {0}}};
    }
}

static bool host_le(void)
{
    const uint16_t one = 1;
    return *(const unsigned char *)&one == 1;
}

/* Native integer of n bytes -> value. */
static uint64_t ld_int(const unsigned char *s, unsigned n, bool sign)
{
    uint64_t v = 0;
    bool le = host_le();
    for (unsigned i = 0; i < n; i++) {
        v |= (uint64_t)s[le ? i : n - 1 - i] << (8 * i);
    }
    if (sign && n < 8 && (v >> (8 * n - 1)) & 1) {
        v |= ~(uint64_t)0 << (8 * n);
    }
    return v;
}

static void st_int(unsigned char *d, unsigned n, uint64_t v)
{
    bool le = host_le();
    for (unsigned i = 0; i < n; i++) {
        d[le ? i : n - 1 - i] = (unsigned char)(v >> (8 * i));
    }
}

static void be_put(unsigned char *d, unsigned n, uint64_t v)
{
    for (unsigned i = 0; i < n; i++) {
        d[n - 1 - i] = (unsigned char)(v >> (8 * i));
    }
}

static uint64_t be_get(const unsigned char *s, unsigned n, bool sign)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++) {
        v = v << 8 | s[i];
    }
    if (sign && n < 8 && (v >> (8 * n - 1)) & 1) {
        v |= ~(uint64_t)0 << (8 * n);
    }
    return v;
}

static void swap_copy(unsigned char *d, const unsigned char *s, unsigned n)
{
    if (host_le()) {
        for (unsigned i = 0; i < n; i++) {
            d[i] = s[n - 1 - i];
        }
    } else {
        memcpy(d, s, n);
    }
}

/* x87 80-bit extended (in its 16-byte slot) <-> IEEE binary128, both with
 * a 15-bit exponent of the same bias: only the fraction moves (the x87
 * explicit integer bit is implied in binary128). */
static void ldbl_out(unsigned char *d, const unsigned char *s)
{
#if LDBL_MANT_DIG == 64
    uint64_t m = ld_int(s, 8, false);
    uint64_t se = ld_int(s + 8, 2, false);
    uint64_t f = m & ~(UINT64_C(1) << 63);
    be_put(d, 8, se << 48 | f >> 15);
    be_put(d + 8, 8, f << 49);
#elif LDBL_MANT_DIG == 113
    swap_copy(d, s, 16);
#else
    /* long double is double: widen through the value. */
    long double v;
    memcpy(&v, s, sizeof(v));
    __float128 q = (__float128)v;
    swap_copy(d, (const unsigned char *)&q, 16);
#endif
}

static void ldbl_in(unsigned char *d, const unsigned char *s)
{
#if LDBL_MANT_DIG == 64
    uint64_t hi = be_get(s, 8, false), lo = be_get(s + 8, 8, false);
    uint64_t se = hi >> 48;
    uint64_t f = (hi & ((UINT64_C(1) << 48) - 1)) << 15 | lo >> 49;
    uint64_t m = f | ((se & 0x7fff) != 0 ? UINT64_C(1) << 63 : 0);
    memset(d, 0, sizeof(long double));
    st_int(d, 8, m);
    st_int(d + 8, 2, se);
#elif LDBL_MANT_DIG == 113
    swap_copy(d, s, 16);
#else
    __float128 q;
    swap_copy((unsigned char *)&q, s, 16);
    long double v = (long double)q;
    memcpy(d, &v, sizeof(v));
#endif
}

/* Convert one part between native (n) and external (e); both advance. */
static void x32_part(const struct x32_part *p, const unsigned char **n, unsigned char **e, bool out)
{
    for (unsigned c = 0; c < p->cnt; c++) {
        unsigned char *nat = (unsigned char *)*n;
        switch (p->kind) {
        case X32_BYTES:
            if (out) {
                memcpy(*e, nat, p->nsize);
            } else {
                memcpy(nat, *e, p->nsize);
            }
            break;
        case X32_SINT:
        case X32_UINT:
            if (out) {
                be_put(*e, p->esize, ld_int(nat, p->nsize, p->kind == X32_SINT));
            } else {
                st_int(nat, p->nsize, be_get(*e, p->esize, p->kind == X32_SINT));
            }
            break;
        case X32_SWAP:
            if (out) {
                swap_copy(*e, nat, p->nsize);
            } else {
                swap_copy(nat, *e, p->nsize);
            }
            break;
        case X32_LDBL:
            if (out) {
                ldbl_out(*e, nat);
            } else {
                ldbl_in(nat, *e);
            }
            break;
        }
        *n += p->nsize;
        *e += p->esize;
    }
}

/* External bytes of one instance; 0 with *bad set when a type in the
 * signature has no external32 form. */
static size_t x32_size(MPI_Datatype t, MPI_Datatype *bad)
{
    size_t sz = 0;
    *bad = NULL;
    for (size_t i = 0; i < t->nsig; i++) {
        struct x32_desc x = x32_of(t->sig[i].t);
        if (x.nparts == 0) {
            *bad = t->sig[i].t;
            return 0;
        }
        size_t one = 0;
        for (int j = 0; j < x.nparts; j++) {
            one += (size_t)x.p[j].esize * x.p[j].cnt;
        }
        sz += one * t->sig[i].n;
    }
    return sz * t->rep;
}

/* Walk the native packed stream of count instances against the external
 * stream, converting each element. */
static void x32_convert(MPI_Datatype t, size_t count, const unsigned char *nat, unsigned char *ext,
                        bool out)
{
    for (size_t k = 0; k < count * t->rep; k++) {
        for (size_t i = 0; i < t->nsig; i++) {
            struct x32_desc x = x32_of(t->sig[i].t);
            for (size_t m = 0; m < t->sig[i].n; m++) {
                for (int j = 0; j < x.nparts; j++) {
                    x32_part(&x.p[j], &nat, &ext, out);
                }
            }
        }
    }
}

static int chk_datarep(const char *fn, const char *datarep)
{
    if (datarep == NULL || strcmp(datarep, "external32") != 0) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_UNSUPPORTED_DATAREP, fn,
                             "data representation '%s' is not supported (only external32)",
                             datarep ? datarep : "(null)");
    }
    return 0;
}

static int x32_common(const char *fn, const char *datarep, const void *buf, int count,
                      MPI_Datatype t, size_t *xsize)
{
    int err = sf_mpi__chk_init(fn);
    if (!err) {
        err = chk_datarep(fn, datarep);
    }
    if (!err) {
        err = sf_mpi__chk_buf(fn, SF_COMM_WORLD, buf, count, t);
    }
    if (err) {
        return err;
    }
    MPI_Datatype bad;
    size_t one = x32_size(t, &bad);
    if (bad != NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_TYPE, fn, "%s has no external32 form",
                             bad->name);
    }
    *xsize = one * (size_t)count;
    return 0;
}

int PMPI_Pack_external_size(const char datarep[], int incount, MPI_Datatype datatype,
                            MPI_Aint *size)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Pack_external_size";
    size_t xs = 0;
    int err = x32_common(fn, datarep, size, incount, datatype, &xs);
    if (err) {
        return err;
    }
    *size = (MPI_Aint)xs;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Pack_external_size);

int PMPI_Pack_external(const char datarep[], const void *inbuf, int incount, MPI_Datatype datatype,
                       void *outbuf, MPI_Aint outsize, MPI_Aint *position)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Pack_external";
    size_t xs = 0;
    int err = x32_common(fn, datarep, inbuf, incount, datatype, &xs);
    if (err) {
        return err;
    }
    if (position == NULL || *position < 0 || outsize < 0 || (outbuf == NULL && outsize > 0)) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn, "invalid position, outbuf or outsize");
    }
    if (*position > outsize || xs > (size_t)(outsize - *position)) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_TRUNCATE, fn,
                             "%zu bytes do not fit at position %ld of a %ld-byte buffer", xs,
                             (long)*position, (long)outsize);
    }
    size_t nb = sf_mpi__type_bytes(datatype, incount);
    unsigned char *nat = malloc(nb ? nb : 1);
    if (nat == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_NO_MEM, fn, "out of memory for %zu bytes", nb);
    }
    sf_mpi__pack(datatype, incount, inbuf, nat);
    x32_convert(datatype, (size_t)incount, nat, (unsigned char *)outbuf + *position, true);
    free(nat);
    *position += (MPI_Aint)xs;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Pack_external);

int PMPI_Unpack_external(const char datarep[], const void *inbuf, MPI_Aint insize,
                         MPI_Aint *position, void *outbuf, int outcount, MPI_Datatype datatype)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Unpack_external";
    size_t xs = 0;
    int err = x32_common(fn, datarep, outbuf, outcount, datatype, &xs);
    if (err) {
        return err;
    }
    if (position == NULL || *position < 0 || insize < 0 || (inbuf == NULL && insize > 0)) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn, "invalid position, inbuf or insize");
    }
    if (*position > insize || xs > (size_t)(insize - *position)) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_TRUNCATE, fn,
                             "%zu bytes wanted at position %ld of a %ld-byte buffer", xs,
                             (long)*position, (long)insize);
    }
    size_t nb = sf_mpi__type_bytes(datatype, outcount);
    unsigned char *nat = malloc(nb ? nb : 1);
    if (nat == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_NO_MEM, fn, "out of memory for %zu bytes", nb);
    }
    x32_convert(datatype, (size_t)outcount, nat, (unsigned char *)inbuf + *position, false);
    sf_mpi__unpack(datatype, outcount, nat, nb, outbuf);
    free(nat);
    *position += (MPI_Aint)xs;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Unpack_external);
