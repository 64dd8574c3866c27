/*
 * libFuzzer target: the JSON proof parsers. Any accepted input must re-encode to JSON that parses
 * back to the same proof and re-encodes to the same text.
 */
#include "auditfs/proof.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void
check_inclusion(const uint8_t *data, size_t size)
{
    auditfs_inclusion_proof a, b;
    char *j1 = NULL, *j2 = NULL;
    if (auditfs_inclusion_proof_from_json(&a, (const char *)data, size) != 0)
        return;
    if (a.path_len > AUDITFS_MERKLE_MAX_INCLUSION)
        abort();
    if (auditfs_inclusion_proof_to_json(&j1, &a) != 0)
        abort();
    if (auditfs_inclusion_proof_from_json(&b, j1, strlen(j1)) != 0)
        abort();
    if (a.leaf_index != b.leaf_index || a.tree_size != b.tree_size || a.path_len != b.path_len ||
        memcmp(a.path, b.path, a.path_len * sizeof a.path[0]) != 0)
        abort();
    if (auditfs_inclusion_proof_to_json(&j2, &b) != 0 || strcmp(j1, j2) != 0)
        abort();
    free(j1);
    free(j2);
}

static void
check_consistency(const uint8_t *data, size_t size)
{
    auditfs_consistency_proof a, b;
    char *j1 = NULL, *j2 = NULL;
    if (auditfs_consistency_proof_from_json(&a, (const char *)data, size) != 0)
        return;
    if (a.path_len > AUDITFS_MERKLE_MAX_CONSISTENCY)
        abort();
    if (auditfs_consistency_proof_to_json(&j1, &a) != 0)
        abort();
    if (auditfs_consistency_proof_from_json(&b, j1, strlen(j1)) != 0)
        abort();
    if (a.first != b.first || a.second != b.second || a.path_len != b.path_len ||
        memcmp(a.path, b.path, a.path_len * sizeof a.path[0]) != 0)
        abort();
    if (auditfs_consistency_proof_to_json(&j2, &b) != 0 || strcmp(j1, j2) != 0)
        abort();
    free(j1);
    free(j2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_inclusion(data, size);
    check_consistency(data, size);
    return 0;
}
