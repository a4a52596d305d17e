/* CRIU backend (sf_ckpt_criu.h): find the criu binary, walk the tree to
 * dump for descriptors that lead outside it, run `criu dump` / `criu
 * restore` and wait for them. Not the rank quiesce (runtime/rt) nor the
 * daemon's orchestration (launcher/sfd/sfd_ckpt_criu.c). Blocking, no
 * global state; runs on sfd's worker threads, so between clone and exec
 * the child uses only async-signal-safe calls. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "checkpoint/sf_ckpt_criu.h"

#define CRIU_MAX_PIDS 4096
#define CRIU_MAX_ARGS 512

static const char *criu_path(void)
{
    const char *env = getenv("SF_CRIU");
    if (env != NULL && *env != '\0') {
        return env;
    }
    static const char *const cands[] = {
#ifdef SF_CRIU_BUILD
        SF_CRIU_BUILD,
#endif
#ifdef SF_CRIU_SRC
        SF_CRIU_SRC,
#endif
        "/usr/local/sbin/criu", "/usr/sbin/criu", "/usr/local/bin/criu", "/usr/bin/criu",
    };
    for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++) {
        if (access(cands[i], X_OK) == 0) {
            return cands[i];
        }
    }
    return NULL;
}

/* In a child: put src[i] at dst[i], stdin from /dev/null, stdout and
 * stderr to out, signals unblocked, exec criu. Async-signal-safe only. */
static void __attribute__((noreturn))
exec_criu(char *const argv[], const int *src, const int *dst, int n, int out)
{
    int tmp[64];
    /* Move the sources out of the way first: a source may sit on
     * another's destination number. */
    for (int i = 0; i < n && i < 64; i++) {
        tmp[i] = fcntl(src[i], F_DUPFD_CLOEXEC, 2000);
        if (tmp[i] < 0) {
            _exit(126);
        }
    }
    for (int i = 0; i < n && i < 64; i++) {
        if (dup2(tmp[i], dst[i]) < 0) {
            _exit(126);
        }
    }
    int in = open("/dev/null", O_RDONLY);
    if (out < 0 || in < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0) {
        _exit(126);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execv(argv[0], argv);
    _exit(127);
}

/* Make room for one more element in a growing array. */
static int grow(void **v, int *cap, int n, size_t elem, int first)
{
    if (n < *cap) {
        return 0;
    }
    int nc = *cap ? *cap * 2 : first;
    void *nv = realloc(*v, elem * (size_t)nc);
    if (nv == NULL) {
        return -ENOMEM;
    }
    *v = nv;
    *cap = nc;
    return 0;
}

/* Run criu with argv; fds src[i] appear in it as dst[i]. Its stdout and
 * stderr go to outfile (or /dev/null). The exit status (waitpid's), or a
 * negative code. criu is the child of a short-lived intermediate process
 * that waits for it and writes its status into a pipe: the caller's own
 * reaper (sfd reaps every child with waitpid(-1)) can never take it. */
static int run(char *const argv[], const int *src, const int *dst, int n, const char *outfile)
{
    int pfd[2];
    if (n > 64) {
        return -E2BIG;
    }
    if (pipe2(pfd, O_CLOEXEC) != 0) {
        return -errno;
    }
    pid_t mid = fork();
    if (mid < 0) {
        int e = -errno;
        close(pfd[0]);
        close(pfd[1]);
        return e;
    }
    if (mid == 0) {
        pid_t pid = fork();
        if (pid == 0) {
            exec_criu(argv, src, dst, n,
                      open(outfile != NULL ? outfile : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC,
                           0600));
        }
        int ws = pid < 0 ? -1 : 0;
        while (pid > 0 && waitpid(pid, &ws, 0) < 0 && errno == EINTR) {
        }
        ssize_t w = write(pfd[1], &ws, sizeof(ws));
        _exit(w == (ssize_t)sizeof(ws) ? 0 : 1);
    }
    close(pfd[1]);
    int ws = 0;
    ssize_t got;
    do {
        got = read(pfd[0], &ws, sizeof(ws));
    } while (got < 0 && errno == EINTR);
    close(pfd[0]);
    waitpid(mid, NULL, WNOHANG); /* sfd's reaper may take it first: fine */
    if (got != (ssize_t)sizeof(ws) || ws == -1) {
        return -ECHILD;
    }
    return ws;
}

int sf_ckpt_criu_available(char *why, size_t cap)
{
    const char *criu = criu_path();
    if (criu == NULL) {
        snprintf(why, cap, "no criu binary (set SF_CRIU, or run scripts/setup, which builds "
                           "CRIU 4.2 into _build/criu)");
        return 0;
    }
    if (geteuid() != 0) {
        snprintf(why, cap, "CRIU needs root here (sfd runs as uid %d)", (int)geteuid());
        return 0;
    }
    char *argv[] = {(char *)criu, "check", NULL};
    int ws = run(argv, NULL, NULL, 0, NULL);
    if (ws < 0 || !WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
        snprintf(why, cap, "'%s check' fails on this kernel", criu);
        return 0;
    }
    snprintf(why, cap, "%s", criu);
    return 1;
}

/* ---- the tree and its external descriptors ---- */

static int tree_add(pid_t *pids, int n, pid_t p)
{
    if (n >= CRIU_MAX_PIDS) {
        return n;
    }
    pids[n] = p;
    return n + 1;
}

/* root and all its descendants, parents first. */
static int tree_pids(pid_t root, pid_t *pids)
{
    int n = tree_add(pids, 0, root);
    for (int i = 0; i < n; i++) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/task", (int)pids[i]);
        DIR *d = opendir(path);
        if (d == NULL) {
            continue;
        }
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (de->d_name[0] == '.') {
                continue;
            }
            char cp[320];
            snprintf(cp, sizeof(cp), "/proc/%d/task/%s/children", (int)pids[i], de->d_name);
            FILE *f = fopen(cp, "r");
            if (f == NULL) {
                continue;
            }
            int c;
            while (fscanf(f, "%d", &c) == 1) {
                n = tree_add(pids, n, (pid_t)c);
            }
            fclose(f);
        }
        closedir(d);
    }
    return n;
}

