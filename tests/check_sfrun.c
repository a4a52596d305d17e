/* Check suite for sfrun's command-line parsing (launcher/sfrun_args.c):
 * Open MPI spellings, -x forms, ignored flags, errors and where the
 * program's own arguments begin. Process and daemon behaviour is covered
 * by the shell tests in tests/launcher/. Fork mode: each test in its own process. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "launcher/sfrun_int.h"

#define ARGV(...) ((char *[]){"sfrun", __VA_ARGS__, NULL})
#define PARSE(o, ...)                                                                              \
    ({                                                                                             \
        char **v_ = ARGV(__VA_ARGS__);                                                             \
        int c_ = 0;                                                                                \
        while (v_[c_] != NULL) {                                                                   \
            c_++;                                                                                  \
        }                                                                                          \
        sfrun_parse_args(c_, v_, (o));                                                             \
    })

START_TEST(test_n_spellings)
{
    struct sfrun_opts o;
    ck_assert_int_eq(PARSE(&o, "-n", "4", "prog"), 0);
    ck_assert_int_eq(o.n, 4);
    ck_assert_str_eq(o.argv[0], "prog");
    ck_assert_int_eq(o.argc, 1);
    ck_assert_int_eq(PARSE(&o, "-np", "3", "prog"), 0);
    ck_assert_int_eq(o.n, 3);
    ck_assert_int_eq(PARSE(&o, "--np", "5", "prog"), 0);
    ck_assert_int_eq(o.n, 5);
    ck_assert_int_eq(PARSE(&o, "--n=6", "prog"), 0);
    ck_assert_int_eq(o.n, 6);
    ck_assert_int_eq(PARSE(&o, "-c", "2", "prog"), 0);
    ck_assert_int_eq(o.n, 2);
    ck_assert_int_eq(PARSE(&o, "prog"), 0);
    ck_assert_int_eq(o.n, 1);
}
END_TEST

START_TEST(test_bad_n)
{
    struct sfrun_opts o;
    ck_assert_int_eq(PARSE(&o, "-n", "abc", "prog"), SFRUN_EXIT_USAGE);
    ck_assert_int_eq(PARSE(&o, "-n", "0", "prog"), SFRUN_EXIT_USAGE);
    ck_assert_int_eq(PARSE(&o, "-n", "-3", "prog"), SFRUN_EXIT_USAGE);
    ck_assert_int_eq(PARSE(&o, "-n", "4x", "prog"), SFRUN_EXIT_USAGE);
    ck_assert_int_eq(PARSE(&o, "-n"), SFRUN_EXIT_USAGE);
}
END_TEST

START_TEST(test_program_args_untouched)
{
    struct sfrun_opts o;
    ck_assert_int_eq(PARSE(&o, "-n", "2", "prog", "-n", "5", "--tag-output"), 0);
    ck_assert_int_eq(o.n, 2);
    ck_assert(!o.tag_output);
    ck_assert_int_eq(o.argc, 4);
    ck_assert_str_eq(o.argv[1], "-n");
    ck_assert_int_eq(PARSE(&o, "--", "-weird-prog", "x"), 0);
    ck_assert_str_eq(o.argv[0], "-weird-prog");
    ck_assert_int_eq(PARSE(&o, "-n", "2"), SFRUN_EXIT_USAGE);
}
END_TEST

START_TEST(test_xvars)
{
    struct sfrun_opts o;
    setenv("SF_CHECK_X", "from-env", 1);
    unsetenv("SF_CHECK_UNSET");
    ck_assert_int_eq(PARSE(&o, "-x", "SF_CHECK_X", "-x", "A=b=c", "-x", "SF_CHECK_UNSET", "prog"),
                     0);
    ck_assert_int_eq((int)o.nx, 2);
    ck_assert_str_eq(o.xvars[0], "SF_CHECK_X=from-env");
    ck_assert_str_eq(o.xvars[1], "A=b=c");
    sfrun_opts_free(&o);
    ck_assert_int_eq(PARSE(&o, "-x", "=v", "prog"), SFRUN_EXIT_USAGE);
}
END_TEST

START_TEST(test_flags)
{
    struct sfrun_opts o;
    ck_assert_int_eq(PARSE(&o, "--tag-output", "--timeout", "1.5", "--nooversubscribe", "--bind-to",
                           "core", "prog"),
                     0);
    ck_assert(o.tag_output);
    ck_assert(o.timeout > 1.49 && o.timeout < 1.51);
    ck_assert_str_eq(o.timeout_text, "1.5");
    ck_assert_int_eq(o.oversub, 0);
    ck_assert(o.bind_core);
    ck_assert_int_eq(PARSE(&o, "-oversubscribe", "--timeout=500ms", "prog"), 0);
    ck_assert_int_eq(o.oversub, 1);
    ck_assert(o.timeout > 0.49 && o.timeout < 0.51);
    ck_assert_int_eq(PARSE(&o, "--timeout", "0", "prog"), SFRUN_EXIT_USAGE);
    ck_assert_int_eq(PARSE(&o, "--timeout", "soon", "prog"), SFRUN_EXIT_USAGE);
    ck_assert_int_eq(PARSE(&o, "--bind-to", "socket", "prog"), SFRUN_EXIT_USAGE);
    ck_assert_int_eq(PARSE(&o, "--tag-output=yes", "prog"), SFRUN_EXIT_USAGE);
}
END_TEST

START_TEST(test_ignored_and_unknown)
{
    struct sfrun_opts o;
    ck_assert_int_eq(PARSE(&o, "--allow-run-as-root", "--mca", "btl", "self", "-mca", "a", "b",
                           "--map-by", "core", "--report-bindings", "-np", "2", "prog"),
                     0);
    ck_assert_int_eq(o.n, 2);
    ck_assert_str_eq(o.argv[0], "prog");
    ck_assert_int_eq(PARSE(&o, "-H", "localhost", "--hostfile=hf", "prog"), 0);
    ck_assert_str_eq(o.argv[0], "prog");
    ck_assert_int_eq(PARSE(&o, "--mca", "btl", "prog"), SFRUN_EXIT_USAGE); /* eats prog */
    ck_assert_int_eq(PARSE(&o, "--frobnicate", "prog"), SFRUN_EXIT_USAGE);
}
END_TEST

