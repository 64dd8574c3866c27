/*
 * ledger/query.c - query expressions: parsing, evaluation on an entry, and running a query over
 * a ledger with the index proposing candidates and the verified cursor deciding.
 *
 * Correctness rests on one rule: the index only ever narrows the set of seqs that are read, and
 * it is built so that it can only over-approximate (index.c adds a whole run's range whenever a
 * run cannot be read or does not check). Every candidate is read back through the cursor, which
 * checks the leaf against the tiles, and the whole expression is evaluated on it here.
 */
#include "hitread.h"
#include "index.h"
#include "store.h"

#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_TERMS 64
#define MAX_TERM_LEN 4096

/* ---- expressions ---- */

enum op { OP_EQ, OP_NE, OP_GLOB, OP_LT, OP_LE, OP_GT, OP_GE };
static const char *const op_names[] = {"=", "!=", "~", "<", "<=", ">", ">="};

/* header fields */
enum hf {
    H_NONE,
    H_SEQ,
    H_TIME,
    H_TYPE,
    H_STREAM,
    H_TENANT,
    H_PARTY,
    H_LAYER,
    H_NAME,
    H_VERSION,
    H_TITLE,
    H_EFFECTIVE,
    H_EVENT_TIME /* the optional event-time header (append --map time=FIELD) */
};
static const char *const hf_names[] = {"",       "_seq",   "_time",  "_type",
                                       "_stream", "_tenant", "_party", "_layer",
                                       "_name",  "_version", "_title", "_effective",
                                       "_event_time"};
#define HF_COUNT 13

typedef struct term {
    char *text;  /* the term as given */
    char *field; /* NUL-terminated */
    enum op op;
    char *value;
    size_t vlen;
    enum hf hf;
    int group;       /* index of the first term on the same field */
    int num_ok;      /* value is a number (JSON comparisons) */
    double num;
    uint64_t u;      /* _seq, _version */
    int64_t t;       /* _time, _effective */
    int64_t t_end;   /* for = on a bare date: end of that day */
} term;

struct auditfs_query {
    term t[MAX_TERMS];
    size_t n;
    int has_evwin;       /* afs_query_set_event_window: narrows candidates only */
    int64_t evwin1, evwin2;
    int has_grep;
    regex_t re;
    char *grep;
    char *text;
};

static int
term_error(size_t idx, const char *text, const char *fmt, ...) AFS_PRINTF(3, 4);

static int
term_error(size_t idx, const char *text, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return afs_error_set(AUDITFS_EFORMAT, "term %zu '%.200s': %s", idx + 1, text, msg);
}

static int
parse_number(double *out, const char *s, size_t n)
{
    afs_jr r = AFS_JR_INIT(s, n);
    r.quiet = 1;
    if (n == 0 || n > 64 || afs_jr_number(&r) != 0 || r.pos != n)
        return 0;
    char tmp[72];
    memcpy(tmp, s, n);
    tmp[n] = 0;
    *out = strtod(tmp, NULL);
    return isfinite(*out);
}

static int
is_bare_date(const char *s)
{
    return strlen(s) == 10 && s[4] == '-' && s[7] == '-';
}

/* The operator at text[k] (one of = != ~ < <= > >=): *op, and *vs the offset of the value. */
static int
term_op(enum op *op, size_t *vs, const char *text, size_t k, size_t idx)
{
    *vs = k + 1;
    switch (text[k]) {
    case '=': *op = OP_EQ; break;
    case '~': *op = OP_GLOB; break;
    case '!':
        if (text[k + 1] != '=')
            return term_error(idx, text, "'!' at offset %zu must be followed by '=' (!=)", k);
        *op = OP_NE;
        *vs = k + 2;
        break;
    case '<':
        *op = text[k + 1] == '=' ? OP_LE : OP_LT;
        *vs = k + 1 + (*op == OP_LE);
        break;
    default:
        *op = text[k + 1] == '=' ? OP_GE : OP_GT;
        *vs = k + 1 + (*op == OP_GE);
        break;
    }
    return 0;
}

/* Checks (and pre-parses) the value of a term on a header field with a closed form: numbers,
 * times, parties, layers and entry types; other fields take any value. */
