/* fs client, file data: blocks through the local sfd (FS_BLOCK_WRITE /
 * FS_BLOCK_DONE, FS_BLOCK_READ / FS_DATA), the streaming writer (cuts a
 * stream into blocks, a window of writes in flight, block list and commit
 * at close) and reader (block list resolved at open, read-ahead window),
 * and truncate. No temporary files: at most window + 1 blocks in memory.
 * One thread per client. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs/fs_client_int.h"
#include "runtime/base/sf_err.h"

/* Commit retries of a non-exclusive writer that lost a race (each one
 * re-reads the version: another writer committed in between). */
#define COMMIT_RETRIES 8

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ------------------------------------------------------------ blocks */

static int send_block_write(struct sf_fs_client *c, int replicas, const void *buf, size_t len,
                            uint64_t *reqp)
{
    struct sf_wire_enc e;
    uint64_t req = sf_fs__req_begin(c, &e, SF_OP_FS_BLOCK_WRITE);
    sf_wire_put_u8(&e, (uint8_t)replicas);
    sf_wire_put_bytes(&e, buf, len);
    *reqp = req;
    return sf_fs__req_send(c, &e, req, SF_OP_FS_BLOCK_DONE, NULL, 0);
}

/* Take the answer of a finished FS_BLOCK_WRITE and forget the request. */
static int take_block_done(struct sf_fs_client *c, uint64_t req, struct sf_fs_block_id *id)
{
    long i = sf_fs__pend_find(&c->pend, req);
    struct fsc_req *r = &c->pend.v[i];
    const struct sf_wire_msg *m = &r->msg;
    int rc = r->status > 0 ? SF_ERR_PROTO : r->status;
    if (rc != 0) {
        sf_fs__err_reply(c, rc, m, 3, "block write");
    } else if (m->f[2].len != SF_FS_ID_LEN) {
        rc = sf_fs__err(c, SF_ERR_PROTO, "block write: the daemon's answer has a %u-byte id",
                        (unsigned)m->f[2].len);
    } else {
        memcpy(id->b, m->f[2].p, SF_FS_ID_LEN);
    }
    sf_fs__req_drop(c, req);
    return rc;
}

int sf_fs__block_write(struct sf_fs_client *c, int replicas, const void *buf, size_t len,
                       struct sf_fs_block_id *id)
{
    uint64_t req;
    int rc = send_block_write(c, replicas, buf, len, &req);
    if (rc != 0) {
        return rc;
    }
    long i = sf_fs__req_wait(c, req);
    if (i < 0) {
        return (int)i;
    }
    return take_block_done(c, req, id);
}

static int send_block_read(struct sf_fs_client *c, const struct sf_fs_block_id *id, void *buf,
                           size_t cap, uint64_t *reqp)
{
    struct sf_wire_enc e;
    uint64_t req = sf_fs__req_begin(c, &e, SF_OP_FS_BLOCK_READ);
    sf_wire_put_bytes(&e, id->b, SF_FS_ID_LEN);
    *reqp = req;
    return sf_fs__req_send(c, &e, req, SF_OP_FS_DATA, buf, cap);
}

/* Take the answer of a finished FS_BLOCK_READ (data already in its
 * buffer): its length, and forget the request. */
static int take_block_data(struct sf_fs_client *c, uint64_t req, const struct sf_fs_block_id *id,
                           size_t *len)
{
    long i = sf_fs__pend_find(&c->pend, req);
    struct fsc_req *r = &c->pend.v[i];
    int rc = r->status > 0 ? SF_ERR_PROTO : r->status;
    if (rc != 0) {
        char hex[2 * SF_FS_ID_LEN + 1];
        char what[96];
        snprintf(what, sizeof(what), "block %.16s", sf_fs_block_id_hex(id, hex));
        /* FS_DATA has no message field: say what the code means. */
        sf_fs__err(c, rc, "%s: %s", what,
                   rc == -ENOENT ? "no live node holds it (lost, or its holders are down)"
                                 : sf_strerror(rc));
    } else {
        *len = r->len;
    }
    sf_fs__req_drop(c, req);
    return rc;
}

