/* `sf fs mount [-f] DIR`: the Starfish filesystem as a FUSE 3 mount (the
 * high-level path API) over one client connection to the local sfd.
 * Close-to-open: a file opened for reading sees the version current at
 * open; what a handle writes becomes the file's new version at flush /
 * fsync / release, whole. New and truncated files stream straight into
 * blocks; appends keep the file's whole blocks and stream on; a write into
 * the middle of existing data switches the handle to block-wise editing:
 * each block written is copied into a local shadow file first, and the
 * commit reuses every unchanged block by id (read-modify-write per block).
 * Runs single-threaded (FUSE's loop without -mt): the client is not
 * thread-safe and the daemon serialises namespace changes anyway. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "launcher/sf_fs_int.h"

#if HAVE_FUSE3

#define FUSE_USE_VERSION 31
#include <fcntl.h>
#include <fuse.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>

#include "runtime/base/sf_err.h"

enum { H_READ = 1, H_STREAM, H_SHADOW };

/* An open file. Write handles are also on the mount's list, so that stat
 * of a file being written shows the size written so far. */
struct mh {
    char *path;
    int kind;
    struct sf_fs_reader *r; /* H_READ; H_STREAM reading committed data */
    struct sf_fs_writer *w; /* H_STREAM, opened at the first write */
    int shadow;             /* H_SHADOW: changed blocks (unlinked sparse temp file) */
    struct sf_fs_reader *base; /* H_SHADOW: the version being edited, or NULL:
                             * then the shadow holds all the content */
    uint8_t *changed;       /* H_SHADOW with base: per block, in the shadow */
    uint64_t nchanged;      /* entries in changed */
    uint64_t base_limit;    /* base bytes at or past this read as zeros
                             * (the file was shortened meanwhile) */
    size_t bs;              /* H_SHADOW: block size of the edit */
    uint64_t size;          /* write handles: the file's size as written */
    bool dirty;             /* something to commit; when not, an H_STREAM
                             * handle without a writer holds exactly the
                             * committed file's `size` bytes */
    bool orphan;            /* unlinked while open: commit nothing */
    uint32_t mode;          /* for a new file */
    struct sf_fs_stat st;   /* write handles: attributes at open / last commit
                             * (stat answers from here, no round trip) */
    struct sf_fs_setattr attr;
    struct mcl *cl; /* the connection its reader/writer belong to */
    struct mh *next;
};

/* A connection to the local daemon and the handles still using it. When
 * it breaks (the daemon restarted), new operations get a new one; the old
 * one lives on, failing, until its last handle is released. */
struct mcl {
    struct sf_fs_client *c;
    unsigned refs;
    struct mcl *next;
};

struct mnt {
    struct mcl *cur;
    struct mcl *old; /* broken connections that handles still hold */
    struct mh *writers;
    const char *tmpdir;
    char dir[4096]; /* where the daemon is (sf_fs_cli_connect) */
};

static struct mnt *M(void)
{
    return fuse_get_context()->private_data;
}

static void mcl_close(struct mcl *l)
{
    sf_fs_client_close(l->c);
    free(l);
}

/* The connection for a new operation: the current one, or a new one if it
 * broke and the daemon answers again (else the broken one: its calls
 * fail at once with the reason). */
static struct mcl *CL(void)
{
    struct mnt *m = M();
    if (sf_fs_client_usable(m->cur->c)) {
        return m->cur;
    }
    struct mcl *n = calloc(1, sizeof(*n));
    if (n == NULL || sf_fs_cli_connect(m->dir, &n->c) != 0) {
        free(n);
        return m->cur;
    }
    fprintf(stderr, "sf fs mount: reconnected to the local sfd\n");
    if (m->cur->refs == 0) {
        mcl_close(m->cur);
    } else {
        m->cur->next = m->old;
        m->old = m->cur;
    }
    m->cur = n;
    return n;
}

static struct sf_fs_client *C(void)
{
    return CL()->c;
}