/* The innermost pid of p (last NSpid field), or -1. */
static pid_t ns_pid(pid_t p)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)p);
    FILE *f = fopen(path, "r");
    pid_t v = -1;
    if (f == NULL) {
        return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "NSpid:", 6) == 0) {
            char *s = line + 6, *end;
            for (;;) {
                long x = strtol(s, &end, 10);
                if (end == s) {
                    break;
                }
                v = (pid_t)x;
                s = end;
            }
            break;
        }
    }
    fclose(f);
    return v;
}

pid_t sf_ckpt_criu_find(pid_t root, pid_t nspid)
{
    pid_t *pids = malloc(sizeof(pid_t) * CRIU_MAX_PIDS);
    if (pids == NULL) {
        return -ENOMEM;
    }
    int n = tree_pids(root, pids);
    pid_t found = -ESRCH;
    for (int i = 0; i < n; i++) {
        if (ns_pid(pids[i]) == nspid) {
            found = pids[i];
            break;
        }
    }
    free(pids);
    return found;
}

/* Unix sockets of this network namespace and their peers (sock_diag). */
struct usk {
    unsigned ino, peer;
};

static int unix_peers(struct usk **out)
{
    int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (fd < 0) {
        return -errno;
    }
    struct {
        struct nlmsghdr nlh;
        struct unix_diag_req req;
    } msg = {
        .nlh = {.nlmsg_len = sizeof(msg), .nlmsg_type = SOCK_DIAG_BY_FAMILY,
                .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP},
        .req = {.sdiag_family = AF_UNIX, .udiag_states = ~0u, .udiag_show = UDIAG_SHOW_PEER},
    };
    if (send(fd, &msg, sizeof(msg), 0) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    struct usk *v = NULL;
    int n = 0, cap = 0, rc = 0;
    static char buf[32768];
    for (bool done = false; !done;) {
        ssize_t len = recv(fd, buf, sizeof(buf), 0);
        if (len < 0) {
            if (errno == EINTR) {
                continue;
            }
            rc = -errno;
            break;
        }
        if (len == 0) {
            break;
        }
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)len);
             h = NLMSG_NEXT(h, len)) {
            if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
                done = true;
                break;
            }
            struct unix_diag_msg *m = NLMSG_DATA(h);
            unsigned peer = 0;
            int alen = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*m));
            for (struct rtattr *a = (struct rtattr *)(m + 1); RTA_OK(a, alen);
                 a = RTA_NEXT(a, alen)) {
                if (a->rta_type == UNIX_DIAG_PEER) {
                    memcpy(&peer, RTA_DATA(a), sizeof(peer));
                }
            }
            if (grow((void **)&v, &cap, n, sizeof(*v), 256) < 0) {
                rc = -ENOMEM;
                done = true;
                break;
            }
            v[n].ino = m->udiag_ino;
            v[n].peer = peer;
            n++;
        }
    }
    close(fd);
    if (rc < 0) {
        free(v);
        return rc;
    }
    *out = v;
    return n;
}

