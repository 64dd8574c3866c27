/* ledger/odb.h - hardened object reading for repositories that may be hostile. */
#ifndef AUDITFS_ODB_H
#define AUDITFS_ODB_H

#include <git2.h>

/** Adds the checked loose-object reader (odb.c) in front of libgit2's own. */
int afs_odb_harden(git_repository *repo);

/**
 * Writes a blob as a loose object directly (OpenSSL SHA-1, stored deflate), bypassing
 * git_odb_write: libgit2 hashes with its slower collision-detecting SHA-1 and, for every new
 * object, rescans objects/pack/ (a "freshen" miss triggers a refresh): 32,000 openat calls
 * for a million entries. *out is the blob's id.
 */
int afs_odb_write_blob(git_oid *out, git_repository *repo, const void *data, size_t len);

#endif
