/* Every blocking and non-blocking collective (but barrier-free checks of
 * the neighbourhood ones) against a serial reference computed locally:
 * datatypes int, double, a vector of ints (with holes) and a contiguous
 * type of doubles; ops SUM, MAX and a non-commutative user op; in place
 * where the standard allows it; every root; small and large counts. The
 * non-blocking versions run many at once and complete out of order
 * (Testany, then Waitall on the rest in reverse). Any size. Also builds
 * with Open MPI (run with COLL_ALL_OMPI=1 there). */
#include "mt.h"

#include <stdbool.h>
#include <stdint.h>

struct tdesc {
    MPI_Datatype dt;
    int dbl;    /* elements are doubles (else ints) */
    int k;      /* elements per instance */
    int stride; /* bytes between elements of an instance */
    MPI_Aint ext;
    const char *name;
};

static struct tdesc T[4];
#define NT 4

static void setv(const struct tdesc *d, char *buf, long inst, int e, double v)
{
    char *p = buf + inst * d->ext + (long)e * d->stride;
    if (d->dbl) {
        memcpy(p, &v, sizeof v);
    } else {
        int iv = (int)v;
        memcpy(p, &iv, sizeof iv);
    }
}

/* Element value of rank r, block b, instance i, element e: small ints, so
 * sums are exact in both types. */
static double val(int r, int b, long i, int e)
{
    return (double)((r * 7 + b * 3 + i * 5 + e) % 50 + 1);
}

/* Buffers: holes hold 0xA5, which the collectives must leave alone. */
static char *image(const struct tdesc *d, long n)
{
    size_t len = (size_t)(n > 0 ? n : 1) * (size_t)d->ext;
    char *b = malloc(len);
    CHECK(b != NULL, "out of memory");
    memset(b, 0xA5, len);
    return b;
}

/* Non-commutative, associative: a o b = a (the lowest rank's value wins).
 * Writes only the elements, so the holes of recvbuf must survive. */
static void first_fn(void *in, void *inout, int *len, MPI_Datatype *dt)
{
    const struct tdesc *d = NULL;
    for (int t = 0; t < NT; t++) {
        if (T[t].dt == *dt) {
            d = &T[t];
        }
    }
    CHECK(d != NULL, "user op called with an unknown datatype");
    size_t es = d->dbl ? sizeof(double) : sizeof(int);
    for (long i = 0; i < *len; i++) {
        for (int e = 0; e < d->k; e++) {
            size_t o = (size_t)(i * d->ext + (long)e * d->stride);
            memcpy((char *)inout + o, (char *)in + o, es);
        }
    }
}
static MPI_Op OP_FIRST;

static double combine(MPI_Op op, double a, double b)
{
    if (op == MPI_SUM) {
        return a + b;
    }
    if (op == MPI_MAX) {
        return a > b ? a : b;
    }
    return a; /* OP_FIRST */
}

/* Reference reduction over ranks lo..hi of element (b, i, e). */
static double ref(MPI_Op op, int lo, int hi, int b, long i, int e)
{
    double acc = val(lo, b, i, e);
    for (int r = lo + 1; r <= hi; r++) {
        acc = combine(op, acc, val(r, b, i, e));
    }
    return acc;
}

/* One collective call in flight. */
struct pend {
    MPI_Request req;
    char *sbuf, *rbuf, *exp;
    size_t cmp; /* bytes of rbuf to compare with exp */
    int *sc, *sd, *rc, *rd;
    MPI_Datatype *st, *rt;
    int *ad, *bd; /* alltoallw byte displacements */
    char what[96];
};

static struct pend *pnew(const char *fmt, const char *coll, const struct tdesc *d, int ip, int root)
{
    struct pend *p = calloc(1, sizeof *p);
    int n = mt_size;
    p->sc = calloc((size_t)n, sizeof(int));
    p->sd = calloc((size_t)n, sizeof(int));
    p->rc = calloc((size_t)n, sizeof(int));
    p->rd = calloc((size_t)n, sizeof(int));
    p->ad = calloc((size_t)n, sizeof(int));
    p->bd = calloc((size_t)n, sizeof(int));
    p->st = calloc((size_t)n, sizeof(MPI_Datatype));
    p->rt = calloc((size_t)n, sizeof(MPI_Datatype));
    p->req = MPI_REQUEST_NULL;
    snprintf(p->what, sizeof p->what, fmt, coll, d->name, ip, root);
    return p;
}

