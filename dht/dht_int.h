/* DHT internals shared by dht/dht_*.c: handle layout, routing table,
 * pending RPCs, lookups, value store, packet codec. Not a public API;
 * everything here runs on the thread that owns the handle. */
#ifndef DHT_INT_H
#define DHT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dht/sf_dht.h"

#define SF_DHT__VERSION 1
#define SF_DHT__HDR_LEN 64
#define SF_DHT__ID_BITS (SF_DHT_ID_LEN * 8)
#define SF_DHT__JOIN_MAX 8
#define SF_DHT__JOIN_TRIES 8
#define SF_DHT__TID_SLOTS 256

/* Packet types; requests are odd, their reply is type + 1. */
enum {
    SF_DHT__PING = 1,
    SF_DHT__PONG = 2,
    SF_DHT__FIND_NODE = 3,
    SF_DHT__NODES = 4,
    SF_DHT__FIND_VALUE = 5,
    SF_DHT__VALUES = 6,
    SF_DHT__STORE = 7,
    SF_DHT__STORE_ACK = 8,
    SF_DHT__BYE = 9,
    SF_DHT__TYPE_MAX = 10,
};

/* FIND_VALUE request flags / VALUES reply flags. */
enum { SF_DHT__FV_CURSOR = 1, SF_DHT__FV_VALUES_ONLY = 2 };
enum { SF_DHT__VAL_MORE = 1 };
/* STORE_ACK status. */
enum { SF_DHT__ACK_STORED = 0, SF_DHT__ACK_STALE = 1, SF_DHT__ACK_FULL = 2 };

#define SF_DHT__MSG_NODES_MAX 64
#define SF_DHT__MSG_VALUES_MAX 64

/* A decoded packet: pointers point into the datagram, valid while it is. */
struct sf_dht__msg {
    uint8_t type;
    uint32_t tid;
    struct sf_dht_id sender;
    struct sf_dht_id target;    /* FIND_NODE target, FIND_VALUE/STORE key */
    struct sf_dht_addr addr;    /* PONG: requester's address as seen */
    uint8_t flags;              /* FIND_VALUE/VALUES flags, STORE_ACK status */
    struct sf_dht_id cursor;    /* FIND_VALUE */
    size_t n_nodes;
    struct sf_dht_contact nodes[SF_DHT__MSG_NODES_MAX];
    size_t n_values;
    struct sf_dht_value values[SF_DHT__MSG_VALUES_MAX]; /* STORE: values[0] */
};

/* Id equality, inlined: the linear scans call it a lot. */
static inline bool sf_dht__id_eq(const struct sf_dht_id *a, const struct sf_dht_id *b)
{
    uint64_t a0, a1, b0, b1;
    uint32_t a2, b2;
    memcpy(&a0, a->b, 8);
    memcpy(&b0, b->b, 8);
    if (a0 != b0) {
        return false;
    }
    memcpy(&a1, a->b + 8, 8);
    memcpy(&b1, b->b + 8, 8);
    memcpy(&a2, a->b + 16, 4);
    memcpy(&b2, b->b + 16, 4);
    return a1 == b1 && a2 == b2;
}

static inline uint64_t sf_dht__be64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap64(v); /* ids compare as big-endian numbers */
#endif
    return v;
}

/* sf_dht_id_cmp_dist, inlined, eight bytes at a time. */
static inline int sf_dht__cmp_dist(const struct sf_dht_id *t, const struct sf_dht_id *a,
                                   const struct sf_dht_id *b)
{
    for (int off = 0; off < 16; off += 8) {
        uint64_t tt = sf_dht__be64(t->b + off);
        uint64_t da = sf_dht__be64(a->b + off) ^ tt, db = sf_dht__be64(b->b + off) ^ tt;
        if (da != db) {
            return da < db ? -1 : 1;
        }
    }
    for (int i = 16; i < SF_DHT_ID_LEN; i++) {
        uint8_t da = a->b[i] ^ t->b[i], db = b->b[i] ^ t->b[i];
        if (da != db) {
            return da < db ? -1 : 1;
        }
    }
    return 0;
}

/* Reset the small fields of m; the node and value arrays are left as they
 * are (only the first n_nodes/n_values entries are ever read), which keeps
 * a 5 KiB message cheap on the stack. */
static inline void sf_dht__msg_init(struct sf_dht__msg *m, uint8_t type)
{
    m->type = type;
    m->tid = 0;
    m->flags = 0;
    m->n_nodes = 0;
    m->n_values = 0;
    m->sender = (struct sf_dht_id){{0}};
    m->target = (struct sf_dht_id){{0}};
    m->cursor = (struct sf_dht_id){{0}};
    m->addr = (struct sf_dht_addr){0};
}

