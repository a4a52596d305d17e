/* The cluster side of a listening sfd: the state directory, the local Unix
 * socket for clients, the TCP control port for other daemons, the peer
 * handshake (HELLO/CHALLENGE/JOIN, authenticated by sfd_auth.c),
 * membership by --join seeds and gossip (PEER_LIST), keep-alives and the
 * failure verdicts (PEER_GONE, GOODBYE). Job frames are handed to
 * sfd_job.c. The DHT is not used yet. Loop thread only. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "runtime/base/sf_err.h"
#include "runtime/base/sf_log.h"
#include "launcher/sfd/sfd_int.h"

#define PC_HANDSHAKE_MS 3000 /* a connection must become a member this fast */
#define SEED_RETRY_MS 500
#define TICK_MS 50
#define PC_PENDING_MAX 64 /* handshakes in progress at once */

static void pc_close(struct sf_sfd_pconn *pc);
static struct sf_sfd_pconn *pc_new(struct sf_sfd *sfd, int fd, bool outgoing);
static void declare_gone(struct sf_sfd *sfd, struct sf_sfd_peer *p, const char *why, bool tell);

/* ------------------------------------------------------------------ */
/* sending */

static int pc_send(struct sf_sfd_pconn *pc, struct sf_wire_enc *e)
{
    if (pc->dead) {
        return SF_ERR_PEER_GONE;
    }
    int rc = sf_wire_enc_end(e);
    if (rc != 0) {
        SF_ERR("encoding op %u failed: %s", e->op, sf_strerror(rc));
        return rc;
    }
    uint8_t mac[SFD_MAC_LEN];
    sf_sfd__auth_mac(&pc->auth, e->buf, e->len, mac);
    rc = sf_sfd__txq_send(pc->sfd->loop, pc->fd, &pc->tx, e->buf, e->len);
    if (rc == 0) {
        rc = sf_sfd__txq_send(pc->sfd->loop, pc->fd, &pc->tx, mac, sizeof(mac));
    }
    if (rc != 0) {
        SF_DBG("peer write failed: %s", sf_strerror(rc));
        pc->dead = true; /* the tick or the reader closes it */
    }
    return rc;
}

int sf_sfd__pconn_send(struct sf_sfd_pconn *pc, struct sf_wire_enc *e)
{
    return pc_send(pc, e);
}

uint32_t sf_sfd__peer_seq(struct sf_sfd_peer *p)
{
    if (p == NULL || p->conn == NULL) {
        return 0;
    }
    return sf_sfd__auth_next_seq(&p->conn->auth);
}

int sf_sfd__peer_send(struct sf_sfd_peer *p, struct sf_wire_enc *e)
{
    if (p == NULL || p->conn == NULL) {
        return SF_ERR_PEER_GONE;
    }
    return pc_send(p->conn, e);
}

static void send_join(struct sf_sfd_pconn *pc)
{
    struct sf_sfd *sfd = pc->sfd;
    struct sf_wire_enc e;
    sf_wire_enc_begin(&e, SF_OP_PEER_JOIN, sf_sfd__auth_next_seq(&pc->auth));
    sf_wire_put_u64(&e, sfd->node_id);
    sf_wire_put_u64(&e, sfd->inc);
    sf_wire_put_str(&e, sfd->host);
    sf_wire_put_u32(&e, sfd->port);
    sf_wire_put_i32(&e, sfd->ncores);
    sf_wire_put_str(&e, PACKAGE_VERSION);
    pc_send(pc, &e);
    sf_wire_enc_free(&e);
}

static char *member_line(const struct sf_sfd_peer *p)
{
    char buf[SFD_NAME_MAX + 128];
    snprintf(buf, sizeof(buf), "%016" PRIx64 " %016" PRIx64 " %s %u %s %d", p->id, p->inc,
             p->host, p->port, p->name, p->slots);
    return strdup(buf);
}

/* PEER_LIST with every member (only = NULL) or one. */
static void send_list(struct sf_sfd_pconn *pc, struct sf_sfd_peer *only)
{
    struct sf_sfd *sfd = pc->sfd;
    size_t n = 0, k = 0;
    for (struct sf_sfd_peer *p = sfd->peers; p != NULL; p = p->next) {
        n++;
    }
    char **lines = calloc(n + 1, sizeof(char *));
    if (lines == NULL) {
        return;
    }
    for (struct sf_sfd_peer *p = sfd->peers; p != NULL; p = p->next) {
        if (p->conn != NULL && (only == NULL || p == only) && p != pc->peer) {
            lines[k] = member_line(p);
            k += lines[k] != NULL;
        }
    }
    if (k > 0) {
        struct sf_wire_enc e;
        sf_wire_enc_begin(&e, SF_OP_PEER_LIST, sf_sfd__auth_next_seq(&pc->auth));
        sf_wire_put_strv(&e, lines, k);
        pc_send(pc, &e);
        sf_wire_enc_free(&e);
    }
    for (size_t i = 0; i < k; i++) {
        free(lines[i]);
    }
    free(lines);
}

/* ------------------------------------------------------------------ */
/* connections */

static void on_pc_io(struct sf_loop *loop, int fd, int events, void *arg);

