/* Starfish filesystem client: talks to the local sfd over its Unix socket
 * (the only code outside sfd that encodes the fs client ops), and streams
 * files in and out without temporary copies. Blocking calls with a reply
 * timeout; requests are pipelined and replies matched by req. Not
 * thread-safe: one thread uses a client (and its readers/writers) at a time;
 * open one client per thread for parallel work. */
#ifndef SF_FS_CLIENT_H
#define SF_FS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fs/sf_fs.h"
#include "runtime/base/sf_tun.h"

/* Errors are negative errno (sf_strerror names them); after any failure
 * sf_fs_client_errmsg(c) says why in words (the daemon's message, e.g.
 * naming the node that refused a block, or what the client found wrong).
 *   -ETIMEDOUT     no reply within the timeout (the connection is then
 *                  unusable: late replies could be mistaken for new ones)
 *   -EPIPE         the daemon closed the connection
 *   SF_ERR_PROTO   the daemon sent something that is not the protocol
 *   SF_FS_ECORRUPT a block or record failed validation
 * plus what the daemon reports (-ENOENT, -EEXIST, -ENOTDIR, -EISDIR,
 * -ENOTEMPTY, -ESTALE for a lost update race, -ENOSPC, -EIO ...). */

/* Tunables SF_FS_CLIENT_<NAME> (sf_fs_client_tun_table). */
struct sf_fs_client_opts {
    double timeout;  /* seconds to wait for any one reply (default 120) */
    size_t window;   /* blocks in flight per reader / writer (default 16, 1..64) */
    size_t block_size; /* 0: SF_FS_BLOCK_SIZE (sf_fs_config_load) */
};
extern const struct sf_tun_table sf_fs_client_tun_table;
/* Defaults, then SF_FS_CLIENT_* overrides. 0 or SF_ERR_CONFIG. */
int sf_fs_client_opts_load(struct sf_fs_client_opts *o);

struct sf_fs_client;

/* Connect to the daemon's socket (DIR/sfd.sock of a daemon's state dir;
 * launcher/sf.c resolves it from the cluster dir for the sf commands).
 * o NULL: sf_fs_client_opts_load. *out is the caller's until
 * sf_fs_client_close. 0 or a negative errno. */
int sf_fs_client_connect(const char *sock_path, const struct sf_fs_client_opts *o,
                         struct sf_fs_client **out);
/* Connect to the daemon whose state dir is dir (dir/sfd.sock, or
 * dir/sfd/sfd.sock); dir NULL: $SF_CLUSTER, else sfd's default state dir
 * ($XDG_RUNTIME_DIR/starfish/sfd, else ~/.starfish/sfd). Cluster records
 * (`sf up`) are the sf tool's business: it finds a node's state dir in
 * them. 0, -ENOENT (no socket there) or a connect error. */
int sf_fs_client_connect_dir(const char *dir, const struct sf_fs_client_opts *o,
                             struct sf_fs_client **out);
/* The same over an already connected stream socket; the client owns fd from
 * now on (also on failure: it is closed). */
int sf_fs_client_attach(int fd, const struct sf_fs_client_opts *o, struct sf_fs_client **out);
/* Close the connection (GOODBYE) and free. Readers and writers of c must
 * have been closed (a writer not closed is abandoned: nothing committed). */
void sf_fs_client_close(struct sf_fs_client *c);
/* False once the connection is unusable (the daemon went away, a timeout,
 * a protocol error): every later call fails at once; connect anew. */
bool sf_fs_client_usable(const struct sf_fs_client *c);
/* Why the last failing call of c (or of its readers/writers) failed; "" if
 * none did. Owned by c, valid until the next call. */
const char *sf_fs_client_errmsg(const struct sf_fs_client *c);
/* The block size new files are cut into. */
size_t sf_fs_client_block_size(const struct sf_fs_client *c);

/* ------------------------------------------------------- namespace
 * Paths are absolute filesystem paths ("/a/b", checked with
 * sf_fs_path_check before anything is sent). */
