/* A job on this node: accepting JOB_SUBMIT, starting the ranks, and the
 * rules that end a job (a rank fails, aborts, or the client signals) and
 * pick its exit status. Wire-up and pipes live in sfd_io.c, fork/exec in
 * sfd_spawn.c. Loop thread only. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/base/sf_err.h"
#include "runtime/base/sf_log.h"
#include "runtime/net/sf_net.h"
#include "runtime/sfd/sfd_int.h"

#define SFD_MAX_RANKS 65536

static char **strv_dup(const struct sf_wire_val *v)
{
    char **out = calloc((size_t)v->len + 1, sizeof(char *));
    if (out == NULL) {
        return NULL;
    }
    uint32_t pos = 0, i = 0;
    const uint8_t *s;
    uint32_t len;
    while (sf_wire_strv_next(v, &pos, &s, &len)) {
        out[i] = malloc((size_t)len + 1);
        if (out[i] == NULL) {
            for (uint32_t j = 0; j < i; j++) {
                free(out[j]);
            }
            free(out);
            return NULL;
        }
        memcpy(out[i], s, len);
        out[i][len] = '\0';
        i++;
    }
    return out;
}

static void strv_free(char **v)
{
    if (v == NULL) {
        return;
    }
    for (char **p = v; *p != NULL; p++) {
        free(*p);
    }
    free(v);
}

/* opts: "key=value" strings; returns the value of key or NULL. */
static const char *opt_get(char **opts, const char *key)
{
    size_t kl = strlen(key);
    for (char **p = opts; p != NULL && *p != NULL; p++) {
        if (strncmp(*p, key, kl) == 0 && (*p)[kl] == '=') {
            return *p + kl + 1;
        }
    }
    return NULL;
}

static int send_started(struct sf_sfd_job *job)
{
    struct sf_wire_enc e;
    sf_wire_enc_begin(&e, SF_OP_JOB_STARTED, job->client->seq++);
    sf_wire_put_u64(&e, job->id);
    sf_wire_put_i32(&e, job->n);
    int rc = sf_sfd__client_send(job->client, &e);
    sf_wire_enc_free(&e);
    return rc;
}

