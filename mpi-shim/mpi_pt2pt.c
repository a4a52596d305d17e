/* Point-to-point: the send/receive bindings over the rank runtime (rt),
 * request objects, datatype packing around them, buffered sends into the
 * attached buffer, probes and matched probes. Requests complete in
 * mpi_req.c. Caller's thread; the runtime progresses inside these calls. */
#include <stdlib.h>
#include <string.h>

#include "mpi-shim/shim_int.h"
#include "runtime/base/sf_err.h"

/* ---- request objects ---- */

/* A small cache of freed request objects: programs post and complete
 * requests at a high rate. */
static struct ompi_request_t *req_cache;
static unsigned req_cached;
/* Requests freed by MPI_Request_free while still running. */
static struct ompi_request_t *zombies;

struct ompi_request_t *sf_mpi__req_new(void)
{
    struct ompi_request_t *r = req_cache;
    if (r != NULL) {
        req_cache = r->next_live;
        req_cached--;
    } else {
        r = malloc(sizeof(*r));
        if (r == NULL) {
            return NULL;
        }
    }
    memset(r, 0, sizeof(*r));
    r->magic = SF_MPI_MAGIC_REQ;
    return r;
}

void sf_mpi__req_release(struct ompi_request_t *r)
{
    if (r->kind == SF_MPI_REQ_COLL) {
        sf_mpi__coll_release(r);
    }
    if (r->kind == SF_MPI_REQ_GREQ) {
        sf_mpi__greq_release(r);
    }
    if (r->type != NULL) {
        sf_mpi__type_release(r->type);
        r->type = NULL;
    }
    free(r->tmp);
    r->tmp = NULL;
    r->magic = SF_MPI_MAGIC_DEAD;
    if (req_cached < 256) {
        r->next_live = req_cache;
        req_cache = r;
        req_cached++;
    } else {
        free(r);
    }
}

void sf_mpi__status_empty(MPI_Status *st)
{
    sf_mpi__status_set(st, MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_SUCCESS, false, 0);
}

void sf_mpi__p2p_prepare(struct ompi_request_t *r, enum sf_mpi_req_kind kind, void *buf,
                         int count, MPI_Datatype type, int peer, int tag, MPI_Comm comm,
                         enum sf_rt_mode mode, bool bsend)
{
    r->magic = SF_MPI_MAGIC_REQ;
    r->kind = kind;
    r->ubuf = buf;
    r->count = count;
    r->type = type;
    sf_mpi__type_retain(type);
    r->peer = peer;
    r->tag = tag;
    r->comm = comm;
    r->mode = mode;
    r->bsend = bsend;
}

/* ---- buffered sends ---- */

/* One buffered message: its slice of the attached buffer and its send. */
struct sf_mpi_bsend {
    struct sf_mpi_bsend *next;
    size_t off, len; /* slice of the attached buffer, overhead included */
    struct sf_rt_req rt;
};

static void bsend_reap(void)
{
    struct sf_mpi_bsend **pp = &sf_mpi__st.bsend_list;
    while (*pp != NULL) {
        struct sf_mpi_bsend *b = *pp;
        if (b->rt.complete) {
            *pp = b->next;
            free(b);
        } else {
            pp = &b->next;
        }
    }
}

/* First fit in the attached buffer; the list stays in offset order. */
static struct sf_mpi_bsend *bsend_alloc(size_t need)
{
    size_t pos = 0;
    struct sf_mpi_bsend **pp = &sf_mpi__st.bsend_list;
    for (; *pp != NULL; pp = &(*pp)->next) {
        if ((*pp)->off - pos >= need) {
            break;
        }
        pos = (*pp)->off + (*pp)->len;
    }
    if (*pp == NULL && sf_mpi__st.bsend_size - pos < need) {
        return NULL;
    }
    struct sf_mpi_bsend *b = calloc(1, sizeof(*b));
    if (b == NULL) {
        return NULL;
    }
    b->off = pos;
    b->len = need;
    b->next = *pp;
    *pp = b;
    return b;
}

/* Copy the message into the attached buffer and start sending it from
 * there; the request is complete as soon as the copy is made. */
