/* Starfish filesystem, first layer: the local content-addressed block store,
 * block placement and repair planning (pure), inode / directory-entry /
 * block-list record codecs, and name and path validation. No network I/O:
 * replication, metadata and the client API live in the layers named at the
 * end. Store calls are thread-safe; the rest
 * is pure and runs on any thread. */
#ifndef SF_FS_H
#define SF_FS_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "dht/sf_dht.h"
#include "runtime/base/sf_tun.h"

/* ------------------------------------------------------------ basics */

#define SF_FS_ID_LEN 32                /* BLAKE2b-256 of a block's bytes */
#define SF_FS_BLOCK_MIN 4096u          /* smallest allowed block size */
#define SF_FS_BLOCK_MAX (64u << 20)    /* largest allowed block size */
#define SF_FS_BLOCK_DEFAULT (1u << 20) /* 1 MiB */
#define SF_FS_R_MAX 16                 /* largest replication factor */
#define SF_FS_NAME_MAX 255             /* bytes in one path component */
#define SF_FS_PATH_MAX 4095            /* bytes in a whole path */

/* Errors (all are negative errno, so sf_strerror names them):
 *   SF_FS_ECORRUPT   a block's bytes do not hash to its name (bad replica:
 *                    repair it from another holder), or a record failed
 *                    validation
 *   -ENOENT          no such block
 *   -EFBIG           more bytes than the block size / the format allows
 *   -EINVAL          bad argument, or a name that is empty, ".", "..",
 *                    holds '/' or NUL, or a path that is not absolute
 *   -ENAMETOOLONG    a component over 255 bytes or a path over 4095
 *   -EILSEQ          a name that is not valid UTF-8
 *   -EBUSY           the store directory is open in another process */
#define SF_FS_ECORRUPT (-EBADMSG)

/* A block's name: BLAKE2b-256 (unkeyed, libsodium crypto_generichash) of
 * its bytes. A plain byte array (alignment 1). */
struct sf_fs_block_id {
    uint8_t b[SF_FS_ID_LEN];
};

/* Tunables, SF_FS_<NAME> (sf_fs_tun_table). */
struct sf_fs_config {
    size_t block_size; /* largest block, and the size files are cut into */
    int replicas;      /* default replication factor for new files, 1..16 */
};
extern const struct sf_tun_table sf_fs_tun_table;

/* Defaults (1 MiB, 2). */
void sf_fs_config_default(struct sf_fs_config *cfg);
/* Defaults then SF_FS_* overrides, validated (block size a power of two in
 * [SF_FS_BLOCK_MIN, SF_FS_BLOCK_MAX], replicas 1..SF_FS_R_MAX). 0 or
 * SF_ERR_CONFIG. */
int sf_fs_config_load(struct sf_fs_config *cfg);

/* Hash bytes into a block id (what the store names a block). */
void sf_fs_block_hash(const void *buf, size_t len, struct sf_fs_block_id *out);
/* 64 lower-case hex digits and a NUL into hex[65]. Returns hex. */
char *sf_fs_block_id_hex(const struct sf_fs_block_id *id, char hex[2 * SF_FS_ID_LEN + 1]);
/* Parse exactly 64 hex digits (either case). 0 or -EINVAL. */
int sf_fs_block_id_parse(const char *hex, struct sf_fs_block_id *out);
int sf_fs_block_id_cmp(const struct sf_fs_block_id *a, const struct sf_fs_block_id *b);

/* ------------------------------------------------------- block store
 * On disk (DIR is the caller's, e.g. the daemon's state dir + "/fs"):
 *   DIR/lock                 flock(LOCK_EX) while a store has DIR open
 *   DIR/blocks/XX/REST       a block: XX = first id byte in hex, REST = the
 *                            other 62 hex digits; the file is the raw bytes
 *   DIR/tmp/put.N            puts in progress; deleted by sf_fs_store_open
 *   DIR/corrupt/HEX.N        blocks that failed verification, moved aside
 * A put writes DIR/tmp/put.N, fsyncs it, renames it into blocks/XX/ and
 * fsyncs blocks/XX before it reports success, so a crash leaves either the
 * whole block or nothing visible. */
struct sf_fs_store;

/* Open the store under dir, creating dir (its parent must exist) and the
 * subdirectories, and removing leftovers of interrupted puts. block_size
 * bounds what a put accepts (cfg NULL: defaults). dir is copied; *out is
 * the caller's until sf_fs_store_close. 0, -EBUSY (dir is open in another
 * store, in this or another process), -EINVAL or a negative errno from the
 * filesystem. */
int sf_fs_store_open(const char *dir, const struct sf_fs_config *cfg, struct sf_fs_store **out);
/* Close; in-progress puts must have been committed or aborted. */
void sf_fs_store_close(struct sf_fs_store *s);
size_t sf_fs_store_block_size(const struct sf_fs_store *s);
/* Temp files removed by the last open (crash leftovers). */
unsigned sf_fs_store_cleaned(const struct sf_fs_store *s);

