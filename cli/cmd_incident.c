/*
 * cli/cmd_incident.c - incident evidence bundles (`incident`, `incident --check`,
 * `verify-bundle`) and whole-ledger archives (`archive`).
 *
 * A bundle is a directory:
 *   query.txt                         the recorded query: window, tenant, terms, grep, ledgers
 *   ledgers/<name>/checkpoint         the signed checkpoint every proof of that ledger is against
 *   ledgers/<name>/key.pub            the ledger's verifier key (for reading; verify-bundle
 *                                     trusts only the key given on its command line)
 *   ledgers/<name>/entries/<seq>.leaf the exact leaf bytes
 *   ledgers/<name>/entries/<seq>.tlog-proof   c2sp.org/tlog-proof@v1 inclusion proof
 *   ledgers/<name>/content/<seq>      content of a document or notice entry
 *   responsibility-default.json       only when no ledger published matrix/responsibility
 *   report.md, report.html            generated from the files above and nothing else
 *   MANIFEST.sha256                   "<sha256>  <path>" for every other file (sha256sum -c)
 */
#include "cli.h"

#include "auditfs/query.h"
#include "index.h"

#include <dirent.h>
#include <errno.h>
#include <git2.h>
#include <time.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_LEDGERS 8
#define MATRIX_DOC "matrix/responsibility"

static const char *const layer_names[6] = {"facility", "hardware",    "virtualization",
                                           "platform", "application", "data"};

static const char default_matrix[] =
    "{\"format\":\"auditfs-responsibility/1\",\"source\":\"shared responsibility model 2.0 "
    "(default)\",\"service_types\":{\"IaaS\":{\"facility\":\"provider\",\"hardware\":"
    "\"provider\",\"virtualization\":\"provider\",\"platform\":\"customer\",\"application\":"
    "\"customer\",\"data\":\"customer\"},\"PaaS\":{\"facility\":\"provider\",\"hardware\":"
    "\"provider\",\"virtualization\":\"provider\",\"platform\":\"shared\",\"application\":"
    "\"customer\",\"data\":\"customer\"},\"SaaS\":{\"facility\":\"provider\",\"hardware\":"
    "\"provider\",\"virtualization\":\"provider\",\"platform\":\"provider\",\"application\":"
    "\"shared\",\"data\":\"customer\"}},\"tenants\":{}}\n";

/* ---- small helpers ---- */

static int
mkdirs(const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(tmp, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

static int
put_file(const char *dir, const char *rel, const void *p, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    char *slash = strrchr(path, '/');
    *slash = 0;
    if (mkdirs(path) != 0)
        return afs_error_set(AUDITFS_EIO, "%s: %s", path, strerror(errno));
    *slash = '/';
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(p, 1, n, f) != n) || fclose(f) != 0)
        return afs_error_set(AUDITFS_EIO, "%s: %s", path, strerror(errno));
    return 0;
}

static int
get_file(uint8_t **out, size_t *len, const char *dir, const char *rel, size_t max)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    return auditfs_read_file(out, len, path, max);
}

static void
hex(char *out, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", p[i]);
}

/* NAME=VALUE or VALUE (name "ledger") */
static void
split_named(char *name, size_t cap, const char **value, const char *arg)
{
    const char *eq = strchr(arg, '=');
    if (eq && eq != arg && !memchr(arg, '/', (size_t)(eq - arg))) {
        snprintf(name, cap, "%.*s", (int)(eq - arg), arg);
        *value = eq + 1;
    } else {
        snprintf(name, cap, "ledger");
        *value = arg;
    }
}

static int
valid_name(const char *s)
{
    return auditfs_valid_stream(s);
}

/* ---- the bundle in memory ---- */

typedef struct bentry {
    int ledger;
    auditfs_entry e;
    uint8_t *leaf;
    size_t leaf_len;
    uint8_t *content;
    size_t content_len;
    int hit;
} bentry;

typedef struct matrix {
    int valid;
    char source[200]; /* where it came from */
    size_t ntypes;
    char type[8][16];
    char resp[8][6][24];
    size_t ntenants;
    char tenant[64][AUDITFS_STREAM_MAX + 1];
    char tenant_type[64][16];
} matrix;

typedef struct bundle {
    char since[64], until[64], tenant[AUDITFS_STREAM_MAX + 1], created[40], grep[1024];
    int64_t t1, t2;
    char *terms[64];
    size_t nterms;
    size_t nledgers;
    char lname[MAX_LEDGERS][AUDITFS_STREAM_MAX + 1];
    char *cp_note[MAX_LEDGERS];
    size_t cp_len[MAX_LEDGERS];
    auditfs_checkpoint cp[MAX_LEDGERS];
    bentry *e;
    size_t n, cap;
    matrix m;
    auditfs_query *q; /* terms + window + grep */
} bundle;

static void
bundle_free(bundle *b)
{
    for (size_t i = 0; i < b->nterms; i++)
        free(b->terms[i]);
    for (size_t i = 0; i < b->nledgers; i++)
        free(b->cp_note[i]);
    for (size_t i = 0; i < b->n; i++) {
        free(b->e[i].leaf);
        free(b->e[i].content);
    }
    free(b->e);
    auditfs_query_free(b->q);
    memset(b, 0, sizeof *b);
}

static int
bundle_query(bundle *b)
{
    char t[128];
    int err = auditfs_query_parse(&b->q, (const char *const *)b->terms, b->nterms, NULL);
    if (!err) {
        snprintf(t, sizeof t, "_time>=%s", b->since);
        err = auditfs_query_add_term(b->q, t);
    }
    if (!err) {
        snprintf(t, sizeof t, "_time<%s", b->until);
        err = auditfs_query_add_term(b->q, t);
    }
    if (!err && b->grep[0])
        err = auditfs_query_set_grep(b->q, b->grep);
    return err;
}

static int
query_txt(afs_buf *o, const bundle *b)
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
    return err;
}

static int
parse_query_txt(bundle *b, char *text)
{
    char *save = NULL;
    int line = 0;
    for (char *ln = strtok_r(text, "\n", &save); ln; ln = strtok_r(NULL, "\n", &save), line++) {
        if (line == 0) {
            if (strcmp(ln, "auditfs-incident/1") != 0)
                return afs_error_set(AUDITFS_EFORMAT, "query.txt: not an auditfs-incident/1 bundle");
        } else if (!strncmp(ln, "since ", 6) && strlen(ln + 6) < sizeof b->since) {
            strcpy(b->since, ln + 6);
        } else if (!strncmp(ln, "until ", 6) && strlen(ln + 6) < sizeof b->until) {
            strcpy(b->until, ln + 6);
        } else if (!strncmp(ln, "tenant ", 7) && valid_name(ln + 7)) {
            strcpy(b->tenant, ln + 7);
        } else if (!strncmp(ln, "term ", 5) && b->nterms < 60) {
            if (!(b->terms[b->nterms++] = strdup(ln + 5)))
                return afs_error_set(AUDITFS_ENOMEM, "out of memory");
        } else if (!strncmp(ln, "grep ", 5) && strlen(ln + 5) < sizeof b->grep) {
            strcpy(b->grep, ln + 5);
        } else if (!strncmp(ln, "created ", 8) && strlen(ln + 8) < sizeof b->created) {
            strcpy(b->created, ln + 8);
        } else if (!strncmp(ln, "ledger ", 7) && valid_name(ln + 7) && b->nledgers < MAX_LEDGERS) {
            strcpy(b->lname[b->nledgers++], ln + 7);
        } else {
            return afs_error_set(AUDITFS_EFORMAT, "query.txt line %d: '%.80s'", line + 1, ln);
        }
    }
    if (!auditfs_parse_time(&b->t1, b->since) || !auditfs_parse_time(&b->t2, b->until) ||
        !b->nledgers)
        return afs_error_set(AUDITFS_EFORMAT, "query.txt: missing since, until or ledger");
    for (size_t i = 0; i < b->nledgers; i++)
        for (size_t j = 0; j < i; j++)
            if (!strcmp(b->lname[i], b->lname[j]))
                return afs_error_set(AUDITFS_EFORMAT, "query.txt: ledger %s twice", b->lname[i]);
    return bundle_query(b);
}

/* ---- the responsibility matrix ---- */

typedef struct mctx {
    matrix *m;
    int err;
    size_t cur;
} mctx;

static int
m_layer(void *vctx, const char *k, size_t kl, const char *v, size_t vl, int kind)
{
    mctx *c = vctx;
    for (int i = 0; i < 6; i++)
        if (strlen(layer_names[i]) == kl && !memcmp(layer_names[i], k, kl)) {
            if (kind != AFS_JSON_STRING || vl >= 24 ||
                !(vl && (!strncmp(v, "provider", vl) || !strncmp(v, "customer", vl) ||
                         !strncmp(v, "shared", vl) || !strncmp(v, "security-vendor", vl)))) {
                c->err = 1;
                return 0;
            }
            memcpy(c->m->resp[c->cur][i], v, vl);
            c->m->resp[c->cur][i][vl] = 0;
            return 0;
        }
    c->err = 1;
    return 0;
}

