/* Check suite for the admin tools' pure parts (launcher/sf_*.c): host lists
 * and hostfiles with their error messages, Slurm's task counts
 * (SLURM_TASKS_PER_NODE into host slots), the key file, status rows and
 * tables, the cluster record. Starting daemons is covered by the scripts
 * in tests/cluster/. Fork mode: each test in its own process. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "launcher/sf_int.h"
#include "runtime/base/sf_err.h"
#include "runtime/base/sf_wire.h"

START_TEST(test_host_list)
{
    struct sf_hostlist hl = {0};
    char err[256];
    ck_assert_int_eq(sf_hosts_parse_list(&hl, "a,b:2,c", err, sizeof(err)), 0);
    ck_assert_uint_eq(hl.n, 3);
    ck_assert_str_eq(hl.v[0].name, "a");
    ck_assert_int_eq(hl.v[0].slots, 0);
    ck_assert_int_eq(hl.v[1].slots, 2);
    /* Repeats merge: a listed twice is two slots, b:2 + b:3 is five. */
    ck_assert_int_eq(sf_hosts_parse_list(&hl, "a,b:3,node-7.example_x", err, sizeof(err)), 0);
    ck_assert_uint_eq(hl.n, 4);
    ck_assert_int_eq(hl.v[0].slots, 2);
    ck_assert_int_eq(hl.v[1].slots, 5);
    char *s = sf_hosts_format(&hl);
    ck_assert_str_eq(s, "a:2,b:5,c,node-7.example_x");
    free(s);
    sf_hosts_free(&hl);
    ck_assert_uint_eq(hl.n, 0);

    const char *bad[] = {"",        ",",  "a,",  ",a",  "a:",    "a:x", "a:0",
                         "a:65537", "-a", "a b", "a;b", "a:1:2", ".a"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        ck_assert_msg(sf_hosts_parse_list(&hl, bad[i], err, sizeof(err)) == -EINVAL, "'%s'",
                      bad[i]);
        ck_assert_msg(err[0] != '\0', "no message for '%s'", bad[i]);
        sf_hosts_free(&hl);
    }
}
END_TEST

static int parse_text(struct sf_hostlist *hl, const char *t, char *err, size_t len)
{
    return sf_hosts_parse_text(hl, t, strlen(t), "hf", err, len);
}

START_TEST(test_hostfile_text)
{
    struct sf_hostlist hl = {0};
    char err[256];
    const char *ok = "# cluster\n"
                     "n1 slots=4\n"
                     "\n"
                     "   n2\tslots=2 max_slots=8   # trailing comment\r\n"
                     "n3\n"
                     "n1 slots=1\n"
                     "n4 max-slots=3";
    ck_assert_int_eq(parse_text(&hl, ok, err, sizeof(err)), 0);
    ck_assert_uint_eq(hl.n, 4);
    char *s = sf_hosts_format(&hl);
    ck_assert_str_eq(s, "n1:5,n2:2,n3,n4");
    free(s);
    sf_hosts_free(&hl);

    struct {
        const char *text, *msg;
    } bad[] = {
        {"n1\nn2 slots=0\n", "hf:2: slots needs a number"},
        {"n1 slots=x\n", "hf:1: slots needs"},
        {"n1\n\n# c\nn!3\n", "hf:4: bad host name 'n!3'"},
        {"n1 cores=2\n", "hf:1: unknown attribute 'cores'"},
        {"n1 slots\n", "hf:1: expected key=value"},
        {"n1 max_slots=\n", "hf:1: max_slots needs"},
        {"# only comments\n\n", "hf: no hosts in file"},
        {"", "hf: no hosts in file"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        ck_assert_int_eq(parse_text(&hl, bad[i].text, err, sizeof(err)), -EINVAL);
        ck_assert_msg(strstr(err, bad[i].msg) != NULL, "case %zu: '%s' lacks '%s'", i, err,
                      bad[i].msg);
        sf_hosts_free(&hl);
    }
    /* NUL inside a line is refused, not truncated. */
    ck_assert_int_eq(sf_hosts_parse_text(&hl, "n1\0x\n", 5, "hf", err, sizeof(err)), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "hf:1:"));
    sf_hosts_free(&hl);
}
END_TEST

START_TEST(test_hostfile_read)
{
    char dir[] = "/tmp/check_sf_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/hosts", dir);
    struct sf_hostlist hl = {0};
    char err[512];
    ck_assert_int_eq(sf_hosts_read_file(&hl, path, err, sizeof(err)), -ENOENT);
    ck_assert_ptr_nonnull(strstr(err, path));
    FILE *f = fopen(path, "w");
    fputs("a slots=2\nb\n", f);
    fclose(f);
    ck_assert_int_eq(sf_hosts_read_file(&hl, path, err, sizeof(err)), 0);
    ck_assert_uint_eq(hl.n, 2);
    sf_hosts_free(&hl);
    /* Over 1 MiB: refused. */
    f = fopen(path, "w");
    for (int i = 0; i < 70000; i++) {
        fputs("# padding line\n", f);
    }
    fclose(f);
    ck_assert_int_eq(sf_hosts_read_file(&hl, path, err, sizeof(err)), -EFBIG);
    unlink(path);
    rmdir(dir);
}
END_TEST

