/* fs/ internals shared by fs/fs_*.c: big-endian field helpers for the
 * record codecs. Not a public API; no state. */
#ifndef FS_INT_H
#define FS_INT_H

#include <stdint.h>

#include "fs/sf_fs.h"

static inline void sf_fs__put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void sf_fs__put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (24 - 8 * i));
    }
}

static inline void sf_fs__put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (56 - 8 * i));
    }
}

static inline uint16_t sf_fs__get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t sf_fs__get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t sf_fs__get64(const uint8_t *p)
{
    return (uint64_t)sf_fs__get32(p) << 32 | sf_fs__get32(p + 4);
}

/* sodium_init once per process (thread-safe, idempotent); called by every
 * entry point that hashes. */
void sf_fs__sodium_init(void);

/* Test hook: called by the GC for each block it is about to delete, after
 * the walk saw it old and before the re-check under the lock, so a test
 * can re-put the block exactly in that window. NULL (default) disables. */
typedef void (*sf_fs__gc_hook_fn)(void *arg, const struct sf_fs_block_id *id);
void sf_fs__store_set_gc_hook(struct sf_fs_store *s, sf_fs__gc_hook_fn fn, void *arg);

/* A block size the formats accept: power of two within the limits. */
static inline int sf_fs__block_size_ok(uint64_t bs)
{
    return bs >= SF_FS_BLOCK_MIN && bs <= SF_FS_BLOCK_MAX && (bs & (bs - 1)) == 0;
}

#endif