static int bsend_start(struct ompi_request_t *r)
{
    size_t bytes = sf_mpi__type_bytes(r->type, r->count);
    size_t need = bytes + MPI_BSEND_OVERHEAD;
    if (sf_mpi__st.bsend_buf == NULL) {
        return MPI_ERR_BUFFER;
    }
    struct sf_mpi_bsend *b = bsend_alloc(need);
    /* Sends that have finished free their room: progress while the
     * runtime is still handling events, then give up (messages waiting
     * for a receiver would never free it). */
    for (int i = 0; b == NULL && i < 64; i++) {
        int n = sf_rt_progress(sf_mpi__st.rt);
        bsend_reap();
        b = bsend_alloc(need);
        if (n <= 0) {
            break;
        }
    }
    if (b == NULL) {
        return MPI_ERR_BUFFER;
    }
    char *data = sf_mpi__st.bsend_buf + b->off;
    sf_mpi__pack(r->type, r->count, r->ubuf, data);
    MPI_Comm c = r->comm;
    int rc = sf_rt_isend(sf_mpi__st.rt, &b->rt, data, bytes, c->world[r->peer], c->ctx, c->rank,
                         r->tag, SF_RT_STANDARD);
    if (rc < 0) {
        b->rt.complete = true;
        bsend_reap();
        return sf_mpi__class_of(rc);
    }
    return 0;
}

int sf_mpi__bsend_detach_wait(void)
{
    unsigned idle = 0;
    for (;;) {
        bsend_reap();
        if (sf_mpi__st.bsend_list == NULL) {
            return 0;
        }
        int n = sf_rt_progress(sf_mpi__st.rt);
        if (n < 0) {
            return n;
        }
        sf_mpi__idle(n == 0 ? ++idle : (idle = 0));
    }
}

int PMPI_Buffer_attach(void *buffer, int size)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Buffer_attach";
    int err = sf_mpi__chk_init(fn);
    if (err) {
        return err;
    }
    if (size < 0 || (buffer == NULL && size > 0)) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn, "invalid buffer %p of size %d",
                             buffer, size);
    }
    if (sf_mpi__st.bsend_buf != NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_BUFFER, fn,
                             "a buffer is already attached (detach it first)");
    }
    sf_mpi__st.bsend_buf = buffer;
    sf_mpi__st.bsend_size = (size_t)size;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Buffer_attach);

int PMPI_Buffer_detach(void *buffer_addr, int *size)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Buffer_detach";
    int err = sf_mpi__chk_init(fn);
    if (err) {
        return err;
    }
    if (buffer_addr == NULL || size == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn, "NULL argument");
    }
    /* Blocks until every buffered message has left the buffer. */
    int rc = sf_mpi__bsend_detach_wait();
    if (rc < 0) {
        return sf_mpi__raise_rt(SF_COMM_WORLD, rc, fn);
    }
    *(void **)buffer_addr = sf_mpi__st.bsend_buf;
    *size = (int)sf_mpi__st.bsend_size;
    sf_mpi__st.bsend_buf = NULL;
    sf_mpi__st.bsend_size = 0;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Buffer_detach);

/* ---- start / finish ---- */

static void seg_pack(void *arg, void *dst, size_t n)
{
    sf_mpi__dt_pack(arg, dst, n);
}

static void seg_unpack(void *arg, const void *src, size_t n)
{
    sf_mpi__dt_unpack(arg, src, n);
}

/* Where a non-contiguous message of 'bytes' goes through: up to
 * SF_RT_SEG_BYTES, a packed copy in r->tmp; beyond, a struct sf_mpi_seg in
 * r->tmp whose segment-sized stage the runtime fills or drains through its
 * layout (so memory stays bounded whatever the message size). 0 or
 * MPI_ERR_NO_MEM. */
static int stage_setup(struct ompi_request_t *r, size_t bytes)
{
    r->seg = bytes > SF_RT_SEG_BYTES;
    size_t want = r->seg ? sizeof(struct sf_mpi_seg) : bytes;
    if (r->tmp == NULL || r->tmplen < want) {
        free(r->tmp);
        r->tmp = malloc(want);
        r->tmplen = want;
        if (r->tmp == NULL) {
            return MPI_ERR_NO_MEM;
        }
    }
    if (r->seg) {
        struct sf_mpi_seg *sg = r->tmp;
        sf_mpi__dt_cursor(&sg->cur, r->type, (size_t)r->count, r->ubuf);
        sg->lay.pack = seg_pack;
        sg->lay.unpack = seg_unpack;
        sg->lay.arg = &sg->cur;
        sg->lay.stage = sg->stage;
        sg->lay.stage_len = sizeof(sg->stage);
    }
    return 0;
}

