/*
 * fs/mount.c - `auditfs mount`: a thin FUSE low-level adapter over auditfs/view.h.
 *
 * Inode numbers are the view's node ids. With several ledgers, inode 1 is a synthetic root
 * listing them and ledger i's node x is ((i + 1) << 44) | x (node ids stay below 2^44).
 * The view is immutable per checkpoint, so without --follow every reply carries a day-long
 * timeout and files keep their page cache (keep_cache): pages only ever come from verified
 * replies. With --follow, timeouts are one second and each verified step invalidates the
 * inodes that grew. Verification failures are EIO to the reader and one log line per damaged
 * frame (stderr with -f, syslog otherwise). Everything that would write is EROFS.
 */
#include <limits.h>
#include "mount.h"

#include "auditfs/notices.h"
#include "auditfs/view.h"
#include "auditfs/witness.h"

#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define SHIFT 44
#define LOCAL_MASK ((((uint64_t)1) << SHIFT) - 1)
#define LONG_TIMEOUT 86400.0
#define FOLLOW_TIMEOUT 1.0

typedef struct mnt {
    auditfs_view **views;
    const afs_mount_ledger *ledgers;
    size_t n;
    int multi;
    int foreground;
    int follow;
    unsigned follow_ms;
    double timeout;
    uid_t uid;
    gid_t gid;
    struct fuse_session *se;
    pthread_mutex_t stop_lock;
    pthread_cond_t stop_cond;
    int stop;
    const afs_mount_config *cfg;
} mnt;

