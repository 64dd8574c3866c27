/*
 * ledger/packmerge.h - geometric merging of batch packs (see packmerge.c for the invariants).
 */
#ifndef AUDITFS_PACKMERGE_H
#define AUDITFS_PACKMERGE_H

#include <git2.h>
#include <stddef.h>
#include <stdint.h>

/** Packs are merged AFS_PACK_FANIN at a time, by size tiers of that factor above this size. */
#define AFS_PACK_FANIN 16u
#define AFS_PACK_TIER0 ((uint64_t)64 << 10)

/**
 * How many of the packs, sizes ascending, to merge into one (0: none): every pack up to the
 * end of the lowest size tier that holds AFS_PACK_FANIN packs.
 */
size_t afs_pack_merge_plan(const uint64_t *sizes, size_t n);

/**
 * Merges the smallest mergeable packs of objects_dir/pack/ into one when the geometric
 * progression is broken. The caller holds the ledger's writer lock and has published its
 * batch. *merged gets how many packs were merged (0: nothing to do), *packs_after the number of
 * mergeable packs left. On error nothing was removed that is not in a durable pack.
 */
int afs_pack_merge(const char *objects_dir, size_t *merged, size_t *packs_after);

/** afs_pack_merge on a repository's objects/, errors ignored: called by the writer after each
 * published batch (ledger/ingest.c). */
void afs_pack_merge_after_publish(git_repository *repo);

#endif
