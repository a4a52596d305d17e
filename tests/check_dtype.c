/* Check suite for derived datatypes: every constructor and nestings packed
 * and unpacked against hand-computed layouts, extents/true extents/markers,
 * partial element counts, subarray/darray, external32 byte images,
 * envelope/contents, reference counts, reductions on derived types and the
 * resumable pack engine (dt_engine.c linked in). MPI runs as a singleton. */
#include <check.h>
#include <complex.h>
#include <wchar.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mpi-shim/shim_int.h"

static void setup(void)
{
    ck_assert_int_eq(MPI_Init(NULL, NULL), MPI_SUCCESS);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
}

static void teardown(void)
{
    MPI_Finalize();
}

/* Pack count instances of t from src (ints), compare with the expected
 * int sequence, unpack into a zeroed buffer and compare with src at the
 * expected positions (and zero elsewhere). */
static void roundtrip_ints(MPI_Datatype t, int count, const int *src, int nsrc, const int *expect,
                           int nexp)
{
    int size;
    ck_assert_int_eq(MPI_Pack_size(count, t, MPI_COMM_WORLD, &size), MPI_SUCCESS);
    ck_assert_int_eq(size, nexp * (int)sizeof(int));
    int *packed = calloc((size_t)nexp + 1, sizeof(int));
    int pos = 0;
    ck_assert_int_eq(MPI_Pack(src, count, t, packed, size, &pos, MPI_COMM_WORLD), MPI_SUCCESS);
    ck_assert_int_eq(pos, size);
    for (int i = 0; i < nexp; i++) {
        ck_assert_msg(packed[i] == expect[i], "packed[%d] = %d, want %d", i, packed[i], expect[i]);
    }
    int *out = calloc((size_t)nsrc, sizeof(int));
    pos = 0;
    ck_assert_int_eq(MPI_Unpack(packed, size, &pos, out, count, t, MPI_COMM_WORLD), MPI_SUCCESS);
    ck_assert_int_eq(pos, size);
    for (int i = 0; i < nsrc; i++) {
        bool used = false;
        for (int j = 0; j < nexp; j++) {
            used |= expect[j] == src[i];
        }
        ck_assert_msg(out[i] == (used ? src[i] : 0), "out[%d] = %d", i, out[i]);
    }
    free(packed);
    free(out);
}

static int *iota(int n)
{
    int *a = malloc((size_t)n * sizeof(int));
    for (int i = 0; i < n; i++) {
        a[i] = 100 + i;
    }
    return a;
}

static void extent_is(MPI_Datatype t, MPI_Aint lb, MPI_Aint ext, MPI_Aint tlb, MPI_Aint text,
                      int size)
{
    MPI_Aint a, b;
    int s;
    MPI_Type_get_extent(t, &a, &b);
    ck_assert_msg(a == lb && b == ext, "lb/extent %ld/%ld, want %ld/%ld", (long)a, (long)b,
                  (long)lb, (long)ext);
    MPI_Type_get_true_extent(t, &a, &b);
    ck_assert_msg(a == tlb && b == text, "true lb/extent %ld/%ld, want %ld/%ld", (long)a, (long)b,
                  (long)tlb, (long)text);
    MPI_Type_size(t, &s);
    ck_assert_int_eq(s, size);
    MPI_Count lbx, extx;
    MPI_Type_get_extent_x(t, &lbx, &extx);
    ck_assert(lbx == lb && extx == ext);
}

START_TEST(vector_layout)
{
    MPI_Datatype t;
    ck_assert_int_eq(MPI_Type_vector(3, 2, 4, MPI_INT, &t), MPI_SUCCESS);
    MPI_Type_commit(&t);
    extent_is(t, 0, 40, 0, 40, 24);
    int *src = iota(24);
    int exp1[] = {100, 101, 104, 105, 108, 109};
    roundtrip_ints(t, 1, src, 24, exp1, 6);
    /* two instances: the second starts one extent (10 ints) later */
    int exp2[] = {100, 101, 104, 105, 108, 109, 110, 111, 114, 115, 118, 119};
    roundtrip_ints(t, 2, src, 24, exp2, 12);
    /* one merged strided block describes the whole vector */
    ck_assert_uint_eq(t->nent, 1);
    ck_assert_uint_eq(t->ent[0].n, 3);
    MPI_Type_free(&t);
    ck_assert(t == MPI_DATATYPE_NULL);
    free(src);
}
END_TEST

START_TEST(hvector_negative_stride)
{
    MPI_Datatype t;
    ck_assert_int_eq(MPI_Type_create_hvector(3, 1, -8, MPI_INT, &t), MPI_SUCCESS);
    MPI_Type_commit(&t);
    /* ints at 0, -8, -16 bytes */
    extent_is(t, -16, 20, -16, 20, 12);
    int *src = iota(8);
    int exp1[] = {104, 102, 100};
    int pos = 0, packed[3];
    ck_assert_int_eq(MPI_Pack(src + 4, 1, t, packed, sizeof(packed), &pos, MPI_COMM_WORLD),
                     MPI_SUCCESS);
    ck_assert_int_eq(memcmp(packed, exp1, sizeof(exp1)), 0);
    MPI_Type_free(&t);
    free(src);
}
END_TEST

START_TEST(indexed_family)
{
    int *src = iota(16);
    MPI_Datatype t;
    int bl[] = {2, 1, 0, 3};
    int disp[] = {3, 0, 9, 10};
    ck_assert_int_eq(MPI_Type_indexed(4, bl, disp, MPI_INT, &t), MPI_SUCCESS);
    MPI_Type_commit(&t);
    extent_is(t, 0, 52, 0, 52, 24);
    int e1[] = {103, 104, 100, 110, 111, 112};
    roundtrip_ints(t, 1, src, 16, e1, 6);
    MPI_Type_free(&t);

    MPI_Aint hdisp[] = {12, 0, 36, 40};
    ck_assert_int_eq(MPI_Type_create_hindexed(4, bl, hdisp, MPI_INT, &t), MPI_SUCCESS);
    MPI_Type_commit(&t);
    roundtrip_ints(t, 1, src, 16, e1, 6);
    MPI_Type_free(&t);

    int bdisp[] = {5, 1, 8};
    ck_assert_int_eq(MPI_Type_create_indexed_block(3, 2, bdisp, MPI_INT, &t), MPI_SUCCESS);
    MPI_Type_commit(&t);
    extent_is(t, 4, 36, 4, 36, 24);
    int e2[] = {105, 106, 101, 102, 108, 109};
    roundtrip_ints(t, 1, src, 16, e2, 6);
    MPI_Type_free(&t);

    MPI_Aint bhdisp[] = {20, 4, 32};
    ck_assert_int_eq(MPI_Type_create_hindexed_block(3, 2, bhdisp, MPI_INT, &t), MPI_SUCCESS);
    MPI_Type_commit(&t);
    roundtrip_ints(t, 1, src, 16, e2, 6);
    MPI_Type_free(&t);
    free(src);
}
END_TEST

