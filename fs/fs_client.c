/* fs client, the connection: connect to the local sfd's Unix socket, send
 * requests (a fresh req each) and wait for replies with a timeout,
 * delivering whatever arrives to the request it answers. Does not know
 * what the ops mean (fs_client_io.c, fs_client_ns.c do). One thread per
 * client. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "fs/fs_client_int.h"
#include "runtime/base/sf_err.h"
#include "runtime/base/sf_log.h"

#define OPT(f) offsetof(struct sf_fs_client_opts, f)
static const struct sf_tun client_tun_items[] = {
    {"timeout", SF_TUN_DOUBLE, "120", "seconds to wait for one reply from the local sfd",
     OPT(timeout)},
    {"window", SF_TUN_SIZE, "16", "blocks in flight per file reader / writer (1..64)",
     OPT(window)},
    {"block_size", SF_TUN_SIZE, "0",
     "block size for new files (0: SF_FS_BLOCK_SIZE; power of two, 4k..8m)", OPT(block_size)},
};
const struct sf_tun_table sf_fs_client_tun_table = {
    "fs_client", client_tun_items, sizeof client_tun_items / sizeof client_tun_items[0]};

/* A frame's body is at most SF_WIRE_MAX_BODY (16 MiB); a block and its
 * header must fit, so 8 MiB is the largest usable power of two. */
#define CLIENT_BLOCK_MAX (8u << 20)

int sf_fs_client_opts_load(struct sf_fs_client_opts *o)
{
    struct sf_fs_client_opts t;
    memset(&t, 0, sizeof(t));
    int rc = sf_tun_load(&sf_fs_client_tun_table, &t);
    if (rc != 0) {
        return rc;
    }
    if (!(t.timeout > 0)) {
        SF_ERR("SF_FS_CLIENT_TIMEOUT=%g: must be positive", t.timeout);
        return SF_ERR_CONFIG;
    }
    if (t.window < 1 || t.window > 64) {
        SF_ERR("SF_FS_CLIENT_WINDOW=%zu: must be 1..64", t.window);
        return SF_ERR_CONFIG;
    }
    if (t.block_size == 0) {
        struct sf_fs_config cfg;
        rc = sf_fs_config_load(&cfg);
        if (rc != 0) {
            return rc;
        }
        t.block_size = cfg.block_size;
    }
    if (t.block_size < SF_FS_BLOCK_MIN || t.block_size > CLIENT_BLOCK_MAX ||
        (t.block_size & (t.block_size - 1)) != 0) {
        SF_ERR("block size %zu: the client needs a power of two from %u to %u (one block per "
               "frame)",
               t.block_size, SF_FS_BLOCK_MIN, CLIENT_BLOCK_MAX);
        return SF_ERR_CONFIG;
    }
    *o = t;
    return 0;
}

int sf_fs__err(struct sf_fs_client *c, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof(c->err), fmt, ap);
    va_end(ap);
    return code;
}

int sf_fs__err_reply(struct sf_fs_client *c, int code, const struct sf_wire_msg *m, int fi,
                     const char *what)
{
    const struct sf_wire_val *v = &m->f[fi];
    size_t wl = strlen(what);
    if (v->len > wl && memcmp(v->p, what, wl) == 0 && v->p[wl] == ':') {
        /* The daemon named the path already. */
        return sf_fs__err(c, code, "%.*s", (int)v->len, (const char *)v->p);
    }
    if (v->len > 0) {
        return sf_fs__err(c, code, "%s: %.*s", what, (int)v->len, (const char *)v->p);
    }
    return sf_fs__err(c, code, "%s: %s", what, sf_strerror(code));
}

bool sf_fs_client_usable(const struct sf_fs_client *c)
{
    return c->dead == 0;
}

const char *sf_fs_client_errmsg(const struct sf_fs_client *c)
{
    return c->err;
}

size_t sf_fs_client_block_size(const struct sf_fs_client *c)
{
    return c->o.block_size;
}

