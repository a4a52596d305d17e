/* Check suite for the DHT (dht/): unit tests of ids, buckets, eviction and
 * the packet codec (every malformed kind dropped and counted), then
 * simulations of 1,000 nodes (seeded latency, loss, churn) checked against
 * brute force, and a loopback UDP pair. Set SF_DHT_SIM_NODES for smaller
 * runs (valgrind). Fork mode, single-threaded per test. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dht/dht_int.h"
#include "dht/dht_sim.h"
#include "runtime/base/sf_loop.h"

/* ---------------------------------------------------------------- helpers */

#define CAP_MAX 256

struct cap {
    size_t n;
    struct {
        struct sf_dht_addr to;
        size_t len;
        uint8_t buf[SF_DHT_PKT_MAX];
    } pkt[CAP_MAX];
    size_t ndead;
    struct sf_dht_contact dead[32];
    enum sf_dht_dead_reason why[32];
    int reject; /* verify hook refuses everything */
};

static int cap_send(void *ctx, const struct sf_dht_addr *to, const uint8_t *buf, size_t len)
{
    struct cap *c = ctx;
    if (c->n < CAP_MAX) {
        c->pkt[c->n].to = *to;
        c->pkt[c->n].len = len;
        memcpy(c->pkt[c->n].buf, buf, len);
        c->n++;
    }
    return 0;
}

static void cap_dead(void *ctx, const struct sf_dht_contact *ct, enum sf_dht_dead_reason why)
{
    struct cap *c = ctx;
    if (c->ndead < 32) {
        c->dead[c->ndead] = *ct;
        c->why[c->ndead] = why;
        c->ndead++;
    }
}

static int cap_verify(void *ctx, const uint8_t *pkt, size_t len, const uint8_t *mac)
{
    struct cap *c = ctx;
    return c->reject ? -EPERM : 0;
}

static struct sf_dht *mk(struct cap *c, const struct sf_dht_id *id, int k)
{
    struct sf_dht_config cfg;
    sf_dht_config_default(&cfg);
    cfg.id = *id;
    cfg.k = k;
    struct sf_dht_ops ops = {.send = cap_send, .contact_dead = cap_dead, .verify = cap_verify};
    struct sf_dht *d;
    ck_assert_int_eq(sf_dht_create(&cfg, &ops, c, 0, &d), 0);
    return d;
}

static struct sf_dht_id id_byte(uint8_t b0, uint8_t last)
{
    struct sf_dht_id id = {{0}};
    id.b[0] = b0;
    id.b[SF_DHT_ID_LEN - 1] = last;
    return id;
}

static struct sf_dht_addr addr_of(uint32_t x)
{
    struct sf_dht_addr a = {.len = 4};
    a.b[0] = (uint8_t)(x >> 24);
    a.b[1] = (uint8_t)(x >> 16);
    a.b[2] = (uint8_t)(x >> 8);
    a.b[3] = (uint8_t)x;
    return a;
}

/* Encode and seal a message from 'sender'. */
static size_t pkt_of(struct sf_dht__msg *m, const struct sf_dht_id *sender, uint8_t *buf)
{
    m->sender = *sender;
    int n = sf_dht__encode(m, buf, SF_DHT_PKT_MAX);
    ck_assert_int_gt(n, 0);
    sf_dht__seal(buf, (size_t)n);
    return (size_t)n;
}

/* Fix the length field and checksum after editing a packet by hand. */
static void reseal(uint8_t *buf, size_t len)
{
    buf[2] = (uint8_t)(len >> 8);
    buf[3] = (uint8_t)len;
    sf_dht__seal(buf, len);
}

static uint64_t drops(struct sf_dht *d, enum sf_dht_drop why)
{
    struct sf_dht_stats st;
    sf_dht_get_stats(d, &st);
    return st.dropped[why];
}

/* ------------------------------------------------------------- unit tests */

START_TEST(test_xor_distance)
{
    struct sf_dht_id a = id_byte(0, 0), b = id_byte(0x80, 0), c = id_byte(0x01, 0);
    ck_assert_int_eq(sf_dht_id_cpl(&a, &a), 160);
    ck_assert_int_eq(sf_dht_id_cpl(&a, &b), 0);
    ck_assert_int_eq(sf_dht_id_cpl(&a, &c), 7);
    struct sf_dht_id d = id_byte(0, 1);
    ck_assert_int_eq(sf_dht_id_cpl(&a, &d), 159);
    struct sf_dht_id x;
    sf_dht_id_xor(&x, &b, &c);
    ck_assert_uint_eq(x.b[0], 0x81);
    /* target 0: 0x01.. is nearer than 0x80.., equal ids compare 0 */
    ck_assert_int_lt(sf_dht_id_cmp_dist(&a, &c, &b), 0);
    ck_assert_int_gt(sf_dht_id_cmp_dist(&a, &b, &c), 0);
    ck_assert_int_eq(sf_dht_id_cmp_dist(&a, &b, &b), 0);
    /* target 0x80..: 0x80..01 is nearest, then 0x81.. */
    struct sf_dht_id e = id_byte(0x80, 1), f = id_byte(0x81, 0);
    ck_assert_int_lt(sf_dht_id_cmp_dist(&b, &e, &f), 0);
    ck_assert_int_lt(sf_dht_id_cmp_dist(&b, &f, &c), 0);
}
END_TEST

START_TEST(test_crc_known_value)
{
    /* CRC32C; the skipped (checksum) field reads as zeros whatever it
     * holds. CRC32C("123456789" + 4 zero bytes) = 0x55a059d9. */
    uint8_t a[13];
    memcpy(a, "123456789", 9);
    memset(a + 9, 0xee, 4);
    ck_assert_uint_eq(sf_dht__crc32c(a, 13, 9), 0x55a059d9u);
    memset(a + 9, 0, 4);
    ck_assert_uint_eq(sf_dht__crc32c(a, 13, 9), 0x55a059d9u);
    /* a long buffer takes the 8-bytes-at-a-time path on x86 */
    uint8_t big[1000];
    for (size_t i = 0; i < sizeof big; i++) {
        big[i] = (uint8_t)(i * 31 + 7);
    }
    uint32_t c1 = sf_dht__crc32c(big, sizeof big, 28);
    big[500] ^= 1;
    ck_assert_uint_ne(sf_dht__crc32c(big, sizeof big, 28), c1);
}
END_TEST

START_TEST(test_bucket_split_order)
{
    struct cap *c = calloc(1, sizeof *c);
    struct sf_dht_id self = id_byte(0, 0);
    struct sf_dht *d = mk(c, &self, 4);
    struct sf_dht_stats st;
    /* Four ids sharing 0 bits with us fill the only bucket. */
    for (int i = 0; i < 4; i++) {
        struct sf_dht_contact ct = {id_byte(0x80, (uint8_t)i), addr_of((uint32_t)i)};
        ck_assert_int_eq(sf_dht_add_contact(d, &ct, 0), 0);
    }
    sf_dht_get_stats(d, &st);
    ck_assert_uint_eq(st.buckets, 1);
    ck_assert_uint_eq(st.contacts, 4);
    /* A fifth, sharing 1 bit: the full bucket holds our id, so it splits. */
    struct sf_dht_contact n5 = {id_byte(0x40, 0), addr_of(5)};
    sf_dht_add_contact(d, &n5, 0);
    sf_dht_get_stats(d, &st);
    ck_assert_uint_eq(st.buckets, 2);
    ck_assert_uint_eq(st.contacts, 5);
    /* More far ids do not fit: bucket 0 no longer holds our id. */
    struct sf_dht_contact far = {id_byte(0x90, 0), addr_of(9)};
    sf_dht_add_contact(d, &far, 0);
    sf_dht_get_stats(d, &st);
    ck_assert_uint_eq(st.buckets, 2);
    ck_assert_uint_eq(st.contacts, 5);
    /* Ids nearer to us keep splitting the last bucket. */
    uint8_t nearer[] = {0x20, 0x10, 0x08, 0x04, 0x02};
    for (size_t i = 0; i < sizeof nearer; i++) {
        struct sf_dht_contact ct = {id_byte(nearer[i], 0), addr_of(20 + (uint32_t)i)};
        sf_dht_add_contact(d, &ct, 0);
    }
    sf_dht_get_stats(d, &st);
    ck_assert_uint_eq(st.contacts, 10);
    ck_assert_uint_ge(st.buckets, 3);
    /* Order inside a bucket: least recently seen first; hearing from one
     * moves it to the end. */
    struct sf_dht_contact again = {id_byte(0x80, 0), addr_of(0)};
    sf_dht_add_contact(d, &again, 10);
    struct sf_dht_contact all[32];
    size_t n = sf_dht_contacts(d, all, 32);
    ck_assert_uint_eq(n, 10);
    ck_assert_uint_eq(all[0].id.b[19], 1);
    ck_assert_uint_eq(all[3].id.b[0], 0x80);
    ck_assert_uint_eq(all[3].id.b[19], 0);
    /* Each contact sits in the bucket of its common prefix length. */
    for (size_t i = 0; i < n; i++) {
        int cpl = sf_dht_id_cpl(&self, &all[i].id);
        int b = sf_dht__bucket_of(d, &all[i].id);
        ck_assert(b == cpl || b == d->nb - 1);
    }
    sf_dht_destroy(d);
    free(c);
}
END_TEST

