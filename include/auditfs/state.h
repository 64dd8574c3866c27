/*
 * auditfs/state.h - the verifier's memory: a state directory owned by the party that reads or
 * writes ledgers, never inside a ledger repository. docs/FORMAT.md section 15 gives the layout:
 *
 *   <state>/format                          "auditfs-state/1\n"
 *   <state>/origins/<enc>/origin            the origin, one line
 *   <state>/origins/<enc>/keys              pinned verifier keys, one per line
 *   <state>/origins/<enc>/seen              newest signed checkpoint this party verified
 *   <state>/origins/<enc>/signed            newest checkpoint this party signed (writers)
 *   <state>/origins/<enc>/evidence/<stamp>/ two conflicting signed checkpoints and the proof
 *   <state>/ledgers/<sha256(realpath)>      "<realpath>\n<origin>\n": which origin a ledger
 *                                           directory is expected to hold
 *   <state>/syncs/<sha256(realpath)>        the last successful clone or sync of a replica
 *
 * <enc> is the origin with every byte outside [A-Za-z0-9_-] (and a '.' that starts it) written
 * as %XX. Every file is replaced atomically (temporary file, fsync, rename, fsync of the
 * directory). Nothing here is ever read from a ledger: keys are pinned explicitly.
 */
#ifndef AUDITFS_STATE_H
#define AUDITFS_STATE_H

#include "note.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct auditfs_state auditfs_state;

/** Which remembered checkpoint: the newest one verified, or the newest one signed. */
enum auditfs_state_kind { AUDITFS_STATE_SEEN = 0, AUDITFS_STATE_SIGNED = 1 };

/**
 * The state directory auditfs uses when none is given: $AUDITFS_STATE if set and non-empty,
 * else $XDG_STATE_HOME/auditfs, else $HOME/.local/state/auditfs. (System services set
 * AUDITFS_STATE=/var/lib/auditfs, e.g. systemd's StateDirectory=auditfs.) Writes at most cap
 * bytes; EINVAL if none can be determined or it does not fit.
 */
AUDITFS_API int auditfs_state_default_path(char *out, size_t cap) AUDITFS_WUR;

/**
 * Opens (creating it, mode 0700, if absent) the state directory dir, or the default one when dir
 * is NULL. EINVAL if the directory is inside a git repository (a ledger's memory must not live
 * where the ledger's writers can change it); EIO if it cannot be created.
 */
AUDITFS_API int auditfs_state_open(auditfs_state **out, const char *dir) AUDITFS_WUR;
AUDITFS_API void auditfs_state_free(auditfs_state *s);
/** The absolute path of the state directory. */
AUDITFS_API const char *auditfs_state_path(const auditfs_state *s);

/**
 * EINVAL if the state directory is inside the ledger directory ledger_path (or is it): a
 * ledger's writers could then rewrite the memory that is meant to catch them.
 */
AUDITFS_API int auditfs_state_check_outside(auditfs_state *s, const char *ledger_path) AUDITFS_WUR;

/* ---- pinned keys ---- */

/**
 * Pins key for origin (appends it to the origin's keys file). Pinning a key that is already
 * pinned is a no-op (returns 0).
 */
AUDITFS_API int auditfs_state_pin(auditfs_state *s, const char *origin,
                                  const auditfs_verifier *key) AUDITFS_WUR;
/** Removes a pinned key (key NULL: every key of origin). ENOTFOUND if nothing was pinned. */
AUDITFS_API int auditfs_state_unpin(auditfs_state *s, const char *origin,
                                    const auditfs_verifier *key) AUDITFS_WUR;
/**
 * The keys pinned for origin: *out is a malloc'd array of *n verifiers (free each, then the
 * array; auditfs_state_keys_free does both). *n is 0 if none are pinned.
 */
AUDITFS_API int auditfs_state_keys(auditfs_verifier ***out, size_t *n, auditfs_state *s,
                                   const char *origin) AUDITFS_WUR;
