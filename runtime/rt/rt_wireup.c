/* runtime/rt wire-up: read the environment sfd set, publish this rank's
 * addresses, wait for the job's address table, open the transports and
 * route every world rank; later, poll the daemon socket for KILL/EOF and
 * CKPT_PREPARE (rt_quiesce.c runs the checkpoint; sf_rt__reopen below
 * wires up again after it), and finalize/abort. Without a daemon it builds a one-rank world (singleton).
 * Not the message engine (rt_send/recv/proto.c). Single-threaded.
 *
 * Address blob this rank publishes (opaque to sfd; big-endian):
 *   off size field
 *     0    1 version (1)
 *     1    4 node id
 *     5    4 local rank
 *     9    4 pid
 *    13    4 n: libfabric address length (0 = no libfabric endpoint)
 *    17    n libfabric address (fi_getname)
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>

#include "runtime/base/sf_env.h"
#include "runtime/base/sf_err.h"
#include "runtime/base/sf_log.h"
#include "runtime/base/sf_loop.h"
#include "runtime/base/sf_wire.h"
#include "runtime/rt/rt_int.h"

#define RT_BLOB_VERSION 1
#define RT_BLOB_HDR 17
#define RT_SLOT_SHM 0
#define RT_SLOT_OFI 1

struct rt_blob {
    uint32_t node, lrank, pid, alen;
    const uint8_t *addr;
};

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int rt_env_long(const char *name, long lo, long hi, long *out)
{
    const char *s = getenv(name);
    if (s == NULL || *s == '\0') {
        SF_ERR("%s is not set: was this rank started by sfd?", name);
        return SF_ERR_CONFIG;
    }
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi) {
        SF_ERR("%s=%s is not a number in [%ld, %ld]", name, s, lo, hi);
        return SF_ERR_CONFIG;
    }
    *out = v;
    return 0;
}

static char *rt_hostname(void)
{
    const char *h = getenv(SF_ENV_HOST);
    if (h != NULL && *h != '\0') {
        return strdup(h);
    }
    char buf[256];
    if (gethostname(buf, sizeof(buf)) != 0) {
        strcpy(buf, "localhost");
    }
    buf[sizeof(buf) - 1] = '\0';
    return strdup(buf);
}

static int rt_send_frame(struct sf_rt *rt, struct sf_wire_enc *e)
{
    int rc = sf_wire_enc_end(e);
    if (rc == 0) {
        rc = sf_wire_write_all(rt->sfd_fd, e->buf, e->len);
    }
    sf_wire_enc_free(e);
    return rc;
}

/* A frame from sfd outside wire-up: KILL or EOF end the rank here, so a
 * rank stuck in a wait loop does not outlive its job. */
static int rt_daemon_poll(struct sf_rt *rt)
{
    for (;;) {
        long n = sf_wire_rx_fill(rt->rx, rt->sfd_fd);
        if (n == 0) {
            SF_ERR("lost the connection to the node daemon; exiting");
            _exit(1);
        }
        if (n == -EAGAIN) {
            break;
        }
        if (n < 0) {
            SF_ERR("node daemon socket: %s; exiting", sf_strerror((int)n));
            _exit(1);
        }
    }
    struct sf_wire_msg msg;
    int rc;
    while ((rc = sf_wire_rx_next(rt->rx, &msg)) == 1) {
        if (msg.op == SF_OP_KILL) {
            SF_ERR("job ended by the node daemon: %.*s; exiting", (int)msg.f[0].len,
                   (const char *)msg.f[0].p);
            _exit(1);
        }
        if (msg.op == SF_OP_CKPT_PREPARE && (msg.f[2].u & RT_CKPT_GONE)) {
            /* A peer finalized and ended during a checkpoint: its marker
             * will never come. */
            int w = (int)(msg.f[2].u & ~(uint64_t)RT_CKPT_GONE);
            if (w >= 0 && w < rt->size) {
                rt->peers[w].final = true;
            }
            continue;
        }
        if (msg.op == SF_OP_CKPT_PREPARE && !rt->ckpt_busy) {
            int crc = sf_rt__ckpt_run(rt, (uint32_t)msg.f[1].u);
            if (crc < 0) {
                return crc;
            }
            continue; /* msg pointed into rx, which the checkpoint used */
        }
        SF_DBG("ignoring control message %u from sfd", msg.op);
    }
    if (rc < 0) {
        SF_ERR("corrupt stream from the node daemon (%s); exiting", sf_strerror(rc));
        _exit(1);
    }
    return 0;
}

