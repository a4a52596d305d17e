/* Check suite for the daemon's pure parts: rank placement (sfd_place.c)
 * and the peer MAC layer (sfd_auth.c: sealing, wrong keys, replays, key
 * files). The daemon's processes are tested by tests/cluster/sfd_*.sh.
 * Fork mode; each test single-threaded. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "launcher/sfd/sfd_int.h"
#include "runtime/base/sf_err.h"

static const struct sf_sfd_place_node three[] = {{"n1", 2}, {"n2", 2}, {"n3", 2}};

static void place_ok(const struct sf_sfd_place_node *nodes, int nn, struct sf_sfd_place_req req,
                     const int *want)
{
    int got[64];
    char err[256] = "";
    int rc = sf_sfd__place(nodes, nn, &req, got, err, sizeof(err));
    ck_assert_msg(rc == 0, "placement failed: %s", err);
    for (int i = 0; i < req.n; i++) {
        ck_assert_msg(got[i] == want[i], "rank %d on node %d, want %d", i, got[i], want[i]);
    }
}

START_TEST(place_by_slot)
{
    place_ok(three, 3, (struct sf_sfd_place_req){.n = 6}, (int[]){0, 0, 1, 1, 2, 2});
    place_ok(three, 3, (struct sf_sfd_place_req){.n = 3}, (int[]){0, 0, 1});
    /* Beyond the slots: the same pattern again. */
    place_ok(three, 3, (struct sf_sfd_place_req){.n = 8, .oversubscribe = true},
             (int[]){0, 0, 1, 1, 2, 2, 0, 0});
}
END_TEST

START_TEST(place_by_node)
{
    place_ok(three, 3, (struct sf_sfd_place_req){.n = 6, .map_by_node = true},
             (int[]){0, 1, 2, 0, 1, 2});
    static const struct sf_sfd_place_node uneven[] = {{"a", 1}, {"b", 3}};
    place_ok(uneven, 2, (struct sf_sfd_place_req){.n = 4, .map_by_node = true},
             (int[]){0, 1, 1, 1});
    place_ok(uneven, 2, (struct sf_sfd_place_req){.n = 5, .map_by_node = true, .oversubscribe = true},
             (int[]){0, 1, 1, 1, 0});
}
END_TEST

START_TEST(place_npernode)
{
    place_ok(three, 3, (struct sf_sfd_place_req){.n = 3, .npernode = 1}, (int[]){0, 1, 2});
    place_ok(three, 3, (struct sf_sfd_place_req){.n = 4, .npernode = 2}, (int[]){0, 0, 1, 1});
    int got[8];
    char err[256];
    struct sf_sfd_place_req r = {.n = 7, .npernode = 2};
    ck_assert_int_eq(sf_sfd__place(three, 3, &r, got, err, sizeof(err)), -ENOSPC);
    ck_assert_ptr_nonnull(strstr(err, "2 per node"));
    r = (struct sf_sfd_place_req){.n = 3, .npernode = 3};
    ck_assert_int_eq(sf_sfd__place(three, 3, &r, got, err, sizeof(err)), -ENOSPC);
    r.oversubscribe = true;
    ck_assert_int_eq(sf_sfd__place(three, 3, &r, got, err, sizeof(err)), 0);
}
END_TEST

START_TEST(place_hosts)
{
    place_ok(three, 3, (struct sf_sfd_place_req){.n = 4, .hosts = "n3,n1"}, (int[]){2, 2, 0, 0});
    place_ok(three, 3, (struct sf_sfd_place_req){.n = 4, .hosts = "n2:1,n3:3"},
             (int[]){1, 2, 2, 2});
    /* A repeated host adds slots. */
    place_ok(three, 3, (struct sf_sfd_place_req){.n = 4, .hosts = "n2:1,n2:1,n1"},
             (int[]){1, 1, 0, 0});
    /* Nodes named host:port match by full name or by host when unique. */
    static const struct sf_sfd_place_node ported[] = {{"vm:7301", 1}, {"box:7302", 2}};
    place_ok(ported, 2, (struct sf_sfd_place_req){.n = 2, .hosts = "vm:7301:2"}, (int[]){0, 0});
    place_ok(ported, 2, (struct sf_sfd_place_req){.n = 3, .hosts = "box,vm"}, (int[]){1, 1, 0});
    int got[8];
    char err[256];
    struct sf_sfd_place_req r = {.n = 2, .hosts = "n9"};
    ck_assert_int_eq(sf_sfd__place(three, 3, &r, got, err, sizeof(err)), -ENOENT);
    ck_assert_ptr_nonnull(strstr(err, "n9"));
    r.hosts = "n1:x";
    ck_assert_int_eq(sf_sfd__place(three, 3, &r, got, err, sizeof(err)), -EINVAL);
    r.hosts = "n1,,n2";
    ck_assert_int_eq(sf_sfd__place(three, 3, &r, got, err, sizeof(err)), -EINVAL);
}
END_TEST

