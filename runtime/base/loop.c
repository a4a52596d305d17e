/* Event loop: epoll for descriptors, a binary min-heap of one-shot timers,
 * and an eventfd plus a locked queue through which other threads hand work
 * to the loop thread. No I/O of its own beyond those; runs on one thread
 * (only sf_loop_wake may be called from others). */
#include "runtime/base/sf_loop.h"

#include "runtime/base/base_int.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

/* epoll_event.data: fd in the low 32 bits, the slot's generation in the
 * high 32, so an event that was already fetched for an fd deleted (and
 * perhaps re-added) by an earlier callback in the same batch is dropped. */
#define WAKE_TAG UINT64_MAX
#define MAX_EVENTS 64

struct fd_slot {
    sf_loop_fd_fn fn;
    void *arg;
    int events;
    uint32_t gen;
    bool used;
};

struct sf_timer {
    uint64_t deadline; /* sf_now_ms() value */
    uint64_t seq;      /* creation order: equal deadlines fire FIFO */
    size_t idx;        /* position in the heap */
    sf_loop_timer_fn fn;
    void *arg;
};

struct wake_item {
    struct wake_item *next;
    sf_loop_hook_fn fn;
    void *arg;
};

struct sf_loop {
    int epfd;
    int evfd;
    bool stop;

    struct fd_slot *fds;
    int nfds; /* slots allocated */
    uint32_t next_gen;

    struct sf_timer **heap;
    size_t nheap, heapcap;
    uint64_t next_seq;

    uint64_t (*clock)(void); /* sf_now_ms, or a test's fake clock */

    sf_loop_hook_fn before_sleep;
    void *before_sleep_arg;

    pthread_mutex_t qlock; /* guards qhead/qtail only */
    struct wake_item *qhead, *qtail;
};

uint64_t sf_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int sf_loop_create(struct sf_loop **out)
{
    struct sf_loop *l = calloc(1, sizeof *l);
    if (l == NULL) {
        return -ENOMEM;
    }
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0) {
        int rc = -errno;
        free(l);
        return rc;
    }
    l->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (l->evfd < 0) {
        int rc = -errno;
        close(l->epfd);
        free(l);
        return rc;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = WAKE_TAG};
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->evfd, &ev) != 0) {
        int rc = -errno;
        close(l->evfd);
        close(l->epfd);
        free(l);
        return rc;
    }
    pthread_mutex_init(&l->qlock, NULL);
    l->next_gen = 1;
    l->clock = sf_now_ms;
    *out = l;
    return 0;
}

void sf_base__loop_set_clock(struct sf_loop *loop, uint64_t (*clock)(void))
{
    loop->clock = clock != NULL ? clock : sf_now_ms;
}

void sf_loop_destroy(struct sf_loop *loop)
{
    if (loop == NULL) {
        return;
    }
    for (size_t i = 0; i < loop->nheap; i++) {
        free(loop->heap[i]);
    }
    free(loop->heap);
    free(loop->fds);
    /* Queued wake-ups never ran; their args stay the callers' to free. */
    struct wake_item *w = loop->qhead;
    while (w != NULL) {
        struct wake_item *next = w->next;
        free(w);
        w = next;
    }
    pthread_mutex_destroy(&loop->qlock);
    close(loop->evfd);
    close(loop->epfd);
    free(loop);
}

/* ---- descriptors ---- */

static uint32_t to_epoll(int events)
{
    uint32_t e = 0;
    if (events & SF_LOOP_IN) {
        e |= EPOLLIN;
    }
    if (events & SF_LOOP_OUT) {
        e |= EPOLLOUT;
    }
    return e; /* EPOLLHUP and EPOLLERR are always reported by the kernel */
}

static int from_epoll(uint32_t e)
{
    int ev = 0;
    if (e & (EPOLLIN | EPOLLPRI)) {
        ev |= SF_LOOP_IN;
    }
    if (e & EPOLLOUT) {
        ev |= SF_LOOP_OUT;
    }
    if (e & (EPOLLHUP | EPOLLRDHUP)) {
        ev |= SF_LOOP_HUP;
    }
    if (e & EPOLLERR) {
        ev |= SF_LOOP_ERR;
    }
    return ev;
}

static struct fd_slot *slot_of(struct sf_loop *loop, int fd)
{
    if (fd < 0 || fd >= loop->nfds || !loop->fds[fd].used) {
        return NULL;
    }
    return &loop->fds[fd];
}

