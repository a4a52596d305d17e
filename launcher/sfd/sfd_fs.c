/* The filesystem's block layer inside a listening sfd: the node's block
 * store (STATE_DIR/fs), a small worker pool for store calls (they fsync),
 * block replication between daemons (FS_PUT/FS_PUT_ACK/FS_GET/FS_DATA with
 * per-peer flow control), the client ops FS_BLOCK_WRITE / FS_BLOCK_READ /
 * FS_ADMIN, and repair on membership changes. Not here: inodes and
 * directories (sfd_fs_meta.c), the client library (fs/fs_client*.c).
 * Loop thread, except the worker threads, which only run store calls. */
#include <errno.h>
#include <stddef.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/base/sf_err.h"
#include "runtime/base/sf_log.h"
#include "fs/sf_fs.h"
#include "launcher/sfd/sfd_int.h"
#include "launcher/sfd/sfd_fs_plan.h"

#define FS_WORKERS 3             /* store calls at once (fsync-bound, not CPU-bound) */
#define FS_TICK_MS 100           /* membership poll and request timeouts */
#define FS_PEER_OUT_BYTES (8u << 20) /* block bytes in flight to one peer ... */
#define FS_PEER_OUT_N 16         /* ... and requests: keep-alives never queue behind more */
#define FS_IN_MAX 256            /* peer requests being served at once (all peers) */
#define FS_REPAIR_INFLIGHT 4     /* repair copies at once */
#define FS_REPAIR_RETRY_MS 2000  /* a repair run with failures is retried after this */
#define FS_SETTLE_MS 1000        /* membership unchanged this long before a repair starts */
#define FS_NODES_MAX 4096        /* members the block layer tracks */
#define FS_WRITE_MEM_MAX (256u << 20) /* client block bytes held by writes in progress */

/* Tunables of the block layer (SF_FSBLK_<NAME>, printed by sfd --params). */
struct fs_tun {
    double gc_grace;    /* seconds: blocks put this recently survive a GC */
    double req_timeout; /* seconds a sent peer request may stay unanswered */
};
static const struct sf_tun fs_tun_items[] = {
    {"gc_grace", SF_TUN_DOUBLE, "900s",
     "blocks put this recently survive a GC even if no file references them yet (writes in "
     "progress commit their file only at close)",
     offsetof(struct fs_tun, gc_grace)},
    {"req_timeout", SF_TUN_DOUBLE, "30s",
     "a block request to another daemon unanswered this long fails (the write or read then "
     "names that node)",
     offsetof(struct fs_tun, req_timeout)},
};
static const struct sf_tun_table fs_tun_table = {"fsblk", fs_tun_items,
                                                 sizeof(fs_tun_items) / sizeof(fs_tun_items[0])};

void sf_sfd__fs_params(FILE *out)
{
    struct fs_tun t;
    if (sf_tun_load(&fs_tun_table, &t) == 0) {
        sf_tun_print(&fs_tun_table, &t, out);
    }
}

/* ------------------------------------------------------------------ */
/* state */

/* A reference-counted block buffer (loop thread owns the counts; workers
 * only read or fill the bytes of a buffer their job holds). */
struct fs_buf {
    int refs;
    size_t len;
    uint8_t data[];
};

/* A live member as the block layer sees it. */
struct fs_node {
    uint64_t id, inc;
    struct sf_dht_id key; /* DHT id: BLAKE2b-160("sfnode" || id) */
};

enum fs_job_kind { J_HASH = 1, J_PUT, J_GET, J_DEL, J_ENUM, J_SCRUB, J_GC };

struct sf_sfd_fs;
struct fs_job;
typedef void (*fs_job_fn)(struct sf_sfd_fs *fs, struct fs_job *j);

/* One store call for the workers; done runs on the loop, then the job is
 * freed (with its buffer reference and out, unless done took them). */
struct fs_job {
    enum fs_job_kind kind;
    struct sf_sfd_fs *fs;
    struct sf_fs_block_id id;
    bool expect;        /* PUT: refuse bytes that do not hash to id */
    bool named;         /* PUT: id is the hash this daemon computed of buf: not hashed again */
    struct fs_buf *buf; /* HASH/PUT input (a reference); GET output */
    int rc;
    struct sf_fs_block_id *ids; /* ENUM / SCRUB (corrupt ones) results */
    size_t n, cap;
    uint64_t bytes;
    struct sf_fs_scrub_stats st;
    fs_job_fn done;
    void *arg;
    uint64_t u; /* caller's word (request number, ...) */
    uint64_t node, inc;
    struct fs_job *next;
};

struct fs_preq;
typedef void (*fs_preq_fn)(struct sf_sfd_fs *fs, struct fs_preq *r, int status,
                           const uint8_t *data, size_t len);

/* A request to another daemon (FS_PUT or FS_GET). cb runs exactly once:
 * with the answer, or with an error when the peer is lost or times out. */
struct fs_preq {
    uint64_t req;
    uint64_t node, inc;
    uint8_t op;
    struct sf_fs_block_id id;
    struct fs_buf *buf; /* PUT: the bytes (a reference) */
    size_t cost;
    uint64_t deadline;
    fs_preq_fn cb;
    void *arg;
    struct fs_preq *next;
};

/* Flow control towards one member: requests in flight and waiting. */
struct fs_peer {
    uint64_t id, inc;
    size_t out_bytes;
    int out_n;
    struct fs_preq *sent;
    struct fs_preq *wait_head, *wait_tail;
    struct fs_peer *next;
};

/* What every client-facing operation starts with, so a lost client can be
 * detached from all of them (its replies are then dropped). */
struct fs_creq {
    struct sf_sfd_client *c;
    uint64_t req;
    struct fs_creq *next;
};

struct fs_wop; /* client write */
struct fs_rop; /* read / fetch from holders */
typedef void (*fs_rop_fn)(struct sf_sfd_fs *fs, struct fs_rop *o, int status, struct fs_buf *b);

struct fs_rop {
    struct fs_creq cr; /* c NULL for internal fetches */
    struct sf_fs_block_id id;
    struct fs_node cand[SF_FS_R_MAX];
    int ncand, next;
    struct fs_node bad[SF_FS_R_MAX]; /* holders that lacked it or had it corrupt */
    bool bad_corrupt[SF_FS_R_MAX];
    int nbad;
    int err;         /* worst error seen (ECORRUPT beats ENOENT beats others) */
    fs_rop_fn done;  /* internal fetch: called instead of replying */
    void *arg;
};

/* A repair task: copy one block of ours to dsts, maybe drop ours after. */
struct fs_task {
    struct sf_fs_block_id id;
    struct fs_node dst[SF_FS_R_MAX];
    int ndst, pending, failed;
    bool drop_after;
    struct fs_buf *buf;
    struct fs_task *next;
};

struct fs_gc;

struct sf_sfd_fs {
    struct sf_sfd *sfd;
    struct sf_fs_config cfg;
    struct fs_tun tun;
    struct sf_fs_store *store;
    char *dir;
    struct fs_node self;
    /* workers */
    pthread_t th[FS_WORKERS];
    int nth;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct fs_job *qhead, *qtail;
    bool stop;
    int jobs_busy; /* submitted, done not yet run (loop thread) */
    /* members, as last polled */
    struct fs_node *live;
    size_t nlive;
    uint64_t epoch; /* membership changes seen */
    uint64_t changed_at; /* sf_now_ms of the last change, 0 once repair was kicked for it */
    struct fs_peer *peers;
    uint64_t next_req;
    int in_busy; /* peer requests being served */
    struct fs_creq *creqs;
    struct sf_timer *tick;
    /* repair */
    struct fs_node *old; /* the set the last complete repair run left behind */
    size_t nold;
    struct fs_node *target; /* the set the current run repairs towards */
    size_t ntarget;
    bool rep_active, rep_again, rep_failed;
    uint64_t rep_retry_at;
    struct fs_task *tasks; /* not started */
    int rep_inflight, rep_left;
    /* scrub */
    struct fs_creq *scrub; /* the admin request waiting for the scrub */
    uint64_t scrub_blocks, scrub_bytes, scrub_corrupt, scrub_repaired;
    int scrub_left;
    /* counters */
    uint64_t under, copies_done, copies_failed, corrupt_found, corrupt_repaired, lost;
    uint64_t surplus_dropped, repair_runs, repair_complete;
    uint64_t writes, write_errs, reads, read_errs, peer_puts, peer_gets, peer_busy;
    size_t write_mem; /* bytes of client blocks held by writes in progress */
    struct fs_gc *gc; /* the GC running, or NULL */
    uint64_t gc_runs, gc_deleted;
};

static void job_submit(struct sf_sfd_fs *fs, struct fs_job *j);
static int gc_run(struct sf_sfd_fs *fs, struct fs_job *j);
static void rop_step(struct sf_sfd_fs *fs, struct fs_rop *o);
static void repair_kick(struct sf_sfd_fs *fs);
static void repair_factors(struct sf_sfd_fs *fs, struct sf_fs_block_id *ids, size_t n);
static void repair_plan(struct sf_sfd_fs *fs, const struct sf_fs_block_id *ids, size_t n,
                        const uint8_t *rs, bool no_drop);
static void repair_pump(struct sf_sfd_fs *fs);

/* ------------------------------------------------------------------ */
/* small helpers */

static struct fs_buf *buf_new(size_t cap)
{
    struct fs_buf *b = malloc(sizeof(*b) + (cap ? cap : 1));
    if (b != NULL) {
        b->refs = 1;
        b->len = 0;
    }
    return b;
}

static struct fs_buf *buf_ref(struct fs_buf *b)
{
    if (b != NULL) {
        b->refs++;
    }
    return b;
}

static void buf_unref(struct fs_buf *b)
{
    if (b != NULL && --b->refs == 0) {
        free(b);
    }
}

/* A node's DHT id (sfd_fs_meta.c's sf_sfd__node_key: the same derivation
 * as the daemon's DHT node), so placement agrees with the DHT. */
static void node_key(uint64_t id, struct sf_dht_id *out)
{
    sf_sfd__node_key(id, out);
}