static void
logmsg(const mnt *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
logmsg(const mnt *m, const char *fmt, ...)
{
    char raw[2048], buf[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    /* reasons quote data: no CR or ESC reaches the log; line breaks only from the library's
     * own multi-line reports (its error messages never carry a break from data) */
    auditfs_escape_controls(buf, sizeof buf, raw, 1);
    if (m->foreground) {
        fprintf(stderr, "auditfs: %s\n", buf);
        fflush(stderr);
    } else {
        syslog(LOG_ERR, "%s", buf);
    }
}

/* ---- inode mapping ---- */

static int
decode(const mnt *m, fuse_ino_t ino, auditfs_view **v, uint64_t *id, size_t *vi)
{
    if (!m->multi) {
        *v = m->views[0];
        *id = ino;
        *vi = 0;
        return 0;
    }
    uint64_t hi = (uint64_t)ino >> SHIFT;
    if (hi == 0 || hi > m->n)
        return -1;
    *vi = (size_t)(hi - 1);
    *v = m->views[*vi];
    *id = (uint64_t)ino & LOCAL_MASK;
    return 0;
}

static fuse_ino_t
encode(const mnt *m, size_t vi, uint64_t id)
{
    return m->multi ? (fuse_ino_t)((((uint64_t)vi + 1) << SHIFT) | id) : (fuse_ino_t)id;
}

static void
to_stat(const mnt *m, struct stat *s, fuse_ino_t ino, const auditfs_view_stat *vs)
{
    memset(s, 0, sizeof *s);
    s->st_ino = ino;
    s->st_mode = vs->type == AUDITFS_NODE_DIR    ? S_IFDIR | 0555
                 : vs->type == AUDITFS_NODE_LINK ? S_IFLNK | 0777
                                                 : S_IFREG | 0444;
    s->st_nlink = vs->nlink;
    s->st_uid = m->uid;
    s->st_gid = m->gid;
    s->st_size = (off_t)vs->size;
    s->st_blksize = 4096;
    s->st_blocks = (blkcnt_t)((vs->size + 511) / 512);
    int64_t us = vs->mtime_us > 0 ? vs->mtime_us : 0;
    s->st_mtim.tv_sec = (time_t)(us / 1000000);
    s->st_mtim.tv_nsec = (long)(us % 1000000) * 1000;
    s->st_ctim = s->st_mtim;
    s->st_atim = s->st_mtim;
}

static void
root_stat(const mnt *m, struct stat *s)
{
    auditfs_view_stat vs = {1, AUDITFS_NODE_DIR, 0, 0, (uint32_t)(2 + m->n), 0};
    for (size_t i = 0; i < m->n; i++) {
        auditfs_view_stat r;
        if (auditfs_view_getattr(&r, m->views[i], AUDITFS_VIEW_ROOT) == 0 &&
            r.mtime_us > vs.mtime_us)
            vs.mtime_us = r.mtime_us;
    }
    to_stat(m, s, 1, &vs);
}

static int
errno_of(int err)
{
    switch (err) {
    case AUDITFS_ENOTFOUND: return ENOENT;
    case AUDITFS_EINVAL: return EINVAL;
    case AUDITFS_ENOMEM: return ENOMEM;
    case AUDITFS_ETOOBIG: return EFBIG;
    default: return EIO;
    }
}

/* ---- operations ---- */

static void
op_init(void *userdata, struct fuse_conn_info *conn)
{
    (void)userdata;
    /* 1 MiB requests (libfuse derives max_pages from max_write) */
    conn->max_write = 1u << 20;
    conn->want &= ~(unsigned)FUSE_CAP_SPLICE_READ;
    if (conn->capable & FUSE_CAP_CACHE_SYMLINKS)
        conn->want |= FUSE_CAP_CACHE_SYMLINKS;
}

/* Query files can be forgotten (the view keeps a bounded table of them): cache them briefly. */
static double
timeout_of(const mnt *m, const auditfs_view_stat *vs)
{
    return (vs->flags & AUDITFS_VIEW_VOLATILE) && m->timeout > FOLLOW_TIMEOUT ? FOLLOW_TIMEOUT
                                                                              : m->timeout;
}

static void
reply_entry(fuse_req_t req, const mnt *m, fuse_ino_t ino, const auditfs_view_stat *vs)
{
    struct fuse_entry_param e;
    memset(&e, 0, sizeof e);
    e.ino = ino;
    e.attr_timeout = timeout_of(m, vs);
    e.entry_timeout = timeout_of(m, vs);
    to_stat(m, &e.attr, ino, vs);
    fuse_reply_entry(req, &e);
}

static void
op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    mnt *m = fuse_req_userdata(req);
    auditfs_view *v;
    uint64_t id;
    size_t vi;
    auditfs_view_stat vs;
    int err;
    if (m->multi && parent == 1) {
        for (size_t i = 0; i < m->n; i++) {
            if (strcmp(m->ledgers[i].name, name) == 0 &&
                auditfs_view_getattr(&vs, m->views[i], AUDITFS_VIEW_ROOT) == 0) {
                reply_entry(req, m, encode(m, i, AUDITFS_VIEW_ROOT), &vs);
                return;
            }
        }
        err = AUDITFS_ENOTFOUND;
    } else if (decode(m, parent, &v, &id, &vi) != 0) {
        err = AUDITFS_ENOTFOUND;
    } else if ((err = auditfs_view_lookup(&vs, v, id, name)) == 0) {
        reply_entry(req, m, encode(m, vi, vs.id), &vs);
        return;
    } else if (err == AUDITFS_EFORMAT || err == AUDITFS_EVERIFY || err == AUDITFS_ETOOBIG) {
        /* query/<terms>.jsonl: a malformed expression does not exist; the log says why */
        logmsg(m, "%s%s%s%s", m->multi ? m->ledgers[vi].name : "", m->multi ? ": " : "",
               err == AUDITFS_EVERIFY ? "EIO: " : err == AUDITFS_ETOOBIG ? "EFBIG: " : "",
               auditfs_error_last());
        if (err == AUDITFS_EFORMAT)
            err = AUDITFS_ENOTFOUND;
    }
    if (err == AUDITFS_ENOTFOUND) {
        struct fuse_entry_param e; /* a cached negative entry */
        memset(&e, 0, sizeof e);
        e.entry_timeout = m->timeout;
        fuse_reply_entry(req, &e);
        return;
    }
    fuse_reply_err(req, err == AUDITFS_EINVAL ? ENOTDIR : errno_of(err));
}

static void
op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
    (void)ino;
    (void)nlookup;
    fuse_reply_none(req); /* node ids are permanent */
}

static void
op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
    (void)count;
    (void)forgets;
    fuse_reply_none(req);
}

static void
op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    mnt *m = fuse_req_userdata(req);
    auditfs_view *v;
    uint64_t id;
    size_t vi;
    auditfs_view_stat vs;
    struct stat s;
    (void)fi;
    if (m->multi && ino == 1) {
        root_stat(m, &s);
        fuse_reply_attr(req, &s, m->timeout);
        return;
    }
    if (decode(m, ino, &v, &id, &vi) != 0) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    int err = auditfs_view_getattr(&vs, v, id);
    if (err) {
        fuse_reply_err(req, errno_of(err));
        return;
    }
    to_stat(m, &s, ino, &vs);
    fuse_reply_attr(req, &s, timeout_of(m, &vs));
}