static void read_key(const char *path, unsigned char *buf)
{
    int fd = open(path, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(read(fd, buf, 64), SF_KEY_LEN);
    close(fd);
}

START_TEST(test_keygen)
{
    char dir[] = "/tmp/check_sf_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[256], link[256];
    snprintf(path, sizeof(path), "%s/k", dir);
    snprintf(link, sizeof(link), "%s/l", dir);
    umask(0); /* the file must still be 0600 */
    ck_assert_int_eq(sf_keygen(path, false), 0);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    ck_assert_int_eq(st.st_size, SF_KEY_LEN);
    unsigned char a[64], b[64];
    read_key(path, a);
    ck_assert_int_eq(sf_keygen(path, false), -EEXIST);
    read_key(path, b);
    ck_assert_mem_eq(a, b, SF_KEY_LEN); /* untouched */
    ck_assert_int_eq(sf_keygen(path, true), 0);
    read_key(path, b);
    ck_assert(memcmp(a, b, SF_KEY_LEN) != 0);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    /* A symlink planted at the path is not followed. */
    ck_assert_int_eq(symlink(path, link), 0);
    ck_assert_int_ne(sf_keygen(link, false), 0);
    ck_assert_int_eq(sf_keygen(dir, false), -EEXIST);
    snprintf(link, sizeof(link), "%s/no/such/dir/k", dir);
    ck_assert_int_eq(sf_keygen(link, false), -ENOENT);
    snprintf(link, sizeof(link), "%s/l", dir);
    unlink(link);
    unlink(path);
    rmdir(dir);
}
END_TEST

static char *table(const struct sf_rows *r, const char *kind, size_t *nrows)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    *nrows = sf_rows_table(f, r, kind);
    fclose(f);
    return buf;
}

