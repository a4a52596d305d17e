/* Check suite for the fs client library (fs/sf_fs_client.h): the request
 * table (replies matched by req in any order), the block cutter, path
 * errors, and the library's framing end to end against a small in-process
 * test server over a socketpair. The server is only a test harness (memory
 * blocks, a flat namespace, replies deliberately out of order); the real
 * ops live in sfd and are tested by tests/cluster/fs_client.sh. Fork mode. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "fs/fs_client_int.h"
#include "fs/sf_fs_client.h"
#include "fs/sf_fs_meta.h"
#include "runtime/base/sf_err.h"
#include "runtime/base/sf_wire.h"

static uint64_t rng_state = 0xf5c11e47;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void fill(void *buf, size_t len)
{
    uint8_t *p = buf;
    for (size_t i = 0; i < len; i++) {
        p[i] = (uint8_t)rnd();
    }
}

/* Encode a reply into a decoded message (as the client would receive it).
 * The frame buffer is returned in *keep and must outlive m. */
static void decode_into(struct sf_wire_enc *e, struct sf_wire_msg *m)
{
    ck_assert_int_eq(sf_wire_enc_end(e), 0);
    ck_assert_int_gt(sf_wire_decode(e->buf, e->len, m), 0);
}

/* ------------------------------------------------------------ pure parts */

START_TEST(test_pend_order)
{
    struct fsc_pend p;
    sf_fs__pend_init(&p);
    uint8_t bufs[40][16];
    /* 40 reads in flight, answered in a shuffled order. */
    for (uint64_t r = 0; r < 40; r++) {
        ck_assert_int_eq(sf_fs__pend_add(&p, 100 + r, SF_OP_FS_DATA, bufs[r], 16), (long)r);
    }
    uint64_t order[40];
    for (int i = 0; i < 40; i++) {
        order[i] = (uint64_t)i;
    }
    for (int i = 39; i > 0; i--) {
        int j = (int)(rnd() % (uint64_t)(i + 1));
        uint64_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (int i = 0; i < 40; i++) {
        uint64_t r = order[i];
        uint8_t data[16];
        memset(data, (int)r, sizeof(data));
        struct sf_wire_enc e;
        struct sf_wire_msg m;
        sf_wire_enc_begin(&e, SF_OP_FS_DATA, 1);
        sf_wire_put_u64(&e, 100 + r);
        sf_wire_put_i32(&e, 0);
        sf_wire_put_bytes(&e, data, 1 + r % 16);
        decode_into(&e, &m);
        ck_assert_int_eq(sf_fs__pend_deliver(&p, &m), 1);
        /* A second answer to the same request is a protocol error. */
        ck_assert_int_eq(sf_fs__pend_deliver(&p, &m), SF_ERR_PROTO);
        sf_wire_enc_free(&e);
    }
    for (uint64_t r = 0; r < 40; r++) {
        long i = sf_fs__pend_find(&p, 100 + r);
        ck_assert_int_ge(i, 0);
        ck_assert_int_eq(p.v[i].state, FSC_DONE);
        ck_assert_uint_eq(p.v[i].len, 1 + r % 16);
        ck_assert_uint_eq(bufs[r][0], (uint8_t)r);
    }
    /* Removing keeps the others findable (issue order kept). */
    sf_fs__pend_remove(&p, (size_t)sf_fs__pend_find(&p, 117));
    ck_assert_int_eq(sf_fs__pend_find(&p, 117), -1);
    ck_assert_int_eq(sf_fs__pend_find(&p, 118), 17);
    ck_assert_int_eq(sf_fs__pend_find(&p, 139), 38);
    sf_fs__pend_free(&p);
}
END_TEST

START_TEST(test_pend_bad_replies)
{
    struct fsc_pend p;
    sf_fs__pend_init(&p);
    uint8_t small[4];
    ck_assert_int_ge(sf_fs__pend_add(&p, 7, SF_OP_FS_DATA, small, sizeof(small)), 0);
    ck_assert_int_ge(sf_fs__pend_add(&p, 8, SF_OP_FS_BLOCK_DONE, NULL, 0), 0);
    struct sf_wire_enc e;
    struct sf_wire_msg m;
    /* Unknown req: not for us (late), dropped by the caller. */
    sf_wire_enc_begin(&e, SF_OP_FS_DATA, 1);
    sf_wire_put_u64(&e, 99);
    sf_wire_put_i32(&e, 0);
    sf_wire_put_bytes(&e, "x", 1);
    decode_into(&e, &m);
    ck_assert_int_eq(sf_fs__pend_deliver(&p, &m), 0);
    sf_wire_enc_free(&e);
    /* More data than the destination holds. */
    sf_wire_enc_begin(&e, SF_OP_FS_DATA, 1);
    sf_wire_put_u64(&e, 7);
    sf_wire_put_i32(&e, 0);
    sf_wire_put_bytes(&e, "12345", 5);
    decode_into(&e, &m);
    ck_assert_int_eq(sf_fs__pend_deliver(&p, &m), -EFBIG);
    sf_wire_enc_free(&e);
    /* The wrong reply op for req 8. */
    sf_wire_enc_begin(&e, SF_OP_FS_DATA, 1);
    sf_wire_put_u64(&e, 8);
    sf_wire_put_i32(&e, 0);
    sf_wire_put_bytes(&e, "", 0);
    decode_into(&e, &m);
    ck_assert_int_eq(sf_fs__pend_deliver(&p, &m), SF_ERR_PROTO);
    sf_wire_enc_free(&e);
    /* A request op is never a reply. */
    sf_wire_enc_begin(&e, SF_OP_FS_BLOCK_READ, 1);
    sf_wire_put_u64(&e, 8);
    sf_wire_put_bytes(&e, "", 0);
    decode_into(&e, &m);
    ck_assert_int_eq(sf_fs__pend_deliver(&p, &m), SF_ERR_PROTO);
    sf_wire_enc_free(&e);
    /* A failed block write: status and message survive the receive buffer. */
    sf_wire_enc_begin(&e, SF_OP_FS_BLOCK_DONE, 1);
    sf_wire_put_u64(&e, 8);
    sf_wire_put_i32(&e, -ENOSPC);
    sf_wire_put_bytes(&e, "", 0);
    sf_wire_put_str(&e, "node n3: no space");
    decode_into(&e, &m);
    ck_assert_int_eq(sf_fs__pend_deliver(&p, &m), 1);
    memset(e.buf, 0, e.len); /* the copy must not point here */
    sf_wire_enc_free(&e);
    long i = sf_fs__pend_find(&p, 8);
    ck_assert_int_eq(p.v[i].status, -ENOSPC);
    ck_assert_uint_eq(p.v[i].msg.f[3].len, 17);
    ck_assert_int_eq(memcmp(p.v[i].msg.f[3].p, "node n3: no space", 17), 0);
    sf_fs__pend_free(&p);
}
END_TEST

START_TEST(test_path_norm)
{
    static const char *const cases[][2] = {
        {"", "/"},       {"/", "/"},         {"a", "/a"},         {"a/b/", "/a/b"},
        {"//a//b", "/a/b"}, {"/a/./b", "/a/./b"}, {"../x", "/../x"}, {"///", "/"},
    };
    char out[64];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_int_eq(sf_fs_path_norm(cases[i][0], out, sizeof(out)), 0);
        ck_assert_str_eq(out, cases[i][1]);
    }
    ck_assert_int_eq(sf_fs_path_norm("abcdef", out, 4), -ENAMETOOLONG);
    ck_assert_int_eq(sf_fs_path_norm("abc", out, 5), 0);
    ck_assert_str_eq(out, "/abc");
    /* What normalisation keeps, the path check refuses. */
    ck_assert_int_eq(sf_fs_path_check("/../x", NULL), -EINVAL);
}
END_TEST

