/*
 * ledger/bundle.c - incident evidence bundles: the recorded query (query.txt), the selection
 * that defines a complete bundle, writing, loading, the manifest, and the offline checks of
 * `verify-bundle` and `incident --check`. The report is report.c; the layout is bundle.h.
 */
#include "bundle_int.h"
#include "index.h"
#include "auditfs/merkle.h"
#include "auditfs/proof.h"
#include "auditfs/report.h"
#include "auditfs/witness.h"

#include <dirent.h>
#include <sodium.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define QUERY_TXT_MAX (1u << 20)
#define MANIFEST_MAX (1u << 26)
#define CHECKPOINT_MAX 65536

/* ---- small helpers ---- */

static void
hex(char *out, const uint8_t *p, size_t n)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[p[i] >> 4];
        out[2 * i + 1] = d[p[i] & 15];
    }
    out[2 * n] = 0;
}

static int
put_file(const char *dir, const char *rel, const void *p, size_t n)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, rel) >= (int)sizeof path)
        return afs_error_set(AUDITFS_EINVAL, "%.100s...: path too long", dir);
    char *slash = strrchr(path, '/');
    *slash = 0;
    int err = afs_mkdirs(path);
    *slash = '/';
    return err ? err : afs_write_atomic(path, p, n, 0644);
}

/* reads dir/rel only if it is a regular file of at most max bytes */
static int
get_file(uint8_t **out, size_t *len, const char *dir, const char *rel, size_t max)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, rel) >= (int)sizeof path)
        return afs_error_set(AUDITFS_EINVAL, "%.100s...: path too long", dir);
    return afs_read_regular((char **)out, len, path, max);
}

static void
finding(auditfs_bundle_cb cb, void *ctx, auditfs_bundle_finding kind, const char *fmt, ...)
    AFS_PRINTF(4, 5);
static void
finding(auditfs_bundle_cb cb, void *ctx, auditfs_bundle_finding kind, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (cb)
        cb(ctx, kind, msg);
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- the bundle's query ---- */

int64_t
afs_bundle_when(const auditfs_bundle *b, const auditfs_entry *e)
{
    return b->time_event && e->has_event_time ? e->event_time_us : e->time_us;
}

int
afs_bundle_in_window(const auditfs_bundle *b, const auditfs_entry *e)
{
    int64_t t = afs_bundle_when(b, e);
    return t >= b->t1 && t < b->t2;
}

/* With "time event" the window is not a query term (the query language has no "event time,
 * else ledger time"): every caller also applies afs_bundle_in_window. The query only carries it
 * to the index, which then proposes the entries of the window's days (index.h). */
int
afs_bundle_query(auditfs_query **out, const auditfs_bundle *b)
{
    char t[128];
    auditfs_query *q = NULL;
    int err = auditfs_query_parse(&q, (const char *const *)b->terms, b->nterms, NULL);
    if (!err && !b->time_event) {
        snprintf(t, sizeof t, "_time>=%s", b->since);
        err = auditfs_query_add_term(q, t);
    }
    if (!err && !b->time_event) {
        snprintf(t, sizeof t, "_time<%s", b->until);
        err = auditfs_query_add_term(q, t);
    }
    if (!err && b->grep[0])
        err = auditfs_query_set_grep(q, b->grep);
    if (!err && b->time_event) /* lets the index narrow to the window's event (or ledger) days */
        err = afs_query_set_event_window(q, b->t1, b->t2);
    if (err) {
        auditfs_query_free(q);
        return err;
    }
    *out = q;
    return 0;
}

static int
query_txt(afs_buf *o, const auditfs_bundle *b)
{
    int err = afs_buf_printf(o, "auditfs-incident/1\nsince %s\nuntil %s\n", b->since, b->until);
    if (!err && b->tenant[0])
        err = afs_buf_printf(o, "tenant %s\n", b->tenant);
    for (size_t i = 0; i < b->nterms && !err; i++)
        err = afs_buf_printf(o, "term %s\n", b->terms[i]);
    if (!err && b->grep[0])
        err = afs_buf_printf(o, "grep %s\n", b->grep);
    if (!err)
        err = afs_buf_printf(o, "created %s\n", b->created);
    for (size_t i = 0; i < b->nledgers && !err; i++)
        err = afs_buf_printf(o, "ledger %s\n", b->lname[i]);
    /* absent in bundles written before the report format was versioned: version 1 */
    if (!err && b->report_version > 1)
        err = afs_buf_printf(o, "report %d\ntool auditfs %s\n", b->report_version, b->tool);
    /* report 3 on: the witnesses whose receipts the report lists */
    for (size_t i = 0; i < b->nwitness && !err && b->report_version >= 3; i++) {
        char *vk = NULL;
        if ((err = auditfs_cosig_verifier_format(&vk, b->witness[i])) == 0)
            err = afs_buf_printf(o, "witness %s\n", vk);
        free(vk);
    }
    /* report 4 on: which time selects the window and orders the timeline */
    if (!err && b->report_version >= 4)
        err = afs_buf_printf(o, "time %s\n", b->time_event ? "event" : "ledger");
    return err;
}

/* "witness <vkey>" of query.txt (report 3 on): a cosignature vkey, each key once */
static int
parse_witness_line(auditfs_bundle *b, const char *vk, int line)
{
    auditfs_verifier *w = NULL;
    if (b->nwitness == AFS_BUNDLE_MAX_WITNESSES)
        return afs_error_set(AUDITFS_EFORMAT, "query.txt line %d: more than %d witnesses", line,
                             AFS_BUNDLE_MAX_WITNESSES);
    if (auditfs_cosig_verifier_parse(&w, vk, strlen(vk)) != 0)
        return afs_error_wrap(AUDITFS_EFORMAT, "query.txt line %d: witness", line);
    for (size_t i = 0; i < b->nwitness; i++)
        if (auditfs_verifier_equal(b->witness[i], w) ||
            !strcmp(auditfs_verifier_name(b->witness[i]), auditfs_verifier_name(w))) {
            auditfs_verifier_free(w);
            return afs_error_set(AUDITFS_EFORMAT, "query.txt line %d: witness named twice", line);
        }
    b->witness[b->nwitness++] = w;
    return 0;
}

static int
parse_query_txt(auditfs_bundle *b, char *text, size_t len)
{
    char *save = NULL, esc[100];
    int line = 0, have_time = 0;
    if (memchr(text, 0, len))
        return afs_error_set(AUDITFS_EFORMAT, "query.txt: contains a NUL byte");
    b->report_version = 1;
    for (char *ln = strtok_r(text, "\n", &save); ln; ln = strtok_r(NULL, "\n", &save), line++) {
        if (line == 0) {
            if (strcmp(ln, "auditfs-incident/1") != 0)
                return afs_error_set(AUDITFS_EFORMAT, "query.txt: not an auditfs-incident/1 bundle");
        } else if (!strncmp(ln, "since ", 6) && strlen(ln + 6) < sizeof b->since) {
            strcpy(b->since, ln + 6);
        } else if (!strncmp(ln, "until ", 6) && strlen(ln + 6) < sizeof b->until) {
            strcpy(b->until, ln + 6);
        } else if (!strncmp(ln, "tenant ", 7) && auditfs_valid_stream(ln + 7)) {
            strcpy(b->tenant, ln + 7);
        } else if (!strncmp(ln, "term ", 5) && b->nterms < AUDITFS_BUNDLE_MAX_TERMS) {
            if (!(b->terms[b->nterms++] = strdup(ln + 5)))
                return afs_error_set(AUDITFS_ENOMEM, "out of memory");
        } else if (!strncmp(ln, "grep ", 5) && strlen(ln + 5) < sizeof b->grep) {
            strcpy(b->grep, ln + 5);
        } else if (!strncmp(ln, "created ", 8) && strlen(ln + 8) < sizeof b->created) {
            strcpy(b->created, ln + 8);
        } else if (!strncmp(ln, "ledger ", 7) && auditfs_valid_stream(ln + 7) &&
                   b->nledgers < AUDITFS_BUNDLE_MAX_LEDGERS) {
            strcpy(b->lname[b->nledgers++], ln + 7);
        } else if (!strncmp(ln, "tool auditfs ", 13) && strlen(ln + 13) < sizeof b->tool &&
                   b->report_version > 1) {
            strcpy(b->tool, ln + 13);
        } else if (!strncmp(ln, "report ", 7) && strlen(ln + 7) == 1 && ln[7] >= '2' &&
                   ln[7] <= '0' + AUDITFS_REPORT_CURRENT) {
            b->report_version = ln[7] - '0';
        } else if ((!strcmp(ln, "time event") || !strcmp(ln, "time ledger")) &&
                   b->report_version >= 4 && !have_time) {
            b->time_event = ln[5] == 'e';
            have_time = 1;
        } else if (!strncmp(ln, "witness ", 8) && b->report_version >= 3) {
            int err = parse_witness_line(b, ln + 8, line + 1);
            if (err)
                return err;
        } else {
            return afs_error_set(AUDITFS_EFORMAT, "query.txt line %d: '%s'", line + 1,
                                 afs_escape(esc, sizeof esc, ln, strlen(ln)));
        }
    }
    if (!auditfs_parse_time(&b->t1, b->since) || !auditfs_parse_time(&b->t2, b->until) ||
        !b->nledgers)
        return afs_error_set(AUDITFS_EFORMAT, "query.txt: missing since, until or ledger");
    if (b->report_version >= 4 && !have_time)
        return afs_error_set(AUDITFS_EFORMAT, "query.txt: report %d needs a time line",
                             b->report_version);
    for (size_t i = 0; i < b->nledgers; i++)
        for (size_t j = 0; j < i; j++)
            if (!strcmp(b->lname[i], b->lname[j]))
                return afs_error_set(AUDITFS_EFORMAT, "query.txt: ledger %s twice", b->lname[i]);
    int err = afs_bundle_query(&b->q, b);
    return err ? afs_error_wrap(err, "query.txt") : 0;
}

/* ---- loading ---- */

void
auditfs_bundle_free(auditfs_bundle *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->nterms; i++)
        free(b->terms[i]);
    for (size_t i = 0; i < b->nwitness; i++)
        auditfs_verifier_free(b->witness[i]);
    for (size_t i = 0; i < b->nledgers; i++) {
        free(b->cp_note[i]);
        free(b->cosig[i]);
        auditfs_verifier_free(b->key[i]);
    }
    for (size_t i = 0; i < b->n; i++) {
        free(b->e[i].leaf);
        free(b->e[i].content);
    }
    free(b->e);
    auditfs_query_free(b->q);
    auditfs_matrix_free(b->m);
    free(b->dir);
    free(b);
}

