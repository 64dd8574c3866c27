/*
 * ledger/segment.c - segment encoding and hostile-input decoding. See segment.h for the layout.
 */
#include "segment.h"
#include "pack.h"

#include "auditfs/merkle.h"

#include <stdio.h>
#include <stdlib.h>

#define INDEX_HEAD 20 /* magic 8 + first_seq 8 + n 4 */
#define INDEX_ENTRY 12
#define ENTRY_MAGIC "auditfs-entry/1\n"
#define ENTRY_MAGIC_LEN 16
#define PREV_LEN 32 /* AFSSEG2: a frame starts with the hash of the leaf before its first */

/* 1 or 2 by the magic after the skippable frame's header, 0 for neither */
static int
seg_version(const uint8_t *blob, size_t len)
{
    if (len < 16)
        return 0;
    if (memcmp(blob + 8, AFS_SEG_MAGIC, 8) == 0)
        return 1;
    if (memcmp(blob + 8, AFS_SEG2_MAGIC, 8) == 0)
        return 2;
    return 0;
}

int
afs_seg_index_parse(afs_seg_index *out, const uint8_t *blob, size_t len, const char *where)
{
    memset(out, 0, sizeof *out);
    if (len < 8 + INDEX_HEAD)
        return afs_error_set(AUDITFS_EFORMAT, "%s: %zu bytes is too short for a segment", where,
                             len);
    if (afs_load_le32(blob) != AFS_SEG_SKIPPABLE)
        return afs_error_set(AUDITFS_EFORMAT, "%s: offset 0: no segment index frame", where);
    uint32_t isize = afs_load_le32(blob + 4);
    if (isize < INDEX_HEAD || isize > len - 8)
        return afs_error_set(AUDITFS_EFORMAT, "%s: offset 4: index size %u out of range", where,
                             isize);
    const uint8_t *p = blob + 8;
    int version = seg_version(blob, len);
    if (version == 0)
        return afs_error_set(AUDITFS_EFORMAT, "%s: offset 8: bad segment magic", where);
    out->first_seq = afs_load_be64(p + 8);
    uint32_t n = afs_load_be32(p + 16);
    if (n == 0 || n > AFS_SEG_MAX_FRAMES || (uint64_t)n * INDEX_ENTRY != isize - INDEX_HEAD)
        return afs_error_set(AUDITFS_EFORMAT,
                             "%s: offset 24: %u frames does not match an index of %u bytes", where,
                             n, isize);
    out->frames = calloc(n, sizeof *out->frames);
    if (!out->frames)
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    out->nframes = n;
    uint64_t coff = 8 + (uint64_t)isize;
    uint64_t seq = out->first_seq;
    const uint8_t *e = p + INDEX_HEAD;
    for (uint32_t i = 0; i < n; i++, e += INDEX_ENTRY) {
        afs_seg_frame *f = &out->frames[i];
        f->csize = afs_load_be32(e);
        f->usize = afs_load_be32(e + 4);
        f->count = afs_load_be32(e + 8);
        f->coff = coff;
        f->first_seq = seq;
        /* AFSSEG2: the prev hash, and records of at least AFS_SEG2_MIN_RECORD bytes (which
         * also bounds what decoding in place allocates) */
        uint64_t least = version == 1 ? (uint64_t)f->count * 4
                                      : PREV_LEN + (uint64_t)f->count * AFS_SEG2_MIN_RECORD;
        if (f->count == 0 || f->csize == 0 || f->usize > AFS_SEG_MAX_FRAME_USIZE ||
            f->usize < least || f->csize > len - coff) {
            afs_seg_index_release(out);
            return afs_error_set(AUDITFS_EFORMAT,
                                 "%s: index entry %u (offset %zu): sizes out of range", where, i,
                                 (size_t)(e - blob));
        }
        coff += f->csize;
        if (seq > UINT64_MAX - f->count) {
            afs_seg_index_release(out);
            return afs_error_set(AUDITFS_EFORMAT, "%s: entry count overflows", where);
        }
        seq += f->count;
    }
    if (coff != len) {
        afs_seg_index_release(out);
        return afs_error_set(AUDITFS_EFORMAT,
                             "%s: frames end at offset %llu but the segment has %zu bytes (extra "
                             "or missing data)",
                             where, (unsigned long long)coff, len);
    }
    out->count = seq - out->first_seq;
    return 0;
}

