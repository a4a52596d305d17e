/* Starfish's own shared-memory transport between the ranks of one node:
 * one single-producer/single-consumer ring per ordered pair of local ranks
 * in a memfd segment, plus single-copy bulk/get through process_vm_readv.
 * Does not create or size the segment (sfd does) and never starts a
 * thread: the rank's MPI calls drive progress. Never spins: a full ring
 * is -EAGAIN, a dead peer only ever looks like a silent one.
 *
 * Segment layout (n = local_size; all offsets computed from n alone, so
 * sfd and every rank agree without an initialised header):
 *   offset 0                 rank table: n entries of 64 bytes,
 *                              +0 u32 pid (0 = not open), rest unused;
 *                              padded to a 4 KiB multiple (hdr_size)
 *   hdr_size + (s*n+d)*stride  ring s -> d (stride = 128 + nslots*64):
 *                              +0   u64 freed: slots released by d
 *                                   (written only by d, read by s)
 *                              +128 nslots slots of 64 bytes
 * A record starts at a slot and spans ceil((8+len)/64) consecutive slots
 * (never wrapping; a PAD record fills the tail of the ring instead). Its
 * first 8 bytes are the header word, stored last with release semantics:
 *   bits 0..13 len, 14..16 type, 17..63 seq = (absolute slot index + 1)
 * so a stale slot from an earlier lap never matches what the consumer
 * expects. The consumer zeroes the header word of a record's later slots
 * (they hold payload that could otherwise look like a header one lap on)
 * and publishes 'freed' in batches, so the producer reads the consumer's
 * line only when its cached view says the ring is full.
 *
 * Ring positions are private to the two ends, so a segment serves one
 * incarnation of the node's ranks: after a restart every local rank closes
 * and reopens on a fresh (zero-filled) segment.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "runtime/base/sf_err.h"
#include "runtime/base/sf_log.h"
#include "runtime/base/sf_tun.h"
#include "runtime/net/net_int.h"
#include "runtime/net/sf_net.h"

#define SHM_SLOT 64
#define SHM_HDR 8                        /* header word at the start of a record */
#define SHM_MAX_PKT 8192                 /* user packets */
#define SHM_LEN_MAX ((1u << 14) - 1)     /* record payload limit of the len field */
#define SHM_CHUNK (SHM_LEN_MAX + 1 - 64) /* streamed bulk data per CHUNK record */
#define SHM_RING_CTRL 128                /* freed counter + padding (adjacent-line prefetch) */
#define SHM_RANK_ENTRY 64
#define SHM_BATCH 64                /* records delivered per progress call, at most */
#define SHM_RING_BUDGET (64u << 20) /* ring memory target for the whole node */
#define SHM_RING_MIN (64u << 10)
#define SHM_RING_MAX (1u << 20)

enum shm_type {
    SHM_T_DATA = 1, /* user packet */
    SHM_T_PAD = 2,  /* skip to the start of the ring */
    SHM_T_RTS = 3,  /* bulk_send announced: struct shm_rts */
    SHM_T_FIN = 4,  /* bulk finished at the receiver: struct shm_fin */
    SHM_T_CTS = 5,  /* receiver cannot read us: stream it (struct shm_fin, status 0) */
    SHM_T_CHUNK = 6 /* streamed bulk data: struct shm_chunk + bytes */
};

/* Control payloads; both ends are the same binary on the same machine,
 * so a memcpy'd struct is the format. */
struct shm_rts {
    uint64_t cookie;
    uint64_t addr;
    uint64_t len;
    uint32_t pid;
};
struct shm_fin {
    uint64_t cookie;
    uint64_t len;
    int32_t status;
};
struct shm_chunk {
    uint64_t cookie;
    uint64_t offset;
};

struct shm_ring {
    uint64_t freed; /* consumer-published count of released slots */
    char pad_[SHM_RING_CTRL - sizeof(uint64_t)];
    char slots[]; /* nslots * SHM_SLOT */
};

/* Per-peer private state: the producer and consumer positions live in the
 * owner's memory, not in the segment, so the hot path shares only slots. */
struct shm_peer {
    struct shm_ring *tx; /* me -> peer */
    struct shm_ring *rx; /* peer -> me */
    uint64_t tx_pos;     /* next slot to write */
    uint64_t tx_freed;   /* cached copy of tx->freed */
    uint64_t rx_pos;     /* next slot to read */
    uint64_t rx_pub;     /* last value published in rx->freed */
    bool no_cma;         /* process_vm_readv refused: stream bulk instead */
};

