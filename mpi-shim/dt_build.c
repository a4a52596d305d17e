/* Derived datatypes: the constructors (MPI-3.1 chapter 4), commit/free with
 * reference counts, and envelope/contents. Every constructor is reduced to
 * "k instances of an old type at a byte displacement" pieces, flattened at
 * once into merged strided blocks and a signature (see shim_int.h); old
 * types are referenced only for MPI_Type_get_contents. No f90 types.
 * Caller's thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpi-shim/shim_int.h"

/* k consecutive instances of t at byte displacement d; with g > 1, g such
 * groups at d, d + gs, d + 2 gs, ... (a vector is one piece, however long:
 * building it takes no memory per block). g 0 means 1. */
struct dt_piece {
    MPI_Datatype t;
    size_t k;
    MPI_Aint d;
    size_t g;
    MPI_Aint gs;
};

/* Growing flattened form of a type under construction. */
struct dt_acc {
    struct sf_dt_ent *ent;
    size_t nent, ecap;
    struct sf_dt_run *sig;
    size_t nsig, scap;
    bool oom;
};

static bool grow(void **p, size_t *cap, size_t need, size_t esz)
{
    if (need <= *cap) {
        return true;
    }
    size_t c = *cap ? *cap * 2 : 4;
    while (c < need) {
        c *= 2;
    }
    void *q = realloc(*p, c * esz);
    if (q == NULL) {
        return false;
    }
    *p = q;
    *cap = c;
    return true;
}

/* Append n blocks of len bytes at off, off + stride, ...; merged with the
 * previous entry when they continue it (contiguously or with its stride). */
static void acc_ent(struct dt_acc *a, MPI_Aint off, size_t len, size_t n, MPI_Aint stride)
{
    if (len == 0 || n == 0 || a->oom) {
        return;
    }
    if (n > 1 && stride == (MPI_Aint)len) {
        len *= n;
        n = 1;
    }
    if (n == 1) {
        stride = 0;
    }
    if (a->nent > 0) {
        struct sf_dt_ent *p = &a->ent[a->nent - 1];
        if (p->n == 1 && n == 1 && off == p->off + (MPI_Aint)p->len) {
            p->len += len;
            return;
        }
        if (p->len == len) {
            if (p->n == 1 && n == 1) {
                p->n = 2;
                p->stride = off - p->off;
                return;
            }
            if (p->n > 1 && n == 1 && off == p->off + (MPI_Aint)p->n * p->stride) {
                p->n++;
                return;
            }
            if (p->n == 1 && n > 1 && off - stride == p->off) {
                p->n = n + 1;
                p->stride = stride;
                return;
            }
            if (p->n > 1 && n > 1 && p->stride == stride &&
                off == p->off + (MPI_Aint)p->n * p->stride) {
                p->n += n;
                return;
            }
        }
    }
    if (!grow((void **)&a->ent, &a->ecap, a->nent + 1, sizeof(*a->ent))) {
        a->oom = true;
        return;
    }
    a->ent[a->nent++] = (struct sf_dt_ent){off, len, n, stride};
}

static void acc_run(struct dt_acc *a, struct ompi_datatype_t *t, size_t n)
{
    if (n == 0 || a->oom) {
        return;
    }
    if (a->nsig > 0 && a->sig[a->nsig - 1].t == t) {
        a->sig[a->nsig - 1].n += n;
        return;
    }
    if (!grow((void **)&a->sig, &a->scap, a->nsig + 1, sizeof(*a->sig))) {
        a->oom = true;
        return;
    }
    a->sig[a->nsig++] = (struct sf_dt_run){t, n};
}

static void acc_group(struct dt_acc *a, const struct dt_piece *p);

/* A piece's groups one after the other: acc_ent merges regular ones into
 * one strided entry as they come. */
static void acc_piece(struct dt_acc *a, const struct dt_piece *p)
{
    size_t g = p->g ? p->g : 1;
    for (size_t j = 0; j < g && !a->oom; j++) {
        struct dt_piece one = {p->t, p->k, p->d + (MPI_Aint)j * p->gs, 1, 0};
        acc_group(a, &one);
    }
}

static void acc_group(struct dt_acc *a, const struct dt_piece *p)
{
    MPI_Datatype t = p->t;
    if (p->k == 0) {
        return;
    }
    /* One-block types repeat as one strided entry, whatever k is. */
    if (t->rep == 1 && t->nent == 1 && t->ent[0].n == 1) {
        acc_ent(a, p->d + t->ent[0].off, t->ent[0].len, p->k, t->extent);
    } else if (t->rep == 1 && t->nent == 1 &&
               (MPI_Aint)t->ent[0].n * t->ent[0].stride == t->extent) {
        acc_ent(a, p->d + t->ent[0].off, t->ent[0].len, t->ent[0].n * p->k, t->ent[0].stride);
    } else {
        for (size_t j = 0; j < p->k && !a->oom; j++) {
            for (size_t r = 0; r < t->rep; r++) {
                MPI_Aint base = p->d + (MPI_Aint)j * t->extent + (MPI_Aint)r * t->rep_stride;
                for (size_t i = 0; i < t->nent; i++) {
                    const struct sf_dt_ent *e = &t->ent[i];
                    acc_ent(a, base + e->off, e->len, e->n, e->stride);
                }
            }
        }
    }
    if (t->nsig == 1) {
        acc_run(a, t->sig[0].t, t->sig[0].n * t->rep * p->k);
    } else {
        for (size_t j = 0; j < p->k * t->rep && !a->oom; j++) {
            for (size_t i = 0; i < t->nsig; i++) {
                acc_run(a, t->sig[i].t, t->sig[i].n);
            }
        }
    }
}

