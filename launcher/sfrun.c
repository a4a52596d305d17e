/* sfrun (also mpirun/mpiexec): reaches a daemon (a running cluster's Unix
 * socket, a --sim-nodes cluster it starts for the job, or else a private
 * sfd on a socketpair), submits the job, streams its output, forwards
 * stdin and signals, and exits with the job's status. With remote hosts
 * and no cluster (or inside Slurm) it starts daemons for the job
 * (sfrun_launch.c). Single thread running an sf_loop. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "config.h"
#include "launcher/sfrun_int.h"
#include "runtime/base/sf_err.h"
#include "runtime/base/sf_log.h"
#include "runtime/base/sf_loop.h"
#include "runtime/base/sf_wire.h"

extern char **environ;

/* Partial line of one rank's stream, held back for --tag-output. */
struct linebuf {
    char *buf;
    size_t len, cap;
};

struct sfrun {
    struct sfrun_opts o;
    struct sf_loop *loop;
    int fd; /* socket to sfd */
    pid_t sfd_pid;
    struct sf_wire_rx rx;
    uint32_t seq;
    int sig_fd;
    bool stdin_watched; /* stdin is registered with the loop */
    bool stdin_file;    /* stdin cannot be polled (file, /dev/null) */
    bool stdin_done;    /* EOF sent */
    bool stdin_off;     /* not forwarding stdin (yet, or at all) */
    bool stdin_busy;
    uint64_t stdin_sent, stdin_acked; /* bytes sent, bytes rank 0's node consumed */
    /* Frames to sfd not yet written. Never block on sfd: it may be blocked
     * writing output to us (cat big | sfrun cat would deadlock). */
    uint8_t *tx;
    size_t tx_len, tx_off;
    bool done, timed_out, stdout_broken;
    int exit_code;
    int nranks;
    bool *exited;
    struct linebuf *lines; /* [rank * 2 + stream - 1] */
    int term_signals;      /* SIGINT/TERM/HUP/QUIT seen */
    char **place;          /* placement opts "key=value" (owned) */
    size_t nplace;
    struct sfrun_launch *launch; /* daemons started for this job, or NULL */
};

/* Above this many queued bytes to sfd, stdin is not read. */
#define SFRUN_TX_HIGH (1u << 20)
/* Nor with this many bytes of stdin sent and not yet consumed by rank 0
 * (SF_OP_STDIN_ACK): every queue on the way stays bounded. */
#define SFRUN_STDIN_WINDOW (4u << 20)

static void stdin_resume(struct sfrun *s);

/* Write what the socket takes now; watch for writability if more is left. */
static int tx_flush(struct sfrun *s)
{
    while (s->tx_off < s->tx_len) {
        ssize_t n = send(s->fd, s->tx + s->tx_off, s->tx_len - s->tx_off, MSG_NOSIGNAL);
        if (n > 0) {
            s->tx_off += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && errno == EAGAIN) {
            break;
        } else {
            return n < 0 ? -errno : -EPIPE; /* on_sfd reports the lost daemon */
        }
    }
    if (s->tx_off == s->tx_len) {
        s->tx_off = s->tx_len = 0;
    }
    if (s->loop != NULL && s->fd >= 0) {
        sf_loop_mod_fd(s->loop, s->fd, SF_LOOP_IN | (s->tx_len > 0 ? SF_LOOP_OUT : 0));
    }
    if (s->tx_len - s->tx_off < SFRUN_TX_HIGH) {
        stdin_resume(s);
    }
    return 0;
}

static int send_enc(struct sfrun *s, struct sf_wire_enc *e)
{
    int rc = sf_wire_enc_end(e);
    if (rc == 0) {
        if (s->tx_off > 0) {
            memmove(s->tx, s->tx + s->tx_off, s->tx_len - s->tx_off);
            s->tx_len -= s->tx_off;
            s->tx_off = 0;
        }
        uint8_t *nb = realloc(s->tx, s->tx_len + e->len);
        if (nb == NULL) {
            rc = -ENOMEM;
        } else {
            s->tx = nb;
            memcpy(s->tx + s->tx_len, e->buf, e->len);
            s->tx_len += e->len;
            rc = tx_flush(s);
        }
    }
    sf_wire_enc_free(e);
    return rc;
}

