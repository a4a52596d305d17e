/* Wire I/O helpers: a stream connection's receive buffer (accumulates
 * reads, hands out whole frames) and write_all. Decoding itself lives in
 * wire_decode.c. One thread per sf_wire_rx; write_all is reentrant. */
#include "runtime/base/sf_wire.h"

#include "runtime/base/sf_err.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_FRAME ((size_t)SF_WIRE_HDR_LEN + SF_WIRE_MAX_BODY)
#define RX_MIN_CAP 4096u
#define RX_MIN_READ 1024u /* grow rather than read in dribbles */

void sf_wire_rx_init(struct sf_wire_rx *rx)
{
    memset(rx, 0, sizeof *rx);
}

void sf_wire_rx_free(struct sf_wire_rx *rx)
{
    free(rx->buf);
    memset(rx, 0, sizeof *rx);
}

long sf_wire_rx_fill(struct sf_wire_rx *rx, int fd)
{
    /* Consumed frames are dropped here, never in rx_next, so a frame handed
     * out by rx_next stays valid until the next fill. */
    if (rx->off > 0) {
        if (rx->off < rx->len) {
            memmove(rx->buf, rx->buf + rx->off, rx->len - rx->off);
        }
        rx->len -= rx->off;
        rx->off = 0;
    }
    /* Grow by doubling as data arrives, not to what a header claims: a
     * peer announcing 16 MiB and sending nothing costs us nothing. */
    if (rx->cap - rx->len < RX_MIN_READ && rx->cap < MAX_FRAME) {
        size_t cap = rx->cap ? rx->cap * 2 : RX_MIN_CAP;
        if (cap > MAX_FRAME) {
            cap = MAX_FRAME;
        }
        uint8_t *b = realloc(rx->buf, cap);
        if (b == NULL) {
            return -ENOMEM;
        }
        rx->buf = b;
        rx->cap = cap;
    }
    if (rx->len == rx->cap) {
        /* Full at the largest frame size: the caller did not drain frames
         * with rx_next first. */
        return -ENOBUFS;
    }
    for (;;) {
        ssize_t n = read(fd, rx->buf + rx->len, rx->cap - rx->len);
        if (n >= 0) {
            rx->len += (size_t)n;
            return n;
        }
        if (errno == EINTR) {
            continue;
        }
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
}

int sf_wire_rx_next(struct sf_wire_rx *rx, struct sf_wire_msg *msg)
{
    if (rx->off >= rx->len) {
        return 0;
    }
    long r = sf_wire_decode(rx->buf + rx->off, rx->len - rx->off, msg);
    if (r > 0) {
        rx->off += (size_t)r;
        return 1;
    }
    if (r < 0) {
        rx->dropped++;
        return (int)r;
    }
    return 0;
}

int sf_wire_write_all(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    bool is_sock = true; /* send() so a vanished peer is -EPIPE, not SIGPIPE */
    while (len > 0) {
        ssize_t n = is_sock ? send(fd, p, len, MSG_NOSIGNAL) : write(fd, p, len);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n == 0) {
            continue; /* not expected for len > 0; write again */
        }
        int e = errno;
        if (e == ENOTSOCK && is_sock) {
            is_sock = false;
            continue;
        }
        if (e == EINTR) {
            continue;
        }
        if (e == EAGAIN || e == EWOULDBLOCK) {
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            if (poll(&pfd, 1, -1) < 0 && errno != EINTR) {
                return -errno;
            }
            continue; /* POLLERR/POLLHUP: the next write reports it */
        }
        if (e == ECONNRESET) {
            return -EPIPE;
        }
        return -e;
    }
    return 0;
}
