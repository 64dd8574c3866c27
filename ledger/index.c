/*
 * ledger/index.c - derived indexes under <gitdir>/auditfs-index/: postings per header value, per
 * configured JSON field value, and a per-UTC-day seq table, in immutable run files.
 *
 * Layout (all integers big-endian):
 *   meta        text: "auditfs-index/2", "size N", "root B64", "fields a,b", one
 *               "run FROM TO FILE HEADSHA FILESHA" per run (contiguous from 0 to N), and
 *               "mac HEX" = HMAC-SHA256 under the reading party's index key (indexkey.c) of
 *               everything before that line.
 *   r*.ix       a run over entries [FROM, TO):
 *               header (80 bytes): "AFSIX01\n" from to nparts(u32) ndays(u32) nkeys post_base
 *                                  file_size, zero padding
 *               partition table: nparts x {off u64, len u32, nkeys u32, sha256[32]}
 *               day table: ndays x {day i64, first u64, end u64, count u64}
 *               partitions: records {klen u16, key, post_off u64, post_len u32, nivals u32,
 *                                    sha256(postings)[0:16]}; a key lives in partition
 *                                    fnv1a64(key) % nparts
 *               postings: per interval [a, b) varint(a - previous end) varint(b - a - 1), the
 *                         first previous end being FROM
 *   A key is "field\0value": header fields as "_stream" etc., JSON fields by name with values
 *   truncated to AFS_VALUE_MAX bytes (a lookup truncates too, so it can only over-approximate).
 *
 * Trust: the meta's mac line is keyed by a secret in this party's state directory, so only an
 * index this party built is used; through HEADSHA it covers each run's header and partition
 * table, whose partition hashes cover the keys and, per key, a hash of its postings. A run that
 * fails any check contributes its whole range [FROM, TO) to every lookup, and a meta that fails
 * its mac (forged, foreign, another key, format 1 whose check was an unkeyed hash) is ignored, so
 * a damaged or forged index costs time, never results. The meta's root must be a prefix of the
 * ledger (checked with a consistency proof) or the index is ignored. A replayed older meta of
 * this party is a true index of a prefix: the rest is scanned.
 */
#include "index.h"
#include "indexkey.h"
#include "progress.h"
#include "store.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <sodium.h>

#define IX_MAGIC "AFSIX01\n"
#define META_FORMAT "auditfs-index/3" /* 3: the _event_day key (2: unkeyed event time) */
#define IX_HEADER 80
#define IX_PART 48
#define IX_DAY 32
#define AFS_VALUE_MAX 128
#define RUN_MAX_ENTRIES (1u << 16) /* bounds the builder: about 32 MiB at 8 indexed fields */
#define META_MAX (1u << 20)
#define MAX_RUNS 256

/* ---- what an entry posts ---- */

static const char *const header_names[] = AFS_INDEX_HEADERS;

const char *
afs_index_header_value(const auditfs_entry *e, const char *name)
{
    if (!strcmp(name, "_type"))
        return e->type;
    if (!strcmp(name, "_stream"))
        return e->stream;
    if (!strcmp(name, "_tenant"))
        return e->tenant;
    if (!strcmp(name, "_party"))
        return e->party;
    if (!strcmp(name, "_layer"))
        return e->layer;
    if (!strcmp(name, "_name"))
        return e->name;
    return NULL;
}


