/* CRIU checkpoints of a job's ranks on this node: PREPARE every local rank,
 * wait for all READY (quiet, transports closed), dump the part's init tree
 * (left running) on a worker thread, then RESUME with a fresh shared
 * segment, collect the new addresses, send the ADDR_TABLE of the epoch and
 * wait for RESUMED; or kill the part and restore it from an image, with
 * new channels handed to CRIU for the descriptors that led to sfd.
 * Not the coordination across nodes and epochs (sfd_ckpt.c) nor CRIU
 * itself (checkpoint/ckpt_criu.c). Loop thread, except the dump, which
 * runs on its own thread and comes back through sf_loop_wake (a restore's
 * criu is started from the loop thread and watched through its output).
 *
 * Image directory (one per part: the local ranks share one PID namespace,
 * so they are one CRIU tree): CRIU's files, DIR/externals (ckpt_criu.c)
 * and DIR/ranks, one line per local rank: "RANK NSPID CTLFD".
 * Only jobs whose ranks all run on this node can be checkpointed yet: the
 * new address table is built here. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <unistd.h>

#include "checkpoint/sf_ckpt_criu.h"
#include "runtime/base/sf_err.h"
#include "runtime/base/sf_log.h"
#include "runtime/net/sf_net.h"
#include "launcher/sfd/sfd_int.h"

enum ck_phase { CK_PREPARE = 1, CK_DUMP, CK_KILL, CK_RESTORE, CK_RESUME, CK_DONE };

/* New channels of one rank for a restore: [0] sfd's end, [1] the rank's. */
struct ck_chan {
    int sv[2], out[2], err[2], in[2];
    pid_t nspid;
    int ctlfd;
};

struct sf_sfd_ckpt_criu {
    struct sf_sfd_job *job; /* NULL once the job is gone (a worker may still run) */
    enum ck_phase phase;
    bool restore;
    uint32_t epoch;
    char *dir;
    char shm[128]; /* the resumed ranks' segment, unlinked once all opened it */
    sf_sfd_ckpt_criu_cb cb;
    void *arg;
    int nready, naddr, nresumed;
    int gone;       /* ranks that finalized and ended during the checkpoint */
    bool abandoned; /* ... so no image is taken; the others resume */
    int status;
    char msg[512];
    uint64_t t0, t_ready, t_dumped;
    /* worker */
    struct sf_loop *loop;
    bool worker;
    int wrc;
    char werr[512];
    pid_t wpid;
    struct ck_chan *chans; /* restore: by rank */
    int st[2];             /* restore: the init's status pipe */
    int criu_fd;           /* restore: criu's output, EOF when it is done */
    struct sf_ckpt_criu_fd *fds;
    int nfds;
    bool pty; /* restore: rank stdout was a pty */
};