static void send_signal(struct sfrun *s, int signo)
{
    struct sf_wire_enc e;
    sf_wire_enc_begin(&e, SF_OP_SIGNAL, s->seq++);
    sf_wire_put_i32(&e, signo);
    send_enc(s, &e);
}

static void write_out(struct sfrun *s, int stream, const void *p, size_t len)
{
    int fd = stream == 1 ? 1 : 2;
    if (fd == 1 && s->stdout_broken) {
        return;
    }
    if (sf_wire_write_all(fd, p, len) == -EPIPE && fd == 1) {
        s->stdout_broken = true; /* reader gone: drop further stdout */
    }
}

static void write_tagged(struct sfrun *s, int rank, int stream, const char *line, size_t len)
{
    char tag[64];
    int tl = snprintf(tag, sizeof(tag), "[1,%d]<%s>:", rank, stream == 1 ? "stdout" : "stderr");
    char stackbuf[4096];
    char *buf = len + (size_t)tl + 1 <= sizeof(stackbuf) ? stackbuf : malloc(len + (size_t)tl + 1);
    if (buf == NULL) {
        return;
    }
    /* One write per line keeps lines whole on a shared terminal. */
    memcpy(buf, tag, (size_t)tl);
    memcpy(buf + tl, line, len);
    size_t total = (size_t)tl + len;
    if (len == 0 || line[len - 1] != '\n') {
        buf[total++] = '\n';
    }
    write_out(s, stream, buf, total);
    if (buf != stackbuf) {
        free(buf);
    }
}

static void flush_lines(struct sfrun *s, int rank)
{
    for (int st = 1; st <= 2; st++) {
        struct linebuf *lb = &s->lines[rank * 2 + st - 1];
        if (lb->len > 0) {
            write_tagged(s, rank, st, lb->buf, lb->len);
            lb->len = 0;
        }
    }
}

static void on_output(struct sfrun *s, int rank, int stream, const uint8_t *p, size_t len)
{
    if (stream != 1 && stream != 2) {
        return;
    }
    if (!s->o.tag_output || rank < 0 || rank >= s->nranks || s->lines == NULL) {
        write_out(s, stream, p, len);
        return;
    }
    struct linebuf *lb = &s->lines[rank * 2 + stream - 1];
    const char *c = (const char *)p;
    while (len > 0) {
        const char *nl = memchr(c, '\n', len);
        size_t seg = nl != NULL ? (size_t)(nl - c) + 1 : len;
        if (nl != NULL && lb->len == 0) {
            write_tagged(s, rank, stream, c, seg);
        } else {
            if (lb->len + seg > lb->cap) {
                size_t ncap = (lb->len + seg) * 2;
                char *nb = realloc(lb->buf, ncap);
                if (nb == NULL) {
                    write_out(s, stream, c, seg);
                    c += seg;
                    len -= seg;
                    continue;
                }
                lb->buf = nb;
                lb->cap = ncap;
            }
            memcpy(lb->buf + lb->len, c, seg);
            lb->len += seg;
            if (nl != NULL) {
                write_tagged(s, rank, stream, lb->buf, lb->len);
                lb->len = 0;
            }
        }
        c += seg;
        len -= seg;
    }
}

static void finish(struct sfrun *s, int code)
{
    if (!s->done) {
        s->done = true;
        s->exit_code = code;
    }
    sf_loop_stop(s->loop);
}

