/*
 * ledger/commitsig.h - signed ledger commits (SSHSIG in the `gpgsig` header, namespace "git"),
 * shared by the writer (ingest.c), verify.c and replica.c. docs/FORMAT.md section 10.
 */
#ifndef AUDITFS_COMMITSIG_H
#define AUDITFS_COMMITSIG_H

#include "auditfs/note.h"

#include <git2.h>

/**
 * Writes a commit (author = committer = who) whose `gpgsig` header is an SSHSIG by key over
 * exactly the bytes git verifies (the commit without that header). Moves no ref.
 */
int afs_commit_create_signed(git_oid *out, git_repository *repo, const git_signature *who,
                             const char *message, const git_tree *tree, size_t nparents,
                             const git_commit *parents[], const auditfs_signer *key);

/**
 * Checks commit id's signature: *is_signed 0 and return 0 when it has no `gpgsig` header (a
 * commit written before signed commits); *is_signed 1 and 0 when it is an SSHSIG by key over
 * the commit; EVERIFY when a signature is there but is malformed, of another key or of other
 * bytes.
 */
int afs_commit_check_signature(int *is_signed, git_repository *repo, const git_oid *id,
                               const auditfs_verifier *key);

#endif