static void finish(struct sf_sfd_ckpt_criu *ck, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool part_only(struct sf_sfd_job *job, char *err, size_t cap)
{
    if (job->nlocal != job->n) {
        snprintf(err, cap, "CRIU checkpoints of jobs spread over several nodes are not "
                           "implemented yet (job %llu has %d of %d ranks here)",
                 (unsigned long long)job->id, job->nlocal, job->n);
        return false;
    }
    return true;
}

static void chan_close(struct ck_chan *c)
{
    int *fds[] = {c->sv, c->out, c->err, c->in};
    for (size_t i = 0; i < 4; i++) {
        for (int k = 0; k < 2; k++) {
            if (fds[i][k] >= 0) {
                close(fds[i][k]);
                fds[i][k] = -1;
            }
        }
    }
}

static void ck_free(struct sf_sfd_ckpt_criu *ck)
{
    if (ck->criu_fd >= 0) {
        sf_loop_del_fd(ck->loop, ck->criu_fd);
        close(ck->criu_fd);
    }
    if (ck->chans != NULL && ck->job != NULL) {
        for (int i = 0; i < ck->job->n; i++) {
            chan_close(&ck->chans[i]);
        }
    }
    for (int k = 0; k < 2; k++) {
        if (ck->st[k] >= 0) {
            close(ck->st[k]);
        }
    }
    if (ck->shm[0] != '\0') {
        unlink(ck->shm);
    }
    free(ck->chans);
    for (int i = 0; i < ck->nfds; i++) {
        free((char *)ck->fds[i].key);
    }
    free(ck->fds);
    free(ck->dir);
    free(ck);
}

void sf_sfd__ckpt_criu_release(struct sf_sfd_job *job)
{
    struct sf_sfd_ckpt_criu *ck = job->ckpt_criu;
    if (ck == NULL) {
        return;
    }
    job->ckpt_criu = NULL;
    if (ck->cb != NULL && ck->phase != CK_DONE) {
        ck->cb(job, ck->arg, SF_ERR_ABORTED, "the job ended during the checkpoint");
    }
    if (ck->chans != NULL) {
        for (int i = 0; i < job->n; i++) {
            chan_close(&ck->chans[i]);
        }
    }
    ck->job = NULL;
    if (!ck->worker) {
        ck_free(ck);
    } /* else the worker's wake frees it */
}

static void finish(struct sf_sfd_ckpt_criu *ck, int status, const char *fmt, ...)
{
    struct sf_sfd_job *job = ck->job;
    bool abandoned = ck->abandoned;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ck->msg, sizeof(ck->msg), fmt, ap);
    va_end(ap);
    ck->phase = CK_DONE;
    if (status < 0) {
        SF_WARN("job %llu: CRIU %s %u failed: %s", (unsigned long long)job->id,
                ck->restore ? "restore" : "checkpoint", ck->epoch, ck->msg);
    } else {
        SF_INFO("job %llu: %s", (unsigned long long)job->id, ck->msg);
    }
    job->ckpt_criu = NULL;
    if (ck->cb != NULL) {
        ck->cb(job, ck->arg, status, ck->msg);
    }
    if (!ck->worker) {
        ck->job = job; /* for ck_free's channel cleanup */
        ck_free(ck);
    } else {
        ck->job = NULL;
    }
    /* A failed checkpoint leaves ranks quiesced or half restored: the job
     * cannot go on. */
    if (status < 0 && !abandoned) {
        sf_sfd__job_fail(job, -1, 1, "CRIU %s on host %s failed", "checkpoint", job->sfd->host);
    }
}

static void to_ranks(struct sf_sfd_job *job, struct sf_wire_enc *e)
{
    for (int i = 0; i < job->n; i++) {
        struct sf_sfd_rank *r = &job->ranks[i];
        if (r->local) {
            sf_sfd__io_send_rank(r, e);
        }
    }
}

/* The dump runs on a thread; the result comes back to the loop. (A
 * restore runs criu from the loop thread itself: see part_gone.) */
static void on_worker_done(struct sf_loop *loop, void *arg);

static void *worker_main(void *arg)
{
    struct sf_sfd_ckpt_criu *ck = arg;
    ck->wrc = sf_ckpt_criu_dump(ck->wpid, ck->dir, true, ck->werr, sizeof(ck->werr));
    /* sf_loop_wake is the one thread-safe loop call. The loop pointer was
     * read before the thread started; the daemon outlives its workers. */
    sf_loop_wake(ck->loop, on_worker_done, ck);
    return NULL;
}

static int start_worker(struct sf_sfd_ckpt_criu *ck)
{
    pthread_t th;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    ck->worker = true;
    int rc = pthread_create(&th, &at, worker_main, ck);
    pthread_attr_destroy(&at);
    if (rc != 0) {
        ck->worker = false;
        return -rc;
    }
    return 0;
}

static uint64_t dir_bytes(const char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "du -sb '%s' 2>/dev/null", dir);
    FILE *f = popen(cmd, "r");
    unsigned long long b = 0;
    if (f != NULL) {
        if (fscanf(f, "%llu", &b) != 1) {
            b = 0;
        }
        pclose(f);
    }
    return b;
}

/* A fresh shared segment for the resumed ranks (a file they open by name:
 * a memfd cannot reach processes that are already running). */
static int make_segment(struct sf_sfd_ckpt_criu *ck)
{
    struct sf_sfd_job *job = ck->job;
    if (job->shm_fd < 0) {
        ck->shm[0] = '\0';
        return 0;
    }
    snprintf(ck->shm, sizeof(ck->shm), "/dev/shm/starfish-%d-job-%llu-ckpt-%u", (int)getpid(),
             (unsigned long long)job->id, ck->epoch);
    int fd = open(ck->shm, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        int e = -errno;
        ck->shm[0] = '\0';
        return e;
    }
    int rc = ftruncate(fd, (off_t)sf_net_shm_segment_size(job->nlocal)) == 0 ? 0 : -errno;
    close(fd);
    return rc;
}

