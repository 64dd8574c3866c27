/*
 * ledger/prefix.c - "is this checkpoint a prefix of the head": the one definition (bundles'
 * completeness check, index freshness, trusted checkpoints all ask it).
 */
#include "auditfs/ledger.h"
#include "auditfs/merkle.h"
#include "internal.h"

int
auditfs_ledger_has_prefix(int *out, auditfs_ledger *l, const auditfs_checkpoint *cp)
{
    auditfs_checkpoint head;
    auditfs_consistency_proof p;
    int err;
    *out = 0;
    if ((err = auditfs_ledger_head(&head, l)) != 0)
        return err;
    if (cp->size > head.size)
        return 0;
    if (cp->size == 0) {
        /* the empty tree's root is fixed: a checkpoint claiming another one is no prefix */
        auditfs_hash empty;
        auditfs_empty_root(&empty);
        *out = auditfs_hash_equal(&cp->root, &empty);
        return 0;
    }
    if (cp->size == head.size) {
        *out = auditfs_hash_equal(&cp->root, &head.root);
        return 0;
    }
    if ((err = auditfs_ledger_prove_consistency(&p, l, cp->size, head.size)) != 0)
        return err;
    *out = auditfs_merkle_verify_consistency(cp->size, head.size, &cp->root, &head.root, p.path,
                                             p.path_len) == 0;
    auditfs_error_clear();
    return 0;
}
