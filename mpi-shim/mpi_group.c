/* Process groups: a group is an ordered list of world ranks plus the
 * caller's own position in it. All operations are local (no messages);
 * set operations are O(n*m) over the member lists, fine for the group
 * sizes programs use. Caller's thread. */
#include <stdlib.h>
#include <string.h>

#include "mpi-shim/shim_int.h"

#define SF_GROUP_EMPTY ((struct ompi_group_t *)(void *)&ompi_mpi_group_empty)

struct ompi_group_t *sf_mpi__group_new(int n, const int *world)
{
    if (n == 0) {
        return SF_GROUP_EMPTY;
    }
    struct ompi_group_t *g = calloc(1, sizeof(*g));
    int *w = malloc(sizeof(int) * (size_t)n);
    if (g == NULL || w == NULL) {
        free(g);
        free(w);
        return NULL;
    }
    memcpy(w, world, sizeof(int) * (size_t)n);
    g->magic = SF_MPI_MAGIC_GROUP;
    g->size = n;
    g->world = w;
    g->refcount = 1;
    g->rank = MPI_UNDEFINED;
    for (int i = 0; i < n; i++) {
        if (w[i] == sf_mpi__st.world_rank) {
            g->rank = i;
            break;
        }
    }
    return g;
}

static bool group_ok(MPI_Group g)
{
    return g != NULL && g->magic == SF_MPI_MAGIC_GROUP && g->size >= 0;
}

/* 0 or raised MPI_ERR_GROUP (on WORLD's handler: groups have none). */
static int chk_group(const char *fn, MPI_Group g)
{
    int err = sf_mpi__chk_init(fn);
    if (err) {
        return err;
    }
    if (!group_ok(g)) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_GROUP, fn, "invalid group%s",
                             g != NULL && g->magic == SF_MPI_MAGIC_GROUP ? " (MPI_GROUP_NULL)"
                                                                         : "");
    }
    return 0;
}

static int find(MPI_Group g, int world)
{
    for (int i = 0; i < g->size; i++) {
        if (g->world[i] == world) {
            return i;
        }
    }
    return MPI_UNDEFINED;
}

/* Return a new group or raise out-of-memory. */
static int give(const char *fn, int n, const int *world, MPI_Group *out)
{
    MPI_Group g = sf_mpi__group_new(n, world);
    if (g == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_NO_MEM, fn, "out of memory");
    }
    *out = g;
    return MPI_SUCCESS;
}

int PMPI_Comm_group(MPI_Comm comm, MPI_Group *group)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Comm_group";
    int err = sf_mpi__chk_init(fn);
    if (!err) {
        err = sf_mpi__chk_comm(fn, comm);
    }
    if (err) {
        return err;
    }
    if (group == NULL) {
        return sf_mpi__raise(comm, MPI_ERR_ARG, fn, "group is NULL");
    }
    if (comm->is_inter) {
        return give(fn, comm->local_size, comm->local_world, group);
    }
    return give(fn, comm->size, comm->world, group);
}
SF_MPI_ALIAS(Comm_group);

int PMPI_Comm_remote_group(MPI_Comm comm, MPI_Group *group)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Comm_remote_group";
    int err = sf_mpi__chk_init(fn);
    if (!err) {
        err = sf_mpi__chk_comm(fn, comm);
    }
    if (err) {
        return err;
    }
    if (!comm->is_inter) {
        return sf_mpi__raise(comm, MPI_ERR_COMM, fn, "%s is not an inter-communicator",
                             sf_mpi__comm_name(comm));
    }
    if (group == NULL) {
        return sf_mpi__raise(comm, MPI_ERR_ARG, fn, "group is NULL");
    }
    return give(fn, comm->size, comm->world, group);
}
SF_MPI_ALIAS(Comm_remote_group);

int PMPI_Group_size(MPI_Group group, int *size)
{
    SF_MPI_ENTER();
    int err = chk_group("MPI_Group_size", group);
    if (err) {
        return err;
    }
    if (size == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, "MPI_Group_size", "size is NULL");
    }
    *size = group->size;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Group_size);

int PMPI_Group_rank(MPI_Group group, int *rank)
{
    SF_MPI_ENTER();
    int err = chk_group("MPI_Group_rank", group);
    if (err) {
        return err;
    }
    if (rank == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, "MPI_Group_rank", "rank is NULL");
    }
    *rank = group->rank;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Group_rank);

