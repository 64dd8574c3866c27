/*
 * auditfs/proof.h - proof serialisations.
 *
 * JSON with the Certificate Transparency v1 field names (RFC 6962 4.5, 4.4):
 *   inclusion   {"leaf_index":N,"tree_size":T,"audit_path":["<base64>",...]}
 *   consistency {"first":M,"second":N,"consistency":["<base64>",...]}
 * and the offline c2sp.org/tlog-proof@v1 text:
 *   c2sp.org/tlog-proof@v1\n[extra <base64>\n]index N\n<base64 hash>\n...\n\n<signed checkpoint>
 * Parsers treat their input as hostile: bounded lengths, canonical numbers, strict base64.
 */
#ifndef AUDITFS_PROOF_H
#define AUDITFS_PROOF_H

#include "merkle.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Largest proof file accepted by the parsers. */
#define AUDITFS_PROOF_MAX_BYTES (1u << 20)
/** Largest opaque extra data in a tlog-proof (decoded bytes). */
#define AUDITFS_TLOG_EXTRA_MAX_BYTES (48u << 10)

typedef struct auditfs_inclusion_proof {
    uint64_t leaf_index;
    uint64_t tree_size;
    size_t path_len;
    auditfs_hash path[AUDITFS_MERKLE_MAX_INCLUSION];
} auditfs_inclusion_proof;

typedef struct auditfs_consistency_proof {
    uint64_t first;
    uint64_t second;
    size_t path_len;
    auditfs_hash path[AUDITFS_MERKLE_MAX_CONSISTENCY];
} auditfs_consistency_proof;

/** JSON text (no trailing newline), malloc'd. */
AUDITFS_API int auditfs_inclusion_proof_to_json(char **out,
                                                const auditfs_inclusion_proof *p) AUDITFS_WUR;
/** Parses the JSON form; whitespace and key order are free, unknown keys are rejected. */
AUDITFS_API int auditfs_inclusion_proof_from_json(auditfs_inclusion_proof *out, const char *json,
                                                  size_t len) AUDITFS_WUR;
AUDITFS_API int auditfs_consistency_proof_to_json(char **out,
                                                  const auditfs_consistency_proof *p) AUDITFS_WUR;
AUDITFS_API int auditfs_consistency_proof_from_json(auditfs_consistency_proof *out,
                                                    const char *json, size_t len) AUDITFS_WUR;

/**
 * Formats a tlog-proof@v1 file from a proof and the signed checkpoint note it is against
 * (copied verbatim). extra may be NULL.
 */
AUDITFS_API int auditfs_tlog_proof_format(char **out, size_t *out_len,
                                          const auditfs_inclusion_proof *p,
                                          const char *checkpoint_note, size_t note_len,
                                          const uint8_t *extra, size_t extra_len) AUDITFS_WUR;
/**
 * Parses a tlog-proof@v1 file. Sets out->leaf_index and the path; out->tree_size is left 0 (it
 * comes from the checkpoint, which the caller must verify). *note and *note_len point into `text`.
 */
AUDITFS_API int auditfs_tlog_proof_parse(auditfs_inclusion_proof *out, const char **note,
                                         size_t *note_len, const char *text,
                                         size_t len) AUDITFS_WUR;

#ifdef __cplusplus
}
#endif
#endif
