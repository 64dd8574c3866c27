/*
 * ledger/view_evday.c - by-event-day/: a stream's day files by event time.
 *
 * by-event-day/streams/<stream>/YYYY/MM/DD.jsonl (and by-event-day/tenants/<tenant>/<stream>/...)
 * mirrors streams/ and tenants/ and holds, in ledger order, the payloads of the stream's log entries whose event time (the `event-time` header, or
 * the ledger time when an entry has none) falls on that UTC day.
 *
 * Memory: event times need not increase, so a day file is not a slice of its list. At pin time
 * a day file keeps only its count, size and the range [first_pos, last_pos] of list positions
 * that holds its entries; the view keeps the event day of each seq (in its private file,
 * view_spill.h). A day file whose entries are consecutive in its list is read as that slice
 * of the list, with no positions at all. No sorted copy of the
 * ledger is ever built. Two caches, bounded over all day files (view_int.h): positions at most
 * EVDAY_POS_BYTES; stashes at most half the frame cache's bound, and frames and stashes
 * together at most that bound (the frame LRU gives way):
 *  - positions: found on a day file's first read by scanning its range and written to the
 *    view's private file (v->evspill), then kept (LRU; only their block index is in memory); a
 *    day file whose block index exceeds the bound is scanned for each read and not kept.
 *  - bytes ("stashes"): with scattered event times every frame holds lines of every day file,
 *    so reading the day files one after the other would decode every frame once per file.
 *    Instead, while a read of one day file has a verified frame in hand, the lines in that
 *    frame of the list's other day files are appended to their stashes (zstd-compressed in
 *    EVDAY_CHUNK chunks). A stash holds a prefix of its day file: it is only extended by a frame
 *    whose first list position is exactly `covered` (or by the frame of the file's first
 *    entry), so no line can be skipped. A read inside the prefix is served from the stash;
 *    reading all day files of a list thus costs about one pass over its frames. When the bound
 *    is reached, complete stashes not read since are dropped first, else the growing one.
 *
 * Locks: evday_lock guards the positions and stashes; it is not held while frames are read
 * and verified (positions in use are reference-counted), so reads of different files only
 * share it for their cache bookkeeping. A --follow step (v->lock exclusive, no read in flight)
 * drops the caches of the day files it grows.
 *
 * Verification: bytes are copied only out of frames that vw_frame_get has verified against the
 * pinned checkpoint, exactly as for the ledger-time day files, and each payload's length must
 * equal the length recorded at pin time.
 */
#include "view_int.h"

#include <stdio.h>
#include <time.h>

static void
pos_unref(vpos *p)
{
    if (p && --p->refs == 0) {
        vspill_free(&p->ix);
        free(p);
    }
}

/* Drops ev's cached positions (evday_lock held, or no read in flight). */
static void
evday_uncache(auditfs_view *v, vevday *ev)
{
    if (!ev->pos)
        return;
    v->evday_pos_mem -= vspill_mem(&ev->pos->ix);
    pos_unref(ev->pos);
    ev->pos = NULL;
}

static void
stash_drop(auditfs_view *v, vevday *ev)
{
    vstash *st = ev->stash;
    if (!st)
        return;
    for (size_t i = 0; i < st->nchunks; i++)
        free(st->chunk[i]);
    free(st->chunk);
    free(st->clen);
    free(st->tail);
    v->evday_stash_mem -= st->mem;
    free(st);
    ev->stash = NULL;
}

/* The directory of list li under by-event-day/, made on first use; 0 on error. Names are copied
 * first: adding a node may move the node array they live in. */
static uint64_t
evday_dir(auditfs_view *v, uint32_t li)
{
    if (v->lists[li].ev_dir)
        return v->lists[li].ev_dir;
    uint64_t sd = v->lists[li].dir, out = 0;
    const vnode *d = vw_node(v, sd);
    char *stream = strdup(d->name), *tenant = NULL;
    if (!stream) {
        afs_error_set(AUDITFS_ENOMEM, "out of memory");
        return 0;
    }
    if (d->parent == v->streams) {
        out = vw_dir_ensure(v, v->ev_streams, stream);
    } else if (!(tenant = strdup(vw_node(v, d->parent)->name))) {
        afs_error_set(AUDITFS_ENOMEM, "out of memory");
    } else {
        uint64_t td = vw_dir_ensure(v, v->ev_tenants, tenant);
        out = td ? vw_dir_ensure(v, td, stream) : 0;
    }
    free(stream);
    free(tenant);
    v->lists[li].ev_dir = out;
    return out;
}

