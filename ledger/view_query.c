/*
 * ledger/view_query.c - the query/ directory: query/<terms>.jsonl computed from verified frames.
 *
 * A result is computed for the pinned checkpoint from verified frames only; its length is what
 * stat reports, and the same checkpoint must give the same bytes when it is recomputed.
 */
#include "view_int.h"

#include "auditfs/query.h"
#include "index.h"

#include <stdio.h>

const char vw_query_readme[] =
    "query/: every entry that matches an expression, as one file\n"
    "\n"
    "  cat 'query/actor=ops-7,_time>=2026-11-17.jsonl'\n"
    "\n"
    "prints exactly what `auditfs query actor=ops-7 '_time>=2026-11-17'` prints for the pinned\n"
    "checkpoint: each matching entry's payload line, in ledger order (documents and notices as\n"
    "their entry's JSON). The name is the terms separated by ',' (or '&'), then .jsonl. A term\n"
    "is FIELD OP VALUE with OP one of = != ~ < <= > >=; names with a leading '_' are header\n"
    "fields (_seq _time _type _stream _tenant _party _layer _name _version _title _effective).\n"
    "Percent-encode what a name cannot hold: %2C for a ',' inside a value, %2F for '/', %26\n"
    "for '&', %25 for '%'.\n"
    "\n"
    "Any name that parses as an expression exists: looking it up computes the result from\n"
    "frames verified against ./checkpoint, so stat gives its exact size. A malformed\n"
    "expression does not exist (ENOENT; the mount's log names the bad term), a result over\n"
    "256 MiB is refused (EFBIG), and a result that touches data changed in the repository\n"
    "fails with EIO. ls lists this README and the queries recently used. With --follow, a\n"
    "query file follows the newly pinned checkpoint.\n";
const size_t vw_query_readme_len = sizeof vw_query_readme - 1;

/*
 * The seqs in [lo, hi) that may match q. From this party's authenticated query index when there
 * is a usable one (index.c: a forged, foreign or damaged index is ignored or widens the set, and
 * every candidate is still read from a verified frame and matched), else all of [lo, hi). The
 * index is opened for each result computed, so an index updated while mounted is picked up; it
 * must be a prefix of the tree the mount opened (v->l), which the pinned tree extends.
 */
static int
query_candidates(afs_ivals *out, auditfs_view *v, const auditfs_query *q, uint64_t lo,
                 uint64_t hi)
{
    afs_ivals all = AFS_IVALS_INIT, range = AFS_IVALS_INIT;
    afs_index *ix = NULL;
    char why[200];
    int err;
    pthread_mutex_lock(&v->git_lock);
    err = afs_index_open(&ix, v->l, why, sizeof why);
    pthread_mutex_unlock(&v->git_lock);
    if (err) { /* slower, never wrong: scan */
        auditfs_error_clear();
        ix = NULL;
    }
    if ((err = afs_ivals_push(&range, lo, hi)) != 0)
        goto done;
    if (!ix) {
        *out = range;
        range = (afs_ivals)AFS_IVALS_INIT;
        goto done;
    }
    if ((err = afs_query_index_candidates(&all, ix, q, v->cp.size)) != 0)
        goto done;
    err = afs_ivals_intersect(out, &all, &range);
done:
    afs_index_close(ix);
    afs_ivals_release(&all);
    afs_ivals_release(&range);
    return err;
}

/* The seqs [lo, hi) the _seq and _time terms of q allow (ledger time never goes backwards). */
static void
query_seq_range(uint64_t *lo_out, uint64_t *hi_out, auditfs_view *v, const auditfs_query *q)
{
    uint64_t lo, hi, a;
    int64_t tlo, thi;
    auditfs_query_range(q, &lo, &hi, &tlo, &thi);
    if (hi > v->cp.size)
        hi = v->cp.size;
    a = vw_seq_time_bound(v, tlo, 0, 0, v->cp.size);
    lo = a > lo ? a : lo;
    a = vw_seq_time_bound(v, thi, 1, 0, v->cp.size);
    hi = a < hi ? a : hi;
    *lo_out = lo;
    *hi_out = hi;
}

