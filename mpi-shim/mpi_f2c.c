/* Fortran integer handles (MPI_x_c2f/f2c for every handle kind, with the
 * predefined objects at Open MPI's Fortran indices, e.g. MPI_COMM_WORLD =
 * 0) and program-defined error classes/codes/strings (MPI_Add_error_*).
 * No Fortran bindings themselves. Process-wide tables; caller's thread. */
#include <stdlib.h>
#include <string.h>

#include "mpi-shim/shim_int.h"

/* A kind's table: index -> object, and a hash object -> index. Entries
 * are never removed: a freed object's index is dead until the address
 * comes back (then it gets the same index), so the table is bounded by
 * the number of distinct addresses handles ever had. */
struct ftab {
    void **obj;
    int n, cap;
    int *hash; /* index + 1, 0 = empty; hcap slots, power of two */
    int hcap;
    bool init;
};

enum { K_COMM, K_TYPE, K_GROUP, K_REQ, K_OP, K_INFO, K_ERRH, K_WIN, K_FILE, K_MSG, K_N };
static struct ftab tabs[K_N];

static int ftab_add(int k, void *obj, int at);

static void *const pre_type[] = {
    [0] = (void *)&ompi_mpi_datatype_null,
    [1] = (void *)&ompi_mpi_byte,
    [2] = (void *)&ompi_mpi_packed,
    [3] = (void *)&ompi_mpi_ub,
    [4] = (void *)&ompi_mpi_lb,
    [5] = (void *)&ompi_mpi_character,
    [6] = (void *)&ompi_mpi_logical,
    [7] = (void *)&ompi_mpi_integer,
    [8] = (void *)&ompi_mpi_integer1,
    [9] = (void *)&ompi_mpi_integer2,
    [10] = (void *)&ompi_mpi_integer4,
    [11] = (void *)&ompi_mpi_integer8,
    [13] = (void *)&ompi_mpi_real,
    [14] = (void *)&ompi_mpi_real4,
    [15] = (void *)&ompi_mpi_real8,
    [16] = (void *)&ompi_mpi_real16,
    [17] = (void *)&ompi_mpi_dblprec,
    [18] = (void *)&ompi_mpi_cplex,
    [19] = (void *)&ompi_mpi_complex8,
    [20] = (void *)&ompi_mpi_complex16,
    [21] = (void *)&ompi_mpi_complex32,
    [22] = (void *)&ompi_mpi_dblcplex,
    [23] = (void *)&ompi_mpi_2real,
    [24] = (void *)&ompi_mpi_2dblprec,
    [25] = (void *)&ompi_mpi_2integer,
    [26] = (void *)&ompi_mpi_2cplex,
    [27] = (void *)&ompi_mpi_2dblcplex,
    [29] = (void *)&ompi_mpi_logical1,
    [30] = (void *)&ompi_mpi_logical2,
    [31] = (void *)&ompi_mpi_logical4,
    [32] = (void *)&ompi_mpi_logical8,
    [33] = (void *)&ompi_mpi_wchar,
    [34] = (void *)&ompi_mpi_char,
    [35] = (void *)&ompi_mpi_unsigned_char,
    [36] = (void *)&ompi_mpi_signed_char,
    [37] = (void *)&ompi_mpi_short,
    [38] = (void *)&ompi_mpi_unsigned_short,
    [39] = (void *)&ompi_mpi_int,
    [40] = (void *)&ompi_mpi_unsigned,
    [41] = (void *)&ompi_mpi_long,
    [42] = (void *)&ompi_mpi_unsigned_long,
    [43] = (void *)&ompi_mpi_long_long_int,
    [44] = (void *)&ompi_mpi_unsigned_long_long,
    [45] = (void *)&ompi_mpi_float,
    [46] = (void *)&ompi_mpi_double,
    [47] = (void *)&ompi_mpi_long_double,
    [48] = (void *)&ompi_mpi_float_int,
    [49] = (void *)&ompi_mpi_double_int,
    [50] = (void *)&ompi_mpi_longdbl_int,
    [51] = (void *)&ompi_mpi_long_int,
    [52] = (void *)&ompi_mpi_2int,
    [53] = (void *)&ompi_mpi_short_int,
    [54] = (void *)&ompi_mpi_cxx_bool,
    [55] = (void *)&ompi_mpi_cxx_cplex,
    [56] = (void *)&ompi_mpi_cxx_dblcplex,
    [57] = (void *)&ompi_mpi_cxx_ldblcplex,
    [58] = (void *)&ompi_mpi_int8_t,
    [59] = (void *)&ompi_mpi_uint8_t,
    [60] = (void *)&ompi_mpi_int16_t,
    [61] = (void *)&ompi_mpi_uint16_t,
    [62] = (void *)&ompi_mpi_int32_t,
    [63] = (void *)&ompi_mpi_uint32_t,
    [64] = (void *)&ompi_mpi_int64_t,
    [65] = (void *)&ompi_mpi_uint64_t,
    [66] = (void *)&ompi_mpi_aint,
    [67] = (void *)&ompi_mpi_offset,
    [68] = (void *)&ompi_mpi_c_bool,
    [69] = (void *)&ompi_mpi_c_float_complex,
    [70] = (void *)&ompi_mpi_c_double_complex,
    [71] = (void *)&ompi_mpi_c_long_double_complex,
    [72] = (void *)&ompi_mpi_count,
    [12] = (void *)&ompi_mpi_integer16,
    [28] = (void *)&ompi_mpi_real2,
};
static void *const pre_comm[] = {(void *)&ompi_mpi_comm_world, (void *)&ompi_mpi_comm_self,
                                 (void *)&ompi_mpi_comm_null};
