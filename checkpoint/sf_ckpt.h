/* Starfish application-level checkpoints (the "app" backend): a program
 * registers the memory that holds its state, calls sf_ckpt_checkpoint() at
 * a point every rank reaches with no message in flight, and after a restart
 * gets that memory back. Lives in Starfish's libmpi.so.40 (link with sfcc,
 * or add Starfish's libmpi to the link line); rank-local state, call from
 * the thread that calls MPI. Not transparent: see --ckpt=criu for that. */
#ifndef SF_CKPT_H
#define SF_CKPT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Register (or re-register with a new address/size) region 'id' of this
 * rank: size bytes at ptr, saved by every later checkpoint and restored by
 * sf_ckpt_recover. The memory stays the caller's; it must stay valid until
 * sf_ckpt_unprotect(id) or the end of the program. size 0 is allowed.
 * Returns 0, -EINVAL (ptr NULL with size > 0) or -ENOMEM. At most
 * SF_CKPT_MAX_REGIONS regions (-ENOSPC beyond). */
#define SF_CKPT_MAX_REGIONS 256
int sf_ckpt_protect(uint32_t id, void *ptr, size_t size);
/* Forget region id: 0 or -ENOENT. */
int sf_ckpt_unprotect(uint32_t id);

/* Collective over MPI_COMM_WORLD (every rank calls it the same number of
 * times, after completing the communication it started: that program point
 * is the consistent cut). Writes this rank's protected regions as the next
 * epoch's image, tells the node daemon, and returns once the job's
 * coordinator committed the epoch (every rank's image stored): 0. A
 * negative code when the epoch was aborted (another rank failed to store
 * its image: the previous committed epoch stays the one used for restart),
 * -ENOTSUP when the job runs without checkpoints (not started with
 * sfrun --ckpt=app|auto or --ft=restart), -ENOTCONN outside sfrun. The
 * calling rank blocks in the call; stdout/stderr are flushed first.
 * A process restarted from the epoch must continue as from this call's
 * return: output written before the call belongs to the epoch and is not
 * shown again; output after it is shown once (sfd drops the restarted
 * rank's repetition of what was already forwarded). */
int sf_ckpt_checkpoint(void);

/* The epoch this process was restarted from (> 0), or 0 in a process that
 * started fresh. */
uint32_t sf_ckpt_restarted(void);

/* Restore every protected region from this rank's image of the epoch the
 * process was restarted from. Protect the regions (same ids and sizes)
 * first. 0; -ENOENT (not restarted, or a protected id absent from the
 * image), -EBADMSG (image corrupt: CRC or header check failed), -EINVAL
 * (a region's size differs from the image's), or -errno of the read. */
int sf_ckpt_recover(void);

/* The last committed epoch this process knows of (restarted from or
 * checkpointed), 0 if none. */
uint32_t sf_ckpt_epoch(void);

#ifdef __cplusplus
}
#endif

#endif
