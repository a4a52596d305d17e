/* Inter-communicators beyond create: MPI_Comm_split (colours, keys,
 * MPI_UNDEFINED, a colour only one side has), MPI_Comm_create with a
 * subgroup, MPI_Comm_dup copying attributes (copy and delete callbacks
 * run), MPI_Intercomm_merge rank order for both 'high' choices, and
 * traffic across each result. World splits into even and odd ranks; needs
 * 2 or more ranks (a singleton only checks that it is one). */
#include <stdbool.h>

#include "mt.h"

static int copies, deletes;

static int copy_fn(MPI_Comm c, int kv, void *extra, void *in, void *out, int *flag)
{
    (void)c;
    (void)kv;
    (void)extra;
    copies++;
    *(void **)out = (char *)in + 1;
    *flag = 1;
    return MPI_SUCCESS;
}

static int delete_fn(MPI_Comm c, int kv, void *val, void *extra)
{
    (void)c;
    (void)kv;
    (void)val;
    (void)extra;
    deletes++;
    return MPI_SUCCESS;
}

/* Local rank 0 of each side swaps its world rank with the other side's
 * rank 0 and checks it is the expected remote leader. */
static void leaders_talk(MPI_Comm ic, int want_remote_world)
{
    int lr;
    OK(MPI_Comm_rank(ic, &lr));
    if (lr == 0) {
        int got = -1;
        OK(MPI_Sendrecv(&mt_rank, 1, MPI_INT, 0, 5, &got, 1, MPI_INT, 0, 5, ic, MPI_STATUS_IGNORE));
        CHECK(got == want_remote_world, "remote leader is world %d, want %d", got,
              want_remote_world);
    }
}

