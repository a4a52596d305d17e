/* The app backend, rank side (sf_ckpt.h): the table of protected regions,
 * writing this rank's image of an epoch, the exchange with the node daemon
 * (CKPT_STORED, then wait for CKPT_COMMIT), and recovery from an image.
 * Not the coordination (launcher/sfd/sfd_ckpt.c). Rank-local state, used
 * from the thread that calls MPI.
 *
 * The daemon socket (SF_SFD_FD) is shared with the runtime (runtime/rt):
 * this file writes whole frames to it and, while sf_ckpt_checkpoint blocks,
 * reads it with its own receive buffer. That is safe because the runtime
 * reads the socket only from inside MPI calls, none runs during the call,
 * and the daemon sends a rank nothing but KILL outside the replies this
 * file waits for.
 * Images go to STORE/KEY/EPOCH/rank-N on the node's disk, or, when sfd
 * says so (SF_CKPT_FS), straight into the Starfish filesystem as
 * /ckpt/KEY/EPOCH/rank-N with two replicas (streamed, no local copy), so a
 * rank can be restarted on another node after its node is lost. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint/ckpt_app_int.h"
#include "checkpoint/sf_ckpt.h"
#include "runtime/base/sf_crc.h"
#include "runtime/base/sf_env.h"
#include "runtime/base/sf_err.h"
#include "runtime/base/sf_log.h"
#include "runtime/base/sf_wire.h"
#include "fs/sf_fs_client.h"

struct region {
    uint32_t id;
    void *ptr;
    size_t size;
};

/* The process's protected regions and epoch counter: one per rank, like
 * MPI's own state. */
static struct {
    struct region r[SF_CKPT_MAX_REGIONS];
    uint32_t n;
    uint32_t epoch;     /* last committed epoch known here */
    uint32_t used;      /* last epoch number used (committed or aborted) */
    bool env_read;
    uint32_t restarted; /* SF_CKPT_RESTART, 0 if fresh */
    uint32_t prev;      /* the committed epoch before 'epoch' (kept by GC) */
    struct sf_fs_client *fs; /* connection to the filesystem, opened once */
} ck;

static void read_env(void)
{
    if (ck.env_read) {
        return;
    }
    ck.env_read = true;
    const char *s = getenv(SF_CKPT_ENV_RESTART);
    if (s != NULL && *s != '\0') {
        char *end;
        unsigned long v = strtoul(s, &end, 10);
        if (*end == '\0' && v > 0 && v <= UINT32_MAX) {
            ck.restarted = (uint32_t)v;
            ck.epoch = ck.used = ck.restarted;
        }
    }
}

int sf_ckpt_protect(uint32_t id, void *ptr, size_t size)
{
    if (ptr == NULL && size > 0) {
        return -EINVAL;
    }
    for (uint32_t i = 0; i < ck.n; i++) {
        if (ck.r[i].id == id) {
            ck.r[i].ptr = ptr;
            ck.r[i].size = size;
            return 0;
        }
    }
    if (ck.n == SF_CKPT_MAX_REGIONS) {
        return -ENOSPC;
    }
    ck.r[ck.n++] = (struct region){id, ptr, size};
    return 0;
}

int sf_ckpt_unprotect(uint32_t id)
{
    for (uint32_t i = 0; i < ck.n; i++) {
        if (ck.r[i].id == id) {
            ck.r[i] = ck.r[--ck.n];
            return 0;
        }
    }
    return -ENOENT;
}

uint32_t sf_ckpt_restarted(void)
{
    read_env();
    return ck.restarted;
}

uint32_t sf_ckpt_epoch(void)
{
    read_env();
    return ck.epoch;
}

static int env_num(const char *name, unsigned long long *out)
{
    const char *s = getenv(name);
    if (s == NULL || *s == '\0') {
        return -ENOENT;
    }
    char *end;
    errno = 0;
    *out = strtoull(s, &end, 10);
    return errno != 0 || *end != '\0' ? -EINVAL : 0;
}

/* Where an image's bytes go: a local file or a filesystem writer. */
struct sink {
    int fd;
    struct sf_fs_writer *w;
};

static int write_full(int fd, const void *p, size_t n);

static int sink_write(struct sink *k, const void *p, size_t n)
{
    return k->w != NULL ? sf_fs_writer_write(k->w, p, n) : write_full(k->fd, p, n);
}

