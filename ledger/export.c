/*
 * ledger/export.c - auditfs_export_tlog_tiles: the head as a static C2SP tlog-tiles tree.
 *
 * Invariants: every file is written to "<name>.tmp.<pid>", fsynced and renamed, so a file that
 * exists under its final name is complete; full tiles and bundles never change once written
 * (their content is fixed by the append-only tree), so an existing one is skipped; the
 * checkpoint is renamed into place last, after everything it refers to is durable. An export
 * starts from the size of the checkpoint already in the directory (once this ledger is proved
 * to extend it), so exporting after each commit costs O(new entries), not O(ledger).
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
    int err = make_parents(path);
    if (err)
        return err;
    return afs_write_atomic(path, data, len, 0644); /* fileio.c: temp, fsync, rename, fsync dir */
}

static int
exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/*
 * Writes the hash tiles of a tree of `size` that can have changed since `from` (those holding
 * a hash of index >= from >> 8L at level L), reading each from the head's tree, where FORMAT.md
 * section 5 puts exactly these paths. Full tiles already in dir are kept.
 */
static int
export_tiles(uint64_t *written, auditfs_ledger *l, const char *dir, uint64_t size, uint64_t from)
{
    int err = 0;
    for (unsigned level = 0; level < AFS_TILE_LEVELS && !err; level++) {
        uint64_t count = size >> (8 * level); /* hashes at this level */
        if (count == 0)
            break;
        for (uint64_t k = (from >> (8 * level)) / AUDITFS_TILE_WIDTH;
             k <= (count - 1) / AUDITFS_TILE_WIDTH && !err; k++) {
            uint64_t left = count - k * AUDITFS_TILE_WIDTH;
            unsigned width = left < AUDITFS_TILE_WIDTH ? (unsigned)left : AUDITFS_TILE_WIDTH;
            char rel[AUDITFS_TILE_PATH_MAX], path[4200];
            uint8_t *data = NULL;
            size_t len = 0;
            if ((err = auditfs_tile_path(rel, level, k, width)) != 0)
                break;
            snprintf(path, sizeof path, "%s/%s", dir, rel);
            if (exists(path))
                continue;
            if (level == 0 && l->format == 2) {
                /* format 2 stores no level-0 tiles: rebuilt from the segments and checked
                 * against the level-1 tile (or the signed root), the bytes format 1 stores */
                unsigned w = 0;
                if ((err = afs_head_tile_copy(&data, &w, l, 0, k)) != 0)
                    break;
                len = (size_t)w * AUDITFS_HASH_BYTES;
            } else if ((err = afs_tree_read(&data, &len, l->repo, l->tree, rel)) != 0) {
                err = afs_error_wrap(AUDITFS_EVERIFY, "the head has no %s", rel);
                break;
            }
            if (len != (size_t)width * AUDITFS_HASH_BYTES)
                err = afs_error_set(AUDITFS_EVERIFY, "%s: %zu bytes, not %u hashes", rel, len,
                                    width);
            else if ((err = write_atomic(path, data, len)) == 0)
                (*written)++;
            free(data);
        }
    }
    return err;
}

/*
 * The size from which this export must write: that of the checkpoint already in dir when it
 * is signed by key for this origin and this ledger extends it (a consistency proof from the
 * tiles), else 0 (nothing exported yet). An export that this ledger does not extend (another
 * ledger, a fork, a rollback) is refused rather than overwritten: clients may hold it.
 */
static int
exported_size(uint64_t *out, auditfs_ledger *l, const auditfs_verifier *key, const char *dir,
              const auditfs_checkpoint *head)
{
    char path[4200];
    uint8_t *note = NULL;
    size_t len = 0;
    auditfs_checkpoint old;
    auditfs_consistency_proof p;
    int err;
    *out = 0;
    snprintf(path, sizeof path, "%s/checkpoint", dir);
    if (!exists(path))
        return 0;
    if ((err = auditfs_read_file(&note, &len, path, 65536)) != 0)
        return err;
    err = auditfs_checkpoint_open(&old, (const char *)note, len, key, head->origin);
    free(note);
    if (err)
        return afs_error_wrap(AUDITFS_EVERIFY, "%s is not a checkpoint of this ledger; export "
                              "to an empty directory", path);
    if (old.size > head->size)
        return afs_error_set(AUDITFS_EVERIFY, "%s has size %llu but the ledger only %llu: "
                             "refusing to roll the exported log back", path,
                             (unsigned long long)old.size, (unsigned long long)head->size);
    if (old.size == 0)
        return 0;
    if (old.size == head->size)
        err = auditfs_hash_equal(&old.root, &head->root)
                  ? 0
                  : afs_error_set(AUDITFS_EVERIFY, "root differs");
    else if ((err = auditfs_ledger_prove_consistency(&p, l, old.size, head->size)) == 0)
        err = auditfs_merkle_verify_consistency(old.size, head->size, &old.root, &head->root,
                                                p.path, p.path_len);
    if (err)
        return afs_error_set(AUDITFS_EVERIFY, "%s (size %llu) is not a prefix of this ledger: "
                             "a fork or another ledger; refusing to overwrite it", path,
                             (unsigned long long)old.size);
    *out = old.size;
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
export_bundles(auditfs_export_report *out, auditfs_ledger *l, const char *dir, uint64_t size,
               uint64_t from)
{
    auditfs_cursor *cur = NULL;
    uint64_t cur_at = UINT64_MAX; /* the seq the cursor reads next */
    afs_buf buf = AFS_BUF_INIT;
    int err = 0;
    uint64_t nbundles = (size + BUNDLE_WIDTH - 1) / BUNDLE_WIDTH;
    for (uint64_t n = from / BUNDLE_WIDTH; n < nbundles && !err; n++) {
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
    uint64_t from = 0;
    if (!(opts && opts->full) && (err = exported_size(&from, l, key, dir, &out->head)) != 0)
        goto cleanup;
    if ((err = export_tiles(&out->tiles_written, l, dir, out->head.size, from)) != 0 ||
        (err = export_bundles(out, l, dir, out->head.size, from)) != 0)
        goto cleanup;
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
    return err;
}
