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
 *     DIR/fs/         the node's block store (fs/README.md; sfd_fs.c), if the
 *                     filesystem runs
 *   cluster key 32 random bytes, file mode 0600, created on first start if
 *               absent (`--cluster-key FILE`); all daemons of a cluster share it.
 *   port        --port P (default 7300): TCP control port; the DHT runs on
 *               UDP with the same number (sfd_dht.c). --port 0 picks a free
 *               one (see sfd.addr). LAN beacons: UDP multicast 239.255.83.70
 *               port SF_SFD_DISCOVERY_PORT (7399), unless --no-autodiscover.
 *   STATUS      reply to STATUS_REQ: lines "key=value": node id port slots
 *               version peers jobs ranks load jobs_run peers_gone drop_garbage
 *               drop_bad_mac drop_replay drop_decode drop_proto drop_uid,
 *               the DHT's (dht_contacts dht_records dht_values_held dht_rx
 *               drop_dht drop_dht_auth drop_record autodiscover beacons_sent
 *               beacons_heard drop_beacon), then "peer=NAME ID HOST:PORT
 *               slots=N heard_ms=T [ranks=R load=L version=V]" per member
 *               (the bracket from its DHT record, once read) and
 *               "job=ID ranks=N local=L live=K coordinator|part STATE
 *               [nodes=NODE:0-1,4;NODE2:2-3]" per job (STATE running|ending;
 *               nodes= only where this daemon coordinates).
 *   cluster record: written by `sf up`, read by sfrun and sf; its format
 *               belongs to the tools (launcher/sf_int.h). sfrun --cluster
 *               DIR with a daemon's state dir connects to DIR/sfd.sock.
 *   sfd never reads the record: no record, no cluster -> sfrun's embedded sfd.
 *   remote clients: a client with the key may use the TCP control port:
 *               PEER_HELLO / PEER_CHALLENGE as a daemon does (sfd_auth.c),
 *               ignore the daemon's PEER_JOIN, then send JOB_SUBMIT or
 *               STATUS_REQ (sealed) instead of a JOIN; replies come sealed.
 *   JOB_SUBMIT opts keys ("key=value"), besides bind/oversubscribe:
 *     map-by=slot|node  fill nodes slot by slot (default) or round-robin
 *     npernode=N        exactly N ranks per node (-N)
 *     hosts=a,b:2,c     candidate nodes by name, optional slots (":N");
 *                       a --hostfile becomes this list (slots=N -> :N)
 *     ft=abort|restart  fault policy (restart: launcher/sfd/sfd_recover.c)
 *     ckpt=app|criu|auto, ckpt-interval=S, max-restarts=N, restart-from=K[:E]
 *                       checkpoints (launcher/sfd/sfd_ckpt.h)
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

#define SFD_DEFAULT_PORT 7300
#define SFD_KEY_LEN 32
#define SFD_MAC_LEN 32
#define SFD_NONCE_LEN 32
#define SFD_PEER_MAX_BODY SF_WIRE_MAX_BODY
#define SFD_TXQ_MAX (256u << 20) /* a peer/client this far behind is dropped */
#define SFD_NAME_MAX 128
#define SFD_OUT_HIGH (8u << 20) /* queued output that pauses a job's pipes */
#define SFD_OUT_LOW (1u << 20)  /* ... and lets them flow again */

struct sf_sfd_job;
struct sf_sfd_peer;
struct sf_sfd_ckpt;
struct sf_sfd_dht;
struct sf_sfd_init;
struct sf_sfd_ckpt_criu;
struct sf_sfd_fs;
struct sf_sfd_meta;

/* Tunables of module "sfd" (SF_SFD_<NAME>). */
struct sf_sfd_tun {
    double kill_grace;   /* seconds between SIGTERM and SIGKILL at job end */
    size_t output_chunk; /* bytes read from a rank's pipe per OUTPUT frame */
    bool stdout_pty;     /* rank stdout is a raw pty (line-buffered stdio) */
    double fail_timeout; /* seconds of silence before a peer is declared gone */
    double keepalive;    /* seconds between keep-alives to each peer */
    double record_ttl;   /* seconds a node record outlives its last refresh */
    int discovery_port;  /* UDP port of LAN beacons */
};
extern const struct sf_tun_table sf_sfd__tun_table;

