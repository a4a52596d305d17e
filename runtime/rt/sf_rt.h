/* The rank's runtime: wire-up with the node daemon and the point-to-point
 * message engine (MPI matching semantics over the transports in
 * runtime/net). Knows nothing of MPI handles or datatypes: messages are
 * byte buffers, addressed by world rank, matched on (context id, source
 * rank within the communicator, tag). Single-threaded: callers serialise
 * (at MPI_THREAD_MULTIPLE the MPI layer holds one critical section around
 * every call and gives it up in its own wait loops, never inside the
 * engine: sf_rt_wait keeps it); progress happens inside calls.
 *
 * Protocols: a message of up to the eager limit travels in packets and is
 * buffered at the receiver if unexpected; a larger one sends only a
 * request-to-send, and its data moves once the receive is matched (pull
 * over shared memory, push over libfabric), so unexpected large messages
 * are never buffered whole.
 */
#ifndef SF_RT_H
#define SF_RT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct sf_rt;
struct sf_rt_msg; /* a matched-but-not-received message (MPI_Mprobe) */

#define SF_RT_ANY_SOURCE (-1)
#define SF_RT_ANY_TAG (-1)
#define SF_RT_PROC_NULL (-2)

enum sf_rt_mode { SF_RT_STANDARD = 0, SF_RT_SYNC = 1, SF_RT_READY = 2 };

struct sf_rt_status {
    int source;   /* sender's rank in the communicator */
    int tag;
    int error;    /* 0, SF_ERR_TRUNCATE, SF_ERR_PEER_GONE, ... */
    bool cancelled;
    size_t count; /* bytes received (or that would be, for probe) */
};

enum sf_rt_req_kind { SF_RT_REQ_SEND = 1, SF_RT_REQ_RECV = 2 };

/* Bytes a non-contiguous transfer moves at a time: the size of a layout's
 * staging buffer for messages at least this long. */
#define SF_RT_SEG_BYTES (256u << 10)

/* A non-contiguous buffer (an MPI derived datatype): instead of reading or
 * writing one span, the engine calls pack (the next n bytes of the message
 * into dst) or unpack (store the next n received bytes), in stream order,
 * never more than SF_RT_SEG_BYTES at a time, so no copy of the whole
 * message is made. 'stage' (the caller's, stage_len >= min(message or
 * receive length, SF_RT_SEG_BYTES)) holds the segment in flight. Large
 * messages with a layout on either side move as a rendezvous in segments
 * (pulled into the stage, or pushed one segment per clear-to-send). The
 * layout must stay valid until the request completes. */
struct sf_rt_layout {
    void (*pack)(void *arg, void *dst, size_t n);
    void (*unpack)(void *arg, const void *src, size_t n);
    void *arg;
    void *stage;
    size_t stage_len;
};

/* A request lives in storage the caller provides (the MPI layer embeds it
 * in its request object) and must stay put until complete. The fields
 * below 'private' belong to the engine. */
struct sf_rt_req {
    volatile bool complete;
    uint8_t seg_flags; /* private: segmented rendezvous state (RT_SEG_*) */
    enum sf_rt_req_kind kind;
    struct sf_rt_status status;
    /* private */
    struct sf_rt_req *next, *prev;
    void *buf;     /* with a layout: the struct sf_rt_layout */
    size_t len;    /* segmented send: the segment in flight (status.count: all) */
    uint32_t ctx;
    int peer;      /* send: destination world rank; recv: source comm rank or ANY */
    int tag;
    int src_rank;  /* send: own rank in the communicator */
    int mode;
    int state;
    uint64_t id;   /* rendezvous cookie / request id */
    void *proto;   /* protocol scratch (unexpected entry, pending packet) */
    size_t seg_done; /* segmented rendezvous: bytes moved (or handed to the transport) */
};

/* Connect to the node daemon named in the environment (SF_SFD_FD ...),
 * open the transports, publish this rank's addresses and receive the job's
 * address table. Returns 0, -ENOENT when not started by sfrun (no daemon
 * in the environment), or another negative code. The handle is owned by
 * the caller until sf_rt_finalize.
 * With -ENOENT *out is nevertheless a usable one-rank engine (rank 0 of 1,
 * self-sends only), owned by the caller like any other: the MPI layer runs
 * a singleton on it. On any other error *out is NULL. */
int sf_rt_init(struct sf_rt **out);
/* Tell the daemon this rank finalized, drain outstanding sends, close the
 * transports and free the handle. Peers must have finished communicating
 * (the MPI layer runs a barrier first). */
