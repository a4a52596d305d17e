/* Check suite for the Slurm input sfrun decodes itself: the task counts
 * of SLURM_TASKS_PER_NODE turned into host slots (sf_hosts_slurm_tasks).
 * Node names come from `scontrol show hostnames`, not from a decoder
 * here. Starting daemons under Slurm is tests/cluster/slurm.sh. Fork mode. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "launcher/sf_int.h"

/* n hosts h1..hN with slots 0 (the daemon's cores). */
static void make_hosts(struct sf_hostlist *hl, int n)
{
    memset(hl, 0, sizeof(*hl));
    for (int i = 1; i <= n; i++) {
        char name[16], err[128];
        snprintf(name, sizeof(name), "h%d", i);
        ck_assert_int_eq(sf_hosts_parse_list(hl, name, err, sizeof(err)), 0);
    }
    ck_assert_uint_eq(hl->n, (size_t)n);
}

START_TEST(test_tasks_ok)
{
    struct sf_hostlist hl;
    char err[256];
    make_hosts(&hl, 4);
    ck_assert_int_eq(sf_hosts_slurm_tasks(&hl, "2(x3),1", err, sizeof(err)), 0);
    int want[] = {2, 2, 2, 1};
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(hl.v[i].slots, want[i]);
    }
    ck_assert_int_eq(sf_hosts_slurm_tasks(&hl, "1,3,1(x1),65536", err, sizeof(err)), 0);
    ck_assert_int_eq(hl.v[1].slots, 3);
    ck_assert_int_eq(hl.v[3].slots, SF_HOSTS_MAX_SLOTS);
    sf_hosts_free(&hl);
    make_hosts(&hl, 1);
    ck_assert_int_eq(sf_hosts_slurm_tasks(&hl, "16", err, sizeof(err)), 0);
    ck_assert_int_eq(hl.v[0].slots, 16);
    sf_hosts_free(&hl);
}
END_TEST

START_TEST(test_tasks_bad)
{
    static const char *const bad[] = {
        "",
        "x",
        "1,",
        ",1",
        "1,,1",
        "1(x)",
        "1(x2",
        "1(y2)",
        "1(x2)x",
        "0",
        "-1",
        "+1",
        "1 ",
        " 1",
        "1(x 2)",
        "65537",
        "1(x0)",
        "1(x-1)",
        "999999999999",
        "1(x999999999999)",
        "2(x2),1(x3)",
        "1(x2)(x2)",
    };
    for (size_t b = 0; b < sizeof(bad) / sizeof(bad[0]); b++) {
        struct sf_hostlist hl;
        char err[256] = "";
        make_hosts(&hl, 4);
        hl.v[2].slots = 7; /* must survive a refusal */
        int rc = sf_hosts_slurm_tasks(&hl, bad[b], err, sizeof(err));
        ck_assert_msg(rc == -EINVAL, "'%s' accepted (%d)", bad[b], rc);
        ck_assert_msg(err[0] != '\0', "'%s' refused without a message", bad[b]);
        ck_assert_int_eq(hl.v[0].slots, 0);
        ck_assert_int_eq(hl.v[2].slots, 7);
        sf_hosts_free(&hl);
    }
}
END_TEST

START_TEST(test_tasks_count_mismatch)
{
    struct sf_hostlist hl;
    char err[256];
    make_hosts(&hl, 3);
    ck_assert_int_eq(sf_hosts_slurm_tasks(&hl, "4(x2)", err, sizeof(err)), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "counts 2 nodes, not the 3 listed"));
    ck_assert_int_eq(sf_hosts_slurm_tasks(&hl, "4(x4)", err, sizeof(err)), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "more nodes than the 3 listed"));
    sf_hosts_free(&hl);
    struct sf_hostlist none = {0};
    ck_assert_int_eq(sf_hosts_slurm_tasks(&none, "1", err, sizeof(err)), -EINVAL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("slurm");
    TCase *tc = tcase_create("tasks_per_node");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_tasks_ok);
    tcase_add_test(tc, test_tasks_bad);
    tcase_add_test(tc, test_tasks_count_mismatch);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_FORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