static int fs_connect(void)
{
    if (ck.fs != NULL) {
        return 0;
    }
    int rc = sf_fs_client_connect(getenv(SF_CKPT_ENV_FS), NULL, &ck.fs);
    if (rc != 0) {
        ck.fs = NULL;
    }
    return rc;
}

static void fs_drop(const char *what)
{
    if (ck.fs != NULL) {
        SF_ERR("checkpoint: %s: %s", what, sf_fs_client_errmsg(ck.fs));
        sf_fs_client_close(ck.fs); /* the next use reconnects */
        ck.fs = NULL;
    }
}

/* mkdir -p of /ckpt/KEY/EPOCH in the filesystem (other ranks make them at
 * the same time: EEXIST is fine). */
static int fs_mkdirs(uint64_t key, uint32_t epoch)
{
    char p[128];
    int rc = sf_fs_mkdir(ck.fs, SF_CKPT_FS_ROOT, 0700);
    snprintf(p, sizeof(p), SF_CKPT_FS_ROOT "/%llu", (unsigned long long)key);
    if (rc == 0 || rc == -EEXIST) {
        rc = sf_fs_mkdir(ck.fs, p, 0700);
    }
    snprintf(p, sizeof(p), SF_CKPT_FS_ROOT "/%llu/%u", (unsigned long long)key, epoch);
    if (rc == 0 || rc == -EEXIST) {
        rc = sf_fs_mkdir(ck.fs, p, 0700);
    }
    return rc == -EEXIST ? 0 : rc;
}

