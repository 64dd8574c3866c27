/*
 * auditfs/ledger.h - the ledger: a bare git repository holding signed checkpoints, C2SP hash
 * tiles, zstd segments of leaves, and document/notice contents. docs/FORMAT.md describes every
 * byte; this header describes the operations.
 *
 * Writing: a writer holds the ledger's lock, adds entries to an in-memory batch and commits the
 * batch as one git commit (segment, tiles, checkpoint) that is fsynced, objects then ref, before
 * auditfs_writer_commit returns. A crash before that leaves the previous commit as the head.
 * Reading: every read is checked against the tiles of the head commit; auditfs_ledger_verify
 * recomputes everything from the objects.
 */
#ifndef AUDITFS_LEDGER_H
#define AUDITFS_LEDGER_H

#include "entry.h"
#include "note.h"
#include "proof.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct auditfs_ledger auditfs_ledger;
typedef struct auditfs_writer auditfs_writer;

/** Creates a new bare-repository ledger at path with an empty signed checkpoint. */
AUDITFS_API int auditfs_ledger_init(const char *path, const auditfs_signer *key,
                                    const char *origin) AUDITFS_WUR;
/** Opens a ledger read-only (no lock). */
AUDITFS_API int auditfs_ledger_open(auditfs_ledger **out, const char *path) AUDITFS_WUR;
AUDITFS_API void auditfs_ledger_free(auditfs_ledger *l);
/** Re-reads the head ref (after another process appended). */
AUDITFS_API int auditfs_ledger_refresh(auditfs_ledger *l) AUDITFS_WUR;

/** The head checkpoint as stored (not verified): its parsed body and its signed note. */
AUDITFS_API int auditfs_ledger_head(auditfs_checkpoint *out, auditfs_ledger *l) AUDITFS_WUR;
AUDITFS_API int auditfs_ledger_checkpoint_note(char **out, size_t *len,
                                               auditfs_ledger *l) AUDITFS_WUR;
/** The signed checkpoint committed for tree size `size` (searching history, newest first). */
AUDITFS_API int auditfs_ledger_checkpoint_at(char **out, size_t *len, auditfs_ledger *l,
                                             uint64_t size) AUDITFS_WUR;
/** Verifies the head checkpoint's signature with key and its root against the head's tiles. */
AUDITFS_API int auditfs_ledger_check_head(auditfs_checkpoint *out, auditfs_ledger *l,
                                          const auditfs_verifier *key) AUDITFS_WUR;

/**
 * The leaf bytes of entry seq (malloc'd), checked against the head's level-0 tile: a leaf that
 * does not hash to the tiles is EVERIFY.
 */
AUDITFS_API int auditfs_ledger_leaf(uint8_t **out, size_t *len, auditfs_ledger *l,
                                    uint64_t seq) AUDITFS_WUR;

/** A cursor over entries [from, to) in order; every leaf checked against the tiles. */
typedef struct auditfs_cursor auditfs_cursor;
AUDITFS_API int auditfs_cursor_new(auditfs_cursor **out, auditfs_ledger *l, uint64_t from,
                                   uint64_t to) AUDITFS_WUR;
/** 1 and the next leaf (valid until the next call), 0 at the end, or a negative error. */
AUDITFS_API int auditfs_cursor_next(auditfs_cursor *c, const uint8_t **leaf, size_t *len);
AUDITFS_API void auditfs_cursor_free(auditfs_cursor *c);

/** Content of a document version or notice (malloc'd), checked against its entry's hash. */
AUDITFS_API int auditfs_ledger_content(uint8_t **out, size_t *len, auditfs_ledger *l,
                                       const auditfs_entry *e) AUDITFS_WUR;
/** The newest version number of a document (0 if none). */
AUDITFS_API int auditfs_ledger_doc_latest(uint64_t *out, auditfs_ledger *l,
                                          const char *name) AUDITFS_WUR;

/** Inclusion proof of index in the tree of size (0: the head size), from the head's tiles. */
AUDITFS_API int auditfs_ledger_prove(auditfs_inclusion_proof *out, auditfs_ledger *l,
                                     uint64_t index, uint64_t size) AUDITFS_WUR;
AUDITFS_API int auditfs_ledger_prove_consistency(auditfs_consistency_proof *out,
                                                 auditfs_ledger *l, uint64_t m,
                                                 uint64_t n) AUDITFS_WUR;

/* ---- writing ---- */

/* A batch's default size in leaf bytes: each batch costs a pack, a signed commit and about ten
 * fsyncs, so a bulk import of 10M entries at 8 MiB spent a third of its time in them; 16 MiB
 * halves that for ~12 MiB more memory (two batches: one being read, one committed). */
#define AUDITFS_BATCH_BYTES_DEFAULT ((size_t)16 << 20)

