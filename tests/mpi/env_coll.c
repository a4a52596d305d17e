/* Environment and collective bindings: Init_thread's provided level,
 * versions, processor name, predefined attributes, Wtime/Wtick, type
 * queries, Comm_dup/compare/free, and Barrier/Bcast/Reduce/Allreduce
 * (MPI_IN_PLACE, MAXLOC on MPI_DOUBLE_INT, a non-commutative user op),
 * Reduce_local. Prints the library version (the ABI test greps it).
 * Any size >= 1. */
#include "mt.h"

/* Non-commutative: 2x2 integer matrix product, inout = in * inout. */
static void matmul(void *in, void *inout, int *len, MPI_Datatype *dt)
{
    int *a = in, *b = inout;
    for (int k = 0; k < *len; k++, a += 4, b += 4) {
        int c[4] = {a[0] * b[0] + a[1] * b[2], a[0] * b[1] + a[1] * b[3],
                    a[2] * b[0] + a[3] * b[2], a[2] * b[1] + a[3] * b[3]};
        memcpy(b, c, sizeof(c));
    }
}

int main(int argc, char **argv)
{
    int provided = -1;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &mt_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &mt_size);
    char ver[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    OK(MPI_Get_library_version(ver, &len));
    CHECK(len > 0 && (int)strlen(ver) == len, "library version");
    SAY("library: %s", ver);
    SAY("init_thread: asked MULTIPLE, provided %d", provided);
    CHECK(provided >= MPI_THREAD_SINGLE && provided <= MPI_THREAD_MULTIPLE, "provided %d", provided);
    int q = -1, flag = 0, main_ = 0;
    OK(MPI_Query_thread(&q));
    CHECK(q == provided, "query_thread %d", q);
    OK(MPI_Is_thread_main(&main_));
    CHECK(main_, "is_thread_main");
    OK(MPI_Initialized(&flag));
    CHECK(flag, "initialized");
    int v1, v2;
    OK(MPI_Get_version(&v1, &v2));
    CHECK(v1 == 3 && v2 == 1, "version %d.%d", v1, v2);
    char host[MPI_MAX_PROCESSOR_NAME];
    OK(MPI_Get_processor_name(host, &len));
    CHECK(len > 0, "processor name");

    SAY("attributes: TAG_UB >= 32767, WTIME_IS_GLOBAL, UNIVERSE_SIZE >= size");
    int *attr = NULL;
    OK(MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_TAG_UB, &attr, &flag));
    CHECK(flag && *attr >= 32767, "tag_ub");
    OK(MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_WTIME_IS_GLOBAL, &attr, &flag));
    CHECK(flag && (*attr == 0 || *attr == 1), "wtime_is_global");
    OK(MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_UNIVERSE_SIZE, &attr, &flag));
    CHECK(!flag || *attr >= mt_size, "universe");
    double t0 = MPI_Wtime(), t1 = MPI_Wtime();
    CHECK(t1 >= t0 && MPI_Wtick() > 0 && MPI_Wtick() < 1, "wtime");

    SAY("datatypes: sizes, extents and names of predefined types");
    int sz;
    MPI_Aint lb, ext;
    OK(MPI_Type_size(MPI_DOUBLE_INT, &sz));
    OK(MPI_Type_get_extent(MPI_DOUBLE_INT, &lb, &ext));
    CHECK(sz == 12 && lb == 0 && ext == 16, "double_int size %d extent %ld", sz, (long)ext);
    OK(MPI_Type_size(MPI_LONG_DOUBLE, &sz));
    CHECK(sz == (int)sizeof(long double), "long double");
    char name[MPI_MAX_OBJECT_NAME];
    OK(MPI_Type_get_name(MPI_UNSIGNED_LONG, name, &len));
    CHECK(strcmp(name, "MPI_UNSIGNED_LONG") == 0, "name %s", name);

    SAY("communicators: dup is congruent and isolated from its parent");
    MPI_Comm dup;
    int res;
    OK(MPI_Comm_dup(MPI_COMM_WORLD, &dup));
    OK(MPI_Comm_compare(MPI_COMM_WORLD, dup, &res));
    CHECK(res == MPI_CONGRUENT, "compare %d", res);
    {
        int right = (mt_rank + 1) % mt_size, left = (mt_rank + mt_size - 1) % mt_size;
        int a = 1, b = 2, x = 0, y = 0;
        MPI_Request r[2];
        OK(MPI_Isend(&a, 1, MPI_INT, right, 0, MPI_COMM_WORLD, &r[0]));
        OK(MPI_Isend(&b, 1, MPI_INT, right, 0, dup, &r[1]));
        OK(MPI_Recv(&y, 1, MPI_INT, left, 0, dup, MPI_STATUS_IGNORE));
        OK(MPI_Recv(&x, 1, MPI_INT, left, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
        CHECK(x == 1 && y == 2, "contexts mixed: x %d y %d", x, y);
        OK(MPI_Waitall(2, r, MPI_STATUSES_IGNORE));
    }

    SAY("collectives: barrier, bcast from every root, reduce, allreduce (+ IN_PLACE)");
    OK(MPI_Barrier(dup));
    for (int root = 0; root < mt_size; root++) {
        double d[3] = {0, 0, 0};
        if (mt_rank == root) {
            d[0] = root;
            d[1] = root * 2.5;
            d[2] = -1;
        }
        OK(MPI_Bcast(d, 3, MPI_DOUBLE, root, dup));
        CHECK(d[0] == root && d[1] == root * 2.5 && d[2] == -1, "bcast root %d", root);
        long s = mt_rank + 1, tot = -1;
        OK(MPI_Reduce(&s, &tot, 1, MPI_LONG, MPI_SUM, root, MPI_COMM_WORLD));
        if (mt_rank == root) {
            CHECK(tot == (long)mt_size * (mt_size + 1) / 2, "reduce %ld", tot);
        }
    }
    int mx = mt_rank, all = -1;
    OK(MPI_Allreduce(&mx, &all, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD));
    CHECK(all == mt_size - 1, "allreduce max %d", all);
    unsigned bits = 1u << (mt_rank % 32);
    OK(MPI_Allreduce(MPI_IN_PLACE, &bits, 1, MPI_UNSIGNED, MPI_BOR, MPI_COMM_WORLD));
    CHECK(bits == (mt_size >= 32 ? ~0u : (1u << mt_size) - 1), "in place bor %x", bits);
    struct { double v; int i; } loc = {(double)((mt_rank * 7) % mt_size), mt_rank}, best;
    OK(MPI_Allreduce(&loc, &best, 1, MPI_DOUBLE_INT, MPI_MAXLOC, MPI_COMM_WORLD));
    CHECK(best.v == mt_size - 1, "maxloc value %g", best.v);

    SAY("user op: non-commutative 2x2 matrix product in rank order");
    MPI_Op op;
    MPI_Datatype mat;
    OK(MPI_Op_create(matmul, 0, &op));
    OK(MPI_Op_commutative(op, &flag));
    CHECK(!flag, "commutative");
    OK(MPI_Type_contiguous(4, MPI_INT, &mat));
    OK(MPI_Type_commit(&mat));
    /* Rank r holds [[1, r], [0, 2]]; in rank order the product's top-right
     * entry is sum r * 2^(n-1-r), which any other order changes. */
    int m[4] = {1, mt_rank, 0, 2}, prod[4];
    OK(MPI_Allreduce(m, prod, 1, mat, op, MPI_COMM_WORLD));
    int want = 0;
    for (int r = 0; r < mt_size; r++) {
        want = 2 * want + r;
    }
    CHECK(prod[0] == 1 && prod[1] == want && prod[2] == 0 && prod[3] == (1 << mt_size),
          "product [%d %d %d %d], want top-right %d", prod[0], prod[1], prod[2], prod[3], want);
    int in[4] = {2, 0, 0, 2}, io[4] = {1, 1, 1, 1};
    OK(MPI_Reduce_local(in, io, 1, mat, op));
    CHECK(io[0] == 2 && io[3] == 2, "reduce_local");
    OK(MPI_Op_free(&op));
    OK(MPI_Type_free(&mat));
    OK(MPI_Comm_free(&dup));
    CHECK(dup == MPI_COMM_NULL, "comm_free");

    OK(MPI_Finalize());
    OK(MPI_Finalized(&flag));
    CHECK(flag, "finalized");
    SAY("env_coll: all checks passed");
    return 0;
}
