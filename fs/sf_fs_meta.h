/* Starfish filesystem metadata: the namespace (directories, file inodes)
 * kept in a replicated, versioned record store across the daemons, with no
 * master. Declares (1) what clients of ops 51..54 need: verbs, flags and
 * the directory-entry list codec; (2) the record codecs of ops 44..47 and
 * the on-disk log; (3) the pure protocol core (no I/O: transport, disk and
 * clock injected) that sfd runs on its loop thread and tests run on a
 * simulated network. Design: fs/README.md "Metadata". */
#ifndef SF_FS_META_H
#define SF_FS_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dht/sf_dht.h"
#include "fs/sf_fs.h"

/* ============================================ client side (ops 51..54)
 * FS_NS (51) carries one verb; FS_NS_ANS (52) answers it:
 *   LOOKUP  path                  -> inode (the entry's record), version, fid
 *   CREATE  path, mode|inode      new empty file (or the given inode); -EEXIST
 *                                 if the name exists (live); -ENOENT / -ENOTDIR
 *                                 for a missing or non-directory parent
 *   COMMIT  path, expect, inode   publish a file's new inode (size, blocks,
 *                                 mode, owner, times) iff its version is still
 *                                 `expect`; else -ESTALE (someone committed
 *                                 first: LOOKUP again). expect 0 = create it
 *                                 with this inode (-EEXIST if it exists)
 *   MKDIR   path, mode|inode      -EEXIST if the name exists
 *   RMDIR   path                  -ENOTEMPTY, -ENOTDIR
 *   UNLINK  path                  -EISDIR for a directory
 *   RENAME  path -> path2         replaces a file at path2 (not a directory:
 *                                 -EEXIST, or with SF_FS_NSF_NOREPLACE any
 *                                 existing path2: -EEXIST); moving a directory
 *                                 under itself: -EINVAL
 * Paths go through sf_fs_path_check (-EINVAL, -ENAMETOOLONG, -EILSEQ, with a
 * message naming the component). Errors that leave the outcome unknown
 * (a holder stopped answering mid-write): -ETIMEDOUT / -EHOSTDOWN. */
enum sf_fs_ns_verb {
    SF_FS_NS_LOOKUP = 1,
    SF_FS_NS_CREATE = 2,
    SF_FS_NS_COMMIT = 3,
    SF_FS_NS_MKDIR = 4,
    SF_FS_NS_RMDIR = 5,
    SF_FS_NS_UNLINK = 6,
    SF_FS_NS_RENAME = 7,
};
#define SF_FS_NSF_NOREPLACE 0x1u /* RENAME: fail with -EEXIST if path2 exists */

#define SF_FS_FID_LEN 20          /* a file's stable id (survives commits and renames) */
#define SF_FS_READDIR_DEFAULT 256 /* entries per FS_DIRENTS when max is 0 */
#define SF_FS_READDIR_MAX 4096    /* largest max honoured */

/* One entry of an FS_DIRENTS list. Format (big-endian), repeated:
 *   1 byte name length n (1..255), n bytes name, 20 bytes fid,
 *   2 bytes inode length m (1..SF_DHT_VALUE_MAX), m bytes encoded inode.
 * Entries come in byte order of name. */
struct sf_fs_meta_dirent {
    char name[SF_FS_NAME_MAX + 1]; /* NUL-terminated */
    size_t name_len;
    uint8_t fid[SF_FS_FID_LEN];
    struct sf_fs_inode inode; /* version filled */
};
/* Decode the entry at *off in buf[0..len) and advance *off: 1 (an entry),
 * 0 (end: *off == len) or SF_FS_ECORRUPT. */
int sf_fs_meta_dirent_next(const uint8_t *buf, size_t len, size_t *off,
                           struct sf_fs_meta_dirent *out);
/* Append one entry to buf (cap bytes) at *off. 0, -ENOSPC, -EINVAL. */
int sf_fs_meta_dirent_put(uint8_t *buf, size_t cap, size_t *off, const char *name, size_t name_len,
                          const uint8_t fid[SF_FS_FID_LEN], const struct sf_fs_inode *ino);