struct rec {
    int a;
    double d;
    char c;
};

static MPI_Datatype rec_type(void)
{
    int bl[] = {1, 1, 1};
    MPI_Aint disp[] = {offsetof(struct rec, a), offsetof(struct rec, d), offsetof(struct rec, c)};
    MPI_Datatype types[] = {MPI_INT, MPI_DOUBLE, MPI_CHAR}, t;
    ck_assert_int_eq(MPI_Type_create_struct(3, bl, disp, types, &t), MPI_SUCCESS);
    return t;
}

START_TEST(struct_padding_and_roundtrip)
{
    MPI_Datatype t = rec_type();
    MPI_Type_commit(&t);
    /* data ends at 17; the extent is padded to double alignment: 24 */
    extent_is(t, 0, (MPI_Aint)sizeof(struct rec), 0, 17, 13);
    struct rec in[3], out[3];
    memset(in, 0x55, sizeof(in));
    memset(out, 0, sizeof(out));
    for (int i = 0; i < 3; i++) {
        in[i].a = i;
        in[i].d = i + 0.5;
        in[i].c = (char)('x' + i);
    }
    char buf[64];
    int pos = 0;
    ck_assert_int_eq(MPI_Pack(in, 3, t, buf, sizeof(buf), &pos, MPI_COMM_WORLD), MPI_SUCCESS);
    ck_assert_int_eq(pos, 39);
    pos = 0;
    ck_assert_int_eq(MPI_Unpack(buf, 39, &pos, out, 3, t, MPI_COMM_WORLD), MPI_SUCCESS);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(out[i].a, i);
        ck_assert(out[i].d == i + 0.5);
        ck_assert_int_eq(out[i].c, 'x' + i);
    }
    /* the padding between a and d is untouched */
    ck_assert_int_eq(((unsigned char *)&out[1])[4], 0);
    /* a truncated pack reports MPI_ERR_TRUNCATE */
    pos = 0;
    ck_assert_int_eq(MPI_Pack(in, 3, t, buf, 38, &pos, MPI_COMM_WORLD), MPI_ERR_TRUNCATE);
    MPI_Type_free(&t);
}
END_TEST

START_TEST(nested_vector_of_struct_of_indexed)
{
    /* indexed of ints: {x[2], x[0]}; struct: {indexed at 0, double at 16};
     * vector of 2 structs, stride 2 (every other struct). */
    int bl[] = {1, 1}, disp[] = {2, 0};
    MPI_Datatype idx, st, vec;
    MPI_Type_indexed(2, bl, disp, MPI_INT, &idx);
    int sbl[] = {1, 1};
    MPI_Aint sdisp[] = {0, 16};
    MPI_Datatype stypes[] = {idx, MPI_DOUBLE};
    MPI_Type_create_struct(2, sbl, sdisp, stypes, &st);
    extent_is(st, 0, 24, 0, 24, 16);
    MPI_Type_vector(2, 1, 2, st, &vec);
    MPI_Type_commit(&vec);
    /* the vector holds its own reference: freeing the parts is fine */
    MPI_Type_free(&idx);
    MPI_Type_free(&st);
    extent_is(vec, 0, 72, 0, 72, 32);
    struct {
        int x[4];
        double d;
    } in[4], out[4];
    memset(in, 0, sizeof(in));
    memset(out, 0, sizeof(out));
    for (int i = 0; i < 4; i++) {
        for (int j = 0; j < 4; j++) {
            in[i].x[j] = i * 10 + j;
        }
        in[i].d = i * 1.25;
    }
    unsigned char buf[32];
    int pos = 0;
    ck_assert_int_eq(MPI_Pack(in, 1, vec, buf, sizeof(buf), &pos, MPI_COMM_WORLD), MPI_SUCCESS);
    int iv[2];
    double dv;
    memcpy(iv, buf, 8);
    memcpy(&dv, buf + 8, 8);
    ck_assert(iv[0] == 2 && iv[1] == 0 && dv == 0.0);
    memcpy(iv, buf + 16, 8);
    memcpy(&dv, buf + 24, 8);
    ck_assert(iv[0] == 22 && iv[1] == 20 && dv == 2.5);
    pos = 0;
    MPI_Unpack(buf, 32, &pos, out, 1, vec, MPI_COMM_WORLD);
    ck_assert(out[2].x[2] == 22 && out[2].x[0] == 20 && out[2].d == 2.5);
    ck_assert(out[1].x[0] == 0 && out[2].x[1] == 0 && out[2].x[3] == 0);
    MPI_Type_free(&vec);
}
END_TEST

START_TEST(resized_and_markers)
{
    MPI_Datatype r, c, s, d;
    MPI_Type_create_resized(MPI_INT, -4, 12, &r);
    extent_is(r, -4, 12, 0, 4, 4);
    MPI_Type_contiguous(2, r, &c);
    /* ints at 0 and 12 */
    extent_is(c, -4, 24, 0, 16, 8);
    MPI_Type_commit(&c);
    int *src = iota(8);
    int e[] = {100, 103};
    roundtrip_ints(c, 1, src, 8, e, 2);
    /* MPI_LB/MPI_UB markers in a struct set lb/ub */
    int bl[] = {1, 1, 1};
    MPI_Aint disp[] = {-8, 0, 16};
    MPI_Datatype types[] = {MPI_LB, MPI_INT, MPI_UB};
    MPI_Type_create_struct(3, bl, disp, types, &s);
    extent_is(s, -8, 24, 0, 4, 4);
    /* markers propagate: a contiguous of it keeps the marked extent */
    MPI_Type_contiguous(2, s, &d);
    extent_is(d, -8, 48, 0, 28, 8);
    MPI_Type_free(&d);
    MPI_Type_free(&s);
    MPI_Type_free(&c);
    MPI_Type_free(&r);
    /* pair types: extent includes the padding, true extent does not */
    extent_is(MPI_DOUBLE_INT, 0, 16, 0, 12, 12);
    free(src);
}
END_TEST

