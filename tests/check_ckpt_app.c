/* Check suite for the app backend (checkpoint/): the image codec (round
 * trip, every corruption refused), the region table, and a whole
 * checkpoint / restart cycle of sf_ckpt.h against a stand-in daemon on a
 * socketpair (a forked child answering CKPT_STORED with CKPT_COMMIT). */
#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "checkpoint/ckpt_app_int.h"
#include "checkpoint/sf_ckpt.h"
#include "runtime/base/sf_crc.h"
#include "runtime/base/sf_env.h"
#include "runtime/base/sf_wire.h"

/* Build a whole image of the given regions into a malloc'd buffer. */
static uint8_t *make_image(uint32_t n, const uint32_t *ids, const char **data, size_t *len)
{
    struct sf_ckpt_image_hdr h = {.job = 42, .epoch = 5, .rank = 3, .nregions = n};
    struct sf_ckpt_image_region r[8];
    size_t total = SF_CKPT_IMAGE_HDR + n * SF_CKPT_IMAGE_ENTRY + 4;
    for (uint32_t i = 0; i < n; i++) {
        r[i].id = ids[i];
        r[i].size = strlen(data[i]);
        total += r[i].size;
    }
    uint8_t *buf = malloc(total);
    long hl = sf_ckpt__image_head(&h, r, buf, total);
    ck_assert_int_gt(hl, 0);
    size_t off = (size_t)hl;
    for (uint32_t i = 0; i < n; i++) {
        memcpy(buf + off, data[i], r[i].size);
        off += r[i].size;
    }
    uint32_t crc = sf_crc32c(buf, off);
    buf[off] = (uint8_t)(crc >> 24);
    buf[off + 1] = (uint8_t)(crc >> 16);
    buf[off + 2] = (uint8_t)(crc >> 8);
    buf[off + 3] = (uint8_t)crc;
    *len = off + 4;
    return buf;
}

START_TEST(image_round_trip)
{
    uint32_t ids[3] = {7, 1, 900};
    const char *data[3] = {"first region", "", "third"};
    size_t len;
    uint8_t *buf = make_image(3, ids, data, &len);
    struct sf_ckpt_image_hdr h;
    struct sf_ckpt_image_region r[SF_CKPT_MAX_REGIONS];
    ck_assert_int_eq(sf_ckpt__image_decode(buf, len, &h, r, SF_CKPT_MAX_REGIONS), 0);
    ck_assert_uint_eq(h.job, 42);
    ck_assert_uint_eq(h.epoch, 5);
    ck_assert_uint_eq(h.rank, 3);
    ck_assert_uint_eq(h.nregions, 3);
    for (int i = 0; i < 3; i++) {
        ck_assert_uint_eq(r[i].id, ids[i]);
        ck_assert_uint_eq(r[i].size, strlen(data[i]));
        ck_assert(memcmp(buf + r[i].off, data[i], r[i].size) == 0);
    }
    /* Too small a region array: refused, nothing written past it. */
    ck_assert_int_eq(sf_ckpt__image_decode(buf, len, &h, r, 2), -E2BIG);
    free(buf);
}
END_TEST

START_TEST(image_corruption_refused)
{
    uint32_t ids[2] = {1, 2};
    const char *data[2] = {"abc", "defgh"};
    size_t len;
    uint8_t *buf = make_image(2, ids, data, &len);
    struct sf_ckpt_image_hdr h;
    struct sf_ckpt_image_region r[SF_CKPT_MAX_REGIONS];
    /* Every single-bit flip anywhere is caught (CRC, or a header check). */
    for (size_t i = 0; i < len; i++) {
        for (int b = 0; b < 8; b++) {
            buf[i] ^= (uint8_t)(1u << b);
            ck_assert_int_ne(sf_ckpt__image_decode(buf, len, &h, r, SF_CKPT_MAX_REGIONS), 0);
            buf[i] ^= (uint8_t)(1u << b);
        }
    }
    /* Every truncation and an extra byte are refused. */
    for (size_t l = 0; l < len; l++) {
        ck_assert_int_ne(sf_ckpt__image_decode(buf, l, &h, r, SF_CKPT_MAX_REGIONS), 0);
    }
    uint8_t *big = malloc(len + 1);
    memcpy(big, buf, len);
    big[len] = 0;
    ck_assert_int_ne(sf_ckpt__image_decode(big, len + 1, &h, r, SF_CKPT_MAX_REGIONS), 0);
    free(big);
    free(buf);
    /* Duplicate ids are refused even with a right CRC. */
    uint32_t dup[2] = {4, 4};
    buf = make_image(2, dup, data, &len);
    ck_assert_int_eq(sf_ckpt__image_decode(buf, len, &h, r, SF_CKPT_MAX_REGIONS), -EBADMSG);
    free(buf);
}
END_TEST

