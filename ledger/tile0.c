/*
 * ledger/tile0.c - ledger formats, and level-0 tiles rebuilt from the segments (format 2).
 *
 * A format-2 ledger (docs/FORMAT.md, "Ledger formats") stores no tile/0/...: level-0 tile N is
 * the leaf hashes of entries [256 N, 256 N + w), which the segments hold. afs_tile0_rebuild()
 * reads them through the same checked segment parsing as every reader (index, framing, AFSSEG2
 * rebuild) and hashes them. The result is not authenticated by itself: every caller checks it
 * before use, a full tile against its entry in the level-1 tile (store.c verify_tile), a
 * partial one as part of the tiles that must hash to the signed root (afs_tiles_root), or a
 * proof built from it against the signed root (view_read.c).
 */
#include "odb.h"
#include "store.h"
#include "verify_rules.h"

#include "auditfs/merkle.h"
#include "auditfs/state.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int
afs_tree_format(int *out, git_repository *repo, git_tree *tree)
{
    uint8_t *fmt = NULL;
    size_t len = 0;
    int err = afs_tree_read(&fmt, &len, repo, tree, "format");
    *out = 0;
    if (err)
        return afs_error_set(AUDITFS_EVERIFY, "no format file");
    if (len == strlen(AFS_FORMAT1) && memcmp(fmt, AFS_FORMAT1, len) == 0)
        *out = 1;
    else if (len == strlen(AFS_FORMAT2) && memcmp(fmt, AFS_FORMAT2, len) == 0)
        *out = 2;
    else
        err = afs_error_set(AUDITFS_EVERIFY, "format is not auditfs-ledger/1 or "
                                             "auditfs-ledger/2");
    free(fmt);
    return err;
}

int
afs_tree_no_tile0(git_tree *tree)
{
    git_tree_entry *te = NULL;
    if (git_tree_entry_bypath(&te, tree, "tile/0") != 0)
        return 0;
    git_tree_entry_free(te);
    return afs_error_set(AUDITFS_EVERIFY, "tile/0 is in the tree, but format auditfs-ledger/2 "
                                          "stores no level-0 tiles (readers rebuild them from "
                                          "the segments)");
}

/* One segment blob, read through the checked readers when they have it, and its index. */
typedef struct seg_blob {
    void *own;
    git_blob *blob;
    const uint8_t *data;
    size_t len;
    afs_seg_index ix;
    char where[32];
} seg_blob;

static int
seg_blob_open(seg_blob *s, git_repository *repo, const git_oid *id, uint64_t first)
{
    git_object_t type;
    int err;
    afs_seg_path(s->where, first);
    int rc = afs_odb_read_checked(&s->own, &s->len, &type, repo, id);
    if (rc == 0 && type != GIT_OBJECT_BLOB)
        return afs_error_set(AUDITFS_EVERIFY, "%s: not a blob", s->where);
    if (rc == 0) {
        s->data = s->own;
    } else if (rc == GIT_ENOTFOUND && git_blob_lookup(&s->blob, repo, id) == 0) {
        s->data = git_blob_rawcontent(s->blob);
        s->len = (size_t)git_blob_rawsize(s->blob);
    } else {
        return afs_error_git(AUDITFS_EVERIFY, "%s: cannot read the segment", s->where);
    }
    if ((err = afs_seg_index_parse(&s->ix, s->data, s->len, s->where)) != 0)
        return err;
    if (s->ix.first_seq != first)
        return afs_error_set(AUDITFS_EVERIFY, "%s: its index starts at entry %llu", s->where,
                             (unsigned long long)s->ix.first_seq);
    return 0;
}

static void
seg_blob_close(seg_blob *s)
{
    afs_seg_index_release(&s->ix);
    git_blob_free(s->blob);
    free(s->own);
    memset(s, 0, sizeof *s);
}

/* The complete tiles after the one asked for that the last frame read holds (see below). */
typedef struct more_tiles {
    afs_tile0_cb cb;
    void *payload;
    uint8_t buf[256 * 32];
} more_tiles;

/*
 * Hashes the leaves of frame fi of s from entry *seq on into out (out[k] for entry a + k),
 * up to entry end. AFSSEG2 leaves are rebuilt from the frame's start (each one's prev is the
 * hash of the one before), AFSSEG1 leaves before *seq are skipped unhashed. With more (end a
 * multiple of 256), the rest of the frame is hashed too and each complete tile handed to it.
 */