static int
term_value(term *t, const char *text, size_t idx)
{
    int err = 0;
    switch (t->hf) {
    case H_SEQ:
    case H_VERSION:
        if (!afs_parse_u64(&t->u, t->value, t->vlen)) {
            err = term_error(idx, text, "'%s' is not a non-negative integer", t->value);
            return err;
        }
        break;
    case H_TIME:
    case H_EFFECTIVE:
    case H_EVENT_TIME:
        if (!afs_parse_time_loose(&t->t, t->value)) {
            err = term_error(idx, text, "'%s' is not an RFC 3339 time or a date YYYY-MM-DD",
                             t->value);
            return err;
        }
        t->t_end = t->t + 1;
        if ((t->op == OP_EQ || t->op == OP_NE) && is_bare_date(t->value))
            t->t_end = t->t + 86400LL * 1000000;
        break;
    case H_PARTY:
        if ((t->op == OP_EQ || t->op == OP_NE) && t->vlen && auditfs_party_index(t->value) < 0) {
            err = term_error(idx, text,
                             "'%s' is not a party (provider, customer, security-vendor, "
                             "assessor)",
                             t->value);
            return err;
        }
        break;
    case H_LAYER:
        if ((t->op == OP_EQ || t->op == OP_NE) && t->vlen && auditfs_layer_index(t->value) < 0) {
            err = term_error(idx, text,
                             "'%s' is not a layer (facility, hardware, virtualization, "
                             "platform, application, data)",
                             t->value);
            return err;
        }
        break;
    case H_TYPE:
        if ((t->op == OP_EQ || t->op == OP_NE) && auditfs_entry_type_parse(t->value) == AUDITFS_TYPE_UNKNOWN) {
            err = term_error(idx, text,
                             "'%s' is not an entry type (log, document, notice, quarantine)",
                             t->value);
            return err;
        }
        break;
    default: break;
    }
    return err;
}

static int
add_term(auditfs_query *q, const char *text, size_t idx)
{
    size_t len = strlen(text);
    if (q->n >= MAX_TERMS)
        return term_error(idx, text, "too many terms (at most %d)", MAX_TERMS);
    if (len == 0)
        return term_error(idx, text, "empty term (expected FIELD OP VALUE)");
    if (len > MAX_TERM_LEN)
        return term_error(idx, text, "longer than %d bytes", MAX_TERM_LEN);
    if (!afs_utf8_valid((const uint8_t *)text, len, false))
        return term_error(idx, text, "not UTF-8 text");
    size_t k = strcspn(text, "=!~<>");
    if (k == len)
        return term_error(idx, text,
                          "no operator (expected FIELD OP VALUE with OP one of = != ~ < <= > >=)");
    if (k == 0)
        return term_error(idx, text, "no field name before '%c'", text[0]);
    enum op op = OP_EQ;
    size_t vs;
    int err = term_op(&op, &vs, text, k, idx);
    if (err)
        return err;
    for (size_t i = 0; i < k; i++)
        if (text[i] == ' ' || text[i] == '\t')
            return term_error(idx, text, "space in the field name (quote the whole term)");
    term *t = &q->t[q->n];
    memset(t, 0, sizeof *t);
    t->op = op;
    t->text = strdup(text);
    t->field = strndup(text, k);
    t->value = strdup(text + vs);
    if (!t->text || !t->field || !t->value) {
        free(t->text);
        free(t->field);
        free(t->value);
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    }
    t->vlen = strlen(t->value);
    if (t->field[0] == '_') {
        for (int h = 1; h < HF_COUNT; h++)
            if (strcmp(t->field, hf_names[h]) == 0)
                t->hf = (enum hf)h;
        if (t->hf == H_NONE) {
            err = term_error(idx, text,
                             "unknown header field '%s' (header fields: _seq _time _type _stream "
                             "_tenant _party _layer _name _version _title _effective "
                             "_event_time)",
                             t->field);
            goto fail;
        }
    }
    int cmp = op == OP_LT || op == OP_LE || op == OP_GT || op == OP_GE;
    if (cmp && t->vlen == 0) {
        err = term_error(idx, text, "'%s' needs a value to compare with", op_names[op]);
        goto fail;
    }
    if (op != OP_GLOB) {
        if ((err = term_value(t, text, idx)) != 0)
            goto fail;
        t->num_ok = parse_number(&t->num, t->value, t->vlen);
    }
    t->group = (int)q->n;
    for (size_t i = 0; i < q->n; i++)
        if (strcmp(q->t[i].field, t->field) == 0) {
            t->group = q->t[i].group;
            break;
        }
    q->n++;
    return 0;
fail:
    free(t->text);
    free(t->field);
    free(t->value);
    return err;
}

static int
update_text(auditfs_query *q)
{
    afs_buf b = AFS_BUF_INIT;
    int err = afs_buf_put(&b, "", 0);
    for (size_t i = 0; i < q->n && !err; i++)
        err = afs_buf_printf(&b, "%s%s", i ? "&" : "", q->t[i].text);
    if (!err && q->has_grep)
        err = afs_buf_printf(&b, "%sgrep:%s", q->n ? "&" : "", q->grep);
    if (err) {
        afs_buf_release(&b);
        return err;
    }
    free(q->text);
    q->text = afs_buf_detach(&b, NULL);
    return 0;
}

static int
query_new(auditfs_query **out)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    return update_text(*out);
}

