/* The metadata core: a replicated, versioned record store (groups of
 * records on the R live nodes closest to the group key, compare-and-set
 * decided by the primary and acknowledged by a majority of holders) and the
 * namespace verbs on top of it (path walk, create, commit, mkdir, rmdir,
 * unlink, rename, readdir). Pure: transport, disk, randomness and the clock
 * come from the caller (sfd, or the simulator in tests/check_fs_meta.c).
 * Single-threaded per core. Design: fs/README.md "Metadata". */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs/fs_int.h"
#include "fs/sf_fs_meta.h"

#define RETRY_MS 200          /* wait before re-sending a CAS refused with -EAGAIN */
#define RETRIES 25            /* ... that many times (membership settling) */
#define PUSH_CHUNK 2048       /* records per membership-push message */
#define LAG_RETRY_MS 1000     /* re-send a group to a holder that missed a write */
#define REPLY_MAX (15u << 20) /* bytes in one reply's record list (wire: 16 MiB) */

/* ----------------------------------------------------------- records */

struct mrec {
    char *name; /* NUL-terminated copy */
    size_t name_len;
    uint64_t version;
    uint8_t flags;
    uint8_t *value;
    size_t value_len;
};

struct work;

struct group {
    struct sf_dht_id key;
    struct mrec *recs; /* sorted by name (bytes, then length) */
    size_t n, cap;
    uint64_t synced_epoch; /* the view this primary last synced the group in */
    bool syncing;
    int sync_pending, sync_ok, sync_need;
    uint64_t seq;     /* tags sync and replica rpcs, so late answers are ignored */
    struct work *cur; /* CAS waiting for its replicas */
    int acks, need, outstanding;
    struct work *q_head, *q_tail; /* decisions waiting for sync / cur */
    struct group *next;           /* hash chain */
    /* A holder missed a write (its STORE failed or timed out): the primary
     * re-sends the group to the holders until all have taken it. */
    bool lagging, lag_listed;
    int lag_pending, lag_failed;
    uint64_t lag_at;        /* next try */
    struct group *lag_next; /* m->lagging list */
};

/* A request to a primary: a CAS or a READ, with its origin. */
struct work {
    struct work *next;
    enum sf_fs_meta_mtype type;
    struct sf_dht_id from;
    uint64_t req;
    uint8_t flags;
    char name[SF_FS_NAME_MAX + 1];
    size_t name_len;
    uint8_t *buf; /* owned encoding of items (CAS) / written records */
    size_t buf_len;
    struct sf_fs_meta_rec *items;
    size_t n;
};

typedef void (*rpc_fn)(struct sf_fs_meta *m, void *ctx, int status,
                       const struct sf_fs_meta_rec *recs, size_t n);
struct rpc {
    struct rpc *next;
    uint64_t req;
    struct sf_dht_id to;
    uint64_t deadline; /* 0: none (loopback) */
    rpc_fn cb;
    void *ctx;
};

/* A message to self, delivered from sf_fs_meta_run. */
struct qmsg {
    struct qmsg *next;
    enum sf_fs_meta_mtype type;
    uint64_t req;
    struct sf_dht_id key;
    int32_t status;
    uint8_t flags;
    char name[SF_FS_NAME_MAX + 1];
    size_t name_len;
    uint8_t *buf;
    size_t len;
};

struct done {
    struct done *next;
    sf_fs_meta_done_fn cb;
    void *arg;
    struct sf_fs_meta_result res;
};

struct nsop;

struct sf_fs_meta {
    struct sf_fs_meta_config cfg;
    struct sf_fs_meta_ops ops;
    struct sf_dht_id *members;
    size_t n_members;
    uint64_t epoch;
    size_t ref_members; /* the view's size the quorum is counted against */
    uint64_t shrunk_at; /* when the view became smaller than ref (0: not) */
    uint64_t now;
    uint64_t next_req;
    struct group **tab;
    size_t tcap, tn;
    struct rpc *rpcs;
    struct qmsg *lq_head, *lq_tail;
    struct done *d_head, *d_tail;
    struct nsop *retry;       /* ops waiting to re-send a CAS */
    struct persist *persists; /* writes the disk has not confirmed yet */
    struct group *lagging;    /* groups with a holder behind */
    uint64_t next_token;
    struct sf_fs_meta_stats st;
};

static bool id_eq(const struct sf_dht_id *a, const struct sf_dht_id *b)
{
    return memcmp(a->b, b->b, SF_DHT_ID_LEN) == 0;
}

static int name_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    if (c != 0) {
        return c;
    }
    return al < bl ? -1 : al > bl;
}

static bool is_dot(const char *n, size_t l)
{
    return l == 1 && n[0] == '.';
}

/* Which of two versions of one record wins: higher version, then (only
 * after a split decision, which majorities make rare) deleted over live,
 * then the larger value bytes, so every node picks the same one. */
static int rec_beats(uint64_t av, uint8_t af, const uint8_t *a, size_t al, uint64_t bv, uint8_t bf,
                     const uint8_t *b, size_t bl)
{
    if (av != bv) {
        return av > bv ? 1 : -1;
    }
    if (af != bf) {
        return af > bf ? 1 : -1;
    }
    if (al != bl) {
        return al > bl ? 1 : -1;
    }
    return al == 0 ? 0 : memcmp(a, b, al);
}

/* ------------------------------------------------------------ groups */

static size_t key_hash(const struct sf_dht_id *k, size_t cap)
{
    uint64_t h = 0;
    memcpy(&h, k->b, sizeof h);
    return (size_t)(h % cap);
}

static struct group *group_find(struct sf_fs_meta *m, const struct sf_dht_id *k)
{
    if (m->tcap == 0) {
        return NULL;
    }
    for (struct group *g = m->tab[key_hash(k, m->tcap)]; g != NULL; g = g->next) {
        if (id_eq(&g->key, k)) {
            return g;
        }
    }
    return NULL;
}

static struct group *group_get(struct sf_fs_meta *m, const struct sf_dht_id *k)
{
    struct group *g = group_find(m, k);
    if (g != NULL) {
        return g;
    }
    if (m->tn + 1 > m->tcap) {
        size_t ncap = m->tcap ? m->tcap * 2 : 256;
        struct group **nt = calloc(ncap, sizeof *nt);
        if (nt == NULL) {
            return NULL;
        }
        for (size_t i = 0; i < m->tcap; i++) {
            for (struct group *x = m->tab[i], *nx; x != NULL; x = nx) {
                nx = x->next;
                size_t h = key_hash(&x->key, ncap);
                x->next = nt[h];
                nt[h] = x;
            }
        }
        free(m->tab);
        m->tab = nt;
        m->tcap = ncap;
    }
    g = calloc(1, sizeof *g);
    if (g == NULL) {
        return NULL;
    }
    g->key = *k;
    size_t h = key_hash(k, m->tcap);
    g->next = m->tab[h];
    m->tab[h] = g;
    m->tn++;
    m->st.groups++;
    return g;
}

/* Index of name in g, or -(insertion point) - 1. */
static long rec_find(const struct group *g, const char *name, size_t len)
{
    size_t lo = 0, hi = g->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = name_cmp(g->recs[mid].name, g->recs[mid].name_len, name, len);
        if (c == 0) {
            return (long)mid;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return -(long)lo - 1;
}

static const struct mrec *rec_get(const struct group *g, const char *name, size_t len)
{
    long i = rec_find(g, name, len);
    return i >= 0 ? &g->recs[i] : NULL;
}

/* Does r win over what g holds (or is it new)? */
static bool rec_wins(const struct group *g, const struct sf_fs_meta_rec *r)
{
    const struct mrec *c = rec_get(g, r->name, r->name_len);
    return c == NULL || rec_beats(r->version, r->flags, r->value, r->value_len, c->version,
                                  c->flags, c->value, c->value_len) > 0;
}

/* Set a record in memory (the caller persisted it). */
static int rec_set(struct sf_fs_meta *m, struct group *g, const struct sf_fs_meta_rec *r)
{
    long i = rec_find(g, r->name, r->name_len);
    uint8_t *v = NULL;
    if (r->value_len > 0) {
        v = malloc(r->value_len);
        if (v == NULL) {
            return -ENOMEM;
        }
        memcpy(v, r->value, r->value_len);
    }
    struct mrec *c;
    if (i >= 0) {
        c = &g->recs[i];
        if (c->flags & SF_FS_META_RF_DELETED) {
            m->st.tombstones--;
        } else {
            m->st.live--;
        }
        free(c->value);
    } else {
        if (g->n == g->cap) {
            size_t nc = g->cap ? g->cap * 2 : 8;
            struct mrec *nr = realloc(g->recs, nc * sizeof *nr);
            if (nr == NULL) {
                free(v);
                return -ENOMEM;
            }
            g->recs = nr;
            g->cap = nc;
        }
        char *name = malloc(r->name_len + 1);
        if (name == NULL) {
            free(v);
            return -ENOMEM;
        }
        memcpy(name, r->name, r->name_len);
        name[r->name_len] = '\0';
        size_t at = (size_t)(-i - 1);
        memmove(&g->recs[at + 1], &g->recs[at], (g->n - at) * sizeof *g->recs);
        g->n++;
        m->st.records++;
        c = &g->recs[at];
        c->name = name;
        c->name_len = r->name_len;
    }
    c->version = r->version;
    c->flags = r->flags;
    c->value = v;
    c->value_len = r->value_len;
    if (c->flags & SF_FS_META_RF_DELETED) {
        m->st.tombstones++;
    } else {
        m->st.live++;
    }
    return 0;
}

static void rec_view(const struct mrec *c, struct sf_fs_meta_rec *out)
{
    *out = (struct sf_fs_meta_rec){.name = c->name,
                                   .name_len = c->name_len,
                                   .version = c->version,
                                   .flags = c->flags,
                                   .value = c->value,
                                   .value_len = c->value_len};
}

/* Merge records into g: the ones that win are persisted, then set.
 * *stale (may be NULL) counts the ones that lost to what g holds.
 * 0 or a negative errno (persist or memory). */
/* The records of recs[0..n) that win over what g holds (an owned array of
 * views into recs, in *win, count *nw); *stale (may be NULL) counts the ones
 * that lost to something newer or different. 0 or -ENOMEM. */
static int merge_prepare(const struct group *g, const struct sf_fs_meta_rec *recs, size_t n,
                         struct sf_fs_meta_rec **winp, size_t *nwp, size_t *stale)
{
    struct sf_fs_meta_rec *win = malloc((n ? n : 1) * sizeof *win);
    if (win == NULL) {
        return -ENOMEM;
    }
    size_t nw = 0, ns = 0;
    for (size_t i = 0; i < n; i++) {
        if (rec_wins(g, &recs[i])) {
            win[nw] = recs[i];
            win[nw].cond = win[nw].action = 0;
            nw++;
        } else {
            const struct mrec *c = rec_get(g, recs[i].name, recs[i].name_len);
            if (rec_beats(c->version, c->flags, c->value, c->value_len, recs[i].version,
                          recs[i].flags, recs[i].value, recs[i].value_len) != 0) {
                ns++; /* we hold something newer or different: not "stored" */
            }
        }
    }
    *winp = win;
    *nwp = nw;
    if (stale != NULL) {
        *stale = ns;
    }
    return 0;
}

/* Set the records that (still) win: another write may have landed while
 * these were on their way to the disk. */
static int merge_apply(struct sf_fs_meta *m, struct group *g, const struct sf_fs_meta_rec *recs,
                       size_t n)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (rec_wins(g, &recs[i])) {
            rc = rec_set(m, g, &recs[i]);
        }
    }
    return rc;
}

/* Merge without the disk (start-up load, scratch groups of fan-out reads). */
static int group_merge(struct sf_fs_meta *m, struct group *g, const struct sf_fs_meta_rec *recs,
                       size_t n)
{
    struct sf_fs_meta_rec *win;
    size_t nw;
    int rc = merge_prepare(g, recs, n, &win, &nw, NULL);
    if (rc == 0) {
        rc = merge_apply(m, g, win, nw);
        free(win);
    }
    return rc;
}