int sf_mpi__p2p_start(struct ompi_request_t *r)
{
    MPI_Comm c = r->comm;
    r->rt_started = false;
    r->err = 0;
    r->seg = false;
    if (r->peer == MPI_PROC_NULL) {
        sf_mpi__status_set(&r->done_status, MPI_PROC_NULL, MPI_ANY_TAG, MPI_SUCCESS, false, 0);
        return 0;
    }
    size_t bytes = sf_mpi__type_bytes(r->type, r->count);
    /* One span of memory goes as is; anything else through a packed copy
     * or, when large, segment by segment (stage_setup). */
    bool contig = sf_mpi__type_span(r->type, r->count);
    char *span = (char *)r->ubuf + (contig ? r->type->true_lb : 0);
    int rc;
    if (r->kind == SF_MPI_REQ_SEND) {
        if (r->bsend) {
            sf_mpi__status_empty(&r->done_status);
            return bsend_start(r);
        }
        const void *src = span;
        if (!contig && bytes > 0) {
            if (stage_setup(r, bytes) != 0) {
                return MPI_ERR_NO_MEM;
            }
            if (!r->seg) {
                sf_mpi__pack(r->type, r->count, r->ubuf, r->tmp);
            }
            src = r->tmp;
        }
        if (r->seg) {
            rc = sf_rt_isend_layout(sf_mpi__st.rt, &r->rt, &((struct sf_mpi_seg *)r->tmp)->lay,
                                    bytes, c->world[r->peer], c->ctx, c->rank, r->tag, r->mode);
        } else {
            rc = sf_rt_isend(sf_mpi__st.rt, &r->rt, src, bytes, c->world[r->peer], c->ctx,
                             c->rank, r->tag, r->mode);
        }
    } else {
        void *dst = span;
        if (!contig && bytes > 0) {
            if (stage_setup(r, bytes) != 0) {
                return MPI_ERR_NO_MEM;
            }
            dst = r->tmp;
        }
        if (r->seg) {
            rc = sf_rt_irecv_layout(sf_mpi__st.rt, &r->rt, &((struct sf_mpi_seg *)r->tmp)->lay,
                                    bytes, r->peer, c->ctx, r->tag);
        } else {
            rc = sf_rt_irecv(sf_mpi__st.rt, &r->rt, dst, bytes, r->peer, c->ctx, r->tag);
        }
    }
    if (rc < 0) {
        return sf_mpi__class_of(rc);
    }
    r->rt_started = true;
    return 0;
}

int sf_mpi__p2p_finish(struct ompi_request_t *r, MPI_Status *st)
{
    if (r->kind == SF_MPI_REQ_COLL) {
        return sf_mpi__coll_finish(r, st);
    }
    if (r->kind == SF_MPI_REQ_GREQ) {
        return sf_mpi__greq_finish(r, st);
    }
    if (!r->rt_started) {
        if (st != MPI_STATUS_IGNORE) {
            *st = r->done_status;
            st->MPI_ERROR = r->err;
        }
        return r->err;
    }
    const struct sf_rt_status *rs = &r->rt.status;
    int cls = sf_mpi__class_of(rs->error);
    if (r->kind == SF_MPI_REQ_RECV) {
        if (r->tmp != NULL && !r->seg && !rs->cancelled) {
            sf_mpi__unpack(r->type, r->count, r->tmp, rs->count, r->ubuf);
        }
        sf_mpi__status_set(st, rs->source, rs->tag, cls, rs->cancelled, rs->count);
    } else {
        sf_mpi__status_set(st, MPI_ANY_SOURCE, MPI_ANY_TAG, cls, rs->cancelled, 0);
    }
    r->rt_started = false;
    return cls;
}

int sf_mpi__p2p_wait(struct ompi_request_t *r)
{
    if (!r->rt_started || r->rt.complete) {
        return 0;
    }
    if (r->kind == SF_MPI_REQ_COLL || r->kind == SF_MPI_REQ_GREQ ||
        sf_mpi__coll_running != NULL || sf_mpi__mt) {
        /* A collective or a generalized request is no sf_rt request, and
         * while collectives run, waiting must drive their schedules too
         * (the peer we wait for may be waiting for one of them; with
         * threads, another thread may start one while we wait). */
        unsigned idle = 0;
        while (!r->rt.complete) {
            int n = sf_mpi__progress();
            if (n < 0) {
                return sf_mpi__class_of(n);
            }
            if (!r->rt.complete) {
                sf_mpi__idle(n == 0 ? ++idle : (idle = 0));
            }
        }
        return 0;
    }
    int rc = sf_rt_wait(sf_mpi__st.rt, &r->rt);
    return rc < 0 ? sf_mpi__class_of(rc) : 0;
}

static void zombies_reap(void)
{
    struct ompi_request_t **pp = &zombies;
    while (*pp != NULL) {
        struct ompi_request_t *r = *pp;
        if (sf_mpi__p2p_finished(r)) {
            *pp = r->next_live;
            sf_mpi__p2p_finish(r, MPI_STATUS_IGNORE);
            sf_mpi__req_release(r);
        } else {
            pp = &r->next_live;
        }
    }
}

void sf_mpi__req_zombie(struct ompi_request_t *r)
{
    r->freed = true;
    r->next_live = zombies;
    zombies = r;
}

int sf_mpi__progress(void)
{
    int n = sf_rt_progress(sf_mpi__st.rt);
    if (n >= 0 && sf_mpi__coll_running != NULL) {
        n += sf_mpi__coll_progress();
    }
    if (sf_mpi__st.bsend_list != NULL) {
        bsend_reap();
    }
    if (zombies != NULL) {
        zombies_reap();
    }
    return n;
}

