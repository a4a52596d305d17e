/* runtime/rt private: the engine's state, the data-path packet format and
 * the functions the rt_*.c files share. Not for use outside runtime/rt
 * except the test constructor (sf_rt__new/attach) used by tests/check_rt.c.
 * Single-threaded like the engine itself. */
#ifndef SF_RT_INT_H
#define SF_RT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "runtime/base/sf_wire.h"
#include "runtime/net/sf_net.h"
#include "runtime/rt/sf_rt.h"

/* Data-path packet (rank <-> rank). Every packet starts with this 24-byte
 * header, copied in and out with memcpy in host byte order: all ranks of
 * a job run the same ABI (heterogeneous jobs are not supported).
 *   off size field
 *     0    1 kind (enum rt_kind)
 *     1    1 flags (RT_F_*)
 *     2    2 reserved (0)
 *     4    4 ctx: context id
 *     8    4 src: sender's rank in the communicator
 *    12    4 tag
 *    16    4 seq: per (sender, receiver) packet sequence number
 *    20    4 len: payload bytes following the header (and extension)
 *    24    . extension (kinds below), then payload
 * Extension (struct rt_ext, 8 bytes per word used):
 *   EAGER           none; with RT_F_SYNC: a = sender request id;
 *                   with RT_F_MULTI (24 bytes): a = sender request id if
 *                   SYNC, b = message length; FRAG packets carry the rest
 *   FRAG            none: the next payload bytes of the MULTI message
 *                   before it (a sender's fragments are contiguous in its
 *                   stream to one receiver)
 *   RTS             a = sender request id, b = sender buffer address,
 *                   c = message length; with RT_F_SEG the sender has a
 *                   layout (b = 0): the receiver must pull nothing and
 *                   ask for segments by CTS
 *   CTS             a = sender request id, b = bulk cookie, c = bytes wanted;
 *                   with RT_F_MORE another CTS follows for the same send
 *                   (segmented rendezvous: one bulk push per CTS)
 *   FIN             a = sender request id, c = bytes pulled
 *   SYNC_ACK        a = sender request id
 */
enum rt_kind {
    RT_K_EAGER = 1,
    RT_K_RTS = 2,
    RT_K_CTS = 3,
    RT_K_FIN = 4,
    RT_K_SYNC_ACK = 5,
    RT_K_FRAG = 6,
    RT_K_MARK = 7, /* checkpoint marker: a = epoch (rt_quiesce.c) */
    RT_K_COUNT
};
enum { RT_F_SYNC = 1, RT_F_MULTI = 2, RT_F_SEG = 4, RT_F_MORE = 8 };
/* sf_rt_req.seg_flags: segmented rendezvous state. */
enum {
    RT_SEG_ON = 1,     /* data moves in segments (one CTS + bulk push each) */
    RT_SEG_MORE = 2,   /* send: the segment in flight is not the last */
    RT_SEG_PEND = 4,   /* send: a CTS waits in rt->pcts for the segment in flight */
    RT_SEG_NOADDR = 8, /* recv: the sender has a layout, nothing to pull */
    RT_SEG_LAY = 16    /* buf is a struct sf_rt_layout */
};
/* A segment's CTS that came before the previous segment's send completed
 * (rare: completions and packets are separate event streams). */
struct rt_pcts {
    struct rt_pcts *next;
    struct sf_rt_req *req;
    uint64_t cookie;
    size_t n;
    bool more;
};
/* Largest eager message (SF_RT_EAGER_LIMIT is capped here): beyond one
 * packet eager messages travel as fragments. */
#define RT_EAGER_MAX (256u << 10)

struct rt_hdr {
    uint8_t kind;
    uint8_t flags;
    uint16_t rsv;
    uint32_t ctx;
    int32_t src;
    int32_t tag;
    uint32_t seq;
    uint32_t len;
};
struct rt_ext {
    uint64_t a, b, c;
};
#define RT_HDR_LEN 24
_Static_assert(sizeof(struct rt_hdr) == RT_HDR_LEN, "rt_hdr layout");
#define RT_EXT_LEN(kind, flags)                                                  \
    ((kind) == RT_K_EAGER ? (((flags) & RT_F_MULTI) ? 24 : ((flags) & RT_F_SYNC) ? 8 : 0) \
     : (kind) == RT_K_FRAG                    ? 0                                 \
     : (kind) == RT_K_RTS || (kind) == RT_K_CTS || (kind) == RT_K_FIN ? 24 : 8)

