/* The filesystem's metadata inside a listening sfd: runs the metadata core
 * (fs/fs_meta.c) with the control port as its transport (FS_META_* ops,
 * 44..47), the log STATE_DIR/fsmeta/meta.log as its disk (append + fsync
 * before a record is acknowledged; compacted at start and once it grows
 * large), the members with a connection as its view, and serves the namespace ops of local clients
 * (FS_NS / FS_READDIR -> FS_NS_ANS / FS_DIRENTS). Not here: blocks
 * (sfd_fs.c). Loop thread, except one writer thread that appends frames to
 * the log and fdatasyncs them (all that queued up, at once). */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs/sf_fs_meta.h"
#include "launcher/sfd/sfd_int.h"
#include "runtime/base/sf_err.h"
#include "runtime/base/sf_log.h"
#include "runtime/base/sf_tun.h"

#define META_TICK_MS 100
#define META_NODES_MAX 4096

/* Tunables of module "fsmeta" (SF_FSMETA_<NAME>, sfd --params). */
struct meta_tun {
    int replicas;       /* holders of each directory's records */
    double timeout;     /* seconds a request to another daemon may take */
    double grace;       /* seconds before lost members stop counting for the quorum */
    int sync_page;      /* records per page when a primary syncs a group */
    size_t compact_min; /* log size before a compaction while running */
};
#define TUN(f) offsetof(struct meta_tun, f)
static const struct sf_tun meta_tun_items[] = {
    {"replicas", SF_TUN_INT, "3", "holders of each directory's records (1..16)", TUN(replicas)},
    {"timeout", SF_TUN_DOUBLE, "5s", "a metadata request to another daemon fails after this",
     TUN(timeout)},
    {"grace", SF_TUN_DOUBLE, "300s",
     "members lost this long stop counting for the quorum (a cut-off node waits this long)",
     TUN(grace)},
    {"sync_page", SF_TUN_INT, "2048", "records per page when a primary re-reads a directory",
     TUN(sync_page)},
    {"compact_min", SF_TUN_SIZE, "64m", "log size before it is compacted while running",
     TUN(compact_min)},
};
static const struct sf_tun_table meta_tun_table = {
    "fsmeta", meta_tun_items, sizeof meta_tun_items / sizeof meta_tun_items[0]};

void sf_sfd__fs_meta_params(FILE *out)
{
    struct meta_tun t;
    if (sf_tun_load(&meta_tun_table, &t) == 0) {
        sf_tun_print(&meta_tun_table, &t, out);
    }
}

struct meta_node {
    uint64_t id;
    struct sf_dht_id key;
};

/* A client request being served; c is NULL once the client is gone. */
struct meta_creq {
    struct sf_sfd_meta *mt;
    struct sf_sfd_client *c;
    uint64_t req;
    bool readdir;
    struct meta_creq *next;
};

/* A log write for the writer thread; back on the loop with its status. */
struct meta_wjob {
    uint64_t token;
    uint8_t *frame;
    size_t len;
    int status;
    struct meta_wjob *next;
};

struct sf_sfd_meta {
    struct sf_sfd *sfd;
    struct sf_fs_meta *core;
    struct meta_node self;
    struct meta_node *live;
    size_t nlive;
    char *dir, *log_path;
    int log_fd;
    struct sf_timer *tick;
    struct meta_creq *creqs;
    uint64_t log_bytes, persist_err;
    uint64_t compacted_bytes; /* log size after the last compaction */
    struct meta_tun tun;
    size_t ref_saved;         /* the view size last written to STATE_DIR/fsmeta/view */
    /* the writer thread: jobs in order (q), done ones back to the loop (d) */
    pthread_t writer;
    bool writer_up, stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct meta_wjob *q_head, *q_tail, *d_head, *d_tail;
    bool wake_pending;
    size_t in_flight; /* loop side: submitted, not yet back */
};

void sf_sfd__node_key(uint64_t id, struct sf_dht_id *out)
{
    uint8_t in[14] = {'s', 'f', 'n', 'o', 'd', 'e'};
    for (int i = 0; i < 8; i++) {
        in[6 + i] = (uint8_t)(id >> (56 - 8 * i));
    }
    crypto_generichash(out->b, SF_DHT_ID_LEN, in, sizeof in, NULL, 0);
}

static struct sf_sfd_peer *peer_of_key(struct sf_sfd_meta *mt, const struct sf_dht_id *key)
{
    for (size_t i = 0; i < mt->nlive; i++) {
        if (memcmp(mt->live[i].key.b, key->b, SF_DHT_ID_LEN) == 0) {
            return sf_sfd__peer_find(mt->sfd, mt->live[i].id);
        }
    }
    return NULL;
}