/* Why an input frame from a peer was dropped (counted in sfd->drops). */
enum sf_sfd_drop {
    SFD_DROP_NONE = 0,
    SFD_DROP_GARBAGE, /* not a frame: bad magic/version/length */
    SFD_DROP_MAC,     /* MAC does not verify: wrong key or tampered */
    SFD_DROP_REPLAY,  /* authentic but an old sequence number */
    SFD_DROP_DECODE,  /* authentic but fails the schema */
    SFD_DROP_PROTO,   /* valid frame out of place (state or op) */
    SFD_DROP_UID,     /* local client of another user */
    SFD_DROP_COUNT
};

/* Outgoing byte queue: writes never block the loop. */
struct sf_sfd_txq {
    uint8_t *buf;
    size_t len, off, cap;
};

/* A connected controller (sfrun, sf). Owns fd, rx and tx. */
struct sf_sfd_client {
    struct sf_sfd *sfd;
    int fd;
    struct sf_wire_rx rx;
    struct sf_sfd_txq tx;
    uint32_t seq;
    struct sf_sfd_job *job; /* the job it submitted, or NULL */
    bool dead;              /* EOF or write error seen */
    bool close_when_sent;   /* listening mode: close after JOB_DONE drains */
    struct sf_sfd_pconn *pc; /* remote client over TCP (sealed frames on pc;
                                fd, rx and tx unused), else NULL */
    struct sf_sfd_client *next;
};

/* Byte queue for a rank's stdin. */
struct sf_sfd_bufq {
    uint8_t *buf;
    size_t len, off;
};

struct sf_sfd_rank {
    struct sf_sfd_job *job; /* NULL: not initialised */
    int rank;
    bool local;     /* runs on this node */
    int node;       /* index of its node in the job */
    int local_rank; /* index among the ranks of its node */
    pid_t pid;      /* as sfd sees it (the job's init is its parent); 0 once reaped */
    pid_t ns_pid;   /* inside the job's PID namespace on this node */
    int ctl_fd;     /* our end of the rank's socketpair, -1 when closed */
    struct sf_wire_rx rx;
    int out_fd, err_fd; /* read ends of stdout/stderr pipes, -1 at EOF */
    int in_fd;          /* write end of rank 0's stdin pipe, else -1 */
    struct sf_sfd_bufq inq;
    bool in_eof; /* client sent STDIN EOF: close in_fd once drained */
    uint64_t in_done, in_acked; /* stdin bytes consumed (written or dropped), acknowledged */
    bool hello, finalized, signalled, exited;
    bool reaped;   /* waited for, exit not yet judged */
    int wstatus;   /* from waitpid, valid when reaped */
    uint8_t *addr; /* RANK_ADDR blob (owned), NULL until published */
    size_t addr_len;
    int status; /* exit code, or 128+sig */
};

enum sf_sfd_job_state { SFD_JOB_RUNNING = 0, SFD_JOB_ENDING, SFD_JOB_DONE };

/* A node taking part in a job (coordinator's view). */
struct sf_sfd_jnode {
    uint64_t id;               /* node id (0 for self in embedded mode) */
    struct sf_sfd_peer *peer;  /* NULL: this daemon */
    char name[SFD_NAME_MAX];
    int nranks;
    bool done;                 /* all its ranks are gone (PART_DONE or lost) */
    bool lost;                 /* the node is gone (peer freed: do not use) */
};

/* A job, or this node's part of a job coordinated elsewhere. */
struct sf_sfd_job {
    struct sf_sfd *sfd;
    struct sf_sfd_client *client; /* coordinator: the submitter (NULL once lost) */
    bool coord;                   /* this daemon coordinates the job */
    uint64_t coord_id;            /* part: the coordinator's node id */
    struct sf_sfd_peer *coord_peer; /* part: NULL once the coordinator is lost */
    uint64_t id;
    int n;
    struct sf_sfd_rank *ranks; /* all n; only .local ones run here */
    int nnodes;
    struct sf_sfd_jnode *nodes; /* coordinator: every node of the job */
    int self_node;              /* this node's index in the job */
    int nlocal;                 /* ranks on this node */
    char **argv, **env; /* owned, NULL-terminated */
    char *cwd;
    char **opts; /* owned (forwarded in SPAWN) */
    bool bind_core;
    bool oversubscribed; /* this node runs more ranks than it has cores */
    int shm_fd;
    pid_t pgid; /* the job's process group here (the part's init's pid) */
    struct sf_sfd_init *init; /* the part's init and its status pipe (sfd_spawn.c) */
    struct sf_sfd_ckpt_criu *ckpt_criu; /* CRIU checkpoint or restore running (sfd_ckpt_criu.c) */
    uint32_t table_epoch;               /* epoch of the next ADDR_TABLE (0 at start) */
    int naddr;  /* ranks that published an address (coordinator: all nodes) */
    bool table_sent;
    bool out_paused; /* pipes not read: the output queue is full */
    bool flow_paused;   /* coordinator: parts were told to pause output */
    bool remote_paused; /* part: the coordinator asked us to pause output */
    int nlive;       /* local ranks not yet reaped */
    enum sf_sfd_job_state state;
    int fail_rank;  /* lowest rank that failed on its own, -1 if none */
    int exit_code;  /* JOB_DONE status */
    char *message;  /* JOB_DONE text (owned) */
    int end_signal; /* signal that ended the job (from the client), 0 if none */
    struct sf_timer *kill_timer;
    struct sf_sfd_ckpt *ckpt; /* checkpoints and --ft=restart (sfd_ckpt.c), NULL: none */
    struct sf_sfd_job *next;
};

