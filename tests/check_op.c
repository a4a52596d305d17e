/* Check suite for mpi-shim/op.c: every (op, type) pair the standard defines
 * against a scalar reference written independently of the kernels, the
 * undefined pairs rejected, MAXLOC/MINLOC ties, misaligned buffers.
 * Single-threaded; fork mode. */
#include "mpi-shim/sf_op.h"

#include <check.h>
#include <complex.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum fam { F_NONE, F_INT, F_FLT, F_CPLX, F_BOOL, F_BYTE, F_PAIR, F_TEXT, F_PACKED };

struct tdesc {
    enum sf_type t;
    enum fam fam;
    size_t size; /* bytes of the value part (ints, floats) */
    bool sgn;
    const char *name;
};

#define D(t, f, s, g)                                                                              \
    {                                                                                              \
        t, f, s, g, #t                                                                             \
    }
static const struct tdesc types[] = {
    D(SF_T_CHAR, F_TEXT, 1, true),
    D(SF_T_SIGNED_CHAR, F_INT, 1, true),
    D(SF_T_UNSIGNED_CHAR, F_INT, 1, false),
    D(SF_T_BYTE, F_BYTE, 1, false),
    D(SF_T_SHORT, F_INT, sizeof(short), true),
    D(SF_T_UNSIGNED_SHORT, F_INT, sizeof(short), false),
    D(SF_T_INT, F_INT, sizeof(int), true),
    D(SF_T_UNSIGNED, F_INT, sizeof(int), false),
    D(SF_T_LONG, F_INT, sizeof(long), true),
    D(SF_T_UNSIGNED_LONG, F_INT, sizeof(long), false),
    D(SF_T_LONG_LONG, F_INT, sizeof(long long), true),
    D(SF_T_UNSIGNED_LONG_LONG, F_INT, sizeof(long long), false),
    D(SF_T_FLOAT, F_FLT, sizeof(float), true),
    D(SF_T_DOUBLE, F_FLT, sizeof(double), true),
    D(SF_T_LONG_DOUBLE, F_FLT, sizeof(long double), true),
    D(SF_T_WCHAR, F_TEXT, sizeof(wchar_t), true),
    D(SF_T_C_BOOL, F_BOOL, sizeof(bool), false),
    D(SF_T_INT8, F_INT, 1, true),
    D(SF_T_INT16, F_INT, 2, true),
    D(SF_T_INT32, F_INT, 4, true),
    D(SF_T_INT64, F_INT, 8, true),
    D(SF_T_UINT8, F_INT, 1, false),
    D(SF_T_UINT16, F_INT, 2, false),
    D(SF_T_UINT32, F_INT, 4, false),
    D(SF_T_UINT64, F_INT, 8, false),
    D(SF_T_AINT, F_INT, sizeof(void *), true),
    D(SF_T_OFFSET, F_INT, 8, true),
    D(SF_T_COUNT, F_INT, 8, true),
    D(SF_T_C_FLOAT_COMPLEX, F_CPLX, sizeof(float _Complex), true),
    D(SF_T_C_DOUBLE_COMPLEX, F_CPLX, sizeof(double _Complex), true),
    D(SF_T_C_LONG_DOUBLE_COMPLEX, F_CPLX, sizeof(long double _Complex), true),
    D(SF_T_FLOAT_INT, F_PAIR, sizeof(float), true),
    D(SF_T_DOUBLE_INT, F_PAIR, sizeof(double), true),
    D(SF_T_LONG_INT, F_PAIR, sizeof(long), true),
    D(SF_T_2INT, F_PAIR, sizeof(int), true),
    D(SF_T_SHORT_INT, F_PAIR, sizeof(short), true),
    D(SF_T_LONG_DOUBLE_INT, F_PAIR, sizeof(long double), true),
    D(SF_T_PACKED, F_PACKED, 1, false),
};
#define NTYPES (sizeof(types) / sizeof(types[0]))

