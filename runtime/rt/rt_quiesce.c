/* runtime/rt checkpoint support (CRIU backend): bring this rank to a cut
 * that is consistent with its peers' (no byte in flight anywhere), close
 * the transports and the shared segment, tell sfd CKPT_READY, wait for
 * CKPT_RESUME, wire up again and carry on. Not the image itself (sfd runs
 * CRIU on the quiet process, checkpoint/ckpt_criu.c). Runs inside a
 * progress call of the rank's MPI thread: a rank computing without MPI
 * calls delays the checkpoint until its next call.
 *
 * The cut, per rank, once CKPT_PREPARE(epoch) arrives:
 *  1. hold: arriving messages are no longer matched (queued as unexpected,
 *     in arrival order), so no new rendezvous (CTS, pull, FIN) and no
 *     SYNC_ACK is started by this rank from here on;
 *  2. progress until locally quiet: no packet queued in rt or in a
 *     transport (flush), no bulk transfer in flight (ops->pending: pushes
 *     both ways, posted bulk receives, retries);
 *  3. send MARK(epoch) to every peer: the last packet of this epoch on
 *     each FIFO channel, since a holding rank generates no packets;
 *  4. progress on until a MARK came from every peer and this rank is quiet
 *     again (a CTS that arrived after our MARK starts a push; it must end).
 * A peer's MARK means every packet it sent us has been delivered into our
 * memory, and its pushes to us have finished on its side before it marked,
 * ours to it before we close; so once every rank is at 4, nothing is in a
 * channel, and what is half done (RTS not matched, sync sends not acked,
 * held arrivals) lives in the ranks' memory and continues after resume
 * on the new transports. Resume matches the held arrivals in arrival
 * order, exactly as they would have been matched on arrival.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/base/sf_err.h"
#include "runtime/base/sf_log.h"
#include "runtime/base/sf_wire.h"
#include "runtime/rt/rt_int.h"

/* Marker values: an epoch (the cut), RT_MARK_RESUME | epoch (after the
 * resume). A peer that finalized sends none: sfd says so (final). */
#define RT_MARK_RESUME 0x80000000u

void sf_rt__on_mark(struct sf_rt *rt, int w, uint64_t epoch)
{
    /* A peer may mark before our own PREPARE arrives: kept per peer until
     * we look. Rounds never overlap: a rank starts the next only after
     * every rank is past this one (sfd waits for all READY / RESUMED). */
    rt->peers[w].mark = (uint32_t)epoch;
}

/* Every peer we have a route to sent this round's marker or finalized. */
static bool ckpt_marked(struct sf_rt *rt, uint32_t round)
{
    for (int w = 0; w < rt->size; w++) {
        struct rt_peer *pe = &rt->peers[w];
        if (w != rt->rank && pe->tr != NULL && pe->mark != round && !pe->final) {
            return false;
        }
    }
    return true;
}

/* One round of transport progress, queued packets and retries, without
 * the daemon poll (that is where we came from). */
static int ckpt_progress(struct sf_rt *rt)
{
    int n = 0;
    for (int i = 0; i < rt->ntr; i++) {
        struct sf_net *net = rt->tr[i].net;
        if (net != NULL) {
            int rc = net->ops->progress(net);
            if (rc < 0) {
                return rc;
            }
            n += rc;
        }
    }
    if (rt->npend_peers > 0) {
        int rc = sf_rt__flush_pending(rt);
        if (rc < 0) {
            return rc;
        }
        n += rc;
    }
    if (rt->retry.head != NULL) {
        int rc = sf_rt__retry(rt);
        if (rc < 0) {
            return rc;
        }
        n += rc;
    }
    return rt->fatal < 0 ? rt->fatal : n;
}

/* Nothing of ours waits in rt or a transport, and no bulk is in flight. */
static int ckpt_quiet(struct sf_rt *rt)
{
    if (rt->npend_peers > 0 || rt->retry.head != NULL) {
        return 0;
    }
    for (int i = 0; i < rt->ntr; i++) {
        struct sf_net *net = rt->tr[i].net;
        if (net == NULL) {
            continue;
        }
        if (net->ops->flush != NULL) {
            int f = net->ops->flush(net);
            if (f < 0) {
                return f;
            }
            if (f > 0) {
                return 0;
            }
        }
        if (net->ops->pending != NULL && net->ops->pending(net) > 0) {
            return 0;
        }
    }
    return 1;
}

