/* runtime/rt send side: sf_rt_isend (eager in one packet or fragments,
 * eager-sync, rendezvous RTS, self loop-back), the packet output path with
 * its per-peer FIFO for packets the transport refused with -EAGAIN, and
 * starting bulk pushes. Replies (CTS/FIN/SYNC_ACK) are handled in
 * rt_proto.c. Single-threaded. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/base/sf_err.h"
#include "runtime/rt/rt_int.h"

static void rt_pend_queue(struct sf_rt *rt, int dest, struct rt_pend *p)
{
    struct rt_peer *pe = &rt->peers[dest];
    p->next = NULL;
    if (pe->pend_tail != NULL) {
        pe->pend_tail->next = p;
    } else {
        pe->pend_head = p;
    }
    pe->pend_tail = p;
    pe->npend++;
    if (!pe->pend_listed) {
        pe->pend_listed = true;
        rt->pend_peers[rt->npend_peers++] = dest;
    }
}

int sf_rt__send_pkt(struct sf_rt *rt, int dest, struct rt_hdr *h, const struct rt_ext *x,
                    const void *payload, size_t plen, struct sf_rt_req *owner)
{
    struct rt_peer *pe = &rt->peers[dest];
    struct sf_net *net = pe->tr->net;
    size_t xlen = RT_EXT_LEN(h->kind, h->flags);
    if (pe->pend_head == NULL) {
        /* Sequence numbers are given when a packet leaves, so a queued
         * packet removed by cancel leaves no gap. */
        h->seq = pe->tx_seq;
        struct iovec iov[3];
        int n = 0;
        iov[n].iov_base = h;
        iov[n++].iov_len = RT_HDR_LEN;
        if (xlen > 0) {
            iov[n].iov_base = (void *)x;
            iov[n++].iov_len = xlen;
        }
        if (plen > 0) {
            iov[n].iov_base = (void *)payload;
            iov[n++].iov_len = plen;
        }
        int rc = net->ops->send(net, pe->idx, iov, n);
        if (rc == 0) {
            pe->tx_seq++;
            return 0;
        }
        if (rc != -EAGAIN) {
            return rc;
        }
    }
    struct rt_pend *p = rt->pend_cache;
    if (p != NULL) {
        rt->pend_cache = p->next;
        rt->npend_cache--;
    } else if ((p = malloc(sizeof(*p))) == NULL) {
        return -ENOMEM;
    }
    p->req = owner;
    p->payload = payload;
    p->copy = NULL;
    p->plen = plen;
    p->hlen = (uint32_t)(RT_HDR_LEN + xlen);
    if (owner != NULL && owner->state == RT_S_QUEUED && pe->npend < RT_PEND_COPY_MAX &&
        plen <= rt->eager) {
        if (rt->ncopy_cache > 0) {
            p->copy = rt->copy_cache[--rt->ncopy_cache];
        } else {
            p->copy = malloc(rt->eager > 0 ? rt->eager : 1);
        }
        if (p->copy != NULL) {
            if (plen > 0) {
                memcpy(p->copy, payload, plen);
            }
            p->payload = p->copy;
            p->req = NULL;
            sf_rt__complete(owner);
            owner = NULL;
        }
    }
    memcpy(p->data, h, RT_HDR_LEN);
    if (xlen > 0) {
        memcpy(p->data + RT_HDR_LEN, x, xlen);
    }
    if (owner != NULL) {
        owner->proto = p;
    }
    rt_pend_queue(rt, dest, p);
    return 0;
}

int sf_rt__send_ctl(struct sf_rt *rt, int dest, uint8_t kind, uint64_t a, uint64_t b, uint64_t c)
{
    struct rt_hdr h = {.kind = kind, .src = rt->rank};
    struct rt_ext x = {a, b, c};
    return sf_rt__send_pkt(rt, dest, &h, &x, NULL, 0, NULL);
}

#define RT_PEND_CACHE_MAX 1024

