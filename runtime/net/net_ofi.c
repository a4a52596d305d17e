/* libfabric RDM transport: tagged messages, manual progress, any provider
 * fi_getinfo offers (FI_PROVIDER narrows it). Packets go through pre-posted
 * bounce buffers; bulk transfers are tagged sends/receives straight on the
 * user's buffers. No get (SF_NET_CAP_GET is never set). Single-threaded:
 * progress runs only inside the rank's calls, no thread is started.
 *
 * Tags: bit 63 set = packet (any source, 8-byte transport header with the
 * sender's peer index and a per-destination sequence number); bit 63 clear
 * = bulk, the other 63 bits are the cookie, matched per source with
 * FI_DIRECTED_RECV. insert must list this endpoint's own address too: its
 * position is the sender index carried in every packet.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rdma/fabric.h>
#include <rdma/fi_cm.h>
#include <rdma/fi_domain.h>
#include <rdma/fi_endpoint.h>
#include <rdma/fi_errno.h>
#include <rdma/fi_tagged.h>

#include "runtime/base/sf_err.h"
#include "runtime/base/sf_log.h"
#include "runtime/base/sf_tun.h"
#include "runtime/net/net_int.h"
#include "runtime/net/sf_net.h"

#define OFI_PKT_TAG (1ull << 63)
#define OFI_COOKIE_MASK (~OFI_PKT_TAG)
#define OFI_SRC_MARK (1u << 31)
#define OFI_CQ_BATCH 16
#define OFI_PROGRESS_MAX 64 /* completions handled per progress call */

/* Transport header in front of every packet. Same binary at both ends on
 * a homogeneous job; the fields are fixed-width little-endian in memory. */
struct ofi_pkt_hdr {
    uint32_t src; /* sender's index in the job's address table; with
                   * OFI_SRC_MARK a flush marker that carries nothing */
    uint32_t seq; /* per (sender, receiver) packet count, checked on receipt */
};

struct ofi_tun {
    size_t max_pkt;
    int rx_bufs;
    int tx_bufs;
    bool wait_fd;
};

static const struct sf_tun ofi_tun_items[] = {
    {"ofi_max_pkt", SF_TUN_SIZE, "8k", "largest packet over libfabric",
     offsetof(struct ofi_tun, max_pkt)},
    {"ofi_rx_bufs", SF_TUN_INT, "256", "pre-posted packet receive buffers",
     offsetof(struct ofi_tun, rx_bufs)},
    {"ofi_tx_bufs", SF_TUN_INT, "128", "packet send buffers (beyond inject size)",
     offsetof(struct ofi_tun, tx_bufs)},
    {"ofi_wait_fd", SF_TUN_BOOL, "0",
     "ask for a CQ wait fd (blocking ranks; costs latency on some providers)",
     offsetof(struct ofi_tun, wait_fd)},
};
static const struct sf_tun_table ofi_tun_table = {"net", ofi_tun_items,
                                                  sizeof ofi_tun_items / sizeof ofi_tun_items[0]};

void sf_net__ofi_params(FILE *out)
{
    struct ofi_tun t;
    if (sf_tun_load(&ofi_tun_table, &t) == 0) {
        sf_tun_print(&ofi_tun_table, &t, out);
    }
}

enum ofi_kind { OFI_RX_PKT, OFI_TX_PKT, OFI_BULK_SEND, OFI_BULK_RECV };

/* Every operation's context: fi_context first (FI_CONTEXT mode). */
struct ofi_op {
    struct fi_context fc;
    enum ofi_kind kind;
    struct ofi_op *next; /* free list / repost list / live bulk list */
    struct ofi_op *prev; /* live bulk list */
    char *buf;           /* bounce buffer (packets) */
    struct fid_mr *mr;   /* bulk: registration, when the provider needs one */
    void *ctx;           /* bulk: user's context */
    size_t len;
};

