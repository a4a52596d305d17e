/* Test client for a listening sfd: prints its STATUS lines over the Unix
 * socket, and attacks its control port the way the cluster tests need
 * (garbage, a replayed frame inside a session, a recorded session replayed
 * on a new connection, a wrong key). Speaks the peer protocol through
 * sfd_auth.c; blocking I/O with a receive timeout, single-threaded.
 *   sfd_poke status SOCK
 *   sfd_poke garbage HOST:PORT
 *   sfd_poke replay HOST:PORT KEYFILE   (exit 0 if the daemon behaved)
 *   sfd_poke submit HOST:PORT KEYFILE N PROG [ARGS]  (a remote client: runs
 *       a job over the control port; exits with the job's status) */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "runtime/base/sf_wire.h"
#include "launcher/sfd/sfd_int.h"

static int dial_tcp(const char *target)
{
    char host[64];
    snprintf(host, sizeof(host), "%s", target);
    char *c = strrchr(host, ':');
    if (c == NULL) {
        return -1;
    }
    *c = '\0';
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(c + 1))};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        return -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Receive buffer of the one connection a command talks over. */
static uint8_t buf[1 << 20];
static size_t have, off;

/* Seal a frame: returns its bytes (frame + MAC) in out (caller frees). */
static size_t seal(struct sf_sfd_auth *a, struct sf_wire_enc *e, uint8_t **out)
{
    if (sf_wire_enc_end(e) != 0) {
        abort();
    }
    *out = malloc(e->len + SFD_MAC_LEN);
    memcpy(*out, e->buf, e->len);
    sf_sfd__auth_mac(a, e->buf, e->len, *out + e->len);
    size_t n = e->len + SFD_MAC_LEN;
    sf_wire_enc_free(e);
    return n;
}

static int send_all(int fd, const uint8_t *p, size_t n)
{
    return sf_wire_write_all(fd, p, n);
}

/* Read one sealed frame; 1 ok, 0 EOF/timeout, -1 bad. *m points into
 * buf until the next call (consumed bytes are compacted only then). */
static int recv_frame(int fd, struct sf_sfd_auth *a, uint8_t *buf, size_t cap, size_t *have,
                      size_t *off, struct sf_wire_msg *m)
{
    memmove(buf, buf + *off, *have - *off);
    *have -= *off;
    *off = 0;
    for (;;) {
        enum sf_sfd_drop why;
        long n = sf_sfd__auth_open(a, buf + *off, *have - *off, m, &why);
        if (n > 0) {
            *off += (size_t)n;
            if (why == SFD_DROP_NONE) {
                return 1;
            }
            continue;
        }
        if (n < 0) {
            return -1;
        }
        ssize_t r = read(fd, buf + *have, cap - *have);
        if (r <= 0) {
            return 0;
        }
        *have += (size_t)r;
    }
}

static int cmd_status(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        perror("sfd_poke: connect");
        return 1;
    }
    struct sf_wire_enc e;
    sf_wire_enc_begin(&e, SF_OP_STATUS_REQ, 0);
    sf_wire_put_u32(&e, 0);
    sf_wire_enc_end(&e);
    sf_wire_write_all(fd, e.buf, e.len);
    sf_wire_enc_free(&e);
    struct sf_wire_rx rx;
    sf_wire_rx_init(&rx);
    struct sf_wire_msg m;
    for (;;) {
        int rc = sf_wire_rx_next(&rx, &m);
        if (rc == 1 && m.op == SF_OP_STATUS) {
            uint32_t pos = 0, len;
            const uint8_t *s;
            while (sf_wire_strv_next(&m.f[0], &pos, &s, &len)) {
                printf("%.*s\n", (int)len, (const char *)s);
            }
            return 0;
        }
        if (rc < 0 || sf_wire_rx_fill(&rx, fd) <= 0) {
            fprintf(stderr, "sfd_poke: no status\n");
            return 1;
        }
    }
}

