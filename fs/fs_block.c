/* Local content-addressed block store: durable put (temp file, fsync,
 * rename, directory fsync), verified get, delete, enumeration, scrub and
 * caller-driven GC. Knows nothing of replicas or the network. Blocking
 * file I/O: call from worker threads; a store may be used by several
 * threads at once (its only mutable state is an atomic counter).
 *
 * On-disk layout (also in sf_fs.h):
 *   DIR/lock              flock(LOCK_EX|LOCK_NB) held while open
 *   DIR/blocks/XX/REST    block bytes; XX = id byte 0 in hex, REST = 62 hex
 *   DIR/tmp/put.N         puts in progress, removed at open
 *   DIR/corrupt/HEX.N     blocks that failed verification
 * Blocks are immutable once renamed into place: a file under blocks/ is
 * either absent or was complete and fsync'd when it appeared. A block's
 * mtime is the time of its last put (commit or dedup), which is what the
 * GC's grace rule reads; gc_lock makes "GC checks mtime and unlinks" and
 * "put finds the block and refreshes its mtime" exclusive. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs/fs_int.h"
#include "runtime/base/sf_err.h"
#include "runtime/base/sf_log.h"

#define HEX_LEN (2 * SF_FS_ID_LEN)
#define VERIFY_CHUNK (64u << 10)
/* File timestamps come from the kernel's coarse clock, which may lag
 * CLOCK_REALTIME by a tick: the GC keeps anything this close to the cutoff. */
#define GC_SLACK_NS 1000000000ll

struct sf_fs_store {
    char *dir;
    int lockfd, blocksfd, tmpfd, corruptfd;
    size_t block_size;
    unsigned cleaned;
    unsigned long seq; /* temp and quarantine names; atomic */
    pthread_mutex_t gc_lock;
    sf_fs__gc_hook_fn gc_hook; /* tests only */
    void *gc_hook_arg;
};

struct sf_fs_put {
    struct sf_fs_store *s;
    int fd;
    char tmpname[32];
    uint64_t size;
    int err; /* sticky: a failed write makes the put abort-only */
    bool named; /* sf_fs_block_put_named: the caller hashed the bytes itself */
    crypto_generichash_state h;
};

/* "XX/REST" for a block id. */
static void block_path(const struct sf_fs_block_id *id, char path[HEX_LEN + 2])
{
    char hex[HEX_LEN + 1];
    sf_fs_block_id_hex(id, hex);
    path[0] = hex[0];
    path[1] = hex[1];
    path[2] = '/';
    memcpy(path + 3, hex + 2, HEX_LEN - 2 + 1);
}

/* "XX" for fan-out directory i (0..255). */
static void sub_name(unsigned i, char sub[3])
{
    static const char digits[] = "0123456789abcdef";
    sub[0] = digits[(i >> 4) & 15];
    sub[1] = digits[i & 15];
    sub[2] = '\0';
}

static unsigned long next_seq(struct sf_fs_store *s)
{
    return __atomic_fetch_add(&s->seq, 1, __ATOMIC_RELAXED);
}

/* fsync a directory given relative to dirfd ("." for dirfd itself). */
static int fsync_dir_at(int dirfd, const char *name)
{
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    int rc = fsync(fd) == 0 ? 0 : -errno;
    close(fd);
    return rc;
}

/* fsync the fan-out directory holding a block. */
static int fsync_subdir(struct sf_fs_store *s, const char *path)
{
    char sub[3] = {path[0], path[1], '\0'};
    return fsync_dir_at(s->blocksfd, sub);
}

static int mkdir_at(int dirfd, const char *name)
{
    if (mkdirat(dirfd, name, 0700) != 0 && errno != EEXIST) {
        return -errno;
    }
    return 0;
}

static int open_dir_at(int dirfd, const char *name, int *out)
{
    int rc = mkdir_at(dirfd, name);
    if (rc != 0) {
        return rc;
    }
    *out = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return *out < 0 ? -errno : 0;
}

