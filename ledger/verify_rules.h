/* ledger/verify_rules.h - strict checks of raw tree objects for verify.c. Not installed. */
#ifndef AUDITFS_VERIFY_RULES_H
#define AUDITFS_VERIFY_RULES_H

#include "internal.h"

#include <git2.h>

/** A set of object ids: the trees already checked (shared subtrees are checked once). */
typedef struct afs_oidset {
    git_oid *v;
    unsigned char *used;
    size_t cap, n;
} afs_oidset;

int afs_oidset_add(afs_oidset *s, const git_oid *id);
void afs_oidset_release(afs_oidset *s);

/**
 * Checks that tree id and every tree below it not in `seen` are canonical git trees
 * (verify_rules.c states the rules); adds them to seen. EVERIFY names the tree path.
 */
int afs_tree_check_canonical(afs_oidset *seen, git_repository *repo, const git_oid *id,
                             const char *path, int depth);

#endif
