/* Fuzz target for the filesystem's record decoders (fs/fs_inode.c,
 * fs/fs_name.c): inode, dirent and block-list records must decode only in
 * their canonical form (decode then encode gives back the input), name and
 * path checks must never accept what they promise to refuse, and the block
 * list resolver must survive hostile list blocks. A crash, sanitizer report
 * or abort is a bug. Single-threaded; built by libFuzzer (make
 * fuzz-fs-inode) or the plain replay driver.
 *
 * Input: op byte (op % 6), then
 *   0 inode record      1 dirent record      3 name      4 path
 *   2 list block: log2(block size) - 12 (1 byte, % 15), then the block
 *   5 resolve: inode length (2, big-endian), inode record, then list
 *     blocks as [len(2)][bytes], handed out in order whatever id is asked */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fs/sf_fs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RESOLVE_MAX_BLOCKS 8192 /* skip inodes with more data blocks */

struct feed {
    const uint8_t *p;
    size_t left;
    unsigned calls;
};

static int feed_get(void *arg, const struct sf_fs_block_id *id, void *buf, size_t cap, size_t *len)
{
    struct feed *f = arg;
    f->calls++;
    if (f->left < 2) {
        return -ENOENT;
    }
    size_t n = (size_t)f->p[0] << 8 | f->p[1];
    if (n > f->left - 2) {
        return -ENOENT;
    }
    if (n > cap) {
        return -EFBIG;
    }
    memcpy(buf, f->p + 2, n);
    *len = n;
    f->p += 2 + n;
    f->left -= 2 + n;
    return 0;
}

static void check_inode(const uint8_t *d, size_t n)
{
    struct sf_fs_inode ino;
    if (sf_fs_inode_decode(d, n, &ino) != 0) {
        return;
    }
    uint8_t buf[SF_DHT_VALUE_MAX];
    size_t len;
    if (sf_fs_inode_encode(&ino, buf, sizeof buf, &len) != 0 || len != n ||
        memcmp(buf, d, n) != 0 || len > SF_DHT_VALUE_MAX) {
        abort(); /* accepted a non-canonical or unencodable record */
    }
}

static void check_dirent(const uint8_t *d, size_t n)
{
    struct sf_fs_dirent de;
    if (sf_fs_dirent_decode(d, n, &de) != 0) {
        return;
    }
    uint8_t buf[SF_DHT_VALUE_MAX];
    size_t len;
    if (sf_fs_dirent_encode(&de, buf, sizeof buf, &len) != 0 || len != n ||
        memcmp(buf, d, n) != 0 || strlen(de.name) != de.name_len ||
        sf_fs_name_check(de.name, de.name_len) != 0) {
        abort();
    }
}

static void check_blist(const uint8_t *d, size_t n)
{
    if (n < 1) {
        return;
    }
    uint32_t bs = SF_FS_BLOCK_MIN << (d[0] % 15);
    uint8_t level;
    const struct sf_fs_block_id *ids;
    size_t cnt;
    if (sf_fs_blist_decode(d + 1, n - 1, bs, &level, &ids, &cnt) != 0) {
        return;
    }
    uint8_t *buf = malloc(n);
    size_t len;
    if (buf == NULL) {
        return;
    }
    if (sf_fs_blist_encode(level, ids, cnt, bs, buf, n, &len) != 0 || len != n - 1 ||
        memcmp(buf, d + 1, len) != 0 || cnt > sf_fs_blist_per_block(bs)) {
        abort();
    }
    free(buf);
}

static void check_name(const uint8_t *d, size_t n)
{
    if (sf_fs_name_check((const char *)d, n) != 0) {
        return;
    }
    if (n == 0 || n > SF_FS_NAME_MAX || memchr(d, '/', n) != NULL || memchr(d, 0, n) != NULL ||
        (n == 1 && d[0] == '.') || (n == 2 && d[0] == '.' && d[1] == '.')) {
        abort();
    }
    for (size_t i = 0; i < n; i++) {
        /* bytes never valid in UTF-8 */
        if (d[i] == 0xc0 || d[i] == 0xc1 || d[i] >= 0xf5) {
            abort();
        }
    }
}

static void check_path(const uint8_t *d, size_t n)
{
    char *p = malloc(n + 1);
    if (p == NULL) {
        return;
    }
    memcpy(p, d, n);
    p[n] = '\0';
    size_t off = (size_t)-1;
    int rc = sf_fs_path_check(p, &off);
    size_t len = strlen(p);
    if (rc == 0) {
        if (p[0] != '/' || len > SF_FS_PATH_MAX || (len > 1 && p[len - 1] == '/') ||
            strstr(p, "//") != NULL || strstr(p, "/../") != NULL || strstr(p, "/./") != NULL) {
            abort();
        }
    } else if (off > len) {
        abort(); /* the reported offset must point into the path */
    }
    free(p);
}

static void check_resolve(const uint8_t *d, size_t n)
{
    if (n < 2) {
        return;
    }
    size_t ilen = (size_t)d[0] << 8 | d[1];
    if (ilen > n - 2) {
        return;
    }
    struct sf_fs_inode ino;
    if (sf_fs_inode_decode(d + 2, ilen, &ino) != 0) {
        return;
    }
    uint64_t nb;
    if (sf_fs_inode_shape(ino.size, ino.block_size, &nb, NULL, NULL) != 0 ||
        nb > RESOLVE_MAX_BLOCKS) {
        return;
    }
    struct sf_fs_block_id *out = malloc((size_t)(nb ? nb : 1) * sizeof *out);
    if (out == NULL) {
        return;
    }
    struct feed f = {d + 2 + ilen, n - 2 - ilen, 0};
    sf_fs_blist_resolve(&ino, feed_get, &f, out, (size_t)nb);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    const uint8_t *d = data + 1;
    size_t n = size - 1;
    switch (data[0] % 6) {
    case 0:
        check_inode(d, n);
        break;
    case 1:
        check_dirent(d, n);
        break;
    case 2:
        check_blist(d, n);
        break;
    case 3:
        check_name(d, n);
        break;
    case 4:
        check_path(d, n);
        break;
    default:
        check_resolve(d, n);
        break;
    }
    return 0;
}
