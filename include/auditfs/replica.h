/*
 * auditfs/replica.h - replicas of a ledger through git: clone, sync, push.
 *
 * A replica is a bare repository whose refs/heads/main only ever moves forward, to commits that
 * were verified with a pinned verifier key. New history is fetched into a side ref
 * (refs/auditfs/incoming, never read by other commands) and checked there:
 *  - its head checkpoint is signed by the pinned key, with the pinned origin;
 *  - it is consistent with the local head (an RFC 6962 consistency proof from the tiles) and
 *    its history descends from the local head commit (git ancestry);
 *  - the new commits, segments and entries verify (auditfs_ledger_verify_from: the cost grows
 *    with what is new, not with the ledger);
 *  - it extends the newest checkpoint this party remembers for the origin.
 * Only then does refs/heads/main move (compare-and-swap, after the objects are on disk).
 * Anything that does not extend what was seen before (a rollback, a rewritten or force-pushed
 * history, a split view: two histories signed by the same key) leaves the local ref where it
 * was, writes evidence (both signed checkpoints and the proof that fails) under the state
 * directory's evidence/, and returns EVERIFY with result.fork set.
 *
 * Transports are libgit2's: local paths and file://, git://, http(s):// (smart protocol), ssh://.
 * A successful clone or sync is recorded in the state directory (auditfs_state_record_sync:
 * when, from where, the size and commit reached), which `auditfs status` shows.
 */
#ifndef AUDITFS_REPLICA_H
#define AUDITFS_REPLICA_H

#include "ledger.h"
#include "policy.h"
#include "progress.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The side ref fetched history lands in before it is verified. */
#define AUDITFS_REPLICA_INCOMING_REF "refs/auditfs/incoming"

typedef struct auditfs_replica_result {
    int fork;                 /* 1: the remote does not extend what this party saw */
    const char *fork_kind;    /* "rollback", "rewrite", "split view" (static), or NULL */
    uint64_t old_size;        /* the local head before (0 for a clone) */
    uint64_t new_size;        /* the local head after (unchanged on failure) */
    uint64_t remote_size;     /* the head the remote served */
    uint64_t new_commits;     /* commits verified and taken */
    char old_commit[41];
    char new_commit[41];
    char remote_commit[41];
    char origin[AUDITFS_NAME_MAX + 1];
    char evidence[1024];      /* directory the evidence was written to ("" if none) */
    auditfs_verify_report report; /* the verification of what was new */
    /* auditfs_replica_sync_witnessed only: */
    uint64_t witnessed_size;  /* the largest new size the quorum vouches for (0: none) */
    int unwitnessed;          /* 1: refused because nothing new carries the quorum */
    size_t cosignatures_added;   /* sizes whose stored cosignatures changed */
    size_t cosignatures_skipped; /* fetched lines that did not verify (not stored) */
    int cosignatures_pushed;     /* auditfs_replica_push: refs/auditfs/cosignatures moved */
} auditfs_replica_result;

/**
 * Creates a replica at dir (which must not exist or be empty) from url: fetches the remote's
 * refs/heads/main, verifies the whole ledger with key (and, if origin is not NULL, that it is
 * that ledger), pins key for the origin and remembers the head checkpoint in the state
 * directory, then sets refs/heads/main. The remote is saved as remote_name ("origin" if NULL)
 * for auditfs_replica_sync. A key pinned before for the origin must be this key (EKEY).
 */
AUDITFS_API int auditfs_replica_clone(auditfs_replica_result *out, const char *url,
                                      const char *dir, const auditfs_verifier *key,
                                      const char *origin, const char *remote_name) AUDITFS_WUR;

/**
 * Brings the replica at dir up to date from remote_name ("origin" if NULL; a URL is accepted
 * too). key NULL: the key pinned for the replica's origin (ENOTFOUND if none, naming the origin).
 * Returns 0 (out->new_commits may be 0), EVERIFY with out->fork set and out->evidence written
 * for a fork, rollback or rewrite, EVERIFY without fork when the new part does not verify.
 */
AUDITFS_API int auditfs_replica_sync(auditfs_replica_result *out, const char *dir,
                                     const char *remote_name,
                                     const auditfs_verifier *key) AUDITFS_WUR;

/** Options of auditfs_replica_clone_opts and auditfs_replica_sync_opts; zero-initialise. */
typedef struct auditfs_replica_options {
    /* "fetch": git objects received of the pack's total; "resolve": deltas resolved; then
     * "verify": entries verified (of the remote head's size; a sync starts at the local size) */
    auditfs_progress progress;
    /* with a policy, auditfs_replica_sync_witnessed's rule (the newest checkpoint the
     * policy's witnesses vouch for; a clone starts there, or fails with out->unwitnessed set
     * and leaves nothing behind); max_age > 0 counts only cosignatures younger than max_age
     * seconds at now (POSIX seconds) */
    const auditfs_policy *policy;
    int64_t max_age;
    uint64_t now;
} auditfs_replica_options;

/** auditfs_replica_clone with options (opts may be NULL). */
AUDITFS_API int auditfs_replica_clone_opts(auditfs_replica_result *out, const char *url,
                                           const char *dir, const auditfs_verifier *key,
                                           const char *origin, const char *remote_name,
                                           const auditfs_replica_options *opts) AUDITFS_WUR;
/** auditfs_replica_sync with options (opts may be NULL). */
AUDITFS_API int auditfs_replica_sync_opts(auditfs_replica_result *out, const char *dir,
                                          const char *remote_name, const auditfs_verifier *key,
                                          const auditfs_replica_options *opts) AUDITFS_WUR;

/**
 * auditfs_replica_sync for a party that trusts only witnessed checkpoints (docs/FORMAT.md,
 * section 12.6): the remote's refs/auditfs/cosignatures is fetched too (into
 * refs/auditfs/incoming-cosignatures), and refs/heads/main moves only to the newest remote
 * checkpoint that p's quorum vouches for: each counted witness has a valid cosignature (with
 * max_age >= 0, one at most max_age seconds older than now) on that checkpoint or a later one of
 * the same history. That may be older than the remote head (out->new_size <
 * out->remote_size; out->witnessed_size says which). If no new checkpoint carries the quorum,
 * the replica stays where it was: EVERIFY with out->unwitnessed set (a fork is still reported as
 * a fork first, with evidence). On success the cosignature lines of p's witnesses for sizes up
 * to the new head are stored in the replica's own refs/auditfs/cosignatures.
 */
AUDITFS_API int auditfs_replica_sync_witnessed(auditfs_replica_result *out, const char *dir,
                                               const char *remote_name,
                                               const auditfs_verifier *key,
                                               const auditfs_policy *p, int64_t max_age,
                                               uint64_t now) AUDITFS_WUR;

/**
 * Pushes the ledger's refs/heads/main to remote (a configured remote name or a URL) as a
 * fast-forward only: the remote's main must be absent, equal to, or an ancestor of the local
 * head, checked on the same connection that pushes. Anything else is refused (EVERIFY, fork
 * set): the remote holds history this ledger does not have. refs/auditfs/cosignatures goes
 * along (fast-forward only, out->cosignatures_pushed) when the remote has none or an
 * ancestor of the local one; a remote side ref that went elsewhere is left as it is.
 */
AUDITFS_API int auditfs_replica_push(auditfs_replica_result *out, const char *dir,
                                     const char *remote) AUDITFS_WUR;

#ifdef __cplusplus
}
#endif
#endif
