/* Coordinated checkpoints in sfd: a job's checkpoint options, the epochs
 * the coordinator runs (collect every rank's image, then commit or abort),
 * the COMMITTED marker and garbage collection on every node holding images,
 * the output marks that keep a restarted rank from printing twice, and
 * `sf ckpt JOB`. Recovery itself is sfd_recover.c. Loop thread only.
 *
 * Protocol (app backend; ops in runtime/base/sf_wire.h):
 *   rank -> its sfd      CKPT_STORED(job, rank, E, bytes, status) once the
 *                        rank's image STORE/KEY/E/rank-N is on disk; the
 *                        rank then blocks until CKPT_COMMIT(E).
 *   part -> coordinator  CKPT_PART(job, E, rank, status, text), sent after
 *                        the part forwarded the rank's pending output.
 *   coordinator          epoch E is 'pending' from its first image; when all
 *                        n are stored it writes E/COMMITTED (if it holds
 *                        images) and sends CKPT_COMMIT(E, 0) to every part,
 *                        which writes its marker, collects garbage and
 *                        answers its waiting ranks; the coordinator answers
 *                        its own. Any failed image, or a rank reporting
 *                        another epoch, aborts E: CKPT_COMMIT(E, <0) to all,
 *                        and a late image of E gets the same answer. Only a
 *                        committed epoch is ever restarted from.
 *   Garbage: after committing E a node keeps E and the newest older epoch
 *   with a marker; every other epoch directory goes.
 * Output marks: a rank flushes stdio before CKPT_STORED, and its sfd reads
 * the rank's pipes dry before passing the image on, so the coordinator's
 * count of the rank's output bytes at that moment is the output at the cut.
 * After a restart, output up to what was already forwarded is dropped. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "checkpoint/ckpt_app_int.h"
#include "checkpoint/sf_ckpt_criu.h"
#include "launcher/sfd/sfd_ckpt.h"
#include "runtime/base/sf_err.h"
#include "runtime/base/sf_log.h"
#include "runtime/base/sf_loop.h"
#include "runtime/base/sf_tun.h"

static int criu_begin(struct sf_sfd_job *job, char *err, size_t cap);
static void criu_commit(struct sf_sfd_job *job, uint32_t epoch, const char *msg);

/* Module "ckpt" tunables (SF_CKPT_<NAME>). */
struct sfd_ckpt_tun {
    const char *store;
    bool fs;
};
static const struct sf_tun ckpt_tun_items[] = {
    {"store", SF_TUN_STR, "",
     "directory for checkpoint images (empty: STATE_DIR/ckpt of a cluster daemon; "
     "$XDG_RUNTIME_DIR/starfish/ckpt or ~/.starfish/ckpt for sfrun's own daemon)",
     offsetof(struct sfd_ckpt_tun, store)},
    {"fs", SF_TUN_BOOL, "1",
     "a cluster daemon's jobs keep their images in the Starfish filesystem (/ckpt, two "
     "replicas), so ranks of a lost node restart elsewhere; 0: on each node's disk",
     offsetof(struct sfd_ckpt_tun, fs)},
};
const struct sf_tun_table sf_sfd__ckpt_tun_table = {
    "ckpt", ckpt_tun_items, sizeof(ckpt_tun_items) / sizeof(ckpt_tun_items[0])};

int sf_sfd__ckpt_store(struct sf_sfd *sfd, char *out, size_t cap)
{
    struct sfd_ckpt_tun t;
    int rc = sf_tun_load(&sf_sfd__ckpt_tun_table, &t);
    if (rc != 0) {
        return rc;
    }
    const char *xdg = getenv("XDG_RUNTIME_DIR"), *home = getenv("HOME");
    int n;
    if (t.store != NULL && t.store[0] != '\0') {
        n = snprintf(out, cap, "%s", t.store);
    } else if (sfd->state_dir != NULL) {
        n = snprintf(out, cap, "%s/ckpt", sfd->state_dir);
    } else if (xdg != NULL && xdg[0] != '\0') {
        n = snprintf(out, cap, "%s/starfish/ckpt", xdg);
    } else if (home != NULL && home[0] != '\0') {
        n = snprintf(out, cap, "%s/.starfish/ckpt", home);
    } else {
        return -ENOENT;
    }
    return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

static int mkdirs(const char *path)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
        return -ENAMETOOLONG;
    }
    for (char *p = buf + 1; *p != '\0'; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0700) != 0 && errno != EEXIST) {
                return -errno;
            }
            *p = '/';
        }
    }
    return mkdir(buf, 0700) != 0 && errno != EEXIST ? -errno : 0;
}

/* job->opts: replace or append "key=value"; value NULL removes the key. */
static int opt_set(struct sf_sfd_job *job, const char *key, const char *value)
{
    size_t kl = strlen(key), n = 0;
    while (job->opts != NULL && job->opts[n] != NULL) {
        n++;
    }
    char *kv = NULL;
    if (value != NULL) {
        kv = malloc(kl + strlen(value) + 2);
        if (kv == NULL) {
            return -ENOMEM;
        }
        sprintf(kv, "%s=%s", key, value);
    }
    for (size_t i = 0; i < n; i++) {
        if (strncmp(job->opts[i], key, kl) == 0 && job->opts[i][kl] == '=') {
            free(job->opts[i]);
            if (kv != NULL) {
                job->opts[i] = kv;
            } else {
                memmove(&job->opts[i], &job->opts[i + 1], (n - i) * sizeof(char *));
            }
            return 0;
        }
    }
    if (kv == NULL) {
        return 0;
    }
    char **nv = realloc(job->opts, (n + 2) * sizeof(char *));
    if (nv == NULL) {
        free(kv);
        return -ENOMEM;
    }
    nv[n] = kv;
    nv[n + 1] = NULL;
    job->opts = nv;
    return 0;
}