/* ------------------------------------------------------- transport */

static int put_recs(struct sf_wire_enc *e, const struct sf_fs_meta_rec *recs, size_t n)
{
    size_t len;
    int rc = sf_fs_meta_recs_encode(recs, n, NULL, 0, &len);
    if (rc != 0) {
        return rc;
    }
    uint8_t *b = malloc(len);
    if (b == NULL) {
        return -ENOMEM;
    }
    sf_fs_meta_recs_encode(recs, n, b, len, &len);
    sf_wire_put_bytes(e, b, len);
    free(b);
    return 0;
}

static void meta_send(void *arg, const struct sf_dht_id *to, const struct sf_fs_meta_msg *m)
{
    struct sf_sfd_meta *mt = arg;
    struct sf_sfd_peer *p = peer_of_key(mt, to);
    if (p == NULL || p->conn == NULL) {
        return; /* gone: the core's timeouts and view changes handle it */
    }
    struct sf_wire_enc e;
    int rc = 0;
    switch (m->type) {
    case SF_FS_META_M_CAS:
        sf_wire_enc_begin(&e, SF_OP_FS_META_CAS, sf_sfd__peer_seq(p));
        sf_wire_put_u64(&e, m->req);
        sf_wire_put_bytes(&e, m->key.b, SF_DHT_ID_LEN);
        rc = put_recs(&e, m->recs, m->n_recs);
        break;
    case SF_FS_META_M_STORE:
        sf_wire_enc_begin(&e, SF_OP_FS_META_STORE, sf_sfd__peer_seq(p));
        sf_wire_put_u64(&e, m->req);
        sf_wire_put_bytes(&e, m->key.b, SF_DHT_ID_LEN);
        rc = put_recs(&e, m->recs, m->n_recs);
        sf_wire_put_u8(&e, m->flags);
        break;
    case SF_FS_META_M_READ: {
        char name[SF_FS_NAME_MAX + 1];
        size_t l = m->name_len <= SF_FS_NAME_MAX ? m->name_len : 0;
        memcpy(name, m->name, l);
        name[l] = '\0';
        sf_wire_enc_begin(&e, SF_OP_FS_META_READ, sf_sfd__peer_seq(p));
        sf_wire_put_u64(&e, m->req);
        sf_wire_put_bytes(&e, m->key.b, SF_DHT_ID_LEN);
        sf_wire_put_str(&e, name);
        sf_wire_put_u8(&e, m->flags);
        break;
    }
    case SF_FS_META_M_REPLY:
        sf_wire_enc_begin(&e, SF_OP_FS_META_REPLY, sf_sfd__peer_seq(p));
        sf_wire_put_u64(&e, m->req);
        sf_wire_put_i32(&e, m->status);
        rc = put_recs(&e, m->recs, m->n_recs);
        break;
    default:
        return;
    }
    if (rc == 0 && sf_wire_enc_end(&e) == 0) {
        sf_sfd__peer_send(p, &e);
    } else {
        SF_WARN_SPARSE("metadata message to %s not sent: %s", p->name, sf_strerror(rc));
    }
    sf_wire_enc_free(&e);
}

/* ------------------------------------------------------------- disk */

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void writer_done_on_loop(struct sf_loop *loop, void *arg);

/* The writer: takes every queued frame, appends them, one fdatasync for
 * all, hands them back to the loop in order. */
static void *writer_main(void *arg)
{
    struct sf_sfd_meta *mt = arg;
    pthread_mutex_lock(&mt->mu);
    for (;;) {
        while (mt->q_head == NULL && !mt->stop) {
            pthread_cond_wait(&mt->cv, &mt->mu);
        }
        if (mt->q_head == NULL) {
            break; /* stopping with nothing left to write */
        }
        struct meta_wjob *batch = mt->q_head;
        mt->q_head = mt->q_tail = NULL;
        int fd = mt->log_fd;
        pthread_mutex_unlock(&mt->mu);
        int rc = fd < 0 ? -EIO : 0;
        for (struct meta_wjob *j = batch; rc == 0 && j != NULL; j = j->next) {
            rc = write_all(fd, j->frame, j->len);
        }
        if (rc == 0 && fdatasync(fd) != 0) {
            rc = -errno;
        }
        pthread_mutex_lock(&mt->mu);
        struct meta_wjob *last = batch;
        for (struct meta_wjob *j = batch; j != NULL; j = j->next) {
            j->status = rc;
            last = j;
        }
        if (mt->d_tail != NULL) {
            mt->d_tail->next = batch;
        } else {
            mt->d_head = batch;
        }
        mt->d_tail = last;
        if (!mt->wake_pending) {
            mt->wake_pending = true;
            /* Only an allocation failure stops a wake-up: retry, the loop
             * must hear of every write. */
            while (sf_loop_wake(mt->sfd->loop, writer_done_on_loop, mt) != 0) {
                pthread_mutex_unlock(&mt->mu);
                struct timespec ts = {0, 1000000};
                nanosleep(&ts, NULL);
                pthread_mutex_lock(&mt->mu);
            }
        }
    }
    pthread_mutex_unlock(&mt->mu);
    return NULL;
}

