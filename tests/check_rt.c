/* Check suite for runtime/rt: the message engine bound to a fake in-process
 * transport (several engines in one process, driven by hand), the
 * singleton start-up, and a real wire-up of forked ranks through a fake
 * daemon and the shared-memory transport. Fork mode; no timing. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/base/sf_env.h"
#include "runtime/base/sf_err.h"
#include "runtime/base/sf_wire.h"
#include "runtime/net/sf_net.h"
#include "runtime/rt/rt_int.h"
#include "runtime/rt/sf_rt.h"

/* ---- a fake transport: per-endpoint packet queue, bulk matched by cookie,
 * get as memcpy (all engines share the address space) ---- */

#define FK_MAX 4

struct fk_pkt {
    struct fk_pkt *next;
    int from;
    size_t len;
    unsigned char data[];
};
struct fk_bulk {
    struct fk_bulk *next;
    int peer;
    uint64_t cookie;
    void *buf;
    size_t len;
    void *ctx;
};
struct fk_done {
    struct fk_done *next;
    void *ctx;
    size_t len;
};
struct fk_fab;
struct fk_ep {
    struct sf_net base;
    struct fk_fab *fab;
    int idx;
    struct fk_pkt *qh, *qt;
    int qn;
    struct fk_bulk *incoming; /* bulk_sends aimed at this endpoint */
    struct fk_bulk *posted;   /* bulk_recvs */
    struct fk_done *dones;    /* completions of our bulk_sends */
    int bulk_eagain;          /* refuse this many bulk ops with -EAGAIN */
};
struct fk_fab {
    struct fk_ep *ep[FK_MAX];
    int qcap;                 /* packets queued per endpoint before -EAGAIN */
    size_t max_pkt;
    unsigned caps;
};

static int fk_progress(struct sf_net *net)
{
    struct fk_ep *e = (struct fk_ep *)net;
    int n = 0;
    while (e->qh != NULL) {
        struct fk_pkt *p = e->qh;
        e->qh = p->next;
        if (e->qh == NULL) {
            e->qt = NULL;
        }
        e->qn--;
        e->base.cb.recv(e->base.cb.arg, net, p->from, p->data, p->len);
        free(p);
        n++;
    }
    for (struct fk_bulk **pp = &e->posted; *pp != NULL;) {
        struct fk_bulk *r = *pp, *s = NULL, **sp;
        for (sp = &e->incoming; *sp != NULL; sp = &(*sp)->next) {
            if ((*sp)->peer == r->peer && (*sp)->cookie == r->cookie) {
                s = *sp;
                break;
            }
        }
        if (s == NULL) {
            pp = &r->next;
            continue;
        }
        *sp = s->next;
        *pp = r->next;
        size_t len = s->len < r->len ? s->len : r->len;
        memcpy(r->buf, s->buf, len);
        struct fk_done *d = malloc(sizeof(*d));
        d->ctx = s->ctx;
        d->len = len;
        struct fk_ep *se = e->fab->ep[s->peer];
        d->next = se->dones;
        se->dones = d;
        e->base.cb.done(e->base.cb.arg, net, r->ctx, 0, len);
        free(r);
        free(s);
        n++;
    }
    while (e->dones != NULL) {
        struct fk_done *d = e->dones;
        e->dones = d->next;
        e->base.cb.done(e->base.cb.arg, net, d->ctx, 0, d->len);
        free(d);
        n++;
    }
    return n;
}

static int fk_send(struct sf_net *net, int peer, const struct iovec *iov, int iovcnt)
{
    struct fk_ep *e = (struct fk_ep *)net;
    struct fk_ep *d = e->fab->ep[peer];
    size_t len = 0;
    for (int i = 0; i < iovcnt; i++) {
        len += iov[i].iov_len;
    }
    if (len > net->max_pkt) {
        return -EMSGSIZE;
    }
    if (d->qn >= e->fab->qcap) {
        return -EAGAIN;
    }
    struct fk_pkt *p = malloc(sizeof(*p) + len);
    p->next = NULL;
    p->from = e->idx;
    p->len = len;
    size_t off = 0;
    for (int i = 0; i < iovcnt; i++) {
        memcpy(p->data + off, iov[i].iov_base, iov[i].iov_len);
        off += iov[i].iov_len;
    }
    if (d->qt != NULL) {
        d->qt->next = p;
    } else {
        d->qh = p;
    }
    d->qt = p;
    d->qn++;
    return 0;
}

static int fk_bulk_send(struct sf_net *net, int peer, uint64_t cookie, const void *buf, size_t len,
                        void *ctx)
{
    struct fk_ep *e = (struct fk_ep *)net;
    if (e->bulk_eagain > 0) {
        e->bulk_eagain--;
        return -EAGAIN;
    }
    struct fk_bulk *b = calloc(1, sizeof(*b));
    b->peer = e->idx;
    b->cookie = cookie;
    b->buf = (void *)buf;
    b->len = len;
    b->ctx = ctx;
    struct fk_ep *d = e->fab->ep[peer];
    b->next = d->incoming;
    d->incoming = b;
    return 0;
}

static int fk_bulk_recv(struct sf_net *net, int peer, uint64_t cookie, void *buf, size_t len,
                        void *ctx)
{
    struct fk_ep *e = (struct fk_ep *)net;
    if (e->bulk_eagain > 0) {
        e->bulk_eagain--;
        return -EAGAIN;
    }
    struct fk_bulk *b = calloc(1, sizeof(*b));
    b->peer = peer;
    b->cookie = cookie;
    b->buf = buf;
    b->len = len;
    b->ctx = ctx;
    b->next = e->posted;
    e->posted = b;
    return 0;
}

static int fk_get(struct sf_net *net, int peer, void *buf, uint64_t raddr, size_t len)
{
    struct fk_ep *e = (struct fk_ep *)net;
    if (e->bulk_eagain > 0) {
        e->bulk_eagain--;
        return -EAGAIN;
    }
    memcpy(buf, (const void *)(uintptr_t)raddr, len);
    return 0;
}

static int fk_getname(struct sf_net *net, void *buf, size_t *len)
{
    *len = 0;
    return 0;
}

static int fk_insert(struct sf_net *net, int n, const void *const *a, const size_t *l)
{
    return 0;
}

static int fk_wait_fd(struct sf_net *net)
{
    return -1;
}

static void fk_close(struct sf_net *net)
{
    struct fk_ep *e = (struct fk_ep *)net;
    while (e->qh != NULL) {
        struct fk_pkt *p = e->qh;
        e->qh = p->next;
        free(p);
    }
    e->fab->ep[e->idx] = NULL;
    free(e);
}