static MPI_Aint amin(MPI_Aint a, MPI_Aint b)
{
    return a < b ? a : b;
}
static MPI_Aint amax(MPI_Aint a, MPI_Aint b)
{
    return a > b ? a : b;
}

/* Fill in the derived fields of t from its entries and signature. */
static void finish_layout(struct ompi_datatype_t *t)
{
    t->size = 0;
    for (size_t i = 0; i < t->nsig; i++) {
        t->size += t->sig[i].n * t->sig[i].t->size;
    }
    t->size *= t->rep;
    if (t->nsig == 1) {
        t->elem = t->sig[0].t;
        t->n = t->sig[0].n * t->rep;
        t->basic = t->elem->basic;
    } else {
        t->elem = NULL;
        t->n = 0;
        t->basic = SF_T_NONE;
    }
    if (t->nent == 0) {
        t->true_lb = 0;
        t->true_extent = 0;
    } else {
        MPI_Aint lo = 0, hi = 0;
        for (size_t i = 0; i < t->nent; i++) {
            const struct sf_dt_ent *e = &t->ent[i];
            MPI_Aint last = (MPI_Aint)(e->n - 1) * e->stride;
            MPI_Aint l = e->off + amin(0, last), h = e->off + amax(0, last) + (MPI_Aint)e->len;
            lo = i == 0 ? l : amin(lo, l);
            hi = i == 0 ? h : amax(hi, h);
        }
        MPI_Aint span = (MPI_Aint)(t->rep - 1) * t->rep_stride;
        t->true_lb = lo + amin(0, span);
        t->true_extent = hi + amax(0, span) - t->true_lb;
    }
    t->contig = t->nent == 0 || (t->rep == 1 && t->nent == 1 && t->ent[0].n == 1 &&
                                 (MPI_Aint)t->ent[0].len == t->extent);
}

static struct ompi_datatype_t *dt_alloc(void)
{
    struct ompi_datatype_t *t = calloc(1, sizeof(*t));
    if (t != NULL) {
        t->magic = SF_MPI_MAGIC_TYPE;
        t->refcount = 1;
        t->align = 1;
        t->rep = 1;
    }
    return t;
}

static void dt_destroy(struct ompi_datatype_t *t)
{
    for (int i = 0; i < t->nd; i++) {
        sf_mpi__type_release(t->types[i]);
    }
    free(t->ints);
    free(t->aints);
    free(t->types);
    free(t->ent);
    free(t->sig);
    t->magic = SF_MPI_MAGIC_DEAD;
    free(t);
}

void sf_mpi__type_release(MPI_Datatype t)
{
    if (!t->predefined && --t->refcount == 0) {
        dt_destroy(t);
    }
}

/* Below this many copies, repeating a multi-block type is flattened. */
#define SF_DT_REP_MIN 8

/* When the pieces are copies of one multi-block type c at a constant
 * stride (contiguous(N, c), a vector of single c's, a dup or resize of a
 * repeated type), keep one copy of c's blocks and set t->rep instead of
 * writing out every copy: contiguous(1e6, struct) stays small. */
static void repeat_layout(struct dt_acc *a, struct ompi_datatype_t *t, const struct dt_piece *pc,
                          size_t np)
{
    if (np == 0) {
        return;
    }
    MPI_Datatype c = pc[0].t;
    size_t k = pc[0].k, copies;
    MPI_Aint stride;
    if (k == 0 || (c->rep == 1 && c->nent < 2)) {
        return; /* one-block types already repeat as one strided entry */
    }
    if (np == 1 && pc[0].g > 1) {
        if (k != 1) {
            return;
        }
        copies = pc[0].g;
        stride = pc[0].gs;
    } else if (np == 1) {
        copies = k;
        stride = c->extent;
    } else {
        if (k != 1) {
            return;
        }
        stride = pc[1].d - pc[0].d;
        for (size_t i = 1; i < np; i++) {
            if (pc[i].t != c || pc[i].k != 1 || pc[i].g > 1 || pc[i].d - pc[i - 1].d != stride) {
                return;
            }
        }
        copies = np;
    }
    if (c->rep > 1) {
        /* a repeated type repeats again only if its copies continue evenly */
        if (copies > 1 && (MPI_Aint)c->rep * c->rep_stride != stride) {
            return;
        }
    } else if (copies < SF_DT_REP_MIN) {
        return;
    }
    for (size_t i = 0; i < c->nent; i++) {
        const struct sf_dt_ent *e = &c->ent[i];
        acc_ent(a, pc[0].d + e->off, e->len, e->n, e->stride);
    }
    for (size_t i = 0; i < c->nsig; i++) {
        acc_run(a, c->sig[i].t, c->sig[i].n);
    }
    t->rep = c->rep * copies;
    t->rep_stride = c->rep > 1 ? c->rep_stride : stride;
}