/* table_closest skips whole buckets by their nearest possible distance;
 * it must agree with brute force over the table. */
START_TEST(test_closest_brute_force)
{
    struct cap *c = calloc(1, sizeof *c);
    struct sf_dht_sim_config sc = {.seed = 7};
    struct sf_dht_sim *s;
    sf_dht_sim_create(&sc, &s);
    struct sf_dht_id self;
    sf_dht_sim_random_id(s, &self);
    struct sf_dht *d = mk(c, &self, 8);
    for (uint32_t i = 0; i < 3000; i++) {
        struct sf_dht_contact ct = {.addr = addr_of(i)};
        sf_dht_sim_random_id(s, &ct.id);
        if (i % 5 == 0) {
            /* some near us, so several buckets split */
            memcpy(ct.id.b, self.b, 2 + i % 3);
        }
        sf_dht_add_contact(d, &ct, 0);
    }
    static struct sf_dht_contact all[4096];
    size_t n = sf_dht_contacts(d, all, 4096);
    ck_assert_uint_gt(d->nb, 8);
    for (int t = 0; t < 300; t++) {
        struct sf_dht_id target;
        sf_dht_sim_random_id(s, &target);
        if (t % 3 == 0) {
            memcpy(target.b, self.b, 1 + t % 5);
        }
        struct sf_dht_contact got[8];
        size_t g = sf_dht__table_closest(d, &target, got, 8);
        ck_assert_uint_eq(g, 8);
        /* brute force: count contacts nearer than got[7] */
        size_t nearer = 0;
        for (size_t i = 0; i < n; i++) {
            nearer += sf_dht_id_cmp_dist(&target, &all[i].id, &got[7].id) < 0;
        }
        ck_assert_uint_eq(nearer, 7);
        for (int i = 1; i < 8; i++) {
            ck_assert_int_lt(sf_dht_id_cmp_dist(&target, &got[i - 1].id, &got[i].id), 0);
        }
    }
    sf_dht_destroy(d);
    sf_dht_sim_destroy(s);
    free(c);
}
END_TEST

/* Answer every captured PING to an address in 'alive' with a PONG. */
static void answer_pings(struct sf_dht *d, struct cap *c, size_t from,
                         const struct sf_dht_contact *alive, size_t nalive, uint64_t now)
{
    for (size_t i = from; i < c->n; i++) {
        struct sf_dht__msg m;
        if (sf_dht__decode(c->pkt[i].buf, c->pkt[i].len, &m) != 0 || m.type != SF_DHT__PING) {
            continue;
        }
        for (size_t j = 0; j < nalive; j++) {
            if (memcmp(alive[j].addr.b, c->pkt[i].to.b, 4) == 0) {
                struct sf_dht__msg r = {.type = SF_DHT__PONG, .tid = m.tid, .addr = addr_of(0)};
                uint8_t buf[SF_DHT_PKT_MAX];
                size_t len = pkt_of(&r, &alive[j].id, buf);
                ck_assert_int_eq(sf_dht_input(d, &alive[j].addr, buf, len, now), 0);
            }
        }
    }
}

START_TEST(test_eviction)
{
    struct cap *c = calloc(1, sizeof *c);
    struct sf_dht_id self = id_byte(0, 0);
    struct sf_dht *d = mk(c, &self, 2);
    struct sf_dht_contact a = {id_byte(0x80, 1), addr_of(1)};
    struct sf_dht_contact b = {id_byte(0x80, 2), addr_of(2)};
    struct sf_dht_contact nw = {id_byte(0x80, 3), addr_of(3)};
    struct sf_dht_contact near = {id_byte(0x01, 0), addr_of(4)};
    sf_dht_add_contact(d, &a, 0);
    sf_dht_add_contact(d, &b, 0);
    sf_dht_add_contact(d, &near, 0); /* splits: bucket 0 is now {a, b} */
    uint64_t now = 20000;
    /* Bucket 0 is full; the newcomer waits in the replacement cache and the
     * least recently seen entry (a) is pinged. */
    size_t before = c->n;
    sf_dht_add_contact(d, &nw, now);
    ck_assert_uint_eq(c->n, before + 1);
    ck_assert_mem_eq(c->pkt[before].to.b, a.addr.b, 4);
    ck_assert_uint_eq(c->pkt[before].buf[1], SF_DHT__PING);
    struct sf_dht_contact all[8];
    ck_assert_uint_eq(sf_dht_contacts(d, all, 8), 3);
    /* b and near answer, a never does: a is declared dead and replaced. */
    struct sf_dht_contact alive[2] = {b, near};
    size_t seen = c->n;
    for (; now < 60000 && c->ndead == 0; now += 50) {
        sf_dht_periodic(d, now);
        answer_pings(d, c, seen, alive, 2, now);
        seen = c->n;
    }
    ck_assert_uint_eq(c->ndead, 1);
    ck_assert_mem_eq(c->dead[0].id.b, a.id.b, SF_DHT_ID_LEN);
    ck_assert_int_eq(c->why[0], SF_DHT_DEAD_TIMEOUT);
    size_t n = sf_dht_contacts(d, all, 8);
    ck_assert_uint_eq(n, 3);
    bool has_new = false, has_a = false;
    for (size_t i = 0; i < n; i++) {
        has_new |= memcmp(all[i].id.b, nw.id.b, SF_DHT_ID_LEN) == 0;
        has_a |= memcmp(all[i].id.b, a.id.b, SF_DHT_ID_LEN) == 0;
    }
    ck_assert(has_new && !has_a);
    /* a PONG tells us how we are seen */
    size_t from = c->n;
    ck_assert_int_eq(sf_dht_join(d, &b.addr, now), 0);
    answer_pings(d, c, from, alive, 2, now + 5);
    struct sf_dht_addr me;
    ck_assert_int_eq(sf_dht_observed_addr(d, &me), 0);
    ck_assert_uint_eq(me.len, 4);
    uint64_t seen_b = 0;
    int fails_b = -1;
    ck_assert_int_eq(sf_dht_contact_state(d, &b.id, &seen_b, &fails_b), 0);
    ck_assert_uint_eq(seen_b, now + 5);
    ck_assert_int_eq(fails_b, 0);
    struct sf_dht_stats st;
    sf_dht_get_stats(d, &st);
    ck_assert_uint_eq(st.contacts_dead, 1);
    ck_assert_uint_ge(st.rpc_timeouts, 2);
    sf_dht_destroy(d);
    free(c);
}
END_TEST

START_TEST(test_bye)
{
    struct cap *c = calloc(1, sizeof *c);
    struct sf_dht_id self = id_byte(0, 0);
    struct sf_dht *d = mk(c, &self, 20);
    struct sf_dht_contact a = {id_byte(0x80, 1), addr_of(1)};
    sf_dht_add_contact(d, &a, 0);
    struct sf_dht__msg m = {.type = SF_DHT__BYE};
    uint8_t buf[SF_DHT_PKT_MAX];
    size_t len = pkt_of(&m, &a.id, buf);
    ck_assert_int_eq(sf_dht_input(d, &a.addr, buf, len, 5), 0);
    struct sf_dht_contact all[4];
    ck_assert_uint_eq(sf_dht_contacts(d, all, 4), 0);
    ck_assert_uint_eq(c->ndead, 1);
    ck_assert_int_eq(c->why[0], SF_DHT_DEAD_BYE);
    /* liveness as tracked, and removal by another layer (no callback) */
    sf_dht_add_contact(d, &a, 6);
    uint64_t seen = 0;
    int fails = -1;
    ck_assert_int_eq(sf_dht_contact_state(d, &a.id, &seen, &fails), 0);
    ck_assert_uint_eq(seen, 6);
    ck_assert_int_eq(fails, 0);
    ck_assert_int_eq(sf_dht_remove_contact(d, &a.id), 0);
    ck_assert_int_eq(sf_dht_remove_contact(d, &a.id), -ENOENT);
    ck_assert_int_eq(sf_dht_contact_state(d, &a.id, NULL, NULL), -ENOENT);
    ck_assert_uint_eq(c->ndead, 1);
    /* leave sends BYE to every contact */
    sf_dht_add_contact(d, &a, 6);
    size_t before = c->n;
    sf_dht_leave(d, 7);
    ck_assert_uint_eq(c->n, before + 1);
    ck_assert_uint_eq(c->pkt[before].buf[1], SF_DHT__BYE);
    sf_dht_destroy(d);
    free(c);
}
END_TEST

