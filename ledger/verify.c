/*
 * ledger/verify.c - full verification of a ledger from its git objects, with only a public key.
 *
 * One pass over history (commits, their checkpoints and trees), then one streaming pass over the
 * head's segments in order (segwalk.c, the walk the mount shares), so memory stays bounded by
 * O(commits + log n) whatever the ledger's size. Checked:
 *  - every commit: a single first-parent chain; its checkpoint is signed by the given key, with
 *    the ledger's origin; sizes never shrink; its tree keeps every blob of the previous tree
 *    (only the checkpoint and partial tiles may change), so history only appends;
 *  - every segment: canonical structure, no trailing data, contiguous seq ranges;
 *  - every entry: strict auditfs-entry/1 parse, seq, prev = leaf hash of the entry before,
 *    non-decreasing time, content blobs of documents and notices by length and SHA-256;
 *  - the Merkle root at every checkpoint's size, and the tiles (full and partial) of every
 *    commit against the recomputed hashes; no extra tiles, contents or top-level files;
 *  - one format in every commit; in format 2 no commit's tree holds a level-0 tile (tile/0),
 *    the level-0 hashes being those the entry pass computes from the leaves;
 *  - if given, that the trusted checkpoint is signed by the key and is a prefix of the ledger;
 *  - every commit's SSH signature (gpgsig) with the same key; unsigned commits only before the
 *    first signed one (ledgers written before commits were signed).
 *
 * auditfs_ledger_verify_from() runs the same passes over only what a commit already verified
 * (the base) lacks: the commits after it, the segments starting at or after its size, and the
 * tree changes since it, so its cost grows with what is new rather than with the ledger.
 */
#include "progress.h"
#include "segwalk.h"
#include "store.h"
#include "verify_rules.h"
#include "commitsig.h"

#include "auditfs/merkle.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct cp_rec {
    git_oid commit;
    uint64_t size;
    auditfs_hash root;
    int trusted; /* the --trusted checkpoint, not a commit */
} cp_rec;

typedef struct vstate {
    auditfs_verify_report *r;
    auditfs_ledger *l;
    const auditfs_verifier *key;
    cp_rec *cps;
    size_t ncps, next_cp;
    afs_tiles *tiles; /* the tree so far: the roots at checkpoints are computed from it */
    uint64_t tiles_expected;
    afs_chain chain; /* the next entry, and the hash and time of the one before it */
    uint64_t contents;
    afs_oidset trees; /* trees already checked to be canonical (verify_rules.c) */
    int format; /* 1 or 2: of every commit (the head's, checked against each commit's) */
    /* incremental mode: everything up to the base commit was verified before */
    int has_base;
    git_oid base_id;
    uint64_t base_size;
    auditfs_hash base_root;
} vstate;

static int
fail_commit(vstate *v, const git_oid *id, int code)
{
    git_oid_tostr(v->r->bad_commit, sizeof v->r->bad_commit, id);
    snprintf(v->r->reason, sizeof v->r->reason, "commit %s: %s", v->r->bad_commit,
             auditfs_error_last());
    return afs_error_set(code, "%s", v->r->reason);
}

static int
fail_entry(vstate *v, uint64_t seq, int code)
{
    v->r->bad_entry = seq;
    snprintf(v->r->reason, sizeof v->r->reason, "entry %llu: %s", (unsigned long long)seq,
             auditfs_error_last());
    return afs_error_set(code, "%s", v->r->reason);
}

static int
check_top_level(git_repository *repo, git_tree *tree, int format)
{
    static const char *const allowed[] = {"checkpoint", "doc", "format", "notice", "seg", "tile",
                                          NULL};
    for (size_t i = 0; i < git_tree_entrycount(tree); i++) {
        const char *name = git_tree_entry_name(git_tree_entry_byindex(tree, i));
        int ok = 0;
        for (int k = 0; allowed[k]; k++)
            ok |= strcmp(name, allowed[k]) == 0;
        if (!ok)
            return afs_error_set(AUDITFS_EVERIFY, "unexpected file '%s' in the ledger tree", name);
    }
    int got = 0;
    int err = afs_tree_format(&got, repo, tree);
    if (err)
        return err;
    if (got != format)
        return afs_error_set(AUDITFS_EVERIFY, "format is auditfs-ledger/%d but the head's is "
                                              "auditfs-ledger/%d",
                             got, format);
    return format == 2 ? afs_tree_no_tile0(tree) : 0;
}

/*
 * Incremental mode: the base commit's tree (for the first afs_tree_extends), its origin, whether it
 * is signed, and its checkpoint as the report's head until a newer commit replaces it. The base
 * was verified before, but its checkpoint is re-checked with the key: the caller names the base
 * by id, and an id is no proof of who signed it.
 */
