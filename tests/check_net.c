/* Check suite for runtime/net: every transport (own shm; libfabric with
 * FI_PROVIDER=tcp and =shm) between real forked processes. Each test
 * forks its ranks; the test process is a hub that relays allgathers over
 * socketpairs (address exchange, barriers) and collects exit codes. Ranks
 * report failures by exit status, since Check's asserts belong to the
 * test process.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/base/sf_err.h"
#include "runtime/base/sf_log.h"
#include "runtime/net/sf_net.h"

#define MAXR 8

/* ---- rank side ---- */

#define REQUIRE(c)                                                                                 \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "rank %d: %s:%d: failed: %s\n", T.rank, __FILE__, __LINE__, #c);       \
            _exit(1);                                                                              \
        }                                                                                          \
    } while (0)
#define REQUIRE_RC(expr, want)                                                                     \
    do {                                                                                           \
        int rc_ = (expr);                                                                          \
        if (rc_ != (want)) {                                                                       \
            fprintf(stderr, "rank %d: %s:%d: %s = %d (%s), want %d\n", T.rank, __FILE__, __LINE__, \
                    #expr, rc_, sf_strerror(rc_), (want));                                         \
            _exit(1);                                                                              \
        }                                                                                          \
    } while (0)

struct rxlog {
    int peer;
    size_t len;
    unsigned char *data;
};

/* Per-rank state: one rank per process, so a file-scope instance is the
 * process's own and the callbacks need no lookup. */
static struct {
    int rank, size, sock;
    struct sf_net *net;
    /* packet checking: each packet starts with (u32 src, u32 seq) */
    uint32_t next_seq[MAXR];
    long pkts;
    bool keep; /* store the first packet's bytes and every length */
    unsigned char first[1 << 16];
    size_t lens[16];
    /* bulk completions */
    long done;
    int last_status;
    size_t last_done_len;
} T;

static void t_recv(void *arg, struct sf_net *net, int peer, const void *pkt, size_t len)
{
    REQUIRE(peer >= 0 && peer < T.size);
    if (T.keep) {
        REQUIRE(len <= sizeof T.first && T.pkts < 16);
        if (T.pkts == 0) {
            memcpy(T.first, pkt, len);
        }
        T.lens[T.pkts] = len;
    } else {
        uint32_t h[2];
        REQUIRE(len >= sizeof h);
        memcpy(h, pkt, sizeof h);
        REQUIRE(h[0] == (uint32_t)peer);
        REQUIRE(h[1] == T.next_seq[peer]);
        /* the body repeats a byte derived from the sequence number */
        for (size_t i = sizeof h; i < len; i++) {
            REQUIRE(((const unsigned char *)pkt)[i] == (unsigned char)(h[1] * 7 + i));
        }
        T.next_seq[peer]++;
    }
    T.pkts++;
}

static void t_done(void *arg, struct sf_net *net, void *ctx, int status, size_t len)
{
    T.done++;
    if (status != 0) {
        T.last_status = status;
    }
    T.last_done_len = len;
    if (ctx) {
        *(int *)ctx = status == 0 ? 1 : status;
    }
}

static void xio(int fd, void *buf, size_t len, bool out)
{
    size_t off = 0;
    while (off < len) {
        ssize_t n =
            out ? write(fd, (char *)buf + off, len - off) : read(fd, (char *)buf + off, len - off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            fprintf(stderr, "rank %d: hub connection: %s\n", T.rank,
                    n == 0 ? "closed" : strerror(errno));
            _exit(3); /* the hub went away: another rank failed */
        }
        off += (size_t)n;
    }
}

static void progress(void);

/* Before blocking on the hub, push out what was sent: a transport may hold
 * packets back until it is progressed again (net_ofi's injects over tcp),
 * and the peer may be waiting for them before it reaches the hub. */
static void flush(void)
{
    int rc;
    while (T.net != NULL && T.net->ops->flush != NULL && (rc = T.net->ops->flush(T.net)) != 0) {
        REQUIRE(rc > 0);
        progress();
    }
}

/* Allgather through the hub: out[i] gets rank i's blob (caller frees). */
static void allgather(const void *blob, uint32_t len, void **out, uint32_t *lens)
{
    flush();
    xio(T.sock, &len, sizeof len, true);
    xio(T.sock, (void *)blob, len, true);
    for (int i = 0; i < T.size; i++) {
        xio(T.sock, &lens[i], sizeof lens[i], false);
        out[i] = malloc(lens[i] + 1);
        xio(T.sock, out[i], lens[i], false);
    }
}

static void barrier(void)
{
    void *o[MAXR];
    uint32_t l[MAXR];
    allgather("", 0, o, l);
    for (int i = 0; i < T.size; i++) {
        free(o[i]);
    }
}

static void progress(void)
{
    int rc = T.net->ops->progress(T.net);
    REQUIRE(rc >= 0);
}

/* Send one sequence-checked packet of 'len' bytes (>= 8), retrying on
 * -EAGAIN. Returns how many -EAGAIN it met. */
static long send_seq(int peer, uint32_t seq, size_t len)
{
    unsigned char buf[len];
    uint32_t h[2] = {(uint32_t)T.rank, seq};
    memcpy(buf, h, sizeof h);
    for (size_t i = sizeof h; i < len; i++) {
        buf[i] = (unsigned char)(seq * 7 + i);
    }
    /* split in two iovecs to exercise gathering */
    struct iovec iov[2] = {{buf, len / 2}, {buf + len / 2, len - len / 2}};
    long again = 0;
    int rc;
    while ((rc = T.net->ops->send(T.net, peer, iov, 2)) == -EAGAIN) {
        again++;
        progress();
    }
    REQUIRE_RC(rc, 0);
    return again;
}

static void wait_pkts(long n)
{
    while (T.pkts < n) {
        progress();
    }
}

/* ofi ranks learn each other's addresses; shm needs only the size check. */
static void wire_up(void)
{
    char name[256];
    size_t len = sizeof name;
    REQUIRE_RC(T.net->ops->getname(T.net, name, &len), 0);
    void *addrs[MAXR];
    uint32_t l32[MAXR];
    size_t lens[MAXR];
    allgather(name, (uint32_t)len, addrs, l32);
    for (int i = 0; i < T.size; i++) {
        lens[i] = l32[i];
    }
    REQUIRE_RC(T.net->ops->insert(T.net, T.size, (const void *const *)addrs, lens), 0);
    for (int i = 0; i < T.size; i++) {
        free(addrs[i]);
    }
}

static uint64_t fill(void *buf, size_t len, uint64_t seed)
{
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1, h = 1469598103934665603ull;
    unsigned char *p = buf;
    for (size_t i = 0; i < len; i++) {
        if ((i & 7) == 0) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        p[i] = (unsigned char)(x >> ((i & 7) * 8));
        h = (h ^ p[i]) * 1099511628211ull;
    }
    return h;
}

static uint64_t hash(const void *buf, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    const unsigned char *p = buf;
    for (size_t i = 0; i < len; i++) {
        h = (h ^ p[i]) * 1099511628211ull;
    }
    return h;
}

/* ---- hub side (the Check test process) ---- */

enum kind { K_SHM, K_SHM_NOCMA, K_OFI_TCP, K_OFI_SHM };
static const char *const kind_name[] = {"shm", "shm (no CMA)", "ofi tcp", "ofi shm"};

typedef void (*rank_fn)(void);

static void rank_main(enum kind k, int fd, int rank, int size, int sock, rank_fn fn)
{
    T.rank = rank;
    T.size = size;
    T.sock = sock;
    sf_log_init("check_net");
    struct sf_net_callbacks cb = {t_recv, t_done, NULL};
    int rc;
    if (k == K_SHM || k == K_SHM_NOCMA) {
        if (k == K_SHM_NOCMA) {
            setenv("SF_NET_SHM_CMA", "0", 1);
        }
        rc = sf_net_shm_open(fd, rank, size, &cb, &T.net);
    } else {
        setenv("FI_PROVIDER", k == K_OFI_TCP ? "tcp" : "shm", 1);
        rc = sf_net_ofi_open(&cb, &T.net);
    }
    if (rc == SF_ERR_TRANSPORT && k != K_SHM && k != K_SHM_NOCMA) {
        _exit(77); /* provider not available here */
    }
    REQUIRE_RC(rc, 0);
    wire_up();
    fn();
    /* Nobody closes before everyone has drained what was sent to it. */
    barrier();
    T.net->ops->close(T.net);
    _exit(0);
}

/* Fork 'size' ranks running fn on transport k; relay allgathers until all
 * are done. Returns 0 if all exited 0, 77 if the transport is missing. */
static int run_ranks(enum kind k, int size, rank_fn fn)
{
    int fd = -1;
    if (k == K_SHM || k == K_SHM_NOCMA) {
        fd = memfd_create("sf-check-net", 0);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(ftruncate(fd, (off_t)sf_net_shm_segment_size(size)), 0);
    }
    int socks[MAXR];
    pid_t pids[MAXR];
    signal(SIGPIPE, SIG_IGN); /* a dead rank must show as its exit code */
    for (int r = 0; r < size; r++) {
        int sv[2];
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        pids[r] = fork();
        ck_assert_int_ge(pids[r], 0);
        if (pids[r] == 0) {
            close(sv[0]);
            for (int i = 0; i < r; i++) {
                close(socks[i]);
            }
            rank_main(k, fd, r, size, sv[1], fn);
        }
        close(sv[1]);
        socks[r] = sv[0];
    }
    /* Hub: one allgather round per iteration until a rank hangs up. */
    for (;;) {
        uint32_t lens[MAXR];
        char *blobs[MAXR] = {0};
        bool eof = false;
        for (int r = 0; r < size && !eof; r++) {
            if (read(socks[r], &lens[r], sizeof lens[r]) != sizeof lens[r]) {
                eof = true;
                break;
            }
            blobs[r] = malloc(lens[r] + 1);
            size_t off = 0;
            while (off < lens[r]) {
                ssize_t n = read(socks[r], blobs[r] + off, lens[r] - off);
                if (n <= 0) {
                    eof = true;
                    break;
                }
                off += (size_t)n;
            }
        }
        for (int r = 0; r < size && !eof; r++) {
            for (int i = 0; i < size; i++) {
                /* no empty writes: a rank that has read everything may be gone */
                if (write(socks[r], &lens[i], sizeof lens[i]) != sizeof lens[i] ||
                    (lens[i] && write(socks[r], blobs[i], lens[i]) != (ssize_t)lens[i])) {
                    eof = true;
                }
            }
        }
        for (int r = 0; r < size; r++) {
            free(blobs[r]);
        }
        if (eof) {
            break;
        }
    }
    for (int r = 0; r < size; r++) {
        close(socks[r]);
    }
    int result = 0;
    for (int r = 0; r < size; r++) {
        int st;
        ck_assert_int_eq(waitpid(pids[r], &st, 0), pids[r]);
        int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        if (code != 0) {
            fprintf(stderr, "%s: rank %d exit code %d\n", kind_name[k], r, code);
        }
        if (code == 77 && result == 0) {
            result = 77;
        } else if (code != 0 && code != 77) {
            fprintf(stderr, "%s: rank %d exited with %d\n", kind_name[k], r, code);
            result = code;
        }
    }
    if (fd >= 0) {
        close(fd);
    }
    return result;
}

static void expect_ok(enum kind k, int size, rank_fn fn)
{
    int rc = run_ranks(k, size, fn);
    if (rc == 77) {
        fprintf(stderr, "%s: transport unavailable here, test skipped\n", kind_name[k]);
        return;
    }
    ck_assert_msg(rc == 0, "%s: a rank failed (%d)", kind_name[k], rc);
}

/* ---- scenarios (run inside each rank) ---- */

#define NPKT 20000

/* Many packets in order, lengths cycling through 1..3 slots and larger,
 * enough to wrap the shm rings many times. */
static void sc_order(void)
{
    static const size_t lens[] = {8, 16, 56, 57, 120, 200, 1000, 4096};
    if (T.rank == 0) {
        for (uint32_t i = 0; i < NPKT; i++) {
            send_seq(1, i, lens[i % 8]);
        }
    } else {
        wait_pkts(NPKT);
        REQUIRE(T.next_seq[0] == NPKT);
    }
}

/* The receiver stays away until the sender has met -EAGAIN (shm rings
 * are bounded); then everything must still arrive in order. */
static void sc_backpressure(void)
{
    uint32_t sent = 0;
    if (T.rank == 0) {
        unsigned char buf[512];
        for (;;) {
            uint32_t h[2] = {0, sent};
            memcpy(buf, h, sizeof h);
            for (size_t i = sizeof h; i < sizeof buf; i++) {
                buf[i] = (unsigned char)(sent * 7 + i);
            }
            struct iovec iov = {buf, sizeof buf};
            int rc = T.net->ops->send(T.net, 1, &iov, 1);
            if (rc == -EAGAIN) {
                break;
            }
            REQUIRE_RC(rc, 0);
            sent++;
            REQUIRE(sent < 10000000);
        }
        REQUIRE(sent > 0);
    }
    /* rank 1 has not made progress before this point */
    void *o[MAXR];
    uint32_t l[MAXR];
    allgather(&sent, sizeof sent, o, l);
    uint32_t total;
    memcpy(&total, o[0], sizeof total);
    for (int i = 0; i < T.size; i++) {
        free(o[i]);
    }
    if (T.rank == 0) {
        for (uint32_t i = 0; i < 3000; i++) {
            send_seq(1, total + i, 512);
        }
    } else {
        wait_pkts(total + 3000);
        REQUIRE(T.next_seq[0] == total + 3000);
    }
}

/* max_pkt exactly, in three iovecs; one byte more is -EMSGSIZE. */
static void sc_maxpkt(void)
{
    size_t max = T.net->max_pkt;
    REQUIRE(max >= 1024 && max <= sizeof T.first);
    if (T.rank == 0) {
        unsigned char *buf = malloc(max + 1);
        fill(buf, max + 1, 42);
        struct iovec iov[3] = {
            {buf, 1}, {buf + 1, max / 2}, {buf + 1 + max / 2, max - 1 - max / 2}};
        int rc;
        while ((rc = T.net->ops->send(T.net, 1, iov, 3)) == -EAGAIN) {
            progress();
        }
        REQUIRE_RC(rc, 0);
        iov[2].iov_len++;
        REQUIRE_RC(T.net->ops->send(T.net, 1, iov, 3), -EMSGSIZE);
        struct iovec none = {buf, 0};
        while ((rc = T.net->ops->send(T.net, 1, &none, 1)) == -EAGAIN) {
            progress();
        }
        REQUIRE_RC(rc, 0);
        free(buf);
    } else {
        T.keep = true;
        wait_pkts(1);
        unsigned char *want = malloc(max);
        fill(want, max, 42);
        REQUIRE(T.lens[0] == max);
        REQUIRE(memcmp(T.first, want, max) == 0);
        wait_pkts(2);
        REQUIRE(T.lens[1] == 0);
        free(want);
    }
}

static const size_t bulk_sizes[] = {0, 1, 1 << 20, 64 << 20};
#define NBULK 4

/* Bulk push of every size, receives posted first; then again with the
 * sends first (the announcements wait for the receives). */
static void sc_bulk(void)
{
    for (int pass = 0; pass < 2; pass++) {
        bool recv_first = pass == 0;
        char *bufs[NBULK];
        int flags[NBULK] = {0};
        uint64_t hs[NBULK];
        if (T.rank == 0) {
            if (recv_first) {
                barrier();
            }
            for (int i = 0; i < NBULK; i++) {
                size_t n = bulk_sizes[i];
                bufs[i] = malloc(n + 1);
                hs[i] = fill(bufs[i], n, (uint64_t)(pass * 10 + i));
                int rc;
                while ((rc = T.net->ops->bulk_send(T.net, 1, (uint64_t)(pass * 10 + i) << 40,
                                                   bufs[i], n, &flags[i])) == -EAGAIN) {
                    progress();
                }
                REQUIRE_RC(rc, 0);
            }
            if (!recv_first) {
                barrier(); /* every send went out before any receive */
            }
            for (int i = 0; i < NBULK; i++) {
                while (!flags[i]) {
                    progress();
                }
                REQUIRE(flags[i] == 1);
                REQUIRE(hash(bufs[i], bulk_sizes[i]) == hs[i]); /* sender's data untouched */
                free(bufs[i]);
            }
        } else {
            if (!recv_first) {
                barrier();
            }
            for (int i = 0; i < NBULK; i++) {
                bufs[i] = malloc(bulk_sizes[i] + 16);
                memset(bufs[i], 0xee, bulk_sizes[i] + 16);
                REQUIRE_RC(T.net->ops->bulk_recv(T.net, 0, (uint64_t)(pass * 10 + i) << 40, bufs[i],
                                                 bulk_sizes[i] + 16, &flags[i]),
                           0);
            }
            if (recv_first) {
                barrier();
            }
            for (int i = 0; i < NBULK; i++) {
                while (!flags[i]) {
                    progress();
                }
                REQUIRE(flags[i] == 1);
                char *want = malloc(bulk_sizes[i] + 1);
                uint64_t h = fill(want, bulk_sizes[i], (uint64_t)(pass * 10 + i));
                REQUIRE(hash(bufs[i], bulk_sizes[i]) == h);
                REQUIRE((unsigned char)bufs[i][bulk_sizes[i]] == 0xee);
                free(want);
                free(bufs[i]);
            }
        }
    }
}

/* A receive shorter than the send fails with SF_ERR_TRUNCATE. */
static void sc_truncate(void)
{
    static char buf[4096];
    int flag = 0;
    if (T.rank == 0) {
        barrier();
        int rc;
        while ((rc = T.net->ops->bulk_send(T.net, 1, 77, buf, sizeof buf, &flag)) == -EAGAIN) {
            progress();
        }
        REQUIRE_RC(rc, 0);
        while (!flag) {
            progress();
        }
    } else {
        REQUIRE_RC(T.net->ops->bulk_recv(T.net, 0, 77, buf, 100, &flag), 0);
        barrier();
        while (!flag) {
            progress();
        }
        REQUIRE_RC(flag, SF_ERR_TRUNCATE);
    }
}

/* get() of a large buffer published by the peer, or SF_ERR_UNSUPPORTED
 * when the transport has no get. */
static void sc_get(void)
{
    size_t n = 16 << 20;
    char *buf = malloc(n);
    uint64_t h = fill(buf, n, (uint64_t)T.rank + 5);
    uint64_t mine[2] = {(uint64_t)(uintptr_t)buf, h};
    void *o[MAXR];
    uint32_t l[MAXR];
    allgather(mine, sizeof mine, o, l);
    uint64_t theirs[2];
    memcpy(theirs, o[1 - T.rank], sizeof theirs);
    char *dst = malloc(n);
    if (T.net->caps & SF_NET_CAP_GET) {
        REQUIRE_RC(T.net->ops->get(T.net, 1 - T.rank, dst, theirs[0], n), 0);
        REQUIRE(hash(dst, n) == theirs[1]);
        REQUIRE_RC(T.net->ops->get(T.net, 1 - T.rank, dst, theirs[0] + 3, 5), 0);
        unsigned char head[8];
        fill(head, sizeof head, (uint64_t)(1 - T.rank) + 5);
        REQUIRE(memcmp(dst, head + 3, 5) == 0);
    } else {
        REQUIRE(T.net->ops->get(T.net, 1 - T.rank, dst, theirs[0], n) < 0);
    }
    barrier(); /* the peer's buffer stays alive until everyone has read it */
    for (int i = 0; i < T.size; i++) {
        free(o[i]);
    }
    free(dst);
    free(buf);
}

/* Everyone sends to everyone (itself included), interleaved, while also
 * receiving; then a bulk ring exchange. */
static void sc_alltoall(void)
{
    const uint32_t per = 5000;
    for (uint32_t i = 0; i < per; i++) {
        for (int d = 0; d < T.size; d++) {
            send_seq((T.rank + d) % T.size, i, 8 + (i % 300));
        }
        progress();
    }
    wait_pkts((long)per * T.size);
    for (int p = 0; p < T.size; p++) {
        REQUIRE(T.next_seq[p] == per);
    }
    size_t n = 3 << 20;
    char *out = malloc(n), *in = malloc(n);
    uint64_t h = fill(out, n, (uint64_t)T.rank);
    int to = (T.rank + 1) % T.size, from = (T.rank + T.size - 1) % T.size;
    int fin = 0, fout = 0;
    REQUIRE_RC(T.net->ops->bulk_recv(T.net, from, 9, in, n, &fin), 0);
    REQUIRE_RC(T.net->ops->bulk_send(T.net, to, 9, out, n, &fout), 0);
    while (!fin || !fout) {
        progress();
    }
    REQUIRE(fin == 1 && fout == 1);
    void *o[MAXR];
    uint32_t l[MAXR];
    allgather(&h, sizeof h, o, l);
    uint64_t want;
    memcpy(&want, o[from], sizeof want);
    REQUIRE(hash(in, n) == want);
    for (int i = 0; i < T.size; i++) {
        free(o[i]);
    }
    free(out);
    free(in);
}

/* A peer that has gone: sends fill the ring and then say -EAGAIN (never
 * spin), get says the peer is gone. */
static void sc_dead_peer(void)
{
    if (T.rank == 1) {
        T.net->ops->close(T.net);
        _exit(0); /* hangs up on the hub: rank 0 sees the allgather fail */
    }
    /* Ask for an allgather; the hub finds rank 1 gone and hangs up. */
    uint32_t zero = 0;
    char c;
    REQUIRE(write(T.sock, &zero, sizeof zero) == sizeof zero);
    REQUIRE(read(T.sock, &c, 1) == 0);
    long sent = 0;
    int rc;
    unsigned char buf[256] = {0};
    struct iovec iov = {buf, sizeof buf};
    while ((rc = T.net->ops->send(T.net, 1, &iov, 1)) == 0) {
        sent++;
        REQUIRE(sent < 10000000);
        progress();
    }
    REQUIRE_RC(rc, -EAGAIN);
    REQUIRE_RC(T.net->ops->get(T.net, 1, buf, 4096, 8), SF_ERR_PEER_GONE);
    T.net->ops->close(T.net);
    _exit(0);
}

/* ---- tests ---- */

#define EACH_TRANSPORT(name, fn, size)                                                             \
    START_TEST(name##_shm)                                                                         \
    {                                                                                              \
        expect_ok(K_SHM, size, fn);                                                                \
    }                                                                                              \
    END_TEST                                                                                       \
    START_TEST(name##_shm_nocma)                                                                   \
    {                                                                                              \
        expect_ok(K_SHM_NOCMA, size, fn);                                                          \
    }                                                                                              \
    END_TEST                                                                                       \
    START_TEST(name##_ofi_tcp)                                                                     \
    {                                                                                              \
        expect_ok(K_OFI_TCP, size, fn);                                                            \
    }                                                                                              \
    END_TEST                                                                                       \
    START_TEST(name##_ofi_shm)                                                                     \
    {                                                                                              \
        expect_ok(K_OFI_SHM, size, fn);                                                            \
    }                                                                                              \
    END_TEST

EACH_TRANSPORT(order, sc_order, 2)
EACH_TRANSPORT(maxpkt, sc_maxpkt, 2)
EACH_TRANSPORT(bulk, sc_bulk, 2)
EACH_TRANSPORT(truncate, sc_truncate, 2)
EACH_TRANSPORT(get, sc_get, 2)

START_TEST(backpressure_shm)
{
    expect_ok(K_SHM, 2, sc_backpressure);
}
END_TEST

START_TEST(alltoall_shm)
{
    expect_ok(K_SHM, 4, sc_alltoall);
}
END_TEST

START_TEST(alltoall_shm_nocma)
{
    expect_ok(K_SHM_NOCMA, 4, sc_alltoall);
}
END_TEST

START_TEST(dead_peer_shm)
{
    int rc = run_ranks(K_SHM, 2, sc_dead_peer);
    ck_assert_int_eq(rc, 0);
}
END_TEST

START_TEST(segment_size)
{
    for (int n = 1; n <= 256; n++) {
        /* at least a 64 KiB ring per ordered pair */
        ck_assert_uint_ge(sf_net_shm_segment_size(n), (size_t)n * n * (64 << 10));
    }
    /* bounded: a 64-rank node stays well under a gigabyte of address space */
    ck_assert_uint_lt(sf_net_shm_segment_size(64), (size_t)1 << 30);
    ck_assert_uint_eq(sf_net_shm_segment_size(0), 0);
}
END_TEST

START_TEST(open_rejects_small_segment)
{
    int fd = memfd_create("sf-check-net", 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, 4096), 0);
    struct sf_net_callbacks cb = {t_recv, t_done, NULL};
    struct sf_net *net = NULL;
    ck_assert_int_eq(sf_net_shm_open(fd, 0, 2, &cb, &net), -EINVAL);
    ck_assert_int_eq(sf_net_shm_open(fd, 2, 2, &cb, &net), -EINVAL);
    close(fd);
}
END_TEST

/* One test case per transport, so CK_RUN_CASE=ofi_tcp runs just that. */
static TCase *transport_case(const char *name)
{
    TCase *tc = tcase_create(name);
    tcase_set_timeout(tc, 120);
    return tc;
}

int main(void)
{
    Suite *s = suite_create("net");
    TCase *misc = transport_case("misc");
    TCase *shm = transport_case("shm");
    TCase *nocma = transport_case("shm_nocma");
    TCase *tcp = transport_case("ofi_tcp");
    TCase *oshm = transport_case("ofi_shm");
    tcase_add_test(misc, segment_size);
    tcase_add_test(misc, open_rejects_small_segment);
#define ADD4(name)                                                                                 \
    tcase_add_test(shm, name##_shm);                                                               \
    tcase_add_test(nocma, name##_shm_nocma);                                                       \
    tcase_add_test(tcp, name##_ofi_tcp);                                                           \
    tcase_add_test(oshm, name##_ofi_shm)
    ADD4(order);
    ADD4(maxpkt);
    ADD4(bulk);
    ADD4(truncate);
    ADD4(get);
    tcase_add_test(shm, backpressure_shm);
    tcase_add_test(shm, alltoall_shm);
    tcase_add_test(nocma, alltoall_shm_nocma);
    tcase_add_test(shm, dead_peer_shm);
    suite_add_tcase(s, misc);
    suite_add_tcase(s, shm);
    suite_add_tcase(s, nocma);
    suite_add_tcase(s, tcp);
    suite_add_tcase(s, oshm);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_FORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
