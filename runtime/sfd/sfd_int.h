/* sfd internals: the daemon, its clients (sfrun, sf), other daemons, jobs
 * and their ranks. Two modes: embedded (one sfrun on an inherited socket,
 * one job, the daemon exits with it) and listening (a cluster daemon: many
 * clients and jobs, peers over TCP). Everything runs on the loop thread.
 *
 * Files and names shared with sfrun/sf ("tools") -- a contract:
 *   state dir   --state-dir DIR; default $XDG_RUNTIME_DIR/starfish/sfd, or
 *               ~/.starfish/sfd without XDG_RUNTIME_DIR. Created mode 0700.
 *     DIR/sfd.sock    Unix stream socket for local clients (peer uid must
 *                     be the daemon's uid, checked with SO_PEERCRED)
 *     DIR/sfd.pid     the daemon's pid, written once it listens
 *     DIR/sfd.addr    "HOST:PORT" of its TCP control port, written once it
 *                     listens (a client may wait for this file to appear)
 *     DIR/node.id     16 hex digits: the node id, kept across restarts
 *     DIR/cluster.key key used when --cluster-key is not given
 *   cluster key 32 random bytes, file mode 0600, created on first start if
 *               absent (`--cluster-key FILE`); all daemons of a cluster share it.
 *   port        --port P (default 7300): TCP control port; the DHT uses UDP
 *               on the same number. --port 0 picks a free one (see sfd.addr).
 *   cluster record (written by `sf up`, read by sfrun and sf):
 *               $XDG_RUNTIME_DIR/starfish/cluster, or ~/.starfish/cluster;
 *               text, one line per daemon "node NAME STATE_DIR HOST:PORT",
 *               '#' lines ignored. sfrun connects to the first line's
 *               STATE_DIR/sfd.sock. SF_CLUSTER=DIR or `sfrun --cluster DIR`
 *               (a daemon's state dir) override it; no record: embedded.
 *   JOB_SUBMIT opts keys ("key=value"), besides bind/oversubscribe:
 *     map-by=slot|node  fill nodes slot by slot (default) or round-robin
 *     npernode=N        exactly N ranks per node (-N)
 *     hosts=a,b:2,c     candidate nodes by name, optional slots (":N");
 *                       a --hostfile becomes this list (slots=N -> :N)
 *     ft=abort          the only fault policy
 *   Node names: --name NAME, default "HOSTNAME:PORT" (unique on one host).
 */
#ifndef SFD_INT_H
#define SFD_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "runtime/base/sf_loop.h"
#include "runtime/base/sf_tun.h"
#include "runtime/base/sf_wire.h"

struct sf_sfd_job;

/* Tunables of module "sfd" (SF_SFD_<NAME>). */
struct sf_sfd_tun {
    double kill_grace;   /* seconds between SIGTERM and SIGKILL at job end */
    size_t output_chunk; /* bytes read from a rank's pipe per OUTPUT frame */
    bool stdout_pty;     /* rank stdout is a raw pty (line-buffered stdio) */
};
extern const struct sf_tun_table sf_sfd__tun_table;

/* A connected controller (sfrun). Owns fd and rx. */
struct sf_sfd_client {
    struct sf_sfd *sfd;
    int fd;
    struct sf_wire_rx rx;
    uint32_t seq;
    struct sf_sfd_job *job; /* the job it submitted, or NULL */
    bool dead;              /* EOF or write error seen */
};

/* Byte queue for a rank's stdin. */
struct sf_sfd_bufq {
    uint8_t *buf;
    size_t len, off;
};

struct sf_sfd_rank {
    struct sf_sfd_job *job;
    int rank;
    pid_t pid;  /* 0 once reaped */
    int ctl_fd; /* our end of the rank's socketpair, -1 when closed */
    struct sf_wire_rx rx;
    int out_fd, err_fd; /* read ends of stdout/stderr pipes, -1 at EOF */
    int in_fd;          /* write end of rank 0's stdin pipe, else -1 */
    struct sf_sfd_bufq inq;
    bool in_eof; /* client sent STDIN EOF: close in_fd once drained */
    bool hello, finalized, signalled, exited;
    bool reaped;   /* waited for, exit not yet judged */
    int wstatus;   /* from waitpid, valid when reaped */
    uint8_t *addr; /* RANK_ADDR blob (owned), NULL until published */
    size_t addr_len;
    int status; /* exit code, or 128+sig */
};