/* Remove everything in tmp/: puts that never reached their rename. */
static int clean_tmp(struct sf_fs_store *s)
{
    int fd = dup(s->tmpfd);
    if (fd < 0) {
        return -errno;
    }
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        int rc = -errno;
        close(fd);
        return rc;
    }
    rewinddir(d);
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            continue;
        }
        if (unlinkat(s->tmpfd, e->d_name, 0) == 0) {
            s->cleaned++;
        } else if (errno != ENOENT) {
            rc = -errno;
            SF_WARN("cannot remove %s/tmp/%s: %s", s->dir, e->d_name, sf_strerror(rc));
        }
    }
    closedir(d);
    if (s->cleaned > 0) {
        SF_INFO("%s: removed %u unfinished block writes", s->dir, s->cleaned);
        int frc = fsync(s->tmpfd) == 0 ? 0 : -errno;
        if (rc == 0) {
            rc = frc;
        }
    }
    return rc;
}

int sf_fs_store_open(const char *dir, const struct sf_fs_config *cfg, struct sf_fs_store **out)
{
    *out = NULL;
    struct sf_fs_config def;
    if (cfg == NULL) {
        sf_fs_config_default(&def);
        cfg = &def;
    }
    if (dir == NULL || dir[0] == '\0' || !sf_fs__block_size_ok(cfg->block_size)) {
        return -EINVAL;
    }
    sf_fs__sodium_init();
    struct sf_fs_store *s = calloc(1, sizeof *s);
    if (s == NULL) {
        return -ENOMEM;
    }
    s->lockfd = s->blocksfd = s->tmpfd = s->corruptfd = -1;
    pthread_mutex_init(&s->gc_lock, NULL);
    s->block_size = cfg->block_size;
    s->dir = strdup(dir);
    int rc = s->dir == NULL ? -ENOMEM : 0;
    int dfd = -1;
    if (rc == 0 && mkdir(dir, 0700) != 0 && errno != EEXIST) {
        rc = -errno;
    }
    if (rc == 0) {
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        rc = dfd < 0 ? -errno : 0;
    }
    if (rc == 0) {
        s->lockfd = openat(dfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        rc = s->lockfd < 0 ? -errno : 0;
    }
    if (rc == 0 && flock(s->lockfd, LOCK_EX | LOCK_NB) != 0) {
        rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
    }
    if (rc == 0) {
        rc = open_dir_at(dfd, "blocks", &s->blocksfd);
    }
    if (rc == 0) {
        rc = open_dir_at(dfd, "tmp", &s->tmpfd);
    }
    if (rc == 0) {
        rc = open_dir_at(dfd, "corrupt", &s->corruptfd);
    }
    /* All 256 fan-out directories up front, so a put never creates one and
     * only has to fsync the directory it renames into. */
    for (int i = 0; rc == 0 && i < 256; i++) {
        char sub[3];
        sub_name((unsigned)(i), sub);
        rc = mkdir_at(s->blocksfd, sub);
    }
    if (rc == 0) {
        rc = fsync(s->blocksfd) == 0 && fsync(dfd) == 0 ? 0 : -errno;
    }
    if (rc == 0) {
        rc = clean_tmp(s);
    }
    if (dfd >= 0) {
        close(dfd);
    }
    if (rc != 0) {
        SF_DBG("cannot open block store %s: %s", dir, sf_strerror(rc));
        sf_fs_store_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

void sf_fs_store_close(struct sf_fs_store *s)
{
    if (s == NULL) {
        return;
    }
    int fds[] = {s->blocksfd, s->tmpfd, s->corruptfd, s->lockfd};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++) {
        if (fds[i] >= 0) {
            close(fds[i]); /* closing the lock fd releases the flock */
        }
    }
    pthread_mutex_destroy(&s->gc_lock);
    free(s->dir);
    free(s);
}

size_t sf_fs_store_block_size(const struct sf_fs_store *s)
{
    return s->block_size;
}

void sf_fs__store_set_gc_hook(struct sf_fs_store *s, sf_fs__gc_hook_fn fn, void *arg)
{
    s->gc_hook = fn;
    s->gc_hook_arg = arg;
}

unsigned sf_fs_store_cleaned(const struct sf_fs_store *s)
{
    return s->cleaned;
}

/* ------------------------------------------------------------ put */

int sf_fs_put_begin(struct sf_fs_store *s, struct sf_fs_put **out)
{
    *out = NULL;
    struct sf_fs_put *p = calloc(1, sizeof *p);
    if (p == NULL) {
        return -ENOMEM;
    }
    p->s = s;
    snprintf(p->tmpname, sizeof p->tmpname, "put.%lu", next_seq(s));
    p->fd = openat(s->tmpfd, p->tmpname, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (p->fd < 0) {
        int rc = -errno;
        free(p);
        return rc;
    }
    crypto_generichash_init(&p->h, NULL, 0, SF_FS_ID_LEN);
    *out = p;
    return 0;
}

static int write_all(int fd, const uint8_t *buf, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, buf, len);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        buf += w;
        len -= (size_t)w;
    }
    return 0;
}

int sf_fs_put_write(struct sf_fs_put *p, const void *buf, size_t len)
{
    if (p->err != 0) {
        return p->err;
    }
    if (len > p->s->block_size - p->size) {
        p->err = -EFBIG;
        return p->err;
    }
    if (len == 0) {
        return 0;
    }
    if (!p->named) {
        crypto_generichash_update(&p->h, buf, len);
    }
    int rc = write_all(p->fd, buf, len);
    if (rc != 0) {
        p->err = rc;
        return rc;
    }
    p->size += len;
    return 0;
}

void sf_fs_put_abort(struct sf_fs_put *p)
{
    if (p == NULL) {
        return;
    }
    if (p->fd >= 0) {
        close(p->fd);
    }
    unlinkat(p->s->tmpfd, p->tmpname, 0);
    free(p);
}

int sf_fs_put_commit(struct sf_fs_put *p, const struct sf_fs_block_id *expect,
                     struct sf_fs_block_id *idp)
{
    struct sf_fs_store *s = p->s;
    int rc = p->err;
    if (rc != 0) {
        sf_fs_put_abort(p);
        return rc;
    }
    struct sf_fs_block_id id;
    if (p->named) {
        id = *expect;
    } else {
        crypto_generichash_final(&p->h, id.b, SF_FS_ID_LEN);
    }
    if (!p->named && expect != NULL && sf_fs_block_id_cmp(expect, &id) != 0) {
        sf_fs_put_abort(p);
        return SF_FS_ECORRUPT;
    }
    char path[HEX_LEN + 2];
    block_path(&id, path);
    /* Already here (blocks are immutable and were durable when they
     * appeared): refresh its mtime so a GC whose live set predates this
     * put keeps it (see sf_fs_block_gc). If a GC removed it just before,
     * utimensat fails with ENOENT and we store our copy instead. */
    pthread_mutex_lock(&s->gc_lock);
    int have = utimensat(s->blocksfd, path, NULL, 0) == 0 ? 0 : -errno;
    pthread_mutex_unlock(&s->gc_lock);
    if (have == 0 || have != -ENOENT) {
        sf_fs_put_abort(p);
        if (have == 0 && idp != NULL) {
            *idp = id;
        }
        return have;
    }
    /* mtime = commit time, not the time of the last write: a put that
     * began before a GC's cutoff but lands after it must count as new. */
    if (futimens(p->fd, NULL) != 0) {
        rc = -errno;
    }
    if (rc == 0 && fsync(p->fd) != 0) {
        rc = -errno;
    }
    if (close(p->fd) != 0 && rc == 0) {
        rc = -errno;
    }
    p->fd = -1;
    if (rc == 0 && renameat(s->tmpfd, p->tmpname, s->blocksfd, path) != 0) {
        rc = -errno;
    }
    if (rc != 0) {
        sf_fs_put_abort(p);
        return rc;
    }
    free(p);
    /* The rename is durable only once the directory entry is. */
    rc = fsync_subdir(s, path);
    if (rc == 0 && idp != NULL) {
        *idp = id;
    }
    return rc;
}

int sf_fs_block_putv(struct sf_fs_store *s, const struct iovec *iov, int iovcnt,
                     const struct sf_fs_block_id *expect, struct sf_fs_block_id *id)
{
    if (iovcnt < 0 || (iovcnt > 0 && iov == NULL)) {
        return -EINVAL;
    }
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++) {
        if (iov[i].iov_len > s->block_size - total) {
            return -EFBIG; /* refuse before writing anything */
        }
        total += iov[i].iov_len;
    }
    struct sf_fs_put *p;
    int rc = sf_fs_put_begin(s, &p);
    if (rc != 0) {
        return rc;
    }
    for (int i = 0; i < iovcnt && rc == 0; i++) {
        rc = sf_fs_put_write(p, iov[i].iov_base, iov[i].iov_len);
    }
    if (rc != 0) {
        sf_fs_put_abort(p);
        return rc;
    }
    return sf_fs_put_commit(p, expect, id);
}

