/* Writes the seed corpus for fuzz_dht.c into a directory: scripts with
 * every packet type well-formed, replies that drive lookups, gets and puts
 * through their states, and a few broken packets. Run by hand when the
 * format changes: gen_dht_corpus $(srcdir)/tests/fuzz/corpus/dht */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dht/dht_int.h"

struct script {
    uint8_t b[16384];
    size_t n;
};

static void put8(struct script *s, uint8_t v)
{
    if (s->n < sizeof s->b) {
        s->b[s->n++] = v;
    }
}

static void peer_id(uint8_t p, struct sf_dht_id *id)
{
    memset(id->b, p, SF_DHT_ID_LEN);
    id->b[SF_DHT_ID_LEN - 1] = (uint8_t)(p * 37 + 1);
}

/* op 0: a whole datagram from peer p */
static void datagram(struct script *s, uint8_t p, struct sf_dht__msg *m)
{
    uint8_t buf[SF_DHT_PKT_MAX];
    peer_id(p, &m->sender);
    int n = sf_dht__encode(m, buf, sizeof buf);
    if (n < 0) {
        fprintf(stderr, "gen_dht_corpus: encode failed\n");
        exit(1);
    }
    sf_dht__seal(buf, (size_t)n);
    put8(s, 0);
    put8(s, p);
    put8(s, (uint8_t)(n >> 8));
    put8(s, (uint8_t)n);
    for (int i = 0; i < n; i++) {
        put8(s, buf[i]);
    }
}

/* op 1: a reply body to the newest request, from peer p */
static void reply(struct script *s, uint8_t p, struct sf_dht__msg *m)
{
    uint8_t buf[SF_DHT_PKT_MAX];
    int n = sf_dht__encode(m, buf, sizeof buf);
    if (n < 0) {
        exit(1);
    }
    int body = n - SF_DHT__HDR_LEN;
    put8(s, 1);
    put8(s, p);
    put8(s, (uint8_t)(body >> 8));
    put8(s, (uint8_t)body);
    for (int i = SF_DHT__HDR_LEN; i < n; i++) {
        put8(s, buf[i]);
    }
}

static void tick(struct script *s, unsigned ms)
{
    put8(s, 2);
    put8(s, (uint8_t)(ms >> 8));
    put8(s, (uint8_t)ms);
}

static void op(struct script *s, uint8_t kind, uint8_t target)
{
    put8(s, 3);
    put8(s, kind);
    put8(s, target);
}

static void contact(struct script *s, uint8_t p)
{
    put8(s, 4);
    put8(s, p);
}