static void
op_readlink(fuse_req_t req, fuse_ino_t ino)
{
    mnt *m = fuse_req_userdata(req);
    auditfs_view *v;
    uint64_t id;
    size_t vi;
    char *t = NULL;
    if (decode(m, ino, &v, &id, &vi) != 0 || auditfs_view_readlink(&t, v, id) != 0) {
        fuse_reply_err(req, EINVAL);
        return;
    }
    fuse_reply_readlink(req, t);
    free(t);
}

static void
op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    mnt *m = fuse_req_userdata(req);
    auditfs_view *v;
    uint64_t id;
    size_t vi;
    auditfs_view_stat vs;
    if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
        fuse_reply_err(req, EROFS);
        return;
    }
    if (decode(m, ino, &v, &id, &vi) != 0 || auditfs_view_getattr(&vs, v, id) != 0) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    if (vs.type == AUDITFS_NODE_DIR) {
        fuse_reply_err(req, EISDIR);
        return;
    }
    fi->keep_cache = 1;
    fuse_reply_open(req, fi);
}

static void
op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
    mnt *m = fuse_req_userdata(req);
    auditfs_view *v;
    uint64_t id;
    size_t vi, got = 0;
    int first = 0;
    (void)fi;
    if (decode(m, ino, &v, &id, &vi) != 0) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    char *buf = malloc(size ? size : 1);
    if (!buf) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    int err = auditfs_view_read(v, id, off < 0 ? 0 : (uint64_t)off, buf, size, &got, &first);
    if (err == AUDITFS_EVERIFY) {
        if (first)
            logmsg(m, "%s%sEIO: %s", m->multi ? m->ledgers[vi].name : "", m->multi ? ": " : "",
                   auditfs_error_last());
        fuse_reply_err(req, EIO);
    } else if (err) {
        fuse_reply_err(req, errno_of(err));
    } else {
        fuse_reply_buf(req, buf, got);
    }
    free(buf);
}

static void
op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    mnt *m = fuse_req_userdata(req);
    auditfs_view *v;
    uint64_t id;
    size_t vi;
    auditfs_view_stat vs;
    int fixed = !m->follow;
    /* query/ lists the queries used so far: never cache its listing */
    if (fixed && !(m->multi && ino == 1) && decode(m, ino, &v, &id, &vi) == 0 &&
        auditfs_view_getattr(&vs, v, id) == 0 && (vs.flags & AUDITFS_VIEW_VOLATILE))
        fixed = 0;
    fi->keep_cache = fixed;
    fi->cache_readdir = fixed;
    fuse_reply_open(req, fi);
}

typedef struct dirbuf {
    fuse_req_t req;
    const mnt *m;
    size_t vi;
    char *buf;
    size_t size, used;
    int plus;
} dirbuf;

static int
dir_add(dirbuf *d, const char *name, fuse_ino_t ino, const auditfs_view_stat *vs, off_t next)
{
    size_t need;
    if (d->plus) {
        struct fuse_entry_param e;
        memset(&e, 0, sizeof e);
        e.ino = ino;
        e.attr_timeout = timeout_of(d->m, vs);
        e.entry_timeout = timeout_of(d->m, vs);
        to_stat(d->m, &e.attr, ino, vs);
        need = fuse_add_direntry_plus(d->req, d->buf + d->used, d->size - d->used, name, &e, next);
    } else {
        struct stat s;
        to_stat(d->m, &s, ino, vs);
        need = fuse_add_direntry(d->req, d->buf + d->used, d->size - d->used, name, &s, next);
    }
    if (need > d->size - d->used)
        return 1; /* full: resume from this entry next time */
    d->used += need;
    return 0;
}

static int
dir_cb(void *payload, const char *name, const auditfs_view_stat *st, uint64_t next)
{
    dirbuf *d = payload;
    return dir_add(d, name, encode(d->m, d->vi, st->id), st, (off_t)(next + 2));
}