int sf_mpi__raise_op(MPI_Comm comm, int cls, const char *fn, const struct ompi_request_t *r)
{
    const char *cn = sf_mpi__comm_name(comm);
    switch (cls) {
    case MPI_ERR_TRUNCATE:
        return sf_mpi__raise(comm, cls, fn,
                             "message truncated: the receive buffer holds %zu bytes "
                             "(source %d, tag %d, communicator %s)",
                             r ? sf_mpi__type_bytes(r->type, r->count) : 0,
                             r ? r->rt.status.source : -1, r ? r->rt.status.tag : -1, cn);
    case MPI_ERR_BUFFER:
        return sf_mpi__raise(comm, cls, fn,
                             "the attached buffer (%zu bytes) has no room for %zu more bytes "
                             "(message plus MPI_BSEND_OVERHEAD) on communicator %s",
                             sf_mpi__st.bsend_size,
                             r ? sf_mpi__type_bytes(r->type, r->count) + MPI_BSEND_OVERHEAD : 0,
                             cn);
    case MPI_ERR_NO_MEM:
        return sf_mpi__raise(comm, cls, fn, "out of memory on communicator %s", cn);
    default:
        return sf_mpi__raise(comm, cls, fn, "operation failed on communicator %s", cn);
    }
}

/* ---- blocking and non-blocking send / receive ---- */

static int chk_p2p(const char *fn, const void *buf, int count, MPI_Datatype type, int peer,
                   int tag, MPI_Comm comm, bool recv)
{
    int err = sf_mpi__chk_init(fn);
    if (!err) {
        err = sf_mpi__chk_comm(fn, comm);
    }
    if (!err) {
        err = sf_mpi__chk_buf(fn, comm, buf, count, type);
    }
    if (!err) {
        err = recv ? sf_mpi__chk_src(fn, comm, peer) : sf_mpi__chk_dest(fn, comm, peer);
    }
    if (!err) {
        err = sf_mpi__chk_tag(fn, comm, tag, recv);
    }
    return err;
}

/* A blocking operation on a request that lives on the stack. */
static int blocking(const char *fn, enum sf_mpi_req_kind kind, void *buf, int count,
                    MPI_Datatype type, int peer, int tag, MPI_Comm comm, enum sf_rt_mode mode,
                    bool bsend, MPI_Status *status)
{
    struct ompi_request_t r;
    memset(&r, 0, sizeof(r));
    sf_mpi__p2p_prepare(&r, kind, buf, count, type, peer, tag, comm, mode, bsend);
    int cls = sf_mpi__p2p_start(&r);
    if (!cls) {
        cls = sf_mpi__p2p_wait(&r);
        if (!cls) {
            cls = sf_mpi__p2p_finish(&r, status);
        }
    }
    free(r.tmp);
    sf_mpi__type_release(type);
    return cls ? sf_mpi__raise_op(comm, cls, fn, &r) : MPI_SUCCESS;
}

static int nonblocking(const char *fn, enum sf_mpi_req_kind kind, void *buf, int count,
                       MPI_Datatype type, int peer, int tag, MPI_Comm comm, enum sf_rt_mode mode,
                       bool bsend, MPI_Request *request)
{
    if (request == NULL) {
        return sf_mpi__raise(comm, MPI_ERR_ARG, fn, "request is NULL");
    }
    struct ompi_request_t *r = sf_mpi__req_new();
    if (r == NULL) {
        return sf_mpi__raise(comm, MPI_ERR_NO_MEM, fn, "out of memory");
    }
    sf_mpi__p2p_prepare(r, kind, buf, count, type, peer, tag, comm, mode, bsend);
    int cls = sf_mpi__p2p_start(r);
    if (cls) {
        int ret = sf_mpi__raise_op(comm, cls, fn, r);
        sf_mpi__req_release(r);
        return ret;
    }
    r->active = true;
    *request = r;
    return MPI_SUCCESS;
}