START_TEST(test_rows)
{
    struct sf_rows r = {0};
    const char *rows[] = {
        "version=0.1",
        "node name=n1 addr=127.0.0.1:7700 slots=2 state=alive",
        "node name=n22 addr=127.0.0.1:7701 slots=16 load=0.5 state=alive",
        "node name=n3 state=gone",
        "job=7 n=6 state=running",
        "drops.bad_mac=3",
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        ck_assert_int_eq(sf_rows_add(&r, rows[i], strlen(rows[i])), 0);
    }
    ck_assert_int_eq(sf_rows_count_alive(&r), 2);
    char v[64];
    ck_assert_str_eq(sf_row_get(rows[2], "load", v, sizeof(v)), "0.5");
    ck_assert_str_eq(sf_row_get(rows[1], "load", v, sizeof(v)), "");
    ck_assert_str_eq(sf_row_get(rows[1], "name", v, sizeof(v)), "n1");
    char kinds[8][32];
    ck_assert_uint_eq(sf_rows_kinds(&r, kinds, 8), 2);
    ck_assert_str_eq(kinds[0], "node");
    ck_assert_str_eq(kinds[1], "job");
    size_t n;
    char *t = table(&r, "node", &n);
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(t, "NAME  ADDR            SLOTS  LOAD  STATE\n"
                        "n1    127.0.0.1:7700  2      -     alive\n"
                        "n22   127.0.0.1:7701  16     0.5   alive\n"
                        "n3    -               -      -     gone\n");
    free(t);
    t = table(&r, "job", &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(t, "JOB  STATE    N\n7    running  6\n");
    free(t);
    t = table(&r, "", &n);
    ck_assert_uint_eq(n, 2);
    ck_assert_ptr_nonnull(strstr(t, "drops.bad_mac"));
    free(t);
    t = table(&r, "rank", &n);
    ck_assert_uint_eq(n, 0);
    free(t);
    sf_rows_free(&r);
    ck_assert_int_eq(sf_query_what("nodes"), SF_QUERY_NODES);
    ck_assert_int_eq(sf_query_what("bogus"), -EINVAL);
}
END_TEST

START_TEST(test_cluster_record)
{
    char dir[] = "/tmp/check_sf_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    struct sf_cluster *c = calloc(1, sizeof(*c));
    struct sf_cluster *d = calloc(1, sizeof(*d));
    snprintf(c->dir, sizeof(c->dir), "%s", dir);
    c->netns = true;
    c->base_port = 7300;
    snprintf(c->key, sizeof(c->key), "%s/cluster.key", dir);
    c->n = 3;
    for (int i = 0; i < 3; i++) {
        struct sf_cnode *nd = &c->nodes[i];
        nd->idx = i + 1;
        snprintf(nd->name, sizeof(nd->name), "n%d", i + 1);
        snprintf(nd->addr, sizeof(nd->addr), "10.250.0.%d:7300", i + 1);
        snprintf(nd->state, sizeof(nd->state), "%s/n%d", dir, i + 1);
        nd->pid = 100 + i;
        nd->start = 5000 + (unsigned)i;
    }
    char err[512];
    ck_assert_int_eq(sf_cluster_save(c, err, sizeof(err)), 0);
    ck_assert_int_eq(sf_cluster_load(d, dir, err, sizeof(err)), 0);
    ck_assert_int_eq(d->n, 3);
    ck_assert(d->netns);
    ck_assert_int_eq(d->base_port, 7300);
    ck_assert_str_eq(d->key, c->key);
    ck_assert_str_eq(d->nodes[2].addr, "10.250.0.3:7300");
    ck_assert_str_eq(d->nodes[2].ns, "sf-n3");
    ck_assert_int_eq(d->nodes[1].pid, 101);
    ck_assert_uint_eq(d->nodes[1].start, 5001);
    char sock[600];
    snprintf(sock, sizeof(sock), "%s/n1/sfd.sock", dir);
    ck_assert_str_eq(d->nodes[0].sock, sock);
    ck_assert_ptr_eq(sf_cluster_node(d, "n2"), &d->nodes[1]);
    ck_assert_ptr_eq(sf_cluster_node(d, "3"), &d->nodes[2]);
    ck_assert_ptr_eq(sf_cluster_node(d, "10.250.0.1:7300"), &d->nodes[0]);
    ck_assert_ptr_null(sf_cluster_node(d, "4"));
    ck_assert_ptr_null(sf_cluster_node(d, "n9"));
    /* The record's node lines follow the contract in sfd_int.h. */
    char p[600], line[700];
    snprintf(p, sizeof(p), "%s/cluster", dir);
    FILE *f = fopen(p, "r");
    ck_assert_ptr_nonnull(f);
    int nodes = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (line[0] != '#') {
            char want[700];
            snprintf(want, sizeof(want), "node n%d %s/n%d 10.250.0.%d:7300\n", nodes + 1, dir,
                     nodes + 1, nodes + 1);
            ck_assert_str_eq(line, want);
            nodes++;
        }
    }
    fclose(f);
    ck_assert_int_eq(nodes, 3);
    /* Not alive: pid 100 is not a process started at tick 5000. */
    ck_assert(!sf_cluster_node_alive(&d->nodes[0]));
    unlink(p);
    snprintf(p, sizeof(p), "%s/up", dir);
    unlink(p);
    ck_assert_int_ne(sf_cluster_load(d, dir, err, sizeof(err)), 0);
    ck_assert_ptr_nonnull(strstr(err, "no cluster recorded"));
    rmdir(dir);
    free(c);
    free(d);
}
END_TEST

START_TEST(test_default_dir)
{
    char buf[512];
    setenv("SF_CLUSTER_DIR", "/x/y", 1);
    ck_assert_int_eq(sf_cluster_default_dir(buf, sizeof(buf)), 0);
    ck_assert_str_eq(buf, "/x/y");
    unsetenv("SF_CLUSTER_DIR");
    setenv("XDG_RUNTIME_DIR", "/run/user/7", 1);
    ck_assert_int_eq(sf_cluster_default_dir(buf, sizeof(buf)), 0);
    ck_assert_str_eq(buf, "/run/user/7/starfish");
    unsetenv("XDG_RUNTIME_DIR");
    setenv("HOME", "/home/u", 1);
    ck_assert_int_eq(sf_cluster_default_dir(buf, sizeof(buf)), 0);
    ck_assert_str_eq(buf, "/home/u/.starfish");
    ck_assert_int_eq(sf_cluster_default_dir(buf, 8), -ENAMETOOLONG);
}
END_TEST

/* Queue a STATUS (or other) reply on fd before the query is made: the
 * socketpair buffers it, so no second process is needed. */
static void put_status(int fd, char **rows, size_t n)
{
    struct sf_wire_enc e;
    sf_wire_enc_begin(&e, SF_OP_STATUS, 9);
    sf_wire_put_strv(&e, rows, n);
    ck_assert_int_eq(sf_wire_enc_end(&e), 0);
    ck_assert_int_eq(sf_wire_write_all(fd, e.buf, e.len), 0);
    sf_wire_enc_free(&e);
}

