/* The one Starfish wire format for control messages (sfd <-> rank,
 * sfrun <-> sfd, later sfd <-> sfd). This module alone encodes and decodes
 * it. It does no I/O: callers hand it bytes and get messages back.
 *
 * Frame layout (all integers big-endian):
 *   off size field
 *     0    2 magic 0x5346 ("SF")
 *     2    1 version (SF_WIRE_VERSION)
 *     3    1 op (enum sf_wire_op)
 *     4    4 body length in bytes (<= SF_WIRE_MAX_BODY)
 *     8    4 sequence number (sender-chosen; replay protection later)
 *    12    4 CRC-32C of the body
 *    16    . body: the op's fields in schema order
 * Field encodings: U8/U16/U32/U64 fixed width; I32/I64 two's complement;
 * STR and BYTES are a U32 length then that many bytes (STR: no NUL inside,
 * valid UTF-8 not required); STRV is a U32 count then that many STRs;
 * I32V is a U32 count then that many I32.
 */
#ifndef SF_WIRE_H
#define SF_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define SF_WIRE_MAGIC 0x5346u
#define SF_WIRE_VERSION 1
#define SF_WIRE_HDR_LEN 16
#define SF_WIRE_MAX_BODY (16u << 20)  /* 16 MiB: address tables, env blocks */
#define SF_WIRE_MAX_FIELDS 12
#define SF_WIRE_MAX_STRV 65536        /* argv/env entries */

enum sf_wire_kind {
    SF_WK_U8 = 1, SF_WK_U16, SF_WK_U32, SF_WK_U64, SF_WK_I32, SF_WK_I64,
    SF_WK_STR, SF_WK_BYTES, SF_WK_STRV, SF_WK_I32V,
};

