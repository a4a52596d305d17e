/* Check suite for the metadata core (fs/fs_meta.c) and its codecs, on a
 * simulated network: every node is a core whose messages go through one
 * queue delivered in random (seeded) order, with crashes, restarts from
 * the node's "disk" (its log frames), message-dropping partitions and
 * membership changes. Properties: one winner among concurrent creates and
 * commits, nothing committed lost and nothing deleted resurrected through
 * churn. Fork mode, a timeout on every case. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs/sf_fs_meta.h"

#define NMAX 9
#ifndef CHURN_SEEDS
#define CHURN_SEEDS 30
#endif

static uint64_t rng_state = 0x5eed;
static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* ------------------------------------------------------------ the sim */

struct pkt {
    int from, to;
    enum sf_fs_meta_mtype type;
    uint64_t req;
    struct sf_dht_id key;
    int32_t status;
    uint8_t flags;
    char name[256];
    size_t name_len;
    uint8_t *buf;
    size_t len;
};

struct node {
    struct sf_fs_meta *m;
    struct sf_dht_id id;
    bool up;
    uint8_t *disk; /* log frames */
    size_t disk_len;
    int side;           /* partition side */
    size_t ref;         /* view size kept across a restart (sfd: STATE_DIR/fsmeta/view) */
    uint64_t *done_tok; /* disk writes not yet confirmed to the core, in order */
    size_t n_done;
};

static struct node nodes[NMAX];
static int nn;
static struct pkt *net;
static size_t nnet, capnet;
static uint64_t now_ms;
static bool partitioned;

static int node_of(const struct sf_dht_id *id)
{
    for (int i = 0; i < nn; i++) {
        if (memcmp(nodes[i].id.b, id->b, SF_DHT_ID_LEN) == 0) {
            return i;
        }
    }
    return -1;
}

static void sim_send(void *arg, const struct sf_dht_id *to, const struct sf_fs_meta_msg *m)
{
    int from = (int)(intptr_t)arg;
    int t = node_of(to);
    ck_assert_int_ge(t, 0);
    if (nnet == capnet) {
        capnet = capnet ? capnet * 2 : 256;
        net = realloc(net, capnet * sizeof *net);
    }
    struct pkt *p = &net[nnet++];
    memset(p, 0, sizeof *p);
    p->from = from;
    p->to = t;
    p->type = m->type;
    p->req = m->req;
    p->key = m->key;
    p->status = m->status;
    p->flags = m->flags;
    if (m->name_len > 0) {
        memcpy(p->name, m->name, m->name_len);
    }
    p->name_len = m->name_len;
    ck_assert_int_eq(sf_fs_meta_recs_encode(m->recs, m->n_recs, NULL, 0, &p->len), 0);
    p->buf = malloc(p->len);
    ck_assert_int_eq(sf_fs_meta_recs_encode(m->recs, m->n_recs, p->buf, p->len, &p->len), 0);
}

/* The disk: a frame is on it at once (a crash keeps it), its completion
 * reaches the core later, in order, interleaved at random with messages. */
static void sim_persist(void *arg, const struct sf_dht_id *key, const struct sf_fs_meta_rec *recs,
                        size_t n, uint64_t token)
{
    struct node *nd = &nodes[(int)(intptr_t)arg];
    nd->done_tok = realloc(nd->done_tok, (nd->n_done + 1) * sizeof *nd->done_tok);
    nd->done_tok[nd->n_done++] = token;
    uint8_t *f;
    size_t len;
    ck_assert_int_eq(sf_fs_meta_log_frame(key, recs, n, &f, &len), 0);
    nd->disk = realloc(nd->disk, nd->disk_len + len);
    memcpy(nd->disk + nd->disk_len, f, len);
    nd->disk_len += len;
    free(f);
}

static void sim_random(void *arg, uint8_t *buf, size_t n)
{
    (void)arg;
    for (size_t i = 0; i < n; i++) {
        buf[i] = (uint8_t)rnd();
    }
}

static void node_start(int i)
{
    struct node *nd = &nodes[i];
    struct sf_fs_meta_config cfg = {
        .self = nd->id,
        .replicas = 3,
        .timeout_ms = 3000,
        .ref_members = nd->ref,
        .sync_page = 7, /* small: every sync of a directory of the tests reads pages */
    };
    struct sf_fs_meta_ops ops = {
        .send = sim_send, .persist = sim_persist, .random = sim_random, .arg = (void *)(intptr_t)i};
    ck_assert_int_eq(sf_fs_meta_new(&cfg, &ops, &nd->m), 0);
    /* Reload the disk. */
    size_t off = 0;
    struct sf_dht_id key;
    const uint8_t *list;
    size_t ll;
    int rc;
    while ((rc = sf_fs_meta_log_next(nd->disk, nd->disk_len, &off, &key, &list, &ll)) == 1) {
        size_t n;
        ck_assert_int_eq(sf_fs_meta_recs_count(list, ll, &n), 0);
        struct sf_fs_meta_rec *r = malloc((n + 1) * sizeof *r);
        ck_assert_int_eq(sf_fs_meta_recs_decode(list, ll, r, n, &n), 0);
        ck_assert_int_eq(sf_fs_meta_load(nd->m, &key, r, n), 0);
        free(r);
    }
    ck_assert_int_eq(rc, 0);
    nd->up = true;
}

static void views(void)
{
    struct sf_dht_id ids[NMAX];
    int k = 0;
    for (int i = 0; i < nn; i++) {
        if (nodes[i].up) {
            ids[k++] = nodes[i].id;
        }
    }
    for (int i = 0; i < nn; i++) {
        if (nodes[i].up) {
            ck_assert_int_eq(sf_fs_meta_members(nodes[i].m, ids, (size_t)k), 0);
        }
    }
}