static int ckpt_send(struct sf_rt *rt, struct sf_wire_enc *e)
{
    int rc = sf_wire_enc_end(e);
    if (rc == 0) {
        rc = sf_wire_write_all(rt->sfd_fd, e->buf, e->len);
    }
    sf_wire_enc_free(e);
    return rc;
}

/* Block until sfd says CKPT_RESUME for this epoch. The rank sleeps here
 * while CRIU dumps it, and a restored rank wakes up here (its socket is
 * then a new one, handed in by the restore). */
static int ckpt_wait_resume(struct sf_rt *rt, uint32_t epoch, bool *restored, char **shm)
{
    for (;;) {
        struct sf_wire_msg m;
        int rc = sf_wire_rx_next(rt->rx, &m);
        if (rc < 0) {
            return rc;
        }
        if (rc == 1) {
            if (m.op == SF_OP_KILL) {
                SF_ERR("job ended by the node daemon during a checkpoint: %.*s; exiting",
                       (int)m.f[0].len, (const char *)m.f[0].p);
                _exit(1);
            }
            if (m.op == SF_OP_CKPT_RESUME && (uint32_t)m.f[0].u == epoch) {
                *restored = m.f[1].u != 0;
                *shm = sf_wire_strdup(&m.f[2]);
                return *shm != NULL ? 0 : -ENOMEM;
            }
            SF_DBG("checkpoint: ignoring control message %u", m.op);
            continue;
        }
        long n = sf_wire_rx_fill(rt->rx, rt->sfd_fd);
        if (n == 0) {
            SF_ERR("lost the node daemon during a checkpoint; exiting");
            _exit(1);
        }
        if (n == -EAGAIN || n == -EINTR) {
            struct pollfd p = {rt->sfd_fd, POLLIN, 0};
            if (poll(&p, 1, -1) < 0 && errno != EINTR) {
                return -errno;
            }
        } else if (n < 0) {
            return (int)n;
        }
    }
}

/* Match what arrived during the hold, in arrival order. */
static int ckpt_rematch(struct sf_rt *rt, struct sf_rt_msg *after)
{
    struct sf_rt_msg *m = after != NULL ? after->next : rt->unexp.head;
    while (m != NULL) {
        struct sf_rt_msg *next = m->next;
        struct sf_rt_req *r = sf_rt__match_posted(rt, m->ctx, m->src, m->tag);
        if (r != NULL) {
            sf_rt__mlist_del(&rt->unexp, m);
            int rc = sf_rt__deliver(rt, r, m);
            if (rc < 0) {
                return rc;
            }
        }
        m = next;
    }
    return 0;
}

/* After resume: every peer has its transports open and our address
 * inserted once its marker of this round arrived, so no pull from a peer
 * that is not attached yet, no packet to an endpoint that cannot place us.
 * Arrivals stay held meanwhile. */
static int ckpt_barrier(struct sf_rt *rt, uint32_t round)
{
    int rc = 0;
    for (int w = 0; w < rt->size && rc == 0; w++) {
        if (w != rt->rank && rt->peers[w].tr != NULL) {
            rc = sf_rt__send_ctl(rt, w, RT_K_MARK, round, 0, 0);
        }
    }
    unsigned idle = 0, polls = 0;
    while (rc == 0 && !ckpt_marked(rt, round)) {
        int n = ckpt_progress(rt);
        if (n < 0) {
            return n;
        }
        if (rt->daemon_poll != NULL && ++polls % 1024 == 0 && (rc = rt->daemon_poll(rt)) < 0) {
            break;
        }
        sf_rt_idle(rt, n == 0 ? ++idle : (idle = 0));
    }
    return rc;
}

