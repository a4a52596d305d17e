/* Block placement and repair planning: which live nodes should hold a
 * block (the r closest to its key by XOR distance, primary first) and which
 * copies restore r holders after membership changes. Pure functions: no
 * I/O, no allocation, no state; deterministic, so every node computes the
 * same answer from the same inputs. Any thread. */
#include <errno.h>
#include <string.h>

#include "fs/fs_int.h"

static bool id_eq(const struct sf_dht_id *a, const struct sf_dht_id *b)
{
    return memcmp(a->b, b->b, SF_DHT_ID_LEN) == 0;
}

int sf_fs_place(const struct sf_dht_id *key, const struct sf_dht_id *nodes, size_t n, int r,
                size_t *idx)
{
    if (r < 1 || r > SF_FS_R_MAX || key == NULL || idx == NULL || (n > 0 && nodes == NULL)) {
        return -EINVAL;
    }
    /* Insertion into a sorted top-r list: O(n r), with r <= 16 cheaper than
     * sorting all n. Equal ids are the same node: keep the first. */
    int got = 0;
    for (size_t i = 0; i < n; i++) {
        int pos = got;
        bool dup = false;
        while (pos > 0) {
            int c = sf_dht_id_cmp_dist(key, &nodes[i], &nodes[idx[pos - 1]]);
            if (c == 0) {
                dup = true; /* XOR distance is equal only for equal ids */
                break;
            }
            if (c > 0) {
                break;
            }
            pos--;
        }
        if (dup || pos >= r) {
            continue;
        }
        int last = got < r ? got : r - 1;
        memmove(&idx[pos + 1], &idx[pos], (size_t)(last - pos) * sizeof *idx);
        idx[pos] = i;
        if (got < r) {
            got++;
        }
    }
    return got;
}

static bool in_set(const struct sf_dht_id *id, const struct sf_dht_id *set, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (id_eq(id, &set[i])) {
            return true;
        }
    }
    return false;
}

int sf_fs_repair_plan(const struct sf_dht_id *old_nodes, size_t n_old,
                      const struct sf_dht_id *new_nodes, size_t n_new,
                      const struct sf_fs_repair_block *blocks, size_t n_blocks, sf_fs_repair_fn cb,
                      void *arg, struct sf_fs_repair_stats *st)
{
    struct sf_fs_repair_stats s = {0};
    if (cb == NULL || (n_blocks > 0 && blocks == NULL) || (n_old > 0 && old_nodes == NULL) ||
        (n_new > 0 && new_nodes == NULL)) {
        return -EINVAL;
    }
    for (size_t b = 0; b < n_blocks; b++) {
        if (blocks[b].r < 1 || blocks[b].r > SF_FS_R_MAX ||
            (blocks[b].holders == NULL && blocks[b].n_holders > 0)) {
            return -EINVAL;
        }
    }
    for (size_t b = 0; b < n_blocks; b++) {
        const struct sf_fs_repair_block *blk = &blocks[b];
        struct sf_dht_id key;
        sf_fs_block_key(&blk->id, &key);

        /* Holders: given, or where placement on the old set put it. */
        const struct sf_dht_id *hold[SF_FS_R_MAX];
        size_t n_hold = 0;
        const struct sf_dht_id *hsrc = blk->holders;
        size_t hn = blk->n_holders;
        size_t oidx[SF_FS_R_MAX];
        if (hsrc == NULL) {
            int k = sf_fs_place(&key, old_nodes, n_old, blk->r, oidx);
            hn = k > 0 ? (size_t)k : 0;
        }
        /* Live holders, nearest first (so the first is the copy source),
         * holders listed twice once. Surplus is reported for every live
         * holder, so scan all of them even past SF_FS_R_MAX. */
        size_t tidx[SF_FS_R_MAX];
        int nt = sf_fs_place(&key, new_nodes, n_new, blk->r, tidx);
        if (nt < 0) {
            nt = 0;
        }
        const struct sf_dht_id *src = NULL;
        bool any_live = false;
        for (size_t h = 0; h < hn; h++) {
            const struct sf_dht_id *id = hsrc != NULL ? &hsrc[h] : &old_nodes[oidx[h]];
            if (!in_set(id, new_nodes, n_new)) {
                continue;
            }
            bool seen = false;
            for (size_t j = 0; j < h && !seen; j++) {
                const struct sf_dht_id *pj = hsrc != NULL ? &hsrc[j] : &old_nodes[oidx[j]];
                seen = id_eq(pj, id);
            }
            if (seen) {
                continue;
            }
            any_live = true;
            if (src == NULL || sf_dht_id_cmp_dist(&key, id, src) < 0) {
                src = id;
            }
            bool target = false;
            for (int t = 0; t < nt && !target; t++) {
                target = id_eq(id, &new_nodes[tidx[t]]);
            }
            if (!target) {
                cb(arg, SF_FS_REPAIR_SURPLUS, b, id, NULL);
                s.surplus++;
            } else if (n_hold < SF_FS_R_MAX) {
                hold[n_hold++] = id;
            }
        }
        s.blocks++;
        if (nt < blk->r) {
            s.short_nodes++;
        }
        if (!any_live) {
            cb(arg, SF_FS_REPAIR_LOST, b, NULL, NULL);
            s.lost++;
            continue;
        }
        bool copied = false;
        for (int t = 0; t < nt; t++) {
            const struct sf_dht_id *dst = &new_nodes[tidx[t]];
            bool has = false;
            for (size_t h = 0; h < n_hold && !has; h++) {
                has = id_eq(hold[h], dst);
            }
            if (!has) {
                cb(arg, SF_FS_REPAIR_COPY, b, src, dst);
                s.copies++;
                copied = true;
            }
        }
        if (!copied) {
            s.healthy++;
        }
    }
    if (st != NULL) {
        *st = s;
    }
    return 0;
}