static int
hash_frame(uint8_t *out, uint64_t a, uint64_t *seq, uint64_t end, seg_blob *s, uint32_t fi,
           ZSTD_DCtx *dctx, afs_buf *frame, afs_buf *leaf, more_tiles *more)
{
    const afs_seg_frame *f = &s->ix.frames[fi];
    uint8_t prev[32];
    size_t off = 0;
    int version, err;
    if ((err = afs_seg_frame_load(frame, &version, dctx, &s->ix, fi, s->data, s->len,
                                  s->where)) != 0)
        return err;
    if (version == 2) {
        memcpy(prev, frame->data, 32);
        off = 32;
    }
    for (uint64_t e = f->first_seq; e < f->first_seq + f->count && (*seq < end || more); e++) {
        const uint8_t *rec;
        size_t rl, got;
        auditfs_hash h;
        if (!afs_seg_record_next(&rec, &rl, frame, &off))
            return afs_error_set(AUDITFS_EVERIFY, "%s: entry %llu missing", s->where,
                                 (unsigned long long)e);
        if (version == 2) {
            leaf->len = 0;
            if ((err = afs_buf_grow(leaf, rl + 4 + AFS_SEG2_MAX_ADDED)) != 0)
                return err;
            if ((err = afs_seg2_rebuild(&got, (uint8_t *)leaf->data, leaf->cap, rec, rl, e,
                                        prev)) != 0) {
                char why[512];
                snprintf(why, sizeof why, "%s", auditfs_error_last());
                return afs_error_set(err, "%s: %s", s->where, why);
            }
            auditfs_leaf_hash(&h, (const uint8_t *)leaf->data + 4, got - 4);
            memcpy(prev, h.b, 32);
        } else if (e < *seq) {
            continue;
        } else {
            auditfs_leaf_hash(&h, rec, rl);
        }
        if (e >= end) {
            memcpy(more->buf + (e & 255) * 32, h.b, 32);
            if ((e & 255) == 255 && (err = more->cb(more->payload, e >> 8, more->buf)) != 0)
                return err;
        } else if (e >= *seq) {
            memcpy(out + (e - a) * 32, h.b, 32);
            (*seq)++;
        }
    }
    return 0;
}

int
afs_tile0_rebuild(uint8_t *out, git_repository *repo, git_tree *tree, ZSTD_DCtx *dctx,
                  uint64_t index, unsigned width)
{
    return afs_tile0_rebuild_more(out, repo, tree, dctx, index, width, NULL, NULL);
}

int
afs_tile0_rebuild_more(uint8_t *out, git_repository *repo, git_tree *tree, ZSTD_DCtx *dctx,
                       uint64_t index, unsigned width, afs_tile0_cb cb, void *payload)
{
    more_tiles *more = NULL;
    ZSTD_DCtx *own = NULL;
    afs_buf frame = AFS_BUF_INIT, leaf = AFS_BUF_INIT;
    seg_blob s;
    int err = 0;
    if (width == 0 || width > 256 || index > (UINT64_MAX >> 8))
        return afs_error_set(AUDITFS_EINVAL, "level-0 tile %llu of width %u",
                             (unsigned long long)index, width);
    uint64_t a = index << 8, seq = a, end = a + width;
    memset(&s, 0, sizeof s);
    if (cb && width == 256 && (more = malloc(sizeof *more)) != NULL) {
        more->cb = cb;
        more->payload = payload;
    }
    if (!dctx && !(dctx = own = ZSTD_createDCtx())) {
        free(more);
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    }
    /* a tile's 256 entries lie in one segment or a few consecutive ones */
    while (seq < end && !err) {
        uint64_t first;
        git_oid id;
        if ((err = afs_seg_find(&first, &id, repo, tree, seq)) != 0 ||
            (err = seg_blob_open(&s, repo, &id, first)) != 0)
            break;
        if (seq >= first + s.ix.count) {
            err = afs_error_set(AUDITFS_EVERIFY, "%s: entry %llu missing", s.where,
                                (unsigned long long)seq);
            break;
        }
        for (uint32_t fi = afs_seg_index_find(&s.ix, seq); fi < s.ix.nframes && seq < end && !err;
             fi++)
            /* with more, the frame holding the tile's end is hashed to its end (cheap next to
             * decoding it again for the tiles after) */
            err = hash_frame(out, a, &seq, end, &s, fi, dctx, &frame, &leaf, more);
        seg_blob_close(&s);
    }
    seg_blob_close(&s);
    afs_buf_release(&frame);
    afs_buf_release(&leaf);
    ZSTD_freeDCtx(own);
    free(more);
    if (err)
        return afs_error_wrap(err == AUDITFS_ENOMEM ? err : AUDITFS_EVERIFY,
                              "rebuilding level-0 tile %llu from the segments",
                              (unsigned long long)index);
    return 0;
}