struct ofi_net {
    struct sf_net base;
    struct ofi_tun tun;
    char name[64];
    struct fi_info *info;
    struct fid_fabric *fabric;
    struct fid_domain *domain;
    struct fid_av *av;
    struct fid_cq *cq;
    struct fid_ep *ep;
    bool mr_local;
    bool in_progress;
    int wait_fd;
    size_t inject;   /* largest header+packet for fi_tinject */
    size_t buf_size; /* header + max_pkt */
    char *pool;      /* rx_bufs + tx_bufs bounce buffers */
    struct fid_mr *pool_mr;
    void *pool_desc;
    struct ofi_op *ops_mem;
    struct ofi_op *tx_free;
    int tx_busy;              /* tracked sends posted and not yet completed */
    struct ofi_op *rx_repost; /* receive buffers the provider refused to take back */
    struct ofi_op *bulk_live; /* bulk operations in flight, freed by close */
    int self;                 /* own index in the address table, -1 before insert */
    int npeers;
    fi_addr_t *addrs;
    uint32_t *tx_seq;
    uint32_t *flush_seq; /* tx_seq of each peer when its last marker went out */
    uint32_t *rx_seq;
    int nrx_seq;
};

/* ---- libfabric, loaded on first use ----
 * Not linked: Debian's libfabric.so.1 pulls in the PSM libraries, whose
 * constructors spend about 200 ms calibrating clocks at load time, a cost
 * every sfrun, sfd and one-node rank would pay for nothing. Only these
 * entry points are real functions; the rest of the API is inline calls
 * through the objects' ops tables. Loaded once per process (the handle is
 * process-wide by nature, like the library itself). */
static struct {
    int (*getinfo)(uint32_t, const char *, const char *, uint64_t, const struct fi_info *,
                   struct fi_info **);
    void (*freeinfo)(struct fi_info *);
    struct fi_info *(*dupinfo)(const struct fi_info *);
    int (*fabric)(struct fi_fabric_attr *, struct fid_fabric **, void *);
    const char *(*strerror)(int);
    bool ok;
} ofi_lib;
static pthread_once_t ofi_lib_once = PTHREAD_ONCE_INIT;

static void ofi_lib_load(void)
{
    void *h = dlopen("libfabric.so.1", RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        SF_ERR("ofi: cannot load libfabric: %s", dlerror());
        return;
    }
    *(void **)&ofi_lib.getinfo = dlsym(h, "fi_getinfo");
    *(void **)&ofi_lib.freeinfo = dlsym(h, "fi_freeinfo");
    *(void **)&ofi_lib.dupinfo = dlsym(h, "fi_dupinfo");
    *(void **)&ofi_lib.fabric = dlsym(h, "fi_fabric");
    *(void **)&ofi_lib.strerror = dlsym(h, "fi_strerror");
    ofi_lib.ok = ofi_lib.getinfo && ofi_lib.freeinfo && ofi_lib.dupinfo && ofi_lib.fabric &&
                 ofi_lib.strerror;
    if (!ofi_lib.ok) {
        SF_ERR("ofi: libfabric.so.1 lacks fi_getinfo/fi_freeinfo/fi_dupinfo/fi_fabric/fi_strerror");
    }
}

static const char *ofi_strerror(int err)
{
    return ofi_lib.ok ? ofi_lib.strerror(err) : "libfabric not loaded";
}

/* ---- helpers ---- */

static int ofi_err(int fi_rc)
{
    if (fi_rc == -FI_EAGAIN) {
        return -EAGAIN;
    }
    return fi_rc < 0 && fi_rc > -FI_ERRNO_OFFSET ? fi_rc : SF_ERR_TRANSPORT;
}

static fi_addr_t ofi_peer(struct ofi_net *o, int peer)
{
    if (peer < 0 || peer >= o->npeers) {
        return FI_ADDR_NOTAVAIL;
    }
    return o->addrs[peer];
}

static int ofi_post_rx(struct ofi_net *o, struct ofi_op *op)
{
    return (int)fi_trecv(o->ep, op->buf, o->buf_size, o->pool_desc, FI_ADDR_UNSPEC, OFI_PKT_TAG,
                         OFI_COOKIE_MASK, op);
}

static void ofi_repost(struct ofi_net *o, struct ofi_op *op)
{
    int rc = ofi_post_rx(o, op);
    if (rc != 0) {
        /* The provider's queue is full; try again on the next progress. */
        op->next = o->rx_repost;
        o->rx_repost = op;
    }
}

static void ofi_repost_pending(struct ofi_net *o)
{
    while (o->rx_repost) {
        struct ofi_op *op = o->rx_repost;
        if (ofi_post_rx(o, op) != 0) {
            break;
        }
        o->rx_repost = op->next;
    }
}

/* ---- packets ---- */

