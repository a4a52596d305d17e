/* Check suite for the collective algorithms (mpi-shim/coll_*.c), run over
 * an in-process stand-in for sf_rt: one thread per rank, a mutex-protected
 * mailbox with MPI matching order. Tests semantics and determinism, not
 * speed, and not the real message engine (tests/check_rt does that). */
#include "mpi-shim/sf_coll.h"
#include "mpi-shim/sf_op.h"
#include "runtime/rt/sf_rt.h"

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- the stand-in engine: eager, buffered, FIFO matching ---- */

struct fmsg {
    struct fmsg *next;
    uint32_t ctx;
    int src, tag;
    size_t len;
    unsigned char data[];
};

struct fworld {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int size;
    struct fmsg **unexp;       /* per world rank, arrival order */
    struct sf_rt_req **posted; /* per world rank, post order (linked by next) */
};

struct sf_rt {
    struct fworld *w;
    int wrank;
};

static bool matches(uint32_t ctx, int src, int tag, uint32_t rctx, int rsrc, int rtag)
{
    return ctx == rctx && (rsrc == SF_RT_ANY_SOURCE || rsrc == src) &&
           (rtag == SF_RT_ANY_TAG || rtag == tag);
}

static void deliver(struct sf_rt_req *r, int src, int tag, const void *data, size_t len)
{
    size_t n = len < r->len ? len : r->len;
    memcpy(r->buf, data, n);
    r->status.source = src;
    r->status.tag = tag;
    r->status.count = n;
    r->status.error = len > r->len ? -4004 : 0;
    r->complete = true;
}

int sf_rt_isend(struct sf_rt *rt, struct sf_rt_req *req, const void *buf, size_t len, int dest,
                uint32_t ctx, int src_rank, int tag, enum sf_rt_mode mode)
{
    struct fworld *w = rt->w;
    ck_assert(dest >= 0 && dest < w->size);
    memset(req, 0, sizeof *req);
    req->kind = SF_RT_REQ_SEND;
    pthread_mutex_lock(&w->mu);
    struct sf_rt_req **pp = &w->posted[dest];
    for (; *pp != NULL; pp = &(*pp)->next) {
        if (matches(ctx, src_rank, tag, (*pp)->ctx, (*pp)->peer, (*pp)->tag)) {
            struct sf_rt_req *r = *pp;
            *pp = r->next;
            deliver(r, src_rank, tag, buf, len);
            goto done;
        }
    }
    struct fmsg *m = malloc(sizeof *m + len);
    ck_assert_ptr_nonnull(m);
    m->next = NULL;
    m->ctx = ctx;
    m->src = src_rank;
    m->tag = tag;
    m->len = len;
    memcpy(m->data, buf, len);
    struct fmsg **mp = &w->unexp[dest];
    while (*mp != NULL) {
        mp = &(*mp)->next;
    }
    *mp = m;
done:
    req->complete = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return 0;
}

int sf_rt_irecv(struct sf_rt *rt, struct sf_rt_req *req, void *buf, size_t len, int source,
                uint32_t ctx, int tag)
{
    struct fworld *w = rt->w;
    memset(req, 0, sizeof *req);
    req->kind = SF_RT_REQ_RECV;
    req->buf = buf;
    req->len = len;
    req->ctx = ctx;
    req->peer = source;
    req->tag = tag;
    pthread_mutex_lock(&w->mu);
    for (struct fmsg **mp = &w->unexp[rt->wrank]; *mp != NULL; mp = &(*mp)->next) {
        struct fmsg *m = *mp;
        if (matches(m->ctx, m->src, m->tag, ctx, source, tag)) {
            *mp = m->next;
            deliver(req, m->src, m->tag, m->data, m->len);
            free(m);
            pthread_mutex_unlock(&w->mu);
            return 0;
        }
    }
    struct sf_rt_req **pp = &w->posted[rt->wrank];
    while (*pp != NULL) {
        pp = &(*pp)->next;
    }
    *pp = req;
    pthread_mutex_unlock(&w->mu);
    return 0;
}

int sf_rt_wait(struct sf_rt *rt, struct sf_rt_req *req)
{
    pthread_mutex_lock(&rt->w->mu);
    while (!req->complete) {
        pthread_cond_wait(&rt->w->cv, &rt->w->mu);
    }
    pthread_mutex_unlock(&rt->w->mu);
    return 0;
}

int sf_rt_cancel(struct sf_rt *rt, struct sf_rt_req *req)
{
    pthread_mutex_lock(&rt->w->mu);
    for (struct sf_rt_req **pp = &rt->w->posted[rt->wrank]; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == req) {
            *pp = req->next;
            req->status.cancelled = true;
            req->complete = true;
            break;
        }
    }
    pthread_mutex_unlock(&rt->w->mu);
    return 0;
}

/* Everything happens at post time here; waiting threads just yield. */
int sf_rt_progress(struct sf_rt *rt)
{
    (void)rt;
    return 0;
}

void sf_rt_idle(struct sf_rt *rt, unsigned idle)
{
    (void)rt;
    (void)idle;
    sched_yield();
}

/* ---- running p ranks ---- */

struct rankctx {
    struct sf_rt rt;
    struct sf_coll_comm comm;
    int *world;
    void *arg;
    void (*body)(struct rankctx *);
};

static void *rank_main(void *v)
{
    struct rankctx *r = v;
    r->body(r);
    return NULL;
}

/* Members are mapped to world ranks by a permutation so that the algorithms'
 * comm-rank vs world-rank translation is exercised. */
static void run_ranks(int p, void (*body)(struct rankctx *), void *arg)
{
    struct fworld w;
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    w.size = p;
    w.unexp = calloc((size_t)p, sizeof *w.unexp);
    w.posted = calloc((size_t)p, sizeof *w.posted);
    int *world = malloc(sizeof(int) * (size_t)p);
    for (int i = 0; i < p; i++) {
        world[i] = (i * 5 + 3) % p;
        if (p % 5 == 0) {
            world[i] = p - 1 - i;
        }
    }
    struct rankctx *rs = calloc((size_t)p, sizeof *rs);
    pthread_t *th = calloc((size_t)p, sizeof *th);
    for (int i = 0; i < p; i++) {
        rs[i].rt.w = &w;
        rs[i].rt.wrank = world[i];
        rs[i].comm = (struct sf_coll_comm){&rs[i].rt, 77, i, p, world};
        rs[i].arg = arg;
        rs[i].body = body;
        ck_assert_int_eq(pthread_create(&th[i], NULL, rank_main, &rs[i]), 0);
    }
    for (int i = 0; i < p; i++) {
        pthread_join(th[i], NULL);
    }
    /* Every message sent was received, every receive matched. */
    for (int i = 0; i < p; i++) {
        ck_assert_msg(w.unexp[i] == NULL, "leftover message at world rank %d", i);
        ck_assert(w.posted[i] == NULL);
    }
    free(th);
    free(rs);
    free(world);
    free(w.unexp);
    free(w.posted);
    pthread_mutex_destroy(&w.mu);
    pthread_cond_destroy(&w.cv);
}

