/* Check suite for fs/ (first layer): the block store on a real directory
 * (sizes at the block boundary, streaming puts, corruption on disk, crash
 * leftovers, scrub, GC), placement and repair planning against brute force
 * with random property tests, name/path checks, and the inode, dirent and
 * block-list codecs end to end through the store. Fork mode, a timeout on
 * every case; each test makes and removes its own temp directory. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fs/fs_int.h"
#include "fs/sf_fs.h"
#include "runtime/base/sf_err.h"

/* ---------------------------------------------------------------- helpers */

static uint64_t rng_state = 0x5eed;

static uint64_t rnd(void)
{
    /* splitmix64: seeded, so a failure reproduces */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void fill(void *buf, size_t len)
{
    uint8_t *p = buf;
    for (size_t i = 0; i < len; i++) {
        p[i] = (uint8_t)rnd();
    }
}

static char *tmpdir(void)
{
    char *d = strdup("/tmp/check_fs.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(d));
    return d;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void rmrf(char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

static struct sf_fs_store *open_store(const char *dir, size_t bs)
{
    struct sf_fs_config cfg;
    sf_fs_config_default(&cfg);
    cfg.block_size = bs;
    struct sf_fs_store *s;
    ck_assert_int_eq(sf_fs_store_open(dir, &cfg, &s), 0);
    return s;
}

static void block_file(const char *dir, const struct sf_fs_block_id *id, char *out, size_t cap)
{
    char hex[65];
    sf_fs_block_id_hex(id, hex);
    snprintf(out, cap, "%s/blocks/%.2s/%s", dir, hex, hex + 2);
}

static unsigned count_dir(const char *dir, const char *sub)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    unsigned n = 0;
    DIR *d = opendir(path);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        n += e->d_name[0] != '.';
    }
    closedir(d);
    return n;
}

static int count_cb(void *arg, const struct sf_fs_block_id *id, uint64_t size)
{
    (*(unsigned *)arg)++;
    return 0;
}

static unsigned count_blocks(struct sf_fs_store *s)
{
    unsigned n = 0;
    ck_assert_int_eq(sf_fs_block_enum(s, count_cb, &n, NULL), 0);
    return n;
}

static void flip_byte(const char *path, off_t off)
{
    int fd = open(path, O_RDWR);
    ck_assert_int_ge(fd, 0);
    uint8_t b;
    ck_assert_int_eq(pread(fd, &b, 1, off), 1);
    b ^= 0x40;
    ck_assert_int_eq(pwrite(fd, &b, 1, off), 1);
    close(fd);
}

static void set_mtime(const char *path, time_t sec)
{
    struct timespec ts[2] = {{sec, 0}, {sec, 0}};
    ck_assert_int_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ------------------------------------------------------------ config, ids */

START_TEST(test_config)
{
    struct sf_fs_config c;
    unsetenv("SF_FS_BLOCK_SIZE");
    unsetenv("SF_FS_REPLICAS");
    ck_assert_int_eq(sf_fs_config_load(&c), 0);
    ck_assert_uint_eq(c.block_size, 1u << 20);
    ck_assert_int_eq(c.replicas, 2);
    setenv("SF_FS_BLOCK_SIZE", "64k", 1);
    setenv("SF_FS_REPLICAS", "3", 1);
    ck_assert_int_eq(sf_fs_config_load(&c), 0);
    ck_assert_uint_eq(c.block_size, 65536);
    ck_assert_int_eq(c.replicas, 3);
    const char *bad_bs[] = {"3000", "2k", "128m", "1000000", "x"};
    for (size_t i = 0; i < sizeof bad_bs / sizeof bad_bs[0]; i++) {
        setenv("SF_FS_BLOCK_SIZE", bad_bs[i], 1);
        ck_assert_int_eq(sf_fs_config_load(&c), SF_ERR_CONFIG);
    }
    setenv("SF_FS_BLOCK_SIZE", "4k", 1);
    setenv("SF_FS_REPLICAS", "0", 1);
    ck_assert_int_eq(sf_fs_config_load(&c), SF_ERR_CONFIG);
    setenv("SF_FS_REPLICAS", "17", 1);
    ck_assert_int_eq(sf_fs_config_load(&c), SF_ERR_CONFIG);
}
END_TEST

START_TEST(test_id_hex)
{
    struct sf_fs_block_id id, back;
    sf_fs_block_hash("", 0, &id);
    char hex[65];
    /* BLAKE2b-256 of the empty string (RFC 7693 parameters, 32-byte out). */
    ck_assert_str_eq(sf_fs_block_id_hex(&id, hex),
                     "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
    ck_assert_int_eq(sf_fs_block_id_parse(hex, &back), 0);
    ck_assert_int_eq(sf_fs_block_id_cmp(&id, &back), 0);
    hex[10] = 'A';
    ck_assert_int_eq(sf_fs_block_id_parse(hex, &back), 0); /* either case */
    ck_assert_int_eq(sf_fs_block_id_parse("abc", &back), -EINVAL);
    hex[10] = 'g';
    ck_assert_int_eq(sf_fs_block_id_parse(hex, &back), -EINVAL);
    char longer[70];
    snprintf(longer, sizeof longer, "%s0", sf_fs_block_id_hex(&id, hex));
    ck_assert_int_eq(sf_fs_block_id_parse(longer, &back), -EINVAL);
    struct sf_dht_id key;
    sf_fs_block_key(&id, &key);
    ck_assert_mem_eq(key.b, id.b, SF_DHT_ID_LEN);
}
END_TEST

/* ------------------------------------------------------------ block store */

START_TEST(test_store_boundaries)
{
    /* The default 1 MiB block: 0 B, 1 B, exactly one block, one more. */
    char *dir = tmpdir();
    struct sf_fs_store *s = open_store(dir, SF_FS_BLOCK_DEFAULT);
    ck_assert_uint_eq(sf_fs_store_block_size(s), SF_FS_BLOCK_DEFAULT);
    size_t bs = SF_FS_BLOCK_DEFAULT;
    uint8_t *data = malloc(bs + 1), *back = malloc(bs + 1);
    fill(data, bs + 1);
    size_t sizes[] = {0, 1, bs};
    for (size_t i = 0; i < 3; i++) {
        struct sf_fs_block_id id, want;
        sf_fs_block_hash(data, sizes[i], &want);
        ck_assert_int_eq(sf_fs_block_put(s, data, sizes[i], NULL, &id), 0);
        ck_assert_int_eq(sf_fs_block_id_cmp(&id, &want), 0);
        char path[512];
        block_file(dir, &id, path, sizeof path);
        struct stat st;
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_int_eq(st.st_size, (off_t)sizes[i]);
        uint64_t sz;
        ck_assert_int_eq(sf_fs_block_stat(s, &id, &sz), 0);
        ck_assert_uint_eq(sz, sizes[i]);
        size_t len = 99;
        ck_assert_int_eq(sf_fs_block_get(s, &id, back, bs + 1, &len), 0);
        ck_assert_uint_eq(len, sizes[i]);
        ck_assert_mem_eq(back, data, sizes[i]);
        if (sizes[i] > 0) {
            /* A buffer one byte short is refused before reading. */
            ck_assert_int_eq(sf_fs_block_get(s, &id, back, sizes[i] - 1, &len), -EFBIG);
        }
    }
    struct sf_fs_block_id id;
    ck_assert_int_eq(sf_fs_block_put(s, data, bs + 1, NULL, &id), -EFBIG);
    struct iovec iov[2] = {{data, bs}, {data, 1}};
    ck_assert_int_eq(sf_fs_block_putv(s, iov, 2, NULL, &id), -EFBIG);
    ck_assert_uint_eq(count_blocks(s), 3);
    ck_assert_uint_eq(count_dir(dir, "tmp"), 0);
    struct sf_fs_block_id absent;
    sf_fs_block_hash("absent", 6, &absent);
    size_t len;
    ck_assert_int_eq(sf_fs_block_get(s, &absent, back, bs, &len), -ENOENT);
    ck_assert_int_eq(sf_fs_block_stat(s, &absent, NULL), -ENOENT);
    sf_fs_store_close(s);
    free(data);
    free(back);
    rmrf(dir);
}
END_TEST

START_TEST(test_store_streaming)
{
    char *dir = tmpdir();
    struct sf_fs_store *s = open_store(dir, 65536);
    uint8_t data[65536];
    fill(data, sizeof data);
    struct sf_fs_block_id whole, id;
    sf_fs_block_hash(data, sizeof data, &whole);
    /* Odd-sized pieces hash to the same id as the whole. */
    struct sf_fs_put *p;
    ck_assert_int_eq(sf_fs_put_begin(s, &p), 0);
    size_t off = 0, step = 1;
    while (off < sizeof data) {
        size_t n = step < sizeof data - off ? step : sizeof data - off;
        ck_assert_int_eq(sf_fs_put_write(p, data + off, n), 0);
        off += n;
        step = step * 3 + 1;
    }
    ck_assert_int_eq(sf_fs_put_commit(p, &whole, &id), 0);
    ck_assert_int_eq(sf_fs_block_id_cmp(&id, &whole), 0);
    /* iovec put of a different block; expected id given. */
    struct sf_fs_block_id want;
    sf_fs_block_hash(data, 1000, &want);
    struct iovec iov[3] = {{data, 10}, {data + 10, 0}, {data + 10, 990}};
    ck_assert_int_eq(sf_fs_block_putv(s, iov, 3, &want, &id), 0);
    ck_assert_int_eq(sf_fs_block_id_cmp(&id, &want), 0);
    /* A damaged transfer (bytes do not match the id the sender named) is
     * refused and leaves nothing behind. */
    data[5] ^= 1;
    ck_assert_int_eq(sf_fs_block_put(s, data, 1000, &want, &id), SF_FS_ECORRUPT);
    struct sf_fs_block_id damaged;
    sf_fs_block_hash(data, 1000, &damaged);
    ck_assert_int_eq(sf_fs_block_stat(s, &damaged, NULL), -ENOENT);
    /* Writing past the block size makes the put abort-only. */
    ck_assert_int_eq(sf_fs_put_begin(s, &p), 0);
    ck_assert_int_eq(sf_fs_put_write(p, data, 60000), 0);
    ck_assert_int_eq(sf_fs_put_write(p, data, 6000), -EFBIG);
    ck_assert_int_eq(sf_fs_put_write(p, data, 1), -EFBIG);
    ck_assert_int_eq(sf_fs_put_commit(p, NULL, &id), -EFBIG);
    ck_assert_int_eq(sf_fs_put_begin(s, &p), 0);
    ck_assert_int_eq(sf_fs_put_write(p, data, 100), 0);
    sf_fs_put_abort(p);
    ck_assert_uint_eq(count_blocks(s), 2);
    ck_assert_uint_eq(count_dir(dir, "tmp"), 0);
    sf_fs_store_close(s);
    rmrf(dir);
}
END_TEST

START_TEST(test_store_idempotent)
{
    char *dir = tmpdir();
    struct sf_fs_store *s = open_store(dir, 4096);
    uint8_t data[3000];
    fill(data, sizeof data);
    struct sf_fs_block_id a, b;
    ck_assert_int_eq(sf_fs_block_put(s, data, sizeof data, NULL, &a), 0);
    char path[512];
    block_file(dir, &a, path, sizeof path);
    set_mtime(path, 1000000);
    ck_assert_int_eq(sf_fs_block_put(s, data, sizeof data, NULL, &b), 0);
    ck_assert_int_eq(sf_fs_block_id_cmp(&a, &b), 0);
    ck_assert_uint_eq(count_blocks(s), 1);
    ck_assert_uint_eq(count_dir(dir, "tmp"), 0);
    /* The repeated put refreshed the mtime (the GC grace rule). */
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_gt(st.st_mtime, 1000000);
    /* Delete, then gone; a second delete says so. */
    ck_assert_int_eq(sf_fs_block_delete(s, &a), 0);
    ck_assert_int_eq(sf_fs_block_delete(s, &a), -ENOENT);
    uint8_t back[4096];
    size_t len;
    ck_assert_int_eq(sf_fs_block_get(s, &a, back, sizeof back, &len), -ENOENT);
    ck_assert_uint_eq(count_blocks(s), 0);
    sf_fs_store_close(s);
    rmrf(dir);
}
END_TEST

/* A put named by the caller's own hash stores the bytes under that id
 * (readable, verified on get), is idempotent like a plain put, and still
 * refuses a block over the block size. */
START_TEST(test_store_put_named)
{
    char *dir = tmpdir();
    struct sf_fs_store *s = open_store(dir, 4096);
    uint8_t data[3000], back[4096];
    fill(data, sizeof data);
    struct sf_fs_block_id id, id2;
    sf_fs_block_hash(data, sizeof data, &id);
    ck_assert_int_eq(sf_fs_block_put_named(s, data, sizeof data, &id), 0);
    size_t len = 0;
    ck_assert_int_eq(sf_fs_block_get(s, &id, back, sizeof back, &len), 0);
    ck_assert_uint_eq(len, sizeof data);
    ck_assert_mem_eq(back, data, len);
    ck_assert_int_eq(sf_fs_block_put_named(s, data, sizeof data, &id), 0);
    ck_assert_int_eq(sf_fs_block_put(s, data, sizeof data, &id, &id2), 0);
    ck_assert_int_eq(sf_fs_block_id_cmp(&id, &id2), 0);
    ck_assert_uint_eq(count_blocks(s), 1);
    ck_assert_uint_eq(count_dir(dir, "tmp"), 0);
    uint8_t big[4097];
    fill(big, sizeof big);
    ck_assert_int_eq(sf_fs_block_put_named(s, big, sizeof big, &id), -EFBIG);
    ck_assert_uint_eq(count_dir(dir, "tmp"), 0);
    sf_fs_store_close(s);
    rmrf(dir);
}
END_TEST

START_TEST(test_store_corrupt)
{
    char *dir = tmpdir();
    struct sf_fs_store *s = open_store(dir, 4096);
    /* back has room for a grown file, so the extra byte is read and the
     * hash check (not the size check) catches it. */
    uint8_t data[4096], back[8192];
    fill(data, sizeof data);
    struct sf_fs_block_id id;
    ck_assert_int_eq(sf_fs_block_put(s, data, sizeof data, NULL, &id), 0);
    char path[512];
    block_file(dir, &id, path, sizeof path);
    /* Three kinds of damage: a flipped byte, a cut tail, an extra byte. */
    for (int kind = 0; kind < 3; kind++) {
        if (kind == 0) {
            flip_byte(path, 1234);
        } else if (kind == 1) {
            ck_assert_int_eq(truncate(path, 4000), 0);
        } else {
            ck_assert_int_eq(truncate(path, 4000), 0);
            ck_assert_int_eq(sf_fs_block_put(s, data, sizeof data, NULL, NULL), 0);
            /* The put found the (bad) file present and kept it: only a read
             * can tell, and it moves the file aside. */
            ck_assert_int_eq(sf_fs_block_get(s, &id, back, sizeof back, &(size_t){0}),
                             SF_FS_ECORRUPT);
            ck_assert_int_eq(sf_fs_block_put(s, data, sizeof data, NULL, NULL), 0);
            FILE *f = fopen(path, "ab");
            fputc('x', f);
            fclose(f);
        }
        size_t len;
        ck_assert_int_eq(sf_fs_block_get(s, &id, back, sizeof back, &len), SF_FS_ECORRUPT);
        /* Moved aside: the block now reads as absent ... */
        ck_assert_int_eq(sf_fs_block_stat(s, &id, NULL), -ENOENT);
        ck_assert_int_eq(sf_fs_block_get(s, &id, back, sizeof back, &len), -ENOENT);
        /* ... and a put from a good replica repairs it. */
        ck_assert_int_eq(sf_fs_block_put(s, data, sizeof data, &id, NULL), 0);
        ck_assert_int_eq(sf_fs_block_get(s, &id, back, sizeof back, &len), 0);
        ck_assert_mem_eq(back, data, sizeof data);
    }
    ck_assert_uint_ge(count_dir(dir, "corrupt"), 3);
    sf_fs_store_close(s);
    rmrf(dir);
}
END_TEST

struct bad_list {
    unsigned n;
    struct sf_fs_block_id ids[16];
};

static int bad_cb(void *arg, const struct sf_fs_block_id *id, uint64_t size)
{
    struct bad_list *b = arg;
    if (b->n < 16) {
        b->ids[b->n] = *id;
    }
    b->n++;
    return 0;
}

START_TEST(test_store_scrub)
{
    char *dir = tmpdir();
    struct sf_fs_store *s = open_store(dir, 4096);
    struct sf_fs_block_id ids[20];
    uint8_t data[4096];
    uint64_t total = 0;
    for (int i = 0; i < 20; i++) {
        size_t len = 1 + rnd() % sizeof data;
        fill(data, len);
        ck_assert_int_eq(sf_fs_block_put(s, data, len, NULL, &ids[i]), 0);
        total += len;
    }
    struct sf_fs_scrub_stats st;
    struct bad_list bad = {0};
    ck_assert_int_eq(sf_fs_block_scrub(s, bad_cb, &bad, &st), 0);
    ck_assert_uint_eq(st.blocks, 20);
    ck_assert_uint_eq(st.bytes, total);
    ck_assert_uint_eq(st.corrupt, 0);
    ck_assert_uint_eq(bad.n, 0);
    int victims[3] = {2, 11, 17};
    for (int v = 0; v < 3; v++) {
        char path[512];
        block_file(dir, &ids[victims[v]], path, sizeof path);
        flip_byte(path, 0);
    }
    ck_assert_int_eq(sf_fs_block_scrub(s, bad_cb, &bad, &st), 0);
    ck_assert_uint_eq(st.blocks, 20);
    ck_assert_uint_eq(st.corrupt, 3);
    ck_assert_uint_eq(bad.n, 3);
    for (int v = 0; v < 3; v++) {
        bool found = false;
        for (unsigned k = 0; k < bad.n; k++) {
            found |= sf_fs_block_id_cmp(&bad.ids[k], &ids[victims[v]]) == 0;
        }
        ck_assert(found);
        ck_assert_int_eq(sf_fs_block_stat(s, &ids[victims[v]], NULL), -ENOENT);
    }
    ck_assert_int_eq(sf_fs_block_scrub(s, NULL, NULL, &st), 0);
    ck_assert_uint_eq(st.blocks, 17);
    ck_assert_uint_eq(st.corrupt, 0);
    sf_fs_store_close(s);
    rmrf(dir);
}
END_TEST

START_TEST(test_store_crash_leftovers)
{
    char *dir = tmpdir();
    uint8_t data[4096];
    fill(data, sizeof data);
    struct sf_fs_block_id id;
    sf_fs_block_hash(data, sizeof data, &id);
    /* A child writes a whole block to its temp file and dies before the
     * rename (the crash window of a put). */
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct sf_fs_config cfg;
        sf_fs_config_default(&cfg);
        cfg.block_size = 4096;
        struct sf_fs_store *s;
        struct sf_fs_put *p;
        if (sf_fs_store_open(dir, &cfg, &s) != 0 || sf_fs_put_begin(s, &p) != 0 ||
            sf_fs_put_write(p, data, sizeof data) != 0) {
            _exit(1);
        }
        _exit(0); /* no commit, no abort, no close */
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ck_assert_uint_eq(count_dir(dir, "tmp"), 1);
    /* Plus a stranger's half-written file in tmp/. */
    char junk[512];
    snprintf(junk, sizeof junk, "%s/tmp/put.999999", dir);
    FILE *f = fopen(junk, "w");
    fputs("half", f);
    fclose(f);
    struct sf_fs_store *s = open_store(dir, 4096);
    ck_assert_uint_eq(sf_fs_store_cleaned(s), 2);
    ck_assert_uint_eq(count_dir(dir, "tmp"), 0);
    ck_assert_uint_eq(count_blocks(s), 0);
    uint8_t back[4096];
    size_t len;
    ck_assert_int_eq(sf_fs_block_get(s, &id, back, sizeof back, &len), -ENOENT);
    /* The put can be redone. */
    ck_assert_int_eq(sf_fs_block_put(s, data, sizeof data, &id, NULL), 0);
    ck_assert_int_eq(sf_fs_block_get(s, &id, back, sizeof back, &len), 0);
    sf_fs_store_close(s);
    rmrf(dir);
}
END_TEST

START_TEST(test_store_lock_and_stray)
{
    char *dir = tmpdir();
    struct sf_fs_store *s = open_store(dir, 4096), *s2;
    ck_assert_int_eq(sf_fs_store_open(dir, NULL, &s2), -EBUSY);
    struct sf_fs_config bad;
    sf_fs_config_default(&bad);
    bad.block_size = 5000;
    ck_assert_int_eq(sf_fs_store_open(dir, &bad, &s2), -EINVAL);
    ck_assert_int_eq(sf_fs_block_put(s, "x", 1, NULL, NULL), 0);
    /* Files that are not block names are skipped and counted. */
    const char *strays[] = {"blocks/ab/junk", "blocks/ab/ABCDEF",
                            "blocks/cd/"
                            "00000000000000000000000000000000000000000000000000000000000000"};
    char dirname_blk[512];
    snprintf(dirname_blk, sizeof dirname_blk, "%s/blocks/ab/%062d", dir, 0);
    for (size_t i = 0; i < 3; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, strays[i]);
        FILE *f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        fclose(f);
    }
    ck_assert_int_eq(mkdir(dirname_blk, 0700), 0); /* a directory with a block's name */
    unsigned n = 0, stray = 0;
    ck_assert_int_eq(sf_fs_block_enum(s, count_cb, &n, &stray), 0);
    ck_assert_uint_eq(n, 2); /* "x" and the empty file named like a block */
    ck_assert_uint_eq(stray, 3);
    sf_fs_store_close(s);
    s = open_store(dir, 4096);
    sf_fs_store_close(s);
    rmrf(dir);
}
END_TEST

struct gc_seen {
    const struct sf_fs_block_id *ids;
    size_t n;
    bool *present;
};

static int gc_seen_cb(void *arg, const struct sf_fs_block_id *id, uint64_t size)
{
    struct gc_seen *g = arg;
    for (size_t i = 0; i < g->n; i++) {
        if (sf_fs_block_id_cmp(id, &g->ids[i]) == 0) {
            g->present[i] = true;
        }
    }
    return 0;
}

START_TEST(test_store_gc)
{
    char *dir = tmpdir();
    struct sf_fs_store *s = open_store(dir, 4096);
    enum { N = 60 };
    static uint8_t data[N][64];
    struct sf_fs_block_id ids[N];
    bool present[N];
    time_t old = time(NULL) - 1000;
    for (int i = 0; i < N; i++) {
        fill(data[i], sizeof data[i]);
        ck_assert_int_eq(sf_fs_block_put(s, data[i], sizeof data[i], NULL, &ids[i]), 0);
        char path[512];
        block_file(dir, &ids[i], path, sizeof path);
        set_mtime(path, old);
    }
    /* Several rounds with random live sets: a live block always survives,
     * a dead one older than the cutoff always goes. */
    bool alive[N];
    for (int i = 0; i < N; i++) {
        alive[i] = true;
    }
    for (int round = 0; round < 3; round++) {
        struct sf_fs_block_id live[2 * N + 3];
        size_t n_live = 0;
        for (int i = 0; i < N; i++) {
            if (alive[i] && rnd() % 5 != 0) {
                live[n_live++] = ids[i];
                if (rnd() % 5 == 0) {
                    live[n_live++] = ids[i]; /* duplicates are fine */
                }
            } else {
                alive[i] = false;
            }
        }
        for (int k = 0; k < 3; k++) {
            sf_fs_block_hash(&k, sizeof k, &live[n_live++]); /* ids not stored */
        }
        uint64_t deleted;
        ck_assert_int_eq(sf_fs_block_gc(s, live, n_live, now_ns(), &deleted), 0);
        memset(present, 0, sizeof present);
        struct gc_seen g = {ids, N, present};
        ck_assert_int_eq(sf_fs_block_enum(s, gc_seen_cb, &g, NULL), 0);
        for (int i = 0; i < N; i++) {
            ck_assert_int_eq(present[i], alive[i]);
        }
    }
    /* Grace: the cutoff is taken, then block A is put again (a new file
     * reuses it before its inode is published). A GC whose live set misses
     * both A and B keeps A (newer than the cutoff) and deletes B. */
    int a = -1, b = -1;
    size_t n_alive = 0;
    for (int i = 0; i < N; i++) {
        if (alive[i]) {
            n_alive++;
            if (a < 0) {
                a = i;
            } else if (b < 0) {
                b = i;
            }
        }
    }
    ck_assert_int_ge(b, 0);
    int64_t cutoff = (int64_t)(old + 500) * 1000000000;
    ck_assert_int_eq(sf_fs_block_put(s, data[a], sizeof data[a], NULL, NULL), 0);
    struct sf_fs_block_id live[N];
    size_t n_live = 0;
    for (int i = 0; i < N; i++) {
        if (alive[i] && i != a && i != b) {
            live[n_live++] = ids[i];
        }
    }
    uint64_t deleted;
    ck_assert_int_eq(sf_fs_block_gc(s, live, n_live, cutoff, &deleted), 0);
    ck_assert_uint_eq(deleted, 1);
    ck_assert_int_eq(sf_fs_block_stat(s, &ids[a], NULL), 0);
    ck_assert_int_eq(sf_fs_block_stat(s, &ids[b], NULL), -ENOENT);
    /* Empty live set, same cutoff: every old block goes, A stays. */
    ck_assert_int_eq(sf_fs_block_gc(s, NULL, 0, cutoff, &deleted), 0);
    ck_assert_uint_eq(deleted, n_alive - 2);
    ck_assert_int_eq(sf_fs_block_stat(s, &ids[a], NULL), 0);
    ck_assert_uint_eq(count_blocks(s), 1);
    /* A put that wrote its bytes before the cutoff but commits after it
     * counts as new: commit stamps the block with its own time. */
    struct sf_fs_put *p;
    uint8_t late[64];
    fill(late, sizeof late);
    ck_assert_int_eq(sf_fs_put_begin(s, &p), 0);
    ck_assert_int_eq(sf_fs_put_write(p, late, sizeof late), 0);
    char tmpf[512];
    DIR *td = opendir(strcat(strcpy(tmpf, dir), "/tmp"));
    struct dirent *e;
    while ((e = readdir(td)) != NULL && e->d_name[0] == '.') {
    }
    ck_assert_ptr_nonnull(e);
    snprintf(tmpf, sizeof tmpf, "%s/tmp/%s", dir, e->d_name);
    closedir(td);
    set_mtime(tmpf, old);
    struct sf_fs_block_id late_id;
    ck_assert_int_eq(sf_fs_put_commit(p, NULL, &late_id), 0);
    ck_assert_int_eq(sf_fs_block_gc(s, NULL, 0, cutoff, &deleted), 0);
    ck_assert_uint_eq(deleted, 0);
    ck_assert_int_eq(sf_fs_block_stat(s, &late_id, NULL), 0);
    ck_assert_int_eq(sf_fs_block_delete(s, &late_id), 0);
    /* GC also empties corrupt/. */
    char path[512];
    block_file(dir, &ids[a], path, sizeof path);
    flip_byte(path, 3);
    uint8_t buf[64];
    size_t len;
    ck_assert_int_eq(sf_fs_block_get(s, &ids[a], buf, sizeof buf, &len), SF_FS_ECORRUPT);
    ck_assert_uint_eq(count_dir(dir, "corrupt"), 1);
    ck_assert_int_eq(sf_fs_block_gc(s, NULL, 0, cutoff, &deleted), 0);
    ck_assert_uint_eq(count_dir(dir, "corrupt"), 0);
    sf_fs_store_close(s);
    rmrf(dir);
}
END_TEST

/* Concurrency: one thread re-puts blocks whose files are old while another
 * runs GC with an empty live set and a cutoff taken before the re-puts.
 * Whatever the interleaving, every put that returned success must leave its
 * block in place (the GC either ran first and the put wrote a fresh copy,
 * or the put refreshed the mtime first and the GC skipped it). A smoke
 * test with real threads; test_store_gc_reput_window below forces the
 * window deterministically (and fails without the GC's re-check). */
#define RACE_N 150

struct race {
    struct sf_fs_store *s;
    uint8_t data[RACE_N][100];
    struct sf_fs_block_id ids[RACE_N];
    int64_t cutoff;
    int done; /* atomic */
    unsigned gc_rounds;
    uint64_t gc_deleted;
};

static void *race_gc(void *arg)
{
    struct race *r = arg;
    /* At least one full pass, then until the putter is done. */
    do {
        uint64_t d = 0;
        if (sf_fs_block_gc(r->s, NULL, 0, r->cutoff, &d) != 0) {
            return (void *)1;
        }
        r->gc_deleted += d;
        r->gc_rounds++;
    } while (!__atomic_load_n(&r->done, __ATOMIC_ACQUIRE));
    return NULL;
}

START_TEST(test_store_gc_race)
{
    char *dir = tmpdir();
    static struct race r;
    memset(&r, 0, sizeof r);
    r.s = open_store(dir, 4096);
    time_t old = time(NULL) - 1000;
    for (int i = 0; i < RACE_N; i++) {
        fill(r.data[i], sizeof r.data[i]);
        ck_assert_int_eq(sf_fs_block_put(r.s, r.data[i], sizeof r.data[i], NULL, &r.ids[i]), 0);
        char path[512];
        block_file(dir, &r.ids[i], path, sizeof path);
        set_mtime(path, old);
    }
    r.cutoff = now_ns();
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, race_gc, &r), 0);
    for (int i = 0; i < RACE_N; i++) {
        ck_assert_int_eq(sf_fs_block_put(r.s, r.data[i], sizeof r.data[i], &r.ids[i], NULL), 0);
    }
    __atomic_store_n(&r.done, 1, __ATOMIC_RELEASE);
    void *ret;
    ck_assert_int_eq(pthread_join(t, &ret), 0);
    ck_assert_ptr_null(ret);
    for (int i = 0; i < RACE_N; i++) {
        uint8_t back[4096];
        size_t len;
        ck_assert_int_eq(sf_fs_block_get(r.s, &r.ids[i], back, sizeof back, &len), 0);
        ck_assert_mem_eq(back, r.data[i], sizeof r.data[i]);
    }
    ck_assert_uint_eq(count_blocks(r.s), RACE_N);
    ck_assert_uint_eq(count_dir(dir, "tmp"), 0);
    sf_fs_store_close(r.s);
    rmrf(dir);
}
END_TEST

/* The same race made deterministic: the hook re-puts the block between
 * the GC's walk (which saw it old) and its delete. */
struct hook_arg {
    struct race *r;
    unsigned calls, reput;
};

static void reput_hook(void *arg, const struct sf_fs_block_id *id)
{
    struct hook_arg *h = arg;
    h->calls++;
    for (int i = 0; i < RACE_N; i++) {
        if (i % 2 == 0 && sf_fs_block_id_cmp(id, &h->r->ids[i]) == 0) {
            ck_assert_int_eq(
                sf_fs_block_put(h->r->s, h->r->data[i], sizeof h->r->data[i], NULL, NULL), 0);
            h->reput++;
        }
    }
}

START_TEST(test_store_gc_reput_window)
{
    char *dir = tmpdir();
    static struct race r;
    memset(&r, 0, sizeof r);
    r.s = open_store(dir, 4096);
    time_t old = time(NULL) - 1000;
    for (int i = 0; i < RACE_N; i++) {
        fill(r.data[i], sizeof r.data[i]);
        ck_assert_int_eq(sf_fs_block_put(r.s, r.data[i], sizeof r.data[i], NULL, &r.ids[i]), 0);
        char path[512];
        block_file(dir, &r.ids[i], path, sizeof path);
        set_mtime(path, old);
    }
    struct hook_arg h = {&r, 0, 0};
    sf_fs__store_set_gc_hook(r.s, reput_hook, &h);
    uint64_t deleted;
    ck_assert_int_eq(sf_fs_block_gc(r.s, NULL, 0, now_ns(), &deleted), 0);
    ck_assert_uint_eq(h.calls, RACE_N);
    ck_assert_uint_eq(h.reput, RACE_N / 2);
    ck_assert_uint_eq(deleted, RACE_N / 2);
    for (int i = 0; i < RACE_N; i++) {
        ck_assert_int_eq(sf_fs_block_stat(r.s, &r.ids[i], NULL), i % 2 == 0 ? 0 : -ENOENT);
    }
    sf_fs_store_close(r.s);
    rmrf(dir);
}
END_TEST

/* -------------------------------------------------------------- placement */

static struct sf_dht_id rand_id(void)
{
    struct sf_dht_id id;
    fill(id.b, sizeof id.b);
    return id;
}

static const struct sf_dht_id *g_key;

static int dist_cmp_q(const void *a, const void *b)
{
    return sf_dht_id_cmp_dist(g_key, a, b);
}

START_TEST(test_place_brute)
{
    for (int trial = 0; trial < 500; trial++) {
        size_t n = rnd() % 40;
        struct sf_dht_id nodes[48], sorted[48];
        for (size_t i = 0; i < n; i++) {
            nodes[i] = rand_id();
        }
        /* Some duplicates: the same node listed twice counts once. */
        size_t ndup = n > 2 ? rnd() % 3 : 0;
        for (size_t d = 0; d < ndup; d++) {
            nodes[n + d] = nodes[rnd() % n];
        }
        size_t total = n + ndup;
        struct sf_dht_id key = rand_id();
        memcpy(sorted, nodes, n * sizeof *nodes);
        g_key = &key;
        qsort(sorted, n, sizeof *sorted, dist_cmp_q);
        int r = 1 + (int)(rnd() % 5);
        size_t idx[SF_FS_R_MAX];
        int got = sf_fs_place(&key, nodes, total, r, idx);
        ck_assert_int_eq(got, (int)(n < (size_t)r ? n : (size_t)r));
        for (int i = 0; i < got; i++) {
            ck_assert_uint_lt(idx[i], total);
            ck_assert_mem_eq(nodes[idx[i]].b, sorted[i].b, SF_DHT_ID_LEN);
            ck_assert_uint_lt(idx[i], n); /* the first listing of a node */
        }
        /* Order of the input does not change the chosen nodes. */
        struct sf_dht_id shuf[48];
        memcpy(shuf, nodes, n * sizeof *nodes);
        for (size_t i = n; i > 1; i--) {
            size_t j = rnd() % i;
            struct sf_dht_id t = shuf[i - 1];
            shuf[i - 1] = shuf[j];
            shuf[j] = t;
        }
        size_t idx2[SF_FS_R_MAX];
        ck_assert_int_eq(sf_fs_place(&key, shuf, n, r, idx2), got);
        for (int i = 0; i < got; i++) {
            ck_assert_mem_eq(shuf[idx2[i]].b, nodes[idx[i]].b, SF_DHT_ID_LEN);
        }
    }
    struct sf_dht_id key = rand_id(), one = rand_id();
    size_t idx[SF_FS_R_MAX + 1];
    ck_assert_int_eq(sf_fs_place(&key, &one, 1, 0, idx), -EINVAL);
    ck_assert_int_eq(sf_fs_place(&key, &one, 1, SF_FS_R_MAX + 1, idx), -EINVAL);
    ck_assert_int_eq(sf_fs_place(&key, NULL, 0, 2, idx), 0);
    ck_assert_int_eq(sf_fs_place(&key, &one, 1, SF_FS_R_MAX, idx), 1);
}
END_TEST

/* A simulated cluster: which nodes hold which blocks. */
#define SIM_NODES 40
#define SIM_BLOCKS 200

struct sim {
    size_t n_nodes;
    struct sf_dht_id nodes[SIM_NODES];
    bool up[SIM_NODES];
    bool holds[SIM_BLOCKS][SIM_NODES];
    struct sf_fs_repair_block blocks[SIM_BLOCKS];
    struct sf_dht_id holder_ids[SIM_BLOCKS][SIM_NODES];
    size_t n_blocks;
    unsigned copies, lost, surplus;
    /* the copy list, to compare two runs */
    unsigned n_log;
    struct {
        size_t b;
        struct sf_dht_id src, dst;
    } log[SIM_BLOCKS * SF_FS_R_MAX];
};

static int sim_index(const struct sim *m, const struct sf_dht_id *id)
{
    for (size_t i = 0; i < m->n_nodes; i++) {
        if (memcmp(m->nodes[i].b, id->b, SF_DHT_ID_LEN) == 0) {
            return (int)i;
        }
    }
    return -1;
}

static size_t sim_live(const struct sim *m, struct sf_dht_id *out)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n_nodes; i++) {
        if (m->up[i]) {
            out[n++] = m->nodes[i];
        }
    }
    return n;
}