/* The pair layouts as MPI defines them (value, then int). */
struct p_f {
    float v;
    int i;
};
struct p_d {
    double v;
    int i;
};
struct p_l {
    long v;
    int i;
};
struct p_i {
    int v;
    int i;
};
struct p_s {
    short v;
    int i;
};
struct p_ld {
    long double v;
    int i;
};

/* Validity per MPI-3.1 section 5.9.2, written as a family table. */
static bool spec_valid(enum sf_op_kind op, enum fam f)
{
    switch (op) {
    case SF_OP_MAX:
    case SF_OP_MIN:
        return f == F_INT || f == F_FLT;
    case SF_OP_SUM:
    case SF_OP_PROD:
        return f == F_INT || f == F_FLT || f == F_CPLX;
    case SF_OP_LAND:
    case SF_OP_LOR:
    case SF_OP_LXOR:
        return f == F_INT || f == F_BOOL;
    case SF_OP_BAND:
    case SF_OP_BOR:
    case SF_OP_BXOR:
        return f == F_INT || f == F_BYTE;
    case SF_OP_MAXLOC:
    case SF_OP_MINLOC:
        return f == F_PAIR;
    case SF_OP_REPLACE:
    case SF_OP_NO_OP:
        return true;
    default:
        return false;
    }
}

static size_t elem_size(const struct tdesc *d)
{
    switch (d->t) {
    case SF_T_FLOAT_INT:
        return sizeof(struct p_f);
    case SF_T_DOUBLE_INT:
        return sizeof(struct p_d);
    case SF_T_LONG_INT:
        return sizeof(struct p_l);
    case SF_T_2INT:
        return sizeof(struct p_i);
    case SF_T_SHORT_INT:
        return sizeof(struct p_s);
    case SF_T_LONG_DOUBLE_INT:
        return sizeof(struct p_ld);
    default:
        return d->size;
    }
}

/* ---- integer reference: widen to 64 bits, compute, truncate ---- */
static uint64_t ld_u(const void *p, size_t n)
{
    uint64_t v = 0;
    memcpy(&v, p, n); /* little-endian host */
    return v;
}
static int64_t ld_s(const void *p, size_t n)
{
    uint64_t v = ld_u(p, n);
    unsigned sh = 64 - 8 * (unsigned)n;
    return sh ? (int64_t)(v << sh) >> sh : (int64_t)v;
}

static void ref_int(enum sf_op_kind op, const struct tdesc *d, const void *a, void *b)
{
    uint64_t ua = ld_u(a, d->size), ub = ld_u(b, d->size), r = 0;
    int64_t sa = ld_s(a, d->size), sb = ld_s(b, d->size);
    bool gt = d->sgn ? sa > sb : ua > ub;
    switch (op) {
    case SF_OP_MAX:
        r = gt ? ua : ub;
        break;
    case SF_OP_MIN:
        r = gt ? ub : ua;
        break;
    case SF_OP_SUM:
        r = ua + ub;
        break;
    case SF_OP_PROD:
        r = ua * ub;
        break;
    case SF_OP_LAND:
        r = ua && ub;
        break;
    case SF_OP_LOR:
        r = ua || ub;
        break;
    case SF_OP_LXOR:
        r = (ua != 0) != (ub != 0);
        break;
    case SF_OP_BAND:
        r = ua & ub;
        break;
    case SF_OP_BOR:
        r = ua | ub;
        break;
    case SF_OP_BXOR:
        r = ua ^ ub;
        break;
    case SF_OP_REPLACE:
        r = ua;
        break;
    case SF_OP_NO_OP:
        r = ub;
        break;
    default:
        ck_abort_msg("bad op");
    }
    memcpy(b, &r, d->size);
}