int
auditfs_query_parse(auditfs_query **out, const char *const *terms, size_t n, size_t *bad_term)
{
    auditfs_query *q;
    int err;
    *out = NULL;
    if (bad_term)
        *bad_term = SIZE_MAX;
    if ((err = query_new(&q)) != 0)
        return err;
    for (size_t i = 0; i < n; i++) {
        if ((err = add_term(q, terms[i], i)) != 0) {
            if (bad_term)
                *bad_term = i;
            auditfs_query_free(q);
            return err;
        }
    }
    if ((err = update_text(q)) != 0) {
        auditfs_query_free(q);
        return err;
    }
    *out = q;
    return 0;
}

int
auditfs_query_add_term(auditfs_query *q, const char *term)
{
    int err = add_term(q, term, q->n);
    return err ? err : update_text(q);
}

/* Terms separated by any byte of seps, each percent-decoded (%00 is left as it is). */
static int
parse_separated(auditfs_query **out, const char *s, const char *seps, size_t *bad_term)
{
    auditfs_query *q;
    int err;
    *out = NULL;
    if (bad_term)
        *bad_term = SIZE_MAX;
    if ((err = query_new(&q)) != 0)
        return err;
    size_t idx = 0;
    while (*s) {
        size_t n = strcspn(s, seps);
        char *term = malloc(n + 1), *o = term;
        if (!term) {
            auditfs_query_free(q);
            return afs_error_set(AUDITFS_ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < n; i++) {
            int h1, h2;
            if (s[i] == '%' && i + 2 < n + 1 && (h1 = afs_hexval((uint8_t)s[i + 1])) >= 0 &&
                (h2 = afs_hexval((uint8_t)s[i + 2])) >= 0 && (h1 || h2)) {
                *o++ = (char)(h1 * 16 + h2);
                i += 2;
            } else {
                *o++ = s[i];
            }
        }
        *o = 0;
        err = add_term(q, term, idx++);
        free(term);
        if (err) {
            if (bad_term)
                *bad_term = idx - 1;
            auditfs_query_free(q);
            return err;
        }
        s += n;
        if (*s)
            s++;
    }
    if ((err = update_text(q)) != 0) {
        auditfs_query_free(q);
        return err;
    }
    *out = q;
    return 0;
}

int
auditfs_query_parse_string(auditfs_query **out, const char *s)
{
    return parse_separated(out, s, "&", NULL);
}

int
auditfs_query_parse_name(auditfs_query **out, const char *s, size_t *bad_term)
{
    return parse_separated(out, s, ",&", bad_term);
}

int
auditfs_query_set_grep(auditfs_query *q, const char *pattern)
{
    regex_t re;
    int err = afs_regex_check(pattern);
    if (err)
        return afs_error_wrap(err, "--grep");
    int rc = regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        char msg[256];
        regerror(rc, &re, msg, sizeof msg);
        return afs_error_set(AUDITFS_EFORMAT, "--grep '%.200s': %s", pattern, msg);
    }
    char *copy = strdup(pattern);
    if (!copy) {
        regfree(&re);
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    }
    if (q->has_grep) {
        regfree(&q->re);
        free(q->grep);
    }
    q->re = re;
    q->grep = copy;
    q->has_grep = 1;
    return update_text(q);
}

const char *
auditfs_query_text(const auditfs_query *q)
{
    return q->text ? q->text : "";
}

void
auditfs_query_free(auditfs_query *q)
{
    if (!q)
        return;
    for (size_t i = 0; i < q->n; i++) {
        free(q->t[i].text);
        free(q->t[i].field);
        free(q->t[i].value);
    }
    if (q->has_grep) {
        regfree(&q->re);
        free(q->grep);
    }
    free(q->text);
    free(q);
}

/* ---- evaluation ---- */

/* Glob over bytes: '*' any run, '?' one byte, '\' escapes the next pattern byte. */
static int
glob_match(const char *pat, size_t pn, const char *s, size_t sn)
{
    size_t p = 0, i = 0, star_p = SIZE_MAX, star_i = 0;
    while (i < sn) {
        if (p < pn && pat[p] == '*') {
            star_p = ++p;
            star_i = i;
            continue;
        }
        if (p < pn) {
            char c = pat[p];
            size_t adv = 1;
            if (c == '\\' && p + 1 < pn) {
                c = pat[p + 1];
                adv = 2;
            } else if (c == '?') {
                p++;
                i++;
                continue;
            }
            if (c == s[i]) {
                p += adv;
                i++;
                continue;
            }
        }
        if (star_p == SIZE_MAX)
            return 0;
        p = star_p;
        i = ++star_i;
    }
    while (p < pn && pat[p] == '*')
        p++;
    return p == pn;
}

static int
bytes_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    if (c)
        return c;
    return an < bn ? -1 : an > bn;
}

static int
cmp_ok(enum op op, int c)
{
    switch (op) {
    case OP_LT: return c < 0;
    case OP_LE: return c <= 0;
    case OP_GT: return c > 0;
    case OP_GE: return c >= 0;
    default: return 0;
    }
}

