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
#include "runtime/base/sf_crc.h"

/* CRC32C of buf with the 4 bytes at skip_off read as zero. */
uint32_t sf_dht__crc32c(const uint8_t *buf, size_t len, size_t skip_off)
{
    static const uint8_t zero[4];
    uint32_t c = sf_crc32c_extend(0, buf, skip_off);
    c = sf_crc32c_extend(c, zero, 4);
    return sf_crc32c_extend(c, buf + skip_off + 4, len - skip_off - 4);
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
