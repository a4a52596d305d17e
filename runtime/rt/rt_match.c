/* runtime/rt matching: the posted-receive and unexpected-message queues and
 * the (ctx, source, tag) predicate with MPI's wildcards. Both queues are
 * scanned front to back, so the first match is the oldest, which together
 * with in-order delivery per sender gives MPI's non-overtaking rule.
 * No protocol actions here. Single-threaded. */
#include "config.h"

#include <stdlib.h>

#include "runtime/rt/rt_int.h"

/* Unexpected entries up to this many data bytes are recycled. */
#define RT_MSG_CACHE_CAP 256
#define RT_MSG_CACHE_MAX 1024
#define RT_BIG_CACHE_MAX 64

/* ANY_TAG matches only tags >= 0: negative tags are reserved for the
 * library's internal traffic and never caught by a user's wildcard. */
static inline bool rt_match(uint32_t rctx, int rsrc, int rtag, uint32_t ctx, int src, int tag)
{
    return rctx == ctx && (rsrc == src || rsrc == SF_RT_ANY_SOURCE) &&
           (rtag == tag || (rtag == SF_RT_ANY_TAG && tag >= 0));
}

struct sf_rt_req *sf_rt__match_posted(struct sf_rt *rt, uint32_t ctx, int src, int tag)
{
    if (rt->ckpt_hold) {
        return NULL; /* checkpoint: arrivals wait unmatched (rt_quiesce.c) */
    }
    for (struct sf_rt_req *r = rt->posted.head; r != NULL; r = r->next) {
        if (rt_match(r->ctx, r->peer, r->tag, ctx, src, tag)) {
            sf_rt__list_del(&rt->posted, r);
            return r;
        }
    }
    return NULL;
}

struct sf_rt_msg *sf_rt__match_unexp(struct sf_rt *rt, uint32_t ctx, int src, int tag)
{
    for (struct sf_rt_msg *m = rt->unexp.head; m != NULL; m = m->next) {
        if (rt_match(ctx, src, tag, m->ctx, m->src, m->tag)) {
            return m;
        }
    }
    return NULL;
}

struct sf_rt_msg *sf_rt__msg_alloc(struct sf_rt *rt, size_t datalen)
{
    struct sf_rt_msg *m;
    if (datalen <= RT_MSG_CACHE_CAP && rt->msg_cache != NULL) {
        m = rt->msg_cache;
        rt->msg_cache = m->next;
        rt->nmsg_cache--;
    } else if (datalen > RT_MSG_CACHE_CAP && rt->big_cache != NULL &&
               rt->big_cache->cap >= datalen) {
        m = rt->big_cache;
        rt->big_cache = m->next;
        rt->nbig_cache--;
    } else {
        /* Eager-sized entries are allocated at the eager limit so any
         * later eager message fits a recycled one. */
        size_t cap = datalen <= RT_MSG_CACHE_CAP ? RT_MSG_CACHE_CAP
                     : datalen <= rt->eager    ? rt->eager
                                               : datalen;
        m = malloc(sizeof(*m) + cap);
        if (m == NULL) {
            return NULL;
        }
        m->cap = cap;
    }
    m->next = m->prev = NULL;
    m->self = NULL;
    m->flags = 0;
    m->sreq = 0;
    m->raddr = 0;
    return m;
}

void sf_rt__msg_free(struct sf_rt *rt, struct sf_rt_msg *m)
{
    if (m->cap == RT_MSG_CACHE_CAP && rt->nmsg_cache < RT_MSG_CACHE_MAX) {
        m->next = rt->msg_cache;
        rt->msg_cache = m;
        rt->nmsg_cache++;
        return;
    }
    if (m->cap > RT_MSG_CACHE_CAP && m->cap == rt->eager && rt->nbig_cache < RT_BIG_CACHE_MAX) {
        m->next = rt->big_cache;
        rt->big_cache = m;
        rt->nbig_cache++;
        return;
    }
    free(m);
}