static void handle_msg(struct sfrun *s, const struct sf_wire_msg *m)
{
    switch (m->op) {
    case SF_OP_JOB_STARTED:
        SF_DBG("job %llu started, %lld ranks", (unsigned long long)m->f[0].u, (long long)m->f[1].i);
        break;
    case SF_OP_OUTPUT:
        on_output(s, (int)m->f[0].i, (int)m->f[1].u, m->f[2].p, m->f[2].len);
        break;
    case SF_OP_RANK_EXIT: {
        int r = (int)m->f[0].i;
        if (r >= 0 && r < s->nranks) {
            s->exited[r] = true;
            if (s->o.tag_output) {
                flush_lines(s, r);
            }
        }
        SF_DBG("%.*s", (int)m->f[2].len, (const char *)m->f[2].p);
        break;
    }
    case SF_OP_JOB_DONE: {
        if (s->o.tag_output) {
            for (int r = 0; r < s->nranks; r++) {
                flush_lines(s, r);
            }
        }
        int code = (int)m->f[0].i;
        if (m->f[1].len > 0 && !s->timed_out) {
            fprintf(stderr, "sfrun: %.*s\n", (int)m->f[1].len, (const char *)m->f[1].p);
        }
        finish(s, s->timed_out ? SFRUN_EXIT_TIMEOUT : code);
        break;
    }
    case SF_OP_ERROR:
        fprintf(stderr, "sfrun: %.*s\n", (int)m->f[1].len, (const char *)m->f[1].p);
        finish(s, SFRUN_EXIT_INTERNAL);
        break;
    case SF_OP_STDIN_ACK:
        if (m->f[1].u > s->stdin_acked && m->f[1].u <= s->stdin_sent) {
            s->stdin_acked = m->f[1].u;
            stdin_resume(s);
        }
        break;
    case SF_OP_GOODBYE:
        break;
    default:
        SF_WARN_SPARSE("daemon sent unexpected op %u", m->op);
        break;
    }
}

static void on_sfd(struct sf_loop *loop, int fd, int events, void *arg)
{
    struct sfrun *s = arg;
    if (events & SF_LOOP_OUT) {
        tx_flush(s);
    }
    if (!(events & (SF_LOOP_IN | SF_LOOP_HUP | SF_LOOP_ERR))) {
        return;
    }
    long n = sf_wire_rx_fill(&s->rx, fd);
    if (n == -EAGAIN) {
        return;
    }
    struct sf_wire_msg m;
    int rc;
    while (!s->done && (rc = sf_wire_rx_next(&s->rx, &m)) == 1) {
        handle_msg(s, &m);
    }
    if (s->done) {
        return;
    }
    if (rc < 0 || n <= 0) {
        fprintf(stderr, "sfrun: lost the Starfish daemon (sfd)%s%s\n",
                rc < 0 ? ": corrupt stream: " : "", rc < 0 ? sf_strerror(rc) : "");
        finish(s, SFRUN_EXIT_INTERNAL);
    }
}

static void stdin_unwatch(struct sfrun *s)
{
    if (s->stdin_watched) {
        sf_loop_del_fd(s->loop, 0);
        s->stdin_watched = false;
    }
}

static void stdin_eof(struct sfrun *s)
{
    stdin_unwatch(s);
    s->stdin_done = true;
    struct sf_wire_enc e;
    sf_wire_enc_begin(&e, SF_OP_STDIN, s->seq++);
    sf_wire_put_bytes(&e, NULL, 0);
    send_enc(s, &e);
}

/* Read one chunk of stdin and queue it; false once stdin is finished. */
static bool stdin_send_chunk(struct sfrun *s)
{
    uint8_t buf[65536];
    ssize_t n;
    do {
        n = read(0, buf, sizeof(buf));
    } while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EAGAIN) {
        return true;
    }
    if (n <= 0) {
        stdin_eof(s);
        return false;
    }
    struct sf_wire_enc e;
    sf_wire_enc_begin(&e, SF_OP_STDIN, s->seq++);
    sf_wire_put_bytes(&e, buf, (size_t)n);
    s->stdin_sent += (uint64_t)n;
    send_enc(s, &e);
    return !s->stdin_done;
}

static bool stdin_blocked(struct sfrun *s)
{
    return s->tx_len - s->tx_off >= SFRUN_TX_HIGH ||
           s->stdin_sent - s->stdin_acked >= SFRUN_STDIN_WINDOW;
}

static void on_stdin(struct sf_loop *loop, int fd, int events, void *arg)
{
    struct sfrun *s = arg;
    if (stdin_send_chunk(s) && stdin_blocked(s)) {
        stdin_unwatch(s); /* backpressure: tx_flush or an ack resumes us */
    }
}