/* A control record that found the ring full, retried from progress. */
struct shm_ctrl {
    struct shm_ctrl *next;
    int peer;
    int type;
    struct shm_fin fin;
};

struct shm_net {
    struct sf_net base;
    char *seg;
    size_t seg_size;
    int me, n;
    uint32_t nslots;
    uint64_t mask;
    size_t stride;
    size_t hdr_size;
    struct shm_peer *peers;
    int rr;                          /* first peer polled by the next progress */
    bool in_progress;                /* callbacks may call back into us */
    struct sf_net__bulk *recvs;      /* posted bulk_recv, not announced yet */
    struct sf_net__bulk *unexpected; /* announced (RTS) before bulk_recv */
    struct sf_net__bulk *sends;      /* bulk_send waiting for FIN or CTS */
    struct sf_net__bulk *streaming;  /* bulk_send being pushed as CHUNKs */
    struct sf_net__bulk *inbound;    /* bulk_recv receiving CHUNKs */
    struct shm_ctrl *ctrl;           /* FIN/CTS waiting for ring room */
};

struct shm_tun {
    bool cma;
};

static const struct sf_tun shm_tun_items[] = {
    {"shm_cma", SF_TUN_BOOL, "1",
     "single-copy bulk/get with process_vm_readv (0: stream bulk data through the rings)",
     offsetof(struct shm_tun, cma)},
};
static const struct sf_tun_table shm_tun_table = {"net", shm_tun_items,
                                                  sizeof shm_tun_items / sizeof shm_tun_items[0]};

void sf_net_params(FILE *out)
{
    sf_net__shm_params(out);
    sf_net__ofi_params(out);
}

void sf_net__shm_params(FILE *out)
{
    struct shm_tun t;
    if (sf_tun_load(&shm_tun_table, &t) == 0) {
        sf_tun_print(&shm_tun_table, &t, out);
    }
}

/* ---- sizing ---- */

static uint32_t shm_nslots(int n)
{
    size_t per = SHM_RING_BUDGET / ((size_t)n * (size_t)n);
    size_t bytes = SHM_RING_MAX;
    while (bytes > per && bytes > SHM_RING_MIN) {
        bytes >>= 1;
    }
    return (uint32_t)(bytes / SHM_SLOT);
}

static size_t shm_hdr_size(int n)
{
    size_t b = (size_t)n * SHM_RANK_ENTRY;
    return (b + 4095) & ~(size_t)4095;
}

static size_t shm_stride(int n)
{
    return SHM_RING_CTRL + (size_t)shm_nslots(n) * SHM_SLOT;
}

size_t sf_net_shm_segment_size(int local_size)
{
    if (local_size <= 0) {
        return 0;
    }
    return shm_hdr_size(local_size) +
           (size_t)local_size * (size_t)local_size * shm_stride(local_size);
}

static struct shm_ring *shm_ring_at(struct shm_net *s, int src, int dst)
{
    return (struct shm_ring *)(s->seg + s->hdr_size + ((size_t)src * s->n + dst) * s->stride);
}

static uint32_t *shm_pid_slot(struct shm_net *s, int rank)
{
    return (uint32_t *)(s->seg + (size_t)rank * SHM_RANK_ENTRY);
}

/* ---- ring primitives ---- */

static inline uint64_t shm_hdr_make(uint64_t pos, unsigned type, size_t len)
{
    return ((pos + 1) << 17) | ((uint64_t)type << 14) | (uint64_t)len;
}

static inline uint64_t *shm_slot_word(struct shm_ring *r, uint64_t idx)
{
    return (uint64_t *)(r->slots + idx * SHM_SLOT);
}

static inline size_t shm_rec_slots(size_t len)
{
    return (SHM_HDR + len + SHM_SLOT - 1) / SHM_SLOT;
}

/* Reserve room for a record of 'len' payload bytes on the ring to 'p'
 * (writing a PAD first if it would cross the end). Returns the payload
 * address or NULL when the ring is full; *pos_out is its slot position. */
