/* The table of control messages: each op's name and field kinds, in the
 * order they are encoded. This is the protocol's contract; append only. */
#include "runtime/base/sf_wire.h"

#define F(...) {__VA_ARGS__}

static const struct sf_wire_schema schemas[SF_OP_COUNT] = {
    [SF_OP_RANK_HELLO] = {"RANK_HELLO", 3, F(SF_WK_U64, SF_WK_I32, SF_WK_I32)},  /* job, rank, pid */
    [SF_OP_RANK_ADDR] = {"RANK_ADDR", 2, F(SF_WK_I32, SF_WK_BYTES)},            /* rank, blob */
    [SF_OP_RANK_FINALIZE] = {"RANK_FINALIZE", 1, F(SF_WK_I32)},                 /* rank */
    [SF_OP_RANK_ABORT] = {"RANK_ABORT", 3, F(SF_WK_I32, SF_WK_I32, SF_WK_STR)}, /* rank, errorcode, text */
    /* epoch, node id per rank, blobs: for each rank a U32 length then bytes */
    [SF_OP_ADDR_TABLE] = {"ADDR_TABLE", 3, F(SF_WK_U32, SF_WK_I32V, SF_WK_BYTES)},
    [SF_OP_KILL] = {"KILL", 1, F(SF_WK_STR)},                                   /* reason */
    /* nranks, flags, argv, env, cwd, opts ("key=value") */
    [SF_OP_JOB_SUBMIT] = {"JOB_SUBMIT", 6,
                          F(SF_WK_I32, SF_WK_U32, SF_WK_STRV, SF_WK_STRV, SF_WK_STR, SF_WK_STRV)},
    [SF_OP_STDIN] = {"STDIN", 1, F(SF_WK_BYTES)},                               /* empty = EOF */
    [SF_OP_SIGNAL] = {"SIGNAL", 1, F(SF_WK_I32)},                               /* signo */
    [SF_OP_JOB_STARTED] = {"JOB_STARTED", 2, F(SF_WK_U64, SF_WK_I32)},          /* job, nranks */
    [SF_OP_OUTPUT] = {"OUTPUT", 3, F(SF_WK_I32, SF_WK_U8, SF_WK_BYTES)},        /* rank, 1|2, bytes */
    [SF_OP_RANK_EXIT] = {"RANK_EXIT", 3, F(SF_WK_I32, SF_WK_I32, SF_WK_STR)},   /* rank, status, cause */
    [SF_OP_JOB_DONE] = {"JOB_DONE", 2, F(SF_WK_I32, SF_WK_STR)},                /* exit code, text */
    [SF_OP_ERROR] = {"ERROR", 2, F(SF_WK_I32, SF_WK_STR)},                      /* code, text */
    [SF_OP_GOODBYE] = {"GOODBYE", 1, F(SF_WK_STR)},                             /* reason */
};

const struct sf_wire_schema *sf_wire_schema(uint8_t op)
{
    if (op >= SF_OP_COUNT || schemas[op].name == NULL) {
        return NULL;
    }
    return &schemas[op];
}