/* Request states (sf_rt_req.state). */
enum {
    RT_S_DONE = 0,
    /* receives */
    RT_S_POSTED,     /* in the posted queue */
    RT_S_BULK_RECV,  /* CTS sent, waiting for the bulk_recv done callback */
    RT_S_GET_RETRY,  /* matched an RTS; the get hit -EAGAIN, retried in progress */
    /* sends */
    RT_S_WAIT_ACK,   /* eager-sync: waiting for SYNC_ACK */
    RT_S_WAIT_RNDV,  /* RTS sent: waiting for CTS (push) or FIN (pull) */
    RT_S_BULK_SEND,  /* bulk_send running */
    RT_S_BULK_RETRY, /* bulk_send hit -EAGAIN, retried in progress */
    RT_S_SELF,       /* self-send waiting in our own unexpected queue */
    RT_S_QUEUED,     /* standard eager send whose packet waits in the peer's FIFO */
    RT_S_FRAGS,      /* standard fragmented eager send: fragments still queued */
};

/* An arrived message not yet matched (also the sf_rt_msg of mprobe).
 * Eager data is copied into 'data'; an RTS keeps only the address. */
struct sf_rt_msg {
    struct sf_rt_msg *next, *prev;
    uint32_t ctx;
    int32_t src, tag;
    uint8_t kind;     /* RT_K_EAGER or RT_K_RTS */
    uint8_t flags;    /* RT_F_SYNC */
    int peer;         /* sender's world rank */
    size_t len;       /* message length */
    uint64_t sreq;    /* sender's request id (RTS, SYNC) */
    uint64_t raddr;   /* RTS: sender's buffer */
    struct sf_rt_req *self;  /* self-send: the sender's request, data not copied */
    size_t cap;       /* bytes allocated at data */
    unsigned char data[];
};

/* One transport as the engine sees it. */
struct rt_tr {
    struct sf_rt *rt;
    struct sf_net *net;
    int *world_of;    /* transport peer index -> world rank */
    int npeers;
};
#define RT_MAX_TR 3

/* Outgoing packet that could not be sent yet; per-peer FIFO. Header and
 * extension are copied. A standard eager send's payload is copied too
 * (into a recycled buffer, 'copy') while the peer's FIFO is short, so the
 * send completes at once as MPI programs expect of small sends; beyond
 * RT_PEND_COPY_MAX queued packets the payload is referenced instead and
 * the send completes only when its packet leaves: back-pressure rather
 * than unbounded buffering. Other payloads (sync sends) are referenced:
 * their buffer stays valid until they complete. */
#define RT_PEND_COPY_MAX 64
struct rt_pend {
    struct rt_pend *next;
    struct sf_rt_req *req;   /* the send still waiting on this packet, or NULL */
    const void *payload;
    unsigned char *copy;     /* owned payload copy (rt->eager bytes) or NULL */
    size_t plen;
    uint32_t hlen;           /* header + extension bytes in data */
    unsigned char data[RT_HDR_LEN + 24];
};

struct rt_peer {
    struct rt_tr *tr;        /* NULL: self or unreachable */
    int idx;                 /* peer index in tr */
    uint32_t tx_seq, rx_seq;
    struct rt_pend *pend_head, *pend_tail;
    int npend;               /* packets in the FIFO */
    /* Fragmented eager message being received from this peer: into a
     * matched receive (asm_req) or a buffer that joins the unexpected
     * queue once whole (asm_msg). */
    struct sf_rt_req *asm_req;
    struct sf_rt_msg *asm_msg;
    size_t asm_off, asm_len;
    uint64_t asm_sreq;
    bool asm_sync;
    bool pend_listed;        /* in rt->pend_peers */
    /* Checkpoints (rt_quiesce.c): the last marker round this peer sent, and
     * whether it finalized (sends nothing more: counts as marked). */
    uint32_t mark;
    bool final;
};

struct rt_list {
    struct sf_rt_req *head, *tail;
};
struct rt_mlist {
    struct sf_rt_msg *head, *tail;
};

struct rt_tun {
    size_t eager_limit;
    int spin;
    int daemon_poll;
    double linger; /* seconds */
};

struct sf_rt {
    int rank, size;
    uint64_t job;
    char *hostname;
    int *node_ranks;
    int nnode_ranks;
    bool oversub;