static char *shm_reserve(struct shm_net *s, struct shm_peer *p, size_t len, uint64_t *pos_out)
{
    size_t k = shm_rec_slots(len);
    uint64_t idx = p->tx_pos & s->mask;
    size_t pad = idx + k > s->nslots ? s->nslots - idx : 0;
    if (p->tx_pos + pad + k - p->tx_freed > s->nslots) {
        p->tx_freed = __atomic_load_n(&p->tx->freed, __ATOMIC_ACQUIRE);
        if (p->tx_pos + pad + k - p->tx_freed > s->nslots) {
            return NULL;
        }
    }
    if (pad) {
        __atomic_store_n(shm_slot_word(p->tx, idx), shm_hdr_make(p->tx_pos, SHM_T_PAD, 0),
                         __ATOMIC_RELEASE);
        p->tx_pos += pad;
        idx = 0;
    }
    *pos_out = p->tx_pos;
    return (char *)shm_slot_word(p->tx, idx) + SHM_HDR;
}

/* Publish the record reserved at 'pos': the header store releases the
 * payload written before it. */
static void shm_commit(struct shm_net *s, struct shm_peer *p, uint64_t pos, unsigned type,
                       size_t len)
{
    __atomic_store_n(shm_slot_word(p->tx, pos & s->mask), shm_hdr_make(pos, type, len),
                     __ATOMIC_RELEASE);
    p->tx_pos = pos + shm_rec_slots(len);
}

/* Put one record made of a small header and a body on the ring. */
static int shm_put(struct shm_net *s, int peer, unsigned type, const void *h, size_t hlen,
                   const void *body, size_t blen)
{
    struct shm_peer *p = &s->peers[peer];
    uint64_t pos;
    char *dst = shm_reserve(s, p, hlen + blen, &pos);
    if (!dst) {
        return -EAGAIN;
    }
    memcpy(dst, h, hlen);
    if (blen) {
        memcpy(dst + hlen, body, blen);
    }
    shm_commit(s, p, pos, type, hlen + blen);
    return 0;
}

/* ---- sends ---- */

static int shm_send(struct sf_net *net, int peer, const struct iovec *iov, int iovcnt)
{
    struct shm_net *s = (struct shm_net *)net;
    if (peer < 0 || peer >= s->n) {
        return -EINVAL;
    }
    size_t len = sf_net__iov_len(iov, iovcnt);
    if (len > SHM_MAX_PKT) {
        return -EMSGSIZE;
    }
    struct shm_peer *p = &s->peers[peer];
    uint64_t pos;
    char *dst = shm_reserve(s, p, len, &pos);
    if (!dst) {
        return -EAGAIN;
    }
    sf_net__iov_gather(dst, iov, iovcnt);
    shm_commit(s, p, pos, SHM_T_DATA, len);
    return 0;
}

/* FIN/CTS go out now or wait on the ctrl queue: the caller of progress
 * must never see them fail. */
static void shm_ctrl_send(struct shm_net *s, int peer, int type, uint64_t cookie, int status,
                          uint64_t len)
{
    struct shm_fin f = {.cookie = cookie, .len = len, .status = status};
    if (!s->ctrl && shm_put(s, peer, type, &f, sizeof f, NULL, 0) == 0) {
        return;
    }
    struct shm_ctrl *c = calloc(1, sizeof *c);
    if (!c) {
        SF_ERR("shm: out of memory queueing a bulk control record; peer %d will stall", peer);
        return;
    }
    c->peer = peer;
    c->type = type;
    c->fin = f;
    struct shm_ctrl **pp = &s->ctrl;
    while (*pp) {
        pp = &(*pp)->next;
    }
    *pp = c;
}

static int shm_ctrl_flush(struct shm_net *s)
{
    int n = 0;
    while (s->ctrl) {
        struct shm_ctrl *c = s->ctrl;
        if (shm_put(s, c->peer, c->type, &c->fin, sizeof c->fin, NULL, 0) != 0) {
            break;
        }
        s->ctrl = c->next;
        free(c);
        n++;
    }
    return n;
}

/* ---- bulk ---- */

static void shm_done(struct shm_net *s, struct sf_net__bulk *b, int status, size_t len)
{
    void *ctx = b->ctx;
    free(b);
    if (s->base.cb.done) {
        s->base.cb.done(s->base.cb.arg, &s->base, ctx, status, len);
    }
}

