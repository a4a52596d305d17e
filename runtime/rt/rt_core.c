/* runtime/rt core: engine construction, tunables, accessors, progress and
 * waiting, and the id table that lets replies find their send request.
 * No daemon or transport opening here (rt_wireup.c); no protocol logic
 * (rt_proto.c). Runs on the thread that makes MPI calls. */
#include "config.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/base/sf_err.h"
#include "runtime/base/sf_log.h"
#include "runtime/base/sf_tun.h"
#include "runtime/rt/rt_int.h"

static const struct sf_tun rt_tun_items[] = {
    {"eager_limit", SF_TUN_SIZE, "16k",
     "messages up to this many bytes go eager (fragmented beyond one packet; max 256k)",
     offsetof(struct rt_tun, eager_limit)},
    {"spin", SF_TUN_INT, "2000", "idle polls a wait spins before yielding the core",
     offsetof(struct rt_tun, spin)},
    {"daemon_poll", SF_TUN_INT, "256", "progress calls between polls of the node daemon socket",
     offsetof(struct rt_tun, daemon_poll)},
    {"linger", SF_TUN_DOUBLE, "10s",
     "at finalize, how long to wait for queued packets to leave before closing anyway",
     offsetof(struct rt_tun, linger)},
};
static const struct sf_tun_table sf_rt_tun_table = {"rt", rt_tun_items,
                                             sizeof(rt_tun_items) / sizeof(rt_tun_items[0])};

int sf_rt__new(int rank, int size, struct sf_rt **out)
{
    if (size < 1 || rank < 0 || rank >= size) {
        return -EINVAL;
    }
    struct sf_rt *rt = calloc(1, sizeof(*rt));
    if (rt == NULL) {
        return -ENOMEM;
    }
    rt->rank = rank;
    rt->size = size;
    rt->sfd_fd = -1;
    rt->peers = calloc((size_t)size, sizeof(*rt->peers));
    rt->pend_peers = calloc((size_t)size, sizeof(int));
    if (rt->peers == NULL || rt->pend_peers == NULL) {
        sf_rt__free(rt);
        return -ENOMEM;
    }
    int rc = sf_tun_load(&sf_rt_tun_table, &rt->tun);
    if (rc < 0) {
        sf_rt__free(rt);
        return rc;
    }
    if (rt->tun.spin < 0) {
        rt->tun.spin = 0;
    }
    if (rt->tun.daemon_poll < 1) {
        rt->tun.daemon_poll = 1;
    }
    rt->eager = rt->tun.eager_limit < RT_EAGER_MAX ? rt->tun.eager_limit : RT_EAGER_MAX;
    rt->gen = 1;
    rt->next_cookie = 1;
    for (int i = 0; i < RT_MAX_TR; i++) {
        rt->tr[i].rt = rt;
    }
    *out = rt;
    return 0;
}

void sf_rt_params(FILE *out)
{
    struct rt_tun t;
    if (sf_tun_load(&sf_rt_tun_table, &t) == 0) {
        sf_tun_print(&sf_rt_tun_table, &t, out);
    }
}

struct sf_net_callbacks sf_rt__callbacks(struct sf_rt *rt, int slot)
{
    struct sf_net_callbacks cb = {sf_rt__recv_cb, sf_rt__done_cb, &rt->tr[slot]};
    return cb;
}

int sf_rt__attach(struct sf_rt *rt, int slot, struct sf_net *net, const int *world_of, int npeers)
{
    if (slot < 0 || slot >= RT_MAX_TR || npeers < 0) {
        return -EINVAL;
    }
    struct rt_tr *t = &rt->tr[slot];
    t->world_of = malloc(sizeof(int) * (size_t)(npeers > 0 ? npeers : 1));
    if (t->world_of == NULL) {
        return -ENOMEM;
    }
    memcpy(t->world_of, world_of, sizeof(int) * (size_t)npeers);
    t->npeers = npeers;
    t->net = net;
    if (slot >= rt->ntr) {
        rt->ntr = slot + 1;
    }
    for (int i = 0; i < npeers; i++) {
        int w = world_of[i];
        if (w >= 0 && w < rt->size && w != rt->rank) {
            rt->peers[w].tr = t;
            rt->peers[w].idx = i;
        }
    }
    /* A packet must hold a header, the largest extension and some payload
     * for fragmenting to work; a transport that cannot gets no eager. */
    if (net->max_pkt < RT_HDR_LEN + 24 + 64) {
        rt->eager = 0;
    }
    return 0;
}

void sf_rt__free(struct sf_rt *rt)
{
    if (rt == NULL) {
        return;
    }
    for (int i = 0; i < RT_MAX_TR; i++) {
        if (rt->tr[i].net != NULL) {
            rt->tr[i].net->ops->close(rt->tr[i].net);
        }
        free(rt->tr[i].world_of);
    }
    if (rt->peers != NULL) {
        for (int w = 0; w < rt->size; w++) {
            struct rt_pend *p = rt->peers[w].pend_head;
            while (p != NULL) {
                struct rt_pend *n = p->next;
                free(p->copy);
                free(p);
                p = n;
            }
        }
    }
    for (int w = 0; rt->peers != NULL && w < rt->size; w++) {
        free(rt->peers[w].asm_msg);
    }
    struct sf_rt_msg *m = rt->unexp.head;
    while (m != NULL) {
        struct sf_rt_msg *n = m->next;
        free(m);
        m = n;
    }
    while (rt->msg_cache != NULL) {
        m = rt->msg_cache;
        rt->msg_cache = m->next;
        free(m);
    }
    while (rt->big_cache != NULL) {
        m = rt->big_cache;
        rt->big_cache = m->next;
        free(m);
    }
    while (rt->pend_cache != NULL) {
        struct rt_pend *p = rt->pend_cache;
        rt->pend_cache = p->next;
        free(p);
    }
    while (rt->pcts != NULL) {
        struct rt_pcts *pc = rt->pcts;
        rt->pcts = pc->next;
        free(pc);
    }
    for (int i = 0; i < rt->ncopy_cache; i++) {
        free(rt->copy_cache[i]);
    }
    free(rt->copy_cache);
    if (rt->rx != NULL) {
        sf_wire_rx_free(rt->rx);
        free(rt->rx);
    }
    free(rt->peers);
    free(rt->pend_peers);
    free(rt->slots);
    free(rt->slot_free);
    free(rt->node_ranks);
    free(rt->hostname);
    free(rt);
}

