/*
 * ledger/view_follow.c - --follow: verify the ledger's new head and publish it.
 *
 * A new head is checked (signature, extension of the pinned tree, the caller's policy, every new
 * leaf against the new root, the verifier's memory) before anything of it is published.
 */
#include "view_int.h"

#include "auditfs/trust.h"

#include <stdio.h>

/* ---- --follow ---- */

static int
refuse(auditfs_view *v, const char *new_note, size_t new_len, const char *fmt, const char *detail)
{
    git_oid_cpy(&v->refused, &v->probe->head_id);
    v->have_refused = 1;
    return afs_error_set_lines(AUDITFS_EVERIFY,
                         "refusing the ledger's new head %s: %s%s\n"
                         "--- pinned checkpoint (still served) ---\n%.*s"
                         "--- new checkpoint ---\n%.*s",
                         git_oid_tostr_s(&v->probe->head_id), fmt, detail, (int)v->note_len,
                         v->note, (int)new_len, new_note);
}

/*
 * Everything a new head must pass before any of it is published: its signature and origin, the
 * extension of the pinned tree, the caller's policy, every new leaf against the new root (into
 * st and so), and the verifier's memory. 1: verified; 0: the policy says not yet (not a
 * refusal: asked again next time); < 0: refused (remembered, not reported again).
 */
static int
follow_check(auditfs_view *v, const char *nnote, size_t nlen, auditfs_checkpoint *ncp,
             scan_state *st, scan_out *so)
{
    /* signature and origin */
    if (auditfs_checkpoint_open(ncp, nnote, nlen, v->key, v->cp.origin) != 0) {
        char d[300];
        snprintf(d, sizeof d, ": %s", auditfs_error_last());
        return refuse(v, nnote, nlen, "its checkpoint is not signed by the key", d);
    }
    /* it must extend the pinned tree */
    if (ncp->size < v->cp.size)
        return refuse(v, nnote, nlen, "it has fewer entries than the pinned checkpoint (rollback)",
                      "");
    if (ncp->size == v->cp.size) {
        if (!auditfs_hash_equal(&ncp->root, &v->cp.root))
            return refuse(v, nnote, nlen,
                          "two signed checkpoints of the same size with different roots", "");
    } else {
        int prefix = 0; /* the probe's head is ncp */
        if (auditfs_ledger_has_prefix(&prefix, v->probe, &v->cp) != 0 || !prefix)
            return refuse(v, nnote, nlen,
                          "no valid consistency proof: the new history does not extend the pinned "
                          "one",
                          "");
    }
    /* the caller's policy (a witness quorum): not yet is not a refusal, ask again next time */
    if (v->accept) {
        int ok = v->accept(v->accept_payload, ncp, v->probe);
        if (ok <= 0)
            return ok;
    }
    /* every new leaf, against the new root */
    *st = v->st;
    if (vw_scan(NULL, st, so, v->probe, v->probe->tree, ncp->size, (uint32_t)v->nsegs) != 0) {
        char d[300];
        snprintf(d, sizeof d, ": %s", auditfs_error_last());
        return refuse(v, nnote, nlen, "its new entries do not verify", d);
    }
    auditfs_hash root;
    auditfs_merkle_stream_root(&root, &st->ms);
    if (!auditfs_hash_equal(&root, &ncp->root))
        return refuse(v, nnote, nlen, "its leaves do not hash to its signed root", "");
    /* the verifier's memory: this head must extend what this party saw (another process may
     * have moved it) and becomes what it saw */
    if (v->state) {
        auditfs_trust_result r;
        int terr = auditfs_trust_check(&r, v->state, v->probe, nnote, nlen, 0);
        if (terr == AUDITFS_EBUSY) {
            /* the probe's head was overtaken by a commit while it was checked (trust.c): not
             * a refusal, the newer head is looked at next time */
            auditfs_error_clear();
            return 0;
        }
        if (terr != 0) {
            char d[1200];
            snprintf(d, sizeof d, ": %s", auditfs_error_last());
            return refuse(v, nnote, nlen, "it does not extend the checkpoint this party remembers",
                          d);
        }
    }
    return 1;
}

/* The entries of frames [from, v->nframes), re-read through the verified path (lock held). */
static int
follow_apply_frames(auditfs_view *v, size_t from)
{
    int err = 0;
    for (size_t fi = from; fi < v->nframes && !err; fi++) {
        centry *c = NULL;
        vframe *f = &v->frames[fi];
        if ((err = vw_frame_get(&c, v, (uint32_t)fi, NULL)) != 0)
            break;
        for (uint32_t i = 0; i < f->count && !err; i++) {
            const uint8_t *leaf, *payload;
            size_t len;
            auditfs_entry e;
            vw_leaf_in(c, f, f->first_seq + i, &leaf, &len, &payload);
            if ((err = auditfs_entry_parse(&e, leaf, len)) == 0) {
                vrec r = {e.seq, e.time_us, (uint32_t)len, e.payload_len, &e};
                err = vw_apply(v, &r);
            }
        }
        vw_frame_put(v, c);
    }
    return err;
}

