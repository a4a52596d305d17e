/* Wire decoder: validates a whole frame (header, checksum, every field
 * against the op's schema) before writing anything to the caller's msg;
 * plus the accessors for decoded fields and the dispatch table call.
 * No I/O, no logging (callers count and log drops), no state: any thread. */
#include "runtime/base/sf_crc.h"
#include "runtime/base/sf_wire.h"

#include "runtime/base/base_int.h"
#include "runtime/base/sf_err.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* For STRV and I32V the decoder also stores, in val.u, the byte size of the
 * elements' encoding that starts at val.p; sf_wire_strv_next walks it. */

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) << 32 | get32(p + 4);
}

/* One STR/BYTES at b[*pos]: length-checked against end. */
static int take_blob(const uint8_t *b, size_t end, size_t *pos, bool is_str,
                     struct sf_wire_val *v)
{
    if (end - *pos < 4) {
        return SF_ERR_PROTO;
    }
    uint32_t n = get32(b + *pos);
    *pos += 4;
    if (n > end - *pos) {
        return SF_ERR_PROTO;
    }
    if (is_str && n > 0 && memchr(b + *pos, 0, n) != NULL) {
        return SF_ERR_PROTO;
    }
    v->p = b + *pos;
    v->len = n;
    *pos += n;
    return 0;
}

static int decode_fields(const struct sf_wire_schema *s, const uint8_t *b, size_t blen,
                         struct sf_wire_msg *m)
{
    size_t pos = 0;
    for (unsigned i = 0; i < s->nfields; i++) {
        struct sf_wire_val *v = &m->f[i];
        size_t left = blen - pos;
        switch (s->kinds[i]) {
        case SF_WK_U8:
            if (left < 1) {
                return SF_ERR_PROTO;
            }
            v->u = b[pos];
            pos += 1;
            break;
        case SF_WK_U16:
            if (left < 2) {
                return SF_ERR_PROTO;
            }
            v->u = get16(b + pos);
            pos += 2;
            break;
        case SF_WK_U32:
            if (left < 4) {
                return SF_ERR_PROTO;
            }
            v->u = get32(b + pos);
            pos += 4;
            break;
        case SF_WK_I32:
            if (left < 4) {
                return SF_ERR_PROTO;
            }
            v->i = (int32_t)get32(b + pos);
            pos += 4;
            break;
        case SF_WK_U64:
            if (left < 8) {
                return SF_ERR_PROTO;
            }
            v->u = get64(b + pos);
            pos += 8;
            break;
        case SF_WK_I64:
            if (left < 8) {
                return SF_ERR_PROTO;
            }
            v->i = (int64_t)get64(b + pos);
            pos += 8;
            break;
        case SF_WK_STR:
        case SF_WK_BYTES: {
            int rc = take_blob(b, blen, &pos, s->kinds[i] == SF_WK_STR, v);
            if (rc != 0) {
                return rc;
            }
            break;
        }
        case SF_WK_STRV: {
            if (left < 4) {
                return SF_ERR_PROTO;
            }
            uint32_t cnt = get32(b + pos);
            pos += 4;
            /* Each entry needs at least its 4-byte length: reject a huge
             * count before looping over it. */
            if (cnt > SF_WIRE_MAX_STRV || cnt > (blen - pos) / 4) {
                return SF_ERR_PROTO;
            }
            size_t start = pos;
            for (uint32_t k = 0; k < cnt; k++) {
                struct sf_wire_val tmp;
                int rc = take_blob(b, blen, &pos, true, &tmp);
                if (rc != 0) {
                    return rc;
                }
            }
            v->p = b + start;
            v->len = cnt;
            v->u = pos - start;
            break;
        }
        case SF_WK_I32V: {
            if (left < 4) {
                return SF_ERR_PROTO;
            }
            uint32_t cnt = get32(b + pos);
            pos += 4;
            if (cnt > (blen - pos) / 4) {
                return SF_ERR_PROTO;
            }
            v->p = b + pos;
            v->len = cnt;
            v->u = (uint64_t)cnt * 4;
            pos += (size_t)cnt * 4;
            break;
        }
        default:
            return SF_ERR_PROTO; /* schema table bug: never trust it blindly */
        }
    }
    return pos == blen ? 0 : SF_ERR_PROTO; /* trailing bytes */
}

long sf_wire_decode(const uint8_t *buf, size_t len, struct sf_wire_msg *msg)
{
    /* Check what has arrived of the header right away, so a stream of
     * garbage is refused without waiting for a "length" it made up. */
    if (len >= 1 && buf[0] != (SF_WIRE_MAGIC >> 8)) {
        return SF_ERR_PROTO;
    }
    if (len >= 2 && buf[1] != (SF_WIRE_MAGIC & 0xff)) {
        return SF_ERR_PROTO;
    }
    if (len >= 3 && buf[2] != SF_WIRE_VERSION) {
        return SF_ERR_VERSION;
    }
    const struct sf_wire_schema *s = NULL;
    if (len >= 4 && (s = sf_wire_schema(buf[3])) == NULL) {
        return SF_ERR_PROTO;
    }
    if (len < SF_WIRE_HDR_LEN) {
        return 0;
    }
    uint32_t blen = get32(buf + 4);
    if (blen > SF_WIRE_MAX_BODY) {
        return -EMSGSIZE;
    }
    if (len - SF_WIRE_HDR_LEN < blen) {
        return 0;
    }
    const uint8_t *body = buf + SF_WIRE_HDR_LEN;
    if (sf_crc32c(body, blen) != get32(buf + 12)) {
        return SF_ERR_CHECKSUM;
    }
    if (s->nfields > SF_WIRE_MAX_FIELDS) {
        return SF_ERR_PROTO;
    }
    struct sf_wire_msg m;
    memset(&m, 0, sizeof m);
    m.op = buf[3];
    m.seq = get32(buf + 8);
    m.nfields = s->nfields;
    int rc = decode_fields(s, body, blen, &m);
    if (rc != 0) {
        return rc;
    }
    *msg = m;
    return (long)(SF_WIRE_HDR_LEN + (size_t)blen);
}

int sf_wire_strv_next(const struct sf_wire_val *v, uint32_t *pos, const uint8_t **s,
                      uint32_t *len)
{
    uint64_t end = v->u;
    if (v->p == NULL || *pos > end || end - *pos < 4) {
        return 0;
    }
    uint32_t n = get32(v->p + *pos);
    if (n > end - *pos - 4) {
        return 0;
    }
    *s = v->p + *pos + 4;
    *len = n;
    *pos += 4 + n;
    return 1;
}

int32_t sf_wire_i32v_get(const struct sf_wire_val *v, uint32_t idx)
{
    if (v->p == NULL || idx >= v->len) {
        return 0;
    }
    return (int32_t)get32(v->p + (size_t)idx * 4);
}

char *sf_wire_strdup(const struct sf_wire_val *v)
{
    char *s = malloc((size_t)v->len + 1);
    if (s == NULL) {
        return NULL;
    }
    if (v->len > 0) {
        memcpy(s, v->p, v->len);
    }
    s[v->len] = '\0';
    return s;
}

int sf_wire_dispatch(const sf_wire_handler *table, size_t n, void *ctx,
                     const struct sf_wire_msg *msg)
{
    if (table == NULL || msg->op >= n || table[msg->op] == NULL) {
        return SF_ERR_PROTO;
    }
    return table[msg->op](ctx, msg);
}