START_TEST(test_cut)
{
    /* Random write sizes cut into the same blocks as slicing the stream. */
    size_t bs = 4096;
    size_t total = 20 * bs + 123;
    uint8_t *src = malloc(total), *out = malloc(total + bs);
    fill(src, total);
    struct fsc_cut k = {malloc(bs), bs, 0};
    size_t off = 0, nout = 0;
    while (off < total) {
        size_t n = 1 + rnd() % (3 * bs);
        if (n > total - off) {
            n = total - off;
        }
        const uint8_t *p = src + off;
        size_t left = n;
        while (left > 0) {
            bool full;
            size_t t = sf_fs__cut_take(&k, p, left, &full);
            ck_assert_uint_gt(t, 0);
            p += t;
            left -= t;
            if (full) {
                memcpy(out + nout, k.buf, bs);
                nout += bs;
                sf_fs__cut_reset(&k);
            }
        }
        off += n;
    }
    ck_assert_uint_eq(nout, 20 * bs);
    ck_assert_uint_eq(k.fill, 123);
    memcpy(out + nout, k.buf, k.fill);
    ck_assert_int_eq(memcmp(src, out, total), 0);
    free(k.buf);
    free(src);
    free(out);
}
END_TEST

/* ------------------------------------------------------ the test server */

#define SRV_MAX_BLOCKS 4096
#define SRV_MAX_FILES 64

struct srv_file {
    char path[256];
    uint8_t ino[SF_DHT_VALUE_MAX];
    size_t ino_len;
    uint64_t version;
    bool dir;
};