static int save(const char *dir, const char *name, const struct script *s)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(s->b, 1, s->n, f) != s->n || fclose(f) != 0) {
        fprintf(stderr, "gen_dht_corpus: cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }
    return 0;
}

static void nodes_msg(struct sf_dht__msg *m, uint8_t type, uint8_t first, size_t n)
{
    memset(m, 0, sizeof *m);
    m->type = type;
    m->n_nodes = n;
    for (size_t i = 0; i < n; i++) {
        peer_id((uint8_t)(first + i), &m->nodes[i].id);
        m->nodes[i].addr.len = 4;
        m->nodes[i].addr.b[0] = 10;
        m->nodes[i].addr.b[3] = (uint8_t)(first + i);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    static struct script s;
    static struct sf_dht__msg m;
    int rc = 0;
    static const uint8_t data[40] = "node 7 addr 10.0.0.7:7946 slots 64";

    /* Every request type from a stranger. */
    memset(&s, 0, sizeof s);
    m = (struct sf_dht__msg){.type = SF_DHT__PING};
    datagram(&s, 1, &m);
    m = (struct sf_dht__msg){.type = SF_DHT__FIND_NODE};
    peer_id(9, &m.target);
    datagram(&s, 2, &m);
    m = (struct sf_dht__msg){.type = SF_DHT__STORE, .n_values = 1};
    peer_id(9, &m.target);
    peer_id(3, &m.values[0].publisher);
    m.values[0] = (struct sf_dht_value){m.values[0].publisher, 5, 60000, sizeof data, data};
    datagram(&s, 3, &m);
    m = (struct sf_dht__msg){.type = SF_DHT__FIND_VALUE, .flags = SF_DHT__FV_CURSOR};
    peer_id(9, &m.target);
    datagram(&s, 4, &m);
    m = (struct sf_dht__msg){.type = SF_DHT__BYE};
    datagram(&s, 1, &m);
    tick(&s, 1000);
    rc |= save(dir, "requests", &s);

    /* A find_node lookup fed NODES replies, then timeouts. */
    memset(&s, 0, sizeof s);
    for (uint8_t p = 1; p <= 6; p++) {
        contact(&s, p);
    }
    op(&s, 0, 200);
    nodes_msg(&m, SF_DHT__NODES, 20, 8);
    reply(&s, 4, &m);
    nodes_msg(&m, SF_DHT__NODES, 40, 4);
    reply(&s, 5, &m);
    tick(&s, 600);
    tick(&s, 600);
    tick(&s, 600);
    rc |= save(dir, "lookup", &s);

    /* A get fed VALUES with the more flag (paging), then a put and acks. */
    memset(&s, 0, sizeof s);
    for (uint8_t p = 1; p <= 5; p++) {
        contact(&s, p);
    }
    op(&s, 1, 77);
    nodes_msg(&m, SF_DHT__VALUES, 30, 3);
    m.flags = SF_DHT__VAL_MORE;
    m.n_values = 2;
    for (size_t i = 0; i < 2; i++) {
        struct sf_dht_id pub;
        peer_id((uint8_t)(60 + i), &pub);
        m.values[i] = (struct sf_dht_value){pub, 1 + i, 30000, 20 + i, data};
    }
    reply(&s, 3, &m);
    memset(&m, 0, sizeof m);
    m.type = SF_DHT__VALUES;
    reply(&s, 3, &m);
    op(&s, 2, 77);
    nodes_msg(&m, SF_DHT__NODES, 1, 3);
    reply(&s, 2, &m);
    m = (struct sf_dht__msg){.type = SF_DHT__STORE_ACK, .flags = SF_DHT__ACK_STORED};
    reply(&s, 2, &m);
    tick(&s, 2000);
    tick(&s, 60000);
    rc |= save(dir, "get-put", &s);

    /* Table churn: fill small buckets, ping the full bucket's head, BYE,
     * join retries on an empty table. */
    memset(&s, 0, sizeof s);
    for (unsigned p = 0x80; p < 0x90; p++) {
        contact(&s, (uint8_t)p);
    }
    for (unsigned p = 0x50; p < 0x5a; p++) {
        contact(&s, (uint8_t)p);
    }
    tick(&s, 40000);
    m = (struct sf_dht__msg){.type = SF_DHT__PONG};
    m.addr.len = 6;
    reply(&s, 0x80, &m);
    tick(&s, 2000);
    put8(&s, 5);
    put8(&s, 0x33);
    tick(&s, 6000);
    rc |= save(dir, "table", &s);

    /* Broken packets: short, bad version, truncated body. */
    memset(&s, 0, sizeof s);
    put8(&s, 0);
    put8(&s, 1);
    put8(&s, 0);
    put8(&s, 5);
    for (int i = 0; i < 5; i++) {
        put8(&s, 0xff);
    }
    m = (struct sf_dht__msg){.type = SF_DHT__PING};
    datagram(&s, 1, &m);
    s.b[s.n - SF_DHT__HDR_LEN] = 9; /* version byte of that datagram */
    nodes_msg(&m, SF_DHT__NODES, 1, 2);
    contact(&s, 1);
    op(&s, 0, 5);
    reply(&s, 1, &m);
    s.b[s.n - 5] = 0; /* address length 0 inside the reply */
    rc |= save(dir, "broken", &s);
    return rc;
}
