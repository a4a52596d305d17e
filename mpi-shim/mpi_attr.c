/* Attribute caching on communicators and datatypes: keyvals with copy and
 * delete callbacks, per-object attribute lists, the predefined attributes
 * (MPI_TAG_UB ...) and the MPI-1 Keyval/Attr names. Window attributes are
 * not here (no windows yet). Process-wide keyval table; caller's thread. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "mpi-shim/shim_int.h"

/* All copy/delete callbacks share one shape: the handle is a pointer. */
typedef int(copy_fn_t)(void *obj, int keyval, void *extra, void *in, void *out, int *flag);
typedef int(del_fn_t)(void *obj, int keyval, void *val, void *extra);

struct keyval {
    enum sf_mpi_attr_kind kind;
    copy_fn_t *copy;
    del_fn_t *del;
    void *extra;
    int refs; /* attributes using it + 1 while not freed */
};

struct sf_mpi_attr {
    struct sf_mpi_attr *next;
    int keyval;
    void *val;
};

/* Keyvals 0..15 are Open MPI's predefined ones (MPI_TAG_UB = 0 ...). */
#define KV_FIRST 16
static struct keyval **kv_tab;
static int kv_cap;

static int attr_tag_ub = INT_MAX;
static int attr_host = MPI_PROC_NULL;
static int attr_io = MPI_ANY_SOURCE;
static int attr_wtime_global = 0;
static int attr_appnum = 0;
static int attr_universe;
static int attr_lastcode = MPI_ERR_LASTCODE;

void sf_mpi__attr_lastcode(int code)
{
    if (code > attr_lastcode) {
        attr_lastcode = code;
    }
}

static struct keyval *kv_get(int k, enum sf_mpi_attr_kind kind)
{
    if (k < KV_FIRST || k >= kv_cap || kv_tab[k] == NULL || kv_tab[k]->kind != kind) {
        return NULL;
    }
    return kv_tab[k];
}

static void kv_unref(int k)
{
    if (--kv_tab[k]->refs == 0) {
        free(kv_tab[k]);
        kv_tab[k] = NULL;
    }
}

static const char *kind_name(enum sf_mpi_attr_kind kind)
{
    return kind == SF_MPI_ATTR_COMM   ? "communicator"
           : kind == SF_MPI_ATTR_TYPE ? "datatype"
                                      : "window";
}

static int create_keyval(const char *fn, enum sf_mpi_attr_kind kind, copy_fn_t *copy, del_fn_t *del,
                         int *keyval, void *extra)
{
    int err = sf_mpi__chk_init(fn);
    if (err) {
        return err;
    }
    if (keyval == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn, "keyval is NULL");
    }
    int k = KV_FIRST;
    while (k < kv_cap && kv_tab[k] != NULL) {
        k++;
    }
    if (k >= kv_cap) {
        int ncap = kv_cap ? kv_cap * 2 : 64;
        struct keyval **t = realloc(kv_tab, sizeof(*t) * (size_t)ncap);
        if (t == NULL) {
            return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_NO_MEM, fn, "out of memory");
        }
        memset(t + kv_cap, 0, sizeof(*t) * (size_t)(ncap - kv_cap));
        kv_tab = t;
        kv_cap = ncap;
    }
    struct keyval *v = calloc(1, sizeof(*v));
    if (v == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_NO_MEM, fn, "out of memory");
    }
    v->kind = kind;
    v->copy = copy;
    v->del = del;
    v->extra = extra;
    v->refs = 1;
    kv_tab[k] = v;
    *keyval = k;
    return MPI_SUCCESS;
}

static int free_keyval(const char *fn, enum sf_mpi_attr_kind kind, int *keyval)
{
    int err = sf_mpi__chk_init(fn);
    if (err) {
        return err;
    }
    if (keyval == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn, "keyval is NULL");
    }
    if (kv_get(*keyval, kind) == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_KEYVAL, fn, "invalid %s keyval %d",
                             kind_name(kind), *keyval);
    }
    /* Attributes still using it keep it alive until they are deleted. */
    kv_unref(*keyval);
    *keyval = MPI_KEYVAL_INVALID;
    return MPI_SUCCESS;
}

static struct sf_mpi_attr *find(struct sf_mpi_attr *l, int k)
{
    for (; l != NULL; l = l->next) {
        if (l->keyval == k) {
            return l;
        }
    }
    return NULL;
}

/* Run k's delete callback for a value; 0 or its error. */
static int run_delete(void *obj, int k, void *val)
{
    struct keyval *v = kv_tab[k];
    if (v->del == NULL) {
        return 0;
    }
    return v->del(obj, k, val, v->extra);
}

