/*
 * auditfs/progress.h - progress reports from long operations (verify, index rebuild, opening a
 * view for a mount), and the variants of those operations that take them in an options struct.
 *
 * The library never prints: it calls the callback with what it is doing ("verify", "index",
 * "open"), the units done and the total (0 if unknown), at most every 1024 units and once more
 * when done == total. The callback runs on the calling thread, inside the operation; it must
 * not call back into the library on the same objects. Formatting (rate, ETA, whether stderr
 * is a terminal) is the caller's business: the auditfs command does it in cli/progress.c.
 */
#ifndef AUDITFS_PROGRESS_H
#define AUDITFS_PROGRESS_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*auditfs_progress_fn)(void *ctx, const char *what, uint64_t done, uint64_t total);

/** A progress callback and its context; {NULL, NULL} reports nothing. */
typedef struct auditfs_progress {
    auditfs_progress_fn fn;
    void *ctx;
} auditfs_progress;

struct auditfs_ledger;
struct auditfs_verify_report;
struct auditfs_verifier;

/** Options of auditfs_ledger_verify_opts; zero-initialise, then set what you need. */
typedef struct auditfs_verify_options {
    auditfs_progress progress; /* units: entries */
    const char *trusted_note;  /* optional checkpoint kept from before (as for verify) */
    size_t trusted_len;
} auditfs_verify_options;

/** auditfs_ledger_verify with options (opts may be NULL). */
AUDITFS_API int auditfs_ledger_verify_opts(struct auditfs_verify_report *report,
                                           struct auditfs_ledger *l,
                                           const struct auditfs_verifier *key,
                                           const auditfs_verify_options *opts) AUDITFS_WUR;

/** Options of auditfs_index_update_opts; zero-initialise. */
typedef struct auditfs_index_options {
    auditfs_progress progress; /* units: entries indexed */
    int rebuild;               /* discard the index and build it again */
    const char *fields;        /* with rebuild: the new comma-separated field list, or NULL */
} auditfs_index_options;

/** auditfs_index_update, or with rebuild auditfs_index_rebuild, with options. */
AUDITFS_API int auditfs_index_update_opts(struct auditfs_ledger *l,
                                          const auditfs_index_options *opts) AUDITFS_WUR;

#ifdef __cplusplus
}
#endif
#endif
