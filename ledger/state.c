/*
 * ledger/state.c - the verifier's memory (auditfs/state.h, docs/FORMAT.md section 15).
 *
 * Invariants: every file is replaced atomically (temporary file in the same directory, fsync,
 * rename, fsync of the directory), so a crash leaves the old or the new content, never a mix;
 * nothing in the state is ever derived from a ledger except checkpoints that were verified with
 * a pinned key first (trust.c); the state directory is never inside a git directory.
 */
#include "internal.h"

#include "auditfs/state.h"
#include "state_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STATE_FORMAT "auditfs-state/1\n"
/** Largest keys file, bindings file or remembered note we read. */
#define STATE_FILE_MAX 65536

struct auditfs_state {
    char *path; /* absolute, no trailing slash */
};

int
auditfs_state_default_path(char *out, size_t cap)
{
    const char *env = getenv("AUDITFS_STATE");
    int n;
    if (env && env[0])
        n = snprintf(out, cap, "%s", env);
    else if ((env = getenv("XDG_STATE_HOME")) != NULL && env[0] == '/')
        n = snprintf(out, cap, "%s/auditfs", env);
    else if ((env = getenv("HOME")) != NULL && env[0])
        n = snprintf(out, cap, "%s/.local/state/auditfs", env);
    else
        return afs_error_set(AUDITFS_EINVAL, "no state directory: set AUDITFS_STATE (or HOME)");
    if (n < 0 || (size_t)n >= cap)
        return afs_error_set(AUDITFS_EINVAL, "state directory path too long");
    return 0;
}

/* mkdir -p with mode 0700 for every directory it creates. */
static int
mkdirs(const char *path)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
        return afs_error_set(AUDITFS_EINVAL, "%s: path too long", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
            return afs_error_set(AUDITFS_EIO, "%s: %s", tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
        return afs_error_set(AUDITFS_EIO, "%s: %s", tmp, strerror(errno));
    return 0;
}

/* 1 if dir looks like a git directory (bare repository or .git): HEAD, objects/ and refs/. */
static int
is_git_dir(const char *dir)
{
    char p[PATH_MAX + 16];
    struct stat st;
    snprintf(p, sizeof p, "%s/HEAD", dir);
    if (stat(p, &st) != 0 || !S_ISREG(st.st_mode))
        return 0;
    snprintf(p, sizeof p, "%s/objects", dir);
    if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode))
        return 0;
    snprintf(p, sizeof p, "%s/refs", dir);
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* EINVAL if abs (an absolute, resolved path) or one of its ancestors is a git directory. */
static int
check_not_in_git_dir(const char *abs)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s", abs);
    for (;;) {
        if (is_git_dir(p))
            return afs_error_set(AUDITFS_EINVAL,
                                 "state directory %s is inside the git repository %s: the "
                                 "verifier's memory must not live where a ledger's writers can "
                                 "change it (set AUDITFS_STATE elsewhere)",
                                 abs, p);
        char *slash = strrchr(p, '/');
        if (!slash || slash == p)
            return 0;
        *slash = 0;
    }
}

static int
write_atomic(const char *path, const void *data, size_t len)
{
    return afs_write_atomic(path, data, len, 0600); /* fileio.c: temp, fsync, rename, fsync dir */
}

int
auditfs_state_open(auditfs_state **out, const char *dir)
{
    char def[PATH_MAX], abs[PATH_MAX], f[PATH_MAX + 16];
    auditfs_state *s = NULL;
    int err;
    *out = NULL;
    if (!dir) {
        if ((err = auditfs_state_default_path(def, sizeof def)) != 0)
            return err;
        dir = def;
    }
    if ((err = mkdirs(dir)) != 0)
        return afs_error_wrap(err, "state directory");
    if (!realpath(dir, abs))
        return afs_error_set(AUDITFS_EIO, "state directory %s: %s", dir, strerror(errno));
    if ((err = check_not_in_git_dir(abs)) != 0)
        return err;
    snprintf(f, sizeof f, "%s/format", abs);
    if (access(f, F_OK) != 0) {
        if ((err = write_atomic(f, STATE_FORMAT, strlen(STATE_FORMAT))) != 0)
            return err;
    } else {
        char *fmt = NULL;
        size_t n;
        if ((err = afs_read_file(&fmt, &n, f, 64)) != 0)
            return err;
        int same = n == strlen(STATE_FORMAT) && memcmp(fmt, STATE_FORMAT, n) == 0;
        free(fmt);
        if (!same)
            return afs_error_set(AUDITFS_EFORMAT, "%s: not %.*s", f,
                                 (int)strlen(STATE_FORMAT) - 1, STATE_FORMAT);
    }
    s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(abs))) {
        free(s);
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    }
    *out = s;
    return 0;
}

