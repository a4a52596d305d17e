/* DHT routing table: XOR metric, k-buckets that split around our own id,
 * replacement caches, liveness (last seen, failed RPCs) and eviction by the
 * Kademlia rules. Does not send except liveness pings and refresh lookups
 * from sf_dht__table_maintain. Runs on the handle's thread. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dht/dht_int.h"

int sf_dht_id_cmp_dist(const struct sf_dht_id *t, const struct sf_dht_id *a,
                       const struct sf_dht_id *b)
{
    return sf_dht__cmp_dist(t, a, b);
}

int sf_dht_id_cpl(const struct sf_dht_id *a, const struct sf_dht_id *b)
{
    for (int i = 0; i < SF_DHT_ID_LEN; i++) {
        uint8_t x = a->b[i] ^ b->b[i];
        if (x != 0) {
            return i * 8 + __builtin_clz((unsigned)x) - 24;
        }
    }
    return SF_DHT__ID_BITS;
}

void sf_dht_id_xor(struct sf_dht_id *out, const struct sf_dht_id *a, const struct sf_dht_id *b)
{
    for (int i = 0; i < SF_DHT_ID_LEN; i++) {
        out->b[i] = a->b[i] ^ b->b[i];
    }
}

static bool addr_eq(const struct sf_dht_addr *a, const struct sf_dht_addr *b)
{
    return a->len == b->len && memcmp(a->b, b->b, a->len) == 0;
}

int sf_dht__bucket_of(const struct sf_dht *d, const struct sf_dht_id *id)
{
    int cpl = sf_dht_id_cpl(&d->cfg.id, id);
    return cpl < d->nb - 1 ? cpl : d->nb - 1;
}

static int find_in(const struct sf_dht__contact *v, int n, const struct sf_dht_id *id)
{
    for (int i = 0; i < n; i++) {
        if (sf_dht__id_eq(&v[i].c.id, id)) {
            return i;
        }
    }
    return -1;
}

static void del_at(struct sf_dht__contact *v, int *n, int i)
{
    memmove(&v[i], &v[i + 1], (size_t)(*n - i - 1) * sizeof *v);
    (*n)--;
}

/* Entries change only through these two, which keep ids[] in step. */
static void ent_del(struct sf_dht__bucket *b, int i)
{
    memmove(&b->ids[i], &b->ids[i + 1], (size_t)(b->n - i - 1) * sizeof *b->ids);
    del_at(b->ent, &b->n, i);
}

static void ent_push(struct sf_dht__bucket *b, const struct sf_dht__contact *e)
{
    b->ids[b->n] = e->c.id;
    b->ent[b->n++] = *e;
}

static int find_id(const struct sf_dht__bucket *b, const struct sf_dht_id *id)
{
    for (int i = 0; i < b->n; i++) {
        if (sf_dht__id_eq(&b->ids[i], id)) {
            return i;
        }
    }
    return -1;
}

static int bucket_alloc(struct sf_dht *d, struct sf_dht__bucket *b)
{
    if (b->ent == NULL) {
        b->ent = calloc((size_t)d->cfg.k, sizeof *b->ent);
        b->rep = calloc((size_t)d->cfg.k, sizeof *b->rep);
        b->ids = calloc((size_t)d->cfg.k, sizeof *b->ids);
        if (b->ent == NULL || b->rep == NULL || b->ids == NULL) {
            free(b->ent);
            free(b->rep);
            free(b->ids);
            b->ent = b->rep = NULL;
            b->ids = NULL;
            return -ENOMEM;
        }
    }
    return 0;
}

/* Split the last bucket: entries sharing more than nb-1 bits with us move
 * to the new last bucket. Order (least recently seen first) is kept. */
static int split_last(struct sf_dht *d)
{
    int L = d->nb - 1;
    struct sf_dht__bucket *old = &d->bucket[L], *nw = &d->bucket[L + 1];
    if (bucket_alloc(d, nw) != 0) {
        return -ENOMEM;
    }
    nw->n = nw->nrep = 0;
    nw->refreshed = d->now;
    d->nb++;
    int keep = 0;
    for (int i = 0; i < old->n; i++) {
        if (sf_dht_id_cpl(&d->cfg.id, &old->ent[i].c.id) > L) {
            ent_push(nw, &old->ent[i]);
        } else {
            old->ids[keep] = old->ent[i].c.id;
            old->ent[keep++] = old->ent[i];
        }
    }
    old->n = keep;
    keep = 0;
    for (int i = 0; i < old->nrep; i++) {
        if (sf_dht_id_cpl(&d->cfg.id, &old->rep[i].c.id) > L) {
            nw->rep[nw->nrep++] = old->rep[i];
        } else {
            old->rep[keep++] = old->rep[i];
        }
    }
    old->nrep = keep;
    /* The old bucket may now have room: fill it from its replacements,
     * newest first (they are the likeliest alive). */
    while (old->n < d->cfg.k && old->nrep > 0) {
        ent_push(old, &old->rep[--old->nrep]);
        d->st.contacts++;
    }
    while (nw->n < d->cfg.k && nw->nrep > 0) {
        ent_push(nw, &nw->rep[--nw->nrep]);
        d->st.contacts++;
    }
    d->st.buckets = (uint64_t)d->nb;
    return 0;
}

