/* Writes the seed corpus for fuzz_fs_inode.c into a directory: valid
 * inode, dirent and list-block records of every shape, good and bad names
 * and paths, and resolve scripts for depth 1 and 2 block lists (one with a
 * short list block). Run by hand when a format changes:
 *   gen_fs_inode_corpus $(srcdir)/tests/fuzz/corpus/fs_inode */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs/sf_fs.h"

static const char *outdir;
static unsigned seq;

static void emit(uint8_t op, const void *a, size_t alen, const void *b, size_t blen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/seed-%u-%03u", outdir, op, seq++);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fputc(op, f) == EOF || (alen && fwrite(a, 1, alen, f) != alen) ||
        (blen && fwrite(b, 1, blen, f) != blen) || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

static void ids_fill(struct sf_fs_block_id *ids, size_t n, uint8_t salt)
{
    for (size_t i = 0; i < n; i++) {
        for (int k = 0; k < SF_FS_ID_LEN; k++) {
            ids[i].b[k] = (uint8_t)(i * 31 + k * 7 + salt);
        }
    }
}

static struct sf_fs_inode inode(uint32_t mode, uint64_t size, uint32_t bs)
{
    struct sf_fs_inode ino;
    memset(&ino, 0, sizeof ino);
    ino.mode = mode;
    ino.uid = 1000;
    ino.gid = 1000;
    ino.size = size;
    ino.mtime_ns = 1763780000000000000;
    ino.ctime_ns = 1763780000000000001;
    ino.version = 3;
    ino.replicas = 2;
    ino.block_size = bs;
    uint64_t nb;
    if (sf_fs_inode_shape(size, bs, &nb, &ino.depth, &ino.n_refs) != 0) {
        exit(1);
    }
    ids_fill(ino.refs, ino.n_refs, (uint8_t)size);
    return ino;
}

static size_t enc_inode(const struct sf_fs_inode *ino, uint8_t *buf)
{
    size_t len;
    if (sf_fs_inode_encode(ino, buf, SF_DHT_VALUE_MAX, &len) != 0) {
        fprintf(stderr, "gen_fs_inode_corpus: inode encode failed\n");
        exit(1);
    }
    return len;
}

/* Script for op 5: the inode, then its list blocks in the order the
 * resolver asks for them (depth first). */
struct script {
    uint8_t *b;
    size_t n, cap;
};

static void sput(struct script *s, const void *p, size_t len)
{
    if (s->n + len > s->cap) {
        s->cap = (s->n + len) * 2;
        s->b = realloc(s->b, s->cap);
        if (s->b == NULL) {
            exit(1);
        }
    }
    memcpy(s->b + s->n, p, len);
    s->n += len;
}

struct built {
    struct script *s;
    uint32_t bs;
    /* list blocks in creation order (level 1 first), to replay depth first */
    size_t n;
    uint8_t *blk[64];
    size_t len[64];
    struct sf_fs_block_id id[64];
    int short_one; /* index of a list block to cut by one entry, or -1 */
};

static int keep_put(void *arg, const void *buf, size_t len, struct sf_fs_block_id *id)
{
    struct built *b = arg;
    if (b->n >= 64) {
        return -ENOSPC;
    }
    b->blk[b->n] = malloc(len);
    memcpy(b->blk[b->n], buf, len);
    b->len[b->n] = len;
    sf_fs_block_hash(buf, len, id);
    b->id[b->n] = *id;
    b->n++;
    return 0;
}

static void emit_block(struct built *b, const struct sf_fs_block_id *id)
{
    for (size_t i = 0; i < b->n; i++) {
        if (memcmp(b->id[i].b, id->b, SF_FS_ID_LEN) == 0) {
            size_t len = b->len[i];
            if ((int)i == b->short_one) {
                len -= SF_FS_ID_LEN;
                b->blk[i][11]--; /* count field, low byte */
            }
            uint8_t hdr[2] = {(uint8_t)(len >> 8), (uint8_t)len};
            sput(b->s, hdr, 2);
            sput(b->s, b->blk[i], len);
            /* depth first: children of a level >= 2 list follow it */
            if (b->blk[i][5] >= 2) {
                size_t cnt = (len - 12) / SF_FS_ID_LEN;
                for (size_t c = 0; c < cnt; c++) {
                    struct sf_fs_block_id cid;
                    memcpy(cid.b, b->blk[i] + 12 + c * SF_FS_ID_LEN, SF_FS_ID_LEN);
                    emit_block(b, &cid);
                }
            }
            return;
        }
    }
}

static void resolve_seed(uint64_t nb, uint32_t bs, int short_one)
{
    struct script s = {0};
    struct built b = {.s = &s, .bs = bs, .short_one = short_one};
    struct sf_fs_inode ino = inode(S_IFREG | 0644, nb * bs - 1, bs);
    struct sf_fs_block_id *data = malloc(nb * sizeof *data);
    ids_fill(data, nb, 9);
    if (sf_fs_blist_build(&ino, data, nb, keep_put, &b) != 0) {
        fprintf(stderr, "gen_fs_inode_corpus: blist build failed\n");
        exit(1);
    }
    uint8_t rec[SF_DHT_VALUE_MAX];
    size_t len = enc_inode(&ino, rec);
    uint8_t hdr[2] = {(uint8_t)(len >> 8), (uint8_t)len};
    sput(&s, hdr, 2);
    sput(&s, rec, len);
    for (uint16_t i = 0; i < ino.n_refs; i++) {
        emit_block(&b, &ino.refs[i]);
    }
    emit(5, s.b, s.n, NULL, 0);
    for (size_t i = 0; i < b.n; i++) {
        free(b.blk[i]);
    }
    free(s.b);
    free(data);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    outdir = argv[1];
    mkdir(outdir, 0755);
    uint8_t rec[SF_DHT_VALUE_MAX];
    size_t len;

    /* op 0: inodes */
    uint64_t sizes[] = {0, 1, 4096, 14 * 4096, 14 * 4096 + 1, 1ull << 34};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        struct sf_fs_inode ino = inode(S_IFREG | 0640, sizes[i], 4096);
        len = enc_inode(&ino, rec);
        emit(0, rec, len, NULL, 0);
    }
    struct sf_fs_inode d = inode(S_IFDIR | 0755, 0, 1u << 20);
    emit(0, rec, enc_inode(&d, rec), NULL, 0);
    struct sf_fs_inode l = inode(S_IFLNK | 0777, 17, 1u << 20);
    emit(0, rec, enc_inode(&l, rec), NULL, 0);
    struct sf_fs_inode big = inode(S_IFREG | 0600, 5ull << 20, 1u << 20);
    big.replicas = 3;
    emit(0, rec, enc_inode(&big, rec), NULL, 0);

    /* op 1: dirents */
    struct sf_fs_dirent de;
    memset(&de, 0, sizeof de);
    const char *names[] = {"a", "rank.0.img", "\xc3\xa9t\xc3\xa9", "\xf0\x9f\x90\x9f"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        strcpy(de.name, names[i]);
        de.name_len = (uint8_t)strlen(names[i]);
        memset(de.inode.b, (int)(i + 1), SF_DHT_ID_LEN);
        de.kind = i % 2 ? S_IFDIR : S_IFREG;
        de.version = i + 1;
        de.deleted = false;
        if (sf_fs_dirent_encode(&de, rec, sizeof rec, &len) != 0) {
            return 1;
        }
        emit(1, rec, len, NULL, 0);
    }
    memset(de.name, 'n', 255);
    de.name[255] = '\0';
    de.name_len = 255;
    if (sf_fs_dirent_encode(&de, rec, sizeof rec, &len) != 0) {
        return 1;
    }
    emit(1, rec, len, NULL, 0);
    de.deleted = true;
    de.kind = 0;
    memset(&de.inode, 0, sizeof de.inode);
    if (sf_fs_dirent_encode(&de, rec, sizeof rec, &len) != 0) {
        return 1;
    }
    emit(1, rec, len, NULL, 0);

    /* op 2: list blocks */
    struct sf_fs_block_id ids[127];
    ids_fill(ids, 127, 1);
    uint8_t lb[4096];
    uint8_t bsl = 0; /* 4096 */
    if (sf_fs_blist_encode(1, ids, 3, 4096, lb, sizeof lb, &len) != 0) {
        return 1;
    }
    emit(2, &bsl, 1, lb, len);
    if (sf_fs_blist_encode(2, ids, 127, 4096, lb, sizeof lb, &len) != 0) {
        return 1;
    }
    emit(2, &bsl, 1, lb, len);

    /* op 3: names, op 4: paths (valid and not) */
    const char *nm[] = {"a", "..", ".", "caf\xc3\xa9", "\xc0\xaf", "\xed\xa0\x80", "a/b"};
    for (size_t i = 0; i < sizeof nm / sizeof nm[0]; i++) {
        emit(3, nm[i], strlen(nm[i]), NULL, 0);
    }
    const char *pt[] = {"/",     "/ckpt/job-1/rank.0", "/a/../b", "//", "/a/",
                        "rel/x", "/\xe2\x82\xac/x"};
    for (size_t i = 0; i < sizeof pt / sizeof pt[0]; i++) {
        emit(4, pt[i], strlen(pt[i]), NULL, 0);
    }

    /* op 5: resolve scripts */
    resolve_seed(128, 4096, -1);          /* depth 1, two list blocks */
    resolve_seed(14 * 127 + 1, 4096, -1); /* depth 2 */
    resolve_seed(128, 4096, 1);           /* the last list block one short */
    printf("gen_fs_inode_corpus: %u inputs in %s\n", seq, outdir);
    return 0;
}
