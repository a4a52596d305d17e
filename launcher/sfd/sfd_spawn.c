/* Starting ranks: the per-rank environment, pipes and control socket,
 * one PID namespace per job and node whose tiny init (a forked sfd that
 * never execs) is the parent of the node's ranks and reports their starts
 * and wait statuses back through a pipe, one process group per job, core
 * binding through hwloc. Judging exits is sfd_job.c's business. Loop
 * thread only; the code after fork runs in children of a single-threaded
 * sfd. */
#include <errno.h>
#include <fcntl.h>
#include <hwloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <pty.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "runtime/base/sf_env.h"
#include "runtime/base/sf_err.h"
#include "runtime/base/sf_log.h"
#include "launcher/sfd/sfd_int.h"

int sf_sfd__topo_init(struct sf_sfd *sfd)
{
    hwloc_topology_t topo;
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    sfd->ncores = online > 0 ? (int)online : 1;
    if (hwloc_topology_init(&topo) != 0) {
        SF_WARN("hwloc unavailable: assuming %d cores, no binding", sfd->ncores);
        return SF_ERR_CONFIG;
    }
    if (hwloc_topology_load(topo) != 0) {
        hwloc_topology_destroy(topo);
        SF_WARN("hwloc could not read the topology: assuming %d cores, no binding", sfd->ncores);
        return SF_ERR_CONFIG;
    }
    int n = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
    if (n <= 0) {
        n = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU);
    }
    if (n > 0) {
        sfd->ncores = n;
    }
    sfd->topo = topo;
    return 0;
}

void sf_sfd__topo_free(struct sf_sfd *sfd)
{
    if (sfd->topo != NULL) {
        hwloc_topology_destroy((hwloc_topology_t)sfd->topo);
        sfd->topo = NULL;
    }
}

/* Variables sfd sets; inherited copies are dropped so a nested sfrun or a
 * stale environment cannot confuse the rank. */
static const char *const owned_vars[] = {
    SF_ENV_JOB,
    SF_ENV_RANK,
    SF_ENV_SIZE,
    SF_ENV_LOCAL_RANK,
    SF_ENV_LOCAL_SIZE,
    SF_ENV_NODE,
    SF_ENV_SFD_FD,
    SF_ENV_SHM_FD,
    SF_ENV_OVERSUB,
    SF_ENV_HOST,
    "OMPI_COMM_WORLD_RANK",
    "OMPI_COMM_WORLD_SIZE",
    "OMPI_COMM_WORLD_LOCAL_RANK",
    "OMPI_COMM_WORLD_LOCAL_SIZE",
    "OMPI_COMM_WORLD_NODE_RANK",
    "PMI_RANK",
    "PMI_SIZE",
};
#define NOWNED (sizeof(owned_vars) / sizeof(owned_vars[0]))

/* Set for ranks unless the user chose otherwise. libfabric pulls in
 * libinfinipath/libpsm2, whose SIGSEGV/SIGBUS handlers print a backtrace
 * and exit(1): a crashing rank would then look like "exit 1" instead of
 * "killed by signal 11". */
static const char *const default_vars[] = {"IPATH_NO_BACKTRACE=1", "HFI_NO_BACKTRACE=1"};
#define NDEFAULTS (sizeof(default_vars) / sizeof(default_vars[0]))

static bool is_owned(const char *kv)
{
    for (size_t i = 0; i < NOWNED; i++) {
        size_t l = strlen(owned_vars[i]);
        if (strncmp(kv, owned_vars[i], l) == 0 && kv[l] == '=') {
            return true;
        }
    }
    return false;
}

/* Environment for one rank: the job's, minus owned_vars, plus ours.
 * Returns a malloc'd NULL-terminated vector whose extra strings are
 * malloc'd too (nfree of them at the end); free with env_free. */