START_TEST(protect_table)
{
    int a = 1, b = 2;
    ck_assert_int_eq(sf_ckpt_protect(1, &a, sizeof(a)), 0);
    ck_assert_int_eq(sf_ckpt_protect(1, &b, sizeof(b)), 0); /* re-register */
    ck_assert_int_eq(sf_ckpt_protect(2, NULL, 4), -EINVAL);
    ck_assert_int_eq(sf_ckpt_protect(2, NULL, 0), 0);
    ck_assert_int_eq(sf_ckpt_unprotect(2), 0);
    ck_assert_int_eq(sf_ckpt_unprotect(2), -ENOENT);
    static char many[SF_CKPT_MAX_REGIONS + 1];
    for (uint32_t i = 1; i < SF_CKPT_MAX_REGIONS; i++) {
        ck_assert_int_eq(sf_ckpt_protect(100 + i, &many[i], 1), 0);
    }
    ck_assert_int_eq(sf_ckpt_protect(99999, &many[0], 1), -ENOSPC);
    /* Outside sfrun there is no daemon to commit to. */
    unsetenv(SF_ENV_SFD_FD);
    ck_assert_int_eq(sf_ckpt_checkpoint(), -ENOTCONN);
    ck_assert_uint_eq(sf_ckpt_restarted(), 0);
    ck_assert_int_eq(sf_ckpt_recover(), -ENOENT);
}
END_TEST

/* The stand-in daemon: answer 'rounds' CKPT_STORED frames with CKPT_COMMIT
 * (status 'answer'), checking epochs count up from first_epoch. */
static void fake_daemon(int fd, int rounds, uint32_t first_epoch, int answer)
{
    struct sf_wire_rx rx;
    sf_wire_rx_init(&rx);
    for (int k = 0; k < rounds;) {
        struct sf_wire_msg m;
        int rc = sf_wire_rx_next(&rx, &m);
        if (rc < 0) {
            _exit(2);
        }
        if (rc == 0) {
            if (sf_wire_rx_fill(&rx, fd) <= 0) {
                _exit(3);
            }
            continue;
        }
        if (m.op != SF_OP_CKPT_STORED || m.f[0].u != 77 || m.f[1].i != 2 ||
            m.f[2].u != first_epoch + (uint32_t)k || m.f[4].i != 0 || m.f[3].u == 0) {
            _exit(4);
        }
        struct sf_wire_enc e;
        sf_wire_enc_begin(&e, SF_OP_CKPT_COMMIT, 0);
        sf_wire_put_u64(&e, 77);
        sf_wire_put_u32(&e, (uint32_t)m.f[2].u);
        sf_wire_put_i32(&e, answer);
        sf_wire_put_str(&e, answer == 0 ? "" : "rank 1 could not store its image");
        if (sf_wire_enc_end(&e) != 0 || sf_wire_write_all(fd, e.buf, e.len) != 0) {
            _exit(5);
        }
        sf_wire_enc_free(&e);
        k++;
    }
    _exit(0);
}

static char tmpdir[64];