static void resume_all(struct sf_sfd_ckpt_criu *ck)
{
    struct sf_sfd_job *job = ck->job;
    int rc = make_segment(ck);
    if (rc < 0) {
        finish(ck, rc, "no shared segment for the resumed ranks: %s", sf_strerror(rc));
        return;
    }
    ck->phase = CK_RESUME;
    ck->naddr = 0;
    ck->nresumed = 0;
    for (int i = 0; i < job->n; i++) {
        struct sf_sfd_rank *r = &job->ranks[i];
        if (r->finalized) {
            continue; /* ended: its old address stays in the table */
        }
        free(r->addr);
        r->addr = NULL;
        r->addr_len = 0;
    }
    struct sf_wire_enc e;
    sf_wire_enc_begin(&e, SF_OP_CKPT_RESUME, 0);
    sf_wire_put_u32(&e, ck->epoch);
    sf_wire_put_u8(&e, ck->restore ? 1 : 0);
    sf_wire_put_str(&e, ck->shm);
    to_ranks(job, &e);
    sf_wire_enc_free(&e);
}

static void on_worker_done(struct sf_loop *loop, void *arg)
{
    struct sf_sfd_ckpt_criu *ck = arg;
    (void)loop;
    ck->worker = false;
    struct sf_sfd_job *job = ck->job;
    if (job == NULL) {
        ck_free(ck); /* the job ended meanwhile */
        return;
    }
    ck->t_dumped = sf_now_ms();
    if (ck->wrc < 0) {
        finish(ck, ck->wrc, "%s", ck->werr);
        return;
    }
    if (ck->restore) {
        /* The restored init is our child (criu's sibling); the ranks are
         * its children: learn their pids and take over the new channels. */
        for (int i = 0; i < job->n; i++) {
            struct sf_sfd_rank *r = &job->ranks[i];
            struct ck_chan *c = &ck->chans[i];
            if (!r->local) {
                continue;
            }
            pid_t p = sf_ckpt_criu_find(ck->wpid, c->nspid);
            r->pid = p > 0 ? p : 0;
            r->ns_pid = c->nspid;
            r->ctl_fd = c->sv[0];
            r->out_fd = c->out[0];
            r->err_fd = c->err[0];
            r->in_fd = c->in[1];
            c->sv[0] = c->out[0] = c->err[0] = c->in[1] = -1;
            chan_close(c);
            int fds[] = {r->ctl_fd, r->out_fd, r->err_fd, r->in_fd};
            for (size_t k = 0; k < 4; k++) {
                if (fds[k] >= 0) {
                    fcntl(fds[k], F_SETFL, fcntl(fds[k], F_GETFL) | O_NONBLOCK);
                }
            }
            sf_sfd__io_watch_rank(r);
        }
        close(ck->st[1]);
        ck->st[1] = -1;
        job->pgid = ck->wpid;
        int rc = sf_sfd__spawn_watch_init(job, ck->st[0], ck->wpid);
        ck->st[0] = -1;
        if (rc < 0) {
            finish(ck, rc, "cannot watch the restored init: %s", sf_strerror(rc));
            return;
        }
    }
    resume_all(ck);
}