/* Build a type from pieces: typemap = the pieces in order. lb/ub follow
 * MPI-3.1 4.1 and 4.1.7: explicit markers (MPI_LB/MPI_UB, resized
 * types) win over data bounds; a struct without an explicit ub is padded
 * to the alignment of its most aligned member. NULL when out of memory. */
static struct ompi_datatype_t *dt_build(const struct dt_piece *pc, size_t np, bool is_struct)
{
    struct ompi_datatype_t *t = dt_alloc();
    if (t == NULL) {
        return NULL;
    }
    struct dt_acc a = {0};
    repeat_layout(&a, t, pc, np);
    MPI_Aint xlb = 0, xub = 0, lb = 0, ub = 0;
    for (size_t i = 0; i < np; i++) {
        const struct dt_piece *p = &pc[i];
        MPI_Datatype c = p->t;
        if (p->k == 0) {
            continue;
        }
        if (t->rep == 1) {
            acc_piece(&a, p);
        }
        if (c->align > t->align) {
            t->align = c->align;
        }
        MPI_Aint span = (MPI_Aint)(p->k - 1) * c->extent;
        MPI_Aint gspan = p->g > 1 ? (MPI_Aint)(p->g - 1) * p->gs : 0;
        MPI_Aint plb = p->d + amin(0, span) + amin(0, gspan) + c->lb;
        MPI_Aint pub = p->d + amax(0, span) + amax(0, gspan) + c->lb + c->extent;
        if (c->has_lb) {
            if (c->xlb) {
                xlb = t->xlb ? amin(xlb, plb) : plb;
                t->xlb = true;
            }
            lb = t->has_lb ? amin(lb, plb) : plb;
            t->has_lb = true;
        }
        if (c->has_ub) {
            if (c->xub) {
                xub = t->xub ? amax(xub, pub) : pub;
                t->xub = true;
            }
            ub = t->has_ub ? amax(ub, pub) : pub;
            t->has_ub = true;
        }
    }
    if (a.oom) {
        free(a.ent);
        free(a.sig);
        free(t);
        return NULL;
    }
    t->ent = a.ent;
    t->nent = a.nent;
    t->sig = a.sig;
    t->nsig = a.nsig;
    if (t->xlb) {
        lb = xlb;
    }
    if (t->xub) {
        ub = xub;
    }
    if (!t->has_lb) {
        lb = t->has_ub ? ub : 0;
    }
    if (!t->has_ub) {
        ub = lb;
    }
    if (is_struct && !t->xub && t->align > 1) {
        MPI_Aint ext = ub - lb, al = (MPI_Aint)t->align;
        if (ext % al != 0) {
            ub += al - ext % al;
        }
    }
    t->lb = lb;
    t->extent = ub - lb;
    finish_layout(t);
    return t;
}

/* Record the constructor's arguments (types referenced). 0 or -1. */
static int set_contents(struct ompi_datatype_t *t, int combiner, int ni, const int *ints, int na,
                        const MPI_Aint *aints, int nd, const MPI_Datatype *types)
{
    t->combiner = combiner;
    if (ni > 0) {
        t->ints = malloc((size_t)ni * sizeof(int));
        if (t->ints == NULL) {
            return -1;
        }
        memcpy(t->ints, ints, (size_t)ni * sizeof(int));
    }
    t->ni = ni;
    if (na > 0) {
        t->aints = malloc((size_t)na * sizeof(MPI_Aint));
        if (t->aints == NULL) {
            return -1;
        }
        memcpy(t->aints, aints, (size_t)na * sizeof(MPI_Aint));
    }
    t->na = na;
    if (nd > 0) {
        t->types = malloc((size_t)nd * sizeof(MPI_Datatype));
        if (t->types == NULL) {
            return -1;
        }
        for (int i = 0; i < nd; i++) {
            t->types[i] = types[i];
            sf_mpi__type_retain(types[i]);
            t->nd = i + 1;
        }
    }
    return 0;
}

/* ---- bindings ---- */

static int chk_count(const char *fn, int count, const char *what)
{
    if (count < 0) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_COUNT, fn, "negative %s %d", what, count);
    }
    return 0;
}

/* Build, record contents, hand out: the common tail of the constructors.
 * Frees pc. */
static int finish(const char *fn, struct dt_piece *pc, size_t np, bool is_struct, int combiner,
                  int ni, const int *ints, int na, const MPI_Aint *aints, int nd,
                  const MPI_Datatype *types, MPI_Datatype *newtype)
{
    struct ompi_datatype_t *t = dt_build(pc, np, is_struct);
    free(pc);
    if (t == NULL || set_contents(t, combiner, ni, ints, na, aints, nd, types) != 0) {
        if (t != NULL) {
            dt_destroy(t);
        }
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_NO_MEM, fn, "out of memory");
    }
    *newtype = t;
    return MPI_SUCCESS;
}