struct srv {
    int fd;
    pthread_t th;
    /* behaviour */
    bool silent;       /* never answer (timeout test) */
    bool hangup;       /* close on the first request */
    int fail_write_at; /* >0: the Nth block write fails with -ENOSPC */
    int max_batch;     /* replies reversed in batches of up to this many */
    /* state */
    struct sf_fs_block_id ids[SRV_MAX_BLOCKS];
    uint8_t *data[SRV_MAX_BLOCKS];
    size_t len[SRV_MAX_BLOCKS];
    size_t nblocks;
    int nwrites;
    struct srv_file files[SRV_MAX_FILES];
    size_t nfiles;
};

static struct srv_file *srv_find(struct srv *s, const char *path, size_t len)
{
    for (size_t i = 0; i < s->nfiles; i++) {
        if (strlen(s->files[i].path) == len && memcmp(s->files[i].path, path, len) == 0) {
            return &s->files[i];
        }
    }
    return NULL;
}

static void srv_dir_inode(struct srv_file *f, uint64_t version)
{
    struct sf_fs_inode ino;
    memset(&ino, 0, sizeof(ino));
    ino.mode = S_IFDIR | 0755;
    ino.replicas = 2;
    ino.block_size = 4096;
    ino.version = version;
    f->version = version;
    f->dir = true;
    ck_assert_int_eq(sf_fs_inode_encode(&ino, f->ino, sizeof(f->ino), &f->ino_len), 0);
}

/* Append one reply frame to out. */
static void srv_reply(struct sf_wire_enc *e, uint8_t **out, size_t *len)
{
    ck_assert_int_eq(sf_wire_enc_end(e), 0);
    *out = realloc(*out, *len + e->len);
    memcpy(*out + *len, e->buf, e->len);
    *len += e->len;
    sf_wire_enc_free(e);
}

static void srv_ns(struct srv *s, const struct sf_wire_msg *m, struct sf_wire_enc *e)
{
    uint8_t verb = (uint8_t)m->f[1].u;
    const char *path = (const char *)m->f[2].p;
    size_t plen = m->f[2].len;
    struct srv_file *f = srv_find(s, path, plen);
    int status = 0;
    const char *msg = "";
    sf_wire_enc_begin(e, SF_OP_FS_NS_ANS, 0);
    sf_wire_put_u64(e, m->f[0].u);
    if (verb == SF_FS_NS_LOOKUP) {
        status = f == NULL ? -ENOENT : 0;
        msg = f == NULL ? "no such file (test server)" : "";
    } else if (verb == SF_FS_NS_COMMIT) {
        uint64_t expect = m->f[4].u;
        if (f != NULL && f->dir) {
            status = -EISDIR;
        } else if ((f == NULL && expect != 0) || (f != NULL && f->version != expect)) {
            status = f == NULL ? -ESTALE : expect == 0 ? -EEXIST : -ESTALE;
        } else {
            struct sf_fs_inode ino;
            ck_assert_int_eq(sf_fs_inode_decode(m->f[6].p, m->f[6].len, &ino), 0);
            if (f == NULL) {
                ck_assert_uint_lt(s->nfiles, SRV_MAX_FILES);
                f = &s->files[s->nfiles++];
                memcpy(f->path, path, plen);
                f->path[plen] = '\0';
                f->version = 0;
            }
            ino.version = ++f->version;
            ck_assert_int_eq(sf_fs_inode_encode(&ino, f->ino, sizeof(f->ino), &f->ino_len), 0);
        }
    } else if (verb == SF_FS_NS_MKDIR) {
        if (f != NULL) {
            status = -EEXIST;
        } else {
            f = &s->files[s->nfiles++];
            memcpy(f->path, path, plen);
            f->path[plen] = '\0';
            srv_dir_inode(f, 1);
        }
    } else {
        status = -ENOSYS;
        msg = "verb not in the test server";
    }
    sf_wire_put_i32(e, status);
    sf_wire_put_u64(e, status == 0 && f != NULL ? f->version : 0);
    sf_wire_put_bytes(e, f != NULL && status == 0 ? f->ino : NULL,
                      f != NULL && status == 0 ? f->ino_len : 0);
    sf_wire_put_bytes(e, "01234567890123456789", SF_FS_FID_LEN);
    sf_wire_put_str(e, msg);
}

