/* ledger/ivals.h - seq interval sets and UTC days (ivals.c). */
#ifndef AUDITFS_LEDGER_IVALS_H
#define AUDITFS_LEDGER_IVALS_H

#include "internal.h"

/* ---- sorted, disjoint, non-adjacent half-open seq intervals [a, b) ---- */
typedef struct afs_ivals {
    uint64_t (*v)[2];
    size_t n, cap;
} afs_ivals;
#define AFS_IVALS_INIT {NULL, 0, 0}
/** Appends [a, b) (a >= the last interval's start; joins an overlapping or adjacent one). */
int afs_ivals_push(afs_ivals *s, uint64_t a, uint64_t b);
/** Adds [a, b) anywhere (keeps the set normalised). */
int afs_ivals_add(afs_ivals *s, uint64_t a, uint64_t b);
int afs_ivals_union(afs_ivals *out, const afs_ivals *x, const afs_ivals *y);
/** s becomes s union y (in place; unchanged on failure). */
int afs_ivals_merge(afs_ivals *s, const afs_ivals *y);
int afs_ivals_intersect(afs_ivals *out, const afs_ivals *x, const afs_ivals *y);
uint64_t afs_ivals_count(const afs_ivals *s);
void afs_ivals_release(afs_ivals *s);

/** UTC day number (days since 1970-01-01) of a time in microseconds (floor, also before 1970). */
int64_t afs_day_of(int64_t us);

#endif
