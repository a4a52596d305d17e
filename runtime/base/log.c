/* Logging: level filter, line formatting, one write(2) per line to stderr.
 * Does not buffer, rotate or send logs anywhere else. Any thread may log;
 * sf_log_init should run before other threads start (and again after fork). */
#include "runtime/base/sf_log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* Line layout (stable; tests and users grep it):
 *   "[<tag>@<host>:<pid>] <level>: <text>\n"
 * with " (<file>:<line>)" appended before the newline when the level is
 * dbg, so ordinary users see clean messages and developers get locations. */

int sf_log_level = SF_LOG_WARN;

static char log_tag[64] = "starfish";
static char log_host[64] = "";

static const char *const level_names[] = {"error", "warning", "info", "debug"};

static int parse_level(const char *s)
{
    static const char *const names[][3] = {
        {"err", "error", "0"},
        {"warn", "warning", "1"},
        {"info", "2", NULL},
        {"dbg", "debug", "3"},
    };
    for (int lvl = 0; lvl < 4; lvl++) {
        for (int k = 0; k < 3 && names[lvl][k] != NULL; k++) {
            if (strcasecmp(s, names[lvl][k]) == 0) {
                return lvl;
            }
        }
    }
    return -1;
}

void sf_log_init(const char *tag)
{
    if (tag != NULL && tag[0] != '\0') {
        snprintf(log_tag, sizeof log_tag, "%s", tag);
    }
    /* The daemon tells ranks which node name to show; otherwise ask the
     * kernel and keep the short name. */
    const char *h = getenv("SF_HOSTNAME");
    if (h != NULL && h[0] != '\0') {
        snprintf(log_host, sizeof log_host, "%s", h);
    } else if (gethostname(log_host, sizeof log_host) != 0) {
        snprintf(log_host, sizeof log_host, "?");
    }
    log_host[sizeof log_host - 1] = '\0';
    char *dot = strchr(log_host, '.');
    if (dot != NULL && dot != log_host) {
        *dot = '\0';
    }

    const char *lv = getenv("SF_LOG_LEVEL");
    if (lv != NULL && lv[0] != '\0') {
        int l = parse_level(lv);
        if (l >= 0) {
            sf_log_level = l;
        } else {
            sf_log_level = SF_LOG_WARN;
            SF_WARN("SF_LOG_LEVEL='%s' is not a log level; use err, warn, info, dbg "
                    "or 0-3 (keeping warn)",
                    lv);
        }
    }
}

void sf_log_write(int level, const char *file, int line, const char *fmt, ...)
{
    int saved_errno = errno; /* callers often log, then inspect errno */
    char buf[2048];
    size_t cap = sizeof buf - 1; /* room for the newline */
    if (level < 0) {
        level = 0;
    }
    if (level > SF_LOG_DBG) {
        level = SF_LOG_DBG;
    }
    if (log_host[0] == '\0') {
        /* Logging before sf_log_init: still say where we are. */
        if (gethostname(log_host, sizeof log_host) != 0) {
            log_host[0] = '?';
        }
        log_host[sizeof log_host - 1] = '\0';
        char *dot = strchr(log_host, '.');
        if (dot != NULL && dot != log_host) {
            *dot = '\0';
        }
    }

    int n = snprintf(buf, cap, "[%s@%s:%ld] %s: ", log_tag, log_host, (long)getpid(),
                     level_names[level]);
    size_t len = n < 0 ? 0 : ((size_t)n < cap ? (size_t)n : cap - 1);

    va_list ap;
    va_start(ap, fmt);
    n = vsnprintf(buf + len, cap - len, fmt, ap);
    va_end(ap);
    if (n > 0) {
        if ((size_t)n < cap - len) {
            len += (size_t)n;
        } else {
            len = cap - 1;
            memcpy(buf + len - 3, "...", 3); /* say that it was cut */
        }
    }
    /* Drop trailing newlines from the caller: we add exactly one. */
    while (len > 0 && buf[len - 1] == '\n') {
        len--;
    }
    if (level == SF_LOG_DBG && file != NULL && len < cap) {
        const char *base = strrchr(file, '/');
        n = snprintf(buf + len, cap - len, " (%s:%d)", base ? base + 1 : file, line);
        if (n > 0) {
            len += (size_t)n < cap - len ? (size_t)n : cap - len - 1;
        }
    }
    buf[len++] = '\n';

    /* One write per line so lines from threads and processes sharing the
     * descriptor do not interleave. Short writes on a pipe are retried. */
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(STDERR_FILENO, buf + off, len - off);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        off += (size_t)w;
    }
    errno = saved_errno;
}

bool sf_log_sparse_ok(long *last_second)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    long now = (long)ts.tv_sec + 1; /* +1: 0 means "never logged" */
    long prev = __atomic_load_n(last_second, __ATOMIC_RELAXED);
    if (prev == now) {
        return false;
    }
    /* Only the thread that moves the stamp forward logs. */
    return __atomic_compare_exchange_n(last_second, &prev, now, false, __ATOMIC_RELAXED,
                                       __ATOMIC_RELAXED);
}