static char **build_env(struct sf_sfd_job *job, int rank, int ctl_fd, size_t *nours)
{
    size_t n = 0;
    while (job->env[n] != NULL) {
        n++;
    }
    char **env = calloc(n + NOWNED + NDEFAULTS + 1, sizeof(char *));
    if (env == NULL) {
        return NULL;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_owned(job->env[i])) {
            env[k++] = job->env[i];
        }
    }
    size_t first = k;
    char buf[512];
#define ADD(...)                                                                                   \
    do {                                                                                           \
        snprintf(buf, sizeof(buf), __VA_ARGS__);                                                   \
        env[k] = strdup(buf);                                                                      \
        if (env[k] == NULL) {                                                                      \
            goto oom;                                                                              \
        }                                                                                          \
        k++;                                                                                       \
    } while (0)
    ADD("%s=%llu", SF_ENV_JOB, (unsigned long long)job->id);
    ADD("%s=%d", SF_ENV_RANK, rank);
    ADD("%s=%d", SF_ENV_SIZE, job->n);
    int lrank = job->ranks[rank].local_rank;
    ADD("%s=%d", SF_ENV_LOCAL_RANK, lrank);
    ADD("%s=%d", SF_ENV_LOCAL_SIZE, job->nlocal);
    ADD("%s=%d", SF_ENV_NODE, job->self_node);
    ADD("%s=%d", SF_ENV_SFD_FD, ctl_fd);
    if (job->shm_fd >= 0) {
        ADD("%s=%d", SF_ENV_SHM_FD, job->shm_fd);
    }
    ADD("%s=%d", SF_ENV_OVERSUB, job->oversubscribed ? 1 : 0);
    ADD("%s=%s", SF_ENV_HOST, job->sfd->host);
    ADD("OMPI_COMM_WORLD_RANK=%d", rank);
    ADD("OMPI_COMM_WORLD_SIZE=%d", job->n);
    ADD("OMPI_COMM_WORLD_LOCAL_RANK=%d", lrank);
    ADD("OMPI_COMM_WORLD_LOCAL_SIZE=%d", job->nlocal);
    ADD("OMPI_COMM_WORLD_NODE_RANK=%d", lrank);
    ADD("PMI_RANK=%d", rank);
    ADD("PMI_SIZE=%d", job->n);
    for (size_t i = 0; i < NDEFAULTS; i++) {
        size_t l = strchr(default_vars[i], '=') - default_vars[i] + 1;
        bool set = false;
        for (size_t j = 0; j < n && !set; j++) {
            set = strncmp(job->env[j], default_vars[i], l) == 0;
        }
        if (!set) {
            ADD("%s", default_vars[i]);
        }
    }
#undef ADD
    env[k] = NULL;
    *nours = first;
    return env;
oom:
    for (size_t i = first; i < k; i++) {
        free(env[i]);
    }
    free(env);
    return NULL;
}

static void env_free(char **env, size_t first)
{
    for (size_t i = first; env[i] != NULL; i++) {
        free(env[i]);
    }
    free(env);
}

static const char *env_get(char **env, const char *key)
{
    size_t l = strlen(key);
    for (char **p = env; *p != NULL; p++) {
        if (strncmp(*p, key, l) == 0 && (*p)[l] == '=') {
            return *p + l + 1;
        }
    }
    return NULL;
}

/* Child side after fork: never returns. Uses only what is safe in the
 * child of a single-threaded process. */
