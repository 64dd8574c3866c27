/* ledger/odb.h - hardened object reading for repositories that may be hostile. */
#ifndef AUDITFS_ODB_H
#define AUDITFS_ODB_H

#include <git2.h>

/** Adds the checked loose-object reader (odb.c) in front of libgit2's own. */
int afs_odb_harden(git_repository *repo);

#endif
