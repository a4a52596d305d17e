/* Communicators and groups: group algebra against expected rank lists,
 * split (colours, keys, MPI_UNDEFINED), create/create_group on subsets,
 * traffic isolation between dup'd/split communicators, compare, and
 * inter-communicator create/merge with point-to-point across (and a
 * barrier). Any size. */
#include "mt.h"

static void groups(void)
{
    MPI_Group w, even, odd, u, in, diff, rng, ex;
    OK(MPI_Comm_group(MPI_COMM_WORLD, &w));
    int n = mt_size, ne = (n + 1) / 2, evens[64], odds[64], no = 0;
    for (int i = 0; i < ne; i++) {
        evens[i] = 2 * i;
    }
    for (int i = 1; i < n; i += 2) {
        odds[no++] = i;
    }
    OK(MPI_Group_incl(w, ne, evens, &even));
    OK(MPI_Group_excl(w, ne, evens, &odd));
    int sz, r;
    OK(MPI_Group_size(odd, &sz));
    CHECK(sz == no, "odd size %d", sz);
    OK(MPI_Group_rank(even, &r));
    CHECK(r == (mt_rank % 2 ? MPI_UNDEFINED : mt_rank / 2), "even rank %d", r);
    OK(MPI_Group_union(odd, even, &u));
    int tr[64], back[64], all[64];
    for (int i = 0; i < n; i++) {
        all[i] = i;
    }
    OK(MPI_Group_translate_ranks(u, n, all, w, tr));
    for (int i = 0; i < no; i++) {
        CHECK(tr[i] == odds[i], "union[%d] = %d", i, tr[i]);
    }
    for (int i = 0; i < ne; i++) {
        CHECK(tr[no + i] == evens[i], "union[%d] = %d", no + i, tr[no + i]);
    }
    OK(MPI_Group_translate_ranks(w, n, all, even, back));
    for (int i = 0; i < n; i++) {
        CHECK(back[i] == (i % 2 ? MPI_UNDEFINED : i / 2), "translate %d -> %d", i, back[i]);
    }
    int cmp;
    OK(MPI_Group_compare(u, w, &cmp));
    CHECK(cmp == (n <= 1 ? MPI_IDENT : MPI_SIMILAR), "union vs world %d", cmp);
    OK(MPI_Group_intersection(even, odd, &in));
    OK(MPI_Group_size(in, &sz));
    CHECK(sz == 0, "even&odd size %d", sz);
    OK(MPI_Group_compare(in, MPI_GROUP_EMPTY, &cmp));
    CHECK(cmp == MPI_IDENT, "empty compare %d", cmp);
    OK(MPI_Group_difference(w, even, &diff));
    OK(MPI_Group_compare(diff, odd, &cmp));
    CHECK(cmp == MPI_IDENT, "world-even vs odd %d", cmp);
    /* ranges: every third rank from the top down */
    int ranges[1][3] = {{n - 1, 0, -3}};
    OK(MPI_Group_range_incl(w, 1, ranges, &rng));
    OK(MPI_Group_size(rng, &sz));
    CHECK(sz == (n - 1) / 3 + 1, "range size %d", sz);
    int one = 0;
    OK(MPI_Group_translate_ranks(rng, 1, &one, w, tr));
    CHECK(tr[0] == n - 1, "range first %d", tr[0]);
    OK(MPI_Group_range_excl(w, 1, ranges, &ex));
    OK(MPI_Group_size(ex, &sz));
    CHECK(sz == n - ((n - 1) / 3 + 1), "range excl size %d", sz);
    MPI_Group *gs[] = {&w, &even, &odd, &u, &in, &diff, &rng, &ex};
    for (unsigned i = 0; i < sizeof(gs) / sizeof(gs[0]); i++) {
        OK(MPI_Group_free(gs[i]));
        CHECK(*gs[i] == MPI_GROUP_NULL, "free");
    }
    SAY("groups: incl/excl/range/union/intersection/difference/translate/compare ok");
}