static int shm_bulk_send(struct sf_net *net, int peer, uint64_t cookie, const void *buf, size_t len,
                         void *ctx)
{
    struct shm_net *s = (struct shm_net *)net;
    if (peer < 0 || peer >= s->n) {
        return -EINVAL;
    }
    struct sf_net__bulk *b = calloc(1, sizeof *b);
    if (!b) {
        return -ENOMEM;
    }
    b->peer = peer;
    b->cookie = cookie;
    b->buf = (void *)buf;
    b->len = len;
    b->ctx = ctx;
    struct shm_rts r = {
        .cookie = cookie, .addr = (uint64_t)(uintptr_t)buf, .len = len, .pid = (uint32_t)getpid()};
    int rc = shm_put(s, peer, SHM_T_RTS, &r, sizeof r, NULL, 0);
    if (rc < 0) {
        free(b);
        return rc;
    }
    sf_net__bulk_append(&s->sends, b);
    return 0;
}

/* Copy len bytes at raddr in process pid into buf. 0, -EPERM (not allowed:
 * stream instead), SF_ERR_PEER_GONE, or another negative errno. */
static int shm_cma_read(pid_t pid, void *buf, uint64_t raddr, size_t len)
{
    size_t off = 0;
    while (off < len) {
        struct iovec l = {.iov_base = (char *)buf + off, .iov_len = len - off};
        struct iovec r = {.iov_base = (void *)(uintptr_t)(raddr + off), .iov_len = len - off};
        ssize_t got = process_vm_readv(pid, &l, 1, &r, 1, 0);
        if (got < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno == ESRCH ? SF_ERR_PEER_GONE : -errno;
        }
        if (got == 0) {
            return -EFAULT;
        }
        off += (size_t)got;
    }
    return 0;
}

/* A posted receive 'b' met the sender's announcement 'a' (freed here). */
static void shm_bulk_match(struct shm_net *s, struct sf_net__bulk *b, struct sf_net__bulk *a)
{
    int peer = b->peer;
    uint64_t cookie = b->cookie;
    size_t len = a->len;
    uint64_t raddr = a->raddr;
    pid_t pid = (pid_t)a->pid;
    free(a);
    if (len > b->len) {
        shm_ctrl_send(s, peer, SHM_T_FIN, cookie, SF_ERR_TRUNCATE, 0);
        shm_done(s, b, SF_ERR_TRUNCATE, 0);
        return;
    }
    int rc = -EPERM;
    if (!s->peers[peer].no_cma) {
        rc = shm_cma_read(pid, b->buf, raddr, len);
    }
    if (rc == -EPERM) {
        /* Not allowed to read the sender: have it stream through the ring. */
        if (!s->peers[peer].no_cma) {
            SF_INFO("shm: process_vm_readv from local rank %d refused; streaming bulk data", peer);
        }
        s->peers[peer].no_cma = true;
        b->len = len;
        b->done_len = 0;
        if (len == 0) {
            shm_ctrl_send(s, peer, SHM_T_FIN, cookie, 0, 0);
            shm_done(s, b, 0, 0);
            return;
        }
        sf_net__bulk_append(&s->inbound, b);
        shm_ctrl_send(s, peer, SHM_T_CTS, cookie, 0, len);
        return;
    }
    shm_ctrl_send(s, peer, SHM_T_FIN, cookie, rc, rc == 0 ? len : 0);
    shm_done(s, b, rc, rc == 0 ? len : 0);
}

static int shm_bulk_recv(struct sf_net *net, int peer, uint64_t cookie, void *buf, size_t len,
                         void *ctx)
{
    struct shm_net *s = (struct shm_net *)net;
    if (peer < 0 || peer >= s->n) {
        return -EINVAL;
    }
    struct sf_net__bulk *b = calloc(1, sizeof *b);
    if (!b) {
        return -ENOMEM;
    }
    b->peer = peer;
    b->cookie = cookie;
    b->buf = buf;
    b->len = len;
    b->ctx = ctx;
    struct sf_net__bulk *a = sf_net__bulk_take(&s->unexpected, peer, cookie);
    if (a) {
        shm_bulk_match(s, b, a);
    } else {
        sf_net__bulk_append(&s->recvs, b);
    }
    return 0;
}

static void shm_on_rts(struct shm_net *s, int peer, const struct shm_rts *r)
{
    struct sf_net__bulk *a = calloc(1, sizeof *a);
    if (!a) {
        SF_ERR("shm: out of memory for a bulk announcement from local rank %d", peer);
        shm_ctrl_send(s, peer, SHM_T_FIN, r->cookie, -ENOMEM, 0);
        return;
    }
    a->peer = peer;
    a->cookie = r->cookie;
    a->raddr = r->addr;
    a->len = r->len;
    a->pid = r->pid;
    struct sf_net__bulk *b = sf_net__bulk_take(&s->recvs, peer, r->cookie);
    if (b) {
        shm_bulk_match(s, b, a);
    } else {
        sf_net__bulk_append(&s->unexpected, a);
    }
}