static struct mh *H(struct fuse_file_info *fi)
{
    return fi != NULL ? (struct mh *)(uintptr_t)fi->fh : NULL;
}

static struct sf_fs_client *HC(const struct mh *h)
{
    return h->cl->c;
}

static struct mh *writer_of(const char *path)
{
    for (struct mh *h = M()->writers; h != NULL; h = h->next) {
        if (!h->orphan && strcmp(h->path, path) == 0) {
            return h;
        }
    }
    return NULL;
}

static void fill_stat(const struct sf_fs_stat *s, struct stat *st)
{
    memset(st, 0, sizeof(*st));
    st->st_mode = s->mode;
    /* 1 for directories too: the count of subdirectories is not kept,
     * and 1 tells tools such as find not to infer it (no leaf
     * optimisation). */
    st->st_nlink = 1;
    st->st_uid = s->uid;
    st->st_gid = s->gid;
    st->st_size = (off_t)s->size;
    st->st_blksize = s->block_size ? s->block_size : 4096;
    st->st_blocks = (blkcnt_t)((s->size + 511) / 512);
    st->st_mtim.tv_sec = (time_t)(s->mtime_ns / 1000000000);
    st->st_mtim.tv_nsec = (long)(s->mtime_ns % 1000000000);
    st->st_ctim.tv_sec = (time_t)(s->ctime_ns / 1000000000);
    st->st_ctim.tv_nsec = (long)(s->ctime_ns % 1000000000);
    st->st_atim = st->st_mtim;
}

static void say(struct sf_fs_client *c, const char *path, int rc)
{
    /* Errors reach programs as errno only; keep the reason in the log of a
     * foreground mount. */
    const char *m = sf_fs_client_errmsg(c);
    fprintf(stderr, "sf fs mount: %s: %s\n", path, m[0] ? m : sf_strerror(rc));
}

static int fs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
    struct mh *h = H(fi);
    if (h == NULL || h->kind == H_READ) {
        h = writer_of(path);
    }
    struct sf_fs_stat s;
    if (h != NULL) {
        /* A file open for writing here: the handle knows best. */
        s = h->st;
    } else {
        int rc = sf_fs_stat(C(), path, &s);
        if (rc != 0) {
            return rc;
        }
    }
    if (h != NULL) {
        /* What the handle will commit (the kernel caches this answer). */
        s.size = h->size;
        s.mode = (s.mode & S_IFMT) | h->mode;
        if (h->attr.set_mtime) {
            s.mtime_ns = h->attr.mtime_ns;
        }
    }
    fill_stat(&s, st);
    return 0;
}

struct rd {
    void *buf;
    fuse_fill_dir_t filler;
};

static int rd_one(void *arg, const char *name, const struct sf_fs_stat *s)
{
    struct rd *a = arg;
    struct stat st;
    fill_stat(s, &st);
    return a->filler(a->buf, name, &st, 0, FUSE_FILL_DIR_PLUS) != 0 ? -ENOBUFS : 0;
}

static int fs_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off,
                      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
    (void)off;
    (void)fi;
    (void)flags;
    filler(buf, ".", NULL, 0, 0);
    filler(buf, "..", NULL, 0, 0);
    struct rd a = {buf, filler};
    int rc = sf_fs_readdir(C(), path, rd_one, &a);
    return rc == -ENOBUFS ? 0 : rc;
}

static int fs_mkdir(const char *path, mode_t mode)
{
    return sf_fs_mkdir(C(), path, mode & 07777);
}

static int fs_rmdir(const char *path)
{
    return sf_fs_rmdir(C(), path);
}

static int fs_unlink(const char *path)
{
    int rc = sf_fs_unlink(C(), path);
    struct mh *h;
    while (rc == 0 && (h = writer_of(path)) != NULL) {
        h->orphan = true; /* its writes die with the name, as on a disk */
    }
    return rc;
}

