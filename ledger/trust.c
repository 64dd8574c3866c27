/*
 * ledger/trust.c - the check every reading command makes before serving a byte (auditfs/trust.h).
 *
 * Invariant: a checkpoint enters the state directory only after it was verified with a pinned
 * (or user-given, now pinned) key and shown to extend every checkpoint remembered for its origin;
 * so the remembered checkpoint only ever moves forward along one history, and anything the
 * repository shows that is not on that history is refused with EFORK and evidence on disk.
 */
#include "publish.h"
#include "store.h"
#include "state_int.h"

#include "auditfs/merkle.h"
#include "auditfs/trust.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* Parses the body of a signed note without checking signatures (used for notes from our own
 * state directory, which were verified before they were stored). */
static int
parse_note_body(auditfs_checkpoint *out, const char *note, size_t len)
{
    const char *sep = NULL;
    for (size_t i = 0; i + 1 < len; i++)
        if (note[i] == '\n' && note[i + 1] == '\n') {
            sep = note + i;
            break;
        }
    if (!sep)
        return afs_error_set(AUDITFS_EFORMAT, "not a signed note (no blank line)");
    return auditfs_checkpoint_parse(out, note, (size_t)(sep - note) + 1);
}

static int pending_batch(git_oid *id, auditfs_state *st, auditfs_ledger *l, const char *snote,
                         size_t slen);

/* 1 if l's ref no longer names the head l was loaded from (another process committed). */
static int
head_moved(auditfs_ledger *l)
{
    git_oid now;
    int moved = git_reference_name_to_id(&now, l->repo, l->ref ? l->ref : AFS_REF) == 0 &&
                !git_oid_equal(&now, &l->head_id);
    auditfs_error_clear();
    return moved;
}

static const char *
kind_words(int kind)
{
    return kind == AUDITFS_STATE_SIGNED ? "this party signed" : "this party verified";
}

/*
 * Does the checkpoint cp (its note `note`) extend the remembered one rc (`rnote`)? Proofs come
 * from l's head tiles. 0 if it does; EFORK after writing evidence if it does not; another error
 * if the proof cannot be computed.
 */