/* The positive predicate of t on one value of a JSON field (for != : equality). */
static int
json_pred(const term *t, const char *v, size_t vn, int kind)
{
    switch (t->op) {
    case OP_EQ:
    case OP_NE: return vn == t->vlen && memcmp(v, t->value, vn) == 0;
    case OP_GLOB: return glob_match(t->value, t->vlen, v, vn);
    default:
        if (kind == AFS_JSON_NUMBER) {
            double d;
            if (!t->num_ok || !parse_number(&d, v, vn))
                return 0;
            return cmp_ok(t->op, d < t->num ? -1 : d > t->num);
        }
        if (kind == AFS_JSON_STRING)
            return cmp_ok(t->op, bytes_cmp(v, vn, t->value, t->vlen));
        return 0;
    }
}

static int
time_pred(const term *t, int64_t v)
{
    switch (t->op) {
    case OP_EQ:
    case OP_NE: return v >= t->t && v < t->t_end;
    case OP_GLOB: {
        char s[32];
        afs_format_time(s, v);
        return glob_match(t->value, t->vlen, s, strlen(s));
    }
    default: return cmp_ok(t->op, v < t->t ? -1 : v > t->t);
    }
}

static int
u64_pred(const term *t, uint64_t v)
{
    if (t->op == OP_GLOB) {
        char s[24];
        snprintf(s, sizeof s, "%llu", (unsigned long long)v);
        return glob_match(t->value, t->vlen, s, strlen(s));
    }
    int c = v < t->u ? -1 : v > t->u;
    return t->op == OP_EQ || t->op == OP_NE ? c == 0 : cmp_ok(t->op, c);
}

static int
str_pred(const term *t, const char *v)
{
    size_t vn = strlen(v);
    switch (t->op) {
    case OP_EQ:
    case OP_NE: return vn == t->vlen && memcmp(v, t->value, vn) == 0;
    case OP_GLOB: return glob_match(t->value, t->vlen, v, vn);
    default: return cmp_ok(t->op, bytes_cmp(v, vn, t->value, t->vlen));
    }
}

/* any[i]: the positive predicate of term i held for some value of its field */
typedef struct eval_ctx {
    const auditfs_query *q;
    unsigned char any[MAX_TERMS];
} eval_ctx;

static int
eval_member(void *vctx, const char *key, size_t klen, const char *val, size_t vlen, int kind)
{
    eval_ctx *c = vctx;
    for (size_t i = 0; i < c->q->n; i++) {
        const term *t = &c->q->t[i];
        if (t->hf != H_NONE || c->any[i] || strlen(t->field) != klen ||
            memcmp(t->field, key, klen) != 0)
            continue;
        if (json_pred(t, val, vlen, kind))
            c->any[i] = 1;
    }
    return 0;
}

int
auditfs_query_match(const auditfs_query *q, const auditfs_entry *e)
{
    eval_ctx c;
    int need_json = 0;
    memset(&c, 0, sizeof c);
    c.q = q;
    for (size_t i = 0; i < q->n; i++) {
        const term *t = &q->t[i];
        switch (t->hf) {
        case H_NONE: need_json = 1; break;
        case H_SEQ: c.any[i] = (unsigned char)u64_pred(t, e->seq); break;
        case H_VERSION: c.any[i] = e->version && u64_pred(t, e->version); break;
        case H_TIME: c.any[i] = (unsigned char)time_pred(t, e->time_us); break;
        case H_EFFECTIVE: c.any[i] = e->has_effective && time_pred(t, e->effective_us); break;
        case H_EVENT_TIME:
            c.any[i] = e->has_event_time && time_pred(t, e->event_time_us);
            break;
        case H_TYPE: c.any[i] = (unsigned char)str_pred(t, e->type); break;
        case H_STREAM: c.any[i] = (unsigned char)str_pred(t, e->stream); break;
        case H_TENANT: c.any[i] = (unsigned char)str_pred(t, e->tenant); break;
        case H_PARTY: c.any[i] = (unsigned char)str_pred(t, e->party); break;
        case H_LAYER: c.any[i] = (unsigned char)str_pred(t, e->layer); break;
        case H_NAME: c.any[i] = (unsigned char)str_pred(t, e->name); break;
        case H_TITLE: c.any[i] = (unsigned char)str_pred(t, e->title); break;
        }
    }
    if (need_json)
        (void)afs_json_members(e->payload, e->payload_len, eval_member, &c);
    /* groups of = terms are ORed; every other term is ANDed */
    for (size_t i = 0; i < q->n; i++) {
        const term *t = &q->t[i];
        if (t->op == OP_NE) {
            if (c.any[i])
                return 0;
        } else if (t->op == OP_EQ) {
            int ok = 0;
            for (size_t j = 0; j < q->n && !ok; j++)
                if (q->t[j].group == t->group && q->t[j].op == OP_EQ && c.any[j])
                    ok = 1;
            if (!ok)
                return 0;
        } else if (!c.any[i]) {
            return 0;
        }
    }
    if (q->has_grep) {
        regmatch_t m[1];
        m[0].rm_so = 0;
        m[0].rm_eo = (regoff_t)e->payload_len;
        const char *s = e->payload_len ? (const char *)e->payload : "";
        if (regexec(&q->re, s, 1, m, REG_STARTEND) != 0)
            return 0;
    }
    return 1;
}

