/* Starting ranks: the per-rank environment, pipes and control socket,
 * fork/exec with a death signal tied to sfd, one process group per job,
 * and core binding through hwloc. Does not watch the children (sfd_main.c
 * reaps them, sfd_job.c judges their exits). Loop thread only; the code
 * between fork and exec runs in the child of a single-threaded sfd. */
#include <errno.h>
#include <fcntl.h>
#include <hwloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
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
    setpgid(0, job->pgid);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    setpriority(PRIO_PROCESS, 0, job->sfd->rank_nice);
    if (getppid() != parent) {
        _exit(1); /* sfd died before the death signal was armed */
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
            hwloc_set_cpubind(topo, core->cpuset, HWLOC_CPUBIND_PROCESS);
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
    if (job->sfd->tun.stdout_pty) {
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

int sf_sfd__spawn_rank(struct sf_sfd_job *job, struct sf_sfd_rank *r)
{
    if (job->sfd->no_spawn) {
        return -EPERM;
    }
    int sv[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1}, in[2] = {-1, -1};
    int rc = 0;
    char **env = NULL;
    size_t first = 0;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0 ||
        stdout_channel(job, out) != 0 || pipe2(err, O_CLOEXEC) != 0 ||
        (r->rank == 0 && pipe2(in, O_CLOEXEC) != 0)) {
        rc = -errno;
        goto fail;
    }
    env = build_env(job, r->rank, sv[1], &first);
    if (env == NULL) {
        rc = -ENOMEM;
        goto fail;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        rc = -errno;
        goto fail;
    }
    if (pid == 0) {
        child_exec(job, r, env, in[0], out[1], err[1], sv[1], parent);
    }
    /* Both sides set the group so it is in place whichever runs first. */
    if (job->pgid == 0) {
        job->pgid = pid;
    }
    setpgid(pid, job->pgid);
    env_free(env, first);
    close(sv[1]);
    close(out[1]);
    close(err[1]);
    if (in[0] >= 0) {
        close(in[0]);
    }
    r->pid = pid;
    r->ctl_fd = sv[0];
    r->out_fd = out[0];
    r->err_fd = err[0];
    r->in_fd = in[1];
    int fds[] = {r->ctl_fd, r->out_fd, r->err_fd, r->in_fd};
    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
        if (fds[i] >= 0) {
            fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
        }
    }
    SF_DBG("rank %d: pid %d", r->rank, (int)pid);
    return 0;
fail:
    if (env != NULL) {
        env_free(env, first);
    }
    int all[] = {sv[0], sv[1], out[0], out[1], err[0], err[1], in[0], in[1]};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        if (all[i] >= 0) {
            close(all[i]);
        }
    }
    return rc;
}
