/*
 * auditfs/cosig.h - C2SP tlog-cosignature v1: timestamped Ed25519 cosignatures of checkpoints.
 *
 * A witness (cosigner) key is an ordinary note key (auditfs keygen); only the key id and the
 * signed message differ from a log signature:
 *   key id     SHA-256(<name> || "\n" || 0x04 || 32-byte Ed25519 public key)[:4]
 *   line       "— <name> base64(key id || u64be timestamp || 64-byte Ed25519 signature)\n"
 *   message    "cosignature/v1\ntime <timestamp>\n" || checkpoint body (with its final newline)
 * The line is a note signature line, so a cosigned checkpoint still opens with the log key alone
 * (Go's note.Open ignores lines of unknown keys).
 *
 * Witness verifier keys are accepted in either published form: a note vkey (type 0x01, key id
 * computed with 0x01) or a cosignature vkey (type 0x04, key id computed with 0x04). Either way
 * the cosignature lines are matched with the 0x04 key id, as transparency-dev/formats does.
 */
#ifndef AUDITFS_COSIG_H
#define AUDITFS_COSIG_H

#include "note.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Bytes in a decoded Ed25519 cosignature: key id (4) + timestamp (8) + signature (64). */
#define AUDITFS_COSIG_RAW_BYTES 76
/** Largest cosignature timestamp (the spec's 2^63 - 1). */
#define AUDITFS_COSIG_MAX_TIME INT64_MAX

/** The cosignature key id of a witness key (computed with type byte 0x04). */
AUDITFS_API uint32_t auditfs_cosig_key_id(const auditfs_verifier *witness);

/**
 * Parses a witness verifier key, "<name>+<hex id>+base64(type || key)" with type 0x01 or 0x04;
 * the hex id must match the key computed with that type (EKEY otherwise). A trailing newline is
 * allowed. The result verifies cosignatures with auditfs_cosig_verify.
 */
AUDITFS_API int auditfs_cosig_verifier_parse(auditfs_verifier **out, const char *vkey,
                                             size_t len) AUDITFS_WUR;
/** Loads a witness verifier key file (either form). */
AUDITFS_API int auditfs_cosig_verifier_load(auditfs_verifier **out, const char *path) AUDITFS_WUR;
/** The cosignature vkey "<name>+<0x04 key id>+base64(0x04 || key)", malloc'd, no newline. */
AUDITFS_API int auditfs_cosig_verifier_format(char **out,
                                              const auditfs_verifier *witness) AUDITFS_WUR;

/**
 * The message a v1 cosignature signs: "cosignature/v1\ntime <t>\n" then the checkpoint body
 * (body must end in "\n"), malloc'd.
 */
AUDITFS_API int auditfs_cosig_message(char **out, size_t *out_len, const char *body,
                                      size_t body_len, uint64_t timestamp) AUDITFS_WUR;

/**
 * Cosigns a checkpoint body (the signed text of a checkpoint note, ending in "\n", parsed as a
 * checkpoint: EFORMAT otherwise) at `timestamp`: *line is "— <name> <base64>\n", malloc'd.
 */
AUDITFS_API int auditfs_cosig_sign(char **line, size_t *line_len, const char *body,
                                   size_t body_len, const auditfs_signer *witness,
                                   uint64_t timestamp) AUDITFS_WUR;

/** One parsed signature line that has the size of an Ed25519 cosignature. */
typedef struct auditfs_cosig_line {
    char name[AUDITFS_NAME_MAX + 1];
    uint32_t key_id;
    uint64_t timestamp;
    uint8_t sig[64];
} auditfs_cosig_line;

/**
 * Parses one note signature line ("— <name> <base64>", the newline optional) as an Ed25519
 * cosignature: EFORMAT if it is malformed, its payload is not 76 bytes, or the timestamp
 * exceeds 2^63 - 1. Does not verify anything.
 */
AUDITFS_API int auditfs_cosig_parse_line(auditfs_cosig_line *out, const char *line,
                                         size_t len) AUDITFS_WUR;

/**
 * Splits a signed note into its text (note[0, *text_len), ending in "\n") and its signature
 * block (note[*sigs_off, len), one line per signature). EFORMAT if there is no blank line or no
 * signature line, ETOOBIG beyond AUDITFS_NOTE_MAX_BYTES.
 */
AUDITFS_API int auditfs_note_split(size_t *text_len, size_t *sigs_off, const char *note,
                                   size_t len) AUDITFS_WUR;

/**
 * Verifies the witness's cosignature(s) on a signed checkpoint note. Lines of other keys are
 * ignored; every line whose name and 0x04 key id match the witness must verify (EVERIFY names
 * the line otherwise). ENOTFOUND if the witness has no line. *first and *last (may be NULL)
 * receive the oldest and newest timestamps among the witness's lines. The log signature is NOT
 * checked here: open the checkpoint with the log key first.
 */
AUDITFS_API int auditfs_cosig_verify(uint64_t *first, uint64_t *last, const char *note,
                                     size_t len, const auditfs_verifier *witness) AUDITFS_WUR;

/**
 * Merges cosignature lines into a signed checkpoint note: each line of `lines` (one or more
 * "— ..." lines) must be a valid cosignature of note's body by `witness`, else EVERIFY and
 * nothing changes. The result keeps every other signature line in order and, for this witness,
 * at most two lines: its oldest and its newest cosignature (the first is its receipt, the
 * second its freshness). *changed is 1 if the result differs from note. *out is malloc'd.
 */
AUDITFS_API int auditfs_cosig_merge(char **out, size_t *out_len, int *changed, const char *note,
                                    size_t len, const char *lines, size_t lines_len,
                                    const auditfs_verifier *witness) AUDITFS_WUR;

#ifdef __cplusplus
}
#endif
#endif
