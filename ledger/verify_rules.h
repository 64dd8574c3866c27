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

/** One entry of a raw tree object; name points into the object's bytes. */
typedef struct afs_tree_entry {
    const char *name;
    size_t len;
    int dir; /* mode 40000 */
    git_oid id;
} afs_tree_entry;

/**
 * Tree id's raw bytes (*data malloc'd, NUL-terminated after *len) through the ledger's checked
 * readers, else libgit2's; never through libgit2's object cache, whose budget counts object
 * sizes and not what parsed trees take (at 10M entries verify held 11 MiB of cached seg/ and
 * tile/ trees against a 2 MiB budget). EVERIFY names path if unreadable or not a tree.
 */
int afs_tree_read_raw(char **data, size_t *len, git_repository *repo, const git_oid *id,
                      const char *path);

/**
 * Parses a raw tree object strictly (modes 100644/40000, valid names, git's order, strictly
 * increasing); *out is malloc'd. EVERIFY names the tree path and the entry.
 */
int afs_tree_parse(afs_tree_entry **out, size_t *n, const char *data, size_t len,
                   const char *path);
/** EVERIFY if a name appears twice, whatever the entry types. e is reordered. */
int afs_tree_check_duplicates(afs_tree_entry *e, size_t n, const char *path);

int afs_oidset_add(afs_oidset *s, const git_oid *id);
void afs_oidset_release(afs_oidset *s);

/**
 * Checks that tree id and every tree below it not in `seen` are canonical git trees
 * (verify_rules.c states the rules); adds them to seen. EVERIFY names the tree path.
 */
int afs_tree_check_canonical(afs_oidset *seen, git_repository *repo, const git_oid *id,
                             const char *path, int depth);

/**
 * History only appends: every blob of tree old_id is in tree new_id under the same path with
 * the same id, except the checkpoint and partial tiles (tile/ names with ".p"). Trees are read
 * raw (through the checked readers, outside libgit2's object cache) and parsed strictly.
 * prefix: the trees' path with a trailing '/', "" at the top; depth: 0 at the top. EVERIFY
 * names the path of the blob removed or changed.
 */
int afs_tree_extends(git_repository *repo, const git_oid *old_id, const git_oid *new_id,
                     const char *prefix, int depth);

#endif
