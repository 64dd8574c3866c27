/*
 * ledger/pack.c - one git pack per batch, and a reader that treats every pack as hostile.
 *
 * Writing (issue 13): a batch used to leave ~130 loose object files (segments, tiles, trees, the
 * checkpoint, the commit), each a temporary file, a rename and a directory entry, 7,738 files
 * and ~20,000 openat calls per million records. The writer now appends every object of a batch
 * to one pack (git pack format version 2, objects never deltified, zlib stored blocks: segments
 * are zstd and tiles SHA-256, deflate cannot shrink them) in objects/pack/tmp_pack_*, then
 * writes its version-2 .idx, fsyncs both, renames the pack and then the .idx into place (git
 * and libgit2 only look at packs that have an .idx) and fsyncs the directory, all before the
 * ref moves. A crash before the rename leaves a tmp_pack_* file that git gc removes. A
 * pack-<sha>.keep is written before the renames and removed once the ref names the batch's
 * commit (pack.h, AFS_PACK_KEEP): until then a concurrent git repack -a -d would delete it.
 *
 * Reading: libgit2's pack reader trusts the sizes a pack declares. This reader loads each
 * pack-*.idx completely and checks it (magic, version, monotonic fan-out, sorted names, sizes,
 * its own SHA-1 trailer, the pack's header count and trailer) before using it, and for each
 * object read checks the offset against the pack's size, caps the declared size at
 * AFS_MAX_OBJECT before allocating, inflates exactly that many bytes to the end of the zlib
 * stream, and checks the object's SHA-1 against its name. Deltified objects (packs made by git
 * gc) are left to libgit2. At most PACK_FDS (256) pack files are open at a time: random reads
 * (proofs) over 60 packs per million entries reopened packs with fewer.
 */
#define OPENSSL_API_COMPAT 0x10101000L
#include "pack.h"
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <git2/sys/odb_backend.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define WBUF ((size_t)1 << 20)
#define STORED_MAX 65535u
#define PACK_FDS 256
#define IDX_MAX ((size_t)1 << 29)

static int
fail(const char *what, const char *path)
{
    char msg[512];
    snprintf(msg, sizeof msg, "%.300s: %s", path, what);
    git_error_set_str(GIT_ERROR_ODB, msg);
    return -1;
}

static int
fail_errno(const char *what, const char *path)
{
    char msg[512];
    snprintf(msg, sizeof msg, "%.300s: %s: %.100s", path, what, strerror(errno ? errno : EIO));
    git_error_set_str(GIT_ERROR_ODB, msg);
    return -1;
}