static int write_full(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t w = write(fd, b, n);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The header, the regions and the CRC into k: total bytes in *bytes. */
static int write_body(struct sink *k, uint64_t key, uint32_t epoch, int rank, uint64_t *bytes)
{
    struct sf_ckpt_image_hdr h = {.job = key, .epoch = epoch, .rank = (uint32_t)rank,
                                  .nregions = ck.n};
    struct sf_ckpt_image_region reg[SF_CKPT_MAX_REGIONS];
    for (uint32_t i = 0; i < ck.n; i++) {
        reg[i].id = ck.r[i].id;
        reg[i].size = ck.r[i].size;
    }
    size_t hcap = SF_CKPT_IMAGE_HDR + (size_t)ck.n * SF_CKPT_IMAGE_ENTRY;
    uint8_t *head = malloc(hcap);
    if (head == NULL) {
        return -ENOMEM;
    }
    long hl = sf_ckpt__image_head(&h, reg, head, hcap);
    int rc = hl < 0 ? (int)hl : sink_write(k, head, (size_t)hl);
    uint32_t crc = hl < 0 ? 0 : sf_crc32c(head, (size_t)hl);
    uint64_t total = hl < 0 ? 0 : (uint64_t)hl;
    free(head);
    for (uint32_t i = 0; rc == 0 && i < ck.n; i++) {
        rc = sink_write(k, ck.r[i].ptr, ck.r[i].size);
        crc = sf_crc32c_extend(crc, ck.r[i].ptr, ck.r[i].size);
        total += ck.r[i].size;
    }
    if (rc == 0) {
        uint8_t t[4] = {(uint8_t)(crc >> 24), (uint8_t)(crc >> 16), (uint8_t)(crc >> 8),
                        (uint8_t)crc};
        rc = sink_write(k, t, sizeof(t));
        total += sizeof(t);
    }
    *bytes = total;
    return rc;
}

/* The image into the filesystem: nothing is visible before the writer's
 * close commits it whole, with every block on two nodes. */
static int write_image_fs(uint64_t key, uint32_t epoch, int rank, uint64_t *bytes)
{
    char path[128];
    snprintf(path, sizeof(path), SF_CKPT_FS_ROOT "/%llu/%u/rank-%d", (unsigned long long)key,
             epoch, rank);
    int rc = fs_connect();
    if (rc == 0) {
        rc = fs_mkdirs(key, epoch);
    }
    struct sf_fs_wopts o = {.replicas = SF_CKPT_FS_REPLICAS, .mode = 0600};
    struct sink k = {-1, NULL};
    if (rc == 0) {
        rc = sf_fs_writer_open(ck.fs, path, &o, &k.w);
    }
    if (rc == 0) {
        rc = write_body(&k, key, epoch, rank, bytes);
        if (rc == 0) {
            rc = sf_fs_writer_close(k.w, NULL);
        } else {
            sf_fs_writer_abort(k.w);
        }
    }
    if (rc != 0) {
        fs_drop(path);
    }
    return rc;
}

/* Write DIR/EPOCH/rank-N atomically (temporary name, fsync, rename, fsync
 * the directory): a crash leaves either no image or a whole one. */
static int write_image(const char *dir, uint64_t key, uint32_t epoch, int rank, uint64_t *bytes)
{
    char edir[PATH_MAX], path[PATH_MAX + 32], tmp[PATH_MAX + 32];
    if (snprintf(edir, sizeof(edir), "%s/%u", dir, epoch) >= (int)sizeof(edir)) {
        return -ENAMETOOLONG;
    }
    if (mkdir(edir, 0700) != 0 && errno != EEXIST) {
        return -errno;
    }
    snprintf(path, sizeof(path), "%s/rank-%d", edir, rank);
    snprintf(tmp, sizeof(tmp), "%s/rank-%d.tmp", edir, rank);
    struct sink k = {open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600), NULL};
    if (k.fd < 0) {
        return -errno;
    }
    int rc = write_body(&k, key, epoch, rank, bytes);
    if (rc == 0 && fsync(k.fd) != 0) {
        rc = -errno;
    }
    if (close(k.fd) != 0 && rc == 0) {
        rc = -errno;
    }
    if (rc == 0 && rename(tmp, path) != 0) {
        rc = -errno;
    }
    if (rc != 0) {
        unlink(tmp);
        return rc;
    }
    int dfd = open(edir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

/* Names of a filesystem directory (malloc'd array of malloc'd names). */
struct names {
    char **v;
    size_t n, cap;
};

static int add_name(void *arg, const char *name, const struct sf_fs_stat *st)
{
    (void)st;
    struct names *ns = arg;
    if (ns->n == ns->cap) {
        size_t cap = ns->cap ? ns->cap * 2 : 16;
        char **v = realloc(ns->v, cap * sizeof(char *));
        if (v == NULL) {
            return -ENOMEM;
        }
        ns->v = v;
        ns->cap = cap;
    }
    if ((ns->v[ns->n] = strdup(name)) == NULL) {
        return -ENOMEM;
    }
    ns->n++;
    return 0;
}

static void names_free(struct names *ns)
{
    for (size_t i = 0; i < ns->n; i++) {
        free(ns->v[i]);
    }
    free(ns->v);
}

/* Rank 0 after a commit: drop this job's epochs in the filesystem older
 * than the previous committed one (aborted ones too). Best effort: a
 * leftover costs space, never correctness (only committed epochs load). */
static void fs_gc(uint64_t key, uint32_t keep)
{
    char dir[128];
    snprintf(dir, sizeof(dir), SF_CKPT_FS_ROOT "/%llu", (unsigned long long)key);
    struct names ep = {0};
    sf_fs_readdir(ck.fs, dir, add_name, &ep);
    for (size_t i = 0; i < ep.n; i++) {
        char *end;
        unsigned long e = strtoul(ep.v[i], &end, 10);
        if (*end != '\0' || e >= keep) {
            continue;
        }
        char edir[192];
        snprintf(edir, sizeof(edir), "%s/%s", dir, ep.v[i]);
        struct names files = {0};
        sf_fs_readdir(ck.fs, edir, add_name, &files);
        for (size_t k = 0; k < files.n; k++) {
            char p[256];
            snprintf(p, sizeof(p), "%s/%s", edir, files.v[k]);
            sf_fs_unlink(ck.fs, p);
        }
        names_free(&files);
        sf_fs_rmdir(ck.fs, edir);
    }
    names_free(&ep);
}

/* Block until the daemon answers CKPT_COMMIT for epoch; KILL or a lost
 * daemon end the process, as they do inside MPI calls. */
static int wait_commit(int fd, uint64_t job, uint32_t epoch)
{
    struct sf_wire_rx rx;
    sf_wire_rx_init(&rx);
    int result = SF_ERR_PROTO;
    for (;;) {
        struct sf_wire_msg m;
        int rc = sf_wire_rx_next(&rx, &m);
        if (rc < 0) {
            SF_ERR("checkpoint: corrupt stream from the node daemon (%s); exiting",
                   sf_strerror(rc));
            _exit(1);
        }
        if (rc == 1) {
            if (m.op == SF_OP_KILL) {
                SF_ERR("job ended by the node daemon: %.*s; exiting", (int)m.f[0].len,
                       (const char *)m.f[0].p);
                _exit(1);
            }
            if (m.op == SF_OP_CKPT_COMMIT && m.f[0].u == job && m.f[1].u == epoch) {
                result = (int)m.f[2].i;
                if (result != 0) {
                    SF_WARN("checkpoint epoch %u aborted: %.*s", epoch, (int)m.f[3].len,
                            (const char *)m.f[3].p);
                }
                break;
            }
            SF_DBG("checkpoint: ignoring control message %u while waiting for the commit", m.op);
            continue;
        }
        long n = sf_wire_rx_fill(&rx, fd);
        if (n == 0) {
            SF_ERR("lost the connection to the node daemon during a checkpoint; exiting");
            _exit(1);
        }
        if (n == -EAGAIN) {
            struct pollfd p = {fd, POLLIN, 0};
            if (poll(&p, 1, -1) < 0 && errno != EINTR) {
                result = -errno;
                break;
            }
        } else if (n < 0 && n != -EINTR) {
            result = (int)n;
            break;
        }
    }
    sf_wire_rx_free(&rx);
    return result;
}

int sf_ckpt_checkpoint(void)
{
    read_env();
    unsigned long long fdv, rank, job, key;
    if (env_num(SF_ENV_SFD_FD, &fdv) != 0 || env_num(SF_ENV_RANK, &rank) != 0 ||
        env_num(SF_ENV_JOB, &job) != 0) {
        return -ENOTCONN;
    }
    const char *dir = getenv(SF_CKPT_ENV_IMAGES);
    const char *fs = getenv(SF_CKPT_ENV_FS);
    bool in_fs = fs != NULL && *fs != '\0';
    if ((!in_fs && (dir == NULL || *dir == '\0')) || env_num(SF_CKPT_ENV_KEY, &key) != 0) {
        return -ENOTSUP;
    }
    /* Output up to the cut must reach the daemon before it learns the
     * image is stored: it marks the output position there (no replay of
     * it after a restart). */
    fflush(stdout);
    fflush(stderr);
    uint32_t epoch = ck.used + 1;
    uint64_t bytes = 0;
    int st = in_fs ? write_image_fs(key, epoch, (int)rank, &bytes)
                   : write_image(dir, key, epoch, (int)rank, &bytes);
    if (st != 0) {
        SF_ERR("checkpoint: cannot write the image of epoch %u in %s: %s", epoch,
               in_fs ? "the Starfish filesystem (" SF_CKPT_FS_ROOT ")" : dir, sf_strerror(st));
    }
    struct sf_wire_enc e;
    sf_wire_enc_begin(&e, SF_OP_CKPT_STORED, 0);
    sf_wire_put_u64(&e, job);
    sf_wire_put_i32(&e, (int32_t)rank);
    sf_wire_put_u32(&e, epoch);
    sf_wire_put_u64(&e, bytes);
    sf_wire_put_i32(&e, st);
    int rc = sf_wire_enc_end(&e);
    if (rc == 0) {
        rc = sf_wire_write_all((int)fdv, e.buf, e.len);
    }
    sf_wire_enc_free(&e);
    if (rc != 0) {
        return rc;
    }
    rc = wait_commit((int)fdv, job, epoch);
    /* The epoch number is used up either way: the coordinator answers
     * every rank of an epoch the same, so all move past it together. */
    ck.used = epoch;
    if (rc == 0) {
        if (in_fs && rank == 0 && ck.epoch > 0 && fs_connect() == 0) {
            fs_gc(key, ck.epoch);
        }
        ck.prev = ck.epoch;
        ck.epoch = epoch;
    }
    return rc;
}

static int restore_regions(const uint8_t *buf, size_t got, const char *path, unsigned long long rank);

/* The image of the restart epoch from the filesystem: /ckpt/FROM/E/rank-N,
 * FROM being SF_CKPT_FROM (a key) or this job's key. */
static int recover_fs(unsigned long long rank)
{
    unsigned long long key;
    if (env_num(SF_CKPT_ENV_FROM, &key) != 0 && env_num(SF_CKPT_ENV_KEY, &key) != 0) {
        return -ENOENT;
    }
    char path[128];
    snprintf(path, sizeof(path), SF_CKPT_FS_ROOT "/%llu/%u/rank-%llu", key, ck.restarted, rank);
    struct sf_fs_reader *r = NULL;
    int rc = fs_connect();
    if (rc == 0) {
        rc = sf_fs_reader_open(ck.fs, path, &r);
    }
    uint8_t *buf = NULL;
    size_t got = 0;
    if (rc == 0) {
        uint64_t size = sf_fs_reader_stat(r)->size;
        buf = malloc(size > 0 ? (size_t)size : 1);
        rc = buf == NULL ? -ENOMEM : 0;
        while (rc == 0 && got < size) {
            ssize_t n = sf_fs_reader_read(r, buf + got, (size_t)(size - got));
            if (n <= 0) {
                rc = n < 0 ? (int)n : -EBADMSG;
                break;
            }
            got += (size_t)n;
        }
        sf_fs_reader_close(r);
    }
    if (rc != 0) {
        SF_ERR("checkpoint: cannot read the image %s from the Starfish filesystem: %s", path,
               sf_strerror(rc));
        fs_drop(path);
        free(buf);
        return rc;
    }
    rc = restore_regions(buf, got, path, rank);
    free(buf);
    return rc;
}

int sf_ckpt_recover(void)
{
    read_env();
    unsigned long long rank;
    if (ck.restarted == 0 || env_num(SF_ENV_RANK, &rank) != 0) {
        return -ENOENT;
    }
    const char *fs = getenv(SF_CKPT_ENV_FS);
    if (fs != NULL && *fs != '\0') {
        return recover_fs(rank);
    }
    const char *dir = getenv(SF_CKPT_ENV_FROM);
    if (dir == NULL || *dir == '\0') {
        dir = getenv(SF_CKPT_ENV_IMAGES);
    }
    if (dir == NULL) {
        return -ENOENT;
    }
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%u/rank-%llu", dir, ck.restarted, rank);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int err = -errno;
        SF_ERR("checkpoint: cannot open the image %s: %s", path, sf_strerror(err));
        return err;
    }
    struct stat sb;
    uint8_t *buf = NULL;
    int rc = fstat(fd, &sb) != 0 ? -errno : 0;
    if (rc == 0 && (buf = malloc(sb.st_size > 0 ? (size_t)sb.st_size : 1)) == NULL) {
        rc = -ENOMEM;
    }
    size_t got = 0;
    while (rc == 0 && got < (size_t)sb.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)sb.st_size - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            rc = n < 0 ? -errno : -EBADMSG;
            break;
        }
        got += (size_t)n;
    }
    close(fd);
    if (rc == 0) {
        rc = restore_regions(buf, got, path, rank);
    }
    free(buf);
    return rc;
}