static void writer_done_on_loop(struct sf_loop *loop, void *arg)
{
    (void)loop;
    struct sf_sfd_meta *mt = arg;
    pthread_mutex_lock(&mt->mu);
    struct meta_wjob *j = mt->d_head;
    mt->d_head = mt->d_tail = NULL;
    mt->wake_pending = false;
    pthread_mutex_unlock(&mt->mu);
    while (j != NULL) {
        struct meta_wjob *next = j->next;
        mt->in_flight--;
        if (j->status == 0) {
            mt->log_bytes += j->len;
        } else {
            mt->persist_err++;
            SF_WARN_SPARSE("metadata log %s: %s", mt->log_path, sf_strerror(j->status));
        }
        if (mt->core != NULL) {
            sf_fs_meta_persisted(mt->core, j->token, j->status);
        }
        free(j->frame);
        free(j);
        j = next;
    }
    if (mt->core != NULL) {
        sf_fs_meta_run(mt->core);
    }
}

static void meta_persist(void *arg, const struct sf_dht_id *key, const struct sf_fs_meta_rec *recs,
                         size_t n, uint64_t token)
{
    struct sf_sfd_meta *mt = arg;
    struct meta_wjob *j = calloc(1, sizeof *j);
    int rc = j == NULL ? -ENOMEM : 0;
    if (rc == 0) {
        j->token = token;
        rc = sf_fs_meta_log_frame(key, recs, n, &j->frame, &j->len);
    }
    if (rc != 0 || !mt->writer_up) {
        /* Answered like a failed write, through the loop as the core wants. */
        if (j == NULL) {
            SF_ERR("metadata log: out of memory: a write is lost (its request times out)");
            return;
        }
        j->status = rc != 0 ? rc : -EIO;
        pthread_mutex_lock(&mt->mu);
        if (mt->d_tail != NULL) {
            mt->d_tail->next = j;
        } else {
            mt->d_head = j;
        }
        mt->d_tail = j;
        bool wake = !mt->wake_pending;
        mt->wake_pending = true;
        pthread_mutex_unlock(&mt->mu);
        mt->in_flight++;
        if (wake && sf_loop_wake(mt->sfd->loop, writer_done_on_loop, mt) != 0) {
            SF_ERR("metadata log: cannot wake the loop");
        }
        return;
    }
    mt->in_flight++;
    pthread_mutex_lock(&mt->mu);
    if (mt->q_tail != NULL) {
        mt->q_tail->next = j;
    } else {
        mt->q_head = j;
    }
    mt->q_tail = j;
    pthread_cond_signal(&mt->cv);
    pthread_mutex_unlock(&mt->mu);
}

static void meta_random(void *arg, uint8_t *buf, size_t n)
{
    (void)arg;
    randombytes_buf(buf, n);
}

/* Read the log into the core; stops at a torn tail (truncated away) and
 * refuses to start on a corrupt frame (the file is kept for inspection). */