static int
pwrite_all(int fd, const void *p, size_t n, uint64_t off)
{
    const uint8_t *c = p;
    while (n) {
        ssize_t w = pwrite(fd, c, n, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        c += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

static int
pread_full(int fd, void *p, size_t n, uint64_t off)
{
    uint8_t *c = p;
    while (n) {
        ssize_t r = pread(fd, c, n, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        c += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

/* "<type> <size>\0" + data must hash to oid */
static int
object_matches(const git_oid *oid, git_object_t type, const void *data, size_t len)
{
    char hdr[64];
    uint8_t sha[SHA_DIGEST_LENGTH];
    SHA_CTX c;
    int hl = snprintf(hdr, sizeof hdr, "%s %zu", git_object_type2string(type), len);
    SHA1_Init(&c);
    SHA1_Update(&c, hdr, (size_t)hl + 1);
    SHA1_Update(&c, data, len);
    SHA1_Final(sha, &c);
    return memcmp(sha, oid->id, SHA_DIGEST_LENGTH) == 0;
}

/* ---- writing ---- */

typedef struct pent {
    git_oid oid;
    uint64_t off;
    size_t size;
    uint32_t crc;
    uint8_t type;
} pent;

struct afs_packw {
    char dir[4096]; /* objects/pack */
    char tmp[4200];
    int fd;
    uint64_t off;     /* bytes of the pack so far (flushed + buffered) */
    uint64_t flushed; /* bytes on disk */
    uint8_t *buf;
    size_t blen;
    uint32_t crc; /* of the object being written */
    pent *e;
    size_t n, cap;
    char keep[4200]; /* pack-<hex>.keep of the finished, not yet published batch, or "" */
};

int
afs_packw_new(afs_packw **out, const char *objects_dir)
{
    afs_packw *w = calloc(1, sizeof *w);
    *out = NULL;
    if (!w || !(w->buf = malloc(WBUF))) {
        free(w);
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    }
    if (snprintf(w->dir, sizeof w->dir, "%s/pack", objects_dir) >= (int)sizeof w->dir) {
        free(w->buf);
        free(w);
        return afs_error_set(AUDITFS_EINVAL, "repository path too long");
    }
    w->fd = -1;
    *out = w;
    return 0;
}

static int
wflush(afs_packw *w)
{
    if (w->blen && pwrite_all(w->fd, w->buf, w->blen, w->flushed) != 0)
        return fail_errno("cannot write the pack", w->tmp);
    w->flushed += w->blen;
    w->blen = 0;
    return 0;
}

/* Appends bytes to the pack. */
static int
wput_raw(afs_packw *w, const void *p, size_t n)
{
    const uint8_t *c = p;
    w->off += n;
    while (n) {
        if (w->blen == WBUF && wflush(w) != 0)
            return -1;
        size_t k = WBUF - w->blen < n ? WBUF - w->blen : n;
        memcpy(w->buf + w->blen, c, k);
        w->blen += k;
        c += k;
        n -= k;
    }
    return 0;
}

/* Appends object bytes (and folds them into the object's CRC-32). */
static int
wput(afs_packw *w, const void *p, size_t n)
{
    w->crc = (uint32_t)crc32_z(w->crc, p, n);
    return wput_raw(w, p, n);
}

static const pent *
pending_find(const afs_packw *w, const git_oid *oid)
{
    for (size_t i = w->n; i-- > 0;)
        if (git_oid_equal(&w->e[i].oid, oid))
            return &w->e[i];
    return NULL;
}

/* A pack object's header (type, then its size 4 bits and 7 bits per byte) into h; its length. */
static size_t
obj_header(uint8_t h[16], unsigned type, size_t len)
{
    size_t hn = 0, s = len;
    h[hn] = (uint8_t)((type << 4) | (s & 15));
    s >>= 4;
    while (s) {
        h[hn++] |= 0x80;
        h[hn] = (uint8_t)(s & 0x7f);
        s >>= 7;
    }
    return hn + 1;
}

/* The next stored deflate block's header for `left` bytes still to write: BFINAL when this
 * block (k bytes, at most STORED_MAX) takes the rest, BTYPE 00, LEN and NLEN little-endian. */
static uint16_t
stored_head(uint8_t b[5], size_t left)
{
    uint16_t k = (uint16_t)(left > STORED_MAX ? STORED_MAX : left);
    b[0] = (uint8_t)(left == k);
    b[1] = (uint8_t)k;
    b[2] = (uint8_t)(k >> 8);
    b[3] = (uint8_t)~k;
    b[4] = (uint8_t)(~k >> 8);
    return k;
}

int
afs_packw_add(afs_packw *w, const git_oid *oid, git_object_t type, const void *data, size_t len)
{
    if (pending_find(w, oid))
        return 0;
    return afs_packw_add_new(w, oid, type, data, len);
}

/* Creates the temporary pack on the first object, and makes room for one more entry. */
static int
entry_room(afs_packw *w)
{
    if (w->fd < 0) {
        if (mkdir(w->dir, 0755) != 0 && errno != EEXIST)
            return fail_errno("cannot create the pack directory", w->dir);
        snprintf(w->tmp, sizeof w->tmp, "%s/tmp_pack_XXXXXX", w->dir);
        if ((w->fd = mkstemp(w->tmp)) < 0)
            return fail_errno("cannot create a pack", w->tmp);
        /* the object count is filled in by afs_packw_finish */
        static const uint8_t head[12] = {'P', 'A', 'C', 'K', 0, 0, 0, 2, 0, 0, 0, 0};
        w->off = w->flushed = w->blen = 0;
        if (wput(w, head, sizeof head) != 0)
            return -1;
    }
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 256;
        pent *e = realloc(w->e, cap * sizeof *e);
        if (!e)
            return fail("out of memory", w->dir);
        w->e = e;
        w->cap = cap;
    }
    return 0;
}

/* The index entry of the next object (type and size checked, room made, the pack created on
 * the first object); NULL after an error. w->n counts it once the object is written. */
static pent *
entry_begin(afs_packw *w, const git_oid *oid, git_object_t type, size_t len)
{
    if (type < GIT_OBJECT_COMMIT || type > GIT_OBJECT_TAG || len > AFS_MAX_OBJECT) {
        fail("object of an unsupported type or size", w->dir);
        return NULL;
    }
    if (entry_room(w) != 0)
        return NULL;
    pent *p = &w->e[w->n];
    git_oid_cpy(&p->oid, oid);
    p->off = w->off;
    p->size = len;
    p->type = (uint8_t)type;
    return p;
}

int
afs_packw_add_new(afs_packw *w, const git_oid *oid, git_object_t type, const void *data,
                  size_t len)
{
    pent *p = entry_begin(w, oid, type, len);
    if (!p)
        return -1;
    w->crc = (uint32_t)crc32_z(0, NULL, 0);
    uint8_t h[16];
    size_t hn = obj_header(h, (unsigned)type, len);
    /* zlib stream of stored blocks: CMF/FLG, blocks {final|type 00, LEN, NLEN, bytes}, adler */
    static const uint8_t zhead[2] = {0x78, 0x01};
    if (wput(w, h, hn) != 0 || wput(w, zhead, 2) != 0)
        return -1;
    const uint8_t *c = data;
    size_t left = len;
    do {
        uint8_t b[5];
        uint16_t k = stored_head(b, left);
        if (wput(w, b, 5) != 0 || wput(w, c, k) != 0)
            return -1;
        c += k;
        left -= k;
    } while (left);
    uint32_t ad = (uint32_t)adler32_z(adler32_z(0, NULL, 0), data, len);
    uint8_t a[4];
    afs_store_be32(a, ad);
    if (wput(w, a, 4) != 0)
        return -1;
    p->crc = w->crc;
    w->n++;
    return 0;
}

/*
 * The entry afs_packw_add_new writes, built apart (a helper thread builds each segment's while
 * the writer goes on): the same header, stored blocks and adler32, so the pack is byte for byte
 * what the inline path writes; and the git blob id (SHA-1 of "blob <len>\0" and the bytes).
 */
int
afs_pack_blob_entry(afs_buf *out, uint32_t *crc, uint8_t sha1[20], const void *data, size_t len)
{
    char hdr[64];
    SHA_CTX c;
    int hl = snprintf(hdr, sizeof hdr, "blob %zu", len);
    if (len > AFS_MAX_OBJECT)
        return afs_error_set(AUDITFS_ETOOBIG, "object of %zu bytes is too large", len);
    SHA1_Init(&c);
    SHA1_Update(&c, hdr, (size_t)hl + 1);
    SHA1_Update(&c, data, len);
    SHA1_Final(sha1, &c);
    /* header + zlib header + 5 bytes per stored block + data + adler32 */
    size_t nblocks = len / STORED_MAX + 1;
    out->len = 0;
    int err = afs_buf_grow(out, 16 + 2 + 5 * nblocks + len + 4);
    if (err)
        return err;
    uint8_t *o = (uint8_t *)out->data;
    size_t n = obj_header(o, GIT_OBJECT_BLOB, len);
    o[n++] = 0x78;
    o[n++] = 0x01;
    const uint8_t *d = data;
    size_t left = len;
    do {
        uint16_t k = stored_head(o + n, left);
        n += 5;
        memcpy(o + n, d, k);
        n += k;
        d += k;
        left -= k;
    } while (left);
    afs_store_be32(o + n, (uint32_t)adler32_z(adler32_z(0, NULL, 0), data, len));
    n += 4;
    out->len = n;
    *crc = (uint32_t)crc32_z(crc32_z(0, NULL, 0), o, n);
    return 0;
}

int
afs_packw_add_entry(afs_packw *w, const git_oid *oid, git_object_t type, size_t len,
                    const void *entry, size_t elen, uint32_t crc)
{
    if (pending_find(w, oid))
        return 0;
    pent *p = entry_begin(w, oid, type, len);
    if (!p)
        return -1;
    if (wput_raw(w, entry, elen) != 0)
        return -1;
    p->crc = crc; /* computed with the entry, by whoever built it */
    w->n++;
    return 0;
}

int
afs_packw_header(const afs_packw *w, const git_oid *oid, git_object_t *type, size_t *len)
{
    const pent *p = pending_find(w, oid);
    if (!p)
        return 0;
    *type = (git_object_t)p->type;
    *len = p->size;
    return 1;
}

int
afs_packw_read(const afs_packw *cw, const git_oid *oid, void **data, size_t *len,
               git_object_t *type)
{
    afs_packw *w = (afs_packw *)cw; /* flushing the buffer does not change the pack */
    const pent *p = pending_find(w, oid);
    if (!p)
        return GIT_ENOTFOUND;
    if (wflush(w) != 0)
        return -1;
    uint8_t *out = malloc(p->size + 1);
    if (!out)
        return fail("out of memory", w->tmp);
    out[p->size] = 0;
    /* we wrote it: skip the header and the 2-byte zlib header, copy the stored blocks */
    uint64_t o = p->off + 1;
    for (size_t s = p->size >> 4; s; s >>= 7)
        o++;
    o += 2;
    size_t got = 0;
    do {
        uint8_t b[5];
        if (pread_full(w->fd, b, 5, o) != 0)
            goto bad;
        size_t k = (size_t)b[1] | (size_t)b[2] << 8;
        if (k > p->size - got || pread_full(w->fd, out + got, k, o + 5) != 0)
            goto bad;
        got += k;
        o += 5 + k;
    } while (got < p->size);
    *data = out;
    *len = p->size;
    *type = (git_object_t)p->type;
    return 0;
bad:
    free(out);
    return fail("cannot read back a pending object", w->tmp);
}

size_t
afs_packw_count(const afs_packw *w)
{
    return w->n;
}

static int
cmp_pent(const void *a, const void *b)
{
    return git_oid_cmp(&((const pent *)a)->oid, &((const pent *)b)->oid);
}

/* Creates the .keep file path (AFS_PACK_KEEP), fsynced with its directory entry by the
 * caller's fsync of the pack directory. */
static int
write_keep(const char *path)
{
    size_t n = strlen(AFS_PACK_KEEP);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0444);
    if (fd < 0)
        return fail_errno("cannot create the pack's .keep", path);
    if (pwrite_all(fd, AFS_PACK_KEEP, n, 0) != 0 || fsync(fd) != 0) {
        int rc = fail_errno("cannot write the pack's .keep", path);
        close(fd);
        unlink(path);
        return rc;
    }
    if (close(fd) != 0) {
        int rc = fail_errno("cannot write the pack's .keep", path);
        unlink(path);
        return rc;
    }
    return 0;
}

/* Writes all of buf to a new temporary file in dir, fsynced; its name in tmp. */
static int
write_tmp(char *tmp, size_t cap, const char *dir, const void *buf, size_t n)
{
    snprintf(tmp, cap, "%s/tmp_idx_XXXXXX", dir);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return fail_errno("cannot create a pack index", tmp);
    if (pwrite_all(fd, buf, n, 0) != 0 || fchmod(fd, 0444) != 0 || fsync(fd) != 0) {
        int rc = fail_errno("cannot write a pack index", tmp);
        close(fd);
        unlink(tmp);
        return rc;
    }
    if (close(fd) != 0) {
        int rc = fail_errno("cannot write a pack index", tmp);
        unlink(tmp);
        return rc;
    }
    return 0;
}

/*
 * Longer than a screen because it is one sequence whose order is the crash-safety argument:
 * count, trailer, fsync pack; idx, fsync idx; rename pack, rename idx; fsync the directory.
 */
int
afs_packw_finish(afs_packw *w, char name[64])
{
    uint8_t *idx = NULL, cnt[4], sha[SHA_DIGEST_LENGTH];
    char hex[2 * SHA_DIGEST_LENGTH + 1], tmpidx[4200], path[4200];
    int rc = -1;
    name[0] = 0;
    if (w->fd < 0 || w->n == 0)
        return 0;
    if (w->n > UINT32_MAX)
        return fail("too many objects for one pack", w->tmp);
    if (wflush(w) != 0)
        return -1;
    afs_store_be32(cnt, (uint32_t)w->n);
    if (pwrite_all(w->fd, cnt, 4, 8) != 0) {
        fail_errno("cannot write the pack", w->tmp);
        goto done;
    }
    /* the trailer: SHA-1 of everything before it (read back from the page cache) */
    SHA_CTX c;
    SHA1_Init(&c);
    for (uint64_t o = 0; o < w->flushed;) {
        size_t k = w->flushed - o < WBUF ? (size_t)(w->flushed - o) : WBUF;
        if (pread_full(w->fd, w->buf, k, o) != 0) {
            fail_errno("cannot read the pack back", w->tmp);
            goto done;
        }
        SHA1_Update(&c, w->buf, k);
        o += k;
    }
    SHA1_Final(sha, &c);
    if (pwrite_all(w->fd, sha, sizeof sha, w->flushed) != 0 || fchmod(w->fd, 0444) != 0 ||
        fsync(w->fd) != 0) {
        fail_errno("cannot write the pack", w->tmp);
        goto done;
    }
    /* the .idx, version 2 */
    qsort(w->e, w->n, sizeof *w->e, cmp_pent);
    size_t nlarge = 0;
    for (size_t i = 0; i < w->n; i++)
        nlarge += w->e[i].off >= 0x80000000u;
    size_t ilen = 8 + 1024 + w->n * 28 + nlarge * 8 + 40;
    if (!(idx = calloc(1, ilen))) {
        fail("out of memory", w->tmp);
        goto done;
    }
    static const uint8_t magic[8] = {0xff, 't', 'O', 'c', 0, 0, 0, 2};
    memcpy(idx, magic, 8);
    uint8_t *fan = idx + 8, *names = fan + 1024, *crcs = names + w->n * 20,
            *offs = crcs + w->n * 4, *large = offs + w->n * 4;
    size_t li = 0;
    for (size_t i = 0; i < w->n; i++) {
        for (unsigned b = w->e[i].oid.id[0]; b < 256; b++)
            afs_store_be32(fan + 4 * b, (uint32_t)(i + 1));
        memcpy(names + 20 * i, w->e[i].oid.id, 20);
        afs_store_be32(crcs + 4 * i, w->e[i].crc);
        if (w->e[i].off < 0x80000000u) {
            afs_store_be32(offs + 4 * i, (uint32_t)w->e[i].off);
        } else {
            afs_store_be32(offs + 4 * i, 0x80000000u | (uint32_t)li);
            afs_store_be64(large + 8 * li++, w->e[i].off);
        }
    }
    memcpy(idx + ilen - 40, sha, 20);
    SHA1(idx, ilen - 20, idx + ilen - 20);
    if (write_tmp(tmpidx, sizeof tmpidx, w->dir, idx, ilen) != 0)
        goto done;
    for (int i = 0; i < SHA_DIGEST_LENGTH; i++)
        snprintf(hex + 2 * i, 3, "%02x", sha[i]);
    /* the .keep first, before the pack is visible: see afs_packw_unkeep */
    afs_packw_unkeep(w);
    snprintf(w->keep, sizeof w->keep, "%s/pack-%s.keep", w->dir, hex);
    if (write_keep(w->keep) != 0) {
        w->keep[0] = '\0';
        unlink(tmpidx);
        goto done;
    }
    snprintf(path, sizeof path, "%s/pack-%s.pack", w->dir, hex);
    if (rename(w->tmp, path) != 0) {
        fail_errno("cannot rename the pack", path);
        unlink(tmpidx);
        goto done;
    }
    snprintf(path, sizeof path, "%s/pack-%s.idx", w->dir, hex);
    if (rename(tmpidx, path) != 0) {
        fail_errno("cannot rename the pack index", path);
        unlink(tmpidx);
        goto done_renamed;
    }
    if (afs_fsync_dir(path) != 0) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", auditfs_error_last());
        git_error_set_str(GIT_ERROR_OS, msg);
        goto done_renamed;
    }
    snprintf(name, 64, "pack-%s", hex);
    rc = 0;
done_renamed:
    close(w->fd);
    w->fd = -1;
    w->n = 0;
    free(idx);
    return rc;
done:
    free(idx);
    afs_packw_abort(w);
    return rc;
}

void
afs_packw_unkeep(afs_packw *w)
{
    if (w->keep[0])
        unlink(w->keep); /* a failure leaves a stale .keep: removed by the next writer */
    w->keep[0] = '\0';
}

int
afs_pack_remove_stale_keeps(const char *objects_dir)
{
    char dir[4096], path[4400], buf[sizeof AFS_PACK_KEEP];
    if (snprintf(dir, sizeof dir, "%s/pack", objects_dir) >= (int)sizeof dir)
        return 0;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t nl = strlen(de->d_name);
        if (nl < 11 || nl >= 60 || strncmp(de->d_name, "pack-", 5) != 0 ||
            strcmp(de->d_name + nl - 5, ".keep") != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
            continue;
        ssize_t n = read(fd, buf, sizeof buf);
        close(fd);
        /* only ours, by content: a .keep of git or an operator is never touched */
        if (n == (ssize_t)strlen(AFS_PACK_KEEP) && memcmp(buf, AFS_PACK_KEEP, (size_t)n) == 0)
            unlink(path);
    }
    closedir(d);
    return 0;
}

void
afs_packw_abort(afs_packw *w)
{
    /* an abandoned batch: nothing refers to its pack, git gc may remove it */
    afs_packw_unkeep(w);
    if (w->fd >= 0) {
        close(w->fd);
        unlink(w->tmp);
    }
    w->fd = -1;
    w->n = 0;
    w->blen = 0;
}

void
afs_packw_free(afs_packw *w)
{
    if (!w)
        return;
    afs_packw_abort(w);
    free(w->e);
    free(w->buf);
    free(w);
}

/* ---- reading ---- */

typedef struct pk {
    char name[64]; /* pack-<hex> */
    uint8_t *idx;
    size_t idxlen;
    uint32_t n;
    const uint8_t *names, *crcs, *offs, *large;
    size_t nlarge;
    uint64_t *ends; /* every object's offset, sorted: an object ends where the next begins */
    int fd; /* -1 when closed */
    uint64_t size, used;
    int seen; /* listed by the current rescan */
} pk;

struct afs_packset {
    char dir[4096];
    pk *p;
    size_t n, cap;
    struct timespec mtime; /* of objects/pack/ when last scanned */
    time_t scanned_at;
    int scanned;
    int writer; /* this process holds the writer lock: it knows every pack it added */
    int open_fds;
    uint64_t tick;
};

int
afs_packset_new(afs_packset **out, const char *objects_dir)
{
    afs_packset *ps = calloc(1, sizeof *ps);
    *out = NULL;
    if (!ps)
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    if (snprintf(ps->dir, sizeof ps->dir, "%s/pack", objects_dir) >= (int)sizeof ps->dir) {
        free(ps);
        return afs_error_set(AUDITFS_EINVAL, "repository path too long");
    }
    *out = ps;
    return 0;
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/*
 * A process-wide cache of checked .idx files. A writer opens the ledger anew for every batch
 * (cli/cmd_ingest.c releases the lock between batches), and loading every pack's .idx (read,
 * SHA-1, name order, offsets sorted) grew with the ledger: at 10M entries ~100,000 objects,
 * ~10 ms of every batch (issue 13: the per-batch cost that grew from 1M to 10M). An .idx whose
 * file is the same as when it was checked (device, inode, size, mtime and ctime; a ctime can
 * only be set by the kernel, to now) is copied from the checked copy; the pack's header and
 * trailer are still compared with it on every load. Bounded by IDX_CACHE_BYTES; when full,
 * nothing more is cached (idx files are immutable and merged geometrically, so the set is
 * small). Guarded by a mutex: readers in several threads (the mount) load packs too.
 */
#define IDX_CACHE_BYTES ((size_t)16 << 20)
typedef struct idx_cached {
    char *path;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime, ctime;
    uint8_t *idx;
    size_t idxlen;
    uint64_t *ends; /* n + 1 */
    uint32_t n;
    uint64_t packsize;
} idx_cached;
static pthread_mutex_t idx_cache_mu = PTHREAD_MUTEX_INITIALIZER;
static idx_cached *idx_cache;
static size_t idx_cache_n, idx_cache_cap, idx_cache_bytes;

static int
same_file(const idx_cached *c, const char *path, const struct stat *st)
{
    return c->dev == st->st_dev && c->ino == st->st_ino && c->size == st->st_size &&
           c->mtime.tv_sec == st->st_mtim.tv_sec && c->mtime.tv_nsec == st->st_mtim.tv_nsec &&
           c->ctime.tv_sec == st->st_ctim.tv_sec && c->ctime.tv_nsec == st->st_ctim.tv_nsec &&
           strcmp(c->path, path) == 0;
}

/* Fills p's index from the cache (copies): 1 if path with stat st was checked before. */
static int
idx_cache_get(pk *p, const char *path, const struct stat *st)
{
    int hit = 0;
    pthread_mutex_lock(&idx_cache_mu);
    for (size_t i = 0; i < idx_cache_n && !hit; i++) {
        const idx_cached *c = &idx_cache[i];
        if (!same_file(c, path, st))
            continue;
        p->idx = malloc(c->idxlen);
        p->ends = malloc(((size_t)c->n + 1) * sizeof *p->ends);
        if (!p->idx || !p->ends) {
            free(p->idx);
            free(p->ends);
            p->idx = NULL;
            p->ends = NULL;
            break;
        }
        memcpy(p->idx, c->idx, c->idxlen);
        memcpy(p->ends, c->ends, ((size_t)c->n + 1) * sizeof *p->ends);
        p->idxlen = c->idxlen;
        p->n = c->n;
        p->size = c->packsize;
        hit = 1;
    }
    pthread_mutex_unlock(&idx_cache_mu);
    return hit;
}

/* Remembers a checked index (p complete) of path with stat st, if there is room. */
static void
idx_cache_put(const pk *p, const char *path, const struct stat *st)
{
    size_t bytes = p->idxlen + ((size_t)p->n + 1) * sizeof *p->ends;
    pthread_mutex_lock(&idx_cache_mu);
    if (idx_cache_bytes + bytes > IDX_CACHE_BYTES)
        goto out;
    if (idx_cache_n == idx_cache_cap) {
        size_t cap = idx_cache_cap ? idx_cache_cap * 2 : 16;
        idx_cached *nc = realloc(idx_cache, cap * sizeof *nc);
        if (!nc)
            goto out;
        idx_cache = nc;
        idx_cache_cap = cap;
    }
    idx_cached *c = &idx_cache[idx_cache_n];
    memset(c, 0, sizeof *c);
    c->path = strdup(path);
    c->idx = malloc(p->idxlen);
    c->ends = malloc(((size_t)p->n + 1) * sizeof *c->ends);
    if (!c->path || !c->idx || !c->ends) {
        free(c->path);
        free(c->idx);
        free(c->ends);
        goto out;
    }
    memcpy(c->idx, p->idx, p->idxlen);
    memcpy(c->ends, p->ends, ((size_t)p->n + 1) * sizeof *c->ends);
    c->idxlen = p->idxlen;
    c->n = p->n;
    c->packsize = p->size;
    c->dev = st->st_dev;
    c->ino = st->st_ino;
    c->size = st->st_size;
    c->mtime = st->st_mtim;
    c->ctime = st->st_ctim;
    idx_cache_n++;
    idx_cache_bytes += bytes;
out:
    pthread_mutex_unlock(&idx_cache_mu);
}

/* The pack of a loaded index: its header count and trailer must match the index, its size
 * (set into p->size) hold the trailer. */
static int
pack_matches(pk *p, const char *dir)
{
    char path[4200];
    struct stat st;
    uint8_t head[12], trail[20];
    snprintf(path, sizeof path, "%s/%s.pack", dir, p->name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    int ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= 32 &&
             pread_full(fd, head, 12, 0) == 0 && memcmp(head, "PACK", 4) == 0 &&
             (afs_load_be32(head + 4) == 2 || afs_load_be32(head + 4) == 3) &&
             afs_load_be32(head + 8) == p->n &&
             pread_full(fd, trail, 20, (uint64_t)st.st_size - 20) == 0 &&
             memcmp(trail, p->idx + p->idxlen - 40, 20) == 0;
    close(fd);
    if (ok)
        p->size = (uint64_t)st.st_size;
    return ok;
}

/* Points p's name, crc, offset and large-offset tables into its index (n, idxlen set). */
static void
idx_tables(pk *p)
{
    size_t base = 8 + 1024 + (size_t)p->n * 28;
    p->nlarge = (p->idxlen - base - 40) / 8;
    p->names = p->idx + 8 + 1024;
    p->crcs = p->names + (size_t)p->n * 20;
    p->offs = p->crcs + (size_t)p->n * 4;
    p->large = p->offs + (size_t)p->n * 4;
}

/*
 * Reads and checks pack-<hex>.idx; 0 if usable (p filled), -1 if not (skipped).
 * Long because it checks a .idx and its pack in one pass in the order of the format (fan-out,
 * names, digest, pack header and trailer, offsets): each check relies on the lengths checked
 * above it, so the checks stay together where a reader can see they are complete.
 */
static int
idx_load(pk *p, const char *dir, const char *name)
{
    char path[4200];
    struct stat st;
    memset(p, 0, sizeof *p);
    p->fd = -1;
    snprintf(p->name, sizeof p->name, "%.*s", (int)(strlen(name) - 4), name);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (fstat(fd, &st) == 0 && idx_cache_get(p, path, &st)) {
        /* checked before, unchanged since: only the pack is compared with it again */
        close(fd);
        uint64_t size = p->size;
        idx_tables(p);
        if (!pack_matches(p, dir) || p->size != size)
            goto bad;
        return 0;
    }
    struct stat ist = st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 8 + 1024 + 40 ||
        (uint64_t)st.st_size > IDX_MAX || !(p->idx = malloc((size_t)st.st_size)) ||
        pread_full(fd, p->idx, (size_t)st.st_size, 0) != 0) {
        close(fd);
        goto bad;
    }
    close(fd);
    p->idxlen = (size_t)st.st_size;
    static const uint8_t magic[8] = {0xff, 't', 'O', 'c', 0, 0, 0, 2};
    if (memcmp(p->idx, magic, 8) != 0)
        goto bad;
    uint32_t prev = 0;
    for (unsigned b = 0; b < 256; b++) {
        uint32_t f = afs_load_be32(p->idx + 8 + 4 * b);
        if (f < prev)
            goto bad;
        prev = f;
    }
    p->n = prev;
    size_t base = 8 + 1024 + (size_t)p->n * 28;
    if (p->n > (p->idxlen - 8 - 1024 - 40) / 28 || (p->idxlen - base - 40) % 8 != 0)
        goto bad;
    idx_tables(p);
    for (uint32_t i = 1; i < p->n; i++)
        if (memcmp(p->names + 20 * (i - 1), p->names + 20 * i, 20) >= 0)
            goto bad;
    for (uint32_t i = 0; i < p->n; i++) /* each name in its fan-out bucket */
        if (i < (p->names[20 * i] ? afs_load_be32(p->idx + 8 + 4 * (p->names[20 * i] - 1u)) : 0) ||
            i >= afs_load_be32(p->idx + 8 + 4 * p->names[20 * i]))
            goto bad;
    uint8_t sha[SHA_DIGEST_LENGTH];
    SHA1(p->idx, p->idxlen - 20, sha);
    if (memcmp(sha, p->idx + p->idxlen - 20, 20) != 0)
        goto bad;
    /* the pack: header count and trailer must match the index */
    if (!pack_matches(p, dir))
        goto bad;
    /* offsets, sorted and distinct, each inside the pack */
    if (!(p->ends = malloc(((size_t)p->n + 1) * sizeof *p->ends)))
        goto bad;
    for (uint32_t i = 0; i < p->n; i++) {
        uint32_t o = afs_load_be32(p->offs + 4 * (size_t)i);
        uint64_t off = o;
        if (o & 0x80000000u) {
            if ((o & 0x7fffffffu) >= p->nlarge)
                goto bad;
            off = afs_load_be64(p->large + 8 * (size_t)(o & 0x7fffffffu));
        }
        if (off < 12 || off >= p->size - 20)
            goto bad;
        p->ends[i] = off;
    }
    qsort(p->ends, p->n, sizeof *p->ends, cmp_u64);
    for (uint32_t i = 1; i < p->n; i++)
        if (p->ends[i] == p->ends[i - 1])
            goto bad;
    p->ends[p->n] = p->size - 20;
    idx_cache_put(p, path, &ist);
    return 0;
bad:
    free(p->idx);
    free(p->ends);
    p->idx = NULL;
    p->ends = NULL;
    return -1;
}

static void forget(afs_packset *ps, pk *p);

int
afs_packset_refresh(afs_packset *ps)
{
    struct stat st;
    if (stat(ps->dir, &st) != 0) {
        ps->scanned = 1;
        memset(&ps->mtime, 0, sizeof ps->mtime);
        return 0;
    }
    ps->mtime = st.st_mtim;
    ps->scanned = 1;
    ps->scanned_at = time(NULL);
    DIR *d = opendir(ps->dir);
    if (!d)
        return 0;
    for (size_t i = 0; i < ps->n; i++)
        ps->p[i].seen = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t nl = strlen(de->d_name);
        if (nl < 10 || nl >= 60 || strncmp(de->d_name, "pack-", 5) != 0 ||
            strcmp(de->d_name + nl - 4, ".idx") != 0)
            continue;
        int have = 0;
        for (size_t i = 0; i < ps->n && !have; i++)
            if (strncmp(ps->p[i].name, de->d_name, nl - 4) == 0 && ps->p[i].name[nl - 4] == 0)
                have = ps->p[i].seen = 1;
        if (have)
            continue;
        if (ps->n == ps->cap) {
            size_t cap = ps->cap ? ps->cap * 2 : 64;
            pk *np = realloc(ps->p, cap * sizeof *np);
            if (!np)
                break;
            ps->p = np;
            ps->cap = cap;
        }
        if (idx_load(&ps->p[ps->n], ps->dir, de->d_name) == 0) {
            ps->p[ps->n].seen = 1;
            ps->n++;
        }
    }
    closedir(d);
    /* packs whose .idx is gone were merged (ledger/packmerge.c) or repacked by git: drop them,
     * closing their descriptors, so a long-running reader does not keep deleted files alive */
    for (size_t i = ps->n; i-- > 0;)
        if (!ps->p[i].seen)
            forget(ps, &ps->p[i]);
    return 0;
}

int
afs_packset_names(const afs_packset *ps, const char *name, const uint8_t **names, uint32_t *n)
{
    for (size_t i = 0; i < ps->n; i++)
        if (strcmp(ps->p[i].name, name) == 0) {
            *names = ps->p[i].names;
            *n = ps->p[i].n;
            return 0;
        }
    return -1;
}

void
afs_packset_writer(afs_packset *ps)
{
    ps->writer = 1;
}

int
afs_packset_add(afs_packset *ps, const char *name)
{
    char file[80];
    struct stat st;
    for (size_t i = 0; i < ps->n; i++)
        if (strcmp(ps->p[i].name, name) == 0)
            return 0;
    if (ps->n == ps->cap) {
        size_t cap = ps->cap ? ps->cap * 2 : 64;
        pk *np = realloc(ps->p, cap * sizeof *np);
        if (!np)
            return -1;
        ps->p = np;
        ps->cap = cap;
    }
    snprintf(file, sizeof file, "%s.idx", name);
    if (idx_load(&ps->p[ps->n], ps->dir, file) != 0)
        return -1;
    ps->n++;
    /* what we just saw: a later miss rescans only if someone else changed the directory */
    if (ps->scanned && stat(ps->dir, &st) == 0)
        ps->mtime = st.st_mtim;
    return 0;
}

/* The pack, offset and index position of oid, or NULL. */
static pk *
lookup(afs_packset *ps, const git_oid *oid, uint64_t *off, uint32_t *pos)
{
    for (size_t k = ps->n; k-- > 0;) { /* newest packs last: recent objects are read most */
        pk *p = &ps->p[k];
        uint8_t b = oid->id[0];
        uint32_t lo = b ? afs_load_be32(p->idx + 8 + 4 * (b - 1u)) : 0;
        uint32_t hi = afs_load_be32(p->idx + 8 + 4 * b);
        while (lo < hi) {
            uint32_t mid = lo + (hi - lo) / 2;
            int c = memcmp(p->names + 20 * (size_t)mid, oid->id, 20);
            if (c == 0) {
                uint32_t o = afs_load_be32(p->offs + 4 * (size_t)mid);
                *pos = mid;
                if (o & 0x80000000u) {
                    uint32_t li = o & 0x7fffffffu;
                    *off = li < p->nlarge ? afs_load_be64(p->large + 8 * (size_t)li) : 0;
                } else {
                    *off = o;
                }
                return p;
            }
            if (c < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
    }
    return NULL;
}

/* Finds oid, rescanning objects/pack/ once if it changed since the last scan. */
static pk *
find(afs_packset *ps, const git_oid *oid, uint64_t *off, uint32_t *pos)
{
    pk *p = ps->scanned ? lookup(ps, oid, off, pos) : NULL;
    if (p)
        return p;
    /* Rescan when the directory changed since the last scan. Directory times are coarse (a
     * kernel tick), so a directory modified within a second of the scan is rescanned too. A
     * writer holding the ledger lock has added every new pack itself (afs_packset_add). */
    struct stat st;
    int changed = !ps->scanned;
    if (!changed && !ps->writer && stat(ps->dir, &st) == 0)
        changed = st.st_mtim.tv_sec != ps->mtime.tv_sec ||
                  st.st_mtim.tv_nsec != ps->mtime.tv_nsec || st.st_mtim.tv_sec + 1 >= ps->scanned_at;
    if (!changed)
        return NULL;
    afs_packset_refresh(ps);
    return lookup(ps, oid, off, pos);
}

int
afs_packset_exists(afs_packset *ps, const git_oid *oid)
{
    uint64_t off;
    uint32_t pos;
    return find(ps, oid, &off, &pos) != NULL;
}

/* An open descriptor for p (closing the least recently used beyond PACK_FDS). */
static int
pack_fd(afs_packset *ps, pk *p)
{
    p->used = ++ps->tick;
    if (p->fd >= 0)
        return p->fd;
    if (ps->open_fds >= PACK_FDS) {
        pk *lru = NULL;
        for (size_t i = 0; i < ps->n; i++)
            if (ps->p[i].fd >= 0 && (!lru || ps->p[i].used < lru->used))
                lru = &ps->p[i];
        if (lru) {
            close(lru->fd);
            lru->fd = -1;
            ps->open_fds--;
        }
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/%s.pack", ps->dir, p->name);
    p->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (p->fd >= 0)
        ps->open_fds++;
    return p->fd;
}

/* Drops p (its pack file is gone) from the set; pointers into ps->p are invalid after. */
static void
forget(afs_packset *ps, pk *p)
{
    if (p->fd >= 0) {
        close(p->fd);
        ps->open_fds--;
    }
    free(p->idx);
    free(p->ends);
    size_t k = (size_t)(p - ps->p);
    memmove(p, p + 1, (ps->n - k - 1) * sizeof *p);
    ps->n--;
}

/*
 * The object at offset off of p (an offset its .idx lists): *end is where its bytes end (the
 * next object's offset, or the trailer), h gets its first *hn bytes (at most 16), *type and
 * *size come from its header, which is *hl bytes long. 0; -1 if the pack cannot be read
 * (errno says why); 1 if the header is corrupt (runs past its bytes or past 64 bits).
 */
static int
obj_head(const pk *p, int fd, uint64_t off, uint8_t h[16], size_t *hn, uint64_t *end,
         unsigned *type, uint64_t *size, size_t *hl)
{
    size_t lo = 0, hi = p->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->ends[mid] <= off)
            lo = mid + 1;
        else
            hi = mid;
    }
    *end = p->ends[lo];
    *hn = *end - off < 16 ? (size_t)(*end - off) : 16;
    if (pread_full(fd, h, *hn, off) != 0)
        return -1;
    *type = (h[0] >> 4) & 7;
    *size = h[0] & 15;
    size_t i = 1;
    for (unsigned shift = 4; h[i - 1] & 0x80; shift += 7) {
        if (i >= *hn || shift > 56)
            return 1;
        *size |= (uint64_t)(h[i] & 0x7f) << shift;
        i++;
    }
    *hl = i;
    return 0;
}

/*
 * Longer than a screen: one bounded parse of a hostile object, every step a check before the
 * next allocation or read (offset, header, declared size, zlib stream end, SHA-1).
 */
int
afs_packset_read(afs_packset *ps, const git_oid *oid, void **data, size_t *len,
                 git_object_t *type, void *(*alloc)(void *, size_t), void *alloc_ctx)
{
    uint64_t off = 0;
    uint32_t pos = 0;
    pk *p = find(ps, oid, &off, &pos);
    uint8_t h[16], in[65536], *out = NULL;
    z_stream z;
    int zinit = 0, rc = -1;
    char where[128];
    if (!p)
        return GIT_ENOTFOUND;
    int fd = pack_fd(ps, p);
    if (fd < 0 && errno == ENOENT) {
        /* git gc / repack -a -d deleted this pack since its .idx was loaded (a reachable object
         * is then in the pack that replaced it): forget it, rescan once, look again; what is
         * still not found is left to the other readers (loose objects, libgit2 after its own
         * refresh), never reported as a broken pack */
        forget(ps, p);
        afs_packset_refresh(ps);
        if (!(p = lookup(ps, oid, &off, &pos)))
            return GIT_ENOTFOUND;
        if ((fd = pack_fd(ps, p)) < 0 && errno == ENOENT)
            return GIT_ENOTFOUND;
    }
    snprintf(where, sizeof where, "%s.pack at %llu", p->name, (unsigned long long)off);
    if (fd < 0)
        return fail_errno("cannot open", where);
    /* the object's bytes: [off, end), end being the next object's offset or the trailer */
    uint64_t end, size;
    size_t hn, i;
    unsigned t;
    int hr = obj_head(p, fd, off, h, &hn, &end, &t, &size, &i);
    if (hr < 0)
        return fail_errno("cannot read", where);
    if (hr > 0)
        return fail("corrupt object header", where);
    if (t == 6 || t == 7) {
        /* OFS_DELTA, REF_DELTA (git gc's packs): libgit2 resolves those, but only after the
         * object's bytes match the CRC-32 its index records */
        uint32_t crc = (uint32_t)crc32_z(0, NULL, 0);
        for (uint64_t o = off; o < end;) {
            size_t k = end - o < sizeof in ? (size_t)(end - o) : sizeof in;
            if (pread_full(fd, in, k, o) != 0)
                return fail_errno("cannot read", where);
            crc = (uint32_t)crc32_z(crc, in, k);
            o += k;
        }
        if (crc != afs_load_be32(p->crcs + 4 * (size_t)pos))
            return fail("deltified object does not match its CRC-32", where);
        return GIT_ENOTFOUND;
    }
    if (t < 1 || t > 4)
        return fail("object of an impossible type", where);
    if (size > (t == GIT_OBJECT_BLOB ? AFS_MAX_OBJECT : AFS_MAX_META)) {
        char msg[96];
        snprintf(msg, sizeof msg, "%llu bytes, over its size cap", (unsigned long long)size);
        return fail(msg, where);
    }
    *type = (git_object_t)t;
    *len = (size_t)size;
    if (!data)
        return 0;
    if (!(out = malloc(size ? (size_t)size : 1)))
        return fail("out of memory", where);
    memset(&z, 0, sizeof z);
    if (inflateInit(&z) != Z_OK) {
        fail("zlib init failed", where);
        goto cleanup;
    }
    zinit = 1;
    z.next_out = out;
    z.avail_out = (uInt)size;
    uint64_t at = off + i;
    int zr = Z_OK;
    uint8_t extra;
    while (zr == Z_OK) {
        if (z.avail_in == 0) {
            if (at >= end)
                break;
            size_t k = end - at < sizeof in ? (size_t)(end - at) : sizeof in;
            if (pread_full(fd, in, k, at) != 0) {
                fail_errno("cannot read", where);
                goto cleanup;
            }
            at += k;
            z.next_in = in;
            z.avail_in = (uInt)k;
        }
        if (z.avail_out == 0) { /* full: the stream must end without another byte */
            if (z.next_out == &extra + 1) {
                zr = Z_DATA_ERROR;
                break;
            }
            z.next_out = &extra;
            z.avail_out = 1;
        }
        zr = inflate(&z, Z_SYNC_FLUSH);
        if (zr == Z_BUF_ERROR && z.avail_in == 0)
            zr = Z_OK; /* needs more input */
    }
    /* the stream must end exactly where the next object begins */
    if (zr != Z_STREAM_END || z.total_out != size || z.avail_in != 0 || at != end) {
        fail("corrupt object data (zlib)", where);
        goto cleanup;
    }
    if (!object_matches(oid, *type, out, (size_t)size)) {
        fail("object content does not match its name (SHA-1)", where);
        goto cleanup;
    }
    /* one byte more, NUL, as libgit2's own readers do (some of its parsers rely on it) */
    if (!(*data = alloc(alloc_ctx, (size_t)size + 1))) {
        fail("out of memory", where);
        goto cleanup;
    }
    memcpy(*data, out, (size_t)size);
    ((char *)*data)[size] = 0;
    rc = 0;
cleanup:
    if (zinit)
        inflateEnd(&z);
    free(out);
    return rc;
}

/*
 * A stored-deflate blob read in part (pack.h). Its bytes in the pack: the object header, the
 * zlib header (2 bytes), then deflate blocks, each here a stored one (1 header byte: BFINAL,
 * BTYPE 00; LEN and NLEN, 2 bytes each, little-endian; LEN bytes of content), then the
 * adler-32 (4 bytes); everything before the next object's offset. Every length is checked
 * against that end and the declared size before it is used; anything else is "not in this
 * form" (GIT_ENOTFOUND), so the caller falls back to the checked reader.
 */
int
afs_packset_read_span(afs_packset *ps, const git_oid *oid, uint64_t from, void *buf, size_t n,
                      uint64_t *size)
{
    uint64_t off = 0;
    uint32_t pos = 0;
    uint8_t h[16];
    char where[128];
    pk *p = find(ps, oid, &off, &pos);
    if (!p)
        return GIT_ENOTFOUND;
    int fd = pack_fd(ps, p);
    if (fd < 0)
        return GIT_ENOTFOUND; /* gone or unreadable: the checked reader rescans and reports */
    snprintf(where, sizeof where, "%s.pack at %llu", p->name, (unsigned long long)off);
    uint64_t end, sz;
    size_t hn, i;
    unsigned t;
    int hr = obj_head(p, fd, off, h, &hn, &end, &t, &sz, &i);
    if (hr < 0)
        return fail_errno("cannot read", where);
    if (hr > 0)
        return GIT_ENOTFOUND;
    /* a blob, its zlib header (deflate, no preset dictionary, check bits), room for the trailer */
    if (t != GIT_OBJECT_BLOB || sz > AFS_MAX_OBJECT || i + 2 > hn ||
        (h[i] & 0x0f) != 8 || (h[i] >> 4) > 7 || (h[i + 1] & 0x20) ||
        ((unsigned)h[i] << 8 | h[i + 1]) % 31 != 0 || end - off < i + 2 + 4 ||
        from > sz || n > sz - from)
        return GIT_ENOTFOUND;
    uint64_t at = off + i + 2, stop = end - 4, c = 0; /* c: content offset of the block at `at` */
    uint8_t *out = buf;
    while (c < from + n) {
        uint8_t bh[5];
        if (stop - at < 5 || pread_full(fd, bh, 5, at) != 0)
            return GIT_ENOTFOUND;
        unsigned len = (unsigned)bh[1] | (unsigned)bh[2] << 8;
        unsigned nlen = (unsigned)bh[3] | (unsigned)bh[4] << 8;
        if (((bh[0] >> 1) & 3) != 0 || (len ^ 0xffffu) != nlen || len > stop - at - 5 ||
            len > sz - c)
            return GIT_ENOTFOUND;
        at += 5;
        /* the overlap of [c, c + len) with [from, from + n) */
        uint64_t a = from > c ? from : c, b = from + n < c + len ? from + n : c + len;
        if (a < b && pread_full(fd, out + (a - from), (size_t)(b - a), at + (a - c)) != 0)
            return fail_errno("cannot read", where);
        at += len;
        c += len;
        if ((bh[0] & 1) && c < from + n)
            return GIT_ENOTFOUND; /* the last block ends before the bytes asked for */
    }
    *size = sz;
    return 0;
}

void
afs_packset_free(afs_packset *ps)
{
    if (!ps)
        return;
    for (size_t i = 0; i < ps->n; i++) {
        if (ps->p[i].fd >= 0)
            close(ps->p[i].fd);
        free(ps->p[i].idx);
        free(ps->p[i].ends);
    }
    free(ps->p);
    free(ps);
}
