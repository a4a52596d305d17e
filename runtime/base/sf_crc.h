/* CRC-32C (Castagnoli, reflected, init and final xor ~0) for wire frames
 * and packets: sf_crc32c("123456789", 9) == 0xE3069283. Uses the SSE4.2
 * crc32 instruction when the CPU has it. Pure functions, any thread. */
#ifndef SF_CRC_H
#define SF_CRC_H

#include <stddef.h>
#include <stdint.h>

uint32_t sf_crc32c(const void *buf, size_t len);
/* Continue a CRC over the next piece of a message: start from 0 and feed
 * the pieces in order; sf_crc32c_extend(0, p, n) == sf_crc32c(p, n). */
uint32_t sf_crc32c_extend(uint32_t crc, const void *buf, size_t len);

#endif
