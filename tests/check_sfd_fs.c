/* Check suite for the pure part of sfd's block layer: the per-node repair
 * planner (launcher/sfd/sfd_fs_plan.c) on simulated clusters. Every live
 * node plans for the blocks it holds and applies its tasks at once, in a
 * random node order (a node's drops may come before another node's
 * copies, as on a real network): after a loss, a join, two losses without
 * a complete repair in between, or a repair cut short, no block is lost
 * that had a live holder, and every block ends on exactly its targets.
 * The network side is tests/cluster/fs_blocks.sh. Fork mode. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "launcher/sfd/sfd_fs_plan.h"

#define NMAX 40
#define BMAX 300

struct sim {
    int n, nb, r;
    struct sf_dht_id node[NMAX];
    bool alive[NMAX];
    struct sf_fs_block_id id[BMAX];
    bool hold[NMAX][BMAX];
    uint8_t rb[BMAX]; /* a block's own factor (its file's), 0: r */
    bool no_drop;     /* plan as when the factors are unknown */
    unsigned seed;
};

static int rof(const struct sim *s, int b)
{
    return s->rb[b] != 0 ? s->rb[b] : s->r;
}

static unsigned rnd(struct sim *s)
{
    s->seed = s->seed * 1103515245u + 12345u;
    return (s->seed >> 8) & 0xffffff;
}

/* Indices of the live nodes, and their ids. */
static int live_set(const struct sim *s, int *idx, struct sf_dht_id *ids)
{
    int k = 0;
    for (int i = 0; i < s->n; i++) {
        if (s->alive[i]) {
            idx[k] = i;
            ids[k++] = s->node[i];
        }
    }
    return k;
}

/* Write every block afresh with the live nodes: on the r closest. */
static void sim_place(struct sim *s)
{
    memset(s->hold, 0, sizeof(s->hold));
    int idx[NMAX];
    struct sf_dht_id ids[NMAX];
    int k = live_set(s, idx, ids);
    for (int b = 0; b < s->nb; b++) {
        struct sf_dht_id key;
        size_t t[SF_FS_R_MAX];
        sf_fs_block_key(&s->id[b], &key);
        int nt = sf_fs_place(&key, ids, (size_t)k, rof(s, b), t);
        for (int i = 0; i < nt; i++) {
            s->hold[idx[t[i]]][b] = true;
        }
    }
}

static void sim_init(struct sim *s, unsigned seed, int n, int nb, int r)
{
    memset(s, 0, sizeof(*s));
    s->seed = seed;
    s->n = n;
    s->nb = nb;
    s->r = r;
    for (int i = 0; i < n; i++) {
        for (int b = 0; b < SF_DHT_ID_LEN; b++) {
            s->node[i].b[b] = (uint8_t)rnd(s);
        }
        s->alive[i] = true;
    }
    for (int k = 0; k < nb; k++) {
        uint32_t v[2] = {seed, (uint32_t)k};
        sf_fs_block_hash(v, sizeof(v), &s->id[k]);
    }
    sim_place(s);
}

struct apply {
    struct sim *s;
    int self;           /* node index */
    const int *new_idx; /* new-set position -> node index */
    const int *blocks;  /* planner's block index -> sim block */
    int keep_one_in;    /* >1: apply only every k-th task (a repair cut short) */
    int count;
};

static int apply_task(void *arg, const struct sf_sfd_fs_task *t)
{
    struct apply *a = arg;
    if (a->keep_one_in > 1 && a->count++ % a->keep_one_in != 0) {
        return 0;
    }
    int b = a->blocks[t->block];
    ck_assert_msg(a->s->hold[a->self][b], "node %d planned for a block it lacks", a->self);
    for (int i = 0; i < t->ndst; i++) {
        int d = a->new_idx[t->dst[i]];
        ck_assert_int_ne(d, a->self);
        ck_assert(a->s->alive[d]);
        a->s->hold[d][b] = true;
    }
    if (t->drop_after) {
        a->s->hold[a->self][b] = false;
    }
    return 0;
}

/* Every live node plans from old (node indices) to the current live set
 * and applies its tasks, nodes in a random order. */