static void
do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, int plus)
{
    mnt *m = fuse_req_userdata(req);
    dirbuf d = {req, m, 0, NULL, size, 0, plus};
    auditfs_view *v = NULL;
    uint64_t id = 0;
    auditfs_view_stat self, parent;
    int err = 0;
    if (!(d.buf = malloc(size))) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    int synthetic = m->multi && ino == 1;
    if (!synthetic) {
        if (decode(m, ino, &v, &id, &d.vi) != 0 || (err = auditfs_view_getattr(&self, v, id)) != 0) {
            free(d.buf);
            fuse_reply_err(req, ENOENT);
            return;
        }
    } else {
        memset(&self, 0, sizeof self);
        self.id = 1;
        self.type = AUDITFS_NODE_DIR;
        self.nlink = 2;
    }
    parent = self;
    fuse_ino_t pino = ino;
    if (!synthetic && id != AUDITFS_VIEW_ROOT) {
        uint64_t p = auditfs_view_parent(v, id);
        if (auditfs_view_getattr(&parent, v, p) == 0)
            pino = encode(m, d.vi, p);
    } else if (!synthetic && m->multi) {
        pino = 1;
    }
    if (off < 1 && dir_add(&d, ".", ino, &self, 1))
        goto reply;
    if (off < 2 && dir_add(&d, "..", pino, &parent, 2))
        goto reply;
    uint64_t pos = off < 2 ? 0 : (uint64_t)off - 2;
    if (synthetic) {
        for (size_t i = (size_t)pos; i < m->n; i++) {
            auditfs_view_stat r;
            if (auditfs_view_getattr(&r, m->views[i], AUDITFS_VIEW_ROOT) != 0)
                continue;
            d.vi = i;
            if (dir_add(&d, m->ledgers[i].name, encode(m, i, AUDITFS_VIEW_ROOT), &r,
                        (off_t)(i + 3)))
                break;
        }
    } else if ((err = auditfs_view_readdir(v, id, pos, dir_cb, &d)) != 0) {
        free(d.buf);
        fuse_reply_err(req, err == AUDITFS_EINVAL ? ENOTDIR : errno_of(err));
        return;
    }
reply:
    fuse_reply_buf(req, d.buf, d.used);
    free(d.buf);
}

static void
op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
    (void)fi;
    do_readdir(req, ino, size, off, 0);
}

static void
op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
    (void)fi;
    do_readdir(req, ino, size, off, 1);
}

static void
op_statfs(fuse_req_t req, fuse_ino_t ino)
{
    struct statvfs s;
    (void)ino;
    memset(&s, 0, sizeof s);
    s.f_bsize = 4096;
    s.f_frsize = 4096;
    s.f_namemax = 255;
    s.f_flag = ST_RDONLY;
    fuse_reply_statfs(req, &s);
}

static int
get_xattrs(fuse_req_t req, fuse_ino_t ino, auditfs_view_xattr *x, size_t *n)
{
    mnt *m = fuse_req_userdata(req);
    auditfs_view *v;
    uint64_t id;
    size_t vi;
    *n = 0;
    if (m->multi && ino == 1)
        return 0;
    if (decode(m, ino, &v, &id, &vi) != 0 || auditfs_view_xattrs(x, n, v, id) != 0)
        return -1;
    return 0;
}

static void
op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
    auditfs_view_xattr x[AUDITFS_VIEW_XATTR_MAX];
    size_t n;
    /* ls -l asks every file for ACL and security attributes: answer those without the view */
    if (strncmp(name, "user.auditfs.", 13) != 0) {
        fuse_reply_err(req, ENODATA);
        return;
    }
    if (get_xattrs(req, ino, x, &n) != 0) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(x[i].name, name) != 0)
            continue;
        size_t len = strlen(x[i].value);
        if (size == 0)
            fuse_reply_xattr(req, len);
        else if (size < len)
            fuse_reply_err(req, ERANGE);
        else
            fuse_reply_buf(req, x[i].value, len);
        return;
    }
    fuse_reply_err(req, ENODATA);
}

static void
op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
    auditfs_view_xattr x[AUDITFS_VIEW_XATTR_MAX];
    char buf[AUDITFS_VIEW_XATTR_MAX * sizeof x[0].name];
    size_t n, len = 0;
    if (get_xattrs(req, ino, x, &n) != 0) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(x[i].name) + 1;
        memcpy(buf + len, x[i].name, l);
        len += l;
    }
    if (size == 0)
        fuse_reply_xattr(req, len);
    else if (size < len)
        fuse_reply_err(req, ERANGE);
    else
        fuse_reply_buf(req, buf, len);
}