static int
m_type(void *vctx, const char *k, size_t kl, const char *v, size_t vl, int kind)
{
    mctx *c = vctx;
    if (kind != AFS_JSON_CONTAINER || kl == 0 || kl >= 16 || c->m->ntypes >= 8) {
        c->err = 1;
        return 0;
    }
    c->cur = c->m->ntypes++;
    memcpy(c->m->type[c->cur], k, kl);
    c->m->type[c->cur][kl] = 0;
    if (afs_json_members((const uint8_t *)v, vl, m_layer, c) != 1)
        c->err = 1;
    for (int i = 0; i < 6; i++)
        if (!c->m->resp[c->cur][i][0])
            c->err = 1;
    return 0;
}

static int
m_tenant(void *vctx, const char *k, size_t kl, const char *v, size_t vl, int kind)
{
    mctx *c = vctx;
    if (kind != AFS_JSON_STRING || kl == 0 || kl > AUDITFS_STREAM_MAX || vl >= 16 ||
        c->m->ntenants >= 64) {
        c->err = 1;
        return 0;
    }
    size_t i = c->m->ntenants++;
    memcpy(c->m->tenant[i], k, kl);
    c->m->tenant[i][kl] = 0;
    memcpy(c->m->tenant_type[i], v, vl);
    c->m->tenant_type[i][vl] = 0;
    return 0;
}

static int
m_top(void *vctx, const char *k, size_t kl, const char *v, size_t vl, int kind)
{
    mctx *c = vctx;
    if (kl == 6 && !memcmp(k, "format", 6)) {
        if (kind != AFS_JSON_STRING || vl != 24 || memcmp(v, "auditfs-responsibility/1", 24))
            c->err = 1;
    } else if (kl == 13 && !memcmp(k, "service_types", 13)) {
        if (kind != AFS_JSON_CONTAINER || afs_json_members((const uint8_t *)v, vl, m_type, c) != 1)
            c->err = 1;
    } else if (kl == 7 && !memcmp(k, "tenants", 7)) {
        if (kind != AFS_JSON_CONTAINER ||
            afs_json_members((const uint8_t *)v, vl, m_tenant, c) != 1)
            c->err = 1;
    }
    return 0;
}

static int
matrix_parse(matrix *m, const uint8_t *p, size_t n, const char *source)
{
    mctx c = {m, 0, 0};
    memset(m, 0, sizeof *m);
    if (afs_json_members(p, n, m_top, &c) != 1 || c.err || m->ntypes == 0)
        return 0;
    snprintf(m->source, sizeof m->source, "%s", source);
    m->valid = 1;
    return 1;
}

static const char *
service_type(const matrix *m, const char *tenant)
{
    for (size_t i = 0; i < m->ntenants; i++)
        if (!strcmp(m->tenant[i], tenant))
            return m->tenant_type[i];
    return NULL;
}

static const char *
responsible(const matrix *m, const char *stype, const char *layer)
{
    if (!stype)
        return NULL;
    for (size_t t = 0; t < m->ntypes; t++)
        if (!strcmp(m->type[t], stype))
            for (int i = 0; i < 6; i++)
                if (!strcmp(layer_names[i], layer))
                    return m->resp[t][i];
    return NULL;
}

/* ---- loading a bundle directory ---- */

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int
add_entry(bundle *b, int ledger, uint8_t *leaf, size_t len)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        void *v = realloc(b->e, cap * sizeof *b->e);
        if (!v)
            return afs_error_set(AUDITFS_ENOMEM, "out of memory");
        b->e = v;
        b->cap = cap;
    }
    bentry *x = &b->e[b->n];
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

static int
load_bundle(bundle *b, const char *dir)
{
    uint8_t *text = NULL;
    size_t len;
    int err;
    memset(b, 0, sizeof *b);
    if ((err = get_file(&text, &len, dir, "query.txt", 1 << 20)) != 0)
        return err;
    err = parse_query_txt(b, (char *)text);
    free(text);
    if (err)
        return err;
    for (size_t li = 0; li < b->nledgers; li++) {
        char rel[512];
        snprintf(rel, sizeof rel, "ledgers/%.64s/checkpoint", b->lname[li]);
        if ((err = get_file((uint8_t **)&b->cp_note[li], &b->cp_len[li], dir, rel, 65536)) != 0)
            return err;
        const char *sep = strstr(b->cp_note[li], "\n\n");
        if (!sep || (err = auditfs_checkpoint_parse(&b->cp[li], b->cp_note[li],
                                                    (size_t)(sep - b->cp_note[li]) + 1)) != 0)
            return afs_error_set(AUDITFS_EFORMAT, "%s: not a checkpoint", rel);
        char edir[4096];
        snprintf(edir, sizeof edir, "%s/ledgers/%s/entries", dir, b->lname[li]);
        DIR *d = opendir(edir);
        if (!d)
            continue;
        uint64_t *seqs = NULL;
        size_t ns = 0, cs = 0;
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            size_t nl = strlen(de->d_name);
            uint64_t s;
            if (nl > 5 && !strcmp(de->d_name + nl - 5, ".leaf") &&
                afs_parse_u64(&s, de->d_name, nl - 5)) {
                if (ns == cs) {
                    cs = cs ? cs * 2 : 64;
                    uint64_t *v = realloc(seqs, cs * sizeof *seqs);
                    if (!v) {
                        free(seqs);
                        closedir(d);
                        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
                    }
                    seqs = v;
                }
                seqs[ns++] = s;
            }
        }
        closedir(d);
        qsort(seqs, ns, sizeof *seqs, cmp_u64);
        for (size_t i = 0; i < ns && !err; i++) {
            uint8_t *leaf;
            size_t ll;
            snprintf(rel, sizeof rel, "ledgers/%.64s/entries/%llu.leaf", b->lname[li],
                     (unsigned long long)seqs[i]);
            if ((err = get_file(&leaf, &ll, dir, rel, AUDITFS_LEAF_MAX)) != 0)
                break;
            if ((err = add_entry(b, (int)li, leaf, ll)) != 0) {
                free(leaf);
                err = afs_error_wrap(err, "%s", rel);
                break;
            }
            bentry *x = &b->e[b->n - 1];
            if (x->e.seq != seqs[i]) {
                err = afs_error_set(AUDITFS_EVERIFY, "%s holds entry %llu", rel,
                                    (unsigned long long)x->e.seq);
                break;
            }
            if (x->e.has_content) {
                snprintf(rel, sizeof rel, "ledgers/%.64s/content/%llu", b->lname[li],
                         (unsigned long long)seqs[i]);
                if ((err = get_file(&x->content, &x->content_len, dir, rel, (size_t)1 << 30)) != 0)
                    break;
            }
            x->hit = auditfs_query_match(b->q, &x->e);
        }
        free(seqs);
        if (err)
            return err;
    }
    /* the matrix in force at the start of the window */
    const bentry *best = NULL, *first = NULL;
    for (size_t i = 0; i < b->n; i++) {
        const bentry *x = &b->e[i];
        if (strcmp(x->e.type, "document") || strcmp(x->e.name, MATRIX_DOC) || !x->content)
            continue;
        if (x->e.time_us < b->t1 && (!best || x->e.time_us >= best->e.time_us))
            best = x;
        if (!first || x->e.time_us < first->e.time_us)
            first = x;
    }
    if (!best)
        best = first;
    if (best) {
        char src[200];
        snprintf(src, sizeof src, "%s v%llu, %s entry %llu", MATRIX_DOC,
                 (unsigned long long)best->e.version, b->lname[best->ledger],
                 (unsigned long long)best->e.seq);
        if (!matrix_parse(&b->m, best->content, best->content_len, src))
            snprintf(b->m.source, sizeof b->m.source, "%.120s (not a valid auditfs-responsibility/1 "
                     "document)", src);
    } else if (get_file(&text, &len, dir, "responsibility-default.json", 1 << 20) == 0) {
        matrix_parse(&b->m, text, len,
                     "responsibility-default.json (no matrix was published in the ledgers: the "
                     "default shared-responsibility model, not proven by any ledger)");
        free(text);
    }
    auditfs_error_clear();
    return 0;
}

/* ---- the report (markdown and HTML, from the loaded bundle only) ---- */

typedef struct rep {
    afs_buf md, html;
    int err;
} rep;

static void
md_put(rep *r, const char *s)
{
    if (!r->err)
        r->err = afs_buf_puts(&r->md, s);
}

static void
html_put(rep *r, const char *s)
{
    if (!r->err)
        r->err = afs_buf_puts(&r->html, s);
}

static void
html_esc(rep *r, const char *s, size_t n)
{
    for (size_t i = 0; i < n && !r->err; i++) {
        char c = s[i];
        if (c == '&')
            r->err = afs_buf_puts(&r->html, "&amp;");
        else if (c == '<')
            r->err = afs_buf_puts(&r->html, "&lt;");
        else if (c == '>')
            r->err = afs_buf_puts(&r->html, "&gt;");
        else if (c == '"')
            r->err = afs_buf_puts(&r->html, "&quot;");
        else
            r->err = afs_buf_put(&r->html, &c, 1);
    }
}

static void
md_esc(rep *r, const char *s, size_t n)
{
    for (size_t i = 0; i < n && !r->err; i++) {
        char c = s[i];
        if (strchr("\\`*_[]<>|#", c))
            r->err = afs_buf_put(&r->md, "\\", 1);
        if (!r->err)
            r->err = afs_buf_put(&r->md, (c == '\n' || c == '\r' || c == '\t') ? " " : &c, 1);
    }
}