struct sf_sfd_pconn *sf_sfd__pconn_new(struct sf_sfd *sfd, int fd, bool outgoing)
{
    return pc_new(sfd, fd, outgoing);
}

void sf_sfd__pconn_close(struct sf_sfd_pconn *pc)
{
    pc_close(pc);
}

static struct sf_sfd_pconn *pc_new(struct sf_sfd *sfd, int fd, bool outgoing)
{
    struct sf_sfd_pconn *pc = calloc(1, sizeof(*pc));
    if (pc == NULL) {
        return NULL;
    }
    pc->sfd = sfd;
    pc->fd = fd;
    pc->outgoing = outgoing;
    pc->state = outgoing ? PC_CONNECTING : PC_HELLO;
    pc->started = sf_now_ms();
    sf_sfd__auth_init(&pc->auth, sfd->key);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (sf_loop_add_fd(sfd->loop, fd, outgoing ? SF_LOOP_OUT : SF_LOOP_IN, on_pc_io, pc) != 0) {
        free(pc);
        return NULL;
    }
    pc->next = sfd->pconns;
    sfd->pconns = pc;
    return pc;
}

/* Close and free a connection. A member's connection going away is the
 * caller's business (declare_gone); this only detaches it. */
static void pc_close(struct sf_sfd_pconn *pc)
{
    struct sf_sfd *sfd = pc->sfd;
    for (struct sf_sfd_pconn **pp = &sfd->pconns; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == pc) {
            *pp = pc->next;
            break;
        }
    }
    if (pc->peer != NULL && pc->peer->conn == pc) {
        pc->peer->conn = NULL;
    }
    if (pc->client != NULL) {
        struct sf_sfd_client *c = pc->client;
        pc->client = NULL;
        c->pc = NULL;
        c->fd = -1;
        if (!c->dead) {
            c->dead = true; /* as client_lost, without touching a loop fd */
            struct sf_sfd_job *job = c->job;
            if (job != NULL) {
                job->client = NULL;
                c->job = NULL;
                if (job->state != SFD_JOB_DONE) {
                    SF_INFO("remote client gone: killing job %llu", (unsigned long long)job->id);
                    sf_sfd__job_kill_now(job);
                }
            }
        }
    }
    if (pc->fd >= 0) {
        sf_loop_del_fd(sfd->loop, pc->fd);
        close(pc->fd);
    }
    sf_sfd__txq_free(&pc->tx);
    free(pc->rbuf);
    free(pc);
}

/* The connection broke or misbehaved: if it carried a member, that member
 * is gone (a daemon that exits cleanly says GOODBYE first). */
static void pc_fail(struct sf_sfd_pconn *pc, const char *why)
{
    struct sf_sfd_peer *p = pc->peer;
    if (p != NULL && p->conn == pc) {
        declare_gone(pc->sfd, p, why, true);
    } else {
        pc_close(pc);
    }
}