/* ---- ops ---- */

static int op_sum_double(const void *in, void *inout, size_t n, void *arg)
{
    return sf_op_apply(SF_OP_SUM, SF_T_DOUBLE, in, inout, n);
}
static int op_sum_int64(const void *in, void *inout, size_t n, void *arg)
{
    return sf_op_apply(SF_OP_SUM, SF_T_INT64, in, inout, n);
}
/* 2x2 matrix product mod 2^32: associative, not commutative. inout = in x inout. */
static int op_matmul(const void *in, void *inout, size_t n, void *arg)
{
    const uint32_t *a = in;
    uint32_t *b = inout;
    for (size_t k = 0; k < n; k++, a += 4, b += 4) {
        uint32_t r[4] = {a[0] * b[0] + a[1] * b[2], a[0] * b[1] + a[1] * b[3],
                         a[2] * b[0] + a[3] * b[2], a[2] * b[1] + a[3] * b[3]};
        memcpy(b, r, sizeof r);
    }
    return 0;
}
static const struct sf_coll_op OP_DSUM = {op_sum_double, NULL, true, sizeof(double)};
static const struct sf_coll_op OP_ISUM = {op_sum_int64, NULL, true, sizeof(int64_t)};
static const struct sf_coll_op OP_MAT = {op_matmul, NULL, false, 4 * sizeof(uint32_t)};

static void mat_of(int rank, size_t k, uint32_t m[4])
{
    uint32_t s = (uint32_t)(rank * 2654435761u + k * 40503u + 1);
    m[0] = s | 1;
    m[1] = s >> 7;
    m[2] = (s >> 3) + (uint32_t)rank;
    m[3] = s * 3 + 1;
}

static double dval(int rank, size_t i)
{
    /* Values of very different magnitude so the summation order shows. */
    return (rank % 3 == 0 ? 1e16 : 1.0) * (1.0 + (double)((rank * 131 + i * 7) % 97) / 7.0);
}

/* ---- barrier ---- */

static atomic_int bar_count[20];

static void body_barrier(struct rankctx *r)
{
    int p = r->comm.size;
    for (int it = 0; it < 20; it++) {
        atomic_fetch_add(&bar_count[it], 1);
        ck_assert_int_eq(sf_coll_barrier(&r->comm), 0);
        /* Nobody leaves round it before everyone has entered it. */
        ck_assert_int_eq(atomic_load(&bar_count[it]), p);
    }
}

START_TEST(barrier)
{
    for (int p = 1; p <= 9; p++) {
        for (int it = 0; it < 20; it++) {
            atomic_store(&bar_count[it], 0);
        }
        run_ranks(p, body_barrier, NULL);
    }
}
END_TEST

/* ---- bcast ---- */

static const size_t bcast_sizes[] = {0, 1, 7, 4096, 300000, 1048579};

static void body_bcast(struct rankctx *r)
{
    int p = r->comm.size;
    for (size_t si = 0; si < sizeof bcast_sizes / sizeof bcast_sizes[0]; si++) {
        size_t n = bcast_sizes[si];
        unsigned char *b = malloc(n + 1);
        for (int root = 0; root < p; root++) {
            for (size_t i = 0; i < n; i++) {
                b[i] = r->comm.rank == root ? (unsigned char)(i * 7 + root) : 0xee;
            }
            ck_assert_int_eq(sf_coll_bcast(&r->comm, b, n, root), 0);
            /* (ck_assert costs a pipe write per call: check once per buffer) */
            size_t bad = n;
            for (size_t i = 0; i < n && bad == n; i++) {
                if (b[i] != (unsigned char)(i * 7 + root)) {
                    bad = i;
                }
            }
            ck_assert_msg(bad == n, "p %d n %zu root %d byte %zu", p, n, root, bad);
        }
        free(b);
    }
}

START_TEST(bcast)
{
    run_ranks(_i, body_bcast, NULL);
}
END_TEST

START_TEST(bad_root)
{
    struct sf_rt rt = {0};
    int world[2] = {0, 1};
    struct sf_coll_comm c = {&rt, 1, 0, 2, world};
    char b[4];
    ck_assert_int_eq(sf_coll_bcast(&c, b, 4, 2), -EINVAL);
    ck_assert_int_eq(sf_coll_reduce(&c, b, b, 1, &OP_ISUM, -1), -EINVAL);
}
END_TEST

/* ---- reduce and allreduce ---- */

static const size_t red_counts[] = {0, 1, 5, 1000, 20000};
#define NRC (sizeof red_counts / sizeof red_counts[0])

/* results[root][count index] from rank root's rbuf (reduce) or every rank
 * compared with rank 0 (allreduce), kept for the determinism check. */
struct red_out {
    double *d[NRC][9];
};

static void body_reduce(struct rankctx *r)
{
    struct red_out *o = r->arg;
    int p = r->comm.size, me = r->comm.rank;
    for (size_t ci = 0; ci < NRC; ci++) {
        size_t n = red_counts[ci];
        double *s = malloc(n * sizeof(double) + 8), *d = malloc(n * sizeof(double) + 8);
        int64_t *is = malloc(n * 8 + 8), *id = malloc(n * 8 + 8);
        uint32_t *ms = malloc(n * 16 + 16), *md = malloc(n * 16 + 16);
        for (int root = 0; root < p; root++) {
            for (size_t i = 0; i < n; i++) {
                s[i] = dval(me, i);
                is[i] = (int64_t)(me + 1) * (int64_t)(i + 1);
                mat_of(me, i, ms + 4 * i);
            }
            bool inplace = (root + (int)ci) % 2 == 1;
            if (inplace && me == root) {
                memcpy(d, s, n * sizeof(double));
                memcpy(id, is, n * 8);
                memcpy(md, ms, n * 16);
            }
            ck_assert_int_eq(
                sf_coll_reduce(&r->comm, inplace && me == root ? NULL : s, d, n, &OP_DSUM, root),
                0);
            ck_assert_int_eq(
                sf_coll_reduce(&r->comm, inplace && me == root ? NULL : is, id, n, &OP_ISUM, root),
                0);
            ck_assert_int_eq(
                sf_coll_reduce(&r->comm, inplace && me == root ? NULL : ms, md, n, &OP_MAT, root),
                0);
            if (me != root) {
                continue;
            }
            int64_t tri = (int64_t)p * (p + 1) / 2;
            size_t bad_i = n, bad_m = n;
            for (size_t i = 0; i < n; i++) {
                if (id[i] != tri * (int64_t)(i + 1)) {
                    bad_i = i;
                }
                uint32_t ref[4], m[4];
                mat_of(p - 1, i, ref);
                for (int k = p - 2; k >= 0; k--) {
                    mat_of(k, i, m);
                    op_matmul(m, ref, 1, NULL); /* ref = M_k x ref */
                }
                if (memcmp(ref, md + 4 * i, 16) != 0) {
                    bad_m = i;
                }
            }
            ck_assert_msg(bad_i == n, "int sum p %d root %d i %zu", p, root, bad_i);
            ck_assert_msg(bad_m == n, "matrix p %d root %d i %zu", p, root, bad_m);
            if (root == 0 && o != NULL) {
                o->d[ci][0] = malloc(n * sizeof(double) + 8);
                memcpy(o->d[ci][0], d, n * sizeof(double));
            }
        }
        free(s);
        free(d);
        free(is);
        free(id);
        free(ms);
        free(md);
    }
}

