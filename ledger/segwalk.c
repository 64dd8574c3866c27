/*
 * ledger/segwalk.c - the one walk over a ledger's segments (segwalk.h).
 *
 * Three steps: list seg/ in order (subtrees wholly before the chain's next entry are skipped
 * without being read), have segfetch.c read and decode the listed segments ahead on a second
 * core (or read them in this thread when the worker cannot start), and check each segment and
 * each entry against the chain before the caller sees it. Nothing the worker produces is
 * trusted: every check runs here, in order, on the decoded bytes.
 */
#include "segwalk.h"
#include "segfetch.h"
#include "verify_rules.h"

#include <stdio.h>
#include <stdlib.h>

int afs_segwalk_no_readahead;

/* The segments to walk, in order, and the first malformed part of seg/ (reported after them). */
typedef struct seglist {
    git_oid *oids;
    char (*paths)[64];
    size_t n, cap;
    uint64_t skip; /* segments starting before this entry were verified before */
    int err;       /* 0, or the listing's error (message in msg) */
    char msg[512];
} seglist;

static int
seglist_add(seglist *sl, const git_oid *id, const char *path)
{
    if (sl->n == sl->cap) {
        size_t cap = sl->cap ? sl->cap * 2 : 256;
        git_oid *o = realloc(sl->oids, cap * sizeof *o);
        if (o)
            sl->oids = o;
        char(*pa)[64] = o ? realloc(sl->paths, cap * sizeof *pa) : NULL;
        if (!o || !pa)
            return afs_error_set(AUDITFS_ENOMEM, "out of memory");
        sl->paths = pa;
        sl->cap = cap;
    }
    git_oid_cpy(&sl->oids[sl->n], id);
    snprintf(sl->paths[sl->n], sizeof sl->paths[0], "%s", path);
    sl->n++;
    return 0;
}

/* 1 if the seg/ subtree named by acc (digits so far) at depth only holds segments that start
 * before sl->skip. */
static int
seg_subtree_skipped(const seglist *sl, uint64_t acc, int depth)
{
    uint64_t span = 1;
    for (int d = depth; d < 3; d++)
        span *= 1000;
    return (acc + 1) * span <= sl->skip;
}

/*
 * Lists the segments under tree id (seg/ at depth 0, named prefix) in order. A malformed name or
 * object stops the listing with AUDITFS_EVERIFY (the message is reported after the segments
 * before it); only running out of memory is returned as it is. Trees are read raw, outside
 * libgit2's object cache: at 10M entries the ~10,000 small seg/ trees it kept were 11 MiB.
 */
static int
seglist_collect(seglist *sl, git_repository *repo, const git_oid *id, const char *prefix,
                int depth, uint64_t acc)
{
    char *raw = NULL;
    size_t len = 0, n = 0;
    afs_tree_entry *e = NULL;
    int err = afs_tree_read_raw(&raw, &len, repo, id, prefix);
    if (err == 0)
        err = afs_tree_parse(&e, &n, raw, len, prefix);
    if (err) {
        if (err != AUDITFS_ENOMEM) {
            char why[512]; /* the message being replaced is not an argument of its own */
            snprintf(why, sizeof why, "%s", auditfs_error_last());
            afs_error_set(AUDITFS_EVERIFY, "%s: unreadable (%s)", prefix, why);
        }
        free(raw);
        return err == AUDITFS_ENOMEM ? err : AUDITFS_EVERIFY; /* reported after the segments
                                                                 before it */
    }
    for (size_t i = 0; i < n && !err; i++) {
        const char *name = e[i].name;
        char path[64];
        snprintf(path, sizeof path, "%s/%.*s", prefix, (int)e[i].len, name);
        if (e[i].len != 3) {
            afs_error_set(AUDITFS_EVERIFY, "%s: unexpected name in seg/", path);
            err = AUDITFS_EVERIFY; /* reported after the segments before it */
            break;
        }
        uint64_t here = acc * 1000;
        int digits = 1;
        for (int k = 0; k < 3; k++) {
            digits &= name[k] >= '0' && name[k] <= '9';
            here += digits ? (uint64_t)(name[k] - '0') * (k == 0 ? 100 : k == 1 ? 10 : 1) : 0;
        }
        if (digits && seg_subtree_skipped(sl, here, depth))
            continue;
        if (depth < 3) {
            if (!e[i].dir) {
                afs_error_set(AUDITFS_EVERIFY, "%s: unreadable", path);
                err = AUDITFS_EVERIFY; /* reported after the segments before it */
                break;
            }
            err = seglist_collect(sl, repo, &e[i].id, path, depth + 1, here);
        } else if (e[i].dir) {
            afs_error_set(AUDITFS_EVERIFY, "%s: unreadable segment (not a blob)", path);
            err = AUDITFS_EVERIFY; /* reported after the segments before it */
        } else {
            err = seglist_add(sl, &e[i].id, path);
        }
    }
    free(e);
    free(raw);
    return err;
}