/* ----------------------------------------------------- durable writes
 * Records reach memory (and so answers and replicas) only after the host
 * made them durable: ops.persist queues them, sf_fs_meta_persisted says
 * when they are on disk, and the continuation of what wrote them runs. */
enum persist_kind { P_CAS = 1, P_STORE, P_SYNC };

struct persist {
    struct persist *next;
    uint64_t token;
    enum persist_kind kind;
    struct group *g;
    uint8_t *buf; /* owned encoding of recs */
    struct sf_fs_meta_rec *recs;
    size_t n;
    /* P_STORE: whom to answer */
    struct sf_dht_id from;
    uint64_t req;
    uint8_t push;
    size_t stale;
    /* P_SYNC: the page it came from (ctx of the sync read, owned) */
    void *tag;
    bool full_page;
    char cursor[SF_FS_NAME_MAX + 1];
    size_t cursor_len;
};

static void persist_done(struct sf_fs_meta *m, struct persist *p, int status);

/* Hand recs (copied) to the disk; the continuation runs in
 * sf_fs_meta_persisted, or at once when there is nothing to write. */
static void persist_start(struct sf_fs_meta *m, struct persist *p,
                          const struct sf_fs_meta_rec *recs, size_t n)
{
    size_t len = 0;
    int rc = n == 0 ? 0 : sf_fs_meta_recs_encode(recs, n, NULL, 0, &len);
    if (rc == 0 && n > 0) {
        p->buf = malloc(len);
        p->recs = malloc(n * sizeof *p->recs);
        if (p->buf == NULL || p->recs == NULL) {
            rc = -ENOMEM;
        } else {
            sf_fs_meta_recs_encode(recs, n, p->buf, len, &len);
            rc = sf_fs_meta_recs_decode(p->buf, len, p->recs, n, &p->n);
        }
    }
    if (rc != 0 || n == 0 || m->ops.persist == NULL) {
        persist_done(m, p, rc);
        return;
    }
    p->token = ++m->next_token;
    p->next = m->persists;
    m->persists = p;
    m->ops.persist(m->ops.arg, &p->g->key, p->recs, p->n, p->token);
}

void sf_fs_meta_persisted(struct sf_fs_meta *m, uint64_t token, int status)
{
    for (struct persist **pp = &m->persists; *pp != NULL; pp = &(*pp)->next) {
        if ((*pp)->token == token) {
            struct persist *p = *pp;
            *pp = p->next;
            persist_done(m, p, status);
            return;
        }
    }
}

/* ------------------------------------------------------------- views */

/* The holders of key in the current view, primary first. */
static size_t holders(const struct sf_fs_meta *m, const struct sf_dht_id *key,
                      struct sf_dht_id *out)
{
    size_t idx[SF_FS_R_MAX];
    int n = sf_fs_place(key, m->members, m->n_members, m->cfg.replicas, idx);
    if (n < 0) {
        return 0;
    }
    for (int i = 0; i < n; i++) {
        out[i] = m->members[idx[i]];
    }
    return (size_t)n;
}

/* Holders that must take part in a decision, a sync or a fallback read: a
 * majority of min(R, ref_members). ref_members is the largest view seen,
 * lowered only after the view stayed smaller for shrink_grace_ms: a node
 * cut off from the others (which then sees itself alone) cannot decide on
 * its own, so the two sides of a partition never both commit. */
static size_t quorum(const struct sf_fs_meta *m)
{
    size_t r = (size_t)m->cfg.replicas;
    size_t ref = m->ref_members > m->n_members ? m->ref_members : m->n_members;
    return (r < ref ? r : ref) / 2 + 1;
}

static bool is_member(const struct sf_fs_meta *m, const struct sf_dht_id *id)
{
    for (size_t i = 0; i < m->n_members; i++) {
        if (id_eq(&m->members[i], id)) {
            return true;
        }
    }
    return false;
}

/* --------------------------------------------------------- messages */

static void msg_send(struct sf_fs_meta *m, const struct sf_dht_id *to,
                     const struct sf_fs_meta_msg *msg)
{
    if (!id_eq(to, &m->cfg.self)) {
        m->ops.send(m->ops.arg, to, msg);
        return;
    }
    /* To self: a copy, delivered by sf_fs_meta_run (never re-entrantly). */
    struct qmsg *q = calloc(1, sizeof *q);
    if (q == NULL) {
        return; /* lost like a dropped packet: timeouts handle it */
    }
    q->type = msg->type;
    q->req = msg->req;
    q->key = msg->key;
    q->status = msg->status;
    q->flags = msg->flags;
    if (msg->name_len > 0 && msg->name_len <= SF_FS_NAME_MAX) {
        memcpy(q->name, msg->name, msg->name_len);
        q->name_len = msg->name_len;
    }
    if (sf_fs_meta_recs_encode(msg->recs, msg->n_recs, NULL, 0, &q->len) != 0 ||
        (q->buf = malloc(q->len)) == NULL ||
        sf_fs_meta_recs_encode(msg->recs, msg->n_recs, q->buf, q->len, &q->len) != 0) {
        free(q->buf);
        free(q);
        return;
    }
    if (m->lq_tail != NULL) {
        m->lq_tail->next = q;
    } else {
        m->lq_head = q;
    }
    m->lq_tail = q;
}

static void reply(struct sf_fs_meta *m, const struct sf_dht_id *to, uint64_t req, int status,
                  const struct sf_fs_meta_rec *recs, size_t n)
{
    if (req == 0) {
        return; /* pushes are not answered */
    }
    struct sf_fs_meta_msg r = {
        .type = SF_FS_META_M_REPLY, .req = req, .status = status, .recs = recs, .n_recs = n};
    msg_send(m, to, &r);
}

static int rpc_call(struct sf_fs_meta *m, const struct sf_dht_id *to, struct sf_fs_meta_msg *msg,
                    rpc_fn cb, void *ctx)
{
    struct rpc *r = calloc(1, sizeof *r);
    if (r == NULL) {
        return -ENOMEM;
    }
    r->req = ++m->next_req;
    r->to = *to;
    /* A request to self is answered once the group's own remote calls
     * finish or expire, so it needs no deadline of its own. */
    r->deadline = id_eq(to, &m->cfg.self) ? 0 : m->now + m->cfg.timeout_ms;
    r->cb = cb;
    r->ctx = ctx;
    r->next = m->rpcs;
    m->rpcs = r;
    msg->req = r->req;
    msg_send(m, to, msg);
    return 0;
}

/* Finish every rpc matching pred (collected first: callbacks start new ones). */
static void rpc_fail_where(struct sf_fs_meta *m, bool (*pred)(struct sf_fs_meta *, struct rpc *),
                           int status)
{
    struct rpc *dead = NULL, **pp = &m->rpcs;
    while (*pp != NULL) {
        struct rpc *r = *pp;
        if (pred(m, r)) {
            *pp = r->next;
            r->next = dead;
            dead = r;
        } else {
            pp = &r->next;
        }
    }
    while (dead != NULL) {
        struct rpc *r = dead;
        dead = r->next;
        if (status == -ETIMEDOUT) {
            m->st.timeouts++;
        }
        r->cb(m, r->ctx, status, NULL, 0);
        free(r);
    }
}

static bool rpc_expired(struct sf_fs_meta *m, struct rpc *r)
{
    return r->deadline != 0 && r->deadline <= m->now;
}

static bool rpc_to_gone(struct sf_fs_meta *m, struct rpc *r)
{
    return !is_member(m, &r->to);
}

/* ---------------------------------------------------------- primary */

struct gtag {
    struct group *g;
    uint64_t seq;
    struct sf_dht_id to; /* sync: the holder being read, page by page */
};

static void group_pump(struct sf_fs_meta *m, struct group *g);

static void work_free(struct work *w)
{
    if (w != NULL) {
        free(w->buf);
        free(w->items);
        free(w);
    }
}

/* A sync counts only if a majority of the holders (us included) took part:
 * else a primary cut off from the others would decide on what it alone
 * holds. The waiting requests are refused with -EAGAIN (the coordinator
 * retries a CAS, and reads the holders directly); the next one re-syncs. */
static void sync_end(struct sf_fs_meta *m, struct group *g)
{
    g->syncing = false;
    if (g->sync_ok + 1 >= g->sync_need) {
        return;
    }
    g->synced_epoch = 0;
    while (g->q_head != NULL) {
        struct work *w = g->q_head;
        g->q_head = w->next;
        reply(m, &w->from, w->req, -EAGAIN, NULL, 0);
        work_free(w);
    }
    g->q_tail = NULL;
}

static void sync_done(struct sf_fs_meta *m, void *ctx, int status,
                      const struct sf_fs_meta_rec *recs, size_t n);

/* Ask holder `to` for the next page of g's records (all of them, tombstones
 * and "." too) after the name cursor. 0 or -ENOMEM. */
static int sync_read(struct sf_fs_meta *m, struct group *g, const struct sf_dht_id *to,
                     const char *cursor, size_t len)
{
    struct gtag *t = malloc(sizeof *t);
    if (t == NULL) {
        return -ENOMEM;
    }
    *t = (struct gtag){g, g->seq, *to};
    struct sf_fs_meta_msg rd = {.type = SF_FS_META_M_READ,
                                .key = g->key,
                                .name = cursor,
                                .name_len = len,
                                .flags = SF_FS_META_READ_LOCAL | SF_FS_META_READ_PAGE};
    if (rpc_call(m, to, &rd, sync_done, t) != 0) {
        free(t);
        return -ENOMEM;
    }
    return 0;
}

static void sync_done(struct sf_fs_meta *m, void *ctx, int status,
                      const struct sf_fs_meta_rec *recs, size_t n)
{
    struct gtag *t = ctx;
    struct group *g = t->g;
    bool current = t->seq == g->seq && g->syncing;
    if (!current) {
        free(t);
        return;
    }
    struct sf_fs_meta_rec *win = NULL;
    size_t nw = 0;
    if (status == 0 && merge_prepare(g, recs, n, &win, &nw, NULL) == 0) {
        struct persist *p = calloc(1, sizeof *p);
        if (p != NULL) {
            p->kind = P_SYNC;
            p->g = g;
            p->tag = t;
            p->full_page = n > 0 && n == m->cfg.sync_page;
            if (p->full_page) {
                /* the next page starts after this one's last name */
                memcpy(p->cursor, recs[n - 1].name, recs[n - 1].name_len);
                p->cursor_len = recs[n - 1].name_len;
            }
            persist_start(m, p, win, nw);
            free(win);
            return;
        }
        free(win);
    }
    free(t);
    if (--g->sync_pending == 0) {
        sync_end(m, g);
        group_pump(m, g);
    }
}

/* A synced page is durable here: take it, then read on or count the holder. */
static void sync_page_done(struct sf_fs_meta *m, struct persist *p, int status)
{
    struct gtag *t = p->tag;
    struct group *g = p->g;
    if (status == 0) {
        status = merge_apply(m, g, p->recs, p->n);
    }
    bool current = t->seq == g->seq && g->syncing;
    if (!current) {
        free(t);
        return;
    }
    if (status == 0) {
        if (p->full_page && sync_read(m, g, &t->to, p->cursor, p->cursor_len) == 0) {
            free(t);
            return; /* a full page: read on after its last name */
        }
        g->sync_ok++;
    }
    free(t);
    if (--g->sync_pending == 0) {
        sync_end(m, g);
        group_pump(m, g);
    }
}

/* A primary learns the group's latest records from the other holders of
 * this view before deciding anything in it (it may be new, or back from a
 * partition with stale records). */