static int
check_extends(auditfs_trust_result *res, auditfs_state *st, auditfs_ledger *l,
              const auditfs_checkpoint *cp, const char *note, size_t len,
              const auditfs_checkpoint *rc, const char *rnote, size_t rlen, int kind)
{
    const char *what = NULL;
    char detail[512] = "";
    char *proof_json = NULL, *dir = NULL;
    auditfs_hash at_old;
    int have_at_old = 0, err = 0;

    if (cp->size == rc->size) {
        if (auditfs_hash_equal(&cp->root, &rc->root))
            return 0;
        what = "same-size";
        snprintf(detail, sizeof detail,
                 "two signed checkpoints of size %llu with different roots (the one %s earlier "
                 "and the ledger's head)",
                 (unsigned long long)cp->size, kind_words(kind));
    } else if (cp->size < rc->size) {
        /* a head read before another process (this party's writer, or a reader that shares
         * this memory) moved the ref and remembered the newer checkpoint: the ledger is not
         * behind, our copy of its head is. Called under the state lock, which every update
         * of the memory takes, so a ref that has not moved is really behind. */
        if (head_moved(l))
            return afs_error_set(AUDITFS_EBUSY,
                                 "%s: the head (size %llu) was overtaken by a commit while it "
                                 "was checked against the remembered checkpoint of %llu",
                                 l->path, (unsigned long long)cp->size,
                                 (unsigned long long)rc->size);
        what = "rollback";
        snprintf(detail, sizeof detail,
                 "rollback: the ledger's head has %llu entries but %s a checkpoint of %llu",
                 (unsigned long long)cp->size, kind_words(kind), (unsigned long long)rc->size);
    } else {
        auditfs_consistency_proof p;
        if ((err = auditfs_ledger_root_at(&at_old, l, rc->size)) != 0)
            return afs_error_wrap(err, "%s: root at size %llu", l->path,
                                  (unsigned long long)rc->size);
        have_at_old = 1;
        if (rc->size == 0) {
            if (auditfs_hash_equal(&rc->root, &at_old))
                return 0;
        } else {
            if ((err = auditfs_ledger_prove_consistency(&p, l, rc->size, cp->size)) != 0)
                return afs_error_wrap(err, "%s: consistency proof", l->path);
            if (auditfs_merkle_verify_consistency(rc->size, cp->size, &rc->root, &cp->root,
                                                  p.path, p.path_len) == 0)
                return 0;
            auditfs_error_clear();
            /* the proof the repository gives must at least hold for its own tree: then the
             * tree of size rc->size it extends has another root than the remembered one */
            if (auditfs_merkle_verify_consistency(rc->size, cp->size, &at_old, &cp->root, p.path,
                                                  p.path_len) != 0)
                return afs_error_set(AUDITFS_EVERIFY,
                                     "%s: the head's tiles give no valid consistency proof for "
                                     "their own tree",
                                     l->path);
            if ((err = auditfs_consistency_proof_to_json(&proof_json, &p)) != 0)
                return err;
        }
        what = "fork";
        char a[48], b[48];
        auditfs_hash_base64(a, &at_old);
        auditfs_hash_base64(b, &rc->root);
        snprintf(detail, sizeof detail,
                 "fork: the ledger's head (size %llu) does not extend the checkpoint of size %llu "
                 "%s: its tree has root %s at that size, the remembered checkpoint %s",
                 (unsigned long long)cp->size, (unsigned long long)rc->size, kind_words(kind), a,
                 b);
    }
    err = auditfs_state_write_evidence(&dir, st, cp->origin, l->path, what, detail, rnote, rlen,
                                       note, len, proof_json, have_at_old ? &at_old : NULL);
    free(proof_json);
    if (err)
        return afs_error_wrap(AUDITFS_EFORK, "%s: %s; writing the evidence failed", l->path,
                              detail);
    snprintf(res->evidence, sizeof res->evidence, "%s", dir);
    free(dir);
    return afs_error_set(AUDITFS_EFORK, "%s: %s; evidence written to %s", l->path, detail,
                         res->evidence);
}

int
auditfs_trust_check(auditfs_trust_result *res, auditfs_state *st, auditfs_ledger *l,
                    const char *note, size_t len, unsigned flags)
{
    auditfs_checkpoint cp;
    int fd = -1, err;
    res->evidence[0] = 0;
    res->advanced = 0;
    res->remembered_size = UINT64_MAX;
    if ((err = parse_note_body(&cp, note, len)) != 0)
        return err;
    if (cp.size > l->cp.size)
        return afs_error_set(AUDITFS_EINVAL,
                             "%s: cannot check a checkpoint of size %llu with a ledger of %llu",
                             l->path, (unsigned long long)cp.size,
                             (unsigned long long)l->cp.size);
    if ((err = afs_state_lock(&fd, st, cp.origin)) != 0)
        return err;
    size_t seen_size = 0;
    int have_seen = 0;
    for (int kind = AUDITFS_STATE_SEEN; kind <= AUDITFS_STATE_SIGNED && !err; kind++) {
        char *rnote = NULL;
        size_t rlen = 0;
        auditfs_checkpoint rc;
        err = auditfs_state_checkpoint(&rnote, &rlen, st, cp.origin, kind);
        if (err == AUDITFS_ENOTFOUND) {
            auditfs_error_clear();
            err = 0;
            continue;
        }
        if (err)
            break;
        if ((err = parse_note_body(&rc, rnote, rlen)) != 0 || strcmp(rc.origin, cp.origin) != 0) {
            err = afs_error_set(AUDITFS_EFORMAT, "%s/origins: the %s checkpoint of \"%s\" is "
                                                 "damaged",
                                auditfs_state_path(st),
                                kind == AUDITFS_STATE_SEEN ? "seen" : "signed", cp.origin);
        } else {
            if (kind == AUDITFS_STATE_SEEN) {
                have_seen = 1;
                seen_size = rc.size;
                res->remembered_size = rc.size;
            }
            git_oid pending;
            /* a batch this party's writer signed and synced but has not published yet (it is
             * between the two steps, or was killed there): not a rollback; the next append
             * publishes it (afs_trust_writer_open) */
            if (kind == AUDITFS_STATE_SIGNED && cp.size < rc.size && len == l->cp_note_len &&
                memcmp(note, l->cp_note, len) == 0 && pending_batch(&pending, st, l, rnote, rlen))
                err = 0;
            else
                err = check_extends(res, st, l, &cp, note, len, &rc, rnote, rlen, kind);
        }
        free(rnote);
    }
    if (!err && !(flags & AUDITFS_TRUST_NO_ADVANCE) && (!have_seen || cp.size > seen_size)) {
        if ((err = auditfs_state_remember(st, cp.origin, AUDITFS_STATE_SEEN, note, len)) == 0)
            res->advanced = 1;
    }
    afs_state_unlock(fd);
    return err;
}