/* The nodes every step changes: entries/, proofs/, README, checkpoint and each query file. */
static void
follow_mark_changed(auditfs_view *v)
{
    for (uint32_t i = 0; i < v->nodes[0].nkids; i++) {
        vnode *k = &v->nodes[v->nodes[0].kids[i] - 1];
        if (k->kind == K_ENTRIES || k->kind == K_PROOFS || k->kind == K_TEXT ||
            k->kind == K_QUERY)
            vw_node_changed(v, v->nodes[0].kids[i]);
    }
    /* every query file now stands for the new checkpoint (recomputed on its next use) */
    pthread_mutex_lock(&v->query_lock);
    for (size_t i = 0; v->queries && i < QUERY_NAMES; i++)
        if (v->queries[i].name)
            vw_node_changed(v, QUERY_BASE + v->queries[i].k);
    pthread_mutex_unlock(&v->query_lock);
}

/*
 * Publishes a verified step under the tree's lock: the new segments and frames, the new tree,
 * their entries, then the checkpoint (*nnote is taken over on success). Returns 1 or an error.
 */
static int
follow_publish(auditfs_view *v, const auditfs_checkpoint *ncp, char **nnote, size_t nlen,
               const scan_state *st, const scan_out *so, uint64_t **changed, size_t *nchanged)
{
    git_commit *commit = NULL;
    git_tree *ntree = NULL;
    int err = 0;
    pthread_mutex_lock(&v->git_lock);
    if (git_commit_lookup(&commit, v->l->repo, &v->probe->head_id) < 0 ||
        git_commit_tree(&ntree, commit) < 0)
        err = afs_error_git(AUDITFS_EIO, "cannot read the new head");
    pthread_mutex_unlock(&v->git_lock);
    git_commit_free(commit);
    if (err)
        return err;
    pthread_rwlock_wrlock(&v->lock);
    size_t old_nframes = v->nframes;
    for (size_t i = 0; i < so->nsegs && !err; i++)
        VEC_PUSH(v->segs, v->nsegs, v->capsegs, so->segs[i], unlock);
    for (size_t i = 0; i < so->nframes && !err; i++)
        VEC_PUSH(v->frames, v->nframes, v->capframes, so->frames[i], unlock);
    pthread_mutex_lock(&v->git_lock);
    git_tree_free(v->tree);
    v->tree = ntree;
    ntree = NULL;
    vw_tiles_clear(v);
    pthread_mutex_unlock(&v->git_lock);
    v->tracking = 1;
    v->nchanged = 0;
    err = follow_apply_frames(v, old_nframes);
    if (!err) {
        v->st = *st;
        v->cp = *ncp;
        git_oid_cpy(&v->commit, &v->probe->head_id);
        free(v->note);
        v->note = *nnote;
        v->note_len = nlen;
        *nnote = NULL;
        vw_show_cosignatures(v, v->probe);
        err = vw_make_readme(v);
    }
    /*
     * A failure here (out of memory, or the new segment changed between the two passes) leaves
     * entries added for part of the step; they were verified, but the checkpoint stays the old
     * one, so stat of entries/ and proofs/ never goes beyond it.
     */
unlock:
    follow_mark_changed(v);
    v->tracking = 0;
    if (changed && !err) {
        *changed = v->changed;
        *nchanged = v->nchanged;
        v->changed = NULL;
        v->nchanged = v->capchanged = 0;
    }
    pthread_rwlock_unlock(&v->lock);
    git_tree_free(ntree);
    return err ? err : 1;
}

int
auditfs_view_follow(auditfs_view *v, uint64_t **changed, size_t *nchanged)
{
    auditfs_checkpoint ncp;
    scan_state st;
    scan_out so;
    char *nnote = NULL;
    size_t nlen;
    int err;
    memset(&so, 0, sizeof so);
    if (changed)
        *changed = NULL;
    if (nchanged)
        *nchanged = 0;
    if ((err = auditfs_ledger_refresh(v->probe)) != 0)
        return afs_error_wrap(AUDITFS_EVERIFY, "refusing the ledger's new head");
    if (git_oid_equal(&v->probe->head_id, &v->commit) ||
        (v->have_refused && git_oid_equal(&v->probe->head_id, &v->refused)))
        return 0;
    if ((err = auditfs_ledger_checkpoint_note(&nnote, &nlen, v->probe)) != 0)
        return err;
    if ((err = follow_check(v, nnote, nlen, &ncp, &st, &so)) == 1)
        err = follow_publish(v, &ncp, &nnote, nlen, &st, &so, changed, nchanged);
    vw_scan_out_release(&so);
    free(nnote);
    return err;
}