static int
load_base(vstate *v, git_tree **tree, char origin[AUDITFS_NAME_MAX + 1], int *seen_signed)
{
    git_commit *c = NULL;
    char *note = NULL;
    size_t len = 0;
    auditfs_checkpoint ck;
    int err = 0, is_signed = 0;
    if (git_commit_lookup(&c, v->l->repo, &v->base_id) < 0 || git_commit_tree(tree, c) < 0) {
        afs_error_git(AUDITFS_EVERIFY, "the commit verified before is not in the repository");
        err = fail_commit(v, &v->base_id, AUDITFS_EVERIFY);
        goto cleanup;
    }
    if ((err = afs_tree_read((uint8_t **)&note, &len, v->l->repo, *tree, "checkpoint")) != 0 ||
        (err = auditfs_checkpoint_open(&ck, note, len, v->key, NULL)) != 0 ||
        (err = afs_commit_check_signature(&is_signed, v->l->repo, &v->base_id, v->key)) != 0) {
        err = fail_commit(v, &v->base_id, AUDITFS_EVERIFY);
        goto cleanup;
    }
    snprintf(origin, AUDITFS_NAME_MAX + 1, "%s", ck.origin);
    v->base_size = ck.size;
    v->base_root = ck.root;
    v->r->head = ck;
    v->r->base_size = ck.size;
    *seen_signed = is_signed;
cleanup:
    free(note);
    git_commit_free(c);
    return err;
}

/*
 * Pass 1: history, oldest first. Long because it is one pass: the walk back to the first commit
 * (or the base) and the checks forward share the commit list, the origin, whether a signed
 * commit was seen, and the previous tree each commit must extend.
 */