static void free_out(struct red_out *o)
{
    for (size_t ci = 0; ci < NRC; ci++) {
        for (int k = 0; k < 9; k++) {
            free(o->d[ci][k]);
        }
    }
}

START_TEST(reduce)
{
    struct red_out a = {0}, b = {0};
    run_ranks(_i, body_reduce, &a);
    run_ranks(_i, body_reduce, &b);
    for (size_t ci = 0; ci < NRC; ci++) {
        ck_assert(memcmp(a.d[ci][0], b.d[ci][0], red_counts[ci] * sizeof(double)) == 0);
    }
    free_out(&a);
    free_out(&b);
}
END_TEST

static void body_allreduce(struct rankctx *r)
{
    struct red_out *o = r->arg;
    int p = r->comm.size, me = r->comm.rank;
    for (size_t ci = 0; ci < NRC; ci++) {
        size_t n = red_counts[ci];
        double *s = malloc(n * sizeof(double) + 8), *d = malloc(n * sizeof(double) + 8);
        int64_t *is = malloc(n * 8 + 8), *id = malloc(n * 8 + 8);
        uint32_t *ms = malloc(n * 16 + 16), *md = malloc(n * 16 + 16);
        for (size_t i = 0; i < n; i++) {
            s[i] = dval(me, i);
            is[i] = (int64_t)(me + 1) * (int64_t)(i + 1);
            mat_of(me, i, ms + 4 * i);
        }
        bool inplace = ci % 2 == 1;
        if (inplace) {
            memcpy(d, s, n * sizeof(double));
            memcpy(id, is, n * 8);
            memcpy(md, ms, n * 16);
        }
        ck_assert_int_eq(sf_coll_allreduce(&r->comm, inplace ? NULL : s, d, n, &OP_DSUM), 0);
        ck_assert_int_eq(sf_coll_allreduce(&r->comm, inplace ? NULL : is, id, n, &OP_ISUM), 0);
        ck_assert_int_eq(sf_coll_allreduce(&r->comm, inplace ? NULL : ms, md, n, &OP_MAT), 0);
        int64_t tri = (int64_t)p * (p + 1) / 2;
        size_t bad_i = n, bad_m = n, bad_d = n;
        for (size_t i = 0; i < n; i++) {
            if (id[i] != tri * (int64_t)(i + 1)) {
                bad_i = i;
            }
            uint32_t ref[4], m[4];
            mat_of(p - 1, i, ref);
            for (int k = p - 2; k >= 0; k--) {
                mat_of(k, i, m);
                op_matmul(m, ref, 1, NULL);
            }
            if (memcmp(ref, md + 4 * i, 16) != 0) {
                bad_m = i;
            }
            /* Close to the exact sum whatever the order. */
            double exact = 0;
            for (int k = 0; k < p; k++) {
                exact += dval(k, i);
            }
            if (!(d[i] > exact * (1 - 1e-12) && d[i] < exact * (1 + 1e-12))) {
                bad_d = i;
            }
        }
        ck_assert_msg(bad_i == n, "int sum p %d i %zu", p, bad_i);
        ck_assert_msg(bad_m == n, "matrix p %d i %zu", p, bad_m);
        ck_assert_msg(bad_d == n, "double sum p %d i %zu", p, bad_d);
        o->d[ci][me] = d; /* compared across ranks and runs by the caller */
        free(s);
        free(is);
        free(id);
        free(ms);
        free(md);
    }
}

START_TEST(allreduce)
{
    int p = _i;
    struct red_out a = {0}, b = {0};
    run_ranks(p, body_allreduce, &a);
    run_ranks(p, body_allreduce, &b);
    for (size_t ci = 0; ci < NRC; ci++) {
        size_t bytes = red_counts[ci] * sizeof(double);
        for (int k = 0; k < p; k++) {
            /* Same bits on every rank and in both runs. */
            ck_assert_msg(memcmp(a.d[ci][0], a.d[ci][k], bytes) == 0, "rank %d differs", k);
            ck_assert_msg(memcmp(a.d[ci][k], b.d[ci][k], bytes) == 0, "run differs");
        }
    }
    free_out(&a);
    free_out(&b);
}
END_TEST

/* The long-message algorithms on short messages too, where chunks get
 * uneven or empty. Each test runs in its own process, so the thresholds
 * set here are the ones the algorithms load on first use. */
START_TEST(thresholds_low)
{
    setenv("SF_COLL_BCAST_LARGE", "1", 1);
    setenv("SF_COLL_ALLREDUCE_LARGE", "8", 1);
    setenv("SF_COLL_REDUCE_LARGE", "8", 1);
    struct red_out a = {0}, b = {0};
    run_ranks(_i, body_bcast, NULL);
    run_ranks(_i, body_allreduce, &a);
    run_ranks(_i, body_reduce, &b);
    free_out(&a);
    free_out(&b);
}
END_TEST

/* ---- the schedule-built collectives, blocking and non-blocking ---- */

/* One call of a collective with its buffers and the rbuf bytes it must
 * leave (gaps and untouched parts included). */
struct tcall {
    struct sf_coll_args a;
    unsigned char *sbuf, *rbuf, *exp;
    size_t rlen;
    void **rptr;
    const void **sptr;
    size_t *rc, *sc;
    const char *what;
};