void
auditfs_query_range(const auditfs_query *q, uint64_t *seq_lo, uint64_t *seq_hi, int64_t *t_lo,
                    int64_t *t_hi)
{
    *seq_lo = 0;
    *seq_hi = UINT64_MAX;
    *t_lo = INT64_MIN;
    *t_hi = INT64_MAX;
    for (size_t i = 0; i < q->n; i++) {
        const term *t = &q->t[i];
        uint64_t slo = 0, shi = UINT64_MAX;
        int64_t lo = INT64_MIN, hi = INT64_MAX;
        if (t->hf != H_SEQ && t->hf != H_TIME)
            continue;
        switch (t->op) {
        case OP_EQ:
            /* = terms on one field are ORed: their hull */
            if (t->group != (int)i)
                continue;
            slo = UINT64_MAX, shi = 0, lo = INT64_MAX, hi = INT64_MIN;
            for (size_t j = i; j < q->n; j++) {
                const term *u = &q->t[j];
                if (u->group != t->group || u->op != OP_EQ)
                    continue;
                slo = u->u < slo ? u->u : slo;
                shi = u->u >= shi ? (u->u == UINT64_MAX ? UINT64_MAX : u->u + 1) : shi;
                lo = u->t < lo ? u->t : lo;
                hi = u->t_end - 1 > hi ? u->t_end - 1 : hi;
            }
            break;
        case OP_GE: slo = t->u, lo = t->t; break;
        case OP_GT: slo = t->u == UINT64_MAX ? UINT64_MAX : t->u + 1, lo = t->t; break;
        case OP_LT: shi = t->u, hi = t->t; break;
        case OP_LE: shi = t->u == UINT64_MAX ? UINT64_MAX : t->u + 1, hi = t->t; break;
        default: continue; /* != and ~ do not bound anything */
        }
        if (t->hf == H_SEQ) {
            *seq_lo = slo > *seq_lo ? slo : *seq_lo;
            *seq_hi = shi < *seq_hi ? shi : *seq_hi;
        } else {
            *t_lo = lo > *t_lo ? lo : *t_lo;
            *t_hi = hi < *t_hi ? hi : *t_hi;
        }
    }
}

/* ---- candidates from the index ---- */

/* acc becomes acc intersected with one (tmp is scratch space), and the query is constrained. */
static int
narrow(afs_ivals *acc, afs_ivals *tmp, const afs_ivals *one, int *constrained)
{
    int err = afs_ivals_intersect(tmp, acc, one);
    if (err)
        return err;
    afs_ivals s = *acc;
    *acc = *tmp;
    *tmp = s;
    *constrained = 1;
    return 0;
}

/* Narrows [*lo, *hi) by a comparison term on _seq. */
static void
seq_bound(uint64_t *lo, uint64_t *hi, const term *t)
{
    if (t->op == OP_GE && t->u > *lo)
        *lo = t->u;
    if (t->op == OP_GT && t->u + 1 > *lo)
        *lo = t->u == UINT64_MAX ? UINT64_MAX : t->u + 1;
    if (t->op == OP_LT && t->u < *hi)
        *hi = t->u;
    if (t->op == OP_LE && t->u < *hi)
        *hi = t->u == UINT64_MAX ? UINT64_MAX : t->u + 1;
}

/* The inclusive range of ledger times term t on _time allows; 0 if it does not bound them. */
static int
time_bounds(int64_t *lo, int64_t *hi, const auditfs_query *q, const term *t)
{
    *lo = INT64_MIN;
    *hi = INT64_MAX;
    if (t->op == OP_GE || t->op == OP_GT) {
        *lo = t->t;
    } else if (t->op == OP_LE || t->op == OP_LT) {
        *hi = t->t;
    } else if (t->op == OP_EQ) {
        /* the OR of = terms on _time: their hull */
        int64_t glo = INT64_MAX, ghi = INT64_MIN;
        for (size_t j = 0; j < q->n; j++)
            if (q->t[j].group == t->group && q->t[j].op == OP_EQ) {
                glo = q->t[j].t < glo ? q->t[j].t : glo;
                ghi = q->t[j].t_end - 1 > ghi ? q->t[j].t_end - 1 : ghi;
            }
        *lo = glo;
        *hi = ghi;
    } else {
        return 0;
    }
    return 1;
}

