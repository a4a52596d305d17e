/* Event loop: epoll for file descriptors plus a timer heap, one thread.
 * Blocking work elsewhere comes back through sf_loop_wake (an eventfd).
 * Not thread-safe except sf_loop_wake. */
#ifndef SF_LOOP_H
#define SF_LOOP_H

#include <stdint.h>

struct sf_loop;
struct sf_timer;

enum { SF_LOOP_IN = 1, SF_LOOP_OUT = 2, SF_LOOP_HUP = 4, SF_LOOP_ERR = 8 };

typedef void (*sf_loop_fd_fn)(struct sf_loop *loop, int fd, int events, void *arg);
typedef void (*sf_loop_timer_fn)(struct sf_loop *loop, void *arg);
typedef void (*sf_loop_hook_fn)(struct sf_loop *loop, void *arg);

/* Create/destroy. destroy closes no registered fds (callers own them) and
 * frees pending timers. */
int sf_loop_create(struct sf_loop **out);
void sf_loop_destroy(struct sf_loop *loop);

/* Watch fd for SF_LOOP_IN/OUT; HUP/ERR are always reported. mod changes the
 * mask; del stops watching (safe from inside a callback, also for other
 * fds). The loop does not own fd. */
int sf_loop_add_fd(struct sf_loop *loop, int fd, int events, sf_loop_fd_fn fn, void *arg);
int sf_loop_mod_fd(struct sf_loop *loop, int fd, int events);
int sf_loop_del_fd(struct sf_loop *loop, int fd);

/* One-shot timer 'ms' milliseconds from now (monotonic). The returned handle
 * is owned by the loop and valid until the timer fires or is cancelled. */
int sf_loop_timer(struct sf_loop *loop, uint64_t ms, sf_loop_timer_fn fn, void *arg,
                  struct sf_timer **out);
void sf_loop_timer_cancel(struct sf_loop *loop, struct sf_timer *t);

/* Called before every sleep in epoll_wait. */
void sf_loop_set_before_sleep(struct sf_loop *loop, sf_loop_hook_fn fn, void *arg);

/* Run until sf_loop_stop. Returns 0 or a negative errno from epoll. */
int sf_loop_run(struct sf_loop *loop);
void sf_loop_stop(struct sf_loop *loop);

/* From any thread: make the loop call fn(arg) on its own thread soon. */
int sf_loop_wake(struct sf_loop *loop, sf_loop_hook_fn fn, void *arg);

/* Monotonic milliseconds, for timers and timeouts. */
uint64_t sf_now_ms(void);

#endif
