/*
 * ledger/segfetch.c - reads and decompresses segments on a second core, ahead of the verifier.
 *
 * verify spends its time in three steps per segment: reading the git object (inflate, SHA-1),
 * zstd-decoding its frames, and per entry parsing and SHA-256 hashing. The first two need no
 * state of the verification, so a worker thread does them for the next segments, in order, into
 * a bounded queue (QUEUE segments of decoded frames, a few MiB) while the caller parses and
 * checks. It also hands over the leaf hash of every entry: decoding an AFSSEG2 frame hashes each
 * rebuilt leaf anyway (the next one's prev), and hashing them again in the caller was a quarter
 * of verify's CPU. The worker has its own repository handle and zstd context (libgit2 objects
 * are not shared between threads). Nothing it produces is trusted: the caller checks every
 * decoded entry as before, and a hash is a function of the bytes handed over (computed from
 * them after they were written; they are not written again); the worker only moves work to
 * another core. Errors are carried in the item, in order, with the message the sequential path
 * gave.
 */
#include "segfetch.h"
#include "odb.h"
#include "store.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define QUEUE 8
/* Readers: with one, the reader (object read, zstd, AFSSEG2 rebuild and leaf hashes) was the
 * slower side of verify by about a third; with two, the three threads share both cores. */
#define WORKERS 2

typedef struct afs_segfetch_worker {
    afs_segfetch *f;
    ZSTD_DCtx *dctx; /* its own */
    pthread_t thread;
    int started;
} afs_segfetch_worker;

/* The workers share one repository handle (each one's pack indexes took 2.8 MiB at 10M
 * entries), used under read_lock: reading is a tenth of their work, decoding and hashing the
 * rest. */
struct afs_segfetch {
    afs_segfetch_worker w[WORKERS];
    auditfs_ledger *l;
    pthread_mutex_t read_lock;
    const git_oid *oids;
    char (*paths)[64];
    size_t n;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    afs_segitem items[QUEUE]; /* segment k in items[k % QUEUE] */
    int ready[QUEUE];
    size_t claimed;  /* segments [0, claimed) are taken by a worker */
    size_t consumed; /* and [0, consumed) were used by the caller: their slots are free */
    int stop;
};

static void
item_clear(afs_segitem *it)
{
    for (uint32_t i = 0; i < it->cap; i++)
        it->frames[i].len = 0;
    it->nframes = 0;
    it->nhashed = 0;
    afs_seg_index_release(&it->ix);
    memset(&it->ix, 0, sizeof it->ix);
    it->status = 0;
    it->kind = 0;
    it->msg[0] = 0;
}

/*
 * The segment's bytes: through the ledger's checked readers (odb.c, pack.c), which hash the
 * object once with OpenSSL, else through libgit2 (deltified objects of git gc's packs,
 * alternates), which checks them itself. libgit2's strict re-hash of what our readers already
 * checked was a fifth of verify's CPU.
 */
static int
seg_load(void **own, size_t *len, auditfs_ledger *l, const git_oid *oid, const char *path)
{
    git_object_t type;
    git_blob *blob = NULL;
    int rc = afs_odb_read_checked(own, len, &type, l->repo, oid);
    if (rc == 0 && type != GIT_OBJECT_BLOB)
        return afs_error_set(AUDITFS_EVERIFY, "%s: unreadable segment (not a blob)", path);
    if (rc == 0)
        return 0;
    if (rc != GIT_ENOTFOUND || git_blob_lookup(&blob, l->repo, oid) < 0)
        return afs_error_git(AUDITFS_EVERIFY, "%s: unreadable segment", path);
    /* a copy: the workers share l, and only hold its lock while they read */
    *len = (size_t)git_blob_rawsize(blob);
    if ((*own = malloc(*len ? *len : 1)) != NULL)
        memcpy(*own, git_blob_rawcontent(blob), *len);
    git_blob_free(blob);
    return *own ? 0 : afs_error_set(AUDITFS_ENOMEM, "out of memory");
}

/*
 * Where frame f (its first entry at `base` in the segment) gets its records' hashes, or *h =
 * NULL if it gets none: every frame before it was hashed, and its records average 64 bytes or
 * more (no entry is shorter; the hashes then take at most half of what the frame decodes to,
 * and are allocated only as frames decode, so a hostile index cannot make them large). Out of
 * memory, the walker hashes the rest itself.
 */
static uint8_t (*hash_room(afs_segitem *it, const afs_seg_frame *f, uint64_t base))[32]
{
    if (it->nhashed != base || f->count > f->usize / 64)
        return NULL;
    if (base + f->count > it->hcap) {
        size_t cap = it->hcap ? it->hcap : 1024;
        while (cap < base + f->count)
            cap *= 2;
        uint8_t(*n)[32] = realloc(it->hashes, cap * sizeof *n);
        if (!n)
            return NULL;
        it->hashes = n;
        it->hcap = cap;
    }
    return it->hashes + base;
}

