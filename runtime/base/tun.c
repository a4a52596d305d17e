/* Tunables: fill a module's settings struct from its table's defaults and
 * SF_<MOD>_<NAME> environment overrides; print them for --params. Does not
 * watch the environment after load. Call from one thread at start-up. */
#include "runtime/base/sf_tun.h"

#include "runtime/base/sf_err.h"
#include "runtime/base/sf_log.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Suffix after a number: skip blanks, then compare case-insensitively. */
static const char *skip_space(const char *s)
{
    while (*s != '\0' && isspace((unsigned char)*s)) {
        s++;
    }
    return s;
}

/* Strip trailing blanks from the suffix into a small buffer. */
static int suffix_of(const char *s, char *out, size_t cap)
{
    s = skip_space(s);
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1])) {
        n--;
    }
    if (n >= cap) {
        return -EINVAL;
    }
    memcpy(out, s, n);
    out[n] = '\0';
    return 0;
}

int sf_tun_parse_size(const char *s, size_t *out)
{
    static const struct {
        const char *name;
        unsigned shift;
    } units[] = {
        {"", 0},    {"b", 0},    {"k", 10},   {"kb", 10},  {"kib", 10}, {"m", 20},
        {"mb", 20}, {"mib", 20}, {"g", 30},   {"gb", 30},  {"gib", 30}, {"t", 40},
        {"tb", 40}, {"tib", 40},
    };
    if (s == NULL) {
        return -EINVAL;
    }
    s = skip_space(s);
    /* strtoull would accept "-1" as a huge value; sizes are never signed. */
    if (!isdigit((unsigned char)*s)) {
        return -EINVAL;
    }
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0) {
        return -EINVAL;
    }
    char suf[8];
    if (suffix_of(end, suf, sizeof suf) != 0) {
        return -EINVAL;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcasecmp(suf, units[i].name) == 0) {
            unsigned shift = units[i].shift;
            if (shift > 0 && v > (SIZE_MAX >> shift)) {
                return -EINVAL;
            }
            if (v > SIZE_MAX) {
                return -EINVAL;
            }
            *out = (size_t)(v << shift);
            return 0;
        }
    }
    return -EINVAL;
}

/* A finite number with an optional time suffix, scaled to seconds. */
static int parse_scaled(const char *s, double *out, bool allow_negative)
{
    static const struct {
        const char *name;
        double scale;
    } units[] = {
        {"", 1},       {"s", 1},       {"sec", 1},  {"ms", 1e-3}, {"us", 1e-6},
        {"ns", 1e-9},  {"m", 60},      {"min", 60}, {"h", 3600},  {"hr", 3600},
    };
    if (s == NULL) {
        return -EINVAL;
    }
    s = skip_space(s);
    if (*s == '\0') {
        return -EINVAL;
    }
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (end == s || errno == ERANGE || !isfinite(v) || (!allow_negative && v < 0)) {
        return -EINVAL;
    }
    char suf[8];
    if (suffix_of(end, suf, sizeof suf) != 0) {
        return -EINVAL;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcasecmp(suf, units[i].name) == 0) {
            *out = v * units[i].scale;
            return 0;
        }
    }
    return -EINVAL;
}

int sf_tun_parse_seconds(const char *s, double *out)
{
    return parse_scaled(s, out, false);
}