/* The candidate seqs in [0, ixsize) implied by the index for q; *constrained 0 if none. */
static int
candidates(afs_ivals *out, int *constrained, afs_index *ix, const auditfs_query *q)
{
    uint64_t size = afs_index_size(ix);
    afs_ivals acc = AFS_IVALS_INIT, tmp = AFS_IVALS_INIT, one = AFS_IVALS_INIT;
    int err = afs_ivals_push(&acc, 0, size);
    uint64_t seq_lo = 0, seq_hi = UINT64_MAX;
    int64_t t_lo = INT64_MIN, t_hi = INT64_MAX; /* time bounds, inclusive */
    int64_t e_lo = INT64_MIN, e_hi = INT64_MAX; /* event-time bounds, inclusive */
    int have_time = 0, have_event = 0;
    unsigned char done[MAX_TERMS] = {0};
    *constrained = 0;
    for (size_t i = 0; i < q->n && !err; i++) {
        const term *t = &q->t[i];
        if (t->hf == H_SEQ) {
            if (t->op == OP_EQ) {
                /* an OR group of _seq= terms */
                if (done[t->group])
                    continue;
                done[t->group] = 1;
                one.n = 0;
                for (size_t j = 0; j < q->n && !err; j++)
                    if (q->t[j].group == t->group && q->t[j].op == OP_EQ && q->t[j].u < size)
                        err = afs_ivals_add(&one, q->t[j].u, q->t[j].u + 1);
                if (!err)
                    err = narrow(&acc, &tmp, &one, constrained);
                continue;
            }
            seq_bound(&seq_lo, &seq_hi, t);
            continue;
        }
        if (t->hf == H_TIME) {
            int64_t lo, hi;
            if (!time_bounds(&lo, &hi, q, t))
                continue;
            if (lo > t_lo)
                t_lo = lo;
            if (hi < t_hi)
                t_hi = hi;
            have_time = 1;
            continue;
        }
        if (t->hf == H_EVENT_TIME) {
            int64_t lo, hi;
            if (!time_bounds(&lo, &hi, q, t))
                continue;
            if (t->op == OP_LT && hi > INT64_MIN) /* strict: _event_time<DAY leaves DAY out */
                hi--;
            if (lo > e_lo)
                e_lo = lo;
            if (hi < e_hi)
                e_hi = hi;
            have_event = 1;
            continue;
        }
        if (t->op != OP_EQ || done[t->group] || !afs_index_has_field(ix, t->field))
            continue;
        done[t->group] = 1;
        one.n = 0;
        for (size_t j = 0; j < q->n && !err; j++)
            if (q->t[j].group == t->group && q->t[j].op == OP_EQ)
                err = afs_index_lookup(&one, ix, q->t[j].field, q->t[j].value, q->t[j].vlen);
        if (!err)
            err = narrow(&acc, &tmp, &one, constrained);
    }
    if (!err && (seq_lo > 0 || seq_hi < UINT64_MAX)) {
        one.n = 0;
        if (seq_lo < seq_hi)
            err = afs_ivals_push(&one, seq_lo, seq_hi);
        if (!err)
            err = narrow(&acc, &tmp, &one, constrained);
    }
    if (!err && have_time) {
        one.n = 0;
        if (t_lo <= t_hi)
            err = afs_index_days(&one, ix, t_lo == INT64_MIN ? INT64_MIN : afs_day_of(t_lo),
                                 t_hi == INT64_MAX ? INT64_MAX : afs_day_of(t_hi));
        if (!err)
            err = narrow(&acc, &tmp, &one, constrained);
    }
    /* an event-time window bounded on both sides: the event days in it (an entry without an
     * event time never matches an _event_time term) */
    if (!err && have_event && e_lo != INT64_MIN && e_hi != INT64_MAX) {
        one.n = 0;
        if (e_lo <= e_hi)
            err = afs_index_event_window(&one, ix, afs_day_of(e_lo), afs_day_of(e_hi), 0);
        if (!err)
            err = narrow(&acc, &tmp, &one, constrained);
    }
    /* incident --time event: event time, or ledger time without one, in [evwin1, evwin2) */
    if (!err && q->has_evwin) {
        one.n = 0;
        if (q->evwin1 < q->evwin2)
            err = afs_index_event_window(&one, ix, afs_day_of(q->evwin1),
                                         afs_day_of(q->evwin2 - 1), 1);
        if (!err)
            err = narrow(&acc, &tmp, &one, constrained);
    }
    afs_ivals_release(&tmp);
    afs_ivals_release(&one);
    if (err) {
        afs_ivals_release(&acc);
        return err;
    }
    *out = acc;
    return 0;
}

int
afs_query_index_candidates(afs_ivals *out, afs_index *ix, const auditfs_query *q, uint64_t head)
{
    int constrained = 0, err;
    uint64_t indexed = afs_index_size(ix);
    out->n = 0;
    if ((err = candidates(out, &constrained, ix, q)) != 0)
        return err;
    if (!constrained) {
        out->n = 0;
        err = afs_ivals_push(out, 0, indexed < head ? indexed : head);
    }
    if (!err && indexed < head)
        err = afs_ivals_push(out, indexed, head);
    return err;
}