/* afs_segitem_read with the zstd context given, and l's lock (or NULL) held while reading. */
static void
segitem_read(afs_segitem *it, auditfs_ledger *l, ZSTD_DCtx *dctx, pthread_mutex_t *lock,
             const git_oid *oid, const char *path)
{
    void *own = NULL;
    const uint8_t *data = NULL;
    size_t len = 0;
    int rc;
    item_clear(it);
    afs_seg_index ix;
    memset(&ix, 0, sizeof ix);
    if (lock)
        pthread_mutex_lock(lock);
    rc = seg_load(&own, &len, l, oid, path);
    if (lock)
        pthread_mutex_unlock(lock);
    if (rc != 0) {
        it->kind = AFS_SEGFETCH_UNREADABLE;
        goto fail;
    }
    data = own;
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
        uint8_t(*h)[32] = hash_room(it, &ix.frames[i], ix.frames[i].first_seq - ix.first_seq);
        if (afs_seg_frame_decode_hashed(&it->frames[i], h, dctx, &ix, i, data, len, path) != 0) {
            it->kind = AFS_SEGFETCH_FRAME;
            it->fail_seq = ix.frames[i].first_seq;
            goto fail;
        }
        it->nframes = i + 1;
        if (h)
            it->nhashed += ix.frames[i].count;
    }
    it->ix = ix; /* kept for the caller (frame offsets and counts) */
    free(own);
    return;
fail:
    it->status = AUDITFS_EVERIFY;
    snprintf(it->msg, sizeof it->msg, "%s", auditfs_error_last());
    auditfs_error_clear();
    if (it->kind == AFS_SEGFETCH_FRAME)
        it->ix = ix;
    else
        afs_seg_index_release(&ix);
    free(own);
}

void
afs_segitem_read(afs_segitem *it, auditfs_ledger *l, const git_oid *oid, const char *path)
{
    segitem_read(it, l, l->dctx, NULL, oid, path);
}

void
afs_segitem_release(afs_segitem *it)
{
    for (uint32_t k = 0; k < it->cap; k++)
        afs_buf_release(&it->frames[k]);
    free(it->frames);
    free(it->hashes);
    afs_seg_index_release(&it->ix);
    memset(it, 0, sizeof *it);
}

/* Claims segments in order; segment k waits until the caller is done with k - QUEUE (its
 * slot). Whichever worker is free takes the next one, so the ready slots fill in order. */
static void *
worker(void *arg)
{
    afs_segfetch_worker *w = arg;
    afs_segfetch *f = w->f;
    pthread_setname_np(pthread_self(), "afs-segfetch"); /* for top -H and perf */
    for (;;) {
        pthread_mutex_lock(&f->lock);
        while (!f->stop && f->claimed < f->n && f->claimed - f->consumed == QUEUE)
            pthread_cond_wait(&f->cond, &f->lock);
        if (f->stop || f->claimed == f->n) {
            pthread_mutex_unlock(&f->lock);
            break;
        }
        size_t k = f->claimed++;
        pthread_mutex_unlock(&f->lock);
        afs_segitem *it = &f->items[k % QUEUE]; /* not visible to the caller until ready */
        segitem_read(it, f->l, w->dctx, &f->read_lock, &f->oids[k], f->paths[k]);
        pthread_mutex_lock(&f->lock);
        f->ready[k % QUEUE] = 1;
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
    int err = 0, started = 0;
    *out = NULL;
    if (!f)
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    f->oids = oids;
    f->paths = paths;
    f->n = n;
    pthread_mutex_init(&f->lock, NULL);
    pthread_mutex_init(&f->read_lock, NULL);
    pthread_cond_init(&f->cond, NULL);
    if ((err = auditfs_ledger_open(&f->l, path)) != 0) {
        afs_segfetch_free(f);
        return err;
    }
    /* as many workers as start (at least one): a second is only a speed-up */
    for (unsigned i = 0; i < WORKERS && (size_t)i < n; i++) {
        afs_segfetch_worker *w = &f->w[i];
        w->f = f;
        if (!(w->dctx = ZSTD_createDCtx())) {
            err = afs_error_set(AUDITFS_ENOMEM, "cannot create a zstd context");
            break;
        }
        if (pthread_create(&w->thread, NULL, worker, w) != 0) {
            err = afs_error_set(AUDITFS_ERROR, "cannot start the segment reader thread");
            break;
        }
        w->started = 1;
        started++;
    }
    if (!started) {
        afs_segfetch_free(f);
        return err;
    }
    auditfs_error_clear();
    *out = f;
    return 0;
}

afs_segitem *
afs_segfetch_next(afs_segfetch *f)
{
    pthread_mutex_lock(&f->lock);
    while (!f->ready[f->consumed % QUEUE])
        pthread_cond_wait(&f->cond, &f->lock);
    afs_segitem *it = &f->items[f->consumed % QUEUE];
    pthread_mutex_unlock(&f->lock);
    return it;
}

void
afs_segfetch_done(afs_segfetch *f)
{
    pthread_mutex_lock(&f->lock);
    f->ready[f->consumed % QUEUE] = 0;
    f->consumed++;
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->lock);
}

void
afs_segfetch_free(afs_segfetch *f)
{
    if (!f)
        return;
    pthread_mutex_lock(&f->lock);
    f->stop = 1;
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->lock);
    for (unsigned i = 0; i < WORKERS; i++)
        if (f->w[i].started)
            pthread_join(f->w[i].thread, NULL);
    for (size_t i = 0; i < QUEUE; i++)
        afs_segitem_release(&f->items[i]);
    for (unsigned i = 0; i < WORKERS; i++)
        ZSTD_freeDCtx(f->w[i].dctx);
    auditfs_ledger_free(f->l);
    pthread_mutex_destroy(&f->lock);
    pthread_mutex_destroy(&f->read_lock);
    pthread_cond_destroy(&f->cond);
    free(f);
}
