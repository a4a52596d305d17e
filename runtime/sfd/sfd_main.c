/* sfd: the node daemon's entry point. Parses the command line, sets up the
 * event loop, the signal fd and (embedded mode) the one client socket, then
 * runs the loop until the job is done or the client is gone. The listening
 * mode (Unix socket, many clients, other daemons) is not implemented yet.
 * Single thread: everything below runs on the loop. */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "runtime/base/sf_err.h"
#include "runtime/base/sf_log.h"
#include "runtime/sfd/sfd_int.h"

static const struct sf_tun sfd_tun_items[] = {
    {"kill_grace", SF_TUN_DOUBLE, "2s",
     "time ranks get between SIGTERM and SIGKILL when a job ends",
     offsetof(struct sf_sfd_tun, kill_grace)},
    {"output_chunk", SF_TUN_SIZE, "64k", "bytes read from a rank's stdout/stderr per message",
     offsetof(struct sf_sfd_tun, output_chunk)},
    {"stdout_pty", SF_TUN_BOOL, "1",
     "give ranks a raw pseudo-terminal as stdout (line-buffered, like Open MPI); 0: a pipe",
     offsetof(struct sf_sfd_tun, stdout_pty)},
};
const struct sf_tun_table sf_sfd__tun_table = {"sfd", sfd_tun_items,
                                               sizeof(sfd_tun_items) / sizeof(sfd_tun_items[0])};

static void usage(FILE *out)
{
    fprintf(out, "usage: sfd --embedded --fd N   serve one sfrun over inherited socket N\n"
                 "       sfd --params            print tunables (SF_SFD_*)\n"
                 "       sfd --version\n"
                 "The cluster (listening) mode is not implemented yet.\n");
}

/* Reap every exited child, then let the job rules look at them. Reaping
 * the whole batch first matters: ranks that failed together all count as
 * failures, not as victims of the teardown the first one triggers. */
static void reap_children(struct sf_sfd *sfd)
{
    struct sf_sfd_job *job = sfd->job;
    bool any = false;
    for (;;) {
        int ws;
        pid_t pid = waitpid(-1, &ws, WNOHANG);
        if (pid <= 0) {
            break;
        }
        for (int i = 0; job != NULL && i < job->n; i++) {
            struct sf_sfd_rank *r = &job->ranks[i];
            if (r->pid == pid) {
                r->pid = 0; /* never signal a reaped pid: it may be reused */
                r->reaped = true;
                r->wstatus = ws;
                any = true;
                break;
            }
        }
    }
    if (job == NULL) {
        return;
    }
    /* Judge in rank order, so the lowest failed rank of a batch is first. */
    for (int i = 0; any && i < job->n; i++) {
        struct sf_sfd_rank *r = &job->ranks[i];
        if (r->reaped) {
            r->reaped = false;
            sf_sfd__job_rank_exited(job, r, r->wstatus);
        }
    }
    sf_sfd__job_check_done(job);
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
            SF_INFO("got signal %u: killing the job and exiting", si.ssi_signo);
            if (sfd->job != NULL) {
                sf_sfd__job_kill_now(sfd->job);
            }
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

int main(int argc, char **argv)
{
    bool embedded = false;
    int cfd = -1;
    sf_log_init("sfd");
    struct sf_sfd sfd_s;
    struct sf_sfd *sfd = &sfd_s;
    memset(sfd, 0, sizeof(*sfd));
    sfd->sig_fd = -1;
    sfd->next_job = 1;
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
        } else if (strcmp(a, "--params") == 0) {
            sf_tun_print(&sf_sfd__tun_table, &sfd->tun, stdout);
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
    if (!embedded || cfd < 0) {
        fprintf(stderr, "sfd: only --embedded --fd N is implemented; the cluster mode is not "
                        "yet\n");
        return 2;
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
    if (gethostname(sfd->host, sizeof(sfd->host) - 1) != 0) {
        strcpy(sfd->host, "localhost");
    }
    sf_sfd__topo_init(sfd);

    int rc = sf_loop_create(&sfd->loop);
    if (rc != 0) {
        SF_ERR("cannot create the event loop: %s", sf_strerror(rc));
        return 1;
    }
    rc = sf_loop_add_fd(sfd->loop, sfd->sig_fd, SF_LOOP_IN, on_signal, sfd);
    if (rc == 0) {
        rc = sf_sfd__client_add(sfd, cfd, &sfd->client);
    }
    if (rc != 0) {
        SF_ERR("start-up failed: %s", sf_strerror(rc));
        return 1;
    }
    rc = sf_loop_run(sfd->loop);
    if (rc != 0) {
        SF_ERR("event loop failed: %s", sf_strerror(rc));
        if (sfd->job != NULL) {
            sf_sfd__job_kill_now(sfd->job);
        }
        sfd->exit_code = 1;
    }
    if (sfd->job != NULL) {
        sf_sfd__job_free(sfd->job);
    }
    if (sfd->client != NULL) {
        sf_sfd__client_free(sfd->client);
    }
    sf_loop_del_fd(sfd->loop, sfd->sig_fd);
    close(sfd->sig_fd);
    sf_loop_destroy(sfd->loop);
    sf_sfd__topo_free(sfd);
    return sfd->exit_code;
}
