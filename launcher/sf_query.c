/* Asking a local sfd what it knows (STATUS_REQ / STATUS over its Unix
 * socket) and printing the answer as tables. Rows are text lines of
 * whitespace-separated "key=value" tokens, optionally led by a bare kind
 * word ("node name=n1 slots=2"); a row's kind is that word, or else the
 * key of its first token. Single-token rows are plain properties. Does not
 * interpret the values beyond counting alive nodes. Single-threaded. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "launcher/sf_int.h"
#include "runtime/base/sf_err.h"
#include "runtime/base/sf_wire.h"

int sf_query_what(const char *topic)
{
    if (strcmp(topic, "status") == 0) {
        return SF_QUERY_STATUS;
    }
    if (strcmp(topic, "nodes") == 0) {
        return SF_QUERY_NODES;
    }
    if (strcmp(topic, "jobs") == 0) {
        return SF_QUERY_JOBS;
    }
    return -EINVAL;
}

static bool next_tok(const char **p, const char **tok, size_t *len);
static bool is_kind(const char *row, const char *kind);

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void sf_rows_free(struct sf_rows *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->v[i]);
    }
    free(r->v);
    r->v = NULL;
    r->n = 0;
}

int sf_rows_add(struct sf_rows *r, const char *s, size_t len)
{
    char **nv = realloc(r->v, (r->n + 1) * sizeof(char *));
    if (nv == NULL) {
        return -ENOMEM;
    }
    r->v = nv;
    char *c = strndup(s, len);
    if (c == NULL) {
        return -ENOMEM;
    }
    r->v[r->n++] = c;
    return 0;
}

static int take_status(const struct sf_wire_msg *m, struct sf_rows *out)
{
    uint32_t pos = 0;
    const uint8_t *s;
    uint32_t len;
    while (sf_wire_strv_next(&m->f[0], &pos, &s, &len)) {
        if (memchr(s, '\0', len) != NULL) {
            continue; /* not text: drop the row, keep the rest */
        }
        int rc = sf_rows_add(out, (const char *)s, len);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

/* sfd's STATUS lines (launcher/sfd/sfd_peer.c) are properties of the
 * node itself ("node=NAME", "id=..", "port=..", "slots=..", "ranks=..")
 * plus "peer=NAME ID HOST:PORT k=v ..." and "job=ID k=v ... ROLE" rows
 * with positional fields. Rewrite them into this file's row form: a
 * "node ... state=self" row for the daemon itself, "node name= id= addr=
 * ..." per peer, "job id= ... role=" per job. Rows already in that form
 * pass unchanged. */
static char *norm_row(const char *row)
{
    static const struct {
        const char *kind, *as, *pos[3];
    } kinds[] = {
        {"peer", "node", {"name", "id", "addr"}},
        {"job", "job", {"id", "role", "role2"}},
    };
    const char *p = row, *t;
    size_t l;
    if (!next_tok(&p, &t, &l)) {
        return NULL;
    }
    const char *eq = memchr(t, '=', l);
    if (eq == NULL) {
        return NULL; /* already "kind k=v ..." */
    }
    size_t kl = (size_t)(eq - t);
    size_t k;
    for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        if (strlen(kinds[k].kind) == kl && memcmp(t, kinds[k].kind, kl) == 0) {
            break;
        }
    }
    if (k == sizeof(kinds) / sizeof(kinds[0])) {
        return NULL;
    }
    size_t cap = strlen(row) * 2 + 64;
    char *out = malloc(cap);
    if (out == NULL) {
        return NULL;
    }
    size_t off = (size_t)snprintf(out, cap, "%s %s=%.*s", kinds[k].as, kinds[k].pos[0],
                                  (int)(l - kl - 1), eq + 1);
    int npos = 1;
    while (next_tok(&p, &t, &l)) {
        if (memchr(t, '=', l) != NULL || npos >= 3) {
            off += (size_t)snprintf(out + off, cap - off, " %.*s", (int)l, t);
        } else {
            off +=
                (size_t)snprintf(out + off, cap - off, " %s=%.*s", kinds[k].pos[npos++], (int)l, t);
        }
    }
    return out;
}