enum sf_sfd_job_state { SFD_JOB_RUNNING = 0, SFD_JOB_ENDING, SFD_JOB_DONE };

struct sf_sfd_job {
    struct sf_sfd *sfd;
    struct sf_sfd_client *client;
    uint64_t id;
    int n;
    struct sf_sfd_rank *ranks;
    char **argv, **env; /* owned, NULL-terminated */
    char *cwd;
    bool bind_core;
    bool oversubscribed;
    int shm_fd;
    pid_t pgid; /* the job's process group (first rank's pid) */
    int naddr;  /* ranks that published an address */
    bool table_sent;
    int nlive; /* ranks not yet reaped */
    enum sf_sfd_job_state state;
    int fail_rank;  /* lowest rank that failed on its own, -1 if none */
    int exit_code;  /* JOB_DONE status */
    char *message;  /* JOB_DONE text (owned) */
    int end_signal; /* signal that ended the job (from the client), 0 if none */
    struct sf_timer *kill_timer;
};

struct sf_sfd {
    struct sf_loop *loop;
    struct sf_sfd_tun tun;
    int sig_fd; /* signalfd: SIGCHLD, SIGTERM, SIGINT, SIGHUP */
    char host[256];
    int ncores;                   /* hwloc core count, >= 1 */
    void *topo;                   /* hwloc_topology_t, NULL if hwloc failed */
    struct sf_sfd_client *client; /* embedded mode: the one client */
    struct sf_sfd_job *job;       /* embedded mode: the one job */
    uint64_t next_job;
    int exit_code; /* the daemon's own exit status */
};

/* sfd_client.c: frames from/to a client. */
int sf_sfd__client_add(struct sf_sfd *sfd, int fd, struct sf_sfd_client **out);
void sf_sfd__client_free(struct sf_sfd_client *c);
/* Send one encoded frame (e finished with sf_wire_enc_end). Marks the
 * client dead on error. */
int sf_sfd__client_send(struct sf_sfd_client *c, struct sf_wire_enc *e);
int sf_sfd__client_error(struct sf_sfd_client *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void sf_sfd__client_lost(struct sf_sfd_client *c);

/* sfd_job.c: job lifecycle and the failure rules. */
int sf_sfd__job_submit(struct sf_sfd *sfd, struct sf_sfd_client *c, const struct sf_wire_msg *m);
void sf_sfd__job_rank_exited(struct sf_sfd_job *job, struct sf_sfd_rank *r, int wstatus);
void sf_sfd__job_fail(struct sf_sfd_job *job, int rank, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void sf_sfd__job_signal(struct sf_sfd_job *job, int signo);
void sf_sfd__job_kill_now(struct sf_sfd_job *job);
void sf_sfd__job_check_done(struct sf_sfd_job *job);
void sf_sfd__job_free(struct sf_sfd_job *job);

/* sfd_spawn.c: process creation. */
int sf_sfd__spawn_rank(struct sf_sfd_job *job, struct sf_sfd_rank *r);
int sf_sfd__topo_init(struct sf_sfd *sfd);
void sf_sfd__topo_free(struct sf_sfd *sfd);

/* sfd_io.c: pipes and the rank control sockets. */
int sf_sfd__io_watch_rank(struct sf_sfd_rank *r);
void sf_sfd__io_drain_rank(struct sf_sfd_rank *r);
void sf_sfd__io_close_rank(struct sf_sfd_rank *r);
int sf_sfd__io_stdin(struct sf_sfd_job *job, const uint8_t *p, size_t len);
int sf_sfd__io_send_rank(struct sf_sfd_rank *r, struct sf_wire_enc *e);
int sf_sfd__io_output(struct sf_sfd_job *job, int rank, int stream, const void *p, size_t len);

#endif
