/* runtime/base private declarations, shared by base's own files and its
 * tests. Not for other modules. */
#ifndef SF_BASE_INT_H
#define SF_BASE_INT_H

#include <stddef.h>
#include <stdint.h>

/* CRC-32C (Castagnoli, reflected, init and final xor ~0): the value of the
 * whole buffer, e.g. sf_base__crc32c("123456789", 9) == 0xE3069283.
 * Uses the SSE4.2 crc32 instruction when the CPU has it. Any thread. */
uint32_t sf_base__crc32c(const void *buf, size_t len);
/* The portable path alone, so tests can compare the two. */
uint32_t sf_base__crc32c_sw(const void *buf, size_t len);

struct sf_loop;
/* Replace the loop's clock (NULL restores sf_now_ms), so tests can pin
 * timer deadlines exactly. Loop thread only. */
void sf_base__loop_set_clock(struct sf_loop *loop, uint64_t (*clock)(void));

#endif