static uint64_t
fnv1a(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static size_t
make_key(char *out, const char *field, const char *value, size_t vlen)
{
    size_t fl = strlen(field);
    if (vlen > AFS_VALUE_MAX)
        vlen = AFS_VALUE_MAX;
    memcpy(out, field, fl);
    out[fl] = 0;
    memcpy(out + fl + 1, value, vlen);
    return fl + 1 + vlen;
}

/* ---- field lists ---- */

typedef struct fieldlist {
    char text[512];
    char *f[32];
    size_t n;
    char buf[512];
} fieldlist;

static int
fields_parse(fieldlist *fl, const char *s)
{
    memset(fl, 0, sizeof *fl);
    if (strlen(s) >= sizeof fl->text)
        return afs_error_set(AUDITFS_EINVAL, "index fields: list too long");
    snprintf(fl->text, sizeof fl->text, "%s", s);
    snprintf(fl->buf, sizeof fl->buf, "%s", s);
    char *save = NULL;
    for (char *tok = strtok_r(fl->buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (fl->n >= 32)
            return afs_error_set(AUDITFS_EINVAL, "index fields: at most 32");
        if (tok[0] == '_' || strcspn(tok, "=!~<> \t\n") != strlen(tok))
            return afs_error_set(AUDITFS_EINVAL,
                                 "index field '%s': a JSON field name (no leading '_', no "
                                 "operator characters or spaces)",
                                 tok);
        fl->f[fl->n++] = tok;
    }
    return 0;
}

static int
fields_has(const fieldlist *fl, const char *k, size_t klen)
{
    for (size_t i = 0; i < fl->n; i++)
        if (strlen(fl->f[i]) == klen && memcmp(fl->f[i], k, klen) == 0)
            return 1;
    return 0;
}

/* ---- the in-memory builder ---- */

typedef struct bkey {
    char *key;
    uint32_t klen;
    uint32_t n, cap;
    uint64_t hash;
    uint64_t (*iv)[2];
} bkey;

typedef struct bday {
    int64_t day;
    uint64_t first, end, count;
} bday;

typedef struct builder {
    bkey *slots;
    size_t cap, count;
    bday *days;
    size_t ndays, days_cap;
    uint64_t from, to;
    const fieldlist *fields;
} builder;

static void
builder_release(builder *b)
{
    for (size_t i = 0; i < b->cap; i++) {
        free(b->slots[i].key);
        free(b->slots[i].iv);
    }
    free(b->slots);
    free(b->days);
    memset(b, 0, sizeof *b);
}

static int
builder_grow(builder *b)
{
    size_t cap = b->cap ? b->cap * 2 : 1024;
    bkey *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    for (size_t i = 0; i < b->cap; i++) {
        if (!b->slots[i].key)
            continue;
        size_t j = b->slots[i].hash & (cap - 1);
        while (slots[j].key)
            j = (j + 1) & (cap - 1);
        slots[j] = b->slots[i];
    }
    free(b->slots);
    b->slots = slots;
    b->cap = cap;
    return 0;
}

static int
builder_post(builder *b, const char *key, size_t klen, uint64_t a, uint64_t e)
{
    int err;
    if ((b->count + 1) * 4 > b->cap * 3 && (err = builder_grow(b)) != 0)
        return err;
    uint64_t h = fnv1a(key, klen);
    size_t j = h & (b->cap - 1);
    while (b->slots[j].key &&
           !(b->slots[j].hash == h && b->slots[j].klen == klen &&
             memcmp(b->slots[j].key, key, klen) == 0))
        j = (j + 1) & (b->cap - 1);
    bkey *k = &b->slots[j];
    if (!k->key) {
        k->key = malloc(klen ? klen : 1);
        if (!k->key)
            return afs_error_set(AUDITFS_ENOMEM, "out of memory");
        memcpy(k->key, key, klen);
        k->klen = (uint32_t)klen;
        k->hash = h;
        b->count++;
    }
    if (k->n && k->iv[k->n - 1][1] >= a) {
        if (e > k->iv[k->n - 1][1])
            k->iv[k->n - 1][1] = e;
        return 0;
    }
    if (k->n == k->cap) {
        uint32_t cap = k->cap ? k->cap * 2 : 2;
        void *v = realloc(k->iv, cap * sizeof *k->iv);
        if (!v)
            return afs_error_set(AUDITFS_ENOMEM, "out of memory");
        k->iv = v;
        k->cap = cap;
    }
    k->iv[k->n][0] = a;
    k->iv[k->n][1] = e;
    k->n++;
    return 0;
}

static int
builder_day(builder *b, int64_t day, uint64_t seq)
{
    for (size_t i = b->ndays; i-- > 0;) {
        if (b->days[i].day == day) {
            bday *d = &b->days[i];
            d->first = seq < d->first ? seq : d->first;
            d->end = seq + 1 > d->end ? seq + 1 : d->end;
            d->count++;
            return 0;
        }
        if (b->ndays - i > 8)
            break;
    }
    for (size_t i = 0; i < b->ndays; i++)
        if (b->days[i].day == day) {
            bday *d = &b->days[i];
            d->first = seq < d->first ? seq : d->first;
            d->end = seq + 1 > d->end ? seq + 1 : d->end;
            d->count++;
            return 0;
        }
    if (b->ndays == b->days_cap) {
        size_t cap = b->days_cap ? b->days_cap * 2 : 16;
        void *v = realloc(b->days, cap * sizeof *b->days);
        if (!v)
            return afs_error_set(AUDITFS_ENOMEM, "out of memory");
        b->days = v;
        b->days_cap = cap;
    }
    b->days[b->ndays++] = (bday){day, seq, seq + 1, 1};
    return 0;
}

typedef struct member_ctx {
    builder *b;
    uint64_t seq;
    char *key;
} member_ctx;

static int
index_member(void *vctx, const char *k, size_t klen, const char *v, size_t vlen, int kind)
{
    member_ctx *c = vctx;
    (void)kind;
    if (memchr(k, 0, klen) || !fields_has(c->b->fields, k, klen))
        return 0;
    char key[600];
    memcpy(key, k, klen);
    key[klen] = 0;
    size_t n = make_key(c->key, key, v, vlen);
    return builder_post(c->b, c->key, n, c->seq, c->seq + 1);
}

static int
builder_add_entry(builder *b, const auditfs_entry *e)
{
    char key[AUDITFS_DOCNAME_MAX + 600];
    int err = 0;
    for (size_t i = 0; header_names[i] && !err; i++) {
        const char *v = afs_index_header_value(e, header_names[i]);
        size_t n = make_key(key, header_names[i], v, strlen(v));
        err = builder_post(b, key, n, e->seq, e->seq + 1);
    }
    if (!err)
        err = builder_day(b, afs_day_of(e->time_us), e->seq);
    if (!err) { /* the UTC day of the event time, "" without one (format 3) */
        char day[16] = "";
        if (e->has_event_time)
            afs_index_day_name(day, afs_day_of(e->event_time_us));
        size_t n = make_key(key, AFS_INDEX_EVENT_DAY, day, strlen(day));
        err = builder_post(b, key, n, e->seq, e->seq + 1);
    }
    if (!err && b->fields->n && !e->has_content) {
        member_ctx c = {b, e->seq, key};
        int r = afs_json_members(e->payload, e->payload_len, index_member, &c);
        if (r < 0)
            err = r;
    }
    return err;
}

/* ---- writing a run ---- */

static int
put_varint(afs_buf *b, uint64_t v)
{
    uint8_t t[10];
    size_t n = 0;
    while (v >= 0x80) {
        t[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    t[n++] = (uint8_t)v;
    return afs_buf_put(b, t, n);
}

static int
get_varint(uint64_t *out, const uint8_t *p, size_t n, size_t *off)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*off >= n)
            return 0;
        uint8_t c = p[(*off)++];
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *out = v;
            return 1;
        }
    }
    return 0;
}

