/*
 * ledger/hitread.c - single entries read for a query's hits (issue 13: a selective query at 10M
 * entries read, inflated and SHA-1-hashed a whole segment object and decoded a whole frame for
 * each of its ~230 hits).
 *
 * A hit is read as: the segment's index frame and then only the zstd frame holding the entry,
 * both straight from the pack (odb.h afs_odb_read_span: the pack and odb write segments as
 * stored-deflate blobs, so their bytes lie in the pack as they are), then decoded with the same
 * checked frame parser as every reader (afs_seg_frame_load on a one-frame view: the index's
 * bytes followed by the frame). Other objects (loose, deltified by git gc, a writer's pending
 * pack) are read whole through the checked readers, as the cursor does.
 *
 * What is trusted: nothing read here. The object's SHA-1 is not checked for the span reads;
 * instead the one leaf handed out is checked against the head's level-0 tile, itself checked up
 * to the signed root (store.c), the same check the cursor makes for every leaf. So a segment
 * altered in the pack, outside the bytes of the served entry, is not noticed by a query (it is
 * by verify, and by any reader of those entries); one altered in them fails with its name.
 * The last segment's index and decoded frame are kept, so hits that share a frame (or a
 * segment) decode it (or read its index) once.
 */
#include "hitread.h"
#include "odb.h"
#include "segment.h"

#include <stdio.h>
#include <stdlib.h>

struct afs_hitread {
    auditfs_ledger *l;
    int have_seg;
    git_oid id;
    char where[96]; /* seg/... path and the blob's id, for messages */
    afs_seg_index ix;
    int span;        /* 1: frames are read by span from the pack; 0: the whole blob is held */
    afs_buf head;    /* span: the index frame (head_len bytes), then the frame being decoded */
    size_t head_len;
    uint64_t blob_len;
    void *own;       /* whole: read through the checked readers, or */
    git_blob *blob;  /* through libgit2 (which checks it itself) */
    const uint8_t *data;
    size_t len;
    int have_frame;
    uint32_t fi;
    int version;
    afs_buf frame;   /* frame fi as stored (afs_seg_frame_load) */
    afs_buf leaf;
};

int
afs_hitread_new(afs_hitread **out, auditfs_ledger *l)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    (*out)->l = l;
    return 0;
}

static void
seg_drop(afs_hitread *h)
{
    afs_seg_index_release(&h->ix);
    memset(&h->ix, 0, sizeof h->ix);
    free(h->own);
    h->own = NULL;
    git_blob_free(h->blob);
    h->blob = NULL;
    h->data = NULL;
    h->have_seg = 0;
    h->have_frame = 0;
}

void
afs_hitread_free(afs_hitread *h)
{
    if (!h)
        return;
    seg_drop(h);
    afs_buf_release(&h->head);
    afs_buf_release(&h->frame);
    afs_buf_release(&h->leaf);
    free(h);
}

/* A segment whose bytes do not parse is a verification failure of the ledger (exit 1), not bad
 * input: the parser's EFORMAT becomes EVERIFY, with its message (which names the segment). */
static int
as_verify(int err)
{
    char why[512];
    if (err != AUDITFS_EFORMAT)
        return err;
    snprintf(why, sizeof why, "%s", auditfs_error_last());
    return afs_error_set(AUDITFS_EVERIFY, "%s", why);
}

/* The index frame of blob id through span reads: 0, GIT_ENOTFOUND (not in that form: read it
 * whole), or an error (set). */
