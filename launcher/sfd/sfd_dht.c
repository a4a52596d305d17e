/* The daemon in the DHT: a Kademlia node on UDP (same port number as the
 * control port), every packet signed with the cluster key; the node record
 * it publishes under the "all nodes" key and refreshes while it lives
 * (holders drop it record_ttl after the node stops); discovery, which
 * reads that key and joins every live node it does not know yet; and LAN
 * beacons (multicast, TTL 1, on the --bind interface) so daemons find each
 * other without --join. Membership itself (keep-alives, verdicts) stays on
 * the control connections (sfd_peer.c). Loop thread only. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dht/sf_dht.h"
#include "launcher/sfd/sfd_int.h"
#include "runtime/base/sf_err.h"
#include "runtime/base/sf_log.h"

#define BEACON_GROUP "239.255.83.70"
#define DISCOVER_ALONE_MS 500  /* read the records this often with no member */
#define DISCOVER_MS 5000       /* ... and this often with members */
#define BEACON_ALONE_MS 1000   /* beacon this often with no member */
#define BEACON_MS 10000        /* ... and this often with members (heals splits) */
#define REPUBLISH_MIN_MS 5000  /* a changed record (load, ranks) is re-put at most this often */
#define LEFT_MAX 32            /* goodbyes remembered (their records linger until expiry) */

struct sf_sfd_dht {
    struct sf_sfd *sfd;
    struct sf_dht_udp *udp;
    struct sf_dht_id key; /* the "all nodes" key */
    char published[SFD_RECORD_MAX + 1];
    uint64_t last_put, last_get, last_beacon;
    bool get_running;
    bool put_alone; /* the last put found no contact: it reached no one */
    int nrecords; /* valid records the last read found */
    int mfd;      /* beacon socket, -1 when autodiscovery is off */
    struct sockaddr_in group;
    unsigned long beacons_tx, beacons_rx, beacon_drops, records_bad;
    struct {
        uint64_t id, inc;
    } left[LEFT_MAX];
    int nleft, left_next;
};

static void node_dht_id(uint64_t node_id, struct sf_dht_id *out)
{
    uint8_t in[14] = {'s', 'f', 'n', 'o', 'd', 'e'};
    for (int i = 0; i < 8; i++) {
        in[6 + i] = (uint8_t)(node_id >> (56 - 8 * i));
    }
    crypto_generichash(out->b, SF_DHT_ID_LEN, in, sizeof(in), NULL, 0);
}

static int dht_sign(void *ctx, uint8_t *pkt, size_t len)
{
    struct sf_sfd *sfd = ctx;
    sf_sfd__auth_sign_buf(sfd->key, pkt, len, pkt + SF_DHT_MAC_OFF);
    return 0;
}

static int dht_verify(void *ctx, const uint8_t *pkt, size_t len, const uint8_t *mac)
{
    struct sf_sfd *sfd = ctx;
    return sf_sfd__auth_verify_buf(sfd->key, pkt, len, mac);
}

/* "HOST:PORT" (a name or a numeric address) -> a DHT address. */
static int resolve(const char *hostport, struct sf_dht_addr *out)
{
    if (sf_dht_udp_addr_parse(hostport, out) == 0) {
        return 0;
    }
    char host[96];
    snprintf(host, sizeof(host), "%s", hostport);
    char *colon = strrchr(host, ':');
    if (colon == NULL) {
        return -EINVAL;
    }
    *colon = '\0';
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_DGRAM};
    struct addrinfo *res = NULL;
    if (getaddrinfo(host, colon + 1, &hints, &res) != 0 || res == NULL) {
        return -EHOSTUNREACH;
    }
    char ip[INET_ADDRSTRLEN], text[96];
    inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, ip, sizeof(ip));
    freeaddrinfo(res);
    snprintf(text, sizeof(text), "%s:%s", ip, colon + 1);
    return sf_dht_udp_addr_parse(text, out);
}

static bool has_member(struct sf_sfd *sfd)
{
    for (struct sf_sfd_peer *p = sfd->peers; p != NULL; p = p->next) {
        if (p->conn != NULL) {
            return true;
        }
    }
    return false;
}