void sf_rt__pend_free(struct sf_rt *rt, struct rt_pend *p)
{
    if (p->copy != NULL) {
        if (rt->copy_cache == NULL) {
            rt->copy_cache = malloc(sizeof(void *) * RT_PEND_COPY_MAX);
        }
        if (rt->copy_cache != NULL && rt->ncopy_cache < RT_PEND_COPY_MAX) {
            rt->copy_cache[rt->ncopy_cache++] = p->copy;
        } else {
            free(p->copy);
        }
        p->copy = NULL;
    }
    if (rt->npend_cache < RT_PEND_CACHE_MAX) {
        p->next = rt->pend_cache;
        rt->pend_cache = p;
        rt->npend_cache++;
        return;
    }
    free(p);
}

int sf_rt__flush_pending(struct sf_rt *rt)
{
    int n = 0;
    for (int i = 0; i < rt->npend_peers; i++) {
        int w = rt->pend_peers[i];
        struct rt_peer *pe = &rt->peers[w];
        struct sf_net *net = pe->tr->net;
        while (pe->pend_head != NULL) {
            struct rt_pend *p = pe->pend_head;
            uint32_t seq = pe->tx_seq;
            memcpy(p->data + offsetof(struct rt_hdr, seq), &seq, sizeof(seq));
            struct iovec iov[2] = {{p->data, p->hlen}, {(void *)p->payload, p->plen}};
            int rc = net->ops->send(net, pe->idx, iov, p->plen > 0 ? 2 : 1);
            if (rc == -EAGAIN) {
                break;
            }
            if (rc < 0) {
                return rc;
            }
            pe->tx_seq++;
            pe->npend--;
            pe->pend_head = p->next;
            if (pe->pend_head == NULL) {
                pe->pend_tail = NULL;
            }
            if (p->req != NULL) {
                p->req->proto = NULL;
                if (p->req->state == RT_S_QUEUED || p->req->state == RT_S_FRAGS) {
                    sf_rt__complete(p->req);
                }
            }
            sf_rt__pend_free(rt, p);
            n++;
        }
        if (pe->pend_head == NULL) {
            pe->pend_listed = false;
            rt->pend_peers[i--] = rt->pend_peers[--rt->npend_peers];
        }
    }
    return n;
}

/* Remove a not-yet-sent packet owned by req from its peer's FIFO. */
bool sf_rt__pend_remove(struct sf_rt *rt, struct sf_rt_req *req)
{
    struct rt_peer *pe = &rt->peers[req->peer];
    struct rt_pend *prev = NULL;
    for (struct rt_pend *p = pe->pend_head; p != NULL; prev = p, p = p->next) {
        if (p != req->proto) {
            continue;
        }
        if (prev != NULL) {
            prev->next = p->next;
        } else {
            pe->pend_head = p->next;
        }
        if (pe->pend_tail == p) {
            pe->pend_tail = prev;
        }
        pe->npend--;
        sf_rt__pend_free(rt, p);
        req->proto = NULL;
        return true;
    }
    return false;
}

int sf_rt__start_bulk_send(struct sf_rt *rt, struct sf_rt_req *s)
{
    struct rt_peer *pe = &rt->peers[s->peer];
    struct sf_net *net = pe->tr->net;
    const void *src = s->buf;
    size_t n = s->len;
    uint64_t cookie = s->id;
    if (s->seg_flags & RT_SEG_ON) {
        /* The segment sf_rt__seg_send prepared (len bytes): in the stage,
         * or the span's bytes just before seg_done; its cookie in proto
         * (id stays the request's slot while more segments follow). */
        const struct sf_rt_layout *lay = sf_rt__lay(s);
        src = lay != NULL ? lay->stage : (const char *)s->buf + s->seg_done - n;
        cookie = (uint64_t)(uintptr_t)s->proto;
    }
    s->state = RT_S_BULK_SEND;
    int rc = net->ops->bulk_send(net, pe->idx, cookie, src, n, s);
    if (rc == -EAGAIN) {
        s->state = RT_S_BULK_RETRY;
        sf_rt__list_push(&rt->retry, s);
        return 0;
    }
    return rc;
}