static void pdone(struct pend *p)
{
    if (p->cmp > 0 && memcmp(p->rbuf, p->exp, p->cmp) != 0) {
        size_t i = 0;
        while (p->rbuf[i] == p->exp[i]) {
            i++;
        }
        CHECK(0, "%s: byte %zu of %zu differs (got 0x%02x, want 0x%02x)", p->what, i, p->cmp,
              (unsigned char)p->rbuf[i], (unsigned char)p->exp[i]);
    }
    free(p->sbuf);
    free(p->rbuf);
    free(p->exp);
    free(p->sc);
    free(p->sd);
    free(p->rc);
    free(p->rd);
    free(p->ad);
    free(p->bd);
    free(p->st);
    free(p->rt);
    free(p);
}

/* Vector block sizes and a reversed layout with one-instance holes. */
static int vcount(int c, int j)
{
    return c + j % 3;
}
static long vlayout(int *cnt, int *displs)
{
    long o = 0;
    for (int j = mt_size - 1; j >= 0; j--) {
        displs[j] = (int)o;
        o += cnt[j] + 1;
    }
    return o;
}

enum {
    C_BCAST,
    C_GATHER,
    C_GATHERV,
    C_SCATTER,
    C_SCATTERV,
    C_ALLGATHER,
    C_ALLGATHERV,
    C_ALLTOALL,
    C_ALLTOALLV,
    C_ALLTOALLW,
    C_REDUCE,
    C_ALLREDUCE,
    C_RSCAT,
    C_RSCATB,
    C_SCAN,
    C_EXSCAN,
    C_BARRIER,
    C_LAST
};
static const char *cname[] = {"bcast",          "gather",
                              "gatherv",        "scatter",
                              "scatterv",       "allgather",
                              "allgatherv",     "alltoall",
                              "alltoallv",      "alltoallw",
                              "reduce",         "allreduce",
                              "reduce_scatter", "reduce_scatter_block",
                              "scan",           "exscan",
                              "barrier"};

static bool rooted(int c)
{
    return c == C_BCAST || c == C_GATHER || c == C_GATHERV || c == C_SCATTER || c == C_SCATTERV ||
           c == C_REDUCE;
}
static bool reduction(int c)
{
    return c == C_REDUCE || c == C_ALLREDUCE || c == C_RSCAT || c == C_RSCATB || c == C_SCAN ||
           c == C_EXSCAN;
}

/* Sets up and starts collective c (non-blocking when nb); returns what to
 * complete and check. cnt: instances per block. */
