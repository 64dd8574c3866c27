/*
 * ledger/store.h - internal view of the git-backed ledger, shared by store.c, verify.c and view_*.c.
 *
 * Repository layout of every commit's tree (docs/FORMAT.md, "Repository"):
 *   format                         "auditfs-ledger/1\n" or "auditfs-ledger/2\n"
 *   checkpoint                     the signed checkpoint of this commit's tree size
 *   tile/<L>/<N>[.p/<W>]           C2SP hash tiles for that size (partials only for that size);
 *                                  format 2 stores none of level 0 (rebuilt: tile0.c)
 *   seg/DDD/DDD/DDD/DDD            segments, named by the 12-digit seq of their first entry
 *   doc/<name>/v<N>                document contents
 *   notice/<seq>                   notice contents
 * Commits form a single first-parent chain on refs/heads/main; each extends the previous.
 */
#ifndef AUDITFS_STORE_H
#define AUDITFS_STORE_H

#include "auditfs/ledger.h"
#include "internal.h"
#include "segment.h"

#include <git2.h>

#define AFS_REF "refs/heads/main"
#define AFS_FORMAT1 "auditfs-ledger/1\n"
/** Format 2: as format 1 without level-0 tiles (tile/0/...), which readers rebuild from the
 * segments and check against the level-1 tiles and the signed root (tile0.c). */
#define AFS_FORMAT2 "auditfs-ledger/2\n"
#define AFS_LOCKFILE "auditfs.lock"

struct auditfs_ledger {
    git_repository *repo;
    char *path;
    git_oid head_id;
    git_commit *head;
    git_tree *tree;
    auditfs_checkpoint cp; /* parsed from the head tree, not verified */
    char *cp_note;
    size_t cp_note_len;
    /* one cached decoded frame, for leaf reads */
    ZSTD_DCtx *dctx;
    uint64_t cache_first; /* the decoded frame holds entries [cache_first, +cache_count) */
    uint32_t cache_count;
    int cache_valid;
    afs_buf cache_buf;
    /* tiles of the head, for proofs and leaf checks; each verified before use (store.c) */
    struct afs_tile_cache *tiles;
    struct afs_tiles *partials; /* the head's partial tiles, checked against cp.root */
    int partials_ok;
    char *ref; /* the ref read as the head; NULL: AFS_REF (replica.c reads a side ref) */
    int format; /* of the head tree: 2 if its format file says auditfs-ledger/2, else 1 */
    int t0_state, t0_fd; /* the derived cache of rebuilt level-0 tiles (tile0.c): 0 untried,
                          * 1 open as t0_fd, -1 off */
};

/* ---- tile state: the partial tile at every level, as C2SP tlog-tiles lays them out ---- */
#define AFS_TILE_LEVELS 8
typedef struct afs_tiles afs_tiles;
struct afs_tiles {
    uint64_t size;
    uint8_t h[AFS_TILE_LEVELS][256][32];
};

/** Called for each tile that becomes full. */
typedef int (*afs_tile_cb)(unsigned level, uint64_t index, const uint8_t *hashes, void *payload);

void afs_tiles_init(afs_tiles *t);
/** Width of the partial tile at level for the current size (0: none). */
unsigned afs_tiles_width(const afs_tiles *t, unsigned level);
int afs_tiles_push(afs_tiles *t, const auditfs_hash *leaf, afs_tile_cb cb, void *payload);
/** Loads the partial tiles of a tree of `size` from a git tree (format 2: the level-0 partial
 * rebuilt from its segments). Unchecked: callers compare afs_tiles_root with a signed root. */
int afs_tiles_load(afs_tiles *t, git_repository *repo, git_tree *tree, uint64_t size);
/** MTH of n hashes (n a power of two <= 256). */
void afs_hash_span(uint8_t out[32], const uint8_t (*hashes)[32], unsigned n);
/** The RFC 6962 root of the current size, from the partial tiles. */
void afs_tiles_root(auditfs_hash *out, const afs_tiles *t);

/** Reads a blob at path in tree (malloc'd copy). ENOTFOUND if absent. */
int afs_tree_read(uint8_t **out, size_t *len, git_repository *repo, git_tree *tree,
                  const char *path);