/* The first seq a segment's path names (seg/DDD/DDD/DDD/DDD), or -1 if it names none. */
static int
seg_path_first(uint64_t *out, const char *path)
{
    const char *a = path + 4;
    char digits[13];
    size_t k = 0;
    for (; *a && k < 12; a++)
        if (*a != '/')
            digits[k++] = *a;
    digits[k] = 0;
    const char *d = digits;
    while (*d == '0' && d[1])
        d++;
    return k == 12 && !*a && afs_parse_u64(out, d, strlen(d)) ? 0 : -1;
}

static int
walk_fail(const afs_walk_ops *ops, uint64_t seq, int code)
{
    return ops->fail ? ops->fail(ops->payload, seq, code) : code;
}

/* The chain checks of one entry (seq is chain->next); on success the chain stands after it.
 * hash: the leaf hash of exactly these bytes (segfetch.c), or NULL to compute it here. */
static int
walk_entry(afs_chain *c, const afs_walk_seg *s, const uint8_t *leaf, size_t len,
           const uint8_t *hash, uint64_t to, const afs_walk_ops *ops)
{
    auditfs_entry e;
    afs_walk_leaf wl;
    uint64_t seq = c->next;
    if (seq >= to) {
        afs_error_set(AUDITFS_EVERIFY, "%s: holds entries beyond the checkpoint's %llu", s->path,
                      (unsigned long long)to);
        return walk_fail(ops, seq, AUDITFS_EVERIFY);
    }
    if (auditfs_entry_parse(&e, leaf, len) != 0)
        return walk_fail(ops, seq, AUDITFS_EVERIFY);
    if (e.seq != seq) {
        afs_error_set(AUDITFS_EVERIFY, "leaf says seq %llu (entries reordered or removed)",
                      (unsigned long long)e.seq);
        return walk_fail(ops, seq, AUDITFS_EVERIFY);
    }
    if (!auditfs_hash_equal(&e.prev, &c->prev)) {
        afs_error_set(AUDITFS_EVERIFY,
                      "prev does not match the leaf hash of entry %llu (chain "
                      "broken)",
                      (unsigned long long)(seq ? seq - 1 : 0));
        return walk_fail(ops, seq, AUDITFS_EVERIFY);
    }
    if (e.time_us < c->last_time) {
        afs_error_set(AUDITFS_EVERIFY, "time goes backwards");
        return walk_fail(ops, seq, AUDITFS_EVERIFY);
    }
    wl.seq = seq;
    wl.bytes = leaf;
    wl.len = len;
    wl.e = &e;
    wl.seg = s;
    if (hash)
        memcpy(wl.hash.b, hash, sizeof wl.hash.b);
    else
        auditfs_leaf_hash(&wl.hash, leaf, len);
    c->prev = wl.hash;
    c->last_time = e.time_us;
    c->next++;
    return ops->leaf ? ops->leaf(ops->payload, &wl) : 0;
}

