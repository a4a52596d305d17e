/* DHT lookup cost at scale: builds simulated networks of 100, 1,000 and
 * 5,000 nodes (seeded latency and loss) and prints mean/max hops, messages
 * and simulated time per lookup, how many lookups found the exact k
 * closest, and (up to 1,000 nodes) how long after 20% of the nodes crash
 * no routing table names a dead node, with the default tunables.
 * Hand-run benchmark (not in make check). Single-threaded.
 * Usage: bench/dht_hops [N...]   (default 100 1000 5000) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dht/dht_sim.h"

#define LOOKUPS 500
#define BATCH 50

struct probe {
    const struct sf_dht_sim *sim;
    uint64_t t_start, t_end;
    bool done;
    int status;
    unsigned hops, messages;
    size_t n;
    struct sf_dht_contact nodes[64];
};

static void on_done(struct sf_dht *dht, const struct sf_dht_result *r, void *arg)
{
    struct probe *p = arg;
    p->done = true;
    p->t_end = p->sim->now;
    p->status = r->status;
    p->hops = r->hops;
    p->messages = r->messages;
    p->n = r->n_nodes < 64 ? r->n_nodes : 64;
    memcpy(p->nodes, r->nodes, p->n * sizeof *p->nodes);
}

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int run(size_t n)
{
    struct sf_dht_sim_config sc = {
        .seed = 42 + n, .lat_min_ms = 5, .lat_max_ms = 40, .loss = 0.005};
    sf_dht_config_default(&sc.dht);
    sc.dht.rpc_timeout_ms = 300;
    struct sf_dht_sim *s;
    if (sf_dht_sim_create(&sc, &s) != 0) {
        return 1;
    }
    double t0 = wall();
    for (size_t i = 0; i < n; i++) {
        long via = i == 0 ? -1 : (long)(sf_dht_sim_rand(s) % i);
        if (sf_dht_sim_add(s, via) < 0) {
            fprintf(stderr, "dht_hops: out of memory at node %zu\n", i);
            sf_dht_sim_destroy(s);
            return 1;
        }
        sf_dht_sim_run_until(s, s->now + 2); /* a mass start */
    }
    sf_dht_sim_run_until(s, s->now + 20000);
    double t_build = wall() - t0;
    if (getenv("DHT_HOPS_DEBUG") != NULL) {
        fprintf(stderr, "build packets by type:");
        for (int i = 1; i < 10; i++) {
            fprintf(stderr, " %d:%lu", i, (unsigned long)s->by_type[i]);
        }
        fprintf(stderr, "\n");
    }
    uint64_t sent0 = s->sent;

    struct probe *p = calloc(BATCH, sizeof *p);
    size_t *want = malloc(64 * sizeof *want);
    long *src = malloc(BATCH * sizeof *src);
    struct sf_dht_id *tgt = malloc(BATCH * sizeof *tgt);
    double hsum = 0, msum = 0, tsum = 0;
    unsigned hmax = 0, exact = 0, done = 0;
    t0 = wall();
    for (int b = 0; b < LOOKUPS / BATCH; b++) {
        for (int j = 0; j < BATCH; j++) {
            memset(&p[j], 0, sizeof p[j]);
            p[j].sim = s;
            p[j].t_start = s->now;
            src[j] = (long)(sf_dht_sim_rand(s) % n);
            sf_dht_sim_random_id(s, &tgt[j]);
            sf_dht_find_node(s->node[src[j]]->dht, &tgt[j], on_done, &p[j], s->now);
            sf_dht_sim_poke(s, (size_t)src[j]);
        }
        for (int j = 0; j < BATCH; j++) {
            sf_dht_sim_run_flag(s, &p[j].done, s->now + 60000);
        }
        for (int j = 0; j < BATCH; j++) {
            if (!p[j].done || p[j].status != 0) {
                continue;
            }
            done++;
            hsum += p[j].hops;
            tsum += (double)(p[j].t_end - p[j].t_start);
            msum += p[j].messages;
            hmax = p[j].hops > hmax ? p[j].hops : hmax;
            size_t k = sf_dht_sim_closest(s, &tgt[j], src[j], (size_t)sc.dht.k, want);
            bool ok = k == p[j].n;
            for (size_t x = 0; ok && x < k; x++) {
                ok = memcmp(s->node[want[x]]->id.b, p[j].nodes[x].id.b, SF_DHT_ID_LEN) == 0;
            }
            exact += ok;
            if (!ok && getenv("DHT_HOPS_DEBUG") != NULL) {
                size_t miss = 0, rank = 0;
                for (size_t x = 0; x < k; x++) {
                    bool f = false;
                    for (size_t y = 0; y < p[j].n && !f; y++) {
                        f = memcmp(s->node[want[x]]->id.b, p[j].nodes[y].id.b, SF_DHT_ID_LEN) == 0;
                    }
                    if (!f) {
                        miss++;
                        rank = x;
                        /* who knows it? */
                        size_t knows = 0;
                        struct sf_dht_contact cs[512];
                        for (size_t q = 0; q < n; q++) {
                            size_t m = sf_dht_contacts(s->node[q]->dht, cs, 512);
                            for (size_t z = 0; z < m && z < 512; z++) {
                                knows += sf_dht_sim_addr_idx(&cs[z].addr) == (long)want[x];
                            }
                        }
                        fprintf(stderr, "  miss rank %zu: node %zu, in %zu tables\n", rank,
                                want[x], knows);
                    }
                }
                fprintf(stderr, "lookup got %zu, missed %zu\n", p[j].n, miss);
            }
        }
    }
    double t_look = wall() - t0;
    printf("%6zu nodes: hops mean %.2f max %u, messages/lookup %.1f, %.0f ms/lookup "
           "(simulated), exact %u/%d; wall: build %.2fs (%lu pkts) lookups %.2fs (%lu pkts)\n",
           n, done ? hsum / done : 0, hmax, done ? msum / done : 0, done ? tsum / done : 0,
           exact, LOOKUPS, t_build, (unsigned long)sent0, t_look,
           (unsigned long)(s->sent - sent0));
    fflush(stdout);
    if (n <= 1000) {
        /* 20% crash at once: time until every table has dropped them. */
        for (size_t i = 0; i < n / 5;) {
            size_t x = (size_t)(sf_dht_sim_rand(s) % n);
            if (s->node[x]->dht != NULL) {
                sf_dht_sim_kill(s, x);
                i++;
            }
        }
        uint64_t t_kill = s->now;
        size_t total, dead = sf_dht_sim_dead_contacts(s, &total), dead0 = dead;
        while (dead > 0 && s->now - t_kill < 600000) {
            sf_dht_sim_run_until(s, s->now + 1000);
            dead = sf_dht_sim_dead_contacts(s, &total);
        }
        printf("%6zu nodes: 20%% crash: %zu dead table entries, all gone after %.0f s "
               "(simulated; ping_ms %d, %d tries x %d ms, max_fails %d)\n",
               n, dead0, (double)(s->now - t_kill) / 1000, sc.dht.ping_ms, sc.dht.rpc_tries,
               sc.dht.rpc_timeout_ms, sc.dht.max_fails);
        fflush(stdout);
    }
    free(p);
    free(want);
    free(src);
    free(tgt);
    sf_dht_sim_destroy(s);
    return 0;
}

int main(int argc, char **argv)
{
    static const size_t def[] = {100, 1000, 5000};
    int rc = 0;
    if (argc > 1) {
        for (int i = 1; i < argc; i++) {
            rc |= run((size_t)strtoul(argv[i], NULL, 10));
        }
    } else {
        for (size_t i = 0; i < sizeof def / sizeof def[0]; i++) {
            rc |= run(def[i]);
        }
    }
    return rc;
}