static const struct sf_net_ops fk_ops = {
    .name = "fake",
    .progress = fk_progress,
    .send = fk_send,
    .bulk_send = fk_bulk_send,
    .bulk_recv = fk_bulk_recv,
    .get = fk_get,
    .getname = fk_getname,
    .insert = fk_insert,
    .wait_fd = fk_wait_fd,
    .close = fk_close,
};

static struct fk_fab fab;
static struct sf_rt *rts[FK_MAX];
static int nrt;

/* n engines on one fake fabric; caps decides pull vs push rendezvous. */
static void setup_n(int n, unsigned caps, int qcap)
{
    memset(&fab, 0, sizeof(fab));
    fab.qcap = qcap;
    fab.max_pkt = 8192;
    fab.caps = caps;
    nrt = n;
    int world_of[FK_MAX];
    for (int i = 0; i < n; i++) {
        world_of[i] = i;
    }
    for (int i = 0; i < n; i++) {
        ck_assert_int_eq(sf_rt__new(i, n, &rts[i]), 0);
        struct fk_ep *e = calloc(1, sizeof(*e));
        e->base.ops = &fk_ops;
        e->base.cb = sf_rt__callbacks(rts[i], 0);
        e->base.max_pkt = fab.max_pkt;
        e->base.caps = caps;
        e->fab = &fab;
        e->idx = i;
        fab.ep[i] = e;
        ck_assert_int_eq(sf_rt__attach(rts[i], 0, &e->base, world_of, n), 0);
    }
}

static void teardown_n(void)
{
    for (int i = 0; i < nrt; i++) {
        sf_rt__free(rts[i]);
        rts[i] = NULL;
    }
}

static int pump(void)
{
    int n = 0;
    for (int i = 0; i < nrt; i++) {
        int rc = sf_rt_progress(rts[i]);
        ck_assert_int_ge(rc, 0);
        n += rc;
    }
    return n;
}

/* Progress everyone until req completes; fails if the system goes quiet. */
static void wait_all(struct sf_rt_req *req)
{
    int quiet = 0;
    while (!req->complete) {
        if (pump() == 0) {
            ck_assert_msg(++quiet < 100, "no progress and request not complete");
        } else {
            quiet = 0;
        }
    }
}

static void settle(void)
{
    while (pump() > 0) {
    }
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        p[i] = (unsigned char)(i * 131 + seed);
    }
}

static void check_fill(const unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != (unsigned char)(i * 131 + seed)) {
            ck_abort_msg("byte %zu differs", i);
        }
    }
}

/* ---- tests ---- */

START_TEST(t_eager_posted_first)
{
    setup_n(2, 0, 1000);
    struct sf_rt_req s, r;
    uint64_t in = 0, out = 0x1122334455667788ull;
    ck_assert_int_eq(sf_rt_irecv(rts[1], &r, &in, 8, 0, 7, 42), 0);
    ck_assert(!r.complete);
    ck_assert_int_eq(sf_rt_isend(rts[0], &s, &out, 8, 1, 7, 0, 42, SF_RT_STANDARD), 0);
    ck_assert(s.complete); /* eager standard: done once copied */
    wait_all(&r);
    ck_assert(in == out);
    ck_assert_int_eq(r.status.source, 0);
    ck_assert_int_eq(r.status.tag, 42);
    ck_assert_int_eq(r.status.error, 0);
    ck_assert_uint_eq(r.status.count, 8);
    teardown_n();
}
END_TEST

START_TEST(t_eager_unexpected_first)
{
    setup_n(2, 0, 1000);
    struct sf_rt_req s, r;
    char out[100], in[100];
    fill((unsigned char *)out, sizeof(out), 3);
    ck_assert_int_eq(sf_rt_isend(rts[0], &s, out, sizeof(out), 1, 7, 5, 1, SF_RT_STANDARD), 0);
    settle();
    ck_assert_ptr_nonnull(rts[1]->unexp.head);
    ck_assert_int_eq(sf_rt_irecv(rts[1], &r, in, sizeof(in), 5, 7, 1), 0);
    ck_assert(r.complete);
    check_fill((unsigned char *)in, sizeof(in), 3);
    ck_assert_int_eq(r.status.source, 5);
    ck_assert_ptr_null(rts[1]->unexp.head);
    teardown_n();
}
END_TEST

START_TEST(t_ordering)
{
    setup_n(2, SF_NET_CAP_GET, 1000);
    enum { N = 200 };
    static struct sf_rt_req s[N], r[N];
    static int out[N], in[N];
    static char big[N][20000];
    /* Half posted before, half after; eager and rendezvous interleaved on
     * the same (sender, ctx, tag): must arrive in send order. */
    for (int i = 0; i < N / 2; i++) {
        ck_assert_int_eq(sf_rt_irecv(rts[1], &r[i], i % 3 == 0 ? (void *)big[i] : (void *)&in[i],
                                     i % 3 == 0 ? sizeof(big[i]) : sizeof(int), 0, 1,
                                     SF_RT_ANY_TAG), 0);
    }
    for (int i = 0; i < N; i++) {
        out[i] = i;
        if (i % 3 == 0) {
            memset(big[i], 0, sizeof(big[i]));
            memcpy(big[i], &out[i], sizeof(int));
            ck_assert_int_eq(sf_rt_isend(rts[0], &s[i], big[i], sizeof(big[i]), 1, 1, 0, 9,
                                         SF_RT_STANDARD), 0);
        } else {
            ck_assert_int_eq(sf_rt_isend(rts[0], &s[i], &out[i], sizeof(int), 1, 1, 0, 9,
                                         SF_RT_STANDARD), 0);
        }
    }
    settle();
    for (int i = N / 2; i < N; i++) {
        ck_assert_int_eq(sf_rt_irecv(rts[1], &r[i], i % 3 == 0 ? (void *)big[i] : (void *)&in[i],
                                     i % 3 == 0 ? sizeof(big[i]) : sizeof(int), 0, 1, 9), 0);
    }
    for (int i = 0; i < N; i++) {
        wait_all(&r[i]);
        wait_all(&s[i]);
        int v;
        if (i % 3 == 0) {
            memcpy(&v, big[i], sizeof(int));
            ck_assert_uint_eq(r[i].status.count, sizeof(big[i]));
        } else {
            v = in[i];
        }
        ck_assert_int_eq(v, i);
    }
    teardown_n();
}
END_TEST