static int fs_rename(const char *from, const char *to, unsigned int flags)
{
    if (flags & ~(unsigned)RENAME_NOREPLACE) {
        return -EINVAL; /* RENAME_EXCHANGE / WHITEOUT: not supported */
    }
    int rc = sf_fs_rename(C(), from, to, (flags & RENAME_NOREPLACE) != 0);
    if (rc != 0) {
        return rc;
    }
    /* Open handles follow the file (their commit goes to the new name). */
    size_t fl = strlen(from);
    for (struct mh *h = M()->writers; h != NULL; h = h->next) {
        if (strncmp(h->path, from, fl) == 0 && (h->path[fl] == '\0' || h->path[fl] == '/')) {
            char *np = malloc(strlen(to) + strlen(h->path + fl) + 1);
            if (np != NULL) {
                sprintf(np, "%s%s", to, h->path + fl);
                free(h->path);
                h->path = np;
            }
        }
    }
    return 0;
}

static void shadow_drop(struct mh *h);

static struct mh *h_new(const char *path, int kind)
{
    struct mh *h = calloc(1, sizeof(*h));
    if (h == NULL || (h->path = strdup(path)) == NULL) {
        free(h);
        return NULL;
    }
    h->kind = kind;
    h->shadow = -1;
    h->mode = 0644;
    h->cl = M()->cur; /* the connection the open itself used */
    h->cl->refs++;
    if (kind != H_READ) {
        h->next = M()->writers;
        M()->writers = h;
    }
    return h;
}

static void h_free(struct mh *h)
{
    for (struct mh **pp = &M()->writers; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == h) {
            *pp = h->next;
            break;
        }
    }
    sf_fs_reader_close(h->r);
    sf_fs_writer_abort(h->w);
    shadow_drop(h);
    struct mnt *m = M();
    if (--h->cl->refs == 0 && h->cl != m->cur) {
        for (struct mcl **pp = &m->old; *pp != NULL; pp = &(*pp)->next) {
            if (*pp == h->cl) {
                *pp = h->cl->next;
                break;
            }
        }
        mcl_close(h->cl);
    }
    free(h->path);
    free(h);
}

