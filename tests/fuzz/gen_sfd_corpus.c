/* Writes the seed corpus of fuzz_sfd.c into the directory named on the
 * command line: sealed handshake and member frames (valid MACs under the
 * fuzz key and all-zero nonces), a replay, a wrong MAC and garbage.
 * Run by hand when the protocol changes; single-threaded. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "launcher/sfd/sfd_int.h"

static uint8_t out[1 << 16];
static size_t outlen;

static void seal(struct sf_sfd_auth *a, struct sf_wire_enc *e)
{
    if (sf_wire_enc_end(e) != 0) {
        abort();
    }
    memcpy(out + outlen, e->buf, e->len);
    sf_sfd__auth_mac(a, e->buf, e->len, out + outlen + e->len);
    outlen += e->len + SFD_MAC_LEN;
    sf_wire_enc_free(e);
}

static void save(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(out, 1, outlen, f) != outlen) {
        perror(path);
        exit(1);
    }
    fclose(f);
}

/* The member frames in out, without their MACs, as a mode-3 input (the
 * fuzz harness seals them itself). */
static void save_raw(const char *dir, const char *name)
{
    static uint8_t raw[sizeof(out)];
    size_t n = 1, off = 1;
    raw[0] = (uint8_t)(out[0] | 2);
    while (outlen - off >= SF_WIRE_HDR_LEN) {
        const uint8_t *h = out + off;
        size_t body = (size_t)h[4] << 24 | (size_t)h[5] << 16 | (size_t)h[6] << 8 | h[7];
        if (off + SF_WIRE_HDR_LEN + body + SFD_MAC_LEN > outlen) {
            break;
        }
        memcpy(raw + n, h, SF_WIRE_HDR_LEN + body);
        n += SF_WIRE_HDR_LEN + body;
        off += SF_WIRE_HDR_LEN + body + SFD_MAC_LEN;
    }
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(raw, 1, n, f) != n) {
        perror(path);
        exit(1);
    }
    fclose(f);
}

static void member(struct sf_sfd_auth *a)
{
    uint8_t key[SFD_KEY_LEN], zero[SFD_NONCE_LEN] = {0};
    for (int i = 0; i < SFD_KEY_LEN; i++) {
        key[i] = (uint8_t)i;
    }
    sf_sfd__auth_init(a, key);
    sf_sfd__auth_session(a, zero, zero, true);
    out[0] = 1;
    outlen = 1;
}

