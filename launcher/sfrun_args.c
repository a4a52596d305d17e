/* sfrun's command line: Starfish's flags plus the Open MPI spellings users
 * type (single or double dash, -np, --opt=value), some of Open MPI's
 * harmless flags accepted and ignored, and the placement options turned
 * into JOB_SUBMIT opts. Parsing only: no I/O beyond error messages and
 * reading a --hostfile. Single-threaded. */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "launcher/sfrun_int.h"
#include "runtime/base/sf_tun.h"

void sfrun_usage(FILE *out)
{
    fprintf(out,
            "usage: sfrun [options] program [args...]   (also mpirun, mpiexec)\n"
            "  -n, -np, -c N        number of ranks (default 1; inside Slurm $SLURM_NTASKS)\n"
            "  -x VAR[=value]       export VAR to the ranks (VAR alone: its current value);\n"
            "                       ranks inherit sfrun's environment anyway\n"
            "  --tag-output         prefix each output line with [1,RANK]<stdout>: or <stderr>:\n"
            "  --timeout SECS       end the job after SECS (30, 500ms, 2m); exit status 110\n"
            "  --oversubscribe      allow more ranks than cores without a notice\n"
            "  --nooversubscribe    refuse to run more ranks than cores\n"
            "  --bind-to core|none  bind rank i to core i (only when not oversubscribed;\n"
            "                       default none)\n"
            "  --params             print the tunables (SF_* environment variables)\n"
            "  --version, --help\n"
            "Clusters (a running one is found through its record, see `sf up`):\n"
            "  --host, -H a,b:2,c   run on these hosts (host[:slots]; repeats add slots)\n"
            "  --hostfile FILE      hosts from FILE, lines `host [slots=N]`, # comments\n"
            "  -N, --npernode N     N ranks per node\n"
            "  --map-by slot|node   fill each node's slots first (default) or round-robin\n"
            "                       over nodes (also ppr:N:node = -N N)\n"
            "  --cluster DIR        use the cluster recorded in DIR (default: $SF_CLUSTER,\n"
            "                       $XDG_RUNTIME_DIR/starfish or /tmp/starfish-UID)\n"
            "  --sim-nodes K        start K daemons on loopback for this job only\n"
            "  --launch-agent CMD   with hosts other than this one and no cluster running,\n"
            "                       start a daemon on each for this job as `CMD HOST sh -c\n"
            "                       ...` (default ssh; sfd at the same path there)\n"
            "  --ft abort|restart   fault policy: abort (default) ends the job when a rank\n"
            "                       or node is lost; restart rolls every rank back to the\n"
            "                       last committed checkpoint and goes on\n"
            "  --ckpt app|criu|auto checkpoint backend (auto, the default with --ft restart:\n"
            "                       criu where available, else app: the program calls\n"
            "                       sf_ckpt_checkpoint() from <starfish/sf_ckpt.h>)\n"
            "  --ckpt-interval SECS transparent checkpoints every SECS (criu only)\n"
            "  --max-restarts N     --ft restart gives up after N restarts (default 3)\n"
            "  --restart-from JOB[:EPOCH]  start from the images of an earlier job (its\n"
            "                       checkpoint key, printed at its start; default: its last\n"
            "                       committed epoch)\n"
            "Inside a Slurm allocation (SLURM_JOB_ID set) with no cluster running, sfrun\n"
            "  starts a daemon on every allocated node (or each --host) with srun instead.\n"
            "Accepted and ignored (Open MPI): --allow-run-as-root, --mca K V (warns),\n"
            "  --rank-by X, --report-bindings, --display-map, --use-hwthread-cpus, -q.\n"
            "Exit status: the job's (lowest failed rank's status, 128+signal if killed,\n"
            "  the MPI_Abort code); 2 bad usage; 110 timeout; 126/127 program not\n"
            "  executable/not found; 1 launcher failure; 128+sig when sfrun got\n"
            "  SIGINT/SIGTERM/SIGHUP.\n"
            "Environment: SF_SFD (daemon program), SF_LIBMPI_DIR (libmpi.so.40 directory),\n"
            "  SF_LAUNCH_* (launched daemons: see --params).\n");
}

/* Module "launch": how sfrun starts daemons for a job (sfrun_launch.c).
 * Here, not there, because the option parser reads no_slurm too. */
