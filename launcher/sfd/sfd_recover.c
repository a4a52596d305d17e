/* --ft=restart in sfd: when a rank of a job with checkpoints fails, the
 * coordinator stops every rank (the job and sfrun stay), then respawns all
 * of them on the same nodes from the last committed epoch; the job goes on.
 * Judges when that is impossible and says why. Epochs and images are
 * sfd_ckpt.c; process handling is sfd_job.c's. Loop thread only.
 *
 * Sequence: a failure reaches sf_sfd__job_fail on the coordinator (a local
 * rank's exit, JOB_FAIL from a part, a lost node) -> recover_on_failure
 * decides; if it can restart: SIGKILL to the local ranks, JOB_KILL(SIGKILL)
 * to the parts (each kills its ranks, ends its part, PART_DONE) ->
 * check_done sees everything down -> recover_quiet resets the ranks'
 * state, sets ckpt-restart=EPOCH in the options and SPAWNs every node
 * again (ranks start with SF_CKPT_RESTART=EPOCH, so sf_ckpt_restarted() is
 * true and sf_ckpt_recover() loads their images). The fresh ranks publish
 * new fabric addresses and get a new table, as at start-up.
 * Every rank restarts; ranks stay on their nodes, except those of a lost
 * node, which move to the surviving nodes with the most free slots. That
 * needs their images off the lost node: in the Starfish filesystem (two
 * replicas, a cluster daemon's default); with images on local disks a lost
 * node ends the job, saying so. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "launcher/sfd/sfd_ckpt.h"
#include "runtime/base/sf_err.h"
#include "runtime/base/sf_log.h"
#include "runtime/base/sf_loop.h"

bool sf_sfd__recover_busy(const struct sf_sfd_job *job)
{
    return job->ckpt != NULL && (job->ckpt->recovering || job->ckpt->restoring);
}

static void append(char *text, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void append(char *text, size_t cap, const char *fmt, ...)
{
    size_t l = strlen(text);
    if (l + 1 >= cap) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text + l, cap - l, fmt, ap);
    va_end(ap);
}

static int node_slots(const struct sf_sfd_job *job, int k)
{
    const struct sf_sfd_jnode *jn = &job->nodes[k];
    return jn->peer != NULL ? jn->peer->slots : job->sfd->ncores;
}

/* A node that can take ranks: not lost, and this daemon only if it runs
 * ranks of the job already (it has a node index then). */
static bool usable(const struct sf_sfd_job *job, int k)
{
    return !job->nodes[k].lost && (job->nodes[k].peer != NULL || k == job->self_node);
}

/* With --nooversubscribe, do the surviving nodes have a slot per rank? */
static bool room_for_all(const struct sf_sfd_job *job)
{
    const char *over = sf_sfd__job_opt((struct sf_sfd_job *)job, "oversubscribe");
    if (over == NULL || strcmp(over, "no") != 0) {
        return true;
    }
    int slots = 0;
    for (int k = 0; k < job->nnodes; k++) {
        slots += usable(job, k) ? node_slots(job, k) : 0;
    }
    return slots >= job->n;
}

/* Move the ranks of lost nodes to the usable node with the most free
 * slots (ranks minus slots, least loaded first; ties: lowest index), then
 * renumber every node's local ranks. Returns how many moved, or -1 when no
 * node is usable. */
static int replace_lost(struct sf_sfd_job *job)
{
    int moved = 0;
    for (int i = 0; i < job->n; i++) {
        struct sf_sfd_rank *r = &job->ranks[i];
        if (!job->nodes[r->node].lost) {
            continue;
        }
        int best = -1;
        for (int k = 0; k < job->nnodes; k++) {
            if (usable(job, k) &&
                (best < 0 || job->nodes[k].nranks - node_slots(job, k) <
                                 job->nodes[best].nranks - node_slots(job, best))) {
                best = k;
            }
        }
        if (best < 0) {
            return -1;
        }
        job->nodes[r->node].nranks--;
        r->node = best;
        job->nodes[best].nranks++;
        moved++;
    }
    job->nlocal = 0;
    for (int k = 0; k < job->nnodes; k++) {
        int lr = 0;
        for (int i = 0; i < job->n; i++) {
            struct sf_sfd_rank *r = &job->ranks[i];
            if (r->node == k) {
                r->local_rank = lr++;
                r->local = k == job->self_node;
                job->nlocal += r->local;
            }
        }
    }
    return moved;
}

