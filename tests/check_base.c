/* Check suite for runtime/base: error names, logging, tunables, the event
 * loop, CRC-32C and the wire codec (round trips, every kind of corrupt
 * frame, streaming over sockets). Fork mode; every case has a timeout. */
#include "runtime/base/sf_crc.h"
#include "runtime/base/base_int.h"
#include "runtime/base/sf_err.h"
#include "runtime/base/sf_log.h"
#include "runtime/base/sf_loop.h"
#include "runtime/base/sf_tun.h"
#include "runtime/base/sf_wire.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------------ */
/* helpers */

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* A frame around an arbitrary body, with a correct CRC. Caller frees. */
static uint8_t *raw_frame(uint8_t op, const uint8_t *body, size_t blen, size_t *out_len)
{
    uint8_t *f = malloc(SF_WIRE_HDR_LEN + blen + 1);
    ck_assert_ptr_nonnull(f);
    f[0] = 0x53;
    f[1] = 0x46;
    f[2] = SF_WIRE_VERSION;
    f[3] = op;
    put32(f + 4, (uint32_t)blen);
    put32(f + 8, 77);
    put32(f + 12, sf_crc32c(body, blen));
    if (blen > 0) {
        memcpy(f + SF_WIRE_HDR_LEN, body, blen);
    }
    *out_len = SF_WIRE_HDR_LEN + blen;
    return f;
}

static void reseal(uint8_t *f, size_t flen)
{
    put32(f + 4, (uint32_t)(flen - SF_WIRE_HDR_LEN));
    put32(f + 12, sf_crc32c(f + SF_WIRE_HDR_LEN, flen - SF_WIRE_HDR_LEN));
}

/* Decode must fail with 'want' and leave the message as it was. */
static void expect_reject(const uint8_t *f, size_t len, long want)
{
    struct sf_wire_msg m, orig;
    memset(&m, 0xA5, sizeof m);
    memcpy(&orig, &m, sizeof m);
    long r = sf_wire_decode(f, len, &m);
    ck_assert_int_eq(r, want);
    ck_assert_mem_eq(&m, &orig, sizeof m);
}

static void rank_abort_frame(struct sf_wire_enc *e, const char *text)
{
    sf_wire_enc_begin(e, SF_OP_RANK_ABORT, 5);
    sf_wire_put_i32(e, 3);
    sf_wire_put_i32(e, -17);
    sf_wire_put_str(e, text);
    ck_assert_int_eq(sf_wire_enc_end(e), 0);
}

/* ------------------------------------------------------------------ */
/* errors */

START_TEST(test_strerror)
{
    ck_assert_str_eq(sf_strerror(0), "success");
    ck_assert_str_eq(sf_strerror(-ENOENT), "No such file or directory");
    ck_assert_str_eq(sf_strerror(-EPIPE), "Broken pipe");
    for (int c = SF_ERR_BASE; c > SF_ERR_LAST; c--) {
        const char *s = sf_strerror(c);
        ck_assert_ptr_nonnull(s);
        ck_assert_str_ne(s, "unknown error code");
        for (int d = SF_ERR_BASE; d > c; d--) {
            ck_assert_str_ne(s, sf_strerror(d));
        }
    }
    ck_assert_str_eq(sf_strerror(SF_ERR_LAST), "unknown error code");
    ck_assert_str_eq(sf_strerror(-3999), "unknown error code");
    ck_assert_str_eq(sf_strerror(INT_MIN), "unknown error code");
    ck_assert_str_eq(sf_strerror(-EMSGSIZE), sf_strerror(EMSGSIZE));
}
END_TEST

/* ------------------------------------------------------------------ */
/* logging: capture stderr through a pipe */

static int capture_begin(int *saved)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    *saved = dup(STDERR_FILENO);
    dup2(p[1], STDERR_FILENO);
    close(p[1]);
    return p[0];
}

static size_t capture_end(int rfd, int saved, char *buf, size_t cap)
{
    dup2(saved, STDERR_FILENO);
    close(saved);
    size_t n = 0;
    ssize_t r;
    while (n < cap - 1 && (r = read(rfd, buf + n, cap - 1 - n)) > 0) {
        n += (size_t)r;
    }
    buf[n] = '\0';
    close(rfd);
    return n;
}

START_TEST(test_log_format)
{
    setenv("SF_HOSTNAME", "node7.example.org", 1);
    setenv("SF_LOG_LEVEL", "info", 1);
    sf_log_init("rank 3");
    ck_assert_int_eq(sf_log_level, SF_LOG_INFO);
    int saved, rfd = capture_begin(&saved);
    SF_ERR("value %d on %s", 42, "x");
    SF_INFO("hello\n");
    SF_DBG("not shown");
    char buf[1024];
    capture_end(rfd, saved, buf, sizeof buf);
    char want[256];
    snprintf(want, sizeof want,
             "[rank 3@node7:%ld] error: value 42 on x\n[rank 3@node7:%ld] info: hello\n",
             (long)getpid(), (long)getpid());
    ck_assert_str_eq(buf, want);

    setenv("SF_LOG_LEVEL", "3", 1);
    sf_log_init("sfd");
    rfd = capture_begin(&saved);
    errno = ENOSPC;
    SF_DBG("dbg line");
    ck_assert_int_eq(errno, ENOSPC); /* logging keeps errno */
    capture_end(rfd, saved, buf, sizeof buf);
    ck_assert_ptr_nonnull(strstr(buf, "] debug: dbg line (check_base.c:"));

    setenv("SF_LOG_LEVEL", "err", 1);
    sf_log_init(NULL); /* keeps the tag */
    ck_assert_int_eq(sf_log_level, SF_LOG_ERR);
    rfd = capture_begin(&saved);
    SF_WARN("filtered");
    SF_ERR("kept");
    capture_end(rfd, saved, buf, sizeof buf);
    ck_assert_ptr_null(strstr(buf, "filtered"));
    ck_assert_ptr_nonnull(strstr(buf, "[sfd@node7:"));

    /* A bad level is reported and warn is used. */
    setenv("SF_LOG_LEVEL", "loud", 1);
    rfd = capture_begin(&saved);
    sf_log_init("sfd");
    capture_end(rfd, saved, buf, sizeof buf);
    ck_assert_int_eq(sf_log_level, SF_LOG_WARN);
    ck_assert_ptr_nonnull(strstr(buf, "SF_LOG_LEVEL='loud'"));
    unsetenv("SF_LOG_LEVEL");
    unsetenv("SF_HOSTNAME");
}
END_TEST