static int
verify_history(vstate *v)
{
    git_repository *repo = v->l->repo;
    git_oid *ids = NULL;
    size_t n = 0, cap = 0;
    git_commit *c = NULL;
    git_tree *prev_tree = NULL, *tree = NULL;
    char origin[AUDITFS_NAME_MAX + 1] = "";
    int err = 0, seen_signed = 0;
    git_oid cur = v->l->head_id;

    if (v->has_base && (err = load_base(v, &prev_tree, origin, &seen_signed)) != 0)
        goto cleanup;
    for (;;) {
        if (v->has_base && git_oid_equal(&cur, &v->base_id))
            break; /* everything older was verified when the base was */
        if (git_commit_lookup(&c, repo, &cur) < 0) {
            afs_error_git(AUDITFS_EVERIFY, "unreadable commit");
            err = fail_commit(v, &cur, AUDITFS_EVERIFY);
            goto cleanup;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            git_oid *p = realloc(ids, cap * sizeof *ids);
            if (!p) {
                err = afs_error_set(AUDITFS_ENOMEM, "out of memory");
                goto cleanup;
            }
            ids = p;
        }
        ids[n++] = cur;
        unsigned np = git_commit_parentcount(c);
        if (np > 1) {
            afs_error_set(AUDITFS_EVERIFY, "a merge commit: ledger history must be linear");
            err = fail_commit(v, &cur, AUDITFS_EVERIFY);
            goto cleanup;
        }
        if (np == 0) {
            if (v->has_base) {
                char hex[GIT_OID_HEXSZ + 1];
                git_oid_tostr(hex, sizeof hex, &v->base_id);
                afs_error_set(AUDITFS_EVERIFY,
                              "history does not contain commit %s (size %llu) verified before: "
                              "it was rewritten",
                              hex, (unsigned long long)v->base_size);
                err = fail_commit(v, &v->l->head_id, AUDITFS_EVERIFY);
                goto cleanup;
            }
            break;
        }
        git_oid_cpy(&cur, git_commit_parent_id(c, 0));
        git_commit_free(c);
        c = NULL;
    }
    git_commit_free(c);
    c = NULL;
    v->cps = calloc(n + 1, sizeof *v->cps);
    if (!v->cps) {
        err = afs_error_set(AUDITFS_ENOMEM, "out of memory");
        goto cleanup;
    }
    for (size_t k = n; k-- > 0;) {
        const git_oid *id = &ids[k];
        cp_rec *cp = &v->cps[v->ncps];
        auditfs_checkpoint ck;
        char *note = NULL;
        size_t note_len;
        if (git_commit_lookup(&c, repo, id) < 0 || git_commit_tree(&tree, c) < 0) {
            afs_error_git(AUDITFS_EVERIFY, "unreadable commit or tree");
            err = fail_commit(v, id, AUDITFS_EVERIFY);
            goto cleanup;
        }
        int is_signed = 0;
        if ((err = afs_commit_check_signature(&is_signed, repo, id, v->key)) != 0) {
            err = fail_commit(v, id, AUDITFS_EVERIFY);
            goto cleanup;
        }
        if (!is_signed && seen_signed) {
            afs_error_set(AUDITFS_EVERIFY, "no commit signature after signed commits");
            err = fail_commit(v, id, AUDITFS_EVERIFY);
            goto cleanup;
        }
        seen_signed |= is_signed;
        if (is_signed)
            v->r->signed_commits++;
        else
            v->r->unsigned_commits++;
        /* canonical first: libgit2's lookups assume sorted, unique names */
        if ((err = afs_tree_check_canonical(&v->trees, repo, git_tree_id(tree), "", 0)) != 0 ||
            (err = check_top_level(repo, tree, v->format)) != 0 ||
            (err = afs_tree_read((uint8_t **)&note, &note_len, repo, tree, "checkpoint")) != 0) {
            err = fail_commit(v, id, err == AUDITFS_ENOMEM ? err : AUDITFS_EVERIFY);
            goto cleanup;
        }
        err = auditfs_checkpoint_open(&ck, note, note_len, v->key, origin[0] ? origin : NULL);
        free(note);
        if (err) {
            err = fail_commit(v, id, AUDITFS_EVERIFY);
            goto cleanup;
        }
        if (!origin[0])
            snprintf(origin, sizeof origin, "%s", ck.origin);
        /* the first commit is the empty ledger: "format" and the size-0 checkpoint only (a
         * history squashed into its first commit does not verify) */
        if (!v->has_base && v->ncps == 0 &&
            (ck.size != 0 || git_tree_entrycount(tree) != 2)) {
            afs_error_set(AUDITFS_EVERIFY, "the first commit must hold only the empty ledger "
                                           "(size 0, files format and checkpoint); it has size "
                                           "%llu and %zu files",
                          (unsigned long long)ck.size, git_tree_entrycount(tree));
            err = fail_commit(v, id, AUDITFS_EVERIFY);
            goto cleanup;
        }
        if (v->ncps > 0 || prev_tree) {
            uint64_t psize = v->ncps > 0 ? v->cps[v->ncps - 1].size : v->base_size;
            if (ck.size < psize) {
                afs_error_set(AUDITFS_EVERIFY, "checkpoint size %llu is smaller than %llu before it",
                              (unsigned long long)ck.size, (unsigned long long)psize);
                err = fail_commit(v, id, AUDITFS_EVERIFY);
                goto cleanup;
            }
            /* one batch per commit: a commit that adds no entry is padding */
            if (ck.size == psize) {
                afs_error_set(AUDITFS_EVERIFY, "a commit that adds no entries (size stays %llu): "
                                               "each commit is one batch",
                              (unsigned long long)ck.size);
                err = fail_commit(v, id, AUDITFS_EVERIFY);
                goto cleanup;
            }
            if ((err = afs_tree_extends(repo, git_tree_id(prev_tree), git_tree_id(tree), "",
                                        0)) != 0) {
                err = fail_commit(v, id, AUDITFS_EVERIFY);
                goto cleanup;
            }
        }
        git_oid_cpy(&cp->commit, id);
        cp->size = ck.size;
        cp->root = ck.root;
        v->ncps++;
        if (k == 0)
            v->r->head = ck;
        git_tree_free(prev_tree);
        prev_tree = tree;
        tree = NULL;
        git_commit_free(c);
        c = NULL;
    }
    v->r->commits = n;
cleanup:
    git_commit_free(c);
    git_tree_free(tree);
    git_tree_free(prev_tree);
    free(ids);
    return err;
}

/* Full tiles must equal the head's blobs. */
static int
check_full_tile(unsigned level, uint64_t index, const uint8_t *hashes, void *payload)
{
    vstate *v = payload;
    char path[AUDITFS_TILE_PATH_MAX];
    uint8_t *data = NULL;
    size_t len = 0;
    if (level == 0 && v->format == 2)
        return 0; /* not stored: these are the hashes just computed (its parent is checked) */
    int err = auditfs_tile_path(path, level, index, 256);
    if (err)
        return err;
    if ((err = afs_tree_read(&data, &len, v->l->repo, v->l->tree, path)) != 0)
        return afs_error_set(AUDITFS_EVERIFY, "%s is missing", path);
    if (len != 256 * 32 || !afs_ct_equal(data, hashes, len))
        err = afs_error_set(AUDITFS_EVERIFY, "%s does not match the recomputed hashes", path);
    free(data);
    v->tiles_expected++;
    return err;
}