static int load_log(struct sf_sfd_meta *mt, size_t *good_end)
{
    int fd = open(mt->log_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *good_end = 0;
        return errno == ENOENT ? 0 : -errno;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    size_t len = (size_t)st.st_size;
    uint8_t *buf = malloc(len ? len : 1);
    size_t got = 0;
    while (buf != NULL && got < len) {
        ssize_t r = read(fd, buf + got, len - got);
        if (r <= 0) {
            break;
        }
        got += (size_t)r;
    }
    close(fd);
    if (buf == NULL) {
        return -ENOMEM;
    }
    size_t off = 0;
    int rc;
    struct sf_dht_id key;
    const uint8_t *list;
    size_t ll, frames = 0;
    while ((rc = sf_fs_meta_log_next(buf, got, &off, &key, &list, &ll)) == 1) {
        size_t n;
        struct sf_fs_meta_rec *r = NULL;
        if (sf_fs_meta_recs_count(list, ll, &n) != 0 ||
            (r = malloc((n ? n : 1) * sizeof *r)) == NULL ||
            sf_fs_meta_recs_decode(list, ll, r, n, &n) != 0) {
            free(r);
            rc = SF_FS_ECORRUPT;
            break;
        }
        rc = sf_fs_meta_load(mt->core, &key, r, n);
        free(r);
        if (rc != 0) {
            break;
        }
        frames++;
    }
    free(buf);
    if (rc < 0) {
        SF_ERR("metadata log %s: bad frame at byte %zu: %s", mt->log_path, off, sf_strerror(rc));
        return rc;
    }
    if (off < got) {
        SF_WARN("metadata log %s: dropped a torn tail of %zu bytes", mt->log_path, got - off);
    }
    *good_end = off;
    SF_DBG("metadata log: %zu frames", frames);
    return 0;
}

/* Rewrite the log with what the core holds (one frame per group), so it
 * does not grow without bound across restarts. */
struct compact {
    int fd;
    int rc;
};

static int compact_group(void *arg, const struct sf_dht_id *key, const struct sf_fs_meta_rec *recs,
                         size_t n)
{
    struct compact *c = arg;
    uint8_t *f;
    size_t len;
    int rc = sf_fs_meta_log_frame(key, recs, n, &f, &len);
    if (rc == 0) {
        rc = write_all(c->fd, f, len);
        free(f);
    }
    c->rc = rc;
    return rc;
}

static int open_log(struct sf_sfd_meta *mt, size_t good_end)
{
    size_t need = strlen(mt->log_path) + 8;
    char *tmp = malloc(need);
    if (tmp == NULL) {
        return -ENOMEM;
    }
    snprintf(tmp, need, "%s.new", mt->log_path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int rc = fd < 0 ? -errno : 0;
    if (rc == 0) {
        struct compact c = {fd, 0};
        rc = sf_fs_meta_walk_groups(mt->core, compact_group, &c);
        if (rc == 0 && fsync(fd) != 0) {
            rc = -errno;
        }
        if (rc == 0 && rename(tmp, mt->log_path) != 0) {
            rc = -errno;
        }
        close(fd);
    }
    if (rc == 0) {
        int dfd = open(mt->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    } else {
        unlink(tmp);
        SF_WARN("metadata log %s: not compacted: %s", mt->log_path, sf_strerror(rc));
        if (truncate(mt->log_path, (off_t)good_end) != 0 && errno != ENOENT) {
            free(tmp);
            return -errno;
        }
    }
    free(tmp);
    mt->log_fd = open(mt->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (mt->log_fd < 0) {
        return -errno;
    }
    struct stat st;
    mt->log_bytes = fstat(mt->log_fd, &st) == 0 ? (uint64_t)st.st_size : 0;
    mt->compacted_bytes = mt->log_bytes;
    return 0;
}

/* Compact while running once the log is both large and mostly superseded
 * records (the rewrite runs on the loop: tens of ms per 10 MB). */
static void maybe_compact(struct sf_sfd_meta *mt)
{
    if (mt->log_fd < 0 || mt->log_bytes < mt->tun.compact_min ||
        mt->log_bytes < 4 * mt->compacted_bytes || mt->in_flight > 0) {
        return; /* (the writer is idle when nothing is in flight) */
    }
    uint64_t before = mt->log_bytes;
    close(mt->log_fd);
    mt->log_fd = -1;
    int rc = open_log(mt, (size_t)before);
    if (rc != 0) {
        SF_ERR("metadata log %s: cannot reopen: %s", mt->log_path, sf_strerror(rc));
        return;
    }
    SF_INFO("metadata log compacted: %" PRIu64 " -> %" PRIu64 " bytes", before, mt->log_bytes);
}

/* -------------------------------------------------------- membership */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = ((const struct meta_node *)a)->id, y = ((const struct meta_node *)b)->id;
    return x < y ? -1 : x > y;
}

/* The members with a connection and us; the core hears of every change. */
static void view_poll(struct sf_sfd_meta *mt)
{
    size_t k = 1;
    for (struct sf_sfd_peer *p = mt->sfd->peers; p != NULL; p = p->next) {
        k += p->conn != NULL;
    }
    if (k > META_NODES_MAX) {
        k = META_NODES_MAX;
    }
    struct meta_node *v = malloc(k * sizeof *v);
    if (v == NULL) {
        return;
    }
    size_t i = 0;
    v[i++] = mt->self;
    for (struct sf_sfd_peer *p = mt->sfd->peers; p != NULL && i < k; p = p->next) {
        if (p->conn != NULL) {
            v[i].id = p->id;
            sf_sfd__node_key(p->id, &v[i].key);
            i++;
        }
    }
    qsort(v, i, sizeof *v, cmp_u64);
    bool same = i == mt->nlive;
    for (size_t j = 0; same && j < i; j++) {
        same = v[j].id == mt->live[j].id;
    }
    if (same) {
        free(v);
        return;
    }
    free(mt->live);
    mt->live = v;
    mt->nlive = i;
    struct sf_dht_id *ids = malloc(i * sizeof *ids);
    if (ids == NULL) {
        return;
    }
    for (size_t j = 0; j < i; j++) {
        ids[j] = v[j].key;
    }
    SF_DBG("metadata view: %zu nodes", i);
    sf_fs_meta_members(mt->core, ids, i);
    free(ids);
}

/* STATE_DIR/fsmeta/view: the largest view (a decimal number), so that a
 * restarted daemon does not decide alone before its peers are back. */
static size_t view_load(struct sf_sfd_meta *mt)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/view", mt->dir);
    FILE *f = fopen(path, "r");
    unsigned long v = 0;
    if (f != NULL) {
        if (fscanf(f, "%lu", &v) != 1 || v > META_NODES_MAX) {
            v = 0;
        }
        fclose(f);
    }
    return (size_t)v;
}

static void view_save(struct sf_sfd_meta *mt)
{
    size_t ref = sf_fs_meta_ref_members(mt->core);
    if (ref == mt->ref_saved) {
        return;
    }
    char path[4096], tmp[4100];
    snprintf(path, sizeof path, "%s/view", mt->dir);
    snprintf(tmp, sizeof tmp, "%s.new", path);
    FILE *f = fopen(tmp, "w");
    if (f == NULL || fprintf(f, "%zu\n", ref) < 0 || fclose(f) != 0 || rename(tmp, path) != 0) {
        SF_WARN_SPARSE("cannot write %s", path);
        return;
    }
    mt->ref_saved = ref;
}

static void on_tick(struct sf_loop *loop, void *arg)
{
    struct sf_sfd_meta *mt = arg;
    mt->tick = NULL;
    view_poll(mt);
    maybe_compact(mt);
    sf_fs_meta_tick(mt->core, sf_now_ms());
    sf_fs_meta_run(mt->core);
    view_save(mt);
    sf_loop_timer(loop, META_TICK_MS, on_tick, mt, &mt->tick);
}

/* ------------------------------------------------------------ peers */

int sf_sfd__fs_meta_peer_op(struct sf_sfd *sfd, struct sf_sfd_peer *from,
                            const struct sf_wire_msg *m)
{
    struct sf_sfd_meta *mt = sfd->fsmeta;
    if (mt == NULL || mt->core == NULL) {
        return 0; /* metadata off here: requests time out at the sender */
    }
    /* A frame from a member the core does not know yet: catch up first. */
    struct sf_dht_id fk;
    sf_sfd__node_key(from->id, &fk);
    if (peer_of_key(mt, &fk) == NULL) {
        view_poll(mt);
    }
    struct sf_fs_meta_msg msg = {.req = m->f[0].u};
    const struct sf_wire_val *keyf = NULL, *recf = NULL;
    switch (m->op) {
    case SF_OP_FS_META_CAS:
        msg.type = SF_FS_META_M_CAS;
        keyf = &m->f[1];
        recf = &m->f[2];
        break;
    case SF_OP_FS_META_STORE:
        msg.type = SF_FS_META_M_STORE;
        keyf = &m->f[1];
        recf = &m->f[2];
        msg.flags = (uint8_t)m->f[3].u;
        break;
    case SF_OP_FS_META_READ:
        msg.type = SF_FS_META_M_READ;
        keyf = &m->f[1];
        msg.name = (const char *)m->f[2].p;
        msg.name_len = m->f[2].len;
        msg.flags = (uint8_t)m->f[3].u;
        if (msg.name_len > SF_FS_NAME_MAX) {
            return SF_ERR_PROTO;
        }
        break;
    case SF_OP_FS_META_REPLY:
        msg.type = SF_FS_META_M_REPLY;
        msg.status = (int32_t)m->f[1].i;
        recf = &m->f[2];
        break;
    default:
        return SF_ERR_PROTO;
    }
    if (keyf != NULL) {
        if (keyf->len != SF_DHT_ID_LEN) {
            return SF_ERR_PROTO;
        }
        memcpy(msg.key.b, keyf->p, SF_DHT_ID_LEN);
    }
    struct sf_fs_meta_rec *recs = NULL;
    size_t n = 0;
    if (recf != NULL) {
        if (sf_fs_meta_recs_count(recf->p, recf->len, &n) != 0 ||
            (recs = malloc((n ? n : 1) * sizeof *recs)) == NULL ||
            sf_fs_meta_recs_decode(recf->p, recf->len, recs, n, &n) != 0) {
            free(recs);
            sfd->drops[SFD_DROP_DECODE]++;
            SF_WARN_SPARSE("bad metadata records from %s: dropped", from->name);
            return SF_ERR_PROTO;
        }
    }
    msg.recs = recs;
    msg.n_recs = n;
    sf_fs_meta_input(mt->core, &fk, &msg);
    free(recs);
    sf_fs_meta_run(mt->core);
    return 0;
}

/* ---------------------------------------------------------- clients */

static void creq_unlink(struct sf_sfd_meta *mt, struct meta_creq *r)
{
    for (struct meta_creq **pp = &mt->creqs; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == r) {
            *pp = r->next;
            return;
        }
    }
}

static void on_done(void *arg, const struct sf_fs_meta_result *res)
{
    struct meta_creq *r = arg;
    struct sf_sfd_meta *mt = r->mt;
    creq_unlink(mt, r);
    struct sf_sfd_client *c = r->c;
    if (c != NULL && !c->dead) {
        struct sf_wire_enc e;
        if (r->readdir) {
            sf_wire_enc_begin(&e, SF_OP_FS_DIRENTS, c->seq++);
            sf_wire_put_u64(&e, r->req);
            sf_wire_put_i32(&e, res->status);
            sf_wire_put_bytes(&e, res->entries, res->status == 0 ? res->entries_len : 0);
            sf_wire_put_u8(&e, res->status == 0 && res->done);
            sf_wire_put_str(&e, res->message);
        } else {
            uint8_t ib[SF_DHT_VALUE_MAX];
            size_t il = 0;
            if (!res->has_inode || sf_fs_inode_encode(&res->inode, ib, sizeof ib, &il) != 0) {
                il = 0;
            }
            sf_wire_enc_begin(&e, SF_OP_FS_NS_ANS, c->seq++);
            sf_wire_put_u64(&e, r->req);
            sf_wire_put_i32(&e, res->status);
            sf_wire_put_u64(&e, res->version);
            sf_wire_put_bytes(&e, ib, il);
            sf_wire_put_bytes(&e, res->fid, res->has_inode ? SF_FS_FID_LEN : 0);
            sf_wire_put_str(&e, res->message);
        }
        if (sf_wire_enc_end(&e) == 0) {
            sf_sfd__client_send(c, &e);
        }
        sf_wire_enc_free(&e);
    }
    free(r);
}

/* An answer right away (bad request, metadata off). */
static int answer_now(struct sf_sfd_client *c, uint8_t op, uint64_t req, int status,
                      const char *msg)
{
    struct sf_wire_enc e;
    sf_wire_enc_begin(&e, op == SF_OP_FS_READDIR ? SF_OP_FS_DIRENTS : SF_OP_FS_NS_ANS, c->seq++);
    sf_wire_put_u64(&e, req);
    sf_wire_put_i32(&e, status);
    if (op == SF_OP_FS_READDIR) {
        sf_wire_put_bytes(&e, NULL, 0);
        sf_wire_put_u8(&e, 0);
    } else {
        sf_wire_put_u64(&e, 0);
        sf_wire_put_bytes(&e, NULL, 0);
        sf_wire_put_bytes(&e, NULL, 0);
    }
    sf_wire_put_str(&e, msg);
    int rc = sf_wire_enc_end(&e);
    if (rc == 0) {
        rc = sf_sfd__client_send(c, &e);
    }
    sf_wire_enc_free(&e);
    return rc;
}

int sf_sfd__fs_meta_client_op(struct sf_sfd_client *c, const struct sf_wire_msg *m)
{
    struct sf_sfd_meta *mt = c->sfd->fsmeta;
    uint64_t req = m->f[0].u;
    if (mt == NULL || mt->core == NULL) {
        return answer_now(c, m->op, req, -ENOSYS,
                          "the filesystem's metadata is not running on this daemon");
    }
    struct meta_creq *r = calloc(1, sizeof *r);
    char *p1 = NULL, *p2 = NULL;
    if (r == NULL) {
        return answer_now(c, m->op, req, -ENOMEM, "out of memory");
    }
    r->mt = mt;
    r->c = c;
    r->req = req;
    int rc;
    if (m->op == SF_OP_FS_READDIR) {
        r->readdir = true;
        p1 = sf_wire_strdup(&m->f[1]);
        p2 = sf_wire_strdup(&m->f[2]);
        if (p1 == NULL || p2 == NULL) {
            rc = -ENOMEM;
        } else {
            rc = sf_fs_meta_readdir(mt->core, p1, p2, (uint32_t)m->f[3].u, on_done, r);
        }
    } else {
        struct sf_fs_inode ino;
        bool has_ino = m->f[6].len > 0;
        if (has_ino && sf_fs_inode_decode(m->f[6].p, m->f[6].len, &ino) != 0) {
            free(r);
            return answer_now(c, m->op, req, -EINVAL, "the inode does not decode");
        }
        p1 = sf_wire_strdup(&m->f[2]);
        p2 = sf_wire_strdup(&m->f[3]);
        if (p1 == NULL || p2 == NULL) {
            rc = -ENOMEM;
        } else {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            struct sf_fs_meta_nsreq rq = {
                .verb = (enum sf_fs_ns_verb)m->f[1].u,
                .path = p1,
                .path2 = p2,
                .expect = m->f[4].u,
                .mode = (uint32_t)m->f[5].u,
                .inode = has_ino ? &ino : NULL,
                .flags = (uint32_t)m->f[7].u,
                .uid = (uint32_t)geteuid(),
                .gid = (uint32_t)getegid(),
                .now_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec,
            };
            rc = sf_fs_meta_ns(mt->core, &rq, on_done, r);
        }
    }
    free(p1);
    free(p2);
    if (rc != 0) {
        free(r);
        return answer_now(c, m->op, req, rc, "out of memory");
    }
    r->next = mt->creqs;
    mt->creqs = r;
    sf_fs_meta_run(mt->core);
    return 0;
}

void sf_sfd__fs_meta_client_gone(struct sf_sfd *sfd, struct sf_sfd_client *c)
{
    struct sf_sfd_meta *mt = sfd->fsmeta;
    if (mt == NULL) {
        return;
    }
    for (struct meta_creq *r = mt->creqs; r != NULL; r = r->next) {
        if (r->c == c) {
            r->c = NULL; /* its answer is dropped */
        }
    }
}

/* ------------------------------------------------------------- life */

int sf_sfd__fs_meta_start(struct sf_sfd *sfd)
{
    struct sf_sfd_meta *mt = calloc(1, sizeof *mt);
    if (mt == NULL) {
        return -ENOMEM;
    }
    mt->sfd = sfd;
    mt->log_fd = -1;
    pthread_mutex_init(&mt->mu, NULL);
    pthread_cond_init(&mt->cv, NULL);
    mt->self.id = sfd->node_id;
    sf_sfd__node_key(sfd->node_id, &mt->self.key);
    sfd->fsmeta = mt;
    size_t need = strlen(sfd->state_dir) + 32;
    mt->dir = malloc(need);
    mt->log_path = malloc(need);
    if (mt->dir == NULL || mt->log_path == NULL) {
        return -ENOMEM;
    }
    snprintf(mt->dir, need, "%s/fsmeta", sfd->state_dir);
    snprintf(mt->log_path, need, "%s/fsmeta/meta.log", sfd->state_dir);
    if (mkdir(mt->dir, 0700) != 0 && errno != EEXIST) {
        SF_ERR("filesystem metadata disabled: cannot create %s: %s", mt->dir, sf_strerror(-errno));
        return 0;
    }
    mt->ref_saved = view_load(mt);
    if (sf_tun_load(&meta_tun_table, &mt->tun) != 0 || mt->tun.replicas < 1 ||
        mt->tun.replicas > SF_FS_R_MAX || mt->tun.timeout <= 0 || mt->tun.grace <= 0 ||
        mt->tun.sync_page < 1) {
        SF_ERR("filesystem metadata disabled: bad SF_FSMETA_* settings (sfd --params)");
        return 0;
    }
    struct sf_fs_meta_config cfg = {.self = mt->self.key,
                                    .replicas = mt->tun.replicas,
                                    .timeout_ms = (uint64_t)(mt->tun.timeout * 1000),
                                    .shrink_grace_ms = (uint64_t)(mt->tun.grace * 1000),
                                    .sync_page = (size_t)mt->tun.sync_page,
                                    .ref_members = mt->ref_saved};
    struct sf_fs_meta_ops ops = {
        .send = meta_send, .persist = meta_persist, .random = meta_random, .arg = mt};
    int rc = sf_fs_meta_new(&cfg, &ops, &mt->core);
    if (rc != 0) {
        return rc;
    }
    size_t good_end = 0;
    rc = load_log(mt, &good_end);
    if (rc == 0) {
        rc = open_log(mt, good_end);
    }
    if (rc != 0) {
        /* Serving from a partial record set could resurrect or lose names:
         * the namespace stays off here (clients get -ENOSYS with a reason). */
        SF_ERR("filesystem metadata disabled: %s: %s", mt->log_path, sf_strerror(rc));
        sf_fs_meta_free(mt->core);
        mt->core = NULL;
        return 0;
    }
    mt->live = malloc(sizeof *mt->live);
    if (mt->live == NULL) {
        return -ENOMEM;
    }
    if (pthread_create(&mt->writer, NULL, writer_main, mt) != 0) {
        SF_ERR("filesystem metadata disabled: cannot start the log writer");
        sf_fs_meta_free(mt->core);
        mt->core = NULL;
        return 0;
    }
    mt->writer_up = true;
    mt->live[0] = mt->self;
    mt->nlive = 1;
    sf_fs_meta_tick(mt->core, sf_now_ms());
    return sf_loop_timer(sfd->loop, META_TICK_MS, on_tick, mt, &mt->tick);
}

void sf_sfd__fs_meta_stop(struct sf_sfd *sfd)
{
    struct sf_sfd_meta *mt = sfd->fsmeta;
    if (mt == NULL) {
        return;
    }
    if (mt->tick != NULL) {
        sf_loop_timer_cancel(sfd->loop, mt->tick);
    }
    if (mt->writer_up) {
        /* Queued writes still reach the disk; their answers are dropped
         * (the loop has ended). */
        pthread_mutex_lock(&mt->mu);
        mt->stop = true;
        pthread_cond_broadcast(&mt->cv);
        pthread_mutex_unlock(&mt->mu);
        pthread_join(mt->writer, NULL);
    }
    for (struct meta_wjob *j = mt->d_head, *n; j != NULL; j = n) {
        n = j->next;
        free(j->frame);
        free(j);
    }
    while (mt->creqs != NULL) {
        struct meta_creq *r = mt->creqs;
        mt->creqs = r->next;
        free(r);
    }
    sf_fs_meta_free(mt->core);
    if (mt->log_fd >= 0) {
        close(mt->log_fd);
    }
    free(mt->live);
    free(mt->dir);
    free(mt->log_path);
    free(mt);
    sfd->fsmeta = NULL;
}

int sf_sfd__fs_meta_files(struct sf_sfd *sfd, sf_fs_meta_file_fn fn, void *arg)
{
    struct sf_sfd_meta *mt = sfd->fsmeta;
    if (mt == NULL || mt->core == NULL) {
        return -ENOSYS;
    }
    return sf_fs_meta_walk_files(mt->core, fn, arg);
}

int sf_sfd__fs_meta_live_files(struct sf_sfd *sfd,
                               void (*cb)(void *arg, int status, const struct sf_fs_inode *inodes,
                                          size_t n),
                               void *arg)
{
    struct sf_sfd_meta *mt = sfd->fsmeta;
    if (mt == NULL || mt->core == NULL) {
        return -ENOSYS;
    }
    int rc = sf_fs_meta_collect_files(mt->core, cb, arg);
    sf_fs_meta_run(mt->core);
    return rc;
}

void sf_sfd__fs_meta_status(struct sf_sfd *sfd, void (*line)(void *arg, const char *text),
                            void *arg)
{
    struct sf_sfd_meta *mt = sfd->fsmeta;
    if (mt == NULL || mt->core == NULL) {
        line(arg, "fsmeta=off");
        return;
    }
    struct sf_fs_meta_stats st;
    sf_fs_meta_stats(mt->core, &st);
    const struct {
        const char *k;
        uint64_t v;
    } kv[] = {{"members", mt->nlive},        {"groups", st.groups},
              {"records", st.records},       {"live", st.live},
              {"tombstones", st.tombstones}, {"cas_ok", st.cas_ok},
              {"cas_failed", st.cas_failed}, {"pushes", st.pushes},
              {"syncs", st.syncs},           {"timeouts", st.timeouts},
              {"log_bytes", mt->log_bytes},  {"log_errors", mt->persist_err}};
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++) {
        char buf[64];
        snprintf(buf, sizeof buf, "fsmeta_%s=%" PRIu64, kv[i].k, kv[i].v);
        line(arg, buf);
    }
}
