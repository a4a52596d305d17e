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
    [SF_OP_PEER_HELLO] = {"PEER_HELLO", 1, F(SF_WK_BYTES)},                     /* nonce */
    [SF_OP_PEER_CHALLENGE] = {"PEER_CHALLENGE", 1, F(SF_WK_BYTES)},             /* nonce */
    /* node id, incarnation, name, control port, slots, software version */
    [SF_OP_PEER_JOIN] = {"PEER_JOIN", 6,
                         F(SF_WK_U64, SF_WK_U64, SF_WK_STR, SF_WK_U32, SF_WK_I32, SF_WK_STR)},
    [SF_OP_PEER_LIST] = {"PEER_LIST", 1, F(SF_WK_STRV)},                        /* members */
    [SF_OP_PEER_PING] = {"PEER_PING", 1, F(SF_WK_U64)},                         /* clock ms */
    [SF_OP_PEER_GONE] = {"PEER_GONE", 3, F(SF_WK_U64, SF_WK_U64, SF_WK_STR)},   /* id, inc, why */
    /* job, n, node index, nnodes, ranks here, argv, env, cwd, opts */
    [SF_OP_SPAWN] = {"SPAWN", 9,
                     F(SF_WK_U64, SF_WK_I32, SF_WK_I32, SF_WK_I32, SF_WK_I32V, SF_WK_STRV,
                       SF_WK_STRV, SF_WK_STR, SF_WK_STRV)},
    [SF_OP_JOB_RANK_ADDR] = {"JOB_RANK_ADDR", 3, F(SF_WK_U64, SF_WK_I32, SF_WK_BYTES)},
    [SF_OP_JOB_TABLE] = {"JOB_TABLE", 4, F(SF_WK_U64, SF_WK_U32, SF_WK_I32V, SF_WK_BYTES)},
    [SF_OP_JOB_OUTPUT] = {"JOB_OUTPUT", 4, F(SF_WK_U64, SF_WK_I32, SF_WK_U8, SF_WK_BYTES)},
    [SF_OP_JOB_RANK_EXIT] = {"JOB_RANK_EXIT", 5,
                             F(SF_WK_U64, SF_WK_I32, SF_WK_I32, SF_WK_STR, SF_WK_U8)},
    [SF_OP_JOB_FAIL] = {"JOB_FAIL", 4, F(SF_WK_U64, SF_WK_I32, SF_WK_I32, SF_WK_STR)},
    [SF_OP_JOB_KILL] = {"JOB_KILL", 3, F(SF_WK_U64, SF_WK_I32, SF_WK_STR)},
    [SF_OP_JOB_SIGNAL] = {"JOB_SIGNAL", 2, F(SF_WK_U64, SF_WK_I32)},
    [SF_OP_JOB_STDIN] = {"JOB_STDIN", 2, F(SF_WK_U64, SF_WK_BYTES)},
    [SF_OP_JOB_PART_DONE] = {"JOB_PART_DONE", 1, F(SF_WK_U64)},
    [SF_OP_STATUS_REQ] = {"STATUS_REQ", 1, F(SF_WK_U32)},
    [SF_OP_STATUS] = {"STATUS", 1, F(SF_WK_STRV)},
    [SF_OP_JOB_FLOW] = {"JOB_FLOW", 2, F(SF_WK_U64, SF_WK_U8)},                 /* job, paused */
    [SF_OP_STDIN_ACK] = {"STDIN_ACK", 2, F(SF_WK_U64, SF_WK_U64)},              /* job, bytes */
    [SF_OP_RESERVED_36] = {"RESERVED_36", 0, F(0)},
    [SF_OP_RESERVED_37] = {"RESERVED_37", 0, F(0)},
    [SF_OP_RESERVED_38] = {"RESERVED_38", 0, F(0)},
    [SF_OP_RESERVED_39] = {"RESERVED_39", 0, F(0)},
    [SF_OP_FS_PUT] = {"FS_PUT", 3, F(SF_WK_U64, SF_WK_BYTES, SF_WK_BYTES)},    /* req, id, data */
    [SF_OP_FS_PUT_ACK] = {"FS_PUT_ACK", 2, F(SF_WK_U64, SF_WK_I32)},             /* req, status */
    [SF_OP_FS_GET] = {"FS_GET", 2, F(SF_WK_U64, SF_WK_BYTES)},                    /* req, id */
    [SF_OP_FS_DATA] = {"FS_DATA", 3, F(SF_WK_U64, SF_WK_I32, SF_WK_BYTES)},      /* req, status, data */
    /* req, key, items */
    [SF_OP_FS_META_CAS] = {"FS_META_CAS", 3, F(SF_WK_U64, SF_WK_BYTES, SF_WK_BYTES)},
    /* req, key, records, push */
    [SF_OP_FS_META_STORE] = {"FS_META_STORE", 4, F(SF_WK_U64, SF_WK_BYTES, SF_WK_BYTES, SF_WK_U8)},
    /* req, key, name, flags */
    [SF_OP_FS_META_READ] = {"FS_META_READ", 4, F(SF_WK_U64, SF_WK_BYTES, SF_WK_STR, SF_WK_U8)},
    /* req, status, records */
    [SF_OP_FS_META_REPLY] = {"FS_META_REPLY", 3, F(SF_WK_U64, SF_WK_I32, SF_WK_BYTES)},
    [SF_OP_FS_BLOCK_WRITE] = {"FS_BLOCK_WRITE", 3, F(SF_WK_U64, SF_WK_U8, SF_WK_BYTES)},
    [SF_OP_FS_BLOCK_DONE] = {"FS_BLOCK_DONE", 4, F(SF_WK_U64, SF_WK_I32, SF_WK_BYTES, SF_WK_STR)},
    [SF_OP_FS_BLOCK_READ] = {"FS_BLOCK_READ", 2, F(SF_WK_U64, SF_WK_BYTES)},      /* req, id */
    /* req, verb, path, path2, expect, mode, inode, flags */
    [SF_OP_FS_NS] = {"FS_NS", 8,
                     F(SF_WK_U64, SF_WK_U8, SF_WK_STR, SF_WK_STR, SF_WK_U64, SF_WK_U32,
                       SF_WK_BYTES, SF_WK_U32)},
    /* req, status, version, inode, fid, message */
    [SF_OP_FS_NS_ANS] = {"FS_NS_ANS", 6,
                         F(SF_WK_U64, SF_WK_I32, SF_WK_U64, SF_WK_BYTES, SF_WK_BYTES, SF_WK_STR)},
    /* req, path, after, max */
    [SF_OP_FS_READDIR] = {"FS_READDIR", 4, F(SF_WK_U64, SF_WK_STR, SF_WK_STR, SF_WK_U32)},
    /* req, status, entries, done, message */
    [SF_OP_FS_DIRENTS] = {"FS_DIRENTS", 5,
                          F(SF_WK_U64, SF_WK_I32, SF_WK_BYTES, SF_WK_U8, SF_WK_STR)},
    [SF_OP_FS_ADMIN] = {"FS_ADMIN", 4, F(SF_WK_U64, SF_WK_U8, SF_WK_I32, SF_WK_STR)}, /* req, verb, status, text */
    [SF_OP_CKPT_REQ] = {"CKPT_REQ", 2, F(SF_WK_U64, SF_WK_U8)},                /* job, what */
    /* job, epoch, status, text */
    [SF_OP_CKPT_ANS] = {"CKPT_ANS", 4, F(SF_WK_U64, SF_WK_U32, SF_WK_I32, SF_WK_STR)},
    /* job, rank, epoch, bytes, status */
    [SF_OP_CKPT_STORED] = {"CKPT_STORED", 5,
                           F(SF_WK_U64, SF_WK_I32, SF_WK_U32, SF_WK_U64, SF_WK_I32)},
    [SF_OP_CKPT_BEGIN] = {"CKPT_BEGIN", 3, F(SF_WK_U64, SF_WK_U32, SF_WK_U8)}, /* job, epoch, backend */
    /* job, epoch, rank, bytes, status, text */
    [SF_OP_CKPT_PART] = {"CKPT_PART", 6,
                         F(SF_WK_U64, SF_WK_U32, SF_WK_I32, SF_WK_U64, SF_WK_I32, SF_WK_STR)},
    /* job, epoch, status, text */
    [SF_OP_CKPT_COMMIT] = {"CKPT_COMMIT", 4, F(SF_WK_U64, SF_WK_U32, SF_WK_I32, SF_WK_STR)},
    [SF_OP_RESERVED_62] = {"RESERVED_62", 0, F(0)},
    [SF_OP_RESERVED_63] = {"RESERVED_63", 0, F(0)},
    /* job, epoch, flags, dir */
    [SF_OP_CKPT_PREPARE] = {"CKPT_PREPARE", 4, F(SF_WK_U64, SF_WK_U32, SF_WK_U32, SF_WK_STR)},
    [SF_OP_CKPT_READY] = {"CKPT_READY", 3, F(SF_WK_I32, SF_WK_U32, SF_WK_I32)}, /* rank, epoch, status */
    [SF_OP_CKPT_RESUME] = {"CKPT_RESUME", 3, F(SF_WK_U32, SF_WK_U8, SF_WK_STR)}, /* epoch, restored, shm */
    /* rank, epoch, status, text */
    [SF_OP_CKPT_RESUMED] = {"CKPT_RESUMED", 4, F(SF_WK_I32, SF_WK_U32, SF_WK_I32, SF_WK_STR)},
    [SF_OP_RESERVED_68] = {"RESERVED_68", 0, F(0)},
    [SF_OP_RESERVED_69] = {"RESERVED_69", 0, F(0)},
    [SF_OP_RESERVED_70] = {"RESERVED_70", 0, F(0)},
    [SF_OP_RESERVED_71] = {"RESERVED_71", 0, F(0)},
};

const struct sf_wire_schema *sf_wire_schema(uint8_t op)
{
    if (op >= SF_OP_COUNT || schemas[op].name == NULL) {
        return NULL;
    }
    return &schemas[op];
}