static unsigned char bval(int from, int to, size_t i)
{
    return (unsigned char)(from * 31 + to * 7 + i * 13 + 1);
}
/* Vector-variant block sizes; symmetric in (a, b) for in-place alltoallv. */
static size_t vcnt(size_t n, int a, int b)
{
    return n ? n + (size_t)((a + b) % 3) : 0;
}
/* Input element e of rank r and the reference combination of ranks lo..hi. */
static void in_elem(bool mat, int r, size_t e, void *out)
{
    if (mat) {
        mat_of(r, e, out);
    } else {
        int64_t v = (int64_t)r * 100003 + (int64_t)e * 7 + 1;
        memcpy(out, &v, 8);
    }
}
static void ref_elem(bool mat, int lo, int hi, size_t e, void *out)
{
    if (mat) {
        uint32_t ref[4], m[4];
        mat_of(hi, e, ref);
        for (int k = hi - 1; k >= lo; k--) {
            mat_of(k, e, m);
            op_matmul(m, ref, 1, NULL);
        }
        memcpy(out, ref, 16);
    } else {
        int64_t s = 0, v;
        for (int k = lo; k <= hi; k++) {
            in_elem(false, k, e, &v);
            s += v;
        }
        memcpy(out, &s, 8);
    }
}

static void *zalloc(size_t n)
{
    void *p = malloc(n + 1);
    ck_assert_ptr_nonnull(p);
    memset(p, 0xee, n + 1);
    return p;
}

/* Reversed layout with one-byte gaps: block j at off[j]; returns the size. */
static size_t rev_layout(int p, const size_t *cnt, size_t *off)
{
    size_t o = 0;
    for (int j = p - 1; j >= 0; j--) {
        off[j] = o;
        o += cnt[j] + 1;
    }
    return o;
}