static void __attribute__((noreturn))
child_exec(struct sf_sfd_job *job, struct sf_sfd_rank *r, char **env, int in_rd, int out_wr,
           int err_wr, int ctl_child, pid_t parent)
{
    /* The process group is the init's (inherited): a group id from sfd's
     * namespace would mean nothing inside the job's. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    setpriority(PRIO_PROCESS, 0, job->sfd->rank_nice);
    if (getppid() != parent) {
        _exit(1); /* the init died before the death signal was armed */
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL); /* sfd blocks these for its signalfd */
    /* Ignored signals survive exec: a rank must not inherit SIGPIPE ignored
     * from sfd, nor SIGINT/SIGQUIT ignored from a shell that started sfrun
     * in the background (its traps would then be no-ops). */
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig != SIGKILL && sig != SIGSTOP) {
            signal(sig, SIG_DFL);
        }
    }
    int in = in_rd;
    if (in < 0) {
        in = open("/dev/null", O_RDONLY);
    }
    if (in < 0 || dup2(in, 0) < 0 || dup2(out_wr, 1) < 0 || dup2(err_wr, 2) < 0) {
        _exit(126);
    }
    /* Nothing sfd inherited from whoever started it reaches the rank (a
     * descriptor CRIU could not hand back at a restore, among others):
     * every descriptor but stdio, the control socket and the segment
     * closes at exec. */
    syscall(SYS_close_range, 3u, ~0u, 4u /* CLOSE_RANGE_CLOEXEC */);
    fcntl(ctl_child, F_SETFD, 0);
    if (job->shm_fd >= 0) {
        fcntl(job->shm_fd, F_SETFD, 0);
    }
    if (job->bind_core) {
        hwloc_topology_t topo = (hwloc_topology_t)job->sfd->topo;
        hwloc_obj_t core =
            hwloc_get_obj_by_type(topo, HWLOC_OBJ_CORE, (unsigned)(r->local_rank % job->sfd->ncores));
        if (core == NULL) {
            core =
                hwloc_get_obj_by_type(topo, HWLOC_OBJ_PU, (unsigned)(r->local_rank % job->sfd->ncores));
        }
        if (core != NULL) {
            /* THREAD, not PROCESS: hwloc would look the process up by its
             * pid in /proc, and our pid names another process there (we
             * are in the job's PID namespace, /proc is sfd's). Before exec
             * the thread is the process; the binding survives exec. */
            hwloc_set_cpubind(topo, core->cpuset, HWLOC_CPUBIND_THREAD);
        }
    }
    const char *prog = job->argv[0];
    if (chdir(job->cwd) != 0) {
        dprintf(2, "sfrun: rank %d: cannot change to directory '%s': %s\n", r->rank, job->cwd,
                strerror(errno));
        _exit(126);
    }
    int err = ENOENT;
    if (strchr(prog, '/') != NULL) {
        execve(prog, job->argv, env);
        err = errno;
    } else {
        const char *path = env_get(env, "PATH");
        if (path == NULL) {
            path = "/usr/local/bin:/usr/bin:/bin";
        }
        bool eacces = false;
        char buf[4096];
        while (*path != '\0') {
            const char *end = strchrnul(path, ':');
            size_t dl = (size_t)(end - path);
            if (dl == 0) {
                dl = 1;
                path = ".";
            }
            if (dl + strlen(prog) + 2 <= sizeof(buf)) {
                memcpy(buf, path, dl);
                buf[dl] = '/';
                strcpy(buf + dl + 1, prog);
                execve(buf, job->argv, env);
                if (errno == EACCES) {
                    eacces = true;
                } else if (errno != ENOENT && errno != ENOTDIR) {
                    err = errno;
                    break;
                }
            }
            path = *end == ':' ? end + 1 : end;
        }
        if (err == ENOENT && eacces) {
            err = EACCES;
        }
    }
    dprintf(2, "sfrun: rank %d: cannot execute '%s': %s\n", r->rank, prog, strerror(err));
    _exit(err == ENOENT ? 127 : 126);
}

/* The rank's stdout: a pseudo-terminal in raw mode by default, so C stdio
 * in the rank line-buffers (as under Open MPI, whose ranks also see a tty)
 * and output shows up before the rank exits; a pipe when the tunable says
 * so or no pty is available. out[0] is our end, out[1] the rank's. */
static int stdout_channel(struct sf_sfd_job *job, int out[2])
{
    return sf_sfd__spawn_stdout(job, out, job->sfd->tun.stdout_pty);
}