static void srv_readdir(struct srv *s, const struct sf_wire_msg *m, struct sf_wire_enc *e)
{
    /* Flat: the names of "/" in byte order after `after`, two at a time so
     * the client has to page. */
    char after[256];
    memcpy(after, m->f[2].p, m->f[2].len);
    after[m->f[2].len] = '\0';
    uint8_t buf[4096];
    size_t off = 0;
    int n = 0;
    const char *best;
    for (;;) {
        best = NULL;
        struct srv_file *bf = NULL;
        for (size_t i = 0; i < s->nfiles; i++) {
            const char *nm = s->files[i].path + 1;
            if (strcmp(nm, after) > 0 && (best == NULL || strcmp(nm, best) < 0)) {
                best = nm;
                bf = &s->files[i];
            }
        }
        if (best == NULL || n == 2) {
            break;
        }
        struct sf_fs_inode ino;
        ck_assert_int_eq(sf_fs_inode_decode(bf->ino, bf->ino_len, &ino), 0);
        uint8_t fid[SF_FS_FID_LEN] = {0};
        ck_assert_int_eq(sf_fs_meta_dirent_put(buf, sizeof(buf), &off, best, strlen(best), fid,
                                               &ino),
                         0);
        snprintf(after, sizeof(after), "%s", best);
        n++;
    }
    sf_wire_enc_begin(e, SF_OP_FS_DIRENTS, 0);
    sf_wire_put_u64(e, m->f[0].u);
    sf_wire_put_i32(e, 0);
    sf_wire_put_bytes(e, buf, off);
    sf_wire_put_u8(e, best == NULL ? 1 : 0);
    sf_wire_put_str(e, "");
}

static void srv_block(struct srv *s, const struct sf_wire_msg *m, struct sf_wire_enc *e)
{
    if (m->op == SF_OP_FS_BLOCK_WRITE) {
        s->nwrites++;
        struct sf_fs_block_id id;
        sf_fs_block_hash(m->f[2].p, m->f[2].len, &id);
        int status = s->fail_write_at == s->nwrites ? -ENOSPC : 0;
        if (status == 0) {
            ck_assert_uint_lt(s->nblocks, SRV_MAX_BLOCKS);
            s->ids[s->nblocks] = id;
            s->data[s->nblocks] = malloc(m->f[2].len + 1);
            memcpy(s->data[s->nblocks], m->f[2].p, m->f[2].len);
            s->len[s->nblocks++] = m->f[2].len;
        }
        sf_wire_enc_begin(e, SF_OP_FS_BLOCK_DONE, 0);
        sf_wire_put_u64(e, m->f[0].u);
        sf_wire_put_i32(e, status);
        sf_wire_put_bytes(e, id.b, status == 0 ? SF_FS_ID_LEN : 0);
        sf_wire_put_str(e, status == 0 ? "" : "node n2 (test server): no space left");
        return;
    }
    /* FS_BLOCK_READ */
    size_t i;
    for (i = 0; i < s->nblocks; i++) {
        if (m->f[1].len == SF_FS_ID_LEN && memcmp(s->ids[i].b, m->f[1].p, SF_FS_ID_LEN) == 0) {
            break;
        }
    }
    sf_wire_enc_begin(e, SF_OP_FS_DATA, 0);
    sf_wire_put_u64(e, m->f[0].u);
    sf_wire_put_i32(e, i < s->nblocks ? 0 : -ENOENT);
    sf_wire_put_bytes(e, i < s->nblocks ? s->data[i] : NULL, i < s->nblocks ? s->len[i] : 0);
}

static void *srv_main(void *arg)
{
    struct srv *s = arg;
    struct sf_wire_rx rx;
    sf_wire_rx_init(&rx);
    for (;;) {
        long n = sf_wire_rx_fill(&rx, s->fd);
        if (n <= 0) {
            break;
        }
        if (s->hangup) {
            break;
        }
        /* Answer what arrived, each batch in reverse order: the client must
         * match by req, not by order. */
        uint8_t *rep[64];
        size_t replen[64];
        int nrep = 0;
        struct sf_wire_msg m;
        bool bye = false;
        while (sf_wire_rx_next(&rx, &m) == 1) {
            if (m.op == SF_OP_GOODBYE) {
                bye = true;
                break;
            }
            if (s->silent) {
                continue;
            }
            struct sf_wire_enc e;
            switch (m.op) {
            case SF_OP_FS_NS:
                srv_ns(s, &m, &e);
                break;
            case SF_OP_FS_READDIR:
                srv_readdir(s, &m, &e);
                break;
            case SF_OP_FS_BLOCK_WRITE:
            case SF_OP_FS_BLOCK_READ:
                srv_block(s, &m, &e);
                break;
            default:
                ck_abort_msg("test server: unexpected op %u", m.op);
            }
            rep[nrep] = NULL;
            replen[nrep] = 0;
            srv_reply(&e, &rep[nrep], &replen[nrep]);
            nrep++;
            if (nrep == s->max_batch || nrep == 64) {
                for (int k = nrep - 1; k >= 0; k--) {
                    ck_assert_int_eq(sf_wire_write_all(s->fd, rep[k], replen[k]), 0);
                    free(rep[k]);
                }
                nrep = 0;
            }
        }
        for (int k = nrep - 1; k >= 0; k--) {
            ck_assert_int_eq(sf_wire_write_all(s->fd, rep[k], replen[k]), 0);
            free(rep[k]);
        }
        if (bye) {
            break;
        }
    }
    sf_wire_rx_free(&rx);
    close(s->fd);
    return NULL;
}