/** seg/DDD/DDD/DDD/DDD for seq. */
void afs_seg_path(char out[32], uint64_t seq);
/** Finds the segment holding seq in tree: its first seq and blob id. */
int afs_seg_find(uint64_t *first, git_oid *id, git_repository *repo, git_tree *tree,
                 uint64_t seq);
/** Reads a leaf via the segments of tree (no tile check). */
int afs_read_leaf_raw(afs_buf *out, auditfs_ledger *l, uint64_t seq);
/** The level-0 tile hash of seq from the head tiles. */
int afs_leaf_hash_from_tiles(auditfs_hash *out, auditfs_ledger *l, uint64_t seq);

/** The format of a tree's ledger (1 or 2) from its format file; EVERIFY for anything else. */
int afs_tree_format(int *out, git_repository *repo, git_tree *tree);
/** EVERIFY unless tree's own object is a canonical git tree (verify_rules.c), not recursing:
 * before a reader looks names up in it by binary search (libgit2) to find its format. */
int afs_tree_check_top(git_repository *repo, git_tree *tree);
/** EVERIFY if tree holds tile/0 (a format-2 tree must not). */
int afs_tree_no_tile0(git_tree *tree);
/**
 * Level-0 tile `index` of width w (1..256) rebuilt from tree's segments: the leaf hashes of
 * entries [256 index, 256 index + w), read through the checked segment parser, into out
 * (w * 32 bytes). Not authenticated: the caller checks it against the level-1 tile or the
 * signed root before use. dctx may be NULL (one is made for the call).
 */
int afs_tile0_rebuild(uint8_t *out, git_repository *repo, git_tree *tree, ZSTD_DCtx *dctx,
                      uint64_t index, unsigned width);
/** Receives a complete level-0 tile (unchecked) that a rebuild hashed on the way. */
typedef int (*afs_tile0_cb)(void *payload, uint64_t index, const uint8_t tile[8192]);
/** afs_tile0_rebuild of a full tile (width 256) that also hands cb every complete tile after it
 * in the last frame it decoded. An error of cb fails the rebuild. */
int afs_tile0_rebuild_more(uint8_t *out, git_repository *repo, git_tree *tree, ZSTD_DCtx *dctx,
                           uint64_t index, unsigned width, afs_tile0_cb cb, void *payload);
/** The tile (level, index, width) of tree, malloc'd: read, or rebuilt for level 0 of format
 * 2. Unchecked, like afs_tree_read. */
int afs_tile_read(uint8_t **out, size_t *len, git_repository *repo, git_tree *tree, int format,
                  ZSTD_DCtx *dctx, unsigned level, uint64_t index, unsigned width);
/** Like afs_tiles_load, reading only the stored levels of a format-2 tree (h[0] untouched). */
int afs_tiles_load_stored(afs_tiles *t, git_repository *repo, git_tree *tree, uint64_t size,
                          int format);
/** A malloc'd copy of the head's tile (level, index) (full, or the head's partial), checked
 * against the tiles above it and the signed root as proofs use it; *width gets its width. */
int afs_head_tile_copy(uint8_t **out, unsigned *width, auditfs_ledger *l, unsigned level,
                       uint64_t index);

/** The derived cache of rebuilt full level-0 tiles (tile0.c): get reads tile `index`'s slot
 * (1: 8192 bytes read, unchecked; 0: none); put stores a checked tile; both best effort. */
int afs_tile0_cache_get(auditfs_ledger *l, uint64_t index, uint8_t out[8192]);
void afs_tile0_cache_put(auditfs_ledger *l, uint64_t index, const uint8_t tile[8192]);
void afs_tile0_cache_close(auditfs_ledger *l);

int afs_git_init_once(void);
/** Opens a ledger whose head is refname instead of refs/heads/main (NULL: the usual ref). */
int afs_ledger_open_ref(auditfs_ledger **out, const char *path, const char *refname);

/** Moves a cursor to seq (any seq; cheap when moving forward within the open segment). */
int afs_cursor_seek(auditfs_cursor *c, uint64_t seq);

#endif
