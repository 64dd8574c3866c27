/*
 * ledger/export.c - auditfs_export_tlog_tiles: the head as a static C2SP tlog-tiles tree.
 *
 * Invariants: every file is written to "<name>.tmp.<pid>", fsynced and renamed, so a file that
 * exists under its final name is complete; full tiles and bundles never change once written
 * (their content is fixed by the append-only tree), so an existing one is skipped; the
 * checkpoint is renamed into place last, after everything it refers to is durable.
 */
#include "auditfs/export.h"
#include "auditfs/merkle.h"
#include "internal.h"
#include "progress.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BUNDLE_WIDTH 256

/* mkdir -p of the directory part of path (dir + rel). */
static int
make_parents(const char *path)
{
    char tmp[4096];
    size_t n = strlen(path);
    if (n >= sizeof tmp)
        return afs_error_set(AUDITFS_EINVAL, "%.80s...: path too long", path);
    memcpy(tmp, path, n + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return afs_error_set(AUDITFS_EIO, "%s: %s", tmp, strerror(errno));
        *p = '/';
    }
    return 0;
}

static int
write_atomic(const char *path, const void *data, size_t len)
{
    char tmp[4200];
    int err = make_parents(path);
    if (err)
        return err;
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return afs_error_set(AUDITFS_EIO, "%s: %s", tmp, strerror(errno));
    const uint8_t *p = data;
    size_t left = len;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            err = afs_error_set(AUDITFS_EIO, "%s: %s", tmp, strerror(errno));
            break;
        }
        p += w;
        left -= (size_t)w;
    }
    if (!err && fsync(fd) != 0)
        err = afs_error_set(AUDITFS_EIO, "%s: fsync: %s", tmp, strerror(errno));
    if (close(fd) != 0 && !err)
        err = afs_error_set(AUDITFS_EIO, "%s: %s", tmp, strerror(errno));
    if (!err && rename(tmp, path) != 0)
        err = afs_error_set(AUDITFS_EIO, "%s: %s", path, strerror(errno));
    if (err)
        unlink(tmp);
    return err;
}

static int
exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

typedef struct tile_walk {
    const char *dir;
    git_repository *repo;
    uint64_t written;
    int err;
} tile_walk;

/* git_tree_walk callback: copies each tile blob whose path is a valid tile path. */
static int
copy_tile(const char *root, const git_tree_entry *e, void *payload)
{
    tile_walk *w = payload;
    char rel[512], path[4096];
    unsigned level, width;
    uint64_t index;
    git_blob *blob = NULL;
    if (git_tree_entry_type(e) != GIT_OBJECT_BLOB)
        return 0;
    if (snprintf(rel, sizeof rel, "tile/%s%s", root, git_tree_entry_name(e)) >= (int)sizeof rel ||
        auditfs_tile_path_parse(&level, &index, &width, rel) != 0) {
        /* only well-formed tile paths are published: nothing else, no "..", ever */
        w->err = afs_error_set(AUDITFS_EFORMAT, "ledger tree: \"%.100s\" is not a tile path", rel);
        return -1;
    }
    snprintf(path, sizeof path, "%s/%s", w->dir, rel);
    if (exists(path))
        return 0;
    if (git_blob_lookup(&blob, w->repo, git_tree_entry_id(e)) < 0) {
        w->err = afs_error_git(AUDITFS_EIO, "%s: unreadable", rel);
        return -1;
    }
    size_t len = (size_t)git_blob_rawsize(blob);
    if (len != (size_t)width * AUDITFS_HASH_BYTES) {
        git_blob_free(blob);
        w->err = afs_error_set(AUDITFS_EVERIFY, "%s: %zu bytes, not %u hashes", rel, len, width);
        return -1;
    }
    w->err = write_atomic(path, git_blob_rawcontent(blob), len);
    git_blob_free(blob);
    if (w->err)
        return -1;
    w->written++;
    return 0;
}

/* Writes bundle index (width entries from index*256) from the cursor, which must be there. */
static int
write_bundle(afs_buf *buf, auditfs_cursor *cur, const char *path, uint64_t index, unsigned width,
             uint64_t total)
{
    int err;
    buf->len = 0;
    for (unsigned i = 0; i < width; i++) {
        const uint8_t *leaf;
        size_t len;
        uint64_t seq = index * BUNDLE_WIDTH + i;
        int r = auditfs_cursor_next(cur, &leaf, &len);
        if (r < 0)
            return r;
        if (r == 0)
            return afs_error_set(AUDITFS_EVERIFY, "entry %llu missing", (unsigned long long)seq);
        if (len > AUDITFS_TLOG_ENTRY_MAX)
            return afs_error_set(AUDITFS_ETOOBIG,
                                 "entry %llu is %zu bytes; C2SP tlog-tiles entry bundles hold "
                                 "entries of at most %d bytes (uint16 length), so this ledger "
                                 "cannot be exported beyond entry %llu",
                                 (unsigned long long)seq, len, AUDITFS_TLOG_ENTRY_MAX,
                                 (unsigned long long)seq);
        uint8_t be[2] = {(uint8_t)(len >> 8), (uint8_t)len};
        if ((err = afs_buf_put(buf, be, 2)) != 0 || (err = afs_buf_put(buf, leaf, len)) != 0)
            return err;
        afs_progress_tick("export", seq + 1, total);
    }
    return write_atomic(path, buf->data, buf->len);
}