static bool is_self(const struct sf_sfd_fs *fs, const struct fs_node *n)
{
    return n->id == fs->self.id;
}

/* A node's name for messages: its --name if it is a member, else its id. */
static const char *node_name(struct sf_sfd_fs *fs, uint64_t id, char *buf, size_t cap)
{
    if (id == fs->self.id) {
        return fs->sfd->host;
    }
    struct sf_sfd_peer *p = sf_sfd__peer_find(fs->sfd, id);
    if (p != NULL) {
        return p->name;
    }
    snprintf(buf, cap, "node %016" PRIx64, id);
    return buf;
}

/* The current members with a connection, and this node (sfd->peers). */
static int members(struct sf_sfd_fs *fs, struct fs_node **out, size_t *n)
{
    size_t k = 1;
    for (struct sf_sfd_peer *p = fs->sfd->peers; p != NULL; p = p->next) {
        k += p->conn != NULL;
    }
    if (k > FS_NODES_MAX) {
        k = FS_NODES_MAX;
    }
    struct fs_node *v = malloc(k * sizeof(*v));
    if (v == NULL) {
        return -ENOMEM;
    }
    size_t i = 0;
    v[i++] = fs->self;
    for (struct sf_sfd_peer *p = fs->sfd->peers; p != NULL && i < k; p = p->next) {
        if (p->conn != NULL) {
            v[i].id = p->id;
            v[i].inc = p->inc;
            node_key(p->id, &v[i].key);
            i++;
        }
    }
    *out = v;
    *n = i;
    return 0;
}

/* The r nodes of set closest to block id, nearest first. Returns how many. */
static int place(const struct fs_node *set, size_t n, const struct sf_fs_block_id *id, int r,
                 struct fs_node *out)
{
    struct sf_dht_id *keys = malloc((n ? n : 1) * sizeof(*keys));
    if (keys == NULL) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        keys[i] = set[i].key;
    }
    struct sf_dht_id key;
    sf_fs_block_key(id, &key);
    size_t idx[SF_FS_R_MAX];
    int k = sf_fs_place(&key, keys, n, r, idx);
    for (int i = 0; i < k; i++) {
        out[i] = set[idx[i]];
    }
    free(keys);
    return k;
}

/* ------------------------------------------------------------------ */
/* worker pool */

static int enum_collect(void *arg, const struct sf_fs_block_id *id, uint64_t size)
{
    struct fs_job *j = arg;
    if (j->n == j->cap) {
        size_t cap = j->cap ? j->cap * 2 : 256;
        struct sf_fs_block_id *nv = realloc(j->ids, cap * sizeof(*nv));
        if (nv == NULL) {
            return -ENOMEM;
        }
        j->ids = nv;
        j->cap = cap;
    }
    j->ids[j->n++] = *id;
    j->bytes += size;
    return 0;
}

static void job_run(struct sf_sfd_fs *fs, struct fs_job *j)
{
    size_t bs = sf_fs_store_block_size(fs->store);
    switch (j->kind) {
    case J_HASH:
        sf_fs_block_hash(j->buf->data, j->buf->len, &j->id);
        j->rc = 0;
        break;
    case J_PUT:
        if (j->named) {
            j->rc = sf_fs_block_put_named(fs->store, j->buf->data, j->buf->len, &j->id);
        } else {
            j->rc = sf_fs_block_put(fs->store, j->buf->data, j->buf->len,
                                    j->expect ? &j->id : NULL, &j->id);
        }
        break;
    case J_GET: {
        j->buf = buf_new(bs);
        if (j->buf == NULL) {
            j->rc = -ENOMEM;
            break;
        }
        size_t len = 0;
        j->rc = sf_fs_block_get(fs->store, &j->id, j->buf->data, bs, &len);
        j->buf->len = j->rc == 0 ? len : 0;
        break;
    }
    case J_DEL:
        j->rc = sf_fs_block_delete(fs->store, &j->id);
        break;
    case J_ENUM:
        j->rc = sf_fs_block_enum(fs->store, enum_collect, j, NULL);
        break;
    case J_SCRUB:
        j->rc = sf_fs_block_scrub(fs->store, enum_collect, j, &j->st);
        break;
    case J_GC:
        j->rc = gc_run(fs, j);
        break;
    }
}

static void job_done_on_loop(struct sf_loop *loop, void *arg)
{
    (void)loop;
    struct fs_job *j = arg;
    j->fs->jobs_busy--;
    j->done(j->fs, j);
    buf_unref(j->buf);
    free(j->ids);
    free(j);
}

static void *worker_main(void *arg)
{
    struct sf_sfd_fs *fs = arg;
    pthread_mutex_lock(&fs->mu);
    for (;;) {
        while (fs->qhead == NULL && !fs->stop) {
            pthread_cond_wait(&fs->cv, &fs->mu);
        }
        if (fs->stop) {
            break;
        }
        struct fs_job *j = fs->qhead;
        fs->qhead = j->next;
        if (fs->qhead == NULL) {
            fs->qtail = NULL;
        }
        pthread_mutex_unlock(&fs->mu);
        job_run(fs, j);
        /* Only an allocation failure stops a wake-up; the loop must get
         * every result, so retry rather than lose a reply. */
        while (sf_loop_wake(fs->sfd->loop, job_done_on_loop, j) != 0) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
        pthread_mutex_lock(&fs->mu);
    }
    pthread_mutex_unlock(&fs->mu);
    return NULL;
}

static struct fs_job *job_new(struct sf_sfd_fs *fs, enum fs_job_kind kind, fs_job_fn done,
                              void *arg)
{
    struct fs_job *j = calloc(1, sizeof(*j));
    if (j != NULL) {
        j->fs = fs;
        j->kind = kind;
        j->done = done;
        j->arg = arg;
    }
    return j;
}

static void job_submit(struct sf_sfd_fs *fs, struct fs_job *j)
{
    fs->jobs_busy++;
    pthread_mutex_lock(&fs->mu);
    if (fs->qtail != NULL) {
        fs->qtail->next = j;
    } else {
        fs->qhead = j;
    }
    fs->qtail = j;
    pthread_cond_signal(&fs->cv);
    pthread_mutex_unlock(&fs->mu);
}

/* ------------------------------------------------------------------ */
/* requests to other daemons, with flow control */

static struct fs_peer *fpeer_get(struct sf_sfd_fs *fs, uint64_t id, uint64_t inc)
{
    for (struct fs_peer *q = fs->peers; q != NULL; q = q->next) {
        if (q->id == id && q->inc == inc) {
            return q;
        }
    }
    struct fs_peer *q = calloc(1, sizeof(*q));
    if (q != NULL) {
        q->id = id;
        q->inc = inc;
        q->next = fs->peers;
        fs->peers = q;
    }
    return q;
}

static void preq_finish(struct sf_sfd_fs *fs, struct fs_preq *r, int status, const uint8_t *data,
                        size_t len)
{
    r->cb(fs, r, status, data, len);
    buf_unref(r->buf);
    free(r);
}

/* Put the frame for r on the peer's connection. */
static int preq_transmit(struct sf_sfd_fs *fs, struct fs_preq *r)
{
    struct sf_sfd_peer *p = sf_sfd__peer_find(fs->sfd, r->node);
    if (p == NULL || p->inc != r->inc || p->conn == NULL) {
        return SF_ERR_PEER_GONE;
    }
    struct sf_wire_enc e;
    sf_wire_enc_begin(&e, r->op, sf_sfd__peer_seq(p));
    sf_wire_put_u64(&e, r->req);
    sf_wire_put_bytes(&e, r->id.b, SF_FS_ID_LEN);
    if (r->op == SF_OP_FS_PUT) {
        sf_wire_put_bytes(&e, r->buf->data, r->buf->len);
    }
    int rc = sf_sfd__peer_send(p, &e);
    sf_wire_enc_free(&e);
    return rc;
}

/* Send waiting requests while the peer's window has room (at least one
 * in flight always: a lone request larger than the window still goes). */
static void fpeer_pump(struct sf_sfd_fs *fs, struct fs_peer *q)
{
    while (q->wait_head != NULL &&
           (q->out_n == 0 ||
            (q->out_n < FS_PEER_OUT_N && q->out_bytes + q->wait_head->cost <= FS_PEER_OUT_BYTES))) {
        struct fs_preq *r = q->wait_head;
        q->wait_head = r->next;
        if (q->wait_head == NULL) {
            q->wait_tail = NULL;
        }
        int rc = preq_transmit(fs, r);
        if (rc != 0) {
            preq_finish(fs, r, rc, NULL, 0);
            continue;
        }
        r->deadline = sf_now_ms() + (uint64_t)(fs->tun.req_timeout * 1000.0);
        r->next = q->sent;
        q->sent = r;
        q->out_n++;
        q->out_bytes += r->cost;
    }
}

/* Queue a PUT (buf given) or GET to a member; cb is called exactly once
 * (perhaps before this returns, if the member is already gone). */
static void preq_start(struct sf_sfd_fs *fs, const struct fs_node *to, uint8_t op,
                       const struct sf_fs_block_id *id, struct fs_buf *buf, fs_preq_fn cb,
                       void *arg)
{
    struct fs_preq *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        struct fs_preq tmp = {.node = to->id, .inc = to->inc, .op = op, .id = *id, .cb = cb,
                              .arg = arg};
        cb(fs, &tmp, -ENOMEM, NULL, 0);
        return;
    }
    r->req = ++fs->next_req;
    r->node = to->id;
    r->inc = to->inc;
    r->op = op;
    r->id = *id;
    r->buf = buf_ref(buf);
    r->cost = op == SF_OP_FS_PUT ? buf->len + 128 : fs->cfg.block_size;
    r->cb = cb;
    r->arg = arg;
    struct fs_peer *q = fpeer_get(fs, to->id, to->inc);
    if (q == NULL) {
        preq_finish(fs, r, -ENOMEM, NULL, 0);
        return;
    }
    if (q->wait_tail != NULL) {
        q->wait_tail->next = r;
    } else {
        q->wait_head = r;
    }
    q->wait_tail = r;
    fpeer_pump(fs, q);
}