/* Candidate runs up to this long are read entry by entry (hitread.c: one frame per entry, the
 * last frame kept); longer ones through the cursor, which decodes each frame once and chains
 * each leaf's prev from the one before. */
#define HIT_RUN 64

/* One candidate entry s, read and checked by hitread (short runs) or the cursor: 1, or <0. */
static int
read_one(afs_hitread *hr, auditfs_cursor *cur, uint64_t s, const uint8_t **leaf, size_t *len)
{
    if (hr) {
        int err = afs_hitread_leaf(hr, s, leaf, len);
        return err ? err : 1;
    }
    int r = auditfs_cursor_next(cur, leaf, len);
    if (r == 0)
        return afs_error_set(AUDITFS_EVERIFY, "entry %llu: missing", (unsigned long long)s);
    return r;
}

/* Reads the candidates through the verified readers, evaluates q on each entry and calls cb
 * for the hits, up to the options' limit. */
static int
scan(auditfs_query_stats *st, auditfs_cursor *cur, afs_hitread *hr, const afs_ivals *cand,
     uint64_t head, const auditfs_query *q, const auditfs_query_options *o, auditfs_query_cb cb,
     void *ctx)
{
    int err = 0;
    for (size_t k = 0; k < cand->n && !err; k++) {
        uint64_t a = cand->v[k][0], b = cand->v[k][1] < head ? cand->v[k][1] : head;
        if (a >= b)
            continue;
        afs_hitread *one = b - a <= HIT_RUN ? hr : NULL;
        if (!one && (err = afs_cursor_seek(cur, a)) != 0)
            break;
        for (uint64_t s = a; s < b; s++) {
            const uint8_t *leaf;
            size_t len;
            auditfs_entry e;
            int r = read_one(one, cur, s, &leaf, &len);
            if (r < 0) {
                err = r;
                break;
            }
            if ((err = auditfs_entry_parse(&e, leaf, len)) != 0) {
                err = afs_error_wrap(AUDITFS_EVERIFY, "entry %llu", (unsigned long long)s);
                break;
            }
            if (e.seq != s) {
                err = afs_error_set(AUDITFS_EVERIFY, "entry %llu carries seq %llu",
                                    (unsigned long long)s, (unsigned long long)e.seq);
                break;
            }
            st->examined++;
            if (!auditfs_query_match(q, &e))
                continue;
            st->hits++;
            if ((err = cb(ctx, &e, leaf, len)) != 0)
                break;
            if (o->limit && st->hits >= o->limit)
                return err; /* the limit */
        }
    }
    return err;
}

int
afs_query_set_event_window(auditfs_query *q, int64_t t1, int64_t t2)
{
    q->has_evwin = 1;
    q->evwin1 = t1;
    q->evwin2 = t2;
    return 0;
}

/* ---- running ---- */

/* Whether an update would leave ix as it is: opened (authenticated, a prefix of the head),
 * covering the whole head, and no run's header failed its check. */
static int
index_current(afs_index *ix, const auditfs_ledger *l)
{
    return ix && afs_index_size(ix) == l->cp.size && !afs_index_problem(ix)[0];
}

int
auditfs_query_run(auditfs_ledger *l, const auditfs_query *q, const auditfs_query_options *opts,
                  auditfs_query_cb cb, void *ctx, auditfs_query_stats *stats)
{
    auditfs_query_options o = AUDITFS_QUERY_OPTIONS_INIT;
    auditfs_query_stats st;
    afs_index *ix = NULL;
    afs_ivals cand = AFS_IVALS_INIT;
    auditfs_cursor *cur = NULL;
    afs_hitread *hr = NULL;
    int err = 0;
    if (opts)
        o = *opts;
    memset(&st, 0, sizeof st);
    st.head_size = l->cp.size;
    if (o.no_index) {
        snprintf(st.note, sizeof st.note, "index not used (--no-index)");
    } else {
        char why[200] = "";
        /* The index as it is first: when it is authenticated, covers the head and every run's
         * header checks, an update would keep it as it is (index.c index_update), so it is not
         * run (it read and hashed every run's header, then the open did it again: 155 runs at
         * 10M entries). Otherwise: update, then open again. */
        if ((err = afs_index_open(&ix, l, why, sizeof why)) != 0)
            goto done;
        if (!o.no_update && !index_current(ix, l)) {
            afs_index_close(ix);
            ix = NULL;
            int uerr = auditfs_index_update(l);
            if (uerr && uerr != AUDITFS_EBUSY)
                snprintf(st.note, sizeof st.note, "index not updated: %.200s",
                         auditfs_error_last());
            auditfs_error_clear();
            why[0] = 0;
            if ((err = afs_index_open(&ix, l, why, sizeof why)) != 0)
                goto done;
        }
        if (!ix && !st.note[0])
            snprintf(st.note, sizeof st.note, "index not used: %s", why);
    }
    uint64_t head = l->cp.size;
    if (ix) {
        if ((err = afs_query_index_candidates(&cand, ix, q, head)) != 0)
            goto done;
        st.index_used = 1;
        st.indexed = afs_index_size(ix);
        if (afs_index_problem(ix)[0])
            snprintf(st.note, sizeof st.note, "%.250s", afs_index_problem(ix));
    } else if ((err = afs_ivals_push(&cand, 0, head)) != 0) {
        goto done;
    }
    if ((err = auditfs_cursor_new(&cur, l, 0, head)) != 0 ||
        (err = afs_hitread_new(&hr, l)) != 0)
        goto done;
    err = scan(&st, cur, hr, &cand, head, q, &o, cb, ctx);
done:
    afs_hitread_free(hr);
    auditfs_cursor_free(cur);
    afs_ivals_release(&cand);
    afs_index_close(ix);
    if (stats)
        *stats = st;
    return err;
}