START_TEST(t_wildcards)
{
    setup_n(3, 0, 1000);
    struct sf_rt_req s1, s2, s3, r1, r2, r3, rn;
    int a = 1, b = 2, c = 3, x = 0, y = 0, z = 0, neg = 0;
    /* A negative (internal) tag is not caught by ANY_TAG. */
    ck_assert_int_eq(sf_rt_isend(rts[0], &s3, &c, 4, 2, 4, 0, -5, SF_RT_STANDARD), 0);
    ck_assert_int_eq(sf_rt_isend(rts[0], &s1, &a, 4, 2, 4, 0, 10, SF_RT_STANDARD), 0);
    ck_assert_int_eq(sf_rt_isend(rts[1], &s2, &b, 4, 2, 4, 1, 11, SF_RT_STANDARD), 0);
    settle();
    ck_assert_int_eq(sf_rt_irecv(rts[2], &r1, &x, 4, SF_RT_ANY_SOURCE, 4, SF_RT_ANY_TAG), 0);
    ck_assert(r1.complete);
    ck_assert_int_eq(x, 1);
    ck_assert_int_eq(r1.status.source, 0);
    ck_assert_int_eq(r1.status.tag, 10);
    ck_assert_int_eq(sf_rt_irecv(rts[2], &r2, &y, 4, SF_RT_ANY_SOURCE, 4, 11), 0);
    ck_assert(r2.complete);
    ck_assert_int_eq(y, 2);
    ck_assert_int_eq(r2.status.source, 1);
    ck_assert_int_eq(sf_rt_irecv(rts[2], &r3, &z, 4, SF_RT_ANY_SOURCE, 4, SF_RT_ANY_TAG), 0);
    ck_assert(!r3.complete);
    ck_assert_int_eq(sf_rt_irecv(rts[2], &rn, &neg, 4, 0, 4, -5), 0);
    ck_assert(rn.complete);
    ck_assert_int_eq(neg, 3);
    /* Other context: not matched. */
    ck_assert_int_eq(sf_rt_isend(rts[1], &s2, &b, 4, 2, 5, 1, 11, SF_RT_STANDARD), 0);
    settle();
    ck_assert(!r3.complete);
    ck_assert_int_eq(sf_rt_cancel(rts[2], &r3), 0);
    ck_assert(r3.complete && r3.status.cancelled);
    teardown_n();
}
END_TEST

START_TEST(t_probe)
{
    setup_n(2, 0, 1000);
    struct sf_rt_req s, r;
    bool flag;
    struct sf_rt_status st;
    char out[300], in[300];
    fill((unsigned char *)out, sizeof(out), 9);
    ck_assert_int_eq(sf_rt_iprobe(rts[1], 0, 1, 3, &flag, &st, NULL), 0);
    ck_assert(!flag);
    ck_assert_int_eq(sf_rt_isend(rts[0], &s, out, sizeof(out), 1, 1, 0, 3, SF_RT_STANDARD), 0);
    ck_assert_int_eq(sf_rt_iprobe(rts[1], SF_RT_ANY_SOURCE, 1, SF_RT_ANY_TAG, &flag, &st, NULL),
                     0);
    ck_assert(flag);
    ck_assert_uint_eq(st.count, sizeof(out));
    ck_assert_int_eq(st.source, 0);
    ck_assert_int_eq(st.tag, 3);
    /* Probe does not consume. */
    ck_assert_int_eq(sf_rt_iprobe(rts[1], 0, 1, 3, &flag, &st, NULL), 0);
    ck_assert(flag);
    ck_assert_int_eq(sf_rt_irecv(rts[1], &r, in, sizeof(in), 0, 1, 3), 0);
    ck_assert(r.complete);
    check_fill((unsigned char *)in, sizeof(in), 9);
    ck_assert_int_eq(sf_rt_iprobe(rts[1], 0, 1, 3, &flag, &st, NULL), 0);
    ck_assert(!flag);
    /* PROC_NULL probe. */
    ck_assert_int_eq(sf_rt_iprobe(rts[1], SF_RT_PROC_NULL, 1, 3, &flag, &st, NULL), 0);
    ck_assert(flag);
    ck_assert_int_eq(st.source, SF_RT_PROC_NULL);
    teardown_n();
}
END_TEST

static void mprobe_case(unsigned caps, size_t len)
{
    setup_n(2, caps, 1000);
    struct sf_rt_req s1, s2, r, r2;
    bool flag;
    struct sf_rt_status st;
    struct sf_rt_msg *msg;
    unsigned char *out1 = malloc(len), *out2 = malloc(len), *in = malloc(len);
    fill(out1, len, 1);
    fill(out2, len, 2);
    ck_assert_int_eq(sf_rt_isend(rts[0], &s1, out1, len, 1, 1, 0, 3, SF_RT_STANDARD), 0);
    ck_assert_int_eq(sf_rt_isend(rts[0], &s2, out2, len, 1, 1, 0, 3, SF_RT_STANDARD), 0);
    settle();
    ck_assert_int_eq(sf_rt_iprobe(rts[1], 0, 1, 3, &flag, &st, &msg), 0);
    ck_assert(flag);
    ck_assert_ptr_nonnull(msg);
    ck_assert_uint_eq(st.count, len);
    /* The mprobed message is out of matching: a receive gets the second. */
    ck_assert_int_eq(sf_rt_irecv(rts[1], &r2, in, len, 0, 1, 3), 0);
    wait_all(&r2);
    check_fill(in, len, 2);
    ck_assert_int_eq(sf_rt_imrecv(rts[1], &r, in, len, msg), 0);
    wait_all(&r);
    check_fill(in, len, 1);
    ck_assert_int_eq(r.status.tag, 3);
    wait_all(&s1);
    wait_all(&s2);
    free(out1);
    free(out2);
    free(in);
    teardown_n();
}

START_TEST(t_mprobe_eager)
{
    mprobe_case(0, 64);
}
END_TEST

START_TEST(t_mprobe_rndv)
{
    mprobe_case(0, 100000);
    mprobe_case(SF_NET_CAP_GET, 100000);
}
END_TEST

static void truncate_case(unsigned caps, size_t len, size_t cap)
{
    setup_n(2, caps, 1000);
    struct sf_rt_req s, r;
    unsigned char *out = malloc(len), *in = calloc(1, cap + 16);
    fill(out, len, 5);
    ck_assert_int_eq(sf_rt_irecv(rts[1], &r, in, cap, 0, 1, 3), 0);
    ck_assert_int_eq(sf_rt_isend(rts[0], &s, out, len, 1, 1, 0, 3, SF_RT_STANDARD), 0);
    wait_all(&r);
    wait_all(&s);
    ck_assert_int_eq(r.status.error, SF_ERR_TRUNCATE);
    ck_assert_uint_eq(r.status.count, cap);
    check_fill(in, cap, 5);
    for (size_t i = cap; i < cap + 16; i++) {
        ck_assert_int_eq(in[i], 0);
    }
    free(out);
    free(in);
    teardown_n();
}

