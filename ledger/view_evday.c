/*
 * ledger/view_evday.c - by-event-day/: a stream's day files by event time.
 *
 * by-event-day/streams/<stream>/YYYY/MM/DD.jsonl (and by-event-day/tenants/<tenant>/<stream>/...)
 * mirrors streams/ and tenants/ and holds, in ledger order, the payloads of the stream's log entries whose event time (the `event-time` header, or
 * the ledger time when an entry has none) falls on that UTC day.
 *
 * Memory: event times need not increase, so a day file is not a slice of its list. At pin time
 * a day file keeps only its count, size and the range [first_pos, last_pos] of list positions
 * that holds its entries; the view keeps one int32 event day per seq. The positions themselves
 * are found on the first read by scanning that range, and kept in an LRU bounded by
 * EVDAY_CACHE_ENTRIES positions over all day files; a day file with more entries than that is
 * scanned for each read and never cached. No sorted copy of the ledger is ever built.
 *
 * Verification: bytes are copied only out of frames that vw_frame_get has verified against the
 * pinned checkpoint, exactly as for the ledger-time day files, and each payload's length must
 * equal the length recorded at pin time.
 */
#include "view_int.h"

#include <stdio.h>
#include <time.h>

static int
evday_grow(auditfs_view *v, uint64_t seq)
{
    if (seq < v->capevday)
        return 0;
    size_t nc = v->capevday ? v->capevday * 2 : 1024;
    while (nc <= seq)
        nc *= 2;
    int32_t *d = realloc(v->evday, nc * sizeof *d);
    if (!d)
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    v->evday = d;
    v->capevday = nc;
    return 0;
}

static void
evday_uncache(auditfs_view *v, vevday *ev)
{
    if (!ev->pos)
        return;
    v->evday_cached -= ev->n;
    free(ev->pos);
    free(ev->end);
    ev->pos = ev->end = NULL;
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
    return 0;
fail:
    return err;
}

int
vw_evday_add(auditfs_view *v, uint32_t li, uint64_t pos, const vrec *r)
{
    int err;
    const auditfs_entry *e = r->e;
    int64_t day = vw_day_of(e->has_event_time ? e->event_time_us : r->time_us);
    if (day < INT32_MIN || day > INT32_MAX)
        return afs_error_set(AUDITFS_EINVAL, "entry %llu: event time out of range",
                             (unsigned long long)r->seq);
    if ((err = evday_grow(v, r->seq)) != 0)
        return err;
    v->evday[r->seq] = (int32_t)day;
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
    ev->n++;
    ev->bytes += r->payload_len + 1;
    ev->last_pos = pos;
    vw_node_changed(v, ev->node); /* a --follow step: its size and content changed */
    return 0;
}

/* Finds the list positions of ev (evday_lock held); pos and end are ev's or, when ev is too big to
 * cache, owned by the caller. */
static int
evday_positions(uint64_t **pos, uint64_t **end, int *owned, auditfs_view *v, vevday *ev)
{
    *owned = 0;
    ev->used = ++v->evday_tick;
    if (ev->pos) {
        *pos = ev->pos;
        *end = ev->end;
        return 0;
    }
    const vlist *l = &v->lists[ev->list];
    uint64_t *p = malloc((ev->n ? ev->n : 1) * sizeof *p);
    uint64_t *e = malloc((ev->n ? ev->n : 1) * sizeof *e);
    if (!p || !e) {
        free(p);
        free(e);
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    }
    uint64_t k = 0, at = 0;
    for (uint64_t i = ev->first_pos; i <= ev->last_pos && i < l->n && k < ev->n; i++) {
        if (v->evday[l->seq[i]] != ev->day)
            continue;
        at += l->end[i] - (i ? l->end[i - 1] : 0);
        p[k] = i;
        e[k] = at;
        k++;
    }
    if (k != ev->n || at != ev->bytes) {
        free(p);
        free(e);
        return afs_error_set(AUDITFS_EVERIFY, "by-event-day index is inconsistent");
    }
    if (ev->n > EVDAY_CACHE_ENTRIES) {
        *pos = p;
        *end = e;
        *owned = 1;
        return 0;
    }
    /* make room: drop the least recently used day files until this one fits */
    while (v->evday_cached + ev->n > EVDAY_CACHE_ENTRIES) {
        vevday *old = NULL;
        for (size_t j = 0; j < v->nevdays; j++)
            if (v->evdays[j].pos && (!old || v->evdays[j].used < old->used))
                old = &v->evdays[j];
        if (!old)
            break;
        evday_uncache(v, old);
    }
    ev->pos = *pos = p;
    ev->end = *end = e;
    v->evday_cached += ev->n;
    return 0;
}

int
vw_evday_read(auditfs_view *v, vnode *n, uint64_t off, uint8_t *buf, size_t len, int *first)
{
    vevday *ev = &v->evdays[n->aux];
    const vlist *l = &v->lists[ev->list];
    uint64_t *pos = NULL, *end = NULL;
    int owned = 0, err;
    pthread_mutex_lock(&v->evday_lock);
    if ((err = evday_positions(&pos, &end, &owned, v, ev)) != 0)
        goto cleanup;
    /* the first entry whose end is beyond off */
    uint64_t lo = 0, h = ev->n;
    while (lo < h) {
        uint64_t mid = lo + (h - lo) / 2;
        if (end[mid] <= off)
            lo = mid + 1;
        else
            h = mid;
    }
    centry *c = NULL;
    uint32_t cfi = UINT32_MAX;
    for (uint64_t k = lo; k < ev->n; k++) {
        uint64_t start = k ? end[k - 1] : 0;
        if (start >= off + len)
            break;
        uint64_t i = pos[k], seq = l->seq[i];
        uint32_t fi = vw_frame_of(v, seq);
        if (fi != cfi) {
            vw_frame_put(v, c);
            c = NULL;
            if ((err = vw_frame_get(&c, v, fi, first)) != 0)
                break;
            cfi = fi;
        }
        const uint8_t *leaf, *payload;
        size_t leaf_len;
        vw_leaf_in(c, &v->frames[fi], seq, &leaf, &leaf_len, &payload);
        size_t plen = (size_t)(leaf + leaf_len - payload);
        if (plen + 1 != end[k] - start) {
            err = vw_frame_damage(v, fi, first, "payload length differs from the index");
            break;
        }
        uint64_t a = start > off ? start : off;
        uint64_t b = start + plen < off + len ? start + plen : off + len;
        if (a < b)
            memcpy(buf + (a - off), payload + (a - start), (size_t)(b - a));
        if (start + plen >= off && start + plen < off + len)
            buf[start + plen - off] = '\n';
    }
    vw_frame_put(v, c);
cleanup:
    if (owned) {
        free(pos);
        free(end);
    }
    pthread_mutex_unlock(&v->evday_lock);
    return err;
}

void
vw_evday_free(auditfs_view *v)
{
    for (size_t i = 0; i < v->nevdays; i++)
        evday_uncache(v, &v->evdays[i]);
    free(v->evdays);
    free(v->evday);
}
