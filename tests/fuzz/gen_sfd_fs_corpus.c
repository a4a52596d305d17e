/* Writes the seed corpus of fuzz_sfd_fs.c into DIR: a client write whose
 * FS_PUT to the member is acknowledged (or refused), reads answered with
 * data, a short or a wrong block, a member's PUT and GET, admin verbs, and
 * fields of the wrong size. Byte 0 of each file is the (unused) flags
 * byte; the rest is plain wire frames. Run by hand when the ops change:
 *   tests/fuzz/gen_sfd_fs_corpus tests/fuzz/corpus/sfd_fs */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/sf_fs.h"
#include "runtime/base/sf_wire.h"

static uint8_t out[1 << 16];
static size_t len;

static void start(void)
{
    out[0] = 0;
    len = 1;
}

static void add(struct sf_wire_enc *e)
{
    if (sf_wire_enc_end(e) != 0 || len + e->len > sizeof(out)) {
        fprintf(stderr, "gen_sfd_fs_corpus: bad frame\n");
        exit(1);
    }
    memcpy(out + len, e->buf, e->len);
    len += e->len;
    sf_wire_enc_free(e);
}

static void save(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(out, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

static void write_req(uint64_t req, uint8_t r, const void *p, size_t n)
{
    struct sf_wire_enc e;
    sf_wire_enc_begin(&e, SF_OP_FS_BLOCK_WRITE, 0);
    sf_wire_put_u64(&e, req);
    sf_wire_put_u8(&e, r);
    sf_wire_put_bytes(&e, p, n);
    add(&e);
}

static void read_req(uint64_t req, const void *id, size_t n)
{
    struct sf_wire_enc e;
    sf_wire_enc_begin(&e, SF_OP_FS_BLOCK_READ, 0);
    sf_wire_put_u64(&e, req);
    sf_wire_put_bytes(&e, id, n);
    add(&e);
}

static void ack(uint64_t req, int32_t st)
{
    struct sf_wire_enc e;
    sf_wire_enc_begin(&e, SF_OP_FS_PUT_ACK, 0);
    sf_wire_put_u64(&e, req);
    sf_wire_put_i32(&e, st);
    add(&e);
}

static void fsdata(uint64_t req, int32_t st, const void *p, size_t n)
{
    struct sf_wire_enc e;
    sf_wire_enc_begin(&e, SF_OP_FS_DATA, 0);
    sf_wire_put_u64(&e, req);
    sf_wire_put_i32(&e, st);
    sf_wire_put_bytes(&e, p, n);
    add(&e);
}

static void peer_put(uint64_t req, const void *id, size_t idn, const void *p, size_t n)
{
    struct sf_wire_enc e;
    sf_wire_enc_begin(&e, SF_OP_FS_PUT, 0);
    sf_wire_put_u64(&e, req);
    sf_wire_put_bytes(&e, id, idn);
    sf_wire_put_bytes(&e, p, n);
    add(&e);
}

static void peer_get(uint64_t req, const void *id, size_t idn)
{
    struct sf_wire_enc e;
    sf_wire_enc_begin(&e, SF_OP_FS_GET, 0);
    sf_wire_put_u64(&e, req);
    sf_wire_put_bytes(&e, id, idn);
    add(&e);
}

static void admin(uint8_t verb)
{
    struct sf_wire_enc e;
    sf_wire_enc_begin(&e, SF_OP_FS_ADMIN, 0);
    sf_wire_put_u64(&e, verb);
    sf_wire_put_u8(&e, verb);
    sf_wire_put_i32(&e, 0);
    sf_wire_put_str(&e, "");
    add(&e);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_sfd_fs_corpus DIR\n");
        return 2;
    }
    const char *dir = argv[1];
    const char blk[] = "a block of the filesystem";
    struct sf_fs_block_id id, other;
    sf_fs_block_hash(blk, sizeof(blk), &id);
    sf_fs_block_hash("x", 1, &other);

    /* Writes with 2 replicas on this node and the member: its PUT (req 1)
     * acknowledged, refused, or answered with the wrong op. */
    start();
    write_req(1, 2, blk, sizeof(blk));
    ack(1, 0);
    save(dir, "write-acked");
    start();
    write_req(1, 2, blk, sizeof(blk));
    ack(1, -5);
    write_req(2, 0, "", 0);
    ack(2, 0);
    save(dir, "write-refused-then-empty");
    start();
    write_req(1, 2, blk, sizeof(blk));
    fsdata(1, 0, blk, sizeof(blk));
    write_req(2, 3, blk, sizeof(blk));
    write_req(3, 17, blk, sizeof(blk));
    save(dir, "write-bad-answer-too-many-replicas");
    /* Reads: the member is asked (req 1) and answers with the data, a
     * short block, an error; then a bad id size. */
    start();
    read_req(1, id.b, sizeof(id.b));
    fsdata(1, 0, blk, sizeof(blk));
    save(dir, "read-from-member");
    start();
    write_req(1, 1, blk, sizeof(blk));
    ack(1, 0);
    read_req(2, id.b, sizeof(id.b));
    fsdata(2, 0, blk, 3);
    read_req(3, other.b, sizeof(other.b));
    fsdata(3, -74, NULL, 0);
    read_req(4, id.b, 7);
    save(dir, "read-short-corrupt-badid");
    /* The member stores and fetches here. */
    start();
    peer_put(9, id.b, sizeof(id.b), blk, sizeof(blk));
    peer_get(10, id.b, sizeof(id.b));
    peer_put(11, other.b, sizeof(other.b), blk, sizeof(blk));
    peer_get(12, other.b, sizeof(other.b));
    peer_get(13, id.b, 31);
    ack(99, 0);
    fsdata(98, 0, blk, sizeof(blk));
    save(dir, "member-put-get");
    /* Admin: status, scrub, gc (no metadata here), unknown verb. */
    start();
    peer_put(1, id.b, sizeof(id.b), blk, sizeof(blk));
    admin(1);
    admin(2);
    admin(3);
    admin(9);
    save(dir, "admin");
    return 0;
}