START_TEST(test_log_long_line)
{
    sf_log_init("t");
    char big[5000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    int saved, rfd = capture_begin(&saved);
    SF_ERR("%s", big);
    char buf[8192];
    size_t n = capture_end(rfd, saved, buf, sizeof buf);
    ck_assert_uint_gt(n, 1000);
    ck_assert_uint_lt(n, sizeof buf - 1);
    ck_assert_int_eq(buf[n - 1], '\n');
    ck_assert_ptr_null(memchr(buf, '\n', n - 1)); /* still one line */
    ck_assert_mem_eq(buf + n - 4, "...", 3);        /* marked as cut */
}
END_TEST

START_TEST(test_log_once_sparse)
{
    sf_log_init("t");
    int saved, rfd = capture_begin(&saved);
    for (int i = 0; i < 5; i++) {
        SF_WARN_ONCE("once %d", i);
    }
    char buf[1024];
    capture_end(rfd, saved, buf, sizeof buf);
    ck_assert_ptr_nonnull(strstr(buf, "once 0"));
    ck_assert_ptr_null(strstr(buf, "once 1"));

    long stamp = 0;
    ck_assert(sf_log_sparse_ok(&stamp));
    ck_assert_int_ne(stamp, 0);
    /* A burst of calls spans at most one second boundary. */
    int yes = 0;
    for (int i = 0; i < 1000; i++) {
        yes += sf_log_sparse_ok(&stamp);
    }
    ck_assert_int_le(yes, 1);
}
END_TEST

/* ------------------------------------------------------------------ */
/* tunables */

struct tset {
    int count;
    size_t limit;
    double timeout;
    bool flag;
    const char *name;
    const char *unset;
};

static const struct sf_tun tset_items[] = {
    {"count", SF_TUN_INT, "8", "number of things", offsetof(struct tset, count)},
    {"limit", SF_TUN_SIZE, "64k", "eager limit", offsetof(struct tset, limit)},
    {"timeout", SF_TUN_DOUBLE, "1.5s", "peer timeout", offsetof(struct tset, timeout)},
    {"flag", SF_TUN_BOOL, "no", "a switch", offsetof(struct tset, flag)},
    {"name", SF_TUN_STR, "tcp", "provider", offsetof(struct tset, name)},
    {"unset", SF_TUN_STR, NULL, "optional path", offsetof(struct tset, unset)},
};
static const struct sf_tun_table tset_table = {"tst", tset_items, ARRAY_SIZE(tset_items)};

static void clear_tset_env(void)
{
    const char *vars[] = {"SF_TST_COUNT", "SF_TST_LIMIT", "SF_TST_TIMEOUT",
                          "SF_TST_FLAG",  "SF_TST_NAME",  "SF_TST_UNSET"};
    for (size_t i = 0; i < ARRAY_SIZE(vars); i++) {
        unsetenv(vars[i]);
    }
}

START_TEST(test_tun_defaults)
{
    clear_tset_env();
    struct tset t;
    memset(&t, 0xff, sizeof t);
    ck_assert_int_eq(sf_tun_load(&tset_table, &t), 0);
    ck_assert_int_eq(t.count, 8);
    ck_assert_uint_eq(t.limit, 65536);
    ck_assert_double_eq(t.timeout, 1.5);
    ck_assert(!t.flag);
    ck_assert_str_eq(t.name, "tcp");
    ck_assert_ptr_null(t.unset);
}
END_TEST

START_TEST(test_tun_env)
{
    clear_tset_env();
    setenv("SF_TST_COUNT", "-12", 1);
    setenv("SF_TST_LIMIT", "2MiB", 1);
    setenv("SF_TST_TIMEOUT", "250ms", 1);
    setenv("SF_TST_FLAG", "On", 1);
    setenv("SF_TST_NAME", "verbs", 1);
    setenv("SF_TST_UNSET", "/tmp/x", 1);
    struct tset t;
    ck_assert_int_eq(sf_tun_load(&tset_table, &t), 0);
    ck_assert_int_eq(t.count, -12);
    ck_assert_uint_eq(t.limit, 2u << 20);
    ck_assert_double_eq_tol(t.timeout, 0.25, 1e-12);
    ck_assert(t.flag);
    ck_assert_str_eq(t.name, "verbs");
    ck_assert_str_eq(t.unset, "/tmp/x");

    char *out = NULL;
    size_t outlen = 0;
    FILE *f = open_memstream(&out, &outlen);
    sf_tun_print(&tset_table, &t, f);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(out, "SF_TST_LIMIT=2m"));
    ck_assert_ptr_nonnull(strstr(out, "eager limit [default 64k]"));
    ck_assert_ptr_nonnull(strstr(out, "SF_TST_FLAG=true"));
    ck_assert_ptr_nonnull(strstr(out, "SF_TST_TIMEOUT=0.25"));
    ck_assert_ptr_nonnull(strstr(out, "SF_TST_UNSET=/tmp/x"));
    free(out);
    clear_tset_env();
}
END_TEST

START_TEST(test_tun_bad)
{
    static const char *const bad[][2] = {
        {"SF_TST_COUNT", "12x"},     {"SF_TST_COUNT", "99999999999"}, {"SF_TST_COUNT", ""},
        {"SF_TST_LIMIT", "-1"},      {"SF_TST_LIMIT", "12q"},         {"SF_TST_LIMIT", "k"},
        {"SF_TST_LIMIT", "99999999999999999999"}, {"SF_TST_LIMIT", "17179869184g"},
        {"SF_TST_TIMEOUT", "fast"},  {"SF_TST_TIMEOUT", "nan"},       {"SF_TST_TIMEOUT", "1e999"},
        {"SF_TST_FLAG", "maybe"},    {"SF_TST_FLAG", ""},
    };
    char buf[4096];
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        clear_tset_env();
        setenv(bad[i][0], bad[i][1], 1);
        struct tset t;
        int saved, rfd = capture_begin(&saved);
        int rc = sf_tun_load(&tset_table, &t);
        capture_end(rfd, saved, buf, sizeof buf);
        ck_assert_msg(rc == SF_ERR_CONFIG, "%s=%s accepted", bad[i][0], bad[i][1]);
        /* The message names the variable and its value. */
        ck_assert_ptr_nonnull(strstr(buf, bad[i][0]));
        /* The bad field keeps its default. */
        ck_assert_int_eq(t.count, 8);
        ck_assert_uint_eq(t.limit, 65536);
        ck_assert(!t.flag);
    }
    clear_tset_env();

    /* A table whose default does not parse is a bug, reported the same way. */
    static const struct sf_tun broken[] = {
        {"count", SF_TUN_INT, "eight", "x", offsetof(struct tset, count)},
    };
    struct sf_tun_table bt = {"tst", broken, 1};
    struct tset t;
    int saved, rfd = capture_begin(&saved);
    ck_assert_int_eq(sf_tun_load(&bt, &t), SF_ERR_CONFIG);
    capture_end(rfd, saved, buf, sizeof buf);
}
END_TEST

START_TEST(test_tun_parsers)
{
    static const struct {
        const char *s;
        size_t v;
    } sizes[] = {
        {"0", 0},           {"4096", 4096},        {"64k", 65536},    {"64K", 65536},
        {"64KiB", 65536},   {"64kb", 65536},       {"3m", 3u << 20},  {"1g", 1u << 30},
        {" 7 ", 7},         {"5 MiB", 5u << 20},   {"12b", 12},       {"2t", 2ull << 40},
    };
    for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
        size_t v = 1234567;
        ck_assert_msg(sf_tun_parse_size(sizes[i].s, &v) == 0, "'%s'", sizes[i].s);
        ck_assert_uint_eq(v, sizes[i].v);
    }
    const char *bad_sizes[] = {"", "-5", "+5", "x", "5x", "1.5m", "5 k b", NULL};
    for (size_t i = 0; i < ARRAY_SIZE(bad_sizes); i++) {
        size_t v = 99;
        ck_assert_int_eq(sf_tun_parse_size(bad_sizes[i], &v), -EINVAL);
        ck_assert_uint_eq(v, 99);
    }
    static const struct {
        const char *s;
        double v;
    } secs[] = {
        {"30", 30},  {"30s", 30},    {"500ms", 0.5}, {"2m", 120}, {"1h", 3600},
        {"1.5", 1.5}, {"250us", 250e-6}, {"0", 0},  {"2min", 120}, {" 3 s ", 3},
    };
    for (size_t i = 0; i < ARRAY_SIZE(secs); i++) {
        double v = -1;
        ck_assert_msg(sf_tun_parse_seconds(secs[i].s, &v) == 0, "'%s'", secs[i].s);
        ck_assert_double_eq_tol(v, secs[i].v, 1e-12);
    }
    const char *bad_secs[] = {"", "-1", "1d", "s", "inf", "nan", "1e400", "5 5", NULL};
    for (size_t i = 0; i < ARRAY_SIZE(bad_secs); i++) {
        double v = 7;
        ck_assert_int_eq(sf_tun_parse_seconds(bad_secs[i], &v), -EINVAL);
        ck_assert_double_eq(v, 7);
    }
}
END_TEST

/* ------------------------------------------------------------------ */
/* event loop */

struct lrec {
    int order[64];
    int n;
    pthread_t loop_thread;
    bool wrong_thread;
    int wakes;
    int hooks;
    int fd_a, fd_b;
    int calls_a, calls_b;
    int victim_w;
};

/* Timer args: a pointer to the record and the id, packed in a struct. */
struct targ {
    struct lrec *r;
    int id;
};

static void tfire(struct sf_loop *loop, void *arg)
{
    struct targ *a = arg;
    a->r->order[a->r->n++] = a->id;
    (void)loop;
}

static void tstop(struct sf_loop *loop, void *arg)
{
    (void)arg;
    sf_loop_stop(loop);
}

/* A fake clock pins deadlines, so timer order is checked exactly. */
static uint64_t fake_now;

static uint64_t fake_clock(void)
{
    return fake_now;
}

static void stop_hook(struct sf_loop *loop, void *arg)
{
    (void)arg;
    sf_loop_stop(loop); /* one pass of the loop per run */
}