static void shm_on_fin(struct shm_net *s, int peer, const struct shm_fin *f)
{
    struct sf_net__bulk *b = sf_net__bulk_take(&s->sends, peer, f->cookie);
    if (!b) {
        SF_WARN_SPARSE("shm: FIN for unknown bulk cookie %llu from local rank %d",
                       (unsigned long long)f->cookie, peer);
        return;
    }
    shm_done(s, b, f->status, f->status == 0 ? b->len : 0);
}

static void shm_on_cts(struct shm_net *s, int peer, const struct shm_fin *f)
{
    struct sf_net__bulk *b = sf_net__bulk_take(&s->sends, peer, f->cookie);
    if (!b) {
        SF_WARN_SPARSE("shm: CTS for unknown bulk cookie %llu from local rank %d",
                       (unsigned long long)f->cookie, peer);
        return;
    }
    b->done_len = 0;
    sf_net__bulk_append(&s->streaming, b);
}

static void shm_on_chunk(struct shm_net *s, int peer, const char *rec, size_t len)
{
    struct shm_chunk c;
    if (len < sizeof c) {
        return;
    }
    memcpy(&c, rec, sizeof c);
    size_t dlen = len - sizeof c;
    struct sf_net__bulk *b = NULL;
    for (b = s->inbound; b; b = b->next) {
        if (b->peer == peer && b->cookie == c.cookie) {
            break;
        }
    }
    if (!b || c.offset > b->len || dlen > b->len - c.offset) {
        SF_WARN_SPARSE("shm: stray bulk chunk from local rank %d", peer);
        return;
    }
    memcpy((char *)b->buf + c.offset, rec + sizeof c, dlen);
    b->done_len += dlen;
    if (b->done_len == b->len) {
        sf_net__bulk_take(&s->inbound, peer, c.cookie);
        shm_done(s, b, 0, b->len);
    }
}

/* Push CHUNKs of streaming sends while their rings have room. Chunks of
 * one transfer go in order; a transfer completes once all of it is on the
 * ring (the data is copied, the user buffer is free again). */
static int shm_stream(struct shm_net *s)
{
    int events = 0;
    struct sf_net__bulk **pp = &s->streaming;
    while (*pp) {
        struct sf_net__bulk *b = *pp;
        while (b->done_len < b->len) {
            size_t dlen = b->len - b->done_len;
            if (dlen > SHM_CHUNK) {
                dlen = SHM_CHUNK;
            }
            struct shm_chunk c = {.cookie = b->cookie, .offset = b->done_len};
            if (shm_put(s, b->peer, SHM_T_CHUNK, &c, sizeof c, (char *)b->buf + b->done_len,
                        dlen) != 0) {
                break;
            }
            b->done_len += dlen;
        }
        if (b->done_len == b->len) {
            *pp = b->next;
            shm_done(s, b, 0, b->len);
            events++;
        } else {
            pp = &b->next;
        }
    }
    return events;
}

/* ---- receive side ---- */

static void shm_dispatch(struct shm_net *s, int peer, unsigned type, const char *rec, size_t len)
{
    switch (type) {
    case SHM_T_DATA:
        s->base.cb.recv(s->base.cb.arg, &s->base, peer, rec, len);
        break;
    case SHM_T_RTS: {
        struct shm_rts r;
        if (len == sizeof r) {
            memcpy(&r, rec, sizeof r);
            shm_on_rts(s, peer, &r);
        }
        break;
    }
    case SHM_T_FIN:
    case SHM_T_CTS: {
        struct shm_fin f;
        if (len == sizeof f) {
            memcpy(&f, rec, sizeof f);
            if (type == SHM_T_FIN) {
                shm_on_fin(s, peer, &f);
            } else {
                shm_on_cts(s, peer, &f);
            }
        }
        break;
    }
    case SHM_T_CHUNK:
        shm_on_chunk(s, peer, rec, len);
        break;
    default:
        SF_WARN_SPARSE("shm: unknown record type %u from local rank %d", type, peer);
        break;
    }
}