int sf_fs_block_put_named(struct sf_fs_store *s, const void *buf, size_t len,
                          const struct sf_fs_block_id *id)
{
    if (len > s->block_size) {
        return -EFBIG;
    }
    struct sf_fs_put *p;
    int rc = sf_fs_put_begin(s, &p);
    if (rc != 0) {
        return rc;
    }
    p->named = true; /* before the first write: nothing is hashed */
    rc = sf_fs_put_write(p, buf, len);
    if (rc != 0) {
        sf_fs_put_abort(p);
        return rc;
    }
    return sf_fs_put_commit(p, id, NULL);
}

int sf_fs_block_put(struct sf_fs_store *s, const void *buf, size_t len,
                    const struct sf_fs_block_id *expect, struct sf_fs_block_id *id)
{
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
    return sf_fs_block_putv(s, &iov, 1, expect, id);
}

/* ------------------------------------------------------ read side */

/* Move a block that failed verification out of blocks/ so it reads as
 * absent and a put from a good replica can restore it. Best effort: the
 * caller reports the corruption whatever happens here. */
static void quarantine(struct sf_fs_store *s, const struct sf_fs_block_id *id, const char *path)
{
    char hex[HEX_LEN + 1], name[HEX_LEN + 24];
    snprintf(name, sizeof name, "%s.%lu", sf_fs_block_id_hex(id, hex), next_seq(s));
    if (renameat(s->blocksfd, path, s->corruptfd, name) != 0) {
        SF_WARN("%s: cannot move corrupt block %s aside: %s", s->dir, hex, sf_strerror(-errno));
        return;
    }
    fsync_subdir(s, path);
    SF_WARN("%s: block %s failed its hash check; moved to corrupt/%s", s->dir, hex, name);
}