static int dial(struct sf_sfd *sfd, const char *target)
{
    for (struct sf_sfd_pconn *pc = sfd->pconns; pc != NULL; pc = pc->next) {
        if (pc->outgoing && pc->state != PC_UP && strcmp(pc->target, target) == 0) {
            return 0; /* already trying */
        }
    }
    char host[96];
    snprintf(host, sizeof(host), "%s", target);
    char *colon = strrchr(host, ':');
    if (colon == NULL) {
        return -EINVAL;
    }
    *colon = '\0';
    const char *port = colon + 1;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    if (getaddrinfo(host, port, &hints, &res) != 0 || res == NULL) {
        SF_WARN_SPARSE("cannot resolve %s", target);
        return -EHOSTUNREACH;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        freeaddrinfo(res);
        return -errno;
    }
    int rc = connect(fd, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    if (rc != 0 && errno != EINPROGRESS) {
        rc = -errno;
        close(fd);
        return rc;
    }
    struct sf_sfd_pconn *pc = pc_new(sfd, fd, true);
    if (pc == NULL) {
        close(fd);
        return -ENOMEM;
    }
    snprintf(pc->target, sizeof(pc->target), "%s", target);
    SF_DBG("dialling %s", target);
    return 0;
}

int sf_sfd__peer_dial(struct sf_sfd *sfd, const char *target)
{
    return dial(sfd, target);
}

/* ------------------------------------------------------------------ */
/* membership */

struct sf_sfd_peer *sf_sfd__peer_find(struct sf_sfd *sfd, uint64_t id)
{
    for (struct sf_sfd_peer *p = sfd->peers; p != NULL; p = p->next) {
        if (p->id == id) {
            return p;
        }
    }
    return NULL;
}

static void tell_all(struct sf_sfd *sfd, uint8_t op, const struct sf_sfd_peer *about,
                     const char *why)
{
    for (struct sf_sfd_peer *q = sfd->peers; q != NULL; q = q->next) {
        if (q == about || q->conn == NULL) {
            continue;
        }
        struct sf_wire_enc e;
        sf_wire_enc_begin(&e, op, sf_sfd__peer_seq(q));
        sf_wire_put_u64(&e, about->id);
        sf_wire_put_u64(&e, about->inc);
        sf_wire_put_str(&e, why);
        sf_sfd__peer_send(q, &e);
        sf_wire_enc_free(&e);
    }
}

static void declare_gone(struct sf_sfd *sfd, struct sf_sfd_peer *p, const char *why, bool tell)
{
    SF_WARN("node %s (%s:%u) %s", p->name, p->host, p->port, why);
    for (struct sf_sfd_peer **pp = &sfd->peers; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    }
    if (p->conn != NULL) {
        struct sf_sfd_pconn *pc = p->conn;
        p->conn = NULL;
        pc->peer = NULL;
        pc_close(pc);
    }
    sfd->peers_gone++;
    sf_sfd__dht_peer_gone(sfd, p->id, p->inc, false);
    if (tell) {
        tell_all(sfd, SF_OP_PEER_GONE, p, why);
    }
    sf_sfd__job_peer_lost(sfd, p, why);
    free(p);
}

static void on_join(struct sf_sfd_pconn *pc, const struct sf_wire_msg *m)
{
    struct sf_sfd *sfd = pc->sfd;
    uint64_t id = m->f[0].u, inc = m->f[1].u;
    uint32_t port = (uint32_t)m->f[3].u;
    if (id == sfd->node_id) {
        SF_DBG("connected to ourselves: closing");
        pc_close(pc);
        return;
    }
    if (m->f[2].len == 0 || m->f[2].len >= SFD_NAME_MAX || memchr(m->f[2].p, ' ', m->f[2].len) ||
        port == 0 || port > 65535 || m->f[4].i < 1) {
        sfd->drops[SFD_DROP_PROTO]++;
        pc_close(pc);
        return;
    }
    struct sf_sfd_peer *p = sf_sfd__peer_find(sfd, id);
    if (p != NULL && p->inc != inc) {
        /* Same node id, new incarnation: the old one is gone, whatever it
         * said; this one joins as a new member. */
        declare_gone(sfd, p, "restarted", true);
        p = NULL;
    }
    if (p != NULL && p->conn != NULL && p->conn != pc) {
        /* Both sides dialled: keep the connection dialled by the lower id
         * (both daemons compute the same answer). */
        uint64_t mine = pc->outgoing ? sfd->node_id : id;
        uint64_t old = p->conn->outgoing ? sfd->node_id : id;
        if (mine >= old) {
            pc_close(pc);
            return;
        }
        struct sf_sfd_pconn *loser = p->conn;
        loser->peer = NULL;
        p->conn = NULL;
        pc_close(loser);
    }
    bool is_new = p == NULL;
    if (is_new) {
        p = calloc(1, sizeof(*p));
        if (p == NULL) {
            pc_close(pc);
            return;
        }
        p->sfd = sfd;
        p->id = id;
        p->inc = inc;
        p->next = sfd->peers;
        sfd->peers = p;
    }
    memcpy(p->name, m->f[2].p, m->f[2].len);
    p->name[m->f[2].len] = '\0';
    p->port = (uint16_t)port;
    p->slots = (int)m->f[4].i;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getpeername(pc->fd, (struct sockaddr *)&ss, &sl) == 0) {
        getnameinfo((struct sockaddr *)&ss, sl, p->host, sizeof(p->host), NULL, 0,
                    NI_NUMERICHOST);
    }
    p->conn = pc;
    p->last_heard = sf_now_ms();
    pc->peer = p;
    pc->state = PC_UP;
    pc->auth.bulk = true; /* from here block frames' payloads are hash-checked, not MAC'd */
    if (is_new) {
        SF_INFO("node %s (%s:%u, %d slots) joined", p->name, p->host, p->port, p->slots);
    }
    send_list(pc, NULL);
    for (struct sf_sfd_peer *q = sfd->peers; q != NULL; q = q->next) {
        if (q != p && q->conn != NULL) {
            send_list(q->conn, p);
        }
    }
}

static void on_list(struct sf_sfd_pconn *pc, const struct sf_wire_msg *m)
{
    struct sf_sfd *sfd = pc->sfd;
    uint32_t pos = 0, len;
    const uint8_t *s;
    while (sf_wire_strv_next(&m->f[0], &pos, &s, &len)) {
        char line[SFD_NAME_MAX + 128], host[64], name[SFD_NAME_MAX];
        if (len >= sizeof(line)) {
            continue;
        }
        memcpy(line, s, len);
        line[len] = '\0';
        uint64_t id, inc;
        unsigned port;
        int slots;
        if (sscanf(line, "%" SCNx64 " %" SCNx64 " %63s %u %127s %d", &id, &inc, host, &port, name,
                   &slots) != 6 ||
            port == 0 || port > 65535) {
            sfd->drops[SFD_DROP_PROTO]++;
            continue;
        }
        if (id == sfd->node_id || sf_sfd__peer_find(sfd, id) != NULL) {
            continue;
        }
        /* The lower id dials, so a pair does not race to connect twice. */
        if (sfd->node_id < id) {
            char target[96];
            snprintf(target, sizeof(target), strchr(host, ':') ? "[%s]:%u" : "%s:%u", host,
                     port);
            dial(sfd, target);
        }
    }
}