void
auditfs_state_free(auditfs_state *s)
{
    if (!s)
        return;
    free(s->path);
    free(s);
}

const char *
auditfs_state_path(const auditfs_state *s)
{
    return s->path;
}

int
auditfs_state_check_outside(auditfs_state *s, const char *ledger_path)
{
    char abs[PATH_MAX];
    if (!realpath(ledger_path, abs))
        return 0; /* no such directory: opening it will say so */
    size_t n = strlen(abs);
    if (strncmp(s->path, abs, n) == 0 && (s->path[n] == '/' || s->path[n] == 0))
        return afs_error_set(AUDITFS_EINVAL,
                             "state directory %s is inside the ledger %s: the verifier's memory "
                             "must not live where the ledger's writers can change it",
                             s->path, abs);
    return 0;
}

/* ---- per-origin directories ---- */

/* <state>/origins/<enc> into out; every byte outside [A-Za-z0-9_-], and a leading '.', as %XX. */
static int
origin_dir(char *out, size_t cap, const auditfs_state *s, const char *origin)
{
    size_t n = strlen(origin);
    if (n == 0 || n > AUDITFS_NAME_MAX || !afs_utf8_valid((const uint8_t *)origin, n, false))
        return afs_error_set(AUDITFS_EINVAL, "invalid origin");
    int k = snprintf(out, cap, "%s/origins/", s->path);
    if (k < 0 || (size_t)k + 3 * n + 1 > cap)
        return afs_error_set(AUDITFS_EINVAL, "state path too long");
    char *p = out + k;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)origin[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '_' || c == '-' || (c == '.' && i > 0))
            *p++ = (char)c;
        else
            p += sprintf(p, "%%%02X", c);
    }
    *p = 0;
    return 0;
}

/* The origin directory, created with its origin file if absent. */
static int
origin_dir_make(char *out, size_t cap, const auditfs_state *s, const char *origin)
{
    char f[PATH_MAX + 16];
    int err = origin_dir(out, cap, s, origin);
    if (err || (err = mkdirs(out)) != 0)
        return err;
    snprintf(f, sizeof f, "%s/origin", out);
    if (access(f, F_OK) == 0)
        return 0;
    char line[AUDITFS_NAME_MAX + 2];
    snprintf(line, sizeof line, "%s\n", origin);
    return write_atomic(f, line, strlen(line));
}

static const char *
kind_file(int kind)
{
    return kind == AUDITFS_STATE_SIGNED ? "signed" : "seen";
}

/* ---- keys ---- */