static struct sf_fs_client *srv_start(struct srv *s, double timeout, size_t bs, size_t window)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    s->fd = sv[1];
    if (s->max_batch == 0) {
        s->max_batch = 5;
    }
    struct srv_file *root = &s->files[s->nfiles++];
    snprintf(root->path, sizeof(root->path), "/");
    srv_dir_inode(root, 1);
    ck_assert_int_eq(pthread_create(&s->th, NULL, srv_main, s), 0);
    struct sf_fs_client_opts o = {.timeout = timeout, .window = window, .block_size = bs};
    struct sf_fs_client *c;
    ck_assert_int_eq(sf_fs_client_attach(sv[0], &o, &c), 0);
    return c;
}

static void srv_stop(struct srv *s, struct sf_fs_client *c)
{
    sf_fs_client_close(c);
    pthread_join(s->th, NULL);
    for (size_t i = 0; i < s->nblocks; i++) {
        free(s->data[i]);
    }
}

static struct srv *srv_new(void)
{
    struct srv *s = calloc(1, sizeof(*s));
    ck_assert_ptr_nonnull(s);
    return s;
}

/* Write size bytes to path in pieces of random sizes, read them back in
 * other random pieces, compare. */
static void roundtrip(struct sf_fs_client *c, const char *path, size_t size)
{
    uint8_t *src = malloc(size + 1), *back = malloc(size + 1);
    fill(src, size);
    struct sf_fs_writer *w;
    ck_assert_int_eq(sf_fs_writer_open(c, path, NULL, &w), 0);
    size_t off = 0;
    while (off < size) {
        size_t n = 1 + rnd() % 10000;
        n = n > size - off ? size - off : n;
        ck_assert_int_eq(sf_fs_writer_write(w, src + off, n), 0);
        off += n;
    }
    ck_assert_uint_eq(sf_fs_writer_size(w), size);
    struct sf_fs_stat st;
    ck_assert_msg(sf_fs_writer_close(w, &st) == 0, "%s", sf_fs_client_errmsg(c));
    ck_assert_uint_eq(st.size, size);
    struct sf_fs_reader *r;
    ck_assert_msg(sf_fs_reader_open(c, path, &r) == 0, "%s", sf_fs_client_errmsg(c));
    ck_assert_uint_eq(sf_fs_reader_stat(r)->size, size);
    off = 0;
    for (;;) {
        size_t n = 1 + rnd() % 9000;
        ssize_t got = sf_fs_reader_read(r, back + off, n);
        ck_assert_msg(got >= 0, "%s", sf_fs_client_errmsg(c));
        if (got == 0) {
            break;
        }
        off += (size_t)got;
    }
    ck_assert_uint_eq(off, size);
    ck_assert_int_eq(memcmp(src, back, size), 0);
    /* Random access. */
    for (int k = 0; k < 20 && size > 0; k++) {
        uint64_t at = rnd() % size;
        uint8_t b[100];
        ssize_t got = sf_fs_reader_pread(r, b, sizeof(b), at);
        size_t want = size - at < sizeof(b) ? size - at : sizeof(b);
        ck_assert_int_eq(got, (ssize_t)want);
        ck_assert_int_eq(memcmp(b, src + at, want), 0);
    }
    sf_fs_reader_close(r);
    free(src);
    free(back);
}

/* Write len bytes as the whole file path. */
static void put_file(struct sf_fs_client *c, const char *path, const void *buf, size_t len)
{
    struct sf_fs_writer *w;
    ck_assert_int_eq(sf_fs_writer_open(c, path, NULL, &w), 0);
    ck_assert_int_eq(sf_fs_writer_write(w, buf, len), 0);
    ck_assert_msg(sf_fs_writer_close(w, NULL) == 0, "%s", sf_fs_client_errmsg(c));
}