size_t
auditfs_bundle_ledger_count(const auditfs_bundle *b)
{
    return b->nledgers;
}

const char *
auditfs_bundle_ledger_name(const auditfs_bundle *b, size_t i)
{
    return i < b->nledgers ? b->lname[i] : NULL;
}

int
auditfs_bundle_report_version(const auditfs_bundle *b)
{
    return b->report_version;
}

static int
add_entry(auditfs_bundle *b, int ledger, uint8_t *leaf, size_t len)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        void *v = realloc(b->e, cap * sizeof *b->e);
        if (!v)
            return afs_error_set(AUDITFS_ENOMEM, "out of memory");
        b->e = v;
        b->cap = cap;
    }
    afs_bentry *x = &b->e[b->n];
    memset(x, 0, sizeof *x);
    x->ledger = ledger;
    x->leaf = leaf;
    x->leaf_len = len;
    int err = auditfs_entry_parse(&x->e, leaf, len);
    if (err)
        return err;
    b->n++;
    return 0;
}

/* The canonical numbers N of the N<suffix> files in dir/rel, ascending (other names are
 * ignored here and refused by auditfs_bundle_check_layout). */
static int
numbered_files(uint64_t **out, size_t *n, const char *dir, const char *rel, const char *suffix)
{
    size_t sl = strlen(suffix);
    char edir[4096];
    uint64_t *seqs = NULL;
    size_t ns = 0, cs = 0;
    int err = 0;
    *out = NULL;
    *n = 0;
    snprintf(edir, sizeof edir, "%s/%s", dir, rel);
    DIR *d = opendir(edir);
    if (!d)
        return 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t nl = strlen(de->d_name);
        uint64_t s;
        if (nl > sl && !strcmp(de->d_name + nl - sl, suffix) &&
            afs_parse_u64(&s, de->d_name, nl - sl)) {
            if (ns == AUDITFS_BUNDLE_MAX_FILES) {
                err = afs_error_set(AUDITFS_ETOOBIG, "%s: more than %d entries", rel,
                                    AUDITFS_BUNDLE_MAX_FILES);
                break;
            }
            if (ns == cs) {
                cs = cs ? cs * 2 : 64;
                uint64_t *v = realloc(seqs, cs * sizeof *seqs);
                if (!v) {
                    err = afs_error_set(AUDITFS_ENOMEM, "out of memory");
                    break;
                }
                seqs = v;
            }
            seqs[ns++] = s;
        }
    }
    closedir(d);
    if (err) {
        free(seqs);
        return err;
    }
    qsort(seqs, ns, sizeof *seqs, cmp_u64);
    *out = seqs;
    *n = ns;
    return 0;
}

static int
load_ledger(auditfs_bundle *b, size_t li)
{
    const char *dir = b->dir;
    char rel[512];
    int err;
    snprintf(rel, sizeof rel, "ledgers/%s/checkpoint", b->lname[li]);
    if ((err = get_file((uint8_t **)&b->cp_note[li], &b->cp_len[li], dir, rel, CHECKPOINT_MAX)))
        return err;
    const char *sep = strstr(b->cp_note[li], "\n\n");
    if (!sep || auditfs_checkpoint_parse(&b->cp[li], b->cp_note[li],
                                         (size_t)(sep - b->cp_note[li]) + 1) != 0)
        return afs_error_set(AUDITFS_EFORMAT, "%s: not a checkpoint", rel);
    snprintf(rel, sizeof rel, "ledgers/%s/cosignatures", b->lname[li]);
    if ((err = numbered_files(&b->cosig[li], &b->ncosig[li], dir, rel, ".checkpoint")) != 0)
        return err;
    /* the key the bundle carries: informative only (named in the report) */
    uint8_t *kp = NULL;
    size_t kl;
    snprintf(rel, sizeof rel, "ledgers/%s/key.pub", b->lname[li]);
    if (get_file(&kp, &kl, dir, rel, 4096) == 0) {
        auditfs_verifier *v = NULL;
        while (kl && (kp[kl - 1] == '\n'))
            kp[--kl] = 0;
        if (auditfs_verifier_parse(&v, (const char *)kp, kl) == 0) {
            b->key_id[li] = auditfs_verifier_key_id(v);
            snprintf(b->key_name[li], sizeof b->key_name[li], "%s", auditfs_verifier_name(v));
            b->key[li] = v;
        }
        free(kp);
    }
    uint64_t *seqs = NULL;
    size_t ns = 0;
    snprintf(rel, sizeof rel, "ledgers/%s/entries", b->lname[li]);
    if ((err = numbered_files(&seqs, &ns, dir, rel, ".leaf")) != 0)
        return err;
    for (size_t i = 0; i < ns && !err; i++) {
        uint8_t *leaf;
        size_t ll;
        snprintf(rel, sizeof rel, "ledgers/%s/entries/%llu.leaf", b->lname[li],
                 (unsigned long long)seqs[i]);
        if ((err = get_file(&leaf, &ll, dir, rel, AUDITFS_LEAF_MAX)) != 0)
            break;
        if ((err = add_entry(b, (int)li, leaf, ll)) != 0) {
            free(leaf);
            err = afs_error_wrap(err, "%s", rel);
            break;
        }
        afs_bentry *x = &b->e[b->n - 1];
        if (x->e.seq != seqs[i]) {
            err = afs_error_set(AUDITFS_EVERIFY, "%s holds entry %llu", rel,
                                (unsigned long long)x->e.seq);
            break;
        }
        if (x->e.has_content) {
            snprintf(rel, sizeof rel, "ledgers/%s/content/%llu", b->lname[li],
                     (unsigned long long)seqs[i]);
            if (x->e.content_length > AUDITFS_BUNDLE_FILE_MAX)
                err = afs_error_set(AUDITFS_ETOOBIG, "%s: entry claims %llu bytes", rel,
                                    (unsigned long long)x->e.content_length);
            else
                err = get_file(&x->content, &x->content_len, dir, rel,
                               (size_t)x->e.content_length);
            if (err)
                break;
        }
        x->hit = auditfs_query_match(b->q, &x->e) && afs_bundle_in_window(b, &x->e);
    }
    free(seqs);
    return err;
}

/* The matrix in force at the start of the window: the last matrix/responsibility published
 * before T1 in any of the bundle's ledgers, else the first one; else the default file. */