int sf_loop_add_fd(struct sf_loop *loop, int fd, int events, sf_loop_fd_fn fn, void *arg)
{
    if (fd < 0 || fn == NULL) {
        return -EINVAL;
    }
    if (slot_of(loop, fd) != NULL) {
        return -EEXIST;
    }
    if (fd >= loop->nfds) {
        int n = loop->nfds ? loop->nfds : 64;
        while (n <= fd) {
            if (n > INT_MAX / 2) {
                return -EINVAL;
            }
            n *= 2;
        }
        struct fd_slot *s = realloc(loop->fds, (size_t)n * sizeof *s);
        if (s == NULL) {
            return -ENOMEM;
        }
        memset(s + loop->nfds, 0, (size_t)(n - loop->nfds) * sizeof *s);
        loop->fds = s;
        loop->nfds = n;
    }
    uint32_t gen = loop->next_gen++;
    if (loop->next_gen == 0) {
        loop->next_gen = 1;
    }
    struct epoll_event ev = {.events = to_epoll(events),
                             .data.u64 = ((uint64_t)gen << 32) | (uint32_t)fd};
    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        return -errno;
    }
    loop->fds[fd] = (struct fd_slot){.fn = fn, .arg = arg, .events = events, .gen = gen,
                                     .used = true};
    return 0;
}

int sf_loop_mod_fd(struct sf_loop *loop, int fd, int events)
{
    struct fd_slot *s = slot_of(loop, fd);
    if (s == NULL) {
        return -ENOENT;
    }
    struct epoll_event ev = {.events = to_epoll(events),
                             .data.u64 = ((uint64_t)s->gen << 32) | (uint32_t)fd};
    if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) != 0) {
        return -errno;
    }
    s->events = events;
    return 0;
}

int sf_loop_del_fd(struct sf_loop *loop, int fd)
{
    struct fd_slot *s = slot_of(loop, fd);
    if (s == NULL) {
        return -ENOENT;
    }
    /* The caller may already have closed fd (epoll then dropped it on its
     * own): forget the slot whatever epoll_ctl says. */
    int rc = 0;
    if (epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL) != 0 && errno != EBADF &&
        errno != ENOENT) {
        rc = -errno;
    }
    s->used = false;
    s->fn = NULL;
    return rc;
}

/* ---- timers ---- */

static bool timer_before(const struct sf_timer *a, const struct sf_timer *b)
{
    return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static void heap_set(struct sf_loop *loop, size_t i, struct sf_timer *t)
{
    loop->heap[i] = t;
    t->idx = i;
}

static void sift_up(struct sf_loop *loop, size_t i)
{
    struct sf_timer *t = loop->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!timer_before(t, loop->heap[parent])) {
            break;
        }
        heap_set(loop, i, loop->heap[parent]);
        i = parent;
    }
    heap_set(loop, i, t);
}

static void sift_down(struct sf_loop *loop, size_t i)
{
    struct sf_timer *t = loop->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= loop->nheap) {
            break;
        }
        if (c + 1 < loop->nheap && timer_before(loop->heap[c + 1], loop->heap[c])) {
            c++;
        }
        if (!timer_before(loop->heap[c], t)) {
            break;
        }
        heap_set(loop, i, loop->heap[c]);
        i = c;
    }
    heap_set(loop, i, t);
}

static void heap_remove(struct sf_loop *loop, size_t i)
{
    loop->nheap--;
    if (i == loop->nheap) {
        return;
    }
    struct sf_timer *moved = loop->heap[loop->nheap];
    heap_set(loop, i, moved);
    /* The last element may belong above or below the hole. */
    sift_down(loop, i);
    sift_up(loop, moved->idx);
}

int sf_loop_timer(struct sf_loop *loop, uint64_t ms, sf_loop_timer_fn fn, void *arg,
                  struct sf_timer **out)
{
    if (fn == NULL) {
        return -EINVAL;
    }
    if (loop->nheap == loop->heapcap) {
        size_t n = loop->heapcap ? loop->heapcap * 2 : 16;
        struct sf_timer **h = realloc(loop->heap, n * sizeof *h);
        if (h == NULL) {
            return -ENOMEM;
        }
        loop->heap = h;
        loop->heapcap = n;
    }
    struct sf_timer *t = malloc(sizeof *t);
    if (t == NULL) {
        return -ENOMEM;
    }
    uint64_t now = loop->clock();
    t->deadline = ms > UINT64_MAX - now ? UINT64_MAX : now + ms;
    t->seq = loop->next_seq++;
    t->fn = fn;
    t->arg = arg;
    loop->heap[loop->nheap] = t;
    t->idx = loop->nheap++;
    sift_up(loop, t->idx);
    if (out != NULL) {
        *out = t;
    }
    return 0;
}