/* The file path holds exactly want[0..len). */
static void check_file(struct sf_fs_client *c, const char *path, const void *want, size_t len)
{
    uint8_t *back = malloc(len + 1);
    struct sf_fs_reader *r;
    ck_assert_msg(sf_fs_reader_open(c, path, &r) == 0, "%s", sf_fs_client_errmsg(c));
    ck_assert_int_eq(sf_fs_reader_read(r, back, len + 1), (ssize_t)len);
    ck_assert_int_eq(memcmp(back, want, len), 0);
    sf_fs_reader_close(r);
    free(back);
}

START_TEST(test_roundtrip_sizes)
{
    struct srv *s = srv_new();
    struct sf_fs_client *c = srv_start(s, 30, 4096, 4);
    /* 0 B, 1 B, around one block, 14 blocks (the inode's limit), 15 (one
     * list block), and past one list block (127 ids a 4 KiB list). */
    const size_t sizes[] = {0, 1, 4095, 4096, 4097, 14 * 4096, 14 * 4096 + 1, 130 * 4096 + 5};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        char path[32];
        snprintf(path, sizeof(path), "/f%zu", i);
        roundtrip(c, path, sizes[i]);
    }
    /* Overwrite: the new version replaces the old (last writer wins). */
    roundtrip(c, "/f3", 10000);
    struct sf_fs_stat st;
    ck_assert_int_eq(sf_fs_stat(c, "/f3", &st), 0);
    ck_assert_uint_eq(st.size, 10000);
    ck_assert_uint_eq(st.version, 2);
    srv_stop(s, c);
    free(s);
}
END_TEST

static int count_names(void *arg, const char *name, const struct sf_fs_stat *st)
{
    ck_assert_int_eq(name[0], 'd');
    ck_assert(S_ISDIR(st->mode));
    (*(int *)arg)++;
    return 0;
}

START_TEST(test_readdir_pages)
{
    struct srv *s = srv_new();
    struct sf_fs_client *c = srv_start(s, 30, 4096, 4);
    for (int i = 0; i < 7; i++) {
        char path[32];
        snprintf(path, sizeof(path), "/d%d", i);
        ck_assert_int_eq(sf_fs_mkdir(c, path, 0755), 0);
    }
    ck_assert_int_eq(sf_fs_mkdir(c, "/d3", 0755), -EEXIST);
    int n = 0;
    ck_assert_int_eq(sf_fs_readdir(c, "/", count_names, &n), 0);
    ck_assert_int_eq(n, 7);
    srv_stop(s, c);
    free(s);
}
END_TEST

START_TEST(test_write_error)
{
    /* The 3rd block write fails: the writer reports the daemon's message,
     * commits nothing, and the client stays usable. */
    struct srv *s = srv_new();
    s->fail_write_at = 3;
    struct sf_fs_client *c = srv_start(s, 30, 4096, 2);
    uint8_t buf[4096 * 6];
    fill(buf, sizeof(buf));
    struct sf_fs_writer *w;
    ck_assert_int_eq(sf_fs_writer_open(c, "/x", NULL, &w), 0);
    int rc = sf_fs_writer_write(w, buf, sizeof(buf));
    if (rc == 0) {
        rc = sf_fs_writer_close(w, NULL);
    } else {
        ck_assert_int_eq(sf_fs_writer_write(w, buf, 1), rc); /* sticky */
        ck_assert_int_eq(sf_fs_writer_close(w, NULL), rc);
    }
    ck_assert_int_eq(rc, -ENOSPC);
    ck_assert_ptr_nonnull(strstr(sf_fs_client_errmsg(c), "node n2"));
    ck_assert_ptr_nonnull(strstr(sf_fs_client_errmsg(c), "/x"));
    struct sf_fs_stat st;
    ck_assert_int_eq(sf_fs_stat(c, "/x", &st), -ENOENT);
    roundtrip(c, "/y", 5000);
    srv_stop(s, c);
    free(s);
}
END_TEST

START_TEST(test_bad_paths)
{
    struct srv *s = srv_new();
    struct sf_fs_client *c = srv_start(s, 30, 4096, 2);
    struct sf_fs_stat st;
    struct sf_fs_writer *w;
    ck_assert_int_eq(sf_fs_stat(c, "/a/../b", &st), -EINVAL);
    ck_assert_ptr_nonnull(strstr(sf_fs_client_errmsg(c), "'..'"));
    ck_assert_int_eq(sf_fs_stat(c, "relative", &st), -EINVAL);
    ck_assert_ptr_nonnull(strstr(sf_fs_client_errmsg(c), "absolute"));
    char lng[300] = "/";
    memset(lng + 1, 'a', 280);
    lng[281] = '\0';
    ck_assert_int_eq(sf_fs_writer_open(c, lng, NULL, &w), -ENAMETOOLONG);
    ck_assert_ptr_nonnull(strstr(sf_fs_client_errmsg(c), "over 255 bytes"));
    ck_assert_int_eq(sf_fs_mkdir(c, "/bad\xff\xfe", 0755), -EILSEQ);
    ck_assert_ptr_nonnull(strstr(sf_fs_client_errmsg(c), "UTF-8"));
    /* A missing file / directory: the daemon's answer. */
    ck_assert_int_eq(sf_fs_stat(c, "/nope", &st), -ENOENT);
    ck_assert_int_eq(sf_fs_writer_open(c, "/nodir/f", NULL, &w), -ENOENT);
    ck_assert_ptr_nonnull(strstr(sf_fs_client_errmsg(c), "/nodir"));
    ck_assert_int_eq(sf_fs_writer_open(c, "/", NULL, &w), -EISDIR);
    srv_stop(s, c);
    free(s);
}
END_TEST