/* Appends matching entry e (seq) to the result as `auditfs query` prints it; counts it in r. */
static int
query_hit(afs_buf *out, vquery *r, auditfs_view *v, const auditfs_entry *e, uint64_t seq)
{
    int err;
    if (e->has_content) {
        char *line = NULL;
        size_t ll = 0;
        if ((err = auditfs_query_format_hit(&line, &ll, v->l, e, AUDITFS_QUERY_PAYLOADS)) == 0)
            err = afs_buf_put(out, line, ll);
        free(line);
    } else if ((err = afs_buf_put(out, e->payload, e->payload_len)) == 0) {
        err = afs_buf_put(out, "\n", 1);
    }
    if (!err && out->len > QUERY_MAX_RESULT)
        err = afs_error_set(AUDITFS_ETOOBIG,
                            "the result is larger than %zu MiB (narrow the expression)",
                            QUERY_MAX_RESULT >> 20);
    if (!r->hits)
        r->first_seq = seq;
    r->last_seq = seq;
    r->mtime_us = e->time_us;
    r->hits++;
    return err;
}

/*
 * The result of q over the pinned checkpoint (lock held): for every entry, in ledger order, the
 * bytes `auditfs query` prints (AUDITFS_QUERY_PAYLOADS), taken only from verified frames.
 */
static int
query_compute(afs_buf *out, vquery *r, auditfs_view *v, const auditfs_query *q, int *first)
{
    int err = 0;
    uint64_t lo, hi;
    r->hits = 0;
    r->first_seq = r->last_seq = 0;
    r->mtime_us = v->newest;
    query_seq_range(&lo, &hi, v, q);
    if (lo >= hi || v->nframes == 0)
        return 0;
    afs_ivals cand = AFS_IVALS_INIT;
    if ((err = query_candidates(&cand, v, q, lo, hi)) != 0)
        return err;
    /* every frame holding a candidate, once, in ledger order; k walks the candidate intervals */
    size_t k = 0;
    uint64_t pos = cand.n ? cand.v[0][0] : hi;
    while (k < cand.n && !err) {
        uint32_t fi = vw_frame_of(v, pos);
        vframe *f = &v->frames[fi];
        uint64_t fend = f->first_seq + f->count;
        centry *c = NULL;
        int owned = 0;
        if (pos >= fend) { /* cannot happen for pos < cp.size; do not loop */
            err = afs_error_set(AUDITFS_EVERIFY, "entry %llu is in no frame",
                                (unsigned long long)pos);
            break;
        }
        if ((err = vw_frame_peek(&c, &owned, v, fi, first)) != 0)
            break;
        for (uint64_t seq = pos; seq < fend && k < cand.n && !err; seq++) {
            const uint8_t *leaf;
            size_t len;
            auditfs_entry e;
            if (seq >= cand.v[k][1]) {
                if (++k == cand.n)
                    break;
                seq = cand.v[k][0];
                if (seq >= fend)
                    break;
            }
            pos = seq + 1;
            vw_leaf_in(c, f, seq, &leaf, &len, NULL);
            if (auditfs_entry_parse(&e, leaf, len) != 0 || e.seq != seq) {
                err = afs_error_set(AUDITFS_EVERIFY, "entry %llu no longer parses",
                                    (unsigned long long)seq);
                break;
            }
            if (!auditfs_query_match(q, &e))
                continue;
            err = query_hit(out, r, v, &e, seq);
        }
        if (owned)
            vw_centry_free(c);
        else
            vw_frame_put(v, c);
        /* the next candidate: the rest of interval k, or the start of the next one */
        while (k < cand.n && pos >= cand.v[k][1])
            k++;
        if (k < cand.n && pos < cand.v[k][0])
            pos = cand.v[k][0];
    }
    afs_ivals_release(&cand);
    return err;
}

static vquery *
query_by_id(auditfs_view *v, uint64_t id)
{
    for (size_t i = 0; v->queries && i < QUERY_NAMES; i++)
        if (v->queries[i].name && QUERY_BASE + v->queries[i].k == id)
            return &v->queries[i];
    return NULL;
}

static vquery *
query_by_name(auditfs_view *v, const char *name)
{
    for (size_t i = 0; v->queries && i < QUERY_NAMES; i++)
        if (v->queries[i].name && strcmp(v->queries[i].name, name) == 0)
            return &v->queries[i];
    return NULL;
}

static void
query_fill(auditfs_view_stat *out, const vquery *r)
{
    memset(out, 0, sizeof *out);
    out->id = QUERY_BASE + r->k;
    out->type = AUDITFS_NODE_FILE;
    out->size = r->len;
    out->mtime_us = r->mtime_us;
    out->nlink = 1;
    out->flags = AUDITFS_VIEW_VOLATILE;
}

