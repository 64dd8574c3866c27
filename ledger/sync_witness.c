/*
 * ledger/sync_witness.c - for a replica that requires a witness quorum
 * (`auditfs sync --witness ... --quorum K | --policy FILE`), and bringing the witnesses'
 * cosignatures along with the history (docs/FORMAT.md, section 12.6).
 *
 * Which checkpoint counts as witnessed is decided by the one rule in ledger/quorum.c
 * (afs_quorum_walk), the same one `verify --quorum` and the mount apply.
 */
#include "cosig_int.h"
#include "store.h"

#include <stdlib.h>

/* The lines of note's signature block that are cosignatures by w (name and 0x04 key id). */
static int
witness_lines(afs_buf *out, const char *note, size_t len, const auditfs_verifier *w)
{
    size_t tl, so;
    int err;
    if ((err = auditfs_note_split(&tl, &so, note, len)) != 0)
        return err;
    uint32_t id = auditfs_cosig_key_id(w);
    const char *name = auditfs_verifier_name(w);
    for (size_t i = so; i < len;) {
        const char *nl = memchr(note + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - note) + 1 : len;
        auditfs_cosig_line cl;
        if (auditfs_cosig_parse_line(&cl, note + i, end - i) == 0 && cl.key_id == id &&
            strcmp(cl.name, name) == 0 && (err = afs_buf_put(out, note + i, end - i)) != 0)
            return err;
        i = end;
    }
    auditfs_error_clear();
    return 0;
}

int
afs_cosig_import(size_t *added, size_t *skipped, auditfs_ledger *dst, auditfs_ledger *src,
                 const char *refname, const auditfs_policy *p, uint64_t upto)
{
    uint64_t *sizes = NULL;
    size_t nsizes = 0;
    int err;
    *added = *skipped = 0;
    if ((err = afs_cosig_store_sizes_ref(&sizes, &nsizes, src, refname)) != 0)
        return err;
    size_t nw = auditfs_policy_witness_count(p);
    for (size_t k = 0; k < nsizes && !err && sizes[k] <= upto; k++) {
        char *note = NULL;
        size_t len = 0;
        if (afs_cosig_store_get_ref(&note, &len, src, refname, sizes[k]) != 0) {
            auditfs_error_clear();
            continue;
        }
        /* already stored byte for byte (the usual case on every later sync): nothing to do,
         * and no walk of the history to find the checkpoint again */
        char *mine = NULL;
        size_t mlen = 0;
        int same = afs_cosig_store_get_ref(&mine, &mlen, dst, AUDITFS_COSIG_REF, sizes[k]) == 0 &&
                   mlen == len && memcmp(mine, note, len) == 0;
        free(mine);
        auditfs_error_clear();
        if (same) {
            free(note);
            continue;
        }
        int grew = 0;
        for (size_t i = 0; i < nw && !err; i++) {
            afs_buf lines = AFS_BUF_INIT;
            int changed = 0;
            if ((err = witness_lines(&lines, note, len, auditfs_policy_witness(p, i))) == 0 &&
                lines.len) {
                int rc = auditfs_cosig_store_add(&changed, dst, sizes[k], lines.data, lines.len,
                                                 auditfs_policy_witness(p, i));
                if (rc == AUDITFS_EVERIFY || rc == AUDITFS_ENOTFOUND || rc == AUDITFS_EFORMAT) {
                    (*skipped)++; /* not a line of this history: never stored */
                    auditfs_error_clear();
                } else if (rc) {
                    err = rc;
                } else if (changed) {
                    grew = 1;
                }
            }
            afs_buf_release(&lines);
        }
        *added += (size_t)grew;
        free(note);
    }
    free(sizes);
    return err;
}
