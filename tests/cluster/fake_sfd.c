/* A stand-in for `sfd --listen` that tests the admin tools' process and
 * network handling without the real daemon: it takes sfd's cluster flags,
 * writes sfd.sock/sfd.pid/sfd.addr in its state dir, keeps one child
 * ("a rank") in its session, joins over real TCP (so namespaced nodes
 * really talk across the bridge) and answers STATUS_REQ with the members
 * it knows. No keys, no DHT, no jobs. Single-threaded poll loop. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "runtime/base/sf_wire.h"

#define MAXC 64

struct member {
    int fd; /* connection it joined on (node 1), -1 for self/unknown */
    char line[256];
    bool gone;
};

static volatile sig_atomic_t stop;
static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

static void put_file(const char *dir, const char *name, const char *text)
{
    char p[600];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    if (f != NULL) {
        fputs(text, f);
        fclose(f);
    }
}

int main(int argc, char **argv)
{
    const char *state = NULL, *name = "fake", *join = NULL, *bind_addr = "0.0.0.0";
    int port = 7300;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
        if (strcmp(a, "--help") == 0) {
            printf("usage: fake_sfd --listen --state-dir DIR --port P --name N --cluster-key F\n"
                   "       [--join HOST:PORT] [--bind ADDR] [--no-autodiscover]\n");
            return 0;
        } else if (strcmp(a, "--state-dir") == 0) {
            state = v, i++;
        } else if (strcmp(a, "--port") == 0) {
            port = atoi(v), i++;
        } else if (strcmp(a, "--name") == 0) {
            name = v, i++;
        } else if (strcmp(a, "--join") == 0) {
            join = v, i++;
        } else if (strcmp(a, "--bind") == 0) {
            bind_addr = v, i++;
        } else if (strcmp(a, "--cluster-key") == 0) {
            if (access(v, R_OK) != 0) {
                fprintf(stderr, "fake_sfd: no key %s\n", v);
                return 1;
            }
            i++;
        }
    }
    if (state == NULL) {
        fprintf(stderr, "fake_sfd: --state-dir needed\n");
        return 2;
    }
    signal(SIGTERM, on_term);
    signal(SIGPIPE, SIG_IGN);
    /* The "rank": dies with us only if someone kills our session. */
    pid_t rank = fork();
    if (rank == 0) {
        for (;;) {
            pause();
        }
    }
    char buf[600];
    snprintf(buf, sizeof(buf), "%ld\n", (long)rank);
    put_file(state, "rank.pid", buf);

    int tcp = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(tcp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, bind_addr, &sin.sin_addr);
    if (bind(tcp, (struct sockaddr *)&sin, sizeof(sin)) != 0 || listen(tcp, 16) != 0) {
        fprintf(stderr, "fake_sfd: bind %s:%d: %s\n", bind_addr, port, strerror(errno));
        return 1;
    }
    socklen_t sl = sizeof(sin);
    getsockname(tcp, (struct sockaddr *)&sin, &sl);
    char addr[64];
    snprintf(addr, sizeof(addr), "%s:%d", bind_addr, ntohs(sin.sin_port));

    struct member mem[MAXC];
    int nm = 0;
    mem[nm].fd = -1;
    mem[nm].gone = false;
    snprintf(mem[nm++].line, sizeof(mem[0].line), "node name=%s addr=%s slots=1 state=alive", name,
             addr);
    int upfd = -1;
    if (join != NULL) {
        char host[64];
        snprintf(host, sizeof(host), "%s", join);
        char *c = strrchr(host, ':');
        if (c == NULL) {
            return 2;
        }
        *c = '\0';
        struct sockaddr_in j = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(c + 1))};
        inet_pton(AF_INET, host, &j.sin_addr);
        upfd = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(upfd, (struct sockaddr *)&j, sizeof(j)) != 0) {
            fprintf(stderr, "fake_sfd: join %s: %s\n", join, strerror(errno));
            return 1;
        }
        char hello[256];
        int l = snprintf(hello, sizeof(hello), "%s\n", mem[0].line);
        if (write(upfd, hello, (size_t)l) != l) {
            return 1;
        }
    }
    char sockp[108];
    if (snprintf(sockp, sizeof(sockp), "%s/sfd.sock", state) >= (int)sizeof(sockp)) {
        fprintf(stderr, "fake_sfd: state dir path too long\n");
        return 2;
    }
    unlink(sockp);
    int us = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sockp);
    if (bind(us, (struct sockaddr *)&sun, sizeof(sun)) != 0 || listen(us, 16) != 0) {
        fprintf(stderr, "fake_sfd: %s: %s\n", sockp, strerror(errno));
        return 1;
    }
    snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
    put_file(state, "sfd.pid", buf);
    snprintf(buf, sizeof(buf), "%s\n", addr);
    put_file(state, "sfd.addr", buf);

    int clients[MAXC];
    int nc = 0;
    while (!stop) {
        struct pollfd p[2 + MAXC + MAXC];
        int np = 0;
        p[np++] = (struct pollfd){tcp, POLLIN, 0};
        p[np++] = (struct pollfd){us, POLLIN, 0};
        for (int i = 0; i < nc; i++) {
            p[np++] = (struct pollfd){clients[i], POLLIN, 0};
        }
        int mbase = np;
        for (int i = 0; i < nm; i++) {
            p[np++] = (struct pollfd){mem[i].fd, POLLIN, 0};
        }
        if (poll(p, (nfds_t)np, -1) < 0) {
            continue;
        }
        if ((p[0].revents & POLLIN) && nm < MAXC) {
            int fd = accept(tcp, NULL, NULL);
            char line[256];
            ssize_t n = fd >= 0 ? read(fd, line, sizeof(line) - 1) : -1;
            if (n > 0) {
                line[n] = '\0';
                line[strcspn(line, "\n")] = '\0';
                mem[nm].fd = fd;
                mem[nm].gone = false;
                snprintf(mem[nm++].line, sizeof(mem[0].line), "%s", line);
            } else if (fd >= 0) {
                close(fd);
            }
        }
        if ((p[1].revents & POLLIN) && nc < MAXC) {
            int fd = accept(us, NULL, NULL);
            if (fd >= 0) {
                clients[nc++] = fd;
            }
        }
        for (int i = 0; i < nm; i++) {
            if (mem[i].fd >= 0 && (p[mbase + i].revents & (POLLIN | POLLHUP))) {
                char tmp[64];
                if (read(mem[i].fd, tmp, sizeof(tmp)) <= 0) {
                    close(mem[i].fd);
                    mem[i].fd = -1;
                    char *st = strstr(mem[i].line, "state=alive");
                    if (st != NULL) {
                        memcpy(st, "state=gone ", 11);
                    }
                }
            }
        }
        for (int i = 0; i < nc; i++) {
            if (!(p[2 + i].revents & (POLLIN | POLLHUP))) {
                continue;
            }
            struct sf_wire_rx rx;
            sf_wire_rx_init(&rx);
            long n = sf_wire_rx_fill(&rx, clients[i]);
            struct sf_wire_msg m;
            if (n > 0 && sf_wire_rx_next(&rx, &m) == 1 && m.op == SF_OP_STATUS_REQ) {
                char *rows[MAXC + 2];
                int nr = 0;
                char what[32];
                snprintf(what, sizeof(what), "what=%u", (unsigned)m.f[0].u);
                rows[nr++] = what;
                for (int k = 0; k < nm; k++) {
                    rows[nr++] = mem[k].line;
                }
                struct sf_wire_enc e;
                sf_wire_enc_begin(&e, SF_OP_STATUS, m.seq);
                sf_wire_put_strv(&e, rows, (size_t)nr);
                if (sf_wire_enc_end(&e) == 0) {
                    sf_wire_write_all(clients[i], e.buf, e.len);
                }
                sf_wire_enc_free(&e);
            }
            sf_wire_rx_free(&rx);
            close(clients[i]);
            clients[i--] = clients[--nc];
        }
    }
    /* SIGTERM: the orderly way out, like sfd: our rank goes too. */
    kill(rank, SIGKILL);
    unlink(sockp);
    return 0;
}