static void sim_cb(void *arg, enum sf_fs_repair_kind kind, size_t b, const struct sf_dht_id *src,
                   const struct sf_dht_id *dst)
{
    struct sim *m = arg;
    ck_assert_uint_lt(b, m->n_blocks);
    if (kind == SF_FS_REPAIR_LOST) {
        ck_assert_ptr_null(src);
        m->lost++;
        return;
    }
    int si = sim_index(m, src);
    ck_assert_int_ge(si, 0);
    ck_assert(m->up[si]);
    ck_assert(m->holds[b][si]); /* the source really has it */
    if (kind == SF_FS_REPAIR_SURPLUS) {
        ck_assert_ptr_null(dst);
        m->surplus++;
        return;
    }
    ck_assert_int_eq(kind, SF_FS_REPAIR_COPY);
    int di = sim_index(m, dst);
    ck_assert_int_ge(di, 0);
    ck_assert(m->up[di]);
    ck_assert(!m->holds[b][di]); /* never a copy to a holder */
    m->copies++;
    ck_assert_uint_lt(m->n_log, SIM_BLOCKS * SF_FS_R_MAX);
    m->log[m->n_log].b = b;
    m->log[m->n_log].src = *src;
    m->log[m->n_log].dst = *dst;
    m->n_log++;
}