START_TEST(place_limits)
{
    int got[8];
    char err[256];
    struct sf_sfd_place_req r = {.n = 7};
    ck_assert_int_eq(sf_sfd__place(three, 3, &r, got, err, sizeof(err)), -ENOSPC);
    ck_assert_ptr_nonnull(strstr(err, "6 slots"));
    r.n = 0;
    ck_assert_int_eq(sf_sfd__place(three, 3, &r, got, err, sizeof(err)), -EINVAL);
    r.n = 1;
    ck_assert_int_eq(sf_sfd__place(three, 0, &r, got, err, sizeof(err)), -EINVAL);
}
END_TEST

/* Seal a PING into buf; returns its length. */
static size_t seal_ping(struct sf_sfd_auth *a, uint64_t v, uint8_t *buf)
{
    struct sf_wire_enc e;
    sf_wire_enc_begin(&e, SF_OP_PEER_PING, sf_sfd__auth_next_seq(a));
    sf_wire_put_u64(&e, v);
    ck_assert_int_eq(sf_wire_enc_end(&e), 0);
    memcpy(buf, e.buf, e.len);
    sf_sfd__auth_mac(a, e.buf, e.len, buf + e.len);
    size_t n = e.len + SFD_MAC_LEN;
    sf_wire_enc_free(&e);
    return n;
}

static void pair(struct sf_sfd_auth *c, struct sf_sfd_auth *s, const uint8_t *kc,
                 const uint8_t *ks)
{
    uint8_t nc[SFD_NONCE_LEN], na[SFD_NONCE_LEN];
    sf_sfd__auth_random(nc, sizeof(nc));
    sf_sfd__auth_random(na, sizeof(na));
    sf_sfd__auth_init(c, kc);
    sf_sfd__auth_init(s, ks);
    sf_sfd__auth_session(c, nc, na, true);
    sf_sfd__auth_session(s, nc, na, false);
}

START_TEST(auth_roundtrip_and_replay)
{
    ck_assert_int_eq(sf_sfd__auth_global_init(), 0);
    uint8_t key[SFD_KEY_LEN] = {7};
    struct sf_sfd_auth c, s;
    pair(&c, &s, key, key);
    uint8_t f1[256], f2[256];
    size_t l1 = seal_ping(&c, 11, f1), l2 = seal_ping(&c, 22, f2);
    struct sf_wire_msg m;
    enum sf_sfd_drop why;
    /* Byte by byte: nothing until the frame is whole. */
    for (size_t i = 0; i < l1; i++) {
        ck_assert_int_eq(sf_sfd__auth_open(&s, f1, i, &m, &why), 0);
    }
    ck_assert_int_eq(sf_sfd__auth_open(&s, f1, l1, &m, &why), (long)l1);
    ck_assert_int_eq(why, SFD_DROP_NONE);
    ck_assert_uint_eq(m.f[0].u, 11);
    /* The same frame again: skipped as a replay. */
    ck_assert_int_eq(sf_sfd__auth_open(&s, f1, l1, &m, &why), (long)l1);
    ck_assert_int_eq(why, SFD_DROP_REPLAY);
    ck_assert_int_eq(sf_sfd__auth_open(&s, f2, l2, &m, &why), (long)l2);
    ck_assert_int_eq(why, SFD_DROP_NONE);
    ck_assert_uint_eq(m.f[0].u, 22);
    /* A frame reflected back to its sender fails (keys per direction). */
    ck_assert_int_lt(sf_sfd__auth_open(&c, f2, l2, &m, &why), 0);
    ck_assert_int_eq(why, SFD_DROP_MAC);
}
END_TEST

