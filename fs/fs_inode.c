/* Metadata record codecs: inodes and directory entries (DHT values, at
 * most SF_DHT_VALUE_MAX bytes) and the block-list blocks that carry the
 * block ids of files too large for the inode. Encoders and strict,
 * canonical decoders only; no I/O except through the caller's callbacks in
 * sf_fs_blist_build/resolve. Pure, any thread. All integers big-endian.
 *
 * Inode record (52 + 32 n bytes, n <= 14, so at most 500):
 *   off  len  field
 *     0    1  format version = 1
 *     1    1  record type = 1 (inode)
 *     2    1  flags, must be 0
 *     3    1  depth of the block list, 0..3
 *     4    1  replication factor, 1..16
 *     5    1  log2(block size), 12..26
 *     6    2  n = number of refs, 0..14
 *     8    4  mode: S_IFREG, S_IFDIR or S_IFLNK | 07777 bits
 *    12    4  uid
 *    16    4  gid
 *    20    8  size in bytes
 *    28    8  mtime, ns since the epoch (two's complement)
 *    36    8  ctime, ns
 *    44    8  version
 *    52 32 n  refs: block ids
 *
 * Block list. A file has nb = ceil(size / block size) data blocks. With
 * nb <= 14 the refs are the data block ids (depth 0). Otherwise the ids
 * are cut into list blocks of `per` = (block size - 12) / 32 ids each
 * (level 1), those blocks' ids again into lists of `per` (level 2), and so
 * on until at most 14 ids remain: those are the refs and the number of
 * rounds is the depth (at most 3). Every list is full except the last one
 * of its level, so depth and n follow from size and block size alone and
 * the decoder can insist on them. List blocks are ordinary blocks
 * (content-addressed, replicated like data). 1 MiB blocks: per = 32767,
 * depth 1 covers 458 GiB, depth 2 about 15 PiB.
 *
 * List block (12 + 32 n bytes, at most the block size):
 *     0    4  magic "SFBL"
 *     4    1  format version = 1
 *     5    1  level, 1..3 (1: entries are data blocks)
 *     6    2  reserved, 0
 *     8    4  n = entries, 1..per
 *    12 32 n  block ids
 *
 * Directory entry (36 + name length bytes, at most 291):
 *     0    1  format version = 1
 *     1    1  record type = 2 (dirent)
 *     2    1  flags: bit 0 = deleted (tombstone); others 0
 *     3    1  name length, 1..255
 *     4    4  kind: S_IFREG, S_IFDIR or S_IFLNK; 0 when deleted
 *     8    8  version
 *    16   20  inode key (DHT id); all zero when deleted, never otherwise
 *    36  len  name (sf_fs_name_check) */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs/fs_int.h"

#define FMT_VERSION 1
#define TYPE_INODE 1
#define TYPE_DIRENT 2
#define INODE_HDR 52
#define DIRENT_HDR 36
#define BLIST_HDR 12
#define DE_DELETED 0x01

static int log2_exact(uint32_t v)
{
    int l = 0;
    while ((1u << l) < v) {
        l++;
    }
    return l;
}

size_t sf_fs_blist_per_block(uint32_t block_size)
{
    if (!sf_fs__block_size_ok(block_size)) {
        return 0;
    }
    return (block_size - BLIST_HDR) / SF_FS_ID_LEN;
}

int sf_fs_inode_shape(uint64_t size, uint32_t block_size, uint64_t *n_blocks, uint8_t *depth,
                      uint16_t *n_refs)
{
    size_t per = sf_fs_blist_per_block(block_size);
    if (per == 0) {
        return -EINVAL;
    }
    uint64_t nb = size / block_size + (size % block_size != 0);
    uint64_t cnt = nb;
    uint8_t d = 0;
    while (cnt > SF_FS_INODE_REFS_MAX) {
        cnt = cnt / per + (cnt % per != 0);
        if (++d > SF_FS_INODE_DEPTH_MAX) {
            return -EFBIG;
        }
    }
    if (n_blocks != NULL) {
        *n_blocks = nb;
    }
    if (depth != NULL) {
        *depth = d;
    }
    if (n_refs != NULL) {
        *n_refs = (uint16_t)cnt;
    }
    return 0;
}

