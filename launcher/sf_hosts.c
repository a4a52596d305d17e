/* Host lists for sfrun: `--host a,b:2,c` and Open MPI style hostfiles
 * (`host slots=N`), merged into one list of unique hosts. Parsing only:
 * placement is the daemon's. No global state, single-threaded. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "launcher/sf_int.h"

#define HOSTFILE_MAX (1u << 20)
#define HOSTNAME_MAX 253

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* Letters, digits, '.', '-', '_' (host names and IPv4 addresses). */
static bool valid_name(const char *s, size_t len)
{
    if (len == 0 || len > HOSTNAME_MAX || s[0] == '-' || s[0] == '.') {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_')) {
            return false;
        }
    }
    return true;
}

static int parse_slots(const char *s, size_t len, int *out)
{
    if (len == 0 || len > 6) {
        return -EINVAL;
    }
    int v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -EINVAL;
        }
        v = v * 10 + (s[i] - '0');
    }
    if (v < 1 || v > SF_HOSTS_MAX_SLOTS) {
        return -EINVAL;
    }
    *out = v;
    return 0;
}

static int add_host(struct sf_hostlist *hl, const char *name, size_t len, int slots)
{
    for (size_t i = 0; i < hl->n; i++) {
        if (strlen(hl->v[i].name) == len && memcmp(hl->v[i].name, name, len) == 0) {
            int sum = (hl->v[i].slots ? hl->v[i].slots : 1) + (slots ? slots : 1);
            hl->v[i].slots = sum > SF_HOSTS_MAX_SLOTS ? SF_HOSTS_MAX_SLOTS : sum;
            return 0;
        }
    }
    struct sf_host *nv = realloc(hl->v, (hl->n + 1) * sizeof(*nv));
    if (nv == NULL) {
        return -ENOMEM;
    }
    hl->v = nv;
    char *nm = strndup(name, len);
    if (nm == NULL) {
        return -ENOMEM;
    }
    hl->v[hl->n].name = nm;
    hl->v[hl->n].slots = slots;
    hl->n++;
    return 0;
}

int sf_hosts_parse_list(struct sf_hostlist *hl, const char *spec, char *err, size_t errlen)
{
    const char *p = spec;
    if (*p == '\0') {
        return fail(err, errlen, "empty host list");
    }
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        const char *colon = memchr(p, ':', len);
        size_t nlen = colon != NULL ? (size_t)(colon - p) : len;
        int slots = 0;
        if (!valid_name(p, nlen)) {
            return fail(err, errlen, "bad host name '%.*s' in '%s'", (int)nlen, p, spec);
        }
        if (colon != NULL && parse_slots(colon + 1, len - nlen - 1, &slots) != 0) {
            return fail(err, errlen, "bad slot count '%.*s' for host '%.*s' (1..%d)",
                        (int)(len - nlen - 1), colon + 1, (int)nlen, p, SF_HOSTS_MAX_SLOTS);
        }
        int rc = add_host(hl, p, nlen, slots);
        if (rc != 0) {
            fail(err, errlen, "out of memory");
            return rc;
        }
        if (end == NULL) {
            break;
        }
        p = end + 1;
    }
    return 0;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

int sf_hosts_parse_text(struct sf_hostlist *hl, const char *text, size_t len, const char *fname,
                        char *err, size_t errlen)
{
    size_t pos = 0;
    int lineno = 0;
    size_t before = hl->n;
    while (pos < len) {
        lineno++;
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t llen = nl != NULL ? (size_t)(nl - line) : len - pos;
        pos += llen + (nl != NULL);
        const char *hash = memchr(line, '#', llen);
        if (hash != NULL) {
            llen = (size_t)(hash - line);
        }
        if (memchr(line, '\0', llen) != NULL) {
            return fail(err, errlen, "%s:%d: NUL byte in line", fname, lineno);
        }
        /* Split into words. */
        size_t i = 0;
        const char *name = NULL;
        size_t nlen = 0;
        int slots = 0;
        while (i < llen) {
            while (i < llen && is_space(line[i])) {
                i++;
            }
            if (i == llen) {
                break;
            }
            const char *w = line + i;
            while (i < llen && !is_space(line[i])) {
                i++;
            }
            size_t wlen = (size_t)(line + i - w);
            if (name == NULL) {
                if (!valid_name(w, wlen)) {
                    return fail(err, errlen, "%s:%d: bad host name '%.*s'", fname, lineno,
                                (int)wlen, w);
                }
                name = w;
                nlen = wlen;
                continue;
            }
            const char *eq = memchr(w, '=', wlen);
            size_t klen = eq != NULL ? (size_t)(eq - w) : wlen;
            const char *val = eq != NULL ? eq + 1 : NULL;
            size_t vlen = eq != NULL ? wlen - klen - 1 : 0;
            int v;
            if (eq == NULL) {
                return fail(err, errlen, "%s:%d: expected key=value after the host, got '%.*s'",
                            fname, lineno, (int)wlen, w);
            }
            if (klen == 5 && memcmp(w, "slots", 5) == 0) {
                if (parse_slots(val, vlen, &v) != 0) {
                    return fail(err, errlen, "%s:%d: slots needs a number 1..%d, got '%.*s'", fname,
                                lineno, SF_HOSTS_MAX_SLOTS, (int)vlen, val);
                }
                slots = v;
            } else if ((klen == 9 &&
                        (memcmp(w, "max_slots", 9) == 0 || memcmp(w, "max-slots", 9) == 0))) {
                /* Open MPI's oversubscription cap: accepted, not enforced
                 * beyond the daemon's own oversubscribe rule. */
                if (parse_slots(val, vlen, &v) != 0) {
                    return fail(err, errlen, "%s:%d: max_slots needs a number 1..%d, got '%.*s'",
                                fname, lineno, SF_HOSTS_MAX_SLOTS, (int)vlen, val);
                }
            } else {
                return fail(err, errlen,
                            "%s:%d: unknown attribute '%.*s' (known: slots, max_slots)", fname,
                            lineno, (int)klen, w);
            }
        }
        if (name != NULL) {
            int rc = add_host(hl, name, nlen, slots);
            if (rc != 0) {
                fail(err, errlen, "out of memory");
                return rc;
            }
        }
    }
    if (hl->n == before) {
        return fail(err, errlen, "%s: no hosts in file", fname);
    }
    return 0;
}