static void on_peer_gone(struct sf_sfd_pconn *pc, const struct sf_wire_msg *m)
{
    struct sf_sfd *sfd = pc->sfd;
    struct sf_sfd_peer *p = sf_sfd__peer_find(sfd, m->f[0].u);
    if (p == NULL || p->inc != m->f[1].u) {
        return; /* not a member we know in that incarnation */
    }
    char *why = sf_wire_strdup(&m->f[2]);
    char text[512];
    snprintf(text, sizeof(text), "declared gone by %s (%s)", pc->peer->name,
             why != NULL ? why : "?");
    free(why);
    declare_gone(sfd, p, text, false);
}

/* ------------------------------------------------------------------ */
/* input */

static void handle(struct sf_sfd_pconn *pc, const struct sf_wire_msg *m)
{
    struct sf_sfd *sfd = pc->sfd;
    switch (pc->state) {
    case PC_HELLO:
        if (!pc->outgoing && m->op == SF_OP_PEER_HELLO && m->f[0].len == SFD_NONCE_LEN) {
            memcpy(pc->nonce_c, m->f[0].p, SFD_NONCE_LEN);
            sf_sfd__auth_random(pc->nonce_a, SFD_NONCE_LEN);
            struct sf_wire_enc e;
            sf_wire_enc_begin(&e, SF_OP_PEER_CHALLENGE, 0);
            sf_wire_put_bytes(&e, pc->nonce_a, SFD_NONCE_LEN);
            pc_send(pc, &e);
            sf_wire_enc_free(&e);
            sf_sfd__auth_session(&pc->auth, pc->nonce_c, pc->nonce_a, false);
            pc->state = PC_JOINING;
            send_join(pc);
            return;
        }
        if (pc->outgoing && m->op == SF_OP_PEER_CHALLENGE && m->f[0].len == SFD_NONCE_LEN) {
            memcpy(pc->nonce_a, m->f[0].p, SFD_NONCE_LEN);
            sf_sfd__auth_session(&pc->auth, pc->nonce_c, pc->nonce_a, true);
            pc->state = PC_JOINING;
            send_join(pc);
            return;
        }
        break;
    case PC_JOINING:
        if (m->op == SF_OP_PEER_JOIN) {
            on_join(pc, m);
            return;
        }
        if (!pc->outgoing && (m->op == SF_OP_JOB_SUBMIT || m->op == SF_OP_STATUS_REQ)) {
            /* A client holding the key, not a daemon. */
            struct sf_sfd_client *c;
            if (sf_sfd__client_add_remote(sfd, pc, &c) != 0) {
                pc_close(pc);
                return;
            }
            pc->state = PC_CLIENT;
            sf_sfd__client_dispatch(c, m);
            return;
        }
        break;
    case PC_CLIENT:
        if (pc->client != NULL) {
            sf_sfd__client_dispatch(pc->client, m);
        }
        return;
    case PC_UP:
        pc->peer->last_heard = sf_now_ms();
        switch (m->op) {
        case SF_OP_PEER_PING:
            return;
        case SF_OP_PEER_LIST:
            on_list(pc, m);
            return;
        case SF_OP_PEER_GONE:
            on_peer_gone(pc, m);
            return;
        case SF_OP_GOODBYE:
            sf_sfd__dht_peer_gone(sfd, pc->peer->id, pc->peer->inc, true);
            declare_gone(sfd, pc->peer, "left (goodbye)", false);
            return;
        case SF_OP_SPAWN:
        case SF_OP_JOB_RANK_ADDR:
        case SF_OP_JOB_TABLE:
        case SF_OP_JOB_OUTPUT:
        case SF_OP_JOB_RANK_EXIT:
        case SF_OP_JOB_FAIL:
        case SF_OP_JOB_KILL:
        case SF_OP_JOB_SIGNAL:
        case SF_OP_JOB_STDIN:
        case SF_OP_JOB_PART_DONE:
        case SF_OP_JOB_FLOW:
        case SF_OP_STDIN_ACK:
            sf_sfd__job_peer_op(sfd, pc->peer, m);
            return;
        case SF_OP_CKPT_PART:
        case SF_OP_CKPT_COMMIT:
            sf_sfd__ckpt_peer_op(sfd, pc->peer, m);
            return;
        case SF_OP_FS_PUT:
        case SF_OP_FS_PUT_ACK:
        case SF_OP_FS_GET:
        case SF_OP_FS_DATA:
            sf_sfd__fs_peer_op(sfd, pc->peer, m);
            return;
        case SF_OP_FS_META_CAS:
        case SF_OP_FS_META_STORE:
        case SF_OP_FS_META_READ:
        case SF_OP_FS_META_REPLY:
            sf_sfd__fs_meta_peer_op(sfd, pc->peer, m);
            return;
        default:
            break;
        }
        break;
    default:
        break;
    }
    sfd->drops[SFD_DROP_PROTO]++;
    SF_WARN_SPARSE("peer connection sent %s in state %d: dropped",
                   sf_wire_schema(m->op) ? sf_wire_schema(m->op)->name : "?", (int)pc->state);
    if (pc->state != PC_UP) {
        pc_close(pc); /* handshakes have one path */
    }
}