static void ping(struct sf_dht *d, struct sf_dht__contact *e)
{
    struct sf_dht__msg m;
    sf_dht__msg_init(&m, SF_DHT__PING);
    e->last_ping = d->now;
    (void)sf_dht__request(d, &e->c, true, &m, NULL);
}

void sf_dht__table_heard(struct sf_dht *d, const struct sf_dht_contact *c, bool is_reply)
{
    if (memcmp(c->id.b, d->cfg.id.b, SF_DHT_ID_LEN) == 0) {
        return;
    }
    for (;;) {
        int bi = sf_dht__bucket_of(d, &c->id);
        struct sf_dht__bucket *b = &d->bucket[bi];
        if (bucket_alloc(d, b) != 0) {
            return;
        }
        int i = find_id(b, &c->id);
        if (i >= 0) {
            struct sf_dht__contact e = b->ent[i];
            if (!addr_eq(&e.c.addr, &c->addr)) {
                /* Another address claims a contact that still answers at
                 * its old one: believe it only for a reply to our request
                 * or once the old address has failed (restart, new port). */
                if (!is_reply && e.fails == 0) {
                    return;
                }
                e.c.addr = c->addr;
            }
            e.last_seen = d->now;
            e.fails = 0;
            ent_del(b, i);
            ent_push(b, &e);
            return;
        }
        struct sf_dht__contact e = {.c = *c, .last_seen = d->now};
        if (b->n < d->cfg.k) {
            int r = find_in(b->rep, b->nrep, &c->id);
            if (r >= 0) {
                del_at(b->rep, &b->nrep, r);
            }
            ent_push(b, &e);
            d->st.contacts++;
            return;
        }
        if (bi == d->nb - 1 && d->nb < SF_DHT__ID_BITS) {
            if (split_last(d) != 0) {
                return;
            }
            continue;
        }
        /* Full and not splittable: remember the newcomer, and check the
         * least recently seen entry; it is replaced only if it fails. */
        int r = find_in(b->rep, b->nrep, &c->id);
        if (r >= 0) {
            del_at(b->rep, &b->nrep, r);
        } else if (b->nrep == d->cfg.k) {
            del_at(b->rep, &b->nrep, 0);
        }
        b->rep[b->nrep++] = e;
        struct sf_dht__contact *h = &b->ent[0];
        uint64_t quiet = (uint64_t)d->cfg.ping_ms / 4;
        uint64_t again = (uint64_t)d->cfg.rpc_timeout_ms * (uint64_t)d->cfg.rpc_tries;
        if (d->now - h->last_seen >= quiet && d->now - h->last_ping >= again) {
            ping(d, h);
        }
        return;
    }
}

static void remove_at(struct sf_dht *d, struct sf_dht__bucket *b, int i,
                      enum sf_dht_dead_reason why)
{
    struct sf_dht_contact gone = b->ent[i].c;
    ent_del(b, i);
    d->st.contacts--;
    d->st.contacts_dead++;
    if (b->nrep > 0) {
        ent_push(b, &b->rep[--b->nrep]);
        d->st.contacts++;
    }
    if (d->ops.contact_dead != NULL) {
        d->ops.contact_dead(d->ctx, &gone, why);
    }
}

void sf_dht__table_remove(struct sf_dht *d, const struct sf_dht_id *id,
                          enum sf_dht_dead_reason why)
{
    struct sf_dht__bucket *b = &d->bucket[sf_dht__bucket_of(d, id)];
    int i = find_id(b, id);
    if (i >= 0) {
        remove_at(d, b, i, why);
        return;
    }
    i = find_in(b->rep, b->nrep, id);
    if (i >= 0) {
        del_at(b->rep, &b->nrep, i);
    }
}

