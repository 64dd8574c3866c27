/*
 * ledger/view_cache.c - verified frames: decoded from git, re-verified against the pin, kept in a bounded LRU.
 *
 * A frame enters the cache only after its leaf hashes matched the digest stored at pin time
 * (view_int.h, step 2); a frame that fails stays bad for the rest of the mount.
 */
#include "view_int.h"
#include "odb.h"
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
 * through a decoder's scratch buffer (at most DECODERS of them, kept for the mount's life).
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

/* Keeps the mapping of evicted frame c for a later load (cache_lock held): the SPARE_MAPS
 * largest are kept, so that one of them fits the next frame, which is mostly as large. */
static void
spare_keep(auditfs_view *v, centry *c)
{
    unsigned k = v->nspare;
    if (!c->data.data)
        return;
    if (k == SPARE_MAPS) { /* full: replace the smallest, if smaller than this one */
        k = 0;
        for (unsigned i = 1; i < SPARE_MAPS; i++)
            if (v->spare[i].cap < v->spare[k].cap)
                k = i;
        if (v->spare[k].cap >= c->data.cap)
            return;
        munmap(v->spare[k].p, v->spare[k].cap);
    } else {
        v->nspare++;
    }
    v->spare[k].p = c->data.data;
    v->spare[k].cap = c->data.cap;
    c->data.data = NULL;
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
            spare_keep(v, c);
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

/* Marks frame fi bad (cache_lock held); *first says whether this is the first report. */
static void
damage_locked(auditfs_view *v, uint32_t fi, int *first)
{
    vframe *f = &v->frames[fi];
    if (first)
        *first = !f->bad;
    f->bad = 1;
}

static int
damage_report(auditfs_view *v, uint32_t fi, const char *why)
{
    const vframe *f = &v->frames[fi];
    return afs_error_set(AUDITFS_EVERIFY,
                         "entries %llu..%llu (%s, frame %u) fail verification against checkpoint "
                         "%llu: %s",
                         (unsigned long long)f->first_seq,
                         (unsigned long long)(f->first_seq + f->count - 1),
                         v->segs[f->seg].where, f->index, (unsigned long long)v->cp.size, why);
}

int
vw_frame_damage(auditfs_view *v, uint32_t fi, int *first, const char *why)
{
    pthread_mutex_lock(&v->cache_lock);
    damage_locked(v, fi, first);
    pthread_mutex_unlock(&v->cache_lock);
    return damage_report(v, fi, why);
}

/* ---- decoders ---- */

int
vw_frames_init(auditfs_view *v)
{
    if (pthread_cond_init(&v->frame_cond, NULL) != 0)
        return -1;
    if (vw_ahead_init(v) != 0) {
        pthread_cond_destroy(&v->frame_cond);
        return -1;
    }
    return 0;
}

void
vw_frames_free(auditfs_view *v)
{
    if (!v->ahead) /* never set up */
        return;
    vw_ahead_free(v);
    for (vdecoder *d = v->dec_free, *n; d; d = n) {
        n = d->next;
        ZSTD_freeDCtx(d->dctx);
        afs_buf_release(&d->scratch);
        free(d->hashes);
        free(d);
    }
    v->dec_free = NULL;
    for (unsigned i = 0; i < v->nspare; i++)
        munmap(v->spare[i].p, v->spare[i].cap);
    v->nspare = 0;
    pthread_cond_destroy(&v->frame_cond);
}

/* A decoder for this thread's use until decoder_put: a free one, a new one while fewer than
 * DECODERS exist, else the next one returned. NULL: out of memory. */
static vdecoder *
decoder_get(auditfs_view *v)
{
    vdecoder *d = NULL;
    pthread_mutex_lock(&v->cache_lock);
    while (!v->dec_free && v->ndec >= DECODERS)
        pthread_cond_wait(&v->frame_cond, &v->cache_lock);
    if (v->dec_free) {
        d = v->dec_free;
        v->dec_free = d->next;
    } else {
        v->ndec++; /* reserved: made below, outside the lock */
    }
    pthread_mutex_unlock(&v->cache_lock);
    if (d)
        return d;
    if ((d = calloc(1, sizeof *d)) != NULL && !(d->dctx = ZSTD_createDCtx())) {
        free(d);
        d = NULL;
    }
    if (!d) {
        pthread_mutex_lock(&v->cache_lock);
        v->ndec--;
        pthread_cond_broadcast(&v->frame_cond);
        pthread_mutex_unlock(&v->cache_lock);
    }
    return d;
}

static void
decoder_put(auditfs_view *v, vdecoder *d)
{
    pthread_mutex_lock(&v->cache_lock);
    d->next = v->dec_free;
    v->dec_free = d;
    pthread_cond_broadcast(&v->frame_cond);
    pthread_mutex_unlock(&v->cache_lock);
}

/*
 * The bytes of segment object si (malloc'd), read under git_lock: through the ledger's checked
 * readers (odb.c, pack.c: OpenSSL SHA-1 of the object), else through libgit2 (deltified objects
 * of git gc's packs, alternates), which checks them itself. Either way the bytes are only
 * decoded and verified against the pin below, never served as they are. 0, or why it failed.
 */
static int
seg_bytes(void **data, size_t *len, auditfs_view *v, uint32_t si, char *why, size_t whylen)
{
    git_object_t type = GIT_OBJECT_INVALID;
    git_blob *blob = NULL;
    char hex[GIT_OID_HEXSZ + 1];
    int rc;
    *data = NULL;
    pthread_mutex_lock(&v->git_lock);
    v->frame_loads++;
    rc = afs_odb_read_checked(data, len, &type, v->l->repo, &v->segs[si].id);
    if (rc == GIT_ENOTFOUND && git_blob_lookup(&blob, v->l->repo, &v->segs[si].id) == 0) {
        *len = (size_t)git_blob_rawsize(blob);
        if ((*data = malloc(*len ? *len : 1)) != NULL)
            memcpy(*data, git_blob_rawcontent(blob), *len);
        rc = *data ? 0 : -1;
        type = GIT_OBJECT_BLOB;
        git_blob_free(blob);
    }
    if (rc != 0 || type != GIT_OBJECT_BLOB) {
        const git_error *ge = git_error_last();
        git_oid_tostr(hex, sizeof hex, &v->segs[si].id);
        snprintf(why, whylen, "the segment object %s cannot be read (%s)", hex,
                 rc == 0                     ? "not a blob"
                 : ge && ge->message          ? ge->message
                 : *data == NULL && rc == -1 ? "out of memory"
                                             : "libgit2 error");
        free(*data);
        *data = NULL;
    }
    pthread_mutex_unlock(&v->git_lock);
    return *data ? 0 : -1;
}

/* A mapping of at least `want` bytes for a frame: an evicted frame's if one is big enough (and
 * not more than twice that), else a new one. *cap gets its size; NULL if none can be made. */
static void *
spare_map(auditfs_view *v, size_t *cap, size_t want)
{
    void *p = NULL;
    unsigned best = SPARE_MAPS;
    pthread_mutex_lock(&v->cache_lock);
    for (unsigned i = 0; i < v->nspare; i++)
        if (v->spare[i].cap >= want && v->spare[i].cap / 2 <= want &&
            (best == SPARE_MAPS || v->spare[i].cap < v->spare[best].cap))
            best = i;
    if (best < SPARE_MAPS) {
        p = v->spare[best].p;
        *cap = v->spare[best].cap;
        v->spare[best] = v->spare[--v->nspare];
    }
    pthread_mutex_unlock(&v->cache_lock);
    if (p)
        return p;
    p = mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1,
             0);
    *cap = want;
    return p == MAP_FAILED ? NULL : p;
}