static void
hex32(char out[65], const uint8_t h[32])
{
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

static int
cmp_day(const void *a, const void *b)
{
    const bday *x = a, *y = b;
    return x->day < y->day ? -1 : x->day > y->day;
}

typedef struct run_desc {
    uint64_t from, to;
    char name[96];
    uint8_t head_sha[32];
    uint8_t file_sha[32];
} run_desc;

/* index files: written whole and atomically (derived data, but never half a file) */
static int
write_file(const char *path, const void *p, size_t n)
{
    return afs_write_atomic(path, p, n, 0644);
}

/* The postings of each key (docs/QUERY.md: per interval varint(a - previous end),
 * varint(b - a - 1)), one after the other in post; where each starts and how long it is. */
static int
encode_postings(afs_buf *post, uint64_t *post_off, uint32_t *post_len, bkey **keys, size_t nkeys,
                uint64_t from)
{
    int err = 0;
    for (size_t i = 0; i < nkeys && !err; i++) {
        uint64_t prev = from;
        post_off[i] = post->len;
        for (uint32_t j = 0; j < keys[i]->n && !err; j++) {
            err = put_varint(post, keys[i]->iv[j][0] - prev);
            if (!err)
                err = put_varint(post, keys[i]->iv[j][1] - keys[i]->iv[j][0] - 1);
            prev = keys[i]->iv[j][1];
        }
        post_len[i] = (uint32_t)(post->len - post_off[i]);
    }
    return err;
}

/* One key's record in its partition: key length, key, postings offset, length, interval count
 * and the first 16 bytes of the postings' SHA-256. */
static int
put_key_record(afs_buf *parts, const bkey *key, uint64_t off, uint32_t len, const afs_buf *post)
{
    uint8_t rec[20], h[32];
    rec[0] = (uint8_t)(key->klen >> 8);
    rec[1] = (uint8_t)key->klen;
    int err = afs_buf_put(parts, rec, 2);
    if (!err)
        err = afs_buf_put(parts, key->key, key->klen);
    afs_store_be64(rec, off);
    afs_store_be32(rec + 8, len);
    afs_store_be32(rec + 12, key->n);
    afs_sha256(h, post->data + off, len);
    if (!err)
        err = afs_buf_put(parts, rec, 16);
    if (!err)
        err = afs_buf_put(parts, h, 16);
    return err;
}

/*
 * The partitions, one after the other in parts (a key lives in partition hash mod nparts), and
 * the partition table ptab describing them; head_len is where parts will start in the file.
 */
static int
encode_partitions(afs_buf *parts, uint8_t (*ptab)[IX_PART], uint32_t nparts, bkey **keys,
                  size_t nkeys, const uint64_t *post_off, const uint32_t *post_len,
                  const afs_buf *post, size_t head_len)
{
    uint64_t *pstart = calloc(nparts, sizeof *pstart);
    uint32_t *pcount = calloc(nparts, sizeof *pcount);
    size_t *order = calloc(nkeys ? nkeys : 1, sizeof *order);
    int err = 0;
    if (!pstart || !pcount || !order) {
        err = afs_error_set(AUDITFS_ENOMEM, "out of memory");
        goto done;
    }
    /* counting sort of keys by partition */
    for (size_t i = 0; i < nkeys; i++)
        pcount[keys[i]->hash % nparts]++;
    uint64_t acc = 0;
    for (uint32_t p = 0; p < nparts; p++) {
        pstart[p] = acc;
        acc += pcount[p];
    }
    for (size_t i = 0; i < nkeys; i++)
        order[pstart[keys[i]->hash % nparts]++] = i;
    size_t oi = 0;
    for (uint32_t p = 0; p < nparts && !err; p++) {
        size_t start = parts->len;
        for (uint32_t c = 0; c < pcount[p] && !err; c++, oi++) {
            size_t i = order[oi];
            err = put_key_record(parts, keys[i], post_off[i], post_len[i], post);
        }
        afs_store_be64(ptab[p], head_len + start);
        afs_store_be32(ptab[p] + 8, (uint32_t)(parts->len - start));
        afs_store_be32(ptab[p] + 12, pcount[p]);
        afs_sha256(ptab[p] + 16, parts->data ? parts->data + start : "", parts->len - start);
    }
done:
    free(pstart);
    free(pcount);
    free(order);
    return err;
}

/* The whole run file: header, partition table, day table, partitions, postings. */
static int
assemble_run(afs_buf *file, const builder *b, uint32_t nparts, size_t nkeys,
             const uint8_t (*ptab)[IX_PART], const afs_buf *parts, const afs_buf *post,
             size_t head_len)
{
    uint8_t hdr[IX_HEADER] = {0};
    uint64_t post_base = head_len + parts->len;
    memcpy(hdr, IX_MAGIC, 8);
    afs_store_be64(hdr + 8, b->from);
    afs_store_be64(hdr + 16, b->to);
    afs_store_be32(hdr + 24, nparts);
    afs_store_be32(hdr + 28, (uint32_t)b->ndays);
    afs_store_be64(hdr + 32, nkeys);
    afs_store_be64(hdr + 40, post_base);
    afs_store_be64(hdr + 48, post_base + post->len);
    int err = afs_buf_put(file, hdr, sizeof hdr);
    if (!err)
        err = afs_buf_put(file, ptab, (size_t)nparts * IX_PART);
    for (size_t d = 0; d < b->ndays && !err; d++) {
        uint8_t rec[IX_DAY];
        afs_store_be64(rec, (uint64_t)b->days[d].day);
        afs_store_be64(rec + 8, b->days[d].first);
        afs_store_be64(rec + 16, b->days[d].end);
        afs_store_be64(rec + 24, b->days[d].count);
        err = afs_buf_put(file, rec, sizeof rec);
    }
    if (!err)
        err = afs_buf_put(file, parts->data, parts->len);
    if (!err)
        err = afs_buf_put(file, post->data, post->len);
    return err;
}

/* Writes the builder's keys as one run file in dir (docs/QUERY.md) and describes it in rd. */
static int
builder_write(builder *b, const char *dir, run_desc *rd)
{
    afs_buf post = AFS_BUF_INIT, parts = AFS_BUF_INIT, file = AFS_BUF_INIT;
    size_t nkeys = b->count, k = 0;
    uint32_t nparts = (uint32_t)(nkeys / 256 + 1);
    bkey **keys = calloc(nkeys ? nkeys : 1, sizeof *keys);
    uint64_t *post_off = calloc(nkeys ? nkeys : 1, sizeof *post_off);
    uint32_t *post_len = calloc(nkeys ? nkeys : 1, sizeof *post_len);
    uint8_t(*ptab)[IX_PART] = calloc(nparts, IX_PART);
    int err = 0;
    if (!keys || !post_off || !post_len || !ptab) {
        err = afs_error_set(AUDITFS_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < b->cap; i++)
        if (b->slots[i].key)
            keys[k++] = &b->slots[i];
    assert(k == nkeys);
    qsort(b->days, b->ndays, sizeof *b->days, cmp_day);
    size_t head_len = IX_HEADER + (size_t)nparts * IX_PART + b->ndays * IX_DAY;
    if ((err = encode_postings(&post, post_off, post_len, keys, nkeys, b->from)) != 0 ||
        (err = encode_partitions(&parts, ptab, nparts, keys, nkeys, post_off, post_len, &post,
                                 head_len)) != 0 ||
        (err = assemble_run(&file, b, nparts, nkeys, (const uint8_t(*)[IX_PART])ptab, &parts,
                            &post, head_len)) != 0)
        goto done;
    rd->from = b->from;
    rd->to = b->to;
    snprintf(rd->name, sizeof rd->name, "r%llu-%llu-%llx.ix", (unsigned long long)b->from,
             (unsigned long long)b->to, (unsigned long long)(afs_now_us() ^ ((uint64_t)getpid() << 40)));
    afs_sha256(rd->head_sha, file.data, head_len);
    afs_sha256(rd->file_sha, file.data, file.len);
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, rd->name);
    err = write_file(path, file.data, file.len);
done:
    free(keys);
    free(post_off);
    free(post_len);
    free(ptab);
    afs_buf_release(&post);
    afs_buf_release(&parts);
    afs_buf_release(&file);
    return err;
}

/* Indexes [from, to) of the ledger into runs of at most RUN_MAX_ENTRIES, appended to runs. */
static int
index_range(auditfs_ledger *l, const char *dir, const fieldlist *fl, uint64_t from, uint64_t to,
            run_desc *runs, size_t *nruns)
{
    auditfs_cursor *cur = NULL;
    builder b;
    int err = auditfs_cursor_new(&cur, l, from, to);
    memset(&b, 0, sizeof b);
    b.fields = fl;
    b.from = from;
    for (uint64_t s = from; s < to && !err; s++) {
        const uint8_t *leaf;
        size_t len;
        auditfs_entry e;
        int r = auditfs_cursor_next(cur, &leaf, &len);
        if (r <= 0) {
            err = r < 0 ? r : afs_error_set(AUDITFS_EVERIFY, "entry %llu missing",
                                             (unsigned long long)s);
            break;
        }
        if ((err = auditfs_entry_parse(&e, leaf, len)) != 0)
            break;
        if ((err = builder_add_entry(&b, &e)) != 0)
            break;
        afs_progress_tick("index", s + 1 - from, to - from);
        if (s + 1 - b.from >= RUN_MAX_ENTRIES || s + 1 == to) {
            if (*nruns >= MAX_RUNS) {
                err = afs_error_set(AUDITFS_ERROR, "index: too many runs");
                break;
            }
            b.to = s + 1;
            assert(b.to - b.from <= RUN_MAX_ENTRIES);
            if ((err = builder_write(&b, dir, &runs[*nruns])) != 0)
                break;
            (*nruns)++;
            builder_release(&b);
            b.fields = fl;
            b.from = s + 1;
        }
    }
    builder_release(&b);
    auditfs_cursor_free(cur);
    return err;
}

/* ---- meta ---- */

typedef struct meta {
    uint64_t size;
    auditfs_hash root;
    fieldlist fields;
    run_desc runs[MAX_RUNS];
    size_t nruns;
} meta;

static int
index_dir(char *out, size_t cap, auditfs_ledger *l)
{
    const char *gd = git_repository_path(l->repo);
    size_t n = strlen(gd);
    if (snprintf(out, cap, "%s%sauditfs-index", gd, n && gd[n - 1] == '/' ? "" : "/") >= (int)cap)
        return afs_error_set(AUDITFS_EINVAL, "repository path too long");
    return 0;
}

static int
parse_hex32(uint8_t out[32], const char *s)
{
    if (strlen(s) != 64)
        return 0;
    for (int i = 0; i < 32; i++) {
        int h = 0;
        for (int k = 0; k < 2; k++) {
            char c = s[2 * i + k];
            int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
            if (v < 0)
                return 0;
            h = h * 16 + v;
        }
        out[i] = (uint8_t)h;
    }
    return 1;
}

/* HMAC-SHA256 of the meta text under the party's index key. */
static void
meta_mac(uint8_t out[32], const uint8_t *key, const void *text, size_t len)
{
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key, AFS_INDEX_KEY_BYTES);
    crypto_auth_hmacsha256_update(&st, text, len);
    crypto_auth_hmacsha256_final(&st, out);
    sodium_memzero(&st, sizeof st);
}