/* Unlink and free the node holding k (its delete callback already ran). */
static void unlink_attr(struct sf_mpi_attr **list, int k)
{
    for (struct sf_mpi_attr **p = list; *p != NULL; p = &(*p)->next) {
        if ((*p)->keyval == k) {
            struct sf_mpi_attr *a = *p;
            *p = a->next;
            free(a);
            kv_unref(k);
            return;
        }
    }
}

static int set_attr(const char *fn, MPI_Comm ecomm, enum sf_mpi_attr_kind kind, void *obj,
                    struct sf_mpi_attr **list, int k, void *val)
{
    if (kv_get(k, kind) == NULL) {
        return sf_mpi__raise(
            ecomm, MPI_ERR_KEYVAL, fn, "invalid %s keyval %d%s", kind_name(kind), k,
            k >= 0 && k < KV_FIRST ? " (predefined attributes are read-only)" : "");
    }
    struct sf_mpi_attr *a = find(*list, k);
    if (a != NULL) {
        /* Replacing a value deletes the old one first; the attribute then
         * counts as set last (Open MPI's delete order does the same). */
        int err = run_delete(obj, k, a->val);
        if (err) {
            return sf_mpi__raise(ecomm, err, fn, "the delete callback of keyval %d failed", k);
        }
        for (struct sf_mpi_attr **p = list; *p != NULL; p = &(*p)->next) {
            if (*p == a) {
                *p = a->next;
                break;
            }
        }
        a->next = NULL;
    } else {
        a = calloc(1, sizeof(*a));
        if (a == NULL) {
            return sf_mpi__raise(ecomm, MPI_ERR_NO_MEM, fn, "out of memory");
        }
        a->keyval = k;
        kv_tab[k]->refs++;
    }
    a->val = val;
    struct sf_mpi_attr **p = list;
    while (*p != NULL) {
        p = &(*p)->next;
    }
    *p = a;
    return MPI_SUCCESS;
}

static int delete_attr(const char *fn, MPI_Comm ecomm, enum sf_mpi_attr_kind kind, void *obj,
                       struct sf_mpi_attr **list, int k)
{
    if (kv_get(k, kind) == NULL) {
        return sf_mpi__raise(ecomm, MPI_ERR_KEYVAL, fn, "invalid %s keyval %d", kind_name(kind), k);
    }
    struct sf_mpi_attr *a = find(*list, k);
    if (a == NULL) {
        return sf_mpi__raise(ecomm, MPI_ERR_KEYVAL, fn, "no attribute for keyval %d", k);
    }
    int err = run_delete(obj, k, a->val);
    if (err) {
        return sf_mpi__raise(ecomm, err, fn, "the delete callback of keyval %d failed", k);
    }
    unlink_attr(list, k);
    return MPI_SUCCESS;
}

static int cmp_keyval(const void *a, const void *b)
{
    int x = (*(struct sf_mpi_attr *const *)a)->keyval,
        y = (*(struct sf_mpi_attr *const *)b)->keyval;
    return (x > y) - (x < y);
}

int sf_mpi__attr_copy(enum sf_mpi_attr_kind kind, void *oldobj, struct sf_mpi_attr *from,
                      void *newobj, struct sf_mpi_attr **to)
{
    /* Copies run in keyval creation order, as Open MPI does; the copies
     * are then 'set' in that order (which the deletes reverse). */
    size_t n = 0;
    for (struct sf_mpi_attr *a = from; a != NULL; a = a->next) {
        n++;
    }
    if (n == 0) {
        return 0;
    }
    struct sf_mpi_attr **v = malloc(sizeof(*v) * n);
    if (v == NULL) {
        return MPI_ERR_NO_MEM;
    }
    n = 0;
    for (struct sf_mpi_attr *a = from; a != NULL; a = a->next) {
        v[n++] = a;
    }
    qsort(v, n, sizeof(*v), cmp_keyval);
    struct sf_mpi_attr **tail = to;
    int err = 0;
    for (size_t i = 0; i < n && !err; i++) {
        struct sf_mpi_attr *a = v[i];
        struct keyval *kv = kv_tab[a->keyval];
        if (kv->copy == NULL) {
            continue;
        }
        void *out = NULL;
        int flag = 0;
        err = kv->copy(oldobj, a->keyval, kv->extra, a->val, &out, &flag);
        if (err || !flag) {
            continue;
        }
        struct sf_mpi_attr *c = calloc(1, sizeof(*c));
        if (c == NULL) {
            err = MPI_ERR_NO_MEM;
            break;
        }
        c->keyval = a->keyval;
        c->val = out;
        kv->refs++;
        *tail = c;
        tail = &c->next;
    }
    free(v);
    if (err) {
        sf_mpi__attr_delete_all(kind, newobj, to);
    }
    return err;
}

