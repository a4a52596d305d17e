/* Raw transport latency/bandwidth between two forked processes, straight
 * on runtime/net (no message engine): packet ping-pong, windowed bulk
 * push, and get. A hand-run measuring tool, never a timed test.
 *   net_pingpong [-t shm|ofi] [-m lat|bw|get] [-s bytes] [-n iters]
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime/base/sf_err.h"
#include "runtime/base/sf_log.h"
#include "runtime/net/sf_net.h"

#define WINDOW 8

struct pp {
    long got;
    long done;
    uint64_t word; /* last packet's first 8 bytes */
};

static void on_recv(void *arg, struct sf_net *net, int peer, const void *pkt, size_t len)
{
    struct pp *p = arg;
    p->got++;
    if (len >= 8) {
        memcpy(&p->word, pkt, 8);
    }
}

static void on_done(void *arg, struct sf_net *net, void *ctx, int status, size_t len)
{
    struct pp *p = arg;
    if (status != 0) {
        fprintf(stderr, "bulk failed: %s\n", sf_strerror(status));
        exit(1);
    }
    p->done++;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "%s: %s\n", what, sf_strerror(rc));
    exit(1);
}

static void xfer(int sock, void *buf, size_t len, bool out)
{
    size_t off = 0;
    while (off < len) {
        ssize_t n = out ? write(sock, (char *)buf + off, len - off)
                        : read(sock, (char *)buf + off, len - off);
        if (n <= 0) {
            perror("address exchange");
            exit(1);
        }
        off += (size_t)n;
    }
}

/* Both ranks publish their ofi address over the socketpair. */
static void exchange(struct sf_net *net, int rank, int sock)
{
    char mine[256], theirs[256];
    size_t ml = sizeof mine, tl;
    int rc = net->ops->getname(net, mine, &ml);
    if (rc != 0) {
        die("getname", rc);
    }
    xfer(sock, &ml, sizeof ml, true);
    xfer(sock, mine, ml, true);
    xfer(sock, &tl, sizeof tl, false);
    xfer(sock, theirs, tl, false);
    const void *addrs[2];
    size_t lens[2];
    addrs[rank] = mine;
    lens[rank] = ml;
    addrs[1 - rank] = theirs;
    lens[1 - rank] = tl;
    rc = net->ops->insert(net, 2, addrs, lens);
    if (rc != 0) {
        die("insert", rc);
    }
}

static void send_pkt(struct sf_net *net, int peer, void *buf, size_t len)
{
    struct iovec iov = {buf, len};
    int rc;
    while ((rc = net->ops->send(net, peer, &iov, 1)) == -EAGAIN) {
        net->ops->progress(net);
    }
    if (rc != 0) {
        die("send", rc);
    }
}

static void wait_got(struct sf_net *net, struct pp *p, long n)
{
    while (p->got < n) {
        int rc = net->ops->progress(net);
        if (rc < 0) {
            die("progress", rc);
        }
    }
}

static void wait_done(struct sf_net *net, struct pp *p, long n)
{
    while (p->done < n) {
        int rc = net->ops->progress(net);
        if (rc < 0) {
            die("progress", rc);
        }
    }
}

static void run_lat(struct sf_net *net, struct pp *p, int rank, size_t size, long iters)
{
    char *buf = calloc(1, size + 8);
    long warm = iters / 10 + 10;
    double t0 = 0;
    for (long i = 0; i < warm + iters; i++) {
        if (i == warm) {
            t0 = now();
        }
        if (rank == 0) {
            send_pkt(net, 1, buf, size);
            wait_got(net, p, i + 1);
        } else {
            wait_got(net, p, i + 1);
            send_pkt(net, 0, buf, size);
        }
    }
    double t = now() - t0;
    if (rank == 0) {
        printf("%s lat %zu B: %.3f us one-way (%ld round trips)\n", net->ops->name, size,
               t / iters / 2 * 1e6, iters);
    }
    free(buf);
}