/* An answer (PUT_ACK or DATA) from a member. */
static void preq_answer(struct sf_sfd_fs *fs, struct sf_sfd_peer *from, uint8_t op, uint64_t req,
                        int status, const uint8_t *data, size_t len)
{
    struct fs_peer *q = NULL;
    for (q = fs->peers; q != NULL; q = q->next) {
        if (q->id == from->id && q->inc == from->inc) {
            break;
        }
    }
    if (q == NULL) {
        return;
    }
    for (struct fs_preq **pp = &q->sent; *pp != NULL; pp = &(*pp)->next) {
        struct fs_preq *r = *pp;
        if (r->req != req) {
            continue;
        }
        if ((r->op == SF_OP_FS_PUT) != (op == SF_OP_FS_PUT_ACK)) {
            fs->sfd->drops[SFD_DROP_PROTO]++;
            return;
        }
        *pp = r->next;
        q->out_n--;
        q->out_bytes -= r->cost;
        preq_finish(fs, r, status, data, len);
        fpeer_pump(fs, q);
        return;
    }
    /* Late answer to a request that timed out: nothing waits for it. */
}

/* Fail every request of a member that is no longer live (or all, at stop). */
static void fpeer_fail(struct sf_sfd_fs *fs, struct fs_peer *q, int status)
{
    while (q->sent != NULL) {
        struct fs_preq *r = q->sent;
        q->sent = r->next;
        preq_finish(fs, r, status, NULL, 0);
    }
    while (q->wait_head != NULL) {
        struct fs_preq *r = q->wait_head;
        q->wait_head = r->next;
        preq_finish(fs, r, status, NULL, 0);
    }
    q->wait_tail = NULL;
    q->out_n = 0;
    q->out_bytes = 0;
}

/* ------------------------------------------------------------------ */
/* serving other daemons: FS_PUT and FS_GET */

static void send_to_member(struct sf_sfd *sfd, uint64_t id, uint64_t inc, uint8_t op,
                           uint64_t req, int status, const struct fs_buf *b)
{
    struct sf_sfd_peer *p = sf_sfd__peer_find(sfd, id);
    if (p == NULL || p->inc != inc || p->conn == NULL) {
        return; /* it left: nobody to answer */
    }
    struct sf_wire_enc e;
    sf_wire_enc_begin(&e, op, sf_sfd__peer_seq(p));
    sf_wire_put_u64(&e, req);
    sf_wire_put_i32(&e, status);
    if (op == SF_OP_FS_DATA) {
        sf_wire_put_bytes(&e, b != NULL ? b->data : NULL, status == 0 && b != NULL ? b->len : 0);
    }
    sf_sfd__peer_send(p, &e);
    sf_wire_enc_free(&e);
}

static void served_put(struct sf_sfd_fs *fs, struct fs_job *j)
{
    fs->in_busy--;
    if (j->rc == SF_FS_ECORRUPT) {
        SF_WARN_SPARSE("a block from node %016" PRIx64 " did not match its name: refused", j->node);
    }
    send_to_member(fs->sfd, j->node, j->inc, SF_OP_FS_PUT_ACK, j->u, j->rc, NULL);
}

static void served_get(struct sf_sfd_fs *fs, struct fs_job *j)
{
    fs->in_busy--;
    if (j->rc == SF_FS_ECORRUPT) {
        fs->corrupt_found++;
        char hex[2 * SF_FS_ID_LEN + 1];
        SF_WARN("block %s is corrupt here: moved aside", sf_fs_block_id_hex(&j->id, hex));
    }
    send_to_member(fs->sfd, j->node, j->inc, SF_OP_FS_DATA, j->u, j->rc, j->buf);
}

int sf_sfd__fs_peer_op(struct sf_sfd *sfd, struct sf_sfd_peer *from, const struct sf_wire_msg *m)
{
    struct sf_sfd_fs *fs = sfd->fs;
    uint64_t req = m->f[0].u;
    switch (m->op) {
    case SF_OP_FS_PUT:
    case SF_OP_FS_GET: {
        uint8_t ack = m->op == SF_OP_FS_PUT ? SF_OP_FS_PUT_ACK : SF_OP_FS_DATA;
        if (m->f[1].len != SF_FS_ID_LEN) {
            sfd->drops[SFD_DROP_PROTO]++;
            return SF_ERR_PROTO;
        }
        if (fs == NULL || fs->store == NULL) {
            send_to_member(sfd, from->id, from->inc, ack, req, -ENODEV, NULL);
            return 0;
        }
        if (m->op == SF_OP_FS_PUT && m->f[2].len > fs->cfg.block_size) {
            send_to_member(sfd, from->id, from->inc, ack, req, -EFBIG, NULL);
            return 0;
        }
        if (fs->in_busy >= FS_IN_MAX) {
            fs->peer_busy++;
            send_to_member(sfd, from->id, from->inc, ack, req, -EBUSY, NULL);
            return 0;
        }
        struct fs_job *j = job_new(fs, m->op == SF_OP_FS_PUT ? J_PUT : J_GET,
                                   m->op == SF_OP_FS_PUT ? served_put : served_get, NULL);
        if (j != NULL && m->op == SF_OP_FS_PUT) {
            /* The frame's bytes live in the connection's buffer: copy. */
            j->buf = buf_new(m->f[2].len);
            if (j->buf == NULL) {
                free(j);
                j = NULL;
            } else {
                memcpy(j->buf->data, m->f[2].p, m->f[2].len);
                j->buf->len = m->f[2].len;
                j->expect = true;
            }
        }
        if (j == NULL) {
            send_to_member(sfd, from->id, from->inc, ack, req, -ENOMEM, NULL);
            return 0;
        }
        memcpy(j->id.b, m->f[1].p, SF_FS_ID_LEN);
        j->u = req;
        j->node = from->id;
        j->inc = from->inc;
        fs->in_busy++;
        if (m->op == SF_OP_FS_PUT) {
            fs->peer_puts++;
        } else {
            fs->peer_gets++;
        }
        job_submit(fs, j);
        return 0;
    }
    case SF_OP_FS_PUT_ACK:
        if (fs != NULL) {
            preq_answer(fs, from, m->op, req, (int)m->f[1].i, NULL, 0);
        }
        return 0;
    case SF_OP_FS_DATA:
        if (fs != NULL) {
            preq_answer(fs, from, m->op, req, (int)m->f[1].i, m->f[2].p, m->f[2].len);
        }
        return 0;
    default:
        sfd->drops[SFD_DROP_PROTO]++;
        return SF_ERR_PROTO;
    }
}

/* ------------------------------------------------------------------ */
/* client requests: bookkeeping */

static void creq_add(struct sf_sfd_fs *fs, struct fs_creq *cr, struct sf_sfd_client *c,
                     uint64_t req)
{
    cr->c = c;
    cr->req = req;
    if (c != NULL) {
        cr->next = fs->creqs;
        fs->creqs = cr;
    }
}

static void creq_del(struct sf_sfd_fs *fs, struct fs_creq *cr)
{
    for (struct fs_creq **pp = &fs->creqs; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == cr) {
            *pp = cr->next;
            return;
        }
    }
}

void sf_sfd__fs_client_gone(struct sf_sfd *sfd, struct sf_sfd_client *c)
{
    if (sfd->fs == NULL) {
        return;
    }
    for (struct fs_creq **pp = &sfd->fs->creqs; *pp != NULL;) {
        struct fs_creq *cr = *pp;
        if (cr->c == c) {
            cr->c = NULL; /* the operation finishes; its reply goes nowhere */
            *pp = cr->next;
        } else {
            pp = &cr->next;
        }
    }
}

static void reply_done(struct sf_sfd_client *c, uint64_t req, int status,
                       const struct sf_fs_block_id *id, const char *msg)
{
    if (c == NULL) {
        return;
    }
    struct sf_wire_enc e;
    sf_wire_enc_begin(&e, SF_OP_FS_BLOCK_DONE, c->seq++);
    sf_wire_put_u64(&e, req);
    sf_wire_put_i32(&e, status);
    sf_wire_put_bytes(&e, id != NULL ? id->b : NULL, id != NULL ? SF_FS_ID_LEN : 0);
    sf_wire_put_str(&e, msg != NULL ? msg : "");
    sf_sfd__client_send(c, &e);
    sf_wire_enc_free(&e);
}

static void reply_data(struct sf_sfd_client *c, uint64_t req, int status, const struct fs_buf *b)
{
    if (c == NULL) {
        return;
    }
    struct sf_wire_enc e;
    sf_wire_enc_begin(&e, SF_OP_FS_DATA, c->seq++);
    sf_wire_put_u64(&e, req);
    sf_wire_put_i32(&e, status);
    sf_wire_put_bytes(&e, b != NULL ? b->data : NULL, status == 0 && b != NULL ? b->len : 0);
    sf_sfd__client_send(c, &e);
    sf_wire_enc_free(&e);
}

static void reply_admin(struct sf_sfd_client *c, uint64_t req, uint8_t verb, int status,
                        const char *text)
{
    if (c == NULL) {
        return;
    }
    struct sf_wire_enc e;
    sf_wire_enc_begin(&e, SF_OP_FS_ADMIN, c->seq++);
    sf_wire_put_u64(&e, req);
    sf_wire_put_u8(&e, verb);
    sf_wire_put_i32(&e, status);
    sf_wire_put_str(&e, text);
    sf_sfd__client_send(c, &e);
    sf_wire_enc_free(&e);
}

/* ------------------------------------------------------------------ */
/* FS_BLOCK_WRITE: hash, place on the r closest live nodes, put on each,
 * answer when every one acknowledged a durable put. */

struct fs_wop {
    struct fs_creq cr;
    struct sf_sfd_fs *fs;
    int r;
    struct fs_buf *buf;
    struct sf_fs_block_id id;
    int pending;
    int status;
    char msg[256];
};

static void wop_target_failed(struct fs_wop *w, uint64_t node, int status)
{
    struct sf_sfd_fs *fs = w->fs;
    if (w->status == 0) {
        char nb[64];
        w->status = status;
        snprintf(w->msg, sizeof(w->msg), "%s could not store the block: %s",
                 node_name(fs, node, nb, sizeof(nb)), sf_strerror(status));
    }
}