static void *const pre_group[] = {(void *)&ompi_mpi_group_null, (void *)&ompi_mpi_group_empty};
static void *const pre_req[] = {(void *)&ompi_request_null};
static void *const pre_op[] = {
    (void *)&ompi_mpi_op_null,   (void *)&ompi_mpi_op_max,     (void *)&ompi_mpi_op_min,
    (void *)&ompi_mpi_op_sum,    (void *)&ompi_mpi_op_prod,    (void *)&ompi_mpi_op_land,
    (void *)&ompi_mpi_op_band,   (void *)&ompi_mpi_op_lor,     (void *)&ompi_mpi_op_bor,
    (void *)&ompi_mpi_op_lxor,   (void *)&ompi_mpi_op_bxor,    (void *)&ompi_mpi_op_maxloc,
    (void *)&ompi_mpi_op_minloc, (void *)&ompi_mpi_op_replace, (void *)&ompi_mpi_op_no_op};
static void *const pre_info[] = {(void *)&ompi_mpi_info_null, (void *)&ompi_mpi_info_env};
static void *const pre_errh[] = {(void *)&ompi_mpi_errhandler_null,
                                 (void *)&ompi_mpi_errors_are_fatal,
                                 (void *)&ompi_mpi_errors_return};
static void *const pre_win[] = {(void *)&ompi_mpi_win_null};
static void *const pre_file[] = {(void *)&ompi_mpi_file_null};
static void *const pre_msg[] = {(void *)&ompi_message_null, (void *)&ompi_message_no_proc};

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static void ftab_init(int k)
{
    static const struct {
        void *const *p;
        int n;
    } pre[K_N] = {[K_COMM] = {pre_comm, N(pre_comm)},    [K_TYPE] = {pre_type, N(pre_type)},
                  [K_GROUP] = {pre_group, N(pre_group)}, [K_REQ] = {pre_req, N(pre_req)},
                  [K_OP] = {pre_op, N(pre_op)},          [K_INFO] = {pre_info, N(pre_info)},
                  [K_ERRH] = {pre_errh, N(pre_errh)},    [K_WIN] = {pre_win, N(pre_win)},
                  [K_FILE] = {pre_file, N(pre_file)},    [K_MSG] = {pre_msg, N(pre_msg)}};
    struct ftab *t = &tabs[k];
    t->init = true;
    for (int i = 0; i < pre[k].n; i++) {
        /* fixed positions, so the Fortran constants mean these objects */
        ftab_add(k, pre[k].p[i], i);
    }
}