/* Everything the decoder insists on, shared with the encoder. */
static int inode_valid(const struct sf_fs_inode *ino)
{
    uint32_t type = ino->mode & S_IFMT;
    if ((ino->mode & ~(uint32_t)(S_IFMT | 07777)) != 0 ||
        (type != S_IFREG && type != S_IFDIR && type != S_IFLNK)) {
        return -EINVAL;
    }
    if (ino->replicas < 1 || ino->replicas > SF_FS_R_MAX ||
        !sf_fs__block_size_ok(ino->block_size)) {
        return -EINVAL;
    }
    /* Directories keep their entries as dirent records, not data. */
    if (type == S_IFDIR && ino->size != 0) {
        return -EINVAL;
    }
    if (type == S_IFLNK && (ino->size == 0 || ino->size > SF_FS_PATH_MAX)) {
        return -EINVAL;
    }
    uint8_t depth;
    uint16_t n;
    int rc = sf_fs_inode_shape(ino->size, ino->block_size, NULL, &depth, &n);
    if (rc != 0) {
        return rc;
    }
    if (ino->depth != depth || ino->n_refs != n) {
        return -EINVAL;
    }
    return 0;
}

int sf_fs_inode_encode(const struct sf_fs_inode *ino, uint8_t *buf, size_t cap, size_t *len)
{
    int rc = inode_valid(ino);
    if (rc != 0) {
        return rc;
    }
    size_t need = INODE_HDR + (size_t)ino->n_refs * SF_FS_ID_LEN;
    if (cap < need) {
        return -ENOSPC;
    }
    buf[0] = FMT_VERSION;
    buf[1] = TYPE_INODE;
    buf[2] = 0;
    buf[3] = ino->depth;
    buf[4] = ino->replicas;
    buf[5] = (uint8_t)log2_exact(ino->block_size);
    sf_fs__put16(buf + 6, ino->n_refs);
    sf_fs__put32(buf + 8, ino->mode);
    sf_fs__put32(buf + 12, ino->uid);
    sf_fs__put32(buf + 16, ino->gid);
    sf_fs__put64(buf + 20, ino->size);
    sf_fs__put64(buf + 28, (uint64_t)ino->mtime_ns);
    sf_fs__put64(buf + 36, (uint64_t)ino->ctime_ns);
    sf_fs__put64(buf + 44, ino->version);
    for (uint16_t i = 0; i < ino->n_refs; i++) {
        memcpy(buf + INODE_HDR + (size_t)i * SF_FS_ID_LEN, ino->refs[i].b, SF_FS_ID_LEN);
    }
    *len = need;
    return 0;
}

int sf_fs_inode_decode(const uint8_t *buf, size_t len, struct sf_fs_inode *out)
{
    if (buf == NULL || len < INODE_HDR || buf[0] != FMT_VERSION || buf[1] != TYPE_INODE ||
        buf[2] != 0) {
        return SF_FS_ECORRUPT;
    }
    struct sf_fs_inode ino;
    memset(&ino, 0, sizeof ino);
    ino.depth = buf[3];
    ino.replicas = buf[4];
    /* Check the shift before using it: 1u << 40 is undefined. */
    if (buf[5] < 12 || buf[5] > 26) {
        return SF_FS_ECORRUPT;
    }
    ino.block_size = 1u << buf[5];
    ino.n_refs = sf_fs__get16(buf + 6);
    if (ino.n_refs > SF_FS_INODE_REFS_MAX || len != INODE_HDR + (size_t)ino.n_refs * SF_FS_ID_LEN) {
        return SF_FS_ECORRUPT;
    }
    ino.mode = sf_fs__get32(buf + 8);
    ino.uid = sf_fs__get32(buf + 12);
    ino.gid = sf_fs__get32(buf + 16);
    ino.size = sf_fs__get64(buf + 20);
    ino.mtime_ns = (int64_t)sf_fs__get64(buf + 28);
    ino.ctime_ns = (int64_t)sf_fs__get64(buf + 36);
    ino.version = sf_fs__get64(buf + 44);
    for (uint16_t i = 0; i < ino.n_refs; i++) {
        memcpy(ino.refs[i].b, buf + INODE_HDR + (size_t)i * SF_FS_ID_LEN, SF_FS_ID_LEN);
    }
    if (inode_valid(&ino) != 0) {
        return SF_FS_ECORRUPT;
    }
    *out = ino;
    return 0;
}