/* Streaming put: begin, write pieces (hashed as they go to the temp file,
 * never kept in memory), then commit or abort. One put handle is used by
 * one thread; different handles may run concurrently. */
struct sf_fs_put;
/* *out belongs to the caller until sf_fs_put_commit or sf_fs_put_abort. */
int sf_fs_put_begin(struct sf_fs_store *s, struct sf_fs_put **out);
/* Append bytes. -EFBIG past the block size (the put stays usable for
 * abort only). */
int sf_fs_put_write(struct sf_fs_put *p, const void *buf, size_t len);
/* Finish: if expect is non-NULL and the bytes hash to something else,
 * nothing is stored and SF_FS_ECORRUPT is returned (a replica received a
 * damaged copy). If the block is already present, the temp file is dropped
 * and the block's mtime refreshed (see sf_fs_block_gc); else it is made
 * durable as described above. The id goes to *id (may be NULL). Frees p
 * whatever the result. */
int sf_fs_put_commit(struct sf_fs_put *p, const struct sf_fs_block_id *expect,
                     struct sf_fs_block_id *id);
/* Drop a put; frees p. */
void sf_fs_put_abort(struct sf_fs_put *p);

/* One-call put of a buffer / an iovec (same rules as commit). */
int sf_fs_block_put(struct sf_fs_store *s, const void *buf, size_t len,
                    const struct sf_fs_block_id *expect, struct sf_fs_block_id *id);
int sf_fs_block_putv(struct sf_fs_store *s, const struct iovec *iov, int iovcnt,
                     const struct sf_fs_block_id *expect, struct sf_fs_block_id *id);
/* Put bytes the caller itself has just hashed to id (sf_fs_block_hash in
 * this process, from memory nobody else writes): stored under id without
 * hashing them again. Never for bytes received from another process —
 * those go through sf_fs_block_put with expect, which verifies. */
int sf_fs_block_put_named(struct sf_fs_store *s, const void *buf, size_t len,
                          const struct sf_fs_block_id *id);

/* Read a block into buf (cap bytes) and verify its hash; *len gets its
 * size. 0; -ENOENT; -EFBIG if cap is too small (nothing read);
 * SF_FS_ECORRUPT if the bytes do not match the name: the file is moved to
 * DIR/corrupt/ so that the block reads as absent and a put from a good
 * replica restores it. buf's contents are unspecified on error. */
int sf_fs_block_get(struct sf_fs_store *s, const struct sf_fs_block_id *id, void *buf, size_t cap,
                    size_t *len);
/* Is the block present (not verified), and its size. 0 or -ENOENT. */
int sf_fs_block_stat(struct sf_fs_store *s, const struct sf_fs_block_id *id, uint64_t *size);
/* Remove a block (durably). 0 or -ENOENT. */
int sf_fs_block_delete(struct sf_fs_store *s, const struct sf_fs_block_id *id);

/* Call cb for every block present (unverified), in no particular order;
 * cb returns non-zero to stop, and that value is returned. Files that are
 * not block names are skipped and counted in *stray (may be NULL). A
 * block deleted or added during the walk may or may not be seen; cb may
 * call other store functions (e.g. delete the block it was given). */
typedef int (*sf_fs_block_fn)(void *arg, const struct sf_fs_block_id *id, uint64_t size);
int sf_fs_block_enum(struct sf_fs_store *s, sf_fs_block_fn cb, void *arg, unsigned *stray);

/* Verify every block; corrupt ones are moved aside (as in get) and passed
 * to bad (may be NULL; its return value is ignored). Counts go to st. */
struct sf_fs_scrub_stats {
    uint64_t blocks, bytes, corrupt;
};
int sf_fs_block_scrub(struct sf_fs_store *s, sf_fs_block_fn bad, void *arg,
                      struct sf_fs_scrub_stats *st);

/* Garbage collection decided by the caller: delete every block that is not
 * in live[0..n_live) (any order, duplicates allowed; copied) and whose file
 * mtime (the time of its last put) is more than a second older than
 * keep_since_ns (CLOCK_REALTIME ns; the second absorbs the coarse file
 * clock), and empty DIR/corrupt/. A block in the live set is never
 * deleted. Race rule: take keep_since_ns BEFORE computing the live set; a
 * block put or re-put (committed) after that survives even if the set
 * missed it, also when the put runs concurrently with the GC. *deleted
 * (may be NULL) gets the count. */
int sf_fs_block_gc(struct sf_fs_store *s, const struct sf_fs_block_id *live, size_t n_live,
                   int64_t keep_since_ns, uint64_t *deleted);