void sf_dht__table_failed(struct sf_dht *d, const struct sf_dht_contact *c)
{
    struct sf_dht__bucket *b = &d->bucket[sf_dht__bucket_of(d, &c->id)];
    int i = find_id(b, &c->id);
    if (i < 0) {
        i = find_in(b->rep, b->nrep, &c->id);
        if (i >= 0 && addr_eq(&b->rep[i].c.addr, &c->addr)) {
            del_at(b->rep, &b->nrep, i);
        }
        return;
    }
    struct sf_dht__contact *e = &b->ent[i];
    if (!addr_eq(&e->c.addr, &c->addr)) {
        return; /* it moved since; the old address failing says nothing */
    }
    if (++e->fails >= d->cfg.max_fails) {
        remove_at(d, b, i, SF_DHT_DEAD_TIMEOUT);
    }
}

static void closest_scan(const struct sf_dht__bucket *b, const struct sf_dht_id *target,
                         struct sf_dht_contact *out, size_t n, size_t *have)
{
    for (int i = 0; i < b->n; i++) {
        const struct sf_dht_id *id = &b->ids[i];
        if (*have == n && sf_dht__cmp_dist(target, id, &out[n - 1].id) >= 0) {
            continue;
        }
        const struct sf_dht__contact *e = &b->ent[i];
        if (e->fails > 0) {
            continue; /* questionable until it answers again */
        }
        size_t j = *have < n ? (*have)++ : n - 1;
        while (j > 0 && sf_dht__cmp_dist(target, id, &out[j - 1].id) < 0) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = e->c;
    }
}

/* Smallest XOR distance to target any id in bucket bi can have: such an id
 * agrees with us on the first bi bits and (except in the last bucket)
 * differs at bit bi; the rest is free, so zeros give the minimum. */
static void bucket_min_dist(const struct sf_dht *d, int bi, const struct sf_dht_id *target,
                            uint8_t *out)
{
    memset(out, 0, SF_DHT_ID_LEN);
    for (int i = 0; i < SF_DHT_ID_LEN && i * 8 < bi + 1; i++) {
        out[i] = d->cfg.id.b[i] ^ target->b[i];
    }
    int last = bi == d->nb - 1;
    int keep = last ? bi : bi + 1; /* bits that are fixed */
    if (!last) {
        out[bi / 8] ^= (uint8_t)(0x80 >> (bi % 8));
    }
    if (keep % 8 != 0 && keep / 8 < SF_DHT_ID_LEN) {
        out[keep / 8] &= (uint8_t)(0xff << (8 - keep % 8));
    }
    for (int i = (keep + 7) / 8; i < SF_DHT_ID_LEN; i++) {
        out[i] = 0;
    }
}

/* Scan the buckets that could still improve the result, target's bucket
 * first, then deeper ones, then shallower; a bucket whose nearest possible
 * id is no nearer than the n-th found is skipped whole. */
size_t sf_dht__table_closest(const struct sf_dht *d, const struct sf_dht_id *target,
                             struct sf_dht_contact *out, size_t n)
{
    size_t have = 0;
    if (n == 0) {
        return 0;
    }
    int t = sf_dht__bucket_of(d, target);
    for (int step = 0; step < d->nb; step++) {
        int bi = t + step < d->nb ? t + step : d->nb - 1 - step;
        if (have == n) {
            uint8_t lo[SF_DHT_ID_LEN];
            struct sf_dht_id worst;
            bucket_min_dist(d, bi, target, lo);
            sf_dht_id_xor(&worst, &out[n - 1].id, target);
            if (memcmp(lo, worst.b, SF_DHT_ID_LEN) >= 0) {
                continue;
            }
        }
        closest_scan(&d->bucket[bi], target, out, n, &have);
    }
    return have;
}

size_t sf_dht__table_count(const struct sf_dht *d)
{
    size_t n = 0;
    for (int bi = 0; bi < d->nb; bi++) {
        n += (size_t)d->bucket[bi].n;
    }
    return n;
}

size_t sf_dht_contacts(const struct sf_dht *d, struct sf_dht_contact *out, size_t max)
{
    size_t n = 0;
    for (int bi = 0; bi < d->nb; bi++) {
        for (int i = 0; i < d->bucket[bi].n; i++, n++) {
            if (n < max) {
                out[n] = d->bucket[bi].ent[i].c;
            }
        }
    }
    return n;
}

void sf_dht__table_touch(struct sf_dht *d, const struct sf_dht_id *target)
{
    d->bucket[sf_dht__bucket_of(d, target)].refreshed = d->now;
}

