/*
 * tests/fuzz/fuzz_policy.c - libFuzzer target: auditfs_policy_parse (C2SP tlog-policy) over
 * arbitrary bytes. Invariants: only documented error codes; a parsed policy has at most
 * AUDITFS_POLICY_MAX_ITEMS witnesses and logs, and evaluating its quorum with every witness
 * and with none terminates (a quorum met by nobody must also be met by everybody).
 */
#include "auditfs/policy.h"

#include <stdlib.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    auditfs_policy *p = NULL;
    int err = auditfs_policy_parse(&p, (const char *)data, size);
    if (err) {
        if (err != AUDITFS_EFORMAT && err != AUDITFS_EKEY && err != AUDITFS_ETOOBIG)
            abort();
        return 0;
    }
    size_t n = auditfs_policy_witness_count(p);
    if (n > AUDITFS_POLICY_MAX_ITEMS || auditfs_policy_log_count(p) > AUDITFS_POLICY_MAX_ITEMS)
        abort();
    int all[AUDITFS_POLICY_MAX_ITEMS], none[AUDITFS_POLICY_MAX_ITEMS];
    for (size_t i = 0; i < AUDITFS_POLICY_MAX_ITEMS; i++) {
        all[i] = 1;
        none[i] = 0;
    }
    int a = auditfs_policy_satisfied(p, all), z = auditfs_policy_satisfied(p, none);
    if (z && !a) /* monotone: more cosignatures never lose the quorum */
        abort();
    for (size_t i = 0; i < n; i++)
        if (!auditfs_policy_witness(p, i) || !auditfs_policy_witness_name(p, i))
            abort();
    auditfs_policy_free(p);
    return 0;
}