/* -------------------------------------------------------- placement
 * A block's place in the DHT's 160-bit id space is the first 20 bytes of
 * its 32-byte id (a uniform hash truncated stays uniform), compared with
 * node ids (sfd: BLAKE2b-160 of "sfnode" and the node id) by XOR distance. */
void sf_fs_block_key(const struct sf_fs_block_id *id, struct sf_dht_id *key);

/* The r nodes of nodes[0..n) closest to key (r is at most SF_FS_R_MAX =
 * 16, below the DHT's default k of 20), nearest first (primary, then
 * monitors): their indices into nodes go to idx[0..r). A node id listed
 * twice counts once (its first index). Independent of the order of nodes
 * apart from which duplicate index is reported. Returns how many were
 * chosen (min(r, distinct nodes)) or -EINVAL (r outside 1..SF_FS_R_MAX). */
int sf_fs_place(const struct sf_dht_id *key, const struct sf_dht_id *nodes, size_t n, int r,
                size_t *idx);

/* Repair planning after a membership change. For each block, targets =
 * sf_fs_place(key, new nodes, r); its live holders are its holders that
 * are in the new set. Every target that is not a live holder gets one
 * copy from the live holder closest to the key, so every node that runs
 * the planner on the same inputs picks the same source and a node acts
 * only on the copies whose source is itself. */
struct sf_fs_repair_block {
    struct sf_fs_block_id id;
    int r;                           /* replication factor, 1..SF_FS_R_MAX */
    const struct sf_dht_id *holders; /* NULL: assume sf_fs_place on the old set */
    size_t n_holders;
};
enum sf_fs_repair_kind {
    SF_FS_REPAIR_COPY = 1, /* copy block from src to dst */
    SF_FS_REPAIR_LOST,     /* no live holder: the block is gone (src, dst NULL) */
    SF_FS_REPAIR_SURPLUS,  /* src holds it but is no target: may drop it once
                            * the copies are done (dst NULL) */
};
typedef void (*sf_fs_repair_fn)(void *arg, enum sf_fs_repair_kind kind, size_t block,
                                const struct sf_dht_id *src, const struct sf_dht_id *dst);
struct sf_fs_repair_stats {
    uint64_t blocks, healthy, copies, lost, surplus;
    uint64_t short_nodes; /* blocks with fewer live nodes than r (all used) */
};
/* Calls cb (never NULL) for each action, block by block in input order;
 * block is an index into blocks. st may be NULL. 0 or -EINVAL (bad r,
 * NULL cb). Pure: no I/O, no allocation. */
int sf_fs_repair_plan(const struct sf_dht_id *old_nodes, size_t n_old,
                      const struct sf_dht_id *new_nodes, size_t n_new,
                      const struct sf_fs_repair_block *blocks, size_t n_blocks, sf_fs_repair_fn cb,
                      void *arg, struct sf_fs_repair_stats *st);

/* ------------------------------------------------ names and paths */

/* One path component: 1..255 bytes, valid UTF-8 (no overlong forms, no
 * surrogates, <= U+10FFFF), no '/' or NUL, not "." or "..". 0, -EINVAL,
 * -ENAMETOOLONG or -EILSEQ. */
int sf_fs_name_check(const char *name, size_t len);
/* An absolute path as the filesystem names files: "/" or "/a/b" (no empty,
 * "." or ".." components, no trailing '/'), at most SF_FS_PATH_MAX bytes,
 * every component valid. On error *bad_off (may be NULL) gets the offset of
 * the offending component (for the message). */
int sf_fs_path_check(const char *path, size_t *bad_off);

/* --------------------------------------------------------- records
 * Inodes and directory entries are DHT values (<= SF_DHT_VALUE_MAX); the
 * byte layouts are documented in fs/fs_inode.c. Decoders validate every
 * field and accept only the canonical encoding (decode then encode gives
 * back the same bytes). */
#define SF_FS_INODE_REFS_MAX 14 /* block ids that fit in the inode record */
#define SF_FS_INODE_DEPTH_MAX 3 /* levels of indirect block lists */

struct sf_fs_inode {
    uint32_t mode; /* S_IFREG, S_IFDIR or S_IFLNK | permission bits 07777 */
    uint32_t uid, gid;
    uint64_t size;
    int64_t mtime_ns, ctime_ns;
    uint64_t version;    /* grows with every change */
    uint8_t replicas;    /* 1..SF_FS_R_MAX */
    uint32_t block_size; /* power of two, SF_FS_BLOCK_MIN..SF_FS_BLOCK_MAX */
    /* Block list: depth 0: refs are the data blocks themselves; depth d>0:
     * refs are block-list blocks of level d (see fs_inode.c). depth and
     * n_refs are fixed by size and block_size (sf_fs_inode_shape). */
    uint8_t depth;
    uint16_t n_refs;
    struct sf_fs_block_id refs[SF_FS_INODE_REFS_MAX];
};