struct sf_fs_stat {
    uint32_t mode; /* S_IFREG / S_IFDIR / S_IFLNK | permission bits */
    uint32_t uid, gid;
    uint64_t size;
    int64_t mtime_ns, ctime_ns;
    uint64_t version; /* grows with every committed change */
    uint8_t replicas;
    uint32_t block_size;
    uint64_t blocks; /* data blocks (sf_fs_inode_shape) */
};
/* Normalise a path as users type it into out (cap bytes): a leading '/'
 * added if missing (the filesystem has no working directory), repeated
 * '/' collapsed, a trailing '/' dropped. "." and ".." are kept (and then
 * refused with a clear message by every call). 0 or -ENAMETOOLONG. */
int sf_fs_path_norm(const char *in, char *out, size_t cap);
/* Look a path up. 0, -ENOENT, -ENOTDIR ... */
int sf_fs_stat(struct sf_fs_client *c, const char *path, struct sf_fs_stat *st);
/* Call fn for every entry of a directory, in byte order of the names
 * (fetched in batches; no snapshot: names added meanwhile may be missed),
 * with the entry's attributes (st->mode & S_IFMT is its kind). fn may call
 * the client; it returns non-zero to stop, and that value is returned. */
typedef int (*sf_fs_readdir_fn)(void *arg, const char *name, const struct sf_fs_stat *st);
int sf_fs_readdir(struct sf_fs_client *c, const char *path, sf_fs_readdir_fn fn, void *arg);
/* Create an empty file (mode: permission bits); -EEXIST if the name
 * exists. st (may be NULL) gets its attributes. */
int sf_fs_create(struct sf_fs_client *c, const char *path, uint32_t mode, struct sf_fs_stat *st);
/* Change a file's permission bits and/or modification time without
 * touching its data (a new version, committed over the one read; retried
 * if another commit came first). Directories keep their attributes (0 is
 * returned: the namespace has no directory attribute update). */
struct sf_fs_setattr {
    bool set_mode;
    uint32_t mode; /* 07777 bits */
    bool set_mtime;
    int64_t mtime_ns;
};
int sf_fs_setattr(struct sf_fs_client *c, const char *path, const struct sf_fs_setattr *a);
/* Create a directory (mode: permission bits). -EEXIST if the name exists. */
int sf_fs_mkdir(struct sf_fs_client *c, const char *path, uint32_t mode);
/* Remove a file / an empty directory. */
int sf_fs_unlink(struct sf_fs_client *c, const char *path);
int sf_fs_rmdir(struct sf_fs_client *c, const char *path);
/* Rename from to to; an existing file at to is replaced (POSIX), unless
 * noreplace (then -EEXIST). */
int sf_fs_rename(struct sf_fs_client *c, const char *from, const char *to, bool noreplace);
/* Set a file's size: shrink keeps its first size bytes, grow appends zero
 * bytes (data is rewritten block by block through a writer; the new
 * version is committed like any write). */
int sf_fs_truncate(struct sf_fs_client *c, const char *path, uint64_t size);
/* FS_ADMIN: verb 1 status, 2 scrub, 3 gc. *text gets the reply's lines
 * (malloc'd, the caller frees). */
enum { SF_FS_ADMIN_STATUS = 1, SF_FS_ADMIN_SCRUB = 2, SF_FS_ADMIN_GC = 3 };
int sf_fs_admin(struct sf_fs_client *c, int verb, char **text);

/* ---------------------------------------------------------- writer
 * A new version of a file, streamed: write cuts the bytes into blocks of
 * the block size and keeps up to `window` FS_BLOCK_WRITEs in flight (each
 * is acknowledged only once every replica holds it durably); close builds
 * the block list (sf_fs_blist_build, list blocks written the same way) and
 * commits the inode. Nothing is visible before close succeeds: readers see
 * the previous version whole or this one whole. Blocks of a writer that
 * fails or is aborted are left to the daemons' GC. */