#define REF_FLT(T)                                                                                 \
    do {                                                                                           \
        T x, y;                                                                                    \
        memcpy(&x, a, sizeof x);                                                                   \
        memcpy(&y, b, sizeof y);                                                                   \
        switch (op) {                                                                              \
        case SF_OP_MAX:                                                                            \
            y = x > y ? x : y;                                                                     \
            break;                                                                                 \
        case SF_OP_MIN:                                                                            \
            y = x < y ? x : y;                                                                     \
            break;                                                                                 \
        case SF_OP_SUM:                                                                            \
            y = x + y;                                                                             \
            break;                                                                                 \
        case SF_OP_PROD:                                                                           \
            y = x * y;                                                                             \
            break;                                                                                 \
        case SF_OP_REPLACE:                                                                        \
            y = x;                                                                                 \
            break;                                                                                 \
        default:                                                                                   \
            break;                                                                                 \
        }                                                                                          \
        memcpy(b, &y, sizeof y);                                                                   \
    } while (0)

#define REF_CPLX(T)                                                                                \
    do {                                                                                           \
        T x, y;                                                                                    \
        memcpy(&x, a, sizeof x);                                                                   \
        memcpy(&y, b, sizeof y);                                                                   \
        if (op == SF_OP_SUM) {                                                                     \
            y = x + y;                                                                             \
        } else if (op == SF_OP_PROD) {                                                             \
            y = x * y;                                                                             \
        } else if (op == SF_OP_REPLACE) {                                                          \
            y = x;                                                                                 \
        }                                                                                          \
        memcpy(b, &y, sizeof y);                                                                   \
    } while (0)

#define REF_PAIR(S)                                                                                \
    do {                                                                                           \
        struct S x, y;                                                                             \
        memcpy(&x, a, sizeof x);                                                                   \
        memcpy(&y, b, sizeof y);                                                                   \
        if (op == SF_OP_REPLACE) {                                                                 \
            y = x;                                                                                 \
        } else if (op != SF_OP_NO_OP) {                                                            \
            bool better = op == SF_OP_MAXLOC ? x.v > y.v : x.v < y.v;                              \
            if (better || (x.v == y.v && x.i < y.i)) {                                             \
                y.i = x.i;                                                                         \
            }                                                                                      \
            if (better) {                                                                          \
                y.v = x.v;                                                                         \
            }                                                                                      \
        }                                                                                          \
        memcpy(b, &y, sizeof y);                                                                   \
    } while (0)

static void ref_one(enum sf_op_kind op, const struct tdesc *d, const void *a, void *b)
{
    switch (d->t) {
    case SF_T_FLOAT:
        REF_FLT(float);
        return;
    case SF_T_DOUBLE:
        REF_FLT(double);
        return;
    case SF_T_LONG_DOUBLE:
        REF_FLT(long double);
        return;
    case SF_T_C_FLOAT_COMPLEX:
        REF_CPLX(float _Complex);
        return;
    case SF_T_C_DOUBLE_COMPLEX:
        REF_CPLX(double _Complex);
        return;
    case SF_T_C_LONG_DOUBLE_COMPLEX:
        REF_CPLX(long double _Complex);
        return;
    case SF_T_FLOAT_INT:
        REF_PAIR(p_f);
        return;
    case SF_T_DOUBLE_INT:
        REF_PAIR(p_d);
        return;
    case SF_T_LONG_INT:
        REF_PAIR(p_l);
        return;
    case SF_T_2INT:
        REF_PAIR(p_i);
        return;
    case SF_T_SHORT_INT:
        REF_PAIR(p_s);
        return;
    case SF_T_LONG_DOUBLE_INT:
        REF_PAIR(p_ld);
        return;
    case SF_T_C_BOOL: {
        bool x, y;
        memcpy(&x, a, 1);
        memcpy(&y, b, 1);
        if (op == SF_OP_LAND) {
            y = x && y;
        } else if (op == SF_OP_LOR) {
            y = x || y;
        } else if (op == SF_OP_LXOR) {
            y = x != y;
        } else if (op == SF_OP_REPLACE) {
            y = x;
        }
        memcpy(b, &y, 1);
        return;
    }
    default:
        ref_int(op, d, a, b);
        return;
    }
}

/* Fill one element with test data: small values (so products stay finite
 * and ties happen), zeros sprinkled in for the logical ops. */
