/* `sf fs ...`: the Starfish filesystem from the shell (put, get, cat, ls,
 * stat, rm, mkdir, mv, du, status, scrub, mount) over the client library
 * fs/sf_fs_client.h and the local daemon. Exit codes: 0 ok, 1 an operation
 * failed ("sf fs: PATH: reason" on stderr), 2 usage. Single-threaded (the
 * FUSE mount lives in sf_fs_mount.c). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs/sf_fs_client.h"
#include "launcher/sf_fs_int.h"
#include "launcher/sf_int.h"
#include "runtime/base/sf_err.h"
#include "runtime/base/sf_log.h"

enum { FS_OK = 0, FS_FAIL = 1, FS_USAGE = 2 };

static void fs_usage(FILE *out)
{
    fprintf(out,
            "usage: sf [--dir DIR] fs COMMAND [args]   (paths in the filesystem: /a/b;\n"
            "                                           a missing leading / is added)\n"
            "  put [-r N] [-m MODE] [-x] LOCAL PATH   copy a local file (- = stdin) in;\n"
            "                            PATH an existing directory: PATH/name. -r: replicas\n"
            "                            (default SF_FS_REPLICAS), -m: octal mode, -x: fail if\n"
            "                            PATH changes meanwhile instead of replacing it\n"
            "  get PATH LOCAL            copy out (LOCAL - = stdout; a directory: LOCAL/name)\n"
            "  cat PATH...               print files\n"
            "  ls [-l] [PATH...]         list directories (default /)\n"
            "  stat PATH...              a file's attributes\n"
            "  rm [-r] [-f] PATH...      remove files (-r: directories and what they hold;\n"
            "                            -f: a missing PATH is not an error)\n"
            "  mkdir [-p] [-m MODE] PATH...  make directories (-p: parents too, existing ok)\n"
            "  mv FROM TO                rename (TO an existing directory: TO/name)\n"
            "  du [-h] [PATH...]         bytes, bytes stored with replicas, files, directories\n"
            "  truncate -s SIZE PATH     set a file's size\n"
            "  status                    the local daemon's filesystem status\n"
            "  scrub                     verify every block the local daemon stores\n"
            "  gc                        free the local daemon's blocks no file references\n"
            "                            (blocks younger than SF_FSBLK_GC_GRACE are kept)\n"
            "  mount [-f] DIR            mount the filesystem on DIR with FUSE (-f: stay in\n"
            "                            the foreground); unmount with fusermount3 -u DIR\n"
            "Progress is shown on a terminal for transfers over 4 MiB.\n"
            "Environment: SF_FS_BLOCK_SIZE, SF_FS_REPLICAS, SF_FS_CLIENT_TIMEOUT,\n"
            "SF_FS_CLIENT_WINDOW (blocks in flight).\n");
}

static int fs_usage_err(const char *msg, const char *arg)
{
    fprintf(stderr, "sf fs: %s%s\n(see sf fs --help)\n", msg, arg != NULL ? arg : "");
    return FS_USAGE;
}

int sf_fs_cli_fail(struct sf_fs_client *c, const char *path, int rc)
{
    const char *m = c != NULL ? sf_fs_client_errmsg(c) : "";
    size_t pl = strlen(path);
    if (m[0] == '\0') {
        fprintf(stderr, "sf fs: %s: %s\n", path, sf_strerror(rc));
    } else if (strncmp(m, path, pl) == 0 && m[pl] == ':') {
        fprintf(stderr, "sf fs: %s\n", m);
    } else {
        fprintf(stderr, "sf fs: %s: %s\n", path, m);
    }
    return FS_FAIL;
}

/* ------------------------------------------------------------ progress */

