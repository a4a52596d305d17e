/* runtime/rt protocol: what happens when a packet or a bulk completion
 * arrives, and how a matched message's data reaches the receive buffer
 * (copy for eager, reassembly of fragments, pull or CTS+push for
 * rendezvous). Packets are checked before use; bad ones are dropped and
 * counted, never trusted.
 * Runs inside sf_rt_progress (transport callbacks). Single-threaded. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/base/sf_err.h"
#include "runtime/base/sf_log.h"
#include "runtime/rt/rt_int.h"

static void rt_fail(struct sf_rt *rt, int rc)
{
    if (rc < 0 && rt->fatal == 0) {
        SF_ERR("message engine: %s", sf_strerror(rc));
        rt->fatal = rc;
    }
}

static inline void rt_recv_status(struct sf_rt_req *r, int src, int tag, size_t len)
{
    r->status.source = src;
    r->status.tag = tag;
    r->status.cancelled = false;
    if (len > r->len) {
        r->status.error = SF_ERR_TRUNCATE;
        r->status.count = r->len;
    } else {
        r->status.error = 0;
        r->status.count = len;
    }
}

/* CTS with flags (RT_F_MORE for a segment that is not the last). */
static int rt_send_cts(struct sf_rt *rt, int w, bool more, uint64_t sreq, uint64_t cookie,
                       size_t n)
{
    struct rt_hdr h = {.kind = RT_K_CTS, .flags = more ? RT_F_MORE : 0, .src = rt->rank};
    struct rt_ext x = {sreq, cookie, n};
    return sf_rt__send_pkt(rt, w, &h, &x, NULL, 0, NULL);
}

/* Segmented receive: bytes of the next segment to ask for. */
static size_t rt_seg_next(const struct sf_rt_req *r)
{
    const struct sf_rt_layout *lay = sf_rt__lay(r);
    size_t k = r->status.count - r->seg_done;
    if (k > SF_RT_SEG_BYTES) {
        k = SF_RT_SEG_BYTES;
    }
    if (lay != NULL && k > lay->stage_len) {
        k = lay->stage_len;
    }
    return k;
}

/* Data phase of a matched rendezvous: r->src_rank holds the sender's world
 * rank, r->id the sender's request id, r->proto its buffer address and
 * status.count the bytes to move. A receive with a layout pulls through its
 * stage, a segment at a time; when the sender has a layout (nothing to
 * pull) or there is no pull, segments are pushed, one CTS each (the next
 * one asked for when the last arrived: see sf_rt__done_cb). Resumes from
 * seg_done after -EAGAIN. */
static int rt_rndv_data(struct sf_rt *rt, struct sf_rt_req *r)
{
    int w = r->src_rank;
    size_t n = r->status.count;
    uint64_t sreq = r->id;
    if (n == 0) {
        sf_rt__complete(r);
        return sf_rt__send_ctl(rt, w, RT_K_FIN, sreq, 0, 0);
    }
    struct rt_peer *pe = &rt->peers[w];
    struct sf_net *net = pe->tr->net;
    const struct sf_rt_layout *lay = sf_rt__lay(r);
    int rc;
    if ((net->caps & SF_NET_CAP_GET) && !(r->seg_flags & RT_SEG_NOADDR)) {
        uint64_t raddr = (uint64_t)(uintptr_t)r->proto;
        if (lay == NULL) {
            rc = net->ops->get(net, pe->idx, r->buf, raddr, n);
        } else {
            rc = 0;
            while (r->seg_done < n && rc == 0) {
                size_t k = n - r->seg_done < lay->stage_len ? n - r->seg_done : lay->stage_len;
                rc = net->ops->get(net, pe->idx, lay->stage, raddr + r->seg_done, k);
                if (rc == 0) {
                    lay->unpack(lay->arg, lay->stage, k);
                    r->seg_done += k;
                }
            }
        }
        if (rc == 0) {
            sf_rt__complete(r);
            return sf_rt__send_ctl(rt, w, RT_K_FIN, sreq, 0, n);
        }
    } else if (lay == NULL && !(r->seg_flags & RT_SEG_NOADDR)) {
        uint64_t cookie = rt->next_cookie++;
        r->state = RT_S_BULK_RECV;
        rc = net->ops->bulk_recv(net, pe->idx, cookie, r->buf, n, r);
        if (rc == 0) {
            return sf_rt__send_ctl(rt, w, RT_K_CTS, sreq, cookie, n);
        }
    } else {
        size_t k = rt_seg_next(r);
        void *dst = lay != NULL ? lay->stage : (unsigned char *)r->buf + r->seg_done;
        uint64_t cookie = rt->next_cookie++;
        r->seg_flags |= RT_SEG_ON;
        r->state = RT_S_BULK_RECV;
        rc = net->ops->bulk_recv(net, pe->idx, cookie, dst, k, r);
        if (rc == 0) {
            return rt_send_cts(rt, w, r->seg_done + k < n, sreq, cookie, k);
        }
    }
    if (rc == -EAGAIN) {
        r->state = RT_S_GET_RETRY;
        sf_rt__list_push(&rt->retry, r);
        return 0;
    }
    return rc;
}

