/* Transports between the ranks of one job: Starfish's own shared memory
 * (same node) and libfabric RDM (any provider). Both sit behind the same
 * ops table so the message engine above (runtime/rt) and, later, the
 * checkpoint layer treat them alike. Single-threaded: the rank's MPI calls
 * drive progress; nothing here starts a thread.
 *
 * Contract for every transport:
 *  - Packets (send) are small (<= max_pkt bytes), copied by the transport
 *    before send returns, and delivered to the peer's recv callback whole,
 *    in the order they were sent from one sender to one receiver.
 *  - Bulk transfers move large buffers without intermediate copies where
 *    the transport can: push (bulk_send matched to the receiver's bulk_recv
 *    with the same cookie) always; pull (get: read the peer's memory
 *    directly) when caps has SF_NET_CAP_GET.
 *  - Nothing blocks: a full queue returns -EAGAIN and the caller retries
 *    after progress.
 */
#ifndef SF_NET_H
#define SF_NET_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct sf_net;

/* Packet arrived from 'peer' (a transport-local peer index, see insert).
 * 'pkt' is valid only during the call. */
typedef void (*sf_net_recv_fn)(void *arg, struct sf_net *net, int peer, const void *pkt,
                               size_t len);
/* A bulk_send/bulk_recv finished; status 0 or a negative code. For
 * bulk_recv, 'len' is the number of bytes received. */
typedef void (*sf_net_done_fn)(void *arg, struct sf_net *net, void *ctx, int status, size_t len);

struct sf_net_callbacks {
    sf_net_recv_fn recv;
    sf_net_done_fn done;
    void *arg;
};

enum { SF_NET_CAP_GET = 1 };

struct sf_net_ops {
    const char *name; /* "shm", "ofi:tcp;ofi_rxm", ... */
    /* Make progress: deliver arrived packets and completions through the
     * callbacks. Returns the number of events handled (0 = idle) or a
     * negative code on a fatal transport error. */
    int (*progress)(struct sf_net *net);
    /* Send one packet of total length <= max_pkt gathered from iov.
     * 0 (copied; the caller may reuse its buffers), -EAGAIN (no room now),
     * -EMSGSIZE, or another negative code. */
    int (*send)(struct sf_net *net, int peer, const struct iovec *iov, int iovcnt);
    /* Push 'len' bytes to the peer's matching bulk_recv (same cookie).
     * Completion through done(ctx). buf must stay valid until then. */
    int (*bulk_send)(struct sf_net *net, int peer, uint64_t cookie, const void *buf, size_t len,
                     void *ctx);
    int (*bulk_recv)(struct sf_net *net, int peer, uint64_t cookie, void *buf, size_t len,
                     void *ctx);
    /* Pull: copy len bytes at the peer's address 'raddr' into buf, now.
     * Only with SF_NET_CAP_GET. 0 or a negative code. */
    int (*get)(struct sf_net *net, int peer, void *buf, uint64_t raddr, size_t len);
    /* This endpoint's address, to publish through the node daemon. */
    int (*getname)(struct sf_net *net, void *buf, size_t *len);
    /* Learn the peers: addrs[i] (lens[i] bytes) becomes peer index i.
     * npeers entries; an entry with len 0 is not reachable through this
     * transport. May be called again after a restart (new epoch). */
    int (*insert)(struct sf_net *net, int npeers, const void *const *addrs, const size_t *lens);
    /* Push out what send() accepted: 0 once no accepted packet waits in
     * this process for more progress (each has reached the OS or the
     * peer), 1 while some still wait (progress, then ask again), or a
     * negative code. NULL where send never defers (shm). */
    int (*flush)(struct sf_net *net);
    /* A file descriptor that becomes readable when the transport may have
     * work, for ranks that block instead of polling; -1 if none. */
    int (*wait_fd)(struct sf_net *net);
    void (*close)(struct sf_net *net);
    /* Bulk transfers (and control records about them) started and not yet
     * finished: a count, 0 when none is in flight. A checkpoint closes a
     * transport only at 0 (runtime/rt/rt_quiesce.c). NULL: always 0. */
    int (*pending)(struct sf_net *net);
};

struct sf_net {
    const struct sf_net_ops *ops;
    struct sf_net_callbacks cb;
    size_t max_pkt; /* largest packet send accepts */
    unsigned caps;  /* SF_NET_CAP_* */
};

/* Own shared memory between the ranks of one node. 'fd' is the node's job
 * segment (a memfd created by sfd, size from sf_net_shm_segment_size), the
 * rank is local_rank of local_size. Peers are local ranks: insert is a
 * no-op that only checks npeers == local_size.
 * The new transport is owned by the caller: ops->close frees it. */
int sf_net_shm_open(int fd, int local_rank, int local_size, const struct sf_net_callbacks *cb,
                    struct sf_net **out);
/* Bytes sfd must ftruncate the segment to for local_size ranks. */
size_t sf_net_shm_segment_size(int local_size);

/* libfabric RDM endpoint, tagged, manual progress. Provider from
 * fi_getinfo, restricted by FI_PROVIDER if set in the environment.
 * Peers are world ranks (insert gets the whole job's addresses). */
int sf_net_ofi_open(const struct sf_net_callbacks *cb, struct sf_net **out);

/* Print the transports' tunables (SF_NET_*) for --params. */
void sf_net_params(FILE *out);

#endif