int sf_fs__block_read(struct sf_fs_client *c, const struct sf_fs_block_id *id, void *buf,
                      size_t cap, size_t *len)
{
    uint64_t req;
    int rc = send_block_read(c, id, buf, cap, &req);
    if (rc != 0) {
        return rc;
    }
    long i = sf_fs__req_wait(c, req);
    if (i < 0) {
        return (int)i;
    }
    return take_block_data(c, req, id, len);
}

/* sf_fs_blist_build / resolve callbacks. */
struct blist_arg {
    struct sf_fs_client *c;
    int replicas;
};

static int blist_put(void *arg, const void *buf, size_t len, struct sf_fs_block_id *id)
{
    struct blist_arg *a = arg;
    return sf_fs__block_write(a->c, a->replicas, buf, len, id);
}

static int blist_get(void *arg, const struct sf_fs_block_id *id, void *buf, size_t cap,
                     size_t *len)
{
    struct blist_arg *a = arg;
    return sf_fs__block_read(a->c, id, buf, cap, len);
}

int sf_fs__resolve(struct sf_fs_client *c, const struct sf_fs_inode *ino,
                   struct sf_fs_block_id **ids, uint64_t *n)
{
    uint8_t depth;
    uint16_t nr;
    *ids = NULL;
    int rc = sf_fs_inode_shape(ino->size, ino->block_size, n, &depth, &nr);
    if (rc != 0) {
        return sf_fs__err(c, SF_FS_ECORRUPT, "the inode's size and block size do not fit");
    }
    if (*n == 0) {
        return 0;
    }
    if (*n > SIZE_MAX / sizeof(**ids)) {
        return sf_fs__err(c, -ENOMEM, "block list too large for this machine");
    }
    *ids = malloc((size_t)*n * sizeof(**ids));
    if (*ids == NULL) {
        return sf_fs__err(c, -ENOMEM, "out of memory for a list of %llu blocks",
                          (unsigned long long)*n);
    }
    struct blist_arg a = {c, ino->replicas};
    c->err[0] = '\0';
    rc = sf_fs_blist_resolve(ino, blist_get, &a, *ids, (size_t)*n);
    if (rc != 0) {
        free(*ids);
        *ids = NULL;
        if (c->err[0] == '\0' || rc == SF_FS_ECORRUPT) {
            sf_fs__err(c, rc, "block list: %s", sf_strerror(rc));
        }
    }
    return rc;
}

/* ------------------------------------------------------------ writer */

struct sf_fs_writer {
    struct sf_fs_client *c;
    char *path;
    bool exclusive;
    uint64_t expect; /* version seen at open (0: did not exist) */
    uint32_t mode, uid, gid;
    int64_t mtime_ns; /* 0: the time of close */
    int replicas;
    struct fsc_cut cut;
    uint64_t size;
    struct sf_fs_block_id *ids; /* by block index */
    size_t nids, capids;
    uint64_t *fl_req; /* in flight: request and its block index */
    size_t *fl_idx;
    size_t nfl;
    int err;
};

static int w_fail(struct sf_fs_writer *w, int rc)
{
    if (w->err == 0) {
        w->err = rc;
    }
    return rc;
}

/* Collect one finished block write (the oldest that is done). */
static int w_collect_one(struct sf_fs_writer *w)
{
    long k = sf_fs__req_wait_any(w->c, w->fl_req, w->nfl);
    if (k < 0) {
        return w_fail(w, (int)k);
    }
    int rc = take_block_done(w->c, w->fl_req[k], &w->ids[w->fl_idx[k]]);
    w->nfl--;
    w->fl_req[k] = w->fl_req[w->nfl];
    w->fl_idx[k] = w->fl_idx[w->nfl];
    if (rc != 0) {
        const char *m = sf_fs_client_errmsg(w->c);
        char tmp[sizeof(w->c->err)];
        snprintf(tmp, sizeof(tmp), "%s", m);
        sf_fs__err(w->c, rc, "%s: %s", w->path, tmp);
        return w_fail(w, rc);
    }
    return 0;
}

/* Room for one more block id. 0 or -ENOMEM. */
static int w_grow(struct sf_fs_writer *w)
{
    if (w->nids == w->capids) {
        size_t nc = w->capids ? w->capids * 2 : 64;
        struct sf_fs_block_id *nv = realloc(w->ids, nc * sizeof(*nv));
        if (nv == NULL) {
            return -ENOMEM;
        }
        w->ids = nv;
        w->capids = nc;
    }
    return 0;
}