static void group_sync(struct sf_fs_meta *m, struct group *g)
{
    struct sf_dht_id h[SF_FS_R_MAX];
    size_t nh = holders(m, &g->key, h);
    g->synced_epoch = m->epoch;
    g->syncing = true;
    g->sync_ok = 0;
    g->sync_need = (int)quorum(m);
    g->sync_pending = 1; /* held until every call is out */
    g->seq++;
    m->st.syncs++;
    for (size_t i = 1; i < nh; i++) {
        g->sync_pending++;
        if (sync_read(m, g, &h[i], "", 0) != 0) {
            g->sync_pending--;
        }
    }
    if (--g->sync_pending == 0) {
        sync_end(m, g);
    }
}

/* Records of g for a READ: one name, the whole group, or (AFTER) live
 * entries after a cursor. Owned array of views into g. */
static int group_read(struct group *g, const struct work *w, size_t page,
                      struct sf_fs_meta_rec **out, size_t *n)
{
    *out = malloc((g->n ? g->n : 1) * sizeof **out);
    if (*out == NULL) {
        return -ENOMEM;
    }
    size_t k = 0, bytes = 4;
    if (w->flags & SF_FS_META_READ_PAGE) {
        long at = w->name_len > 0 ? rec_find(g, w->name, w->name_len) : -1;
        size_t i = at >= 0 ? (size_t)at + 1 : (size_t)(-at - 1);
        for (; i < g->n && k < page; i++) {
            rec_view(&g->recs[i], &(*out)[k++]);
        }
        *n = k;
        return 0;
    }
    if (w->name_len > 0 && !(w->flags & SF_FS_META_READ_AFTER)) {
        const struct mrec *c = rec_get(g, w->name, w->name_len);
        if (c != NULL) {
            rec_view(c, &(*out)[k++]);
        }
        *n = k;
        return 0;
    }
    for (size_t i = 0; i < g->n; i++) {
        const struct mrec *c = &g->recs[i];
        if (w->flags & SF_FS_META_READ_AFTER) {
            if ((c->flags & SF_FS_META_RF_DELETED) || is_dot(c->name, c->name_len) ||
                (w->name_len > 0 && name_cmp(c->name, c->name_len, w->name, w->name_len) <= 0)) {
                continue;
            }
            if (k == SF_FS_READDIR_MAX + 1) {
                break;
            }
        }
        bytes += 14 + c->name_len + c->value_len;
        if (bytes > REPLY_MAX) {
            free(*out);
            *out = NULL;
            return -EFBIG;
        }
        rec_view(c, &(*out)[k++]);
    }
    *n = k;
    return 0;
}

static void answer_read(struct sf_fs_meta *m, struct group *g, const struct work *w)
{
    struct sf_fs_meta_rec *recs;
    size_t n = 0;
    int rc = group_read(g, w, m->cfg.sync_page, &recs, &n);
    reply(m, &w->from, w->req, rc, rc == 0 ? recs : NULL, rc == 0 ? n : 0);
    free(recs);
}

/* Answer every CAS of the batch in flight (g->cur, a list). */
static void cas_finish(struct sf_fs_meta *m, struct group *g, int status)
{
    struct work *w = g->cur;
    g->cur = NULL;
    g->seq++; /* later replica answers are for nobody */
    while (w != NULL) {
        struct work *next = w->next;
        if (status == 0) {
            m->st.cas_ok++;
            reply(m, &w->from, w->req, 0, w->items, w->n);
        } else {
            m->st.cas_failed++;
            reply(m, &w->from, w->req, status, NULL, 0);
        }
        work_free(w);
        w = next;
    }
}

/* ---- catching up holders that missed a write (no view change needed) */

static void lag_mark(struct sf_fs_meta *m, struct group *g)
{
    g->lagging = true;
    if (!g->lag_listed) {
        g->lag_listed = true;
        g->lag_at = m->now + LAG_RETRY_MS;
        g->lag_next = m->lagging;
        m->lagging = g;
    }
}

static void lag_acked(struct sf_fs_meta *m, void *ctx, int status,
                      const struct sf_fs_meta_rec *recs, size_t n)
{
    (void)recs, (void)n;
    struct group *g = ctx;
    if (status != 0) {
        g->lag_failed++;
    }
    if (--g->lag_pending == 0 && g->lag_failed > 0) {
        lag_mark(m, g); /* try again later */
    }
}

/* Re-send every record of g to its other holders (as a push: they keep
 * what is newer), answered, so a failure schedules another try. */
static void lag_push(struct sf_fs_meta *m, struct group *g)
{
    struct sf_dht_id h[SF_FS_R_MAX];
    size_t nh = holders(m, &g->key, h);
    if (nh == 0 || !id_eq(&h[0], &m->cfg.self) || g->n == 0) {
        return; /* not the primary any more: the new one syncs and pushes */
    }
    struct sf_fs_meta_rec *v = malloc(g->n * sizeof *v);
    if (v == NULL) {
        lag_mark(m, g);
        return;
    }
    for (size_t i = 0; i < g->n; i++) {
        rec_view(&g->recs[i], &v[i]);
    }
    g->lag_failed = 0;
    g->lag_pending = 1;
    for (size_t i = 1; i < nh; i++) {
        for (size_t o = 0; o < g->n; o += PUSH_CHUNK) {
            struct sf_fs_meta_msg st = {.type = SF_FS_META_M_STORE,
                                        .key = g->key,
                                        .flags = 1,
                                        .recs = v + o,
                                        .n_recs = g->n - o < PUSH_CHUNK ? g->n - o : PUSH_CHUNK};
            g->lag_pending++;
            if (rpc_call(m, &h[i], &st, lag_acked, g) != 0) {
                g->lag_pending--;
                g->lag_failed++;
            }
        }
    }
    free(v);
    lag_acked(m, g, 0, NULL, 0); /* drops the hold */
}

static void lag_tick(struct sf_fs_meta *m)
{
    struct group *due = NULL, **pp = &m->lagging;
    while (*pp != NULL) {
        struct group *g = *pp;
        if (g->lag_at <= m->now && g->lag_pending == 0) {
            *pp = g->lag_next;
            g->lag_listed = false;
            g->lag_next = due;
            due = g;
        } else {
            pp = &g->lag_next;
        }
    }
    while (due != NULL) {
        struct group *g = due;
        due = g->lag_next;
        g->lagging = false;
        lag_push(m, g);
    }
}

static void store_acked(struct sf_fs_meta *m, void *ctx, int status,
                        const struct sf_fs_meta_rec *recs, size_t n)
{
    (void)recs, (void)n;
    struct gtag *t = ctx;
    struct group *g = t->g;
    bool current = t->seq == g->seq && g->cur != NULL;
    free(t);
    if (status != 0) {
        lag_mark(m, g); /* also for answers that come after the majority */
    }
    if (!current) {
        return;
    }
    g->outstanding--;
    if (status == 0) {
        g->acks++;
    }
    if (g->acks >= g->need) {
        cas_finish(m, g, 0);
        group_pump(m, g);
    } else if (g->outstanding == 0) {
        /* Not durable on a majority: the outcome is unknown (the new
         * version is on this node and maybe on others, and spreads with
         * the next membership push). */
        cas_finish(m, g, status == 0 ? -EIO : status == -ESTALE ? -ESTALE : -ETIMEDOUT);
        group_pump(m, g);
    }
}

/* A name as the batch being decided sees it: the last write of an earlier
 * CAS of the batch (done, whose items are its written records), else what g
 * holds. Returns its version (0: never written); *live says not deleted. */
static uint64_t view_get(const struct group *g, const struct work *done, const char *name,
                         size_t len, bool *live)
{
    const struct sf_fs_meta_rec *last = NULL;
    for (const struct work *w = done; w != NULL; w = w->next) {
        for (size_t i = 0; i < w->n; i++) {
            if (name_cmp(w->items[i].name, w->items[i].name_len, name, len) == 0) {
                last = &w->items[i];
            }
        }
    }
    if (last != NULL) {
        *live = !(last->flags & SF_FS_META_RF_DELETED);
        return last->version;
    }
    const struct mrec *c = rec_get(g, name, len);
    *live = c != NULL && !(c->flags & SF_FS_META_RF_DELETED);
    return c ? c->version : 0;
}

/* The group has no live entry but "." in that view. */
static bool view_empty(const struct group *g, const struct work *done)
{
    bool live;
    for (size_t j = 0; j < g->n; j++) {
        const struct mrec *c = &g->recs[j];
        if (!is_dot(c->name, c->name_len) && !(c->flags & SF_FS_META_RF_DELETED) &&
            (view_get(g, done, c->name, c->name_len, &live), live)) {
            return false;
        }
    }
    for (const struct work *w = done; w != NULL; w = w->next) {
        for (size_t i = 0; i < w->n; i++) {
            const struct sf_fs_meta_rec *r = &w->items[i];
            if (!is_dot(r->name, r->name_len) &&
                (view_get(g, done, r->name, r->name_len, &live), live)) {
                return false;
            }
        }
    }
    return true;
}