static int read_full(int fd, uint8_t *buf, size_t len, size_t *got)
{
    size_t n = 0;
    while (n < len) {
        ssize_t r = read(fd, buf + n, len - n);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        if (r == 0) {
            break;
        }
        n += (size_t)r;
    }
    *got = n;
    return 0;
}

int sf_fs_block_get(struct sf_fs_store *s, const struct sf_fs_block_id *id, void *buf, size_t cap,
                    size_t *len)
{
    char path[HEX_LEN + 2];
    block_path(id, path);
    int fd = openat(s->blocksfd, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int rc = -errno;
        close(fd);
        return rc;
    }
    if ((uint64_t)st.st_size > cap) {
        close(fd);
        return -EFBIG;
    }
    /* Read one byte more than fstat promised so a file that changed under
     * us cannot pass as the shorter block. */
    size_t want = (size_t)st.st_size < cap ? (size_t)st.st_size + 1 : cap;
    size_t got = 0;
    int rc = read_full(fd, buf, want, &got);
    close(fd);
    if (rc != 0) {
        return rc;
    }
    struct sf_fs_block_id h;
    sf_fs_block_hash(buf, got, &h);
    if (got != (size_t)st.st_size || sf_fs_block_id_cmp(&h, id) != 0) {
        quarantine(s, id, path);
        return SF_FS_ECORRUPT;
    }
    *len = got;
    return 0;
}

int sf_fs_block_stat(struct sf_fs_store *s, const struct sf_fs_block_id *id, uint64_t *size)
{
    char path[HEX_LEN + 2];
    block_path(id, path);
    struct stat st;
    if (fstatat(s->blocksfd, path, &st, 0) != 0) {
        return -errno;
    }
    if (size != NULL) {
        *size = (uint64_t)st.st_size;
    }
    return 0;
}

int sf_fs_block_delete(struct sf_fs_store *s, const struct sf_fs_block_id *id)
{
    char path[HEX_LEN + 2];
    block_path(id, path);
    if (unlinkat(s->blocksfd, path, 0) != 0) {
        return -errno;
    }
    return fsync_subdir(s, path);
}

/* ------------------------------------------------------------ walk */

/* Visit every block file: fn gets the fan-out dir's fd, the file name in
 * it, the id and the stat. Non-zero from fn stops the walk and is
 * returned. */
typedef int (*walk_fn)(struct sf_fs_store *s, int subfd, const char *name,
                       const struct sf_fs_block_id *id, const struct stat *st, void *arg);

