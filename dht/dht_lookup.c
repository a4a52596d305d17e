/* DHT iterative lookups: alpha parallel FIND_NODE/FIND_VALUE requests that
 * close in on a target until the k nearest known nodes have all answered;
 * collects values for gets and hands puts to dht_store.c. No I/O beyond
 * sf_dht__request. Runs on the handle's thread. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dht/dht_int.h"

static bool is_self(const struct sf_dht *d, const struct sf_dht_id *id)
{
    return memcmp(d->cfg.id.b, id->b, SF_DHT_ID_LEN) == 0;
}

static int cand_find(const struct sf_dht__lookup *lk, const struct sf_dht_id *id)
{
    for (int i = 0; i < lk->ncand; i++) {
        if (sf_dht__id_eq(&lk->cand[i].c.id, id)) {
            return i;
        }
    }
    return -1;
}

/* Insert in distance order; the farthest falls off a full list. */
static void cand_add(struct sf_dht *d, struct sf_dht__lookup *lk, const struct sf_dht_contact *c,
                     int depth)
{
    if (is_self(d, &c->id) || cand_find(lk, &c->id) >= 0) {
        return;
    }
    int j = lk->ncand;
    if (j == lk->capcand) {
        if (sf_dht__cmp_dist(&lk->target, &c->id, &lk->cand[j - 1].c.id) >= 0) {
            return;
        }
        j--;
    } else {
        lk->ncand++;
    }
    while (j > 0 && sf_dht__cmp_dist(&lk->target, &c->id, &lk->cand[j - 1].c.id) < 0) {
        lk->cand[j] = lk->cand[j - 1];
        j--;
    }
    lk->cand[j].c = *c;
    lk->cand[j].state = SF_DHT__C_NEW;
    lk->cand[j].depth = (uint8_t)(depth > 255 ? 255 : depth);
}

static void lookup_free(struct sf_dht__lookup *lk)
{
    for (size_t i = 0; i < lk->nvals; i++) {
        free(lk->vals[i].data);
    }
    free(lk->vals);
    free(lk->cand);
    free(lk->data);
    free(lk->stored);
    free(lk);
}

static void lookup_unlink(struct sf_dht *d, struct sf_dht__lookup *lk)
{
    if (lk->prev != NULL) {
        lk->prev->next = lk->next;
    } else {
        d->lookups = lk->next;
    }
    if (lk->next != NULL) {
        lk->next->prev = lk->prev;
    }
    lk->next = lk->prev = NULL;
}

/* Keep the highest sequence number per publisher. */
static void val_merge(struct sf_dht__lookup *lk, const struct sf_dht_id *pub, uint64_t seq,
                      uint32_t ttl, const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < lk->nvals; i++) {
        struct sf_dht__val *v = &lk->vals[i];
        if (memcmp(v->publisher.b, pub->b, SF_DHT_ID_LEN) != 0) {
            continue;
        }
        if (seq > v->seq || (seq == v->seq && ttl > v->ttl_ms)) {
            uint8_t *nd = malloc(len ? len : 1);
            if (nd == NULL) {
                return;
            }
            memcpy(nd, data, len);
            free(v->data);
            v->data = nd;
            v->len = (uint16_t)len;
            v->seq = seq;
            v->ttl_ms = ttl;
        }
        return;
    }
    if (lk->nvals == lk->capvals) {
        size_t cap = lk->capvals ? lk->capvals * 2 : 8;
        struct sf_dht__val *nv = realloc(lk->vals, cap * sizeof *nv);
        if (nv == NULL) {
            return;
        }
        lk->vals = nv;
        lk->capvals = cap;
    }
    uint8_t *nd = malloc(len ? len : 1);
    if (nd == NULL) {
        return;
    }
    memcpy(nd, data, len);
    lk->vals[lk->nvals++] = (struct sf_dht__val){*pub, seq, ttl, (uint16_t)len, nd};
}

/* page: a values-only follow-up, after *cursor if not NULL. */
static void send_find(struct sf_dht *d, struct sf_dht__lookup *lk, struct sf_dht__cand *c,
                      bool page, const struct sf_dht_id *cursor)
{
    struct sf_dht__msg m;
    sf_dht__msg_init(&m, SF_DHT__FIND_NODE);
    m.target = lk->target;
    if (lk->kind == SF_DHT__LK_GET) {
        m.type = SF_DHT__FIND_VALUE;
        if (page) {
            m.flags = SF_DHT__FV_VALUES_ONLY;
        }
        if (cursor != NULL) {
            m.flags |= SF_DHT__FV_CURSOR;
            m.cursor = *cursor;
        }
    }
    if (sf_dht__request(d, &c->c, true, &m, lk) == 0) {
        c->state = SF_DHT__C_INFLIGHT;
        lk->inflight++;
    } else {
        c->state = SF_DHT__C_FAILED;
    }
}