    struct rt_tun tun;
    size_t eager;            /* effective eager limit */

    struct rt_peer *peers;   /* by world rank */
    struct rt_tr tr[RT_MAX_TR];
    int ntr;

    struct rt_list posted;   /* receives waiting for a message, post order */
    struct rt_mlist unexp;   /* messages waiting for a receive, arrival order */
    struct rt_list retry;    /* bulk_send/get to retry after -EAGAIN */
    int *pend_peers;         /* world ranks with queued packets */
    int npend_peers;

    /* Send requests awaiting a reply, by id: id = gen << 32 | slot. */
    struct sf_rt_req **slots;
    uint32_t *slot_free;
    uint32_t nslots, nfree, gen;
    uint64_t next_cookie;

    /* Recycled allocations: the data path must not malloc/free (and make
     * the heap grow and shrink) once per message. */
    struct sf_rt_msg *msg_cache; /* small unexpected entries */
    int nmsg_cache;
    struct sf_rt_msg *big_cache; /* eager-sized unexpected entries */
    int nbig_cache;
    struct rt_pend *pend_cache;  /* queue entries */
    int npend_cache;
    void **copy_cache;           /* payload copy buffers of rt->eager bytes */
    int ncopy_cache;

    struct rt_pcts *pcts;    /* early segment CTSs (RT_SEG_PEND) */
    unsigned long dropped;   /* bad packets */
    unsigned npoll;          /* progress calls since the daemon was polled */
    int fatal;               /* sticky negative code once the job is torn down */

    /* CRIU checkpoints (rt_quiesce.c): while ckpt_hold, arrivals are
     * queued unmatched (after ckpt_held_after in unexp) and matched again
     * in arrival order at resume. Markers counted per epoch. What wire-up
     * opened, so that resume reopens the same. */
    bool ckpt_hold, ckpt_busy;
    struct sf_rt_msg *ckpt_held_after;
    int ckpt_node, ckpt_lrank, ckpt_lsize, ckpt_shm_fd;
    bool ckpt_ofi, ckpt_shm;

    /* Daemon connection (NULL/-1 for singleton and test engines). */
    int sfd_fd;
    int (*daemon_poll)(struct sf_rt *rt);
    struct sf_wire_rx *rx;
    uint32_t wire_seq;
};

/* Test/internal constructor: an engine for world rank 'rank' of 'size'
 * with no transports yet. 0 or -ENOMEM. */
int sf_rt__new(int rank, int size, struct sf_rt **out);
/* Callbacks to hand a transport's open function for slot 'slot'
 * (0..RT_MAX_TR-1, used in order). */
struct sf_net_callbacks sf_rt__callbacks(struct sf_rt *rt, int slot);
/* Bind an opened transport to 'slot': world_of[i] is the world rank of
 * transport peer i (npeers entries; copied). Every world rank reached
 * through it gets it as its route. Recomputes the eager limit. */
int sf_rt__attach(struct sf_rt *rt, int slot, struct sf_net *net, const int *world_of, int npeers);
/* Free the engine: closes its transports; no daemon messages. */
void sf_rt__free(struct sf_rt *rt);

/* rt_core.c */
uint64_t sf_rt__slot_put(struct sf_rt *rt, struct sf_rt_req *req);
struct sf_rt_req *sf_rt__slot_find(struct sf_rt *rt, uint64_t id);
struct sf_rt_req *sf_rt__slot_take(struct sf_rt *rt, uint64_t id);

/* Queue primitives and completion: inline, they sit on the fast path. */
static inline void sf_rt__complete(struct sf_rt_req *req)
{
    req->state = RT_S_DONE;
    req->complete = true;
}

static inline void sf_rt__list_push(struct rt_list *l, struct sf_rt_req *r)
{
    r->next = NULL;
    r->prev = l->tail;
    if (l->tail != NULL) {
        l->tail->next = r;
    } else {
        l->head = r;
    }
    l->tail = r;
}

static inline void sf_rt__list_del(struct rt_list *l, struct sf_rt_req *r)
{
    if (r->prev != NULL) {
        r->prev->next = r->next;
    } else {
        l->head = r->next;
    }
    if (r->next != NULL) {
        r->next->prev = r->prev;
    } else {
        l->tail = r->prev;
    }
    r->next = r->prev = NULL;
}