static struct ofi_op *ofi_tx_take(struct ofi_net *o)
{
    struct ofi_op *op = o->tx_free;
    if (op) {
        o->tx_free = op->next;
        o->tx_busy++;
    }
    return op;
}

static void ofi_tx_put(struct ofi_net *o, struct ofi_op *op)
{
    op->next = o->tx_free;
    o->tx_free = op;
    o->tx_busy--;
}

static int ofi_send(struct sf_net *net, int peer, const struct iovec *iov, int iovcnt)
{
    struct ofi_net *o = (struct ofi_net *)net;
    size_t len = sf_net__iov_len(iov, iovcnt);
    if (len > o->base.max_pkt) {
        return -EMSGSIZE;
    }
    fi_addr_t dest = ofi_peer(o, peer);
    if (dest == FI_ADDR_NOTAVAIL || o->self < 0) {
        return -EINVAL;
    }
    struct ofi_pkt_hdr h = {.src = (uint32_t)o->self, .seq = o->tx_seq[peer]};
    size_t total = sizeof h + len;
    int rc;
    if (total <= o->inject) {
        char tmp[total];
        memcpy(tmp, &h, sizeof h);
        sf_net__iov_gather(tmp + sizeof h, iov, iovcnt);
        rc = (int)fi_tinject(o->ep, tmp, total, dest, OFI_PKT_TAG);
    } else {
        struct ofi_op *op = ofi_tx_take(o);
        if (!op) {
            return -EAGAIN;
        }
        memcpy(op->buf, &h, sizeof h);
        sf_net__iov_gather(op->buf + sizeof h, iov, iovcnt);
        rc = (int)fi_tsend(o->ep, op->buf, total, o->pool_desc, dest, OFI_PKT_TAG, op);
        if (rc != 0) {
            ofi_tx_put(o, op);
        }
    }
    if (rc != 0) {
        return ofi_err(rc);
    }
    o->tx_seq[peer]++;
    return 0;
}

/* fi_tinject reports no completion, and the tcp provider keeps an injected
 * packet queued in this process while the socket is full, to leave only
 * with later progress: a rank that stops progressing (a test harness
 * blocking elsewhere, a close) could strand it. A flush posts to every peer
 * sent to since the last flush one header-only marker that does complete;
 * the provider keeps send order per peer, so when every tracked send has
 * completed, everything before the markers has left this process. */
static int ofi_flush(struct sf_net *net)
{
    struct ofi_net *o = (struct ofi_net *)net;
    for (int p = 0; p < o->npeers; p++) {
        if (o->flush_seq[p] == o->tx_seq[p] || o->addrs[p] == FI_ADDR_NOTAVAIL) {
            continue;
        }
        struct ofi_op *op = ofi_tx_take(o);
        if (!op) {
            return 1;
        }
        struct ofi_pkt_hdr h = {.src = (uint32_t)o->self | OFI_SRC_MARK, .seq = o->tx_seq[p]};
        memcpy(op->buf, &h, sizeof h);
        int rc = (int)fi_tsend(o->ep, op->buf, sizeof h, o->pool_desc, o->addrs[p], OFI_PKT_TAG, op);
        if (rc != 0) {
            ofi_tx_put(o, op);
            return rc == -FI_EAGAIN ? 1 : ofi_err(rc);
        }
        o->flush_seq[p] = o->tx_seq[p];
    }
    return o->tx_busy > 0;
}

/* Packets from one sender must arrive in order; the provider promises
 * send-after-send ordering, this checks it cheaply instead of trusting. */
static void ofi_check_seq(struct ofi_net *o, uint32_t src, uint32_t seq)
{
    if ((int)src >= o->nrx_seq) {
        int n = (int)src + 1 > o->npeers ? (int)src + 1 : o->npeers;
        uint32_t *s = realloc(o->rx_seq, (size_t)n * sizeof *s);
        if (!s) {
            return;
        }
        memset(s + o->nrx_seq, 0, (size_t)(n - o->nrx_seq) * sizeof *s);
        o->rx_seq = s;
        o->nrx_seq = n;
    }
    if (o->rx_seq[src] != seq) {
        SF_WARN_SPARSE("ofi: packet from peer %u out of order (seq %u, expected %u)", src, seq,
                       o->rx_seq[src]);
    }
    o->rx_seq[src] = seq + 1;
}