static bool said_goodbye(const struct sf_sfd_dht *d, uint64_t id, uint64_t inc)
{
    for (int i = 0; i < d->nleft; i++) {
        if (d->left[i].id == id && d->left[i].inc == inc) {
            return true;
        }
    }
    return false;
}

/* A node we may have to join: skip ourselves, members, and nodes whose
 * goodbye we heard (their record outlives them by up to record_ttl). */
static void consider(struct sf_sfd *sfd, uint64_t id, uint64_t inc, const char *hostport)
{
    struct sf_sfd_dht *d = sfd->dht;
    if (id == sfd->node_id || said_goodbye(d, id, inc)) {
        return;
    }
    struct sf_sfd_peer *p = sf_sfd__peer_find(sfd, id);
    if (p != NULL && p->conn != NULL && p->inc == inc) {
        return;
    }
    SF_DBG("discovered node %016" PRIx64 " at %s", id, hostport);
    sf_sfd__peer_dial(sfd, hostport);
}

/* ------------------------------------------------------------------ */
/* records */

static void make_record(struct sf_sfd *sfd, struct sf_sfd_record *r)
{
    memset(r, 0, sizeof(*r));
    r->id = sfd->node_id;
    r->inc = sfd->inc;
    snprintf(r->name, sizeof(r->name), "%s", sfd->host);
    r->port = sfd->port;
    r->slots = sfd->ncores;
    for (struct sf_sfd_job *j = sfd->jobs; j != NULL; j = j->next) {
        r->ranks += j->nlive;
    }
    double la[1];
    r->load = getloadavg(la, 1) == 1 && la[0] >= 0 ? (unsigned)(la[0] * 100.0 + 0.5) : 0;
    snprintf(r->version, sizeof(r->version), "%s", PACKAGE_VERSION);
    /* The address others reach us at: the bound one, else the one the DHT
     * saw our packets come from. */
    if (sfd->bind_addr != NULL && strcmp(sfd->bind_addr, "0.0.0.0") != 0) {
        snprintf(r->host, sizeof(r->host), "%s", sfd->bind_addr);
    } else {
        /* The address's bytes, without the port (dht_udp.c: 6 or 18). */
        struct sf_dht_addr a;
        if (sf_dht_observed_addr(sf_dht_udp_dht(sfd->dht->udp), &a) == 0 &&
            (a.len == 6 || a.len == 18)) {
            inet_ntop(a.len == 6 ? AF_INET : AF_INET6, a.b, r->host, sizeof(r->host));
        }
        /* A node only ever pinged (it joined no one) sees no PONG: take the
         * local end of a control connection to a member instead. */
        for (struct sf_sfd_peer *p = sfd->peers; r->host[0] == '\0' && p != NULL; p = p->next) {
            struct sockaddr_storage ss;
            socklen_t sl = sizeof(ss);
            if (p->conn != NULL && getsockname(p->conn->fd, (struct sockaddr *)&ss, &sl) == 0) {
                getnameinfo((struct sockaddr *)&ss, sl, r->host, sizeof(r->host), NULL, 0,
                            NI_NUMERICHOST);
            }
        }
    }
}