START_TEST(test_packet_round_trip)
{
    static struct sf_dht__msg in, out;
    uint8_t buf[SF_DHT_PKT_MAX];
    struct sf_dht_id snd = id_byte(0x12, 0x34), tgt = id_byte(0x56, 0x78);
    uint8_t data[SF_DHT_VALUE_MAX];
    for (size_t i = 0; i < sizeof data; i++) {
        data[i] = (uint8_t)(i * 7);
    }
    for (int type = 1; type < SF_DHT__TYPE_MAX; type++) {
        memset(&in, 0, sizeof in);
        in.type = (uint8_t)type;
        in.tid = 0xdeadbeef;
        in.target = tgt;
        in.addr = addr_of(0x01020304);
        in.addr.len = 18;
        if (type == SF_DHT__FIND_VALUE) {
            in.flags = SF_DHT__FV_CURSOR | SF_DHT__FV_VALUES_ONLY;
            in.cursor = snd;
        }
        if (type == SF_DHT__NODES || type == SF_DHT__VALUES) {
            in.n_nodes = 20;
            for (size_t i = 0; i < 20; i++) {
                in.nodes[i].id = id_byte((uint8_t)i, (uint8_t)(i + 1));
                in.nodes[i].addr = addr_of((uint32_t)i);
                in.nodes[i].addr.len = (uint8_t)(1 + i % SF_DHT_ADDR_MAX);
            }
        }
        if (type == SF_DHT__VALUES) {
            in.flags = SF_DHT__VAL_MORE;
            in.n_values = 3;
            for (size_t i = 0; i < 3; i++) {
                in.values[i] = (struct sf_dht_value){id_byte(9, (uint8_t)i), 1000 + i, 5000,
                                                     i * 40, data};
            }
        }
        if (type == SF_DHT__STORE) {
            in.n_values = 1;
            in.values[0] = (struct sf_dht_value){snd, UINT64_MAX - 1, UINT32_MAX, sizeof data,
                                                 data};
        }
        if (type == SF_DHT__STORE_ACK) {
            in.flags = SF_DHT__ACK_FULL;
        }
        size_t len = pkt_of(&in, &snd, buf);
        ck_assert_uint_le(len, SF_DHT_PKT_MAX);
        ck_assert_int_eq(sf_dht__decode(buf, len, &out), 0);
        ck_assert_int_eq(out.type, type);
        ck_assert_uint_eq(out.tid, 0xdeadbeef);
        ck_assert_mem_eq(out.sender.b, snd.b, SF_DHT_ID_LEN);
        switch (type) {
        case SF_DHT__PONG:
            ck_assert_uint_eq(out.addr.len, 18);
            ck_assert_mem_eq(out.addr.b, in.addr.b, 18);
            break;
        case SF_DHT__FIND_NODE:
            ck_assert_mem_eq(out.target.b, tgt.b, SF_DHT_ID_LEN);
            break;
        case SF_DHT__FIND_VALUE:
            ck_assert_mem_eq(out.target.b, tgt.b, SF_DHT_ID_LEN);
            ck_assert_uint_eq(out.flags, in.flags);
            ck_assert_mem_eq(out.cursor.b, snd.b, SF_DHT_ID_LEN);
            break;
        case SF_DHT__VALUES:
        case SF_DHT__NODES:
            ck_assert_uint_eq(out.n_nodes, 20);
            for (size_t i = 0; i < 20; i++) {
                ck_assert_mem_eq(out.nodes[i].id.b, in.nodes[i].id.b, SF_DHT_ID_LEN);
                ck_assert_uint_eq(out.nodes[i].addr.len, in.nodes[i].addr.len);
                ck_assert_mem_eq(out.nodes[i].addr.b, in.nodes[i].addr.b, in.nodes[i].addr.len);
            }
            if (type == SF_DHT__VALUES) {
                ck_assert_uint_eq(out.flags, SF_DHT__VAL_MORE);
                ck_assert_uint_eq(out.n_values, 3);
                for (size_t i = 0; i < 3; i++) {
                    ck_assert_uint_eq(out.values[i].seq, 1000 + i);
                    ck_assert_uint_eq(out.values[i].ttl_ms, 5000);
                    ck_assert_uint_eq(out.values[i].len, i * 40);
                    if (i > 0) {
                        ck_assert_mem_eq(out.values[i].data, data, i * 40);
                    }
                }
            }
            break;
        case SF_DHT__STORE:
            ck_assert_mem_eq(out.target.b, tgt.b, SF_DHT_ID_LEN);
            ck_assert_uint_eq(out.values[0].seq, UINT64_MAX - 1);
            ck_assert_uint_eq(out.values[0].ttl_ms, UINT32_MAX);
            ck_assert_uint_eq(out.values[0].len, sizeof data);
            ck_assert_mem_eq(out.values[0].data, data, sizeof data);
            break;
        case SF_DHT__STORE_ACK:
            ck_assert_uint_eq(out.flags, SF_DHT__ACK_FULL);
            break;
        }
    }
    /* Too much for one datagram is refused, not truncated. */
    memset(&in, 0, sizeof in);
    in.type = SF_DHT__VALUES;
    in.n_values = 4;
    for (size_t i = 0; i < 4; i++) {
        in.values[i] = (struct sf_dht_value){snd, 1, 1, sizeof data, data};
    }
    ck_assert_int_eq(sf_dht__encode(&in, buf, sizeof buf), -EMSGSIZE);
}
END_TEST

/* Every malformed kind is dropped, counted under its reason, and changes
 * nothing else (no contact learned, no reply sent). */