START_TEST(test_loop_timers)
{
    struct sf_loop *loop;
    ck_assert_int_eq(sf_loop_create(&loop), 0);
    sf_base__loop_set_clock(loop, fake_clock);
    sf_loop_set_before_sleep(loop, stop_hook, NULL);
    fake_now = 1000;
    struct lrec r = {0};
    struct targ a[8];
    /* Deadline order; equal deadlines (the 0 ms ones) in creation order. */
    const uint64_t ms[8] = {60, 20, 0, 40, 0, 0, 80, 50};
    struct sf_timer *h[8];
    for (int i = 0; i < 8; i++) {
        a[i] = (struct targ){&r, i};
        ck_assert_int_eq(sf_loop_timer(loop, ms[i], tfire, &a[i], &h[i]), 0);
    }
    sf_loop_timer_cancel(loop, h[3]); /* 40 ms */
    sf_loop_timer_cancel(loop, h[4]); /* one of the 0 ms ones */
    sf_loop_timer_cancel(loop, NULL);
    ck_assert_int_eq(sf_loop_timer(loop, 1000, tstop, NULL, NULL), 0);

    fake_now = 1025; /* due: 2, 5 (1000), 1 (1020) */
    ck_assert_int_eq(sf_loop_run(loop), 0);
    ck_assert_int_eq(r.n, 3);
    fake_now = 1055; /* due: 7 (1050); 3 was cancelled */
    ck_assert_int_eq(sf_loop_run(loop), 0);
    ck_assert_int_eq(r.n, 4);
    fake_now = 5000; /* the rest, then the stop timer */
    sf_loop_set_before_sleep(loop, NULL, NULL);
    ck_assert_int_eq(sf_loop_run(loop), 0);
    const int want[] = {2, 5, 1, 7, 0, 6};
    ck_assert_int_eq(r.n, (int)ARRAY_SIZE(want));
    for (int i = 0; i < r.n; i++) {
        ck_assert_int_eq(r.order[i], want[i]);
    }
    /* Pending timers are freed by destroy (valgrind checks). */
    ck_assert_int_eq(sf_loop_timer(loop, 100000, tfire, &a[0], NULL), 0);
    sf_loop_destroy(loop);
}
END_TEST

START_TEST(test_loop_timers_real)
{
    /* On the real clock: created in increasing delay, so deadlines are
     * strictly increasing whatever the scheduler does. */
    struct sf_loop *loop;
    ck_assert_int_eq(sf_loop_create(&loop), 0);
    struct lrec r = {0};
    struct targ a[4];
    struct sf_timer *h[4];
    uint64_t t0 = sf_now_ms();
    for (int i = 0; i < 4; i++) {
        a[i] = (struct targ){&r, i};
        ck_assert_int_eq(sf_loop_timer(loop, (uint64_t)i * 5, tfire, &a[i], &h[i]), 0);
    }
    sf_loop_timer_cancel(loop, h[2]);
    ck_assert_int_eq(sf_loop_timer(loop, 20, tstop, NULL, NULL), 0);
    ck_assert_int_eq(sf_loop_run(loop), 0);
    ck_assert_uint_ge(sf_now_ms() - t0, 20); /* never early */
    ck_assert_int_eq(r.n, 3);
    ck_assert_int_eq(r.order[0], 0);
    ck_assert_int_eq(r.order[1], 1);
    ck_assert_int_eq(r.order[2], 3);
    sf_loop_destroy(loop);
}
END_TEST

enum { MANY = 500 };
static int many_order[MANY];
static int many_n;

static void many_fire(struct sf_loop *loop, void *arg)
{
    many_order[many_n++] = (int)(intptr_t)arg;
    if (many_n > MANY) {
        abort();
    }
    (void)loop;
}

START_TEST(test_loop_many_timers)
{
    /* Heap order under many inserts and cancels: exact (deadline, creation)
     * order, cancelled timers silent, the rest all fire. */
    struct sf_loop *loop;
    ck_assert_int_eq(sf_loop_create(&loop), 0);
    sf_base__loop_set_clock(loop, fake_clock);
    fake_now = 50;
    static struct sf_timer *h[MANY];
    many_n = 0;
    for (int i = 0; i < MANY; i++) {
        uint64_t ms = (uint64_t)((i * 7) % 10);
        ck_assert_int_eq(sf_loop_timer(loop, ms, many_fire, (void *)(intptr_t)i, &h[i]), 0);
    }
    int live = MANY;
    for (int i = 0; i < MANY; i += 3) {
        sf_loop_timer_cancel(loop, h[i]);
        live--;
    }
    ck_assert_int_eq(sf_loop_timer(loop, 100, tstop, NULL, NULL), 0);
    fake_now = 1000;
    ck_assert_int_eq(sf_loop_run(loop), 0);
    ck_assert_int_eq(many_n, live);
    for (int k = 0; k < many_n; k++) {
        int i = many_order[k];
        ck_assert_int_ne(i % 3, 0);
        if (k > 0) {
            int j = many_order[k - 1];
            int di = (i * 7) % 10, dj = (j * 7) % 10;
            ck_assert(dj < di || (dj == di && j < i));
        }
    }
    sf_loop_destroy(loop);
}
END_TEST