START_TEST(test_actions)
{
    struct sfrun_opts o;
    ck_assert_int_eq(PARSE(&o, "--version"), 0);
    ck_assert_int_eq(o.action, SFRUN_VERSION);
    ck_assert_int_eq(PARSE(&o, "-h"), 0);
    ck_assert_int_eq(o.action, SFRUN_HELP);
    ck_assert_int_eq(PARSE(&o, "--params"), 0);
    ck_assert_int_eq(o.action, SFRUN_PARAMS);
}
END_TEST

START_TEST(test_check_program)
{
    ck_assert_int_eq(sfrun_check_program("sh", "/usr/bin:/bin"), 0);
    ck_assert_int_eq(sfrun_check_program("/bin/sh", NULL), 0);
    ck_assert_int_eq(sfrun_check_program("sf-no-such-program", "/usr/bin:/bin"),
                     SFRUN_EXIT_NOTFOUND);
    ck_assert_int_eq(sfrun_check_program("/nonexistent/x", NULL), SFRUN_EXIT_NOTFOUND);
    ck_assert_int_eq(sfrun_check_program("/etc/passwd", NULL), SFRUN_EXIT_NOEXEC);
    ck_assert_int_eq(sfrun_check_program("/tmp", NULL), SFRUN_EXIT_NOEXEC);
}
END_TEST

START_TEST(test_placement_flags)
{
    struct sfrun_opts o;
    ck_assert_int_eq(
        PARSE(&o, "--host", "a,b:2", "-H", "c,a", "-N", "3", "--map-by", "node", "prog"), 0);
    ck_assert_uint_eq(o.hosts.n, 3);
    ck_assert_str_eq(o.hosts.v[0].name, "a");
    ck_assert_int_eq(o.hosts.v[0].slots, 2); /* listed twice */
    ck_assert_int_eq(o.hosts.v[1].slots, 2);
    ck_assert_int_eq(o.hosts.v[2].slots, 0);
    ck_assert_int_eq(o.npernode, 3);
    ck_assert_str_eq(o.map_by, "node");
    char **kv = NULL;
    size_t n = 0;
    ck_assert_int_eq(sfrun_placement_opts(&o, &kv, &n), 0);
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(kv[0], "hosts=a:2,b:2,c");
    ck_assert_str_eq(kv[1], "npernode=3");
    ck_assert_str_eq(kv[2], "map-by=node");
    ck_assert_ptr_null(kv[3]);
    sfrun_opts_free(&o);

    ck_assert_int_eq(PARSE(&o, "--map-by", "ppr:4:node", "--npernode=2", "prog"), 0);
    ck_assert_int_eq(o.npernode, 2); /* the later flag wins */
    ck_assert_ptr_null(o.map_by);
    ck_assert_int_eq(PARSE(&o, "--map-by", "ppr:4:node", "prog"), 0);
    ck_assert_int_eq(o.npernode, 4);
    ck_assert_int_eq(PARSE(&o, "--map-by", "core:OVERSUBSCRIBE", "prog"), 0);
    ck_assert_str_eq(o.map_by, "slot");
    ck_assert_int_eq(o.oversub, 1);
    ck_assert_int_eq(PARSE(&o, "--map-by", "slot", "--cluster", "/x", "--sim-nodes", "3", "prog"),
                     0);
    ck_assert_str_eq(o.cluster_dir, "/x");
    ck_assert_int_eq(o.sim_nodes, 3);
    /* Nothing given: no opts. */
    ck_assert_int_eq(PARSE(&o, "prog"), 0);
    kv = NULL;
    n = 0;
    ck_assert_int_eq(sfrun_placement_opts(&o, &kv, &n), 0);
    ck_assert_uint_eq(n, 0);
    free(kv);
}
END_TEST