START_TEST(test_malformed_rejected)
{
    struct cap *c = calloc(1, sizeof *c);
    struct sf_dht_id self = id_byte(0x11, 0x11), peer = id_byte(0x80, 1);
    struct sf_dht *d = mk(c, &self, 20);
    struct sf_dht_addr from = addr_of(77);
    uint8_t buf[SF_DHT_PKT_MAX + 8];
    struct sf_dht__msg m;
    size_t len;
    uint64_t t = 1;

#define EXPECT_DROP(why, buf_, len_)                                                   \
    do {                                                                               \
        uint64_t before_ = drops(d, (why));                                            \
        size_t sent_ = c->n;                                                           \
        ck_assert_int_ne(sf_dht_input(d, &from, (buf_), (len_), t++), 0);              \
        ck_assert_uint_eq(drops(d, (why)), before_ + 1);                               \
        ck_assert_uint_eq(c->n, sent_);                                                \
        struct sf_dht_contact tmp_[2];                                                 \
        ck_assert_uint_eq(sf_dht_contacts(d, tmp_, 2), 0);                             \
    } while (0)

    /* short */
    memset(buf, 0, sizeof buf);
    EXPECT_DROP(SF_DHT_DROP_SHORT, buf, 10);
    EXPECT_DROP(SF_DHT_DROP_SHORT, buf, 0);
    /* version */
    m = (struct sf_dht__msg){.type = SF_DHT__PING};
    len = pkt_of(&m, &peer, buf);
    buf[0] = 2;
    reseal(buf, len);
    EXPECT_DROP(SF_DHT_DROP_VERSION, buf, len);
    /* type: 0, one past the last, 255 */
    uint8_t bad_types[] = {0, SF_DHT__TYPE_MAX, 255};
    for (size_t i = 0; i < sizeof bad_types; i++) {
        len = pkt_of(&m, &peer, buf);
        buf[1] = bad_types[i];
        reseal(buf, len);
        EXPECT_DROP(SF_DHT_DROP_TYPE, buf, len);
    }
    /* length field disagrees with the datagram; datagram too large */
    len = pkt_of(&m, &peer, buf);
    buf[3]++;
    sf_dht__seal(buf, len);
    EXPECT_DROP(SF_DHT_DROP_LENGTH, buf, len);
    m = (struct sf_dht__msg){.type = SF_DHT__FIND_NODE, .target = peer};
    len = pkt_of(&m, &peer, buf);
    EXPECT_DROP(SF_DHT_DROP_LENGTH, buf, len - 1);
    memset(buf + SF_DHT__HDR_LEN, 0, SF_DHT_PKT_MAX + 1 - SF_DHT__HDR_LEN);
    reseal(buf, SF_DHT_PKT_MAX + 1);
    EXPECT_DROP(SF_DHT_DROP_LENGTH, buf, SF_DHT_PKT_MAX + 1);
    /* checksum: a flipped bit anywhere, header or body */
    m = (struct sf_dht__msg){.type = SF_DHT__FIND_NODE, .target = peer};
    len = pkt_of(&m, &peer, buf);
    buf[10] ^= 4;
    EXPECT_DROP(SF_DHT_DROP_CHECKSUM, buf, len);
    len = pkt_of(&m, &peer, buf);
    buf[len - 1] ^= 1;
    EXPECT_DROP(SF_DHT_DROP_CHECKSUM, buf, len);
    /* auth: the verify hook refuses */
    len = pkt_of(&m, &peer, buf);
    c->reject = 1;
    EXPECT_DROP(SF_DHT_DROP_AUTH, buf, len);
    c->reject = 0;
    /* body: truncated FIND_NODE, PING with a trailing byte, bad flags and
     * counts, bad STORE_ACK status */
    len = pkt_of(&m, &peer, buf);
    reseal(buf, len - 5);
    EXPECT_DROP(SF_DHT_DROP_BODY, buf, len - 5);
    m = (struct sf_dht__msg){.type = SF_DHT__PING};
    len = pkt_of(&m, &peer, buf);
    buf[len] = 0;
    reseal(buf, len + 1);
    EXPECT_DROP(SF_DHT_DROP_BODY, buf, len + 1);
    m = (struct sf_dht__msg){.type = SF_DHT__FIND_VALUE, .target = peer};
    len = pkt_of(&m, &peer, buf);
    buf[SF_DHT__HDR_LEN + 20] = 0x80;
    reseal(buf, len);
    EXPECT_DROP(SF_DHT_DROP_BODY, buf, len);
    m = (struct sf_dht__msg){.type = SF_DHT__NODES};
    len = pkt_of(&m, &peer, buf);
    buf[SF_DHT__HDR_LEN] = SF_DHT__MSG_NODES_MAX + 1;
    reseal(buf, len);
    EXPECT_DROP(SF_DHT_DROP_BODY, buf, len);
    buf[SF_DHT__HDR_LEN] = 1; /* one contact announced, none there */
    reseal(buf, len);
    EXPECT_DROP(SF_DHT_DROP_BODY, buf, len);
    m = (struct sf_dht__msg){.type = SF_DHT__VALUES};
    len = pkt_of(&m, &peer, buf);
    buf[SF_DHT__HDR_LEN] = 2; /* unknown flag */
    reseal(buf, len);
    EXPECT_DROP(SF_DHT_DROP_BODY, buf, len);
    len = pkt_of(&m, &peer, buf);
    buf[SF_DHT__HDR_LEN + 2] = SF_DHT__MSG_VALUES_MAX + 1;
    reseal(buf, len);
    EXPECT_DROP(SF_DHT_DROP_BODY, buf, len);
    m = (struct sf_dht__msg){.type = SF_DHT__STORE_ACK};
    len = pkt_of(&m, &peer, buf);
    buf[SF_DHT__HDR_LEN] = 3;
    reseal(buf, len);
    EXPECT_DROP(SF_DHT_DROP_BODY, buf, len);
    /* addr: zero and over-long address lengths, in PONG and in NODES */
    m = (struct sf_dht__msg){.type = SF_DHT__PONG, .addr = addr_of(1)};
    len = pkt_of(&m, &peer, buf);
    buf[SF_DHT__HDR_LEN] = 0;
    reseal(buf, len);
    EXPECT_DROP(SF_DHT_DROP_ADDR, buf, len);
    buf[SF_DHT__HDR_LEN] = SF_DHT_ADDR_MAX + 1;
    reseal(buf, len);
    EXPECT_DROP(SF_DHT_DROP_ADDR, buf, len);
    m = (struct sf_dht__msg){.type = SF_DHT__NODES, .n_nodes = 1};
    m.nodes[0] = (struct sf_dht_contact){peer, addr_of(3)};
    len = pkt_of(&m, &peer, buf);
    buf[SF_DHT__HDR_LEN + 1 + SF_DHT_ID_LEN] = 0;
    reseal(buf, len);
    EXPECT_DROP(SF_DHT_DROP_ADDR, buf, len);
    /* self: a packet claiming our own id */
    m = (struct sf_dht__msg){.type = SF_DHT__PING};
    len = pkt_of(&m, &self, buf);
    EXPECT_DROP(SF_DHT_DROP_SELF, buf, len);
    /* unmatched: a reply to nothing we asked */
    m = (struct sf_dht__msg){.type = SF_DHT__PONG, .tid = 12345, .addr = addr_of(1)};
    len = pkt_of(&m, &peer, buf);
    EXPECT_DROP(SF_DHT_DROP_UNMATCHED, buf, len);
    /* value: a STORE whose value is longer than SF_DHT_VALUE_MAX */
    uint8_t data[SF_DHT_VALUE_MAX] = {0};
    m = (struct sf_dht__msg){.type = SF_DHT__STORE, .target = peer, .n_values = 1};
    m.values[0] = (struct sf_dht_value){peer, 1, 1000, sizeof data, data};
    len = pkt_of(&m, &peer, buf);
    size_t lo = SF_DHT__HDR_LEN + 20 + 20 + 8 + 4;
    buf[lo] = (SF_DHT_VALUE_MAX + 1) >> 8;
    buf[lo + 1] = (uint8_t)(SF_DHT_VALUE_MAX + 1);
    buf[len] = 0;
    reseal(buf, len + 1);
    EXPECT_DROP(SF_DHT_DROP_VALUE, buf, len + 1);
    /* from-address without bytes */
    struct sf_dht_addr none = {.len = 0};
    m = (struct sf_dht__msg){.type = SF_DHT__PING};
    len = pkt_of(&m, &peer, buf);
    ck_assert_int_ne(sf_dht_input(d, &none, buf, len, t++), 0);

    /* every reason was exercised; a good packet still works afterwards */
    for (int why = 0; why < SF_DHT_DROP_MAX; why++) {
        ck_assert_msg(drops(d, why) > 0, "no test for drop reason %s", sf_dht_drop_name(why));
        ck_assert_str_ne(sf_dht_drop_name(why), "unknown");
    }
    size_t sent = c->n;
    ck_assert_int_eq(sf_dht_input(d, &from, buf, len, t++), 0);
    ck_assert_uint_ge(c->n, sent + 1); /* the PONG, then a join lookup */
    ck_assert_uint_eq(c->pkt[sent].buf[1], SF_DHT__PONG);
    sf_dht_destroy(d);
    free(c);
}
END_TEST

/* Send a request to d as 'peer' and decode the reply it sent back. */
static void ask(struct sf_dht *d, struct cap *c, struct sf_dht__msg *m, uint8_t peer, uint64_t now,
                struct sf_dht__msg *reply)
{
    struct sf_dht_id id = id_byte((uint8_t)(0x80 | peer), peer);
    uint8_t buf[SF_DHT_PKT_MAX];
    m->tid = 1000u + peer;
    size_t len = pkt_of(m, &id, buf);
    size_t before = c->n;
    ck_assert_int_eq(sf_dht_input(d, &(struct sf_dht_addr){.len = 4, .b = {9, 9, 9, peer}}, buf,
                                  len, now),
                     0);
    ck_assert_uint_gt(c->n, before);
    ck_assert_int_eq(sf_dht__decode(c->pkt[before].buf, c->pkt[before].len, reply), 0);
    ck_assert_uint_eq(reply->tid, m->tid);
    ck_assert_uint_eq(reply->type, m->type + 1);
}

/* STORE one record under key as 'pub' (sent by peer 1); check the ack. */
static void store_as(struct sf_dht *d, struct cap *c, const struct sf_dht_id *key,
                     struct sf_dht_id pub, uint64_t seq, uint32_t ttl, const char *text,
                     int want, uint64_t now)
{
    static struct sf_dht__msg m, r;
    sf_dht__msg_init(&m, SF_DHT__STORE);
    m.target = *key;
    m.n_values = 1;
    m.values[0] = (struct sf_dht_value){pub, seq, ttl, strlen(text), (const uint8_t *)text};
    ask(d, c, &m, 1, now, &r);
    ck_assert_uint_eq(r.flags, want);
}

/* The holder's side of the value model, packet by packet: versions,
 * stale and full refusals, withdrawal, expiry and paging. */