#define SF_SEND_BINDING(Name, IName, mode, bsend)                                                 \
    int PMPI_##Name(const void *buf, int count, MPI_Datatype datatype, int dest, int tag,  \
                    MPI_Comm comm)                                                         \
    {                                                                                      \
        SF_MPI_ENTER();                                                                    \
        static const char fn[] = "MPI_" #Name;                                             \
        int err = chk_p2p(fn, buf, count, datatype, dest, tag, comm, false);               \
        if (err) {                                                                         \
            return err;                                                                    \
        }                                                                                  \
        return blocking(fn, SF_MPI_REQ_SEND, (void *)buf, count, datatype, dest, tag,      \
                        comm, mode, bsend, MPI_STATUS_IGNORE);                             \
    }                                                                                      \
    SF_MPI_ALIAS(Name);                                                                    \
    int PMPI_##IName(const void *buf, int count, MPI_Datatype datatype, int dest, int tag, \
                     MPI_Comm comm, MPI_Request *request)                                  \
    {                                                                                      \
        SF_MPI_ENTER();                                                                    \
        static const char fn[] = "MPI_" #IName;                                            \
        int err = chk_p2p(fn, buf, count, datatype, dest, tag, comm, false);               \
        if (err) {                                                                         \
            return err;                                                                    \
        }                                                                                  \
        return nonblocking(fn, SF_MPI_REQ_SEND, (void *)buf, count, datatype, dest, tag,   \
                           comm, mode, bsend, request);                                    \
    }                                                                                      \
    SF_MPI_ALIAS(IName)

/* MPI_Send/Isend, MPI_Ssend/Issend, MPI_Rsend/Irsend, MPI_Bsend/Ibsend */
SF_SEND_BINDING(Send, Isend, SF_RT_STANDARD, false);
SF_SEND_BINDING(Ssend, Issend, SF_RT_SYNC, false);
SF_SEND_BINDING(Rsend, Irsend, SF_RT_READY, false);
SF_SEND_BINDING(Bsend, Ibsend, SF_RT_STANDARD, true);

int PMPI_Recv(void *buf, int count, MPI_Datatype datatype, int source, int tag, MPI_Comm comm,
              MPI_Status *status)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Recv";
    int err = chk_p2p(fn, buf, count, datatype, source, tag, comm, true);
    if (err) {
        return err;
    }
    return blocking(fn, SF_MPI_REQ_RECV, buf, count, datatype, source, tag, comm,
                    SF_RT_STANDARD, false, status);
}
SF_MPI_ALIAS(Recv);

int PMPI_Irecv(void *buf, int count, MPI_Datatype datatype, int source, int tag, MPI_Comm comm,
               MPI_Request *request)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Irecv";
    int err = chk_p2p(fn, buf, count, datatype, source, tag, comm, true);
    if (err) {
        return err;
    }
    return nonblocking(fn, SF_MPI_REQ_RECV, buf, count, datatype, source, tag, comm,
                       SF_RT_STANDARD, false, request);
}
SF_MPI_ALIAS(Irecv);

/* Receive posted first so that two ranks exchanging with each other
 * cannot deadlock, whatever the protocol. */
static int sendrecv(const char *fn, const void *sendbuf, int sendcount, MPI_Datatype sendtype,
                    int dest, int sendtag, void *recvbuf, int recvcount, MPI_Datatype recvtype,
                    int source, int recvtag, MPI_Comm comm, MPI_Status *status)
{
    struct ompi_request_t rr, sr;
    memset(&rr, 0, sizeof(rr));
    memset(&sr, 0, sizeof(sr));
    sf_mpi__p2p_prepare(&rr, SF_MPI_REQ_RECV, recvbuf, recvcount, recvtype, source, recvtag,
                        comm, SF_RT_STANDARD, false);
    sf_mpi__p2p_prepare(&sr, SF_MPI_REQ_SEND, (void *)sendbuf, sendcount, sendtype, dest,
                        sendtag, comm, SF_RT_STANDARD, false);
    const struct ompi_request_t *failed = &rr;
    int cls = sf_mpi__p2p_start(&rr);
    if (!cls) {
        failed = &sr;
        cls = sf_mpi__p2p_start(&sr);
        if (!cls) {
            cls = sf_mpi__p2p_wait(&sr);
        }
        if (!cls) {
            cls = sf_mpi__p2p_finish(&sr, MPI_STATUS_IGNORE);
        }
        if (cls && rr.rt_started) {
            /* Do not leave the runtime holding our stack request. */
            sf_rt_cancel(sf_mpi__st.rt, &rr.rt);
            sf_mpi__p2p_wait(&rr);
        }
        if (!cls) {
            failed = &rr;
            cls = sf_mpi__p2p_wait(&rr);
            if (!cls) {
                cls = sf_mpi__p2p_finish(&rr, status);
            }
        }
    }
    free(rr.tmp);
    free(sr.tmp);
    sf_mpi__type_release(recvtype);
    sf_mpi__type_release(sendtype);
    return cls ? sf_mpi__raise_op(comm, cls, fn, failed) : MPI_SUCCESS;
}