START_TEST(dup_keeps_layout)
{
    MPI_Datatype v, d;
    MPI_Type_vector(2, 1, 3, MPI_INT, &v);
    MPI_Type_commit(&v);
    MPI_Type_dup(v, &d);
    MPI_Type_free(&v);
    extent_is(d, 0, 16, 0, 16, 8);
    int *src = iota(8);
    int e[] = {100, 103};
    roundtrip_ints(d, 1, src, 8, e, 2); /* committed because v was */
    MPI_Type_free(&d);
    free(src);
}
END_TEST

START_TEST(elements_partial)
{
    int bl[] = {1, 1};
    MPI_Aint disp[] = {0, 8};
    MPI_Datatype types[] = {MPI_INT, MPI_DOUBLE}, t;
    MPI_Type_create_struct(2, bl, disp, types, &t);
    MPI_Type_commit(&t);
    MPI_Status st;
    int n;
    MPI_Count nx;
    /* 12 bytes per instance: 16 bytes = one instance and an int */
    MPI_Status_set_elements(&st, MPI_BYTE, 16);
    MPI_Get_elements(&st, t, &n);
    ck_assert_int_eq(n, 3);
    MPI_Get_count(&st, t, &n);
    ck_assert_int_eq(n, MPI_UNDEFINED);
    MPI_Status_set_elements(&st, MPI_BYTE, 24);
    MPI_Get_count(&st, t, &n);
    ck_assert_int_eq(n, 2);
    MPI_Get_elements_x(&st, t, &nx);
    ck_assert_int_eq((int)nx, 4);
    /* ending inside the double: no whole number of elements */
    MPI_Status_set_elements(&st, MPI_BYTE, 18);
    MPI_Get_elements(&st, t, &n);
    ck_assert_int_eq(n, MPI_UNDEFINED);
    /* set by elements of the derived type: 3 elements = 16 bytes */
    MPI_Status_set_elements(&st, t, 3);
    MPI_Get_elements(&st, MPI_BYTE, &n);
    ck_assert_int_eq(n, 16);
    /* a pair type counts as two elements; its value half as one */
    MPI_Status_set_elements(&st, MPI_BYTE, 12 + 8);
    MPI_Get_elements(&st, MPI_DOUBLE_INT, &n);
    ck_assert_int_eq(n, 3);
    MPI_Type_free(&t);
}
END_TEST

static void offsets_are(MPI_Datatype t, const int *expect, int n)
{
    /* pack an array holding its own indices */
    int *src = malloc(64 * sizeof(int));
    for (int i = 0; i < 64; i++) {
        src[i] = i;
    }
    int size;
    MPI_Type_size(t, &size);
    ck_assert_int_eq(size, n * (int)sizeof(int));
    int *p = malloc((size_t)n * sizeof(int) + 1);
    int pos = 0;
    ck_assert_int_eq(MPI_Pack(src, 1, t, p, size, &pos, MPI_COMM_WORLD), MPI_SUCCESS);
    for (int i = 0; i < n; i++) {
        ck_assert_msg(p[i] == expect[i], "element %d at %d, want %d", i, p[i], expect[i]);
    }
    free(p);
    free(src);
}

START_TEST(subarray_c_and_fortran)
{
    int sizes[] = {4, 5}, sub[] = {2, 3}, start[] = {1, 2};
    MPI_Datatype t;
    ck_assert_int_eq(MPI_Type_create_subarray(2, sizes, sub, start, MPI_ORDER_C, MPI_INT, &t),
                     MPI_SUCCESS);
    MPI_Type_commit(&t);
    int ec[] = {7, 8, 9, 12, 13, 14};
    offsets_are(t, ec, 6);
    extent_is(t, 0, 80, 28, 32, 24);
    MPI_Type_free(&t);
    ck_assert_int_eq(MPI_Type_create_subarray(2, sizes, sub, start, MPI_ORDER_FORTRAN, MPI_INT, &t),
                     MPI_SUCCESS);
    MPI_Type_commit(&t);
    /* column-major: offset i + 4 j, i fastest */
    int ef[] = {9, 10, 13, 14, 17, 18};
    offsets_are(t, ef, 6);
    extent_is(t, 0, 80, 36, 40, 24);
    MPI_Type_free(&t);
    /* 3-D, C order */
    int s3[] = {2, 3, 4}, u3[] = {1, 2, 2}, t3[] = {1, 1, 2};
    MPI_Type_create_subarray(3, s3, u3, t3, MPI_ORDER_C, MPI_INT, &t);
    MPI_Type_commit(&t);
    int e3[] = {12 + 4 + 2, 12 + 4 + 3, 12 + 8 + 2, 12 + 8 + 3};
    offsets_are(t, e3, 4);
    MPI_Type_free(&t);
    /* out-of-range start is refused */
    int bad[] = {3, 2};
    ck_assert_int_eq(MPI_Type_create_subarray(2, sizes, sub, bad, MPI_ORDER_C, MPI_INT, &t),
                     MPI_ERR_ARG);
}
END_TEST