static int
export_bundles(auditfs_export_report *out, auditfs_ledger *l, const char *dir, uint64_t size)
{
    auditfs_cursor *cur = NULL;
    uint64_t cur_at = UINT64_MAX; /* the seq the cursor reads next */
    afs_buf buf = AFS_BUF_INIT;
    int err = 0;
    uint64_t nbundles = (size + BUNDLE_WIDTH - 1) / BUNDLE_WIDTH;
    for (uint64_t n = 0; n < nbundles && !err; n++) {
        unsigned width = (unsigned)(size - n * BUNDLE_WIDTH < BUNDLE_WIDTH
                                        ? size - n * BUNDLE_WIDTH
                                        : BUNDLE_WIDTH);
        char tp[AUDITFS_TILE_PATH_MAX], path[4096];
        /* the entries path is the level-0 tile path with "entries" for the level */
        if ((err = auditfs_tile_path(tp, 0, n, width)) != 0)
            break;
        snprintf(path, sizeof path, "%s/tile/entries/%s", dir, tp + strlen("tile/0/"));
        if (exists(path))
            continue;
        if (cur_at != n * BUNDLE_WIDTH) {
            auditfs_cursor_free(cur);
            cur = NULL;
            if ((err = auditfs_cursor_new(&cur, l, n * BUNDLE_WIDTH, size)) != 0)
                break;
        }
        if ((err = write_bundle(&buf, cur, path, n, width, size)) != 0)
            break;
        cur_at = n * BUNDLE_WIDTH + width;
        out->bundles_written++;
        out->entries_written += width;
    }
    afs_buf_release(&buf);
    auditfs_cursor_free(cur);
    return err;
}

int
auditfs_export_tlog_tiles(auditfs_export_report *out, auditfs_ledger *l,
                          const auditfs_verifier *key, const char *dir,
                          const auditfs_export_options *opts)
{
    git_tree_entry *te = NULL;
    git_tree *tiles = NULL;
    char path[4096];
    int err;
    if (!out || !l || !key || !dir)
        return afs_error_set(AUDITFS_EINVAL, "auditfs_export_tlog_tiles: NULL argument");
    memset(out, 0, sizeof *out);
    if (strlen(dir) > 3000)
        return afs_error_set(AUDITFS_EINVAL, "%.80s...: path too long", dir);
    const auditfs_progress *prev = afs_progress_begin(opts ? &opts->progress : NULL);
    /* the head must be signed by key and its root must be that of the tiles we publish */
    if ((err = auditfs_ledger_check_head(&out->head, l, key)) != 0)
        goto cleanup;
    snprintf(path, sizeof path, "%s/checkpoint", dir);
    if ((err = make_parents(path)) != 0)
        goto cleanup;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        err = afs_error_set(AUDITFS_EIO, "%s: %s", dir, strerror(errno));
        goto cleanup;
    }
    if (out->head.size > 0) {
        tile_walk w = {dir, l->repo, 0, 0};
        if (git_tree_entry_bypath(&te, l->tree, "tile") < 0 ||
            git_tree_lookup(&tiles, l->repo, git_tree_entry_id(te)) < 0) {
            err = afs_error_git(AUDITFS_EVERIFY, "the head has no readable tile/ tree");
            goto cleanup;
        }
        if (git_tree_walk(tiles, GIT_TREEWALK_PRE, copy_tile, &w) != 0) {
            err = w.err ? w.err : afs_error_git(AUDITFS_EIO, "walking tile/");
            goto cleanup;
        }
        out->tiles_written = w.written;
        if ((err = export_bundles(out, l, dir, out->head.size)) != 0)
            goto cleanup;
    }
    /* last: the checkpoint, then the directory entry is made durable */
    snprintf(path, sizeof path, "%s/checkpoint", dir);
    if ((err = write_atomic(path, l->cp_note, l->cp_note_len)) != 0)
        goto cleanup;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        if (fsync(dfd) != 0)
            err = afs_error_set(AUDITFS_EIO, "%s: fsync: %s", dir, strerror(errno));
        close(dfd);
    }
cleanup:
    afs_progress_end(prev);
    git_tree_free(tiles);
    git_tree_entry_free(te);
    return err;
}
