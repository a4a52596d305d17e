/* Fuzz target for the filesystem metadata's byte formats (fs/fs_meta_codec.c):
 * record lists (ops 44/45/47, the log), entry values, the client's entry
 * list (op 54) and log frames must decode only in canonical form (decode
 * then encode gives back the input) and never read out of bounds. A crash,
 * sanitizer report or abort is a bug. Single-threaded; built by libFuzzer
 * (make fuzz-fs-meta) or the plain replay driver.
 *
 * Input: op byte (op % 4), then the bytes for
 *   0 record list      1 entry value      2 entry list      3 log */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fs/sf_fs_meta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void recs_roundtrip(const uint8_t *p, size_t n)
{
    size_t c;
    if (sf_fs_meta_recs_count(p, n, &c) != 0) {
        return;
    }
    struct sf_fs_meta_rec *r = malloc((c ? c : 1) * sizeof *r);
    if (r == NULL) {
        return;
    }
    size_t got;
    if (sf_fs_meta_recs_decode(p, n, r, c, &got) == 0) {
        uint8_t *b = malloc(n);
        size_t len;
        if (got != c || b == NULL || sf_fs_meta_recs_encode(r, got, b, n, &len) != 0 || len != n ||
            memcmp(b, p, n) != 0) {
            abort();
        }
        free(b);
    }
    free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    switch (data[0] % 4) {
    case 0:
        recs_roundtrip(p, n);
        break;
    case 1: {
        struct sf_fs_meta_entry e;
        if (sf_fs_meta_entry_decode(p, n, &e) == 0) {
            uint8_t b[SF_FS_META_VALUE_MAX];
            size_t len;
            if (sf_fs_meta_entry_encode(&e, b, sizeof b, &len) != 0 || len != n ||
                memcmp(b, p, n) != 0) {
                abort();
            }
        }
        break;
    }
    case 2: {
        size_t off = 0, out = 0;
        uint8_t *b = malloc(n ? n : 1);
        struct sf_fs_meta_dirent d;
        int rc;
        while (b != NULL && (rc = sf_fs_meta_dirent_next(p, n, &off, &d)) == 1) {
            if (strlen(d.name) != d.name_len ||
                sf_fs_meta_dirent_put(b, n, &out, d.name, d.name_len, d.fid, &d.inode) != 0 ||
                out != off || memcmp(b, p, off) != 0) {
                abort();
            }
        }
        free(b);
        break;
    }
    case 3: {
        size_t off = 0;
        struct sf_dht_id key;
        const uint8_t *list;
        size_t ll;
        while (sf_fs_meta_log_next(p, n, &off, &key, &list, &ll) == 1) {
            if (list < p || list + ll > p + n) {
                abort();
            }
            recs_roundtrip(list, ll);
        }
        break;
    }
    }
    return 0;
}