static int
span_index(afs_hitread *h, const git_oid *id)
{
    uint8_t h8[8];
    uint64_t size;
    int rc = afs_odb_read_span(h->l->repo, id, 0, h8, sizeof h8, &size);
    if (rc == GIT_ENOTFOUND)
        return rc;
    if (rc < 0)
        return afs_error_git(AUDITFS_EVERIFY, "%s: cannot read the segment", h->where);
    uint32_t isize = afs_load_le32(h8 + 4);
    /* an index of at most AFS_SEG_MAX_FRAMES entries (20 + 12 n bytes) within the blob; else
     * the whole read reports what is wrong */
    if (afs_load_le32(h8) != AFS_SEG_SKIPPABLE || isize > size - 8 ||
        isize > 20 + 12 * (uint64_t)AFS_SEG_MAX_FRAMES)
        return GIT_ENOTFOUND;
    h->head.len = 0;
    if ((rc = afs_buf_grow(&h->head, 8 + (size_t)isize)) != 0)
        return rc;
    rc = afs_odb_read_span(h->l->repo, id, 0, h->head.data, 8 + (size_t)isize, &size);
    if (rc == GIT_ENOTFOUND)
        return rc;
    if (rc < 0)
        return afs_error_git(AUDITFS_EVERIFY, "%s: cannot read the segment", h->where);
    h->head_len = 8 + (size_t)isize;
    h->blob_len = size;
    return as_verify(afs_seg_index_parse_head(&h->ix, (const uint8_t *)h->head.data,
                                              h->head_len, (size_t)size, h->where));
}

/* The blob whole, through the checked readers (or libgit2's), and its index. */
static int
whole_index(afs_hitread *h, const git_oid *id)
{
    git_object_t type;
    int rc = afs_odb_read_checked(&h->own, &h->len, &type, h->l->repo, id);
    if (rc == 0 && type != GIT_OBJECT_BLOB)
        return afs_error_set(AUDITFS_EVERIFY, "%s: not a blob", h->where);
    if (rc == 0) {
        h->data = h->own;
    } else if (rc == GIT_ENOTFOUND && git_blob_lookup(&h->blob, h->l->repo, id) == 0) {
        h->data = git_blob_rawcontent(h->blob);
        h->len = (size_t)git_blob_rawsize(h->blob);
    } else {
        return afs_error_git(AUDITFS_EVERIFY, "%s: cannot read the segment", h->where);
    }
    return as_verify(afs_seg_index_parse(&h->ix, h->data, h->len, h->where));
}

/* Opens the segment holding seq: its index, by span reads when the pack allows. */
static int
seg_open(afs_hitread *h, uint64_t seq)
{
    uint64_t first;
    git_oid id;
    char path[32], hex[GIT_OID_HEXSZ + 1];
    seg_drop(h);
    int err = afs_seg_find(&first, &id, h->l->repo, h->l->tree, seq);
    if (err)
        return err;
    afs_seg_path(path, first);
    git_oid_tostr(hex, sizeof hex, &id);
    snprintf(h->where, sizeof h->where, "%s (blob %s)", path, hex);
    git_oid_cpy(&h->id, &id);
    h->span = 1;
    int rc = span_index(h, &id);
    if (rc == GIT_ENOTFOUND) {
        afs_seg_index_release(&h->ix);
        memset(&h->ix, 0, sizeof h->ix);
        h->span = 0;
        rc = whole_index(h, &id);
    }
    if (rc != 0)
        return rc;
    if (h->ix.first_seq != first)
        return afs_error_set(AUDITFS_EVERIFY, "%s: its index starts at entry %llu", h->where,
                             (unsigned long long)h->ix.first_seq);
    if (seq - first >= h->ix.count)
        return afs_error_set(AUDITFS_EVERIFY, "%s: entry %llu missing", h->where,
                             (unsigned long long)seq);
    h->have_seg = 1;
    return 0;
}

