/*
 * ledger/segfetch.c - reads and decompresses segments on a second core, ahead of the verifier.
 *
 * verify spends its time in three steps per segment: reading the git object (inflate, SHA-1),
 * zstd-decoding its frames, and per entry parsing and SHA-256 hashing. The first two need no
 * state of the verification, so a worker thread does them for the next segments, in order, into
 * a bounded queue (QUEUE segments of decoded frames, a few MiB) while the caller hashes. The
 * worker has its own repository handle and zstd context (libgit2 objects are not shared between
 * threads). Nothing it produces is trusted: the caller checks every decoded entry as before; the
 * worker only moves work to another core. Errors are carried in the item, in order, with the
 * message the sequential path gave.
 */
#include "segfetch.h"
#include "store.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define QUEUE 8

struct afs_segfetch {
    pthread_t thread;
    int started;
    auditfs_ledger *l; /* the worker's own handle */
    const git_oid *oids;
    char (*paths)[64];
    size_t n;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    afs_segitem items[QUEUE];
    size_t produced, consumed; /* items [consumed, produced) are ready */
    int stop;
};

static void
item_clear(afs_segitem *it)
{
    for (uint32_t i = 0; i < it->cap; i++)
        it->frames[i].len = 0;
    it->nframes = 0;
    afs_seg_index_release(&it->ix);
    memset(&it->ix, 0, sizeof it->ix);
    it->status = 0;
    it->kind = 0;
    it->msg[0] = 0;
}

void
afs_segitem_read(afs_segitem *it, auditfs_ledger *l, const git_oid *oid, const char *path)
{
    git_blob *blob = NULL;
    item_clear(it);
    afs_seg_index ix;
    memset(&ix, 0, sizeof ix);
    if (git_blob_lookup(&blob, l->repo, oid) < 0) {
        afs_error_git(AUDITFS_EVERIFY, "%s: unreadable segment", path);
        it->kind = AFS_SEGFETCH_UNREADABLE;
        goto fail;
    }
    const uint8_t *data = git_blob_rawcontent(blob);
    size_t len = (size_t)git_blob_rawsize(blob);
    if (afs_seg_index_parse(&ix, data, len, path) != 0) {
        it->kind = AFS_SEGFETCH_UNREADABLE;
        goto fail;
    }
    it->first_seq = ix.first_seq;
    if (ix.nframes > it->cap) {
        afs_buf *fr = realloc(it->frames, ix.nframes * sizeof *fr);
        if (!fr) {
            afs_error_set(AUDITFS_ENOMEM, "out of memory");
            it->kind = AFS_SEGFETCH_UNREADABLE;
            goto fail;
        }
        for (uint32_t i = it->cap; i < ix.nframes; i++)
            fr[i] = (afs_buf)AFS_BUF_INIT;
        it->frames = fr;
        it->cap = ix.nframes;
    }
    it->total = ix.nframes;
    for (uint32_t i = 0; i < ix.nframes; i++) {
        it->frames[i].len = 0;
        if (afs_seg_frame_decode(&it->frames[i], l->dctx, &ix, i, data, len, path) != 0) {
            it->kind = AFS_SEGFETCH_FRAME;
            it->fail_seq = ix.frames[i].first_seq;
            goto fail;
        }
        it->nframes = i + 1;
    }
    it->ix = ix; /* kept for the caller (frame offsets and counts) */
    git_blob_free(blob);
    return;
fail:
    it->status = AUDITFS_EVERIFY;
    snprintf(it->msg, sizeof it->msg, "%s", auditfs_error_last());
    auditfs_error_clear();
    if (it->kind == AFS_SEGFETCH_FRAME)
        it->ix = ix;
    else
        afs_seg_index_release(&ix);
    git_blob_free(blob);
}

void
afs_segitem_release(afs_segitem *it)
{
    for (uint32_t k = 0; k < it->cap; k++)
        afs_buf_release(&it->frames[k]);
    free(it->frames);
    afs_seg_index_release(&it->ix);
    memset(it, 0, sizeof *it);
}

static void *
worker(void *arg)
{
    afs_segfetch *f = arg;
    for (size_t k = 0; k < f->n; k++) {
        pthread_mutex_lock(&f->lock);
        while (!f->stop && f->produced - f->consumed == QUEUE)
            pthread_cond_wait(&f->cond, &f->lock);
        int stop = f->stop;
        pthread_mutex_unlock(&f->lock);
        if (stop)
            break;
        afs_segitem *it = &f->items[f->produced % QUEUE]; /* not visible to the reader yet */
        afs_segitem_read(it, f->l, &f->oids[k], f->paths[k]);
        pthread_mutex_lock(&f->lock);
        f->produced++;
        pthread_cond_broadcast(&f->cond);
        pthread_mutex_unlock(&f->lock);
    }
    return NULL;
}

int
afs_segfetch_start(afs_segfetch **out, const char *path, const git_oid *oids, char (*paths)[64],
                   size_t n)
{
    afs_segfetch *f = calloc(1, sizeof *f);
    int err;
    *out = NULL;
    if (!f)
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    f->oids = oids;
    f->paths = paths;
    f->n = n;
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->cond, NULL);
    if ((err = auditfs_ledger_open(&f->l, path)) != 0) {
        afs_segfetch_free(f);
        return err;
    }
    if (pthread_create(&f->thread, NULL, worker, f) != 0) {
        afs_segfetch_free(f);
        return afs_error_set(AUDITFS_ERROR, "cannot start the segment reader thread");
    }
    f->started = 1;
    *out = f;
    return 0;
}

afs_segitem *
afs_segfetch_next(afs_segfetch *f)
{
    pthread_mutex_lock(&f->lock);
    while (f->produced == f->consumed)
        pthread_cond_wait(&f->cond, &f->lock);
    afs_segitem *it = &f->items[f->consumed % QUEUE];
    pthread_mutex_unlock(&f->lock);
    return it;
}

void
afs_segfetch_done(afs_segfetch *f)
{
    pthread_mutex_lock(&f->lock);
    f->consumed++;
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->lock);
}

void
afs_segfetch_free(afs_segfetch *f)
{
    if (!f)
        return;
    if (f->started) {
        pthread_mutex_lock(&f->lock);
        f->stop = 1;
        pthread_cond_broadcast(&f->cond);
        pthread_mutex_unlock(&f->lock);
        pthread_join(f->thread, NULL);
    }
    for (size_t i = 0; i < QUEUE; i++)
        afs_segitem_release(&f->items[i]);
    auditfs_ledger_free(f->l);
    pthread_mutex_destroy(&f->lock);
    pthread_cond_destroy(&f->cond);
    free(f);
}