/* Process what rbuf holds. Returns false if pc was closed. */
bool sf_sfd__pconn_process(struct sf_sfd_pconn *pc)
{
    struct sf_sfd *sfd = pc->sfd;
    size_t off = 0;
    bool ok = true;
    while (ok) {
        struct sf_wire_msg m;
        enum sf_sfd_drop why;
        long n = sf_sfd__auth_open(&pc->auth, pc->rbuf + off, pc->rlen - off, &m, &why);
        if (n == 0) {
            break;
        }
        if (n < 0) {
            sfd->drops[why != SFD_DROP_NONE ? why : SFD_DROP_GARBAGE]++;
            SF_WARN_SPARSE("dropping peer connection: %s",
                           why == SFD_DROP_MAC ? "bad MAC (wrong cluster key?)"
                           : why == SFD_DROP_DECODE ? "malformed frame"
                                                    : "not our protocol");
            pc_fail(pc, "sent a bad frame");
            return false;
        }
        off += (size_t)n;
        if (why == SFD_DROP_REPLAY) {
            sfd->drops[SFD_DROP_REPLAY]++;
            SF_WARN_SPARSE("replayed frame on a peer connection: dropped");
            continue;
        }
        /* handle may close pc (and free rbuf): detect it through the list. */
        struct sf_sfd_pconn *self = pc;
        handle(pc, &m);
        ok = false;
        for (struct sf_sfd_pconn *q = sfd->pconns; q != NULL; q = q->next) {
            if (q == self) {
                ok = true;
                break;
            }
        }
        if (!ok) {
            return false;
        }
    }
    if (off > 0) {
        memmove(pc->rbuf, pc->rbuf + off, pc->rlen - off);
        pc->rlen -= off;
    }
    return true;
}

void sf_sfd__pconn_input(struct sf_sfd_pconn *pc)
{
    /* A bounded number of reads per wake-up: a peer streaming output must
     * not starve the timers (our own keep-alives) and the other fds;
     * epoll is level-triggered, so the rest is read on the next turn. */
    for (int rounds = 0; rounds < 8; rounds++) {
        if (pc->rcap - pc->rlen < 65536) {
            size_t cap = pc->rcap ? pc->rcap * 2 : 131072;
            if (cap > SFD_PEER_MAX_BODY + 2 * (SF_WIRE_HDR_LEN + SFD_MAC_LEN) + 131072) {
                cap = pc->rcap; /* enough for the largest frame */
            }
            if (cap > pc->rcap) {
                uint8_t *nb = realloc(pc->rbuf, cap);
                if (nb == NULL) {
                    pc_fail(pc, "out of memory");
                    return;
                }
                pc->rbuf = nb;
                pc->rcap = cap;
            }
        }
        if (pc->rlen == pc->rcap) {
            pc_fail(pc, "frame too large");
            return;
        }
        ssize_t n = read(pc->fd, pc->rbuf + pc->rlen, pc->rcap - pc->rlen);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        }
        if (n <= 0) {
            pc_fail(pc, "connection lost");
            return;
        }
        pc->rlen += (size_t)n;
        if (!sf_sfd__pconn_process(pc)) {
            return;
        }
    }
}

static void on_pc_io(struct sf_loop *loop, int fd, int events, void *arg)
{
    struct sf_sfd_pconn *pc = arg;
    if (pc->state == PC_CONNECTING) {
        int err = 0;
        socklen_t el = sizeof(err);
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err != 0) {
            SF_DBG("connect to %s failed: %s", pc->target, strerror(err));
            pc_close(pc);
            return;
        }
        pc->state = PC_HELLO;
        sf_loop_mod_fd(loop, fd, SF_LOOP_IN);
        sf_sfd__auth_random(pc->nonce_c, SFD_NONCE_LEN);
        struct sf_wire_enc e;
        sf_wire_enc_begin(&e, SF_OP_PEER_HELLO, 0);
        sf_wire_put_bytes(&e, pc->nonce_c, SFD_NONCE_LEN);
        pc_send(pc, &e);
        sf_wire_enc_free(&e);
        return;
    }
    if (events & SF_LOOP_OUT) {
        if (sf_sfd__txq_flush(loop, fd, &pc->tx) != 0) {
            pc_fail(pc, "connection lost");
            return;
        }
        sf_sfd__io_resume(pc->sfd);
    }
    if (events & (SF_LOOP_IN | SF_LOOP_HUP | SF_LOOP_ERR)) {
        sf_sfd__pconn_input(pc);
    }
}

/* ------------------------------------------------------------------ */
/* listening sockets, the tick */

static void on_tcp_accept(struct sf_loop *loop, int fd, int events, void *arg)
{
    struct sf_sfd *sfd = arg;
    for (;;) {
        int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0) {
            return;
        }
        /* Connections that have not proven the key yet are capped, so a
         * flood of idle connections cannot exhaust our descriptors. */
        int pending = 0;
        for (struct sf_sfd_pconn *q = sfd->pconns; q != NULL; q = q->next) {
            pending += q->state != PC_UP && q->state != PC_CLIENT;
        }
        if (pending >= PC_PENDING_MAX) {
            sfd->drops[SFD_DROP_PROTO]++;
            SF_WARN_SPARSE("too many unauthenticated connections: refusing one");
            close(c);
            continue;
        }
        if (pc_new(sfd, c, false) == NULL) {
            close(c);
        }
    }
}

