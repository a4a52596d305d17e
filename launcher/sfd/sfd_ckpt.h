/* sfd's checkpoint state per job (sfd_ckpt.c: options, epochs, commit,
 * output marks; sfd_recover.c: --ft=restart). Private to those two files;
 * the rest of sfd sees only the sf_sfd__ckpt_* / sf_sfd__recover_* calls
 * declared in sfd_int.h. Loop thread only. */
#ifndef SFD_CKPT_H
#define SFD_CKPT_H

#include <stdbool.h>
#include <stdint.h>

#include "launcher/sfd/sfd_int.h"

enum sfd_ckpt_backend { SFD_CKPT_OFF = 0, SFD_CKPT_APP, SFD_CKPT_CRIU };

/* Job options (JOB_SUBMIT/SPAWN opts) this module reads and writes. */
#define SFD_OPT_CKPT "ckpt"                 /* app|criu|auto (sfrun --ckpt) */
#define SFD_OPT_CKPT_INTERVAL "ckpt-interval" /* seconds (criu) */
#define SFD_OPT_MAX_RESTARTS "max-restarts" /* --ft=restart bound */
#define SFD_OPT_RESTART_FROM "restart-from" /* KEY[:EPOCH] (sfrun --restart-from) */
#define SFD_OPT_CKPT_KEY "ckpt-key"         /* set by the coordinator: image key */
#define SFD_OPT_CKPT_BACKEND "ckpt-backend" /* set by the coordinator: app|criu */
#define SFD_OPT_CKPT_RESTART "ckpt-restart" /* set by the coordinator: epoch to load */
#define SFD_OPT_CKPT_FROM "ckpt-from"       /* set by the coordinator: key holding it */
#define SFD_OPT_CKPT_FS "ckpt-fs"           /* set by the coordinator: 1 = images in the fs */

#define SFD_CKPT_DEFAULT_MAX_RESTARTS 3

struct sf_sfd_ckpt {
    enum sfd_ckpt_backend backend;
    bool auto_chosen;  /* --ckpt=auto picked the backend */
    char why[256];     /* why not CRIU (auto), for messages */
    bool ft_restart;   /* --ft=restart */
    bool in_fs;        /* images in the Starfish filesystem (/ckpt/KEY/EPOCH) */
    int max_restarts, restarts;
    uint64_t key;      /* images: STORE/KEY/EPOCH/rank-N */
    char *dir;         /* STORE/KEY on this node (owned) */
    /* coordinator */
    uint32_t committed;   /* last committed epoch, 0 none */
    uint64_t from_key;    /* committed epoch lives under this key (restart-from
                             until the job commits its own), else key */
    uint32_t pending;     /* epoch whose images are being collected, 0 none */
    uint32_t aborted;     /* last aborted epoch */
    int nstored;
    uint8_t *stored;      /* per rank: image of 'pending' stored */
    uint64_t bytes;       /* image bytes of 'pending' so far */
    uint64_t t_first;     /* sf_now_ms of the first image of 'pending' */
    /* Output positions per rank and stream (1 stdout, 2 stderr: index
     * stream-1): pos = bytes the current process has produced counted from
     * the job's start, hw = bytes ever forwarded to sfrun, marks at the
     * pending and the committed epoch's cut. */
    uint64_t (*pos)[2], (*hw)[2], (*mark_pend)[2], (*mark_comm)[2];
    bool recovering;      /* ranks are being stopped for a restart */
    uint64_t t_fail;      /* sf_now_ms the failure was seen */
    /* transparent backend (coordinator, jobs on one node for now) */
    uint32_t used;        /* last epoch number handed out */
    double interval;      /* --ckpt-interval seconds, 0 = none */
    struct sf_timer *timer;
    bool criu_busy;       /* a CRIU checkpoint is running */
    bool restoring;       /* a CRIU restore is running */
    struct sf_sfd_client *req; /* `sf ckpt` client waiting for the epoch, or NULL */
    bool req_wait;        /* req came during an epoch: answer after the next one */
    uint64_t t_begin;     /* sf_now_ms the running epoch began */
    /* every node: ranks of this node waiting for CKPT_COMMIT of an epoch */
    uint32_t *waiting;    /* per rank, 0 = not waiting */
};

/* sfd_ckpt.c for sfd_recover.c: restore a CRIU job's part from the last
 * committed epoch (0, or a negative code with err). */
int sf_sfd__ckpt_criu_recover(struct sf_sfd_job *job, char *err, size_t cap);
bool sf_sfd__ckpt_is_criu(const struct sf_sfd_job *job);

#endif
