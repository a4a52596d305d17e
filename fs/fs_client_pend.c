/* fs client, pure parts: the table of requests in flight (a reply is
 * matched to its request by req, whatever order replies come in) and the
 * block cutter. No I/O; one thread per table. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fs/fs_client_int.h"
#include "runtime/base/sf_err.h"

void sf_fs__pend_init(struct fsc_pend *p)
{
    memset(p, 0, sizeof(*p));
}

void sf_fs__pend_free(struct fsc_pend *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->v[i].mem);
    }
    free(p->v);
    memset(p, 0, sizeof(*p));
}

long sf_fs__pend_find(const struct fsc_pend *p, uint64_t req)
{
    /* A handful in flight (a window of blocks): a linear scan is cheapest. */
    for (size_t i = 0; i < p->n; i++) {
        if (p->v[i].req == req) {
            return (long)i;
        }
    }
    return -1;
}

long sf_fs__pend_add(struct fsc_pend *p, uint64_t req, uint8_t reply_op, void *dst, size_t cap)
{
    if (p->n == p->cap) {
        size_t nc = p->cap ? p->cap * 2 : 16;
        struct fsc_req *nv = realloc(p->v, nc * sizeof(*nv));
        if (nv == NULL) {
            return -ENOMEM;
        }
        p->v = nv;
        p->cap = nc;
    }
    struct fsc_req *r = &p->v[p->n];
    memset(r, 0, sizeof(*r));
    r->req = req;
    r->reply_op = reply_op;
    r->state = FSC_WAITING;
    r->dst = dst;
    r->cap = cap;
    return (long)p->n++;
}

void sf_fs__pend_remove(struct fsc_pend *p, size_t i)
{
    free(p->v[i].mem);
    /* Keep issue order: a window scans oldest first. */
    memmove(&p->v[i], &p->v[i + 1], (p->n - i - 1) * sizeof(p->v[0]));
    p->n--;
}

/* Copy m so that it outlives the receive buffer: every STR/BYTES/STRV/I32V
 * field's bytes go into one allocation and the copy points there. */
static int clone_msg(const struct sf_wire_msg *m, struct sf_wire_msg *out, uint8_t **mem,
                     int skip_field)
{
    const struct sf_wire_schema *s = sf_wire_schema(m->op);
    size_t total = 0;
    for (int i = 0; i < m->nfields; i++) {
        switch (s->kinds[i]) {
        case SF_WK_STR:
        case SF_WK_BYTES:
            total += i == skip_field ? 0 : m->f[i].len;
            break;
        case SF_WK_STRV:
        case SF_WK_I32V:
            total += m->f[i].u; /* encoded size (sf_wire.h) */
            break;
        default:
            break;
        }
    }
    uint8_t *b = malloc(total + 1);
    if (b == NULL) {
        return -ENOMEM;
    }
    *out = *m;
    size_t off = 0;
    for (int i = 0; i < m->nfields; i++) {
        size_t n = 0;
        switch (s->kinds[i]) {
        case SF_WK_STR:
        case SF_WK_BYTES:
            n = i == skip_field ? 0 : m->f[i].len;
            break;
        case SF_WK_STRV:
        case SF_WK_I32V:
            n = m->f[i].u;
            break;
        default:
            continue;
        }
        if (n > 0) {
            memcpy(b + off, m->f[i].p, n);
        }
        out->f[i].p = b + off;
        off += n;
    }
    *mem = b;
    return 0;
}

static bool is_reply(uint8_t op)
{
    switch (op) {
    case SF_OP_FS_BLOCK_DONE:
    case SF_OP_FS_DATA:
    case SF_OP_FS_ADMIN:
    case SF_OP_FS_NS_ANS:
    case SF_OP_FS_DIRENTS:
        return true;
    default:
        return false;
    }
}

int sf_fs__pend_deliver(struct fsc_pend *p, const struct sf_wire_msg *m)
{
    if (!is_reply(m->op)) {
        return SF_ERR_PROTO;
    }
    /* Every reply op's schema starts U64 req, then I32 status (FS_ADMIN:
     * U8 verb before it). The decoder checked the kinds. */
    int sfi = m->op == SF_OP_FS_ADMIN ? 2 : 1;
    if (m->nfields <= sfi) {
        return SF_ERR_PROTO;
    }
    long i = sf_fs__pend_find(p, m->f[0].u);
    if (i < 0) {
        return 0;
    }
    struct fsc_req *r = &p->v[i];
    if (r->state != FSC_WAITING || r->reply_op != m->op) {
        return SF_ERR_PROTO;
    }
    int skip = -1;
    if (m->op == SF_OP_FS_DATA && r->dst != NULL) {
        const struct sf_wire_val *d = &m->f[2];
        if (d->len > r->cap) {
            return -EFBIG;
        }
        if (d->len > 0) {
            memcpy(r->dst, d->p, d->len);
        }
        r->len = d->len;
        skip = 2;
    }
    int rc = clone_msg(m, &r->msg, &r->mem, skip);
    if (rc != 0) {
        return rc;
    }
    r->status = (int)(int32_t)m->f[sfi].i;
    r->state = FSC_DONE;
    return 1;
}

size_t sf_fs__cut_take(struct fsc_cut *k, const void *p, size_t len, bool *full)
{
    size_t room = k->bs - k->fill;
    size_t n = len < room ? len : room;
    if (n > 0) {
        memcpy(k->buf + k->fill, p, n);
        k->fill += n;
    }
    *full = k->fill == k->bs;
    return n;
}