/* Encode/decode (dht_packet.c). decode returns 0 or -(1 + enum sf_dht_drop)
 * and never touches anything but *m. encode returns the length or a
 * negative errno (-EMSGSIZE). The checksum and MAC are left zero by encode;
 * sf_dht__seal fills them. */
int sf_dht__decode(const uint8_t *buf, size_t len, struct sf_dht__msg *m);
int sf_dht__encode(const struct sf_dht__msg *m, uint8_t *buf, size_t cap);
void sf_dht__seal(uint8_t *buf, size_t len);
/* Room left for values in a VALUES reply with n_nodes contacts. */
size_t sf_dht__values_room(const struct sf_dht__msg *m);
size_t sf_dht__value_wire_len(size_t data_len);
uint32_t sf_dht__crc32c(const uint8_t *buf, size_t len, size_t skip_off);

/* Routing table entry. */
struct sf_dht__contact {
    struct sf_dht_contact c;
    uint64_t last_seen; /* last valid packet from it */
    uint64_t last_ping; /* last liveness ping we sent */
    uint8_t fails;      /* failed RPCs in a row */
};

/* Bucket b < nb-1 holds ids sharing exactly b leading bits with us; the
 * last one holds all sharing >= nb-1 and is the one that splits. */
struct sf_dht__bucket {
    int n, nrep;
    uint64_t refreshed; /* last lookup into its range */
    struct sf_dht__contact *ent; /* k slots, [0] least recently seen */
    struct sf_dht_id *ids;       /* ent[i].c.id again, packed: the scans read
                                  * only these (fewer cache lines) */
    struct sf_dht__contact *rep; /* k replacement slots, newest last */
};

struct sf_dht__lookup;

struct sf_dht__rpc {
    struct sf_dht__rpc *next, *prev; /* FIFO by deadline (one timeout) */
    struct sf_dht__rpc *hnext;       /* tid hash chain */
    uint32_t tid;
    uint8_t type;
    uint8_t tries;
    bool id_known;
    struct sf_dht_contact to;
    uint64_t deadline;
    struct sf_dht__lookup *lk; /* owning operation or NULL */
    size_t len;
    uint8_t pkt[]; /* kept for retransmission */
};

enum { SF_DHT__C_NEW, SF_DHT__C_INFLIGHT, SF_DHT__C_DONE, SF_DHT__C_FAILED };

struct sf_dht__cand {
    struct sf_dht_contact c;
    uint8_t state;
    uint8_t depth;
};

enum { SF_DHT__LK_FIND, SF_DHT__LK_GET, SF_DHT__LK_PUT, SF_DHT__LK_REPLICATE };

struct sf_dht__val {
    struct sf_dht_id publisher;
    uint64_t seq;
    uint32_t ttl_ms;
    uint16_t len;
    uint8_t *data;
};

struct sf_dht__lookup {
    struct sf_dht__lookup *next, *prev;
    int kind;
    bool storing; /* put: phase 2, waiting for STORE_ACKs */
    struct sf_dht_id target;
    struct sf_dht__cand *cand;
    int ncand, capcand;
    int inflight;
    unsigned messages;
    struct sf_dht__val *vals;
    size_t nvals, capvals;
    /* put */
    uint64_t seq;
    uint32_t ttl_ms;
    uint16_t len;
    uint8_t *data;
    struct sf_dht_contact *stored;
    int nstored;
    unsigned hops;
    sf_dht_done_fn cb;
    void *arg;
};

/* A record held for others. */
struct sf_dht__rec {
    struct sf_dht_id publisher;
    uint64_t seq;
    uint64_t expire;
    uint64_t received;
    uint16_t len;
    uint8_t *data;
};

struct sf_dht__key {
    struct sf_dht__key *next;
    struct sf_dht_id key;
    uint64_t replicated;
    int n, cap;
    struct sf_dht__rec *recs; /* sorted by publisher */
};

/* A record we publish. */
struct sf_dht__mine {
    struct sf_dht__mine *next;
    struct sf_dht_id key;
    uint64_t seq;
    uint32_t ttl_ms;
    uint64_t next_publish;
    uint16_t len;
    uint8_t data[];
};

struct sf_dht {
    struct sf_dht_config cfg;
    struct sf_dht_ops ops;
    void *ctx;
    uint64_t rng;
    uint64_t now;
    uint32_t next_tid;
    struct sf_dht_stats st;

    /* routing table */
    int nb;
    struct sf_dht__bucket bucket[SF_DHT__ID_BITS + 1];
    struct sf_dht_addr join[SF_DHT__JOIN_MAX];
    int njoin;
    uint64_t last_join;
    struct sf_dht_addr seen_as; /* our address, as a PONG reported it */
    bool joined;    /* self lookup started */
    int join_tries; /* self lookups so far */