/* Every local rank is quiet: dump them (the init and its tree). */
static void dump_part(struct sf_sfd_ckpt_criu *ck)
{
    struct sf_sfd_job *job = ck->job;
    ck->t_ready = sf_now_ms();
    ck->phase = CK_DUMP;
    if (mkdir(ck->dir, 0700) != 0 && errno != EEXIST) {
        finish(ck, -errno, "cannot create %s: %s", ck->dir, strerror(errno));
        return;
    }
    char path[4200];
    snprintf(path, sizeof(path), "%s/ranks", ck->dir);
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        finish(ck, -errno, "cannot write %s: %s", path, strerror(errno));
        return;
    }
    for (int i = 0; i < job->n; i++) {
        struct sf_sfd_rank *r = &job->ranks[i];
        if (r->local) {
            /* The rank's end of its control socket has the number sfd gave
             * it in SF_SFD_FD: what a restore must hand back. */
            char lp[64], l[64];
            snprintf(lp, sizeof(lp), "/proc/%d/environ", (int)r->pid);
            int ctlfd = -1;
            FILE *ef = fopen(lp, "r");
            if (ef != NULL) {
                char var[4096];
                size_t n = 0;
                int ch;
                while ((ch = fgetc(ef)) != EOF) {
                    if (ch != '\0' && n + 1 < sizeof(var)) {
                        var[n++] = (char)ch;
                        continue;
                    }
                    var[n] = '\0';
                    if (strncmp(var, "SF_SFD_FD=", 10) == 0) {
                        ctlfd = atoi(var + 10);
                    }
                    n = 0;
                }
                fclose(ef);
            }
            (void)l;
            fprintf(f, "%d %d %d\n", r->rank, (int)r->ns_pid, ctlfd);
        }
    }
    if (fclose(f) != 0) {
        finish(ck, -EIO, "cannot write %s", path);
        return;
    }
    ck->wpid = sf_sfd__spawn_init_pid(job);
    int rc = start_worker(ck);
    if (rc < 0) {
        finish(ck, rc, "cannot start the dump thread: %s", sf_strerror(rc));
    }
}

/* Every rank still running is quiet: dump, or, when some rank finalized
 * meanwhile (the job is ending), take no image and let the others go on. */
static void all_ready(struct sf_sfd_ckpt_criu *ck)
{
    if (ck->phase != CK_PREPARE || ck->nready < ck->job->nlocal - ck->gone) {
        return;
    }
    if (ck->gone > 0) {
        ck->abandoned = true;
        ck->t_ready = ck->t_dumped = sf_now_ms();
        resume_all(ck);
        return;
    }
    dump_part(ck);
}

int sf_sfd__ckpt_criu_on_ready(void *ctx, const struct sf_wire_msg *m)
{
    struct sf_sfd_rank *r = ctx;
    struct sf_sfd_ckpt_criu *ck = r->job->ckpt_criu;
    if (ck == NULL || ck->phase != CK_PREPARE || (uint32_t)m->f[1].u != ck->epoch ||
        m->f[0].i != r->rank) {
        SF_WARN_SPARSE("rank %d: unexpected CKPT_READY: dropped", r->rank);
        return 0;
    }
    if (m->f[2].i < 0) {
        finish(ck, (int)m->f[2].i, "rank %d could not quiesce: %s", r->rank,
               sf_strerror((int)m->f[2].i));
        return 0;
    }
    ck->nready++;
    all_ready(ck);
    return 0;
}

int sf_sfd__ckpt_criu_on_resumed(void *ctx, const struct sf_wire_msg *m)
{
    struct sf_sfd_rank *r = ctx;
    struct sf_sfd_job *job = r->job;
    struct sf_sfd_ckpt_criu *ck = job->ckpt_criu;
    if (ck == NULL || ck->phase != CK_RESUME || (uint32_t)m->f[1].u != ck->epoch) {
        SF_WARN_SPARSE("rank %d: unexpected CKPT_RESUMED: dropped", r->rank);
        return 0;
    }
    if (m->f[2].i < 0) {
        char *t = sf_wire_strdup(&m->f[3]);
        finish(ck, (int)m->f[2].i, "rank %d could not resume: %s", r->rank, t ? t : "");
        free(t);
        return 0;
    }
    if (++ck->nresumed < job->nlocal - ck->gone) {
        return 0;
    }
    if (ck->abandoned) {
        finish(ck, SF_ERR_ABORTED, "checkpoint %u not taken: %d rank%s finalized during it",
               ck->epoch, ck->gone, ck->gone == 1 ? "" : "s");
        return 0;
    }
    uint64_t now = sf_now_ms();
    unsigned long long bytes = dir_bytes(ck->dir);
    if (ck->restore) {
        finish(ck, 0,
               "restored %d ranks from %s (epoch %u): criu restore %llu ms, running again after "
               "%llu ms; image %llu bytes",
               job->nlocal, ck->dir, ck->epoch, (unsigned long long)(ck->t_dumped - ck->t_ready),
               (unsigned long long)(now - ck->t0), bytes);
    } else {
        finish(ck, 0,
               "checkpoint %u of %d ranks in %s: quiesce %llu ms, dump %llu ms, resume %llu ms; "
               "image %llu bytes",
               ck->epoch, job->nlocal, ck->dir, (unsigned long long)(ck->t_ready - ck->t0),
               (unsigned long long)(ck->t_dumped - ck->t_ready),
               (unsigned long long)(now - ck->t_dumped), bytes);
    }
    return 0;
}

