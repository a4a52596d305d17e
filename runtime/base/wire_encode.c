/* Wire encoder: appends fields to a growable frame buffer, checking each
 * field's kind against the op's schema, and seals length and CRC-32C in
 * sf_wire_enc_end. No I/O. One encoder per thread at a time. */
#include "runtime/base/sf_crc.h"
#include "runtime/base/sf_wire.h"

#include "runtime/base/base_int.h"
#include "runtime/base/sf_err.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FRAME ((size_t)SF_WIRE_HDR_LEN + SF_WIRE_MAX_BODY)

static void set16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void set32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void set64(uint8_t *p, uint64_t v)
{
    set32(p, (uint32_t)(v >> 32));
    set32(p + 4, (uint32_t)v);
}

/* Make room for n more bytes; on failure record the error (first wins). */
static uint8_t *grow(struct sf_wire_enc *e, size_t n)
{
    if (e->err != 0) {
        return NULL;
    }
    if (n > MAX_FRAME - e->len) {
        e->err = -EMSGSIZE;
        return NULL;
    }
    if (e->len + n > e->cap) {
        size_t cap = e->cap ? e->cap : 256;
        while (cap < e->len + n) {
            cap *= 2;
        }
        if (cap > MAX_FRAME) {
            cap = MAX_FRAME;
        }
        uint8_t *b = realloc(e->buf, cap);
        if (b == NULL) {
            e->err = -ENOMEM;
            return NULL;
        }
        e->buf = b;
        e->cap = cap;
    }
    uint8_t *p = e->buf + e->len;
    e->len += n;
    return p;
}

/* The next field must have this kind; counts it. */
static int expect(struct sf_wire_enc *e, enum sf_wire_kind kind)
{
    if (e->err != 0) {
        return e->err;
    }
    const struct sf_wire_schema *s = sf_wire_schema(e->op);
    if (s == NULL || e->nfields >= s->nfields || s->kinds[e->nfields] != kind) {
        e->err = SF_ERR_PROTO;
        return e->err;
    }
    e->nfields++;
    return 0;
}

void sf_wire_enc_begin(struct sf_wire_enc *e, uint8_t op, uint32_t seq)
{
    memset(e, 0, sizeof *e);
    e->op = op;
    if (sf_wire_schema(op) == NULL) {
        e->err = SF_ERR_PROTO;
    }
    uint8_t *h = grow(e, SF_WIRE_HDR_LEN);
    if (h == NULL) {
        return;
    }
    set16(h, SF_WIRE_MAGIC);
    h[2] = SF_WIRE_VERSION;
    h[3] = op;
    set32(h + 4, 0);  /* body length: sealed by enc_end */
    set32(h + 8, seq);
    set32(h + 12, 0); /* CRC: sealed by enc_end */
}

void sf_wire_put_u8(struct sf_wire_enc *e, uint8_t v)
{
    uint8_t *p;
    if (expect(e, SF_WK_U8) == 0 && (p = grow(e, 1)) != NULL) {
        p[0] = v;
    }
}

void sf_wire_put_u16(struct sf_wire_enc *e, uint16_t v)
{
    uint8_t *p;
    if (expect(e, SF_WK_U16) == 0 && (p = grow(e, 2)) != NULL) {
        set16(p, v);
    }
}

void sf_wire_put_u32(struct sf_wire_enc *e, uint32_t v)
{
    uint8_t *p;
    if (expect(e, SF_WK_U32) == 0 && (p = grow(e, 4)) != NULL) {
        set32(p, v);
    }
}

void sf_wire_put_u64(struct sf_wire_enc *e, uint64_t v)
{
    uint8_t *p;
    if (expect(e, SF_WK_U64) == 0 && (p = grow(e, 8)) != NULL) {
        set64(p, v);
    }
}

void sf_wire_put_i32(struct sf_wire_enc *e, int32_t v)
{
    uint8_t *p;
    if (expect(e, SF_WK_I32) == 0 && (p = grow(e, 4)) != NULL) {
        set32(p, (uint32_t)v);
    }
}

void sf_wire_put_i64(struct sf_wire_enc *e, int64_t v)
{
    uint8_t *p;
    if (expect(e, SF_WK_I64) == 0 && (p = grow(e, 8)) != NULL) {
        set64(p, (uint64_t)v);
    }
}

static void put_blob(struct sf_wire_enc *e, const void *data, size_t n)
{
    if (n > UINT32_MAX) {
        if (e->err == 0) {
            e->err = -EMSGSIZE;
        }
        return;
    }
    uint8_t *p = grow(e, 4 + n);
    if (p != NULL) {
        set32(p, (uint32_t)n);
        if (n > 0) {
            memcpy(p + 4, data, n);
        }
    }
}

void sf_wire_put_str(struct sf_wire_enc *e, const char *s)
{
    if (expect(e, SF_WK_STR) == 0) {
        put_blob(e, s, s ? strlen(s) : 0); /* NULL encodes as "" */
    }
}

void sf_wire_put_bytes(struct sf_wire_enc *e, const void *p, size_t n)
{
    if (expect(e, SF_WK_BYTES) == 0) {
        put_blob(e, p, p ? n : 0);
    }
}

void sf_wire_put_strv(struct sf_wire_enc *e, char *const *v, size_t n)
{
    if (expect(e, SF_WK_STRV) != 0) {
        return;
    }
    if (n > SF_WIRE_MAX_STRV) {
        e->err = -EMSGSIZE;
        return;
    }
    uint8_t *p = grow(e, 4);
    if (p == NULL) {
        return;
    }
    set32(p, (uint32_t)n);
    for (size_t i = 0; i < n && e->err == 0; i++) {
        put_blob(e, v[i], v[i] ? strlen(v[i]) : 0);
    }
}

void sf_wire_put_i32v(struct sf_wire_enc *e, const int32_t *v, size_t n)
{
    if (expect(e, SF_WK_I32V) != 0) {
        return;
    }
    if (n > (MAX_FRAME - 4) / 4) {
        e->err = -EMSGSIZE;
        return;
    }
    uint8_t *p = grow(e, 4 + 4 * n);
    if (p == NULL) {
        return;
    }
    set32(p, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        set32(p + 4 + 4 * i, (uint32_t)v[i]);
    }
}

int sf_wire_enc_end(struct sf_wire_enc *e)
{
    if (e->err != 0) {
        return e->err;
    }
    const struct sf_wire_schema *s = sf_wire_schema(e->op);
    if (s == NULL || e->nfields != s->nfields) {
        e->err = SF_ERR_PROTO;
        return e->err;
    }
    size_t blen = e->len - SF_WIRE_HDR_LEN;
    if (blen > SF_WIRE_MAX_BODY) {
        e->err = -EMSGSIZE;
        return e->err;
    }
    set32(e->buf + 4, (uint32_t)blen);
    set32(e->buf + 12, sf_crc32c(e->buf + SF_WIRE_HDR_LEN, blen));
    return 0;
}

void sf_wire_enc_free(struct sf_wire_enc *e)
{
    free(e->buf);
    e->buf = NULL;
    e->len = e->cap = 0;
}
