/* Info objects: ordered (key, value) string lists, and MPI_INFO_ENV with
 * the standard's start-up keys, filled on first use. No hint is acted on
 * anywhere yet; they are stored and returned. Caller's thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "mpi-shim/shim_int.h"

#define INFO_NULL ((struct ompi_info_t *)(void *)&ompi_mpi_info_null)
#define INFO_ENV ((struct ompi_info_t *)(void *)&ompi_mpi_info_env)

bool sf_mpi__info_ok(MPI_Info info, bool null_ok)
{
    if (info == NULL || info->magic != SF_MPI_MAGIC_OTHER || info->which < 0 || info->which > 2) {
        return false;
    }
    return null_ok || info->which != 0;
}

static struct sf_mpi_info_kv **slot(MPI_Info info, const char *key)
{
    struct sf_mpi_info_kv **p = &info->kv;
    while (*p != NULL && strcmp((*p)->key, key) != 0) {
        p = &(*p)->next;
    }
    return p;
}

/* Set key to val (copied); 0 or -1 when out of memory. */
static int kv_set(MPI_Info info, const char *key, const char *val)
{
    struct sf_mpi_info_kv **p = slot(info, key);
    char *v = strdup(val);
    if (v == NULL) {
        return -1;
    }
    if (*p != NULL) {
        free((*p)->val);
        (*p)->val = v;
        return 0;
    }
    struct sf_mpi_info_kv *e = calloc(1, sizeof(*e));
    char *k = strdup(key);
    if (e == NULL || k == NULL) {
        free(e);
        free(k);
        free(v);
        return -1;
    }
    e->key = k;
    e->val = v;
    *p = e;
    info->nkeys++;
    return 0;
}

/* Program name and arguments from /proc (MPI_Init may get NULL argv). */
static void env_fill(void)
{
    static bool done;
    if (done) {
        return;
    }
    done = true;
    FILE *f = fopen("/proc/self/cmdline", "r");
    if (f != NULL) {
        char buf[4096];
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        if (n > 0) {
            kv_set(INFO_ENV, "command", buf);
            /* argv: the arguments after the command, space separated */
            size_t first = strlen(buf) + 1;
            for (size_t i = first; i + 1 < n; i++) {
                if (buf[i] == '\0') {
                    buf[i] = ' ';
                }
            }
            kv_set(INFO_ENV, "argv", first < n ? buf + first : "");
        }
    }
    char num[32];
    snprintf(num, sizeof(num), "%d", sf_mpi__st.world_size);
    kv_set(INFO_ENV, "maxprocs", num);
    kv_set(INFO_ENV, "soft", num);
    kv_set(INFO_ENV, "host", sf_mpi__st.host);
    struct utsname u;
    if (uname(&u) == 0) {
        kv_set(INFO_ENV, "arch", u.machine);
    }
    char cwd[1024];
    if (getcwd(cwd, sizeof(cwd)) != NULL) {
        kv_set(INFO_ENV, "wdir", cwd);
    }
    static const char *const levels[] = {"MPI_THREAD_SINGLE", "MPI_THREAD_FUNNELED",
                                         "MPI_THREAD_SERIALIZED", "MPI_THREAD_MULTIPLE"};
    int l = sf_mpi__st.thread_level;
    kv_set(INFO_ENV, "thread_level", levels[l >= 0 && l < 4 ? l : 0]);
}

/* Checks for bindings that read an info; 0 or raised. */
static int chk_info(const char *fn, MPI_Info info)
{
    int err = sf_mpi__chk_init(fn);
    if (err) {
        return err;
    }
    if (!sf_mpi__info_ok(info, false)) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_INFO, fn, "invalid info%s",
                             info == MPI_INFO_NULL ? " (MPI_INFO_NULL)" : "");
    }
    if (info == INFO_ENV) {
        env_fill();
    }
    return 0;
}

static int chk_key(const char *fn, const char *key)
{
    if (key == NULL || key[0] == '\0' || strlen(key) >= MPI_MAX_INFO_KEY) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_INFO_KEY, fn,
                             "invalid key (empty, NULL or %d characters or more)",
                             MPI_MAX_INFO_KEY);
    }
    return 0;
}

struct ompi_info_t *sf_mpi__info_dup(MPI_Info info, int *err)
{
    if (info == MPI_INFO_NULL) {
        return NULL;
    }
    if (info == INFO_ENV) {
        env_fill();
    }
    struct ompi_info_t *n = calloc(1, sizeof(*n));
    if (n == NULL) {
        *err = MPI_ERR_NO_MEM;
        return NULL;
    }
    n->magic = SF_MPI_MAGIC_OTHER;
    n->which = 2;
    for (struct sf_mpi_info_kv *e = info->kv; e != NULL; e = e->next) {
        if (kv_set(n, e->key, e->val) < 0) {
            sf_mpi__info_free(n);
            *err = MPI_ERR_NO_MEM;
            return NULL;
        }
    }
    return n;
}

void sf_mpi__info_free(struct ompi_info_t *info)
{
    if (info == NULL || info->which != 2) {
        return;
    }
    while (info->kv != NULL) {
        struct sf_mpi_info_kv *e = info->kv;
        info->kv = e->next;
        free(e->key);
        free(e->val);
        free(e);
    }
    info->magic = SF_MPI_MAGIC_DEAD;
    free(info);
}