int sf_sfd__spawn_stdout(struct sf_sfd_job *job, int out[2], bool pty)
{
    (void)job;
    if (pty) {
        int m, sl;
        if (openpty(&m, &sl, NULL, NULL, NULL) == 0) {
            struct termios t;
            if (tcgetattr(sl, &t) == 0) {
                cfmakeraw(&t); /* no \n -> \r\n, no echo: bytes pass unchanged */
                tcsetattr(sl, TCSANOW, &t);
            }
            fcntl(m, F_SETFD, FD_CLOEXEC);
            fcntl(sl, F_SETFD, FD_CLOEXEC);
            out[0] = m;
            out[1] = sl;
            return 0;
        }
        SF_WARN_ONCE("no pseudo-terminal for rank stdout (%s): using pipes", strerror(errno));
    }
    return pipe2(out, O_CLOEXEC);
}

/* One rank's channels while the part starts: [0] is sfd's end, [1] the
 * rank's (stdin the other way round: in[0] the rank's). */
struct spawn_chan {
    int sv[2], out[2], err[2], in[2];
    char **env;
    size_t first;
};

static void chan_close_child(struct spawn_chan *c)
{
    int fds[] = {c->sv[1], c->out[1], c->err[1], c->in[0]};
    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
        if (fds[i] >= 0) {
            close(fds[i]);
        }
    }
    c->sv[1] = c->out[1] = c->err[1] = c->in[0] = -1;
}

static void chan_free(struct spawn_chan *c)
{
    chan_close_child(c);
    int fds[] = {c->sv[0], c->out[0], c->err[0], c->in[1]};
    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
        if (fds[i] >= 0) {
            close(fds[i]);
        }
    }
    if (c->env != NULL) {
        env_free(c->env, c->first);
    }
}

static int chan_open(struct sf_sfd_job *job, struct sf_sfd_rank *r, struct spawn_chan *c)
{
    c->sv[0] = c->sv[1] = c->out[0] = c->out[1] = c->err[0] = c->err[1] = c->in[0] = c->in[1] = -1;
    c->env = NULL;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, c->sv) != 0 ||
        stdout_channel(job, c->out) != 0 || pipe2(c->err, O_CLOEXEC) != 0 ||
        (r->rank == 0 && pipe2(c->in, O_CLOEXEC) != 0)) {
        return -errno;
    }
    c->env = build_env(job, r->rank, c->sv[1], &c->first);
    return c->env != NULL ? 0 : -ENOMEM;
}

/* Record the init and the ranks' first children write into the status
 * pipe: 16 bytes in host order (one writer per record, <= PIPE_BUF, so
 * records never interleave). */
enum { REC_START = 1, REC_EXIT = 2, REC_FAIL = 3 };
struct spawn_rec {
    int32_t kind;
    int32_t rank;
    int32_t value; /* START: pid in sfd's namespace; EXIT: wait status; FAIL: errno */
    int32_t nspid; /* START: pid inside the job's namespace */
};

static void rec_write(int fd, int kind, int rank, int value, int nspid)
{
    struct spawn_rec rec = {kind, rank, value, nspid};
    ssize_t n;
    do {
        n = write(fd, &rec, sizeof(rec));
    } while (n < 0 && errno == EINTR);
}

/* Our pid as sfd sees it: /proc is the one mounted for sfd's namespace. */
static int outer_pid(void)
{
    char buf[32];
    ssize_t n = readlink("/proc/self", buf, sizeof(buf) - 1);
    if (n <= 0) {
        return -1;
    }
    buf[n] = '\0';
    return atoi(buf);
}

/* The part's init: pid 1 of the job's PID namespace on this node (when the
 * kernel lets us make one). It forks the ranks, then only reaps: every
 * rank's wait status goes to sfd as an EXIT record; orphans are reaped
 * silently. It ignores every catchable signal (a namespace init does
 * anyway), so the job's group signals reach the ranks alone, and exits
 * once all its ranks are reported: the namespace, and whatever the ranks
 * left running in it, goes with it. Never returns. */