/* Windowed push: rank 1 posts WINDOW receives and says "go", rank 0 sends. */
static void run_bw(struct sf_net *net, struct pp *p, int rank, size_t size, long iters)
{
    char *buf = malloc(size * WINDOW);
    memset(buf, rank, size * WINDOW);
    uint64_t go = 0;
    long warm = 2;
    double t0 = 0;
    for (long i = 0; i < warm + iters; i++) {
        if (i == warm) {
            t0 = now();
        }
        if (rank == 1) {
            for (int w = 0; w < WINDOW; w++) {
                int rc = net->ops->bulk_recv(net, 0, (uint64_t)(i * WINDOW + w), buf + w * size,
                                             size, NULL);
                if (rc != 0) {
                    die("bulk_recv", rc);
                }
            }
            send_pkt(net, 0, &go, sizeof go);
            wait_done(net, p, (i + 1) * WINDOW);
        } else {
            wait_got(net, p, i + 1);
            for (int w = 0; w < WINDOW; w++) {
                int rc;
                while ((rc = net->ops->bulk_send(net, 1, (uint64_t)(i * WINDOW + w), buf + w * size,
                                                 size, NULL)) == -EAGAIN) {
                    net->ops->progress(net);
                }
                if (rc != 0) {
                    die("bulk_send", rc);
                }
            }
            wait_done(net, p, (i + 1) * WINDOW);
        }
    }
    double t = now() - t0;
    if (rank == 0) {
        printf("%s bw %zu B: %.1f MB/s (window %d)\n", net->ops->name, size,
               (double)size * WINDOW * iters / t / 1e6, WINDOW);
    }
    free(buf);
}

/* rank 1 publishes a buffer address; rank 0 reads it repeatedly. */
static void run_get(struct sf_net *net, struct pp *p, int rank, size_t size, long iters)
{
    if (!(net->caps & SF_NET_CAP_GET)) {
        if (rank == 0) {
            printf("%s: no get\n", net->ops->name);
        }
        return;
    }
    char *buf = malloc(size);
    memset(buf, 7, size);
    if (rank == 1) {
        uint64_t a = (uint64_t)(uintptr_t)buf;
        send_pkt(net, 0, &a, sizeof a);
        wait_got(net, p, 1); /* rank 0 says it is finished */
    } else {
        wait_got(net, p, 1);
        uint64_t raddr = p->word;
        double t0 = 0;
        for (long i = 0; i < iters + 2; i++) {
            if (i == 2) {
                t0 = now();
            }
            int rc = net->ops->get(net, 1, buf, raddr, size);
            if (rc != 0) {
                die("get", rc);
            }
        }
        double t = now() - t0;
        printf("%s get %zu B: %.1f MB/s\n", net->ops->name, size, (double)size * iters / t / 1e6);
        uint64_t fin = 0;
        send_pkt(net, 1, &fin, sizeof fin);
    }
    free(buf);
}

int main(int argc, char **argv)
{
    const char *type = "shm", *mode = "lat";
    size_t size = 8;
    long iters = 0;
    int c;
    while ((c = getopt(argc, argv, "t:m:s:n:")) != -1) {
        switch (c) {
        case 't':
            type = optarg;
            break;
        case 'm':
            mode = optarg;
            break;
        case 's':
            size = strtoull(optarg, NULL, 0);
            break;
        case 'n':
            iters = atol(optarg);
            break;
        default:
            fprintf(stderr, "usage: %s [-t shm|ofi] [-m lat|bw|get] [-s bytes] [-n iters]\n",
                    argv[0]);
            return 2;
        }
    }
    if (iters == 0) {
        iters = strcmp(mode, "lat") == 0 ? 200000 : 200;
    }
    sf_log_init("net_pingpong");
    int fd = memfd_create("sf-net-bench", 0);
    if (fd < 0 || ftruncate(fd, (off_t)sf_net_shm_segment_size(2)) != 0) {
        perror("memfd");
        return 1;
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
        perror("socketpair");
        return 1;
    }
    pid_t kids[2];
    for (int rank = 0; rank < 2; rank++) {
        kids[rank] = fork();
        if (kids[rank] == 0) {
            struct pp p = {0};
            struct sf_net_callbacks cb = {on_recv, on_done, &p};
            struct sf_net *net;
            int rc = strcmp(type, "shm") == 0 ? sf_net_shm_open(fd, rank, 2, &cb, &net)
                                              : sf_net_ofi_open(&cb, &net);
            if (rc != 0) {
                die("open", rc);
            }
            if (strcmp(type, "shm") != 0) {
                exchange(net, rank, sv[rank]);
            }
            if (strcmp(mode, "lat") == 0) {
                run_lat(net, &p, rank, size, iters);
            } else if (strcmp(mode, "bw") == 0) {
                run_bw(net, &p, rank, size, iters);
            } else {
                run_get(net, &p, rank, size, iters);
            }
            /* Let the peer drain our last packets before the endpoint goes. */
            char b = 0;
            xfer(sv[rank], &b, 1, true);
            xfer(sv[rank], &b, 1, false);
            net->ops->close(net);
            fflush(stdout);
            _exit(0);
        }
    }
    int status, bad = 0;
    for (int i = 0; i < 2; i++) {
        waitpid(kids[i], &status, 0);
        bad |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    }
    return bad;
}
