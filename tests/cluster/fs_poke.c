/* Test client for the filesystem's block ops of a listening sfd (the local
 * Unix socket): writes files as blocks, reads them back, asks for status,
 * scrub and gc. Pipelines up to a window of requests, as real clients do.
 * Not the filesystem client library (fs/sf_fs_client.h): this speaks the
 * ops directly so the tests see exactly what sfd answers. Blocking I/O,
 * single thread.
 *   fs_poke SOCK put R FILE IDS     cut FILE into blocks (block size from
 *                                   status; an empty file is one empty
 *                                   block), write each with R replicas
 *                                   (0 = default), block ids to IDS
 *   fs_poke SOCK get IDS OUT        read the blocks listed in IDS, in order,
 *                                   into OUT
 *   fs_poke SOCK status|scrub|gc    FS_ADMIN verb 1/2/3: print the text
 * Exit 0 on success, 1 if sfd answered an error (printed with the message),
 * 2 on usage or I/O trouble. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "runtime/base/sf_err.h"
#include "runtime/base/sf_wire.h"

#define WINDOW 16 /* requests in flight */

static int fd = -1;
static struct sf_wire_rx rx;
static uint32_t seq;

static void die(const char *what)
{
    fprintf(stderr, "fs_poke: %s\n", what);
    exit(2);
}

static void dial(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path)) {
        die("socket path too long");
    }
    strcpy(sa.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    /* A bound on every wait: a daemon that never answers fails the test. */
    struct timeval tv = {.tv_sec = 60};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        perror("fs_poke: connect");
        exit(2);
    }
    sf_wire_rx_init(&rx);
}

static void send_enc(struct sf_wire_enc *e)
{
    if (sf_wire_enc_end(e) != 0 || sf_wire_write_all(fd, e->buf, e->len) != 0) {
        die("send failed");
    }
    sf_wire_enc_free(e);
}

/* Next frame of op want (others are skipped); *m valid until the next call. */
static void recv_op(uint8_t want, struct sf_wire_msg *m)
{
    for (;;) {
        int rc = sf_wire_rx_next(&rx, m);
        if (rc < 0) {
            die("corrupt stream from sfd");
        }
        if (rc == 1) {
            if (m->op == want) {
                return;
            }
            if (m->op == SF_OP_ERROR) {
                fprintf(stderr, "fs_poke: sfd refused: %.*s\n", (int)m->f[1].len,
                        (const char *)m->f[1].p);
                exit(1);
            }
            continue;
        }
        long n = sf_wire_rx_fill(&rx, fd);
        if (n <= 0) {
            die(n == 0 ? "sfd closed the connection" : "no answer from sfd (timeout)");
        }
    }
}

/* FS_ADMIN: returns the status; the text goes to out (cap bytes). */
static int admin(uint8_t verb, char *out, size_t cap)
{
    struct sf_wire_enc e;
    sf_wire_enc_begin(&e, SF_OP_FS_ADMIN, seq++);
    sf_wire_put_u64(&e, 1);
    sf_wire_put_u8(&e, verb);
    sf_wire_put_i32(&e, 0);
    sf_wire_put_str(&e, "");
    send_enc(&e);
    struct sf_wire_msg m;
    recv_op(SF_OP_FS_ADMIN, &m);
    size_t n = m.f[3].len < cap - 1 ? m.f[3].len : cap - 1;
    memcpy(out, m.f[3].p, n);
    out[n] = '\0';
    return (int)m.f[2].i;
}

static size_t block_size(void)
{
    char text[4096];
    if (admin(1, text, sizeof(text)) != 0) {
        fprintf(stderr, "fs_poke: status failed: %s", text);
        exit(1);
    }
    const char *p = strstr(text, "block_size=");
    if (p == NULL) {
        die("status has no block_size");
    }
    return (size_t)strtoull(p + 11, NULL, 10);
}