/* ============================================= records (ops 44..47)
 * The store holds records named (group key, name). A directory's entries
 * are the records of its group: key = the directory's fid (the root's is
 * sf_fs_meta_root_key), name = the entry's name; plus the marker "." (the
 * directory is open for new entries). All records of a group live on the
 * same R nodes (closest to the key by XOR), so one node (the primary)
 * decides every compare-and-set on a directory. */
#define SF_FS_META_VALUE_MAX 1024 /* bytes in one record's value */
#define SF_FS_META_RF_DELETED 0x1 /* tombstone (value empty) */

enum sf_fs_meta_cond {
    SF_FS_META_C_ANY = 0,     /* no check */
    SF_FS_META_C_VERSION = 1, /* version == expect (0: never written) else -ESTALE */
    SF_FS_META_C_ABSENT = 2,  /* missing or deleted, else -EEXIST */
    SF_FS_META_C_LIVE = 3,    /* present and not deleted, else -ENOENT */
    SF_FS_META_C_EMPTY = 4,   /* no live record in the group but "." (name
                               * ignored), else -ENOTEMPTY */
};
enum sf_fs_meta_action {
    SF_FS_META_A_NONE = 0,   /* condition only */
    SF_FS_META_A_PUT = 1,    /* write value with version current + 1 */
    SF_FS_META_A_DELETE = 2, /* tombstone with version current + 1 */
};

/* A record, or a CAS item (cond/action/expect used) -- one codec. name and
 * value point into the caller's buffer. */
struct sf_fs_meta_rec {
    const char *name;
    size_t name_len; /* 1..255 */
    uint64_t version;
    uint8_t flags; /* SF_FS_META_RF_* */
    uint8_t cond, action;
    const uint8_t *value;
    size_t value_len; /* <= SF_FS_META_VALUE_MAX */
};
/* A record list (the BYTES of ops 44, 45, 47), format in fs_meta_codec.c.
 * encode: *len gets the size; with buf NULL only the size is computed.
 * 0, -EINVAL, -ENOSPC. decode: fills recs[0..cap), *n the count; 0,
 * SF_FS_ECORRUPT or -ENOSPC (more than cap). Pointers go into buf. */
int sf_fs_meta_recs_encode(const struct sf_fs_meta_rec *recs, size_t n, uint8_t *buf, size_t cap,
                           size_t *len);
int sf_fs_meta_recs_decode(const uint8_t *buf, size_t len, struct sf_fs_meta_rec *recs, size_t cap,
                           size_t *n);
/* How many records a list holds (first 4 bytes), for sizing decode. */
int sf_fs_meta_recs_count(const uint8_t *buf, size_t len, size_t *n);

/* The value of a name record: fid (a directory's fid is its group key) and
 * the inode. Format: 1 byte version = 1, 1 byte type = 3, 2 bytes 0, 20
 * bytes fid, then the encoded inode. */
struct sf_fs_meta_entry {
    uint8_t fid[SF_FS_FID_LEN];
    struct sf_fs_inode inode;
};
int sf_fs_meta_entry_encode(const struct sf_fs_meta_entry *e, uint8_t *buf, size_t cap,
                            size_t *len);
int sf_fs_meta_entry_decode(const uint8_t *buf, size_t len, struct sf_fs_meta_entry *e);

/* The root directory's group key: BLAKE2b-160("sfroot"). */
void sf_fs_meta_root_key(struct sf_dht_id *out);

/* On-disk log of a node's records (sfd: STATE/fs/meta.log): a sequence of
 *   4 bytes length L, 4 bytes CRC-32C of the next L bytes, 20 bytes key,
 *   then one record list (sf_fs_meta_recs_encode) -- L = 20 + list size.
 * A torn tail (crash mid-append) ends the log. next: 1 (a frame: key and
 * list), 0 (clean end or torn tail: *off stays at the last good frame),
 * SF_FS_ECORRUPT (a complete frame whose CRC or contents are bad). */
int sf_fs_meta_log_frame(const struct sf_dht_id *key, const struct sf_fs_meta_rec *recs, size_t n,
                         uint8_t **out, size_t *len);
int sf_fs_meta_log_next(const uint8_t *buf, size_t len, size_t *off, struct sf_dht_id *key,
                        const uint8_t **list, size_t *list_len);

