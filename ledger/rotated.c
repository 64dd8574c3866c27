/*
 * ledger/rotated.c - a followed file's rotated copy, decompressed if logrotate compressed it
 * (auditfs/rotated.h). The content goes to an unlinked temporary file so that the follower
 * reads it with pread like any other file; at most `limit` bytes are written, and the caller
 * bounds limit (AUDITFS_ROTATED_MAX), so a small file that inflates without end costs bounded
 * disk and time.
 */
#include "internal.h"

#include "auditfs/rotated.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

int
auditfs_rotated_kind(const char *name)
{
    static const struct {
        const char *ext;
        int kind;
    } ext[] = {{".gz", AUDITFS_ROTATED_GZIP},  {".zst", AUDITFS_ROTATED_ZSTD},
               {".xz", AUDITFS_ROTATED_OTHER}, {".bz2", AUDITFS_ROTATED_OTHER},
               {".lz4", AUDITFS_ROTATED_OTHER}, {".Z", AUDITFS_ROTATED_OTHER}};
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof ext / sizeof *ext; i++) {
        size_t e = strlen(ext[i].ext);
        if (n > e && strcmp(name + n - e, ext[i].ext) == 0)
            return ext[i].kind;
    }
    return AUDITFS_ROTATED_PLAIN;
}

static int
tmp_fd(void)
{
    const char *dir = getenv("TMPDIR");
    int fd = open(dir && dir[0] ? dir : "/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0)
        fd = memfd_create("auditfs-rotated", MFD_CLOEXEC);
    return fd;
}

static int
put_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Both decoders' output step: got bytes to out, stopping at limit in all. Returns 0,
 * LIMIT_REACHED once limit bytes are written (the rest is not wanted), or an error code. */
#define LIMIT_REACHED 1
static int
emit(uint64_t *total, int out, const uint8_t *b, size_t got, uint64_t limit)
{
    int reached = *total + got >= limit;
    if (reached)
        got = (size_t)(limit - *total);
    if (put_all(out, b, got) != 0)
        return afs_error_set(AUDITFS_EIO, "temporary file: %s", strerror(errno));
    *total += got;
    return reached ? LIMIT_REACHED : 0;
}

/* gzip: every member in turn (gzip -c a b > c is two); at most limit bytes to out. */
static int
inflate_gz(int *complete, int in, int out, uint64_t limit, const char *path)
{
    uint8_t ib[65536], ob[65536];
    z_stream z;
    uint64_t total = 0;
    int rc = 0, zr = Z_OK, started = 0, full = 0;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 15 + 16) != Z_OK)
        return afs_error_set(AUDITFS_ENOMEM, "%s: zlib: out of memory", path);
    *complete = 0;
    for (;;) {
        /* input only when inflate has no output left to give (its last call did not fill ob) */
        if (z.avail_in == 0 && !full) {
            ssize_t r = read(in, ib, sizeof ib);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0) {
                rc = afs_error_set(AUDITFS_EIO, "%s: %s", path, strerror(errno));
                break;
            }
            if (r == 0) {
                /* the end of the file: complete only at the end of a member */
                if (started && zr != Z_STREAM_END)
                    rc = afs_error_set(AUDITFS_EFORMAT, "%s: gzip stream cut short", path);
                else
                    *complete = 1;
                break;
            }
            z.next_in = ib;
            z.avail_in = (uInt)r;
        }
        if (zr == Z_STREAM_END && z.avail_in > 0) {
            /* another member follows */
            if (inflateReset(&z) != Z_OK) {
                rc = afs_error_set(AUDITFS_EFORMAT, "%s: gzip: cannot reset", path);
                break;
            }
        }
        started = 1;
        z.next_out = ob;
        z.avail_out = sizeof ob;
        zr = inflate(&z, Z_NO_FLUSH);
        if (zr != Z_OK && zr != Z_STREAM_END && !(zr == Z_BUF_ERROR && z.avail_in == 0)) {
            rc = afs_error_set(AUDITFS_EFORMAT, "%s: not a valid gzip file (%s)", path,
                               z.msg ? z.msg : "zlib error");
            break;
        }
        size_t got = sizeof ob - z.avail_out;
        full = z.avail_out == 0;
        if ((rc = emit(&total, out, ob, got, limit)) != 0)
            break;
    }
    if (rc == LIMIT_REACHED)
        rc = 0; /* not complete: the caller asked for no more */
    inflateEnd(&z);
    return rc;
}

/* zstd: every frame in turn; at most limit bytes to out. */
static int
inflate_zst(int *complete, int in, int out, uint64_t limit, const char *path)
{
    uint8_t ib[65536], ob[65536];
    ZSTD_DStream *d = ZSTD_createDStream();
    ZSTD_inBuffer zi = {ib, 0, 0};
    uint64_t total = 0;
    size_t last = 0;
    int rc = 0, full = 0;
    if (!d)
        return afs_error_set(AUDITFS_ENOMEM, "%s: zstd: out of memory", path);
    /* a frame may not ask for a window beyond 128 MiB (zstd's own default limit) */
    ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, 27);
    *complete = 0;
    for (;;) {
        if (zi.pos == zi.size && !full) {
            ssize_t r = read(in, ib, sizeof ib);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0) {
                rc = afs_error_set(AUDITFS_EIO, "%s: %s", path, strerror(errno));
                break;
            }
            if (r == 0) {
                if (last != 0)
                    rc = afs_error_set(AUDITFS_EFORMAT, "%s: zstd frame cut short", path);
                else
                    *complete = 1;
                break;
            }
            zi.size = (size_t)r;
            zi.pos = 0;
        }
        ZSTD_outBuffer zo = {ob, sizeof ob, 0};
        last = ZSTD_decompressStream(d, &zo, &zi);
        if (ZSTD_isError(last)) {
            rc = afs_error_set(AUDITFS_EFORMAT, "%s: not a valid zstd file (%s)", path,
                               ZSTD_getErrorName(last));
            break;
        }
        size_t got = zo.pos;
        full = got == sizeof ob;
        if ((rc = emit(&total, out, ob, got, limit)) != 0)
            break;
    }
    if (rc == LIMIT_REACHED)
        rc = 0;
    ZSTD_freeDStream(d);
    return rc;
}

int
auditfs_rotated_open(int *out_fd, int *complete, const char *path, uint64_t limit)
{
    int kind = auditfs_rotated_kind(path);
    *out_fd = -1;
    *complete = 0;
    if (kind == AUDITFS_ROTATED_OTHER)
        return afs_error_set(AUDITFS_EINVAL, "%s: compressed in a format auditfs does not read",
                             path);
    int in = open(path, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return afs_error_set(errno == ENOENT ? AUDITFS_ENOTFOUND : AUDITFS_EIO, "%s: %s", path,
                             strerror(errno));
    if (kind == AUDITFS_ROTATED_PLAIN) {
        *out_fd = in;
        *complete = 1;
        return 0;
    }
    int out = tmp_fd();
    if (out < 0) {
        int e = errno;
        close(in);
        return afs_error_set(AUDITFS_EIO, "temporary file for %s: %s", path, strerror(e));
    }
    int rc = kind == AUDITFS_ROTATED_GZIP ? inflate_gz(complete, in, out, limit, path)
                                          : inflate_zst(complete, in, out, limit, path);
    close(in);
    if (rc) {
        close(out);
        return rc;
    }
    *out_fd = out;
    return 0;
}
