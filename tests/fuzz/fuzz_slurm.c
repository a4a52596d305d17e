/* Fuzz target for the Slurm task counts sfrun decodes
 * (sf_hosts_slurm_tasks, launcher/sf_hosts.c): the first byte picks how
 * many nodes are listed (0..63), the rest is SLURM_TASKS_PER_NODE. Checks
 * it never crashes, a refusal says why and leaves the slots alone, and an
 * accepted list gives every node 1..SF_HOSTS_MAX_SLOTS slots. Single-threaded. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "launcher/sf_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    int n = data[0] % 64;
    char *spec = malloc(size);
    if (spec == NULL) {
        return 0;
    }
    memcpy(spec, data + 1, size - 1);
    spec[size - 1] = '\0';
    struct sf_hostlist hl = {0};
    char err[256];
    for (int i = 1; i <= n; i++) {
        char name[16];
        snprintf(name, sizeof(name), "h%d", i);
        if (sf_hosts_parse_list(&hl, name, err, sizeof(err)) != 0) {
            abort();
        }
    }
    for (size_t i = 0; i < hl.n; i++) {
        hl.v[i].slots = 0;
    }
    err[0] = '\0';
    int rc = sf_hosts_slurm_tasks(&hl, spec, err, sizeof(err));
    for (size_t i = 0; i < hl.n; i++) {
        int s = hl.v[i].slots;
        if (rc == 0 ? (s < 1 || s > SF_HOSTS_MAX_SLOTS) : s != 0) {
            abort();
        }
    }
    if (rc != 0 && err[0] == '\0') {
        abort();
    }
    sf_hosts_free(&hl);
    free(spec);
    return 0;
}
