/* A cluster on one machine: K sfd daemons started in the background, on
 * loopback ports or each in its own network namespace on a private bridge,
 * and everything needed to stop them, kill or cut one, and find them again
 * (the record files). Used by `sf up/down/node` and `sfrun --sim-nodes`.
 * Does not place or run jobs (the daemons do). Single-threaded.
 *
 * Files in the cluster dir (DIR, mode 0700):
 *   DIR/cluster      the record sfrun/sf read (contract in
 *                    launcher/sfd/sfd_int.h): "node NAME STATE_DIR HOST:PORT"
 *   DIR/up           this module's own notes, one line each:
 *                    "mode loopback|netns", "port P", "key PATH",
 *                    "pid NAME PID STARTTIME" (STARTTIME: /proc/PID/stat
 *                    field 22, so a reused pid is never signalled)
 *   DIR/cluster.key  the key, unless one existed elsewhere
 *   DIR/nI/          node I's state dir (sfd.sock, sfd.pid, sfd.addr,
 *                    sfd.log = the daemon's stdout and stderr)
 * Namespaced nodes: bridge sfbr0 (no address: nothing is routed off the
 * machine), namespace sf-nI with eth0 = 10.250.0.I/24, host end sfvI. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "launcher/sf_int.h"
#include "runtime/base/sf_err.h"

#define DEFAULT_BASE_PORT 7700

int sf_errf(char *err, size_t errlen, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return code;
}

double sf_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Sleep ms between polls of an outside condition (a daemon's files, its
 * membership): these waits are bounded by the caller's deadline. */
static void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

int sf_cluster_default_dir(char *buf, size_t len)
{
    const char *e = getenv("SF_CLUSTER_DIR");
    int n;
    if (e != NULL && e[0] != '\0') {
        n = snprintf(buf, len, "%s", e);
    } else if ((e = getenv("XDG_RUNTIME_DIR")) != NULL && e[0] != '\0') {
        n = snprintf(buf, len, "%s/starfish", e);
    } else if ((e = getenv("HOME")) != NULL && e[0] != '\0') {
        n = snprintf(buf, len, "%s/.starfish", e);
    } else {
        n = snprintf(buf, len, "/tmp/starfish-%ld", (long)getuid());
    }
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* ---- processes ---------------------------------------------------------- */

/* Start time (field 22) and session (field 6) of pid; 0 on success. */
static int proc_stat(pid_t pid, unsigned long long *start, pid_t *sid, char *state)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        return -EIO;
    }
    buf[n] = '\0';
    /* The command name may hold spaces and ')': fields start after the
     * last ')'. */
    char *p = strrchr(buf, ')');
    if (p == NULL) {
        return -EIO;
    }
    p += 2;
    /* p: field 3 (state) onwards */
    int field = 3;
    char *save = NULL;
    for (char *tok = strtok_r(p, " ", &save); tok != NULL; tok = strtok_r(NULL, " ", &save)) {
        if (field == 3 && state != NULL) {
            *state = tok[0];
        } else if (field == 6 && sid != NULL) {
            *sid = (pid_t)strtol(tok, NULL, 10);
        } else if (field == 22) {
            if (start != NULL) {
                *start = strtoull(tok, NULL, 10);
            }
            return 0;
        }
        field++;
    }
    return -EIO;
}

bool sf_cluster_node_alive(const struct sf_cnode *nd)
{
    unsigned long long st = 0;
    char state = 0;
    if (nd->pid <= 0 || proc_stat(nd->pid, &st, NULL, &state) != 0) {
        return false;
    }
    return st == nd->start && state != 'Z' && state != 'X';
}

static int pidfd_open_(pid_t pid)
{
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    errno = ENOSYS;
    return -1;
#endif
}

/* Wait until the process is gone or the deadline passes. A pidfd turns
 * readable when the process ends, whoever its parent is; our own
 * children are also reaped here. */
static bool wait_gone(const struct sf_cnode *nd, double deadline)
{
    if (!sf_cluster_node_alive(nd)) {
        waitpid(nd->pid, NULL, WNOHANG);
        return true;
    }
    int pfd = pidfd_open_(nd->pid);
    for (;;) {
        waitpid(nd->pid, NULL, WNOHANG);
        if (!sf_cluster_node_alive(nd)) {
            break;
        }
        double left = deadline - sf_now_s();
        if (left <= 0) {
            if (pfd >= 0) {
                close(pfd);
            }
            return false;
        }
        if (pfd >= 0) {
            struct pollfd p = {pfd, POLLIN, 0};
            poll(&p, 1, (int)(left * 1000) + 1);
        } else {
            nap_ms(20);
        }
    }
    if (pfd >= 0) {
        close(pfd);
    }
    return true;
}

/* Inode of a process's or a named namespace's network namespace. */
static unsigned long long netns_ino(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (unsigned long long)st.st_ino : 0;
}

