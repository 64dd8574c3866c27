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
 * backends (packs).
 *
 * It also writes loose objects, with zlib's stored (level 0) blocks: what auditfs writes is
 * zstd segments and SHA-256 tiles, which deflate cannot shrink, and libgit2's level-1 deflate
 * was a third of append's CPU time. Objects are written to a temporary file and renamed into
 * place; they are made durable by the writer's syncfs() before the ref moves (ingest.c).
 *
 * Between afs_odb_batch_begin and afs_odb_batch_finish (the writer's batches), objects are not
 * written loose but appended to one pack (pack.c), which is durable when finish returns. Reads
 * look in that pending pack, then in the packs (pack.c's checked reader), then loose objects;
 * what none of them has (deltified objects of git gc's packs) falls through to libgit2.
 *
 * Concurrent `git gc` / `git repack -a -d` (the invariant that keeps acknowledged batches): git
 * keeps only what a ref reaches when it enumerates, and deletes every unkept pack it found. A
 * batch's objects are reachable only once the ref moves, so (1) its pack is kept (.keep, pack.h)
 * from before it is visible until the commit is published, and (2) a batch never relies on a
 * copy of an object outside its own pack except the trees and blobs of the head it builds on
 * (reachable, so git keeps them): an identical object found in another pack or loose may be
 * garbage of an abandoned batch that git deletes at any moment, so while batching neither
 * afs_odb_write_blob nor libgit2's write (through freshen) skips an object found elsewhere.
 */
#define OPENSSL_API_COMPAT 0x10101000L
#include "internal.h"
#include "odb.h"
#include "pack.h"

#include <errno.h>
#include <fcntl.h>
#include <git2/sys/odb_backend.h>
#include <git2/sys/repository.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/** Largest object we read (segments are a few MiB; documents up to 1 GiB). */
#define MAX_OBJECT AFS_MAX_OBJECT
/** Largest commit, tree or tag (a ledger's trees hold at most ~1000 names: tens of KiB). */
#define MAX_META AFS_MAX_META

/* The cap for an object of type t: blobs may be documents, the rest is structure. Loose and
 * packed objects get the same caps, checked from their headers before anything is inflated. */
static int
too_big(git_object_t t, uint64_t size)
{
    return size > (t == GIT_OBJECT_BLOB ? MAX_OBJECT : MAX_META);
}

typedef struct safe_loose {
    git_odb_backend parent;
    char *dir; /* ".../objects" */
    uint8_t made[32]; /* fan-out directories known to exist (bit per first byte) */
    afs_packset *packs; /* checked reader of objects/pack/ */
    afs_packw *pending; /* the batch's pack while batching, else NULL */
    int loose_written;  /* loose objects written since the last afs_odb_batch_finish */
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

/*
 * Reads and checks one loose object; *data is allocated with git_odb_backend_data_alloc
 * (or left NULL when want_data is 0). Returns GIT_ENOTFOUND if there is no such file.
 * Long because it is one bounds-checked pass over a loose object in the order of its format
 * (file, zlib stream, header, body, digest): each check relies on the ones above it, and the
 * mutants in tests/mutation/mutants.txt name them; split, it would hand half-checked state
 * between functions.
 */
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
        !afs_parse_u64(&size, sp + 1, (size_t)(nul - sp - 1)) || too_big(*type, size)) {
        rc = bad(path, "corrupt loose object header (or an object over its size cap)");
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
        /* one byte more, NUL: libgit2's own loose reader NUL-terminates, and some of its
         * parsers rely on it (git_commit_extract_signature copies the message with strlen) */
        *data = git_odb_backend_data_alloc(&s->parent, size + 1);
        if (!*data) {
            rc = bad(path, "out of memory");
            goto cleanup;
        }
        memcpy(*data, out, size);
        ((char *)*data)[size] = 0;
    }
    rc = 0;
cleanup:
    if (zinit)
        inflateEnd(&z);
    free(out);
    free(file);
    return rc;
}

static void *
backend_alloc(void *be, size_t n)
{
    return git_odb_backend_data_alloc(be, n);
}

static int
sl_read(void **data, size_t *len, git_object_t *type, git_odb_backend *be, const git_oid *oid)
{
    safe_loose *s = (safe_loose *)be;
    if (s->pending) {
        void *p = NULL;
        int rc = afs_packw_read(s->pending, oid, &p, len, type);
        if (rc != GIT_ENOTFOUND) {
            if (rc == 0) {
                *data = git_odb_backend_data_alloc(be, *len + 1); /* NUL-terminated */
                if (*data) {
                    memcpy(*data, p, *len);
                    ((char *)*data)[*len] = 0;
                } else
                    rc = bad("", "out of memory");
            }
            free(p);
            return rc;
        }
    }
    int rc = afs_packset_read(s->packs, oid, data, len, type, backend_alloc, be);
    if (rc != GIT_ENOTFOUND)
        return rc;
    return read_loose(data, len, type, s, oid, 1);
}

/*
 * The type and size of a loose object, from its first bytes only. libgit2 asks for this for
 * every entry of every tree it writes (strict object creation), right after we wrote the
 * object: reading and hashing the whole object here re-read every batch once more. The
 * content is checked (size, SHA-1) when it is read.
 */
static int
sl_read_header(size_t *len, git_object_t *type, git_odb_backend *be, const git_oid *oid)
{
    char path[4096];
    uint8_t in[512];
    char hdr[64];
    z_stream z;
    safe_loose *s = (safe_loose *)be;
    if (s->pending && afs_packw_header(s->pending, oid, type, len))
        return 0;
    int rc = afs_packset_read(s->packs, oid, NULL, len, type, NULL, NULL);
    if (rc != GIT_ENOTFOUND)
        return rc;
    object_path(path, sizeof path, s, oid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? GIT_ENOTFOUND : bad(path, "cannot open a loose object");
    ssize_t n = read(fd, in, sizeof in);
    close(fd);
    if (n <= 0)
        return bad(path, "cannot read a loose object");
    memset(&z, 0, sizeof z);
    if (inflateInit(&z) != Z_OK)
        return bad(path, "zlib init failed");
    z.next_in = in;
    z.avail_in = (uInt)n;
    z.next_out = (Bytef *)hdr;
    z.avail_out = sizeof hdr;
    int zr = inflate(&z, Z_SYNC_FLUSH);
    size_t hl = sizeof hdr - z.avail_out;
    inflateEnd(&z);
    char *nul = memchr(hdr, 0, hl);
    char *sp = nul ? memchr(hdr, ' ', (size_t)(nul - hdr)) : NULL;
    uint64_t size;
    if ((zr != Z_OK && zr != Z_STREAM_END) || !sp ||
        (*type = parse_type(hdr, (size_t)(sp - hdr))) == GIT_OBJECT_INVALID ||
        !afs_parse_u64(&size, sp + 1, (size_t)(nul - sp - 1)) || too_big(*type, size))
        return bad(path, "corrupt loose object header (or an object over its size cap)");
    *len = (size_t)size;
    return 0;
}

static int
sl_exists(git_odb_backend *be, const git_oid *oid)
{
    char path[4096];
    struct stat st;
    safe_loose *s = (safe_loose *)be;
    git_object_t t;
    size_t n;
    if (s->pending && afs_packw_header(s->pending, oid, &t, &n))
        return 1;
    if (afs_packset_exists(s->packs, oid)) /* in memory (a writer never rescans on a miss) */
        return 1;
    object_path(path, sizeof path, s, oid);
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* git_odb_write skips an object a backend "freshens" (has). While batching only the pending
 * pack counts: see the invariant at the top. */
static int
sl_freshen(git_odb_backend *be, const git_oid *oid)
{
    safe_loose *s = (safe_loose *)be;
    git_object_t t;
    size_t n;
    if (s->pending)
        return afs_packw_header(s->pending, oid, &t, &n) ? 0 : GIT_ENOTFOUND;
    return sl_exists(be, oid) ? 0 : GIT_ENOTFOUND;
}

static int
write_fully(int fd, const void *p, size_t n)
{
    const uint8_t *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

/*
 * Writes one loose object (stored deflate) under dir, unless it exists. made caches which
 * fan-out directories exist (NULL: always try mkdir).
 * Long because it is one crash-safe write (temporary file, stored deflate of header and body,
 * read-only mode, close, rename) whose every step has its own failure and cleanup.
 */
static int
write_loose(const char *dir, uint8_t *made, const git_oid *oid, const void *data, size_t len,
            git_object_t type)
{
    char path[4096], tmp[4096], hdr[64];
    struct stat st;
    uint8_t out[65536];
    z_stream z;
    int fd = -1, rc = -1;

    char hex[GIT_OID_HEXSZ + 1];
    git_oid_tostr(hex, sizeof hex, oid);
    snprintf(path, sizeof path, "%s/%.2s/%s", dir, hex, hex + 2);
    if (stat(path, &st) == 0)
        return 0; /* content-addressed: already there */
    errno = 0;
    const char *tname = git_object_type2string(type);
    int hl = snprintf(hdr, sizeof hdr, "%s %zu", tname, len);
    if (hl < 0 || (size_t)hl >= sizeof hdr)
        return bad(path, "bad object header");
    size_t hlen = (size_t)hl + 1; /* with the NUL */
    snprintf(tmp, sizeof tmp, "%s", path);
    char *slash = strrchr(tmp, '/');
    *slash = '\0';
    uint8_t fan = oid->id[0];
    if (!made || !(made[fan >> 3] & (1u << (fan & 7)))) {
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST) {
            char msg[256];
            snprintf(msg, sizeof msg, "cannot create an object directory: %s", strerror(errno));
            return bad(path, msg);
        }
        if (made)
            made[fan >> 3] |= (uint8_t)(1u << (fan & 7));
    }
    snprintf(slash, sizeof tmp - (size_t)(slash - tmp), "/tmp_obj_XXXXXX");
    fd = mkstemp(tmp);
    if (fd < 0 && errno == ENOENT) {
        /* `git gc` / `git prune` removed the (then empty) fan-out directory since we made it */
        *slash = '\0';
        if (mkdir(tmp, 0755) == 0 || errno == EEXIST) {
            snprintf(slash, sizeof tmp - (size_t)(slash - tmp), "/tmp_obj_XXXXXX");
            fd = mkstemp(tmp);
        }
    }
    if (fd < 0) {
        char msg[256];
        snprintf(msg, sizeof msg, "cannot create an object file: %s", strerror(errno));
        return bad(path, msg);
    }
    memset(&z, 0, sizeof z);
    if (deflateInit(&z, Z_NO_COMPRESSION) != Z_OK)
        goto cleanup;
    /* header, then data, each through the same stream */
    const uint8_t *parts[2] = {(const uint8_t *)hdr, data};
    size_t lens[2] = {hlen, len};
    int zr = Z_OK;
    for (int i = 0; i < 2 && zr != Z_STREAM_ERROR; i++) {
        const uint8_t *p = parts[i];
        size_t left = lens[i];
        int flush = i == 1 ? Z_FINISH : Z_NO_FLUSH;
        do {
            uInt chunk = left > (1u << 30) ? (1u << 30) : (uInt)left;
            z.next_in = (Bytef *)p;
            z.avail_in = chunk;
            p += chunk;
            left -= chunk;
            int f = left ? Z_NO_FLUSH : flush;
            do {
                z.next_out = out;
                z.avail_out = sizeof out;
                zr = deflate(&z, f);
                if (zr == Z_STREAM_ERROR || write_fully(fd, out, sizeof out - z.avail_out) != 0) {
                    zr = Z_STREAM_ERROR;
                    break;
                }
            } while (z.avail_out == 0 || (f == Z_FINISH && zr != Z_STREAM_END));
        } while (left && zr != Z_STREAM_ERROR);
    }
    deflateEnd(&z);
    if (zr != Z_STREAM_END) {
        if (errno == 0)
            errno = EIO;
        goto cleanup;
    }
    if (fchmod(fd, 0444) != 0) /* keeps errno for the message */
        goto cleanup;
    if (close(fd) != 0) { /* a full disk can show up only here */
        fd = -1;
        goto cleanup;
    }
    fd = -1;
    if (rename(tmp, path) != 0)
        goto cleanup;
    return 0;
cleanup:
    {
        int e = errno;
        char msg[256];
        if (fd >= 0)
            close(fd);
        unlink(tmp);
        snprintf(msg, sizeof msg, "cannot write a loose object: %s", strerror(e ? e : EIO));
        git_error_set_str(GIT_ERROR_ODB, msg);
    }
    return rc;
}

static int
sl_refresh(git_odb_backend *be)
{
    return afs_packset_refresh(((safe_loose *)be)->packs);
}

static int
sl_write(git_odb_backend *be, const git_oid *oid, const void *data, size_t len, git_object_t type)
{
    safe_loose *s = (safe_loose *)be;
    if (s->pending)
        return afs_packw_add(s->pending, oid, type, data, len);
    s->loose_written = 1;
    return write_loose(s->dir, s->made, oid, data, len, type);
}

/* Our backend in repo's object database, or NULL. */
static safe_loose *
our_backend(git_repository *repo)
{
    git_odb *odb = NULL;
    safe_loose *s = NULL;
    if (git_repository_odb(&odb, repo) < 0)
        return NULL;
    for (size_t i = 0, n = git_odb_num_backends(odb); i < n && !s; i++) {
        git_odb_backend *be = NULL;
        /* the ledger's own backend, never an alternate's (those have no write) */
        if (git_odb_get_backend(&be, odb, i) == 0 && be->read == sl_read && be->write == sl_write)
            s = (safe_loose *)be;
    }
    git_odb_free(odb); /* the repository keeps the database (and s) alive */
    return s;
}

static void *
plain_alloc(void *ctx, size_t n)
{
    (void)ctx;
    return malloc(n);
}

int
afs_odb_read_checked(void **data, size_t *len, git_object_t *type, git_repository *repo,
                     const git_oid *oid)
{
    safe_loose *s = our_backend(repo);
    *data = NULL;
    if (!s)
        return GIT_ENOTFOUND;
    if (s->pending) {
        void *p = NULL;
        int rc = afs_packw_read(s->pending, oid, &p, len, type);
        if (rc != GIT_ENOTFOUND) {
            *data = p;
            return rc;
        }
    }
    int rc = afs_packset_read(s->packs, oid, data, len, type, plain_alloc, NULL);
    if (rc != GIT_ENOTFOUND)
        return rc;
    /* loose: the hardened reader allocates through libgit2; the caller frees with free() */
    void *p = NULL;
    if ((rc = read_loose(&p, len, type, s, oid, 1)) != 0)
        return rc;
    if ((*data = malloc(*len + 1)) != NULL)
        memcpy(*data, p, *len + 1);
    git_odb_backend_data_free(&s->parent, p);
    return *data ? 0 : bad("", "out of memory");
}

int
afs_odb_read_span(git_repository *repo, const git_oid *oid, uint64_t from, void *buf, size_t n,
                  uint64_t *size)
{
    safe_loose *s = our_backend(repo);
    if (!s || s->pending) /* a writer's batch: its pack is read whole (afs_odb_read_checked) */
        return GIT_ENOTFOUND;
    return afs_packset_read_span(s->packs, oid, from, buf, n, size);
}

int
afs_odb_batch_begin(git_repository *repo)
{
    safe_loose *s = our_backend(repo);
    git_odb *odb = NULL;
    if (!s)
        return afs_error_set(AUDITFS_EIO, "the repository has no auditfs object backend");
    /* the caller now holds the ledger lock: see every pack written before it (another writer's,
     * while this one waited), then stop rescanning on misses */
    if (!s->pending && (git_repository_odb(&odb, repo) < 0 || git_odb_refresh(odb) < 0)) {
        git_odb_free(odb);
        return afs_error_git(AUDITFS_EIO, "%s: cannot rescan the packs", s->dir);
    }
    git_odb_free(odb);
    afs_packset_writer(s->packs);
    return s->pending ? 0 : afs_packw_new(&s->pending, s->dir);
}

void
afs_odb_remove_stale_keeps(git_repository *repo)
{
    safe_loose *s = our_backend(repo);
    /* holding the lock: no other auditfs batch is between its pack and its ref move, so a .keep
     * of ours is left by a writer that died there; the caller has published that writer's
     * saved commit first, if it had one (auditfs_writer_open), so its pack is reachable */
    if (s)
        afs_pack_remove_stale_keeps(s->dir);
}

void
afs_odb_batch_published(git_repository *repo)
{
    safe_loose *s = our_backend(repo);
    if (s && s->pending)
        afs_packw_unkeep(s->pending);
}

int
afs_odb_batch_finish(git_repository *repo, int *loose_written)
{
    safe_loose *s = our_backend(repo);
    char name[64];
    *loose_written = 1;
    if (!s)
        return afs_error_set(AUDITFS_EIO, "the repository has no auditfs object backend");
    *loose_written = s->loose_written;
    s->loose_written = 0;
    if (!s->pending)
        return 0;
    if (afs_packw_finish(s->pending, name) != 0)
        return afs_error_git(AUDITFS_EIO, "%s: cannot write the batch's pack", s->dir);
    if (name[0] && afs_packset_add(s->packs, name) != 0)
        return afs_error_set(AUDITFS_EIO, "%s/pack/%s: the pack just written does not read back",
                             s->dir, name);
    return 0;
}

void
afs_odb_batch_abort(git_repository *repo)
{
    safe_loose *s = our_backend(repo);
    if (s && s->pending)
        afs_packw_abort(s->pending);
}

int
afs_odb_write_blob_entry(git_oid *out, git_repository *repo, const uint8_t sha1[20],
                         const void *data, size_t len, const void *entry, size_t elen,
                         uint32_t crc)
{
    safe_loose *s = our_backend(repo);
    if (!s || !s->pending)
        return afs_odb_write_blob(out, repo, data, len);
    git_oid_fromraw(out, sha1);
    if (afs_packw_add_entry(s->pending, out, GIT_OBJECT_BLOB, len, entry, elen, crc) != 0)
        return afs_error_git(AUDITFS_EIO, "%sobjects: cannot write a blob",
                             git_repository_path(repo));
    return 0;
}

int
afs_odb_write_blob(git_oid *out, git_repository *repo, const void *data, size_t len)
{
    static _Thread_local uint8_t made[32];
    static _Thread_local char made_for[4096];
    char dir[4096], hdr[64];
    uint8_t sha[SHA_DIGEST_LENGTH];
    SHA_CTX c;
    int hl = snprintf(hdr, sizeof hdr, "blob %zu", len);
    SHA1_Init(&c);
    SHA1_Update(&c, hdr, (size_t)hl + 1);
    SHA1_Update(&c, data, len);
    SHA1_Final(sha, &c);
    git_oid_fromraw(out, sha);
    snprintf(dir, sizeof dir, "%sobjects", git_repository_path(repo));
    safe_loose *s = our_backend(repo);
    if (s && s->pending) {
        /* written even if a pack has it (the same document content published twice): that
         * copy may be an abandoned batch's, unreachable, and git gc may delete it before this
         * batch's ref move (see the top); pending duplicates are skipped by afs_packw_add */
        if (afs_packw_add(s->pending, out, GIT_OBJECT_BLOB, data, len) != 0)
            return afs_error_git(AUDITFS_EIO, "%s: cannot write a blob", dir);
        return 0;
    }
    if (s)
        s->loose_written = 1;
    if (strcmp(made_for, dir) != 0) {
        memset(made, 0, sizeof made);
        snprintf(made_for, sizeof made_for, "%s", dir);
    }
    if (write_loose(dir, made, out, data, len, GIT_OBJECT_BLOB) != 0)
        return afs_error_git(AUDITFS_EIO, "%s: cannot write a blob", dir);
    return 0;
}

/*
 * libgit2's pack reader, behind the same size caps: every read first asks the pack for the
 * object's type and size (its header, or a delta's result size: no inflation) and refuses an
 * object over its cap. Without this a small packed object that inflates to 1 GiB cost every
 * command seconds and gigabytes, and a following mount paid it again on every poll.
 */
typedef struct capped_pack {
    git_odb_backend parent;
    git_odb_backend *inner;
} capped_pack;

static int
cp_check(capped_pack *c, const git_oid *oid)
{
    size_t len;
    git_object_t t;
    c->inner->odb = c->parent.odb;
    int r = c->inner->read_header(&len, &t, c->inner, oid);
    if (r < 0)
        return r;
    if (too_big(t, len)) {
        char hex[GIT_OID_HEXSZ + 1];
        git_oid_tostr(hex, sizeof hex, oid);
        git_error_set(GIT_ERROR_ODB, "packed object %s: %zu bytes, over its size cap", hex, len);
        return -1;
    }
    return 0;
}

static int
cp_read(void **data, size_t *len, git_object_t *type, git_odb_backend *be, const git_oid *oid)
{
    capped_pack *c = (capped_pack *)be;
    int r = cp_check(c, oid);
    return r < 0 ? r : c->inner->read(data, len, type, c->inner, oid);
}

static int
cp_read_prefix(git_oid *out, void **data, size_t *len, git_object_t *type, git_odb_backend *be,
               const git_oid *prefix, size_t plen)
{
    capped_pack *c = (capped_pack *)be;
    git_oid full;
    c->inner->odb = c->parent.odb;
    int r = c->inner->exists_prefix(&full, c->inner, prefix, plen);
    if (r < 0)
        return r;
    if ((r = cp_check(c, &full)) < 0)
        return r;
    return c->inner->read_prefix(out, data, len, type, c->inner, &full, GIT_OID_HEXSZ);
}

static int
cp_read_header(size_t *len, git_object_t *type, git_odb_backend *be, const git_oid *oid)
{
    capped_pack *c = (capped_pack *)be;
    c->inner->odb = c->parent.odb;
    return c->inner->read_header(len, type, c->inner, oid);
}

static int
cp_exists(git_odb_backend *be, const git_oid *oid)
{
    capped_pack *c = (capped_pack *)be;
    return c->inner->exists(c->inner, oid);
}

static int
cp_exists_prefix(git_oid *out, git_odb_backend *be, const git_oid *prefix, size_t plen)
{
    capped_pack *c = (capped_pack *)be;
    return c->inner->exists_prefix(out, c->inner, prefix, plen);
}

static int
cp_refresh(git_odb_backend *be)
{
    capped_pack *c = (capped_pack *)be;
    return c->inner->refresh ? c->inner->refresh(c->inner) : 0;
}

static int
cp_foreach(git_odb_backend *be, git_odb_foreach_cb cb, void *payload)
{
    capped_pack *c = (capped_pack *)be;
    return c->inner->foreach(c->inner, cb, payload);
}

static void
cp_free(git_odb_backend *be)
{
    capped_pack *c = (capped_pack *)be;
    c->inner->free(c->inner);
    free(c);
}

/* Wraps libgit2's pack backend (taking ownership) in the size caps. */
static int
cap_packs(git_odb_backend **out, git_odb_backend *inner)
{
    capped_pack *c = calloc(1, sizeof *c);
    if (!c || git_odb_init_backend(&c->parent, GIT_ODB_BACKEND_VERSION) < 0) {
        free(c);
        return -1;
    }
    c->inner = inner;
    c->parent.read = cp_read;
    c->parent.read_prefix = cp_read_prefix;
    c->parent.read_header = cp_read_header;
    c->parent.exists = cp_exists;
    c->parent.exists_prefix = cp_exists_prefix;
    c->parent.refresh = cp_refresh;
    c->parent.foreach = cp_foreach;
    c->parent.free = cp_free;
    *out = &c->parent;
    return 0;
}

static void
sl_free(git_odb_backend *be)
{
    safe_loose *s = (safe_loose *)be;
    afs_packw_free(s->pending);
    afs_packset_free(s->packs);
    free(s->dir);
    free(s);
}

/*
 * libgit2's pack reader, behind a thin wrapper: while this process is writing a batch
 * (s->pending), a lookup miss does not make libgit2 rescan objects/pack/ (opendir plus an open
 * of multi-pack-index for every new tree and commit: 4,000 openat per million records). The
 * writer holds the ledger lock and adds every pack itself; our reader (pack.c) serves them.
 */
typedef struct pack_wrap {
    git_odb_backend parent;
    git_odb_backend *inner;
    safe_loose *ours;
} pack_wrap;

/* the inner backend reads its object database pointer (delta bases) from itself */
static git_odb_backend *
inner_of(git_odb_backend *be)
{
    pack_wrap *w = (pack_wrap *)be;
    w->inner->odb = be->odb;
    return w->inner;
}
#define INNER(be) inner_of(be)

static int
pw_read(void **d, size_t *n, git_object_t *t, git_odb_backend *be, const git_oid *id)
{
    return INNER(be)->read(d, n, t, INNER(be), id);
}
static int
pw_read_prefix(git_oid *o, void **d, size_t *n, git_object_t *t, git_odb_backend *be,
               const git_oid *id, size_t len)
{
    return INNER(be)->read_prefix(o, d, n, t, INNER(be), id, len);
}
static int
pw_read_header(size_t *n, git_object_t *t, git_odb_backend *be, const git_oid *id)
{
    return INNER(be)->read_header(n, t, INNER(be), id);
}
static int
pw_exists(git_odb_backend *be, const git_oid *id)
{
    return INNER(be)->exists(INNER(be), id);
}
static int
pw_exists_prefix(git_oid *o, git_odb_backend *be, const git_oid *id, size_t len)
{
    return INNER(be)->exists_prefix(o, INNER(be), id, len);
}
static int
pw_refresh(git_odb_backend *be)
{
    pack_wrap *w = (pack_wrap *)be;
    if (w->ours && w->ours->pending)
        return 0; /* a writer: nothing new but what it added (pack.c reads those) */
    return w->inner->refresh(w->inner);
}
static int
pw_foreach(git_odb_backend *be, git_odb_foreach_cb cb, void *payload)
{
    return INNER(be)->foreach(INNER(be), cb, payload);
}
static int
pw_writepack(git_odb_writepack **out, git_odb_backend *be, git_odb *odb,
             git_indexer_progress_cb cb, void *payload)
{
    return INNER(be)->writepack(out, INNER(be), odb, cb, payload);
}
static int
pw_writemidx(git_odb_backend *be)
{
    return INNER(be)->writemidx(INNER(be));
}
static int
pw_freshen(git_odb_backend *be, const git_oid *id)
{
    pack_wrap *w = (pack_wrap *)be;
    if (w->ours && w->ours->pending)
        return GIT_ENOTFOUND; /* a batch writes its own copy: see the invariant at the top */
    if (INNER(be)->freshen)
        return INNER(be)->freshen(INNER(be), id);
    return INNER(be)->exists(INNER(be), id) ? 0 : GIT_ENOTFOUND;
}
static void
pw_free(git_odb_backend *be)
{
    INNER(be)->free(INNER(be));
    free(be);
}

/* Wraps inner (taking it over; freed on failure too). */
static int
pack_wrap_new(git_odb_backend **out, git_odb_backend *inner, safe_loose *ours)
{
    pack_wrap *w = calloc(1, sizeof *w);
    if (!w || git_odb_init_backend(&w->parent, GIT_ODB_BACKEND_VERSION) < 0) {
        free(w);
        inner->free(inner);
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    }
    w->inner = inner;
    w->ours = ours;
    w->parent.read = inner->read ? pw_read : NULL;
    w->parent.read_prefix = inner->read_prefix ? pw_read_prefix : NULL;
    w->parent.read_header = inner->read_header ? pw_read_header : NULL;
    w->parent.exists = inner->exists ? pw_exists : NULL;
    w->parent.exists_prefix = inner->exists_prefix ? pw_exists_prefix : NULL;
    w->parent.refresh = inner->refresh ? pw_refresh : NULL;
    w->parent.foreach = inner->foreach ? pw_foreach : NULL;
    w->parent.writepack = inner->writepack ? pw_writepack : NULL;
    w->parent.writemidx = inner->writemidx ? pw_writemidx : NULL;
    w->parent.freshen = pw_freshen; /* never NULL: libgit2 would ask exists instead */
    w->parent.free = pw_free;
    *out = &w->parent;
    return 0;
}

/*
 * Alternates (objects/info/alternates: one objects directory per line, absolute or relative to
 * the objects directory that names it; '#' comments), as `git clone --shared` writes them. Each
 * is added read-only, with the same checked loose reader and libgit2's pack reader, and its own
 * alternates are followed up to git's depth limit of 5. Objects found there are checked against
 * their names like any other, so an alternate can only supply the objects the ledger names.
 */
#define MAX_ALT_DEPTH 5
static int
add_alternates(git_odb *odb, const char *objdir, int depth)
{
    char f[4200];
    snprintf(f, sizeof f, "%s/info/alternates", objdir);
    FILE *fp = fopen(f, "re");
    if (!fp)
        return 0;
    char line[4096];
    int err = 0;
    while (!err && fgets(line, sizeof line, fp)) {
        size_t n = strcspn(line, "\r\n");
        line[n] = 0;
        if (n == 0 || line[0] == '#')
            continue;
        if (depth >= MAX_ALT_DEPTH) {
            err = afs_error_set(AUDITFS_EFORMAT, "%s: alternates nested deeper than %d", f,
                                MAX_ALT_DEPTH);
            break;
        }
        char dir[8300];
        if (line[0] == '/')
            snprintf(dir, sizeof dir, "%s", line);
        else
            snprintf(dir, sizeof dir, "%s/%s", objdir, line);
        struct stat st;
        if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
            continue; /* git ignores a missing alternate too; a missing object is then reported */
        /* Invariant: every safe_loose has its checked pack reader (s->packs, never NULL:
         * sl_read, sl_read_header and sl_exists use it unconditionally) and no pending pack (no
         * write: alternates are read-only, and our_backend never picks one). */
        safe_loose *s = calloc(1, sizeof *s);
        git_odb_backend *packs = NULL, *raw_packs = NULL;
        if (!s || !(s->dir = strdup(dir)) || afs_packset_new(&s->packs, dir) != 0 ||
            git_odb_init_backend(&s->parent, GIT_ODB_BACKEND_VERSION) < 0) {
            if (s) {
                afs_packset_free(s->packs);
                free(s->dir);
            }
            free(s);
            err = afs_error_set(AUDITFS_ENOMEM, "out of memory");
            break;
        }
        s->parent.read = sl_read;
        s->parent.read_header = sl_read_header;
        s->parent.exists = sl_exists;
        s->parent.refresh = sl_refresh;
        s->parent.free = sl_free;
        if (git_odb_add_alternate(odb, &s->parent, 2) < 0) {
            sl_free(&s->parent);
            err = afs_error_git(AUDITFS_EIO, "%s: cannot add the alternate", dir);
            break;
        }
        /* libgit2's pack reader (deltified objects) under the same size caps as the ledger's */
        if (git_odb_backend_pack(&raw_packs, dir) < 0) {
            err = afs_error_git(AUDITFS_EIO, "%s: cannot read the alternate's packs", dir);
            break;
        }
        if (cap_packs(&packs, raw_packs) < 0) {
            raw_packs->free(raw_packs);
            err = afs_error_set(AUDITFS_ENOMEM, "out of memory");
            break;
        }
        if (git_odb_add_alternate(odb, packs, 1) < 0) {
            packs->free(packs);
            err = afs_error_git(AUDITFS_EIO, "%s: cannot read the alternate's packs", dir);
            break;
        }
        err = add_alternates(odb, dir, depth + 1);
    }
    fclose(fp);
    return err;
}

int
afs_odb_harden(git_repository *repo)
{
    git_odb *odb = NULL;
    git_odb_backend *packs = NULL, *raw_packs = NULL;
    safe_loose *s = calloc(1, sizeof *s);
    char dir[4096];
    int err = 0;
    if (!s)
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    snprintf(dir, sizeof dir, "%sobjects", git_repository_path(repo));
    s->dir = strdup(dir);
    if (!s->dir || afs_packset_new(&s->packs, dir) != 0 ||
        git_odb_init_backend(&s->parent, GIT_ODB_BACKEND_VERSION) < 0) {
        afs_packset_free(s->packs);
        free(s->dir);
        free(s);
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    }
    s->parent.read = sl_read;
    s->parent.read_header = sl_read_header;
    s->parent.exists = sl_exists;
    s->parent.write = sl_write;
    s->parent.refresh = sl_refresh;
    s->parent.freshen = sl_freshen;
    s->parent.free = sl_free;
    /* A fresh object database with exactly two backends: ours for loose objects (reads and
     * all writes) and libgit2's for packs. libgit2's loose backend is left out: a write that
     * fails in ours (a full disk) must fail, not be retried by a second writer whose partial
     * results and error messages confused the report. */
    if (git_odb_new(&odb) < 0 || git_odb_backend_pack(&raw_packs, dir) < 0) {
        err = afs_error_git(AUDITFS_EIO, "%s: cannot open the object database", dir);
        goto fail;
    }
    if (cap_packs(&packs, raw_packs) < 0) {
        raw_packs->free(raw_packs);
        err = afs_error_set(AUDITFS_ENOMEM, "out of memory");
        goto fail;
    }
    /* and behind the writer's wrapper (no rescans while a batch is written) */
    git_odb_backend *inner = packs;
    packs = NULL;
    if ((err = pack_wrap_new(&packs, inner, s)) != 0)
        goto fail;
    if (git_odb_add_backend(odb, packs, 1) < 0) {
        err = afs_error_git(AUDITFS_EIO, "cannot add the pack reader");
        goto fail;
    }
    packs = NULL; /* owned by odb */
    if (git_odb_add_backend(odb, &s->parent, 2) < 0) {
        err = afs_error_git(AUDITFS_EIO, "cannot add the object reader");
        goto fail;
    }
    s = NULL; /* owned by odb */
    if ((err = add_alternates(odb, dir, 0)) != 0)
        goto fail;
    if (git_repository_set_odb(repo, odb) < 0) {
        git_odb_free(odb);
        return afs_error_git(AUDITFS_EIO, "cannot install the object database");
    }
    git_odb_free(odb);
    return 0;
fail:
    if (packs)
        packs->free(packs);
    if (s)
        sl_free(&s->parent);
    git_odb_free(odb);
    return err;
}
