/*
 * auditfs/query.h - query expressions, their evaluation over a ledger, and the derived indexes
 * that make selective queries fast.
 *
 * An expression is a list of terms FIELD OP VALUE, OP one of = != ~ < <= > >=:
 *   - bare names are top-level fields of a JSON-object payload (actor=ops-7);
 *   - names with a leading underscore are header fields: _seq _time _type _stream _tenant _party
 *     _layer _name _version _title _effective;
 *   - terms on different fields are ANDed; the same field repeated with = is ORed (actor=a
 *     actor=b: either); every other repeated term is ANDed (_seq>=10 _seq<20: a range);
 *   - != is the complement of = (it matches entries without the field, like jq's !=);
 *   - ~ is a glob (* any run, ? one byte, \ escapes) over the whole value;
 *   - < <= > >= compare numbers when both sides are numbers, times for _time/_effective, and
 *     bytes otherwise; an absent field never compares.
 * A JSON string value is compared decoded; numbers, true, false and null by their token text;
 * objects and arrays by their raw text. An optional --grep regular expression (POSIX ERE) must
 * match the raw payload. Non-JSON payloads only match header terms and the grep.
 *
 * Results are always read back through the verified cursor (every leaf checked against the
 * tiles) and re-evaluated against the whole expression: the index only proposes candidates. A
 * missing, stale, damaged or foreign index makes a query slower, never different.
 */
#ifndef AUDITFS_QUERY_H
#define AUDITFS_QUERY_H

#include "ledger.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct auditfs_query auditfs_query;

/**
 * Parses n terms. On a malformed term returns EFORMAT; the message names the term's position
 * and text and what is wrong with it ("term 2 'actor=': ..."), and *bad_term (if not NULL) is
 * its 0-based index (SIZE_MAX if the problem is not a single term).
 */
AUDITFS_API int auditfs_query_parse(auditfs_query **out, const char *const *terms, size_t n,
                                    size_t *bad_term) AUDITFS_WUR;
/**
 * Parses terms separated by '&' (each percent-decoded: %26 is '&', %2F is '/'), the form used in
 * file names such as query/actor=ops-7&_stream=api.jsonl. An empty string is the empty query.
 */
AUDITFS_API int auditfs_query_parse_string(auditfs_query **out, const char *s) AUDITFS_WUR;
/**
 * Parses the expression of a mount file name such as query/actor=ops-7,_time>=2026-11-17.jsonl
 * (without the directory and ".jsonl"): terms separated by ',' or '&', each percent-decoded
 * (%2C is ',', %26 '&', %2F '/', %25 '%'). On a malformed term returns EFORMAT naming it, like
 * auditfs_query_parse, and sets *bad_term (if not NULL) to its 0-based index.
 */
AUDITFS_API int auditfs_query_parse_name(auditfs_query **out, const char *s,
                                         size_t *bad_term) AUDITFS_WUR;
/** Adds one term (e.g. "_time>=2026-11-17" for --since). */
AUDITFS_API int auditfs_query_add_term(auditfs_query *q, const char *term) AUDITFS_WUR;
/** Sets the POSIX extended regular expression the raw payload must match. */
AUDITFS_API int auditfs_query_set_grep(auditfs_query *q, const char *pattern) AUDITFS_WUR;
/** A canonical text form of the query (terms in input order, "&"-joined; grep last). */
AUDITFS_API const char *auditfs_query_text(const auditfs_query *q);
AUDITFS_API void auditfs_query_free(auditfs_query *q);

/** 1 if the entry matches the expression, 0 if not. */
AUDITFS_API int auditfs_query_match(const auditfs_query *q, const auditfs_entry *e);

/**
 * Bounds implied by the _seq and _time terms: no entry outside seqs [*seq_lo, *seq_hi) or
 * times [*t_lo, *t_hi] (microseconds, inclusive) can match. A scan may skip those entries;
 * entries inside still need auditfs_query_match.
 */
AUDITFS_API void auditfs_query_range(const auditfs_query *q, uint64_t *seq_lo, uint64_t *seq_hi,
                                     int64_t *t_lo, int64_t *t_hi);