static int cmd_put(int r, const char *file, const char *idfile)
{
    size_t bs = block_size();
    FILE *in = fopen(file, "rb");
    FILE *out = fopen(idfile, "w");
    if (in == NULL || out == NULL) {
        die("cannot open the input or the id file");
    }
    fseek(in, 0, SEEK_END);
    long size = ftell(in);
    fseek(in, 0, SEEK_SET);
    size_t nblocks = size == 0 ? 1 : ((size_t)size + bs - 1) / bs;
    char (*ids)[65] = calloc(nblocks, sizeof(*ids));
    uint8_t *buf = malloc(bs);
    if (ids == NULL || buf == NULL) {
        die("out of memory");
    }
    size_t sent = 0, done = 0;
    int bad = 0;
    while (done < nblocks) {
        while (sent < nblocks && sent - done < WINDOW) {
            size_t len = fread(buf, 1, bs, in);
            struct sf_wire_enc e;
            sf_wire_enc_begin(&e, SF_OP_FS_BLOCK_WRITE, seq++);
            sf_wire_put_u64(&e, sent);
            sf_wire_put_u8(&e, (uint8_t)r);
            sf_wire_put_bytes(&e, buf, len);
            send_enc(&e);
            sent++;
        }
        struct sf_wire_msg m;
        recv_op(SF_OP_FS_BLOCK_DONE, &m);
        uint64_t req = m.f[0].u;
        int st = (int)m.f[1].i;
        if (req >= nblocks) {
            die("answer to a request never sent");
        }
        if (st != 0 || m.f[2].len != 32) {
            fprintf(stderr, "fs_poke: block %llu: %s: %.*s\n", (unsigned long long)req,
                    sf_strerror(st), (int)m.f[3].len, (const char *)m.f[3].p);
            bad = 1;
        } else {
            for (int i = 0; i < 32; i++) {
                snprintf(ids[req] + 2 * i, 3, "%02x", m.f[2].p[i]);
            }
        }
        done++;
    }
    for (size_t i = 0; i < nblocks; i++) {
        fprintf(out, "%s\n", ids[i][0] ? ids[i] : "-");
    }
    fclose(in);
    fclose(out);
    free(ids);
    free(buf);
    return bad;
}

static int cmd_get(const char *idfile, const char *outfile)
{
    FILE *in = fopen(idfile, "r");
    FILE *out = fopen(outfile, "wb");
    if (in == NULL || out == NULL) {
        die("cannot open the id file or the output");
    }
    size_t n = 0, cap = 0;
    uint8_t (*ids)[32] = NULL;
    char line[256];
    while (fgets(line, sizeof(line), in) != NULL) {
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            ids = realloc(ids, cap * sizeof(*ids));
            if (ids == NULL) {
                die("out of memory");
            }
        }
        for (int i = 0; i < 32; i++) {
            unsigned v;
            if (sscanf(line + 2 * i, "%2x", &v) != 1) {
                die("bad block id in the id file");
            }
            ids[n][i] = (uint8_t)v;
        }
        n++;
    }
    /* Answers may come out of order: keep each block until it is next. */
    uint8_t **got = calloc(n ? n : 1, sizeof(*got));
    size_t *glen = calloc(n ? n : 1, sizeof(*glen));
    size_t sent = 0, done = 0, written = 0;
    int bad = 0;
    while (done < n) {
        while (sent < n && sent - written < WINDOW) {
            struct sf_wire_enc e;
            sf_wire_enc_begin(&e, SF_OP_FS_BLOCK_READ, seq++);
            sf_wire_put_u64(&e, sent);
            sf_wire_put_bytes(&e, ids[sent], 32);
            send_enc(&e);
            sent++;
        }
        struct sf_wire_msg m;
        recv_op(SF_OP_FS_DATA, &m);
        uint64_t req = m.f[0].u;
        if (req >= n || got[req] != NULL) {
            die("unexpected answer");
        }
        if ((int)m.f[1].i != 0) {
            fprintf(stderr, "fs_poke: read of block %llu: %s\n", (unsigned long long)req,
                    sf_strerror((int)m.f[1].i));
            bad = 1;
        }
        got[req] = malloc(m.f[2].len ? m.f[2].len : 1);
        memcpy(got[req], m.f[2].p, m.f[2].len);
        glen[req] = m.f[2].len;
        done++;
        while (written < n && got[written] != NULL) {
            fwrite(got[written], 1, glen[written], out);
            free(got[written]);
            got[written] = (uint8_t *)1; /* written: never NULL again */
            written++;
        }
    }
    fclose(in);
    if (fclose(out) != 0) {
        die("write failed");
    }
    free(ids);
    free(got);
    free(glen);
    return bad;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: fs_poke SOCK put R FILE IDS | get IDS OUT | status | scrub | gc\n");
        return 2;
    }
    dial(argv[1]);
    const char *cmd = argv[2];
    if (strcmp(cmd, "put") == 0 && argc == 6) {
        return cmd_put(atoi(argv[3]), argv[4], argv[5]);
    }
    if (strcmp(cmd, "get") == 0 && argc == 5) {
        return cmd_get(argv[3], argv[4]);
    }
    int verb = strcmp(cmd, "status") == 0 ? 1 : strcmp(cmd, "scrub") == 0 ? 2
               : strcmp(cmd, "gc") == 0   ? 3
                                          : 0;
    if (verb == 0 || argc != 3) {
        fprintf(stderr, "fs_poke: bad command\n");
        return 2;
    }
    static char text[65536];
    int st = admin((uint8_t)verb, text, sizeof(text));
    fputs(text, stdout);
    if (st != 0) {
        fprintf(stderr, "fs_poke: %s: %s\n", cmd, sf_strerror(st));
        return 1;
    }
    return 0;
}