/* Send one block (len <= block size) as the next block of the file. */
static int w_send(struct sf_fs_writer *w, const void *buf, size_t len)
{
    while (w->nfl >= w->c->o.window) {
        int rc = w_collect_one(w);
        if (rc != 0) {
            return rc;
        }
    }
    if (w_grow(w) != 0) {
        return w_fail(w, sf_fs__err(w->c, -ENOMEM, "out of memory"));
    }
    uint64_t req;
    int rc = send_block_write(w->c, w->replicas, buf, len, &req);
    if (rc != 0) {
        return w_fail(w, rc);
    }
    w->fl_req[w->nfl] = req;
    w->fl_idx[w->nfl] = w->nids++;
    w->nfl++;
    return 0;
}

static void w_free(struct sf_fs_writer *w)
{
    for (size_t k = 0; k < w->nfl; k++) {
        sf_fs__req_drop(w->c, w->fl_req[k]);
    }
    free(w->path);
    free(w->cut.buf);
    free(w->ids);
    free(w->fl_req);
    free(w->fl_idx);
    free(w);
}

static int w_new(struct sf_fs_client *c, const char *path, size_t bs, struct sf_fs_writer **out)
{
    struct sf_fs_writer *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        return sf_fs__err(c, -ENOMEM, "out of memory");
    }
    w->c = c;
    w->path = strdup(path);
    w->cut.bs = bs;
    w->cut.buf = malloc(bs);
    w->fl_req = calloc(c->o.window, sizeof(*w->fl_req));
    w->fl_idx = calloc(c->o.window, sizeof(*w->fl_idx));
    if (w->path == NULL || w->cut.buf == NULL || w->fl_req == NULL || w->fl_idx == NULL) {
        w_free(w);
        return sf_fs__err(c, -ENOMEM, "out of memory");
    }
    *out = w;
    return 0;
}

int sf_fs_writer_open(struct sf_fs_client *c, const char *path, const struct sf_fs_wopts *o,
                      struct sf_fs_writer **out)
{
    struct sf_fs_wopts def = {0};
    if (o == NULL) {
        o = &def;
    }
    if (o->replicas < 0 || o->replicas > SF_FS_R_MAX) {
        return sf_fs__err(c, -EINVAL, "%s: replicas must be 1..%d", path, SF_FS_R_MAX);
    }
    int rc = sf_fs__path_ok(c, path);
    if (rc != 0) {
        return rc;
    }
    if (strcmp(path, "/") == 0) {
        return sf_fs__err(c, -EISDIR, "/: is a directory");
    }
    struct sf_fs_inode old;
    uint64_t expect = 0;
    rc = sf_fs__lookup(c, path, &old);
    if (rc == 0 && S_ISDIR(old.mode)) {
        return sf_fs__err(c, -EISDIR, "%s: is a directory", path);
    }
    if (rc == 0) {
        expect = old.version;
    } else if (rc != -ENOENT) {
        return rc;
    } else {
        /* The file is new: its directory must exist (fail now, not after
         * streaming gigabytes). */
        char *dir = strdup(path);
        if (dir == NULL) {
            return sf_fs__err(c, -ENOMEM, "out of memory");
        }
        char *slash = strrchr(dir, '/');
        if (slash == dir) {
            slash[1] = '\0';
        } else {
            *slash = '\0';
        }
        struct sf_fs_inode d;
        rc = sf_fs__lookup(c, dir, &d);
        if (rc == 0 && !S_ISDIR(d.mode)) {
            rc = sf_fs__err(c, -ENOTDIR, "%s: not a directory", dir);
        } else if (rc == -ENOENT) {
            rc = sf_fs__err(c, -ENOENT, "%s: no such directory", dir);
        }
        free(dir);
        if (rc != 0) {
            return rc;
        }
    }
    struct sf_fs_writer *w;
    rc = w_new(c, path, c->o.block_size, &w);
    if (rc != 0) {
        return rc;
    }
    w->exclusive = o->exclusive;
    w->expect = expect;
    w->replicas = o->replicas > 0 ? o->replicas : c->default_replicas;
    w->mode = o->mode != 0 ? (o->mode & 07777) : expect != 0 ? (old.mode & 07777) : 0644;
    w->uid = expect != 0 ? old.uid : (uint32_t)getuid();
    w->gid = expect != 0 ? old.gid : (uint32_t)getgid();
    *out = w;
    return 0;
}