static struct dt_piece *pieces(size_t n)
{
    if (n > SIZE_MAX / 2 / sizeof(struct dt_piece)) {
        return NULL; /* also a negative count cast by a caller */
    }
    return malloc((n ? n : 1) * sizeof(struct dt_piece));
}

#define SF_NOMEM(fn) sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_NO_MEM, fn, "out of memory")

int PMPI_Type_contiguous(int count, MPI_Datatype oldtype, MPI_Datatype *newtype)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Type_contiguous";
    int err = sf_mpi__chk_type_handle(fn, oldtype);
    if (!err) {
        err = chk_count(fn, count, "count");
    }
    if (err) {
        return err;
    }
    SF_NULLARG(fn, newtype);
    struct dt_piece *pc = pieces(1);
    if (pc == NULL) {
        return SF_NOMEM(fn);
    }
    pc[0] = (struct dt_piece){oldtype, (size_t)count, 0};
    return finish(fn, pc, 1, false, MPI_COMBINER_CONTIGUOUS, 1, &count, 0, NULL, 1, &oldtype,
                  newtype);
}
SF_MPI_ALIAS(Type_contiguous);

static int vector(const char *fn, int count, int bl, MPI_Aint stride_bytes, MPI_Datatype old,
                  int combiner, const int *ints, int ni, const MPI_Aint *aints, int na,
                  MPI_Datatype *newtype)
{
    int err = sf_mpi__chk_type_handle(fn, old);
    if (!err) {
        err = chk_count(fn, count, "count");
    }
    if (!err) {
        err = chk_count(fn, bl, "blocklength");
    }
    if (err) {
        return err;
    }
    SF_NULLARG(fn, newtype);
    struct dt_piece *pc = pieces(1);
    if (pc == NULL) {
        return SF_NOMEM(fn);
    }
    pc[0] = (struct dt_piece){old, (size_t)bl, 0, (size_t)count, stride_bytes};
    return finish(fn, pc, count > 0 ? 1 : 0, false, combiner, ni, ints, na, aints, 1, &old,
                  newtype);
}

int PMPI_Type_vector(int count, int blocklength, int stride, MPI_Datatype oldtype,
                     MPI_Datatype *newtype)
{
    SF_MPI_ENTER();
    int ints[3] = {count, blocklength, stride};
    MPI_Aint ext = sf_mpi__type_ok(oldtype) ? oldtype->extent : 0;
    return vector("MPI_Type_vector", count, blocklength, (MPI_Aint)stride * ext, oldtype,
                  MPI_COMBINER_VECTOR, ints, 3, NULL, 0, newtype);
}
SF_MPI_ALIAS(Type_vector);

int PMPI_Type_create_hvector(int count, int blocklength, MPI_Aint stride, MPI_Datatype oldtype,
                             MPI_Datatype *newtype)
{
    SF_MPI_ENTER();
    int ints[2] = {count, blocklength};
    return vector("MPI_Type_create_hvector", count, blocklength, stride, oldtype,
                  MPI_COMBINER_HVECTOR, ints, 2, &stride, 1, newtype);
}
SF_MPI_ALIAS(Type_create_hvector);

/* indexed / hindexed / (h)indexed_block: blocklengths bls (or one bl for
 * all when bls is NULL), displacements in old extents (idisp) or bytes. */
static int indexed(const char *fn, int count, const int *bls, int bl, const int *idisp,
                   const MPI_Aint *adisp, MPI_Datatype old, int combiner, MPI_Datatype *newtype)
{
    int err = sf_mpi__chk_type_handle(fn, old);
    if (!err) {
        err = chk_count(fn, count, "count");
    }
    if (!err && bls == NULL) {
        err = chk_count(fn, bl, "blocklength");
    }
    if (err) {
        return err;
    }
    SF_NULLARG(fn, newtype);
    if (count > 0 && ((bls == NULL && combiner != MPI_COMBINER_INDEXED_BLOCK &&
                       combiner != MPI_COMBINER_HINDEXED_BLOCK) ||
                      (idisp == NULL && adisp == NULL))) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn, "NULL array argument");
    }
    for (int i = 0; bls != NULL && i < count; i++) {
        if (bls[i] < 0) {
            return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn, "negative blocklength %d at %d",
                                 bls[i], i);
        }
    }
    struct dt_piece *pc = pieces((size_t)count);
    /* contents: [count, bls..., idisp...] as the standard lists them */
    int *ints = malloc(((size_t)count * 2 + 2) * sizeof(int));
    if (pc == NULL || ints == NULL) {
        free(pc);
        free(ints);
        return SF_NOMEM(fn);
    }
    int ni = 0;
    ints[ni++] = count;
    if (bls != NULL) {
        memcpy(ints + ni, bls, (size_t)count * sizeof(int));
        ni += count;
    } else {
        ints[ni++] = bl;
    }
    if (idisp != NULL) {
        memcpy(ints + ni, idisp, (size_t)count * sizeof(int));
        ni += count;
    }
    for (int i = 0; i < count; i++) {
        MPI_Aint d = idisp != NULL ? (MPI_Aint)idisp[i] * old->extent : adisp[i];
        pc[i] = (struct dt_piece){old, (size_t)(bls != NULL ? bls[i] : bl), d};
    }
    err = finish(fn, pc, (size_t)count, false, combiner, ni, ints, idisp ? 0 : count, adisp, 1,
                 &old, newtype);
    free(ints);
    return err;
}

