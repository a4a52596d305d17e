/* Barrier by dissemination: ceil(log2 p) rounds; in round k each rank
 * signals rank+2^k and waits for rank-2^k. Works for any p without a root.
 * Carries no data, so no reduction order concerns. Single-threaded. */
#include "mpi-shim/coll_int.h"

int sf_coll_barrier(const struct sf_coll_comm *c)
{
    int p = c->size;
    char sb = 0, rb;
    for (int k = 0, d = 1; d < p; k++, d <<= 1) {
        int to = (c->rank + d) % p;
        int from = (c->rank - d + p) % p;
        int rc =
            sf_coll__sendrecv(c, &sb, 0, to, &rb, 0, from, SF_COLL__TAG(SF_COLL__T_BARRIER, k));
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}