/* Fill blocks[].holders from the holds matrix (all holders, dead too). */
static void sim_holders(struct sim *m)
{
    for (size_t b = 0; b < m->n_blocks; b++) {
        size_t k = 0;
        for (size_t i = 0; i < m->n_nodes; i++) {
            if (m->holds[b][i]) {
                m->holder_ids[b][k++] = m->nodes[i];
            }
        }
        m->blocks[b].holders = m->holder_ids[b];
        m->blocks[b].n_holders = k;
    }
}

/* After a change: plan from the given holders, apply the copies, and check
 * that every block has min(r, live) distinct live holders including all its
 * targets. Returns blocks lost. */
static unsigned sim_repair(struct sim *m, const struct sf_dht_id *old, size_t n_old)
{
    struct sf_dht_id live[SIM_NODES];
    size_t n_live = sim_live(m, live);
    sim_holders(m);
    m->copies = m->lost = m->surplus = 0;
    m->n_log = 0;
    struct sf_fs_repair_stats st;
    ck_assert_int_eq(
        sf_fs_repair_plan(old, n_old, live, n_live, m->blocks, m->n_blocks, sim_cb, m, &st), 0);
    ck_assert_uint_eq(st.copies, m->copies);
    ck_assert_uint_eq(st.lost, m->lost);
    ck_assert_uint_eq(st.blocks, m->n_blocks);
    /* Deterministic: the same inputs in another order give the same plan. */
    unsigned n_log = m->n_log;
    __typeof__(m->log[0]) *first = malloc(sizeof m->log[0] * (n_log ? n_log : 1));
    memcpy(first, m->log, sizeof m->log[0] * n_log);
    struct sf_dht_id rev[SIM_NODES];
    for (size_t i = 0; i < n_live; i++) {
        rev[i] = live[n_live - 1 - i];
    }
    m->copies = m->lost = m->surplus = 0;
    m->n_log = 0;
    ck_assert_int_eq(
        sf_fs_repair_plan(old, n_old, rev, n_live, m->blocks, m->n_blocks, sim_cb, m, NULL), 0);
    ck_assert_uint_eq(m->n_log, n_log);
    ck_assert_mem_eq(m->log, first, sizeof m->log[0] * n_log);
    free(first);
    for (unsigned c = 0; c < m->n_log; c++) {
        m->holds[m->log[c].b][sim_index(m, &m->log[c].dst)] = true;
    }
    for (size_t b = 0; b < m->n_blocks; b++) {
        struct sf_dht_id key;
        sf_fs_block_key(&m->blocks[b].id, &key);
        size_t idx[SF_FS_R_MAX];
        int nt = sf_fs_place(&key, live, n_live, m->blocks[b].r, idx);
        unsigned live_holders = 0;
        for (size_t i = 0; i < m->n_nodes; i++) {
            live_holders += m->up[i] && m->holds[b][i];
        }
        if (live_holders == 0) {
            continue; /* lost: counted by the planner */
        }
        ck_assert_uint_ge(live_holders, (unsigned)nt);
        for (int t = 0; t < nt; t++) {
            ck_assert(m->holds[b][sim_index(m, &live[idx[t]])]);
        }
    }
    return m->lost;
}

