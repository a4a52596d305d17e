/* Fuzz target for the message engine's packet decoder (runtime/rt): the
 * input is a script of arbitrary packets from two peers interleaved with
 * receives, probes, mprobes, sends and cancels on one engine, so hostile
 * packets meet every queue state. A crash or sanitizer report is a bug.
 * The fake transport never touches memory named by a packet (get fills
 * zeros). Single-threaded; built by libFuzzer (make fuzz-rt) or replay.c.
 *
 * Script: repeated [op byte][operands...]; op % 5 selects
 *   0 packet   peer(1) len(2, big-endian) bytes(len)
 *   1 irecv    slot(1) src(1) tag(1) len(1) ctx(1)
 *   2 probe    src(1) tag(1) mprobe(1) slot(1)
 *   3 cancel   slot(1)
 *   4 isend    slot(1) dest(1) len(1) mode(1)
 * and the engine progresses once after each op. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/rt/rt_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NSLOT 16
#define SLOT_BUF (256 * 257)

struct fz_net {
    struct sf_net base;
    unsigned nsend;
};

static int fz_progress(struct sf_net *net)
{
    return 0;
}

static int fz_send(struct sf_net *net, int peer, const struct iovec *iov, int iovcnt)
{
    struct fz_net *f = (struct fz_net *)net;
    /* Refuse now and then so the pending queue gets exercised too. */
    return (++f->nsend % 5) == 0 ? -EAGAIN : 0;
}

static int fz_bulk_send(struct sf_net *net, int peer, uint64_t cookie, const void *buf, size_t len,
                        void *ctx)
{
    return 0;
}

static int fz_bulk_recv(struct sf_net *net, int peer, uint64_t cookie, void *buf, size_t len,
                        void *ctx)
{
    return 0;
}

static int fz_get(struct sf_net *net, int peer, void *buf, uint64_t raddr, size_t len)
{
    memset(buf, 0, len);
    return 0;
}

static int fz_getname(struct sf_net *net, void *buf, size_t *len)
{
    *len = 0;
    return 0;
}

static int fz_insert(struct sf_net *net, int n, const void *const *a, const size_t *l)
{
    return 0;
}

static int fz_wait_fd(struct sf_net *net)
{
    return -1;
}

static void fz_close(struct sf_net *net)
{
    free(net);
}

static const struct sf_net_ops fz_ops = {
    .name = "fuzz",
    .progress = fz_progress,
    .send = fz_send,
    .bulk_send = fz_bulk_send,
    .bulk_recv = fz_bulk_recv,
    .get = fz_get,
    .getname = fz_getname,
    .insert = fz_insert,
    .wait_fd = fz_wait_fd,
    .close = fz_close,
};

static struct sf_rt_req reqs[NSLOT];
static unsigned char bufs[NSLOT][SLOT_BUF];
static struct sf_rt_req spare;
static unsigned char sbuf[SLOT_BUF];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sf_rt *rt;
    if (sf_rt__new(0, 3, &rt) < 0) {
        return 0;
    }
    struct fz_net *f = calloc(1, sizeof(*f));
    f->base.ops = &fz_ops;
    f->base.cb = sf_rt__callbacks(rt, 0);
    f->base.max_pkt = 8192;
    f->base.caps = size > 0 && (data[0] & 1) ? SF_NET_CAP_GET : 0;
    int world_of[2] = {1, 2};
    if (sf_rt__attach(rt, 0, &f->base, world_of, 2) < 0) {
        fz_close(&f->base);
        sf_rt__free(rt);
        return 0;
    }
    for (int i = 0; i < NSLOT; i++) {
        reqs[i].complete = true;
    }
    spare.complete = true;
    size_t p = 0;
#define NEED(n) \
    if (size - p < (n)) { \
        goto out; \
    }
    while (p < size) {
        uint8_t op = data[p++] % 5;
        switch (op) {
        case 0: {
            NEED(3);
            int peer = data[p] % 3; /* 2 is not a valid peer index */
            size_t len = (size_t)data[p + 1] << 8 | data[p + 2];
            p += 3;
            if (len > size - p) {
                len = size - p;
            }
            /* Copy so the engine sees a buffer of exactly len bytes. */
            unsigned char *pkt = malloc(len ? len : 1);
            memcpy(pkt, data + p, len);
            p += len;
            f->base.cb.recv(f->base.cb.arg, &f->base, peer, pkt, len);
            free(pkt);
            break;
        }
        case 1: {
            NEED(5);
            int s = data[p] % NSLOT;
            int src = (int)(data[p + 1] % 4) - 2;
            int tag = (int)(data[p + 2] % 4) - 1;
            size_t len = data[p + 3] * 257u;
            uint32_t ctx = data[p + 4] % 2;
            p += 5;
            if (reqs[s].complete) {
                sf_rt_irecv(rt, &reqs[s], bufs[s], len, src, ctx, tag);
            }
            break;
        }
        case 2: {
            NEED(4);
            int src = (int)(data[p] % 4) - 2;
            int tag = (int)(data[p + 1] % 4) - 1;
            bool mprobe = data[p + 2] & 1;
            int s = data[p + 3] % NSLOT;
            p += 4;
            bool flag;
            struct sf_rt_status st;
            struct sf_rt_msg *m = NULL;
            if (sf_rt_iprobe(rt, src, 0, tag, &flag, &st, mprobe ? &m : NULL) == 0 && flag &&
                mprobe) {
                if (reqs[s].complete) {
                    sf_rt_imrecv(rt, &reqs[s], bufs[s], SLOT_BUF, m);
                } else {
                    /* Nobody else can take it: receive into a spare. */
                    if (spare.complete) {
                        sf_rt_imrecv(rt, &spare, sbuf, SLOT_BUF, m);
                    } else if (m != NULL) {
                        sf_rt__msg_free(rt, m);
                    }
                }
            }
            break;
        }
        case 3:
            NEED(1);
            sf_rt_cancel(rt, &reqs[data[p++] % NSLOT]);
            break;
        case 4: {
            NEED(4);
            int s = data[p] % NSLOT;
            int dest = data[p + 1] % 3;
            size_t len = data[p + 2] * 257u;
            int mode = data[p + 3] % 3;
            p += 4;
            if (reqs[s].complete) {
                sf_rt_isend(rt, &reqs[s], bufs[s], len, dest, 0, 0, 0, (enum sf_rt_mode)mode);
            }
            break;
        }
        }
        if (sf_rt_progress(rt) < 0) {
            break;
        }
    }
out:
    for (int i = 0; i < NSLOT; i++) {
        if (!reqs[i].complete) {
            sf_rt_cancel(rt, &reqs[i]);
        }
        memset(&reqs[i], 0, sizeof(reqs[i]));
        reqs[i].complete = true;
    }
    sf_rt__free(rt);
    return 0;
}