/*
 * Reads and checks the meta file against key (NULL: this party has no key, so no index of its
 * is usable); 0 and *ok=1 if it is usable, else why says why.
 */
static int
meta_read(meta *m, const char *dir, const uint8_t *key, int *ok, char *why, size_t why_len)
{
    char path[4200], *text = NULL;
    size_t len;
    *ok = 0;
    memset(m, 0, sizeof *m);
    snprintf(path, sizeof path, "%s/meta", dir);
    int err = afs_read_file(&text, &len, path, META_MAX);
    if (err) {
        snprintf(why, why_len, "no index (%s)", err == AUDITFS_ENOTFOUND ? "not built" : auditfs_error_last());
        auditfs_error_clear();
        return 0;
    }
    if (strncmp(text, META_FORMAT "\n", sizeof META_FORMAT) != 0) {
        snprintf(why, why_len, "index meta: not format %s (an older or foreign index)",
                 META_FORMAT);
        goto out;
    }
    char *check = strstr(text, "\nmac ");
    uint8_t want[32], got[32];
    if (!check || !parse_hex32(want, strtok(check + 5, "\n"))) {
        snprintf(why, why_len, "index meta has no mac line");
        goto out;
    }
    meta_mac(got, key, text, (size_t)(check - text) + 1);
    if (crypto_verify_32(want, got) != 0) {
        snprintf(why, why_len,
                 "index meta is not authenticated by this party's key (damaged, forged or built "
                 "by someone else)");
        goto out;
    }
    check[1] = 0;
    char *save = NULL;
    int line = 0;
    uint64_t next = 0;
    for (char *ln = strtok_r(text, "\n", &save); ln; ln = strtok_r(NULL, "\n", &save), line++) {
        char a[128], b[128], c[128], d[128], e[128];
        if (line == 0) {
            if (strcmp(ln, META_FORMAT) != 0) {
                snprintf(why, why_len, "index meta: unknown format");
                goto out;
            }
        } else if (!strncmp(ln, "size ", 5)) {
            if (!afs_parse_u64(&m->size, ln + 5, strlen(ln + 5)))
                goto bad;
        } else if (!strncmp(ln, "root ", 5)) {
            if (afs_b64_decode(m->root.b, 32, ln + 5, strlen(ln + 5)) != 32)
                goto bad;
        } else if (!strncmp(ln, "fields ", 7) || !strcmp(ln, "fields")) {
            if (fields_parse(&m->fields, ln[6] ? ln + 7 : "") != 0) {
                auditfs_error_clear();
                goto bad;
            }
        } else if (!strncmp(ln, "run ", 4)) {
            run_desc *r = &m->runs[m->nruns];
            if (m->nruns >= MAX_RUNS || strlen(ln) > 400 ||
                sscanf(ln + 4, "%127s %127s %127s %127s %127s", a, b, c, d, e) != 5 ||
                !afs_parse_u64(&r->from, a, strlen(a)) || !afs_parse_u64(&r->to, b, strlen(b)) ||
                strlen(c) >= sizeof r->name || strchr(c, '/') || c[0] == '.' ||
                !parse_hex32(r->head_sha, d) || !parse_hex32(r->file_sha, e) ||
                r->from != next || r->to <= r->from)
                goto bad;
            snprintf(r->name, sizeof r->name, "%s", c);
            next = r->to;
            m->nruns++;
        } else {
            goto bad;
        }
    }
    if (next != m->size)
        goto bad;
    *ok = 1;
    goto out;
bad:
    snprintf(why, why_len, "index meta is malformed");
out:
    free(text);
    return 0;
}

