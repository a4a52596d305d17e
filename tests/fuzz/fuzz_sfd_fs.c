/* Fuzz target for the block layer's ops in sfd (launcher/sfd/sfd_fs.c):
 * a daemon with a real block store in a fresh temp dir, one member peer
 * and one local client on socketpairs. The input (after byte 0, unused) is
 * wire frames; the harness rewrites each header's length and CRC so
 * mutations reach the handlers, then hands FS_PUT/FS_PUT_ACK/FS_GET/
 * FS_DATA to the peer path and FS_BLOCK_WRITE/FS_BLOCK_READ/FS_ADMIN to
 * the client path, running the loop until the store workers are idle
 * after each frame (so answers to the daemon's own requests -- a PUT_ACK
 * for req 1 -- find them). What the daemon sends is read and dropped.
 * Built by libFuzzer or tests/fuzz/replay.c; the daemon's worker threads
 * run the store calls. Run with ASAN_OPTIONS=detect_leaks=0: requests left
 * waiting for an answer when the input ends are abandoned, as at exit. */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "runtime/base/sf_crc.h"
#include "launcher/sfd/sfd_int.h"

static void stop_when_idle(struct sf_loop *loop, void *arg)
{
    if (sf_sfd__fs_busy(arg) == 0) {
        sf_loop_stop(loop);
    }
}

static void drain(int fd)
{
    uint8_t buf[65536];
    while (read(fd, buf, sizeof(buf)) > 0) {
    }
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void rm_tree(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || sf_sfd__auth_global_init() != 0) {
        return 0;
    }
    char dir[] = "/tmp/sf-fuzz-fs.XXXXXX";
    if (mkdtemp(dir) == NULL) {
        return 0;
    }
    struct sf_sfd s;
    memset(&s, 0, sizeof(s));
    s.sig_fd = s.unix_fd = s.tcp_fd = -1;
    s.listening = true;
    s.no_spawn = true;
    s.ncores = 2;
    s.node_id = 1000;
    s.inc = 1;
    s.state_dir = dir;
    strcpy(s.host, "fuzz");
    int sv[2] = {-1, -1}, cv[2] = {-1, -1};
    if (sf_loop_create(&s.loop) != 0) {
        rm_tree(dir);
        return 0;
    }
    sf_loop_set_before_sleep(s.loop, stop_when_idle, &s);
    struct sf_sfd_client *c = NULL;
    struct sf_sfd_peer *p = calloc(1, sizeof(*p));
    if (p == NULL ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0 ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, cv) != 0) {
        goto out;
    }
    struct sf_sfd_pconn *pc = sf_sfd__pconn_new(&s, sv[0], false);
    if (pc == NULL || sf_sfd__client_add(&s, cv[0], &c) != 0) {
        goto out;
    }
    sv[0] = cv[0] = -1; /* theirs now */
    uint8_t zero[SFD_NONCE_LEN] = {0};
    sf_sfd__auth_session(&pc->auth, zero, zero, false);
    p->sfd = &s;
    p->id = 42;
    p->inc = 7;
    strcpy(p->name, "peer");
    strcpy(p->host, "127.0.0.1");
    p->port = 7301;
    p->slots = 2;
    p->conn = pc;
    p->last_heard = sf_now_ms();
    pc->peer = p;
    pc->state = PC_UP;
    s.peers = p;
    p = NULL;
    if (sf_sfd__fs_start(&s) != 0) {
        goto out;
    }
    /* Frames: fix length and CRC, then dispatch by op. */
    uint8_t *f = malloc(size);
    if (f == NULL) {
        goto out;
    }
    size_t off = 1;
    while (size - off >= SF_WIRE_HDR_LEN) {
        size_t body = (size_t)data[off + 4] << 24 | (size_t)data[off + 5] << 16 |
                      (size_t)data[off + 6] << 8 | data[off + 7];
        if (body > size - off - SF_WIRE_HDR_LEN) {
            body = size - off - SF_WIRE_HDR_LEN;
        }
        memcpy(f, data + off, SF_WIRE_HDR_LEN + body);
        off += SF_WIRE_HDR_LEN + body;
        uint32_t crc = sf_crc32c(f + SF_WIRE_HDR_LEN, body);
        for (int i = 0; i < 4; i++) {
            f[4 + i] = (uint8_t)(body >> (24 - 8 * i));
            f[12 + i] = (uint8_t)(crc >> (24 - 8 * i));
        }
        struct sf_wire_msg m;
        if (sf_wire_decode(f, SF_WIRE_HDR_LEN + body, &m) <= 0) {
            continue;
        }
        switch (m.op) {
        case SF_OP_FS_PUT:
        case SF_OP_FS_PUT_ACK:
        case SF_OP_FS_GET:
        case SF_OP_FS_DATA:
            if (s.peers != NULL) {
                sf_sfd__fs_peer_op(&s, s.peers, &m);
            }
            break;
        case SF_OP_FS_BLOCK_WRITE:
        case SF_OP_FS_BLOCK_READ:
        case SF_OP_FS_ADMIN:
            if (!c->dead) {
                sf_sfd__fs_client_op(c, &m);
            }
            break;
        default:
            break;
        }
        sf_loop_run(s.loop);
        drain(sv[1]);
        drain(cv[1]);
    }
    free(f);
out:
    sf_sfd__fs_stop(&s);
    while (s.clients != NULL) {
        sf_sfd__client_free(s.clients);
    }
    while (s.pconns != NULL) {
        sf_sfd__pconn_close(s.pconns);
    }
    while (s.peers != NULL) {
        struct sf_sfd_peer *q = s.peers;
        s.peers = q->next;
        free(q);
    }
    free(p);
    for (int i = 0; i < 2; i++) {
        if (sv[i] >= 0) {
            close(sv[i]);
        }
        if (cv[i] >= 0) {
            close(cv[i]);
        }
    }
    sf_loop_destroy(s.loop);
    rm_tree(dir);
    return 0;
}