static void ofi_on_rx(struct ofi_net *o, struct ofi_op *op, size_t len)
{
    struct ofi_pkt_hdr h;
    if (len < sizeof h) {
        SF_WARN_SPARSE("ofi: runt packet of %zu bytes dropped", len);
        ofi_repost(o, op);
        return;
    }
    memcpy(&h, op->buf, sizeof h);
    if (h.src & OFI_SRC_MARK) {
        ofi_repost(o, op); /* a flush marker: its work was done on the sending side */
        return;
    }
    if (o->npeers > 0 && h.src >= (uint32_t)o->npeers) {
        /* Before insert any index is taken on trust; after it, not. */
        SF_WARN_SPARSE("ofi: packet claims sender %u of %d; dropped", h.src, o->npeers);
    } else {
        ofi_check_seq(o, h.src, h.seq);
        o->base.cb.recv(o->base.cb.arg, &o->base, (int)h.src, op->buf + sizeof h, len - sizeof h);
    }
    /* Reposted only after the callback: pkt points into this buffer. */
    ofi_repost(o, op);
}

/* ---- bulk ---- */

static struct ofi_op *ofi_bulk_op(struct ofi_net *o, enum ofi_kind kind, void *buf, size_t len,
                                  void *ctx, void **desc, int *rc)
{
    struct ofi_op *op = calloc(1, sizeof *op);
    if (!op) {
        *rc = -ENOMEM;
        return NULL;
    }
    op->kind = kind;
    op->ctx = ctx;
    op->len = len;
    *desc = NULL;
    if (o->mr_local && len > 0) {
        uint64_t access = kind == OFI_BULK_SEND ? FI_SEND : FI_RECV;
        *rc = fi_mr_reg(o->domain, buf, len, access, 0, 0, 0, &op->mr, NULL);
        if (*rc != 0) {
            SF_WARN("ofi: fi_mr_reg of %zu bytes failed: %s", len, ofi_strerror(-*rc));
            free(op);
            *rc = ofi_err(*rc);
            return NULL;
        }
        *desc = fi_mr_desc(op->mr);
    }
    op->next = o->bulk_live;
    if (op->next) {
        op->next->prev = op;
    }
    o->bulk_live = op;
    *rc = 0;
    return op;
}

static void ofi_bulk_free(struct ofi_net *o, struct ofi_op *op)
{
    if (op->prev) {
        op->prev->next = op->next;
    } else {
        o->bulk_live = op->next;
    }
    if (op->next) {
        op->next->prev = op->prev;
    }
    if (op->mr) {
        fi_close(&op->mr->fid);
    }
    free(op);
}

static int ofi_bulk_send(struct sf_net *net, int peer, uint64_t cookie, const void *buf, size_t len,
                         void *ctx)
{
    struct ofi_net *o = (struct ofi_net *)net;
    fi_addr_t dest = ofi_peer(o, peer);
    if (dest == FI_ADDR_NOTAVAIL) {
        return -EINVAL;
    }
    if (len > o->info->ep_attr->max_msg_size) {
        return -EMSGSIZE;
    }
    void *desc;
    int rc;
    struct ofi_op *op = ofi_bulk_op(o, OFI_BULK_SEND, (void *)buf, len, ctx, &desc, &rc);
    if (!op) {
        return rc;
    }
    rc = (int)fi_tsend(o->ep, buf, len, desc, dest, cookie & OFI_COOKIE_MASK, op);
    if (rc != 0) {
        ofi_bulk_free(o, op);
        return ofi_err(rc);
    }
    return 0;
}

static int ofi_bulk_recv(struct sf_net *net, int peer, uint64_t cookie, void *buf, size_t len,
                         void *ctx)
{
    struct ofi_net *o = (struct ofi_net *)net;
    fi_addr_t src = ofi_peer(o, peer);
    if (src == FI_ADDR_NOTAVAIL) {
        return -EINVAL;
    }
    if (len > o->info->ep_attr->max_msg_size) {
        return -EMSGSIZE;
    }
    void *desc;
    int rc;
    struct ofi_op *op = ofi_bulk_op(o, OFI_BULK_RECV, buf, len, ctx, &desc, &rc);
    if (!op) {
        return rc;
    }
    rc = (int)fi_trecv(o->ep, buf, len, desc, src, cookie & OFI_COOKIE_MASK, 0, op);
    if (rc != 0) {
        ofi_bulk_free(o, op);
        return ofi_err(rc);
    }
    return 0;
}

