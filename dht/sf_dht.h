/* Kademlia DHT core: routing table, iterative lookups, value store, over an
 * injected transport and clock. Does no I/O and reads no clock: the caller
 * feeds packets and "now" (monotonic ms) and sends what the core hands it.
 * One handle is single-threaded; handles share nothing (no global state). */
#ifndef SF_DHT_H
#define SF_DHT_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/base/sf_tun.h"

#define SF_DHT_ID_LEN 20     /* 160-bit ids */
#define SF_DHT_ADDR_MAX 18   /* opaque transport address (IPv6 + port) */
#define SF_DHT_PKT_MAX 1400  /* largest datagram the core sends or accepts */
#define SF_DHT_VALUE_MAX 512 /* largest value (record) in bytes */
#define SF_DHT_MAC_OFF 32    /* MAC field in every packet, see dht_packet.c */
#define SF_DHT_MAC_LEN 32

struct sf_dht;

struct sf_dht_id {
    uint8_t b[SF_DHT_ID_LEN];
};

/* A transport address the core stores and hands back but never interprets
 * (compared with memcmp). dht_udp.c uses 6 bytes (IPv4+port) or 18 (IPv6). */
struct sf_dht_addr {
    uint8_t len; /* 1..SF_DHT_ADDR_MAX */
    uint8_t b[SF_DHT_ADDR_MAX];
};

struct sf_dht_contact {
    struct sf_dht_id id;
    struct sf_dht_addr addr;
};

/* Why a contact left the routing table. */
enum sf_dht_dead_reason {
    SF_DHT_DEAD_TIMEOUT = 1, /* max_fails RPCs in a row went unanswered */
    SF_DHT_DEAD_BYE = 2,     /* it said goodbye (orderly exit) */
};

/* Callbacks supplied by the caller; ctx is passed back unchanged. */
struct sf_dht_ops {
    /* Required. Send one datagram. buf is only valid during the call (copy
     * it if the send is deferred). Return 0 or a negative errno; a failure
     * counts as a lost packet (the RPC times out). Must not call back into
     * the handle (queue the datagram instead if delivery is synchronous). */
    int (*send)(void *ctx, const struct sf_dht_addr *to, const uint8_t *buf, size_t len);
    /* Optional authentication hook (cluster key). sign writes
     * SF_DHT_MAC_LEN bytes at pkt + SF_DHT_MAC_OFF, computed over pkt[0..len)
     * whose MAC and checksum fields are zero when it is called. verify gets
     * a copy of a received packet with those two fields zeroed and the MAC
     * it carried; non-zero drops the packet (SF_DHT_DROP_AUTH). Without
     * sign, packets carry a zero MAC; without verify, none is checked. */
    int (*sign)(void *ctx, uint8_t *pkt, size_t len);
    int (*verify)(void *ctx, const uint8_t *pkt, size_t len, const uint8_t *mac);
    /* Optional. A contact was removed because it is considered dead. Called
     * from inside sf_dht_input/sf_dht_periodic; must not destroy the dht. */
    void (*contact_dead)(void *ctx, const struct sf_dht_contact *c, enum sf_dht_dead_reason why);
};

/* Tunables, loaded from SF_DHT_<NAME> by sf_dht_config_load. Times in ms. */
struct sf_dht_config {
    struct sf_dht_id id;     /* own node id (caller chooses: random or hash) */
    uint64_t seed;           /* seeds the handle's RNG (tids, refresh ids) */
    int k;                   /* bucket size and replication, 1..64 */
    int alpha;               /* lookup parallelism, 1..16 */
    int rpc_timeout_ms;      /* one try of a request */
    int rpc_tries;           /* tries before an RPC counts as failed */
    int max_fails;           /* failed RPCs in a row before a contact is dead */
    int ping_ms;             /* ping a contact silent for this long */
    int refresh_ms;          /* refresh a bucket with no lookup this long */
    int republish_ms;        /* publisher re-stores its own values */
    int replicate_ms;        /* holders re-store values not refreshed lately */
    int tick_ms;             /* maintenance granularity */
    int max_values;          /* records held for others, all keys */
};

/* The module's tunables table (for sfrun --params). */
extern const struct sf_tun_table sf_dht_tun_table;

/* Defaults (k=20, alpha=3, ...), id zero, seed 1. */
void sf_dht_config_default(struct sf_dht_config *cfg);
/* Defaults then SF_DHT_* overrides; id and seed are left as they are.
 * Returns 0 or SF_ERR_CONFIG. */
int sf_dht_config_load(struct sf_dht_config *cfg);

/* Create a node. cfg and ops are copied; ctx is not owned. Returns 0,
 * -EINVAL (bad config or no send op) or -ENOMEM. */
int sf_dht_create(const struct sf_dht_config *cfg, const struct sf_dht_ops *ops, void *ctx,
                  uint64_t now, struct sf_dht **out);