bool sf_sfd__ckpt_criu_addr(struct sf_sfd_rank *r, const struct sf_wire_msg *m)
{
    struct sf_sfd_job *job = r->job;
    struct sf_sfd_ckpt_criu *ck = job->ckpt_criu;
    if (ck == NULL || ck->phase != CK_RESUME) {
        return false;
    }
    if (m->f[0].i != r->rank || r->addr != NULL) {
        SF_WARN_SPARSE("rank %d: unexpected address during a checkpoint: dropped", r->rank);
        return true;
    }
    r->addr = malloc(m->f[1].len > 0 ? m->f[1].len : 1);
    if (r->addr == NULL) {
        finish(ck, -ENOMEM, "out of memory");
        return true;
    }
    memcpy(r->addr, m->f[1].p, m->f[1].len);
    r->addr_len = m->f[1].len;
    if (++ck->naddr == job->nlocal - ck->gone) {
        job->table_epoch = ck->epoch;
        sf_sfd__io_send_table(job);
    }
    return true;
}

/* Whether rank exits are expected (a part being replaced by a restore). */
bool sf_sfd__ckpt_criu_replacing(struct sf_sfd_job *job)
{
    return job->ckpt_criu != NULL && job->ckpt_criu->phase == CK_KILL;
}

void sf_sfd__ckpt_criu_rank_gone(struct sf_sfd_job *job, int rank)
{
    struct sf_sfd_ckpt_criu *ck = job->ckpt_criu;
    struct sf_sfd_rank *r = &job->ranks[rank];
    if (ck != NULL && r->finalized && !ck->restore &&
        (ck->phase == CK_PREPARE || ck->phase == CK_RESUME)) {
        /* The job is ending: a rank past MPI_Finalize takes part in no
         * checkpoint (it told its peers, runtime/rt/rt_quiesce.c). */
        if (ck->phase == CK_PREPARE) {
            /* The others may wait for its marker: tell them it is gone. */
            struct sf_wire_enc e;
            sf_wire_enc_begin(&e, SF_OP_CKPT_PREPARE, 0);
            sf_wire_put_u64(&e, job->id);
            sf_wire_put_u32(&e, ck->epoch);
            sf_wire_put_u32(&e, 0x80000000u | (uint32_t)rank); /* RT_CKPT_GONE */
            sf_wire_put_str(&e, "");
            to_ranks(job, &e);
            sf_wire_enc_free(&e);
            ck->gone++;
            all_ready(ck);
        }
        return;
    }
    if (ck != NULL && ck->phase != CK_KILL && ck->phase != CK_DONE) {
        finish(ck, SF_ERR_PEER_GONE, "rank %d ended during the %s", rank,
               ck->restore ? "restore" : "checkpoint");
    }
}

static struct sf_sfd_ckpt_criu *ck_new(struct sf_sfd_job *job, uint32_t epoch, const char *dir,
                                       sf_sfd_ckpt_criu_cb cb, void *arg)
{
    struct sf_sfd_ckpt_criu *ck = calloc(1, sizeof(*ck));
    if (ck == NULL || (ck->dir = strdup(dir)) == NULL) {
        free(ck);
        return NULL;
    }
    ck->job = job;
    ck->loop = job->sfd->loop;
    ck->epoch = epoch;
    ck->cb = cb;
    ck->arg = arg;
    ck->st[0] = ck->st[1] = -1;
    ck->criu_fd = -1;
    ck->t0 = sf_now_ms();
    return ck;
}