/* Drops cached results, least recently used first, beyond the bounds (query_lock held). */
static void
query_trim(auditfs_view *v, const vquery *keep)
{
    while (v->query_files > QUERY_CACHE_FILES || v->query_bytes > QUERY_CACHE_BYTES) {
        vquery *lru = NULL;
        for (size_t i = 0; i < QUERY_NAMES; i++) {
            vquery *r = &v->queries[i];
            if (r->data && r != keep && (!lru || r->used < lru->used))
                lru = r;
        }
        if (!lru)
            return;
        free(lru->data);
        lru->data = NULL;
        v->query_bytes -= lru->len;
        v->query_files--;
    }
}

/* A usable slot for a new name: a free one, else the least recently used (query_lock held). */
static vquery *
query_slot(auditfs_view *v)
{
    vquery *lru = NULL;
    for (size_t i = 0; i < QUERY_NAMES; i++) {
        vquery *r = &v->queries[i];
        if (!r->name)
            return r;
        if (!lru || r->used < lru->used)
            lru = r;
    }
    free(lru->name);
    if (lru->data) {
        free(lru->data);
        v->query_bytes -= lru->len;
        v->query_files--;
    }
    memset(lru, 0, sizeof *lru);
    return lru;
}

/* Stat of r in out and, with buf, its bytes [off, off+len) in buf (query_lock held). */
static void
query_copy(auditfs_view_stat *out, const vquery *r, uint64_t off, uint8_t *buf, size_t len,
           size_t *got)
{
    query_fill(out, r);
    if (buf && off < r->len) {
        size_t n = r->len - off < len ? (size_t)(r->len - off) : len;
        memcpy(buf, r->data + off, n);
        *got = n;
    }
}

/*
 * Computes the result of query file qname ("<terms>.jsonl") into b and res (query_compute
 * held). A result that fails verification marks the file damaged.
 */
static int
query_run(afs_buf *b, vquery *res, auditfs_view *v, char *qname, int *first)
{
    auditfs_query *q = NULL;
    vquery *r;
    size_t nl = strlen(qname);
    int err;
    qname[nl - 6] = 0;
    err = auditfs_query_parse_name(&q, qname, NULL);
    qname[nl - 6] = '.';
    if (err)
        return afs_error_wrap(err, "query/%s", qname);
    if ((err = afs_buf_put(b, "", 0)) != 0 || (err = query_compute(b, res, v, q, first)) != 0) {
        err = afs_error_wrap(err, "query/%s", qname);
        pthread_mutex_lock(&v->query_lock);
        if ((r = query_by_name(v, qname)) != NULL && err == AUDITFS_EVERIFY)
            r->damaged = 1;
        pthread_mutex_unlock(&v->query_lock);
    }
    auditfs_query_free(q);
    return err;
}

/* Keeps the result b (taken over) and res as r's for the pinned checkpoint (query_lock held). */
static void
query_keep(vquery *r, auditfs_view *v, afs_buf *b, const vquery *res)
{
    if (r->data) {
        free(r->data);
        v->query_bytes -= r->len;
        v->query_files--;
    }
    r->cp_size = v->cp.size;
    r->hits = res->hits;
    r->first_seq = res->first_seq;
    r->last_seq = res->last_seq;
    r->mtime_us = res->mtime_us;
    r->len = b->len;
    r->data = (uint8_t *)afs_buf_detach(b, NULL);
    r->used = ++v->query_tick;
    v->query_bytes += r->len;
    v->query_files++;
    query_trim(v, r);
}

/*
 * Makes query file `id` (or, with id 0, the file `name` in query/) current for the pinned
 * checkpoint (lock held): stat in out, and with buf, bytes [off, off+len) copied into buf.
 */
