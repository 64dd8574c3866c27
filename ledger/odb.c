/*
 * ledger/odb.c - a read-only loose-object backend that treats every object file as hostile.
 *
 * libgit2 1.5.1's own loose reader overruns a heap buffer on some corrupt object files (found by
 * tests/cli/cli_tamper.sh, which flips a byte in every object; valgrind shows an invalid write
 * in git_odb_read). A ledger must survive a corrupt repository with a clear error, so this
 * backend is added with the highest priority to every repository the library opens: it reads
 * loose objects with zlib itself, checks the header against hard limits before allocating,
 * requires exactly the declared size and the end of the zlib stream at the end of the file, and
 * checks the SHA-1 of the object against its name. Missing files fall through to libgit2's
 * backends (packs); writes still go to libgit2's loose backend.
 */
#define OPENSSL_API_COMPAT 0x10101000L
#include "internal.h"
#include "odb.h"

#include <errno.h>
#include <fcntl.h>
#include <git2/sys/odb_backend.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/** Largest object we read (segments are a few MiB; documents up to 1 GiB). */
#define MAX_OBJECT ((size_t)1 << 30)

typedef struct safe_loose {
    git_odb_backend parent;
    char *dir; /* ".../objects" */
} safe_loose;

static void
object_path(char *out, size_t cap, const safe_loose *s, const git_oid *oid)
{
    char hex[GIT_OID_HEXSZ + 1];
    git_oid_tostr(hex, sizeof hex, oid);
    snprintf(out, cap, "%s/%.2s/%s", s->dir, hex, hex + 2);
}

static int
bad(const char *path, const char *what)
{
    git_error_set_str(GIT_ERROR_ODB, what);
    (void)path;
    return -1;
}

static git_object_t
parse_type(const char *s, size_t n)
{
    if (n == 4 && !memcmp(s, "blob", 4))
        return GIT_OBJECT_BLOB;
    if (n == 4 && !memcmp(s, "tree", 4))
        return GIT_OBJECT_TREE;
    if (n == 6 && !memcmp(s, "commit", 6))
        return GIT_OBJECT_COMMIT;
    if (n == 3 && !memcmp(s, "tag", 3))
        return GIT_OBJECT_TAG;
    return GIT_OBJECT_INVALID;
}

/* Reads and checks one loose object; *data is allocated with git_odb_backend_data_alloc
 * (or left NULL when want_data is 0). Returns GIT_ENOTFOUND if there is no such file. */