struct progress {
    bool on;
    const char *name;
    uint64_t total; /* 0: unknown */
    uint64_t done;
    double start, last;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void human(uint64_t v, char *buf, size_t len)
{
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double d = (double)v;
    int u = 0;
    while (d >= 1024 && u < 5) {
        d /= 1024;
        u++;
    }
    if (u == 0) {
        snprintf(buf, len, "%llu B", (unsigned long long)v);
    } else {
        snprintf(buf, len, "%.1f %s", d, unit[u]);
    }
}

static void progress_start(struct progress *p, const char *name, uint64_t total, bool known)
{
    memset(p, 0, sizeof(*p));
    p->name = name;
    p->total = known ? total : 0;
    /* Only on a terminal, and only when it is worth a line. */
    p->on = isatty(STDERR_FILENO) && (!known || total > (4u << 20));
    p->start = p->last = now_s();
}

static void progress_draw(struct progress *p, bool final)
{
    double t = now_s();
    double el = t - p->start;
    char d[32], tot[32], rate[32];
    human(p->done, d, sizeof(d));
    human(el > 0 ? (uint64_t)((double)p->done / el) : 0, rate, sizeof(rate));
    if (p->total > 0) {
        human(p->total, tot, sizeof(tot));
        int pct = (int)(100.0 * (double)p->done / (double)p->total);
        int bar = pct / 5;
        fprintf(stderr, "\r%-24.24s [%-20.*s] %3d%% %s / %s  %s/s ", p->name, bar,
                "####################", pct, d, tot, rate);
    } else {
        fprintf(stderr, "\r%-24.24s %s  %s/s ", p->name, d, rate);
    }
    if (final) {
        fputc('\n', stderr);
    }
    p->last = t;
}

static void progress_add(struct progress *p, uint64_t n)
{
    p->done += n;
    if (p->on && now_s() - p->last >= 0.2) {
        progress_draw(p, false);
    }
}

static void progress_end(struct progress *p)
{
    if (p->on) {
        progress_draw(p, true);
    }
}

/* --------------------------------------------------------------- helpers */

/* Normalise a user's path into buf (PATH_MAX); usage error if too long. */
static int norm(const char *in, char *buf)
{
    if (sf_fs_path_norm(in, buf, SF_FS_PATH_MAX + 2) != 0) {
        fprintf(stderr, "sf fs: %.64s...: path too long (at most %d bytes)\n", in,
                SF_FS_PATH_MAX);
        return -1;
    }
    return 0;
}

static int join(const char *dir, const char *name, char *out)
{
    int n = snprintf(out, SF_FS_PATH_MAX + 2, "%s%s%s", dir, strcmp(dir, "/") == 0 ? "" : "/",
                     name);
    return n > SF_FS_PATH_MAX ? -ENAMETOOLONG : 0;
}

static const char *base_of(const char *path)
{
    const char *s = strrchr(path, '/');
    return s != NULL ? s + 1 : path;
}

/* A destination: an existing directory means "name inside it" (path
 * becomes path/name; name NULL: not allowed), and a destination typed with
 * a trailing '/' must be one. 0, or FS_FAIL after printing why. */
static int into_dir(struct sf_fs_client *c, char *path, const char *typed, const char *name)
{
    size_t tl = strlen(typed);
    bool want_dir = tl > 0 && typed[tl - 1] == '/';
    struct sf_fs_stat st;
    int rc = sf_fs_stat(c, path, &st);
    if (rc == 0 && S_ISDIR(st.mode)) {
        if (name == NULL) {
            fprintf(stderr, "sf fs: %s: is a directory (name the file)\n", path);
            return FS_FAIL;
        }
        char tmp[SF_FS_PATH_MAX + 2];
        if (join(path, name, tmp) != 0) {
            return sf_fs_cli_fail(NULL, path, -ENAMETOOLONG);
        }
        memcpy(path, tmp, strlen(tmp) + 1);
        return 0;
    }
    if (want_dir) {
        fprintf(stderr, "sf fs: %s/: %s\n", path,
                rc == 0 ? "not a directory" : rc == -ENOENT ? "no such directory" : sf_strerror(rc));
        return FS_FAIL;
    }
    return 0;
}

static int parse_mode(const char *s, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 8);
    if (errno != 0 || end == s || *end != '\0' || v > 07777) {
        return -EINVAL;
    }
    *out = (uint32_t)v;
    return 0;
}

static int write_all_fd(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Fill buf from fd as far as possible (whole blocks reach the writer
 * without a copy). Bytes read, 0 at EOF, or -errno. */
static ssize_t read_full(int fd, uint8_t *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return got > 0 ? (ssize_t)got : -errno;
        }
        if (n == 0) {
            break;
        }
        got += (size_t)n;
    }
    return (ssize_t)got;
}

/* ------------------------------------------------------------- commands */

/* A command's context: the client is connected once the arguments are
 * known to be right (a usage error never needs a daemon). */
struct fsx {
    const char *dir;
    struct sf_fs_client *c;
};

static struct sf_fs_client *cli(struct fsx *x)
{
    if (x->c != NULL) {
        return x->c;
    }
    int rc = sf_fs_cli_connect(x->dir, &x->c);
    return rc == 0 ? x->c : NULL;
}