static void
load_matrix(auditfs_bundle *b)
{
    const afs_bentry *best = NULL, *first = NULL;
    uint8_t *text = NULL;
    size_t len;
    for (size_t i = 0; i < b->n; i++) {
        const afs_bentry *x = &b->e[i];
        if (auditfs_entry_type_of(&x->e) != AUDITFS_TYPE_DOCUMENT ||
            strcmp(x->e.name, AUDITFS_MATRIX_DOC) || !x->content)
            continue;
        b->has_matrix_doc = 1;
        if (x->e.time_us < b->t1 && (!best || x->e.time_us >= best->e.time_us))
            best = x;
        if (!first || x->e.time_us < first->e.time_us)
            first = x;
    }
    if (!best)
        best = first;
    if (best) {
        char src[200];
        snprintf(src, sizeof src, "%s v%llu, %s entry %llu", AUDITFS_MATRIX_DOC,
                 (unsigned long long)best->e.version, b->lname[best->ledger],
                 (unsigned long long)best->e.seq);
        if (auditfs_matrix_parse(&b->m, best->content, best->content_len) == 0)
            snprintf(b->matrix_source, sizeof b->matrix_source, "%s", src);
        else
            snprintf(b->matrix_source, sizeof b->matrix_source,
                     "%.120s (not a valid auditfs-responsibility/1 document)", src);
    } else if (get_file(&text, &len, b->dir, "responsibility-default.json",
                        AUDITFS_MATRIX_MAX_BYTES) == 0) {
        const char *def = auditfs_matrix_default();
        b->matrix_default = 1;
        b->matrix_default_exact = len == strlen(def) && !memcmp(text, def, len);
        if (auditfs_matrix_parse(&b->m, text, len) == 0)
            snprintf(b->matrix_source, sizeof b->matrix_source,
                     "responsibility-default.json (no matrix was published in the ledgers: the "
                     "default shared-responsibility model, not proven by any ledger)");
        free(text);
    }
}

int
auditfs_bundle_load(auditfs_bundle **out, const char *dir)
{
    uint8_t *text = NULL;
    size_t len;
    int err;
    *out = NULL;
    auditfs_bundle *b = calloc(1, sizeof *b);
    if (!b || !(b->dir = strdup(dir))) {
        free(b);
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    }
    if ((err = get_file(&text, &len, dir, "query.txt", QUERY_TXT_MAX)) == 0) {
        err = parse_query_txt(b, (char *)text, len);
        free(text);
    }
    for (size_t li = 0; li < b->nledgers && !err; li++)
        err = load_ledger(b, li);
    if (err) {
        auditfs_bundle_free(b);
        return err;
    }
    load_matrix(b);
    auditfs_error_clear();
    *out = b;
    return 0;
}

/* ---- the selection that defines completeness ---- */

typedef struct sel {
    uint64_t *seq;
    size_t n, cap;
} sel;

static int
sel_add(sel *s, uint64_t seq)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        uint64_t *v = realloc(s->seq, cap * sizeof *v);
        if (!v)
            return afs_error_set(AUDITFS_ENOMEM, "out of memory");
        s->seq = v;
        s->cap = cap;
    }
    s->seq[s->n++] = seq;
    return 0;
}

typedef struct ctx_sel {
    const auditfs_bundle *b;
    sel *s;
} ctx_sel;

static int
sel_cb(void *vctx, const auditfs_entry *e, const uint8_t *leaf, size_t len)
{
    ctx_sel *c = vctx;
    (void)leaf;
    (void)len;
    return afs_bundle_in_window(c->b, e) ? sel_add(c->s, e->seq) : 0;
}

typedef struct ctx_docs {
    const auditfs_bundle *b;
    sel *s;
    /* per document name: its last version published before T1 */
    char (*names)[AUDITFS_DOCNAME_MAX + 1];
    uint64_t *best;
    size_t nn, cap;
} ctx_docs;

static int
docs_cb(void *vctx, const auditfs_entry *e, const uint8_t *leaf, size_t len)
{
    ctx_docs *c = vctx;
    (void)leaf;
    (void)len;
    if (c->b->tenant[0] && e->tenant[0] && strcmp(e->tenant, c->b->tenant))
        return 0;
    if (auditfs_entry_type_of(e) == AUDITFS_TYPE_NOTICE) {
        if (e->time_us < c->b->t2 || (e->has_effective && e->effective_us < c->b->t2))
            return sel_add(c->s, e->seq);
        return 0;
    }
    if (e->time_us >= c->b->t2)
        return 0;
    if (e->time_us >= c->b->t1)
        return sel_add(c->s, e->seq);
    for (size_t i = 0; i < c->nn; i++)
        if (!strcmp(c->names[i], e->name)) {
            c->best[i] = e->seq; /* ledger order: later replaces earlier */
            return 0;
        }
    if (c->nn == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        void *a = realloc(c->names, cap * sizeof *c->names);
        if (!a)
            return afs_error_set(AUDITFS_ENOMEM, "out of memory");
        c->names = a;
        void *bb = realloc(c->best, cap * sizeof *c->best);
        if (!bb)
            return afs_error_set(AUDITFS_ENOMEM, "out of memory");
        c->best = bb;
        c->cap = cap;
    }
    snprintf(c->names[c->nn], sizeof c->names[c->nn], "%s", e->name);
    c->best[c->nn++] = e->seq;
    return 0;
}

/*
 * The seqs a bundle for b must hold from ledger l among entries [0, size), sorted and unique:
 * the hits of the recorded query, and as context every document version in force during the
 * window (the last before T1 and any inside it) and every notice published or effective before
 * T2, limited to those that concern the bundle's tenant.
 */
static int
select_entries(sel *out, const auditfs_bundle *b, auditfs_ledger *l, uint64_t size, int no_index)
{
    auditfs_query_options o = AUDITFS_QUERY_OPTIONS_INIT;
    char t[64];
    int err;
    auditfs_query *q = NULL, *qd = NULL;
    const char *dn[] = {"_type=document", "_type=notice"};
    ctx_docs c;
    ctx_sel cs = {b, out};
    o.no_index = no_index;
    o.no_update = no_index;
    memset(&c, 0, sizeof c);
    c.b = b;
    c.s = out;
    snprintf(t, sizeof t, "_seq<%llu", (unsigned long long)size);
    err = afs_bundle_query(&q, b);
    if (!err)
        err = auditfs_query_add_term(q, t);
    if (!err)
        err = auditfs_query_run(l, q, &o, sel_cb, &cs, NULL);
    if (!err)
        err = auditfs_query_parse(&qd, dn, 2, NULL);
    if (!err)
        err = auditfs_query_add_term(qd, t);
    if (!err)
        err = auditfs_query_run(l, qd, &o, docs_cb, &c, NULL);
    for (size_t i = 0; i < c.nn && !err; i++)
        err = sel_add(out, c.best[i]);
    free(c.names);
    free(c.best);
    auditfs_query_free(q);
    auditfs_query_free(qd);
    if (err)
        return err;
    if (out->n) /* out->seq is NULL when nothing was selected */
        qsort(out->seq, out->n, sizeof *out->seq, cmp_u64);
    size_t k = 0;
    for (size_t i = 0; i < out->n; i++)
        if (!k || out->seq[k - 1] != out->seq[i])
            out->seq[k++] = out->seq[i];
    out->n = k;
    return 0;
}

/* ---- the manifest ---- */

typedef struct flist {
    char **p;
    uint64_t *size;
    size_t n, cap;
} flist;

static void
flist_free(flist *fl)
{
    for (size_t i = 0; i < fl->n; i++)
        free(fl->p[i]);
    free(fl->p);
    free(fl->size);
    memset(fl, 0, sizeof *fl);
}

/*
 * Lists the regular files under root (relative paths, MANIFEST.sha256 left out). With strict,
 * anything that is not a directory or a regular file of at most AUDITFS_BUNDLE_FILE_MAX bytes
 * is reported through cb and counted in *bad instead of listed; without, it is an error.
 */