static int tmp_file(void)
{
    int fd = open(M()->tmpdir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    return fd >= 0 ? fd : -errno;
}

static bool blk_changed(const struct mh *h, uint64_t b)
{
    return h->base == NULL || (b < h->nchanged && h->changed[b]);
}

/* Read len bytes at off of a shadow handle's content: changed blocks from
 * the shadow, the others from the base version (zeros past base_limit). */
static int shadow_read(struct mh *h, uint8_t *buf, size_t len, uint64_t off)
{
    while (len > 0) {
        uint64_t b = off / h->bs;
        size_t in = (size_t)(off % h->bs);
        size_t n = h->bs - in < len ? h->bs - in : len;
        if (blk_changed(h, b)) {
            ssize_t got = pread(h->shadow, buf, n, (off_t)off);
            if (got < 0) {
                return -errno;
            }
            memset(buf + got, 0, n - (size_t)got); /* sparse tail */
        } else {
            size_t from_base = off >= h->base_limit ? 0
                               : h->base_limit - off < n ? (size_t)(h->base_limit - off)
                                                         : n;
            if (from_base > 0) {
                ssize_t got = sf_fs_reader_pread(h->base, buf, from_base, off);
                if (got < 0) {
                    say(HC(h), h->path, (int)got);
                    return (int)got;
                }
                if ((size_t)got != from_base) {
                    return -EIO;
                }
            }
            memset(buf + from_base, 0, n - from_base);
        }
        buf += n;
        off += n;
        len -= n;
    }
    return 0;
}

/* Before block b of a shadow handle is written: copy its current content
 * into the shadow (read-modify-write of that block only). */
static int fault_in(struct mh *h, uint64_t b)
{
    if (blk_changed(h, b)) {
        return 0;
    }
    if (b >= h->nchanged) {
        uint64_t n = b + 1 > 2 * h->nchanged ? b + 1 : 2 * h->nchanged;
        uint8_t *nv = realloc(h->changed, (size_t)n);
        if (nv == NULL) {
            return -ENOMEM;
        }
        memset(nv + h->nchanged, 0, (size_t)(n - h->nchanged));
        h->changed = nv;
        h->nchanged = n;
    }
    uint8_t *buf = malloc(h->bs);
    if (buf == NULL) {
        return -ENOMEM;
    }
    uint64_t start = b * h->bs;
    size_t n = start >= h->size ? 0 : h->size - start < h->bs ? (size_t)(h->size - start) : h->bs;
    int rc = shadow_read(h, buf, n, start);
    if (rc == 0 && n > 0 && pwrite(h->shadow, buf, n, (off_t)start) != (ssize_t)n) {
        rc = -errno;
    }
    free(buf);
    if (rc == 0) {
        h->changed[b] = 1;
    }
    return rc;
}

static void shadow_drop(struct mh *h)
{
    if (h->shadow >= 0) {
        close(h->shadow);
        h->shadow = -1;
    }
    sf_fs_reader_close(h->base);
    h->base = NULL;
    free(h->changed);
    h->changed = NULL;
    h->nchanged = 0;
}

/* Switch a write handle to block-wise editing: the committed version is
 * the base, changed blocks live in a local shadow file. A stream being
 * written is spilled into the shadow whole (no base). */
static int to_shadow(struct mh *h)
{
    if (h->kind == H_SHADOW) {
        return 0;
    }
    int fd = tmp_file();
    if (fd < 0) {
        return fd;
    }
    h->shadow = fd;
    h->bs = sf_fs_client_block_size(HC(h));
    int rc = 0;
    if (h->w != NULL) {
        rc = sf_fs_writer_spill(h->w, fd);
        sf_fs_writer_abort(h->w);
        h->w = NULL;
    } else if (h->size > 0) {
        /* Nothing written yet: the committed file is the content. */
        h->base = h->r;
        h->r = NULL;
        if (h->base == NULL) {
            rc = sf_fs_reader_open(HC(h), h->path, &h->base);
        }
        if (rc == 0) {
            h->bs = sf_fs_reader_stat(h->base)->block_size;
            h->base_limit = h->size;
        }
    }
    sf_fs_reader_close(h->r);
    h->r = NULL;
    if (rc == 0 && ftruncate(fd, (off_t)h->size) != 0) {
        rc = -errno;
    }
    h->kind = H_SHADOW;
    if (rc != 0) {
        say(HC(h), h->path, rc);
    }
    return rc;
}

/* The shadow's content into w: unchanged whole blocks of the base by id,
 * the rest as bytes. */
static int shadow_out(struct mh *h, struct sf_fs_writer *w)
{
    uint8_t *buf = malloc(h->bs);
    if (buf == NULL) {
        return -ENOMEM;
    }
    int rc = 0;
    for (uint64_t b = 0; rc == 0 && b * h->bs < h->size; b++) {
        uint64_t start = b * h->bs;
        size_t len = h->size - start < h->bs ? (size_t)(h->size - start) : h->bs;
        if (!blk_changed(h, b) && len == h->bs && start + h->bs <= h->base_limit &&
            sf_fs_writer_keep(w, h->base, b) == 0) {
            continue;
        }
        rc = shadow_read(h, buf, len, start);
        if (rc == 0) {
            rc = sf_fs_writer_write(w, buf, len);
        }
    }
    free(buf);
    return rc;
}

/* Publish what the handle wrote as the file's new version. */
static int commit(struct mh *h)
{
    if (!h->dirty || h->orphan) {
        return 0;
    }
    struct sf_fs_client *c = HC(h);
    struct sf_fs_wopts o = {.mode = h->mode};
    int rc = 0;
    if (h->kind == H_STREAM && h->w == NULL) {
        rc = sf_fs_writer_open(c, h->path, &o, &h->w);
    }
    if (rc == 0 && h->kind == H_SHADOW) {
        /* Over the base version exactly (its blocks are reused): a commit
         * elsewhere meanwhile makes this one fail with ESTALE. */
        rc = h->base != NULL ? sf_fs_writer_open_over(c, h->base, &h->w)
                             : sf_fs_writer_open(c, h->path, &o, &h->w);
        if (rc == 0) {
            rc = shadow_out(h, h->w);
        }
    }
    if (rc == 0) {
        sf_fs_writer_set_attr(h->w, &h->attr);
        rc = sf_fs_writer_close(h->w, &h->st);
        h->w = NULL;
    }
    if (h->w != NULL) {
        sf_fs_writer_abort(h->w);
        h->w = NULL;
    }
    if (rc != 0) {
        say(HC(h), h->path, rc);
        return rc;
    }
    /* The committed version is now the handle's content: back to the
     * state of a fresh open (a later edit starts from this version). */
    h->dirty = false;
    shadow_drop(h);
    h->kind = H_STREAM;
    sf_fs_reader_close(h->r);
    h->r = NULL;
    return 0;
}

/* created: the attributes sf_fs_create returned (NULL: an existing file). */
static int open_handle(const char *path, struct fuse_file_info *fi,
                       const struct sf_fs_stat *created)
{
    struct sf_fs_client *c = C();
    int acc = fi->flags & O_ACCMODE;
    struct mh *h;
    if (acc == O_RDONLY && created == NULL) {
        h = h_new(path, H_READ);
        if (h == NULL) {
            return -ENOMEM;
        }
        int rc = sf_fs_reader_open(c, path, &h->r);
        if (rc != 0) {
            h_free(h);
            return rc;
        }
        fi->fh = (uint64_t)(uintptr_t)h;
        fi->keep_cache = 0;
        return 0;
    }
    struct sf_fs_stat s;
    if (created != NULL) {
        s = *created;
    } else {
        int rc = sf_fs_stat(c, path, &s);
        if (rc != 0) {
            return rc;
        }
        if (S_ISDIR(s.mode)) {
            return -EISDIR;
        }
    }
    bool trunc = (fi->flags & O_TRUNC) && s.size > 0;
    h = h_new(path, H_STREAM);
    if (h == NULL) {
        return -ENOMEM;
    }
    /* Nothing is copied at open: writes at the end append to the committed
     * blocks, a write into the middle makes the shadow copy then. */
    h->st = s;
    h->mode = s.mode & 07777;
    h->size = trunc ? 0 : s.size;
    h->dirty = trunc;
    fi->fh = (uint64_t)(uintptr_t)h;
    fi->direct_io = 0;
    return 0;
}

static int fs_open(const char *path, struct fuse_file_info *fi)
{
    return open_handle(path, fi, NULL);
}

static int fs_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
    struct sf_fs_stat st;
    int rc = sf_fs_create(C(), path, mode & 07777, &st);
    if (rc == -EEXIST && !(fi->flags & O_EXCL)) {
        fi->flags |= O_TRUNC;
        return open_handle(path, fi, NULL);
    }
    if (rc != 0) {
        return rc;
    }
    return open_handle(path, fi, &st);
}