int sf_fs_cli_connect(const char *dir, struct sf_fs_client **out)
{
    struct sf_cluster *cl = calloc(1, sizeof(*cl));
    if (cl == NULL) {
        fprintf(stderr, "sf fs: out of memory\n");
        return -ENOMEM;
    }
    int fd = sf_local_connect(dir, cl);
    free(cl);
    if (fd < 0) {
        return -ENOTCONN;
    }
    int rc = sf_fs_client_attach(fd, NULL, out);
    if (rc != 0) {
        fprintf(stderr, "sf fs: %s\n", sf_strerror(rc));
    }
    return rc;
}

static int cmd_put(struct fsx *x, int argc, char **argv)
{
    struct sf_fs_wopts o = {0};
    int i = 0;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
        if (strcmp(argv[i], "-x") == 0) {
            o.exclusive = true;
        } else if (strcmp(argv[i], "-r") == 0 && i + 1 < argc) {
            char *end;
            long r = strtol(argv[++i], &end, 10);
            if (*end != '\0' || r < 1 || r > SF_FS_R_MAX) {
                return fs_usage_err("put: -r needs 1..16, got ", argv[i]);
            }
            o.replicas = (int)r;
        } else if (strcmp(argv[i], "-m") == 0 && i + 1 < argc) {
            if (parse_mode(argv[++i], &o.mode) != 0) {
                return fs_usage_err("put: -m needs an octal mode, got ", argv[i]);
            }
        } else {
            return fs_usage_err("put: unknown option ", argv[i]);
        }
    }
    if (argc - i != 2) {
        return fs_usage_err("put: usage: sf fs put [-r N] [-m MODE] [-x] LOCAL PATH", NULL);
    }
    struct sf_fs_client *c = cli(x);
    if (c == NULL) {
        return FS_FAIL;
    }
    const char *local = argv[i];
    char path[SF_FS_PATH_MAX + 2];
    if (norm(argv[i + 1], path) != 0) {
        return FS_FAIL;
    }
    bool from_stdin = strcmp(local, "-") == 0;
    int fd = from_stdin ? STDIN_FILENO : open(local, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "sf fs: %s: %s\n", local, strerror(errno));
        return FS_FAIL;
    }
    struct stat lst;
    bool known = fstat(fd, &lst) == 0 && S_ISREG(lst.st_mode);
    if (!from_stdin && fstat(fd, &lst) == 0 && S_ISDIR(lst.st_mode)) {
        fprintf(stderr, "sf fs: %s: is a directory (put copies one file)\n", local);
        close(fd);
        return FS_FAIL;
    }
    char lcopy[PATH_MAX];
    snprintf(lcopy, sizeof(lcopy), "%s", local);
    if (into_dir(c, path, argv[i + 1], from_stdin ? NULL : basename(lcopy)) != 0) {
        if (!from_stdin) {
            close(fd);
        }
        return FS_FAIL;
    }
    if (o.mode == 0 && !from_stdin && known) {
        o.mode = lst.st_mode & 07777;
    }
    struct sf_fs_writer *w;
    int rc = sf_fs_writer_open(c, path, &o, &w);
    if (rc != 0) {
        if (!from_stdin) {
            close(fd);
        }
        return sf_fs_cli_fail(c, path, rc);
    }
    size_t bs = sf_fs_client_block_size(c);
    size_t blen = bs * 4;
    uint8_t *buf = malloc(blen);
    if (buf == NULL) {
        sf_fs_writer_abort(w);
        return sf_fs_cli_fail(NULL, path, -ENOMEM);
    }
    struct progress pg;
    progress_start(&pg, path, known ? (uint64_t)lst.st_size : 0, known);
    for (;;) {
        ssize_t n = read_full(fd, buf, blen);
        if (n < 0) {
            fprintf(stderr, "sf fs: %s: %s\n", from_stdin ? "stdin" : local, strerror((int)-n));
            rc = -1;
            break;
        }
        if (n == 0) {
            break;
        }
        rc = sf_fs_writer_write(w, buf, (size_t)n);
        if (rc != 0) {
            break;
        }
        progress_add(&pg, (uint64_t)n);
    }
    free(buf);
    if (!from_stdin) {
        close(fd);
    }
    if (rc == -1) {
        sf_fs_writer_abort(w);
        progress_end(&pg);
        return FS_FAIL;
    }
    if (rc != 0) {
        sf_fs_writer_abort(w);
        progress_end(&pg);
        return sf_fs_cli_fail(c, path, rc);
    }
    rc = sf_fs_writer_close(w, NULL);
    progress_end(&pg);
    return rc != 0 ? sf_fs_cli_fail(c, path, rc) : FS_OK;
}