START_TEST(t_truncate)
{
    truncate_case(0, 1000, 10);
    truncate_case(0, 300000, 1000);
    truncate_case(SF_NET_CAP_GET, 300000, 1000);
    truncate_case(0, 300000, 0);
    truncate_case(SF_NET_CAP_GET, 300000, 0);
}
END_TEST

START_TEST(t_zero_byte)
{
    setup_n(2, 0, 1000);
    struct sf_rt_req s, r, s2, r2;
    ck_assert_int_eq(sf_rt_isend(rts[0], &s, NULL, 0, 1, 1, 0, 3, SF_RT_STANDARD), 0);
    ck_assert_int_eq(sf_rt_isend(rts[0], &s2, NULL, 0, 1, 1, 0, 4, SF_RT_SYNC), 0);
    ck_assert(!s2.complete);
    settle();
    ck_assert_int_eq(sf_rt_irecv(rts[1], &r, NULL, 0, 0, 1, 3), 0);
    ck_assert(r.complete);
    ck_assert_uint_eq(r.status.count, 0);
    ck_assert_int_eq(sf_rt_irecv(rts[1], &r2, NULL, 0, 0, 1, 4), 0);
    wait_all(&s2);
    ck_assert(r2.complete);
    teardown_n();
}
END_TEST

static void large_case(unsigned caps, bool posted_first, size_t len)
{
    setup_n(2, caps, 1000);
    struct sf_rt_req s, r;
    unsigned char *out = malloc(len), *in = calloc(1, len);
    fill(out, len, 11);
    if (posted_first) {
        ck_assert_int_eq(sf_rt_irecv(rts[1], &r, in, len, 0, 1, 3), 0);
    }
    ck_assert_int_eq(sf_rt_isend(rts[0], &s, out, len, 1, 1, 0, 3, SF_RT_STANDARD), 0);
    ck_assert(!s.complete); /* rendezvous waits for the receiver */
    settle();
    if (!posted_first) {
        ck_assert(!s.complete);
        ck_assert_int_eq(sf_rt_irecv(rts[1], &r, in, len, 0, 1, 3), 0);
    }
    wait_all(&r);
    wait_all(&s);
    ck_assert_int_eq(r.status.error, 0);
    ck_assert_uint_eq(r.status.count, len);
    check_fill(in, len, 11);
    ck_assert_uint_eq(rts[0]->nslots - rts[0]->nfree, 0);
    free(out);
    free(in);
    teardown_n();
}

START_TEST(t_large_get)
{
    large_case(SF_NET_CAP_GET, true, 1 << 20);
    large_case(SF_NET_CAP_GET, false, 1 << 20);
}
END_TEST

START_TEST(t_large_push)
{
    large_case(0, true, 1 << 20);
    large_case(0, false, 1 << 20);
    large_case(0, false, 16 * 1024 + 1); /* just above the default eager limit */
}
END_TEST

START_TEST(t_bulk_eagain)
{
    /* The transport refuses bulk operations for a while: retried in progress. */
    for (int caps = 0; caps <= 1; caps++) {
        setup_n(2, (unsigned)caps, 1000);
        size_t len = 50000;
        struct sf_rt_req s, r;
        unsigned char *out = malloc(len), *in = calloc(1, len);
        fill(out, len, 4);
        ((struct fk_ep *)fab.ep[0])->bulk_eagain = 3;
        ((struct fk_ep *)fab.ep[1])->bulk_eagain = 3;
        ck_assert_int_eq(sf_rt_isend(rts[0], &s, out, len, 1, 1, 0, 3, SF_RT_STANDARD), 0);
        ck_assert_int_eq(sf_rt_irecv(rts[1], &r, in, len, 0, 1, 3), 0);
        wait_all(&r);
        wait_all(&s);
        check_fill(in, len, 4);
        free(out);
        free(in);
        teardown_n();
    }
}
END_TEST

/* Eager messages larger than a packet travel as fragments. */
START_TEST(t_frag)
{
    for (int qcap = 1000; qcap >= 2; qcap -= 998) {
        setup_n(3, 0, qcap);
        size_t len = 16384; /* 2 packets of the fake's 8 KiB */
        ck_assert_uint_ge(sf_rt_eager_limit(rts[0]), len);
        unsigned char *o1 = malloc(len), *o2 = malloc(len), *in = calloc(1, len);
        fill(o1, len, 21);
        fill(o2, len, 22);
        struct sf_rt_req s1, s2, s3, r1, r2, r3;
        /* posted first, standard */
        ck_assert_int_eq(sf_rt_irecv(rts[1], &r1, in, len, 0, 1, 5), 0);
        ck_assert_int_eq(sf_rt_isend(rts[0], &s1, o1, len, 1, 1, 0, 5, SF_RT_STANDARD), 0);
        wait_all(&r1);
        wait_all(&s1);
        check_fill(in, len, 21);
        ck_assert_uint_eq(r1.status.count, len);
        /* unexpected, from two senders at once; probe sees whole messages */
        ck_assert_int_eq(sf_rt_isend(rts[0], &s1, o1, len, 1, 1, 0, 6, SF_RT_SYNC), 0);
        ck_assert_int_eq(sf_rt_isend(rts[2], &s2, o2, len, 1, 1, 2, 6, SF_RT_STANDARD), 0);
        int v = 7;
        ck_assert_int_eq(sf_rt_isend(rts[0], &s3, &v, 4, 1, 1, 0, 6, SF_RT_STANDARD), 0);
        settle();
        ck_assert(!s1.complete); /* sync: not matched yet */
        bool flag;
        struct sf_rt_status st;
        ck_assert_int_eq(sf_rt_iprobe(rts[1], 2, 1, 6, &flag, &st, NULL), 0);
        ck_assert(flag);
        ck_assert_uint_eq(st.count, len);
        memset(in, 0, len);
        ck_assert_int_eq(sf_rt_irecv(rts[1], &r2, in, len, 2, 1, 6), 0);
        ck_assert(r2.complete);
        check_fill(in, len, 22);
        /* truncated into a short buffer, then the small one after it */
        memset(in, 0, len);
        ck_assert_int_eq(sf_rt_irecv(rts[1], &r1, in, 1000, 0, 1, 6), 0);
        ck_assert(r1.complete);
        ck_assert_int_eq(r1.status.error, SF_ERR_TRUNCATE);
        ck_assert_uint_eq(r1.status.count, 1000);
        check_fill(in, 1000, 21);
        ck_assert_int_eq(in[1000], 0);
        int w = 0;
        ck_assert_int_eq(sf_rt_irecv(rts[1], &r3, &w, 4, 0, 1, 6), 0);
        ck_assert(r3.complete);
        ck_assert_int_eq(w, 7);
        wait_all(&s1);
        wait_all(&s2);
        wait_all(&s3);
        /* posted first, truncated, sync */
        memset(in, 0, len);
        ck_assert_int_eq(sf_rt_irecv(rts[1], &r1, in, 10000, 0, 1, 8), 0); /* cut in the 2nd fragment */
        ck_assert_int_eq(sf_rt_isend(rts[0], &s1, o1, len, 1, 1, 0, 8, SF_RT_SYNC), 0);
        wait_all(&s1);
        wait_all(&r1);
        ck_assert_int_eq(r1.status.error, SF_ERR_TRUNCATE);
        check_fill(in, 10000, 21);
        ck_assert_int_eq(in[10000], 0);
        free(o1);
        free(o2);
        free(in);
        teardown_n();
    }
}
END_TEST