static void finish(struct sf_dht *d, struct sf_dht__lookup *lk)
{
    /* Replies still on the way no longer matter to this operation. */
    if (lk->inflight > 0) {
        for (struct sf_dht__rpc *r = d->rpc_head; r != NULL; r = r->next) {
            if (r->lk == lk) {
                r->lk = NULL;
            }
        }
        lk->inflight = 0;
    }
    size_t k = (size_t)d->cfg.k, n = 0;
    struct sf_dht_contact *nodes = malloc(k * sizeof *nodes);
    unsigned hops = 0;
    for (int i = 0; nodes != NULL && i < lk->ncand && n < k; i++) {
        if (lk->cand[i].state == SF_DHT__C_DONE) {
            if (n == 0) {
                hops = lk->cand[i].depth;
            }
            nodes[n++] = lk->cand[i].c;
        }
    }
    d->st.lookups_done++;
    if (lk->kind == SF_DHT__LK_PUT || lk->kind == SF_DHT__LK_REPLICATE) {
        lk->storing = true;
        sf_dht__store_lookup_done(d, lk, nodes, n);
        free(nodes);
        if (lk->kind == SF_DHT__LK_REPLICATE) {
            lookup_unlink(d, lk);
            lookup_free(lk);
        } else if (lk->inflight == 0) {
            sf_dht__lookup_finish_put(d, lk);
        } else {
            lk->hops = hops; /* reported when the STOREs are answered */
        }
        return;
    }
    if (lk->kind == SF_DHT__LK_GET) {
        /* Our own store counts: we may be one of the k closest. */
        const struct sf_dht__key *ke = sf_dht__store_find(d, &lk->target);
        for (int i = 0; ke != NULL && i < ke->n; i++) {
            const struct sf_dht__rec *rec = &ke->recs[i];
            uint64_t left = rec->expire > d->now ? rec->expire - d->now : 0;
            if (left > 0) {
                val_merge(lk, &rec->publisher, rec->seq, (uint32_t)left, rec->data, rec->len);
            }
        }
    }
    struct sf_dht_value *vals = NULL;
    if (lk->nvals > 0) {
        vals = malloc(lk->nvals * sizeof *vals);
    }
    size_t nv = 0;
    for (size_t i = 0; vals != NULL && i < lk->nvals; i++) {
        vals[nv++] = (struct sf_dht_value){lk->vals[i].publisher, lk->vals[i].seq,
                                           lk->vals[i].ttl_ms, lk->vals[i].len,
                                           lk->vals[i].data};
    }
    struct sf_dht_result res = {
        .status = (n > 0 || nv > 0) ? 0 : (nodes == NULL ? -ENOMEM : -EHOSTUNREACH),
        .nodes = nodes, .n_nodes = n, .values = vals, .n_values = nv,
        .hops = hops, .messages = lk->messages,
    };
    lookup_unlink(d, lk);
    if (lk->cb != NULL) {
        lk->cb(d, &res, lk->arg);
    }
    free(vals);
    free(nodes);
    lookup_free(lk);
}

void sf_dht__lookup_finish_put(struct sf_dht *d, struct sf_dht__lookup *lk)
{
    struct sf_dht_result res = {
        .status = lk->nstored > 0 ? 0 : -EHOSTUNREACH,
        .nodes = lk->stored, .n_nodes = (size_t)lk->nstored,
        .hops = lk->hops, .messages = lk->messages,
    };
    lookup_unlink(d, lk);
    if (lk->cb != NULL) {
        lk->cb(d, &res, lk->arg);
    }
    lookup_free(lk);
}

/* Send to the nearest unasked candidates until alpha are in flight; end the
 * lookup when the k nearest that did not fail have all answered. Once the
 * nearest known node has answered, the search has converged (as in the
 * Kademlia paper's last round): ask the rest of the k nearest at once
 * instead of alpha at a time, which saves about half the rounds. */
static void step(struct sf_dht *d, struct sf_dht__lookup *lk)
{
    int seen = 0, limit = d->cfg.alpha;
    bool pending = false;
    for (int i = 0; i < lk->ncand; i++) {
        if (lk->cand[i].state != SF_DHT__C_FAILED) {
            if (lk->cand[i].state == SF_DHT__C_DONE) {
                limit = d->cfg.k;
            }
            break;
        }
    }
    for (int i = 0; i < lk->ncand && seen < d->cfg.k; i++) {
        struct sf_dht__cand *c = &lk->cand[i];
        if (c->state == SF_DHT__C_FAILED) {
            continue;
        }
        seen++;
        if (c->state == SF_DHT__C_NEW && lk->inflight < limit) {
            send_find(d, lk, c, false, NULL);
        }
        if (c->state == SF_DHT__C_NEW || c->state == SF_DHT__C_INFLIGHT) {
            pending = true;
        }
    }
    if (!pending) {
        finish(d, lk);
    }
}