static void on_unix_accept(struct sf_loop *loop, int fd, int events, void *arg)
{
    struct sf_sfd *sfd = arg;
    for (;;) {
        int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0) {
            return;
        }
        struct ucred cr;
        socklen_t cl = sizeof(cr);
        if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cr, &cl) != 0 || cr.uid != geteuid()) {
            sfd->drops[SFD_DROP_UID]++;
            SF_WARN_SPARSE("refused a local client of uid %d", (int)cr.uid);
            close(c);
            continue;
        }
        if (sf_sfd__client_add(sfd, c, NULL) != 0) {
            close(c);
        }
    }
}

static void on_tick(struct sf_loop *loop, void *arg)
{
    struct sf_sfd *sfd = arg;
    sfd->tick = NULL;
    uint64_t now = sf_now_ms();
    uint64_t fail_ms = (uint64_t)(sfd->tun.fail_timeout * 1000.0);
    uint64_t ka_ms = (uint64_t)(sfd->tun.keepalive * 1000.0);
    bool ping = now - sfd->last_ping >= ka_ms;
    if (ping) {
        sfd->last_ping = now;
    }
    struct sf_sfd_peer *p = sfd->peers, *pn;
    for (; p != NULL; p = pn) {
        pn = p->next;
        if (p->conn == NULL) {
            continue;
        }
        if (p->conn->dead) {
            declare_gone(sfd, p, "connection lost", true);
            continue;
        }
        if (now - p->last_heard > fail_ms) {
            char why[96];
            snprintf(why, sizeof(why), "missed keep-alives for %.1f s", sfd->tun.fail_timeout);
            declare_gone(sfd, p, why, true);
            continue;
        }
        if (ping) {
            struct sf_wire_enc e;
            sf_wire_enc_begin(&e, SF_OP_PEER_PING, sf_sfd__peer_seq(p));
            sf_wire_put_u64(&e, now);
            sf_sfd__peer_send(p, &e);
            sf_wire_enc_free(&e);
        }
    }
    struct sf_sfd_pconn *pc = sfd->pconns, *next;
    for (; pc != NULL; pc = next) {
        next = pc->next;
        bool member_or_client = pc->state == PC_UP || pc->state == PC_CLIENT;
        if ((pc->state == PC_CLIENT && pc->dead) ||
            (!member_or_client && (pc->dead || now - pc->started > PC_HANDSHAKE_MS))) {
            SF_DBG("connection %s did not complete its handshake: closing",
                   pc->outgoing ? pc->target : "(incoming)");
            pc_close(pc);
        }
    }
    /* Seeds are retried until at least one member is known. */
    bool any = false;
    for (p = sfd->peers; p != NULL && !any; p = p->next) {
        any = p->conn != NULL;
    }
    if (!any && sfd->nseeds > 0 && now - sfd->last_seed_try >= SEED_RETRY_MS) {
        sfd->last_seed_try = now;
        for (int i = 0; i < sfd->nseeds; i++) {
            dial(sfd, sfd->seeds[i]);
        }
    }
    sf_sfd__dht_tick(sfd, now);
    sf_loop_timer(loop, TICK_MS, on_tick, sfd, &sfd->tick);
}

static int write_file(const char *dir, const char *name, const char *text, mode_t mode)
{
    char path[4096], tmp[4200];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        return -errno;
    }
    size_t len = strlen(text);
    ssize_t w = write(fd, text, len);
    close(fd);
    if (w != (ssize_t)len || rename(tmp, path) != 0) {
        unlink(tmp);
        return -EIO;
    }
    return 0;
}

static int mkdir_p(const char *dir, mode_t mode)
{
    char buf[4096];
    snprintf(buf, sizeof(buf), "%s", dir);
    for (char *p = buf + 1; *p != '\0'; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0700) != 0 && errno != EEXIST) {
                return -errno;
            }
            *p = '/';
        }
    }
    if (mkdir(buf, mode) != 0 && errno != EEXIST) {
        return -errno;
    }
    return chmod(buf, mode) == 0 ? 0 : -errno;
}

static int load_node_id(struct sf_sfd *sfd)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/node.id", sfd->state_dir);
    FILE *f = fopen(path, "r");
    if (f != NULL) {
        uint64_t id = 0;
        int ok = fscanf(f, "%16" SCNx64, &id);
        fclose(f);
        if (ok == 1 && id != 0) {
            sfd->node_id = id;
            return 0;
        }
    }
    do {
        sf_sfd__auth_random((uint8_t *)&sfd->node_id, sizeof(sfd->node_id));
    } while (sfd->node_id == 0);
    char text[32];
    snprintf(text, sizeof(text), "%016" PRIx64 "\n", sfd->node_id);
    return write_file(sfd->state_dir, "node.id", text, 0600);
}

