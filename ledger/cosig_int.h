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

/** What a witness quorum vouches for in a ledger (afs_quorum_witnessed). */
typedef struct afs_witnessed {
    uint64_t size;   /* the largest checkpoint size above the floor the quorum vouches for
                        (0: none) */
    git_oid commit;  /* the newest commit of l whose checkpoint has that size */
    uint64_t best[AUDITFS_POLICY_MAX_ITEMS]; /* per witness: the largest size it (freshly)
                                                cosigned, 0 if none above the floor */
} afs_witnessed;

/**
 * The largest checkpoint of l's history above `floor` that p's quorum vouches for: a witness
 * counts for size s when it has a valid (and, with max_age >= 0, fresh) cosignature, stored on
 * `refname`, of a checkpoint of size >= s in l's history. A stored note counts only if its text
 * is exactly the text l committed at that size and it opens with logkey. Walks l's first-parent
 * history from the head down to the floor, once.
 */
int afs_quorum_witnessed(afs_witnessed *out, auditfs_ledger *l, const char *refname,
                         const auditfs_verifier *logkey, const auditfs_policy *p,
                         int64_t max_age, uint64_t now, uint64_t floor);

/**
 * Copies into dst's refs/auditfs/cosignatures the lines of p's witnesses that src's `refname`
 * holds for sizes <= upto (each line verified again by auditfs_cosig_store_add against dst's
 * own committed checkpoint; lines that do not verify are skipped and counted in *skipped).
 * *added counts the sizes whose stored note changed.
 */
int afs_cosig_import(size_t *added, size_t *skipped, auditfs_ledger *dst, auditfs_ledger *src,
                     const char *refname, const auditfs_policy *p, uint64_t upto);

#endif