/* Where header and payload of a leaf meet: just after its first empty line, or NULL. Line by
 * line (memchr): memmem was 4% of a cold read's CPU. */
static const uint8_t *
payload_of(const uint8_t *leaf, size_t len)
{
    const uint8_t *end = leaf + len;
    for (const uint8_t *q = leaf; (q = memchr(q, '\n', (size_t)(end - q))) != NULL && end - q >= 2;
         q++)
        if (q[1] == '\n')
            return q + 2;
    return NULL;
}

/*
 * Decodes and verifies frame fi from the repository into a new cache entry. On failure *why
 * says what was wrong and the result is AUDITFS_EVERIFY (the caller marks and reports the
 * frame), or another error (out of memory: nothing is known about the frame). No lock held:
 * the object is read under git_lock, the rest with a decoder of this call's own.
 *
 * The check is the one the pin made (view_int.h, step 2): decoding hands out each leaf's RFC
 * 6962 hash (AFSSEG2 rebuilds each leaf's prev from the hash of the leaf before, so it hashes
 * every leaf anyway); SHA-256 over them must equal the digest stored at pin time, and the frame
 * must hold exactly f->count leaves, each with a header end. The hashes are of the bytes copied
 * into the entry below, which are not written again.
 */
static int
frame_load(centry **out, auditfs_view *v, uint32_t fi, char *why, size_t whylen)
{
    vframe *f = &v->frames[fi];
    vdecoder *d = NULL;
    void *obj = NULL;
    size_t olen = 0;
    centry *c = NULL;
    int err = AUDITFS_EVERIFY;
    *out = NULL;
    why[0] = 0;
    if (!(c = calloc(1, sizeof *c)) || !(d = decoder_get(v))) {
        err = afs_error_set(AUDITFS_ENOMEM, "out of memory");
        goto done;
    }
    c->frame = fi;
    if (seg_bytes(&obj, &olen, v, f->seg, why, whylen) != 0)
        goto done;
    if ((uint64_t)olen < f->coff + f->csize) {
        snprintf(why, whylen, "the segment object is too short");
        goto done;
    }
    if (f->count > d->hcap) {
        uint8_t(*h)[32] = realloc(d->hashes, (size_t)f->count * sizeof *h);
        if (!h) {
            err = afs_error_set(AUDITFS_ENOMEM, "out of memory");
            goto done;
        }
        d->hashes = h;
        d->hcap = f->count;
    }
    afs_seg_frame sf = {f->coff, f->first_seq, f->csize, f->usize, f->count};
    afs_seg_index ix = {f->first_seq, f->count, 1, &sf};
    d->scratch.len = 0;
    if (afs_seg_frame_decode_hashed(&d->scratch, d->hashes, d->dctx, &ix, 0, obj, olen,
                                    v->segs[f->seg].where) != 0) {
        snprintf(why, whylen, "%s", auditfs_error_last());
        goto done;
    }
    free(obj);
    obj = NULL;
    /* its own mapping: the decoded bytes, then rec, pay and len */
    size_t dl = (d->scratch.len + 7) & ~(size_t)7;
    size_t want = dl + (size_t)f->count * 3 * sizeof(uint32_t);
    long pg = sysconf(_SC_PAGESIZE);
    size_t unit = (size_t)pg * 16; /* fewer sizes: spare mappings fit more often */
    size_t map = (want + unit - 1) / unit * unit;
    if (!(c->data.data = spare_map(v, &c->data.cap, map ? map : unit))) {
        err = afs_error_set(AUDITFS_ENOMEM, "out of memory (a frame of %zu bytes)", want);
        goto done;
    }
    void *m = c->data.data;
    memcpy(m, d->scratch.data, d->scratch.len);
    c->data.len = d->scratch.len;
    c->rec = (uint32_t *)((uint8_t *)m + dl);
    c->pay = c->rec + f->count;
    c->len = c->pay + f->count;
    size_t off = 0;
    const uint8_t *leaf;
    size_t len;
    uint32_t i = 0;
    while (afs_seg_record_next(&leaf, &len, &c->data, &off) && i < f->count) {
        const uint8_t *pay = payload_of(leaf, len);
        if (!pay) {
            snprintf(why, whylen, "entry %llu has no header end",
                     (unsigned long long)(f->first_seq + i));
            goto done;
        }
        c->rec[i] = (uint32_t)(leaf - (const uint8_t *)c->data.data);
        c->pay[i] = (uint32_t)(pay - (const uint8_t *)c->data.data);
        c->len[i] = (uint32_t)len;
        i++;
    }
    uint8_t digest[32];
    afs_sha256(digest, d->hashes, (size_t)i * 32);
    if (i != f->count || sodium_memcmp(digest, f->digest, 32) != 0) {
        snprintf(why, whylen, "leaf hashes differ from the verified ones (the segment was "
                              "changed after the checkpoint was verified)");
        goto done;
    }
    c->bytes = c->data.cap + sizeof *c;
    *out = c;
    c = NULL;
    err = 0;
done:
    if (d)
        decoder_put(v, d);
    free(obj);
    vw_centry_free(c);
    return err;
}

