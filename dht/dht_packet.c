/* DHT packet codec: the only code that reads or writes DHT datagrams. Pure
 * functions (no handle, no state): decode validates the whole packet before
 * the caller acts on any of it. Any thread.
 *
 * Every packet, big-endian:
 *
 *   off  len  field
 *   0    1    version (1)
 *   1    1    type: 1 PING 2 PONG 3 FIND_NODE 4 NODES 5 FIND_VALUE 6 VALUES
 *                   7 STORE 8 STORE_ACK 9 BYE (requests odd, reply = +1)
 *   2    2    total length in bytes (header + body) = datagram size
 *   4    4    transaction id (a reply echoes its request's)
 *   8    20   sender node id
 *   28   4    CRC32C of the whole packet with this field zero
 *   32   32   MAC for the cluster key (sign/verify hooks; zero without them),
 *             computed with this field and the CRC zero
 *   64        body, by type:
 *
 *   PING       (empty)
 *   PONG       addr                       the requester's address as seen
 *   FIND_NODE  target[20]
 *   NODES      n[1] contact*n             n <= 64
 *   FIND_VALUE key[20] flags[1] cursor[20] flags: 1 cursor valid (return
 *                                          publishers > cursor), 2 values only
 *   VALUES     flags[1] n[1] contact*n m[1] value*m   flags: 1 more values
 *   STORE      key[20] value
 *   STORE_ACK  status[1]                  0 stored, 1 stale seq, 2 full
 *   BYE        (empty)
 *
 *   addr    = len[1] (1..18) bytes[len]
 *   contact = id[20] addr
 *   value   = publisher[20] seq[8] ttl_ms[4] len[2] (<= 512) data[len]
 *
 * No trailing bytes are allowed; lengths never exceed SF_DHT_PKT_MAX. */
#include <errno.h>
#include <string.h>

#include "dht/dht_int.h"