int sf_sfd__ckpt_criu_checkpoint(struct sf_sfd_job *job, uint32_t epoch, const char *dir,
                                 sf_sfd_ckpt_criu_cb cb, void *arg, char *err, size_t cap)
{
    if (job->ckpt_criu != NULL) {
        snprintf(err, cap, "a checkpoint of job %llu is already running",
                 (unsigned long long)job->id);
        return -EBUSY;
    }
    if (!part_only(job, err, cap)) {
        return SF_ERR_UNSUPPORTED;
    }
    if (job->state != SFD_JOB_RUNNING || job->init == NULL || !job->table_sent) {
        snprintf(err, cap, "job %llu is not running with all its ranks wired up",
                 (unsigned long long)job->id);
        return -EAGAIN;
    }
    for (int i = 0; i < job->n; i++) {
        struct sf_sfd_rank *r = &job->ranks[i];
        if (r->local && (r->pid <= 0 || r->ctl_fd < 0 || r->finalized)) {
            snprintf(err, cap, "rank %d of job %llu is not running MPI (ended or finalized)", i,
                     (unsigned long long)job->id);
            return -EAGAIN;
        }
    }
    struct sf_sfd_ckpt_criu *ck = ck_new(job, epoch, dir, cb, arg);
    if (ck == NULL) {
        snprintf(err, cap, "out of memory");
        return -ENOMEM;
    }
    ck->phase = CK_PREPARE;
    job->ckpt_criu = ck;
    struct sf_wire_enc e;
    sf_wire_enc_begin(&e, SF_OP_CKPT_PREPARE, 0);
    sf_wire_put_u64(&e, job->id);
    sf_wire_put_u32(&e, epoch);
    sf_wire_put_u32(&e, 0);
    sf_wire_put_str(&e, "");
    to_ranks(job, &e);
    sf_wire_enc_free(&e);
    return 0;
}

/* criu restore's output: logged; its end means criu is done. */
static void on_criu_out(struct sf_loop *loop, int fd, int events, void *arg)
{
    struct sf_sfd_ckpt_criu *ck = arg;
    char buf[512];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        if (n > 0) {
            buf[n] = '\0';
            SF_DBG("criu restore: %s", buf);
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            return;
        }
        break;
    }
    sf_loop_del_fd(loop, fd);
    close(fd);
    ck->criu_fd = -1;
    ck->wrc = sf_ckpt_criu_restore_finish(ck->dir, &ck->wpid, ck->werr, sizeof(ck->werr));
    on_worker_done(loop, ck);
}

/* The killed part is gone (its init's status pipe ended): restore. */
void sf_sfd__ckpt_criu_part_gone(struct sf_sfd_job *job)
{
    struct sf_sfd_ckpt_criu *ck = job->ckpt_criu;
    if (ck == NULL || ck->phase != CK_KILL) {
        return;
    }
    for (int i = 0; i < job->n; i++) {
        struct sf_sfd_rank *r = &job->ranks[i];
        if (r->local) {
            sf_sfd__io_drain_rank(r);
            sf_sfd__io_close_rank(r);
            sf_wire_rx_free(&r->rx);
            sf_wire_rx_init(&r->rx);
            r->pid = 0;
        }
    }
    ck->phase = CK_RESTORE;
    ck->t_ready = sf_now_ms();
    ck->wpid = 0;
    /* From this (the loop) thread: the restored init's parent-death
     * signal is tied to the thread that started criu. */
    int rc = sf_ckpt_criu_restore_start(ck->dir, ck->fds, ck->nfds, &ck->criu_fd, ck->werr,
                                        sizeof(ck->werr));
    if (rc == 0) {
        fcntl(ck->criu_fd, F_SETFL, fcntl(ck->criu_fd, F_GETFL) | O_NONBLOCK);
        rc = sf_loop_add_fd(job->sfd->loop, ck->criu_fd, SF_LOOP_IN, on_criu_out, ck);
    }
    if (rc < 0) {
        finish(ck, rc, "%s", ck->werr[0] != '\0' ? ck->werr : sf_strerror(rc));
    }
}

/* Channels for the restored tree, matched to DIR/externals by pid and
 * descriptor number; the init's status pipe is pid 1's fd 0. */