int sf_rt__seg_send(struct sf_rt *rt, struct sf_rt_req *s, uint64_t cookie, size_t n, bool more)
{
    const struct sf_rt_layout *lay = sf_rt__lay(s);
    if (lay != NULL && n > 0) {
        lay->pack(lay->arg, lay->stage, n);
    }
    s->proto = (void *)(uintptr_t)cookie;
    s->len = n;
    s->seg_done += n;
    s->seg_flags = (uint8_t)((s->seg_flags & ~RT_SEG_MORE) | RT_SEG_ON | (more ? RT_SEG_MORE : 0));
    return sf_rt__start_bulk_send(rt, s);
}

/* Self-send: the message never leaves the process. Small standard sends
 * are copied (the send completes at once, as if buffered); large and
 * synchronous ones wait in the unexpected queue without a copy until a
 * receive matches and copies straight from the sender's buffer. */
static int rt_self_send(struct sf_rt *rt, struct sf_rt_req *s)
{
    struct sf_rt_req *r = sf_rt__match_posted(rt, s->ctx, s->src_rank, s->tag);
    struct sf_rt_msg *m;
    bool copy = s->len <= rt->eager && s->mode != SF_RT_SYNC;
    if (r != NULL) {
        copy = false;
    }
    m = sf_rt__msg_alloc(rt, copy ? s->len : 0);
    if (m == NULL) {
        return -ENOMEM;
    }
    m->ctx = s->ctx;
    m->src = s->src_rank;
    m->tag = s->tag;
    m->kind = copy ? RT_K_EAGER : RT_K_RTS;
    m->peer = rt->rank;
    m->len = s->len;
    if (copy) {
        if (s->len > 0) {
            memcpy(m->data, s->buf, s->len);
        }
        sf_rt__complete(s);
    } else {
        m->self = s;
        s->state = RT_S_SELF;
    }
    if (r != NULL) {
        return sf_rt__deliver(rt, r, m);
    }
    if (!copy) {
        s->proto = m;
    }
    sf_rt__mlist_push(&rt->unexp, m);
    return 0;
}

/* An eager message larger than one packet: a MULTI head then FRAG packets,
 * all queued back to back on the peer's stream, payloads referenced (never
 * copied). A standard send completes when its last fragment leaves, a
 * synchronous one on the receiver's SYNC_ACK. Not cancellable. */
static int rt_send_frags(struct sf_rt *rt, struct sf_rt_req *req, int dest, struct rt_hdr *h)
{
    size_t max_pkt = rt->peers[dest].tr->net->max_pkt;
    const unsigned char *buf = req->buf;
    size_t len = req->len;
    bool sync = req->mode == SF_RT_SYNC;
    struct rt_ext x = {0, len, 0};
    if (sync) {
        req->state = RT_S_WAIT_ACK;
        x.a = sf_rt__slot_put(rt, req);
        if (x.a == 0) {
            return -ENOMEM;
        }
    } else {
        req->state = RT_S_FRAGS;
    }
    size_t n = max_pkt - RT_HDR_LEN - 24;
    h->kind = RT_K_EAGER;
    h->flags = RT_F_MULTI | (sync ? RT_F_SYNC : 0);
    h->len = (uint32_t)n;
    int rc = sf_rt__send_pkt(rt, dest, h, &x, buf, n, NULL);
    size_t off = n;
    while (rc == 0 && off < len) {
        n = len - off < max_pkt - RT_HDR_LEN ? len - off : max_pkt - RT_HDR_LEN;
        struct rt_hdr f = {.kind = RT_K_FRAG, .ctx = h->ctx, .src = h->src, .tag = h->tag,
                           .len = (uint32_t)n};
        bool last = off + n == len;
        rc = sf_rt__send_pkt(rt, dest, &f, NULL, buf + off, n, last && !sync ? req : NULL);
        off += n;
    }
    if (rc < 0) {
        if (sync) {
            sf_rt__slot_take(rt, x.a);
        }
        return rc;
    }
    if (!sync && req->proto == NULL) {
        sf_rt__complete(req); /* every fragment left at once */
    }
    return 0;
}