static void tc_setup(struct tcall *t, enum sf_coll_kind kind, int p, int r, size_t n, int root,
                     bool inplace, bool mat)
{
    memset(t, 0, sizeof *t);
    t->a.kind = kind;
    t->a.n = n;
    t->a.root = root;
    t->a.op = mat ? &OP_MAT : &OP_ISUM;
    size_t es = mat ? 16 : 8;
    size_t *off = calloc((size_t)p + 1, sizeof(size_t));
    t->rc = calloc((size_t)p, sizeof(size_t));
    t->sc = calloc((size_t)p, sizeof(size_t));
    t->rptr = calloc((size_t)p, sizeof(void *));
    t->sptr = calloc((size_t)p, sizeof(void *));
    switch (kind) {
    case SF_COLL_BARRIER:
        t->what = "barrier";
        t->rbuf = zalloc(0);
        t->exp = zalloc(0);
        break;
    case SF_COLL_BCAST:
        t->what = "bcast";
        t->rlen = n;
        t->rbuf = zalloc(n);
        t->exp = zalloc(n);
        for (size_t i = 0; i < n; i++) {
            t->exp[i] = bval(root, 3, i);
            if (r == root) {
                t->rbuf[i] = t->exp[i];
            }
        }
        break;
    case SF_COLL_REDUCE:
    case SF_COLL_ALLREDUCE:
    case SF_COLL_SCAN:
    case SF_COLL_EXSCAN:
        t->what = kind == SF_COLL_REDUCE      ? "reduce"
                  : kind == SF_COLL_ALLREDUCE ? "allreduce"
                  : kind == SF_COLL_SCAN      ? "scan"
                                              : "exscan";
        if (kind == SF_COLL_REDUCE && r != root) {
            inplace = false;
        }
        t->sbuf = zalloc(n * es);
        t->rbuf = zalloc(n * es);
        t->exp = zalloc(n * es);
        for (size_t e = 0; e < n; e++) {
            in_elem(mat, r, e, t->sbuf + e * es);
        }
        if (inplace) {
            memcpy(t->rbuf, t->sbuf, n * es);
        }
        memcpy(t->exp, t->rbuf, n * es);
        if (kind != SF_COLL_REDUCE || r == root) {
            t->rlen = n * es;
            for (size_t e = 0; e < n; e++) {
                int hi = kind == SF_COLL_SCAN ? r : kind == SF_COLL_EXSCAN ? r - 1 : p - 1;
                if (hi >= 0) {
                    ref_elem(mat, 0, hi, e, t->exp + e * es);
                }
            }
        }
        break;
    case SF_COLL_GATHER:
        t->what = "gather";
        t->sbuf = zalloc(n);
        for (size_t i = 0; i < n; i++) {
            t->sbuf[i] = bval(r, 0, i);
        }
        t->rbuf = zalloc((size_t)p * n);
        t->exp = zalloc((size_t)p * n);
        if (r == root) {
            t->rlen = (size_t)p * n;
            for (int j = 0; j < p; j++) {
                for (size_t i = 0; i < n; i++) {
                    t->exp[(size_t)j * n + i] = bval(j, 0, i);
                }
            }
            if (inplace) {
                memcpy(t->rbuf + (size_t)r * n, t->sbuf, n);
            }
        }
        inplace = inplace && r == root;
        break;
    case SF_COLL_GATHERV:
        t->what = "gatherv";
        for (int j = 0; j < p; j++) {
            t->rc[j] = vcnt(n, j, 0);
        }
        t->a.n = t->rc[r];
        t->sbuf = zalloc(t->rc[r]);
        for (size_t i = 0; i < t->rc[r]; i++) {
            t->sbuf[i] = bval(r, 0, i);
        }
        t->rlen = rev_layout(p, t->rc, off);
        t->rbuf = zalloc(t->rlen);
        t->exp = zalloc(t->rlen);
        for (int j = 0; j < p; j++) {
            t->rptr[j] = t->rbuf + off[j];
            for (size_t i = 0; i < t->rc[j]; i++) {
                t->exp[off[j] + i] = bval(j, 0, i);
            }
        }
        if (r != root) {
            t->rlen = 0;
        } else if (inplace) {
            memcpy(t->rptr[r], t->sbuf, t->rc[r]);
        }
        inplace = inplace && r == root;
        break;
    case SF_COLL_SCATTER:
        t->what = "scatter";
        t->sbuf = zalloc((size_t)p * n);
        for (int j = 0; j < p; j++) {
            for (size_t i = 0; i < n; i++) {
                t->sbuf[(size_t)j * n + i] = bval(j, 1, i);
            }
        }
        t->rbuf = zalloc(n);
        t->exp = zalloc(n);
        inplace = inplace && r == root;
        if (!inplace) {
            t->rlen = n;
            for (size_t i = 0; i < n; i++) {
                t->exp[i] = bval(r, 1, i);
            }
        }
        break;
    case SF_COLL_SCATTERV: {
        t->what = "scatterv";
        for (int j = 0; j < p; j++) {
            t->sc[j] = vcnt(n, j, 1);
        }
        size_t len = rev_layout(p, t->sc, off);
        t->sbuf = zalloc(len);
        for (int j = 0; j < p; j++) {
            t->sptr[j] = t->sbuf + off[j];
            for (size_t i = 0; i < t->sc[j]; i++) {
                t->sbuf[off[j] + i] = bval(j, 1, i);
            }
        }
        t->a.n = t->sc[r];
        t->rbuf = zalloc(t->sc[r]);
        t->exp = zalloc(t->sc[r]);
        inplace = inplace && r == root;
        if (!inplace) {
            t->rlen = t->sc[r];
            for (size_t i = 0; i < t->rlen; i++) {
                t->exp[i] = bval(r, 1, i);
            }
        }
        break;
    }
    case SF_COLL_ALLGATHER:
        t->what = "allgather";
        t->sbuf = zalloc(n);
        for (size_t i = 0; i < n; i++) {
            t->sbuf[i] = bval(r, 2, i);
        }
        t->rlen = (size_t)p * n;
        t->rbuf = zalloc(t->rlen);
        t->exp = zalloc(t->rlen);
        for (int j = 0; j < p; j++) {
            for (size_t i = 0; i < n; i++) {
                t->exp[(size_t)j * n + i] = bval(j, 2, i);
            }
        }
        if (inplace) {
            memcpy(t->rbuf + (size_t)r * n, t->sbuf, n);
        }
        break;
    case SF_COLL_ALLGATHERV:
        t->what = "allgatherv";
        for (int j = 0; j < p; j++) {
            t->rc[j] = vcnt(n, j, 2);
        }
        t->sbuf = zalloc(t->rc[r]);
        for (size_t i = 0; i < t->rc[r]; i++) {
            t->sbuf[i] = bval(r, 2, i);
        }
        t->rlen = rev_layout(p, t->rc, off);
        t->rbuf = zalloc(t->rlen);
        t->exp = zalloc(t->rlen);
        for (int j = 0; j < p; j++) {
            t->rptr[j] = t->rbuf + off[j];
            for (size_t i = 0; i < t->rc[j]; i++) {
                t->exp[off[j] + i] = bval(j, 2, i);
            }
        }
        if (inplace) {
            memcpy(t->rptr[r], t->sbuf, t->rc[r]);
        }
        break;
    case SF_COLL_ALLTOALL:
        t->what = "alltoall";
        t->rlen = (size_t)p * n;
        t->sbuf = zalloc(t->rlen);
        t->rbuf = zalloc(t->rlen);
        t->exp = zalloc(t->rlen);
        for (int j = 0; j < p; j++) {
            for (size_t i = 0; i < n; i++) {
                t->sbuf[(size_t)j * n + i] = bval(r, j, i);
                t->exp[(size_t)j * n + i] = bval(j, r, i);
            }
        }
        if (inplace) {
            memcpy(t->rbuf, t->sbuf, t->rlen);
        }
        break;
    case SF_COLL_ALLTOALLV: {
        t->what = "alltoallv";
        for (int j = 0; j < p; j++) {
            t->sc[j] = vcnt(n, r, j);
            t->rc[j] = vcnt(n, j, r);
        }
        size_t sl = 0;
        for (int j = 0; j < p; j++) {
            sl += t->sc[j];
        }
        t->sbuf = zalloc(sl);
        t->rlen = rev_layout(p, t->rc, off);
        t->rbuf = zalloc(t->rlen);
        t->exp = zalloc(t->rlen);
        unsigned char *q = t->sbuf;
        for (int j = 0; j < p; j++) {
            t->sptr[j] = q;
            t->rptr[j] = t->rbuf + off[j];
            for (size_t i = 0; i < t->sc[j]; i++) {
                q[i] = bval(r, j, i);
                if (inplace) {
                    t->rbuf[off[j] + i] = q[i];
                }
            }
            for (size_t i = 0; i < t->rc[j]; i++) {
                t->exp[off[j] + i] = bval(j, r, i);
            }
            q += t->sc[j];
        }
        break;
    }
    case SF_COLL_REDUCE_SCATTER:
    case SF_COLL_REDUCE_SCATTER_BLOCK: {
        bool blk = kind == SF_COLL_REDUCE_SCATTER_BLOCK;
        t->what = blk ? "reduce_scatter_block" : "reduce_scatter";
        size_t tot = 0;
        for (int j = 0; j < p; j++) {
            off[j] = tot;
            t->rc[j] = blk ? n : vcnt(n, j, 4);
            tot += t->rc[j];
        }
        t->sbuf = zalloc(tot * es);
        for (size_t e = 0; e < tot; e++) {
            in_elem(mat, r, e, t->sbuf + e * es);
        }
        t->rbuf = zalloc(tot * es);
        t->exp = zalloc(tot * es);
        if (inplace) {
            memcpy(t->rbuf, t->sbuf, tot * es);
        }
        t->rlen = t->rc[r] * es;
        for (size_t e = 0; e < t->rc[r]; e++) {
            ref_elem(mat, 0, p - 1, off[r] + e, t->exp + e * es);
        }
        break;
    }
    case SF_COLL_NEIGHBOR: /* tested by body_nbr */
        break;
    }
    t->a.sbuf = inplace && kind != SF_COLL_SCATTER ? NULL : t->sbuf;
    t->a.rbuf = t->rbuf;
    if ((kind == SF_COLL_SCATTER || kind == SF_COLL_SCATTERV) && inplace) {
        t->a.rbuf = NULL;
    }
    t->a.rptr = t->rptr;
    t->a.rcounts = t->rc;
    t->a.sptr = inplace && kind == SF_COLL_ALLTOALLV ? NULL : t->sptr;
    t->a.scounts = t->sc;
    free(off);
}

static void tc_check(struct tcall *t, int p, int r, size_t n, int root, bool inplace, bool nb)
{
    size_t bad = t->rlen;
    for (size_t i = 0; i < t->rlen && bad == t->rlen; i++) {
        if (t->rbuf[i] != t->exp[i]) {
            bad = i;
        }
    }
    ck_assert_msg(bad == t->rlen, "%s%s p %d rank %d n %zu root %d inplace %d: byte %zu of %zu",
                  nb ? "i" : "", t->what, p, r, n, root, inplace, bad, t->rlen);
    free(t->sbuf);
    free(t->rbuf);
    free(t->exp);
    free(t->rptr);
    free(t->sptr);
    free(t->rc);
    free(t->sc);
}

