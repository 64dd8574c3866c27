/*
 * ledger/view_cache.c - verified frames: decoded from git, re-verified against the pin, kept in a bounded LRU.
 *
 * A frame enters the cache only after its leaf hashes matched the digest stored at pin time
 * (view_int.h, step 2); a frame that fails stays bad for the rest of the mount.
 */
#include "view_int.h"
#include "view_seam.h"

#include <sodium.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

/*
 * Memory: a cached frame (its decoded bytes and its rec/pay/len arrays) lives in one anonymous
 * mapping of its own, unmapped when the frame leaves the cache. Frames are loaded by whichever
 * FUSE thread reads and evicted by another; from malloc, each thread's arena kept what the
 * others freed, and the mount's resident memory reached about 2.5 times the cache's bound
 * (measured: 164 MB for a 64 MiB cache, 88 MB with a single arena). The decode itself goes
 * through one scratch buffer under git_lock.
 */
void
vw_centry_free(centry *c)
{
    if (!c)
        return;
    if (c->data.data)
        munmap(c->data.data, c->data.cap);
    free(c);
}

/* ---- verified frames ---- */

uint32_t
vw_frame_of(auditfs_view *v, uint64_t seq)
{
    size_t lo = 0, hi = v->nframes;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (v->frames[mid].first_seq <= seq)
            lo = mid;
        else
            hi = mid;
    }
    return (uint32_t)lo;
}

static void
lru_unlink(auditfs_view *v, centry *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        v->lru_head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        v->lru_tail = c->prev;
    c->prev = c->next = NULL;
}

static void
lru_front(auditfs_view *v, centry *c)
{
    c->next = v->lru_head;
    c->prev = NULL;
    if (v->lru_head)
        v->lru_head->prev = c;
    v->lru_head = c;
    if (!v->lru_tail)
        v->lru_tail = c;
}

/* Evicts unreferenced frames from the tail while they and the lines kept for by-event-day/
 * (view_evday.c, at most half of it) are over the cap (cache_lock held). */
static void
lru_trim(auditfs_view *v)
{
    centry *c = v->lru_tail;
    size_t kept = atomic_load(&v->evday_stash_mem);
    size_t cap = v->cache_cap - (kept < v->cache_cap / 2 ? kept : v->cache_cap / 2);
    while (c && v->cache_bytes > cap) {
        centry *p = c->prev;
        if (c->refs == 0) {
            lru_unlink(v, c);
            v->frames[c->frame].cache = NULL;
            v->cache_bytes -= c->bytes;
            vw_centry_free(c);
        }
        c = p;
    }
}

void
vw_frame_put(auditfs_view *v, centry *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&v->cache_lock);
    c->refs--;
    lru_trim(v);
    pthread_mutex_unlock(&v->cache_lock);
}

int
vw_frame_damage(auditfs_view *v, uint32_t fi, int *first, const char *why)
{
    vframe *f = &v->frames[fi];
    pthread_mutex_lock(&v->cache_lock);
    if (first)
        *first = !f->bad;
    f->bad = 1;
    pthread_mutex_unlock(&v->cache_lock);
    return afs_error_set(AUDITFS_EVERIFY,
                         "entries %llu..%llu (%s, frame %u) fail verification against checkpoint "
                         "%llu: %s",
                         (unsigned long long)f->first_seq,
                         (unsigned long long)(f->first_seq + f->count - 1),
                         v->segs[f->seg].where, f->index, (unsigned long long)v->cp.size, why);
}

/* The blob of segment si (git_lock held; owned by the cache). */
static git_blob *
seg_blob(auditfs_view *v, uint32_t si)
{
    for (unsigned i = 0; i < BLOB_CACHE; i++)
        if (v->blobs[i].blob && v->blobs[i].seg == si)
            return v->blobs[i].blob;
    git_blob *b = NULL;
    if (git_blob_lookup(&b, v->l->repo, &v->segs[si].id) < 0)
        return NULL;
    unsigned slot = v->blob_next++ % BLOB_CACHE;
    git_blob_free(v->blobs[slot].blob);
    v->blobs[slot].blob = b;
    v->blobs[slot].seg = si;
    return b;
}