/* Verifies the head note with the first of keys that signed it, for origin. */
static int
open_head(auditfs_checkpoint *cp, const auditfs_verifier **used, auditfs_ledger *l,
          const auditfs_verifier *const *keys, size_t n, const char *origin)
{
    int err = AUDITFS_EVERIFY;
    for (size_t i = 0; i < n; i++) {
        err = auditfs_checkpoint_open(cp, l->cp_note, l->cp_note_len, keys[i], origin);
        if (!err) {
            *used = keys[i];
            return 0;
        }
    }
    return afs_error_wrap(err == AUDITFS_EFORMAT ? AUDITFS_EVERIFY : err,
                          "%s: head checkpoint (not signed by %s for origin \"%s\"; the "
                          "repository's history was replaced or forged)",
                          l->path, n == 1 ? "the key" : "any pinned key", origin);
}


static int trust_head(auditfs_trust_result *res, auditfs_ledger *l, auditfs_state *st,
                      const auditfs_trust_options *opts, const char *origin,
                      auditfs_verifier **pinned, size_t npinned, const auditfs_verifier **usedp);

/*
 * The full check of auditfs/trust.h. Longer than a screen because its steps (origin, keys,
 * signature, tiles, memory, pin, bind) must happen in exactly this order: nothing is written to
 * the state before the head is verified.
 */
