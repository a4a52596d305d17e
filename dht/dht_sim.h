/* Simulated network for DHT tests and benchmarks: thousands of sf_dht
 * handles in one process, seeded latency/loss, crash churn, one virtual
 * clock. Test/bench code only (not linked into daemons). Single-threaded. */
#ifndef DHT_SIM_H
#define DHT_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dht/sf_dht.h"

struct sf_dht_sim_config {
    uint64_t seed;
    uint32_t lat_min_ms, lat_max_ms; /* one-way delay, uniform */
    double loss;                     /* probability a datagram is lost */
    struct sf_dht_config dht;        /* per-node config; id/seed set per node */
    /* Optional hooks applied to every node (e.g. sign/verify). */
    int (*sign)(void *ctx, uint8_t *pkt, size_t len);
    int (*verify)(void *ctx, const uint8_t *pkt, size_t len, const uint8_t *mac);
};

struct sf_dht_sim_node {
    struct sf_dht *dht; /* NULL once killed */
    struct sf_dht_id id;
    uint64_t wake;      /* time of its pending wake event, UINT64_MAX if none */
    uint64_t dead_seen; /* contact_dead callbacks */
    struct sf_dht_sim *sim;
    uint32_t idx;
};

struct sf_dht_sim {
    struct sf_dht_sim_config cfg;
    uint64_t now, rng, seq;
    struct sf_dht_sim_node **node; /* stable pointers: handles keep them as ctx */
    size_t n, cap, live;
    struct sf_dht_sim_ev *ev;
    size_t nev, capev;
    uint64_t sent, lost, delivered;
    uint64_t by_type[16]; /* datagrams sent, by packet type byte */
};

/* 0 or -ENOMEM. */
int sf_dht_sim_create(const struct sf_dht_sim_config *cfg, struct sf_dht_sim **out);
void sf_dht_sim_destroy(struct sf_dht_sim *s);
/* Add a node (random id) that joins through node 'via' (-1: none). Returns
 * its index or a negative errno. */
long sf_dht_sim_add(struct sf_dht_sim *s, long via);
/* Crash a node: no goodbye, its handle is destroyed, packets to it vanish. */
void sf_dht_sim_kill(struct sf_dht_sim *s, size_t idx);
/* Deliver packets and fire timers up to time t (inclusive). */
void sf_dht_sim_run_until(struct sf_dht_sim *s, uint64_t t);
/* Run until *flag is set or the clock passes limit; true if set. */
bool sf_dht_sim_run_flag(struct sf_dht_sim *s, const bool *flag, uint64_t limit);
/* Re-arm a node's wake event after the caller called into its handle. */
void sf_dht_sim_poke(struct sf_dht_sim *s, size_t idx);
uint64_t sf_dht_sim_rand(struct sf_dht_sim *s);
void sf_dht_sim_random_id(struct sf_dht_sim *s, struct sf_dht_id *id);
/* Brute force: the k live nodes closest to target, excluding 'skip'
 * (-1: none); indices into s->node, nearest first. Returns count. */
size_t sf_dht_sim_closest(const struct sf_dht_sim *s, const struct sf_dht_id *target, long skip,
                          size_t k, size_t *out);
/* Index of the node with this address (4 bytes, big-endian index). */
long sf_dht_sim_addr_idx(const struct sf_dht_addr *a);
/* Routing-table entries, over all live nodes, that point at dead nodes. */
size_t sf_dht_sim_dead_contacts(const struct sf_dht_sim *s, size_t *total);

#endif
