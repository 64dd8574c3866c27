/*
 * auditfs/witness.h - witnesses: cosignatures stored with a ledger, a witness's own durable
 * state, and the C2SP tlog-witness add-checkpoint operation.
 *
 * Cosignatures with the ledger (docs/FORMAT.md, "Cosignatures"): the side ref
 * refs/auditfs/cosignatures is a chain of commits whose tree holds one file per cosigned tree
 * size, cosig/DDD/DDD/DDD/DDD (the 12-digit size in four groups), containing the ledger's
 * signed checkpoint of that size followed by the cosignature lines. refs/heads/main is never
 * touched, so adding a cosignature never changes what is proven about entries.
 *
 * Witness state ($AUDITFS_STATE/witness/<name>+<cosig key id>/): for each log origin, the last
 * checkpoint this witness cosigned (logs/<hex SHA-256(origin)>.checkpoint, the log-signed note),
 * written atomically (temporary file, fsync, rename, fsync of the directory) before any
 * cosignature leaves; refusals that prove a fork leave both signed checkpoints in evidence/.
 */
#ifndef AUDITFS_WITNESS_H
#define AUDITFS_WITNESS_H

#include "cosig.h"
#include "ledger.h"
#include "policy.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- cosignatures stored with a ledger ---- */

#define AUDITFS_COSIG_REF "refs/auditfs/cosignatures"

/**
 * The stored cosigned note for tree size `size` (the ledger's signed checkpoint plus cosignature
 * lines), malloc'd; ENOTFOUND if no cosignature was stored for that size.
 */
AUDITFS_API int auditfs_cosig_store_get(char **out, size_t *len, auditfs_ledger *l,
                                        uint64_t size) AUDITFS_WUR;
/**
 * The ledger's checkpoint of `size` with every stored cosignature line: the stored note, or
 * the plain checkpoint when none is stored. size UINT64_MAX means the head.
 */
AUDITFS_API int auditfs_cosig_store_checkpoint(char **out, size_t *len, auditfs_ledger *l,
                                               uint64_t size) AUDITFS_WUR;
/**
 * Stores cosignature lines by `witness` for the checkpoint of tree size `size`. The checkpoint
 * must be one the ledger committed (its exact signed text, found in history), and every line
 * must verify against it (EVERIFY otherwise; nothing is written). Writes one commit on
 * AUDITFS_COSIG_REF (objects synced, then the ref moved by compare-and-swap and fsynced) unless
 * nothing new: *changed (may be NULL) says which.
 */
AUDITFS_API int auditfs_cosig_store_add(int *changed, auditfs_ledger *l, uint64_t size,
                                        const char *lines, size_t lines_len,
                                        const auditfs_verifier *witness) AUDITFS_WUR;
/** The tree sizes that have stored cosignatures, ascending (malloc'd array; *n may be 0). */
AUDITFS_API int auditfs_cosig_store_sizes(uint64_t **sizes, size_t *n,
                                          auditfs_ledger *l) AUDITFS_WUR;

/**
 * Whether the ledger's checkpoint of tree size `size` (UINT64_MAX: the head's) meets the
 * policy's quorum, by the one rule `verify`, `sync`, `clone` and the mount share (docs/FORMAT.md,
 * section 12.6): a witness counts when its stored cosignature lines verify on that checkpoint or
 * on a later checkpoint of the ledger's own history (including the tail a witnessed sync kept,
 * section 12.6.1) and, with max_age >= 0, the counted note's newest line is at most max_age
 * seconds older than now (a timestamp ahead of now counts as fresh). A stored note counts only
 * if its signed text is byte for byte the checkpoint committed at its size. *met is 1 or 0.
 * when[i] and counted[i] (arrays of auditfs_policy_witness_count entries, may be NULL) receive
 * each witness's newest timestamp on the note counted (if not counted: of the newest valid line
 * seen, 0: none) and whether it counted. The log signature is not checked here.
 */
