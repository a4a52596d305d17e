/* Schedule engine for the collectives built as rounds (coll_nb.c,
 * coll_inter.c): a round posts its sends and receives together, and when
 * all have completed runs its local copy/reduce steps in order. The same
 * schedule runs blocking (sf_coll_run: waits round by round) or
 * non-blocking (sf_coll_start + sf_coll_sched_test); inter-communicator
 * schedules also talk to the remote group. No global state;
 * single-threaded. */
#include "mpi-shim/coll_int.h"

#include "runtime/base/sf_err.h"
#include "runtime/rt/sf_rt.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) {
        return 0;
    }
    size_t nc = *cap ? *cap * 2 : 16;
    while (nc < need) {
        nc *= 2;
    }
    void *p = realloc(*arr, nc * elem);
    if (p == NULL) {
        return -ENOMEM;
    }
    *arr = p;
    *cap = nc;
    return 0;
}

int sf_coll__sched_init(struct sf_coll__sched *s, const struct sf_coll_comm *c, int tagbase,
                        const struct sf_coll_op *op)
{
    memset(s, 0, sizeof *s);
    s->c = *c;
    /* world[] may be freed with the communicator before we finish. */
    int *w = malloc(sizeof(int) * (size_t)c->size);
    if (w == NULL) {
        return -ENOMEM;
    }
    memcpy(w, c->world, sizeof(int) * (size_t)c->size);
    s->c.world = w;
    s->tagbase = tagbase;
    if (op != NULL) {
        s->op = *op;
    }
    return 0;
}

static int add(struct sf_coll__sched *s, const struct sf_coll__step *st)
{
    if (s->err != 0) {
        return s->err;
    }
    int rc = grow((void **)&s->steps, &s->cap, s->n + 1, sizeof *s->steps);
    if (rc != 0) {
        s->err = rc;
        return rc;
    }
    s->steps[s->n++] = *st;
    return 0;
}

/* Builders record failures in s->err and return it, so a builder may
 * ignore individual results and check once at the end. */
int sf_coll__s_send(struct sf_coll__sched *s, const void *buf, size_t len, int peer)
{
    struct sf_coll__step st = {SF_COLL__S_SEND, peer, (void *)buf, NULL, len};
    return add(s, &st);
}

int sf_coll__s_recv(struct sf_coll__sched *s, void *buf, size_t len, int peer)
{
    struct sf_coll__step st = {SF_COLL__S_RECV, peer, buf, NULL, len};
    return add(s, &st);
}

int sf_coll__s_rsend(struct sf_coll__sched *s, const void *buf, size_t len, int peer)
{
    struct sf_coll__step st = {SF_COLL__S_RSEND, peer, (void *)buf, NULL, len};
    return add(s, &st);
}

int sf_coll__s_rrecv(struct sf_coll__sched *s, void *buf, size_t len, int peer)
{
    struct sf_coll__step st = {SF_COLL__S_RRECV, peer, buf, NULL, len};
    return add(s, &st);
}

int sf_coll__s_copy(struct sf_coll__sched *s, const void *src, void *dst, size_t len)
{
    if (len == 0 || src == dst) {
        return s->err;
    }
    struct sf_coll__step st = {SF_COLL__S_COPY, -1, dst, src, len};
    return add(s, &st);
}

int sf_coll__s_op(struct sf_coll__sched *s, const void *in, void *inout, size_t count)
{
    if (count == 0) {
        return s->err;
    }
    struct sf_coll__step st = {SF_COLL__S_OP, -1, inout, in, count};
    return add(s, &st);
}

int sf_coll__s_round(struct sf_coll__sched *s)
{
    /* An empty round would only cost a tag; merge it away. */
    if (s->n == 0 || s->steps[s->n - 1].kind == SF_COLL__S_END) {
        return s->err;
    }
    struct sf_coll__step st = {SF_COLL__S_END, -1, NULL, NULL, 0};
    return add(s, &st);
}

void *sf_coll__s_alloc(struct sf_coll__sched *s, size_t len)
{
    if (s->err != 0) {
        return NULL;
    }
    if (grow((void **)&s->mem, &s->memcap, s->nmem + 1, sizeof *s->mem) != 0) {
        s->err = -ENOMEM;
        return NULL;
    }
    void *p = malloc(len ? len : 1);
    if (p == NULL) {
        s->err = -ENOMEM;
        return NULL;
    }
    s->mem[s->nmem++] = p;
    return p;
}

/* End of the round that starts at s->cur. */
static size_t round_end(const struct sf_coll__sched *s)
{
    size_t e = s->cur;
    while (e < s->n && s->steps[e].kind != SF_COLL__S_END) {
        e++;
    }
    return e;
}

