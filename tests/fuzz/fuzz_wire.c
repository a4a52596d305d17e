/* Fuzz target for the wire decoder: decodes the input as a stream of
 * frames in one piece and again through sf_wire_rx over a socketpair in
 * odd-sized chunks, and aborts if the two disagree, if a decoded field
 * points outside its frame, or if re-encoding a frame changes its bytes.
 * Single-threaded; built by libFuzzer (make fuzz-wire) or tests/fuzz/replay.c. */
#include "runtime/base/sf_crc.h"
#include "runtime/base/base_int.h"
#include "runtime/base/sf_err.h"
#include "runtime/base/sf_wire.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FRAMES 4096

struct seen {
    uint8_t op;
    uint32_t seq;
    size_t len;
};

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "fuzz_wire: invariant failed at %s:%d: %s\n", __FILE__,  \
                    __LINE__, #cond);                                                \
            abort();                                                                 \
        }                                                                            \
    } while (0)

static int inside(const uint8_t *p, size_t n, const uint8_t *lo, const uint8_t *hi)
{
    return p >= lo && p <= hi && n <= (size_t)(hi - p);
}

/* Every field lies within the frame's body; re-encoding reproduces it. */
static void check_frame(const uint8_t *frame, size_t flen, const struct sf_wire_msg *m)
{
    const struct sf_wire_schema *s = sf_wire_schema(m->op);
    CHECK(s != NULL);
    CHECK(m->nfields == s->nfields);
    CHECK(flen >= SF_WIRE_HDR_LEN && flen - SF_WIRE_HDR_LEN <= SF_WIRE_MAX_BODY);
    const uint8_t *lo = frame + SF_WIRE_HDR_LEN, *hi = frame + flen;

    struct sf_wire_enc e;
    sf_wire_enc_begin(&e, m->op, m->seq);
    for (unsigned i = 0; i < s->nfields; i++) {
        const struct sf_wire_val *v = &m->f[i];
        switch (s->kinds[i]) {
        case SF_WK_U8:
            CHECK(v->u <= UINT8_MAX);
            sf_wire_put_u8(&e, (uint8_t)v->u);
            break;
        case SF_WK_U16:
            CHECK(v->u <= UINT16_MAX);
            sf_wire_put_u16(&e, (uint16_t)v->u);
            break;
        case SF_WK_U32:
            CHECK(v->u <= UINT32_MAX);
            sf_wire_put_u32(&e, (uint32_t)v->u);
            break;
        case SF_WK_U64:
            sf_wire_put_u64(&e, v->u);
            break;
        case SF_WK_I32:
            CHECK(v->i >= INT32_MIN && v->i <= INT32_MAX);
            sf_wire_put_i32(&e, (int32_t)v->i);
            break;
        case SF_WK_I64:
            sf_wire_put_i64(&e, v->i);
            break;
        case SF_WK_STR: {
            CHECK(inside(v->p, v->len, lo, hi));
            CHECK(memchr(v->p, 0, v->len) == NULL);
            char *str = sf_wire_strdup(v);
            CHECK(str != NULL);
            sf_wire_put_str(&e, str);
            free(str);
            break;
        }
        case SF_WK_BYTES:
            CHECK(inside(v->p, v->len, lo, hi));
            sf_wire_put_bytes(&e, v->p, v->len);
            break;
        case SF_WK_STRV: {
            CHECK(v->len <= SF_WIRE_MAX_STRV);
            CHECK(inside(v->p, v->u, lo, hi));
            char **strs = calloc(v->len + 1, sizeof *strs);
            CHECK(strs != NULL);
            uint32_t pos = 0, n = 0, len;
            const uint8_t *str;
            while (sf_wire_strv_next(v, &pos, &str, &len)) {
                CHECK(n < v->len);
                CHECK(inside(str, len, lo, hi));
                CHECK(memchr(str, 0, len) == NULL);
                strs[n] = strndup((const char *)str, len);
                CHECK(strs[n] != NULL);
                n++;
            }
            CHECK(n == v->len && pos == v->u);
            sf_wire_put_strv(&e, strs, n);
            for (uint32_t k = 0; k < n; k++) {
                free(strs[k]);
            }
            free(strs);
            break;
        }
        case SF_WK_I32V: {
            CHECK(v->u == (uint64_t)v->len * 4);
            CHECK(inside(v->p, v->u, lo, hi));
            int32_t *xs = malloc((size_t)v->len * 4 + 1);
            CHECK(xs != NULL);
            for (uint32_t k = 0; k < v->len; k++) {
                xs[k] = sf_wire_i32v_get(v, k);
            }
            sf_wire_put_i32v(&e, xs, v->len);
            free(xs);
            break;
        }
        default:
            CHECK(!"unknown kind in schema");
        }
    }
    CHECK(sf_wire_enc_end(&e) == 0);
    CHECK(e.len == flen);
    CHECK(memcmp(e.buf, frame, flen) == 0);
    sf_wire_enc_free(&e);
}