AUDITFS_API int auditfs_witness_quorum(int *met, uint64_t *when, int *counted, auditfs_ledger *l,
                                       uint64_t size, const auditfs_policy *p, int64_t max_age,
                                       uint64_t now) AUDITFS_WUR;
/** auditfs_witness_quorum, with cosigned[i] (may be NULL) the checkpoint size each witness was
 *  counted at (>= size; 0: not counted). */
AUDITFS_API int auditfs_witness_quorum_sizes(int *met, uint64_t *when, uint64_t *cosigned,
                                             auditfs_ledger *l, uint64_t size,
                                             const auditfs_policy *p, int64_t max_age,
                                             uint64_t now) AUDITFS_WUR;

/* ---- receipts: who acknowledged each notice and document version ---- */

/** One witness's acknowledgement of a notice or document version. */
typedef struct auditfs_receipt_ack {
    const char *witness; /* the policy's name for the witness */
    int acked;           /* 0: not yet acknowledged (time and tree_size are 0) */
    uint64_t time;       /* POSIX seconds of its earliest cosignature of a checkpoint that
                            includes the entry */
    uint64_t tree_size;  /* the size of that checkpoint */
} auditfs_receipt_ack;

/** The receipt of one notice or document version: one ack per policy witness, in order. */
typedef struct auditfs_receipt {
    const auditfs_entry *entry;
    const auditfs_receipt_ack *acks;
    size_t nacks;
} auditfs_receipt;

/** Receives one receipt (valid only during the call); nonzero stops the walk and is returned. */
typedef int (*auditfs_receipt_cb)(void *ctx, const auditfs_receipt *r);

/**
 * Receipts for every notice and document version among the first `size` entries of l (with
 * tenant, only that tenant's and those without a tenant), in ledger order: for each witness of
 * p, the earliest cosignature among the stored cosigned checkpoints of sizes <= size that
 * includes the entry. With logkey, every stored checkpoint used must open with it (and origin,
 * if not NULL): EVERIFY otherwise.
 */
AUDITFS_API int auditfs_receipts_run(auditfs_ledger *l, uint64_t size, const auditfs_policy *p,
                                     const char *tenant, const auditfs_verifier *logkey,
                                     const char *origin, auditfs_receipt_cb cb,
                                     void *ctx) AUDITFS_WUR;

/**
 * Formats one receipt as `auditfs acks` prints it: text (a line for the entry, a line per
 * witness, data escaped), or with json one JSON object and a newline (docs/JSON.md, "acks"),
 * with a "ledger" member when lname is not NULL. *out is malloc'd and NUL-terminated.
 */
AUDITFS_API int auditfs_receipt_format(char **out, size_t *len, const auditfs_receipt *r,
                                       int json, const char *lname) AUDITFS_WUR;

/* ---- a witness's own state ---- */

typedef struct auditfs_witness_state auditfs_witness_state;

/**
 * Opens (creating, mode 0700) the state of the witness key `witness` under state_root
 * ($AUDITFS_STATE): state_root/witness/<name with '/' as '_'>+<cosig key id>/.
 */
AUDITFS_API int auditfs_witness_state_open(auditfs_witness_state **out, const char *state_root,
                                           const auditfs_verifier *witness) AUDITFS_WUR;
AUDITFS_API void auditfs_witness_state_free(auditfs_witness_state *st);
/** The witness's state directory. */
AUDITFS_API const char *auditfs_witness_state_dir(const auditfs_witness_state *st);
/** The last checkpoint note cosigned for origin (malloc'd); ENOTFOUND if none. */
AUDITFS_API int auditfs_witness_state_get(char **note, size_t *len, auditfs_witness_state *st,
                                          const char *origin) AUDITFS_WUR;
/** Replaces it atomically and durably (temporary file, fsync, rename, fsync directory). */
AUDITFS_API int auditfs_witness_state_put(auditfs_witness_state *st, const char *origin,
                                          const char *note, size_t len) AUDITFS_WUR;
