/*
 * auditfs/view.h - the ledger as a read-only file tree pinned to one verified checkpoint.
 *
 * This is the FUSE-free core of `auditfs mount` (fs/mount.c is a thin adapter over it). Opening a
 * view verifies the head checkpoint's signature with the verifier key, then makes one streaming
 * pass over every leaf of the pinned commit: it parses each entry, checks seq, the prev chain and
 * time order, and recomputes the RFC 6962 root from the leaves, which must equal the signed root.
 * During that pass it records, per zstd frame, a SHA-256 over the frame's leaf hashes, and per
 * file only (seq, end offset) arrays. Reads decode the frame again, hash every leaf and compare
 * with that digest before a single byte is copied out, so bytes that changed in the repository
 * after the pin are refused (AUDITFS_EVERIFY) while every other file keeps working.
 *
 * Tree (stable names, sorted):
 *   README, checkpoint, key.pub
 *   streams/<stream>/all.jsonl, streams/<stream>/<YYYY>/<MM>/<DD>.jsonl
 *   tenants/<tenant>/<stream>/... (the same, for entries with that tenant header)
 *   documents/<name>/v<N><ext>, documents/<name>/current -> v<N><ext>
 *   notices/<seq, 12 digits>-<slug><ext>
 *   entries/<seq>            exact leaf bytes
 *   proofs/<seq>.json        inclusion proof against the pinned checkpoint
 *   query/README, query/<terms>.jsonl  the hits of an expression (auditfs_query_parse_name),
 *                            created on lookup, computed from verified frames and cached per
 *                            checkpoint (bounded); EFORMAT for a malformed expression, ETOOBIG
 *                            over 256 MiB, EVERIFY if the result touches damaged data
 *
 * Thread safety: every function may be called from several threads at once, including
 * auditfs_view_follow from one thread while others read. Memory: the tree's nodes, a bounded
 * cache of verified frames, and about 0.3 bytes per entry of block index; the per-entry
 * positions, sizes and times (about 6-12 bytes per entry, coded) live in a private unlinked
 * file (auditfs_view_options.cache_dir) read back through a small per-thread cache.
 */
#ifndef AUDITFS_VIEW_H
#define AUDITFS_VIEW_H

#include "note.h"
#include "progress.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct auditfs_view auditfs_view;

/** The root directory's node id (the same as FUSE's root inode number). */
#define AUDITFS_VIEW_ROOT 1u
/** Every node id is below this (adapters may use the bits above for their own purposes). */
#define AUDITFS_VIEW_ID_LIMIT ((uint64_t)1 << 44)

enum auditfs_node_type { AUDITFS_NODE_DIR = 1, AUDITFS_NODE_FILE = 2, AUDITFS_NODE_LINK = 3 };

/** auditfs_view_stat.flags: the node may be forgotten (query files): cache it only briefly. */
#define AUDITFS_VIEW_VOLATILE 1u

typedef struct auditfs_view_stat {
    uint64_t id;
    int type;         /* enum auditfs_node_type */
    uint64_t size;    /* exact byte size (link: target length) */
    int64_t mtime_us; /* ledger time of the newest entry in the file */
    uint32_t nlink;
    uint32_t flags;   /* AUDITFS_VIEW_VOLATILE */
} auditfs_view_stat;

typedef struct auditfs_ledger auditfs_ledger;

typedef struct auditfs_view_options {
    size_t cache_bytes;       /* verified decoded frames kept; 0: 16 MiB */
    const char *trusted_note; /* optional: a checkpoint kept from before; the pin must extend it */
    size_t trusted_len;
    auditfs_progress progress; /* reports the opening scan ("open", entries); may be zero */
    /*
     * Optional: asked about a checkpoint that is otherwise verified before the view pins it
     * (open) or moves to it (follow), with a ledger handle positioned at it; 1 accepts, 0
     * declines (open fails with EVERIFY, follow stays and returns 0 to ask again later), a
     * negative code is an error. `auditfs mount --witness` uses it to require a witness quorum.
     */
    int (*accept)(void *payload, const auditfs_checkpoint *cp, auditfs_ledger *l);
    void *accept_payload;
    /* optional: the verifier's memory (auditfs/trust.h). The pinned checkpoint, and each one
     * --follow moves to, must extend what this party saw or signed (EFORK, evidence written,
     * otherwise) and is then remembered; the ledger's bound origin must be the checkpoint's */
    struct auditfs_state *state;
    /* optional: where the view keeps its private file of per-entry positions and sizes (an
     * unlinked O_TMPFILE, mode 0600, gone when the view is freed); NULL: state's directory,
     * else $TMPDIR, else /tmp */
    const char *cache_dir;
} auditfs_view_options;
#define AUDITFS_VIEW_OPTIONS_INIT {.cache_bytes = 0}

