/* sfd: the node daemon's entry point. Parses the command line, sets up the
 * event loop and the signal fd, then either serves one sfrun on an
 * inherited socket (embedded: runs until that job is done) or listens as a
 * cluster daemon (sfd_peer.c) until SIGTERM/SIGINT. Single thread:
 * everything below runs on the loop. */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "runtime/base/sf_err.h"
#include "runtime/base/sf_log.h"
#include "dht/sf_dht.h"
#include "launcher/sfd/sfd_int.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: sfd --embedded --fd N   serve one sfrun over inherited socket N\n"
            "       sfd --listen [--state-dir DIR] [--port P] [--bind ADDR] [--name NAME]\n"
            "                    [--join HOST:PORT]... [--cluster-key FILE] [--no-autodiscover]\n"
            "                                cluster daemon (see launcher/sfd/sfd_int.h for the\n"
            "                                files in DIR; the key is created if absent)\n"
            "       sfd --params            print tunables (SF_SFD_*, SF_DHT_*)\n"
            "       sfd --version\n");
}

/* Reap every exited child, then let the job rules look at them. Reaping
 * the whole batch first matters: ranks that failed together all count as
 * failures, not as victims of the teardown the first one triggers. */
static void reap_children(struct sf_sfd *sfd)
{
    bool any = false;
    for (;;) {
        int ws;
        pid_t pid = waitpid(-1, &ws, WNOHANG);
        if (pid <= 0) {
            break;
        }
        for (struct sf_sfd_job *job = sfd->jobs; job != NULL; job = job->next) {
            for (int i = 0; i < job->n; i++) {
                struct sf_sfd_rank *r = &job->ranks[i];
                if (r->local && r->pid == pid) {
                    r->pid = 0; /* never signal a reaped pid: it may be reused */
                    r->reaped = true;
                    r->wstatus = ws;
                    any = true;
                    goto next;
                }
            }
        }
    next:;
    }
    if (!any) {
        return;
    }
    /* Judge in rank order, so the lowest failed rank of a batch is first.
     * check_done may free the job: walk with a saved next. */
    struct sf_sfd_job *job = sfd->jobs, *jn;
    for (; job != NULL; job = jn) {
        jn = job->next;
        bool mine = false;
        for (int i = 0; i < job->n; i++) {
            struct sf_sfd_rank *r = &job->ranks[i];
            if (r->reaped) {
                r->reaped = false;
                mine = true;
                sf_sfd__job_rank_exited(job, r, r->wstatus);
            }
        }
        if (mine) {
            sf_sfd__job_check_done(job);
        }
    }
}

static void kill_all_jobs(struct sf_sfd *sfd)
{
    for (struct sf_sfd_job *job = sfd->jobs; job != NULL; job = job->next) {
        sf_sfd__job_kill_now(job);
    }
}

static void on_signal(struct sf_loop *loop, int fd, int events, void *arg)
{
    struct sf_sfd *sfd = arg;
    struct signalfd_siginfo si;
    bool chld = false;
    while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGCHLD) {
            chld = true;
        } else {
            /* TERM/INT/HUP to the daemon itself (e.g. sfrun's death signal):
             * nobody is left to report to, so kill everything and leave. */
            SF_INFO("got signal %u: killing the jobs and exiting", si.ssi_signo);
            kill_all_jobs(sfd);
            sfd->exit_code = 128 + (int)si.ssi_signo;
            sf_loop_stop(loop);
            return;
        }
    }
    if (chld) {
        reap_children(sfd);
    }
}

static int parse_fd(const char *s)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || end == s || v < 0 || v > 1 << 20) {
        return -1;
    }
    return (int)v;
}

static void before_sleep(struct sf_loop *loop, void *arg)
{
    sf_sfd__clients_reap(arg);
}