START_TEST(test_timeout_and_hangup)
{
    struct srv *s = srv_new();
    s->silent = true;
    struct sf_fs_client *c = srv_start(s, 0.2, 4096, 2);
    struct sf_fs_stat st;
    ck_assert_int_eq(sf_fs_stat(c, "/a", &st), -ETIMEDOUT);
    ck_assert_ptr_nonnull(strstr(sf_fs_client_errmsg(c), "no reply"));
    /* The connection is now unusable: late replies could be misread. */
    ck_assert_int_eq(sf_fs_stat(c, "/a", &st), -ETIMEDOUT);
    srv_stop(s, c);
    free(s);

    s = srv_new();
    s->hangup = true;
    c = srv_start(s, 30, 4096, 2);
    ck_assert_int_eq(sf_fs_stat(c, "/a", &st), -EPIPE);
    ck_assert_ptr_nonnull(strstr(sf_fs_client_errmsg(c), "closed"));
    srv_stop(s, c);
    free(s);
}
END_TEST

START_TEST(test_truncate)
{
    struct srv *s = srv_new();
    struct sf_fs_client *c = srv_start(s, 30, 4096, 3);
    size_t size = 5 * 4096 + 100;
    uint8_t *src = malloc(size);
    fill(src, size);
    put_file(c, "/t", src, size);
    int writes = s->nwrites;
    /* Shrink into the middle of block 2: blocks 0 and 1 are kept, not
     * rewritten; one partial block is written. */
    ck_assert_int_eq(sf_fs_truncate(c, "/t", 2 * 4096 + 10), 0);
    ck_assert_int_eq(s->nwrites - writes, 1);
    check_file(c, "/t", src, 2 * 4096 + 10);
    /* Grow with zeros. */
    ck_assert_int_eq(sf_fs_truncate(c, "/t", 4 * 4096), 0);
    memset(src + 2 * 4096 + 10, 0, 4 * 4096 - (2 * 4096 + 10));
    check_file(c, "/t", src, 4 * 4096);
    ck_assert_int_eq(sf_fs_truncate(c, "/t", 0), 0);
    struct sf_fs_stat st;
    ck_assert_int_eq(sf_fs_stat(c, "/t", &st), 0);
    ck_assert_uint_eq(st.size, 0);
    free(src);
    srv_stop(s, c);
    free(s);
}
END_TEST

START_TEST(test_append)
{
    struct srv *s = srv_new();
    struct sf_fs_client *c = srv_start(s, 30, 4096, 3);
    size_t a = 2 * 4096 + 2048, b = 4096 + 3000;
    uint8_t *src = malloc(a + b);
    fill(src, a + b);
    struct sf_fs_writer *w;
    ck_assert_int_eq(sf_fs_writer_open_append(c, "/ap", &w), -ENOENT);
    put_file(c, "/ap", src, a);
    int writes = s->nwrites;
    ck_assert_int_eq(sf_fs_writer_open_append(c, "/ap", &w), 0);
    ck_assert_uint_eq(sf_fs_writer_size(w), a);
    ck_assert_int_eq(sf_fs_writer_write(w, src + a, b), 0);
    ck_assert_int_eq(sf_fs_writer_close(w, NULL), 0);
    /* The two whole blocks were kept: only the old partial block plus the
     * new bytes were sent (2048 + 7096 bytes: 3 blocks). */
    ck_assert_int_eq(s->nwrites - writes, 3);
    check_file(c, "/ap", src, a + b);
    free(src);
    srv_stop(s, c);
    free(s);
}
END_TEST