int PMPI_Type_indexed(int count, const int array_of_blocklengths[],
                      const int array_of_displacements[], MPI_Datatype oldtype,
                      MPI_Datatype *newtype)
{
    SF_MPI_ENTER();
    return indexed("MPI_Type_indexed", count, array_of_blocklengths, 0, array_of_displacements,
                   NULL, oldtype, MPI_COMBINER_INDEXED, newtype);
}
SF_MPI_ALIAS(Type_indexed);

int PMPI_Type_create_hindexed(int count, const int array_of_blocklengths[],
                              const MPI_Aint array_of_displacements[], MPI_Datatype oldtype,
                              MPI_Datatype *newtype)
{
    SF_MPI_ENTER();
    return indexed("MPI_Type_create_hindexed", count, array_of_blocklengths, 0, NULL,
                   array_of_displacements, oldtype, MPI_COMBINER_HINDEXED, newtype);
}
SF_MPI_ALIAS(Type_create_hindexed);

int PMPI_Type_create_indexed_block(int count, int blocklength, const int array_of_displacements[],
                                   MPI_Datatype oldtype, MPI_Datatype *newtype)
{
    SF_MPI_ENTER();
    return indexed("MPI_Type_create_indexed_block", count, NULL, blocklength,
                   array_of_displacements, NULL, oldtype, MPI_COMBINER_INDEXED_BLOCK, newtype);
}
SF_MPI_ALIAS(Type_create_indexed_block);

int PMPI_Type_create_hindexed_block(int count, int blocklength,
                                    const MPI_Aint array_of_displacements[], MPI_Datatype oldtype,
                                    MPI_Datatype *newtype)
{
    SF_MPI_ENTER();
    return indexed("MPI_Type_create_hindexed_block", count, NULL, blocklength, NULL,
                   array_of_displacements, oldtype, MPI_COMBINER_HINDEXED_BLOCK, newtype);
}
SF_MPI_ALIAS(Type_create_hindexed_block);

int PMPI_Type_create_struct(int count, const int array_of_blocklengths[],
                            const MPI_Aint array_of_displacements[],
                            const MPI_Datatype array_of_types[], MPI_Datatype *newtype)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Type_create_struct";
    int err = sf_mpi__chk_init(fn);
    if (!err) {
        err = chk_count(fn, count, "count");
    }
    if (err) {
        return err;
    }
    SF_NULLARG(fn, newtype);
    if (count > 0 && (array_of_blocklengths == NULL || array_of_displacements == NULL ||
                      array_of_types == NULL)) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn, "NULL array argument");
    }
    for (int i = 0; i < count; i++) {
        if (!sf_mpi__type_ok(array_of_types[i])) {
            return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_TYPE, fn, "invalid datatype at index %d",
                                 i);
        }
        if (array_of_blocklengths[i] < 0) {
            return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn, "negative blocklength %d at %d",
                                 array_of_blocklengths[i], i);
        }
    }
    struct dt_piece *pc = pieces((size_t)count);
    int *ints = malloc(((size_t)count + 1) * sizeof(int));
    if (pc == NULL || ints == NULL) {
        free(pc);
        free(ints);
        return SF_NOMEM(fn);
    }
    ints[0] = count;
    for (int i = 0; i < count; i++) {
        ints[i + 1] = array_of_blocklengths[i];
        pc[i] = (struct dt_piece){array_of_types[i], (size_t)array_of_blocklengths[i],
                                  array_of_displacements[i]};
    }
    err = finish(fn, pc, (size_t)count, true, MPI_COMBINER_STRUCT, count + 1, ints, count,
                 array_of_displacements, count, array_of_types, newtype);
    free(ints);
    return err;
}
SF_MPI_ALIAS(Type_create_struct);

/* Same layout as old with lb and extent replaced (markers, like MPI_LB/UB). */
static struct ompi_datatype_t *resized(MPI_Datatype old, MPI_Aint lb, MPI_Aint extent)
{
    struct dt_piece p = {old, 1, 0};
    struct ompi_datatype_t *t = dt_build(&p, 1, false);
    if (t == NULL) {
        return NULL;
    }
    t->lb = lb;
    t->extent = extent;
    t->xlb = t->xub = t->has_lb = t->has_ub = true;
    finish_layout(t);
    return t;
}

int PMPI_Type_create_resized(MPI_Datatype oldtype, MPI_Aint lb, MPI_Aint extent,
                             MPI_Datatype *newtype)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Type_create_resized";
    int err = sf_mpi__chk_type_handle(fn, oldtype);
    if (err) {
        return err;
    }
    SF_NULLARG(fn, newtype);
    struct ompi_datatype_t *t = resized(oldtype, lb, extent);
    MPI_Aint aints[2] = {lb, extent};
    if (t == NULL || set_contents(t, MPI_COMBINER_RESIZED, 0, NULL, 2, aints, 1, &oldtype) != 0) {
        if (t != NULL) {
            dt_destroy(t);
        }
        return SF_NOMEM(fn);
    }
    *newtype = t;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Type_create_resized);