/* SIGKILL every process of session sid, and, when ns_ino != 0, every
 * process in that network namespace. Returns how many were signalled. */
static int kill_group(pid_t sid, unsigned long long ns_ino)
{
    DIR *d = opendir("/proc");
    if (d == NULL) {
        return 0;
    }
    int n = 0;
    pid_t self = getpid();
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        char *end;
        long pid = strtol(de->d_name, &end, 10);
        if (*end != '\0' || pid <= 1 || pid == self) {
            continue;
        }
        pid_t s = 0;
        bool hit = proc_stat((pid_t)pid, NULL, &s, NULL) == 0 && sid > 0 && s == sid;
        if (!hit && ns_ino != 0) {
            char p[64];
            snprintf(p, sizeof(p), "/proc/%ld/ns/net", pid);
            hit = netns_ino(p) == ns_ino;
        }
        if (hit && kill((pid_t)pid, SIGKILL) == 0) {
            n++;
        }
    }
    closedir(d);
    return n;
}

/* The daemon's session id (its pid: it called setsid), or 0 when that pid
 * now names another process. The kernel keeps a pid from reuse while any
 * process still has it as session id, so a reused pid means no rank of
 * ours is left in that session, and a stranger's session must be spared. */
static pid_t session_of(const struct sf_cnode *nd)
{
    unsigned long long st = 0;
    if (nd->pid <= 0) {
        return 0;
    }
    if (proc_stat(nd->pid, &st, NULL, NULL) == 0 && st != nd->start) {
        return 0;
    }
    return nd->pid;
}

/* Run a command (no shell), its stderr captured into err. 0, or the exit
 * status (positive) / a negative errno. */
static int run(char *err, size_t errlen, const char *const *argv)
{
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0) {
        return sf_errf(err, errlen, -errno, "pipe: %s", strerror(errno));
    }
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(pfd[0]);
        close(pfd[1]);
        return sf_errf(err, errlen, -e, "fork: %s", strerror(e));
    }
    if (pid == 0) {
        dup2(pfd[1], 2);
        int nul = open("/dev/null", O_RDWR);
        if (nul >= 0) {
            dup2(nul, 0);
            dup2(nul, 1);
        }
        execvp(argv[0], (char *const *)argv);
        dprintf(2, "cannot run %s: %s", argv[0], strerror(errno));
        _exit(127);
    }
    close(pfd[1]);
    char buf[512];
    size_t len = 0;
    for (;;) {
        ssize_t r = read(pfd[0], buf + len, sizeof(buf) - 1 - len);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            break;
        }
        len += (size_t)r;
        if (len == sizeof(buf) - 1) {
            char sink[256];
            while (read(pfd[0], sink, sizeof(sink)) > 0) {
            }
            break;
        }
    }
    close(pfd[0]);
    buf[len] = '\0';
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' ')) {
        buf[--len] = '\0';
    }
    int ws = 0;
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {
    }
    int code = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    if (code != 0) {
        size_t off = 0;
        for (size_t i = 0; argv[i] != NULL && off < errlen; i++) {
            off += (size_t)snprintf(err + off, errlen - off, "%s%s", i ? " " : "", argv[i]);
        }
        if (off < errlen) {
            snprintf(err + off, errlen - off, ": %s", len ? buf : "failed");
        }
    }
    return code;
}

#define RUN(err, errlen, ...) run(err, errlen, (const char *const[]){__VA_ARGS__, NULL})

/* ---- record files ------------------------------------------------------- */

static int path_in(char *buf, size_t len, const char *dir, const char *name)
{
    int n = snprintf(buf, len, "%s/%s", dir, name);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int sf_write_file_atomic(const char *path, const void *data, size_t len)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path, (long)getpid()) >= (int)sizeof(tmp)) {
        return -ENAMETOOLONG;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        return -errno;
    }
    /* The umask can only clear bits; set exactly 0600 anyway. */
    int rc = fchmod(fd, 0600) != 0 ? -errno : 0;
    size_t off = 0;
    while (rc == 0 && off < len) {
        ssize_t n = write(fd, (const char *)data + off, len - off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            rc = -errno;
            break;
        }
        off += (size_t)n;
    }
    /* A crash must not leave an empty file where the old one was. */
    if (rc == 0 && fsync(fd) != 0) {
        rc = -errno;
    }
    if (close(fd) != 0 && rc == 0) {
        rc = -errno;
    }
    if (rc == 0 && rename(tmp, path) != 0) {
        rc = -errno;
    }
    if (rc != 0) {
        unlink(tmp);
    }
    return rc;
}

