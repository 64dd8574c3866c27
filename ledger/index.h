/*
 * ledger/index.h - internal interface between the query engine (query.c) and the derived
 * indexes (index.c), and the helpers both use so that the index and a full scan agree on what
 * an entry's field values are.
 */
#ifndef AUDITFS_LEDGER_INDEX_H
#define AUDITFS_LEDGER_INDEX_H

#include "auditfs/query.h"
#include "internal.h"
#include "ivals.h"
#include "json.h"

/* ---- what the index records for an entry ---- */
/** Header fields posted in the index (as "_name\0value"); absent values post "". */
#define AFS_INDEX_HEADERS {"_type", "_stream", "_tenant", "_party", "_layer", "_name", NULL}
/** The value of an indexed header field of e ("" if absent); NULL if name is not one. */
const char *afs_index_header_value(const auditfs_entry *e, const char *name);

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