struct sf_fs_wopts {
    int replicas;  /* 1..SF_FS_R_MAX, 0: the daemon's default (SF_FS_REPLICAS) */
    uint32_t mode; /* permission bits for a new file (0: 0644) */
    /* false: replace whatever file is there when close commits (last
     * writer wins). true: fail close with -ESTALE if the file changed
     * since open (or -EEXIST if it did not exist and now does). */
    bool exclusive;
};
struct sf_fs_writer;
struct sf_fs_reader; /* below */
/* Checks the path and its parent directory (-ENOENT, -ENOTDIR, -EISDIR if
 * the path is a directory). o NULL: defaults. */
int sf_fs_writer_open(struct sf_fs_client *c, const char *path, const struct sf_fs_wopts *o,
                      struct sf_fs_writer **out);
/* A writer whose stream starts with the file's current content: its whole
 * blocks are kept (not rewritten), the partial last block is read and
 * taken again; what is written next is appended. close commits over the
 * version read at open (-ESTALE if another commit came first). -ENOENT if
 * the file does not exist. */
int sf_fs_writer_open_append(struct sf_fs_client *c, const char *path, struct sf_fs_writer **out);
/* Edit a file block by block: a writer that replaces exactly the version r
 * reads (its block size, replicas, mode and owner; close fails with
 * -ESTALE if another commit came first), starting empty. Unchanged blocks
 * are taken over by id with sf_fs_writer_keep, changed ones written. */
int sf_fs_writer_open_over(struct sf_fs_client *c, const struct sf_fs_reader *r,
                           struct sf_fs_writer **out);
/* Append block i of the version r reads by its id, sending no bytes. Only
 * at a block boundary (everything written so far is whole blocks) and only
 * a whole block (not a partial last one) of the same block size: else
 * -EINVAL and the writer is unchanged. */
int sf_fs_writer_keep(struct sf_fs_writer *w, const struct sf_fs_reader *r, uint64_t i);
/* Append len bytes. May block while the window is full. After an error
 * the writer only accepts close / abort. */
int sf_fs_writer_write(struct sf_fs_writer *w, const void *buf, size_t len);
/* Attributes for the version close commits (default: mode from open,
 * mtime = the time of close). */
void sf_fs_writer_set_attr(struct sf_fs_writer *w, const struct sf_fs_setattr *a);
/* Copy everything the writer took so far into fd from offset 0 (written
 * blocks read back by id, then the partial block), after the writes in
 * flight are done; then abort the writer (nothing was committed). For a
 * caller that must switch from streaming to random access (the FUSE mount
 * when a program writes into the middle). 0 or an error. */
int sf_fs_writer_spill(struct sf_fs_writer *w, int fd);
/* Bytes accepted so far. */
uint64_t sf_fs_writer_size(const struct sf_fs_writer *w);
/* Finish and commit; frees w whatever the result. st (may be NULL) gets
 * the committed file's attributes. */
int sf_fs_writer_close(struct sf_fs_writer *w, struct sf_fs_stat *st);
/* Drop the writer without committing; frees w. */
void sf_fs_writer_abort(struct sf_fs_writer *w);

/* ---------------------------------------------------------- reader
 * Reads one version of a file (the one current at open; a later commit
 * does not change what an open reader sees), resolving its block list and
 * reading ahead up to `window` blocks. Every block arrives verified by the
 * daemon (hash checked, bad replicas repaired there); the reader also
 * checks each block's length against the inode. */
struct sf_fs_reader;
int sf_fs_reader_open(struct sf_fs_client *c, const char *path, struct sf_fs_reader **out);
/* Attributes of the version being read. */
const struct sf_fs_stat *sf_fs_reader_stat(const struct sf_fs_reader *r);
/* Read up to len bytes at the current position: bytes read (< len only at
 * the end), 0 at end of file, or a negative errno. */
ssize_t sf_fs_reader_read(struct sf_fs_reader *r, void *buf, size_t len);
/* Read at an offset (moves the position to off + bytes read; a jump
 * restarts read-ahead there). */
ssize_t sf_fs_reader_pread(struct sf_fs_reader *r, void *buf, size_t len, uint64_t off);
void sf_fs_reader_close(struct sf_fs_reader *r);

#endif
