/* Fuzz target for the app backend's image decoder (checkpoint/
 * ckpt_app_image.c): any input must either be refused or decode to regions
 * that lie inside the input, back to back after the table, and whose head
 * re-encodes to exactly the input's head. A crash, sanitizer report or
 * abort is a bug. Single-threaded; libFuzzer (make fuzz-ckpt-image) or the
 * plain replay driver (make check). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint/ckpt_app_int.h"
#include "checkpoint/sf_ckpt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct sf_ckpt_image_region r[SF_CKPT_MAX_REGIONS];
    struct sf_ckpt_image_hdr h;
    /* A small cap as well as the full one: -E2BIG must not write past it. */
    uint32_t cap = (size & 1) ? 2 : SF_CKPT_MAX_REGIONS;
    if (sf_ckpt__image_decode(data, size, &h, r, cap) != 0) {
        return 0;
    }
    if (h.nregions > cap) {
        abort();
    }
    uint64_t off = SF_CKPT_IMAGE_HDR + (uint64_t)h.nregions * SF_CKPT_IMAGE_ENTRY;
    for (uint32_t i = 0; i < h.nregions; i++) {
        if (r[i].off != off || r[i].size > size || r[i].off + r[i].size > size - 4) {
            abort();
        }
        off += r[i].size;
    }
    if (off != size - SF_CKPT_IMAGE_TRAILER) {
        abort();
    }
    size_t hl = SF_CKPT_IMAGE_HDR + (size_t)h.nregions * SF_CKPT_IMAGE_ENTRY;
    uint8_t *head = malloc(hl);
    if (head == NULL) {
        return 0;
    }
    if (sf_ckpt__image_head(&h, r, head, hl) != (long)hl || memcmp(head, data, hl) != 0) {
        abort();
    }
    free(head);
    return 0;
}
