/* runtime/net private helpers shared by the transports (shm, ofi). Not
 * part of the public interface; nothing here touches global state.
 * Single-threaded like the transports themselves. */
#ifndef NET_INT_H
#define NET_INT_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>

#include "runtime/net/sf_net.h"

#define SF_NET__CACHELINE 64

/* Total bytes described by an iovec array. */
static inline size_t sf_net__iov_len(const struct iovec *iov, int iovcnt)
{
    size_t n = 0;
    for (int i = 0; i < iovcnt; i++) {
        n += iov[i].iov_len;
    }
    return n;
}

/* Gather an iovec array into dst (which has room for all of it). */
static inline void sf_net__iov_gather(void *dst, const struct iovec *iov, int iovcnt)
{
    char *p = dst;
    for (int i = 0; i < iovcnt; i++) {
        memcpy(p, iov[i].iov_base, iov[i].iov_len);
        p += iov[i].iov_len;
    }
}

/* A posted bulk_recv or an unexpected bulk announcement, matched by
 * (peer, cookie). Kept on simple singly linked lists: the number of bulk
 * transfers in flight per rank is small. */
struct sf_net__bulk {
    struct sf_net__bulk *next;
    int peer;
    uint64_t cookie;
    void *buf;
    size_t len;
    size_t done_len; /* bytes moved so far */
    void *ctx;
    uint64_t raddr; /* shm: sender's buffer address */
    uint32_t pid;   /* shm: sender's pid at announcement time */
};

/* Unlink and return the first entry matching (peer, cookie), or NULL. */
static inline struct sf_net__bulk *sf_net__bulk_take(struct sf_net__bulk **head, int peer,
                                                     uint64_t cookie)
{
    for (struct sf_net__bulk **pp = head; *pp; pp = &(*pp)->next) {
        struct sf_net__bulk *b = *pp;
        if (b->peer == peer && b->cookie == cookie) {
            *pp = b->next;
            b->next = NULL;
            return b;
        }
    }
    return NULL;
}

/* Append at the tail (keeps announcement order for equal keys). */
static inline void sf_net__bulk_append(struct sf_net__bulk **head, struct sf_net__bulk *b)
{
    struct sf_net__bulk **pp = head;
    while (*pp) {
        pp = &(*pp)->next;
    }
    b->next = NULL;
    *pp = b;
}

/* Each transport prints its own tunables; sf_net_params prints both. */
void sf_net__shm_params(FILE *out);
void sf_net__ofi_params(FILE *out);

#endif