int sf_fs__writer_open_from(struct sf_fs_client *c, const char *path, const struct sf_fs_inode *old,
                            const struct sf_fs_block_id *ids, size_t n, struct sf_fs_writer **out)
{
    struct sf_fs_writer *w;
    int rc = w_new(c, path, old->block_size, &w);
    if (rc != 0) {
        return rc;
    }
    if (n > 0) {
        w->ids = malloc(n * sizeof(*ids));
        if (w->ids == NULL) {
            w_free(w);
            return sf_fs__err(c, -ENOMEM, "out of memory");
        }
        memcpy(w->ids, ids, n * sizeof(*ids));
        w->nids = w->capids = n;
    }
    w->size = (uint64_t)n * old->block_size;
    w->exclusive = true; /* the kept blocks belong to that version only */
    w->expect = old->version;
    w->replicas = old->replicas;
    w->mode = old->mode & 07777;
    w->uid = old->uid;
    w->gid = old->gid;
    *out = w;
    return 0;
}

int sf_fs_writer_write(struct sf_fs_writer *w, const void *buf, size_t len)
{
    if (w->err != 0) {
        return w->err;
    }
    const uint8_t *p = buf;
    while (len > 0) {
        int rc;
        if (w->cut.fill == 0 && len >= w->cut.bs) {
            /* Whole blocks straight from the caller's buffer: no copy. */
            rc = w_send(w, p, w->cut.bs);
            if (rc != 0) {
                return rc;
            }
            p += w->cut.bs;
            len -= w->cut.bs;
            w->size += w->cut.bs;
            continue;
        }
        bool full;
        size_t n = sf_fs__cut_take(&w->cut, p, len, &full);
        p += n;
        len -= n;
        w->size += n;
        if (full) {
            rc = w_send(w, w->cut.buf, w->cut.bs);
            sf_fs__cut_reset(&w->cut);
            if (rc != 0) {
                return rc;
            }
        }
    }
    return 0;
}

void sf_fs_writer_set_attr(struct sf_fs_writer *w, const struct sf_fs_setattr *a)
{
    if (a->set_mode) {
        w->mode = a->mode & 07777;
    }
    if (a->set_mtime) {
        w->mtime_ns = a->mtime_ns;
    }
}

int sf_fs_writer_spill(struct sf_fs_writer *w, int fd)
{
    while (w->err == 0 && w->nfl > 0) {
        w_collect_one(w);
    }
    if (w->err != 0) {
        return w->err;
    }
    size_t bs = w->cut.bs;
    uint8_t *buf = malloc(bs);
    if (buf == NULL) {
        return w_fail(w, sf_fs__err(w->c, -ENOMEM, "out of memory"));
    }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i <= w->nids; i++) {
        size_t len = w->cut.fill;
        const uint8_t *src = w->cut.buf;
        if (i < w->nids) {
            rc = sf_fs__block_read(w->c, &w->ids[i], buf, bs, &len);
            src = buf;
        }
        if (rc == 0 && pwrite(fd, src, len, (off_t)(i * bs)) != (ssize_t)len) {
            rc = sf_fs__err(w->c, -EIO, "%s: cannot write the local copy: %s", w->path,
                            strerror(errno));
        }
    }
    free(buf);
    return rc != 0 ? w_fail(w, rc) : 0;
}

uint64_t sf_fs_writer_size(const struct sf_fs_writer *w)
{
    return w->size;
}

void sf_fs_writer_abort(struct sf_fs_writer *w)
{
    if (w != NULL) {
        w_free(w);
    }
}