int PMPI_Sendrecv(const void *sendbuf, int sendcount, MPI_Datatype sendtype, int dest,
                  int sendtag, void *recvbuf, int recvcount, MPI_Datatype recvtype, int source,
                  int recvtag, MPI_Comm comm, MPI_Status *status)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Sendrecv";
    int err = chk_p2p(fn, sendbuf, sendcount, sendtype, dest, sendtag, comm, false);
    if (!err) {
        err = chk_p2p(fn, recvbuf, recvcount, recvtype, source, recvtag, comm, true);
    }
    if (err) {
        return err;
    }
    return sendrecv(fn, sendbuf, sendcount, sendtype, dest, sendtag, recvbuf, recvcount,
                    recvtype, source, recvtag, comm, status);
}
SF_MPI_ALIAS(Sendrecv);

int PMPI_Sendrecv_replace(void *buf, int count, MPI_Datatype datatype, int dest, int sendtag,
                          int source, int recvtag, MPI_Comm comm, MPI_Status *status)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Sendrecv_replace";
    int err = chk_p2p(fn, buf, count, datatype, dest, sendtag, comm, false);
    if (!err) {
        err = chk_p2p(fn, buf, count, datatype, source, recvtag, comm, true);
    }
    if (err) {
        return err;
    }
    /* Send from a packed copy so the receive may overwrite buf. */
    size_t bytes = sf_mpi__type_bytes(datatype, count);
    void *copy = malloc(bytes ? bytes : 1);
    if (copy == NULL) {
        return sf_mpi__raise(comm, MPI_ERR_NO_MEM, fn, "out of memory for %zu bytes", bytes);
    }
    sf_mpi__pack(datatype, count, buf, copy);
    err = sendrecv(fn, copy, (int)bytes, MPI_BYTE, dest, sendtag, buf, count, datatype, source,
                   recvtag, comm, status);
    free(copy);
    return err;
}
SF_MPI_ALIAS(Sendrecv_replace);

/* ---- probes ---- */

static int chk_probe(const char *fn, int source, int tag, MPI_Comm comm)
{
    int err = sf_mpi__chk_init(fn);
    if (!err) {
        err = sf_mpi__chk_comm(fn, comm);
    }
    if (!err) {
        err = sf_mpi__chk_src(fn, comm, source);
    }
    if (!err) {
        err = sf_mpi__chk_tag(fn, comm, tag, true);
    }
    return err;
}

/* One probe attempt, progressing the runtime once when nothing matched. */
static int probe_once(int source, int tag, MPI_Comm comm, bool *flag, struct sf_rt_status *st,
                      struct sf_rt_msg **msg)
{
    int rc = sf_rt_iprobe(sf_mpi__st.rt, source, comm->ctx, tag, flag, st, msg);
    if (rc == 0 && !*flag) {
        rc = sf_mpi__progress();
        if (rc >= 0) {
            rc = sf_rt_iprobe(sf_mpi__st.rt, source, comm->ctx, tag, flag, st, msg);
        }
    }
    return rc < 0 ? rc : 0;
}

static int probe_wait(int source, int tag, MPI_Comm comm, struct sf_rt_status *st,
                      struct sf_rt_msg **msg)
{
    unsigned idle = 0;
    for (;;) {
        bool flag = false;
        int rc = sf_rt_iprobe(sf_mpi__st.rt, source, comm->ctx, tag, &flag, st, msg);
        if (rc < 0 || flag) {
            return rc;
        }
        rc = sf_mpi__progress();
        if (rc < 0) {
            return rc;
        }
        sf_mpi__idle(rc == 0 ? ++idle : (idle = 0));
    }
}

int PMPI_Iprobe(int source, int tag, MPI_Comm comm, int *flag, MPI_Status *status)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Iprobe";
    int err = chk_probe(fn, source, tag, comm);
    if (err) {
        return err;
    }
    if (flag == NULL) {
        return sf_mpi__raise(comm, MPI_ERR_ARG, fn, "flag is NULL");
    }
    if (source == MPI_PROC_NULL) {
        *flag = 1;
        sf_mpi__status_set(status, MPI_PROC_NULL, MPI_ANY_TAG, MPI_SUCCESS, false, 0);
        return MPI_SUCCESS;
    }
    bool f = false;
    struct sf_rt_status st;
    int rc = probe_once(source, tag, comm, &f, &st, NULL);
    if (rc < 0) {
        return sf_mpi__raise_rt(comm, rc, fn);
    }
    *flag = f;
    if (f) {
        sf_mpi__status_set(status, st.source, st.tag, MPI_SUCCESS, false, st.count);
    }
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Iprobe);

int PMPI_Probe(int source, int tag, MPI_Comm comm, MPI_Status *status)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Probe";
    int err = chk_probe(fn, source, tag, comm);
    if (err) {
        return err;
    }
    if (source == MPI_PROC_NULL) {
        sf_mpi__status_set(status, MPI_PROC_NULL, MPI_ANY_TAG, MPI_SUCCESS, false, 0);
        return MPI_SUCCESS;
    }
    struct sf_rt_status st;
    int rc = probe_wait(source, tag, comm, &st, NULL);
    if (rc < 0) {
        return sf_mpi__raise_rt(comm, rc, fn);
    }
    sf_mpi__status_set(status, st.source, st.tag, MPI_SUCCESS, false, st.count);
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Probe);