static int rt_rndv_start(struct sf_rt *rt, struct sf_rt_req *r, int w, int src, int tag,
                         uint64_t sreq, uint64_t raddr, size_t len, uint8_t flags)
{
    rt_recv_status(r, src, tag, len);
    r->src_rank = w;
    r->id = sreq;
    r->proto = (void *)(uintptr_t)raddr;
    if (flags & RT_F_SEG) {
        r->seg_flags |= RT_SEG_NOADDR;
    }
    return rt_rndv_data(rt, r);
}

/* A self-send's data straight from the sender's request to the receive:
 * through the sender's stage when both have layouts. */
static void rt_copy_self(struct sf_rt_req *r, struct sf_rt_req *s, size_t n)
{
    const struct sf_rt_layout *sl = sf_rt__lay(s), *rl = sf_rt__lay(r);
    if (sl == NULL) {
        sf_rt__put(r, 0, s->buf, n);
    } else if (rl == NULL) {
        if (n > 0) {
            sl->pack(sl->arg, r->buf, n);
        }
    } else {
        for (size_t off = 0; off < n;) {
            size_t k = n - off < sl->stage_len ? n - off : sl->stage_len;
            sl->pack(sl->arg, sl->stage, k);
            rl->unpack(rl->arg, sl->stage, k);
            off += k;
        }
    }
}

int sf_rt__deliver(struct sf_rt *rt, struct sf_rt_req *r, struct sf_rt_msg *m)
{
    int rc = 0;
    if (m->self != NULL) {
        struct sf_rt_req *s = m->self;
        rt_recv_status(r, m->src, m->tag, m->len);
        rt_copy_self(r, s, r->status.count);
        s->proto = NULL;
        sf_rt__complete(s);
        sf_rt__complete(r);
    } else if (m->kind == RT_K_EAGER) {
        rt_recv_status(r, m->src, m->tag, m->len);
        sf_rt__put(r, 0, m->data, r->status.count);
        sf_rt__complete(r);
        if (m->flags & RT_F_SYNC) {
            rc = sf_rt__send_ctl(rt, m->peer, RT_K_SYNC_ACK, m->sreq, 0, 0);
        }
    } else {
        rc = rt_rndv_start(rt, r, m->peer, m->src, m->tag, m->sreq, m->raddr, m->len, m->flags);
    }
    sf_rt__msg_free(rt, m);
    return rc;
}

int sf_rt__retry(struct sf_rt *rt)
{
    struct rt_list todo = rt->retry;
    rt->retry.head = rt->retry.tail = NULL;
    int n = 0;
    while (todo.head != NULL) {
        struct sf_rt_req *r = todo.head;
        sf_rt__list_del(&todo, r);
        int rc = r->state == RT_S_BULK_RETRY ? sf_rt__start_bulk_send(rt, r) : rt_rndv_data(rt, r);
        if (rc < 0) {
            /* Put the rest back so nothing is lost from view. */
            while (todo.head != NULL) {
                struct sf_rt_req *q = todo.head;
                sf_rt__list_del(&todo, q);
                sf_rt__list_push(&rt->retry, q);
            }
            return rc;
        }
        n++;
    }
    return n;
}

static void rt_drop(struct sf_rt *rt, const char *why, int w)
{
    rt->dropped++;
    SF_WARN_SPARSE("dropped packet from rank %d: %s (%lu dropped)", w, why, rt->dropped);
}

static void rt_asm_reset(struct rt_peer *pe)
{
    pe->asm_req = NULL;
    pe->asm_msg = NULL;
    pe->asm_off = pe->asm_len = 0;
    pe->asm_sreq = 0;
    pe->asm_sync = false;
}