/* job->env: the same for "NAME=value". */
static int env_set(struct sf_sfd_job *job, const char *name, const char *value)
{
    size_t nl = strlen(name), n = 0;
    while (job->env[n] != NULL) {
        n++;
    }
    for (size_t i = 0; i < n; i++) {
        if (strncmp(job->env[i], name, nl) == 0 && job->env[i][nl] == '=') {
            free(job->env[i]);
            memmove(&job->env[i], &job->env[i + 1], (n - i) * sizeof(char *));
            n--;
            break;
        }
    }
    if (value == NULL) {
        return 0;
    }
    char *kv = malloc(nl + strlen(value) + 2);
    char **nv = kv != NULL ? realloc(job->env, (n + 2) * sizeof(char *)) : NULL;
    if (nv == NULL) {
        free(kv);
        return -ENOMEM;
    }
    sprintf(kv, "%s=%s", name, value);
    nv[n] = kv;
    nv[n + 1] = NULL;
    job->env = nv;
    return 0;
}

static struct sf_sfd_ckpt *ckpt_new(struct sf_sfd_job *job, uint64_t key)
{
    struct sf_sfd_ckpt *ck = calloc(1, sizeof(*ck));
    if (ck == NULL) {
        return NULL;
    }
    ck->key = ck->from_key = key;
    ck->max_restarts = SFD_CKPT_DEFAULT_MAX_RESTARTS;
    ck->backend = SFD_CKPT_APP;
    size_t n = (size_t)job->n;
    ck->waiting = calloc(n, sizeof(*ck->waiting));
    ck->stored = calloc(n, 1);
    ck->pos = calloc(n, sizeof(*ck->pos));
    ck->hw = calloc(n, sizeof(*ck->hw));
    ck->mark_pend = calloc(n, sizeof(*ck->mark_pend));
    ck->mark_comm = calloc(n, sizeof(*ck->mark_comm));
    char root[PATH_MAX];
    int rc = sf_sfd__ckpt_store(job->sfd, root, sizeof(root) - 24);
    if (rc == 0) {
        size_t l = strlen(root) + 24;
        ck->dir = malloc(l);
        if (ck->dir != NULL) {
            snprintf(ck->dir, l, "%s/%llu", root, (unsigned long long)key);
        }
    }
    if (ck->waiting == NULL || ck->stored == NULL || ck->pos == NULL || ck->hw == NULL ||
        ck->mark_pend == NULL || ck->mark_comm == NULL || ck->dir == NULL) {
        job->ckpt = ck;
        sf_sfd__ckpt_free(job);
        return NULL;
    }
    job->ckpt = ck;
    return ck;
}

void sf_sfd__ckpt_free(struct sf_sfd_job *job)
{
    struct sf_sfd_ckpt *ck = job->ckpt;
    if (ck == NULL) {
        return;
    }
    if (ck->timer != NULL) {
        sf_loop_timer_cancel(job->sfd->loop, ck->timer);
    }
    free(ck->waiting);
    free(ck->stored);
    free(ck->pos);
    free(ck->hw);
    free(ck->mark_pend);
    free(ck->mark_comm);
    free(ck->dir);
    free(ck);
    job->ckpt = NULL;
}

static bool has_marker(const char *jobdir, uint32_t epoch)
{
    char p[PATH_MAX + 48];
    if (snprintf(p, sizeof(p), "%s/%u/COMMITTED", jobdir, epoch) >= (int)sizeof(p)) {
        return false;
    }
    return access(p, F_OK) == 0;
}

/* The epoch directories under jobdir, as numbers (malloc'd), count in *n. */
static uint32_t *list_epochs(const char *jobdir, size_t *n)
{
    *n = 0;
    DIR *d = opendir(jobdir);
    if (d == NULL) {
        return NULL;
    }
    uint32_t *v = NULL;
    size_t cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        char *end;
        unsigned long e = strtoul(de->d_name, &end, 10);
        if (de->d_name[0] < '1' || de->d_name[0] > '9' || *end != '\0' || e > UINT32_MAX) {
            continue;
        }
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            uint32_t *nv = realloc(v, cap * sizeof(*v));
            if (nv == NULL) {
                break;
            }
            v = nv;
        }
        v[(*n)++] = (uint32_t)e;
    }
    closedir(d);
    return v;
}

static int rm_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    if (type == FTW_DP) {
        rmdir(path);
    } else {
        unlink(path);
    }
    return 0;
}

/* Write E/COMMITTED (temporary name, fsync, rename: present means whole),
 * then drop every epoch but E and the newest older committed one. */
