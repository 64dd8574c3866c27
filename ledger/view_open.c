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
#include "segwalk.h"

#include <stdio.h>

/* ---- the verification pass ---- */

/* A pass over new leaves: what the walk (segwalk.c) hands over goes into so and the tree. */
typedef struct pin_walk {
    auditfs_view *v; /* NULL: verify only (a --follow step before it publishes) */
    scan_state *st;
    scan_out *so;
    uint32_t seg_base; /* index in v->segs of the first segment found */
    uint64_t to;
    afs_sha256_ctx fd; /* the current frame's leaf hashes */
} pin_walk;

static int
pin_segment(void *payload, const afs_walk_seg *s)
{
    pin_walk *pw = payload;
    int err = 0;
    vseg vs;
    memset(&vs, 0, sizeof vs);
    vs.id = *s->id;
    vs.first = s->first;
    snprintf(vs.where, sizeof vs.where, "%s", s->path);
    VEC_PUSH(pw->so->segs, pw->so->nsegs, pw->so->capsegs, vs, done);
    afs_sha256_init(&pw->fd);
done:
    return err;
}

static int
pin_leaf(void *payload, const afs_walk_leaf *wl)
{
    pin_walk *pw = payload;
    afs_sha256_update(&pw->fd, wl->hash.b, sizeof wl->hash.b);
    auditfs_merkle_stream_push(&pw->st->ms, &wl->hash);
    afs_progress_tick("open", pw->st->chain.next, pw->to);
    if (!pw->v)
        return 0;
    vrec r = {wl->seq, wl->e->time_us, (uint32_t)wl->len, wl->e->payload_len, wl->e};
    return vw_apply(pw->v, &r);
}

/* A frame whose entries all verified: its place and the digest a later read must reproduce. */
static int
pin_frame(void *payload, const afs_walk_seg *s, uint32_t fi)
{
    pin_walk *pw = payload;
    const afs_seg_frame *f = &s->ix->frames[fi];
    int err = 0;
    vframe vf;
    memset(&vf, 0, sizeof vf);
    vf.seg = pw->seg_base + (uint32_t)(pw->so->nsegs - 1);
    vf.index = fi;
    vf.coff = f->coff;
    vf.csize = f->csize;
    vf.usize = f->usize;
    vf.count = f->count;
    vf.first_seq = f->first_seq;
    afs_sha256_final(&pw->fd, vf.digest);
    afs_sha256_init(&pw->fd);
    VEC_PUSH(pw->so->frames, pw->so->nframes, pw->so->capframes, vf, done);
done:
    return err;
}

static int
pin_fail(void *payload, uint64_t seq, int code)
{
    (void)payload;
    return afs_error_wrap(code, "entry %llu", (unsigned long long)seq);
}

/*
 * Verifies leaves [st->chain.next, to) of `tree` (segments must start at st->chain.next and be
 * contiguous) through the one segment walk, and records their segments and frames in so. Calls
 * vw_apply() for each entry when v is not NULL. On success st is advanced; the caller checks
 * the Merkle root.
 */
