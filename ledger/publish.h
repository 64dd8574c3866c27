/*
 * ledger/publish.h - the one durability order of every ref the library moves (publish.c):
 * objects durable, then the ref moved by compare-and-swap, then the moved ref durable.
 *
 * libgit2's own fsync option is off (store.c): it would fsync every object file and directory.
 * Instead a writer makes what it wrote under objects/ durable with one syncfs (or, for a batch
 * written as a pack, the pack's own fsyncs: pack.c), and only then moves the ref; the ref file
 * (or packed-refs, if git pack-refs took the ref meanwhile) and its directory are fsynced
 * before the caller acknowledges anything. tests/cli/cli_durability.sh checks the order.
 */
#ifndef AUDITFS_PUBLISH_H
#define AUDITFS_PUBLISH_H

#include "internal.h"

#include "auditfs/note.h"

#include <git2.h>

/** syncfs of the file system holding the repository's objects/ directory. */
int afs_repo_sync(git_repository *repo);

/** fsyncs the ref file refname (or packed-refs, when git packed the ref) and its directory. */
int afs_ref_sync(git_repository *repo, const char *refname);

/**
 * Moves refname to id by compare-and-swap (old: the id it must point at now; NULL: it must not
 * exist), then afs_ref_sync. A ref lock held by another process (git gc, pack-refs, a second
 * writer) is EBUSY: nothing was published. Messages name the repository as `where`.
 */
int afs_ref_publish(git_repository *repo, const char *refname, const git_oid *id,
                    const git_oid *old, const char *msg, const char *where);

/**
 * A whole commit on a side ref: the tree `base` (NULL: the empty tree) with nups updates, a
 * commit of it by "auditfs" with `parent` (NULL: a root commit), signed if key is not NULL;
 * then afs_repo_sync and afs_ref_publish from parent's id. *out is the commit's id.
 */
int afs_commit_publish(git_oid *out, git_repository *repo, const char *refname,
                       const git_tree *base, const git_tree_update *ups, size_t nups,
                       const git_commit *parent, const char *msg, const auditfs_signer *key,
                       const char *where);

#endif