int
auditfs_ledger_trust(auditfs_trust_result *res, auditfs_ledger *l, auditfs_state *st,
                     const auditfs_trust_options *opts)
{
    static const auditfs_trust_options none = {NULL, NULL, 0};
    char bound[AUDITFS_NAME_MAX + 1] = "", origin[AUDITFS_NAME_MAX + 1];
    auditfs_verifier **pinned = NULL;
    size_t npinned = 0;
    const auditfs_verifier *used = NULL;
    int err, is_bound = 0;
    memset(res, 0, sizeof *res);
    res->remembered_size = UINT64_MAX;
    if (!opts)
        opts = &none;
    if ((err = auditfs_state_check_outside(st, l->path)) != 0)
        return err;
    err = auditfs_state_bound_origin(bound, st, l->path);
    if (err == 0)
        is_bound = 1;
    else if (err != AUDITFS_ENOTFOUND)
        return err;
    auditfs_error_clear();
    /* the expected origin: never the repository's word once this party has seen the ledger */
    if (opts->origin) {
        if (is_bound && strcmp(bound, opts->origin) != 0)
            return afs_error_set(AUDITFS_EVERIFY,
                                 "%s holds origin \"%s\" for this party (bound when first "
                                 "verified), not \"%s\" (auditfs trust unbind --ledger %s to "
                                 "forget that)",
                                 l->path, bound, opts->origin, l->path);
        snprintf(origin, sizeof origin, "%s", opts->origin);
    } else if (is_bound) {
        snprintf(origin, sizeof origin, "%s", bound);
    } else {
        /* first use: the head's claim is only a name to look keys up by; it is verified below */
        snprintf(origin, sizeof origin, "%s", l->cp.origin);
    }
    if ((err = auditfs_state_keys(&pinned, &npinned, st, origin)) != 0)
        return err;
    /* EBUSY from the memory check: the head was overtaken by a commit while it was checked
     * (check_extends); read the new head and check it, a bounded number of times */
    for (int attempt = 0;; attempt++) {
        if (attempt == 0)
            afs_test_hold("AUDITFS_TEST_HOLD_BEFORE_TRUST");
        err = trust_head(res, l, st, opts, origin, pinned, npinned, &used);
        if (err != AUDITFS_EBUSY || attempt == 7)
            break;
        auditfs_error_clear();
        if ((err = auditfs_ledger_refresh(l)) != 0)
            goto cleanup;
    }
    if (err)
        goto cleanup;
    if (opts->flags & AUDITFS_TRUST_NO_ADVANCE)
        goto cleanup;
    if (opts->key && npinned == 0) {
        if ((err = auditfs_state_pin(st, origin, opts->key)) != 0)
            goto cleanup;
        res->pinned = 1;
    }
    if (!is_bound) {
        if ((err = auditfs_state_bind(st, l->path, origin)) != 0)
            goto cleanup;
        res->bound = 1;
    }
cleanup:
    auditfs_state_keys_free(pinned, npinned);
    return err;
}

/* The head's signature, tiles and memory check of auditfs_ledger_trust, for one read head. */
static int
trust_head(auditfs_trust_result *res, auditfs_ledger *l, auditfs_state *st,
           const auditfs_trust_options *opts, const char *origin, auditfs_verifier **pinned,
           size_t npinned, const auditfs_verifier **usedp)
{
    const auditfs_verifier *used = NULL;
    int err;
    memset(res, 0, sizeof *res);
    res->remembered_size = UINT64_MAX;
    if (opts->key) {
        int found = npinned == 0;
        for (size_t i = 0; i < npinned; i++)
            found |= auditfs_verifier_equal(pinned[i], opts->key);
        if (!found) {
            err = afs_error_set(AUDITFS_EKEY,
                                "key %s+%08x is not pinned for origin \"%s\" (%zu other key(s) "
                                "are): pin it with `auditfs trust add KEY.pub --origin \"%s\"` "
                                "if the provider really uses it",
                                auditfs_verifier_name(opts->key),
                                auditfs_verifier_key_id(opts->key), origin, npinned, origin);
            goto cleanup;
        }
        if (npinned == 0 && (opts->flags & AUDITFS_TRUST_NO_PIN)) {
            err = afs_error_set(AUDITFS_EKEY, "no verifier key is pinned for origin \"%s\"",
                                origin);
            goto cleanup;
        }
        err = open_head(&res->head, &used, l, &opts->key, 1, origin);
    } else if (npinned == 0) {
        err = afs_error_set(AUDITFS_EKEY,
                            "no verifier key is pinned for origin \"%s\" (ledger %s): pin the "
                            "provider's key with `auditfs trust add KEY.pub --origin \"%s\"`, or "
                            "pass --key KEY.pub once (it is pinned then)",
                            origin, l->path, origin);
        goto cleanup;
    } else {
        err = open_head(&res->head, &used, l, (const auditfs_verifier *const *)pinned, npinned,
                        origin);
    }
    if (err)
        goto cleanup;
    if ((err = auditfs_ledger_check_head(NULL, l, used)) != 0)
        goto cleanup;
    if ((err = auditfs_trust_check(res, st, l, l->cp_note, l->cp_note_len, opts->flags)) != 0)
        goto cleanup;
cleanup:
    *usedp = used;
    return err;
}

/* ---- writers (state_int.h) ---- */