static void normalize(struct sf_rows *r)
{
    char v[128], self[512];
    size_t off = 0;
    bool have_self = false;
    for (size_t i = 0; i < r->n; i++) {
        char *nr = norm_row(r->v[i]);
        if (nr != NULL) {
            free(r->v[i]);
            r->v[i] = nr;
        }
    }
    /* The daemon's own properties become its node row. */
    static const char *const keys[] = {"node", "id", "port", "slots", "ranks", "version"};
    off = (size_t)snprintf(self, sizeof(self), "node");
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
        for (size_t i = 0; i < r->n; i++) {
            if (!is_kind(r->v[i], "")) {
                continue;
            }
            const char *val = sf_row_get(r->v[i], keys[k], v, sizeof(v));
            if (val[0] != '\0') {
                off += (size_t)snprintf(self + off, sizeof(self) - off, " %s=%s",
                                        k == 0 ? "name" : keys[k], val);
                have_self = have_self || k == 0;
                break;
            }
        }
    }
    if (have_self && off < sizeof(self)) {
        snprintf(self + off, sizeof(self) - off, " state=self");
        char **nv = realloc(r->v, (r->n + 1) * sizeof(char *));
        char *c = strdup(self);
        if (nv != NULL && c != NULL) {
            r->v = nv;
            /* First among the node rows. */
            memmove(r->v + 1, r->v, r->n * sizeof(char *));
            r->v[0] = c;
            r->n++;
        } else {
            if (nv != NULL) {
                r->v = nv;
            }
            free(c);
        }
    }
}

int sf_query(int fd, const char *topic, double timeout, struct sf_rows *out, char *err,
             size_t errlen)
{
    int what = sf_query_what(topic);
    if (what < 0) {
        snprintf(err, errlen, "unknown query '%s'", topic);
        return -EINVAL;
    }
    struct sf_wire_enc e;
    sf_wire_enc_begin(&e, SF_OP_STATUS_REQ, 1);
    sf_wire_put_u32(&e, (uint32_t)what);
    int rc = sf_wire_enc_end(&e);
    if (rc == 0) {
        rc = sf_wire_write_all(fd, e.buf, e.len);
    }
    sf_wire_enc_free(&e);
    if (rc != 0) {
        snprintf(err, errlen, "cannot send to the daemon: %s", sf_strerror(rc));
        return rc;
    }
    struct sf_wire_rx rx;
    sf_wire_rx_init(&rx);
    double deadline = now_s() + timeout;
    rc = -ETIMEDOUT;
    snprintf(err, errlen, "the daemon did not answer within %.1f s", timeout);
    for (;;) {
        struct sf_wire_msg m;
        int got = sf_wire_rx_next(&rx, &m);
        if (got < 0) {
            rc = got;
            snprintf(err, errlen, "corrupt answer from the daemon: %s", sf_strerror(got));
            break;
        }
        if (got == 1) {
            if (m.op == SF_OP_STATUS) {
                rc = take_status(&m, out);
                if (rc != 0) {
                    snprintf(err, errlen, "out of memory");
                } else {
                    normalize(out);
                }
                break;
            }
            if (m.op == SF_OP_ERROR) {
                rc = (int)m.f[0].i < 0 ? (int)m.f[0].i : SF_ERR_UNSUPPORTED;
                snprintf(err, errlen, "the daemon refused: %.*s", (int)m.f[1].len,
                         (const char *)m.f[1].p);
                break;
            }
            continue; /* anything else (GOODBYE, notices) is not ours */
        }
        double left = deadline - now_s();
        if (left <= 0) {
            break;
        }
        struct pollfd p = {fd, POLLIN, 0};
        int pr = poll(&p, 1, (int)(left * 1000) + 1);
        if (pr < 0 && errno == EINTR) {
            continue;
        }
        if (pr <= 0) {
            continue; /* the deadline check ends it */
        }
        long n = sf_wire_rx_fill(&rx, fd);
        if (n == 0 || (n < 0 && n != -EAGAIN && n != -EINTR)) {
            rc = n == 0 ? SF_ERR_PEER_GONE : (int)n;
            snprintf(err, errlen,
                     "the daemon closed the connection without answering (does it know "
                     "STATUS_REQ %d?)",
                     what);
            if (n == 0) {
                rc = SF_ERR_UNSUPPORTED;
            }
            break;
        }
    }
    sf_wire_rx_free(&rx);
    return rc;
}

