/* CRIU backend of transparent checkpoints: dump a process tree (a job
 * part's PID-namespace init and its ranks) into a directory and restore it,
 * through the project's criu binary (command line, not libcriu: the
 * distro's libcriu-dev does not match CRIU 4.2's RPC and the project CRIU
 * is a private build). dump blocks (sfd runs it on a worker thread);
 * restore_start only starts criu (sfd calls it from its loop thread).
 * Nothing here quiesces MPI traffic (runtime/rt/rt_quiesce.c does, before).
 *
 * The criu binary: $SF_CRIU if set, else the build tree's or the checkout's
 * _build/criu/sbin/criu (scripts/build-criu), /usr/local/sbin/criu, or
 * criu on PATH. criu runs under a short-lived intermediate process, so a
 * daemon reaping every child with waitpid(-1) never steals its status.
 *
 * Files in DIR besides CRIU's images:
 *   dump.log / restore.log   CRIU's logs
 *   externals                one line per descriptor that leads out of the
 *                            tree: "KEY NSPID FD" (KEY as --inherit-fd
 *                            wants it: pipe:[INO], socket:[INO],
 *                            tty[RDEV:DEV]; NSPID the process's pid inside
 *                            its namespace; FD the descriptor number)
 */
#ifndef SF_CKPT_CRIU_H
#define SF_CKPT_CRIU_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* 1 if CRIU can checkpoint here (criu found and `criu check` passes),
 * else 0 with the reason in why. */
int sf_ckpt_criu_available(char *why, size_t cap);

/* Dump the tree rooted at pid (as the caller sees it; the init of a PID
 * namespace to get the namespace too) into dir (created if absent). Unix
 * sockets to outside the tree and pseudo-terminal slaves are dumped as
 * external; pipes to outside need nothing. Writes DIR/externals. With
 * leave_running the tree continues, else it is killed. 0 or a negative
 * code with a sentence (naming CRIU's log) in err. */
int sf_ckpt_criu_dump(pid_t pid, const char *dir, bool leave_running, char *err, size_t cap);

/* A replacement for an external descriptor at restore: key as in
 * DIR/externals, fd the caller's descriptor (not consumed). */
struct sf_ckpt_criu_fd {
    const char *key;
    int fd;
};

/* Restore the tree in dir, detached, as a sibling of criu: the root's
 * parent is the calling process, and precisely the calling thread: the
 * ranks' init has a parent-death signal, which fires when that thread
 * ends (call from a thread that lives as long as the process). Every key
 * in DIR/externals must have a replacement in fds (else -ENOENT, naming
 * it). criu's exit is not waited for (the caller's reaper takes it):
 * start returns a descriptor that reaches end of file when criu is done;
 * then finish reads the root's pid (as the caller sees it), or fails. */
int sf_ckpt_criu_restore_start(const char *dir, const struct sf_ckpt_criu_fd *fds, int nfds,
                               int *done_fd, char *err, size_t cap);
int sf_ckpt_criu_restore_finish(const char *dir, pid_t *pid_out, char *err, size_t cap);
/* Both, blocking. */
int sf_ckpt_criu_restore_fds(const char *dir, const struct sf_ckpt_criu_fd *fds, int nfds,
                             pid_t *pid_out, char *err, size_t cap);
/* The same with no replacements: for trees with nothing external. */
int sf_ckpt_criu_restore(const char *dir, pid_t *pid_out, char *err, size_t cap);

/* One line of DIR/externals. */
struct sf_ckpt_criu_ext {
    char key[64];
    pid_t nspid;
    int fd;
};
/* Read DIR/externals into a malloc'd array (*out, owned by the caller).
 * The count, or a negative code. */
int sf_ckpt_criu_externals(const char *dir, struct sf_ckpt_criu_ext **out);

/* The global pid (as the caller sees it) of the process whose innermost
 * pid is nspid, among root's descendants; -ESRCH if none. */
pid_t sf_ckpt_criu_find(pid_t root, pid_t nspid);

#endif