static void fill_one(const struct tdesc *d, void *p, unsigned r)
{
    size_t es = elem_size(d);
    memset(p, 0, es);
    int v = (int)(r % 13) - 4; /* -4..8: negatives, zeros, repeats */
    switch (d->fam) {
    case F_FLT:
    case F_CPLX:
        if (d->t == SF_T_FLOAT || d->t == SF_T_C_FLOAT_COMPLEX) {
            float f[2] = {v * 0.75f, (int)(r >> 8) % 7 * 0.5f};
            memcpy(p, f, d->t == SF_T_FLOAT ? sizeof(float) : 2 * sizeof(float));
        } else if (d->t == SF_T_DOUBLE || d->t == SF_T_C_DOUBLE_COMPLEX) {
            double f[2] = {v * 0.3, (int)(r >> 8) % 7 * 0.1};
            memcpy(p, f, d->t == SF_T_DOUBLE ? sizeof(double) : 2 * sizeof(double));
        } else if (d->t == SF_T_LONG_DOUBLE) {
            long double f = v * 0.3L;
            memcpy(p, &f, sizeof f);
        } else {
            long double _Complex f = v * 0.3L + I * ((int)(r >> 8) % 7 * 0.1L);
            memcpy(p, &f, sizeof f);
        }
        break;
    case F_BOOL: {
        bool b = r & 1;
        memcpy(p, &b, 1);
        break;
    }
    case F_PAIR: {
        int idx = (int)(r >> 8) % 5;
        switch (d->t) {
        case SF_T_FLOAT_INT: {
            struct p_f x = {v * 0.5f, idx};
            memcpy(p, &x, sizeof x);
            break;
        }
        case SF_T_DOUBLE_INT: {
            struct p_d x = {v * 0.5, idx};
            memcpy(p, &x, sizeof x);
            break;
        }
        case SF_T_LONG_INT: {
            struct p_l x = {v, idx};
            memcpy(p, &x, sizeof x);
            break;
        }
        case SF_T_2INT: {
            struct p_i x = {v, idx};
            memcpy(p, &x, sizeof x);
            break;
        }
        case SF_T_SHORT_INT: {
            struct p_s x = {(short)v, idx};
            memcpy(p, &x, sizeof x);
            break;
        }
        default: {
            struct p_ld x = {v * 0.5L, idx};
            memcpy(p, &x, sizeof x);
            break;
        }
        }
        break;
    }
    default: {
        /* Integers: mostly full-width random bits (wrap-around in sums and
         * products), a fifth small or zero. */
        uint64_t x = (uint64_t)r * 0x9E3779B97F4A7C15ull;
        if (r % 5 == 0) {
            x = (uint64_t)(int64_t)v;
        }
        memcpy(p, &x, d->size);
        break;
    }
    }
}

/* Compare element values, ignoring struct padding and long double's six
 * unused bytes. */
static bool same_elem(const struct tdesc *d, const void *x, const void *y)
{
    switch (d->t) {
    case SF_T_LONG_DOUBLE: {
        long double a, b;
        memcpy(&a, x, sizeof a);
        memcpy(&b, y, sizeof b);
        return a == b;
    }
    case SF_T_C_LONG_DOUBLE_COMPLEX: {
        long double _Complex a, b;
        memcpy(&a, x, sizeof a);
        memcpy(&b, y, sizeof b);
        return a == b;
    }
#define CMP_PAIR(E, S)                                                                             \
    case E: {                                                                                      \
        struct S a, b;                                                                             \
        memcpy(&a, x, sizeof a);                                                                   \
        memcpy(&b, y, sizeof b);                                                                   \
        return a.v == b.v && a.i == b.i;                                                           \
    }
        CMP_PAIR(SF_T_FLOAT_INT, p_f)
        CMP_PAIR(SF_T_DOUBLE_INT, p_d)
        CMP_PAIR(SF_T_LONG_INT, p_l)
        CMP_PAIR(SF_T_2INT, p_i)
        CMP_PAIR(SF_T_SHORT_INT, p_s)
        CMP_PAIR(SF_T_LONG_DOUBLE_INT, p_ld)
    default:
        return memcmp(x, y, d->size) == 0;
    }
}