/**
 * Records evidence of a fork or rollback: a new directory evidence/<UTC time>-<n>/ holding
 * cosigned.checkpoint (what the witness cosigned before), offered.checkpoint (what it was shown),
 * optionally conflicting.checkpoint (a third signed note, e.g. the ledger's own checkpoint at the
 * remembered size) and reason.txt. *dir (malloc'd, may be NULL) is its path.
 */
AUDITFS_API int auditfs_witness_state_evidence(char **dir, auditfs_witness_state *st,
                                               const char *cosigned, size_t cosigned_len,
                                               const char *offered, size_t offered_len,
                                               const char *conflicting, size_t conflicting_len,
                                               const char *reason) AUDITFS_WUR;

/* ---- a provider's memory of its witnesses ---- */

struct auditfs_state;

/**
 * The tree size the witness last cosigned for origin, as this party (the provider asking with
 * `auditfs witness request`) remembers it in its state directory:
 * <state>/origins/<enc>/witnesses/<key name, '/' as '_'>+<0x04 key id hex>, one line
 * "<size>\n". ENOTFOUND if nothing is remembered; EFORMAT if the file is not that.
 */
AUDITFS_API int auditfs_witness_size_get(uint64_t *size, struct auditfs_state *st,
                                         const char *origin,
                                         const auditfs_verifier *witness) AUDITFS_WUR;
/** Remembers it (written atomically and durably). */
AUDITFS_API int auditfs_witness_size_put(struct auditfs_state *st, const char *origin,
                                         const auditfs_verifier *witness,
                                         uint64_t size) AUDITFS_WUR;

/* ---- C2SP tlog-witness: add-checkpoint ---- */

/** Largest add-checkpoint request body accepted (a note plus 63 proof lines, with room). */
#define AUDITFS_WITNESS_MAX_BODY (AUDITFS_NOTE_MAX_BYTES + 8192)

/** A log the witness follows. */
typedef struct auditfs_witness_log {
    const char *origin;
    const auditfs_verifier *key;
} auditfs_witness_log;

/** The outcome of one add-checkpoint request. */
typedef struct auditfs_witness_result {
    int status;      /* HTTP status: 200, 400, 403, 404, 409 or 422 */
    char *body;      /* malloc'd response body: cosignature lines, "<size>\n" (409) or a reason */
    size_t body_len;
    int fork;        /* 1 if the request proves a fork: a validly signed checkpoint of the
                        remembered size with another root (409; evidence was recorded) */
    char *evidence;  /* the evidence directory when fork (malloc'd) */
    uint64_t old_size, new_size;
    char origin[AUDITFS_NAME_MAX + 1];
} auditfs_witness_result;

AUDITFS_API void auditfs_witness_result_release(auditfs_witness_result *r);

/**
 * Formats an add-checkpoint body: "old <old>\n", the proof lines, a blank line, the note.
 */
AUDITFS_API int auditfs_witness_request_format(char **out, size_t *out_len, uint64_t old_size,
                                               const auditfs_consistency_proof *proof,
                                               const char *note, size_t note_len) AUDITFS_WUR;

/**
 * Handles one add-checkpoint request body as c2sp.org/tlog-witness specifies: 400 malformed or
 * old size > checkpoint size, 404 unknown origin, 403 no valid signature by the log's key,
 * 409 old size != the witness's latest size for the log, or the same size with a different
 * root (body "<latest>\n"), 422 a consistency proof that does not verify (or a non-empty one
 * from size 0 or between equal sizes), 200 with a fresh cosignature line
 * at `now` (POSIX seconds) after the new state is durably stored. Nothing is stored unless the
 * status is 200. Returns 0 with r filled whatever the status, or a negative error when the
 * state itself failed (I/O: nothing was cosigned).
 */
AUDITFS_API int auditfs_witness_add_checkpoint(auditfs_witness_result *r,
                                               auditfs_witness_state *st,
                                               const auditfs_signer *witness,
                                               const auditfs_witness_log *logs, size_t nlogs,
                                               const char *body, size_t len,
                                               uint64_t now) AUDITFS_WUR;

#ifdef __cplusplus
}
#endif
#endif