static int
walk(flist *fl, const char *root, const char *rel, int depth, size_t *bad, auditfs_bundle_cb cb,
     void *ctx)
{
    char path[4096], esc[300];
    snprintf(path, sizeof path, "%s%s%s", root, rel[0] ? "/" : "", rel);
    if (depth > 8)
        return afs_error_set(AUDITFS_EFORMAT, "%s: directories nested too deep", path);
    DIR *d = opendir(path);
    struct dirent *de;
    if (!d)
        return afs_error_set(AUDITFS_EIO, "%s: %s", path, strerror(errno));
    int err = 0;
    while (!err && (de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char r2[4096], full[8200];
        struct stat st;
        if (snprintf(r2, sizeof r2, "%s%s%s", rel, rel[0] ? "/" : "", de->d_name) >=
            (int)sizeof r2) {
            err = afs_error_set(AUDITFS_EFORMAT, "%s: a name too long", path);
            break;
        }
        snprintf(full, sizeof full, "%s/%s", root, r2);
        if (lstat(full, &st) != 0) {
            err = afs_error_set(AUDITFS_EIO, "%s: %s", full, strerror(errno));
            break;
        }
        afs_escape(esc, sizeof esc, r2, strlen(r2));
        if (S_ISDIR(st.st_mode)) {
            err = walk(fl, root, r2, depth + 1, bad, cb, ctx);
            continue;
        }
        if (!rel[0] && !strcmp(de->d_name, "MANIFEST.sha256"))
            continue;
        const char *why = !S_ISREG(st.st_mode) ? "not a regular file (a symbolic link, FIFO, "
                                                 "device or socket)"
                          : (uint64_t)st.st_size > AUDITFS_BUNDLE_FILE_MAX ? "larger than 1 GiB"
                          : strchr(r2, '\n') || strstr(r2, "  ") ? "a name the manifest "
                                                                   "cannot hold"
                                                                 : NULL;
        if (why) {
            if (!bad) {
                err = afs_error_set(AUDITFS_EFORMAT, "%s: %s", esc, why);
                break;
            }
            (*bad)++;
            finding(cb, ctx, AUDITFS_BUNDLE_FAIL, "%s: %s", esc, why);
            continue;
        }
        if (fl->n == AUDITFS_BUNDLE_MAX_FILES) {
            err = afs_error_set(AUDITFS_ETOOBIG, "%s: more than %d files", root,
                                AUDITFS_BUNDLE_MAX_FILES);
            break;
        }
        if (fl->n == fl->cap) {
            size_t cap = fl->cap ? fl->cap * 2 : 64;
            char **v = realloc(fl->p, cap * sizeof *v);
            uint64_t *s = v ? realloc(fl->size, cap * sizeof *s) : NULL;
            if (v)
                fl->p = v;
            if (!s) {
                err = afs_error_set(AUDITFS_ENOMEM, "out of memory");
                break;
            }
            fl->size = s;
            fl->cap = cap;
        }
        fl->size[fl->n] = (uint64_t)st.st_size;
        if (!(fl->p[fl->n++] = strdup(r2)))
            err = afs_error_set(AUDITFS_ENOMEM, "out of memory");
    }
    closedir(d);
    return err;
}

/* SHA-256 of a regular file of at most max bytes, streamed (never follows a symlink) */
static int
file_sha(char out[65], const char *dir, const char *rel, uint64_t max)
{
    char path[8200];
    uint8_t buf[65536], h[32];
    struct stat st;
    afs_sha256_ctx c;
    uint64_t total = 0;
    int err = 0;
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
        return afs_error_set(errno == ENOENT ? AUDITFS_ENOTFOUND : AUDITFS_EIO, "%s: %s", path,
                             strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
        close(fd);
        return afs_error_set(AUDITFS_EFORMAT, "%s: not a regular file of at most %llu bytes",
                             path, (unsigned long long)max);
    }
    afs_sha256_init(&c);
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err = afs_error_set(AUDITFS_EIO, "%s: %s", path, strerror(errno));
            break;
        }
        if (n == 0)
            break;
        total += (uint64_t)n;
        if (total > max) {
            err = afs_error_set(AUDITFS_ETOOBIG, "%s: grew past %llu bytes", path,
                                (unsigned long long)max);
            break;
        }
        afs_sha256_update(&c, buf, (size_t)n);
    }
    close(fd);
    if (err)
        return err;
    afs_sha256_final(&c, h);
    hex(out, h, 32);
    return 0;
}

static int
manifest_build(afs_buf *out, const char *dir)
{
    flist fl = {NULL, NULL, 0, 0};
    int err = walk(&fl, dir, "", 0, NULL, NULL, NULL);
    if (!err)
        qsort(fl.p, fl.n, sizeof *fl.p, cmp_str);
    for (size_t i = 0; i < fl.n && !err; i++) {
        char h[65];
        if ((err = file_sha(h, dir, fl.p[i], AUDITFS_BUNDLE_FILE_MAX)) == 0)
            err = afs_buf_printf(out, "%s  %s\n", h, fl.p[i]);
    }
    flist_free(&fl);
    return err;
}

typedef struct mline {
    char hash[65];
    const char *path;
} mline;

static int
cmp_mline(const void *a, const void *b)
{
    return strcmp(((const mline *)a)->path, ((const mline *)b)->path);
}

/*
 * Parses MANIFEST.sha256 (text, NUL-terminated, modified in place): "<64 lowercase hex>
 * <path>\n" lines, paths relative, unique, without "." or ".." parts. *out (sorted by path)
 * points into text.
 */
static int
parse_manifest(mline **out, size_t *count, char *text, size_t len)
{
    size_t nlines = 0, k = 0, lineno = 0;
    char esc[300];
    int err = 0;
    mline *ml;
    for (size_t i = 0; i < len; i++)
        nlines += text[i] == '\n';
    if (!(ml = calloc(nlines ? nlines : 1, sizeof *ml)))
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    for (char *p = (char *)text, *e; p < (char *)text + len; p = e + 1) {
        lineno++;
        if (!(e = memchr(p, '\n', (size_t)((char *)text + len - p)))) {
            err = afs_error_set(AUDITFS_EFORMAT, "MANIFEST.sha256 line %zu: no newline", lineno);
            goto cleanup;
        }
        *e = 0;
        size_t hl = 0;
        while (hl < 64 && ((p[hl] >= '0' && p[hl] <= '9') || (p[hl] >= 'a' && p[hl] <= 'f')))
            hl++;
        const char *path = p + 66;
        if (hl != 64 || e - p < 67 || p[64] != ' ' || p[65] != ' ' || path[0] == '/' ||
            !strncmp(path, "../", 3) || strstr(path, "/../") || strstr(path, "/./") ||
            !strncmp(path, "./", 2) || strstr(path, "//") || memchr(p, 0, (size_t)(e - p)) != NULL ||
            !strcmp(path, "MANIFEST.sha256")) {
            err = afs_error_set(AUDITFS_EFORMAT, "MANIFEST.sha256 line %zu: '%s' is not "
                                "\"<sha256>  <relative path>\"", lineno,
                                afs_escape(esc, 120, p, (size_t)(e - p)));
            goto cleanup;
        }
        memcpy(ml[k].hash, p, 64);
        ml[k].path = path;
        k++;
    }
    qsort(ml, k, sizeof *ml, cmp_mline);
    for (size_t i = 1; i < k; i++)
        if (!strcmp(ml[i].path, ml[i - 1].path)) {
            err = afs_error_set(AUDITFS_EFORMAT, "MANIFEST.sha256: '%s' listed twice",
                                afs_escape(esc, sizeof esc, ml[i].path, strlen(ml[i].path)));
            goto cleanup;
        }
cleanup:
    if (err) {
        free(ml);
        return err;
    }
    *out = ml;
    *count = k;
    return 0;
}

int
auditfs_bundle_check_manifest(const char *dir, auditfs_bundle_cb cb, void *ctx)
{
    uint8_t *text = NULL;
    size_t len, k = 0, bad = 0;
    mline *ml = NULL;
    flist fl = {NULL, NULL, 0, 0};
    char esc[300];
    int err = get_file(&text, &len, dir, "MANIFEST.sha256", MANIFEST_MAX);
    if (err)
        return err;
    if ((err = parse_manifest(&ml, &k, (char *)text, len)) != 0)
        goto cleanup;
    /* the files present: regular, bounded; what is not listed is a failure */
    if ((err = walk(&fl, dir, "", 0, &bad, cb, ctx)) != 0)
        goto cleanup;
    qsort(fl.p, fl.n, sizeof *fl.p, cmp_str);
    size_t i = 0, j = 0;
    while (i < k || j < fl.n) {
        int c = i == k ? 1 : j == fl.n ? -1 : strcmp(ml[i].path, fl.p[j]);
        if (c < 0) {
            finding(cb, ctx, AUDITFS_BUNDLE_FAIL, "manifest: %s (changed or missing)",
                    afs_escape(esc, sizeof esc, ml[i].path, strlen(ml[i].path)));
            bad++;
            i++;
        } else if (c > 0) {
            finding(cb, ctx, AUDITFS_BUNDLE_FAIL, "manifest: %s (a file the manifest does not "
                    "list)", afs_escape(esc, sizeof esc, fl.p[j], strlen(fl.p[j])));
            bad++;
            j++;
        } else {
            char h[65];
            if (file_sha(h, dir, ml[i].path, AUDITFS_BUNDLE_FILE_MAX) != 0 ||
                memcmp(h, ml[i].hash, 64) != 0) {
                finding(cb, ctx, AUDITFS_BUNDLE_FAIL, "manifest: %s (changed or missing)",
                        afs_escape(esc, sizeof esc, ml[i].path, strlen(ml[i].path)));
                bad++;
            }
            i++;
            j++;
        }
    }
    auditfs_error_clear();
    if (bad) {
        finding(cb, ctx, AUDITFS_BUNDLE_FAIL, "the files do not match MANIFEST.sha256");
        err = afs_error_set(AUDITFS_EVERIFY, "the files do not match MANIFEST.sha256");
    } else {
        finding(cb, ctx, AUDITFS_BUNDLE_OK, "every file matches MANIFEST.sha256");
    }
cleanup:
    flist_free(&fl);
    free(ml);
    free(text);
    return err;
}