static int sock[2] = {-1, -1};

static void open_sockets(void)
{
    if (sock[0] >= 0) {
        return;
    }
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sock) == 0);
}

static void drain_socket(void)
{
    char junk[4096];
    while (read(sock[1], junk, sizeof junk) > 0) {
    }
}

static void run_input(const uint8_t *data, size_t size)
{
    static struct seen frames[MAX_FRAMES];
    size_t nframes = 0, off = 0;
    long last = 0;

    /* 1. the whole input at once */
    while (off < size && nframes < MAX_FRAMES) {
        struct sf_wire_msg m;
        memset(&m, 0xA5, sizeof m);
        struct sf_wire_msg orig = m;
        last = sf_wire_decode(data + off, size - off, &m);
        CHECK(last <= (long)(size - off));
        if (last <= 0) {
            /* on "need more" and on errors the message is untouched */
            CHECK(memcmp(&m, &orig, sizeof m) == 0);
            CHECK(last == 0 || last == SF_ERR_PROTO || last == SF_ERR_VERSION ||
                  last == SF_ERR_CHECKSUM || last == -EMSGSIZE);
            break;
        }
        check_frame(data + off, (size_t)last, &m);
        frames[nframes++] = (struct seen){m.op, m.seq, (size_t)last};
        off += (size_t)last;
    }
    if (nframes == MAX_FRAMES) {
        return; /* too many to compare; the one-shot checks ran */
    }

    /* 2. the same bytes as a stream, in chunks whose sizes follow the data */
    open_sockets();
    struct sf_wire_rx rx;
    sf_wire_rx_init(&rx);
    size_t got = 0, sent = 0;
    int err = 0;
    unsigned chunk = size > 0 ? data[size - 1] : 1;
    while (sent < size && err == 0) {
        static const unsigned sizes[] = {1, 2, 3, 7, 16, 64, 255, 1000, 4096};
        size_t c = sizes[chunk++ % (sizeof sizes / sizeof sizes[0])];
        if (c > size - sent) {
            c = size - sent;
        }
        CHECK(sf_wire_write_all(sock[0], data + sent, c) == 0);
        sent += c;
        /* Read what arrived, pulling frames after every read, as a
         * daemon's loop would. */
        for (;;) {
            long r = sf_wire_rx_fill(&rx, sock[1]);
            if (r == -EAGAIN) {
                break;
            }
            CHECK(r > 0);
            for (;;) {
                struct sf_wire_msg m;
                size_t before = rx.off;
                int k = sf_wire_rx_next(&rx, &m);
                if (k == 1) {
                    CHECK(got < nframes);
                    CHECK(m.op == frames[got].op && m.seq == frames[got].seq);
                    CHECK(rx.off - before == frames[got].len);
                    check_frame(rx.buf + before, rx.off - before, &m);
                    got++;
                    continue;
                }
                if (k < 0) {
                    err = k;
                    CHECK(rx.dropped == 1);
                }
                break;
            }
            if (err != 0) {
                break;
            }
        }
    }
    /* Streamed and one-shot agree on the frames and on how it ended. */
    CHECK(got == nframes);
    CHECK(err == (last < 0 ? last : 0));
    sf_wire_rx_free(&rx);
    drain_socket();
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    run_input(data, size);

    /* Mutated frames almost never keep a valid CRC, which would hide the
     * field validation behind the checksum. Run a copy whose frames carry
     * recomputed CRCs too, so the fuzzer reaches the schema checks. */
    uint8_t *copy = malloc(size ? size : 1);
    CHECK(copy != NULL);
    memcpy(copy, data, size);
    size_t off = 0;
    while (size - off >= SF_WIRE_HDR_LEN) {
        uint32_t blen = (uint32_t)copy[off + 4] << 24 | (uint32_t)copy[off + 5] << 16 |
                        (uint32_t)copy[off + 6] << 8 | copy[off + 7];
        if (blen > size - off - SF_WIRE_HDR_LEN) {
            break;
        }
        put32(copy + off + 12, sf_crc32c(copy + off + SF_WIRE_HDR_LEN, blen));
        off += SF_WIRE_HDR_LEN + blen;
    }
    if (memcmp(copy, data, size) != 0) {
        run_input(copy, size);
    }
    free(copy);
    return 0;
}