START_TEST(t_sync)
{
    setup_n(2, 0, 1000);
    struct sf_rt_req s, r;
    int v = 5, w = 0;
    ck_assert_int_eq(sf_rt_isend(rts[0], &s, &v, 4, 1, 1, 0, 3, SF_RT_SYNC), 0);
    settle();
    ck_assert(!s.complete); /* not matched yet */
    ck_assert_int_eq(sf_rt_irecv(rts[1], &r, &w, 4, 0, 1, 3), 0);
    ck_assert(r.complete);
    wait_all(&s);
    ck_assert_int_eq(w, 5);
    /* Posted first. */
    ck_assert_int_eq(sf_rt_irecv(rts[1], &r, &w, 4, 0, 1, 3), 0);
    ck_assert_int_eq(sf_rt_isend(rts[0], &s, &v, 4, 1, 1, 0, 3, SF_RT_SYNC), 0);
    wait_all(&s);
    ck_assert(r.complete);
    teardown_n();
}
END_TEST

START_TEST(t_self)
{
    setup_n(2, 0, 1000);
    struct sf_rt *rt = rts[0];
    struct sf_rt_req s, r;
    size_t big = 200000;
    unsigned char *out = malloc(big), *in = calloc(1, big);
    fill(out, big, 7);
    /* small, unexpected: send completes at once */
    ck_assert_int_eq(sf_rt_isend(rt, &s, out, 100, 0, 1, 3, 8, SF_RT_STANDARD), 0);
    ck_assert(s.complete);
    ck_assert_int_eq(sf_rt_irecv(rt, &r, in, big, 3, 1, 8), 0);
    ck_assert(r.complete);
    ck_assert_uint_eq(r.status.count, 100);
    check_fill(in, 100, 7);
    /* large, unexpected: waits for the receive, no copy */
    ck_assert_int_eq(sf_rt_isend(rt, &s, out, big, 0, 1, 3, 8, SF_RT_STANDARD), 0);
    ck_assert(!s.complete);
    memset(in, 0, big);
    ck_assert_int_eq(sf_rt_irecv(rt, &r, in, big, SF_RT_ANY_SOURCE, 1, SF_RT_ANY_TAG), 0);
    ck_assert(r.complete && s.complete);
    check_fill(in, big, 7);
    /* posted first, sync */
    memset(in, 0, big);
    ck_assert_int_eq(sf_rt_irecv(rt, &r, in, big, 3, 1, 8), 0);
    ck_assert_int_eq(sf_rt_isend(rt, &s, out, 10, 0, 1, 3, 8, SF_RT_SYNC), 0);
    ck_assert(r.complete && s.complete);
    check_fill(in, 10, 7);
    /* sync unexpected waits; then cancel it */
    ck_assert_int_eq(sf_rt_isend(rt, &s, out, 10, 0, 1, 3, 8, SF_RT_SYNC), 0);
    ck_assert(!s.complete);
    ck_assert_int_eq(sf_rt_cancel(rt, &s), 0);
    ck_assert(s.complete && s.status.cancelled);
    bool flag;
    struct sf_rt_status st;
    ck_assert_int_eq(sf_rt_iprobe(rt, 3, 1, 8, &flag, &st, NULL), 0);
    ck_assert(!flag);
    /* truncation on self */
    ck_assert_int_eq(sf_rt_isend(rt, &s, out, big, 0, 1, 3, 8, SF_RT_STANDARD), 0);
    ck_assert_int_eq(sf_rt_irecv(rt, &r, in, 5, 3, 1, 8), 0);
    ck_assert_int_eq(r.status.error, SF_ERR_TRUNCATE);
    ck_assert_uint_eq(r.status.count, 5);
    ck_assert(s.complete);
    free(out);
    free(in);
    teardown_n();
}
END_TEST

START_TEST(t_proc_null)
{
    setup_n(2, 0, 1000);
    struct sf_rt_req s, r;
    int v = 0;
    ck_assert_int_eq(sf_rt_isend(rts[0], &s, &v, 4, SF_RT_PROC_NULL, 1, 0, 3, SF_RT_SYNC), 0);
    ck_assert(s.complete);
    ck_assert_int_eq(sf_rt_irecv(rts[0], &r, &v, 4, SF_RT_PROC_NULL, 1, 3), 0);
    ck_assert(r.complete);
    ck_assert_int_eq(r.status.source, SF_RT_PROC_NULL);
    ck_assert_int_eq(r.status.tag, SF_RT_ANY_TAG);
    ck_assert_uint_eq(r.status.count, 0);
    ck_assert_int_eq(sf_rt_imrecv(rts[0], &r, &v, 4, NULL), 0);
    ck_assert(r.complete);
    teardown_n();
}
END_TEST