static void pipe_pair(int p[2])
{
    ck_assert_int_eq(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
}

static void on_read_stop(struct sf_loop *loop, int fd, int events, void *arg)
{
    struct lrec *r = arg;
    char c;
    ck_assert(events & SF_LOOP_IN);
    ck_assert_int_eq(read(fd, &c, 1), 1);
    r->order[r->n++] = c;
    sf_loop_stop(loop);
}

static void on_before_sleep(struct sf_loop *loop, void *arg)
{
    struct lrec *r = arg;
    r->hooks++;
    (void)loop;
}

START_TEST(test_loop_fd)
{
    struct sf_loop *loop;
    ck_assert_int_eq(sf_loop_create(&loop), 0);
    int p[2];
    pipe_pair(p);
    struct lrec r = {0};
    ck_assert_int_eq(sf_loop_add_fd(loop, p[0], SF_LOOP_IN, on_read_stop, &r), 0);
    ck_assert_int_eq(sf_loop_add_fd(loop, p[0], SF_LOOP_IN, on_read_stop, &r), -EEXIST);
    ck_assert_int_eq(sf_loop_mod_fd(loop, 999, SF_LOOP_IN), -ENOENT);
    ck_assert_int_eq(sf_loop_del_fd(loop, 999), -ENOENT);
    ck_assert_int_eq(sf_loop_add_fd(loop, -1, SF_LOOP_IN, on_read_stop, &r), -EINVAL);
    sf_loop_set_before_sleep(loop, on_before_sleep, &r);
    ck_assert_int_eq(write(p[1], "A", 1), 1);
    ck_assert_int_eq(sf_loop_run(loop), 0);
    ck_assert_int_eq(r.n, 1);
    ck_assert_int_eq(r.order[0], 'A');
    ck_assert_int_ge(r.hooks, 1);

    /* mod to 0 events: a readable fd stays quiet; a timer ends the run. */
    ck_assert_int_eq(sf_loop_mod_fd(loop, p[0], 0), 0);
    ck_assert_int_eq(write(p[1], "B", 1), 1);
    ck_assert_int_eq(sf_loop_timer(loop, 5, tstop, NULL, NULL), 0);
    ck_assert_int_eq(sf_loop_run(loop), 0);
    ck_assert_int_eq(r.n, 1);
    ck_assert_int_eq(sf_loop_mod_fd(loop, p[0], SF_LOOP_IN), 0);
    ck_assert_int_eq(sf_loop_run(loop), 0);
    ck_assert_int_eq(r.n, 2);
    ck_assert_int_eq(r.order[1], 'B');
    ck_assert_int_eq(sf_loop_del_fd(loop, p[0]), 0);
    sf_loop_destroy(loop);
    close(p[0]);
    close(p[1]);
}
END_TEST

static void on_hup(struct sf_loop *loop, int fd, int events, void *arg)
{
    int *ev = arg;
    *ev = events;
    sf_loop_del_fd(loop, fd);
    sf_loop_stop(loop);
}

START_TEST(test_loop_hup)
{
    struct sf_loop *loop;
    ck_assert_int_eq(sf_loop_create(&loop), 0);
    int s[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
    int ev = 0;
    /* Watch nothing: HUP is still reported. */
    ck_assert_int_eq(sf_loop_add_fd(loop, s[0], 0, on_hup, &ev), 0);
    close(s[1]);
    ck_assert_int_eq(sf_loop_run(loop), 0);
    ck_assert(ev & SF_LOOP_HUP);
    ck_assert(!(ev & SF_LOOP_IN));
    close(s[0]);
    sf_loop_destroy(loop);
}
END_TEST

/* Both fds readable in the same batch; whichever runs first deletes the
 * other, closes it and puts a fresh, idle pipe under the same number. The
 * event already fetched for the old descriptor must reach neither the old
 * callback nor the new one. */
static int fresh_calls;

static void on_fresh(struct sf_loop *loop, int fd, int events, void *arg)
{
    fresh_calls++;
    (void)loop, (void)fd, (void)events, (void)arg;
}

static void on_del_other(struct sf_loop *loop, int fd, int events, void *arg)
{
    struct lrec *r = arg;
    int other = fd == r->fd_a ? r->fd_b : r->fd_a;
    if (fd == r->fd_a) {
        r->calls_a++;
    } else {
        r->calls_b++;
    }
    ck_assert_int_eq(sf_loop_del_fd(loop, other), 0);
    int np[2];
    pipe_pair(np);
    ck_assert_int_eq(dup2(np[0], other), other); /* closes the old one */
    close(np[0]);
    r->victim_w = np[1];
    ck_assert_int_eq(sf_loop_add_fd(loop, other, SF_LOOP_IN, on_fresh, NULL), 0);
    (void)events;
}

/* Stop after one full batch of events. */
static void stop_second_sleep(struct sf_loop *loop, void *arg)
{
    int *n = arg;
    if (++*n == 2) {
        sf_loop_stop(loop);
    }
}

START_TEST(test_loop_del_in_callback)
{
    struct sf_loop *loop;
    ck_assert_int_eq(sf_loop_create(&loop), 0);
    int p[2], q[2];
    pipe_pair(p);
    pipe_pair(q);
    struct lrec r = {0};
    r.fd_a = p[0];
    r.fd_b = q[0];
    ck_assert_int_eq(sf_loop_add_fd(loop, p[0], SF_LOOP_IN, on_del_other, &r), 0);
    ck_assert_int_eq(sf_loop_add_fd(loop, q[0], SF_LOOP_IN, on_del_other, &r), 0);
    ck_assert_int_eq(write(p[1], "x", 1), 1);
    ck_assert_int_eq(write(q[1], "y", 1), 1);
    int sleeps = 0;
    sf_loop_set_before_sleep(loop, stop_second_sleep, &sleeps);
    ck_assert_int_eq(sf_loop_run(loop), 0);
    ck_assert_int_eq(r.calls_a + r.calls_b, 1);
    ck_assert_int_eq(fresh_calls, 0);
    /* The survivor is still readable (nobody read it) and still watched;
     * deleting itself from its own callback also works. */
    int survivor = r.calls_a ? p[0] : q[0];
    ck_assert_int_eq(sf_loop_del_fd(loop, survivor), 0);
    ck_assert_int_eq(sf_loop_add_fd(loop, survivor, SF_LOOP_IN, on_read_stop, &r), 0);
    sf_loop_set_before_sleep(loop, NULL, NULL);
    ck_assert_int_eq(sf_loop_run(loop), 0);
    ck_assert_int_eq(r.n, 1);
    ck_assert_int_eq(fresh_calls, 0);
    sf_loop_destroy(loop);
    close(p[0]);
    close(p[1]);
    close(q[0]);
    close(q[1]);
    close(r.victim_w);
}
END_TEST

static struct sf_loop *starve_loop;
static int rearms;

static void rearm(struct sf_loop *loop, void *arg)
{
    rearms++;
    ck_assert_int_eq(sf_loop_timer(loop, 0, rearm, arg, NULL), 0);
}

START_TEST(test_loop_timer_no_starve)
{
    /* A timer that re-arms itself with 0 ms must not starve descriptors. */
    ck_assert_int_eq(sf_loop_create(&starve_loop), 0);
    int p[2];
    pipe_pair(p);
    struct lrec r = {0};
    ck_assert_int_eq(sf_loop_add_fd(starve_loop, p[0], SF_LOOP_IN, on_read_stop, &r), 0);
    ck_assert_int_eq(sf_loop_timer(starve_loop, 0, rearm, NULL, NULL), 0);
    ck_assert_int_eq(write(p[1], "z", 1), 1);
    ck_assert_int_eq(sf_loop_run(starve_loop), 0);
    ck_assert_int_eq(r.n, 1);
    ck_assert_int_ge(rearms, 1);
    sf_loop_destroy(starve_loop);
    close(p[0]);
    close(p[1]);
}
END_TEST

/* Wake-ups from other threads run on the loop thread, all of them. */
enum { WAKERS = 2, WAKES_EACH = 2000 };
static struct lrec wake_rec;
static struct sf_loop *wake_loop;

static void on_wake(struct sf_loop *loop, void *arg)
{
    if (!pthread_equal(pthread_self(), wake_rec.loop_thread)) {
        wake_rec.wrong_thread = true;
    }
    wake_rec.wakes++;
    if (wake_rec.wakes == WAKERS * WAKES_EACH) {
        sf_loop_stop(loop);
    }
    (void)arg;
}

static void *waker(void *arg)
{
    for (int i = 0; i < WAKES_EACH; i++) {
        if (sf_loop_wake(wake_loop, on_wake, arg) != 0) {
            abort();
        }
    }
    return NULL;
}

START_TEST(test_loop_wake)
{
    ck_assert_int_eq(sf_loop_create(&wake_loop), 0);
    memset(&wake_rec, 0, sizeof wake_rec);
    wake_rec.loop_thread = pthread_self();
    pthread_t th[WAKERS];
    for (int i = 0; i < WAKERS; i++) {
        ck_assert_int_eq(pthread_create(&th[i], NULL, waker, NULL), 0);
    }
    ck_assert_int_eq(sf_loop_run(wake_loop), 0);
    for (int i = 0; i < WAKERS; i++) {
        pthread_join(th[i], NULL);
    }
    ck_assert_int_eq(wake_rec.wakes, WAKERS * WAKES_EACH);
    ck_assert(!wake_rec.wrong_thread);
    /* A wake-up queued but never run is freed by destroy. */
    ck_assert_int_eq(sf_loop_wake(wake_loop, on_wake, NULL), 0);
    sf_loop_destroy(wake_loop);
}
END_TEST

START_TEST(test_now_ms)
{
    uint64_t a = sf_now_ms();
    uint64_t b = sf_now_ms();
    ck_assert_uint_ge(b, a);
    ck_assert_uint_gt(a, 0);
}
END_TEST

/* ------------------------------------------------------------------ */
/* CRC-32C */

START_TEST(test_crc32c)
{
    ck_assert_uint_eq(sf_crc32c("123456789", 9), 0xE3069283u);
    ck_assert_uint_eq(sf_base__crc32c_sw("123456789", 9), 0xE3069283u);
    ck_assert_uint_eq(sf_crc32c("", 0), 0);
    uint8_t zeros[32] = {0};
    ck_assert_uint_eq(sf_crc32c(zeros, 32), 0x8A9136AAu); /* RFC 3720 B.4 */
    uint8_t ones[32];
    memset(ones, 0xff, sizeof ones);
    ck_assert_uint_eq(sf_crc32c(ones, 32), 0x62A8AB43u);
    /* Extending piece by piece gives the whole message's CRC. */
    uint32_t part = sf_crc32c_extend(0, "1234", 4);
    ck_assert_uint_eq(sf_crc32c_extend(part, "56789", 5), 0xE3069283u);
    ck_assert_uint_eq(sf_crc32c_extend(0, "123456789", 9), 0xE3069283u);
    /* Hardware and software paths agree at every length and alignment. */
    uint8_t buf[600];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof buf; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (uint8_t)(x >> 16);
    }
    for (size_t off = 0; off < 9; off++) {
        for (size_t len = 0; len + off <= sizeof buf; len += 7) {
            ck_assert_uint_eq(sf_crc32c(buf + off, len), sf_base__crc32c_sw(buf + off, len));
        }
    }
}
END_TEST

/* ------------------------------------------------------------------ */
/* wire: round trips */

/* Fill every field of an op from its schema with values from set 'v', and
 * check them after decoding. Covers every op's schema generically. */
static char *const strv_a[] = {"./app", "--size=10", "", "last arg"};
static const int32_t i32v_a[] = {0, -1, INT32_MAX, INT32_MIN, 7};

static void put_generic(struct sf_wire_enc *e, const struct sf_wire_schema *s, int v)
{
    for (unsigned i = 0; i < s->nfields; i++) {
        switch (s->kinds[i]) {
        case SF_WK_U8:
            sf_wire_put_u8(e, v ? 0xff : 0);
            break;
        case SF_WK_U16:
            sf_wire_put_u16(e, v ? 0xfffe : 0);
            break;
        case SF_WK_U32:
            sf_wire_put_u32(e, v ? 0xfffffffdu : (uint32_t)i);
            break;
        case SF_WK_U64:
            sf_wire_put_u64(e, v ? UINT64_MAX - 3 : 1);
            break;
        case SF_WK_I32:
            sf_wire_put_i32(e, v ? INT32_MIN : -5 - (int)i);
            break;
        case SF_WK_I64:
            sf_wire_put_i64(e, v ? INT64_MIN : -6);
            break;
        case SF_WK_STR:
            sf_wire_put_str(e, v ? "" : "some text: host node1, value 5");
            break;
        case SF_WK_BYTES:
            sf_wire_put_bytes(e, v ? NULL : "\0\1\2\xff", v ? 0 : 4);
            break;
        case SF_WK_STRV:
            sf_wire_put_strv(e, strv_a, v ? 0 : ARRAY_SIZE(strv_a));
            break;
        case SF_WK_I32V:
            sf_wire_put_i32v(e, i32v_a, v ? 0 : ARRAY_SIZE(i32v_a));
            break;
        default:
            ck_abort_msg("unknown kind");
        }
    }
}

static void check_generic(const struct sf_wire_msg *m, const struct sf_wire_schema *s, int v)
{
    for (unsigned i = 0; i < s->nfields; i++) {
        const struct sf_wire_val *f = &m->f[i];
        switch (s->kinds[i]) {
        case SF_WK_U8:
            ck_assert_uint_eq(f->u, v ? 0xff : 0);
            break;
        case SF_WK_U16:
            ck_assert_uint_eq(f->u, v ? 0xfffe : 0);
            break;
        case SF_WK_U32:
            ck_assert_uint_eq(f->u, v ? 0xfffffffdu : i);
            break;
        case SF_WK_U64:
            ck_assert_uint_eq(f->u, v ? UINT64_MAX - 3 : 1);
            break;
        case SF_WK_I32:
            ck_assert_int_eq(f->i, v ? INT32_MIN : -5 - (int)i);
            break;
        case SF_WK_I64:
            ck_assert_int_eq(f->i, v ? INT64_MIN : -6);
            break;
        case SF_WK_STR: {
            const char *want = v ? "" : "some text: host node1, value 5";
            ck_assert_uint_eq(f->len, strlen(want));
            ck_assert_mem_eq(f->p, want, f->len);
            char *d = sf_wire_strdup(f);
            ck_assert_str_eq(d, want);
            free(d);
            break;
        }
        case SF_WK_BYTES:
            ck_assert_uint_eq(f->len, v ? 0 : 4);
            if (!v) {
                ck_assert_mem_eq(f->p, "\0\1\2\xff", 4);
            }
            break;
        case SF_WK_STRV: {
            ck_assert_uint_eq(f->len, v ? 0 : ARRAY_SIZE(strv_a));
            uint32_t pos = 0, n = 0, len;
            const uint8_t *str;
            while (sf_wire_strv_next(f, &pos, &str, &len)) {
                ck_assert_uint_lt(n, ARRAY_SIZE(strv_a));
                ck_assert_uint_eq(len, strlen(strv_a[n]));
                ck_assert_mem_eq(str, strv_a[n], len);
                n++;
            }
            ck_assert_uint_eq(n, f->len);
            break;
        }
        case SF_WK_I32V:
            ck_assert_uint_eq(f->len, v ? 0 : ARRAY_SIZE(i32v_a));
            for (uint32_t k = 0; k < f->len; k++) {
                ck_assert_int_eq(sf_wire_i32v_get(f, k), i32v_a[k]);
            }
            ck_assert_int_eq(sf_wire_i32v_get(f, f->len), 0); /* out of range */
            break;
        }
    }
}

START_TEST(test_wire_roundtrip_all_ops)
{
    int ops = 0;
    for (int op = 0; op < 256; op++) {
        const struct sf_wire_schema *s = sf_wire_schema((uint8_t)op);
        if (op == SF_OP_INVALID || op >= SF_OP_COUNT) {
            ck_assert_ptr_null(s);
            continue;
        }
        ck_assert_ptr_nonnull(s);
        ck_assert_uint_le(s->nfields, SF_WIRE_MAX_FIELDS);
        ops++;
        for (int v = 0; v < 2; v++) {
            struct sf_wire_enc e;
            sf_wire_enc_begin(&e, (uint8_t)op, 1000u + (uint32_t)op);
            put_generic(&e, s, v);
            ck_assert_int_eq(sf_wire_enc_end(&e), 0);
            struct sf_wire_msg m;
            /* Every proper prefix asks for more bytes. */
            for (size_t cut = 0; cut < e.len; cut++) {
                ck_assert_int_eq(sf_wire_decode(e.buf, cut, &m), 0);
            }
            ck_assert_int_eq(sf_wire_decode(e.buf, e.len, &m), (long)e.len);
            ck_assert_uint_eq(m.op, op);
            ck_assert_uint_eq(m.seq, 1000u + (uint32_t)op);
            ck_assert_uint_eq(m.nfields, s->nfields);
            check_generic(&m, s, v);
            /* Extra bytes after the frame are the next frame's business. */
            uint8_t *more = malloc(e.len + 3);
            memcpy(more, e.buf, e.len);
            memcpy(more + e.len, "SF\1", 3);
            ck_assert_int_eq(sf_wire_decode(more, e.len + 3, &m), (long)e.len);
            free(more);
            sf_wire_enc_free(&e);
        }
    }
    ck_assert_int_eq(ops, SF_OP_COUNT - 1);
}
END_TEST

START_TEST(test_wire_job_submit)
{
    char *argv[] = {"/bin/hostname", "-s"};
    char *env[] = {"PATH=/usr/bin:/bin", "HOME=/root", "OMP_NUM_THREADS=1"};
    char *opts[] = {"ft=abort", "tag-output=1"};
    struct sf_wire_enc e;
    sf_wire_enc_begin(&e, SF_OP_JOB_SUBMIT, 1);
    sf_wire_put_i32(&e, 4);
    sf_wire_put_u32(&e, 0x3);
    sf_wire_put_strv(&e, argv, 2);
    sf_wire_put_strv(&e, env, 3);
    sf_wire_put_str(&e, "/home/user/run");
    sf_wire_put_strv(&e, opts, 2);
    ck_assert_int_eq(sf_wire_enc_end(&e), 0);
    struct sf_wire_msg m;
    ck_assert_int_eq(sf_wire_decode(e.buf, e.len, &m), (long)e.len);
    ck_assert_int_eq(m.f[0].i, 4);
    ck_assert_uint_eq(m.f[1].u, 3);
    ck_assert_uint_eq(m.f[3].len, 3);
    uint32_t pos = 0, len;
    const uint8_t *s;
    for (int k = 0; k < 3; k++) {
        ck_assert(sf_wire_strv_next(&m.f[3], &pos, &s, &len));
        ck_assert_uint_eq(len, strlen(env[k]));
        ck_assert_mem_eq(s, env[k], len);
    }
    ck_assert(!sf_wire_strv_next(&m.f[3], &pos, &s, &len));
    char *cwd = sf_wire_strdup(&m.f[4]);
    ck_assert_str_eq(cwd, "/home/user/run");
    free(cwd);
    sf_wire_enc_free(&e);
}
END_TEST

START_TEST(test_wire_big_frame)
{
    /* A body at exactly the maximum size encodes and decodes; one byte
     * more is refused by the encoder. */
    size_t n = SF_WIRE_MAX_BODY - 4 - 4 - 1 - 4; /* OUTPUT: i32, u8, bytes */
    n += 4;
    uint8_t *data = malloc(n);
    memset(data, 'q', n);
    struct sf_wire_enc e;
    sf_wire_enc_begin(&e, SF_OP_OUTPUT, 9);
    sf_wire_put_i32(&e, 1);
    sf_wire_put_u8(&e, 2);
    sf_wire_put_bytes(&e, data, n);
    ck_assert_int_eq(sf_wire_enc_end(&e), 0);
    ck_assert_uint_eq(e.len, SF_WIRE_HDR_LEN + SF_WIRE_MAX_BODY);
    struct sf_wire_msg m;
    ck_assert_int_eq(sf_wire_decode(e.buf, e.len, &m), (long)e.len);
    ck_assert_uint_eq(m.f[2].len, n);
    sf_wire_enc_free(&e);

    sf_wire_enc_begin(&e, SF_OP_OUTPUT, 9);
    sf_wire_put_i32(&e, 1);
    sf_wire_put_u8(&e, 2);
    sf_wire_put_bytes(&e, data, n + 1);
    ck_assert_int_eq(sf_wire_enc_end(&e), -EMSGSIZE);
    sf_wire_enc_free(&e);
    free(data);
}
END_TEST

/* ------------------------------------------------------------------ */
/* wire: encoder misuse */

START_TEST(test_wire_encoder_errors)
{
    struct sf_wire_enc e;
    /* wrong kind */
    sf_wire_enc_begin(&e, SF_OP_RANK_HELLO, 1);
    sf_wire_put_i32(&e, 1);
    sf_wire_put_i32(&e, 2);
    sf_wire_put_i32(&e, 3);
    ck_assert_int_eq(sf_wire_enc_end(&e), SF_ERR_PROTO);
    sf_wire_enc_free(&e);
    /* missing field */
    sf_wire_enc_begin(&e, SF_OP_RANK_HELLO, 1);
    sf_wire_put_u64(&e, 1);
    sf_wire_put_i32(&e, 2);
    ck_assert_int_eq(sf_wire_enc_end(&e), SF_ERR_PROTO);
    sf_wire_enc_free(&e);
    /* extra field */
    sf_wire_enc_begin(&e, SF_OP_SIGNAL, 1);
    sf_wire_put_i32(&e, 15);
    sf_wire_put_i32(&e, 15);
    ck_assert_int_eq(sf_wire_enc_end(&e), SF_ERR_PROTO);
    sf_wire_enc_free(&e);
    /* unknown ops */
    const uint8_t bad_ops[] = {SF_OP_INVALID, SF_OP_COUNT, 255};
    for (size_t i = 0; i < sizeof bad_ops; i++) {
        sf_wire_enc_begin(&e, bad_ops[i], 1);
        sf_wire_put_i32(&e, 15);
        ck_assert_int_eq(sf_wire_enc_end(&e), SF_ERR_PROTO);
        sf_wire_enc_free(&e);
    }
    /* too many strings */
    size_t nv = SF_WIRE_MAX_STRV + 1;
    char **v = calloc(nv, sizeof *v);
    for (size_t i = 0; i < nv; i++) {
        v[i] = "";
    }
    sf_wire_enc_begin(&e, SF_OP_JOB_SUBMIT, 1);
    sf_wire_put_i32(&e, 1);
    sf_wire_put_u32(&e, 0);
    sf_wire_put_strv(&e, v, nv);
    sf_wire_put_strv(&e, v, 0);
    sf_wire_put_str(&e, "/");
    sf_wire_put_strv(&e, v, 0);
    ck_assert_int_eq(sf_wire_enc_end(&e), -EMSGSIZE);
    sf_wire_enc_free(&e);
    /* exactly the maximum is fine */
    sf_wire_enc_begin(&e, SF_OP_JOB_SUBMIT, 1);
    sf_wire_put_i32(&e, 1);
    sf_wire_put_u32(&e, 0);
    sf_wire_put_strv(&e, v, SF_WIRE_MAX_STRV);
    sf_wire_put_strv(&e, v, 0);
    sf_wire_put_str(&e, "/");
    sf_wire_put_strv(&e, v, 0);
    ck_assert_int_eq(sf_wire_enc_end(&e), 0);
    struct sf_wire_msg m;
    ck_assert_int_eq(sf_wire_decode(e.buf, e.len, &m), (long)e.len);
    ck_assert_uint_eq(m.f[2].len, SF_WIRE_MAX_STRV);
    sf_wire_enc_free(&e);
    free(v);
}
END_TEST

/* ------------------------------------------------------------------ */
/* wire: corrupt input */

START_TEST(test_wire_bad_header)
{
    struct sf_wire_enc e;
    rank_abort_frame(&e, "bye");
    uint8_t *f = malloc(e.len);

    /* bad magic, seen from the first byte on */
    for (int b = 0; b < 2; b++) {
        memcpy(f, e.buf, e.len);
        f[b] ^= 0x20;
        expect_reject(f, e.len, SF_ERR_PROTO);
        expect_reject(f, (size_t)b + 1, SF_ERR_PROTO);
    }
    /* version */
    memcpy(f, e.buf, e.len);
    f[2] = SF_WIRE_VERSION + 1;
    expect_reject(f, e.len, SF_ERR_VERSION);
    expect_reject(f, 3, SF_ERR_VERSION);
    f[2] = 0;
    expect_reject(f, e.len, SF_ERR_VERSION);
    /* unknown op */
    const uint8_t bad_ops[] = {SF_OP_INVALID, SF_OP_COUNT, 200, 255};
    for (size_t i = 0; i < sizeof bad_ops; i++) {
        memcpy(f, e.buf, e.len);
        f[3] = bad_ops[i];
        expect_reject(f, e.len, SF_ERR_PROTO);
        expect_reject(f, 4, SF_ERR_PROTO);
    }
    /* length above the maximum, whatever follows */
    memcpy(f, e.buf, e.len);
    put32(f + 4, SF_WIRE_MAX_BODY + 1);
    expect_reject(f, SF_WIRE_HDR_LEN, -EMSGSIZE);
    put32(f + 4, UINT32_MAX);
    expect_reject(f, e.len, -EMSGSIZE);
    /* checksum: a flipped body bit, a flipped CRC bit */
    memcpy(f, e.buf, e.len);
    f[e.len - 1] ^= 1;
    expect_reject(f, e.len, SF_ERR_CHECKSUM);
    memcpy(f, e.buf, e.len);
    f[13] ^= 0x80;
    expect_reject(f, e.len, SF_ERR_CHECKSUM);
    /* truncated header and body: "need more", message untouched */
    for (size_t cut = 0; cut < e.len; cut++) {
        expect_reject(e.buf, cut, 0);
    }
    /* length claims fewer bytes than the fields need */
    memcpy(f, e.buf, e.len);
    reseal(f, e.len - 1);
    expect_reject(f, e.len - 1, SF_ERR_PROTO);
    free(f);
    sf_wire_enc_free(&e);
}
END_TEST

START_TEST(test_wire_bad_fields)
{
    uint8_t body[64];
    size_t flen;
    uint8_t *f;

    memset(body, 0, sizeof body);
    /* STR length runs past the body */
    put32(body, 1);     /* rank */
    put32(body + 4, 2); /* code */
    put32(body + 8, 10);
    memcpy(body + 12, "abc", 3);
    f = raw_frame(SF_OP_RANK_ABORT, body, 15, &flen);
    expect_reject(f, flen, SF_ERR_PROTO);
    free(f);
    /* STR length prefix itself cut off */
    f = raw_frame(SF_OP_RANK_ABORT, body, 10, &flen);
    expect_reject(f, flen, SF_ERR_PROTO);
    free(f);
    /* trailing bytes after the last field */
    put32(body + 8, 3);
    f = raw_frame(SF_OP_RANK_ABORT, body, 16, &flen);
    expect_reject(f, flen, SF_ERR_PROTO);
    free(f);
    /* and exactly right is accepted */
    f = raw_frame(SF_OP_RANK_ABORT, body, 15, &flen);
    struct sf_wire_msg m;
    ck_assert_int_eq(sf_wire_decode(f, flen, &m), (long)flen);
    free(f);
    /* STR with a NUL inside */
    memcpy(body + 12, "a\0c", 3);
    f = raw_frame(SF_OP_RANK_ABORT, body, 15, &flen);
    expect_reject(f, flen, SF_ERR_PROTO);
    free(f);
    /* BYTES may hold NULs */
    put32(body, 1);
    put32(body + 4, 3);
    memcpy(body + 8, "\0\0\0", 3);
    f = raw_frame(SF_OP_RANK_ADDR, body, 11, &flen);
    ck_assert_int_eq(sf_wire_decode(f, flen, &m), (long)flen);
    free(f);
    /* empty body for an op with fields */
    f = raw_frame(SF_OP_SIGNAL, body, 0, &flen);
    expect_reject(f, flen, SF_ERR_PROTO);
    free(f);
    /* fixed-width field cut: U64 of RANK_HELLO with 7 bytes */
    memset(body, 0, sizeof body);
    f = raw_frame(SF_OP_RANK_HELLO, body, 7, &flen);
    expect_reject(f, flen, SF_ERR_PROTO);
    free(f);
    f = raw_frame(SF_OP_RANK_HELLO, body, 16, &flen);
    ck_assert_int_eq(sf_wire_decode(f, flen, &m), (long)flen);
    free(f);
    /* U8 missing (OUTPUT: i32, u8, bytes) */
    f = raw_frame(SF_OP_OUTPUT, body, 4, &flen);
    expect_reject(f, flen, SF_ERR_PROTO);
    free(f);
}
END_TEST

START_TEST(test_wire_bad_vectors)
{
    /* JOB_SUBMIT: i32, u32, strv, strv, str, strv */
    uint8_t body[256] = {0};
    size_t flen, n;
    uint8_t *f;
    struct sf_wire_msg m;

#define HEAD() (put32(body, 2), put32(body + 4, 0), n = 8)
    /* huge STRV count with a small body */
    HEAD();
    put32(body + n, 0x7fffffffu);
    n += 4;
    f = raw_frame(SF_OP_JOB_SUBMIT, body, n, &flen);
    expect_reject(f, flen, SF_ERR_PROTO);
    free(f);
    /* count just above the limit even though the body could not hold it */
    HEAD();
    put32(body + n, SF_WIRE_MAX_STRV + 1);
    n += 4;
    f = raw_frame(SF_OP_JOB_SUBMIT, body, n, &flen);
    expect_reject(f, flen, SF_ERR_PROTO);
    free(f);
    /* a count above the limit with a body that really holds the entries */
    {
        size_t big = 12 + 4 * ((size_t)SF_WIRE_MAX_STRV + 1) + 12;
        uint8_t *bb = calloc(1, big);
        put32(bb, 2);
        put32(bb + 8, SF_WIRE_MAX_STRV + 1); /* then that many empty STRs */
        f = raw_frame(SF_OP_JOB_SUBMIT, bb, big, &flen);
        expect_reject(f, flen, SF_ERR_PROTO);
        free(f);
        /* one fewer entry, count at the limit: accepted */
        put32(bb + 8, SF_WIRE_MAX_STRV);
        f = raw_frame(SF_OP_JOB_SUBMIT, bb, big - 4, &flen);
        ck_assert_int_eq(sf_wire_decode(f, flen, &m), (long)flen);
        ck_assert_uint_eq(m.f[2].len, SF_WIRE_MAX_STRV);
        free(f);
        free(bb);
    }
    /* count larger than the entries present */
    HEAD();
    put32(body + n, 2);
    put32(body + n + 4, 1);
    body[n + 8] = 'a';
    n += 9;
    put32(body + n, 0);
    put32(body + n + 4, 0);
    put32(body + n + 8, 0);
    n += 12;
    f = raw_frame(SF_OP_JOB_SUBMIT, body, n, &flen);
    expect_reject(f, flen, SF_ERR_PROTO);
    free(f);
    /* the same with the right count decodes */
    HEAD();
    put32(body + n, 1);
    put32(body + n + 4, 1);
    body[n + 8] = 'a';
    n += 9;
    put32(body + n, 0);
    put32(body + n + 4, 0);
    put32(body + n + 8, 0);
    n += 12;
    f = raw_frame(SF_OP_JOB_SUBMIT, body, n, &flen);
    ck_assert_int_eq(sf_wire_decode(f, flen, &m), (long)flen);
    ck_assert_uint_eq(m.f[2].len, 1);
    free(f);
    /* a NUL inside a STRV entry */
    HEAD();
    put32(body + n, 1);
    put32(body + n + 4, 2);
    body[n + 8] = 'a';
    body[n + 9] = 0;
    n += 10;
    put32(body + n, 0);
    put32(body + n + 4, 0);
    put32(body + n + 8, 0);
    n += 12;
    f = raw_frame(SF_OP_JOB_SUBMIT, body, n, &flen);
    expect_reject(f, flen, SF_ERR_PROTO);
    free(f);
#undef HEAD

    /* ADDR_TABLE: u32 epoch, i32v, bytes. I32V count beyond the body. */
    put32(body, 1);
    put32(body + 4, 0x40000000u); /* count*4 overflows 32 bits */
    put32(body + 8, 5);
    put32(body + 12, 0);
    f = raw_frame(SF_OP_ADDR_TABLE, body, 16, &flen);
    expect_reject(f, flen, SF_ERR_PROTO);
    free(f);
    put32(body + 4, 2);
    f = raw_frame(SF_OP_ADDR_TABLE, body, 16, &flen);
    expect_reject(f, flen, SF_ERR_PROTO); /* 2 ints then no BYTES length */
    free(f);
    put32(body + 16, 0);
    f = raw_frame(SF_OP_ADDR_TABLE, body, 20, &flen);
    ck_assert_int_eq(sf_wire_decode(f, flen, &m), (long)flen);
    ck_assert_int_eq(sf_wire_i32v_get(&m.f[1], 0), 5);
    free(f);
}
END_TEST

/* ------------------------------------------------------------------ */
/* wire: dispatch */

static int h_signal(void *ctx, const struct sf_wire_msg *m)
{
    *(int *)ctx = (int)m->f[0].i;
    return 11;
}

START_TEST(test_wire_dispatch)
{
    sf_wire_handler table[SF_OP_COUNT] = {[SF_OP_SIGNAL] = h_signal};
    struct sf_wire_msg m = {.op = SF_OP_SIGNAL, .nfields = 1};
    m.f[0].i = 15;
    int got = 0;
    ck_assert_int_eq(sf_wire_dispatch(table, SF_OP_COUNT, &got, &m), 11);
    ck_assert_int_eq(got, 15);
    m.op = SF_OP_KILL; /* no handler */
    ck_assert_int_eq(sf_wire_dispatch(table, SF_OP_COUNT, &got, &m), SF_ERR_PROTO);
    m.op = SF_OP_SIGNAL; /* beyond a short table */
    ck_assert_int_eq(sf_wire_dispatch(table, SF_OP_SIGNAL, &got, &m), SF_ERR_PROTO);
    m.op = 255;
    ck_assert_int_eq(sf_wire_dispatch(table, SF_OP_COUNT, &got, &m), SF_ERR_PROTO);
}
END_TEST

/* ------------------------------------------------------------------ */
/* wire: streams */

static void nonblock(int fd)
{
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* Read everything currently available, collecting frames. */
static int drain_rx(struct sf_wire_rx *rx, int fd, struct sf_wire_msg *out, int max)
{
    int got = 0;
    for (;;) {
        long r = sf_wire_rx_fill(rx, fd);
        if (r == -EAGAIN || r == 0) {
            break;
        }
        ck_assert_int_gt(r, 0);
        struct sf_wire_msg m;
        int k;
        while ((k = sf_wire_rx_next(rx, &m)) == 1) {
            ck_assert_int_lt(got, max);
            out[got++] = m;
        }
        ck_assert_int_eq(k, 0);
    }
    return got;
}

START_TEST(test_wire_rx_byte_at_a_time)
{
    int s[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
    nonblock(s[1]);
    /* A stream of frames of every op, written one byte at a time; after
     * every byte the receiver fills and pulls what is complete. */
    uint8_t *stream = NULL;
    size_t slen = 0;
    int nframes = 0;
    for (int op = 1; op < SF_OP_COUNT; op++) {
        struct sf_wire_enc e;
        sf_wire_enc_begin(&e, (uint8_t)op, (uint32_t)op * 3);
        put_generic(&e, sf_wire_schema((uint8_t)op), op & 1);
        ck_assert_int_eq(sf_wire_enc_end(&e), 0);
        stream = realloc(stream, slen + e.len);
        memcpy(stream + slen, e.buf, e.len);
        slen += e.len;
        nframes++;
        sf_wire_enc_free(&e);
    }
    struct sf_wire_rx rx;
    sf_wire_rx_init(&rx);
    int got = 0;
    for (size_t i = 0; i < slen; i++) {
        ck_assert_int_eq(write(s[0], stream + i, 1), 1);
        long r = sf_wire_rx_fill(&rx, s[1]);
        ck_assert_int_eq(r, 1);
        ck_assert_int_eq(sf_wire_rx_fill(&rx, s[1]), -EAGAIN);
        struct sf_wire_msg m;
        int k;
        while ((k = sf_wire_rx_next(&rx, &m)) == 1) {
            got++;
            ck_assert_uint_eq(m.op, got);
            ck_assert_uint_eq(m.seq, (uint32_t)got * 3);
            check_generic(&m, sf_wire_schema(m.op), got & 1);
        }
        ck_assert_int_eq(k, 0);
    }
    ck_assert_int_eq(got, nframes);
    ck_assert_uint_eq(rx.dropped, 0);
    /* EOF */
    close(s[0]);
    ck_assert_int_eq(sf_wire_rx_fill(&rx, s[1]), 0);
    sf_wire_rx_free(&rx);
    free(stream);
    close(s[1]);
}
END_TEST

START_TEST(test_wire_rx_chunks)
{
    /* Many small frames written in odd-sized chunks, read in bulk. */
    int s[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
    nonblock(s[1]);
    enum { N = 300 };
    uint8_t *stream = NULL;
    size_t slen = 0;
    for (int i = 0; i < N; i++) {
        struct sf_wire_enc e;
        char text[40];
        snprintf(text, sizeof text, "rank %d exited", i);
        sf_wire_enc_begin(&e, SF_OP_RANK_EXIT, (uint32_t)i);
        sf_wire_put_i32(&e, i);
        sf_wire_put_i32(&e, i % 256);
        sf_wire_put_str(&e, text);
        ck_assert_int_eq(sf_wire_enc_end(&e), 0);
        stream = realloc(stream, slen + e.len);
        memcpy(stream + slen, e.buf, e.len);
        slen += e.len;
        sf_wire_enc_free(&e);
    }
    struct sf_wire_rx rx;
    sf_wire_rx_init(&rx);
    static struct sf_wire_msg msgs[N];
    int got = 0;
    size_t off = 0, chunk = 1;
    while (off < slen) {
        size_t c = chunk < slen - off ? chunk : slen - off;
        ck_assert_int_eq(sf_wire_write_all(s[0], stream + off, c), 0);
        off += c;
        chunk = chunk * 3 % 997 + 1;
        int k = drain_rx(&rx, s[1], msgs + got, N - got);
        for (int j = got; j < got + k; j++) {
            ck_assert_int_eq(msgs[j].f[0].i, j);
            ck_assert_uint_eq(msgs[j].seq, (uint32_t)j);
        }
        got += k;
    }
    ck_assert_int_eq(got, N);
    sf_wire_rx_free(&rx);
    free(stream);
    close(s[0]);
    close(s[1]);
}
END_TEST

struct big_writer {
    int fd;
    const uint8_t *buf;
    size_t len;
    int rc;
};

static void *big_write(void *arg)
{
    struct big_writer *w = arg;
    w->rc = sf_wire_write_all(w->fd, w->buf, w->len);
    return NULL;
}

START_TEST(test_wire_rx_large)
{
    /* A 5 MiB OUTPUT frame plus a small one through a non-blocking writer
     * (write_all polls on EAGAIN) and a growing receive buffer. */
    int s[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
    nonblock(s[0]);
    size_t n = 5u << 20;
    uint8_t *data = malloc(n);
    for (size_t i = 0; i < n; i++) {
        data[i] = (uint8_t)(i * 31 + 7);
    }
    struct sf_wire_enc e;
    sf_wire_enc_begin(&e, SF_OP_OUTPUT, 1);
    sf_wire_put_i32(&e, 0);
    sf_wire_put_u8(&e, 1);
    sf_wire_put_bytes(&e, data, n);
    ck_assert_int_eq(sf_wire_enc_end(&e), 0);
    struct sf_wire_enc e2;
    sf_wire_enc_begin(&e2, SF_OP_GOODBYE, 2);
    sf_wire_put_str(&e2, "done");
    ck_assert_int_eq(sf_wire_enc_end(&e2), 0);
    size_t total = e.len + e2.len;
    uint8_t *both = malloc(total);
    memcpy(both, e.buf, e.len);
    memcpy(both + e.len, e2.buf, e2.len);

    struct big_writer w = {s[0], both, total, -1};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, big_write, &w), 0);
    struct sf_wire_rx rx;
    sf_wire_rx_init(&rx);
    int got = 0;
    while (got < 2) {
        long r = sf_wire_rx_fill(&rx, s[1]); /* blocking reader */
        ck_assert_int_gt(r, 0);
        struct sf_wire_msg m;
        int k;
        while ((k = sf_wire_rx_next(&rx, &m)) == 1) {
            if (got == 0) {
                ck_assert_uint_eq(m.op, SF_OP_OUTPUT);
                ck_assert_uint_eq(m.f[2].len, n);
                ck_assert_mem_eq(m.f[2].p, data, n);
            } else {
                ck_assert_uint_eq(m.op, SF_OP_GOODBYE);
            }
            got++;
        }
        ck_assert_int_eq(k, 0);
    }
    pthread_join(th, NULL);
    ck_assert_int_eq(w.rc, 0);
    ck_assert_uint_le(rx.cap, SF_WIRE_HDR_LEN + SF_WIRE_MAX_BODY);
    sf_wire_rx_free(&rx);
    sf_wire_enc_free(&e);
    sf_wire_enc_free(&e2);
    free(both);
    free(data);
    close(s[0]);
    close(s[1]);
}
END_TEST

START_TEST(test_wire_rx_corrupt)
{
    int s[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
    nonblock(s[1]);
    struct sf_wire_enc e;
    rank_abort_frame(&e, "first");
    ck_assert_int_eq(sf_wire_write_all(s[0], e.buf, e.len), 0);
    /* then a frame with a broken checksum */
    e.buf[e.len - 1] ^= 0xff;
    ck_assert_int_eq(sf_wire_write_all(s[0], e.buf, e.len), 0);
    struct sf_wire_rx rx;
    sf_wire_rx_init(&rx);
    ck_assert_int_gt(sf_wire_rx_fill(&rx, s[1]), 0);
    struct sf_wire_msg m;
    ck_assert_int_eq(sf_wire_rx_next(&rx, &m), 1);
    ck_assert_int_eq(sf_wire_rx_next(&rx, &m), SF_ERR_CHECKSUM);
    ck_assert_uint_eq(rx.dropped, 1);
    sf_wire_rx_free(&rx);

    /* Plain text (someone speaking HTTP at us) is refused at once. */
    sf_wire_rx_init(&rx);
    ck_assert_int_eq(write(s[0], "GET / HTTP/1.0\r\n", 16), 16);
    while (sf_wire_rx_fill(&rx, s[1]) > 0) {
    }
    ck_assert_int_eq(sf_wire_rx_next(&rx, &m), SF_ERR_PROTO);
    sf_wire_rx_free(&rx);
    sf_wire_enc_free(&e);
    close(s[0]);
    close(s[1]);
}
END_TEST

START_TEST(test_wire_write_errors)
{
    int s[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
    close(s[1]);
    /* No SIGPIPE: the peer's absence comes back as -EPIPE. */
    ck_assert_int_eq(sf_wire_write_all(s[0], "abc", 3), -EPIPE);
    close(s[0]);
    ck_assert_int_eq(sf_wire_write_all(s[0], "abc", 3), -EBADF);
    ck_assert_int_eq(sf_wire_write_all(s[0], "", 0), 0);
    /* Not a socket: falls back to write(2). */
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    ck_assert_int_eq(sf_wire_write_all(p[1], "hello", 5), 0);
    char buf[8];
    ck_assert_int_eq(read(p[0], buf, sizeof buf), 5);
    close(p[0]);
    close(p[1]);
    struct sf_wire_rx rx;
    sf_wire_rx_init(&rx);
    ck_assert_int_eq(sf_wire_rx_fill(&rx, s[0]), -EBADF);
    sf_wire_rx_free(&rx);
}
END_TEST

/* ------------------------------------------------------------------ */

static TCase *tc(Suite *s, const char *name)
{
    TCase *t = tcase_create(name);
    tcase_set_timeout(t, 60);
    suite_add_tcase(s, t);
    return t;
}

static Suite *base_suite(void)
{
    Suite *s = suite_create("base");
    TCase *t = tc(s, "err");
    tcase_add_test(t, test_strerror);
    t = tc(s, "log");
    tcase_add_test(t, test_log_format);
    tcase_add_test(t, test_log_long_line);
    tcase_add_test(t, test_log_once_sparse);
    t = tc(s, "tun");
    tcase_add_test(t, test_tun_defaults);
    tcase_add_test(t, test_tun_env);
    tcase_add_test(t, test_tun_bad);
    tcase_add_test(t, test_tun_parsers);
    t = tc(s, "loop");
    tcase_add_test(t, test_loop_timers);
    tcase_add_test(t, test_loop_timers_real);
    tcase_add_test(t, test_loop_many_timers);
    tcase_add_test(t, test_loop_fd);
    tcase_add_test(t, test_loop_hup);
    tcase_add_test(t, test_loop_del_in_callback);
    tcase_add_test(t, test_loop_timer_no_starve);
    tcase_add_test(t, test_loop_wake);
    tcase_add_test(t, test_now_ms);
    t = tc(s, "crc");
    tcase_add_test(t, test_crc32c);
    t = tc(s, "wire");
    tcase_add_test(t, test_wire_roundtrip_all_ops);
    tcase_add_test(t, test_wire_job_submit);
    tcase_add_test(t, test_wire_big_frame);
    tcase_add_test(t, test_wire_encoder_errors);
    tcase_add_test(t, test_wire_bad_header);
    tcase_add_test(t, test_wire_bad_fields);
    tcase_add_test(t, test_wire_bad_vectors);
    tcase_add_test(t, test_wire_dispatch);
    t = tc(s, "wire_stream");
    tcase_add_test(t, test_wire_rx_byte_at_a_time);
    tcase_add_test(t, test_wire_rx_chunks);
    tcase_add_test(t, test_wire_rx_large);
    tcase_add_test(t, test_wire_rx_corrupt);
    tcase_add_test(t, test_wire_write_errors);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(base_suite());
    srunner_run_all(sr, CK_ENV); /* CK_VERBOSITY=verbose lists each case */
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