/* Everything that would change the tree. */
static void
op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
           struct fuse_file_info *fi)
{
    (void)ino, (void)attr, (void)to_set, (void)fi;
    fuse_reply_err(req, EROFS);
}
static void
op_mknod(fuse_req_t req, fuse_ino_t p, const char *n, mode_t mode, dev_t rdev)
{
    (void)p, (void)n, (void)mode, (void)rdev;
    fuse_reply_err(req, EROFS);
}
static void
op_mkdir(fuse_req_t req, fuse_ino_t p, const char *n, mode_t mode)
{
    (void)p, (void)n, (void)mode;
    fuse_reply_err(req, EROFS);
}
static void
op_unlink(fuse_req_t req, fuse_ino_t p, const char *n)
{
    (void)p, (void)n;
    fuse_reply_err(req, EROFS);
}
static void
op_symlink(fuse_req_t req, const char *l, fuse_ino_t p, const char *n)
{
    (void)l, (void)p, (void)n;
    fuse_reply_err(req, EROFS);
}
static void
op_rename(fuse_req_t req, fuse_ino_t p, const char *n, fuse_ino_t np, const char *nn,
          unsigned int flags)
{
    (void)p, (void)n, (void)np, (void)nn, (void)flags;
    fuse_reply_err(req, EROFS);
}
static void
op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t np, const char *nn)
{
    (void)ino, (void)np, (void)nn;
    fuse_reply_err(req, EROFS);
}
static void
op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
         struct fuse_file_info *fi)
{
    (void)ino, (void)buf, (void)size, (void)off, (void)fi;
    fuse_reply_err(req, EROFS);
}
static void
op_create(fuse_req_t req, fuse_ino_t p, const char *n, mode_t mode, struct fuse_file_info *fi)
{
    (void)p, (void)n, (void)mode, (void)fi;
    fuse_reply_err(req, EROFS);
}
static void
op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value, size_t size,
            int flags)
{
    (void)ino, (void)name, (void)value, (void)size, (void)flags;
    fuse_reply_err(req, EROFS);
}
static void
op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
    (void)ino, (void)name;
    fuse_reply_err(req, EROFS);
}

static const struct fuse_lowlevel_ops ops = {
    .init = op_init,
    .lookup = op_lookup,
    .forget = op_forget,
    .forget_multi = op_forget_multi,
    .getattr = op_getattr,
    .readlink = op_readlink,
    .open = op_open,
    .read = op_read,
    .opendir = op_opendir,
    .readdir = op_readdir,
    .readdirplus = op_readdirplus,
    .statfs = op_statfs,
    .getxattr = op_getxattr,
    .listxattr = op_listxattr,
    .setattr = op_setattr,
    .mknod = op_mknod,
    .mkdir = op_mkdir,
    .unlink = op_unlink,
    .rmdir = op_unlink,
    .symlink = op_symlink,
    .rename = op_rename,
    .link = op_link,
    .write = op_write,
    .create = op_create,
    .setxattr = op_setxattr,
    .removexattr = op_removexattr,
};

/* ---- --follow ---- */

struct follow_notice {
    const mnt *m;
    const char *who, *path, *origin;
    uint64_t size;
};

static int
follow_notice(void *ctx, const auditfs_entry *e)
{
    struct follow_notice *f = ctx;
    char *line = NULL;
    if (auditfs_notice_line(&line, e) == 0)
        logmsg(f->m, "%s: %s", f->who, line);
    free(line);
    if (f->m->cfg && f->m->cfg->on_notice) {
        int rc = f->m->cfg->on_notice(f->m->cfg->on_notice_ctx, e, f->path, f->origin, f->size);
        if (rc == AFS_NOTICE_TIMED_OUT)
            logmsg(f->m, "%s: --on-notice: still running at its timeout for entry %llu: its "
                   "process group was killed", f->who, (unsigned long long)e->seq);
        else if (rc)
            logmsg(f->m, "%s: --on-notice: exit %d for entry %llu", f->who, rc,
                   (unsigned long long)e->seq);
    }
    return 0;
}

/* The notices and document versions between the old and the new pinned checkpoint, read from
 * a fresh handle that must have the verified root at the new size (auditfs/notices.h). */
static void
report_notices(const mnt *m, size_t i, const char *who, uint64_t from,
               const auditfs_checkpoint *cp)
{
    auditfs_ledger *l = NULL;
    struct follow_notice f = {m, who, m->ledgers[i].path, cp->origin, cp->size};
    if (auditfs_ledger_open(&l, m->ledgers[i].path) != 0 ||
        auditfs_notices_between(l, from, cp->size, &cp->root, NULL, follow_notice, &f) != 0)
        logmsg(m, "%s: cannot list the new notices: %s", who, auditfs_error_last());
    auditfs_ledger_free(l);
}

