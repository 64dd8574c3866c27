/* ledger/progress.c - the per-thread progress callback of the running *_opts call. */
#include "progress.h"

static _Thread_local const auditfs_progress *current;

const auditfs_progress *
afs_progress_begin(const auditfs_progress *p)
{
    const auditfs_progress *prev = current;
    current = p && p->fn ? p : NULL;
    return prev;
}

void
afs_progress_end(const auditfs_progress *prev)
{
    current = prev;
}

void
afs_progress_tick(const char *what, uint64_t done, uint64_t total)
{
    if (current && ((done & 1023) == 0 || done == total))
        current->fn(current->ctx, what, done, total);
}