/* The day file of list li for day, created (with its directories) if needed; 0 on error. */
static int
evday_file(uint32_t *out, auditfs_view *v, uint32_t li, int64_t day, uint64_t pos)
{
    int err = 0;
    char y[16], m[16], d[24];
    struct tm tm;
    time_t secs = (time_t)(day * 86400);
    if (!gmtime_r(&secs, &tm))
        return afs_error_set(AUDITFS_EINVAL, "event day %lld out of range", (long long)day);
    snprintf(y, sizeof y, "%04d", tm.tm_year + 1900);
    snprintf(m, sizeof m, "%02d", tm.tm_mon + 1);
    snprintf(d, sizeof d, "%02d.jsonl", tm.tm_mday);
    uint64_t root = evday_dir(v, li);
    uint64_t yd = root ? vw_dir_ensure(v, root, y) : 0;
    uint64_t md = yd ? vw_dir_ensure(v, yd, m) : 0;
    if (!md)
        return auditfs_error_last_code();
    uint32_t at;
    long k = vw_kid_find(v, vw_node(v, md), d, &at);
    if (k >= 0) {
        vnode *f = vw_node(v, vw_node(v, md)->kids[k]);
        if (f->kind != K_EVDAY)
            return afs_error_set(AUDITFS_EEXISTS, "%s is not a day file", d);
        *out = f->aux;
        return 0;
    }
    vevday ev;
    memset(&ev, 0, sizeof ev);
    ev.list = li;
    ev.day = (int32_t)day;
    ev.first_pos = pos;
    VEC_PUSH(v->evdays, v->nevdays, v->capevdays, ev, fail);
    uint64_t f = vw_node_add(v, md, d, K_EVDAY);
    if (!f) {
        v->nevdays--;
        return auditfs_error_last_code();
    }
    vw_node(v, f)->aux = (uint32_t)(v->nevdays - 1);
    v->evdays[v->nevdays - 1].node = f;
    vw_node(v, f)->list = li;
    *out = (uint32_t)(v->nevdays - 1);
    /* the list's day files stay sorted by day (evday_find) */
    vlist *l = &v->lists[li];
    if (l->nevs == l->capevs) {
        uint32_t nc = l->capevs ? l->capevs * 2 : 8;
        uint32_t *e = realloc(l->evs, nc * sizeof *e);
        if (!e)
            return afs_error_set(AUDITFS_ENOMEM, "out of memory");
        l->evs = e;
        l->capevs = nc;
    }
    uint32_t at2 = l->nevs;
    while (at2 > 0 && v->evdays[l->evs[at2 - 1]].day > day)
        at2--;
    memmove(l->evs + at2 + 1, l->evs + at2, (l->nevs - at2) * sizeof *l->evs);
    l->evs[at2] = *out;
    l->nevs++;
    return 0;
fail:
    return err;
}