static const uint8_t zeros[65536];

static int fs_write(const char *path, const char *buf, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
    (void)path;
    struct mh *h = H(fi);
    if (h == NULL || h->kind == H_READ) {
        return -EBADF;
    }
    uint64_t o = (uint64_t)off;
    if (h->kind == H_STREAM && o < h->size) {
        int rc = to_shadow(h);
        if (rc != 0) {
            return rc;
        }
    }
    if (h->kind == H_SHADOW) {
        for (uint64_t b = o / h->bs; size > 0 && b <= (o + size - 1) / h->bs; b++) {
            int rc = fault_in(h, b);
            if (rc != 0) {
                return rc;
            }
        }
        ssize_t n = pwrite(h->shadow, buf, size, off);
        if (n < 0) {
            return -errno;
        }
        if (o + (uint64_t)n > h->size) {
            h->size = o + (uint64_t)n;
        }
        h->dirty = true;
        return (int)n;
    }
    struct sf_fs_client *c = HC(h);
    int rc = 0;
    if (h->w == NULL && h->size > 0) {
        /* Appending to the committed file: its whole blocks are kept. */
        rc = sf_fs_writer_open_append(c, h->path, &h->w);
        if (rc == 0 && sf_fs_writer_size(h->w) != h->size) {
            rc = -ESTALE; /* changed since this handle saw it */
        }
    } else if (h->w == NULL) {
        struct sf_fs_wopts wo = {.mode = h->mode};
        rc = sf_fs_writer_open(c, h->path, &wo, &h->w);
    }
    /* A write past the end leaves a hole: zeros, streamed. */
    while (rc == 0 && h->size < o) {
        uint64_t gap = o - h->size;
        size_t k = gap < sizeof(zeros) ? (size_t)gap : sizeof(zeros);
        rc = sf_fs_writer_write(h->w, zeros, k);
        h->size += k;
    }
    if (rc == 0) {
        rc = sf_fs_writer_write(h->w, buf, size);
    }
    if (rc != 0) {
        say(HC(h), h->path, rc);
        return rc;
    }
    h->size += size;
    h->dirty = true;
    return (int)size;
}

