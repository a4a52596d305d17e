/* Metadata byte formats: record lists (ops 44/45/47 and the log), the
 * entry value (fid + inode), the client's directory-entry list (op 54) and
 * log frames. Strict decoders (every field checked, canonical only); pure,
 * any thread. All integers big-endian.
 *
 * Record list: 4 bytes count n, then n records of
 *   off len field
 *     0   1  name length l, 1..255
 *     1   1  flags: bit 0 deleted; others 0
 *     2   1  cond (sf_fs_meta_cond, 0..4)
 *     3   1  action (sf_fs_meta_action, 0..2)
 *     4   8  version
 *    12   2  value length v, 0..SF_FS_META_VALUE_MAX (0 when deleted)
 *    14   l  name: "." or a valid name (sf_fs_name_check)
 *  14+l   v  value */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "fs/fs_int.h"
#include "fs/sf_fs_meta.h"
#include "runtime/base/sf_crc.h"

#define REC_HDR 14
#define ENTRY_HDR 24
#define ENTRY_TYPE 3
#define LOG_HDR 8

static bool name_ok(const char *name, size_t len)
{
    if (len == 1 && name[0] == '.') {
        return true;
    }
    return sf_fs_name_check(name, len) == 0;
}

static int rec_valid(const struct sf_fs_meta_rec *r)
{
    if (r->name == NULL || r->name_len < 1 || r->name_len > SF_FS_NAME_MAX ||
        !name_ok(r->name, r->name_len)) {
        return -EINVAL;
    }
    if ((r->flags & ~SF_FS_META_RF_DELETED) != 0 || r->cond > SF_FS_META_C_EMPTY ||
        r->action > SF_FS_META_A_DELETE || r->value_len > SF_FS_META_VALUE_MAX) {
        return -EINVAL;
    }
    if ((r->flags & SF_FS_META_RF_DELETED) && r->value_len != 0) {
        return -EINVAL;
    }
    if (r->value_len > 0 && r->value == NULL) {
        return -EINVAL;
    }
    return 0;
}

int sf_fs_meta_recs_encode(const struct sf_fs_meta_rec *recs, size_t n, uint8_t *buf, size_t cap,
                           size_t *len)
{
    if (n > UINT32_MAX || (n > 0 && recs == NULL)) {
        return -EINVAL;
    }
    size_t need = 4;
    for (size_t i = 0; i < n; i++) {
        int rc = rec_valid(&recs[i]);
        if (rc != 0) {
            return rc;
        }
        need += REC_HDR + recs[i].name_len + recs[i].value_len;
    }
    if (len != NULL) {
        *len = need;
    }
    if (buf == NULL) {
        return 0;
    }
    if (cap < need) {
        return -ENOSPC;
    }
    sf_fs__put32(buf, (uint32_t)n);
    size_t off = 4;
    for (size_t i = 0; i < n; i++) {
        const struct sf_fs_meta_rec *r = &recs[i];
        uint8_t *p = buf + off;
        p[0] = (uint8_t)r->name_len;
        p[1] = r->flags;
        p[2] = r->cond;
        p[3] = r->action;
        sf_fs__put64(p + 4, r->version);
        sf_fs__put16(p + 12, (uint16_t)r->value_len);
        memcpy(p + REC_HDR, r->name, r->name_len);
        if (r->value_len > 0) {
            memcpy(p + REC_HDR + r->name_len, r->value, r->value_len);
        }
        off += REC_HDR + r->name_len + r->value_len;
    }
    return 0;
}

int sf_fs_meta_recs_count(const uint8_t *buf, size_t len, size_t *n)
{
    if (buf == NULL || len < 4) {
        return SF_FS_ECORRUPT;
    }
    uint32_t c = sf_fs__get32(buf);
    /* Every record takes at least REC_HDR + 1 bytes: a bound before any
     * allocation sized by the count. */
    if (c > (len - 4) / (REC_HDR + 1)) {
        return SF_FS_ECORRUPT;
    }
    *n = c;
    return 0;
}