/* ---------------------------------------------------------- dirents */

static bool id_zero(const struct sf_dht_id *id)
{
    for (int i = 0; i < SF_DHT_ID_LEN; i++) {
        if (id->b[i] != 0) {
            return false;
        }
    }
    return true;
}

static int dirent_valid(const struct sf_fs_dirent *de)
{
    if (de->name_len == 0 || sf_fs_name_check(de->name, de->name_len) != 0) {
        return -EINVAL;
    }
    if (de->deleted) {
        return de->kind == 0 && id_zero(&de->inode) ? 0 : -EINVAL;
    }
    if (de->kind != S_IFREG && de->kind != S_IFDIR && de->kind != S_IFLNK) {
        return -EINVAL;
    }
    return id_zero(&de->inode) ? -EINVAL : 0;
}

int sf_fs_dirent_encode(const struct sf_fs_dirent *de, uint8_t *buf, size_t cap, size_t *len)
{
    int rc = dirent_valid(de);
    if (rc != 0) {
        return rc;
    }
    size_t need = DIRENT_HDR + de->name_len;
    if (cap < need) {
        return -ENOSPC;
    }
    buf[0] = FMT_VERSION;
    buf[1] = TYPE_DIRENT;
    buf[2] = de->deleted ? DE_DELETED : 0;
    buf[3] = de->name_len;
    sf_fs__put32(buf + 4, de->kind);
    sf_fs__put64(buf + 8, de->version);
    memcpy(buf + 16, de->inode.b, SF_DHT_ID_LEN);
    memcpy(buf + DIRENT_HDR, de->name, de->name_len);
    *len = need;
    return 0;
}

int sf_fs_dirent_decode(const uint8_t *buf, size_t len, struct sf_fs_dirent *out)
{
    if (buf == NULL || len < DIRENT_HDR || buf[0] != FMT_VERSION || buf[1] != TYPE_DIRENT ||
        (buf[2] & ~DE_DELETED) != 0 || buf[3] == 0 || len != DIRENT_HDR + (size_t)buf[3]) {
        return SF_FS_ECORRUPT;
    }
    struct sf_fs_dirent de;
    memset(&de, 0, sizeof de);
    de.deleted = (buf[2] & DE_DELETED) != 0;
    de.name_len = buf[3];
    de.kind = sf_fs__get32(buf + 4);
    de.version = sf_fs__get64(buf + 8);
    memcpy(de.inode.b, buf + 16, SF_DHT_ID_LEN);
    memcpy(de.name, buf + DIRENT_HDR, de.name_len);
    de.name[de.name_len] = '\0';
    if (dirent_valid(&de) != 0) {
        return SF_FS_ECORRUPT;
    }
    *out = de;
    return 0;
}

void sf_fs_dirent_key(const struct sf_dht_id *dir, const char *name, size_t len,
                      struct sf_dht_id *out)
{
    static const uint8_t tag[8] = {'s', 'f', 'd', 'i', 'r', 'e', 'n', 't'};
    crypto_generichash_state h;
    sf_fs__sodium_init();
    crypto_generichash_init(&h, NULL, 0, SF_DHT_ID_LEN);
    crypto_generichash_update(&h, tag, sizeof tag);
    crypto_generichash_update(&h, dir->b, SF_DHT_ID_LEN);
    crypto_generichash_update(&h, (const uint8_t *)name, len);
    crypto_generichash_final(&h, out->b, SF_DHT_ID_LEN);
}