static void *
follower(void *arg)
{
    mnt *m = arg;
    char **last = calloc(m->n, sizeof *last);
    pthread_mutex_lock(&m->stop_lock);
    while (!m->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += m->follow_ms / 1000;
        ts.tv_nsec += (long)(m->follow_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&m->stop_cond, &m->stop_lock, &ts);
        if (m->stop)
            break;
        pthread_mutex_unlock(&m->stop_lock);
        for (size_t i = 0; i < m->n; i++) {
            uint64_t *changed = NULL;
            size_t nchanged = 0;
            const char *who = m->multi ? m->ledgers[i].name : m->ledgers[i].path;
            auditfs_checkpoint before;
            auditfs_view_checkpoint(&before, m->views[i]);
            int rc = auditfs_view_follow(m->views[i], &changed, &nchanged);
            if (rc == 1) {
                auditfs_checkpoint cp;
                auditfs_view_checkpoint(&cp, m->views[i]);
                logmsg(m, "%s: now pinned to checkpoint %llu (verified: signed, consistent, every "
                          "new leaf checked)",
                       who, (unsigned long long)cp.size);
                report_notices(m, i, who, before.size, &cp);
                for (size_t k = 0; k < nchanged; k++)
                    fuse_lowlevel_notify_inval_inode(m->se, encode(m, i, changed[k]), 0, 0);
                if (last && last[i]) {
                    free(last[i]);
                    last[i] = NULL;
                }
            } else if (rc < 0) {
                const char *msg = auditfs_error_last();
                if (!last || !last[i] || strcmp(last[i], msg) != 0) {
                    logmsg(m, "%s: %s", who, msg);
                    if (last) {
                        free(last[i]);
                        last[i] = strdup(msg);
                    }
                }
            }
            free(changed);
        }
        pthread_mutex_lock(&m->stop_lock);
    }
    pthread_mutex_unlock(&m->stop_lock);
    if (last)
        for (size_t i = 0; i < m->n; i++)
            free(last[i]);
    free(last);
    return NULL;
}

/* ---- run ---- */

/* --witness/--policy: a checkpoint is pinned or followed only with its witness quorum. */
static int
accept_quorum(void *payload, const auditfs_checkpoint *cp, auditfs_ledger *l)
{
    const afs_mount_config *cfg = payload;
    int met = 0;
    int err = auditfs_witness_quorum(&met, NULL, NULL, l, cp->size, cfg->policy, cfg->max_age,
                                     (uint64_t)time(NULL));
    return err ? err : met;
}

/* A ledger's own policy (several ledgers, a quorum each). */
static int
accept_quorum_ledger(void *payload, const auditfs_checkpoint *cp, auditfs_ledger *l)
{
    const afs_mount_ledger *lg = payload;
    int met = 0;
    int err = auditfs_witness_quorum(&met, NULL, NULL, l, cp->size, lg->policy, lg->max_age,
                                     (uint64_t)time(NULL));
    return err ? err : met;
}