static void sim_init(int n, uint64_t seed)
{
    rng_state = seed;
    nn = n;
    nnet = 0;
    now_ms = 1000;
    partitioned = false;
    for (int i = 0; i < n; i++) {
        memset(&nodes[i], 0, sizeof nodes[i]);
        sim_random(NULL, nodes[i].id.b, SF_DHT_ID_LEN);
        node_start(i);
    }
    views();
}

static void crash(int i)
{
    /* Its connections die with it: nothing it sent or was sent arrives. */
    for (size_t k = 0; k < nnet;) {
        if (net[k].from == i || net[k].to == i) {
            free(net[k].buf);
            net[k] = net[--nnet];
        } else {
            k++;
        }
    }
    sf_fs_meta_free(nodes[i].m);
    nodes[i].m = NULL;
    free(nodes[i].done_tok);
    nodes[i].done_tok = NULL;
    nodes[i].n_done = 0;
    nodes[i].up = false;
}

static bool deliverable(const struct pkt *p)
{
    return nodes[p->to].up && nodes[p->from].up &&
           (!partitioned || nodes[p->to].side == nodes[p->from].side);
}

/* Deliver one random packet; false if none is queued. */
static bool step(void)
{
    for (int i = 0; i < nn; i++) {
        if (nodes[i].up) {
            sf_fs_meta_run(nodes[i].m);
        }
    }
    size_t disks = 0;
    for (int i = 0; i < nn; i++) {
        disks += nodes[i].up && nodes[i].n_done > 0;
    }
    if (nnet == 0 && disks == 0) {
        return false;
    }
    if (disks > 0 && (nnet == 0 || rnd() % 3 == 0)) {
        /* a disk confirms its oldest write */
        size_t pick = (size_t)(rnd() % disks);
        for (int i = 0; i < nn; i++) {
            if (nodes[i].up && nodes[i].n_done > 0 && pick-- == 0) {
                uint64_t tok = nodes[i].done_tok[0];
                memmove(nodes[i].done_tok, nodes[i].done_tok + 1,
                        --nodes[i].n_done * sizeof *nodes[i].done_tok);
                sf_fs_meta_persisted(nodes[i].m, tok, 0);
                break;
            }
        }
        return true;
    }
    size_t k = (size_t)(rnd() % nnet);
    struct pkt p = net[k];
    net[k] = net[--nnet];
    if (deliverable(&p)) {
        size_t n = 0;
        ck_assert_int_eq(sf_fs_meta_recs_count(p.buf, p.len, &n), 0);
        struct sf_fs_meta_rec *r = malloc((n + 1) * sizeof *r);
        ck_assert_int_eq(sf_fs_meta_recs_decode(p.buf, p.len, r, n, &n), 0);
        struct sf_fs_meta_msg m = {.type = p.type,
                                   .req = p.req,
                                   .key = p.key,
                                   .status = p.status,
                                   .flags = p.flags,
                                   .name = p.name,
                                   .name_len = p.name_len,
                                   .recs = r,
                                   .n_recs = n};
        sf_fs_meta_input(nodes[p.to].m, &nodes[p.from].id, &m);
        free(r);
    }
    free(p.buf);
    return true;
}

/* Run until every counter reaches zero (ops done); time advances only when
 * nothing is in flight, so timeouts fire only for lost messages. */
static int pending;
static void run_until_done(void)
{
    for (int guard = 0; pending > 0; guard++) {
        ck_assert_int_lt(guard, 2000000);
        if (!step()) {
            now_ms += 1000;
            for (int i = 0; i < nn; i++) {
                if (nodes[i].up) {
                    sf_fs_meta_tick(nodes[i].m, now_ms);
                }
            }
        }
    }
    while (step()) {
    }
}

struct res {
    bool done;
    struct sf_fs_meta_result r;
    uint8_t ent[1 << 16];
    size_t ent_len;
};

static void on_done(void *arg, const struct sf_fs_meta_result *r)
{
    struct res *x = arg;
    ck_assert(!x->done);
    x->done = true;
    x->r = *r;
    x->r.entries = NULL;
    if (r->entries_len > 0 && r->entries_len <= sizeof x->ent) {
        memcpy(x->ent, r->entries, r->entries_len);
        x->ent_len = r->entries_len;
    }
    pending--;
}

static void start(int node, struct res *x, enum sf_fs_ns_verb verb, const char *path,
                  const char *path2, uint64_t expect, const struct sf_fs_inode *ino)
{
    memset(x, 0, sizeof *x);
    struct sf_fs_meta_nsreq rq = {.verb = verb,
                                  .path = path,
                                  .path2 = path2,
                                  .expect = expect,
                                  .mode = 0644,
                                  .inode = ino,
                                  .uid = 1000,
                                  .gid = 1000,
                                  .now_ns = 1};
    pending++;
    ck_assert_int_eq(sf_fs_meta_ns(nodes[node].m, &rq, on_done, x), 0);
}

static struct res R;
static bool trace;
static int ns(int node, enum sf_fs_ns_verb verb, const char *path, const char *path2)
{
    start(node, &R, verb, path, path2, 0, NULL);
    run_until_done();
    if (trace) {
        fprintf(stderr, "  node %d verb %d %s -> %d v%llu %s\n", node, verb, path, R.r.status,
                (unsigned long long)R.r.version, R.r.message);
    }
    return R.r.status;
}

/* Names listed in a directory, joined by ',' (all pages). */
static char listing[8192];
static int ls(int node, const char *path)
{
    listing[0] = '\0';
    char after[256] = "";
    for (;;) {
        memset(&R, 0, sizeof R);
        pending++;
        ck_assert_int_eq(sf_fs_meta_readdir(nodes[node].m, path, after, 3, on_done, &R), 0);
        run_until_done();
        if (R.r.status != 0) {
            return R.r.status;
        }
        size_t off = 0;
        struct sf_fs_meta_dirent d;
        int rc;
        while ((rc = sf_fs_meta_dirent_next(R.ent, R.ent_len, &off, &d)) == 1) {
            if (listing[0] != '\0') {
                strcat(listing, ",");
            }
            strcat(listing, d.name);
            strcpy(after, d.name);
        }
        ck_assert_int_eq(rc, 0);
        if (R.r.done) {
            return 0;
        }
    }
}

