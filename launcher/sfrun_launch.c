/* Daemons started for one job: a hub sfd here (the one sfrun submits to)
 * and one sfd per remote host, over a launch agent (`ssh HOST cmd`, as
 * Open MPI's rsh launcher) or inside a Slurm allocation by one srun step
 * over every allocated node. Does not place or run the job (the hub does),
 * nor join a cluster that is already up. Single-threaded (sfrun's thread).
 *
 * Every daemon, the hub too, runs under a small sh watchdog (daemon_script)
 * that reads the job's key from its stdin, starts sfd with a private state
 * dir (JOBDIR/r-NAME, the same JOBDIR path on every host), the others
 * joining the hub, says "sfd-up NAME" on stdout, and when its stdin ends
 * (sfrun closed it, or died, or ssh/srun lost it) stops sfd and removes
 * the state dir. So no daemon or key outlives the job, even after kill -9
 * of sfrun. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "launcher/sfrun_int.h"
#include "runtime/base/sf_err.h"

#define HUB_NAME "sfrun-hub" /* the hub's node name when it runs no ranks */
#define LAUNCH_MAX_AGENTS 1024

/* One agent process: ssh (one per host) or srun (one for all nodes). */
struct agent {
    pid_t pid;      /* 0 once reaped */
    int in_fd;      /* its stdin (key, then held open), -1 when closed */
    int out_fd;     /* its stdout ("sfd-up NAME" lines), -1 at EOF */
    char what[300]; /* "host NAME" or "srun" for messages */
    int expect;     /* daemons it starts */
    int up;         /* "sfd-up" lines seen */
    char line[512];
    size_t llen;
};

struct sfrun_launch {
    char dir[PATH_MAX];  /* JOBDIR (made here by mkdtemp), "" if none */
    char sock[PATH_MAX]; /* the hub's Unix socket */
    uint8_t key[SF_KEY_LEN];
    struct agent *ag; /* [0] is the hub's watchdog */
    size_t nag;
    int ndaemons; /* daemons started, the hub included */
};

static bool in_slurm(void)
{
    const char *id = getenv("SLURM_JOB_ID");
    const char *nl = getenv("SLURM_JOB_NODELIST");
    return id != NULL && id[0] != '\0' && nl != NULL && nl[0] != '\0';
}

/* This machine by name: localhost, a loopback address, or our host name
 * (short or full). */
static bool is_local_host(const char *h)
{
    char self[256] = "";
    if (strcmp(h, "localhost") == 0 || strncmp(h, "127.", 4) == 0 || strcmp(h, "::1") == 0) {
        return true;
    }
    if (gethostname(self, sizeof(self) - 1) != 0) {
        return false;
    }
    size_t sl = strcspn(self, ".");
    size_t hl = strcspn(h, ".");
    return strcmp(h, self) == 0 ||
           (strchr(h, '.') == NULL && hl == sl && strncmp(h, self, sl) == 0);
}

bool sfrun_launch_wanted(const struct sf_hostlist *hosts)
{
    if (hosts->n == 0) {
        struct sfrun_launch_tun t;
        return in_slurm() && sfrun_launch_tun_load(&t) == 0 && !t.no_slurm;
    }
    for (size_t i = 0; i < hosts->n; i++) {
        if (!is_local_host(hosts->v[i].name)) {
            return true;
        }
    }
    return false;
}

/* ---- strings ---------------------------------------------------------- */

/* Growable string; on ENOMEM it stays NULL and every append is a no-op. */
struct str {
    char *p;
    size_t len, cap;
    bool oom;
};

static void s_add(struct str *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void s_add(struct str *s, const char *fmt, ...)
{
    if (s->oom) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || s->len + (size_t)n + 1 > s->cap) {
        size_t nc = (s->len + (size_t)(n < 0 ? 0 : n) + 1) * 2 + 64;
        char *np = realloc(s->p, nc);
        if (n < 0 || np == NULL) {
            free(s->p);
            s->p = NULL;
            s->oom = true;
            return;
        }
        s->p = np;
        s->cap = nc;
    }
    va_start(ap, fmt);
    vsnprintf(s->p + s->len, s->cap - s->len, fmt, ap);
    va_end(ap);
    s->len += (size_t)n;
}