int sf_rt__ckpt_run(struct sf_rt *rt, uint32_t epoch)
{
    int npeers = 0;
    for (int w = 0; w < rt->size; w++) {
        if (w != rt->rank && rt->peers[w].tr != NULL) {
            npeers++;
        }
    }
    if (epoch == 0 || epoch >= RT_MARK_RESUME) {
        /* 0 is every peer's marker before any; the top half is taken. */
        struct sf_wire_enc e;
        sf_wire_enc_begin(&e, SF_OP_CKPT_READY, rt->wire_seq++);
        sf_wire_put_i32(&e, rt->rank);
        sf_wire_put_u32(&e, epoch);
        sf_wire_put_i32(&e, -EINVAL);
        SF_ERR("checkpoint epoch %u is out of range (1..%u)", epoch, RT_MARK_RESUME - 1);
        return ckpt_send(rt, &e);
    }
    SF_DBG("checkpoint %u: quiescing (%d peers)", epoch, npeers);
    rt->ckpt_busy = true;
    rt->ckpt_hold = true;
    rt->ckpt_held_after = rt->unexp.tail;
    bool marked = false;
    unsigned idle = 0, polls = 0;
    int rc = 0;
    for (;;) {
        int n = ckpt_progress(rt);
        if (n < 0) {
            rc = n;
            break;
        }
        int q = ckpt_quiet(rt);
        if (q < 0) {
            rc = q;
            break;
        }
        if (q && !marked) {
            for (int w = 0; w < rt->size && rc == 0; w++) {
                if (w != rt->rank && rt->peers[w].tr != NULL) {
                    rc = sf_rt__send_ctl(rt, w, RT_K_MARK, epoch, 0, 0);
                }
            }
            if (rc < 0) {
                break;
            }
            marked = true;
            continue; /* the markers themselves must leave first */
        }
        if (q && marked && ckpt_marked(rt, epoch)) {
            break;
        }
        /* KILL or a lost daemon must still end a rank stuck here. */
        if (rt->daemon_poll != NULL && ++polls % 1024 == 0 && (rc = rt->daemon_poll(rt)) < 0) {
            break;
        }
        sf_rt_idle(rt, n == 0 ? ++idle : (idle = 0));
    }
    int status = rc;
    if (rc == 0) {
        for (int i = 0; i < rt->ntr; i++) {
            if (rt->tr[i].net != NULL) {
                rt->tr[i].net->ops->close(rt->tr[i].net);
                rt->tr[i].net = NULL;
            }
        }
        if (rt->ckpt_shm_fd >= 0) {
            close(rt->ckpt_shm_fd);
            rt->ckpt_shm_fd = -1;
        }
    }
    struct sf_wire_enc e;
    sf_wire_enc_begin(&e, SF_OP_CKPT_READY, rt->wire_seq++);
    sf_wire_put_i32(&e, rt->rank);
    sf_wire_put_u32(&e, epoch);
    sf_wire_put_i32(&e, status);
    if ((rc = ckpt_send(rt, &e)) < 0 || status < 0) {
        SF_ERR("checkpoint %u: cannot quiesce: %s", epoch, sf_strerror(status < 0 ? status : rc));
        rt->ckpt_busy = false;
        return status < 0 ? status : rc;
    }
    bool restored = false;
    char *shm = NULL;
    rc = ckpt_wait_resume(rt, epoch, &restored, &shm);
    /* A restored rank's socket is sfd's new one, blocking as created:
     * the daemon poll must never block. */
    int fl = fcntl(rt->sfd_fd, F_GETFL);
    if (fl >= 0 && !(fl & O_NONBLOCK)) {
        fcntl(rt->sfd_fd, F_SETFL, fl | O_NONBLOCK);
    }
    if (rc == 0) {
        rc = sf_rt__reopen(rt, epoch, shm);
    }
    if (rc == 0) {
        rc = ckpt_barrier(rt, RT_MARK_RESUME | epoch);
    }
    free(shm);
    if (rc == 0) {
        rt->ckpt_hold = false;
        rc = ckpt_rematch(rt, rt->ckpt_held_after);
    }
    rt->ckpt_held_after = NULL;
    sf_wire_enc_begin(&e, SF_OP_CKPT_RESUMED, rt->wire_seq++);
    sf_wire_put_i32(&e, rt->rank);
    sf_wire_put_u32(&e, epoch);
    sf_wire_put_i32(&e, rc);
    sf_wire_put_str(&e, rc < 0 ? sf_strerror(rc) : restored ? "restored" : "resumed");
    int wrc = ckpt_send(rt, &e);
    rt->ckpt_busy = false;
    if (rc < 0) {
        SF_ERR("checkpoint %u: cannot resume: %s", epoch, sf_strerror(rc));
        return rc;
    }
    SF_DBG("checkpoint %u: %s", epoch, restored ? "restored" : "resumed");
    return wrc;
}