static void wop_finish_one(struct fs_wop *w)
{
    if (--w->pending > 0) {
        return;
    }
    struct sf_sfd_fs *fs = w->fs;
    if (w->status != 0) {
        fs->write_errs++;
        char hex[2 * SF_FS_ID_LEN + 1];
        SF_WARN("block write %s failed: %s", sf_fs_block_id_hex(&w->id, hex), w->msg);
    }
    reply_done(w->cr.c, w->cr.req, w->status, w->status == 0 ? &w->id : NULL,
               w->status == 0 ? "" : w->msg);
    creq_del(fs, &w->cr);
    fs->write_mem -= w->buf->len;
    buf_unref(w->buf);
    free(w);
}

static void wop_local_done(struct sf_sfd_fs *fs, struct fs_job *j)
{
    struct fs_wop *w = j->arg;
    (void)fs;
    if (j->rc != 0) {
        wop_target_failed(w, w->fs->self.id, j->rc);
    }
    wop_finish_one(w);
}

static void wop_remote_done(struct sf_sfd_fs *fs, struct fs_preq *r, int status,
                            const uint8_t *data, size_t len)
{
    (void)fs;
    (void)data;
    (void)len;
    struct fs_wop *w = r->arg;
    if (status != 0) {
        wop_target_failed(w, r->node,
                          status == SF_ERR_PEER_GONE ? SF_ERR_PEER_GONE : status);
    }
    wop_finish_one(w);
}

static void wop_hashed(struct sf_sfd_fs *fs, struct fs_job *j)
{
    struct fs_wop *w = j->arg;
    w->id = j->id;
    struct fs_node *set = NULL, tg[SF_FS_R_MAX];
    size_t n = 0;
    int k = members(fs, &set, &n);
    if (k == 0) {
        k = place(set, n, &w->id, w->r, tg);
    }
    free(set);
    /* pending starts at 1 so targets that fail at once cannot finish the
     * write before all are started. */
    w->pending = 1;
    if (k < 0) {
        w->status = k;
        snprintf(w->msg, sizeof(w->msg), "%s: cannot place the block: %s", fs->sfd->host,
                 sf_strerror(k));
    } else if (k < w->r) {
        w->status = -EHOSTUNREACH;
        snprintf(w->msg, sizeof(w->msg),
                 "%d replicas asked but only %d live node%s (%s and %zu member%s)", w->r, k,
                 k == 1 ? "" : "s", fs->sfd->host, n - 1, n == 2 ? "" : "s");
    } else {
        for (int i = 0; i < k; i++) {
            w->pending++;
            if (is_self(fs, &tg[i])) {
                struct fs_job *pj = job_new(fs, J_PUT, wop_local_done, w);
                if (pj == NULL) {
                    wop_target_failed(w, fs->self.id, -ENOMEM);
                    w->pending--;
                    continue;
                }
                pj->buf = buf_ref(w->buf);
                pj->id = w->id;
                /* w->buf is ours (copied from the client's frame) and the
                 * J_HASH job above named it: hashing it again in the store
                 * would only double the CPU per written byte. */
                pj->named = true;
                job_submit(fs, pj);
            } else {
                preq_start(fs, &tg[i], SF_OP_FS_PUT, &w->id, w->buf, wop_remote_done, w);
            }
        }
    }
    wop_finish_one(w);
}

static int on_block_write(struct sf_sfd_fs *fs, struct sf_sfd_client *c,
                          const struct sf_wire_msg *m)
{
    uint64_t req = m->f[0].u;
    int r = m->f[1].u == 0 ? fs->cfg.replicas : (int)m->f[1].u;
    if (r < 1 || r > SF_FS_R_MAX) {
        reply_done(c, req, -EINVAL, NULL, "replicas must be 0 (default) or 1..16");
        return 0;
    }
    if (m->f[2].len > fs->cfg.block_size) {
        char msg[128];
        snprintf(msg, sizeof(msg), "block of %u bytes is over the block size %zu", m->f[2].len,
                 fs->cfg.block_size);
        reply_done(c, req, -EFBIG, NULL, msg);
        return 0;
    }
    if (fs->write_mem + m->f[2].len > FS_WRITE_MEM_MAX) {
        /* Clients keep a window of writes in flight; this bounds the
         * daemon's memory when many do at once. */
        char msg[SFD_NAME_MAX + 96];
        snprintf(msg, sizeof(msg), "%s has %zu MiB of block writes in progress: retry later",
                 fs->sfd->host, fs->write_mem >> 20);
        reply_done(c, req, -ENOBUFS, NULL, msg);
        return 0;
    }
    struct fs_wop *w = calloc(1, sizeof(*w));
    struct fs_job *j = job_new(fs, J_HASH, wop_hashed, w);
    if (w != NULL) {
        w->buf = buf_new(m->f[2].len);
    }
    if (w == NULL || j == NULL || w->buf == NULL) {
        if (w != NULL) {
            buf_unref(w->buf);
        }
        free(w);
        free(j);
        reply_done(c, req, -ENOMEM, NULL, "out of memory");
        return 0;
    }
    memcpy(w->buf->data, m->f[2].p, m->f[2].len);
    w->buf->len = m->f[2].len;
    fs->write_mem += w->buf->len;
    w->fs = fs;
    w->r = r;
    creq_add(fs, &w->cr, c, req);
    fs->writes++;
    j->buf = buf_ref(w->buf);
    job_submit(fs, j);
    return 0;
}

/* ------------------------------------------------------------------ */
/* reading: try the closest live nodes in order; re-put a good copy on the
 * ones that lacked it or had it corrupt */

static void rop_free(struct sf_sfd_fs *fs, struct fs_rop *o)
{
    creq_del(fs, &o->cr);
    free(o);
}

static void reput_local_done(struct sf_sfd_fs *fs, struct fs_job *j)
{
    if (j->rc == 0 && j->u) {
        fs->corrupt_repaired++;
    } else if (j->rc != 0) {
        char hex[2 * SF_FS_ID_LEN + 1];
        SF_WARN("re-put of block %s here failed: %s", sf_fs_block_id_hex(&j->id, hex),
                sf_strerror(j->rc));
    }
}

static void reput_remote_done(struct sf_sfd_fs *fs, struct fs_preq *r, int status,
                              const uint8_t *data, size_t len)
{
    (void)data;
    (void)len;
    if (status == 0 && r->arg != NULL) {
        fs->corrupt_repaired++;
    }
}

/* Put b on node n (here or there), fire and forget; corrupt: count it as
 * a repair when it succeeds. */
static void reput(struct sf_sfd_fs *fs, const struct fs_node *n, const struct sf_fs_block_id *id,
                  struct fs_buf *b, bool corrupt)
{
    if (is_self(fs, n)) {
        struct fs_job *j = job_new(fs, J_PUT, reput_local_done, NULL);
        if (j == NULL) {
            return;
        }
        j->buf = buf_ref(b);
        j->id = *id;
        j->expect = true;
        j->u = corrupt;
        job_submit(fs, j);
    } else {
        preq_start(fs, n, SF_OP_FS_PUT, id, b, reput_remote_done, corrupt ? (void *)1 : NULL);
    }
}

static void rop_result(struct sf_sfd_fs *fs, struct fs_rop *o, const struct fs_node *from,
                       int status, struct fs_buf *b)
{
    if (status == 0) {
        for (int i = 0; i < o->nbad; i++) {
            reput(fs, &o->bad[i], &o->id, b, o->bad_corrupt[i]);
        }
        if (o->done != NULL) {
            o->done(fs, o, 0, b);
        } else {
            reply_data(o->cr.c, o->cr.req, 0, b);
        }
        rop_free(fs, o);
        return;
    }
    if ((status == -ENOENT || status == SF_FS_ECORRUPT) && o->nbad < SF_FS_R_MAX) {
        o->bad_corrupt[o->nbad] = status == SF_FS_ECORRUPT;
        o->bad[o->nbad++] = *from;
    }
    /* Keep the most telling error: corrupt > absent > transport trouble. */
    if (o->err == 0 || status == SF_FS_ECORRUPT ||
        (status == -ENOENT && o->err != SF_FS_ECORRUPT)) {
        o->err = status;
    }
    rop_step(fs, o);
}

static void rop_local_done(struct sf_sfd_fs *fs, struct fs_job *j)
{
    struct fs_rop *o = j->arg;
    if (j->rc == SF_FS_ECORRUPT) {
        fs->corrupt_found++;
        char hex[2 * SF_FS_ID_LEN + 1];
        SF_WARN("block %s is corrupt here: moved aside, fetching a good copy",
                sf_fs_block_id_hex(&j->id, hex));
    }
    rop_result(fs, o, &fs->self, j->rc, j->buf);
}

static void rop_verified(struct sf_sfd_fs *fs, struct fs_job *j)
{
    struct fs_rop *o = j->arg;
    struct fs_node from = {.id = j->node, .inc = j->inc};
    node_key(j->node, &from.key);
    int status = 0;
    if (sf_fs_block_id_cmp(&j->id, &o->id) != 0) {
        /* Damaged in transit (or by the holder): try the next holder and
         * re-put the good copy here afterwards, as for a corrupt one. */
        char hex[2 * SF_FS_ID_LEN + 1];
        SF_WARN("block %s from node %016" PRIx64 " does not match its id: trying another copy",
                sf_fs_block_id_hex(&o->id, hex), j->node);
        fs->corrupt_found++;
        status = SF_FS_ECORRUPT;
    }
    rop_result(fs, o, &from, status, status == 0 ? j->buf : NULL);
}