static const struct sf_tun launch_tun_items[] = {
    {"addr", SF_TUN_STR, "",
     "this host's address for the daemons sfrun starts to join (empty: the one "
     "that routes to the first remote host)",
     offsetof(struct sfrun_launch_tun, addr)},
    {"wait", SF_TUN_DOUBLE, "30", "seconds the started daemons may take to come up and join",
     offsetof(struct sfrun_launch_tun, wait)},
    {"no_slurm", SF_TUN_BOOL, "0",
     "ignore a Slurm allocation (no srun, no ranks from SLURM_NTASKS)",
     offsetof(struct sfrun_launch_tun, no_slurm)},
};
const struct sf_tun_table sfrun_launch_tun_table = {
    "launch", launch_tun_items, sizeof(launch_tun_items) / sizeof(launch_tun_items[0])};

int sfrun_launch_tun_load(struct sfrun_launch_tun *t)
{
    return sf_tun_load(&sfrun_launch_tun_table, t);
}

static int usage_error(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "sfrun: ");
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, "\n(see sfrun --help)\n");
    return SFRUN_EXIT_USAGE;
}

static int parse_n(const char *s, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 1 || v > 65536) {
        return -EINVAL;
    }
    *out = (int)v;
    return 0;
}

static int add_xvar(struct sfrun_opts *o, const char *spec)
{
    char *kv;
    if (spec[0] == '\0' || spec[0] == '=') {
        return usage_error("-x needs VAR or VAR=value, got '%s'%s", spec, "");
    }
    if (strchr(spec, '=') != NULL) {
        kv = strdup(spec);
    } else {
        const char *v = getenv(spec);
        if (v == NULL) {
            fprintf(stderr, "sfrun: warning: -x %s: not set in the environment, not exported\n",
                    spec);
            return 0;
        }
        size_t l = strlen(spec) + strlen(v) + 2;
        kv = malloc(l);
        if (kv != NULL) {
            snprintf(kv, l, "%s=%s", spec, v);
        }
    }
    char **nv = realloc(o->xvars, (o->nx + 1) * sizeof(char *));
    if (kv == NULL || nv == NULL) {
        free(kv);
        fprintf(stderr, "sfrun: out of memory\n");
        return SFRUN_EXIT_INTERNAL;
    }
    o->xvars = nv;
    o->xvars[o->nx++] = kv;
    return 0;
}

/* --map-by: Starfish places by slot or by node. Open MPI's finer objects
 * (core, socket, ...) fill a node before the next, which is "slot" at node
 * granularity; ppr:N:node is -N N. Modifiers after ':' are Open MPI's:
 * oversubscribe/nooversubscribe are honoured, others ignored with a note. */
static int parse_map_by(struct sfrun_opts *o, const char *spec)
{
    char base[32];
    const char *colon = strchr(spec, ':');
    size_t bl = colon != NULL ? (size_t)(colon - spec) : strlen(spec);
    if (bl == 0 || bl >= sizeof(base)) {
        return usage_error("--map-by takes slot or node, got '%s'%s", spec, "");
    }
    memcpy(base, spec, bl);
    base[bl] = '\0';
    for (char *c = base; *c; c++) {
        if (*c >= 'A' && *c <= 'Z') {
            *c = (char)(*c - 'A' + 'a');
        }
    }
    if (strcmp(base, "ppr") == 0) {
        /* ppr:N:node */
        char num[16];
        const char *rest = colon != NULL ? colon + 1 : "";
        const char *c2 = strchr(rest, ':');
        if (c2 == NULL || (size_t)(c2 - rest) >= sizeof(num) || strcmp(c2 + 1, "node") != 0) {
            return usage_error("--map-by ppr: only ppr:N:node is supported, got '%s'%s", spec, "");
        }
        memcpy(num, rest, (size_t)(c2 - rest));
        num[c2 - rest] = '\0';
        if (parse_n(num, &o->npernode) != 0) {
            return usage_error("--map-by ppr:N:node needs a positive N, got '%s'%s", spec, "");
        }
        return 0;
    }
    static const char *const slotlike[] = {"slot", "core",    "hwthread", "socket",  "package",
                                           "numa", "l3cache", "l2cache",  "l1cache", "board"};
    if (strcmp(base, "node") == 0) {
        o->map_by = "node";
    } else {
        size_t k;
        for (k = 0; k < sizeof(slotlike) / sizeof(slotlike[0]); k++) {
            if (strcmp(base, slotlike[k]) == 0) {
                break;
            }
        }
        if (k == sizeof(slotlike) / sizeof(slotlike[0])) {
            return usage_error("--map-by takes slot or node, got '%s'%s", spec, "");
        }
        o->map_by = "slot";
    }
    while (colon != NULL) {
        const char *m = colon + 1;
        colon = strchr(m, ':');
        size_t ml = colon != NULL ? (size_t)(colon - m) : strlen(m);
        if (ml == 13 && strncasecmp(m, "oversubscribe", 13) == 0) {
            o->oversub = 1;
        } else if (ml == 15 && strncasecmp(m, "nooversubscribe", 15) == 0) {
            o->oversub = 0;
        } else {
            fprintf(stderr, "sfrun: warning: --map-by %s: ignoring modifier '%.*s'\n", spec,
                    (int)ml, m);
        }
    }
    return 0;
}