static void ofi_bulk_done(struct ofi_net *o, struct ofi_op *op, int status, size_t len)
{
    void *ctx = op->ctx;
    ofi_bulk_free(o, op);
    if (o->base.cb.done) {
        o->base.cb.done(o->base.cb.arg, &o->base, ctx, status, len);
    }
}

/* ---- completions ---- */

static void ofi_complete(struct ofi_net *o, struct ofi_op *op, size_t len)
{
    switch (op->kind) {
    case OFI_RX_PKT:
        ofi_on_rx(o, op, len);
        break;
    case OFI_TX_PKT:
        ofi_tx_put(o, op);
        break;
    case OFI_BULK_SEND:
        ofi_bulk_done(o, op, 0, op->len);
        break;
    case OFI_BULK_RECV:
        ofi_bulk_done(o, op, 0, len);
        break;
    }
}

static int ofi_readerr(struct ofi_net *o)
{
    struct fi_cq_err_entry e = {0};
    ssize_t rc = fi_cq_readerr(o->cq, &e, 0);
    if (rc == -FI_EAGAIN) {
        return 0;
    }
    if (rc < 0) {
        SF_ERR("ofi: fi_cq_readerr: %s", ofi_strerror((int)-rc));
        return SF_ERR_TRANSPORT;
    }
    struct ofi_op *op = e.op_context;
    char ebuf[256];
    const char *pe = fi_cq_strerror(o->cq, e.prov_errno, e.err_data, ebuf, sizeof ebuf);
    if (!op) {
        SF_ERR("ofi: completion error without context: %s (%s)", ofi_strerror(e.err), pe);
        return SF_ERR_TRANSPORT;
    }
    /* Providers disagree on the sign of err (shm reports it negative). */
    int err = e.err < 0 ? -e.err : e.err;
    int status = err == FI_ETRUNC ? SF_ERR_TRUNCATE : SF_ERR_TRANSPORT;
    if (err != FI_ECANCELED && err != FI_ETRUNC) {
        SF_WARN("ofi: operation failed: %s (%s)", ofi_strerror(err), pe);
    }
    switch (op->kind) {
    case OFI_RX_PKT:
        ofi_repost(o, op); /* a packet was lost; the buffer is still ours */
        break;
    case OFI_TX_PKT:
        ofi_tx_put(o, op);
        break;
    case OFI_BULK_SEND:
    case OFI_BULK_RECV:
        ofi_bulk_done(o, op, status, 0);
        break;
    }
    return 1;
}

static int ofi_progress(struct sf_net *net)
{
    struct ofi_net *o = (struct ofi_net *)net;
    if (o->in_progress) {
        return 0;
    }
    o->in_progress = true;
    if (o->rx_repost) {
        ofi_repost_pending(o);
    }
    int events = 0;
    while (events < OFI_PROGRESS_MAX) {
        struct fi_cq_tagged_entry ent[OFI_CQ_BATCH];
        ssize_t n = fi_cq_read(o->cq, ent, OFI_CQ_BATCH);
        if (n == -FI_EAGAIN) {
            break;
        }
        if (n == -FI_EAVAIL) {
            int rc = ofi_readerr(o);
            if (rc < 0) {
                o->in_progress = false;
                return rc;
            }
            events += rc;
            continue;
        }
        if (n < 0) {
            SF_ERR("ofi: fi_cq_read: %s", ofi_strerror((int)-n));
            o->in_progress = false;
            return SF_ERR_TRANSPORT;
        }
        for (ssize_t i = 0; i < n; i++) {
            ofi_complete(o, ent[i].op_context, ent[i].len);
        }
        events += (int)n;
        if (n < OFI_CQ_BATCH) {
            break;
        }
    }
    o->in_progress = false;
    return events;
}

/* ---- addressing ---- */

static int ofi_getname(struct sf_net *net, void *buf, size_t *len)
{
    struct ofi_net *o = (struct ofi_net *)net;
    int rc = fi_getname(&o->ep->fid, buf, len);
    if (rc == -FI_ETOOSMALL) {
        return -ENOBUFS;
    }
    return rc == 0 ? 0 : ofi_err(rc);
}