/* ======================================================= the core
 * One node's metadata protocol state. Single-threaded: every call on one
 * core from one thread. Messages (transport-neutral; sfd maps them to ops
 * 44..47, the simulator copies them): */
enum sf_fs_meta_mtype {
    SF_FS_META_M_CAS = 1,   /* req, key, recs = items */
    SF_FS_META_M_STORE = 2, /* req, key, recs, flags 1 = membership push */
    SF_FS_META_M_READ = 3,  /* req, key, name ("" whole group), flags */
    SF_FS_META_M_REPLY = 4, /* req, status, recs */
};
/* READ flags. LOCAL: answer from local state (no group sync). FILES: every
 * live file entry held (GC), key ignored. AFTER: name is a cursor, live
 * entries after it, at most SF_FS_READDIR_MAX + 1 (readdir pages). PAGE:
 * name is a cursor, every record after it (tombstones and "." too), at most
 * cfg.sync_page (a primary's sync reads a group page by page). */
#define SF_FS_META_READ_LOCAL 0x1
#define SF_FS_META_READ_FILES 0x2
#define SF_FS_META_READ_AFTER 0x4
#define SF_FS_META_READ_PAGE 0x8

struct sf_fs_meta_msg {
    enum sf_fs_meta_mtype type;
    uint64_t req;
    struct sf_dht_id key;
    int32_t status;
    uint8_t flags;
    const char *name;
    size_t name_len;
    const struct sf_fs_meta_rec *recs;
    size_t n_recs;
};

struct sf_fs_meta_ops {
    /* Send m to node `to` (never self). Fire and forget: a lost message is
     * handled by timeouts. */
    void (*send)(void *arg, const struct sf_dht_id *to, const struct sf_fs_meta_msg *m);
    /* Make the records of group key durable (sfd: append + fdatasync on a
     * worker thread) and then call sf_fs_meta_persisted(m, token, status)
     * from the core's thread, later (never inside this call), in the order
     * of the calls. The core uses the records (answers, replicas) only
     * then. recs are valid during this call only. NULL: no disk. */
    void (*persist)(void *arg, const struct sf_dht_id *key, const struct sf_fs_meta_rec *recs,
                    size_t n, uint64_t token);
    /* n random bytes (fids of new files and directories). */
    void (*random)(void *arg, uint8_t *buf, size_t n);
    void *arg;
};

struct sf_fs_meta_config {
    struct sf_dht_id self;
    int replicas;        /* R: holders per group, 1..SF_FS_R_MAX (default 3) */
    uint64_t timeout_ms; /* one request's deadline (default 5000) */
    /* A member lost this long is gone for good: the quorum is counted on
     * the smaller view from then on (default 300000). Until then a majority
     * of min(R, the largest view) must take part in every decision, so a
     * node cut off from the others cannot decide alone. */
    uint64_t shrink_grace_ms;
    /* The largest view this node saw before it restarted (sfd keeps it in
     * STATE_DIR/fsmeta/view): a restarted node waits for its peers (or the
     * grace) before deciding alone. 0: start from 1. */
    size_t ref_members;
    /* Records per page when a primary syncs a group from a holder
     * (READ_PAGE; default 2048: about 1.2 MiB of full-size entries). */
    size_t sync_page;
};

struct sf_fs_meta;
int sf_fs_meta_new(const struct sf_fs_meta_config *cfg, const struct sf_fs_meta_ops *ops,
                   struct sf_fs_meta **out);
void sf_fs_meta_free(struct sf_fs_meta *m); /* pending callbacks are not called */
/* Start-up: records read back from disk (highest version kept). */
int sf_fs_meta_load(struct sf_fs_meta *m, const struct sf_dht_id *key,
                    const struct sf_fs_meta_rec *recs, size_t n);
/* The live members (self is added if missing). Pushes every record held to
 * its holders in the new view, fails requests to nodes that left, and makes
 * each primary re-sync a group from its holders before its next decision. */
int sf_fs_meta_members(struct sf_fs_meta *m, const struct sf_dht_id *ids, size_t n);
void sf_fs_meta_input(struct sf_fs_meta *m, const struct sf_dht_id *from,
                      const struct sf_fs_meta_msg *msg);