static int fs_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
    (void)path;
    struct mh *h = H(fi);
    if (h == NULL) {
        return -EBADF;
    }
    if (h->kind == H_READ) {
        ssize_t n = sf_fs_reader_pread(h->r, buf, size, (uint64_t)off);
        if (n < 0) {
            say(HC(h), h->path, (int)n);
        }
        return (int)n;
    }
    if (h->kind == H_STREAM && h->w == NULL && !h->dirty && h->size > 0) {
        /* Nothing written yet: read the committed version. */
        int rc = h->r != NULL ? 0 : sf_fs_reader_open(HC(h), h->path, &h->r);
        if (rc != 0) {
            return rc;
        }
        ssize_t n = sf_fs_reader_pread(h->r, buf, size, (uint64_t)off);
        return (int)n;
    }
    if (h->kind == H_STREAM) {
        if (h->size == 0) {
            return 0;
        }
        int rc = to_shadow(h);
        if (rc != 0) {
            return rc;
        }
    }
    if ((uint64_t)off >= h->size) {
        return 0;
    }
    if ((uint64_t)off + size > h->size) {
        size = (size_t)(h->size - (uint64_t)off);
    }
    int rc = shadow_read(h, (uint8_t *)buf, size, (uint64_t)off);
    return rc != 0 ? rc : (int)size;
}

static int fs_flush(const char *path, struct fuse_file_info *fi)
{
    (void)path;
    struct mh *h = H(fi);
    return h != NULL && h->kind != H_READ ? commit(h) : 0;
}

static int fs_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
    (void)datasync;
    return fs_flush(path, fi);
}

static int fs_release(const char *path, struct fuse_file_info *fi)
{
    (void)path;
    struct mh *h = H(fi);
    int rc = h != NULL && h->kind != H_READ ? commit(h) : 0;
    if (h != NULL) {
        h_free(h);
    }
    return rc;
}

static int fs_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
    struct mh *h = H(fi);
    if (h == NULL || h->kind == H_READ) {
        h = writer_of(path);
    }
    if (h == NULL) {
        return sf_fs_truncate(C(), path, (uint64_t)size);
    }
    if ((uint64_t)size == h->size) {
        return 0;
    }
    if (size == 0) {
        /* ftruncate(fd, 0): start over as a fresh stream, no copy. */
        sf_fs_writer_abort(h->w);
        h->w = NULL;
        sf_fs_reader_close(h->r);
        h->r = NULL;
        shadow_drop(h);
        h->kind = H_STREAM;
        h->size = 0;
        h->dirty = true;
        return 0;
    }
    int rc = to_shadow(h);
    if (rc == 0 && (uint64_t)size < h->base_limit) {
        h->base_limit = (uint64_t)size; /* regrown bytes are zeros */
    }
    if (rc == 0 && ftruncate(h->shadow, size) != 0) {
        rc = -errno;
    }
    if (rc == 0) {
        h->size = (uint64_t)size;
        h->dirty = true;
    }
    return rc;
}