int sf_cluster_save(const struct sf_cluster *c, char *err, size_t errlen)
{
    size_t cap = 512 + (size_t)c->n * 1400;
    char *rec = malloc(cap), *up = malloc(cap);
    if (rec == NULL || up == NULL) {
        free(rec);
        free(up);
        return sf_errf(err, errlen, -ENOMEM, "out of memory");
    }
    size_t a = 0, b = 0;
    a += (size_t)snprintf(rec + a, cap - a,
                          "# Starfish cluster started by `sf up` (%s); stop it with `sf down`\n",
                          c->netns ? "network namespaces" : "loopback");
    b += (size_t)snprintf(up + b, cap - b, "mode %s\nport %d\nkey %s\n",
                          c->netns ? "netns" : "loopback", c->base_port, c->key);
    for (int i = 0; i < c->n; i++) {
        const struct sf_cnode *nd = &c->nodes[i];
        a += (size_t)snprintf(rec + a, cap - a, "node %s %s %s\n", nd->name, nd->state, nd->addr);
        b += (size_t)snprintf(up + b, cap - b, "pid %s %ld %llu\n", nd->name, (long)nd->pid,
                              nd->start);
    }
    char p1[PATH_MAX], p2[PATH_MAX];
    int rc = path_in(p1, sizeof(p1), c->dir, SF_CLUSTER_RECORD);
    if (rc == 0) {
        rc = path_in(p2, sizeof(p2), c->dir, "up");
    }
    /* The notes first: a record without them could not be taken down. */
    if (rc == 0) {
        rc = sf_write_file_atomic(p2, up, strlen(up));
    }
    if (rc == 0) {
        rc = sf_write_file_atomic(p1, rec, strlen(rec));
    }
    free(rec);
    free(up);
    return rc != 0 ? sf_errf(err, errlen, rc, "cannot write the cluster record in %s: %s", c->dir,
                          sf_strerror(rc))
                   : 0;
}

static char *read_small(const char *path, int *rc)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *rc = -errno;
        return NULL;
    }
    size_t cap = 1 << 16;
    char *buf = malloc(cap + 1);
    size_t len = 0;
    ssize_t n;
    while (buf != NULL && len < cap && (n = read(fd, buf + len, cap - len)) != 0) {
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            break;
        }
        len += (size_t)n;
    }
    close(fd);
    if (buf == NULL) {
        *rc = -ENOMEM;
        return NULL;
    }
    buf[len] = '\0';
    *rc = 0;
    return buf;
}

int sf_cluster_load(struct sf_cluster *c, const char *dir, char *err, size_t errlen)
{
    memset(c, 0, sizeof(*c));
    if (snprintf(c->dir, sizeof(c->dir), "%s", dir) >= (int)sizeof(c->dir)) {
        return sf_errf(err, errlen, -ENAMETOOLONG, "directory name too long: %s", dir);
    }
    char p[PATH_MAX];
    int rc = path_in(p, sizeof(p), dir, SF_CLUSTER_RECORD);
    char *rec = rc == 0 ? read_small(p, &rc) : NULL;
    if (rec == NULL) {
        return sf_errf(err, errlen, rc, "no cluster recorded in %s (%s)", dir, sf_strerror(rc));
    }
    char *save = NULL;
    for (char *line = strtok_r(rec, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        char name[16], state[512], addr[64];
        if (line[0] == '#' || c->n >= SF_CLUSTER_MAX_NODES) {
            continue;
        }
        if (sscanf(line, "node %15s %511s %63s", name, state, addr) == 3) {
            struct sf_cnode *nd = &c->nodes[c->n];
            nd->idx = c->n + 1;
            snprintf(nd->name, sizeof(nd->name), "%s", name);
            snprintf(nd->state, sizeof(nd->state), "%s", state);
            snprintf(nd->addr, sizeof(nd->addr), "%s", addr);
            snprintf(nd->sock, sizeof(nd->sock), "%s/sfd.sock", state);
            c->n++;
        }
    }
    free(rec);
    if (c->n == 0) {
        return sf_errf(err, errlen, -ENOENT, "the cluster record in %s lists no nodes", dir);
    }
    /* The notes are there only for clusters `sf up` started. */
    if (path_in(p, sizeof(p), dir, "up") == 0 && (rec = read_small(p, &rc)) != NULL) {
        for (char *line = strtok_r(rec, "\n", &save); line != NULL;
             line = strtok_r(NULL, "\n", &save)) {
            char a[600];
            long pid;
            unsigned long long st;
            char name[16];
            if (sscanf(line, "mode %15s", name) == 1) {
                c->netns = strcmp(name, "netns") == 0;
            } else if (sscanf(line, "port %d", &c->base_port) == 1) {
            } else if (sscanf(line, "key %599s", a) == 1) {
                snprintf(c->key, sizeof(c->key), "%s", a);
            } else if (sscanf(line, "pid %15s %ld %llu", name, &pid, &st) == 3) {
                struct sf_cnode *nd = sf_cluster_node(c, name);
                if (nd != NULL) {
                    nd->pid = (pid_t)pid;
                    nd->start = st;
                }
            }
        }
        free(rec);
        for (int i = 0; c->netns && i < c->n; i++) {
            snprintf(c->nodes[i].ns, sizeof(c->nodes[i].ns), SF_NETNS_PREFIX "%d", i + 1);
        }
    }
    return 0;
}

struct sf_cnode *sf_cluster_node(struct sf_cluster *c, const char *which)
{
    for (int i = 0; i < c->n; i++) {
        if (strcmp(c->nodes[i].name, which) == 0 || strcmp(c->nodes[i].addr, which) == 0) {
            return &c->nodes[i];
        }
    }
    char *end;
    long v = strtol(which, &end, 10);
    if (*which != '\0' && *end == '\0' && v >= 1 && v <= c->n) {
        return &c->nodes[v - 1];
    }
    return NULL;
}

/* ---- connecting --------------------------------------------------------- */

int sf_cluster_connect_unix(const char *path)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa.sun_path)) {
        return -ENAMETOOLONG;
    }
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -errno;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    return fd;
}

