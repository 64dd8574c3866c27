/*
 * ledger/witness_state.c - a witness's durable state, kept apart from any ledger:
 *
 *   <state_root>/witness/<name, '/' -> '_'>+<cosig key id>/
 *       logs/<hex SHA-256(origin)>.checkpoint    last cosigned checkpoint note for that origin
 *       evidence/<UTC time>-<n>/                 cosigned/offered/conflicting.checkpoint, reason.txt
 *
 * Every file is written atomically: a temporary file in the same directory, fsync, rename over
 * the target, fsync of the directory. So after a crash the state is either the old or the new
 * checkpoint, never a mixture, and a cosignature is only handed out after its state is on disk.
 * This module is the only code that touches these files (the integrator can move the tree).
 */
#include "auditfs/witness.h"
#include "internal.h"
#include "witness_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* bounded well below PATH_MAX so every file path under it fits */
#define STATE_DIR_MAX 3072

struct auditfs_witness_state {
    char dir[STATE_DIR_MAX];
    int lockfd; /* -1 when not locked */
};

static int
mkdir_one(const char *p)
{
    if (mkdir(p, 0700) == 0 || errno == EEXIST)
        return 0;
    return afs_error_set(AUDITFS_EIO, "%s: %s", p, strerror(errno));
}

/* mkdir -p with mode 0700 for every component created. */
static int
mkdir_p(const char *path)
{
    char tmp[PATH_MAX];
    int n = snprintf(tmp, sizeof tmp, "%s", path);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return afs_error_set(AUDITFS_EINVAL, "state path too long");
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            int err = mkdir_one(tmp);
            *p = '/';
            if (err)
                return err;
        }
    }
    return mkdir_one(tmp);
}

int
auditfs_witness_state_open(auditfs_witness_state **out, const char *root,
                           const auditfs_verifier *w)
{
    char name[AUDITFS_NAME_MAX + 1];
    if (!out || !root || !w || !root[0])
        return afs_error_set(AUDITFS_EINVAL, "auditfs_witness_state_open: NULL argument");
    *out = NULL;
    snprintf(name, sizeof name, "%s", auditfs_verifier_name(w));
    for (char *p = name; *p; p++)
        if (*p == '/' || (p == name && *p == '.'))
            *p = '_';
    auditfs_witness_state *st = calloc(1, sizeof *st);
    if (!st)
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    st->lockfd = -1;
    int n = snprintf(st->dir, sizeof st->dir, "%s/witness/%s+%08x", root, name,
                     auditfs_cosig_key_id(w));
    if (n < 0 || (size_t)n >= sizeof st->dir) {
        free(st);
        return afs_error_set(AUDITFS_EINVAL, "state path too long");
    }
    char sub[PATH_MAX];
    int err = mkdir_p(st->dir);
    if (!err) {
        snprintf(sub, sizeof sub, "%s/logs", st->dir);
        err = mkdir_one(sub);
    }
    if (err) {
        free(st);
        return afs_error_wrap(err, "witness state");
    }
    *out = st;
    return 0;
}

void
auditfs_witness_state_free(auditfs_witness_state *st)
{
    if (st && st->lockfd >= 0)
        close(st->lockfd);
    free(st);
}

int
afs_witness_state_lock(auditfs_witness_state *st)
{
    char path[STATE_DIR_MAX + 16];
    snprintf(path, sizeof path, "%s/lock", st->dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return afs_error_set(AUDITFS_EIO, "%s: %s", path, strerror(errno));
    while (flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            int e = errno;
            close(fd);
            return afs_error_set(AUDITFS_EIO, "%s: flock: %s", path, strerror(e));
        }
    }
    st->lockfd = fd;
    return 0;
}

void
afs_witness_state_unlock(auditfs_witness_state *st)
{
    if (st && st->lockfd >= 0) {
        close(st->lockfd); /* releases the flock */
        st->lockfd = -1;
    }
}