START_TEST(auth_wrong_key_and_tamper)
{
    ck_assert_int_eq(sf_sfd__auth_global_init(), 0);
    uint8_t k1[SFD_KEY_LEN] = {1}, k2[SFD_KEY_LEN] = {2};
    struct sf_sfd_auth c, s;
    pair(&c, &s, k1, k2);
    uint8_t f[256];
    size_t l = seal_ping(&c, 1, f);
    struct sf_wire_msg m;
    enum sf_sfd_drop why;
    ck_assert_int_lt(sf_sfd__auth_open(&s, f, l, &m, &why), 0);
    ck_assert_int_eq(why, SFD_DROP_MAC);
    pair(&c, &s, k1, k1);
    l = seal_ping(&c, 1, f);
    f[20] ^= 0x40;
    ck_assert_int_lt(sf_sfd__auth_open(&s, f, l, &m, &why), 0);
    ck_assert_int_eq(why, SFD_DROP_MAC);
    /* Garbage is recognised from its first bytes. */
    uint8_t g[4] = {'G', 'E', 'T', ' '};
    ck_assert_int_lt(sf_sfd__auth_open(&s, g, sizeof(g), &m, &why), 0);
    ck_assert_int_eq(why, SFD_DROP_GARBAGE);
}
END_TEST

START_TEST(auth_datagram)
{
    ck_assert_int_eq(sf_sfd__auth_global_init(), 0);
    uint8_t k1[SFD_KEY_LEN] = {1}, k2[SFD_KEY_LEN] = {2}, mac[SFD_MAC_LEN];
    uint8_t pkt[100];
    memset(pkt, 0x5a, sizeof(pkt));
    sf_sfd__auth_sign_buf(k1, pkt, sizeof(pkt), mac);
    ck_assert_int_eq(sf_sfd__auth_verify_buf(k1, pkt, sizeof(pkt), mac), 0);
    ck_assert_int_ne(sf_sfd__auth_verify_buf(k2, pkt, sizeof(pkt), mac), 0);
    pkt[99] ^= 1;
    ck_assert_int_ne(sf_sfd__auth_verify_buf(k1, pkt, sizeof(pkt), mac), 0);
}
END_TEST

START_TEST(key_file)
{
    ck_assert_int_eq(sf_sfd__auth_global_init(), 0);
    char dir[] = "/tmp/check_sfd.XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/key", dir);
    uint8_t k1[SFD_KEY_LEN], k2[SFD_KEY_LEN];
    ck_assert_int_eq(sf_sfd__key_load(path, false, k1), -ENOENT);
    ck_assert_int_eq(sf_sfd__key_load(path, true, k1), 0);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    ck_assert_int_eq(st.st_size, SFD_KEY_LEN);
    ck_assert_int_eq(sf_sfd__key_load(path, true, k2), 0);
    ck_assert_mem_eq(k1, k2, SFD_KEY_LEN);
    chmod(path, 0644);
    ck_assert_int_lt(sf_sfd__key_load(path, false, k2), 0); /* readable by others */
    unlink(path);
    rmdir(dir);
}
END_TEST

/* ---- node record and beacon ---- */

static const char good_rec[] = "sfnode1 id=0123456789abcdef inc=fedcba9876543210 name=n1 "
                               "host=10.0.0.1 port=7300 slots=4 ranks=2 load=150 version=0.1.0";

START_TEST(record_roundtrip)
{
    struct sf_sfd_record r, again;
    ck_assert_int_eq(sf_sfd__record_parse((const uint8_t *)good_rec, strlen(good_rec), &r), 0);
    ck_assert_uint_eq(r.id, 0x0123456789abcdefull);
    ck_assert_uint_eq(r.inc, 0xfedcba9876543210ull);
    ck_assert_str_eq(r.name, "n1");
    ck_assert_str_eq(r.host, "10.0.0.1");
    ck_assert_uint_eq(r.port, 7300);
    ck_assert_int_eq(r.slots, 4);
    ck_assert_int_eq(r.ranks, 2);
    ck_assert_uint_eq(r.load, 150);
    ck_assert_str_eq(r.version, "0.1.0");
    char text[SFD_RECORD_MAX + 1];
    int n = sf_sfd__record_format(&r, text, sizeof(text));
    ck_assert_int_eq(n, (int)strlen(good_rec));
    ck_assert_str_eq(text, good_rec);
    ck_assert_int_eq(sf_sfd__record_parse((const uint8_t *)text, (size_t)n, &again), 0);
    ck_assert_mem_eq(&r, &again, sizeof(r));
}
END_TEST

