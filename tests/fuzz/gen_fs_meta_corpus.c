/* Writes the seed corpus of fuzz_fs_meta (one valid input per format) into
 * DIR. Run by hand when a format changes: gen_fs_meta_corpus DIR. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs/sf_fs_meta.h"

static void put(const char *dir, const char *name, uint8_t op, const uint8_t *p, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(&op, 1, 1, f) != 1 || (n > 0 && fwrite(p, 1, n, f) != n)) {
        perror(path);
        exit(1);
    }
    fclose(f);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_fs_meta_corpus DIR\n");
        return 2;
    }
    mkdir(argv[1], 0755);
    struct sf_fs_meta_entry e = {.inode = {.mode = S_IFREG | 0644,
                                           .size = 5000,
                                           .replicas = 2,
                                           .block_size = 4096,
                                           .depth = 0,
                                           .n_refs = 2,
                                           .version = 3}};
    memset(e.fid, 0x5a, sizeof e.fid);
    memset(e.inode.refs, 0x11, sizeof e.inode.refs);
    uint8_t val[SF_FS_META_VALUE_MAX];
    size_t vl;
    if (sf_fs_meta_entry_encode(&e, val, sizeof val, &vl) != 0) {
        return 1;
    }
    put(argv[1], "entry", 1, val, vl);
    struct sf_fs_meta_rec r[3] = {
        {.name = ".", .name_len = 1, .version = 1},
        {.name = "gone", .name_len = 4, .version = 2, .flags = SF_FS_META_RF_DELETED},
        {.name = "file",
         .name_len = 4,
         .version = 3,
         .cond = SF_FS_META_C_VERSION,
         .action = SF_FS_META_A_PUT,
         .value = val,
         .value_len = vl},
    };
    uint8_t list[2048];
    size_t ll;
    if (sf_fs_meta_recs_encode(r, 3, list, sizeof list, &ll) != 0) {
        return 1;
    }
    put(argv[1], "records", 0, list, ll);
    uint8_t dl[2048];
    size_t off = 0;
    sf_fs_meta_dirent_put(dl, sizeof dl, &off, "a", 1, e.fid, &e.inode);
    sf_fs_meta_dirent_put(dl, sizeof dl, &off, "b\xc3\xa9", 3, e.fid, &e.inode);
    put(argv[1], "dirents", 2, dl, off);
    struct sf_dht_id key;
    sf_fs_meta_root_key(&key);
    uint8_t *f1, *f2;
    size_t l1, l2;
    if (sf_fs_meta_log_frame(&key, r, 3, &f1, &l1) != 0 ||
        sf_fs_meta_log_frame(&key, r, 1, &f2, &l2) != 0) {
        return 1;
    }
    uint8_t *lg = malloc(l1 + l2);
    memcpy(lg, f1, l1);
    memcpy(lg + l1, f2, l2);
    put(argv[1], "log", 3, lg, l1 + l2);
    put(argv[1], "log-torn", 3, lg, l1 + l2 - 3);
    free(f1);
    free(f2);
    free(lg);
    return 0;
}