START_TEST(test_query)
{
    signal(SIGPIPE, SIG_IGN);
    int sv[2];
    char err[256];
    struct sf_rows r = {0};
    /* sfd's own line format becomes node and job rows. */
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    char *sfd_rows[] = {"node=n1",
                        "id=00000000000000aa",
                        "port=7700",
                        "slots=2",
                        "peers=2",
                        "ranks=3",
                        "drop_bad_mac=4",
                        "peer=n2 00000000000000bb 127.0.0.1:7701 slots=4 heard_ms=5",
                        "peer=n3 00000000000000cc 127.0.0.1:7702 slots=1 heard_ms=7",
                        "job=12 ranks=6 local=2 live=2 coordinator"};
    put_status(sv[1], sfd_rows, sizeof(sfd_rows) / sizeof(sfd_rows[0]));
    ck_assert_int_eq(sf_query(sv[0], "nodes", 2.0, &r, err, sizeof(err)), 0);
    ck_assert_int_eq(sf_rows_count_alive(&r), 3);
    size_t n;
    char *t = table(&r, "node", &n);
    ck_assert_uint_eq(n, 3);
    ck_assert_ptr_nonnull(strstr(t, "NAME  ID                ADDR            SLOTS  RANKS  STATE"));
    ck_assert_ptr_nonnull(strstr(t, "n2    00000000000000bb  127.0.0.1:7701  4"));
    free(t);
    t = table(&r, "job", &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_ptr_nonnull(strstr(t, "coordinator"));
    free(t);
    char v[32];
    ck_assert_str_eq(sf_row_get(r.v[0], "state", v, sizeof(v)), "self");
    sf_rows_free(&r);
    /* The request on the wire: STATUS_REQ what=1. */
    uint8_t buf[256];
    ssize_t got = read(sv[1], buf, sizeof(buf));
    struct sf_wire_msg m;
    ck_assert_int_gt(got, 0);
    ck_assert_int_eq(sf_wire_decode(buf, (size_t)got, &m), got);
    ck_assert_uint_eq(m.op, SF_OP_STATUS_REQ);
    ck_assert_uint_eq(m.f[0].u, SF_QUERY_NODES);

    /* An ERROR reply: its text comes back. */
    struct sf_wire_enc e;
    sf_wire_enc_begin(&e, SF_OP_ERROR, 1);
    sf_wire_put_i32(&e, -EPERM);
    sf_wire_put_str(&e, "not yours");
    ck_assert_int_eq(sf_wire_enc_end(&e), 0);
    ck_assert_int_eq(sf_wire_write_all(sv[1], e.buf, e.len), 0);
    sf_wire_enc_free(&e);
    ck_assert_int_eq(sf_query(sv[0], "status", 2.0, &r, err, sizeof(err)), -EPERM);
    ck_assert_ptr_nonnull(strstr(err, "not yours"));

    /* Garbage: a corrupt answer, not a hang or a crash. */
    ck_assert_int_eq(write(sv[1], "XXXXXXXXXXXXXXXXXXXXXXXX", 24), 24);
    ck_assert_int_lt(sf_query(sv[0], "jobs", 2.0, &r, err, sizeof(err)), 0);
    ck_assert_ptr_nonnull(strstr(err, "corrupt"));
    close(sv[0]);
    close(sv[1]);

    /* Silence: bounded by the timeout. */
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ck_assert_int_eq(sf_query(sv[0], "nodes", 0.1, &r, err, sizeof(err)), -ETIMEDOUT);
    /* The daemon hangs up without answering. */
    shutdown(sv[1], SHUT_WR);
    ck_assert_int_eq(sf_query(sv[0], "nodes", 2.0, &r, err, sizeof(err)), SF_ERR_UNSUPPORTED);
    close(sv[1]);
    /* Gone entirely: the send fails. */
    ck_assert_int_lt(sf_query(sv[0], "nodes", 2.0, &r, err, sizeof(err)), 0);
    close(sv[0]);
    ck_assert_int_eq(sf_query(sv[0], "bogus", 2.0, &r, err, sizeof(err)), -EINVAL);
    ck_assert_uint_eq(r.n, 0);
}
END_TEST

/* ---- Slurm's task counts ---- */

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
    Suite *s = suite_create("sf");
    TCase *tc = tcase_create("tools");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_host_list);
    tcase_add_test(tc, test_hostfile_text);
    tcase_add_test(tc, test_hostfile_read);
    tcase_add_test(tc, test_tasks_ok);
    tcase_add_test(tc, test_tasks_bad);
    tcase_add_test(tc, test_tasks_count_mismatch);
    tcase_add_test(tc, test_keygen);
    tcase_add_test(tc, test_rows);
    tcase_add_test(tc, test_cluster_record);
    tcase_add_test(tc, test_default_dir);
    tcase_add_test(tc, test_query);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_FORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
