/* The cluster key and the MAC layer of daemon-to-daemon frames: key file
 * load/create, per-connection session keys from the HELLO/CHALLENGE nonces,
 * sealing (MAC trailer) and opening (MAC, sequence and decode checks).
 * No sockets and no daemon state here, so the DHT and the fuzz target can
 * use it too. libsodium: crypto_auth (HMAC-SHA512-256), crypto_generichash
 * (keyed BLAKE2b) for session keys. Any thread, no global state.
 *
 * Peer frame: a wire frame (sf_wire.h) followed by SFD_MAC_LEN bytes of
 *   crypto_auth(frame, key). key = the cluster key for PEER_HELLO and
 *   PEER_CHALLENGE (sequence 0), then a session key per direction:
 *   BLAKE2b-256(key = cluster key, "sfd1" || dir || nonce_conn || nonce_acc)
 *   with dir "c>a" or "a>c". The wire header's sequence number must grow
 *   by exactly one per frame and direction (first session frame: 1).
 * Block frames (auth.bulk, set on member connections only): the MAC of an
 *   FS_PUT or FS_DATA frame covers every byte except the block bytes of its
 *   last field (see mac_cover). Why this keeps the promise: those bytes are
 *   self-certifying. The id they must hash to (BLAKE2b-256) is bound by the
 *   MAC: FS_PUT carries it in the covered part, and FS_DATA answers a
 *   request number (covered) whose request holds the id; the block layer
 *   (sfd_fs.c) hashes FS_PUT bytes in the store put with that id expected
 *   and FS_DATA bytes before any use, so a changed payload is refused,
 *   never stored or returned. Everything that steers the receiver (op,
 *   lengths, sequence, request, status, id) stays covered, and a frame's
 *   split is a function of covered bytes only, so a forger cannot move the
 *   boundary. Not covered means tampering costs a failed read or write
 *   (the next replica is tried), as cutting the TCP connection already
 *   can. Gain: HMAC-SHA512 ran over every block byte twice (seal, open),
 *   a third of the daemons' CPU in a replicated write. Remote clients
 *   (PC_CLIENT) keep whole-frame MACs: they need not verify blocks. */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/base/sf_err.h"
#include "launcher/sfd/sfd_int.h"

int sf_sfd__auth_global_init(void)
{
    return sodium_init() < 0 ? SF_ERR_CONFIG : 0;
}

int sf_sfd__key_load(const char *path, bool create, uint8_t key[SFD_KEY_LEN])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && create) {
        uint8_t k[SFD_KEY_LEN];
        randombytes_buf(k, sizeof(k));
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0) {
            return -errno;
        }
        ssize_t w = write(fd, k, sizeof(k));
        int err = w == (ssize_t)sizeof(k) ? 0 : (w < 0 ? -errno : -EIO);
        if (close(fd) != 0 && err == 0) {
            err = -errno;
        }
        if (err != 0) {
            unlink(path);
            return err;
        }
        memcpy(key, k, sizeof(k));
        sodium_memzero(k, sizeof(k));
        return 0;
    }
    if (fd < 0) {
        return -errno;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    /* A key others can read is not a secret: refuse it, like ssh does. */
    if ((st.st_mode & 077) != 0 || st.st_size != SFD_KEY_LEN) {
        close(fd);
        return SF_ERR_CONFIG;
    }
    ssize_t r = read(fd, key, SFD_KEY_LEN);
    close(fd);
    return r == SFD_KEY_LEN ? 0 : SF_ERR_CONFIG;
}

void sf_sfd__auth_init(struct sf_sfd_auth *a, const uint8_t key[SFD_KEY_LEN])
{
    memset(a, 0, sizeof(*a));
    memcpy(a->key, key, SFD_KEY_LEN);
    memcpy(a->tx_key, key, SFD_KEY_LEN);
    memcpy(a->rx_key, key, SFD_KEY_LEN);
}

static void derive(const uint8_t key[SFD_KEY_LEN], const char *dir, const uint8_t *nc,
                   const uint8_t *na, uint8_t out[SFD_KEY_LEN])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, key, SFD_KEY_LEN, SFD_KEY_LEN);
    crypto_generichash_update(&st, (const uint8_t *)"sfd1", 4);
    crypto_generichash_update(&st, (const uint8_t *)dir, 3);
    crypto_generichash_update(&st, nc, SFD_NONCE_LEN);
    crypto_generichash_update(&st, na, SFD_NONCE_LEN);
    crypto_generichash_final(&st, out, SFD_KEY_LEN);
}

void sf_sfd__auth_session(struct sf_sfd_auth *a, const uint8_t *nonce_conn,
                          const uint8_t *nonce_acc, bool connector)
{
    uint8_t c2a[SFD_KEY_LEN], a2c[SFD_KEY_LEN];
    derive(a->key, "c>a", nonce_conn, nonce_acc, c2a);
    derive(a->key, "a>c", nonce_conn, nonce_acc, a2c);
    memcpy(a->tx_key, connector ? c2a : a2c, SFD_KEY_LEN);
    memcpy(a->rx_key, connector ? a2c : c2a, SFD_KEY_LEN);
    a->session = true;
    a->tx_seq = 0;
    a->rx_seq = 0;
}