static void sim_init(struct sim *m, size_t n_nodes, int r_max)
{
    memset(m, 0, sizeof *m);
    m->n_nodes = n_nodes;
    for (size_t i = 0; i < n_nodes; i++) {
        m->nodes[i] = rand_id();
        m->up[i] = true;
    }
    m->n_blocks = SIM_BLOCKS;
    struct sf_dht_id live[SIM_NODES];
    size_t n_live = sim_live(m, live);
    for (size_t b = 0; b < m->n_blocks; b++) {
        fill(m->blocks[b].id.b, SF_FS_ID_LEN);
        m->blocks[b].r = 1 + (int)(rnd() % (unsigned)r_max);
        struct sf_dht_id key;
        sf_fs_block_key(&m->blocks[b].id, &key);
        size_t idx[SF_FS_R_MAX];
        int nt = sf_fs_place(&key, live, n_live, m->blocks[b].r, idx);
        for (int t = 0; t < nt; t++) {
            m->holds[b][idx[t]] = true; /* live == nodes here */
        }
    }
}

START_TEST(test_repair_property)
{
    /* Random clusters of 2..40 nodes, blocks with r 2..4: after any single
     * node loss (and again after a second loss once repaired, while at
     * least 2 nodes remain) no block is lost, every block has min(r, live)
     * holders including its targets, and plans are deterministic. */
    static struct sim m;
    for (int trial = 0; trial < 60; trial++) {
        size_t n = 2 + rnd() % (SIM_NODES - 1);
        sim_init(&m, n, 4);
        for (size_t b = 0; b < m.n_blocks; b++) {
            if (m.blocks[b].r < 2) {
                m.blocks[b].r = 2; /* r = 1 cannot survive a loss */
            }
        }
        /* re-place with r >= 2 */
        memset(m.holds, 0, sizeof m.holds);
        for (size_t b = 0; b < m.n_blocks; b++) {
            struct sf_dht_id key;
            sf_fs_block_key(&m.blocks[b].id, &key);
            size_t idx[SF_FS_R_MAX];
            int nt = sf_fs_place(&key, m.nodes, n, m.blocks[b].r, idx);
            for (int t = 0; t < nt; t++) {
                m.holds[b][idx[t]] = true;
            }
        }
        int losses = n >= 3 ? 2 : 1;
        for (int l = 0; l < losses; l++) {
            struct sf_dht_id old[SIM_NODES];
            size_t n_old = sim_live(&m, old);
            size_t victim;
            do {
                victim = rnd() % n;
            } while (!m.up[victim]);
            m.up[victim] = false;
            ck_assert_uint_eq(sim_repair(&m, old, n_old), 0);
        }
    }
}
END_TEST