/* Run op on n elements at byte offsets oa/ob into over-allocated buffers
 * and compare with the reference, element by element. */
static void run_case(enum sf_op_kind op, const struct tdesc *d, size_t n, size_t oa, size_t ob,
                     unsigned seed)
{
    size_t es = elem_size(d);
    unsigned char *a = malloc(n * es + 64), *b = malloc(n * es + 64), *e = malloc(n * es + 1);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    for (size_t i = 0; i < n; i++) {
        fill_one(d, a + oa + i * es, seed + (unsigned)i * 7919u);
        fill_one(d, b + ob + i * es, seed * 31u + (unsigned)i * 104729u + 3);
    }
    memcpy(e, b + ob, n * es);
    for (size_t i = 0; i < n; i++) {
        ref_one(op, d, a + oa + i * es, e + i * es);
    }
    ck_assert_int_eq(sf_op_apply(op, d->t, a + oa, b + ob, n), 0);
    /* One ck_assert per case: each call costs a pipe write. */
    size_t bad = n;
    for (size_t i = 0; i < n && bad == n; i++) {
        if (!same_elem(d, b + ob + i * es, e + i * es)) {
            bad = i;
        }
    }
    ck_assert_msg(bad == n, "op %d type %s elem %zu/%zu off %zu/%zu", (int)op, d->name, bad, n, oa,
                  ob);
    free(a);
    free(b);
    free(e);
}

START_TEST(valid_matrix)
{
    /* The tabled validity must match the standard's family table exactly. */
    for (size_t k = 0; k < NTYPES; k++) {
        for (int op = SF_OP_NULL; op < SF_OP_LAST; op++) {
            bool want = spec_valid((enum sf_op_kind)op, types[k].fam);
            ck_assert_msg(sf_op_valid((enum sf_op_kind)op, types[k].t) == want,
                          "op %d type %s: expected %d", op, types[k].name, want);
        }
    }
    ck_assert_int_eq(sf_op_valid(SF_OP_SUM, SF_T_NONE), 0);
    ck_assert_int_eq(sf_op_valid(SF_OP_SUM, SF_T_LAST), 0);
    ck_assert_int_eq(sf_op_valid(SF_OP_LAST, SF_T_INT), 0);
    ck_assert_int_eq(sf_op_valid((enum sf_op_kind) - 1, SF_T_INT), 0);
}
END_TEST

START_TEST(sizes)
{
    for (size_t k = 0; k < NTYPES; k++) {
        ck_assert_msg(sf_type_size(types[k].t) == elem_size(&types[k]), "%s", types[k].name);
    }
    ck_assert_uint_eq(sf_type_size(SF_T_NONE), 0);
    ck_assert_uint_eq(sf_type_size(SF_T_LAST), 0);
}
END_TEST

/* _i is the op: every type under it. */
START_TEST(every_valid_pair)
{
    enum sf_op_kind op = (enum sf_op_kind)_i;
    static const size_t counts[] = {0, 1, 3, 17, 64, 1001};
    for (size_t k = 0; k < NTYPES; k++) {
        const struct tdesc *d = &types[k];
        if (!spec_valid(op, d->fam)) {
            continue;
        }
        for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
            run_case(op, d, counts[c], 0, 0, (unsigned)(k * 100 + c + 1));
        }
    }
}
END_TEST

START_TEST(invalid_rejected)
{
    unsigned char a[64] = {1, 2, 3}, b[64] = {4, 5, 6}, b0[64];
    memcpy(b0, b, sizeof b);
    for (size_t k = 0; k < NTYPES; k++) {
        for (int op = SF_OP_NULL; op < SF_OP_LAST; op++) {
            if (spec_valid((enum sf_op_kind)op, types[k].fam)) {
                continue;
            }
            ck_assert_int_eq(sf_op_apply((enum sf_op_kind)op, types[k].t, a, b, 1), -EINVAL);
            ck_assert_int_eq(memcmp(b, b0, sizeof b), 0); /* untouched */
        }
    }
    ck_assert_int_eq(sf_op_apply(SF_OP_SUM, SF_T_NONE, a, b, 1), -EINVAL);
    ck_assert_int_eq(sf_op_apply(SF_OP_LAST, SF_T_INT, a, b, 1), -EINVAL);
}
END_TEST

