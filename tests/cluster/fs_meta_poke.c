/* Test client for the filesystem's namespace ops of a listening sfd (the
 * local Unix socket): one FS_NS or FS_READDIR per run, printed plainly.
 * Not the client library (fs/sf_fs_client.h): it speaks ops 51..54
 * directly so the tests see exactly what sfd answers. Blocking, one thread.
 *   fs_meta_poke SOCK lookup|create|mkdir|rmdir|unlink PATH
 *   fs_meta_poke SOCK rename PATH PATH2
 *   fs_meta_poke SOCK commit PATH EXPECT SIZE   a file inode of SIZE bytes
 *                                   (made-up block ids) with version EXPECT
 *   fs_meta_poke SOCK ls PATH                   "NAME dir|file SIZE" a line (all pages)
 *   fs_meta_poke SOCK status KEY                the value of one STATUS line KEY=
 *   fs_meta_poke SOCK bench N DIR               N creates, lookups, unlinks of DIR/bI
 *                                   (64 in flight): "create|lookup|unlink OPS/s"
 * Prints "ok version=V kind=file|dir size=S fid=HEX8" for the NS verbs, or
 * "error NAME: message". Exit 0 on success, 1 if sfd answered an error
 * (3 for -EEXIST, 4 for -ENOENT, 5 for -ESTALE, so scripts can tell), 2 on
 * usage or I/O trouble. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "fs/sf_fs_meta.h"
#include "runtime/base/sf_err.h"
#include "runtime/base/sf_wire.h"

static int fd = -1;
static struct sf_wire_rx rx;

static void die(const char *what)
{
    fprintf(stderr, "fs_meta_poke: %s\n", what);
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
    struct timeval tv = {.tv_sec = 60}; /* a daemon that never answers fails the test */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        perror("fs_meta_poke: connect");
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

static void recv_op(uint8_t want, struct sf_wire_msg *m)
{
    for (;;) {
        int rc = sf_wire_rx_next(&rx, m);
        if (rc < 0) {
            die("corrupt stream from sfd");
        }
        if (rc == 1 && m->op == want) {
            return;
        }
        if (rc == 1 && m->op == SF_OP_ERROR) {
            fprintf(stderr, "fs_meta_poke: sfd refused: %.*s\n", (int)m->f[1].len,
                    (const char *)m->f[1].p);
            exit(2);
        }
        if (rc == 0) {
            long n = sf_wire_rx_fill(&rx, fd);
            if (n <= 0) {
                die(n == 0 ? "sfd closed the connection" : "read failed or timed out");
            }
        }
    }
}

static int fail(int status, const struct sf_wire_val *msg)
{
    printf("error %s: %.*s\n", sf_strerror(status), (int)msg->len, (const char *)msg->p);
    return status == -EEXIST ? 3 : status == -ENOENT ? 4 : status == -ESTALE ? 5 : 1;
}