START_TEST(record_rejects)
{
    static const char *const bad[] = {
        "",
        "sfnode2 id=0123456789abcdef inc=fedcba9876543210 name=n1 host=h port=1 slots=1 "
        "ranks=0 load=0 version=v",
        /* short id, port 0, port too big, zero slots, a field missing,
         * a trailing field, fields swapped, a space doubled, upper-case hex */
        "sfnode1 id=0123 inc=fedcba9876543210 name=n1 host=h port=1 slots=1 ranks=0 load=0 "
        "version=v",
        "sfnode1 id=0123456789abcdef inc=fedcba9876543210 name=n1 host=h port=0 slots=1 "
        "ranks=0 load=0 version=v",
        "sfnode1 id=0123456789abcdef inc=fedcba9876543210 name=n1 host=h port=65536 slots=1 "
        "ranks=0 load=0 version=v",
        "sfnode1 id=0123456789abcdef inc=fedcba9876543210 name=n1 host=h port=1 slots=0 "
        "ranks=0 load=0 version=v",
        "sfnode1 id=0123456789abcdef inc=fedcba9876543210 name=n1 host=h port=1 slots=1 "
        "ranks=0 load=0",
        "sfnode1 id=0123456789abcdef inc=fedcba9876543210 name=n1 host=h port=1 slots=1 "
        "ranks=0 load=0 version=v x=1",
        "sfnode1 inc=fedcba9876543210 id=0123456789abcdef name=n1 host=h port=1 slots=1 "
        "ranks=0 load=0 version=v",
        "sfnode1 id=0123456789abcdef  inc=fedcba9876543210 name=n1 host=h port=1 slots=1 "
        "ranks=0 load=0 version=v",
        "sfnode1 id=0123456789ABCDEF inc=fedcba9876543210 name=n1 host=h port=1 slots=1 "
        "ranks=0 load=0 version=v",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct sf_sfd_record r;
        ck_assert_msg(sf_sfd__record_parse((const uint8_t *)bad[i], strlen(bad[i]), &r) ==
                          SF_ERR_PROTO,
                      "accepted: %s", bad[i]);
    }
    /* A control byte inside a value, and a NUL. */
    char text[sizeof(good_rec)];
    memcpy(text, good_rec, sizeof(good_rec));
    char *nm = strstr(text, "name=n1") + 5;
    struct sf_sfd_record r;
    *nm = '\n';
    ck_assert_int_eq(sf_sfd__record_parse((const uint8_t *)text, strlen(good_rec), &r),
                     SF_ERR_PROTO);
    *nm = '\0';
    ck_assert_int_eq(sf_sfd__record_parse((const uint8_t *)text, strlen(good_rec), &r),
                     SF_ERR_PROTO);
}
END_TEST

START_TEST(beacon_codec)
{
    ck_assert_int_eq(sf_sfd__auth_global_init(), 0);
    uint8_t key[SFD_KEY_LEN] = {7}, other[SFD_KEY_LEN] = {8};
    uint8_t b[SFD_BEACON_LEN];
    sf_sfd__beacon_encode(key, 0x1122334455667788ull, 42, 7300, b);
    uint64_t id, inc;
    uint16_t port;
    ck_assert_int_eq(sf_sfd__beacon_decode(key, b, sizeof(b), &id, &inc, &port), 0);
    ck_assert_uint_eq(id, 0x1122334455667788ull);
    ck_assert_uint_eq(inc, 42);
    ck_assert_uint_eq(port, 7300);
    ck_assert_int_eq(sf_sfd__beacon_decode(other, b, sizeof(b), &id, &inc, &port), -EACCES);
    ck_assert_int_eq(sf_sfd__beacon_decode(key, b, sizeof(b) - 1, &id, &inc, &port),
                     SF_ERR_PROTO);
    b[21] ^= 1; /* the port, under the MAC */
    ck_assert_int_eq(sf_sfd__beacon_decode(key, b, sizeof(b), &id, &inc, &port), -EACCES);
    sf_sfd__beacon_encode(key, 1, 2, 0, b);
    ck_assert_int_eq(sf_sfd__beacon_decode(key, b, sizeof(b), &id, &inc, &port), SF_ERR_PROTO);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sfd");
    TCase *tc = tcase_create("place");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, place_by_slot);
    tcase_add_test(tc, place_by_node);
    tcase_add_test(tc, place_npernode);
    tcase_add_test(tc, place_hosts);
    tcase_add_test(tc, place_limits);
    suite_add_tcase(s, tc);
    tc = tcase_create("auth");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, auth_roundtrip_and_replay);
    tcase_add_test(tc, auth_wrong_key_and_tamper);
    tcase_add_test(tc, auth_datagram);
    tcase_add_test(tc, key_file);
    suite_add_tcase(s, tc);
    tc = tcase_create("record");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, record_roundtrip);
    tcase_add_test(tc, record_rejects);
    tcase_add_test(tc, beacon_codec);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_FORK);
    srunner_run_all(sr, CK_NORMAL);
    int nf = srunner_ntests_failed(sr);
    srunner_free(sr);
    return nf == 0 ? 0 : 1;
}