/* Called when the queue to sfd has room again, or rank 0 consumed some. */
static void stdin_resume(struct sfrun *s)
{
    /* Re-entered via stdin_send_chunk -> send_enc -> tx_flush. */
    if (s->stdin_busy || s->stdin_off || s->stdin_done || s->loop == NULL || stdin_blocked(s)) {
        return;
    }
    s->stdin_busy = true;
    if (s->stdin_file) {
        /* Files are always readable: pump until the queue is full. */
        while (!stdin_blocked(s) && stdin_send_chunk(s)) {
        }
    } else if (!s->stdin_watched) {
        if (sf_loop_add_fd(s->loop, 0, SF_LOOP_IN, on_stdin, s) == 0) {
            s->stdin_watched = true;
        } else {
            stdin_eof(s);
        }
    }
    s->stdin_busy = false;
}

static void setup_stdin(struct sfrun *s)
{
    /* A background job must not read the terminal (it would be stopped by
     * SIGTTIN): rank 0 then sees EOF, as with an empty stdin. */
    if (isatty(0) && tcgetpgrp(0) != getpgrp()) {
        stdin_eof(s);
        return;
    }
    s->stdin_off = false;
    int rc = sf_loop_add_fd(s->loop, 0, SF_LOOP_IN, on_stdin, s);
    if (rc == 0) {
        s->stdin_watched = true;
        return;
    }
    if (rc == -EPERM) {
        /* Regular file or /dev/null: epoll refuses them; they never block. */
        s->stdin_file = true;
        stdin_resume(s);
        return;
    }
    stdin_eof(s); /* closed or unusable stdin */
}

static void on_timeout(struct sf_loop *loop, void *arg)
{
    struct sfrun *s = arg;
    char list[1024];
    size_t off = 0;
    list[0] = '\0';
    for (int r = 0; r < s->nranks && off < sizeof(list) - 16; r++) {
        if (!s->exited[r]) {
            off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%d", off ? "," : "", r);
        }
    }
    fprintf(stderr, "sfrun: job timed out after %s s; ranks still running: %s\n", s->o.timeout_text,
            off > 0 ? list : "none");
    s->timed_out = true;
    s->term_signals++;
    send_signal(s, SIGTERM);
}

static void on_signal(struct sf_loop *loop, int fd, int events, void *arg)
{
    struct sfrun *s = arg;
    struct signalfd_siginfo si;
    while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        int sig = (int)si.ssi_signo;
        switch (sig) {
        case SIGINT:
        case SIGTERM:
        case SIGHUP:
        case SIGQUIT:
            /* First one: the ranks get it, then SIGKILL after sfd's grace
             * period. A second one means "now". */
            send_signal(s, s->term_signals++ == 0 ? sig : SIGKILL);
            break;
        default:
            send_signal(s, sig);
            break;
        }
    }
}

/* The ranks' environment: ours, the -x variables, and Starfish's libmpi
 * first on LD_LIBRARY_PATH. The array is the caller's to free, and so is
 * *owned (the one string made here, or NULL). */
static char **job_env(struct sfrun *s, const char *libdir, char **owned)
{
    *owned = NULL;
    size_t n = 0;
    while (environ[n] != NULL) {
        n++;
    }
    char **env = calloc(n + s->o.nx + 2, sizeof(char *));
    if (env == NULL) {
        return NULL;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        env[k++] = environ[i];
    }
    for (size_t x = 0; x < s->o.nx; x++) {
        const char *kv = s->o.xvars[x];
        size_t kl = (size_t)(strchr(kv, '=') - kv) + 1;
        size_t j;
        for (j = 0; j < k; j++) {
            if (strncmp(env[j], kv, kl) == 0) {
                break;
            }
        }
        env[j] = s->o.xvars[x];
        if (j == k) {
            k++;
        }
    }
    if (libdir != NULL) {
        size_t j;
        for (j = 0; j < k; j++) {
            if (strncmp(env[j], "LD_LIBRARY_PATH=", 16) == 0) {
                break;
            }
        }
        const char *old = j < k ? env[j] + 16 : "";
        size_t l = strlen(libdir) + strlen(old) + 20;
        char *v = malloc(l);
        if (v == NULL) {
            free(env);
            return NULL;
        }
        snprintf(v, l, "LD_LIBRARY_PATH=%s%s%s", libdir, old[0] ? ":" : "", old);
        env[j] = v;
        *owned = v;
        if (j == k) {
            k++;
        }
    }
    env[k] = NULL;
    return env;
}