/* Decodes frame fi of the open segment into h->frame (as stored, framing checked). */
static int
frame_load(afs_hitread *h, uint32_t fi)
{
    const afs_seg_frame *f = &h->ix.frames[fi];
    int err;
    h->have_frame = 0;
    if (!h->span) {
        err = afs_seg_frame_load(&h->frame, &h->version, h->l->dctx, &h->ix, fi, h->data, h->len,
                                 h->where);
    } else {
        /* a one-frame view: the index frame's bytes (they give the format), then the frame's
         * (the index checked that it lies within the blob) */
        afs_seg_frame one = *f;
        afs_seg_index view = {f->first_seq, f->count, 1, &one};
        uint64_t size;
        one.coff = h->head_len;
        h->head.len = h->head_len;
        /* no valid frame of usize bytes (<= AFS_SEG_MAX_FRAME_USIZE, checked by the index
         * parser) is larger than zstd's bound: a hostile index cannot make this read large */
        if (f->csize > ZSTD_compressBound(f->usize))
            return afs_error_set(AUDITFS_EVERIFY, "%s: frame %u: %u bytes for %u decoded",
                                 h->where, fi, f->csize, f->usize);
        if ((err = afs_buf_grow(&h->head, f->csize)) != 0)
            return err;
        int rc = afs_odb_read_span(h->l->repo, &h->id, f->coff,
                                   (uint8_t *)h->head.data + h->head_len, f->csize, &size);
        if (rc != 0 || size != h->blob_len)
            return rc < 0 && rc != GIT_ENOTFOUND
                       ? afs_error_git(AUDITFS_EVERIFY, "%s: cannot read the segment", h->where)
                       : afs_error_set(AUDITFS_EVERIFY, "%s: frame %u is not in the pack as its "
                                                        "index says", h->where, fi);
        err = afs_seg_frame_load(&h->frame, &h->version, h->l->dctx, &view, 0,
                                 (const uint8_t *)h->head.data, h->head_len + f->csize, h->where);
    }
    if (err)
        return as_verify(err);
    h->fi = fi;
    h->have_frame = 1;
    return 0;
}

int
afs_hitread_leaf(afs_hitread *h, uint64_t seq, const uint8_t **leaf, size_t *len)
{
    auditfs_ledger *l = h->l;
    auditfs_hash want, got, prev;
    int err;
    if (seq >= l->cp.size)
        return afs_error_set(AUDITFS_ENOTFOUND, "entry %llu: the ledger has %llu entries",
                             (unsigned long long)seq, (unsigned long long)l->cp.size);
    if ((!h->have_seg || seq < h->ix.first_seq || seq - h->ix.first_seq >= h->ix.count) &&
        (err = seg_open(h, seq)) != 0) {
        seg_drop(h);
        return err;
    }
    uint32_t fi = afs_seg_index_find(&h->ix, seq);
    if ((!h->have_frame || h->fi != fi) && (err = frame_load(h, fi)) != 0)
        return err;
    /* the frame's records were counted and framed by the load: exactly count of them */
    const afs_seg_frame *f = &h->ix.frames[fi];
    size_t off = h->version == 2 ? 32 : 0;
    for (uint64_t s = f->first_seq; s <= seq; s++)
        if (!afs_seg_record_next(leaf, len, &h->frame, &off))
            return afs_error_set(AUDITFS_EVERIFY, "%s: entry %llu missing", h->where,
                                 (unsigned long long)seq);
    if (h->version == 2) {
        /* the stored leaf rebuilt with its prev: the frame's own for its first entry, else the
         * checked tile's hash of the entry before (the leaf's hash below covers either) */
        size_t got_len;
        if (seq == f->first_seq)
            memcpy(prev.b, h->frame.data, 32);
        else if ((err = afs_leaf_hash_from_tiles(&prev, l, seq - 1)) != 0)
            return err;
        h->leaf.len = 0;
        if ((err = afs_buf_grow(&h->leaf, *len + 4 + AFS_SEG2_MAX_ADDED)) != 0)
            return err;
        if ((err = afs_seg2_rebuild(&got_len, (uint8_t *)h->leaf.data, h->leaf.cap, *leaf, *len,
                                    seq, prev.b)) != 0) {
            char why[512];
            snprintf(why, sizeof why, "%s", auditfs_error_last());
            return afs_error_set(AUDITFS_EVERIFY, "%s: %s", h->where, why);
        }
        h->leaf.len = got_len;
        h->leaf.data[got_len] = '\0'; /* as after a frame's last leaf (REG_STARTEND users) */
        *leaf = (const uint8_t *)h->leaf.data + 4;
        *len = got_len - 4;
    }
    if ((err = afs_leaf_hash_from_tiles(&want, l, seq)) != 0)
        return err;
    auditfs_leaf_hash(&got, *leaf, *len);
    if (!auditfs_hash_equal(&want, &got))
        return afs_error_set(AUDITFS_EVERIFY, "%s: entry %llu: leaf does not hash to its tile",
                             h->where, (unsigned long long)seq);
    return 0;
}