/* Every control message. Numbers are part of the protocol: append only. */
enum sf_wire_op {
    SF_OP_INVALID = 0,
    /* rank -> sfd */
    SF_OP_RANK_HELLO = 1,    /* job, rank, pid */
    SF_OP_RANK_ADDR = 2,     /* rank, fabric/shm address blob */
    SF_OP_RANK_FINALIZE = 3, /* rank: entered MPI_Finalize */
    SF_OP_RANK_ABORT = 4,    /* rank, errorcode, message */
    /* sfd -> rank */
    SF_OP_ADDR_TABLE = 5,    /* epoch, per-rank node ids (I32V), blobs (concatenated, each U32-length-prefixed) */
    SF_OP_KILL = 6,          /* reason: the job is ending */
    /* sfrun -> sfd */
    SF_OP_JOB_SUBMIT = 7,    /* nranks, flags, argv (STRV), env (STRV), cwd, opts (STRV key=value) */
    SF_OP_STDIN = 8,         /* bytes (empty = EOF) */
    SF_OP_SIGNAL = 9,        /* signo */
    /* sfd -> sfrun */
    SF_OP_JOB_STARTED = 10,  /* job id, nranks */
    SF_OP_OUTPUT = 11,       /* rank, stream (1/2), bytes */
    SF_OP_RANK_EXIT = 12,    /* rank, status (exit code or 128+sig), cause text */
    SF_OP_JOB_DONE = 13,     /* exit code, message */
    SF_OP_ERROR = 14,        /* code, message: request refused */
    /* both ways */
    SF_OP_GOODBYE = 15,      /* orderly close; reason */
    /* sfd <-> sfd (control port, every frame followed by a MAC, see
     * launcher/sfd/sfd_auth.c). 16..39 belong to the daemons. */
    SF_OP_PEER_HELLO = 16,     /* connector's nonce */
    SF_OP_PEER_CHALLENGE = 17, /* acceptor's nonce */
    SF_OP_PEER_JOIN = 18,      /* node id, incarnation, name, port, slots, version */
    SF_OP_PEER_LIST = 19,      /* members ("id inc host port name slots") */
    SF_OP_PEER_PING = 20,      /* sender's clock (ms): keep-alive */
    SF_OP_PEER_GONE = 21,      /* node id, incarnation, reason: failure verdict */
    SF_OP_SPAWN = 22,          /* job, n, node index, nnodes, ranks, argv, env, cwd, opts */
    SF_OP_JOB_RANK_ADDR = 23,  /* job, rank, blob */
    SF_OP_JOB_TABLE = 24,      /* job, epoch, node of each rank, blobs (as ADDR_TABLE) */
    SF_OP_JOB_OUTPUT = 25,     /* job, rank, stream, bytes */
    SF_OP_JOB_RANK_EXIT = 26,  /* job, rank, status, cause, failed */
    SF_OP_JOB_FAIL = 27,       /* job, rank, code, text */
    SF_OP_JOB_KILL = 28,       /* job, signo, reason: tear the job down */
    SF_OP_JOB_SIGNAL = 29,     /* job, signo: forward to ranks */
    SF_OP_JOB_STDIN = 30,      /* job, bytes (empty = EOF) */
    SF_OP_JOB_PART_DONE = 31,  /* job: all ranks of this node are gone */
    /* sf/sfrun <-> local sfd */
    SF_OP_STATUS_REQ = 32,     /* what (0: node status and counters) */
    SF_OP_STATUS = 33,         /* lines "key=value" */
    SF_OP_JOB_FLOW = 34,       /* job, paused: coordinator -> part output flow control */
    SF_OP_STDIN_ACK = 35,      /* job, bytes: rank 0's node -> coordinator -> sfrun, stdin
                                * bytes consumed so far (sfrun keeps a bounded window) */
    /* 36..39: reserved for the daemons (empty schema until used) */
    SF_OP_RESERVED_36 = 36,
    SF_OP_RESERVED_37,
    SF_OP_RESERVED_38,
    SF_OP_RESERVED_39,
    /* 40..55: the filesystem (sfd <-> sfd block and metadata replication,
     * sf/ranks <-> local sfd file operations); 56..71: checkpoints. Each stays
     * reserved (empty schema) until its op lands. */
    SF_OP_FS_PUT = 40,         /* sfd -> sfd: req, id (32), data: store durably, expecting id */
    SF_OP_FS_PUT_ACK = 41,     /* sfd -> sfd: req, status (0 or negative errno) */
    SF_OP_FS_GET = 42,         /* sfd -> sfd: req, id */
    SF_OP_FS_DATA = 43,        /* sfd -> sfd and sfd -> client: req, status, data (verified) */
    /* 44..47: metadata records between daemons (fs/sf_fs_meta.h; the record
     * list format is in fs/fs_meta_codec.c; key = 20-byte group key). */
    SF_OP_FS_META_CAS = 44,    /* sfd -> key's primary: req, key, items (conditions + writes,
                                * all or nothing); answered by FS_META_REPLY */
    SF_OP_FS_META_STORE = 45,  /* primary -> holder, or membership push: req, key, records
                                * (versions decided; a holder keeps only newer), push flag;
                                * answered by FS_META_REPLY */
    SF_OP_FS_META_READ = 46,   /* sfd -> holder: req, key, name ("" = whole group), flags
                                * (1 local only: no sync; 2 every live file entry held,
                                * key ignored; 4 name is a cursor: live entries after it;
                                * 8 name is a cursor: every record after it, a page);
                                * answered by FS_META_REPLY */
    SF_OP_FS_META_REPLY = 47,  /* req, status, records (CAS: the records as written, or on a
                                * failed condition the record that failed it) */
    SF_OP_FS_BLOCK_WRITE = 48, /* client -> local sfd: req, replicas (0 = default), data */
    SF_OP_FS_BLOCK_DONE = 49,  /* local sfd -> client: req, status, id, message (naming the node) */
    SF_OP_FS_BLOCK_READ = 50,  /* client -> local sfd: req, id; answered by FS_DATA */
    /* 51..54: the namespace, client <-> local sfd (verbs, flags and the
     * entry list format: fs/sf_fs_meta.h). */
    SF_OP_FS_NS = 51,          /* client -> sfd: req, verb (SF_FS_NS_*), path, path2 (RENAME
                                * target, else ""), expect (COMMIT: version read, 0 = create
                                * new), mode (CREATE/MKDIR when inode is empty), inode
                                * (encoded sf_fs_inode or empty), flags (SF_FS_NSF_*);
                                * answered by FS_NS_ANS */
    SF_OP_FS_NS_ANS = 52,      /* sfd -> client: req, status (0 or -errno), version, inode
                                * (encoded sf_fs_inode, version filled; empty for RMDIR/UNLINK/
                                * RENAME), fid (20 bytes: the file's stable id), message */
    SF_OP_FS_READDIR = 53,     /* client -> sfd: req, path, after (names > this in byte
                                * order; "" = from the start), max (0 = server default) */
    SF_OP_FS_DIRENTS = 54,     /* sfd -> client: req, status, entries (sf_fs_meta_dirent_next),
                                * done (1: no more names), message */
    SF_OP_FS_ADMIN = 55,       /* client <-> local sfd: req, verb (1 status, 2 scrub, 3 gc),
                                * status, text (request: 0, ""; reply: "key=value" lines) */
    /* 56..63: checkpoint coordination (launcher/sfd/sfd_ckpt.c, the app
     * backend checkpoint/ckpt_app.c; protocol in sfd_ckpt.c's header). */
    SF_OP_CKPT_REQ = 56,       /* sf -> local sfd: job, what (1 = checkpoint now) */
    SF_OP_CKPT_ANS = 57,       /* sfd -> sf: job, epoch, status (0 or -errno), text */
    SF_OP_CKPT_STORED = 58,    /* rank -> its sfd (app backend): job, rank, epoch, bytes,
                                * status: this rank's image of epoch is stored (or failed) */
    SF_OP_CKPT_BEGIN = 59,     /* coordinator -> part: job, epoch, backend (1 criu): checkpoint
                                * the local ranks (transparent backend) */
    SF_OP_CKPT_PART = 60,      /* part -> coordinator: job, epoch, rank (-1 = every rank of
                                * the node), bytes, status, text: image(s) stored or failed */
    SF_OP_CKPT_COMMIT = 61,    /* coordinator -> part, and sfd -> waiting rank: job, epoch,
                                * status (0 committed, <0 aborted), text */
    SF_OP_RESERVED_62,
    SF_OP_RESERVED_63,
    /* 64..67: a rank <-> its sfd around a CRIU checkpoint (checkpoint/
     * sf_ckpt_criu.h; the rank side is runtime/rt/rt_quiesce.c). */
    SF_OP_CKPT_PREPARE = 64,   /* sfd -> rank: job, epoch, flags 0, dir "": quiesce now.
                                * Also a client -> local sfd driver (tests, until `sf ckpt`
                                * drives it): flags 1 checkpoint the local part of job into
                                * dir (left running), 2 kill it and restore it from dir;
                                * answered by CKPT_RESUMED (rank -1). To ranks during a
                                * checkpoint, flags 0x80000000 | R: rank R finalized
                                * and ended, expect no marker from it */
    SF_OP_CKPT_READY = 65,     /* rank -> sfd: rank, epoch, status (0: quiet, transports and
                                * shared segment closed; <0: cannot) */
    SF_OP_CKPT_RESUME = 66,    /* sfd -> rank: epoch, restored (1: from an image), path of the
                                * new shared segment ("" = none): reopen, publish RANK_ADDR,
                                * wait for the ADDR_TABLE of this epoch */
    SF_OP_CKPT_RESUMED = 67,   /* rank -> sfd: rank, epoch, status, text: running again; and
                                * sfd -> the driving client: -1, epoch, status, text */
    SF_OP_RESERVED_68,
    SF_OP_RESERVED_69,
    SF_OP_RESERVED_70,
    SF_OP_RESERVED_71,
    SF_OP_COUNT
};

