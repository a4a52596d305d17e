/* sf: the Starfish admin tool. `sf keygen`, `sf up/down` (a cluster on this
 * machine), `sf node kill|cut|heal` (fault drills), and `sf status/nodes/
 * jobs` (asks the local daemon over its Unix socket). The daemons do the
 * work; this program starts, stops and asks them. Single-threaded. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "launcher/sf_int.h"
#include "launcher/sfrun_int.h"
#include "runtime/base/sf_err.h"
#include "runtime/base/sf_log.h"
#include "runtime/base/sf_tun.h"
#include "runtime/base/sf_wire.h"

enum { SF_EXIT_OK = 0, SF_EXIT_FAIL = 1, SF_EXIT_USAGE = 2 };

static void usage(FILE *out)
{
    fprintf(out,
            "usage: sf [--dir DIR] COMMAND [args]\n"
            "  keygen [--force] [FILE]   write a new cluster key (32 random bytes, mode 0600;\n"
            "                            default DIR/cluster.key); refuses to overwrite\n"
            "                            without --force\n"
            "  up --nodes K [--netns] [--base-port P] [--wait SECS] [--key FILE]\n"
            "                            start K daemons in the background (loopback ports\n"
            "                            P, P+1, ... default 7700, 0: any free ones; or, as\n"
            "                            root, each in network namespace\n"
            "                            sf-nI with address 10.250.0.I on bridge sfbr0) and\n"
            "                            wait until they all see each other\n"
            "  down [--grace SECS]       stop them (SIGTERM, SIGKILL after SECS, default 5),\n"
            "                            remove namespaces, bridge and state\n"
            "  node kill NODE            SIGKILL a node's daemon and its ranks\n"
            "  node cut|heal NODE        take a namespaced node's link down / up\n"
            "  status | nodes | jobs     ask the local daemon (tables)\n"
            "  where                     print the cluster's nodes from its record\n"
            "  ckpt JOB                  checkpoint job JOB now (ask the daemon that\n"
            "                            coordinates it; its checkpoint backend decides)\n"
            "  fs COMMAND [args]         the Starfish filesystem (put, get, ls, mount, ...;\n"
            "                            see sf fs --help)\n"
            "NODE: name (n2), number (2) or address. DIR: the cluster directory, default\n"
            "$SF_CLUSTER_DIR, $XDG_RUNTIME_DIR/starfish or ~/.starfish; a daemon's state\n"
            "dir also works for the queries (as does $SF_CLUSTER), and without a record\n"
            "they ask the daemon in DIR/sfd.\n"
            "Environment: SF_SFD (daemon program).\n");
}

static int usage_err(const char *msg, const char *arg)
{
    fprintf(stderr, "sf: %s%s\n(see sf --help)\n", msg, arg != NULL ? arg : "");
    return SF_EXIT_USAGE;
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
        return -EINVAL;
    }
    *out = (int)v;
    return 0;
}

static int cmd_keygen(const char *dir, int argc, char **argv)
{
    bool force = false;
    const char *file = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--force") == 0 || strcmp(argv[i], "-f") == 0) {
            force = true;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            return usage_err("keygen: unknown option ", argv[i]);
        } else if (file == NULL) {
            file = argv[i];
        } else {
            return usage_err("keygen: more than one file: ", argv[i]);
        }
    }
    char path[PATH_MAX];
    if (file == NULL) {
        snprintf(path, sizeof(path), "%s/%s", dir, SF_CLUSTER_KEYFILE);
        /* The default place is ours to create. */
        mkdir(dir, 0700);
        file = path;
    }
    int rc = sf_keygen(file, force);
    if (rc == -EEXIST) {
        fprintf(stderr,
                "sf: %s exists; use --force to replace it (daemons using the old key "
                "will no longer accept this one)\n",
                file);
        return SF_EXIT_FAIL;
    }
    if (rc != 0) {
        fprintf(stderr, "sf: cannot write key %s: %s\n", file, sf_strerror(rc));
        return SF_EXIT_FAIL;
    }
    printf("wrote cluster key %s\n", file);
    return SF_EXIT_OK;
}