int
auditfs_state_keys(auditfs_verifier ***out, size_t *n, auditfs_state *s, const char *origin)
{
    char dir[PATH_MAX], f[PATH_MAX + 16];
    char *data = NULL;
    size_t len;
    auditfs_verifier **keys = NULL;
    size_t nk = 0;
    int err;
    *out = NULL;
    *n = 0;
    if ((err = origin_dir(dir, sizeof dir, s, origin)) != 0)
        return err;
    snprintf(f, sizeof f, "%s/keys", dir);
    err = afs_read_file(&data, &len, f, STATE_FILE_MAX);
    if (err == AUDITFS_ENOTFOUND) {
        auditfs_error_clear();
        return 0;
    }
    if (err)
        return err;
    size_t line = 0;
    for (char *p = data; p < data + len;) {
        char *nl = memchr(p, '\n', (size_t)(data + len - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(data + len - p);
        line++;
        if (l > 0) {
            auditfs_verifier *v = NULL;
            auditfs_verifier **grown = realloc(keys, (nk + 1) * sizeof *keys);
            if (!grown) {
                err = afs_error_set(AUDITFS_ENOMEM, "out of memory");
                goto fail;
            }
            keys = grown;
            if ((err = auditfs_verifier_parse(&v, p, l)) != 0) {
                err = afs_error_wrap(AUDITFS_EFORMAT, "%s:%zu", f, line);
                goto fail;
            }
            keys[nk++] = v;
        }
        p += l + 1;
    }
    free(data);
    *out = keys;
    *n = nk;
    return 0;
fail:
    free(data);
    auditfs_state_keys_free(keys, nk);
    return err;
}

void
auditfs_state_keys_free(auditfs_verifier **keys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        auditfs_verifier_free(keys[i]);
    free(keys);
}

/* Rewrites the keys file of origin from keys[0..n) (skipping `skip`, if not NULL). */
static int
write_keys(const char *dir, auditfs_verifier **keys, size_t n, const auditfs_verifier *add)
{
    char f[PATH_MAX + 16];
    afs_buf b = AFS_BUF_INIT;
    int err = 0;
    for (size_t i = 0; i <= n && !err; i++) {
        const auditfs_verifier *v = i < n ? keys[i] : add;
        char *k = NULL;
        if (!v)
            continue;
        if ((err = auditfs_verifier_format(&k, v)) == 0)
            err = afs_buf_printf(&b, "%s\n", k);
        free(k);
    }
    snprintf(f, sizeof f, "%s/keys", dir);
    if (!err)
        err = b.len ? write_atomic(f, b.data, b.len)
                    : (unlink(f) == 0 || errno == ENOENT
                           ? afs_fsync_dir(dir)
                           : afs_error_set(AUDITFS_EIO, "%s: %s", f, strerror(errno)));
    afs_buf_release(&b);
    return err;
}

int
auditfs_state_pin(auditfs_state *s, const char *origin, const auditfs_verifier *key)
{
    char dir[PATH_MAX];
    auditfs_verifier **keys = NULL;
    size_t n = 0;
    int err;
    if ((err = origin_dir_make(dir, sizeof dir, s, origin)) != 0 ||
        (err = auditfs_state_keys(&keys, &n, s, origin)) != 0)
        return err;
    for (size_t i = 0; i < n; i++)
        if (auditfs_verifier_equal(keys[i], key))
            goto done;
    err = write_keys(dir, keys, n, key);
done:
    auditfs_state_keys_free(keys, n);
    return err;
}

int
auditfs_state_unpin(auditfs_state *s, const char *origin, const auditfs_verifier *key)
{
    char dir[PATH_MAX];
    auditfs_verifier **keys = NULL;
    size_t n = 0, kept = 0;
    int err;
    if ((err = origin_dir(dir, sizeof dir, s, origin)) != 0 ||
        (err = auditfs_state_keys(&keys, &n, s, origin)) != 0)
        return err;
    for (size_t i = 0; i < n; i++) {
        if (key && !auditfs_verifier_equal(keys[i], key))
            keys[kept++] = keys[i];
        else
            auditfs_verifier_free(keys[i]);
    }
    if (kept == n)
        err = afs_error_set(AUDITFS_ENOTFOUND, "origin \"%s\": %s", origin,
                            key ? "that key is not pinned" : "no key is pinned");
    else
        err = write_keys(dir, keys, kept, NULL);
    auditfs_state_keys_free(keys, kept);
    return err;
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int
auditfs_state_origins(char ***out, size_t *n, auditfs_state *s)
{
    char d[PATH_MAX];
    char **list = NULL;
    size_t k = 0;
    int err = 0;
    *out = NULL;
    *n = 0;
    snprintf(d, sizeof d, "%s/origins", s->path);
    DIR *dir = opendir(d);
    if (!dir)
        return errno == ENOENT ? 0 : afs_error_set(AUDITFS_EIO, "%s: %s", d, strerror(errno));
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        char f[PATH_MAX + 300], *o = NULL;
        size_t len;
        if (de->d_name[0] == '.')
            continue;
        snprintf(f, sizeof f, "%s/%s/origin", d, de->d_name);
        if (afs_read_file(&o, &len, f, AUDITFS_NAME_MAX + 2) != 0)
            continue;
        if (len && o[len - 1] == '\n')
            o[len - 1] = 0;
        char **grown = realloc(list, (k + 1) * sizeof *list);
        if (!grown) {
            free(o);
            err = afs_error_set(AUDITFS_ENOMEM, "out of memory");
            break;
        }
        list = grown;
        list[k++] = o;
    }
    closedir(dir);
    auditfs_error_clear();
    if (err) {
        for (size_t i = 0; i < k; i++)
            free(list[i]);
        free(list);
        return err;
    }
    if (k)
        qsort(list, k, sizeof *list, cmp_str);
    *out = list;
    *n = k;
    return 0;
}

/* ---- remembered checkpoints ---- */

int
auditfs_state_checkpoint(char **out, size_t *len, auditfs_state *s, const char *origin, int kind)
{
    char dir[PATH_MAX], f[PATH_MAX + 16];
    int err = origin_dir(dir, sizeof dir, s, origin);
    if (err)
        return err;
    snprintf(f, sizeof f, "%s/%s", dir, kind_file(kind));
    return afs_read_file(out, len, f, AUDITFS_NOTE_MAX_BYTES);
}

int
auditfs_state_remember(auditfs_state *s, const char *origin, int kind, const char *note,
                       size_t len)
{
    char dir[PATH_MAX], f[PATH_MAX + 16];
    int err = origin_dir_make(dir, sizeof dir, s, origin);
    if (err)
        return err;
    snprintf(f, sizeof f, "%s/%s", dir, kind_file(kind));
    return write_atomic(f, note, len);
}

/* ---- bindings ---- */

int
afs_state_ledger_file(char *out, size_t cap, char abs[PATH_MAX], const auditfs_state *s,
                      const char *dir, const char *ledger_path)
{
    uint8_t h[32];
    char hex[65];
    if (!realpath(ledger_path, abs))
        return afs_error_set(errno == ENOENT ? AUDITFS_ENOTFOUND : AUDITFS_EIO, "%s: %s",
                             ledger_path, strerror(errno));
    afs_sha256(h, abs, strlen(abs));
    for (int i = 0; i < 32; i++)
        sprintf(hex + 2 * i, "%02x", h[i]);
    if (snprintf(out, cap, "%s/%s/%s", s->path, dir, hex) >= (int)cap)
        return afs_error_set(AUDITFS_EINVAL, "%s: state path too long", ledger_path);
    return 0;
}

static int
binding_file(char *out, size_t cap, char *abs, const auditfs_state *s, const char *ledger_path)
{
    return afs_state_ledger_file(out, cap, abs, s, "ledgers", ledger_path);
}

int
auditfs_state_bound_origin(char *out, auditfs_state *s, const char *ledger_path)
{
    char f[PATH_MAX + 128], abs[PATH_MAX];
    char *data = NULL;
    size_t len;
    int err = binding_file(f, sizeof f, abs, s, ledger_path);
    if (err)
        return err;
    if ((err = afs_read_file(&data, &len, f, 2 * PATH_MAX)) != 0)
        return err;
    /* "<realpath>\n<origin>\n"; a file naming another path is a hash collision or damage */
    size_t alen = strlen(abs);
    if (len < alen + 3 || memcmp(data, abs, alen) != 0 || data[alen] != '\n' ||
        data[len - 1] != '\n' || len - alen - 2 > AUDITFS_NAME_MAX) {
        free(data);
        return afs_error_set(AUDITFS_EFORMAT, "%s: not a binding of %s", f, abs);
    }
    memcpy(out, data + alen + 1, len - alen - 2);
    out[len - alen - 2] = 0;
    free(data);
    return 0;
}

int
auditfs_state_bind(auditfs_state *s, const char *ledger_path, const char *origin)
{
    char f[PATH_MAX + 128], abs[PATH_MAX], d[PATH_MAX + 16];
    afs_buf b = AFS_BUF_INIT;
    int err = binding_file(f, sizeof f, abs, s, ledger_path);
    if (err)
        return err;
    snprintf(d, sizeof d, "%s/ledgers", s->path);
    if ((err = mkdirs(d)) == 0 && (err = afs_buf_printf(&b, "%s\n%s\n", abs, origin)) == 0)
        err = write_atomic(f, b.data, b.len);
    afs_buf_release(&b);
    return err;
}

/* ---- evidence ---- */

static int
write_new(const char *dir, const char *name, const void *data, size_t len)
{
    char f[PATH_MAX + 256];
    snprintf(f, sizeof f, "%s/%s", dir, name);
    return write_atomic(f, data, len);
}

/* One line of README text: control characters become '?'. */
static void
clean_line(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = '?';
}

int
auditfs_state_write_evidence(char **dir_out, auditfs_state *s, const char *origin,
                             const char *ledger_path, const char *kind, const char *reason,
                             const char *remembered, size_t remembered_len, const char *presented,
                             size_t presented_len, const char *proof_json,
                             const auditfs_hash *root_at_old)
{
    char odir[PATH_MAX], dir[PATH_MAX + 128], stamp[64], r[1024], lp[PATH_MAX];
    afs_buf b = AFS_BUF_INIT;
    struct timespec ts;
    struct tm tm;
    int err;
    *dir_out = NULL;
    if ((err = origin_dir_make(odir, sizeof odir, s, origin)) != 0)
        return err;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    /* a fresh directory: never overwrite earlier evidence */
    snprintf(dir, sizeof dir, "%s/evidence", odir);
    if ((err = mkdirs(dir)) != 0)
        return err;
    for (int i = 0;; i++) {
        snprintf(dir, sizeof dir, "%s/evidence/%s-%ld-%d", odir, stamp, (long)getpid(), i);
        if (mkdir(dir, 0700) == 0)
            break;
        if (errno != EEXIST || i >= 1000)
            return afs_error_set(AUDITFS_EIO, "%s: %s", dir, strerror(errno));
    }
    if ((err = write_new(dir, "remembered.checkpoint", remembered, remembered_len)) != 0 ||
        (err = write_new(dir, "presented.checkpoint", presented, presented_len)) != 0)
        return err;
    if (proof_json) {
        afs_buf p = AFS_BUF_INIT;
        if ((err = afs_buf_printf(&p, "%s\n", proof_json)) == 0)
            err = write_new(dir, "consistency.json", p.data, p.len);
        afs_buf_release(&p);
        if (err)
            return err;
    }
    char t[32];
    afs_format_time(t, (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
    snprintf(r, sizeof r, "%s", reason);
    clean_line(r);
    snprintf(lp, sizeof lp, "%s", ledger_path ? ledger_path : "");
    clean_line(lp);
    err = afs_buf_printf(&b, "auditfs-evidence/1\nkind %s\norigin %s\nledger %s\ntime %s\n", kind,
                         origin, lp, t);
    if (!err && root_at_old) {
        char b64[48];
        auditfs_hash_base64(b64, root_at_old);
        err = afs_buf_printf(&b, "presented-root-at-remembered-size %s\n", b64);
    }
    if (!err)
        err = afs_buf_printf(
            &b,
            "reason %s\n\n"
            "remembered.checkpoint was verified (or signed) by this party earlier; "
            "presented.checkpoint is what the ledger showed at the time above. Both are signed "
            "notes: check each with the provider's verifier key (auditfs trust check-evidence, "
            "or Go's note.Open).\n",
            r);
    if (!err)
        err = write_new(dir, "README", b.data, b.len);
    afs_buf_release(&b);
    if (err)
        return err;
    *dir_out = strdup(dir);
    return *dir_out ? 0 : afs_error_set(AUDITFS_ENOMEM, "out of memory");
}

int
afs_state_origin_dir(char *out, size_t cap, auditfs_state *s, const char *origin, int make)
{
    return make ? origin_dir_make(out, cap, s, origin) : origin_dir(out, cap, s, origin);
}

/* ---- locking (state_int.h) ---- */

int
afs_state_lock(int *fd_out, auditfs_state *s, const char *origin)
{
    char dir[PATH_MAX], f[PATH_MAX + 16];
    int err = origin_dir_make(dir, sizeof dir, s, origin);
    *fd_out = -1;
    if (err)
        return err;
    snprintf(f, sizeof f, "%s/lock", dir);
    int fd = open(f, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return afs_error_set(AUDITFS_EIO, "%s: %s", f, strerror(errno));
    while (flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            err = afs_error_set(AUDITFS_EIO, "flock %s: %s", f, strerror(errno));
            close(fd);
            return err;
        }
    }
    *fd_out = fd;
    return 0;
}

void
afs_state_unlock(int fd)
{
    if (fd >= 0)
        close(fd);
}

int
auditfs_state_unbind(auditfs_state *s, const char *ledger_path)
{
    char f[PATH_MAX + 128], abs[PATH_MAX];
    int err = binding_file(f, sizeof f, abs, s, ledger_path);
    if (err)
        return err;
    if (unlink(f) != 0)
        return afs_error_set(errno == ENOENT ? AUDITFS_ENOTFOUND : AUDITFS_EIO, "%s: %s",
                             errno == ENOENT ? abs : f,
                             errno == ENOENT ? "not bound to an origin" : strerror(errno));
    return afs_fsync_dir(f);
}

int
afs_state_signed_commit(char out[41], auditfs_state *s, const char *origin, const char *set)
{
    char dir[PATH_MAX], f[PATH_MAX + 32];
    int err = set ? origin_dir_make(dir, sizeof dir, s, origin)
                  : origin_dir(dir, sizeof dir, s, origin);
    if (err)
        return err;
    snprintf(f, sizeof f, "%s/signed-commit", dir);
    if (set) {
        char line[64];
        snprintf(line, sizeof line, "%.40s\n", set);
        return write_atomic(f, line, strlen(line));
    }
    char *data = NULL;
    size_t len;
    if ((err = afs_read_file(&data, &len, f, 64)) != 0)
        return err;
    if (len != 41 || data[40] != '\n') {
        free(data);
        return afs_error_set(AUDITFS_EFORMAT, "%s: not a commit id", f);
    }
    memcpy(out, data, 40);
    out[40] = 0;
    free(data);
    return 0;
}
