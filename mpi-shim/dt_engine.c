/* The pack engine: a resumable walk over a datatype's merged strided
 * blocks (shim_int.h) that copies between user memory and a packed
 * stream, in bounded pieces if asked. Touches only the type's layout (no
 * MPI state, no errors), so tests can link it directly. Any thread that
 * owns the cursor. */
#include <string.h>

#include "mpi-shim/shim_int.h"

void sf_mpi__dt_cursor(struct sf_dt_cursor *c, MPI_Datatype t, size_t count, const void *base)
{
    memset(c, 0, sizeof(*c));
    c->t = t;
    c->base = (char *)base;
    c->count = count;
}

/* Fixed sizes let the compiler inline the common element copies. */
static inline void cp(void *d, const void *s, size_t n)
{
    switch (n) {
    case 1:
        *(char *)d = *(const char *)s;
        break;
    case 2:
        memcpy(d, s, 2);
        break;
    case 4:
        memcpy(d, s, 4);
        break;
    case 8:
        memcpy(d, s, 8);
        break;
    case 16:
        memcpy(d, s, 16);
        break;
    default:
        memcpy(d, s, n);
    }
}

/* n blocks of len bytes, 'stride' apart in user memory, packed densely. */
static inline void strided(char *pk, char *u, size_t len, size_t n, MPI_Aint stride, bool pack)
{
#define SF_STRIDED_LOOP(L)                                                                         \
    for (size_t i = 0; i < n; i++, pk += (L), u += stride) {                                       \
        if (pack) {                                                                                \
            memcpy(pk, u, (L));                                                                    \
        } else {                                                                                   \
            memcpy(u, pk, (L));                                                                    \
        }                                                                                          \
    }
    switch (len) {
    case 4:
        SF_STRIDED_LOOP(4);
        break;
    case 8:
        SF_STRIDED_LOOP(8);
        break;
    case 16:
        SF_STRIDED_LOOP(16);
        break;
    default:
        SF_STRIDED_LOOP(len);
    }
#undef SF_STRIDED_LOOP
}

/* Move up to max bytes between the packed stream pk and the cursor's
 * position in user memory; returns the bytes moved. */
static inline size_t walk(struct sf_dt_cursor *c, char *pk, size_t max, bool pack)
{
    MPI_Datatype t = c->t;
    size_t left = max;
    if (t->size == 0) {
        return 0;
    }
    if (t->contig) {
        /* One span: the position is a byte offset into it. */
        size_t total = c->count * t->size, done = c->inst * t->size + c->boff;
        size_t k = total - done < left ? total - done : left;
        char *u = c->base + t->true_lb + done;
        if (k > 0) {
            if (pack) {
                memcpy(pk, u, k);
            } else {
                memcpy(u, pk, k);
            }
        }
        done += k;
        c->inst = t->size ? done / t->size : c->count;
        c->boff = t->size ? done % t->size : 0;
        return k;
    }
    /* Whole instances while they fit: no per-block bookkeeping. */
    if (c->copy == 0 && c->ent == 0 && c->rep == 0 && c->boff == 0) {
        while (c->inst < c->count && left >= t->size) {
            char *ib = c->base + (MPI_Aint)c->inst * t->extent;
            for (size_t r = 0; r < t->rep; r++, ib += t->rep_stride) {
                for (size_t i = 0; i < t->nent; i++) {
                    const struct sf_dt_ent *e = &t->ent[i];
                    if (e->n == 1) {
                        if (pack) {
                            cp(pk, ib + e->off, e->len);
                        } else {
                            cp(ib + e->off, pk, e->len);
                        }
                        pk += e->len;
                    } else {
                        strided(pk, ib + e->off, e->len, e->n, e->stride, pack);
                        pk += e->n * e->len;
                    }
                }
            }
            left -= t->size;
            c->inst++;
        }
    }
    while (left > 0 && c->inst < c->count) {
        for (; c->copy < t->rep; c->copy++) {
            char *ib = c->base + (MPI_Aint)c->inst * t->extent + (MPI_Aint)c->copy * t->rep_stride;
            for (; c->ent < t->nent; c->ent++, c->rep = 0) {
                const struct sf_dt_ent *e = &t->ent[c->ent];
                if (c->boff == 0 && c->rep < e->n) {
                    /* Whole blocks that fit: the tight loop. */
                    size_t fit = left / e->len, k = e->n - c->rep;
                    if (fit < k) {
                        k = fit;
                    }
                    if (k > 0) {
                        strided(pk, ib + e->off + (MPI_Aint)c->rep * e->stride, e->len, k,
                                e->stride, pack);
                        pk += k * e->len;
                        left -= k * e->len;
                        c->rep += k;
                    }
                }
                for (; c->rep < e->n; c->rep++) {
                    char *u = ib + e->off + (MPI_Aint)c->rep * e->stride + c->boff;
                    size_t rem = e->len - c->boff;
                    if (rem > left) {
                        if (pack) {
                            memcpy(pk, u, left);
                        } else {
                            memcpy(u, pk, left);
                        }
                        c->boff += left;
                        return max;
                    }
                    if (pack) {
                        cp(pk, u, rem);
                    } else {
                        cp(u, pk, rem);
                    }
                    pk += rem;
                    left -= rem;
                    c->boff = 0;
                }
            }
            c->ent = 0;
        }
        c->copy = 0;
        c->inst++;
    }
    return max - left;
}