/* text in both outputs, escaped */
static void
both(rep *r, const char *s)
{
    md_esc(r, s, strlen(s));
    html_esc(r, s, strlen(s));
}

/* raw markup */
static void
raw(rep *r, const char *md, const char *html)
{
    md_put(r, md);
    html_put(r, html);
}

static void
link_entry(rep *r, const bundle *b, const bentry *x)
{
    char label[128], href[256];
    snprintf(label, sizeof label, "%s#%llu", b->lname[x->ledger], (unsigned long long)x->e.seq);
    snprintf(href, sizeof href, "ledgers/%.64s/entries/%llu.leaf", b->lname[x->ledger],
             (unsigned long long)x->e.seq);
    if (r->err)
        return;
    r->err = afs_buf_printf(&r->md, "[%s](%s)", label, href);
    if (!r->err)
        r->err = afs_buf_printf(&r->html, "<a href=\"%s\">%s</a>", href, label);
}

typedef struct sum_ctx {
    char actor[80], action[80], resource[80];
} sum_ctx;

static int
sum_member(void *vctx, const char *k, size_t kl, const char *v, size_t vl, int kind)
{
    sum_ctx *c = vctx;
    char *dst = NULL;
    if (kind != AFS_JSON_STRING)
        return 0;
    if (kl == 5 && !memcmp(k, "actor", 5))
        dst = c->actor;
    else if (kl == 6 && !memcmp(k, "action", 6))
        dst = c->action;
    else if (kl == 8 && !memcmp(k, "resource", 8))
        dst = c->resource;
    if (dst && !dst[0])
        snprintf(dst, 80, "%.*s", (int)(vl < 79 ? vl : 79), v);
    return 0;
}

static void
summary(char *out, size_t cap, const bentry *x)
{
    const auditfs_entry *e = &x->e;
    if (!strcmp(e->type, "document")) {
        snprintf(out, cap, "document %s v%llu", e->name, (unsigned long long)e->version);
        return;
    }
    if (!strcmp(e->type, "notice")) {
        char t[32] = "";
        if (e->has_effective)
            auditfs_format_time(t, e->effective_us);
        snprintf(out, cap, "notice \"%s\"%s%s", e->title, t[0] ? ", effective " : "", t);
        return;
    }
    sum_ctx c;
    memset(&c, 0, sizeof c);
    if (afs_json_members(e->payload, e->payload_len, sum_member, &c) == 1 &&
        (c.actor[0] || c.action[0] || c.resource[0])) {
        snprintf(out, cap, "%s %s %s", c.actor[0] ? c.actor : "?", c.action[0] ? c.action : "?",
                 c.resource[0] ? c.resource : "");
        return;
    }
    size_t n = e->payload_len < 100 ? e->payload_len : 100;
    if (!auditfs_valid_text(e->payload, n, 1)) {
        snprintf(out, cap, "(%zu bytes, not text)", e->payload_len);
        return;
    }
    snprintf(out, cap, "%.*s%s", (int)n, (const char *)e->payload, e->payload_len > n ? "..." : "");
}

static const char *
entry_tenant(const bundle *b, const bentry *x)
{
    return x->e.tenant[0] ? x->e.tenant : b->tenant;
}

static int
concerns(const bundle *b, const bentry *x)
{
    return !b->tenant[0] || !x->e.tenant[0] || !strcmp(x->e.tenant, b->tenant);
}

static int
cmp_time(const void *a, const void *b)
{
    const bentry *x = *(const bentry *const *)a, *y = *(const bentry *const *)b;
    if (x->e.time_us != y->e.time_us)
        return x->e.time_us < y->e.time_us ? -1 : 1;
    if (x->ledger != y->ledger)
        return x->ledger < y->ledger ? -1 : 1;
    return x->e.seq < y->e.seq ? -1 : x->e.seq > y->e.seq;
}

/* 1 if p is UTF-8 text whose only control characters are newlines and tabs */
static int
is_text(const uint8_t *p, size_t n)
{
    size_t s = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && p[i] != '\n' && p[i] != '\r')
            continue;
        if (!auditfs_valid_text(p + s, i - s, 1))
            return 0;
        s = i + 1;
    }
    return 1;
}

