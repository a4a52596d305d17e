/* Fuzz target for sfrun's host lists (launcher/sf_hosts.c): the input is
 * a hostfile, and its first line also a --host list. Checks that parsing
 * never crashes, that errors leave a message, and that a parsed list
 * survives format -> parse unchanged. Single-threaded. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "launcher/sf_int.h"

static void same_after_roundtrip(const struct sf_hostlist *hl)
{
    char *s = sf_hosts_format(hl);
    if (s == NULL) {
        return;
    }
    struct sf_hostlist again = {0};
    char err[256];
    if (sf_hosts_parse_list(&again, s, err, sizeof(err)) != 0 || again.n != hl->n) {
        abort();
    }
    for (size_t i = 0; i < hl->n; i++) {
        if (strcmp(again.v[i].name, hl->v[i].name) != 0 || again.v[i].slots != hl->v[i].slots) {
            abort();
        }
    }
    sf_hosts_free(&again);
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sf_hostlist hl = {0};
    char err[256];
    err[0] = '\0';
    int rc = sf_hosts_parse_text(&hl, (const char *)data, size, "fuzz", err, sizeof(err));
    if (rc != 0 && err[0] == '\0') {
        abort(); /* every refusal says why */
    }
    if (rc == 0) {
        same_after_roundtrip(&hl);
    }
    sf_hosts_free(&hl);

    const uint8_t *nl = memchr(data, '\n', size);
    size_t l = nl != NULL ? (size_t)(nl - data) : size;
    char *spec = malloc(l + 1);
    if (spec == NULL) {
        return 0;
    }
    memcpy(spec, data, l);
    spec[l] = '\0';
    if (strlen(spec) == l) {
        err[0] = '\0';
        rc = sf_hosts_parse_list(&hl, spec, err, sizeof(err));
        if (rc != 0 && err[0] == '\0') {
            abort();
        }
        if (rc == 0) {
            same_after_roundtrip(&hl);
        }
        sf_hosts_free(&hl);
    }
    free(spec);
    return 0;
}
