/* What daemons tell each other outside the control connections: the node
 * record each daemon publishes in the DHT, and the LAN discovery beacon.
 * Pure codecs (no sockets, no daemon state): both decoders take bytes
 * from the network and validate every field before anything is used, and
 * both have a fuzz target (tests/fuzz/fuzz_sfd_record.c). Any thread.
 *
 * Record (text, <= SF_DHT_VALUE_MAX bytes, one line):
 *   "sfnode1 id=HEX16 inc=HEX16 name=NAME host=ADDR port=P slots=N
 *    ranks=N load=N version=V"   (load: 1-minute load average x 100)
 * Beacon (binary, SFD_BEACON_LEN bytes, big-endian):
 *   "SFB1" | node id u64 | incarnation u64 | control port u16 |
 *   MAC (crypto_auth with the cluster key over the 22 bytes before it)
 *   The sender's address is the datagram's source address. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "launcher/sfd/sfd_int.h"
#include "runtime/base/sf_err.h"

#define RECORD_MAGIC "sfnode1"
#define BEACON_MAGIC "SFB1"
#define BEACON_BODY 22

int sf_sfd__record_format(const struct sf_sfd_record *r, char *out, size_t cap)
{
    int n = snprintf(out, cap,
                     RECORD_MAGIC " id=%016" PRIx64 " inc=%016" PRIx64
                                  " name=%s host=%s port=%u slots=%d ranks=%d load=%u version=%s",
                     r->id, r->inc, r->name, r->host, r->port, r->slots, r->ranks, r->load,
                     r->version);
    return n < 0 || (size_t)n >= cap ? -ENOSPC : n;
}

/* A token's value: printable ASCII without spaces or '=', 1..max-1 bytes. */
static bool value_ok(const char *v, size_t len, size_t max)
{
    if (len == 0 || len >= max) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (v[i] <= ' ' || v[i] > '~' || v[i] == '=') {
            return false;
        }
    }
    return true;
}

static bool parse_u64(const char *v, size_t len, int base, uint64_t max, uint64_t *out)
{
    if (len == 0 || len > 20) {
        return false;
    }
    uint64_t x = 0;
    for (size_t i = 0; i < len; i++) {
        int d;
        char c = v[i];
        if (c >= '0' && c <= '9') {
            d = c - '0';
        } else if (base == 16 && c >= 'a' && c <= 'f') {
            d = c - 'a' + 10;
        } else {
            return false;
        }
        if (x > (UINT64_MAX - (uint64_t)d) / (uint64_t)base) {
            return false;
        }
        x = x * (uint64_t)base + (uint64_t)d;
    }
    if (x > max) {
        return false;
    }
    *out = x;
    return true;
}

int sf_sfd__record_parse(const uint8_t *buf, size_t len, struct sf_sfd_record *r)
{
    static const char *const keys[] = {"id",    "inc",   "name", "host",   "port",
                                       "slots", "ranks", "load", "version"};
    enum { K_ID, K_INC, K_NAME, K_HOST, K_PORT, K_SLOTS, K_RANKS, K_LOAD, K_VERSION, K_N };
    memset(r, 0, sizeof(*r));
    size_t ml = strlen(RECORD_MAGIC);
    if (len < ml + 1 || len > SFD_RECORD_MAX || memcmp(buf, RECORD_MAGIC, ml) != 0 ||
        buf[ml] != ' ') {
        return SF_ERR_PROTO;
    }
    const char *p = (const char *)buf + ml + 1, *end = (const char *)buf + len;
    unsigned seen = 0;
    for (int k = 0; k < K_N; k++) {
        /* Fields come in the documented order, each exactly once. */
        size_t kl = strlen(keys[k]);
        if ((size_t)(end - p) < kl + 1 || memcmp(p, keys[k], kl) != 0 || p[kl] != '=') {
            return SF_ERR_PROTO;
        }
        p += kl + 1;
        const char *sp = memchr(p, ' ', (size_t)(end - p));
        const char *ve = sp != NULL ? sp : end;
        size_t vl = (size_t)(ve - p);
        if ((k == K_N - 1) != (sp == NULL)) {
            return SF_ERR_PROTO; /* trailing fields, or a field missing */
        }
        uint64_t x = 0;
        bool ok;
        switch (k) {
        case K_ID:
        case K_INC:
            ok = vl == 16 && parse_u64(p, vl, 16, UINT64_MAX, &x);
            *(k == K_ID ? &r->id : &r->inc) = x;
            break;
        case K_NAME:
            ok = value_ok(p, vl, sizeof(r->name));
            if (ok) {
                memcpy(r->name, p, vl);
            }
            break;
        case K_HOST:
            ok = value_ok(p, vl, sizeof(r->host));
            if (ok) {
                memcpy(r->host, p, vl);
            }
            break;
        case K_PORT:
            ok = parse_u64(p, vl, 10, 65535, &x) && x > 0;
            r->port = (uint16_t)x;
            break;
        case K_SLOTS:
            ok = parse_u64(p, vl, 10, SFD_SLOTS_MAX, &x) && x > 0;
            r->slots = (int)x;
            break;
        case K_RANKS:
            ok = parse_u64(p, vl, 10, SFD_SLOTS_MAX * 64, &x);
            r->ranks = (int)x;
            break;
        case K_LOAD:
            ok = parse_u64(p, vl, 10, UINT32_MAX, &x);
            r->load = (unsigned)x;
            break;
        default:
            ok = value_ok(p, vl, sizeof(r->version));
            if (ok) {
                memcpy(r->version, p, vl);
            }
            break;
        }
        if (!ok) {
            return SF_ERR_PROTO;
        }
        seen |= 1u << k;
        p = sp != NULL ? sp + 1 : end;
    }
    return seen == (1u << K_N) - 1 ? 0 : SF_ERR_PROTO;
}

static void put_be(uint8_t *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static uint64_t get_be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

void sf_sfd__beacon_encode(const uint8_t key[SFD_KEY_LEN], uint64_t id, uint64_t inc,
                           uint16_t port, uint8_t out[SFD_BEACON_LEN])
{
    memcpy(out, BEACON_MAGIC, 4);
    put_be(out + 4, id, 8);
    put_be(out + 12, inc, 8);
    put_be(out + 20, port, 2);
    sf_sfd__auth_sign_buf(key, out, BEACON_BODY, out + BEACON_BODY);
}

int sf_sfd__beacon_decode(const uint8_t key[SFD_KEY_LEN], const uint8_t *buf, size_t len,
                          uint64_t *id, uint64_t *inc, uint16_t *port)
{
    if (len != SFD_BEACON_LEN || memcmp(buf, BEACON_MAGIC, 4) != 0) {
        return SF_ERR_PROTO;
    }
    if (sf_sfd__auth_verify_buf(key, buf, BEACON_BODY, buf + BEACON_BODY) != 0) {
        return -EACCES;
    }
    uint64_t p = get_be(buf + 20, 2);
    if (p == 0) {
        return SF_ERR_PROTO;
    }
    *id = get_be(buf + 4, 8);
    *inc = get_be(buf + 12, 8);
    *port = (uint16_t)p;
    return 0;
}