/* Wall-clock microseconds: a restarted node's record beats its old one. */
static uint64_t record_seq(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void publish(struct sf_sfd *sfd, uint64_t now)
{
    struct sf_sfd_dht *d = sfd->dht;
    struct sf_sfd_record r;
    make_record(sfd, &r);
    if (r.host[0] == '\0') {
        return; /* address not known yet: peers learn it from our packets */
    }
    char text[SFD_RECORD_MAX + 1];
    int n = sf_sfd__record_format(&r, text, sizeof(text));
    struct sf_dht *dht = sf_dht_udp_dht(d->udp);
    struct sf_dht_stats st;
    sf_dht_get_stats(dht, &st);
    /* A record put before we had contacts sits in our store only: put it
     * again as soon as the first contact arrives, not at the republish. */
    bool reached_none = d->put_alone && st.contacts > 0;
    if (n < 0 || (!reached_none && (strcmp(text, d->published) == 0 ||
                                    (d->last_put != 0 && now - d->last_put < REPUBLISH_MIN_MS)))) {
        return;
    }
    uint64_t seq = record_seq();
    uint32_t ttl = (uint32_t)(sfd->tun.record_ttl * 1000.0);
    if (sf_dht_put(dht, &d->key, seq, text, (size_t)n, ttl > 0 ? ttl : 1, NULL, NULL, now) == 0) {
        memcpy(d->published, text, (size_t)n + 1);
        d->last_put = now;
        d->put_alone = st.contacts == 0;
    }
}

static void on_records(struct sf_dht *dht, const struct sf_dht_result *res, void *arg)
{
    (void)dht;
    struct sf_sfd *sfd = arg;
    struct sf_sfd_dht *d = sfd->dht;
    d->get_running = false;
    int n = 0;
    for (size_t i = 0; i < res->n_values; i++) {
        struct sf_sfd_record r;
        if (sf_sfd__record_parse(res->values[i].data, res->values[i].len, &r) != 0) {
            d->records_bad++;
            continue;
        }
        n++;
        /* Members' load, ranks and version, for sf nodes. */
        struct sf_sfd_peer *p = sf_sfd__peer_find(sfd, r.id);
        if (p != NULL && p->inc == r.inc) {
            p->rec_ranks = r.ranks;
            p->rec_load = r.load;
            snprintf(p->rec_version, sizeof(p->rec_version), "%s", r.version);
        }
        char hp[96];
        snprintf(hp, sizeof(hp), strchr(r.host, ':') ? "[%s]:%u" : "%s:%u", r.host, r.port);
        consider(sfd, r.id, r.inc, hp);
    }
    d->nrecords = n;
}

/* ------------------------------------------------------------------ */
/* LAN beacons */

static void on_beacon(struct sf_loop *loop, int fd, int events, void *arg)
{
    (void)loop;
    (void)events;
    struct sf_sfd *sfd = arg;
    struct sf_sfd_dht *d = sfd->dht;
    for (int i = 0; i < 64; i++) {
        uint8_t buf[SFD_BEACON_LEN + 1];
        struct sockaddr_in from;
        socklen_t fl = sizeof(from);
        ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
        if (n < 0) {
            return;
        }
        uint64_t id, inc;
        uint16_t port;
        if (fl != sizeof(from) || from.sin_family != AF_INET ||
            sf_sfd__beacon_decode(sfd->key, buf, (size_t)n, &id, &inc, &port) != 0) {
            d->beacon_drops++;
            continue;
        }
        if (id == sfd->node_id) {
            continue; /* our own, looped back */
        }
        d->beacons_rx++;
        char ip[INET_ADDRSTRLEN], hp[96];
        inet_ntop(AF_INET, &from.sin_addr, ip, sizeof(ip));
        snprintf(hp, sizeof(hp), "%s:%u", ip, port);
        struct sf_dht_addr a;
        if (sf_dht_udp_addr_parse(hp, &a) == 0 && sf_sfd__peer_find(sfd, id) == NULL) {
            sf_dht_join(sf_dht_udp_dht(d->udp), &a, sf_now_ms());
            sf_dht_udp_kick(d->udp);
        }
        consider(sfd, id, inc, hp);
    }
}

/* The beacon socket: bound to the group's port (shared by every daemon on
 * the host), joined on the --bind interface, sending there with TTL 1. */
static int beacon_open(struct sf_sfd *sfd)
{
    struct sf_sfd_dht *d = sfd->dht;
    struct in_addr ifa = {.s_addr = htonl(INADDR_ANY)};
    if (sfd->bind_addr != NULL && inet_pton(AF_INET, sfd->bind_addr, &ifa) != 1) {
        SF_WARN("LAN discovery needs a numeric IPv4 --bind address, not %s: off",
                sfd->bind_addr);
        return 0;
    }
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -errno;
    }
    int one = 1, zero = 0;
    unsigned char ttl = 1, loop = 1;
    d->group.sin_family = AF_INET;
    d->group.sin_port = htons((uint16_t)sfd->tun.discovery_port);
    inet_pton(AF_INET, BEACON_GROUP, &d->group.sin_addr);
    struct sockaddr_in me = {.sin_family = AF_INET, .sin_port = d->group.sin_port};
    me.sin_addr.s_addr = htonl(INADDR_ANY);
    struct ip_mreq mr = {.imr_multiaddr = d->group.sin_addr, .imr_interface = ifa};
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, (struct sockaddr *)&me, sizeof(me)) != 0 ||
        setsockopt(fd, IPPROTO_IP, IP_MULTICAST_ALL, &zero, sizeof(zero)) != 0 ||
        setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof(mr)) != 0 ||
        setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &ifa, sizeof(ifa)) != 0 ||
        setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof(ttl)) != 0 ||
        setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof(loop)) != 0) {
        int rc = -errno;
        close(fd);
        return rc;
    }
    int rc = sf_loop_add_fd(sfd->loop, fd, SF_LOOP_IN, on_beacon, sfd);
    if (rc != 0) {
        close(fd);
        return rc;
    }
    d->mfd = fd;
    return 0;
}