static const char *env_lookup(char **env, const char *key)
{
    size_t l = strlen(key);
    for (char **p = env; *p != NULL; p++) {
        if (strncmp(*p, key, l) == 0 && (*p)[l] == '=') {
            return *p + l + 1;
        }
    }
    return NULL;
}

static int submit(struct sfrun *s, char **env)
{
    char cwd[4096];
    if (getcwd(cwd, sizeof(cwd)) == NULL) {
        strcpy(cwd, "/");
    }
    size_t nenv = 0;
    while (env[nenv] != NULL) {
        nenv++;
    }
    char bind[32], over[32];
    snprintf(bind, sizeof(bind), "bind=%s", s->o.bind_core ? "core" : "none");
    snprintf(over, sizeof(over), "oversubscribe=%s",
             s->o.oversub < 0 ? "auto"
             : s->o.oversub   ? "yes"
                              : "no");
    char *base[] = {bind, over};
    /* bind, oversubscribe, then the placement opts (hosts, npernode,
     * map-by) computed in main. */
    char *opts[2 + 8];
    size_t nopts = 0;
    for (size_t i = 0; i < 2; i++) {
        opts[nopts++] = base[i];
    }
    for (size_t i = 0; i < s->nplace && nopts < sizeof(opts) / sizeof(opts[0]); i++) {
        opts[nopts++] = s->place[i];
    }
    struct sf_wire_enc e;
    sf_wire_enc_begin(&e, SF_OP_JOB_SUBMIT, s->seq++);
    sf_wire_put_i32(&e, s->o.n);
    sf_wire_put_u32(&e, 0);
    sf_wire_put_strv(&e, s->o.argv, (size_t)s->o.argc);
    sf_wire_put_strv(&e, env, nenv);
    sf_wire_put_str(&e, cwd);
    sf_wire_put_strv(&e, opts, nopts);
    return send_enc(s, &e);
}

/* fork/exec the private daemon on one end of a socketpair. */
static int start_sfd(struct sfrun *s, const char *sfd_path, const sigset_t *oldmask)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        return -errno;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int err = -errno;
        close(sv[0]);
        close(sv[1]);
        return err;
    }
    if (pid == 0) {
        /* SIGTERM, not SIGKILL: sfd then kills the job before leaving. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) {
            _exit(1);
        }
        /* Own group: a terminal's Ctrl-C reaches sfrun only, which
         * forwards it; sfd must not die of it first. */
        setpgid(0, 0);
        sigprocmask(SIG_SETMASK, oldmask, NULL);
        signal(SIGPIPE, SIG_DFL);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) {
            dup2(devnull, 0);
        }
        fcntl(sv[1], F_SETFD, 0);
        char fdstr[16];
        snprintf(fdstr, sizeof(fdstr), "%d", sv[1]);
        execl(sfd_path, "sfd", "--embedded", "--fd", fdstr, (char *)NULL);
        dprintf(2, "sfrun: cannot execute %s: %s\n", sfd_path, strerror(errno));
        _exit(127);
    }
    close(sv[1]);
    s->fd = sv[0];
    s->sfd_pid = pid;
    fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) | O_NONBLOCK);
    return 0;
}

/* Start daemons for this job (hosts over the launch agent, or the Slurm
 * allocation) and use the launched hub's hosts= list. 0, or an exit code
 * after printing why. */