static int new_message(const char *fn, MPI_Comm comm, struct sf_rt_msg *m,
                       const struct sf_rt_status *st, MPI_Message *message, MPI_Status *status)
{
    struct ompi_message_t *msg = calloc(1, sizeof(*msg));
    if (msg == NULL) {
        /* The runtime handed us the message: it cannot be put back, so the
         * job cannot continue correctly. */
        return sf_mpi__raise(comm, MPI_ERR_NO_MEM, fn, "out of memory for a matched message");
    }
    msg->magic = SF_MPI_MAGIC_MSG;
    msg->msg = m;
    msg->comm = comm;
    msg->count = st->count;
    msg->source = st->source;
    msg->tag = st->tag;
    *message = msg;
    sf_mpi__status_set(status, st->source, st->tag, MPI_SUCCESS, false, st->count);
    return MPI_SUCCESS;
}

int PMPI_Improbe(int source, int tag, MPI_Comm comm, int *flag, MPI_Message *message,
                 MPI_Status *status)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Improbe";
    int err = chk_probe(fn, source, tag, comm);
    if (err) {
        return err;
    }
    if (flag == NULL || message == NULL) {
        return sf_mpi__raise(comm, MPI_ERR_ARG, fn, "flag or message is NULL");
    }
    if (source == MPI_PROC_NULL) {
        *flag = 1;
        *message = MPI_MESSAGE_NO_PROC;
        sf_mpi__status_set(status, MPI_PROC_NULL, MPI_ANY_TAG, MPI_SUCCESS, false, 0);
        return MPI_SUCCESS;
    }
    bool f = false;
    struct sf_rt_status st;
    struct sf_rt_msg *m = NULL;
    int rc = probe_once(source, tag, comm, &f, &st, &m);
    if (rc < 0) {
        return sf_mpi__raise_rt(comm, rc, fn);
    }
    *flag = f;
    if (!f) {
        return MPI_SUCCESS;
    }
    return new_message(fn, comm, m, &st, message, status);
}
SF_MPI_ALIAS(Improbe);

int PMPI_Mprobe(int source, int tag, MPI_Comm comm, MPI_Message *message, MPI_Status *status)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Mprobe";
    int err = chk_probe(fn, source, tag, comm);
    if (err) {
        return err;
    }
    if (message == NULL) {
        return sf_mpi__raise(comm, MPI_ERR_ARG, fn, "message is NULL");
    }
    if (source == MPI_PROC_NULL) {
        *message = MPI_MESSAGE_NO_PROC;
        sf_mpi__status_set(status, MPI_PROC_NULL, MPI_ANY_TAG, MPI_SUCCESS, false, 0);
        return MPI_SUCCESS;
    }
    struct sf_rt_status st;
    struct sf_rt_msg *m = NULL;
    int rc = probe_wait(source, tag, comm, &st, &m);
    if (rc < 0) {
        return sf_mpi__raise_rt(comm, rc, fn);
    }
    return new_message(fn, comm, m, &st, message, status);
}
SF_MPI_ALIAS(Mprobe);

/* Start receiving a matched message into r; consumes *message. */
static int mrecv_start(const char *fn, void *buf, int count, MPI_Datatype type,
                       MPI_Message *message, struct ompi_request_t *r, MPI_Comm *commp)
{
    int err = sf_mpi__chk_init(fn);
    if (err) {
        return err;
    }
    if (message == NULL || *message == NULL || (*message)->magic != SF_MPI_MAGIC_MSG ||
        *message == MPI_MESSAGE_NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_REQUEST, fn, "invalid message handle");
    }
    struct ompi_message_t *msg = *message;
    MPI_Comm comm = msg->no_proc ? SF_COMM_WORLD : msg->comm;
    *commp = comm;
    err = sf_mpi__chk_buf(fn, comm, buf, count, type);
    if (err) {
        return err;
    }
    if (msg->no_proc) {
        sf_mpi__p2p_prepare(r, SF_MPI_REQ_RECV, buf, count, type, MPI_PROC_NULL, MPI_ANY_TAG,
                            comm, SF_RT_STANDARD, false);
        *message = MPI_MESSAGE_NULL;
        return sf_mpi__p2p_start(r);
    }
    sf_mpi__p2p_prepare(r, SF_MPI_REQ_RECV, buf, count, type, msg->source, msg->tag, comm,
                        SF_RT_STANDARD, false);
    size_t bytes = sf_mpi__type_bytes(type, count);
    bool contig = sf_mpi__type_span(type, count);
    void *dst = (char *)buf + (contig ? type->true_lb : 0);
    r->seg = false;
    if (!contig && bytes > 0) {
        if (stage_setup(r, bytes) != 0) {
            return sf_mpi__raise(comm, MPI_ERR_NO_MEM, fn, "out of memory");
        }
        dst = r->tmp;
    }
    int rc = r->seg ? sf_rt_imrecv_layout(sf_mpi__st.rt, &r->rt,
                                          &((struct sf_mpi_seg *)r->tmp)->lay, bytes, msg->msg)
                    : sf_rt_imrecv(sf_mpi__st.rt, &r->rt, dst, bytes, msg->msg);
    msg->magic = SF_MPI_MAGIC_DEAD;
    free(msg);
    *message = MPI_MESSAGE_NULL;
    if (rc < 0) {
        return sf_mpi__raise_rt(comm, rc, fn);
    }
    r->rt_started = true;
    return 0;
}