static size_t hslot(const struct ftab *t, const void *p)
{
    uintptr_t x = (uintptr_t)p;
    x ^= x >> 17;
    x *= 0x9e3779b97f4a7c15ull;
    return (size_t)(x >> 20) & (size_t)(t->hcap - 1);
}

static int hfind(const struct ftab *t, const void *p)
{
    if (t->hcap == 0) {
        return -1;
    }
    for (size_t s = hslot(t, p);; s = (s + 1) & (size_t)(t->hcap - 1)) {
        int v = t->hash[s];
        if (v == 0) {
            return -1;
        }
        if (t->obj[v - 1] == p) {
            return v - 1;
        }
    }
}

static int hput(struct ftab *t, int idx)
{
    if ((t->n + 1) * 2 > t->hcap) {
        int ncap = t->hcap ? t->hcap * 2 : 64;
        int *h = calloc((size_t)ncap, sizeof(int));
        if (h == NULL) {
            return -1;
        }
        free(t->hash);
        t->hash = h;
        t->hcap = ncap;
        for (int i = 0; i < t->n; i++) {
            if (t->obj[i] != NULL && i != idx) {
                size_t s = hslot(t, t->obj[i]);
                while (t->hash[s] != 0) {
                    s = (s + 1) & (size_t)(t->hcap - 1);
                }
                t->hash[s] = i + 1;
            }
        }
    }
    size_t s = hslot(t, t->obj[idx]);
    while (t->hash[s] != 0) {
        s = (s + 1) & (size_t)(t->hcap - 1);
    }
    t->hash[s] = idx + 1;
    return 0;
}

/* Put obj at index 'at' (or the end for -1); its index or -1. */
static int ftab_add(int k, void *obj, int at)
{
    struct ftab *t = &tabs[k];
    int idx = at >= 0 ? at : t->n;
    if (idx >= t->cap) {
        int ncap = t->cap ? t->cap * 2 : 128;
        while (ncap <= idx) {
            ncap *= 2;
        }
        void **o = realloc(t->obj, sizeof(void *) * (size_t)ncap);
        if (o == NULL) {
            return -1;
        }
        memset(o + t->cap, 0, sizeof(void *) * (size_t)(ncap - t->cap));
        t->obj = o;
        t->cap = ncap;
    }
    t->obj[idx] = obj;
    if (idx >= t->n) {
        t->n = idx + 1;
    }
    if (obj != NULL && hput(t, idx) < 0) {
        t->obj[idx] = NULL;
        return -1;
    }
    return idx;
}

static MPI_Fint c2f(int k, void *obj)
{
    if (!tabs[k].init) {
        ftab_init(k);
    }
    if (obj == NULL) {
        return -1;
    }
    int i = hfind(&tabs[k], obj);
    if (i < 0) {
        i = ftab_add(k, obj, -1);
    }
    return (MPI_Fint)i;
}

static void *f2c(int k, MPI_Fint f)
{
    if (!tabs[k].init) {
        ftab_init(k);
    }
    if (f < 0 || f >= tabs[k].n) {
        return NULL;
    }
    return tabs[k].obj[f];
}