/* Inserts a loaded frame (cache_lock held). */
static void
cache_insert(auditfs_view *v, centry *c)
{
    v->frames[c->frame].cache = c;
    lru_front(v, c);
    v->cache_bytes += c->bytes;
}

/*
 * Loads frame fi, which the caller has claimed (f->loading set under cache_lock, the lock then
 * released). A frame that verifies enters the cache, referenced once more for a read (ref = 1).
 * A read's frame that fails to verify is marked bad before any waiter looks again; a
 * read-ahead's (ref = 0) is not: the read that needs it loads it again and reports the damage.
 * Waiters are woken either way.
 */
static int
load_claimed(centry **out, auditfs_view *v, uint32_t fi, int ref, int *first, char *why,
             size_t whylen)
{
    centry *c = NULL;
    int err = frame_load(&c, v, fi, why, whylen);
    pthread_mutex_lock(&v->cache_lock);
    v->frames[fi].loading = 0;
    if (!err) {
        cache_insert(v, c);
        c->refs += ref;
        lru_trim(v);
    } else if (err == AUDITFS_EVERIFY && ref) {
        damage_locked(v, fi, first);
    }
    pthread_cond_broadcast(&v->frame_cond);
    pthread_mutex_unlock(&v->cache_lock);
    *out = c;
    return err;
}