static void print_where(const struct sf_cluster *c)
{
    printf("%-6s %-24s %-8s %-10s %s\n", "NODE", "ADDR", "PID", "NETNS", "STATE");
    for (int i = 0; i < c->n; i++) {
        const struct sf_cnode *nd = &c->nodes[i];
        bool alive = sf_cluster_node_alive(nd);
        char pid[24];
        snprintf(pid, sizeof(pid), "%ld", (long)nd->pid);
        printf("%-6s %-24s %-8s %-10s %s%s\n", nd->name, nd->addr, nd->pid > 0 ? pid : "-",
               nd->ns[0] ? nd->ns : "-", nd->state, nd->pid > 0 && !alive ? "  (not running)" : "");
    }
}

static volatile sig_atomic_t up_interrupted;
static void on_up_signal(int sig)
{
    (void)sig;
    up_interrupted = 1;
}

static int cmd_up(const char *dir, int argc, char **argv)
{
    struct sf_up_opts o = {0};
    struct sf_cluster c;
    memset(&c, 0, sizeof(c));
    snprintf(c.dir, sizeof(c.dir), "%s", dir);
    o.wait = 20.0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--netns") == 0) {
            o.netns = true;
            continue;
        }
        if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
            o.quiet = true;
            continue;
        }
        if (v == NULL) {
            return usage_err("up: unknown option or missing value: ", a);
        }
        i++;
        if (strcmp(a, "--nodes") == 0 || strcmp(a, "-n") == 0) {
            if (parse_int(v, 1, SF_CLUSTER_MAX_NODES, &o.nodes) != 0) {
                return usage_err("up: --nodes needs 1..64, got ", v);
            }
        } else if (strcmp(a, "--base-port") == 0) {
            if (parse_int(v, 0, 65535, &o.base_port) != 0 ||
                (o.base_port > 0 && o.base_port < 1024)) {
                return usage_err("up: --base-port needs 0 (free ports) or 1024..65535, got ", v);
            }
            o.any_port = o.base_port == 0;
        } else if (strcmp(a, "--wait") == 0) {
            if (sf_tun_parse_seconds(v, &o.wait) != 0 || !(o.wait > 0)) {
                return usage_err("up: --wait needs seconds, got ", v);
            }
        } else if (strcmp(a, "--key") == 0) {
            if (v[0] != '/') {
                char cwd[PATH_MAX];
                if (getcwd(cwd, sizeof(cwd)) == NULL) {
                    return usage_err("up: cannot resolve ", v);
                }
                if (snprintf(c.key, sizeof(c.key), "%s/%s", cwd, v) >= (int)sizeof(c.key)) {
                    return usage_err("up: key path too long: ", v);
                }
            } else if (snprintf(c.key, sizeof(c.key), "%s", v) >= (int)sizeof(c.key)) {
                return usage_err("up: key path too long: ", v);
            }
        } else {
            return usage_err("up: unknown option ", a);
        }
    }
    if (o.nodes == 0) {
        return usage_err("up: --nodes K is required", NULL);
    }
    if (o.netns && geteuid() != 0) {
        fprintf(stderr, "sf: up --netns needs root (it creates network namespaces and a "
                        "bridge); without --netns the nodes use loopback ports\n");
        return SF_EXIT_FAIL;
    }
    char *self = sfrun_self_dir();
    char *sfd = sfrun_find_sfd(self);
    free(self);
    if (sfd == NULL) {
        return SF_EXIT_FAIL;
    }
    o.sfd = sfd;
    /* Ctrl-C while starting: take down what was started, not leave it. */
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_up_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    o.interrupted = &up_interrupted;
    char err[1024];
    int rc = sf_cluster_up(&c, &o, err, sizeof(err));
    free(sfd);
    if (rc != 0) {
        fprintf(stderr, "sf: up failed: %s\n", err);
        return SF_EXIT_FAIL;
    }
    if (!o.quiet) {
        printf("cluster of %d node%s up in %s\n", c.n, c.n == 1 ? "" : "s", c.dir);
        print_where(&c);
    }
    return SF_EXIT_OK;
}