static int cmd_garbage(const char *target)
{
    int fd = dial_tcp(target);
    if (fd < 0) {
        return 1;
    }
    uint8_t junk[300];
    for (size_t i = 0; i < sizeof(junk); i++) {
        junk[i] = (uint8_t)(i * 37 + 11);
    }
    send_all(fd, junk, sizeof(junk));
    /* The daemon must hang up on us. */
    uint8_t b[64];
    ssize_t r = read(fd, b, sizeof(b));
    close(fd);
    return r == 0 || (r < 0 && errno == ECONNRESET) ? 0 : 1;
}

/* Handshake as a fake node; returns fd with a session in *a, or -1.
 * Records the JOIN frame it sent (sealed) in *join. */
static int handshake(const char *target, const uint8_t *key, struct sf_sfd_auth *a, uint64_t id,
                     uint8_t **hello, size_t *hello_len, uint8_t **join, size_t *join_len)
{
    int fd = dial_tcp(target);
    if (fd < 0) {
        return -1;
    }
    sf_sfd__auth_init(a, key);
    uint8_t nc[SFD_NONCE_LEN];
    sf_sfd__auth_random(nc, sizeof(nc));
    struct sf_wire_enc e;
    sf_wire_enc_begin(&e, SF_OP_PEER_HELLO, 0);
    sf_wire_put_bytes(&e, nc, sizeof(nc));
    *hello_len = seal(a, &e, hello);
    send_all(fd, *hello, *hello_len);
    struct sf_wire_msg m;
    have = off = 0;
    if (recv_frame(fd, a, buf, sizeof(buf), &have, &off, &m) != 1 || m.op != SF_OP_PEER_CHALLENGE) {
        close(fd);
        return -1;
    }
    sf_sfd__auth_session(a, nc, m.f[0].p, true);
    if (join == NULL) {
        return fd; /* a client: no JOIN */
    }
    sf_wire_enc_begin(&e, SF_OP_PEER_JOIN, sf_sfd__auth_next_seq(a));
    sf_wire_put_u64(&e, id);
    sf_wire_put_u64(&e, 1);
    sf_wire_put_str(&e, "poke");
    sf_wire_put_u32(&e, 9);
    sf_wire_put_i32(&e, 1);
    sf_wire_put_str(&e, "test");
    *join_len = seal(a, &e, join);
    send_all(fd, *join, *join_len);
    return fd;
}

static int cmd_submit(const char *target, const char *keyfile, int n, char **argv, int argc)
{
    uint8_t key[SFD_KEY_LEN];
    if (sf_sfd__auth_global_init() != 0 || sf_sfd__key_load(keyfile, false, key) != 0) {
        fprintf(stderr, "sfd_poke: cannot read key %s\n", keyfile);
        return 1;
    }
    struct sf_sfd_auth a;
    uint8_t *hello;
    size_t hl;
    int fd = handshake(target, key, &a, 0, &hello, &hl, NULL, NULL);
    free(hello);
    if (fd < 0) {
        fprintf(stderr, "sfd_poke: handshake failed\n");
        return 1;
    }
    char *env[] = {"PATH=/usr/bin:/bin"}, *opts[] = {"oversubscribe=yes"};
    struct sf_wire_enc e;
    uint8_t *f;
    sf_wire_enc_begin(&e, SF_OP_JOB_SUBMIT, sf_sfd__auth_next_seq(&a));
    sf_wire_put_i32(&e, n);
    sf_wire_put_u32(&e, 0);
    sf_wire_put_strv(&e, argv, (size_t)argc);
    sf_wire_put_strv(&e, env, 1);
    sf_wire_put_str(&e, "/");
    sf_wire_put_strv(&e, opts, 1);
    size_t fl = seal(&a, &e, &f);
    send_all(fd, f, fl);
    free(f);
    struct sf_wire_msg m;
    struct timeval tv = {.tv_sec = 30};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    while (recv_frame(fd, &a, buf, sizeof(buf), &have, &off, &m) == 1) {
        switch (m.op) {
        case SF_OP_OUTPUT:
            fwrite(m.f[2].p, 1, m.f[2].len, m.f[1].u == 2 ? stderr : stdout);
            break;
        case SF_OP_ERROR:
            fprintf(stderr, "sfd_poke: refused: %.*s\n", (int)m.f[1].len, (const char *)m.f[1].p);
            return 1;
        case SF_OP_JOB_DONE:
            if (m.f[1].len > 0) {
                fprintf(stderr, "sfd_poke: %.*s\n", (int)m.f[1].len, (const char *)m.f[1].p);
            }
            close(fd);
            return (int)m.f[0].i;
        default:
            break; /* the daemon's JOIN, JOB_STARTED, RANK_EXIT */
        }
    }
    fprintf(stderr, "sfd_poke: connection ended without JOB_DONE\n");
    return 1;
}