struct fdent {
    pid_t pid, nspid;
    int fd;
    char link[64];
    dev_t rdev, dev;
    bool tty;
};

/* Every descriptor of every process in the tree. */
static int tree_fds(const pid_t *pids, int np, struct fdent **out)
{
    struct fdent *v = NULL;
    int n = 0, cap = 0;
    for (int i = 0; i < np; i++) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/fd", (int)pids[i]);
        DIR *d = opendir(path);
        if (d == NULL) {
            continue;
        }
        pid_t nsp = ns_pid(pids[i]);
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (de->d_name[0] == '.') {
                continue;
            }
            if (grow((void **)&v, &cap, n, sizeof(*v), 64) < 0) {
                closedir(d);
                free(v);
                return -ENOMEM;
            }
            struct fdent *e = &v[n];
            memset(e, 0, sizeof(*e));
            e->pid = pids[i];
            e->nspid = nsp;
            e->fd = atoi(de->d_name);
            char lp[320];
            snprintf(lp, sizeof(lp), "%s/%s", path, de->d_name);
            ssize_t l = readlink(lp, e->link, sizeof(e->link) - 1);
            if (l <= 0) {
                continue;
            }
            e->link[l] = '\0';
            struct stat st;
            if (strncmp(e->link, "/dev/pts/", 9) == 0 && stat(lp, &st) == 0 && S_ISCHR(st.st_mode)) {
                e->tty = true;
                e->rdev = st.st_rdev;
                e->dev = st.st_dev;
            }
            n++;
        }
        closedir(d);
    }
    *out = v;
    return n;
}

static bool self_has(const char *link)
{
    DIR *d = opendir("/proc/self/fd");
    bool found = false;
    if (d == NULL) {
        return false;
    }
    struct dirent *de;
    while (!found && (de = readdir(d)) != NULL) {
        char lp[300], l[64];
        snprintf(lp, sizeof(lp), "/proc/self/fd/%s", de->d_name);
        ssize_t k = readlink(lp, l, sizeof(l) - 1);
        if (k > 0) {
            l[k] = '\0';
            found = strcmp(l, link) == 0;
        }
    }
    closedir(d);
    return found;
}

