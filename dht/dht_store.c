/* DHT value store: records held for others (key -> one record per
 * publisher, versioned by sequence number, dropped at expiry), our own
 * published records and their republishing, and holder-side replication.
 * Values are opaque bytes here. Runs on the handle's thread. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dht/dht_int.h"

#define STORE_SLOTS0 64
#define REPLICATE_PER_TICK 16

static size_t key_hash(const struct sf_dht *d, const struct sf_dht_id *key)
{
    uint64_t h;
    memcpy(&h, key->b, sizeof h); /* ids are hashes or random already */
    return (size_t)(h ^ (h >> 29)) & (d->nkslot - 1);
}

int sf_dht__store_init(struct sf_dht *d)
{
    d->kslot = calloc(STORE_SLOTS0, sizeof *d->kslot);
    d->nkslot = STORE_SLOTS0;
    return d->kslot == NULL ? -ENOMEM : 0;
}

static void key_free(struct sf_dht__key *ke)
{
    for (int i = 0; i < ke->n; i++) {
        free(ke->recs[i].data);
    }
    free(ke->recs);
    free(ke);
}

void sf_dht__store_free(struct sf_dht *d)
{
    for (size_t i = 0; i < d->nkslot; i++) {
        while (d->kslot[i] != NULL) {
            struct sf_dht__key *ke = d->kslot[i];
            d->kslot[i] = ke->next;
            key_free(ke);
        }
    }
    free(d->kslot);
    d->kslot = NULL;
    while (d->mine != NULL) {
        struct sf_dht__mine *m = d->mine;
        d->mine = m->next;
        free(m);
    }
}

struct sf_dht__key *sf_dht__store_find(const struct sf_dht *d, const struct sf_dht_id *key)
{
    struct sf_dht__key *ke = d->kslot[key_hash(d, key)];
    while (ke != NULL && memcmp(ke->key.b, key->b, SF_DHT_ID_LEN) != 0) {
        ke = ke->next;
    }
    return ke;
}

static void grow(struct sf_dht *d)
{
    size_t n = d->nkslot * 2;
    struct sf_dht__key **ns = calloc(n, sizeof *ns);
    if (ns == NULL) {
        return; /* keep the old table: longer chains, still correct */
    }
    struct sf_dht__key **old = d->kslot;
    size_t on = d->nkslot;
    d->kslot = ns;
    d->nkslot = n;
    for (size_t i = 0; i < on; i++) {
        while (old[i] != NULL) {
            struct sf_dht__key *ke = old[i];
            old[i] = ke->next;
            size_t h = key_hash(d, &ke->key);
            ke->next = ns[h];
            ns[h] = ke;
        }
    }
    free(old);
}