static int cmd_replay(const char *target, const char *keyfile)
{
    uint8_t key[SFD_KEY_LEN];
    if (sf_sfd__auth_global_init() != 0 || sf_sfd__key_load(keyfile, false, key) != 0) {
        fprintf(stderr, "sfd_poke: cannot read key %s\n", keyfile);
        return 1;
    }
    struct sf_sfd_auth a;
    uint8_t *hello, *join;
    size_t hl, jl;
    int fd = handshake(target, key, &a, 0x5eed, &hello, &hl, &join, &jl);
    if (fd < 0) {
        fprintf(stderr, "sfd_poke: handshake failed\n");
        return 1;
    }
    /* A ping, the same ping again (replay), then a fresh one. */
    struct sf_wire_enc e;
    uint8_t *ping;
    sf_wire_enc_begin(&e, SF_OP_PEER_PING, sf_sfd__auth_next_seq(&a));
    sf_wire_put_u64(&e, 1);
    size_t pl = seal(&a, &e, &ping);
    send_all(fd, ping, pl);
    send_all(fd, ping, pl);
    uint8_t *ping2;
    sf_wire_enc_begin(&e, SF_OP_PEER_PING, sf_sfd__auth_next_seq(&a));
    sf_wire_put_u64(&e, 2);
    size_t pl2 = seal(&a, &e, &ping2);
    send_all(fd, ping2, pl2);
    uint8_t *bye;
    sf_wire_enc_begin(&e, SF_OP_GOODBYE, sf_sfd__auth_next_seq(&a));
    sf_wire_put_str(&e, "poke done");
    size_t bl = seal(&a, &e, &bye);
    send_all(fd, bye, bl);
    /* Read until the daemon hangs up: closing with unread bytes would
     * reset the connection and discard what we sent. */
    shutdown(fd, SHUT_WR);
    uint8_t sink[4096];
    while (read(fd, sink, sizeof(sink)) > 0) {
    }
    close(fd);
    /* The recorded session, replayed on a new connection: the HELLO is
     * accepted (it carries no session), the JOIN must not be. */
    fd = dial_tcp(target);
    if (fd < 0) {
        return 1;
    }
    send_all(fd, hello, hl);
    send_all(fd, join, jl);
    uint8_t b[4096];
    ssize_t r;
    size_t tot = 0;
    while ((r = read(fd, b, sizeof(b))) > 0) {
        tot += (size_t)r; /* the CHALLENGE and JOIN; then the daemon hangs up */
    }
    close(fd);
    free(hello);
    free(join);
    free(ping);
    free(ping2);
    free(bye);
    return r == 0 || (r < 0 && errno == ECONNRESET) ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "status") == 0) {
        return cmd_status(argv[2]);
    }
    if (argc == 3 && strcmp(argv[1], "garbage") == 0) {
        return cmd_garbage(argv[2]);
    }
    if (argc == 4 && strcmp(argv[1], "replay") == 0) {
        return cmd_replay(argv[2], argv[3]);
    }
    if (argc >= 6 && strcmp(argv[1], "submit") == 0) {
        return cmd_submit(argv[2], argv[3], atoi(argv[4]), argv + 5, argc - 5);
    }
    fprintf(stderr, "usage: sfd_poke status SOCK | garbage HOST:PORT | replay HOST:PORT KEY |\n"
                    "       submit HOST:PORT KEY N PROG [ARGS...]\n");
    return 2;
}