/* Ids: the slot index in the low 32 bits, a generation above, so a late or
 * forged reply naming a finished request finds nothing. */
uint64_t sf_rt__slot_put(struct sf_rt *rt, struct sf_rt_req *req)
{
    if (rt->nfree == 0) {
        uint32_t n = rt->nslots ? rt->nslots * 2 : 64;
        struct sf_rt_req **s = realloc(rt->slots, sizeof(*s) * n);
        if (s == NULL) {
            return 0;
        }
        rt->slots = s;
        uint32_t *f = realloc(rt->slot_free, sizeof(*f) * n);
        if (f == NULL) {
            return 0;
        }
        rt->slot_free = f;
        for (uint32_t i = n; i > rt->nslots; i--) {
            rt->slots[i - 1] = NULL;
            rt->slot_free[rt->nfree++] = i - 1;
        }
        rt->nslots = n;
    }
    uint32_t slot = rt->slot_free[--rt->nfree];
    rt->slots[slot] = req;
    if (++rt->gen == 0) {
        rt->gen = 1;
    }
    req->id = (uint64_t)rt->gen << 32 | slot;
    return req->id;
}

struct sf_rt_req *sf_rt__slot_find(struct sf_rt *rt, uint64_t id)
{
    uint32_t slot = (uint32_t)id;
    if (slot >= rt->nslots || rt->slots[slot] == NULL || rt->slots[slot]->id != id) {
        return NULL;
    }
    return rt->slots[slot];
}

struct sf_rt_req *sf_rt__slot_take(struct sf_rt *rt, uint64_t id)
{
    uint32_t slot = (uint32_t)id;
    if (slot >= rt->nslots) {
        return NULL;
    }
    struct sf_rt_req *r = rt->slots[slot];
    if (r == NULL || r->id != id) {
        return NULL;
    }
    rt->slots[slot] = NULL;
    rt->slot_free[rt->nfree++] = slot;
    r->id = 0;
    return r;
}

int sf_rt_rank(const struct sf_rt *rt)
{
    return rt->rank;
}

int sf_rt_size(const struct sf_rt *rt)
{
    return rt->size;
}

const int *sf_rt_node_ranks(const struct sf_rt *rt, int *count)
{
    *count = rt->nnode_ranks;
    return rt->node_ranks;
}

const char *sf_rt_hostname(const struct sf_rt *rt)
{
    return rt->hostname != NULL ? rt->hostname : "localhost";
}

uint64_t sf_rt_job(const struct sf_rt *rt)
{
    return rt->job;
}

size_t sf_rt_eager_limit(const struct sf_rt *rt)
{
    return rt->eager;
}

int sf_rt_progress(struct sf_rt *rt)
{
    if (rt->fatal < 0) {
        return rt->fatal;
    }
    int n = 0;
    for (int i = 0; i < rt->ntr; i++) {
        struct sf_net *net = rt->tr[i].net;
        if (net == NULL) {
            continue;
        }
        int rc = net->ops->progress(net);
        if (rc < 0) {
            SF_ERR("transport %s failed: %s", net->ops->name, sf_strerror(rc));
            rt->fatal = rc;
            return rc;
        }
        n += rc;
    }
    if (rt->npend_peers > 0) {
        int rc = sf_rt__flush_pending(rt);
        if (rc < 0) {
            rt->fatal = rc;
            return rc;
        }
        n += rc;
    }
    if (rt->retry.head != NULL) {
        int rc = sf_rt__retry(rt);
        if (rc < 0) {
            rt->fatal = rc;
            return rc;
        }
        n += rc;
    }
    if (rt->daemon_poll != NULL && ++rt->npoll >= (unsigned)rt->tun.daemon_poll) {
        rt->npoll = 0;
        int rc = rt->daemon_poll(rt);
        if (rc < 0) {
            rt->fatal = rc;
            return rc;
        }
    }
    if (rt->fatal < 0) {
        return rt->fatal;
    }
    return n;
}

void sf_rt_idle(struct sf_rt *rt, unsigned idle)
{
    if (rt->oversub || idle > (unsigned)rt->tun.spin) {
        sched_yield();
    }
}

int sf_rt_wait(struct sf_rt *rt, struct sf_rt_req *req)
{
    unsigned idle = 0;
    while (!req->complete) {
        int rc = sf_rt_progress(rt);
        if (rc < 0) {
            return rc;
        }
        if (req->complete) {
            break;
        }
        if (rc == 0) {
            sf_rt_idle(rt, ++idle);
        } else {
            idle = 0;
        }
    }
    return 0;
}
