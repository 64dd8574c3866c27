/*
 * auditfs/ingest.h - what ingestion needs beyond the writer: input positions made durable in
 * the commit that holds the lines (commit-message trailers), and header values taken from the
 * fields of a JSON payload. docs/FORMAT.md section 16 describes the trailer lines.
 */
#ifndef AUDITFS_INGEST_H
#define AUDITFS_INGEST_H

#include "ledger.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * The value of the newest trailer line "<prefix><value>" in the commit messages of the
 * first-parent history, newest commit first, looking at no more than max_commits commits
 * (0: all). *out is malloc'd (the value without the prefix and newline), or NULL if none.
 * *found_size, if not NULL, receives the tree size of the commit that holds it.
 */
AUDITFS_API int auditfs_ledger_find_trailer(char **out, uint64_t *found_size, auditfs_ledger *l,
                                            const char *prefix, uint64_t max_commits) AUDITFS_WUR;

/** Longest key (the followed file's name) in a position. */
#define AUDITFS_POSKEY_MAX 1024
/** Bytes of a file's start hashed to recognise it after a rename or restart. */
#define AUDITFS_POSHEAD_MAX 4096

/** Where a followed file was read to: its identity and the offset after the last line. */
typedef struct auditfs_position {
    char key[AUDITFS_POSKEY_MAX + 1]; /* the name given on the command line */
    uint64_t dev, ino;
    uint64_t head_len;       /* bytes of the file's start hashed, <= AUDITFS_POSHEAD_MAX */
    uint8_t head_sha256[32]; /* SHA-256 of those bytes */
    uint64_t offset;         /* bytes consumed: everything before is in the ledger */
} auditfs_position;

/**
 * "Auditfs-Position: <key> <dev>:<ino> <head_len>:<sha256 hex> <offset>\n", the key
 * percent-encoded (every byte outside [A-Za-z0-9._/~-]); *out is malloc'd.
 */
AUDITFS_API int auditfs_position_format(char **out, const auditfs_position *p) AUDITFS_WUR;
/** Parses the value after "Auditfs-Position: " (no newline). Strict: one encoding per value. */
AUDITFS_API int auditfs_position_parse(auditfs_position *out, const char *s, size_t n) AUDITFS_WUR;
/** Percent-encodes key as auditfs_position_format does (out holds 3*strlen+1 bytes). */
AUDITFS_API void auditfs_position_key(char *out, const char *key);

/**
 * Fills p's identity (dev, inode, SHA-256 of the first min(offset, AUDITFS_POSHEAD_MAX) bytes)
 * for the open file fd and sets p->offset; p->key is left as is.
 */
AUDITFS_API int auditfs_position_identify(auditfs_position *p, int fd, uint64_t offset) AUDITFS_WUR;
/**
 * 1 if the open file fd holds what p describes: at least p->offset bytes whose first
 * p->head_len hash to p->head_sha256 (same_inode, if not NULL, says whether dev and inode are
 * also p's: a copy made by copytruncate has the same content under another inode). 0 if not.
 */
AUDITFS_API int auditfs_position_matches(const auditfs_position *p, int fd, int *same_inode);

/**
 * Scans an `append --rsyslog` spool (docs/FORMAT.md section 6): for the last transaction in it,
 * calls cb for each message that was answered ("M" record followed by "A"), in order, unless
 * the transaction reached its commit mark ("C": rsyslog then resends it all), which sets
 * *committed. A record cut short ends the scan. Returns the number of messages passed to cb,
 * or cb's nonzero return. One pass, nothing allocated.
 */
AUDITFS_API int auditfs_spool_scan(const uint8_t *b, size_t n, int *committed,
                                   int (*cb)(const uint8_t *msg, size_t len, void *arg), void *arg);

/**
 * Routing (docs/FORMAT.md section 16.1): the value of the last line "<prefix><value>" of the n
 * bytes of text (a router's low-water file holds trailer lines); *out is malloc'd, or NULL if
 * no line has the prefix. EFORMAT if the text holds a NUL byte.
 */
AUDITFS_API int auditfs_trailer_text_find(char **out, const char *text, size_t n,
                                          const char *prefix) AUDITFS_WUR;

/**
 * Orders two sd-journal cursors as sd-journal orders their entries: by sequence number within
 * one sequence-number id (s=, i=), else by monotonic time within one boot (b=, m=), else by
 * wall-clock time (t=). *order is -1, 0 or 1 (a before, at, after b); EFORMAT if the cursors
 * lack the fields to compare. Bounded: one pass over each cursor per field.
 */
AUDITFS_API int auditfs_journal_cursor_cmp(int *order, const char *a, const char *b) AUDITFS_WUR;

/**
 * One systemd journal entry as one JSON object (`append --journal`): begin, a field per
 * "NAME=value" (as sd_journal_enumerate_data gives them), end. "__REALTIME_TIMESTAMP" (if
 * given, microseconds as a string) comes first, then each field in order; names and text values
 * are JSON strings with C0, DEL and C1 controls escaped (one line, valid payload text); a value
 * that is not UTF-8 once escaped becomes {"binary_bytes":N}. The text returned by end is valid
 * until the next begin or free.
 */
typedef struct auditfs_journal_record auditfs_journal_record;
AUDITFS_API int auditfs_journal_record_new(auditfs_journal_record **out) AUDITFS_WUR;
AUDITFS_API int auditfs_journal_record_begin(auditfs_journal_record *r, int has_realtime,
                                             uint64_t realtime_us) AUDITFS_WUR;
AUDITFS_API int auditfs_journal_record_field(auditfs_journal_record *r, const void *data,
                                             size_t len) AUDITFS_WUR;
AUDITFS_API const char *auditfs_journal_record_end(auditfs_journal_record *r, size_t *len);
AUDITFS_API void auditfs_journal_record_free(auditfs_journal_record *r);

/** Longest value taken from a JSON field. */
#define AUDITFS_FIELD_MAX 256

/**
 * The value of a top-level field of a JSON object payload, "a.b" naming a field of a nested
 * object: 1 and the value (a string unescaped, a number, true, false copied as written) in
 * out, 0 if the payload has no such field (or it is null), or EFORMAT if the payload is not a
 * JSON object or the value is an object, array, invalid, or longer than AUDITFS_FIELD_MAX.
 * Bounded: one pass over the payload, nesting at most 64 deep.
 */
AUDITFS_API int auditfs_json_field(char out[AUDITFS_FIELD_MAX + 1], const uint8_t *json, size_t n,
                                   const char *path);

#ifdef __cplusplus
}
#endif
#endif