static struct sf_fs_inode file_inode(uint64_t size)
{
    struct sf_fs_inode ino = {
        .mode = S_IFREG | 0644, .size = size, .replicas = 2, .block_size = 4096};
    uint64_t nb;
    ck_assert_int_eq(sf_fs_inode_shape(size, 4096, &nb, &ino.depth, &ino.n_refs), 0);
    for (int i = 0; i < ino.n_refs; i++) {
        sim_random(NULL, ino.refs[i].b, SF_FS_ID_LEN);
    }
    return ino;
}

static void sim_free(void)
{
    for (int i = 0; i < nn; i++) {
        if (nodes[i].up) {
            crash(i);
        }
        free(nodes[i].disk);
    }
    for (size_t i = 0; i < nnet; i++) {
        free(net[i].buf);
    }
    nnet = 0;
}

/* ------------------------------------------------------------- codecs */

START_TEST(test_codec_roundtrip)
{
    struct sf_fs_meta_rec in[3] = {
        {.name = ".", .name_len = 1, .version = 1},
        {.name = "a", .name_len = 1, .version = 7, .flags = SF_FS_META_RF_DELETED},
        {.name = "bé",
         .name_len = 3,
         .version = 9,
         .cond = 1,
         .action = 1,
         .value = (const uint8_t *)"xyz",
         .value_len = 3},
    };
    uint8_t buf[256];
    size_t len, n;
    ck_assert_int_eq(sf_fs_meta_recs_encode(in, 3, buf, sizeof buf, &len), 0);
    struct sf_fs_meta_rec out[3];
    ck_assert_int_eq(sf_fs_meta_recs_decode(buf, len, out, 3, &n), 0);
    ck_assert_uint_eq(n, 3);
    ck_assert_uint_eq(out[2].version, 9);
    ck_assert_int_eq(memcmp(out[2].value, "xyz", 3), 0);
    ck_assert_int_eq(sf_fs_meta_recs_decode(buf, len, out, 2, &n), -ENOSPC);
    ck_assert_int_eq(sf_fs_meta_recs_decode(buf, len - 1, out, 3, &n), SF_FS_ECORRUPT);
    /* bad names, flags, deleted with a value */
    struct sf_fs_meta_rec bad[] = {
        {.name = "..", .name_len = 2},
        {.name = "a/b", .name_len = 3},
        {.name = "\xff", .name_len = 1},
        {.name = "a", .name_len = 1, .flags = 2},
        {.name = "a", .name_len = 1, .flags = 1, .value = (const uint8_t *)"x", .value_len = 1},
        {.name = "a", .name_len = 1, .cond = 5},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(sf_fs_meta_recs_encode(&bad[i], 1, buf, sizeof buf, &len), -EINVAL);
    }
    /* entry and dirent list */
    struct sf_fs_meta_entry e = {.inode = file_inode(5000)}, e2;
    memset(e.fid, 7, sizeof e.fid);
    uint8_t v[SF_FS_META_VALUE_MAX];
    ck_assert_int_eq(sf_fs_meta_entry_encode(&e, v, sizeof v, &len), 0);
    ck_assert_int_eq(sf_fs_meta_entry_decode(v, len, &e2), 0);
    ck_assert_uint_eq(e2.inode.size, 5000);
    ck_assert_int_eq(sf_fs_meta_entry_decode(v, len - 1, &e2), SF_FS_ECORRUPT);
    size_t off = 0;
    uint8_t dl[2048];
    ck_assert_int_eq(sf_fs_meta_dirent_put(dl, sizeof dl, &off, "f1", 2, e.fid, &e.inode), 0);
    ck_assert_int_eq(sf_fs_meta_dirent_put(dl, sizeof dl, &off, "..", 2, e.fid, &e.inode), -EINVAL);
    size_t o2 = 0;
    struct sf_fs_meta_dirent d;
    ck_assert_int_eq(sf_fs_meta_dirent_next(dl, off, &o2, &d), 1);
    ck_assert_str_eq(d.name, "f1");
    ck_assert_int_eq(sf_fs_meta_dirent_next(dl, off, &o2, &d), 0);
    /* log frames: a torn tail ends the log, a flipped byte is corrupt */
    uint8_t *f;
    size_t fl;
    struct sf_dht_id k = {{1}}, k2;
    ck_assert_int_eq(sf_fs_meta_log_frame(&k, in, 3, &f, &fl), 0);
    const uint8_t *list;
    size_t ll;
    off = 0;
    ck_assert_int_eq(sf_fs_meta_log_next(f, fl, &off, &k2, &list, &ll), 1);
    ck_assert_uint_eq(off, fl);
    off = 0;
    ck_assert_int_eq(sf_fs_meta_log_next(f, fl - 1, &off, &k2, &list, &ll), 0);
    f[fl - 1] ^= 1;
    off = 0;
    ck_assert_int_eq(sf_fs_meta_log_next(f, fl, &off, &k2, &list, &ll), SF_FS_ECORRUPT);
    free(f);
}
END_TEST

/* ---------------------------------------------------------- namespace */

