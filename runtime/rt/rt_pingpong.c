/* Hand-run measuring tool: message-engine ping-pong latency and streaming
 * bandwidth between two forked processes over the real shm transport,
 * wired by hand (no daemon; or under `sfrun -n 2` through sf_rt_init), to compare with bench/net_pingpong's raw
 * transport figures. Never a timed test. Single-threaded per process.
 *   rt_pingpong [-s bytes] [-n iters] [-m lat|bw] [-S (sync mode)]
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime/base/sf_env.h"
#include "runtime/base/sf_err.h"
#include "runtime/base/sf_log.h"
#include "runtime/rt/rt_int.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* fd >= 0: wire by hand over that shm segment; fd < 0: sf_rt_init (under
 * sfrun -n 2, any transport). */
static int side(int me, int fd, size_t size, long iters, int bw, int mode)
{
    struct sf_rt *rt;
    if (fd < 0) {
        int rc = sf_rt_init(&rt);
        if (rc < 0 || sf_rt_size(rt) != 2) {
            fprintf(stderr, "sf_rt_init: %s (need exactly 2 ranks)\n", sf_strerror(rc));
            return 1;
        }
        me = sf_rt_rank(rt);
    } else {
        if (sf_rt__new(me, 2, &rt) < 0) {
            return 1;
        }
        struct sf_net_callbacks cb = sf_rt__callbacks(rt, 0);
        struct sf_net *net;
        int rc = sf_net_shm_open(fd, me, 2, &cb, &net);
        int world_of[2] = {0, 1};
        if (rc < 0 || sf_rt__attach(rt, 0, net, world_of, 2) < 0) {
            fprintf(stderr, "shm open: %s\n", sf_strerror(rc));
            return 1;
        }
    }
    char *buf = calloc(1, size ? size : 1);
    struct sf_rt_req s, r;
    int peer = 1 - me;
    /* warm-up and start together */
    for (int i = 0; i < 100; i++) {
        if (me == 0) {
            sf_rt_isend(rt, &s, buf, size, peer, 0, me, 0, mode);
            sf_rt_wait(rt, &s);
            sf_rt_irecv(rt, &r, buf, size, peer, 0, 0);
            sf_rt_wait(rt, &r);
        } else {
            sf_rt_irecv(rt, &r, buf, size, peer, 0, 0);
            sf_rt_wait(rt, &r);
            sf_rt_isend(rt, &s, buf, size, peer, 0, me, 0, mode);
            sf_rt_wait(rt, &s);
        }
    }
    double t0 = now();
    if (!bw) {
        for (long i = 0; i < iters; i++) {
            if (me == 0) {
                sf_rt_isend(rt, &s, buf, size, peer, 0, me, 1, mode);
                sf_rt_wait(rt, &s);
                sf_rt_irecv(rt, &r, buf, size, peer, 0, 1);
                sf_rt_wait(rt, &r);
            } else {
                sf_rt_irecv(rt, &r, buf, size, peer, 0, 1);
                sf_rt_wait(rt, &r);
                sf_rt_isend(rt, &s, buf, size, peer, 0, me, 1, mode);
                sf_rt_wait(rt, &s);
            }
        }
    } else {
        enum { W = 16 };
        struct sf_rt_req q[W];
        for (long i = 0; i < iters; i += W) {
            for (int k = 0; k < W; k++) {
                if (me == 0) {
                    sf_rt_isend(rt, &q[k], buf, size, peer, 0, me, 1, mode);
                } else {
                    sf_rt_irecv(rt, &q[k], buf, size, peer, 0, 1);
                }
            }
            for (int k = 0; k < W; k++) {
                sf_rt_wait(rt, &q[k]);
            }
        }
        /* final ack so the clock covers delivery */
        if (me == 0) {
            sf_rt_irecv(rt, &r, buf, 0, peer, 0, 2);
            sf_rt_wait(rt, &r);
        } else {
            sf_rt_isend(rt, &s, buf, 0, peer, 0, me, 2, 0);
            sf_rt_wait(rt, &s);
        }
    }
    double t = now() - t0;
    if (me == 0) {
        if (bw) {
            long n = (iters + 15) / 16 * 16;
            printf("rt bw %zu B: %.1f MB/s (eager limit %zu)\n", size,
                   (double)size * (double)n / t / 1e6, sf_rt_eager_limit(rt));
        } else {
            printf("rt lat %zu B%s: %.3f us one-way (eager limit %zu)\n", size,
                   mode == SF_RT_SYNC ? " sync" : "", t / (double)iters / 2 * 1e6,
                   sf_rt_eager_limit(rt));
        }
    }
    /* nobody leaves while the other may still read our memory */
    sf_rt_isend(rt, &s, buf, 0, peer, 0, me, 3, 0);
    sf_rt_irecv(rt, &r, buf, 0, peer, 0, 3);
    sf_rt_wait(rt, &s);
    sf_rt_wait(rt, &r);
    if (fd < 0) {
        sf_rt_finalize(rt);
    } else {
        sf_rt__free(rt);
    }
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    size_t size = 8;
    long iters = 100000;
    int bw = 0, mode = SF_RT_STANDARD, c;
    while ((c = getopt(argc, argv, "s:n:m:S")) != -1) {
        switch (c) {
        case 's':
            size = strtoul(optarg, NULL, 0);
            break;
        case 'n':
            iters = strtol(optarg, NULL, 0);
            break;
        case 'm':
            bw = strcmp(optarg, "bw") == 0;
            break;
        case 'S':
            mode = SF_RT_SYNC;
            break;
        default:
            fprintf(stderr, "usage: %s [-s bytes] [-n iters] [-m lat|bw] [-S]\n", argv[0]);
            return 2;
        }
    }
    if (getenv(SF_ENV_SFD_FD) != NULL) {
        return side(-1, -1, size, iters, bw, mode);
    }
    sf_log_init("rt_pingpong");
    int fd = memfd_create("rt_pingpong", 0);
    if (fd < 0 || ftruncate(fd, (off_t)sf_net_shm_segment_size(2)) < 0) {
        perror("memfd");
        return 1;
    }
    pid_t p = fork();
    if (p == 0) {
        _exit(side(1, fd, size, iters, bw, mode));
    }
    int rc = side(0, fd, size, iters, bw, mode);
    int st;
    waitpid(p, &st, 0);
    return rc || !WIFEXITED(st) || WEXITSTATUS(st);
}