static int ofi_insert(struct sf_net *net, int npeers, const void *const *addrs, const size_t *lens)
{
    struct ofi_net *o = (struct ofi_net *)net;
    if (npeers < 0) {
        return -EINVAL;
    }
    char me[256];
    size_t melen = sizeof me;
    if (fi_getname(&o->ep->fid, me, &melen) != 0) {
        return SF_ERR_TRANSPORT;
    }
    fi_addr_t *fa = calloc((size_t)npeers + 1, sizeof *fa);
    uint32_t *seq = calloc((size_t)npeers + 1, sizeof *seq);
    uint32_t *fseq = calloc((size_t)npeers + 1, sizeof *fseq);
    if (!fa || !seq || !fseq) {
        free(fa);
        free(seq);
        free(fseq);
        return -ENOMEM;
    }
    int self = -1;
    for (int i = 0; i < npeers; i++) {
        fa[i] = FI_ADDR_NOTAVAIL;
        if (lens[i] == 0) {
            continue;
        }
        if (lens[i] == melen && memcmp(addrs[i], me, melen) == 0) {
            self = i;
        }
        int rc = fi_av_insert(o->av, addrs[i], 1, &fa[i], 0, NULL);
        if (rc != 1) {
            SF_ERR("ofi: fi_av_insert of peer %d failed: %s", i,
                   rc < 0 ? ofi_strerror(-rc) : "not inserted");
            fa[i] = FI_ADDR_NOTAVAIL;
        }
    }
    if (self < 0) {
        SF_ERR("ofi: own address missing from the table of %d peers", npeers);
        free(fa);
        free(seq);
        free(fseq);
        return -EINVAL;
    }
    /* A new epoch replaces the table: forget the old entries. */
    for (int i = 0; i < o->npeers; i++) {
        if (o->addrs[i] != FI_ADDR_NOTAVAIL) {
            fi_av_remove(o->av, &o->addrs[i], 1, 0);
        }
    }
    free(o->addrs);
    free(o->tx_seq);
    free(o->flush_seq);
    free(o->rx_seq); /* restarted peers count from zero again */
    o->rx_seq = NULL;
    o->nrx_seq = 0;
    o->addrs = fa;
    o->tx_seq = seq;
    o->flush_seq = fseq;
    o->npeers = npeers;
    o->self = self;
    return 0;
}

static int ofi_get(struct sf_net *net, int peer, void *buf, uint64_t raddr, size_t len)
{
    return SF_ERR_UNSUPPORTED;
}

static int ofi_wait_fd(struct sf_net *net)
{
    return ((struct ofi_net *)net)->wait_fd;
}

/* ---- lifetime ---- */

static void ofi_close(struct sf_net *net)
{
    struct ofi_net *o = (struct ofi_net *)net;
    if (!o) {
        return;
    }
    if (o->ep) {
        fi_close(&o->ep->fid);
    }
    /* Unfinished bulk transfers die with the endpoint; no done() for them. */
    while (o->bulk_live) {
        ofi_bulk_free(o, o->bulk_live);
    }
    if (o->pool_mr) {
        fi_close(&o->pool_mr->fid);
    }
    if (o->cq) {
        fi_close(&o->cq->fid);
    }
    if (o->av) {
        fi_close(&o->av->fid);
    }
    if (o->domain) {
        fi_close(&o->domain->fid);
    }
    if (o->fabric) {
        fi_close(&o->fabric->fid);
    }
    if (o->info) {
        ofi_lib.freeinfo(o->info);
    }
    free(o->pool);
    free(o->ops_mem);
    free(o->addrs);
    free(o->tx_seq);
    free(o->flush_seq);
    free(o->rx_seq);
    free(o);
}

static int ofi_pending(struct sf_net *net)
{
    struct ofi_net *o = (struct ofi_net *)net;
    int n = o->tx_busy;
    for (struct ofi_op *op = o->bulk_live; op != NULL; op = op->next) {
        n++;
    }
    return n;
}

static const struct sf_net_ops ofi_ops_proto = {
    .progress = ofi_progress,
    .send = ofi_send,
    .bulk_send = ofi_bulk_send,
    .bulk_recv = ofi_bulk_recv,
    .get = ofi_get,
    .getname = ofi_getname,
    .insert = ofi_insert,
    .flush = ofi_flush,
    .wait_fd = ofi_wait_fd,
    .close = ofi_close,
    .pending = ofi_pending,
};