int sf_rt_finalize(struct sf_rt *rt);
/* Tell the daemon to end the job with 'errorcode', then exit. */
void sf_rt_abort(struct sf_rt *rt, int errorcode, const char *msg) __attribute__((noreturn));

int sf_rt_rank(const struct sf_rt *rt);  /* world rank */
int sf_rt_size(const struct sf_rt *rt);  /* world size */
/* Same-node peers of this rank, as world ranks (including itself), in order.
 * Owned by rt. */
const int *sf_rt_node_ranks(const struct sf_rt *rt, int *count);
const char *sf_rt_hostname(const struct sf_rt *rt);
uint64_t sf_rt_job(const struct sf_rt *rt);

/* Start a send of len bytes to world rank 'dest'. 'src_rank' is the
 * sender's rank in the communicator of context 'ctx' (the receiver matches
 * and reports it). buf must stay valid until the request completes.
 * dest == SF_RT_PROC_NULL completes at once. 0 or a negative code. */
int sf_rt_isend(struct sf_rt *rt, struct sf_rt_req *req, const void *buf, size_t len, int dest,
                uint32_t ctx, int src_rank, int tag, enum sf_rt_mode mode);
/* Start a receive of up to len bytes from comm rank 'source' (or
 * SF_RT_ANY_SOURCE) with 'tag' (or SF_RT_ANY_TAG) on context ctx. A longer
 * message completes with status.error = SF_ERR_TRUNCATE and len bytes kept.
 * source == SF_RT_PROC_NULL completes at once with source PROC_NULL,
 * tag ANY_TAG, count 0. SF_RT_ANY_TAG matches only tags >= 0: negative
 * tags are for the library's own traffic. */
int sf_rt_irecv(struct sf_rt *rt, struct sf_rt_req *req, void *buf, size_t len, int source,
                uint32_t ctx, int tag);
/* Non-blocking probe. *flag set when a matching message has arrived; then
 * *st describes it. With msg != NULL (mprobe) the message is removed from
 * matching and *msg returned for sf_rt_imrecv. */
int sf_rt_iprobe(struct sf_rt *rt, int source, uint32_t ctx, int tag, bool *flag,
                 struct sf_rt_status *st, struct sf_rt_msg **msg);
int sf_rt_imrecv(struct sf_rt *rt, struct sf_rt_req *req, void *buf, size_t len,
                 struct sf_rt_msg *msg);
/* The same three with a non-contiguous buffer described by 'lay' (see
 * struct sf_rt_layout) instead of buf. */
int sf_rt_isend_layout(struct sf_rt *rt, struct sf_rt_req *req, const struct sf_rt_layout *lay,
                       size_t len, int dest, uint32_t ctx, int src_rank, int tag,
                       enum sf_rt_mode mode);
int sf_rt_irecv_layout(struct sf_rt *rt, struct sf_rt_req *req, const struct sf_rt_layout *lay,
                       size_t len, int source, uint32_t ctx, int tag);
int sf_rt_imrecv_layout(struct sf_rt *rt, struct sf_rt_req *req, const struct sf_rt_layout *lay,
                        size_t len, struct sf_rt_msg *msg);
/* Cancel a pending receive (a send that has not been matched may also be
 * cancelled). On success the request completes with status.cancelled set;
 * a request already matched completes normally. 0 or a negative code.
 * Sends: only a send whose packet has not left this process yet (or a
 * self-send not yet received) is withdrawn; an announced send completes
 * normally with cancelled false, as MPI permits. */
int sf_rt_cancel(struct sf_rt *rt, struct sf_rt_req *req);

/* Drive all transports and the daemon connection once. Returns the number
 * of events handled, or a negative code when the job is being torn down
 * (the caller reports it through the MPI error handler). */
int sf_rt_progress(struct sf_rt *rt);
/* Progress until req completes (or the job fails: negative code). Waiting
 * spins briefly, then yields the core (always yields at once when the node
 * is oversubscribed) so ranks sharing a core keep moving. */
int sf_rt_wait(struct sf_rt *rt, struct sf_rt_req *req);
/* For loops over many requests: call between polls when nothing completed;
 * idle counts consecutive idle polls, decides spin vs yield. */
void sf_rt_idle(struct sf_rt *rt, unsigned idle);

/* Bytes at or below which messages go eager (tunable SF_RT_EAGER_LIMIT). */
size_t sf_rt_eager_limit(const struct sf_rt *rt);

/* Print the engine's tunables (SF_RT_*), with the values the environment
 * gives, as sf_tun_print lines: for sfrun/sfd --params. */
void sf_rt_params(FILE *out);

#endif