static int walk(struct sf_fs_store *s, walk_fn fn, void *arg, unsigned *stray)
{
    unsigned nstray = 0;
    int rc = 0;
    for (int i = 0; i < 256 && rc == 0; i++) {
        char sub[3];
        sub_name((unsigned)(i), sub);
        int subfd = openat(s->blocksfd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (subfd < 0) {
            rc = -errno;
            break;
        }
        int dfd = dup(subfd);
        DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
        if (d == NULL) {
            rc = -errno;
            if (dfd >= 0) {
                close(dfd);
            }
            close(subfd);
            break;
        }
        struct dirent *e;
        while (rc == 0 && (e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
                continue;
            }
            char hex[HEX_LEN + 1];
            struct sf_fs_block_id id;
            struct stat st;
            /* Only lower-case names are ours (sf_fs_block_id_hex writes
             * lower case); anything else is a stray file, left alone. */
            bool ok = strlen(e->d_name) == HEX_LEN - 2 &&
                      strspn(e->d_name, "0123456789abcdef") == HEX_LEN - 2;
            if (ok) {
                memcpy(hex, sub, 2);
                memcpy(hex + 2, e->d_name, HEX_LEN - 2 + 1);
                ok = sf_fs_block_id_parse(hex, &id) == 0;
            }
            if (ok && fstatat(subfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
                continue; /* deleted since readdir */
            }
            if (!ok || !S_ISREG(st.st_mode)) {
                nstray++;
                continue;
            }
            rc = fn(s, subfd, e->d_name, &id, &st, arg);
        }
        closedir(d);
        close(subfd);
    }
    if (stray != NULL) {
        *stray = nstray;
    }
    return rc;
}

struct enum_arg {
    sf_fs_block_fn cb;
    void *arg;
};

static int enum_one(struct sf_fs_store *s, int subfd, const char *name,
                    const struct sf_fs_block_id *id, const struct stat *st, void *arg)
{
    struct enum_arg *a = arg;
    return a->cb(a->arg, id, (uint64_t)st->st_size);
}

int sf_fs_block_enum(struct sf_fs_store *s, sf_fs_block_fn cb, void *arg, unsigned *stray)
{
    if (cb == NULL) {
        return -EINVAL;
    }
    struct enum_arg a = {cb, arg};
    return walk(s, enum_one, &a, stray);
}

/* ----------------------------------------------------------- scrub */

struct scrub_arg {
    sf_fs_block_fn bad;
    void *arg;
    struct sf_fs_scrub_stats st;
    uint8_t *buf;
};

/* Hash a block file in chunks (no whole block in memory). 1 if it
 * matches, 0 if not, negative on I/O errors other than a vanished file. */
static int verify_at(struct scrub_arg *a, int subfd, const char *name,
                     const struct sf_fs_block_id *id, uint64_t *bytes)
{
    int fd = openat(subfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return errno == ENOENT ? 1 : -errno; /* deleted meanwhile: not corrupt */
    }
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, SF_FS_ID_LEN);
    uint64_t n = 0;
    int rc = 0;
    for (;;) {
        ssize_t r = read(fd, a->buf, VERIFY_CHUNK);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            rc = -errno;
            break;
        }
        if (r == 0) {
            break;
        }
        crypto_generichash_update(&h, a->buf, (size_t)r);
        n += (uint64_t)r;
    }
    close(fd);
    if (rc != 0) {
        return rc;
    }
    struct sf_fs_block_id got;
    crypto_generichash_final(&h, got.b, SF_FS_ID_LEN);
    *bytes = n;
    return sf_fs_block_id_cmp(&got, id) == 0;
}

static int scrub_one(struct sf_fs_store *s, int subfd, const char *name,
                     const struct sf_fs_block_id *id, const struct stat *st, void *arg)
{
    struct scrub_arg *a = arg;
    uint64_t bytes = 0;
    int ok = verify_at(a, subfd, name, id, &bytes);
    if (ok < 0) {
        if (ok == -EIO) {
            ok = 0; /* an unreadable block is as bad as a wrong one */
        } else {
            return ok;
        }
    }
    a->st.blocks++;
    a->st.bytes += bytes;
    if (!ok) {
        char path[HEX_LEN + 2];
        block_path(id, path);
        quarantine(s, id, path);
        a->st.corrupt++;
        if (a->bad != NULL) {
            a->bad(a->arg, id, (uint64_t)st->st_size);
        }
    }
    return 0;
}