static int set_attr(const char *path, struct fuse_file_info *fi, const struct sf_fs_setattr *a)
{
    struct mh *h = H(fi);
    if (h == NULL || h->kind == H_READ) {
        h = writer_of(path);
    }
    if (h != NULL && h->dirty) {
        /* Applied by the commit that publishes the handle's data. */
        if (a->set_mode) {
            h->attr.set_mode = true;
            h->attr.mode = a->mode;
            h->mode = a->mode & 07777;
        }
        if (a->set_mtime) {
            h->attr.set_mtime = true;
            h->attr.mtime_ns = a->mtime_ns;
        }
        return 0;
    }
    int rc = sf_fs_setattr(C(), path, a);
    if (rc == 0 && h != NULL) {
        /* Committed directly; the handle's cached attributes follow. */
        if (a->set_mode) {
            h->mode = a->mode & 07777;
            h->st.mode = (h->st.mode & S_IFMT) | h->mode;
        }
        if (a->set_mtime) {
            h->st.mtime_ns = a->mtime_ns;
        }
    }
    return rc;
}

static int fs_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
    struct sf_fs_setattr a = {.set_mode = true, .mode = mode & 07777};
    return set_attr(path, fi, &a);
}

static int fs_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
    struct sf_fs_setattr a = {0};
    if (tv == NULL || tv[1].tv_nsec == UTIME_NOW) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        a.set_mtime = true;
        a.mtime_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
    } else if (tv[1].tv_nsec != UTIME_OMIT) {
        a.set_mtime = true;
        a.mtime_ns = (int64_t)tv[1].tv_sec * 1000000000 + tv[1].tv_nsec;
    }
    /* atime is not kept. */
    return a.set_mtime ? set_attr(path, fi, &a) : 0;
}

static int fs_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
    struct stat st;
    int rc = fs_getattr(path, &st, fi);
    if (rc != 0) {
        return rc;
    }
    /* No owner change in the namespace: accept only what is already so. */
    if ((uid != (uid_t)-1 && uid != st.st_uid) || (gid != (gid_t)-1 && gid != st.st_gid)) {
        return -EPERM;
    }
    return 0;
}

static int fs_statfs(const char *path, struct statvfs *sv)
{
    (void)path;
    /* The cluster's free space is not known here: report a large, fixed
     * capacity so that tools that check free space proceed; a full node
     * shows up as ENOSPC on write. */
    memset(sv, 0, sizeof(*sv));
    size_t bs = sf_fs_client_block_size(C());
    sv->f_bsize = bs;
    sv->f_frsize = bs;
    sv->f_blocks = (fsblkcnt_t)((1ull << 50) / bs);
    sv->f_bfree = sv->f_blocks;
    sv->f_bavail = sv->f_blocks;
    sv->f_files = 1ull << 32;
    sv->f_ffree = 1ull << 32;
    sv->f_favail = 1ull << 32;
    sv->f_namemax = SF_FS_NAME_MAX;
    return 0;
}

static void *fs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
    (void)conn;
    cfg->use_ino = 0;
    cfg->hard_remove = 1; /* no .fuse_hidden files: unlink is unlink */
    cfg->attr_timeout = 1.0;
    cfg->entry_timeout = 1.0;
    cfg->negative_timeout = 0;
    return fuse_get_context()->private_data;
}