static int listen_tcp(struct sf_sfd *sfd)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -errno;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(sfd->port)};
    sa.sin_addr.s_addr = htonl(INADDR_ANY);
    if (sfd->bind_addr != NULL && inet_pton(AF_INET, sfd->bind_addr, &sa.sin_addr) != 1) {
        close(fd);
        return -EINVAL;
    }
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 128) != 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    socklen_t sl = sizeof(sa);
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    sfd->port = ntohs(sa.sin_port);
    sfd->tcp_fd = fd;
    return sf_loop_add_fd(sfd->loop, fd, SF_LOOP_IN, on_tcp_accept, sfd);
}

static int listen_unix(struct sf_sfd *sfd)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t need = strlen(sfd->state_dir) + strlen("/sfd.sock") + 1;
    if (need > sizeof(sa.sun_path)) {
        return -ENAMETOOLONG;
    }
    sfd->sock_path = malloc(need);
    if (sfd->sock_path == NULL) {
        return -ENOMEM;
    }
    snprintf(sfd->sock_path, need, "%s/sfd.sock", sfd->state_dir);
    memcpy(sa.sun_path, sfd->sock_path, need);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -errno;
    }
    /* A socket file left by a dead daemon is replaced; a live one is not. */
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe >= 0) {
        if (connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
            close(probe);
            close(fd);
            return -EADDRINUSE;
        }
        close(probe);
    }
    unlink(sfd->sock_path);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 64) != 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    chmod(sfd->sock_path, 0600);
    sfd->unix_fd = fd;
    return sf_loop_add_fd(sfd->loop, fd, SF_LOOP_IN, on_unix_accept, sfd);
}

int sf_sfd__peer_start(struct sf_sfd *sfd)
{
    int rc = sf_sfd__auth_global_init();
    if (rc != 0) {
        SF_ERR("libsodium failed to initialise");
        return rc;
    }
    if ((rc = mkdir_p(sfd->state_dir, 0700)) != 0) {
        SF_ERR("cannot create state directory %s: %s", sfd->state_dir, sf_strerror(rc));
        return rc;
    }
    char kp[4096];
    const char *key_path = sfd->key_path;
    if (key_path == NULL) {
        snprintf(kp, sizeof(kp), "%s/cluster.key", sfd->state_dir);
        key_path = kp;
    }
    if ((rc = sf_sfd__key_load(key_path, true, sfd->key)) != 0) {
        SF_ERR("cannot use cluster key %s: %s%s", key_path, sf_strerror(rc),
               rc == SF_ERR_CONFIG ? " (it must be 32 bytes, mode 0600)" : "");
        return rc;
    }
    if ((rc = load_node_id(sfd)) != 0) {
        SF_ERR("cannot record the node id in %s: %s", sfd->state_dir, sf_strerror(rc));
        return rc;
    }
    sf_sfd__auth_random((uint8_t *)&sfd->inc, sizeof(sfd->inc));
    if ((rc = listen_tcp(sfd)) != 0) {
        SF_ERR("cannot listen on TCP port %u: %s", sfd->port, sf_strerror(rc));
        return rc;
    }
    if (sfd->host[0] == '\0') {
        char h[100];
        if (gethostname(h, sizeof(h) - 1) != 0) {
            strcpy(h, "localhost");
        }
        h[sizeof(h) - 1] = '\0';
        snprintf(sfd->host, sizeof(sfd->host), "%s:%u", h, sfd->port);
    }
    if ((rc = listen_unix(sfd)) != 0) {
        SF_ERR("cannot listen on %s/sfd.sock: %s", sfd->state_dir, sf_strerror(rc));
        return rc;
    }
    if ((rc = sf_sfd__dht_start(sfd)) != 0) {
        return rc;
    }
    char text[160];
    snprintf(text, sizeof(text), "%d\n", (int)getpid());
    write_file(sfd->state_dir, "sfd.pid", text, 0644);
    snprintf(text, sizeof(text), "%s:%u\n", sfd->bind_addr ? sfd->bind_addr : "127.0.0.1",
             sfd->port);
    write_file(sfd->state_dir, "sfd.addr", text, 0644);
    SF_INFO("node %s (id %016" PRIx64 ") listening on port %u, %d slots", sfd->host,
            sfd->node_id, sfd->port, sfd->ncores);
    for (int i = 0; i < sfd->nseeds; i++) {
        dial(sfd, sfd->seeds[i]);
    }
    sfd->last_seed_try = sf_now_ms();
    return sf_loop_timer(sfd->loop, TICK_MS, on_tick, sfd, &sfd->tick);
}