START_TEST(test_ns_basic)
{
    sim_init(5, 11);
    ck_assert_int_eq(ns(0, SF_FS_NS_LOOKUP, "/", NULL), 0);
    ck_assert_int_eq(ns(0, SF_FS_NS_MKDIR, "/a", NULL), 0);
    ck_assert_int_eq(ns(1, SF_FS_NS_MKDIR, "/a", NULL), -EEXIST);
    ck_assert_int_eq(ns(1, SF_FS_NS_MKDIR, "/a/b", NULL), 0);
    ck_assert_int_eq(ns(2, SF_FS_NS_CREATE, "/a/b/f", NULL), 0);
    ck_assert_int_eq(ns(3, SF_FS_NS_CREATE, "/a/b/f", NULL), -EEXIST);
    ck_assert_int_eq(ns(3, SF_FS_NS_CREATE, "/nope/f", NULL), -ENOENT);
    ck_assert_int_eq(ns(3, SF_FS_NS_CREATE, "/a/b/f/g", NULL), -ENOTDIR);
    ck_assert_int_eq(ns(4, SF_FS_NS_LOOKUP, "/a/b/f", NULL), 0);
    ck_assert(R.r.has_inode);
    ck_assert_uint_eq(R.r.inode.mode, S_IFREG | 0644);
    ck_assert_uint_eq(R.r.inode.uid, 1000);
    /* commit a new inode with the version read */
    uint64_t v = R.r.version;
    struct sf_fs_inode ino = file_inode(10000);
    struct res c;
    start(1, &c, SF_FS_NS_COMMIT, "/a/b/f", NULL, v, &ino);
    run_until_done();
    ck_assert_int_eq(c.r.status, 0);
    ck_assert_uint_eq(c.r.version, v + 1);
    ck_assert_uint_eq(c.r.inode.version, v + 1);
    start(2, &c, SF_FS_NS_COMMIT, "/a/b/f", NULL, v, &ino);
    run_until_done();
    ck_assert_int_eq(c.r.status, -ESTALE);
    ck_assert_int_eq(ns(0, SF_FS_NS_LOOKUP, "/a/b/f", NULL), 0);
    ck_assert_uint_eq(R.r.inode.size, 10000);
    /* commit with expect 0 creates (put) */
    start(3, &c, SF_FS_NS_COMMIT, "/a/put", NULL, 0, &ino);
    run_until_done();
    ck_assert_int_eq(c.r.status, 0);
    start(3, &c, SF_FS_NS_COMMIT, "/a/put", NULL, 0, &ino);
    run_until_done();
    ck_assert_int_eq(c.r.status, -EEXIST);
    /* listings, paginated by 3 */
    for (int i = 0; i < 7; i++) {
        char p[32];
        snprintf(p, sizeof p, "/a/b/x%d", i);
        ck_assert_int_eq(ns(i % 5, SF_FS_NS_CREATE, p, NULL), 0);
    }
    ck_assert_int_eq(ls(4, "/a/b"), 0);
    ck_assert_str_eq(listing, "f,x0,x1,x2,x3,x4,x5,x6");
    ck_assert_int_eq(ls(0, "/"), 0);
    ck_assert_str_eq(listing, "a");
    ck_assert_int_eq(ls(0, "/a/b/f"), -ENOTDIR);
    /* rename in one directory, across directories, over a file */
    ck_assert_int_eq(ns(0, SF_FS_NS_RENAME, "/a/b/x0", "/a/b/y0"), 0);
    ck_assert_int_eq(ns(1, SF_FS_NS_RENAME, "/a/b/x1", "/a/z1"), 0);
    ck_assert_int_eq(ns(2, SF_FS_NS_RENAME, "/a/b/x2", "/a/z1"), 0);
    ck_assert_int_eq(ns(2, SF_FS_NS_RENAME, "/a/b/x3", "/a/b"), -EEXIST);
    ck_assert_int_eq(ns(2, SF_FS_NS_RENAME, "/a", "/a/b/q"), -EINVAL);
    ck_assert_int_eq(ns(2, SF_FS_NS_RENAME, "/a/b/gone", "/a/q"), -ENOENT);
    ck_assert_int_eq(ls(3, "/a/b"), 0);
    ck_assert_str_eq(listing, "f,x3,x4,x5,x6,y0");
    ck_assert_int_eq(ls(3, "/a"), 0);
    ck_assert_str_eq(listing, "b,put,z1");
    /* directory rename keeps its contents */
    ck_assert_int_eq(ns(4, SF_FS_NS_RENAME, "/a/b", "/c"), 0);
    ck_assert_int_eq(ls(3, "/c"), 0);
    ck_assert_str_eq(listing, "f,x3,x4,x5,x6,y0");
    /* unlink, rmdir */
    ck_assert_int_eq(ns(0, SF_FS_NS_RMDIR, "/c", NULL), -ENOTEMPTY);
    ck_assert_int_eq(ns(0, SF_FS_NS_UNLINK, "/c", NULL), -EISDIR);
    ck_assert_int_eq(ns(0, SF_FS_NS_RMDIR, "/c/f", NULL), -ENOTDIR);
    const char *names[] = {"f", "x3", "x4", "x5", "x6", "y0"};
    for (int i = 0; i < 6; i++) {
        char p[32];
        snprintf(p, sizeof p, "/c/%s", names[i]);
        ck_assert_int_eq(ns(i % 5, SF_FS_NS_UNLINK, p, NULL), 0);
        ck_assert_int_eq(ns(i % 5, SF_FS_NS_UNLINK, p, NULL), -ENOENT);
    }
    ck_assert_int_eq(ns(1, SF_FS_NS_RMDIR, "/c", NULL), 0);
    ck_assert_int_eq(ns(1, SF_FS_NS_LOOKUP, "/c", NULL), -ENOENT);
    ck_assert_int_eq(ns(1, SF_FS_NS_RMDIR, "/", NULL), -EBUSY);
    /* a name re-created after deletion */
    ck_assert_int_eq(ns(2, SF_FS_NS_MKDIR, "/c", NULL), 0);
    ck_assert_int_eq(ls(3, "/c"), 0);
    ck_assert_str_eq(listing, "");
    /* bad paths */
    ck_assert_int_eq(ns(0, SF_FS_NS_CREATE, "/a/../etc", NULL), -EINVAL);
    ck_assert_int_eq(ns(0, SF_FS_NS_CREATE, "a", NULL), -EINVAL);
    ck_assert_int_eq(ns(0, SF_FS_NS_CREATE, "/a/\xc0\xaf", NULL), -EILSEQ);
    char longp[300] = "/";
    memset(longp + 1, 'x', 256);
    ck_assert_int_eq(ns(0, SF_FS_NS_CREATE, longp, NULL), -ENAMETOOLONG);
    ck_assert(strstr(R.r.message, "name too long") != NULL);
    sim_free();
}
END_TEST