static int
meta_write(const meta *m, const char *dir, const uint8_t *key)
{
    afs_buf b = AFS_BUF_INIT;
    char root[48], h1[65], h2[65];
    uint8_t sum[32];
    afs_b64_encode(root, m->root.b, 32);
    int err = afs_buf_printf(&b, META_FORMAT "\nsize %llu\nroot %s\nfields %s\n",
                             (unsigned long long)m->size, root, m->fields.text);
    for (size_t i = 0; i < m->nruns && !err; i++) {
        hex32(h1, m->runs[i].head_sha);
        hex32(h2, m->runs[i].file_sha);
        err = afs_buf_printf(&b, "run %llu %llu %s %s %s\n", (unsigned long long)m->runs[i].from,
                             (unsigned long long)m->runs[i].to, m->runs[i].name, h1, h2);
    }
    if (!err) {
        meta_mac(sum, key, b.data, b.len);
        hex32(h1, sum);
        err = afs_buf_printf(&b, "mac %s\n", h1);
    }
    if (!err) {
        char path[4200];
        snprintf(path, sizeof path, "%s/meta", dir);
        err = write_file(path, b.data, b.len);
    }
    afs_buf_release(&b);
    return err;
}

/* Whether the tree (size, root) is a prefix of the ledger's head (auditfs_ledger_has_prefix). */
static int
prefix_of_head(auditfs_ledger *l, uint64_t size, const auditfs_hash *root)
{
    auditfs_checkpoint cp;
    int ok = 0;
    memset(&cp, 0, sizeof cp);
    cp.size = size;
    cp.root = *root;
    if (auditfs_ledger_has_prefix(&ok, l, &cp) != 0)
        ok = 0;
    auditfs_error_clear();
    return ok;
}

/* ---- reading runs ---- */

typedef struct run {
    run_desc d;
    int fd;
    int usable;
    uint32_t nparts, ndays;
    uint64_t post_base, file_size;
    uint8_t *head; /* header, partition and day tables */
} run;

struct afs_index {
    char dir[4096];
    uint64_t size;
    fieldlist fields;
    run *runs;
    size_t nruns;
    char problem[256];
};

static void
run_bad(afs_index *ix, run *r, const char *what)
{
    if (r->usable && !ix->problem[0])
        snprintf(ix->problem, sizeof ix->problem,
                 "index run %s (entries %llu-%llu) is damaged (%s): those entries were scanned; "
                 "run `auditfs index --rebuild`",
                 r->d.name, (unsigned long long)r->d.from, (unsigned long long)r->d.to - 1, what);
    r->usable = 0;
}