    /* RPCs */
    struct sf_dht__rpc *rpc_head, *rpc_tail;
    struct sf_dht__rpc *tid_slot[SF_DHT__TID_SLOTS];
    size_t nrpc;

    struct sf_dht__lookup *lookups;

    /* store */
    struct sf_dht__key **kslot;
    size_t nkslot, nkeys, nrecs;
    struct sf_dht__mine *mine;

    uint64_t next_tick;
    uint8_t buf[SF_DHT_PKT_MAX]; /* scratch for encoding */
};

/* dht_node.c */
uint64_t sf_dht__rand(struct sf_dht *d);
/* Send a request; registers a pending RPC (owned by d). 0 or negative. */
int sf_dht__request(struct sf_dht *d, const struct sf_dht_contact *to, bool id_known,
                    struct sf_dht__msg *m, struct sf_dht__lookup *lk);
/* Send a reply (no RPC state). */
void sf_dht__reply(struct sf_dht *d, const struct sf_dht_addr *to, struct sf_dht__msg *m);
void sf_dht__send_raw(struct sf_dht *d, const struct sf_dht_addr *to, uint8_t *buf, size_t len);

/* dht_table.c */
int sf_dht__bucket_of(const struct sf_dht *d, const struct sf_dht_id *id);
/* A valid packet came from c: insert or refresh per Kademlia rules. */
void sf_dht__table_heard(struct sf_dht *d, const struct sf_dht_contact *c, bool is_reply);
/* An RPC to c failed; may declare it dead. */
void sf_dht__table_failed(struct sf_dht *d, const struct sf_dht_contact *c);
void sf_dht__table_remove(struct sf_dht *d, const struct sf_dht_id *id,
                          enum sf_dht_dead_reason why);
/* Up to n contacts closest to target (fails < max_fails), nearest first. */
size_t sf_dht__table_closest(const struct sf_dht *d, const struct sf_dht_id *target,
                             struct sf_dht_contact *out, size_t n);
size_t sf_dht__table_count(const struct sf_dht *d);
void sf_dht__table_touch(struct sf_dht *d, const struct sf_dht_id *target);
void sf_dht__table_maintain(struct sf_dht *d);
void sf_dht__table_free(struct sf_dht *d);
void sf_dht__random_in_bucket(struct sf_dht *d, int b, struct sf_dht_id *out);

/* dht_lookup.c */
/* Start an operation; may complete (and call cb) before returning when
 * the table is empty. The put fields are filled by *init if non-NULL. 0 or
 * -ENOMEM. */
int sf_dht__lookup_start(struct sf_dht *d, int kind, const struct sf_dht_id *target,
                         sf_dht_done_fn cb, void *arg,
                         int (*init)(struct sf_dht__lookup *lk, const void *a), const void *a);
/* End a put whose STOREs are all answered or timed out. */
void sf_dht__lookup_finish_put(struct sf_dht *d, struct sf_dht__lookup *lk);
void sf_dht__lookup_reply(struct sf_dht *d, struct sf_dht__lookup *lk, struct sf_dht__rpc *r,
                          const struct sf_dht__msg *m);
void sf_dht__lookup_timeout(struct sf_dht *d, struct sf_dht__lookup *lk, struct sf_dht__rpc *r);
void sf_dht__lookup_free_all(struct sf_dht *d);

/* dht_store.c */
int sf_dht__store_init(struct sf_dht *d);
void sf_dht__store_free(struct sf_dht *d);
/* Apply a STORE; returns SF_DHT__ACK_*. */
int sf_dht__store_put(struct sf_dht *d, const struct sf_dht_id *key, const struct sf_dht_value *v);
struct sf_dht__key *sf_dht__store_find(const struct sf_dht *d, const struct sf_dht_id *key);
/* Fill m->values from key's records after cursor until room runs out;
 * sets SF_DHT__VAL_MORE in m->flags if some were left. */
void sf_dht__store_fill(struct sf_dht *d, const struct sf_dht_id *key,
                        const struct sf_dht_id *cursor,
                        struct sf_dht__msg *m);
void sf_dht__store_maintain(struct sf_dht *d);
/* Our own store: merge into lookup results, and put completion. */
void sf_dht__store_publish_due(struct sf_dht *d);
/* Continue a put/replicate once its lookup has found the closest nodes. */
void sf_dht__store_lookup_done(struct sf_dht *d, struct sf_dht__lookup *lk,
                               const struct sf_dht_contact *nodes, size_t n);

#endif