START_TEST(darray_block_and_cyclic)
{
    int gs[] = {4, 6}, dist[] = {MPI_DISTRIBUTE_BLOCK, MPI_DISTRIBUTE_BLOCK};
    int darg[] = {MPI_DISTRIBUTE_DFLT_DARG, MPI_DISTRIBUTE_DFLT_DARG}, ps[] = {2, 2};
    MPI_Datatype t;
    /* rank 3 of a 2x2 grid is at (1,1): rows 2-3, columns 3-5 */
    ck_assert_int_eq(MPI_Type_create_darray(4, 3, 2, gs, dist, darg, ps, MPI_ORDER_C, MPI_INT, &t),
                     MPI_SUCCESS);
    MPI_Type_commit(&t);
    int e1[] = {15, 16, 17, 21, 22, 23};
    offsets_are(t, e1, 6);
    extent_is(t, 0, 96, 60, 36, 24);
    MPI_Type_free(&t);
    /* rank 1 is (0,1): rows 0-1, columns 3-5; Fortran order walks rows fastest */
    MPI_Type_create_darray(4, 1, 2, gs, dist, darg, ps, MPI_ORDER_FORTRAN, MPI_INT, &t);
    MPI_Type_commit(&t);
    /* element (i,j) at i + 4 j */
    int e2[] = {12, 13, 16, 17, 20, 21};
    offsets_are(t, e2, 6);
    MPI_Type_free(&t);
    /* cyclic(2) over 3 processes of 10 elements: rank 1 owns 2,3,8,9 */
    int g1[] = {10}, d1[] = {MPI_DISTRIBUTE_CYCLIC}, a1[] = {2}, p1[] = {3};
    MPI_Type_create_darray(3, 1, 1, g1, d1, a1, p1, MPI_ORDER_C, MPI_INT, &t);
    MPI_Type_commit(&t);
    int e3[] = {2, 3, 8, 9};
    offsets_are(t, e3, 4);
    extent_is(t, 0, 40, 8, 32, 16);
    MPI_Type_free(&t);
    /* cyclic default (1) with a none dimension: 2 x 5, rank 0 of 2 */
    int g2[] = {2, 5}, d2[] = {MPI_DISTRIBUTE_NONE, MPI_DISTRIBUTE_CYCLIC};
    int a2[] = {MPI_DISTRIBUTE_DFLT_DARG, MPI_DISTRIBUTE_DFLT_DARG}, p2[] = {1, 2};
    MPI_Type_create_darray(2, 0, 2, g2, d2, a2, p2, MPI_ORDER_C, MPI_INT, &t);
    MPI_Type_commit(&t);
    int e4[] = {0, 2, 4, 5, 7, 9};
    offsets_are(t, e4, 6);
    MPI_Type_free(&t);
    /* a grid that does not match size is refused */
    ck_assert_int_eq(MPI_Type_create_darray(3, 0, 2, gs, dist, darg, ps, MPI_ORDER_C, MPI_INT, &t),
                     MPI_ERR_ARG);
}
END_TEST

START_TEST(external32_images)
{
    unsigned char buf[64];
    MPI_Aint pos = 0, sz;
    int i = 0x01020304;
    ck_assert_int_eq(MPI_Pack_external("external32", &i, 1, MPI_INT, buf, sizeof(buf), &pos),
                     MPI_SUCCESS);
    ck_assert_int_eq((int)pos, 4);
    ck_assert(buf[0] == 1 && buf[1] == 2 && buf[2] == 3 && buf[3] == 4);
    /* long is 4 bytes in external32 */
    long l = -2;
    MPI_Pack_external_size("external32", 1, MPI_LONG, &sz);
    ck_assert_int_eq((int)sz, 4);
    pos = 0;
    MPI_Pack_external("external32", &l, 1, MPI_LONG, buf, sizeof(buf), &pos);
    ck_assert(pos == 4 && buf[0] == 0xff && buf[1] == 0xff && buf[2] == 0xff && buf[3] == 0xfe);
    long back = 0;
    pos = 0;
    MPI_Unpack_external("external32", buf, 4, &pos, &back, 1, MPI_LONG);
    ck_assert_int_eq(back, -2);
    /* double 1.0 and -2.5 */
    double d[2] = {1.0, -2.5};
    pos = 0;
    MPI_Pack_external("external32", d, 2, MPI_DOUBLE, buf, sizeof(buf), &pos);
    static const unsigned char ed[16] = {0x3f, 0xf0, 0, 0, 0, 0, 0, 0,
                                         0xc0, 0x04, 0, 0, 0, 0, 0, 0};
    ck_assert_int_eq(memcmp(buf, ed, 16), 0);
    /* long double 1.0 as binary128: 3fff 0000 ... */
    long double ld = 1.0L, ldb = 0;
    pos = 0;
    MPI_Pack_external("external32", &ld, 1, MPI_LONG_DOUBLE, buf, sizeof(buf), &pos);
    ck_assert_int_eq((int)pos, 16);
    ck_assert(buf[0] == 0x3f && buf[1] == 0xff && buf[2] == 0 && buf[15] == 0);
    ld = -3.0L; /* binary128: c000 8000 0000 ... */
    pos = 0;
    MPI_Pack_external("external32", &ld, 1, MPI_LONG_DOUBLE, buf, sizeof(buf), &pos);
    ck_assert(buf[0] == 0xc0 && buf[1] == 0x00 && buf[2] == 0x80 && buf[3] == 0);
    pos = 0;
    MPI_Unpack_external("external32", buf, 16, &pos, &ldb, 1, MPI_LONG_DOUBLE);
    ck_assert(ldb == -3.0L);
    /* a struct {short, double} with a hole: 2 + 8 bytes, big-endian */
    struct {
        short s;
        double v;
    } sv = {0x0102, 2.0}, sb;
    int bl[] = {1, 1};
    MPI_Aint disp[] = {0, 8};
    MPI_Datatype types[] = {MPI_SHORT, MPI_DOUBLE}, t;
    MPI_Type_create_struct(2, bl, disp, types, &t);
    MPI_Type_commit(&t);
    MPI_Pack_external_size("external32", 1, t, &sz);
    ck_assert_int_eq((int)sz, 10);
    pos = 0;
    MPI_Pack_external("external32", &sv, 1, t, buf, sizeof(buf), &pos);
    static const unsigned char es[10] = {1, 2, 0x40, 0, 0, 0, 0, 0, 0, 0};
    ck_assert_int_eq(memcmp(buf, es, 10), 0);
    memset(&sb, 0, sizeof(sb));
    pos = 0;
    MPI_Unpack_external("external32", buf, 10, &pos, &sb, 1, t);
    ck_assert(sb.s == 0x0102 && sb.v == 2.0);
    MPI_Type_free(&t);
    /* a pair type: value then int */
    struct {
        float f;
        int k;
    } fi = {1.0f, 7};
    pos = 0;
    MPI_Pack_external("external32", &fi, 1, MPI_FLOAT_INT, buf, sizeof(buf), &pos);
    static const unsigned char ef[8] = {0x3f, 0x80, 0, 0, 0, 0, 0, 7};
    ck_assert_int_eq(memcmp(buf, ef, 8), 0);
    /* complex: two big-endian reals; wchar: 2 bytes; fixed-size ints */
    double _Complex z = 1.0 + 2.0 * _Complex_I;
    pos = 0;
    MPI_Pack_external("external32", &z, 1, MPI_C_DOUBLE_COMPLEX, buf, sizeof(buf), &pos);
    ck_assert(pos == 16 && buf[0] == 0x3f && buf[1] == 0xf0 && buf[8] == 0x40 && buf[9] == 0);
    wchar_t w = L'A';
    pos = 0;
    MPI_Pack_external("external32", &w, 1, MPI_WCHAR, buf, sizeof(buf), &pos);
    ck_assert(pos == 2 && buf[0] == 0 && buf[1] == 0x41);
    unsigned short us = 0xabcd;
    int64_t m1 = -1, m1b = 0;
    pos = 0;
    MPI_Pack_external("external32", &us, 1, MPI_UNSIGNED_SHORT, buf, sizeof(buf), &pos);
    MPI_Pack_external("external32", &m1, 1, MPI_INT64_T, buf, sizeof(buf), &pos);
    ck_assert(pos == 10 && buf[0] == 0xab && buf[1] == 0xcd && buf[2] == 0xff && buf[9] == 0xff);
    pos = 2;
    MPI_Unpack_external("external32", buf, 10, &pos, &m1b, 1, MPI_INT64_T);
    ck_assert(m1b == -1 && pos == 10);
    /* other representations are refused; truncation is reported */
    pos = 0;
    ck_assert_int_eq(MPI_Pack_external("native", &i, 1, MPI_INT, buf, sizeof(buf), &pos),
                     MPI_ERR_UNSUPPORTED_DATAREP);
    pos = 62;
    ck_assert_int_eq(MPI_Pack_external("external32", &i, 1, MPI_INT, buf, 64, &pos),
                     MPI_ERR_TRUNCATE);
}
END_TEST