const char *
auditfs_witness_state_dir(const auditfs_witness_state *st)
{
    return st ? st->dir : NULL;
}

static void
log_path(char out[PATH_MAX], const auditfs_witness_state *st, const char *origin)
{
    uint8_t h[32];
    char hex[65];
    afs_sha256(h, origin, strlen(origin));
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", h[i]);
    snprintf(out, PATH_MAX, "%s/logs/%s.checkpoint", st->dir, hex);
}

int
auditfs_witness_state_get(char **note, size_t *len, auditfs_witness_state *st, const char *origin)
{
    char path[PATH_MAX];
    if (!note || !len || !st || !origin)
        return afs_error_set(AUDITFS_EINVAL, "auditfs_witness_state_get: NULL argument");
    log_path(path, st, origin);
    int err = afs_read_file(note, len, path, AUDITFS_NOTE_MAX_BYTES);
    if (err == AUDITFS_ENOTFOUND || (err && access(path, F_OK) != 0 && errno == ENOENT))
        return afs_error_set(AUDITFS_ENOTFOUND, "the witness has cosigned nothing for \"%s\"",
                             origin);
    return err;
}

/* Writes path atomically and durably. */
static int
write_atomic(const char *path, const void *data, size_t len)
{
    return afs_write_atomic(path, data, len, 0600); /* fileio.c: temp, fsync, rename, fsync dir */
}

int
auditfs_witness_state_put(auditfs_witness_state *st, const char *origin, const char *note,
                          size_t len)
{
    char path[PATH_MAX];
    if (!st || !origin || (!note && len))
        return afs_error_set(AUDITFS_EINVAL, "auditfs_witness_state_put: NULL argument");
    log_path(path, st, origin);
    return write_atomic(path, note, len);
}

int
auditfs_witness_state_evidence(char **dir, auditfs_witness_state *st, const char *cosigned,
                               size_t cosigned_len, const char *offered, size_t offered_len,
                               const char *conflicting, size_t conflicting_len,
                               const char *reason)
{
    char base[STATE_DIR_MAX + 16], d[STATE_DIR_MAX + 64], f[STATE_DIR_MAX + 128], stamp[32];
    int err;
    if (!st || (!cosigned && cosigned_len) || (!offered && offered_len))
        return afs_error_set(AUDITFS_EINVAL, "auditfs_witness_state_evidence: NULL argument");
    snprintf(base, sizeof base, "%s/evidence", st->dir);
    if ((err = mkdir_one(base)) != 0)
        return err;
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    /* a fresh directory: never overwrite earlier evidence */
    for (unsigned i = 0;; i++) {
        if (i > 10000)
            return afs_error_set(AUDITFS_EIO, "%s: too many evidence directories", base);
        snprintf(d, sizeof d, "%s/%s-%u", base, stamp, i);
        if (mkdir(d, 0700) == 0)
            break;
        if (errno != EEXIST)
            return afs_error_set(AUDITFS_EIO, "%s: %s", d, strerror(errno));
    }
    snprintf(f, sizeof f, "%s/cosigned.checkpoint", d);
    if ((err = write_atomic(f, cosigned, cosigned_len)) != 0)
        return err;
    snprintf(f, sizeof f, "%s/offered.checkpoint", d);
    if ((err = write_atomic(f, offered, offered_len)) != 0)
        return err;
    if (conflicting && conflicting_len) {
        snprintf(f, sizeof f, "%s/conflicting.checkpoint", d);
        if ((err = write_atomic(f, conflicting, conflicting_len)) != 0)
            return err;
    }
    snprintf(f, sizeof f, "%s/reason.txt", d);
    afs_buf b = AFS_BUF_INIT;
    if ((err = afs_buf_printf(&b, "%s\n", reason ? reason : "")) == 0)
        err = write_atomic(f, b.data, b.len);
    afs_buf_release(&b);
    if (err)
        return err;
    if (dir && (*dir = strdup(d)) == NULL)
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    return afs_fsync_dir(base);
}