/* Another daemon: a member of the cluster. */
struct sf_sfd_peer {
    struct sf_sfd *sfd;
    uint64_t id, inc; /* node id and incarnation (new at every start) */
    char name[SFD_NAME_MAX];
    char host[64]; /* control address as we can reach it */
    uint16_t port;
    int slots;
    int rec_ranks;           /* from its DHT record: ranks running there, */
    unsigned rec_load;       /* load average x 100 */
    char rec_version[32];    /* and software version ("" until read) */
    struct sf_sfd_pconn *conn; /* the established connection, or NULL */
    uint64_t last_heard;       /* sf_now_ms of the last valid frame */
    struct sf_sfd_peer *next;
};

enum sf_sfd_pconn_state {
    PC_CONNECTING = 0, /* non-blocking connect in progress */
    PC_HELLO,          /* connector: HELLO sent, waiting for CHALLENGE;
                          acceptor: waiting for HELLO */
    PC_JOINING,        /* session keys set, waiting for the peer's JOIN */
    PC_UP,             /* member connection */
    PC_CLIENT,         /* a remote client (sfrun/sf with the key) */
};

/* A TCP connection to another daemon. Owns fd, buffers and auth state. */
struct sf_sfd_pconn {
    struct sf_sfd *sfd;
    int fd;
    bool outgoing;
    enum sf_sfd_pconn_state state;
    struct sf_sfd_auth {
        uint8_t key[SFD_KEY_LEN], tx_key[SFD_KEY_LEN], rx_key[SFD_KEY_LEN];
        uint32_t tx_seq, rx_seq;
        bool session;
        bool bulk; /* member connection: block bytes outside the MAC (sfd_auth.c) */
    } auth;
    uint8_t nonce_c[SFD_NONCE_LEN], nonce_a[SFD_NONCE_LEN];
    uint8_t *rbuf;
    size_t rlen, rcap;
    struct sf_sfd_txq tx;
    struct sf_sfd_peer *peer; /* set at JOIN */
    struct sf_sfd_client *client; /* PC_CLIENT: the client it carries */
    char target[96];          /* outgoing: "host:port" dialled */
    uint64_t started;         /* sf_now_ms at creation (handshake deadline) */
    bool dead;
    struct sf_sfd_pconn *next;
};

struct sf_sfd {
    struct sf_loop *loop;
    struct sf_sfd_tun tun;
    int sig_fd; /* signalfd: SIGCHLD, SIGTERM, SIGINT, SIGHUP */
    char host[SFD_NAME_MAX]; /* node name, in messages and SF_HOSTNAME */
    int ncores;              /* hwloc core count, >= 1 */
    void *topo;              /* hwloc_topology_t, NULL if hwloc failed */
    bool listening;          /* cluster daemon (else embedded) */
    struct sf_sfd_client *clients;
    struct sf_sfd_job *jobs;
    uint64_t next_job;
    int exit_code; /* the daemon's own exit status */
    bool stopping;
    bool no_spawn; /* fuzz target: SPAWN never starts processes */
    /* listening mode */
    char *state_dir, *sock_path;
    char *key_path;  /* --cluster-key, or NULL: STATE_DIR/cluster.key */
    char *bind_addr; /* --bind ADDR for the control port, NULL: any */
    int unix_fd, tcp_fd;
    uint16_t port;
    uint64_t node_id, inc;
    uint8_t key[SFD_KEY_LEN];
    struct sf_sfd_peer *peers;
    struct sf_sfd_pconn *pconns;
    char **seeds; /* --join HOST:PORT (owned) */
    int nseeds;
    struct sf_timer *tick;
    uint64_t last_ping, last_seed_try;
    unsigned long drops[SFD_DROP_COUNT];
    unsigned long peers_gone, jobs_run;
    bool autodiscover;      /* LAN beacons (off: --no-autodiscover) */
    int rank_nice;          /* scheduling priority ranks run at (sfd's own at start) */
    struct sf_sfd_dht *dht; /* DHT node, records and beacons; NULL if off */
    struct sf_sfd_meta *fsmeta; /* filesystem metadata (sfd_fs_meta.c); NULL if embedded */
    struct sf_sfd_fs *fs;   /* filesystem block layer (sfd_fs.c); NULL if embedded */
};