static void sim_repair_each(struct sim *s, const int *const *old_of, const int *n_old_of,
                            int keep_one_in, const bool *skip);

static void sim_repair_some(struct sim *s, const int *old, int n_old, int keep_one_in,
                            const bool *skip)
{
    const int *old_of[NMAX];
    int n_old_of[NMAX];
    for (int i = 0; i < s->n; i++) {
        old_of[i] = old;
        n_old_of[i] = n_old;
    }
    sim_repair_each(s, old_of, n_old_of, keep_one_in, skip);
}

static void sim_repair(struct sim *s, const int *old, int n_old, int keep_one_in)
{
    sim_repair_some(s, old, n_old, keep_one_in, NULL);
}

/* Every live node not marked in skip (it dies, or its run is cut, before
 * acting) plans from its own old set (node indices: as in sfd, the set
 * its last complete run left behind) to the current live set and applies
 * its tasks, nodes in a random order. */
static void sim_repair_each(struct sim *s, const int *const *old_of, const int *n_old_of,
                            int keep_one_in, const bool *skip)
{
    struct sf_dht_id newk[NMAX];
    int new_idx[NMAX];
    int n_new = live_set(s, new_idx, newk);
    int order[NMAX];
    for (int i = 0; i < n_new; i++) {
        order[i] = new_idx[i];
    }
    for (int i = n_new - 1; i > 0; i--) {
        int j = (int)(rnd(s) % (unsigned)(i + 1));
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (int o = 0; o < n_new; o++) {
        int self = order[o];
        if (skip != NULL && skip[self]) {
            continue;
        }
        struct sf_fs_block_id ids[BMAX];
        uint8_t rs[BMAX];
        int blocks[BMAX], nh = 0;
        for (int b = 0; b < s->nb; b++) {
            if (s->hold[self][b]) {
                ids[nh] = s->id[b];
                rs[nh] = s->rb[b];
                blocks[nh++] = b;
            }
        }
        struct apply a = {.s = s, .self = self, .new_idx = new_idx, .blocks = blocks,
                          .keep_one_in = keep_one_in};
        struct sf_dht_id oldk[NMAX];
        int n_old = n_old_of[self];
        for (int i = 0; i < n_old; i++) {
            oldk[i] = s->node[old_of[self][i]];
        }
        uint64_t lost = 0;
        int rc = sf_sfd__fs_plan(&s->node[self], oldk, (size_t)n_old, newk, (size_t)n_new, ids,
                                 (size_t)nh, rs, s->r, s->no_drop, apply_task, &a, &lost);
        ck_assert_int_eq(rc, 0);
        ck_assert_msg(lost == 0, "a node that holds a block counted it lost");
    }
}

/* Each block that had a live holder ends on exactly its targets among the
 * live nodes; returns how many blocks had none (lost before the repair). */
static int sim_check(struct sim *s, const bool *had_live)
{
    int idx[NMAX];
    struct sf_dht_id ids[NMAX];
    int k = live_set(s, idx, ids);
    int lost = 0;
    for (int b = 0; b < s->nb; b++) {
        if (!had_live[b]) {
            lost++;
            continue;
        }
        struct sf_dht_id key;
        size_t t[SF_FS_R_MAX];
        sf_fs_block_key(&s->id[b], &key);
        int nt = sf_fs_place(&key, ids, (size_t)k, rof(s, b), t);
        bool target[NMAX] = {false};
        for (int i = 0; i < nt; i++) {
            target[idx[t[i]]] = true;
        }
        for (int i = 0; i < k; i++) {
            int nd = idx[i];
            ck_assert_msg(s->hold[nd][b] == target[nd],
                          "seed %u: block %d on node %d: holds %d, target %d", s->seed, b, nd,
                          s->hold[nd][b], target[nd]);
        }
    }
    return lost;
}

static void had_live(const struct sim *s, bool *out)
{
    for (int b = 0; b < s->nb; b++) {
        out[b] = false;
        for (int i = 0; i < s->n; i++) {
            out[b] |= s->alive[i] && s->hold[i][b];
        }
    }
}

static int snapshot(const struct sim *s, int *old)
{
    struct sf_dht_id ids[NMAX];
    return live_set(s, old, ids);
}

static void kill_random(struct sim *s)
{
    for (;;) {
        int v = (int)(rnd(s) % (unsigned)s->n);
        if (s->alive[v]) {
            s->alive[v] = false;
            return;
        }
    }
}

/* The membership changes by kills random deaths (kills < 0: node -kills
 * comes back); every live node repairs from the set before; returns
 * sim_check's count of blocks that had no live copy left. */
static int change_and_repair(struct sim *s, int kills)
{
    int old[NMAX];
    int n_old = snapshot(s, old);
    if (kills < 0) {
        s->alive[-kills - 1] = true;
    }
    for (int k = 0; k < kills; k++) {
        kill_random(s);
    }
    bool hl[BMAX];
    had_live(s, hl);
    sim_repair(s, old, n_old, 1);
    return sim_check(s, hl);
}

START_TEST(plan_one_loss)
{
    for (unsigned seed = 1; seed <= 60; seed++) {
        struct sim s;
        sim_init(&s, seed, 3 + (int)(seed % 25), 200, 2 + (int)(seed % 2));
        ck_assert_int_eq(change_and_repair(&s, 1), 0);
    }
}
END_TEST

START_TEST(plan_join)
{
    for (unsigned seed = 100; seed <= 160; seed++) {
        struct sim s;
        int n = 3 + (int)(seed % 25);
        sim_init(&s, seed, n, 200, 1 + (int)(seed % 3));
        /* The last node was not there when the blocks were written. */
        s.alive[n - 1] = false;
        sim_place(&s);
        ck_assert_int_eq(change_and_repair(&s, -n), 0);
    }
}
END_TEST

START_TEST(plan_two_losses_one_repair)
{
    /* Two nodes go before any repair completes: the old set stays the
     * first one. With r = 3 nothing is lost; with r = 2 at most the blocks
     * both of whose holders died (and the rest end on their targets). */
    for (unsigned seed = 200; seed <= 260; seed++) {
        struct sim s;
        int r = 2 + (int)(seed % 2);
        sim_init(&s, seed, 4 + (int)(seed % 20), 250, r);
        int lost = change_and_repair(&s, 2);
        if (r == 3) {
            ck_assert_int_eq(lost, 0);
        }
    }
}
END_TEST

START_TEST(plan_repair_cut_short)
{
    /* A loss, a repair that applies only a third of its tasks, a second
     * loss: planning again from the original set restores everything that
     * still had a live holder. */
    for (unsigned seed = 300; seed <= 360; seed++) {
        struct sim s;
        int n = 4 + (int)(seed % 20), r = 2 + (int)(seed % 2);
        sim_init(&s, seed, n, 250, r);
        int old[NMAX];
        int n_old = snapshot(&s, old);
        kill_random(&s);
        sim_repair(&s, old, n_old, 3);
        kill_random(&s);
        bool hl[BMAX];
        had_live(&s, hl);
        sim_repair(&s, old, n_old, 1);
        sim_check(&s, hl);
        /* And again, from the now-complete set: nothing left to do. */
        int now[NMAX];
        int n_now = snapshot(&s, now);
        struct sim before = s;
        sim_repair(&s, now, n_now, 1);
        ck_assert(memcmp(before.hold, s.hold, sizeof(s.hold)) == 0);
    }
}
END_TEST

START_TEST(plan_loss_then_join)
{
    /* Churn: lose one, repair, lose another, repair, the first comes back
     * with its stale disk, repair -- each planned from the set the
     * previous repair left behind. */
    for (unsigned seed = 400; seed <= 440; seed++) {
        struct sim s;
        int n = 5 + (int)(seed % 20);
        sim_init(&s, seed, n, 200, 2 + (int)(seed % 2));
        ck_assert_int_eq(change_and_repair(&s, 1), 0);
        int first = 0;
        while (s.alive[first]) {
            first++;
        }
        ck_assert_int_eq(change_and_repair(&s, 1), 0);
        ck_assert_int_eq(change_and_repair(&s, -(first + 1)), 0);
    }
}
END_TEST

START_TEST(plan_source_dies_midway)
{
    /* A node joins; half the nodes act on their plans (surplus copies are
     * dropped), one that did not act -- perhaps the planner's source for a
     * block -- dies; nothing is lost, because a surplus holder puts the
     * block on every target itself before dropping its copy. */
    for (unsigned seed = 500; seed <= 580; seed++) {
        struct sim s;
        int n = 4 + (int)(seed % 16), r = 2;
        sim_init(&s, seed, n, 250, r);
        s.alive[n - 1] = false;
        sim_place(&s);
        int old[NMAX];
        int n_old = snapshot(&s, old);
        s.alive[n - 1] = true;
        bool skip[NMAX] = {false};
        int idle = -1;
        for (int i = 0; i < n; i++) {
            skip[i] = rnd(&s) % 2 == 0;
            if (skip[i] && i != n - 1 && idle < 0) {
                idle = i;
            }
        }
        if (idle < 0) {
            continue;
        }
        sim_repair_some(&s, old, n_old, 1, skip);
        /* Nodes that acted completed their run: their old set is now the
         * one with the new node; the others keep the one before. */
        int joined[NMAX];
        int n_joined = snapshot(&s, joined);
        const int *old_of[NMAX];
        int n_old_of[NMAX];
        for (int i = 0; i < n; i++) {
            old_of[i] = skip[i] ? old : joined;
            n_old_of[i] = skip[i] ? n_old : n_joined;
        }
        s.alive[idle] = false;
        bool hl[BMAX];
        had_live(&s, hl);
        for (int b = 0; b < s.nb; b++) {
            ck_assert_msg(hl[b], "seed %u: block %d has no live copy after a partial repair",
                          seed, b);
        }
        sim_repair_each(&s, old_of, n_old_of, 1, NULL);
        /* Nothing is lost. (Exact placement is not promised here: a node
         * whose last run did not complete still believes that a node of
         * its old placement holds a block that node has since dropped as
         * surplus; reads and scrub re-put it there.) */
        for (int b = 0; b < s.nb; b++) {
            bool any = false;
            for (int i = 0; i < n; i++) {
                any |= s.alive[i] && s.hold[i][b];
            }
            ck_assert_msg(any, "seed %u: block %d lost", seed, b);
        }
    }
}
END_TEST

START_TEST(plan_own_factors)
{
    /* Files with their own factors (1 for scratch, 3 or 4 for precious
     * data) next to the default 2: a loss and a join leave each block on
     * exactly its own number of targets; only factor-1 blocks whose one
     * copy died are gone. */
    for (unsigned seed = 600; seed <= 660; seed++) {
        struct sim s;
        sim_init(&s, seed, 5 + (int)(seed % 20), 250, 2);
        for (int b = 0; b < s.nb; b++) {
            s.rb[b] = (uint8_t)(rnd(&s) % 5); /* 0 (the default), 1..4 */
        }
        sim_place(&s);
        int lost = change_and_repair(&s, 1);
        int ones = 0;
        for (int b = 0; b < s.nb; b++) {
            ones += s.rb[b] == 1;
        }
        ck_assert_int_le(lost, ones);
        /* The dead node comes back with its disk: its factor-1 blocks too. */
        int dead = 0;
        while (s.alive[dead]) {
            dead++;
        }
        ck_assert_int_eq(change_and_repair(&s, -1 - dead), 0);
    }
}
END_TEST

START_TEST(plan_no_drop)
{
    /* Factors unknown (the metadata did not answer): a join only adds
     * copies -- none is dropped, every target gets one. */
    for (unsigned seed = 700; seed <= 740; seed++) {
        struct sim s;
        int n = 4 + (int)(seed % 20);
        sim_init(&s, seed, n, 200, 2);
        for (int b = 0; b < s.nb; b++) {
            s.rb[b] = (uint8_t)(2 + rnd(&s) % 2);
        }
        s.alive[n - 1] = false;
        sim_place(&s);
        struct sim before = s;
        int old[NMAX];
        int n_old = snapshot(&s, old);
        s.alive[n - 1] = true;
        s.no_drop = true;
        memset(s.rb, 0, sizeof(s.rb)); /* ... and planned with the default */
        sim_repair(&s, old, n_old, 1);
        int idx[NMAX];
        struct sf_dht_id ids[NMAX];
        int k = live_set(&s, idx, ids);
        for (int b = 0; b < s.nb; b++) {
            for (int i = 0; i < n; i++) {
                ck_assert_msg(!before.hold[i][b] || s.hold[i][b], "a copy was dropped");
            }
            struct sf_dht_id key;
            size_t t[SF_FS_R_MAX];
            sf_fs_block_key(&s.id[b], &key);
            int nt = sf_fs_place(&key, ids, (size_t)k, 2, t);
            for (int i = 0; i < nt; i++) {
                ck_assert(s.hold[idx[t[i]]][b]);
            }
        }
    }
}
END_TEST

static int stop_at_first(void *arg, const struct sf_sfd_fs_task *t)
{
    (void)t;
    (*(int *)arg)++;
    return 42;
}

START_TEST(plan_args)
{
    struct sim s;
    sim_init(&s, 7, 5, 20, 2);
    struct sf_dht_id ids[NMAX];
    int idx[NMAX];
    int k = live_set(&s, idx, ids);
    int calls = 0;
    ck_assert_int_eq(sf_sfd__fs_plan(NULL, ids, 5, ids, 5, s.id, 1, NULL, 2, false, stop_at_first, &calls,
                                     NULL),
                     -EINVAL);
    ck_assert_int_eq(sf_sfd__fs_plan(&ids[0], ids, 5, ids, 5, s.id, 1, NULL, 0, false, stop_at_first, &calls,
                                     NULL),
                     -EINVAL);
    ck_assert_int_eq(sf_sfd__fs_plan(&ids[0], ids, 5, ids, 5, s.id, 1, NULL, 17, false, stop_at_first,
                                     &calls, NULL),
                     -EINVAL);
    ck_assert_int_eq(sf_sfd__fs_plan(&ids[0], ids, 5, ids, 5, NULL, 1, NULL, 2, false, stop_at_first, &calls,
                                     NULL),
                     -EINVAL);
    /* Nothing changed: no work for node 0's own blocks... */
    struct sf_fs_block_id mine[BMAX];
    size_t nm = 0;
    for (int b = 0; b < s.nb; b++) {
        if (s.hold[idx[0]][b]) {
            mine[nm++] = s.id[b];
        }
    }
    ck_assert_int_eq(sf_sfd__fs_plan(&ids[0], ids, (size_t)k, ids, (size_t)k, mine, nm, NULL, 2, false, stop_at_first, &calls, NULL),
                     0);
    ck_assert_int_eq(calls, 0);
    /* ... but a stale copy of a block it is no target for is pushed to
     * the targets and dropped. */
    for (int b = 0; b < s.nb; b++) {
        if (!s.hold[idx[0]][b]) {
            ck_assert_int_eq(sf_sfd__fs_plan(&ids[0], ids, (size_t)k, ids, (size_t)k, &s.id[b],
                                             1, NULL, 2, false, stop_at_first, &calls, NULL),
                             42);
            ck_assert_int_eq(calls, 1);
            calls = 0;
            break;
        }
    }
    /* A node with every block and a new set without the others: work,
     * and the callback's value stops the planner. */
    ck_assert_int_eq(sf_sfd__fs_plan(&ids[0], ids, (size_t)k, ids, 2, s.id, 20, NULL, 2, false, stop_at_first, &calls, NULL),
                     42);
    ck_assert_int_eq(calls, 1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sfd_fs");
    TCase *tc = tcase_create("plan");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, plan_one_loss);
    tcase_add_test(tc, plan_join);
    tcase_add_test(tc, plan_two_losses_one_repair);
    tcase_add_test(tc, plan_repair_cut_short);
    tcase_add_test(tc, plan_loss_then_join);
    tcase_add_test(tc, plan_source_dies_midway);
    tcase_add_test(tc, plan_own_factors);
    tcase_add_test(tc, plan_no_drop);
    tcase_add_test(tc, plan_args);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_FORK);
    srunner_run_all(sr, CK_NORMAL);
    int nf = srunner_ntests_failed(sr);
    srunner_free(sr);
    return nf == 0 ? 0 : 1;
}
