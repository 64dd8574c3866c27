/*
 * ledger/ivals.c - sets of seq intervals and UTC day arithmetic, shared by the query engine
 * (query.c) and the index (index.c) so that neither includes the other (ivals.h).
 */
#include "ivals.h"

#include <assert.h>
#include <stdlib.h>

static int
ivals_reserve(afs_ivals *s, size_t extra)
{
    if (s->n + extra <= s->cap)
        return 0;
    size_t cap = s->cap ? s->cap : 16;
    while (cap < s->n + extra)
        cap *= 2;
    void *v = realloc(s->v, cap * sizeof *s->v);
    if (!v)
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    s->v = v;
    s->cap = cap;
    return 0;
}

int
afs_ivals_push(afs_ivals *s, uint64_t a, uint64_t b)
{
    if (a >= b)
        return 0;
    assert(!s->n || a >= s->v[s->n - 1][0]); /* appends: afs_ivals_add places the others */
    if (s->n && s->v[s->n - 1][1] >= a) {
        if (b > s->v[s->n - 1][1])
            s->v[s->n - 1][1] = b;
        return 0;
    }
    int err = ivals_reserve(s, 1);
    if (err)
        return err;
    s->v[s->n][0] = a;
    s->v[s->n][1] = b;
    s->n++;
    return 0;
}

int
afs_ivals_add(afs_ivals *s, uint64_t a, uint64_t b)
{
    if (a >= b)
        return 0;
    if (!s->n || a >= s->v[s->n - 1][0])
        return afs_ivals_push(s, a, b);
    afs_ivals one = AFS_IVALS_INIT;
    int err = afs_ivals_push(&one, a, b);
    if (!err)
        err = afs_ivals_merge(s, &one);
    afs_ivals_release(&one);
    return err;
}

int
afs_ivals_merge(afs_ivals *s, const afs_ivals *y)
{
    afs_ivals out = AFS_IVALS_INIT;
    int err = afs_ivals_union(&out, s, y);
    if (err) {
        afs_ivals_release(&out);
        return err; /* s is unchanged */
    }
    afs_ivals_release(s);
    *s = out;
    return 0;
}

int
afs_ivals_union(afs_ivals *out, const afs_ivals *x, const afs_ivals *y)
{
    size_t i = 0, j = 0;
    int err = 0;
    out->n = 0;
    while (!err && (i < x->n || j < y->n)) {
        if (j >= y->n || (i < x->n && x->v[i][0] <= y->v[j][0])) {
            err = afs_ivals_push(out, x->v[i][0], x->v[i][1]);
            i++;
        } else {
            err = afs_ivals_push(out, y->v[j][0], y->v[j][1]);
            j++;
        }
    }
    return err;
}

int
afs_ivals_intersect(afs_ivals *out, const afs_ivals *x, const afs_ivals *y)
{
    size_t i = 0, j = 0;
    int err = 0;
    out->n = 0;
    while (!err && i < x->n && j < y->n) {
        uint64_t a = x->v[i][0] > y->v[j][0] ? x->v[i][0] : y->v[j][0];
        uint64_t b = x->v[i][1] < y->v[j][1] ? x->v[i][1] : y->v[j][1];
        if (a < b)
            err = afs_ivals_push(out, a, b);
        if (x->v[i][1] < y->v[j][1])
            i++;
        else
            j++;
    }
    return err;
}

uint64_t
afs_ivals_count(const afs_ivals *s)
{
    uint64_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        n += s->v[i][1] - s->v[i][0];
    return n;
}

void
afs_ivals_release(afs_ivals *s)
{
    free(s->v);
    s->v = NULL;
    s->n = s->cap = 0;
}

int64_t
afs_day_of(int64_t us)
{
    int64_t d = 86400LL * 1000000;
    return us >= 0 ? us / d : -((-us + d - 1) / d);
}