AUDITFS_API void auditfs_state_keys_free(auditfs_verifier **keys, size_t n);
/** Every origin with a directory in the state: malloc'd array of malloc'd strings. */
AUDITFS_API int auditfs_state_origins(char ***out, size_t *n, auditfs_state *s) AUDITFS_WUR;

/* ---- remembered checkpoints ---- */

/**
 * The remembered checkpoint note of origin (verbatim, malloc'd, NUL-terminated). ENOTFOUND if
 * this party has none of that kind.
 */
AUDITFS_API int auditfs_state_checkpoint(char **out, size_t *len, auditfs_state *s,
                                         const char *origin, int kind) AUDITFS_WUR;
/**
 * Replaces the remembered checkpoint of origin with note, atomically and durably. The caller
 * has verified the note and that it extends the one it replaces (auditfs_trust_check does).
 */
AUDITFS_API int auditfs_state_remember(auditfs_state *s, const char *origin, int kind,
                                       const char *note, size_t len) AUDITFS_WUR;

/* ---- ledger bindings ---- */

/**
 * The origin the ledger directory ledger_path (resolved with realpath) was bound to, into out
 * (AUDITFS_NAME_MAX + 1 bytes). ENOTFOUND if it is not bound.
 */
AUDITFS_API int auditfs_state_bound_origin(char *out, auditfs_state *s,
                                           const char *ledger_path) AUDITFS_WUR;
/** Binds ledger_path to origin (replacing any binding). */
AUDITFS_API int auditfs_state_bind(auditfs_state *s, const char *ledger_path,
                                   const char *origin) AUDITFS_WUR;
/** Removes the binding of ledger_path. ENOTFOUND if it was not bound. */
AUDITFS_API int auditfs_state_unbind(auditfs_state *s, const char *ledger_path) AUDITFS_WUR;

/* ---- evidence ---- */

/**
 * Writes an evidence directory <state>/origins/<enc>/evidence/<stamp>/ holding
 * remembered.checkpoint and presented.checkpoint (verbatim notes), consistency.json (if proof is
 * not NULL: the proof, computed from the presented tree, from the remembered size to the
 * presented size), and README (auditfs-evidence/1, FORMAT.md section 15). root_at_old, if not
 * NULL, is the presented tree's root at the remembered size. *dir_out (malloc'd) is the
 * directory's path.
 */
AUDITFS_API int auditfs_state_write_evidence(char **dir_out, auditfs_state *s, const char *origin,
                                             const char *ledger_path, const char *kind,
                                             const char *reason, const char *remembered,
                                             size_t remembered_len, const char *presented,
                                             size_t presented_len, const char *proof_json,
                                             const auditfs_hash *root_at_old) AUDITFS_WUR;

/* ---- the last successful sync or clone of a replica ---- */

/** What `auditfs status` shows about a replica's last successful `clone` or `sync`. */
typedef struct auditfs_sync_record {
    int64_t time_us;                 /* when it succeeded, microseconds since the epoch */
    uint64_t size;                   /* the replica's tree size afterwards */
    char commit[41];                 /* its head commit afterwards (hex) */
    char origin[AUDITFS_NAME_MAX + 1];
    char remote[1024];               /* the remote as given (a name or a URL), password removed */
    char url[1024];                  /* the URL fetched from, password removed */
} auditfs_sync_record;

/**
 * Records r as the last successful sync of the replica at ledger_path: the file
 * <state>/syncs/<sha256 hex of realpath> (docs/FORMAT.md section 15), replaced atomically and
 * durably. A password in a URL ("scheme://user:secret@host") is never written; control
 * characters are written as '?'.
 */
AUDITFS_API int auditfs_state_record_sync(auditfs_state *s, const char *ledger_path,
                                          const auditfs_sync_record *r) AUDITFS_WUR;
/** The last recorded sync of ledger_path into *out; ENOTFOUND if none was recorded. */
AUDITFS_API int auditfs_state_last_sync(auditfs_sync_record *out, auditfs_state *s,
                                        const char *ledger_path) AUDITFS_WUR;

#ifdef __cplusplus
}
#endif
#endif