/* ---- the layout its entries imply ---- */

/*
 * Reads ledgers/<name>/cosignatures/<size>.checkpoint of ledger li and checks that it is a
 * checkpoint note of the bundle's origin for the size its name says, at most the bundle's size,
 * with the bundle's root when it is the bundle's size; with key, also that key signed it. NULL
 * if all of that holds, else why not. With note, the file is handed over (malloc'd).
 */
static const char *
cosig_file_check(char **note_out, size_t *len_out, const auditfs_bundle *b, size_t li,
                 uint64_t size, const auditfs_verifier *key)
{
    char rel[512], *note = NULL;
    size_t len = 0;
    auditfs_checkpoint c;
    const char *why = NULL, *sep;
    snprintf(rel, sizeof rel, "ledgers/%s/cosignatures/%llu.checkpoint", b->lname[li],
             (unsigned long long)size);
    if (size > b->cp[li].size)
        why = "a size beyond the bundle's checkpoint";
    else if (get_file((uint8_t **)&note, &len, b->dir, rel, CHECKPOINT_MAX) != 0)
        why = "not a regular file of at most 64 KiB";
    else if (memchr(note, 0, len) || !(sep = strstr(note, "\n\n")) ||
             auditfs_checkpoint_parse(&c, note, (size_t)(sep - note) + 1) != 0)
        why = "not a checkpoint note";
    else if (strcmp(c.origin, b->cp[li].origin) != 0)
        why = "a checkpoint of another log";
    else if (c.size != size)
        why = "a checkpoint of another size than its name says";
    else if (size == b->cp[li].size && sodium_memcmp(c.root.b, b->cp[li].root.b, 32) != 0)
        why = "another root than the bundle's checkpoint of that size";
    else if (key && auditfs_checkpoint_open(&c, note, len, key, b->cp[li].origin) != 0)
        why = "not signed by the ledger's key";
    auditfs_error_clear();
    if (!why && note_out) {
        *note_out = note;
        *len_out = len;
    } else {
        free(note);
    }
    return why;
}

int
afs_bundle_cosig_note(char **note, size_t *len, const auditfs_bundle *b, size_t li, uint64_t size)
{
    const char *why = cosig_file_check(note, len, b, li, size, NULL);
    return why ? afs_error_set(AUDITFS_EVERIFY, "ledgers/%s/cosignatures/%llu.checkpoint: %s",
                               b->lname[li], (unsigned long long)size, why)
               : 0;
}

/*
 * Lists what the loaded bundle implies (its fixed files, per ledger its checkpoint and key,
 * per entry its leaf, proof and content) and merges that with what the directory holds.
 * Long because it builds the one list of what a bundle may hold (fixed files, per ledger, per
 * entry, receipts, cosigned checkpoints) and compares it with the directory in the same place,
 * so that nothing can be listed in one place and forgotten in the other.
 */
int
auditfs_bundle_check_layout(const auditfs_bundle *b, auditfs_bundle_cb cb, void *ctx)
{
    flist fl = {NULL, NULL, 0, 0};
    char **want = NULL;
    size_t nw = 0, bad = 0;
    char esc[300];
    /* special files were reported by auditfs_bundle_check_manifest: only counted here */
    int err = walk(&fl, b->dir, "", 0, &bad, NULL, NULL);
    if (err)
        return err;
    size_t cap = 6 + 2 * b->nledgers + 3 * b->n;
    for (size_t li = 0; li < b->nledgers; li++)
        cap += b->ncosig[li];
    if (!(want = calloc(cap, sizeof *want))) {
        flist_free(&fl);
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    }
#define WANT(...)                                                                              \
    do {                                                                                       \
        char w_[600];                                                                          \
        snprintf(w_, sizeof w_, __VA_ARGS__);                                                  \
        if (!(want[nw++] = strdup(w_)))                                                        \
            err = afs_error_set(AUDITFS_ENOMEM, "out of memory");                              \
    } while (0)
    WANT("query.txt");
    WANT("report.md");
    WANT("report.html");
    if (!b->has_matrix_doc)
        WANT("responsibility-default.json");
    /* the receipts when present: carried (auditfs acks recomputes them from the ledger) */
    for (size_t j = 0; j < fl.n && !err; j++)
        if (!strcmp(fl.p[j], "receipts.md") || !strcmp(fl.p[j], "receipts.jsonl"))
            WANT("%s", fl.p[j]);
    for (size_t li = 0; li < b->nledgers && !err; li++) {
        WANT("ledgers/%s/checkpoint", b->lname[li]);
        WANT("ledgers/%s/key.pub", b->lname[li]);
        /* cosigned checkpoints of this ledger up to the bundle's size; one that is not is
         * reported here and left unwanted, so it is also "not part of a bundle" below */
        for (size_t k = 0; k < b->ncosig[li] && !err; k++) {
            unsigned long long cs = (unsigned long long)b->cosig[li][k];
            const char *why = cosig_file_check(NULL, NULL, b, li, b->cosig[li][k], NULL);
            if (why) {
                finding(cb, ctx, AUDITFS_BUNDLE_FAIL, "ledgers/%s/cosignatures/%llu.checkpoint: "
                        "%s", b->lname[li], cs, why);
                bad++;
            } else {
                WANT("ledgers/%s/cosignatures/%llu.checkpoint", b->lname[li], cs);
            }
        }
    }
    for (size_t i = 0; i < b->n && !err; i++) {
        const afs_bentry *x = &b->e[i];
        const char *ln = b->lname[x->ledger];
        unsigned long long s = (unsigned long long)x->e.seq;
        WANT("ledgers/%s/entries/%llu.leaf", ln, s);
        WANT("ledgers/%s/entries/%llu.tlog-proof", ln, s);
        if (x->e.has_content)
            WANT("ledgers/%s/content/%llu", ln, s);
    }
#undef WANT
    if (!err) {
        qsort(want, nw, sizeof *want, cmp_str);
        qsort(fl.p, fl.n, sizeof *fl.p, cmp_str);
        size_t i = 0, j = 0;
        while (i < nw || j < fl.n) {
            int c = i == nw ? 1 : j == fl.n ? -1 : strcmp(want[i], fl.p[j]);
            if (c < 0) {
                finding(cb, ctx, AUDITFS_BUNDLE_FAIL, "%s: missing from the bundle", want[i]);
                bad++;
                i++;
            } else if (c > 0) {
                finding(cb, ctx, AUDITFS_BUNDLE_FAIL, "%s: not part of a bundle (no entry of the "
                        "bundle implies it)", afs_escape(esc, sizeof esc, fl.p[j],
                                                         strlen(fl.p[j])));
                bad++;
                j++;
            } else {
                i++;
                j++;
            }
        }
        if (b->matrix_default && !b->matrix_default_exact) {
            finding(cb, ctx, AUDITFS_BUNDLE_FAIL, "responsibility-default.json is not the "
                    "built-in default matrix");
            bad++;
        }
        if (bad)
            err = afs_error_set(AUDITFS_EVERIFY, "the bundle holds files its entries do not "
                                "imply, or lacks some");
        else
            finding(cb, ctx, AUDITFS_BUNDLE_OK, "the bundle holds exactly the files its entries "
                    "imply");
    }
    for (size_t i = 0; i < nw; i++)
        free(want[i]);
    free(want);
    flist_free(&fl);
    return err;
}

/* ---- offline verification of one ledger ---- */

/*
 * Long because the facts of one ledger in a bundle are checked in one sequence (its checkpoint
 * under the key, the key the report names, each entry's proof, each cosigned checkpoint) that
 * shares the opened checkpoint and stops at the first failure of each kind.
 */
