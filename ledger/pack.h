/*
 * ledger/pack.h - one git pack per batch (writer), and a checked reader for packs (odb.c).
 */
#ifndef AUDITFS_PACK_H
#define AUDITFS_PACK_H

#include <git2.h>
#include <stddef.h>
#include <stdint.h>

/** Largest object read or written (segments are a few MiB; documents up to 1 GiB). */
#define AFS_MAX_OBJECT ((size_t)1 << 30)
/** Largest commit, tree or tag (a ledger's trees hold at most ~1000 names: tens of KiB). */
#define AFS_MAX_META ((size_t)16 << 20)

/* ---- writing: objects go to objects/pack/tmp_pack_* until afs_packw_finish ---- */
struct afs_buf;
typedef struct afs_packw afs_packw;
/** Starts an empty pack under objects_dir (the file is created on the first object). */
int afs_packw_new(afs_packw **out, const char *objects_dir);
/** Appends one object (stored deflate); a no-op if this pack already holds it. */
int afs_packw_add(afs_packw *w, const git_oid *oid, git_object_t type, const void *data,
                  size_t len);
/** afs_packw_add for an object the caller knows is not in the pack yet (no linear search:
 * merges add thousands of objects, ledger/packmerge.c). */
int afs_packw_add_new(afs_packw *w, const git_oid *oid, git_object_t type, const void *data,
                      size_t len);
/**
 * Builds, apart from any writer (thread-safe: a helper thread builds each segment's), the pack
 * entry afs_packw_add_new would write for a blob of len bytes (header, zlib stored blocks,
 * adler32) into out, its CRC-32 into *crc and the blob's git id (SHA-1) into sha1.
 */
int afs_pack_blob_entry(struct afs_buf *out, uint32_t *crc, uint8_t sha1[20], const void *data,
                        size_t len);
/** Appends an entry built by afs_pack_blob_entry for object oid of len bytes (a no-op if the
 * pack already holds oid): the pack gets the same bytes as afs_packw_add would write. */
int afs_packw_add_entry(afs_packw *w, const git_oid *oid, git_object_t type, size_t len,
                        const void *entry, size_t elen, uint32_t crc);
/** 1 with type and size if the pending pack holds oid. */
int afs_packw_header(const afs_packw *w, const git_oid *oid, git_object_t *type, size_t *len);
/** Reads a pending object back (*data malloc'd). 0, GIT_ENOTFOUND or -1. */
int afs_packw_read(const afs_packw *w, const git_oid *oid, void **data, size_t *len,
                   git_object_t *type);
/** Objects in the pending pack. */
size_t afs_packw_count(const afs_packw *w);
/**
 * Writes the trailer and the .idx (version 2), fsyncs both, renames them to
 * objects/pack/pack-<sha>.{pack,idx} (.idx last) and fsyncs the directory. After it returns 0,
 * every object added is durable; name is "pack-<sha>" ("" if the pack was empty). The writer is
 * then empty and can take the next batch.
 */
int afs_packw_finish(afs_packw *w, char name[64]);
/**
 * The content of the .keep file afs_packw_finish creates next to each batch's pack, before the
 * pack is visible, and that stays until afs_packw_unkeep (the commit it holds is published) or
 * afs_packw_abort (abandoned). Invariant: a batch's objects are unreachable until the ref
 * moves, and `git repack -a -d` (also run by `git gc`) deletes every pack it found that is not
 * kept, dropping (or, with -A, loosening) what no ref reached when it looked; a kept pack is
 * never deleted. So from the moment its objects can be found until the ref names them, a batch
 * is in a kept pack.
 */
#define AFS_PACK_KEEP "auditfs: batch not yet published\n"
/** Removes the .keep of the last finished batch (published, or abandoned), if any. */
void afs_packw_unkeep(afs_packw *w);
/**
 * Removes every objects/pack/pack-*.keep whose content is AFS_PACK_KEEP: called by a writer
 * holding the ledger lock, when no batch of another auditfs writer can be unpublished (those
 * left by a writer that died between its pack and its ref move, or failed to remove them).
 * .keep files with other content (git's, an operator's) are never touched.
 */
int afs_pack_remove_stale_keeps(const char *objects_dir);
/** Drops the pending objects (deletes the temporary file) and the last batch's .keep. */
void afs_packw_abort(afs_packw *w);
void afs_packw_free(afs_packw *w);

/* ---- reading: every pack's .idx checked on load, every object read checked ---- */
typedef struct afs_packset afs_packset;
int afs_packset_new(afs_packset **out, const char *objects_dir);
/**
 * Reads an undeltified object (*data from alloc, or only type/len when data is NULL). Returns 0,
 * GIT_ENOTFOUND (not in a pack, or stored as a delta: libgit2's pack reader takes it), or -1
 * with a git error set (damaged). Rescans objects/pack/ on a miss when the directory changed.
 */
int afs_packset_read(afs_packset *ps, const git_oid *oid, void **data, size_t *len,
                     git_object_t *type, void *(*alloc)(void *, size_t), void *alloc_ctx);
/** 1 if some loaded pack lists oid (after a rescan when the directory changed). */
int afs_packset_exists(afs_packset *ps, const git_oid *oid);
/**
 * Copies bytes [from, from + n) of blob oid's content into buf straight from its pack, when the
 * object is whole (not deltified) and its zlib stream is made of stored blocks (what pack.c and
 * odb.c write): no inflate of the rest, and NO SHA-1 check of the object. Only for readers that
 * check every byte they use against something they trust (ledger/hitread.c: each leaf against
 * the signed tree's tiles). *size gets the blob's size. GIT_ENOTFOUND when the packs do not hold
 * it in that form or its framing does not add up (read it with the checked readers then: they
 * report what is wrong), -1 (git error set) when the pack cannot be read.
 */
int afs_packset_read_span(afs_packset *ps, const git_oid *oid, uint64_t from, void *buf, size_t n,
                          uint64_t *size);
/** Loads objects/pack/<name>.idx (a pack this process just wrote). */
int afs_packset_add(afs_packset *ps, const char *name);
/** This process holds the writer lock: misses never rescan (after the first scan). */
void afs_packset_writer(afs_packset *ps);
/** Rescans objects/pack/ now; packs whose .idx is gone (merged, repacked) are dropped. */
int afs_packset_refresh(afs_packset *ps);
/** The sorted 20-byte names of the objects of loaded pack `name` ("pack-<hex>"), valid until
 * the set changes; -1 if no such pack is loaded. */
int afs_packset_names(const afs_packset *ps, const char *name, const uint8_t **names,
                      uint32_t *n);
void afs_packset_free(afs_packset *ps);

#endif