START_TEST(t_cancel)
{
    setup_n(2, 0, 0); /* qcap 0: every packet stays queued in the sender */
    struct sf_rt_req s, s2, r;
    static char big[100000];
    int v = 1;
    /* An RTS that never left can be withdrawn. */
    ck_assert_int_eq(sf_rt_isend(rts[0], &s, big, sizeof(big), 1, 1, 0, 3, SF_RT_STANDARD), 0);
    ck_assert_int_eq(sf_rt_isend(rts[0], &s2, &v, 4, 1, 1, 0, 3, SF_RT_SYNC), 0);
    ck_assert_int_eq(sf_rt_cancel(rts[0], &s), 0);
    ck_assert(s.complete && s.status.cancelled);
    /* Standard eager sends are copied while the queue is short and
     * complete at once; past RT_PEND_COPY_MAX queued packets they wait
     * for their packet to leave (back-pressure) and can be withdrawn. */
    static struct sf_rt_req fillers[RT_PEND_COPY_MAX + 1];
    int w = 2, nf = 0;
    for (;;) {
        ck_assert_int_lt(nf, RT_PEND_COPY_MAX + 1);
        struct sf_rt_req *f = &fillers[nf++];
        ck_assert_int_eq(sf_rt_isend(rts[0], f, &w, 4, 1, 1, 0, 7, SF_RT_STANDARD), 0);
        if (!f->complete) {
            break;
        }
    }
    ck_assert_int_eq(nf, RT_PEND_COPY_MAX);
    ck_assert_int_eq(sf_rt_cancel(rts[0], &fillers[nf - 1]), 0);
    ck_assert(fillers[nf - 1].complete && fillers[nf - 1].status.cancelled);
    ck_assert_int_eq(sf_rt_isend(rts[0], &fillers[nf - 1], &w, 4, 1, 1, 0, 7, SF_RT_STANDARD), 0);
    ck_assert(!fillers[nf - 1].complete);
    fab.qcap = 1000;
    settle();
    ck_assert(fillers[nf - 1].complete && !fillers[nf - 1].status.cancelled);
    settle();
    /* The sync send went out after the cancelled one and is matched first. */
    ck_assert_int_eq(sf_rt_irecv(rts[1], &r, &v, 4, 0, 1, 3), 0);
    ck_assert(r.complete);
    ck_assert_uint_eq(r.status.count, 4);
    wait_all(&s2);
    ck_assert(!s2.status.cancelled);
    /* An announced send cannot be cancelled: it completes normally. */
    ck_assert_int_eq(sf_rt_isend(rts[0], &s, big, sizeof(big), 1, 1, 0, 3, SF_RT_STANDARD), 0);
    settle();
    ck_assert_int_eq(sf_rt_cancel(rts[0], &s), 0);
    ck_assert(!s.complete);
    ck_assert_int_eq(sf_rt_irecv(rts[1], &r, big, sizeof(big), 0, 1, 3), 0);
    wait_all(&s);
    ck_assert(!s.status.cancelled);
    /* Cancel of a matched receive: completes normally. */
    ck_assert_int_eq(sf_rt_cancel(rts[1], &r), 0);
    ck_assert(!r.status.cancelled);
    teardown_n();
}
END_TEST

START_TEST(t_many)
{
    enum { N = 10000 };
    setup_n(2, SF_NET_CAP_GET, 16); /* small queue: the pending path runs */
    struct sf_rt_req *s = calloc(2 * N, sizeof(*s)), *r = calloc(2 * N, sizeof(*r));
    int *out = malloc(sizeof(int) * 2 * N), *in = malloc(sizeof(int) * 2 * N);
    /* Both directions, half the receives posted before, tags reused. */
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(sf_rt_irecv(rts[1], &r[i], &in[i], 4, 0, 1, i % 7), 0);
    }
    for (int i = 0; i < N; i++) {
        out[i] = i;
        out[N + i] = -i;
        ck_assert_int_eq(sf_rt_isend(rts[0], &s[i], &out[i], 4, 1, 1, 0, i % 7,
                                     i % 2 ? SF_RT_SYNC : SF_RT_STANDARD), 0);
        ck_assert_int_eq(sf_rt_isend(rts[1], &s[N + i], &out[N + i], 4, 0, 1, 1, 5,
                                     SF_RT_SYNC), 0);
    }
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(sf_rt_irecv(rts[0], &r[N + i], &in[N + i], 4, 1, 1, 5), 0);
    }
    for (int i = 0; i < 2 * N; i++) {
        wait_all(&r[i]);
        wait_all(&s[i]);
    }
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(in[i], i);
        ck_assert_int_eq(in[N + i], -i);
    }
    ck_assert_int_eq(rts[0]->npend_peers, 0);
    free(s);
    free(r);
    free(out);
    free(in);
    teardown_n();
}
END_TEST

START_TEST(t_bad_packets)
{
    setup_n(2, 0, 1000);
    struct sf_net *net = rts[0]->tr[0].net;
    unsigned char junk[64] = {0};
    struct iovec iov = {junk, 5};
    ck_assert_int_eq(net->ops->send(net, 1, &iov, 1), 0); /* short */
    junk[0] = 99;
    iov.iov_len = 40;
    ck_assert_int_eq(net->ops->send(net, 1, &iov, 1), 0); /* bad kind */
    struct rt_hdr h = {.kind = RT_K_EAGER, .len = 1000};
    memcpy(junk, &h, sizeof(h));
    ck_assert_int_eq(net->ops->send(net, 1, &iov, 1), 0); /* length lies */
    struct rt_hdr f = {.kind = RT_K_FIN};
    struct rt_ext x = {12345, 0, 0};
    memcpy(junk, &f, sizeof(f));
    memcpy(junk + RT_HDR_LEN, &x, sizeof(x));
    iov.iov_len = RT_HDR_LEN + 24;
    ck_assert_int_eq(net->ops->send(net, 1, &iov, 1), 0); /* reply to nothing */
    settle();
    ck_assert_uint_eq(rts[1]->dropped, 4);
    ck_assert_ptr_null(rts[1]->unexp.head);
    /* Still works afterwards. */
    struct sf_rt_req s, r;
    int v = 9, w = 0;
    ck_assert_int_eq(sf_rt_irecv(rts[1], &r, &w, 4, 0, 1, 3), 0);
    ck_assert_int_eq(sf_rt_isend(rts[0], &s, &v, 4, 1, 1, 0, 3, SF_RT_STANDARD), 0);
    wait_all(&r);
    ck_assert_int_eq(w, 9);
    teardown_n();
}
END_TEST

START_TEST(t_eager_tunable)
{
    setenv("SF_RT_EAGER_LIMIT", "1k", 1);
    setup_n(2, 0, 1000);
    ck_assert_uint_eq(sf_rt_eager_limit(rts[0]), 1024);
    teardown_n();
    setenv("SF_RT_EAGER_LIMIT", "1m", 1);
    setup_n(2, 0, 1000);
    ck_assert_uint_eq(sf_rt_eager_limit(rts[0]), RT_EAGER_MAX);
    teardown_n();
    unsetenv("SF_RT_EAGER_LIMIT");
}
END_TEST

START_TEST(t_params)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    sf_rt_params(f);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(text, "SF_RT_EAGER_LIMIT"));
    ck_assert_ptr_nonnull(strstr(text, "SF_RT_SPIN"));
    free(text);
}
END_TEST

