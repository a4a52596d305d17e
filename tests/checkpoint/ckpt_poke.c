/* Test driver for CRIU checkpoints of a job's local part (until `sf ckpt`
 * drives them): sends CKPT_PREPARE with flags 1 (checkpoint) or 2 (kill
 * and restore) to a listening sfd's Unix socket, waits for the CKPT_RESUMED
 * answer, prints its text and exits 0 on success, 1 on failure. Also lists
 * the daemon's job ids. Blocking, single-threaded.
 *   ckpt_poke jobs SOCK
 *   ckpt_poke checkpoint|restore SOCK JOB EPOCH DIR */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "runtime/base/sf_wire.h"

static int dial(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        fprintf(stderr, "ckpt_poke: cannot connect to %s: %s\n", path, strerror(errno));
        exit(2);
    }
    return fd;
}

static void send_frame(int fd, struct sf_wire_enc *e)
{
    if (sf_wire_enc_end(e) != 0 || sf_wire_write_all(fd, e->buf, e->len) != 0) {
        fprintf(stderr, "ckpt_poke: cannot send\n");
        exit(2);
    }
    sf_wire_enc_free(e);
}

/* Next frame with op 'want' (others skipped); exits at EOF. */
static void recv_op(int fd, struct sf_wire_rx *rx, uint8_t want, struct sf_wire_msg *m)
{
    for (;;) {
        int rc = sf_wire_rx_next(rx, m);
        if (rc < 0) {
            fprintf(stderr, "ckpt_poke: corrupt stream\n");
            exit(2);
        }
        if (rc == 1) {
            if (m->op == want) {
                return;
            }
            if (m->op == SF_OP_ERROR) {
                fprintf(stderr, "ckpt_poke: error %lld: %.*s\n", (long long)m->f[0].i,
                        (int)m->f[1].len, (const char *)m->f[1].p);
                exit(1);
            }
            continue;
        }
        long n = sf_wire_rx_fill(rx, fd);
        if (n == 0 || (n < 0 && n != -EINTR && n != -EAGAIN)) {
            fprintf(stderr, "ckpt_poke: the daemon closed the connection\n");
            exit(2);
        }
    }
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "jobs") == 0) {
        int fd = dial(argv[2]);
        struct sf_wire_enc e;
        sf_wire_enc_begin(&e, SF_OP_STATUS_REQ, 0);
        sf_wire_put_u32(&e, 0);
        send_frame(fd, &e);
        struct sf_wire_rx rx;
        sf_wire_rx_init(&rx);
        struct sf_wire_msg m;
        recv_op(fd, &rx, SF_OP_STATUS, &m);
        uint32_t pos = 0, len;
        const uint8_t *s;
        while (sf_wire_strv_next(&m.f[0], &pos, &s, &len) == 1) {
            if (len > 4 && memcmp(s, "job=", 4) == 0) {
                printf("%.*s\n", (int)strcspn((const char *)s + 4, " "), (const char *)s + 4);
            }
        }
        return 0;
    }
    if (argc != 6 || (strcmp(argv[1], "checkpoint") != 0 && strcmp(argv[1], "restore") != 0)) {
        fprintf(stderr, "usage: ckpt_poke jobs SOCK\n"
                        "       ckpt_poke checkpoint|restore SOCK JOB EPOCH DIR\n");
        return 2;
    }
    int fd = dial(argv[2]);
    struct sf_wire_enc e;
    sf_wire_enc_begin(&e, SF_OP_CKPT_PREPARE, 0);
    sf_wire_put_u64(&e, strtoull(argv[3], NULL, 10));
    sf_wire_put_u32(&e, (uint32_t)strtoul(argv[4], NULL, 10));
    sf_wire_put_u32(&e, strcmp(argv[1], "checkpoint") == 0 ? 1 : 2);
    sf_wire_put_str(&e, argv[5]);
    send_frame(fd, &e);
    struct sf_wire_rx rx;
    sf_wire_rx_init(&rx);
    struct sf_wire_msg m;
    recv_op(fd, &rx, SF_OP_CKPT_RESUMED, &m);
    printf("%s: status %lld: %.*s\n", argv[1], (long long)m.f[2].i, (int)m.f[3].len,
           (const char *)m.f[3].p);
    return m.f[2].i == 0 ? 0 : 1;
}