/* Concurrent creates of one name from every node: exactly one wins. */
START_TEST(test_concurrent_create)
{
    for (uint64_t seed = 1; seed <= 30; seed++) {
        sim_init(6, seed * 7919);
        ck_assert_int_eq(ns(0, SF_FS_NS_MKDIR, "/d", NULL), 0);
        struct res rs[6];
        for (int i = 0; i < 6; i++) {
            start(i, &rs[i], (seed & 1) ? SF_FS_NS_CREATE : SF_FS_NS_MKDIR, "/d/x", NULL, 0, NULL);
        }
        run_until_done();
        int won = 0;
        for (int i = 0; i < 6; i++) {
            ck_assert_msg(rs[i].r.status == 0 || rs[i].r.status == -EEXIST, "status %d",
                          rs[i].r.status);
            won += rs[i].r.status == 0;
        }
        ck_assert_int_eq(won, 1);
        ck_assert_int_eq(ls(3, "/d"), 0);
        ck_assert_str_eq(listing, "x");
        sim_free();
    }
}
END_TEST

/* Concurrent commits on one version: one wins, the others see -ESTALE and
 * the winner's inode is what everyone reads. */
START_TEST(test_concurrent_commit)
{
    for (uint64_t seed = 1; seed <= 30; seed++) {
        sim_init(5, seed * 104729);
        ck_assert_int_eq(ns(0, SF_FS_NS_CREATE, "/f", NULL), 0);
        uint64_t v = R.r.version;
        struct sf_fs_inode inos[5];
        struct res rs[5];
        for (int i = 0; i < 5; i++) {
            inos[i] = file_inode(100 + (uint64_t)i);
            start(i, &rs[i], SF_FS_NS_COMMIT, "/f", NULL, v, &inos[i]);
        }
        run_until_done();
        int won = -1;
        for (int i = 0; i < 5; i++) {
            ck_assert_msg(rs[i].r.status == 0 || rs[i].r.status == -ESTALE, "status %d",
                          rs[i].r.status);
            if (rs[i].r.status == 0) {
                ck_assert_int_eq(won, -1);
                won = i;
            }
        }
        ck_assert_int_ge(won, 0);
        for (int i = 0; i < 5; i++) {
            ck_assert_int_eq(ns(i, SF_FS_NS_LOOKUP, "/f", NULL), 0);
            ck_assert_uint_eq(R.r.inode.size, 100 + (uint64_t)won);
            ck_assert_uint_eq(R.r.version, v + 1);
        }
        sim_free();
    }
}
END_TEST

/* Rename and unlink racing on one name: never both, never neither. */
START_TEST(test_rename_vs_unlink)
{
    for (uint64_t seed = 1; seed <= 20; seed++) {
        sim_init(4, seed * 31);
        ck_assert_int_eq(ns(0, SF_FS_NS_MKDIR, "/p", NULL), 0);
        ck_assert_int_eq(ns(0, SF_FS_NS_MKDIR, "/q", NULL), 0);
        ck_assert_int_eq(ns(0, SF_FS_NS_CREATE, "/p/f", NULL), 0);
        struct res a, b;
        start(1, &a, SF_FS_NS_RENAME, "/p/f", (seed & 1) ? "/q/g" : "/p/g", 0, NULL);
        start(2, &b, SF_FS_NS_UNLINK, "/p/f", NULL, 0, NULL);
        run_until_done();
        ck_assert_int_eq(ls(3, "/p"), 0);
        char pl[256];
        strcpy(pl, listing);
        ck_assert_int_eq(ls(3, "/q"), 0);
        if (a.r.status == 0) {
            ck_assert_int_eq(b.r.status, -ENOENT);
            ck_assert_str_eq((seed & 1) ? listing : pl, "g");
        } else {
            ck_assert_int_eq(b.r.status, 0);
            ck_assert_str_eq(pl, "");
            ck_assert_str_eq(listing, "");
        }
        sim_free();
    }
}
END_TEST

/* Churn: nodes crash, restart from disk (stale), and join; a partition
 * drops messages. The model: every acknowledged create / commit / unlink;
 * names whose last op had an unknown outcome are not checked. */