static int
pread_all(int fd, void *p, size_t n, uint64_t off)
{
    uint8_t *c = p;
    while (n) {
        ssize_t r = pread(fd, c, n, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return 0;
        c += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return 1;
}

static void
run_open(afs_index *ix, run *r)
{
    char path[4200];
    uint8_t hdr[IX_HEADER], h[32];
    r->usable = 1;
    r->fd = -1;
    snprintf(path, sizeof path, "%s/%s", ix->dir, r->d.name);
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
        run_bad(ix, r, "missing");
        return;
    }
    if (!pread_all(r->fd, hdr, sizeof hdr, 0) || memcmp(hdr, IX_MAGIC, 8) != 0) {
        run_bad(ix, r, "header");
        return;
    }
    r->nparts = afs_load_be32(hdr + 24);
    r->ndays = afs_load_be32(hdr + 28);
    r->post_base = afs_load_be64(hdr + 40);
    r->file_size = afs_load_be64(hdr + 48);
    if (afs_load_be64(hdr + 8) != r->d.from || afs_load_be64(hdr + 16) != r->d.to ||
        r->nparts == 0 || r->nparts > (1u << 24) || r->ndays > (1u << 24)) {
        run_bad(ix, r, "header");
        return;
    }
    size_t head_len = IX_HEADER + (size_t)r->nparts * IX_PART + (size_t)r->ndays * IX_DAY;
    r->head = malloc(head_len);
    if (!r->head || !pread_all(r->fd, r->head, head_len, 0)) {
        run_bad(ix, r, "header");
        return;
    }
    afs_sha256(h, r->head, head_len);
    if (memcmp(h, r->d.head_sha, 32) != 0)
        run_bad(ix, r, "header checksum");
}

int
afs_index_open(afs_index **out, auditfs_ledger *l, char *why, size_t why_len)
{
    afs_index *ix;
    meta *m;
    uint8_t *key = NULL;
    int ok, err = 0;
    *out = NULL;
    m = malloc(sizeof *m);
    ix = calloc(1, sizeof *ix);
    if (!m || !ix) {
        free(m);
        free(ix);
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    }
    if ((err = index_dir(ix->dir, sizeof ix->dir, l)) != 0)
        goto fail;
    if (afs_index_key_load(&key, 0) != 0) {
        snprintf(why, why_len, "no index key: %s", auditfs_error_last());
        auditfs_error_clear();
        goto fail;
    }
    if ((err = meta_read(m, ix->dir, key, &ok, why, why_len)) != 0 || !ok)
        goto fail;
    if (m->size > l->cp.size) {
        snprintf(why, why_len, "the index covers %llu entries, the ledger has %llu",
                 (unsigned long long)m->size, (unsigned long long)l->cp.size);
        goto fail;
    }
    if (!prefix_of_head(l, m->size, &m->root)) {
        snprintf(why, why_len, "the index was built for another ledger or history");
        goto fail;
    }
    ix->size = m->size;
    ix->fields = m->fields;
    /* the strtok pointers point into m->fields.buf: re-parse in place */
    if (fields_parse(&ix->fields, m->fields.text) != 0) {
        auditfs_error_clear();
        snprintf(why, why_len, "index meta: bad field list");
        goto fail;
    }
    ix->runs = calloc(m->nruns ? m->nruns : 1, sizeof *ix->runs);
    if (!ix->runs) {
        err = afs_error_set(AUDITFS_ENOMEM, "out of memory");
        goto fail;
    }
    ix->nruns = m->nruns;
    for (size_t i = 0; i < m->nruns; i++) {
        ix->runs[i].d = m->runs[i];
        run_open(ix, &ix->runs[i]);
    }
    free(m);
    afs_index_key_free(key);
    *out = ix;
    return 0;
fail:
    free(m);
    afs_index_key_free(key);
    afs_index_close(ix);
    return err;
}

uint64_t
afs_index_size(const afs_index *ix)
{
    return ix->size;
}

const char *
afs_index_problem(const afs_index *ix)
{
    return ix->problem;
}

int
afs_index_has_field(const afs_index *ix, const char *field)
{
    if (field[0] == '_') {
        for (size_t i = 0; header_names[i]; i++)
            if (!strcmp(field, header_names[i]))
                return 1;
        return 0;
    }
    return fields_has(&ix->fields, field, strlen(field));
}

/* The niv intervals of a key's postings (in [from, to), each exactly once, nothing left over)
 * pushed to found: 1, -1 if they are malformed, -2 out of memory. */
static int
decode_postings(afs_ivals *found, const uint8_t *post, uint32_t plen, uint32_t niv,
                uint64_t from, uint64_t to)
{
    size_t po = 0;
    uint64_t prev = from;
    for (uint32_t j = 0; j < niv; j++) {
        uint64_t gap, l1;
        if (!get_varint(&gap, post, plen, &po) || !get_varint(&l1, post, plen, &po) ||
            gap > to - prev || l1 >= to - prev - gap)
            return -1;
        uint64_t a = prev + gap, b = a + l1 + 1;
        if (afs_ivals_push(found, a, b) != 0)
            return -2;
        prev = b;
    }
    return po == plen ? 1 : -1;
}

/* Looks a key up in one run: 1 found (intervals pushed to a temp set), 0 absent, -1 damaged. */
static int
run_lookup(afs_index *ix, run *r, const char *key, size_t klen, afs_ivals *found)
{
    uint32_t p = (uint32_t)(fnv1a(key, klen) % r->nparts);
    const uint8_t *pt = r->head + IX_HEADER + (size_t)p * IX_PART;
    uint64_t off = afs_load_be64(pt);
    uint32_t len = afs_load_be32(pt + 8), nk = afs_load_be32(pt + 12);
    uint8_t h[32];
    if (off > r->file_size || len > r->file_size - off || len > (64u << 20)) {
        run_bad(ix, r, "partition table");
        return -1;
    }
    uint8_t *part = malloc(len ? len : 1);
    if (!part || !pread_all(r->fd, part, len, off)) {
        free(part);
        run_bad(ix, r, "partition");
        return -1;
    }
    afs_sha256(h, part, len);
    if (memcmp(h, pt + 16, 32) != 0) {
        free(part);
        run_bad(ix, r, "partition checksum");
        return -1;
    }
    size_t o = 0;
    int rc = 0;
    for (uint32_t i = 0; i < nk; i++) {
        if (len - o < 2) {
            rc = -1;
            break;
        }
        size_t kl = (size_t)part[o] << 8 | part[o + 1];
        if (len - o - 2 < kl + 32) {
            rc = -1;
            break;
        }
        const uint8_t *k = part + o + 2, *rec = part + o + 2 + kl;
        o += 2 + kl + 32;
        if (kl != klen || memcmp(k, key, klen) != 0)
            continue;
        uint64_t poff = afs_load_be64(rec);
        uint32_t plen = afs_load_be32(rec + 8), niv = afs_load_be32(rec + 12);
        if (poff > r->file_size - r->post_base || plen > r->file_size - r->post_base - poff) {
            rc = -1;
            break;
        }
        uint8_t *post = malloc(plen ? plen : 1);
        if (!post || !pread_all(r->fd, post, plen, r->post_base + poff)) {
            free(post);
            rc = -1;
            break;
        }
        afs_sha256(h, post, plen);
        if (memcmp(h, rec + 16, 16) != 0) {
            free(post);
            rc = -1;
            break;
        }
        rc = decode_postings(found, post, plen, niv, r->d.from, r->d.to);
        free(post);
        break;
    }
    free(part);
    if (rc == -1)
        run_bad(ix, r, "postings");
    return rc;
}

int
afs_index_lookup(afs_ivals *out, afs_index *ix, const char *field, const char *value, size_t vlen)
{
    char key[AFS_VALUE_MAX + 4200];
    afs_ivals found = AFS_IVALS_INIT;
    int err = 0;
    if (strlen(field) > 4000)
        return afs_ivals_add(out, 0, ix->size);
    size_t klen = make_key(key, field, value, vlen);
    for (size_t i = 0; i < ix->nruns && !err; i++) {
        run *r = &ix->runs[i];
        if (r->usable) {
            int rc = run_lookup(ix, r, key, klen, &found);
            if (rc == -2)
                err = AUDITFS_ENOMEM;
            else if (rc == -1) /* damaged: the whole range is a candidate */
                err = afs_ivals_push(&found, r->d.from, r->d.to);
        } else {
            err = afs_ivals_push(&found, r->d.from, r->d.to);
        }
    }
    if (!err)
        err = afs_ivals_merge(out, &found);
    afs_ivals_release(&found);
    return err;
}

int
afs_index_days(afs_ivals *out, afs_index *ix, int64_t d0, int64_t d1)
{
    afs_ivals found = AFS_IVALS_INIT;
    int err = 0;
    for (size_t i = 0; i < ix->nruns && !err; i++) {
        run *r = &ix->runs[i];
        if (!r->usable) {
            err = afs_ivals_add(&found, r->d.from, r->d.to);
            continue;
        }
        const uint8_t *dt = r->head + IX_HEADER + (size_t)r->nparts * IX_PART;
        for (uint32_t k = 0; k < r->ndays && !err; k++) {
            int64_t day = (int64_t)afs_load_be64(dt + (size_t)k * IX_DAY);
            uint64_t a = afs_load_be64(dt + (size_t)k * IX_DAY + 8);
            uint64_t b = afs_load_be64(dt + (size_t)k * IX_DAY + 16);
            if (day < d0 || day > d1)
                continue;
            if (a < r->d.from || b > r->d.to || a >= b) {
                run_bad(ix, r, "day table");
                err = afs_ivals_add(&found, r->d.from, r->d.to);
                break;
            }
            err = afs_ivals_add(&found, a, b);
        }
    }
    if (!err)
        err = afs_ivals_merge(out, &found);
    afs_ivals_release(&found);
    return err;
}

void
afs_index_day_name(char out[16], int64_t day)
{
    struct tm tm;
    time_t secs = (time_t)(day * 86400);
    if (day < -1000000 || day > 3000000 || !gmtime_r(&secs, &tm)) {
        snprintf(out, 16, "d%lld", (long long)day);
        return;
    }
    /* the year is within 5 digits (the day range above), month and day 2 each */
    snprintf(out, 16, "%04d-%02d-%02d", (tm.tm_year + 1900) % 100000, (tm.tm_mon + 1) % 100,
             tm.tm_mday % 100);
}

int
afs_index_event_window(afs_ivals *out, afs_index *ix, int64_t d0, int64_t d1, int ledger_too)
{
    afs_ivals found = AFS_IVALS_INIT, none = AFS_IVALS_INIT, days = AFS_IVALS_INIT,
              both = AFS_IVALS_INIT;
    int err = 0;
    char name[16];
    if (d1 < d0)
        return 0;
    /* every entry of a format-3 index posts _event_day, so a day that is not found has none */
    if (d1 - d0 >= AFS_INDEX_EVENT_DAYS_MAX)
        return afs_ivals_add(out, 0, afs_index_size(ix)); /* cannot narrow */
    for (int64_t d = d0; d <= d1 && !err; d++) {
        afs_index_day_name(name, d);
        err = afs_index_lookup(&found, ix, AFS_INDEX_EVENT_DAY, name, strlen(name));
    }
    if (!err && ledger_too) {
        /* entries without an event time whose ledger day is in the window */
        err = afs_index_lookup(&none, ix, AFS_INDEX_EVENT_DAY, "", 0);
        if (!err)
            err = afs_index_days(&days, ix, d0, d1);
        if (!err)
            err = afs_ivals_intersect(&both, &none, &days);
        if (!err)
            err = afs_ivals_merge(&found, &both);
    }
    if (!err)
        err = afs_ivals_merge(out, &found);
    afs_ivals_release(&found);
    afs_ivals_release(&none);
    afs_ivals_release(&days);
    afs_ivals_release(&both);
    return err;
}

void
afs_index_close(afs_index *ix)
{
    if (!ix)
        return;
    for (size_t i = 0; i < ix->nruns; i++) {
        if (ix->runs[i].fd >= 0)
            close(ix->runs[i].fd);
        free(ix->runs[i].head);
    }
    free(ix->runs);
    free(ix);
}

/* ---- updating ---- */

static int
lock_dir(int *fd, const char *dir)
{
    char path[4200];
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return afs_error_set(AUDITFS_EIO, "%s: %s", dir, strerror(errno));
    snprintf(path, sizeof path, "%s/lock", dir);
    *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (*fd < 0)
        return afs_error_set(AUDITFS_EIO, "%s: %s", path, strerror(errno));
    if (flock(*fd, LOCK_EX | LOCK_NB) != 0) {
        close(*fd);
        *fd = -1;
        return afs_error_set(AUDITFS_EBUSY, "the index is being updated by another process");
    }
    return 0;
}

/* Removes run files the meta does not reference. */
static void
sweep(const char *dir, const meta *m)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    if (!d)
        return;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] != 'r')
            continue;
        int keep = 0;
        for (size_t i = 0; i < m->nruns && !keep; i++)
            keep = strcmp(de->d_name, m->runs[i].name) == 0;
        if (!keep) {
            char path[4400];
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            unlink(path);
        }
    }
    closedir(d);
}