/* Append v as one single-quoted sh word. */
static void s_quote(struct str *s, const char *v)
{
    s_add(s, "'");
    for (const char *c = v; *c; c++) {
        if (*c == '\'') {
            s_add(s, "'\\''");
        } else {
            s_add(s, "%c", *c);
        }
    }
    s_add(s, "'");
}

/* The watchdog each daemon runs under (POSIX sh; see the file's header).
 * name_expr is a quoted literal (agent) or "$SLURMD_NODENAME" (srun: the
 * same script on every node); hub NULL: the hub itself (joins nobody).
 * The sfd.addr wait is bounded (30 s) and stops early when sfd dies. */
static char *daemon_script(const char *name_expr, const char *jobdir, const char *sfd,
                           const char *hub)
{
    /* One line: a csh or fish login shell hands it to sh unharmed. */
    struct str s = {0};
    s_add(&s, "umask 077; n=%s; d=", name_expr);
    s_quote(&s, jobdir);
    s_add(&s,
          "/r-$n; mkdir -p \"$d\" || exit 1; "
          "head -c %d >\"$d/cluster.key\" || exit 1; "
          "exec 3<&0 0</dev/null; ",
          SF_KEY_LEN);
    s_quote(&s, sfd);
    s_add(&s,
          " --listen --state-dir \"$d\" --port 0 --name \"$n\" --cluster-key \"$d/cluster.key\"");
    if (hub != NULL) {
        s_add(&s, " --join ");
        s_quote(&s, hub);
    }
    s_add(&s, " --no-autodiscover >\"$d/sfd.log\" 2>&1 & "
              "p=$!; "
              "trap 'kill -TERM $p 2>/dev/null' TERM INT HUP; "
              "{ cat >/dev/null; kill -TERM $p 2>/dev/null; } <&3 & "
              "w=$!; exec 3<&-; i=0; "
              "while [ ! -s \"$d/sfd.addr\" ] && kill -0 $p 2>/dev/null && [ $i -lt 600 ]; do "
              "sleep 0.05; i=$((i+1)); done; "
              "if [ -s \"$d/sfd.addr\" ]; then echo \"sfd-up $n\"; else "
              "echo \"sfd-failed $n $(tail -n 1 \"$d/sfd.log\" 2>/dev/null)\"; "
              "kill -TERM $p 2>/dev/null; fi; "
              "{ wait $p; wait $p; } 2>/dev/null; kill $w 2>/dev/null; rm -rf \"$d\"; rmdir "
              "\"${d%%/*}\" 2>/dev/null; exit 0");
    return s.p;
}

/* ---- where the hub is reachable ---------------------------------------- */

/* The local address the kernel would use towards host (a UDP connect sends
 * nothing). 0 and buf set, or -1. */
static int source_addr_to(const char *host, char *buf, size_t len)
{
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_DGRAM}, *res = NULL;
    if (getaddrinfo(host, "9", &hints, &res) != 0 || res == NULL) {
        return -1;
    }
    int rc = -1;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &sl) == 0 &&
        inet_ntop(AF_INET, &sa.sin_addr, buf, (socklen_t)len) != NULL) {
        rc = 0;
    }
    if (fd >= 0) {
        close(fd);
    }
    freeaddrinfo(res);
    return rc;
}

/* SF_LAUNCH_ADDR, else our address towards the first remote host that
 * resolves here, else loopback (every daemon is on this machine). */
static void hub_ip(const char *e, char **names, size_t n, char *buf, size_t len)
{
    if (e != NULL && e[0] != '\0') {
        snprintf(buf, len, "%s", e);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (source_addr_to(names[i], buf, len) == 0) {
            return;
        }
    }
    snprintf(buf, len, "127.0.0.1");
}

/* ---- Slurm ------------------------------------------------------------ */

