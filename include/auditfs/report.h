/*
 * auditfs/report.h - the incident report (report.md and report.html) of a bundle.
 *
 * The report is generated from the bundle's files and nothing else, so a verifier can
 * regenerate it and compare bytes. Its wording is versioned: a bundle names the version it was
 * written with (query.txt "report N"; absent means 1) and is always regenerated in that version,
 * so rewording the report never breaks an old bundle. Versions (docs/FORMAT.md):
 *   1  auditfs 0.1.0: window, ledgers, timeline, party x layer counts, acting vs responsible
 *      party, notices, documents in force.
 *   2  for a regulator: a summary first (question, window, counts per party and layer,
 *      mismatches, undetermined rows and why, an empty result flagged as a finding), the
 *      event's own time next to the ledger time, key IDs, the tool version that wrote the
 *      bundle, "undetermined" where a tenant's service type is unknown.
 *   3  version 2 plus "Receipts": per notice and document version, which of the witnesses
 *      named in query.txt acknowledged it (their earliest cosignature, in the bundle's
 *      cosignatures/ files, of a checkpoint that includes it), when, how long after
 *      publication, the lead time (published vs. effective), and who has not.
 */
#ifndef AUDITFS_REPORT_H
#define AUDITFS_REPORT_H

#include "bundle.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AUDITFS_REPORT_V1 1
#define AUDITFS_REPORT_V2 2
#define AUDITFS_REPORT_V3 3
#define AUDITFS_REPORT_V4 4 /* query.txt "time ledger|event"; timeline by the chosen time */
/** The version new bundles are written with. */
#define AUDITFS_REPORT_CURRENT AUDITFS_REPORT_V4

/** Builds both reports of b in version (1..AUDITFS_REPORT_CURRENT, else EINVAL); malloc'd. */
AUDITFS_API int auditfs_report_build(char **md, size_t *md_len, char **html, size_t *html_len,
                                     const auditfs_bundle *b, int version) AUDITFS_WUR;

#ifdef __cplusplus
}
#endif
#endif