/*
 * 1 if the checkpoint this party signed last (snote) is held by a commit whose parent is l's
 * head: this party's writer remembered that batch and crashed before it moved the ref (the
 * objects were synced before it was remembered). *id is that commit. 0 otherwise.
 */
static int
pending_batch(git_oid *id, auditfs_state *st, auditfs_ledger *l, const char *snote, size_t slen)
{
    char hex[41];
    git_commit *c = NULL;
    git_tree *tree = NULL;
    uint8_t *note = NULL;
    size_t len = 0;
    int ok = 0;
    if (afs_state_signed_commit(hex, st, l->cp.origin, NULL) == 0 && git_oid_fromstr(id, hex) == 0 &&
        git_commit_lookup(&c, l->repo, id) == 0 && git_commit_parentcount(c) == 1 &&
        git_oid_equal(git_commit_parent_id(c, 0), &l->head_id) && git_commit_tree(&tree, c) == 0 &&
        afs_tree_read(&note, &len, l->repo, tree, "checkpoint") == 0 && len == slen &&
        memcmp(note, snote, len) == 0)
        ok = 1;
    auditfs_error_clear();
    free(note);
    git_tree_free(tree);
    git_commit_free(c);
    return ok;
}

/*
 * The crash case of afs_trust_writer_open: 1 if the ref was moved forward to the remembered
 * commit, 0 if that does not apply (the caller then reports the fork), or an error.
 */
static int
roll_forward(auditfs_state *st, auditfs_ledger *l, const char *signed_note, size_t signed_len)
{
    git_oid id;
    int err;
    if (!pending_batch(&id, st, l, signed_note, signed_len))
        return 0;
    if ((err = afs_ref_publish(l->repo, AFS_REF, &id, &l->head_id,
                               "auditfs: finish the batch a crash interrupted", l->path)) != 0 ||
        (err = auditfs_ledger_refresh(l)) != 0)
        return err;
    return 1;
}

int
afs_trust_writer_open(auditfs_state *st, auditfs_ledger *l, int *rolled_forward)
{
    auditfs_trust_result res;
    auditfs_checkpoint sc;
    char *snote = NULL;
    size_t slen = 0;
    int err;
    *rolled_forward = 0;
    if ((err = auditfs_state_check_outside(st, l->path)) != 0)
        return err;
    err = auditfs_state_checkpoint(&snote, &slen, st, l->cp.origin, AUDITFS_STATE_SIGNED);
    if (err == AUDITFS_ENOTFOUND) {
        /* first use of this key for this origin here: the verified head is the memory */
        auditfs_error_clear();
        if ((err = auditfs_trust_check(&res, st, l, l->cp_note, l->cp_note_len, 0)) != 0)
            return err;
        return auditfs_state_remember(st, l->cp.origin, AUDITFS_STATE_SIGNED, l->cp_note,
                                      l->cp_note_len);
    }
    if (err)
        return err;
    /* our own writer crashed between remembering a batch and publishing it */
    if (parse_note_body(&sc, snote, slen) == 0 && sc.size > l->cp.size) {
        int rf = roll_forward(st, l, snote, slen);
        if (rf < 0) {
            free(snote);
            return rf;
        }
        *rolled_forward = rf;
    }
    free(snote);
    return auditfs_trust_check(&res, st, l, l->cp_note, l->cp_note_len, 0);
}

int
afs_trust_writer_signed(auditfs_state *st, const char *origin, const char *note, size_t len,
                        const char *commit_hex)
{
    int fd = -1;
    int err = afs_state_lock(&fd, st, origin);
    if (err)
        return err;
    /* the commit first: a crash between the two leaves the old signed checkpoint, which the
     * head still extends */
    if ((err = afs_state_signed_commit(NULL, st, origin, commit_hex)) == 0)
        err = auditfs_state_remember(st, origin, AUDITFS_STATE_SIGNED, note, len);
    afs_state_unlock(fd);
    return err;
}