START_TEST(test_store_rules)
{
    struct cap *c = calloc(1, sizeof *c);
    struct sf_dht_config cfg;
    sf_dht_config_default(&cfg);
    cfg.id = id_byte(0x01, 0x01);
    cfg.max_values = 40;
    struct sf_dht_ops ops = {.send = cap_send};
    struct sf_dht *d;
    ck_assert_int_eq(sf_dht_create(&cfg, &ops, c, 0, &d), 0);
    static struct sf_dht__msg m, r;
    struct sf_dht_id key = id_byte(0x22, 0x22), key2 = id_byte(0x33, 0x33);
    struct sf_dht_id p1 = id_byte(0xa1, 1), p2 = id_byte(0xa2, 2), p3 = id_byte(0xa3, 3);
    uint64_t now = 100;



    store_as(d, c, &key, p1, 5, 1000, "a", SF_DHT__ACK_STORED, now);
    store_as(d, c, &key, p1, 4, 1000, "old", SF_DHT__ACK_STALE, now);
    store_as(d, c, &key, p1, 6, 1000, "b", SF_DHT__ACK_STORED, now);
    store_as(d, c, &key, p2, 1, 5000, "p2", SF_DHT__ACK_STORED, now);
    store_as(d, c, &key, p3, 1, 5000, "p3", SF_DHT__ACK_STORED, now);
    sf_dht__msg_init(&m, SF_DHT__FIND_VALUE);
    m.target = key;
    ask(d, c, &m, 2, now, &r);
    ck_assert_uint_eq(r.n_values, 3);
    ck_assert_mem_eq(r.values[0].publisher.b, p1.b, SF_DHT_ID_LEN); /* sorted */
    ck_assert_uint_eq(r.values[0].seq, 6);
    ck_assert_uint_eq(r.values[0].len, 1);
    ck_assert_mem_eq(r.values[0].data, "b", 1);
    ck_assert_uint_eq(r.values[0].ttl_ms, 1000);
    ck_assert_uint_eq(r.flags, 0);
    /* ttl 0 withdraws a record */
    store_as(d, c, &key, p2, 2, 0, "", SF_DHT__ACK_STORED, now);
    sf_dht__msg_init(&m, SF_DHT__FIND_VALUE);
    m.target = key;
    ask(d, c, &m, 2, now, &r);
    ck_assert_uint_eq(r.n_values, 2);
    /* p1's record expires after its TTL, p3's does not yet */
    now = 1200;
    sf_dht_periodic(d, now);
    sf_dht__msg_init(&m, SF_DHT__FIND_VALUE);
    m.target = key;
    ask(d, c, &m, 2, now, &r);
    ck_assert_uint_eq(r.n_values, 1);
    ck_assert_mem_eq(r.values[0].publisher.b, p3.b, SF_DHT_ID_LEN);
    ck_assert_uint_eq(r.values[0].ttl_ms, 5000 + 100 - 1200);
    struct sf_dht_stats st;
    sf_dht_get_stats(d, &st);
    ck_assert_uint_eq(st.values_held, 1);
    ck_assert_uint_ge(st.values_expired, 1);
    ck_assert_uint_eq(st.values_rejected, 1);

    /* Paging: 39 records of 100 bytes under key2 (then the store is full);
     * the first reply carries some and says "more", the values-only pages
     * after a cursor bring the rest, each exactly once. */
    char text[101];
    memset(text, 'x', 100);
    text[100] = 0;
    key = key2;
    for (int i = 0; i < 39; i++) {
        struct sf_dht_id pub = id_byte((uint8_t)(0x40 + i), (uint8_t)i);
        store_as(d, c, &key, pub, 1, 60000, text, SF_DHT__ACK_STORED, now);
    }
    store_as(d, c, &key, id_byte(0xee, 0xee), 1, 60000, "one too many", SF_DHT__ACK_FULL, now);
    int got = 0, pages = 0;
    struct sf_dht_id cursor = {{0}};
    bool first = true;
    for (;;) {
        sf_dht__msg_init(&m, SF_DHT__FIND_VALUE);
        m.target = key2;
        if (!first) {
            m.flags = SF_DHT__FV_CURSOR | SF_DHT__FV_VALUES_ONLY;
            m.cursor = cursor;
        }
        ask(d, c, &m, 3, now, &r);
        pages++;
        if (!first) {
            ck_assert_uint_eq(r.n_nodes, 0);
        }
        for (size_t i = 0; i < r.n_values; i++) {
            ck_assert_uint_eq(r.values[i].publisher.b[0], 0x40 + got);
            got++;
        }
        if (!(r.flags & SF_DHT__VAL_MORE)) {
            break;
        }
        ck_assert_uint_gt(r.n_values, 0);
        cursor = r.values[r.n_values - 1].publisher;
        first = false;
    }
    ck_assert_int_eq(got, 39);
    ck_assert_int_ge(pages, 3);
    sf_dht_destroy(d);
    free(c);
}
END_TEST

/* A node alone: operations end at once with "no one to ask". */
static void alone_done(struct sf_dht *dht, const struct sf_dht_result *r, void *arg)
{
    *(int *)arg = r->status;
}

START_TEST(test_alone)
{
    struct cap *c = calloc(1, sizeof *c);
    struct sf_dht_id self = id_byte(0x42, 0);
    struct sf_dht *d = mk(c, &self, 20);
    int st = 1;
    ck_assert_int_eq(sf_dht_find_node(d, &self, alone_done, &st, 0), 0);
    ck_assert_int_eq(st, -EHOSTUNREACH);
    st = 1;
    ck_assert_int_eq(sf_dht_put(d, &self, 1, "x", 1, 1000, alone_done, &st, 0), 0);
    ck_assert_int_eq(st, -EHOSTUNREACH);
    /* ... but the record is held locally, and a get finds it there */
    st = 1;
    ck_assert_int_eq(sf_dht_get(d, &self, alone_done, &st, 0), 0);
    ck_assert_int_eq(st, 0);
    ck_assert_int_eq(sf_dht_put(d, &self, 1, "x", SF_DHT_VALUE_MAX + 1, 1000, NULL, NULL, 0),
                     -EINVAL);
    ck_assert_int_eq(sf_dht_unput(d, &self), 0);
    ck_assert_int_eq(sf_dht_unput(d, &self), -ENOENT);
    ck_assert_uint_eq(c->n, 0);
    sf_dht_destroy(d);
    free(c);
}
END_TEST

START_TEST(test_config)
{
    struct sf_dht_config cfg;
    sf_dht_config_default(&cfg);
    ck_assert_int_eq(cfg.k, 20);
    ck_assert_int_eq(cfg.alpha, 3);
    setenv("SF_DHT_ALPHA", "5", 1);
    ck_assert_int_eq(sf_dht_config_load(&cfg), 0);
    ck_assert_int_eq(cfg.alpha, 5);
    struct sf_dht_ops ops = {.send = cap_send};
    struct sf_dht *d;
    cfg.k = 0;
    ck_assert_int_eq(sf_dht_create(&cfg, &ops, NULL, 0, &d), -EINVAL);
    cfg.k = 20;
    ops.send = NULL;
    ck_assert_int_eq(sf_dht_create(&cfg, &ops, NULL, 0, &d), -EINVAL);
}
END_TEST

/* ------------------------------------------------------------- simulation */

static size_t sim_nodes(void)
{
    const char *e = getenv("SF_DHT_SIM_NODES");
    size_t n = e != NULL ? strtoul(e, NULL, 10) : 0;
    return n >= 30 ? n : 1000;
}

static struct sf_dht_sim *build(size_t n, uint64_t seed)
{
    struct sf_dht_sim_config sc = {.seed = seed, .lat_min_ms = 5, .lat_max_ms = 40, .loss = 0.005};
    sf_dht_config_default(&sc.dht);
    sc.dht.rpc_timeout_ms = 300;
    sc.dht.ping_ms = 10000;
    sc.dht.refresh_ms = 60000;
    sc.dht.republish_ms = 30000;
    sc.dht.replicate_ms = 60000;
    struct sf_dht_sim *s;
    ck_assert_int_eq(sf_dht_sim_create(&sc, &s), 0);
    for (size_t i = 0; i < n; i++) {
        long via = i == 0 ? -1 : (long)(sf_dht_sim_rand(s) % i);
        ck_assert_int_ge(sf_dht_sim_add(s, via), 0);
        sf_dht_sim_run_until(s, s->now + 2); /* everyone starts at once */
    }
    sf_dht_sim_run_until(s, s->now + 20000);
    return s;
}

static long random_live(struct sf_dht_sim *s)
{
    for (;;) {
        long i = (long)(sf_dht_sim_rand(s) % s->n);
        if (s->node[i]->dht != NULL) {
            return i;
        }
    }
}

