/*
 * auditfs/export.h - the ledger as a static C2SP tlog-tiles tree (https://c2sp.org/tlog-tiles)
 * that any web server, CDN or object store can serve to standard tlog clients:
 *
 *   DIR/checkpoint                    the signed checkpoint, verbatim
 *   DIR/tile/<L>/<N>[.p/<W>]          hash tiles, as stored in the ledger
 *   DIR/tile/entries/<N>[.p/<W>]      entry bundles: 256 leaves each (W in a partial one),
 *                                     every leaf as a big-endian uint16 length and its bytes
 *
 * The leaf hash of an entry is SHA-256(0x00 || leaf), the RFC 6962 record hash, so the
 * bundles' entries are exactly the ledger's leaves. Because the length prefix is 16 bits, only
 * leaves of at most 65,535 bytes can be exported: a longer one (possible with --max-record
 * above about 65,000 bytes, or a long quarantined line) stops the export with ETOOBIG naming
 * it, before the checkpoint is replaced.
 *
 * Incremental: an export starts at the size of the checkpoint already in the directory, after
 * checking it is signed by the key and that the ledger extends it (a directory holding another
 * ledger's or a forked log is refused with EVERIFY, never overwritten). Full tiles and bundles
 * are immutable, so files that exist are kept and only new ones are written (each to a temporary name, fsynced, renamed); the checkpoint is
 * written last, so a client never sees a checkpoint whose tiles are missing. Partial tiles
 * and bundles of earlier sizes are left in place (clients holding an older checkpoint still
 * read them).
 */
#ifndef AUDITFS_EXPORT_H
#define AUDITFS_EXPORT_H

#include "ledger.h"
#include "progress.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The longest leaf a C2SP entry bundle can hold (uint16 length prefix). */
#define AUDITFS_TLOG_ENTRY_MAX 65535

typedef struct auditfs_export_options {
    auditfs_progress progress; /* "export", entries written to bundles */
    int full; /* check every tile and bundle exists, not only those after the last export */
} auditfs_export_options;

typedef struct auditfs_export_report {
    auditfs_checkpoint head;  /* the exported checkpoint (verified with the key) */
    uint64_t tiles_written;   /* hash tiles written this time */
    uint64_t bundles_written; /* entry bundles written this time */
    uint64_t entries_written; /* entries in those bundles */
} auditfs_export_report;

/**
 * Writes (or brings up to date) the tlog-tiles tree of l's head in dir, after checking the
 * head checkpoint's signature with key and its root against the tiles; every exported leaf is
 * checked against the tiles as it is read. opts may be NULL.
 */
AUDITFS_API int auditfs_export_tlog_tiles(auditfs_export_report *out, auditfs_ledger *l,
                                          const auditfs_verifier *key, const char *dir,
                                          const auditfs_export_options *opts) AUDITFS_WUR;

#ifdef __cplusplus
}
#endif
#endif