int PMPI_Type_dup(MPI_Datatype oldtype, MPI_Datatype *newtype)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Type_dup";
    int err = sf_mpi__chk_type_handle(fn, oldtype);
    if (err) {
        return err;
    }
    SF_NULLARG(fn, newtype);
    struct ompi_datatype_t *t = resized(oldtype, oldtype->lb, oldtype->extent);
    if (t == NULL || set_contents(t, MPI_COMBINER_DUP, 0, NULL, 0, NULL, 1, &oldtype) != 0) {
        if (t != NULL) {
            dt_destroy(t);
        }
        return SF_NOMEM(fn);
    }
    /* A duplicate has the same markers as its original. */
    t->xlb = oldtype->xlb;
    t->xub = oldtype->xub;
    t->has_lb = oldtype->has_lb;
    t->has_ub = oldtype->has_ub;
    t->align = oldtype->align;
    t->committed = oldtype->committed;
    int cls = sf_mpi__attr_copy(SF_MPI_ATTR_TYPE, oldtype, oldtype->attrs, t, &t->attrs);
    if (cls) {
        dt_destroy(t);
        return sf_mpi__raise(SF_COMM_WORLD, cls, fn, "an attribute copy callback failed");
    }
    *newtype = t;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Type_dup);

/* ---- subarray and darray ---- */

/* Owned index ranges of one dimension. */
struct dt_runs {
    int n;
    int *start, *len;
};

/* The type of a grid selection: in each dimension the owned index runs,
 * elements in array storage order (C: last dimension fastest), lb 0 and
 * the extent of the whole global array. Built innermost dimension first:
 * an hindexed of the previous level, resized to the dimension's stride. */
static struct ompi_datatype_t *grid_type(int ndims, const int *gsizes, int order,
                                         const struct dt_runs *runs, MPI_Datatype old)
{
    struct ompi_datatype_t *cur = old;
    MPI_Aint stride = old->extent;
    bool own = false;
    for (int k = 0; k < ndims; k++) {
        int d = order == MPI_ORDER_C ? ndims - 1 - k : k;
        struct dt_piece *pc = pieces((size_t)runs[d].n);
        if (pc == NULL) {
            goto oom;
        }
        for (int i = 0; i < runs[d].n; i++) {
            pc[i] =
                (struct dt_piece){cur, (size_t)runs[d].len[i], (MPI_Aint)runs[d].start[i] * stride};
        }
        struct ompi_datatype_t *lvl = dt_build(pc, (size_t)runs[d].n, false);
        free(pc);
        if (lvl == NULL) {
            goto oom;
        }
        stride *= gsizes[d];
        struct ompi_datatype_t *next = resized(lvl, 0, stride);
        dt_destroy(lvl);
        if (own) {
            dt_destroy(cur);
        }
        if (next == NULL) {
            return NULL;
        }
        cur = next;
        own = true;
    }
    if (!own) {
        cur = resized(old, 0, old->extent); /* ndims 0 is refused earlier */
    }
    return cur;
oom:
    if (own) {
        dt_destroy(cur);
    }
    return NULL;
}

static void runs_free(struct dt_runs *r, int ndims)
{
    for (int i = 0; r != NULL && i < ndims; i++) {
        free(r[i].start);
        free(r[i].len);
    }
    free(r);
}

static bool runs_alloc(struct dt_runs *r, int n)
{
    r->start = malloc((size_t)(n ? n : 1) * sizeof(int));
    r->len = malloc((size_t)(n ? n : 1) * sizeof(int));
    r->n = 0;
    return r->start != NULL && r->len != NULL;
}

static int grid_finish(const char *fn, int ndims, const int *gsizes, int order,
                       struct dt_runs *runs, MPI_Datatype old, int combiner, int ni,
                       const int *ints, MPI_Datatype *newtype)
{
    struct ompi_datatype_t *t = grid_type(ndims, gsizes, order, runs, old);
    runs_free(runs, ndims);
    if (t == NULL || set_contents(t, combiner, ni, ints, 0, NULL, 1, &old) != 0) {
        if (t != NULL) {
            dt_destroy(t);
        }
        return SF_NOMEM(fn);
    }
    *newtype = t;
    return MPI_SUCCESS;
}