static int
report_build(afs_buf *md, afs_buf *html, const bundle *b)
{
    rep r = {AFS_BUF_INIT, AFS_BUF_INIT, 0};
    char line[1024], t[32];
    const bentry **ord = calloc(b->n ? b->n : 1, sizeof *ord);
    if (!ord)
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    for (size_t i = 0; i < b->n; i++)
        ord[i] = &b->e[i];
    qsort(ord, b->n, sizeof *ord, cmp_time);
    size_t hits = 0;
    const bentry *first_hit = NULL;
    for (size_t i = 0; i < b->n; i++)
        if (ord[i]->hit) {
            hits++;
            if (!first_hit)
                first_hit = ord[i];
        }

    raw(&r, "", "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>auditfs incident "
                "report</title><style>body{font-family:sans-serif;max-width:70em;margin:2em auto}"
                "table{border-collapse:collapse}td,th{border:1px solid #999;padding:2px 6px}"
                ".mismatch{background:#fdd}code{background:#eee}</style></head><body>\n");
    raw(&r, "# Incident report\n\n", "<h1>Incident report</h1>\n");
    snprintf(line, sizeof line, "Window: %s to %s (half-open, UTC). Tenant: %s. Query: %s.",
             b->since, b->until, b->tenant[0] ? b->tenant : "(all)",
             auditfs_query_text(b->q));
    raw(&r, "", "<p>");
    both(&r, line);
    raw(&r, "\n\n", "</p>\n");
    snprintf(line, sizeof line, "Bundle created %s. %zu matching entries, %zu entries in total.",
             b->created, hits, b->n);
    raw(&r, "", "<p>");
    both(&r, line);
    raw(&r, "\n\n", "</p>\n");

    raw(&r, "## Ledgers\n\n", "<h2>Ledgers</h2>\n<ul>\n");
    for (size_t li = 0; li < b->nledgers; li++) {
        char root[48];
        auditfs_hash_base64(root, &b->cp[li].root);
        snprintf(line, sizeof line, "%s: origin %s, checkpoint size %llu, root %s", b->lname[li],
                 b->cp[li].origin, (unsigned long long)b->cp[li].size, root);
        raw(&r, "- ", "<li>");
        both(&r, line);
        raw(&r, " (", " (");
        char href[128];
        snprintf(href, sizeof href, "ledgers/%.64s/checkpoint", b->lname[li]);
        if (!r.err)
            r.err = afs_buf_printf(&r.md, "[checkpoint](%s))\n", href);
        if (!r.err)
            r.err = afs_buf_printf(&r.html, "<a href=\"%s\">checkpoint</a>)</li>\n", href);
    }
    raw(&r, "\n", "</ul>\n");

    raw(&r, "## What this bundle proves\n\n", "<h2>What this bundle proves</h2>\n<p>");
    both(&r, "Each entry listed here is, byte for byte, in the ledger named next to it: its leaf "
             "has an inclusion proof to that ledger's signed checkpoint, and `auditfs "
             "verify-bundle` checks the signature with the ledger's key, every proof, every "
             "document and notice content against its entry's hash, the manifest, and that this "
             "report is exactly what the bundle's entries produce. It cannot prove that nothing "
             "relevant was left out: run `auditfs incident --check` against the full ledgers to "
             "re-run the recorded query and compare the set of entries.");
    raw(&r, "\n\n", "</p>\n");

    /* timeline */
    raw(&r, "## Timeline\n\n| time | entry | kind | party | layer | what |\n|---|---|---|---|---|---|\n",
        "<h2>Timeline</h2>\n<table><tr><th>time</th><th>entry</th><th>kind</th><th>party</th>"
        "<th>layer</th><th>what</th></tr>\n");
    for (size_t i = 0; i < b->n; i++) {
        const bentry *x = ord[i];
        char sum[300];
        auditfs_format_time(t, x->e.time_us);
        summary(sum, sizeof sum, x);
        raw(&r, "| ", "<tr><td>");
        both(&r, t);
        raw(&r, " | ", "</td><td>");
        link_entry(&r, b, x);
        raw(&r, " | ", "</td><td>");
        snprintf(line, sizeof line, "%s%s", x->e.type, x->hit ? " (match)" : " (context)");
        both(&r, line);
        raw(&r, " | ", "</td><td>");
        both(&r, x->e.party[0] ? x->e.party : "-");
        raw(&r, " | ", "</td><td>");
        both(&r, x->e.layer[0] ? x->e.layer : "-");
        raw(&r, " | ", "</td><td>");
        both(&r, sum);
        raw(&r, " |\n", "</td></tr>\n");
    }
    raw(&r, "\n", "</table>\n");

    /* counts by party x layer over the matching entries */
    static const char *const parties[] = {"provider", "customer", "security-vendor", "assessor", ""};
    raw(&r, "## Matching entries by party and layer\n\n| party |",
        "<h2>Matching entries by party and layer</h2>\n<table><tr><th>party</th>");
    for (int k = 0; k < 6; k++) {
        raw(&r, " ", "<th>");
        both(&r, layer_names[k]);
        raw(&r, " |", "</th>");
    }
    raw(&r, " (none) |\n|---|---|---|---|---|---|---|---|\n", "<th>(none)</th></tr>\n");
    for (int p = 0; p < 5; p++) {
        unsigned long long cnt[7] = {0}, tot = 0;
        for (size_t i = 0; i < b->n; i++) {
            const bentry *x = &b->e[i];
            if (!x->hit || strcmp(x->e.party, parties[p]))
                continue;
            int k = 6;
            for (int j = 0; j < 6; j++)
                if (!strcmp(x->e.layer, layer_names[j]))
                    k = j;
            cnt[k]++;
            tot++;
        }
        if (!tot)
            continue;
        raw(&r, "| ", "<tr><td>");
        both(&r, parties[p][0] ? parties[p] : "(none)");
        raw(&r, " |", "</td>");
        for (int k = 0; k < 7; k++) {
            snprintf(line, sizeof line, " %llu |", cnt[k]);
            md_put(&r, line);
            snprintf(line, sizeof line, "<td>%llu</td>", cnt[k]);
            html_put(&r, line);
        }
        raw(&r, "\n", "</tr>\n");
    }
    raw(&r, "\n", "</table>\n");

    /* responsibility */
    raw(&r, "## Acting party and responsible party\n\n",
        "<h2>Acting party and responsible party</h2>\n<p>");
    snprintf(line, sizeof line, "Responsibility matrix: %s.",
             b->m.valid ? b->m.source : b->m.source[0] ? b->m.source : "none available");
    both(&r, line);
    raw(&r, "\n\n", "</p>\n");
    size_t mismatches = 0;
    if (b->m.valid) {
        raw(&r, "| entry | tenant | service type | layer | acting party | responsible | |\n"
                "|---|---|---|---|---|---|---|\n",
            "<table><tr><th>entry</th><th>tenant</th><th>service type</th><th>layer</th>"
            "<th>acting party</th><th>responsible</th><th></th></tr>\n");
        for (size_t i = 0; i < b->n; i++) {
            const bentry *x = ord[i];
            if (!x->hit)
                continue;
            const char *tn = entry_tenant(b, x);
            const char *st = tn[0] ? service_type(&b->m, tn) : NULL;
            const char *resp = x->e.layer[0] ? responsible(&b->m, st, x->e.layer) : NULL;
            const char *verdict = "";
            int mism = 0;
            if (!x->e.party[0] || !x->e.layer[0])
                verdict = "no party or layer recorded";
            else if (!st)
                verdict = "tenant's service type unknown";
            else if (!resp)
                verdict = "layer not in the matrix";
            else if (!strcmp(resp, "shared") || !strcmp(resp, x->e.party))
                verdict = "ok";
            else {
                verdict = "MISMATCH";
                mism = 1;
                mismatches++;
            }
            raw(&r, "| ", mism ? "<tr class=\"mismatch\"><td>" : "<tr><td>");
            link_entry(&r, b, x);
            const char *cells[6] = {tn[0] ? tn : "-", st ? st : "-",
                                    x->e.layer[0] ? x->e.layer : "-",
                                    x->e.party[0] ? x->e.party : "-", resp ? resp : "-", verdict};
            for (int c = 0; c < 6; c++) {
                raw(&r, " | ", "</td><td>");
                if (c == 5 && mism)
                    raw(&r, "**", "<strong>");
                both(&r, cells[c]);
                if (c == 5 && mism)
                    raw(&r, "**", "</strong>");
            }
            raw(&r, " |\n", "</td></tr>\n");
        }
        raw(&r, "\n", "</table>\n");
    }
    snprintf(line, sizeof line, "%zu mismatch%s between the acting party and the party "
             "responsible for the layer.", mismatches, mismatches == 1 ? "" : "es");
    raw(&r, "", "<p>");
    both(&r, line);
    raw(&r, "\n\n", "</p>\n");
    if (mismatches) {
        raw(&r, "Mismatches:\n\n", "<ul>\n");
        for (size_t i = 0; i < b->n; i++) {
            const bentry *x = ord[i];
            if (!x->hit || !b->m.valid || !x->e.party[0] || !x->e.layer[0])
                continue;
            const char *tn = entry_tenant(b, x);
            const char *st = tn[0] ? service_type(&b->m, tn) : NULL;
            const char *resp = responsible(&b->m, st, x->e.layer);
            if (!resp || !strcmp(resp, "shared") || !strcmp(resp, x->e.party))
                continue;
            raw(&r, "- ", "<li>");
            link_entry(&r, b, x);
            snprintf(line, sizeof line, ": a %s action on the %s layer of %s tenant %s, for "
                     "which the %s is responsible.", x->e.party, x->e.layer, st, tn, resp);
            both(&r, line);
            raw(&r, "\n", "</li>\n");
        }
        raw(&r, "\n", "</ul>\n");
    }

    /* notices */
    raw(&r, "## Notices given to the customer\n\n", "<h2>Notices given to the customer</h2>\n");
    if (first_hit) {
        auditfs_format_time(t, first_hit->e.time_us);
        snprintf(line, sizeof line, "First matching entry at %s: ", t);
        raw(&r, "", "<p>");
        both(&r, line);
        link_entry(&r, b, first_hit);
        raw(&r, ".\n\n", ".</p>\n");
    }
    raw(&r, "", "<ul>\n");
    size_t nn = 0;
    for (size_t i = 0; i < b->n; i++) {
        const bentry *x = ord[i];
        if (strcmp(x->e.type, "notice") || !concerns(b, x))
            continue;
        nn++;
        raw(&r, "- ", "<li>");
        link_entry(&r, b, x);
        auditfs_format_time(t, x->e.time_us);
        int before = first_hit && x->e.time_us < first_hit->e.time_us;
        snprintf(line, sizeof line, ": \"%s\" published %s%s", x->e.title, t,
                 first_hit ? (before ? ", BEFORE the first matching entry"
                                     : ", after the first matching entry")
                           : "");
        both(&r, line);
        if (x->e.has_effective) {
            auditfs_format_time(t, x->e.effective_us);
            snprintf(line, sizeof line, ", effective %s", t);
            both(&r, line);
        }
        raw(&r, "\n", "</li>\n");
    }
    raw(&r, nn ? "\n" : "No notice concerning the tenant was published before the end of the "
                        "window.\n\n",
        nn ? "</ul>\n" : "</ul><p>No notice concerning the tenant was published before the end "
                         "of the window.</p>\n");

    /* documents and SLA terms */
    raw(&r, "## Documents in force (SLA and others)\n\n",
        "<h2>Documents in force (SLA and others)</h2>\n");
    for (size_t i = 0; i < b->n; i++) {
        const bentry *x = ord[i];
        if (strcmp(x->e.type, "document"))
            continue;
        auditfs_format_time(t, x->e.time_us);
        raw(&r, "### ", "<h3>");
        snprintf(line, sizeof line, "%s v%llu", x->e.name, (unsigned long long)x->e.version);
        both(&r, line);
        raw(&r, "\n\n", "</h3>\n<p>");
        snprintf(line, sizeof line, "Published %s (%s), %s: ", t,
                 x->e.time_us < b->t1 ? "in force when the window opened" : "inside the window",
                 x->e.content_type);
        both(&r, line);
        link_entry(&r, b, x);
        char href[256];
        snprintf(href, sizeof href, "ledgers/%.64s/content/%llu", b->lname[x->ledger],
                 (unsigned long long)x->e.seq);
        if (!r.err)
            r.err = afs_buf_printf(&r.md, ", [content](%s)\n\n", href);
        if (!r.err)
            r.err = afs_buf_printf(&r.html, ", <a href=\"%s\">content</a></p>\n", href);
        if (x->content && !strncmp(x->e.content_type, "text/", 5) &&
            is_text(x->content, x->content_len) && x->content_len <= 16384 &&
            !memmem(x->content, x->content_len, "````", 4)) {
            md_put(&r, "````text\n");
            if (!r.err)
                r.err = afs_buf_put(&r.md, x->content, x->content_len);
            md_put(&r, x->content_len && x->content[x->content_len - 1] == '\n' ? "````\n\n"
                                                                             : "\n````\n\n");
            html_put(&r, "<pre>");
            html_esc(&r, (const char *)x->content, x->content_len);
            html_put(&r, "</pre>\n");
        }
    }
    raw(&r, "## Files\n\nEvery file of the bundle is listed with its SHA-256 in MANIFEST.sha256 "
            "(check with `sha256sum -c MANIFEST.sha256` or `auditfs verify-bundle`).\n",
        "<h2>Files</h2>\n<p>Every file of the bundle is listed with its SHA-256 in "
        "MANIFEST.sha256 (check with <code>sha256sum -c MANIFEST.sha256</code> or "
        "<code>auditfs verify-bundle</code>).</p>\n</body></html>\n");
    free(ord);
    if (r.err) {
        afs_buf_release(&r.md);
        afs_buf_release(&r.html);
        return r.err;
    }
    *md = r.md;
    *html = r.html;
    return 0;
}

/* ---- manifest ---- */

typedef struct flist {
    char **p;
    size_t n, cap;
} flist;