int sf_mpi__attr_delete_all(enum sf_mpi_attr_kind kind, void *obj, struct sf_mpi_attr **list)
{
    (void)kind;
    int first = 0;
    /* Reverse setting order: the last attribute set goes first. */
    while (*list != NULL) {
        struct sf_mpi_attr *last = *list;
        while (last->next != NULL) {
            last = last->next;
        }
        int k = last->keyval;
        int err = run_delete(obj, k, last->val);
        if (err && !first) {
            first = err;
        }
        unlink_attr(list, k);
    }
    return first;
}

/* --- communicators --- */

static int chk_c(const char *fn, MPI_Comm comm)
{
    int err = sf_mpi__chk_init(fn);
    if (!err) {
        err = sf_mpi__chk_comm(fn, comm);
    }
    return err;
}

int PMPI_Comm_create_keyval(MPI_Comm_copy_attr_function *comm_copy_attr_fn,
                            MPI_Comm_delete_attr_function *comm_delete_attr_fn, int *comm_keyval,
                            void *extra_state)
{
    SF_MPI_ENTER();
    return create_keyval("MPI_Comm_create_keyval", SF_MPI_ATTR_COMM,
                         (copy_fn_t *)(void (*)(void))comm_copy_attr_fn,
                         (del_fn_t *)(void (*)(void))comm_delete_attr_fn, comm_keyval, extra_state);
}
SF_MPI_ALIAS(Comm_create_keyval);

int PMPI_Keyval_create(MPI_Copy_function *copy_fn, MPI_Delete_function *delete_fn, int *keyval,
                       void *extra_state)
{
    SF_MPI_ENTER();
    return create_keyval("MPI_Keyval_create", SF_MPI_ATTR_COMM,
                         (copy_fn_t *)(void (*)(void))copy_fn,
                         (del_fn_t *)(void (*)(void))delete_fn, keyval, extra_state);
}
SF_MPI_ALIAS(Keyval_create);

int PMPI_Comm_free_keyval(int *comm_keyval)
{
    SF_MPI_ENTER();
    return free_keyval("MPI_Comm_free_keyval", SF_MPI_ATTR_COMM, comm_keyval);
}
SF_MPI_ALIAS(Comm_free_keyval);

int PMPI_Keyval_free(int *keyval)
{
    SF_MPI_ENTER();
    return free_keyval("MPI_Keyval_free", SF_MPI_ATTR_COMM, keyval);
}
SF_MPI_ALIAS(Keyval_free);

static int comm_set(const char *fn, MPI_Comm comm, int k, void *val)
{
    int err = chk_c(fn, comm);
    if (err) {
        return err;
    }
    return set_attr(fn, comm, SF_MPI_ATTR_COMM, comm, &comm->attrs, k, val);
}

int PMPI_Comm_set_attr(MPI_Comm comm, int comm_keyval, void *attribute_val)
{
    SF_MPI_ENTER();
    return comm_set("MPI_Comm_set_attr", comm, comm_keyval, attribute_val);
}
SF_MPI_ALIAS(Comm_set_attr);

int PMPI_Attr_put(MPI_Comm comm, int keyval, void *attribute_val)
{
    SF_MPI_ENTER();
    return comm_set("MPI_Attr_put", comm, keyval, attribute_val);
}
SF_MPI_ALIAS(Attr_put);

static int comm_get(const char *fn, MPI_Comm comm, int k, void *attribute_val, int *flag)
{
    int err = chk_c(fn, comm);
    if (err) {
        return err;
    }
    if (attribute_val == NULL || flag == NULL) {
        return sf_mpi__raise(comm, MPI_ERR_ARG, fn, "attribute_val or flag is NULL");
    }
    int *v = NULL;
    switch (k) {
    case MPI_TAG_UB:
        v = &attr_tag_ub;
        break;
    case MPI_HOST:
        v = &attr_host;
        break;
    case MPI_IO:
        v = &attr_io;
        break;
    case MPI_WTIME_IS_GLOBAL:
        v = &attr_wtime_global;
        break;
    case MPI_APPNUM:
        v = &attr_appnum;
        break;
    case MPI_UNIVERSE_SIZE:
        attr_universe = sf_mpi__st.world_size;
        v = &attr_universe;
        break;
    case MPI_LASTUSEDCODE:
        v = &attr_lastcode;
        break;
    default:
        break;
    }
    if (v != NULL) {
        /* The predefined attributes are readable on every communicator. */
        *(int **)attribute_val = v;
        *flag = 1;
        return MPI_SUCCESS;
    }
    if (kv_get(k, SF_MPI_ATTR_COMM) == NULL) {
        return sf_mpi__raise(comm, MPI_ERR_KEYVAL, fn, "invalid communicator keyval %d", k);
    }
    struct sf_mpi_attr *a = find(comm->attrs, k);
    *flag = a != NULL;
    if (a != NULL) {
        *(void **)attribute_val = a->val;
    }
    return MPI_SUCCESS;
}