typedef struct auditfs_query_options {
    int no_index;     /* 1: scan every entry (the reference the index is tested against) */
    int no_update;    /* 1: never write the index, even when it is behind and writable */
    uint64_t limit;   /* stop after this many hits; 0: no limit */
} auditfs_query_options;
#define AUDITFS_QUERY_OPTIONS_INIT {0, 0, 0}

typedef struct auditfs_query_stats {
    uint64_t head_size;     /* the tree size the query ran against */
    uint64_t indexed;       /* entries [0, indexed) answered from the index */
    uint64_t examined;      /* leaves read back and evaluated */
    uint64_t hits;
    int index_used;
    char note[256];         /* why the index was not (fully) used, "" if it was */
} auditfs_query_stats;

/**
 * Called for each hit in ledger order with the parsed entry and its verified leaf bytes (valid
 * during the call). A non-zero return stops the query and is returned by auditfs_query_run.
 */
typedef int (*auditfs_query_cb)(void *ctx, const auditfs_entry *e, const uint8_t *leaf,
                                size_t len);

/** Runs q over the ledger's head. stats may be NULL. */
AUDITFS_API int auditfs_query_run(auditfs_ledger *l, const auditfs_query *q,
                                  const auditfs_query_options *opts, auditfs_query_cb cb,
                                  void *ctx, auditfs_query_stats *stats) AUDITFS_WUR;

/** Output forms of auditfs_query_bytes. */
enum auditfs_query_format {
    AUDITFS_QUERY_PAYLOADS = 0, /* each hit's payload bytes and "\n" (the jq-friendly form) */
    AUDITFS_QUERY_JSON = 1,     /* each payload as one JSON value per line (strings if not JSON) */
    AUDITFS_QUERY_ENTRIES = 2,  /* one auditfs_entry_to_json object per line */
    AUDITFS_QUERY_PROVE = 3,    /* ENTRIES plus "proof" and the "checkpoint" note it is against */
};

/**
 * The whole result of a query as one byte stream (malloc'd), e.g. for the mount's
 * query/<terms>.jsonl. ETOOBIG if it would exceed max bytes (0: 1 GiB).
 */
AUDITFS_API int auditfs_query_bytes(uint8_t **out, size_t *len, auditfs_ledger *l,
                                    const auditfs_query *q, int format, size_t max) AUDITFS_WUR;
/** Formats one hit in `format` as a line (with "\n") appended to a malloc'd buffer. */
AUDITFS_API int auditfs_query_format_hit(char **out, size_t *len, auditfs_ledger *l,
                                         const auditfs_entry *e, int format) AUDITFS_WUR;

/* ---- indexes (derived data under <gitdir>/auditfs-index/) ---- */

/** JSON fields indexed when none are configured. */
#define AUDITFS_INDEX_DEFAULT_FIELDS "actor,action,resource,result,user,principal,event,target"

typedef struct auditfs_index_status {
    int present;            /* a readable index exists */
    uint64_t size;          /* entries it covers */
    uint64_t runs;
    uint64_t keys;
    uint64_t bytes;
    char fields[512];       /* comma-separated indexed JSON fields */
    char problem[256];      /* why (part of) it is unusable, "" if healthy */
} auditfs_index_status;

/**
 * Brings the index up to the head: indexes entries [covered, head) as a new run and merges runs.
 * Rebuilds from scratch when the index is missing, damaged or not a prefix of this ledger.
 * EBUSY if another process is updating it; EIO if the repository directory is not writable.
 */
AUDITFS_API int auditfs_index_update(auditfs_ledger *l) AUDITFS_WUR;
/** Discards the index and builds it again. fields (comma-separated) replaces the field list. */
AUDITFS_API int auditfs_index_rebuild(auditfs_ledger *l, const char *fields) AUDITFS_WUR;
/** Describes the index; with deep, also checks every byte of every run. */
AUDITFS_API int auditfs_index_status_get(auditfs_index_status *out, auditfs_ledger *l,
                                         int deep) AUDITFS_WUR;

#ifdef __cplusplus
}
#endif
#endif