typedef struct auditfs_writer_options {
    int zstd_level;        /* 0: default (1) */
    size_t batch_bytes;    /* commit when a batch holds this many leaf bytes; 0: 16 MiB */
    int wait_for_lock;     /* 1: block until the lock is free; 0: EBUSY */
    /* the writer's memory (auditfs/state.h), or NULL: the head must extend the newest
     * checkpoint this party signed (EFORK otherwise), and each checkpoint is remembered there,
     * durably, before the ref moves: the key never signs two roots for one size */
    struct auditfs_state *state;
} auditfs_writer_options;
#define AUDITFS_WRITER_OPTIONS_INIT {.zstd_level = 0}

/**
 * Opens a writer: takes the ledger lock, checks that the head checkpoint is signed by key's
 * verifier with the ledger's origin (EKEY if the key is not the ledger's) and that the head
 * state is internally consistent (EVERIFY otherwise: an append never extends a bad state).
 */
AUDITFS_API int auditfs_writer_open(auditfs_writer **out, const char *path,
                                    const auditfs_signer *key,
                                    const auditfs_writer_options *opts) AUDITFS_WUR;

/**
 * Adds an entry to the batch. e supplies type, stream, optional headers and payload; seq,
 * time and prev are assigned. For documents and notices pass the content (stored as a git
 * blob); e->version is assigned for documents. *seq_out receives the entry's seq.
 */
AUDITFS_API int auditfs_writer_add(auditfs_writer *w, auditfs_entry *e, const void *content,
                                   size_t content_len, uint64_t *seq_out) AUDITFS_WUR;
/**
 * Sets the commit-message trailer of the pending batch: "Key: value\n" lines of printable ASCII
 * (at most 64 KiB), written after the commit's first line and a blank line, so that it becomes
 * durable atomically with the batch (auditfs_ledger_find_trailer reads it back). Cleared by
 * commit and discard. Used for input positions and batch ids (docs/FORMAT.md, section 16).
 */
AUDITFS_API int auditfs_writer_set_trailer(auditfs_writer *w, const char *text) AUDITFS_WUR;
/** Leaf bytes and entries pending in the batch. */
AUDITFS_API size_t auditfs_writer_pending_bytes(const auditfs_writer *w);
AUDITFS_API uint64_t auditfs_writer_pending_count(const auditfs_writer *w);
/** Commits the batch durably; *size is the new tree size. A no-op when nothing is pending. */
AUDITFS_API int auditfs_writer_commit(auditfs_writer *w, uint64_t *size) AUDITFS_WUR;
/** Discards the pending batch. */
AUDITFS_API void auditfs_writer_discard(auditfs_writer *w);
/** Discards any pending batch and releases the lock. */
AUDITFS_API void auditfs_writer_free(auditfs_writer *w);

/* ---- verification ---- */

typedef struct auditfs_verify_report {
    uint64_t entries;
    uint64_t segments;
    uint64_t commits;
    uint64_t documents;
    uint64_t notices;
    uint64_t leaf_bytes;
    auditfs_checkpoint head;
    int trusted_checked;
    /* on failure: what and where */
    uint64_t bad_entry; /* UINT64_MAX if not an entry */
    char bad_commit[41]; /* "" if not a commit */
    char reason[512];
    /* commit signatures (SSHSIG, docs/FORMAT.md section 10) of the commits checked */
    uint64_t signed_commits;
    uint64_t unsigned_commits; /* written before commits were signed: only before signed ones */
    uint64_t base_size;        /* auditfs_ledger_verify_from: the size verified before */
} auditfs_verify_report;

/**
 * Recomputes everything from the git objects: every segment and leaf, the hash chain, the tiles,
 * the Merkle root of every checkpoint in history, every signature (with key only), that history
 * only appends, and, if trusted_note is not NULL, that the ledger extends that checkpoint.
 * Returns 0, EVERIFY (report says where), or another error.
 */
AUDITFS_API int auditfs_ledger_verify(auditfs_verify_report *report, auditfs_ledger *l,
                                      const auditfs_verifier *key, const char *trusted_note,
                                      size_t trusted_len) AUDITFS_WUR;

/**
 * Incremental verification: like auditfs_ledger_verify, but trusts that base_commit (40 hex
 * digits; an ancestor of the head that an earlier verification with the same key accepted) and
 * everything before it is good, and checks only what came after: the commits since (signatures,
 * origin, tree rules), the segments and entries from base's size on, the tiles and contents
 * added. The cost grows with the new entries, not with the ledger. A head that does not descend
 * from base_commit is EVERIFY (a rewrite). NULL base_commit: a full verification.
 */
AUDITFS_API int auditfs_ledger_verify_from(auditfs_verify_report *report, auditfs_ledger *l,
                                           const auditfs_verifier *key,
                                           const char *base_commit) AUDITFS_WUR;

/**
 * *out = 1 if cp (its size and root; the signature is the caller's business) describes a prefix
 * of l's head: equal roots at equal size, a verified consistency proof at a smaller one, and
 * always for size 0 (the empty tree is a prefix of every tree). 0 if it does not, or if cp is
 * larger than the head.
 */
AUDITFS_API int auditfs_ledger_has_prefix(int *out, auditfs_ledger *l,
                                          const auditfs_checkpoint *cp) AUDITFS_WUR;

#ifdef __cplusplus
}
#endif
#endif