static const uint32_t crc_tab[256] = {
    0x00000000, 0xf26b8303, 0xe13b70f7, 0x1350f3f4, 0xc79a971f, 0x35f1141c,
    0x26a1e7e8, 0xd4ca64eb, 0x8ad958cf, 0x78b2dbcc, 0x6be22838, 0x9989ab3b,
    0x4d43cfd0, 0xbf284cd3, 0xac78bf27, 0x5e133c24, 0x105ec76f, 0xe235446c,
    0xf165b798, 0x030e349b, 0xd7c45070, 0x25afd373, 0x36ff2087, 0xc494a384,
    0x9a879fa0, 0x68ec1ca3, 0x7bbcef57, 0x89d76c54, 0x5d1d08bf, 0xaf768bbc,
    0xbc267848, 0x4e4dfb4b, 0x20bd8ede, 0xd2d60ddd, 0xc186fe29, 0x33ed7d2a,
    0xe72719c1, 0x154c9ac2, 0x061c6936, 0xf477ea35, 0xaa64d611, 0x580f5512,
    0x4b5fa6e6, 0xb93425e5, 0x6dfe410e, 0x9f95c20d, 0x8cc531f9, 0x7eaeb2fa,
    0x30e349b1, 0xc288cab2, 0xd1d83946, 0x23b3ba45, 0xf779deae, 0x05125dad,
    0x1642ae59, 0xe4292d5a, 0xba3a117e, 0x4851927d, 0x5b016189, 0xa96ae28a,
    0x7da08661, 0x8fcb0562, 0x9c9bf696, 0x6ef07595, 0x417b1dbc, 0xb3109ebf,
    0xa0406d4b, 0x522bee48, 0x86e18aa3, 0x748a09a0, 0x67dafa54, 0x95b17957,
    0xcba24573, 0x39c9c670, 0x2a993584, 0xd8f2b687, 0x0c38d26c, 0xfe53516f,
    0xed03a29b, 0x1f682198, 0x5125dad3, 0xa34e59d0, 0xb01eaa24, 0x42752927,
    0x96bf4dcc, 0x64d4cecf, 0x77843d3b, 0x85efbe38, 0xdbfc821c, 0x2997011f,
    0x3ac7f2eb, 0xc8ac71e8, 0x1c661503, 0xee0d9600, 0xfd5d65f4, 0x0f36e6f7,
    0x61c69362, 0x93ad1061, 0x80fde395, 0x72966096, 0xa65c047d, 0x5437877e,
    0x4767748a, 0xb50cf789, 0xeb1fcbad, 0x197448ae, 0x0a24bb5a, 0xf84f3859,
    0x2c855cb2, 0xdeeedfb1, 0xcdbe2c45, 0x3fd5af46, 0x7198540d, 0x83f3d70e,
    0x90a324fa, 0x62c8a7f9, 0xb602c312, 0x44694011, 0x5739b3e5, 0xa55230e6,
    0xfb410cc2, 0x092a8fc1, 0x1a7a7c35, 0xe811ff36, 0x3cdb9bdd, 0xceb018de,
    0xdde0eb2a, 0x2f8b6829, 0x82f63b78, 0x709db87b, 0x63cd4b8f, 0x91a6c88c,
    0x456cac67, 0xb7072f64, 0xa457dc90, 0x563c5f93, 0x082f63b7, 0xfa44e0b4,
    0xe9141340, 0x1b7f9043, 0xcfb5f4a8, 0x3dde77ab, 0x2e8e845f, 0xdce5075c,
    0x92a8fc17, 0x60c37f14, 0x73938ce0, 0x81f80fe3, 0x55326b08, 0xa759e80b,
    0xb4091bff, 0x466298fc, 0x1871a4d8, 0xea1a27db, 0xf94ad42f, 0x0b21572c,
    0xdfeb33c7, 0x2d80b0c4, 0x3ed04330, 0xccbbc033, 0xa24bb5a6, 0x502036a5,
    0x4370c551, 0xb11b4652, 0x65d122b9, 0x97baa1ba, 0x84ea524e, 0x7681d14d,
    0x2892ed69, 0xdaf96e6a, 0xc9a99d9e, 0x3bc21e9d, 0xef087a76, 0x1d63f975,
    0x0e330a81, 0xfc588982, 0xb21572c9, 0x407ef1ca, 0x532e023e, 0xa145813d,
    0x758fe5d6, 0x87e466d5, 0x94b49521, 0x66df1622, 0x38cc2a06, 0xcaa7a905,
    0xd9f75af1, 0x2b9cd9f2, 0xff56bd19, 0x0d3d3e1a, 0x1e6dcdee, 0xec064eed,
    0xc38d26c4, 0x31e6a5c7, 0x22b65633, 0xd0ddd530, 0x0417b1db, 0xf67c32d8,
    0xe52cc12c, 0x1747422f, 0x49547e0b, 0xbb3ffd08, 0xa86f0efc, 0x5a048dff,
    0x8ecee914, 0x7ca56a17, 0x6ff599e3, 0x9d9e1ae0, 0xd3d3e1ab, 0x21b862a8,
    0x32e8915c, 0xc083125f, 0x144976b4, 0xe622f5b7, 0xf5720643, 0x07198540,
    0x590ab964, 0xab613a67, 0xb831c993, 0x4a5a4a90, 0x9e902e7b, 0x6cfbad78,
    0x7fab5e8c, 0x8dc0dd8f, 0xe330a81a, 0x115b2b19, 0x020bd8ed, 0xf0605bee,
    0x24aa3f05, 0xd6c1bc06, 0xc5914ff2, 0x37faccf1, 0x69e9f0d5, 0x9b8273d6,
    0x88d28022, 0x7ab90321, 0xae7367ca, 0x5c18e4c9, 0x4f48173d, 0xbd23943e,
    0xf36e6f75, 0x0105ec76, 0x12551f82, 0xe03e9c81, 0x34f4f86a, 0xc69f7b69,
    0xd5cf889d, 0x27a40b9e, 0x79b737ba, 0x8bdcb4b9, 0x988c474d, 0x6ae7c44e,
    0xbe2da0a5, 0x4c4623a6, 0x5f16d052, 0xad7d5351,
};

static uint32_t crc_update(uint32_t c, const uint8_t *p, size_t n)
{
    while (n--) {
        c = crc_tab[(c ^ *p++) & 0xff] ^ (c >> 8);
    }
    return c;
}