struct probe {
    bool done;
    int status;
    unsigned hops, messages;
    size_t n, nv;
    struct sf_dht_contact nodes[64];
    struct {
        struct sf_dht_id pub;
        uint64_t seq;
        uint32_t ttl_ms;
        size_t len;
        uint8_t data[64];
    } v[128];
};

static void on_done(struct sf_dht *dht, const struct sf_dht_result *r, void *arg)
{
    struct probe *p = arg;
    p->done = true;
    p->status = r->status;
    p->hops = r->hops;
    p->messages = r->messages;
    p->n = r->n_nodes < 64 ? r->n_nodes : 64;
    memcpy(p->nodes, r->nodes, p->n * sizeof *p->nodes);
    p->nv = r->n_values < 128 ? r->n_values : 128;
    for (size_t i = 0; i < p->nv; i++) {
        p->v[i].pub = r->values[i].publisher;
        p->v[i].seq = r->values[i].seq;
        p->v[i].ttl_ms = r->values[i].ttl_ms;
        p->v[i].len = r->values[i].len;
        memcpy(p->v[i].data, r->values[i].data, r->values[i].len < 64 ? r->values[i].len : 64);
    }
}

struct lookup_stats {
    unsigned count, exact, only_live, hops_max;
    double hops_mean, msgs_mean;
};

/* 'count' lookups of random targets from random live nodes, in parallel
 * batches; each result is compared with brute force over live nodes. */
static struct lookup_stats lookups(struct sf_dht_sim *s, unsigned count)
{
    enum { BATCH = 50 };
    struct lookup_stats ls = {0};
    struct probe *p = calloc(BATCH, sizeof *p);
    long src[BATCH];
    struct sf_dht_id tgt[BATCH];
    size_t want[64];
    double hs = 0, ms = 0;
    for (unsigned done = 0; done < count; done += BATCH) {
        for (int j = 0; j < BATCH; j++) {
            memset(&p[j], 0, sizeof p[j]);
            src[j] = random_live(s);
            sf_dht_sim_random_id(s, &tgt[j]);
            struct sf_dht *q = s->node[src[j]]->dht;
            ck_assert_int_eq(sf_dht_find_node(q, &tgt[j], on_done, &p[j], s->now), 0);
            sf_dht_sim_poke(s, (size_t)src[j]);
        }
        for (int j = 0; j < BATCH; j++) {
            ck_assert(sf_dht_sim_run_flag(s, &p[j].done, s->now + 600000));
        }
        for (int j = 0; j < BATCH; j++) {
            size_t k = sf_dht_sim_closest(s, &tgt[j], src[j], (size_t)s->cfg.dht.k, want);
            bool ok = p[j].status == 0 && k == p[j].n, live = true;
            for (size_t x = 0; x < p[j].n; x++) {
                long idx = sf_dht_sim_addr_idx(&p[j].nodes[x].addr);
                live &= idx >= 0 && s->node[idx]->dht != NULL;
                ok &= x < k && sf_dht__id_eq(&s->node[want[x]]->id, &p[j].nodes[x].id);
            }
            ls.count++;
            ls.exact += ok;
            ls.only_live += live;
            hs += p[j].hops;
            ms += p[j].messages;
            ls.hops_max = p[j].hops > ls.hops_max ? p[j].hops : ls.hops_max;
        }
    }
    ls.hops_mean = hs / ls.count;
    ls.msgs_mean = ms / ls.count;
    free(p);
    return ls;
}

START_TEST(test_sim_lookups_exact)
{
    size_t n = sim_nodes();
    struct sf_dht_sim *s = build(n, 1001);
    struct lookup_stats ls = lookups(s, 200);
    printf("dht sim: %zu nodes, %u lookups: exact %u, hops mean %.2f max %u, %.1f msgs/lookup\n",
           n, ls.count, ls.exact, ls.hops_mean, ls.hops_max, ls.msgs_mean);
    ck_assert_uint_eq(ls.exact, ls.count);
    ck_assert_uint_eq(ls.only_live, ls.count);
    ck_assert(ls.hops_mean <= log2((double)n));
    sf_dht_sim_destroy(s);
}
END_TEST

START_TEST(test_sim_hops_grow_log)
{
    size_t big = sim_nodes(), small = big / 10;
    struct sf_dht_sim *s = build(small, 2002);
    struct lookup_stats a = lookups(s, 200);
    sf_dht_sim_destroy(s);
    s = build(big, 2003);
    struct lookup_stats b = lookups(s, 200);
    sf_dht_sim_destroy(s);
    printf("dht sim: hops mean %.2f at %zu nodes, %.2f at %zu nodes\n", a.hops_mean, small,
           b.hops_mean, big);
    ck_assert_uint_eq(a.exact, a.count);
    ck_assert_uint_eq(b.exact, b.count);
    /* More nodes take more hops, but 10x the nodes adds a bounded amount
     * (log growth), far from 10x. */
    ck_assert(b.hops_mean > a.hops_mean);
    ck_assert(b.hops_mean <= a.hops_mean * 2 * log((double)big) / log((double)small));
}
END_TEST

START_TEST(test_sim_churn_converges)
{
    size_t n = sim_nodes();
    struct sf_dht_sim *s = build(n, 3003);
    size_t total;
    ck_assert_uint_eq(sf_dht_sim_dead_contacts(s, &total), 0);
    /* 20% crash at once, without goodbye. */
    size_t kill = n / 5;
    for (size_t i = 0; i < kill;) {
        long x = random_live(s);
        sf_dht_sim_kill(s, (size_t)x);
        i++;
    }
    uint64_t t0 = s->now;
    size_t dead = sf_dht_sim_dead_contacts(s, &total);
    size_t dead0 = dead;
    ck_assert_uint_gt(dead, 0);
    /* Lookups right away route around the dead and return live nodes. */
    struct lookup_stats now_ls = lookups(s, 100);
    ck_assert_uint_eq(now_ls.only_live, now_ls.count);
    while (dead > 0 && s->now - t0 < 600000) {
        sf_dht_sim_run_until(s, s->now + 1000);
        dead = sf_dht_sim_dead_contacts(s, &total);
    }
    uint64_t conv = s->now - t0;
    struct lookup_stats ls = lookups(s, 200);
    uint64_t ndead = 0;
    for (size_t i = 0; i < s->n; i++) {
        ndead += s->node[i]->dht != NULL ? s->node[i]->dead_seen : 0;
    }
    printf("dht sim: %zu of %zu nodes crashed: %zu dead table entries gone after %.1f s "
           "(simulated); lookups right after: exact %u/%u; after: exact %u/%u, hops mean %.2f; "
           "%lu contact_dead callbacks\n",
           kill, n, dead0, (double)conv / 1000, now_ls.exact, now_ls.count, ls.exact, ls.count,
           ls.hops_mean, (unsigned long)ndead);
    ck_assert_uint_eq(dead, 0);
    ck_assert_uint_eq(ls.exact, ls.count);
    ck_assert_uint_eq(ls.only_live, ls.count);
    ck_assert_uint_ge(ndead, dead0);
    sf_dht_sim_destroy(s);
}
END_TEST

/* Steady churn: nodes crash and new ones join every second; once it stops
 * the tables settle and lookups are exact again. */
START_TEST(test_sim_steady_churn)
{
    size_t n = sim_nodes();
    struct sf_dht_sim *s = build(n, 7007);
    size_t per_s = n / 200 ? n / 200 : 1;
    uint64_t t0 = s->now;
    for (int sec = 0; sec < 60; sec++) {
        /* Crash first, then join through survivors: a node whose only
         * join address dies at once never gets in (the daemon gives it
         * several), which is not what this test measures. */
        for (size_t i = 0; i < per_s; i++) {
            sf_dht_sim_kill(s, (size_t)random_live(s));
        }
        for (size_t i = 0; i < per_s; i++) {
            ck_assert_int_ge(sf_dht_sim_add(s, random_live(s)), 0);
        }
        sf_dht_sim_run_until(s, s->now + 1000);
    }
    struct lookup_stats during = lookups(s, 100);
    size_t total, dead = sf_dht_sim_dead_contacts(s, &total);
    uint64_t t1 = s->now;
    while (dead > 0 && s->now - t1 < 600000) {
        sf_dht_sim_run_until(s, s->now + 1000);
        dead = sf_dht_sim_dead_contacts(s, &total);
    }
    struct lookup_stats after = lookups(s, 200);
    printf("dht sim: steady churn, %zu crashes + %zu joins per s for 60 s over %zu nodes: "
           "lookups exact %u/%u (all live %u); settled %.1f s later; then exact %u/%u\n",
           per_s, per_s, n, during.exact, during.count, during.only_live,
           (double)(s->now - t1) / 1000, after.exact, after.count);
    (void)t0;
    ck_assert_uint_eq(during.only_live, during.count);
    ck_assert_uint_eq(dead, 0);
    ck_assert_uint_eq(after.exact, after.count);
    sf_dht_sim_destroy(s);
}
END_TEST