/* Deliver up to 'budget' records from 'peer'. */
static int shm_drain(struct shm_net *s, int peer, int budget)
{
    struct shm_peer *p = &s->peers[peer];
    struct shm_ring *r = p->rx;
    int n = 0;
    while (n < budget) {
        uint64_t idx = p->rx_pos & s->mask;
        uint64_t *w = shm_slot_word(r, idx);
        uint64_t h = __atomic_load_n(w, __ATOMIC_ACQUIRE);
        if ((h >> 17) != ((p->rx_pos + 1) & (UINT64_MAX >> 17))) {
            break;
        }
        unsigned type = (unsigned)(h >> 14) & 7;
        size_t len = (size_t)(h & SHM_LEN_MAX);
        if (type == SHM_T_PAD) {
            p->rx_pos += s->nslots - idx;
            continue;
        }
        size_t k = shm_rec_slots(len);
        if (idx + k > s->nslots) {
            /* Only a corrupted segment gets here: the producer never wraps
             * a record. Stop reading this ring rather than overrun it. */
            SF_WARN_SPARSE("shm: corrupt record from local rank %d", peer);
            break;
        }
        shm_dispatch(s, peer, type, (const char *)w + SHM_HDR, len);
        for (size_t i = 1; i < k; i++) {
            *shm_slot_word(r, idx + i) = 0;
        }
        p->rx_pos += k;
        n++;
    }
    /* Release slots in batches: the producer re-reads 'freed' only when it
     * thinks the ring is full, and 7/8 of a ring always fits a max record. */
    if (p->rx_pos - p->rx_pub >= s->nslots / 8) {
        __atomic_store_n(&r->freed, p->rx_pos, __ATOMIC_RELEASE);
        p->rx_pub = p->rx_pos;
    }
    return n;
}

static int shm_progress(struct sf_net *net)
{
    struct shm_net *s = (struct shm_net *)net;
    if (s->in_progress) {
        return 0;
    }
    s->in_progress = true;
    int events = 0;
    if (s->ctrl) {
        events += shm_ctrl_flush(s);
    }
    if (s->streaming) {
        events += shm_stream(s);
    }
    int start = s->rr;
    for (int i = 0; i < s->n && events < SHM_BATCH; i++) {
        int peer = start + i < s->n ? start + i : start + i - s->n;
        if (peer == s->me && s->peers[peer].tx_pos == s->peers[peer].rx_pos) {
            continue; /* our own ring: both ends are private, skip the load */
        }
        events += shm_drain(s, peer, SHM_BATCH - events);
    }
    s->rr = start + 1 < s->n ? start + 1 : 0;
    s->in_progress = false;
    return events;
}

/* ---- get, names, lifetime ---- */

static int shm_get(struct sf_net *net, int peer, void *buf, uint64_t raddr, size_t len)
{
    struct shm_net *s = (struct shm_net *)net;
    if (peer < 0 || peer >= s->n) {
        return -EINVAL;
    }
    if (!(s->base.caps & SF_NET_CAP_GET)) {
        return SF_ERR_UNSUPPORTED;
    }
    if (len == 0) {
        return 0;
    }
    if (peer == s->me) {
        memcpy(buf, (const void *)(uintptr_t)raddr, len);
        return 0;
    }
    pid_t pid = (pid_t)__atomic_load_n(shm_pid_slot(s, peer), __ATOMIC_ACQUIRE);
    if (pid == 0) {
        return SF_ERR_PEER_GONE;
    }
    return shm_cma_read(pid, buf, raddr, len);
}

static int shm_getname(struct sf_net *net, void *buf, size_t *len)
{
    struct shm_net *s = (struct shm_net *)net;
    uint32_t me = (uint32_t)s->me;
    if (*len < sizeof me) {
        *len = sizeof me;
        return -ENOBUFS;
    }
    memcpy(buf, &me, sizeof me);
    *len = sizeof me;
    return 0;
}

static int shm_insert(struct sf_net *net, int npeers, const void *const *addrs, const size_t *lens)
{
    struct shm_net *s = (struct shm_net *)net;
    return npeers == s->n ? 0 : -EINVAL;
}

static int shm_wait_fd(struct sf_net *net)
{
    return -1;
}

static void shm_free_list(struct sf_net__bulk *b)
{
    while (b) {
        struct sf_net__bulk *next = b->next;
        free(b);
        b = next;
    }
}