static int make_shm(struct sf_sfd_job *job)
{
    char name[64];
    snprintf(name, sizeof(name), "starfish-job-%llu", (unsigned long long)job->id);
    int fd = memfd_create(name, MFD_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    size_t sz = sf_net_shm_segment_size(job->n);
    if (ftruncate(fd, (off_t)sz) != 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    job->shm_fd = fd;
    return 0;
}

int sf_sfd__job_submit(struct sf_sfd *sfd, struct sf_sfd_client *c, const struct sf_wire_msg *m)
{
    if (c->job != NULL || sfd->job != NULL) {
        return sf_sfd__client_error(c, -EBUSY,
                                    "this daemon runs one job at a time (embedded mode)");
    }
    int n = (int)m->f[0].i;
    if (n < 1 || n > SFD_MAX_RANKS) {
        return sf_sfd__client_error(c, -EINVAL, "bad number of ranks %d (1..%d)", n, SFD_MAX_RANKS);
    }
    if (m->f[2].len == 0) {
        return sf_sfd__client_error(c, -EINVAL, "empty command line");
    }
    struct sf_sfd_job *job = calloc(1, sizeof(*job));
    if (job == NULL) {
        return sf_sfd__client_error(c, -ENOMEM, "out of memory");
    }
    job->sfd = sfd;
    job->client = c;
    job->id = sfd->next_job++;
    job->n = n;
    job->shm_fd = -1;
    job->fail_rank = -1;
    job->pgid = 0;
    job->argv = strv_dup(&m->f[2]);
    job->env = strv_dup(&m->f[3]);
    job->cwd = sf_wire_strdup(&m->f[4]);
    char **opts = strv_dup(&m->f[5]);
    job->ranks = calloc((size_t)n, sizeof(*job->ranks));
    if (job->argv == NULL || job->env == NULL || job->cwd == NULL || opts == NULL ||
        job->ranks == NULL) {
        strv_free(opts);
        sf_sfd__job_free(job);
        return sf_sfd__client_error(c, -ENOMEM, "out of memory");
    }
    const char *bind = opt_get(opts, "bind");
    const char *over = opt_get(opts, "oversubscribe");
    job->oversubscribed = n > sfd->ncores;
    if (job->oversubscribed && over != NULL && strcmp(over, "no") == 0) {
        sf_sfd__client_error(c, -ENOSPC,
                             "not enough slots: %d ranks requested but host %s has %d core%s "
                             "(--nooversubscribe given; drop it or use --oversubscribe to run "
                             "anyway)",
                             n, sfd->host, sfd->ncores, sfd->ncores == 1 ? "" : "s");
        strv_free(opts);
        sf_sfd__job_free(job);
        return 0;
    }
    /* bind and over point into opts: decide everything before freeing it. */
    bool want_bind = bind != NULL && strcmp(bind, "core") == 0;
    job->bind_core = want_bind && !job->oversubscribed && sfd->topo != NULL;
    bool notice = job->oversubscribed && (over == NULL || strcmp(over, "yes") != 0);
    strv_free(opts);

    int rc = make_shm(job);
    if (rc != 0) {
        SF_WARN("no shared segment for job %llu (%s): ranks will use the fabric only",
                (unsigned long long)job->id, sf_strerror(rc));
    }
    sfd->job = job;
    c->job = job;
    if (send_started(job) != 0) {
        return 0;
    }
    if (notice) {
        char text[256];
        int len = snprintf(text, sizeof(text),
                           "sfrun: note: %d ranks on %d core%s of host %s: oversubscribed, ranks "
                           "are not bound\n",
                           n, sfd->ncores, sfd->ncores == 1 ? "" : "s", sfd->host);
        sf_sfd__io_output(job, -1, 2, text, (size_t)len);
    }
    if (want_bind && !job->bind_core) {
        SF_DBG("not binding: %s", job->oversubscribed ? "oversubscribed" : "no topology");
    }
    for (int i = 0; i < n; i++) {
        struct sf_sfd_rank *r = &job->ranks[i];
        r->job = job;
        r->rank = i;
        r->ctl_fd = r->out_fd = r->err_fd = r->in_fd = -1;
        sf_wire_rx_init(&r->rx);
    }
    for (int i = 0; i < n; i++) {
        struct sf_sfd_rank *r = &job->ranks[i];
        rc = sf_sfd__spawn_rank(job, r);
        if (rc != 0) {
            sf_sfd__job_fail(job, i, 1, "rank %d on host %s could not be started: %s", i, sfd->host,
                             sf_strerror(rc));
            break;
        }
        job->nlive++;
        sf_sfd__io_watch_rank(r);
    }
    sf_sfd__job_check_done(job);
    return 0;
}

/* Send KILL to every live rank and 'signo' to the job's process group;
 * SIGKILL follows after the grace period. */
static void on_kill_timer(struct sf_loop *loop, void *arg)
{
    struct sf_sfd_job *job = arg;
    job->kill_timer = NULL;
    SF_DBG("grace period over: SIGKILL to job %llu", (unsigned long long)job->id);
    sf_sfd__job_kill_now(job);
}

static void signal_ranks(struct sf_sfd_job *job, int signo)
{
    if (job->pgid > 0) {
        kill(-job->pgid, signo);
    }
    /* A rank may have left the group (setsid): reach it directly too. */
    for (int i = 0; i < job->n; i++) {
        if (job->ranks[i].pid > 0) {
            kill(job->ranks[i].pid, signo);
        }
    }
}

static void begin_teardown(struct sf_sfd_job *job, int signo, const char *reason)
{
    job->state = SFD_JOB_ENDING;
    for (int i = 0; i < job->n; i++) {
        struct sf_sfd_rank *r = &job->ranks[i];
        if (r->pid <= 0) {
            continue;
        }
        r->signalled = true;
        if (r->ctl_fd >= 0 && r->hello) {
            struct sf_wire_enc e;
            sf_wire_enc_begin(&e, SF_OP_KILL, 0);
            sf_wire_put_str(&e, reason);
            sf_sfd__io_send_rank(r, &e);
            sf_wire_enc_free(&e);
        }
    }
    signal_ranks(job, signo);
    if (job->kill_timer == NULL && job->nlive > 0) {
        double ms = job->sfd->tun.kill_grace * 1000.0;
        sf_loop_timer(job->sfd->loop, ms > 0 ? (uint64_t)ms : 0, on_kill_timer, job,
                      &job->kill_timer);
    }
}

void sf_sfd__job_fail(struct sf_sfd_job *job, int rank, int code, const char *fmt, ...)
{
    if (job->state == SFD_JOB_DONE) {
        return;
    }
    /* After the first failure only a lower rank failing in the same batch
     * (its exit was already pending) may take over the job's status. */
    bool take = job->state == SFD_JOB_RUNNING ||
                (job->end_signal == 0 && job->fail_rank >= 0 && rank < job->fail_rank);
    if (take) {
        char text[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        free(job->message);
        job->message = strdup(text);
        job->fail_rank = rank;
        job->exit_code = code;
        SF_DBG("job %llu failing: %s", (unsigned long long)job->id, text);
    }
    if (job->state == SFD_JOB_RUNNING) {
        begin_teardown(job, SIGTERM, job->message != NULL ? job->message : "job failed");
    }
}

void sf_sfd__job_signal(struct sf_sfd_job *job, int signo)
{
    if (job->state == SFD_JOB_DONE) {
        return;
    }
    switch (signo) {
    case SIGINT:
    case SIGTERM:
    case SIGHUP:
    case SIGQUIT:
    case SIGKILL:
        /* The user is stopping the job: it ends with 128+signo whatever
         * the ranks do on their way out. */
        if (job->state == SFD_JOB_RUNNING) {
            job->end_signal = signo;
            job->exit_code = 128 + signo;
            char reason[64];
            snprintf(reason, sizeof(reason), "signal %d from the user", signo);
            begin_teardown(job, signo, reason);
        } else {
            signal_ranks(job, signo);
        }
        break;
    default:
        signal_ranks(job, signo);
        break;
    }
}

void sf_sfd__job_kill_now(struct sf_sfd_job *job)
{
    for (int i = 0; i < job->n; i++) {
        if (job->ranks[i].pid > 0) {
            job->ranks[i].signalled = true;
        }
    }
    signal_ranks(job, SIGKILL);
    if (job->state == SFD_JOB_RUNNING) {
        job->state = SFD_JOB_ENDING;
    }
}

void sf_sfd__job_rank_exited(struct sf_sfd_job *job, struct sf_sfd_rank *r, int ws)
{
    const char *host = job->sfd->host;
    /* Frames the rank sent just before it died (FINALIZE, ABORT) must be
     * seen before judging its exit. */
    sf_sfd__io_drain_rank(r);
    r->pid = 0;
    r->exited = true;
    job->nlive--;
    char cause[512];
    bool failed;
    int code;
    if (WIFSIGNALED(ws)) {
        int sig = WTERMSIG(ws);
        r->status = 128 + sig;
        code = r->status;
        snprintf(cause, sizeof(cause), "rank %d on host %s was killed by signal %d (%s)", r->rank,
                 host, sig, strsignal(sig));
        failed = true;
    } else {
        r->status = WEXITSTATUS(ws);
        code = r->status;
        if (r->hello && !r->finalized) {
            if (r->status != 0) {
                snprintf(cause, sizeof(cause),
                         "rank %d on host %s exited with status %d without calling MPI_Finalize",
                         r->rank, host, r->status);
            } else {
                snprintf(cause, sizeof(cause),
                         "rank %d on host %s exited without calling MPI_Finalize", r->rank, host);
                code = 1;
            }
            failed = true;
        } else if (r->status != 0) {
            snprintf(cause, sizeof(cause), "rank %d on host %s exited with status %d", r->rank,
                     host, r->status);
            failed = true;
        } else {
            snprintf(cause, sizeof(cause), "rank %d on host %s exited normally", r->rank, host);
            failed = false;
        }
    }
    if (job->client != NULL) {
        struct sf_wire_enc e;
        sf_wire_enc_begin(&e, SF_OP_RANK_EXIT, job->client->seq++);
        sf_wire_put_i32(&e, r->rank);
        sf_wire_put_i32(&e, r->status);
        sf_wire_put_str(&e, cause);
        sf_sfd__client_send(job->client, &e);
        sf_wire_enc_free(&e);
    }
    /* A rank we were already tearing down is a victim, not a cause. */
    if (failed && !r->signalled) {
        sf_sfd__job_fail(job, r->rank, code, "%s", cause);
    }
}

void sf_sfd__job_check_done(struct sf_sfd_job *job)
{
    if (job->nlive > 0 || job->state == SFD_JOB_DONE) {
        return;
    }
    for (int i = 0; i < job->n; i++) {
        sf_sfd__io_drain_rank(&job->ranks[i]);
        sf_sfd__io_close_rank(&job->ranks[i]);
    }
    if (job->kill_timer != NULL) {
        sf_loop_timer_cancel(job->sfd->loop, job->kill_timer);
        job->kill_timer = NULL;
    }
    /* Whatever the ranks left behind in their group goes too. */
    if (job->pgid > 0) {
        kill(-job->pgid, SIGKILL);
    }
    if (job->state == SFD_JOB_RUNNING) {
        job->exit_code = 0;
    }
    job->state = SFD_JOB_DONE;
    struct sf_sfd_client *c = job->client;
    if (c != NULL) {
        struct sf_wire_enc e;
        sf_wire_enc_begin(&e, SF_OP_JOB_DONE, c->seq++);
        sf_wire_put_i32(&e, job->exit_code & 0xff);
        sf_wire_put_str(&e, job->message != NULL ? job->message : "");
        sf_sfd__client_send(c, &e);
        sf_wire_enc_free(&e);
    }
    SF_DBG("job %llu done, status %d", (unsigned long long)job->id, job->exit_code);
    /* Embedded mode: the daemon lives exactly as long as its job. */
    sf_loop_stop(job->sfd->loop);
}

void sf_sfd__job_free(struct sf_sfd_job *job)
{
    if (job->ranks != NULL) {
        for (int i = 0; i < job->n; i++) {
            struct sf_sfd_rank *r = &job->ranks[i];
            if (r->job == NULL) {
                continue; /* never initialised */
            }
            sf_sfd__io_close_rank(r);
            sf_wire_rx_free(&r->rx);
            free(r->addr);
            free(r->inq.buf);
        }
        free(job->ranks);
    }
    if (job->kill_timer != NULL) {
        sf_loop_timer_cancel(job->sfd->loop, job->kill_timer);
    }
    if (job->shm_fd >= 0) {
        close(job->shm_fd);
    }
    if (job->sfd->job == job) {
        job->sfd->job = NULL;
    }
    if (job->client != NULL && job->client->job == job) {
        job->client->job = NULL;
    }
    strv_free(job->argv);
    strv_free(job->env);
    free(job->cwd);
    free(job->message);
    free(job);
}