static int rt_isend(struct sf_rt *rt, struct sf_rt_req *req, const void *buf,
                    const struct sf_rt_layout *lay, size_t len, int dest, uint32_t ctx,
                    int src_rank, int tag, enum sf_rt_mode mode)
{
    req->complete = false;
    req->kind = SF_RT_REQ_SEND;
    req->status.source = src_rank;
    req->status.tag = tag;
    req->status.error = 0;
    req->status.cancelled = false;
    req->status.count = len;
    req->next = req->prev = NULL;
    req->buf = (void *)buf;
    req->len = len;
    req->ctx = ctx;
    req->peer = dest;
    req->tag = tag;
    req->src_rank = src_rank;
    req->mode = mode;
    req->id = 0;
    req->proto = NULL;
    req->seg_flags = 0;
    req->seg_done = 0;
    if (dest == SF_RT_PROC_NULL) {
        req->status.source = SF_RT_PROC_NULL;
        req->status.tag = SF_RT_ANY_TAG;
        req->status.count = 0;
        sf_rt__complete(req);
        return 0;
    }
    if (dest < 0 || dest >= rt->size) {
        return -EINVAL;
    }
    if (rt->fatal < 0) {
        return rt->fatal;
    }
    if (lay != NULL) {
        if (len <= rt->eager && len <= lay->stage_len) {
            /* An eager message is packed whole into the stage (at most
             * the eager limit) and goes like a contiguous one. */
            lay->pack(lay->arg, lay->stage, len);
            buf = lay->stage;
            req->buf = lay->stage;
        } else {
            req->buf = (void *)lay;
            req->seg_flags = RT_SEG_LAY;
        }
    }
    if (dest == rt->rank) {
        return rt_self_send(rt, req);
    }
    if (rt->peers[dest].tr == NULL) {
        return SF_ERR_PEER_GONE;
    }
    struct rt_hdr h = {.ctx = ctx, .src = src_rank, .tag = tag};
    struct rt_ext x;
    int rc;
    size_t max_pkt = rt->peers[dest].tr->net->max_pkt;
    if (len <= rt->eager && len > max_pkt - RT_HDR_LEN - 24) {
        return rt_send_frags(rt, req, dest, &h);
    }
    if (len <= rt->eager) {
        h.kind = RT_K_EAGER;
        h.len = (uint32_t)len;
        if (mode != SF_RT_SYNC) {
            req->state = RT_S_QUEUED;
            rc = sf_rt__send_pkt(rt, dest, &h, NULL, buf, len, req);
            if (rc == 0 && req->proto == NULL) {
                sf_rt__complete(req); /* left at once */
            }
            return rc;
        }
        h.flags = RT_F_SYNC;
        req->state = RT_S_WAIT_ACK;
    } else {
        h.kind = RT_K_RTS;
        req->state = RT_S_WAIT_RNDV;
        bool lay_send = (req->seg_flags & RT_SEG_LAY) != 0;
        if (lay_send) {
            h.flags = RT_F_SEG; /* nothing to pull: ask for segments */
        }
        x.b = lay_send ? 0 : (uint64_t)(uintptr_t)buf;
        x.c = len;
    }
    x.a = sf_rt__slot_put(rt, req);
    if (x.a == 0) {
        return -ENOMEM;
    }
    rc = sf_rt__send_pkt(rt, dest, &h, &x, h.kind == RT_K_EAGER ? buf : NULL,
                         h.kind == RT_K_EAGER ? len : 0, req);
    if (rc < 0) {
        sf_rt__slot_take(rt, x.a);
    }
    return rc;
}

int sf_rt_isend(struct sf_rt *rt, struct sf_rt_req *req, const void *buf, size_t len, int dest,
                uint32_t ctx, int src_rank, int tag, enum sf_rt_mode mode)
{
    return rt_isend(rt, req, buf, NULL, len, dest, ctx, src_rank, tag, mode);
}

int sf_rt_isend_layout(struct sf_rt *rt, struct sf_rt_req *req, const struct sf_rt_layout *lay,
                       size_t len, int dest, uint32_t ctx, int src_rank, int tag,
                       enum sf_rt_mode mode)
{
    return rt_isend(rt, req, NULL, lay, len, dest, ctx, src_rank, tag, mode);
}