int PMPI_Type_create_subarray(int ndims, const int array_of_sizes[], const int array_of_subsizes[],
                              const int array_of_starts[], int order, MPI_Datatype oldtype,
                              MPI_Datatype *newtype)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Type_create_subarray";
    int err = sf_mpi__chk_type_handle(fn, oldtype);
    if (err) {
        return err;
    }
    SF_NULLARG(fn, newtype);
    if (ndims <= 0 || array_of_sizes == NULL || array_of_subsizes == NULL ||
        array_of_starts == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn, "invalid ndims %d or NULL array",
                             ndims);
    }
    if (order != MPI_ORDER_C && order != MPI_ORDER_FORTRAN) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn, "invalid order %d", order);
    }
    for (int i = 0; i < ndims; i++) {
        int sz = array_of_sizes[i], sub = array_of_subsizes[i], st = array_of_starts[i];
        if (sz <= 0 || sub < 0 || sub > sz || st < 0 || st > sz - sub) {
            return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn,
                                 "dimension %d: size %d, subsize %d, start %d out of range", i, sz,
                                 sub, st);
        }
    }
    struct dt_runs *runs = calloc((size_t)ndims, sizeof(*runs));
    int *ints = malloc(((size_t)ndims * 3 + 2) * sizeof(int));
    if (runs == NULL || ints == NULL) {
        free(runs);
        free(ints);
        return SF_NOMEM(fn);
    }
    for (int i = 0; i < ndims; i++) {
        if (!runs_alloc(&runs[i], 1)) {
            runs_free(runs, ndims);
            free(ints);
            return SF_NOMEM(fn);
        }
        runs[i].n = 1;
        runs[i].start[0] = array_of_starts[i];
        runs[i].len[0] = array_of_subsizes[i];
    }
    ints[0] = ndims;
    memcpy(ints + 1, array_of_sizes, (size_t)ndims * sizeof(int));
    memcpy(ints + 1 + ndims, array_of_subsizes, (size_t)ndims * sizeof(int));
    memcpy(ints + 1 + 2 * ndims, array_of_starts, (size_t)ndims * sizeof(int));
    ints[1 + 3 * ndims] = order;
    err = grid_finish(fn, ndims, array_of_sizes, order, runs, oldtype, MPI_COMBINER_SUBARRAY,
                      3 * ndims + 2, ints, newtype);
    free(ints);
    return err;
}
SF_MPI_ALIAS(Type_create_subarray);

int PMPI_Type_create_darray(int size, int rank, int ndims, const int gsizes[], const int distribs[],
                            const int dargs[], const int psizes[], int order, MPI_Datatype oldtype,
                            MPI_Datatype *newtype)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Type_create_darray";
    int err = sf_mpi__chk_type_handle(fn, oldtype);
    if (err) {
        return err;
    }
    SF_NULLARG(fn, newtype);
    if (ndims <= 0 || gsizes == NULL || distribs == NULL || dargs == NULL || psizes == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn, "invalid ndims %d or NULL array",
                             ndims);
    }
    if (order != MPI_ORDER_C && order != MPI_ORDER_FORTRAN) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn, "invalid order %d", order);
    }
    long procs = 1;
    for (int i = 0; i < ndims; i++) {
        if (gsizes[i] <= 0 || psizes[i] <= 0) {
            return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn,
                                 "dimension %d: gsize %d, psize %d must be positive", i, gsizes[i],
                                 psizes[i]);
        }
        if (distribs[i] == MPI_DISTRIBUTE_NONE && psizes[i] != 1) {
            return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn,
                                 "dimension %d is not distributed but psize is %d", i, psizes[i]);
        }
        procs *= psizes[i];
    }
    if (procs != size || rank < 0 || rank >= size) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn,
                             "rank %d / size %d do not match the process grid of %ld", rank, size,
                             procs);
    }
    struct dt_runs *runs = calloc((size_t)ndims, sizeof(*runs));
    int *ints = malloc(((size_t)ndims * 4 + 4) * sizeof(int));
    if (runs == NULL || ints == NULL) {
        free(runs);
        free(ints);
        return SF_NOMEM(fn);
    }
    /* The process grid is row-major whatever the array order (MPI-3.1 4.1.4). */
    int r = rank;
    for (int i = ndims - 1; i >= 0; i--) {
        int coord = r % psizes[i];
        r /= psizes[i];
        int g = gsizes[i], p = psizes[i], b;
        struct dt_runs *ru = &runs[i];
        switch (distribs[i]) {
        case MPI_DISTRIBUTE_NONE:
            if (!runs_alloc(ru, 1)) {
                goto oom;
            }
            ru->start[0] = 0;
            ru->len[0] = g;
            ru->n = 1;
            break;
        case MPI_DISTRIBUTE_BLOCK:
            b = dargs[i] == MPI_DISTRIBUTE_DFLT_DARG ? (g + p - 1) / p : dargs[i];
            if (b <= 0 || (long)b * p < g) {
                runs_free(runs, ndims);
                free(ints);
                return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn,
                                     "dimension %d: block size %d too small for %d elements "
                                     "on %d processes",
                                     i, b, g, p);
            }
            if (!runs_alloc(ru, 1)) {
                goto oom;
            }
            if ((long)coord * b < g) {
                ru->start[0] = coord * b;
                ru->len[0] = (long)(coord + 1) * b > g ? g - coord * b : b;
                ru->n = 1;
            }
            break;
        case MPI_DISTRIBUTE_CYCLIC:
            b = dargs[i] == MPI_DISTRIBUTE_DFLT_DARG ? 1 : dargs[i];
            if (b <= 0) {
                runs_free(runs, ndims);
                free(ints);
                return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn,
                                     "dimension %d: invalid cyclic block %d", i, b);
            }
            {
                long step = (long)b * p, first = (long)coord * b;
                int nb = first < g ? (int)((g - first + step - 1) / step) : 0;
                if (!runs_alloc(ru, nb)) {
                    goto oom;
                }
                for (long s = first; s < g; s += step) {
                    ru->start[ru->n] = (int)s;
                    ru->len[ru->n] = (int)(s + b > g ? g - s : b);
                    ru->n++;
                }
            }
            break;
        default:
            runs_free(runs, ndims);
            free(ints);
            return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn,
                                 "dimension %d: invalid distribution %d", i, distribs[i]);
        }
    }
    ints[0] = size;
    ints[1] = rank;
    ints[2] = ndims;
    memcpy(ints + 3, gsizes, (size_t)ndims * sizeof(int));
    memcpy(ints + 3 + ndims, distribs, (size_t)ndims * sizeof(int));
    memcpy(ints + 3 + 2 * ndims, dargs, (size_t)ndims * sizeof(int));
    memcpy(ints + 3 + 3 * ndims, psizes, (size_t)ndims * sizeof(int));
    ints[3 + 4 * ndims] = order;
    err = grid_finish(fn, ndims, gsizes, order, runs, oldtype, MPI_COMBINER_DARRAY, 4 * ndims + 4,
                      ints, newtype);
    free(ints);
    return err;
