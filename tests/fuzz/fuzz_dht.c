/* Fuzz target for the DHT packet decoder and the state it guards: the
 * input is a script of raw datagrams, forged replies to the requests the
 * node really sent, clock steps and API calls on one handle, so hostile
 * packets meet lookups, puts and the routing table in every state. Also
 * checks that a packet that decodes re-encodes to the same bytes. A crash,
 * sanitizer report or abort is a bug. Single-threaded; built by libFuzzer
 * (make fuzz-dht) or the plain replay driver.
 *
 * Script: repeated [op byte][operands...]; op % 6 selects
 *   0 datagram  peer(1) len(2, big-endian) bytes(len)
 *   1 reply     peer(1) len(2) body(len): header for the newest request
 *               sent (its tid, reply type, sender = peer), sealed
 *   2 time      ms(2): advance the clock, run timers
 *   3 operation kind(1) target(1): find_node / get / put / unput / leave
 *   4 contact   peer(1): add a known contact
 *   5 join      peer(1) */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dht/dht_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz {
    uint32_t last_tid;
    uint8_t last_type;
    bool have_req;
    unsigned sent, done;
};

static int fz_send(void *ctx, const struct sf_dht_addr *to, const uint8_t *buf, size_t len)
{
    struct fz *f = ctx;
    f->sent++;
    if (len >= SF_DHT__HDR_LEN && buf[1] % 2 == 1 && buf[1] != SF_DHT__BYE) {
        f->last_tid =
            (uint32_t)buf[4] << 24 | (uint32_t)buf[5] << 16 | (uint32_t)buf[6] << 8 | buf[7];
        f->last_type = buf[1];
        f->have_req = true;
    }
    return 0;
}

static void fz_done(struct sf_dht *d, const struct sf_dht_result *r, void *arg)
{
    struct fz *f = arg;
    f->done++;
    /* touch everything the result promises to be valid */
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < r->n_nodes; i++) {
        sink ^= r->nodes[i].id.b[0] ^ r->nodes[i].addr.b[0];
    }
    for (size_t i = 0; i < r->n_values; i++) {
        for (size_t j = 0; j < r->values[i].len; j++) {
            sink ^= r->values[i].data[j];
        }
    }
    (void)sink;
}

static void peer_of(uint8_t p, struct sf_dht_id *id, struct sf_dht_addr *a)
{
    memset(id->b, p, SF_DHT_ID_LEN);
    id->b[SF_DHT_ID_LEN - 1] = (uint8_t)(p * 37 + 1);
    a->len = 4;
    a->b[0] = 10;
    a->b[1] = 0;
    a->b[2] = 0;
    a->b[3] = p;
}

/* A packet that decodes must re-encode to itself (the format is
 * canonical); the MAC is not ours to reproduce, so compare without it. */
static void check_canonical(const uint8_t *buf, size_t len)
{
    static struct sf_dht__msg m;
    if (sf_dht__decode(buf, len, &m) != 0) {
        return;
    }
    static uint8_t out[SF_DHT_PKT_MAX];
    int n = sf_dht__encode(&m, out, sizeof out);
    if (n < 0 || (size_t)n != len) {
        abort();
    }
    /* the CRC also covers the MAC, so compare all but those two fields */
    if (memcmp(out, buf, 28) != 0 ||
        memcmp(out + SF_DHT__HDR_LEN, buf + SF_DHT__HDR_LEN, len - SF_DHT__HDR_LEN) != 0) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f = {0};
    struct sf_dht_config cfg;
    sf_dht_config_default(&cfg);
    cfg.k = 4; /* small buckets: splits, replacements and evictions early */
    cfg.max_values = 16;
    memset(cfg.id.b, 0x5a, SF_DHT_ID_LEN);
    struct sf_dht_ops ops = {.send = fz_send};
    struct sf_dht *d;
    uint64_t now = 1000;
    if (sf_dht_create(&cfg, &ops, &f, now, &d) != 0) {
        return 0;
    }
    static uint8_t pkt[SF_DHT_PKT_MAX + 64];
    size_t i = 0;
    while (i < size) {
        uint8_t op = data[i++] % 6;
        struct sf_dht_id id;
        struct sf_dht_addr a;
        if (op == 0 || op == 1) {
            if (size - i < 3) {
                break;
            }
            uint8_t p = data[i];
            size_t len = (size_t)data[i + 1] << 8 | data[i + 2];
            i += 3;
            if (len > size - i) {
                len = size - i;
            }
            peer_of(p, &id, &a);
            if (op == 0) {
                check_canonical(data + i, len);
                (void)sf_dht_input(d, &a, data + i, len, now);
            } else if (f.have_req && len <= SF_DHT_PKT_MAX - SF_DHT__HDR_LEN) {
                memset(pkt, 0, SF_DHT__HDR_LEN);
                pkt[0] = SF_DHT__VERSION;
                pkt[1] = (uint8_t)(f.last_type + 1);
                size_t tot = SF_DHT__HDR_LEN + len;
                pkt[2] = (uint8_t)(tot >> 8);
                pkt[3] = (uint8_t)tot;
                pkt[4] = (uint8_t)(f.last_tid >> 24);
                pkt[5] = (uint8_t)(f.last_tid >> 16);
                pkt[6] = (uint8_t)(f.last_tid >> 8);
                pkt[7] = (uint8_t)f.last_tid;
                memcpy(pkt + 8, id.b, SF_DHT_ID_LEN);
                memcpy(pkt + SF_DHT__HDR_LEN, data + i, len);
                sf_dht__seal(pkt, tot);
                check_canonical(pkt, tot);
                (void)sf_dht_input(d, &a, pkt, tot, now);
            }
            i += len;
        } else if (op == 2) {
            if (size - i < 2) {
                break;
            }
            now += (uint64_t)data[i] << 8 | data[i + 1];
            i += 2;
            sf_dht_periodic(d, now);
        } else if (op == 3) {
            if (size - i < 2) {
                break;
            }
            uint8_t kind = data[i], t = data[i + 1];
            i += 2;
            peer_of(t, &id, &a);
            switch (kind % 5) {
            case 0:
                (void)sf_dht_find_node(d, &id, fz_done, &f, now);
                break;
            case 1:
                (void)sf_dht_get(d, &id, fz_done, &f, now);
                break;
            case 2:
                (void)sf_dht_put(d, &id, kind, data, size - i < 40 ? size - i : 40,
                                 (uint32_t)t * 1000, fz_done, &f, now);
                break;
            case 3:
                (void)sf_dht_unput(d, &id);
                break;
            case 4:
                sf_dht_leave(d, now);
                break;
            }
        } else {
            if (size - i < 1) {
                break;
            }
            peer_of(data[i++], &id, &a);
            if (op == 4) {
                struct sf_dht_contact c = {id, a};
                (void)sf_dht_add_contact(d, &c, now);
            } else {
                (void)sf_dht_join(d, &a, now);
            }
        }
        if (op == 2 && sf_dht_next_wake(d) <= now) {
            abort(); /* timers just ran: nothing may still be due */
        }
    }
    struct sf_dht_stats st;
    sf_dht_get_stats(d, &st);
    struct sf_dht_contact cs[8];
    if (sf_dht_contacts(d, cs, 8) != st.contacts) {
        abort();
    }
    sf_dht_destroy(d);
    return 0;
}
