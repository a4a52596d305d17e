/* runtime/rt receive side: sf_rt_irecv, probe/mprobe, imrecv and cancel.
 * Matching itself is rt_match.c; moving the data is rt_proto.c.
 * Single-threaded. */
#include "config.h"

#include <errno.h>

#include "runtime/base/sf_err.h"
#include "runtime/rt/rt_int.h"

static void rt_recv_init(struct sf_rt_req *req, void *buf, size_t len, int source, uint32_t ctx,
                         int tag)
{
    req->complete = false;
    req->kind = SF_RT_REQ_RECV;
    req->status.source = source;
    req->status.tag = tag;
    req->status.error = 0;
    req->status.cancelled = false;
    req->status.count = 0;
    req->next = req->prev = NULL;
    req->buf = buf;
    req->len = len;
    req->ctx = ctx;
    req->peer = source;
    req->tag = tag;
    req->src_rank = -1;
    req->mode = 0;
    req->id = 0;
    req->proto = NULL;
    req->seg_flags = 0;
    req->seg_done = 0;
}

static void rt_proc_null(struct sf_rt_req *req)
{
    req->status.source = SF_RT_PROC_NULL;
    req->status.tag = SF_RT_ANY_TAG;
    req->status.count = 0;
    sf_rt__complete(req);
}

static int rt_irecv(struct sf_rt *rt, struct sf_rt_req *req, void *buf,
                    const struct sf_rt_layout *lay, size_t len, int source, uint32_t ctx, int tag)
{
    rt_recv_init(req, buf, len, source, ctx, tag);
    if (lay != NULL) {
        req->buf = (void *)lay;
        req->seg_flags = RT_SEG_LAY;
    }
    if (source == SF_RT_PROC_NULL) {
        rt_proc_null(req);
        return 0;
    }
    if (source < SF_RT_ANY_SOURCE) {
        return -EINVAL;
    }
    if (rt->fatal < 0) {
        return rt->fatal;
    }
    struct sf_rt_msg *m = rt->unexp.head ? sf_rt__match_unexp(rt, ctx, source, tag) : NULL;
    if (m != NULL) {
        sf_rt__mlist_del(&rt->unexp, m);
        if (m->self != NULL) {
            m->self->proto = NULL;
        }
        return sf_rt__deliver(rt, req, m);
    }
    req->state = RT_S_POSTED;
    sf_rt__list_push(&rt->posted, req);
    return 0;
}

int sf_rt_irecv(struct sf_rt *rt, struct sf_rt_req *req, void *buf, size_t len, int source,
                uint32_t ctx, int tag)
{
    return rt_irecv(rt, req, buf, NULL, len, source, ctx, tag);
}

int sf_rt_irecv_layout(struct sf_rt *rt, struct sf_rt_req *req, const struct sf_rt_layout *lay,
                       size_t len, int source, uint32_t ctx, int tag)
{
    return rt_irecv(rt, req, NULL, lay, len, source, ctx, tag);
}

int sf_rt_iprobe(struct sf_rt *rt, int source, uint32_t ctx, int tag, bool *flag,
                 struct sf_rt_status *st, struct sf_rt_msg **msg)
{
    if (msg != NULL) {
        *msg = NULL;
    }
    if (source == SF_RT_PROC_NULL) {
        *flag = true;
        st->source = SF_RT_PROC_NULL;
        st->tag = SF_RT_ANY_TAG;
        st->error = 0;
        st->cancelled = false;
        st->count = 0;
        return 0;
    }
    struct sf_rt_msg *m = sf_rt__match_unexp(rt, ctx, source, tag);
    if (m == NULL) {
        /* Probing must make progress or a polling loop never sees anything. */
        int rc = sf_rt_progress(rt);
        if (rc < 0) {
            return rc;
        }
        m = sf_rt__match_unexp(rt, ctx, source, tag);
    }
    if (m == NULL) {
        *flag = false;
        return 0;
    }
    *flag = true;
    st->source = m->src;
    st->tag = m->tag;
    st->error = 0;
    st->cancelled = false;
    st->count = m->len;
    if (msg != NULL) {
        sf_rt__mlist_del(&rt->unexp, m);
        if (m->self != NULL) {
            /* No longer cancellable: it belongs to the prober now. */
            m->self->proto = NULL;
        }
        *msg = m;
    }
    return 0;
}

int sf_rt_imrecv(struct sf_rt *rt, struct sf_rt_req *req, void *buf, size_t len,
                 struct sf_rt_msg *msg)
{
    if (msg == NULL) {
        rt_recv_init(req, buf, len, SF_RT_PROC_NULL, 0, SF_RT_ANY_TAG);
        rt_proc_null(req);
        return 0;
    }
    rt_recv_init(req, buf, len, msg->src, msg->ctx, msg->tag);
    return sf_rt__deliver(rt, req, msg);
}

int sf_rt_imrecv_layout(struct sf_rt *rt, struct sf_rt_req *req, const struct sf_rt_layout *lay,
                        size_t len, struct sf_rt_msg *msg)
{
    if (msg == NULL) {
        return sf_rt_imrecv(rt, req, NULL, len, NULL);
    }
    rt_recv_init(req, (void *)lay, len, msg->src, msg->ctx, msg->tag);
    req->seg_flags = RT_SEG_LAY;
    return sf_rt__deliver(rt, req, msg);
}

int sf_rt_cancel(struct sf_rt *rt, struct sf_rt_req *req)
{
    if (req->complete) {
        return 0;
    }
    if (req->kind == SF_RT_REQ_RECV) {
        if (req->state == RT_S_POSTED) {
            sf_rt__list_del(&rt->posted, req);
            req->status.cancelled = true;
            req->status.count = 0;
            sf_rt__complete(req);
        }
        /* Otherwise already matched: it completes normally. */
        return 0;
    }
    if (req->state == RT_S_SELF && req->proto != NULL) {
        struct sf_rt_msg *m = req->proto;
        sf_rt__mlist_del(&rt->unexp, m);
        sf_rt__msg_free(rt, m);
    } else if ((req->state == RT_S_WAIT_RNDV || req->state == RT_S_WAIT_ACK ||
                req->state == RT_S_QUEUED) &&
               req->proto != NULL && sf_rt__pend_remove(rt, req)) {
        /* The announcing packet never left this process. */
        if (req->state != RT_S_QUEUED) {
            sf_rt__slot_take(rt, req->id);
        }
    } else {
        /* Already announced to the receiver. MPI allows a send cancel to
         * fail; the request then completes normally (status.cancelled
         * false). Withdrawing an announced RTS needs a protocol round
         * trip that is not implemented. */
        return 0;
    }
    req->proto = NULL;
    req->status.cancelled = true;
    sf_rt__complete(req);
    return 0;
}
