/* Starfish's MPI extensions (MPIX_): the ULFM fault-tolerance calls
 * (MPIX_Comm_revoke, MPIX_Comm_shrink, MPIX_Comm_agree, ...) will be
 * declared here once implemented; nothing is declared that libmpi does
 * not define. Include after mpi.h. */
#ifndef MPI_EXT_H
#define MPI_EXT_H

#include <mpi.h>

#ifdef __cplusplus
extern "C" {
#endif

/* MPIX_ section: ULFM (user-level failure mitigation) - not yet available. */

#ifdef __cplusplus
}
#endif

#endif /* MPI_EXT_H */