int sf_dht__lookup_start(struct sf_dht *d, int kind, const struct sf_dht_id *target,
                         sf_dht_done_fn cb, void *arg,
                         int (*init)(struct sf_dht__lookup *lk, const void *a), const void *a)
{
    struct sf_dht__lookup *lk = calloc(1, sizeof *lk);
    if (lk == NULL) {
        return -ENOMEM;
    }
    lk->kind = kind;
    lk->target = *target;
    lk->cb = cb;
    lk->arg = arg;
    lk->capcand = 3 * d->cfg.k;
    lk->cand = malloc((size_t)lk->capcand * sizeof *lk->cand);
    struct sf_dht_contact *seed = malloc((size_t)d->cfg.k * sizeof *seed);
    if (lk->cand == NULL || seed == NULL || (init != NULL && init(lk, a) != 0)) {
        free(seed);
        lookup_free(lk);
        return -ENOMEM;
    }
    size_t n = sf_dht__table_closest(d, target, seed, (size_t)d->cfg.k);
    for (size_t i = 0; i < n; i++) {
        cand_add(d, lk, &seed[i], 1);
    }
    free(seed);
    sf_dht__table_touch(d, target);
    d->st.lookups_started++;
    lk->next = d->lookups;
    if (d->lookups != NULL) {
        d->lookups->prev = lk;
    }
    d->lookups = lk;
    step(d, lk);
    return 0;
}

void sf_dht__lookup_reply(struct sf_dht *d, struct sf_dht__lookup *lk, struct sf_dht__rpc *r,
                          const struct sf_dht__msg *m)
{
    lk->inflight--;
    if (lk->storing) {
        if (m->type == SF_DHT__STORE_ACK && m->flags == SF_DHT__ACK_STORED &&
            lk->nstored < d->cfg.k) {
            lk->stored[lk->nstored++] = r->to;
        }
        if (lk->inflight == 0) {
            sf_dht__lookup_finish_put(d, lk);
        }
        return;
    }
    if (m->type != SF_DHT__NODES && m->type != SF_DHT__VALUES) {
        step(d, lk);
        return;
    }
    int ci = cand_find(lk, &r->to.id);
    int depth = ci >= 0 ? lk->cand[ci].depth : 1;
    bool more = false;
    if (m->type == SF_DHT__VALUES && lk->kind == SF_DHT__LK_GET) {
        for (size_t i = 0; i < m->n_values; i++) {
            const struct sf_dht_value *v = &m->values[i];
            if (v->ttl_ms > 0) {
                val_merge(lk, &v->publisher, v->seq, v->ttl_ms, v->data, v->len);
            }
        }
        /* More records than one datagram holds: page through them with a
         * values-only request that starts after the last one we got. A
         * values-only reply always carries one, so this ends. */
        bool was_values_only = r->len > SF_DHT__HDR_LEN + 20 &&
                               (r->pkt[SF_DHT__HDR_LEN + 20] & SF_DHT__FV_VALUES_ONLY);
        if ((m->flags & SF_DHT__VAL_MORE) && ci >= 0 &&
            (m->n_values > 0 || !was_values_only)) {
            more = true;
            send_find(d, lk, &lk->cand[ci], true,
                      m->n_values > 0 ? &m->values[m->n_values - 1].publisher : NULL);
        }
    }
    if (ci >= 0 && !more) {
        lk->cand[ci].state = SF_DHT__C_DONE;
    }
    for (size_t i = 0; i < m->n_nodes; i++) {
        cand_add(d, lk, &m->nodes[i], depth + 1);
    }
    step(d, lk);
}

void sf_dht__lookup_timeout(struct sf_dht *d, struct sf_dht__lookup *lk, struct sf_dht__rpc *r)
{
    lk->inflight--;
    if (lk->storing) {
        if (lk->inflight == 0) {
            sf_dht__lookup_finish_put(d, lk);
        }
        return;
    }
    int ci = cand_find(lk, &r->to.id);
    if (ci >= 0) {
        lk->cand[ci].state = SF_DHT__C_FAILED;
    }
    step(d, lk);
}

void sf_dht__lookup_free_all(struct sf_dht *d)
{
    while (d->lookups != NULL) {
        struct sf_dht__lookup *lk = d->lookups;
        lookup_unlink(d, lk);
        lookup_free(lk);
    }
}

int sf_dht_get(struct sf_dht *d, const struct sf_dht_id *key, sf_dht_done_fn cb, void *arg,
               uint64_t now)
{
    d->now = now;
    return sf_dht__lookup_start(d, SF_DHT__LK_GET, key, cb, arg, NULL, NULL);
}

int sf_dht_find_node(struct sf_dht *d, const struct sf_dht_id *target, sf_dht_done_fn cb,
                     void *arg, uint64_t now)
{
    d->now = now;
    return sf_dht__lookup_start(d, SF_DHT__LK_FIND, target, cb, arg, NULL, NULL);
}
