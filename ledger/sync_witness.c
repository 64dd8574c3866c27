/*
 * ledger/sync_witness.c - what a replica may move to when it requires a witness quorum
 * (`auditfs sync --witness ... --quorum K | --policy FILE`), and bringing the witnesses'
 * cosignatures along with the history (docs/FORMAT.md, section 12.6).
 *
 * Invariants: a stored cosigned note is only ever used if its signed text is byte for byte the
 * checkpoint the ledger committed at that size and it opens with the log key, so a witness line
 * vouches for exactly a checkpoint of this history; a witness that cosigned size s' vouches for
 * every s <= s' of the same history (it checked consistency before cosigning).
 */
#include "cosig_int.h"
#include "store.h"

#include <stdlib.h>

/* 1 if the note's signed text equals text (text_len bytes, the body before the signatures). */
static int
same_body(const char *note, size_t len, const char *text, size_t text_len)
{
    size_t tl, so;
    if (auditfs_note_split(&tl, &so, note, len) != 0)
        return 0;
    return tl == text_len && memcmp(note, text, tl) == 0;
}

static int
has_size(const uint64_t *v, size_t n, uint64_t s)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] == s)
            return 1;
        if (v[mid] < s)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

/*
 * One pass down the first-parent chain from the head, newest first, so sizes descend: each
 * stored size is judged once (at its newest commit); the first size at which the quorum holds
 * is the answer, because a witness counted at a larger size counts at every smaller one.
 */
int
afs_quorum_witnessed(afs_witnessed *out, auditfs_ledger *l, const char *refname,
                     const auditfs_verifier *logkey, const auditfs_policy *p, int64_t max_age,
                     uint64_t now, uint64_t floor)
{
    uint64_t *sizes = NULL;
    size_t nsizes = 0;
    int ok[AUDITFS_POLICY_MAX_ITEMS];
    git_oid cur;
    git_commit *c = NULL;
    uint64_t last_size = UINT64_MAX;
    int err;
    if (!out || !l || !refname || !logkey || !p)
        return afs_error_set(AUDITFS_EINVAL, "afs_quorum_witnessed: NULL argument");
    memset(out, 0, sizeof *out);
    size_t nw = auditfs_policy_witness_count(p);
    if (auditfs_policy_quorum_none(p)) {
        /* no witness needed: the head itself */
        if (l->cp.size > floor) {
            out->size = l->cp.size;
            git_oid_cpy(&out->commit, &l->head_id);
        }
        return 0;
    }
    if ((err = afs_cosig_store_sizes_ref(&sizes, &nsizes, l, refname)) != 0)
        return err;
    if (nsizes == 0)
        goto cleanup;
    git_oid_cpy(&cur, &l->head_id);
    for (;;) {
        git_tree *tree = NULL;
        char *cp = NULL, *st = NULL;
        size_t cplen = 0, stlen = 0, tl = 0;
        auditfs_checkpoint ck;
        if (git_commit_lookup(&c, l->repo, &cur) < 0 || git_commit_tree(&tree, c) < 0) {
            err = afs_error_git(AUDITFS_EIO, "%s: cannot read history", l->path);
            break;
        }
        err = afs_tree_read((uint8_t **)&cp, &cplen, l->repo, tree, "checkpoint");
        git_tree_free(tree);
        if (err)
            break;
        /* the committed checkpoint must open with the log key; anything else vouches nothing */
        if (auditfs_checkpoint_open(&ck, cp, cplen, logkey, NULL) != 0 ||
            auditfs_note_split(&tl, &(size_t){0}, cp, cplen) != 0) {
            auditfs_error_clear();
            free(cp);
            err = afs_error_set(AUDITFS_EVERIFY, "%s: a committed checkpoint does not open with "
                                "the log key", l->path);
            break;
        }
        if (ck.size <= floor) {
            free(cp);
            break;
        }
        if (ck.size != last_size && has_size(sizes, nsizes, ck.size) &&
            afs_cosig_store_get_ref(&st, &stlen, l, refname, ck.size) == 0 &&
            same_body(st, stlen, cp, tl)) {
            for (size_t i = 0; i < nw; i++) {
                uint64_t first = 0, newest = 0;
                if (out->best[i] == 0 &&
                    auditfs_cosig_verify(&first, &newest, st, stlen,
                                         auditfs_policy_witness(p, i)) == 0 &&
                    (max_age < 0 || newest > now || now - newest <= (uint64_t)max_age))
                    out->best[i] = ck.size;
            }
            for (size_t i = 0; i < nw; i++)
                ok[i] = out->best[i] != 0;
            if (auditfs_policy_satisfied(p, ok)) {
                out->size = ck.size;
                git_oid_cpy(&out->commit, &cur);
                free(st);
                free(cp);
                break;
            }
        }
        auditfs_error_clear();
        free(st);
        free(cp);
        last_size = ck.size;
        if (git_commit_parentcount(c) == 0)
            break;
        git_oid_cpy(&cur, git_commit_parent_id(c, 0));
        git_commit_free(c);
        c = NULL;
    }
cleanup:
    git_commit_free(c);
    free(sizes);
    return err;
}

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