START_TEST(test_repair_assumed_holders)
{
    /* holders == NULL: the planner assumes placement on the old set; it
     * must agree with the explicit holder lists. */
    static struct sim m;
    sim_init(&m, 12, 3);
    struct sf_dht_id old[SIM_NODES];
    size_t n_old = sim_live(&m, old);
    m.up[5] = false;
    struct sf_dht_id live[SIM_NODES];
    size_t n_live = sim_live(&m, live);
    sim_holders(&m);
    struct sf_fs_repair_stats a, b;
    m.n_log = 0;
    ck_assert_int_eq(
        sf_fs_repair_plan(old, n_old, live, n_live, m.blocks, m.n_blocks, sim_cb, &m, &a), 0);
    unsigned n_log = m.n_log;
    static __typeof__(m.log) first;
    memcpy(first, m.log, sizeof first);
    for (size_t i = 0; i < m.n_blocks; i++) {
        m.blocks[i].holders = NULL;
        m.blocks[i].n_holders = 0;
    }
    m.n_log = 0;
    ck_assert_int_eq(
        sf_fs_repair_plan(old, n_old, live, n_live, m.blocks, m.n_blocks, sim_cb, &m, &b), 0);
    ck_assert_uint_eq(m.n_log, n_log);
    ck_assert_mem_eq(m.log, first, sizeof m.log[0] * n_log);
    ck_assert_uint_eq(a.copies, b.copies);
    ck_assert_uint_eq(a.lost, b.lost);
    ck_assert_uint_gt(a.copies, 0);
}
END_TEST

struct plan_rec {
    unsigned copy, lost, surplus;
    struct sf_dht_id src, dst;
};

static void rec_cb(void *arg, enum sf_fs_repair_kind kind, size_t b, const struct sf_dht_id *src,
                   const struct sf_dht_id *dst)
{
    struct plan_rec *p = arg;
    if (kind == SF_FS_REPAIR_COPY) {
        p->copy++;
        p->src = *src;
        p->dst = *dst;
    } else if (kind == SF_FS_REPAIR_LOST) {
        p->lost++;
    } else {
        p->surplus++;
        p->src = *src;
    }
}

START_TEST(test_repair_cases)
{
    struct sf_fs_repair_block blk;
    fill(blk.id.b, SF_FS_ID_LEN);
    struct sf_dht_id key;
    sf_fs_block_key(&blk.id, &key);
    /* Three nodes at known distances: near, mid, far. */
    struct sf_dht_id near = key, mid = key, far = key;
    near.b[19] ^= 1;
    mid.b[10] ^= 1;
    far.b[0] ^= 0x80;
    struct sf_dht_id all[3] = {far, near, mid};
    size_t idx[3];
    ck_assert_int_eq(sf_fs_place(&key, all, 3, 3, idx), 3);
    ck_assert_uint_eq(idx[0], 1);
    ck_assert_uint_eq(idx[1], 2);
    ck_assert_uint_eq(idx[2], 0);

    /* r = 1, the only holder dies: lost. */
    blk.r = 1;
    blk.holders = &near;
    blk.n_holders = 1;
    struct sf_dht_id two[2] = {mid, far};
    struct plan_rec p = {0};
    struct sf_fs_repair_stats st;
    ck_assert_int_eq(sf_fs_repair_plan(all, 3, two, 2, &blk, 1, rec_cb, &p, &st), 0);
    ck_assert_uint_eq(p.lost, 1);
    ck_assert_uint_eq(st.lost, 1);
    ck_assert_uint_eq(p.copy, 0);

    /* r = 2 held by mid and far; near joins: copy from mid (closest live
     * holder) to near, far becomes surplus. */
    blk.r = 2;
    struct sf_dht_id hold[2] = {far, mid};
    blk.holders = hold;
    blk.n_holders = 2;
    memset(&p, 0, sizeof p);
    ck_assert_int_eq(sf_fs_repair_plan(two, 2, all, 3, &blk, 1, rec_cb, &p, &st), 0);
    ck_assert_uint_eq(p.copy, 1);
    ck_assert_mem_eq(p.src.b, mid.b, SF_DHT_ID_LEN);
    ck_assert_mem_eq(p.dst.b, near.b, SF_DHT_ID_LEN);
    ck_assert_uint_eq(p.surplus, 1);
    ck_assert_uint_eq(st.surplus, 1);

    /* r = 3 on two live nodes: both hold it, short_nodes counted, no copy. */
    blk.r = 3;
    memset(&p, 0, sizeof p);
    ck_assert_int_eq(sf_fs_repair_plan(all, 3, two, 2, &blk, 1, rec_cb, &p, &st), 0);
    ck_assert_uint_eq(p.copy, 0);
    ck_assert_uint_eq(st.short_nodes, 1);
    ck_assert_uint_eq(st.healthy, 1);

    /* Healthy block, nothing changes. */
    blk.r = 2;
    struct sf_dht_id hold2[2] = {near, mid};
    blk.holders = hold2;
    memset(&p, 0, sizeof p);
    ck_assert_int_eq(sf_fs_repair_plan(all, 3, all, 3, &blk, 1, rec_cb, &p, &st), 0);
    ck_assert_uint_eq(p.copy + p.lost + p.surplus, 0);

    /* Bad arguments. */
    blk.r = 0;
    ck_assert_int_eq(sf_fs_repair_plan(all, 3, all, 3, &blk, 1, rec_cb, &p, &st), -EINVAL);
    blk.r = 2;
    ck_assert_int_eq(sf_fs_repair_plan(all, 3, all, 3, &blk, 1, NULL, &p, &st), -EINVAL);
}
END_TEST

