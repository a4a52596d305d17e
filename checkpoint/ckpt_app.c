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
 * file waits for. */
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
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        free(head);
        return -errno;
    }
    int rc = hl < 0 ? (int)hl : write_full(fd, head, (size_t)hl);
    uint32_t crc = hl < 0 ? 0 : sf_crc32c(head, (size_t)hl);
    uint64_t total = hl < 0 ? 0 : (uint64_t)hl;
    free(head);
    for (uint32_t i = 0; rc == 0 && i < ck.n; i++) {
        rc = write_full(fd, ck.r[i].ptr, ck.r[i].size);
        crc = sf_crc32c_extend(crc, ck.r[i].ptr, ck.r[i].size);
        total += ck.r[i].size;
    }
    if (rc == 0) {
        uint8_t t[4] = {(uint8_t)(crc >> 24), (uint8_t)(crc >> 16), (uint8_t)(crc >> 8),
                        (uint8_t)crc};
        rc = write_full(fd, t, sizeof(t));
        total += sizeof(t);
    }
    if (rc == 0 && fsync(fd) != 0) {
        rc = -errno;
    }
    if (close(fd) != 0 && rc == 0) {
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
    *bytes = total;
    return 0;
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
    if (dir == NULL || *dir == '\0' || env_num(SF_CKPT_ENV_KEY, &key) != 0) {
        return -ENOTSUP;
    }
    /* Output up to the cut must reach the daemon before it learns the
     * image is stored: it marks the output position there (no replay of
     * it after a restart). */
    fflush(stdout);
    fflush(stderr);
    uint32_t epoch = ck.used + 1;
    uint64_t bytes = 0;
    int st = write_image(dir, key, epoch, (int)rank, &bytes);
    if (st != 0) {
        SF_ERR("checkpoint: cannot write the image of epoch %u in %s: %s", epoch, dir,
               sf_strerror(st));
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
        ck.epoch = epoch;
    }
    return rc;
}

int sf_ckpt_recover(void)
{
    read_env();
    if (ck.restarted == 0) {
        return -ENOENT;
    }
    unsigned long long rank;
    const char *dir = getenv(SF_CKPT_ENV_FROM);
    if (dir == NULL || *dir == '\0') {
        dir = getenv(SF_CKPT_ENV_IMAGES);
    }
    if (dir == NULL || env_num(SF_ENV_RANK, &rank) != 0) {
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
    struct sf_ckpt_image_hdr h;
    static struct sf_ckpt_image_region reg[SF_CKPT_MAX_REGIONS];
    if (rc == 0) {
        rc = sf_ckpt__image_decode(buf, got, &h, reg, SF_CKPT_MAX_REGIONS);
        if (rc == 0 && (h.epoch != ck.restarted || h.rank != rank)) {
            rc = -EBADMSG;
        }
        if (rc != 0) {
            SF_ERR("checkpoint: image %s is not a valid image of rank %llu, epoch %u (%s)", path,
                   rank, ck.restarted, sf_strerror(rc));
        }
    }
    /* Check every protected region against the image before copying any,
     * so a mismatch leaves the program's memory untouched. */
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
    free(buf);
    return rc;
}
