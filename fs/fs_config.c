/* fs tunables (SF_FS_*) and block-id helpers: hashing, hex, compare.
 * No I/O, no state; any thread. */
#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stddef.h>
#include <string.h>

#include "fs/fs_int.h"
#include "runtime/base/sf_err.h"
#include "runtime/base/sf_log.h"

#define CFG(f) offsetof(struct sf_fs_config, f)
static const struct sf_tun fs_tun_items[] = {
    {"block_size", SF_TUN_SIZE, "1m", "size files are cut into (power of two, 4k..64m)",
     CFG(block_size)},
    {"replicas", SF_TUN_INT, "2", "copies of each block for new files (1..16)", CFG(replicas)},
};
const struct sf_tun_table sf_fs_tun_table = {"fs", fs_tun_items,
                                             sizeof fs_tun_items / sizeof fs_tun_items[0]};

void sf_fs_config_default(struct sf_fs_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->block_size = SF_FS_BLOCK_DEFAULT;
    cfg->replicas = 2;
}

int sf_fs_config_load(struct sf_fs_config *cfg)
{
    struct sf_fs_config c;
    sf_fs_config_default(&c);
    int rc = sf_tun_load(&sf_fs_tun_table, &c);
    if (rc != 0) {
        return rc;
    }
    if (!sf_fs__block_size_ok(c.block_size)) {
        SF_ERR("SF_FS_BLOCK_SIZE=%zu: must be a power of two from %u to %u", c.block_size,
               SF_FS_BLOCK_MIN, SF_FS_BLOCK_MAX);
        return SF_ERR_CONFIG;
    }
    if (c.replicas < 1 || c.replicas > SF_FS_R_MAX) {
        SF_ERR("SF_FS_REPLICAS=%d: must be 1..%d", c.replicas, SF_FS_R_MAX);
        return SF_ERR_CONFIG;
    }
    *cfg = c;
    return 0;
}

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;

static void sodium_once_fn(void)
{
    if (sodium_init() < 0) {
        /* Only fails if the RNG cannot be opened; hashing does not need it. */
        SF_WARN("sodium_init failed; hashing continues with the portable code");
    }
}

void sf_fs__sodium_init(void)
{
    pthread_once(&sodium_once, sodium_once_fn);
}

void sf_fs_block_hash(const void *buf, size_t len, struct sf_fs_block_id *out)
{
    sf_fs__sodium_init();
    crypto_generichash(out->b, SF_FS_ID_LEN, buf, len, NULL, 0);
}

char *sf_fs_block_id_hex(const struct sf_fs_block_id *id, char hex[2 * SF_FS_ID_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < SF_FS_ID_LEN; i++) {
        hex[2 * i] = digits[id->b[i] >> 4];
        hex[2 * i + 1] = digits[id->b[i] & 15];
    }
    hex[2 * SF_FS_ID_LEN] = '\0';
    return hex;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

int sf_fs_block_id_parse(const char *hex, struct sf_fs_block_id *out)
{
    struct sf_fs_block_id id;
    for (int i = 0; i < SF_FS_ID_LEN; i++) {
        /* hex[2*i] is checked before hex[2*i+1] is read, so a short string
         * stops at its NUL. */
        int hi = hexval(hex[2 * i]);
        if (hi < 0) {
            return -EINVAL;
        }
        int lo = hexval(hex[2 * i + 1]);
        if (lo < 0) {
            return -EINVAL;
        }
        id.b[i] = (uint8_t)(hi << 4 | lo);
    }
    if (hex[2 * SF_FS_ID_LEN] != '\0') {
        return -EINVAL;
    }
    *out = id;
    return 0;
}

int sf_fs_block_id_cmp(const struct sf_fs_block_id *a, const struct sf_fs_block_id *b)
{
    return memcmp(a->b, b->b, SF_FS_ID_LEN);
}

void sf_fs_block_key(const struct sf_fs_block_id *id, struct sf_dht_id *key)
{
    memcpy(key->b, id->b, SF_DHT_ID_LEN);
}
