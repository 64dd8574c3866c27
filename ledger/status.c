/* ledger/status.c - auditfs_ledger_status_get: the head commit and the index's freshness. */
#include "auditfs/status.h"
#include "auditfs/query.h"
#include "internal.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
auditfs_ledger_status_get(auditfs_ledger_status *out, auditfs_ledger *l)
{
    git_revwalk *walk = NULL;
    git_oid id;
    uint8_t *leaf = NULL;
    size_t len;
    int err = 0;
    if (!out || !l)
        return afs_error_set(AUDITFS_EINVAL, "auditfs_ledger_status_get: NULL argument");
    memset(out, 0, sizeof *out);
    out->head = l->cp;
    git_oid_tostr(out->commit, sizeof out->commit, &l->head_id);
    out->commit_time = (int64_t)git_commit_time(l->head);
    /* history length: first parents only, as verify counts it */
    if (git_revwalk_new(&walk, l->repo) < 0 || git_revwalk_push(walk, &l->head_id) < 0) {
        err = afs_error_git(AUDITFS_EIO, "%s: cannot walk the history", l->path);
        goto cleanup;
    }
    git_revwalk_simplify_first_parent(walk);
    while (git_revwalk_next(&id, walk) == 0)
        out->commits++;
    if (out->head.size > 0) {
        auditfs_entry e;
        if ((err = auditfs_ledger_leaf(&leaf, &len, l, out->head.size - 1)) != 0 ||
            (err = auditfs_entry_parse(&e, leaf, len)) != 0)
            goto cleanup;
        out->last_entry_us = e.time_us;
    }
    auditfs_index_status ix;
    if (auditfs_index_status_get(&ix, l, 0) == 0) {
        out->index_present = ix.present;
        out->index_size = ix.size;
        snprintf(out->index_problem, sizeof out->index_problem, "%s", ix.problem);
    } else {
        snprintf(out->index_problem, sizeof out->index_problem, "%s", auditfs_error_last());
        auditfs_error_clear();
    }
cleanup:
    free(leaf);
    git_revwalk_free(walk);
    return err;
}