int PMPI_Mrecv(void *buf, int count, MPI_Datatype datatype, MPI_Message *message,
               MPI_Status *status)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Mrecv";
    struct ompi_request_t r;
    memset(&r, 0, sizeof(r));
    MPI_Comm comm = SF_COMM_WORLD;
    int cls = mrecv_start(fn, buf, count, datatype, message, &r, &comm);
    if (cls) {
        free(r.tmp);
        if (r.type != NULL) {
            sf_mpi__type_release(r.type);
        }
        return cls;
    }
    cls = sf_mpi__p2p_wait(&r);
    if (!cls) {
        cls = sf_mpi__p2p_finish(&r, status);
    }
    free(r.tmp);
    sf_mpi__type_release(datatype);
    return cls ? sf_mpi__raise_op(comm, cls, fn, &r) : MPI_SUCCESS;
}
SF_MPI_ALIAS(Mrecv);

int PMPI_Imrecv(void *buf, int count, MPI_Datatype datatype, MPI_Message *message,
                MPI_Request *request)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Imrecv";
    if (request == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn, "request is NULL");
    }
    struct ompi_request_t *r = sf_mpi__req_new();
    if (r == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_NO_MEM, fn, "out of memory");
    }
    MPI_Comm comm = SF_COMM_WORLD;
    int cls = mrecv_start(fn, buf, count, datatype, message, r, &comm);
    if (cls) {
        sf_mpi__req_release(r);
        return cls;
    }
    r->active = true;
    *request = r;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Imrecv);

/* ---- persistent requests (started by MPI_Start/Startall in mpi_req.c) ---- */

static int persistent(const char *fn, enum sf_mpi_req_kind kind, const void *buf, int count,
                      MPI_Datatype type, int peer, int tag, MPI_Comm comm, enum sf_rt_mode mode,
                      bool bsend, MPI_Request *request)
{
    int err = chk_p2p(fn, buf, count, type, peer, tag, comm, kind == SF_MPI_REQ_RECV);
    if (err) {
        return err;
    }
    if (request == NULL) {
        return sf_mpi__raise(comm, MPI_ERR_ARG, fn, "request is NULL");
    }
    struct ompi_request_t *r = sf_mpi__req_new();
    if (r == NULL) {
        return sf_mpi__raise(comm, MPI_ERR_NO_MEM, fn, "out of memory");
    }
    sf_mpi__p2p_prepare(r, kind, (void *)buf, count, type, peer, tag, comm, mode, bsend);
    r->persistent = true;
    *request = r;
    return MPI_SUCCESS;
}

#define SF_SEND_INIT(Name, mode, bsend)                                                    \
    int PMPI_##Name(const void *buf, int count, MPI_Datatype datatype, int dest, int tag,  \
                    MPI_Comm comm, MPI_Request *request)                                   \
    {                                                                                      \
        SF_MPI_ENTER();                                                                    \
        return persistent("MPI_" #Name, SF_MPI_REQ_SEND, buf, count, datatype, dest, tag,  \
                          comm, mode, bsend, request);                                     \
    }                                                                                      \
    SF_MPI_ALIAS(Name)
SF_SEND_INIT(Send_init, SF_RT_STANDARD, false);
SF_SEND_INIT(Ssend_init, SF_RT_SYNC, false);
SF_SEND_INIT(Rsend_init, SF_RT_READY, false);
SF_SEND_INIT(Bsend_init, SF_RT_STANDARD, true);

int PMPI_Recv_init(void *buf, int count, MPI_Datatype datatype, int source, int tag,
                   MPI_Comm comm, MPI_Request *request)
{
    SF_MPI_ENTER();
    return persistent("MPI_Recv_init", SF_MPI_REQ_RECV, buf, count, datatype, source, tag, comm,
                      SF_RT_STANDARD, false, request);
}
SF_MPI_ALIAS(Recv_init);
