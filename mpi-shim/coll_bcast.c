/* Broadcast: a binomial tree for short messages (log p latency); for long
 * ones van de Geijn's binomial scatter of p chunks followed by a ring
 * allgather, which moves about 2n bytes per rank instead of n log p at the
 * root. Both address ranks relative to the root. Single-threaded. */
#include "mpi-shim/coll_int.h"
#include "runtime/rt/sf_rt.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

int sf_coll__bcast_binomial(const struct sf_coll_comm *c, void *buf, size_t len, int root)
{
    int p = c->size;
    int vr = (c->rank - root + p) % p;
    int mask = 1;
    /* Receive from the parent: the rank that differs in our lowest set bit. */
    while (mask < p) {
        if (vr & mask) {
            int parent = (vr - mask + root) % p;
            int rc = sf_coll__recv(c, buf, len, parent, SF_COLL__TAG(SF_COLL__T_BCAST, 0));
            if (rc != 0) {
                return rc;
            }
            break;
        }
        mask <<= 1;
    }
    /* Forward to all children at once, farthest subtree first so it starts
     * earliest: with rendezvous by pull the children copy concurrently
     * instead of one after the other. */
    struct sf_rt_req reqs[32];
    int nreq = 0, rc = 0;
    for (mask >>= 1; mask > 0 && rc == 0; mask >>= 1) {
        if (vr + mask < p) {
            int child = (vr + mask + root) % p;
            memset(&reqs[nreq], 0, sizeof(reqs[nreq]));
            rc = sf_rt_isend(c->rt, &reqs[nreq], buf, len, c->world[child], c->ctx, c->rank,
                             SF_COLL__TAG(SF_COLL__T_BCAST, 0), SF_RT_STANDARD);
            nreq += rc == 0;
        }
    }
    /* Posted sends read buf: wait for each, even after an error. */
    for (int i = 0; i < nreq; i++) {
        int w = sf_coll__wait(c, &reqs[i]);
        rc = rc != 0 ? rc : w;
    }
    return rc;
}

/* Byte range of chunk j when len bytes are cut into p chunks of cs bytes
 * (the last ones may be short or empty). */
static size_t chunk_off(size_t cs, size_t len, int64_t j)
{
    uint64_t o = (uint64_t)j * cs;
    return o < len ? (size_t)o : len;
}

static int bcast_scatter_ring(const struct sf_coll_comm *c, unsigned char *buf, size_t len,
                              int root)
{
    int p = c->size;
    int vr = (c->rank - root + p) % p;
    size_t cs = (len + (size_t)p - 1) / (size_t)p;
#define REAL(v) (((v) + root) % p)

    /* Scatter: the subtree of virtual rank v (v .. v+lowbit(v)-1) gets the
     * chunks with those indices; both ends compute the range, so no sizes
     * travel. */
    int mask = 1;
    while (mask < p) {
        if (vr & mask) {
            int hi = vr + mask < p ? vr + mask : p;
            size_t lo_b = chunk_off(cs, len, vr), hi_b = chunk_off(cs, len, hi);
            if (hi_b > lo_b) {
                int rc = sf_coll__recv(c, buf + lo_b, hi_b - lo_b, REAL(vr - mask),
                                       SF_COLL__TAG(SF_COLL__T_BCAST_SCATTER, 0));
                if (rc != 0) {
                    return rc;
                }
            }
            break;
        }
        mask <<= 1;
    }
    for (mask >>= 1; mask > 0; mask >>= 1) {
        int child = vr + mask;
        if (child < p) {
            int hi = child + mask < p ? child + mask : p;
            size_t lo_b = chunk_off(cs, len, child), hi_b = chunk_off(cs, len, hi);
            if (hi_b > lo_b) {
                int rc = sf_coll__send(c, buf + lo_b, hi_b - lo_b, REAL(child),
                                       SF_COLL__TAG(SF_COLL__T_BCAST_SCATTER, 0));
                if (rc != 0) {
                    return rc;
                }
            }
        }
    }

    /* Ring allgather: in step s pass chunk vr-s right, take vr-s-1 from the
     * left. Empty chunks are skipped on both sides alike. */
    int right = REAL((vr + 1) % p), left = REAL((vr - 1 + p) % p);
    for (int s = 0; s < p - 1; s++) {
        int sj = (vr - s + p) % p, rj = (vr - s - 1 + 2 * p) % p;
        size_t so = chunk_off(cs, len, sj), se = chunk_off(cs, len, sj + 1);
        size_t ro = chunk_off(cs, len, rj), re = chunk_off(cs, len, rj + 1);
        int tag = SF_COLL__TAG(SF_COLL__T_BCAST_RING, s);
        int rc;
        if (se > so && re > ro) {
            rc = sf_coll__sendrecv(c, buf + so, se - so, right, buf + ro, re - ro, left, tag);
        } else if (se > so) {
            rc = sf_coll__send(c, buf + so, se - so, right, tag);
        } else if (re > ro) {
            rc = sf_coll__recv(c, buf + ro, re - ro, left, tag);
        } else {
            rc = 0;
        }
        if (rc != 0) {
            return rc;
        }
    }
#undef REAL
    return 0;
}

int sf_coll_bcast(const struct sf_coll_comm *c, void *buf, size_t bytes, int root)
{
    if (root < 0 || root >= c->size) {
        return -EINVAL;
    }
    if (bytes == 0 || c->size == 1) {
        return 0;
    }
    if (c->size > 2 && bytes >= sf_coll__tun()->bcast_large && bytes >= (size_t)c->size) {
        return bcast_scatter_ring(c, buf, bytes, root);
    }
    return sf_coll__bcast_binomial(c, buf, bytes, root);
}