int main(int argc, char **argv)
{
    mt_init(&argc, &argv);
    if (mt_size < 2) {
        SAY("inter: needs 2 ranks, singleton skipped");
        OK(MPI_Finalize());
        return 0;
    }
    int side = mt_rank % 2, ne = (mt_size + 1) / 2, no = mt_size / 2;
    MPI_Comm half, ic;
    OK(MPI_Comm_split(MPI_COMM_WORLD, side, mt_rank, &half));
    OK(MPI_Intercomm_create(half, 0, MPI_COMM_WORLD, 1 - side, 7, &ic));
    int lrank;
    OK(MPI_Comm_rank(ic, &lrank)); /* world rank 2 * lrank + side */

    SAY("inter: split by local rank parity, keys reversed");
    {
        /* Colour = local rank % 2; the odd side gives colour 1 only to
         * nobody when it has a single member, so colour 1 may exist on
         * one side only (-> MPI_COMM_NULL there). */
        int color = lrank % 2;
        int key = -lrank;
        MPI_Comm sc;
        OK(MPI_Comm_split(ic, color, key, &sc));
        int lsz = side ? no : ne, rsz = side ? ne : no;
        int lmem = (lsz + (color ? 0 : 1)) / 2, rmem = (rsz + (color ? 0 : 1)) / 2;
        if (lmem == 0 || rmem == 0) {
            CHECK(sc == MPI_COMM_NULL, "colour %d exists on one side only, got a communicator",
                  color);
        } else {
            CHECK(sc != MPI_COMM_NULL, "no communicator for colour %d", color);
            int flag, s, rs, r;
            OK(MPI_Comm_test_inter(sc, &flag));
            CHECK(flag, "split of an inter-communicator is not inter");
            OK(MPI_Comm_size(sc, &s));
            OK(MPI_Comm_remote_size(sc, &rs));
            OK(MPI_Comm_rank(sc, &r));
            CHECK(s == lmem && rs == rmem, "sizes %d/%d want %d/%d", s, rs, lmem, rmem);
            /* Keys reversed: the highest local rank of the colour is 0. */
            int top = color + 2 * (lmem - 1);
            CHECK(r == (top - lrank) / 2, "rank %d for local rank %d", r, lrank);
            /* Its leader is the remote side's highest local rank of the colour. */
            int rtop = color + 2 * (rmem - 1);
            leaders_talk(sc, 2 * rtop + (1 - side));
            /* An inter allreduce gives the remote group's sum. */
            int v = mt_rank, sum = 0, want = 0;
            OK(MPI_Allreduce(&v, &sum, 1, MPI_INT, MPI_SUM, sc));
            for (int i = color; i < rsz; i += 2) {
                want += 2 * i + (1 - side);
            }
            CHECK(sum == want, "inter allreduce %d want %d", sum, want);
            OK(MPI_Comm_free(&sc));
        }
        /* MPI_UNDEFINED everywhere but local rank 0. */
        OK(MPI_Comm_split(ic, lrank == 0 ? 3 : MPI_UNDEFINED, 0, &sc));
        CHECK((lrank == 0) == (sc != MPI_COMM_NULL), "undefined colour");
        if (sc != MPI_COMM_NULL) {
            int s, rs;
            OK(MPI_Comm_size(sc, &s));
            OK(MPI_Comm_remote_size(sc, &rs));
            CHECK(s == 1 && rs == 1, "leaders-only split sizes %d %d", s, rs);
            leaders_talk(sc, 1 - side);
            OK(MPI_Comm_free(&sc));
        }
    }

    SAY("inter: create from a subgroup (local rank 0 left out where possible)");
    {
        MPI_Group lg, sub;
        OK(MPI_Comm_group(ic, &lg));
        int lsz;
        OK(MPI_Group_size(lg, &lsz));
        int drop = 0;
        if (lsz > 1) {
            OK(MPI_Group_excl(lg, 1, &drop, &sub));
        } else {
            OK(MPI_Group_incl(lg, 1, &drop, &sub));
        }
        MPI_Comm cc;
        OK(MPI_Comm_create(ic, sub, &cc));
        bool in = lsz == 1 || lrank != 0;
        CHECK(in == (cc != MPI_COMM_NULL), "create membership");
        if (cc != MPI_COMM_NULL) {
            int s, rs, rsz = side ? ne : no;
            OK(MPI_Comm_size(cc, &s));
            OK(MPI_Comm_remote_size(cc, &rs));
            CHECK(s == (lsz > 1 ? lsz - 1 : 1) && rs == (rsz > 1 ? rsz - 1 : 1), "sizes %d %d", s,
                  rs);
            leaders_talk(cc, rsz > 1 ? 2 + (1 - side) : 1 - side);
            OK(MPI_Comm_free(&cc));
        }
        OK(MPI_Group_free(&sub));
        OK(MPI_Group_free(&lg));
    }

    SAY("inter: dup copies attributes through the copy callback");
    {
        int kv;
        static char base[4];
        OK(MPI_Comm_create_keyval(copy_fn, delete_fn, &kv, NULL));
        OK(MPI_Comm_set_attr(ic, kv, base));
        MPI_Comm d;
        OK(MPI_Comm_dup(ic, &d));
        void *val;
        int flag;
        OK(MPI_Comm_get_attr(d, kv, &val, &flag));
        CHECK(flag && val == base + 1, "dup'd attribute %p flag %d", val, flag);
        CHECK(copies == 1, "copy callback ran %d times", copies);
        int fi;
        OK(MPI_Comm_test_inter(d, &fi));
        CHECK(fi, "dup of an inter-communicator is not inter");
        int result;
        OK(MPI_Comm_compare(ic, d, &result));
        CHECK(result == MPI_CONGRUENT, "compare dup gave %d", result);
        leaders_talk(d, 1 - side);
        OK(MPI_Comm_free(&d));
        CHECK(deletes == 1, "delete callback ran %d times", deletes);
        OK(MPI_Comm_delete_attr(ic, kv));
        CHECK(deletes == 2, "delete callback ran %d times", deletes);
        OK(MPI_Comm_free_keyval(&kv));
    }

    SAY("inter: merge puts the low group first, then by leader on a tie");
    {
        for (int mode = 0; mode < 3; mode++) {
            /* 0: odd side high; 1: even side high; 2: both low (tie). */
            int high = mode == 0 ? side : mode == 1 ? !side : 0;
            MPI_Comm m;
            OK(MPI_Intercomm_merge(ic, high, &m));
            int r, s;
            OK(MPI_Comm_rank(m, &r));
            OK(MPI_Comm_size(m, &s));
            CHECK(s == mt_size, "merged size %d", s);
            /* Tie: the group whose leader has the lower world rank (even). */
            bool first = mode == 2 ? side == 0 : !high;
            int want = first ? lrank : (side ? ne : no) + lrank;
            CHECK(r == want, "mode %d: merged rank %d want %d", mode, r, want);
            int sum = 0, v = r;
            OK(MPI_Allreduce(&v, &sum, 1, MPI_INT, MPI_SUM, m));
            CHECK(sum == mt_size * (mt_size - 1) / 2, "merged ranks not a permutation");
            OK(MPI_Comm_free(&m));
        }
    }
    SAY("inter: intra-only calls give MPI_ERR_COMM on an inter-communicator");
    {
        OK(MPI_Comm_set_errhandler(ic, MPI_ERRORS_RETURN));
        int dims[1] = {1}, periods[1] = {0}, cls = -1;
        MPI_Comm bad;
        MPI_Error_class(MPI_Cart_create(ic, 1, dims, periods, 0, &bad), &cls);
        CHECK(cls == MPI_ERR_COMM, "cart_create on inter gave class %d", cls);
        MPI_Error_class(MPI_Comm_split_type(ic, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &bad),
                        &cls);
        CHECK(cls == MPI_ERR_COMM, "split_type on inter gave class %d", cls);
    }
    OK(MPI_Comm_free(&ic));
    OK(MPI_Comm_free(&half));
    SAY("inter: ok");
    OK(MPI_Finalize());
    return 0;
}