/* Data blocks of a file, and the canonical depth / number of refs for it.
 * 0 or -EFBIG (a file too large for SF_FS_INODE_DEPTH_MAX levels) or
 * -EINVAL (bad block size). */
int sf_fs_inode_shape(uint64_t size, uint32_t block_size, uint64_t *n_blocks, uint8_t *depth,
                      uint16_t *n_refs);
/* Encode into buf (cap >= SF_DHT_VALUE_MAX is always enough); *len gets
 * the size. Validates like the decoder: 0, -EINVAL, -EFBIG, -ENOSPC. */
int sf_fs_inode_encode(const struct sf_fs_inode *ino, uint8_t *buf, size_t cap, size_t *len);
/* 0 or SF_FS_ECORRUPT; *ino is written only on success. */
int sf_fs_inode_decode(const uint8_t *buf, size_t len, struct sf_fs_inode *ino);

/* Directory entry: one DHT record per (directory, name), at
 * sf_fs_dirent_key(dir inode key, name). A deleted entry is a tombstone
 * with a higher version, so a stale holder cannot bring it back. */
struct sf_fs_dirent {
    char name[SF_FS_NAME_MAX + 1]; /* NUL-terminated */
    uint8_t name_len;
    struct sf_dht_id inode; /* the inode record's key (zero if deleted) */
    uint32_t kind;          /* S_IFREG, S_IFDIR or S_IFLNK (0 if deleted) */
    uint64_t version;
    bool deleted;
};
int sf_fs_dirent_encode(const struct sf_fs_dirent *de, uint8_t *buf, size_t cap, size_t *len);
int sf_fs_dirent_decode(const uint8_t *buf, size_t len, struct sf_fs_dirent *de);
/* DHT key of an entry: BLAKE2b-160("sfdirent" || dir key || name). */
void sf_fs_dirent_key(const struct sf_dht_id *dir, const char *name, size_t len,
                      struct sf_dht_id *out);

/* Block-list blocks (indirection for files with more than
 * SF_FS_INODE_REFS_MAX blocks). How many ids one list block holds. */
size_t sf_fs_blist_per_block(uint32_t block_size);
/* Store callback for the builder: store len bytes as a block, id to *id. */
typedef int (*sf_fs_blist_put_fn)(void *arg, const void *buf, size_t len,
                                  struct sf_fs_block_id *id);
/* Fetch callback for the reader: read block id into buf (cap), *len its
 * size; return 0 or a negative errno (the hash must have been checked). */
typedef int (*sf_fs_blist_get_fn)(void *arg, const struct sf_fs_block_id *id, void *buf, size_t cap,
                                  size_t *len);
/* Fill ino->depth, n_refs and refs for the data blocks data[0..n), storing
 * the list blocks through put (ino->size and block_size must be set and
 * agree with n). 0, -EINVAL, -EFBIG, -ENOMEM or put's error. */
int sf_fs_blist_build(struct sf_fs_inode *ino, const struct sf_fs_block_id *data, size_t n,
                      sf_fs_blist_put_fn put, void *arg);
/* Resolve an inode's block list into out[0..n_blocks) (n_blocks from
 * sf_fs_inode_shape; cap entries available), reading list blocks through
 * get and validating each (level, count, canonical shape). 0,
 * SF_FS_ECORRUPT, -ENOSPC, -ENOMEM or get's error. */
int sf_fs_blist_resolve(const struct sf_fs_inode *ino, sf_fs_blist_get_fn get, void *arg,
                        struct sf_fs_block_id *out, size_t cap);
/* Encode one list block of the given level (1..SF_FS_INODE_DEPTH_MAX) with
 * ids[0..n), 1 <= n <= sf_fs_blist_per_block. 0, -EINVAL or -ENOSPC. */
int sf_fs_blist_encode(uint8_t level, const struct sf_fs_block_id *ids, size_t n,
                       uint32_t block_size, uint8_t *buf, size_t cap, size_t *len);
/* Decode one list block: its level (1..SF_FS_INODE_DEPTH_MAX) and ids.
 * ids points into buf (entries are byte arrays, alignment 1). 0 or
 * SF_FS_ECORRUPT. */
int sf_fs_blist_decode(const uint8_t *buf, size_t len, uint32_t block_size, uint8_t *level,
                       const struct sf_fs_block_id **ids, size_t *n);

/* ---------------------------------------------------- the other layers
 * Replication of blocks between daemons: launcher/sfd/sfd_fs.c (README
 * "Block replication"); the namespace: fs/sf_fs_meta.h; the client side
 * (streaming reader/writer for checkpoint images, namespace calls, used by
 * `sf fs` and the FUSE mount): fs/sf_fs_client.h. */

#endif