static void rop_remote_done(struct sf_sfd_fs *fs, struct fs_preq *r, int status,
                            const uint8_t *data, size_t len)
{
    struct fs_rop *o = r->arg;
    struct fs_node from = {.id = r->node, .inc = r->inc};
    node_key(r->node, &from.key);
    struct fs_buf *b = NULL;
    struct fs_job *j = NULL;
    if (status == 0) {
        if (len > fs->cfg.block_size) {
            status = -EFBIG;
        } else if ((b = buf_new(len)) == NULL || (j = job_new(fs, J_HASH, rop_verified, o)) == NULL) {
            status = -ENOMEM;
        } else {
            /* FS_DATA's payload is outside the frame MAC (sfd_auth.c):
             * it is used only once a worker has hashed it to the id this
             * request asked for (rop_verified). */
            memcpy(b->data, data, len);
            b->len = len;
            j->buf = b;
            j->node = r->node;
            j->inc = r->inc;
            job_submit(fs, j);
            return;
        }
    }
    rop_result(fs, o, &from, status, NULL);
    buf_unref(b);
}

static void rop_step(struct sf_sfd_fs *fs, struct fs_rop *o)
{
    if (o->next >= o->ncand) {
        int st = o->err != 0 ? o->err : -ENOENT;
        if (o->done != NULL) {
            o->done(fs, o, st, NULL);
        } else {
            fs->read_errs++;
            reply_data(o->cr.c, o->cr.req, st, NULL);
        }
        rop_free(fs, o);
        return;
    }
    struct fs_node *n = &o->cand[o->next++];
    if (is_self(fs, n)) {
        struct fs_job *j = job_new(fs, J_GET, rop_local_done, o);
        if (j == NULL) {
            rop_result(fs, o, n, -ENOMEM, NULL);
            return;
        }
        j->id = o->id;
        job_submit(fs, j);
    } else {
        preq_start(fs, n, SF_OP_FS_GET, &o->id, NULL, rop_remote_done, o);
    }
}

/* Start a read of id from the closest live nodes (without this one if
 * skip_self). done NULL: reply to the client in cr. */
static int rop_start(struct sf_sfd_fs *fs, struct sf_sfd_client *c, uint64_t req,
                     const struct sf_fs_block_id *id, bool skip_self, fs_rop_fn done, void *arg)
{
    struct fs_rop *o = calloc(1, sizeof(*o));
    if (o == NULL) {
        return -ENOMEM;
    }
    struct fs_node *set = NULL, all[SF_FS_R_MAX];
    size_t n = 0;
    int rc = members(fs, &set, &n);
    int k = rc == 0 ? place(set, n, id, (int)(n < SF_FS_R_MAX ? n : SF_FS_R_MAX), all) : rc;
    free(set);
    if (k < 0) {
        free(o);
        return k;
    }
    for (int i = 0; i < k; i++) {
        if (!(skip_self && is_self(fs, &all[i]))) {
            o->cand[o->ncand++] = all[i];
        }
    }
    o->id = *id;
    o->done = done;
    o->arg = arg;
    creq_add(fs, &o->cr, c, req);
    rop_step(fs, o);
    return 0;
}