/* Check every condition of a CAS against the batch's view. */
static int cas_check(const struct group *g, const struct work *done, const struct work *w)
{
    for (size_t i = 0; i < w->n; i++) {
        const struct sf_fs_meta_rec *it = &w->items[i];
        bool live;
        uint64_t v = view_get(g, done, it->name, it->name_len, &live);
        int rc = 0;
        switch (it->cond) {
        case SF_FS_META_C_ANY:
            break;
        case SF_FS_META_C_VERSION:
            rc = v == it->version ? 0 : -ESTALE;
            break;
        case SF_FS_META_C_ABSENT:
            rc = live ? -EEXIST : 0;
            break;
        case SF_FS_META_C_LIVE:
            rc = live ? 0 : -ENOENT;
            break;
        case SF_FS_META_C_EMPTY:
            rc = view_empty(g, done) ? 0 : -ENOTEMPTY;
            break;
        default:
            rc = -EINVAL;
        }
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

/* Decide one CAS of a batch: check it, then replace its items by the
 * records it writes (new versions; an entry's inode carries its record's
 * version), owned by w. 0 or the failed condition's error. */
static int cas_decide(const struct group *g, const struct work *done, struct work *w)
{
    int rc = cas_check(g, done, w);
    if (rc != 0) {
        return rc;
    }
    struct sf_fs_meta_rec *wr = calloc(w->n ? w->n : 1, sizeof *wr);
    uint8_t(*vals)[SF_FS_META_VALUE_MAX] = calloc(w->n ? w->n : 1, sizeof *vals);
    size_t nw = 0;
    rc = (wr == NULL || vals == NULL) ? -ENOMEM : 0;
    for (size_t i = 0; rc == 0 && i < w->n; i++) {
        const struct sf_fs_meta_rec *it = &w->items[i];
        if (it->action == SF_FS_META_A_NONE) {
            continue;
        }
        bool live;
        struct sf_fs_meta_rec r = {.name = it->name,
                                   .name_len = it->name_len,
                                   .version = view_get(g, done, it->name, it->name_len, &live) + 1};
        if (it->action == SF_FS_META_A_DELETE) {
            r.flags = SF_FS_META_RF_DELETED;
        } else if (!is_dot(it->name, it->name_len)) {
            struct sf_fs_meta_entry e;
            if (sf_fs_meta_entry_decode(it->value, it->value_len, &e) != 0) {
                rc = -EINVAL;
                break;
            }
            e.inode.version = r.version;
            rc = sf_fs_meta_entry_encode(&e, vals[nw], SF_FS_META_VALUE_MAX, &r.value_len);
            r.value = vals[nw];
        } else {
            r.value = it->value;
            r.value_len = it->value_len;
        }
        wr[nw++] = r;
    }
    /* Own copy of the written records (views into vals / items now). */
    size_t len = 0;
    uint8_t *nb = NULL;
    if (rc == 0) {
        rc = sf_fs_meta_recs_encode(wr, nw, NULL, 0, &len);
    }
    if (rc == 0 && (nb = malloc(len)) == NULL) {
        rc = -ENOMEM;
    }
    if (rc == 0) {
        sf_fs_meta_recs_encode(wr, nw, nb, len, &len);
        sf_fs_meta_recs_decode(nb, len, wr, nw, &nw);
        free(w->buf);
        free(w->items);
        w->buf = nb;
        w->buf_len = len;
        w->items = wr;
        wr = NULL;
        w->n = nw;
    }
    free(wr);
    free(vals);
    return rc;
}

#define BATCH_MAX 256 /* CAS decided together (one log write, one replica round) */

/* Group commit: decide every CAS queued at the head of g (in order, each
 * seeing the ones before it), write them to the log at once, send them to
 * the other holders in one message, and answer them all once a majority
 * of the holders stored them. A CAS whose condition fails is answered at
 * once. */
static void cas_batch(struct sf_fs_meta *m, struct group *g)
{
    struct work *done = NULL, *tail = NULL;
    size_t nrec = 0;
    for (int k = 0; k < BATCH_MAX && g->q_head != NULL && g->q_head->type == SF_FS_META_M_CAS;
         k++) {
        struct work *w = g->q_head;
        g->q_head = w->next;
        if (g->q_head == NULL) {
            g->q_tail = NULL;
        }
        w->next = NULL;
        int rc = cas_decide(g, done, w);
        if (rc != 0) {
            m->st.cas_failed++;
            reply(m, &w->from, w->req, rc, NULL, 0);
            work_free(w);
            continue;
        }
        nrec += w->n;
        if (tail != NULL) {
            tail->next = w;
        } else {
            done = w;
        }
        tail = w;
    }
    if (done == NULL) {
        return;
    }
    g->cur = done;
    struct sf_dht_id h[SF_FS_R_MAX];
    size_t nh = holders(m, &g->key, h);
    if (nh < quorum(m)) {
        /* Too few holders in the view to make anything durable on a
         * majority: refuse before writing (the coordinator retries). */
        cas_finish(m, g, -EAGAIN);
        return;
    }
    struct sf_fs_meta_rec *all = malloc((nrec ? nrec : 1) * sizeof *all);
    size_t k = 0;
    for (struct work *w = done; all != NULL && w != NULL; w = w->next) {
        memcpy(all + k, w->items, w->n * sizeof *all);
        k += w->n;
    }
    struct persist *p = all != NULL ? calloc(1, sizeof *p) : NULL;
    if (p == NULL) {
        free(all);
        cas_finish(m, g, -ENOMEM);
        return;
    }
    p->kind = P_CAS;
    p->g = g;
    persist_start(m, p, all, nrec);
    free(all);
}

/* The batch in flight is durable here: take it, send it to the other
 * holders, answer at majority. */
static void cas_persisted(struct sf_fs_meta *m, struct persist *p, int status)
{
    struct group *g = p->g;
    if (status == 0) {
        status = merge_apply(m, g, p->recs, p->n);
    }
    if (status != 0) {
        cas_finish(m, g, status);
        group_pump(m, g);
        return;
    }
    struct sf_dht_id h[SF_FS_R_MAX];
    size_t nh = holders(m, &g->key, h);
    const struct sf_fs_meta_rec *all = p->recs;
    size_t nrec = p->n;
    g->seq++;
    g->acks = 0;
    g->need = (int)quorum(m) - 1; /* acks besides our own */
    g->outstanding = 0;
    if (nrec == 0 || g->need == 0) {
        cas_finish(m, g, 0);
        group_pump(m, g);
        return;
    }
    for (size_t i = 1; i < nh; i++) {
        struct gtag *t = malloc(sizeof *t);
        if (t == NULL) {
            continue;
        }
        *t = (struct gtag){.g = g, .seq = g->seq};
        struct sf_fs_meta_msg st = {
            .type = SF_FS_META_M_STORE, .key = g->key, .recs = all, .n_recs = nrec};
        g->outstanding++;
        if (rpc_call(m, &h[i], &st, store_acked, t) != 0) {
            g->outstanding--;
            free(t);
        }
    }
    if (g->outstanding == 0) {
        /* no other holder reachable in this view: not durable on a majority */
        cas_finish(m, g, -EAGAIN);
        group_pump(m, g);
    }
}

static void group_pump(struct sf_fs_meta *m, struct group *g)
{
    while (g->q_head != NULL && !g->syncing && g->cur == NULL) {
        struct sf_dht_id h[SF_FS_R_MAX];
        bool primary = holders(m, &g->key, h) > 0 && id_eq(&h[0], &m->cfg.self);
        if (primary && g->synced_epoch != m->epoch) {
            group_sync(m, g);
            continue;
        }
        struct work *w = g->q_head;
        if (primary && w->type == SF_FS_META_M_CAS) {
            cas_batch(m, g);
            continue;
        }
        g->q_head = w->next;
        if (g->q_head == NULL) {
            g->q_tail = NULL;
        }
        w->next = NULL;
        if (!primary) {
            reply(m, &w->from, w->req, -EAGAIN, NULL, 0); /* no longer the primary */
        } else {
            answer_read(m, g, w);
        }
        work_free(w);
    }
}

/* A CAS or READ for the primary: queued on its group. */
static void primary_take(struct sf_fs_meta *m, const struct sf_dht_id *from,
                         const struct sf_fs_meta_msg *msg)
{
    struct sf_dht_id h[SF_FS_R_MAX];
    if (holders(m, &msg->key, h) == 0 || !id_eq(&h[0], &m->cfg.self)) {
        reply(m, from, msg->req, -EAGAIN, NULL, 0);
        return;
    }
    struct group *g = group_get(m, &msg->key);
    struct work *w = calloc(1, sizeof *w);
    int rc = (g == NULL || w == NULL) ? -ENOMEM : 0;
    if (rc == 0) {
        w->type = msg->type;
        w->from = *from;
        w->req = msg->req;
        w->flags = msg->flags;
        if (msg->name_len > SF_FS_NAME_MAX) {
            rc = -EINVAL;
        } else {
            memcpy(w->name, msg->name, msg->name_len);
            w->name_len = msg->name_len;
        }
    }
    if (rc == 0 && msg->type == SF_FS_META_M_CAS) {
        /* Own copy of the items; names must be distinct. */
        for (size_t i = 0; i < msg->n_recs && rc == 0; i++) {
            for (size_t j = 0; j < i; j++) {
                if (name_cmp(msg->recs[i].name, msg->recs[i].name_len, msg->recs[j].name,
                             msg->recs[j].name_len) == 0) {
                    rc = -EINVAL;
                    break;
                }
            }
        }
        if (rc == 0) {
            rc = sf_fs_meta_recs_encode(msg->recs, msg->n_recs, NULL, 0, &w->buf_len);
        }
        if (rc == 0 &&
            ((w->buf = malloc(w->buf_len)) == NULL ||
             (w->items = malloc((msg->n_recs ? msg->n_recs : 1) * sizeof *w->items)) == NULL)) {
            rc = -ENOMEM;
        }
        if (rc == 0) {
            sf_fs_meta_recs_encode(msg->recs, msg->n_recs, w->buf, w->buf_len, &w->buf_len);
            rc = sf_fs_meta_recs_decode(w->buf, w->buf_len, w->items, msg->n_recs, &w->n);
        }
    }
    if (rc != 0) {
        work_free(w);
        reply(m, from, msg->req, rc, NULL, 0);
        return;
    }
    if (g->q_tail != NULL) {
        g->q_tail->next = w;
    } else {
        g->q_head = w;
    }
    g->q_tail = w;
    group_pump(m, g);
}

/* Every live file entry held (READ_FILES). */
static void answer_files(struct sf_fs_meta *m, const struct sf_dht_id *from, uint64_t req)
{
    size_t cap = 64, n = 0, bytes = 4;
    struct sf_fs_meta_rec *out = malloc(cap * sizeof *out);
    int rc = out ? 0 : -ENOMEM;
    for (size_t b = 0; rc == 0 && b < m->tcap; b++) {
        for (struct group *g = m->tab[b]; rc == 0 && g != NULL; g = g->next) {
            for (size_t i = 0; i < g->n; i++) {
                const struct mrec *c = &g->recs[i];
                struct sf_fs_meta_entry e;
                if ((c->flags & SF_FS_META_RF_DELETED) || is_dot(c->name, c->name_len) ||
                    sf_fs_meta_entry_decode(c->value, c->value_len, &e) != 0 ||
                    (e.inode.mode & S_IFMT) != S_IFREG) {
                    continue;
                }
                if (n == cap) {
                    struct sf_fs_meta_rec *no = realloc(out, 2 * cap * sizeof *out);
                    if (no == NULL) {
                        rc = -ENOMEM;
                        break;
                    }
                    out = no;
                    cap *= 2;
                }
                bytes += 14 + c->name_len + c->value_len;
                if (bytes > REPLY_MAX) {
                    rc = -EFBIG;
                    break;
                }
                rec_view(c, &out[n++]);
            }
        }
    }
    reply(m, from, req, rc, rc == 0 ? out : NULL, rc == 0 ? n : 0);
    free(out);
}

/* ------------------------------------------------------ input, views */

static void on_reply(struct sf_fs_meta *m, const struct sf_dht_id *from,
                     const struct sf_fs_meta_msg *msg)
{
    for (struct rpc **pp = &m->rpcs; *pp != NULL; pp = &(*pp)->next) {
        struct rpc *r = *pp;
        if (r->req == msg->req && id_eq(&r->to, from)) {
            *pp = r->next;
            r->cb(m, r->ctx, msg->status, msg->recs, msg->n_recs);
            free(r);
            return;
        }
    }
}

static void persist_done(struct sf_fs_meta *m, struct persist *p, int status)
{
    switch (p->kind) {
    case P_CAS:
        cas_persisted(m, p, status);
        break;
    case P_STORE:
        if (status == 0) {
            status = merge_apply(m, p->g, p->recs, p->n);
        }
        if (status == 0 && p->stale > 0 && !p->push) {
            status = -ESTALE; /* a replica write that lost to what we hold */
        }
        reply(m, &p->from, p->req, status, NULL, 0);
        break;
    case P_SYNC:
        sync_page_done(m, p, status);
        break;
    }
    free(p->buf);
    free(p->recs);
    free(p);
}

void sf_fs_meta_input(struct sf_fs_meta *m, const struct sf_dht_id *from,
                      const struct sf_fs_meta_msg *msg)
{
    switch (msg->type) {
    case SF_FS_META_M_CAS:
        primary_take(m, from, msg);
        break;
    case SF_FS_META_M_READ:
        if (msg->flags & SF_FS_META_READ_FILES) {
            answer_files(m, from, msg->req);
        } else if (msg->flags & SF_FS_META_READ_LOCAL) {
            struct group *g = group_find(m, &msg->key);
            struct work w = {.flags = msg->flags & (SF_FS_META_READ_AFTER | SF_FS_META_READ_PAGE)};
            if (msg->name_len <= SF_FS_NAME_MAX) {
                memcpy(w.name, msg->name, msg->name_len);
                w.name_len = msg->name_len;
            }
            if (g == NULL) {
                reply(m, from, msg->req, 0, NULL, 0);
            } else {
                w.from = *from;
                w.req = msg->req;
                answer_read(m, g, &w);
            }
        } else {
            primary_take(m, from, msg);
        }
        break;
    case SF_FS_META_M_STORE: {
        struct group *g = group_get(m, &msg->key);
        struct persist *p = g ? calloc(1, sizeof *p) : NULL;
        struct sf_fs_meta_rec *win = NULL;
        size_t nw = 0;
        if (msg->flags & 1) {
            m->st.pushes++;
        }
        if (p == NULL || merge_prepare(g, msg->recs, msg->n_recs, &win, &nw, &p->stale) != 0) {
            free(p);
            reply(m, from, msg->req, -ENOMEM, NULL, 0);
            break;
        }
        p->kind = P_STORE;
        p->g = g;
        p->from = *from;
        p->req = msg->req;
        p->push = msg->flags & 1;
        persist_start(m, p, win, nw);
        free(win);
        break;
    }
    case SF_FS_META_M_REPLY:
        on_reply(m, from, msg);
        break;
    }
}

/* Send every record held to the other holders of its group in the view. */
static void push_all(struct sf_fs_meta *m)
{
    for (size_t b = 0; b < m->tcap; b++) {
        for (struct group *g = m->tab[b]; g != NULL; g = g->next) {
            if (g->n == 0) {
                continue;
            }
            struct sf_dht_id h[SF_FS_R_MAX];
            size_t nh = holders(m, &g->key, h);
            struct sf_fs_meta_rec *v = malloc(g->n * sizeof *v);
            if (v == NULL) {
                continue;
            }
            for (size_t i = 0; i < g->n; i++) {
                rec_view(&g->recs[i], &v[i]);
            }
            for (size_t i = 0; i < nh; i++) {
                if (id_eq(&h[i], &m->cfg.self)) {
                    continue;
                }
                for (size_t o = 0; o < g->n; o += PUSH_CHUNK) {
                    struct sf_fs_meta_msg st = {.type = SF_FS_META_M_STORE,
                                                .key = g->key,
                                                .flags = 1,
                                                .recs = v + o,
                                                .n_recs =
                                                    g->n - o < PUSH_CHUNK ? g->n - o : PUSH_CHUNK};
                    msg_send(m, &h[i], &st);
                }
            }
            free(v);
        }
    }
}

int sf_fs_meta_members(struct sf_fs_meta *m, const struct sf_dht_id *ids, size_t n)
{
    struct sf_dht_id *nm = malloc((n + 1) * sizeof *nm);
    if (nm == NULL) {
        return -ENOMEM;
    }
    size_t k = 0;
    bool self = false;
    for (size_t i = 0; i < n; i++) {
        bool dup = false;
        for (size_t j = 0; j < k; j++) {
            dup = dup || id_eq(&nm[j], &ids[i]);
        }
        if (!dup) {
            self = self || id_eq(&ids[i], &m->cfg.self);
            nm[k++] = ids[i];
        }
    }
    if (!self) {
        nm[k++] = m->cfg.self;
    }
    free(m->members);
    m->members = nm;
    m->n_members = k;
    m->epoch++;
    if (k >= m->ref_members) {
        m->ref_members = k;
        m->shrunk_at = 0;
    } else if (m->shrunk_at == 0) {
        m->shrunk_at = m->now ? m->now : 1;
    }
    push_all(m);
    rpc_fail_where(m, rpc_to_gone, -EHOSTDOWN);
    /* Queued decisions re-check primaryship and sync in the new view. */
    for (size_t b = 0; b < m->tcap; b++) {
        for (struct group *g = m->tab[b]; g != NULL; g = g->next) {
            group_pump(m, g);
        }
    }
    return 0;
}

/* ================================================= namespace (coordinator) */

enum ns_step {
    ST_WALK = 1, /* resolving a path's directories */
    ST_MAIN,     /* the verb's first read or write */
    ST_SECOND,   /* its second write */
    ST_UNDO,     /* undoing the first write after the second failed */
    ST_RN_SRC,   /* cross-directory rename: unlinking the source */
    ST_FINAL,    /* the last write: its answer is the result */
};

struct nsop {
    struct sf_fs_meta *m;
    struct sf_fs_meta_nsreq rq;
    char *path, *path2, *after;
    struct sf_fs_inode inode;
    bool readdir;
    uint32_t max;
    sf_fs_meta_done_fn cb;
    void *arg;
    int step, attempt, retries, again;
    /* walk */
    const char *wpath; /* path being walked */
    size_t woff;       /* next component starts here */
    size_t wend;       /* stop before this offset (parent only) */
    struct sf_dht_id wkey;
    int which; /* 0: path, 1: path2, 2: readdir's directory itself */
    /* resolved */
    struct sf_dht_id pkey, pkey2, ckey;
    const char *name, *name2;
    size_t name_len, name2_len;
    struct {
        bool live;
        uint64_t version;
        struct sf_fs_meta_entry e;
        uint8_t value[SF_FS_META_VALUE_MAX];
        size_t value_len;
    } src, dst;
    uint64_t wrote_version;
    int pending_err;
    /* last CAS, for a retry after -EAGAIN */
    struct sf_dht_id call_key;
    struct sf_fs_meta_rec call_items[3];
    size_t call_n;
    uint8_t call_vals[3][SF_FS_META_VALUE_MAX];
    uint64_t retry_at;
    struct nsop *next_retry;
    /* fan-out read */
    struct group *fan;
    int fan_pending;
    int fan_ok, fan_need;
    struct sf_fs_meta_result res;
};

static void ns_step(struct nsop *op, int status, const struct sf_fs_meta_rec *recs, size_t n);

static void ns_finish(struct nsop *op, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void group_free(struct group *g)
{
    for (size_t i = 0; i < g->n; i++) {
        free(g->recs[i].name);
        free(g->recs[i].value);
    }
    free(g->recs);
    while (g->q_head != NULL) {
        struct work *w = g->q_head;
        g->q_head = w->next;
        work_free(w);
    }
    while (g->cur != NULL) {
        struct work *w = g->cur;
        g->cur = w->next;
        work_free(w);
    }
    free(g);
}

static void ns_finish(struct nsop *op, int status, const char *fmt, ...)
{
    struct sf_fs_meta *m = op->m;
    struct done *d = calloc(1, sizeof *d);
    if (d != NULL) {
        d->cb = op->cb;
        d->arg = op->arg;
        d->res = op->res;
        d->res.status = status;
        if (fmt != NULL) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(d->res.message, sizeof d->res.message, fmt, ap);
            va_end(ap);
        }
        if (m->d_tail != NULL) {
            m->d_tail->next = d;
        } else {
            m->d_head = d;
        }
        m->d_tail = d;
    } else {
        free(op->res.entries); /* the callback is lost: out of memory */
    }
    free(op->path);
    free(op->path2);
    free(op->after);
    free(op);
}

static void fan_cb(struct sf_fs_meta *m, void *ctx, int status, const struct sf_fs_meta_rec *recs,
                   size_t n)
{
    struct nsop *op = ctx;
    if (status == 0) {
        /* A scratch group: keep the node's counters out of it. */
        struct sf_fs_meta_stats keep = m->st;
        op->fan_ok++;
        (void)group_merge(m, op->fan, recs, n);
        m->st = keep;
    }
    if (--op->fan_pending > 0) {
        return;
    }
    struct group *g = op->fan;
    op->fan = NULL;
    struct sf_fs_meta_rec *v = malloc((g->n ? g->n : 1) * sizeof *v);
    size_t k = 0;
    for (size_t i = 0; v != NULL && i < g->n; i++) {
        rec_view(&g->recs[i], &v[k++]);
    }
    /* Only what a majority of the holders answered is safe to act on (a
     * node cut off from the others would read its own stale copy). */
    int st = v == NULL ? -ENOMEM : op->fan_ok >= op->fan_need ? 0 : -EHOSTDOWN;
    ns_step(op, st, v, k);
    free(v);
    group_free(g);
}

/* The primary did not answer: ask every holder for its local copy and
 * take the highest version of each record. */
static void read_fanout(struct nsop *op, const struct sf_dht_id *key, const char *name, size_t len,
                        uint8_t flags)
{
    struct sf_fs_meta *m = op->m;
    struct sf_dht_id h[SF_FS_R_MAX];
    size_t nh = holders(m, key, h);
    op->fan = calloc(1, sizeof *op->fan);
    if (op->fan == NULL) {
        ns_finish(op, -ENOMEM, "out of memory");
        return;
    }
    op->fan_pending = 1;
    op->fan_ok = 0;
    op->fan_need = (int)quorum(m);
    for (size_t i = 0; i < nh; i++) {
        struct sf_fs_meta_msg rd = {.type = SF_FS_META_M_READ,
                                    .key = *key,
                                    .name = name,
                                    .name_len = len,
                                    .flags = (uint8_t)(flags | SF_FS_META_READ_LOCAL)};
        op->fan_pending++;
        if (rpc_call(m, &h[i], &rd, fan_cb, op) != 0) {
            op->fan_pending--;
        }
    }
    fan_cb(m, op, -EHOSTDOWN, NULL, 0); /* drops the hold */
}

struct readctx {
    struct nsop *op;
    struct sf_dht_id key;
    char name[SF_FS_NAME_MAX + 1];
    size_t len;
    uint8_t flags;
};

static void read_cb(struct sf_fs_meta *m, void *ctx, int status, const struct sf_fs_meta_rec *recs,
                    size_t n)
{
    (void)m;
    struct readctx *rc = ctx;
    struct nsop *op = rc->op;
    if (status == -EAGAIN || status == -ETIMEDOUT || status == -EHOSTDOWN) {
        read_fanout(op, &rc->key, rc->name, rc->len, rc->flags);
        free(rc);
        return;
    }
    free(rc);
    ns_step(op, status, recs, n);
}

/* Read (key, name) -- or the group after a cursor -- at the primary. */
static void read_at_primary(struct nsop *op, const struct sf_dht_id *key, const char *name,
                            size_t len, uint8_t flags)
{
    struct sf_fs_meta *m = op->m;
    struct sf_dht_id h[SF_FS_R_MAX];
    struct readctx *rc = calloc(1, sizeof *rc);
    if (rc == NULL || holders(m, key, h) == 0) {
        free(rc);
        ns_finish(op, -ENOMEM, "out of memory");
        return;
    }
    rc->op = op;
    rc->key = *key;
    memcpy(rc->name, name, len);
    rc->len = len;
    rc->flags = flags;
    struct sf_fs_meta_msg rd = {
        .type = SF_FS_META_M_READ, .key = *key, .name = name, .name_len = len, .flags = flags};
    if (rpc_call(m, &h[0], &rd, read_cb, rc) != 0) {
        free(rc);
        ns_finish(op, -ENOMEM, "out of memory");
    }
}

static void cas_send(struct nsop *op);

static void cas_cb(struct sf_fs_meta *m, void *ctx, int status, const struct sf_fs_meta_rec *recs,
                   size_t n)
{
    struct nsop *op = ctx;
    if (status == -EAGAIN && op->retries < RETRIES) {
        /* The primary's view differs from ours: try again once the
         * membership has settled (sf_fs_meta_tick). */
        op->retries++;
        op->retry_at = m->now + RETRY_MS;
        op->next_retry = m->retry;
        m->retry = op;
        return;
    }
    ns_step(op, status, recs, n);
}

static void cas_send(struct nsop *op)
{
    struct sf_fs_meta *m = op->m;
    struct sf_dht_id h[SF_FS_R_MAX];
    if (holders(m, &op->call_key, h) == 0) {
        ns_finish(op, -EIO, "no members");
        return;
    }
    struct sf_fs_meta_msg c = {.type = SF_FS_META_M_CAS,
                               .key = op->call_key,
                               .recs = op->call_items,
                               .n_recs = op->call_n};
    if (rpc_call(m, &h[0], &c, cas_cb, op) != 0) {
        ns_finish(op, -ENOMEM, "out of memory");
    }
}

static void cas_begin(struct nsop *op, const struct sf_dht_id *key);
static void cas_item(struct nsop *op, const char *name, size_t len, uint8_t cond, uint64_t expect,
                     uint8_t action, const uint8_t *value, size_t vlen);

/* Delete (key, name) if its version is still `version`. */
static void cas_delete(struct nsop *op, const struct sf_dht_id *key, const char *name, size_t len,
                       uint64_t version)
{
    cas_begin(op, key);
    cas_item(op, name, len, SF_FS_META_C_VERSION, version, SF_FS_META_A_DELETE, NULL, 0);
    cas_send(op);
}

/* Build the items of a CAS on key (values are copied). */
static void cas_begin(struct nsop *op, const struct sf_dht_id *key)
{
    op->call_key = *key;
    op->call_n = 0;
    op->retries = 0;
}

static void cas_item(struct nsop *op, const char *name, size_t len, uint8_t cond, uint64_t expect,
                     uint8_t action, const uint8_t *value, size_t vlen)
{
    size_t i = op->call_n++;
    if (vlen > 0) {
        memcpy(op->call_vals[i], value, vlen);
    }
    op->call_items[i] = (struct sf_fs_meta_rec){.name = name,
                                                .name_len = len,
                                                .version = expect,
                                                .cond = cond,
                                                .action = action,
                                                .value = vlen ? op->call_vals[i] : NULL,
                                                .value_len = vlen};
}

/* ---- path walk: resolve the directory holding a path's last component */

static bool root_key_is(const struct sf_dht_id *k)
{
    struct sf_dht_id r;
    sf_fs_meta_root_key(&r);
    return id_eq(&r, k);
}

static void walk_start(struct nsop *op, const char *path, int which)
{
    op->step = ST_WALK;
    op->which = which;
    op->wpath = path;
    sf_fs_meta_root_key(&op->wkey);
    op->woff = 1;
    size_t len = strlen(path);
    /* which 2 (readdir): walk every component; else stop at the last. */
    if (which == 2) {
        op->wend = len;
    } else {
        const char *slash = strrchr(path, '/');
        op->wend = (size_t)(slash - path);
    }
    ns_step(op, 0, NULL, 0);
}

/* One record from a read: is it a live entry? Fills out. */
static bool take_entry(const struct sf_fs_meta_rec *recs, size_t n, const char *name, size_t len,
                       uint64_t *version, struct sf_fs_meta_entry *e, uint8_t *value,
                       size_t *value_len)
{
    for (size_t i = 0; i < n; i++) {
        if (name_cmp(recs[i].name, recs[i].name_len, name, len) != 0) {
            continue;
        }
        *version = recs[i].version;
        if ((recs[i].flags & SF_FS_META_RF_DELETED) ||
            sf_fs_meta_entry_decode(recs[i].value, recs[i].value_len, e) != 0) {
            return false;
        }
        if (value != NULL) {
            memcpy(value, recs[i].value, recs[i].value_len);
            *value_len = recs[i].value_len;
        }
        return true;
    }
    *version = 0;
    return false;
}

static void verb_start(struct nsop *op);

/* Why a read failed, for the message. */
static const char *read_why(int status)
{
    return status == -EHOSTDOWN ? " (too few metadata holders answered for a majority)" : "";
}
static void cas_link(struct nsop *op, const struct sf_dht_id *key, const char *name, size_t len,
                     uint8_t cond, uint64_t expect);

/* Walk one component per read. */
static void walk_step(struct nsop *op, int status, const struct sf_fs_meta_rec *recs, size_t n)
{
    if (status != 0) {
        ns_finish(op, status, "reading the directories of %s failed%s", op->wpath,
                  read_why(status));
        return;
    }
    if (op->attempt > 0) {
        /* recs answers the component [prev, op->woff - 1) */
        size_t end = op->woff - 1, beg = end;
        while (beg > 0 && op->wpath[beg - 1] != '/') {
            beg--;
        }
        uint64_t v;
        struct sf_fs_meta_entry e;
        if (!take_entry(recs, n, op->wpath + beg, end - beg, &v, &e, NULL, NULL)) {
            ns_finish(op, -ENOENT, "%.*s: no such directory", (int)end, op->wpath);
            return;
        }
        if ((e.inode.mode & S_IFMT) != S_IFDIR) {
            ns_finish(op, -ENOTDIR, "%.*s: not a directory", (int)end, op->wpath);
            return;
        }
        memcpy(op->wkey.b, e.fid, SF_DHT_ID_LEN);
    }
    if (op->woff > op->wend) {
        /* Done: wkey is the directory that holds the last component. */
        op->attempt = 0;
        if (op->which == 0) {
            op->pkey = op->wkey;
            op->name = op->wpath + op->wend + 1;
            op->name_len = strlen(op->name);
            if (op->rq.verb == SF_FS_NS_RENAME) {
                walk_start(op, op->path2, 1);
                return;
            }
        } else if (op->which == 1) {
            op->pkey2 = op->wkey;
            op->name2 = op->wpath + op->wend + 1;
            op->name2_len = strlen(op->name2);
        } else {
            op->ckey = op->wkey;
        }
        op->step = ST_MAIN;
        verb_start(op);
        return;
    }
    size_t beg = op->woff, end = beg;
    while (end < op->wend && op->wpath[end] != '/') {
        end++;
    }
    op->woff = end + 1;
    op->attempt = 1;
    read_at_primary(op, &op->wkey, op->wpath + beg, end - beg, 0);
}

static uint32_t kind_of(const struct sf_fs_meta_entry *e)
{
    return e->inode.mode & S_IFMT;
}

static void result_entry(struct nsop *op, const struct sf_fs_meta_rec *recs, size_t n,
                         const char *name, size_t len)
{
    struct sf_fs_meta_entry e;
    uint64_t v;
    if (take_entry(recs, n, name, len, &v, &e, NULL, NULL)) {
        op->res.version = v;
        op->res.inode = e.inode;
        op->res.has_inode = true;
        memcpy(op->res.fid, e.fid, SF_FS_FID_LEN);
    }
}

/* The inode a CREATE / MKDIR writes. */
static int new_inode(struct nsop *op, uint32_t type, struct sf_fs_inode *ino)
{
    if (op->rq.inode != NULL) {
        *ino = *op->rq.inode;
        if ((ino->mode & S_IFMT) != type) {
            return -EINVAL;
        }
    } else {
        memset(ino, 0, sizeof *ino);
        ino->mode = type | (op->rq.mode & 07777);
        ino->uid = op->rq.uid;
        ino->gid = op->rq.gid;
        ino->mtime_ns = ino->ctime_ns = op->rq.now_ns;
        ino->replicas = 2;
        ino->block_size = SF_FS_BLOCK_DEFAULT;
    }
    ino->version = 0;
    return 0;
}

static void verb_start(struct nsop *op)
{
    struct sf_fs_meta *m = op->m;
    op->attempt = 0;
    if (op->readdir) {
        read_at_primary(op, &op->ckey, op->after, strlen(op->after), SF_FS_META_READ_AFTER);
        return;
    }
    switch (op->rq.verb) {
    case SF_FS_NS_CREATE:
    case SF_FS_NS_MKDIR: {
        bool dir = op->rq.verb == SF_FS_NS_MKDIR;
        struct sf_fs_meta_entry e;
        int rc = new_inode(op, dir ? S_IFDIR : S_IFREG, &e.inode);
        if (rc != 0) {
            ns_finish(op, rc, "%s: the inode's type does not match the verb", op->path);
            return;
        }
        m->ops.random(m->ops.arg, e.fid, SF_FS_FID_LEN);
        size_t len;
        rc = sf_fs_meta_entry_encode(&e, op->src.value, sizeof op->src.value, &len);
        if (rc != 0) {
            ns_finish(op, rc, "%s: invalid inode", op->path);
            return;
        }
        op->src.value_len = len;
        op->src.e = e;
        if (dir) {
            /* The new directory's group first (a fresh random key: no one
             * else writes it), then its name: a crash between leaves an
             * unreachable "." record, never a name without its group. */
            memcpy(op->ckey.b, e.fid, SF_DHT_ID_LEN);
            cas_begin(op, &op->ckey);
            cas_item(op, ".", 1, SF_FS_META_C_ABSENT, 0, SF_FS_META_A_PUT, NULL, 0);
            op->step = ST_MAIN;
            cas_send(op);
            return;
        }
        op->step = ST_SECOND;
        op->attempt = 1;
        cas_link(op, &op->pkey, op->name, op->name_len, SF_FS_META_C_ABSENT, 0);
        return;
    }
    default:
        /* Everything else starts by reading the entry itself. */
        read_at_primary(op, &op->pkey, op->name, op->name_len, 0);
        return;
    }
}

/* Publish (pkey, name) = src.value if the name is free (CREATE, MKDIR,
 * COMMIT with expect 0, the first half of a cross-directory RENAME). */
static void cas_link(struct nsop *op, const struct sf_dht_id *key, const char *name, size_t len,
                     uint8_t cond, uint64_t expect)
{
    cas_begin(op, key);
    if (!root_key_is(key)) {
        cas_item(op, ".", 1, SF_FS_META_C_LIVE, 0, SF_FS_META_A_NONE, NULL, 0);
    }
    cas_item(op, name, len, cond, expect, SF_FS_META_A_PUT, op->src.value, op->src.value_len);
    cas_send(op);
}

static int cas_errno_msg(struct nsop *op, int status, const char *what)
{
    switch (status) {
    case -EEXIST:
        ns_finish(op, status, "%s: exists", what);
        break;
    case -ENOENT:
        ns_finish(op, status, "%s: the directory is gone (removed meanwhile)", what);
        break;
    case -ESTALE:
        ns_finish(op, status, "%s: changed meanwhile (a newer version exists)", what);
        break;
    case -EAGAIN:
        ns_finish(op, status, "%s: too few metadata holders reachable for a majority; try again",
                  what);
        break;
    case -ETIMEDOUT:
    case -EHOSTDOWN:
    case -EIO:
        ns_finish(op, status, "%s: the metadata holders did not confirm (outcome unknown)", what);
        break;
    default:
        ns_finish(op, status, "%s: failed", what);
    }
    return status;
}

/* The second write of a two-write verb came back: finish on success, else
 * remember the error and go undo the first write (the caller sends it). */
static bool done_or_undo(struct nsop *op, int status)
{
    if (status == 0) {
        ns_finish(op, 0, NULL);
        return true;
    }
    op->pending_err = status;
    op->step = ST_UNDO;
    return false;
}

static void ns_step(struct nsop *op, int status, const struct sf_fs_meta_rec *recs, size_t n)
{
    if (op->step == ST_WALK) {
        walk_step(op, status, recs, n);
        return;
    }
    struct sf_fs_meta *m = op->m;
    if (op->readdir) {
        if (status != 0) {
            ns_finish(op, status, "%s: reading the directory failed%s", op->path, read_why(status));
            return;
        }
        size_t cap = 0, k = 0;
        for (size_t i = 0; i < n && k < op->max; i++, k++) {
            cap += 1 + recs[i].name_len + SF_FS_FID_LEN + 2 + SF_DHT_VALUE_MAX;
        }
        op->res.entries = malloc(cap ? cap : 1);
        if (op->res.entries == NULL) {
            ns_finish(op, -ENOMEM, "out of memory");
            return;
        }
        size_t off = 0, put = 0;
        for (size_t i = 0; i < n && put < op->max; i++) {
            struct sf_fs_meta_entry e;
            if ((recs[i].flags & SF_FS_META_RF_DELETED) || is_dot(recs[i].name, recs[i].name_len) ||
                name_cmp(recs[i].name, recs[i].name_len, op->after, strlen(op->after)) <= 0 ||
                sf_fs_meta_entry_decode(recs[i].value, recs[i].value_len, &e) != 0) {
                continue;
            }
            if (sf_fs_meta_dirent_put(op->res.entries, cap, &off, recs[i].name, recs[i].name_len,
                                      e.fid, &e.inode) == 0) {
                put++;
            }
        }
        op->res.entries_len = off;
        op->res.done = n <= op->max;
        ns_finish(op, 0, NULL);
        return;
    }
    uint32_t verb = op->rq.verb;
    if (op->step == ST_MAIN && op->attempt == 0 && verb != SF_FS_NS_CREATE &&
        verb != SF_FS_NS_MKDIR) {
        /* The entry's read came back (or failed). */
        if (status != 0) {
            ns_finish(op, status, "%s: reading failed%s", op->path, read_why(status));
            return;
        }
        op->src.live = take_entry(recs, n, op->name, op->name_len, &op->src.version, &op->src.e,
                                  op->src.value, &op->src.value_len);
        op->attempt = 1;
        switch (verb) {
        case SF_FS_NS_LOOKUP:
            if (!op->src.live) {
                ns_finish(op, -ENOENT, "%s: no such file or directory", op->path);
                return;
            }
            result_entry(op, recs, n, op->name, op->name_len);
            ns_finish(op, 0, NULL);
            return;
        case SF_FS_NS_COMMIT: {
            if (op->rq.expect == 0 && op->src.live) {
                ns_finish(op, -EEXIST, "%s: exists", op->path);
                return;
            }
            if (op->rq.expect != 0 && (!op->src.live || op->src.version != op->rq.expect)) {
                if (!op->src.live) {
                    ns_finish(op, -ENOENT, "%s: no such file (removed meanwhile)", op->path);
                } else {
                    op->res.version = op->src.version;
                    ns_finish(op, -ESTALE, "%s: version %llu was committed meanwhile", op->path,
                              (unsigned long long)op->src.version);
                }
                return;
            }
            struct sf_fs_meta_entry e;
            e.inode = op->inode;
            if (op->rq.expect == 0) {
                m->ops.random(m->ops.arg, e.fid, SF_FS_FID_LEN);
            } else {
                if ((op->inode.mode & S_IFMT) != kind_of(&op->src.e)) {
                    ns_finish(op, -EINVAL, "%s: the new inode changes the file's type", op->path);
                    return;
                }
                memcpy(e.fid, op->src.e.fid, SF_FS_FID_LEN);
            }
            size_t len;
            int rc = sf_fs_meta_entry_encode(&e, op->src.value, sizeof op->src.value, &len);
            if (rc != 0) {
                ns_finish(op, rc, "%s: invalid inode", op->path);
                return;
            }
            op->src.value_len = len;
            op->step = ST_SECOND;
            if (op->rq.expect == 0) {
                cas_link(op, &op->pkey, op->name, op->name_len, SF_FS_META_C_ABSENT, 0);
            } else {
                cas_begin(op, &op->pkey);
                cas_item(op, op->name, op->name_len, SF_FS_META_C_VERSION, op->rq.expect,
                         SF_FS_META_A_PUT, op->src.value, op->src.value_len);
                cas_send(op);
            }
            return;
        }
        case SF_FS_NS_UNLINK:
            if (!op->src.live) {
                ns_finish(op, -ENOENT, "%s: no such file", op->path);
                return;
            }
            if (kind_of(&op->src.e) == S_IFDIR) {
                ns_finish(op, -EISDIR, "%s: is a directory (use rmdir)", op->path);
                return;
            }
            op->step = ST_SECOND;
            cas_delete(op, &op->pkey, op->name, op->name_len, op->src.version);
            return;
        case SF_FS_NS_RMDIR:
            if (!op->src.live) {
                ns_finish(op, -ENOENT, "%s: no such directory", op->path);
                return;
            }
            if (kind_of(&op->src.e) != S_IFDIR) {
                ns_finish(op, -ENOTDIR, "%s: not a directory", op->path);
                return;
            }
            /* Close the directory's group if it is empty (atomically at its
             * primary: no create can slip in), then drop the name. */
            memcpy(op->ckey.b, op->src.e.fid, SF_DHT_ID_LEN);
            cas_begin(op, &op->ckey);
            cas_item(op, ".", 1, SF_FS_META_C_EMPTY, 0, SF_FS_META_A_DELETE, NULL, 0);
            cas_send(op);
            return;
        case SF_FS_NS_RENAME: {
            if (!op->src.live) {
                ns_finish(op, -ENOENT, "%s: no such file or directory", op->path);
                return;
            }
            /* Now read the target. */
            op->step = ST_SECOND;
            op->attempt = 0;
            read_at_primary(op, &op->pkey2, op->name2, op->name2_len, 0);
            return;
        }
        default:
            ns_finish(op, -EINVAL, "unknown verb %u", verb);
            return;
        }
    }
    switch (verb) {
    case SF_FS_NS_CREATE:
    case SF_FS_NS_MKDIR:
        if (op->step == ST_MAIN) {
            /* The new directory's "." is written. */
            if (status != 0) {
                cas_errno_msg(op, status, op->path);
                return;
            }
            op->step = ST_SECOND;
            op->attempt = 1;
            cas_link(op, &op->pkey, op->name, op->name_len, SF_FS_META_C_ABSENT, 0);
            return;
        }
        if (status != 0) {
            cas_errno_msg(op, status, op->path);
            return;
        }
        result_entry(op, recs, n, op->name, op->name_len);
        ns_finish(op, 0, NULL);
        return;
    case SF_FS_NS_COMMIT:
        if (status != 0) {
            cas_errno_msg(op, status, op->path);
            return;
        }
        result_entry(op, recs, n, op->name, op->name_len);
        ns_finish(op, 0, NULL);
        return;
    case SF_FS_NS_UNLINK:
        if (status == -ESTALE && op->again < 3) {
            /* Changed between our read and the delete: read again. */
            op->again++;
            op->step = ST_MAIN;
            op->attempt = 0;
            read_at_primary(op, &op->pkey, op->name, op->name_len, 0);
            return;
        }
        if (status != 0) {
            cas_errno_msg(op, status, op->path);
            return;
        }
        ns_finish(op, 0, NULL);
        return;
    case SF_FS_NS_RMDIR:
        if (op->step == ST_MAIN) {
            if (status == -ENOTEMPTY) {
                ns_finish(op, status, "%s: directory not empty", op->path);
                return;
            }
            if (status != 0) {
                cas_errno_msg(op, status, op->path);
                return;
            }
            op->step = ST_SECOND;
            cas_delete(op, &op->pkey, op->name, op->name_len, op->src.version);
            return;
        }
        if (op->step == ST_SECOND) {
            if (!done_or_undo(op, status)) {
                /* The name changed meanwhile: reopen the directory. */
                cas_begin(op, &op->ckey);
                cas_item(op, ".", 1, SF_FS_META_C_ANY, 0, SF_FS_META_A_PUT, NULL, 0);
                cas_send(op);
            }
            return;
        }
        cas_errno_msg(op, op->pending_err, op->path);
        return;
    case SF_FS_NS_RENAME:
        if (op->step == ST_SECOND && op->attempt == 0) {
            /* The target's read. */
            if (status != 0) {
                ns_finish(op, status, "%s: reading failed%s", op->path2, read_why(status));
                return;
            }
            op->attempt = 1;
            op->dst.live = take_entry(recs, n, op->name2, op->name2_len, &op->dst.version,
                                      &op->dst.e, NULL, NULL);
            uint8_t cond = SF_FS_META_C_ABSENT;
            uint64_t expect = 0;
            if (op->dst.live) {
                if (memcmp(op->dst.e.fid, op->src.e.fid, SF_FS_FID_LEN) == 0) {
                    /* A rename that stopped half-way (the target written, the
                     * source not yet removed): finish it. */
                    op->step = ST_FINAL;
                    cas_delete(op, &op->pkey, op->name, op->name_len, op->src.version);
                    return;
                }
                if (op->rq.flags & SF_FS_NSF_NOREPLACE) {
                    ns_finish(op, -EEXIST, "%s: exists", op->path2);
                    return;
                }
                if (kind_of(&op->dst.e) == S_IFDIR) {
                    ns_finish(op, -EEXIST, "%s: is a directory (not replaced by rename)",
                              op->path2);
                    return;
                }
                if (kind_of(&op->src.e) == S_IFDIR) {
                    ns_finish(op, -ENOTDIR, "%s: not a directory", op->path2);
                    return;
                }
                cond = SF_FS_META_C_VERSION;
                expect = op->dst.version;
            }
            if (id_eq(&op->pkey, &op->pkey2)) {
                /* One directory: both names in one CAS at one primary. */
                op->step = ST_FINAL;
                cas_begin(op, &op->pkey);
                cas_item(op, op->name, op->name_len, SF_FS_META_C_VERSION, op->src.version,
                         SF_FS_META_A_DELETE, NULL, 0);
                cas_item(op, op->name2, op->name2_len, cond, expect, SF_FS_META_A_PUT,
                         op->src.value, op->src.value_len);
                cas_send(op);
                return;
            }
            /* Across directories: link at the target first, then unlink the
             * source; a crash between leaves both names (same fid), and
             * renaming again finishes the move. */
            cas_link(op, &op->pkey2, op->name2, op->name2_len, cond, expect);
            return;
        }
        if (op->step == ST_SECOND) {
            if (status != 0) {
                cas_errno_msg(op, status, op->path2);
                return;
            }
            uint64_t v;
            struct sf_fs_meta_entry e;
            take_entry(recs, n, op->name2, op->name2_len, &v, &e, NULL, NULL);
            op->wrote_version = v;
            op->step = ST_RN_SRC;
            cas_delete(op, &op->pkey, op->name, op->name_len, op->src.version);
            return;
        }
        if (op->step == ST_RN_SRC) {
            if (!done_or_undo(op, status)) {
                /* The source changed or vanished meanwhile: take the new
                 * name back (if it is still ours) and report. */
                cas_delete(op, &op->pkey2, op->name2, op->name2_len, op->wrote_version);
            }
            return;
        }
        if (op->step == ST_UNDO) {
            cas_errno_msg(op, op->pending_err, op->path);
            return;
        }
        /* ST_FINAL: one-directory rename or finishing a half-done one. */
        if (status != 0) {
            cas_errno_msg(op, status, op->path);
            return;
        }
        ns_finish(op, 0, NULL);
        return;
    default:
        ns_finish(op, -EINVAL, "unknown verb %u", verb);
    }
}

static void root_result(struct nsop *op)
{
    struct sf_fs_inode *ino = &op->res.inode;
    memset(ino, 0, sizeof *ino);
    ino->mode = S_IFDIR | 0777;
    ino->replicas = 2;
    ino->block_size = SF_FS_BLOCK_DEFAULT;
    ino->version = 1;
    op->res.version = 1;
    op->res.has_inode = true;
    struct sf_dht_id r;
    sf_fs_meta_root_key(&r);
    memcpy(op->res.fid, r.b, SF_FS_FID_LEN);
    ns_finish(op, 0, NULL);
}

static struct nsop *op_new(struct sf_fs_meta *m, sf_fs_meta_done_fn cb, void *arg)
{
    struct nsop *op = calloc(1, sizeof *op);
    if (op != NULL) {
        op->m = m;
        op->cb = cb;
        op->arg = arg;
    }
    return op;
}

static bool path_bad(struct nsop *op, const char *path)
{
    size_t bad = 0;
    int rc = path == NULL ? -EINVAL : sf_fs_path_check(path, &bad);
    if (rc != 0) {
        ns_finish(op, rc, "invalid path (%s, at byte %zu): %.120s",
                  rc == -ENAMETOOLONG ? "name too long"
                  : rc == -EILSEQ     ? "not valid UTF-8"
                                      : "empty, '.', '..' or not absolute",
                  bad, path ? path : "(null)");
        return true;
    }
    return false;
}

int sf_fs_meta_ns(struct sf_fs_meta *m, const struct sf_fs_meta_nsreq *rq, sf_fs_meta_done_fn cb,
                  void *arg)
{
    struct nsop *op = op_new(m, cb, arg);
    if (op == NULL) {
        return -ENOMEM;
    }
    op->rq = *rq;
    op->path = rq->path ? strdup(rq->path) : NULL;
    op->path2 = rq->path2 ? strdup(rq->path2) : NULL;
    if (rq->inode != NULL) {
        op->inode = *rq->inode;
        op->rq.inode = &op->inode;
    }
    op->rq.path = op->path;
    op->rq.path2 = op->path2;
    if ((rq->path && !op->path) || (rq->path2 && !op->path2)) {
        ns_finish(op, -ENOMEM, "out of memory");
        return 0;
    }
    if (path_bad(op, op->path)) {
        return 0;
    }
    bool root = strcmp(op->path, "/") == 0;
    switch (rq->verb) {
    case SF_FS_NS_LOOKUP:
        if (root) {
            root_result(op);
            return 0;
        }
        break;
    case SF_FS_NS_CREATE:
    case SF_FS_NS_MKDIR:
        if (root) {
            ns_finish(op, -EEXIST, "/: exists");
            return 0;
        }
        break;
    case SF_FS_NS_COMMIT:
        if (root || rq->inode == NULL) {
            ns_finish(op, root ? -EISDIR : -EINVAL, "%s: %s", op->path,
                      root ? "the root cannot be replaced" : "COMMIT needs an inode");
            return 0;
        }
        break;
    case SF_FS_NS_RMDIR:
    case SF_FS_NS_UNLINK:
        if (root) {
            ns_finish(op, rq->verb == SF_FS_NS_RMDIR ? -EBUSY : -EISDIR, "/: the root stays");
            return 0;
        }
        break;
    case SF_FS_NS_RENAME: {
        if (path_bad(op, op->path2)) {
            return 0;
        }
        size_t l = strlen(op->path);
        if (root || strcmp(op->path2, "/") == 0) {
            ns_finish(op, -EBUSY, "the root cannot be renamed or replaced");
            return 0;
        }
        if (strcmp(op->path, op->path2) == 0) {
            /* POSIX: renaming a name to itself does nothing; still check it exists. */
            op->rq.verb = SF_FS_NS_LOOKUP;
            break;
        }
        if (strncmp(op->path2, op->path, l) == 0 && op->path2[l] == '/') {
            ns_finish(op, -EINVAL, "%s: cannot move a directory under itself", op->path2);
            return 0;
        }
        break;
    }
    default:
        ns_finish(op, -EINVAL, "unknown verb %u", (unsigned)rq->verb);
        return 0;
    }
    walk_start(op, op->path, 0);
    return 0;
}

int sf_fs_meta_readdir(struct sf_fs_meta *m, const char *path, const char *after, uint32_t max,
                       sf_fs_meta_done_fn cb, void *arg)
{
    struct nsop *op = op_new(m, cb, arg);
    if (op == NULL) {
        return -ENOMEM;
    }
    op->readdir = true;
    op->path = path ? strdup(path) : NULL;
    op->after = strdup(after ? after : "");
    op->max = max == 0 ? SF_FS_READDIR_DEFAULT : max > SF_FS_READDIR_MAX ? SF_FS_READDIR_MAX : max;
    if ((path && !op->path) || !op->after) {
        ns_finish(op, -ENOMEM, "out of memory");
        return 0;
    }
    if (path_bad(op, op->path)) {
        return 0;
    }
    if (op->after[0] != '\0' && sf_fs_name_check(op->after, strlen(op->after)) != 0) {
        ns_finish(op, -EINVAL, "readdir: invalid cursor name");
        return 0;
    }
    if (strcmp(op->path, "/") == 0) {
        sf_fs_meta_root_key(&op->ckey);
        op->step = ST_MAIN;
        verb_start(op);
        return 0;
    }
    walk_start(op, op->path, 2);
    return 0;
}

/* ================================================================ life */

int sf_fs_meta_new(const struct sf_fs_meta_config *cfg, const struct sf_fs_meta_ops *ops,
                   struct sf_fs_meta **out)
{
    if (cfg == NULL || ops == NULL || ops->send == NULL || ops->random == NULL ||
        cfg->replicas < 0 || cfg->replicas > SF_FS_R_MAX) {
        return -EINVAL;
    }
    struct sf_fs_meta *m = calloc(1, sizeof *m);
    if (m == NULL) {
        return -ENOMEM;
    }
    m->cfg = *cfg;
    if (m->cfg.replicas == 0) {
        m->cfg.replicas = 3;
    }
    if (m->cfg.timeout_ms == 0) {
        m->cfg.timeout_ms = 5000;
    }
    if (m->cfg.sync_page == 0) {
        m->cfg.sync_page = 2048;
    }
    if (m->cfg.shrink_grace_ms == 0) {
        m->cfg.shrink_grace_ms = 300000;
    }
    m->ops = *ops;
    m->members = malloc(sizeof *m->members);
    if (m->members == NULL) {
        free(m);
        return -ENOMEM;
    }
    m->members[0] = cfg->self;
    m->n_members = 1;
    m->ref_members = cfg->ref_members > 1 ? cfg->ref_members : 1;
    m->shrunk_at = m->ref_members > 1 ? 1 : 0; /* the grace runs from the first tick */
    m->epoch = 1;
    *out = m;
    return 0;
}

void sf_fs_meta_free(struct sf_fs_meta *m)
{
    if (m == NULL) {
        return;
    }
    for (size_t b = 0; b < m->tcap; b++) {
        for (struct group *g = m->tab[b], *ng; g != NULL; g = ng) {
            ng = g->next;
            group_free(g);
        }
    }
    free(m->tab);
    while (m->rpcs != NULL) {
        struct rpc *r = m->rpcs;
        m->rpcs = r->next;
        /* Contexts are freed by their callbacks, which must not run now
         * (they would start new work): the group tags are freed here; a
         * coordinator's request state still in flight is dropped with the
         * core (its callback is never called, as documented). */
        if (r->cb == store_acked || r->cb == sync_done) {
            free(r->ctx);
        }
        free(r);
    }
    while (m->persists != NULL) {
        struct persist *p = m->persists;
        m->persists = p->next;
        if (p->kind == P_SYNC) {
            free(p->tag);
        }
        free(p->buf);
        free(p->recs);
        free(p);
    }
    while (m->lq_head != NULL) {
        struct qmsg *q = m->lq_head;
        m->lq_head = q->next;
        free(q->buf);
        free(q);
    }
    while (m->d_head != NULL) {
        struct done *d = m->d_head;
        m->d_head = d->next;
        free(d->res.entries);
        free(d);
    }
    free(m->members);
    free(m);
}

int sf_fs_meta_load(struct sf_fs_meta *m, const struct sf_dht_id *key,
                    const struct sf_fs_meta_rec *recs, size_t n)
{
    struct group *g = group_get(m, key);
    if (g == NULL) {
        return -ENOMEM;
    }
    return group_merge(m, g, recs, n);
}

void sf_fs_meta_tick(struct sf_fs_meta *m, uint64_t now_ms)
{
    if (m->shrunk_at == 1 && m->now == 0) {
        m->shrunk_at = now_ms ? now_ms : 1; /* restarted smaller: the grace starts now */
    }
    m->now = now_ms;
    if (m->shrunk_at != 0 && now_ms - m->shrunk_at >= m->cfg.shrink_grace_ms) {
        /* The lost members stayed away: they are gone, not cut off. */
        m->ref_members = m->n_members;
        m->shrunk_at = 0;
    }
    rpc_fail_where(m, rpc_expired, -ETIMEDOUT);
    struct nsop *due = NULL, **pp = &m->retry;
    while (*pp != NULL) {
        struct nsop *op = *pp;
        if (op->retry_at <= now_ms) {
            *pp = op->next_retry;
            op->next_retry = due;
            due = op;
        } else {
            pp = &op->next_retry;
        }
    }
    while (due != NULL) {
        struct nsop *op = due;
        due = op->next_retry;
        cas_send(op);
    }
    lag_tick(m);
}

void sf_fs_meta_run(struct sf_fs_meta *m)
{
    for (;;) {
        if (m->lq_head != NULL) {
            struct qmsg *q = m->lq_head;
            m->lq_head = q->next;
            if (m->lq_head == NULL) {
                m->lq_tail = NULL;
            }
            size_t n = 0;
            struct sf_fs_meta_rec *recs = NULL;
            if (sf_fs_meta_recs_count(q->buf, q->len, &n) == 0 &&
                (recs = malloc((n ? n : 1) * sizeof *recs)) != NULL &&
                sf_fs_meta_recs_decode(q->buf, q->len, recs, n, &n) == 0) {
                struct sf_fs_meta_msg msg = {.type = q->type,
                                             .req = q->req,
                                             .key = q->key,
                                             .status = q->status,
                                             .flags = q->flags,
                                             .name = q->name,
                                             .name_len = q->name_len,
                                             .recs = recs,
                                             .n_recs = n};
                sf_fs_meta_input(m, &m->cfg.self, &msg);
            }
            free(recs);
            free(q->buf);
            free(q);
            continue;
        }
        if (m->d_head != NULL) {
            struct done *d = m->d_head;
            m->d_head = d->next;
            if (m->d_head == NULL) {
                m->d_tail = NULL;
            }
            d->cb(d->arg, &d->res);
            free(d->res.entries);
            free(d);
            continue;
        }
        return;
    }
}

int sf_fs_meta_walk_files(struct sf_fs_meta *m, sf_fs_meta_file_fn fn, void *arg)
{
    for (size_t b = 0; b < m->tcap; b++) {
        for (struct group *g = m->tab[b]; g != NULL; g = g->next) {
            for (size_t i = 0; i < g->n; i++) {
                const struct mrec *c = &g->recs[i];
                struct sf_fs_meta_entry e;
                if ((c->flags & SF_FS_META_RF_DELETED) || is_dot(c->name, c->name_len) ||
                    sf_fs_meta_entry_decode(c->value, c->value_len, &e) != 0 ||
                    (e.inode.mode & S_IFMT) != S_IFREG) {
                    continue;
                }
                int rc = fn(arg, e.fid, &e.inode);
                if (rc != 0) {
                    return rc;
                }
            }
        }
    }
    return 0;
}

/* A cluster-wide collection of live file inodes (sf_fs_meta_collect_files). */
struct collect {
    sf_fs_meta_files_fn cb;
    void *arg;
    int pending, status;
    struct sf_fs_inode *inodes;
    size_t n, cap;
};

static void collect_cb(struct sf_fs_meta *m, void *ctx, int status,
                       const struct sf_fs_meta_rec *recs, size_t n)
{
    (void)m;
    struct collect *c = ctx;
    if (status != 0 && c->status == 0) {
        c->status = status;
    }
    for (size_t i = 0; status == 0 && i < n && c->status == 0; i++) {
        struct sf_fs_meta_entry e;
        if (sf_fs_meta_entry_decode(recs[i].value, recs[i].value_len, &e) != 0) {
            continue;
        }
        if (c->n == c->cap) {
            size_t nc = c->cap ? 2 * c->cap : 64;
            struct sf_fs_inode *ni = realloc(c->inodes, nc * sizeof *ni);
            if (ni == NULL) {
                c->status = -ENOMEM;
                break;
            }
            c->inodes = ni;
            c->cap = nc;
        }
        c->inodes[c->n++] = e.inode;
    }
    if (--c->pending == 0) {
        c->cb(c->arg, c->status, c->inodes, c->status == 0 ? c->n : 0);
        free(c->inodes);
        free(c);
    }
}

int sf_fs_meta_collect_files(struct sf_fs_meta *m, sf_fs_meta_files_fn cb, void *arg)
{
    struct collect *c = calloc(1, sizeof *c);
    if (c == NULL) {
        return -ENOMEM;
    }
    c->cb = cb;
    c->arg = arg;
    c->pending = 1; /* held until every request is out */
    for (size_t i = 0; i < m->n_members; i++) {
        struct sf_fs_meta_msg rd = {.type = SF_FS_META_M_READ, .flags = SF_FS_META_READ_FILES};
        c->pending++;
        if (rpc_call(m, &m->members[i], &rd, collect_cb, c) != 0) {
            c->pending--;
            c->status = -ENOMEM;
        }
    }
    collect_cb(m, c, 0, NULL, 0);
    return 0;
}

int sf_fs_meta_walk_groups(struct sf_fs_meta *m, sf_fs_meta_group_fn fn, void *arg)
{
    for (size_t b = 0; b < m->tcap; b++) {
        for (struct group *g = m->tab[b]; g != NULL; g = g->next) {
            if (g->n == 0) {
                continue;
            }
            struct sf_fs_meta_rec *v = malloc(g->n * sizeof *v);
            if (v == NULL) {
                return -ENOMEM;
            }
            for (size_t i = 0; i < g->n; i++) {
                rec_view(&g->recs[i], &v[i]);
            }
            int rc = fn(arg, &g->key, v, g->n);
            free(v);
            if (rc != 0) {
                return rc;
            }
        }
    }
    return 0;
}

size_t sf_fs_meta_ref_members(const struct sf_fs_meta *m)
{
    return m->ref_members;
}

void sf_fs_meta_stats(const struct sf_fs_meta *m, struct sf_fs_meta_stats *st)
{
    *st = m->st;
}
