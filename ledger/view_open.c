/*
 * ledger/view_open.c - pin-time verification: open, the verification pass and free.
 *
 * Nothing is published before the pass over every leaf has recomputed the signed checkpoint's
 * root (view_int.h, step 1).
 */
#include "view_int.h"

#include "auditfs/trust.h"
#include "auditfs/witness.h"
#include "entry.h"
#include "progress.h"
#include "segfetch.h"

#include <stdio.h>

/* ---- the verification pass ---- */

typedef struct seg_ref {
    uint64_t first;
    git_oid id;
} seg_ref;

static int
collect_segs(seg_ref **out, size_t *n, size_t *cap, git_repository *repo, git_tree *t, int depth,
             char *acc)
{
    int err = 0;
    for (size_t i = 0; i < git_tree_entrycount(t); i++) {
        const git_tree_entry *te = git_tree_entry_byindex(t, i);
        const char *name = git_tree_entry_name(te);
        if (strlen(name) != 3 || name[0] < '0' || name[0] > '9' || name[1] < '0' ||
            name[1] > '9' || name[2] < '0' || name[2] > '9')
            return afs_error_set(AUDITFS_EVERIFY, "seg/: unexpected name '%s'", name);
        memcpy(acc + 3 * depth, name, 3);
        if (depth == 3) {
            if (git_tree_entry_type(te) != GIT_OBJECT_BLOB)
                return afs_error_set(AUDITFS_EVERIFY, "seg/...: not a blob");
            seg_ref r;
            acc[12] = 0;
            r.first = strtoull(acc, NULL, 10);
            git_oid_cpy(&r.id, git_tree_entry_id(te));
            VEC_PUSH(*out, *n, *cap, r, done);
            continue;
        }
        if (git_tree_entry_type(te) != GIT_OBJECT_TREE)
            return afs_error_set(AUDITFS_EVERIFY, "seg/: '%s' is not a directory", name);
        git_tree *sub = NULL;
        if (git_tree_lookup(&sub, repo, git_tree_entry_id(te)) < 0)
            return afs_error_git(AUDITFS_EVERIFY, "cannot read a segment directory");
        err = collect_segs(out, n, cap, repo, sub, depth + 1, acc);
        git_tree_free(sub);
        if (err)
            return err;
    }
done:
    return err;
}

/*
 * Verifies leaves [st->next, to) of `tree`: segments must start at st->next and be contiguous.
 * Calls vw_apply() for each entry when v is not NULL. On success st is advanced; the caller checks
 * the Merkle root.
 */