int
afs_tile_read(uint8_t **out, size_t *len, git_repository *repo, git_tree *tree, int format,
              ZSTD_DCtx *dctx, unsigned level, uint64_t index, unsigned width)
{
    char path[AUDITFS_TILE_PATH_MAX];
    int err;
    *out = NULL;
    if (level == 0 && format == 2) {
        uint8_t *t = malloc((size_t)width * 32 + 1);
        if (!t)
            return afs_error_set(AUDITFS_ENOMEM, "out of memory");
        if ((err = afs_tile0_rebuild(t, repo, tree, dctx, index, width)) != 0) {
            free(t);
            return err;
        }
        *out = t;
        *len = (size_t)width * 32;
        return 0;
    }
    if ((err = auditfs_tile_path(path, level, index, width)) != 0)
        return err;
    return afs_tree_read(out, len, repo, tree, path);
}

/*
 * The derived cache of rebuilt full level-0 tiles (format 2), outside the ledger: the reading
 * party's state directory holds tile0/<hex SHA-256 of the ledger's absolute path>.cache, a
 * sparse file with full tile N at offset 8192 N. Nothing in it is trusted: store.c uses a slot
 * only once its MTH equals the tile's entry in the checked level-1 tile, and otherwise rebuilds
 * the tile from the segments and rewrites the slot (so a torn, stale, forged or foreign slot
 * only costs a rebuild). Full tiles never change, so neither does a correct slot. Best effort:
 * without a writable state directory the cache is read-only or off, never an error.
 */
static int
tile0_cache_fd(auditfs_ledger *l)
{
    char dir[PATH_MAX], file[PATH_MAX + 96], abs[PATH_MAX], hex[65];
    uint8_t h[32];
    if (l->t0_state)
        return l->t0_state > 0 ? l->t0_fd : -1;
    l->t0_state = -1;
    if (auditfs_state_default_path(dir, sizeof dir - 8) != 0 || !realpath(l->path, abs))
        return -1;
    afs_sha256(h, abs, strlen(abs));
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", h[i]);
    size_t n = strlen(dir);
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return -1; /* a state directory is made by the trust commands, never here */
    memcpy(dir + n, "/tile0", 7);
    (void)mkdir(dir, 0700);
    snprintf(file, sizeof file, "%s/%s.cache", dir, hex);
    int fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        fd = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -1;
    l->t0_fd = fd;
    l->t0_state = 1;
    return fd;
}

int
afs_tile0_cache_get(auditfs_ledger *l, uint64_t index, uint8_t out[8192])
{
    int fd = tile0_cache_fd(l);
    if (fd < 0 || index > ((uint64_t)INT64_MAX >> 13))
        return 0;
    return pread(fd, out, 8192, (off_t)(index << 13)) == 8192;
}

void
afs_tile0_cache_put(auditfs_ledger *l, uint64_t index, const uint8_t tile[8192])
{
    int fd = tile0_cache_fd(l);
    if (fd >= 0 && index <= ((uint64_t)INT64_MAX >> 13))
        (void)!pwrite(fd, tile, 8192, (off_t)(index << 13));
}

void
afs_tile0_cache_close(auditfs_ledger *l)
{
    if (l->t0_state > 0)
        close(l->t0_fd);
    l->t0_state = 0;
}

int
afs_tree_check_top(git_repository *repo, git_tree *tree)
{
    git_odb *odb = NULL;
    git_odb_object *obj = NULL;
    afs_tree_entry *e = NULL;
    size_t n = 0;
    int err = 0;
    if (git_repository_odb(&odb, repo) < 0 || git_odb_read(&obj, odb, git_tree_id(tree)) < 0) {
        err = afs_error_git(AUDITFS_EVERIFY, "tree /: unreadable");
        goto cleanup;
    }
    if ((err = afs_tree_parse(&e, &n, git_odb_object_data(obj), git_odb_object_size(obj), "")) ==
        0)
        err = afs_tree_check_duplicates(e, n, "");
cleanup:
    free(e);
    git_odb_object_free(obj);
    git_odb_free(odb);
    return err;
}