/* Copy a file out to fd. */
static int copy_out(struct sf_fs_client *c, const char *path, int fd, const char *local,
                    bool show)
{
    struct sf_fs_reader *r;
    int rc = sf_fs_reader_open(c, path, &r);
    if (rc != 0) {
        return sf_fs_cli_fail(c, path, rc);
    }
    size_t blen = sf_fs_client_block_size(c) * 4;
    uint8_t *buf = malloc(blen);
    if (buf == NULL) {
        sf_fs_reader_close(r);
        return sf_fs_cli_fail(NULL, path, -ENOMEM);
    }
    struct progress pg;
    progress_start(&pg, path, sf_fs_reader_stat(r)->size, show);
    int ret = FS_OK;
    for (;;) {
        ssize_t n = sf_fs_reader_read(r, buf, blen);
        if (n < 0) {
            progress_end(&pg);
            ret = sf_fs_cli_fail(c, path, (int)n);
            break;
        }
        if (n == 0) {
            progress_end(&pg);
            break;
        }
        int wr = write_all_fd(fd, buf, (size_t)n);
        if (wr != 0) {
            progress_end(&pg);
            fprintf(stderr, "sf fs: %s: %s\n", local, strerror(-wr));
            ret = FS_FAIL;
            break;
        }
        progress_add(&pg, (uint64_t)n);
    }
    free(buf);
    sf_fs_reader_close(r);
    return ret;
}

static int cmd_get(struct fsx *x, int argc, char **argv)
{
    if (argc != 2) {
        return fs_usage_err("get: usage: sf fs get PATH LOCAL", NULL);
    }
    struct sf_fs_client *c = cli(x);
    if (c == NULL) {
        return FS_FAIL;
    }
    char path[SF_FS_PATH_MAX + 2];
    if (norm(argv[0], path) != 0) {
        return FS_FAIL;
    }
    if (strcmp(argv[1], "-") == 0) {
        return copy_out(c, path, STDOUT_FILENO, "stdout", false);
    }
    char local[PATH_MAX];
    struct stat lst;
    if (stat(argv[1], &lst) == 0 && S_ISDIR(lst.st_mode)) {
        if (snprintf(local, sizeof(local), "%s/%s", argv[1], base_of(path)) >=
            (int)sizeof(local)) {
            fprintf(stderr, "sf fs: %s: local path too long\n", argv[1]);
            return FS_FAIL;
        }
    } else {
        snprintf(local, sizeof(local), "%s", argv[1]);
    }
    struct sf_fs_stat st;
    int rc = sf_fs_stat(c, path, &st);
    if (rc != 0) {
        return sf_fs_cli_fail(c, path, rc);
    }
    if (S_ISDIR(st.mode)) {
        fprintf(stderr, "sf fs: %s: is a directory (get copies one file)\n", path);
        return FS_FAIL;
    }
    bool existed = access(local, F_OK) == 0;
    int fd = open(local, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, st.mode & 0777);
    if (fd < 0) {
        fprintf(stderr, "sf fs: %s: %s\n", local, strerror(errno));
        return FS_FAIL;
    }
    int ret = copy_out(c, path, fd, local, true);
    if (close(fd) != 0 && ret == FS_OK) {
        fprintf(stderr, "sf fs: %s: %s\n", local, strerror(errno));
        ret = FS_FAIL;
    }
    if (ret != FS_OK && !existed) {
        unlink(local); /* no half file left behind */
    }
    return ret;
}

/* Run fn on every path argument (normalised; "/" when there is none and
 * root_default), after connecting. FS_FAIL if any call failed. */
typedef int (*path_fn)(struct sf_fs_client *c, const char *path, int k, int n, void *arg);

static int each_path(struct fsx *x, int argc, char **argv, bool root_default, path_fn fn,
                     void *arg)
{
    char *root[] = {"/"};
    if (argc == 0 && root_default) {
        argc = 1;
        argv = root;
    }
    struct sf_fs_client *c = cli(x);
    if (c == NULL) {
        return FS_FAIL;
    }
    int ret = FS_OK;
    for (int k = 0; k < argc; k++) {
        char path[SF_FS_PATH_MAX + 2];
        if (norm(argv[k], path) != 0 || fn(c, path, k, argc, arg) != FS_OK) {
            ret = FS_FAIL;
        }
    }
    return ret;
}

static int cat_path(struct sf_fs_client *c, const char *path, int k, int n, void *arg)
{
    (void)k;
    (void)n;
    (void)arg;
    return copy_out(c, path, STDOUT_FILENO, "stdout", false);
}

static int cmd_cat(struct fsx *x, int argc, char **argv)
{
    if (argc < 1) {
        return fs_usage_err("cat: usage: sf fs cat PATH...", NULL);
    }
    return each_path(x, argc, argv, false, cat_path, NULL);
}