int
vw_scan(auditfs_view *v, scan_state *st, scan_out *so, git_repository *repo, git_tree *tree,
     uint64_t to, uint32_t seg_base)
{
    seg_ref *refs = NULL;
    size_t nrefs = 0, caprefs = 0;
    git_tree_entry *te = NULL;
    git_tree *segt = NULL;
    git_blob *blob = NULL;
    afs_seg_index ix;
    afs_buf frame = AFS_BUF_INIT;
    ZSTD_DCtx *dctx = ZSTD_createDCtx();
    char acc[16];
    int err = 0;
    /* segments read and decoded ahead by a worker thread (segfetch.c), when it starts */
    afs_segfetch *sf = NULL;
    afs_segitem *it = NULL;
    git_oid *soids = NULL;
    char(*spaths)[64] = NULL;
    memset(&ix, 0, sizeof ix);
    if (!dctx)
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    if (st->next == to)
        goto done;
    if (git_tree_entry_bypath(&te, tree, "seg") < 0 ||
        git_tree_lookup(&segt, repo, git_tree_entry_id(te)) < 0) {
        err = afs_error_git(AUDITFS_EVERIFY, "no readable seg/ directory");
        goto done;
    }
    if ((err = collect_segs(&refs, &nrefs, &caprefs, repo, segt, 0, acc)) != 0)
        goto done;
    size_t s0 = 0;
    while (s0 < nrefs && refs[s0].first < st->next)
        s0++;
    if (nrefs > s0 && (soids = malloc((nrefs - s0) * sizeof *soids)) != NULL &&
        (spaths = malloc((nrefs - s0) * sizeof *spaths)) != NULL) {
        for (size_t k = s0; k < nrefs; k++) {
            git_oid_cpy(&soids[k - s0], &refs[k].id);
            afs_seg_path(spaths[k - s0], refs[k].first);
        }
        if (afs_segfetch_start(&sf, git_repository_path(repo), soids, spaths, nrefs - s0) != 0) {
            auditfs_error_clear(); /* read them in this thread */
            sf = NULL;
        }
    }
    for (size_t si = s0; si < nrefs && st->next < to; si++) {
        vseg s;
        memset(&s, 0, sizeof s);
        s.id = refs[si].id;
        s.first = refs[si].first;
        afs_seg_path(s.where, s.first);
        if (s.first != st->next) {
            err = afs_error_set(AUDITFS_EVERIFY, "entries %llu..%llu: no segment holds them",
                                (unsigned long long)st->next,
                                (unsigned long long)(s.first - 1));
            goto done;
        }
        const uint8_t *data = NULL;
        size_t dlen = 0;
        if (sf) {
            it = afs_segfetch_next(sf);
            if (it->status && it->kind == AFS_SEGFETCH_UNREADABLE) {
                err = afs_error_set(AUDITFS_EVERIFY, "%s", it->msg);
                goto done;
            }
            afs_seg_index_release(&ix);
            ix = it->ix; /* taken over: released with this segment */
            memset(&it->ix, 0, sizeof it->ix);
        } else {
            if (git_blob_lookup(&blob, repo, &s.id) < 0) {
                err = afs_error_git(AUDITFS_EVERIFY, "%s: cannot read the segment", s.where);
                goto done;
            }
            data = git_blob_rawcontent(blob);
            dlen = (size_t)git_blob_rawsize(blob);
            if ((err = afs_seg_index_parse(&ix, data, dlen, s.where)) != 0) {
                err = AUDITFS_EVERIFY;
                goto done;
            }
        }
        if (ix.first_seq != s.first) {
            err = afs_error_set(AUDITFS_EVERIFY, "%s: its index starts at entry %llu", s.where,
                                (unsigned long long)ix.first_seq);
            goto done;
        }
        VEC_PUSH(so->segs, so->nsegs, so->capsegs, s, done);
        for (uint32_t fi = 0; fi < ix.nframes; fi++) {
            const afs_seg_frame *f = &ix.frames[fi];
            afs_sha256_ctx fd;
            size_t off = 0;
            const uint8_t *leaf;
            size_t len;
            afs_buf *fb = &frame;
            if (it) {
                if (fi >= it->nframes) { /* the worker could not decode it */
                    err = afs_error_set(AUDITFS_EVERIFY, "%s", it->msg);
                    goto done;
                }
                fb = &it->frames[fi];
            } else if ((err = afs_seg_frame_decode(&frame, dctx, &ix, fi, data, dlen, s.where)) !=
                       0) {
                err = AUDITFS_EVERIFY;
                goto done;
            }
            afs_sha256_init(&fd);
            while (afs_seg_record_next(&leaf, &len, fb, &off)) {
                auditfs_entry e;
                auditfs_hash h;
                uint64_t seq = st->next;
                if (seq >= to) {
                    err = afs_error_set(AUDITFS_EVERIFY,
                                        "%s: holds entries beyond the checkpoint's %llu", s.where,
                                        (unsigned long long)to);
                    goto done;
                }
                auditfs_leaf_hash(&h, leaf, len);
                if ((err = auditfs_entry_parse(&e, leaf, len)) != 0) {
                    err = afs_error_wrap(AUDITFS_EVERIFY, "entry %llu", (unsigned long long)seq);
                    goto done;
                }
                if (e.seq != seq || !auditfs_hash_equal(&e.prev, &st->prev) ||
                    e.time_us < st->last_time) {
                    err = afs_error_set(AUDITFS_EVERIFY, "entry %llu (%s): %s",
                                        (unsigned long long)seq, s.where,
                                        e.seq != seq ? "wrong seq (entries reordered or removed)"
                                        : e.time_us < st->last_time
                                            ? "time goes backwards"
                                            : "prev does not match the entry before (chain "
                                              "broken)");
                    goto done;
                }
                afs_sha256_update(&fd, h.b, sizeof h.b);
                auditfs_merkle_stream_push(&st->ms, &h);
                st->prev = h;
                st->last_time = e.time_us;
                st->next++;
                afs_progress_tick("open", st->next, to);
                if (v) {
                    vrec r = {seq, e.time_us, (uint32_t)len, e.payload_len, &e};
                    if ((err = vw_apply(v, &r)) != 0)
                        goto done;
                }
            }
            vframe vf;
            memset(&vf, 0, sizeof vf);
            vf.seg = seg_base + (uint32_t)(so->nsegs - 1);
            vf.index = fi;
            vf.coff = f->coff;
            vf.csize = f->csize;
            vf.usize = f->usize;
            vf.count = f->count;
            vf.first_seq = f->first_seq;
            afs_sha256_final(&fd, vf.digest);
            VEC_PUSH(so->frames, so->nframes, so->capframes, vf, done);
        }
        afs_seg_index_release(&ix);
        git_blob_free(blob);
        blob = NULL;
        if (it) {
            afs_segfetch_done(sf);
            it = NULL;
        }
    }
    if (st->next != to)
        err = afs_error_set(AUDITFS_EVERIFY, "entries %llu..%llu: no segment holds them",
                            (unsigned long long)st->next, (unsigned long long)(to - 1));
done:
    afs_segfetch_free(sf); /* stops the worker first: it must not write items being freed */
    free(soids);
    free(spaths);
    afs_seg_index_release(&ix);
    git_blob_free(blob);
    git_tree_free(segt);
    git_tree_entry_free(te);
    afs_buf_release(&frame);
    ZSTD_freeDCtx(dctx);
    free(refs);
    return err;
}