int sf_fs_client_attach(int fd, const struct sf_fs_client_opts *o, struct sf_fs_client **out)
{
    struct sf_fs_client_opts lo;
    if (o == NULL) {
        int rc = sf_fs_client_opts_load(&lo);
        if (rc != 0) {
            close(fd);
            return rc;
        }
        o = &lo;
    }
    struct sf_fs_client *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        close(fd);
        return -ENOMEM;
    }
    /* Non-blocking: every wait below is a poll with the reply timeout. */
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        int e = -errno;
        close(fd);
        free(c);
        return e;
    }
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    struct sf_fs_config cfg;
    if (sf_fs_config_load(&cfg) != 0) {
        sf_fs_config_default(&cfg);
    }
    c->default_replicas = cfg.replicas;
    c->fd = fd;
    c->o = *o;
    c->next_req = 1;
    sf_wire_rx_init(&c->rx);
    sf_fs__pend_init(&c->pend);
    *out = c;
    return 0;
}

int sf_fs_client_connect(const char *sock_path, const struct sf_fs_client_opts *o,
                         struct sf_fs_client **out)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (strlen(sock_path) >= sizeof(sa.sun_path)) {
        return -ENAMETOOLONG;
    }
    memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -errno;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    return sf_fs_client_attach(fd, o, out);
}

int sf_fs_client_connect_dir(const char *dir, const struct sf_fs_client_opts *o,
                             struct sf_fs_client **out)
{
    char def[512], sock[600];
    if (dir == NULL || dir[0] == '\0') {
        const char *env = getenv("SF_CLUSTER");
        const char *xdg = getenv("XDG_RUNTIME_DIR");
        const char *home = getenv("HOME");
        if (env != NULL && env[0] != '\0') {
            snprintf(def, sizeof(def), "%s", env);
        } else if (xdg != NULL && xdg[0] != '\0') {
            snprintf(def, sizeof(def), "%s/starfish/sfd", xdg);
        } else {
            snprintf(def, sizeof(def), "%s/.starfish/sfd", home != NULL ? home : "");
        }
        dir = def;
    }
    static const char *const tails[] = {"sfd.sock", "sfd/sfd.sock"};
    int rc = -ENOENT;
    for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]) && rc == -ENOENT; i++) {
        struct stat st;
        if (snprintf(sock, sizeof(sock), "%s/%s", dir, tails[i]) >= (int)sizeof(sock)) {
            return -ENAMETOOLONG;
        }
        if (stat(sock, &st) == 0 && S_ISSOCK(st.st_mode)) {
            rc = sf_fs_client_connect(sock, o, out);
        }
    }
    return rc;
}