/* Node names of the allocation, one per line from `scontrol show hostnames`
 * (which expands node[1-3,5]); a list without brackets is taken as is. The
 * names are checked like --host names: they end up in shell words. */
static int slurm_node_names(struct sf_hostlist *hl, char *err, size_t errlen)
{
    const char *nl = getenv("SLURM_JOB_NODELIST");
    if (strchr(nl, '[') == NULL) {
        char e2[512];
        int rc = sf_hosts_parse_list(hl, nl, e2, sizeof(e2));
        return rc == 0 ? 0 : sf_errf(err, errlen, rc, "SLURM_JOB_NODELIST: %s", e2);
    }
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0) {
        return sf_errf(err, errlen, -errno, "pipe: %s", strerror(errno));
    }
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pfd[1], 1);
        execlp("scontrol", "scontrol", "show", "hostnames", nl, (char *)NULL);
        dprintf(2, "sfrun: cannot run scontrol: %s\n", strerror(errno));
        _exit(127);
    }
    close(pfd[1]);
    char buf[65536];
    size_t len = 0;
    ssize_t r;
    while (
        pid > 0 && len < sizeof(buf) - 1 &&
        ((r = read(pfd[0], buf + len, sizeof(buf) - 1 - len)) > 0 || (r < 0 && errno == EINTR))) {
        len += r > 0 ? (size_t)r : 0;
    }
    close(pfd[0]);
    buf[len] = '\0';
    int ws = 0;
    while (pid > 0 && waitpid(pid, &ws, 0) < 0 && errno == EINTR) {
    }
    if (pid < 0 || !WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
        return sf_errf(err, errlen, -EIO, "`scontrol show hostnames %s` failed", nl);
    }
    char *save = NULL;
    for (char *ln = strtok_r(buf, "\n", &save); ln != NULL; ln = strtok_r(NULL, "\n", &save)) {
        char e2[512];
        int rc = sf_hosts_parse_list(hl, ln, e2, sizeof(e2));
        if (rc != 0) {
            return sf_errf(err, errlen, rc, "scontrol show hostnames: %s", e2);
        }
    }
    return hl->n > 0 ? 0 : sf_errf(err, errlen, -ENOENT, "no nodes in SLURM_JOB_NODELIST=%s", nl);
}

/* The allocation's nodes, each with as many slots as Slurm gave it tasks
 * (SLURM_TASKS_PER_NODE), as mpirun does; without that, the cores the
 * daemons publish. */
static int slurm_nodes(struct sf_hostlist *hl, char *err, size_t errlen)
{
    int rc = slurm_node_names(hl, err, errlen);
    const char *tpn = getenv("SLURM_TASKS_PER_NODE");
    if (rc == 0 && tpn != NULL && tpn[0] != '\0') {
        char e2[256];
        int r2 = sf_hosts_slurm_tasks(hl, tpn, e2, sizeof(e2));
        if (r2 == -ENOMEM) {
            return sf_errf(err, errlen, r2, "out of memory");
        }
        if (r2 != 0) {
            fprintf(stderr,
                    "sfrun: warning: SLURM_TASKS_PER_NODE: %s; slots are the nodes' cores\n", e2);
        }
    }
    return rc;
}

/* ---- agents ------------------------------------------------------------ */

/* fork/exec argv with stdin and stdout on pipes, in its own process group
 * (a terminal's Ctrl-C reaches sfrun, which stops the job first), with
 * sfrun's blocked signals unblocked. */