static const enum sf_coll_kind sched_kinds[] = {
    SF_COLL_GATHER,         SF_COLL_GATHERV,
    SF_COLL_SCATTER,        SF_COLL_SCATTERV,
    SF_COLL_ALLGATHER,      SF_COLL_ALLGATHERV,
    SF_COLL_ALLTOALL,       SF_COLL_ALLTOALLV,
    SF_COLL_REDUCE_SCATTER, SF_COLL_REDUCE_SCATTER_BLOCK,
    SF_COLL_SCAN,           SF_COLL_EXSCAN,
    SF_COLL_BARRIER,        SF_COLL_BCAST,
    SF_COLL_REDUCE,         SF_COLL_ALLREDUCE,
};
#define NSK (sizeof sched_kinds / sizeof sched_kinds[0])
static const size_t sched_sizes[] = {0, 1, 7, 300, 9000};

static bool is_red(enum sf_coll_kind k)
{
    return k == SF_COLL_REDUCE || k == SF_COLL_ALLREDUCE || k == SF_COLL_REDUCE_SCATTER ||
           k == SF_COLL_REDUCE_SCATTER_BLOCK || k == SF_COLL_SCAN || k == SF_COLL_EXSCAN;
}
static bool has_root(enum sf_coll_kind k)
{
    return k == SF_COLL_BCAST || k == SF_COLL_REDUCE || k == SF_COLL_GATHER ||
           k == SF_COLL_GATHERV || k == SF_COLL_SCATTER || k == SF_COLL_SCATTERV;
}

/* Blocking: every kind, size, root, in place or not, both ops. */
static void body_sched(struct rankctx *rc)
{
    int p = rc->comm.size, r = rc->comm.rank;
    for (size_t k = 0; k < NSK; k++) {
        enum sf_coll_kind kind = sched_kinds[k];
        for (size_t si = 0; si < sizeof sched_sizes / sizeof sched_sizes[0]; si++) {
            size_t n = sched_sizes[si];
            if (is_red(kind)) {
                n = n > 300 ? 700 : n; /* elements of 8 or 16 bytes */
            }
            int nroots = has_root(kind) ? p : 1;
            for (int root = 0; root < nroots; root++) {
                for (int ip = 0; ip < 2; ip++) {
                    for (int mat = 0; mat < (is_red(kind) ? 2 : 1); mat++) {
                        struct tcall t;
                        tc_setup(&t, kind, p, r, n, root, ip, mat);
                        ck_assert_int_eq(sf_coll_run(&rc->comm, &t.a), 0);
                        tc_check(&t, p, r, n, root, ip, false);
                    }
                }
            }
        }
    }
}

START_TEST(sched_blocking)
{
    run_ranks(_i, body_sched, NULL);
}
END_TEST

/* Non-blocking: all kinds of one size started at once (plus a blocking
 * allreduce in between, which must not match them), completed in reverse
 * order by polling. */
static void body_nb(struct rankctx *rc)
{
    int p = rc->comm.size, r = rc->comm.rank;
    for (size_t si = 0; si < sizeof sched_sizes / sizeof sched_sizes[0]; si++) {
        for (int ip = 0; ip < 2; ip++) {
            struct tcall t[2 * NSK];
            struct sf_coll_sched *h[2 * NSK];
            size_t nt = 0;
            for (size_t k = 0; k < NSK; k++) {
                enum sf_coll_kind kind = sched_kinds[k];
                size_t n = sched_sizes[si];
                if (is_red(kind)) {
                    n = n > 300 ? 700 : n;
                }
                int root = (int)(k + si) % p;
                for (int mat = 0; mat < (is_red(kind) ? 2 : 1); mat++) {
                    tc_setup(&t[nt], kind, p, r, n, root, ip, mat);
                    ck_assert_int_eq(sf_coll_start(&rc->comm, &t[nt].a, &h[nt]), 0);
                    nt++;
                }
                if (k == NSK / 2) {
                    int64_t v = r + 1;
                    ck_assert_int_eq(sf_coll_allreduce(&rc->comm, NULL, &v, 1, &OP_ISUM), 0);
                    ck_assert_int_eq(v, (int64_t)p * (p + 1) / 2);
                }
            }
            for (size_t j = nt; j-- > 0;) {
                bool done = false;
                while (!done) {
                    ck_assert_int_eq(sf_coll_sched_test(h[j], &done), 0);
                    if (!done) {
                        sched_yield();
                    }
                }
                sf_coll_sched_free(h[j]);
            }
            for (size_t j = 0; j < nt; j++) {
                tc_check(&t[j], p, r, sched_sizes[si], t[j].a.root, ip, true);
            }
        }
    }
}

START_TEST(sched_nonblocking)
{
    run_ranks(_i, body_nb, NULL);
}
END_TEST

/* The other side of each size switch. */
START_TEST(sched_thresholds_low)
{
    setenv("SF_COLL_GATHER_LARGE", "1", 1);
    setenv("SF_COLL_ALLGATHER_LARGE", "1", 1);
    setenv("SF_COLL_ALLTOALL_LARGE", "1", 1);
    setenv("SF_COLL_ALLTOALL_SMALL", "0", 1);
    setenv("SF_COLL_ALLREDUCE_LARGE", "8", 1);
    run_ranks(_i, body_sched, NULL);
    run_ranks(_i, body_nb, NULL);
}
END_TEST

/* Bruck's alltoall at every size > 2 (by default only from 32 ranks). */
START_TEST(sched_alltoall_bruck)
{
    setenv("SF_COLL_ALLTOALL_BRUCK_RANKS", "3", 1);
    run_ranks(_i, body_sched, NULL);
    run_ranks(_i, body_nb, NULL);
}
END_TEST

/* ---- neighbourhood exchange ---- */

/* Each member sends blocks 0 and 1 to r + 1, block 2 to r - 1 and one to
 * nobody; receives come from r - 1 (twice), r + 1 and nobody. Duplicate
 * peers match in array order, so receive slot k holds the sender's block
 * k, whatever p (with p <= 2 all peers coincide). */