static const struct fuse_operations sf_fuse_ops = {
    .init = fs_init,
    .getattr = fs_getattr,
    .readdir = fs_readdir,
    .mkdir = fs_mkdir,
    .rmdir = fs_rmdir,
    .unlink = fs_unlink,
    .rename = fs_rename,
    .open = fs_open,
    .create = fs_create,
    .read = fs_read,
    .write = fs_write,
    .flush = fs_flush,
    .fsync = fs_fsync,
    .release = fs_release,
    .truncate = fs_truncate,
    .chmod = fs_chmod,
    .chown = fs_chown,
    .utimens = fs_utimens,
    .statfs = fs_statfs,
};

static void mount_free(struct mnt *m)
{
    mcl_close(m->cur);
    while (m->old != NULL) {
        struct mcl *n = m->old->next;
        mcl_close(m->old);
        m->old = n;
    }
}

int sf_fs_mount_main(const char *dir, int argc, char **argv)
{
    bool fg = false;
    const char *opts = NULL;
    const char *where = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "-f") == 0) {
            fg = true;
        } else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            opts = argv[++i];
        } else if (argv[i][0] == '-' || where != NULL) {
            fprintf(stderr, "sf fs: mount: usage: sf fs mount [-f] [-o FUSEOPTS] DIR\n");
            return 2;
        } else {
            where = argv[i];
        }
    }
    if (where == NULL) {
        fprintf(stderr, "sf fs: mount: usage: sf fs mount [-f] [-o FUSEOPTS] DIR\n");
        return 2;
    }
    struct stat st;
    if (stat(where, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "sf fs: mount: %s: not a directory\n", where);
        return 1;
    }
    struct mnt m;
    memset(&m, 0, sizeof(m));
    const char *tmp = getenv("TMPDIR");
    m.tmpdir = tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp";
    /* Absolute: the daemonized mount runs in / and may have to reconnect. */
    if (realpath(dir, m.dir) == NULL) {
        snprintf(m.dir, sizeof(m.dir), "%s", dir);
    }
    m.cur = calloc(1, sizeof(*m.cur));
    if (m.cur == NULL || sf_fs_cli_connect(m.dir, &m.cur->c) != 0) {
        free(m.cur);
        return 1;
    }
    char fsopt[600];
    snprintf(fsopt, sizeof(fsopt), "fsname=starfish,subtype=sf%s%s", opts ? "," : "",
             opts ? opts : "");
    char *fargv[] = {"sf-fs", "-o", fsopt, NULL};
    struct fuse_args args = FUSE_ARGS_INIT(3, fargv);
    struct fuse *f = fuse_new(&args, &sf_fuse_ops, sizeof(sf_fuse_ops), &m);
    if (f == NULL) {
        fprintf(stderr, "sf fs: mount: FUSE refused the options (%s)\n", fsopt);
        mount_free(&m);
        return 1;
    }
    if (fuse_mount(f, where) != 0) {
        fprintf(stderr, "sf fs: mount: cannot mount on %s (is /dev/fuse usable, fusermount3 "
                        "installed, the directory not already mounted?)\n",
                where);
        fuse_destroy(f);
        mount_free(&m);
        return 1;
    }
    if (fuse_daemonize(fg ? 1 : 0) != 0) {
        fuse_unmount(f);
        fuse_destroy(f);
        mount_free(&m);
        return 1;
    }
    struct fuse_session *se = fuse_get_session(f);
    fuse_set_signal_handlers(se);
    int rc = fuse_loop(f);
    fuse_remove_signal_handlers(se);
    fuse_unmount(f);
    fuse_destroy(f);
    mount_free(&m);
    fuse_opt_free_args(&args);
    return rc == 0 ? 0 : 1;
}

#else /* !HAVE_FUSE3 */

int sf_fs_mount_main(const char *dir, int argc, char **argv)
{
    (void)dir;
    (void)argc;
    (void)argv;
    fprintf(stderr, "sf fs: mount: this sf was built without FUSE 3 (install libfuse3-dev and "
                    "reconfigure)\n");
    return 1;
}

#endif