static void beacon_send(struct sf_sfd *sfd)
{
    struct sf_sfd_dht *d = sfd->dht;
    uint8_t b[SFD_BEACON_LEN];
    sf_sfd__beacon_encode(sfd->key, sfd->node_id, sfd->inc, sfd->port, b);
    if (sendto(d->mfd, b, sizeof(b), MSG_DONTWAIT, (struct sockaddr *)&d->group,
               sizeof(d->group)) == (ssize_t)sizeof(b)) {
        d->beacons_tx++;
    }
}

/* ------------------------------------------------------------------ */

int sf_sfd__dht_start(struct sf_sfd *sfd)
{
    struct sf_sfd_dht *d = calloc(1, sizeof(*d));
    if (d == NULL) {
        return -ENOMEM;
    }
    d->sfd = sfd;
    d->mfd = -1;
    sfd->dht = d;
    static const char nodes_key[] = "starfish/nodes/v1";
    crypto_generichash(d->key.b, SF_DHT_ID_LEN, (const uint8_t *)nodes_key,
                       sizeof(nodes_key) - 1, NULL, 0);
    struct sf_dht_config cfg;
    sf_dht_config_default(&cfg);
    int rc = sf_dht_config_load(&cfg);
    if (rc != 0) {
        return rc;
    }
    node_dht_id(sfd->node_id, &cfg.id);
    cfg.seed = sfd->inc;
    struct sf_dht_ops ops = {.sign = dht_sign, .verify = dht_verify};
    char bind[96];
    const char *host = sfd->bind_addr != NULL ? sfd->bind_addr : "0.0.0.0";
    snprintf(bind, sizeof(bind), strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, sfd->port);
    rc = sf_dht_udp_open(sfd->loop, bind, &cfg, &ops, sfd, &d->udp);
    if (rc != 0) {
        SF_ERR("cannot open the DHT on UDP %s: %s", bind, sf_strerror(rc));
        return rc;
    }
    uint64_t now = sf_now_ms();
    for (int i = 0; i < sfd->nseeds; i++) {
        struct sf_dht_addr a;
        if (resolve(sfd->seeds[i], &a) == 0) {
            sf_dht_join(sf_dht_udp_dht(d->udp), &a, now);
        } else {
            SF_WARN("cannot resolve --join %s for the DHT", sfd->seeds[i]);
        }
    }
    sf_dht_udp_kick(d->udp);
    if (sfd->autodiscover) {
        rc = beacon_open(sfd);
        if (rc != 0) {
            SF_WARN("LAN discovery off: cannot open the beacon socket on port %d: %s",
                    sfd->tun.discovery_port, sf_strerror(rc));
        }
    }
    sf_sfd__dht_tick(sfd, now);
    return 0;
}

