/* DHT UDP binding: the core on a non-blocking UDP socket, fed by an sf_loop
 * (readable events and one timer at the core's next wake-up). Only glue:
 * no protocol logic here. Runs on the loop's thread. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dht/sf_dht.h"
#include "runtime/base/sf_log.h"
#include "runtime/base/sf_loop.h"

struct sf_dht_udp {
    struct sf_loop *loop;
    int fd;
    int family;
    struct sf_dht *dht;
    struct sf_timer *timer;
    uint64_t timer_at;
    struct sf_dht_ops user;
    void *ctx;
};

static int to_sockaddr(const struct sf_dht_addr *a, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof *ss);
    if (a->len == 6) {
        struct sockaddr_in *sin = (struct sockaddr_in *)ss;
        sin->sin_family = AF_INET;
        memcpy(&sin->sin_addr, a->b, 4);
        memcpy(&sin->sin_port, a->b + 4, 2);
        *len = sizeof *sin;
        return 0;
    }
    if (a->len == 18) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
        sin6->sin6_family = AF_INET6;
        memcpy(&sin6->sin6_addr, a->b, 16);
        memcpy(&sin6->sin6_port, a->b + 16, 2);
        *len = sizeof *sin6;
        return 0;
    }
    return -EAFNOSUPPORT;
}

static int from_sockaddr(const struct sockaddr_storage *ss, struct sf_dht_addr *a)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
        a->len = 6;
        memcpy(a->b, &sin->sin_addr, 4);
        memcpy(a->b + 4, &sin->sin_port, 2);
        return 0;
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
        a->len = 18;
        memcpy(a->b, &sin6->sin6_addr, 16);
        memcpy(a->b + 16, &sin6->sin6_port, 2);
        return 0;
    }
    return -EAFNOSUPPORT;
}

int sf_dht_udp_addr_parse(const char *hp, struct sf_dht_addr *out)
{
    char host[64];
    const char *colon;
    if (hp == NULL) {
        return -EINVAL;
    }
    if (hp[0] == '[') {
        const char *end = strchr(hp, ']');
        if (end == NULL || end[1] != ':' || (size_t)(end - hp - 1) >= sizeof host) {
            return -EINVAL;
        }
        memcpy(host, hp + 1, (size_t)(end - hp - 1));
        host[end - hp - 1] = '\0';
        colon = end + 1;
    } else {
        colon = strrchr(hp, ':');
        if (colon == NULL || (size_t)(colon - hp) >= sizeof host) {
            return -EINVAL;
        }
        memcpy(host, hp, (size_t)(colon - hp));
        host[colon - hp] = '\0';
    }
    char *end;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || port > 65535) {
        return -EINVAL;
    }
    uint16_t nport = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, out->b) == 1) {
        out->len = 6;
        memcpy(out->b + 4, &nport, 2);
        return 0;
    }
    if (inet_pton(AF_INET6, host, out->b) == 1) {
        out->len = 18;
        memcpy(out->b + 16, &nport, 2);
        return 0;
    }
    return -EINVAL;
}

const char *sf_dht_udp_addr_str(const struct sf_dht_addr *a, char *buf, size_t len)
{
    char ip[INET6_ADDRSTRLEN];
    uint16_t port;
    if (a->len == 6) {
        inet_ntop(AF_INET, a->b, ip, sizeof ip);
        memcpy(&port, a->b + 4, 2);
        snprintf(buf, len, "%s:%u", ip, ntohs(port));
    } else if (a->len == 18) {
        inet_ntop(AF_INET6, a->b, ip, sizeof ip);
        memcpy(&port, a->b + 16, 2);
        snprintf(buf, len, "[%s]:%u", ip, ntohs(port));
    } else {
        snprintf(buf, len, "(%u-byte address)", a->len);
    }
    return buf;
}

static int udp_send(void *ctx, const struct sf_dht_addr *to, const uint8_t *buf, size_t len)
{
    struct sf_dht_udp *u = ctx;
    struct sockaddr_storage ss;
    socklen_t sl;
    int rc = to_sockaddr(to, &ss, &sl);
    if (rc != 0 || ss.ss_family != u->family) {
        return -EAFNOSUPPORT;
    }
    /* A full socket buffer loses the datagram like the network would; the
     * core retries on its timeout. */
    if (sendto(u->fd, buf, len, MSG_DONTWAIT, (struct sockaddr *)&ss, sl) < 0) {
        return -errno;
    }
    return 0;
}

static int udp_sign(void *ctx, uint8_t *pkt, size_t len)
{
    struct sf_dht_udp *u = ctx;
    return u->user.sign(u->ctx, pkt, len);
}