START_TEST(t_singleton)
{
    unsetenv(SF_ENV_SFD_FD);
    struct sf_rt *rt;
    ck_assert_int_eq(sf_rt_init(&rt), -ENOENT);
    ck_assert_ptr_nonnull(rt);
    ck_assert_int_eq(sf_rt_rank(rt), 0);
    ck_assert_int_eq(sf_rt_size(rt), 1);
    int n;
    const int *nr = sf_rt_node_ranks(rt, &n);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(nr[0], 0);
    struct sf_rt_req s, r;
    static char out[100000], in[100000];
    fill((unsigned char *)out, sizeof(out), 1);
    ck_assert_int_eq(sf_rt_isend(rt, &s, out, sizeof(out), 0, 0, 0, 0, SF_RT_STANDARD), 0);
    ck_assert_int_eq(sf_rt_irecv(rt, &r, in, sizeof(in), 0, 0, 0), 0);
    ck_assert_int_eq(sf_rt_wait(rt, &s), 0);
    ck_assert_int_eq(sf_rt_wait(rt, &r), 0);
    check_fill((unsigned char *)in, sizeof(in), 1);
    ck_assert_int_eq(sf_rt_finalize(rt), 0);
}
END_TEST

/* ---- real wire-up: forked ranks, this process plays sfd ---- */

enum job_mode { JOB_RUN, JOB_KILL, JOB_NOSHM };

/* What each rank does: a ring of small and large messages, then a gather
 * to rank 0 and a reply (a barrier) so nobody finalizes while a peer
 * still reads its memory. */
static int rank_body(enum job_mode mode)
{
    struct sf_rt *rt;
    int rc = sf_rt_init(&rt);
    if (rc < 0) {
        return 10;
    }
    int me = sf_rt_rank(rt), n = sf_rt_size(rt);
    int nn;
    sf_rt_node_ranks(rt, &nn);
    if (nn != atoi(getenv(SF_ENV_LOCAL_SIZE))) {
        return 11;
    }
    struct sf_rt_req s, r;
    if (mode == JOB_KILL) {
        int v;
        sf_rt_irecv(rt, &r, &v, sizeof(v), 0, 1, 1);
        sf_rt_wait(rt, &r); /* never matched: the daemon's KILL ends us */
        return 12;
    }
    size_t big = 3 << 20;
    unsigned char *out = malloc(big), *in = malloc(big);
    for (int round = 0; round < 20; round++) {
        size_t len = round % 2 ? big : (size_t)round * 100;
        fill(out, len, (unsigned)(me + round));
        if (sf_rt_irecv(rt, &r, in, big, (me + n - 1) % n, 1, round) < 0 ||
            sf_rt_isend(rt, &s, out, len, (me + 1) % n, 1, me, round,
                        round % 4 == 2 ? SF_RT_SYNC : SF_RT_STANDARD) < 0 ||
            sf_rt_wait(rt, &r) < 0 || sf_rt_wait(rt, &s) < 0) {
            return 13;
        }
        if (r.status.count != len || r.status.source != (me + n - 1) % n) {
            return 14;
        }
        unsigned seed = (unsigned)((me + n - 1) % n + round);
        for (size_t i = 0; i < len; i++) {
            if (in[i] != (unsigned char)(i * 131 + seed)) {
                return 15;
            }
        }
    }
    int v = me;
    if (me == 0) {
        for (int i = 1; i < n; i++) {
            sf_rt_irecv(rt, &r, &v, sizeof(v), SF_RT_ANY_SOURCE, 2, 0);
            sf_rt_wait(rt, &r);
        }
        for (int i = 1; i < n; i++) {
            sf_rt_isend(rt, &s, &v, sizeof(v), i, 2, 0, 0, SF_RT_STANDARD);
            sf_rt_wait(rt, &s);
        }
    } else {
        sf_rt_isend(rt, &s, &v, sizeof(v), 0, 2, me, 0, SF_RT_STANDARD);
        sf_rt_wait(rt, &s);
        sf_rt_irecv(rt, &r, &v, sizeof(v), 0, 2, 0);
        sf_rt_wait(rt, &r);
    }
    free(out);
    free(in);
    return sf_rt_finalize(rt) == 0 ? 0 : 16;
}

static void read_frame(int fd, struct sf_wire_rx *rx, struct sf_wire_msg *m)
{
    for (;;) {
        int rc = sf_wire_rx_next(rx, m);
        ck_assert_int_ge(rc, 0);
        if (rc == 1) {
            return;
        }
        long n = sf_wire_rx_fill(rx, fd);
        ck_assert_int_gt(n, 0);
    }
}

/* nodes == NULL: all ranks on node 0; else nodes[i] is rank i's node and
 * each node gets its own segment and local numbering. */