static int
run_head_ok(const char *dir, const run_desc *rd)
{
    afs_index tmp;
    run r;
    memset(&tmp, 0, sizeof tmp);
    memset(&r, 0, sizeof r);
    snprintf(tmp.dir, sizeof tmp.dir, "%s", dir);
    r.d = *rd;
    run_open(&tmp, &r);
    if (r.fd >= 0)
        close(r.fd);
    free(r.head);
    return r.usable;
}

static int
index_update(auditfs_ledger *l, const char *new_fields, int rebuild)
{
    char dir[4096], why[200];
    int fd = -1, ok = 0, err;
    uint8_t *key = NULL;
    meta *m = malloc(sizeof *m);
    if (!m)
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    if ((err = afs_index_key_load(&key, 1)) != 0 || (err = index_dir(dir, sizeof dir, l)) != 0 ||
        (err = lock_dir(&fd, dir)) != 0)
        goto done;
    /* a meta this party cannot authenticate is not built upon: the index is built again */
    if ((err = meta_read(m, dir, key, &ok, why, sizeof why)) != 0)
        goto done;
    if (ok && !prefix_of_head(l, m->size, &m->root))
        ok = 0;
    char fields[512];
    snprintf(fields, sizeof fields, "%s",
             new_fields ? new_fields : ok ? m->fields.text : AUDITFS_INDEX_DEFAULT_FIELDS);
    if (!ok || rebuild || (new_fields && strcmp(new_fields, m->fields.text) != 0)) {
        memset(m, 0, sizeof *m);
    } else {
        /* keep the runs up to the first one whose header does not check */
        for (size_t i = 0; i < m->nruns; i++)
            if (!run_head_ok(dir, &m->runs[i])) {
                m->nruns = i;
                m->size = m->runs[i].from;
                break;
            }
    }
    if ((err = fields_parse(&m->fields, fields)) != 0)
        goto done;
    uint64_t head = l->cp.size;
    if (m->size == head && ok && !rebuild) {
        if (!new_fields)
            goto done;
    }
    if (m->size < head &&
        (err = index_range(l, dir, &m->fields, m->size, head, m->runs, &m->nruns)) != 0)
        goto done;
    /* merge the newest runs while the newer is at least half the older (a binary counter) */
    while (m->nruns >= 2) {
        run_desc *a = &m->runs[m->nruns - 2], *b = &m->runs[m->nruns - 1];
        uint64_t na = a->to - a->from, nb = b->to - b->from;
        if (nb * 2 < na || na + nb > RUN_MAX_ENTRIES)
            break;
        run_desc merged[1];
        size_t nm = 0;
        if ((err = index_range(l, dir, &m->fields, a->from, b->to, merged, &nm)) != 0)
            goto done;
        m->nruns -= 2;
        for (size_t i = 0; i < nm; i++)
            m->runs[m->nruns++] = merged[i];
    }
    m->size = head;
    m->root = l->cp.root;
    if ((err = meta_write(m, dir, key)) != 0)
        goto done;
    sweep(dir, m);
done:
    if (fd >= 0)
        close(fd);
    afs_index_key_free(key);
    free(m);
    return err;
}