/* One ops table per open transport, so ops->name can carry the provider. */
struct ofi_net_named {
    struct ofi_net o;
    struct sf_net_ops ops;
};

static struct fi_info *ofi_hints(bool manual)
{
    struct fi_info *h = ofi_lib.dupinfo(NULL);
    if (!h) {
        return NULL;
    }
    h->caps = FI_TAGGED | FI_DIRECTED_RECV;
    h->mode = FI_CONTEXT;
    h->ep_attr->type = FI_EP_RDM;
    h->domain_attr->av_type = FI_AV_TABLE;
    h->domain_attr->mr_mode = FI_MR_LOCAL | FI_MR_VIRT_ADDR | FI_MR_ALLOCATED | FI_MR_PROV_KEY;
    h->domain_attr->threading = FI_THREAD_DOMAIN;
    if (manual) {
        h->domain_attr->control_progress = FI_PROGRESS_MANUAL;
        h->domain_attr->data_progress = FI_PROGRESS_MANUAL;
    }
    h->tx_attr->msg_order = FI_ORDER_SAS;
    h->rx_attr->msg_order = FI_ORDER_SAS;
    return h;
}

static int ofi_cq_open(struct ofi_net *o)
{
    struct fi_cq_attr ca = {.format = FI_CQ_FORMAT_TAGGED, .size = 0};
    o->wait_fd = -1;
    if (o->tun.wait_fd) {
        ca.wait_obj = FI_WAIT_FD;
        if (fi_cq_open(o->domain, &ca, &o->cq, NULL) == 0) {
            if (fi_control(&o->cq->fid, FI_GETWAIT, &o->wait_fd) != 0) {
                o->wait_fd = -1;
            }
            return 0;
        }
    }
    ca.wait_obj = FI_WAIT_NONE;
    return fi_cq_open(o->domain, &ca, &o->cq, NULL);
}

/* Bounce buffers: rx_bufs pre-posted receives, then tx_bufs sends. */
static int ofi_pools(struct ofi_net *o)
{
    int nrx = o->tun.rx_bufs > 0 ? o->tun.rx_bufs : 1;
    int ntx = o->tun.tx_bufs > 0 ? o->tun.tx_bufs : 1;
    size_t bs = (o->buf_size + SF_NET__CACHELINE - 1) & ~(size_t)(SF_NET__CACHELINE - 1);
    size_t total = bs * (size_t)(nrx + ntx);
    if (posix_memalign((void **)&o->pool, 4096, total) != 0) {
        return -ENOMEM;
    }
    o->ops_mem = calloc((size_t)(nrx + ntx), sizeof *o->ops_mem);
    if (!o->ops_mem) {
        return -ENOMEM;
    }
    if (o->mr_local) {
        int rc =
            fi_mr_reg(o->domain, o->pool, total, FI_SEND | FI_RECV, 0, 0, 0, &o->pool_mr, NULL);
        if (rc != 0) {
            return rc;
        }
        o->pool_desc = fi_mr_desc(o->pool_mr);
    }
    for (int i = 0; i < nrx + ntx; i++) {
        struct ofi_op *op = &o->ops_mem[i];
        op->buf = o->pool + bs * (size_t)i;
        if (i < nrx) {
            op->kind = OFI_RX_PKT;
            int rc = ofi_post_rx(o, op);
            if (rc != 0) {
                return rc;
            }
        } else {
            op->kind = OFI_TX_PKT;
            op->next = o->tx_free;
            o->tx_free = op;
        }
    }
    return 0;
}