/* ---------------------------------------------------------- names, paths */

START_TEST(test_names)
{
    char n255[256], n256[257];
    memset(n255, 'a', 255);
    n255[255] = '\0';
    memset(n256, 'b', 256);
    n256[256] = '\0';
    struct {
        const char *s;
        size_t len; /* 0: strlen */
        int rc;
    } cases[] = {
        {"a", 0, 0},
        {"file.txt", 0, 0},
        {"...", 0, 0},
        {".hidden", 0, 0},
        {"\xc3\xbc"
         "ber",
         0, 0},                     /* ü */
        {"\xe2\x82\xac", 0, 0},     /* € */
        {"\xf0\x9f\x90\x9f", 0, 0}, /* U+1F41F */
        {"\xf4\x8f\xbf\xbf", 0, 0}, /* U+10FFFF */
        {n255, 0, 0},
        {n256, 0, -ENAMETOOLONG},
        {"", 0, -EINVAL},
        {".", 0, -EINVAL},
        {"..", 0, -EINVAL},
        {"a/b", 0, -EINVAL},
        {"/", 0, -EINVAL},
        {"a\0b", 3, -EINVAL},
        {"\xff", 0, -EILSEQ},
        {"\x80", 0, -EILSEQ},             /* lone continuation */
        {"\xc0\xaf", 0, -EILSEQ},         /* overlong '/' */
        {"\xe0\x80\xaf", 0, -EILSEQ},     /* overlong, 3 bytes */
        {"\xf0\x80\x80\xaf", 0, -EILSEQ}, /* overlong, 4 bytes */
        {"\xed\xa0\x80", 0, -EILSEQ},     /* surrogate U+D800 */
        {"\xf4\x90\x80\x80", 0, -EILSEQ}, /* U+110000 */
        {"\xe2\x82", 0, -EILSEQ},         /* cut short */
        {"ok\xe2\x28\xa1", 0, -EILSEQ},   /* bad continuation */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].s);
        ck_assert_msg(sf_fs_name_check(cases[i].s, len) == cases[i].rc, "case %zu", i);
    }
    ck_assert_int_eq(sf_fs_name_check(NULL, 1), -EINVAL);
}
END_TEST

START_TEST(test_paths)
{
    struct {
        const char *p;
        int rc;
        size_t off;
    } cases[] = {
        {"/", 0, 0},
        {"/a", 0, 0},
        {"/ckpt/job-7/rank.0", 0, 0},
        {"a/b", -EINVAL, 0},
        {"", -EINVAL, 0},
        {"/a//b", -EINVAL, 3},
        {"/a/", -EINVAL, 3},
        {"/a/../b", -EINVAL, 3},
        {"/..", -EINVAL, 1},
        {"/a/./b", -EINVAL, 3},
        {"/ok/\xc0\xaf", -EILSEQ, 4},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t off = 12345;
        ck_assert_msg(sf_fs_path_check(cases[i].p, &off) == cases[i].rc, "case %zu", i);
        if (cases[i].rc != 0) {
            ck_assert_msg(off == cases[i].off, "case %zu off %zu", i, off);
        }
    }
    char buf[SF_FS_PATH_MAX + 2];
    snprintf(buf, sizeof buf, "/x/");
    memset(buf + 3, 'n', 256);
    buf[3 + 256] = '\0';
    size_t off;
    ck_assert_int_eq(sf_fs_path_check(buf, &off), -ENAMETOOLONG);
    ck_assert_uint_eq(off, 3);
    /* 4095 bytes in 199-byte components is fine; one more byte is not. */
    size_t n;
    for (n = 0; n < SF_FS_PATH_MAX; n++) {
        buf[n] = n % 200 == 0 ? '/' : 'a';
    }
    buf[n] = '\0';
    ck_assert_uint_eq(strlen(buf), SF_FS_PATH_MAX);
    ck_assert_int_eq(sf_fs_path_check(buf, NULL), 0);
    buf[n++] = 'q';
    buf[n] = '\0';
    ck_assert_int_eq(sf_fs_path_check(buf, NULL), -ENAMETOOLONG);
    ck_assert_int_eq(sf_fs_path_check(NULL, NULL), -EINVAL);
}
END_TEST

/* ---------------------------------------------------------------- records */

static struct sf_fs_inode make_inode(uint64_t size, uint32_t bs)
{
    struct sf_fs_inode ino;
    memset(&ino, 0, sizeof ino);
    ino.mode = S_IFREG | 0640;
    ino.uid = 1000;
    ino.gid = 100;
    ino.size = size;
    ino.mtime_ns = 1700000000123456789;
    ino.ctime_ns = -5;
    ino.version = 42;
    ino.replicas = 2;
    ino.block_size = bs;
    uint64_t nb;
    ck_assert_int_eq(sf_fs_inode_shape(size, bs, &nb, &ino.depth, &ino.n_refs), 0);
    for (uint16_t i = 0; i < ino.n_refs; i++) {
        fill(ino.refs[i].b, SF_FS_ID_LEN);
    }
    return ino;
}

static void inode_eq(const struct sf_fs_inode *a, const struct sf_fs_inode *b)
{
    ck_assert_uint_eq(a->mode, b->mode);
    ck_assert_uint_eq(a->uid, b->uid);
    ck_assert_uint_eq(a->gid, b->gid);
    ck_assert_uint_eq(a->size, b->size);
    ck_assert_int_eq(a->mtime_ns, b->mtime_ns);
    ck_assert_int_eq(a->ctime_ns, b->ctime_ns);
    ck_assert_uint_eq(a->version, b->version);
    ck_assert_uint_eq(a->replicas, b->replicas);
    ck_assert_uint_eq(a->block_size, b->block_size);
    ck_assert_uint_eq(a->depth, b->depth);
    ck_assert_uint_eq(a->n_refs, b->n_refs);
    ck_assert_mem_eq(a->refs, b->refs, (size_t)a->n_refs * SF_FS_ID_LEN);
}

START_TEST(test_inode_shape)
{
    uint32_t bs = 4096;
    size_t per = sf_fs_blist_per_block(bs);
    ck_assert_uint_eq(per, 127);
    ck_assert_uint_eq(sf_fs_blist_per_block(1u << 20), 32767);
    ck_assert_uint_eq(sf_fs_blist_per_block(5000), 0);
    struct {
        uint64_t size;
        uint64_t nb;
        uint8_t depth;
        uint16_t refs;
    } cases[] = {
        {0, 0, 0, 0},
        {1, 1, 0, 1},
        {4096, 1, 0, 1},
        {4097, 2, 0, 2},
        {14 * 4096, 14, 0, 14},
        {14 * 4096 + 1, 15, 1, 1},
        {127ull * 4096, 127, 1, 1},
        {128ull * 4096, 128, 1, 2},
        {14ull * 127 * 4096, 14 * 127, 1, 14},
        {14ull * 127 * 4096 + 1, 14 * 127 + 1, 2, 1},
        {14ull * 127 * 127 * 127 * 4096, 14ull * 127 * 127 * 127, 3, 14},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t nb;
        uint8_t d;
        uint16_t r;
        ck_assert_int_eq(sf_fs_inode_shape(cases[i].size, bs, &nb, &d, &r), 0);
        ck_assert_uint_eq(nb, cases[i].nb);
        ck_assert_uint_eq(d, cases[i].depth);
        ck_assert_uint_eq(r, cases[i].refs);
    }
    ck_assert_int_eq(sf_fs_inode_shape(14ull * 127 * 127 * 127 * 4096 + 1, bs, NULL, NULL, NULL),
                     -EFBIG);
    ck_assert_int_eq(sf_fs_inode_shape(UINT64_MAX, bs, NULL, NULL, NULL), -EFBIG);
    ck_assert_int_eq(sf_fs_inode_shape(UINT64_MAX, 1u << 20, NULL, NULL, NULL), 0); /* depth 3 */
    ck_assert_int_eq(sf_fs_inode_shape(1, 1000, NULL, NULL, NULL), -EINVAL);
}
END_TEST

