/* Rank placement: which node runs which rank, from the nodes' published
 * slots and the job's options (map-by, npernode, hosts). A pure function:
 * no daemon state, no I/O, so the Check suite tests it directly. It does
 * not decide binding within a node (sfd_spawn.c does). Any thread. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/base/sf_err.h"
#include "launcher/sfd/sfd_int.h"

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
    if (err != NULL && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* A node matches a host entry by its full name, or by the part before the
 * ':' of a "host:port" name. */
static int find_node(const struct sf_sfd_place_node *nodes, int nnodes, const char *h, size_t hl)
{
    for (int i = 0; i < nnodes; i++) {
        if (strlen(nodes[i].name) == hl && memcmp(nodes[i].name, h, hl) == 0) {
            return i;
        }
    }
    int found = -1;
    for (int i = 0; i < nnodes; i++) {
        const char *c = strrchr(nodes[i].name, ':');
        if (c != NULL && (size_t)(c - nodes[i].name) == hl && memcmp(nodes[i].name, h, hl) == 0) {
            if (found >= 0) {
                return -2; /* ambiguous */
            }
            found = i;
        }
    }
    return found;
}

int sf_sfd__place(const struct sf_sfd_place_node *nodes, int nnodes,
                  const struct sf_sfd_place_req *req, int *rank_node, char *err, size_t errlen)
{
    if (req->n < 1) {
        return fail(err, errlen, -EINVAL, "bad number of ranks %d", req->n);
    }
    if (nnodes < 1) {
        return fail(err, errlen, -EINVAL, "no nodes to place ranks on");
    }
    /* Candidates in order, with the slots this job may use on each. */
    int *cand = calloc((size_t)nnodes, sizeof(int));
    int *slots = calloc((size_t)nnodes, sizeof(int));
    int *used = calloc((size_t)nnodes, sizeof(int));
    int ncand = 0, rc = 0;
    if (cand == NULL || slots == NULL || used == NULL) {
        rc = fail(err, errlen, -ENOMEM, "out of memory");
        goto out;
    }
    if (req->hosts != NULL && req->hosts[0] != '\0') {
        const char *p = req->hosts;
        while (*p != '\0') {
            const char *end = strchrnul(p, ',');
            const char *colon = NULL; /* the last ':' of the entry */
            for (const char *q = p; q < end; q++) {
                if (*q == ':') {
                    colon = q;
                }
            }
            int want = -1;
            size_t hl = (size_t)(end - p);
            if (colon != NULL) {
                /* "name:N" gives slots; a node named "host:port" is matched
                 * by its full name first. */
                int whole = find_node(nodes, nnodes, p, hl);
                if (whole >= 0) {
                    colon = NULL;
                } else {
                    char *e;
                    long v = strtol(colon + 1, &e, 10);
                    if (e != end || v < 1 || v > 1 << 20) {
                        rc = fail(err, errlen, -EINVAL, "bad slot count in host entry '%.*s'",
                                  (int)hl, p);
                        goto out;
                    }
                    want = (int)v;
                    hl = (size_t)(colon - p);
                }
            }
            if (hl == 0) {
                rc = fail(err, errlen, -EINVAL, "empty host name in the host list");
                goto out;
            }
            int i = find_node(nodes, nnodes, p, hl);
            if (i == -2) {
                rc = fail(err, errlen, -EINVAL,
                          "host '%.*s' matches several nodes: use the node's full name", (int)hl,
                          p);
                goto out;
            }
            if (i < 0) {
                rc = fail(err, errlen, -ENOENT, "host '%.*s' is not a live node of the cluster",
                          (int)hl, p);
                goto out;
            }
            int k;
            for (k = 0; k < ncand && cand[k] != i; k++) {
            }
            if (k == ncand) {
                cand[ncand++] = i;
                slots[k] = 0;
            }
            /* Repeating a host adds its slots again (as a host file can). */
            slots[k] += want > 0 ? want : (nodes[i].slots > 0 ? nodes[i].slots : 1);
            p = *end == ',' ? end + 1 : end;
        }
    } else {
        for (int i = 0; i < nnodes; i++) {
            cand[ncand] = i;
            slots[ncand] = nodes[i].slots > 0 ? nodes[i].slots : 1;
            ncand++;
        }
    }
    if (ncand == 0) {
        rc = fail(err, errlen, -EINVAL, "the host list names no node");
        goto out;
    }
    long total = 0;
    for (int k = 0; k < ncand; k++) {
        total += slots[k];
    }
    if (req->npernode > 0) {
        if ((long)req->npernode * ncand < req->n) {
            rc = fail(err, errlen, -ENOSPC,
                      "%d ranks do not fit %d per node on %d node%s", req->n, req->npernode,
                      ncand, ncand == 1 ? "" : "s");
            goto out;
        }
        if (!req->oversubscribe) {
            for (int k = 0; k < ncand; k++) {
                if (req->npernode > slots[k]) {
                    rc = fail(err, errlen, -ENOSPC,
                              "not enough slots: %d ranks per node but node %s has %d",
                              req->npernode, nodes[cand[k]].name, slots[k]);
                    goto out;
                }
            }
        }
        for (int r = 0; r < req->n; r++) {
            rank_node[r] = cand[r / req->npernode];
        }
        goto out;
    }
    if (req->n > total && !req->oversubscribe) {
        rc = fail(err, errlen, -ENOSPC,
                  "not enough slots: %d ranks requested but %ld slot%s on %d node%s", req->n,
                  total, total == 1 ? "" : "s", ncand, ncand == 1 ? "" : "s");
        goto out;
    }
    if (req->map_by_node) {
        /* Round-robin, skipping full nodes; when all are full start over
         * (oversubscription). */
        int k = 0;
        for (int r = 0; r < req->n; r++) {
            bool room = false;
            for (int j = 0; j < ncand; j++) {
                if (used[j] < slots[j]) {
                    room = true;
                    break;
                }
            }
            if (!room) {
                memset(used, 0, sizeof(int) * (size_t)ncand);
            }
            while (used[k] >= slots[k]) {
                k = (k + 1) % ncand;
            }
            rank_node[r] = cand[k];
            used[k]++;
            k = (k + 1) % ncand;
        }
    } else {
        /* Fill node after node; beyond the total, wrap around in the same
         * pattern so extra ranks spread like the first ones. */
        int k = 0;
        for (int r = 0; r < req->n; r++) {
            if (used[k] >= slots[k]) {
                k++;
                if (k == ncand) {
                    k = 0;
                    memset(used, 0, sizeof(int) * (size_t)ncand);
                }
            }
            rank_node[r] = cand[k];
            used[k]++;
        }
    }
out:
    free(cand);
    free(slots);
    free(used);
    return rc;
}