size_t sf_mpi__dt_pack(struct sf_dt_cursor *c, void *out, size_t max)
{
    return walk(c, out, max, true);
}

size_t sf_mpi__dt_unpack(struct sf_dt_cursor *c, const void *in, size_t len)
{
    return walk(c, (char *)in, len, false);
}

void sf_mpi__pack(MPI_Datatype t, int count, const void *ubuf, void *packed)
{
    struct sf_dt_cursor c;
    sf_mpi__dt_cursor(&c, t, (size_t)count, ubuf);
    walk(&c, packed, sf_mpi__type_bytes(t, count), true);
}

void sf_mpi__unpack(MPI_Datatype t, int count, const void *packed, size_t bytes, void *ubuf)
{
    struct sf_dt_cursor c;
    sf_mpi__dt_cursor(&c, t, (size_t)count, ubuf);
    size_t max = sf_mpi__type_bytes(t, count);
    walk(&c, (char *)packed, bytes < max ? bytes : max, false);
}

/* Reductions on pair elements (MPI_DOUBLE_INT, ...) need each element in
 * its memory layout (value, padding, index): widen packed elements to
 * elem->extent slots in place, last first, and narrow them back. */
static void widen(MPI_Datatype e, size_t n, char *buf)
{
    size_t sz = e->size, ext = (size_t)e->extent;
    for (size_t i = n; i-- > 0;) {
        char *s = buf + i * sz, *d = buf + i * ext;
        memmove(d + e->off1, s + e->part0, e->part1);
        memmove(d, s, e->part0);
    }
}

static void narrow(MPI_Datatype e, size_t n, char *buf)
{
    size_t sz = e->size, ext = (size_t)e->extent;
    for (size_t i = 0; i < n; i++) {
        char *s = buf + i * ext, *d = buf + i * sz;
        memmove(d, s, e->part0);
        memmove(d + e->part0, s + e->off1, e->part1);
    }
}

void sf_mpi__dt_gather_elems(MPI_Datatype t, int count, const void *ubuf, void *out)
{
    sf_mpi__pack(t, count, ubuf, out);
    if (t->elem != NULL && t->elem->size != (size_t)t->elem->extent) {
        widen(t->elem, (size_t)count * t->n, out);
    }
}

void sf_mpi__dt_scatter_elems(MPI_Datatype t, int count, void *in, void *ubuf)
{
    if (t->elem != NULL && t->elem->size != (size_t)t->elem->extent) {
        narrow(t->elem, (size_t)count * t->n, in);
    }
    sf_mpi__unpack(t, count, in, sf_mpi__type_bytes(t, count), ubuf);
}
