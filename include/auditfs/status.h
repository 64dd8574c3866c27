/*
 * auditfs/status.h - what `auditfs status` reports about a ledger: its head commit and the
 * freshness of the derived query index. Nothing here is verified (see auditfs_ledger_verify):
 * it describes the repository as stored.
 */
#ifndef AUDITFS_STATUS_H
#define AUDITFS_STATUS_H

#include "ledger.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct auditfs_ledger_status {
    auditfs_checkpoint head;  /* the head checkpoint as stored (origin, size, root) */
    char commit[41];          /* hex id of the head commit */
    int64_t commit_time;      /* its committer time, seconds since the epoch */
    uint64_t commits;         /* length of the first-parent history */
    int64_t last_entry_us;    /* ledger time of the newest entry; 0 if the ledger is empty */
    int index_present;        /* a usable query index exists */
    uint64_t index_size;      /* entries it covers (<= head.size) */
    char index_problem[256];  /* why (part of) it is unusable, "" if healthy */
} auditfs_ledger_status;

/** Describes the opened ledger. Cost: one leaf read and a walk of the commit history. */
AUDITFS_API int auditfs_ledger_status_get(auditfs_ledger_status *out,
                                          auditfs_ledger *l) AUDITFS_WUR;

#ifdef __cplusplus
}
#endif
#endif