static void mode_string(uint32_t mode, char out[11])
{
    out[0] = S_ISDIR(mode) ? 'd' : S_ISLNK(mode) ? 'l' : '-';
    const char *rwx = "rwxrwxrwx";
    for (int i = 0; i < 9; i++) {
        out[1 + i] = (mode & (0400u >> i)) ? rwx[i] : '-';
    }
    out[10] = '\0';
}

static void print_long(const char *name, const struct sf_fs_stat *st)
{
    char m[11], when[32];
    mode_string(st->mode, m);
    time_t t = (time_t)(st->mtime_ns / 1000000000);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
    if (S_ISDIR(st->mode)) {
        printf("%s  %2s %12s  %s  %s/\n", m, "-", "-", when, name);
    } else {
        printf("%s  r%-2u %12llu  %s  %s\n", m, st->replicas, (unsigned long long)st->size,
               when, name);
    }
}

struct ls_arg {
    bool lng;
};

static int ls_one(void *arg, const char *name, const struct sf_fs_stat *st)
{
    struct ls_arg *a = arg;
    if (a->lng) {
        print_long(name, st);
    } else {
        printf("%s%s\n", name, S_ISDIR(st->mode) ? "/" : "");
    }
    return 0;
}

static int ls_path(struct sf_fs_client *c, const char *path, int k, int n, void *arg)
{
    struct sf_fs_stat st;
    int rc = sf_fs_stat(c, path, &st);
    if (rc != 0) {
        return sf_fs_cli_fail(c, path, rc);
    }
    if (!S_ISDIR(st.mode)) {
        return ls_one(arg, path, &st);
    }
    if (n > 1) {
        printf("%s%s:\n", k > 0 ? "\n" : "", path);
    }
    rc = sf_fs_readdir(c, path, ls_one, arg);
    return rc != 0 ? sf_fs_cli_fail(c, path, rc) : FS_OK;
}

static int cmd_ls(struct fsx *x, int argc, char **argv)
{
    struct ls_arg a = {false};
    int i = 0;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
        if (strcmp(argv[i], "-l") == 0) {
            a.lng = true;
        } else {
            return fs_usage_err("ls: unknown option ", argv[i]);
        }
    }
    return each_path(x, argc - i, argv + i, true, ls_path, &a);
}

static int stat_path(struct sf_fs_client *c, const char *path, int k, int n, void *arg)
{
    (void)arg;
    struct sf_fs_stat st;
    int rc = sf_fs_stat(c, path, &st);
    if (rc != 0) {
        return sf_fs_cli_fail(c, path, rc);
    }
    if (k > 0 && n > 1) {
        putchar('\n');
    }
    char m[11], mt[64], ct[64];
    mode_string(st.mode, m);
    time_t t = (time_t)(st.mtime_ns / 1000000000);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(mt, sizeof(mt), "%Y-%m-%d %H:%M:%S %z", &tm);
    t = (time_t)(st.ctime_ns / 1000000000);
    localtime_r(&t, &tm);
    strftime(ct, sizeof(ct), "%Y-%m-%d %H:%M:%S %z", &tm);
    printf("path: %s\n", path);
    printf("type: %s\n", S_ISDIR(st.mode) ? "directory" : S_ISLNK(st.mode) ? "symlink" : "file");
    printf("mode: %04o (%s)\n", st.mode & 07777, m);
    printf("owner: %u:%u\n", st.uid, st.gid);
    if (!S_ISDIR(st.mode)) {
        printf("size: %llu\n", (unsigned long long)st.size);
        printf("blocks: %llu of %u bytes\n", (unsigned long long)st.blocks, st.block_size);
        printf("replicas: %u\n", st.replicas);
    }
    printf("version: %llu\n", (unsigned long long)st.version);
    printf("modified: %s\n", mt);
    printf("changed: %s\n", ct);
    return FS_OK;
}

static int cmd_stat(struct fsx *x, int argc, char **argv)
{
    if (argc < 1) {
        return fs_usage_err("stat: usage: sf fs stat PATH...", NULL);
    }
    return each_path(x, argc, argv, false, stat_path, NULL);
}

/* Names of a directory, collected before changing it. */
struct names {
    char **v;
    bool *dir;
    size_t n, cap;
};