int PMPI_Info_create(MPI_Info *info)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Info_create";
    int err = sf_mpi__chk_init(fn);
    if (err) {
        return err;
    }
    if (info == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn, "info is NULL");
    }
    struct ompi_info_t *n = calloc(1, sizeof(*n));
    if (n == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_NO_MEM, fn, "out of memory");
    }
    n->magic = SF_MPI_MAGIC_OTHER;
    n->which = 2;
    *info = n;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Info_create);

int PMPI_Info_dup(MPI_Info info, MPI_Info *newinfo)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Info_dup";
    int err = chk_info(fn, info);
    if (err) {
        return err;
    }
    if (newinfo == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn, "newinfo is NULL");
    }
    struct ompi_info_t *n = sf_mpi__info_dup(info, &err);
    if (n == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, err, fn, "out of memory");
    }
    *newinfo = n;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Info_dup);

int PMPI_Info_free(MPI_Info *info)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Info_free";
    if (info == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn, "info is NULL");
    }
    int err = chk_info(fn, *info);
    if (err) {
        return err;
    }
    if ((*info)->which != 2) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_INFO, fn, "cannot free MPI_INFO_ENV");
    }
    sf_mpi__info_free(*info);
    *info = MPI_INFO_NULL;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Info_free);

int PMPI_Info_set(MPI_Info info, const char *key, const char *value)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Info_set";
    int err = chk_info(fn, info);
    if (!err) {
        err = chk_key(fn, key);
    }
    if (err) {
        return err;
    }
    if (value == NULL || value[0] == '\0' || strlen(value) >= MPI_MAX_INFO_VAL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_INFO_VALUE, fn,
                             "invalid value for key '%s' (empty, NULL or %d characters or more)",
                             key, MPI_MAX_INFO_VAL);
    }
    if (info->which != 2) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_INFO, fn, "MPI_INFO_ENV is read-only");
    }
    if (kv_set(info, key, value) < 0) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_NO_MEM, fn, "out of memory");
    }
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Info_set);

int PMPI_Info_delete(MPI_Info info, const char *key)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Info_delete";
    int err = chk_info(fn, info);
    if (!err) {
        err = chk_key(fn, key);
    }
    if (err) {
        return err;
    }
    if (info->which != 2) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_INFO, fn, "MPI_INFO_ENV is read-only");
    }
    struct sf_mpi_info_kv **p = slot(info, key);
    if (*p == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_INFO_NOKEY, fn, "no key '%s'", key);
    }
    struct sf_mpi_info_kv *e = *p;
    *p = e->next;
    free(e->key);
    free(e->val);
    free(e);
    info->nkeys--;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Info_delete);

int PMPI_Info_get(MPI_Info info, const char *key, int valuelen, char *value, int *flag)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Info_get";
    int err = chk_info(fn, info);
    if (!err) {
        err = chk_key(fn, key);
    }
    if (err) {
        return err;
    }
    if (flag == NULL || valuelen < 0 || (value == NULL && valuelen > 0)) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn,
                             "NULL flag/value or negative valuelen %d", valuelen);
    }
    struct sf_mpi_info_kv *e = *slot(info, key);
    *flag = e != NULL;
    if (e != NULL && value != NULL) {
        /* valuelen excludes the terminating NUL (the buffer has one more). */
        size_t n = strlen(e->val);
        if (n > (size_t)valuelen) {
            n = (size_t)valuelen;
        }
        memcpy(value, e->val, n);
        value[n] = '\0';
    }
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Info_get);

int PMPI_Info_get_valuelen(MPI_Info info, const char *key, int *valuelen, int *flag)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Info_get_valuelen";
    int err = chk_info(fn, info);
    if (!err) {
        err = chk_key(fn, key);
    }
    if (err) {
        return err;
    }
    if (flag == NULL || valuelen == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn, "valuelen or flag is NULL");
    }
    struct sf_mpi_info_kv *e = *slot(info, key);
    *flag = e != NULL;
    if (e != NULL) {
        *valuelen = (int)strlen(e->val);
    }
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Info_get_valuelen);

int PMPI_Info_get_nkeys(MPI_Info info, int *nkeys)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Info_get_nkeys";
    int err = chk_info(fn, info);
    if (err) {
        return err;
    }
    if (nkeys == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn, "nkeys is NULL");
    }
    *nkeys = info->nkeys;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Info_get_nkeys);

int PMPI_Info_get_nthkey(MPI_Info info, int n, char *key)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Info_get_nthkey";
    int err = chk_info(fn, info);
    if (err) {
        return err;
    }
    if (key == NULL || n < 0 || n >= info->nkeys) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn, "key %d out of range (%d keys)", n,
                             info->nkeys);
    }
    struct sf_mpi_info_kv *e = info->kv;
    for (int i = 0; i < n; i++) {
        e = e->next;
    }
    snprintf(key, MPI_MAX_INFO_KEY, "%s", e->key);
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Info_get_nthkey);