/* At a checkpoint's size: root, and that commit's partial tiles. */
static int
check_crossing(vstate *v, const cp_rec *cp)
{
    auditfs_hash root;
    afs_tiles_root(&root, v->tiles); /* a few hundred node hashes, once per commit */
    if (!auditfs_hash_equal(&root, &cp->root)) {
        if (cp->trusted) {
            snprintf(v->r->reason, sizeof v->r->reason,
                     "the trusted checkpoint (size %llu) is not a prefix of this ledger: the "
                     "history was rewritten or forked",
                     (unsigned long long)cp->size);
            return afs_error_set(AUDITFS_EVERIFY, "%s", v->r->reason);
        }
        afs_error_set(AUDITFS_EVERIFY, "checkpoint root for size %llu does not match the entries",
                      (unsigned long long)cp->size);
        return fail_commit(v, &cp->commit, AUDITFS_EVERIFY);
    }
    if (cp->trusted) {
        v->r->trusted_checked = 1;
        return 0;
    }
    git_commit *c = NULL;
    git_tree *tree = NULL;
    afs_tiles *t = malloc(sizeof *t);
    int err = 0;
    if (!t)
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    if (git_commit_lookup(&c, v->l->repo, &cp->commit) < 0 || git_commit_tree(&tree, c) < 0) {
        err = afs_error_git(AUDITFS_EVERIFY, "unreadable commit");
    } else if ((err = afs_tiles_load_stored(t, v->l->repo, tree, cp->size, v->format)) == 0) {
        /* format 2: level 0 is not stored, and the root above was computed from the leaves */
        for (unsigned lv = v->format == 2 ? 1 : 0; lv < AFS_TILE_LEVELS && !err; lv++) {
            unsigned w = afs_tiles_width(t, lv);
            if (w && !afs_ct_equal(t->h[lv], v->tiles->h[lv], (size_t)w * 32))
                err = afs_error_set(AUDITFS_EVERIFY, "partial tile at level %u does not match",
                                    lv);
        }
    }
    if (err)
        err = fail_commit(v, &cp->commit, AUDITFS_EVERIFY);
    git_tree_free(tree);
    git_commit_free(c);
    free(t);
    return err;
}

static int
cross_checkpoints(vstate *v)
{
    while (v->next_cp < v->ncps && v->cps[v->next_cp].size == v->tiles->size) {
        int err = check_crossing(v, &v->cps[v->next_cp]);
        if (err)
            return err;
        v->next_cp++;
    }
    return 0;
}

/*
 * An entry the walk (segwalk.c) checked for parse, seq, prev chain and time order: its content,
 * the tiles and the Merkle root at every checkpoint it completes.
 */
static int
verify_leaf(void *payload, const afs_walk_leaf *wl)
{
    vstate *v = payload;
    const auditfs_entry *e = wl->e;
    uint64_t seq = wl->seq;
    int err;
    if (e->has_content) {
        uint8_t *data = NULL;
        size_t dlen;
        if ((err = auditfs_ledger_content(&data, &dlen, v->l, e)) != 0)
            return fail_entry(v, seq, AUDITFS_EVERIFY);
        free(data);
        v->contents++;
        if (auditfs_entry_type_of(e) == AUDITFS_TYPE_DOCUMENT)
            v->r->documents++;
        else
            v->r->notices++;
    }
    if ((err = afs_tiles_push(v->tiles, &wl->hash, check_full_tile, v)) != 0)
        return fail_entry(v, seq, AUDITFS_EVERIFY);
    v->r->leaf_bytes += wl->len;
    afs_progress_tick("verify", v->chain.next, v->r->head.size);
    return cross_checkpoints(v);
}

/*
 * One batch per commit, seen in the segments: a writer starts a segment at each batch and cuts
 * one inside a batch only after AFS_SEG_MAX_LEAF leaf bytes. So no segment [first, end) may
 * span a commit's size, and one that ends where no commit does must be full. Two batches
 * squashed into one commit leave a short segment inside it.
 */
static int
check_batches(vstate *v, uint64_t first, uint64_t end, uint64_t leaf_bytes, const char *path)
{
    int ends_at_commit = 0;
    /* cps is sorted by size: start at the first checkpoint above `first` (O(log n) per segment) */
    size_t lo = 0, hi = v->ncps;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v->cps[mid].size <= first)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < v->ncps && v->cps[i].size <= end; i++) {
        if (v->cps[i].trusted)
            continue;
        if (v->cps[i].size < end) {
            afs_error_set(AUDITFS_EVERIFY, "%s spans the commit of size %llu (each commit is one "
                                           "batch with its own segments)",
                          path, (unsigned long long)v->cps[i].size);
            return fail_commit(v, &v->cps[i].commit, AUDITFS_EVERIFY);
        }
        ends_at_commit |= v->cps[i].size == end;
    }
    if (!ends_at_commit && leaf_bytes < AFS_SEG_MAX_LEAF) {
        for (size_t i = lo; i < v->ncps; i++)
            if (!v->cps[i].trusted && v->cps[i].size > end) {
                afs_error_set(AUDITFS_EVERIFY,
                              "%s ends inside a commit with only %llu leaf bytes: two batches "
                              "squashed into one commit",
                              path, (unsigned long long)leaf_bytes);
                return fail_commit(v, &v->cps[i].commit, AUDITFS_EVERIFY);
            }
    }
    return 0;
}