static void run_job_nodes(int n, const int *nodes, const char *fi_provider, enum job_mode mode)
{
    int node_of[8], lrank[8], lsize[8] = {0}, shm[8];
    for (int i = 0; i < n; i++) {
        node_of[i] = nodes != NULL ? nodes[i] : 0;
        lrank[i] = lsize[node_of[i]]++;
    }
    for (int k = 0; k < n; k++) {
        shm[k] = -1;
        if (lsize[k] > 0) {
            shm[k] = memfd_create("sf-test", 0);
            ck_assert_int_ge(shm[k], 0);
            ck_assert_int_eq(ftruncate(shm[k], (off_t)sf_net_shm_segment_size(lsize[k])), 0);
        }
    }
    int fds[8];
    pid_t pids[8];
    struct sf_wire_rx rx[8];
    for (int i = 0; i < n; i++) {
        int sv[2];
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        pids[i] = fork();
        ck_assert_int_ge(pids[i], 0);
        if (pids[i] == 0) {
            char b[32];
            int cfd = dup(sv[1]); /* without CLOEXEC: like sfd's child */
            setenv(SF_ENV_JOB, "77", 1);
            snprintf(b, sizeof(b), "%d", i);
            setenv(SF_ENV_RANK, b, 1);
            snprintf(b, sizeof(b), "%d", lrank[i]);
            setenv(SF_ENV_LOCAL_RANK, b, 1);
            snprintf(b, sizeof(b), "%d", n);
            setenv(SF_ENV_SIZE, b, 1);
            snprintf(b, sizeof(b), "%d", lsize[node_of[i]]);
            setenv(SF_ENV_LOCAL_SIZE, b, 1);
            snprintf(b, sizeof(b), "%d", node_of[i]);
            setenv(SF_ENV_NODE, b, 1);
            snprintf(b, sizeof(b), "%d", cfd);
            setenv(SF_ENV_SFD_FD, b, 1);
            snprintf(b, sizeof(b), "%d", shm[node_of[i]]);
            setenv(SF_ENV_SHM_FD, b, 1);
            if (mode == JOB_NOSHM) {
                unsetenv(SF_ENV_SHM_FD); /* sfd could not make a segment */
                mode = JOB_RUN;
            }
            setenv(SF_ENV_OVERSUB, "1", 1);
            if (fi_provider != NULL) {
                setenv("FI_PROVIDER", fi_provider, 1);
            } else {
                unsetenv("FI_PROVIDER");
            }
            _exit(rank_body(mode));
        }
        close(sv[1]);
        fds[i] = sv[0];
        sf_wire_rx_init(&rx[i]);
    }
    /* Collect HELLO and ADDR, then send everyone the table. */
    struct sf_wire_enc tab;
    int32_t tnodes[8] = {0};
    for (int i = 0; i < n; i++) {
        tnodes[i] = node_of[i];
    }
    uint8_t *blobs = NULL;
    size_t blen = 0;
    for (int i = 0; i < n; i++) {
        struct sf_wire_msg m;
        read_frame(fds[i], &rx[i], &m);
        ck_assert_int_eq(m.op, SF_OP_RANK_HELLO);
        ck_assert_uint_eq(m.f[0].u, 77);
        ck_assert_int_eq(m.f[1].i, i);
        read_frame(fds[i], &rx[i], &m);
        ck_assert_int_eq(m.op, SF_OP_RANK_ADDR);
        ck_assert_int_eq(m.f[0].i, i);
        if (fi_provider == NULL && lsize[node_of[i]] == n && mode != JOB_NOSHM) {
            ck_assert_uint_eq(m.f[1].len, 17); /* no fabric address: ofi not opened */
        } else {
            ck_assert_uint_gt(m.f[1].len, 17);
        }
        blobs = realloc(blobs, blen + 4 + m.f[1].len);
        uint32_t l = m.f[1].len;
        blobs[blen] = (uint8_t)(l >> 24);
        blobs[blen + 1] = (uint8_t)(l >> 16);
        blobs[blen + 2] = (uint8_t)(l >> 8);
        blobs[blen + 3] = (uint8_t)l;
        memcpy(blobs + blen + 4, m.f[1].p, l);
        blen += 4 + l;
    }
    sf_wire_enc_begin(&tab, SF_OP_ADDR_TABLE, 0);
    sf_wire_put_u32(&tab, 0);
    sf_wire_put_i32v(&tab, tnodes, (size_t)n);
    sf_wire_put_bytes(&tab, blobs, blen);
    ck_assert_int_eq(sf_wire_enc_end(&tab), 0);
    for (int i = 0; i < n; i++) {
        ck_assert_int_eq(sf_wire_write_all(fds[i], tab.buf, tab.len), 0);
    }
    sf_wire_enc_free(&tab);
    free(blobs);
    if (mode == JOB_KILL) {
        struct sf_wire_enc k;
        sf_wire_enc_begin(&k, SF_OP_KILL, 0);
        sf_wire_put_str(&k, "test says stop");
        ck_assert_int_eq(sf_wire_enc_end(&k), 0);
        for (int i = 0; i < n; i++) {
            ck_assert_int_eq(sf_wire_write_all(fds[i], k.buf, k.len), 0);
        }
        sf_wire_enc_free(&k);
    } else {
        for (int i = 0; i < n; i++) {
            struct sf_wire_msg m;
            read_frame(fds[i], &rx[i], &m);
            ck_assert_int_eq(m.op, SF_OP_RANK_FINALIZE);
            ck_assert_int_eq(m.f[0].i, i);
        }
    }
    for (int i = 0; i < n; i++) {
        int st;
        ck_assert_int_eq(waitpid(pids[i], &st, 0), pids[i]);
        ck_assert(WIFEXITED(st));
        ck_assert_int_eq(WEXITSTATUS(st), mode == JOB_KILL ? 1 : 0);
        close(fds[i]);
        sf_wire_rx_free(&rx[i]);
    }
    for (int k = 0; k < n; k++) {
        if (shm[k] >= 0) {
            close(shm[k]);
        }
    }
}

static void run_job(int n, const char *fi_provider, enum job_mode mode)
{
    run_job_nodes(n, NULL, fi_provider, mode);
}

START_TEST(t_wireup_shm)
{
    run_job(3, NULL, JOB_RUN);
}
END_TEST

START_TEST(t_wireup_ofi)
{
    run_job(2, "tcp", JOB_RUN);
}
END_TEST

START_TEST(t_wireup_no_segment)
{
    /* No SF_SHM_FD: same-node peers go through libfabric. */
    run_job(2, NULL, JOB_NOSHM);
}
END_TEST

START_TEST(t_wireup_two_nodes)
{
    /* Ranks 0 and 2 share "node" 0 (shm), 1 and 3 node 1: every ring hop
     * crosses nodes through libfabric, the gather to rank 0 mixes both. */
    int nodes[4] = {0, 1, 0, 1};
    run_job_nodes(4, nodes, NULL, JOB_RUN);
}
END_TEST

START_TEST(t_wireup_kill)
{
    run_job(2, NULL, JOB_KILL);
}
END_TEST

Suite *rt_suite(void)
{
    Suite *s = suite_create("rt");
    TCase *tc = tcase_create("engine");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, t_eager_posted_first);
    tcase_add_test(tc, t_eager_unexpected_first);
    tcase_add_test(tc, t_ordering);
    tcase_add_test(tc, t_wildcards);
    tcase_add_test(tc, t_probe);
    tcase_add_test(tc, t_mprobe_eager);
    tcase_add_test(tc, t_mprobe_rndv);
    tcase_add_test(tc, t_truncate);
    tcase_add_test(tc, t_zero_byte);
    tcase_add_test(tc, t_large_get);
    tcase_add_test(tc, t_large_push);
    tcase_add_test(tc, t_bulk_eagain);
    tcase_add_test(tc, t_frag);
    tcase_add_test(tc, t_sync);
    tcase_add_test(tc, t_self);
    tcase_add_test(tc, t_proc_null);
    tcase_add_test(tc, t_cancel);
    tcase_add_test(tc, t_many);
    tcase_add_test(tc, t_bad_packets);
    tcase_add_test(tc, t_eager_tunable);
    tcase_add_test(tc, t_params);
    tcase_add_test(tc, t_singleton);
    suite_add_tcase(s, tc);
    TCase *tw = tcase_create("wireup");
    tcase_set_timeout(tw, 120);
    tcase_add_test(tw, t_wireup_shm);
    tcase_add_test(tw, t_wireup_ofi);
    tcase_add_test(tw, t_wireup_no_segment);
    tcase_add_test(tw, t_wireup_two_nodes);
    tcase_add_test(tw, t_wireup_kill);
    suite_add_tcase(s, tw);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(rt_suite());
    srunner_set_fork_status(sr, CK_FORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