static bool wait(struct sf_dht_sim *s, struct probe *p)
{
    return sf_dht_sim_run_flag(s, &p->done, s->now + 600000);
}

static struct probe *get(struct sf_dht_sim *s, long from, const struct sf_dht_id *key)
{
    struct probe *p = calloc(1, sizeof *p);
    ck_assert_int_eq(sf_dht_get(s->node[from]->dht, key, on_done, p, s->now), 0);
    sf_dht_sim_poke(s, (size_t)from);
    ck_assert(wait(s, p));
    return p;
}

static void put(struct sf_dht_sim *s, long from, const struct sf_dht_id *key, uint64_t seq,
                const char *text, uint32_t ttl)
{
    struct probe *p = calloc(1, sizeof *p);
    ck_assert_int_eq(sf_dht_put(s->node[from]->dht, key, seq, text, strlen(text), ttl, on_done, p,
                                s->now),
                     0);
    sf_dht_sim_poke(s, (size_t)from);
    ck_assert(wait(s, p));
    ck_assert_int_eq(p->status, 0);
    ck_assert_uint_ge(p->n, (size_t)s->cfg.dht.k - 1);
    free(p);
}

START_TEST(test_sim_values)
{
    size_t n = sim_nodes();
    struct sf_dht_sim *s = build(n, 4004);
    /* One record per key: stored by one node, found by others. */
    enum { KEYS = 40 };
    struct sf_dht_id keys[KEYS];
    long pub[KEYS];
    char text[64];
    for (int i = 0; i < KEYS; i++) {
        sf_dht_sim_random_id(s, &keys[i]);
        pub[i] = random_live(s);
        snprintf(text, sizeof text, "record %d", i);
        put(s, pub[i], &keys[i], 1, text, 300000);
    }
    for (int i = 0; i < KEYS; i++) {
        struct probe *p = get(s, random_live(s), &keys[i]);
        snprintf(text, sizeof text, "record %d", i);
        ck_assert_uint_eq(p->nv, 1);
        ck_assert_mem_eq(p->v[0].pub.b, s->node[pub[i]]->id.b, SF_DHT_ID_LEN);
        ck_assert_uint_eq(p->v[0].len, strlen(text));
        ck_assert_mem_eq(p->v[0].data, text, strlen(text));
        free(p);
    }
    /* A directory key: many publishers, more records than one datagram. */
    enum { PUBS = 60 };
    struct sf_dht_id dir;
    sf_dht_sim_random_id(s, &dir);
    long who[PUBS];
    for (int i = 0; i < PUBS; i++) {
        bool dup;
        do {
            who[i] = random_live(s);
            dup = false;
            for (int j = 0; j < i; j++) {
                dup |= who[j] == who[i];
            }
        } while (dup);
        snprintf(text, sizeof text, "node %ld addr 10.0.%ld.%ld slots 64 load 0.%02d", who[i],
                 who[i] / 256, who[i] % 256, i);
        put(s, who[i], &dir, 1, text, 300000);
    }
    struct probe *p = get(s, random_live(s), &dir);
    ck_assert_uint_eq(p->nv, PUBS);
    free(p);
    /* Same publisher, newer sequence number: replaces, does not add. */
    for (int i = 0; i < 10; i++) {
        snprintf(text, sizeof text, "node %ld moved", who[i]);
        put(s, who[i], &dir, 2, text, 300000);
    }
    p = get(s, random_live(s), &dir);
    ck_assert_uint_eq(p->nv, PUBS);
    int newer = 0;
    for (size_t i = 0; i < p->nv; i++) {
        if (p->v[i].seq == 2) {
            newer++;
            ck_assert(memmem(p->v[i].data, p->v[i].len, "moved", 5) != NULL);
        }
    }
    ck_assert_int_eq(newer, 10);
    free(p);
    /* An older sequence number is refused by the holders. */
    struct probe *q = calloc(1, sizeof *q);
    sf_dht_put(s->node[who[0]]->dht, &dir, 1, "stale", 5, 300000, on_done, q, s->now);
    sf_dht_sim_poke(s, (size_t)who[0]);
    ck_assert(wait(s, q));
    ck_assert_uint_eq(q->n, 0);
    free(q);
    sf_dht_sim_destroy(s);
}
END_TEST

START_TEST(test_sim_value_expiry)
{
    size_t n = sim_nodes();
    struct sf_dht_sim *s = build(n, 5005);
    struct sf_dht_id k1, k2, k3;
    sf_dht_sim_random_id(s, &k1);
    sf_dht_sim_random_id(s, &k2);
    sf_dht_sim_random_id(s, &k3);
    long a = random_live(s), b = random_live(s), c = random_live(s);
    while (b == a) {
        b = random_live(s);
    }
    while (c == a || c == b) {
        c = random_live(s);
    }
    uint64_t t0 = s->now;
    /* k1: stored once, then no republish: gone after its TTL. */
    put(s, a, &k1, 1, "once", 20000);
    sf_dht_unput(s->node[a]->dht, &k1);
    /* k2: its publisher crashes: survives until the TTL, then gone. */
    put(s, b, &k2, 1, "orphan", 30000);
    sf_dht_sim_kill(s, (size_t)b);
    /* k3: publisher alive and republishing: outlives its TTL many times. */
    put(s, c, &k3, 1, "kept", 20000);

    sf_dht_sim_run_until(s, t0 + 10000);
    struct probe *p = get(s, random_live(s), &k1);
    ck_assert_uint_eq(p->nv, 1);
    free(p);
    sf_dht_sim_run_until(s, t0 + 20000);
    p = get(s, random_live(s), &k2);
    ck_assert_uint_eq(p->nv, 1);
    ck_assert_mem_eq(p->v[0].data, "orphan", 6);
    free(p);
    sf_dht_sim_run_until(s, t0 + 23000);
    p = get(s, random_live(s), &k1);
    ck_assert_uint_eq(p->nv, 0);
    free(p);
    sf_dht_sim_run_until(s, t0 + 33000);
    p = get(s, random_live(s), &k2);
    ck_assert_uint_eq(p->nv, 0);
    free(p);
    sf_dht_sim_run_until(s, t0 + 90000);
    p = get(s, random_live(s), &k3);
    ck_assert_uint_eq(p->nv, 1);
    ck_assert_mem_eq(p->v[0].data, "kept", 4);
    free(p);
    /* Expired records are gone from every holder, not just unreturned. */
    uint64_t held = 0, expired = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (s->node[i]->dht != NULL) {
            struct sf_dht_stats st;
            sf_dht_get_stats(s->node[i]->dht, &st);
            held += st.values_held;
            expired += st.values_expired;
        }
    }
    printf("dht sim: records held after expiry %lu (k3's holders only), expired %lu\n",
           (unsigned long)held, (unsigned long)expired);
    ck_assert_uint_ge(expired, (uint64_t)s->cfg.dht.k);
    ck_assert_uint_le(held, 2 * (uint64_t)s->cfg.dht.k);
    sf_dht_sim_destroy(s);
}
END_TEST

/* Holders pass on records nobody re-stores: with the publisher gone, the
 * record moves to the new closest nodes as the old holders die, and still
 * expires on the publisher's schedule. */
START_TEST(test_sim_replication)
{
    size_t n = sim_nodes();
    struct sf_dht_sim *s = build(n, 8008);
    struct sf_dht_id key;
    sf_dht_sim_random_id(s, &key);
    long pub = random_live(s);
    uint64_t t0 = s->now;
    put(s, pub, &key, 1, "replicated", 300000);
    sf_dht_sim_kill(s, (size_t)pub);
    /* Half of the original holders crash early ... */
    size_t k = (size_t)s->cfg.dht.k, holders[64];
    ck_assert_uint_eq(sf_dht_sim_closest(s, &key, -1, k, holders), k);
    for (size_t i = 0; i < k / 2; i++) {
        sf_dht_sim_kill(s, holders[i]);
    }
    /* ... the survivors replicate (every replicate_ms, once the record has
     * gone that long without a STORE), then crash too. */
    sf_dht_sim_run_until(s, t0 + 130000);
    for (size_t i = k / 2; i < k; i++) {
        sf_dht_sim_kill(s, holders[i]);
    }
    sf_dht_sim_run_until(s, t0 + 140000);
    struct probe *p = get(s, random_live(s), &key);
    ck_assert_uint_eq(p->nv, 1);
    ck_assert_mem_eq(p->v[0].data, "replicated", 10);
    ck_assert_uint_le(p->v[0].ttl_ms, 300000 - 140000 + 1000);
    free(p);
    /* Replication never extends the TTL: gone after 300 s. */
    sf_dht_sim_run_until(s, t0 + 303000);
    p = get(s, random_live(s), &key);
    ck_assert_uint_eq(p->nv, 0);
    free(p);
    sf_dht_sim_destroy(s);
}
END_TEST

