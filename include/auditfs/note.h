/*
 * auditfs/note.h - keys, C2SP signed notes and tlog checkpoints (Ed25519 via libsodium).
 *
 * Key strings are those of Go's golang.org/x/mod/sumdb/note:
 *   signer key   PRIVATE+KEY+<name>+<8 hex key id>+base64(0x01 || 32-byte Ed25519 seed)
 *   verifier key <name>+<8 hex key id>+base64(0x01 || 32-byte public key)
 *   key id       first 4 bytes (big-endian) of SHA-256(name || "\n" || 0x01 || public key)
 * A note is text ending in "\n", a blank line, then lines "— <name> base64(keyid || sig)\n".
 * A checkpoint is the note text "<origin>\n<size>\n<base64 root>\n" (c2sp.org/tlog-checkpoint).
 *
 * Secrets live in sodium_malloc() memory and are wiped when freed. Malformed key strings and
 * key ids that do not match their key are EKEY; malformed notes and checkpoints are EFORMAT.
 */
#ifndef AUDITFS_NOTE_H
#define AUDITFS_NOTE_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Longest key name / checkpoint origin we accept, in bytes. */
#define AUDITFS_NAME_MAX 255
/** Most signature lines accepted in one note (Go's note.Open allows 100). */
#define AUDITFS_NOTE_MAX_SIGS 100
/** Largest note accepted. */
#define AUDITFS_NOTE_MAX_BYTES 65536

typedef struct auditfs_signer auditfs_signer;
typedef struct auditfs_verifier auditfs_verifier;

/** A new random Ed25519 key named `name` (non-empty, no '+', no spaces or control chars). */
AUDITFS_API int auditfs_signer_generate(auditfs_signer **out, const char *name) AUDITFS_WUR;
/** Parses a "PRIVATE+KEY+..." string (a trailing newline is allowed). Checks the key id. */
AUDITFS_API int auditfs_signer_parse(auditfs_signer **out, const char *skey,
                                     size_t len) AUDITFS_WUR;
/** Loads a signer key file; refuses (EKEY) a file readable or writable by group or others. */
AUDITFS_API int auditfs_signer_load(auditfs_signer **out, const char *path) AUDITFS_WUR;
/** Writes the signer key to a new file of mode 0600 (EEXISTS if it exists), fsynced. */
AUDITFS_API int auditfs_signer_save(const auditfs_signer *s, const char *path) AUDITFS_WUR;
/** Bytes auditfs_signer_format needs at most, including the NUL. */
#define AUDITFS_SKEY_BYTES 384
/**
 * Writes the "PRIVATE+KEY+..." string (NUL-terminated, no newline) into out (cap bytes; EINVAL if
 * too small). The result is the secret key: keep it in sodium_malloc() memory and wipe it.
 */
AUDITFS_API int auditfs_signer_format(char *out, size_t cap, const auditfs_signer *s) AUDITFS_WUR;
AUDITFS_API const char *auditfs_signer_name(const auditfs_signer *s);
AUDITFS_API uint32_t auditfs_signer_key_id(const auditfs_signer *s);
/** The matching verifier. */
AUDITFS_API int auditfs_signer_verifier(auditfs_verifier **out,
                                        const auditfs_signer *s) AUDITFS_WUR;
/** Ed25519 signature of msg (64 bytes into sig). */
AUDITFS_API int auditfs_signer_sign(uint8_t sig[64], const auditfs_signer *s, const void *msg,
                                    size_t len) AUDITFS_WUR;
AUDITFS_API void auditfs_signer_free(auditfs_signer *s);

/** Parses a verifier key string (a trailing newline is allowed). Checks the key id. */
AUDITFS_API int auditfs_verifier_parse(auditfs_verifier **out, const char *vkey,
                                       size_t len) AUDITFS_WUR;
AUDITFS_API int auditfs_verifier_load(auditfs_verifier **out, const char *path) AUDITFS_WUR;
/** The verifier key string, malloc'd, without newline. */
AUDITFS_API int auditfs_verifier_format(char **out, const auditfs_verifier *v) AUDITFS_WUR;
AUDITFS_API const char *auditfs_verifier_name(const auditfs_verifier *v);
AUDITFS_API uint32_t auditfs_verifier_key_id(const auditfs_verifier *v);
/** The raw 32-byte Ed25519 public key. */
AUDITFS_API const uint8_t *auditfs_verifier_public_key(const auditfs_verifier *v);
/** 1 if both keys have the same name and public key. */
AUDITFS_API int auditfs_verifier_equal(const auditfs_verifier *a, const auditfs_verifier *b);
AUDITFS_API void auditfs_verifier_free(auditfs_verifier *v);

/**
 * Signs `text` (which must be valid UTF-8, end in "\n" and contain no other control characters)
 * as a signed note: *out = text + "\n" + "— <name> <base64(keyid||sig)>\n", malloc'd.
 */
AUDITFS_API int auditfs_note_sign(char **out, size_t *out_len, const char *text, size_t len,
                                  const auditfs_signer *s) AUDITFS_WUR;

/**
 * Verifies a signed note with one trusted key. Signature lines from other keys are ignored; a
 * line whose name and key id match the key but whose signature fails, or no line from the key,
 * is EVERIFY; a malformed note is EFORMAT. On success *text_len is the length of the signed text
 * (a prefix of note, ending in "\n").
 */
AUDITFS_API int auditfs_note_verify(size_t *text_len, const char *note, size_t len,
                                    const auditfs_verifier *v) AUDITFS_WUR;

/** A tlog checkpoint body. */
typedef struct auditfs_checkpoint {
    char origin[AUDITFS_NAME_MAX + 1];
    uint64_t size;
    auditfs_hash root;
} auditfs_checkpoint;

/** Formats the checkpoint body "<origin>\n<size>\n<base64 root>\n", malloc'd. */
AUDITFS_API int auditfs_checkpoint_format(char **out, size_t *out_len,
                                          const auditfs_checkpoint *c) AUDITFS_WUR;
/** Parses a checkpoint body (the signed text of a note). Extension lines are rejected. */
AUDITFS_API int auditfs_checkpoint_parse(auditfs_checkpoint *out, const char *text,
                                         size_t len) AUDITFS_WUR;
/**
 * Verifies a signed checkpoint note with the key and parses it. If origin is not NULL the
 * checkpoint's origin must equal it (EVERIFY otherwise).
 */
AUDITFS_API int auditfs_checkpoint_open(auditfs_checkpoint *out, const char *note, size_t len,
                                        const auditfs_verifier *v,
                                        const char *origin) AUDITFS_WUR;
/** Signs a checkpoint: *out is the complete signed note, malloc'd. */
AUDITFS_API int auditfs_checkpoint_sign(char **out, size_t *out_len, const auditfs_checkpoint *c,
                                        const auditfs_signer *s) AUDITFS_WUR;

#ifdef __cplusplus
}
#endif
#endif
