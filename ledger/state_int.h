/* ledger/state_int.h - state-directory helpers shared by state.c and trust.c. Not installed. */
#ifndef AUDITFS_STATE_INT_H
#define AUDITFS_STATE_INT_H

#include "auditfs/state.h"

/**
 * Takes the exclusive lock of origin's state directory (flock on <dir>/lock), so that a check
 * and the update of the remembered checkpoint that follows it are one step: two readers never
 * move the memory backwards.
 */
int afs_state_lock(int *fd_out, auditfs_state *s, const char *origin);
void afs_state_unlock(int fd);

#endif
