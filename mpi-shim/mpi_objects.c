/* The predefined MPI objects under Open MPI's ABI symbol names and sizes (a
 * program built against Open MPI copies them into its own data at load
 * time, so the sizes must match exactly), and the predefined attribute
 * callbacks. Only static data here; MPI_Init fills in the run-time parts. */
#include <stddef.h>
#include <wchar.h>

#include "mpi-shim/shim_int.h"

#define SF_PREDEF_STRUCT(tag, objtype, abisize)                                  \
    struct tag {                                                                 \
        union {                                                                  \
            struct objtype obj;                                                  \
            char abi[abisize];                                                   \
        } u;                                                                     \
    };                                                                           \
    _Static_assert(sizeof(struct objtype) <= (abisize), #objtype " outgrew the ABI size"); \
    _Static_assert(sizeof(struct tag) == (abisize), #tag " size")

SF_PREDEF_STRUCT(ompi_predefined_communicator_t, ompi_communicator_t, 0x200);
SF_PREDEF_STRUCT(ompi_predefined_group_t, ompi_group_t, 0x100);
SF_PREDEF_STRUCT(ompi_predefined_request_t, ompi_request_t, 0x100);
SF_PREDEF_STRUCT(ompi_predefined_message_t, ompi_message_t, 0x100);
SF_PREDEF_STRUCT(ompi_predefined_op_t, ompi_op_t, 0x800);
SF_PREDEF_STRUCT(ompi_predefined_datatype_t, ompi_datatype_t, 0x200);
SF_PREDEF_STRUCT(ompi_predefined_errhandler_t, ompi_errhandler_t, 0x400);
SF_PREDEF_STRUCT(ompi_predefined_win_t, ompi_win_t, 0x200);
SF_PREDEF_STRUCT(ompi_predefined_file_t, ompi_file_t, 0x600);
SF_PREDEF_STRUCT(ompi_predefined_info_t, ompi_info_t, 0x100);

/* --- error handlers --- */
#define SF_ERRH(sym, k)                                                          \
    struct ompi_predefined_errhandler_t sym = {                                  \
        .u.obj = {.magic = SF_MPI_MAGIC_ERRH, .kind = (k), .predefined = true, .refcount = 1}}
SF_ERRH(ompi_mpi_errhandler_null, SF_MPI_EH_NULL);
SF_ERRH(ompi_mpi_errors_are_fatal, SF_MPI_EH_FATAL);
SF_ERRH(ompi_mpi_errors_return, SF_MPI_EH_RETURN);

/* --- communicators and groups (ranks/sizes filled in by MPI_Init) --- */
struct ompi_predefined_communicator_t ompi_mpi_comm_world = {
    .u.obj = {.magic = SF_MPI_MAGIC_COMM, .predefined = true, .ctx = SF_MPI_CTX_WORLD,
              .errh = &ompi_mpi_errors_are_fatal.u.obj, .name = "MPI_COMM_WORLD"}};
struct ompi_predefined_communicator_t ompi_mpi_comm_self = {
    .u.obj = {.magic = SF_MPI_MAGIC_COMM, .predefined = true, .ctx = SF_MPI_CTX_SELF,
              .errh = &ompi_mpi_errors_are_fatal.u.obj, .name = "MPI_COMM_SELF"}};
struct ompi_predefined_communicator_t ompi_mpi_comm_null = {
    .u.obj = {.magic = SF_MPI_MAGIC_COMM, .predefined = true, .is_null = true,
              .errh = &ompi_mpi_errors_are_fatal.u.obj, .name = "MPI_COMM_NULL"}};

struct ompi_predefined_group_t ompi_mpi_group_empty = {
    .u.obj = {.magic = SF_MPI_MAGIC_GROUP, .size = 0, .rank = MPI_UNDEFINED, .predefined = true}};
struct ompi_predefined_group_t ompi_mpi_group_null = {
    .u.obj = {.magic = SF_MPI_MAGIC_GROUP, .size = -1, .rank = MPI_UNDEFINED, .predefined = true}};

/* --- requests and messages --- */
struct ompi_predefined_request_t ompi_request_null = {
    .u.obj = {.magic = SF_MPI_MAGIC_REQ, .kind = SF_MPI_REQ_NULL, .is_null = true}};
struct ompi_predefined_message_t ompi_message_null = {.u.obj = {.magic = SF_MPI_MAGIC_MSG}};
struct ompi_predefined_message_t ompi_message_no_proc = {
    .u.obj = {.magic = SF_MPI_MAGIC_MSG, .no_proc = true}};

/* --- operations --- */
#define SF_OP(sym, k, nm)                                                        \
    struct ompi_predefined_op_t sym = {.u.obj = {.magic = SF_MPI_MAGIC_OP, .predefined = true, \
                                                 .commute = true, .kind = (k), .name = nm}}
SF_OP(ompi_mpi_op_null, SF_OP_NULL, "MPI_OP_NULL");
SF_OP(ompi_mpi_op_max, SF_OP_MAX, "MPI_MAX");
SF_OP(ompi_mpi_op_min, SF_OP_MIN, "MPI_MIN");
SF_OP(ompi_mpi_op_sum, SF_OP_SUM, "MPI_SUM");
SF_OP(ompi_mpi_op_prod, SF_OP_PROD, "MPI_PROD");
SF_OP(ompi_mpi_op_land, SF_OP_LAND, "MPI_LAND");
SF_OP(ompi_mpi_op_band, SF_OP_BAND, "MPI_BAND");
SF_OP(ompi_mpi_op_lor, SF_OP_LOR, "MPI_LOR");
SF_OP(ompi_mpi_op_bor, SF_OP_BOR, "MPI_BOR");
SF_OP(ompi_mpi_op_lxor, SF_OP_LXOR, "MPI_LXOR");
SF_OP(ompi_mpi_op_bxor, SF_OP_BXOR, "MPI_BXOR");
SF_OP(ompi_mpi_op_maxloc, SF_OP_MAXLOC, "MPI_MAXLOC");
SF_OP(ompi_mpi_op_minloc, SF_OP_MINLOC, "MPI_MINLOC");
SF_OP(ompi_mpi_op_replace, SF_OP_REPLACE, "MPI_REPLACE");
SF_OP(ompi_mpi_op_no_op, SF_OP_NO_OP, "MPI_NO_OP");

/* --- datatypes --- */
/* A one-part element type of 'sz' bytes aligned to 'al'; its flattened
 * form is one block and one signature run (itself). */
#define SF_DT_A(sym, t, sz, al, nm)                                              \
    struct ompi_predefined_datatype_t sym = {                                    \
        .u.obj = {.magic = SF_MPI_MAGIC_TYPE, .predefined = true, .committed = true,     \
                  .contig = true, .has_lb = true, .has_ub = true,                \
                  .basic = (t), .size = (sz), .extent = (sz), .true_extent = (sz), \
                  .align = (al), .n = 1, .elem = &sym.u.obj, .part0 = (sz),      \
                  .rep = 1, .nent = 1, .ent = sym.u.obj.ent1, .ent1 = {{0, (sz), 1, 0}},   \
                  .nsig = 1, .sig = sym.u.obj.run1, .run1 = {{&sym.u.obj, 1}},   \
                  .combiner = MPI_COMBINER_NAMED, .refcount = 1, .name = nm}}
#define SF_DT(sym, t, sz, nm) SF_DT_A(sym, t, sz, (sz) > 16 ? 16 : (sz), nm)
/* A value-index pair laid out like the C struct 'st' {v; i}: two blocks. */
#define SF_DT_PAIR(sym, t, st, nm)                                               \
    struct ompi_predefined_datatype_t sym = {                                    \
        .u.obj = {.magic = SF_MPI_MAGIC_TYPE, .predefined = true, .committed = true,     \
                  .has_lb = true, .has_ub = true,                                \
                  .basic = (t), .size = sizeof(((st *)0)->v) + sizeof(((st *)0)->i), \
                  .extent = sizeof(st), .true_extent = offsetof(st, i) + sizeof(int), \
                  .align = _Alignof(st), .n = 1, .elem = &sym.u.obj,             \
                  .part0 = sizeof(((st *)0)->v), .part1 = sizeof(((st *)0)->i),  \
                  .off1 = offsetof(st, i), .rep = 1, .nent = 2, .ent = sym.u.obj.ent1,      \
                  .ent1 = {{0, sizeof(((st *)0)->v), 1, 0}, {offsetof(st, i), sizeof(int), 1, 0}}, \
                  .nsig = 1, .sig = sym.u.obj.run1, .run1 = {{&sym.u.obj, 1}},   \
                  .combiner = MPI_COMBINER_NAMED, .refcount = 1, .name = nm}}
/* MPI_LB / MPI_UB: no data, only a marker. */
#define SF_DT_MARK(sym, islb, nm)                                                \
    struct ompi_predefined_datatype_t sym = {                                    \
        .u.obj = {.magic = SF_MPI_MAGIC_TYPE, .predefined = true, .committed = true,     \
                  .contig = true, .xlb = (islb), .has_lb = (islb), .xub = !(islb), \
                  .has_ub = !(islb), .align = 1, .rep = 1, .combiner = MPI_COMBINER_NAMED,  \
                  .refcount = 1, .name = nm}}

struct ompi_predefined_datatype_t ompi_mpi_datatype_null = {
    .u.obj = {.magic = SF_MPI_MAGIC_TYPE, .predefined = true, .is_null = true, .rep = 1,
              .elem = &ompi_mpi_datatype_null.u.obj, .name = "MPI_DATATYPE_NULL"}};

SF_DT(ompi_mpi_char, SF_T_CHAR, sizeof(char), "MPI_CHAR");
SF_DT(ompi_mpi_signed_char, SF_T_SIGNED_CHAR, sizeof(signed char), "MPI_SIGNED_CHAR");
SF_DT(ompi_mpi_unsigned_char, SF_T_UNSIGNED_CHAR, sizeof(unsigned char), "MPI_UNSIGNED_CHAR");
SF_DT(ompi_mpi_byte, SF_T_BYTE, 1, "MPI_BYTE");
SF_DT(ompi_mpi_short, SF_T_SHORT, sizeof(short), "MPI_SHORT");
SF_DT(ompi_mpi_unsigned_short, SF_T_UNSIGNED_SHORT, sizeof(unsigned short), "MPI_UNSIGNED_SHORT");
SF_DT(ompi_mpi_int, SF_T_INT, sizeof(int), "MPI_INT");
SF_DT(ompi_mpi_unsigned, SF_T_UNSIGNED, sizeof(unsigned), "MPI_UNSIGNED");
SF_DT(ompi_mpi_long, SF_T_LONG, sizeof(long), "MPI_LONG");
SF_DT(ompi_mpi_unsigned_long, SF_T_UNSIGNED_LONG, sizeof(unsigned long), "MPI_UNSIGNED_LONG");
SF_DT(ompi_mpi_long_long_int, SF_T_LONG_LONG, sizeof(long long), "MPI_LONG_LONG_INT");
SF_DT(ompi_mpi_unsigned_long_long, SF_T_UNSIGNED_LONG_LONG, sizeof(unsigned long long),
      "MPI_UNSIGNED_LONG_LONG");
SF_DT(ompi_mpi_float, SF_T_FLOAT, sizeof(float), "MPI_FLOAT");
SF_DT(ompi_mpi_double, SF_T_DOUBLE, sizeof(double), "MPI_DOUBLE");
SF_DT(ompi_mpi_long_double, SF_T_LONG_DOUBLE, sizeof(long double), "MPI_LONG_DOUBLE");
SF_DT(ompi_mpi_wchar, SF_T_WCHAR, sizeof(wchar_t), "MPI_WCHAR");
SF_DT(ompi_mpi_packed, SF_T_PACKED, 1, "MPI_PACKED");
SF_DT(ompi_mpi_c_bool, SF_T_C_BOOL, sizeof(_Bool), "MPI_C_BOOL");
SF_DT(ompi_mpi_int8_t, SF_T_INT8, 1, "MPI_INT8_T");
SF_DT(ompi_mpi_int16_t, SF_T_INT16, 2, "MPI_INT16_T");
SF_DT(ompi_mpi_int32_t, SF_T_INT32, 4, "MPI_INT32_T");
SF_DT(ompi_mpi_int64_t, SF_T_INT64, 8, "MPI_INT64_T");
SF_DT(ompi_mpi_uint8_t, SF_T_UINT8, 1, "MPI_UINT8_T");
SF_DT(ompi_mpi_uint16_t, SF_T_UINT16, 2, "MPI_UINT16_T");
SF_DT(ompi_mpi_uint32_t, SF_T_UINT32, 4, "MPI_UINT32_T");
SF_DT(ompi_mpi_uint64_t, SF_T_UINT64, 8, "MPI_UINT64_T");
SF_DT(ompi_mpi_aint, SF_T_AINT, sizeof(MPI_Aint), "MPI_AINT");
SF_DT(ompi_mpi_offset, SF_T_OFFSET, sizeof(MPI_Offset), "MPI_OFFSET");
SF_DT(ompi_mpi_count, SF_T_COUNT, sizeof(MPI_Count), "MPI_COUNT");
SF_DT_A(ompi_mpi_c_float_complex, SF_T_C_FLOAT_COMPLEX, sizeof(float _Complex), _Alignof(float), "MPI_C_FLOAT_COMPLEX");
SF_DT_A(ompi_mpi_c_double_complex, SF_T_C_DOUBLE_COMPLEX, sizeof(double _Complex), _Alignof(double), "MPI_C_DOUBLE_COMPLEX");
SF_DT_A(ompi_mpi_c_long_double_complex, SF_T_C_LONG_DOUBLE_COMPLEX, sizeof(long double _Complex), _Alignof(long double), "MPI_C_LONG_DOUBLE_COMPLEX");
/* C++ types: same representation as their C counterparts on this ABI. */
SF_DT(ompi_mpi_cxx_bool, SF_T_C_BOOL, 1, "MPI_CXX_BOOL");
SF_DT_A(ompi_mpi_cxx_cplex, SF_T_C_FLOAT_COMPLEX, sizeof(float _Complex), _Alignof(float), "MPI_CXX_FLOAT_COMPLEX");
SF_DT_A(ompi_mpi_cxx_dblcplex, SF_T_C_DOUBLE_COMPLEX, sizeof(double _Complex), _Alignof(double), "MPI_CXX_DOUBLE_COMPLEX");
SF_DT_A(ompi_mpi_cxx_ldblcplex, SF_T_C_LONG_DOUBLE_COMPLEX, sizeof(long double _Complex), _Alignof(long double), "MPI_CXX_LONG_DOUBLE_COMPLEX");
/* Fortran types (gfortran's sizes): transferable; reductions only where a
 * C kernel has the same semantics (integers, reals, complexes). */
SF_DT(ompi_mpi_character, SF_T_NONE, 1, "MPI_CHARACTER");
SF_DT(ompi_mpi_logical, SF_T_NONE, 4, "MPI_LOGICAL");
SF_DT(ompi_mpi_integer, SF_T_INT32, 4, "MPI_INTEGER");
SF_DT(ompi_mpi_real, SF_T_FLOAT, 4, "MPI_REAL");
SF_DT(ompi_mpi_dblprec, SF_T_DOUBLE, 8, "MPI_DOUBLE_PRECISION");
SF_DT_A(ompi_mpi_cplex, SF_T_C_FLOAT_COMPLEX, 8, 4, "MPI_COMPLEX");
SF_DT_A(ompi_mpi_dblcplex, SF_T_C_DOUBLE_COMPLEX, 16, 8, "MPI_DOUBLE_COMPLEX");
SF_DT_A(ompi_mpi_ldblcplex, SF_T_C_LONG_DOUBLE_COMPLEX, sizeof(long double _Complex), _Alignof(long double), "MPI_LONG_DOUBLE_COMPLEX");
SF_DT(ompi_mpi_logical1, SF_T_NONE, 1, "MPI_LOGICAL1");
SF_DT(ompi_mpi_logical2, SF_T_NONE, 2, "MPI_LOGICAL2");
SF_DT(ompi_mpi_logical4, SF_T_NONE, 4, "MPI_LOGICAL4");
SF_DT(ompi_mpi_logical8, SF_T_NONE, 8, "MPI_LOGICAL8");
SF_DT(ompi_mpi_integer1, SF_T_INT8, 1, "MPI_INTEGER1");
SF_DT(ompi_mpi_integer2, SF_T_INT16, 2, "MPI_INTEGER2");
SF_DT(ompi_mpi_integer4, SF_T_INT32, 4, "MPI_INTEGER4");
SF_DT(ompi_mpi_integer8, SF_T_INT64, 8, "MPI_INTEGER8");
SF_DT(ompi_mpi_integer16, SF_T_NONE, 16, "MPI_INTEGER16");
SF_DT(ompi_mpi_real2, SF_T_NONE, 2, "MPI_REAL2");
SF_DT(ompi_mpi_real4, SF_T_FLOAT, 4, "MPI_REAL4");
SF_DT(ompi_mpi_real8, SF_T_DOUBLE, 8, "MPI_REAL8");
SF_DT(ompi_mpi_real16, SF_T_NONE, 16, "MPI_REAL16");
SF_DT_A(ompi_mpi_complex8, SF_T_C_FLOAT_COMPLEX, 8, 4, "MPI_COMPLEX8");
SF_DT_A(ompi_mpi_complex16, SF_T_C_DOUBLE_COMPLEX, 16, 8, "MPI_COMPLEX16");
SF_DT_A(ompi_mpi_complex32, SF_T_NONE, 32, 16, "MPI_COMPLEX32");
/* Fortran pairs are two same-typed values: no hole. */
SF_DT_A(ompi_mpi_2integer, SF_T_2INT, 8, 4, "MPI_2INTEGER");
SF_DT_A(ompi_mpi_2real, SF_T_NONE, 8, 4, "MPI_2REAL");
SF_DT_A(ompi_mpi_2dblprec, SF_T_NONE, 16, 8, "MPI_2DOUBLE_PRECISION");
SF_DT_A(ompi_mpi_2cplex, SF_T_NONE, 16, 4, "MPI_2COMPLEX");
SF_DT_A(ompi_mpi_2dblcplex, SF_T_NONE, 32, 8, "MPI_2DOUBLE_COMPLEX");

/* C pair types for MINLOC/MAXLOC */
struct sf_pair_float_int { float v; int i; };
struct sf_pair_double_int { double v; int i; };
struct sf_pair_long_int { long v; int i; };
struct sf_pair_2int { int v; int i; };
struct sf_pair_short_int { short v; int i; };
struct sf_pair_long_double_int { long double v; int i; };
SF_DT_PAIR(ompi_mpi_float_int, SF_T_FLOAT_INT, struct sf_pair_float_int, "MPI_FLOAT_INT");
SF_DT_PAIR(ompi_mpi_double_int, SF_T_DOUBLE_INT, struct sf_pair_double_int, "MPI_DOUBLE_INT");
SF_DT_PAIR(ompi_mpi_long_int, SF_T_LONG_INT, struct sf_pair_long_int, "MPI_LONG_INT");
SF_DT_PAIR(ompi_mpi_2int, SF_T_2INT, struct sf_pair_2int, "MPI_2INT");
SF_DT_PAIR(ompi_mpi_short_int, SF_T_SHORT_INT, struct sf_pair_short_int, "MPI_SHORT_INT");
SF_DT_PAIR(ompi_mpi_longdbl_int, SF_T_LONG_DOUBLE_INT, struct sf_pair_long_double_int,
           "MPI_LONG_DOUBLE_INT");

/* Removed in MPI-3.0 but still exported: markers of zero size. */
SF_DT_MARK(ompi_mpi_lb, true, "MPI_LB");
SF_DT_MARK(ompi_mpi_ub, false, "MPI_UB");

/* --- info, windows, files --- */
struct ompi_predefined_info_t ompi_mpi_info_null = {.u.obj = {.magic = SF_MPI_MAGIC_OTHER, .which = 0}};
struct ompi_predefined_info_t ompi_mpi_info_env = {.u.obj = {.magic = SF_MPI_MAGIC_OTHER, .which = 1}};
struct ompi_predefined_win_t ompi_mpi_win_null = {.u.obj = {.magic = SF_MPI_MAGIC_OTHER}};
struct ompi_predefined_file_t ompi_mpi_file_null = {.u.obj = {.magic = SF_MPI_MAGIC_OTHER}};

/* Fortran status sentinels (no Fortran bindings yet; the symbols exist so
 * programs that mention them load). */
MPI_Fint *MPI_F_STATUS_IGNORE = NULL;
MPI_Fint *MPI_F_STATUSES_IGNORE = NULL;

/* --- predefined attribute copy/delete callbacks --- */
#define SF_NULL_DELETE(name, H)                                                  \
    int name(H obj, int keyval, void *attr, void *extra) { return MPI_SUCCESS; }
#define SF_NULL_COPY(name, H)                                                    \
    int name(H obj, int keyval, void *extra, void *in, void *out, int *flag)     \
    {                                                                            \
        *flag = 0;                                                               \
        return MPI_SUCCESS;                                                      \
    }
#define SF_DUP(name, H)                                                          \
    int name(H obj, int keyval, void *extra, void *in, void *out, int *flag)     \
    {                                                                            \
        *(void **)out = in;                                                      \
        *flag = 1;                                                               \
        return MPI_SUCCESS;                                                      \
    }
SF_NULL_DELETE(OMPI_C_MPI_TYPE_NULL_DELETE_FN, MPI_Datatype)
SF_NULL_COPY(OMPI_C_MPI_TYPE_NULL_COPY_FN, MPI_Datatype)
SF_DUP(OMPI_C_MPI_TYPE_DUP_FN, MPI_Datatype)
SF_NULL_DELETE(OMPI_C_MPI_COMM_NULL_DELETE_FN, MPI_Comm)
SF_NULL_COPY(OMPI_C_MPI_COMM_NULL_COPY_FN, MPI_Comm)
SF_DUP(OMPI_C_MPI_COMM_DUP_FN, MPI_Comm)
SF_NULL_DELETE(OMPI_C_MPI_WIN_NULL_DELETE_FN, MPI_Win)
SF_NULL_COPY(OMPI_C_MPI_WIN_NULL_COPY_FN, MPI_Win)
SF_DUP(OMPI_C_MPI_WIN_DUP_FN, MPI_Win)
SF_NULL_DELETE(OMPI_C_MPI_NULL_DELETE_FN, MPI_Comm)
SF_NULL_COPY(OMPI_C_MPI_NULL_COPY_FN, MPI_Comm)
SF_DUP(OMPI_C_MPI_DUP_FN, MPI_Comm)