static int parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"1", "yes", "true", "on", "y"};
    static const char *const no[] = {"0", "no", "false", "off", "n"};
    char w[8];
    if (s == NULL || suffix_of(s, w, sizeof w) != 0) {
        return -EINVAL;
    }
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (strcasecmp(w, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(w, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -EINVAL;
}

static int parse_int(const char *s, int *out)
{
    if (s == NULL) {
        return -EINVAL;
    }
    s = skip_space(s);
    if (*s == '\0') {
        return -EINVAL;
    }
    errno = 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || errno != 0 || v < INT_MIN || v > INT_MAX) {
        return -EINVAL;
    }
    char rest[2];
    if (suffix_of(end, rest, sizeof rest) != 0 || rest[0] != '\0') {
        return -EINVAL;
    }
    *out = (int)v;
    return 0;
}

/* Parse one value into the field; the field is written only on success. */
static int parse_into(const struct sf_tun *it, const char *s, void *dst)
{
    char *field = (char *)dst + it->offset;
    int rc = -EINVAL;
    switch (it->type) {
    case SF_TUN_INT: {
        int v;
        if ((rc = parse_int(s, &v)) == 0) {
            memcpy(field, &v, sizeof v);
        }
        break;
    }
    case SF_TUN_SIZE: {
        size_t v;
        if ((rc = sf_tun_parse_size(s, &v)) == 0) {
            memcpy(field, &v, sizeof v);
        }
        break;
    }
    case SF_TUN_DOUBLE: {
        double v;
        if ((rc = parse_scaled(s, &v, true)) == 0) {
            memcpy(field, &v, sizeof v);
        }
        break;
    }
    case SF_TUN_BOOL: {
        bool v;
        if ((rc = parse_bool(s, &v)) == 0) {
            memcpy(field, &v, sizeof v);
        }
        break;
    }
    case SF_TUN_STR:
        /* A NULL default means "unset". */
        memcpy(field, &s, sizeof s);
        rc = 0;
        break;
    }
    return rc;
}

/* "SF_" + upper(module) + "_" + upper(name); truncation is a table bug. */
static int env_name(const struct sf_tun_table *t, const struct sf_tun *it, char *out,
                    size_t cap)
{
    size_t n = 0;
    const char *parts[] = {"SF_", t->module, "_", it->name};
    for (size_t p = 0; p < 4; p++) {
        for (const char *c = parts[p]; *c != '\0'; c++) {
            if (n + 1 >= cap) {
                return -ENAMETOOLONG;
            }
            out[n++] = (char)toupper((unsigned char)*c);
        }
    }
    out[n] = '\0';
    return 0;
}

static const char *type_hint(enum sf_tun_type type)
{
    switch (type) {
    case SF_TUN_INT:
        return "an integer";
    case SF_TUN_SIZE:
        return "a size such as 4096, 64k, 16MiB or 2g";
    case SF_TUN_DOUBLE:
        return "a number, or a time such as 1.5, 500ms, 30s, 2m";
    case SF_TUN_BOOL:
        return "one of 1/0, yes/no, true/false, on/off";
    case SF_TUN_STR:
        return "a string";
    }
    return "a value";
}

int sf_tun_load(const struct sf_tun_table *t, void *dst)
{
    int ret = 0;
    for (size_t i = 0; i < t->count; i++) {
        const struct sf_tun *it = &t->items[i];
        char var[128];
        if (env_name(t, it, var, sizeof var) != 0) {
            SF_ERR("tunable name %s_%s is too long (table bug)", t->module, it->name);
            ret = SF_ERR_CONFIG;
            continue;
        }
        if (parse_into(it, it->def, dst) != 0) {
            SF_ERR("default '%s' of %s does not parse as %s (table bug)",
                   it->def ? it->def : "(null)", var, type_hint(it->type));
            ret = SF_ERR_CONFIG;
        }
        const char *env = getenv(var);
        if (env != NULL && parse_into(it, env, dst) != 0) {
            /* Keep going so every bad variable is reported in one run. */
            SF_ERR("%s='%s' is not valid: expected %s (%s); unset it to use the default %s",
                   var, env, type_hint(it->type), it->help, it->def ? it->def : "");
            ret = SF_ERR_CONFIG;
        }
    }
    return ret;
}

/* Sizes print with the largest exact binary unit so they parse back. */
static void format_value(const struct sf_tun *it, const void *src, char *out, size_t cap)
{
    const char *field = (const char *)src + it->offset;
    switch (it->type) {
    case SF_TUN_INT: {
        int v;
        memcpy(&v, field, sizeof v);
        snprintf(out, cap, "%d", v);
        break;
    }
    case SF_TUN_SIZE: {
        size_t v;
        memcpy(&v, field, sizeof v);
        static const char units[] = "kmgt";
        int u = -1;
        while (u < 3 && v != 0 && (v & 1023) == 0) {
            v >>= 10;
            u++;
        }
        if (u >= 0) {
            snprintf(out, cap, "%zu%c", v, units[u]);
        } else {
            snprintf(out, cap, "%zu", v);
        }
        break;
    }
    case SF_TUN_DOUBLE: {
        double v;
        memcpy(&v, field, sizeof v);
        snprintf(out, cap, "%g", v);
        break;
    }
    case SF_TUN_BOOL: {
        bool v;
        memcpy(&v, field, sizeof v);
        snprintf(out, cap, "%s", v ? "true" : "false");
        break;
    }
    case SF_TUN_STR: {
        const char *v;
        memcpy(&v, field, sizeof v);
        snprintf(out, cap, "%s", v ? v : "");
        break;
    }
    }
}

void sf_tun_print(const struct sf_tun_table *t, const void *src, FILE *out)
{
    int width = 0;
    char var[128], val[256];
    for (size_t i = 0; i < t->count; i++) {
        if (env_name(t, &t->items[i], var, sizeof var) != 0) {
            continue;
        }
        format_value(&t->items[i], src, val, sizeof val);
        int w = (int)(strlen(var) + 1 + strlen(val));
        if (w > width) {
            width = w;
        }
    }
    for (size_t i = 0; i < t->count; i++) {
        const struct sf_tun *it = &t->items[i];
        if (env_name(t, it, var, sizeof var) != 0) {
            continue;
        }
        format_value(it, src, val, sizeof val);
        char kv[400];
        snprintf(kv, sizeof kv, "%s=%s", var, val);
        fprintf(out, "%-*s  %s", width, kv, it->help ? it->help : "");
        /* Point out values changed from the default. */
        if (getenv(var) != NULL) {
            fprintf(out, " [default %s]", it->def ? it->def : "");
        }
        fputc('\n', out);
    }
}