static void shm_close(struct sf_net *net)
{
    struct shm_net *s = (struct shm_net *)net;
    if (!s) {
        return;
    }
    if (s->seg) {
        __atomic_store_n(shm_pid_slot(s, s->me), 0, __ATOMIC_RELEASE);
        munmap(s->seg, s->seg_size);
    }
    shm_free_list(s->recvs);
    shm_free_list(s->unexpected);
    shm_free_list(s->sends);
    shm_free_list(s->streaming);
    shm_free_list(s->inbound);
    while (s->ctrl) {
        struct shm_ctrl *c = s->ctrl;
        s->ctrl = c->next;
        free(c);
    }
    free(s->peers);
    free(s);
}

static int shm_count(const struct sf_net__bulk *b)
{
    int n = 0;
    for (; b != NULL; b = b->next) {
        n++;
    }
    return n;
}

/* Announced-but-unmatched sends from peers (unexpected) are not counted:
 * they wait for this rank's program, not for progress. */
static int shm_pending(struct sf_net *net)
{
    struct shm_net *s = (struct shm_net *)net;
    int n = shm_count(s->recvs) + shm_count(s->sends) + shm_count(s->streaming) +
            shm_count(s->inbound);
    for (struct shm_ctrl *c = s->ctrl; c != NULL; c = c->next) {
        n++;
    }
    return n;
}

static const struct sf_net_ops shm_ops = {
    .name = "shm",
    .progress = shm_progress,
    .send = shm_send,
    .bulk_send = shm_bulk_send,
    .bulk_recv = shm_bulk_recv,
    .get = shm_get,
    .getname = shm_getname,
    .insert = shm_insert,
    .wait_fd = shm_wait_fd,
    .close = shm_close,
    .pending = shm_pending,
};

/* Can this process use process_vm_readv at all (seccomp, kernel config)?
 * Reading ourselves says yes or no cheaply; permission to read a given
 * peer is learned on first use (EPERM switches that peer to streaming). */
static bool shm_cma_works(void)
{
    static const uint32_t probe = 0x5f5f5f5f;
    uint32_t copy = 0;
    return shm_cma_read(getpid(), &copy, (uint64_t)(uintptr_t)&probe, sizeof copy) == 0 &&
           copy == probe;
}

int sf_net_shm_open(int fd, int local_rank, int local_size, const struct sf_net_callbacks *cb,
                    struct sf_net **out)
{
    if (local_size <= 0 || local_rank < 0 || local_rank >= local_size || !cb || !cb->recv || !out) {
        return -EINVAL;
    }
    size_t need = sf_net_shm_segment_size(local_size);
    struct shm_tun tun;
    int rc = sf_tun_load(&shm_tun_table, &tun);
    if (rc != 0) {
        return rc;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        return -errno;
    }
    if ((size_t)st.st_size < need) {
        SF_ERR("shm: segment is %lld bytes, %zu needed for %d local ranks", (long long)st.st_size,
               need, local_size);
        return -EINVAL;
    }
    struct shm_net *s = calloc(1, sizeof *s);
    if (!s) {
        return -ENOMEM;
    }
    s->peers = calloc((size_t)local_size, sizeof *s->peers);
    if (!s->peers) {
        free(s);
        return -ENOMEM;
    }
    void *seg = mmap(NULL, need, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (seg == MAP_FAILED) {
        rc = -errno;
        free(s->peers);
        free(s);
        return rc;
    }
    s->seg = seg;
    s->seg_size = need;
    s->me = local_rank;
    s->n = local_size;
    s->nslots = shm_nslots(local_size);
    s->mask = s->nslots - 1;
    s->stride = shm_stride(local_size);
    s->hdr_size = shm_hdr_size(local_size);
    for (int i = 0; i < local_size; i++) {
        s->peers[i].tx = shm_ring_at(s, local_rank, i);
        s->peers[i].rx = shm_ring_at(s, i, local_rank);
    }
    /* Harmless where Yama is absent; needed where it restricts ptrace. */
    (void)prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
    s->base.ops = &shm_ops;
    s->base.cb = *cb;
    s->base.max_pkt = SHM_MAX_PKT;
    s->base.caps = tun.cma && shm_cma_works() ? SF_NET_CAP_GET : 0;
    for (int i = 0; i < local_size; i++) {
        s->peers[i].no_cma = !(s->base.caps & SF_NET_CAP_GET);
    }
    __atomic_store_n(shm_pid_slot(s, local_rank), (uint32_t)getpid(), __ATOMIC_RELEASE);
    *out = &s->base;
    return 0;
}