/* The first node of the job that is gone, or -1. */
static int lost_node(const struct sf_sfd_job *job)
{
    for (int k = 0; k < job->nnodes; k++) {
        if (job->nodes[k].lost) {
            return k;
        }
    }
    return -1;
}

bool sf_sfd__recover_on_failure(struct sf_sfd_job *job, int rank, char *text, size_t cap)
{
    struct sf_sfd_ckpt *ck = job->ckpt;
    if (!job->coord || ck == NULL || !ck->ft_restart) {
        return false;
    }
    int lost = lost_node(job);
    if (ck->restoring) {
        return true; /* the CRIU restore replaces every rank anyway */
    }
    if (ck->recovering) {
        if (lost < 0) {
            return true; /* a victim of the stop, or a failure it covers */
        }
        ck->recovering = false;
        append(text, cap, "; the restart is abandoned: node %s holds checkpoint images and is "
               "gone", job->nodes[lost].name);
        return false;
    }
    if (job->state != SFD_JOB_RUNNING) {
        return false;
    }
    if (ck->committed == 0) {
        if (sf_sfd__ckpt_is_criu(job)) {
            append(text, cap, "; --ft=restart cannot restart: no CRIU checkpoint was committed "
                   "yet");
        } else if (ck->auto_chosen) {
            append(text, cap, "; --ft=restart cannot restart: no checkpoint was committed "
                   "(--ckpt=auto chose the application-level backend, and the program has not "
                   "completed sf_ckpt_checkpoint() on every rank)");
        } else {
            append(text, cap, "; --ft=restart cannot restart: no checkpoint was committed yet "
                   "(the program has not completed sf_ckpt_checkpoint() on every rank)");
        }
        return false;
    }
    if (lost >= 0 && !ck->in_fs) {
        append(text, cap, "; --ft=restart cannot restart: the images of epoch %u for the ranks "
               "of node %s were on that node's local disk, which is gone (images are kept only "
               "on the node that wrote them until the Starfish filesystem stores them)",
               ck->committed, job->nodes[lost].name);
        return false;
    }
    if (lost >= 0 && !room_for_all(job)) {
        append(text, cap, "; --ft=restart cannot restart: too few slots left on the surviving "
               "nodes for %d ranks (--nooversubscribe)", job->n);
        return false;
    }
    if (ck->restarts >= ck->max_restarts) {
        append(text, cap, "; --ft=restart gave up: %d restart%s already (--max-restarts %d)",
               ck->restarts, ck->restarts == 1 ? "" : "s", ck->max_restarts);
        return false;
    }
    ck->restarts++;
    ck->t_fail = sf_now_ms();
    if (sf_sfd__ckpt_is_criu(job)) {
        /* Transparent backend: the part is killed and restored in place
         * from its image (sfd_ckpt_criu.c); no respawn. */
        char err[512];
        int rc = sf_sfd__ckpt_criu_recover(job, err, sizeof(err));
        if (rc != 0) {
            append(text, cap, "; --ft=restart could not restore CRIU epoch %u: %s",
                   ck->committed, err);
            return false;
        }
        char note[1400];
        int l = snprintf(note, sizeof(note),
                         "sfrun: %s; restoring every rank from CRIU checkpoint epoch %u (restart %d "
                         "of at most %d)\n",
                         text, ck->committed, ck->restarts, ck->max_restarts);
        sf_sfd__io_output(job, -1, 2, note, (size_t)(l < (int)sizeof(note) ? l : (int)sizeof(note) - 1));
        return true;
    }
    ck->recovering = true;
    char note[1400];
    int l = snprintf(note, sizeof(note),
                     "sfrun: %s; restarting every rank from checkpoint epoch %u (restart %d of at "
                     "most %d)\n",
                     text, ck->committed, ck->restarts, ck->max_restarts);
    if (l >= (int)sizeof(note)) {
        l = (int)sizeof(note) - 1;
        note[l - 1] = '\n';
    }
    sf_sfd__io_output(job, -1, 2, note, (size_t)l);
    SF_WARN("job %llu: %s: restarting from epoch %u", (unsigned long long)job->id, text,
            ck->committed);
    (void)rank;
    /* Stop everything. SIGKILL: the ranks' state is thrown away anyway, and
     * the killed ranks count as victims (signalled), not new failures. */
    for (int i = 0; i < job->n; i++) {
        struct sf_sfd_rank *r = &job->ranks[i];
        if (r->local && r->pid > 0) {
            r->signalled = true;
            kill(r->pid, SIGKILL);
        }
    }
    if (job->pgid > 0) {
        kill(-job->pgid, SIGKILL);
    }
    sf_sfd__job_kill_parts(job, "restarting from a checkpoint");
    return true;
}

