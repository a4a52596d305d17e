/* The admin tools' internals (the `sf` program, and the parts sfrun shares:
 * host lists, the one-machine cluster, the daemon query client). Not a
 * library for others: launcher/ programs only. No global state; every
 * function is single-threaded and reports errors as negative codes with a
 * message in a caller-supplied buffer. */
#ifndef SF_INT_H
#define SF_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <sys/types.h>

/* ---- host lists (sf_hosts.c) ------------------------------------------ */

/* One host of --host / --hostfile. slots 0 = not given: the daemon uses
 * the slots the node published. */
struct sf_host {
    char *name;
    int slots;
};

/* Owns the array and the names. Hosts are unique: repeated names merge
 * (a repeat adds its slots; an entry without slots counts as 1 once a
 * host is listed twice, as Open MPI's `--host a,a`). */
struct sf_hostlist {
    struct sf_host *v;
    size_t n;
};

#define SF_HOSTS_MAX_SLOTS 65536

/* "a,b:2,c" into hl (appending). 0, or -EINVAL with err set. */
int sf_hosts_parse_list(struct sf_hostlist *hl, const char *spec, char *err, size_t errlen);
/* Hostfile text: one host per line, `host [slots=N] [max_slots=N]`, '#'
 * starts a comment, blank lines skipped. fname only names the file in
 * errors ("FILE:LINE: ..."). 0, or -EINVAL with err set. */
int sf_hosts_parse_text(struct sf_hostlist *hl, const char *text, size_t len, const char *fname,
                        char *err, size_t errlen);
/* Read and parse a hostfile (at most 1 MiB). 0, -errno or -EINVAL. */
int sf_hosts_read_file(struct sf_hostlist *hl, const char *path, char *err, size_t errlen);
/* Slurm's task counts per node, as in SLURM_TASKS_PER_NODE ("2(x3),1":
 * two tasks on each of three nodes, then one), become the slots of the
 * hosts of hl in order; the counts must cover exactly hl->n nodes. hl
 * changes only on success. 0, or -EINVAL / -ENOMEM with err set. */
int sf_hosts_slurm_tasks(struct sf_hostlist *hl, const char *spec, char *err, size_t errlen);
/* "a:2,b,c:4" (slots only where given), malloc'd; NULL on ENOMEM. */
char *sf_hosts_format(const struct sf_hostlist *hl);
void sf_hosts_free(struct sf_hostlist *hl);

/* ---- cluster key (sf_keygen.c) ------------------------------------------ */

#define SF_KEY_LEN 32
/* Write 32 random bytes (getrandom) to path with mode 0600, created
 * exclusively unless force (then replaced atomically through a temporary
 * file). 0, -EEXIST when it exists and !force, or -errno. */
int sf_keygen(const char *path, bool force);

/* ---- the one-machine cluster (sf_cluster.c) ---------------------------- */

/* Where a cluster lives: $SF_CLUSTER, else $XDG_RUNTIME_DIR/starfish, else
 * /tmp/starfish-UID. Writes into buf; 0 or -ENAMETOOLONG. */
int sf_cluster_default_dir(char *buf, size_t len);

#define SF_CLUSTER_MAX_NODES 64
#define SF_CLUSTER_RECORD "cluster" /* the record file inside the dir */
#define SF_CLUSTER_KEYFILE "cluster.key"
#define SF_NETNS_BRIDGE "sfbr0"
#define SF_NETNS_PREFIX "sf-n"   /* namespaces sf-n1 .. sf-nK */
#define SF_NETNS_VETH "sfv"      /* host-side veth sfv1 .. sfvK */
#define SF_NETNS_NET "10.250.0." /* node i has 10.250.0.i/24 */

struct sf_cnode {
    int idx;                  /* 1-based */
    char name[16];            /* n1 .. nK */
    char addr[64];            /* control address host:port */
    pid_t pid;                /* daemon pid (0: not running) */
    unsigned long long start; /* its start time (/proc/PID/stat field 22) */
    char state[512];          /* state directory */
    char sock[600];           /* its Unix socket */
    char ns[32];              /* network namespace, "" on loopback */
};

struct sf_cluster {
    char dir[512];
    bool netns;
    bool transient; /* remove dir itself on down (sfrun --sim-nodes) */
    int base_port;
    char key[600];
    int n;
    struct sf_cnode nodes[SF_CLUSTER_MAX_NODES];
};

struct sf_up_opts {
    int nodes;
    bool netns;
    int base_port;   /* 0: default 7700 */
    bool any_port;   /* loopback: daemons pick free ports (--port 0),
                      * read back from their sfd.addr */
    const char *sfd; /* daemon program */
    double wait;     /* seconds to wait until all see each other */
    bool quiet;
    /* Set by the caller's signal handler: stop starting, take down what
     * was started, fail with -EINTR. NULL: not watched. */
    const volatile sig_atomic_t *interrupted;
};