START_TEST(test_inode_roundtrip)
{
    uint64_t sizes[] = {0, 1, 4096, 4097, 14 * 4096, 14 * 4096 + 1, 1ull << 34};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        struct sf_fs_inode ino = make_inode(sizes[i], 4096), back;
        uint8_t buf[SF_DHT_VALUE_MAX], buf2[SF_DHT_VALUE_MAX];
        size_t len, len2;
        ck_assert_int_eq(sf_fs_inode_encode(&ino, buf, sizeof buf, &len), 0);
        ck_assert_uint_le(len, SF_DHT_VALUE_MAX);
        ck_assert_uint_eq(len, 52 + 32 * (size_t)ino.n_refs);
        ck_assert_int_eq(sf_fs_inode_decode(buf, len, &back), 0);
        inode_eq(&ino, &back);
        ck_assert_int_eq(sf_fs_inode_encode(&back, buf2, sizeof buf2, &len2), 0);
        ck_assert_uint_eq(len, len2);
        ck_assert_mem_eq(buf, buf2, len);
        ck_assert_int_eq(sf_fs_inode_encode(&ino, buf, len - 1, &len2), -ENOSPC);
    }
    /* The largest record: 14 refs. */
    struct sf_fs_inode big = make_inode(14 * 4096, 4096);
    uint8_t buf[SF_DHT_VALUE_MAX];
    size_t len;
    ck_assert_int_eq(sf_fs_inode_encode(&big, buf, sizeof buf, &len), 0);
    ck_assert_uint_eq(len, 500);
    /* Directories and symlinks. */
    struct sf_fs_inode d = make_inode(0, 1u << 20), back;
    d.mode = S_IFDIR | 0755;
    ck_assert_int_eq(sf_fs_inode_encode(&d, buf, sizeof buf, &len), 0);
    ck_assert_int_eq(sf_fs_inode_decode(buf, len, &back), 0);
    inode_eq(&d, &back);
    struct sf_fs_inode l = make_inode(12, 4096);
    l.mode = S_IFLNK | 0777;
    ck_assert_int_eq(sf_fs_inode_encode(&l, buf, sizeof buf, &len), 0);
    ck_assert_int_eq(sf_fs_inode_decode(buf, len, &back), 0);
}
END_TEST

START_TEST(test_inode_reject)
{
    struct sf_fs_inode ino = make_inode(3 * 4096, 4096), back;
    uint8_t good[SF_DHT_VALUE_MAX], buf[SF_DHT_VALUE_MAX + 1];
    size_t len;
    ck_assert_int_eq(sf_fs_inode_encode(&ino, good, sizeof good, &len), 0);
    /* One field at a time: offset and a bad value. */
    struct {
        size_t off;
        uint8_t val;
    } bad[] = {
        {0, 2},                        /* format version */
        {1, 2},                        /* record type */
        {2, 1},                        /* flags */
        {3, 1},                        /* depth does not match the size */
        {4, 0},                        /* replicas */
        {4, 17},    {5, 11},           /* block size 2^11 */
        {5, 27},    {5, 200}, {5, 13}, /* another block size changes the shape: 2 blocks */
        {7, 2},                        /* n_refs vs length */
        {10, 0x21},                    /* mode: S_IFCHR | 0640 */
        {9, 1},                        /* mode: bits above S_IFMT */
        {8, 0x20},  {20, 1},           /* size: a huge file with 3 refs */
        {26, 0x20},                    /* size 8192: 2 blocks, not 3 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memcpy(buf, good, len);
        buf[bad[i].off] = bad[i].val;
        if (memcmp(buf, good, len) == 0) {
            continue;
        }
        ck_assert_msg(sf_fs_inode_decode(buf, len, &back) == SF_FS_ECORRUPT, "case %zu", i);
    }
    /* Length off by one either way, and every truncation. */
    memcpy(buf, good, len);
    buf[len] = 0;
    ck_assert_int_eq(sf_fs_inode_decode(buf, len + 1, &back), SF_FS_ECORRUPT);
    for (size_t cut = 0; cut < len; cut++) {
        ck_assert_int_eq(sf_fs_inode_decode(good, cut, &back), SF_FS_ECORRUPT);
    }
    ck_assert_int_eq(sf_fs_inode_decode(NULL, 0, &back), SF_FS_ECORRUPT);
    /* Directory with a size, empty symlink: refused both ways. */
    struct sf_fs_inode d = make_inode(4096, 4096);
    d.mode = S_IFDIR | 0755;
    ck_assert_int_eq(sf_fs_inode_encode(&d, buf, sizeof buf, &len), -EINVAL);
    struct sf_fs_inode l = make_inode(0, 4096);
    l.mode = S_IFLNK | 0777;
    ck_assert_int_eq(sf_fs_inode_encode(&l, buf, sizeof buf, &len), -EINVAL);
    struct sf_fs_inode w = make_inode(5, 4096);
    w.n_refs = 2; /* not the canonical shape */
    ck_assert_int_eq(sf_fs_inode_encode(&w, buf, sizeof buf, &len), -EINVAL);
    w = make_inode(5, 4096);
    w.replicas = 0;
    ck_assert_int_eq(sf_fs_inode_encode(&w, buf, sizeof buf, &len), -EINVAL);
}
END_TEST

START_TEST(test_dirent)
{
    struct sf_fs_dirent de, back;
    memset(&de, 0, sizeof de);
    strcpy(de.name, "r\xc3\xa9sultat.dat");
    de.name_len = (uint8_t)strlen(de.name);
    fill(de.inode.b, SF_DHT_ID_LEN);
    de.kind = S_IFREG;
    de.version = 7;
    uint8_t buf[SF_DHT_VALUE_MAX], buf2[SF_DHT_VALUE_MAX];
    size_t len, len2;
    ck_assert_int_eq(sf_fs_dirent_encode(&de, buf, sizeof buf, &len), 0);
    ck_assert_uint_eq(len, 36 + de.name_len);
    ck_assert_int_eq(sf_fs_dirent_decode(buf, len, &back), 0);
    ck_assert_str_eq(back.name, de.name);
    ck_assert_uint_eq(back.name_len, de.name_len);
    ck_assert_mem_eq(back.inode.b, de.inode.b, SF_DHT_ID_LEN);
    ck_assert_uint_eq(back.kind, S_IFREG);
    ck_assert_uint_eq(back.version, 7);
    ck_assert(!back.deleted);
    ck_assert_int_eq(sf_fs_dirent_encode(&back, buf2, sizeof buf2, &len2), 0);
    ck_assert_mem_eq(buf, buf2, len);
    /* Longest name fits a DHT value. */
    struct sf_fs_dirent lg = de;
    memset(lg.name, 'L', 255);
    lg.name[255] = '\0';
    lg.name_len = 255;
    ck_assert_int_eq(sf_fs_dirent_encode(&lg, buf2, sizeof buf2, &len2), 0);
    ck_assert_uint_eq(len2, 291);
    /* Tombstone. */
    struct sf_fs_dirent t = de;
    t.deleted = true;
    ck_assert_int_eq(sf_fs_dirent_encode(&t, buf2, sizeof buf2, &len2), -EINVAL); /* key set */
    memset(&t.inode, 0, sizeof t.inode);
    t.kind = 0;
    t.version = 8;
    ck_assert_int_eq(sf_fs_dirent_encode(&t, buf2, sizeof buf2, &len2), 0);
    ck_assert_int_eq(sf_fs_dirent_decode(buf2, len2, &back), 0);
    ck_assert(back.deleted);
    /* Invalid ones. */
    struct sf_fs_dirent x = de;
    strcpy(x.name, "a/b");
    x.name_len = 3;
    ck_assert_int_eq(sf_fs_dirent_encode(&x, buf2, sizeof buf2, &len2), -EINVAL);
    x = de;
    memset(&x.inode, 0, sizeof x.inode);
    ck_assert_int_eq(sf_fs_dirent_encode(&x, buf2, sizeof buf2, &len2), -EINVAL);
    x = de;
    x.kind = S_IFIFO;
    ck_assert_int_eq(sf_fs_dirent_encode(&x, buf2, sizeof buf2, &len2), -EINVAL);
    struct {
        size_t off;
        uint8_t val;
    } bad[] = {{0, 0},   {1, 1},    {2, 2},    {2, 1},     {3, 0},
               {3, 200}, {6, 0x10}, {36, '/'}, {37, 0xff}, {36, 0}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memcpy(buf2, buf, len);
        buf2[bad[i].off] = bad[i].val;
        ck_assert_msg(sf_fs_dirent_decode(buf2, len, &back) == SF_FS_ECORRUPT, "case %zu", i);
    }
    for (size_t cut = 0; cut < len; cut++) {
        ck_assert_int_eq(sf_fs_dirent_decode(buf, cut, &back), SF_FS_ECORRUPT);
    }
    /* ".." as a whole name. */
    uint8_t dots[38];
    memcpy(dots, buf, 36);
    dots[3] = 2;
    dots[36] = dots[37] = '.';
    ck_assert_int_eq(sf_fs_dirent_decode(dots, 38, &back), SF_FS_ECORRUPT);
    /* Keys: deterministic, and differ by directory and by name. */
    struct sf_dht_id dir1 = rand_id(), dir2 = rand_id(), k1, k2, k3, k4;
    sf_fs_dirent_key(&dir1, "a", 1, &k1);
    sf_fs_dirent_key(&dir1, "a", 1, &k2);
    sf_fs_dirent_key(&dir1, "b", 1, &k3);
    sf_fs_dirent_key(&dir2, "a", 1, &k4);
    ck_assert_mem_eq(k1.b, k2.b, SF_DHT_ID_LEN);
    ck_assert(memcmp(k1.b, k3.b, SF_DHT_ID_LEN) != 0);
    ck_assert(memcmp(k1.b, k4.b, SF_DHT_ID_LEN) != 0);
}
END_TEST

/* A file cut into blocks and written through the store, its inode built,
 * encoded, decoded, resolved and read back. */
static int store_put_cb(void *arg, const void *buf, size_t len, struct sf_fs_block_id *id)
{
    return sf_fs_block_put(arg, buf, len, NULL, id);
}

static int store_get_cb(void *arg, const struct sf_fs_block_id *id, void *buf, size_t cap,
                        size_t *len)
{
    return sf_fs_block_get(arg, id, buf, cap, len);
}

static void file_roundtrip(struct sf_fs_store *s, uint32_t bs, uint64_t size)
{
    uint8_t *data = malloc(size ? size : 1);
    fill(data, size);
    uint64_t nb;
    ck_assert_int_eq(sf_fs_inode_shape(size, bs, &nb, NULL, NULL), 0);
    struct sf_fs_block_id *ids = malloc((nb ? nb : 1) * sizeof *ids);
    for (uint64_t i = 0; i < nb; i++) {
        size_t len = size - i * bs < bs ? size - i * bs : bs;
        ck_assert_int_eq(sf_fs_block_put(s, data + i * bs, len, NULL, &ids[i]), 0);
    }
    struct sf_fs_inode ino = make_inode(size, bs), back;
    ck_assert_int_eq(sf_fs_blist_build(&ino, ids, nb, store_put_cb, s), 0);
    uint8_t rec[SF_DHT_VALUE_MAX];
    size_t len;
    ck_assert_int_eq(sf_fs_inode_encode(&ino, rec, sizeof rec, &len), 0);
    ck_assert_int_eq(sf_fs_inode_decode(rec, len, &back), 0);
    struct sf_fs_block_id *got = malloc((nb ? nb : 1) * sizeof *got);
    ck_assert_int_eq(sf_fs_blist_resolve(&back, store_get_cb, s, got, nb), 0);
    ck_assert_mem_eq(got, ids, nb * sizeof *ids);
    if (nb > 0) {
        ck_assert_int_eq(sf_fs_blist_resolve(&back, store_get_cb, s, got, nb - 1), -ENOSPC);
    }
    uint8_t *blk = malloc(bs);
    for (uint64_t i = 0; i < nb; i++) {
        size_t blen;
        ck_assert_int_eq(sf_fs_block_get(s, &got[i], blk, bs, &blen), 0);
        size_t want = size - i * bs < bs ? size - i * bs : bs;
        ck_assert_uint_eq(blen, want);
        ck_assert_mem_eq(blk, data + i * bs, blen);
    }
    free(blk);
    free(got);
    free(ids);
    free(data);
}

START_TEST(test_file_sizes)
{
    char *dir = tmpdir();
    uint32_t bs = 4096;
    struct sf_fs_store *s = open_store(dir, bs);
    /* 161 fsync'd blocks in all: enough for depth 0, depth 1 with one and
     * with two list blocks; depth 2 is in test_blist_corrupt. */
    uint64_t sizes[] = {0, 1, bs, bs + 1, 14 * bs, 14 * bs + 1, 127 * bs + 1};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        file_roundtrip(s, bs, sizes[i]);
    }
    sf_fs_store_close(s);
    rmrf(dir);
}
END_TEST