/* A segment whose path and index agree with the chain (counted even if an entry fails). */
static int
verify_seg_begin(void *payload, const afs_walk_seg *s)
{
    vstate *v = payload;
    (void)s;
    v->r->segments++;
    return 0;
}

static int
verify_seg_end(void *payload, const afs_walk_seg *s)
{
    return check_batches(payload, s->first, s->end, s->leaf_bytes, s->path);
}

static int
verify_walk_fail(void *payload, uint64_t seq, int code)
{
    return fail_entry(payload, seq, code);
}

static int
count_blobs(uint64_t *out, git_repository *repo, git_tree *root, const char *path)
{
    git_tree_entry *te = NULL;
    git_tree *t = NULL;
    if (git_tree_entry_bypath(&te, root, path) < 0)
        return 0;
    if (git_tree_entry_type(te) != GIT_OBJECT_TREE) {
        git_tree_entry_free(te);
        return afs_error_set(AUDITFS_EVERIFY, "%s is not a directory", path);
    }
    if (git_tree_lookup(&t, repo, git_tree_entry_id(te)) < 0) {
        git_tree_entry_free(te);
        return afs_error_git(AUDITFS_EVERIFY, "%s: unreadable", path);
    }
    int err = 0;
    for (size_t i = 0; i < git_tree_entrycount(t) && !err; i++) {
        const git_tree_entry *c = git_tree_entry_byindex(t, i);
        char sub[600];
        snprintf(sub, sizeof sub, "%s/%s", path, git_tree_entry_name(c));
        if (git_tree_entry_type(c) == GIT_OBJECT_BLOB)
            (*out)++;
        else
            err = count_blobs(out, repo, root, sub);
    }
    git_tree_free(t);
    git_tree_entry_free(te);
    return err;
}

/* ---- incremental mode ---- */

/*
 * Starts the entry pass at the base's size: its partial tiles (which must hash to its signed
 * root), from which the roots at later checkpoints are computed, and the hash and time of its
 * last entry.
 */
static int
seed_from_base(vstate *v)
{
    git_commit *c = NULL;
    git_tree *bt = NULL;
    afs_buf leaf = AFS_BUF_INIT;
    uint8_t *tile = NULL;
    size_t tlen = 0;
    uint64_t s = v->base_size;
    auditfs_hash root, h, expect;
    auditfs_entry e;
    int err = 0;
    if (git_commit_lookup(&c, v->l->repo, &v->base_id) < 0 || git_commit_tree(&bt, c) < 0) {
        err = afs_error_git(AUDITFS_EVERIFY, "unreadable commit");
        goto fail;
    }
    if ((err = afs_tiles_load(v->tiles, v->l->repo, bt, s)) != 0)
        goto fail;
    afs_tiles_root(&root, v->tiles);
    if (!auditfs_hash_equal(&root, &v->base_root)) {
        err = afs_error_set(AUDITFS_EVERIFY, "its partial tiles do not hash to its checkpoint");
        goto fail;
    }
    v->chain.next = s;
    if (s == 0)
        goto cleanup;
    /* the chain goes on from the base's last entry, which must be the one its tiles hold */
    if (s & 255) {
        memcpy(expect.b, v->tiles->h[0][(s - 1) & 255], 32);
    } else {
        char path[AUDITFS_TILE_PATH_MAX];
        if ((err = auditfs_tile_path(path, 0, (s - 1) >> 8, 256)) != 0)
            goto fail;
        /* format 2: the tile rebuilt from the base's segments, verified with the base */
        if ((err = afs_tile_read(&tile, &tlen, v->l->repo, bt, v->format, v->l->dctx, 0,
                                 (s - 1) >> 8, 256)) != 0 ||
            tlen != 256 * 32) {
            err = afs_error_set(AUDITFS_EVERIFY, "%s is missing or truncated", path);
            goto fail;
        }
        memcpy(expect.b, tile + 255 * 32, 32);
    }
    if ((err = afs_read_leaf_raw(&leaf, v->l, s - 1)) != 0 ||
        (err = auditfs_entry_parse(&e, (const uint8_t *)leaf.data, leaf.len)) != 0)
        goto fail;
    auditfs_leaf_hash(&h, (const uint8_t *)leaf.data, leaf.len);
    if (!auditfs_hash_equal(&h, &expect)) {
        err = afs_error_set(AUDITFS_EVERIFY, "entry %llu does not match its tiles",
                            (unsigned long long)(s - 1));
        goto fail;
    }
    v->chain.prev = h;
    v->chain.last_time = e.time_us;
    goto cleanup;
fail:
    err = fail_commit(v, &v->base_id, err == AUDITFS_ENOMEM ? err : AUDITFS_EVERIFY);
cleanup:
    afs_buf_release(&leaf);
    free(tile);
    git_tree_free(bt);
    git_commit_free(c);
    return err;
}