/* A decoded field. Strings and byte strings point into the frame buffer:
 * valid as long as the caller keeps that buffer. STR is NOT NUL-terminated:
 * use .len. STRV/I32V point at their encoded form; iterate with
 * sf_wire_strv_next / sf_wire_i32v_get. For STRV/I32V the decoder also sets
 * .u to the byte size of that encoded form (what strv_next walks). */
struct sf_wire_val {
    union {
        uint64_t u;
        int64_t i;
    };
    const uint8_t *p;
    uint32_t len;  /* bytes for STR/BYTES; element count for STRV/I32V */
};

struct sf_wire_msg {
    uint8_t op;
    uint32_t seq;
    uint8_t nfields;
    struct sf_wire_val f[SF_WIRE_MAX_FIELDS];
};

/* Schema of one op: name for logs and its field kinds. */
struct sf_wire_schema {
    const char *name;
    uint8_t nfields;
    uint8_t kinds[SF_WIRE_MAX_FIELDS];
};
const struct sf_wire_schema *sf_wire_schema(uint8_t op); /* NULL if unknown */

/* Decode one frame from buf[0..len). Validates magic, version, length,
 * checksum, op and every field against the op's schema before filling *msg;
 * on error *msg is untouched.
 * Returns the frame length consumed (>0), 0 if more bytes are needed
 * (header or body incomplete), or a negative code: SF_ERR_PROTO,
 * SF_ERR_VERSION, SF_ERR_CHECKSUM, -EMSGSIZE. */