/* The day file of list l for day, or NULL. */
static vevday *
evday_find(auditfs_view *v, const vlist *l, int32_t day)
{
    uint32_t lo = 0, hi = l->nevs;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int32_t d = v->evdays[l->evs[mid]].day;
        if (d == day)
            return &v->evdays[l->evs[mid]];
        if (d < day)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

int
vw_evday_of(int32_t *out, const vrec *r)
{
    const auditfs_entry *e = r->e;
    int64_t day = vw_day_of(e->has_event_time ? e->event_time_us : r->time_us);
    if (day < INT32_MIN || day > INT32_MAX)
        return afs_error_set(AUDITFS_EINVAL, "entry %llu: event time out of range",
                             (unsigned long long)r->seq);
    *out = (int32_t)day;
    return 0;
}

int
vw_evday_add(auditfs_view *v, uint32_t li, uint64_t pos, const vrec *r, int32_t day)
{
    int err;
    vlist *l = &v->lists[li];
    uint32_t idx = 0;
    if (l->ev_idx && l->ev_day == day) {
        idx = l->ev_idx - 1;
    } else {
        if ((err = evday_file(&idx, v, li, day, pos)) != 0)
            return err;
        l = &v->lists[li];
        l->ev_day = day;
        l->ev_idx = idx + 1;
    }
    vevday *ev = &v->evdays[idx];
    evday_uncache(v, ev); /* a --follow step grew it: positions are found again on next read */
    stash_drop(v, ev);
    ev->n++;
    ev->bytes += r->payload_len + 1;
    ev->last_pos = pos;
    vw_node_changed(v, ev->node); /* a --follow step: its size and content changed */
    return 0;
}

/*
 * The list positions of ev (evday_lock held), referenced for the caller (pos_unref when done).
 * Kept in the cache when they fit its bound (EVDAY_POS_BYTES), dropping the least recently used.
 */
static int
evday_positions(vpos **out, auditfs_view *v, vevday *ev)
{
    ev->used = ++v->evday_tick;
    if (ev->pos) {
        ev->pos->refs++;
        *out = ev->pos;
        return 0;
    }
    const vlist *l = &v->lists[ev->list];
    vpos *p = calloc(1, sizeof *p);
    if (!p)
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    vspill_init(&p->ix, 2);
    p->refs = 1;
    uint64_t k = 0, at = 0;
    int err = 0;
    for (uint64_t i = ev->first_pos; i <= ev->last_pos && i < l->n && k < ev->n; i++) {
        if (vw_seq_evday(v, vw_list_seq(v, l, i)) != ev->day)
            continue;
        at += vw_list_end(v, l, i) - vw_list_start(v, l, i);
        uint64_t rec[2] = {i, at};
        if ((err = vspill_push(&p->ix, &v->evspill, rec)) != 0)
            break;
        k++;
    }
    p->n = k;
    /* readers in other threads only pread what is written out (view_int.h) */
    if (err || (err = vspill_file_flush(&v->evspill)) != 0) {
        pos_unref(p);
        return err;
    }
    if (k != ev->n || at != ev->bytes) {
        pos_unref(p);
        return afs_error_set(AUDITFS_EVERIFY, "by-event-day index is inconsistent");
    }
    *out = p;
    size_t bound = EVDAY_POS_BYTES, need = vspill_mem(&p->ix);
    if (need > bound)
        return 0; /* used for this read only */
    /* make room: drop the least recently used positions until these fit */
    while (v->evday_pos_mem + need > bound) {
        vevday *old = NULL;
        for (size_t j = 0; j < v->nevdays; j++)
            if (v->evdays[j].pos && (!old || v->evdays[j].used < old->used))
                old = &v->evdays[j];
        if (!old)
            break;
        evday_uncache(v, old);
    }
    p->refs++; /* the cache's */
    ev->pos = p;
    v->evday_pos_mem += need;
    return 0;
}

/* ---- stashes ---- */

static size_t
stash_mem(const vstash *st)
{
    return sizeof *st + st->capchunks * (sizeof *st->chunk + sizeof *st->clen) + st->tail_cap +
           st->zbytes;
}

/* Appends bytes to st (evday_lock held): sealed into a compressed chunk each EVDAY_CHUNK. */
static int
stash_put(auditfs_view *v, vstash *st, const uint8_t *p, size_t n)
{
    while (n) {
        if (st->tail_cap < EVDAY_CHUNK && st->tail_len + n > st->tail_cap) {
            size_t nc = st->tail_cap ? st->tail_cap : 1024;
            while (nc < st->tail_len + n && nc < EVDAY_CHUNK)
                nc *= 2;
            uint8_t *t = realloc(st->tail, nc);
            if (!t)
                return AUDITFS_ENOMEM;
            st->tail = t;
            st->tail_cap = nc;
        }
        size_t k = st->tail_cap - st->tail_len < n ? st->tail_cap - st->tail_len : n;
        memcpy(st->tail + st->tail_len, p, k);
        st->tail_len += k;
        st->bytes += k;
        p += k;
        n -= k;
        if (st->tail_len < EVDAY_CHUNK)
            continue;
        /* seal a chunk */
        if (st->nchunks == st->capchunks) {
            size_t nc = st->capchunks ? st->capchunks * 2 : 4;
            uint8_t **c = realloc(st->chunk, nc * sizeof *c);
            if (c)
                st->chunk = c;
            uint32_t *cl = c ? realloc(st->clen, nc * sizeof *cl) : NULL;
            if (!c || !cl)
                return AUDITFS_ENOMEM;
            st->clen = cl;
            st->capchunks = nc;
        }
        size_t zl = ZSTD_compressCCtx(v->evday_cctx, v->evday_buf, ZSTD_compressBound(EVDAY_CHUNK),
                                      st->tail, EVDAY_CHUNK, 1);
        uint8_t *z = ZSTD_isError(zl) ? NULL : malloc(zl);
        if (!z)
            return AUDITFS_ENOMEM;
        memcpy(z, v->evday_buf, zl);
        st->chunk[st->nchunks] = z;
        st->clen[st->nchunks++] = (uint32_t)zl;
        st->zbytes += zl;
        st->tail_len = 0;
    }
    return 0;
}

/* Copies [off, off + len) of st, which holds it, into buf (evday_lock held). */
static int
stash_copy(auditfs_view *v, const vstash *st, uint64_t off, uint8_t *buf, size_t len)
{
    uint64_t sealed = (uint64_t)st->nchunks * EVDAY_CHUNK;
    while (len) {
        size_t k;
        if (off >= sealed) {
            k = len;
            memcpy(buf, st->tail + (off - sealed), k);
        } else {
            size_t ci = (size_t)(off / EVDAY_CHUNK), in = (size_t)(off % EVDAY_CHUNK);
            size_t got = ZSTD_decompressDCtx(v->evday_dctx, v->evday_buf, EVDAY_CHUNK,
                                             st->chunk[ci], st->clen[ci]);
            if (ZSTD_isError(got) || got != EVDAY_CHUNK)
                return afs_error_set(AUDITFS_ERROR, "by-event-day: a cached chunk does not "
                                                    "decompress");
            k = EVDAY_CHUNK - in < len ? EVDAY_CHUNK - in : len;
            memcpy(buf, v->evday_buf + in, k);
        }
        buf += k;
        off += k;
        len -= k;
    }
    return 0;
}

/* Makes room for `more` stash bytes for st (evday_lock held): drops complete stashes not read
 * since st was made, least recently read first. 0 if st may grow, -1 if it must be dropped. */
static int
stash_room(auditfs_view *v, const vstash *st, size_t more)
{
    size_t bound = EVDAY_STASH_BYTES(v);
    while (v->evday_stash_mem + more > bound) {
        vevday *old = NULL;
        for (size_t j = 0; j < v->nevdays; j++) {
            vevday *e = &v->evdays[j];
            if (e->stash && e->stash != st && e->stash->m == e->n && e->read < st->born &&
                (!old || e->read < old->read))
                old = e;
        }
        if (!old)
            return -1;
        stash_drop(v, old);
    }
    return 0;
}

typedef struct harvest {
    uint32_t list;
    vevday *self; /* the day file being read: not stashed (the page cache keeps it) */
    uint64_t gen; /* evday_tick when this read started: the birth of the stashes it makes */
} harvest;

/*
 * Appends the lines in verified frame c (fi) of list hv->list's day files (but hv->self) to
 * their stashes (evday_lock held). The frame holds list positions [a, b). A day file takes
 * lines from it only when its stash covers every position below a, or its first entry is in
 * the frame; afterwards it covers b. Each payload's length is checked against the pin, as for
 * a read. *more: 1 if some stash now covers b and still lacks lines (the next frame is wanted).
 */
static int
harvest_one(auditfs_view *v, const harvest *hv, const centry *c, uint32_t fi, int *first,
            int *more)
{
    const vframe *f = &v->frames[fi];
    const vlist *l = &v->lists[hv->list];
    int err = 0;
    uint64_t a = vw_list_lower(v, l, f->first_seq), b = vw_list_lower(v, l, f->first_seq + f->count);
    uint64_t epoch = ++v->evday_epoch;
    vevday *ev = NULL;
    *more = 0;
    for (uint64_t i = a; i < b && !err; i++) {
        uint64_t seq = vw_list_seq(v, l, i);
        int32_t day = vw_seq_evday(v, seq);
        if (!ev || ev->day != day)
            ev = evday_find(v, l, day);
        if (!ev || ev == hv->self)
            continue;
        if (ev->epoch != epoch) { /* its first line in this frame: may it take lines? */
            ev->epoch = epoch;
            ev->take = ev->stash ? ev->stash->covered == a && ev->stash->m < ev->n
                                 : i == ev->first_pos;
            if (ev->take && !ev->stash) {
                vstash *st = calloc(1, sizeof *st);
                if (st) {
                    st->born = hv->gen;
                    st->mem = stash_mem(st);
                    v->evday_stash_mem += st->mem;
                    ev->stash = st;
                    ev->read = st->born;
                }
                ev->take = st != NULL;
            }
        }
        if (!ev->take || !ev->stash)
            continue;
        vstash *st = ev->stash;
        const uint8_t *leaf, *pay;
        size_t leaf_len;
        vw_leaf_in(c, f, seq, &leaf, &leaf_len, &pay);
        size_t plen = (size_t)(leaf + leaf_len - pay);
        if (plen + 1 != vw_list_end(v, l, i) - vw_list_start(v, l, i)) {
            err = vw_frame_damage(v, fi, first, "payload length differs from the index");
            break;
        }
        if (stash_room(v, st, plen + 1) != 0 || stash_put(v, st, pay, plen) != 0 ||
            stash_put(v, st, (const uint8_t *)"\n", 1) != 0) {
            stash_drop(v, ev); /* no room: this day file is read from frames */
            ev->take = 0;
            continue;
        }
        st->m++;
        size_t mem = stash_mem(st);
        v->evday_stash_mem += mem - st->mem;
        st->mem = mem;
    }
    /* every stash that covered a covers b now, whether or not it had lines here */
    for (uint32_t j = 0; j < l->nevs && !err; j++) {
        vevday *e = &v->evdays[l->evs[j]];
        vstash *st = e->stash;
        if (!st || e == hv->self || (e->epoch == epoch ? !e->take : st->covered != a))
            continue;
        st->covered = b;
        if (st->m == e->n && st->bytes != e->bytes)
            stash_drop(v, e); /* cannot happen: the lengths were checked */
        else if (st->m < e->n)
            *more = 1;
    }
    return err;
}

/*
 * on_frame of a day file's read: harvest_one on frame fi, then on the frames after it while
 * they are already in the frame cache and a stash wants them. Reads in flight at once (the
 * kernel reads ahead) may verify frames out of order; a frame whose turn had not come is caught
 * up here when its turn comes, instead of leaving the stashes behind for good.
 */
static int
harvest_frame(void *payload, auditfs_view *v, const centry *c, uint32_t fi, int *first)
{
    harvest *hv = payload;
    const vlist *l = &v->lists[hv->list];
    int more = 0;
    pthread_mutex_lock(&v->evday_lock);
    int err = harvest_one(v, hv, c, fi, first, &more);
    for (uint32_t g = fi + 1; !err && more && g < v->nframes; g++) {
        const vframe *f = &v->frames[g];
        if (vw_list_lower(v, l, f->first_seq) ==
            vw_list_lower(v, l, f->first_seq + f->count))
            continue; /* none of the list's entries: covers nothing new */
        centry *cg = vw_frame_cached(v, g);
        if (!cg)
            break;
        err = harvest_one(v, hv, cg, g, first, &more);
        vw_frame_put(v, cg);
    }
    pthread_mutex_unlock(&v->evday_lock);
    return err;
}

/* The compression contexts and buffer of the stashes, made on first use (evday_lock held). */
static int
stash_ready(auditfs_view *v)
{
    if (!v->evday_cctx)
        v->evday_cctx = ZSTD_createCCtx();
    if (!v->evday_dctx)
        v->evday_dctx = ZSTD_createDCtx();
    if (!v->evday_buf) /* compressed or decompressed chunks */
        v->evday_buf = malloc(ZSTD_compressBound(EVDAY_CHUNK));
    return v->evday_cctx && v->evday_dctx && v->evday_buf ? 0 : -1;
}

int
vw_evday_read(auditfs_view *v, vnode *n, uint64_t off, uint8_t *buf, size_t len, int *first)
{
    vevday *ev = &v->evdays[n->aux];
    vpos *p = NULL;
    int err, stashing;
    pthread_mutex_lock(&v->evday_lock);
    stashing = stash_ready(v) == 0;
    if (ev->stash && off + len <= ev->stash->bytes) {
        ev->read = ++v->evday_tick;
        err = stash_copy(v, ev->stash, off, buf, len);
        pthread_mutex_unlock(&v->evday_lock);
        return err;
    }
    /* a day file whose entries are consecutive in the list (no event times, or increasing
     * ones) is a slice of the list: no positions to find */
    const vlist *l = &v->lists[ev->list];
    int slice = ev->n && ev->last_pos - ev->first_pos + 1 == ev->n;
    err = slice ? 0 : evday_positions(&p, v, ev);
    harvest hv = {ev->list, ev, ++v->evday_tick};
    pthread_mutex_unlock(&v->evday_lock);
    if (err)
        return err;
    /* outside evday_lock: p is referenced, the frames have their own locks */
    vw_lines ln = {l, p ? &p->ix : NULL, &v->evspill, p ? 0 : ev->first_pos,
                   p ? ev->n : ev->first_pos + ev->n, p ? 0 : vw_list_start(v, l, ev->first_pos),
                   stashing ? harvest_frame : NULL, &hv};
    err = vw_lines_read(v, &ln, off, buf, len, first);
    if (p) {
        pthread_mutex_lock(&v->evday_lock);
        pos_unref(p);
        pthread_mutex_unlock(&v->evday_lock);
    }
    return err;
}

void
vw_evday_free(auditfs_view *v)
{
    for (size_t i = 0; i < v->nevdays; i++) {
        evday_uncache(v, &v->evdays[i]);
        stash_drop(v, &v->evdays[i]);
    }
    free(v->evdays);
    ZSTD_freeCCtx(v->evday_cctx);
    ZSTD_freeDCtx(v->evday_dctx);
    free(v->evday_buf);
}
