/* Tunables: each module declares one table (name, type, default, help);
 * every entry can be overridden from the environment as SF_<MOD>_<NAME>
 * (upper-cased). Read once at start-up, then plain struct fields. */
#ifndef SF_TUN_H
#define SF_TUN_H

#include <stddef.h>
#include <stdio.h>

enum sf_tun_type { SF_TUN_INT, SF_TUN_SIZE, SF_TUN_DOUBLE, SF_TUN_BOOL, SF_TUN_STR };

struct sf_tun {
    const char *name;      /* lower-case, e.g. "eager_limit" */
    enum sf_tun_type type;
    const char *def;       /* default, as text, parsed like the env value */
    const char *help;      /* one line */
    size_t offset;         /* offsetof() of the field in the module's struct */
};

/* A module's table. */
struct sf_tun_table {
    const char *module;    /* e.g. "net" -> SF_NET_EAGER_LIMIT */
    const struct sf_tun *items;
    size_t count;
};

/* Fill the struct at 'dst' from defaults then SF_<MOD>_<NAME> overrides.
 * Field types: SF_TUN_INT int, SF_TUN_SIZE size_t (accepts k/m/g suffixes),
 * SF_TUN_DOUBLE double (accepts ms/s/us suffixes when used for times),
 * SF_TUN_BOOL bool (1/0/yes/no/true/false/on/off), SF_TUN_STR const char *
 * (points into the environment or the default; not owned).
 * Returns 0, or SF_ERR_CONFIG after logging which variable was bad. */
int sf_tun_load(const struct sf_tun_table *t, void *dst);

/* Print "SF_MOD_NAME=value  help" lines for --params. */
void sf_tun_print(const struct sf_tun_table *t, const void *src, FILE *out);

/* Parsers shared with command-line flags; 0 or -EINVAL. */
int sf_tun_parse_size(const char *s, size_t *out);
int sf_tun_parse_seconds(const char *s, double *out); /* "30", "30s", "500ms", "2m" */

#endif