static struct pend *start(int c, const struct tdesc *d, MPI_Op op, int ip, int root, int cnt,
                          int nb)
{
    int me = mt_rank, n = mt_size;
    MPI_Datatype dt = d->dt;
    struct pend *p = pnew("%s type %s in-place %d root %d", cname[c], d, ip, root);
    if (reduction(c)) {
        size_t l = strlen(p->what);
        snprintf(p->what + l, sizeof p->what - l, " op %s cnt %d",
                 op == MPI_SUM   ? "sum"
                 : op == MPI_MAX ? "max"
                                 : "first",
                 cnt);
    }
    MPI_Request *rq = nb ? &p->req : NULL;
    bool at_root = me == root;
    int err = MPI_SUCCESS;
    switch (c) {
    case C_BARRIER:
        err = nb ? MPI_Ibarrier(MPI_COMM_WORLD, rq) : MPI_Barrier(MPI_COMM_WORLD);
        break;
    case C_BCAST:
        p->rbuf = image(d, cnt);
        p->exp = image(d, cnt);
        for (long i = 0; i < cnt; i++) {
            for (int e = 0; e < d->k; e++) {
                setv(d, p->exp, i, e, val(root, 0, i, e));
                if (at_root) {
                    setv(d, p->rbuf, i, e, val(root, 0, i, e));
                }
            }
        }
        p->cmp = (size_t)cnt * d->ext;
        err = nb ? MPI_Ibcast(p->rbuf, cnt, dt, root, MPI_COMM_WORLD, rq)
                 : MPI_Bcast(p->rbuf, cnt, dt, root, MPI_COMM_WORLD);
        break;
    case C_GATHER:
    case C_ALLGATHER: {
        bool all = c == C_ALLGATHER;
        ip = ip && (all || at_root);
        p->sbuf = image(d, cnt);
        p->rbuf = image(d, (long)n * cnt);
        p->exp = image(d, (long)n * cnt);
        for (long i = 0; i < cnt; i++) {
            for (int e = 0; e < d->k; e++) {
                setv(d, p->sbuf, i, e, val(me, 1, i, e));
                if (ip) {
                    setv(d, p->rbuf, (long)me * cnt + i, e, val(me, 1, i, e));
                }
                for (int j = 0; j < n; j++) {
                    setv(d, p->exp, (long)j * cnt + i, e, val(j, 1, i, e));
                }
            }
        }
        p->cmp = all || at_root ? (size_t)n * (size_t)cnt * d->ext : 0;
        const void *sb = ip ? MPI_IN_PLACE : p->sbuf;
        if (all) {
            err = nb ? MPI_Iallgather(sb, cnt, dt, p->rbuf, cnt, dt, MPI_COMM_WORLD, rq)
                     : MPI_Allgather(sb, cnt, dt, p->rbuf, cnt, dt, MPI_COMM_WORLD);
        } else {
            err = nb ? MPI_Igather(sb, cnt, dt, p->rbuf, cnt, dt, root, MPI_COMM_WORLD, rq)
                     : MPI_Gather(sb, cnt, dt, p->rbuf, cnt, dt, root, MPI_COMM_WORLD);
        }
        break;
    }
    case C_GATHERV:
    case C_ALLGATHERV: {
        bool all = c == C_ALLGATHERV;
        ip = ip && (all || at_root);
        for (int j = 0; j < n; j++) {
            p->rc[j] = vcount(cnt, j);
        }
        long tot = vlayout(p->rc, p->rd);
        int mine = p->rc[me];
        p->sbuf = image(d, mine);
        p->rbuf = image(d, tot);
        p->exp = image(d, tot);
        for (int j = 0; j < n; j++) {
            for (long i = 0; i < p->rc[j]; i++) {
                for (int e = 0; e < d->k; e++) {
                    setv(d, p->exp, p->rd[j] + i, e, val(j, 2, i, e));
                    if (j == me) {
                        setv(d, p->sbuf, i, e, val(j, 2, i, e));
                        if (ip) {
                            setv(d, p->rbuf, p->rd[j] + i, e, val(j, 2, i, e));
                        }
                    }
                }
            }
        }
        p->cmp = all || at_root ? (size_t)tot * d->ext : 0;
        const void *sb = ip ? MPI_IN_PLACE : p->sbuf;
        if (all) {
            err = nb ? MPI_Iallgatherv(sb, mine, dt, p->rbuf, p->rc, p->rd, dt, MPI_COMM_WORLD, rq)
                     : MPI_Allgatherv(sb, mine, dt, p->rbuf, p->rc, p->rd, dt, MPI_COMM_WORLD);
        } else {
            err =
                nb ? MPI_Igatherv(sb, mine, dt, p->rbuf, p->rc, p->rd, dt, root, MPI_COMM_WORLD, rq)
                   : MPI_Gatherv(sb, mine, dt, p->rbuf, p->rc, p->rd, dt, root, MPI_COMM_WORLD);
        }
        break;
    }
    case C_SCATTER:
        ip = ip && at_root;
        p->sbuf = image(d, (long)n * cnt);
        p->rbuf = image(d, cnt);
        p->exp = image(d, cnt);
        for (long i = 0; i < cnt; i++) {
            for (int e = 0; e < d->k; e++) {
                for (int j = 0; j < n; j++) {
                    setv(d, p->sbuf, (long)j * cnt + i, e, val(j, 3, i, e));
                }
                setv(d, p->exp, i, e, val(me, 3, i, e));
            }
        }
        p->cmp = ip ? 0 : (size_t)cnt * d->ext;
        err = nb ? MPI_Iscatter(p->sbuf, cnt, dt, ip ? MPI_IN_PLACE : p->rbuf, cnt, dt, root,
                                MPI_COMM_WORLD, rq)
                 : MPI_Scatter(p->sbuf, cnt, dt, ip ? MPI_IN_PLACE : p->rbuf, cnt, dt, root,
                               MPI_COMM_WORLD);
        break;
    case C_SCATTERV: {
        ip = ip && at_root;
        for (int j = 0; j < n; j++) {
            p->sc[j] = vcount(cnt, j);
        }
        long tot = vlayout(p->sc, p->sd);
        int mine = p->sc[me];
        p->sbuf = image(d, tot);
        p->rbuf = image(d, mine);
        p->exp = image(d, mine);
        for (int j = 0; j < n; j++) {
            for (long i = 0; i < p->sc[j]; i++) {
                for (int e = 0; e < d->k; e++) {
                    setv(d, p->sbuf, p->sd[j] + i, e, val(j, 4, i, e));
                    if (j == me) {
                        setv(d, p->exp, i, e, val(j, 4, i, e));
                    }
                }
            }
        }
        p->cmp = ip ? 0 : (size_t)mine * d->ext;
        void *rb = ip ? MPI_IN_PLACE : p->rbuf;
        err = nb ? MPI_Iscatterv(p->sbuf, p->sc, p->sd, dt, rb, mine, dt, root, MPI_COMM_WORLD, rq)
                 : MPI_Scatterv(p->sbuf, p->sc, p->sd, dt, rb, mine, dt, root, MPI_COMM_WORLD);
        break;
    }
    case C_ALLTOALL:
        p->sbuf = image(d, (long)n * cnt);
        p->rbuf = image(d, (long)n * cnt);
        p->exp = image(d, (long)n * cnt);
        for (int j = 0; j < n; j++) {
            for (long i = 0; i < cnt; i++) {
                for (int e = 0; e < d->k; e++) {
                    setv(d, p->sbuf, (long)j * cnt + i, e, val(me * 16 + j, 5, i, e));
                    setv(d, p->exp, (long)j * cnt + i, e, val(j * 16 + me, 5, i, e));
                }
            }
        }
        if (ip) {
            memcpy(p->rbuf, p->sbuf, (size_t)n * (size_t)cnt * d->ext);
        }
        p->cmp = (size_t)n * (size_t)cnt * d->ext;
        err = nb ? MPI_Ialltoall(ip ? MPI_IN_PLACE : p->sbuf, cnt, dt, p->rbuf, cnt, dt,
                                 MPI_COMM_WORLD, rq)
                 : MPI_Alltoall(ip ? MPI_IN_PLACE : p->sbuf, cnt, dt, p->rbuf, cnt, dt,
                                MPI_COMM_WORLD);
        break;
    case C_ALLTOALLV:
    case C_ALLTOALLW: {
        /* symmetric counts (in place needs them): block (a, b) has
         * cnt + (a + b) % 3 instances */
        for (int j = 0; j < n; j++) {
            p->sc[j] = p->rc[j] = cnt + (me + j) % 3;
        }
        long stot = vlayout(p->sc, p->sd);
        long rtot = vlayout(p->rc, p->rd);
        p->sbuf = image(d, stot);
        p->rbuf = image(d, rtot);
        p->exp = image(d, rtot);
        for (int j = 0; j < n; j++) {
            p->st[j] = p->rt[j] = dt;
            p->ad[j] = (int)(p->sd[j] * d->ext);
            p->bd[j] = (int)(p->rd[j] * d->ext);
            for (long i = 0; i < p->sc[j]; i++) {
                for (int e = 0; e < d->k; e++) {
                    setv(d, p->sbuf, p->sd[j] + i, e, val(me * 16 + j, 6, i, e));
                    if (ip) {
                        setv(d, p->rbuf, p->rd[j] + i, e, val(me * 16 + j, 6, i, e));
                    }
                    setv(d, p->exp, p->rd[j] + i, e, val(j * 16 + me, 6, i, e));
                }
            }
        }
        p->cmp = (size_t)rtot * d->ext;
        const void *sb = ip ? MPI_IN_PLACE : p->sbuf;
        if (c == C_ALLTOALLV) {
            err =
                nb ? MPI_Ialltoallv(sb, p->sc, p->sd, dt, p->rbuf, p->rc, p->rd, dt, MPI_COMM_WORLD,
                                    rq)
                   : MPI_Alltoallv(sb, p->sc, p->sd, dt, p->rbuf, p->rc, p->rd, dt, MPI_COMM_WORLD);
        } else {
            err = nb ? MPI_Ialltoallw(sb, p->sc, p->ad, p->st, p->rbuf, p->rc, p->bd, p->rt,
                                      MPI_COMM_WORLD, rq)
                     : MPI_Alltoallw(sb, p->sc, p->ad, p->st, p->rbuf, p->rc, p->bd, p->rt,
                                     MPI_COMM_WORLD);
        }
        break;
    }
    case C_REDUCE:
    case C_ALLREDUCE:
    case C_SCAN:
    case C_EXSCAN: {
        bool out = c != C_REDUCE || at_root;
        ip = ip && out;
        p->sbuf = image(d, cnt);
        p->rbuf = image(d, cnt);
        p->exp = image(d, cnt);
        for (long i = 0; i < cnt; i++) {
            for (int e = 0; e < d->k; e++) {
                setv(d, p->sbuf, i, e, val(me, 7, i, e));
                if (ip) {
                    setv(d, p->rbuf, i, e, val(me, 7, i, e));
                    setv(d, p->exp, i, e, val(me, 7, i, e));
                }
                int hi = c == C_SCAN ? me : c == C_EXSCAN ? me - 1 : n - 1;
                if (hi >= 0) {
                    setv(d, p->exp, i, e, ref(op, 0, hi, 7, i, e));
                }
            }
        }
        p->cmp = out ? (size_t)cnt * d->ext : 0;
        const void *sb = ip ? MPI_IN_PLACE : p->sbuf;
        if (c == C_REDUCE) {
            err = nb ? MPI_Ireduce(sb, p->rbuf, cnt, dt, op, root, MPI_COMM_WORLD, rq)
                     : MPI_Reduce(sb, p->rbuf, cnt, dt, op, root, MPI_COMM_WORLD);
        } else if (c == C_ALLREDUCE) {
            err = nb ? MPI_Iallreduce(sb, p->rbuf, cnt, dt, op, MPI_COMM_WORLD, rq)
                     : MPI_Allreduce(sb, p->rbuf, cnt, dt, op, MPI_COMM_WORLD);
        } else if (c == C_SCAN) {
            err = nb ? MPI_Iscan(sb, p->rbuf, cnt, dt, op, MPI_COMM_WORLD, rq)
                     : MPI_Scan(sb, p->rbuf, cnt, dt, op, MPI_COMM_WORLD);
        } else {
            err = nb ? MPI_Iexscan(sb, p->rbuf, cnt, dt, op, MPI_COMM_WORLD, rq)
                     : MPI_Exscan(sb, p->rbuf, cnt, dt, op, MPI_COMM_WORLD);
        }
        break;
    }
    case C_RSCAT:
    case C_RSCATB: {
        long tot = 0, mine = 0, off = 0;
        for (int j = 0; j < n; j++) {
            p->rc[j] = c == C_RSCATB ? cnt : vcount(cnt, j);
            if (j == me) {
                off = tot;
                mine = p->rc[j];
            }
            tot += p->rc[j];
        }
        p->sbuf = image(d, tot);
        p->rbuf = image(d, tot);
        p->exp = image(d, tot);
        for (long i = 0; i < tot; i++) {
            for (int e = 0; e < d->k; e++) {
                setv(d, p->sbuf, i, e, val(me, 8, i, e));
                if (ip) {
                    setv(d, p->rbuf, i, e, val(me, 8, i, e));
                }
            }
        }
        for (long i = 0; i < mine; i++) {
            for (int e = 0; e < d->k; e++) {
                setv(d, p->exp, i, e, ref(op, 0, n - 1, 8, off + i, e));
            }
        }
        p->cmp = (size_t)mine * d->ext;
        const void *sb = ip ? MPI_IN_PLACE : p->sbuf;
        if (c == C_RSCATB) {
            err = nb ? MPI_Ireduce_scatter_block(sb, p->rbuf, cnt, dt, op, MPI_COMM_WORLD, rq)
                     : MPI_Reduce_scatter_block(sb, p->rbuf, cnt, dt, op, MPI_COMM_WORLD);
        } else {
            err = nb ? MPI_Ireduce_scatter(sb, p->rbuf, p->rc, dt, op, MPI_COMM_WORLD, rq)
                     : MPI_Reduce_scatter(sb, p->rbuf, p->rc, dt, op, MPI_COMM_WORLD);
        }
        break;
    }
    }
    CHECK(err == MPI_SUCCESS, "%s%s returned %d", nb ? "i" : "", p->what, err);
    return p;
}