START_TEST(test_churn)
{
    trace = getenv("FSM_TRACE") != NULL;
    for (uint64_t seed = 1; seed <= CHURN_SEEDS; seed++) {
        if (trace) {
            fprintf(stderr, "seed %llu\n", (unsigned long long)seed);
        }
        sim_init(7, seed * 65537);
        enum { NF = 24 };
        int state[NF]; /* 0 absent, 1 present, -1 unknown */
        uint64_t size[NF];
        for (int i = 0; i < NF; i++) {
            state[i] = 0;
            size[i] = 0;
        }
        ck_assert_int_eq(ns(0, SF_FS_NS_MKDIR, "/w", NULL), 0);
        int down = -1;
        for (int round = 0; round < 60; round++) {
            /* a few operations from live nodes */
            for (int k = 0; k < 4; k++) {
                int f = (int)(rnd() % NF), nd;
                do {
                    nd = (int)(rnd() % (uint64_t)nn);
                } while (!nodes[nd].up);
                char p[32];
                snprintf(p, sizeof p, "/w/f%d", f);
                int what = (int)(rnd() % 3);
                if (what == 0) {
                    int rc = ns(nd, SF_FS_NS_CREATE, p, NULL);
                    if (rc == 0) {
                        state[f] = 1, size[f] = 0;
                    } else if (rc == -EEXIST) {
                        ck_assert_int_ne(state[f], 0);
                    } else {
                        state[f] = -1;
                    }
                } else if (what == 1) {
                    int rc = ns(nd, SF_FS_NS_UNLINK, p, NULL);
                    if (rc == 0) {
                        ck_assert_int_ne(state[f], 0);
                        state[f] = 0;
                    } else if (rc == -ENOENT) {
                        /* An unknown outcome stays unknown: a write whose
                         * primary was cut off may still surface later. */
                        ck_assert_int_ne(state[f], 1);
                    } else {
                        state[f] = -1;
                    }
                } else {
                    int rc = ns(nd, SF_FS_NS_LOOKUP, p, NULL);
                    if (rc == 0) {
                        ck_assert_int_ne(state[f], 0);
                        struct sf_fs_inode ino = file_inode(rnd() % 100000);
                        struct res c;
                        start(nd, &c, SF_FS_NS_COMMIT, p, NULL, R.r.version, &ino);
                        run_until_done();
                        if (trace) {
                            fprintf(stderr, "  node %d commit %s -> %d %s\n", nd, p, c.r.status,
                                    c.r.message);
                        }
                        if (c.r.status == 0) {
                            state[f] = 1, size[f] = ino.size;
                        } else if (c.r.status != -ESTALE) {
                            state[f] = -1;
                        }
                    } else if (rc == -ENOENT) {
                        ck_assert_int_ne(state[f], 1);
                    }
                }
            }
            /* one membership event: crash one node (never a second before
             * the first is back), restart it from its disk, or cut it off
             * for a while without telling anyone */
            int ev = (int)(rnd() % 4);
            if (trace) {
                fprintf(stderr, "round %d event %d down %d partitioned %d\n", round, ev, down,
                        partitioned);
            }
            if (ev == 0 && down < 0) {
                down = (int)(rnd() % (uint64_t)nn);
                crash(down);
                views();
            } else if (ev == 1 && down >= 0) {
                node_start(down);
                down = -1;
                views();
            } else if (ev == 2 && !partitioned) {
                int cut = (int)(rnd() % (uint64_t)nn);
                for (int i = 0; i < nn; i++) {
                    nodes[i].side = i == cut;
                }
                partitioned = true;
            } else if (ev == 3) {
                partitioned = false;
            }
            /* a full check every few rounds, from a random live node */
            if (round % 5 == 4) {
                bool was = partitioned;
                partitioned = false;
                int nd;
                do {
                    nd = (int)(rnd() % (uint64_t)nn);
                } while (!nodes[nd].up);
                for (int f = 0; f < NF; f++) {
                    char p[32];
                    snprintf(p, sizeof p, "/w/f%d", f);
                    int rc = ns(nd, SF_FS_NS_LOOKUP, p, NULL);
                    if (state[f] == 1) {
                        ck_assert_msg(rc == 0, "seed %llu round %d: f%d lost (%d)",
                                      (unsigned long long)seed, round, f, rc);
                        ck_assert_uint_eq(R.r.inode.size, size[f]);
                    } else if (state[f] == 0) {
                        ck_assert_msg(rc == -ENOENT, "seed %llu round %d: f%d resurrected",
                                      (unsigned long long)seed, round, f);
                    }
                }
                partitioned = was;
            }
        }
        sim_free();
    }
}
END_TEST

/* A node that was down while names were deleted and rewritten comes back
 * with its old records: they lose to the newer versions everywhere. */
START_TEST(test_stale_rejoin)
{
    sim_init(3, 99);
    ck_assert_int_eq(ns(0, SF_FS_NS_CREATE, "/old", NULL), 0);
    ck_assert_int_eq(ns(0, SF_FS_NS_CREATE, "/kept", NULL), 0);
    crash(2);
    views();
    ck_assert_int_eq(ns(0, SF_FS_NS_UNLINK, "/old", NULL), 0);
    ck_assert_int_eq(ns(1, SF_FS_NS_LOOKUP, "/kept", NULL), 0);
    struct sf_fs_inode ino = file_inode(777);
    struct res c;
    start(1, &c, SF_FS_NS_COMMIT, "/kept", NULL, R.r.version, &ino);
    run_until_done();
    ck_assert_int_eq(c.r.status, 0);
    /* the two survivors go, the stale one comes back alone, then they return */
    node_start(2);
    crash(0);
    crash(1);
    views();
    ck_assert_int_eq(ns(2, SF_FS_NS_LOOKUP, "/old", NULL), 0); /* it only knows the old state */
    node_start(0);
    node_start(1);
    views();
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(ns(i, SF_FS_NS_LOOKUP, "/old", NULL), -ENOENT);
        ck_assert_int_eq(ns(i, SF_FS_NS_LOOKUP, "/kept", NULL), 0);
        ck_assert_uint_eq(R.r.inode.size, 777);
    }
    ck_assert_int_eq(ls(2, "/"), 0);
    ck_assert_str_eq(listing, "kept");
    sim_free();
}
END_TEST

/* A write cut off from its holders fails cleanly and changes nothing the
 * majority sees once the cut heals. */
START_TEST(test_partition_minority)
{
    sim_init(3, 5);
    ck_assert_int_eq(ns(0, SF_FS_NS_CREATE, "/f", NULL), 0);
    uint64_t v = R.r.version;
    for (int i = 0; i < 3; i++) {
        nodes[i].side = 0;
    }
    /* cut every node off from every other */
    for (int i = 0; i < 3; i++) {
        nodes[i].side = i;
    }
    partitioned = true;
    struct sf_fs_inode ino = file_inode(5);
    struct res c;
    int agree = 0;
    for (int i = 0; i < 3; i++) {
        start(i, &c, SF_FS_NS_COMMIT, "/f", NULL, v, &ino);
        run_until_done();
        ck_assert_int_ne(c.r.status, 0);
        agree++;
    }
    partitioned = false;
    ck_assert_int_eq(ns(1, SF_FS_NS_LOOKUP, "/f", NULL), 0);
    ck_assert_int_ge(R.r.version, v);
    sim_free();
}
END_TEST

