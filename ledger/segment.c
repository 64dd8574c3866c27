/*
 * ledger/segment.c - segment encoding and hostile-input decoding. See segment.h for the layout.
 */
#include "segment.h"

#include <stdlib.h>

#define INDEX_HEAD 20 /* magic 8 + first_seq 8 + n 4 */
#define INDEX_ENTRY 12

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
    if (memcmp(p, AFS_SEG_MAGIC, 8) != 0)
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
        if (f->count == 0 || f->csize == 0 || f->usize > AFS_SEG_MAX_FRAME_USIZE ||
            f->usize < (uint64_t)f->count * 4 || f->csize > len - coff) {
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

int
afs_seg_frame_decode(afs_buf *out, ZSTD_DCtx *dctx, const afs_seg_index *ix, uint32_t i,
                     const uint8_t *blob, size_t len, const char *where)
{
    const afs_seg_frame *f = &ix->frames[i];
    const uint8_t *src = blob + f->coff;
    int err;
    (void)len;
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
    out->len = 0;
    if ((err = afs_buf_grow(out, f->usize)) != 0)
        return err;
    size_t got = ZSTD_decompressDCtx(dctx, out->data, f->usize, src, f->csize);
    if (ZSTD_isError(got) || got != f->usize)
        return afs_error_set(AUDITFS_EFORMAT, "%s: frame %u: %s", where, i,
                             ZSTD_isError(got) ? ZSTD_getErrorName(got) : "short frame");
    out->len = got;
    /* records: exactly f->count, covering the frame */
    size_t off = 0;
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
    if (n != f->count)
        return afs_error_set(AUDITFS_EFORMAT, "%s: frame %u: %u records but the index says %u",
                             where, i, n, f->count);
    return 0;
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
    memset(w, 0, sizeof *w);
    w->job.cctx = ZSTD_createCCtx();
    if (!w->job.cctx)
        return afs_error_set(AUDITFS_ENOMEM, "cannot create a zstd context");
    w->level = level;
    ZSTD_CCtx_setParameter(w->job.cctx, ZSTD_c_compressionLevel, level);
    ZSTD_CCtx_setParameter(w->job.cctx, ZSTD_c_contentSizeFlag, 1);
    ZSTD_CCtx_setParameter(w->job.cctx, ZSTD_c_checksumFlag, 0);
    return 0;
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

int
afs_seg_writer_finish(afs_seg_writer *w, afs_buf *out)
{
    int err;
    uint8_t head[8 + INDEX_HEAD];
    if ((err = flush_frame(w)) != 0 || (err = collect_job(w)) != 0)
        return err;
    if (w->nframes == 0)
        return afs_error_set(AUDITFS_EINVAL, "empty segment");
    uint32_t isize = INDEX_HEAD + (uint32_t)w->index.len;
    afs_store_le32(head, AFS_SEG_SKIPPABLE);
    afs_store_le32(head + 4, isize);
    memcpy(head + 8, AFS_SEG_MAGIC, 8);
    afs_store_be64(head + 16, w->first_seq);
    afs_store_be32(head + 24, w->nframes);
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
    afs_buf_release(&w->raw);
    afs_buf_release(&w->frames);
    afs_buf_release(&w->index);
    memset(w, 0, sizeof *w);
}