/* First record whose publisher is >= pub (binary search). */
static int rec_lower(const struct sf_dht__key *ke, const struct sf_dht_id *pub)
{
    int lo = 0, hi = ke->n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (memcmp(ke->recs[mid].publisher.b, pub->b, SF_DHT_ID_LEN) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

static void rec_del(struct sf_dht *d, struct sf_dht__key *ke, int i)
{
    free(ke->recs[i].data);
    memmove(&ke->recs[i], &ke->recs[i + 1], (size_t)(ke->n - i - 1) * sizeof *ke->recs);
    ke->n--;
    d->nrecs--;
}

static void key_unlink(struct sf_dht *d, struct sf_dht__key *ke)
{
    struct sf_dht__key **pp = &d->kslot[key_hash(d, &ke->key)];
    while (*pp != ke) {
        pp = &(*pp)->next;
    }
    *pp = ke->next;
    d->nkeys--;
    key_free(ke);
}

int sf_dht__store_put(struct sf_dht *d, const struct sf_dht_id *key, const struct sf_dht_value *v)
{
    struct sf_dht__key *ke = sf_dht__store_find(d, key);
    int i = ke != NULL ? rec_lower(ke, &v->publisher) : 0;
    bool found = ke != NULL && i < ke->n &&
                 memcmp(ke->recs[i].publisher.b, v->publisher.b, SF_DHT_ID_LEN) == 0;
    if (found) {
        struct sf_dht__rec *r = &ke->recs[i];
        if (v->seq < r->seq) {
            d->st.values_rejected++;
            return SF_DHT__ACK_STALE;
        }
        if (v->ttl_ms == 0) {
            rec_del(d, ke, i); /* the publisher withdrew it */
            if (ke->n == 0) {
                key_unlink(d, ke);
            }
            d->st.values_stored++;
            return SF_DHT__ACK_STORED;
        }
        uint64_t exp = d->now + v->ttl_ms;
        if (v->seq > r->seq) {
            uint8_t *nd = malloc(v->len ? v->len : 1);
            if (nd == NULL) {
                return SF_DHT__ACK_FULL;
            }
            memcpy(nd, v->data, v->len);
            free(r->data);
            r->data = nd;
            r->len = (uint16_t)v->len;
            r->seq = v->seq;
            r->expire = exp;
        } else if (exp > r->expire) {
            /* Same version again (republish or replication): a copy never
             * lives longer than the TTL its sender still gives it. */
            r->expire = exp;
        }
        r->received = d->now;
        d->st.values_stored++;
        return SF_DHT__ACK_STORED;
    }
    if (v->ttl_ms == 0) {
        d->st.values_stored++;
        return SF_DHT__ACK_STORED;
    }
    if (d->nrecs >= (size_t)d->cfg.max_values) {
        d->st.values_rejected++;
        return SF_DHT__ACK_FULL;
    }
    if (ke == NULL) {
        if (d->nkeys >= d->nkslot) {
            grow(d);
        }
        ke = calloc(1, sizeof *ke);
        if (ke == NULL) {
            return SF_DHT__ACK_FULL;
        }
        ke->key = *key;
        /* Spread holders' replication over the interval. */
        ke->replicated = d->now - sf_dht__rand(d) % ((uint64_t)d->cfg.replicate_ms / 2 + 1);
        size_t h = key_hash(d, key);
        ke->next = d->kslot[h];
        d->kslot[h] = ke;
        d->nkeys++;
        i = 0;
    }
    if (ke->n == ke->cap) {
        int cap = ke->cap ? ke->cap * 2 : 2;
        struct sf_dht__rec *nr = realloc(ke->recs, (size_t)cap * sizeof *nr);
        if (nr == NULL) {
            goto nomem;
        }
        ke->recs = nr;
        ke->cap = cap;
    }
    uint8_t *nd = malloc(v->len ? v->len : 1);
    if (nd == NULL) {
        goto nomem;
    }
    memcpy(nd, v->data, v->len);
    memmove(&ke->recs[i + 1], &ke->recs[i], (size_t)(ke->n - i) * sizeof *ke->recs);
    ke->recs[i] = (struct sf_dht__rec){v->publisher, v->seq, d->now + v->ttl_ms, d->now,
                                       (uint16_t)v->len, nd};
    ke->n++;
    d->nrecs++;
    d->st.values_stored++;
    return SF_DHT__ACK_STORED;
nomem:
    if (ke->n == 0) {
        key_unlink(d, ke);
    }
    return SF_DHT__ACK_FULL;
}

void sf_dht__store_fill(struct sf_dht *d, const struct sf_dht_id *key,
                        const struct sf_dht_id *cursor,
                        struct sf_dht__msg *m)
{
    const struct sf_dht__key *ke = sf_dht__store_find(d, key);
    if (ke == NULL) {
        return;
    }
    int i = 0;
    if (cursor != NULL) {
        i = rec_lower(ke, cursor);
        if (i < ke->n && memcmp(ke->recs[i].publisher.b, cursor->b, SF_DHT_ID_LEN) == 0) {
            i++;
        }
    }
    size_t room = sf_dht__values_room(m);
    for (; i < ke->n; i++) {
        const struct sf_dht__rec *r = &ke->recs[i];
        if (r->expire <= d->now) {
            continue;
        }
        size_t wl = sf_dht__value_wire_len(r->len);
        if (wl > room || m->n_values == SF_DHT__MSG_VALUES_MAX) {
            m->flags |= SF_DHT__VAL_MORE;
            return;
        }
        uint64_t left = r->expire - d->now;
        m->values[m->n_values++] = (struct sf_dht_value){
            r->publisher, r->seq, left > UINT32_MAX ? UINT32_MAX : (uint32_t)left, r->len, r->data};
        room -= wl;
    }
}

struct put_args {
    uint64_t seq;
    uint32_t ttl_ms;
    size_t len;
    const void *data;
    int k;
};

static int put_init(struct sf_dht__lookup *lk, const void *a)
{
    const struct put_args *p = a;
    lk->seq = p->seq;
    lk->ttl_ms = p->ttl_ms;
    lk->len = (uint16_t)p->len;
    lk->data = malloc(p->len ? p->len : 1);
    lk->stored = malloc((size_t)p->k * sizeof *lk->stored);
    if (lk->data == NULL || lk->stored == NULL) {
        return -ENOMEM;
    }
    memcpy(lk->data, p->data, p->len);
    return 0;
}

static void send_store(struct sf_dht *d, const struct sf_dht_contact *to,
                       const struct sf_dht_id *key, const struct sf_dht_value *v,
                       struct sf_dht__lookup *lk)
{
    struct sf_dht__msg mm, *m = &mm;
    sf_dht__msg_init(m, SF_DHT__STORE);
    m->target = *key;
    m->values[0] = *v;
    m->n_values = 1;
    if (sf_dht__request(d, to, true, m, lk) == 0 && lk != NULL) {
        lk->inflight++;
    }
}

void sf_dht__store_lookup_done(struct sf_dht *d, struct sf_dht__lookup *lk,
                               const struct sf_dht_contact *nodes, size_t n)
{
    if (lk->kind == SF_DHT__LK_PUT) {
        struct sf_dht_value v = {d->cfg.id, lk->seq, lk->ttl_ms, lk->len, lk->data};
        /* We hold it too if we are among the k closest to the key. */
        if (n < (size_t)d->cfg.k ||
            sf_dht_id_cmp_dist(&lk->target, &d->cfg.id, &nodes[n - 1].id) < 0) {
            (void)sf_dht__store_put(d, &lk->target, &v);
        }
        for (size_t i = 0; i < n; i++) {
            send_store(d, &nodes[i], &lk->target, &v, lk);
        }
        return;
    }
    /* Replication: pass on what nobody re-stored lately, with the TTL that
     * is left, so a departed publisher's records still expire on time. */
    const struct sf_dht__key *ke = sf_dht__store_find(d, &lk->target);
    for (int r = 0; ke != NULL && r < ke->n; r++) {
        const struct sf_dht__rec *rec = &ke->recs[r];
        if (rec->expire <= d->now || d->now - rec->received < (uint64_t)d->cfg.replicate_ms) {
            continue;
        }
        uint64_t left = rec->expire - d->now;
        struct sf_dht_value v = {rec->publisher, rec->seq,
                                 left > UINT32_MAX ? UINT32_MAX : (uint32_t)left, rec->len,
                                 rec->data};
        for (size_t i = 0; i < n; i++) {
            send_store(d, &nodes[i], &lk->target, &v, NULL);
        }
    }
}

void sf_dht__store_maintain(struct sf_dht *d)
{
    /* Expire everything first; replication lookups start after the scan,
     * since one may end at once and change the store under it. */
    struct sf_dht_id due[REPLICATE_PER_TICK];
    int ndue = 0;
    for (size_t s = 0; s < d->nkslot; s++) {
        struct sf_dht__key *ke = d->kslot[s];
        while (ke != NULL) {
            struct sf_dht__key *next = ke->next;
            bool stale = false;
            for (int i = 0; i < ke->n;) {
                if (ke->recs[i].expire <= d->now) {
                    rec_del(d, ke, i);
                    d->st.values_expired++;
                    continue;
                }
                stale |= d->now - ke->recs[i].received >= (uint64_t)d->cfg.replicate_ms;
                i++;
            }
            if (ke->n == 0) {
                key_unlink(d, ke);
            } else if (ndue < REPLICATE_PER_TICK &&
                       d->now - ke->replicated >= (uint64_t)d->cfg.replicate_ms) {
                /* Keys past the budget wait for the next tick. */
                ke->replicated = d->now;
                if (stale) {
                    due[ndue++] = ke->key;
                }
            }
            ke = next;
        }
    }
    for (int i = 0; i < ndue; i++) {
        (void)sf_dht__lookup_start(d, SF_DHT__LK_REPLICATE, &due[i], NULL, NULL, NULL, NULL);
    }
}

static uint64_t publish_every(const struct sf_dht *d, uint32_t ttl_ms)
{
    uint64_t every = (uint64_t)d->cfg.republish_ms;
    return ttl_ms / 2 < every ? (ttl_ms / 2 ? ttl_ms / 2 : 1) : every;
}

static int publish(struct sf_dht *d, const struct sf_dht_id *key, uint64_t seq, const void *data,
                   size_t len, uint32_t ttl_ms, sf_dht_done_fn cb, void *arg)
{
    struct put_args a = {seq, ttl_ms, len, data, d->cfg.k};
    return sf_dht__lookup_start(d, SF_DHT__LK_PUT, key, cb, arg, put_init, &a);
}

void sf_dht__store_publish_due(struct sf_dht *d)
{
    for (struct sf_dht__mine *m = d->mine; m != NULL; m = m->next) {
        if (m->next_publish <= d->now) {
            m->next_publish = d->now + publish_every(d, m->ttl_ms);
            (void)publish(d, &m->key, m->seq, m->data, m->len, m->ttl_ms, NULL, NULL);
        }
    }
}

int sf_dht_unput(struct sf_dht *d, const struct sf_dht_id *key)
{
    for (struct sf_dht__mine **pp = &d->mine; *pp != NULL; pp = &(*pp)->next) {
        if (memcmp((*pp)->key.b, key->b, SF_DHT_ID_LEN) == 0) {
            struct sf_dht__mine *m = *pp;
            *pp = m->next;
            free(m);
            return 0;
        }
    }
    return -ENOENT;
}

int sf_dht_put(struct sf_dht *d, const struct sf_dht_id *key, uint64_t seq, const void *data,
               size_t len, uint32_t ttl_ms, sf_dht_done_fn cb, void *arg, uint64_t now)
{
    d->now = now;
    if (key == NULL || len > SF_DHT_VALUE_MAX || (len > 0 && data == NULL)) {
        return -EINVAL;
    }
    (void)sf_dht_unput(d, key);
    if (ttl_ms > 0) {
        struct sf_dht__mine *m = malloc(sizeof *m + len);
        if (m == NULL) {
            return -ENOMEM;
        }
        m->key = *key;
        m->seq = seq;
        m->ttl_ms = ttl_ms;
        m->next_publish = now + publish_every(d, ttl_ms);
        m->len = (uint16_t)len;
        memcpy(m->data, data, len);
        m->next = d->mine;
        d->mine = m;
    }
    return publish(d, key, seq, data, len, ttl_ms, cb, arg);
}