/* Start a cluster in c->dir (created 0700 if missing; must not hold a
 * running cluster). On failure everything started is stopped again and
 * err says why. 0 or a negative code. */
int sf_cluster_up(struct sf_cluster *c, const struct sf_up_opts *o, char *err, size_t errlen);
/* Stop every daemon (SIGTERM, then SIGKILL of its whole session after
 * grace seconds), remove namespaces, bridge, state dirs and the record.
 * Best effort: carries on past errors; returns the first one. */
int sf_cluster_down(struct sf_cluster *c, double grace, char *err, size_t errlen);
/* Load / store the record file of dir. */
int sf_cluster_load(struct sf_cluster *c, const char *dir, char *err, size_t errlen);
int sf_cluster_save(const struct sf_cluster *c, char *err, size_t errlen);
/* Node by name ("n2"), index ("2") or address; NULL if none. */
struct sf_cnode *sf_cluster_node(struct sf_cluster *c, const char *which);
/* Fault drills. kill: SIGKILL to the daemon's session (its ranks with it).
 * cut/heal: the node's link down/up (namespaced clusters only). */
int sf_cluster_node_kill(struct sf_cluster *c, struct sf_cnode *nd, char *err, size_t errlen);
int sf_cluster_node_link(struct sf_cluster *c, struct sf_cnode *nd, bool up, char *err,
                         size_t errlen);
/* Connect to the Unix socket of a running node of the cluster (the first
 * one that answers). Returns a connected fd or a negative code. */
int sf_cluster_connect(const struct sf_cluster *c, char *err, size_t errlen);
/* Connected, close-on-exec stream socket to a daemon's Unix socket at
 * 'path' (the caller owns it), or a negative errno. */
int sf_cluster_connect_unix(const char *path);
/* Replace 'path' with len bytes of data, mode 0600, through a temporary
 * file, fsync and rename, so readers see the old or the new file whole.
 * 0 or a negative errno. */
int sf_write_file_atomic(const char *path, const void *data, size_t len);
/* Format a message into err (errlen bytes) and return code: the error
 * style of the cluster and launch helpers. */
int sf_errf(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Monotonic clock in seconds. */
double sf_now_s(void);
/* Is the daemon of nd alive (same pid and start time)? */
bool sf_cluster_node_alive(const struct sf_cnode *nd);

/* ---- the sf program (sf.c, sf_fs*.c) ------------------------------------ */

/* Connect to the local daemon of DIR: a daemon's state dir (DIR/sfd.sock),
 * a cluster dir (its record: the first node that answers, c filled), or a
 * dir holding a hand-started daemon's state dir DIR/sfd. Prints why on
 * failure. A connected fd, or -1. */
int sf_local_connect(const char *dir, struct sf_cluster *c);
/* `sf fs ...` (launcher/sf_fs.c): argv are the words after "fs". Returns
 * the exit code (0 ok, 1 an operation failed, 2 usage). */
int sf_fs_main(const char *dir, int argc, char **argv);

/* ---- asking a daemon (sf_query.c) ------------------------------------- */

/* A STATUS_REPLY: rows "kind key=value key=value ...". Owned strings. */
struct sf_rows {
    char **v;
    size_t n;
};
/* STATUS_REQ "what" values (runtime/base/sf_wire.h: 0 is the node's own
 * status and drop counters; 1 and 2 are what sf asks for its tables). */
enum { SF_QUERY_STATUS = 0, SF_QUERY_NODES = 1, SF_QUERY_JOBS = 2 };
/* "status" | "nodes" | "jobs" -> what, or -EINVAL. */
int sf_query_what(const char *topic);
/* Send STATUS_REQ(topic) on fd and wait up to timeout seconds for the
 * reply. 0, or a negative code with err set (an ERROR reply's text, or
 * SF_ERR_UNSUPPORTED when the daemon does not know the request). */
int sf_query(int fd, const char *topic, double timeout, struct sf_rows *out, char *err,
             size_t errlen);
void sf_rows_free(struct sf_rows *r);
int sf_rows_add(struct sf_rows *r, const char *s, size_t len);
/* Rows of kind "node" whose state is absent, alive, up or self. */
int sf_rows_count_alive(const struct sf_rows *r);
/* The kinds of multi-column rows, in order of first appearance. */
size_t sf_rows_kinds(const struct sf_rows *r, char kinds[][32], size_t max);
/* Print the rows of one kind as an aligned table (columns: the keys in
 * order of first appearance; "-" where a row lacks one). Kind "" prints
 * the single "key=value" rows as a two-column list. Returns how many rows
 * were printed. */
size_t sf_rows_table(FILE *out, const struct sf_rows *r, const char *kind);
/* Value of key in a row ("" if absent), copied into buf. */
const char *sf_row_get(const char *row, const char *key, char *buf, size_t len);

#endif