/* What changed between two trees, in blobs, by top-level directory. */
enum { DELTA_SEG, DELTA_TILE, DELTA_CONTENT, DELTA_OTHER, DELTA_N };
typedef struct tree_delta {
    uint64_t added[DELTA_N], removed[DELTA_N];
} tree_delta;

static int
delta_class(const char *top)
{
    if (strcmp(top, "seg") == 0)
        return DELTA_SEG;
    if (strcmp(top, "tile") == 0)
        return DELTA_TILE;
    if (strcmp(top, "doc") == 0 || strcmp(top, "notice") == 0)
        return DELTA_CONTENT;
    return DELTA_OTHER;
}

static int
count_subtree(uint64_t *out, git_repository *repo, const git_tree_entry *te, int depth)
{
    git_tree *t = NULL;
    int err = 0;
    if (git_tree_entry_type(te) != GIT_OBJECT_TREE) {
        (*out)++;
        return 0;
    }
    if (depth > 64)
        return afs_error_set(AUDITFS_EVERIFY, "trees nested deeper than 64 levels");
    if (git_tree_lookup(&t, repo, git_tree_entry_id(te)) < 0)
        return afs_error_git(AUDITFS_EVERIFY, "%s: unreadable tree", git_tree_entry_name(te));
    for (size_t i = 0; i < git_tree_entrycount(t) && !err; i++)
        err = count_subtree(out, repo, git_tree_entry_byindex(t, i), depth + 1);
    git_tree_free(t);
    return err;
}

/*
 * Adds to d the blobs that new has and old lacks (or has with another id) and the reverse.
 * Subtrees with the same id are skipped, so the cost is the size of what changed, not of the
 * ledger: unchanged segments, tiles and contents are never read.
 */
static int
tree_delta_walk(tree_delta *d, git_repository *repo, const git_tree *old, const git_tree *new,
                int cls, int depth)
{
    int err = 0;
    if (depth > 64)
        return afs_error_set(AUDITFS_EVERIFY, "trees nested deeper than 64 levels");
    for (size_t i = 0; i < git_tree_entrycount(new) && !err; i++) {
        const git_tree_entry *ne = git_tree_entry_byindex(new, i);
        const char *name = git_tree_entry_name(ne);
        int c = depth == 0 ? delta_class(name) : cls;
        const git_tree_entry *oe = git_tree_entry_byname(old, name);
        if (oe && git_oid_equal(git_tree_entry_id(oe), git_tree_entry_id(ne)))
            continue;
        if (oe && git_tree_entry_type(oe) == GIT_OBJECT_TREE &&
            git_tree_entry_type(ne) == GIT_OBJECT_TREE) {
            git_tree *ot = NULL, *nt = NULL;
            if (git_tree_lookup(&ot, repo, git_tree_entry_id(oe)) < 0 ||
                git_tree_lookup(&nt, repo, git_tree_entry_id(ne)) < 0) {
                git_tree_free(ot);
                return afs_error_git(AUDITFS_EVERIFY, "%s: unreadable tree", name);
            }
            err = tree_delta_walk(d, repo, ot, nt, c, depth + 1);
            git_tree_free(ot);
            git_tree_free(nt);
            continue;
        }
        if ((err = count_subtree(&d->added[c], repo, ne, depth + 1)) == 0 && oe)
            err = count_subtree(&d->removed[c], repo, oe, depth + 1);
    }
    for (size_t i = 0; i < git_tree_entrycount(old) && !err; i++) {
        const git_tree_entry *oe = git_tree_entry_byindex(old, i);
        const char *name = git_tree_entry_name(oe);
        if (!git_tree_entry_byname(new, name))
            err = count_subtree(&d->removed[depth == 0 ? delta_class(name) : cls], repo, oe,
                                depth + 1);
    }
    return err;
}

/* Number of tile files a tree of size s holds: every full tile and one partial per level
 * (format 2: from level 1 up). */
static uint64_t
tiles_for_size(uint64_t s, int format)
{
    afs_tiles t;
    uint64_t n = 0;
    t.size = s;
    for (unsigned lv = format == 2 ? 1 : 0; lv < AFS_TILE_LEVELS; lv++) {
        if (8 * (lv + 1) < 64)
            n += s >> (8 * (lv + 1));
        n += afs_tiles_width(&t, lv) ? 1 : 0;
    }
    return n;
}