/* sfd_txq: queued writes. send appends (writing at once when the queue is
 * empty) and arms SF_LOOP_OUT; flush is called when the fd is writable.
 * Both return 0 or a negative errno (the connection is then broken). */
int sf_sfd__txq_send(struct sf_loop *loop, int fd, struct sf_sfd_txq *q, const void *p, size_t n);
int sf_sfd__txq_flush(struct sf_loop *loop, int fd, struct sf_sfd_txq *q);
void sf_sfd__txq_free(struct sf_sfd_txq *q);

/* sfd_client.c: frames from/to a client. */
int sf_sfd__client_add(struct sf_sfd *sfd, int fd, struct sf_sfd_client **out);
void sf_sfd__client_free(struct sf_sfd_client *c);
/* Send one encoded frame (e finished with sf_wire_enc_end). Marks the
 * client dead on error. */
int sf_sfd__client_send(struct sf_sfd_client *c, struct sf_wire_enc *e);
int sf_sfd__client_error(struct sf_sfd_client *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void sf_sfd__client_lost(struct sf_sfd_client *c);
void sf_sfd__clients_reap(struct sf_sfd *sfd);
/* A client that proved the cluster key on the control port: its frames
 * arrive through sf_sfd__client_dispatch and leave sealed on pc. */
int sf_sfd__client_add_remote(struct sf_sfd *sfd, struct sf_sfd_pconn *pc,
                              struct sf_sfd_client **out);
void sf_sfd__client_dispatch(struct sf_sfd_client *c, const struct sf_wire_msg *m);
/* The queue a client's replies wait in (its own, or its connection's). */
struct sf_sfd_txq *sf_sfd__client_txq(struct sf_sfd_client *c);

/* sfd_job.c: job lifecycle and the failure rules. */
int sf_sfd__job_submit(struct sf_sfd *sfd, struct sf_sfd_client *c, const struct sf_wire_msg *m);
void sf_sfd__job_rank_exited(struct sf_sfd_job *job, struct sf_sfd_rank *r, int wstatus);
void sf_sfd__job_fail(struct sf_sfd_job *job, int rank, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void sf_sfd__job_signal(struct sf_sfd_job *job, int signo);
void sf_sfd__job_kill_now(struct sf_sfd_job *job);
void sf_sfd__job_check_done(struct sf_sfd_job *job);
void sf_sfd__job_free(struct sf_sfd_job *job);
struct sf_sfd_job *sf_sfd__job_find(struct sf_sfd *sfd, uint64_t id);
/* Peer-facing job ops (the SPAWN / JOB_* frames), called by sfd_peer.c
 * with the sending peer. */
int sf_sfd__job_peer_op(struct sf_sfd *sfd, struct sf_sfd_peer *from, const struct sf_wire_msg *m);
/* A member is gone (crash, cut, goodbye): fail or end the jobs it touches. */
void sf_sfd__job_peer_lost(struct sf_sfd *sfd, struct sf_sfd_peer *p, const char *why);
void sf_sfd__job_stdin(struct sf_sfd_job *job, const uint8_t *p, size_t len);
/* Rank 0's node: tell the submitter (through the coordinator) how many
 * stdin bytes are consumed, so it sends more (SF_OP_STDIN_ACK). */
void sf_sfd__job_stdin_ack(struct sf_sfd_job *job, uint64_t consumed);

/* The value of option key of the job ("key=value" in its opts), or NULL. */
const char *sf_sfd__job_opt(struct sf_sfd_job *job, const char *key);
/* Coordinator (sfd_recover.c): start the ranks of every node again (SPAWN
 * to the parts, local ranks here), after their state was reset. */
void sf_sfd__job_respawn(struct sf_sfd_job *job);
/* Coordinator: JOB_KILL(SIGKILL, reason) to every node still running ranks. */
void sf_sfd__job_kill_parts(struct sf_sfd_job *job, const char *reason);

/* sfd_ckpt.c: checkpoints (protocol in the file's header). submit: the
 * coordinator reads the job's checkpoint options (0, or a negative code
 * with a sentence in err: refuse the job); announce tells sfrun where the
 * images go; part_init: a part from its SPAWN options; apply_env: the
 * SF_CKPT_* environment before local ranks start; free from job_free. */
int sf_sfd__ckpt_submit(struct sf_sfd_job *job, char *err, size_t cap);
void sf_sfd__ckpt_announce(struct sf_sfd_job *job);
int sf_sfd__ckpt_part_init(struct sf_sfd_job *job);
int sf_sfd__ckpt_apply_env(struct sf_sfd_job *job);
void sf_sfd__ckpt_free(struct sf_sfd_job *job);
/* The checkpoint store root on this node (SF_CKPT_STORE or the default). */
int sf_sfd__ckpt_store(struct sf_sfd *sfd, char *out, size_t cap);
/* Rewind the options and output marks to the last committed epoch. */
int sf_sfd__ckpt_rewind(struct sf_sfd_job *job);
/* Handlers: CKPT_STORED from a rank (ctx: struct sf_sfd_rank), CKPT_PART
 * and CKPT_COMMIT from a peer, CKPT_REQ from a client (ctx: client). */
int sf_sfd__ckpt_on_stored(void *ctx, const struct sf_wire_msg *m);
void sf_sfd__ckpt_peer_op(struct sf_sfd *sfd, struct sf_sfd_peer *from, const struct sf_wire_msg *m);
int sf_sfd__ckpt_client_req(void *ctx, const struct sf_wire_msg *m);
/* Coordinator, output of a rank about to go to sfrun: false to drop it
 * all, else p and len trimmed of what was forwarded before a restart. */
bool sf_sfd__ckpt_output(struct sf_sfd_job *job, int rank, int stream, const void **p,
                         size_t *len);
extern const struct sf_tun_table sf_sfd__ckpt_tun_table;

/* sfd_recover.c: --ft=restart. on_failure: the coordinator's judgement of
 * a failure (text: its description, may be extended with why no restart
 * happens): true = a restart is under way, the failure is absorbed.
 * busy: ranks are being stopped for a restart. quiet: check_done found
 * everything stopped; true = respawned (the job goes on). */
bool sf_sfd__recover_on_failure(struct sf_sfd_job *job, int rank, char *text, size_t cap);
bool sf_sfd__recover_busy(const struct sf_sfd_job *job);
bool sf_sfd__recover_quiet(struct sf_sfd_job *job);

/* sfd_spawn.c: process creation. The first spawn_rank of a job starts all
 * its local ranks under one init (pid 1 of a new PID namespace), which
 * reports their wait statuses: the job code sees rank exits as before. */
int sf_sfd__spawn_rank(struct sf_sfd_job *job, struct sf_sfd_rank *r);
/* Watch an init's status pipe (fd, owned from here) for rank exits; used
 * again after a CRIU restore re-creates the init. 0 or a negative code. */
int sf_sfd__spawn_watch_init(struct sf_sfd_job *job, int fd, pid_t pid);
pid_t sf_sfd__spawn_init_pid(const struct sf_sfd_job *job);
/* Stop watching and free job->init (job teardown). */
void sf_sfd__spawn_release(struct sf_sfd_job *job);
/* A rank's stdout channel: out[0] ours, out[1] the rank's; a raw pty with
 * pty, else a pipe. 0 or a negative errno. */
int sf_sfd__spawn_stdout(struct sf_sfd_job *job, int out[2], bool pty);

/* sfd_ckpt_criu.c: CRIU checkpoint and restore of the job's local ranks
 * (the part's init tree) into/from dir, one image per part. Both run
 * asynchronously and call cb once (status 0 or negative, a sentence with
 * timings and image size). 0 when started, else a negative code and err.
 * Only for jobs whose ranks all run on this node, for now. restore kills
 * the running part first (exits not judged) and restores it in place. */
typedef void (*sf_sfd_ckpt_criu_cb)(struct sf_sfd_job *job, void *arg, int status,
                                    const char *msg);
int sf_sfd__ckpt_criu_checkpoint(struct sf_sfd_job *job, uint32_t epoch, const char *dir,
                                 sf_sfd_ckpt_criu_cb cb, void *arg, char *err, size_t cap);
int sf_sfd__ckpt_criu_restore(struct sf_sfd_job *job, uint32_t epoch, const char *dir,
                              sf_sfd_ckpt_criu_cb cb, void *arg, char *err, size_t cap);
/* Rank ops CKPT_READY / CKPT_RESUMED (ctx: rank); CKPT_PREPARE from a
 * client drives a checkpoint (flags 1) or restore (flags 2) (ctx: client). */
int sf_sfd__ckpt_criu_on_ready(void *ctx, const struct sf_wire_msg *m);
int sf_sfd__ckpt_criu_on_resumed(void *ctx, const struct sf_wire_msg *m);
int sf_sfd__ckpt_criu_client(void *ctx, const struct sf_wire_msg *m);
/* A RANK_ADDR that belongs to a checkpoint's new wire-up: true if taken. */
bool sf_sfd__ckpt_criu_addr(struct sf_sfd_rank *r, const struct sf_wire_msg *m);
/* For sfd_spawn.c: exits expected (the part is being replaced); the
 * killed part is gone; a rank ended (fails a running checkpoint); job
 * teardown. */
bool sf_sfd__ckpt_criu_replacing(struct sf_sfd_job *job);
void sf_sfd__ckpt_criu_part_gone(struct sf_sfd_job *job);
void sf_sfd__ckpt_criu_rank_gone(struct sf_sfd_job *job, int rank);
void sf_sfd__ckpt_criu_release(struct sf_sfd_job *job);
int sf_sfd__topo_init(struct sf_sfd *sfd);
void sf_sfd__topo_free(struct sf_sfd *sfd);

/* sfd_io.c: pipes and the rank control sockets. */
int sf_sfd__io_watch_rank(struct sf_sfd_rank *r);
void sf_sfd__io_drain_rank(struct sf_sfd_rank *r);
void sf_sfd__io_close_rank(struct sf_sfd_rank *r);
int sf_sfd__io_stdin(struct sf_sfd_job *job, const uint8_t *p, size_t len);
int sf_sfd__io_send_rank(struct sf_sfd_rank *r, struct sf_wire_enc *e);
int sf_sfd__io_output(struct sf_sfd_job *job, int rank, int stream, const void *p, size_t len);
/* Output queues drained: read the pipes of paused jobs again. */
void sf_sfd__io_resume(struct sf_sfd *sfd);
/* Coordinator: every address known: send the table to local ranks and
 * JOB_TABLE to the other nodes. */
void sf_sfd__io_send_table(struct sf_sfd_job *job);
/* Send an ADDR_TABLE built from JOB_TABLE fields to the local ranks. */
void sf_sfd__io_table_from(struct sf_sfd_job *job, const struct sf_wire_msg *m);

/* sfd_auth.c: cluster key and the MAC layer (see the file's header). */
int sf_sfd__auth_global_init(void);
/* Read the key (file must be mode 0600 or stricter, exactly SFD_KEY_LEN
 * bytes); with create, a missing file is made with fresh random bytes. */
int sf_sfd__key_load(const char *path, bool create, uint8_t key[SFD_KEY_LEN]);
void sf_sfd__auth_init(struct sf_sfd_auth *a, const uint8_t key[SFD_KEY_LEN]);
void sf_sfd__auth_session(struct sf_sfd_auth *a, const uint8_t *nonce_conn,
                          const uint8_t *nonce_acc, bool connector);
uint32_t sf_sfd__auth_next_seq(struct sf_sfd_auth *a);
void sf_sfd__auth_mac(const struct sf_sfd_auth *a, const uint8_t *frame, size_t len,
                      uint8_t mac[SFD_MAC_LEN]);
/* Open the next sealed frame in buf[0..len): >0 bytes consumed (msg filled
 * unless *why says it was dropped: REPLAY frames are skipped), 0 if more
 * bytes are needed, <0 if the stream is unusable (*why says why). */
long sf_sfd__auth_open(struct sf_sfd_auth *a, const uint8_t *buf, size_t len,
                       struct sf_wire_msg *msg, enum sf_sfd_drop *why);
void sf_sfd__auth_random(uint8_t *p, size_t n);
/* A MAC over any buffer with the cluster key itself (datagrams: the DHT's
 * sign/verify hooks). verify: 0 or SF_ERR_PROTO. */
void sf_sfd__auth_sign_buf(const uint8_t key[SFD_KEY_LEN], const uint8_t *p, size_t len,
                           uint8_t mac[SFD_MAC_LEN]);
int sf_sfd__auth_verify_buf(const uint8_t key[SFD_KEY_LEN], const uint8_t *p, size_t len,
                            const uint8_t mac[SFD_MAC_LEN]);

/* sfd_place.c: placement, a pure function. */
struct sf_sfd_place_node {
    const char *name;
    int slots;
};
struct sf_sfd_place_req {
    int n;
    bool map_by_node;   /* --map-by node (else slot) */
    int npernode;       /* -N, 0 = not given */
    const char *hosts;  /* "a,b:2,c" or NULL */
    bool oversubscribe; /* more ranks than slots allowed */
};
/* rank_node[r] = index into nodes of rank r's node (caller's array of
 * req->n). 0, or -EINVAL/-ENOENT/-ENOSPC with a sentence in err. */
int sf_sfd__place(const struct sf_sfd_place_node *nodes, int nnodes,
                  const struct sf_sfd_place_req *req, int *rank_node, char *err, size_t errlen);

/* sfd_record.c: the node record published in the DHT and the LAN beacon
 * (formats in the file's header). Decoders validate everything first. */
#define SFD_RECORD_MAX 512 /* = SF_DHT_VALUE_MAX */
#define SFD_SLOTS_MAX (1 << 20)
#define SFD_BEACON_LEN (22 + SFD_MAC_LEN)
struct sf_sfd_record {
    uint64_t id, inc;
    char name[SFD_NAME_MAX];
    char host[64]; /* control/fabric address, numeric */
    uint16_t port; /* control port (TCP) and DHT port (UDP) */
    int slots, ranks;
    unsigned load; /* 1-minute load average x 100 */
    char version[32];
};
/* Length written (no NUL counted), or -ENOSPC. */
int sf_sfd__record_format(const struct sf_sfd_record *r, char *out, size_t cap);
/* 0 or SF_ERR_PROTO. */
int sf_sfd__record_parse(const uint8_t *buf, size_t len, struct sf_sfd_record *r);
void sf_sfd__beacon_encode(const uint8_t key[SFD_KEY_LEN], uint64_t id, uint64_t inc,
                           uint16_t port, uint8_t out[SFD_BEACON_LEN]);
/* 0, SF_ERR_PROTO (malformed) or -EACCES (not signed with our key). */
int sf_sfd__beacon_decode(const uint8_t key[SFD_KEY_LEN], const uint8_t *buf, size_t len,
                          uint64_t *id, uint64_t *inc, uint16_t *port);

/* sfd_dht.c: the daemon's DHT node (UDP on the control port's number),
 * its node record, discovery of members from the records, LAN beacons.
 * start after the control port listens; tick from the membership timer;
 * peer_gone when membership drops a node; stop on exit (deletes our
 * record, says goodbye). */
int sf_sfd__dht_start(struct sf_sfd *sfd);
void sf_sfd__dht_tick(struct sf_sfd *sfd, uint64_t now);
void sf_sfd__dht_peer_gone(struct sf_sfd *sfd, uint64_t id, uint64_t inc, bool left);
void sf_sfd__dht_stop(struct sf_sfd *sfd);
void sf_sfd__dht_status(struct sf_sfd *sfd, void (*line)(void *arg, const char *text), void *arg);

/* sfd_peer.c: the control port, membership and failure detection. */
/* Connect to another daemon's control port ("HOST:PORT") and join it. */
int sf_sfd__peer_dial(struct sf_sfd *sfd, const char *target);
struct sf_sfd_pconn *sf_sfd__pconn_new(struct sf_sfd *sfd, int fd, bool outgoing);
void sf_sfd__pconn_close(struct sf_sfd_pconn *pc);
/* Handle the frames buffered in pc->rbuf; false if pc was closed. */
bool sf_sfd__pconn_process(struct sf_sfd_pconn *pc);
/* Seal and queue a frame on a connection (e begun with the next seq of
 * pc->auth). */
int sf_sfd__pconn_send(struct sf_sfd_pconn *pc, struct sf_wire_enc *e);
int sf_sfd__peer_start(struct sf_sfd *sfd);
void sf_sfd__peer_stop(struct sf_sfd *sfd); /* GOODBYE to all, close all */
/* Seal and queue one frame (e begun with seq sf_sfd__peer_seq(p)). */
int sf_sfd__peer_send(struct sf_sfd_peer *p, struct sf_wire_enc *e);
uint32_t sf_sfd__peer_seq(struct sf_sfd_peer *p);
struct sf_sfd_peer *sf_sfd__peer_find(struct sf_sfd *sfd, uint64_t id);
/* Feed bytes received on a peer connection (used by the fuzz target too). */
void sf_sfd__pconn_input(struct sf_sfd_pconn *pc);
void sf_sfd__status_lines(struct sf_sfd *sfd, char ***out, size_t *n);

/* sfd_fs.c: the filesystem's block layer (store under STATE_DIR/fs, store
 * calls on worker threads, block replication, repair). start after the
 * control port listens (listening mode only); stop after the loop ended.
 * peer_op takes FS_PUT/FS_PUT_ACK/FS_GET/FS_DATA from a member; client_op
 * FS_BLOCK_WRITE/FS_BLOCK_READ/FS_ADMIN from a client (answered later, by
 * req); client_gone before a client is freed (its pending replies are
 * dropped). */
int sf_sfd__fs_start(struct sf_sfd *sfd);
void sf_sfd__fs_stop(struct sf_sfd *sfd);
int sf_sfd__fs_peer_op(struct sf_sfd *sfd, struct sf_sfd_peer *from, const struct sf_wire_msg *m);
int sf_sfd__fs_client_op(struct sf_sfd_client *c, const struct sf_wire_msg *m);
void sf_sfd__fs_client_gone(struct sf_sfd *sfd, struct sf_sfd_client *c);
/* Print the block layer's tunables (SF_FSBLK_*) for --params. */
void sf_sfd__fs_params(FILE *out);
/* sfd --params: the metadata's tunables (SF_FSMETA_*, sfd_fs_meta.c). */
void sf_sfd__fs_meta_params(FILE *out);
/* Store calls submitted whose results the loop has not handled yet (the
 * fuzz target runs the loop until this is 0). */
int sf_sfd__fs_busy(struct sf_sfd *sfd);

/* sfd_fs_meta.c: the filesystem's metadata (inodes and directories in a
 * replicated record store, fs/sf_fs_meta.h; log under STATE_DIR/fsmeta).
 * start after the control port listens (listening mode only), stop after
 * the loop ended. peer_op takes FS_META_CAS/STORE/READ/REPLY from a member;
 * client_op FS_NS / FS_READDIR from a client (answered later by req);
 * client_gone before a client is freed. files walks the live file entries
 * held here (block GC: the union over all members covers every file);
 * status adds "fsmeta_*" counters. node_key: a node's DHT id,
 * BLAKE2b-160("sfnode" || id as 8 big-endian bytes). */
struct sf_dht_id;
int sf_sfd__fs_meta_start(struct sf_sfd *sfd);
void sf_sfd__fs_meta_stop(struct sf_sfd *sfd);
int sf_sfd__fs_meta_peer_op(struct sf_sfd *sfd, struct sf_sfd_peer *from,
                            const struct sf_wire_msg *m);
int sf_sfd__fs_meta_client_op(struct sf_sfd_client *c, const struct sf_wire_msg *m);
void sf_sfd__fs_meta_client_gone(struct sf_sfd *sfd, struct sf_sfd_client *c);
struct sf_fs_inode;
int sf_sfd__fs_meta_files(struct sf_sfd *sfd,
                          int (*fn)(void *arg, const uint8_t fid[20], const struct sf_fs_inode *ino),
                          void *arg);
void sf_sfd__fs_meta_status(struct sf_sfd *sfd, void (*line)(void *arg, const char *text),
                            void *arg);
/* The block GC's live set, cluster-wide (sf_fs_meta_collect_files): cb
 * gets the file inodes every member holds (refs are data blocks at depth
 * 0, else list blocks to resolve), status 0 only if every member answered.
 * 0, -ENOSYS (metadata off here) or -ENOMEM; cb runs later, on the loop. */
int sf_sfd__fs_meta_live_files(struct sf_sfd *sfd,
                               void (*cb)(void *arg, int status, const struct sf_fs_inode *inodes,
                                          size_t n),
                               void *arg);
void sf_sfd__node_key(uint64_t id, struct sf_dht_id *out);

#endif