enum opt_id {
    O_N,
    O_X,
    O_TAG,
    O_TIMEOUT,
    O_OVER,
    O_NOOVER,
    O_BIND,
    O_VERSION,
    O_HELP,
    O_PARAMS,
    O_IGNORE0,
    O_IGNORE1,
    O_MCA,
    O_HOST,
    O_HOSTFILE,
    O_NPERNODE,
    O_MAPBY,
    O_CLUSTER,
    O_SIMNODES,
    O_FT,
    O_CKPT,
    O_CKPT_INTERVAL,
    O_MAX_RESTARTS,
    O_RESTART_FROM,
    O_AGENT,
};

struct opt {
    const char *name; /* without leading dashes */
    enum opt_id id;
    int nargs;
};

static const struct opt opts[] = {
    {"n", O_N, 1},
    {"np", O_N, 1},
    {"c", O_N, 1},
    {"x", O_X, 1},
    {"tag-output", O_TAG, 0},
    {"timeout", O_TIMEOUT, 1},
    {"oversubscribe", O_OVER, 0},
    {"nooversubscribe", O_NOOVER, 0},
    {"bind-to", O_BIND, 1},
    {"version", O_VERSION, 0},
    {"V", O_VERSION, 0},
    {"help", O_HELP, 0},
    {"h", O_HELP, 0},
    {"params", O_PARAMS, 0},
    {"allow-run-as-root", O_IGNORE0, 0},
    {"report-bindings", O_IGNORE0, 0},
    {"display-map", O_IGNORE0, 0},
    {"q", O_IGNORE0, 0},
    {"quiet", O_IGNORE0, 0},
    {"map-by", O_MAPBY, 1},
    {"rank-by", O_IGNORE1, 1},
    {"mca", O_MCA, 2},
    {"gmca", O_MCA, 2},
    {"host", O_HOST, 1},
    {"H", O_HOST, 1},
    {"hostfile", O_HOSTFILE, 1},
    {"machinefile", O_HOSTFILE, 1},
    {"N", O_NPERNODE, 1},
    {"npernode", O_NPERNODE, 1},
    {"cluster", O_CLUSTER, 1},
    {"sim-nodes", O_SIMNODES, 1},
    {"ft", O_FT, 1},
    {"ckpt", O_CKPT, 1},
    {"ckpt-interval", O_CKPT_INTERVAL, 1},
    {"max-restarts", O_MAX_RESTARTS, 1},
    {"restart-from", O_RESTART_FROM, 1},
    {"launch-agent", O_AGENT, 1},
    {"use-hwthread-cpus", O_IGNORE0, 0},
};