/* Decodes and verifies frame fi from the repository. */
static int
frame_load(centry **out, auditfs_view *v, uint32_t fi, int *first)
{
    vframe *f = &v->frames[fi];
    git_blob *blob = NULL;
    char why[256] = "";
    centry *c = calloc(1, sizeof *c);
    if (!c)
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    c->frame = fi;
    pthread_mutex_lock(&v->git_lock);
    v->frame_loads++;
    if (!(blob = seg_blob(v, f->seg))) {
        const git_error *ge = git_error_last();
        snprintf(why, sizeof why, "the segment object cannot be read (%s)",
                 ge && ge->message ? ge->message : "libgit2 error");
    } else if ((uint64_t)git_blob_rawsize(blob) < f->coff + f->csize) {
        snprintf(why, sizeof why, "the segment object is too short");
    } else {
        afs_seg_frame sf = {f->coff, f->first_seq, f->csize, f->usize, f->count};
        afs_seg_index ix = {f->first_seq, f->count, 1, &sf};
        v->frame_scratch.len = 0;
        if (afs_seg_frame_decode(&v->frame_scratch, v->dctx, &ix, 0, git_blob_rawcontent(blob),
                                 (size_t)git_blob_rawsize(blob), v->segs[f->seg].where) != 0)
            snprintf(why, sizeof why, "%s", auditfs_error_last());
    }
    if (!why[0]) { /* its own mapping: the decoded bytes, then rec, pay and len */
        size_t dl = (v->frame_scratch.len + 7) & ~(size_t)7;
        size_t want = dl + (size_t)f->count * 3 * sizeof(uint32_t);
        long pg = sysconf(_SC_PAGESIZE);
        size_t map = (want + (size_t)pg - 1) & ~((size_t)pg - 1);
        void *m = mmap(NULL, map ? map : (size_t)pg, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) {
            pthread_mutex_unlock(&v->git_lock);
            free(c);
            return afs_error_set(AUDITFS_ENOMEM, "out of memory (a frame of %zu bytes)", want);
        }
        memcpy(m, v->frame_scratch.data, v->frame_scratch.len);
        c->data.data = m;
        c->data.len = v->frame_scratch.len;
        c->data.cap = map ? map : (size_t)pg;
        c->rec = (uint32_t *)((uint8_t *)m + dl);
        c->pay = c->rec + f->count;
        c->len = c->pay + f->count;
    }
    pthread_mutex_unlock(&v->git_lock);
    if (why[0])
        goto damaged;
    afs_sha256_ctx fd;
    afs_sha256_init(&fd);
    size_t off = 0;
    const uint8_t *leaf;
    size_t len;
    uint32_t i = 0;
    while (afs_seg_record_next(&leaf, &len, &c->data, &off) && i < f->count) {
        auditfs_hash h;
        const uint8_t *sep = memmem(leaf, len, "\n\n", 2);
        if (!sep) {
            snprintf(why, sizeof why, "entry %llu has no header end",
                     (unsigned long long)(f->first_seq + i));
            goto damaged;
        }
        auditfs_leaf_hash(&h, leaf, len);
        afs_sha256_update(&fd, h.b, sizeof h.b);
        c->rec[i] = (uint32_t)(leaf - (const uint8_t *)c->data.data);
        c->pay[i] = (uint32_t)(sep + 2 - (const uint8_t *)c->data.data);
        c->len[i] = (uint32_t)len;
        i++;
    }
    uint8_t digest[32];
    afs_sha256_final(&fd, digest);
    if (i != f->count || sodium_memcmp(digest, f->digest, 32) != 0) {
        snprintf(why, sizeof why, "leaf hashes differ from the verified ones (the segment was "
                                  "changed after the checkpoint was verified)");
        goto damaged;
    }
    c->bytes = c->data.cap + sizeof *c;
    *out = c;
    return 0;
damaged:
    vw_centry_free(c);
    return vw_frame_damage(v, fi, first, why);
}