/* ---- rows --------------------------------------------------------------- */

/* Next whitespace-separated token of *p; false at the end. */
static bool next_tok(const char **p, const char **tok, size_t *len)
{
    const char *s = *p;
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    if (*s == '\0') {
        return false;
    }
    const char *t = s;
    while (*s != '\0' && *s != ' ' && *s != '\t') {
        s++;
    }
    *tok = t;
    *len = (size_t)(s - t);
    *p = s;
    return true;
}

/* Kind of a row into buf; sets *skip_first when the first token is the
 * bare kind word (not a column). */
static void row_kind(const char *row, char *buf, size_t len, bool *bare, int *ntok)
{
    const char *p = row, *t;
    size_t l;
    int n = 0;
    buf[0] = '\0';
    *bare = false;
    while (next_tok(&p, &t, &l)) {
        if (n == 0) {
            const char *eq = memchr(t, '=', l);
            *bare = eq == NULL;
            size_t kl = eq != NULL ? (size_t)(eq - t) : l;
            snprintf(buf, len, "%.*s", (int)kl, t);
        }
        n++;
    }
    *ntok = n;
}

const char *sf_row_get(const char *row, const char *key, char *buf, size_t len)
{
    const char *p = row, *t;
    size_t l, kl = strlen(key);
    buf[0] = '\0';
    while (next_tok(&p, &t, &l)) {
        if (l > kl && t[kl] == '=' && memcmp(t, key, kl) == 0) {
            snprintf(buf, len, "%.*s", (int)(l - kl - 1), t + kl + 1);
            break;
        }
    }
    return buf;
}

static bool is_kind(const char *row, const char *kind)
{
    char k[64];
    bool bare;
    int ntok;
    row_kind(row, k, sizeof(k), &bare, &ntok);
    if (kind[0] == '\0') {
        return ntok == 1 && !bare; /* plain properties */
    }
    return ntok > (bare ? 0 : 1) && strcmp(k, kind) == 0;
}

int sf_rows_count_alive(const struct sf_rows *r)
{
    int n = 0;
    char v[64];
    /* sfd lists every peer it has heard of, and counts the connected ones
     * in "peers=N": with its own row that is the live membership. */
    bool self = false;
    int peers = -1;
    for (size_t i = 0; i < r->n; i++) {
        if (is_kind(r->v[i], "node") &&
            strcmp(sf_row_get(r->v[i], "state", v, sizeof(v)), "self") == 0) {
            self = true;
        } else if (is_kind(r->v[i], "") && sf_row_get(r->v[i], "peers", v, sizeof(v))[0]) {
            peers = atoi(v);
        }
    }
    if (self && peers >= 0) {
        return peers + 1;
    }
    for (size_t i = 0; i < r->n; i++) {
        if (!is_kind(r->v[i], "node")) {
            continue;
        }
        const char *st = sf_row_get(r->v[i], "state", v, sizeof(v));
        if (st[0] == '\0' || strcmp(st, "alive") == 0 || strcmp(st, "up") == 0 ||
            strcmp(st, "self") == 0) {
            n++;
        }
    }
    return n;
}

#define MAX_COLS 32