START_TEST(envelope_contents)
{
    MPI_Datatype v, s, r, sub, got[4];
    int ni, na, nd, comb, ints[16];
    MPI_Aint aints[8];
    MPI_Type_vector(3, 2, 5, MPI_DOUBLE, &v);
    MPI_Type_get_envelope(v, &ni, &na, &nd, &comb);
    ck_assert(comb == MPI_COMBINER_VECTOR && ni == 3 && na == 0 && nd == 1);
    MPI_Type_get_contents(v, 16, 8, 4, ints, aints, got);
    ck_assert(ints[0] == 3 && ints[1] == 2 && ints[2] == 5 && got[0] == MPI_DOUBLE);

    int bl[] = {2, 1};
    MPI_Aint disp[] = {0, 64};
    MPI_Datatype types[] = {v, MPI_INT};
    MPI_Type_create_struct(2, bl, disp, types, &s);
    MPI_Type_get_envelope(s, &ni, &na, &nd, &comb);
    ck_assert(comb == MPI_COMBINER_STRUCT && ni == 3 && na == 2 && nd == 2);
    MPI_Type_get_contents(s, 16, 8, 4, ints, aints, got);
    ck_assert(ints[0] == 2 && ints[1] == 2 && ints[2] == 1);
    ck_assert(aints[0] == 0 && aints[1] == 64 && got[0] == v && got[1] == MPI_INT);
    /* a derived type comes back as a reference the caller frees */
    MPI_Type_free(&got[0]);
    MPI_Type_free(&v);
    MPI_Type_get_contents(s, 16, 8, 4, ints, aints, got);
    ck_assert_int_eq(MPI_Type_get_envelope(got[0], &ni, &na, &nd, &comb), MPI_SUCCESS);
    ck_assert(comb == MPI_COMBINER_VECTOR);
    MPI_Type_free(&got[0]);

    MPI_Type_create_resized(s, -8, 100, &r);
    MPI_Type_get_envelope(r, &ni, &na, &nd, &comb);
    ck_assert(comb == MPI_COMBINER_RESIZED && ni == 0 && na == 2 && nd == 1);
    MPI_Type_get_contents(r, 0, 2, 1, ints, aints, got);
    ck_assert(aints[0] == -8 && aints[1] == 100 && got[0] == s);
    MPI_Type_free(&got[0]);

    int sz[] = {4, 4}, ss[] = {2, 2}, st[] = {1, 1};
    MPI_Type_create_subarray(2, sz, ss, st, MPI_ORDER_FORTRAN, MPI_INT, &sub);
    MPI_Type_get_envelope(sub, &ni, &na, &nd, &comb);
    ck_assert(comb == MPI_COMBINER_SUBARRAY && ni == 8 && na == 0 && nd == 1);
    MPI_Type_get_contents(sub, 16, 0, 1, ints, aints, got);
    ck_assert(ints[0] == 2 && ints[1] == 4 && ints[3] == 2 && ints[5] == 1 &&
              ints[7] == MPI_ORDER_FORTRAN && got[0] == MPI_INT);

    MPI_Datatype dup;
    MPI_Type_dup(MPI_INT, &dup);
    MPI_Type_get_envelope(dup, &ni, &na, &nd, &comb);
    ck_assert(comb == MPI_COMBINER_DUP && ni == 0 && na == 0 && nd == 1);
    MPI_Type_get_envelope(MPI_INT, &ni, &na, &nd, &comb);
    ck_assert(comb == MPI_COMBINER_NAMED && ni == 0 && nd == 0);
    ck_assert_int_eq(MPI_Type_get_contents(MPI_INT, 0, 0, 0, ints, aints, got), MPI_ERR_TYPE);

    MPI_Type_free(&dup);
    MPI_Type_free(&sub);
    MPI_Type_free(&r);
    MPI_Type_free(&s);
}
END_TEST