/* One segment, read and decoded into it (by the worker or in this thread). */
static int
walk_segment(afs_chain *c, const char *path, const git_oid *id, const afs_segitem *it, uint64_t to,
             const afs_walk_ops *ops)
{
    afs_walk_seg s;
    uint64_t first;
    int err = 0;
    if (seg_path_first(&first, path) != 0 || first != c->next) {
        afs_error_set(AUDITFS_EVERIFY, "%s: expected the segment starting at entry %llu", path,
                      (unsigned long long)c->next);
        return walk_fail(ops, c->next, AUDITFS_EVERIFY);
    }
    if (it->status && it->kind == AFS_SEGFETCH_UNREADABLE) {
        afs_error_set(it->status, "%s", it->msg);
        return walk_fail(ops, c->next, AUDITFS_EVERIFY);
    }
    if (it->first_seq != first) {
        afs_error_set(AUDITFS_EVERIFY, "%s: index starts at %llu", path,
                      (unsigned long long)it->first_seq);
        return walk_fail(ops, c->next, AUDITFS_EVERIFY);
    }
    memset(&s, 0, sizeof s);
    s.path = path;
    s.id = id;
    s.first = first;
    s.ix = &it->ix;
    if (ops->segment && (err = ops->segment(ops->payload, &s)) != 0)
        return err;
    uint64_t k = 0; /* the entry's place in the segment */
    for (uint32_t f = 0; f < it->nframes && !err; f++) {
        size_t off = 0;
        const uint8_t *leaf;
        size_t ll;
        while (!err && afs_seg_record_next(&leaf, &ll, &it->frames[f], &off)) {
            s.leaf_bytes += ll;
            err = walk_entry(c, &s, leaf, ll, k < it->nhashed ? it->hashes[k] : NULL, to, ops);
            k++;
        }
        if (!err && ops->frame_end)
            err = ops->frame_end(ops->payload, &s, f);
    }
    if (!err && it->status) { /* a frame that did not decode, after the frames before it */
        afs_error_set(it->status, "%s", it->msg);
        err = walk_fail(ops, it->fail_seq, AUDITFS_EVERIFY);
    }
    s.end = c->next;
    if (!err && ops->segment_end)
        err = ops->segment_end(ops->payload, &s);
    return err;
}

/*
 * The listed segments in order: read ahead by a worker thread when it starts, else here. The
 * listing's own error comes after the segments listed before it, as a sequential walk meets it.
 */
static int
walk_listed(afs_chain *c, auditfs_ledger *l, seglist *sl, uint64_t to, const afs_walk_ops *ops)
{
    afs_segfetch *f = NULL;
    afs_segitem local;
    int err = 0;
    memset(&local, 0, sizeof local);
    if (sl->n && !afs_segwalk_no_readahead &&
        afs_segfetch_start(&f, l->path, sl->oids, sl->paths, sl->n) != 0) {
        auditfs_error_clear(); /* read them in this thread */
        f = NULL;
    }
    for (size_t k = 0; k < sl->n && c->next < to && !err; k++) {
        const afs_segitem *it = &local;
        if (f)
            it = afs_segfetch_next(f);
        else
            afs_segitem_read(&local, l, &sl->oids[k], sl->paths[k]);
        err = walk_segment(c, sl->paths[k], &sl->oids[k], it, to, ops);
        if (f)
            afs_segfetch_done(f);
    }
    afs_segfetch_free(f); /* stops the worker first: it must not write items being freed */
    afs_segitem_release(&local);
    if (!err && sl->err) {
        afs_error_set(sl->err, "%s", sl->msg);
        err = walk_fail(ops, c->next, sl->err);
    }
    if (!err && to != UINT64_MAX && c->next != to) {
        afs_error_set(AUDITFS_EVERIFY, "entries %llu..%llu: no segment holds them",
                      (unsigned long long)c->next, (unsigned long long)(to - 1));
        err = walk_fail(ops, c->next, AUDITFS_EVERIFY);
    }
    return err;
}

int
afs_segwalk(afs_chain *chain, auditfs_ledger *l, git_tree *root, uint64_t to,
            const afs_walk_ops *ops)
{
    git_tree_entry *te = NULL;
    seglist sl;
    int err = 0;
    memset(&sl, 0, sizeof sl);
    sl.skip = chain->next;
    if (chain->next == to)
        return 0;
    if (git_tree_entry_bypath(&te, root, "seg") == 0) {
        if (git_tree_entry_type(te) != GIT_OBJECT_TREE) {
            err = afs_error_set(AUDITFS_EVERIFY, "seg/: unreadable (not a directory)");
            goto cleanup;
        }
        sl.err = seglist_collect(&sl, l->repo, git_tree_entry_id(te), "seg", 0, 0);
        if (sl.err == AUDITFS_ENOMEM) {
            err = sl.err;
            goto cleanup;
        }
        if (sl.err)
            snprintf(sl.msg, sizeof sl.msg, "%s", auditfs_error_last());
        auditfs_error_clear();
    }
    err = walk_listed(chain, l, &sl, to, ops);
cleanup:
    git_tree_entry_free(te);
    free(sl.oids);
    free(sl.paths);
    return err;
}