int sf_fs_meta_recs_decode(const uint8_t *buf, size_t len, struct sf_fs_meta_rec *recs, size_t cap,
                           size_t *n)
{
    size_t c;
    if (sf_fs_meta_recs_count(buf, len, &c) != 0) {
        return SF_FS_ECORRUPT;
    }
    if (c > cap) {
        return -ENOSPC;
    }
    size_t off = 4;
    for (size_t i = 0; i < c; i++) {
        if (len - off < REC_HDR) {
            return SF_FS_ECORRUPT;
        }
        const uint8_t *p = buf + off;
        struct sf_fs_meta_rec r = {
            .name_len = p[0],
            .flags = p[1],
            .cond = p[2],
            .action = p[3],
            .version = sf_fs__get64(p + 4),
            .value_len = sf_fs__get16(p + 12),
        };
        if (len - off - REC_HDR < r.name_len + r.value_len) {
            return SF_FS_ECORRUPT;
        }
        r.name = (const char *)(p + REC_HDR);
        r.value = r.value_len > 0 ? p + REC_HDR + r.name_len : NULL;
        if (rec_valid(&r) != 0) {
            return SF_FS_ECORRUPT;
        }
        recs[i] = r;
        off += REC_HDR + r.name_len + r.value_len;
    }
    if (off != len) {
        return SF_FS_ECORRUPT;
    }
    *n = c;
    return 0;
}

int sf_fs_meta_entry_encode(const struct sf_fs_meta_entry *e, uint8_t *buf, size_t cap, size_t *len)
{
    if (cap < ENTRY_HDR) {
        return -ENOSPC;
    }
    size_t il;
    int rc = sf_fs_inode_encode(&e->inode, buf + ENTRY_HDR, cap - ENTRY_HDR, &il);
    if (rc != 0) {
        return rc;
    }
    buf[0] = 1;
    buf[1] = ENTRY_TYPE;
    buf[2] = buf[3] = 0;
    memcpy(buf + 4, e->fid, SF_FS_FID_LEN);
    *len = ENTRY_HDR + il;
    return 0;
}

int sf_fs_meta_entry_decode(const uint8_t *buf, size_t len, struct sf_fs_meta_entry *e)
{
    if (buf == NULL || len < ENTRY_HDR || buf[0] != 1 || buf[1] != ENTRY_TYPE || buf[2] != 0 ||
        buf[3] != 0) {
        return SF_FS_ECORRUPT;
    }
    struct sf_fs_meta_entry tmp;
    memcpy(tmp.fid, buf + 4, SF_FS_FID_LEN);
    if (sf_fs_inode_decode(buf + ENTRY_HDR, len - ENTRY_HDR, &tmp.inode) != 0) {
        return SF_FS_ECORRUPT;
    }
    *e = tmp;
    return 0;
}

int sf_fs_meta_dirent_put(uint8_t *buf, size_t cap, size_t *off, const char *name, size_t name_len,
                          const uint8_t fid[SF_FS_FID_LEN], const struct sf_fs_inode *ino)
{
    if (sf_fs_name_check(name, name_len) != 0) {
        return -EINVAL;
    }
    uint8_t ib[SF_DHT_VALUE_MAX];
    size_t il;
    int rc = sf_fs_inode_encode(ino, ib, sizeof ib, &il);
    if (rc != 0) {
        return rc;
    }
    size_t need = 1 + name_len + SF_FS_FID_LEN + 2 + il;
    if (*off > cap || cap - *off < need) {
        return -ENOSPC;
    }
    uint8_t *p = buf + *off;
    p[0] = (uint8_t)name_len;
    memcpy(p + 1, name, name_len);
    memcpy(p + 1 + name_len, fid, SF_FS_FID_LEN);
    sf_fs__put16(p + 1 + name_len + SF_FS_FID_LEN, (uint16_t)il);
    memcpy(p + 3 + name_len + SF_FS_FID_LEN, ib, il);
    *off += need;
    return 0;
}