static int
walk(flist *fl, const char *root, const char *rel)
{
    char path[4096];
    snprintf(path, sizeof path, "%s%s%s", root, rel[0] ? "/" : "", rel);
    DIR *d = opendir(path);
    struct dirent *de;
    if (!d)
        return afs_error_set(AUDITFS_EIO, "%s: %s", path, strerror(errno));
    int err = 0;
    while (!err && (de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char r2[4096];
        snprintf(r2, sizeof r2, "%s%s%s", rel, rel[0] ? "/" : "", de->d_name);
        char full[8200];
        struct stat st;
        snprintf(full, sizeof full, "%s/%s", root, r2);
        if (lstat(full, &st) != 0) {
            err = afs_error_set(AUDITFS_EIO, "%s: %s", full, strerror(errno));
            break;
        }
        if (S_ISDIR(st.st_mode)) {
            err = walk(fl, root, r2);
            continue;
        }
        if (!rel[0] && !strcmp(de->d_name, "MANIFEST.sha256"))
            continue;
        if (fl->n == fl->cap) {
            fl->cap = fl->cap ? fl->cap * 2 : 64;
            char **v = realloc(fl->p, fl->cap * sizeof *v);
            if (!v) {
                err = afs_error_set(AUDITFS_ENOMEM, "out of memory");
                break;
            }
            fl->p = v;
        }
        if (!(fl->p[fl->n++] = strdup(r2)))
            err = afs_error_set(AUDITFS_ENOMEM, "out of memory");
    }
    closedir(d);
    return err;
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
flist_free(flist *fl)
{
    for (size_t i = 0; i < fl->n; i++)
        free(fl->p[i]);
    free(fl->p);
}

static int
file_sha(char out[65], const char *dir, const char *rel)
{
    uint8_t *d;
    size_t n;
    uint8_t h[32];
    int err = get_file(&d, &n, dir, rel, (size_t)1 << 32);
    if (err)
        return err;
    afs_sha256(h, d, n);
    free(d);
    hex(out, h, 32);
    return 0;
}

static int
manifest_build(afs_buf *out, const char *dir)
{
    flist fl = {NULL, 0, 0};
    int err = walk(&fl, dir, "");
    if (!err)
        qsort(fl.p, fl.n, sizeof *fl.p, cmp_str);
    for (size_t i = 0; i < fl.n && !err; i++) {
        char h[65];
        if ((err = file_sha(h, dir, fl.p[i])) == 0)
            err = afs_buf_printf(out, "%s  %s\n", h, fl.p[i]);
    }
    flist_free(&fl);
    return err;
}

/* ---- collecting the bundle from ledgers ---- */

typedef struct ledger_arg {
    char name[AUDITFS_STREAM_MAX + 1];
    const char *path;
    const char *key;
    auditfs_ledger *l;
    auditfs_verifier *v;
} ledger_arg;

typedef struct sel {
    uint64_t *seq;
    size_t n, cap;
} sel;

static int
sel_add(sel *s, uint64_t seq)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        uint64_t *v = realloc(s->seq, s->cap * sizeof *v);
        if (!v)
            return afs_error_set(AUDITFS_ENOMEM, "out of memory");
        s->seq = v;
    }
    s->seq[s->n++] = seq;
    return 0;
}

static int
sel_cb(void *ctx, const auditfs_entry *e, const uint8_t *leaf, size_t len)
{
    (void)leaf;
    (void)len;
    return sel_add(ctx, e->seq);
}

typedef struct ctx_docs {
    const bundle *b;
    sel *s;
    /* per document name: best version before T1 */
    char (*names)[AUDITFS_DOCNAME_MAX + 1];
    uint64_t *best;
    int64_t *best_t;
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
    if (!strcmp(e->type, "notice")) {
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
        c->cap = c->cap ? c->cap * 2 : 16;
        void *a = realloc(c->names, c->cap * sizeof *c->names);
        if (!a)
            return afs_error_set(AUDITFS_ENOMEM, "out of memory");
        c->names = a;
        void *bb = realloc(c->best, c->cap * sizeof *c->best);
        if (!bb)
            return afs_error_set(AUDITFS_ENOMEM, "out of memory");
        c->best = bb;
    }
    snprintf(c->names[c->nn], sizeof c->names[c->nn], "%s", e->name);
    c->best[c->nn++] = e->seq;
    return 0;
}

/* The seqs a bundle for b must hold from ledger l, among entries [0, size). Sorted, unique. */
static int
select_entries(sel *out, const bundle *b, auditfs_ledger *l, uint64_t size, int no_index)
{
    auditfs_query_options o = {no_index, no_index, 0};
    char t[64];
    int err;
    auditfs_query *q = NULL, *qd = NULL;
    const char *dn[] = {"_type=document", "_type=notice"};
    ctx_docs c;
    memset(&c, 0, sizeof c);
    c.b = b;
    c.s = out;
    snprintf(t, sizeof t, "_seq<%llu", (unsigned long long)size);
    /* hits: the recorded query */
    err = auditfs_query_parse(&q, (const char *const *)b->terms, b->nterms, NULL);
    if (!err)
        err = auditfs_query_add_term(q, t);
    if (!err) {
        char w[128];
        snprintf(w, sizeof w, "_time>=%s", b->since);
        err = auditfs_query_add_term(q, w);
        snprintf(w, sizeof w, "_time<%s", b->until);
        if (!err)
            err = auditfs_query_add_term(q, w);
    }
    if (!err && b->grep[0])
        err = auditfs_query_set_grep(q, b->grep);
    if (!err)
        err = auditfs_query_run(l, q, &o, sel_cb, out, NULL);
    /* context: documents in force and notices */
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
    qsort(out->seq, out->n, sizeof *out->seq, cmp_u64);
    size_t k = 0;
    for (size_t i = 0; i < out->n; i++)
        if (!k || out->seq[k - 1] != out->seq[i])
            out->seq[k++] = out->seq[i];
    out->n = k;
    return 0;
}

static int
ledger_args(ledger_arg *la, size_t *nla, char **ledgers, size_t nl, char **keys, size_t nk,
            int need_keys)
{
    *nla = 0;
    if (nl == 0)
        return cli_usage_error("--ledger [NAME=]DIR is required");
    if (nl > MAX_LEDGERS)
        return cli_usage_error("at most %d ledgers", MAX_LEDGERS);
    for (size_t i = 0; i < nl; i++) {
        split_named(la[i].name, sizeof la[i].name, &la[i].path, ledgers[i]);
        if (!valid_name(la[i].name))
            return cli_usage_error("--ledger '%s': NAME must be 1-64 of [A-Za-z0-9._-]",
                                   ledgers[i]);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(la[i].name, la[j].name))
                return cli_usage_error("two ledgers named '%s' (use NAME=DIR)", la[i].name);
        la[i].key = NULL;
    }
    *nla = nl;
    for (size_t k = 0; k < nk; k++) {
        char name[AUDITFS_STREAM_MAX + 1];
        const char *file;
        split_named(name, sizeof name, &file, keys[k]);
        size_t hit = SIZE_MAX;
        for (size_t i = 0; i < nl; i++)
            if (!strcmp(la[i].name, name) || (nk == 1 && nl == 1))
                hit = i;
        if (hit == SIZE_MAX)
            return cli_usage_error("--key '%s': no ledger named '%s'", keys[k], name);
        la[hit].key = nk == 1 && nl == 1 && !strchr(keys[k], '=') ? keys[k] : file;
    }
    for (size_t i = 0; i < nl && need_keys; i++)
        if (!la[i].key)
            return cli_usage_error("--key %s=FILE.pub is required for ledger '%s'", la[i].name,
                                   la[i].name);
    return 0;
}

static void
ledger_args_free(ledger_arg *la, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        auditfs_ledger_free(la[i].l);
        auditfs_verifier_free(la[i].v);
    }
}

