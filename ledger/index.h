/*
 * ledger/index.h - internal interface between the query engine (query.c) and the derived
 * indexes (index.c), and the helpers both use so that the index and a full scan agree on what
 * an entry's field values are.
 */
#ifndef AUDITFS_LEDGER_INDEX_H
#define AUDITFS_LEDGER_INDEX_H

#include "auditfs/query.h"
#include "internal.h"

/* ---- sorted, disjoint, non-adjacent half-open seq intervals [a, b) ---- */
typedef struct afs_ivals {
    uint64_t (*v)[2];
    size_t n, cap;
} afs_ivals;
#define AFS_IVALS_INIT {NULL, 0, 0}
/** Appends [a, b) (a >= the last end; joins an adjacent interval). */
int afs_ivals_push(afs_ivals *s, uint64_t a, uint64_t b);
/** Adds [a, b) anywhere (keeps the set normalised). */
int afs_ivals_add(afs_ivals *s, uint64_t a, uint64_t b);
int afs_ivals_union(afs_ivals *out, const afs_ivals *x, const afs_ivals *y);
int afs_ivals_intersect(afs_ivals *out, const afs_ivals *x, const afs_ivals *y);
uint64_t afs_ivals_count(const afs_ivals *s);
void afs_ivals_release(afs_ivals *s);

/* ---- JSON payloads: top-level members of one JSON object ---- */
enum { AFS_JSON_STRING, AFS_JSON_NUMBER, AFS_JSON_LITERAL, AFS_JSON_CONTAINER };
/** Called per member in order; val is decoded for strings, the raw text otherwise. */
typedef int (*afs_json_member_cb)(void *ctx, const char *key, size_t klen, const char *val,
                                  size_t vlen, int kind);
/**
 * If p is exactly one JSON object (RFC 8259, surrounding whitespace allowed, depth <= 64),
 * calls cb for each top-level member and returns 1; returns 0 without calling cb if it is not.
 * A negative return from cb stops the walk and is returned.
 */
int afs_json_members(const uint8_t *p, size_t n, afs_json_member_cb cb, void *ctx);
/** 1 if p is exactly one JSON value. */
int afs_json_valid(const uint8_t *p, size_t n);

/* ---- what the index records for an entry ---- */
/** Header fields posted in the index (as "_name\0value"); absent values post "". */
#define AFS_INDEX_HEADERS {"_type", "_stream", "_tenant", "_party", "_layer", "_name", NULL}
/** The value of an indexed header field of e ("" if absent); NULL if name is not one. */
const char *afs_index_header_value(const auditfs_entry *e, const char *name);
/** UTC day number (days since 1970-01-01) of a time in microseconds. */
int64_t afs_day_of(int64_t us);

/* ---- reading the index ---- */
typedef struct afs_index afs_index;
/**
 * Opens the index of l for reading and checks that it describes a prefix of l's head. Returns 0
 * with *out NULL (and a reason in why) when there is no usable index.
 */
int afs_index_open(afs_index **out, auditfs_ledger *l, char *why, size_t why_len);
/** Entries [0, size) are covered by the index. */
uint64_t afs_index_size(const afs_index *ix);
/** 1 if `field` (e.g. "actor" or "_stream") has postings. */
int afs_index_has_field(const afs_index *ix, const char *field);
/**
 * Adds to out every seq in [0, size) whose `field` has `value`, plus the whole range of any run
 * that cannot be read or does not check (never fewer seqs than the truth).
 */
int afs_index_lookup(afs_ivals *out, afs_index *ix, const char *field, const char *value,
                     size_t vlen);
/** Adds to out the seqs in [0, size) of entries whose UTC day is in [d0, d1]. */
int afs_index_days(afs_ivals *out, afs_index *ix, int64_t d0, int64_t d1);
/** Problems met while reading (damaged runs), "" if none. */
const char *afs_index_problem(const afs_index *ix);
void afs_index_close(afs_index *ix);
/**
 * The seqs in [0, head) that may match q: the index's candidates in [0, size) (everything there if
 * q has no indexed term) plus [size, head). A superset of the matches; callers still match.
 */
int afs_query_index_candidates(afs_ivals *out, afs_index *ix, const auditfs_query *q,
                               uint64_t head);

#endif