/* Bring up fabric, domain, AV, CQ and endpoint for one fi_info. */
static int ofi_setup(struct ofi_net *o, struct fi_info *fi)
{
    int rc;
    o->info = ofi_lib.dupinfo(fi);
    if (!o->info) {
        return -ENOMEM;
    }
    o->mr_local = (fi->domain_attr->mr_mode & FI_MR_LOCAL) || (fi->mode & FI_LOCAL_MR);
    o->inject = fi->tx_attr->inject_size;
    o->buf_size = sizeof(struct ofi_pkt_hdr) + o->tun.max_pkt;
    if (fi->ep_attr->max_msg_size < o->buf_size) {
        o->buf_size = fi->ep_attr->max_msg_size;
    }
    struct fi_av_attr aa = {.type = FI_AV_TABLE};
    if ((rc = ofi_lib.fabric(fi->fabric_attr, &o->fabric, NULL)) != 0 ||
        (rc = fi_domain(o->fabric, fi, &o->domain, NULL)) != 0 ||
        (rc = fi_av_open(o->domain, &aa, &o->av, NULL)) != 0 || (rc = ofi_cq_open(o)) != 0 ||
        (rc = fi_endpoint(o->domain, fi, &o->ep, NULL)) != 0 ||
        (rc = fi_ep_bind(o->ep, &o->av->fid, 0)) != 0 ||
        (rc = fi_ep_bind(o->ep, &o->cq->fid, FI_TRANSMIT | FI_RECV)) != 0 ||
        (rc = fi_enable(o->ep)) != 0) {
        return rc;
    }
    return ofi_pools(o);
}

int sf_net_ofi_open(const struct sf_net_callbacks *cb, struct sf_net **out)
{
    if (!cb || !cb->recv || !out) {
        return -EINVAL;
    }
    pthread_once(&ofi_lib_once, ofi_lib_load);
    if (!ofi_lib.ok) {
        return SF_ERR_TRANSPORT;
    }
    struct ofi_tun tun;
    int rc = sf_tun_load(&ofi_tun_table, &tun);
    if (rc != 0) {
        return rc;
    }
    /* Packets must stay below the provider's eager size (ofi_rxm: 16 KiB):
     * larger ones go by the provider's rendezvous and can overtake smaller
     * packets sent after them, which breaks MPI's ordering. */
    if (tun.max_pkt < 64 || tun.max_pkt > (12u << 10)) {
        SF_ERR("ofi: SF_NET_OFI_MAX_PKT=%zu out of range (64..12k)", tun.max_pkt);
        return SF_ERR_CONFIG;
    }
    struct fi_info *list = NULL;
    for (int manual = 1; manual >= 0 && !list; manual--) {
        struct fi_info *h = ofi_hints(manual);
        if (!h) {
            return -ENOMEM;
        }
        rc = ofi_lib.getinfo(FI_VERSION(1, 11), NULL, NULL, 0, h, &list);
        ofi_lib.freeinfo(h);
        if (rc != 0) {
            list = NULL;
        }
    }
    if (!list) {
        SF_ERR("ofi: no libfabric provider offers tagged RDM endpoints%s",
               getenv("FI_PROVIDER") ? " (FI_PROVIDER restricts the choice)" : "");
        return SF_ERR_TRANSPORT;
    }
    /* Take the first provider that comes up: fi_getinfo orders them best
     * first, but one may list a device it cannot open. */
    rc = SF_ERR_TRANSPORT;
    for (struct fi_info *fi = list; fi; fi = fi->next) {
        struct ofi_net_named *nn = calloc(1, sizeof *nn);
        if (!nn) {
            rc = -ENOMEM;
            break;
        }
        struct ofi_net *o = &nn->o;
        o->tun = tun;
        o->self = -1;
        rc = ofi_setup(o, fi);
        if (rc == 0) {
            nn->ops = ofi_ops_proto;
            snprintf(o->name, sizeof o->name, "ofi:%s", fi->fabric_attr->prov_name);
            nn->ops.name = o->name;
            o->base.ops = &nn->ops;
            o->base.cb = *cb;
            o->base.max_pkt = o->buf_size - sizeof(struct ofi_pkt_hdr);
            o->base.caps = 0;
            SF_INFO("ofi: provider %s, fabric %s, domain %s, inject %zu, max_pkt %zu",
                    fi->fabric_attr->prov_name, fi->fabric_attr->name, fi->domain_attr->name,
                    o->inject, o->base.max_pkt);
            ofi_lib.freeinfo(list);
            *out = &o->base;
            return 0;
        }
        /* Loud on purpose: peers that took another entry may speak another
         * address format, and their inserts would then fail. */
        SF_WARN("ofi: provider %s (%s) failed: %s", fi->fabric_attr->prov_name,
                fi->domain_attr->name, ofi_strerror(-rc));
        ofi_close(&o->base);
    }
    ofi_lib.freeinfo(list);
    return rc < 0 && rc > -FI_ERRNO_OFFSET ? rc : SF_ERR_TRANSPORT;
}