void sf_sfd__dht_tick(struct sf_sfd *sfd, uint64_t now)
{
    struct sf_sfd_dht *d = sfd->dht;
    if (d == NULL || d->udp == NULL) {
        return;
    }
    bool alone = !has_member(sfd);
    publish(sfd, now);
    uint64_t every = alone ? DISCOVER_ALONE_MS : DISCOVER_MS;
    if (!d->get_running && (d->last_get == 0 || now - d->last_get >= every)) {
        d->last_get = now;
        /* Set first: with no contact the get ends inside the call. */
        d->get_running = true;
        if (sf_dht_get(sf_dht_udp_dht(d->udp), &d->key, on_records, sfd, now) != 0) {
            d->get_running = false;
        }
    }
    if (d->mfd >= 0 &&
        (d->last_beacon == 0 || now - d->last_beacon >= (alone ? BEACON_ALONE_MS : BEACON_MS))) {
        d->last_beacon = now;
        beacon_send(sfd);
    }
    sf_dht_udp_kick(d->udp);
}

void sf_sfd__dht_peer_gone(struct sf_sfd *sfd, uint64_t id, uint64_t inc, bool left)
{
    struct sf_sfd_dht *d = sfd->dht;
    if (d == NULL || d->udp == NULL) {
        return;
    }
    struct sf_dht_id did;
    node_dht_id(id, &did);
    sf_dht_remove_contact(sf_dht_udp_dht(d->udp), &did);
    if (left) {
        d->left[d->left_next].id = id;
        d->left[d->left_next].inc = inc;
        d->left_next = (d->left_next + 1) % LEFT_MAX;
        if (d->nleft < LEFT_MAX) {
            d->nleft++;
        }
    }
}

void sf_sfd__dht_stop(struct sf_sfd *sfd)
{
    struct sf_sfd_dht *d = sfd->dht;
    if (d == NULL) {
        return;
    }
    if (d->udp != NULL) {
        struct sf_dht *dht = sf_dht_udp_dht(d->udp);
        uint64_t now = sf_now_ms();
        /* Best effort: holders learn of the deletion if the lookup's first
         * round goes out before we close; otherwise the record expires. */
        if (d->published[0] != '\0') {
            sf_dht_put(dht, &d->key, record_seq(), "", 0, 0, NULL, NULL, now);
        }
        sf_dht_leave(dht, now);
        sf_dht_udp_close(d->udp);
    }
    if (d->mfd >= 0) {
        sf_loop_del_fd(sfd->loop, d->mfd);
        close(d->mfd);
    }
    free(d);
    sfd->dht = NULL;
}

void sf_sfd__dht_status(struct sf_sfd *sfd, void (*line)(void *arg, const char *text), void *arg)
{
    struct sf_sfd_dht *d = sfd->dht;
    if (d == NULL || d->udp == NULL) {
        return;
    }
    struct sf_dht_stats st;
    sf_dht_get_stats(sf_dht_udp_dht(d->udp), &st);
    uint64_t drops = 0;
    for (int i = 0; i < SF_DHT_DROP_MAX; i++) {
        drops += st.dropped[i];
    }
    char buf[160];
    snprintf(buf, sizeof(buf), "dht_contacts=%" PRIu64, st.contacts);
    line(arg, buf);
    snprintf(buf, sizeof(buf), "dht_records=%d", d->nrecords);
    line(arg, buf);
    snprintf(buf, sizeof(buf), "dht_values_held=%" PRIu64, st.values_held);
    line(arg, buf);
    snprintf(buf, sizeof(buf), "dht_rx=%" PRIu64, st.rx_packets);
    line(arg, buf);
    snprintf(buf, sizeof(buf), "drop_dht=%" PRIu64, drops);
    line(arg, buf);
    snprintf(buf, sizeof(buf), "drop_dht_auth=%" PRIu64, st.dropped[SF_DHT_DROP_AUTH]);
    line(arg, buf);
    snprintf(buf, sizeof(buf), "drop_record=%lu", d->records_bad);
    line(arg, buf);
    snprintf(buf, sizeof(buf), "autodiscover=%s", d->mfd >= 0 ? "on" : "off");
    line(arg, buf);
    snprintf(buf, sizeof(buf), "beacons_sent=%lu", d->beacons_tx);
    line(arg, buf);
    snprintf(buf, sizeof(buf), "beacons_heard=%lu", d->beacons_rx);
    line(arg, buf);
    snprintf(buf, sizeof(buf), "drop_beacon=%lu", d->beacon_drops);
    line(arg, buf);
}
