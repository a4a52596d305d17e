/* Attribute caching (copy/delete callbacks on dup and free, their order,
 * MPI-1 names, predefined attributes, datatype keyvals) and info objects
 * (round trips, dup, nth key, MPI_INFO_ENV). Any size. */
#define MPI_NO_DEPRECATION_WARNINGS 1 /* the MPI-1 names are under test */
#include "mt.h"

static char log_[256];
static int nlog;

static int copy_fn(MPI_Comm c, int k, void *extra, void *in, void *out, int *flag)
{
    (void)c;
    (void)k;
    log_[nlog++] = *(char *)extra;
    *(void **)out = (void *)((long)in + 1); /* copies count up */
    *flag = 1;
    return MPI_SUCCESS;
}

static int del_fn(MPI_Comm c, int k, void *val, void *extra)
{
    (void)c;
    (void)k;
    (void)val;
    log_[nlog++] = (char)(*(char *)extra - 'a' + 'A');
    return MPI_SUCCESS;
}

/* MPI_COMM_SELF's delete callbacks run first in MPI_Finalize, with MPI
 * still usable. */
static int self_deleted;
static int self_del(MPI_Comm c, int k, void *val, void *extra)
{
    (void)c;
    (void)k;
    (void)extra;
    int one = 1, sum = 0;
    if (MPI_Allreduce(&one, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD) == MPI_SUCCESS &&
        sum == mt_size) {
        self_deleted = (int)(long)val;
    }
    return MPI_SUCCESS;
}

static int tdel_count;
static int tdel(MPI_Datatype t, int k, void *val, void *extra)
{
    (void)t;
    (void)k;
    (void)val;
    (void)extra;
    tdel_count++;
    return MPI_SUCCESS;
}

