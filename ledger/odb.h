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
/** afs_odb_write_blob of a blob whose git id (sha1) and pack entry (afs_pack_blob_entry) were
 * made by a helper thread: the batch's pack gets the entry as built; without a pending batch the
 * blob is written as afs_odb_write_blob writes it. */
int afs_odb_write_blob_entry(git_oid *out, git_repository *repo, const uint8_t sha1[20],
                             const void *data, size_t len, const void *entry, size_t elen,
                             uint32_t crc);

/**
 * From now on, objects written to repo (afs_odb_write_blob, trees, commits) go to one pending
 * pack instead of loose files, until afs_odb_batch_finish or _abort.
 */
/**
 * Reads an object through the ledger's checked readers only (the batch's pending pack,
 * pack.c's reader, the hardened loose reader), each of which recomputes its SHA-1 with
 * OpenSSL: libgit2's strict re-hash of the same bytes (its collision-detecting SHA-1, ~9% of
 * a query's CPU) is not needed for these. *data is malloc'd, NUL-terminated after *len.
 * GIT_ENOTFOUND if none has it (a deltified object of git gc's packs, an alternate's): read
 * it through libgit2 then, which checks it itself.
 */
int afs_odb_read_checked(void **data, size_t *len, git_object_t *type, git_repository *repo,
                         const git_oid *oid);

/**
 * Bytes [from, from + n) of blob oid's content from the repository's packs, without reading or
 * hashing the rest (pack.h afs_packset_read_span: NO SHA-1 check; the caller checks what it
 * uses). *size gets the blob's size. GIT_ENOTFOUND when the packs do not hold it as a whole
 * stored-deflate blob: read it with afs_odb_read_checked then.
 */
int afs_odb_read_span(git_repository *repo, const git_oid *oid, uint64_t from, void *buf, size_t n,
                      uint64_t *size);

int afs_odb_batch_begin(git_repository *repo);
/* Removes the .keep files dead writers left (under the ledger lock, after any roll-forward). */
void afs_odb_remove_stale_keeps(git_repository *repo);
/**
 * Makes the pending pack durable (pack.c: fsynced and renamed into objects/pack/ with its .idx,
 * directory fsynced) and keeps batching. *loose_written says whether loose objects were written
 * since the last finish (those still need a syncfs before they can be relied on).
 */
int afs_odb_batch_finish(git_repository *repo, int *loose_written);
/**
 * The commit of the last finished batch is published (the ref names it, durably): its pack's
 * .keep is removed, so git gc may repack it from now on. Until then the pack is kept (pack.h,
 * AFS_PACK_KEEP), because none of its objects is reachable yet.
 */
void afs_odb_batch_published(git_repository *repo);
/** Drops the pending pack's objects (a batch that will not be committed), and the last finished
 * batch's .keep. */
void afs_odb_batch_abort(git_repository *repo);

#endif
