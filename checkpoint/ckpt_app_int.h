/* checkpoint/ internals of the app backend: the image format's codec
 * (ckpt_app_image.c, pure functions, any thread) used by the rank side
 * (ckpt_app.c), the check suite and the fuzz target. No I/O here.
 *
 * Image file STORE/JOB/EPOCH/rank-N (all integers big-endian):
 *   off        size  field
 *     0           4  magic "SFCK" (0x5346434b)
 *     4           2  version (1)
 *     6           2  reserved, 0
 *     8           8  job key (the job that wrote it)
 *    16           4  epoch
 *    20           4  rank
 *    24           4  n: number of regions (<= SF_CKPT_MAX_REGIONS)
 *    28           4  reserved, 0
 *    32        12*n  region table: id (4), size (8), in data order, ids unique
 *    32+12n       .  the regions' bytes, back to back
 *    len-4        4  CRC-32C of every byte before it
 */
#ifndef CKPT_APP_INT_H
#define CKPT_APP_INT_H

#include <stddef.h>
#include <stdint.h>

#define SF_CKPT_IMAGE_MAGIC 0x5346434bu
#define SF_CKPT_IMAGE_VERSION 1
#define SF_CKPT_IMAGE_HDR 32
#define SF_CKPT_IMAGE_ENTRY 12
#define SF_CKPT_IMAGE_TRAILER 4

/* Environment the node daemon gives a rank of a job with checkpoints
 * (launcher/sfd/sfd_ckpt.c sets them, ckpt_app.c reads them). */
#define SF_CKPT_ENV_IMAGES "SF_CKPT_IMAGES"   /* STORE/KEY: where epochs go on this node */
#define SF_CKPT_ENV_KEY "SF_CKPT_KEY"         /* the job's checkpoint key (decimal u64) */
#define SF_CKPT_ENV_RESTART "SF_CKPT_RESTART" /* epoch this process restarts from */
#define SF_CKPT_ENV_FROM "SF_CKPT_FROM"       /* STORE/KEY holding that epoch (default IMAGES) */
/* Set when images go to the Starfish filesystem: the local sfd's socket.
 * Images are then /ckpt/KEY/EPOCH/rank-N there (replication 2), and
 * SF_CKPT_FROM names the key holding the epoch to load. */
#define SF_CKPT_ENV_FS "SF_CKPT_FS"
#define SF_CKPT_FS_ROOT "/ckpt"
#define SF_CKPT_FS_REPLICAS 2

struct sf_ckpt_image_hdr {
    uint64_t job;
    uint32_t epoch;
    uint32_t rank;
    uint32_t nregions;
};

struct sf_ckpt_image_region {
    uint32_t id;
    uint64_t size;
    uint64_t off; /* decode: offset of the region's bytes in the image */
};

/* Header and region table (SF_CKPT_IMAGE_HDR + 12 * h->nregions bytes)
 * into out. Returns the bytes written, or -ENOSPC if cap is too small,
 * -EINVAL if nregions exceeds the limit. The caller then writes the data
 * and the trailer (sf_crc32c over everything before it, big-endian). */
long sf_ckpt__image_head(const struct sf_ckpt_image_hdr *h, const struct sf_ckpt_image_region *r,
                         uint8_t *out, size_t cap);

/* Validate a whole image in buf[0..len) before trusting any of it: magic,
 * version, reserved fields, region count <= cap and the limit, unique ids,
 * sizes adding up exactly to the length (no overflow), CRC. On success
 * fills *h and r[0..nregions) (off set) and returns 0; else -EBADMSG
 * (corrupt or truncated), -EPROTO (unknown version) or -E2BIG (more regions
 * than cap). Never reads outside buf. */
int sf_ckpt__image_decode(const uint8_t *buf, size_t len, struct sf_ckpt_image_hdr *h,
                          struct sf_ckpt_image_region *r, uint32_t cap);

#endif