int main(int argc, char **argv)
{
    mt_init(&argc, &argv);
    static char ea = 'a', eb = 'b', ec = 'c';
    int ka, kb, kc, kn;
    OK(MPI_Comm_create_keyval(copy_fn, del_fn, &ka, &ea));
    OK(MPI_Comm_create_keyval(copy_fn, del_fn, &kb, &eb));
    OK(MPI_Keyval_create(MPI_NULL_COPY_FN, del_fn, &kc, &ec)); /* not copied */
    OK(MPI_Comm_create_keyval(MPI_COMM_DUP_FN, MPI_COMM_NULL_DELETE_FN, &kn, NULL));
    MPI_Comm d, d2;
    OK(MPI_Comm_dup(MPI_COMM_WORLD, &d));
    OK(MPI_Comm_set_attr(d, kb, (void *)10L));
    OK(MPI_Comm_set_attr(d, ka, (void *)20L));
    OK(MPI_Attr_put(d, kc, (void *)30L));
    OK(MPI_Comm_set_attr(d, kn, (void *)40L));
    void *v;
    int flag;
    OK(MPI_Comm_get_attr(d, ka, &v, &flag));
    CHECK(flag && (long)v == 20, "get a %ld", (long)v);
    /* replacing calls the delete callback of the old value */
    OK(MPI_Comm_set_attr(d, ka, (void *)21L));
    CHECK(nlog == 1 && log_[0] == 'A', "replace log %.*s", nlog, log_);
    nlog = 0;
    OK(MPI_Comm_dup(d, &d2));
    /* keyval creation order (Open MPI's), whatever the setting order */
    CHECK(nlog == 2 && memcmp(log_, "ab", 2) == 0, "copy order %.*s", nlog, log_);
    OK(MPI_Comm_get_attr(d2, kb, &v, &flag));
    CHECK(flag && (long)v == 11, "copied b %ld", (long)v);
    OK(MPI_Comm_get_attr(d2, ka, &v, &flag));
    CHECK(flag && (long)v == 22, "copied a %ld", (long)v);
    OK(MPI_Attr_get(d2, kc, &v, &flag));
    CHECK(!flag, "null copy fn must not copy");
    OK(MPI_Comm_get_attr(d2, kn, &v, &flag));
    CHECK(flag && (long)v == 40, "dup fn %ld", (long)v);
    nlog = 0;
    OK(MPI_Comm_delete_attr(d2, kb));
    CHECK(nlog == 1 && log_[0] == 'B', "delete log %.*s", nlog, log_);
    OK(MPI_Comm_get_attr(d2, kb, &v, &flag));
    CHECK(!flag, "deleted attr still there");
    /* free: reverse setting order, the replaced a counting as set last
     * (kn has no callback) */
    nlog = 0;
    OK(MPI_Comm_free_keyval(&ka)); /* still used: callbacks keep working */
    CHECK(ka == MPI_KEYVAL_INVALID, "keyval not reset");
    OK(MPI_Comm_free(&d));
    CHECK(nlog == 3 && memcmp(log_, "ACB", 3) == 0, "free order %.*s", nlog, log_);
    nlog = 0;
    OK(MPI_Comm_free(&d2));
    CHECK(nlog == 1 && log_[0] == 'A', "free d2 %.*s", nlog, log_);
    /* predefined attributes */
    int *ip;
    OK(MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_TAG_UB, &ip, &flag));
    CHECK(flag && *ip >= 32767, "tag ub %d", *ip);
    OK(MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_UNIVERSE_SIZE, &ip, &flag));
    CHECK(flag && *ip >= 1, "universe %d", *ip); /* Open MPI: slots, may be < size */
    OK(MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_WTIME_IS_GLOBAL, &ip, &flag));
    CHECK(flag, "wtime_is_global");
    /* datatype keyvals */
    int tk;
    MPI_Datatype t;
    OK(MPI_Type_contiguous(2, MPI_INT, &t));
    OK(MPI_Type_create_keyval(MPI_TYPE_NULL_COPY_FN, tdel, &tk, NULL));
    OK(MPI_Type_set_attr(t, tk, (void *)5L));
    OK(MPI_Type_get_attr(t, tk, &v, &flag));
    CHECK(flag && (long)v == 5, "type attr");
    OK(MPI_Type_delete_attr(t, tk));
    CHECK(tdel_count == 1, "type delete callback %d", tdel_count);
    OK(MPI_Type_free(&t));
    OK(MPI_Type_free_keyval(&tk));
    SAY("attributes ok");

    /* info */
    MPI_Info info, info2;
    OK(MPI_Info_create(&info));
    OK(MPI_Info_set(info, "alpha", "1"));
    OK(MPI_Info_set(info, "beta", "two"));
    OK(MPI_Info_set(info, "alpha", "uno"));
    int nk, len;
    OK(MPI_Info_get_nkeys(info, &nk));
    CHECK(nk == 2, "nkeys %d", nk);
    char key[MPI_MAX_INFO_KEY], val[MPI_MAX_INFO_VAL];
    OK(MPI_Info_get_nthkey(info, 1, key));
    CHECK(strcmp(key, "beta") == 0, "nth %s", key);
    OK(MPI_Info_get_valuelen(info, "alpha", &len, &flag));
    CHECK(flag && len == 3, "valuelen %d", len);
    OK(MPI_Info_get(info, "alpha", MPI_MAX_INFO_VAL - 1, val, &flag));
    CHECK(flag && strcmp(val, "uno") == 0, "get %s", val);
    OK(MPI_Info_get(info, "alpha", 2, val, &flag));
    CHECK(flag && strcmp(val, "un") == 0, "truncated get %s", val);
    OK(MPI_Info_dup(info, &info2));
    OK(MPI_Info_delete(info, "alpha"));
    OK(MPI_Info_get(info, "alpha", 10, val, &flag));
    CHECK(!flag, "deleted key");
    OK(MPI_Info_get(info2, "alpha", 10, val, &flag));
    CHECK(flag, "dup lost a key");
    MPI_Comm c;
    OK(MPI_Comm_dup_with_info(MPI_COMM_WORLD, info2, &c));
    MPI_Info used;
    OK(MPI_Comm_get_info(c, &used));
    OK(MPI_Info_get(used, "beta", 10, val, &flag));
    CHECK(flag && strcmp(val, "two") == 0, "comm info %s", val);
    OK(MPI_Info_free(&used));
    OK(MPI_Comm_free(&c));
    OK(MPI_Info_free(&info));
    OK(MPI_Info_free(&info2));
    CHECK(info == MPI_INFO_NULL, "info free");
    OK(MPI_Info_get(MPI_INFO_ENV, "command", MPI_MAX_INFO_VAL - 1, val, &flag));
    CHECK(flag && strstr(val, "attr") != NULL, "env command %s", val);
    OK(MPI_Info_get(MPI_INFO_ENV, "maxprocs", 10, val, &flag));
    CHECK(flag && atoi(val) == mt_size, "env maxprocs %s", val);
    SAY("info ok");

    /* handle conversions: predefined Fortran values and round trips */
    CHECK(MPI_Comm_c2f(MPI_COMM_WORLD) == 0 && MPI_Comm_c2f(MPI_COMM_SELF) == 1 &&
              MPI_Comm_c2f(MPI_COMM_NULL) == 2,
          "comm fortran values");
    CHECK(MPI_Type_c2f(MPI_INT) == 39 && MPI_Type_c2f(MPI_DOUBLE) == 46 &&
              MPI_Type_c2f(MPI_DATATYPE_NULL) == 0,
          "type fortran values");
    CHECK(MPI_Op_c2f(MPI_SUM) == 3 && MPI_Group_c2f(MPI_GROUP_EMPTY) == 1 &&
              MPI_Info_c2f(MPI_INFO_ENV) == 1 && MPI_Errhandler_c2f(MPI_ERRORS_RETURN) == 2,
          "other fortran values");
    CHECK(MPI_Comm_f2c(0) == MPI_COMM_WORLD && MPI_Type_f2c(46) == MPI_DOUBLE &&
              MPI_Op_f2c(1) == MPI_MAX && MPI_Request_f2c(0) == MPI_REQUEST_NULL,
          "f2c of predefined");
    MPI_Comm fc;
    OK(MPI_Comm_dup(MPI_COMM_WORLD, &fc));
    MPI_Fint f = MPI_Comm_c2f(fc);
    CHECK(f > 2 && MPI_Comm_f2c(f) == fc && MPI_Comm_c2f(fc) == f, "comm round trip %d", f);
    MPI_Datatype ft;
    OK(MPI_Type_contiguous(3, MPI_INT, &ft));
    f = MPI_Type_c2f(ft);
    CHECK(f > 72 && MPI_Type_f2c(f) == ft, "type round trip %d", f);
    MPI_Group fg;
    OK(MPI_Comm_group(fc, &fg));
    CHECK(MPI_Group_f2c(MPI_Group_c2f(fg)) == fg, "group round trip");
    MPI_Request rq;
    int x = 0;
    OK(MPI_Irecv(&x, 1, MPI_INT, MPI_PROC_NULL, 0, fc, &rq));
    CHECK(MPI_Request_f2c(MPI_Request_c2f(rq)) == rq, "request round trip");
    OK(MPI_Wait(&rq, MPI_STATUS_IGNORE));
    OK(MPI_Group_free(&fg));
    OK(MPI_Type_free(&ft));
    OK(MPI_Comm_free(&fc));
    SAY("c2f/f2c ok");

    /* program-defined errors */
    int ucls, ucode, rcls, rlen, *last;
    char es[MPI_MAX_ERROR_STRING];
    OK(MPI_Add_error_class(&ucls));
    OK(MPI_Add_error_code(ucls, &ucode));
    OK(MPI_Add_error_string(ucode, "my own error"));
    OK(MPI_Error_class(ucode, &rcls));
    CHECK(rcls == ucls, "class of the new code %d", rcls);
    OK(MPI_Error_string(ucode, es, &rlen));
    CHECK(strcmp(es, "my own error") == 0, "string %s", es);
    OK(MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_LASTUSEDCODE, &last, &flag));
    CHECK(flag && *last >= ucode, "lastusedcode %d < %d", *last, ucode);
    OK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
    OK(MPI_Comm_call_errhandler(MPI_COMM_WORLD, ucode));
    SAY("error classes ok");
    int ks;
    OK(MPI_Comm_create_keyval(MPI_COMM_NULL_COPY_FN, self_del, &ks, NULL));
    OK(MPI_Comm_set_attr(MPI_COMM_SELF, ks, (void *)7L));
    MPI_Finalize();
    CHECK(self_deleted == 7, "MPI_COMM_SELF's attribute was not deleted in MPI_Finalize");
    return 0;
}