static int restore_chans(struct sf_sfd_ckpt_criu *ck, char *err, size_t cap)
{
    struct sf_sfd_job *job = ck->job;
    char path[4200];
    snprintf(path, sizeof(path), "%s/ranks", ck->dir);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, cap, "no %s: not a CRIU checkpoint of a job part", path);
        return -ENOENT;
    }
    ck->chans = calloc((size_t)job->n, sizeof(*ck->chans));
    if (ck->chans == NULL) {
        fclose(f);
        return -ENOMEM;
    }
    for (int i = 0; i < job->n; i++) {
        struct ck_chan *c = &ck->chans[i];
        c->sv[0] = c->sv[1] = c->out[0] = c->out[1] = c->err[0] = c->err[1] = -1;
        c->in[0] = c->in[1] = -1;
        c->nspid = -1;
    }
    int rank, nspid, ctlfd, nr = 0;
    while (fscanf(f, "%d %d %d", &rank, &nspid, &ctlfd) == 3) {
        if (rank >= 0 && rank < job->n && job->ranks[rank].local) {
            ck->chans[rank].nspid = nspid;
            ck->chans[rank].ctlfd = ctlfd;
            nr++;
        }
    }
    fclose(f);
    if (nr != job->nlocal) {
        snprintf(err, cap, "%s names %d of this job's %d local ranks", path, nr, job->nlocal);
        return -EINVAL;
    }
    struct sf_ckpt_criu_ext *ext = NULL;
    int ne = sf_ckpt_criu_externals(ck->dir, &ext);
    if (ne < 0) {
        snprintf(err, cap, "no %s/externals", ck->dir);
        return ne;
    }
    ck->fds = calloc((size_t)ne + 1, sizeof(*ck->fds));
    if (ck->fds == NULL || pipe2(ck->st, O_CLOEXEC) != 0) {
        free(ext);
        return -ENOMEM;
    }
    int rc = 0;
    for (int k = 0; k < ne && rc == 0; k++) {
        struct sf_ckpt_criu_ext *x = &ext[k];
        bool dup = false;
        for (int j = 0; j < ck->nfds && !dup; j++) {
            dup = strcmp(ck->fds[j].key, x->key) == 0;
        }
        if (dup) {
            continue;
        }
        int fd = -1;
        if (x->nspid == 1 && x->fd == 0) {
            fd = ck->st[1];
        }
        for (int i = 0; fd < 0 && i < job->n; i++) {
            struct ck_chan *c = &ck->chans[i];
            if (c->nspid != x->nspid) {
                continue;
            }
            int pair[2];
            if (x->fd == c->ctlfd) {
                rc = socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0 ? 0 : -errno;
                memcpy(c->sv, pair, sizeof(pair));
                fd = c->sv[1];
            } else if (x->fd == 1) {
                rc = sf_sfd__spawn_stdout(job, c->out, strncmp(x->key, "tty[", 4) == 0);
                fd = c->out[1];
            } else if (x->fd == 2) {
                rc = pipe2(c->err, O_CLOEXEC) == 0 ? 0 : -errno;
                fd = c->err[1];
            } else if (x->fd == 0) {
                rc = pipe2(c->in, O_CLOEXEC) == 0 ? 0 : -errno;
                fd = c->in[0];
            }
        }
        if (rc == 0 && fd < 0) {
            snprintf(err, cap, "the image has an external %s (fd %d of pid %d) sfd cannot provide",
                     x->key, x->fd, (int)x->nspid);
            rc = -ENOTSUP;
        }
        if (rc == 0) {
            /* The key lives in ext: keep a copy with the fds. */
            ck->fds[ck->nfds].key = strdup(x->key);
            ck->fds[ck->nfds].fd = fd;
            rc = ck->fds[ck->nfds].key != NULL ? 0 : -ENOMEM;
            ck->nfds++;
        }
    }
    free(ext);
    /* Every rank needs a control socket and output channels even if the
     * image did not list them (then the restore fails on its own). */
    return rc;
}

