/* DHT handle: create/destroy, tunables, RPC bookkeeping (transaction ids,
 * retries, timeouts), packet dispatch and the timer entry points. No I/O of
 * its own: sends go through ops.send, time comes in as "now". One thread
 * per handle. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "dht/dht_int.h"
#include "runtime/base/sf_err.h"
#include "runtime/base/sf_log.h"

#define CFG(f) offsetof(struct sf_dht_config, f)
static const struct sf_tun dht_tun_items[] = {
    {"k", SF_TUN_INT, "20", "bucket size and replication factor", CFG(k)},
    {"alpha", SF_TUN_INT, "3", "parallel requests per lookup", CFG(alpha)},
    {"rpc_timeout_ms", SF_TUN_INT, "500", "wait this long for a reply", CFG(rpc_timeout_ms)},
    {"rpc_tries", SF_TUN_INT, "3", "sends of a request before it counts as failed",
     CFG(rpc_tries)},
    {"max_fails", SF_TUN_INT, "2", "failed requests in a row that make a contact dead",
     CFG(max_fails)},
    {"ping_ms", SF_TUN_INT, "30000", "ping a contact silent for this long", CFG(ping_ms)},
    {"refresh_ms", SF_TUN_INT, "600000", "refresh a bucket without lookups this long",
     CFG(refresh_ms)},
    {"republish_ms", SF_TUN_INT, "600000", "publisher re-stores its records this often",
     CFG(republish_ms)},
    {"replicate_ms", SF_TUN_INT, "1200000", "holders re-store records not refreshed this long",
     CFG(replicate_ms)},
    {"tick_ms", SF_TUN_INT, "1000", "maintenance timer granularity", CFG(tick_ms)},
    {"max_values", SF_TUN_INT, "65536", "records held for other nodes", CFG(max_values)},
};
const struct sf_tun_table sf_dht_tun_table = {
    "dht", dht_tun_items, sizeof dht_tun_items / sizeof dht_tun_items[0]};

void sf_dht_config_default(struct sf_dht_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->seed = 1;
    cfg->k = 20;
    cfg->alpha = 3;
    cfg->rpc_timeout_ms = 500;
    cfg->rpc_tries = 3;
    cfg->max_fails = 2;
    cfg->ping_ms = 30000;
    cfg->refresh_ms = 600000;
    cfg->republish_ms = 600000;
    cfg->replicate_ms = 1200000;
    cfg->tick_ms = 1000;
    cfg->max_values = 65536;
}

int sf_dht_config_load(struct sf_dht_config *cfg)
{
    struct sf_dht_config c = *cfg;
    int rc = sf_tun_load(&sf_dht_tun_table, &c);
    if (rc != 0) {
        return rc;
    }
    c.id = cfg->id;
    c.seed = cfg->seed;
    *cfg = c;
    return 0;
}

static bool config_ok(const struct sf_dht_config *c)
{
    return c->k >= 1 && c->k <= SF_DHT__MSG_NODES_MAX && c->alpha >= 1 && c->alpha <= 16 &&
           c->rpc_timeout_ms > 0 && c->rpc_tries >= 1 && c->rpc_tries <= 10 &&
           c->max_fails >= 1 && c->max_fails <= 255 && c->ping_ms > 0 && c->refresh_ms > 0 &&
           c->republish_ms > 0 && c->replicate_ms > 0 && c->tick_ms > 0 && c->max_values >= 0;
}

uint64_t sf_dht__rand(struct sf_dht *d)
{
    /* splitmix64: tiny, seedable, good enough for tids and random ids. */
    uint64_t z = (d->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

int sf_dht_create(const struct sf_dht_config *cfg, const struct sf_dht_ops *ops, void *ctx,
                  uint64_t now, struct sf_dht **out)
{
    *out = NULL;
    if (cfg == NULL || ops == NULL || ops->send == NULL || !config_ok(cfg)) {
        return -EINVAL;
    }
    struct sf_dht *d = calloc(1, sizeof *d);
    if (d == NULL) {
        return -ENOMEM;
    }
    d->cfg = *cfg;
    d->ops = *ops;
    d->ctx = ctx;
    d->now = now;
    d->rng = cfg->seed;
    for (int i = 0; i < SF_DHT_ID_LEN; i++) {
        d->rng = d->rng * 131 + cfg->id.b[i];
    }
    d->next_tid = (uint32_t)sf_dht__rand(d);
    d->nb = 1;
    d->st.buckets = 1;
    d->bucket[0].refreshed = now;
    d->next_tick = now + (uint64_t)cfg->tick_ms;
    if (sf_dht__store_init(d) != 0) {
        free(d);
        return -ENOMEM;
    }
    *out = d;
    return 0;
}

static void rpc_unlink(struct sf_dht *d, struct sf_dht__rpc *r)
{
    if (r->prev != NULL) {
        r->prev->next = r->next;
    } else {
        d->rpc_head = r->next;
    }
    if (r->next != NULL) {
        r->next->prev = r->prev;
    } else {
        d->rpc_tail = r->prev;
    }
    struct sf_dht__rpc **pp = &d->tid_slot[r->tid % SF_DHT__TID_SLOTS];
    while (*pp != r) {
        pp = &(*pp)->hnext;
    }
    *pp = r->hnext;
    d->nrpc--;
}

static void rpc_append(struct sf_dht *d, struct sf_dht__rpc *r)
{
    r->next = NULL;
    r->prev = d->rpc_tail;
    if (d->rpc_tail != NULL) {
        d->rpc_tail->next = r;
    } else {
        d->rpc_head = r;
    }
    d->rpc_tail = r;
}

void sf_dht_destroy(struct sf_dht *d)
{
    if (d == NULL) {
        return;
    }
    while (d->rpc_head != NULL) {
        struct sf_dht__rpc *r = d->rpc_head;
        rpc_unlink(d, r);
        free(r);
    }
    sf_dht__lookup_free_all(d);
    sf_dht__store_free(d);
    sf_dht__table_free(d);
    free(d);
}

void sf_dht__send_raw(struct sf_dht *d, const struct sf_dht_addr *to, uint8_t *buf, size_t len)
{
    d->st.tx_packets++;
    if (d->ops.send(d->ctx, to, buf, len) != 0) {
        d->st.tx_errors++;
    }
}

/* Encode m as ours into d->buf, sign and seal. Returns length or <0. */
static int build(struct sf_dht *d, struct sf_dht__msg *m)
{
    m->sender = d->cfg.id;
    int n = sf_dht__encode(m, d->buf, sizeof d->buf);
    if (n < 0) {
        SF_WARN_SPARSE("dht: cannot encode packet type %d: %s", m->type, sf_strerror(n));
        return n;
    }
    if (d->ops.sign != NULL && d->ops.sign(d->ctx, d->buf, (size_t)n) != 0) {
        return -EPERM;
    }
    sf_dht__seal(d->buf, (size_t)n);
    return n;
}

int sf_dht__request(struct sf_dht *d, const struct sf_dht_contact *to, bool id_known,
                    struct sf_dht__msg *m, struct sf_dht__lookup *lk)
{
    m->tid = d->next_tid++;
    int n = build(d, m);
    if (n < 0) {
        return n;
    }
    struct sf_dht__rpc *r = malloc(sizeof *r + (size_t)n);
    if (r == NULL) {
        return -ENOMEM;
    }
    r->tid = m->tid;
    r->type = m->type;
    r->tries = 1;
    r->id_known = id_known;
    r->to = *to;
    r->deadline = d->now + (uint64_t)d->cfg.rpc_timeout_ms;
    r->lk = lk;
    r->len = (size_t)n;
    memcpy(r->pkt, d->buf, (size_t)n);
    struct sf_dht__rpc **slot = &d->tid_slot[r->tid % SF_DHT__TID_SLOTS];
    r->hnext = *slot;
    *slot = r;
    rpc_append(d, r);
    d->nrpc++;
    d->st.rpc_sent++;
    if (lk != NULL) {
        lk->messages++;
    }
    sf_dht__send_raw(d, &to->addr, r->pkt, r->len);
    return 0;
}

void sf_dht__reply(struct sf_dht *d, const struct sf_dht_addr *to, struct sf_dht__msg *m)
{
    int n = build(d, m);
    if (n > 0) {
        sf_dht__send_raw(d, to, d->buf, (size_t)n);
    }
}

static bool addr_eq(const struct sf_dht_addr *a, const struct sf_dht_addr *b)
{
    return a->len == b->len && memcmp(a->b, b->b, a->len) == 0;
}

static void start_join_lookup(struct sf_dht *d);

/* The self lookup ended: now refresh every bucket not yet full (a few per
 * tick), which fills the table and makes us known across the id space. If it found
 * fewer than k nodes, the network may still be forming (mass start): try
 * again next tick, a bounded number of times. */
static void join_done(struct sf_dht *d, const struct sf_dht_result *r, void *arg)
{
    for (int i = 0; i < d->nb; i++) {
        /* A bucket the self lookup already filled gains nothing now; the
         * regular refresh still comes round. */
        if (d->bucket[i].n < d->cfg.k) {
            d->bucket[i].refreshed = d->now - (uint64_t)d->cfg.refresh_ms;
        }
    }
    if (r->n_nodes < (size_t)d->cfg.k && d->join_tries < SF_DHT__JOIN_TRIES) {
        d->joined = false;
    }
}

static void start_join_lookup(struct sf_dht *d)
{
    d->joined = true;
    d->join_tries++;
    /* Kademlia join: look up our own id, which also tells our neighbours
     * about us; join_done refreshes the buckets. */
    (void)sf_dht__lookup_start(d, SF_DHT__LK_FIND, &d->cfg.id, join_done, NULL, NULL, NULL);
}

static int on_reply(struct sf_dht *d, const struct sf_dht_addr *from, const struct sf_dht__msg *m)
{
    struct sf_dht__rpc *r = d->tid_slot[m->tid % SF_DHT__TID_SLOTS];
    while (r != NULL && r->tid != m->tid) {
        r = r->hnext;
    }
    if (r == NULL || m->type != r->type + 1 || !addr_eq(from, &r->to.addr) ||
        (r->id_known && memcmp(r->to.id.b, m->sender.b, SF_DHT_ID_LEN) != 0)) {
        d->st.dropped[SF_DHT_DROP_UNMATCHED]++;
        return SF_ERR_PROTO;
    }
    rpc_unlink(d, r);
    r->to.id = m->sender;
    if (m->type == SF_DHT__PONG) {
        d->seen_as = m->addr;
    }
    struct sf_dht_contact c = {m->sender, *from};
    sf_dht__table_heard(d, &c, true);
    if (r->lk != NULL) {
        sf_dht__lookup_reply(d, r->lk, r, m);
    }
    free(r);
    if (!d->joined && d->join_tries == 0 && sf_dht__table_count(d) > 0) {
        start_join_lookup(d);
    }
    return 0;
}

static int on_request(struct sf_dht *d, const struct sf_dht_addr *from, const struct sf_dht__msg *m)
{
    struct sf_dht__msg repm, *rep = &repm;
    sf_dht__msg_init(rep, (uint8_t)(m->type + 1));
    rep->tid = m->tid;
    switch (m->type) {
    case SF_DHT__PING:
        rep->addr = *from;
        break;
    case SF_DHT__FIND_NODE:
        rep->n_nodes = sf_dht__table_closest(d, &m->target, rep->nodes, (size_t)d->cfg.k);
        break;
    case SF_DHT__FIND_VALUE:
        if (!(m->flags & SF_DHT__FV_VALUES_ONLY)) {
            rep->n_nodes = sf_dht__table_closest(d, &m->target, rep->nodes, (size_t)d->cfg.k);
        }
        sf_dht__store_fill(d, &m->target, (m->flags & SF_DHT__FV_CURSOR) ? &m->cursor : NULL,
                           rep);
        break;
    case SF_DHT__STORE:
        rep->flags = (uint8_t)sf_dht__store_put(d, &m->target, &m->values[0]);
        break;
    }
    sf_dht__reply(d, from, rep);
    /* Learn the requester after answering, so it is not sent itself. */
    struct sf_dht_contact c = {m->sender, *from};
    sf_dht__table_heard(d, &c, false);
    if (!d->joined && d->join_tries == 0 && sf_dht__table_count(d) > 0) {
        start_join_lookup(d);
    }
    return 0;
}

static int on_bye(struct sf_dht *d, const struct sf_dht_addr *from, const struct sf_dht__msg *m)
{
    sf_dht__table_remove(d, &m->sender, SF_DHT_DEAD_BYE);
    return 0;
}

typedef int (*dht_handler_fn)(struct sf_dht *d, const struct sf_dht_addr *from,
                              const struct sf_dht__msg *m);
static const dht_handler_fn handlers[SF_DHT__TYPE_MAX] = {
    [SF_DHT__PING] = on_request,       [SF_DHT__PONG] = on_reply,
    [SF_DHT__FIND_NODE] = on_request,  [SF_DHT__NODES] = on_reply,
    [SF_DHT__FIND_VALUE] = on_request, [SF_DHT__VALUES] = on_reply,
    [SF_DHT__STORE] = on_request,      [SF_DHT__STORE_ACK] = on_reply,
    [SF_DHT__BYE] = on_bye,
};

int sf_dht_input(struct sf_dht *d, const struct sf_dht_addr *from, const uint8_t *buf,
                 size_t len, uint64_t now)
{
    d->now = now;
    d->st.rx_packets++;
    if (from == NULL || from->len == 0 || from->len > SF_DHT_ADDR_MAX) {
        d->st.dropped[SF_DHT_DROP_ADDR]++;
        return SF_ERR_PROTO;
    }
    struct sf_dht__msg mm, *m = &mm; /* about 5 KiB; decode fills what is read */
    int rc = sf_dht__decode(buf, len, m);
    if (rc == 0 && d->ops.verify != NULL) {
        uint8_t copy[SF_DHT_PKT_MAX];
        memcpy(copy, buf, len);
        memset(copy + 28, 0, 4 + SF_DHT_MAC_LEN);
        if (d->ops.verify(d->ctx, copy, len, buf + SF_DHT_MAC_OFF) != 0) {
            rc = -(1 + SF_DHT_DROP_AUTH);
        }
    }
    if (rc == 0 && memcmp(m->sender.b, d->cfg.id.b, SF_DHT_ID_LEN) == 0) {
        rc = -(1 + SF_DHT_DROP_SELF);
    }
    if (rc != 0) {
        int why = -rc - 1;
        d->st.dropped[why]++;
        SF_DBG("dht: dropped packet of %zu bytes: %s", len, sf_dht_drop_name(why));
        switch (why) {
        case SF_DHT_DROP_VERSION:
            return SF_ERR_VERSION;
        case SF_DHT_DROP_CHECKSUM:
            return SF_ERR_CHECKSUM;
        case SF_DHT_DROP_AUTH:
            return -EPERM;
        default:
            return SF_ERR_PROTO;
        }
    }
    /* decode checked the type; the bound is checked again before indexing */
    if (m->type < SF_DHT__TYPE_MAX && handlers[m->type] != NULL) {
        rc = handlers[m->type](d, from, m);
    }
    return rc;
}

void sf_dht_periodic(struct sf_dht *d, uint64_t now)
{
    d->now = now;
    while (d->rpc_head != NULL && d->rpc_head->deadline <= now) {
        struct sf_dht__rpc *r = d->rpc_head;
        if (r->tries < d->cfg.rpc_tries) {
            /* Same tid: a late reply to the first send still counts. */
            r->tries++;
            r->deadline = now + (uint64_t)d->cfg.rpc_timeout_ms;
            d->rpc_head = r->next;
            if (d->rpc_head != NULL) {
                d->rpc_head->prev = NULL;
            } else {
                d->rpc_tail = NULL;
            }
            rpc_append(d, r);
            d->st.rpc_sent++;
            if (r->lk != NULL) {
                r->lk->messages++;
            }
            sf_dht__send_raw(d, &r->to.addr, r->pkt, r->len);
            continue;
        }
        rpc_unlink(d, r);
        d->st.rpc_timeouts++;
        if (r->id_known) {
            sf_dht__table_failed(d, &r->to);
        }
        if (r->lk != NULL) {
            sf_dht__lookup_timeout(d, r->lk, r);
        }
        free(r);
    }
    if (now >= d->next_tick) {
        d->next_tick = now + (uint64_t)d->cfg.tick_ms;
        if (!d->joined && sf_dht__table_count(d) > 0) {
            start_join_lookup(d);
        }
        sf_dht__table_maintain(d);
        sf_dht__store_maintain(d);
        sf_dht__store_publish_due(d);
    }
}

uint64_t sf_dht_next_wake(const struct sf_dht *d)
{
    uint64_t w = d->next_tick;
    if (d->rpc_head != NULL && d->rpc_head->deadline < w) {
        w = d->rpc_head->deadline;
    }
    return w;
}

int sf_dht_join(struct sf_dht *d, const struct sf_dht_addr *addr, uint64_t now)
{
    d->now = now;
    if (addr == NULL || addr->len == 0 || addr->len > SF_DHT_ADDR_MAX) {
        return -EINVAL;
    }
    int i;
    for (i = 0; i < d->njoin && !addr_eq(&d->join[i], addr); i++) {
    }
    if (i == d->njoin && d->njoin < SF_DHT__JOIN_MAX) {
        d->join[d->njoin++] = *addr;
    }
    d->last_join = now;
    struct sf_dht__msg m;
    sf_dht__msg_init(&m, SF_DHT__PING);
    struct sf_dht_contact c = {.addr = *addr};
    return sf_dht__request(d, &c, false, &m, NULL);
}

int sf_dht_add_contact(struct sf_dht *d, const struct sf_dht_contact *c, uint64_t now)
{
    d->now = now;
    if (c == NULL || c->addr.len == 0 || c->addr.len > SF_DHT_ADDR_MAX) {
        return -EINVAL;
    }
    sf_dht__table_heard(d, c, true);
    return 0;
}

void sf_dht_leave(struct sf_dht *d, uint64_t now)
{
    d->now = now;
    struct sf_dht__msg m;
    sf_dht__msg_init(&m, SF_DHT__BYE);
    int n = build(d, &m);
    if (n < 0) {
        return;
    }
    uint8_t pkt[SF_DHT__HDR_LEN];
    memcpy(pkt, d->buf, (size_t)n);
    for (int bi = 0; bi < d->nb; bi++) {
        for (int i = 0; i < d->bucket[bi].n; i++) {
            sf_dht__send_raw(d, &d->bucket[bi].ent[i].c.addr, pkt, (size_t)n);
        }
    }
}

void sf_dht_get_stats(const struct sf_dht *d, struct sf_dht_stats *out)
{
    *out = d->st;
    out->values_held = d->nrecs;
}

const char *sf_dht_drop_name(enum sf_dht_drop why)
{
    static const char *const names[SF_DHT_DROP_MAX] = {
        [SF_DHT_DROP_SHORT] = "short",         [SF_DHT_DROP_VERSION] = "version",
        [SF_DHT_DROP_TYPE] = "type",           [SF_DHT_DROP_LENGTH] = "length",
        [SF_DHT_DROP_CHECKSUM] = "checksum",   [SF_DHT_DROP_AUTH] = "auth",
        [SF_DHT_DROP_BODY] = "body",           [SF_DHT_DROP_ADDR] = "addr",
        [SF_DHT_DROP_SELF] = "self",           [SF_DHT_DROP_UNMATCHED] = "unmatched",
        [SF_DHT_DROP_VALUE] = "value",
    };
    return (unsigned)why < SF_DHT_DROP_MAX ? names[why] : "unknown";
}

const struct sf_dht_id *sf_dht_self(const struct sf_dht *d)
{
    return &d->cfg.id;
}

int sf_dht_observed_addr(const struct sf_dht *d, struct sf_dht_addr *out)
{
    if (d->seen_as.len == 0) {
        return -ENOENT;
    }
    *out = d->seen_as;
    return 0;
}