/* ---- open ---- */

/*
 * The pinned checkpoint as ./checkpoint shows it: with the cosignature lines stored beside the
 * ledger (docs/FORMAT.md 12.2) when they belong to exactly this checkpoint and the note's log
 * signature still verifies; otherwise the plain checkpoint stays. Never fails.
 */
void
vw_show_cosignatures(auditfs_view *v, auditfs_ledger *l)
{
    char *n = NULL;
    size_t len = 0;
    auditfs_checkpoint c;
    if (auditfs_cosig_store_checkpoint(&n, &len, l, v->cp.size) == 0 &&
        auditfs_checkpoint_open(&c, n, len, v->key, v->cp.origin) == 0 && c.size == v->cp.size &&
        auditfs_hash_equal(&c.root, &v->cp.root)) {
        free(v->note);
        v->note = n;
        v->note_len = len;
    } else {
        free(n);
    }
    auditfs_error_clear();
}

static int
check_trusted(auditfs_view *v, const char *note, size_t len)
{
    auditfs_checkpoint t;
    int err = auditfs_checkpoint_open(&t, note, len, v->key, v->cp.origin);
    if (err) /* a malformed file is bad input, as in verify; anything else does not verify */
        return afs_error_wrap(err == AUDITFS_EFORMAT ? AUDITFS_EFORMAT : AUDITFS_EVERIFY,
                              "--trusted checkpoint");
    if (t.size > v->cp.size)
        return afs_error_set(AUDITFS_EVERIFY,
                             "rollback: the trusted checkpoint has %llu entries, the ledger only "
                             "%llu",
                             (unsigned long long)t.size, (unsigned long long)v->cp.size);
    if (t.size == v->cp.size) {
        if (!auditfs_hash_equal(&t.root, &v->cp.root))
            return afs_error_set(AUDITFS_EVERIFY, "the ledger's checkpoint and the trusted one "
                                                  "have the same size but different roots (a "
                                                  "forked history)");
        return 0;
    }
    int prefix = 0;
    if (auditfs_ledger_has_prefix(&prefix, v->l, &t) != 0 || !prefix)
        return afs_error_set(AUDITFS_EVERIFY,
                             "the ledger does not extend the trusted checkpoint of %llu entries "
                             "(history rewritten)",
                             (unsigned long long)t.size);
    return 0;
}

