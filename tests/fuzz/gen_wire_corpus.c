/* One-off generator for tests/fuzz/corpus/wire: a valid frame of every op,
 * multi-frame streams, and corrupt frames of each kind the decoder must
 * refuse. Run by hand (make tests/fuzz/gen_wire_corpus; ./... DIR); the
 * output is committed. Single-threaded. */
#include "runtime/base/sf_wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *dir;

static void save(const char *name, const uint8_t *p, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

static char *const argv_v[] = {"./ring", "-n", "100"};
static char *const env_v[] = {"PATH=/usr/bin:/bin", "OMP_NUM_THREADS=1", "LANG=C.UTF-8"};
static char *const opt_v[] = {"ft=restart", "tag-output=1"};
static const int32_t nodes[] = {0, 0, 1, 1};

/* A realistic instance of each op. */
static void build(struct sf_wire_enc *e, uint8_t op, uint32_t seq)
{
    sf_wire_enc_begin(e, op, seq);
    switch (op) {
    case SF_OP_RANK_HELLO:
        sf_wire_put_u64(e, 0x1234567890ull);
        sf_wire_put_i32(e, 3);
        sf_wire_put_i32(e, 4242);
        break;
    case SF_OP_RANK_ADDR:
        sf_wire_put_i32(e, 3);
        sf_wire_put_bytes(e, "\x02\x00\x13\x88\x7f\x00\x00\x01\0\0\0\0\0\0\0\0", 16);
        break;
    case SF_OP_RANK_FINALIZE:
        sf_wire_put_i32(e, 3);
        break;
    case SF_OP_RANK_ABORT:
        sf_wire_put_i32(e, 1);
        sf_wire_put_i32(e, 17);
        sf_wire_put_str(e, "MPI_Abort called on MPI_COMM_WORLD");
        break;
    case SF_OP_ADDR_TABLE: {
        sf_wire_put_u32(e, 1);
        sf_wire_put_i32v(e, nodes, 4);
        uint8_t blobs[4 * 7];
        for (int r = 0; r < 4; r++) {
            memcpy(blobs + r * 7, "\0\0\0\3abc", 7);
            blobs[r * 7 + 6] = (uint8_t)('0' + r);
        }
        sf_wire_put_bytes(e, blobs, sizeof blobs);
        break;
    }
    case SF_OP_KILL:
        sf_wire_put_str(e, "rank 2 on node1 exited with status 1");
        break;
    case SF_OP_JOB_SUBMIT:
        sf_wire_put_i32(e, 4);
        sf_wire_put_u32(e, 1);
        sf_wire_put_strv(e, argv_v, 3);
        sf_wire_put_strv(e, env_v, 3);
        sf_wire_put_str(e, "/home/user");
        sf_wire_put_strv(e, opt_v, 2);
        break;
    case SF_OP_STDIN:
        sf_wire_put_bytes(e, "line of input\n", 14);
        break;
    case SF_OP_SIGNAL:
        sf_wire_put_i32(e, 2);
        break;
    case SF_OP_JOB_STARTED:
        sf_wire_put_u64(e, 77);
        sf_wire_put_i32(e, 4);
        break;
    case SF_OP_OUTPUT:
        sf_wire_put_i32(e, 0);
        sf_wire_put_u8(e, 1);
        sf_wire_put_bytes(e, "Hello from rank 0 of 4\n", 23);
        break;
    case SF_OP_RANK_EXIT:
        sf_wire_put_i32(e, 2);
        sf_wire_put_i32(e, 139);
        sf_wire_put_str(e, "killed by signal 11 (Segmentation fault)");
        break;
    case SF_OP_JOB_DONE:
        sf_wire_put_i32(e, 0);
        sf_wire_put_str(e, "");
        break;
    case SF_OP_ERROR:
        sf_wire_put_i32(e, -4008);
        sf_wire_put_str(e, "SF_NET_EAGER_LIMIT='12q' is not a size");
        break;
    case SF_OP_GOODBYE:
        sf_wire_put_str(e, "job done");
        break;
    default: {
        /* Ops without a hand-made example (the daemons' ops): one value of
         * each field's kind, from the schema. */
        static char *const sv[] = {"a", "bc"};
        static const int32_t iv[] = {1, -2, 3};
        const struct sf_wire_schema *s = sf_wire_schema(op);
        for (unsigned i = 0; s != NULL && i < s->nfields; i++) {
            switch (s->kinds[i]) {
            case SF_WK_U8: sf_wire_put_u8(e, 2); break;
            case SF_WK_U16: sf_wire_put_u16(e, 300); break;
            case SF_WK_U32: sf_wire_put_u32(e, 70000); break;
            case SF_WK_U64: sf_wire_put_u64(e, 0x1122334455ull); break;
            case SF_WK_I32: sf_wire_put_i32(e, -7); break;
            case SF_WK_I64: sf_wire_put_i64(e, -8); break;
            case SF_WK_STR: sf_wire_put_str(e, "text"); break;
            case SF_WK_BYTES: sf_wire_put_bytes(e, "\1\2\3", 3); break;
            case SF_WK_STRV: sf_wire_put_strv(e, sv, 2); break;
            case SF_WK_I32V: sf_wire_put_i32v(e, iv, 3); break;
            }
        }
        break;
    }
    }
    if (sf_wire_enc_end(e) != 0) {
        fprintf(stderr, "op %u does not encode\n", op);
        exit(1);
    }
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    dir = argv[1];
    char name[64];
    uint8_t stream[8192];
    size_t slen = 0;
    struct sf_wire_enc e;

    for (int op = 1; op < SF_OP_COUNT; op++) {
        build(&e, (uint8_t)op, (uint32_t)op);
        snprintf(name, sizeof name, "valid-%02d-%s", op, sf_wire_schema((uint8_t)op)->name);
        save(name, e.buf, e.len);
        memcpy(stream + slen, e.buf, e.len);
        slen += e.len;
        sf_wire_enc_free(&e);
    }
    save("stream-all-ops", stream, slen);
    save("stream-truncated", stream, slen - 5);

    /* The wire-up conversation of one rank, back to back. */
    slen = 0;
    const uint8_t conv[] = {SF_OP_RANK_HELLO, SF_OP_RANK_ADDR, SF_OP_ADDR_TABLE,
                            SF_OP_RANK_FINALIZE, SF_OP_GOODBYE};
    for (size_t i = 0; i < sizeof conv; i++) {
        build(&e, conv[i], (uint32_t)i);
        memcpy(stream + slen, e.buf, e.len);
        slen += e.len;
        sf_wire_enc_free(&e);
    }
    save("stream-wireup", stream, slen);

    /* Corruptions of a RANK_ABORT frame. */
    build(&e, SF_OP_RANK_ABORT, 9);
    uint8_t f[256];
    size_t n = e.len;
#define MUTATE(label, stmt)                                                     \
    do {                                                                        \
        memcpy(f, e.buf, n);                                                    \
        size_t len = n;                                                         \
        stmt;                                                                   \
        save(label, f, len);                                                    \
    } while (0)
    MUTATE("bad-magic", f[0] = 'X');
    MUTATE("bad-version", f[2] = 2);
    MUTATE("bad-op-0", f[3] = 0);
    MUTATE("bad-op-255", f[3] = 255);
    MUTATE("bad-length-huge", put32(f + 4, 0xffffffffu));
    MUTATE("bad-length-max-plus-1", put32(f + 4, SF_WIRE_MAX_BODY + 1));
    MUTATE("bad-crc", f[12] ^= 1);
    MUTATE("bad-body-bit", f[n - 1] ^= 0x40);
    MUTATE("truncated-header", len = 9);
    MUTATE("truncated-body", len = n - 3);
    MUTATE("trailing-garbage-after-frame", (memcpy(f + n, "SF\1\xff", 4), len = n + 4));
    sf_wire_enc_free(&e);

    /* Field-level corruption with a correct CRC, so the schema check runs. */
    static const struct {
        const char *label;
        uint8_t op;
        const char *body;
        size_t blen;
    } raw[] = {
        {"field-str-overrun", SF_OP_RANK_ABORT, "\0\0\0\1\0\0\0\2\0\0\0\x50" "abc", 15},
        {"field-str-nul", SF_OP_RANK_ABORT, "\0\0\0\1\0\0\0\2\0\0\0\3" "a\0c", 15},
        {"field-trailing", SF_OP_SIGNAL, "\0\0\0\2\0", 5},
        {"field-short-u64", SF_OP_RANK_HELLO, "\0\0\0\0\0\0\0", 7},
        {"field-strv-huge-count", SF_OP_JOB_SUBMIT, "\0\0\0\4\0\0\0\0\x7f\xff\xff\xff", 12},
        {"field-strv-count-over-limit", SF_OP_JOB_SUBMIT, "\0\0\0\4\0\0\0\0\0\1\0\1", 12},
        {"field-i32v-overflow", SF_OP_ADDR_TABLE, "\0\0\0\1\x40\0\0\0\0\0\0\5", 12},
        {"field-empty-body", SF_OP_GOODBYE, "", 0},
    };
    for (size_t i = 0; i < sizeof raw / sizeof raw[0]; i++) {
        uint8_t fr[64];
        fr[0] = 'S';
        fr[1] = 'F';
        fr[2] = SF_WIRE_VERSION;
        fr[3] = raw[i].op;
        put32(fr + 4, (uint32_t)raw[i].blen);
        put32(fr + 8, 1);
        memcpy(fr + SF_WIRE_HDR_LEN, raw[i].body, raw[i].blen);
        /* CRC-32C bit by bit, independently of crc32c.c, so these files
         * also cross-check it. */
        uint32_t crc = ~0u;
        for (size_t k = 0; k < raw[i].blen; k++) {
            crc ^= (uint8_t)raw[i].body[k];
            for (int b = 0; b < 8; b++) {
                crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
            }
        }
        put32(fr + 12, ~crc);
        save(raw[i].label, fr, SF_WIRE_HDR_LEN + raw[i].blen);
    }
    save("empty", (const uint8_t *)"", 0);
    return 0;
}