static void splits(void)
{
    /* colour = rank % 3, key = -rank: reversed order within a colour */
    MPI_Comm c;
    OK(MPI_Comm_split(MPI_COMM_WORLD, mt_rank % 3, -mt_rank, &c));
    int r, s;
    OK(MPI_Comm_rank(c, &r));
    OK(MPI_Comm_size(c, &s));
    int expect = (mt_size - 1 - mt_rank % 3) / 3 + 1;
    CHECK(s == expect, "split size %d, want %d", s, expect);
    int csize = s;
    /* rank 0 of c is the highest world rank of the colour */
    int top = mt_rank, v;
    OK(MPI_Allreduce(&top, &v, 1, MPI_INT, MPI_MAX, c));
    int root_world = -1;
    if (r == 0) {
        root_world = mt_rank;
    }
    OK(MPI_Bcast(&root_world, 1, MPI_INT, 0, c));
    CHECK(root_world == v, "rank 0 of split is %d, want %d", root_world, v);
    /* traffic isolation: same tag and peer on world and the split comm */
    MPI_Comm d;
    OK(MPI_Comm_dup(MPI_COMM_WORLD, &d));
    if (mt_size >= 2 && mt_rank < 2) {
        int peer = 1 - mt_rank, a = 100 + mt_rank, b = 200 + mt_rank, x = -1, y = -1;
        MPI_Request rq[4];
        OK(MPI_Irecv(&x, 1, MPI_INT, peer, 7, d, &rq[0]));
        OK(MPI_Irecv(&y, 1, MPI_INT, peer, 7, MPI_COMM_WORLD, &rq[1]));
        /* send on world first: must not land in the receive on d */
        OK(MPI_Isend(&b, 1, MPI_INT, peer, 7, MPI_COMM_WORLD, &rq[2]));
        OK(MPI_Isend(&a, 1, MPI_INT, peer, 7, d, &rq[3]));
        OK(MPI_Waitall(4, rq, MPI_STATUSES_IGNORE));
        CHECK(x == 100 + peer && y == 200 + peer, "isolation: got %d on dup, %d on world", x, y);
    }
    int cmp;
    OK(MPI_Comm_compare(d, MPI_COMM_WORLD, &cmp));
    CHECK(cmp == MPI_CONGRUENT, "dup compare %d", cmp);
    OK(MPI_Comm_compare(c, MPI_COMM_WORLD, &cmp));
    CHECK(cmp == (mt_size == 1 ? MPI_CONGRUENT : MPI_UNEQUAL), "split compare %d", cmp);
    /* reversed world: SIMILAR */
    MPI_Comm rev;
    OK(MPI_Comm_split(MPI_COMM_WORLD, 0, mt_size - mt_rank, &rev));
    OK(MPI_Comm_compare(rev, MPI_COMM_WORLD, &cmp));
    CHECK(cmp == (mt_size == 1 ? MPI_CONGRUENT : MPI_SIMILAR), "reversed compare %d", cmp);
    OK(MPI_Comm_rank(rev, &r));
    CHECK(r == mt_size - 1 - mt_rank, "reversed rank %d", r);
    /* MPI_UNDEFINED */
    MPI_Comm u;
    OK(MPI_Comm_split(MPI_COMM_WORLD, mt_rank == 0 ? MPI_UNDEFINED : 1, 0, &u));
    CHECK((mt_rank == 0) == (u == MPI_COMM_NULL), "undefined colour");
    if (u != MPI_COMM_NULL) {
        OK(MPI_Comm_size(u, &s));
        CHECK(s == mt_size - 1, "size without rank 0: %d", s);
        OK(MPI_Barrier(u));
        OK(MPI_Comm_free(&u));
    }
    /* split_type shared: everyone is on this node */
    MPI_Comm node;
    OK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node));
    OK(MPI_Comm_size(node, &s));
    CHECK(s == mt_size, "node comm size %d", s);
#ifdef OMPI_COMM_TYPE_NODE
    MPI_Comm host;
    OK(MPI_Comm_split_type(MPI_COMM_WORLD, OMPI_COMM_TYPE_HOST, -mt_rank, MPI_INFO_NULL, &host));
    OK(MPI_Comm_rank(host, &r));
    CHECK(r == mt_size - 1 - mt_rank, "host comm rank %d", r);
    OK(MPI_Comm_free(&host));
