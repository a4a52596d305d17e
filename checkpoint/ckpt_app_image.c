/* The app backend's image codec (format table in ckpt_app_int.h): encode
 * the head, validate-then-decode a whole image. No I/O, no global state;
 * any thread. The rank side does the file work (ckpt_app.c). */
#include <errno.h>
#include <string.h>

#include "checkpoint/ckpt_app_int.h"
#include "checkpoint/sf_ckpt.h"
#include "runtime/base/sf_crc.h"

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)(v >> 16));
    put16(p + 2, (uint16_t)v);
}

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)(v >> 32));
    put32(p + 4, (uint32_t)v);
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)get16(p) << 16 | get16(p + 2);
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) << 32 | get32(p + 4);
}

long sf_ckpt__image_head(const struct sf_ckpt_image_hdr *h, const struct sf_ckpt_image_region *r,
                         uint8_t *out, size_t cap)
{
    if (h->nregions > SF_CKPT_MAX_REGIONS) {
        return -EINVAL;
    }
    size_t need = SF_CKPT_IMAGE_HDR + (size_t)h->nregions * SF_CKPT_IMAGE_ENTRY;
    if (cap < need) {
        return -ENOSPC;
    }
    memset(out, 0, SF_CKPT_IMAGE_HDR);
    put32(out, SF_CKPT_IMAGE_MAGIC);
    put16(out + 4, SF_CKPT_IMAGE_VERSION);
    put64(out + 8, h->job);
    put32(out + 16, h->epoch);
    put32(out + 20, h->rank);
    put32(out + 24, h->nregions);
    for (uint32_t i = 0; i < h->nregions; i++) {
        uint8_t *e = out + SF_CKPT_IMAGE_HDR + (size_t)i * SF_CKPT_IMAGE_ENTRY;
        put32(e, r[i].id);
        put64(e + 4, r[i].size);
    }
    return (long)need;
}

int sf_ckpt__image_decode(const uint8_t *buf, size_t len, struct sf_ckpt_image_hdr *h,
                          struct sf_ckpt_image_region *r, uint32_t cap)
{
    if (len < SF_CKPT_IMAGE_HDR + SF_CKPT_IMAGE_TRAILER || get32(buf) != SF_CKPT_IMAGE_MAGIC) {
        return -EBADMSG;
    }
    if (get16(buf + 4) != SF_CKPT_IMAGE_VERSION) {
        return -EPROTO;
    }
    if (get16(buf + 6) != 0 || get32(buf + 28) != 0) {
        return -EBADMSG;
    }
    uint32_t n = get32(buf + 24);
    if (n > SF_CKPT_MAX_REGIONS) {
        return -EBADMSG;
    }
    if (n > cap) {
        return -E2BIG;
    }
    size_t body = len - SF_CKPT_IMAGE_TRAILER;
    size_t table = SF_CKPT_IMAGE_HDR + (size_t)n * SF_CKPT_IMAGE_ENTRY;
    if (table > body) {
        return -EBADMSG;
    }
    /* Sizes must add up to exactly what follows the table; each step is
     * checked against the room left, so no sum can overflow. */
    uint64_t left = body - table, off = table;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *e = buf + SF_CKPT_IMAGE_HDR + (size_t)i * SF_CKPT_IMAGE_ENTRY;
        uint32_t id = get32(e);
        uint64_t size = get64(e + 4);
        if (size > left) {
            return -EBADMSG;
        }
        for (uint32_t j = 0; j < i; j++) {
            if (get32(buf + SF_CKPT_IMAGE_HDR + (size_t)j * SF_CKPT_IMAGE_ENTRY) == id) {
                return -EBADMSG;
            }
        }
        left -= size;
        off += size;
    }
    if (left != 0) {
        return -EBADMSG;
    }
    if (sf_crc32c(buf, body) != get32(buf + body)) {
        return -EBADMSG;
    }
    h->job = get64(buf + 8);
    h->epoch = get32(buf + 16);
    h->rank = get32(buf + 20);
    h->nregions = n;
    off = table;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *e = buf + SF_CKPT_IMAGE_HDR + (size_t)i * SF_CKPT_IMAGE_ENTRY;
        r[i].id = get32(e);
        r[i].size = get64(e + 4);
        r[i].off = off;
        off += r[i].size;
    }
    return 0;
}