int sf_fs_writer_close(struct sf_fs_writer *w, struct sf_fs_stat *st)
{
    struct sf_fs_client *c = w->c;
    int rc = w->err;
    if (rc == 0 && w->cut.fill > 0) {
        rc = w_send(w, w->cut.buf, w->cut.fill);
        sf_fs__cut_reset(&w->cut);
    }
    while (rc == 0 && w->nfl > 0) {
        rc = w_collect_one(w);
    }
    if (rc != 0) {
        w_free(w);
        return rc;
    }
    struct sf_fs_inode ino;
    memset(&ino, 0, sizeof(ino));
    ino.mode = S_IFREG | w->mode;
    ino.uid = w->uid;
    ino.gid = w->gid;
    ino.size = w->size;
    ino.ctime_ns = now_ns();
    ino.mtime_ns = w->mtime_ns != 0 ? w->mtime_ns : ino.ctime_ns;
    ino.replicas = (uint8_t)w->replicas;
    ino.block_size = (uint32_t)w->cut.bs;
    struct blist_arg a = {c, w->replicas};
    c->err[0] = '\0';
    static const struct sf_fs_block_id none; /* an empty file: no ids, not NULL */
    rc = sf_fs_blist_build(&ino, w->nids > 0 ? w->ids : &none, w->nids, blist_put, &a);
    if (rc != 0) {
        if (c->err[0] == '\0') {
            sf_fs__err(c, rc, "%s: block list: %s", w->path, sf_strerror(rc));
        }
        w_free(w);
        return rc;
    }
    uint64_t expect = w->expect;
    for (int tries = 0;; tries++) {
        rc = sf_fs__commit(c, w->path, expect, &ino, st);
        bool lost_race = rc == -ESTALE || (rc == -EEXIST && expect == 0);
        if (!lost_race || w->exclusive || tries >= COMMIT_RETRIES) {
            break;
        }
        /* Last writer wins: commit over whatever version is there now. */
        struct sf_fs_inode cur;
        int lr = sf_fs__lookup(c, w->path, &cur);
        if (lr == -ENOENT) {
            expect = 0;
        } else if (lr != 0) {
            rc = lr;
            break;
        } else if (S_ISDIR(cur.mode)) {
            rc = sf_fs__err(c, -EISDIR, "%s: became a directory while being written", w->path);
            break;
        } else {
            expect = cur.version;
        }
    }
    w_free(w);
    return rc;
}

/* ------------------------------------------------------------ reader */

enum { RS_EMPTY = 0, RS_FLIGHT, RS_READY };

struct rslot {
    uint8_t *buf;
    uint64_t blk;
    uint64_t req;
    int state;
    size_t len;
};

struct sf_fs_reader {
    struct sf_fs_client *c;
    char *path;
    struct sf_fs_inode ino;
    struct sf_fs_stat st;
    struct sf_fs_block_id *ids;
    uint64_t nblocks;
    struct rslot *slots;
    size_t nslots;
    uint64_t pos;
};

static size_t r_block_len(const struct sf_fs_reader *r, uint64_t b)
{
    uint64_t bs = r->ino.block_size;
    uint64_t start = b * bs;
    uint64_t left = r->ino.size - start;
    return (size_t)(left < bs ? left : bs);
}

static void r_drop(struct sf_fs_reader *r, struct rslot *s)
{
    if (s->state == RS_FLIGHT) {
        /* A late reply finds no request and is ignored. */
        sf_fs__req_drop(r->c, s->req);
    }
    s->state = RS_EMPTY;
}

void sf_fs_reader_close(struct sf_fs_reader *r)
{
    if (r == NULL) {
        return;
    }
    for (size_t i = 0; i < r->nslots; i++) {
        r_drop(r, &r->slots[i]);
        free(r->slots[i].buf);
    }
    free(r->slots);
    free(r->ids);
    free(r->path);
    free(r);
}