/* COLL_ALL_OMPI set: cross-checking the reference under Open MPI, which
 * refuses predefined ops on derived types and checks arguments less. */
static int ompi_mode;

static MPI_Op ops_for(const struct tdesc *d, int k)
{
    MPI_Op ops[3] = {MPI_SUM, MPI_MAX, OP_FIRST};
    if (k < 2 && ompi_mode && d->dt != MPI_INT && d->dt != MPI_DOUBLE) {
        return MPI_OP_NULL;
    }
    return ops[k];
}

int main(int argc, char **argv)
{
    mt_init(&argc, &argv);
    ompi_mode = getenv("COLL_ALL_OMPI") != NULL;
    OK(MPI_Op_create(first_fn, 0, &OP_FIRST));
    MPI_Datatype vec, con;
    OK(MPI_Type_vector(2, 1, 2, MPI_INT, &vec));
    OK(MPI_Type_commit(&vec));
    OK(MPI_Type_contiguous(3, MPI_DOUBLE, &con));
    OK(MPI_Type_commit(&con));
    T[0] = (struct tdesc){MPI_INT, 0, 1, 4, 4, "int"};
    T[1] = (struct tdesc){MPI_DOUBLE, 1, 1, 8, 8, "double"};
    T[2] = (struct tdesc){vec, 0, 2, 8, 12, "vector(2,1,2,int)"};
    T[3] = (struct tdesc){con, 1, 3, 8, 24, "contiguous(3,double)"};
    MPI_Aint lb, ext;
    MPI_Type_get_extent(vec, &lb, &ext);
    CHECK(ext == 12, "vector extent %ld", (long)ext);

    /* Blocking: every collective, type, op, in place or not, every root
     * for small counts; one root for the large count (other algorithms). */
    const int counts[] = {0, 3, 1500};
    int nblk = 0;
    for (int ci = 0; ci < 3; ci++) {
        int cnt = counts[ci];
        for (int c = 0; c < C_LAST; c++) {
            for (int t = 0; t < NT; t++) {
                for (int k = 0; k < (reduction(c) ? 3 : 1); k++) {
                    MPI_Op op = ops_for(&T[t], k);
                    if (reduction(c) && op == MPI_OP_NULL) {
                        continue;
                    }
                    for (int ip = 0; ip < 2; ip++) {
                        int r0 = rooted(c) ? 0 : 0, r1 = rooted(c) ? mt_size : 1;
                        if (cnt > 3 && rooted(c)) {
                            r0 = mt_size - 1;
                        }
                        for (int root = r0; root < r1; root++) {
                            pdone(start(c, &T[t], op, ip, root, cnt, 0));
                            nblk++;
                        }
                    }
                }
            }
        }
    }
    SAY("blocking: %d collective calls checked", nblk);

    /* Non-blocking: for each type, every collective (several ops) started
     * at once, with a blocking allreduce in the middle; half completed by
     * Testany, the rest by Waitall in reverse order of starting. */
    int nnb = 0;
    for (int ci = 1; ci < 3; ci++) {
        int cnt = counts[ci];
        for (int t = 0; t < NT; t++) {
            for (int ip = 0; ip < 2; ip++) {
                struct pend *ps[3 * C_LAST];
                MPI_Request rq[3 * C_LAST];
                int np = 0;
                for (int c = 0; c < C_LAST; c++) {
                    for (int k = 0; k < (reduction(c) ? 3 : 1); k++) {
                        MPI_Op op = ops_for(&T[t], k);
                        if (reduction(c) && op == MPI_OP_NULL) {
                            continue;
                        }
                        int root = (c + t + k) % mt_size;
                        ps[np] = start(c, &T[t], op, ip, root, cnt, 1);
                        rq[np] = ps[np]->req;
                        np++;
                    }
                    if (c == C_LAST / 2) {
                        int v = mt_rank + 1, s;
                        OK(MPI_Allreduce(&v, &s, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD));
                        CHECK(s == mt_size * (mt_size + 1) / 2, "allreduce among Ixxx: %d", s);
                    }
                }
                int left = np;
                while (left > np / 2) {
                    int idx, flag;
                    OK(MPI_Testany(np, rq, &idx, &flag, MPI_STATUS_IGNORE));
                    if (flag && idx != MPI_UNDEFINED) {
                        left--;
                    }
                }
                MPI_Request rev[3 * C_LAST];
                for (int i = 0; i < np; i++) {
                    rev[i] = rq[np - 1 - i];
                }
                OK(MPI_Waitall(np, rev, MPI_STATUSES_IGNORE));
                for (int i = 0; i < np; i++) {
                    pdone(ps[i]);
                    nnb++;
                }
            }
        }
    }
    SAY("non-blocking: %d collective calls checked (overlapped, out of order)", nnb);

    /* Large messages (rendezvous transfers) in overlapped collectives. */
    {
        const int nd = 1 << 18, nb = 1 << 20; /* 2 MiB of doubles, 1 MiB blocks */
        double *ds = malloc(sizeof(double) * nd), *dr = malloc(sizeof(double) * nd);
        char *bc = malloc((size_t)4 << 20);
        char *as = malloc((size_t)nb * mt_size), *ar = malloc((size_t)nb * mt_size);
        CHECK(ds && dr && bc && as && ar, "out of memory");
        for (int i = 0; i < nd; i++) {
            ds[i] = mt_rank + i % 7;
        }
        for (int i = 0; i < (4 << 20); i++) {
            bc[i] = mt_rank == mt_size - 1 ? (char)(i * 3) : 0;
        }
        for (int j = 0; j < mt_size; j++) {
            memset(as + (size_t)j * nb, mt_rank * 16 + j, (size_t)nb);
        }
        MPI_Request lr[3];
        OK(MPI_Iallreduce(ds, dr, nd, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD, &lr[0]));
        OK(MPI_Ibcast(bc, 4 << 20, MPI_CHAR, mt_size - 1, MPI_COMM_WORLD, &lr[1]));
        OK(MPI_Ialltoall(as, nb, MPI_CHAR, ar, nb, MPI_CHAR, MPI_COMM_WORLD, &lr[2]));
        MPI_Request rv[3] = {lr[2], lr[0], lr[1]};
        OK(MPI_Waitall(3, rv, MPI_STATUSES_IGNORE));
        double tri = (double)mt_size * (mt_size - 1) / 2;
        for (int i = 0; i < nd; i++) {
            CHECK(dr[i] == tri + (double)mt_size * (i % 7), "large iallreduce [%d] = %g", i, dr[i]);
        }
        for (int i = 0; i < (4 << 20); i++) {
            CHECK(bc[i] == (char)(i * 3), "large ibcast byte %d", i);
        }
        for (int j = 0; j < mt_size; j++) {
            for (int i = 0; i < nb; i += 4093) {
                CHECK(ar[(size_t)j * nb + i] == (char)(j * 16 + mt_rank), "large ialltoall %d", j);
            }
        }
        free(ds);
        free(dr);
        free(bc);
        free(as);
        free(ar);
        SAY("large overlapped iallreduce/ibcast/ialltoall ok");
    }

    /* Progress while blocked elsewhere: rank 2 sits in MPI_Recv from rank
     * 0 while rank 0 waits for its Iallgather, whose second round needs a
     * message rank 2's schedule sends only after its first round: the
     * blocking receive must drive rank 2's collective. */
    if (mt_size >= 3) {
        int mine[1] = {mt_rank}, all[64], token = 0;
        MPI_Request ag;
        CHECK(mt_size <= 64, "too many ranks for this check");
        OK(MPI_Iallgather(mine, 1, MPI_INT, all, 1, MPI_INT, MPI_COMM_WORLD, &ag));
        if (mt_rank == 0) {
            OK(MPI_Wait(&ag, MPI_STATUS_IGNORE));
            token = 42;
            OK(MPI_Send(&token, 1, MPI_INT, 2, 9, MPI_COMM_WORLD));
        } else if (mt_rank == 2) {
            OK(MPI_Recv(&token, 1, MPI_INT, 0, 9, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
            CHECK(token == 42, "token %d", token);
            OK(MPI_Wait(&ag, MPI_STATUS_IGNORE));
        } else {
            OK(MPI_Wait(&ag, MPI_STATUS_IGNORE));
        }
        for (int j = 0; j < mt_size; j++) {
            CHECK(all[j] == j, "iallgather while blocked: all[%d] = %d", j, all[j]);
        }
        SAY("non-blocking collective progressed inside a blocking receive");
    }

    /* Starfish's own choices (Open MPI differs): a collective request is
     * not cancellable; a NULL request pointer is an error. */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    int x = 0;
    if (!ompi_mode) {
        MPI_Request r;
        OK(MPI_Ibarrier(MPI_COMM_WORLD, &r));
        CHECK(MPI_Cancel(&r) != MPI_SUCCESS, "cancel of Ibarrier succeeded");
        OK(MPI_Wait(&r, MPI_STATUS_IGNORE));
        CHECK(r == MPI_REQUEST_NULL, "request not freed");
        CHECK(MPI_Iallgather(&x, 1, MPI_INT, &x, 1, MPI_INT, MPI_COMM_WORLD, NULL) == MPI_ERR_ARG,
              "NULL request accepted");
    }
    /* Argument checks. */
    CHECK(MPI_Gather(&x, 1, MPI_INT, &x, 1, MPI_INT, mt_size, MPI_COMM_WORLD) == MPI_ERR_ROOT,
          "bad root accepted");
    CHECK(MPI_Allgather(&x, -1, MPI_INT, &x, 1, MPI_INT, MPI_COMM_WORLD) == MPI_ERR_COUNT,
          "negative count accepted");
    if (mt_size > 1 && !ompi_mode) {
        int bad = (mt_rank + 1) % mt_size; /* never the caller: fails before any traffic */
        CHECK(MPI_Gather(MPI_IN_PLACE, 1, MPI_INT, &x, 1, MPI_INT, bad, MPI_COMM_WORLD) ==
                  MPI_ERR_BUFFER,
              "MPI_IN_PLACE at a non-root accepted");
    }
    OK(MPI_Barrier(MPI_COMM_WORLD));
    MPI_Type_free(&vec);
    MPI_Type_free(&con);
    MPI_Op_free(&OP_FIRST);
    SAY("coll_all: ok on %d ranks", mt_size);
    MPI_Finalize();
    return 0;
}