START_TEST(loc_ties)
{
    /* Equal values: the lower index wins, whichever side holds it. */
    struct p_d in[4] = {{1.0, 5}, {1.0, 2}, {3.0, 9}, {-1.0, 0}};
    struct p_d io[4] = {{1.0, 3}, {1.0, 4}, {2.0, 1}, {0.0, 7}};
    ck_assert_int_eq(sf_op_apply(SF_OP_MAXLOC, SF_T_DOUBLE_INT, in, io, 4), 0);
    ck_assert_int_eq(io[0].i, 3);
    ck_assert_int_eq(io[1].i, 2);
    ck_assert(io[2].v == 3.0 && io[2].i == 9);
    ck_assert(io[3].v == 0.0 && io[3].i == 7);

    struct p_i mi[3] = {{4, 8}, {4, 1}, {2, 6}};
    struct p_i mo[3] = {{4, 2}, {4, 3}, {1, 6}};
    ck_assert_int_eq(sf_op_apply(SF_OP_MINLOC, SF_T_2INT, mi, mo, 3), 0);
    ck_assert(mo[0].v == 4 && mo[0].i == 2);
    ck_assert(mo[1].v == 4 && mo[1].i == 1);
    ck_assert(mo[2].v == 1 && mo[2].i == 6);

    struct p_s si = {-3, 10}, so = {-3, 11};
    ck_assert_int_eq(sf_op_apply(SF_OP_MINLOC, SF_T_SHORT_INT, &si, &so, 1), 0);
    ck_assert(so.v == -3 && so.i == 10);
}
END_TEST

START_TEST(unaligned)
{
    /* Odd offsets for either or both operands, counts spanning several
     * bounce-buffer chunks. */
    static const enum sf_op_kind ops[] = {SF_OP_SUM,  SF_OP_MAX,    SF_OP_PROD,   SF_OP_BXOR,
                                          SF_OP_LAND, SF_OP_MINLOC, SF_OP_REPLACE};
    static const size_t offs[][2] = {{1, 0}, {0, 3}, {5, 5}, {7, 2}};
    for (size_t k = 0; k < NTYPES; k++) {
        for (size_t o = 0; o < sizeof(ops) / sizeof(ops[0]); o++) {
            if (!spec_valid(ops[o], types[k].fam)) {
                continue;
            }
            for (size_t f = 0; f < 4; f++) {
                run_case(ops[o], &types[k], 1500, offs[f][0], offs[f][1], (unsigned)(k + f));
            }
        }
    }
}
END_TEST

START_TEST(int_wraparound)
{
    int a[2] = {INT32_MAX, INT32_MIN}, b[2] = {1, -1};
    ck_assert_int_eq(sf_op_apply(SF_OP_SUM, SF_T_INT, a, b, 2), 0);
    ck_assert_int_eq(b[0], INT32_MIN);
    ck_assert_int_eq(b[1], INT32_MAX);
    unsigned short x = 65535, y = 65535;
    ck_assert_int_eq(sf_op_apply(SF_OP_PROD, SF_T_UNSIGNED_SHORT, &x, &y, 1), 0);
    ck_assert_uint_eq(y, 1);
}
END_TEST

static Suite *op_suite(void)
{
    Suite *s = suite_create("op");
    TCase *tc = tcase_create("kernels");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, valid_matrix);
    tcase_add_test(tc, sizes);
    tcase_add_loop_test(tc, every_valid_pair, SF_OP_MAX, SF_OP_LAST);
    tcase_add_test(tc, invalid_rejected);
    tcase_add_test(tc, loc_ties);
    tcase_add_test(tc, unaligned);
    tcase_add_test(tc, int_wraparound);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(op_suite());
    srunner_set_fork_status(sr, CK_FORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