static int collect(void *arg, const char *name, const struct sf_fs_stat *st)
{
    struct names *nm = arg;
    if (nm->n == nm->cap) {
        size_t nc = nm->cap ? nm->cap * 2 : 64;
        char **nv = realloc(nm->v, nc * sizeof(*nv));
        if (nv == NULL) {
            return -ENOMEM;
        }
        nm->v = nv;
        bool *nd = realloc(nm->dir, nc * sizeof(*nd));
        if (nd == NULL) {
            return -ENOMEM;
        }
        nm->dir = nd;
        nm->cap = nc;
    }
    nm->v[nm->n] = strdup(name);
    if (nm->v[nm->n] == NULL) {
        return -ENOMEM;
    }
    nm->dir[nm->n++] = S_ISDIR(st->mode);
    return 0;
}

static void names_free(struct names *nm)
{
    for (size_t i = 0; i < nm->n; i++) {
        free(nm->v[i]);
    }
    free(nm->v);
    free(nm->dir);
}

/* Remove a directory and everything under it. 0 or the first error
 * (message printed). */
static int rm_tree(struct sf_fs_client *c, const char *path)
{
    struct names nm = {0};
    int rc = sf_fs_readdir(c, path, collect, &nm);
    if (rc != 0) {
        names_free(&nm);
        sf_fs_cli_fail(c, path, rc);
        return rc;
    }
    for (size_t i = 0; i < nm.n && rc == 0; i++) {
        char sub[SF_FS_PATH_MAX + 2];
        if (join(path, nm.v[i], sub) != 0) {
            rc = -ENAMETOOLONG;
            sf_fs_cli_fail(NULL, path, rc);
            break;
        }
        if (nm.dir[i]) {
            rc = rm_tree(c, sub);
        } else {
            rc = sf_fs_unlink(c, sub);
            if (rc == -ENOENT) {
                rc = 0; /* removed meanwhile: what we wanted */
            } else if (rc != 0) {
                sf_fs_cli_fail(c, sub, rc);
            }
        }
    }
    names_free(&nm);
    if (rc == 0 && strcmp(path, "/") != 0) {
        rc = sf_fs_rmdir(c, path);
        if (rc != 0) {
            sf_fs_cli_fail(c, path, rc);
        }
    }
    return rc;
}

struct rm_opts {
    bool rec, force;
};

static int rm_path(struct sf_fs_client *c, const char *path, int k, int n, void *arg)
{
    (void)k;
    (void)n;
    const struct rm_opts *o = arg;
    struct sf_fs_stat st;
    int rc = sf_fs_stat(c, path, &st);
    if (rc == -ENOENT && o->force) {
        return FS_OK;
    }
    if (rc != 0) {
        return sf_fs_cli_fail(c, path, rc);
    }
    if (S_ISDIR(st.mode)) {
        if (!o->rec) {
            fprintf(stderr, "sf fs: %s: is a directory (use rm -r)\n", path);
            return FS_FAIL;
        }
        return rm_tree(c, path) != 0 ? FS_FAIL : FS_OK;
    }
    rc = sf_fs_unlink(c, path);
    return rc != 0 && !(rc == -ENOENT && o->force) ? sf_fs_cli_fail(c, path, rc) : FS_OK;
}

static int cmd_rm(struct fsx *x, int argc, char **argv)
{
    struct rm_opts o = {false, false};
    int i = 0;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
        for (const char *f = argv[i] + 1; *f != '\0'; f++) {
            if (*f == 'r' || *f == 'R') {
                o.rec = true;
            } else if (*f == 'f') {
                o.force = true;
            } else {
                return fs_usage_err("rm: unknown option ", argv[i]);
            }
        }
    }
    if (i >= argc) {
        return fs_usage_err("rm: usage: sf fs rm [-r] [-f] PATH...", NULL);
    }
    return each_path(x, argc - i, argv + i, false, rm_path, &o);
}

static int mkdir_p(struct sf_fs_client *c, const char *path, uint32_t mode)
{
    char part[SF_FS_PATH_MAX + 2];
    size_t len = strlen(path);
    for (size_t i = 1; i <= len; i++) {
        if (path[i] != '/' && path[i] != '\0') {
            continue;
        }
        memcpy(part, path, i);
        part[i] = '\0';
        int rc = sf_fs_mkdir(c, part, mode);
        if (rc == -EEXIST) {
            struct sf_fs_stat st;
            rc = sf_fs_stat(c, part, &st);
            if (rc == 0 && !S_ISDIR(st.mode)) {
                fprintf(stderr, "sf fs: %s: exists and is not a directory\n", part);
                return -ENOTDIR;
            }
        }
        if (rc != 0) {
            sf_fs_cli_fail(c, part, rc);
            return rc;
        }
    }
    return 0;
}