START_TEST(test_edit_blocks)
{
    /* Change bytes in block 2 of 5.5 blocks: blocks 0, 1, 3, 4 are kept by
     * id; block 2 and the partial last one are sent. */
    struct srv *s = srv_new();
    struct sf_fs_client *c = srv_start(s, 30, 4096, 3);
    size_t size = 5 * 4096 + 2048;
    uint8_t *src = malloc(size);
    fill(src, size);
    struct sf_fs_writer *w;
    put_file(c, "/e", src, size);
    struct sf_fs_reader *r;
    ck_assert_int_eq(sf_fs_reader_open(c, "/e", &r), 0);
    int writes = s->nwrites;
    memcpy(src + 2 * 4096 + 100, "EDITED", 6);
    ck_assert_int_eq(sf_fs_writer_open_over(c, r, &w), 0);
    ck_assert_int_eq(sf_fs_writer_keep(w, r, 0), 0);
    ck_assert_int_eq(sf_fs_writer_keep(w, r, 1), 0);
    ck_assert_int_eq(sf_fs_writer_write(w, src + 2 * 4096, 100), 0);
    ck_assert_int_eq(sf_fs_writer_keep(w, r, 3), -EINVAL); /* not at a boundary */
    ck_assert_int_eq(sf_fs_writer_write(w, src + 2 * 4096 + 100, 4096 - 100), 0);
    ck_assert_int_eq(sf_fs_writer_keep(w, r, 3), 0);
    ck_assert_int_eq(sf_fs_writer_keep(w, r, 4), 0);
    ck_assert_int_eq(sf_fs_writer_keep(w, r, 5), -EINVAL); /* the partial last block */
    ck_assert_int_eq(sf_fs_writer_write(w, src + 5 * 4096, 2048), 0);
    ck_assert_int_eq(sf_fs_writer_close(w, NULL), 0);
    ck_assert_int_eq(s->nwrites - writes, 2);
    sf_fs_reader_close(r);
    check_file(c, "/e", src, size);
    ck_assert_int_eq(sf_fs_reader_open(c, "/e", &r), 0);
    /* A writer over a version that is no longer current fails at close. */
    ck_assert_int_eq(sf_fs_writer_open_over(c, r, &w), 0);
    struct sf_fs_writer *w2;
    ck_assert_int_eq(sf_fs_writer_open(c, "/e", NULL, &w2), 0);
    ck_assert_int_eq(sf_fs_writer_close(w2, NULL), 0);
    ck_assert_int_eq(sf_fs_writer_keep(w, r, 0), 0);
    ck_assert_int_eq(sf_fs_writer_close(w, NULL), -ESTALE);
    sf_fs_reader_close(r);
    free(src);
    srv_stop(s, c);
    free(s);
}
END_TEST

START_TEST(test_connect_dir)
{
    /* A daemon's state dir: DIR/sfd.sock, or DIR/sfd/sfd.sock under it. */
    char dir[] = "/tmp/check_fs_client.XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    struct sf_fs_client_opts o = {.timeout = 5, .window = 2, .block_size = 4096};
    struct sf_fs_client *c;
    ck_assert_int_eq(sf_fs_client_connect_dir(dir, &o, &c), -ENOENT);
    char sub[48], path[64];
    snprintf(sub, sizeof(sub), "%s/sfd", dir);
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    snprintf(path, sizeof(path), "%s/sfd.sock", sub);
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    ck_assert_int_eq(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(listen(l, 4), 0);
    ck_assert_int_eq(sf_fs_client_connect_dir(dir, &o, &c), 0);
    sf_fs_client_close(c);
    ck_assert_int_eq(setenv("SF_CLUSTER", sub, 1), 0);
    ck_assert_int_eq(sf_fs_client_connect_dir(NULL, &o, &c), 0);
    sf_fs_client_close(c);
    close(l);
    unlink(path);
    rmdir(sub);
    rmdir(dir);
}
END_TEST

static Suite *fs_client_suite(void)
{
    Suite *s = suite_create("fs_client");
    TCase *pure = tcase_create("pure");
    tcase_set_timeout(pure, 30);
    tcase_add_test(pure, test_pend_order);
    tcase_add_test(pure, test_pend_bad_replies);
    tcase_add_test(pure, test_cut);
    tcase_add_test(pure, test_path_norm);
    suite_add_tcase(s, pure);
    TCase *wire = tcase_create("framing");
    tcase_set_timeout(wire, 60);
    tcase_add_test(wire, test_roundtrip_sizes);
    tcase_add_test(wire, test_readdir_pages);
    tcase_add_test(wire, test_write_error);
    tcase_add_test(wire, test_bad_paths);
    tcase_add_test(wire, test_timeout_and_hangup);
    tcase_add_test(wire, test_truncate);
    tcase_add_test(wire, test_append);
    tcase_add_test(wire, test_edit_blocks);
    tcase_add_test(wire, test_connect_dir);
    suite_add_tcase(s, wire);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(fs_client_suite());
    srunner_set_fork_status(sr, CK_FORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
