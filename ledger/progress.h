/*
 * ledger/progress.h - internal: how long loops report progress.
 *
 * A public *_opts entry point installs its caller's callback for the duration of the call
 * (afs_progress_begin/end, per thread, nesting-safe); the loops deep inside (verify's segment
 * walk, the index builder, the view's scan) call afs_progress_tick without the callback having
 * to be threaded through every internal signature. With nothing installed a tick is one load.
 */
#ifndef AUDITFS_LEDGER_PROGRESS_H
#define AUDITFS_LEDGER_PROGRESS_H

#include "auditfs/progress.h"

/** Installs p (may be NULL) for this thread; returns the previous one for afs_progress_end. */
const auditfs_progress *afs_progress_begin(const auditfs_progress *p);
void afs_progress_end(const auditfs_progress *prev);
/** Reports done/total if done is a multiple of 1024 or equals total. */
void afs_progress_tick(const char *what, uint64_t done, uint64_t total);

#endif