#endif
    /* many dups and frees: contexts get reused and never collide */
    for (int i = 0; i < 300; i++) {
        MPI_Comm t;
        OK(MPI_Comm_dup(c, &t));
        OK(MPI_Allreduce(&i, &v, 1, MPI_INT, MPI_SUM, t));
        CHECK(v == i * csize, "sum %d", v);
        OK(MPI_Comm_free(&t));
    }
    MPI_Comm *cs[] = {&c, &d, &rev, &node};
    for (unsigned i = 0; i < 4; i++) {
        OK(MPI_Comm_free(cs[i]));
    }
    SAY("split/split_type/dup/compare/isolation ok");
}

static void creates(void)
{
    MPI_Group w, g;
    OK(MPI_Comm_group(MPI_COMM_WORLD, &w));
    /* create: the upper half, in reverse order */
    int n = mt_size, h = n / 2, ranks[64], m = 0;
    for (int i = n - 1; i >= h; i--) {
        ranks[m++] = i;
    }
    OK(MPI_Group_incl(w, m, ranks, &g));
    MPI_Comm c;
    OK(MPI_Comm_create(MPI_COMM_WORLD, g, &c));
    CHECK((mt_rank >= h) == (c != MPI_COMM_NULL), "create membership");
    if (c != MPI_COMM_NULL) {
        int r, sum, one = 1;
        OK(MPI_Comm_rank(c, &r));
        CHECK(r == n - 1 - mt_rank, "create rank %d", r);
        OK(MPI_Allreduce(&one, &sum, 1, MPI_INT, MPI_SUM, c));
        CHECK(sum == m, "create sum %d", sum);
        OK(MPI_Comm_free(&c));
    }
    /* create_group: only the even ranks take part */
    MPI_Group ev;
    int ne = 0;
    for (int i = 0; i < n; i += 2) {
        ranks[ne++] = i;
    }
    OK(MPI_Group_incl(w, ne, ranks, &ev));
    if (mt_rank % 2 == 0) {
        MPI_Comm e;
        OK(MPI_Comm_create_group(MPI_COMM_WORLD, ev, 5, &e));
        int r, s, sum;
        OK(MPI_Comm_rank(e, &r));
        OK(MPI_Comm_size(e, &s));
        CHECK(r == mt_rank / 2 && s == ne, "create_group rank %d size %d", r, s);
        OK(MPI_Allreduce(&mt_rank, &sum, 1, MPI_INT, MPI_SUM, e));
        CHECK(sum == (ne - 1) * ne, "create_group sum %d", sum);
        /* and a dup over it, agreed among the members only */
        MPI_Comm e2;
        OK(MPI_Comm_dup(e, &e2));
        OK(MPI_Barrier(e2));
        OK(MPI_Comm_free(&e2));
        OK(MPI_Comm_free(&e));
    }
    OK(MPI_Barrier(MPI_COMM_WORLD));
    /* disjoint groups in one MPI_Comm_create (each rank passes its half),
     * then create_group on each half at once with the same tag */
    MPI_Group half;
    int lo = mt_rank < h ? 0 : h, hn = mt_rank < h ? h : n - h;
    int hr[64];
    for (int i = 0; i < hn; i++) {
        hr[i] = lo + i;
    }
    OK(MPI_Group_incl(w, hn, hr, &half));
    MPI_Comm hc, hg;
    OK(MPI_Comm_create(MPI_COMM_WORLD, half, &hc));
    OK(MPI_Comm_create_group(MPI_COMM_WORLD, half, 9, &hg));
    int s1, s2, sum1, sum2;
    OK(MPI_Comm_size(hc, &s1));
    OK(MPI_Comm_size(hg, &s2));
    CHECK(s1 == hn && s2 == hn, "half sizes %d %d want %d", s1, s2, hn);
    OK(MPI_Allreduce(&mt_rank, &sum1, 1, MPI_INT, MPI_SUM, hc));
    OK(MPI_Allreduce(&mt_rank, &sum2, 1, MPI_INT, MPI_SUM, hg));
    CHECK(sum1 == hn * lo + hn * (hn - 1) / 2 && sum2 == sum1, "half sums %d %d", sum1, sum2);
    OK(MPI_Comm_free(&hg));
    OK(MPI_Comm_free(&hc));
    OK(MPI_Group_free(&half));
    /* idup completes through the request */
    MPI_Comm ic;
    MPI_Request rq;
    OK(MPI_Comm_idup(MPI_COMM_WORLD, &ic, &rq));
    OK(MPI_Wait(&rq, MPI_STATUS_IGNORE));
    OK(MPI_Barrier(ic));
    OK(MPI_Comm_free(&ic));
    OK(MPI_Group_free(&ev));
    OK(MPI_Group_free(&g));
    OK(MPI_Group_free(&w));
    SAY("create/create_group ok");
}

