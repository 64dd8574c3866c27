/*
 * ledger/bundle_witness.c - the witnesses a bundle's report names (query.txt, report 3 on)
 * against the witness keys the reader trusts (`auditfs verify-bundle --witness`).
 *
 * Invariant: the receipts in report.md are computed with the keys query.txt names, which came
 * with the bundle; a receipt is only as good as the reader's trust in that key, so every key
 * the report relies on must be one the reader gave (no verification trusts a key found inside
 * the data it verifies).
 */
#include "bundle_int.h"

#include <stdio.h>

int
auditfs_bundle_check_witness_keys(const auditfs_bundle *b, const auditfs_verifier *const *witnesses,
                                  size_t nw, auditfs_bundle_cb cb, void *ctx)
{
    char msg[1024], esc[2 * AUDITFS_NAME_MAX + 8];
    int bad = 0;
    if (!b || (nw && !witnesses) || !cb)
        return afs_error_set(AUDITFS_EINVAL, "auditfs_bundle_check_witness_keys: NULL argument");
    if (b->nwitness == 0)
        return 0;
    if (nw == 0) {
        snprintf(msg, sizeof msg,
                 "the report's receipts use %zu witness key(s) named in query.txt; give "
                 "--witness KEY.pub to check them against keys you trust",
                 b->nwitness);
        cb(ctx, AUDITFS_BUNDLE_NOTE, msg);
        return 0;
    }
    for (size_t i = 0; i < b->nwitness; i++) {
        const char *name = auditfs_verifier_name(b->witness[i]);
        int found = 0;
        for (size_t k = 0; k < nw && !found; k++)
            found = auditfs_verifier_equal(b->witness[i], witnesses[k]);
        afs_escape(esc, sizeof esc, name, strlen(name));
        if (found) {
            snprintf(msg, sizeof msg,
                     "query.txt witness %s (key id %08x) is one of your "
                     "--witness keys",
                     esc, (unsigned)auditfs_cosig_key_id(b->witness[i]));
            cb(ctx, AUDITFS_BUNDLE_OK, msg);
            continue;
        }
        bad++;
        snprintf(msg, sizeof msg,
                 "query.txt names witness %s (key id %08x), whose acknowledgements the report's "
                 "receipts list, but that key is not among your --witness keys: the receipts "
                 "rest on a key that came with the bundle",
                 esc, (unsigned)auditfs_cosig_key_id(b->witness[i]));
        cb(ctx, AUDITFS_BUNDLE_FAIL, msg);
    }
    return bad ? afs_error_set(AUDITFS_EVERIFY, "%d witness key(s) of query.txt not given", bad)
               : 0;
}