struct mkdir_opts {
    bool parents;
    uint32_t mode;
};

static int mkdir_path(struct sf_fs_client *c, const char *path, int k, int n, void *arg)
{
    (void)k;
    (void)n;
    const struct mkdir_opts *o = arg;
    if (o->parents) {
        return strcmp(path, "/") != 0 && mkdir_p(c, path, o->mode) != 0 ? FS_FAIL : FS_OK;
    }
    int rc = sf_fs_mkdir(c, path, o->mode);
    return rc != 0 ? sf_fs_cli_fail(c, path, rc) : FS_OK;
}

static int cmd_mkdir(struct fsx *x, int argc, char **argv)
{
    struct mkdir_opts o = {false, 0755};
    int i = 0;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
        if (strcmp(argv[i], "-p") == 0) {
            o.parents = true;
        } else if (strcmp(argv[i], "-m") == 0 && i + 1 < argc) {
            if (parse_mode(argv[++i], &o.mode) != 0) {
                return fs_usage_err("mkdir: -m needs an octal mode, got ", argv[i]);
            }
        } else {
            return fs_usage_err("mkdir: unknown option ", argv[i]);
        }
    }
    if (i >= argc) {
        return fs_usage_err("mkdir: usage: sf fs mkdir [-p] [-m MODE] PATH...", NULL);
    }
    return each_path(x, argc - i, argv + i, false, mkdir_path, &o);
}

static int cmd_mv(struct fsx *x, int argc, char **argv)
{
    if (argc != 2) {
        return fs_usage_err("mv: usage: sf fs mv FROM TO", NULL);
    }
    struct sf_fs_client *c = cli(x);
    if (c == NULL) {
        return FS_FAIL;
    }
    char from[SF_FS_PATH_MAX + 2], to[SF_FS_PATH_MAX + 2];
    if (norm(argv[0], from) != 0 || norm(argv[1], to) != 0) {
        return FS_FAIL;
    }
    if (into_dir(c, to, argv[1], base_of(from)) != 0) {
        return FS_FAIL;
    }
    int rc = sf_fs_rename(c, from, to, false);
    return rc != 0 ? sf_fs_cli_fail(c, from, rc) : FS_OK;
}

struct du {
    struct sf_fs_client *c;
    uint64_t bytes, stored, files, dirs;
    int err;
    char path[SF_FS_PATH_MAX + 2];
};

static int du_walk(struct du *d, const char *path);

static int du_one(void *arg, const char *name, const struct sf_fs_stat *st)
{
    struct du *d = arg;
    if (!S_ISDIR(st->mode)) {
        d->files++;
        d->bytes += st->size;
        d->stored += st->size * st->replicas;
        return 0;
    }
    char sub[SF_FS_PATH_MAX + 2];
    if (join(d->path, name, sub) != 0) {
        return -ENAMETOOLONG;
    }
    char saved[SF_FS_PATH_MAX + 2];
    memcpy(saved, d->path, sizeof(saved));
    int rc = du_walk(d, sub);
    memcpy(d->path, saved, sizeof(saved));
    return rc;
}

static int du_walk(struct du *d, const char *path)
{
    d->dirs++;
    snprintf(d->path, sizeof(d->path), "%s", path);
    int rc = sf_fs_readdir(d->c, path, du_one, d);
    if (rc != 0 && d->err == 0) {
        d->err = rc;
        sf_fs_cli_fail(d->c, path, rc);
    }
    return rc;
}

static int du_path(struct sf_fs_client *c, const char *path, int k, int n, void *arg)
{
    (void)n;
    bool hum = *(bool *)arg;
    if (k == 0) {
        printf("%-12s %-12s %8s %6s  %s\n", "BYTES", "STORED", "FILES", "DIRS", "PATH");
    }
    struct du *d = calloc(1, sizeof(*d));
    if (d == NULL) {
        return sf_fs_cli_fail(NULL, path, -ENOMEM);
    }
    d->c = c;
    int ret = FS_OK;
    struct sf_fs_stat st;
    int rc = sf_fs_stat(c, path, &st);
    if (rc != 0) {
        ret = sf_fs_cli_fail(c, path, rc);
    } else if (S_ISDIR(st.mode)) {
        ret = du_walk(d, path) != 0 ? FS_FAIL : FS_OK;
    } else {
        du_one(d, path, &st);
    }
    char b[32], s[32];
    if (hum) {
        human(d->bytes, b, sizeof(b));
        human(d->stored, s, sizeof(s));
    } else {
        snprintf(b, sizeof(b), "%llu", (unsigned long long)d->bytes);
        snprintf(s, sizeof(s), "%llu", (unsigned long long)d->stored);
    }
    printf("%-12s %-12s %8llu %6llu  %s\n", b, s, (unsigned long long)d->files,
           (unsigned long long)d->dirs, path);
    free(d);
    return ret;
}