static void rt_asm_abort(struct sf_rt *rt, struct rt_peer *pe)
{
    if (pe->asm_req != NULL) {
        pe->asm_req->status.error = SF_ERR_PROTO;
        sf_rt__complete(pe->asm_req);
    }
    if (pe->asm_msg != NULL) {
        free(pe->asm_msg);
    }
    rt_asm_reset(pe);
}

/* Head of a fragmented eager message: x->b is its length. */
static int rt_frag_head(struct sf_rt *rt, struct rt_peer *pe, int w, const struct rt_hdr *h,
                        const struct rt_ext *x, const unsigned char *payload, size_t plen)
{
    size_t total = x->b;
    if (plen == 0 || plen >= total || total > RT_EAGER_MAX) {
        rt_drop(rt, "bad fragmented message head", w);
        return 0;
    }
    struct sf_rt_req *r = sf_rt__match_posted(rt, h->ctx, h->src, h->tag);
    if (r != NULL) {
        rt_recv_status(r, h->src, h->tag, total);
        size_t n = plen < r->status.count ? plen : r->status.count;
        sf_rt__put(r, 0, payload, n);
        r->state = RT_S_BULK_RECV; /* matched: no longer cancellable */
        pe->asm_req = r;
    } else {
        /* Whole messages only join the unexpected queue: until then
         * nothing can match or probe it. */
        struct sf_rt_msg *m = malloc(sizeof(*m) + total);
        if (m == NULL) {
            return -ENOMEM;
        }
        m->next = m->prev = NULL;
        m->self = NULL;
        m->cap = total;
        m->ctx = h->ctx;
        m->src = h->src;
        m->tag = h->tag;
        m->kind = RT_K_EAGER;
        m->flags = h->flags & RT_F_SYNC;
        m->peer = w;
        m->len = total;
        m->sreq = x->a;
        m->raddr = 0;
        memcpy(m->data, payload, plen);
        pe->asm_msg = m;
    }
    pe->asm_off = plen;
    pe->asm_len = total;
    pe->asm_sreq = x->a;
    pe->asm_sync = (h->flags & RT_F_SYNC) != 0;
    return 0;
}

static int rt_frag(struct sf_rt *rt, struct rt_peer *pe, int w, const unsigned char *payload,
                   size_t plen)
{
    if ((pe->asm_req == NULL && pe->asm_msg == NULL) || plen == 0 ||
        plen > pe->asm_len - pe->asm_off) {
        rt_drop(rt, "stray fragment", w);
        if (pe->asm_req != NULL || pe->asm_msg != NULL) {
            rt_asm_abort(rt, pe);
        }
        return 0;
    }
    if (pe->asm_req != NULL) {
        struct sf_rt_req *r = pe->asm_req;
        size_t keep = r->status.count; /* receive buffer bytes in use */
        if (pe->asm_off < keep) {
            size_t n = keep - pe->asm_off < plen ? keep - pe->asm_off : plen;
            sf_rt__put(r, pe->asm_off, payload, n);
        }
    } else {
        memcpy(pe->asm_msg->data + pe->asm_off, payload, plen);
    }
    pe->asm_off += plen;
    if (pe->asm_off < pe->asm_len) {
        return 0;
    }
    struct sf_rt_req *r = pe->asm_req;
    struct sf_rt_msg *m = pe->asm_msg;
    uint64_t sreq = pe->asm_sreq;
    bool sync = pe->asm_sync;
    rt_asm_reset(pe);
    if (r != NULL) {
        sf_rt__complete(r);
        return sync ? sf_rt__send_ctl(rt, w, RT_K_SYNC_ACK, sreq, 0, 0) : 0;
    }
    /* Arrived whole now: a receive posted meanwhile may take it. */
    r = sf_rt__match_posted(rt, m->ctx, m->src, m->tag);
    if (r != NULL) {
        return sf_rt__deliver(rt, r, m);
    }
    sf_rt__mlist_push(&rt->unexp, m);
    return 0;
}

