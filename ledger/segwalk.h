/*
 * ledger/segwalk.h - the one walk over a ledger's segments: every entry in order, its hash
 * chain checked, fed to the caller.
 *
 * Both full verification (verify.c) and the mount's pin-time pass (view_open.c, and each
 * --follow step) read the ledger through afs_segwalk. It lists seg/ in order, reads and
 * zstd-decodes the segments ahead on a second core (segfetch.c), and for every entry checks:
 *  - the segment's path and its index's first seq are the next entry's seq (no gap, no overlap);
 *  - the leaf parses strictly (auditfs-entry/1);
 *  - its seq header is its position;
 *  - its prev header is the leaf hash of the entry before (all zero for entry 0);
 *  - its ledger time is not earlier than the entry before's.
 * Only then is the entry, with its leaf hash, handed to the caller, which adds its own rules
 * (Merkle root, tiles, contents, one batch per commit; or the view's tree and frame digests).
 */
#ifndef AUDITFS_SEGWALK_H
#define AUDITFS_SEGWALK_H

#include "store.h"

/** Where the chain stands: everything needed to check the next entry. */
typedef struct afs_chain {
    uint64_t next;     /* seq of the next entry */
    auditfs_hash prev; /* leaf hash of entry next - 1; all zero before entry 0 */
    int64_t last_time; /* ledger time of entry next - 1; INT64_MIN before entry 0 */
} afs_chain;

#define AFS_CHAIN_INIT {0, {{0}}, INT64_MIN}

/** A segment being walked. */
typedef struct afs_walk_seg {
    const char *path;        /* "seg/DDD/DDD/DDD/DDD" */
    const git_oid *id;       /* its blob */
    uint64_t first;          /* its first entry */
    const afs_seg_index *ix; /* its frames (offsets, sizes, counts) */
    uint64_t end;            /* segment_end only: one past its last entry */
    uint64_t leaf_bytes;     /* segment_end only: the leaf bytes of its entries */
} afs_walk_seg;

/** An entry that passed the chain checks. Pointers are valid during the callback only. */
typedef struct afs_walk_leaf {
    uint64_t seq;
    const uint8_t *bytes; /* the leaf */
    size_t len;
    auditfs_hash hash;       /* its RFC 6962 leaf hash */
    const auditfs_entry *e;  /* the leaf, parsed */
    const afs_walk_seg *seg; /* the segment holding it */
} afs_walk_leaf;

/**
 * What the caller adds to the walk. Every callback may be NULL and returns 0 or an error code
 * (with the error set), which ends the walk and is returned as it is.
 *  segment:     a segment whose path and index agree with the chain, before its entries
 *  leaf:        each entry, after the chain checks (the chain already stands after it)
 *  frame_end:   all entries of frame `frame` of the segment passed
 *  segment_end: all entries of the segment passed
 *  fail:        not NULL: the walk's own failure at entry seq (the error message is set, without
 *               the entry); returns the code to return (verify records the entry, the view
 *               names it)
 */
typedef struct afs_walk_ops {
    int (*segment)(void *payload, const afs_walk_seg *s);
    int (*leaf)(void *payload, const afs_walk_leaf *leaf);
    int (*frame_end)(void *payload, const afs_walk_seg *s, uint32_t frame);
    int (*segment_end)(void *payload, const afs_walk_seg *s);
    int (*fail)(void *payload, uint64_t seq, int code);
    void *payload;
} afs_walk_ops;

/**
 * Walks the entries of tree `root` of ledger l from chain->next on, advancing chain. Segments
 * that start before chain->next are skipped (verified before: incremental verify, --follow).
 * to: UINT64_MAX to walk every segment; otherwise the walk stops once chain->next reaches to,
 * refuses an entry at or beyond it, and fails if the segments end before it. A malformed seg/
 * listing is reported after the segments listed before it. Returns 0, or the error of the
 * failure (through ops->fail for the walk's own checks).
 */
int afs_segwalk(afs_chain *chain, auditfs_ledger *l, git_tree *root, uint64_t to,
                const afs_walk_ops *ops);

/** Test seam: when set, segments are read in the caller's thread, as when the read-ahead worker
 * cannot start (tests/unit/test_segwalk.c compares both paths). */
extern int afs_segwalk_no_readahead;

#endif