static int load(const char *dir, struct sf_cluster *c)
{
    char err[1024];
    if (sf_cluster_load(c, dir, err, sizeof(err)) != 0) {
        fprintf(stderr, "sf: %s\n", err);
        return SF_EXIT_FAIL;
    }
    return 0;
}

static int cmd_down(const char *dir, int argc, char **argv)
{
    double grace = 5.0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--grace") == 0 && i + 1 < argc) {
            if (sf_tun_parse_seconds(argv[++i], &grace) != 0 || grace < 0) {
                return usage_err("down: --grace needs seconds, got ", argv[i]);
            }
        } else {
            return usage_err("down: unknown option ", argv[i]);
        }
    }
    struct sf_cluster c;
    if (load(dir, &c) != 0) {
        return SF_EXIT_FAIL;
    }
    if (c.netns && geteuid() != 0) {
        fprintf(stderr, "sf: this cluster uses network namespaces: `sf down` needs root\n");
        return SF_EXIT_FAIL;
    }
    char err[1024];
    int rc = sf_cluster_down(&c, grace, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "sf: down: %s\n", err);
        return SF_EXIT_FAIL;
    }
    printf("cluster in %s is down\n", dir);
    return SF_EXIT_OK;
}

static int cmd_node(const char *dir, int argc, char **argv)
{
    if (argc != 2) {
        return usage_err("node: usage: sf node kill|cut|heal NODE", NULL);
    }
    struct sf_cluster c;
    if (load(dir, &c) != 0) {
        return SF_EXIT_FAIL;
    }
    struct sf_cnode *nd = sf_cluster_node(&c, argv[1]);
    if (nd == NULL) {
        fprintf(stderr, "sf: no node '%s' in the cluster in %s (see sf where)\n", argv[1], dir);
        return SF_EXIT_FAIL;
    }
    char err[1024];
    int rc;
    if (strcmp(argv[0], "kill") == 0) {
        rc = sf_cluster_node_kill(&c, nd, err, sizeof(err));
    } else if (strcmp(argv[0], "cut") == 0 || strcmp(argv[0], "heal") == 0) {
        rc = sf_cluster_node_link(&c, nd, argv[0][0] == 'h', err, sizeof(err));
    } else {
        return usage_err("node: unknown drill ", argv[0]);
    }
    if (rc != 0) {
        fprintf(stderr, "sf: node %s %s: %s\n", argv[0], nd->name, err);
        return SF_EXIT_FAIL;
    }
    return SF_EXIT_OK;
}

int sf_local_connect(const char *dir, struct sf_cluster *c)
{
    char err[1024];
    int fd = -1;
    /* A daemon's own state dir (sfd.sock inside) also works as DIR. */
    char sock[sizeof(c->nodes[0].sock)];
    if (snprintf(sock, sizeof(sock), "%s/sfd.sock", dir) >= (int)sizeof(sock)) {
        sock[0] = '\0';
    }
    struct stat st;
    char rec[sizeof(sock)];
    /* No record here but a hand-started daemon in its default state dir
     * (DIR/sfd, launcher/sfd/sfd_int.h): ask that one. */
    if (!(stat(sock, &st) == 0 && S_ISSOCK(st.st_mode)) &&
        snprintf(rec, sizeof(rec), "%s/%s", dir, SF_CLUSTER_RECORD) < (int)sizeof(rec) &&
        access(rec, F_OK) != 0 &&
        snprintf(sock, sizeof(sock), "%s/sfd/sfd.sock", dir) >= (int)sizeof(sock)) {
        sock[0] = '\0';
    }
    if (sock[0] != '\0' && stat(sock, &st) == 0 && S_ISSOCK(st.st_mode)) {
        memset(c, 0, sizeof(*c));
        snprintf(c->dir, sizeof(c->dir), "%s", dir);
        c->n = 1;
        snprintf(c->nodes[0].sock, sizeof(c->nodes[0].sock), "%s", sock);
    } else if (load(dir, c) != 0) {
        return -1;
    }
    fd = sf_cluster_connect(c, err, sizeof(err));
    if (fd < 0) {
        fprintf(stderr, "sf: %s\n", err);
        return -1;
    }
    return fd;
}