/* Block until sfd sends ADDR_TABLE; *msg points into rt->rx. */
static int rt_wait_table(struct sf_rt *rt, struct sf_wire_msg *msg)
{
    for (;;) {
        int rc = sf_wire_rx_next(rt->rx, msg);
        if (rc < 0) {
            SF_ERR("corrupt stream from the node daemon: %s", sf_strerror(rc));
            return rc;
        }
        if (rc == 1) {
            if (msg->op == SF_OP_ADDR_TABLE) {
                return 0;
            }
            if (msg->op == SF_OP_KILL) {
                SF_ERR("job ended by the node daemon during start-up: %.*s",
                       (int)msg->f[0].len, (const char *)msg->f[0].p);
                return SF_ERR_ABORTED;
            }
            SF_DBG("ignoring control message %u during wire-up", msg->op);
            continue;
        }
        long n = sf_wire_rx_fill(rt->rx, rt->sfd_fd);
        if (n == 0) {
            SF_ERR("node daemon closed the connection during start-up");
            return SF_ERR_PEER_GONE;
        }
        if (n == -EAGAIN) {
            struct pollfd p = {rt->sfd_fd, POLLIN, 0};
            if (poll(&p, 1, -1) < 0 && errno != EINTR) {
                return -errno;
            }
        } else if (n < 0 && n != -EINTR) {
            return (int)n;
        }
    }
}

static int rt_parse_blobs(const struct sf_wire_val *v, int size, struct rt_blob *out)
{
    const uint8_t *p = v->p, *end = v->p + v->len;
    for (int i = 0; i < size; i++) {
        if (end - p < 4) {
            return SF_ERR_PROTO;
        }
        uint32_t len = get32(p);
        p += 4;
        if ((size_t)(end - p) < len || len < RT_BLOB_HDR || p[0] != RT_BLOB_VERSION) {
            return SF_ERR_PROTO;
        }
        out[i].node = get32(p + 1);
        out[i].lrank = get32(p + 5);
        out[i].pid = get32(p + 9);
        out[i].alen = get32(p + 13);
        if (out[i].alen != len - RT_BLOB_HDR) {
            return SF_ERR_PROTO;
        }
        out[i].addr = p + RT_BLOB_HDR;
        p += len;
    }
    return p == end ? 0 : SF_ERR_PROTO;
}