int sfrun_parse_args(int argc, char **argv, struct sfrun_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->n = 1;
    o->oversub = -1;
    bool n_given = false;
    int i = 1;
    while (i < argc) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (a[0] != '-' || a[1] == '\0') {
            break; /* the program */
        }
        /* Open MPI takes both -opt and --opt; allow --opt=value too. */
        const char *name = a + 1;
        if (*name == '-') {
            name++;
        }
        char namebuf[64];
        const char *inl = strchr(name, '=');
        if (inl != NULL) {
            size_t l = (size_t)(inl - name);
            if (l >= sizeof(namebuf)) {
                return usage_error("unknown option '%s'%s", a, "");
            }
            memcpy(namebuf, name, l);
            namebuf[l] = '\0';
            name = namebuf;
            inl++;
        }
        const struct opt *op = NULL;
        for (size_t k = 0; k < sizeof(opts) / sizeof(opts[0]); k++) {
            if (strcmp(opts[k].name, name) == 0) {
                op = &opts[k];
                break;
            }
        }
        if (op == NULL) {
            return usage_error("unknown option '%s'%s", a, "");
        }
        const char *args[2] = {NULL, NULL};
        int need = op->nargs;
        int got = 0;
        if (inl != NULL) {
            if (need == 0) {
                return usage_error("option '%s' takes no value%s", a, "");
            }
            args[got++] = inl;
        }
        while (got < need) {
            if (i + 1 >= argc) {
                return usage_error("option '%s' needs %s", a,
                                   need - got == 1 ? "a value" : "two values");
            }
            args[got++] = argv[++i];
        }
        i++;
        switch (op->id) {
        case O_N:
            if (parse_n(args[0], &o->n) != 0) {
                return usage_error("-n needs a positive number, got '%s'%s", args[0], "");
            }
            n_given = true;
            break;
        case O_X: {
            int rc = add_xvar(o, args[0]);
            if (rc != 0) {
                return rc;
            }
            break;
        }
        case O_TAG:
            o->tag_output = true;
            break;
        case O_TIMEOUT:
            if (sf_tun_parse_seconds(args[0], &o->timeout) != 0 || !(o->timeout > 0)) {
                return usage_error("--timeout needs a positive number of seconds, got '%s'%s",
                                   args[0], "");
            }
            o->timeout_text = args[0];
            break;
        case O_OVER:
            o->oversub = 1;
            break;
        case O_NOOVER:
            o->oversub = 0;
            break;
        case O_BIND:
            if (strcmp(args[0], "core") == 0) {
                o->bind_core = true;
            } else if (strcmp(args[0], "none") == 0) {
                o->bind_core = false;
            } else {
                return usage_error("--bind-to takes 'core' or 'none', got '%s'%s", args[0], "");
            }
            break;
        case O_VERSION:
            o->action = SFRUN_VERSION;
            return 0;
        case O_HELP:
            o->action = SFRUN_HELP;
            return 0;
        case O_PARAMS:
            o->action = SFRUN_PARAMS;
            return 0;
        case O_IGNORE0:
        case O_IGNORE1:
            break;
        case O_HOST: {
            char err[512];
            int rc = sf_hosts_parse_list(&o->hosts, args[0], err, sizeof(err));
            if (rc == -ENOMEM) {
                fprintf(stderr, "sfrun: out of memory\n");
                return SFRUN_EXIT_INTERNAL;
            }
            if (rc != 0) {
                return usage_error("--host: %s%s", err, "");
            }
            break;
        }
        case O_HOSTFILE:
            if (o->hostfile != NULL) {
                return usage_error("only one --hostfile is allowed (got '%s' and '%s')",
                                   o->hostfile, args[0]);
            }
            o->hostfile = args[0];
            break;
        case O_NPERNODE:
            if (parse_n(args[0], &o->npernode) != 0) {
                return usage_error("-N/--npernode needs a positive number, got '%s'%s", args[0],
                                   "");
            }
            break;
        case O_MAPBY: {
            int rc = parse_map_by(o, args[0]);
            if (rc != 0) {
                return rc;
            }
            break;
        }
        case O_CLUSTER:
            if (args[0][0] == '\0') {
                return usage_error("--cluster needs a directory%s%s", "", "");
            }
            o->cluster_dir = args[0];
            break;
        case O_FT:
            if (strcmp(args[0], "abort") != 0 && strcmp(args[0], "restart") != 0) {
                return usage_error("--ft: 'abort' and 'restart' are implemented, got '%s'%s",
                                   args[0], " (replay and ulfm are not yet)");
            }
            o->ft = strcmp(args[0], "abort") == 0 ? "abort" : "restart";
            break;
        case O_CKPT:
            if (strcmp(args[0], "app") != 0 && strcmp(args[0], "criu") != 0 &&
                strcmp(args[0], "auto") != 0) {
                return usage_error("--ckpt: app, criu or auto, got '%s'%s", args[0], "");
            }
            o->ckpt = args[0];
            break;
        case O_CKPT_INTERVAL: {
            double secs;
            if (sf_tun_parse_seconds(args[0], &secs) != 0 || !(secs > 0)) {
                return usage_error("--ckpt-interval needs a positive number of seconds, got "
                                   "'%s'%s", args[0], "");
            }
            o->ckpt_interval = args[0];
            break;
        }
        case O_MAX_RESTARTS: {
            char *end;
            long v = strtol(args[0], &end, 10);
            if (args[0][0] == '\0' || *end != '\0' || v < 0 || v > 1000000) {
                return usage_error("--max-restarts needs a number >= 0, got '%s'%s", args[0], "");
            }
            o->max_restarts = args[0];
            break;
        }
        case O_RESTART_FROM:
            if (strspn(args[0], "0123456789:") != strlen(args[0]) || !isdigit((unsigned char)args[0][0])) {
                return usage_error("--restart-from needs JOB[:EPOCH] (numbers), got '%s'%s",
                                   args[0], "");
            }
            o->restart_from = args[0];
            break;
        case O_SIMNODES:
            if (parse_n(args[0], &o->sim_nodes) != 0 || o->sim_nodes > SF_CLUSTER_MAX_NODES) {
                o->sim_nodes = 0;
                return usage_error("--sim-nodes needs a number 1..64, got '%s'%s", args[0], "");
            }
            break;
        case O_AGENT:
            if (args[0][strspn(args[0], " \t")] == '\0') {
                return usage_error("--launch-agent needs a command%s%s", "", "");
            }
            o->launch_agent = args[0];
            break;
        case O_MCA:
            if (strcmp(args[0], "plm_rsh_agent") == 0 && args[1][strspn(args[1], " \t")] != '\0') {
                o->launch_agent = args[1]; /* Open MPI's name for --launch-agent */
                break;
            }
            fprintf(stderr, "sfrun: warning: ignoring Open MPI parameter --%s %s %s\n", op->name,
                    args[0], args[1]);
            break;
        }
    }
    if (i >= argc) {
        return usage_error("no program given%s%s (usage: sfrun -n N program [args...])", "", "");
    }
    o->argv = argv + i;
    o->argc = argc - i;
    /* As mpirun in an sbatch script: as many ranks as Slurm tasks. */
    const char *nt = getenv("SLURM_NTASKS");
    struct sfrun_launch_tun lt;
    if (sfrun_launch_tun_load(&lt) != 0) {
        return SFRUN_EXIT_USAGE; /* which variable was bad is logged */
    }
    if (!n_given && nt != NULL && getenv("SLURM_JOB_ID") != NULL && !lt.no_slurm &&
        parse_n(nt, &o->n) != 0) {
        fprintf(stderr, "sfrun: warning: SLURM_NTASKS=%s is not a number of ranks: running 1\n",
                nt);
        o->n = 1;
    }
    return 0;
}