int
auditfs_bundle_verify_ledger(const auditfs_bundle *b, size_t li, const auditfs_verifier *key,
                             auditfs_bundle_cb cb, void *ctx)
{
    auditfs_checkpoint cp;
    if (li >= b->nledgers)
        return afs_error_set(AUDITFS_EINVAL, "no ledger %zu in the bundle", li);
    const char *ln = b->lname[li];
    if (auditfs_checkpoint_open(&cp, b->cp_note[li], b->cp_len[li], key, NULL) != 0) {
        char esc[300];
        const char *m = auditfs_error_last();
        finding(cb, ctx, AUDITFS_BUNDLE_FAIL, "%s: the checkpoint is not signed by the key %s: %s",
                ln, auditfs_verifier_name(key), afs_escape(esc, sizeof esc, m, strlen(m)));
        auditfs_error_clear();
        return afs_error_set(AUDITFS_EVERIFY, "%s: checkpoint not signed by the key", ln);
    }
    size_t n = 0, bad = 0;
    /* key.pub is what the report names: it must be the key that signed */
    if (!b->key[li] || !auditfs_verifier_equal(b->key[li], key)) {
        finding(cb, ctx, AUDITFS_BUNDLE_FAIL, "%s: ledgers/%s/key.pub is not the key that "
                "signed the checkpoint", ln, ln);
        bad++;
    }
    for (size_t i = 0; i < b->n; i++) {
        const afs_bentry *x = &b->e[i];
        if (x->ledger != (int)li)
            continue;
        n++;
        char rel[512];
        uint8_t *pt = NULL;
        size_t pl;
        const char *note;
        size_t note_len;
        auditfs_inclusion_proof p;
        auditfs_hash lh;
        snprintf(rel, sizeof rel, "ledgers/%s/entries/%llu.tlog-proof", ln,
                 (unsigned long long)x->e.seq);
        const char *why = NULL;
        if (get_file(&pt, &pl, b->dir, rel, AUDITFS_PROOF_MAX_BYTES) != 0)
            why = "no proof file";
        else if (auditfs_tlog_proof_parse(&p, &note, &note_len, (const char *)pt, pl) != 0)
            why = "malformed proof";
        else if (note_len != b->cp_len[li] || memcmp(note, b->cp_note[li], note_len) != 0)
            why = "proof is against another checkpoint";
        else if (p.leaf_index != x->e.seq)
            why = "proof is for another index";
        else {
            auditfs_leaf_hash(&lh, x->leaf, x->leaf_len);
            if (auditfs_merkle_verify_inclusion(&lh, p.leaf_index, cp.size, p.path, p.path_len,
                                                &cp.root) != 0)
                why = "inclusion proof does not verify";
        }
        if (!why && x->e.has_content) {
            uint8_t h[32];
            afs_sha256(h, x->content, x->content_len);
            if (!x->content || x->content_len != x->e.content_length ||
                sodium_memcmp(h, x->e.content_sha256, 32) != 0)
                why = "content does not match the entry's hash";
        }
        free(pt);
        auditfs_error_clear();
        if (why) {
            bad++;
            finding(cb, ctx, AUDITFS_BUNDLE_FAIL, "%s entry %llu: %s", ln,
                    (unsigned long long)x->e.seq, why);
        }
    }
    /* the cosigned checkpoints: each signed by the key, for its size, on the bundle's tree */
    for (size_t k = 0; k < b->ncosig[li]; k++) {
        const char *why = cosig_file_check(NULL, NULL, b, li, b->cosig[li][k], key);
        if (why) {
            bad++;
            finding(cb, ctx, AUDITFS_BUNDLE_FAIL, "%s: cosignatures/%llu.checkpoint: %s", ln,
                    (unsigned long long)b->cosig[li][k], why);
        }
    }
    if (bad)
        return afs_error_set(AUDITFS_EVERIFY, "%s: %zu entries or checkpoints do not verify",
                             ln, bad);
    char root[48];
    auditfs_hash_base64(root, &cp.root);
    finding(cb, ctx, AUDITFS_BUNDLE_OK,
            "%s: checkpoint signed by %s+%08x (%s, size %llu, root %s); %zu entries proved%s",
            ln, auditfs_verifier_name(key), auditfs_verifier_key_id(key), cp.origin,
            (unsigned long long)cp.size, root, n,
            b->ncosig[li] ? "; the cosigned checkpoints are signed by it too" : "");
    return 0;
}

int
auditfs_bundle_verify_witnesses(const auditfs_bundle *b, size_t li,
                                const auditfs_verifier *const *witnesses, size_t nw,
                                auditfs_bundle_cb cb, void *ctx)
{
    size_t bad = 0;
    if (li >= b->nledgers)
        return afs_error_set(AUDITFS_EINVAL, "no ledger %zu in the bundle", li);
    const char *ln = b->lname[li];
    for (size_t w = 0; w < nw; w++) {
        size_t cosigned = 0, total = b->ncosig[li] + 1;
        for (size_t k = 0; k <= b->ncosig[li]; k++) {
            /* k == ncosig: the head checkpoint file */
            char *note = NULL;
            size_t len = 0;
            const char *what = "checkpoint";
            char name[64];
            if (k < b->ncosig[li]) {
                snprintf(name, sizeof name, "cosignatures/%llu.checkpoint",
                         (unsigned long long)b->cosig[li][k]);
                what = name;
                if (cosig_file_check(&note, &len, b, li, b->cosig[li][k], NULL) != NULL)
                    continue; /* reported by the layout check */
            }
            int r = auditfs_cosig_verify(NULL, NULL, k < b->ncosig[li] ? note : b->cp_note[li],
                                         k < b->ncosig[li] ? len : b->cp_len[li], witnesses[w]);
            if (r == 0) {
                cosigned++;
            } else if (r != AUDITFS_ENOTFOUND) {
                char esc[300];
                const char *m = auditfs_error_last();
                finding(cb, ctx, AUDITFS_BUNDLE_FAIL, "%s: %s: a cosignature by %s does not "
                        "verify: %s", ln, what, auditfs_verifier_name(witnesses[w]),
                        afs_escape(esc, sizeof esc, m, strlen(m)));
                bad++;
            }
            auditfs_error_clear();
            free(note);
        }
        finding(cb, ctx, AUDITFS_BUNDLE_OK, "%s: witness %s+%08x cosigned %zu of the %zu "
                "checkpoints in the bundle", ln, auditfs_verifier_name(witnesses[w]),
                auditfs_cosig_key_id(witnesses[w]), cosigned, total);
    }
    return bad ? afs_error_set(AUDITFS_EVERIFY, "%s: %zu cosignatures do not verify", ln, bad)
               : 0;
}

int
auditfs_bundle_verify_report(const auditfs_bundle *b, auditfs_bundle_cb cb, void *ctx)
{
    char *md = NULL, *html = NULL;
    size_t mdl = 0, htmll = 0, lmd = 0, lhtml = 0;
    uint8_t *rmd = NULL, *rhtml = NULL;
    int err = auditfs_report_build(&md, &mdl, &html, &htmll, b, b->report_version);
    if (err)
        return err;
    if (get_file(&rmd, &lmd, b->dir, "report.md", 1 << 28) != 0 || lmd != mdl ||
        memcmp(rmd, md, lmd) != 0) {
        finding(cb, ctx, AUDITFS_BUNDLE_FAIL, "report.md is not what the bundle's entries "
                "produce");
        err = AUDITFS_EVERIFY;
    } else if (get_file(&rhtml, &lhtml, b->dir, "report.html", 1 << 28) != 0 ||
               lhtml != htmll || memcmp(rhtml, html, lhtml) != 0) {
        finding(cb, ctx, AUDITFS_BUNDLE_FAIL, "report.html is not what the bundle's entries "
                "produce");
        err = AUDITFS_EVERIFY;
    } else {
        finding(cb, ctx, AUDITFS_BUNDLE_OK, "report.md and report.html are exactly what the "
                "bundle's entries produce (report format %d)", b->report_version);
    }
    auditfs_error_clear();
    free(rmd);
    free(rhtml);
    free(md);
    free(html);
    if (!b->m)
        finding(cb, ctx, AUDITFS_BUNDLE_NOTE, "no usable responsibility matrix in the bundle");
    else if (b->matrix_default)
        finding(cb, ctx, AUDITFS_BUNDLE_NOTE, "the responsibility matrix is the built-in default, "
                "not a published document");
    return err ? afs_error_set(err, "the report does not match the bundle") : 0;
}

/* ---- completeness against the full ledger ---- */

