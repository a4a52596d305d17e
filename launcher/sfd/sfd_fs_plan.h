/* sfd's block layer, its pure part: which repair work falls to this node
 * after a membership change (sfd_fs_plan.c). No I/O, no daemon state; the
 * Check suite tests/check_sfd_fs.c drives it on simulated clusters. */
#ifndef SFD_FS_PLAN_H
#define SFD_FS_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/sf_fs.h"

/* One block of this node's store that needs work: put it on new_nodes
 * [dst[0..ndst)], then, if drop_after, delete this node's copy -- only
 * once every dst acknowledged a durable put. */
struct sf_sfd_fs_task {
    size_t block; /* index into the ids given to the planner */
    size_t dst[SF_FS_R_MAX];
    int ndst;
    bool drop_after;
};
/* Called once per block that needs work; non-zero stops the planner and
 * is returned. t is valid during the call only. */
typedef int (*sf_sfd_fs_task_fn)(void *arg, const struct sf_sfd_fs_task *t);

/* Plan this node's part of the repair from old_nodes (the live set the
 * last complete repair left behind) to new_nodes (the live set now; it
 * must contain self), for the blocks ids[0..n) this node holds. Block b
 * has rs[b] replicas (rs NULL, or rs[b] 0: r). A block's holders are taken
 * to be where placement on the old set put it, plus this node. The node
 * copies where sf_fs_repair_plan makes it the source; where its own copy
 * is surplus (it is no target) it puts the block on every target itself
 * before dropping, so a source that dies before copying cannot make the
 * drop lose the block -- unless no_drop (the factors are not known, so a
 * copy may only look surplus): then it only copies. *lost (may be NULL) is
 * incremented per block with no live holder (only possible if self is
 * missing from new_nodes). 0, -EINVAL or cb's value. */
int sf_sfd__fs_plan(const struct sf_dht_id *self, const struct sf_dht_id *old_nodes, size_t n_old,
                    const struct sf_dht_id *new_nodes, size_t n_new,
                    const struct sf_fs_block_id *ids, size_t n, const uint8_t *rs, int r,
                    bool no_drop, sf_sfd_fs_task_fn cb, void *arg, uint64_t *lost);

#endif