static void __attribute__((noreturn))
init_main(struct sf_sfd_job *job, struct spawn_chan *chans, int st, pid_t sfd_pid)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    prctl(PR_SET_NAME, "sfd-init"); /* in ps, and not taken for sfd itself */
    if (getpid() != 1 && getppid() != sfd_pid) {
        _exit(1); /* sfd died before the death signal was armed */
    }
    /* Its own session (and group): CRIU dumps a PID namespace only when
     * the sessions inside it lead from inside. */
    setsid();
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig != SIGKILL && sig != SIGSTOP && sig != SIGCHLD) {
            signal(sig, SIG_IGN);
        }
    }
    signal(SIGCHLD, SIG_DFL);
    pid_t me = getpid();
    pid_t *kids = calloc((size_t)job->n, sizeof(pid_t));
    int left = 0;
    for (int i = 0; i < job->n; i++) {
        struct sf_sfd_rank *r = &job->ranks[i];
        if (!r->local || kids == NULL) {
            continue;
        }
        struct spawn_chan *c = &chans[i];
        pid_t pid = fork();
        if (pid == 0) {
            rec_write(st, REC_START, r->rank, outer_pid(), (int)getpid());
            child_exec(job, r, c->env, c->in[0], c->out[1], c->err[1], c->sv[1], me);
        }
        if (pid < 0) {
            rec_write(st, REC_FAIL, r->rank, errno, 0);
            break;
        }
        kids[i] = pid;
        left++;
    }
    /* Keep only the status pipe (fd 0 from here on): sfd's sockets, the
     * ranks' channels and sfd's epoll must not live on in the init. */
    if (st != 0) {
        dup2(st, 0);
    }
    syscall(SYS_close_range, 1u, ~0u, 0u);
    while (left > 0) {
        int ws;
        pid_t pid = waitpid(-1, &ws, 0);
        if (pid < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        for (int i = 0; i < job->n; i++) {
            if (kids[i] == pid) {
                rec_write(0, REC_EXIT, i, ws, 0);
                kids[i] = 0;
                left--;
                break;
            }
        }
    }
    _exit(0);
}

/* sfd's side of the part's init (job->init). */
struct sf_sfd_init {
    int fd;      /* status pipe, read end; -1 at EOF */
    pid_t pid;   /* the init, as sfd sees it */
    size_t have; /* bytes of a partial record in buf */
    struct sf_timer *judge; /* exits seen while starting, judged once started */
    uint8_t buf[sizeof(struct spawn_rec)];
};

static void init_close(struct sf_sfd_job *job)
{
    struct sf_sfd_init *in = job->init;
    if (in != NULL && in->fd >= 0) {
        sf_loop_del_fd(job->sfd->loop, in->fd);
        close(in->fd);
        in->fd = -1;
    }
}

static void init_free(struct sf_sfd_job *job)
{
    init_close(job);
    if (job->init != NULL && job->init->judge != NULL) {
        sf_loop_timer_cancel(job->sfd->loop, job->init->judge);
    }
    free(job->init);
    job->init = NULL;
}

void sf_sfd__spawn_release(struct sf_sfd_job *job)
{
    sf_sfd__ckpt_criu_release(job);
    init_free(job);
}

static void rec_apply(struct sf_sfd_job *job, const struct spawn_rec *rec)
{
    if (rec->rank < 0 || rec->rank >= job->n || !job->ranks[rec->rank].local) {
        return;
    }
    struct sf_sfd_rank *r = &job->ranks[rec->rank];
    switch (rec->kind) {
    case REC_START:
        r->pid = rec->value;
        r->ns_pid = rec->nspid;
        break;
    case REC_EXIT:
        if (!r->exited && !r->reaped) {
            r->reaped = true;
            r->wstatus = rec->value;
        }
        break;
    default:
        break;
    }
}