int
auditfs_bundle_check_complete(const auditfs_bundle *b, size_t li, auditfs_ledger *l,
                              auditfs_bundle_cb cb, void *ctx)
{
    int prefix = 0, err;
    if (li >= b->nledgers)
        return afs_error_set(AUDITFS_EINVAL, "no ledger %zu in the bundle", li);
    const char *ln = b->lname[li];
    if ((err = auditfs_ledger_has_prefix(&prefix, l, &b->cp[li])) != 0)
        return err;
    if (!prefix) {
        finding(cb, ctx, AUDITFS_BUNDLE_FAIL, "%s: the bundle's checkpoint (size %llu) is not a "
                "prefix of the ledger", ln, (unsigned long long)b->cp[li].size);
        return afs_error_set(AUDITFS_EVERIFY, "%s: not a prefix", ln);
    }
    sel s = {NULL, 0, 0};
    uint64_t *have = NULL;
    size_t nh = 0;
    /* a full scan: the completeness check must not depend on the derived index */
    if ((err = select_entries(&s, b, l, b->cp[li].size, 1)) != 0)
        return err;
    if (!(have = malloc((b->n ? b->n : 1) * sizeof *have))) {
        free(s.seq);
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    }
    for (size_t k = 0; k < b->n; k++)
        if (b->e[k].ledger == (int)li)
            have[nh++] = b->e[k].e.seq;
    qsort(have, nh, sizeof *have, cmp_u64); /* unique: one file per seq */
    size_t missing = 0, extra = 0, i = 0, j = 0;
    while (i < s.n || j < nh) {
        if (j == nh || (i < s.n && s.seq[i] < have[j])) {
            if (missing++ < 20)
                finding(cb, ctx, AUDITFS_BUNDLE_MISSING, "%s entry %llu is selected by the "
                        "query but not in the bundle", ln, (unsigned long long)s.seq[i]);
            i++;
        } else if (i == s.n || have[j] < s.seq[i]) {
            if (extra++ < 20)
                finding(cb, ctx, AUDITFS_BUNDLE_EXTRA, "%s entry %llu is in the bundle but not "
                        "selected by the query", ln, (unsigned long long)have[j]);
            j++;
        } else {
            i++;
            j++;
        }
    }
    free(s.seq);
    free(have);
    if (missing || extra) {
        finding(cb, ctx, AUDITFS_BUNDLE_FAIL, "%s: %zu entries missing from the bundle, %zu not "
                "selected", ln, missing, extra);
        return afs_error_set(AUDITFS_EVERIFY, "%s: the bundle is not complete", ln);
    }
    finding(cb, ctx, AUDITFS_BUNDLE_OK, "%s: the bundle holds exactly the %zu entries the "
            "recorded query selects from the first %llu entries of the ledger", ln, nh,
            (unsigned long long)b->cp[li].size);
    return 0;
}

/* ---- writing ---- */

static int
spec_check(auditfs_bundle *b, const auditfs_bundle_spec *spec, size_t nsrc)
{
    const char *tenant = spec->tenant;
    if (!spec->since || !spec->until)
        return afs_error_set(AUDITFS_EINVAL, "the window needs since and until");
    if (!auditfs_parse_time(&b->t1, spec->since) || !auditfs_parse_time(&b->t2, spec->until))
        return afs_error_set(AUDITFS_EINVAL, "since and until take RFC 3339 times or YYYY-MM-DD");
    if (b->t2 <= b->t1)
        return afs_error_set(AUDITFS_EINVAL, "until must be after since");
    if (strlen(spec->since) >= sizeof b->since || strlen(spec->until) >= sizeof b->until ||
        (spec->grep && strlen(spec->grep) >= sizeof b->grep) || strchr(spec->since, '\n') ||
        strchr(spec->until, '\n') || (spec->grep && strchr(spec->grep, '\n')))
        return afs_error_set(AUDITFS_EINVAL, "since, until or grep too long or multi-line");
    if (spec->nterms > AUDITFS_BUNDLE_MAX_TERMS)
        return afs_error_set(AUDITFS_EINVAL, "more than %d terms", AUDITFS_BUNDLE_MAX_TERMS);
    if (nsrc == 0 || nsrc > AUDITFS_BUNDLE_MAX_LEDGERS)
        return afs_error_set(AUDITFS_EINVAL, "a bundle draws from 1 to %d ledgers",
                             AUDITFS_BUNDLE_MAX_LEDGERS);
    snprintf(b->since, sizeof b->since, "%s", spec->since);
    snprintf(b->until, sizeof b->until, "%s", spec->until);
    snprintf(b->grep, sizeof b->grep, "%s", spec->grep ? spec->grep : "");
    for (size_t i = 0; i < spec->nterms; i++) {
        if (strchr(spec->terms[i], '\n'))
            return afs_error_set(AUDITFS_EINVAL, "term %zu contains a newline", i + 1);
        if (!(b->terms[b->nterms++] = strdup(spec->terms[i])))
            return afs_error_set(AUDITFS_ENOMEM, "out of memory");
        if (!tenant && !strncmp(spec->terms[i], "_tenant=", 8))
            tenant = spec->terms[i] + 8;
    }
    if (tenant && !auditfs_valid_stream(tenant))
        return afs_error_set(AUDITFS_EINVAL, "tenant '%.64s': 1-64 of [A-Za-z0-9._-]", tenant);
    snprintf(b->tenant, sizeof b->tenant, "%s", tenant ? tenant : "");
    int64_t now = spec->created_us ? spec->created_us : (int64_t)time(NULL) * 1000000;
    auditfs_format_time(b->created, now);
    int err = afs_bundle_query(&b->q, b);
    return err == AUDITFS_EFORMAT ? afs_error_set(AUDITFS_EINVAL, "%s", auditfs_error_last())
                                  : err;
}

/* Every stored cosigned checkpoint of l up to size: ledgers/<name>/cosignatures/<size>.checkpoint
 * (the witnesses' receipts; auditfs acks computes them from the same notes). */
static int
write_cosignatures(const char *dir, const char *name, auditfs_ledger *l, uint64_t size)
{
    uint64_t *sizes = NULL;
    size_t n = 0;
    int err = auditfs_cosig_store_sizes(&sizes, &n, l);
    for (size_t i = 0; i < n && !err && sizes[i] <= size; i++) {
        char rel[512], *note = NULL;
        size_t len = 0;
        if ((err = auditfs_cosig_store_checkpoint(&note, &len, l, sizes[i])) != 0)
            break;
        snprintf(rel, sizeof rel, "ledgers/%s/cosignatures/%llu.checkpoint", name,
                 (unsigned long long)sizes[i]);
        err = put_file(dir, rel, note, len);
        free(note);
    }
    free(sizes);
    return err;
}

static int
write_ledger(const char *dir, const auditfs_bundle *b, size_t li, const auditfs_bundle_source *s,
             const auditfs_progress *progress, int *any_matrix)
{
    auditfs_ledger *l = s->ledger;
    char rel[512], *note = NULL, *vk = NULL;
    size_t nlen;
    sel sl = {NULL, 0, 0};
    int err;
    /* the head checkpoint with its stored cosignature lines (docs/FORMAT.md 12.2); the proofs
     * below embed it verbatim, as tlog-proof allows */
    if ((err = auditfs_cosig_store_checkpoint(&note, &nlen, l, UINT64_MAX)) != 0)
        return err;
    snprintf(rel, sizeof rel, "ledgers/%s/checkpoint", b->lname[li]);
    err = put_file(dir, rel, note, nlen);
    if (!err)
        err = write_cosignatures(dir, b->lname[li], l, b->cp[li].size);
    if (!err)
        err = auditfs_verifier_format(&vk, s->key);
    if (!err) {
        afs_buf kb = AFS_BUF_INIT;
        snprintf(rel, sizeof rel, "ledgers/%s/key.pub", b->lname[li]);
        if (!(err = afs_buf_printf(&kb, "%s\n", vk)))
            err = put_file(dir, rel, kb.data, kb.len);
        afs_buf_release(&kb);
    }
    free(vk);
    if (!err)
        err = select_entries(&sl, b, l, b->cp[li].size, 0);
    for (size_t i = 0; i < sl.n && !err; i++) {
        uint8_t *leaf = NULL, *content = NULL;
        size_t len, clen, plen;
        char *proof = NULL;
        auditfs_entry e;
        auditfs_inclusion_proof p;
        unsigned long long sq = (unsigned long long)sl.seq[i];
        if (progress && progress->fn && ((i & 1023) == 0 || i + 1 == sl.n))
            progress->fn(progress->ctx, "incident", i + 1, sl.n);
        if ((err = auditfs_ledger_leaf(&leaf, &len, l, sl.seq[i])) != 0)
            break;
        snprintf(rel, sizeof rel, "ledgers/%s/entries/%llu.leaf", b->lname[li], sq);
        err = put_file(dir, rel, leaf, len);
        if (!err)
            err = auditfs_ledger_prove(&p, l, sl.seq[i], 0);
        if (!err)
            err = auditfs_tlog_proof_format(&proof, &plen, &p, note, nlen, NULL, 0);
        if (!err) {
            snprintf(rel, sizeof rel, "ledgers/%s/entries/%llu.tlog-proof", b->lname[li], sq);
            err = put_file(dir, rel, proof, plen);
        }
        if (!err)
            err = auditfs_entry_parse(&e, leaf, len);
        if (!err && e.has_content) {
            if (auditfs_entry_type_of(&e) == AUDITFS_TYPE_DOCUMENT &&
                !strcmp(e.name, AUDITFS_MATRIX_DOC))
                *any_matrix = 1;
            err = auditfs_ledger_content(&content, &clen, l, &e);
            if (!err) {
                snprintf(rel, sizeof rel, "ledgers/%s/content/%llu", b->lname[li], sq);
                err = put_file(dir, rel, content, clen);
            }
        }
        free(leaf);
        free(content);
        free(proof);
    }
    free(sl.seq);
    free(note);
    return err;
}