START_TEST(test_placement_errors)
{
    struct sfrun_opts o;
    ck_assert_int_eq(PARSE(&o, "--map-by", "diagonal", "prog"), SFRUN_EXIT_USAGE);
    ck_assert_int_eq(PARSE(&o, "--map-by", "ppr:2:socket", "prog"), SFRUN_EXIT_USAGE);
    ck_assert_int_eq(PARSE(&o, "--map-by", "ppr:0:node", "prog"), SFRUN_EXIT_USAGE);
    ck_assert_int_eq(PARSE(&o, "-N", "0", "prog"), SFRUN_EXIT_USAGE);
    ck_assert_int_eq(PARSE(&o, "--host", "a,,b", "prog"), SFRUN_EXIT_USAGE);
    ck_assert_int_eq(PARSE(&o, "--host", "a:0", "prog"), SFRUN_EXIT_USAGE);
    ck_assert_int_eq(PARSE(&o, "--host", "a b", "prog"), SFRUN_EXIT_USAGE);
    ck_assert_int_eq(PARSE(&o, "--sim-nodes", "65", "prog"), SFRUN_EXIT_USAGE);
    ck_assert_int_eq(PARSE(&o, "--sim-nodes", "0", "prog"), SFRUN_EXIT_USAGE);
    ck_assert_int_eq(PARSE(&o, "--hostfile", "a", "--hostfile", "b", "prog"), SFRUN_EXIT_USAGE);
    ck_assert_int_eq(PARSE(&o, "--ft", "ulfm", "prog"), SFRUN_EXIT_USAGE);
    ck_assert_int_eq(PARSE(&o, "--ft=abort", "prog"), 0);
    ck_assert_str_eq(o.ft, "abort");
    char **kv = NULL;
    size_t n = 0;
    ck_assert_int_eq(sfrun_placement_opts(&o, &kv, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(kv[0], "ft=abort");
}
END_TEST

START_TEST(test_hostfile_opts)
{
    char path[] = "/tmp/check_sfrun_hfXXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    const char *text = "# nodes\nn1 slots=2\n\nn2   # default slots\n";
    ck_assert_int_eq(write(fd, text, strlen(text)), (int)strlen(text));
    close(fd);
    struct sfrun_opts o;
    ck_assert_int_eq(PARSE(&o, "--hostfile", path, "-H", "n0", "prog"), 0);
    char **kv = NULL;
    size_t n = 0;
    ck_assert_int_eq(sfrun_placement_opts(&o, &kv, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(kv[0], "hosts=n0,n1:2,n2");
    /* A bad line: usage error, the message names the line. */
    fd = open(path, O_WRONLY | O_TRUNC);
    ck_assert_int_ge(fd, 0);
    text = "n1 slots=2\nn2 slots=two\n";
    ck_assert_int_eq(write(fd, text, strlen(text)), (int)strlen(text));
    close(fd);
    ck_assert_int_eq(PARSE(&o, "--hostfile", path, "prog"), 0);
    n = 0;
    ck_assert_int_eq(sfrun_placement_opts(&o, &kv, &n), SFRUN_EXIT_USAGE);
    unlink(path);
    ck_assert_int_eq(PARSE(&o, "--hostfile", path, "prog"), 0);
    ck_assert_int_eq(sfrun_placement_opts(&o, &kv, &n), SFRUN_EXIT_USAGE);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sfrun");
    TCase *tc = tcase_create("args");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_n_spellings);
    tcase_add_test(tc, test_bad_n);
    tcase_add_test(tc, test_program_args_untouched);
    tcase_add_test(tc, test_xvars);
    tcase_add_test(tc, test_flags);
    tcase_add_test(tc, test_ignored_and_unknown);
    tcase_add_test(tc, test_actions);
    tcase_add_test(tc, test_check_program);
    tcase_add_test(tc, test_placement_flags);
    tcase_add_test(tc, test_placement_errors);
    tcase_add_test(tc, test_hostfile_opts);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_FORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
