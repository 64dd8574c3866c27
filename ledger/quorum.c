/*
 * ledger/quorum.c - does a stored checkpoint carry its witness quorum (C2SP tlog-policy over the
 * cosignatures of refs/auditfs/cosignatures)?
 */
#include "auditfs/witness.h"
#include "internal.h"

#include <stdlib.h>

int
auditfs_witness_quorum(int *met, uint64_t *when, int *counted, auditfs_ledger *l, uint64_t size,
                       const auditfs_policy *p, int64_t max_age, uint64_t now)
{
    int ok[AUDITFS_POLICY_MAX_ITEMS];
    char *note = NULL;
    size_t len = 0;
    int err;
    if (!met || !l || !p)
        return afs_error_set(AUDITFS_EINVAL, "auditfs_witness_quorum: NULL argument");
    *met = 0;
    if ((err = auditfs_cosig_store_checkpoint(&note, &len, l, size)) != 0)
        return err;
    size_t n = auditfs_policy_witness_count(p);
    for (size_t i = 0; i < n; i++) {
        uint64_t first = 0, last = 0;
        ok[i] = 0;
        /* a line that does not verify never counts (and is not an error of the caller's) */
        if (auditfs_cosig_verify(&first, &last, note, len, auditfs_policy_witness(p, i)) == 0)
            ok[i] = max_age < 0 || last > now || now - last <= (uint64_t)max_age;
        else
            last = 0;
        if (when)
            when[i] = last;
        if (counted)
            counted[i] = ok[i];
    }
    auditfs_error_clear();
    *met = auditfs_policy_satisfied(p, ok);
    free(note);
    return 0;
}