int main(int argc, char **argv)
{
    bool embedded = false, listen_mode = false;
    int cfd = -1;
    sf_log_init("sfd");
    struct sf_sfd sfd_s;
    struct sf_sfd *sfd = &sfd_s;
    memset(sfd, 0, sizeof(*sfd));
    sfd->sig_fd = -1;
    sfd->unix_fd = sfd->tcp_fd = -1;
    sfd->next_job = 1;
    sfd->port = SFD_DEFAULT_PORT;
    sfd->autodiscover = true;
    if (sf_tun_load(&sf_sfd__tun_table, &sfd->tun) != 0) {
        return 1;
    }

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--embedded") == 0) {
            embedded = true;
        } else if (strcmp(a, "--fd") == 0 && i + 1 < argc) {
            cfd = parse_fd(argv[++i]);
            if (cfd < 0) {
                fprintf(stderr, "sfd: --fd needs a file descriptor number, got '%s'\n", argv[i]);
                return 2;
            }
        } else if (strcmp(a, "--listen") == 0) {
            listen_mode = true;
        } else if (strcmp(a, "--no-autodiscover") == 0) {
            sfd->autodiscover = false;
        } else if (strcmp(a, "--state-dir") == 0 && i + 1 < argc) {
            free(sfd->state_dir);
            sfd->state_dir = strdup(argv[++i]);
        } else if (strcmp(a, "--cluster-key") == 0 && i + 1 < argc) {
            sfd->key_path = argv[++i];
        } else if (strcmp(a, "--bind") == 0 && i + 1 < argc) {
            sfd->bind_addr = argv[++i];
        } else if (strcmp(a, "--name") == 0 && i + 1 < argc) {
            const char *nm = argv[++i];
            if (strlen(nm) == 0 || strlen(nm) >= sizeof(sfd->host) || strchr(nm, ' ') != NULL) {
                fprintf(stderr, "sfd: --name needs a name without spaces (< %zu chars)\n",
                        sizeof(sfd->host));
                return 2;
            }
            strcpy(sfd->host, nm);
        } else if (strcmp(a, "--port") == 0 && i + 1 < argc) {
            int p = parse_fd(argv[++i]);
            if (p < 0 || p > 65535) {
                fprintf(stderr, "sfd: --port needs a port number, got '%s'\n", argv[i]);
                return 2;
            }
            sfd->port = (uint16_t)p;
        } else if (strcmp(a, "--join") == 0 && i + 1 < argc) {
            if (strchr(argv[i + 1], ':') == NULL) {
                fprintf(stderr, "sfd: --join needs HOST:PORT, got '%s'\n", argv[i + 1]);
                return 2;
            }
            char **nv = realloc(sfd->seeds, sizeof(char *) * (size_t)(sfd->nseeds + 1));
            if (nv == NULL) {
                return 1;
            }
            sfd->seeds = nv;
            sfd->seeds[sfd->nseeds++] = argv[++i];
        } else if (strcmp(a, "--params") == 0) {
            sf_tun_print(&sf_sfd__tun_table, &sfd->tun, stdout);
            sf_sfd__fs_params(stdout); /* the block layer's (SF_FSBLK_*) */
            sf_sfd__fs_meta_params(stdout); /* the metadata's (SF_FSMETA_*) */
            struct sf_dht_config dc;
            sf_dht_config_default(&dc);
            if (sf_dht_config_load(&dc) == 0) {
                sf_tun_print(&sf_dht_tun_table, &dc, stdout); /* the daemon's DHT node */
            }
            return 0;
        } else if (strcmp(a, "--version") == 0) {
            printf("sfd (Starfish) %s\n", PACKAGE_VERSION);
            return 0;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "sfd: unknown argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (embedded == listen_mode || (embedded && cfd < 0)) {
        fprintf(stderr, "sfd: give either --embedded --fd N or --listen\n");
        usage(stderr);
        return 2;
    }
    sfd->listening = listen_mode;
    /* A cluster daemon must answer keep-alives even on a node its ranks
     * saturate (or oversubscribe): it runs a little ahead of them when the
     * system lets it (root); ranks get back the priority sfd started with. */
    errno = 0;
    int prio = getpriority(PRIO_PROCESS, 0);
    sfd->rank_nice = errno == 0 ? prio : 0;
    if (listen_mode && errno == 0 && setpriority(PRIO_PROCESS, 0, prio - 5) != 0) {
        SF_DBG("running at the ranks' priority (cannot raise it: %s)", strerror(errno));
    }
    if (listen_mode && sfd->state_dir == NULL) {
        const char *xdg = getenv("XDG_RUNTIME_DIR");
        const char *home = getenv("HOME");
        char buf[4096];
        if (xdg != NULL && xdg[0] != '\0') {
            snprintf(buf, sizeof(buf), "%s/starfish/sfd", xdg);
        } else if (home != NULL && home[0] != '\0') {
            snprintf(buf, sizeof(buf), "%s/.starfish/sfd", home);
        } else {
            fprintf(stderr, "sfd: no --state-dir, XDG_RUNTIME_DIR or HOME\n");
            return 2;
        }
        sfd->state_dir = strdup(buf);
    }

    /* A dying pipe reader must be an EPIPE we handle, not our death. */
    signal(SIGPIPE, SIG_IGN);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0) {
        perror("sfd: sigprocmask");
        return 1;
    }
    sfd->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sfd->sig_fd < 0) {
        perror("sfd: signalfd");
        return 1;
    }
    if (!listen_mode && gethostname(sfd->host, sizeof(sfd->host) - 1) != 0) {
        strcpy(sfd->host, "localhost");
    }
    sf_sfd__topo_init(sfd);

    int rc = sf_loop_create(&sfd->loop);
    if (rc != 0) {
        SF_ERR("cannot create the event loop: %s", sf_strerror(rc));
        return 1;
    }
    sf_loop_set_before_sleep(sfd->loop, before_sleep, sfd);
    rc = sf_loop_add_fd(sfd->loop, sfd->sig_fd, SF_LOOP_IN, on_signal, sfd);
    if (rc == 0) {
        rc = listen_mode ? sf_sfd__peer_start(sfd) : sf_sfd__client_add(sfd, cfd, NULL);
    }
    if (rc == 0 && listen_mode) {
        rc = sf_sfd__fs_start(sfd); /* the block store under STATE_DIR/fs */
    }
    if (rc == 0 && listen_mode) {
        rc = sf_sfd__fs_meta_start(sfd); /* metadata log under STATE_DIR/fsmeta */
    }
    if (rc != 0) {
        SF_ERR("start-up failed: %s", sf_strerror(rc));
        return 1;
    }
    rc = sf_loop_run(sfd->loop);
    if (rc != 0) {
        SF_ERR("event loop failed: %s", sf_strerror(rc));
        sfd->exit_code = 1;
    }
    kill_all_jobs(sfd);
    if (listen_mode) {
        sf_sfd__peer_stop(sfd);
        sf_sfd__fs_stop(sfd);
        sf_sfd__fs_meta_stop(sfd);
    }
    /* Replies still queued (JOB_DONE above all) go out before we leave. */
    for (struct sf_sfd_client *c = sfd->clients; c != NULL; c = c->next) {
        if (!c->dead && c->tx.off < c->tx.len) {
            sf_wire_write_all(c->fd, c->tx.buf + c->tx.off, c->tx.len - c->tx.off);
        }
    }
    while (sfd->jobs != NULL) {
        sf_sfd__job_free(sfd->jobs);
    }
    while (sfd->clients != NULL) {
        sf_sfd__client_free(sfd->clients);
    }
    sf_loop_del_fd(sfd->loop, sfd->sig_fd);
    close(sfd->sig_fd);
    sf_loop_destroy(sfd->loop);
    sf_sfd__topo_free(sfd);
    free(sfd->state_dir);
    free(sfd->sock_path);
    free(sfd->seeds);
    return sfd->exit_code;
}
