/*
 * ledger/witness_internal.h - the witness state's process lock, shared by witness_state.c and
 * witness.c. Not installed.
 */
#ifndef AUDITFS_WITNESS_INTERNAL_H
#define AUDITFS_WITNESS_INTERNAL_H

#include "auditfs/witness.h"

/**
 * Takes the exclusive flock on <state dir>/lock, so that two processes sharing a witness state
 * (a server and `auditfs cosign`) cannot both read the old checkpoint and cosign two different
 * successors: read, check, write and sign happen under it. Blocks until it is free.
 */
int afs_witness_state_lock(auditfs_witness_state *st);
void afs_witness_state_unlock(auditfs_witness_state *st);

#endif