int sf_ckpt_criu_dump(pid_t pid, const char *dir, bool leave_running, char *err, size_t cap)
{
    const char *criu = criu_path();
    if (criu == NULL) {
        snprintf(err, cap, "no criu binary (set SF_CRIU or run scripts/setup)");
        return -ENOENT;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        int e = -errno;
        snprintf(err, cap, "cannot create %s: %s", dir, strerror(errno));
        return e;
    }
    pid_t *pids = malloc(sizeof(pid_t) * CRIU_MAX_PIDS);
    struct fdent *fds = NULL;
    struct usk *usk = NULL;
    char **argv = calloc(CRIU_MAX_ARGS, sizeof(char *));
    char (*ext)[48] = calloc(CRIU_MAX_ARGS, sizeof(*ext));
    int rc = -ENOMEM, nargs = 0, next = 0;
    FILE *ef = NULL;
    if (pids == NULL || argv == NULL || ext == NULL) {
        snprintf(err, cap, "out of memory");
        goto out;
    }
    int np = tree_pids(pid, pids);
    int nf = tree_fds(pids, np, &fds);
    int nu = unix_peers(&usk);
    if (nf < 0 || nu < 0) {
        rc = nf < 0 ? nf : nu;
        snprintf(err, cap, "cannot list the tree's descriptors: %s", strerror(-rc));
        goto out;
    }
    char path[4096];
    snprintf(path, sizeof(path), "%s/externals", dir);
    ef = fopen(path, "w");
    if (ef == NULL) {
        rc = -errno;
        snprintf(err, cap, "cannot write %s: %s", path, strerror(errno));
        goto out;
    }
    for (int i = 0; i < nf; i++) {
        struct fdent *e = &fds[i];
        char key[64] = "", extarg[48] = "";
        unsigned ino;
        if (e->tty) {
            snprintf(key, sizeof(key), "tty[%llx:%llx]", (unsigned long long)e->rdev,
                     (unsigned long long)e->dev);
            snprintf(extarg, sizeof(extarg), "%s", key);
        } else if (sscanf(e->link, "socket:[%u]", &ino) == 1) {
            /* A unix socket whose peer is not in the tree (sfd's end). */
            unsigned peer = 0;
            bool is_unix = false;
            for (int k = 0; k < nu; k++) {
                if (usk[k].ino == ino) {
                    is_unix = true;
                    peer = usk[k].peer;
                }
            }
            bool inside = false;
            for (int j = 0; j < nf && peer != 0; j++) {
                unsigned o;
                inside |= sscanf(fds[j].link, "socket:[%u]", &o) == 1 && o == peer;
            }
            if (is_unix && peer != 0 && !inside) {
                snprintf(key, sizeof(key), "socket:[%u]", ino);
                snprintf(extarg, sizeof(extarg), "unix[%u]", ino);
            }
        } else if (strncmp(e->link, "pipe:[", 6) == 0 && self_has(e->link)) {
            snprintf(key, sizeof(key), "%s", e->link); /* our end is here: external */
        }
        if (key[0] == '\0') {
            continue;
        }
        fprintf(ef, "%s %d %d\n", key, (int)e->nspid, e->fd);
        bool dup = false;
        for (int k = 0; k < next && !dup; k++) {
            dup = strcmp(ext[k], extarg) == 0;
        }
        if (extarg[0] != '\0' && !dup && next < CRIU_MAX_ARGS / 2 - 16) {
            snprintf(ext[next++], sizeof(ext[0]), "%s", extarg);
        }
    }
    if (fclose(ef) != 0) {
        ef = NULL;
        rc = -EIO;
        snprintf(err, cap, "cannot write %s", path);
        goto out;
    }
    ef = NULL;
    char tpid[16];
    snprintf(tpid, sizeof(tpid), "%d", (int)pid);
    argv[nargs++] = (char *)criu;
    argv[nargs++] = "dump";
    argv[nargs++] = "-t";
    argv[nargs++] = tpid;
    argv[nargs++] = "-D";
    argv[nargs++] = (char *)dir;
    argv[nargs++] = "-o";
    argv[nargs++] = "dump.log";
    argv[nargs++] = "--network-lock";
    argv[nargs++] = "nftables";
    if (leave_running) {
        argv[nargs++] = "--leave-running";
    }
    for (int k = 0; k < next; k++) {
        argv[nargs++] = "--external";
        argv[nargs++] = ext[k];
    }
    argv[nargs] = NULL;
    snprintf(path, sizeof(path), "%s/dump.out", dir);
    int ws = run(argv, NULL, NULL, 0, path);
    if (ws < 0) {
        rc = ws;
        snprintf(err, cap, "cannot run %s: %s", criu, strerror(-ws));
    } else if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
        rc = -EIO;
        snprintf(err, cap, "criu dump of pid %d failed (see %s/dump.log)", (int)pid, dir);
    } else {
        rc = 0;
    }
out:
    if (ef != NULL) {
        fclose(ef);
    }
    free(pids);
    free(fds);
    free(usk);
    free(argv);
    free(ext);
    return rc;
}

int sf_ckpt_criu_externals(const char *dir, struct sf_ckpt_criu_ext **out)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/externals", dir);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return -errno;
    }
    struct sf_ckpt_criu_ext *v = NULL;
    int n = 0, cap = 0;
    char key[64];
    int nspid, fd;
    while (fscanf(f, "%63s %d %d", key, &nspid, &fd) == 3) {
        if (grow((void **)&v, &cap, n, sizeof(*v), 16) < 0) {
            free(v);
            fclose(f);
            return -ENOMEM;
        }
        snprintf(v[n].key, sizeof(v[n].key), "%s", key);
        v[n].nspid = nspid;
        v[n].fd = fd;
        n++;
    }
    fclose(f);
    *out = v;
    return n;
}

/* criu's argv for a restore; fds go to 1000 + i. */
struct restore_args {
    char *argv[128];
    char inh[48][96];
    int src[48], dst[48];
    char pidfile[4096], out[4096];
};