static int
write_bundle(const char *dir, bundle *b, ledger_arg *la)
{
    afs_buf o = AFS_BUF_INIT;
    int err = query_txt(&o, b);
    if (!err)
        err = put_file(dir, "query.txt", o.data, o.len);
    afs_buf_release(&o);
    int any_matrix = 0;
    for (size_t li = 0; li < b->nledgers && !err; li++) {
        auditfs_ledger *l = la[li].l;
        char rel[512], *note = NULL, *vk = NULL;
        size_t nlen;
        sel s = {NULL, 0, 0};
        if ((err = auditfs_ledger_checkpoint_note(&note, &nlen, l)) != 0)
            break;
        snprintf(rel, sizeof rel, "ledgers/%.64s/checkpoint", la[li].name);
        err = put_file(dir, rel, note, nlen);
        if (!err)
            err = auditfs_verifier_format(&vk, la[li].v);
        if (!err) {
            snprintf(rel, sizeof rel, "ledgers/%.64s/key.pub", la[li].name);
            size_t kl = strlen(vk);
            vk[kl] = '\n';
            err = put_file(dir, rel, vk, kl + 1);
        }
        free(vk);
        if (!err)
            err = select_entries(&s, b, l, b->cp[li].size, 0);
        for (size_t i = 0; i < s.n && !err; i++) {
            uint8_t *leaf = NULL, *content = NULL;
            size_t len, clen;
            char *proof = NULL;
            size_t plen;
            auditfs_entry e;
            auditfs_inclusion_proof p;
            if ((err = auditfs_ledger_leaf(&leaf, &len, l, s.seq[i])) != 0)
                break;
            snprintf(rel, sizeof rel, "ledgers/%.64s/entries/%llu.leaf", la[li].name,
                     (unsigned long long)s.seq[i]);
            err = put_file(dir, rel, leaf, len);
            if (!err)
                err = auditfs_ledger_prove(&p, l, s.seq[i], 0);
            if (!err)
                err = auditfs_tlog_proof_format(&proof, &plen, &p, note, nlen, NULL, 0);
            if (!err) {
                snprintf(rel, sizeof rel, "ledgers/%.64s/entries/%llu.tlog-proof", la[li].name,
                         (unsigned long long)s.seq[i]);
                err = put_file(dir, rel, proof, plen);
            }
            if (!err)
                err = auditfs_entry_parse(&e, leaf, len);
            if (!err && e.has_content) {
                if (!strcmp(e.type, "document") && !strcmp(e.name, MATRIX_DOC))
                    any_matrix = 1;
                err = auditfs_ledger_content(&content, &clen, l, &e);
                if (!err) {
                    snprintf(rel, sizeof rel, "ledgers/%.64s/content/%llu", la[li].name,
                             (unsigned long long)s.seq[i]);
                    err = put_file(dir, rel, content, clen);
                }
            }
            free(leaf);
            free(content);
            free(proof);
        }
        free(s.seq);
        free(note);
    }
    if (!err && !any_matrix)
        err = put_file(dir, "responsibility-default.json", default_matrix,
                       strlen(default_matrix));
    return err;
}

static int
finish_bundle(const char *dir)
{
    bundle b;
    afs_buf md = AFS_BUF_INIT, html = AFS_BUF_INIT, man = AFS_BUF_INIT;
    int err = load_bundle(&b, dir);
    if (!err)
        err = report_build(&md, &html, &b);
    if (!err)
        err = put_file(dir, "report.md", md.data, md.len);
    if (!err)
        err = put_file(dir, "report.html", html.data, html.len);
    if (!err)
        err = manifest_build(&man, dir);
    if (!err)
        err = put_file(dir, "MANIFEST.sha256", man.data, man.len);
    bundle_free(&b);
    afs_buf_release(&md);
    afs_buf_release(&html);
    afs_buf_release(&man);
    return err;
}

/* ---- incident ---- */

static const char incident_help[] =
    "usage: auditfs incident --since T1 --until T2 [TERM...] [--grep RE] [--tenant T]\n"
    "                        --ledger [NAME=]DIR --key [NAME=]FILE.pub [...] -o DIR\n"
    "       auditfs incident --check DIR --ledger [NAME=]DIR [...]\n"
    "       auditfs incident --default-matrix\n"
    "\n"
    "Writes a self-contained evidence bundle to DIR (which must not exist): every entry in\n"
    "[T1, T2) that matches the TERMs (see `auditfs query --help`) with its leaf bytes and an\n"
    "inclusion proof (c2sp.org/tlog-proof) against its own ledger's signed checkpoint; the\n"
    "checkpoints and verifier keys; every document version in force during the window (the last\n"
    "one published before T1 and any inside it) and every notice published or effective before\n"
    "T2, with their contents and proofs, limited to those that concern the tenant (no tenant\n"
    "header, or --tenant T; default: the value of a _tenant= term); the responsibility matrix\n"
    "(the document matrix/responsibility in force at T1, else the built-in default shared-\n"
    "responsibility model, marked as unproven); report.md and report.html (timeline, counts by\n"
    "party x layer, acting vs responsible party with mismatches, notices given before the first\n"
    "matching entry, the SLA terms in force, each fact linked to the entry that proves it); and\n"
    "MANIFEST.sha256. --ledger and --key may be repeated as NAME=... for several ledgers (a\n"
    "tenant's and the provider-wide one); each entry is proved against its own ledger.\n"
    "\n"
    "--check DIR re-runs the bundle's recorded query against the full ledgers (up to the\n"
    "bundle's checkpoints, which must be prefixes of them), scanning every entry rather than\n"
    "trusting the index, and compares the entries: exit 0 if\n"
    "the bundle holds exactly what the query selects, 1 if anything was left out or added.\n"
    "--default-matrix prints the built-in responsibility matrix (docs/RESPONSIBILITY.md).\n";

static int
check_bundle(const char *dir, ledger_arg *la, size_t nla)
{
    bundle b;
    int err = load_bundle(&b, dir), rc = 0;
    if (err) {
        rc = cli_fail(err, dir);
        bundle_free(&b);
        return rc;
    }
    for (size_t li = 0; li < b.nledgers; li++) {
        ledger_arg *a = NULL;
        for (size_t i = 0; i < nla; i++)
            if (!strcmp(la[i].name, b.lname[li]) || (nla == 1 && b.nledgers == 1))
                a = &la[i];
        if (!a) {
            fprintf(stderr, "auditfs: the bundle's ledger '%s' was not given (--ledger %s=DIR)\n",
                    b.lname[li], b.lname[li]);
            rc = EXIT_USAGE;
            break;
        }
        if ((rc = cli_open_trusted(&a->l, NULL, a->path, a->key, NULL)) != 0)
            break;
        /* the bundle's checkpoint must describe a prefix of this ledger */
        auditfs_checkpoint head;
        if ((err = auditfs_ledger_head(&head, a->l)) != 0) {
            rc = cli_fail(err, a->path);
            break;
        }
        int prefix = 0;
        if (b.cp[li].size <= head.size) {
            auditfs_consistency_proof p;
            if (b.cp[li].size == head.size)
                prefix = auditfs_hash_equal(&b.cp[li].root, &head.root);
            else if (b.cp[li].size == 0)
                prefix = 1;
            else if (auditfs_ledger_prove_consistency(&p, a->l, b.cp[li].size, head.size) == 0)
                prefix = auditfs_merkle_verify_consistency(b.cp[li].size, head.size,
                                                           &b.cp[li].root, &head.root, p.path,
                                                           p.path_len) == 0;
        }
        if (!prefix) {
            printf("FAIL: %s: the bundle's checkpoint (size %llu) is not a prefix of %s\n",
                   b.lname[li], (unsigned long long)b.cp[li].size, a->path);
            rc = EXIT_VERIFY;
            continue;
        }
        sel s = {NULL, 0, 0};
        /* a full scan: the completeness check must not depend on the derived index */
        if ((err = select_entries(&s, &b, a->l, b.cp[li].size, 1)) != 0) {
            rc = cli_fail(err, a->path);
            break;
        }
        size_t missing = 0, extra = 0, have = 0;
        for (size_t i = 0; i < s.n; i++) {
            int found = 0;
            for (size_t k = 0; k < b.n && !found; k++)
                found = b.e[k].ledger == (int)li && b.e[k].e.seq == s.seq[i];
            if (!found) {
                if (missing++ < 20)
                    printf("missing: %s entry %llu is selected by the query but not in the "
                           "bundle\n", b.lname[li], (unsigned long long)s.seq[i]);
            }
        }
        for (size_t k = 0; k < b.n; k++) {
            if (b.e[k].ledger != (int)li)
                continue;
            have++;
            int found = 0;
            for (size_t i = 0; i < s.n && !found; i++)
                found = s.seq[i] == b.e[k].e.seq;
            if (!found && extra++ < 20)
                printf("extra: %s entry %llu is in the bundle but not selected by the query\n",
                       b.lname[li], (unsigned long long)b.e[k].e.seq);
        }
        free(s.seq);
        if (missing || extra) {
            printf("FAIL: %s: %zu entries missing from the bundle, %zu not selected\n",
                   b.lname[li], missing, extra);
            rc = EXIT_VERIFY;
        } else {
            printf("ok: %s: the bundle holds exactly the %zu entries the recorded query selects "
                   "from the first %llu entries of %s\n",
                   b.lname[li], have, (unsigned long long)b.cp[li].size, a->path);
        }
    }
    bundle_free(&b);
    return rc;
}