int PMPI_Group_free(MPI_Group *group)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Group_free";
    if (group == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn, "group is NULL");
    }
    int err = chk_group(fn, *group);
    if (err) {
        return err;
    }
    MPI_Group g = *group;
    /* Freeing MPI_GROUP_EMPTY (as returned by operations) is allowed. */
    if (!g->predefined && --g->refcount == 0) {
        free(g->world);
        g->magic = SF_MPI_MAGIC_DEAD;
        free(g);
    }
    *group = MPI_GROUP_NULL;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Group_free);

/* ranks[0..n) must be distinct valid ranks of g. */
static int chk_ranks(const char *fn, MPI_Group g, int n, const int ranks[])
{
    if (n < 0 || n > g->size || (n > 0 && ranks == NULL)) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn, "invalid count %d (group size %d)", n,
                             g->size);
    }
    for (int i = 0; i < n; i++) {
        if (ranks[i] < 0 || ranks[i] >= g->size) {
            return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_RANK, fn,
                                 "rank %d at index %d is not in the group (size %d)", ranks[i], i,
                                 g->size);
        }
        for (int j = 0; j < i; j++) {
            if (ranks[j] == ranks[i]) {
                return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_RANK, fn, "rank %d appears twice",
                                     ranks[i]);
            }
        }
    }
    return 0;
}

int PMPI_Group_incl(MPI_Group group, int n, const int ranks[], MPI_Group *newgroup)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Group_incl";
    int err = chk_group(fn, group);
    if (!err) {
        err = chk_ranks(fn, group, n, ranks);
    }
    if (err) {
        return err;
    }
    if (newgroup == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn, "newgroup is NULL");
    }
    int *w = malloc(sizeof(int) * (size_t)(n > 0 ? n : 1));
    if (w == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_NO_MEM, fn, "out of memory");
    }
    for (int i = 0; i < n; i++) {
        w[i] = group->world[ranks[i]];
    }
    err = give(fn, n, w, newgroup);
    free(w);
    return err;
}
SF_MPI_ALIAS(Group_incl);

int PMPI_Group_excl(MPI_Group group, int n, const int ranks[], MPI_Group *newgroup)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Group_excl";
    int err = chk_group(fn, group);
    if (!err) {
        err = chk_ranks(fn, group, n, ranks);
    }
    if (err) {
        return err;
    }
    if (newgroup == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn, "newgroup is NULL");
    }
    int *w = malloc(sizeof(int) * (size_t)(group->size > 0 ? group->size : 1));
    if (w == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_NO_MEM, fn, "out of memory");
    }
    int m = 0;
    for (int i = 0; i < group->size; i++) {
        bool out = false;
        for (int j = 0; j < n && !out; j++) {
            out = ranks[j] == i;
        }
        if (!out) {
            w[m++] = group->world[i];
        }
    }
    err = give(fn, m, w, newgroup);
    free(w);
    return err;
}
SF_MPI_ALIAS(Group_excl);

/* Expand (first, last, stride) triplets into a rank list; 0 or raised. */
static int expand_ranges(const char *fn, MPI_Group g, int n, int ranges[][3], int **out, int *cnt)
{
    if (n < 0 || (n > 0 && ranges == NULL)) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn, "invalid range count %d", n);
    }
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        int f = ranges[i][0], l = ranges[i][1], s = ranges[i][2];
        if (s == 0 || f < 0 || f >= g->size || l < 0 || l >= g->size) {
            return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_RANK, fn,
                                 "invalid range (%d, %d, %d) for a group of %d", f, l, s, g->size);
        }
        if ((s > 0 && f <= l) || (s < 0 && f >= l)) {
            total += (size_t)((l - f) / s) + 1;
        }
    }
    if (total > (size_t)g->size) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_RANK, fn, "ranges name a rank twice");
    }
    int *r = malloc(sizeof(int) * (total > 0 ? total : 1));
    if (r == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_NO_MEM, fn, "out of memory");
    }
    int m = 0;
    for (int i = 0; i < n; i++) {
        int f = ranges[i][0], l = ranges[i][1], s = ranges[i][2];
        for (int x = f; s > 0 ? x <= l : x >= l; x += s) {
            r[m++] = x;
        }
    }
    int err = chk_ranks(fn, g, m, r);
    if (err) {
        free(r);
        return err;
    }
    *out = r;
    *cnt = m;
    return 0;
}

int PMPI_Group_range_incl(MPI_Group group, int n, int ranges[][3], MPI_Group *newgroup)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Group_range_incl";
    int err = chk_group(fn, group);
    int *r = NULL, m = 0;
    if (!err) {
        err = expand_ranges(fn, group, n, ranges, &r, &m);
    }
    if (err) {
        return err;
    }
    err = PMPI_Group_incl(group, m, r, newgroup);
    free(r);
    return err;
}
SF_MPI_ALIAS(Group_range_incl);