/* Frees everything. Pending operations end without their callbacks being
 * called; no packet is sent (call sf_dht_leave first for a goodbye). */
void sf_dht_destroy(struct sf_dht *dht);

/* Feed one received datagram from 'from'. The core copies what it keeps.
 * Bad packets are dropped and counted, never fatal: returns 0 if handled,
 * else the negative code of the drop reason (SF_ERR_PROTO etc.), for
 * logging only. */
int sf_dht_input(struct sf_dht *dht, const struct sf_dht_addr *from, const uint8_t *buf,
                 size_t len, uint64_t now);
/* Run timers due at 'now' (RPC timeouts, pings, refresh, republish,
 * expiry). Call at or after sf_dht_next_wake(). */
void sf_dht_periodic(struct sf_dht *dht, uint64_t now);
/* When sf_dht_periodic wants to run next (absolute ms). Changes after every
 * call into the handle. */
uint64_t sf_dht_next_wake(const struct sf_dht *dht);

/* Join through a node known only by address: ping it, then look up our own
 * id and refresh buckets. The address is remembered (up to 8) and pinged
 * again whenever the routing table becomes empty. 0 or -ENOMEM. */
int sf_dht_join(struct sf_dht *dht, const struct sf_dht_addr *addr, uint64_t now);
/* Add a contact we know to be live (e.g. from a peer list). */
int sf_dht_add_contact(struct sf_dht *dht, const struct sf_dht_contact *c, uint64_t now);
/* Send BYE to every contact so they drop us at once (orderly exit). */
void sf_dht_leave(struct sf_dht *dht, uint64_t now);

/* A record as returned by a get. Pointers valid only during the callback. */
struct sf_dht_value {
    struct sf_dht_id publisher;
    uint64_t seq;
    uint32_t ttl_ms; /* remaining, as reported by the holder */
    size_t len;
    const uint8_t *data;
};

struct sf_dht_result {
    int status;                        /* 0, or negative (e.g. -ETIMEDOUT: no one answered) */
    const struct sf_dht_contact *nodes; /* closest responders, nearest first */
    size_t n_nodes;                    /* <= k; for a put: nodes that acknowledged
                                        * it (our own copy, if we are among
                                        * the k closest, is not listed) */
    const struct sf_dht_value *values; /* get: one per publisher, highest seq */
    size_t n_values;
    unsigned hops;     /* depth at which the nearest result was reached */
    unsigned messages; /* requests sent by this operation (retries included) */
};

/* Called once when an operation ends; everything in r is only valid during
 * the call. The callback may start new operations, but must not destroy the
 * handle or feed it packets (no sf_dht_input/sf_dht_periodic from inside). */
typedef void (*sf_dht_done_fn)(struct sf_dht *dht, const struct sf_dht_result *r, void *arg);

/* Iterative FIND_NODE: the k nodes closest to target (self excluded) that
 * answered. cb may be NULL. 0 or -ENOMEM. */
int sf_dht_find_node(struct sf_dht *dht, const struct sf_dht_id *target, sf_dht_done_fn cb,
                     void *arg, uint64_t now);
/* Iterative FIND_VALUE: every record under key (one per publisher, highest
 * sequence number), collected from the k closest nodes and our own store. */
int sf_dht_get(struct sf_dht *dht, const struct sf_dht_id *key, sf_dht_done_fn cb, void *arg,
               uint64_t now);
/* Publish data under key as this node (publisher = own id). A newer seq
 * replaces our older record everywhere; other publishers' records under the
 * same key stay (a directory key such as "all nodes"); a key with only one
 * publisher is a plain one-record key. Holders drop the record ttl_ms after
 * they last received it; the core keeps a copy and re-stores it every
 * min(republish_ms, ttl_ms/2) until sf_dht_unput or destroy, so a record
 * lives as long as its publisher and expires ttl_ms after it departs.
 * Choose seq so that a restarted node still wins (e.g. wall-clock us).
 * ttl_ms == 0 deletes our record from the holders (and stops republishing).
 * data is copied. cb (may be NULL) gets the nodes that acknowledged.
 * 0, -EINVAL (len > SF_DHT_VALUE_MAX) or -ENOMEM. */
int sf_dht_put(struct sf_dht *dht, const struct sf_dht_id *key, uint64_t seq, const void *data,
               size_t len, uint32_t ttl_ms, sf_dht_done_fn cb, void *arg, uint64_t now);
/* Stop republishing our record under key; holders keep it until it expires. */
int sf_dht_unput(struct sf_dht *dht, const struct sf_dht_id *key);