/* ------------------------------------------------------ block lists */

int sf_fs_blist_encode(uint8_t level, const struct sf_fs_block_id *ids, size_t n,
                       uint32_t block_size, uint8_t *buf, size_t cap, size_t *len)
{
    size_t per = sf_fs_blist_per_block(block_size);
    if (per == 0 || level < 1 || level > SF_FS_INODE_DEPTH_MAX || n < 1 || n > per || ids == NULL) {
        return -EINVAL;
    }
    size_t need = BLIST_HDR + n * SF_FS_ID_LEN;
    if (cap < need) {
        return -ENOSPC;
    }
    memcpy(buf, "SFBL", 4);
    buf[4] = FMT_VERSION;
    buf[5] = level;
    sf_fs__put16(buf + 6, 0);
    sf_fs__put32(buf + 8, (uint32_t)n);
    memcpy(buf + BLIST_HDR, ids, n * SF_FS_ID_LEN);
    *len = need;
    return 0;
}

int sf_fs_blist_decode(const uint8_t *buf, size_t len, uint32_t block_size, uint8_t *level,
                       const struct sf_fs_block_id **ids, size_t *n)
{
    size_t per = sf_fs_blist_per_block(block_size);
    if (per == 0 || buf == NULL || len < BLIST_HDR || memcmp(buf, "SFBL", 4) != 0 ||
        buf[4] != FMT_VERSION || buf[5] < 1 || buf[5] > SF_FS_INODE_DEPTH_MAX ||
        sf_fs__get16(buf + 6) != 0) {
        return SF_FS_ECORRUPT;
    }
    uint32_t cnt = sf_fs__get32(buf + 8);
    if (cnt < 1 || cnt > per || len != BLIST_HDR + (size_t)cnt * SF_FS_ID_LEN) {
        return SF_FS_ECORRUPT;
    }
    *level = buf[5];
    /* struct sf_fs_block_id is a byte array: alignment 1, no padding. */
    *ids = (const struct sf_fs_block_id *)(buf + BLIST_HDR);
    *n = cnt;
    return 0;
}

static uint64_t ceil_div(uint64_t a, uint64_t b)
{
    return a / b + (a % b != 0);
}

int sf_fs_blist_build(struct sf_fs_inode *ino, const struct sf_fs_block_id *data, size_t n,
                      sf_fs_blist_put_fn put, void *arg)
{
    uint64_t nb;
    uint8_t depth;
    uint16_t n_refs;
    int rc = sf_fs_inode_shape(ino->size, ino->block_size, &nb, &depth, &n_refs);
    if (rc != 0) {
        return rc;
    }
    if (nb != n || (n > 0 && data == NULL) || (depth > 0 && put == NULL)) {
        return -EINVAL;
    }
    size_t per = sf_fs_blist_per_block(ino->block_size);
    const struct sf_fs_block_id *cur = data;
    struct sf_fs_block_id *owned = NULL;
    size_t cnt = n;
    uint8_t *buf = NULL;
    if (depth > 0) {
        buf = malloc(BLIST_HDR + per * SF_FS_ID_LEN);
        if (buf == NULL) {
            return -ENOMEM;
        }
    }
    for (uint8_t level = 1; level <= depth && rc == 0; level++) {
        size_t next_cnt = (size_t)ceil_div(cnt, per);
        struct sf_fs_block_id *next = malloc(next_cnt * sizeof *next);
        if (next == NULL) {
            rc = -ENOMEM;
            break;
        }
        for (size_t j = 0; j < next_cnt && rc == 0; j++) {
            size_t k = cnt - j * per < per ? cnt - j * per : per;
            size_t len;
            rc = sf_fs_blist_encode(level, cur + j * per, k, ino->block_size, buf,
                                    BLIST_HDR + per * SF_FS_ID_LEN, &len);
            if (rc == 0) {
                rc = put(arg, buf, len, &next[j]);
            }
        }
        free(owned);
        owned = next;
        cur = next;
        cnt = next_cnt;
    }
    if (rc == 0) {
        /* cnt == n_refs by construction (same rounds as the shape). */
        ino->depth = depth;
        ino->n_refs = n_refs;
        if (n_refs > 0) { /* an empty file: cur may be NULL */
            memcpy(ino->refs, cur, (size_t)n_refs * sizeof *cur);
        }
    }
    free(owned);
    free(buf);
    return rc;
}