static int launch(struct sfrun *s, const char *sfd_path)
{
    char err[1024], real[PATH_MAX];
    char *hopt = NULL;
    struct sfrun_launch_opts lo = {
        .hosts = s->o.hosts.n > 0 ? &s->o.hosts : NULL,
        .agent = s->o.launch_agent,
        /* Remote hosts run sfd from the same path (as Open MPI's orted). */
        .sfd = realpath(sfd_path, real) != NULL ? real : sfd_path,
        .sig_fd = s->sig_fd,
    };
    int rc = sfrun_launch_up(&s->launch, &lo, &hopt, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "sfrun: %s\n", err);
        return rc > 128 ? rc : SFRUN_EXIT_INTERNAL;
    }
    for (size_t i = 0; i < s->nplace; i++) {
        if (strncmp(s->place[i], "hosts=", 6) == 0) {
            free(s->place[i]);
            s->place[i] = hopt;
            hopt = NULL;
        }
    }
    if (hopt != NULL) {
        char **nv = realloc(s->place, (s->nplace + 2) * sizeof(char *));
        if (nv == NULL) {
            free(hopt);
            fprintf(stderr, "sfrun: out of memory\n");
            return SFRUN_EXIT_INTERNAL;
        }
        s->place = nv;
        s->place[s->nplace++] = hopt;
        s->place[s->nplace] = NULL;
    }
    return 0;
}

/* Where the job goes (sfd_int.h's contract): --sim-nodes starts a private
 * cluster on loopback; --cluster DIR / $SF_CLUSTER name a daemon's state
 * dir (DIR/sfd.sock) or a cluster dir (DIR/cluster); otherwise the record
 * in the default cluster dir if its daemons answer. Sets s->fd when a
 * daemon was reached; leaves it -1 for the embedded daemon. Returns 0, or
 * an exit code after printing why. */
static int find_cluster(struct sfrun *s, const char *sfd_path, struct sf_cluster **simp)
{
    char err[1024];
    int fd = -1;
    if (s->o.sim_nodes > 0) {
        struct sf_cluster *c = calloc(1, sizeof(*c));
        const char *tmp = getenv("TMPDIR");
        if (c == NULL) {
            fprintf(stderr, "sfrun: out of memory\n");
            return SFRUN_EXIT_INTERNAL;
        }
        snprintf(c->dir, sizeof(c->dir), "%s/sfsim-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
        if (mkdtemp(c->dir) == NULL) {
            fprintf(stderr, "sfrun: cannot create %s: %s\n", c->dir, strerror(errno));
            free(c);
            return SFRUN_EXIT_INTERNAL;
        }
        c->transient = true;
        struct sf_up_opts uo = {.nodes = s->o.sim_nodes,
                                .any_port = true,
                                .sfd = sfd_path,
                                .wait = 20.0,
                                .quiet = true};
        if (sf_cluster_up(c, &uo, err, sizeof(err)) != 0) {
            fprintf(stderr, "sfrun: --sim-nodes %d: %s\n", s->o.sim_nodes, err);
            free(c);
            return SFRUN_EXIT_INTERNAL;
        }
        *simp = c;
        fd = sf_cluster_connect(c, err, sizeof(err));
        if (fd < 0) {
            fprintf(stderr, "sfrun: --sim-nodes: %s\n", err);
            return SFRUN_EXIT_INTERNAL;
        }
    } else {
        const char *dir = s->o.cluster_dir;
        bool asked = dir != NULL;
        if (dir == NULL && getenv("SF_CLUSTER") != NULL && getenv("SF_CLUSTER")[0] != '\0') {
            dir = getenv("SF_CLUSTER");
            asked = true;
        }
        char defdir[512];
        if (dir == NULL && sf_cluster_default_dir(defdir, sizeof(defdir)) == 0) {
            dir = defdir;
        }
        if (dir == NULL) {
            return 0;
        }
        char sock[PATH_MAX];
        snprintf(sock, sizeof(sock), "%s/sfd.sock", dir);
        struct stat st;
        struct sf_cluster *c = calloc(1, sizeof(*c));
        if (c == NULL) {
            fprintf(stderr, "sfrun: out of memory\n");
            return SFRUN_EXIT_INTERNAL;
        }
        if (stat(sock, &st) == 0 && S_ISSOCK(st.st_mode)) {
            fd = sf_cluster_connect_unix(sock);
            snprintf(err, sizeof(err), "cannot connect to %.900s: %s", sock,
                     fd < 0 ? sf_strerror(fd) : "");
        } else if (sf_cluster_load(c, dir, err, sizeof(err)) == 0) {
            fd = sf_cluster_connect(c, err, sizeof(err));
            if (fd < 0 && !asked) {
                fprintf(stderr, "sfrun: warning: %s; running on this host only\n", err);
            }
        } else {
            fd = -ENOENT;
        }
        free(c);
        if (fd < 0 && asked) {
            fprintf(stderr, "sfrun: --cluster %s: %s\n", dir, err);
            return SFRUN_EXIT_INTERNAL;
        }
        if (fd < 0 && sfrun_launch_wanted(&s->o.hosts)) {
            int rc = launch(s, sfd_path);
            if (rc != 0) {
                return rc;
            }
            fd = sf_cluster_connect_unix(sfrun_launch_sock(s->launch));
            if (fd < 0) {
                fprintf(stderr, "sfrun: cannot reach the job's daemon: %s\n", sf_strerror(fd));
                return SFRUN_EXIT_INTERNAL;
            }
        }
    }
    if (fd >= 0) {
        s->fd = fd;
        fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) | O_NONBLOCK);
    } else if (s->nplace > 0) {
        /* The private daemon is the only node: placement has nothing to
         * choose from (every host named is this one). */
        size_t keep = 0;
        for (size_t i = 0; i < s->nplace; i++) {
            if (strncmp(s->place[i], "hosts=", 6) == 0 ||
                strncmp(s->place[i], "npernode=", 9) == 0 ||
                strncmp(s->place[i], "map-by=", 7) == 0) {
                free(s->place[i]);
            } else {
                s->place[keep++] = s->place[i];
            }
        }
        s->nplace = keep;
    }
    return 0;
}