/*
 * The "nothing extra" rule without counting the whole tree: the base held exactly what its
 * size requires (it was verified), so the head does too iff the change since the base adds
 * exactly the segments and contents just verified, removes none, and changes the tile count
 * by what the sizes require (every required tile was checked to exist by the entry pass).
 */
static int
check_delta_since_base(vstate *v)
{
    git_commit *c = NULL;
    git_tree *bt = NULL;
    tree_delta d;
    int err = 0;
    memset(&d, 0, sizeof d);
    if (git_commit_lookup(&c, v->l->repo, &v->base_id) < 0 || git_commit_tree(&bt, c) < 0) {
        err = afs_error_git(AUDITFS_EVERIFY, "unreadable commit");
        goto cleanup;
    }
    if ((err = tree_delta_walk(&d, v->l->repo, bt, v->l->tree, DELTA_OTHER, 0)) != 0)
        goto cleanup;
    if (d.removed[DELTA_SEG] || d.added[DELTA_SEG] != v->r->segments)
        err = afs_error_set(AUDITFS_EVERIFY,
                            "seg/ gained %llu and lost %llu files; %llu new segments expected",
                            (unsigned long long)d.added[DELTA_SEG],
                            (unsigned long long)d.removed[DELTA_SEG],
                            (unsigned long long)v->r->segments);
    else if (d.removed[DELTA_CONTENT] || d.added[DELTA_CONTENT] != v->contents)
        err = afs_error_set(AUDITFS_EVERIFY,
                            "doc/ and notice/ gained %llu and lost %llu files but %llu new "
                            "entries reference content",
                            (unsigned long long)d.added[DELTA_CONTENT],
                            (unsigned long long)d.removed[DELTA_CONTENT],
                            (unsigned long long)v->contents);
    else if (tiles_for_size(v->base_size, v->format) + d.added[DELTA_TILE] <
                 d.removed[DELTA_TILE] ||
             tiles_for_size(v->base_size, v->format) + d.added[DELTA_TILE] -
                     d.removed[DELTA_TILE] !=
                 tiles_for_size(v->r->head.size, v->format))
        err = afs_error_set(AUDITFS_EVERIFY, "tile/ holds other files than size %llu requires",
                            (unsigned long long)v->r->head.size);
cleanup:
    git_tree_free(bt);
    git_commit_free(c);
    return err;
}

static int verify_common(auditfs_verify_report *report, auditfs_ledger *l,
                         const auditfs_verifier *key, const char *trusted_note,
                         size_t trusted_len, const git_oid *base);

int
auditfs_ledger_verify(auditfs_verify_report *report, auditfs_ledger *l,
                      const auditfs_verifier *key, const char *trusted_note, size_t trusted_len)
{
    auditfs_verify_options o = {{NULL, NULL}, trusted_note, trusted_len};
    return auditfs_ledger_verify_opts(report, l, key, &o);
}

int
auditfs_ledger_verify_opts(auditfs_verify_report *report, auditfs_ledger *l,
                           const auditfs_verifier *key, const auditfs_verify_options *opts)
{
    const auditfs_progress *prev = afs_progress_begin(opts ? &opts->progress : NULL);
    int err = verify_common(report, l, key, opts ? opts->trusted_note : NULL,
                            opts ? opts->trusted_len : 0, NULL);
    afs_progress_end(prev);
    return err;
}

int
auditfs_ledger_verify_from(auditfs_verify_report *report, auditfs_ledger *l,
                           const auditfs_verifier *key, const char *base_commit)
{
    git_oid base;
    if (!base_commit)
        return verify_common(report, l, key, NULL, 0, NULL);
    if (strlen(base_commit) != GIT_OID_HEXSZ || git_oid_fromstr(&base, base_commit) < 0) {
        memset(report, 0, sizeof *report);
        return afs_error_set(AUDITFS_EINVAL, "'%s' is not a 40-digit commit id", base_commit);
    }
    return verify_common(report, l, key, NULL, 0, &base);
}

/*
 * Both modes. Full: history from the first commit, then every segment. Incremental (base not
 * NULL): the commits after base, the segments from base's size on, and the tree delta since
 * base instead of the whole-tree counts; everything else is the same code. Long because it is the
 * order of the passes, each a call; what lies between them is the report's bookkeeping.
 */