int sf_sfd__ckpt_criu_restore(struct sf_sfd_job *job, uint32_t epoch, const char *dir,
                              sf_sfd_ckpt_criu_cb cb, void *arg, char *err, size_t cap)
{
    if (job->ckpt_criu != NULL) {
        snprintf(err, cap, "a checkpoint of job %llu is running", (unsigned long long)job->id);
        return -EBUSY;
    }
    if (!part_only(job, err, cap)) {
        return SF_ERR_UNSUPPORTED;
    }
    if (job->state != SFD_JOB_RUNNING || job->init == NULL) {
        snprintf(err, cap, "job %llu is not running here", (unsigned long long)job->id);
        return -EAGAIN;
    }
    struct sf_sfd_ckpt_criu *ck = ck_new(job, epoch, dir, cb, arg);
    if (ck == NULL) {
        return -ENOMEM;
    }
    ck->restore = true;
    int rc = restore_chans(ck, err, cap);
    if (rc < 0) {
        ck_free(ck);
        return rc;
    }
    /* Kill the running part: the namespace goes with its init. Its ranks'
     * exits are not judged (replacing); the status pipe's end starts the
     * restore (sf_sfd__ckpt_criu_part_gone). */
    ck->phase = CK_KILL;
    job->ckpt_criu = ck;
    pid_t init = sf_sfd__spawn_init_pid(job);
    for (int i = 0; i < job->n; i++) {
        if (job->ranks[i].local && job->ranks[i].pid > 0) {
            kill(job->ranks[i].pid, SIGKILL);
        }
    }
    if (init > 0) {
        kill(init, SIGKILL);
    }
    return 0;
}

/* CKPT_PREPARE from a local client: drive a checkpoint (flags 1) or a
 * restore (flags 2) of the local part of a job; the answer is CKPT_RESUMED
 * (rank -1) once it is over. For tests, until `sf ckpt` drives it. */
struct ck_client {
    struct sf_sfd *sfd;
    struct sf_sfd_client *c;
    uint32_t epoch;
};

static void client_done(struct sf_sfd_job *job, void *arg, int status, const char *msg)
{
    struct ck_client *cc = arg;
    (void)job;
    for (struct sf_sfd_client *c = cc->sfd->clients; c != NULL; c = c->next) {
        if (c == cc->c && !c->dead) {
            struct sf_wire_enc e;
            sf_wire_enc_begin(&e, SF_OP_CKPT_RESUMED, c->seq++);
            sf_wire_put_i32(&e, -1);
            sf_wire_put_u32(&e, cc->epoch);
            sf_wire_put_i32(&e, status);
            sf_wire_put_str(&e, msg);
            sf_sfd__client_send(c, &e);
            sf_wire_enc_free(&e);
            break;
        }
    }
    free(cc);
}

int sf_sfd__ckpt_criu_client(void *ctx, const struct sf_wire_msg *m)
{
    struct sf_sfd_client *c = ctx;
    struct sf_sfd_job *job = sf_sfd__job_find(c->sfd, m->f[0].u);
    uint32_t flags = (uint32_t)m->f[2].u;
    char *dir = sf_wire_strdup(&m->f[3]);
    char err[512] = "";
    int rc;
    struct ck_client *cc = calloc(1, sizeof(*cc));
    if (dir == NULL || cc == NULL) {
        rc = -ENOMEM;
    } else if (job == NULL) {
        rc = -ENOENT;
        snprintf(err, sizeof(err), "no job %llu on this node", (unsigned long long)m->f[0].u);
    } else if (dir[0] != '/') {
        rc = -EINVAL;
        snprintf(err, sizeof(err), "the image directory must be an absolute path");
    } else {
        cc->sfd = c->sfd;
        cc->c = c;
        cc->epoch = (uint32_t)m->f[1].u;
        if (flags == 1) {
            rc = sf_sfd__ckpt_criu_checkpoint(job, cc->epoch, dir, client_done, cc, err,
                                              sizeof(err));
        } else if (flags == 2) {
            rc = sf_sfd__ckpt_criu_restore(job, cc->epoch, dir, client_done, cc, err,
                                           sizeof(err));
        } else {
            rc = -EINVAL;
            snprintf(err, sizeof(err), "CKPT_PREPARE flags %u: 1 checkpoint, 2 restore", flags);
        }
        if (rc == 0) {
            cc = NULL; /* client_done frees it */
        }
    }
    free(dir);
    if (rc < 0) {
        struct sf_wire_enc e;
        sf_wire_enc_begin(&e, SF_OP_CKPT_RESUMED, c->seq++);
        sf_wire_put_i32(&e, -1);
        sf_wire_put_u32(&e, (uint32_t)m->f[1].u);
        sf_wire_put_i32(&e, rc);
        sf_wire_put_str(&e, err[0] != '\0' ? err : sf_strerror(rc));
        sf_sfd__client_send(c, &e);
        sf_wire_enc_free(&e);
    }
    free(cc);
    return 0;
}