static int rt_open_shm(struct sf_rt *rt, int shm_fd, long lrank, long lsize,
                       const struct rt_blob *b)
{
    int *world_of = malloc(sizeof(int) * (size_t)lsize);
    const void **addrs = calloc((size_t)lsize, sizeof(void *));
    size_t *lens = calloc((size_t)lsize, sizeof(size_t));
    int rc = 0;
    if (world_of == NULL || addrs == NULL || lens == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    for (long i = 0; i < lsize; i++) {
        world_of[i] = -1;
    }
    for (int k = 0; k < rt->nnode_ranks; k++) {
        int w = rt->node_ranks[k];
        if (b[w].lrank >= (uint32_t)lsize || world_of[b[w].lrank] != -1) {
            SF_ERR("address table: bad local rank %u for rank %d", b[w].lrank, w);
            rc = SF_ERR_PROTO;
            goto out;
        }
        world_of[b[w].lrank] = w;
    }
    struct sf_net_callbacks cb = sf_rt__callbacks(rt, RT_SLOT_SHM);
    struct sf_net *net;
    rc = sf_net_shm_open(shm_fd, (int)lrank, (int)lsize, &cb, &net);
    if (rc < 0) {
        SF_ERR("cannot open shared memory transport: %s", sf_strerror(rc));
        goto out;
    }
    rc = net->ops->insert(net, (int)lsize, addrs, lens);
    if (rc == 0) {
        rc = sf_rt__attach(rt, RT_SLOT_SHM, net, world_of, (int)lsize);
    }
    if (rc < 0) {
        if (rt->tr[RT_SLOT_SHM].net == NULL) {
            net->ops->close(net);
        }
    }
out:
    free(world_of);
    free(addrs);
    free(lens);
    return rc;
}

static int rt_insert_ofi(struct sf_rt *rt, struct sf_net *net, const struct rt_blob *b)
{
    int size = rt->size;
    int *world_of = malloc(sizeof(int) * (size_t)size);
    const void **addrs = calloc((size_t)size, sizeof(void *));
    size_t *lens = calloc((size_t)size, sizeof(size_t));
    int rc = -ENOMEM;
    if (world_of != NULL && addrs != NULL && lens != NULL) {
        for (int w = 0; w < size; w++) {
            world_of[w] = w;
            addrs[w] = b[w].addr;
            lens[w] = b[w].alen;
        }
        rc = net->ops->insert(net, size, addrs, lens);
        if (rc == 0) {
            rc = sf_rt__attach(rt, RT_SLOT_OFI, net, world_of, size);
        } else {
            SF_ERR("libfabric: cannot insert peer addresses: %s", sf_strerror(rc));
        }
        /* Ranks that published no fabric address are not reachable here. */
        for (int w = 0; rc == 0 && w < size; w++) {
            if (b[w].alen == 0 && rt->peers[w].tr == &rt->tr[RT_SLOT_OFI]) {
                rt->peers[w].tr = NULL;
            }
        }
    }
    free(world_of);
    free(addrs);
    free(lens);
    return rc;
}

static int rt_singleton(struct sf_rt **out)
{
    struct sf_rt *rt;
    int rc = sf_rt__new(0, 1, &rt);
    if (rc < 0) {
        return rc;
    }
    rt->node_ranks = malloc(sizeof(int));
    rt->hostname = rt_hostname();
    if (rt->node_ranks == NULL || rt->hostname == NULL) {
        sf_rt__free(rt);
        return -ENOMEM;
    }
    rt->node_ranks[0] = 0;
    rt->nnode_ranks = 1;
    *out = rt;
    return -ENOENT;
}

/* Without SF_SFD_FD this returns -ENOENT AND a usable one-rank engine in
 * *out (rank 0 of 1, self-sends only), which the caller finalizes as usual;
 * the MPI layer runs a singleton on it. */
int sf_rt_init(struct sf_rt **out)
{
    *out = NULL;
    if (getenv(SF_ENV_SFD_FD) == NULL) {
        return rt_singleton(out);
    }
    long job = 0, rank, size, lrank, lsize, node, sfd_fd, shm_fd = -1;
    const char *js = getenv(SF_ENV_JOB);
    if (js != NULL) {
        job = (long)strtoull(js, NULL, 10);
    }
    int rc;
    if ((rc = rt_env_long(SF_ENV_SIZE, 1, 1 << 24, &size)) < 0 ||
        (rc = rt_env_long(SF_ENV_RANK, 0, size - 1, &rank)) < 0 ||
        (rc = rt_env_long(SF_ENV_LOCAL_SIZE, 1, size, &lsize)) < 0 ||
        (rc = rt_env_long(SF_ENV_LOCAL_RANK, 0, lsize - 1, &lrank)) < 0 ||
        (rc = rt_env_long(SF_ENV_NODE, 0, 1 << 24, &node)) < 0 ||
        (rc = rt_env_long(SF_ENV_SFD_FD, 0, 1 << 20, &sfd_fd)) < 0) {
        return rc;
    }
    if (getenv(SF_ENV_SHM_FD) != NULL && (rc = rt_env_long(SF_ENV_SHM_FD, 0, 1 << 20, &shm_fd)) < 0) {
        return rc;
    }
    char tag[32];
    snprintf(tag, sizeof(tag), "rank %ld", rank);
    sf_log_init(tag);

    struct sf_rt *rt;
    if ((rc = sf_rt__new((int)rank, (int)size, &rt)) < 0) {
        return rc;
    }
    rt->job = (uint64_t)job;
    rt->sfd_fd = (int)sfd_fd;
    const char *ov = getenv(SF_ENV_OVERSUB);
    rt->oversub = ov != NULL && strcmp(ov, "1") == 0;
    rt->hostname = rt_hostname();
    rt->rx = malloc(sizeof(*rt->rx));
    if (rt->hostname == NULL || rt->rx == NULL) {
        rc = -ENOMEM;
        goto fail;
    }
    sf_wire_rx_init(rt->rx);

    /* libfabric costs start-up time: open it only when some peer is off
     * this node, the user forced a provider, or sfd gave no shared segment
     * for same-node peers. Decided before the table arrives because our
     * fabric address must be in the blob. */
    bool fi_forced = getenv("FI_PROVIDER") != NULL;
    bool use_shm = shm_fd >= 0 && !fi_forced && lsize > 1;
    bool need_ofi = fi_forced || lsize < size || (lsize > 1 && !use_shm);
    uint8_t blob[RT_BLOB_HDR + 1024];
    size_t alen = 0;
    struct sf_net *ofi = NULL;
    if (need_ofi) {
        /* Every rank of a one-node job is here: keep the tcp provider on
         * loopback, so all ranks pick the same interface and address
         * format and no traffic leaves the host. A user's choice wins. */
        if (lsize == size) {
            setenv("FI_TCP_IFACE", "lo", 0);
        }
        struct sf_net_callbacks cb = sf_rt__callbacks(rt, RT_SLOT_OFI);
        rc = sf_net_ofi_open(&cb, &ofi);
        if (rc < 0) {
            SF_ERR("cannot open a libfabric endpoint%s: %s",
                   fi_forced ? " (FI_PROVIDER is set)" : "", sf_strerror(rc));
            goto fail;
        }
        rt->tr[RT_SLOT_OFI].net = ofi;
        if (RT_SLOT_OFI >= rt->ntr) {
            rt->ntr = RT_SLOT_OFI + 1;
        }
        alen = sizeof(blob) - RT_BLOB_HDR;
        rc = ofi->ops->getname(ofi, blob + RT_BLOB_HDR, &alen);
        if (rc < 0) {
            SF_ERR("libfabric getname: %s", sf_strerror(rc));
            goto fail;
        }
    }
    blob[0] = RT_BLOB_VERSION;
    put32(blob + 1, (uint32_t)node);
    put32(blob + 5, (uint32_t)lrank);
    put32(blob + 9, (uint32_t)getpid());
    put32(blob + 13, (uint32_t)alen);

    struct sf_wire_enc e;
    sf_wire_enc_begin(&e, SF_OP_RANK_HELLO, rt->wire_seq++);
    sf_wire_put_u64(&e, rt->job);
    sf_wire_put_i32(&e, (int32_t)rank);
    sf_wire_put_i32(&e, (int32_t)getpid());
    if ((rc = rt_send_frame(rt, &e)) < 0) {
        SF_ERR("cannot talk to the node daemon: %s", sf_strerror(rc));
        goto fail;
    }
    sf_wire_enc_begin(&e, SF_OP_RANK_ADDR, rt->wire_seq++);
    sf_wire_put_i32(&e, (int32_t)rank);
    sf_wire_put_bytes(&e, blob, RT_BLOB_HDR + alen);
    if ((rc = rt_send_frame(rt, &e)) < 0) {
        SF_ERR("cannot talk to the node daemon: %s", sf_strerror(rc));
        goto fail;
    }

    struct sf_wire_msg msg;
    if ((rc = rt_wait_table(rt, &msg)) < 0) {
        goto fail;
    }
    struct rt_blob *b = calloc((size_t)size, sizeof(*b));
    if (b == NULL) {
        rc = -ENOMEM;
        goto fail;
    }
    if (msg.f[1].len != (uint32_t)size || rt_parse_blobs(&msg.f[2], (int)size, b) < 0) {
        SF_ERR("malformed address table from the node daemon");
        free(b);
        rc = SF_ERR_PROTO;
        goto fail;
    }
    rt->node_ranks = malloc(sizeof(int) * (size_t)size);
    if (rt->node_ranks == NULL) {
        free(b);
        rc = -ENOMEM;
        goto fail;
    }
    for (int w = 0; w < size; w++) {
        if (sf_wire_i32v_get(&msg.f[1], (uint32_t)w) == (int32_t)node) {
            rt->node_ranks[rt->nnode_ranks++] = w;
        }
    }
    if (rt->nnode_ranks != lsize) {
        SF_ERR("address table puts %d ranks on this node, environment says %ld",
               rt->nnode_ranks, lsize);
        free(b);
        rc = SF_ERR_PROTO;
        goto fail;
    }
    /* ofi first: shm then takes over the same-node routes. */
    if (ofi != NULL) {
        rt->tr[RT_SLOT_OFI].net = NULL; /* attach sets it again */
        rc = rt_insert_ofi(rt, ofi, b);
        if (rc < 0) {
            rt->tr[RT_SLOT_OFI].net = ofi;
            free(b);
            goto fail;
        }
    }
    if (use_shm) {
        rc = rt_open_shm(rt, (int)shm_fd, lrank, lsize, b);
        if (rc < 0) {
            free(b);
            goto fail;
        }
    }
    free(b);
    for (int w = 0; w < size; w++) {
        if (w != rank && rt->peers[w].tr == NULL) {
            SF_WARN("rank %d is not reachable by any transport", w);
        }
    }
    int fl = fcntl(rt->sfd_fd, F_GETFL);
    if (fl >= 0) {
        fcntl(rt->sfd_fd, F_SETFL, fl | O_NONBLOCK);
    }
    rt->daemon_poll = rt_daemon_poll;
    rt->ckpt_node = (int)node;
    rt->ckpt_lrank = (int)lrank;
    rt->ckpt_lsize = (int)lsize;
    rt->ckpt_ofi = ofi != NULL;
    rt->ckpt_shm = use_shm;
    rt->ckpt_shm_fd = use_shm ? (int)shm_fd : -1;
    SF_DBG("wired up: %d ranks, %d here, eager limit %zu", rt->size, rt->nnode_ranks, rt->eager);
    *out = rt;
    return 0;
fail:
    rt->sfd_fd = -1; /* the fd belongs to the environment; don't close it */
    sf_rt__free(rt);
    return rc;
}

/* Closing a transport drops what it still queues in this process, and a
 * peer may be waiting for exactly that (the last barrier message). Flush
 * every transport while progressing, for at most the linger time. */
/* Wire-up again after a checkpoint (the transports were closed by
 * rt_quiesce.c): the same transports as at start, a fresh shared segment
 * named by sfd, new fabric addresses published and the ADDR_TABLE of this
 * epoch awaited. Routes are rebuilt by attach; peers' sequence numbers are
 * kept (every rank resumes from the same cut). */
int sf_rt__reopen(struct sf_rt *rt, uint32_t epoch, const char *shm_path)
{
    uint8_t blob[RT_BLOB_HDR + 1024];
    size_t alen = 0;
    struct sf_net *ofi = NULL;
    int rc;
    if (rt->ckpt_ofi) {
        struct sf_net_callbacks cb = sf_rt__callbacks(rt, RT_SLOT_OFI);
        if ((rc = sf_net_ofi_open(&cb, &ofi)) < 0) {
            SF_ERR("checkpoint: cannot reopen a libfabric endpoint: %s", sf_strerror(rc));
            return rc;
        }
        alen = sizeof(blob) - RT_BLOB_HDR;
        if ((rc = ofi->ops->getname(ofi, blob + RT_BLOB_HDR, &alen)) < 0) {
            ofi->ops->close(ofi);
            return rc;
        }
    }
    blob[0] = RT_BLOB_VERSION;
    put32(blob + 1, (uint32_t)rt->ckpt_node);
    put32(blob + 5, (uint32_t)rt->ckpt_lrank);
    put32(blob + 9, (uint32_t)getpid());
    put32(blob + 13, (uint32_t)alen);
    struct sf_wire_enc e;
    sf_wire_enc_begin(&e, SF_OP_RANK_ADDR, rt->wire_seq++);
    sf_wire_put_i32(&e, (int32_t)rt->rank);
    sf_wire_put_bytes(&e, blob, RT_BLOB_HDR + alen);
    struct rt_blob *b = NULL;
    struct sf_wire_msg msg;
    if ((rc = rt_send_frame(rt, &e)) < 0 || (rc = rt_wait_table(rt, &msg)) < 0) {
        goto out;
    }
    if (msg.f[0].u != epoch) {
        SF_ERR("checkpoint: address table of epoch %llu, expected %u",
               (unsigned long long)msg.f[0].u, epoch);
        rc = SF_ERR_PROTO;
        goto out;
    }
    b = calloc((size_t)rt->size, sizeof(*b));
    if (b == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    if (msg.f[1].len != (uint32_t)rt->size || rt_parse_blobs(&msg.f[2], rt->size, b) < 0) {
        SF_ERR("checkpoint: malformed address table from the node daemon");
        rc = SF_ERR_PROTO;
        goto out;
    }
    if (ofi != NULL) {
        free(rt->tr[RT_SLOT_OFI].world_of);
        rt->tr[RT_SLOT_OFI].world_of = NULL;
        if ((rc = rt_insert_ofi(rt, ofi, b)) < 0) {
            goto out;
        }
        ofi = NULL; /* attached: rt owns it */
    }
    if (rt->ckpt_shm) {
        int fd = shm_path != NULL && *shm_path != '\0' ? open(shm_path, O_RDWR | O_CLOEXEC) : -1;
        if (fd < 0) {
            rc = shm_path != NULL && *shm_path != '\0' ? -errno : SF_ERR_PROTO;
            SF_ERR("checkpoint: no shared segment to reopen (%s): %s",
                   shm_path != NULL ? shm_path : "", sf_strerror(rc));
            goto out;
        }
        free(rt->tr[RT_SLOT_SHM].world_of);
        rt->tr[RT_SLOT_SHM].world_of = NULL;
        rc = rt_open_shm(rt, fd, rt->ckpt_lrank, rt->ckpt_lsize, b);
        if (rc < 0) {
            close(fd);
            goto out;
        }
        rt->ckpt_shm_fd = fd;
    }
    rc = 0;
out:
    if (ofi != NULL) {
        ofi->ops->close(ofi);
    }
    free(b);
    return rc;
}

static void rt_flush(struct sf_rt *rt)
{
    uint64_t deadline = sf_now_ms() + (uint64_t)(rt->tun.linger * 1000.0);
    unsigned idle = 0;
    for (;;) {
        int busy = 0;
        for (int i = 0; i < RT_MAX_TR; i++) {
            struct sf_net *net = rt->tr[i].net;
            if (net == NULL || net->ops->flush == NULL) {
                continue;
            }
            int f = net->ops->flush(net);
            if (f < 0) {
                SF_WARN("finalize: %s: flush failed: %s", net->ops->name, sf_strerror(f));
            } else {
                busy += f;
            }
        }
        if (busy == 0) {
            return;
        }
        if (sf_now_ms() >= deadline) {
            SF_WARN("finalize: packets still queued after %.1f s (SF_RT_LINGER); closing anyway, "
                    "peers may miss them",
                    rt->tun.linger);
            return;
        }
        int n = sf_rt_progress(rt);
        if (n < 0) {
            return;
        }
        sf_rt_idle(rt, n == 0 ? ++idle : 0);
    }
}

int sf_rt_finalize(struct sf_rt *rt)
{
    if (rt == NULL) {
        return 0;
    }
    /* No checkpoint from here: sfd tells the others this rank is gone
     * (CKPT_PREPARE with SF_CKPT_PREPARE_GONE) when it ends. */
    int rc = 0;
    rt->ckpt_busy = true;
    /* Queued packets must leave before the transports close. */
    unsigned idle = 0;
    while (rt->fatal == 0 && (rt->npend_peers > 0 || rt->retry.head != NULL)) {
        int n = sf_rt_progress(rt);
        if (n < 0) {
            rc = n;
            break;
        }
        sf_rt_idle(rt, n == 0 ? ++idle : 0);
    }
    if (rc == 0 && rt->fatal == 0) {
        rt_flush(rt);
    }
    if (rt->sfd_fd >= 0) {
        struct sf_wire_enc e;
        sf_wire_enc_begin(&e, SF_OP_RANK_FINALIZE, rt->wire_seq++);
        sf_wire_put_i32(&e, rt->rank);
        int wrc = rt_send_frame(rt, &e);
        if (wrc < 0 && rc == 0) {
            rc = wrc;
        }
        close(rt->sfd_fd);
    }
    sf_rt__free(rt);
    return rc;
}

void sf_rt_abort(struct sf_rt *rt, int errorcode, const char *msg)
{
    if (rt != NULL && rt->sfd_fd >= 0) {
        struct sf_wire_enc e;
        sf_wire_enc_begin(&e, SF_OP_RANK_ABORT, rt->wire_seq++);
        sf_wire_put_i32(&e, rt->rank);
        sf_wire_put_i32(&e, errorcode);
        sf_wire_put_str(&e, msg != NULL ? msg : "");
        (void)rt_send_frame(rt, &e);
    } else {
        SF_ERR("MPI_Abort (code %d): %s", errorcode, msg != NULL ? msg : "");
    }
    _exit(errorcode & 0xff ? errorcode & 0xff : 1);
}