static char *kv_fmt(const char *key, const char *val)
{
    size_t l = strlen(key) + strlen(val) + 2;
    char *s = malloc(l);
    if (s != NULL) {
        snprintf(s, l, "%s=%s", key, val);
    }
    return s;
}

int sfrun_placement_opts(struct sfrun_opts *o, char ***kv, size_t *n)
{
    if (o->hostfile != NULL) {
        char err[512];
        int rc = sf_hosts_read_file(&o->hosts, o->hostfile, err, sizeof(err));
        if (rc == -ENOMEM) {
            fprintf(stderr, "sfrun: out of memory\n");
            return SFRUN_EXIT_INTERNAL;
        }
        if (rc != 0) {
            fprintf(stderr, "sfrun: %s\n", err);
            return SFRUN_EXIT_USAGE;
        }
        o->hostfile = NULL; /* merged: a second call must not add it twice */
    }
    char *add[9];
    size_t na = 0;
    char num[16];
    if (o->hosts.n > 0) {
        char *h = sf_hosts_format(&o->hosts);
        add[na] = h != NULL ? kv_fmt("hosts", h) : NULL;
        free(h);
        na++;
    }
    if (o->npernode > 0) {
        snprintf(num, sizeof(num), "%d", o->npernode);
        add[na++] = kv_fmt("npernode", num);
    }
    if (o->map_by != NULL) {
        add[na++] = kv_fmt("map-by", o->map_by);
    }
    if (o->ft != NULL) {
        add[na++] = kv_fmt("ft", o->ft);
    }
    if (o->ckpt != NULL) {
        add[na++] = kv_fmt("ckpt", o->ckpt);
    }
    if (o->ckpt_interval != NULL) {
        add[na++] = kv_fmt("ckpt-interval", o->ckpt_interval);
    }
    if (o->max_restarts != NULL) {
        add[na++] = kv_fmt("max-restarts", o->max_restarts);
    }
    if (o->restart_from != NULL) {
        add[na++] = kv_fmt("restart-from", o->restart_from);
    }
    char **nv = realloc(*kv, (*n + na + 1) * sizeof(char *));
    bool oom = nv == NULL;
    for (size_t i = 0; i < na; i++) {
        oom = oom || add[i] == NULL;
    }
    if (oom) {
        for (size_t i = 0; i < na; i++) {
            free(add[i]);
        }
        if (nv != NULL) {
            *kv = nv;
        }
        fprintf(stderr, "sfrun: out of memory\n");
        return SFRUN_EXIT_INTERNAL;
    }
    *kv = nv;
    for (size_t i = 0; i < na; i++) {
        nv[(*n)++] = add[i];
    }
    nv[*n] = NULL;
    return 0;
}

void sfrun_opts_free(struct sfrun_opts *o)
{
    sf_hosts_free(&o->hosts);
    for (size_t i = 0; i < o->nx; i++) {
        free(o->xvars[i]);
    }
    free(o->xvars);
    o->xvars = NULL;
    o->nx = 0;
}