static void body_nbr(struct rankctx *rc)
{
    int p = rc->comm.size, r = rc->comm.rank;
    int up = (r + 1) % p, down = (r - 1 + p) % p;
    int speers[4] = {up, up, down, -2}, rpeers[4] = {down, down, up, -2};
    for (int nb = 0; nb < 2; nb++) {
        unsigned char sb[4][40], rb[4][40];
        const void *sp[4];
        void *rp[4];
        size_t sc[4], rcn[4];
        for (int i = 0; i < 4; i++) {
            sc[i] = (size_t)(10 * (i + 1));
            rcn[i] = sc[i];
            memset(sb[i], r * 4 + i, sizeof sb[i]);
            memset(rb[i], 0xee, sizeof rb[i]);
            sp[i] = sb[i];
            rp[i] = rb[i];
        }
        struct sf_coll_args a = {.kind = SF_COLL_NEIGHBOR,
                                 .sptr = sp,
                                 .scounts = sc,
                                 .rptr = rp,
                                 .rcounts = rcn,
                                 .speers = speers,
                                 .rpeers = rpeers,
                                 .nsend = 4,
                                 .nrecv = 4};
        if (nb) {
            struct sf_coll_sched *h;
            bool done = false;
            ck_assert_int_eq(sf_coll_start(&rc->comm, &a, &h), 0);
            while (!done) {
                ck_assert_int_eq(sf_coll_sched_test(h, &done), 0);
                sched_yield();
            }
            sf_coll_sched_free(h);
        } else {
            ck_assert_int_eq(sf_coll_run(&rc->comm, &a), 0);
        }
        for (int k = 0; k < 3; k++) {
            for (size_t e = 0; e < rcn[k]; e++) {
                ck_assert_int_eq(rb[k][e], (rpeers[k] * 4 + k) & 0xff);
            }
            ck_assert_int_eq(rb[k][rcn[k]], 0xee);
        }
        ck_assert_int_eq(rb[3][0], 0xee); /* nobody */
    }
}

START_TEST(neighbor)
{
    run_ranks(_i, body_nbr, NULL);
}
END_TEST

/* ---- inter-communicator collectives ---- */

/* Comm ranks 0..a-1 form group A, the rest group B (a = max(1, p / 3)). */
struct igroup {
    struct sf_coll_comm lc;
    struct sf_coll_inter x;
    int g, lsz, rsz, lr, a;
    int *lw, *rw;
};

static void ig_setup(struct rankctx *rc, struct igroup *ig)
{
    int p = rc->comm.size, r = rc->comm.rank;
    ig->a = p / 3 > 1 ? p / 3 : 1;
    ig->g = r >= ig->a;
    ig->lsz = ig->g ? p - ig->a : ig->a;
    ig->rsz = p - ig->lsz;
    ig->lr = ig->g ? r - ig->a : r;
    ig->lw = malloc(sizeof(int) * (size_t)ig->lsz);
    ig->rw = malloc(sizeof(int) * (size_t)ig->rsz);
    int lo = ig->g ? ig->a : 0, ro = ig->g ? 0 : ig->a;
    for (int i = 0; i < ig->lsz; i++) {
        ig->lw[i] = rc->comm.world[lo + i];
    }
    for (int i = 0; i < ig->rsz; i++) {
        ig->rw[i] = rc->comm.world[ro + i];
    }
    ig->lc = (struct sf_coll_comm){&rc->rt, 77, ig->lr, ig->lsz, ig->lw};
    ig->x = (struct sf_coll_inter){78, -5, ig->rsz, ig->rw};
}

static void ig_run(struct igroup *ig, const struct sf_coll_args *a, bool nb)
{
    if (!nb) {
        ck_assert_int_eq(sf_coll_inter_run(&ig->lc, &ig->x, a), 0);
        return;
    }
    struct sf_coll_sched *h;
    bool done = false;
    ck_assert_int_eq(sf_coll_inter_start(&ig->lc, &ig->x, a, &h), 0);
    while (!done) {
        ck_assert_int_eq(sf_coll_sched_test(h, &done), 0);
        sched_yield();
    }
    sf_coll_sched_free(h);
}

/* Product of group g's matrices (element k) in rank order. */
static void ig_matprod(const struct igroup *ig, int g, size_t k, uint32_t out[4])
{
    int n = g == ig->g ? ig->lsz : ig->rsz, base = g ? ig->a : 0;
    mat_of(base + n - 1, k, out);
    for (int i = n - 2; i >= 0; i--) {
        uint32_t m[4];
        mat_of(base + i, k, m);
        op_matmul(m, out, 1, NULL);
    }
}

static unsigned char ibyte(int g, int r, size_t i)
{
    return (unsigned char)(g * 101 + r * 7 + i);
}