static int spawn_agent(struct agent *a, char *const *argv)
{
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) != 0) {
        return -errno;
    }
    if (pipe2(out, O_CLOEXEC) != 0) {
        int e = -errno;
        close(in[0]);
        close(in[1]);
        return e;
    }
    pid_t pid = fork();
    if (pid < 0) {
        int e = -errno;
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        return e;
    }
    if (pid == 0) {
        setpgid(0, 0);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        dup2(in[0], 0);
        dup2(out[1], 1);
        execvp(argv[0], argv);
        dprintf(2, "sfrun: cannot run launch agent %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    setpgid(pid, pid); /* also here: no race with a signal to the group */
    close(in[0]);
    close(out[1]);
    a->pid = pid;
    a->in_fd = in[1];
    a->out_fd = out[0];
    fcntl(a->out_fd, F_SETFL, fcntl(a->out_fd, F_GETFL) | O_NONBLOCK);
    return 0;
}

/* Give the watchdog(s) the key: a pipe holds far more than 32 bytes, so
 * this does not block. */
static int send_key(struct agent *a, const uint8_t *key)
{
    ssize_t n;
    do {
        n = write(a->in_fd, key, SF_KEY_LEN);
    } while (n < 0 && errno == EINTR);
    return n == SF_KEY_LEN ? 0 : (n < 0 ? -errno : -EIO);
}

/* Lines from an agent: "sfd-up NAME" counts, "sfd-failed NAME WHY" fails.
 * Anything else is passed on (a login banner, srun's notes). */
static int agent_read(struct agent *a, char *err, size_t errlen)
{
    for (;;) {
        char buf[1024];
        ssize_t n = read(a->out_fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            return 0;
        }
        if (n <= 0) {
            close(a->out_fd);
            a->out_fd = -1;
            return sf_errf(err, errlen, SF_ERR_PEER_GONE,
                        "launch agent for %s exited before its daemon%s came up", a->what,
                        a->expect > 1 ? "s" : "");
        }
        for (ssize_t i = 0; i < n; i++) {
            char c = buf[i];
            if (c != '\n') {
                if (a->llen < sizeof(a->line) - 1) {
                    a->line[a->llen++] = c;
                }
                continue;
            }
            a->line[a->llen] = '\0';
            a->llen = 0;
            if (strncmp(a->line, "sfd-up ", 7) == 0) {
                a->up++;
            } else if (strncmp(a->line, "sfd-failed ", 11) == 0) {
                const char *who = a->line + 11;
                int wl = (int)strcspn(who, " ");
                const char *why = who[wl] == ' ' ? who + wl + 1 : "";
                return sf_errf(err, errlen, SF_ERR_PEER_GONE, "the daemon on %.*s did not start%s%s",
                            wl, who, why[0] ? ": " : " (no output)", why);
            } else {
                fprintf(stderr, "sfrun: %s: %s\n", a->what, a->line);
            }
        }
    }
}

/* Split the agent command on blanks (Open MPI's plm_rsh_agent does too). */
static int split_agent(const char *agent, char ***out, size_t *n)
{
    char *copy = strdup(agent);
    char **v = calloc(strlen(agent) / 2 + 2, sizeof(char *));
    if (copy == NULL || v == NULL) {
        free(copy);
        free(v);
        return -ENOMEM;
    }
    size_t k = 0;
    char *save = NULL;
    for (char *t = strtok_r(copy, " \t", &save); t != NULL; t = strtok_r(NULL, " \t", &save)) {
        v[k++] = t;
    }
    if (k == 0) {
        free(copy);
        free(v);
        return -EINVAL;
    }
    *out = v;
    *n = k;
    return 0;
}

/* Poll the agents and sfrun's signals until every daemon said it is up.
 * 0, a negative code with err set, or 128+sig. */
static int wait_agents(struct sfrun_launch *l, int sig_fd, double deadline, char *err,
                       size_t errlen)
{
    struct pollfd *p = calloc(l->nag + 1, sizeof(*p));
    if (p == NULL) {
        return sf_errf(err, errlen, -ENOMEM, "out of memory");
    }
    int rc = 0;
    for (;;) {
        int up = 0;
        for (size_t i = 0; i < l->nag; i++) {
            up += l->ag[i].up;
        }
        if (up >= l->ndaemons) {
            break;
        }
        double left = deadline - sf_now_s();
        if (left <= 0) {
            rc = sf_errf(err, errlen, -ETIMEDOUT, "%d of %d daemons came up in time", up, l->ndaemons);
            break;
        }
        size_t np = 0;
        p[np++] = (struct pollfd){sig_fd, POLLIN, 0};
        for (size_t i = 0; i < l->nag; i++) {
            p[np++] = (struct pollfd){l->ag[i].out_fd, POLLIN, 0};
        }
        int pr = poll(p, np, (int)(left * 1000) + 1);
        if (pr < 0 && errno != EINTR) {
            rc = sf_errf(err, errlen, -errno, "poll: %s", strerror(errno));
            break;
        }
        if (pr <= 0) {
            continue;
        }
        if (p[0].revents) {
            struct signalfd_siginfo si;
            while (read(sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                int sig = (int)si.ssi_signo;
                if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP || sig == SIGQUIT) {
                    rc = 128 + sig;
                }
            }
            if (rc != 0) {
                sf_errf(err, errlen, rc, "interrupted while starting the daemons");
                break;
            }
        }
        for (size_t i = 0; i < l->nag && rc == 0; i++) {
            if (p[i + 1].revents && l->ag[i].out_fd >= 0) {
                rc = agent_read(&l->ag[i], err, errlen);
            }
        }
        if (rc != 0) {
            break;
        }
    }
    free(p);
    return rc;
}

/* Until the hub lists every daemon as a live member (bounded). */
static int wait_members(struct sfrun_launch *l, int sig_fd, double deadline, char *err,
                        size_t errlen)
{
    int want = l->ndaemons, seen = -1;
    char qerr[256] = "";
    for (;;) {
        int fd = sf_cluster_connect_unix(l->sock);
        if (fd >= 0) {
            struct sf_rows rows = {0};
            seen = sf_query(fd, "nodes", 2.0, &rows, qerr, sizeof(qerr)) == 0
                       ? sf_rows_count_alive(&rows)
                       : -1;
            sf_rows_free(&rows);
            close(fd);
        }
        if (seen == want) {
            return 0;
        }
        if (sf_now_s() > deadline) {
            return sf_errf(err, errlen, -ETIMEDOUT,
                        "the started daemons did not all join: the hub sees %d of %d%s%s", seen,
                        want, qerr[0] ? ": " : "", qerr);
        }
        /* A signal or an agent's death ends the wait early. */
        struct pollfd p = {sig_fd, POLLIN, 0};
        if (poll(&p, 1, 50) > 0) {
            struct signalfd_siginfo si;
            while (read(sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                int sig = (int)si.ssi_signo;
                if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP || sig == SIGQUIT) {
                    return sf_errf(err, errlen, 128 + sig, "interrupted while starting the daemons");
                }
            }
        }
        for (size_t i = 0; i < l->nag; i++) {
            if (l->ag[i].pid > 0 && waitpid(l->ag[i].pid, NULL, WNOHANG) == l->ag[i].pid) {
                l->ag[i].pid = 0;
                return sf_errf(err, errlen, SF_ERR_PEER_GONE, "launch agent for %s exited",
                            l->ag[i].what);
            }
        }
    }
}

static int add_agent(struct sfrun_launch *l, char **argv, const char *what, int expect)
{
    struct agent *a = &l->ag[l->nag];
    memset(a, 0, sizeof(*a));
    a->in_fd = a->out_fd = -1;
    snprintf(a->what, sizeof(a->what), "%s", what);
    a->expect = expect;
    int rc = spawn_agent(a, argv);
    if (rc == 0) {
        l->nag++;
        l->ndaemons += expect;
        rc = send_key(a, l->key);
        /* An agent that already exited (ssh: host unreachable) is reported
         * by wait_agents, with what it printed, not as a broken pipe. */
        if (rc == -EPIPE) {
            rc = 0;
        }
    }
    return rc;
}

/* Start one watchdog through argv (the agent's words, then its command)
 * and give it the key; err says what failed. */
static int start_one(struct sfrun_launch *l, char **argv, const char *what, int expect, char *err,
                     size_t errlen)
{
    int rc = add_agent(l, argv, what, expect);
    return rc == 0 ? 0
                   : sf_errf(err, errlen, rc, "cannot start %s for %s: %s", argv[0], what,
                          sf_strerror(rc));
}

int sfrun_launch_up(struct sfrun_launch **lp, const struct sfrun_launch_opts *o, char **hosts_opt,
                    char *err, size_t errlen)
{
    *lp = NULL;
    *hosts_opt = NULL;
    struct sfrun_launch *l = calloc(1, sizeof(*l));
    struct sf_hostlist slurm = {0};
    struct str hosts = {0}, hubq = {0};
    char **names = NULL, **argv = NULL, **agentv = NULL;
    char *script = NULL;
    size_t nnames = 0, nagentv = 0;
    int rc = 0;
    if (l == NULL) {
        return sf_errf(err, errlen, -ENOMEM, "out of memory");
    }
    const struct sf_hostlist *hl = o->hosts;
    /* Inside Slurm, named hosts (allocated node names) are started by srun
     * too, unless an agent was asked for. */
    struct sfrun_launch_tun tun;
    if (sfrun_launch_tun_load(&tun) != 0) {
        free(l);
        return sf_errf(err, errlen, SF_ERR_CONFIG, "bad SF_LAUNCH_* setting (see above)");
    }
    bool use_srun = hl == NULL || (o->agent == NULL && in_slurm() && !tun.no_slurm);
    if (hl == NULL) {
        rc = slurm_nodes(&slurm, err, errlen);
        hl = &slurm;
    }
    names = calloc(hl->n + 1, sizeof(char *));
    if (rc == 0 && names == NULL) {
        rc = sf_errf(err, errlen, -ENOMEM, "out of memory");
    }
    /* The hub is this host's daemon when this host was listed (agent mode):
     * it then runs ranks under the first local entry's name. Under Slurm
     * every node gets its daemon from srun, and the hub runs none. */
    const char *hub_name = HUB_NAME;
    s_add(&hosts, "hosts=");
    for (size_t i = 0; rc == 0 && i < hl->n; i++) {
        const char *h = hl->v[i].name;
        bool local = !use_srun && is_local_host(h);
        if (local && strcmp(hub_name, HUB_NAME) == 0) {
            hub_name = h;
        }
        if (!local) {
            names[nnames++] = hl->v[i].name;
        }
        s_add(&hosts, "%s%s", i > 0 ? "," : "", local ? hub_name : h);
        if (hl->v[i].slots > 0) {
            s_add(&hosts, ":%d", hl->v[i].slots);
        }
    }
    if (rc == 0 && nnames > LAUNCH_MAX_AGENTS) {
        rc = sf_errf(err, errlen, -E2BIG, "at most %d hosts can be launched on", LAUNCH_MAX_AGENTS);
    }
    if (rc == 0 && hosts.oom) {
        rc = sf_errf(err, errlen, -ENOMEM, "out of memory");
    }
    if (rc == 0) {
        l->ag = calloc(nnames + 2, sizeof(*l->ag));
        rc = l->ag == NULL ? sf_errf(err, errlen, -ENOMEM, "out of memory") : 0;
    }
    if (rc == 0 && getentropy(l->key, sizeof(l->key)) != 0) {
        rc = sf_errf(err, errlen, -errno, "no random bytes for the job's key: %s", strerror(errno));
    }
    /* JOBDIR: a fresh name here; the same path is used on the other hosts. */
    if (rc == 0) {
        const char *tmp = getenv("TMPDIR");
        snprintf(l->dir, sizeof(l->dir), "%s/sfjob-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
        if (mkdtemp(l->dir) == NULL) {
            rc = sf_errf(err, errlen, -errno, "cannot create %s: %s", l->dir, strerror(errno));
            l->dir[0] = '\0';
        }
    }
    /* sfd.sock must fit a Unix socket address (108 bytes). */
    if (rc == 0 && (size_t)snprintf(l->sock, sizeof(l->sock), "%s/r-%s/sfd.sock", l->dir,
                                    hub_name) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        rc = sf_errf(err, errlen, -ENAMETOOLONG, "%s is too long a path for a Unix socket", l->sock);
    }
    double wait = o->wait > 0 ? o->wait : (tun.wait > 0 ? tun.wait : 30.0);
    double deadline = sf_now_s() + wait;
    /* The hub: a watchdog run here (no agent), listening on every interface
     * so the others can join it. */
    if (rc == 0) {
        s_quote(&hubq, hub_name);
        script = hubq.p != NULL ? daemon_script(hubq.p, l->dir, o->sfd, NULL) : NULL;
        char *hv[] = {"sh", "-c", script, NULL};
        rc = script == NULL ? sf_errf(err, errlen, -ENOMEM, "out of memory")
                            : start_one(l, hv, "this host", 1, err, errlen);
        free(script);
        script = NULL;
    }
    if (rc == 0) {
        rc = wait_agents(l, o->sig_fd, deadline, err, errlen);
    }
    char hub[128], ip[64];
    if (rc == 0) {
        char p[256]; /* next to the socket, whose path is < 108 bytes */
        snprintf(p, sizeof(p), "%.*s/sfd.addr", (int)(strrchr(l->sock, '/') - l->sock), l->sock);
        FILE *f = fopen(p, "re");
        char line[128] = "";
        if (f != NULL) {
            if (fgets(line, sizeof(line), f) == NULL) {
                line[0] = '\0';
            }
            fclose(f);
        }
        const char *colon = strrchr(line, ':');
        long port = colon != NULL ? strtol(colon + 1, NULL, 10) : 0;
        if (port <= 0 || port > 65535) {
            rc = sf_errf(err, errlen, -EIO, "the hub daemon wrote no port in %s", p);
        }
        hub_ip(tun.addr, names, nnames, ip, sizeof(ip));
        snprintf(hub, sizeof(hub), "%s:%ld", ip, port);
    }
    if (rc == 0 && use_srun && nnames > 0) {
        script = daemon_script("\"$SLURMD_NODENAME\"", l->dir, o->sfd, hub);
        char nn[32], nt[32];
        snprintf(nn, sizeof(nn), "--nodes=%zu", nnames);
        snprintf(nt, sizeof(nt), "--ntasks=%zu", nnames);
        struct str nl = {0};
        s_add(&nl, "--nodelist=");
        for (size_t i = 0; i < nnames; i++) {
            s_add(&nl, "%s%s", i > 0 ? "," : "", names[i]);
        }
        /* One task per node; --kill-on-bad-exit=0 and --no-kill: a lost
         * node ends only its own task, not the step holding the others;
         * --overlap: the step shares the CPUs with the job's own steps. */
        char *sv[] = {"srun",
                      nn,
                      nt,
                      "--ntasks-per-node=1",
                      "--kill-on-bad-exit=0",
                      "--no-kill",
                      "--overlap",
                      "--input=all",
                      "--job-name=sfd",
                      nl.p,
                      "sh",
                      "-c",
                      script,
                      NULL};
        rc = script == NULL || nl.p == NULL ? sf_errf(err, errlen, -ENOMEM, "out of memory")
                                            : start_one(l, sv, "srun", (int)nnames, err, errlen);
        free(nl.p);
    } else if (rc == 0 && nnames > 0) {
        rc = split_agent(o->agent != NULL ? o->agent : "ssh", &agentv, &nagentv);
        argv = calloc(nagentv + 3, sizeof(char *));
        if (rc != 0 || argv == NULL) {
            rc = sf_errf(err, errlen, rc != 0 ? rc : -ENOMEM, "bad --launch-agent '%s'",
                      o->agent != NULL ? o->agent : "ssh");
        }
        for (size_t i = 0; rc == 0 && i < nnames; i++) {
            struct str nq = {0}, cmd = {0};
            s_quote(&nq, names[i]);
            char *sc = nq.p != NULL ? daemon_script(nq.p, l->dir, o->sfd, hub) : NULL;
            /* ssh joins its arguments into one line for the remote shell:
             * pass exactly that line, `sh -c 'SCRIPT'`. */
            s_add(&cmd, "sh -c ");
            if (sc != NULL) {
                s_quote(&cmd, sc);
            }
            memcpy(argv, agentv, nagentv * sizeof(char *));
            argv[nagentv] = names[i];
            argv[nagentv + 1] = cmd.p;
            argv[nagentv + 2] = NULL;
            char what[300];
            snprintf(what, sizeof(what), "host %s", names[i]);
            rc = sc == NULL || cmd.p == NULL ? sf_errf(err, errlen, -ENOMEM, "out of memory")
                                             : start_one(l, argv, what, 1, err, errlen);
            free(nq.p);
            free(sc);
            free(cmd.p);
        }
    }
    if (rc == 0) {
        rc = wait_agents(l, o->sig_fd, deadline, err, errlen);
    }
    if (rc == 0) {
        rc = wait_members(l, o->sig_fd, deadline, err, errlen);
    }
    if (rc == 0) {
        *lp = l;
        *hosts_opt = hosts.p;
        hosts.p = NULL;
    } else {
        sfrun_launch_down(l, 2.0);
    }
    free(hosts.p);
    free(hubq.p);
    free(names);
    free(argv);
    if (agentv != NULL) {
        free(agentv[0]); /* the strdup'd copy the words point into */
        free(agentv);
    }
    free(script);
    sf_hosts_free(&slurm);
    return rc;
}

const char *sfrun_launch_sock(const struct sfrun_launch *l)
{
    return l->sock;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP) {
        rmdir(path);
    } else {
        unlink(path);
    }
    return 0;
}

/* Reap agents until all are gone or the deadline passes. */
static bool reap_until(struct sfrun_launch *l, double deadline)
{
    for (;;) {
        bool left = false;
        for (size_t i = 0; i < l->nag; i++) {
            struct agent *a = &l->ag[i];
            if (a->pid > 0) {
                pid_t r = waitpid(a->pid, NULL, WNOHANG);
                if (r == a->pid || (r < 0 && errno == ECHILD)) {
                    a->pid = 0;
                } else {
                    left = true;
                }
            }
        }
        if (!left) {
            return true;
        }
        if (sf_now_s() > deadline) {
            return false;
        }
        /* Bounded poll for an outside event (processes exiting). */
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

void sfrun_launch_down(struct sfrun_launch *l, double grace)
{
    if (l == NULL) {
        return;
    }
    /* End of stdin is the watchdogs' signal to stop their daemon and
     * remove its state. */
    for (size_t i = 0; i < l->nag; i++) {
        if (l->ag[i].in_fd >= 0) {
            close(l->ag[i].in_fd);
            l->ag[i].in_fd = -1;
        }
    }
    if (!reap_until(l, sf_now_s() + grace + 3.0)) {
        /* srun forwards SIGTERM to its tasks; ssh just ends the session. */
        for (size_t i = 0; i < l->nag; i++) {
            if (l->ag[i].pid > 0) {
                fprintf(stderr, "sfrun: launch agent for %s did not finish: terminating it\n",
                        l->ag[i].what);
                kill(-l->ag[i].pid, SIGTERM);
            }
        }
        if (!reap_until(l, sf_now_s() + grace + 2.0)) {
            for (size_t i = 0; i < l->nag; i++) {
                if (l->ag[i].pid > 0) {
                    kill(-l->ag[i].pid, SIGKILL);
                }
            }
            reap_until(l, sf_now_s() + 5.0);
        }
    }
    for (size_t i = 0; i < l->nag; i++) {
        if (l->ag[i].out_fd >= 0) {
            close(l->ag[i].out_fd);
        }
    }
    /* What a watchdog that was killed could not remove (this host's part
     * of JOBDIR; other hosts' parts went with their watchdogs). */
    if (l->dir[0] != '\0') {
        nftw(l->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    }
    free(l->ag);
    memset(l->key, 0, sizeof(l->key));
    free(l);
}