START_TEST(test_blist_corrupt)
{
    char *dir = tmpdir();
    uint32_t bs = 4096;
    struct sf_fs_store *s = open_store(dir, bs);
    size_t nb = 200; /* depth 1, two list blocks (127 + 73) */
    struct sf_fs_block_id ids[200];
    for (size_t i = 0; i < nb; i++) {
        fill(ids[i].b, SF_FS_ID_LEN);
    }
    struct sf_fs_inode ino = make_inode(nb * bs, bs);
    ck_assert_int_eq(sf_fs_blist_build(&ino, ids, nb, store_put_cb, s), 0);
    ck_assert_uint_eq(ino.depth, 1);
    ck_assert_uint_eq(ino.n_refs, 2);
    struct sf_fs_block_id got[200];
    ck_assert_int_eq(sf_fs_blist_resolve(&ino, store_get_cb, s, got, nb), 0);
    /* Depth 2 (1779 data blocks): only the 16 list blocks are stored. */
    {
        size_t n2 = 14 * 127 + 1;
        struct sf_fs_block_id *d2 = malloc(n2 * sizeof *d2), *g2 = malloc(n2 * sizeof *g2);
        fill(d2, n2 * sizeof *d2);
        struct sf_fs_inode i2 = make_inode((uint64_t)n2 * bs - 5, bs), b2;
        ck_assert_int_eq(sf_fs_blist_build(&i2, d2, n2, store_put_cb, s), 0);
        ck_assert_uint_eq(i2.depth, 2);
        ck_assert_uint_eq(i2.n_refs, 1);
        uint8_t rec[SF_DHT_VALUE_MAX];
        size_t rlen;
        ck_assert_int_eq(sf_fs_inode_encode(&i2, rec, sizeof rec, &rlen), 0);
        ck_assert_int_eq(sf_fs_inode_decode(rec, rlen, &b2), 0);
        ck_assert_int_eq(sf_fs_blist_resolve(&b2, store_get_cb, s, g2, n2), 0);
        ck_assert_mem_eq(g2, d2, n2 * sizeof *d2);
        ck_assert_int_eq(sf_fs_blist_build(&i2, d2, n2 - 1, store_put_cb, s), -EINVAL);
        free(d2);
        free(g2);
    }
    /* Decode a list block directly. */
    uint8_t buf[4096];
    size_t len;
    ck_assert_int_eq(sf_fs_block_get(s, &ino.refs[1], buf, sizeof buf, &len), 0);
    uint8_t level;
    const struct sf_fs_block_id *lids;
    size_t n;
    ck_assert_int_eq(sf_fs_blist_decode(buf, len, bs, &level, &lids, &n), 0);
    ck_assert_uint_eq(level, 1);
    ck_assert_uint_eq(n, 73);
    ck_assert_mem_eq(lids, &ids[127], 73 * sizeof *lids);
    /* A list block that is valid but short (not the canonical shape). */
    struct sf_fs_inode bad = ino;
    size_t l2;
    ck_assert_int_eq(sf_fs_blist_encode(1, ids, 100, bs, buf, sizeof buf, &l2), 0);
    ck_assert_int_eq(sf_fs_block_put(s, buf, l2, NULL, &bad.refs[0]), 0);
    ck_assert_int_eq(sf_fs_blist_resolve(&bad, store_get_cb, s, got, nb), SF_FS_ECORRUPT);
    /* Wrong level. */
    ck_assert_int_eq(sf_fs_blist_encode(2, ids, 127, bs, buf, sizeof buf, &l2), 0);
    ck_assert_int_eq(sf_fs_block_put(s, buf, l2, NULL, &bad.refs[0]), 0);
    ck_assert_int_eq(sf_fs_blist_resolve(&bad, store_get_cb, s, got, nb), SF_FS_ECORRUPT);
    /* A flipped byte on disk in a list block: the store's hash check. */
    char path[512];
    block_file(dir, &ino.refs[0], path, sizeof path);
    flip_byte(path, 100);
    ck_assert_int_eq(sf_fs_blist_resolve(&ino, store_get_cb, s, got, nb), SF_FS_ECORRUPT);
    /* Decoder rejects: magic, version, level 0/4, reserved, count 0,
     * count over per, length mismatch. */
    ck_assert_int_eq(sf_fs_blist_encode(1, ids, 3, bs, buf, sizeof buf, &l2), 0);
    size_t offs[] = {0, 4, 5, 5, 6, 11, 8};
    uint8_t vals[] = {'X', 2, 0, 4, 1, 0, 1};
    for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
        uint8_t b2[4096];
        memcpy(b2, buf, l2);
        b2[offs[i]] = vals[i];
        ck_assert_msg(sf_fs_blist_decode(b2, l2, bs, &level, &lids, &n) == SF_FS_ECORRUPT,
                      "case %zu", i);
    }
    ck_assert_int_eq(sf_fs_blist_decode(buf, l2 - 1, bs, &level, &lids, &n), SF_FS_ECORRUPT);
    ck_assert_int_eq(sf_fs_blist_encode(1, ids, 128, bs, buf, sizeof buf, &l2), -EINVAL);
    sf_fs_store_close(s);
    rmrf(dir);
}
END_TEST

/* ------------------------------------------------------------------ suite */

static Suite *fs_suite(void)
{
    Suite *s = suite_create("fs");
    TCase *store = tcase_create("store");
    tcase_set_timeout(store, 60);
    tcase_add_test(store, test_config);
    tcase_add_test(store, test_id_hex);
    tcase_add_test(store, test_store_boundaries);
    tcase_add_test(store, test_store_streaming);
    tcase_add_test(store, test_store_idempotent);
    tcase_add_test(store, test_store_put_named);
    tcase_add_test(store, test_store_corrupt);
    tcase_add_test(store, test_store_scrub);
    tcase_add_test(store, test_store_crash_leftovers);
    tcase_add_test(store, test_store_lock_and_stray);
    tcase_add_test(store, test_store_gc);
    tcase_add_test(store, test_store_gc_race);
    tcase_add_test(store, test_store_gc_reput_window);
    suite_add_tcase(s, store);

    TCase *place = tcase_create("place");
    tcase_set_timeout(place, 60);
    tcase_add_test(place, test_place_brute);
    tcase_add_test(place, test_repair_property);
    tcase_add_test(place, test_repair_assumed_holders);
    tcase_add_test(place, test_repair_cases);
    suite_add_tcase(s, place);

    TCase *rec = tcase_create("records");
    tcase_set_timeout(rec, 60);
    tcase_add_test(rec, test_names);
    tcase_add_test(rec, test_paths);
    tcase_add_test(rec, test_inode_shape);
    tcase_add_test(rec, test_inode_roundtrip);
    tcase_add_test(rec, test_inode_reject);
    tcase_add_test(rec, test_dirent);
    tcase_add_test(rec, test_file_sizes);
    tcase_add_test(rec, test_blist_corrupt);
    suite_add_tcase(s, rec);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(fs_suite());
    srunner_set_fork_status(sr, CK_FORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
