/* MPI_THREAD_MULTIPLE: one process-wide critical section around the MPI
 * layer. Every binding enters it (SF_MPI_ENTER); wait loops leave it
 * between progress passes (sf_mpi__idle). A FIFO ticket lock, so a thread
 * that re-enters at once (a loop of MPI_Test) queues behind the others.
 * Below MULTIPLE nothing here runs (sf_mpi__mt is false). Any thread. */
#include "config.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "mpi-shim/shim_int.h"
#include "runtime/base/sf_tun.h"

bool sf_mpi__mt;

/* Ticket lock: 'next' is the ticket the next arrival draws, 'serving' the
 * one that may hold the section. Both guarded by m. */
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static unsigned long next, serving;
/* Depth of this thread's nesting (a callback of ours calling MPI): only
 * the outermost entry takes and gives back the section. */
static __thread unsigned depth;

static void acquire(void)
{
    pthread_mutex_lock(&m);
    unsigned long t = next++;
    while (t != serving) {
        pthread_cond_wait(&cv, &m);
    }
    pthread_mutex_unlock(&m);
}

static void release(void)
{
    pthread_mutex_lock(&m);
    serving++;
    if (next != serving) {
        pthread_cond_broadcast(&cv);
    }
    pthread_mutex_unlock(&m);
}

void sf_mpi__lk_enter_mt(void)
{
    if (depth++ == 0) {
        acquire();
    }
}

void sf_mpi__lk_leave_mt(void)
{
    if (--depth == 0) {
        release();
    }
}

void sf_mpi__idle_mt(unsigned idle)
{
    /* A nested call (inside a user callback) keeps the section: the outer
     * call's state is not at a point where others may come in. */
    if (depth != 1) {
        if (idle > 0) {
            sf_rt_idle(sf_mpi__st.rt, idle);
        }
        return;
    }
    release();
    if (idle > 0) {
        sf_rt_idle(sf_mpi__st.rt, idle);
    }
    acquire();
}

void sf_mpi__coll_idle(struct sf_rt *rt, unsigned idle)
{
    (void)rt;
    sf_mpi__idle(idle);
}

int sf_mpi__rt_wait(struct sf_rt_req *r)
{
    if (!sf_mpi__mt) {
        return sf_rt_wait(sf_mpi__st.rt, r);
    }
    unsigned idle = 0;
    while (!r->complete) {
        int n = sf_rt_progress(sf_mpi__st.rt);
        if (n < 0) {
            return n;
        }
        if (!r->complete) {
            sf_mpi__idle(n == 0 ? ++idle : (idle = 0));
        }
    }
    return 0;
}

/* SF_MPI_THREAD_LEVEL caps what MPI_Init_thread provides. */
struct mpi_tun {
    const char *thread_level;
};
static const struct sf_tun mpi_tun_items[] = {
    {"thread_level", SF_TUN_STR, "serialized",
     "highest thread level MPI_Init_thread provides: single, funneled, serialized or multiple",
     offsetof(struct mpi_tun, thread_level)},
};
static const struct sf_tun_table mpi_tun_table = {"mpi", mpi_tun_items, 1};

int sf_mpi__thread_cap(void)
{
    static const char *const names[] = {"single", "funneled", "serialized", "multiple"};
    struct mpi_tun t;
    if (sf_tun_load(&mpi_tun_table, &t) != 0 || t.thread_level == NULL) {
        return MPI_THREAD_SERIALIZED;
    }
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(t.thread_level, names[i]) == 0) {
            return MPI_THREAD_SINGLE + i;
        }
    }
    return MPI_THREAD_SERIALIZED;
}
