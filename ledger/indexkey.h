/*
 * ledger/indexkey.h - the secret that authenticates this party's derived query index.
 */
#ifndef AUDITFS_LEDGER_INDEXKEY_H
#define AUDITFS_LEDGER_INDEXKEY_H

#include "internal.h"

#define AFS_INDEX_KEY_BYTES 32

/**
 * Loads <state>/index.key into sodium_malloc memory (*out; free with afs_index_key_free). With
 * create, makes the state directory (0700) and a new random key (0600) when there is none.
 * Fails with AUDITFS_ENOTFOUND when there is no key and !create, AUDITFS_EKEY when the file is
 * not 0600, not ours or not 32 bytes.
 */
int afs_index_key_load(uint8_t **out, int create);
void afs_index_key_free(uint8_t *key);

#endif
