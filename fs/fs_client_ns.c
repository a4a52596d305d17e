/* fs client, the namespace: lookup/stat, commit, mkdir, rmdir, unlink,
 * rename (FS_NS / FS_NS_ANS), readdir (FS_READDIR / FS_DIRENTS) and the
 * admin verbs (FS_ADMIN). Blocking, one request at a time; the daemon
 * decides (fs/sf_fs_meta.h). One thread per client. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs/fs_client_int.h"
#include "fs/sf_fs_meta.h"
#include "runtime/base/sf_err.h"

static const char *verb_name(int verb)
{
    static const char *const names[] = {"?",     "lookup", "create", "commit",
                                        "mkdir", "rmdir",  "unlink", "rename"};
    return verb >= 1 && verb <= 7 ? names[verb] : "?";
}

struct ns_ans {
    uint64_t version;
    struct sf_fs_inode inode;
    bool has_inode;
};

/* One FS_NS round trip. On failure the message is the daemon's. */
static int ns_call(struct sf_fs_client *c, int verb, const char *path, const char *path2,
                   uint64_t expect, uint32_t mode, const struct sf_fs_inode *ino, uint32_t flags,
                   struct ns_ans *ans)
{
    int rc = sf_fs__path_ok(c, path);
    if (rc == 0 && path2 != NULL) {
        rc = sf_fs__path_ok(c, path2);
    }
    if (rc != 0) {
        return rc;
    }
    uint8_t ib[SF_DHT_VALUE_MAX];
    size_t il = 0;
    if (ino != NULL) {
        rc = sf_fs_inode_encode(ino, ib, sizeof(ib), &il);
        if (rc != 0) {
            return sf_fs__err(c, rc, "%s: cannot encode the inode: %s", path, sf_strerror(rc));
        }
    }
    struct sf_wire_enc e;
    uint64_t req = sf_fs__req_begin(c, &e, SF_OP_FS_NS);
    sf_wire_put_u8(&e, (uint8_t)verb);
    sf_wire_put_str(&e, path);
    sf_wire_put_str(&e, path2 != NULL ? path2 : "");
    sf_wire_put_u64(&e, expect);
    sf_wire_put_u32(&e, mode);
    sf_wire_put_bytes(&e, ib, il);
    sf_wire_put_u32(&e, flags);
    struct fsc_req *r;
    rc = sf_fs__req_call(c, &e, req, SF_OP_FS_NS_ANS, 5, path, &r);
    if (rc != 0) {
        return rc;
    }
    const struct sf_wire_msg *m = &r->msg;
    if (ans != NULL) {
        memset(ans, 0, sizeof(*ans));
        ans->version = m->f[2].u;
        if (m->f[3].len > 0) {
            rc = sf_fs_inode_decode(m->f[3].p, m->f[3].len, &ans->inode);
            if (rc != 0) {
                sf_fs__err(c, rc, "%s: the daemon's %s answer holds a bad inode", path,
                           verb_name(verb));
            } else {
                ans->has_inode = true;
            }
        }
    }
    sf_fs__req_drop(c, req);
    return rc;
}

void sf_fs__stat_from_inode(const struct sf_fs_inode *ino, struct sf_fs_stat *st)
{
    memset(st, 0, sizeof(*st));
    st->mode = ino->mode;
    st->uid = ino->uid;
    st->gid = ino->gid;
    st->size = ino->size;
    st->mtime_ns = ino->mtime_ns;
    st->ctime_ns = ino->ctime_ns;
    st->version = ino->version;
    st->replicas = ino->replicas;
    st->block_size = ino->block_size;
    uint8_t depth;
    uint16_t nr;
    if (S_ISREG(ino->mode) &&
        sf_fs_inode_shape(ino->size, ino->block_size, &st->blocks, &depth, &nr) != 0) {
        st->blocks = 0;
    }
}

int sf_fs__lookup(struct sf_fs_client *c, const char *path, struct sf_fs_inode *ino)
{
    struct ns_ans a;
    int rc = ns_call(c, SF_FS_NS_LOOKUP, path, NULL, 0, 0, NULL, 0, &a);
    if (rc != 0) {
        return rc;
    }
    if (!a.has_inode) {
        return sf_fs__err(c, SF_ERR_PROTO, "%s: the daemon's lookup answer has no inode", path);
    }
    *ino = a.inode;
    ino->version = a.version > ino->version ? a.version : ino->version;
    return 0;
}

int sf_fs__commit(struct sf_fs_client *c, const char *path, uint64_t expect,
                  const struct sf_fs_inode *ino, struct sf_fs_stat *st)
{
    struct ns_ans a;
    int rc = ns_call(c, SF_FS_NS_COMMIT, path, NULL, expect, 0, ino, 0, &a);
    if (rc != 0) {
        return rc;
    }
    if (st != NULL) {
        struct sf_fs_inode done = a.has_inode ? a.inode : *ino;
        done.version = a.version;
        sf_fs__stat_from_inode(&done, st);
    }
    return 0;
}

int sf_fs_stat(struct sf_fs_client *c, const char *path, struct sf_fs_stat *st)
{
    struct sf_fs_inode ino;
    int rc = sf_fs__lookup(c, path, &ino);
    if (rc == 0) {
        sf_fs__stat_from_inode(&ino, st);
    }
    return rc;
}

int sf_fs_mkdir(struct sf_fs_client *c, const char *path, uint32_t mode)
{
    return ns_call(c, SF_FS_NS_MKDIR, path, NULL, 0, mode & 07777, NULL, 0, NULL);
}

