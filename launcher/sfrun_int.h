/* sfrun internals: parsed options, path discovery and the exit codes the
 * launcher promises. Not a library: only the sfrun program uses these.
 * Single-threaded. */
#ifndef SFRUN_INT_H
#define SFRUN_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "launcher/sf_int.h"
#include "runtime/base/sf_tun.h"

/* Exit codes besides the job's own status (see sfrun --help). */
enum {
    SFRUN_EXIT_INTERNAL = 1,  /* daemon lost, refused job, system error */
    SFRUN_EXIT_USAGE = 2,     /* bad command line */
    SFRUN_EXIT_TIMEOUT = 110, /* --timeout expired */
    SFRUN_EXIT_NOEXEC = 126,  /* program found but not executable */
    SFRUN_EXIT_NOTFOUND = 127,
};

enum sfrun_action { SFRUN_RUN = 0, SFRUN_HELP, SFRUN_VERSION, SFRUN_PARAMS };

struct sfrun_opts {
    enum sfrun_action action;
    int n;        /* ranks */
    char **xvars; /* "VAR=value" to export (owned array, strings owned) */
    size_t nx;
    bool tag_output;
    double timeout;           /* seconds; 0 = none */
    const char *timeout_text; /* as given, for the message */
    int oversub;              /* -1 default (run with a notice), 0 refuse, 1 silent */
    bool bind_core;
    /* Placement across a cluster (passed to the daemon as JOB_SUBMIT
     * opts; the daemon places). */
    struct sf_hostlist hosts; /* --host entries (owned) */
    const char *hostfile;     /* --hostfile, read by sfrun_placement_opts */
    int npernode;             /* -N / --npernode, 0 = not given */
    const char *map_by;       /* "slot", "node" or NULL (daemon default) */
    const char *cluster_dir;  /* --cluster DIR */
    int sim_nodes;            /* --sim-nodes K, 0 = no */
    const char *ft;           /* --ft policy ("abort", "restart") or NULL */
    const char *ckpt;          /* --ckpt app|criu|auto or NULL */
    const char *ckpt_interval; /* --ckpt-interval as given, or NULL */
    const char *max_restarts;  /* --max-restarts as given, or NULL */
    const char *restart_from;  /* --restart-from JOB[:EPOCH] or NULL */
    const char *launch_agent; /* --launch-agent CMD (default "ssh") */
    char **argv;              /* program and its arguments (points into main's argv) */
    int argc;
};

/* Parse the command line. Returns 0, or SFRUN_EXIT_USAGE after printing
 * the reason to stderr. */
int sfrun_parse_args(int argc, char **argv, struct sfrun_opts *o);
void sfrun_opts_free(struct sfrun_opts *o);
/* The placement options as "key=value" strings for JOB_SUBMIT: hosts=
 * (--host and --hostfile merged; reads the hostfile), npernode=, map-by=,
 * and the fault policy ft=.
 * Appends to *kv (malloc'd strings, array grown). Returns 0, or
 * SFRUN_EXIT_USAGE after printing the reason (hostfile errors name the
 * line), or SFRUN_EXIT_INTERNAL on ENOMEM. */
int sfrun_placement_opts(struct sfrun_opts *o, char ***kv, size_t *n);
void sfrun_usage(FILE *out);

/* Directory of the running executable (malloc'd) or NULL. */
char *sfrun_self_dir(void);
/* Path of the sfd program to start (malloc'd), or NULL after printing why. */
char *sfrun_find_sfd(const char *self_dir);
/* Directory holding Starfish's libmpi.so.40 (malloc'd), or NULL if none. */
char *sfrun_find_libmpi(const char *self_dir);
/* Check that prog can be executed with the given PATH; 0, or
 * SFRUN_EXIT_NOTFOUND / SFRUN_EXIT_NOEXEC after printing a message. */
int sfrun_check_program(const char *prog, const char *path);

/* ---- daemons started for one job (sfrun_launch.c) ---------------------- */

/* Tunables of module "launch" (SF_LAUNCH_<NAME>; table in sfrun_args.c,
 * printed by sfrun --params). */
struct sfrun_launch_tun {
    const char *addr; /* this host's address for launched daemons, "" = pick */
    double wait;      /* seconds for launched daemons to start and join */
    bool no_slurm;    /* ignore a Slurm allocation */
};
extern const struct sf_tun_table sfrun_launch_tun_table;
/* The tunables from the environment; 0 or SF_ERR_CONFIG (logged). */
int sfrun_launch_tun_load(struct sfrun_launch_tun *t);

/* A private cluster for one job: a hub daemon here (under sfrun, the
 * one sfrun submits to) plus one daemon per remote host, started over the
 * launch agent (ssh) or, inside a Slurm allocation, by one srun step. All
 * share a fresh key and a private state dir and are gone after
 * sfrun_launch_down. */
struct sfrun_launch;

struct sfrun_launch_opts {
    const struct sf_hostlist *hosts; /* agent mode: the hosts (NULL: Slurm) */
    const char *agent;               /* "ssh" when NULL; split on blanks */
    const char *sfd;                 /* the daemon program (same path remotely) */
    int sig_fd;                      /* sfrun's signalfd: INT/TERM/HUP abort the start-up */
    double wait;                     /* seconds to start and join (0: SF_LAUNCH_WAIT) */
};

/* Should this job get its own daemons? Yes when a host of 'hosts' is not
 * this machine, or (no hosts given) inside a Slurm allocation. */
bool sfrun_launch_wanted(const struct sf_hostlist *hosts);
/* Start them. On success *lp owns everything started, *hosts_opt is the
 * "hosts=..." JOB_SUBMIT option to use (malloc'd; the hub itself runs
 * ranks only when this host was listed). On failure everything started is
 * stopped again and err says why. Returns 0, a negative code, or 128+sig
 * when a signal interrupted the start-up. */
int sfrun_launch_up(struct sfrun_launch **lp, const struct sfrun_launch_opts *o, char **hosts_opt,
                    char *err, size_t errlen);
/* The hub's Unix socket path (owned by l). */
const char *sfrun_launch_sock(const struct sfrun_launch *l);
/* Stop every daemon (remote ones by closing their agent's stdin, then
 * signals after grace seconds), remove the state, free l. */
void sfrun_launch_down(struct sfrun_launch *l, double grace);

/* Print the rank-side and DHT tunables (sfrun_params.c). */
void sfrun_print_params(FILE *out);

#endif