static int udp_verify(void *ctx, const uint8_t *pkt, size_t len, const uint8_t *mac)
{
    struct sf_dht_udp *u = ctx;
    return u->user.verify(u->ctx, pkt, len, mac);
}

static void udp_dead(void *ctx, const struct sf_dht_contact *c, enum sf_dht_dead_reason why)
{
    struct sf_dht_udp *u = ctx;
    u->user.contact_dead(u->ctx, c, why);
}

static void on_timer(struct sf_loop *loop, void *arg)
{
    struct sf_dht_udp *u = arg;
    u->timer = NULL; /* the loop frees a fired timer */
    sf_dht_periodic(u->dht, sf_now_ms());
    sf_dht_udp_kick(u);
}

void sf_dht_udp_kick(struct sf_dht_udp *u)
{
    uint64_t at = sf_dht_next_wake(u->dht), now = sf_now_ms();
    if (u->timer != NULL) {
        if (u->timer_at == at) {
            return;
        }
        sf_loop_timer_cancel(u->loop, u->timer);
        u->timer = NULL;
    }
    if (sf_loop_timer(u->loop, at > now ? at - now : 0, on_timer, u, &u->timer) == 0) {
        u->timer_at = at;
    } else {
        SF_WARN_SPARSE("dht: cannot arm the DHT timer; retrying on the next packet");
    }
}

static void on_readable(struct sf_loop *loop, int fd, int events, void *arg)
{
    struct sf_dht_udp *u = arg;
    uint8_t buf[SF_DHT_PKT_MAX + 1];
    /* Bounded batch so one busy socket cannot starve the loop. */
    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        ssize_t n = recvfrom(fd, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&ss, &sl);
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                SF_WARN_SPARSE("dht: recvfrom: %s", strerror(errno));
            }
            break;
        }
        struct sf_dht_addr from;
        if (from_sockaddr(&ss, &from) != 0) {
            continue;
        }
        /* Oversized datagrams arrive truncated to PKT_MAX+1 bytes and fail
         * the length check in the core (dropped and counted there). */
        (void)sf_dht_input(u->dht, &from, buf, (size_t)n, sf_now_ms());
    }
    sf_dht_udp_kick(u);
}

int sf_dht_udp_open(struct sf_loop *loop, const char *bind_hostport,
                    const struct sf_dht_config *cfg, const struct sf_dht_ops *ops, void *ctx,
                    struct sf_dht_udp **out)
{
    *out = NULL;
    struct sf_dht_addr a;
    struct sockaddr_storage ss;
    socklen_t sl;
    int rc = sf_dht_udp_addr_parse(bind_hostport, &a);
    if (rc != 0 || (rc = to_sockaddr(&a, &ss, &sl)) != 0) {
        return rc;
    }
    struct sf_dht_udp *u = calloc(1, sizeof *u);
    if (u == NULL) {
        return -ENOMEM;
    }
    u->loop = loop;
    u->family = ss.ss_family;
    u->ctx = ctx;
    if (ops != NULL) {
        u->user = *ops;
    }
    u->fd = socket(u->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (u->fd < 0) {
        rc = -errno;
        free(u);
        return rc;
    }
    if (bind(u->fd, (struct sockaddr *)&ss, sl) != 0) {
        rc = -errno;
        goto fail;
    }
    struct sf_dht_ops core = {
        .send = udp_send,
        .sign = u->user.sign != NULL ? udp_sign : NULL,
        .verify = u->user.verify != NULL ? udp_verify : NULL,
        .contact_dead = u->user.contact_dead != NULL ? udp_dead : NULL,
    };
    rc = sf_dht_create(cfg, &core, u, sf_now_ms(), &u->dht);
    if (rc != 0) {
        goto fail;
    }
    rc = sf_loop_add_fd(loop, u->fd, SF_LOOP_IN, on_readable, u);
    if (rc != 0) {
        sf_dht_destroy(u->dht);
        goto fail;
    }
    sf_dht_udp_kick(u);
    *out = u;
    return 0;
fail:
    close(u->fd);
    free(u);
    return rc;
}

struct sf_dht *sf_dht_udp_dht(struct sf_dht_udp *u)
{
    return u->dht;
}

int sf_dht_udp_local(const struct sf_dht_udp *u, struct sf_dht_addr *out)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(u->fd, (struct sockaddr *)&ss, &sl) != 0) {
        return -errno;
    }
    return from_sockaddr(&ss, out);
}

void sf_dht_udp_close(struct sf_dht_udp *u)
{
    if (u == NULL) {
        return;
    }
    if (u->timer != NULL) {
        sf_loop_timer_cancel(u->loop, u->timer);
    }
    sf_loop_del_fd(u->loop, u->fd);
    close(u->fd);
    sf_dht_destroy(u->dht);
    free(u);
}