static int commit_local(struct sf_sfd_job *job, uint32_t epoch)
{
    struct sf_sfd_ckpt *ck = job->ckpt;
    char p[PATH_MAX + 48], tmp[PATH_MAX + 48];
    snprintf(p, sizeof(p), "%s/%u", ck->dir, epoch);
    int mrc = mkdirs(p); /* with images in the fs, only markers are here */
    if (mrc != 0) {
        return mrc;
    }
    snprintf(p, sizeof(p), "%s/%u/COMMITTED", ck->dir, epoch);
    snprintf(tmp, sizeof(tmp), "%s/%u/.COMMITTED.tmp", ck->dir, epoch);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        return -errno;
    }
    char text[128];
    int l = snprintf(text, sizeof(text), "job %llu epoch %u ranks %d\n",
                     (unsigned long long)ck->key, epoch, job->n);
    int rc = write(fd, text, (size_t)l) == l ? 0 : -EIO;
    if (rc == 0 && fsync(fd) != 0) {
        rc = -errno;
    }
    close(fd);
    if (rc == 0 && rename(tmp, p) != 0) {
        rc = -errno;
    }
    if (rc != 0) {
        unlink(tmp);
        return rc;
    }
    size_t n;
    uint32_t *ep = list_epochs(ck->dir, &n);
    uint32_t keep = 0;
    for (size_t i = 0; i < n; i++) {
        if (ep[i] < epoch && ep[i] > keep && has_marker(ck->dir, ep[i])) {
            keep = ep[i];
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (ep[i] < epoch && ep[i] != keep) {
            snprintf(p, sizeof(p), "%s/%u", ck->dir, ep[i]);
            nftw(p, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        }
    }
    free(ep);
    return 0;
}

/* CKPT_COMMIT to one rank of this node that waits for epoch. */
static void answer_rank(struct sf_sfd_rank *r, uint32_t epoch, int status, const char *text)
{
    struct sf_sfd_ckpt *ck = r->job->ckpt;
    ck->waiting[r->rank] = 0;
    struct sf_wire_enc e;
    sf_wire_enc_begin(&e, SF_OP_CKPT_COMMIT, 0);
    sf_wire_put_u64(&e, r->job->id);
    sf_wire_put_u32(&e, epoch);
    sf_wire_put_i32(&e, status);
    sf_wire_put_str(&e, text);
    sf_sfd__io_send_rank(r, &e);
    sf_wire_enc_free(&e);
}

static void answer_local(struct sf_sfd_job *job, uint32_t epoch, int status, const char *text)
{
    for (int i = 0; i < job->n; i++) {
        if (job->ranks[i].local && job->ckpt->waiting[i] == epoch) {
            answer_rank(&job->ranks[i], epoch, status, text);
        }
    }
}

/* Coordinator: CKPT_COMMIT to every part still running ranks. */
static void commit_to_parts(struct sf_sfd_job *job, uint32_t epoch, int status, const char *text,
                            int only_node)
{
    for (int k = 0; k < job->nnodes; k++) {
        struct sf_sfd_jnode *jn = &job->nodes[k];
        if (jn->peer == NULL || jn->done || (only_node >= 0 && k != only_node)) {
            continue;
        }
        struct sf_wire_enc e;
        sf_wire_enc_begin(&e, SF_OP_CKPT_COMMIT, sf_sfd__peer_seq(jn->peer));
        sf_wire_put_u64(&e, job->id);
        sf_wire_put_u32(&e, epoch);
        sf_wire_put_i32(&e, status);
        sf_wire_put_str(&e, text);
        sf_sfd__peer_send(jn->peer, &e);
        sf_wire_enc_free(&e);
    }
}

static void epoch_abort(struct sf_sfd_job *job, uint32_t epoch, const char *text)
{
    struct sf_sfd_ckpt *ck = job->ckpt;
    SF_WARN("job %llu: checkpoint epoch %u aborted: %s", (unsigned long long)job->id, epoch,
            text);
    ck->aborted = epoch;
    if (ck->pending == epoch) {
        ck->pending = 0;
    }
    commit_to_parts(job, epoch, -ECANCELED, text, -1);
    answer_local(job, epoch, -ECANCELED, text);
}

static void epoch_commit(struct sf_sfd_job *job)
{
    struct sf_sfd_ckpt *ck = job->ckpt;
    uint32_t epoch = ck->pending;
    if (job->nlocal > 0 || ck->in_fs) {
        int rc = commit_local(job, epoch);
        if (rc != 0) {
            char text[PATH_MAX + 128];
            snprintf(text, sizeof(text), "cannot write the commit marker in %s/%u on host %s: %s",
                     ck->dir, epoch, job->sfd->host, sf_strerror(rc));
            epoch_abort(job, epoch, text);
            return;
        }
    }
    commit_to_parts(job, epoch, 0, "", -1);
    ck->committed = epoch;
    ck->from_key = ck->key;
    ck->pending = 0;
    memcpy(ck->mark_comm, ck->mark_pend, sizeof(*ck->mark_comm) * (size_t)job->n);
    SF_INFO("job %llu: checkpoint epoch %u committed: %d images, %llu bytes, %llu ms from the "
            "first image stored to the commit",
            (unsigned long long)job->id, epoch, job->n, (unsigned long long)ck->bytes,
            (unsigned long long)(sf_now_ms() - ck->t_first));
    answer_local(job, epoch, 0, "");
}

/* Coordinator: rank's image of epoch is stored (status 0) or failed. */
static void coord_stored(struct sf_sfd_job *job, int rank, uint32_t epoch, int status,
                         uint64_t bytes, const char *text)
{
    struct sf_sfd_ckpt *ck = job->ckpt;
    struct sf_sfd_rank *r = &job->ranks[rank];
    char why[512];
    if (ck->recovering || job->state != SFD_JOB_RUNNING) {
        return; /* its process is being stopped */
    }
    if (epoch == 0 || epoch <= ck->committed || epoch == ck->aborted) {
        snprintf(why, sizeof(why), "epoch %u is %s", epoch,
                 epoch == ck->aborted ? "aborted" : "not after the last committed one");
        if (r->local) {
            answer_rank(r, epoch, -ECANCELED, why);
        } else {
            commit_to_parts(job, epoch, -ECANCELED, why, r->node);
        }
        return;
    }
    if (ck->pending != 0 && epoch != ck->pending) {
        snprintf(why, sizeof(why),
                 "rank %d stored epoch %u while epoch %u was being collected: every rank must "
                 "call sf_ckpt_checkpoint() the same number of times",
                 rank, epoch, ck->pending);
        epoch_abort(job, ck->pending, why);
        epoch_abort(job, epoch, why);
        return;
    }
    if (ck->pending == 0) {
        ck->pending = epoch;
        ck->nstored = 0;
        ck->bytes = 0;
        ck->t_first = sf_now_ms();
        memset(ck->stored, 0, (size_t)job->n);
    }
    if (status != 0) {
        snprintf(why, sizeof(why), "rank %d could not store its image: %s%s%s", rank,
                 sf_strerror(status), text[0] ? ": " : "", text);
        epoch_abort(job, epoch, why);
        return;
    }
    if (ck->stored[rank]) {
        return;
    }
    ck->stored[rank] = 1;
    ck->nstored++;
    ck->bytes += bytes;
    ck->mark_pend[rank][0] = ck->pos[rank][0];
    ck->mark_pend[rank][1] = ck->pos[rank][1];
    if (ck->nstored == job->n) {
        epoch_commit(job);
    }
}

int sf_sfd__ckpt_on_stored(void *ctx, const struct sf_wire_msg *m)
{
    struct sf_sfd_rank *r = ctx;
    struct sf_sfd_job *job = r->job;
    struct sf_sfd_ckpt *ck = job->ckpt;
    uint32_t epoch = (uint32_t)m->f[2].u;
    uint64_t bytes = m->f[3].u;
    int status = (int)m->f[4].i;
    if (m->f[0].u != job->id || m->f[1].i != r->rank) {
        SF_WARN_SPARSE("rank %d sent CKPT_STORED for job %llu rank %lld: ignored", r->rank,
                       (unsigned long long)m->f[0].u, (long long)m->f[1].i);
        return 0;
    }
    if (ck == NULL) {
        /* The rank found checkpoint settings in its environment that its
         * job does not have: refuse rather than let it believe. */
        struct sf_wire_enc e;
        sf_wire_enc_begin(&e, SF_OP_CKPT_COMMIT, 0);
        sf_wire_put_u64(&e, job->id);
        sf_wire_put_u32(&e, epoch);
        sf_wire_put_i32(&e, -ENOTSUP);
        sf_wire_put_str(&e, "this job runs without checkpoints");
        sf_sfd__io_send_rank(r, &e);
        sf_wire_enc_free(&e);
        return 0;
    }
    ck->waiting[r->rank] = epoch;
    /* Output the rank wrote before the cut goes out before the image is
     * counted (see the file's header). m is not used past this point: the
     * drain reads the rank's socket again. */
    sf_sfd__io_drain_rank(r);
    if (job->coord) {
        coord_stored(job, r->rank, epoch, status, bytes, "");
        return 0;
    }
    if (job->coord_peer == NULL) {
        return 0;
    }
    struct sf_wire_enc e;
    sf_wire_enc_begin(&e, SF_OP_CKPT_PART, sf_sfd__peer_seq(job->coord_peer));
    sf_wire_put_u64(&e, job->id);
    sf_wire_put_u32(&e, epoch);
    sf_wire_put_i32(&e, r->rank);
    sf_wire_put_u64(&e, bytes);
    sf_wire_put_i32(&e, status);
    sf_wire_put_str(&e, "");
    sf_sfd__peer_send(job->coord_peer, &e);
    sf_wire_enc_free(&e);
    return 0;
}

/* The node index of a peer in a coordinated job, or -1. */
static int node_of(struct sf_sfd_job *job, struct sf_sfd_peer *p)
{
    for (int k = 0; job->coord && k < job->nnodes; k++) {
        if (job->nodes[k].peer == p && !job->nodes[k].lost) {
            return k;
        }
    }
    return -1;
}

void sf_sfd__ckpt_peer_op(struct sf_sfd *sfd, struct sf_sfd_peer *from, const struct sf_wire_msg *m)
{
    struct sf_sfd_job *job = sf_sfd__job_find(sfd, m->f[0].u);
    if (job == NULL) {
        return; /* ended here already */
    }
    struct sf_sfd_ckpt *ck = job->ckpt;
    switch (m->op) {
    case SF_OP_CKPT_PART: {
        int node = node_of(job, from), rank = (int)m->f[2].i;
        if (ck == NULL || node < 0 || rank < 0 || rank >= job->n ||
            job->ranks[rank].node != node) {
            break;
        }
        char *text = sf_wire_strdup(&m->f[5]);
        coord_stored(job, rank, (uint32_t)m->f[1].u, (int)m->f[4].i, m->f[3].u,
                     text != NULL ? text : "");
        free(text);
        return;
    }
    case SF_OP_CKPT_COMMIT: {
        if (ck == NULL || job->coord || job->coord_peer != from) {
            break;
        }
        uint32_t epoch = (uint32_t)m->f[1].u;
        int status = (int)m->f[2].i;
        char *text = sf_wire_strdup(&m->f[3]);
        if (status == 0 && job->nlocal > 0) {
            int rc = commit_local(job, epoch);
            if (rc != 0) {
                /* The coordinator already counts the epoch as committed;
                 * without our marker a restart from here is refused, which
                 * is the safe side. */
                SF_ERR("job %llu: cannot write the commit marker of epoch %u in %s: %s",
                       (unsigned long long)job->id, epoch, ck->dir, sf_strerror(rc));
            }
        }
        answer_local(job, epoch, status, text != NULL ? text : "");
        free(text);
        return;
    }
    default:
        break;
    }
    sfd->drops[SFD_DROP_PROTO]++;
    SF_WARN_SPARSE("unexpected %s for job %llu from %s: dropped", sf_wire_schema(m->op)->name,
                   (unsigned long long)job->id, from->name);
}

int sf_sfd__ckpt_client_req(void *ctx, const struct sf_wire_msg *m)
{
    struct sf_sfd_client *c = ctx;
    uint64_t id = m->f[0].u;
    struct sf_sfd_job *job = sf_sfd__job_find(c->sfd, id);
    int status;
    uint32_t epoch = 0;
    char text[512];
    if (job == NULL) {
        status = -ENOENT;
        snprintf(text, sizeof(text), "no job %llu on host %s", (unsigned long long)id,
                 c->sfd->host);
    } else if (!job->coord) {
        status = -EXDEV;
        snprintf(text, sizeof(text),
                 "job %llu is coordinated by another node (id %016llx): ask its daemon",
                 (unsigned long long)id, (unsigned long long)job->coord_id);
    } else if (job->ckpt == NULL) {
        status = -ENOTSUP;
        snprintf(text, sizeof(text),
                 "job %llu runs without checkpoints (start it with sfrun --ckpt=app|auto or "
                 "--ft=restart)",
                 (unsigned long long)id);
    } else if (job->ckpt->backend == SFD_CKPT_CRIU) {
        if (job->ckpt->req != NULL) {
            status = -EBUSY;
            snprintf(text, sizeof(text), "a checkpoint of job %llu was asked for already",
                     (unsigned long long)id);
        } else if (job->ckpt->criu_busy) {
            /* An epoch that began before the request does not count: the
             * next one starts when it ends, and answers. */
            job->ckpt->req = c;
            job->ckpt->req_wait = true;
            return 0;
        } else if ((status = criu_begin(job, text, sizeof(text))) == 0) {
            job->ckpt->req = c; /* answered when the epoch is decided */
            return 0;
        }
    } else {
        /* Only the transparent backend can be checkpointed from outside;
         * with the app backend the program picks its cuts. */
        epoch = job->ckpt->committed;
        status = -ENOTSUP;
        snprintf(text, sizeof(text),
                 "job %llu uses the application-level backend: it checkpoints when its program "
                 "calls sf_ckpt_checkpoint() (last committed epoch: %u); on-demand checkpoints "
                 "need --ckpt=criu",
                 (unsigned long long)id, epoch);
    }
    struct sf_wire_enc e;
    sf_wire_enc_begin(&e, SF_OP_CKPT_ANS, c->seq++);
    sf_wire_put_u64(&e, id);
    sf_wire_put_u32(&e, epoch);
    sf_wire_put_i32(&e, status);
    sf_wire_put_str(&e, text);
    sf_sfd__client_send(c, &e);
    sf_wire_enc_free(&e);
    return 0;
}

bool sf_sfd__ckpt_output(struct sf_sfd_job *job, int rank, int stream, const void **p,
                         size_t *len)
{
    struct sf_sfd_ckpt *ck = job->ckpt;
    if (ck == NULL || rank < 0 || rank >= job->n || stream < 1 || stream > 2) {
        return true;
    }
    int s = stream - 1;
    uint64_t start = ck->pos[rank][s], end = start + *len;
    ck->pos[rank][s] = end;
    if (end <= ck->hw[rank][s]) {
        return false; /* printed before the restart already */
    }
    if (start < ck->hw[rank][s]) {
        uint64_t skip = ck->hw[rank][s] - start;
        *p = (const uint8_t *)*p + skip;
        *len -= (size_t)skip;
    }
    ck->hw[rank][s] = end;
    return true;
}

/* ---- transparent (CRIU) epochs: jobs on one node (ckptcriu's part
 * checkpoint does the quiesce, dump and resume; this decides epochs,
 * commits, collects garbage and answers `sf ckpt`). ---------------------- */

static void criu_answer(struct sf_sfd_job *job, uint32_t epoch, int status, const char *text)
{
    struct sf_sfd_ckpt *ck = job->ckpt;
    struct sf_sfd_client *c = ck->req;
    ck->req = NULL;
    /* The client may have gone meanwhile: answer only one still listed. */
    for (struct sf_sfd_client *k = job->sfd->clients; c != NULL && k != NULL; k = k->next) {
        if (k == c && !c->dead) {
            struct sf_wire_enc e;
            sf_wire_enc_begin(&e, SF_OP_CKPT_ANS, c->seq++);
            sf_wire_put_u64(&e, job->id);
            sf_wire_put_u32(&e, epoch);
            sf_wire_put_i32(&e, status);
            sf_wire_put_str(&e, text);
            sf_sfd__client_send(c, &e);
            sf_wire_enc_free(&e);
            break;
        }
    }
}

static void criu_done(struct sf_sfd_job *job, void *arg, int status, const char *msg)
{
    struct sf_sfd_ckpt *ck = job->ckpt;
    uint32_t epoch = (uint32_t)(uintptr_t)arg;
    if (ck == NULL) {
        return;
    }
    ck->criu_busy = false;
    if (status == 0) {
        status = commit_local(job, epoch);
    }
    bool again = ck->req_wait;
    ck->req_wait = false;
    if (status != 0) {
        SF_WARN("job %llu: CRIU checkpoint epoch %u failed: %s", (unsigned long long)job->id,
                epoch, msg != NULL && msg[0] ? msg : sf_strerror(status));
        ck->aborted = epoch;
        if (!again) {
            criu_answer(job, epoch, status, msg != NULL && msg[0] ? msg : sf_strerror(status));
        }
    } else {
        criu_commit(job, epoch, msg);
        if (!again) {
            criu_answer(job, epoch, 0, msg != NULL ? msg : "");
        }
    }
    char err[512];
    if (again && criu_begin(job, err, sizeof(err)) != 0) {
        criu_answer(job, epoch, -EAGAIN, err);
    }
}

/* A CRIU epoch is whole: marker written; record it and its output marks. */
static void criu_commit(struct sf_sfd_job *job, uint32_t epoch, const char *msg)
{
    struct sf_sfd_ckpt *ck = job->ckpt;
    /* The cut's output position: what the ranks wrote, read now. Output
     * the ranks wrote between the dump and this moment is counted before
     * the cut, so after a restore it may show twice (see README). */
    for (int i = 0; i < job->n; i++) {
        if (job->ranks[i].local) {
            sf_sfd__io_drain_rank(&job->ranks[i]);
        }
        ck->mark_comm[i][0] = ck->pos[i][0];
        ck->mark_comm[i][1] = ck->pos[i][1];
    }
    ck->committed = epoch;
    ck->from_key = ck->key;
    SF_INFO("job %llu: CRIU checkpoint epoch %u committed in %llu ms: %s",
            (unsigned long long)job->id, epoch, (unsigned long long)(sf_now_ms() - ck->t_begin),
            msg != NULL ? msg : "");
}

/* Start epoch used+1 of a CRIU job: 0, or a negative code with err. */
static int criu_begin(struct sf_sfd_job *job, char *err, size_t cap)
{
    struct sf_sfd_ckpt *ck = job->ckpt;
    if (ck->criu_busy || ck->restoring || ck->recovering) {
        snprintf(err, cap, "job %llu is %s", (unsigned long long)job->id,
                 ck->criu_busy ? "checkpointing already" : "being restarted");
        return -EBUSY;
    }
    uint32_t epoch = ck->used + 1;
    char dir[PATH_MAX + 64];
    snprintf(dir, sizeof(dir), "%s/%u/part-0", ck->dir, epoch);
    int rc = mkdirs(dir);
    if (rc != 0) {
        snprintf(err, cap, "cannot create %.400s: %s", dir, sf_strerror(rc));
        return rc;
    }
    rc = sf_sfd__ckpt_criu_checkpoint(job, epoch, dir, criu_done, (void *)(uintptr_t)epoch, err,
                                      cap);
    if (rc == 0) {
        ck->used = epoch;
        ck->criu_busy = true;
        ck->t_begin = sf_now_ms();
    }
    return rc;
}

static void on_interval(struct sf_loop *loop, void *arg)
{
    struct sf_sfd_job *job = arg;
    struct sf_sfd_ckpt *ck = job->ckpt;
    ck->timer = NULL;
    char err[512];
    int rc = criu_begin(job, err, sizeof(err));
    if (rc != 0 && rc != -EBUSY && rc != -EAGAIN) {
        SF_WARN("job %llu: periodic checkpoint not taken: %s", (unsigned long long)job->id, err);
    }
    sf_loop_timer(loop, (uint64_t)(ck->interval * 1000.0), on_interval, job, &ck->timer);
}

/* The CRIU image directory of the committed epoch. */
static void criu_dir(struct sf_sfd_job *job, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%u/part-0", job->ckpt->dir, job->ckpt->committed);
}

static void criu_restored(struct sf_sfd_job *job, void *arg, int status, const char *msg)
{
    struct sf_sfd_ckpt *ck = job->ckpt;
    if (ck == NULL) {
        return;
    }
    ck->restoring = false;
    if (status != 0) {
        sf_sfd__job_fail(job, -1, 1, "restoring job %llu from CRIU checkpoint epoch %u failed: %s",
                         (unsigned long long)job->id, ck->committed,
                         msg != NULL && msg[0] ? msg : sf_strerror(status));
        return;
    }
    SF_INFO("job %llu: restored from CRIU epoch %u %llu ms after the failure: %s",
            (unsigned long long)job->id, ck->committed,
            (unsigned long long)(sf_now_ms() - ck->t_fail), msg != NULL ? msg : "");
}

int sf_sfd__ckpt_criu_recover(struct sf_sfd_job *job, char *err, size_t cap)
{
    struct sf_sfd_ckpt *ck = job->ckpt;
    char dir[PATH_MAX + 64];
    criu_dir(job, dir, sizeof(dir));
    if (ck->criu_busy) {
        snprintf(err, cap, "a checkpoint was running");
        return -EBUSY;
    }
    memcpy(ck->pos, ck->mark_comm, sizeof(*ck->pos) * (size_t)job->n);
    int rc = sf_sfd__ckpt_criu_restore(job, ck->committed, dir, criu_restored, NULL, err, cap);
    if (rc == 0) {
        ck->restoring = true;
    }
    return rc;
}

bool sf_sfd__ckpt_is_criu(const struct sf_sfd_job *job)
{
    return job->ckpt != NULL && job->ckpt->backend == SFD_CKPT_CRIU;
}

/* --restart-from KEY[:EPOCH]: the epoch to load (the newest committed one
 * unless given), checked against this node's images. */
static int restart_from(struct sf_sfd_job *job, const char *spec, char *err, size_t cap)
{
    struct sf_sfd_ckpt *ck = job->ckpt;
    char *end;
    errno = 0;
    unsigned long long key = strtoull(spec, &end, 10);
    unsigned long epoch = 0;
    if (errno != 0 || end == spec || (*end != '\0' && *end != ':')) {
        snprintf(err, cap, "--restart-from: '%s' is not JOB[:EPOCH]", spec);
        return -EINVAL;
    }
    if (*end == ':') {
        char *e2;
        epoch = strtoul(end + 1, &e2, 10);
        if (*e2 != '\0' || epoch == 0 || epoch > UINT32_MAX) {
            snprintf(err, cap, "--restart-from: '%s' is not JOB[:EPOCH]", spec);
            return -EINVAL;
        }
    }
    char root[PATH_MAX], dir[PATH_MAX + 32];
    int rc = sf_sfd__ckpt_store(job->sfd, root, sizeof(root));
    if (rc != 0) {
        snprintf(err, cap, "no checkpoint store on host %s: %s", job->sfd->host, sf_strerror(rc));
        return rc;
    }
    snprintf(dir, sizeof(dir), "%s/%llu", root, key);
    if (epoch == 0) {
        size_t n;
        uint32_t *ep = list_epochs(dir, &n);
        for (size_t i = 0; i < n; i++) {
            if (ep[i] > epoch && has_marker(dir, ep[i])) {
                epoch = ep[i];
            }
        }
        free(ep);
        if (epoch == 0) {
            snprintf(err, cap, "--restart-from %llu: no committed checkpoint of job %llu in %s on "
                     "host %s", key, key, dir, job->sfd->host);
            return -ENOENT;
        }
    } else if (!has_marker(dir, (uint32_t)epoch)) {
        snprintf(err, cap, "--restart-from %s: epoch %lu of job %llu is not committed in %s on "
                 "host %s", spec, epoch, key, dir, job->sfd->host);
        return -ENOENT;
    }
    /* The images of this node's ranks must be there; with every rank here
     * the count must match too (another -n cannot load them). Images in
     * the filesystem are checked by the ranks that load them. */
    int found = 0;
    for (int i = 0; !ck->in_fs; i++) {
        char p[PATH_MAX + 64];
        snprintf(p, sizeof(p), "%s/%lu/rank-%d", dir, epoch, i);
        if (access(p, R_OK) != 0) {
            break;
        }
        found++;
    }
    for (int i = 0; !ck->in_fs && i < job->n; i++) {
        char p[PATH_MAX + 64];
        snprintf(p, sizeof(p), "%s/%lu/rank-%d", dir, epoch, i);
        if (job->ranks[i].local && access(p, R_OK) != 0) {
            snprintf(err, cap, "--restart-from %s: epoch %lu has images of %d rank%s in %s, this "
                     "job runs %d: restart with -n %d", spec, epoch, found, found == 1 ? "" : "s",
                     dir, job->n, found);
            return -ENOENT;
        }
    }
    if (!ck->in_fs && job->nlocal == job->n && found != job->n) {
        snprintf(err, cap, "--restart-from %s: epoch %lu has images of %d rank%s, this job runs "
                 "%d: restart with -n %d", spec, epoch, found, found == 1 ? "" : "s", job->n,
                 found);
        return -EINVAL;
    }
    ck->committed = (uint32_t)epoch;
    ck->from_key = key;
    char num[32];
    snprintf(num, sizeof(num), "%lu", epoch);
    rc = opt_set(job, SFD_OPT_CKPT_RESTART, num);
    snprintf(num, sizeof(num), "%llu", key);
    if (rc == 0) {
        rc = opt_set(job, SFD_OPT_CKPT_FROM, num);
    }
    return rc;
}

int sf_sfd__ckpt_submit(struct sf_sfd_job *job, char *err, size_t cap)
{
    const char *ckpt = sf_sfd__job_opt(job, SFD_OPT_CKPT);
    const char *ft = sf_sfd__job_opt(job, "ft");
    const char *from = sf_sfd__job_opt(job, SFD_OPT_RESTART_FROM);
    const char *interval = sf_sfd__job_opt(job, SFD_OPT_CKPT_INTERVAL);
    const char *maxr = sf_sfd__job_opt(job, SFD_OPT_MAX_RESTARTS);
    bool restart = ft != NULL && strcmp(ft, "restart") == 0;
    if (ckpt == NULL && !restart && from == NULL) {
        return 0;
    }
    if (ckpt != NULL && strcmp(ckpt, "app") != 0 && strcmp(ckpt, "criu") != 0 &&
        strcmp(ckpt, "auto") != 0) {
        snprintf(err, cap, "--ckpt: unknown backend '%s' (app, criu or auto)", ckpt);
        return -EINVAL;
    }
    /* CRIU where it works and the job is on one node (the part checkpoint
     * handles one node's ranks only, for now); else the app backend. */
    char why[512] = "";
    bool want_criu = ckpt != NULL && strcmp(ckpt, "criu") == 0;
    bool use_criu = false;
    /* --restart-from loads app images: auto means app then. */
    if ((ckpt == NULL || strcmp(ckpt, "app") != 0) && (from == NULL || want_criu)) {
        if (job->nlocal != job->n) {
            snprintf(why, sizeof(why), "the CRIU backend checkpoints jobs on one node only, "
                     "for now (this one has ranks on %d nodes)", job->nnodes);
        } else if (sf_ckpt_criu_available(why, sizeof(why)) == 1) {
            use_criu = true;
        }
    }
    if (want_criu && !use_criu) {
        snprintf(err, cap, "--ckpt=criu: %s", why);
        return SF_ERR_UNSUPPORTED;
    }
    double secs = 0;
    if (interval != NULL && (sf_tun_parse_seconds(interval, &secs) != 0 || !(secs > 0))) {
        snprintf(err, cap, "--ckpt-interval: '%s' is not a positive number of seconds", interval);
        return -EINVAL;
    }
    if (interval != NULL && !use_criu) {
        snprintf(err, cap, "--ckpt-interval needs the transparent (CRIU) backend%s%s; with the "
                 "app backend the program checkpoints when it calls sf_ckpt_checkpoint()",
                 why[0] ? ": " : "", why);
        return SF_ERR_UNSUPPORTED;
    }
    if (from != NULL && use_criu) {
        snprintf(err, cap, "--restart-from works with the app backend only, for now (add "
                 "--ckpt=app)");
        return SF_ERR_UNSUPPORTED;
    }
    /* Cluster job ids are unique; sfrun's own daemon numbers from 1 each
     * time, so its jobs get a key from the clock and pid. */
    uint64_t key = job->sfd->listening
                       ? job->id
                       : ((uint64_t)time(NULL) << 20) ^ ((uint64_t)getpid() & 0xfffff);
    struct sf_sfd_ckpt *ck = ckpt_new(job, key);
    if (ck == NULL) {
        snprintf(err, cap, "no checkpoint store on host %s (set SF_CKPT_STORE)", job->sfd->host);
        return -ENOMEM;
    }
    ck->auto_chosen = ckpt == NULL || strcmp(ckpt, "auto") == 0;
    ck->ft_restart = restart;
    struct sfd_ckpt_tun tun;
    ck->in_fs = job->sfd->listening && job->sfd->fs != NULL && job->sfd->sock_path != NULL &&
                sf_tun_load(&sf_sfd__ckpt_tun_table, &tun) == 0 && tun.fs && !use_criu;
    ck->backend = use_criu ? SFD_CKPT_CRIU : SFD_CKPT_APP;
    ck->interval = secs;
    snprintf(ck->why, sizeof(ck->why), "%s", why);
    if (maxr != NULL) {
        char *end;
        long v = strtol(maxr, &end, 10);
        if (*end != '\0' || v < 0 || v > 1000000) {
            snprintf(err, cap, "--max-restarts: '%s' is not a number >= 0", maxr);
            return -EINVAL;
        }
        ck->max_restarts = (int)v;
    }
    int rc = mkdirs(ck->dir);
    if (rc != 0) {
        snprintf(err, cap, "cannot create the checkpoint directory %s on host %s: %s", ck->dir,
                 job->sfd->host, sf_strerror(rc));
        return rc;
    }
    char num[32];
    snprintf(num, sizeof(num), "%llu", (unsigned long long)key);
    if ((rc = opt_set(job, SFD_OPT_CKPT_KEY, num)) != 0 ||
        (rc = opt_set(job, SFD_OPT_CKPT_BACKEND, use_criu ? "criu" : "app")) != 0 ||
        (rc = opt_set(job, SFD_OPT_CKPT_FS, ck->in_fs ? "1" : NULL)) != 0) {
        snprintf(err, cap, "out of memory");
        return rc;
    }
    if (from != NULL && (rc = restart_from(job, from, err, cap)) != 0) {
        return rc;
    }
    if (ck->interval > 0) {
        sf_loop_timer(job->sfd->loop, (uint64_t)(ck->interval * 1000.0), on_interval, job,
                      &ck->timer);
    }
    return 0;
}

void sf_sfd__ckpt_announce(struct sf_sfd_job *job)
{
    struct sf_sfd_ckpt *ck = job->ckpt;
    if (ck == NULL || !job->coord) {
        return;
    }
    const char *from = sf_sfd__job_opt(job, SFD_OPT_RESTART_FROM);
    char text[PATH_MAX + 512];
    char where[PATH_MAX + 64];
    if (ck->in_fs) {
        snprintf(where, sizeof(where), "the Starfish filesystem, " SF_CKPT_FS_ROOT "/%llu (%d "
                 "replicas)", (unsigned long long)ck->key, SF_CKPT_FS_REPLICAS);
    } else {
        snprintf(where, sizeof(where), "%s%s", ck->dir, job->nnodes > 1 ? " on each node" : "");
    }
    bool criu = ck->backend == SFD_CKPT_CRIU;
    int l = snprintf(text, sizeof(text),
                     "sfrun: checkpoints: key %llu, images in %s (%s backend%s%s)%s%s\n",
                     (unsigned long long)ck->key, where,
                     criu ? "transparent CRIU" : "application-level",
                     ck->auto_chosen && !criu ? ", chosen by --ckpt=auto: " : "",
                     ck->auto_chosen && !criu ? ck->why : "",
                     from != NULL ? "; restarting from " : "", from != NULL ? from : "");
    if (l >= (int)sizeof(text)) {
        l = (int)sizeof(text) - 1;
    }
    sf_sfd__io_output(job, -1, 2, text, (size_t)l);
}

int sf_sfd__ckpt_part_init(struct sf_sfd_job *job)
{
    const char *ks = sf_sfd__job_opt(job, SFD_OPT_CKPT_KEY);
    if (ks == NULL) {
        return 0;
    }
    struct sf_sfd_ckpt *ck = ckpt_new(job, strtoull(ks, NULL, 10));
    if (ck == NULL) {
        return -ENOMEM;
    }
    const char *fs = sf_sfd__job_opt(job, SFD_OPT_CKPT_FS);
    if (fs != NULL && strcmp(fs, "1") == 0) {
        if (job->sfd->fs == NULL || job->sfd->sock_path == NULL) {
            return -ENOTSUP; /* the coordinator counts on our filesystem */
        }
        ck->in_fs = true;
    }
    return mkdirs(ck->dir);
}

int sf_sfd__ckpt_apply_env(struct sf_sfd_job *job)
{
    struct sf_sfd_ckpt *ck = job->ckpt;
    if (ck == NULL || ck->backend == SFD_CKPT_CRIU) {
        return 0; /* transparent: the program is not told */
    }
    char num[32], root[PATH_MAX], from[PATH_MAX + 32];
    snprintf(num, sizeof(num), "%llu", (unsigned long long)ck->key);
    const char *restart = sf_sfd__job_opt(job, SFD_OPT_CKPT_RESTART);
    const char *fk = sf_sfd__job_opt(job, SFD_OPT_CKPT_FROM);
    int rc = 0;
    if (fk != NULL && (rc = sf_sfd__ckpt_store(job->sfd, root, sizeof(root))) == 0) {
        snprintf(from, sizeof(from), "%s/%s", root, fk);
    }
    if (rc == 0) {
        rc = env_set(job, SF_CKPT_ENV_IMAGES, ck->dir);
    }
    if (rc == 0) {
        rc = env_set(job, SF_CKPT_ENV_KEY, num);
    }
    if (rc == 0) {
        rc = env_set(job, SF_CKPT_ENV_RESTART, restart);
    }
    if (rc == 0) {
        /* In the filesystem the epoch to load is named by its key. */
        rc = env_set(job, SF_CKPT_ENV_FROM, fk == NULL ? NULL : ck->in_fs ? fk : from);
    }
    if (rc == 0) {
        rc = env_set(job, SF_CKPT_ENV_FS, ck->in_fs ? job->sfd->sock_path : NULL);
    }
    return rc;
}

/* sfd_recover.c: set the options a respawn carries (epoch to load and the
 * key holding it) and the output positions of that epoch's cut. */
int sf_sfd__ckpt_rewind(struct sf_sfd_job *job)
{
    struct sf_sfd_ckpt *ck = job->ckpt;
    char num[32];
    snprintf(num, sizeof(num), "%u", ck->committed);
    int rc = opt_set(job, SFD_OPT_CKPT_RESTART, num);
    snprintf(num, sizeof(num), "%llu", (unsigned long long)ck->from_key);
    if (rc == 0) {
        rc = opt_set(job, SFD_OPT_CKPT_FROM, ck->from_key != ck->key ? num : NULL);
    }
    memcpy(ck->pos, ck->mark_comm, sizeof(*ck->pos) * (size_t)job->n);
    memset(ck->waiting, 0, sizeof(*ck->waiting) * (size_t)job->n);
    ck->pending = 0;
    return rc;
}