/* A verified frame, referenced until frame_put. */
int
vw_frame_get(centry **out, auditfs_view *v, uint32_t fi, int *first)
{
    vframe *f = &v->frames[fi];
    pthread_mutex_lock(&v->cache_lock);
    if (f->cache) {
        centry *c = f->cache;
        c->refs++;
        lru_unlink(v, c);
        lru_front(v, c);
        pthread_mutex_unlock(&v->cache_lock);
        *out = c;
        return 0;
    }
    int bad = f->bad;
    pthread_mutex_unlock(&v->cache_lock);
    if (bad) {
        if (first)
            *first = 0;
        afs_error_set(AUDITFS_EVERIFY, "entries %llu..%llu (%s, frame %u): damaged",
                      (unsigned long long)f->first_seq,
                      (unsigned long long)(f->first_seq + f->count - 1), v->segs[f->seg].where,
                      f->index);
        return AUDITFS_EVERIFY;
    }
    centry *c = NULL;
    int err = frame_load(&c, v, fi, first);
    if (err)
        return err;
    pthread_mutex_lock(&v->cache_lock);
    if (f->cache) { /* another thread won the race */
        vw_centry_free(c);
        c = f->cache;
    } else {
        f->cache = c;
        lru_front(v, c);
        v->cache_bytes += c->bytes;
    }
    c->refs++;
    lru_trim(v);
    pthread_mutex_unlock(&v->cache_lock);
    *out = c;
    return 0;
}

/* The verified leaf of seq inside frame entry c (which must hold it). */
void
vw_leaf_in(const centry *c, const vframe *f, uint64_t seq, const uint8_t **leaf, size_t *len,
        const uint8_t **payload)
{
    uint32_t i = (uint32_t)(seq - f->first_seq);
    *leaf = (const uint8_t *)c->data.data + c->rec[i];
    *len = c->len[i];
    if (payload)
        *payload = (const uint8_t *)c->data.data + c->pay[i];
}


/* A verified frame: the cached one if there is one, else decoded and verified for this use only
 * (*owned = 1: free it with centry_free), so a scan does not flush the cache of hot frames. */
int
vw_frame_peek(centry **out, int *owned, auditfs_view *v, uint32_t fi, int *first)
{
    vframe *f = &v->frames[fi];
    pthread_mutex_lock(&v->cache_lock);
    if (f->cache) {
        f->cache->refs++;
        *out = f->cache;
        *owned = 0;
        pthread_mutex_unlock(&v->cache_lock);
        return 0;
    }
    int bad = f->bad;
    pthread_mutex_unlock(&v->cache_lock);
    if (bad)
        return vw_frame_get(out, v, fi, first); /* reports the known damage */
    *owned = 1;
    return frame_load(out, v, fi, first);
}

/* Frame fi if it is in the cache (referenced until vw_frame_put), else NULL: never reads git. */
centry *
vw_frame_cached(auditfs_view *v, uint32_t fi)
{
    pthread_mutex_lock(&v->cache_lock);
    centry *c = v->frames[fi].cache;
    if (c)
        c->refs++;
    pthread_mutex_unlock(&v->cache_lock);
    return c;
}

/* ---- test seam (view_seam.h) ---- */

uint8_t *
afs_view_frame_digest(auditfs_view *v, uint64_t seq)
{
    if (!v || v->nframes == 0)
        return NULL;
    vframe *f = &v->frames[vw_frame_of(v, seq)];
    return seq >= f->first_seq && seq - f->first_seq < f->count ? f->digest : NULL;
}

uint64_t
afs_view_frame_loads(auditfs_view *v, uint64_t *nframes)
{
    pthread_mutex_lock(&v->git_lock);
    uint64_t n = v->frame_loads;
    pthread_mutex_unlock(&v->git_lock);
    *nframes = v->nframes;
    return n;
}