/* The host's answer to ops.persist: status 0 (durable) or a negative errno
 * (the write is refused and answered with it). Unknown tokens are ignored. */
void sf_fs_meta_persisted(struct sf_fs_meta *m, uint64_t token, int status);
/* Time (ms, monotonic): expires requests past their deadline. */
void sf_fs_meta_tick(struct sf_fs_meta *m, uint64_t now_ms);

/* Namespace requests (coordinator: the client's local node). */
struct sf_fs_meta_nsreq {
    enum sf_fs_ns_verb verb;
    const char *path, *path2; /* NUL-terminated */
    uint64_t expect;
    uint32_t mode;                   /* CREATE / MKDIR without inode */
    const struct sf_fs_inode *inode; /* CREATE / MKDIR / COMMIT, or NULL */
    uint32_t flags;
    uint32_t uid, gid; /* owner for CREATE / MKDIR without inode */
    int64_t now_ns;    /* times for CREATE / MKDIR without inode */
};
struct sf_fs_meta_result {
    int status;
    char message[200];
    uint64_t version;
    uint8_t fid[SF_FS_FID_LEN];
    struct sf_fs_inode inode;
    bool has_inode;
    /* readdir */
    uint8_t *entries; /* sf_fs_meta_dirent list, owned by the core: valid
                       * during the callback only */
    size_t entries_len;
    bool done;
};
typedef void (*sf_fs_meta_done_fn)(void *arg, const struct sf_fs_meta_result *res);
/* Start a request; cb runs exactly once, later (never inside this call).
 * 0 or -ENOMEM. */
int sf_fs_meta_ns(struct sf_fs_meta *m, const struct sf_fs_meta_nsreq *rq, sf_fs_meta_done_fn cb,
                  void *arg);
int sf_fs_meta_readdir(struct sf_fs_meta *m, const char *path, const char *after, uint32_t max,
                       sf_fs_meta_done_fn cb, void *arg);
/* Deferred callbacks (results of requests finished inside another call)
 * are run by this; sfd calls it after every input/tick/ns. */
void sf_fs_meta_run(struct sf_fs_meta *m);

/* Every live file entry held here (for the block GC: the union over all
 * live nodes covers every file, since each record has R holders): fn gets
 * the fid and inode (refs are data blocks at depth 0, else list blocks
 * the caller resolves with sf_fs_blist_resolve). fn returns non-zero to
 * stop (returned). */
typedef int (*sf_fs_meta_file_fn)(void *arg, const uint8_t fid[SF_FS_FID_LEN],
                                  const struct sf_fs_inode *ino);
int sf_fs_meta_walk_files(struct sf_fs_meta *m, sf_fs_meta_file_fn fn, void *arg);

/* The block GC's live set, cluster-wide: asks every member (us included)
 * for the live file entries it holds (READ_FILES) and calls cb once with
 * the union (duplicates possible; every version any holder still has, so
 * an old block list keeps its blocks: safe for GC). status is 0 only if
 * every member answered; a GC must not run on anything less. inodes is
 * the core's, valid during cb. 0 or -ENOMEM (cb is then not called). */
typedef void (*sf_fs_meta_files_fn)(void *arg, int status, const struct sf_fs_inode *inodes,
                                    size_t n);
int sf_fs_meta_collect_files(struct sf_fs_meta *m, sf_fs_meta_files_fn cb, void *arg);

/* Every group held here with all its records (tombstones too): the log
 * compaction writes them back. fn returns non-zero to stop (returned). */
typedef int (*sf_fs_meta_group_fn)(void *arg, const struct sf_dht_id *key,
                                   const struct sf_fs_meta_rec *recs, size_t n);
int sf_fs_meta_walk_groups(struct sf_fs_meta *m, sf_fs_meta_group_fn fn, void *arg);

/* The view size the quorum is counted against now (to be kept across
 * restarts as cfg.ref_members). */
size_t sf_fs_meta_ref_members(const struct sf_fs_meta *m);

/* Counters for status lines. */
struct sf_fs_meta_stats {
    uint64_t groups, records, live, tombstones;
    uint64_t cas_ok, cas_failed, pushes, syncs, timeouts;
};
void sf_fs_meta_stats(const struct sf_fs_meta *m, struct sf_fs_meta_stats *st);

#endif
