/* Fuzz target for the daemon's control-port input: authentication (MAC,
 * sequence numbers, framing) and dispatch of every peer op into
 * membership and job handling. Input byte 0 picks the start state: even =
 * a fresh incoming connection (handshake), odd = a member connection with
 * a session from all-zero nonces (so a corpus can carry valid MACs). The
 * cluster key is bytes 0..31. SPAWN never starts processes (no_spawn).
 * Single-threaded; built by libFuzzer or tests/fuzz/replay.c. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "runtime/sfd/sfd_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || sf_sfd__auth_global_init() != 0) {
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
    s.port = 7300;
    s.tun.kill_grace = 1;
    s.tun.output_chunk = 4096;
    s.tun.fail_timeout = 1;
    s.tun.keepalive = 0.25;
    strcpy(s.host, "fuzz");
    for (int i = 0; i < SFD_KEY_LEN; i++) {
        s.key[i] = (uint8_t)i;
    }
    if (sf_loop_create(&s.loop) != 0) {
        return 0;
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
        sf_loop_destroy(s.loop);
        return 0;
    }
    struct sf_sfd_pconn *pc = sf_sfd__pconn_new(&s, sv[0], false);
    if (pc == NULL) {
        close(sv[0]);
        close(sv[1]);
        sf_loop_destroy(s.loop);
        return 0;
    }
    if (data[0] & 1) {
        uint8_t zero[SFD_NONCE_LEN] = {0};
        sf_sfd__auth_session(&pc->auth, zero, zero, false);
        struct sf_sfd_peer *p = calloc(1, sizeof(*p));
        if (p != NULL) {
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
        }
    }
    pc->rbuf = malloc(size > 1 ? size - 1 : 1);
    if (pc->rbuf != NULL) {
        memcpy(pc->rbuf, data + 1, size - 1);
        pc->rlen = pc->rcap = size - 1;
        sf_sfd__pconn_process(pc);
    }
    /* Tear down whatever the input built. */
    while (s.jobs != NULL) {
        sf_sfd__job_free(s.jobs);
    }
    while (s.pconns != NULL) {
        sf_sfd__pconn_close(s.pconns);
    }
    while (s.peers != NULL) {
        struct sf_sfd_peer *p = s.peers;
        s.peers = p->next;
        free(p);
    }
    close(sv[1]);
    sf_loop_destroy(s.loop);
    return 0;
}