/**
 * Opens the ledger at path, verifies its head checkpoint with key (and its consistency with the
 * trusted checkpoint, if given) and builds the tree. Cost: one decompression and hash of every
 * leaf. EVERIFY names what failed; ENOTFOUND if there is no ledger.
 */
AUDITFS_API int auditfs_view_open(auditfs_view **out, const char *path, const auditfs_verifier *key,
                                  const auditfs_view_options *opts) AUDITFS_WUR;
AUDITFS_API void auditfs_view_free(auditfs_view *v);

/** The pinned checkpoint (size, root, origin). */
AUDITFS_API void auditfs_view_checkpoint(auditfs_checkpoint *out, auditfs_view *v);

/**
 * The child `name` of directory `dir`: ENOTFOUND if absent. In query/, a name <terms>.jsonl
 * computes the query's result (EFORMAT naming the bad term, ETOOBIG, EVERIFY).
 */
AUDITFS_API int auditfs_view_lookup(auditfs_view_stat *out, auditfs_view *v, uint64_t dir,
                                    const char *name) AUDITFS_WUR;
/** Resolves a '/'-separated path relative to the root ("" is the root). */
AUDITFS_API int auditfs_view_lookup_path(auditfs_view_stat *out, auditfs_view *v,
                                         const char *path) AUDITFS_WUR;
AUDITFS_API int auditfs_view_getattr(auditfs_view_stat *out, auditfs_view *v,
                                     uint64_t id) AUDITFS_WUR;
/** The parent directory of a node (the root is its own parent). */
AUDITFS_API uint64_t auditfs_view_parent(auditfs_view *v, uint64_t id);

/**
 * Called for each child in name order with the caller's ctx; `next` is the position to resume
 * after it. Return nonzero to stop (e.g. the caller's buffer is full).
 */
typedef int (*auditfs_view_dirent_cb)(void *ctx, const char *name, const auditfs_view_stat *st,
                                      uint64_t next);
/** Lists directory `dir` from position pos (0: the first child). ENOTFOUND, or EINVAL if not a dir. */
AUDITFS_API int auditfs_view_readdir(auditfs_view *v, uint64_t dir, uint64_t pos,
                                     auditfs_view_dirent_cb cb, void *payload) AUDITFS_WUR;

/**
 * Reads up to len bytes at off of file `id` into buf; *got is len unless the file ends first.
 * Every byte comes from a frame verified against the pinned checkpoint: if any part of the range
 * fails, nothing is returned and the result is EVERIFY with auditfs_error_last() naming the
 * entries, the segment and the reason; *first_report (if not NULL) is 1 the first time that
 * damage is seen, so an adapter can log each damaged frame once.
 */
AUDITFS_API int auditfs_view_read(auditfs_view *v, uint64_t id, uint64_t off, void *buf, size_t len,
                                  size_t *got, int *first_report) AUDITFS_WUR;

/** The target of a symbolic link (malloc'd). */
AUDITFS_API int auditfs_view_readlink(char **out, auditfs_view *v, uint64_t id) AUDITFS_WUR;

/** Extended attributes of a node, all under "user.auditfs.". */
#define AUDITFS_VIEW_XATTR_MAX 8
typedef struct auditfs_view_xattr {
    char name[48];
    char value[96];
} auditfs_view_xattr;
/** Fills out[0..*n) with the node's attributes (first_seq, last_seq, tree_size, root, ...). */
AUDITFS_API int auditfs_view_xattrs(auditfs_view_xattr out[AUDITFS_VIEW_XATTR_MAX], size_t *n,
                                    auditfs_view *v, uint64_t id) AUDITFS_WUR;

/**
 * One --follow step: if the ledger's head moved, verifies the new checkpoint's signature and a
 * consistency proof from the pinned checkpoint, verifies every new leaf against the new root,
 * and only then extends the tree (files grow, new files appear). Returns 1 if the view moved,
 * 0 if nothing changed, EVERIFY if the new state is refused (the view stays on the last good
 * checkpoint; auditfs_error_last() quotes both signed checkpoints when they conflict).
 * changed/nchanged (malloc'd, may be NULL) receive the ids of nodes whose size or listing changed.
 */
AUDITFS_API int auditfs_view_follow(auditfs_view *v, uint64_t **changed,
                                    size_t *nchanged) AUDITFS_WUR;

#ifdef __cplusplus
}
#endif
#endif