int
cmd_incident(int argc, char **argv)
{
    const char *since = NULL, *until = NULL, *out = NULL, *check = NULL, *grep = NULL,
               *tenant = NULL;
    char *ledgers[MAX_LEDGERS + 1], *keys[MAX_LEDGERS + 1];
    size_t nl = 0, nk = 0;
    int c, print_matrix = 0;
    static const struct option opts[] = {{"since", required_argument, 0, 's'},
                                         {"until", required_argument, 0, 'u'},
                                         {"ledger", required_argument, 0, 'l'},
                                         {"key", required_argument, 0, 'k'},
                                         {"output", required_argument, 0, 'o'},
                                         {"check", required_argument, 0, 'C'},
                                         {"grep", required_argument, 0, 'g'},
                                         {"tenant", required_argument, 0, 't'},
                                         {"default-matrix", no_argument, 0, 'M'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        switch (c) {
        case 's': since = optarg; break;
        case 'u': until = optarg; break;
        case 'l':
            if (nl > MAX_LEDGERS)
                return cli_usage_error("at most %d ledgers", MAX_LEDGERS);
            ledgers[nl++] = optarg;
            break;
        case 'k':
            if (nk > MAX_LEDGERS)
                return cli_usage_error("at most %d keys", MAX_LEDGERS);
            keys[nk++] = optarg;
            break;
        case 'o': out = optarg; break;
        case 'C': check = optarg; break;
        case 'g': grep = optarg; break;
        case 't': tenant = optarg; break;
        case 'M': print_matrix = 1; break;
        case 'h': fputs(incident_help, stdout); return 0;
        default: return EXIT_USAGE;
        }
    }
    if (print_matrix) {
        fputs(default_matrix, stdout);
        return 0;
    }
    ledger_arg la[MAX_LEDGERS + 1];
    size_t nla = 0;
    memset(la, 0, sizeof la);
    if (nl == 0 && cli_ledger_path(NULL))
        ledgers[nl++] = (char *)cli_ledger_path(NULL);
    int rc = ledger_args(la, &nla, ledgers, nl, keys, nk, !check);
    if (rc)
        return rc;
    if (check) {
        if (optind != argc || since || until || out)
            return cli_usage_error("--check DIR takes only --ledger");
        rc = check_bundle(check, la, nla);
        ledger_args_free(la, nla);
        return rc;
    }
    if (!since || !until || !out)
        return cli_usage_error("--since T1, --until T2 and -o DIR are required");
    bundle b;
    memset(&b, 0, sizeof b);
    if (!auditfs_parse_time(&b.t1, since) || !auditfs_parse_time(&b.t2, until))
        return cli_usage_error("--since and --until take RFC 3339 times or YYYY-MM-DD");
    if (b.t2 <= b.t1)
        return cli_usage_error("--until must be after --since");
    if (strlen(since) >= sizeof b.since || strlen(until) >= sizeof b.until ||
        (grep && strlen(grep) >= sizeof b.grep) || strchr(since, '\n') || strchr(until, '\n') ||
        (grep && strchr(grep, '\n')))
        return cli_usage_error("--since, --until or --grep too long");
    snprintf(b.since, sizeof b.since, "%s", since);
    snprintf(b.until, sizeof b.until, "%s", until);
    if (grep)
        snprintf(b.grep, sizeof b.grep, "%s", grep);
    for (int i = optind; i < argc; i++) {
        if ((size_t)(i - optind) >= 60) {
            bundle_free(&b);
            return cli_usage_error("too many terms");
        }
        if (strchr(argv[i], '\n')) {
            bundle_free(&b);
            return cli_usage_error("a term contains a newline");
        }
        b.terms[b.nterms++] = strdup(argv[i]);
        if (!tenant && !strncmp(argv[i], "_tenant=", 8))
            tenant = argv[i] + 8;
    }
    if (tenant && !valid_name(tenant)) {
        bundle_free(&b);
        return cli_usage_error("--tenant '%s': 1-64 of [A-Za-z0-9._-]", tenant);
    }
    if (tenant)
        snprintf(b.tenant, sizeof b.tenant, "%s", tenant);
    char ts[32];
    auditfs_format_time(ts, ((int64_t)time(NULL)) * 1000000);
    snprintf(b.created, sizeof b.created, "%s", ts);
    int err = bundle_query(&b);
    if (err) {
        bundle_free(&b);
        return cli_fail(err, "incident");
    }
    b.nledgers = nla;
    for (size_t i = 0; i < nla && !err; i++) {
        snprintf(b.lname[i], sizeof b.lname[i], "%.64s", la[i].name);
        if ((err = auditfs_verifier_load(&la[i].v, la[i].key)) != 0)
            break;
        /* the verifier's memory first (exit 8 on a fork or rollback) */
        if ((rc = cli_open_trusted(&la[i].l, NULL, la[i].path, la[i].key, NULL)) != 0) {
            bundle_free(&b);
            ledger_args_free(la, nla);
            return rc;
        }
        /* the evidence is only as good as the checkpoint: check it before bundling */
        if ((err = auditfs_ledger_check_head(&b.cp[i], la[i].l, la[i].v)) != 0)
            err = afs_error_wrap(err, "ledger %s", la[i].name);
    }
    if (!err && mkdir(out, 0755) != 0)
        err = afs_error_set(errno == EEXIST ? AUDITFS_EEXISTS : AUDITFS_EIO, "%s: %s", out,
                            strerror(errno));
    if (!err)
        err = write_bundle(out, &b, la);
    if (!err)
        err = finish_bundle(out);
    if (err)
        rc = cli_fail(err, "incident");
    else
        fprintf(stderr, "wrote %s; check it with: auditfs verify-bundle %s --key NAME=FILE.pub\n",
                out, out);
    bundle_free(&b);
    ledger_args_free(la, nla);
    return rc;
}

/* ---- verify-bundle ---- */

static const char verify_bundle_help[] =
    "usage: auditfs verify-bundle DIR --key [NAME=]FILE.pub [--key NAME=FILE.pub ...]\n"
    "\n"
    "Checks an incident bundle offline, with nothing but the bundle and the verifier key of\n"
    "each of its ledgers: every file against MANIFEST.sha256 (and no file missing or added),\n"
    "each checkpoint's signature with the key you give (not the key.pub in the bundle), every\n"
    "entry's inclusion proof against its ledger's checkpoint, every document and notice content\n"
    "against its entry's length and SHA-256, and that report.md and report.html are exactly what\n"
    "the bundle's entries produce. Exit 0 if all of it holds, 1 if anything does not.\n"
    "\n"
    "What it cannot show is that nothing relevant was left out of the bundle: for that, run\n"
    "`auditfs incident --check DIR --ledger NAME=DIR ...` against the full ledgers.\n";

int
cmd_verify_bundle(int argc, char **argv)
{
    char *keys[MAX_LEDGERS + 1];
    size_t nk = 0;
    int c;
    static const struct option opts[] = {{"key", required_argument, 0, 'k'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'k':
            if (nk > MAX_LEDGERS)
                return cli_usage_error("at most %d keys", MAX_LEDGERS);
            keys[nk++] = optarg;
            break;
        case 'h': fputs(verify_bundle_help, stdout); return 0;
        default: return EXIT_USAGE;
        }
    }
    if (optind + 1 != argc)
        return cli_usage_error("verify-bundle needs DIR");
    if (!nk)
        return cli_usage_error("--key [NAME=]FILE.pub is required");
    const char *dir = argv[optind];
    int failures = 0, err;
    bundle b;
    afs_buf man = AFS_BUF_INIT;
    uint8_t *have = NULL;
    size_t hlen = 0;

    /* 1. the manifest */
    if ((err = get_file(&have, &hlen, dir, "MANIFEST.sha256", 1 << 26)) != 0)
        return cli_fail(err, "verify-bundle");
    if ((err = manifest_build(&man, dir)) != 0) {
        free(have);
        return cli_fail(err, "verify-bundle");
    }
    if (man.len != hlen || memcmp(man.data, have, hlen) != 0) {
        /* name the differing files */
        char *save = NULL;
        for (char *ln = strtok_r((char *)have, "\n", &save); ln;
             ln = strtok_r(NULL, "\n", &save)) {
            if (!strstr(man.data, ln))
                printf("FAIL: manifest: %s (changed or missing)\n",
                       strlen(ln) > 66 ? ln + 66 : ln);
        }
        printf("FAIL: the files do not match MANIFEST.sha256\n");
        failures++;
    } else {
        printf("ok: every file matches MANIFEST.sha256\n");
    }
    free(have);
    afs_buf_release(&man);

    /* 2. load, then signatures and proofs */
    if ((err = load_bundle(&b, dir)) != 0) {
        printf("FAIL: the bundle cannot be read: %s\n", auditfs_error_last());
        bundle_free(&b); /* load_bundle leaves what it read so far for the caller to free */
        return EXIT_VERIFY;
    }
    for (size_t li = 0; li < b.nledgers; li++) {
        const char *kf = NULL;
        for (size_t k = 0; k < nk; k++) {
            char name[AUDITFS_STREAM_MAX + 1];
            const char *file;
            split_named(name, sizeof name, &file, keys[k]);
            if (!strcmp(name, b.lname[li]) || (nk == 1 && !strchr(keys[k], '=')))
                kf = nk == 1 && !strchr(keys[k], '=') ? keys[k] : file;
        }
        if (!kf) {
            printf("FAIL: %s: no key given (--key %s=FILE.pub)\n", b.lname[li], b.lname[li]);
            failures++;
            continue;
        }
        auditfs_verifier *v = NULL;
        if ((err = auditfs_verifier_load(&v, kf)) != 0) {
            bundle_free(&b);
            return cli_fail(err, kf);
        }
        auditfs_checkpoint cp;
        if (auditfs_checkpoint_open(&cp, b.cp_note[li], b.cp_len[li], v, NULL) != 0) {
            printf("FAIL: %s: the checkpoint is not signed by %s: %s\n", b.lname[li], kf,
                   auditfs_error_last());
            failures++;
            auditfs_verifier_free(v);
            continue;
        }
        auditfs_verifier_free(v);
        size_t n = 0, bad = 0;
        for (size_t i = 0; i < b.n; i++) {
            bentry *x = &b.e[i];
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
            snprintf(rel, sizeof rel, "ledgers/%.64s/entries/%llu.tlog-proof", b.lname[li],
                     (unsigned long long)x->e.seq);
            const char *why = NULL;
            if (get_file(&pt, &pl, dir, rel, AUDITFS_PROOF_MAX_BYTES) != 0)
                why = "no proof file";
            else if (auditfs_tlog_proof_parse(&p, &note, &note_len, (const char *)pt, pl) != 0)
                why = "malformed proof";
            else if (note_len != b.cp_len[li] || memcmp(note, b.cp_note[li], note_len) != 0)
                why = "proof is against another checkpoint";
            else if (p.leaf_index != x->e.seq)
                why = "proof is for another index";
            else {
                auditfs_leaf_hash(&lh, x->leaf, x->leaf_len);
                if (auditfs_merkle_verify_inclusion(&lh, p.leaf_index, cp.size, p.path,
                                                    p.path_len, &cp.root) != 0)
                    why = "inclusion proof does not verify";
            }
            if (!why && x->e.has_content) {
                uint8_t h[32];
                afs_sha256(h, x->content, x->content_len);
                if (!x->content || x->content_len != x->e.content_length ||
                    memcmp(h, x->e.content_sha256, 32) != 0)
                    why = "content does not match the entry's hash";
            }
            free(pt);
            auditfs_error_clear();
            if (why) {
                bad++;
                printf("FAIL: %s entry %llu: %s\n", b.lname[li], (unsigned long long)x->e.seq,
                       why);
            }
        }
        char root[48];
        auditfs_hash_base64(root, &cp.root);
        if (bad)
            failures++;
        else
            printf("ok: %s: checkpoint signed by %s (%s, size %llu, root %s); %zu entries proved\n",
                   b.lname[li], kf, cp.origin, (unsigned long long)cp.size, root, n);
    }
    /* 3. the report */
    afs_buf md = AFS_BUF_INIT, html = AFS_BUF_INIT;
    uint8_t *rmd = NULL, *rhtml = NULL;
    size_t lmd = 0, lhtml = 0;
    if ((err = report_build(&md, &html, &b)) != 0) {
        bundle_free(&b);
        return cli_fail(err, "verify-bundle");
    }
    if (get_file(&rmd, &lmd, dir, "report.md", 1 << 28) != 0 || lmd != md.len ||
        memcmp(rmd, md.data, lmd) != 0) {
        printf("FAIL: report.md is not what the bundle's entries produce\n");
        failures++;
    } else if (get_file(&rhtml, &lhtml, dir, "report.html", 1 << 28) != 0 || lhtml != html.len ||
               memcmp(rhtml, html.data, lhtml) != 0) {
        printf("FAIL: report.html is not what the bundle's entries produce\n");
        failures++;
    } else {
        printf("ok: report.md and report.html are exactly what the bundle's entries produce\n");
    }
    auditfs_error_clear();
    free(rmd);
    free(rhtml);
    afs_buf_release(&md);
    afs_buf_release(&html);
    if (!b.m.valid)
        printf("note: no usable responsibility matrix in the bundle\n");
    else if (strstr(b.m.source, "default"))
        printf("note: the responsibility matrix is the built-in default, not a published "
               "document\n");
    bundle_free(&b);
    if (failures) {
        printf("FAILED: %d check(s) failed; do not rely on this bundle\n", failures);
        return EXIT_VERIFY;
    }
    printf("VERIFIED: every entry in this bundle is in its ledger as signed by the given key(s).\n"
           "Not shown by this check: that the bundle holds every relevant entry; run `auditfs "
           "incident --check %s --ledger NAME=DIR ...` against the full ledger(s).\n", dir);
    return 0;
}

/* ---- archive ---- */

static const char archive_help[] =
    "usage: auditfs archive --ledger DIR -o FILE\n"
    "\n"
    "Writes the whole ledger as one file that stock `git clone FILE DIR` reads (a git bundle,\n"
    "v2, of refs/heads/main with every object it reaches) and its signed checkpoint to\n"
    "FILE.checkpoint. `auditfs verify --ledger DIR --key FILE.pub --trusted FILE.checkpoint`\n"
    "works on the clone.\n";

typedef struct pack_out {
    FILE *f;
    int err;
} pack_out;

static int
pack_cb(void *buf, size_t size, void *payload)
{
    pack_out *o = payload;
    if (fwrite(buf, 1, size, o->f) != size) {
        o->err = 1;
        return -1;
    }
    return 0;
}

int
cmd_archive(int argc, char **argv)
{
    const char *ledger = NULL, *out = NULL;
    int c;
    static const struct option opts[] = {{"ledger", required_argument, 0, 'l'},
                                         {"output", required_argument, 0, 'o'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        switch (c) {
        case 'l': ledger = optarg; break;
        case 'o': out = optarg; break;
        case 'h': fputs(archive_help, stdout); return 0;
        default: return EXIT_USAGE;
        }
    }
    if (optind != argc || !out)
        return cli_usage_error("archive needs -o FILE");
    const char *path = cli_ledger_path(ledger);
    if (!path)
        return cli_usage_error("no ledger: give --ledger DIR or set AUDITFS_LEDGER");
    git_libgit2_init();
    git_repository *repo = NULL;
    git_reference *ref = NULL;
    git_revwalk *walk = NULL;
    git_packbuilder *pb = NULL;
    auditfs_ledger *l = NULL;
    char *note = NULL;
    size_t nlen = 0;
    int rc = 0;
    FILE *f = NULL;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", out);
    if ((rc = cli_open_trusted(&l, NULL, path, NULL, NULL)) != 0)
        return rc;
    if (git_repository_open_ext(&repo, path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0 ||
        git_reference_lookup(&ref, repo, "refs/heads/main") < 0 || !git_reference_target(ref) ||
        git_revwalk_new(&walk, repo) < 0 || git_revwalk_push(walk, git_reference_target(ref)) < 0 ||
        git_packbuilder_new(&pb, repo) < 0 || git_packbuilder_insert_walk(pb, walk) < 0) {
        const git_error *ge = git_error_last();
        fprintf(stderr, "auditfs: archive: %s\n", ge ? ge->message : "git error");
        rc = EXIT_IO;
        goto done;
    }
    {
        /* the checkpoint of exactly the commit we archive */
        git_commit *cm = NULL;
        git_tree *tr = NULL;
        git_tree_entry *te = NULL;
        git_blob *bl = NULL;
        if (git_commit_lookup(&cm, repo, git_reference_target(ref)) == 0 &&
            git_commit_tree(&tr, cm) == 0 && git_tree_entry_bypath(&te, tr, "checkpoint") == 0 &&
            git_blob_lookup(&bl, repo, git_tree_entry_id(te)) == 0) {
            nlen = (size_t)git_blob_rawsize(bl);
            note = malloc(nlen + 1);
            if (note)
                memcpy(note, git_blob_rawcontent(bl), nlen);
        }
        git_blob_free(bl);
        git_tree_entry_free(te);
        git_tree_free(tr);
        git_commit_free(cm);
        if (!note) {
            fprintf(stderr, "auditfs: archive: cannot read the head checkpoint\n");
            rc = EXIT_IO;
            goto done;
        }
    }
    /* the checkpoint must be the one of the commit we archive */
    char oid[GIT_OID_HEXSZ + 1];
    git_oid_tostr(oid, sizeof oid, git_reference_target(ref));
    f = fopen(tmp, "wb");
    if (!f || fprintf(f, "# v2 git bundle\n%s refs/heads/main\n%s HEAD\n\n", oid, oid) < 0) {
        fprintf(stderr, "auditfs: %s: %s\n", tmp, strerror(errno));
        rc = EXIT_IO;
        goto done;
    }
    pack_out po = {f, 0};
    if (git_packbuilder_foreach(pb, pack_cb, &po) < 0 || po.err) {
        const git_error *ge = git_error_last();
        fprintf(stderr, "auditfs: archive: writing the pack: %s\n",
                po.err ? strerror(errno) : ge ? ge->message : "git error");
        rc = EXIT_IO;
        goto done;
    }
    if (fflush(f) != 0 || fsync(fileno(f)) != 0 || fclose(f) != 0) {
        f = NULL;
        fprintf(stderr, "auditfs: %s: %s\n", tmp, strerror(errno));
        rc = EXIT_IO;
        goto done;
    }
    f = NULL;
    char cpath[4200];
    snprintf(cpath, sizeof cpath, "%s.checkpoint", out);
    FILE *cf = fopen(cpath, "wb");
    if (!cf || fwrite(note, 1, nlen, cf) != nlen || fclose(cf) != 0) {
        fprintf(stderr, "auditfs: %s: %s\n", cpath, strerror(errno));
        rc = EXIT_IO;
        goto done;
    }
    if (rename(tmp, out) != 0) {
        fprintf(stderr, "auditfs: %s: %s\n", out, strerror(errno));
        rc = EXIT_IO;
        goto done;
    }
    auditfs_checkpoint cp;
    if (auditfs_ledger_head(&cp, l) != 0)
        cp.size = 0;
    fprintf(stderr, "wrote %s (%zu objects, tree size %llu) and %s\n", out,
            git_packbuilder_object_count(pb), (unsigned long long)cp.size, cpath);
done:
    if (f) {
        fclose(f);
        unlink(tmp);
    }
    git_packbuilder_free(pb);
    git_revwalk_free(walk);
    git_reference_free(ref);
    git_repository_free(repo);
    auditfs_ledger_free(l);
    free(note);
    return rc;
}
