/* Jobs: accepting JOB_SUBMIT (this daemon then coordinates: placement,
 * SPAWN to other nodes), running this node's part of a job (its own or one
 * coordinated elsewhere), and the rules that end a job (a rank fails,
 * aborts, a node is lost, or the client signals) and pick its exit status.
 * Wire-up and pipes live in sfd_io.c, fork/exec in sfd_spawn.c, the peer
 * connections in sfd_peer.c. Loop thread only. */
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
#include "launcher/sfd/sfd_int.h"

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

const char *sf_sfd__job_opt(struct sf_sfd_job *job, const char *key)
{
    return opt_get(job->opts, key);
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
    size_t sz = sf_net_shm_segment_size(job->nlocal);
    if (ftruncate(fd, (off_t)sz) != 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    job->shm_fd = fd;
    return 0;
}

static struct sf_sfd_job *job_new(struct sf_sfd *sfd, uint64_t id, int n)
{
    struct sf_sfd_job *job = calloc(1, sizeof(*job));
    if (job == NULL) {
        return NULL;
    }
    job->sfd = sfd;
    job->id = id;
    job->n = n;
    job->shm_fd = -1;
    job->fail_rank = -1;
    job->ranks = calloc((size_t)n, sizeof(*job->ranks));
    if (job->ranks == NULL) {
        free(job);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        struct sf_sfd_rank *r = &job->ranks[i];
        r->job = job;
        r->rank = i;
        r->ctl_fd = r->out_fd = r->err_fd = r->in_fd = -1;
        sf_wire_rx_init(&r->rx);
    }
    job->next = sfd->jobs;
    sfd->jobs = job;
    return job;
}

struct sf_sfd_job *sf_sfd__job_find(struct sf_sfd *sfd, uint64_t id)
{
    for (struct sf_sfd_job *j = sfd->jobs; j != NULL; j = j->next) {
        if (j->id == id) {
            return j;
        }
    }
    return NULL;
}

/* Start this node's ranks of the job (ranks marked .local). */
static void start_local(struct sf_sfd_job *job)
{
    struct sf_sfd *sfd = job->sfd;
    if (job->nlocal > 0) {
        int rc = make_shm(job);
        if (rc != 0) {
            SF_WARN("no shared segment for job %llu (%s): ranks will use the fabric only",
                    (unsigned long long)job->id, sf_strerror(rc));
        }
    }
    for (int i = 0; i < job->n; i++) {
        struct sf_sfd_rank *r = &job->ranks[i];
        if (!r->local) {
            continue;
        }
        int rc = sf_sfd__spawn_rank(job, r);
        if (rc != 0) {
            sf_sfd__job_fail(job, i, 1, "rank %d on host %s could not be started: %s", i,
                             sfd->host, sf_strerror(rc));
            break;
        }
        job->nlive++;
        sf_sfd__io_watch_rank(r);
    }
}

static void bind_opts(struct sf_sfd_job *job, char **opts, int slots)
{
    const char *bind = opt_get(opts, "bind");
    job->oversubscribed = job->nlocal > slots;
    bool want_bind = bind != NULL && strcmp(bind, "core") == 0;
    job->bind_core = want_bind && !job->oversubscribed && job->sfd->topo != NULL;
    if (want_bind && !job->bind_core) {
        SF_DBG("not binding: %s", job->oversubscribed ? "oversubscribed" : "no topology");
    }
}

static int send_spawn(struct sf_sfd_job *job, int node)
{
    struct sf_sfd_jnode *jn = &job->nodes[node];
    int32_t *ranks = calloc((size_t)jn->nranks + 1, sizeof(int32_t));
    if (ranks == NULL) {
        return -ENOMEM;
    }
    int k = 0;
    for (int i = 0; i < job->n; i++) {
        if (job->ranks[i].node == node) {
            ranks[k++] = i;
        }
    }
    size_t nargv = 0, nenv = 0, nopts = 0;
    while (job->argv[nargv] != NULL) {
        nargv++;
    }
    while (job->env[nenv] != NULL) {
        nenv++;
    }
    while (job->opts != NULL && job->opts[nopts] != NULL) {
        nopts++;
    }
    struct sf_wire_enc e;
    sf_wire_enc_begin(&e, SF_OP_SPAWN, sf_sfd__peer_seq(jn->peer));
    sf_wire_put_u64(&e, job->id);
    sf_wire_put_i32(&e, job->n);
    sf_wire_put_i32(&e, node);
    sf_wire_put_i32(&e, job->nnodes);
    sf_wire_put_i32v(&e, ranks, (size_t)k);
    sf_wire_put_strv(&e, job->argv, nargv);
    sf_wire_put_strv(&e, job->env, nenv);
    sf_wire_put_str(&e, job->cwd);
    sf_wire_put_strv(&e, job->opts, nopts);
    int rc = sf_sfd__peer_send(jn->peer, &e);
    sf_wire_enc_free(&e);
    free(ranks);
    return rc;
}

/* Candidate nodes for placement: this daemon first, then the live members
 * in name order (a stable order, so placement is reproducible). */
static int gather_nodes(struct sf_sfd *sfd, struct sf_sfd_place_node **out,
                        struct sf_sfd_peer ***peers_out)
{
    int n = 1;
    for (struct sf_sfd_peer *p = sfd->peers; p != NULL; p = p->next) {
        n += p->conn != NULL;
    }
    struct sf_sfd_place_node *nodes = calloc((size_t)n, sizeof(*nodes));
    struct sf_sfd_peer **peers = calloc((size_t)n, sizeof(*peers));
    if (nodes == NULL || peers == NULL) {
        free(nodes);
        free(peers);
        return -ENOMEM;
    }
    nodes[0].name = sfd->host;
    nodes[0].slots = sfd->ncores;
    int k = 1;
    for (struct sf_sfd_peer *p = sfd->peers; p != NULL; p = p->next) {
        if (p->conn == NULL) {
            continue;
        }
        int j = k++;
        while (j > 1 && strcmp(peers[j - 1]->name, p->name) > 0) {
            peers[j] = peers[j - 1];
            nodes[j] = nodes[j - 1];
            j--;
        }
        peers[j] = p;
        nodes[j].name = p->name;
        nodes[j].slots = p->slots;
    }
    *out = nodes;
    *peers_out = peers;
    return n;
}

int sf_sfd__job_submit(struct sf_sfd *sfd, struct sf_sfd_client *c, const struct sf_wire_msg *m)
{
    if (c->job != NULL) {
        return sf_sfd__client_error(c, -EBUSY, "one job per connection");
    }
    if (!sfd->listening && sfd->jobs != NULL) {
        return sf_sfd__client_error(c, -EBUSY,
                                    "this daemon runs one job at a time (embedded mode)");
    }
    if (sfd->stopping) {
        return sf_sfd__client_error(c, -ESHUTDOWN, "daemon on host %s is shutting down",
                                    sfd->host);
    }
    int n = (int)m->f[0].i;
    if (n < 1 || n > SFD_MAX_RANKS) {
        return sf_sfd__client_error(c, -EINVAL, "bad number of ranks %d (1..%d)", n, SFD_MAX_RANKS);
    }
    if (m->f[2].len == 0) {
        return sf_sfd__client_error(c, -EINVAL, "empty command line");
    }
    char **opts = strv_dup(&m->f[5]);
    if (opts == NULL) {
        return sf_sfd__client_error(c, -ENOMEM, "out of memory");
    }
    const char *ft = opt_get(opts, "ft");
    if (ft != NULL && strcmp(ft, "abort") != 0 && strcmp(ft, "restart") != 0) {
        sf_sfd__client_error(c, SF_ERR_UNSUPPORTED,
                             "fault policy '%s' is not implemented: only --ft=abort and "
                             "--ft=restart are", ft);
        strv_free(opts);
        return 0;
    }
    /* Placement over the live nodes. */
    struct sf_sfd_place_node *pn = NULL;
    struct sf_sfd_peer **pp = NULL;
    int nn = gather_nodes(sfd, &pn, &pp);
    int *rank_node = calloc((size_t)n, sizeof(int));
    if (nn < 0 || rank_node == NULL) {
        free(rank_node);
        free(pn);
        free(pp);
        strv_free(opts);
        return sf_sfd__client_error(c, -ENOMEM, "out of memory");
    }
    const char *over = opt_get(opts, "oversubscribe");
    const char *mapby = opt_get(opts, "map-by");
    const char *npn = opt_get(opts, "npernode");
    struct sf_sfd_place_req req = {
        .n = n,
        .map_by_node = mapby != NULL && strcmp(mapby, "node") == 0,
        .npernode = npn != NULL ? atoi(npn) : 0,
        .hosts = opt_get(opts, "hosts"),
        .oversubscribe = over == NULL || strcmp(over, "no") != 0,
    };
    char err[512];
    int rc = sf_sfd__place(pn, nn, &req, rank_node, err, sizeof(err));
    if (rc != 0) {
        if (rc == -ENOSPC && nn == 1 && req.npernode == 0 && req.hosts == NULL) {
            /* The single-node wording sfrun's users know. */
            snprintf(err, sizeof(err),
                     "not enough slots: %d ranks requested but host %s has %d core%s "
                     "(--nooversubscribe given; drop it or use --oversubscribe to run anyway)",
                     n, sfd->host, sfd->ncores, sfd->ncores == 1 ? "" : "s");
        }
        sf_sfd__client_error(c, rc, "%s", err);
        goto out;
    }
    /* Job nodes: the placement's nodes that got ranks, in first-rank order. */
    int *jidx = malloc(sizeof(int) * (size_t)nn);
    struct sf_sfd_job *job = NULL;
    uint64_t id = sfd->listening ? ((sfd->node_id & 0xffffffu) << 32) | sfd->next_job++
                                 : sfd->next_job++;
    if (jidx != NULL) {
        job = job_new(sfd, id, n);
    }
    if (job == NULL || (job->nodes = calloc((size_t)nn, sizeof(*job->nodes))) == NULL) {
        free(jidx);
        if (job != NULL) {
            sf_sfd__job_free(job);
        }
        sf_sfd__client_error(c, -ENOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < nn; i++) {
        jidx[i] = -1;
    }
    for (int r = 0; r < n; r++) {
        int pi = rank_node[r];
        if (jidx[pi] < 0) {
            jidx[pi] = job->nnodes++;
            struct sf_sfd_jnode *jn = &job->nodes[jidx[pi]];
            jn->peer = pp[pi];
            jn->id = pp[pi] != NULL ? pp[pi]->id : sfd->node_id;
            snprintf(jn->name, sizeof(jn->name), "%s", pn[pi].name);
            if (pp[pi] == NULL) {
                job->self_node = jidx[pi];
            }
        }
        struct sf_sfd_rank *rk = &job->ranks[r];
        rk->node = jidx[pi];
        rk->local_rank = job->nodes[jidx[pi]].nranks++;
        rk->local = pp[pi] == NULL;
        job->nlocal += rk->local;
    }
    free(jidx);
    job->coord = true;
    job->client = c;
    c->job = job;
    job->argv = strv_dup(&m->f[2]);
    job->env = strv_dup(&m->f[3]);
    job->cwd = sf_wire_strdup(&m->f[4]);
    job->opts = opts;
    opts = NULL;
    if (job->argv == NULL || job->env == NULL || job->cwd == NULL) {
        sf_sfd__job_free(job);
        sf_sfd__client_error(c, -ENOMEM, "out of memory");
        goto out;
    }
    if (job->nlocal == 0) {
        job->self_node = -1;
    }
    rc = sf_sfd__ckpt_submit(job, err, sizeof(err));
    if (rc == 0) {
        rc = sf_sfd__ckpt_apply_env(job);
    }
    if (rc != 0) {
        sf_sfd__job_free(job);
        sf_sfd__client_error(c, rc, "%s", err[0] != '\0' ? err : sf_strerror(rc));
        goto out;
    }
    sfd->jobs_run++;
    bind_opts(job, job->opts, sfd->ncores);
    if (send_started(job) != 0) {
        goto out;
    }
    sf_sfd__ckpt_announce(job);
    bool quiet = over != NULL && strcmp(over, "yes") == 0;
    for (int k = 0; k < job->nnodes && !quiet; k++) {
        struct sf_sfd_jnode *jn = &job->nodes[k];
        int slots = jn->peer != NULL ? jn->peer->slots : sfd->ncores;
        if (jn->nranks > slots) {
            char text[256];
            int len = snprintf(text, sizeof(text),
                               "sfrun: note: %d ranks on %d core%s of host %s: oversubscribed, "
                               "ranks are not bound\n",
                               jn->nranks, slots, slots == 1 ? "" : "s", jn->name);
            sf_sfd__io_output(job, -1, 2, text, (size_t)len);
        }
    }
    SF_INFO("job %llu: %d ranks on %d node%s", (unsigned long long)job->id, n, job->nnodes,
            job->nnodes == 1 ? "" : "s");
    for (int k = 0; k < job->nnodes; k++) {
        if (job->nodes[k].peer != NULL && (rc = send_spawn(job, k)) != 0) {
            sf_sfd__job_fail(job, -1, 1, "cannot ask node %s to start its ranks: %s",
                             job->nodes[k].name, sf_strerror(rc));
            job->nodes[k].done = true;
        }
    }
    start_local(job);
    sf_sfd__job_check_done(job);
out:
    strv_free(opts);
    free(rank_node);
    free(pn);
    free(pp);
    return 0;
}

/* SPAWN from a coordinator: run our part of its job. */
static int on_spawn(struct sf_sfd *sfd, struct sf_sfd_peer *from, const struct sf_wire_msg *m)
{
    uint64_t id = m->f[0].u;
    int n = (int)m->f[1].i, node = (int)m->f[2].i, nnodes = (int)m->f[3].i;
    if (n < 1 || n > SFD_MAX_RANKS || nnodes < 1 || node < 0 || node >= nnodes ||
        m->f[4].len == 0 || m->f[4].len > (uint32_t)n || m->f[5].len == 0 ||
        sf_sfd__job_find(sfd, id) != NULL) {
        sfd->drops[SFD_DROP_PROTO]++;
        SF_WARN_SPARSE("bad SPAWN from %s: dropped", from->name);
        return 0;
    }
    struct sf_sfd_job *job = job_new(sfd, id, n);
    if (job == NULL) {
        return -ENOMEM;
    }
    job->coord_id = from->id;
    job->coord_peer = from;
    job->self_node = node;
    job->nnodes = nnodes;
    for (uint32_t k = 0; k < m->f[4].len; k++) {
        int32_t r = sf_wire_i32v_get(&m->f[4], k);
        if (r < 0 || r >= n || job->ranks[r].local) {
            sfd->drops[SFD_DROP_PROTO]++;
            sf_sfd__job_free(job);
            return 0;
        }
        job->ranks[r].local = true;
        job->ranks[r].node = node;
        job->ranks[r].local_rank = (int)k;
        job->nlocal++;
    }
    job->argv = strv_dup(&m->f[5]);
    job->env = strv_dup(&m->f[6]);
    job->cwd = sf_wire_strdup(&m->f[7]);
    job->opts = strv_dup(&m->f[8]);
    if (job->argv == NULL || job->env == NULL || job->cwd == NULL || job->opts == NULL) {
        sf_sfd__job_fail(job, -1, 1, "sfd on host %s ran out of memory", sfd->host);
        sf_sfd__job_check_done(job);
        return 0;
    }
    int crc = sf_sfd__ckpt_part_init(job);
    if (crc == 0) {
        crc = sf_sfd__ckpt_apply_env(job);
    }
    if (crc != 0) {
        sf_sfd__job_fail(job, -1, 1, "sfd on host %s cannot set up checkpoints: %s", sfd->host,
                         sf_strerror(crc));
        sf_sfd__job_check_done(job);
        return 0;
    }
    sfd->jobs_run++;
    bind_opts(job, job->opts, sfd->ncores);
    SF_INFO("job %llu from %s: %d rank%s here", (unsigned long long)id, from->name, job->nlocal,
            job->nlocal == 1 ? "" : "s");
    start_local(job);
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

/* Coordinator: send one job frame (JOB_KILL / JOB_SIGNAL) to every other
 * node still running ranks. */
static void to_parts(struct sf_sfd_job *job, uint8_t op, int signo, const char *reason)
{
    if (!job->coord) {
        return;
    }
    for (int k = 0; k < job->nnodes; k++) {
        struct sf_sfd_jnode *jn = &job->nodes[k];
        if (jn->peer == NULL || jn->done) {
            continue;
        }
        struct sf_wire_enc e;
        sf_wire_enc_begin(&e, op, sf_sfd__peer_seq(jn->peer));
        sf_wire_put_u64(&e, job->id);
        sf_wire_put_i32(&e, signo);
        if (op == SF_OP_JOB_KILL) {
            sf_wire_put_str(&e, reason);
        }
        sf_sfd__peer_send(jn->peer, &e);
        sf_wire_enc_free(&e);
    }
}

void sf_sfd__job_kill_parts(struct sf_sfd_job *job, const char *reason)
{
    to_parts(job, SF_OP_JOB_KILL, SIGKILL, reason);
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
    to_parts(job, SF_OP_JOB_KILL, signo, reason);
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
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (sf_sfd__recover_on_failure(job, rank, text, sizeof(text))) {
        return; /* --ft=restart: the job goes on from its last checkpoint */
    }
    if (!job->coord) {
        /* A part reports to the coordinator, which judges the job; the
         * local teardown starts now rather than a round trip later. */
        if (job->coord_peer != NULL) {
            struct sf_wire_enc e;
            sf_wire_enc_begin(&e, SF_OP_JOB_FAIL, sf_sfd__peer_seq(job->coord_peer));
            sf_wire_put_u64(&e, job->id);
            sf_wire_put_i32(&e, rank);
            sf_wire_put_i32(&e, code);
            sf_wire_put_str(&e, text);
            sf_sfd__peer_send(job->coord_peer, &e);
            sf_wire_enc_free(&e);
        }
        if (job->state == SFD_JOB_RUNNING) {
            begin_teardown(job, SIGTERM, text);
        }
        return;
    }
    /* After the first failure only a lower rank failing in the same batch
     * (its exit was already pending) may take over the job's status. */
    bool take = job->state == SFD_JOB_RUNNING ||
                (job->end_signal == 0 && job->fail_rank >= 0 && rank >= 0 &&
                 rank < job->fail_rank);
    if (take) {
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
            to_parts(job, SF_OP_JOB_SIGNAL, signo, NULL);
        }
        break;
    default:
        signal_ranks(job, signo);
        to_parts(job, SF_OP_JOB_SIGNAL, signo, NULL);
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
    to_parts(job, SF_OP_JOB_KILL, SIGKILL, "job killed");
    if (job->state == SFD_JOB_RUNNING) {
        job->state = SFD_JOB_ENDING;
    }
}

void sf_sfd__job_respawn(struct sf_sfd_job *job)
{
    /* Fresh processes get a fresh shared segment and process group: the
     * old ones belonged to the ranks just stopped. */
    if (job->shm_fd >= 0) {
        close(job->shm_fd);
        job->shm_fd = -1;
    }
    job->pgid = 0;
    job->nlive = 0;
    job->state = SFD_JOB_RUNNING;
    sf_sfd__spawn_release(job); /* the old ranks' init went with them */
    bind_opts(job, job->opts, job->sfd->ncores); /* ranks may have moved here */
    for (int k = 0; k < job->nnodes; k++) {
        int rc;
        if (job->nodes[k].peer == NULL || job->nodes[k].done) {
            continue; /* this daemon, or a node lost or left without ranks */
        }
        if ((rc = send_spawn(job, k)) != 0) {
            sf_sfd__job_fail(job, -1, 1, "cannot ask node %s to restart its ranks: %s",
                             job->nodes[k].name, sf_strerror(rc));
            job->nodes[k].done = true;
        }
    }
    start_local(job);
}

/* Coordinator: tell the client how a rank ended. */
static void report_exit(struct sf_sfd_job *job, int rank, int status, const char *cause)
{
    if (job->client == NULL || sf_sfd__recover_busy(job)) {
        return; /* ranks stopped for a restart are not the job's exits */
    }
    struct sf_wire_enc e;
    sf_wire_enc_begin(&e, SF_OP_RANK_EXIT, job->client->seq++);
    sf_wire_put_i32(&e, rank);
    sf_wire_put_i32(&e, status);
    sf_wire_put_str(&e, cause);
    sf_sfd__client_send(job->client, &e);
    sf_wire_enc_free(&e);
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
    if (job->coord) {
        report_exit(job, r->rank, r->status, cause);
    } else if (job->coord_peer != NULL) {
        struct sf_wire_enc e;
        sf_wire_enc_begin(&e, SF_OP_JOB_RANK_EXIT, sf_sfd__peer_seq(job->coord_peer));
        sf_wire_put_u64(&e, job->id);
        sf_wire_put_i32(&e, r->rank);
        sf_wire_put_i32(&e, r->status);
        sf_wire_put_str(&e, cause);
        sf_wire_put_u8(&e, failed && !r->signalled);
        sf_sfd__peer_send(job->coord_peer, &e);
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
    for (int k = 0; job->coord && k < job->nnodes; k++) {
        if (job->nodes[k].peer != NULL && !job->nodes[k].done) {
            return; /* other nodes still run ranks */
        }
    }
    if (sf_sfd__recover_quiet(job)) {
        return; /* every rank stopped for --ft=restart and started again */
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
    struct sf_sfd *sfd = job->sfd;
    if (!job->coord) {
        if (job->coord_peer != NULL) {
            struct sf_wire_enc e;
            sf_wire_enc_begin(&e, SF_OP_JOB_PART_DONE, sf_sfd__peer_seq(job->coord_peer));
            sf_wire_put_u64(&e, job->id);
            sf_sfd__peer_send(job->coord_peer, &e);
            sf_wire_enc_free(&e);
        }
        SF_DBG("job %llu: our part is done", (unsigned long long)job->id);
        sf_sfd__job_free(job);
        return;
    }
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
    if (!sfd->listening) {
        /* Embedded mode: the daemon lives exactly as long as its job. */
        sf_loop_stop(sfd->loop);
        return;
    }
    if (c != NULL) {
        c->close_when_sent = true;
    }
    sf_sfd__job_free(job);
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
    sf_sfd__spawn_release(job);
    for (struct sf_sfd_job **pp = &job->sfd->jobs; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == job) {
            *pp = job->next;
            break;
        }
    }
    if (job->client != NULL && job->client->job == job) {
        job->client->job = NULL;
    }
    sf_sfd__ckpt_free(job);
    strv_free(job->argv);
    strv_free(job->env);
    strv_free(job->opts);
    free(job->nodes);
    free(job->cwd);
    free(job->message);
    free(job);
}

void sf_sfd__job_stdin(struct sf_sfd_job *job, const uint8_t *p, size_t len)
{
    struct sf_sfd_rank *r0 = &job->ranks[0];
    if (r0->local) {
        sf_sfd__io_stdin(job, p, len);
        return;
    }
    struct sf_sfd_jnode *jn = job->coord ? &job->nodes[r0->node] : NULL;
    if (jn == NULL || jn->peer == NULL || jn->done) {
        return;
    }
    struct sf_wire_enc e;
    sf_wire_enc_begin(&e, SF_OP_JOB_STDIN, sf_sfd__peer_seq(jn->peer));
    sf_wire_put_u64(&e, job->id);
    sf_wire_put_bytes(&e, p, len);
    sf_sfd__peer_send(jn->peer, &e);
    sf_wire_enc_free(&e);
}

void sf_sfd__job_stdin_ack(struct sf_sfd_job *job, uint64_t consumed)
{
    struct sf_wire_enc e;
    if (job->coord) {
        if (job->client == NULL) {
            return;
        }
        sf_wire_enc_begin(&e, SF_OP_STDIN_ACK, job->client->seq++);
        sf_wire_put_u64(&e, job->id);
        sf_wire_put_u64(&e, consumed);
        sf_sfd__client_send(job->client, &e);
    } else {
        if (job->coord_peer == NULL) {
            return;
        }
        sf_wire_enc_begin(&e, SF_OP_STDIN_ACK, sf_sfd__peer_seq(job->coord_peer));
        sf_wire_put_u64(&e, job->id);
        sf_wire_put_u64(&e, consumed);
        sf_sfd__peer_send(job->coord_peer, &e);
    }
    sf_wire_enc_free(&e);
}

/* The node index of a peer in a coordinated job, or -1. */
static int node_of(struct sf_sfd_job *job, struct sf_sfd_peer *p)
{
    for (int k = 0; job->coord && k < job->nnodes; k++) {
        if (job->nodes[k].peer == p) {
            return k;
        }
    }
    return -1;
}

int sf_sfd__job_peer_op(struct sf_sfd *sfd, struct sf_sfd_peer *from, const struct sf_wire_msg *m)
{
    if (m->op == SF_OP_SPAWN) {
        return on_spawn(sfd, from, m);
    }
    struct sf_sfd_job *job = sf_sfd__job_find(sfd, m->f[0].u);
    if (job == NULL) {
        return 0; /* a job that ended here already: late frames are normal */
    }
    bool from_coord = !job->coord && job->coord_peer == from;
    int node = node_of(job, from);
    switch (m->op) {
    case SF_OP_JOB_RANK_ADDR: {
        int rank = (int)m->f[1].i;
        if (node < 0 || rank < 0 || rank >= job->n || job->ranks[rank].node != node ||
            job->ranks[rank].addr != NULL || job->table_sent) {
            break;
        }
        struct sf_sfd_rank *r = &job->ranks[rank];
        r->addr = malloc(m->f[2].len > 0 ? m->f[2].len : 1);
        if (r->addr == NULL) {
            return -ENOMEM;
        }
        memcpy(r->addr, m->f[2].p, m->f[2].len);
        r->addr_len = m->f[2].len;
        if (++job->naddr == job->n && job->state == SFD_JOB_RUNNING) {
            sf_sfd__io_send_table(job);
        }
        return 0;
    }
    case SF_OP_JOB_TABLE:
        if (!from_coord) {
            break;
        }
        sf_sfd__io_table_from(job, m);
        return 0;
    case SF_OP_JOB_OUTPUT: {
        int rank = (int)m->f[1].i;
        if (node < 0 || rank < -1 || rank >= job->n) {
            break;
        }
        sf_sfd__io_output(job, rank, m->f[2].u == 2 ? 2 : 1, m->f[3].p, m->f[3].len);
        return 0;
    }
    case SF_OP_JOB_RANK_EXIT: {
        int rank = (int)m->f[1].i;
        if (node < 0 || rank < 0 || rank >= job->n || job->ranks[rank].node != node ||
            job->ranks[rank].exited) {
            break;
        }
        job->ranks[rank].exited = true;
        job->ranks[rank].status = (int)m->f[2].i;
        char *cause = sf_wire_strdup(&m->f[3]);
        report_exit(job, rank, (int)m->f[2].i, cause != NULL ? cause : "");
        free(cause);
        return 0;
    }
    case SF_OP_JOB_FAIL: {
        int rank = (int)m->f[1].i;
        if (node < 0 || rank < -1 || rank >= job->n) {
            break;
        }
        char *text = sf_wire_strdup(&m->f[3]);
        sf_sfd__job_fail(job, rank, (int)m->f[2].i, "%s", text != NULL ? text : "rank failed");
        free(text);
        return 0;
    }
    case SF_OP_JOB_KILL: {
        if (!from_coord) {
            break;
        }
        int signo = (int)m->f[1].i;
        if (signo == SIGKILL) {
            sf_sfd__job_kill_now(job);
        } else if (job->state == SFD_JOB_RUNNING) {
            char *text = sf_wire_strdup(&m->f[2]);
            begin_teardown(job, signo > 0 && signo < 65 ? signo : SIGTERM,
                           text != NULL ? text : "job ending");
            free(text);
        }
        sf_sfd__job_check_done(job);
        return 0;
    }
    case SF_OP_JOB_SIGNAL: {
        int signo = (int)m->f[1].i;
        if (!from_coord || signo <= 0 || signo >= 65) {
            break;
        }
        sf_sfd__job_signal(job, signo);
        return 0;
    }
    case SF_OP_JOB_STDIN:
        if (!from_coord) {
            break;
        }
        sf_sfd__io_stdin(job, m->f[1].p, m->f[1].len);
        return 0;
    case SF_OP_STDIN_ACK:
        /* From the node of rank 0, for the submitter. */
        if (node < 0 || node != job->ranks[0].node) {
            break;
        }
        sf_sfd__job_stdin_ack(job, m->f[1].u);
        return 0;
    case SF_OP_JOB_FLOW:
        if (!from_coord) {
            break;
        }
        job->remote_paused = m->f[1].u != 0;
        if (!job->remote_paused) {
            sf_sfd__io_resume(sfd);
        }
        return 0;
    case SF_OP_JOB_PART_DONE:
        if (node < 0 || job->nodes[node].done) {
            break;
        }
        job->nodes[node].done = true;
        sf_sfd__job_check_done(job);
        return 0;
    default:
        break;
    }
    sfd->drops[SFD_DROP_PROTO]++;
    SF_WARN_SPARSE("unexpected %s for job %llu from %s: dropped", sf_wire_schema(m->op)->name,
                   (unsigned long long)job->id, from->name);
    return 0;
}

void sf_sfd__job_peer_lost(struct sf_sfd *sfd, struct sf_sfd_peer *p, const char *why)
{
    struct sf_sfd_job *job = sfd->jobs, *next;
    for (; job != NULL; job = next) {
        next = job->next;
        if (!job->coord) {
            if (job->coord_peer == p) {
                /* Nobody left to report to: --ft=abort ends our part. */
                SF_INFO("job %llu: coordinator %s %s: killing our ranks",
                        (unsigned long long)job->id, p->name, why);
                job->coord_peer = NULL;
                sf_sfd__job_kill_now(job);
                sf_sfd__job_check_done(job);
            }
            continue;
        }
        int node = node_of(job, p);
        if (node < 0 || job->nodes[node].done) {
            continue;
        }
        job->nodes[node].done = true;
        job->nodes[node].lost = true;
        char ranks[256];
        size_t off = 0;
        int first = -1, count = 0;
        ranks[0] = '\0';
        for (int i = 0; i < job->n; i++) {
            struct sf_sfd_rank *r = &job->ranks[i];
            if (r->node != node || r->exited) {
                continue;
            }
            r->exited = true;
            r->status = 128 + SIGKILL;
            if (first < 0) {
                first = i;
            }
            count++;
            if (off + 16 < sizeof(ranks)) {
                off += (size_t)snprintf(ranks + off, sizeof(ranks) - off, "%s%d",
                                        off > 0 ? "," : "", i);
            } else if (off + 4 < sizeof(ranks) && ranks[off - 1] != '.') {
                off += (size_t)snprintf(ranks + off, sizeof(ranks) - off, "...");
            }
        }
        if (count > 0) {
            sf_sfd__job_fail(job, first, 1, "node %s %s: lost rank%s %s (--ft=abort)", p->name,
                             why, count == 1 ? "" : "s", ranks);
        }
        sf_sfd__job_check_done(job);
    }
}
