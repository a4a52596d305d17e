/* Environment variables through which sfd hands a rank its place in the job.
 * Shared by the daemon (which sets them) and the rank runtime (which reads
 * them); nothing else should parse them.
 *
 * Wire-up sequence over the SF_SFD_FD socket (frames of sf_wire.h):
 *   rank -> sfd  RANK_HELLO {job, rank, pid}
 *   rank -> sfd  RANK_ADDR {rank, blob}      (blob is opaque to sfd)
 *   sfd -> rank  ADDR_TABLE {epoch, node id of every rank, every blob}
 *                (sent to all ranks once every rank has published)
 *   rank -> sfd  RANK_FINALIZE {rank}        (then the rank exits)
 *   rank -> sfd  RANK_ABORT {rank, code, text} (MPI_Abort: sfd ends the job)
 *   sfd -> rank  KILL {reason}               (the job is ending)
 * A rank that sent RANK_HELLO and exits before RANK_FINALIZE has failed,
 * whatever its exit code. */
#ifndef SF_ENV_H
#define SF_ENV_H

#define SF_ENV_JOB "SF_JOB_ID"             /* decimal u64 */
#define SF_ENV_RANK "SF_RANK"              /* world rank */
#define SF_ENV_SIZE "SF_SIZE"              /* world size */
#define SF_ENV_LOCAL_RANK "SF_LOCAL_RANK"  /* index among ranks on this node */
#define SF_ENV_LOCAL_SIZE "SF_LOCAL_SIZE"  /* ranks on this node */
#define SF_ENV_NODE "SF_NODE_ID"           /* this node's index in the job */
#define SF_ENV_SFD_FD "SF_SFD_FD"          /* connected stream socket to sfd */
#define SF_ENV_SHM_FD "SF_SHM_FD"          /* node's shared segment (memfd); unset = no shm */
#define SF_ENV_OVERSUB "SF_OVERSUBSCRIBED" /* "1": more ranks than cores here */
#define SF_ENV_HOST "SF_HOSTNAME"          /* node name for messages */

#endif