void sf_sfd__peer_stop(struct sf_sfd *sfd)
{
    sf_sfd__dht_stop(sfd);
    while (sfd->peers != NULL) {
        struct sf_sfd_peer *p = sfd->peers;
        sfd->peers = p->next;
        if (p->conn != NULL) {
            struct sf_wire_enc e;
            sf_wire_enc_begin(&e, SF_OP_GOODBYE, sf_sfd__peer_seq(p));
            sf_wire_put_str(&e, "daemon exiting");
            pc_send(p->conn, &e);
            sf_wire_enc_free(&e);
            /* Last words: push the queue out before closing. */
            struct sf_sfd_txq *q = &p->conn->tx;
            if (q->off < q->len) {
                sf_wire_write_all(p->conn->fd, q->buf + q->off, q->len - q->off);
            }
            p->conn->peer = NULL;
        }
        free(p);
    }
    while (sfd->pconns != NULL) {
        pc_close(sfd->pconns);
    }
    if (sfd->tick != NULL) {
        sf_loop_timer_cancel(sfd->loop, sfd->tick);
        sfd->tick = NULL;
    }
    if (sfd->tcp_fd >= 0) {
        sf_loop_del_fd(sfd->loop, sfd->tcp_fd);
        close(sfd->tcp_fd);
        sfd->tcp_fd = -1;
    }
    if (sfd->unix_fd >= 0) {
        sf_loop_del_fd(sfd->loop, sfd->unix_fd);
        close(sfd->unix_fd);
        sfd->unix_fd = -1;
        unlink(sfd->sock_path);
    }
    char path[4200];
    snprintf(path, sizeof(path), "%s/sfd.pid", sfd->state_dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/sfd.addr", sfd->state_dir);
    unlink(path);
}

static void add_line(char ***v, size_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void add_line(char ***v, size_t *n, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    char **nv = realloc(*v, (*n + 1) * sizeof(char *));
    if (nv == NULL) {
        return;
    }
    *v = nv;
    nv[*n] = strdup(buf);
    if (nv[*n] != NULL) {
        (*n)++;
    }
}

struct status_acc {
    char ***v;
    size_t *n;
};

static void status_dht_line(void *arg, const char *text)
{
    struct status_acc *a = arg;
    add_line(a->v, a->n, "%s", text);
}

void sf_sfd__status_lines(struct sf_sfd *sfd, char ***out, size_t *n)
{
    static const char *const drop_names[SFD_DROP_COUNT] = {
        "none", "garbage", "bad_mac", "replay", "decode", "proto", "uid"};
    *out = NULL;
    *n = 0;
    add_line(out, n, "node=%s", sfd->host);
    add_line(out, n, "id=%016" PRIx64, sfd->node_id);
    add_line(out, n, "port=%u", sfd->port);
    add_line(out, n, "slots=%d", sfd->ncores);
    add_line(out, n, "version=%s", PACKAGE_VERSION);
    int np = 0, nj = 0, nr = 0;
    for (struct sf_sfd_peer *p = sfd->peers; p != NULL; p = p->next) {
        np += p->conn != NULL;
    }
    for (struct sf_sfd_job *j = sfd->jobs; j != NULL; j = j->next) {
        nj++;
        nr += j->nlive;
    }
    add_line(out, n, "peers=%d", np);
    add_line(out, n, "jobs=%d", nj);
    add_line(out, n, "ranks=%d", nr);
    double la[1];
    if (getloadavg(la, 1) == 1) {
        add_line(out, n, "load=%.2f", la[0]);
    }
    add_line(out, n, "jobs_run=%lu", sfd->jobs_run);
    add_line(out, n, "peers_gone=%lu", sfd->peers_gone);
    for (int i = 1; i < SFD_DROP_COUNT; i++) {
        add_line(out, n, "drop_%s=%lu", drop_names[i], sfd->drops[i]);
    }
    struct status_acc acc = {out, n};
    sf_sfd__dht_status(sfd, status_dht_line, &acc);
    sf_sfd__fs_meta_status(sfd, status_dht_line, &acc);
    uint64_t now = sf_now_ms();
    for (struct sf_sfd_peer *p = sfd->peers; p != NULL; p = p->next) {
        char rec[96] = "";
        if (p->rec_version[0] != '\0') {
            snprintf(rec, sizeof(rec), " ranks=%d load=%u.%02u version=%s", p->rec_ranks,
                     p->rec_load / 100, p->rec_load % 100, p->rec_version);
        }
        add_line(out, n, "peer=%s %016" PRIx64 " %s:%u slots=%d heard_ms=%llu%s", p->name, p->id,
                 p->host, p->port, p->slots, (unsigned long long)(now - p->last_heard), rec);
    }
    static const char *const states[] = {"running", "ending", "done"};
    for (struct sf_sfd_job *j = sfd->jobs; j != NULL; j = j->next) {
        /* Placement, coordinator only: "NODE:FIRST-LAST,..." per node. */
        char place[400] = "";
        size_t off = 0;
        for (int k = 0; j->coord && k < j->nnodes && off + 64 < sizeof(place); k++) {
            off += (size_t)snprintf(place + off, sizeof(place) - off, "%s%s:", k > 0 ? ";" : "",
                                    j->nodes[k].name);
            int first = -1;
            bool sep = false;
            for (int r = 0; r <= j->n && off + 24 < sizeof(place); r++) {
                bool in = r < j->n && j->ranks[r].node == k;
                if (in && first < 0) {
                    first = r;
                } else if (!in && first >= 0) {
                    off += (size_t)snprintf(place + off, sizeof(place) - off,
                                            first == r - 1 ? "%s%d" : "%s%d-%d", sep ? "," : "",
                                            first, r - 1);
                    sep = true;
                    first = -1;
                }
            }
        }
        add_line(out, n, "job=%llu ranks=%d local=%d live=%d %s %s%s%s",
                 (unsigned long long)j->id, j->n, j->nlocal, j->nlive,
                 j->coord ? "coordinator" : "part", states[j->state], place[0] ? " nodes=" : "",
                 place);
    }
}