/* Read whatever records wait; false at EOF or a read error. */
static bool init_read(struct sf_sfd_job *job)
{
    struct sf_sfd_init *in = job->init;
    for (;;) {
        ssize_t n = read(in->fd, in->buf + in->have, sizeof(in->buf) - in->have);
        if (n > 0) {
            in->have += (size_t)n;
            if (in->have == sizeof(in->buf)) {
                struct spawn_rec rec;
                memcpy(&rec, in->buf, sizeof(rec));
                in->have = 0;
                rec_apply(job, &rec);
            }
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        return n < 0 && errno == EAGAIN;
    }
}

/* The init reported exits (or is gone): judge the reaped ranks in rank
 * order, as sfd_main.c does for its own children. A rank the init could
 * not report (the init was killed, which kills its namespace) died by
 * SIGKILL. */
static void judge(struct sf_sfd_job *job)
{
    bool any = false;
    for (int i = 0; i < job->n; i++) {
        struct sf_sfd_rank *r = &job->ranks[i];
        if (r->reaped) {
            r->reaped = false;
            any = true;
            sf_sfd__ckpt_criu_rank_gone(job, r->rank);
            sf_sfd__job_rank_exited(job, r, r->wstatus);
        }
    }
    if (any) {
        sf_sfd__job_check_done(job); /* may free the job */
    }
}

static void on_judge(struct sf_loop *loop, void *arg)
{
    struct sf_sfd_job *job = arg;
    job->init->judge = NULL;
    judge(job);
}

static void on_init(struct sf_loop *loop, int fd, int events, void *arg)
{
    struct sf_sfd_job *job = arg;
    if (sf_sfd__ckpt_criu_replacing(job)) {
        /* A restore killed this part: its exits are no failures. */
        if (!init_read(job)) {
            init_close(job);
            waitpid(job->init->pid, NULL, WNOHANG | __WALL);
            for (int i = 0; i < job->n; i++) {
                job->ranks[i].reaped = false;
            }
            sf_sfd__ckpt_criu_part_gone(job);
        }
        return;
    }
    if (!init_read(job)) {
        init_close(job);
        /* A restored init has no exit signal (it is criu's sibling): reap
         * it here; sfd_main reaps the others. */
        waitpid(job->init->pid, NULL, WNOHANG | __WALL);
        for (int i = 0; i < job->n; i++) {
            struct sf_sfd_rank *r = &job->ranks[i];
            if (r->local && !r->exited && !r->reaped && r->pid > 0) {
                r->reaped = true;
                r->wstatus = SIGKILL; /* as waitpid encodes "killed by 9" */
            }
        }
    }
    judge(job);
}

int sf_sfd__spawn_watch_init(struct sf_sfd_job *job, int fd, pid_t pid)
{
    struct sf_sfd_init *in = calloc(1, sizeof(*in));
    if (in == NULL) {
        return -ENOMEM;
    }
    init_free(job); /* a restore replaces the init */
    in->fd = fd;
    in->pid = pid;
    job->init = in;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return sf_loop_add_fd(job->sfd->loop, fd, SF_LOOP_IN, on_init, job);
}

pid_t sf_sfd__spawn_init_pid(const struct sf_sfd_job *job)
{
    return job->init != NULL ? job->init->pid : 0;
}

/* Start all of this node's ranks of the job under a new init. */
static int spawn_part(struct sf_sfd_job *job)
{
    struct spawn_chan *chans = calloc((size_t)job->n, sizeof(*chans));
    int st[2] = {-1, -1};
    int rc = 0;
    if (chans == NULL) {
        return -ENOMEM;
    }
    for (int i = 0; i < job->n; i++) {
        chans[i].sv[0] = chans[i].sv[1] = chans[i].out[0] = chans[i].out[1] = -1;
        chans[i].err[0] = chans[i].err[1] = chans[i].in[0] = chans[i].in[1] = -1;
    }
    for (int i = 0; i < job->n && rc == 0; i++) {
        if (job->ranks[i].local) {
            rc = chan_open(job, &job->ranks[i], &chans[i]);
        }
    }
    if (rc == 0 && pipe2(st, O_CLOEXEC) != 0) {
        rc = -errno;
    }
    if (rc != 0) {
        goto out;
    }
    pid_t parent = getpid();
    /* A raw clone: glibc's clone() wants a stack; without CLONE_VM the
     * child runs on a copy of ours, as after fork(). */
    pid_t pid = (pid_t)syscall(SYS_clone, (unsigned long)(CLONE_NEWPID | SIGCHLD), NULL, NULL,
                               NULL, NULL);
    if (pid < 0 && (errno == EPERM || errno == EINVAL || errno == ENOSPC || errno == EUSERS)) {
        SF_WARN_ONCE("no PID namespace for ranks (%s): they run in sfd's; CRIU checkpoints "
                     "need the namespace",
                     strerror(errno));
        pid = fork();
    }
    if (pid < 0) {
        rc = -errno;
        goto out;
    }
    if (pid == 0) {
        close(st[0]);
        init_main(job, chans, st[1], parent);
    }
    close(st[1]);
    st[1] = -1;
    job->pgid = pid; /* the init makes itself a session and group leader */
    for (int i = 0; i < job->n; i++) {
        struct sf_sfd_rank *r = &job->ranks[i];
        if (!r->local) {
            continue;
        }
        struct spawn_chan *c = &chans[i];
        chan_close_child(c);
        r->ctl_fd = c->sv[0];
        r->out_fd = c->out[0];
        r->err_fd = c->err[0];
        r->in_fd = c->in[1];
        c->sv[0] = c->out[0] = c->err[0] = c->in[1] = -1;
        int fds[] = {r->ctl_fd, r->out_fd, r->err_fd, r->in_fd};
        for (size_t k = 0; k < sizeof(fds) / sizeof(fds[0]); k++) {
            if (fds[k] >= 0) {
                fcntl(fds[k], F_SETFL, fcntl(fds[k], F_GETFL) | O_NONBLOCK);
            }
        }
    }
    /* Wait for every rank's START (its pid as we see it) so the caller can
     * signal it at once; an early EXIT waits in r->reaped for on_init. */
    int started = 0, failed = 0;
    while (started + failed < job->nlocal) {
        struct spawn_rec rec;
        size_t got = 0;
        while (got < sizeof(rec)) {
            ssize_t n = read(st[0], (uint8_t *)&rec + got, sizeof(rec) - got);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                break;
            }
            got += (size_t)n;
        }
        if (got < sizeof(rec)) {
            rc = -ECHILD; /* the init died */
            break;
        }
        rec_apply(job, &rec);
        if (rec.kind == REC_START) {
            started++;
        } else if (rec.kind == REC_FAIL) {
            failed++;
            if (rc == 0) {
                rc = -rec.value;
            }
        }
    }
    int wrc = sf_sfd__spawn_watch_init(job, st[0], pid);
    st[0] = -1;
    if (rc == 0) {
        rc = wrc;
    }
    /* A rank that already exited is judged once the caller has counted
     * all of them as started. */
    for (int i = 0; rc == 0 && i < job->n; i++) {
        if (job->ranks[i].reaped && job->init->judge == NULL) {
            sf_loop_timer(job->sfd->loop, 0, on_judge, job, &job->init->judge);
        }
    }
    SF_DBG("job %llu: init %d started %d ranks", (unsigned long long)job->id, (int)pid, started);
out:
    for (int i = 0; i < job->n; i++) {
        if (job->ranks[i].local) {
            chan_free(&chans[i]);
        }
    }
    free(chans);
    if (st[0] >= 0) {
        close(st[0]);
    }
    if (st[1] >= 0) {
        close(st[1]);
    }
    return rc;
}

/* The first call for a job starts all of its local ranks (under one init,
 * so they share a PID namespace: the shared-memory transport's single-copy
 * reads need each other's pids); later calls find their rank running. */
int sf_sfd__spawn_rank(struct sf_sfd_job *job, struct sf_sfd_rank *r)
{
    if (job->sfd->no_spawn) {
        return -EPERM;
    }
    if (job->init == NULL) {
        int rc = spawn_part(job);
        if (rc != 0) {
            return rc;
        }
    }
    return r->pid > 0 || r->reaped ? 0 : -ESRCH;
}