/* Post the current round's transfers, receives first. */
static int post(struct sf_coll__sched *s)
{
    size_t e = round_end(s);
    /* One tag for the whole schedule: between two members the transfers
     * of an algorithm happen in the same order on both sides, and MPI
     * matching keeps that order, while rounds need not line up across
     * members (a leaf's first round is a tree node's third). */
    int tag = s->tagbase;
    s->nreq = 0;
    int rc = grow((void **)&s->reqs, &s->reqcap, e - s->cur, sizeof *s->reqs);
    if (rc != 0) {
        return rc;
    }
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = s->cur; i < e; i++) {
            struct sf_coll__step *st = &s->steps[i];
            struct sf_rt_req *r = &s->reqs[s->nreq];
            if (pass == 0 && st->kind == SF_COLL__S_RECV) {
                memset(r, 0, sizeof *r);
                rc = sf_rt_irecv(s->c.rt, r, st->buf, st->len, st->peer, s->c.ctx, tag);
            } else if (pass == 0 && st->kind == SF_COLL__S_RRECV) {
                memset(r, 0, sizeof *r);
                rc = sf_rt_irecv(s->c.rt, r, st->buf, st->len, st->peer, s->x.ctx, s->x.tag);
            } else if (pass == 1 && st->kind == SF_COLL__S_SEND) {
                memset(r, 0, sizeof *r);
                rc = sf_rt_isend(s->c.rt, r, st->buf, st->len, s->c.world[st->peer], s->c.ctx,
                                 s->c.rank, tag, SF_RT_STANDARD);
            } else if (pass == 1 && st->kind == SF_COLL__S_RSEND) {
                /* The remote group knows us by our local rank. */
                memset(r, 0, sizeof *r);
                rc = sf_rt_isend(s->c.rt, r, st->buf, st->len, s->x.world[st->peer], s->x.ctx,
                                 s->c.rank, s->x.tag, SF_RT_STANDARD);
            } else {
                continue;
            }
            if (rc != 0) {
                return rc;
            }
            s->nreq++;
        }
    }
    s->posted = true;
    return 0;
}

/* Check finished transfers of the round and run its local steps. */
static int finish_round(struct sf_coll__sched *s)
{
    size_t e = round_end(s);
    size_t k = 0;
    /* Receives were posted first, in step order. */
    for (size_t i = s->cur; i < e; i++) {
        if (s->steps[i].kind != SF_COLL__S_RECV && s->steps[i].kind != SF_COLL__S_RRECV) {
            continue;
        }
        const struct sf_rt_req *r = &s->reqs[k++];
        if (r->status.error != 0) {
            return r->status.error;
        }
        if (r->status.count != s->steps[i].len) {
            return SF_ERR_TRUNCATE;
        }
    }
    for (; k < s->nreq; k++) {
        if (s->reqs[k].status.error != 0) {
            return s->reqs[k].status.error;
        }
    }
    s->nreq = 0;
    for (size_t i = s->cur; i < e; i++) {
        struct sf_coll__step *st = &s->steps[i];
        if (st->kind == SF_COLL__S_COPY) {
            memmove(st->buf, st->src, st->len);
        } else if (st->kind == SF_COLL__S_OP) {
            int rc = s->op.fn(st->src, st->buf, st->len, s->op.arg);
            if (rc != 0) {
                return rc;
            }
        }
    }
    s->cur = e < s->n ? e + 1 : e;
    s->round++;
    s->posted = false;
    return 0;
}

int sf_coll__sched_step(struct sf_coll__sched *s, bool block, bool *done)
{
    *done = false;
    while (s->cur < s->n) {
        if (!s->posted) {
            int rc = post(s);
            if (rc != 0) {
                return rc;
            }
        }
        for (size_t k = 0; k < s->nreq; k++) {
            if (!s->reqs[k].complete) {
                if (!block) {
                    return 0;
                }
                int rc = sf_coll__wait(&s->c, &s->reqs[k]);
                if (rc != 0) {
                    return rc;
                }
            }
        }
        int rc = finish_round(s);
        if (rc != 0) {
            return rc;
        }
    }
    *done = true;
    return 0;
}

void sf_coll__sched_fini(struct sf_coll__sched *s)
{
    /* Posted transfers point into memory about to be freed. */
    for (size_t k = 0; k < s->nreq; k++) {
        if (!s->reqs[k].complete && sf_rt_cancel(s->c.rt, &s->reqs[k]) == 0) {
            /* no poll: this may run inside the caller's own poll */
            struct sf_coll_comm c = s->c;
            c.poll = NULL;
            (void)sf_coll__wait(&c, &s->reqs[k]);
        }
    }
    for (size_t i = 0; i < s->nmem; i++) {
        free(s->mem[i]);
    }
    free(s->mem);
    free(s->steps);
    free(s->reqs);
    free((void *)s->c.world);
    free((void *)s->x.world);
    memset(s, 0, sizeof *s);
}