/* The live-file walk for the block GC. */
START_TEST(test_walk_files)
{
    sim_init(1, 3);
    ck_assert_int_eq(ns(0, SF_FS_NS_MKDIR, "/d", NULL), 0);
    struct sf_fs_inode ino = file_inode(3 * 4096);
    struct res c;
    start(0, &c, SF_FS_NS_COMMIT, "/d/f", NULL, 0, &ino);
    run_until_done();
    ck_assert_int_eq(c.r.status, 0);
    ck_assert_int_eq(ns(0, SF_FS_NS_CREATE, "/g", NULL), 0);
    ck_assert_int_eq(ns(0, SF_FS_NS_UNLINK, "/g", NULL), 0);
    struct count {
        int files, refs;
    } cnt = {0, 0};
    int cb(void *arg, const uint8_t *fid, const struct sf_fs_inode *i);
    ck_assert_int_eq(sf_fs_meta_walk_files(nodes[0].m, cb, &cnt), 0);
    ck_assert_int_eq(cnt.files, 1);
    ck_assert_int_eq(cnt.refs, 3);
    struct sf_fs_meta_stats st;
    sf_fs_meta_stats(nodes[0].m, &st);
    ck_assert_uint_ge(st.tombstones, 1);
    sim_free();
}
END_TEST

/* The cluster-wide live set: every file's blocks, from any node; an
 * unreachable member makes it fail instead of coming back short. */
struct coll {
    bool done;
    int status;
    size_t n;
    uint64_t refs;
};
static void coll_cb(void *arg, int status, const struct sf_fs_inode *inodes, size_t n)
{
    struct coll *c = arg;
    c->done = true;
    c->status = status;
    c->n = n;
    for (size_t i = 0; i < n; i++) {
        c->refs += inodes[i].n_refs;
    }
    pending--;
}

START_TEST(test_collect_files)
{
    sim_init(5, 77);
    struct res c;
    for (int i = 0; i < 10; i++) {
        char p[32];
        snprintf(p, sizeof p, "/f%d", i);
        struct sf_fs_inode ino = file_inode(2 * 4096);
        start(i % 5, &c, SF_FS_NS_COMMIT, p, NULL, 0, &ino);
        run_until_done();
        ck_assert_int_eq(c.r.status, 0);
    }
    ck_assert_int_eq(ns(0, SF_FS_NS_MKDIR, "/dir", NULL), 0);
    struct coll co = {0};
    pending++;
    ck_assert_int_eq(sf_fs_meta_collect_files(nodes[2].m, coll_cb, &co), 0);
    run_until_done();
    ck_assert(co.done);
    ck_assert_int_eq(co.status, 0);
    ck_assert_uint_eq(co.n, 30); /* 10 files on 3 holders each */
    ck_assert_uint_eq(co.refs, 60);
    crash(4);
    views();
    memset(&co, 0, sizeof co);
    pending++;
    ck_assert_int_eq(sf_fs_meta_collect_files(nodes[1].m, coll_cb, &co), 0);
    run_until_done();
    ck_assert_int_eq(co.status, 0);
    ck_assert_uint_ge(co.n, 10);
    for (int i = 0; i < nn; i++) {
        nodes[i].side = i == 3;
    }
    partitioned = true;
    memset(&co, 0, sizeof co);
    pending++;
    ck_assert_int_eq(sf_fs_meta_collect_files(nodes[1].m, coll_cb, &co), 0);
    run_until_done();
    ck_assert_int_ne(co.status, 0);
    sim_free();
}
END_TEST

int cb(void *arg, const uint8_t *fid, const struct sf_fs_inode *i)
{
    (void)fid;
    int *c = arg;
    c[0]++;
    c[1] += i->n_refs;
    return 0;
}

/* rmdir racing a create inside: either the directory goes and the create
 * fails, or the create wins and rmdir says not empty; never a name left in
 * a removed directory. */
START_TEST(test_rmdir_vs_create)
{
    int outcomes[2] = {0, 0};
    for (uint64_t seed = 1; seed <= 30; seed++) {
        sim_init(5, seed * 271);
        ck_assert_int_eq(ns(0, SF_FS_NS_MKDIR, "/d", NULL), 0);
        struct res a, b;
        start(1, &a, SF_FS_NS_RMDIR, "/d", NULL, 0, NULL);
        start(2, &b, SF_FS_NS_CREATE, "/d/x", NULL, 0, NULL);
        run_until_done();
        if (a.r.status == 0) {
            ck_assert_int_eq(b.r.status, -ENOENT);
            ck_assert_int_eq(ns(3, SF_FS_NS_LOOKUP, "/d", NULL), -ENOENT);
            /* re-made, the directory is empty (its group is a new one) */
            ck_assert_int_eq(ns(3, SF_FS_NS_MKDIR, "/d", NULL), 0);
            ck_assert_int_eq(ls(4, "/d"), 0);
            ck_assert_str_eq(listing, "");
            outcomes[0]++;
        } else {
            ck_assert_int_eq(a.r.status, -ENOTEMPTY);
            ck_assert_int_eq(b.r.status, 0);
            ck_assert_int_eq(ls(4, "/d"), 0);
            ck_assert_str_eq(listing, "x");
            outcomes[1]++;
        }
        sim_free();
    }
    /* both orders happen over these seeds (16 and 14 when written) */
    ck_assert_int_gt(outcomes[0], 0);
    ck_assert_int_gt(outcomes[1], 0);
}
END_TEST