static inline void sf_rt__mlist_push(struct rt_mlist *l, struct sf_rt_msg *m)
{
    m->next = NULL;
    m->prev = l->tail;
    if (l->tail != NULL) {
        l->tail->next = m;
    } else {
        l->head = m;
    }
    l->tail = m;
}

static inline void sf_rt__mlist_del(struct rt_mlist *l, struct sf_rt_msg *m)
{
    if (m->prev != NULL) {
        m->prev->next = m->next;
    } else {
        l->head = m->next;
    }
    if (m->next != NULL) {
        m->next->prev = m->prev;
    } else {
        l->tail = m->prev;
    }
    m->next = m->prev = NULL;
}

/* The layout of a request, or NULL when buf is one span. */
static inline const struct sf_rt_layout *sf_rt__lay(const struct sf_rt_req *r)
{
    return (r->seg_flags & RT_SEG_LAY) ? (const struct sf_rt_layout *)r->buf : NULL;
}

/* Store n received bytes at offset off of receive r (through its layout
 * if it has one: offsets then only ever grow, segment by segment). */
static inline void sf_rt__put(struct sf_rt_req *r, size_t off, const void *src, size_t n)
{
    if (n == 0) {
        return;
    }
    const struct sf_rt_layout *lay = sf_rt__lay(r);
    if (lay != NULL) {
        lay->unpack(lay->arg, src, n);
    } else {
        memcpy((unsigned char *)r->buf + off, src, n);
    }
}

/* rt_match.c */
struct sf_rt_req *sf_rt__match_posted(struct sf_rt *rt, uint32_t ctx, int src, int tag);
struct sf_rt_msg *sf_rt__match_unexp(struct sf_rt *rt, uint32_t ctx, int src, int tag);
struct sf_rt_msg *sf_rt__msg_alloc(struct sf_rt *rt, size_t datalen);
void sf_rt__msg_free(struct sf_rt *rt, struct sf_rt_msg *m);

/* rt_send.c */
int sf_rt__send_pkt(struct sf_rt *rt, int dest, struct rt_hdr *h, const struct rt_ext *x,
                    const void *payload, size_t plen, struct sf_rt_req *owner);
int sf_rt__send_ctl(struct sf_rt *rt, int dest, uint8_t kind, uint64_t a, uint64_t b, uint64_t c);
int sf_rt__flush_pending(struct sf_rt *rt);
int sf_rt__start_bulk_send(struct sf_rt *rt, struct sf_rt_req *s);
/* Segmented rendezvous, sender: push the next n bytes (packed into the
 * stage if s has a layout) for the receiver's bulk_recv 'cookie' (kept in
 * s->proto meanwhile); 'more' when the receiver will ask again. */
int sf_rt__seg_send(struct sf_rt *rt, struct sf_rt_req *s, uint64_t cookie, size_t n, bool more);
bool sf_rt__pend_remove(struct sf_rt *rt, struct sf_rt_req *req);
void sf_rt__pend_free(struct sf_rt *rt, struct rt_pend *p);

/* rt_quiesce.c: a peer's checkpoint marker arrived; the whole checkpoint
 * cycle of a rank, run from the daemon poll when CKPT_PREPARE arrives. */
void sf_rt__on_mark(struct sf_rt *rt, int w, uint64_t epoch);
/* CKPT_PREPARE flags from sfd: this bit and a world rank in the low bits
 * mean that rank finalized and ended during a checkpoint (no marker). */
#define RT_CKPT_GONE 0x80000000u
int sf_rt__ckpt_run(struct sf_rt *rt, uint32_t epoch);
/* rt_wireup.c: after a checkpoint, open the transports wire-up opened
 * again (shared segment from shm_path), publish the new addresses and
 * wait for the ADDR_TABLE of this epoch. */
int sf_rt__reopen(struct sf_rt *rt, uint32_t epoch, const char *shm_path);

/* rt_proto.c */
void sf_rt__recv_cb(void *arg, struct sf_net *net, int peer, const void *pkt, size_t len);
void sf_rt__done_cb(void *arg, struct sf_net *net, void *ctx, int status, size_t len);
/* Deliver a matched message into receive r; frees or consumes m. */
int sf_rt__deliver(struct sf_rt *rt, struct sf_rt_req *r, struct sf_rt_msg *m);
int sf_rt__retry(struct sf_rt *rt);

#endif