void sf_dht__random_in_bucket(struct sf_dht *d, int b, struct sf_dht_id *out)
{
    for (int i = 0; i < SF_DHT_ID_LEN; i += 8) {
        uint64_t r = sf_dht__rand(d);
        memcpy(out->b + i, &r, SF_DHT_ID_LEN - i < 8 ? (size_t)(SF_DHT_ID_LEN - i) : 8);
    }
    /* Keep our first b bits; bucket b < nb-1 also needs bit b flipped. */
    for (int bit = 0; bit < b && bit < SF_DHT__ID_BITS; bit++) {
        uint8_t m = (uint8_t)(0x80 >> (bit % 8));
        out->b[bit / 8] = (uint8_t)((out->b[bit / 8] & ~m) | (d->cfg.id.b[bit / 8] & m));
    }
    if (b < d->nb - 1) {
        uint8_t m = (uint8_t)(0x80 >> (b % 8));
        out->b[b / 8] = (uint8_t)((out->b[b / 8] & ~m) | (~d->cfg.id.b[b / 8] & m));
    }
}

void sf_dht__table_maintain(struct sf_dht *d)
{
    uint64_t again = (uint64_t)d->cfg.rpc_timeout_ms * (uint64_t)d->cfg.rpc_tries;
    int refreshes = 0;
    for (int bi = 0; bi < d->nb; bi++) {
        struct sf_dht__bucket *b = &d->bucket[bi];
        for (int i = 0; i < b->n; i++) {
            struct sf_dht__contact *e = &b->ent[i];
            bool quiet = d->now - e->last_seen >= (uint64_t)d->cfg.ping_ms;
            if ((quiet || e->fails > 0) && d->now - e->last_ping >= again) {
                ping(d, e);
            }
        }
        /* Refresh a bucket nobody looked into lately; a couple per tick so
         * a fresh node does not flood the network. */
        if (refreshes < 2 && d->now - b->refreshed >= (uint64_t)d->cfg.refresh_ms &&
            sf_dht__table_count(d) > 0) {
            struct sf_dht_id t;
            sf_dht__random_in_bucket(d, bi, &t);
            b->refreshed = d->now;
            if (sf_dht__lookup_start(d, SF_DHT__LK_FIND, &t, NULL, NULL, NULL, NULL) == 0) {
                refreshes++;
            }
        }
    }
    /* Lost everyone (partition, or all peers restarted): go back to the
     * addresses we joined through. */
    if (sf_dht__table_count(d) == 0 && d->njoin > 0 &&
        d->now - d->last_join >= 5 * (uint64_t)d->cfg.tick_ms) {
        d->last_join = d->now;
        d->joined = false;
        d->join_tries = 0;
        for (int i = 0; i < d->njoin; i++) {
            struct sf_dht__msg m;
            sf_dht__msg_init(&m, SF_DHT__PING);
            struct sf_dht_contact c = {.addr = d->join[i]};
            (void)sf_dht__request(d, &c, false, &m, NULL);
        }
    }
}

void sf_dht__table_free(struct sf_dht *d)
{
    for (int bi = 0; bi <= SF_DHT__ID_BITS; bi++) {
        free(d->bucket[bi].ent);
        free(d->bucket[bi].rep);
        free(d->bucket[bi].ids);
        d->bucket[bi].ent = d->bucket[bi].rep = NULL;
        d->bucket[bi].ids = NULL;
    }
}

int sf_dht_contact_state(const struct sf_dht *d, const struct sf_dht_id *id, uint64_t *last_seen,
                         int *fails)
{
    const struct sf_dht__bucket *b = &d->bucket[sf_dht__bucket_of(d, id)];
    int i = find_id(b, id);
    if (i < 0) {
        return -ENOENT;
    }
    if (last_seen != NULL) {
        *last_seen = b->ent[i].last_seen;
    }
    if (fails != NULL) {
        *fails = b->ent[i].fails;
    }
    return 0;
}

int sf_dht_remove_contact(struct sf_dht *d, const struct sf_dht_id *id)
{
    struct sf_dht__bucket *b = &d->bucket[sf_dht__bucket_of(d, id)];
    int i = find_id(b, id);
    if (i < 0) {
        return -ENOENT;
    }
    ent_del(b, i);
    d->st.contacts--;
    if (b->nrep > 0) {
        ent_push(b, &b->rep[--b->nrep]);
        d->st.contacts++;
    }
    return 0;
}