START_TEST(names)
{
    MPI_Datatype v;
    char name[MPI_MAX_OBJECT_NAME];
    int len;
    MPI_Type_contiguous(2, MPI_INT, &v);
    MPI_Type_set_name(v, "pair of ints");
    MPI_Type_get_name(v, name, &len);
    ck_assert_str_eq(name, "pair of ints");
    ck_assert_int_eq(len, 12);
    MPI_Type_get_name(MPI_DOUBLE, name, &len);
    ck_assert_str_eq(name, "MPI_DOUBLE");
    MPI_Type_free(&v);
}
END_TEST

START_TEST(self_send_outlives_free)
{
    /* a pending request keeps a freed type alive */
    MPI_Datatype v;
    MPI_Type_vector(100, 1, 3, MPI_DOUBLE, &v);
    MPI_Type_commit(&v);
    double *a = malloc(300 * sizeof(double)), *b = calloc(300, sizeof(double));
    for (int i = 0; i < 300; i++) {
        a[i] = i;
    }
    MPI_Request rq[2];
    MPI_Irecv(b, 1, v, 0, 5, MPI_COMM_WORLD, &rq[0]);
    MPI_Isend(a, 1, v, 0, 5, MPI_COMM_WORLD, &rq[1]);
    MPI_Type_free(&v);
    ck_assert_int_eq(MPI_Waitall(2, rq, MPI_STATUSES_IGNORE), MPI_SUCCESS);
    for (int i = 0; i < 300; i++) {
        ck_assert(b[i] == (i % 3 == 0 ? (double)i : 0.0));
    }
    free(a);
    free(b);
}
END_TEST

START_TEST(sendrecv_different_types)
{
    /* send a column (vector) of a 4x4 matrix, receive it contiguous */
    double m[16], col[4];
    for (int i = 0; i < 16; i++) {
        m[i] = i;
    }
    MPI_Datatype c;
    MPI_Type_vector(4, 1, 4, MPI_DOUBLE, &c);
    MPI_Type_commit(&c);
    MPI_Status st;
    ck_assert_int_eq(MPI_Sendrecv(m + 1, 1, c, 0, 1, col, 4, MPI_DOUBLE, 0, 1, MPI_COMM_WORLD, &st),
                     MPI_SUCCESS);
    ck_assert(col[0] == 1 && col[1] == 5 && col[2] == 9 && col[3] == 13);
    int n;
    MPI_Get_count(&st, c, &n);
    ck_assert_int_eq(n, 1);
    MPI_Get_elements(&st, c, &n);
    ck_assert_int_eq(n, 4);
    MPI_Type_free(&c);
}
END_TEST

static void user_sum(void *in, void *inout, int *len, MPI_Datatype *dt)
{
    MPI_Aint lb, ext;
    MPI_Type_get_extent(*dt, &lb, &ext);
    for (int i = 0; i < *len; i++) {
        double *a = (double *)((char *)in + i * ext), *b = (double *)((char *)inout + i * ext);
        b[0] += a[0];
    }
}

START_TEST(reduce_local_derived)
{
    MPI_Datatype c, v, s;
    MPI_Type_contiguous(3, MPI_DOUBLE, &c);
    MPI_Type_commit(&c);
    double in[6] = {1, 2, 3, 4, 5, 6}, io[6] = {10, 20, 30, 40, 50, 60};
    ck_assert_int_eq(MPI_Reduce_local(in, io, 2, c, MPI_SUM), MPI_SUCCESS);
    ck_assert(io[0] == 11 && io[5] == 66);
    /* strided: only every other double takes part, the rest stays */
    MPI_Type_vector(3, 1, 2, MPI_DOUBLE, &v);
    MPI_Type_commit(&v);
    double io2[6] = {10, 20, 30, 40, 50, 60};
    ck_assert_int_eq(MPI_Reduce_local(in, io2, 1, v, MPI_MAX), MPI_SUCCESS);
    ck_assert(io2[0] == 10 && io2[1] == 20 && io2[2] == 30 && io2[4] == 50 && io2[5] == 60);
    double in3[6] = {100, 0, 1, 0, 100, 0};
    MPI_Reduce_local(in3, io2, 1, v, MPI_MAX);
    ck_assert(io2[0] == 100 && io2[1] == 20 && io2[2] == 30 && io2[4] == 100);
    /* mixed element types have no predefined reduction */
    int bl[] = {1, 1};
    MPI_Aint disp[] = {0, 8};
    MPI_Datatype types[] = {MPI_INT, MPI_DOUBLE};
    MPI_Type_create_struct(2, bl, disp, types, &s);
    MPI_Type_commit(&s);
    char b1[16] = {0}, b2[16] = {0};
    ck_assert_int_eq(MPI_Reduce_local(b1, b2, 1, s, MPI_SUM), MPI_ERR_OP);
    /* a user op sees the caller's datatype */
    MPI_Op op;
    MPI_Op_create(user_sum, 1, &op);
    double io3[6] = {10, 20, 30, 40, 50, 60};
    ck_assert_int_eq(MPI_Reduce_local(in, io3, 2, c, op), MPI_SUCCESS);
    ck_assert(io3[0] == 11 && io3[1] == 20 && io3[3] == 44);
    MPI_Op_free(&op);
    /* pair elements keep their memory layout for MAXLOC/MINLOC */
    struct {
        double v;
        int i;
    } p_in[4] = {{1, 0}, {5, 1}, {2, 2}, {9, 3}}, p_io[4] = {{3, 7}, {5, 0}, {8, 8}, {1, 9}};
    MPI_Datatype pc, pv;
    MPI_Type_contiguous(2, MPI_DOUBLE_INT, &pc);
    MPI_Type_commit(&pc);
    ck_assert_int_eq(MPI_Reduce_local(p_in, p_io, 2, pc, MPI_MAXLOC), MPI_SUCCESS);
    ck_assert(p_io[0].v == 3 && p_io[0].i == 7 && p_io[1].v == 5 && p_io[1].i == 0);
    ck_assert(p_io[2].v == 8 && p_io[2].i == 8 && p_io[3].v == 9 && p_io[3].i == 3);
    struct {
        short v;
        int i;
    } q_in[4] = {{1, 1}, {2, 2}, {3, 3}, {4, 4}}, q_io[4] = {{5, 5}, {0, 6}, {1, 7}, {9, 8}};
    MPI_Type_vector(2, 1, 2, MPI_SHORT_INT, &pv);
    MPI_Type_commit(&pv);
    ck_assert_int_eq(MPI_Reduce_local(q_in, q_io, 1, pv, MPI_MINLOC), MPI_SUCCESS);
    ck_assert(q_io[0].v == 1 && q_io[0].i == 1 && q_io[1].v == 0 && q_io[1].i == 6);
    ck_assert(q_io[2].v == 1 && q_io[2].i == 7 && q_io[3].v == 9 && q_io[3].i == 8);
    MPI_Type_free(&pc);
    MPI_Type_free(&pv);
    MPI_Type_free(&s);
    MPI_Type_free(&v);
    MPI_Type_free(&c);
}
END_TEST

