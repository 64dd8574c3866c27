/*
 * ledger/fileio.c - reading files that may be hostile, writing files durably, escaping data
 * for human output. The one copy of each (see internal.h).
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int
afs_read_regular(char **out, size_t *len, const char *path, size_t max)
{
    struct stat st;
    char *buf = NULL;
    size_t got = 0;
    int err = 0;
    *out = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
        return afs_error_set(errno == ENOENT ? AUDITFS_ENOTFOUND
                             : errno == ELOOP ? AUDITFS_EFORMAT : AUDITFS_EIO,
                             "%s: %s", path, errno == ELOOP ? "a symbolic link" : strerror(errno));
    if (fstat(fd, &st) != 0) {
        err = afs_error_set(AUDITFS_EIO, "%s: %s", path, strerror(errno));
        goto cleanup;
    }
    if (!S_ISREG(st.st_mode)) {
        err = afs_error_set(AUDITFS_EFORMAT, "%s: not a regular file", path);
        goto cleanup;
    }
    if ((uint64_t)st.st_size > max) {
        err = afs_error_set(AUDITFS_ETOOBIG, "%s: %llu bytes, larger than %zu", path,
                            (unsigned long long)st.st_size, max);
        goto cleanup;
    }
    if (!(buf = malloc((size_t)st.st_size + 1))) {
        err = afs_error_set(AUDITFS_ENOMEM, "out of memory");
        goto cleanup;
    }
    /* read exactly the size fstat gave: a file that grows meanwhile is cut, not followed */
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            err = afs_error_set(AUDITFS_EIO, "%s: %s", path, n < 0 ? strerror(errno) : "shrank");
            goto cleanup;
        }
        got += (size_t)n;
    }
    buf[got] = 0;
    *out = buf;
    *len = got;
    buf = NULL;
cleanup:
    free(buf);
    close(fd);
    return err;
}

int
afs_mkdirs(const char *path)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
        return afs_error_set(AUDITFS_EINVAL, "%.100s...: path too long", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return afs_error_set(AUDITFS_EIO, "%s: %s", tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return afs_error_set(AUDITFS_EIO, "%s: %s", tmp, strerror(errno));
    return 0;
}

int
afs_write_atomic(const char *path, const void *p, size_t n, unsigned mode)
{
    char tmp[4200];
    int err = 0;
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return afs_error_set(AUDITFS_EINVAL, "%.100s...: path too long", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, (mode_t)mode);
    if (fd < 0)
        return afs_error_set(AUDITFS_EIO, "%s: %s", tmp, strerror(errno));
    const uint8_t *q = p;
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(fd, q + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            err = afs_error_set(AUDITFS_EIO, "%s: %s", tmp, w < 0 ? strerror(errno) : "short write");
            break;
        }
        off += (size_t)w;
    }
    if (!err && fsync(fd) != 0)
        err = afs_error_set(AUDITFS_EIO, "%s: fsync: %s", tmp, strerror(errno));
    if (close(fd) != 0 && !err)
        err = afs_error_set(AUDITFS_EIO, "%s: %s", tmp, strerror(errno));
    if (!err && rename(tmp, path) != 0)
        err = afs_error_set(AUDITFS_EIO, "%s: %s", path, strerror(errno));
    if (err) {
        unlink(tmp);
        return err;
    }
    return afs_fsync_dir(path);
}

char *
afs_escape(char *out, size_t cap, const char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char tmp[8];
        size_t k;
        if (c < 0x20 || c == 0x7f)
            k = (size_t)snprintf(tmp, sizeof tmp, "\\x%02x", c);
        else if (c == '\\')
            k = (size_t)snprintf(tmp, sizeof tmp, "\\\\");
        else {
            tmp[0] = (char)c;
            k = 1;
        }
        if (o + k + 4 > cap) {
            if (cap >= 4) {
                o = o + 4 > cap ? cap - 4 : o;
                memcpy(out + o, "...", 3);
                o += 3;
            }
            break;
        }
        memcpy(out + o, tmp, k);
        o += k;
    }
    out[o < cap ? o : cap - 1] = 0;
    return out;
}

char *
auditfs_escape_controls(char *out, size_t cap, const char *s, int keep_newlines)
{
    size_t o = 0;
    for (; *s && o + 1 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 0x20 && c != 0x7f) || (c == '\n' && keep_newlines)) {
            out[o++] = (char)c;
            continue;
        }
        if (o + 5 > cap)
            break;
        snprintf(out + o, 5, "\\x%02x", c);
        o += 4;
    }
    out[o] = 0;
    return out;
}

/*
 * Test hooks: with the environment variable var set to FILE, creates FILE and waits (at most
 * 60 s) until a test removes it, so that the test can act in exactly that window. The
 * variables: AUDITFS_TEST_HOLD_BEFORE_PUBLISH (a batch's pack is durable, the ref not yet
 * moved: tests/cli/cli_gc_race.sh), AUDITFS_TEST_HOLD_BEFORE_ROLL_FORWARD (a writer opening,
 * just before it publishes a dead writer's saved commit: cli_gc_race.sh),
 * AUDITFS_TEST_HOLD_BEFORE_TRUST (a reader has read the head, not yet checked it against the
 * memory: tests/cli/trust_overtaken.sh). Unset or empty: nothing.
 */
void
afs_test_hold(const char *var)
{
    const char *f = getenv(var);
    if (!f || !f[0])
        return;
    int fd = open(f, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    close(fd);
    struct stat st;
    for (int i = 0; i < 6000 && stat(f, &st) == 0; i++)
        usleep(10000);
}