int PMPI_Comm_get_attr(MPI_Comm comm, int comm_keyval, void *attribute_val, int *flag)
{
    SF_MPI_ENTER();
    return comm_get("MPI_Comm_get_attr", comm, comm_keyval, attribute_val, flag);
}
SF_MPI_ALIAS(Comm_get_attr);

int PMPI_Attr_get(MPI_Comm comm, int keyval, void *attribute_val, int *flag)
{
    SF_MPI_ENTER();
    return comm_get("MPI_Attr_get", comm, keyval, attribute_val, flag);
}
SF_MPI_ALIAS(Attr_get);

static int comm_del(const char *fn, MPI_Comm comm, int k)
{
    int err = chk_c(fn, comm);
    if (err) {
        return err;
    }
    return delete_attr(fn, comm, SF_MPI_ATTR_COMM, comm, &comm->attrs, k);
}

int PMPI_Comm_delete_attr(MPI_Comm comm, int comm_keyval)
{
    SF_MPI_ENTER();
    return comm_del("MPI_Comm_delete_attr", comm, comm_keyval);
}
SF_MPI_ALIAS(Comm_delete_attr);

int PMPI_Attr_delete(MPI_Comm comm, int keyval)
{
    SF_MPI_ENTER();
    return comm_del("MPI_Attr_delete", comm, keyval);
}
SF_MPI_ALIAS(Attr_delete);

/* --- datatypes --- */

static int chk_t(const char *fn, MPI_Datatype t)
{
    int err = sf_mpi__chk_init(fn);
    if (!err && !sf_mpi__type_ok(t)) {
        err = sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_TYPE, fn, "invalid datatype");
    }
    return err;
}

int PMPI_Type_create_keyval(MPI_Type_copy_attr_function *type_copy_attr_fn,
                            MPI_Type_delete_attr_function *type_delete_attr_fn, int *type_keyval,
                            void *extra_state)
{
    SF_MPI_ENTER();
    return create_keyval("MPI_Type_create_keyval", SF_MPI_ATTR_TYPE,
                         (copy_fn_t *)(void (*)(void))type_copy_attr_fn,
                         (del_fn_t *)(void (*)(void))type_delete_attr_fn, type_keyval, extra_state);
}
SF_MPI_ALIAS(Type_create_keyval);

int PMPI_Type_free_keyval(int *type_keyval)
{
    SF_MPI_ENTER();
    return free_keyval("MPI_Type_free_keyval", SF_MPI_ATTR_TYPE, type_keyval);
}
SF_MPI_ALIAS(Type_free_keyval);

int PMPI_Type_set_attr(MPI_Datatype type, int type_keyval, void *attr_val)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Type_set_attr";
    int err = chk_t(fn, type);
    if (err) {
        return err;
    }
    return set_attr(fn, SF_COMM_WORLD, SF_MPI_ATTR_TYPE, type, &type->attrs, type_keyval, attr_val);
}
SF_MPI_ALIAS(Type_set_attr);

int PMPI_Type_get_attr(MPI_Datatype type, int type_keyval, void *attribute_val, int *flag)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Type_get_attr";
    int err = chk_t(fn, type);
    if (err) {
        return err;
    }
    if (attribute_val == NULL || flag == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn, "attribute_val or flag is NULL");
    }
    if (kv_get(type_keyval, SF_MPI_ATTR_TYPE) == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_KEYVAL, fn, "invalid datatype keyval %d",
                             type_keyval);
    }
    struct sf_mpi_attr *a = find(type->attrs, type_keyval);
    *flag = a != NULL;
    if (a != NULL) {
        *(void **)attribute_val = a->val;
    }
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Type_get_attr);

int PMPI_Type_delete_attr(MPI_Datatype type, int type_keyval)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Type_delete_attr";
    int err = chk_t(fn, type);
    if (err) {
        return err;
    }
    return delete_attr(fn, SF_COMM_WORLD, SF_MPI_ATTR_TYPE, type, &type->attrs, type_keyval);
}
SF_MPI_ALIAS(Type_delete_attr);