static int
read_loose(void **data, size_t *len, git_object_t *type, safe_loose *s, const git_oid *oid,
           int want_data)
{
    char path[4096];
    uint8_t *file = NULL, *out = NULL;
    z_stream z;
    int zinit = 0, rc = -1;
    char hdr[64];
    struct stat st;

    object_path(path, sizeof path, s, oid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return GIT_ENOTFOUND;
        return bad(path, "cannot open a loose object");
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
        (uint64_t)st.st_size > MAX_OBJECT + 4096) {
        close(fd);
        return bad(path, "loose object file has an impossible size");
    }
    size_t fsize = (size_t)st.st_size;
    file = malloc(fsize);
    if (!file) {
        close(fd);
        return bad(path, "out of memory");
    }
    size_t got = 0;
    while (got < fsize) {
        ssize_t r = read(fd, file + got, fsize - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (got != fsize) {
        rc = bad(path, "short read of a loose object");
        goto cleanup;
    }
    memset(&z, 0, sizeof z);
    if (inflateInit(&z) != Z_OK) {
        rc = bad(path, "zlib init failed");
        goto cleanup;
    }
    zinit = 1;
    z.next_in = file;
    z.avail_in = (uInt)fsize;
    /* the header: "<type> <decimal size>\0", at most a few dozen bytes */
    z.next_out = (Bytef *)hdr;
    z.avail_out = sizeof hdr;
    size_t hlen = 0;
    char *nul = NULL;
    int hzr = Z_OK;
    while (!nul) {
        int zr = hzr = inflate(&z, Z_SYNC_FLUSH);
        hlen = sizeof hdr - z.avail_out;
        nul = memchr(hdr, 0, hlen);
        if (nul)
            break;
        if ((zr != Z_OK && zr != Z_STREAM_END) || z.avail_out == 0) {
            rc = bad(path, "corrupt loose object header");
            goto cleanup;
        }
    }
    char *sp = memchr(hdr, ' ', (size_t)(nul - hdr));
    uint64_t size;
    if (!sp || (*type = parse_type(hdr, (size_t)(sp - hdr))) == GIT_OBJECT_INVALID ||
        !afs_parse_u64(&size, sp + 1, (size_t)(nul - sp - 1)) || size > MAX_OBJECT) {
        rc = bad(path, "corrupt loose object header");
        goto cleanup;
    }
    size_t head_len = (size_t)(nul - hdr) + 1;
    size_t already = hlen - head_len;
    if (already > size) {
        rc = bad(path, "loose object longer than its header says");
        goto cleanup;
    }
    out = malloc(size ? size : 1);
    if (!out) {
        rc = bad(path, "out of memory");
        goto cleanup;
    }
    memcpy(out, nul + 1, already);
    z.next_out = out + already;
    z.avail_out = (uInt)(size - already);
    int zr = hzr;
    if (zr == Z_STREAM_END && already != size) {
        rc = bad(path, "loose object shorter than its header says");
        goto cleanup;
    }
    while (zr == Z_OK && z.avail_out > 0)
        zr = inflate(&z, Z_FINISH);
    if ((zr == Z_BUF_ERROR || zr == Z_OK) && z.avail_out == 0) {
        /* output full: the stream must end right here */
        uint8_t extra;
        z.next_out = &extra;
        z.avail_out = 1;
        zr = inflate(&z, Z_FINISH);
        if (z.avail_out == 0)
            zr = Z_DATA_ERROR;
    }
    if (zr != Z_STREAM_END || z.avail_out != 0 || z.avail_in != 0) {
        rc = bad(path, "corrupt loose object data (zlib)");
        goto cleanup;
    }
    uint8_t sha[SHA_DIGEST_LENGTH];
    SHA_CTX c;
    SHA1_Init(&c);
    SHA1_Update(&c, hdr, head_len);
    SHA1_Update(&c, out, size);
    SHA1_Final(sha, &c);
    if (memcmp(sha, oid->id, SHA_DIGEST_LENGTH) != 0) {
        rc = bad(path, "loose object content does not match its name (SHA-1)");
        goto cleanup;
    }
    *len = size;
    if (want_data) {
        *data = git_odb_backend_data_alloc(&s->parent, size ? size : 1);
        if (!*data) {
            rc = bad(path, "out of memory");
            goto cleanup;
        }
        memcpy(*data, out, size);
    }
    rc = 0;
cleanup:
    if (zinit)
        inflateEnd(&z);
    free(out);
    free(file);
    return rc;
}

static int
sl_read(void **data, size_t *len, git_object_t *type, git_odb_backend *be, const git_oid *oid)
{
    return read_loose(data, len, type, (safe_loose *)be, oid, 1);
}

static int
sl_read_header(size_t *len, git_object_t *type, git_odb_backend *be, const git_oid *oid)
{
    return read_loose(NULL, len, type, (safe_loose *)be, oid, 0);
}

static int
sl_exists(git_odb_backend *be, const git_oid *oid)
{
    char path[4096];
    struct stat st;
    object_path(path, sizeof path, (safe_loose *)be, oid);
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static void
sl_free(git_odb_backend *be)
{
    safe_loose *s = (safe_loose *)be;
    free(s->dir);
    free(s);
}

int
afs_odb_harden(git_repository *repo)
{
    git_odb *odb = NULL;
    safe_loose *s = calloc(1, sizeof *s);
    char dir[4096];
    if (!s)
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    snprintf(dir, sizeof dir, "%sobjects", git_repository_path(repo));
    s->dir = strdup(dir);
    if (!s->dir || git_odb_init_backend(&s->parent, GIT_ODB_BACKEND_VERSION) < 0) {
        free(s->dir);
        free(s);
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    }
    s->parent.read = sl_read;
    s->parent.read_header = sl_read_header;
    s->parent.exists = sl_exists;
    s->parent.free = sl_free;
    if (git_repository_odb(&odb, repo) < 0) {
        sl_free(&s->parent);
        return afs_error_git(AUDITFS_EIO, "cannot open the object database");
    }
    /* priority above libgit2's loose (1) and pack (2) backends */
    if (git_odb_add_backend(odb, &s->parent, 100) < 0) {
        git_odb_free(odb);
        sl_free(&s->parent);
        return afs_error_git(AUDITFS_EIO, "cannot add the object reader");
    }
    git_odb_free(odb);
    return 0;
}