int sf_fs_meta_dirent_next(const uint8_t *buf, size_t len, size_t *off,
                           struct sf_fs_meta_dirent *out)
{
    if (*off == len) {
        return 0;
    }
    if (*off > len || buf == NULL) {
        return SF_FS_ECORRUPT;
    }
    const uint8_t *p = buf + *off;
    size_t left = len - *off;
    size_t nl = p[0];
    if (nl == 0 || left < 1 + nl + SF_FS_FID_LEN + 2) {
        return SF_FS_ECORRUPT;
    }
    size_t il = sf_fs__get16(p + 1 + nl + SF_FS_FID_LEN);
    if (il == 0 || il > SF_DHT_VALUE_MAX || left - (3 + nl + SF_FS_FID_LEN) < il) {
        return SF_FS_ECORRUPT;
    }
    if (sf_fs_name_check((const char *)p + 1, nl) != 0) {
        return SF_FS_ECORRUPT;
    }
    if (sf_fs_inode_decode(p + 3 + nl + SF_FS_FID_LEN, il, &out->inode) != 0) {
        return SF_FS_ECORRUPT;
    }
    memcpy(out->name, p + 1, nl);
    out->name[nl] = '\0';
    out->name_len = nl;
    memcpy(out->fid, p + 1 + nl, SF_FS_FID_LEN);
    *off += 3 + nl + SF_FS_FID_LEN + il;
    return 1;
}

void sf_fs_meta_root_key(struct sf_dht_id *out)
{
    sf_fs__sodium_init();
    crypto_generichash(out->b, SF_DHT_ID_LEN, (const uint8_t *)"sfroot", 6, NULL, 0);
}

int sf_fs_meta_log_frame(const struct sf_dht_id *key, const struct sf_fs_meta_rec *recs, size_t n,
                         uint8_t **out, size_t *len)
{
    size_t ll;
    int rc = sf_fs_meta_recs_encode(recs, n, NULL, 0, &ll);
    if (rc != 0) {
        return rc;
    }
    size_t body = SF_DHT_ID_LEN + ll;
    if (body > UINT32_MAX) {
        return -EINVAL;
    }
    uint8_t *b = malloc(LOG_HDR + body);
    if (b == NULL) {
        return -ENOMEM;
    }
    memcpy(b + LOG_HDR, key->b, SF_DHT_ID_LEN);
    rc = sf_fs_meta_recs_encode(recs, n, b + LOG_HDR + SF_DHT_ID_LEN, ll, &ll);
    if (rc != 0) {
        free(b);
        return rc;
    }
    sf_fs__put32(b, (uint32_t)body);
    sf_fs__put32(b + 4, sf_crc32c(b + LOG_HDR, body));
    *out = b;
    *len = LOG_HDR + body;
    return 0;
}

int sf_fs_meta_log_next(const uint8_t *buf, size_t len, size_t *off, struct sf_dht_id *key,
                        const uint8_t **list, size_t *list_len)
{
    if (*off > len) {
        return SF_FS_ECORRUPT;
    }
    size_t left = len - *off;
    if (left < LOG_HDR) {
        return 0; /* clean end or a torn header */
    }
    const uint8_t *p = buf + *off;
    uint32_t body = sf_fs__get32(p);
    if (left - LOG_HDR < body) {
        return 0; /* torn tail */
    }
    if (body < SF_DHT_ID_LEN + 4 || sf_crc32c(p + LOG_HDR, body) != sf_fs__get32(p + 4)) {
        return SF_FS_ECORRUPT;
    }
    size_t n;
    if (sf_fs_meta_recs_count(p + LOG_HDR + SF_DHT_ID_LEN, body - SF_DHT_ID_LEN, &n) != 0) {
        return SF_FS_ECORRUPT;
    }
    memcpy(key->b, p + LOG_HDR, SF_DHT_ID_LEN);
    *list = p + LOG_HDR + SF_DHT_ID_LEN;
    *list_len = body - SF_DHT_ID_LEN;
    *off += LOG_HDR + body;
    return 1;
}