static int
query_get(auditfs_view_stat *out, auditfs_view *v, uint64_t id, const char *name, uint64_t off,
          uint8_t *buf, size_t len, size_t *got, int *first)
{
    vquery *r;
    vquery res;
    char *qname = NULL;
    afs_buf b = AFS_BUF_INIT;
    int err = 0, have_compute = 0;
    size_t nl;
    if (got)
        *got = 0;
    if (!id) {
        nl = strlen(name);
        if (nl < 6 || strcmp(name + nl - 6, ".jsonl") != 0)
            return afs_error_set(AUDITFS_ENOTFOUND, "query/%s: not a query (<terms>.jsonl)",
                                 name);
    }
    for (int pass = 0; pass < 2; pass++) {
        if (pass) {
            pthread_mutex_lock(&v->query_compute);
            have_compute = 1;
        }
        pthread_mutex_lock(&v->query_lock);
        if (!v->queries && !(v->queries = calloc(QUERY_NAMES, sizeof *v->queries))) {
            pthread_mutex_unlock(&v->query_lock);
            err = afs_error_set(AUDITFS_ENOMEM, "out of memory");
            goto out;
        }
        r = id ? query_by_id(v, id) : query_by_name(v, name);
        if (r && r->cp_size == v->cp.size && (!buf || r->data)) {
            r->used = ++v->query_tick;
            query_copy(out, r, off, buf, len, got);
            pthread_mutex_unlock(&v->query_lock);
            goto out;
        }
        if (pass == 1) {
            if (!r && id) {
                err = afs_error_set(AUDITFS_ENOTFOUND, "query file %llu is forgotten",
                                    (unsigned long long)(id - QUERY_BASE));
            } else if (!(qname = strdup(r ? r->name : name))) {
                err = afs_error_set(AUDITFS_ENOMEM, "out of memory");
            }
        }
        pthread_mutex_unlock(&v->query_lock);
        if (err)
            goto out;
    }
    /* compute it (query_compute held) */
    memset(&res, 0, sizeof res);
    if ((err = query_run(&b, &res, v, qname, first)) != 0)
        goto out;
    pthread_mutex_lock(&v->query_lock);
    r = query_by_name(v, qname);
    if (r && r->cp_size == v->cp.size && r->len != b.len) {
        /* the same checkpoint must give the same bytes */
        r->damaged = 1;
        pthread_mutex_unlock(&v->query_lock);
        err = afs_error_set(AUDITFS_EVERIFY, "query/%s: the result changed within checkpoint %llu",
                            qname, (unsigned long long)v->cp.size);
        goto out;
    }
    if (!r) {
        r = query_slot(v);
        r->name = qname;
        qname = NULL;
        r->k = v->query_next++;
    }
    query_keep(r, v, &b, &res);
    query_copy(out, r, off, buf, len, got);
    pthread_mutex_unlock(&v->query_lock);
out:
    if (have_compute)
        pthread_mutex_unlock(&v->query_compute);
    afs_buf_release(&b);
    free(qname);
    return err;
}

int
vw_query_stat(auditfs_view_stat *out, auditfs_view *v, uint64_t id, const char *name)
{
    return query_get(out, v, id, name, 0, NULL, 0, NULL, NULL);
}

int
vw_query_read(auditfs_view *v, uint64_t id, uint64_t off, uint8_t *buf, size_t len, size_t *got,
           int *first)
{
    auditfs_view_stat st;
    return query_get(&st, v, id, NULL, off, buf, len, got, first);
}

void
vw_query_info(auditfs_view *v, uint64_t id, uint64_t *first, uint64_t *last, int *damaged)
{
    pthread_mutex_lock(&v->query_lock);
    vquery *r = query_by_id(v, id);
    if (r && r->hits) {
        *first = r->first_seq;
        *last = r->last_seq;
    }
    if (r)
        *damaged = r->damaged;
    pthread_mutex_unlock(&v->query_lock);
}

typedef struct qlisted {
    uint64_t k;
    char *name;
    auditfs_view_stat st;
} qlisted;

static int
qlisted_cmp(const void *a, const void *b)
{
    uint64_t x = ((const qlisted *)a)->k, y = ((const qlisted *)b)->k;
    return x < y ? -1 : x > y;
}

/* Lists the query files computed for the pinned checkpoint, at positions base + k. */
int
vw_query_list(auditfs_view *v, uint64_t base, uint64_t pos, auditfs_view_dirent_cb cb,
           void *payload)
{
    qlisted *l = NULL;
    size_t n = 0;
    int err = 0;
    pthread_mutex_lock(&v->query_lock);
    if (v->queries && !(l = calloc(QUERY_NAMES, sizeof *l)))
        err = afs_error_set(AUDITFS_ENOMEM, "out of memory");
    for (size_t i = 0; l && i < QUERY_NAMES; i++) {
        vquery *r = &v->queries[i];
        if (!r->name || r->cp_size != v->cp.size || base + r->k < pos)
            continue;
        if (!(l[n].name = strdup(r->name))) {
            err = afs_error_set(AUDITFS_ENOMEM, "out of memory");
            break;
        }
        l[n].k = r->k;
        query_fill(&l[n].st, r);
        n++;
    }
    pthread_mutex_unlock(&v->query_lock);
    if (n)
        qsort(l, n, sizeof *l, qlisted_cmp);
    for (size_t i = 0; i < n && !err; i++)
        if (cb(payload, l[i].name, &l[i].st, base + l[i].k + 1))
            break;
    for (size_t i = 0; i < n; i++)
        free(l[i].name);
    free(l);
    return err;
}