static int
open_views(mnt *m, const afs_mount_config *cfg)
{
    m->views = calloc(cfg->nledgers, sizeof *m->views);
    if (!m->views)
        return AUDITFS_ENOMEM;
    for (size_t i = 0; i < cfg->nledgers; i++) {
        const afs_mount_ledger *lg = &cfg->ledgers[i];
        auditfs_verifier *key = NULL;
        auditfs_view_options o = AUDITFS_VIEW_OPTIONS_INIT;
        uint8_t *trusted = NULL;
        size_t tlen = 0;
        struct timespec t0, t1;
        int err;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        if (!lg->key) {
            char *s = NULL;
            if ((err = auditfs_verifier_format(&s, lg->verifier)) == 0)
                err = auditfs_verifier_parse(&key, s, strlen(s));
            free(s);
            if (err) {
                fprintf(stderr, "auditfs: %s: the pinned key: %s\n", lg->name ? lg->name : lg->path,
                        auditfs_error_last());
                return AUDITFS_EKEY;
            }
        } else if ((err = auditfs_verifier_load(&key, lg->key)) != 0) {
            fprintf(stderr, "auditfs: %s: %s\n", lg->key, auditfs_error_last());
            return err == AUDITFS_ENOTFOUND ? err : AUDITFS_EKEY;
        }
        if (lg->trusted && (err = auditfs_read_file(&trusted, &tlen, lg->trusted, 65536)) != 0) {
            fprintf(stderr, "auditfs: %s: %s\n", lg->trusted, auditfs_error_last());
            auditfs_verifier_free(key);
            return err; /* ENOTFOUND, EIO, ...: the CLI maps it like any command */
        }
        o.cache_bytes = cfg->cache_bytes;
        o.cache_dir = cfg->cache_dir;
        o.progress = cfg->progress;
        o.state = cfg->state;
        if (lg->policy) {
            o.accept = accept_quorum_ledger;
            o.accept_payload = (void *)lg;
        } else if (cfg->policy) {
            o.accept = accept_quorum;
            o.accept_payload = (void *)cfg;
        }
        o.trusted_note = (const char *)trusted;
        o.trusted_len = tlen;
        err = auditfs_view_open(&m->views[i], lg->path, key, &o);
        auditfs_verifier_free(key);
        free(trusted);
        if (err) {
            fprintf(stderr, "auditfs: mount refused: %s: %s\n", lg->name ? lg->name : lg->path,
                    auditfs_error_last());
            return err; /* EVERIFY, EFORK, EFORMAT (a malformed trusted checkpoint), ENOTFOUND, ... */
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (cfg->foreground) {
            auditfs_checkpoint cp;
            auditfs_view_checkpoint(&cp, m->views[i]);
            fprintf(stderr, "auditfs: %s: verified checkpoint %llu of %s in %.2f s\n", lg->path,
                    (unsigned long long)cp.size, cp.origin,
                    (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
        }
    }
    return 0;
}


/*
 * A daemon killed under load can leave its mount behind when fusermount3's auto_unmount
 * races with readers still holding files (the torture suite saw 1 in 4). Such a mount
 * answers ENOTCONN. If the mount point is exactly that, a dead fuse.auditfs mount, it is
 * detached before mounting again; anything else is left alone and fuse_session_mount reports
 * it.
 */
static void
clear_stale_mount(const char *mountpoint)
{
    /* statfs, not stat: FUSE_STATFS always reaches the daemon, while a stat of the mount's root
     * can be answered from the kernel's attribute cache for a while after the daemon died (then
     * the dead mount looked alive and the new one was stacked on top of it) */
    struct statfs sf;
    if (statfs(mountpoint, &sf) == 0 || errno != ENOTCONN)
        return;
    char dir[PATH_MAX], path[PATH_MAX + 256];
    const char *slash = strrchr(mountpoint, '/');
    const char *base = slash ? slash + 1 : mountpoint;
    char parent[PATH_MAX];
    snprintf(parent, sizeof parent, "%.*s", slash ? (int)(slash - mountpoint) : 1,
             slash ? (slash == mountpoint ? "/" : mountpoint) : ".");
    if (!realpath(parent, dir))
        return;
    snprintf(path, sizeof path, "%s/%s", strcmp(dir, "/") ? dir : "", base);
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f)
        return;
    char line[4096];
    int ours = 0;
    while (!ours && fgets(line, sizeof line, f)) {
        char mp[PATH_MAX];
        const char *dash = strstr(line, " - ");
        if (!dash || sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1)
            continue;
        ours = strcmp(mp, path) == 0 && strncmp(dash + 3, "fuse.auditfs ", 13) == 0;
    }
    fclose(f);
    if (!ours)
        return;
    fprintf(stderr, "auditfs: %s: removing the stale mount of a dead auditfs daemon\n",
            mountpoint);
    (void)afs_umount_run(mountpoint, 1);
}

/*
 * Long because the FUSE session's life is one sequence with one teardown (views, session,
 * signal handlers, mount, daemonize, follow thread, loop) undone in reverse order at its end.
 */
int
afs_mount_run(const afs_mount_config *cfg)
{
    mnt m;
    struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
    struct fuse_loop_config *lc = NULL;
    char opts[4096];
    int rc = 0, mounted = 0, handlers = 0;
    pthread_t th;
    int have_thread = 0;
    memset(&m, 0, sizeof m);
    m.ledgers = cfg->ledgers;
    m.cfg = cfg;
    m.n = cfg->nledgers;
    m.multi = cfg->nledgers > 1;
    m.foreground = cfg->foreground;
    m.follow = cfg->follow;
    m.follow_ms = cfg->follow_ms ? cfg->follow_ms : 1000;
    m.timeout = cfg->follow ? FOLLOW_TIMEOUT : LONG_TIMEOUT;
    m.uid = getuid();
    m.gid = getgid();
    pthread_mutex_init(&m.stop_lock, NULL);
    pthread_cond_init(&m.stop_cond, NULL);
    if (!m.foreground)
        openlog("auditfs", LOG_PID, LOG_DAEMON);
    if ((rc = open_views(&m, cfg)) != 0)
        goto done;
    /* auto_unmount: fusermount3 removes the mount if the daemon dies, even by kill -9, so a
     * crashed mount never leaves "Transport endpoint is not connected" behind */
    snprintf(opts, sizeof opts,
             "ro,default_permissions,auto_unmount,fsname=auditfs:%s,subtype=auditfs%s%s",
             m.multi ? "multi" : cfg->ledgers[0].path, cfg->fuse_opts ? "," : "",
             cfg->fuse_opts ? cfg->fuse_opts : "");
    if (fuse_opt_add_arg(&args, "auditfs") != 0 || fuse_opt_add_arg(&args, "-o") != 0 ||
        fuse_opt_add_arg(&args, opts) != 0) {
        rc = AUDITFS_ENOMEM;
        goto done;
    }
    m.se = fuse_session_new(&args, &ops, sizeof ops, &m);
    if (!m.se) {
        fprintf(stderr, "auditfs: cannot create the FUSE session (bad -o option?)\n");
        rc = AUDITFS_EINVAL;
        goto done;
    }
    if (fuse_set_signal_handlers(m.se) != 0) {
        rc = AUDITFS_EIO;
        goto done;
    }
    handlers = 1;
    clear_stale_mount(cfg->mountpoint);
    if (fuse_session_mount(m.se, cfg->mountpoint) != 0) {
        fprintf(stderr, "auditfs: cannot mount on %s\n", cfg->mountpoint);
        rc = AUDITFS_EIO;
        goto done;
    }
    mounted = 1;
    /* the mount exists now: a script can use it as soon as this process returns */
    if (fuse_daemonize(cfg->foreground) != 0) {
        rc = AUDITFS_EIO;
        goto done;
    }
    if (m.follow) {
        if (pthread_create(&th, NULL, follower, &m) == 0)
            have_thread = 1;
        else
            logmsg(&m, "cannot start the --follow thread");
    }
    lc = fuse_loop_cfg_create();
    if (!lc) {
        rc = AUDITFS_ENOMEM;
        goto done;
    }
    fuse_loop_cfg_set_clone_fd(lc, 1);
    fuse_loop_cfg_set_max_threads(lc, 8);
    fuse_loop_cfg_set_idle_threads(lc, 4);
    if (fuse_session_loop_mt(m.se, lc) != 0)
        rc = AUDITFS_EIO;
done:
    if (have_thread) {
        pthread_mutex_lock(&m.stop_lock);
        m.stop = 1;
        pthread_cond_signal(&m.stop_cond);
        pthread_mutex_unlock(&m.stop_lock);
        pthread_join(th, NULL);
    }
    if (lc)
        fuse_loop_cfg_destroy(lc);
    if (mounted)
        fuse_session_unmount(m.se);
    if (handlers)
        fuse_remove_signal_handlers(m.se);
    if (m.se)
        fuse_session_destroy(m.se);
    fuse_opt_free_args(&args);
    for (size_t i = 0; m.views && i < m.n; i++)
        auditfs_view_free(m.views[i]);
    free(m.views);
    pthread_mutex_destroy(&m.stop_lock);
    pthread_cond_destroy(&m.stop_cond);
    return rc;
}

int
afs_umount_run(const char *mountpoint, int lazy)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (lazy)
            execlp("fusermount3", "fusermount3", "-u", "-z", "--", mountpoint, (char *)NULL);
        else
            execlp("fusermount3", "fusermount3", "-u", "--", mountpoint, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
        WEXITSTATUS(status) == 0)
        return 0;
    if (geteuid() == 0 && umount2(mountpoint, lazy ? MNT_DETACH : 0) == 0)
        return 0;
    fprintf(stderr, "auditfs: cannot unmount %s: %s\n", mountpoint,
            pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) != 127 ? "fusermount3 failed"
                                                                       : strerror(errno));
    return AUDITFS_EIO;
}