/* receipts.md and receipts.jsonl: per ledger, who of the witnesses acknowledged each notice and
 * document version up to the bundle's checkpoint (the same records `auditfs acks` prints) */
typedef struct receipts_out {
    afs_buf *md, *js;
    const char *lname;
    size_t records;
} receipts_out;

static int
receipts_cb(void *ctx, const auditfs_receipt *r)
{
    receipts_out *o = ctx;
    char *t = NULL;
    size_t len = 0;
    int err = auditfs_receipt_format(&t, &len, r, 0, NULL);
    if (!err)
        err = afs_buf_put(o->md, t, len);
    free(t);
    t = NULL;
    if (!err)
        err = auditfs_receipt_format(&t, &len, r, 1, o->lname);
    if (!err)
        err = afs_buf_put(o->js, t, len);
    free(t);
    if (!err)
        o->records++;
    return err;
}

static int
write_receipts(const char *dir, const auditfs_bundle *b, const auditfs_bundle_spec *spec,
               const auditfs_bundle_source *src)
{
    auditfs_policy *p = NULL;
    afs_buf md = AFS_BUF_INIT, js = AFS_BUF_INIT;
    /* the policy copies the keys (it formats and parses them): nothing is modified */
    int err = auditfs_policy_threshold(&p, (auditfs_verifier *const *)spec->witnesses,
                                       spec->nwitnesses, 0);
    if (!err)
        err = afs_buf_puts(&md, "# Receipts: who acknowledged each notice and document version\n\n"
                           "A witness acknowledges everything up to a tree size by cosigning that "
                           "checkpoint (C2SP tlog-cosignature). For each notice and document "
                           "version, the earliest cosignature by each witness of a checkpoint that "
                           "includes it. Recompute with `auditfs acks --witness KEY.pub ...` on the "
                           "ledger; the cosigned checkpoints are in ledgers/<name>/cosignatures/."
                           "\n\nWitness keys:\n\n");
    for (size_t i = 0; i < spec->nwitnesses && !err; i++) {
        char *vk = NULL;
        if ((err = auditfs_cosig_verifier_format(&vk, spec->witnesses[i])) == 0)
            err = afs_buf_printf(&md, "- `%s`\n", vk);
        free(vk);
    }
    for (size_t li = 0; li < b->nledgers && !err; li++) {
        receipts_out o = {&md, &js, b->lname[li], 0};
        err = afs_buf_printf(&md, "\n## Ledger %s (up to size %llu)\n\n```\n", b->lname[li],
                             (unsigned long long)b->cp[li].size);
        if (!err)
            err = auditfs_receipts_run(src[li].ledger, b->cp[li].size, p,
                                       b->tenant[0] ? b->tenant : NULL, src[li].key,
                                       b->cp[li].origin, receipts_cb, &o);
        if (!err && o.records == 0)
            err = afs_buf_printf(&md, "no notices or documents%s%s\n",
                                 b->tenant[0] ? " for tenant " : "", b->tenant);
        if (!err)
            err = afs_buf_puts(&md, "```\n");
    }
    if (!err)
        err = put_file(dir, "receipts.md", md.data ? md.data : "", md.len);
    if (!err)
        err = put_file(dir, "receipts.jsonl", js.data ? js.data : "", js.len);
    afs_buf_release(&md);
    afs_buf_release(&js);
    auditfs_policy_free(p);
    return err;
}

/* report and manifest, from the files written (the report sees only what the bundle holds) */
static int
finish_bundle(const char *dir)
{
    auditfs_bundle *b = NULL;
    char *md = NULL, *html = NULL;
    size_t mdl = 0, htmll = 0;
    afs_buf man = AFS_BUF_INIT;
    int err = auditfs_bundle_load(&b, dir);
    if (!err)
        err = auditfs_report_build(&md, &mdl, &html, &htmll, b, b->report_version);
    if (!err)
        err = put_file(dir, "report.md", md, mdl);
    if (!err)
        err = put_file(dir, "report.html", html, htmll);
    if (!err)
        err = manifest_build(&man, dir);
    if (!err)
        err = put_file(dir, "MANIFEST.sha256", man.data, man.len);
    auditfs_bundle_free(b);
    free(md);
    free(html);
    afs_buf_release(&man);
    return err;
}

int
auditfs_bundle_create(const char *dir, const auditfs_bundle_spec *spec,
                      const auditfs_bundle_source *src, size_t n)
{
    auditfs_bundle *b = calloc(1, sizeof *b);
    afs_buf o = AFS_BUF_INIT;
    int err = 0, any_matrix = 0;
    if (!b)
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    b->report_version = AFS_REPORT_CURRENT;
    b->time_event = spec->time_event != 0;
    snprintf(b->tool, sizeof b->tool, "%s", auditfs_version());
    if ((err = spec_check(b, spec, n)) != 0)
        goto cleanup;
    if (spec->nwitnesses > AFS_BUNDLE_MAX_WITNESSES) {
        err = afs_error_set(AUDITFS_EINVAL, "more than %d witnesses", AFS_BUNDLE_MAX_WITNESSES);
        goto cleanup;
    }
    /* the witnesses are named in query.txt (the report lists their receipts); copies */
    for (size_t i = 0; i < spec->nwitnesses && !err; i++) {
        char *vk = NULL;
        if ((err = auditfs_cosig_verifier_format(&vk, spec->witnesses[i])) == 0 &&
            (err = parse_witness_line(b, vk, (int)i + 1)) != 0)
            err = afs_error_set(AUDITFS_EINVAL, "witness %zu: %s", i + 1, auditfs_error_last());
        free(vk);
    }
    if (err)
        goto cleanup;
    b->nledgers = n;
    for (size_t i = 0; i < n && !err; i++) {
        if (!src[i].name || !auditfs_valid_stream(src[i].name) || !src[i].ledger ||
            !src[i].key) {
            err = afs_error_set(AUDITFS_EINVAL, "ledger %zu: a name of 1-64 of [A-Za-z0-9._-], "
                                "a ledger and a key are required", i + 1);
            break;
        }
        for (size_t j = 0; j < i; j++)
            if (!strcmp(src[i].name, src[j].name))
                err = afs_error_set(AUDITFS_EINVAL, "two ledgers named '%s'", src[i].name);
        snprintf(b->lname[i], sizeof b->lname[i], "%s", src[i].name);
        /* the evidence is only as good as the checkpoint: check it before bundling */
        if (!err && (err = auditfs_ledger_check_head(&b->cp[i], src[i].ledger, src[i].key)) != 0)
            err = afs_error_wrap(err, "ledger %s", src[i].name);
    }
    if (err)
        goto cleanup;
    if (mkdir(dir, 0755) != 0) {
        err = afs_error_set(errno == EEXIST ? AUDITFS_EEXISTS : AUDITFS_EIO, "%s: %s", dir,
                            strerror(errno));
        goto cleanup;
    }
    err = query_txt(&o, b);
    if (!err)
        err = put_file(dir, "query.txt", o.data, o.len);
    for (size_t li = 0; li < n && !err; li++)
        err = write_ledger(dir, b, li, &src[li], &spec->progress, &any_matrix);
    if (!err && spec->nwitnesses)
        err = write_receipts(dir, b, spec, src);
    if (!err && !any_matrix)
        err = put_file(dir, "responsibility-default.json", auditfs_matrix_default(),
                       strlen(auditfs_matrix_default()));
    if (!err)
        err = finish_bundle(dir);
cleanup:
    afs_buf_release(&o);
    b->dir = NULL;
    auditfs_bundle_free(b);
    return err;
}