int sf_fs_unlink(struct sf_fs_client *c, const char *path)
{
    return ns_call(c, SF_FS_NS_UNLINK, path, NULL, 0, 0, NULL, 0, NULL);
}

int sf_fs_rmdir(struct sf_fs_client *c, const char *path)
{
    return ns_call(c, SF_FS_NS_RMDIR, path, NULL, 0, 0, NULL, 0, NULL);
}

int sf_fs_rename(struct sf_fs_client *c, const char *from, const char *to, bool noreplace)
{
    return ns_call(c, SF_FS_NS_RENAME, from, to, 0, 0, NULL, noreplace ? SF_FS_NSF_NOREPLACE : 0,
                   NULL);
}

int sf_fs_create(struct sf_fs_client *c, const char *path, uint32_t mode, struct sf_fs_stat *st)
{
    struct ns_ans a;
    int rc = ns_call(c, SF_FS_NS_CREATE, path, NULL, 0, S_IFREG | (mode & 07777), NULL, 0, &a);
    if (rc == 0 && st != NULL) {
        if (a.has_inode) {
            a.inode.version = a.version;
            sf_fs__stat_from_inode(&a.inode, st);
        } else {
            /* The daemon did not echo the inode: what it was asked for. */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            memset(st, 0, sizeof(*st));
            st->mode = S_IFREG | (mode & 07777);
            st->uid = (uint32_t)getuid();
            st->gid = (uint32_t)getgid();
            st->mtime_ns = st->ctime_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
            st->version = a.version;
        }
    }
    return rc;
}

int sf_fs_readdir(struct sf_fs_client *c, const char *path, sf_fs_readdir_fn fn, void *arg)
{
    int rc = sf_fs__path_ok(c, path);
    if (rc != 0) {
        return rc;
    }
    char after[SF_FS_NAME_MAX + 1] = "";
    for (;;) {
        struct sf_wire_enc e;
        uint64_t req = sf_fs__req_begin(c, &e, SF_OP_FS_READDIR);
        sf_wire_put_str(&e, path);
        sf_wire_put_str(&e, after);
        sf_wire_put_u32(&e, 0);
        struct fsc_req *r;
        rc = sf_fs__req_call(c, &e, req, SF_OP_FS_DIRENTS, 4, path, &r);
        if (rc != 0) {
            return rc;
        }
        /* Copy out what the loop needs: fn may issue requests of its own
         * (e.g. stat each entry), which can move the pend table. */
        bool done = r->msg.f[3].u != 0;
        size_t len = r->msg.f[2].len;
        uint8_t *list = r->mem; /* take ownership of the copy */
        size_t base = (size_t)(r->msg.f[2].p - r->mem);
        r->mem = NULL;
        sf_fs__req_drop(c, req);
        size_t off = 0;
        size_t n = 0;
        struct sf_fs_meta_dirent de;
        int more;
        while ((more = sf_fs_meta_dirent_next(list + base, len, &off, &de)) == 1) {
            n++;
            memcpy(after, de.name, de.name_len + 1);
            struct sf_fs_stat st;
            sf_fs__stat_from_inode(&de.inode, &st);
            rc = fn(arg, de.name, &st);
            if (rc != 0) {
                free(list);
                return rc;
            }
        }
        free(list);
        if (more < 0) {
            return sf_fs__err(c, more, "%s: the daemon sent a corrupt directory listing", path);
        }
        if (done) {
            return 0;
        }
        if (n == 0) {
            return sf_fs__err(c, SF_ERR_PROTO, "%s: the daemon sent an empty, unfinished listing",
                              path);
        }
    }
}

int sf_fs_admin(struct sf_fs_client *c, int verb, char **text)
{
    *text = NULL;
    struct sf_wire_enc e;
    uint64_t req = sf_fs__req_begin(c, &e, SF_OP_FS_ADMIN);
    sf_wire_put_u8(&e, (uint8_t)verb);
    sf_wire_put_i32(&e, 0);
    sf_wire_put_str(&e, "");
    struct fsc_req *r;
    int rc = sf_fs__req_call(c, &e, req, SF_OP_FS_ADMIN, 3, "admin", &r);
    if (rc != 0) {
        return rc;
    }
    *text = sf_wire_strdup(&r->msg.f[3]);
    if (*text == NULL) {
        rc = sf_fs__err(c, -ENOMEM, "out of memory");
    }
    sf_fs__req_drop(c, req);
    return rc;
}

int sf_fs_path_norm(const char *in, char *out, size_t cap)
{
    size_t o = 0;
    if (cap < 2) {
        return -ENAMETOOLONG;
    }
    out[o++] = '/';
    for (const char *p = in; *p != '\0'; p++) {
        if (*p == '/' && out[o - 1] == '/') {
            continue;
        }
        if (o + 1 >= cap) {
            return -ENAMETOOLONG;
        }
        out[o++] = *p;
    }
    if (o > 1 && out[o - 1] == '/') {
        o--;
    }
    out[o] = '\0';
    return 0;
}

int sf_fs_setattr(struct sf_fs_client *c, const char *path, const struct sf_fs_setattr *a)
{
    for (int tries = 0;; tries++) {
        struct sf_fs_inode ino;
        int rc = sf_fs__lookup(c, path, &ino);
        if (rc != 0 || S_ISDIR(ino.mode)) {
            return rc;
        }
        if (a->set_mode) {
            ino.mode = (ino.mode & S_IFMT) | (a->mode & 07777);
        }
        if (a->set_mtime) {
            ino.mtime_ns = a->mtime_ns;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ino.ctime_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
        rc = sf_fs__commit(c, path, ino.version, &ino, NULL);
        if (rc != -ESTALE || tries >= 8) {
            return rc;
        }
    }
}