START_TEST(absolute_addresses)
{
    int x = 5;
    double y = 2.5;
    MPI_Aint ax, ay;
    MPI_Get_address(&x, &ax);
    MPI_Get_address(&y, &ay);
    ck_assert(MPI_Aint_diff(ay, ax) == (MPI_Aint)((char *)&y - (char *)&x));
    ck_assert(MPI_Aint_add(ax, 4) == ax + 4);
    int bl[] = {1, 1};
    MPI_Aint disp[] = {ax, ay};
    MPI_Datatype types[] = {MPI_INT, MPI_DOUBLE}, t;
    MPI_Type_create_struct(2, bl, disp, types, &t);
    MPI_Type_commit(&t);
    char buf[12];
    int pos = 0;
    ck_assert_int_eq(MPI_Pack(MPI_BOTTOM, 1, t, buf, 12, &pos, MPI_COMM_WORLD), MPI_SUCCESS);
    int xi;
    double yd;
    memcpy(&xi, buf, 4);
    memcpy(&yd, buf + 4, 8);
    ck_assert(xi == 5 && yd == 2.5);
    MPI_Type_free(&t);
}
END_TEST

/* The engine directly: any split of the stream into pieces gives the
 * same bytes as one pass, for a type with partial-block boundaries. */
START_TEST(engine_resumable)
{
    int bl[] = {3, 1, 2};
    int disp[] = {0, 5, 9};
    MPI_Datatype idx, t;
    MPI_Type_indexed(3, bl, disp, MPI_SHORT, &idx);
    MPI_Type_create_resized(idx, 0, 26, &t);
    MPI_Type_commit(&t);
    enum { N = 7 };
    unsigned char src[26 * N], full[12 * N], piece[12 * N], back[26 * N];
    for (size_t i = 0; i < sizeof(src); i++) {
        src[i] = (unsigned char)(i * 7 + 1);
    }
    struct sf_dt_cursor c;
    sf_mpi__dt_cursor(&c, t, N, src);
    ck_assert_uint_eq(sf_mpi__dt_pack(&c, full, sizeof(full) + 5), 12 * N);
    for (size_t chunk = 1; chunk <= 13; chunk++) {
        sf_mpi__dt_cursor(&c, t, N, src);
        size_t got = 0, k;
        while ((k = sf_mpi__dt_pack(&c, piece + got,
                                    chunk < sizeof(piece) - got ? chunk : sizeof(piece) - got)) >
               0) {
            got += k;
        }
        ck_assert_uint_eq(got, 12 * N);
        ck_assert_int_eq(memcmp(piece, full, got), 0);
        memset(back, 0, sizeof(back));
        sf_mpi__dt_cursor(&c, t, N, back);
        got = 0;
        while (got < sizeof(full) &&
               (k = sf_mpi__dt_unpack(
                    &c, full + got, chunk < sizeof(full) - got ? chunk : sizeof(full) - got)) > 0) {
            got += k;
        }
        for (size_t i = 0; i < N; i++) {
            for (int b = 0; b < 26; b++) {
                size_t o = i * 26 + (size_t)b;
                bool in = b < 6 || (b >= 10 && b < 12) || (b >= 18 && b < 22);
                ck_assert_int_eq(back[o], in ? src[o] : 0);
            }
        }
    }
    MPI_Type_free(&idx);
    MPI_Type_free(&t);
}
END_TEST

START_TEST(errors_reported)
{
    MPI_Datatype t;
    ck_assert_int_eq(MPI_Type_vector(-1, 1, 1, MPI_INT, &t), MPI_ERR_COUNT);
    ck_assert_int_eq(MPI_Type_contiguous(2, MPI_DATATYPE_NULL, &t), MPI_ERR_TYPE);
    MPI_Type_contiguous(2, MPI_INT, &t);
    int x[2] = {0, 0};
    /* uncommitted types cannot be used for communication */
    ck_assert_int_eq(MPI_Send(x, 1, t, 0, 0, MPI_COMM_WORLD), MPI_ERR_TYPE);
    ck_assert_int_eq(MPI_Type_free(&(MPI_Datatype){MPI_INT}), MPI_ERR_TYPE);
    MPI_Type_free(&t);
}
END_TEST

START_TEST(empty_types)
{
    MPI_Datatype e, s, v;
    MPI_Type_contiguous(0, MPI_INT, &e);
    MPI_Type_commit(&e);
    extent_is(e, 0, 0, 0, 0, 0);
    MPI_Type_create_struct(0, NULL, NULL, NULL, &s);
    MPI_Type_commit(&s);
    extent_is(s, 0, 0, 0, 0, 0);
    /* a vector of empty blocks is empty too */
    MPI_Type_vector(5, 0, 3, MPI_DOUBLE, &v);
    MPI_Type_commit(&v);
    extent_is(v, 0, 0, 0, 0, 0);
    int x = 7, y = 9;
    MPI_Status st;
    ck_assert_int_eq(MPI_Sendrecv(&x, 3, e, 0, 1, &y, 2, v, 0, 1, MPI_COMM_WORLD, &st),
                     MPI_SUCCESS);
    ck_assert_int_eq(y, 9);
    int n;
    MPI_Get_count(&st, e, &n);
    ck_assert_int_eq(n, 0);
    MPI_Get_elements(&st, v, &n);
    ck_assert_int_eq(n, 0);
    int pos = 0;
    ck_assert_int_eq(MPI_Pack(&x, 4, s, &y, 0, &pos, MPI_COMM_WORLD), MPI_SUCCESS);
    ck_assert_int_eq(pos, 0);
    MPI_Type_free(&v);
    MPI_Type_free(&s);
    MPI_Type_free(&e);
}
END_TEST

