/* Fuzz target for the daemon's control-port input: authentication (MAC,
 * sequence numbers, framing) and dispatch of every peer op into
 * membership and job handling. Input byte 0 picks the start state: even =
 * a fresh incoming connection (handshake), odd = a member connection with
 * a session from all-zero nonces (so a corpus can carry valid MACs). The
 * cluster key is bytes 0..31. Bit 2: a session without JOIN (a remote
 * client's connection). With bit 1 and one of those, the rest is raw
 * wire frames that the harness seals itself (sequence, CRC, MAC), so
 * mutations reach the dispatch instead of dying at the MAC check. SPAWN
 * never starts processes (no_spawn).
 * Single-threaded; built by libFuzzer or tests/fuzz/replay.c. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "runtime/base/sf_crc.h"
#include "runtime/base/base_int.h"
#include "launcher/sfd/sfd_int.h"

/* Seal raw frames in data[0..size) as the member peer would: rewrite each
 * header's sequence and CRC, append the MAC. Returns a malloc'd buffer. */
static uint8_t *reseal(const uint8_t *data, size_t size, bool bulk, size_t *outlen)
{
    uint8_t *out = malloc(size + (size / SF_WIRE_HDR_LEN + 1) * SFD_MAC_LEN + 1);
    if (out == NULL) {
        return NULL;
    }
    struct sf_sfd_auth a;
    uint8_t key[SFD_KEY_LEN], zero[SFD_NONCE_LEN] = {0};
    for (int i = 0; i < SFD_KEY_LEN; i++) {
        key[i] = (uint8_t)i;
    }
    sf_sfd__auth_init(&a, key);
    sf_sfd__auth_session(&a, zero, zero, true);
    a.bulk = bulk; /* a member's block frames leave their payload outside the MAC */
    size_t off = 0, n = 0;
    while (size - off >= SF_WIRE_HDR_LEN) {
        const uint8_t *h = data + off;
        size_t body = (size_t)h[4] << 24 | (size_t)h[5] << 16 | (size_t)h[6] << 8 | h[7];
        if (body > size - off - SF_WIRE_HDR_LEN) {
            body = size - off - SF_WIRE_HDR_LEN;
        }
        uint8_t *f = out + n;
        memcpy(f, h, SF_WIRE_HDR_LEN + body);
        f[4] = (uint8_t)(body >> 24);
        f[5] = (uint8_t)(body >> 16);
        f[6] = (uint8_t)(body >> 8);
        f[7] = (uint8_t)body;
        uint32_t seq = sf_sfd__auth_next_seq(&a);
        uint32_t crc = sf_crc32c(f + SF_WIRE_HDR_LEN, body);
        for (int i = 0; i < 4; i++) {
            f[8 + i] = (uint8_t)(seq >> (24 - 8 * i));
            f[12 + i] = (uint8_t)(crc >> (24 - 8 * i));
        }
        sf_sfd__auth_mac(&a, f, SF_WIRE_HDR_LEN + body, f + SF_WIRE_HDR_LEN + body);
        n += SF_WIRE_HDR_LEN + body + SFD_MAC_LEN;
        off += SF_WIRE_HDR_LEN + body;
    }
    *outlen = n;
    return out;
}

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
    if (data[0] & 4) {
        /* Session set, no JOIN yet: the remote-client path (JOB_SUBMIT). */
        uint8_t zero[SFD_NONCE_LEN] = {0};
        sf_sfd__auth_session(&pc->auth, zero, zero, false);
        pc->state = PC_JOINING;
    } else if (data[0] & 1) {
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
            pc->auth.bulk = true; /* as on_join sets it */
            s.peers = p;
        }
    }
    if ((data[0] & 2) != 0 && (data[0] & 5) != 0) {
        pc->rbuf = reseal(data + 1, size - 1, pc->auth.bulk, &pc->rlen);
        pc->rcap = pc->rlen;
    } else {
        pc->rbuf = malloc(size > 1 ? size - 1 : 1);
        if (pc->rbuf != NULL) {
            memcpy(pc->rbuf, data + 1, size - 1);
            pc->rlen = pc->rcap = size - 1;
        }
    }
    if (pc->rbuf != NULL) {
        sf_sfd__pconn_process(pc);
    }
    /* Tear down whatever the input built. */
    while (s.clients != NULL) {
        sf_sfd__client_free(s.clients);
    }
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