static int on_block_read(struct sf_sfd_fs *fs, struct sf_sfd_client *c,
                         const struct sf_wire_msg *m)
{
    uint64_t req = m->f[0].u;
    if (m->f[1].len != SF_FS_ID_LEN) {
        reply_data(c, req, -EINVAL, NULL);
        return 0;
    }
    struct sf_fs_block_id id;
    memcpy(id.b, m->f[1].p, SF_FS_ID_LEN);
    fs->reads++;
    int rc = rop_start(fs, c, req, &id, false, NULL, NULL);
    if (rc != 0) {
        reply_data(c, req, rc, NULL);
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* repair: after a membership change, copy the blocks this node is the
 * planner's source for to their new targets; drop a copy that is no
 * longer a target only once every target acknowledged it */

static bool same_set(const struct fs_node *a, size_t na, const struct fs_node *b, size_t nb)
{
    if (na != nb) {
        return false;
    }
    for (size_t i = 0; i < na; i++) {
        bool found = false;
        for (size_t k = 0; k < nb && !found; k++) {
            found = a[i].id == b[k].id && a[i].inc == b[k].inc;
        }
        if (!found) {
            return false;
        }
    }
    return true;
}

static void run_end(struct sf_sfd_fs *fs)
{
    fs->rep_active = false;
    fs->repair_runs++;
    if (!fs->rep_failed) {
        free(fs->old);
        fs->old = fs->target;
        fs->nold = fs->ntarget;
        fs->target = NULL;
        fs->ntarget = 0;
        fs->repair_complete++;
    } else {
        fs->rep_retry_at = sf_now_ms() + FS_REPAIR_RETRY_MS;
    }
    if (fs->rep_again) {
        fs->rep_again = false;
        repair_kick(fs);
    }
}

static void task_end(struct sf_sfd_fs *fs, struct fs_task *t)
{
    if (t->failed > 0) {
        fs->rep_failed = true;
    }
    buf_unref(t->buf);
    fs->rep_inflight--;
    fs->rep_left--;
    if (t->failed == 0) {
        fs->under--; /* a failed one stays under-replicated until the retry */
    }
    free(t);
    if (fs->rep_left == 0) {
        run_end(fs);
    } else {
        repair_pump(fs);
    }
}

static void task_dropped(struct sf_sfd_fs *fs, struct fs_job *j)
{
    if (j->rc == 0) {
        fs->surplus_dropped++;
    }
    task_end(fs, j->arg);
}

/* One put of a task finished (or the task's own reference, see
 * task_read): once all are, drop our copy if it is surplus. */
static void task_step(struct sf_sfd_fs *fs, struct fs_task *t)
{
    if (--t->pending > 0) {
        return;
    }
    /* A copy is dropped only if the membership is still the one the plan
     * was made for: a plan for a set that is already gone may call a
     * block surplus here that the set now live wants here (the next run
     * decides again, from this node's store as it is). */
    if (t->failed == 0 && t->drop_after && same_set(fs->live, fs->nlive, fs->target, fs->ntarget)) {
        struct fs_job *j = job_new(fs, J_DEL, task_dropped, t);
        if (j != NULL) {
            j->id = t->id;
            job_submit(fs, j);
            return;
        }
    }
    task_end(fs, t);
}

static void task_copied(struct sf_sfd_fs *fs, struct fs_preq *r, int status, const uint8_t *data,
                        size_t len)
{
    (void)data;
    (void)len;
    struct fs_task *t = r->arg;
    if (status == 0) {
        fs->copies_done++;
    } else {
        fs->copies_failed++;
        t->failed++;
        char nb[64], hex[2 * SF_FS_ID_LEN + 1];
        SF_WARN_SPARSE("repair copy of block %s to %s failed: %s",
                       sf_fs_block_id_hex(&t->id, hex), node_name(fs, r->node, nb, sizeof(nb)),
                       sf_strerror(status));
    }
    task_step(fs, t);
}

static void task_read(struct sf_sfd_fs *fs, struct fs_job *j)
{
    struct fs_task *t = j->arg;
    if (j->rc != 0) {
        if (j->rc == SF_FS_ECORRUPT) {
            fs->corrupt_found++;
        }
        /* Gone meanwhile (GC) or corrupt here: another holder, or the next
         * run, takes care of it. */
        if (j->rc != -ENOENT) {
            t->failed++;
            fs->copies_failed += (uint64_t)t->ndst;
        }
        task_end(fs, t);
        return;
    }
    t->buf = buf_ref(j->buf);
    /* One extra reference while the puts start, so one that fails at once
     * cannot end the task under our feet. */
    t->pending = t->ndst + 1;
    for (int i = 0; i < t->ndst; i++) {
        preq_start(fs, &t->dst[i], SF_OP_FS_PUT, &t->id, t->buf, task_copied, t);
    }
    task_step(fs, t);
}

static void repair_pump(struct sf_sfd_fs *fs)
{
    while (fs->rep_inflight < FS_REPAIR_INFLIGHT && fs->tasks != NULL) {
        struct fs_task *t = fs->tasks;
        fs->tasks = t->next;
        fs->rep_inflight++;
        if (t->ndst == 0) {
            /* Surplus with every target... already ourselves: nothing. */
            task_end(fs, t);
            continue;
        }
        struct fs_job *j = job_new(fs, J_GET, task_read, t);
        if (j == NULL) {
            t->failed++;
            task_end(fs, t);
            continue;
        }
        j->id = t->id;
        job_submit(fs, j);
    }
}

struct plan_ctx {
    struct sf_sfd_fs *fs;
    const struct sf_fs_block_id *ids;
    struct fs_task **tail;
};

static int plan_task(void *arg, const struct sf_sfd_fs_task *pt)
{
    struct plan_ctx *pc = arg;
    struct sf_sfd_fs *fs = pc->fs;
    struct fs_task *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return -ENOMEM;
    }
    t->id = pc->ids[pt->block];
    for (int i = 0; i < pt->ndst; i++) {
        t->dst[t->ndst++] = fs->target[pt->dst[i]];
    }
    t->drop_after = pt->drop_after;
    *pc->tail = t;
    pc->tail = &t->next;
    fs->rep_left++;
    return 0;
}

/* Plan and start the copies for this node's blocks ids[0..n) with their
 * factors rs (NULL: the default for all, and no_drop). */
static void repair_plan(struct sf_sfd_fs *fs, const struct sf_fs_block_id *ids, size_t n,
                        const uint8_t *rs, bool no_drop)
{
    struct sf_dht_id *oldk = calloc(fs->nold ? fs->nold : 1, sizeof(*oldk));
    struct sf_dht_id *newk = calloc(fs->ntarget ? fs->ntarget : 1, sizeof(*newk));
    struct plan_ctx pc = {.fs = fs, .ids = ids, .tail = &fs->tasks};
    int rc = -ENOMEM;
    if (oldk != NULL && newk != NULL) {
        for (size_t i = 0; i < fs->nold; i++) {
            oldk[i] = fs->old[i].key;
        }
        for (size_t i = 0; i < fs->ntarget; i++) {
            newk[i] = fs->target[i].key;
        }
        rc = sf_sfd__fs_plan(&fs->self.key, oldk, fs->nold, newk, fs->ntarget, ids, n, rs,
                             fs->cfg.replicas, no_drop, plan_task, &pc, &fs->lost);
    }
    free(oldk);
    free(newk);
    if (rc != 0) {
        /* Tasks planned so far still run; the run counts as failed and is
         * retried. */
        SF_ERR("repair planning failed: %s", sf_strerror(rc));
        fs->rep_failed = true;
    }
    fs->under = (uint64_t)fs->rep_left;
    if (fs->rep_left > 0) {
        SF_INFO("repair: %d block%s to copy or move after a membership change%s", fs->rep_left,
                fs->rep_left == 1 ? "" : "s",
                no_drop ? " (factors unknown: copying only, dropping nothing)" : "");
        repair_pump(fs);
    } else {
        run_end(fs);
    }
}

static void repair_enumerated(struct sf_sfd_fs *fs, struct fs_job *j)
{
    fs->rep_left = 0;
    if (j->rc != 0) {
        SF_ERR("repair: cannot list the block store: %s", sf_strerror(j->rc));
        fs->rep_failed = true;
        run_end(fs);
        return;
    }
    if (j->n == 0) {
        run_end(fs);
        return;
    }
    /* Each block's factor is its files' (the metadata layer knows them);
     * the list of blocks goes with the request. */
    repair_factors(fs, j->ids, j->n);
    j->ids = NULL;
}

static void repair_kick(struct sf_sfd_fs *fs)
{
    if (fs->store == NULL) {
        return;
    }
    if (fs->rep_active) {
        fs->rep_again = true;
        return;
    }
    struct fs_job *j = job_new(fs, J_ENUM, repair_enumerated, NULL);
    struct fs_node *cur = malloc((fs->nlive ? fs->nlive : 1) * sizeof(*cur));
    if (j == NULL || cur == NULL) {
        free(j);
        free(cur);
        fs->rep_retry_at = sf_now_ms() + FS_REPAIR_RETRY_MS;
        return;
    }
    memcpy(cur, fs->live, fs->nlive * sizeof(*cur));
    free(fs->target);
    fs->target = cur;
    fs->ntarget = fs->nlive;
    fs->rep_active = true;
    fs->rep_failed = false;
    fs->rep_retry_at = 0;
    job_submit(fs, j);
}

/* ------------------------------------------------------------------ */
/* the tick: membership changes, timeouts */

static void on_fs_tick(struct sf_loop *loop, void *arg)
{
    struct sf_sfd_fs *fs = arg;
    fs->tick = NULL;
    uint64_t now = sf_now_ms();
    struct fs_node *cur = NULL;
    size_t ncur = 0;
    if (members(fs, &cur, &ncur) == 0) {
        if (!same_set(cur, ncur, fs->live, fs->nlive)) {
            free(fs->live);
            fs->live = cur;
            fs->nlive = ncur;
            fs->epoch++;
            /* Repair waits for the membership to settle: a healed node
             * rejoins its peers one by one, and planning for each step
             * would move blocks towards sets that lasted milliseconds. */
            fs->changed_at = now;
        } else {
            free(cur);
        }
    }
    /* Requests to members that left fail now; sent ones past their
     * deadline fail too (the member may still answer: ignored then). */
    for (struct fs_peer **pp = &fs->peers; *pp != NULL;) {
        struct fs_peer *q = *pp;
        bool alive = false;
        for (size_t i = 0; i < fs->nlive && !alive; i++) {
            alive = fs->live[i].id == q->id && fs->live[i].inc == q->inc;
        }
        if (!alive) {
            *pp = q->next;
            fpeer_fail(fs, q, SF_ERR_PEER_GONE);
            free(q);
            continue;
        }
        bool freed = false;
        for (struct fs_preq **rp = &q->sent; *rp != NULL;) {
            struct fs_preq *r = *rp;
            if (now > r->deadline) {
                *rp = r->next;
                q->out_n--;
                q->out_bytes -= r->cost;
                preq_finish(fs, r, -ETIMEDOUT, NULL, 0);
                freed = true;
            } else {
                rp = &r->next;
            }
        }
        if (freed) {
            fpeer_pump(fs, q);
        }
        pp = &q->next;
    }
    if (fs->changed_at != 0 && now - fs->changed_at >= FS_SETTLE_MS) {
        fs->changed_at = 0;
        repair_kick(fs);
    } else if (!fs->rep_active && fs->rep_retry_at != 0 && now >= fs->rep_retry_at &&
               fs->changed_at == 0) {
        repair_kick(fs);
    }
    sf_loop_timer(loop, FS_TICK_MS, on_fs_tick, fs, &fs->tick);
}

/* ------------------------------------------------------------------ */
/* GC of this node's store: the live set is every block of every file any
 * member's metadata holds (all versions a holder still has), data blocks
 * and block-list blocks; the cutoff is taken before the set is asked for,
 * minus gc_grace, so blocks of files still being written survive. */

/* The blocks every file references, and each one's factor: for GC (free
 * the rest here) or for repair (the factor of each block held here). */
struct fs_gc {
    struct fs_creq cr; /* GC: the admin request */
    struct sf_sfd_fs *fs;
    bool for_repair;
    int64_t keep_since_ns;
    struct sf_fs_inode *inodes;
    size_t n_inodes;
    struct sf_fs_block_id *live;
    uint8_t *live_r; /* the referencing file's factor, per live entry */
    size_t n_live, cap_live;
    uint8_t cur_r;   /* factor of the file being resolved */
    uint64_t deleted, list_blocks;
    /* repair: this node's blocks and (filled by the worker) their factors,
     * 0 where no file references the block */
    struct sf_fs_block_id *held;
    uint8_t *held_r;
    size_t n_held;
    char why[256];
};

/* A block fetched for a worker from the other holders: the worker waits on
 * cv; the loop runs the read and fills in the result. */
struct gc_fetch {
    struct sf_sfd_fs *fs;
    struct sf_fs_block_id id;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    int rc;
    uint8_t *data;
    size_t len;
};

static void gc_fetch_finish(struct gc_fetch *f, int rc, const struct fs_buf *b)
{
    uint8_t *copy = NULL;
    if (rc == 0 && (copy = malloc(b->len ? b->len : 1)) == NULL) {
        rc = -ENOMEM;
    }
    if (copy != NULL) {
        memcpy(copy, b->data, b->len);
    }
    pthread_mutex_lock(&f->mu);
    f->rc = rc;
    f->data = copy;
    f->len = copy != NULL ? b->len : 0;
    f->done = true;
    pthread_cond_signal(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

static void gc_fetched(struct sf_sfd_fs *fs, struct fs_rop *o, int status, struct fs_buf *b)
{
    (void)fs;
    gc_fetch_finish(o->arg, status, b);
}

static void gc_fetch_on_loop(struct sf_loop *loop, void *arg)
{
    (void)loop;
    struct gc_fetch *f = arg;
    int rc = rop_start(f->fs, NULL, 0, &f->id, true, gc_fetched, f);
    if (rc != 0) {
        gc_fetch_finish(f, rc, NULL);
    }
}

static int gc_add(struct fs_gc *g, const struct sf_fs_block_id *ids, size_t n)
{
    if (g->n_live + n > g->cap_live) {
        size_t cap = g->cap_live ? g->cap_live : 1024;
        while (cap < g->n_live + n) {
            cap *= 2;
        }
        struct sf_fs_block_id *nv = realloc(g->live, cap * sizeof(*nv));
        if (nv == NULL) {
            return -ENOMEM;
        }
        g->live = nv;
        uint8_t *nr = realloc(g->live_r, cap);
        if (nr == NULL) {
            return -ENOMEM;
        }
        g->live_r = nr;
        g->cap_live = cap;
    }
    memcpy(g->live + g->n_live, ids, n * sizeof(*ids));
    memset(g->live_r + g->n_live, g->cur_r, n);
    g->n_live += n;
    return 0;
}

struct id_r {
    struct sf_fs_block_id id;
    uint8_t r;
};

static int id_r_order(const void *a, const void *b)
{
    return sf_fs_block_id_cmp(&((const struct id_r *)a)->id, &((const struct id_r *)b)->id);
}

/* Worker, repair: held_r[i] = the largest factor of the files that
 * reference held[i] (0: none does). */
static int gc_factors(struct fs_gc *g)
{
    struct id_r *v = malloc((g->n_live ? g->n_live : 1) * sizeof(*v));
    g->held_r = calloc(g->n_held ? g->n_held : 1, 1);
    if (v == NULL || g->held_r == NULL) {
        free(v);
        return -ENOMEM;
    }
    for (size_t i = 0; i < g->n_live; i++) {
        v[i].id = g->live[i];
        v[i].r = g->live_r[i];
    }
    qsort(v, g->n_live, sizeof(*v), id_r_order);
    for (size_t i = 0; i < g->n_held; i++) {
        /* First entry not below held[i], then every equal one. */
        size_t lo = 0, hi = g->n_live;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (sf_fs_block_id_cmp(&v[mid].id, &g->held[i]) < 0) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        for (; lo < g->n_live && sf_fs_block_id_cmp(&v[lo].id, &g->held[i]) == 0; lo++) {
            if (v[lo].r > g->held_r[i]) {
                g->held_r[i] = v[lo].r;
            }
        }
    }
    free(v);
    return 0;
}

struct gc_ctx {
    struct sf_sfd_fs *fs;
    struct fs_gc *g;
};

/* Block-list reader for sf_fs_blist_resolve (worker thread): the list
 * block is live too; read here, else from the other holders. */
static int gc_get(void *arg, const struct sf_fs_block_id *id, void *buf, size_t cap, size_t *len)
{
    struct gc_ctx *x = arg;
    int rc = gc_add(x->g, id, 1);
    if (rc != 0) {
        return rc;
    }
    x->g->list_blocks++;
    rc = sf_fs_block_get(x->fs->store, id, buf, cap, len);
    if (rc != -ENOENT && rc != SF_FS_ECORRUPT) {
        return rc;
    }
    struct gc_fetch *f = calloc(1, sizeof(*f));
    if (f == NULL) {
        return -ENOMEM;
    }
    f->fs = x->fs;
    f->id = *id;
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    if (sf_loop_wake(x->fs->sfd->loop, gc_fetch_on_loop, f) != 0) {
        free(f);
        return -ENOMEM;
    }
    pthread_mutex_lock(&f->mu);
    bool stopping = false;
    while (!f->done && !stopping) {
        /* The read is bounded by the request timeouts; the daemon
         * stopping (no loop to finish it) is checked between waits. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&f->cv, &f->mu, &ts);
        pthread_mutex_lock(&x->fs->mu);
        stopping = x->fs->stop;
        pthread_mutex_unlock(&x->fs->mu);
    }
    pthread_mutex_unlock(&f->mu);
    if (!f->done) {
        return -ECANCELED; /* f stays: the loop that would finish it is gone */
    }
    rc = f->rc;
    if (rc == 0 && f->len > cap) {
        rc = -EFBIG;
    }
    if (rc == 0) {
        memcpy(buf, f->data, f->len);
        *len = f->len;
    }
    free(f->data);
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
    free(f);
    return rc;
}

/* Worker: resolve every file's blocks into the live set, then collect. */
static int gc_run(struct sf_sfd_fs *fs, struct fs_job *j)
{
    struct fs_gc *g = j->arg;
    struct gc_ctx x = {.fs = fs, .g = g};
    struct sf_fs_block_id *data = NULL;
    size_t cap = 0;
    int rc = 0;
    for (size_t i = 0; i < g->n_inodes && rc == 0; i++) {
        const struct sf_fs_inode *ino = &g->inodes[i];
        g->cur_r = ino->replicas <= SF_FS_R_MAX ? ino->replicas : SF_FS_R_MAX;
        uint64_t nb = 0;
        rc = sf_fs_inode_shape(ino->size, ino->block_size, &nb, NULL, NULL);
        if (rc != 0) {
            break;
        }
        if (nb > cap) {
            struct sf_fs_block_id *nv = realloc(data, (size_t)nb * sizeof(*nv));
            if (nv == NULL) {
                rc = -ENOMEM;
                break;
            }
            data = nv;
            cap = (size_t)nb;
        }
        rc = sf_fs_blist_resolve(ino, gc_get, &x, data, cap);
        if (rc == 0) {
            rc = gc_add(g, data, (size_t)nb);
        }
        if (rc != 0) {
            snprintf(g->why, sizeof(g->why),
                     "cannot resolve the block list of a file of %llu bytes: %s",
                     (unsigned long long)ino->size, sf_strerror(rc));
        }
    }
    free(data);
    if (rc == 0 && g->for_repair) {
        return gc_factors(g);
    }
    if (rc == 0) {
        rc = sf_fs_block_gc(fs->store, g->live, g->n_live, g->keep_since_ns, &g->deleted);
        if (rc != 0) {
            snprintf(g->why, sizeof(g->why), "store GC failed: %s", sf_strerror(rc));
        }
    }
    return rc;
}

static void gc_free(struct fs_gc *g)
{
    free(g->inodes);
    free(g->live);
    free(g->live_r);
    free(g->held);
    free(g->held_r);
    free(g);
}

static void gc_end(struct sf_sfd_fs *fs, struct fs_gc *g, int rc, const char *text)
{
    reply_admin(g->cr.c, g->cr.req, 3, rc, text);
    creq_del(fs, &g->cr);
    gc_free(g);
    fs->gc = NULL;
}

static void gc_collected(struct sf_sfd_fs *fs, struct fs_job *j)
{
    struct fs_gc *g = j->arg;
    char text[512];
    if (j->rc != 0) {
        snprintf(text, sizeof(text), "gc: %s; nothing more freed\n", g->why);
        SF_ERR("block GC: %s", g->why);
        gc_end(fs, g, j->rc, text);
        return;
    }
    fs->gc_runs++;
    fs->gc_deleted += g->deleted;
    if (g->deleted > 0) {
        SF_INFO("block GC: %llu unreferenced block%s freed", (unsigned long long)g->deleted,
                g->deleted == 1 ? "" : "s");
    }
    snprintf(text, sizeof(text), "deleted=%llu\nfiles=%zu\nlive_refs=%zu\nlist_blocks=%llu\n",
             (unsigned long long)g->deleted, g->n_inodes, g->n_live,
             (unsigned long long)g->list_blocks);
    gc_end(fs, g, 0, text);
}

static void gc_files(void *arg, int status, const struct sf_fs_inode *inodes, size_t n)
{
    struct fs_gc *g = arg;
    struct sf_sfd_fs *fs = g->fs;
    if (status != 0) {
        char text[256];
        snprintf(text, sizeof(text),
                 "gc: the set of referenced blocks is incomplete (a member's metadata did not "
                 "answer: %s); nothing freed\n",
                 sf_strerror(status));
        gc_end(fs, g, status, text);
        return;
    }
    struct fs_job *j = job_new(fs, J_GC, gc_collected, g);
    g->inodes = malloc((n ? n : 1) * sizeof(*inodes));
    if (j == NULL || g->inodes == NULL) {
        free(j);
        gc_end(fs, g, -ENOMEM, "gc: out of memory; nothing freed\n");
        return;
    }

    memcpy(g->inodes, inodes, n * sizeof(*inodes));
    g->n_inodes = n;
    job_submit(fs, j);
}

static int gc_start(struct sf_sfd_fs *fs, struct sf_sfd_client *c, uint64_t req)
{
    if (fs->gc != NULL) {
        reply_admin(c, req, 3, -EBUSY, "gc: a GC is already running\n");
        return 0;
    }
    struct fs_gc *g = calloc(1, sizeof(*g));
    if (g == NULL) {
        reply_admin(c, req, 3, -ENOMEM, "gc: out of memory\n");
        return 0;
    }
    /* The cutoff first: a block put after it survives whatever the live
     * set says (fs/sf_fs.h), and gc_grace covers files still being written
     * whose first blocks went out before it. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    g->keep_since_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec -
                       (int64_t)(fs->tun.gc_grace * 1e9);
    g->fs = fs;
    creq_add(fs, &g->cr, c, req);
    fs->gc = g;
    int rc = sf_sfd__fs_meta_live_files(fs->sfd, gc_files, g);
    if (rc != 0) {
        gc_end(fs, g, rc,
               rc == -ENOSYS ? "gc: the metadata layer is not running here: without the set of "
                               "referenced blocks nothing is freed\n"
                             : "gc: cannot ask for the set of referenced blocks; nothing freed\n");
    }
    return 0;
}

/* Repair without the factors: the default for every block, and no copy
 * dropped (one may look surplus only because its factor is unknown). */
static void repair_blind(struct fs_gc *g, int why)
{
    struct sf_sfd_fs *fs = g->fs;
    SF_INFO("repair: block factors unknown (%s): copying only", sf_strerror(why));
    /* Unless there is no metadata layer to ask, the run counts as failed:
     * it is retried (and surplus copies dropped) once the metadata
     * answers. */
    if (why != -ENOSYS) {
        fs->rep_failed = true;
    }
    repair_plan(fs, g->held, g->n_held, NULL, true);
    gc_free(g);
}

static void repair_resolved(struct sf_sfd_fs *fs, struct fs_job *j)
{
    struct fs_gc *g = j->arg;
    if (j->rc != 0) {
        repair_blind(g, j->rc);
        return;
    }
    repair_plan(fs, g->held, g->n_held, g->held_r, false);
    gc_free(g);
}

static void repair_files(void *arg, int status, const struct sf_fs_inode *inodes, size_t n)
{
    struct fs_gc *g = arg;
    if (status != 0) {
        repair_blind(g, status);
        return;
    }
    struct fs_job *j = job_new(g->fs, J_GC, repair_resolved, g);
    g->inodes = malloc((n ? n : 1) * sizeof(*inodes));
    if (j == NULL || g->inodes == NULL) {
        free(j);
        repair_blind(g, -ENOMEM);
        return;
    }
    memcpy(g->inodes, inodes, n * sizeof(*inodes));
    g->n_inodes = n;
    job_submit(g->fs, j);
}

/* Takes ids (malloc'd, n of them): this node's blocks to plan for. */
static void repair_factors(struct sf_sfd_fs *fs, struct sf_fs_block_id *ids, size_t n)
{
    struct fs_gc *g = calloc(1, sizeof(*g));
    if (g == NULL) {
        repair_plan(fs, ids, n, NULL, true);
        free(ids);
        return;
    }
    g->fs = fs;
    g->for_repair = true;
    g->held = ids;
    g->n_held = n;
    int rc = sf_sfd__fs_meta_live_files(fs->sfd, repair_files, g);
    if (rc != 0) {
        repair_blind(g, rc);
    }
}

/* ------------------------------------------------------------------ */
/* FS_ADMIN */

struct fs_admin {
    struct fs_creq cr;
    uint8_t verb;
};

static void admin_status_listed(struct sf_sfd_fs *fs, struct fs_job *j)
{
    struct fs_admin *a = j->arg;
    char text[2048];
    bool pending = fs->rep_active || !same_set(fs->old, fs->nold, fs->live, fs->nlive);
    snprintf(text, sizeof(text),
             "blocks=%zu\nbytes=%" PRIu64 "\nunder_replicated=%" PRIu64
             "\ncopies_done=%" PRIu64 "\ncopies_failed=%" PRIu64 "\ncorrupt_found=%" PRIu64
             "\ncorrupt_repaired=%" PRIu64 "\nlost=%" PRIu64 "\nsurplus_dropped=%" PRIu64
             "\nrepair_runs=%" PRIu64 "\nrepair_complete=%" PRIu64 "\nrepair_pending=%d"
             "\nmembers=%zu\nepoch=%" PRIu64 "\nwrites=%" PRIu64 "\nwrite_errors=%" PRIu64
             "\nreads=%" PRIu64 "\nread_errors=%" PRIu64 "\npeer_puts=%" PRIu64
             "\npeer_gets=%" PRIu64 "\npeer_busy=%" PRIu64 "\ngc_runs=%" PRIu64
             "\ngc_deleted=%" PRIu64 "\nblock_size=%zu\nreplicas=%d\n",
             j->rc == 0 ? j->n : 0, j->rc == 0 ? j->bytes : 0, fs->under, fs->copies_done,
             fs->copies_failed, fs->corrupt_found, fs->corrupt_repaired, fs->lost,
             fs->surplus_dropped, fs->repair_runs, fs->repair_complete, pending ? 1 : 0,
             fs->nlive, fs->epoch, fs->writes, fs->write_errs, fs->reads, fs->read_errs,
             fs->peer_puts, fs->peer_gets, fs->peer_busy, fs->gc_runs, fs->gc_deleted,
             fs->cfg.block_size, fs->cfg.replicas);
    reply_admin(a->cr.c, a->cr.req, a->verb, j->rc, text);
    creq_del(fs, &a->cr);
    free(a);
}

static void scrub_finish_one(struct sf_sfd_fs *fs)
{
    if (--fs->scrub_left > 0) {
        return;
    }
    struct fs_admin *a = (struct fs_admin *)fs->scrub;
    char text[512];
    snprintf(text, sizeof(text),
             "blocks=%" PRIu64 "\nbytes=%" PRIu64 "\ncorrupt=%" PRIu64 "\nrepaired=%" PRIu64
             "\nunrepaired=%" PRIu64 "\n",
             fs->scrub_blocks, fs->scrub_bytes, fs->scrub_corrupt, fs->scrub_repaired,
             fs->scrub_corrupt - fs->scrub_repaired);
    if (fs->scrub_corrupt > 0) {
        SF_WARN("scrub: %" PRIu64 " corrupt block%s, %" PRIu64 " repaired", fs->scrub_corrupt,
                fs->scrub_corrupt == 1 ? "" : "s", fs->scrub_repaired);
    }
    int st = fs->scrub_corrupt == fs->scrub_repaired ? 0 : SF_FS_ECORRUPT;
    reply_admin(a->cr.c, a->cr.req, a->verb, st, text);
    creq_del(fs, &a->cr);
    free(a);
    fs->scrub = NULL;
}

static void scrub_restored(struct sf_sfd_fs *fs, struct fs_job *j)
{
    if (j->rc == 0) {
        fs->scrub_repaired++;
        fs->corrupt_repaired++;
    }
    scrub_finish_one(fs);
}

static void scrub_fetched(struct sf_sfd_fs *fs, struct fs_rop *o, int status, struct fs_buf *b)
{
    if (status != 0) {
        char hex[2 * SF_FS_ID_LEN + 1];
        SF_ERR("scrub: no good copy of corrupt block %s on another node: %s",
               sf_fs_block_id_hex(&o->id, hex), sf_strerror(status));
        scrub_finish_one(fs);
        return;
    }
    struct fs_job *j = job_new(fs, J_PUT, scrub_restored, NULL);
    if (j == NULL) {
        scrub_finish_one(fs);
        return;
    }
    j->buf = buf_ref(b);
    j->id = o->id;
    j->expect = true;
    job_submit(fs, j);
}

static void scrub_scanned(struct sf_sfd_fs *fs, struct fs_job *j)
{
    fs->scrub_blocks = j->st.blocks;
    fs->scrub_bytes = j->st.bytes;
    fs->scrub_corrupt = j->n;
    fs->scrub_repaired = 0;
    fs->corrupt_found += j->n;
    fs->scrub_left = 1;
    for (size_t i = 0; i < j->n; i++) {
        fs->scrub_left++;
        int rc = rop_start(fs, NULL, 0, &j->ids[i], true, scrub_fetched, NULL);
        if (rc != 0) {
            scrub_finish_one(fs);
        }
    }
    if (j->rc != 0) {
        SF_ERR("scrub stopped early: %s", sf_strerror(j->rc));
    }
    scrub_finish_one(fs);
}

static int on_admin(struct sf_sfd_fs *fs, struct sf_sfd_client *c, const struct sf_wire_msg *m)
{
    uint64_t req = m->f[0].u;
    uint8_t verb = (uint8_t)m->f[1].u;
    if (verb == 3) {
        return gc_start(fs, c, req);
    }
    if (verb != 1 && verb != 2) {
        reply_admin(c, req, verb, -EINVAL, "unknown verb (1 status, 2 scrub, 3 gc)\n");
        return 0;
    }
    if (verb == 2 && fs->scrub != NULL) {
        reply_admin(c, req, verb, -EBUSY, "a scrub is already running\n");
        return 0;
    }
    struct fs_admin *a = calloc(1, sizeof(*a));
    struct fs_job *j = job_new(fs, verb == 1 ? J_ENUM : J_SCRUB,
                               verb == 1 ? admin_status_listed : scrub_scanned, a);
    if (a == NULL || j == NULL) {
        free(a);
        free(j);
        reply_admin(c, req, verb, -ENOMEM, "out of memory\n");
        return 0;
    }
    a->verb = verb;
    creq_add(fs, &a->cr, c, req);
    if (verb == 2) {
        fs->scrub = &a->cr;
    }
    job_submit(fs, j);
    return 0;
}

/* ------------------------------------------------------------------ */
/* entry points */

int sf_sfd__fs_client_op(struct sf_sfd_client *c, const struct sf_wire_msg *m)
{
    struct sf_sfd_fs *fs = c->sfd->fs;
    if (fs == NULL || fs->store == NULL) {
        const char *why = fs == NULL ? "this sfd has no block store (an embedded daemon)"
                                     : "this sfd's block store did not open (see its log)";
        if (m->op == SF_OP_FS_BLOCK_WRITE) {
            reply_done(c, m->f[0].u, -ENODEV, NULL, why);
        } else if (m->op == SF_OP_FS_BLOCK_READ) {
            reply_data(c, m->f[0].u, -ENODEV, NULL);
        } else if (m->op == SF_OP_FS_ADMIN) {
            reply_admin(c, m->f[0].u, (uint8_t)m->f[1].u, -ENODEV, why);
        }
        return 0;
    }
    switch (m->op) {
    case SF_OP_FS_BLOCK_WRITE:
        return on_block_write(fs, c, m);
    case SF_OP_FS_BLOCK_READ:
        return on_block_read(fs, c, m);
    case SF_OP_FS_ADMIN:
        return on_admin(fs, c, m);
    default:
        return SF_ERR_PROTO;
    }
}

int sf_sfd__fs_start(struct sf_sfd *sfd)
{
    struct sf_sfd_fs *fs = calloc(1, sizeof(*fs));
    if (fs == NULL) {
        return -ENOMEM;
    }
    fs->sfd = sfd;
    fs->self.id = sfd->node_id;
    fs->self.inc = sfd->inc;
    node_key(sfd->node_id, &fs->self.key);
    pthread_mutex_init(&fs->mu, NULL);
    pthread_cond_init(&fs->cv, NULL);
    sfd->fs = fs;
    int rc = sf_fs_config_load(&fs->cfg);
    if (rc == 0) {
        rc = sf_tun_load(&fs_tun_table, &fs->tun);
    }
    if (rc == 0 && (fs->tun.gc_grace < 0 || fs->tun.req_timeout <= 0)) {
        SF_ERR("SF_FSBLK_GC_GRACE must be >= 0 and SF_FSBLK_REQ_TIMEOUT > 0");
        rc = SF_ERR_CONFIG;
    }
    if (rc != 0) {
        SF_ERR("filesystem disabled: bad SF_FS_* / SF_FSBLK_* settings");
        return 0;
    }
    size_t need = strlen(sfd->state_dir) + 4;
    fs->dir = malloc(need);
    if (fs->dir == NULL) {
        return -ENOMEM;
    }
    snprintf(fs->dir, need, "%s/fs", sfd->state_dir);
    rc = sf_fs_store_open(fs->dir, &fs->cfg, &fs->store);
    if (rc != 0) {
        /* The daemon still runs jobs; block ops answer with this reason. */
        SF_ERR("filesystem disabled: cannot open the block store %s: %s", fs->dir,
               sf_strerror(rc));
        fs->store = NULL;
        return 0;
    }
    if (sf_fs_store_cleaned(fs->store) > 0) {
        SF_INFO("block store %s: removed %u unfinished put%s", fs->dir,
                sf_fs_store_cleaned(fs->store), sf_fs_store_cleaned(fs->store) == 1 ? "" : "s");
    }
    for (int i = 0; i < FS_WORKERS; i++) {
        if (pthread_create(&fs->th[i], NULL, worker_main, fs) != 0) {
            break;
        }
        fs->nth++;
    }
    if (fs->nth == 0) {
        SF_ERR("filesystem disabled: cannot start store workers");
        sf_fs_store_close(fs->store);
        fs->store = NULL;
        return 0;
    }
    fs->live = malloc(sizeof(*fs->live));
    fs->old = malloc(sizeof(*fs->old));
    if (fs->live == NULL || fs->old == NULL) {
        return -ENOMEM;
    }
    fs->live[0] = fs->old[0] = fs->self;
    fs->nlive = fs->nold = 1;
    return sf_loop_timer(sfd->loop, FS_TICK_MS, on_fs_tick, fs, &fs->tick);
}

int sf_sfd__fs_busy(struct sf_sfd *sfd)
{
    return sfd->fs != NULL ? sfd->fs->jobs_busy : 0;
}

void sf_sfd__fs_stop(struct sf_sfd *sfd)
{
    struct sf_sfd_fs *fs = sfd->fs;
    if (fs == NULL) {
        return;
    }
    if (fs->tick != NULL) {
        sf_loop_timer_cancel(sfd->loop, fs->tick);
    }
    pthread_mutex_lock(&fs->mu);
    fs->stop = true;
    pthread_cond_broadcast(&fs->cv);
    pthread_mutex_unlock(&fs->mu);
    for (int i = 0; i < fs->nth; i++) {
        pthread_join(fs->th[i], NULL);
    }
    /* Unstarted store calls and in-flight requests are abandoned: the
     * daemon is exiting and their clients and peers see it go. */
    while (fs->qhead != NULL) {
        struct fs_job *j = fs->qhead;
        fs->qhead = j->next;
        free(j);
    }
    if (fs->store != NULL) {
        sf_fs_store_close(fs->store);
    }
    free(fs->dir);
    free(fs->live);
    free(fs->old);
    free(fs->target);
    pthread_mutex_destroy(&fs->mu);
    pthread_cond_destroy(&fs->cv);
    sfd->fs = NULL;
    /* The rest (requests, operations) is reachable only from callbacks
     * that never run again: freed with the process. */
    free(fs);
}