static void set_rank_env(int fd)
{
    char num[16];
    snprintf(num, sizeof(num), "%d", fd);
    setenv(SF_ENV_SFD_FD, num, 1);
    setenv(SF_ENV_RANK, "2", 1);
    setenv(SF_ENV_JOB, "77", 1);
    setenv(SF_CKPT_ENV_KEY, "1234", 1);
    strcpy(tmpdir, "/tmp/check_ckpt_app.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    setenv(SF_CKPT_ENV_IMAGES, tmpdir, 1);
}

START_TEST(checkpoint_then_recover)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        fake_daemon(sv[1], 2, 1, 0);
    }
    close(sv[1]);
    set_rank_env(sv[0]);
    double field[100];
    long step = 0;
    for (int i = 0; i < 100; i++) {
        field[i] = i * 0.5;
    }
    ck_assert_int_eq(sf_ckpt_protect(1, field, sizeof(field)), 0);
    ck_assert_int_eq(sf_ckpt_protect(2, &step, sizeof(step)), 0);
    step = 10;
    ck_assert_int_eq(sf_ckpt_checkpoint(), 0);
    ck_assert_uint_eq(sf_ckpt_epoch(), 1);
    step = 20;
    field[7] = -1;
    ck_assert_int_eq(sf_ckpt_checkpoint(), 0);
    ck_assert_uint_eq(sf_ckpt_epoch(), 2);
    int ws;
    ck_assert_int_eq(waitpid(pid, &ws, 0), pid);
    ck_assert(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);

    /* A restarted process: a fresh program (this one, exec'd with
     * --restarted) with SF_CKPT_RESTART=2 gets epoch 2's regions back. */
    pid = fork();
    if (pid == 0) {
        setenv(SF_CKPT_ENV_RESTART, "2", 1);
        execl("/proc/self/exe", "check_ckpt_app", "--restarted", (char *)NULL);
        _exit(99);
    }
    ck_assert_int_eq(waitpid(pid, &ws, 0), pid);
    ck_assert(WIFEXITED(ws));
    ck_assert_int_eq(WEXITSTATUS(ws), 0);
    /* Corrupt epoch 2's image: recovery refuses it. */
    char path[128];
    snprintf(path, sizeof(path), "%s/2/rank-2", tmpdir);
    FILE *f = fopen(path, "r+b");
    ck_assert_ptr_nonnull(f);
    fseek(f, 60, SEEK_SET);
    fputc('X', f);
    fclose(f);
    pid = fork();
    if (pid == 0) {
        setenv(SF_CKPT_ENV_RESTART, "2", 1);
        execl("/proc/self/exe", "check_ckpt_app", "--corrupt", (char *)NULL);
        _exit(99);
    }
    ck_assert_int_eq(waitpid(pid, &ws, 0), pid);
    ck_assert_int_eq(WEXITSTATUS(ws), 0);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(checkpoint_aborted)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        fake_daemon(sv[1], 2, 1, -EIO);
    }
    close(sv[1]);
    set_rank_env(sv[0]);
    int x = 5;
    sf_ckpt_protect(3, &x, sizeof(x));
    ck_assert_int_eq(sf_ckpt_checkpoint(), -EIO);
    ck_assert_uint_eq(sf_ckpt_epoch(), 0); /* nothing committed */
    ck_assert_int_eq(sf_ckpt_checkpoint(), -EIO); /* next epoch number: 2 */
    int ws;
    ck_assert_int_eq(waitpid(pid, &ws, 0), pid);
    ck_assert(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(checkpoint_off)
{
    setenv(SF_ENV_SFD_FD, "0", 1);
    setenv(SF_ENV_RANK, "0", 1);
    setenv(SF_ENV_JOB, "1", 1);
    unsetenv(SF_CKPT_ENV_IMAGES);
    ck_assert_int_eq(sf_ckpt_checkpoint(), -ENOTSUP);
}
END_TEST

/* The restarted side of checkpoint_then_recover, in a fresh process. */
static int restarted_main(bool corrupt)
{
    double f2[100] = {0};
    long s2 = 0;
    sf_ckpt_protect(1, f2, sizeof(f2));
    sf_ckpt_protect(2, &s2, sizeof(s2));
    if (corrupt) {
        return sf_ckpt_recover() == -EBADMSG ? 0 : 1;
    }
    if (sf_ckpt_restarted() != 2 || sf_ckpt_epoch() != 2 || sf_ckpt_recover() != 0 ||
        s2 != 20 || f2[7] != -1 || f2[9] != 4.5) {
        return 1;
    }
    /* A region of another size is refused and nothing is copied. */
    char small[3] = {0};
    sf_ckpt_protect(1, small, sizeof(small));
    s2 = 0;
    return sf_ckpt_recover() == -EINVAL && s2 == 0 ? 0 : 2;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--restarted") == 0) {
        return restarted_main(false);
    }
    if (argc == 2 && strcmp(argv[1], "--corrupt") == 0) {
        return restarted_main(true);
    }
    Suite *s = suite_create("ckpt_app");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, image_round_trip);
    tcase_add_test(tc, image_corruption_refused);
    tcase_add_test(tc, protect_table);
    tcase_add_test(tc, checkpoint_then_recover);
    tcase_add_test(tc, checkpoint_aborted);
    tcase_add_test(tc, checkpoint_off);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_FORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