int PMPI_Group_range_excl(MPI_Group group, int n, int ranges[][3], MPI_Group *newgroup)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Group_range_excl";
    int err = chk_group(fn, group);
    int *r = NULL, m = 0;
    if (!err) {
        err = expand_ranges(fn, group, n, ranges, &r, &m);
    }
    if (err) {
        return err;
    }
    err = PMPI_Group_excl(group, m, r, newgroup);
    free(r);
    return err;
}
SF_MPI_ALIAS(Group_range_excl);

enum { SET_UNION, SET_INTER, SET_DIFF };

static int set_op(const char *fn, int op, MPI_Group a, MPI_Group b, MPI_Group *newgroup)
{
    int err = chk_group(fn, a);
    if (!err) {
        err = chk_group(fn, b);
    }
    if (err) {
        return err;
    }
    if (newgroup == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn, "newgroup is NULL");
    }
    int *w = malloc(sizeof(int) * (size_t)(a->size + b->size + 1));
    if (w == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_NO_MEM, fn, "out of memory");
    }
    /* The result keeps a's order, then (union) b's members not in a. */
    int m = 0;
    for (int i = 0; i < a->size; i++) {
        bool in_b = find(b, a->world[i]) != MPI_UNDEFINED;
        if (op == SET_UNION || (op == SET_INTER) == in_b) {
            w[m++] = a->world[i];
        }
    }
    if (op == SET_UNION) {
        for (int i = 0; i < b->size; i++) {
            if (find(a, b->world[i]) == MPI_UNDEFINED) {
                w[m++] = b->world[i];
            }
        }
    }
    err = give(fn, m, w, newgroup);
    free(w);
    return err;
}

int PMPI_Group_union(MPI_Group group1, MPI_Group group2, MPI_Group *newgroup)
{
    SF_MPI_ENTER();
    return set_op("MPI_Group_union", SET_UNION, group1, group2, newgroup);
}
SF_MPI_ALIAS(Group_union);

int PMPI_Group_intersection(MPI_Group group1, MPI_Group group2, MPI_Group *newgroup)
{
    SF_MPI_ENTER();
    return set_op("MPI_Group_intersection", SET_INTER, group1, group2, newgroup);
}
SF_MPI_ALIAS(Group_intersection);

int PMPI_Group_difference(MPI_Group group1, MPI_Group group2, MPI_Group *newgroup)
{
    SF_MPI_ENTER();
    return set_op("MPI_Group_difference", SET_DIFF, group1, group2, newgroup);
}
SF_MPI_ALIAS(Group_difference);

int PMPI_Group_translate_ranks(MPI_Group group1, int n, const int ranks1[], MPI_Group group2,
                               int ranks2[])
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Group_translate_ranks";
    int err = chk_group(fn, group1);
    if (!err) {
        err = chk_group(fn, group2);
    }
    if (err) {
        return err;
    }
    if (n < 0 || (n > 0 && (ranks1 == NULL || ranks2 == NULL))) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn, "invalid count %d or NULL arrays", n);
    }
    for (int i = 0; i < n; i++) {
        if (ranks1[i] == MPI_PROC_NULL) {
            ranks2[i] = MPI_PROC_NULL;
        } else if (ranks1[i] < 0 || ranks1[i] >= group1->size) {
            return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_RANK, fn,
                                 "rank %d is not in group1 (size %d)", ranks1[i], group1->size);
        } else {
            ranks2[i] = find(group2, group1->world[ranks1[i]]);
        }
    }
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Group_translate_ranks);

int PMPI_Group_compare(MPI_Group group1, MPI_Group group2, int *result)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Group_compare";
    int err = chk_group(fn, group1);
    if (!err) {
        err = chk_group(fn, group2);
    }
    if (err) {
        return err;
    }
    if (result == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn, "result is NULL");
    }
    if (group1->size != group2->size) {
        *result = MPI_UNEQUAL;
        return MPI_SUCCESS;
    }
    bool same = true, similar = true;
    for (int i = 0; i < group1->size; i++) {
        same = same && group1->world[i] == group2->world[i];
        similar = similar && find(group2, group1->world[i]) != MPI_UNDEFINED;
    }
    *result = same ? MPI_IDENT : similar ? MPI_SIMILAR : MPI_UNEQUAL;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Group_compare);
