/* runtime/base private declarations, shared by base's own files and its
 * tests. Not for other modules. */
#ifndef SF_BASE_INT_H
#define SF_BASE_INT_H

#include <stddef.h>
#include <stdint.h>

/* sf_crc32c (sf_crc.h) by the portable path alone, so tests can compare
 * the two. */
uint32_t sf_base__crc32c_sw(const void *buf, size_t len);

struct sf_loop;
/* Replace the loop's clock (NULL restores sf_now_ms), so tests can pin
 * timer deadlines exactly. Loop thread only. */
void sf_base__loop_set_clock(struct sf_loop *loop, uint64_t (*clock)(void));

#endif
