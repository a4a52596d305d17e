/* Which repair work falls to this node after a membership change: a thin,
 * pure layer over fs/ sf_fs_repair_plan that fixes the holders (old
 * placement plus this node) and turns "surplus" into "push to every target,
 * then drop". No I/O, no allocation; any thread. */
#include <string.h>

#include "launcher/sfd/sfd_fs_plan.h"

struct plan_one {
    const struct sf_dht_id *self, *new_nodes;
    size_t n_new;
    struct sf_sfd_fs_task t;
    bool any, surplus;
    uint64_t lost;
};

static bool same(const struct sf_dht_id *a, const struct sf_dht_id *b)
{
    return memcmp(a->b, b->b, SF_DHT_ID_LEN) == 0;
}

static void add_dst(struct sf_sfd_fs_task *t, size_t idx)
{
    for (int i = 0; i < t->ndst; i++) {
        if (t->dst[i] == idx) {
            return;
        }
    }
    if (t->ndst < SF_FS_R_MAX) {
        t->dst[t->ndst++] = idx;
    }
}

static void on_action(void *arg, enum sf_fs_repair_kind kind, size_t block,
                      const struct sf_dht_id *src, const struct sf_dht_id *dst)
{
    (void)block;
    struct plan_one *p = arg;
    if (kind == SF_FS_REPAIR_LOST) {
        p->lost++;
        return;
    }
    if (src == NULL || !same(src, p->self)) {
        return; /* another node's part */
    }
    if (kind == SF_FS_REPAIR_SURPLUS) {
        p->surplus = true;
        return;
    }
    for (size_t i = 0; i < p->n_new; i++) {
        if (same(&p->new_nodes[i], dst)) {
            add_dst(&p->t, i);
            p->any = true;
            return;
        }
    }
}

int sf_sfd__fs_plan(const struct sf_dht_id *self, const struct sf_dht_id *old_nodes, size_t n_old,
                    const struct sf_dht_id *new_nodes, size_t n_new,
                    const struct sf_fs_block_id *ids, size_t n, const uint8_t *rs, int r,
                    bool no_drop, sf_sfd_fs_task_fn cb, void *arg, uint64_t *lost)
{
    if (self == NULL || cb == NULL || r < 1 || r > SF_FS_R_MAX || (n > 0 && ids == NULL)) {
        return -EINVAL;
    }
    for (size_t b = 0; rs != NULL && b < n; b++) {
        if (rs[b] > SF_FS_R_MAX) {
            return -EINVAL;
        }
    }
    int r_default = r;
    for (size_t b = 0; b < n; b++) {
        r = rs != NULL && rs[b] != 0 ? rs[b] : r_default;
        struct sf_dht_id key, holders[SF_FS_R_MAX + 1];
        size_t idx[SF_FS_R_MAX], nh = 0;
        sf_fs_block_key(&ids[b], &key);
        int k = sf_fs_place(&key, old_nodes, n_old, r, idx);
        bool self_in = false;
        for (int i = 0; i < k; i++) {
            holders[nh++] = old_nodes[idx[i]];
            self_in |= same(&old_nodes[idx[i]], self);
        }
        if (!self_in) {
            holders[nh++] = *self;
        }
        struct sf_fs_repair_block blk = {.id = ids[b], .r = r, .holders = holders,
                                         .n_holders = nh};
        struct plan_one p = {.self = self, .new_nodes = new_nodes, .n_new = n_new};
        p.t.block = b;
        int rc = sf_fs_repair_plan(old_nodes, n_old, new_nodes, n_new, &blk, 1, on_action, &p,
                                   NULL);
        if (rc != 0) {
            return rc;
        }
        if (lost != NULL) {
            *lost += p.lost;
        }
        if (p.surplus && !no_drop) {
            /* Every target, not only those the planner has us copy to: the
             * source it picked for the others may die before copying. */
            int kt = sf_fs_place(&key, new_nodes, n_new, r, idx);
            for (int i = 0; i < kt; i++) {
                if (!same(&new_nodes[idx[i]], self)) {
                    add_dst(&p.t, idx[i]);
                }
            }
            p.t.drop_after = p.t.ndst > 0;
        }
        if (p.any || p.t.drop_after) {
            rc = cb(arg, &p.t);
            if (rc != 0) {
                return rc;
            }
        }
    }
    return 0;
}