/* ---- output ---- */

static int
format_hit(afs_buf *b, auditfs_ledger *l, const auditfs_entry *e, int format)
{
    int err = 0;
    char *j = NULL;
    if (format == AUDITFS_QUERY_PAYLOADS && !e->has_content) {
        err = afs_buf_put(b, e->payload, e->payload_len);
        return err ? err : afs_buf_put(b, "\n", 1);
    }
    if (format == AUDITFS_QUERY_JSON && !e->has_content) {
        if (afs_json_embeddable(e->payload, e->payload_len))
            err = afs_buf_put(b, e->payload, e->payload_len);
        else if (afs_utf8_valid(e->payload, e->payload_len, true))
            err = afs_json_put_string(b, e->payload, e->payload_len);
        else {
            char *b64 = malloc(AFS_B64_LEN(e->payload_len) + 1);
            if (!b64)
                return afs_error_set(AUDITFS_ENOMEM, "out of memory");
            afs_b64_encode(b64, e->payload, e->payload_len);
            err = afs_buf_printf(b, "{\"payload_base64\":\"%s\"}", b64);
            free(b64);
        }
        return err ? err : afs_buf_put(b, "\n", 1);
    }
    if ((err = auditfs_entry_to_json(&j, e, 1)) != 0)
        return err;
    size_t jl = strlen(j);
    if (format == AUDITFS_QUERY_PROVE && jl > 0 && j[jl - 1] == '}') {
        auditfs_inclusion_proof p;
        char *pj = NULL;
        err = afs_buf_put(b, j, jl - 1);
        if (!err)
            err = auditfs_ledger_prove(&p, l, e->seq, 0);
        if (!err)
            err = auditfs_inclusion_proof_to_json(&pj, &p);
        if (!err)
            err = afs_buf_printf(b, ",\"proof\":%s,\"checkpoint\":", pj);
        if (!err)
            err = afs_json_put_string(b, (const uint8_t *)l->cp_note, l->cp_note_len);
        if (!err)
            err = afs_buf_puts(b, "}\n");
        free(pj);
    } else {
        err = afs_buf_put(b, j, jl);
        if (!err)
            err = afs_buf_put(b, "\n", 1);
    }
    free(j);
    return err;
}

int
auditfs_query_format_hit(char **out, size_t *len, auditfs_ledger *l, const auditfs_entry *e,
                         int format)
{
    afs_buf b = AFS_BUF_INIT;
    int err = format_hit(&b, l, e, format);
    if (err) {
        afs_buf_release(&b);
        return err;
    }
    *out = afs_buf_detach(&b, len);
    return 0;
}

typedef struct bytes_ctx {
    afs_buf b;
    auditfs_ledger *l;
    int format;
    size_t max;
} bytes_ctx;

static int
bytes_cb(void *vctx, const auditfs_entry *e, const uint8_t *leaf, size_t len)
{
    bytes_ctx *c = vctx;
    (void)leaf;
    (void)len;
    int err = format_hit(&c->b, c->l, e, c->format);
    if (!err && c->b.len > c->max)
        err = afs_error_set(AUDITFS_ETOOBIG, "query result larger than %zu bytes", c->max);
    return err;
}

int
auditfs_query_bytes(uint8_t **out, size_t *len, auditfs_ledger *l, const auditfs_query *q,
                    int format, size_t max)
{
    bytes_ctx c = {AFS_BUF_INIT, l, format, max ? max : (size_t)1 << 30};
    auditfs_query_options o = AUDITFS_QUERY_OPTIONS_INIT;
    o.no_update = 1;
    int err = afs_buf_put(&c.b, "", 0);
    if (!err)
        err = auditfs_query_run(l, q, &o, bytes_cb, &c, NULL);
    if (err) {
        afs_buf_release(&c.b);
        return err;
    }
    *out = (uint8_t *)afs_buf_detach(&c.b, len);
    return 0;
}