void sf_loop_timer_cancel(struct sf_loop *loop, struct sf_timer *t)
{
    if (t == NULL || t->idx >= loop->nheap || loop->heap[t->idx] != t) {
        return;
    }
    heap_remove(loop, t->idx);
    free(t);
}

/* Fire due timers. Timers created by these callbacks wait for the next
 * pass, so a callback re-arming itself with 0 ms cannot starve the fds. */
static void run_timers(struct sf_loop *loop)
{
    if (loop->nheap == 0) {
        return;
    }
    uint64_t now = loop->clock();
    uint64_t seq_limit = loop->next_seq;
    while (loop->nheap > 0 && !loop->stop) {
        struct sf_timer *t = loop->heap[0];
        if (t->deadline > now || t->seq >= seq_limit) {
            break;
        }
        heap_remove(loop, 0);
        sf_loop_timer_fn fn = t->fn;
        void *arg = t->arg;
        free(t); /* the handle dies when the timer fires, as documented */
        fn(loop, arg);
    }
}

static int next_timeout(struct sf_loop *loop)
{
    if (loop->nheap == 0) {
        return -1;
    }
    uint64_t now = loop->clock();
    uint64_t d = loop->heap[0]->deadline;
    if (d <= now) {
        return 0;
    }
    return d - now > INT_MAX ? INT_MAX : (int)(d - now);
}

/* ---- wake-ups from other threads ---- */

int sf_loop_wake(struct sf_loop *loop, sf_loop_hook_fn fn, void *arg)
{
    struct wake_item *w = malloc(sizeof *w);
    if (w == NULL) {
        return -ENOMEM;
    }
    w->next = NULL;
    w->fn = fn;
    w->arg = arg;
    pthread_mutex_lock(&loop->qlock);
    if (loop->qtail != NULL) {
        loop->qtail->next = w;
    } else {
        loop->qhead = w;
    }
    loop->qtail = w;
    pthread_mutex_unlock(&loop->qlock);
    uint64_t one = 1;
    /* EAGAIN only if the counter is about to overflow: the loop will
     * still see it readable and drain the queue. */
    for (;;) {
        ssize_t n = write(loop->evfd, &one, sizeof one);
        if (n == (ssize_t)sizeof one || (n < 0 && errno == EAGAIN)) {
            return 0;
        }
        if (n < 0 && errno != EINTR) {
            return -errno;
        }
    }
}

static void run_wakeups(struct sf_loop *loop)
{
    uint64_t cnt;
    while (read(loop->evfd, &cnt, sizeof cnt) < 0 && errno == EINTR) {
    }
    pthread_mutex_lock(&loop->qlock);
    struct wake_item *w = loop->qhead;
    loop->qhead = loop->qtail = NULL;
    pthread_mutex_unlock(&loop->qlock);
    while (w != NULL) {
        struct wake_item *next = w->next;
        if (w->fn != NULL) {
            w->fn(loop, w->arg);
        }
        free(w);
        w = next;
    }
}

/* ---- running ---- */

void sf_loop_set_before_sleep(struct sf_loop *loop, sf_loop_hook_fn fn, void *arg)
{
    loop->before_sleep = fn;
    loop->before_sleep_arg = arg;
}

void sf_loop_stop(struct sf_loop *loop)
{
    loop->stop = true;
}

int sf_loop_run(struct sf_loop *loop)
{
    struct epoll_event evs[MAX_EVENTS];
    loop->stop = false;
    while (!loop->stop) {
        run_timers(loop);
        if (loop->stop) {
            break;
        }
        if (loop->before_sleep != NULL) {
            loop->before_sleep(loop, loop->before_sleep_arg);
            if (loop->stop) {
                break;
            }
        }
        int n = epoll_wait(loop->epfd, evs, MAX_EVENTS, next_timeout(loop));
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        for (int i = 0; i < n && !loop->stop; i++) {
            uint64_t tag = evs[i].data.u64;
            if (tag == WAKE_TAG) {
                run_wakeups(loop);
                continue;
            }
            int fd = (int)(uint32_t)tag;
            uint32_t gen = (uint32_t)(tag >> 32);
            struct fd_slot *s = slot_of(loop, fd);
            if (s == NULL || s->gen != gen) {
                continue; /* deleted by an earlier callback in this batch */
            }
            int ev = from_epoll(evs[i].events) & (s->events | SF_LOOP_HUP | SF_LOOP_ERR);
            if (ev != 0) {
                s->fn(loop, fd, ev, s->arg);
            }
        }
    }
    return 0;
}