int sf_cluster_connect(const struct sf_cluster *c, char *err, size_t errlen)
{
    int rc = -ENOENT;
    for (int i = 0; i < c->n; i++) {
        rc = sf_cluster_connect_unix(c->nodes[i].sock);
        if (rc >= 0) {
            return rc;
        }
    }
    return sf_errf(err, errlen, rc, "no daemon of the cluster in %s answers (%s): is it up?", c->dir,
                sf_strerror(rc));
}

/* ---- namespaces --------------------------------------------------------- */

static bool exists_path(const char *p)
{
    return access(p, F_OK) == 0;
}

static void netns_remove(const struct sf_cluster *c, int upto)
{
    char e[256];
    for (int i = 1; i <= upto; i++) {
        char ns[32];
        snprintf(ns, sizeof(ns), SF_NETNS_PREFIX "%d", i);
        char p[64], veth[32];
        /* The veth pair first: a deleted namespace takes its end along
         * only later, from the kernel's cleanup work. */
        snprintf(veth, sizeof(veth), SF_NETNS_VETH "%d", i);
        snprintf(p, sizeof(p), "/sys/class/net/%s", veth);
        if (exists_path(p)) {
            RUN(e, sizeof(e), "ip", "link", "del", veth);
        }
        snprintf(p, sizeof(p), "/run/netns/%s", ns);
        if (exists_path(p)) {
            RUN(e, sizeof(e), "ip", "netns", "del", ns);
        }
    }
    if (exists_path("/sys/class/net/" SF_NETNS_BRIDGE)) {
        RUN(e, sizeof(e), "ip", "link", "del", SF_NETNS_BRIDGE);
    }
    (void)c;
}

static int netns_create(int k, char *err, size_t errlen)
{
    if (exists_path("/sys/class/net/" SF_NETNS_BRIDGE)) {
        return sf_errf(err, errlen, -EEXIST,
                    "bridge " SF_NETNS_BRIDGE " exists: a namespaced cluster is up (sf down), "
                    "or remove it with `ip link del " SF_NETNS_BRIDGE "`");
    }
    for (int i = 1; i <= k; i++) {
        char p[64];
        snprintf(p, sizeof(p), "/run/netns/" SF_NETNS_PREFIX "%d", i);
        if (exists_path(p)) {
            return sf_errf(err, errlen, -EEXIST,
                        "network namespace " SF_NETNS_PREFIX "%d exists: a namespaced cluster is "
                        "up (sf down), or remove it with `ip netns del " SF_NETNS_PREFIX "%d`",
                        i, i);
        }
    }
    int rc = RUN(err, errlen, "ip", "link", "add", SF_NETNS_BRIDGE, "type", "bridge");
    if (rc == 0) {
        rc = RUN(err, errlen, "ip", "link", "set", SF_NETNS_BRIDGE, "up");
    }
    for (int i = 1; rc == 0 && i <= k; i++) {
        char ns[32], veth[32], addr[32];
        snprintf(ns, sizeof(ns), SF_NETNS_PREFIX "%d", i);
        snprintf(veth, sizeof(veth), SF_NETNS_VETH "%d", i);
        snprintf(addr, sizeof(addr), SF_NETNS_NET "%d/24", i);
        rc = RUN(err, errlen, "ip", "netns", "add", ns);
        if (rc == 0) {
            rc = RUN(err, errlen, "ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0",
                     "netns", ns);
        }
        if (rc == 0) {
            rc = RUN(err, errlen, "ip", "link", "set", veth, "master", SF_NETNS_BRIDGE, "up");
        }
        if (rc == 0) {
            rc = RUN(err, errlen, "ip", "-n", ns, "addr", "add", addr, "dev", "eth0");
        }
        if (rc == 0) {
            rc = RUN(err, errlen, "ip", "-n", ns, "link", "set", "eth0", "up");
        }
        if (rc == 0) {
            rc = RUN(err, errlen, "ip", "-n", ns, "link", "set", "lo", "up");
        }
    }
    if (rc != 0) {
        netns_remove(NULL, k);
        return rc < 0 ? rc : -EIO;
    }
    return 0;
}