struct resolve {
    sf_fs_blist_get_fn get;
    void *arg;
    uint32_t block_size;
    size_t per;
    uint8_t *bufs[SF_FS_INODE_DEPTH_MAX + 1]; /* one per level in flight */
    struct sf_fs_block_id *out;
};

/* Resolve the list block id (level `level`) that covers data blocks
 * [start, start + count). */
static int resolve_list(struct resolve *r, uint8_t level, const struct sf_fs_block_id *id,
                        uint64_t start, uint64_t count)
{
    uint8_t *buf = r->bufs[level];
    size_t len;
    int rc = r->get(r->arg, id, buf, r->block_size, &len);
    if (rc != 0) {
        return rc;
    }
    uint8_t got_level;
    const struct sf_fs_block_id *ids;
    size_t n;
    if (sf_fs_blist_decode(buf, len, r->block_size, &got_level, &ids, &n) != 0 ||
        got_level != level) {
        return SF_FS_ECORRUPT;
    }
    uint64_t child = 1; /* data blocks under one entry: per^(level-1) */
    for (uint8_t l = 1; l < level; l++) {
        child *= r->per;
    }
    if (n != ceil_div(count, child)) {
        return SF_FS_ECORRUPT; /* not the canonical shape */
    }
    for (size_t j = 0; j < n && rc == 0; j++) {
        uint64_t cstart = start + j * child;
        uint64_t ccount = count - j * child < child ? count - j * child : child;
        if (level == 1) {
            r->out[cstart] = ids[j];
        } else {
            rc = resolve_list(r, (uint8_t)(level - 1), &ids[j], cstart, ccount);
        }
    }
    return rc;
}

int sf_fs_blist_resolve(const struct sf_fs_inode *ino, sf_fs_blist_get_fn get, void *arg,
                        struct sf_fs_block_id *out, size_t cap)
{
    if (inode_valid(ino) != 0) {
        return SF_FS_ECORRUPT;
    }
    uint64_t nb;
    sf_fs_inode_shape(ino->size, ino->block_size, &nb, NULL, NULL);
    if (nb > cap) {
        return -ENOSPC;
    }
    if (ino->depth == 0) {
        if (nb > 0) { /* an empty file: out may be NULL */
            memcpy(out, ino->refs, (size_t)nb * sizeof *out);
        }
        return 0;
    }
    if (get == NULL) {
        return -EINVAL;
    }
    struct resolve r = {.get = get, .arg = arg, .block_size = ino->block_size, .out = out};
    r.per = sf_fs_blist_per_block(ino->block_size);
    int rc = 0;
    for (uint8_t l = 1; l <= ino->depth && rc == 0; l++) {
        r.bufs[l] = malloc(ino->block_size);
        rc = r.bufs[l] == NULL ? -ENOMEM : 0;
    }
    uint64_t top = 1; /* data blocks under one ref: per^depth */
    for (uint8_t l = 0; l < ino->depth; l++) {
        top *= r.per;
    }
    for (uint16_t i = 0; i < ino->n_refs && rc == 0; i++) {
        uint64_t start = (uint64_t)i * top;
        uint64_t count = nb - start < top ? nb - start : top;
        rc = resolve_list(&r, ino->depth, &ino->refs[i], start, count);
    }
    for (uint8_t l = 1; l <= ino->depth; l++) {
        free(r.bufs[l]);
    }
    return rc;
}