/* Large repeats of a multi-block type keep one copy of its blocks and
 * still pack like the flattened typemap. */
START_TEST(repeated_structs)
{
    enum { N = 1000 };
    MPI_Datatype r = rec_type(), c, v, cc, d, odd;
    MPI_Type_commit(&r);
    MPI_Type_contiguous(N, r, &c);
    MPI_Type_commit(&c);
    ck_assert_uint_eq(c->nent, 2); /* {a} and {d, c} (adjacent) */
    ck_assert_uint_eq(c->rep, N);
    extent_is(c, 0, N * 24, 0, (N - 1) * 24 + 17, N * 13);
    struct rec *in = calloc(2 * N, sizeof(*in)), *out = calloc(2 * N, sizeof(*out));
    for (int i = 0; i < 2 * N; i++) {
        in[i].a = i;
        in[i].d = i * 0.25;
        in[i].c = (char)i;
    }
    size_t bytes = 2 * N * 13;
    char *p1 = malloc(bytes), *p2 = malloc(bytes);
    int pos = 0;
    /* two instances of the repeated type == 2N instances of the struct */
    ck_assert_int_eq(MPI_Pack(in, 2, c, p1, (int)bytes, &pos, MPI_COMM_WORLD), MPI_SUCCESS);
    pos = 0;
    MPI_Pack(in, 2 * N, r, p2, (int)bytes, &pos, MPI_COMM_WORLD);
    ck_assert_int_eq(memcmp(p1, p2, bytes), 0);
    pos = 0;
    MPI_Unpack(p1, (int)bytes, &pos, out, 2, c, MPI_COMM_WORLD);
    ck_assert(out[2 * N - 1].a == 2 * N - 1 && out[N].d == N * 0.25 && out[7].c == 7);
    /* element counts and external32 follow the repetition */
    MPI_Status st;
    int n;
    MPI_Status_set_elements(&st, MPI_BYTE, 13 * (N + 1) + 4);
    MPI_Get_elements(&st, c, &n);
    ck_assert_int_eq(n, 3 * (N + 1) + 1);
    MPI_Status_set_elements(&st, c, 3 * N + 2);
    MPI_Get_elements(&st, MPI_BYTE, &n);
    ck_assert_int_eq(n, 13 * N + 12);
    MPI_Aint xs;
    MPI_Pack_external_size("external32", 1, c, &xs);
    ck_assert_int_eq((int)xs, N * 13);
    /* chunked packing through the engine agrees with one pass */
    struct sf_dt_cursor cur;
    sf_mpi__dt_cursor(&cur, c, 2, in);
    size_t got = 0, k;
    while ((k = sf_mpi__dt_pack(&cur, p2 + got, got + 7 < bytes ? 7 : bytes - got)) > 0) {
        got += k;
    }
    ck_assert_uint_eq(got, bytes);
    ck_assert_int_eq(memcmp(p1, p2, bytes), 0);
    /* a vector of single structs, a contiguous of the repeat and a dup */
    MPI_Type_vector(N / 2, 1, 2, r, &v);
    MPI_Type_commit(&v);
    ck_assert_uint_eq(v->rep, N / 2);
    pos = 0;
    MPI_Pack(in, 1, v, p1, (int)bytes, &pos, MPI_COMM_WORLD);
    ck_assert_int_eq(pos, N / 2 * 13);
    int a0, a1;
    memcpy(&a0, p1, 4);
    memcpy(&a1, p1 + 13, 4);
    ck_assert(a0 == 0 && a1 == 2);
    MPI_Type_contiguous(3, c, &cc);
    ck_assert_uint_eq(cc->rep, 3 * N);
    MPI_Type_dup(c, &d);
    ck_assert_uint_eq(d->rep, N);
    extent_is(d, 0, N * 24, 0, (N - 1) * 24 + 17, N * 13);
    /* copies that do not continue evenly are written out (and still right) */
    MPI_Type_create_hvector(2, 1, N * 24 + 48, c, &odd);
    MPI_Type_commit(&odd);
    ck_assert_uint_eq(odd->rep, 1);
    struct rec *big = calloc(2 * N + 2, sizeof(*big));
    for (int i = 0; i < 2 * N + 2; i++) {
        big[i].a = i;
    }
    pos = 0;
    MPI_Pack(big, 1, odd, p1, (int)bytes, &pos, MPI_COMM_WORLD);
    ck_assert_int_eq(pos, 2 * N * 13);
    memcpy(&a0, p1 + N * 13, 4);
    ck_assert_int_eq(a0, N + 2);
    free(big);
    MPI_Type_free(&odd);
    MPI_Type_free(&d);
    MPI_Type_free(&cc);
    MPI_Type_free(&v);
    MPI_Type_free(&c);
    MPI_Type_free(&r);
    free(in);
    free(out);
    free(p1);
    free(p2);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dtype");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, vector_layout);
    tcase_add_test(tc, hvector_negative_stride);
    tcase_add_test(tc, indexed_family);
    tcase_add_test(tc, struct_padding_and_roundtrip);
    tcase_add_test(tc, nested_vector_of_struct_of_indexed);
    tcase_add_test(tc, resized_and_markers);
    tcase_add_test(tc, dup_keeps_layout);
    tcase_add_test(tc, elements_partial);
    tcase_add_test(tc, subarray_c_and_fortran);
    tcase_add_test(tc, darray_block_and_cyclic);
    tcase_add_test(tc, external32_images);
    tcase_add_test(tc, envelope_contents);
    tcase_add_test(tc, names);
    tcase_add_test(tc, self_send_outlives_free);
    tcase_add_test(tc, sendrecv_different_types);
    tcase_add_test(tc, reduce_local_derived);
    tcase_add_test(tc, absolute_addresses);
    tcase_add_test(tc, engine_resumable);
    tcase_add_test(tc, errors_reported);
    tcase_add_test(tc, empty_types);
    tcase_add_test(tc, repeated_structs);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_FORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