int sf_fs_reader_open(struct sf_fs_client *c, const char *path, struct sf_fs_reader **out)
{
    struct sf_fs_inode ino;
    int rc = sf_fs__lookup(c, path, &ino);
    if (rc != 0) {
        return rc;
    }
    if (S_ISDIR(ino.mode)) {
        return sf_fs__err(c, -EISDIR, "%s: is a directory", path);
    }
    struct sf_fs_reader *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        return sf_fs__err(c, -ENOMEM, "out of memory");
    }
    r->c = c;
    r->ino = ino;
    sf_fs__stat_from_inode(&ino, &r->st);
    r->path = strdup(path);
    rc = r->path == NULL ? sf_fs__err(c, -ENOMEM, "out of memory") : 0;
    if (rc == 0) {
        rc = sf_fs__resolve(c, &ino, &r->ids, &r->nblocks);
        if (rc != 0) {
            char tmp[sizeof(c->err)];
            snprintf(tmp, sizeof(tmp), "%s", c->err);
            sf_fs__err(c, rc, "%s: %s", path, tmp);
        }
    }
    if (rc == 0 && r->nblocks > 0) {
        r->nslots = c->o.window < r->nblocks ? c->o.window : (size_t)r->nblocks;
        r->slots = calloc(r->nslots, sizeof(*r->slots));
        rc = r->slots == NULL ? sf_fs__err(c, -ENOMEM, "out of memory") : 0;
        for (size_t i = 0; rc == 0 && i < r->nslots; i++) {
            r->slots[i].buf = malloc(ino.block_size);
            if (r->slots[i].buf == NULL) {
                rc = sf_fs__err(c, -ENOMEM, "out of memory");
            }
        }
    }
    if (rc != 0) {
        sf_fs_reader_close(r);
        return rc;
    }
    *out = r;
    return 0;
}

const struct sf_fs_stat *sf_fs_reader_stat(const struct sf_fs_reader *r)
{
    return &r->st;
}

/* Make sure blocks b .. b + window - 1 are ready or on their way (slot of
 * block x: x mod nslots), then wait for block b. */
static int r_fetch(struct sf_fs_reader *r, uint64_t b, struct rslot **out)
{
    for (uint64_t x = b; x < r->nblocks && x < b + r->nslots; x++) {
        struct rslot *s = &r->slots[x % r->nslots];
        if (s->state != RS_EMPTY && s->blk == x) {
            continue;
        }
        r_drop(r, s);
        int rc = send_block_read(r->c, &r->ids[x], s->buf, r->ino.block_size, &s->req);
        if (rc != 0) {
            return rc;
        }
        s->blk = x;
        s->state = RS_FLIGHT;
    }
    struct rslot *s = &r->slots[b % r->nslots];
    if (s->state == RS_FLIGHT) {
        long i = sf_fs__req_wait(r->c, s->req);
        if (i < 0) {
            return (int)i;
        }
        s->state = RS_EMPTY; /* take_block_data forgets the request */
        int rc = take_block_data(r->c, s->req, &r->ids[b], &s->len);
        if (rc != 0) {
            char tmp[sizeof(r->c->err)];
            snprintf(tmp, sizeof(tmp), "%s", r->c->err);
            return sf_fs__err(r->c, rc, "%s: %s", r->path, tmp);
        }
        if (s->len != r_block_len(r, b)) {
            return sf_fs__err(r->c, SF_FS_ECORRUPT,
                              "%s: block %llu has %zu bytes, the inode says %zu", r->path,
                              (unsigned long long)b, s->len, r_block_len(r, b));
        }
        s->state = RS_READY;
    }
    *out = s;
    return 0;
}

ssize_t sf_fs_reader_read(struct sf_fs_reader *r, void *buf, size_t len)
{
    uint8_t *p = buf;
    size_t done = 0;
    uint64_t bs = r->ino.block_size;
    while (done < len && r->pos < r->ino.size) {
        uint64_t b = r->pos / bs;
        struct rslot *s;
        int rc = r_fetch(r, b, &s);
        if (rc != 0) {
            return done > 0 ? (ssize_t)done : rc;
        }
        size_t in = (size_t)(r->pos - b * bs);
        size_t n = s->len - in;
        if (n > len - done) {
            n = len - done;
        }
        memcpy(p + done, s->buf + in, n);
        done += n;
        r->pos += n;
        if (in + n == s->len) {
            s->state = RS_EMPTY; /* consumed: the slot takes a later block */
        }
    }
    return (ssize_t)done;
}

ssize_t sf_fs_reader_pread(struct sf_fs_reader *r, void *buf, size_t len, uint64_t off)
{
    r->pos = off > r->ino.size ? r->ino.size : off;
    return sf_fs_reader_read(r, buf, len);
}

/* A writer over the current version of a regular file whose stream starts
 * with the file's first `upto` bytes (upto <= size): the whole blocks are
 * kept by id, the partial one is read and taken again. */
