/* Starfish logging: levels checked before formatting, lines tagged with the
 * process role (sfd/sfrun/rank N). Level from SF_LOG_LEVEL (err, warn, info,
 * dbg or 0-3). Thread-safe: one write(2) per line to stderr. */
#ifndef SF_LOG_H
#define SF_LOG_H

#include <stdbool.h>

enum sf_log_level { SF_LOG_ERR = 0, SF_LOG_WARN = 1, SF_LOG_INFO = 2, SF_LOG_DBG = 3 };

extern int sf_log_level; /* current level; read SF_LOG_LEVEL via sf_log_init */

/* Set the tag printed on every line (e.g. "sfd", "rank 3") and read
 * SF_LOG_LEVEL. The string is copied. Safe to call again (e.g. after fork). */
void sf_log_init(const char *tag);
void sf_log_write(int level, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define SF_LOG_(lvl, ...)                                           \
    do {                                                            \
        if ((lvl) <= sf_log_level) {                                \
            sf_log_write((lvl), __FILE__, __LINE__, __VA_ARGS__);   \
        }                                                           \
    } while (0)
#define SF_ERR(...) SF_LOG_(SF_LOG_ERR, __VA_ARGS__)
#define SF_WARN(...) SF_LOG_(SF_LOG_WARN, __VA_ARGS__)
#define SF_INFO(...) SF_LOG_(SF_LOG_INFO, __VA_ARGS__)
#define SF_DBG(...) SF_LOG_(SF_LOG_DBG, __VA_ARGS__)

/* Once per call site per process. */
#define SF_WARN_ONCE(...)                                           \
    do {                                                            \
        static bool sf_once_;                                       \
        if (!__atomic_exchange_n(&sf_once_, true, __ATOMIC_RELAXED)) { \
            SF_WARN(__VA_ARGS__);                                   \
        }                                                           \
    } while (0)
/* At most once per second per call site: for conditions that can repeat
 * at line rate (dropped packets). */
#define SF_WARN_SPARSE(...)                                         \
    do {                                                            \
        static long sf_sparse_;                                     \
        if (sf_log_sparse_ok(&sf_sparse_)) {                        \
            SF_WARN(__VA_ARGS__);                                   \
        }                                                           \
    } while (0)
bool sf_log_sparse_ok(long *last_second);

#endif
