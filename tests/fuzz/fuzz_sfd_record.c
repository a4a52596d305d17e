/* Fuzz target for what daemons accept outside their control connections
 * (launcher/sfd/sfd_record.c): a node record read from the DHT and a LAN
 * beacon. Checks that decoding never crashes, that a parsed record
 * survives format -> parse unchanged, and that only a beacon signed with
 * the key decodes. Single-threaded. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "launcher/sfd/sfd_int.h"

static const uint8_t key[SFD_KEY_LEN] = {1, 2, 3, 4, 5, 6, 7, 8};

static void record(const uint8_t *data, size_t size)
{
    struct sf_sfd_record r, again;
    if (sf_sfd__record_parse(data, size, &r) != 0) {
        return;
    }
    char text[SFD_RECORD_MAX + 1];
    int n = sf_sfd__record_format(&r, text, sizeof(text));
    if (n < 0 || sf_sfd__record_parse((const uint8_t *)text, (size_t)n, &again) != 0 ||
        memcmp(&r, &again, sizeof(r)) != 0) {
        abort();
    }
}

static void beacon(const uint8_t *data, size_t size)
{
    uint64_t id, inc;
    uint16_t port;
    if (sf_sfd__beacon_decode(key, data, size, &id, &inc, &port) == 0) {
        /* Only our own encoding of the same fields verifies. */
        uint8_t b[SFD_BEACON_LEN];
        sf_sfd__beacon_encode(key, id, inc, port, b);
        if (size != sizeof(b) || memcmp(b, data, size) != 0) {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (sf_sfd__auth_global_init() != 0) {
        abort();
    }
    record(data, size);
    beacon(data, size);
    /* A forged beacon: the input's first bytes as fields, signed. */
    if (size >= 18) {
        uint64_t id = 0, inc = 0;
        memcpy(&id, data, 8);
        memcpy(&inc, data + 8, 8);
        uint16_t port = (uint16_t)(data[16] << 8 | data[17]);
        uint8_t b[SFD_BEACON_LEN];
        sf_sfd__beacon_encode(key, id, inc, port, b);
        uint64_t id2, inc2;
        uint16_t port2;
        int rc = sf_sfd__beacon_decode(key, b, sizeof(b), &id2, &inc2, &port2);
        if (port == 0 ? rc == 0 : (rc != 0 || id2 != id || inc2 != inc || port2 != port)) {
            abort();
        }
    }
    return 0;
}