static void ns_send(uint64_t req, enum sf_fs_ns_verb v, const char *path)
{
    struct sf_wire_enc e;
    sf_wire_enc_begin(&e, SF_OP_FS_NS, (uint32_t)req);
    sf_wire_put_u64(&e, req);
    sf_wire_put_u8(&e, (uint8_t)v);
    sf_wire_put_str(&e, path);
    sf_wire_put_str(&e, "");
    sf_wire_put_u64(&e, 0);
    sf_wire_put_u32(&e, 0644);
    sf_wire_put_bytes(&e, NULL, 0);
    sf_wire_put_u32(&e, 0);
    send_enc(&e);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Metadata operations per second through one daemon, 64 requests in flight. */
static int bench(long n, const char *dir)
{
    static const struct {
        const char *name;
        enum sf_fs_ns_verb v;
    } phases[] = {
        {"create", SF_FS_NS_CREATE}, {"lookup", SF_FS_NS_LOOKUP}, {"unlink", SF_FS_NS_UNLINK}};
    for (size_t ph = 0; ph < 3; ph++) {
        double t0 = now_s();
        long sent = 0, got = 0, bad = 0;
        while (got < n) {
            while (sent < n && sent - got < 64) {
                char path[SF_FS_PATH_MAX + 1];
                snprintf(path, sizeof path, "%s/b%ld", dir, sent);
                ns_send((uint64_t)sent + 1, phases[ph].v, path);
                sent++;
            }
            struct sf_wire_msg m;
            recv_op(SF_OP_FS_NS_ANS, &m);
            if ((int32_t)m.f[1].i != 0 && bad++ == 0) {
                fprintf(stderr, "%s: %s: %.*s\n", phases[ph].name, sf_strerror((int)m.f[1].i),
                        (int)m.f[5].len, (const char *)m.f[5].p);
            }
            got++;
        }
        double dt = now_s() - t0;
        printf("%s %.0f ops/s (%ld in %.2f s, %ld failed)\n", phases[ph].name, n / dt, n, dt, bad);
        if (bad > 0) {
            return 1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        die("usage: fs_meta_poke SOCK VERB PATH [ARGS]");
    }
    dial(argv[1]);
    const char *verb = argv[2], *path = argv[3];
    struct sf_wire_enc e;
    struct sf_wire_msg m;
    if (strcmp(verb, "bench") == 0) {
        if (argc < 5) {
            die("bench needs N DIR");
        }
        return bench(atol(path), argv[4]);
    }
    if (strcmp(verb, "status") == 0) {
        sf_wire_enc_begin(&e, SF_OP_STATUS_REQ, 1);
        sf_wire_put_u32(&e, 0);
        send_enc(&e);
        recv_op(SF_OP_STATUS, &m);
        uint32_t pos = 0, len;
        const uint8_t *str;
        size_t kl = strlen(path);
        while (sf_wire_strv_next(&m.f[0], &pos, &str, &len)) {
            if (len > kl && memcmp(str, path, kl) == 0 && str[kl] == '=') {
                printf("%.*s\n", (int)(len - kl - 1), (const char *)str + kl + 1);
                return 0;
            }
        }
        return 1;
    }
    if (strcmp(verb, "ls") == 0) {
        char after[SF_FS_NAME_MAX + 1] = "";
        for (uint64_t req = 1;; req++) {
            sf_wire_enc_begin(&e, SF_OP_FS_READDIR, (uint32_t)req);
            sf_wire_put_u64(&e, req);
            sf_wire_put_str(&e, path);
            sf_wire_put_str(&e, after);
            sf_wire_put_u32(&e, 0);
            send_enc(&e);
            recv_op(SF_OP_FS_DIRENTS, &m);
            if ((int32_t)m.f[1].i != 0) {
                return fail((int)m.f[1].i, &m.f[4]);
            }
            size_t off = 0;
            struct sf_fs_meta_dirent d;
            int rc;
            while ((rc = sf_fs_meta_dirent_next(m.f[2].p, m.f[2].len, &off, &d)) == 1) {
                printf("%s %s %llu\n", d.name, (d.inode.mode & S_IFMT) == S_IFDIR ? "dir" : "file",
                       (unsigned long long)d.inode.size);
                strcpy(after, d.name);
            }
            if (rc != 0) {
                die("bad entry list from sfd");
            }
            if (m.f[3].u) {
                return 0;
            }
        }
    }
    static const struct {
        const char *name;
        enum sf_fs_ns_verb v;
    } verbs[] = {{"lookup", SF_FS_NS_LOOKUP}, {"create", SF_FS_NS_CREATE},
                 {"commit", SF_FS_NS_COMMIT}, {"mkdir", SF_FS_NS_MKDIR},
                 {"rmdir", SF_FS_NS_RMDIR},   {"unlink", SF_FS_NS_UNLINK},
                 {"rename", SF_FS_NS_RENAME}};
    int v = 0;
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
        if (strcmp(verb, verbs[i].name) == 0) {
            v = verbs[i].v;
        }
    }
    if (v == 0) {
        die("unknown verb");
    }
    const char *path2 = "";
    uint64_t expect = 0;
    uint8_t ib[SF_DHT_VALUE_MAX];
    size_t il = 0;
    if (v == SF_FS_NS_RENAME) {
        if (argc < 5) {
            die("rename needs PATH2");
        }
        path2 = argv[4];
    }
    if (v == SF_FS_NS_COMMIT) {
        if (argc < 6) {
            die("commit needs EXPECT SIZE");
        }
        expect = strtoull(argv[4], NULL, 10);
        struct sf_fs_inode ino = {.mode = S_IFREG | 0644,
                                  .uid = (uint32_t)getuid(),
                                  .gid = (uint32_t)getgid(),
                                  .size = strtoull(argv[5], NULL, 10),
                                  .replicas = 2,
                                  .block_size = SF_FS_BLOCK_DEFAULT};
        uint64_t nb;
        if (sf_fs_inode_shape(ino.size, ino.block_size, &nb, &ino.depth, &ino.n_refs) != 0) {
            die("size too large");
        }
        for (int i = 0; i < ino.n_refs; i++) {
            memset(ino.refs[i].b, 0xa0 + i, SF_FS_ID_LEN);
        }
        if (sf_fs_inode_encode(&ino, ib, sizeof ib, &il) != 0) {
            die("inode does not encode");
        }
    }
    sf_wire_enc_begin(&e, SF_OP_FS_NS, 1);
    sf_wire_put_u64(&e, 7);
    sf_wire_put_u8(&e, (uint8_t)v);
    sf_wire_put_str(&e, path);
    sf_wire_put_str(&e, path2);
    sf_wire_put_u64(&e, expect);
    sf_wire_put_u32(&e, v == SF_FS_NS_MKDIR ? 0755 : 0644);
    sf_wire_put_bytes(&e, ib, il);
    sf_wire_put_u32(&e, 0);
    send_enc(&e);
    recv_op(SF_OP_FS_NS_ANS, &m);
    if (m.f[0].u != 7) {
        die("answer for another request");
    }
    if ((int32_t)m.f[1].i != 0) {
        return fail((int)m.f[1].i, &m.f[5]);
    }
    struct sf_fs_inode ino;
    if (m.f[3].len > 0) {
        if (sf_fs_inode_decode(m.f[3].p, m.f[3].len, &ino) != 0 || m.f[4].len != SF_FS_FID_LEN) {
            die("bad inode from sfd");
        }
        printf("ok version=%llu kind=%s size=%llu fid=%02x%02x%02x%02x\n",
               (unsigned long long)m.f[2].u, (ino.mode & S_IFMT) == S_IFDIR ? "dir" : "file",
               (unsigned long long)ino.size, m.f[4].p[0], m.f[4].p[1], m.f[4].p[2], m.f[4].p[3]);
    } else {
        printf("ok\n");
    }
    return 0;
}
