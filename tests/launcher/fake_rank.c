/* A stand-in MPI rank for the launcher tests: does the wire-up with sfd by
 * hand (HELLO, ADDR, wait for ADDR_TABLE and check it) and then what its
 * argument says, so sfd's wire-up and job-ending rules are testable without
 * libmpi. Usage: fake_rank ACTION0 [ACTION1 ...] (rank r takes action r,
 * the last one repeats). Actions:
 *   ok        finalize, exit 0        nofin     exit 0 without finalize
 *   exit:N    finalize, exit N        abort:N   RANK_ABORT with code N
 *   sig:N     raise signal N          hang      wait forever (prints KILL)
 *   nowire    no wire-up, wait forever
 * Single-threaded, blocking I/O. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/base/sf_env.h"
#include "runtime/base/sf_err.h"
#include "runtime/base/sf_wire.h"

static int sfd_fd = -1;
static int rank = -1;

static void die(const char *what, int code)
{
    fprintf(stderr, "fake_rank %d: %s: %s\n", rank, what, sf_strerror(code));
    exit(99);
}

static void send_msg(struct sf_wire_enc *e)
{
    int rc = sf_wire_enc_end(e);
    if (rc == 0) {
        rc = sf_wire_write_all(sfd_fd, e->buf, e->len);
    }
    sf_wire_enc_free(e);
    if (rc != 0) {
        die("send", rc);
    }
}

/* Block for the next frame; returns 0 at EOF. */
static int recv_msg(struct sf_wire_rx *rx, struct sf_wire_msg *m)
{
    for (;;) {
        int rc = sf_wire_rx_next(rx, m);
        if (rc == 1) {
            return 1;
        }
        if (rc < 0) {
            die("corrupt stream from sfd", rc);
        }
        long n = sf_wire_rx_fill(rx, sfd_fd);
        if (n == 0) {
            return 0;
        }
        if (n < 0 && n != -EINTR && n != -EAGAIN) {
            die("read", (int)n);
        }
    }
}

static int env_int(const char *name)
{
    const char *v = getenv(name);
    if (v == NULL) {
        fprintf(stderr, "fake_rank: %s not set (not started by sfrun?)\n", name);
        exit(98);
    }
    return atoi(v);
}

static void check_table(const struct sf_wire_msg *m, int size)
{
    if (m->f[1].len != (uint32_t)size) {
        fprintf(stderr, "fake_rank %d: table has %u node ids, expected %d\n", rank, m->f[1].len,
                size);
        exit(97);
    }
    const uint8_t *p = m->f[2].p;
    size_t left = m->f[2].len;
    for (int r = 0; r < size; r++) {
        char want[64];
        snprintf(want, sizeof(want), "addr-of-rank-%d", r);
        if (left < 4) {
            fprintf(stderr, "fake_rank %d: table truncated at rank %d\n", rank, r);
            exit(97);
        }
        uint32_t l = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        if (l != strlen(want) || left < 4 + l || memcmp(p + 4, want, l) != 0 ||
            sf_wire_i32v_get(&m->f[1], (uint32_t)r) != 0) {
            fprintf(stderr, "fake_rank %d: bad table entry for rank %d\n", rank, r);
            exit(97);
        }
        p += 4 + l;
        left -= 4 + l;
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: fake_rank ACTION0 [ACTION1 ...]\n");
        return 2;
    }
    rank = env_int(SF_ENV_RANK);
    int size = env_int(SF_ENV_SIZE);
    const char *action = argv[1 + (rank < argc - 2 ? rank : argc - 2)];
    if (strcmp(action, "nowire") == 0) {
        for (;;) {
            pause();
        }
    }
    sfd_fd = env_int(SF_ENV_SFD_FD);
    unsigned long long job = strtoull(getenv(SF_ENV_JOB) ? getenv(SF_ENV_JOB) : "0", NULL, 10);

    struct sf_wire_enc e;
    sf_wire_enc_begin(&e, SF_OP_RANK_HELLO, 0);
    sf_wire_put_u64(&e, job);
    sf_wire_put_i32(&e, rank);
    sf_wire_put_i32(&e, (int32_t)getpid());
    send_msg(&e);
    char addr[64];
    snprintf(addr, sizeof(addr), "addr-of-rank-%d", rank);
    sf_wire_enc_begin(&e, SF_OP_RANK_ADDR, 1);
    sf_wire_put_i32(&e, rank);
    sf_wire_put_bytes(&e, addr, strlen(addr));
    send_msg(&e);

    struct sf_wire_rx rx;
    sf_wire_rx_init(&rx);
    struct sf_wire_msg m;
    for (;;) {
        if (!recv_msg(&rx, &m)) {
            fprintf(stderr, "fake_rank %d: sfd closed before the address table\n", rank);
            return 96;
        }
        if (m.op == SF_OP_ADDR_TABLE) {
            break;
        }
        if (m.op == SF_OP_KILL) {
            fprintf(stderr, "fake_rank %d: killed during wire-up\n", rank);
            return 95;
        }
    }
    check_table(&m, size);
    printf("rank %d: table ok (%d entries)\n", rank, size);
    fflush(stdout);

    if (strcmp(action, "ok") == 0 || strncmp(action, "exit:", 5) == 0) {
        sf_wire_enc_begin(&e, SF_OP_RANK_FINALIZE, 2);
        sf_wire_put_i32(&e, rank);
        send_msg(&e);
        return action[0] == 'o' ? 0 : atoi(action + 5);
    }
    if (strcmp(action, "nofin") == 0) {
        return 0;
    }
    if (strncmp(action, "abort:", 6) == 0) {
        sf_wire_enc_begin(&e, SF_OP_RANK_ABORT, 2);
        sf_wire_put_i32(&e, rank);
        sf_wire_put_i32(&e, atoi(action + 6));
        sf_wire_put_str(&e, "fake abort");
        send_msg(&e);
        for (;;) {
            pause(); /* sfd ends us */
        }
    }
    if (strncmp(action, "sig:", 4) == 0) {
        signal(atoi(action + 4), SIG_DFL);
        raise(atoi(action + 4));
        return 94;
    }
    if (strcmp(action, "hang") == 0) {
        while (recv_msg(&rx, &m)) {
            if (m.op == SF_OP_KILL) {
                fprintf(stderr, "rank %d: got KILL: %.*s\n", rank, (int)m.f[0].len,
                        (const char *)m.f[0].p);
            }
        }
        for (;;) {
            pause();
        }
    }
    fprintf(stderr, "fake_rank: unknown action '%s'\n", action);
    return 2;
}