static int
verify_common(auditfs_verify_report *report, auditfs_ledger *l, const auditfs_verifier *key,
              const char *trusted_note, size_t trusted_len, const git_oid *base)
{
    vstate v;
    int err;
    memset(report, 0, sizeof *report);
    report->bad_entry = UINT64_MAX;
    memset(&v, 0, sizeof v);
    v.chain = (afs_chain)AFS_CHAIN_INIT;
    v.r = report;
    v.l = l;
    v.key = key;
    v.format = l->format; /* the head's; every commit's format file must say the same */
    if (base) {
        v.has_base = 1;
        git_oid_cpy(&v.base_id, base);
    }
    v.tiles = malloc(sizeof *v.tiles);
    if (!v.tiles)
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    afs_tiles_init(v.tiles);

    if ((err = verify_history(&v)) != 0)
        goto cleanup;
    if (v.has_base && (err = seed_from_base(&v)) != 0)
        goto cleanup;
    if (trusted_note) {
        auditfs_checkpoint t;
        if ((err = auditfs_checkpoint_open(&t, trusted_note, trusted_len, key,
                                           report->head.origin)) != 0) {
            snprintf(report->reason, sizeof report->reason, "trusted checkpoint: %s",
                     auditfs_error_last());
            goto cleanup;
        }
        if (t.size > report->head.size) {
            snprintf(report->reason, sizeof report->reason,
                     "the trusted checkpoint has size %llu but the ledger only %llu: entries were "
                     "removed (rollback)",
                     (unsigned long long)t.size, (unsigned long long)report->head.size);
            err = afs_error_set(AUDITFS_EVERIFY, "%s", report->reason);
            goto cleanup;
        }
        /* insert it among the commit checkpoints, before any of the same size */
        size_t pos = 0;
        while (pos < v.ncps && v.cps[pos].size < t.size)
            pos++;
        memmove(&v.cps[pos + 1], &v.cps[pos], (v.ncps - pos) * sizeof *v.cps);
        memset(&v.cps[pos], 0, sizeof v.cps[pos]);
        v.cps[pos].size = t.size;
        v.cps[pos].root = t.root;
        v.cps[pos].trusted = 1;
        v.ncps++;
    }
    if ((err = cross_checkpoints(&v)) != 0)
        goto cleanup;
    afs_walk_ops ops = {verify_seg_begin, verify_leaf, NULL, verify_seg_end, verify_walk_fail, &v};
    if ((err = afs_segwalk(&v.chain, l, l->tree, UINT64_MAX, &ops)) != 0)
        goto cleanup;
    if (v.chain.next != report->head.size) {
        afs_error_set(AUDITFS_EVERIFY, "the segments hold %llu entries but the checkpoint says %llu",
                      (unsigned long long)v.chain.next, (unsigned long long)report->head.size);
        err = fail_entry(&v, v.chain.next, AUDITFS_EVERIFY);
        goto cleanup;
    }
    if (v.next_cp != v.ncps) {
        err = afs_error_set(AUDITFS_EVERIFY, "a checkpoint's size was never reached");
        snprintf(report->reason, sizeof report->reason, "%s", auditfs_error_last());
        goto cleanup;
    }
    if (v.has_base) {
        if ((err = check_delta_since_base(&v)) != 0)
            goto fail_head;
        goto cleanup;
    }
    /* nothing extra: tiles = full tiles seen + head partials; contents = entries with content */
    uint64_t ntiles = 0, ncontent = 0;
    for (unsigned lv = v.format == 2 ? 1 : 0; lv < AFS_TILE_LEVELS; lv++)
        if (afs_tiles_width(v.tiles, lv))
            v.tiles_expected++;
    if ((err = count_blobs(&ntiles, l->repo, l->tree, "tile")) != 0 ||
        (err = count_blobs(&ncontent, l->repo, l->tree, "doc")) != 0 ||
        (err = count_blobs(&ncontent, l->repo, l->tree, "notice")) != 0)
        goto fail_head;
    if (ntiles != v.tiles_expected) {
        err = afs_error_set(AUDITFS_EVERIFY, "tile/ holds %llu files, expected %llu",
                            (unsigned long long)ntiles, (unsigned long long)v.tiles_expected);
        goto fail_head;
    }
    if (ncontent != v.contents) {
        err = afs_error_set(AUDITFS_EVERIFY,
                            "doc/ and notice/ hold %llu files but %llu entries reference content",
                            (unsigned long long)ncontent, (unsigned long long)v.contents);
        goto fail_head;
    }
    report->entries = v.chain.next;
    goto cleanup;
fail_head:
    err = fail_commit(&v, &l->head_id, AUDITFS_EVERIFY);
cleanup:
    if (err && !report->reason[0])
        snprintf(report->reason, sizeof report->reason, "%s", auditfs_error_last());
    if (!err)
        report->entries = v.chain.next;
    free(v.cps);
    free(v.tiles);
    afs_oidset_release(&v.trees);
    return err;
}