/* ---- starting daemons --------------------------------------------------- */

/* `sfd --help` (stdout and stderr), malloc'd; "" if it cannot be run. Lets
 * sf up pass optional flags only to a daemon that has them. */
static char *sfd_help(const char *sfd)
{
    char *buf = calloc(1, 8192);
    int pfd[2];
    if (buf == NULL || pipe2(pfd, O_CLOEXEC) != 0) {
        return buf;
    }
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pfd[1], 1);
        dup2(pfd[1], 2);
        execl(sfd, "sfd", "--help", (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    size_t len = 0;
    ssize_t n;
    while (pid > 0 && len < 8191 && (n = read(pfd[0], buf + len, 8191 - len)) != 0) {
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            break;
        }
        len += (size_t)n;
    }
    close(pfd[0]);
    buf[len] = '\0';
    if (pid > 0) {
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
        }
    }
    return buf;
}

/* Does the help text list flag (followed by a delimiter)? */
static bool has_flag(const char *help, const char *flag)
{
    const char *p = help;
    size_t fl = strlen(flag);
    while (p != NULL && (p = strstr(p, flag)) != NULL) {
        char after = p[fl];
        if (after == '\0' || after == ' ' || after == '=' || after == '\n' || after == ',' ||
            after == ']' || after == '\t') {
            return true;
        }
        p += fl;
    }
    return false;
}

static int spawn_daemon(struct sf_cluster *c, struct sf_cnode *nd, const struct sf_up_opts *o,
                        const char *join, bool no_autodisc, bool bind_flag, char *err,
                        size_t errlen)
{
    char port[16], logp[PATH_MAX], host[64];
    const char *colon = strrchr(nd->addr, ':');
    snprintf(port, sizeof(port), "%s", colon + 1);
    snprintf(host, sizeof(host), "%.*s", (int)(colon - nd->addr), nd->addr);
    if (path_in(logp, sizeof(logp), nd->state, "sfd.log") != 0) {
        return sf_errf(err, errlen, -ENAMETOOLONG, "path too long");
    }
    const char *argv[24];
    int a = 0;
    argv[a++] = "sfd";
    argv[a++] = "--listen";
    argv[a++] = "--state-dir";
    argv[a++] = nd->state;
    argv[a++] = "--port";
    argv[a++] = port;
    argv[a++] = "--name";
    argv[a++] = nd->name;
    argv[a++] = "--cluster-key";
    argv[a++] = c->key;
    if (join != NULL) {
        argv[a++] = "--join";
        argv[a++] = join;
    }
    if (bind_flag) {
        argv[a++] = "--bind";
        argv[a++] = host;
    }
    if (no_autodisc) {
        argv[a++] = "--no-autodiscover";
    }
    argv[a] = NULL;

    int nsfd = -1;
    if (nd->ns[0] != '\0') {
        char p[64];
        snprintf(p, sizeof(p), "/run/netns/%s", nd->ns);
        nsfd = open(p, O_RDONLY | O_CLOEXEC);
        if (nsfd < 0) {
            return sf_errf(err, errlen, -errno, "cannot open %s: %s", p, strerror(errno));
        }
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        if (nsfd >= 0) {
            close(nsfd);
        }
        return sf_errf(err, errlen, -e, "fork: %s", strerror(e));
    }
    if (pid == 0) {
        /* Own session: `sf node kill` finds the daemon's ranks by it, and a
         * terminal's signals do not reach the daemons. */
        setsid();
        if (c->transient) {
            /* sfrun --sim-nodes: the daemons must not outlive sfrun. */
            prctl(PR_SET_PDEATHSIG, SIGTERM);
            if (getppid() != parent) {
                _exit(1);
            }
        }
        if (nsfd >= 0 && setns(nsfd, CLONE_NEWNET) != 0) {
            dprintf(2, "sf: setns %s: %s\n", nd->ns, strerror(errno));
            _exit(126);
        }
        int nul = open("/dev/null", O_RDONLY);
        int lg = open(logp, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (nul >= 0) {
            dup2(nul, 0);
        }
        if (lg >= 0) {
            dup2(lg, 1);
            dup2(lg, 2);
        }
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        execv(o->sfd, (char *const *)argv);
        dprintf(2, "sf: cannot execute %s: %s\n", o->sfd, strerror(errno));
        _exit(127);
    }
    if (nsfd >= 0) {
        close(nsfd);
    }
    nd->pid = pid;
    /* The child's start time is fixed at fork: read it now. */
    if (proc_stat(pid, &nd->start, NULL, NULL) != 0) {
        nd->start = 0;
    }
    return 0;
}

static int mkdir_p(const char *dir, mode_t mode)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof(tmp), "%s", dir) >= (int)sizeof(tmp)) {
        return -ENAMETOOLONG;
    }
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST) {
                return -errno;
            }
            *p = '/';
        }
    }
    if (mkdir(tmp, mode) != 0 && errno != EEXIST) {
        return -errno;
    }
    return 0;
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