static int open_prefix(struct sf_fs_client *c, const char *path, uint64_t upto_or_size,
                       bool whole, struct sf_fs_inode *ino, struct sf_fs_writer **out)
{
    *out = NULL;
    int rc = sf_fs__lookup(c, path, ino);
    if (rc != 0) {
        return rc;
    }
    if (!S_ISREG(ino->mode)) {
        return sf_fs__err(c, S_ISDIR(ino->mode) ? -EISDIR : -EINVAL, "%s: not a regular file",
                          path);
    }
    uint64_t upto = whole || upto_or_size > ino->size ? ino->size : upto_or_size;
    struct sf_fs_block_id *ids;
    uint64_t n;
    rc = sf_fs__resolve(c, ino, &ids, &n);
    if (rc != 0) {
        return rc;
    }
    size_t keep = (size_t)(upto / ino->block_size);
    size_t part = (size_t)(upto % ino->block_size);
    struct sf_fs_writer *w = NULL;
    rc = sf_fs__writer_open_from(c, path, ino, ids, keep, &w);
    if (rc == 0 && part > 0) {
        uint8_t *blk = malloc(ino->block_size);
        size_t got = 0;
        rc = blk == NULL ? sf_fs__err(c, -ENOMEM, "out of memory")
                         : sf_fs__block_read(c, &ids[keep], blk, ino->block_size, &got);
        if (rc == 0 && got < part) {
            rc = sf_fs__err(c, SF_FS_ECORRUPT, "%s: block %zu has %zu bytes, the inode says more",
                            path, keep, got);
        }
        if (rc == 0) {
            rc = sf_fs_writer_write(w, blk, part);
        }
        free(blk);
    }
    free(ids);
    if (rc != 0) {
        sf_fs_writer_abort(w);
        return rc;
    }
    *out = w;
    return 0;
}

int sf_fs_writer_open_append(struct sf_fs_client *c, const char *path, struct sf_fs_writer **out)
{
    struct sf_fs_inode ino;
    return open_prefix(c, path, 0, true, &ino, out);
}

int sf_fs_writer_open_over(struct sf_fs_client *c, const struct sf_fs_reader *r,
                           struct sf_fs_writer **out)
{
    return sf_fs__writer_open_from(c, r->path, &r->ino, NULL, 0, out);
}

int sf_fs_writer_keep(struct sf_fs_writer *w, const struct sf_fs_reader *r, uint64_t i)
{
    if (w->err != 0) {
        return w->err;
    }
    if (w->cut.fill != 0 || i >= r->nblocks || r->ino.block_size != w->cut.bs ||
        r_block_len(r, i) != w->cut.bs) {
        return sf_fs__err(w->c, -EINVAL, "%s: block %llu cannot be kept here", w->path,
                          (unsigned long long)i);
    }
    if (w_grow(w) != 0) {
        return sf_fs__err(w->c, -ENOMEM, "out of memory");
    }
    w->ids[w->nids++] = r->ids[i];
    w->size += w->cut.bs;
    return 0;
}

/* ------------------------------------------------------------ truncate */

static const uint8_t zeros[65536];

int sf_fs_truncate(struct sf_fs_client *c, const char *path, uint64_t size)
{
    for (int tries = 0;; tries++) {
        /* Keep the whole blocks both versions share; rewrite the partial
         * one; append zeros (identical zero blocks are stored once). */
        struct sf_fs_inode ino;
        struct sf_fs_writer *w;
        int rc = open_prefix(c, path, size, false, &ino, &w);
        if (rc != 0) {
            return rc;
        }
        if (size == ino.size) {
            sf_fs_writer_abort(w);
            return 0;
        }
        for (uint64_t left = size > ino.size ? size - ino.size : 0; rc == 0 && left > 0;) {
            size_t k = left < sizeof(zeros) ? (size_t)left : sizeof(zeros);
            rc = sf_fs_writer_write(w, zeros, k);
            left -= k;
        }
        if (rc != 0) {
            sf_fs_writer_abort(w);
            return rc;
        }
        rc = sf_fs_writer_close(w, NULL);
        if (rc != -ESTALE || tries >= COMMIT_RETRIES) {
            return rc;
        }
        /* Someone committed meanwhile: truncate their version instead. */
    }
}