size_t sf_rows_table(FILE *out, const struct sf_rows *r, const char *kind)
{
    if (kind[0] == '\0') {
        size_t n = 0;
        for (size_t i = 0; i < r->n; i++) {
            if (is_kind(r->v[i], "")) {
                const char *eq = strchr(r->v[i], '=');
                const char *s = r->v[i];
                while (*s == ' ' || *s == '\t') {
                    s++;
                }
                fprintf(out, "%-24.*s %s\n", (int)(eq - s), s, eq + 1);
                n++;
            }
        }
        return n;
    }
    const char *cols[MAX_COLS];
    size_t clen[MAX_COLS], width[MAX_COLS];
    size_t nc = 0, nrows = 0;
    /* Columns in order of first appearance, widths from every row. */
    for (size_t i = 0; i < r->n; i++) {
        if (!is_kind(r->v[i], kind)) {
            continue;
        }
        nrows++;
        const char *p = r->v[i], *t;
        size_t l;
        while (next_tok(&p, &t, &l)) {
            const char *eq = memchr(t, '=', l);
            if (eq == NULL) {
                continue;
            }
            size_t kl = (size_t)(eq - t);
            size_t c;
            for (c = 0; c < nc; c++) {
                if (clen[c] == kl && memcmp(cols[c], t, kl) == 0) {
                    break;
                }
            }
            if (c == nc) {
                if (nc == MAX_COLS) {
                    continue;
                }
                cols[nc] = t;
                clen[nc] = kl;
                width[nc] = kl;
                nc++;
            }
            if (l - kl - 1 > width[c]) {
                width[c] = l - kl - 1;
            }
        }
    }
    if (nrows == 0) {
        return 0;
    }
    /* Well-known columns first, in this order (stable for the rest), so a
     * table reads the same whoever wrote the rows. */
    static const char *const first[] = {"name", "id", "addr", "slots", "load", "ranks", "state"};
    size_t placed = nc > 0 && clen[0] == strlen(kind) && memcmp(cols[0], kind, clen[0]) == 0;
    for (size_t f = 0; f < sizeof(first) / sizeof(first[0]); f++) {
        for (size_t c = placed; c < nc; c++) {
            if (clen[c] == strlen(first[f]) && memcmp(cols[c], first[f], clen[c]) == 0) {
                const char *tc = cols[c];
                size_t tl = clen[c], tw = width[c];
                memmove(cols + placed + 1, cols + placed, (c - placed) * sizeof(cols[0]));
                memmove(clen + placed + 1, clen + placed, (c - placed) * sizeof(clen[0]));
                memmove(width + placed + 1, width + placed, (c - placed) * sizeof(width[0]));
                cols[placed] = tc;
                clen[placed] = tl;
                width[placed] = tw;
                placed++;
                break;
            }
        }
    }
    for (size_t c = 0; c < nc; c++) {
        for (size_t k = 0; k < clen[c]; k++) {
            char ch = cols[c][k];
            fputc(ch >= 'a' && ch <= 'z' ? ch - 'a' + 'A' : ch, out);
        }
        if (c + 1 < nc) {
            fprintf(out, "%*s", (int)(width[c] - clen[c] + 2), "");
        }
    }
    fputc('\n', out);
    for (size_t i = 0; i < r->n; i++) {
        if (!is_kind(r->v[i], kind)) {
            continue;
        }
        for (size_t c = 0; c < nc; c++) {
            char key[64], val[256];
            snprintf(key, sizeof(key), "%.*s", (int)clen[c], cols[c]);
            sf_row_get(r->v[i], key, val, sizeof(val));
            const char *shown = val[0] ? val : "-";
            if (c + 1 < nc) {
                fprintf(out, "%-*s  ", (int)width[c], shown);
            } else {
                fprintf(out, "%s", shown);
            }
        }
        fputc('\n', out);
    }
    return nrows;
}

/* Kinds present, in order of first appearance (for printing every table). */
size_t sf_rows_kinds(const struct sf_rows *r, char kinds[][32], size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++) {
        char k[32];
        bool bare;
        int ntok;
        row_kind(r->v[i], k, sizeof(k), &bare, &ntok);
        if (ntok == 0 || (ntok == 1 && !bare)) {
            continue;
        }
        size_t j;
        for (j = 0; j < n; j++) {
            if (strcmp(kinds[j], k) == 0) {
                break;
            }
        }
        if (j == n && n < max) {
            snprintf(kinds[n++], 32, "%s", k);
        }
    }
    return n;
}
