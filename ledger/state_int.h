/* ledger/state_int.h - state-directory helpers of state.c for the library (trust.c, lastsync.c,
 * witness_sizes.c, ingest.c). Not installed. */
#ifndef AUDITFS_STATE_INT_H
#define AUDITFS_STATE_INT_H

#include "auditfs/state.h"

#include <limits.h>

/**
 * Takes the exclusive lock of origin's state directory (flock on <dir>/lock), so that a check
 * and the update of the remembered checkpoint that follows it are one step: two readers never
 * move the memory backwards.
 */
int afs_state_lock(int *fd_out, auditfs_state *s, const char *origin);
void afs_state_unlock(int fd);

/**
 * The commit that holds the newest checkpoint this party signed for origin (file
 * signed-commit, 40 hex digits): read into out when set is NULL, else written (atomically).
 */
int afs_state_signed_commit(char out[41], auditfs_state *s, const char *origin, const char *set);

/**
 * <state>/origins/<enc> of origin into out (cap bytes); with make, created (with its origin
 * file) if absent.
 */
int afs_state_origin_dir(char *out, size_t cap, auditfs_state *s, const char *origin, int make);

/**
 * <state>/<dir>/<hex SHA-256 of the ledger's real path> into out (cap bytes), the file the
 * state keeps about that ledger (dir "ledgers": its binding, lastsync.c's "syncs": its last
 * sync); abs receives the real path. ENOTFOUND if the ledger path does not exist.
 */
int afs_state_ledger_file(char *out, size_t cap, char abs[PATH_MAX], const auditfs_state *s,
                          const char *dir, const char *ledger_path);

typedef struct auditfs_ledger auditfs_ledger;
typedef struct auditfs_verifier auditfs_verifier;
/**
 * A writer's check before it signs anything (ingest.c): the head, already verified with the
 * writer's own key, must extend the newest checkpoint this party signed and the newest it saw
 * for the origin (EFORK, with evidence, otherwise). One exception, a crash of this party's own
 * writer after it remembered a commit and before it moved the ref: when the remembered commit
 * is in the repository, its parent is the head and it holds the remembered checkpoint, the ref
 * is moved forward to it (the objects were synced before it was remembered) and the check
 * repeats. With no signed memory yet, the head becomes it.
 */
int afs_trust_writer_open(auditfs_state *st, auditfs_ledger *l, int *rolled_forward);
/**
 * Remembers a checkpoint this party is about to publish: called after the batch's objects are
 * durable and before the ref moves, so that no crash or later rollback can make the key sign
 * another root for that size.
 */
int afs_trust_writer_signed(auditfs_state *st, const char *origin, const char *note, size_t len,
                            const char *commit_hex);

#endif