uint32_t sf_sfd__auth_next_seq(struct sf_sfd_auth *a)
{
    return a->session ? ++a->tx_seq : 0;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* How many leading bytes of a whole frame (flen bytes, header included)
 * the MAC covers: all, except for a block frame on a bulk connection,
 * where the last field's bytes are left out. Sender and receiver apply the
 * same rule to the same (covered) bytes; a frame not laid out as its
 * schema says is covered whole (and then fails to decode). */
static size_t mac_cover(const struct sf_sfd_auth *a, const uint8_t *frame, size_t flen)
{
    if (!a->bulk || !a->session || flen < SF_WIRE_HDR_LEN) {
        return flen;
    }
    size_t off = SF_WIRE_HDR_LEN;
    if (frame[3] == SF_OP_FS_PUT) {
        /* req u64, id bytes (u32 length + id), data bytes */
        if (flen < off + 12) {
            return flen;
        }
        uint32_t idlen = be32(frame + off + 8);
        if (idlen > flen - off - 12) {
            return flen;
        }
        off += 12 + (size_t)idlen;
    } else if (frame[3] == SF_OP_FS_DATA) {
        off += 12; /* req u64, status i32, then data bytes */
    } else {
        return flen;
    }
    if (flen < off + 4 || be32(frame + off) != flen - off - 4) {
        return flen;
    }
    return off + 4; /* the data's length prefix is covered, its bytes not */
}

void sf_sfd__auth_mac(const struct sf_sfd_auth *a, const uint8_t *frame, size_t len,
                      uint8_t mac[SFD_MAC_LEN])
{
    crypto_auth(mac, frame, mac_cover(a, frame, len), a->tx_key);
}

long sf_sfd__auth_open(struct sf_sfd_auth *a, const uint8_t *buf, size_t len,
                       struct sf_wire_msg *msg, enum sf_sfd_drop *why)
{
    *why = SFD_DROP_NONE;
    if (len < SF_WIRE_HDR_LEN) {
        /* Reject garbage as soon as the magic is visible. */
        if (len >= 2 && (buf[0] != (SF_WIRE_MAGIC >> 8) || buf[1] != (SF_WIRE_MAGIC & 0xff))) {
            *why = SFD_DROP_GARBAGE;
            return SF_ERR_PROTO;
        }
        return 0;
    }
    if (buf[0] != (SF_WIRE_MAGIC >> 8) || buf[1] != (SF_WIRE_MAGIC & 0xff) ||
        buf[2] != SF_WIRE_VERSION) {
        *why = SFD_DROP_GARBAGE;
        return SF_ERR_PROTO;
    }
    uint32_t body = be32(buf + 4);
    if (body > SFD_PEER_MAX_BODY) {
        *why = SFD_DROP_GARBAGE;
        return -EMSGSIZE;
    }
    size_t flen = SF_WIRE_HDR_LEN + (size_t)body;
    if (len < flen + SFD_MAC_LEN) {
        return 0;
    }
    if (crypto_auth_verify(buf + flen, buf, mac_cover(a, buf, flen), a->rx_key) != 0) {
        *why = SFD_DROP_MAC;
        return SF_ERR_PROTO;
    }
    uint32_t seq = be32(buf + 8);
    uint32_t want = a->session ? a->rx_seq + 1 : 0;
    if (seq != want) {
        /* Authentic but out of order: a replay (or a lost frame, which TCP
         * cannot produce). The frame is skipped; the stream stays usable. */
        *why = SFD_DROP_REPLAY;
        return (long)(flen + SFD_MAC_LEN);
    }
    long rc = sf_wire_decode(buf, flen, msg);
    if (rc <= 0) {
        *why = SFD_DROP_DECODE;
        return rc < 0 ? rc : SF_ERR_PROTO;
    }
    if (a->session) {
        a->rx_seq = seq;
    }
    return (long)(flen + SFD_MAC_LEN);
}

void sf_sfd__auth_random(uint8_t *p, size_t n)
{
    randombytes_buf(p, n);
}

void sf_sfd__auth_sign_buf(const uint8_t key[SFD_KEY_LEN], const uint8_t *p, size_t len,
                           uint8_t mac[SFD_MAC_LEN])
{
    crypto_auth(mac, p, len, key);
}

int sf_sfd__auth_verify_buf(const uint8_t key[SFD_KEY_LEN], const uint8_t *p, size_t len,
                            const uint8_t mac[SFD_MAC_LEN])
{
    return crypto_auth_verify(mac, p, len, key) == 0 ? 0 : SF_ERR_PROTO;
}