static void inter(void)
{
    if (mt_size < 2) {
        return;
    }
    /* two halves: colour 0 = even ranks, 1 = odd ranks */
    int color = mt_rank % 2;
    MPI_Comm half, ic, merged;
    OK(MPI_Comm_split(MPI_COMM_WORLD, color, mt_rank, &half));
    /* a bad remote leader fails at every member, without a hang (Open MPI
     * fails only at the leader: that part is Starfish's) */
    char lib[MPI_MAX_LIBRARY_VERSION_STRING];
    int liblen;
    MPI_Get_library_version(lib, &liblen);
    if (strstr(lib, "Starfish") != NULL) {
        OK(MPI_Comm_set_errhandler(half, MPI_ERRORS_RETURN));
        MPI_Comm bad = MPI_COMM_NULL;
        int berr = MPI_Intercomm_create(half, 0, MPI_COMM_WORLD, mt_size + 5, 41, &bad);
        CHECK(berr != MPI_SUCCESS && bad == MPI_COMM_NULL, "bad leader gave %d", berr);
    }
    /* leaders: local rank 0 of each half = world ranks 0 and 1 */
    OK(MPI_Intercomm_create(half, 0, MPI_COMM_WORLD, 1 - color, 42, &ic));
    int flag, ls, rs, lr;
    OK(MPI_Comm_test_inter(ic, &flag));
    CHECK(flag, "test_inter");
    OK(MPI_Comm_size(ic, &ls));
    OK(MPI_Comm_remote_size(ic, &rs));
    OK(MPI_Comm_rank(ic, &lr));
    int ne = (mt_size + 1) / 2, no = mt_size / 2;
    CHECK(ls == (color ? no : ne) && rs == (color ? ne : no), "inter sizes %d %d", ls, rs);
    MPI_Group rg;
    OK(MPI_Comm_remote_group(ic, &rg));
    int zero = 0, wr;
    MPI_Group wg;
    OK(MPI_Comm_group(MPI_COMM_WORLD, &wg));
    OK(MPI_Group_translate_ranks(rg, 1, &zero, wg, &wr));
    CHECK(wr == 1 - color, "remote rank 0 is world %d", wr);
    /* point-to-point across: local rank i talks to remote rank i */
    if (lr < rs) {
        int out = mt_rank, in = -1;
        MPI_Status st;
        OK(MPI_Sendrecv(&out, 1, MPI_INT, lr, 3, &in, 1, MPI_INT, lr, 3, ic, &st));
        CHECK(in == 2 * lr + (1 - color), "across got %d", in);
        CHECK(st.MPI_SOURCE == lr, "source %d", st.MPI_SOURCE);
    }
    /* any-source across: every remote member sends to my local rank 0 */
    MPI_Request srq;
    OK(MPI_Isend(&lr, 1, MPI_INT, 0, 4, ic, &srq));
    if (lr == 0) {
        int got = 0, v;
        MPI_Status st;
        for (int i = 0; i < rs; i++) {
            OK(MPI_Recv(&v, 1, MPI_INT, MPI_ANY_SOURCE, 4, ic, &st));
            CHECK(v == st.MPI_SOURCE, "any-source value %d from %d", v, st.MPI_SOURCE);
            got |= 1 << v;
        }
        CHECK(got == (1 << rs) - 1, "any-source set %x", got);
    }
    OK(MPI_Wait(&srq, MPI_STATUS_IGNORE));
    /* collectives on inter-communicators (checked in detail by nbr_icoll.c);
     * scan is not defined there */
    OK(MPI_Comm_set_errhandler(ic, MPI_ERRORS_RETURN));
    OK(MPI_Barrier(ic));
    if (strstr(lib, "Starfish") != NULL) {
        int one = 1, res = 0, cls;
        int e = MPI_Scan(&one, &res, 1, MPI_INT, MPI_SUM, ic);
        MPI_Error_class(e, &cls);
        CHECK(cls == MPI_ERR_COMM, "inter scan gave %d", e);
    }
    /* a dup of the inter-communicator works the same */
    MPI_Comm ic2;
    OK(MPI_Comm_dup(ic, &ic2));
    if (lr == 0) {
        int out = 1000 + color, in;
        OK(MPI_Sendrecv(&out, 1, MPI_INT, 0, 0, &in, 1, MPI_INT, 0, 0, ic2, MPI_STATUS_IGNORE));
        CHECK(in == 1001 - color, "dup'd inter got %d", in);
    }
    /* merge: the odd half asks to go high */
    OK(MPI_Intercomm_merge(ic, color, &merged));
    int mr, ms;
    OK(MPI_Comm_rank(merged, &mr));
    OK(MPI_Comm_size(merged, &ms));
    CHECK(ms == mt_size, "merged size %d", ms);
    CHECK(mr == (color ? ne + mt_rank / 2 : mt_rank / 2), "merged rank %d", mr);
    int sum;
    OK(MPI_Allreduce(&mt_rank, &sum, 1, MPI_INT, MPI_SUM, merged));
    CHECK(sum == mt_size * (mt_size - 1) / 2, "merged sum %d", sum);
    OK(MPI_Group_free(&rg));
    OK(MPI_Group_free(&wg));
    OK(MPI_Comm_free(&merged));
    OK(MPI_Comm_free(&ic2));
    OK(MPI_Comm_free(&ic));
    OK(MPI_Comm_free(&half));
    /* leaders that are not local rank 0, over a dup'd peer communicator:
     * lower half vs upper half, leaders the last rank of each */
    if (mt_size >= 2) {
        int h = mt_size / 2, up = mt_rank >= h;
        MPI_Comm part, peer, ic3;
        OK(MPI_Comm_split(MPI_COMM_WORLD, up, mt_rank, &part));
        OK(MPI_Comm_dup(MPI_COMM_WORLD, &peer));
        int psize;
        OK(MPI_Comm_size(part, &psize));
        OK(MPI_Intercomm_create(part, psize - 1, peer, up ? h - 1 : mt_size - 1, 77, &ic3));
        OK(MPI_Comm_remote_size(ic3, &rs));
        CHECK(rs == (up ? h : mt_size - h), "ic3 remote size %d", rs);
        MPI_Comm m3;
        OK(MPI_Intercomm_merge(ic3, !up, &m3)); /* upper half first */
        OK(MPI_Comm_rank(m3, &mr));
        CHECK(mr == (up ? mt_rank - h : mt_size - h + mt_rank), "m3 rank %d", mr);
        OK(MPI_Comm_free(&m3));
        OK(MPI_Comm_free(&ic3));
        OK(MPI_Comm_free(&peer));
        OK(MPI_Comm_free(&part));
    }
    SAY("intercomm create/p2p/dup/merge ok");
}

int main(int argc, char **argv)
{
    mt_init(&argc, &argv);
    groups();
    splits();
    creates();
    inter();
    char name[MPI_MAX_OBJECT_NAME];
    int len;
    MPI_Comm d;
    OK(MPI_Comm_dup(MPI_COMM_WORLD, &d));
    OK(MPI_Comm_set_name(d, "mine"));
    OK(MPI_Comm_get_name(d, name, &len));
    CHECK(len == 4 && strcmp(name, "mine") == 0, "name %s", name);
    OK(MPI_Comm_free(&d));
    SAY("comm: all ok");
    MPI_Finalize();
    return 0;
}
