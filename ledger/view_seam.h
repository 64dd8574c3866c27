/*
 * ledger/view_seam.h - a test seam into the view (ledger/view_cache.c); not part of the public API.
 *
 * The mount re-checks every frame it reads against a digest of leaf hashes stored when the
 * frame was verified at pin time. Through the repository that check is unreachable: git's own
 * object hashes (strict hash verification) refuse a changed segment object first. A unit test
 * reaches it here instead, by changing the stored digest: to the check, that is the same as the
 * frame's bytes having changed after the pin.
 */
#ifndef AUDITFS_VIEW_SEAM_H
#define AUDITFS_VIEW_SEAM_H

#include "auditfs/view.h"

#include <stdint.h>

/* The 32-byte stored digest of the frame holding entry seq, or NULL if no frame holds it. */
uint8_t *afs_view_frame_digest(auditfs_view *v, uint64_t seq);
/* How many frames reads have decoded from the repository so far; *nframes: the pinned frames. */
uint64_t afs_view_frame_loads(auditfs_view *v, uint64_t *nframes);
/* Waits until the read-ahead workers (view_ahead.c) have nothing queued and nothing in hand. */
void afs_view_ahead_drain(auditfs_view *v);

#endif
