/*
 * ledger/internal.h - helpers shared inside the library: error reporting, byte order, base64,
 * growable buffers, SHA-256 contexts and durable file writes. Not installed.
 */
#ifndef AUDITFS_INTERNAL_H
#define AUDITFS_INTERNAL_H

#include "auditfs/common.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__)
#define AFS_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define AFS_PRINTF(a, b)
#endif

/** Sets the thread's last error to code and the formatted reason; returns code. */
int afs_error_set(int code, const char *fmt, ...) AFS_PRINTF(2, 3);
/**
 * Like afs_error_set, for the library's own multi-line reports: line breaks in the message are
 * kept (every other control byte is escaped). Never pass data that could hold a line break.
 */
int afs_error_set_lines(int code, const char *fmt, ...) AFS_PRINTF(2, 3);
/** Like afs_error_set, but appends ": <libgit2's last error>". */
int afs_error_git(int code, const char *fmt, ...) AFS_PRINTF(2, 3);
/** Prefixes the current error message with the formatted context (keeps the code). */
int afs_error_wrap(int code, const char *fmt, ...) AFS_PRINTF(2, 3);

/* ---- byte order: explicit, never a struct cast ---- */
static inline uint32_t
afs_load_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline void
afs_store_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static inline uint64_t
afs_load_be64(const uint8_t *p)
{
    return ((uint64_t)afs_load_be32(p) << 32) | afs_load_be32(p + 4);
}
static inline void
afs_store_be64(uint8_t *p, uint64_t v)
{
    afs_store_be32(p, (uint32_t)(v >> 32));
    afs_store_be32(p + 4, (uint32_t)v);
}
static inline uint32_t
afs_load_le32(const uint8_t *p)
{
    return ((uint32_t)p[3] << 24) | ((uint32_t)p[2] << 16) | ((uint32_t)p[1] << 8) | p[0];
}
static inline void
afs_store_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* ---- base64 (RFC 4648 section 4, standard alphabet, padded) ---- */
/** Encoded length of n bytes, without NUL. */
#define AFS_B64_LEN(n) ((((n) + 2) / 3) * 4)
/** Encodes into out (needs AFS_B64_LEN(n) + 1 bytes, NUL-terminated); returns the length. */
size_t afs_b64_encode(char *out, const void *in, size_t n);
/**
 * Strictly decodes exactly `len` chars (canonical padding, no whitespace) into out (cap bytes).
 * Returns the decoded length, or -1 if the input is not canonical base64 or does not fit.
 */
long afs_b64_decode(uint8_t *out, size_t cap, const char *in, size_t len);

/**
 * 1 if a and b hold the same n bytes, in time that depends on n only (no early exit): the OR of
 * the XORs of 64-bit words, for digests and MACs. libsodium's sodium_memcmp goes byte by byte
 * through volatile pointers, ~4 cycles a byte: 6% of verify's CPU for one digest per entry.
 */
bool afs_ct_equal(const void *a, const void *b, size_t n);

/* ---- growable byte buffer: data is always NUL-terminated after len ---- */
typedef struct afs_buf {
    char *data;
    size_t len;
    size_t cap;
} afs_buf;
#define AFS_BUF_INIT {NULL, 0, 0}
int afs_buf_grow(afs_buf *b, size_t extra);
int afs_buf_put(afs_buf *b, const void *p, size_t n);
int afs_buf_puts(afs_buf *b, const char *s);
int afs_buf_printf(afs_buf *b, const char *fmt, ...) AFS_PRINTF(2, 3);
void afs_buf_release(afs_buf *b);
/** 0-15 for a hex digit of either case, -1 otherwise. */
int afs_hexval(int c);
/** Hands the data to the caller (malloc'd, NUL-terminated) and resets the buffer. */
char *afs_buf_detach(afs_buf *b, size_t *len);

/* ---- SHA-256 (OpenSSL's implementation: 1.6-1.8x libsodium's here, no SHA-NI) ---- */
typedef struct afs_sha256_ctx {
    uint64_t opaque[16]; /* large enough for OpenSSL's SHA256_CTX (112 bytes) */
} afs_sha256_ctx;
void afs_sha256_init(afs_sha256_ctx *c);
void afs_sha256_update(afs_sha256_ctx *c, const void *p, size_t n);
void afs_sha256_final(afs_sha256_ctx *c, uint8_t out[32]);
void afs_sha256(uint8_t out[32], const void *p, size_t n);

/* ---- numbers ---- */
/** Parses a canonical decimal (no sign, no leading zeroes unless "0") of exactly len chars. */
bool afs_parse_u64(uint64_t *out, const char *s, size_t len);

/* ---- time ---- */
/** Formats microseconds since the epoch as 2026-11-21T22:13:11.123456Z (27 chars + NUL). */
void afs_format_time(char out[32], int64_t us);
/** Parses exactly that format. */
bool afs_parse_time(int64_t *out, const char *s, size_t len);
/** Parses RFC 3339 with any fraction/offset, or a bare date YYYY-MM-DD (midnight UTC). */
bool afs_parse_time_loose(int64_t *out, const char *s);
/** The current time in microseconds since the epoch. */
int64_t afs_now_us(void);

/* ---- files ---- */
/** Reads a whole file (at most max bytes, else ETOOBIG) into a malloc'd NUL-terminated buffer. */
int afs_read_file(char **out, size_t *len, const char *path, size_t max);
/** fsyncs the directory holding path (or path itself if a directory). */
int afs_fsync_dir(const char *path);

/** Returns true if s (n bytes) is valid UTF-8 with no C0 control bytes other than allowed. */
bool afs_utf8_valid(const uint8_t *s, size_t n, bool allow_tab);

/* ---- files that may be hostile, durable writes, escaping (fileio.c) ---- */
/**
 * Reads path only if it is a regular file (not a symlink, FIFO or device: opened with
 * O_NOFOLLOW|O_NONBLOCK and checked with fstat) of at most max bytes (ETOOBIG, before reading).
 */
int afs_read_regular(char **out, size_t *len, const char *path, size_t max);
/**
 * Writes path atomically and durably: a temporary file beside it, fsync, rename over path,
 * fsync of the directory. mode is the new file's mode (e.g. 0644).
 */
int afs_write_atomic(const char *path, const void *p, size_t n, unsigned mode);
/** Test hooks: waits while the file named by environment variable var exists (fileio.c). */
void afs_test_hold(const char *var);
/** Creates every missing directory of path (mode 0755). */
int afs_mkdirs(const char *path);
/**
 * Copies s (n bytes) into out (cap > 0, always NUL-terminated, truncated with "...") with every
 * control byte (< 0x20, 0x7f) and backslash written as \xHH / \\, so data cannot move a
 * terminal's cursor or forge a line. Returns out.
 */
char *afs_escape(char *out, size_t cap, const char *s, size_t n);

/**
 * 0 if pattern (POSIX ERE) can be compiled and matched in bounded time and memory: no
 * back-references, groups nested at most 32 deep, at most 1024 bytes and 4096 atoms with
 * counted repetitions multiplied out; else EFORMAT naming the byte (rebound.c).
 */
int afs_regex_check(const char *pattern);


#endif
