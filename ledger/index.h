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
/** The key under which each entry posts the UTC day of its event time ("YYYY-MM-DD"), or ""
 * when it has none (index format 3). */
#define AFS_INDEX_EVENT_DAY "_event_day"
/** A window of more days than this is not narrowed by event day (one lookup per day). */
#define AFS_INDEX_EVENT_DAYS_MAX 3700
/** The value of the _event_day key for a UTC day number. */
void afs_index_day_name(char out[16], int64_t day);
/**
 * Adds to out the seqs in [0, size) of entries whose event time falls on a UTC day in [d0, d1],
 * and with ledger_too also those without an event time whose ledger day is in [d0, d1]; all of
 * [0, size) when the index cannot narrow (no such key, or a window too wide). A superset.
 */
int afs_index_event_window(afs_ivals *out, afs_index *ix, int64_t d0, int64_t d1,
                           int ledger_too);
/** Problems met while reading (damaged runs), "" if none. */
const char *afs_index_problem(const afs_index *ix);
void afs_index_close(afs_index *ix);
/**
 * The seqs in [0, head) that may match q: the index's candidates in [0, size) (everything there if
 * q has no indexed term) plus [size, head). A superset of the matches; callers still match.
 */
int afs_query_index_candidates(afs_ivals *out, afs_index *ix, const auditfs_query *q,
                               uint64_t head);
/**
 * Narrows q's candidates from the index to entries whose event time, or ledger time without
 * one, is in [t1, t2) (microseconds): incident --time event, whose window is not a query term
 * (the caller still applies the window to every entry it is given).
 */
int afs_query_set_event_window(auditfs_query *q, int64_t t1, int64_t t2);

#endif