void sf_fs_client_close(struct sf_fs_client *c)
{
    if (c == NULL) {
        return;
    }
    if (c->dead == 0) {
        /* An orderly close never looks like a crash to the daemon. */
        struct sf_wire_enc e;
        sf_wire_enc_begin(&e, SF_OP_GOODBYE, c->seq++);
        sf_wire_put_str(&e, "fs client done");
        if (sf_wire_enc_end(&e) == 0) {
            (void)sf_wire_write_all(c->fd, e.buf, e.len);
        }
        sf_wire_enc_free(&e);
    }
    close(c->fd);
    sf_wire_rx_free(&c->rx);
    sf_fs__pend_free(&c->pend);
    free(c);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int poll_ms(double deadline)
{
    double left = deadline - now_s();
    if (left <= 0) {
        return 0;
    }
    return left > 1e6 ? 1000000000 : (int)(left * 1000.0) + 1;
}

static int mark_dead(struct sf_fs_client *c, int code)
{
    if (c->dead == 0) {
        c->dead = code;
    }
    return code;
}

/* Hand every complete frame in the receive buffer to its request. */
static int drain(struct sf_fs_client *c)
{
    struct sf_wire_msg m;
    int rc;
    while ((rc = sf_wire_rx_next(&c->rx, &m)) == 1) {
        if (m.op == SF_OP_ERROR) {
            /* The daemon refused something without naming a req: nothing
             * in flight can be trusted to get an answer. */
            sf_fs__err(c, SF_ERR_PROTO, "the daemon refused a request: %.*s", (int)m.f[1].len,
                       (const char *)m.f[1].p);
            return mark_dead(c, m.f[0].i < 0 ? (int)m.f[0].i : SF_ERR_PROTO);
        }
        if (m.op == SF_OP_GOODBYE) {
            sf_fs__err(c, -EPIPE, "the daemon closed the connection: %.*s", (int)m.f[0].len,
                       (const char *)m.f[0].p);
            return mark_dead(c, -EPIPE);
        }
        int d = sf_fs__pend_deliver(&c->pend, &m);
        if (d == 0) {
            /* A reply to a request we dropped (e.g. an abandoned read-ahead). */
            continue;
        }
        if (d < 0) {
            sf_fs__err(c, d, "bad reply from the daemon (op %s): %s",
                       sf_wire_schema(m.op) ? sf_wire_schema(m.op)->name : "?", sf_strerror(d));
            return mark_dead(c, d);
        }
    }
    if (rc < 0) {
        sf_fs__err(c, rc, "corrupt stream from the daemon: %s", sf_strerror(rc));
        return mark_dead(c, rc);
    }
    return 0;
}

/* Read once (waiting up to the deadline) and deliver what came. */
static int pump(struct sf_fs_client *c, double deadline)
{
    struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
    int pr = poll(&pfd, 1, poll_ms(deadline));
    if (pr < 0) {
        return errno == EINTR ? 0 : sf_fs__err(c, -errno, "poll: %s", strerror(errno));
    }
    if (pr == 0) {
        if (now_s() < deadline) {
            return 0;
        }
        sf_fs__err(c, -ETIMEDOUT, "no reply from the local sfd within %g s", c->o.timeout);
        return mark_dead(c, -ETIMEDOUT);
    }
    for (;;) {
        long n = sf_wire_rx_fill(&c->rx, c->fd);
        if (n == -EAGAIN) {
            return 0;
        }
        if (n == 0) {
            sf_fs__err(c, -EPIPE, "the local sfd closed the connection");
            return mark_dead(c, -EPIPE);
        }
        if (n < 0) {
            sf_fs__err(c, (int)n, "reading from the local sfd: %s", sf_strerror((int)n));
            return mark_dead(c, (int)n);
        }
        c->rx_bytes += (uint64_t)n;
        int rc = drain(c);
        if (rc != 0) {
            return rc;
        }
        if ((size_t)n < 65536) {
            return 0; /* likely drained the socket; poll again before reading */
        }
    }
}

/* Write all of buf, delivering replies meanwhile so that a window of large
 * requests never waits on a full socket in both directions. */
static int send_all(struct sf_fs_client *c, const uint8_t *p, size_t len)
{
    double deadline = now_s() + c->o.timeout;
    while (len > 0) {
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            deadline = now_s() + c->o.timeout;
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            int e = errno == ECONNRESET ? EPIPE : errno;
            sf_fs__err(c, -e, "writing to the local sfd: %s", strerror(e));
            return mark_dead(c, -e);
        }
        struct pollfd pfd = {.fd = c->fd, .events = POLLOUT | POLLIN};
        int pr = poll(&pfd, 1, poll_ms(deadline));
        if (pr < 0 && errno != EINTR) {
            return sf_fs__err(c, -errno, "poll: %s", strerror(errno));
        }
        if (pr == 0 && now_s() >= deadline) {
            sf_fs__err(c, -ETIMEDOUT, "the local sfd took no data for %g s", c->o.timeout);
            return mark_dead(c, -ETIMEDOUT);
        }
        if (pr > 0 && (pfd.revents & POLLIN)) {
            int rc = pump(c, now_s() + c->o.timeout); /* readable: returns at once */
            if (rc != 0) {
                return rc;
            }
        }
    }
    return 0;
}

uint64_t sf_fs__req_begin(struct sf_fs_client *c, struct sf_wire_enc *e, uint8_t op)
{
    uint64_t req = c->next_req++;
    sf_wire_enc_begin(e, op, c->seq++);
    sf_wire_put_u64(e, req);
    return req;
}

