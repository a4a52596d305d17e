/* Simulated network for the DHT: an event heap of datagram deliveries and
 * node wake-ups over a virtual millisecond clock, with seeded latency and
 * loss. Test and benchmark code only, never in a daemon. Single-threaded. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dht/dht_sim.h"

struct sf_dht_sim_ev {
    uint64_t t, seq;
    uint32_t to, from;
    uint32_t len;   /* 0: a wake-up */
    uint8_t *pkt;
};

uint64_t sf_dht_sim_rand(struct sf_dht_sim *s)
{
    uint64_t z = (s->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void sf_dht_sim_random_id(struct sf_dht_sim *s, struct sf_dht_id *id)
{
    for (int i = 0; i < SF_DHT_ID_LEN; i += 8) {
        uint64_t r = sf_dht_sim_rand(s);
        memcpy(id->b + i, &r, SF_DHT_ID_LEN - i < 8 ? (size_t)(SF_DHT_ID_LEN - i) : 8);
    }
}

static bool ev_less(const struct sf_dht_sim_ev *a, const struct sf_dht_sim_ev *b)
{
    return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static int ev_push(struct sf_dht_sim *s, struct sf_dht_sim_ev e)
{
    if (s->nev == s->capev) {
        size_t cap = s->capev ? s->capev * 2 : 1024;
        struct sf_dht_sim_ev *n = realloc(s->ev, cap * sizeof *n);
        if (n == NULL) {
            return -ENOMEM;
        }
        s->ev = n;
        s->capev = cap;
    }
    e.seq = s->seq++;
    size_t i = s->nev++;
    while (i > 0 && ev_less(&e, &s->ev[(i - 1) / 2])) {
        s->ev[i] = s->ev[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    s->ev[i] = e;
    return 0;
}

static struct sf_dht_sim_ev ev_pop(struct sf_dht_sim *s)
{
    struct sf_dht_sim_ev top = s->ev[0], last = s->ev[--s->nev];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= s->nev) {
            break;
        }
        if (c + 1 < s->nev && ev_less(&s->ev[c + 1], &s->ev[c])) {
            c++;
        }
        if (!ev_less(&s->ev[c], &last)) {
            break;
        }
        s->ev[i] = s->ev[c];
        i = c;
    }
    if (s->nev > 0) {
        s->ev[i] = last;
    }
    return top;
}

static void idx_addr(uint32_t idx, struct sf_dht_addr *a)
{
    a->len = 4;
    a->b[0] = (uint8_t)(idx >> 24);
    a->b[1] = (uint8_t)(idx >> 16);
    a->b[2] = (uint8_t)(idx >> 8);
    a->b[3] = (uint8_t)idx;
}

long sf_dht_sim_addr_idx(const struct sf_dht_addr *a)
{
    if (a->len != 4) {
        return -1;
    }
    return (long)((uint32_t)a->b[0] << 24 | (uint32_t)a->b[1] << 16 | (uint32_t)a->b[2] << 8 |
                  a->b[3]);
}

static int sim_send(void *ctx, const struct sf_dht_addr *to, const uint8_t *buf, size_t len)
{
    struct sf_dht_sim_node *nd = ctx;
    struct sf_dht_sim *s = nd->sim;
    long dst = sf_dht_sim_addr_idx(to);
    s->sent++;
    s->by_type[len > 1 ? buf[1] & 15 : 0]++;
    if (dst < 0 || (size_t)dst >= s->n) {
        return -EHOSTUNREACH;
    }
    if (s->cfg.loss > 0 && (double)(sf_dht_sim_rand(s) >> 11) * 0x1p-53 < s->cfg.loss) {
        s->lost++;
        return 0;
    }
    uint32_t span = s->cfg.lat_max_ms - s->cfg.lat_min_ms + 1;
    struct sf_dht_sim_ev e = {
        .t = s->now + s->cfg.lat_min_ms + sf_dht_sim_rand(s) % span,
        .to = (uint32_t)dst, .from = nd->idx, .len = (uint32_t)len,
    };
    e.pkt = malloc(len);
    if (e.pkt == NULL) {
        return -ENOMEM;
    }
    memcpy(e.pkt, buf, len);
    if (ev_push(s, e) != 0) {
        free(e.pkt);
        return -ENOMEM;
    }
    return 0;
}

static void sim_dead(void *ctx, const struct sf_dht_contact *c, enum sf_dht_dead_reason why)
{
    struct sf_dht_sim_node *nd = ctx;
    nd->dead_seen++;
}

int sf_dht_sim_create(const struct sf_dht_sim_config *cfg, struct sf_dht_sim **out)
{
    struct sf_dht_sim *s = calloc(1, sizeof *s);
    if (s == NULL) {
        return -ENOMEM;
    }
    s->cfg = *cfg;
    if (s->cfg.lat_max_ms < s->cfg.lat_min_ms) {
        s->cfg.lat_max_ms = s->cfg.lat_min_ms;
    }
    s->rng = cfg->seed;
    *out = s;
    return 0;
}

void sf_dht_sim_destroy(struct sf_dht_sim *s)
{
    if (s == NULL) {
        return;
    }
    for (size_t i = 0; i < s->n; i++) {
        sf_dht_destroy(s->node[i]->dht);
        free(s->node[i]);
    }
    for (size_t i = 0; i < s->nev; i++) {
        free(s->ev[i].pkt);
    }
    free(s->ev);
    free(s->node);
    free(s);
}

void sf_dht_sim_poke(struct sf_dht_sim *s, size_t idx)
{
    struct sf_dht_sim_node *nd = s->node[idx];
    if (nd->dht == NULL) {
        return;
    }
    uint64_t w = sf_dht_next_wake(nd->dht);
    if (w < s->now) {
        w = s->now;
    }
    if (w < nd->wake) {
        struct sf_dht_sim_ev e = {.t = w, .to = (uint32_t)idx};
        if (ev_push(s, e) == 0) {
            nd->wake = w;
        }
    }
}

long sf_dht_sim_add(struct sf_dht_sim *s, long via)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        struct sf_dht_sim_node **n = realloc(s->node, cap * sizeof *n);
        if (n == NULL) {
            return -ENOMEM;
        }
        s->node = n;
        s->cap = cap;
    }
    size_t idx = s->n;
    struct sf_dht_sim_node *nd = calloc(1, sizeof *nd);
    if (nd == NULL) {
        return -ENOMEM;
    }
    s->node[idx] = nd;
    nd->sim = s;
    nd->idx = (uint32_t)idx;
    nd->wake = UINT64_MAX;
    sf_dht_sim_random_id(s, &nd->id);
    struct sf_dht_config c = s->cfg.dht;
    c.id = nd->id;
    c.seed = sf_dht_sim_rand(s);
    struct sf_dht_ops ops = {.send = sim_send, .sign = s->cfg.sign, .verify = s->cfg.verify,
                             .contact_dead = sim_dead};
    s->n++;
    int rc = sf_dht_create(&c, &ops, nd, s->now, &nd->dht);
    if (rc != 0) {
        s->n--;
        free(nd);
        return rc;
    }
    s->live++;
    if (via >= 0 && (size_t)via < idx) {
        struct sf_dht_addr a;
        idx_addr((uint32_t)via, &a);
        (void)sf_dht_join(nd->dht, &a, s->now);
    }
    sf_dht_sim_poke(s, idx);
    return (long)idx;
}

void sf_dht_sim_kill(struct sf_dht_sim *s, size_t idx)
{
    if (s->node[idx]->dht != NULL) {
        sf_dht_destroy(s->node[idx]->dht);
        s->node[idx]->dht = NULL;
        s->live--;
    }
}

/* Process the earliest event. */
static void step(struct sf_dht_sim *s)
{
    struct sf_dht_sim_ev e = ev_pop(s);
    s->now = e.t;
    struct sf_dht_sim_node *nd = s->node[e.to];
    if (e.len == 0) {
        if (nd->dht == NULL || e.t != nd->wake) {
            return; /* stale: a sooner wake replaced it, or the node died */
        }
        nd->wake = UINT64_MAX;
        sf_dht_periodic(nd->dht, s->now);
    } else {
        if (nd->dht == NULL) {
            free(e.pkt);
            return;
        }
        struct sf_dht_addr from;
        idx_addr(e.from, &from);
        s->delivered++;
        (void)sf_dht_input(nd->dht, &from, e.pkt, e.len, s->now);
        free(e.pkt);
    }
    sf_dht_sim_poke(s, e.to);
}

void sf_dht_sim_run_until(struct sf_dht_sim *s, uint64_t t)
{
    while (s->nev > 0 && s->ev[0].t <= t) {
        step(s);
    }
    if (s->now < t) {
        s->now = t;
    }
}

bool sf_dht_sim_run_flag(struct sf_dht_sim *s, const bool *flag, uint64_t limit)
{
    while (!*flag && s->nev > 0 && s->ev[0].t <= limit) {
        step(s);
    }
    return *flag;
}

size_t sf_dht_sim_closest(const struct sf_dht_sim *s, const struct sf_dht_id *target, long skip,
                          size_t k, size_t *out)
{
    size_t have = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (s->node[i]->dht == NULL || (long)i == skip) {
            continue;
        }
        const struct sf_dht_id *id = &s->node[i]->id;
        if (have == k && sf_dht_id_cmp_dist(target, id, &s->node[out[k - 1]]->id) >= 0) {
            continue;
        }
        size_t j = have < k ? have++ : k - 1;
        while (j > 0 && sf_dht_id_cmp_dist(target, id, &s->node[out[j - 1]]->id) < 0) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = i;
    }
    return have;
}

size_t sf_dht_sim_dead_contacts(const struct sf_dht_sim *s, size_t *total)
{
    size_t dead = 0, all = 0, cap = 4096;
    struct sf_dht_contact *buf = malloc(cap * sizeof *buf);
    for (size_t i = 0; buf != NULL && i < s->n; i++) {
        if (s->node[i]->dht == NULL) {
            continue;
        }
        size_t n = sf_dht_contacts(s->node[i]->dht, buf, cap);
        n = n < cap ? n : cap;
        for (size_t j = 0; j < n; j++) {
            long x = sf_dht_sim_addr_idx(&buf[j].addr);
            all++;
            if (x < 0 || (size_t)x >= s->n || s->node[x]->dht == NULL) {
                dead++;
            }
        }
    }
    free(buf);
    if (total != NULL) {
        *total = all;
    }
    return dead;
}