int sf_hosts_read_file(struct sf_hostlist *hl, const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot open hostfile %s: %s", path, strerror(e));
        return -e;
    }
    char *buf = malloc(HOSTFILE_MAX + 1);
    if (buf == NULL) {
        close(fd);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, HOSTFILE_MAX + 1 - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            int e = errno;
            snprintf(err, errlen, "cannot read hostfile %s: %s", path, strerror(e));
            close(fd);
            free(buf);
            return -e;
        }
        if (n == 0) {
            break;
        }
        len += (size_t)n;
        if (len > HOSTFILE_MAX) {
            snprintf(err, errlen, "hostfile %s is larger than 1 MiB", path);
            close(fd);
            free(buf);
            return -EFBIG;
        }
    }
    close(fd);
    int rc = sf_hosts_parse_text(hl, buf, len, path, err, errlen);
    free(buf);
    return rc;
}

char *sf_hosts_format(const struct sf_hostlist *hl)
{
    size_t cap = 1;
    for (size_t i = 0; i < hl->n; i++) {
        cap += strlen(hl->v[i].name) + 16;
    }
    char *s = malloc(cap);
    if (s == NULL) {
        return NULL;
    }
    size_t off = 0;
    s[0] = '\0';
    for (size_t i = 0; i < hl->n; i++) {
        off += (size_t)snprintf(s + off, cap - off, "%s%s", i ? "," : "", hl->v[i].name);
        if (hl->v[i].slots > 0) {
            off += (size_t)snprintf(s + off, cap - off, ":%d", hl->v[i].slots);
        }
    }
    return s;
}

void sf_hosts_free(struct sf_hostlist *hl)
{
    for (size_t i = 0; i < hl->n; i++) {
        free(hl->v[i].name);
    }
    free(hl->v);
    hl->v = NULL;
    hl->n = 0;
}

/* One decimal number of at most 9 digits at *p (no sign, no blanks). */
static bool take_num(const char **p, long *v)
{
    const char *s = *p;
    long n = 0;
    int d = 0;
    while (*s >= '0' && *s <= '9' && d < 9) {
        n = n * 10 + (*s - '0');
        s++;
        d++;
    }
    if (d == 0 || (*s >= '0' && *s <= '9')) {
        return false;
    }
    *p = s;
    *v = n;
    return true;
}

int sf_hosts_slurm_tasks(struct sf_hostlist *hl, const char *spec, char *err, size_t errlen)
{
    /* Parse into a scratch array first: hl changes only when all is valid. */
    int *slots = calloc(hl->n > 0 ? hl->n : 1, sizeof(int));
    if (slots == NULL) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    size_t k = 0;
    const char *p = spec;
    int rc = 0;
    if (*p == '\0') {
        rc = fail(err, errlen, "empty task count list");
    }
    while (rc == 0 && *p != '\0') {
        long tasks, rep = 1;
        if (!take_num(&p, &tasks) || tasks < 1 || tasks > SF_HOSTS_MAX_SLOTS) {
            rc = fail(err, errlen, "bad task count at '%.32s' in '%.64s'", p, spec);
            break;
        }
        if (p[0] == '(' && p[1] == 'x') {
            p += 2;
            if (!take_num(&p, &rep) || rep < 1 || *p != ')') {
                rc = fail(err, errlen, "bad repeat '(xN)' in '%.64s'", spec);
                break;
            }
            p++;
        }
        if ((size_t)rep > hl->n - k) {
            rc = fail(err, errlen, "'%.64s' counts more nodes than the %zu listed", spec, hl->n);
            break;
        }
        for (long i = 0; i < rep; i++) {
            slots[k++] = (int)tasks;
        }
        if (*p == ',') {
            p++;
            if (*p == '\0') {
                rc = fail(err, errlen, "trailing ',' in '%.64s'", spec);
            }
        } else if (*p != '\0') {
            rc = fail(err, errlen, "unexpected '%c' in '%.64s'", *p, spec);
        }
    }
    if (rc == 0 && k != hl->n) {
        rc = fail(err, errlen, "'%.64s' counts %zu nodes, not the %zu listed", spec, k, hl->n);
    }
    if (rc == 0) {
        for (size_t i = 0; i < hl->n; i++) {
            hl->v[i].slots = slots[i];
        }
    }
    free(slots);
    return rc;
}