int
afs_seg_index_parse_head(afs_seg_index *out, const uint8_t *head, size_t head_len,
                         size_t blob_len, const char *where)
{
    memset(out, 0, sizeof *out);
    /* afs_seg_index_parse reads blob[0, 8 + isize) only, once isize is within the blob */
    if (head_len < 8 + INDEX_HEAD || head_len > blob_len ||
        (afs_load_le32(head) == AFS_SEG_SKIPPABLE && afs_load_le32(head + 4) <= blob_len - 8 &&
         head_len < 8 + (size_t)afs_load_le32(head + 4)))
        return afs_error_set(AUDITFS_EFORMAT, "%s: the %zu bytes read do not hold its index",
                             where, head_len);
    return afs_seg_index_parse(out, head, blob_len, where);
}

void
afs_seg_index_release(afs_seg_index *ix)
{
    free(ix->frames);
    ix->frames = NULL;
    ix->nframes = 0;
}

uint32_t
afs_seg_index_find(const afs_seg_index *ix, uint64_t seq)
{
    uint32_t lo = 0, hi = ix->nframes;
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (ix->frames[mid].first_seq <= seq)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* AFSSEG1: the frame holds exactly f->count records "u32be length | leaf" filling it. */
static int
check_records(const afs_buf *out, size_t start, uint32_t count, uint32_t i, const char *where)
{
    size_t off = start;
    uint32_t n = 0;
    while (off < out->len) {
        if (out->len - off < 4)
            return afs_error_set(AUDITFS_EFORMAT, "%s: frame %u: truncated record at byte %zu",
                                 where, i, off);
        uint32_t rl = afs_load_be32((const uint8_t *)out->data + off);
        if (rl > out->len - off - 4)
            return afs_error_set(AUDITFS_EFORMAT,
                                 "%s: frame %u: record at byte %zu overruns the frame", where, i,
                                 off);
        off += 4 + rl;
        n++;
    }
    if (n != count)
        return afs_error_set(AUDITFS_EFORMAT, "%s: frame %u: %u records but the index says %u",
                             where, i, n, count);
    return 0;
}

/* "key <decimal v>\n" into out (at least klen + 22 bytes); returns its length. snprintf was 2% of
 * verify's CPU here, twice per entry. */
static int
u64_line(char *out, const char *key, size_t klen, uint64_t v)
{
    char d[20];
    size_t n = 0;
    do {
        d[sizeof d - ++n] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    memcpy(out, key, klen);
    out[klen] = ' ';
    memcpy(out + klen + 1, d + sizeof d - n, n);
    out[klen + 1 + n] = '\n';
    return (int)(klen + n + 2);
}

int
afs_seg2_rebuild(size_t *written, uint8_t *dst, size_t cap, const uint8_t *stored, size_t len,
                 uint64_t seq, const uint8_t prev[32])
{
    char seqline[32], prevline[56], lenline[32];
    *written = 0;
    if (len < ENTRY_MAGIC_LEN + 1 || memcmp(stored, ENTRY_MAGIC, ENTRY_MAGIC_LEN) != 0)
        return afs_error_set(AUDITFS_EFORMAT,
                             "entry %llu: stored leaf does not start with "
                             "'auditfs-entry/1'",
                             (unsigned long long)seq);
    /* the header ends at the first empty line: header values hold no control characters, and
     * the magic line's own LF (offset 15) may be the one before it */
    const uint8_t *h = NULL, *end = stored + len;
    for (const uint8_t *q = stored + ENTRY_MAGIC_LEN - 1;
         (q = memchr(q, '\n', (size_t)(end - q))) != NULL && end - q >= 2; q++)
        if (q[1] == '\n') {
            h = q; /* line by line: memmem was 2% of verify's CPU here */
            break;
        }
    if (!h)
        return afs_error_set(AUDITFS_EFORMAT,
                             "entry %llu: stored leaf has no blank line after "
                             "its header",
                             (unsigned long long)seq);
    size_t hoff = (size_t)(h - stored);
    size_t mid = hoff + 1 - ENTRY_MAGIC_LEN; /* header lines kept, each ending in LF */
    size_t tail = len - hoff - 1;            /* the blank line and the payload */
    int sn = u64_line(seqline, "seq", 3, seq);
    memcpy(prevline, "prev ", 5);
    afs_b64_encode(prevline + 5, prev, 32);
    prevline[49] = '\n';
    int ln = u64_line(lenline, "length", 6, tail - 1);
    size_t need = 4 + ENTRY_MAGIC_LEN + (size_t)sn + mid + 50 + (size_t)ln + tail;
    if (need > cap || need - 4 > UINT32_MAX)
        return afs_error_set(AUDITFS_EFORMAT, "entry %llu: rebuilt leaf of %zu bytes does not fit",
                             (unsigned long long)seq, need);
    /* Written in order, each piece after the stored bytes at its place were read (see
     * segment.h): memmove because dst may overlap stored. */
    uint8_t *p = dst;
    afs_store_be32(p, (uint32_t)(need - 4));
    p += 4;
    memcpy(p, ENTRY_MAGIC, ENTRY_MAGIC_LEN);
    p += ENTRY_MAGIC_LEN;
    memcpy(p, seqline, (size_t)sn);
    p += sn;
    memmove(p, stored + ENTRY_MAGIC_LEN, mid);
    p += mid;
    memcpy(p, prevline, 50);
    p += 50;
    memcpy(p, lenline, (size_t)ln);
    p += ln;
    memmove(p, stored + hoff + 1, tail);
    *written = need;
    return 0;
}

/*
 * AFSSEG2: out holds the stored frame at offset `room`; the canonical records are rebuilt from
 * offset 0 upwards. Record k is written below where record k is stored as long as
 * room >= (k + 1) * (4 + AFS_SEG2_MAX_ADDED): each rebuilt record is at most that much longer
 * than its stored form.
 */
static int
rebuild_frame(afs_buf *out, size_t room, const afs_seg_frame *f, uint32_t i, const char *where,
              uint8_t (*hashes)[32])
{
    uint8_t *base = (uint8_t *)out->data;
    uint8_t prev[PREV_LEN];
    size_t rd = room + PREV_LEN, wr = 0;
    memcpy(prev, base + room, PREV_LEN);
    for (uint32_t k = 0; k < f->count; k++) {
        uint32_t rl = afs_load_be32(base + rd); /* framing checked by the caller */
        size_t got;
        int err = afs_seg2_rebuild(&got, base + wr, out->cap - wr, base + rd + 4, rl,
                                   f->first_seq + k, prev);
        if (err) {
            char why[512]; /* the message being replaced is not an argument of its own */
            snprintf(why, sizeof why, "%s", auditfs_error_last());
            return afs_error_set(err, "%s: frame %u: %s", where, i, why);
        }
        if (k + 1 < f->count || hashes) {
            auditfs_hash lh;
            auditfs_leaf_hash(&lh, base + wr + 4, got - 4);
            memcpy(prev, lh.b, PREV_LEN);
            if (hashes) /* the bytes just written are never written again */
                memcpy(hashes[k], lh.b, 32);
        }
        rd += 4 + (size_t)rl;
        wr += got;
    }
    out->len = wr;
    out->data[wr] = '\0';
    return 0;
}

/* Decompresses frame i into out at offset `room` and checks its framing; *version gets the
 * segment's format. */
static int
frame_inflate(afs_buf *out, int *version, size_t room, ZSTD_DCtx *dctx, const afs_seg_index *ix,
              uint32_t i, const uint8_t *blob, size_t len, const char *where)
{
    const afs_seg_frame *f = &ix->frames[i];
    const uint8_t *src = blob + f->coff;
    int err;
    int v = seg_version(blob, len);
    if (v == 0)
        return afs_error_set(AUDITFS_EFORMAT, "%s: offset 8: bad segment magic", where);
    if (v == 2 && (f->count == 0 || f->usize < PREV_LEN + (uint64_t)f->count * AFS_SEG2_MIN_RECORD))
        return afs_error_set(AUDITFS_EFORMAT, "%s: frame %u: %u records cannot fit in %u bytes",
                             where, i, f->count, f->usize);
    size_t fsz = ZSTD_findFrameCompressedSize(src, f->csize);
    if (ZSTD_isError(fsz) || fsz != f->csize)
        return afs_error_set(AUDITFS_EFORMAT,
                             "%s: frame %u (offset %llu): not exactly one zstd frame of %u bytes",
                             where, i, (unsigned long long)f->coff, f->csize);
    unsigned long long csz = ZSTD_getFrameContentSize(src, f->csize);
    if (csz != f->usize)
        return afs_error_set(AUDITFS_EFORMAT,
                             "%s: frame %u: content size %llu does not match the index (%u)", where,
                             i, csz, f->usize);
    if (v == 1)
        room = 0;
    out->len = 0;
    if ((err = afs_buf_grow(out, room + f->usize)) != 0)
        return err;
    size_t got = ZSTD_decompressDCtx(dctx, out->data + room, f->usize, src, f->csize);
    if (ZSTD_isError(got) || got != f->usize)
        return afs_error_set(AUDITFS_EFORMAT, "%s: frame %u: %s", where, i,
                             ZSTD_isError(got) ? ZSTD_getErrorName(got) : "short frame");
    out->len = room + got;
    *version = v;
    return check_records(out, v == 1 ? 0 : room + PREV_LEN, f->count, i, where);
}

int
afs_seg_frame_decode_hashed(afs_buf *out, uint8_t (*hashes)[32], ZSTD_DCtx *dctx,
                            const afs_seg_index *ix, uint32_t i, const uint8_t *blob, size_t len,
                            const char *where)
{
    const afs_seg_frame *f = &ix->frames[i];
    int version, err;
    /* AFSSEG2 decompresses above the room its rebuilt records need (the count was checked
     * against usize / AFS_SEG2_MIN_RECORD, so room is at most ~5x usize) */
    size_t room = ((size_t)f->count + 1) * (4 + AFS_SEG2_MAX_ADDED);
    if ((err = frame_inflate(out, &version, room, dctx, ix, i, blob, len, where)) != 0)
        return err;
    if (version == 2)
        return rebuild_frame(out, room, f, i, where, hashes);
    if (hashes) { /* AFSSEG1: the records as stored (framing checked: exactly f->count) */
        size_t off = 0;
        const uint8_t *leaf;
        size_t ll;
        for (uint32_t k = 0; afs_seg_record_next(&leaf, &ll, out, &off); k++)
            auditfs_leaf_hash((auditfs_hash *)hashes[k], leaf, ll);
    }
    return 0;
}

int
afs_seg_frame_decode(afs_buf *out, ZSTD_DCtx *dctx, const afs_seg_index *ix, uint32_t i,
                     const uint8_t *blob, size_t len, const char *where)
{
    return afs_seg_frame_decode_hashed(out, NULL, dctx, ix, i, blob, len, where);
}

int
afs_seg_frame_load(afs_buf *out, int *version, ZSTD_DCtx *dctx, const afs_seg_index *ix, uint32_t i,
                   const uint8_t *blob, size_t len, const char *where)
{
    return frame_inflate(out, version, 0, dctx, ix, i, blob, len, where);
}

int
afs_seg_record_next(const uint8_t **leaf, size_t *len, const afs_buf *frame, size_t *off)
{
    if (*off >= frame->len)
        return 0;
    const uint8_t *p = (const uint8_t *)frame->data + *off;
    uint32_t rl = afs_load_be32(p);
    *leaf = p + 4;
    *len = rl;
    *off += 4 + (size_t)rl;
    return 1;
}

int
afs_seg_writer_init(afs_seg_writer *w, int level)
{
    return afs_seg_writer_init_version(w, level, 1);
}

int
afs_seg_writer_init_version(afs_seg_writer *w, int level, int version)
{
    memset(w, 0, sizeof *w);
    if (version != 1 && version != 2)
        return afs_error_set(AUDITFS_EINVAL, "no segment format %d", version);
    w->version = version;
    w->job.cctx = ZSTD_createCCtx();
    if (!w->job.cctx)
        return afs_error_set(AUDITFS_ENOMEM, "cannot create a zstd context");
    w->level = level;
    ZSTD_CCtx_setParameter(w->job.cctx, ZSTD_c_compressionLevel, level);
    ZSTD_CCtx_setParameter(w->job.cctx, ZSTD_c_contentSizeFlag, 1);
    ZSTD_CCtx_setParameter(w->job.cctx, ZSTD_c_checksumFlag, 0);
    /* test hook (tests/cli/cli_ingest_pipeline.sh): the helper thread reports an error for
     * every frame holding an entry at or after this seq */
    const char *tf = getenv("AUDITFS_TEST_FAIL_COMPRESS");
    w->test_fail_from = UINT64_MAX;
    if (tf && tf[0] && !afs_parse_u64(&w->test_fail_from, tf, strlen(tf)))
        w->test_fail_from = UINT64_MAX;
    return 0;
}

/* The head of a segment blob: the skippable frame's header and the index head. */
static void
blob_head(uint8_t head[8 + INDEX_HEAD], int version, uint64_t first_seq, uint32_t nframes,
          size_t index_len)
{
    afs_store_le32(head, AFS_SEG_SKIPPABLE);
    afs_store_le32(head + 4, INDEX_HEAD + (uint32_t)index_len);
    memcpy(head + 8, version == 2 ? AFS_SEG2_MAGIC : AFS_SEG_MAGIC, 8);
    afs_store_be64(head + 16, first_seq);
    afs_store_be32(head + 24, nframes);
}

/* Helper thread, after compressing a sealed segment's last frame: the blob afs_seg_writer_finish
 * would build (the frames before it come from the writer, which leaves them alone until it
 * collects this job), its git id and its pack entry. On any failure packed stays 0 and the
 * writer builds the blob itself. */
static void
job_pack(afs_seg_job *j)
{
    uint8_t head[8 + INDEX_HEAD], ent[INDEX_ENTRY];
    j->packed = 0;
    if (!j->whole || ZSTD_isError(j->result))
        return;
    blob_head(head, j->version, j->first_seq, j->pre_n + 1, j->pre_index->len + INDEX_ENTRY);
    afs_store_be32(ent, (uint32_t)j->result);
    afs_store_be32(ent + 4, (uint32_t)j->in.len);
    afs_store_be32(ent + 8, j->count);
    j->blob.len = 0;
    if (afs_buf_grow(&j->blob, sizeof head + j->pre_index->len + sizeof ent +
                                   j->pre_frames->len + j->result) != 0 ||
        afs_buf_put(&j->blob, head, sizeof head) != 0 ||
        afs_buf_put(&j->blob, j->pre_index->data, j->pre_index->len) != 0 ||
        afs_buf_put(&j->blob, ent, sizeof ent) != 0 ||
        afs_buf_put(&j->blob, j->pre_frames->data, j->pre_frames->len) != 0 ||
        afs_buf_put(&j->blob, j->out.data, j->result) != 0 ||
        afs_pack_blob_entry(&j->entry, &j->crc, j->sha1, j->blob.data, j->blob.len) != 0)
        return;
    j->packed = 1;
}

/* The worker: compresses each posted frame, until told to quit. */
static void *
job_main(void *arg)
{
    afs_seg_job *j = arg;
    pthread_mutex_lock(&j->mu);
    for (;;) {
        while (!j->posted && !j->quit)
            pthread_cond_wait(&j->cv, &j->mu);
        if (!j->posted && j->quit)
            break;
        pthread_mutex_unlock(&j->mu);
        j->result = ZSTD_compress2(j->cctx, j->out.data, j->out.cap, j->in.data, j->in.len);
        if (j->fail)
            j->result = (size_t)-1; /* ZSTD_error_GENERIC */
        job_pack(j);
        pthread_mutex_lock(&j->mu);
        j->posted = 0;
        j->done = 1;
        pthread_cond_broadcast(&j->cv);
    }
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

/* Waits until the worker has finished the frame posted last. */
static void
job_wait(afs_seg_job *j)
{
    pthread_mutex_lock(&j->mu);
    while (!j->done)
        pthread_cond_wait(&j->cv, &j->mu);
    pthread_mutex_unlock(&j->mu);
}

/* Appends the compressed frame of the job to the segment. */
static int
append_job(afs_seg_writer *w)
{
    afs_seg_job *j = &w->job;
    int err;
    if (ZSTD_isError(j->result))
        return afs_error_set(AUDITFS_ERROR, "zstd: %s", ZSTD_getErrorName(j->result));
    uint8_t ent[INDEX_ENTRY];
    afs_store_be32(ent, (uint32_t)j->result);
    afs_store_be32(ent + 4, (uint32_t)j->in.len);
    afs_store_be32(ent + 8, j->count);
    if ((err = afs_buf_put(&w->frames, j->out.data, j->result)) != 0 ||
        (err = afs_buf_put(&w->index, ent, sizeof ent)) != 0)
        return err;
    w->nframes++;
    return 0;
}

/* Waits for the frame in flight, if any, and appends it. */
static int
collect_job(afs_seg_writer *w)
{
    if (!w->job.running)
        return 0;
    job_wait(&w->job);
    w->job.running = 0;
    return append_job(w);
}

void
afs_seg_writer_reset(afs_seg_writer *w, uint64_t first_seq)
{
    if (w->job.running) {
        job_wait(&w->job);
        w->job.running = 0;
    }
    w->first_seq = first_seq;
    w->count = 0;
    w->raw.len = 0;
    w->raw_count = 0;
    w->frames.len = 0;
    w->index.len = 0;
    w->nframes = 0;
}

/* Hands the current frame to the helper thread (after collecting the previous one). */
static int
flush_frame(afs_seg_writer *w)
{
    afs_seg_job *j = &w->job;
    int err;
    if (w->raw_count == 0)
        return 0;
    if ((err = collect_job(w)) != 0)
        return err;
    afs_buf tmp = j->in;
    j->in = w->raw;
    w->raw = tmp;
    w->raw.len = 0;
    j->count = w->raw_count;
    j->fail = w->first_seq + w->count > w->test_fail_from;
    /* sealed: the segment ends with this frame, so the helper builds its blob (job_pack) from
     * the frames collected before it (untouched until this job is collected) and this one */
    j->whole = w->sealing;
    j->pre_index = &w->index;
    j->pre_frames = &w->frames;
    j->pre_n = w->nframes;
    j->packed = 0;
    j->first_seq = w->first_seq;
    j->version = w->version;
    w->raw_count = 0;
    j->out.len = 0;
    if ((err = afs_buf_grow(&j->out, ZSTD_compressBound(j->in.len))) != 0)
        return err;
    if (!j->started) {
        pthread_mutex_init(&j->mu, NULL);
        pthread_cond_init(&j->cv, NULL);
        j->started = pthread_create(&j->thread, NULL, job_main, j) == 0 ? 1 : -1;
    }
    if (j->started < 0) {
        /* no thread to be had: compress inline */
        j->result = ZSTD_compress2(j->cctx, j->out.data, j->out.cap, j->in.data, j->in.len);
        if (j->fail)
            j->result = (size_t)-1;
        j->whole = 0;
        return append_job(w);
    }
    pthread_mutex_lock(&j->mu);
    j->done = 0;
    j->posted = 1;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    j->running = 1;
    return 0;
}

int
afs_seg_writer_add(afs_seg_writer *w, const void *leaf, size_t len)
{
    uint8_t hdr[4];
    int err;
    if (len > AFS_SEG_MAX_FRAME_USIZE / 2)
        return afs_error_set(AUDITFS_ETOOBIG, "leaf of %zu bytes is too large", len);
    if (w->version != 1)
        return afs_error_set(AUDITFS_EINVAL, "AFSSEG2 takes leaves with their hashes");
    if (w->raw.len > 0 && w->raw.len + 4 + len > AFS_SEG_FRAME_TARGET &&
        (err = flush_frame(w)) != 0)
        return err;
    afs_store_be32(hdr, (uint32_t)len);
    if ((err = afs_buf_put(&w->raw, hdr, 4)) != 0 || (err = afs_buf_put(&w->raw, leaf, len)) != 0)
        return err;
    w->raw_count++;
    w->count++;
    if (w->raw.len >= AFS_SEG_FRAME_TARGET)
        return flush_frame(w);
    return 0;
}

/*
 * AFSSEG2: stores the leaf without its seq, prev and length lines, after checking that the
 * decoder will rebuild exactly these bytes (the next seq, prev = the hash of the leaf before
 * unless the segment starts here, length = the payload's), so a stored segment can never decode
 * to anything but what was hashed.
 */
/* "<key><decimal v>\n" into out (klen + 22 bytes at least); returns its length. Without
 * printf: the writer builds two such lines per leaf. */
static size_t
dec_line(char *out, const char *key, size_t klen, uint64_t v)
{
    char d[20];
    size_t n = sizeof d;
    do {
        d[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    memcpy(out, key, klen);
    memcpy(out + klen, d + n, sizeof d - n);
    out[klen + sizeof d - n] = '\n';
    return klen + (sizeof d - n) + 1;
}

int
afs_seg_writer_add_leaf(afs_seg_writer *w, const void *leafv, size_t len, const uint8_t hash[32])
{
    const uint8_t *leaf = leafv;
    char seqline[32], lenline[32], canon[AFS_B64_LEN(PREV_LEN) + 1];
    uint8_t prev[PREV_LEN], hdr[4];
    uint64_t seq = w->first_seq + w->count;
    int err;
    if (w->version == 1)
        return afs_seg_writer_add(w, leaf, len);
    if (len > AFS_SEG_MAX_FRAME_USIZE / 2)
        return afs_error_set(AUDITFS_ETOOBIG, "leaf of %zu bytes is too large", len);
    size_t sn = dec_line(seqline, "seq ", 4, seq);
    size_t seqend = ENTRY_MAGIC_LEN + sn;
    if (len < seqend || memcmp(leaf, ENTRY_MAGIC, ENTRY_MAGIC_LEN) != 0 ||
        memcmp(leaf + ENTRY_MAGIC_LEN, seqline, sn) != 0)
        return afs_error_set(AUDITFS_ERROR,
                             "segment writer: leaf %llu does not start with its "
                             "magic and seq lines",
                             (unsigned long long)seq);
    const uint8_t *h = memmem(leaf + seqend - 1, len - seqend + 1, "\n\n", 2);
    if (!h)
        return afs_error_set(AUDITFS_ERROR, "segment writer: leaf %llu has no blank line",
                             (unsigned long long)seq);
    size_t e = (size_t)(h - leaf); /* the LF ending the last header line */
    size_t ln = dec_line(lenline, "length ", 7, len - e - 2);
    size_t tailsz = 50 + ln; /* "prev <44>\n" "length <n>\n" */
    if (e + 1 < seqend + tailsz)
        return afs_error_set(AUDITFS_ERROR,
                             "segment writer: leaf %llu has no prev and length "
                             "lines",
                             (unsigned long long)seq);
    size_t ts = e + 1 - tailsz;
    if (memcmp(leaf + ts, "prev ", 5) != 0 || leaf[ts + 49] != '\n' ||
        memcmp(leaf + ts + 50, lenline, (size_t)ln) != 0)
        return afs_error_set(AUDITFS_ERROR,
                             "segment writer: leaf %llu does not end its header "
                             "with prev and its payload's length",
                             (unsigned long long)seq);
    /* prev is dropped and rebuilt as the canonical base64 of the hash before (afs_seg2_rebuild):
     * so its text must be exactly that. After the first leaf of the segment it is compared as
     * text with the encoding of the hash kept from the leaf before (no decoding per leaf); the
     * first is decoded, and re-encoded to check it is canonical. */
    if (w->count == 0) {
        if (afs_b64_decode(prev, sizeof prev, (const char *)leaf + ts + 5, 44) != PREV_LEN)
            return afs_error_set(AUDITFS_ERROR, "segment writer: leaf %llu: prev is not base64",
                                 (unsigned long long)seq);
        afs_b64_encode(canon, prev, PREV_LEN);
    } else {
        memcpy(prev, w->last, PREV_LEN);
        memcpy(canon, w->last_b64, 44);
    }
    if (memcmp(leaf + ts + 5, canon, 44) != 0)
        return afs_error_set(AUDITFS_ERROR,
                             "segment writer: leaf %llu: prev is not the hash "
                             "of the leaf before",
                             (unsigned long long)seq);
    size_t slen = ENTRY_MAGIC_LEN + (ts - seqend) + (len - e - 1);
    if (w->raw.len > 0 && w->raw.len + 4 + slen > AFS_SEG2_FRAME_TARGET &&
        (err = flush_frame(w)) != 0)
        return err;
    if (w->raw_count == 0 && (err = afs_buf_put(&w->raw, prev, PREV_LEN)) != 0)
        return err;
    afs_store_be32(hdr, (uint32_t)slen);
    if ((err = afs_buf_put(&w->raw, hdr, 4)) != 0 ||
        (err = afs_buf_put(&w->raw, ENTRY_MAGIC, ENTRY_MAGIC_LEN)) != 0 ||
        (err = afs_buf_put(&w->raw, leaf + seqend, ts - seqend)) != 0 ||
        (err = afs_buf_put(&w->raw, leaf + e + 1, len - e - 1)) != 0)
        return err;
    memcpy(w->last, hash, PREV_LEN);
    afs_b64_encode(canon, hash, PREV_LEN);
    memcpy(w->last_b64, canon, 44);
    w->raw_count++;
    w->count++;
    if (w->raw.len >= AFS_SEG2_FRAME_TARGET)
        return flush_frame(w);
    return 0;
}

int
afs_seg_writer_seal(afs_seg_writer *w)
{
    w->sealing = 1;
    int err = flush_frame(w);
    w->sealing = 0;
    return err;
}

int
afs_seg_writer_finish_packed(afs_seg_writer *w, afs_buf *out, afs_buf *entry, uint32_t *crc,
                             uint8_t sha1[20], int *packed)
{
    afs_seg_job *j = &w->job;
    int err, was_whole = j->running && j->whole;
    *packed = 0;
    if ((err = flush_frame(w)) != 0 || (err = collect_job(w)) != 0)
        return err;
    if (was_whole && j->packed && w->nframes == j->pre_n + 1) {
        afs_buf t = *out;
        *out = j->blob;
        j->blob = t;
        t = *entry;
        *entry = j->entry;
        j->entry = t;
        *crc = j->crc;
        memcpy(sha1, j->sha1, 20);
        j->packed = 0;
        *packed = 1;
        return 0;
    }
    return afs_seg_writer_finish(w, out);
}

int
afs_seg_writer_finish(afs_seg_writer *w, afs_buf *out)
{
    int err;
    uint8_t head[8 + INDEX_HEAD];
    if ((err = flush_frame(w)) != 0 || (err = collect_job(w)) != 0)
        return err;
    if (w->nframes == 0)
        return afs_error_set(AUDITFS_EINVAL, "empty segment");
    blob_head(head, w->version, w->first_seq, w->nframes, w->index.len);
    out->len = 0;
    if ((err = afs_buf_put(out, head, sizeof head)) != 0 ||
        (err = afs_buf_put(out, w->index.data, w->index.len)) != 0 ||
        (err = afs_buf_put(out, w->frames.data, w->frames.len)) != 0)
        return err;
    return 0;
}

void
afs_seg_writer_release(afs_seg_writer *w)
{
    afs_seg_job *j = &w->job;
    if (j->started > 0) {
        pthread_mutex_lock(&j->mu);
        j->quit = 1;
        pthread_cond_broadcast(&j->cv);
        pthread_mutex_unlock(&j->mu);
        pthread_join(j->thread, NULL);
    }
    if (j->started) {
        pthread_mutex_destroy(&j->mu);
        pthread_cond_destroy(&j->cv);
    }
    ZSTD_freeCCtx(w->job.cctx);
    afs_buf_release(&w->job.in);
    afs_buf_release(&w->job.out);
    afs_buf_release(&w->job.blob);
    afs_buf_release(&w->job.entry);
    afs_buf_release(&w->raw);
    afs_buf_release(&w->frames);
    afs_buf_release(&w->index);
    memset(w, 0, sizeof *w);
}