int
auditfs_index_update(auditfs_ledger *l)
{
    return index_update(l, NULL, 0);
}

int
auditfs_index_rebuild(auditfs_ledger *l, const char *fields)
{
    if (fields) {
        fieldlist fl;
        int err = fields_parse(&fl, fields);
        if (err)
            return err;
    }
    return index_update(l, fields, 1);
}

int
auditfs_index_update_opts(auditfs_ledger *l, const auditfs_index_options *opts)
{
    const auditfs_progress *prev = afs_progress_begin(opts ? &opts->progress : NULL);
    int err = opts && opts->rebuild ? auditfs_index_rebuild(l, opts->fields)
                                    : auditfs_index_update(l);
    afs_progress_end(prev);
    return err;
}

int
auditfs_index_status_get(auditfs_index_status *out, auditfs_ledger *l, int deep)
{
    char dir[4096], why[200] = "";
    int ok = 0, err;
    uint8_t *key = NULL;
    meta *m = malloc(sizeof *m);
    memset(out, 0, sizeof *out);
    if (!m)
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    if ((err = index_dir(dir, sizeof dir, l)) != 0)
        goto done;
    if (afs_index_key_load(&key, 0) != 0) {
        snprintf(out->problem, sizeof out->problem, "no index key: %.200s", auditfs_error_last());
        auditfs_error_clear();
        goto done;
    }
    if ((err = meta_read(m, dir, key, &ok, why, sizeof why)) != 0)
        goto done;
    if (!ok) {
        snprintf(out->problem, sizeof out->problem, "%s", why);
        goto done;
    }
    out->present = 1;
    out->size = m->size;
    out->runs = m->nruns;
    snprintf(out->fields, sizeof out->fields, "%s", m->fields.text);
    if (!prefix_of_head(l, m->size, &m->root))
        snprintf(out->problem, sizeof out->problem,
                 "the index was built for another ledger or history (ignored by queries)");
    for (size_t i = 0; i < m->nruns; i++) {
        char path[4200];
        uint8_t *data = NULL, h[32];
        size_t len = 0;
        snprintf(path, sizeof path, "%s/%s", dir, m->runs[i].name);
        struct stat st;
        if (stat(path, &st) == 0)
            out->bytes += (uint64_t)st.st_size;
        if (len == 0 && stat(path, &st) == 0 && st.st_size >= IX_HEADER) {
            int fd = open(path, O_RDONLY | O_CLOEXEC);
            uint8_t hdr[IX_HEADER];
            if (fd >= 0 && pread_all(fd, hdr, sizeof hdr, 0))
                out->keys += afs_load_be64(hdr + 32);
            if (fd >= 0)
                close(fd);
        }
        if (!deep && run_head_ok(dir, &m->runs[i]))
            continue;
        if (deep && afs_read_file((char **)&data, &len, path, (size_t)1 << 34) == 0) {
            afs_sha256(h, data, len);
            free(data);
            if (memcmp(h, m->runs[i].file_sha, 32) == 0)
                continue;
        }
        auditfs_error_clear();
        if (!out->problem[0])
            snprintf(out->problem, sizeof out->problem,
                     "run %s (entries %llu-%llu) is damaged or missing", m->runs[i].name,
                     (unsigned long long)m->runs[i].from,
                     (unsigned long long)m->runs[i].to - 1);
    }
    if (m->size < l->cp.size && !out->problem[0])
        snprintf(out->problem, sizeof out->problem,
                 "the index covers %llu of %llu entries (the rest is scanned)",
                 (unsigned long long)m->size, (unsigned long long)l->cp.size);
done:
    afs_index_key_free(key);
    free(m);
    return err;
}