/* Two renames of one source to two targets (one in the same directory, one
 * across): exactly one moves it; the file exists under exactly one name. */
START_TEST(test_rename_race)
{
    for (uint64_t seed = 1; seed <= 30; seed++) {
        sim_init(5, seed * 131);
        ck_assert_int_eq(ns(0, SF_FS_NS_MKDIR, "/a", NULL), 0);
        ck_assert_int_eq(ns(0, SF_FS_NS_MKDIR, "/b", NULL), 0);
        ck_assert_int_eq(ns(0, SF_FS_NS_CREATE, "/a/f", NULL), 0);
        struct res x, y;
        start(1, &x, SF_FS_NS_RENAME, "/a/f", "/a/g", 0, NULL);
        start(2, &y, SF_FS_NS_RENAME, "/a/f", "/b/h", 0, NULL);
        run_until_done();
        ck_assert_msg((x.r.status == 0) != (y.r.status == 0), "seed %llu: %d %d",
                      (unsigned long long)seed, x.r.status, y.r.status);
        int names = 0;
        names += ns(3, SF_FS_NS_LOOKUP, "/a/f", NULL) == 0;
        names += ns(3, SF_FS_NS_LOOKUP, "/a/g", NULL) == 0;
        names += ns(3, SF_FS_NS_LOOKUP, "/b/h", NULL) == 0;
        ck_assert_int_eq(names, 1);
        sim_free();
    }
}
END_TEST

/* A partition the membership declares (each side drops the other from its
 * view): the side without a majority of the holders refuses to decide, so
 * when the sides merge nothing the majority committed is lost. */
static void side_views(void)
{
    for (int i = 0; i < nn; i++) {
        struct sf_dht_id ids[NMAX];
        int k = 0;
        for (int j = 0; j < nn; j++) {
            if (nodes[j].up && nodes[j].side == nodes[i].side) {
                ids[k++] = nodes[j].id;
            }
        }
        ck_assert_int_eq(sf_fs_meta_members(nodes[i].m, ids, (size_t)k), 0);
    }
}

START_TEST(test_declared_partition)
{
    sim_init(4, 4242);
    ck_assert_int_eq(ns(0, SF_FS_NS_CREATE, "/f", NULL), 0);
    uint64_t v = R.r.version;
    for (int i = 0; i < nn; i++) {
        nodes[i].side = i == 0;
    }
    partitioned = true;
    side_views();
    struct sf_fs_inode big = file_inode(999), small = file_inode(1);
    struct res a, b;
    start(1, &a, SF_FS_NS_COMMIT, "/f", NULL, v, &big);
    run_until_done();
    ck_assert_int_eq(a.r.status, 0);
    start(0, &b, SF_FS_NS_COMMIT, "/f", NULL, v, &small);
    run_until_done();
    ck_assert_msg(b.r.status == -EAGAIN || b.r.status == -EHOSTDOWN, "%d", b.r.status);
    ck_assert(strstr(b.r.message, "majority") != NULL);
    ck_assert_int_eq(ns(0, SF_FS_NS_CREATE, "/g", NULL), -EAGAIN);
    ck_assert(strstr(R.r.message, "majority") != NULL);
    ck_assert_int_ne(ns(0, SF_FS_NS_LOOKUP, "/f", NULL), 0); /* no stale answer either */
    partitioned = false;
    views();
    for (int i = 0; i < nn; i++) {
        ck_assert_int_eq(ns(i, SF_FS_NS_LOOKUP, "/f", NULL), 0);
        ck_assert_uint_eq(R.r.inode.size, 999);
        ck_assert_int_eq(ns(i, SF_FS_NS_LOOKUP, "/g", NULL), -ENOENT);
    }
    /* After the grace the lone node's view counts again (members gone for
     * good): a node left alone that long decides alone. */
    for (int i = 1; i < nn; i++) {
        crash(i);
    }
    views();
    now_ms += 400000;
    sf_fs_meta_tick(nodes[0].m, now_ms);
    ck_assert_int_eq(ns(0, SF_FS_NS_CREATE, "/alone", NULL), 0);
    sim_free();
}
END_TEST

/* A daemon restarted alone remembers how large its cluster was: it does not
 * decide before its peers are back (or the grace has passed). */
START_TEST(test_restart_alone)
{
    sim_init(3, 808);
    ck_assert_int_eq(ns(0, SF_FS_NS_CREATE, "/f", NULL), 0);
    for (int i = 0; i < nn; i++) {
        nodes[i].ref = sf_fs_meta_ref_members(nodes[i].m);
        ck_assert_uint_eq(nodes[i].ref, 3);
        crash(i);
    }
    node_start(0);
    views();
    ck_assert_int_eq(ns(0, SF_FS_NS_CREATE, "/g", NULL), -EAGAIN);
    node_start(1);
    node_start(2);
    views();
    ck_assert_int_eq(ns(0, SF_FS_NS_CREATE, "/g", NULL), 0);
    ck_assert_int_eq(ns(2, SF_FS_NS_LOOKUP, "/f", NULL), 0);
    sim_free();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fs_meta");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_codec_roundtrip);
    tcase_add_test(tc, test_ns_basic);
    tcase_add_test(tc, test_concurrent_create);
    tcase_add_test(tc, test_concurrent_commit);
    tcase_add_test(tc, test_rename_vs_unlink);
    tcase_add_test(tc, test_stale_rejoin);
    tcase_add_test(tc, test_partition_minority);
    tcase_add_test(tc, test_churn);
    tcase_add_test(tc, test_walk_files);
    tcase_add_test(tc, test_collect_files);
    tcase_add_test(tc, test_rmdir_vs_create);
    tcase_add_test(tc, test_rename_race);
    tcase_add_test(tc, test_declared_partition);
    tcase_add_test(tc, test_restart_alone);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_FORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
