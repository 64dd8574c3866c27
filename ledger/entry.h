/* ledger/entry.h - internal entry helpers. */
#ifndef AUDITFS_LEDGER_ENTRY_H
#define AUDITFS_LEDGER_ENTRY_H

#include "auditfs/entry.h"
#include "internal.h"

/** Appends the canonical encoding of e (validated) to b. */
int afs_entry_encode_buf(afs_buf *b, const auditfs_entry *e);

#endif