static int run_params(const char *self_dir)
{
    char *sfd = sfrun_find_sfd(self_dir);
    if (sfd == NULL) {
        return SFRUN_EXIT_INTERNAL;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        execl(sfd, "sfd", "--params", (char *)NULL);
        _exit(127);
    }
    int ws = 0;
    if (pid < 0 || waitpid(pid, &ws, 0) < 0 || !WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
        fprintf(stderr, "sfrun: could not ask %s for its tunables\n", sfd);
        free(sfd);
        return SFRUN_EXIT_INTERNAL;
    }
    free(sfd);
    sfrun_print_params(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    struct sfrun s_;
    struct sfrun *s = &s_;
    memset(s, 0, sizeof(*s));
    s->fd = -1;
    s->sig_fd = -1;
    s->stdin_off = true; /* until setup_stdin */
    sf_log_init("sfrun");
    int rc = sfrun_parse_args(argc, argv, &s->o);
    if (rc != 0) {
        return rc;
    }
    char *self_dir = sfrun_self_dir();
    switch (s->o.action) {
    case SFRUN_HELP:
        sfrun_usage(stdout);
        return 0;
    case SFRUN_VERSION:
        printf("sfrun (Starfish) %s\n", PACKAGE_VERSION);
        return 0;
    case SFRUN_PARAMS:
        return run_params(self_dir);
    case SFRUN_RUN:
        break;
    }

    rc = sfrun_placement_opts(&s->o, &s->place, &s->nplace);
    if (rc != 0) {
        return rc;
    }
    char *libdir = sfrun_find_libmpi(self_dir);
    if (libdir == NULL) {
        SF_DBG("no Starfish libmpi.so.40 found: LD_LIBRARY_PATH left as is");
    }
    char *env_owned;
    char **env = job_env(s, libdir, &env_owned);
    if (env == NULL) {
        fprintf(stderr, "sfrun: out of memory\n");
        return SFRUN_EXIT_INTERNAL;
    }
    rc = sfrun_check_program(s->o.argv[0], env_lookup(env, "PATH"));
    if (rc != 0) {
        return rc;
    }
    char *sfd_path = sfrun_find_sfd(self_dir);
    if (sfd_path == NULL) {
        return SFRUN_EXIT_INTERNAL;
    }

    signal(SIGPIPE, SIG_IGN);
    sigset_t set, oldmask;
    sigemptyset(&set);
    int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        /* Like mpirun, catch these even when started in the background of
         * a script (which ignores INT/QUIT); but nohup's ignored SIGHUP
         * stays ignored. An ignored signal never reaches a signalfd. */
        struct sigaction sa;
        if (sigs[i] == SIGHUP && sigaction(SIGHUP, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN) {
            continue;
        }
        signal(sigs[i], SIG_DFL);
        sigaddset(&set, sigs[i]);
    }
    sigprocmask(SIG_BLOCK, &set, &oldmask);
    s->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);

    s->nranks = s->o.n;
    s->exited = calloc((size_t)s->nranks, sizeof(bool));
    if (s->o.tag_output) {
        s->lines = calloc((size_t)s->nranks * 2, sizeof(struct linebuf));
    }
    sf_wire_rx_init(&s->rx);
    if (s->sig_fd < 0 || s->exited == NULL || sf_loop_create(&s->loop) != 0) {
        fprintf(stderr, "sfrun: cannot set up: %s\n", strerror(errno));
        return SFRUN_EXIT_INTERNAL;
    }
    struct sf_cluster *sim = NULL;
    rc = find_cluster(s, sfd_path, &sim);
    if (rc > 0) {
        sfrun_launch_down(s->launch, 2.0);
        return rc; /* message printed */
    }
    if (s->fd < 0) {
        rc = start_sfd(s, sfd_path, &oldmask);
        if (rc != 0) {
            fprintf(stderr, "sfrun: cannot start %s: %s\n", sfd_path, sf_strerror(rc));
            return SFRUN_EXIT_INTERNAL;
        }
    }
    rc = submit(s, env);
    if (rc == 0) {
        rc = sf_loop_add_fd(s->loop, s->fd, SF_LOOP_IN | (s->tx_len > 0 ? SF_LOOP_OUT : 0), on_sfd,
                            s);
    }
    if (rc == 0) {
        rc = sf_loop_add_fd(s->loop, s->sig_fd, SF_LOOP_IN, on_signal, s);
    }
    if (rc != 0) {
        fprintf(stderr, "sfrun: cannot talk to the daemon: %s\n", sf_strerror(rc));
        s->exit_code = SFRUN_EXIT_INTERNAL;
    } else {
        setup_stdin(s);
        if (s->o.timeout > 0) {
            sf_loop_timer(s->loop, (uint64_t)(s->o.timeout * 1000.0), on_timeout, s, NULL);
        }
        rc = sf_loop_run(s->loop);
        if (rc != 0 && !s->done) {
            fprintf(stderr, "sfrun: event loop failed: %s\n", sf_strerror(rc));
            s->exit_code = SFRUN_EXIT_INTERNAL;
        }
    }
    /* Closing our end tells sfd to clean up if it has not already. */
    close(s->fd);
    int ws;
    while (s->sfd_pid > 0 && waitpid(s->sfd_pid, &ws, 0) < 0 && errno == EINTR) {
    }
    sfrun_launch_down(s->launch, 5.0);
    if (sim != NULL) {
        char err[512];
        if (sf_cluster_down(sim, 5.0, err, sizeof(err)) != 0) {
            fprintf(stderr, "sfrun: stopping the --sim-nodes daemons: %s\n", err);
        }
        free(sim);
    }
    int code = s->exit_code;
    sf_loop_destroy(s->loop);
    sf_wire_rx_free(&s->rx);
    free(s->tx);
    free(s->exited);
    if (s->lines != NULL) {
        for (int i = 0; i < s->nranks * 2; i++) {
            free(s->lines[i].buf);
        }
        free(s->lines);
    }
    for (size_t i = 0; i < s->nplace; i++) {
        free(s->place[i]);
    }
    free(s->place);
    free(env);
    free(env_owned);
    free(libdir);
    free(sfd_path);
    free(self_dir);
    sfrun_opts_free(&s->o);
    return code;
}