long sf_wire_decode(const uint8_t *buf, size_t len, struct sf_wire_msg *msg);

/* Encoder: build a frame into a growable buffer.
 *   struct sf_wire_enc e; sf_wire_enc_begin(&e, SF_OP_RANK_HELLO, seq);
 *   sf_wire_put_u64(&e, job); ...; sf_wire_enc_end(&e) -> 0 or error;
 *   send e.buf[0..e.len); sf_wire_enc_free(&e).
 * Fields must be put in schema order with the schema's kinds; enc_end
 * checks that and returns SF_ERR_PROTO on mismatch (a programming error). */
struct sf_wire_enc {
    uint8_t *buf;
    size_t len, cap;
    uint8_t op, nfields;
    int err;
};
void sf_wire_enc_begin(struct sf_wire_enc *e, uint8_t op, uint32_t seq);
void sf_wire_put_u8(struct sf_wire_enc *e, uint8_t v);
void sf_wire_put_u16(struct sf_wire_enc *e, uint16_t v);
void sf_wire_put_u32(struct sf_wire_enc *e, uint32_t v);
void sf_wire_put_u64(struct sf_wire_enc *e, uint64_t v);
void sf_wire_put_i32(struct sf_wire_enc *e, int32_t v);
void sf_wire_put_i64(struct sf_wire_enc *e, int64_t v);
void sf_wire_put_str(struct sf_wire_enc *e, const char *s);      /* NUL-terminated */
void sf_wire_put_bytes(struct sf_wire_enc *e, const void *p, size_t n);
void sf_wire_put_strv(struct sf_wire_enc *e, char *const *v, size_t n);
void sf_wire_put_i32v(struct sf_wire_enc *e, const int32_t *v, size_t n);
int sf_wire_enc_end(struct sf_wire_enc *e);
void sf_wire_enc_free(struct sf_wire_enc *e);

/* Iterate a decoded STRV: *pos starts at 0; returns 1 with s/len set, or 0
 * at the end. */
int sf_wire_strv_next(const struct sf_wire_val *v, uint32_t *pos, const uint8_t **s,
                      uint32_t *len);
int32_t sf_wire_i32v_get(const struct sf_wire_val *v, uint32_t idx);
/* Copy a decoded STR into a fresh NUL-terminated malloc'd string (owned by
 * the caller); NULL on ENOMEM. */
char *sf_wire_strdup(const struct sf_wire_val *v);

/* Dispatch: handlers indexed by op; returns the handler's result, or
 * SF_ERR_PROTO if the table has no handler for msg->op. */
typedef int (*sf_wire_handler)(void *ctx, const struct sf_wire_msg *msg);
int sf_wire_dispatch(const sf_wire_handler *table, size_t n, void *ctx,
                     const struct sf_wire_msg *msg);

/* A stream connection's receive side: accumulate bytes from a socket and
 * hand out whole decoded frames. Owns its buffer. */
struct sf_wire_rx {
    uint8_t *buf;
    size_t len, cap, off;
    unsigned long dropped;   /* frames rejected by the decoder */
};
void sf_wire_rx_init(struct sf_wire_rx *rx);
void sf_wire_rx_free(struct sf_wire_rx *rx);
/* read(2) once from fd into the buffer: >0 bytes read, 0 on EOF, -EAGAIN,
 * or a negative errno. */
long sf_wire_rx_fill(struct sf_wire_rx *rx, int fd);
/* Next frame: 1 and *msg filled (valid until the next fill/next call),
 * 0 if none complete yet, or a negative code for a corrupt stream (the
 * connection must then be closed: framing is lost). */
int sf_wire_rx_next(struct sf_wire_rx *rx, struct sf_wire_msg *msg);

/* Write a whole buffer to a blocking or non-blocking fd, retrying EINTR and
 * polling on EAGAIN. 0 or a negative errno (-EPIPE when the peer is gone). */
int sf_wire_write_all(int fd, const void *buf, size_t len);

#endif