static void rm_rf(const char *path)
{
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* The message for a daemon that died while starting: its log's last
 * line, since a transient cluster's state dir is removed right after. */
static int died(const struct sf_cnode *nd, char *err, size_t errlen)
{
    char p[PATH_MAX];
    int rc = path_in(p, sizeof(p), nd->state, "sfd.log");
    char *log = rc == 0 ? read_small(p, &rc) : NULL;
    const char *last = "";
    if (log != NULL) {
        size_t l = strlen(log);
        while (l > 0 && (log[l - 1] == '\n' || log[l - 1] == ' ')) {
            log[--l] = '\0';
        }
        char *nl = strrchr(log, '\n');
        last = nl != NULL ? nl + 1 : log;
    }
    sf_errf(err, errlen, SF_ERR_PEER_GONE, "the daemon of node %s exited during start-up%s%.300s",
         nd->name, last[0] ? ": " : " (no output)", last);
    free(log);
    return SF_ERR_PEER_GONE;
}

/* A daemon writes "HOST:PORT" into sfd.addr once it listens: wait for
 * that (bounded). With take_port (it was started with --port 0) take the
 * port from there, keeping 127.0.0.1 as the host: where it listens on a
 * loopback cluster. */
static bool stopped(const struct sf_up_opts *o)
{
    return o->interrupted != NULL && *o->interrupted;
}

static int read_addr(const struct sf_up_opts *o, struct sf_cnode *nd, bool take_port,
                     double deadline, char *err, size_t errlen)
{
    char p[PATH_MAX];
    if (path_in(p, sizeof(p), nd->state, "sfd.addr") != 0) {
        return sf_errf(err, errlen, -ENAMETOOLONG, "path too long");
    }
    for (;;) {
        int rc;
        char *text = read_small(p, &rc);
        if (text != NULL) {
            char *colon = strrchr(text, ':');
            long port = colon != NULL ? strtol(colon + 1, NULL, 10) : 0;
            free(text);
            if (port > 0 && port < 65536) {
                if (take_port) {
                    snprintf(nd->addr, sizeof(nd->addr), "127.0.0.1:%ld", port);
                }
                return 0;
            }
        }
        if (!sf_cluster_node_alive(nd)) {
            return died(nd, err, errlen);
        }
        if (sf_now_s() > deadline) {
            return sf_errf(err, errlen, -ETIMEDOUT, "node %s did not write %s", nd->name, p);
        }
        if (stopped(o)) {
            return sf_errf(err, errlen, -EINTR, "interrupted");
        }
        nap_ms(20);
    }
}

/* Count the nodes node 1 lists as alive (STATUS_REQ what=1). <0 if the
 * daemon does not answer. */
static int members_seen(const struct sf_cnode *nd, char *err, size_t errlen)
{
    int fd = sf_cluster_connect_unix(nd->sock);
    if (fd < 0) {
        return sf_errf(err, errlen, fd, "%s: no socket yet (%s)", nd->name, sf_strerror(fd));
    }
    struct sf_rows rows = {0};
    int rc = sf_query(fd, "nodes", 2.0, &rows, err, errlen);
    close(fd);
    if (rc != 0) {
        return rc;
    }
    int n = sf_rows_count_alive(&rows);
    if (getenv("SF_DEBUG_UP") != NULL) { /* what the wait sees, for start-up trouble */
        for (size_t i = 0; i < rows.n; i++) {
            fprintf(stderr, "sf: %s: %s\n", nd->name, rows.v[i]);
        }
    }
    sf_rows_free(&rows);
    return n;
}

int sf_cluster_up(struct sf_cluster *c, const struct sf_up_opts *o, char *err, size_t errlen)
{
    if (o->nodes < 1 || o->nodes > SF_CLUSTER_MAX_NODES) {
        return sf_errf(err, errlen, -EINVAL, "--nodes must be 1..%d", SF_CLUSTER_MAX_NODES);
    }
    if (o->netns && geteuid() != 0) {
        return sf_errf(err, errlen, -EPERM, "--netns needs root (network namespaces and a bridge)");
    }
    int rc = mkdir_p(c->dir, 0700);
    if (rc != 0) {
        return sf_errf(err, errlen, rc, "cannot create %s: %s", c->dir, sf_strerror(rc));
    }
    struct sf_cluster old;
    char e2[256];
    if (sf_cluster_load(&old, c->dir, e2, sizeof(e2)) == 0) {
        for (int i = 0; i < old.n; i++) {
            if (sf_cluster_node_alive(&old.nodes[i])) {
                return sf_errf(err, errlen, -EEXIST,
                            "a cluster is already up in %s (node %s, pid %ld): `sf down` first",
                            c->dir, old.nodes[i].name, (long)old.nodes[i].pid);
            }
        }
        /* A dead cluster's leftovers: clear them before starting anew. */
        sf_cluster_down(&old, 0.0, e2, sizeof(e2));
        mkdir_p(c->dir, 0700);
    }
    c->netns = o->netns;
    c->base_port = o->base_port > 0 ? o->base_port : DEFAULT_BASE_PORT;
    if (!o->netns && c->base_port + o->nodes - 1 > 65535) {
        return sf_errf(err, errlen, -EINVAL, "ports %d..%d do not fit", c->base_port,
                    c->base_port + o->nodes - 1);
    }
    if (c->key[0] == '\0' && path_in(c->key, sizeof(c->key), c->dir, SF_CLUSTER_KEYFILE) != 0) {
        return sf_errf(err, errlen, -ENAMETOOLONG, "path too long");
    }
    if (!exists_path(c->key)) {
        rc = sf_keygen(c->key, false);
        if (rc != 0 && rc != -EEXIST) {
            return sf_errf(err, errlen, rc, "cannot create the cluster key %s: %s", c->key,
                        sf_strerror(rc));
        }
    }
    if (o->netns) {
        rc = netns_create(o->nodes, err, errlen);
        if (rc != 0) {
            return rc;
        }
    }
    char *help = sfd_help(o->sfd);
    bool no_autodisc = help != NULL && has_flag(help, "--no-autodiscover");
    bool bind_flag = help != NULL && has_flag(help, "--bind");
    if (help != NULL && strstr(help, "autodiscover") != NULL && !no_autodisc && !o->netns &&
        !o->quiet) {
        /* Discovery packets on the LAN would leave the machine. */
        fprintf(stderr, "sf: note: %s discovers peers on the LAN and cannot be told not to\n",
                o->sfd);
    }
    free(help);
    c->n = o->nodes;
    char join[64];
    for (int i = 0; i < c->n; i++) {
        struct sf_cnode *nd = &c->nodes[i];
        memset(nd, 0, sizeof(*nd));
        nd->idx = i + 1;
        snprintf(nd->name, sizeof(nd->name), "n%d", i + 1);
        /* Unix socket paths are short (108 bytes with the NUL). */
        char st[sizeof(nd->state)], sk[sizeof(nd->sock)];
        int l1 = snprintf(st, sizeof(st), "%s/%s", c->dir, nd->name);
        int l2 = snprintf(sk, sizeof(sk), "%s/sfd.sock", st);
        if (l1 < 0 || l2 < 0 || (size_t)l2 >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
            rc = sf_errf(err, errlen, -ENAMETOOLONG,
                      "%s is too long a path for the daemons' Unix sockets", c->dir);
            break;
        }
        memcpy(nd->state, st, sizeof(st));
        memcpy(nd->sock, sk, sizeof(sk));
        if (o->netns) {
            snprintf(nd->ns, sizeof(nd->ns), SF_NETNS_PREFIX "%d", i + 1);
            snprintf(nd->addr, sizeof(nd->addr), SF_NETNS_NET "%d:%d", i + 1, c->base_port);
        } else {
            snprintf(nd->addr, sizeof(nd->addr), "127.0.0.1:%d", c->base_port + i);
        }
        rm_rf(nd->state);
        rc = mkdir_p(nd->state, 0700);
        if (rc != 0) {
            sf_errf(err, errlen, rc, "cannot create %s: %s", nd->state, sf_strerror(rc));
            break;
        }
        if (o->any_port && !o->netns) {
            snprintf(nd->addr, sizeof(nd->addr), "127.0.0.1:0");
        }
        rc = spawn_daemon(c, nd, o, i > 0 ? join : NULL, !o->netns && no_autodisc,
                          !o->netns && bind_flag, err, errlen);
        /* Others join node 1: it must listen first. A free port is known
         * only from the daemon's sfd.addr. */
        bool take_port = o->any_port && !o->netns;
        if (rc == 0 && (i == 0 || take_port)) {
            rc = read_addr(o, nd, take_port, sf_now_s() + (o->wait > 0 ? o->wait : 20.0), err, errlen);
        }
        /* Recorded at once: `sf down` can stop what an interrupted up
         * started. */
        if (rc == 0) {
            int n = c->n;
            c->n = i + 1;
            rc = sf_cluster_save(c, err, errlen);
            c->n = n;
        }
        if (rc == 0 && stopped(o)) {
            rc = sf_errf(err, errlen, -EINTR, "interrupted");
        }
        if (rc != 0) {
            break;
        }
        if (i == 0) {
            snprintf(join, sizeof(join), "%s", nd->addr);
        }
    }
    if (rc == 0) {
        rc = sf_cluster_save(c, err, errlen);
    }
    /* Wait until node 1 lists all K as alive. */
    double deadline = sf_now_s() + (o->wait > 0 ? o->wait : 20.0);
    int seen = -1;
    while (rc == 0) {
        for (int i = 0; i < c->n; i++) {
            if (!sf_cluster_node_alive(&c->nodes[i])) {
                rc = died(&c->nodes[i], err, errlen);
                break;
            }
        }
        if (rc != 0) {
            break;
        }
        char qerr[256];
        seen = members_seen(&c->nodes[0], qerr, sizeof(qerr));
        if (seen == c->n) {
            break;
        }
        if (seen == SF_ERR_UNSUPPORTED) {
            rc = sf_errf(err, errlen, seen, "%s cannot list its nodes: %s", c->nodes[0].name, qerr);
            break;
        }
        if (stopped(o)) {
            rc = sf_errf(err, errlen, -EINTR, "interrupted");
            break;
        }
        if (sf_now_s() > deadline) {
            if (seen >= 0) {
                rc = sf_errf(err, errlen, -ETIMEDOUT, "after %.0f s node %s sees %d of %d nodes alive",
                          o->wait > 0 ? o->wait : 20.0, c->nodes[0].name, seen, c->n);
            } else {
                rc = sf_errf(err, errlen, -ETIMEDOUT, "after %.0f s: %s", o->wait > 0 ? o->wait : 20.0,
                          qerr);
            }
            break;
        }
        nap_ms(50);
    }
    if (rc != 0) {
        char e3[256];
        sf_cluster_down(c, 2.0, e3, sizeof(e3));
    }
    return rc;
}

int sf_cluster_down(struct sf_cluster *c, double grace, char *err, size_t errlen)
{
    int first = 0;
    for (int i = 0; i < c->n; i++) {
        if (sf_cluster_node_alive(&c->nodes[i])) {
            kill(c->nodes[i].pid, SIGTERM); /* it says goodbye to its peers */
        }
    }
    double deadline = sf_now_s() + grace;
    for (int i = 0; i < c->n; i++) {
        struct sf_cnode *nd = &c->nodes[i];
        if (nd->pid <= 0) {
            continue;
        }
        if (!wait_gone(nd, deadline)) {
            fprintf(stderr, "sf: node %s (pid %ld) did not stop within %.1f s: killing it\n",
                    nd->name, (long)nd->pid, grace);
            kill(nd->pid, SIGKILL);
            wait_gone(nd, sf_now_s() + 5.0);
        }
        /* Ranks left behind in the daemon's session or namespace. */
        char p[64];
        snprintf(p, sizeof(p), "/run/netns/%s", nd->ns);
        kill_group(session_of(nd), nd->ns[0] ? netns_ino(p) : 0);
    }
    if (c->netns) {
        netns_remove(c, c->n);
        if (exists_path("/sys/class/net/" SF_NETNS_BRIDGE) && first == 0) {
            first = sf_errf(err, errlen, -EBUSY, "could not remove bridge " SF_NETNS_BRIDGE);
        }
    }
    for (int i = 0; i < c->n; i++) {
        rm_rf(c->nodes[i].state);
    }
    char p[PATH_MAX];
    if (path_in(p, sizeof(p), c->dir, SF_CLUSTER_RECORD) == 0) {
        unlink(p);
    }
    if (path_in(p, sizeof(p), c->dir, "up") == 0) {
        unlink(p);
    }
    if (c->transient) {
        rm_rf(c->dir);
    }
    return first;
}

int sf_cluster_node_kill(struct sf_cluster *c, struct sf_cnode *nd, char *err, size_t errlen)
{
    (void)c;
    if (!sf_cluster_node_alive(nd)) {
        return sf_errf(err, errlen, -ESRCH, "node %s: no daemon running", nd->name);
    }
    /* The daemon first, so it cannot start anything new; then everything
     * in its session (its ranks) and, namespaced, in its namespace. */
    kill(nd->pid, SIGKILL);
    char p[64];
    snprintf(p, sizeof(p), "/run/netns/%s", nd->ns);
    kill_group(session_of(nd), nd->ns[0] ? netns_ino(p) : 0);
    wait_gone(nd, sf_now_s() + 5.0);
    return 0;
}

int sf_cluster_node_link(struct sf_cluster *c, struct sf_cnode *nd, bool up, char *err,
                         size_t errlen)
{
    if (!c->netns || nd->ns[0] == '\0') {
        return sf_errf(err, errlen, SF_ERR_UNSUPPORTED,
                    "node %s is not in a network namespace: cut/heal need `sf up --netns`",
                    nd->name);
    }
    /* The host end: the namespace keeps its address and routes, packets
     * just stop flowing, as when a cable is pulled. */
    char veth[32];
    snprintf(veth, sizeof(veth), SF_NETNS_VETH "%d", nd->idx);
    int rc = RUN(err, errlen, "ip", "link", "set", veth, up ? "up" : "down");
    return rc == 0 ? 0 : (rc < 0 ? rc : -EIO);
}