int sf_fs__req_send(struct sf_fs_client *c, struct sf_wire_enc *e, uint64_t req, uint8_t reply_op,
                    void *dst, size_t cap)
{
    int rc = c->dead;
    if (rc != 0) {
        sf_wire_enc_free(e);
        if (c->err[0] == '\0') {
            sf_fs__err(c, rc, "connection to the local sfd is unusable: %s", sf_strerror(rc));
        }
        return rc;
    }
    rc = sf_wire_enc_end(e);
    if (rc != 0) {
        sf_wire_enc_free(e);
        return sf_fs__err(c, rc, "cannot encode request: %s", sf_strerror(rc));
    }
    long i = sf_fs__pend_add(&c->pend, req, reply_op, dst, cap);
    if (i < 0) {
        sf_wire_enc_free(e);
        return sf_fs__err(c, (int)i, "out of memory");
    }
    rc = send_all(c, e->buf, e->len);
    sf_wire_enc_free(e);
    if (rc != 0) {
        sf_fs__req_drop(c, req);
    }
    return rc;
}

long sf_fs__req_wait_any(struct sf_fs_client *c, const uint64_t *reqs, size_t n)
{
    double deadline = now_s() + c->o.timeout;
    for (;;) {
        for (size_t k = 0; k < n; k++) {
            long i = sf_fs__pend_find(&c->pend, reqs[k]);
            if (i >= 0 && c->pend.v[i].state == FSC_DONE) {
                return (long)k;
            }
            if (i < 0) {
                return sf_fs__err(c, -EINVAL, "waiting for an unknown request");
            }
        }
        if (c->dead != 0) {
            return c->dead;
        }
        uint64_t before = c->rx_bytes;
        int rc = pump(c, deadline);
        if (rc != 0) {
            return rc;
        }
        if (c->rx_bytes != before) {
            deadline = now_s() + c->o.timeout; /* the daemon is alive and talking */
        }
    }
}

long sf_fs__req_wait(struct sf_fs_client *c, uint64_t req)
{
    long k = sf_fs__req_wait_any(c, &req, 1);
    if (k < 0) {
        return k;
    }
    return sf_fs__pend_find(&c->pend, req);
}

int sf_fs__req_call(struct sf_fs_client *c, struct sf_wire_enc *e, uint64_t req, uint8_t reply_op,
                    int msg_field, const char *what, struct fsc_req **out)
{
    *out = NULL;
    int rc = sf_fs__req_send(c, e, req, reply_op, NULL, 0);
    if (rc != 0) {
        return rc;
    }
    long i = sf_fs__req_wait(c, req);
    if (i < 0) {
        sf_fs__req_drop(c, req);
        return (int)i;
    }
    struct fsc_req *r = &c->pend.v[i];
    rc = r->status > 0 ? SF_ERR_PROTO : r->status;
    if (rc != 0) {
        sf_fs__err_reply(c, rc, &r->msg, msg_field, what);
        sf_fs__req_drop(c, req);
        return rc;
    }
    *out = r;
    return 0;
}

void sf_fs__req_drop(struct sf_fs_client *c, uint64_t req)
{
    long i = sf_fs__pend_find(&c->pend, req);
    if (i >= 0) {
        sf_fs__pend_remove(&c->pend, (size_t)i);
    }
}

int sf_fs__path_ok(struct sf_fs_client *c, const char *path)
{
    size_t bad = 0;
    int rc = sf_fs_path_check(path, &bad);
    if (rc == 0) {
        return 0;
    }
    /* Name the offending component and what is wrong with it. */
    const char *comp = path + (bad < strlen(path) ? bad : 0);
    size_t cl = strcspn(comp, "/");
    const char *why = rc == -ENAMETOOLONG ? (cl > SF_FS_NAME_MAX ? "a name over 255 bytes"
                                                                  : "a path over 4095 bytes")
                      : rc == -EILSEQ     ? "a name that is not valid UTF-8"
                      : path[0] != '/'    ? "not an absolute path"
                      : cl == 2 && comp[0] == '.' && comp[1] == '.'
                          ? "'..' is not allowed (no path traversal)"
                      : cl == 1 && comp[0] == '.' ? "'.' is not allowed"
                      : cl == 0                   ? "an empty name ('//' or a trailing '/')"
                                                  : "an invalid name";
    return sf_fs__err(c, rc, "bad path: %s (at byte %zu)", why, bad);
}