void sf_rt__recv_cb(void *arg, struct sf_net *net, int peer, const void *pkt, size_t len)
{
    struct rt_tr *t = arg;
    struct sf_rt *rt = t->rt;
    (void)net;
    if (peer < 0 || peer >= t->npeers) {
        rt_drop(rt, "unknown peer", -1);
        return;
    }
    int w = t->world_of[peer];
    struct rt_hdr h;
    if (len < RT_HDR_LEN) {
        rt_drop(rt, "short", w);
        return;
    }
    memcpy(&h, pkt, RT_HDR_LEN);
    if (h.kind == 0 || h.kind >= RT_K_COUNT) {
        rt_drop(rt, "bad kind", w);
        return;
    }
    size_t xlen = RT_EXT_LEN(h.kind, h.flags);
    size_t plen = h.kind == RT_K_EAGER || h.kind == RT_K_FRAG ? h.len : 0;
    if (len != RT_HDR_LEN + xlen + plen) {
        rt_drop(rt, "bad length", w);
        return;
    }
    struct rt_ext x = {0, 0, 0};
    if (xlen > 0) {
        memcpy(&x, (const unsigned char *)pkt + RT_HDR_LEN, xlen);
    }
    /* Replies go back over the peer's route, so a packet "from" ourselves
     * or from a rank we have no route to cannot be handled. */
    if (w < 0 || w >= rt->size || w == rt->rank || rt->peers[w].tr == NULL) {
        rt_drop(rt, "bad route", w);
        return;
    }
    struct rt_peer *pe = &rt->peers[w];
    if (h.seq != pe->rx_seq) {
        /* Transports deliver in order, so this means a transport bug;
         * note it and resynchronise rather than stall. */
        SF_WARN_SPARSE("rank %d: packet seq %u, expected %u", w, h.seq, pe->rx_seq);
    }
    pe->rx_seq = h.seq + 1;
    const unsigned char *payload = (const unsigned char *)pkt + RT_HDR_LEN + xlen;
    if (h.kind == RT_K_FRAG) {
        rt_fail(rt, rt_frag(rt, pe, w, payload, plen));
        return;
    }
    if (pe->asm_req != NULL || pe->asm_msg != NULL) {
        /* A sender's fragments are contiguous: anything else now means
         * its stream is broken. */
        rt_drop(rt, "fragmented message cut short", w);
        rt_asm_abort(rt, pe);
    }
    if (h.kind == RT_K_EAGER && (h.flags & RT_F_MULTI)) {
        rt_fail(rt, rt_frag_head(rt, pe, w, &h, &x, payload, plen));
        return;
    }

    int rc = 0;
    struct sf_rt_req *r;
    switch (h.kind) {
    case RT_K_EAGER: {
        r = sf_rt__match_posted(rt, h.ctx, h.src, h.tag);
        if (r != NULL) {
            rt_recv_status(r, h.src, h.tag, plen);
            sf_rt__put(r, 0, payload, r->status.count);
            sf_rt__complete(r);
            if (h.flags & RT_F_SYNC) {
                rc = sf_rt__send_ctl(rt, w, RT_K_SYNC_ACK, x.a, 0, 0);
            }
            break;
        }
        struct sf_rt_msg *m = sf_rt__msg_alloc(rt, plen);
        if (m == NULL) {
            rc = -ENOMEM;
            break;
        }
        m->ctx = h.ctx;
        m->src = h.src;
        m->tag = h.tag;
        m->kind = RT_K_EAGER;
        m->flags = h.flags & RT_F_SYNC;
        m->peer = w;
        m->len = plen;
        m->sreq = x.a;
        if (plen > 0) {
            memcpy(m->data, payload, plen);
        }
        sf_rt__mlist_push(&rt->unexp, m);
        break;
    }
    case RT_K_RTS: {
        r = sf_rt__match_posted(rt, h.ctx, h.src, h.tag);
        if (r != NULL) {
            rc = rt_rndv_start(rt, r, w, h.src, h.tag, x.a, x.b, x.c, h.flags);
            break;
        }
        struct sf_rt_msg *m = sf_rt__msg_alloc(rt, 0);
        if (m == NULL) {
            rc = -ENOMEM;
            break;
        }
        m->ctx = h.ctx;
        m->src = h.src;
        m->tag = h.tag;
        m->kind = RT_K_RTS;
        m->flags = h.flags & RT_F_SEG;
        m->peer = w;
        m->len = x.c;
        m->sreq = x.a;
        m->raddr = x.b;
        sf_rt__mlist_push(&rt->unexp, m);
        break;
    }
    case RT_K_MARK:
        sf_rt__on_mark(rt, w, x.a);
        break;
    case RT_K_CTS: {
        r = sf_rt__slot_find(rt, x.a);
        bool more = (h.flags & RT_F_MORE) != 0;
        /* A segment's CTS may come before the previous segment's send
         * completion: it waits (RT_SEG_PEND) for it. */
        bool in_flight = r != NULL && (r->state == RT_S_BULK_SEND || r->state == RT_S_BULK_RETRY) &&
                         (r->seg_flags & RT_SEG_MORE) && !(r->seg_flags & RT_SEG_PEND);
        if (r == NULL || (r->state != RT_S_WAIT_RNDV && !in_flight) || r->peer != w ||
            x.c > r->status.count - r->seg_done) {
            rt_drop(rt, "CTS for no waiting send", w);
            break;
        }
        if (!more) {
            sf_rt__slot_take(rt, x.a);
        }
        if (!more && !(r->seg_flags & (RT_SEG_LAY | RT_SEG_ON))) {
            r->id = x.b;
            r->len = x.c;
            rc = sf_rt__start_bulk_send(rt, r);
        } else if (in_flight) {
            struct rt_pcts *pc = malloc(sizeof(*pc));
            if (pc == NULL) {
                rc = -ENOMEM;
                break;
            }
            *pc = (struct rt_pcts){rt->pcts, r, x.b, x.c, more};
            rt->pcts = pc;
            r->seg_flags |= RT_SEG_PEND;
        } else {
            rc = sf_rt__seg_send(rt, r, x.b, x.c, more);
        }
        break;
    }
    case RT_K_FIN:
    case RT_K_SYNC_ACK:
        r = sf_rt__slot_find(rt, x.a);
        if (r == NULL || r->peer != w ||
            r->state != (h.kind == RT_K_FIN ? RT_S_WAIT_RNDV : RT_S_WAIT_ACK)) {
            rt_drop(rt, "reply for no waiting send", w);
            break;
        }
        sf_rt__slot_take(rt, x.a);
        sf_rt__complete(r);
        break;
    }
    rt_fail(rt, rc);
}