#define SF_F2C_PAIR(Kind, Type, K)                                                                 \
    MPI_Fint PMPI_##Kind##_c2f(Type h)                                                             \
    {                                                                                              \
        SF_MPI_ENTER();                                                                            \
        return c2f(K, (void *)h);                                                                  \
    }                                                                                              \
    SF_MPI_ALIAS(Kind##_c2f);                                                                      \
    Type PMPI_##Kind##_f2c(MPI_Fint f)                                                             \
    {                                                                                              \
        SF_MPI_ENTER();                                                                            \
        return (Type)f2c(K, f);                                                                    \
    }                                                                                              \
    SF_MPI_ALIAS(Kind##_f2c)

SF_F2C_PAIR(Comm, MPI_Comm, K_COMM);
SF_F2C_PAIR(Type, MPI_Datatype, K_TYPE);
SF_F2C_PAIR(Group, MPI_Group, K_GROUP);
SF_F2C_PAIR(Request, MPI_Request, K_REQ);
SF_F2C_PAIR(Op, MPI_Op, K_OP);
SF_F2C_PAIR(Info, MPI_Info, K_INFO);
SF_F2C_PAIR(Errhandler, MPI_Errhandler, K_ERRH);
SF_F2C_PAIR(Win, MPI_Win, K_WIN);
SF_F2C_PAIR(File, MPI_File, K_FILE);
SF_F2C_PAIR(Message, MPI_Message, K_MSG);

/* --- program-defined error classes and codes --- */

struct uerr {
    int cls;   /* the class of this code (itself for a class) */
    char *str; /* MPI_Add_error_string, or NULL */
};
static struct uerr *uerrs; /* code MPI_ERR_LASTCODE + 1 + i */
static int nuerr;

static struct uerr *uerr_get(int code)
{
    int i = code - MPI_ERR_LASTCODE - 1;
    return i >= 0 && i < nuerr ? &uerrs[i] : NULL;
}

int sf_mpi__user_err_class(int code)
{
    struct uerr *u = uerr_get(code);
    return u != NULL ? u->cls : -1;
}

const char *sf_mpi__user_err_string(int code)
{
    struct uerr *u = uerr_get(code);
    return u == NULL ? NULL : u->str != NULL ? u->str : "";
}

static int uerr_new(int cls)
{
    struct uerr *n = realloc(uerrs, sizeof(*n) * (size_t)(nuerr + 1));
    if (n == NULL) {
        return -1;
    }
    uerrs = n;
    int code = MPI_ERR_LASTCODE + 1 + nuerr;
    uerrs[nuerr].cls = cls < 0 ? code : cls;
    uerrs[nuerr].str = NULL;
    nuerr++;
    sf_mpi__attr_lastcode(code);
    return code;
}

int PMPI_Add_error_class(int *errorclass)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Add_error_class";
    int err = sf_mpi__chk_init(fn);
    if (err) {
        return err;
    }
    if (errorclass == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn, "errorclass is NULL");
    }
    int c = uerr_new(-1);
    if (c < 0) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_NO_MEM, fn, "out of memory");
    }
    *errorclass = c;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Add_error_class);

int PMPI_Add_error_code(int errorclass, int *errorcode)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Add_error_code";
    int err = sf_mpi__chk_init(fn);
    if (err) {
        return err;
    }
    if (errorcode == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn, "errorcode is NULL");
    }
    bool predefined = errorclass >= 0 && errorclass <= MPI_ERR_LASTCODE;
    if (!predefined && sf_mpi__user_err_class(errorclass) != errorclass) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn, "%d is not an error class",
                             errorclass);
    }
    int c = uerr_new(errorclass);
    if (c < 0) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_NO_MEM, fn, "out of memory");
    }
    *errorcode = c;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Add_error_code);

int PMPI_Add_error_string(int errorcode, const char *string)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Add_error_string";
    int err = sf_mpi__chk_init(fn);
    if (err) {
        return err;
    }
    struct uerr *u = uerr_get(errorcode);
    if (u == NULL || string == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn,
                             "%d is not a program-defined error code (or string is NULL)",
                             errorcode);
    }
    char *s = strndup(string, MPI_MAX_ERROR_STRING - 1);
    if (s == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_NO_MEM, fn, "out of memory");
    }
    free(u->str);
    u->str = s;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Add_error_string);