static int restore_prepare(const char *dir, const struct sf_ckpt_criu_fd *fds, int nfds,
                           struct restore_args *a, char *err, size_t cap)
{
    const char *criu = criu_path();
    if (criu == NULL) {
        snprintf(err, cap, "no criu binary (set SF_CRIU or run scripts/setup)");
        return -ENOENT;
    }
    if (nfds > 48) {
        snprintf(err, cap, "too many external descriptors (%d)", nfds);
        return -E2BIG;
    }
    struct sf_ckpt_criu_ext *ext = NULL;
    int ne = sf_ckpt_criu_externals(dir, &ext);
    if (ne < 0) {
        snprintf(err, cap, "no %s/externals: %s (not a CRIU image?)", dir, strerror(-ne));
        return ne;
    }
    for (int i = 0; i < ne; i++) {
        bool have = false;
        for (int k = 0; k < nfds && !have; k++) {
            have = strcmp(fds[k].key, ext[i].key) == 0;
        }
        if (!have) {
            snprintf(err, cap, "no replacement for %s (fd %d of pid %d in the image)", ext[i].key,
                     ext[i].fd, (int)ext[i].nspid);
            free(ext);
            return -ENOENT;
        }
    }
    free(ext);
    int na = 0;
    snprintf(a->pidfile, sizeof(a->pidfile), "%s/restore.pid", dir);
    snprintf(a->out, sizeof(a->out), "%s/restore.out", dir);
    unlink(a->pidfile);
    a->argv[na++] = (char *)criu;
    a->argv[na++] = "restore";
    a->argv[na++] = "-D";
    a->argv[na++] = (char *)dir;
    a->argv[na++] = "-o";
    a->argv[na++] = "restore.log";
    a->argv[na++] = "--restore-detached";
    a->argv[na++] = "--restore-sibling";
    a->argv[na++] = "--pidfile";
    a->argv[na++] = a->pidfile;
    a->argv[na++] = "--network-lock";
    a->argv[na++] = "nftables";
    for (int k = 0; k < nfds; k++) {
        a->src[k] = fds[k].fd;
        a->dst[k] = 1000 + k;
        snprintf(a->inh[k], sizeof(a->inh[k]), "fd[%d]:%s", a->dst[k], fds[k].key);
        a->argv[na++] = "--inherit-fd";
        a->argv[na++] = a->inh[k];
    }
    a->argv[na] = NULL;
    return 0;
}

int sf_ckpt_criu_restore_start(const char *dir, const struct sf_ckpt_criu_fd *fds, int nfds,
                               int *done_fd, char *err, size_t cap)
{
    struct restore_args *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        return -ENOMEM;
    }
    int rc = restore_prepare(dir, fds, nfds, a, err, cap);
    int pfd[2] = {-1, -1};
    if (rc == 0 && pipe2(pfd, O_CLOEXEC) != 0) {
        rc = -errno;
        snprintf(err, cap, "pipe: %s", strerror(errno));
    }
    pid_t pid = rc == 0 ? fork() : -1;
    if (rc == 0 && pid < 0) {
        rc = -errno;
        snprintf(err, cap, "fork: %s", strerror(errno));
    }
    if (pid == 0) {
        exec_criu(a->argv, a->src, a->dst, nfds, pfd[1]);
    }
    if (pfd[1] >= 0) {
        close(pfd[1]);
    }
    free(a);
    if (rc < 0) {
        if (pfd[0] >= 0) {
            close(pfd[0]);
        }
        return rc;
    }
    *done_fd = pfd[0];
    return 0;
}

int sf_ckpt_criu_restore_finish(const char *dir, pid_t *pid_out, char *err, size_t cap)
{
    char pidfile[4200];
    snprintf(pidfile, sizeof(pidfile), "%s/restore.pid", dir);
    FILE *f = fopen(pidfile, "r");
    int p = 0;
    if (f == NULL || fscanf(f, "%d", &p) != 1 || p <= 0 || kill(p, 0) != 0) {
        if (f != NULL) {
            fclose(f);
        }
        snprintf(err, cap, "criu restore from %s failed (see %s/restore.log)", dir, dir);
        return -EIO;
    }
    fclose(f);
    *pid_out = (pid_t)p;
    return 0;
}

int sf_ckpt_criu_restore_fds(const char *dir, const struct sf_ckpt_criu_fd *fds, int nfds,
                             pid_t *pid_out, char *err, size_t cap)
{
    int fd;
    int rc = sf_ckpt_criu_restore_start(dir, fds, nfds, &fd, err, cap);
    if (rc < 0) {
        return rc;
    }
    char buf[512];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) != 0) {
        if (n < 0 && errno != EINTR) {
            break;
        }
    }
    close(fd);
    return sf_ckpt_criu_restore_finish(dir, pid_out, err, cap);
}

int sf_ckpt_criu_restore(const char *dir, pid_t *pid_out, char *err, size_t cap)
{
    return sf_ckpt_criu_restore_fds(dir, NULL, 0, pid_out, err, cap);
}
