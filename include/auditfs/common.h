/*
 * auditfs/common.h - error codes, export macro and the hash type shared by every module.
 *
 * Conventions (libgit2 style): every fallible function returns int, 0 on success and a negative
 * AUDITFS_E* code on failure; the human-readable reason (naming the input and position where
 * there is one) is kept per thread and read with auditfs_error_last(). Out-parameters come
 * first. A callback type takes its context (void *ctx) first; a function taking a callback
 * takes it and its context last (docs/CONTRIBUTING.md lists the three older exceptions). Objects returned through a pointer-to-pointer are owned by the caller and released with
 * the matching *_free(), which accepts NULL. The library never prints and never exits.
 */
#ifndef AUDITFS_COMMON_H
#define AUDITFS_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define AUDITFS_API __attribute__((visibility("default")))
#define AUDITFS_WUR __attribute__((warn_unused_result))
#else
#define AUDITFS_API
#define AUDITFS_WUR
#endif

/** Error codes. The CLI maps each class to a distinct exit code (see README). */
enum auditfs_error {
    AUDITFS_OK = 0,
    AUDITFS_ERROR = -1,     /* anything not listed below */
    AUDITFS_EINVAL = -2,    /* a bad argument from the caller (usage) */
    AUDITFS_EFORMAT = -3,   /* malformed input: a record, key, note, proof or expression */
    AUDITFS_EVERIFY = -4,   /* a signature, hash, proof or chain does not verify */
    AUDITFS_EIO = -5,       /* the file system or the git repository failed */
    AUDITFS_ENOTFOUND = -6, /* no such entry, version, file or ref */
    AUDITFS_EEXISTS = -7,   /* refusing to overwrite something that exists */
    AUDITFS_EBUSY = -8,     /* another writer holds the ledger lock */
    AUDITFS_EKEY = -9,      /* a key is unusable: loose file mode, wrong ledger, malformed */
    AUDITFS_ENOMEM = -10,   /* out of memory */
    AUDITFS_ETOOBIG = -11,  /* an input exceeds a documented size limit */
    AUDITFS_EFORK = -12,    /* the ledger does not extend a checkpoint this party verified or
                               signed before: rollback, fork, another root at the same size */
};

/** The reason for the last failure on this thread ("" if none). Valid until the next call. */
AUDITFS_API const char *auditfs_error_last(void);

/** The last error code set on this thread (AUDITFS_OK if none). */
AUDITFS_API int auditfs_error_last_code(void);

/** Clears the last error on this thread. */
AUDITFS_API void auditfs_error_clear(void);

/** A short, stable name for an error code ("EVERIFY", ...). */
AUDITFS_API const char *auditfs_error_name(int code);

#define AUDITFS_HASH_BYTES 32

/** A SHA-256 digest (RFC 6962 leaf, node or root hash). */
typedef struct auditfs_hash {
    uint8_t b[AUDITFS_HASH_BYTES];
} auditfs_hash;

/** Encodes n bytes as padded standard base64 into out (needs 4*((n+2)/3)+1 bytes). */
AUDITFS_API size_t auditfs_base64_encode(char *out, const void *in, size_t n);
/** A hash as base64 (45 bytes with NUL). */
AUDITFS_API void auditfs_hash_base64(char out[48], const auditfs_hash *h);
/** Formats microseconds since the epoch as 2026-11-21T22:13:11.123456Z. */
AUDITFS_API void auditfs_format_time(char out[32], int64_t us);
/** A signed duration in seconds, short and readable: "42s", "3m5s", "2h10m", "3d4h". */
AUDITFS_API void auditfs_format_duration(char out[32], int64_t seconds);
/** Parses RFC 3339 (any fraction, Z or offset) or YYYY-MM-DD (midnight UTC); 1 if valid. */
AUDITFS_API int auditfs_parse_time(int64_t *out, const char *s);
/** Reads a whole file of at most max bytes (ETOOBIG beyond) into a malloc'd buffer. */
AUDITFS_API int auditfs_read_file(uint8_t **out, size_t *len, const char *path,
                                  size_t max) AUDITFS_WUR;

/**
 * Copies s into out (cap > 0, NUL-terminated, truncated) with every control byte (< 0x20 and
 * 0x7f: CR, ESC, and LF unless keep_newlines) written as \xHH, for printing text that came
 * from data on a terminal or into a log. Idempotent. Returns out. Library error messages are
 * already so; the only ones with line breaks are the library's own multi-line reports (the
 * mount's conflict report quoting two signed checkpoints), never a break taken from data.
 */
AUDITFS_API char *auditfs_escape_controls(char *out, size_t cap, const char *s,
                                          int keep_newlines);

/**
 * s (n bytes) as a JSON string literal in a malloc'd, NUL-terminated *out: quotes, with '"' and
 * '\\' backslash-escaped and every control byte (< 0x20 and 0x7f) written as \u00xx. The one
 * JSON string writer: the library's JSON output and the CLI's --json modes both use it.
 */
AUDITFS_API int auditfs_json_quote(char **out, const char *s, size_t n) AUDITFS_WUR;

/** The library version string, e.g. "0.1.0". */
AUDITFS_API const char *auditfs_version(void);

#ifdef __cplusplus
}
#endif
#endif