int sf_fs_block_scrub(struct sf_fs_store *s, sf_fs_block_fn bad, void *arg,
                      struct sf_fs_scrub_stats *st)
{
    struct scrub_arg a = {.bad = bad, .arg = arg};
    a.buf = malloc(VERIFY_CHUNK);
    if (a.buf == NULL) {
        return -ENOMEM;
    }
    int rc = walk(s, scrub_one, &a, NULL);
    free(a.buf);
    if (st != NULL) {
        *st = a.st;
    }
    return rc;
}

/* -------------------------------------------------------------- gc */

static int id_cmp_q(const void *a, const void *b)
{
    return sf_fs_block_id_cmp(a, b);
}

struct gc_arg {
    const struct sf_fs_block_id *live;
    size_t n_live;
    int64_t keep_since_ns;
    uint64_t deleted;
    int dirty_sub; /* fan-out index with unsynced deletions, or -1 */
};

static int gc_one(struct sf_fs_store *s, int subfd, const char *name,
                  const struct sf_fs_block_id *id, const struct stat *st, void *arg)
{
    struct gc_arg *a = arg;
    if (bsearch(id, a->live, a->n_live, sizeof *id, id_cmp_q) != NULL) {
        return 0;
    }
    if (s->gc_hook != NULL) {
        s->gc_hook(s->gc_hook_arg, id);
    }
    /* Check the mtime again under the lock: a put may have refreshed it
     * since the walk's stat. */
    pthread_mutex_lock(&s->gc_lock);
    struct stat now;
    int rc = 0;
    bool del = false;
    if (fstatat(subfd, name, &now, AT_SYMLINK_NOFOLLOW) == 0) {
        int64_t mtime = (int64_t)now.st_mtim.tv_sec * 1000000000 + now.st_mtim.tv_nsec;
        if (mtime < a->keep_since_ns - GC_SLACK_NS) {
            del = unlinkat(subfd, name, 0) == 0;
            if (!del && errno != ENOENT) {
                rc = -errno;
            }
        }
    }
    pthread_mutex_unlock(&s->gc_lock);
    if (!del) {
        return rc;
    }
    a->deleted++;
    if (a->dirty_sub != id->b[0]) {
        if (a->dirty_sub >= 0) {
            char sub[3];
            sub_name((unsigned)(a->dirty_sub), sub);
            fsync_dir_at(s->blocksfd, sub);
        }
        a->dirty_sub = id->b[0];
    }
    return 0;
}

static int empty_corrupt(struct sf_fs_store *s)
{
    int fd = dup(s->corruptfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (d == NULL) {
        int rc = -errno;
        if (fd >= 0) {
            close(fd);
        }
        return rc;
    }
    rewinddir(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            unlinkat(s->corruptfd, e->d_name, 0);
        }
    }
    closedir(d);
    return 0;
}

int sf_fs_block_gc(struct sf_fs_store *s, const struct sf_fs_block_id *live, size_t n_live,
                   int64_t keep_since_ns, uint64_t *deleted)
{
    if (n_live > 0 && live == NULL) {
        return -EINVAL;
    }
    struct gc_arg a = {.n_live = n_live, .keep_since_ns = keep_since_ns, .dirty_sub = -1};
    struct sf_fs_block_id *sorted = NULL;
    if (n_live > 0) {
        if (n_live > SIZE_MAX / sizeof *sorted) {
            return -ENOMEM;
        }
        sorted = malloc(n_live * sizeof *sorted);
        if (sorted == NULL) {
            return -ENOMEM;
        }
        memcpy(sorted, live, n_live * sizeof *sorted);
        qsort(sorted, n_live, sizeof *sorted, id_cmp_q);
    }
    a.live = sorted;
    int rc = walk(s, gc_one, &a, NULL);
    if (a.dirty_sub >= 0) {
        char sub[3];
        sub_name((unsigned)(a.dirty_sub), sub);
        int frc = fsync_dir_at(s->blocksfd, sub);
        if (rc == 0) {
            rc = frc;
        }
    }
    free(sorted);
    if (rc == 0) {
        rc = empty_corrupt(s);
    }
    if (deleted != NULL) {
        *deleted = a.deleted;
    }
    return rc;
}
