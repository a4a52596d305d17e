/* fs client internals shared by fs/fs_client*.c: the connection, the table
 * of requests in flight (replies matched by req) and the block cutter. Not
 * a public API. One thread per client (see sf_fs_client.h). */
#ifndef FS_CLIENT_INT_H
#define FS_CLIENT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/sf_fs_client.h"
#include "runtime/base/sf_wire.h"

/* ---- requests in flight (fs_client_pend.c, pure) ----------------------- */

enum fsc_state { FSC_FREE = 0, FSC_WAITING, FSC_DONE };

/* One request awaiting its reply. A reply is either copied whole (msg and
 * the bytes its fields point into, one allocation in mem), or, for FS_DATA
 * with a destination set, its data goes straight into dst. */
struct fsc_req {
    uint64_t req;
    uint8_t reply_op;  /* the op that answers it */
    enum fsc_state state;
    int status;        /* the reply's status field (after state == DONE) */
    void *dst;         /* FS_DATA: where the data goes (cap bytes), else NULL */
    size_t cap, len;
    struct sf_wire_msg msg; /* the reply (field pointers into mem) */
    uint8_t *mem;
};

struct fsc_pend {
    struct fsc_req *v;
    size_t n, cap; /* v[0..n) in use (state != FREE), order of issue */
};

void sf_fs__pend_init(struct fsc_pend *p);
void sf_fs__pend_free(struct fsc_pend *p);
/* A new entry for req (unique among those in flight). Returns its index or
 * -ENOMEM. Indices move when entries are removed: look up by req. */
long sf_fs__pend_add(struct fsc_pend *p, uint64_t req, uint8_t reply_op, void *dst, size_t cap);
/* Index of req, or -1. */
long sf_fs__pend_find(const struct fsc_pend *p, uint64_t req);
/* Remove entry i (frees its copy). */
void sf_fs__pend_remove(struct fsc_pend *p, size_t i);
/* Deliver a decoded reply: find its req (field 0) and fill the entry. The
 * status is field 1, or field 2 for FS_ADMIN. Returns 1 if delivered, 0 if
 * no request waits for it (late or unknown: the caller drops it), or a
 * negative code: SF_ERR_PROTO (not a reply op, wrong op for that req, or a
 * second reply), -EFBIG (FS_DATA larger than its destination), -ENOMEM. */
int sf_fs__pend_deliver(struct fsc_pend *p, const struct sf_wire_msg *m);

/* ---- block cutter (fs_client_pend.c, pure) ------------------------------ */

/* Fills fixed-size blocks from a stream of writes. */
struct fsc_cut {
    uint8_t *buf;
    size_t bs, fill;
};
/* Take up to len bytes from p into the current block. Returns how many
 * were taken; *full is set when the block is complete (the caller sends
 * buf[0..bs) and calls sf_fs__cut_reset). */
size_t sf_fs__cut_take(struct fsc_cut *k, const void *p, size_t len, bool *full);
static inline void sf_fs__cut_reset(struct fsc_cut *k)
{
    k->fill = 0;
}

/* ---- the connection (fs_client.c) --------------------------------------- */

struct sf_fs_client {
    int fd;
    struct sf_fs_client_opts o;
    uint64_t next_req;
    uint32_t seq;
    struct sf_wire_rx rx;
    uint64_t rx_bytes; /* received so far: any progress resets the reply timeout */
    struct fsc_pend pend;
    int dead;          /* 0, or why the connection is unusable */
    int default_replicas;
    char err[512];
};

/* Format the client's error message and return code. */
int sf_fs__err(struct sf_fs_client *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Start an encoded request: a fresh req number. */
uint64_t sf_fs__req_begin(struct sf_fs_client *c, struct sf_wire_enc *e, uint8_t op);
/* Finish, register (reply_op, dst/cap) and send e; frees e. 0 or an error
 * (message set). */
int sf_fs__req_send(struct sf_fs_client *c, struct sf_wire_enc *e, uint64_t req, uint8_t reply_op,
                    void *dst, size_t cap);
/* Wait until req has its reply (reading and delivering whatever arrives,
 * for any req). Returns the pend index, or a negative code (timeout: the
 * connection is marked dead). */
long sf_fs__req_wait(struct sf_fs_client *c, uint64_t req);
/* Wait until at least one of the given reqs is done; its index in reqs.
 * Used by a window of requests that may complete out of order. */
long sf_fs__req_wait_any(struct sf_fs_client *c, const uint64_t *reqs, size_t n);
/* Send e and wait for its reply. On success (status 0) *out is its entry
 * (valid until the next call on c; the caller drops req when done). On
 * failure the request is forgotten and the message is "what: the reply's
 * STR field msg_field". */
int sf_fs__req_call(struct sf_fs_client *c, struct sf_wire_enc *e, uint64_t req, uint8_t reply_op,
                    int msg_field, const char *what, struct fsc_req **out);
/* Forget a request (its entry and any reply). */
void sf_fs__req_drop(struct sf_fs_client *c, uint64_t req);
/* Copy the reply's message field (STR at index fi) into the error text,
 * prefixed with what; returns code. */
int sf_fs__err_reply(struct sf_fs_client *c, int code, const struct sf_wire_msg *m, int fi,
                     const char *what);

/* Blocks through the daemon (fs_client_io.c). */
int sf_fs__block_write(struct sf_fs_client *c, int replicas, const void *buf, size_t len,
                       struct sf_fs_block_id *id);
int sf_fs__block_read(struct sf_fs_client *c, const struct sf_fs_block_id *id, void *buf,
                      size_t cap, size_t *len);

/* A writer that starts from the first n data blocks of an existing file
 * (ids, all full blocks of bs bytes) and commits over version expect with
 * the file's replicas and mode (truncate, and the FUSE mount's rewrite of
 * a file changed in the middle). */
int sf_fs__writer_open_from(struct sf_fs_client *c, const char *path, const struct sf_fs_inode *old,
                            const struct sf_fs_block_id *ids, size_t n, struct sf_fs_writer **out);
/* All data block ids of a file (malloc'd into *ids, *n of them). */
int sf_fs__resolve(struct sf_fs_client *c, const struct sf_fs_inode *ino, struct sf_fs_block_id **ids,
                   uint64_t *n);

/* Namespace (fs_client_ns.c): the current inode of a path. */
int sf_fs__lookup(struct sf_fs_client *c, const char *path, struct sf_fs_inode *ino);
/* Publish ino at path iff its version is still expect (0: the path must
 * not exist): else -ESTALE / -EEXIST. st may be NULL. */
int sf_fs__commit(struct sf_fs_client *c, const char *path, uint64_t expect,
                  const struct sf_fs_inode *ino, struct sf_fs_stat *st);
void sf_fs__stat_from_inode(const struct sf_fs_inode *ino, struct sf_fs_stat *st);
/* Check a path for a request; sets the message. */
int sf_fs__path_ok(struct sf_fs_client *c, const char *path);

#endif