#if defined(__x86_64__)
/* The SSE4.2 crc32 instruction computes the same CRC32C, 8 bytes a step. */
__attribute__((target("sse4.2"))) static uint32_t crc_update_hw(uint32_t c, const uint8_t *p,
                                                                size_t n)
{
    uint64_t c64 = c;
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c64 = __builtin_ia32_crc32di(c64, v);
        p += 8;
        n -= 8;
    }
    c = (uint32_t)c64;
    while (n--) {
        c = __builtin_ia32_crc32qi(c, *p++);
    }
    return c;
}
#endif

/* CRC32C of buf with the 4 bytes at skip_off read as zero. */
uint32_t sf_dht__crc32c(const uint8_t *buf, size_t len, size_t skip_off)
{
    static const uint8_t zero[4];
    uint32_t (*upd)(uint32_t, const uint8_t *, size_t) = crc_update;
#if defined(__x86_64__)
    if (__builtin_cpu_supports("sse4.2")) {
        upd = crc_update_hw;
    }
#endif
    uint32_t c = 0xffffffffu;
    c = upd(c, buf, skip_off);
    c = upd(c, zero, 4);
    c = upd(c, buf + skip_off + 4, len - skip_off - 4);
    return c ^ 0xffffffffu;
}

/* Bounded writer and reader: a short buffer sets a flag instead of
 * overrunning, checked once at the end. */
struct wr {
    uint8_t *p;
    size_t len, cap;
    bool bad;
};

static void w_bytes(struct wr *w, const void *src, size_t n)
{
    if (w->bad || w->cap - w->len < n) {
        w->bad = true;
        return;
    }
    memcpy(w->p + w->len, src, n);
    w->len += n;
}

static void w_u8(struct wr *w, uint8_t v)
{
    w_bytes(w, &v, 1);
}