oom:
    runs_free(runs, ndims);
    free(ints);
    return SF_NOMEM(fn);
}
SF_MPI_ALIAS(Type_create_darray);

/* ---- commit, free, envelope, contents ---- */

int PMPI_Type_commit(MPI_Datatype *datatype)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Type_commit";
    SF_NULLARG(fn, datatype);
    int err = sf_mpi__chk_type_handle(fn, *datatype);
    if (err) {
        return err;
    }
    /* The layout is flattened at construction: nothing left to do. */
    (*datatype)->committed = true;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Type_commit);

int PMPI_Type_free(MPI_Datatype *datatype)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Type_free";
    SF_NULLARG(fn, datatype);
    int err = sf_mpi__chk_type_handle(fn, *datatype);
    if (err) {
        return err;
    }
    if ((*datatype)->predefined) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_TYPE, fn, "cannot free predefined datatype %s",
                             (*datatype)->name);
    }
    /* Attributes go with the user's handle; pending operations and types
     * built on it hold their own references to the layout. */
    int cls = sf_mpi__attr_delete_all(SF_MPI_ATTR_TYPE, *datatype, &(*datatype)->attrs);
    if (cls) {
        return sf_mpi__raise(SF_COMM_WORLD, cls, fn, "an attribute delete callback failed");
    }
    sf_mpi__type_release(*datatype);
    *datatype = MPI_DATATYPE_NULL;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Type_free);

int PMPI_Type_get_envelope(MPI_Datatype datatype, int *num_integers, int *num_addresses,
                           int *num_datatypes, int *combiner)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Type_get_envelope";
    int err = sf_mpi__chk_type_handle(fn, datatype);
    if (err) {
        return err;
    }
    SF_NULLARG(fn, num_integers);
    SF_NULLARG(fn, num_addresses);
    SF_NULLARG(fn, num_datatypes);
    SF_NULLARG(fn, combiner);
    *combiner = datatype->predefined ? MPI_COMBINER_NAMED : datatype->combiner;
    *num_integers = datatype->ni;
    *num_addresses = datatype->na;
    *num_datatypes = datatype->nd;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Type_get_envelope);

int PMPI_Type_get_contents(MPI_Datatype mtype, int max_integers, int max_addresses,
                           int max_datatypes, int array_of_integers[],
                           MPI_Aint array_of_addresses[], MPI_Datatype array_of_datatypes[])
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Type_get_contents";
    int err = sf_mpi__chk_type_handle(fn, mtype);
    if (err) {
        return err;
    }
    if (mtype->predefined) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_TYPE, fn,
                             "%s is predefined (combiner MPI_COMBINER_NAMED)", mtype->name);
    }
    if (max_integers < mtype->ni || max_addresses < mtype->na || max_datatypes < mtype->nd) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn,
                             "arrays too small: need %d integers, %d addresses, %d datatypes",
                             mtype->ni, mtype->na, mtype->nd);
    }
    if ((mtype->ni && array_of_integers == NULL) || (mtype->na && array_of_addresses == NULL) ||
        (mtype->nd && array_of_datatypes == NULL)) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn, "NULL array argument");
    }
    if (mtype->ni) {
        memcpy(array_of_integers, mtype->ints, (size_t)mtype->ni * sizeof(int));
    }
    if (mtype->na) {
        memcpy(array_of_addresses, mtype->aints, (size_t)mtype->na * sizeof(MPI_Aint));
    }
    /* Derived types come back as new references that the caller frees
     * with MPI_Type_free (the same object, as Open MPI and MPICH do). */
    for (int i = 0; i < mtype->nd; i++) {
        sf_mpi__type_retain(mtype->types[i]);
        array_of_datatypes[i] = mtype->types[i];
    }
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Type_get_contents);