/* sf ckpt JOB: CKPT_REQ to the local daemon, print its CKPT_ANS. */
static int cmd_ckpt(const char *dir, int argc, char **argv)
{
    char *end;
    unsigned long long job = argc == 1 ? strtoull(argv[0], &end, 10) : 0;
    if (argc != 1 || argv[0][0] == '\0' || *end != '\0') {
        return usage_err("usage: sf ckpt JOB", NULL);
    }
    struct sf_cluster c;
    int fd = sf_local_connect(dir, &c);
    if (fd < 0) {
        return SF_EXIT_FAIL;
    }
    struct sf_wire_enc e;
    sf_wire_enc_begin(&e, SF_OP_CKPT_REQ, 1);
    sf_wire_put_u64(&e, job);
    sf_wire_put_u8(&e, 1);
    int rc = sf_wire_enc_end(&e);
    if (rc == 0) {
        rc = sf_wire_write_all(fd, e.buf, e.len);
    }
    sf_wire_enc_free(&e);
    struct sf_wire_rx rx;
    sf_wire_rx_init(&rx);
    int status = SF_EXIT_FAIL;
    bool answered = false;
    /* A checkpoint may take a while (images of many GiB): wait up to 10
     * minutes for the answer, which comes once the epoch is decided. */
    for (int waited = 0; rc == 0 && waited < 600 * 10;) {
        struct sf_wire_msg m;
        int got = sf_wire_rx_next(&rx, &m);
        if (got < 0) {
            rc = got;
            break;
        }
        if (got == 1 && (m.op == SF_OP_CKPT_ANS || m.op == SF_OP_ERROR)) {
            const struct sf_wire_val *t = m.op == SF_OP_ERROR ? &m.f[1] : &m.f[3];
            bool good = m.op == SF_OP_CKPT_ANS && m.f[2].i == 0;
            if (good) {
                printf("job %llu: checkpoint epoch %llu committed\n", job,
                       (unsigned long long)m.f[1].u);
            } else {
                fprintf(stderr, "sf: ckpt: %.*s\n", (int)t->len, (const char *)t->p);
            }
            status = good ? SF_EXIT_OK : SF_EXIT_FAIL;
            answered = true;
            break;
        }
        if (got == 1) {
            continue;
        }
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 100) == 0) {
            waited++;
            continue;
        }
        long n = sf_wire_rx_fill(&rx, fd);
        if (n == 0 || (n < 0 && n != -EAGAIN && n != -EINTR)) {
            rc = n == 0 ? SF_ERR_PEER_GONE : (int)n;
        }
    }
    if (status != SF_EXIT_OK && !answered) {
        fprintf(stderr, "sf: ckpt: no answer from the daemon: %s\n",
                sf_strerror(rc != 0 ? rc : -ETIMEDOUT));
    }
    sf_wire_rx_free(&rx);
    close(fd);
    return status;
}