/* Unlink r's early CTS from rt->pcts (the caller frees it), or NULL. */
static struct rt_pcts *rt_pcts_take(struct sf_rt *rt, struct sf_rt_req *r)
{
    r->seg_flags &= (uint8_t)~RT_SEG_PEND;
    for (struct rt_pcts **pp = &rt->pcts; *pp != NULL; pp = &(*pp)->next) {
        if ((*pp)->req == r) {
            struct rt_pcts *pc = *pp;
            *pp = pc->next;
            return pc;
        }
    }
    return NULL;
}

/* A segment of a segmented rendezvous finished (len bytes moved). */
static void rt_seg_done(struct sf_rt *rt, struct sf_rt_req *r, size_t len)
{
    if (r->kind == SF_RT_REQ_SEND) {
        if (r->seg_flags & RT_SEG_PEND) {
            struct rt_pcts *pc = rt_pcts_take(rt, r);
            if (pc == NULL) {
                rt_fail(rt, SF_ERR_PROTO);
                return;
            }
            int rc = sf_rt__seg_send(rt, r, pc->cookie, pc->n, pc->more);
            free(pc);
            rt_fail(rt, rc);
        } else if (r->seg_flags & RT_SEG_MORE) {
            r->state = RT_S_WAIT_RNDV; /* the receiver asks for the next one */
            r->proto = NULL;
        } else {
            sf_rt__complete(r);
        }
        return;
    }
    const struct sf_rt_layout *lay = sf_rt__lay(r);
    size_t want = rt_seg_next(r);
    size_t k = len < want ? len : want;
    if (lay != NULL && k > 0) {
        lay->unpack(lay->arg, lay->stage, k);
    }
    r->seg_done += k;
    if (k < want || r->seg_done >= r->status.count) {
        r->status.count = r->seg_done;
        sf_rt__complete(r);
        return;
    }
    rt_fail(rt, rt_rndv_data(rt, r));
}

void sf_rt__done_cb(void *arg, struct sf_net *net, void *ctx, int status, size_t len)
{
    struct rt_tr *t = arg;
    struct sf_rt_req *r = ctx;
    (void)net;
    if (r == NULL || (r->state != RT_S_BULK_RECV && r->state != RT_S_BULK_SEND)) {
        rt_drop(t->rt, "stray bulk completion", -1);
        return;
    }
    if (status < 0) {
        r->status.error = status;
        if (r->seg_flags & RT_SEG_PEND) {
            free(rt_pcts_take(t->rt, r));
        }
    } else if (r->seg_flags & RT_SEG_ON) {
        rt_seg_done(t->rt, r, len);
        return;
    } else if (r->kind == SF_RT_REQ_RECV && len < r->status.count) {
        r->status.count = len;
    }
    sf_rt__complete(r);
}