void
vw_scan_out_release(scan_out *so)
{
    free(so->segs);
    free(so->frames);
    memset(so, 0, sizeof *so);
}

static int view_trust(auditfs_view *v, auditfs_state *st);

int
auditfs_view_open(auditfs_view **out, const char *path, const auditfs_verifier *key,
                  const auditfs_view_options *opts)
{
    auditfs_view *v = NULL;
    char *kfmt = NULL;
    scan_out so;
    int err;
    memset(&so, 0, sizeof so);
    *out = NULL;
    if (!(v = calloc(1, sizeof *v)))
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    pthread_rwlock_init(&v->lock, NULL);
    pthread_mutex_init(&v->git_lock, NULL);
    pthread_mutex_init(&v->cache_lock, NULL);
    pthread_mutex_init(&v->query_lock, NULL);
    pthread_mutex_init(&v->query_compute, NULL);
    v->cache_cap = opts && opts->cache_bytes ? opts->cache_bytes : DEFAULT_CACHE;
    v->st.last_time = INT64_MIN;
    auditfs_merkle_stream_init(&v->st.ms);
    if (!(v->path = strdup(path)) || !(v->dctx = ZSTD_createDCtx())) {
        err = afs_error_set(AUDITFS_ENOMEM, "out of memory");
        goto fail;
    }
    if ((err = auditfs_verifier_format(&kfmt, key)) != 0 ||
        (err = auditfs_verifier_parse(&v->key, kfmt, strlen(kfmt))) != 0)
        goto fail;
    v->keypub_len = strlen(kfmt) + 1;
    if (!(v->keypub = malloc(v->keypub_len + 1))) {
        err = afs_error_set(AUDITFS_ENOMEM, "out of memory");
        goto fail;
    }
    snprintf(v->keypub, v->keypub_len + 1, "%s\n", kfmt);
    if ((err = auditfs_ledger_open(&v->l, path)) != 0 ||
        (err = auditfs_ledger_open(&v->probe, path)) != 0)
        goto fail;
    /* signature and the head tiles (used for proofs) against the signed root */
    if ((err = auditfs_ledger_check_head(&v->cp, v->l, v->key)) != 0)
        goto fail;
    if ((err = auditfs_ledger_checkpoint_note(&v->note, &v->note_len, v->l)) != 0)
        goto fail;
    vw_show_cosignatures(v, v->l);
    if (opts && opts->accept) {
        v->accept = opts->accept;
        v->accept_payload = opts->accept_payload;
        int ok = v->accept(v->accept_payload, &v->cp, v->l);
        if (ok <= 0) {
            err = ok < 0 ? ok
                         : afs_error_set(AUDITFS_EVERIFY,
                                         "%s: the checkpoint of size %llu is not accepted (its "
                                         "witness quorum is not met)",
                                         path, (unsigned long long)v->cp.size);
            goto fail;
        }
    }
    git_oid_cpy(&v->commit, &v->l->head_id);
    if (git_tree_lookup(&v->tree, v->l->repo, git_tree_id(v->l->tree)) < 0) {
        err = afs_error_git(AUDITFS_EIO, "%s: cannot read the head tree", path);
        goto fail;
    }
    if (opts && opts->trusted_note && (err = check_trusted(v, opts->trusted_note,
                                                           opts->trusted_len)) != 0)
        goto fail;
    if (opts && opts->state && (err = view_trust(v, opts->state)) != 0)
        goto fail;
    if ((err = vw_build_skeleton(v)) != 0)
        goto fail;
    const auditfs_progress *pprev = afs_progress_begin(opts ? &opts->progress : NULL);
    err = vw_scan(v, &v->st, &so, v->l->repo, v->tree, v->cp.size, 0);
    afs_progress_end(pprev);
    if (err) {
        err = afs_error_wrap(AUDITFS_EVERIFY, "%s", path);
        goto fail;
    }
    auditfs_hash root;
    auditfs_merkle_stream_root(&root, &v->st.ms);
    if (!auditfs_hash_equal(&root, &v->cp.root)) {
        err = afs_error_set(AUDITFS_EVERIFY,
                            "%s: the leaves do not hash to the signed checkpoint's root", path);
        goto fail;
    }
    v->segs = so.segs;
    v->nsegs = v->capsegs = so.nsegs;
    v->frames = so.frames;
    v->nframes = v->capframes = so.nframes;
    memset(&so, 0, sizeof so);
    if ((err = vw_make_readme(v)) != 0)
        goto fail;
    free(kfmt);
    *out = v;
    return 0;
fail:
    free(kfmt);
    vw_scan_out_release(&so);
    auditfs_view_free(v);
    return err;
}