/* Packets dropped, by reason. */
enum sf_dht_drop {
    SF_DHT_DROP_SHORT,     /* shorter than the header */
    SF_DHT_DROP_VERSION,   /* unknown version */
    SF_DHT_DROP_TYPE,      /* unknown packet type */
    SF_DHT_DROP_LENGTH,    /* length field differs from datagram size */
    SF_DHT_DROP_CHECKSUM,  /* CRC32C mismatch */
    SF_DHT_DROP_AUTH,      /* verify hook refused it */
    SF_DHT_DROP_BODY,      /* body malformed, truncated or with trailing bytes */
    SF_DHT_DROP_ADDR,      /* bad address (length 0 or too long) */
    SF_DHT_DROP_SELF,      /* sender claims our own id */
    SF_DHT_DROP_UNMATCHED, /* reply to no request of ours (late or forged) */
    SF_DHT_DROP_VALUE,     /* value larger than SF_DHT_VALUE_MAX */
    SF_DHT_DROP_MAX
};

struct sf_dht_stats {
    uint64_t rx_packets, tx_packets, tx_errors;
    uint64_t dropped[SF_DHT_DROP_MAX];
    uint64_t rpc_sent, rpc_timeouts;
    uint64_t contacts, contacts_dead, buckets;
    uint64_t values_held, values_stored, values_rejected, values_expired;
    uint64_t lookups_started, lookups_done;
};

/* Snapshot of counters. */
void sf_dht_get_stats(const struct sf_dht *dht, struct sf_dht_stats *out);
/* Name of a drop reason, static string. */
const char *sf_dht_drop_name(enum sf_dht_drop d);
/* Copy up to max contacts of the routing table to out (bucket order);
 * returns how many the table holds. */
size_t sf_dht_contacts(const struct sf_dht *dht, struct sf_dht_contact *out, size_t max);
/* Liveness the core tracks for a routing-table contact: when we last got
 * a valid packet from it (the "now" of that call) and how many RPCs in a
 * row it missed. 0 or -ENOENT (not in the table). */
int sf_dht_contact_state(const struct sf_dht *dht, const struct sf_dht_id *id,
                         uint64_t *last_seen, int *fails);
/* Drop a contact another layer found dead (e.g. the daemon's keep-alives).
 * contact_dead is not called for it. 0 or -ENOENT. */
int sf_dht_remove_contact(struct sf_dht *dht, const struct sf_dht_id *id);
/* Own id. */
const struct sf_dht_id *sf_dht_self(const struct sf_dht *dht);
/* Our address as the last PONG's sender saw it (for publishing our own
 * record behind NAT or with a wildcard bind). 0 or -ENOENT. */
int sf_dht_observed_addr(const struct sf_dht *dht, struct sf_dht_addr *out);

/* XOR distance helpers. cmp: <0 if a is closer to target than b. */
int sf_dht_id_cmp_dist(const struct sf_dht_id *target, const struct sf_dht_id *a,
                       const struct sf_dht_id *b);
/* Number of leading bits a and b share (160 if equal). */
int sf_dht_id_cpl(const struct sf_dht_id *a, const struct sf_dht_id *b);
void sf_dht_id_xor(struct sf_dht_id *out, const struct sf_dht_id *a, const struct sf_dht_id *b);

/* ---- UDP binding (dht/dht_udp.c): the core on a non-blocking UDP socket
 * driven by an sf_loop. Runs on the loop's thread. ---- */
struct sf_loop;
struct sf_dht_udp;

/* Parse "HOST:PORT", "[V6]:PORT" (numeric only) into a transport address:
 * 6 bytes for IPv4 (address, port), 18 for IPv6. 0 or -EINVAL. */
int sf_dht_udp_addr_parse(const char *hostport, struct sf_dht_addr *out);
/* Format an address as text into buf (>= 48 bytes). Returns buf. */
const char *sf_dht_udp_addr_str(const struct sf_dht_addr *a, char *buf, size_t len);

/* Bind a UDP socket to bind_hostport (port 0: any) and run a DHT node on
 * it. ops.send is ignored (the binding sends); sign/verify/contact_dead are
 * passed through with ctx. The loop is not owned; the binding owns its
 * socket, timer and handle. 0 or a negative errno. */
int sf_dht_udp_open(struct sf_loop *loop, const char *bind_hostport,
                    const struct sf_dht_config *cfg, const struct sf_dht_ops *ops, void *ctx,
                    struct sf_dht_udp **out);
/* The core handle, for sf_dht_join/put/get/find_node. After calling into
 * it directly, call sf_dht_udp_kick so the timer follows the new wake-up. */
struct sf_dht *sf_dht_udp_dht(struct sf_dht_udp *u);
void sf_dht_udp_kick(struct sf_dht_udp *u);
/* The bound address (with the real port). */
int sf_dht_udp_local(const struct sf_dht_udp *u, struct sf_dht_addr *out);
/* Close the socket, cancel the timer, destroy the handle. */
void sf_dht_udp_close(struct sf_dht_udp *u);

#endif