int main(int argc, char **argv)
{
    if (argc != 2 || sf_sfd__auth_global_init() != 0) {
        fprintf(stderr, "usage: gen_sfd_corpus DIR\n");
        return 2;
    }
    const char *dir = argv[1];
    struct sf_sfd_auth a;
    struct sf_wire_enc e;
    uint8_t key[SFD_KEY_LEN], nonce[SFD_NONCE_LEN] = {1, 2, 3};
    for (int i = 0; i < SFD_KEY_LEN; i++) {
        key[i] = (uint8_t)i;
    }

    /* A handshake: HELLO under the cluster key, then a JOIN that can only
     * fail (the session nonce is the daemon's random one). */
    sf_sfd__auth_init(&a, key);
    out[0] = 0;
    outlen = 1;
    sf_wire_enc_begin(&e, SF_OP_PEER_HELLO, 0);
    sf_wire_put_bytes(&e, nonce, sizeof(nonce));
    seal(&a, &e);
    save(dir, "hello");
    sf_wire_enc_begin(&e, SF_OP_PEER_JOIN, 1);
    sf_wire_put_u64(&e, 5);
    sf_wire_put_u64(&e, 6);
    sf_wire_put_str(&e, "n5");
    sf_wire_put_u32(&e, 7305);
    sf_wire_put_i32(&e, 4);
    sf_wire_put_str(&e, "0.1");
    seal(&a, &e);
    save(dir, "hello-join");

    /* Member traffic. */
    member(&a);
    sf_wire_enc_begin(&e, SF_OP_PEER_PING, sf_sfd__auth_next_seq(&a));
    sf_wire_put_u64(&e, 123);
    seal(&a, &e);
    save(dir, "ping");
    memcpy(out + outlen, out + 1, outlen - 1); /* the same frame again */
    outlen += outlen - 1;
    save(dir, "ping-replayed");

    member(&a);
    char *lines[] = {"00000000000003e9 0000000000000001 127.0.0.1 1 n9 2", "garbage line",
                     "0000000000000002 0000000000000003 ::1 7300 n2 8"};
    sf_wire_enc_begin(&e, SF_OP_PEER_LIST, sf_sfd__auth_next_seq(&a));
    sf_wire_put_strv(&e, lines, 3);
    seal(&a, &e);
    sf_wire_enc_begin(&e, SF_OP_PEER_GONE, sf_sfd__auth_next_seq(&a));
    sf_wire_put_u64(&e, 2);
    sf_wire_put_u64(&e, 3);
    sf_wire_put_str(&e, "test");
    seal(&a, &e);
    save(dir, "list-gone");
    save_raw(dir, "raw-list-gone");

    /* A job part: SPAWN (refused by no_spawn), then the job's frames. */
    member(&a);
    int32_t ranks[] = {1, 3};
    char *av[] = {"/bin/true"}, *env[] = {"A=1"}, *opts[] = {"bind=core", "ft=abort"};
    sf_wire_enc_begin(&e, SF_OP_SPAWN, sf_sfd__auth_next_seq(&a));
    sf_wire_put_u64(&e, 77);
    sf_wire_put_i32(&e, 4);
    sf_wire_put_i32(&e, 1);
    sf_wire_put_i32(&e, 2);
    sf_wire_put_i32v(&e, ranks, 2);
    sf_wire_put_strv(&e, av, 1);
    sf_wire_put_strv(&e, env, 1);
    sf_wire_put_str(&e, "/");
    sf_wire_put_strv(&e, opts, 2);
    seal(&a, &e);
    int32_t nodes[] = {0, 1, 0, 1};
    uint8_t blob[] = {0, 0, 0, 1, 'a', 0, 0, 0, 0, 0, 0, 0, 1, 'b', 0, 0, 0, 0};
    sf_wire_enc_begin(&e, SF_OP_JOB_TABLE, sf_sfd__auth_next_seq(&a));
    sf_wire_put_u64(&e, 77);
    sf_wire_put_u32(&e, 0);
    sf_wire_put_i32v(&e, nodes, 4);
    sf_wire_put_bytes(&e, blob, sizeof(blob));
    seal(&a, &e);
    sf_wire_enc_begin(&e, SF_OP_JOB_SIGNAL, sf_sfd__auth_next_seq(&a));
    sf_wire_put_u64(&e, 77);
    sf_wire_put_i32(&e, 10);
    seal(&a, &e);
    sf_wire_enc_begin(&e, SF_OP_JOB_FLOW, sf_sfd__auth_next_seq(&a));
    sf_wire_put_u64(&e, 77);
    sf_wire_put_u8(&e, 1);
    seal(&a, &e);
    sf_wire_enc_begin(&e, SF_OP_JOB_STDIN, sf_sfd__auth_next_seq(&a));
    sf_wire_put_u64(&e, 77);
    sf_wire_put_bytes(&e, "x\n", 2);
    seal(&a, &e);
    sf_wire_enc_begin(&e, SF_OP_JOB_KILL, sf_sfd__auth_next_seq(&a));
    sf_wire_put_u64(&e, 77);
    sf_wire_put_i32(&e, 15);
    sf_wire_put_str(&e, "stop");
    seal(&a, &e);
    sf_wire_enc_begin(&e, SF_OP_GOODBYE, sf_sfd__auth_next_seq(&a));
    sf_wire_put_str(&e, "bye");
    seal(&a, &e);
    save(dir, "spawn-job");
    save_raw(dir, "raw-spawn-job");

    /* Coordinator-bound frames for an unknown job, then a bad MAC. */
    member(&a);
    sf_wire_enc_begin(&e, SF_OP_JOB_RANK_EXIT, sf_sfd__auth_next_seq(&a));
    sf_wire_put_u64(&e, 9);
    sf_wire_put_i32(&e, 0);
    sf_wire_put_i32(&e, 137);
    sf_wire_put_str(&e, "killed");
    sf_wire_put_u8(&e, 1);
    seal(&a, &e);
    out[outlen - 1] ^= 1;
    save(dir, "bad-mac");

    /* A remote client: submit a job, signal it, feed stdin, ask status. */
    member(&a);
    char *cav[] = {"/bin/echo", "hi"}, *copts[] = {"map-by=node", "npernode=1", "hosts=fuzz"};
    sf_wire_enc_begin(&e, SF_OP_JOB_SUBMIT, sf_sfd__auth_next_seq(&a));
    sf_wire_put_i32(&e, 1);
    sf_wire_put_u32(&e, 0);
    sf_wire_put_strv(&e, cav, 2);
    sf_wire_put_strv(&e, env, 1);
    sf_wire_put_str(&e, "/");
    sf_wire_put_strv(&e, copts, 3);
    seal(&a, &e);
    sf_wire_enc_begin(&e, SF_OP_STDIN, sf_sfd__auth_next_seq(&a));
    sf_wire_put_bytes(&e, "in", 2);
    seal(&a, &e);
    sf_wire_enc_begin(&e, SF_OP_SIGNAL, sf_sfd__auth_next_seq(&a));
    sf_wire_put_i32(&e, 2);
    seal(&a, &e);
    sf_wire_enc_begin(&e, SF_OP_STATUS_REQ, sf_sfd__auth_next_seq(&a));
    sf_wire_put_u32(&e, 0);
    seal(&a, &e);
    out[0] = 5;
    save(dir, "client-submit");
    save_raw(dir, "raw-client-submit");

    out[0] = 1;
    outlen = 1;
    for (int i = 0; i < 200; i++) {
        out[outlen++] = (uint8_t)(i * 53 + 7);
    }
    save(dir, "garbage");
    return 0;
}