static void body_inter(struct rankctx *rc)
{
    if (rc->comm.size < 2) {
        return;
    }
    struct igroup ig;
    ig_setup(rc, &ig);
    int g = ig.g, rg = 1 - g, lr = ig.lr, rsz = ig.rsz, lsz = ig.lsz;
    int me = rc->comm.rank;
    for (int nb = 0; nb < 2; nb++) {
        struct sf_coll_args a = {.kind = SF_COLL_BARRIER};
        ig_run(&ig, &a, nb);
        /* bcast from A's last member */
        unsigned char buf[1000];
        int root = g == 0 ? (lr == ig.a - 1 ? SF_COLL_ROOT : SF_COLL_NOROOT) : ig.a - 1;
        for (size_t i = 0; i < sizeof buf; i++) {
            buf[i] = root == SF_COLL_ROOT ? ibyte(0, lr, i) : 0;
        }
        a = (struct sf_coll_args){
            .kind = SF_COLL_BCAST, .rbuf = buf, .n = sizeof buf, .root = root};
        ig_run(&ig, &a, nb);
        for (size_t i = 0; i < sizeof buf; i++) {
            ck_assert_int_eq(buf[i], root == SF_COLL_NOROOT ? 0 : ibyte(0, ig.a - 1, i));
        }
        /* reduce (non-commutative) of A's matrices to B's member 0 */
        uint32_t sm[3][4], rm[3][4], want[4];
        for (size_t k = 0; k < 3; k++) {
            mat_of(me, k, sm[k]);
        }
        root = g == 1 ? (lr == 0 ? SF_COLL_ROOT : SF_COLL_NOROOT) : 0;
        memset(rm, 0, sizeof rm);
        a = (struct sf_coll_args){
            .kind = SF_COLL_REDUCE, .sbuf = sm, .rbuf = rm, .n = 3, .op = &OP_MAT, .root = root};
        ig_run(&ig, &a, nb);
        for (size_t k = 0; k < 3 && root == SF_COLL_ROOT; k++) {
            ig_matprod(&ig, 0, k, want);
            ck_assert_mem_eq(rm[k], want, sizeof want);
        }
        /* allreduce: each group gets the other's product */
        memset(rm, 0, sizeof rm);
        a = (struct sf_coll_args){
            .kind = SF_COLL_ALLREDUCE, .sbuf = sm, .rbuf = rm, .n = 3, .op = &OP_MAT};
        ig_run(&ig, &a, nb);
        for (size_t k = 0; k < 3; k++) {
            ig_matprod(&ig, rg, k, want);
            ck_assert_mem_eq(rm[k], want, sizeof want);
        }
        /* gatherv to A's member 0 (i + 1 bytes from B's member i), then
         * scatterv back the same shape */
        unsigned char own[16], blocks[16][16], got[16];
        void *rp[16];
        const void *sp[16];
        size_t cnt[16];
        for (int i = 0; i < rsz; i++) {
            cnt[i] = (size_t)i + 1;
            rp[i] = blocks[i];
            sp[i] = blocks[i];
            memset(blocks[i], 0, sizeof blocks[i]);
        }
        for (size_t i = 0; i < 16; i++) {
            own[i] = ibyte(g, lr, i);
        }
        root = g == 0 ? (lr == 0 ? SF_COLL_ROOT : SF_COLL_NOROOT) : 0;
        a = (struct sf_coll_args){.kind = SF_COLL_GATHERV,
                                  .sbuf = own,
                                  .n = (size_t)lr + 1,
                                  .rptr = rp,
                                  .rcounts = cnt,
                                  .root = root};
        ig_run(&ig, &a, nb);
        for (int i = 0; root == SF_COLL_ROOT && i < rsz; i++) {
            for (size_t e = 0; e <= (size_t)i; e++) {
                ck_assert_int_eq(blocks[i][e], ibyte(1, i, e));
            }
            ck_assert_int_eq(blocks[i][i + 1], 0);
        }
        memset(got, 0, sizeof got);
        a = (struct sf_coll_args){.kind = SF_COLL_SCATTERV,
                                  .sptr = sp,
                                  .scounts = cnt,
                                  .rbuf = got,
                                  .n = (size_t)lr + 1,
                                  .root = root};
        ig_run(&ig, &a, nb);
        for (size_t e = 0; g == 1 && e <= (size_t)lr; e++) {
            ck_assert_int_eq(got[e], ibyte(1, lr, e));
        }
        /* allgatherv: i + 1 bytes from every member */
        for (int i = 0; i < rsz; i++) {
            memset(blocks[i], 0, sizeof blocks[i]);
        }
        a = (struct sf_coll_args){.kind = SF_COLL_ALLGATHERV,
                                  .sbuf = own,
                                  .n = (size_t)lr + 1,
                                  .rptr = rp,
                                  .rcounts = cnt};
        ig_run(&ig, &a, nb);
        for (int i = 0; i < rsz; i++) {
            for (size_t e = 0; e <= (size_t)i; e++) {
                ck_assert_int_eq(blocks[i][e], ibyte(rg, i, e));
            }
            ck_assert_int_eq(blocks[i][i + 1], 0);
        }
        /* alltoallv: member i sends 1 + (i + j) % 4 bytes to member j */
        unsigned char out[16][4];
        size_t sc[16];
        for (int j = 0; j < rsz; j++) {
            sc[j] = 1 + (size_t)(lr + j) % 4;
            for (size_t e = 0; e < 4; e++) {
                out[j][e] = ibyte(g, lr, 16 * (size_t)j + e);
            }
            sp[j] = out[j];
            memset(blocks[j], 0, sizeof blocks[j]);
        }
        a = (struct sf_coll_args){
            .kind = SF_COLL_ALLTOALLV, .sptr = sp, .scounts = sc, .rptr = rp, .rcounts = sc};
        ig_run(&ig, &a, nb);
        for (int i = 0; i < rsz; i++) {
            for (size_t e = 0; e < sc[i]; e++) {
                ck_assert_int_eq(blocks[i][e], ibyte(rg, i, 16 * (size_t)lr + e));
            }
            ck_assert_int_eq(blocks[i][sc[i]], 0);
        }
        /* reduce_scatter: 12 elements split over the local group */
        int64_t sv[12], rv[12];
        size_t rcs[16], off = 0;
        for (int i = 0; i < lsz; i++) {
            rcs[i] = 12 / (size_t)lsz + ((size_t)i < 12 % (size_t)lsz);
        }
        for (int i = 0; i < lr; i++) {
            off += rcs[i];
        }
        for (int e = 0; e < 12; e++) {
            sv[e] = (int64_t)me * 1000 + e;
            rv[e] = -1;
        }
        a = (struct sf_coll_args){
            .kind = SF_COLL_REDUCE_SCATTER, .sbuf = sv, .rbuf = rv, .rcounts = rcs, .op = &OP_ISUM};
        ig_run(&ig, &a, nb);
        for (size_t e = 0; e < rcs[lr]; e++) {
            int64_t w = 0;
            for (int i = 0; i < rsz; i++) {
                w += (int64_t)((rg ? ig.a : 0) + i) * 1000 + (int64_t)(off + e);
            }
            ck_assert_int_eq(rv[e], w);
        }
    }
    /* bad root and kinds without an inter-communicator meaning */
    struct sf_coll_args bad = {.kind = SF_COLL_BCAST, .rbuf = NULL, .n = 1, .root = rsz};
    ck_assert_int_eq(sf_coll_inter_run(&ig.lc, &ig.x, &bad), -EINVAL);
    bad = (struct sf_coll_args){.kind = SF_COLL_SCAN, .n = 1, .op = &OP_ISUM};
    ck_assert_int_eq(sf_coll_inter_run(&ig.lc, &ig.x, &bad), -EINVAL);
    free(ig.lw);
    free(ig.rw);
}

START_TEST(inter)
{
    run_ranks(_i, body_inter, NULL);
}
END_TEST

static Suite *coll_suite(void)
{
    Suite *s = suite_create("coll");
    TCase *tc = tcase_create("algorithms");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, barrier);
    tcase_add_loop_test(tc, bcast, 1, 10);
    tcase_add_test(tc, bad_root);
    tcase_add_loop_test(tc, reduce, 1, 10);
    tcase_add_loop_test(tc, allreduce, 1, 10);
    tcase_add_loop_test(tc, thresholds_low, 2, 10);
    tcase_add_loop_test(tc, sched_blocking, 1, 10);
    tcase_add_loop_test(tc, sched_nonblocking, 1, 10);
    tcase_add_loop_test(tc, sched_thresholds_low, 1, 10);
    tcase_add_loop_test(tc, sched_alltoall_bruck, 3, 10);
    tcase_add_loop_test(tc, neighbor, 1, 6);
    tcase_add_loop_test(tc, inter, 2, 11);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(coll_suite());
    srunner_set_fork_status(sr, CK_FORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