struct sf_coll_sched {
    struct sf_coll__sched s;
    bool done;
    int err;
};

int sf_coll_run(const struct sf_coll_comm *c, const struct sf_coll_args *a)
{
    switch (a->kind) {
    case SF_COLL_BARRIER:
        return sf_coll_barrier(c);
    case SF_COLL_BCAST:
        return sf_coll_bcast(c, a->rbuf, a->n, a->root);
    case SF_COLL_REDUCE:
        return sf_coll_reduce(c, a->sbuf, a->rbuf, a->n, a->op, a->root);
    case SF_COLL_ALLREDUCE:
        return sf_coll_allreduce(c, a->sbuf, a->rbuf, a->n, a->op);
    default:
        break;
    }
    struct sf_coll__sched s;
    int rc = sf_coll__sched_init(&s, c, SF_COLL__TAG(SF_COLL__T_SCHED, 0), a->op);
    if (rc != 0) {
        return rc;
    }
    rc = sf_coll__build(&s, a, true);
    if (rc == 0) {
        bool done;
        rc = sf_coll__sched_step(&s, true, &done);
    }
    sf_coll__sched_fini(&s);
    return rc;
}

int sf_coll_start(struct sf_coll_comm *c, const struct sf_coll_args *a, struct sf_coll_sched **out)
{
    *out = NULL;
    struct sf_coll_sched *h = calloc(1, sizeof *h);
    if (h == NULL) {
        return -ENOMEM;
    }
    /* The sequence advances even if building fails below, the same way on
     * every member (failures here are local: out of memory or bad args). */
    uint32_t seq = c->nb_seq++;
    int rc = sf_coll__sched_init(&h->s, c, SF_COLL__NB_TAG(seq), a->op);
    if (rc != 0) {
        free(h);
        return rc;
    }
    rc = sf_coll__build(&h->s, a, false);
    if (rc == 0) {
        rc = sf_coll__sched_step(&h->s, false, &h->done);
    }
    if (rc != 0) {
        sf_coll__sched_fini(&h->s);
        free(h);
        return rc;
    }
    *out = h;
    return 0;
}

int sf_coll_sched_test(struct sf_coll_sched *h, bool *done)
{
    if (!h->done && h->err == 0) {
        h->err = sf_coll__sched_step(&h->s, false, &h->done);
    }
    *done = h->done || h->err != 0;
    return h->err;
}

void sf_coll_sched_free(struct sf_coll_sched *h)
{
    if (h != NULL) {
        sf_coll__sched_fini(&h->s);
        free(h);
    }
}

/* Copies the remote group's ranks into s (tag given by the caller). */
static int inter_init(struct sf_coll__sched *s, const struct sf_coll_inter *x, int tag)
{
    int *w = malloc(sizeof(int) * (size_t)(x->size > 0 ? x->size : 1));
    if (w == NULL) {
        return -ENOMEM;
    }
    memcpy(w, x->world, sizeof(int) * (size_t)x->size);
    s->x = *x;
    s->x.world = w;
    s->x.tag = tag;
    return 0;
}

int sf_coll_inter_run(const struct sf_coll_comm *c, const struct sf_coll_inter *x,
                      const struct sf_coll_args *a)
{
    struct sf_coll__sched s;
    int rc = sf_coll__sched_init(&s, c, SF_COLL__TAG(SF_COLL__T_SCHED, 0), a->op);
    if (rc != 0) {
        return rc;
    }
    rc = inter_init(&s, x, x->tag);
    if (rc == 0) {
        rc = sf_coll__build_inter(&s, a);
    }
    if (rc == 0) {
        bool done;
        rc = sf_coll__sched_step(&s, true, &done);
    }
    sf_coll__sched_fini(&s);
    return rc;
}

int sf_coll_inter_start(struct sf_coll_comm *c, const struct sf_coll_inter *x,
                        const struct sf_coll_args *a, struct sf_coll_sched **out)
{
    *out = NULL;
    struct sf_coll_sched *h = calloc(1, sizeof *h);
    if (h == NULL) {
        return -ENOMEM;
    }
    /* Both groups start the same inter-communicator collectives in the
     * same order, so their sequence numbers agree and name the remote
     * transfers too. */
    uint32_t seq = c->nb_seq++;
    int rc = sf_coll__sched_init(&h->s, c, SF_COLL__NB_TAG(seq), a->op);
    if (rc != 0) {
        free(h);
        return rc;
    }
    rc = inter_init(&h->s, x, x->tag - 1 - (int)(seq & 0x3fffu));
    if (rc == 0) {
        rc = sf_coll__build_inter(&h->s, a);
    }
    if (rc == 0) {
        rc = sf_coll__sched_step(&h->s, false, &h->done);
    }
    if (rc != 0) {
        sf_coll__sched_fini(&h->s);
        free(h);
        return rc;
    }
    *out = h;
    return 0;
}