/* Validate an image of this rank and the restart epoch, check every
 * protected region against it, then copy them all (a mismatch leaves the
 * program's memory untouched). */
static int restore_regions(const uint8_t *buf, size_t got, const char *path, unsigned long long rank)
{
    struct sf_ckpt_image_hdr h;
    static struct sf_ckpt_image_region reg[SF_CKPT_MAX_REGIONS];
    int rc = sf_ckpt__image_decode(buf, got, &h, reg, SF_CKPT_MAX_REGIONS);
    if (rc == 0 && (h.epoch != ck.restarted || h.rank != rank)) {
        rc = -EBADMSG;
    }
    if (rc != 0) {
        SF_ERR("checkpoint: image %s is not a valid image of rank %llu, epoch %u (%s)", path, rank,
               ck.restarted, sf_strerror(rc));
        return rc;
    }
    for (uint32_t i = 0; rc == 0 && i < ck.n; i++) {
        uint32_t k = 0;
        while (k < h.nregions && reg[k].id != ck.r[i].id) {
            k++;
        }
        if (k == h.nregions) {
            SF_ERR("checkpoint: region %u is not in the image %s", ck.r[i].id, path);
            rc = -ENOENT;
        } else if (reg[k].size != ck.r[i].size) {
            SF_ERR("checkpoint: region %u has %zu bytes, its image %llu", ck.r[i].id,
                   ck.r[i].size, (unsigned long long)reg[k].size);
            rc = -EINVAL;
        }
    }
    for (uint32_t i = 0; rc == 0 && i < ck.n; i++) {
        for (uint32_t k = 0; k < h.nregions; k++) {
            if (reg[k].id == ck.r[i].id && reg[k].size > 0) {
                memcpy(ck.r[i].ptr, buf + reg[k].off, reg[k].size);
            }
        }
    }
    return rc;
}