/* A verified frame, referenced until frame_put. */
int
vw_frame_get(centry **out, auditfs_view *v, uint32_t fi, int *first)
{
    vframe *f = &v->frames[fi];
    char why[512];
    pthread_mutex_lock(&v->cache_lock);
    while (!f->cache && !f->bad && f->loading) /* a read-ahead worker or another read has it */
        pthread_cond_wait(&v->frame_cond, &v->cache_lock);
    if (f->cache) {
        centry *c = f->cache;
        c->refs++;
        lru_unlink(v, c);
        lru_front(v, c);
        pthread_mutex_unlock(&v->cache_lock);
        *out = c;
        return 0;
    }
    if (f->bad) {
        pthread_mutex_unlock(&v->cache_lock);
        if (first)
            *first = 0;
        afs_error_set(AUDITFS_EVERIFY, "entries %llu..%llu (%s, frame %u): damaged",
                      (unsigned long long)f->first_seq,
                      (unsigned long long)(f->first_seq + f->count - 1), v->segs[f->seg].where,
                      f->index);
        return AUDITFS_EVERIFY;
    }
    f->loading = 1;
    pthread_mutex_unlock(&v->cache_lock);
    int err = load_claimed(out, v, fi, 1, first, why, sizeof why);
    if (err == AUDITFS_EVERIFY)
        return damage_report(v, fi, why);
    return err;
}

void
vw_frame_prefetch(auditfs_view *v, uint32_t fi)
{
    vframe *f = &v->frames[fi];
    char why[512];
    pthread_mutex_lock(&v->cache_lock);
    if (f->cache || f->bad || f->loading) {
        pthread_mutex_unlock(&v->cache_lock);
        return;
    }
    f->loading = 1;
    pthread_mutex_unlock(&v->cache_lock);
    centry *c;
    if (load_claimed(&c, v, fi, 0, NULL, why, sizeof why) != 0)
        auditfs_error_clear(); /* the read that needs the frame reports it */
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
    char why[512];
    int err = frame_load(out, v, fi, why, sizeof why);
    *owned = 1;
    return err == AUDITFS_EVERIFY ? vw_frame_damage(v, fi, first, why) : err;
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