static void w_be(struct wr *w, uint64_t v, int n)
{
    uint8_t b[8];
    for (int i = 0; i < n; i++) {
        b[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    }
    w_bytes(w, b, (size_t)n);
}

static void w_addr(struct wr *w, const struct sf_dht_addr *a)
{
    if (a->len == 0 || a->len > SF_DHT_ADDR_MAX) {
        w->bad = true;
        return;
    }
    w_u8(w, a->len);
    w_bytes(w, a->b, a->len);
}

static void w_contacts(struct wr *w, const struct sf_dht_contact *c, size_t n)
{
    w_u8(w, (uint8_t)n);
    for (size_t i = 0; i < n; i++) {
        w_bytes(w, c[i].id.b, SF_DHT_ID_LEN);
        w_addr(w, &c[i].addr);
    }
}

static void w_value(struct wr *w, const struct sf_dht_value *v)
{
    if (v->len > SF_DHT_VALUE_MAX) {
        w->bad = true;
        return;
    }
    w_bytes(w, v->publisher.b, SF_DHT_ID_LEN);
    w_be(w, v->seq, 8);
    w_be(w, v->ttl_ms, 4);
    w_be(w, v->len, 2);
    w_bytes(w, v->data, v->len);
}

size_t sf_dht__value_wire_len(size_t data_len)
{
    return SF_DHT_ID_LEN + 8 + 4 + 2 + data_len;
}

size_t sf_dht__values_room(const struct sf_dht__msg *m)
{
    size_t used = SF_DHT__HDR_LEN + 3;
    for (size_t i = 0; i < m->n_nodes; i++) {
        used += SF_DHT_ID_LEN + 1 + m->nodes[i].addr.len;
    }
    return used >= SF_DHT_PKT_MAX ? 0 : SF_DHT_PKT_MAX - used;
}

int sf_dht__encode(const struct sf_dht__msg *m, uint8_t *buf, size_t cap)
{
    if (cap > SF_DHT_PKT_MAX) {
        cap = SF_DHT_PKT_MAX;
    }
    if (m->n_nodes > SF_DHT__MSG_NODES_MAX || m->n_values > SF_DHT__MSG_VALUES_MAX) {
        return -EINVAL;
    }
    struct wr w = {buf, 0, cap, false};
    uint8_t zero[SF_DHT_MAC_LEN] = {0};
    w_u8(&w, SF_DHT__VERSION);
    w_u8(&w, m->type);
    w_be(&w, 0, 2); /* length, patched below */
    w_be(&w, m->tid, 4);
    w_bytes(&w, m->sender.b, SF_DHT_ID_LEN);
    w_be(&w, 0, 4);
    w_bytes(&w, zero, SF_DHT_MAC_LEN);
    switch (m->type) {
    case SF_DHT__PING:
    case SF_DHT__BYE:
        break;
    case SF_DHT__PONG:
        w_addr(&w, &m->addr);
        break;
    case SF_DHT__FIND_NODE:
        w_bytes(&w, m->target.b, SF_DHT_ID_LEN);
        break;
    case SF_DHT__NODES:
        w_contacts(&w, m->nodes, m->n_nodes);
        break;
    case SF_DHT__FIND_VALUE:
        w_bytes(&w, m->target.b, SF_DHT_ID_LEN);
        w_u8(&w, m->flags);
        w_bytes(&w, m->cursor.b, SF_DHT_ID_LEN);
        break;
    case SF_DHT__VALUES:
        w_u8(&w, m->flags);
        w_contacts(&w, m->nodes, m->n_nodes);
        w_u8(&w, (uint8_t)m->n_values);
        for (size_t i = 0; i < m->n_values; i++) {
            w_value(&w, &m->values[i]);
        }
        break;
    case SF_DHT__STORE:
        w_bytes(&w, m->target.b, SF_DHT_ID_LEN);
        w_value(&w, &m->values[0]);
        break;
    case SF_DHT__STORE_ACK:
        w_u8(&w, m->flags);
        break;
    default:
        return -EINVAL;
    }
    if (w.bad) {
        return -EMSGSIZE;
    }
    buf[2] = (uint8_t)(w.len >> 8);
    buf[3] = (uint8_t)w.len;
    return (int)w.len;
}

void sf_dht__seal(uint8_t *buf, size_t len)
{
    uint32_t c = sf_dht__crc32c(buf, len, 28);
    buf[28] = (uint8_t)(c >> 24);
    buf[29] = (uint8_t)(c >> 16);
    buf[30] = (uint8_t)(c >> 8);
    buf[31] = (uint8_t)c;
}

struct rd {
    const uint8_t *p;
    size_t off, len;
    int err; /* first error, as a drop reason + 1 */
};

static const uint8_t *r_bytes(struct rd *r, size_t n)
{
    if (r->err || r->len - r->off < n) {
        if (!r->err) {
            r->err = SF_DHT_DROP_BODY + 1;
        }
        return NULL;
    }
    const uint8_t *p = r->p + r->off;
    r->off += n;
    return p;
}

static uint64_t r_be(struct rd *r, int n)
{
    const uint8_t *p = r_bytes(r, (size_t)n);
    uint64_t v = 0;
    for (int i = 0; p != NULL && i < n; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

static void r_id(struct rd *r, struct sf_dht_id *id)
{
    const uint8_t *p = r_bytes(r, SF_DHT_ID_LEN);
    if (p != NULL) {
        memcpy(id->b, p, SF_DHT_ID_LEN);
    }
}

static void r_addr(struct rd *r, struct sf_dht_addr *a)
{
    uint8_t n = (uint8_t)r_be(r, 1);
    if (r->err) {
        return;
    }
    if (n == 0 || n > SF_DHT_ADDR_MAX) {
        r->err = SF_DHT_DROP_ADDR + 1;
        return;
    }
    const uint8_t *p = r_bytes(r, n);
    if (p != NULL) {
        a->len = n;
        memcpy(a->b, p, n);
    }
}

static void r_contacts(struct rd *r, struct sf_dht__msg *m)
{
    size_t n = (size_t)r_be(r, 1);
    if (n > SF_DHT__MSG_NODES_MAX) {
        if (!r->err) {
            r->err = SF_DHT_DROP_BODY + 1;
        }
        return;
    }
    for (size_t i = 0; i < n && !r->err; i++) {
        r_id(r, &m->nodes[i].id);
        r_addr(r, &m->nodes[i].addr);
    }
    m->n_nodes = r->err ? 0 : n;
}

static void r_value(struct rd *r, struct sf_dht_value *v)
{
    r_id(r, &v->publisher);
    v->seq = r_be(r, 8);
    v->ttl_ms = (uint32_t)r_be(r, 4);
    v->len = (size_t)r_be(r, 2);
    if (r->err) {
        return;
    }
    if (v->len > SF_DHT_VALUE_MAX) {
        r->err = SF_DHT_DROP_VALUE + 1;
        return;
    }
    v->data = r_bytes(r, v->len);
}

int sf_dht__decode(const uint8_t *buf, size_t len, struct sf_dht__msg *m)
{
    m->n_nodes = 0;
    m->n_values = 0;
    m->flags = 0;
    if (len < SF_DHT__HDR_LEN) {
        return -(1 + SF_DHT_DROP_SHORT);
    }
    if (buf[0] != SF_DHT__VERSION) {
        return -(1 + SF_DHT_DROP_VERSION);
    }
    if (buf[1] == 0 || buf[1] >= SF_DHT__TYPE_MAX) {
        return -(1 + SF_DHT_DROP_TYPE);
    }
    if (((size_t)buf[2] << 8 | buf[3]) != len || len > SF_DHT_PKT_MAX) {
        return -(1 + SF_DHT_DROP_LENGTH);
    }
    uint32_t crc = (uint32_t)buf[28] << 24 | (uint32_t)buf[29] << 16 | (uint32_t)buf[30] << 8 |
                   buf[31];
    if (crc != sf_dht__crc32c(buf, len, 28)) {
        return -(1 + SF_DHT_DROP_CHECKSUM);
    }
    struct rd r = {buf, 4, len, 0};
    m->type = buf[1];
    m->tid = (uint32_t)r_be(&r, 4);
    r_id(&r, &m->sender);
    r.off = SF_DHT__HDR_LEN;
    switch (m->type) {
    case SF_DHT__PING:
    case SF_DHT__BYE:
        break;
    case SF_DHT__PONG:
        r_addr(&r, &m->addr);
        break;
    case SF_DHT__FIND_NODE:
        r_id(&r, &m->target);
        break;
    case SF_DHT__NODES:
        r_contacts(&r, m);
        break;
    case SF_DHT__FIND_VALUE:
        r_id(&r, &m->target);
        m->flags = (uint8_t)r_be(&r, 1);
        r_id(&r, &m->cursor);
        if (!r.err && (m->flags & ~(SF_DHT__FV_CURSOR | SF_DHT__FV_VALUES_ONLY))) {
            r.err = SF_DHT_DROP_BODY + 1;
        }
        break;
    case SF_DHT__VALUES: {
        m->flags = (uint8_t)r_be(&r, 1);
        if (!r.err && (m->flags & ~SF_DHT__VAL_MORE)) {
            r.err = SF_DHT_DROP_BODY + 1;
        }
        r_contacts(&r, m);
        size_t n = (size_t)r_be(&r, 1);
        if (!r.err && n > SF_DHT__MSG_VALUES_MAX) {
            r.err = SF_DHT_DROP_BODY + 1;
        }
        for (size_t i = 0; i < n && !r.err; i++) {
            r_value(&r, &m->values[i]);
        }
        m->n_values = r.err ? 0 : n;
        break;
    }
    case SF_DHT__STORE:
        r_id(&r, &m->target);
        r_value(&r, &m->values[0]);
        m->n_values = r.err ? 0 : 1;
        break;
    case SF_DHT__STORE_ACK:
        m->flags = (uint8_t)r_be(&r, 1);
        if (!r.err && m->flags > SF_DHT__ACK_FULL) {
            r.err = SF_DHT_DROP_BODY + 1;
        }
        break;
    }
    if (!r.err && r.off != len) {
        r.err = SF_DHT_DROP_BODY + 1; /* trailing bytes */
    }
    if (r.err) {
        m->n_nodes = 0;
        m->n_values = 0;
        return -r.err;
    }
    return 0;
}