static void rank_reset(struct sf_sfd_rank *r)
{
    if (r->local) {
        sf_sfd__io_close_rank(r);
        sf_wire_rx_free(&r->rx);
        sf_wire_rx_init(&r->rx);
        free(r->inq.buf);
        r->inq.buf = NULL;
        r->inq.len = r->inq.off = 0;
        r->in_eof = false;
        r->in_done = r->in_acked = 0;
    }
    free(r->addr);
    r->addr = NULL;
    r->addr_len = 0;
    r->pid = 0;
    r->hello = r->finalized = r->signalled = r->exited = r->reaped = false;
    r->wstatus = 0;
    r->status = 0;
}

bool sf_sfd__recover_quiet(struct sf_sfd_job *job)
{
    struct sf_sfd_ckpt *ck = job->ckpt;
    if (!job->coord || ck == NULL || !ck->recovering) {
        return false;
    }
    if (job->state != SFD_JOB_RUNNING) {
        /* Ended meanwhile (the user's signal, sfrun gone): no respawn. */
        ck->recovering = false;
        return false;
    }
    uint64_t stopped = sf_now_ms();
    for (int i = 0; i < job->n; i++) {
        rank_reset(&job->ranks[i]);
    }
    int moved = replace_lost(job);
    if (moved < 0) {
        ck->recovering = false;
        sf_sfd__job_fail(job, -1, 1, "cannot restart job %llu: no node left to run its ranks",
                         (unsigned long long)job->id);
        return false;
    }
    if (moved > 0) {
        char note[160];
        int l = snprintf(note, sizeof(note),
                         "sfrun: %d rank%s of a lost node restart%s on the surviving nodes\n",
                         moved, moved == 1 ? "" : "s", moved == 1 ? "s" : "");
        sf_sfd__io_output(job, -1, 2, note, (size_t)l);
    }
    for (int k = 0; k < job->nnodes; k++) {
        /* Lost and emptied nodes get no SPAWN, and nothing to wait for. */
        job->nodes[k].done = job->nodes[k].lost || job->nodes[k].nranks == 0;
    }
    job->naddr = 0;
    job->table_sent = false;
    job->fail_rank = -1;
    job->exit_code = 0;
    free(job->message);
    job->message = NULL;
    ck->recovering = false;
    int rc = sf_sfd__ckpt_rewind(job);
    if (rc == 0) {
        rc = sf_sfd__ckpt_apply_env(job);
    }
    if (rc != 0) {
        sf_sfd__job_fail(job, -1, 1, "cannot restart job %llu from epoch %u: %s",
                         (unsigned long long)job->id, ck->committed, sf_strerror(rc));
        return false;
    }
    SF_INFO("job %llu: every rank stopped %llu ms after the failure; respawning from epoch %u",
            (unsigned long long)job->id, (unsigned long long)(stopped - ck->t_fail),
            ck->committed);
    sf_sfd__job_respawn(job);
    return true;
}