static int cmd_du(struct fsx *x, int argc, char **argv)
{
    bool hum = false;
    int i = 0;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
        if (strcmp(argv[i], "-h") == 0) {
            hum = true;
        } else if (strcmp(argv[i], "-s") != 0) {
            return fs_usage_err("du: unknown option ", argv[i]);
        }
    }
    return each_path(x, argc - i, argv + i, true, du_path, &hum);
}

static int cmd_truncate(struct fsx *x, int argc, char **argv)
{
    if (argc != 3 || strcmp(argv[0], "-s") != 0) {
        return fs_usage_err("truncate: usage: sf fs truncate -s SIZE PATH", NULL);
    }
    char *end;
    errno = 0;
    unsigned long long size = strtoull(argv[1], &end, 10);
    if (errno != 0 || *end != '\0' || argv[1][0] == '-') {
        return fs_usage_err("truncate: SIZE must be a byte count, got ", argv[1]);
    }
    char path[SF_FS_PATH_MAX + 2];
    if (norm(argv[2], path) != 0) {
        return FS_FAIL;
    }
    struct sf_fs_client *c = cli(x);
    if (c == NULL) {
        return FS_FAIL;
    }
    int rc = sf_fs_truncate(c, path, size);
    return rc != 0 ? sf_fs_cli_fail(c, path, rc) : FS_OK;
}

static int cmd_admin(struct fsx *x, int verb, const char *what)
{
    struct sf_fs_client *c = cli(x);
    if (c == NULL) {
        return FS_FAIL;
    }
    char *text = NULL;
    int rc = sf_fs_admin(c, verb, &text);
    if (rc != 0) {
        return sf_fs_cli_fail(c, what, rc);
    }
    fputs(text, stdout);
    if (text[0] != '\0' && text[strlen(text) - 1] != '\n') {
        putchar('\n');
    }
    free(text);
    return FS_OK;
}

int sf_fs_main(const char *dir, int argc, char **argv)
{
    if (argc < 1) {
        fs_usage(stderr);
        return FS_USAGE;
    }
    const char *cmd = argv[0];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fs_usage(stdout);
        return FS_OK;
    }
    int n = argc - 1;
    char **rest = argv + 1;
    if ((strcmp(cmd, "status") == 0 || strcmp(cmd, "scrub") == 0 || strcmp(cmd, "gc") == 0) &&
        n != 0) {
        return fs_usage_err("no arguments expected after ", cmd);
    }
    if (strcmp(cmd, "mount") == 0) {
        return sf_fs_mount_main(dir, n, rest);
    }
    struct fsx x = {dir, NULL};
    int ret;
    if (strcmp(cmd, "put") == 0) {
        ret = cmd_put(&x, n, rest);
    } else if (strcmp(cmd, "get") == 0) {
        ret = cmd_get(&x, n, rest);
    } else if (strcmp(cmd, "cat") == 0) {
        ret = cmd_cat(&x, n, rest);
    } else if (strcmp(cmd, "ls") == 0) {
        ret = cmd_ls(&x, n, rest);
    } else if (strcmp(cmd, "stat") == 0) {
        ret = cmd_stat(&x, n, rest);
    } else if (strcmp(cmd, "rm") == 0) {
        ret = cmd_rm(&x, n, rest);
    } else if (strcmp(cmd, "mkdir") == 0) {
        ret = cmd_mkdir(&x, n, rest);
    } else if (strcmp(cmd, "mv") == 0) {
        ret = cmd_mv(&x, n, rest);
    } else if (strcmp(cmd, "du") == 0) {
        ret = cmd_du(&x, n, rest);
    } else if (strcmp(cmd, "truncate") == 0) {
        ret = cmd_truncate(&x, n, rest);
    } else if (strcmp(cmd, "status") == 0) {
        ret = cmd_admin(&x, SF_FS_ADMIN_STATUS, "status");
    } else if (strcmp(cmd, "scrub") == 0) {
        ret = cmd_admin(&x, SF_FS_ADMIN_SCRUB, "scrub");
    } else if (strcmp(cmd, "gc") == 0) {
        ret = cmd_admin(&x, SF_FS_ADMIN_GC, "gc");
    } else {
        ret = fs_usage_err("unknown command ", cmd);
    }
    sf_fs_client_close(x.c);
    return ret;
}
