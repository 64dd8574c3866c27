/*
 * ledger/hitread.h - single entries read for a query's hits: one frame per hit, not a segment.
 */
#ifndef AUDITFS_HITREAD_H
#define AUDITFS_HITREAD_H

#include "store.h"

typedef struct afs_hitread afs_hitread;

int afs_hitread_new(afs_hitread **out, auditfs_ledger *l);
/**
 * The leaf of entry seq (< the head size), checked against the head's level-0 tile (itself
 * checked up to the signed root) before it is handed out: *leaf stays valid until the next call.
 * EVERIFY naming the segment and its object when the bytes read do not give that leaf.
 */
int afs_hitread_leaf(afs_hitread *h, uint64_t seq, const uint8_t **leaf, size_t *len);
void afs_hitread_free(afs_hitread *h);

#endif