void
auditfs_view_free(auditfs_view *v)
{
    if (!v)
        return;
    for (centry *c = v->lru_head, *n; c; c = n) {
        n = c->next;
        vw_centry_free(c);
    }
    for (size_t i = 0; i < v->nnodes; i++) {
        free(v->nodes[i].name);
        free(v->nodes[i].link);
        free(v->nodes[i].kids);
    }
    for (size_t i = 0; i < v->nlists; i++) {
        free(v->lists[i].seq);
        free(v->lists[i].end);
    }
    free(v->nodes);
    free(v->lists);
    free(v->contents);
    free(v->segs);
    free(v->frames);
    free(v->times);
    free(v->leaflen);
    free(v->changed);
    for (size_t i = 0; v->queries && i < QUERY_NAMES; i++) {
        free(v->queries[i].name);
        free(v->queries[i].data);
    }
    free(v->queries);
    free(v->note);
    free(v->keypub);
    afs_buf_release(&v->readme);
    for (unsigned i = 0; i < BLOB_CACHE; i++)
        git_blob_free(v->blobs[i].blob);
    vw_tiles_clear(v);
    git_tree_free(v->tree);
    auditfs_ledger_free(v->l);
    auditfs_ledger_free(v->probe);
    auditfs_verifier_free(v->key);
    ZSTD_freeDCtx(v->dctx);
    free(v->path);
    pthread_rwlock_destroy(&v->lock);
    pthread_mutex_destroy(&v->git_lock);
    pthread_mutex_destroy(&v->cache_lock);
    pthread_mutex_destroy(&v->query_lock);
    pthread_mutex_destroy(&v->query_compute);
    free(v);
}

void
auditfs_view_checkpoint(auditfs_checkpoint *out, auditfs_view *v)
{
    pthread_rwlock_rdlock(&v->lock);
    *out = v->cp;
    pthread_rwlock_unlock(&v->lock);
}

/* The verifier's memory at open (auditfs_view_options.state). */
static int
view_trust(auditfs_view *v, auditfs_state *st)
{
    char bound[AUDITFS_NAME_MAX + 1];
    auditfs_trust_result r;
    int err = auditfs_state_bound_origin(bound, st, v->path);
    if (err == 0 && strcmp(bound, v->cp.origin) != 0)
        return afs_error_set(AUDITFS_EVERIFY, "%s holds origin \"%s\" for this party, not \"%s\"",
                             v->path, bound, v->cp.origin);
    if (err && err != AUDITFS_ENOTFOUND)
        return err;
    auditfs_error_clear();
    v->state = st;
    return auditfs_trust_check(&r, st, v->l, v->note, v->note_len, 0);
}