static int cmd_query(const char *dir, const char *topic)
{
    struct sf_cluster c;
    char err[1024];
    int fd = sf_local_connect(dir, &c);
    if (fd < 0) {
        return SF_EXIT_FAIL;
    }
    struct sf_rows rows = {0};
    int rc = sf_query(fd, topic, 5.0, &rows, err, sizeof(err));
    close(fd);
    if (rc != 0) {
        fprintf(stderr, "sf: %s: %s\n", topic, err);
        return SF_EXIT_FAIL;
    }
    /* The daemon knows its own port, not the address it is reached at:
     * the record does. */
    for (size_t i = 0; i < rows.n; i++) {
        char v[64], nm[64];
        if (strncmp(rows.v[i], "node ", 5) != 0 ||
            strcmp(sf_row_get(rows.v[i], "state", v, sizeof(v)), "self") != 0 ||
            sf_row_get(rows.v[i], "addr", v, sizeof(v))[0] != '\0') {
            continue;
        }
        const struct sf_cnode *nd =
            sf_cluster_node(&c, sf_row_get(rows.v[i], "name", nm, sizeof(nm)));
        if (nd != NULL && nd->addr[0] != '\0') {
            size_t l = strlen(rows.v[i]) + strlen(nd->addr) + 8;
            char *nr = malloc(l);
            if (nr != NULL) {
                snprintf(nr, l, "%s addr=%s", rows.v[i], nd->addr);
                free(rows.v[i]);
                rows.v[i] = nr;
            }
        }
    }
    /* Daemons may answer every STATUS_REQ with everything they know:
     * nodes and jobs print their own tables, status prints it all. */
    char kinds[16][32];
    size_t nk = 0;
    bool any = false;
    if (strcmp(topic, "nodes") == 0) {
        snprintf(kinds[nk++], 32, "node");
    } else if (strcmp(topic, "jobs") == 0) {
        snprintf(kinds[nk++], 32, "job");
        snprintf(kinds[nk++], 32, "rank");
    } else {
        any = sf_rows_table(stdout, &rows, "") > 0;
        nk = sf_rows_kinds(&rows, kinds, 16);
    }
    for (size_t k = 0; k < nk; k++) {
        if (any) {
            putchar('\n');
        }
        any = sf_rows_table(stdout, &rows, kinds[k]) > 0 || any;
    }
    if (!any) {
        printf("(no %s)\n", strcmp(topic, "status") == 0 ? "answer" : topic);
    }
    sf_rows_free(&rows);
    return SF_EXIT_OK;
}

int main(int argc, char **argv)
{
    sf_log_init("sf");
    signal(SIGPIPE, SIG_IGN);
    char dir[512];
    if (sf_cluster_default_dir(dir, sizeof(dir)) != 0) {
        fprintf(stderr, "sf: cluster directory name too long\n");
        return SF_EXIT_FAIL;
    }
    /* SF_CLUSTER names one daemon's state dir (as for sfrun): the
     * queries ask it; up/down/node keep to the cluster dir. */
    const char *one = getenv("SF_CLUSTER");
    bool dir_given = getenv("SF_CLUSTER_DIR") != NULL;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return SF_EXIT_OK;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("sf (Starfish) %s\n", PACKAGE_VERSION);
            return SF_EXIT_OK;
        }
        if ((strcmp(argv[i], "--dir") == 0 || strcmp(argv[i], "--cluster") == 0) && i + 1 < argc) {
            snprintf(dir, sizeof(dir), "%s", argv[++i]);
            dir_given = true;
            continue;
        }
        return usage_err("unknown option ", argv[i]);
    }
    if (i >= argc) {
        usage(stderr);
        return SF_EXIT_USAGE;
    }
    const char *cmd = argv[i++];
    int n = argc - i;
    char **rest = argv + i;
    if (strcmp(cmd, "keygen") == 0) {
        return cmd_keygen(dir, n, rest);
    }
    if (strcmp(cmd, "up") == 0) {
        return cmd_up(dir, n, rest);
    }
    if (strcmp(cmd, "down") == 0) {
        return cmd_down(dir, n, rest);
    }
    if (strcmp(cmd, "node") == 0) {
        return cmd_node(dir, n, rest);
    }
    if (strcmp(cmd, "status") == 0 || strcmp(cmd, "nodes") == 0 || strcmp(cmd, "jobs") == 0) {
        if (n != 0) {
            return usage_err("no arguments expected after ", cmd);
        }
        return cmd_query(!dir_given && one != NULL && one[0] != '\0' ? one : dir, cmd);
    }
    if (strcmp(cmd, "ckpt") == 0) {
        return cmd_ckpt(!dir_given && one != NULL && one[0] != '\0' ? one : dir, n, rest);
    }
    if (strcmp(cmd, "fs") == 0) {
        return sf_fs_main(!dir_given && one != NULL && one[0] != '\0' ? one : dir, n, rest);
    }
    if (strcmp(cmd, "where") == 0) {
        struct sf_cluster c;
        if (load(dir, &c) != 0) {
            return SF_EXIT_FAIL;
        }
        print_where(&c);
        return SF_EXIT_OK;
    }
    if (strcmp(cmd, "help") == 0) {
        usage(stdout);
        return SF_EXIT_OK;
    }
    return usage_err("unknown command ", cmd);
}
