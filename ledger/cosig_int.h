/*
 * ledger/cosig_int.h - cosignature store internals shared with replica.c: the store read from
 * another ref (a replica's fetched copy of the remote's refs/auditfs/cosignatures), the largest
 * checkpoint a witness quorum vouches for, and importing verified lines. Not installed.
 */
#ifndef AUDITFS_COSIG_INT_H
#define AUDITFS_COSIG_INT_H

#include "auditfs/witness.h"

#include <git2.h>

/** Where `auditfs sync` fetches the remote's refs/auditfs/cosignatures before checking it. */
#define AFS_INCOMING_COSIG_REF "refs/auditfs/incoming-cosignatures"

/** auditfs_cosig_store_get on another side ref of l's repository. */
int afs_cosig_store_get_ref(char **out, size_t *len, auditfs_ledger *l, const char *refname,
                            uint64_t size);
/** auditfs_cosig_store_sizes on another side ref of l's repository. */
int afs_cosig_store_sizes_ref(uint64_t **sizes, size_t *n, auditfs_ledger *l,
                              const char *refname);

/**
 * Where a witnessed sync keeps the later checkpoints (verified, beyond the replica's head) that a
 * counted witness cosigned, so the replica's own history still proves what sync counted
 * (docs/FORMAT.md, section 12.6.1).
 */
#define AFS_WITNESS_TAIL_REF "refs/auditfs/witnessed-tail"

/** What a witness quorum vouches for in a ledger (afs_quorum_walk). */
typedef struct afs_witnessed {
    uint64_t size;   /* the largest checkpoint size >= lowest the quorum vouches for (0: none) */
    git_oid commit;  /* the newest commit of l whose checkpoint has that size */
    uint64_t top;    /* the largest size any witness was counted at (>= size when size != 0) */
    git_oid top_commit; /* the newest commit of l whose checkpoint has size top */
    uint64_t best[AUDITFS_POLICY_MAX_ITEMS]; /* per witness: the largest size it (freshly)
                                                cosigned, 0 if none at or above lowest */
    uint64_t when[AUDITFS_POLICY_MAX_ITEMS]; /* the newest line's time on that note; if not
                                                counted, of the newest line seen (0: none) */
} afs_witnessed;

/**
 * The one quorum rule (ledger/quorum.c): the largest checkpoint of l's history of size >= lowest
 * that p's quorum vouches for: a witness counts for size s when it has a valid (and, with
 * max_age >= 0, fresh) cosignature, stored on `refname`, of a checkpoint of size >= s in l's
 * history (for a ledger on refs/heads/main, that history includes AFS_WITNESS_TAIL_REF when it
 * descends from the head). A stored note counts only if its text is exactly the text l
 * committed at that size and, with logkey, it opens with logkey. Walks l's first-parent history
 * from the start down to lowest, once.
 */
int afs_quorum_walk(afs_witnessed *out, auditfs_ledger *l, const char *refname,
                    const auditfs_verifier *logkey, const auditfs_policy *p, int64_t max_age,
                    uint64_t now, uint64_t lowest);

/**
 * Copies into dst's refs/auditfs/cosignatures the lines of p's witnesses that src's `refname`
 * holds for sizes <= upto (each line verified again by auditfs_cosig_store_add against dst's
 * own committed checkpoint; lines that do not verify are skipped and counted in *skipped).
 * *added counts the sizes whose stored note changed.
 */
int afs_cosig_import(size_t *added, size_t *skipped, auditfs_ledger *dst, auditfs_ledger *src,
                     const char *refname, const auditfs_policy *p, uint64_t upto);

#endif