int
vw_scan(auditfs_view *v, scan_state *st, scan_out *so, auditfs_ledger *l, git_tree *tree,
        uint64_t to, uint32_t seg_base)
{
    pin_walk pw;
    memset(&pw, 0, sizeof pw);
    pw.v = v;
    pw.st = st;
    pw.so = so;
    pw.seg_base = seg_base;
    pw.to = to;
    afs_walk_ops ops = {pin_segment, pin_leaf, pin_frame, NULL, pin_fail, &pw};
    return afs_segwalk(&st->chain, l, tree, to, &ops);
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

/* A view of nothing yet: locks, cache bound, the key and key.pub's text (freed by view_free). */
static int
view_new(auditfs_view **out, const char *path, const auditfs_verifier *key,
         const auditfs_view_options *opts)
{
    auditfs_view *v = NULL;
    char *kfmt = NULL;
    int err;
    if (!(*out = v = calloc(1, sizeof *v)))
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    v->spill.fd = v->evspill.fd = -1;
    vspill_init(&v->perseq, 3);
    pthread_rwlock_init(&v->lock, NULL);
    pthread_mutex_init(&v->git_lock, NULL);
    pthread_mutex_init(&v->cache_lock, NULL);
    pthread_mutex_init(&v->query_lock, NULL);
    pthread_mutex_init(&v->query_compute, NULL);
    pthread_mutex_init(&v->evday_lock, NULL);
    v->cache_cap = opts && opts->cache_bytes ? opts->cache_bytes : DEFAULT_CACHE;
    v->st.chain = (afs_chain)AFS_CHAIN_INIT;
    auditfs_merkle_stream_init(&v->st.ms);
    if (!(v->path = strdup(path)) || vw_frames_init(v) != 0) {
        err = afs_error_set(AUDITFS_ENOMEM, "out of memory");
        goto done;
    }
    /* the per-entry arrays' private file: --cache-dir, else the verifier's state directory */
    const char *dir = opts && opts->cache_dir ? opts->cache_dir
                      : opts && opts->state   ? auditfs_state_path(opts->state)
                                              : NULL;
    if ((err = vspill_file_open(&v->spill, dir)) != 0 ||
        (err = vspill_file_open(&v->evspill, dir)) != 0)
        goto done;
    if ((err = auditfs_verifier_format(&kfmt, key)) != 0 ||
        (err = auditfs_verifier_parse(&v->key, kfmt, strlen(kfmt))) != 0)
        goto done;
    v->keypub_len = strlen(kfmt) + 1;
    if (!(v->keypub = malloc(v->keypub_len + 1))) {
        err = afs_error_set(AUDITFS_ENOMEM, "out of memory");
        goto done;
    }
    snprintf(v->keypub, v->keypub_len + 1, "%s\n", kfmt);
done:
    free(kfmt);
    return err;
}

/* The pin-time pass over every leaf; the segments and frames it verified become the view's. */
static int
view_pin(auditfs_view *v, const auditfs_view_options *opts)
{
    scan_out so;
    int err;
    memset(&so, 0, sizeof so);
    const auditfs_progress *pprev = afs_progress_begin(opts ? &opts->progress : NULL);
    err = vw_scan(v, &v->st, &so, v->l, v->tree, v->cp.size, 0);
    afs_progress_end(pprev);
    if (!err && (err = vw_spill_flush(v)) != 0)
        goto done;
    if (err) {
        err = afs_error_wrap(AUDITFS_EVERIFY, "%s", v->path);
        goto done;
    }
    auditfs_hash root;
    auditfs_merkle_stream_root(&root, &v->st.ms);
    if (!auditfs_hash_equal(&root, &v->cp.root)) {
        err = afs_error_set(AUDITFS_EVERIFY,
                            "%s: the leaves do not hash to the signed checkpoint's root", v->path);
        goto done;
    }
    v->segs = so.segs;
    v->nsegs = v->capsegs = so.nsegs;
    v->frames = so.frames;
    v->nframes = v->capframes = so.nframes;
    memset(&so, 0, sizeof so);
done:
    vw_scan_out_release(&so);
    return err;
}

int
auditfs_view_open(auditfs_view **out, const char *path, const auditfs_verifier *key,
                  const auditfs_view_options *opts)
{
    auditfs_view *v = NULL;
    int err;
    *out = NULL;
    if ((err = view_new(&v, path, key, opts)) != 0)
        goto fail;
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
    if ((err = vw_build_skeleton(v)) != 0 || (err = view_pin(v, opts)) != 0 ||
        (err = vw_make_readme(v)) != 0)
        goto fail;
    *out = v;
    return 0;
fail:
    auditfs_view_free(v);
    return err;
}

void
auditfs_view_free(auditfs_view *v)
{
    if (!v)
        return;
    vw_frames_free(v); /* first: stops the read-ahead workers */
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
        vspill_free(&v->lists[i].ix);
        free(v->lists[i].evs);
    }
    free(v->nodes);
    free(v->lists);
    free(v->contents);
    free(v->segs);
    free(v->frames);
    vspill_free(&v->perseq);
    vspill_file_close(&v->spill);
    vspill_file_close(&v->evspill);
    vw_evday_free(v);
    free(v->changed);
    for (size_t i = 0; v->queries && i < QUERY_NAMES; i++) {
        free(v->queries[i].name);
        free(v->queries[i].data);
    }
    free(v->queries);
    free(v->note);
    free(v->keypub);
    afs_buf_release(&v->readme);
    vw_tiles_clear(v);
    git_tree_free(v->tree);
    auditfs_ledger_free(v->l);
    auditfs_ledger_free(v->probe);
    auditfs_verifier_free(v->key);
    free(v->path);
    pthread_rwlock_destroy(&v->lock);
    pthread_mutex_destroy(&v->git_lock);
    pthread_mutex_destroy(&v->cache_lock);
    pthread_mutex_destroy(&v->query_lock);
    pthread_mutex_destroy(&v->query_compute);
    pthread_mutex_destroy(&v->evday_lock);
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