/* A cluster key through the sign/verify hooks: members talk, an outsider
 * with another key is dropped (counted) and never gets in. */
static int key_sign(void *ctx, uint8_t *pkt, size_t len, uint8_t key)
{
    uint32_t c = sf_dht__crc32c(pkt, len, 28);
    memset(pkt + SF_DHT_MAC_OFF, key, SF_DHT_MAC_LEN);
    memcpy(pkt + SF_DHT_MAC_OFF, &c, 4);
    return 0;
}
static int key_verify(const uint8_t *pkt, size_t len, const uint8_t *mac, uint8_t key)
{
    uint32_t c = sf_dht__crc32c(pkt, len, 28);
    return memcmp(mac, &c, 4) == 0 && mac[SF_DHT_MAC_LEN - 1] == key ? 0 : -EPERM;
}
static int sign_a(void *ctx, uint8_t *pkt, size_t len)
{
    return key_sign(ctx, pkt, len, 0xa5);
}
static int verify_a(void *ctx, const uint8_t *pkt, size_t len, const uint8_t *mac)
{
    return key_verify(pkt, len, mac, 0xa5);
}

START_TEST(test_sim_auth_hooks)
{
    struct sf_dht_sim_config sc = {.seed = 6006, .lat_min_ms = 1, .lat_max_ms = 10,
                                   .sign = sign_a, .verify = verify_a};
    sf_dht_config_default(&sc.dht);
    struct sf_dht_sim *s;
    ck_assert_int_eq(sf_dht_sim_create(&sc, &s), 0);
    for (int i = 0; i < 60; i++) {
        sf_dht_sim_add(s, i == 0 ? -1 : (long)(sf_dht_sim_rand(s) % (uint64_t)i));
        sf_dht_sim_run_until(s, s->now + 20);
    }
    /* The outsider: no signing hook, so its packets carry a zero MAC. */
    s->cfg.sign = NULL;
    long out = sf_dht_sim_add(s, 0);
    sf_dht_sim_run_until(s, s->now + 30000);
    struct sf_dht_contact tmp[4];
    ck_assert_uint_eq(sf_dht_contacts(s->node[out]->dht, tmp, 4), 0);
    struct sf_dht_stats st;
    sf_dht_get_stats(s->node[0]->dht, &st);
    ck_assert_uint_gt(st.dropped[SF_DHT_DROP_AUTH], 0);
    sf_dht_sim_kill(s, (size_t)out);
    struct lookup_stats ls = lookups(s, 50);
    ck_assert_uint_eq(ls.exact, ls.count);
    sf_dht_sim_destroy(s);
}
END_TEST

/* ------------------------------------------------------------------- UDP */

struct udp_wait {
    struct sf_loop *loop;
    bool done, expired;
    struct probe p;
};

static void udp_done(struct sf_dht *dht, const struct sf_dht_result *r, void *arg)
{
    struct udp_wait *w = arg;
    on_done(dht, r, &w->p);
    w->done = true;
    sf_loop_stop(w->loop);
}

static void udp_deadline(struct sf_loop *loop, void *arg)
{
    struct udp_wait *w = arg;
    w->expired = true; /* failure path: the assertions below report it */
    sf_loop_stop(loop);
}

START_TEST(test_udp_loopback)
{
    struct sf_loop *loop;
    ck_assert_int_eq(sf_loop_create(&loop), 0);
    struct sf_dht_config ca, cb;
    sf_dht_config_default(&ca);
    cb = ca;
    memset(ca.id.b, 0xaa, SF_DHT_ID_LEN);
    memset(cb.id.b, 0x55, SF_DHT_ID_LEN);
    struct sf_dht_udp *a, *b;
    int rc = sf_dht_udp_open(loop, "127.0.0.1:0", &ca, NULL, NULL, &a);
    if (rc == -EAFNOSUPPORT || rc == -EPERM || rc == -EADDRNOTAVAIL) {
        fprintf(stderr, "test_udp_loopback: skipped, no IPv4 loopback here (%s)\n",
                strerror(-rc));
        sf_loop_destroy(loop);
        return;
    }
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(sf_dht_udp_open(loop, "127.0.0.1:0", &cb, NULL, NULL, &b), 0);
    struct sf_dht_addr aa;
    ck_assert_int_eq(sf_dht_udp_local(a, &aa), 0);
    ck_assert_uint_eq(aa.len, 6);
    char txt[64];
    ck_assert(strncmp(sf_dht_udp_addr_str(&aa, txt, sizeof txt), "127.0.0.1:", 10) == 0);
    struct sf_dht_addr parsed;
    ck_assert_int_eq(sf_dht_udp_addr_parse(txt, &parsed), 0);
    ck_assert_mem_eq(parsed.b, aa.b, 6);
    ck_assert_int_eq(sf_dht_udp_addr_parse("[::1]:7", &parsed), 0);
    ck_assert_uint_eq(parsed.len, 18);
    ck_assert_int_eq(sf_dht_udp_addr_parse("nohost", &parsed), -EINVAL);

    /* b knows a (joining is covered by the simulations). */
    struct sf_dht_contact ac = {ca.id, aa};
    ck_assert_int_eq(sf_dht_add_contact(sf_dht_udp_dht(b), &ac, sf_now_ms()), 0);
    struct udp_wait w = {.loop = loop};
    struct sf_timer *t;
    sf_loop_timer(loop, 20000, udp_deadline, &w, &t);
    struct sf_dht_id key;
    memset(key.b, 0x33, SF_DHT_ID_LEN);
    ck_assert_int_eq(sf_dht_put(sf_dht_udp_dht(b), &key, 1, "hello", 5, 60000, udp_done, &w,
                                sf_now_ms()),
                     0);
    sf_dht_udp_kick(b);
    sf_loop_run(loop);
    ck_assert(w.done);
    ck_assert_uint_eq(w.p.n, 1);
    ck_assert_mem_eq(w.p.nodes[0].id.b, ca.id.b, SF_DHT_ID_LEN);
    w.done = false;
    ck_assert_int_eq(sf_dht_get(sf_dht_udp_dht(a), &key, udp_done, &w, sf_now_ms()), 0);
    sf_dht_udp_kick(a);
    sf_loop_run(loop);
    ck_assert(w.done);
    ck_assert_uint_eq(w.p.nv, 1);
    ck_assert_mem_eq(w.p.v[0].data, "hello", 5);
    ck_assert(!w.expired);
    sf_loop_timer_cancel(loop, t);
    sf_dht_udp_close(a);
    sf_dht_udp_close(b);
    sf_loop_destroy(loop);
}
END_TEST

static Suite *dht_suite(void)
{
    Suite *s = suite_create("dht");
    TCase *u = tcase_create("unit");
    tcase_set_timeout(u, 120);
    tcase_add_test(u, test_xor_distance);
    tcase_add_test(u, test_crc_known_value);
    tcase_add_test(u, test_bucket_split_order);
    tcase_add_test(u, test_closest_brute_force);
    tcase_add_test(u, test_eviction);
    tcase_add_test(u, test_bye);
    tcase_add_test(u, test_packet_round_trip);
    tcase_add_test(u, test_malformed_rejected);
    tcase_add_test(u, test_config);
    tcase_add_test(u, test_store_rules);
    tcase_add_test(u, test_alone);
    suite_add_tcase(s, u);
    TCase *sim = tcase_create("sim");
    tcase_set_timeout(sim, 600);
    tcase_add_test(sim, test_sim_lookups_exact);
    tcase_add_test(sim, test_sim_hops_grow_log);
    tcase_add_test(sim, test_sim_churn_converges);
    tcase_add_test(sim, test_sim_steady_churn);
    tcase_add_test(sim, test_sim_values);
    tcase_add_test(sim, test_sim_value_expiry);
    tcase_add_test(sim, test_sim_replication);
    tcase_add_test(sim, test_sim_auth_hooks);
    suite_add_tcase(s, sim);
    TCase *udp = tcase_create("udp");
    tcase_set_timeout(udp, 60);
    tcase_add_test(udp, test_udp_loopback);
    suite_add_tcase(s, udp);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(dht_suite());
    srunner_set_fork_status(sr, CK_FORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
