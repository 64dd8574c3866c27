/*
 * ledger/report.c - report.md and report.html of an incident bundle, from the loaded bundle
 * only, in the report format version the bundle names (auditfs/report.h). Version 1 output must
 * stay byte for byte what auditfs 0.1.0 wrote (tests/fixtures/bundle-v1 holds one): change
 * version 1 paths only to fix a crash, never wording.
 */
#include "bundle_int.h"
#include "json.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct rep {
    afs_buf md, html;
    int err;
    int v; /* report format version */
    const auditfs_bundle *b;
    const afs_bentry **ord; /* the entries in time order */
    size_t hits;
    const afs_bentry *first_hit;
} rep;

/* ---- output primitives: the same text in both forms, escaped for each ---- */

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

/* a paragraph of escaped text */
static void
para(rep *r, const char *s)
{
    raw(r, "", "<p>");
    both(r, s);
    raw(r, "\n\n", "</p>\n");
}

static void
link_entry(rep *r, const afs_bentry *x)
{
    char label[128], href[256];
    const char *ln = r->b->lname[x->ledger];
    snprintf(label, sizeof label, "%s#%llu", ln, (unsigned long long)x->e.seq);
    snprintf(href, sizeof href, "ledgers/%.64s/entries/%llu.leaf", ln,
             (unsigned long long)x->e.seq);
    if (r->err)
        return;
    r->err = afs_buf_printf(&r->md, "[%s](%s)", label, href);
    if (!r->err)
        r->err = afs_buf_printf(&r->html, "<a href=\"%s\">%s</a>", href, label);
}

/* ---- facts about entries ---- */

typedef struct sum_ctx {
    char actor[80], action[80], resource[80], when[48];
} sum_ctx;

static int
sum_member(void *vctx, const char *k, size_t kl, const char *v, size_t vl, int kind)
{
    sum_ctx *c = vctx;
    char *dst = NULL;
    size_t cap = 80;
    if (kind != AFS_JSON_STRING)
        return 0;
    if (kl == 5 && !memcmp(k, "actor", 5))
        dst = c->actor;
    else if (kl == 6 && !memcmp(k, "action", 6))
        dst = c->action;
    else if (kl == 8 && !memcmp(k, "resource", 8))
        dst = c->resource;
    else if ((kl == 4 && !memcmp(k, "time", 4)) || (kl == 9 && !memcmp(k, "timestamp", 9)) ||
             (kl == 10 && !memcmp(k, "@timestamp", 10)) ||
             (kl == 9 && !memcmp(k, "eventTime", 9)) ||
             (kl == 10 && !memcmp(k, "event_time", 10))) {
        dst = c->when;
        cap = sizeof c->when;
    }
    if (dst && !dst[0])
        snprintf(dst, cap, "%.*s", (int)(vl < cap - 1 ? vl : cap - 1), v);
    return 0;
}

static void
summary(char *out, size_t cap, const afs_bentry *x)
{
    const auditfs_entry *e = &x->e;
    auditfs_entry_type t = auditfs_entry_type_of(e);
    if (t == AUDITFS_TYPE_DOCUMENT) {
        snprintf(out, cap, "document %s v%llu", e->name, (unsigned long long)e->version);
        return;
    }
    if (t == AUDITFS_TYPE_NOTICE) {
        char tm[32] = "";
        if (e->has_effective)
            auditfs_format_time(tm, e->effective_us);
        snprintf(out, cap, "notice \"%s\"%s%s", e->title, tm[0] ? ", effective " : "", tm);
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

/* the event's own time, as its payload states it ("-" if it does not) */
static void
event_time(char *out, size_t cap, const afs_bentry *x)
{
    sum_ctx c;
    memset(&c, 0, sizeof c);
    snprintf(out, cap, "-");
    if (auditfs_entry_type_of(&x->e) == AUDITFS_TYPE_LOG &&
        afs_json_members(x->e.payload, x->e.payload_len, sum_member, &c) == 1 && c.when[0] &&
        auditfs_valid_text((const uint8_t *)c.when, strlen(c.when), 0))
        snprintf(out, cap, "%s", c.when);
}

static const char *
entry_tenant(const auditfs_bundle *b, const afs_bentry *x)
{
    return x->e.tenant[0] ? x->e.tenant : b->tenant;
}

static int
concerns(const auditfs_bundle *b, const afs_bentry *x)
{
    return !b->tenant[0] || !x->e.tenant[0] || !strcmp(x->e.tenant, b->tenant);
}

static int
cmp_time(const void *a, const void *b)
{
    const afs_bentry *x = *(const afs_bentry *const *)a, *y = *(const afs_bentry *const *)b;
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

/* A matching entry judged against the matrix. */
typedef struct verdict {
    const char *tenant, *stype, *resp;
    auditfs_matrix_verdict v;
} verdict;

static verdict
judge(const auditfs_bundle *b, const afs_bentry *x)
{
    verdict j;
    j.tenant = entry_tenant(b, x);
    j.v = auditfs_matrix_evaluate(b->m, j.tenant, x->e.party, x->e.layer, &j.stype, &j.resp);
    return j;
}

static const char *
verdict_text(int version, auditfs_matrix_verdict v)
{
    switch (v) {
    case AUDITFS_MATRIX_OK: return "ok";
    case AUDITFS_MATRIX_MISMATCH: return "MISMATCH";
    case AUDITFS_MATRIX_NO_HEADERS:
        return version >= 2 ? "undetermined: no party or layer recorded"
                            : "no party or layer recorded";
    case AUDITFS_MATRIX_NO_TYPE:
        return version >= 2 ? "undetermined: the tenant's service type is unknown"
                            : "tenant's service type unknown";
    case AUDITFS_MATRIX_NO_LAYER:
        return version >= 2 ? "undetermined: the matrix does not assign the layer"
                            : "layer not in the matrix";
    }
    return "?";
}

/* ---- sections ---- */

static void
sec_head(rep *r)
{
    char line[1024];
    raw(r, "", "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>auditfs incident "
               "report</title><style>body{font-family:sans-serif;max-width:70em;margin:2em auto}"
               "table{border-collapse:collapse}td,th{border:1px solid #999;padding:2px 6px}"
               ".mismatch{background:#fdd}code{background:#eee}</style></head><body>\n");
    raw(r, "# Incident report\n\n", "<h1>Incident report</h1>\n");
    if (r->v >= 2)
        return; /* the summary says it */
    snprintf(line, sizeof line, "Window: %s to %s (half-open, UTC). Tenant: %s. Query: %s.",
             r->b->since, r->b->until, r->b->tenant[0] ? r->b->tenant : "(all)",
             auditfs_query_text(r->b->q));
    para(r, line);
    snprintf(line, sizeof line, "Bundle created %s. %zu matching entries, %zu entries in total.",
             r->b->created, r->hits, r->b->n);
    para(r, line);
}

static void
sec_counts(rep *r, const char *md_head, const char *html_head)
{
    char line[128];
    raw(r, md_head, html_head);
    for (int k = 0; k < AUDITFS_LAYER_COUNT; k++) {
        raw(r, " ", "<th>");
        both(r, auditfs_layer_name(k));
        raw(r, " |", "</th>");
    }
    raw(r, " (none) |\n|---|---|---|---|---|---|---|---|\n", "<th>(none)</th></tr>\n");
    for (int p = 0; p <= AUDITFS_PARTY_COUNT; p++) {
        const char *pn = p < AUDITFS_PARTY_COUNT ? auditfs_party_name(p) : "";
        unsigned long long cnt[AUDITFS_LAYER_COUNT + 1] = {0}, tot = 0;
        for (size_t i = 0; i < r->b->n; i++) {
            const afs_bentry *x = &r->b->e[i];
            if (!x->hit || strcmp(x->e.party, pn))
                continue;
            int k = auditfs_layer_index(x->e.layer);
            cnt[k < 0 ? AUDITFS_LAYER_COUNT : k]++;
            tot++;
        }
        if (!tot)
            continue;
        raw(r, "| ", "<tr><td>");
        both(r, pn[0] ? pn : "(none)");
        raw(r, " |", "</td>");
        for (int k = 0; k <= AUDITFS_LAYER_COUNT; k++) {
            snprintf(line, sizeof line, " %llu |", cnt[k]);
            md_put(r, line);
            snprintf(line, sizeof line, "<td>%llu</td>", cnt[k]);
            html_put(r, line);
        }
        raw(r, "\n", "</tr>\n");
    }
    raw(r, "\n", "</table>\n");
}

/* Version 2: what an assessor reads first. */
static void
sec_summary(rep *r)
{
    const auditfs_bundle *b = r->b;
    char line[2048];
    size_t mism = 0, undet[5] = {0}, nundet = 0;
    for (size_t i = 0; i < b->n; i++) {
        if (!b->e[i].hit)
            continue;
        verdict j = judge(b, &b->e[i]);
        if (!b->m) {
            nundet++;
            continue;
        }
        if (j.v == AUDITFS_MATRIX_MISMATCH)
            mism++;
        else if (j.v != AUDITFS_MATRIX_OK) {
            undet[j.v]++;
            nundet++;
        }
    }
    raw(r, "## Summary\n\n", "<h2>Summary</h2>\n");
    const char *qt = auditfs_query_text(b->q);
    if (r->v >= 4 && !qt[0])
        qt = "(any entry)"; /* "time event" leaves the window out of the query */
    snprintf(line, sizeof line, "Question: which entries match %s between %s and %s (half-open, "
             "UTC), for tenant %s?", qt, b->since, b->until,
             b->tenant[0] ? b->tenant : "(all tenants)");
    para(r, line);
    if (r->v >= 4)
        para(r, b->time_event
                    ? "The window is by event time: the event-time header of each entry (when the "
                      "event happened, from its payload), or its ledger time when it has none. "
                      "The timeline is in that order and shows both times. Documents and notices "
                      "are placed by ledger time."
                    : "The window is by ledger time (when the ledger recorded each entry). The "
                      "timeline is in that order and shows both times.");
    if (!r->hits) {
        raw(r, "**", "<p><strong>");
        both(r, "FINDING: no entry matches the query in the window.");
        raw(r, "** ", "</strong> ");
        both(r, "An empty result is not evidence that nothing happened: check the query, the "
                "window and the ledgers, and run `auditfs incident --check` against the full "
                "ledgers.");
        raw(r, "\n\n", "</p>\n");
    } else {
        snprintf(line, sizeof line, "Answer: %zu matching entries from %zu ledger%s (%zu entries "
                 "in the bundle with the documents and notices around them).", r->hits,
                 b->nledgers, b->nledgers == 1 ? "" : "s", b->n);
        para(r, line);
    }
    snprintf(line, sizeof line, "Acting party against responsible party: %zu mismatch%s, %zu "
             "undetermined.", mism, mism == 1 ? "" : "es", nundet);
    para(r, line);
    if (nundet) {
        raw(r, "", "<ul>\n");
        if (!b->m) {
            raw(r, "- ", "<li>");
            snprintf(line, sizeof line, "%zu: no usable responsibility matrix", nundet);
            both(r, line);
            raw(r, "\n", "</li>\n");
        }
        for (int v = AUDITFS_MATRIX_NO_HEADERS; v <= AUDITFS_MATRIX_NO_LAYER && b->m; v++) {
            if (!undet[v])
                continue;
            raw(r, "- ", "<li>");
            snprintf(line, sizeof line, "%zu: %s", undet[v],
                     verdict_text(r->v, (auditfs_matrix_verdict)v) + strlen("undetermined: "));
            both(r, line);
            raw(r, "\n", "</li>\n");
        }
        raw(r, "\n", "</ul>\n");
    }
    sec_counts(r, "Matching entries by party and layer:\n\n| party |",
               "<p>Matching entries by party and layer:</p>\n<table><tr><th>party</th>");
    snprintf(line, sizeof line, "Bundle created %s by auditfs %s, report format %d.", b->created,
             b->tool[0] ? b->tool : "(unknown)", r->v);
    para(r, line);
}

static void
sec_ledgers(rep *r)
{
    const auditfs_bundle *b = r->b;
    char line[1024];
    raw(r, "## Ledgers\n\n", "<h2>Ledgers</h2>\n<ul>\n");
    for (size_t li = 0; li < b->nledgers; li++) {
        char root[48];
        auditfs_hash_base64(root, &b->cp[li].root);
        snprintf(line, sizeof line, "%s: origin %s, checkpoint size %llu, root %s", b->lname[li],
                 b->cp[li].origin, (unsigned long long)b->cp[li].size, root);
        raw(r, "- ", "<li>");
        both(r, line);
        if (r->v >= 2) {
            if (b->key_name[li][0])
                snprintf(line, sizeof line, ", signed with key %s+%08x (verify it against the "
                         "key you hold, not the copy in the bundle)", b->key_name[li],
                         b->key_id[li]);
            else
                snprintf(line, sizeof line, ", key.pub unreadable");
            both(r, line);
        }
        raw(r, " (", " (");
        char href[128];
        snprintf(href, sizeof href, "ledgers/%.64s/checkpoint", b->lname[li]);
        if (!r->err)
            r->err = afs_buf_printf(&r->md, "[checkpoint](%s))\n", href);
        if (!r->err)
            r->err = afs_buf_printf(&r->html, "<a href=\"%s\">checkpoint</a>)</li>\n", href);
    }
    raw(r, "\n", "</ul>\n");
}

static void
sec_proves(rep *r)
{
    raw(r, "## What this bundle proves\n\n", "<h2>What this bundle proves</h2>\n<p>");
    both(r, "Each entry listed here is, byte for byte, in the ledger named next to it: its leaf "
            "has an inclusion proof to that ledger's signed checkpoint, and `auditfs "
            "verify-bundle` checks the signature with the ledger's key, every proof, every "
            "document and notice content against its entry's hash, the manifest, and that this "
            "report is exactly what the bundle's entries produce. It cannot prove that nothing "
            "relevant was left out: run `auditfs incident --check` against the full ledgers to "
            "re-run the recorded query and compare the set of entries.");
    raw(r, "\n\n", "</p>\n");
}

/* Report 4 on: the timeline by the bundle's chosen time (afs_bundle_when), then as cmp_time. */
typedef struct when_key {
    int64_t when;
    const afs_bentry *x;
} when_key;

static int
cmp_when(const void *a, const void *b)
{
    const when_key *x = a, *y = b;
    if (x->when != y->when)
        return x->when < y->when ? -1 : 1;
    return cmp_time(&x->x, &y->x);
}

static void
sec_timeline(rep *r)
{
    char line[1024], t[32], ev[64], sum[300];
    const afs_bentry **ord = r->ord;
    if (r->v >= 4) {
        if (!(ord = calloc(r->b->n ? r->b->n : 1, sizeof *ord))) {
            if (!r->err)
                r->err = afs_error_set(AUDITFS_ENOMEM, "out of memory");
            return;
        }
        when_key *k = calloc(r->b->n ? r->b->n : 1, sizeof *k);
        if (!k) {
            free(ord);
            if (!r->err)
                r->err = afs_error_set(AUDITFS_ENOMEM, "out of memory");
            return;
        }
        for (size_t i = 0; i < r->b->n; i++)
            k[i] = (when_key){afs_bundle_when(r->b, &r->ord[i]->e), r->ord[i]};
        qsort(k, r->b->n, sizeof *k, cmp_when);
        for (size_t i = 0; i < r->b->n; i++)
            ord[i] = k[i].x;
        free(k);
        raw(r, r->b->time_event ? "## Timeline (by event time; ledger time for entries without "
                                  "one)\n\n"
                                : "## Timeline (by ledger time)\n\n",
            r->b->time_event ? "<h2>Timeline (by event time; ledger time for entries without "
                               "one)</h2>\n"
                             : "<h2>Timeline (by ledger time)</h2>\n");
        raw(r, "| ledger time | event time | entry | kind | party | layer | what "
               "|\n|---|---|---|---|---|---|---|\n",
            "<table><tr><th>ledger time</th><th>event time</th><th>entry</th>"
            "<th>kind</th><th>party</th><th>layer</th><th>what</th></tr>\n");
    } else if (r->v >= 2)
        raw(r, "## Timeline\n\n| ledger time | event time | entry | kind | party | layer | what "
               "|\n|---|---|---|---|---|---|---|\n",
            "<h2>Timeline</h2>\n<table><tr><th>ledger time</th><th>event time</th><th>entry</th>"
            "<th>kind</th><th>party</th><th>layer</th><th>what</th></tr>\n");
    else
        raw(r, "## Timeline\n\n| time | entry | kind | party | layer | what |\n"
               "|---|---|---|---|---|---|\n",
            "<h2>Timeline</h2>\n<table><tr><th>time</th><th>entry</th><th>kind</th><th>party</th>"
            "<th>layer</th><th>what</th></tr>\n");
    for (size_t i = 0; i < r->b->n; i++) {
        const afs_bentry *x = ord[i];
        auditfs_format_time(t, x->e.time_us);
        summary(sum, sizeof sum, x);
        raw(r, "| ", "<tr><td>");
        both(r, t);
        if (r->v >= 4) { /* the event-time header itself, the time the window used */
            if (x->e.has_event_time)
                auditfs_format_time(ev, x->e.event_time_us);
            else
                snprintf(ev, sizeof ev, "-");
            raw(r, " | ", "</td><td>");
            both(r, ev);
        } else if (r->v >= 2) {
            event_time(ev, sizeof ev, x);
            raw(r, " | ", "</td><td>");
            both(r, ev);
        }
        raw(r, " | ", "</td><td>");
        link_entry(r, x);
        raw(r, " | ", "</td><td>");
        snprintf(line, sizeof line, "%s%s", x->e.type, x->hit ? " (match)" : " (context)");
        both(r, line);
        raw(r, " | ", "</td><td>");
        both(r, x->e.party[0] ? x->e.party : "-");
        raw(r, " | ", "</td><td>");
        both(r, x->e.layer[0] ? x->e.layer : "-");
        raw(r, " | ", "</td><td>");
        both(r, sum);
        raw(r, " |\n", "</td></tr>\n");
    }
    raw(r, "\n", "</table>\n");
    if (ord != r->ord)
        free(ord);
}

static void
resp_row(rep *r, const afs_bentry *x, const verdict *j)
{
    int mism = j->v == AUDITFS_MATRIX_MISMATCH;
    raw(r, "| ", mism ? "<tr class=\"mismatch\"><td>" : "<tr><td>");
    link_entry(r, x);
    const char *cells[6] = {j->tenant[0] ? j->tenant : "-", j->stype ? j->stype
                            : r->v >= 2 ? "undetermined" : "-",
                            x->e.layer[0] ? x->e.layer : "-", x->e.party[0] ? x->e.party : "-",
                            j->resp ? j->resp : "-", verdict_text(r->v, j->v)};
    for (int c = 0; c < 6; c++) {
        raw(r, " | ", "</td><td>");
        if (c == 5 && mism)
            raw(r, "**", "<strong>");
        both(r, cells[c]);
        if (c == 5 && mism)
            raw(r, "**", "</strong>");
    }
    raw(r, " |\n", "</td></tr>\n");
}

static void
sec_responsibility(rep *r)
{
    const auditfs_bundle *b = r->b;
    char line[1024];
    size_t mismatches = 0, undetermined = 0;
    raw(r, "## Acting party and responsible party\n\n",
        "<h2>Acting party and responsible party</h2>\n<p>");
    snprintf(line, sizeof line, "Responsibility matrix: %s.",
             b->matrix_source[0] ? b->matrix_source : "none available");
    both(r, line);
    raw(r, "\n\n", "</p>\n");
    if (b->m) {
        raw(r, "| entry | tenant | service type | layer | acting party | responsible | |\n"
               "|---|---|---|---|---|---|---|\n",
            "<table><tr><th>entry</th><th>tenant</th><th>service type</th><th>layer</th>"
            "<th>acting party</th><th>responsible</th><th></th></tr>\n");
        for (size_t i = 0; i < b->n; i++) {
            const afs_bentry *x = r->ord[i];
            if (!x->hit)
                continue;
            verdict j = judge(b, x);
            mismatches += j.v == AUDITFS_MATRIX_MISMATCH;
            undetermined += j.v != AUDITFS_MATRIX_MISMATCH && j.v != AUDITFS_MATRIX_OK;
            resp_row(r, x, &j);
        }
        raw(r, "\n", "</table>\n");
    } else {
        undetermined = r->hits;
    }
    if (r->v >= 2)
        snprintf(line, sizeof line, "%zu mismatch%s between the acting party and the party "
                 "responsible for the layer; %zu matching entr%s undetermined.", mismatches,
                 mismatches == 1 ? "" : "es", undetermined, undetermined == 1 ? "y" : "ies");
    else
        snprintf(line, sizeof line, "%zu mismatch%s between the acting party and the party "
                 "responsible for the layer.", mismatches, mismatches == 1 ? "" : "es");
    para(r, line);
    if (!mismatches)
        return;
    raw(r, "Mismatches:\n\n", "<ul>\n");
    for (size_t i = 0; i < b->n; i++) {
        const afs_bentry *x = r->ord[i];
        if (!x->hit)
            continue;
        verdict j = judge(b, x);
        if (j.v != AUDITFS_MATRIX_MISMATCH)
            continue;
        raw(r, "- ", "<li>");
        link_entry(r, x);
        snprintf(line, sizeof line, ": a %s action on the %s layer of %s tenant %s, for "
                 "which the %s is responsible.", x->e.party, x->e.layer, j.stype, j.tenant,
                 j.resp);
        both(r, line);
        raw(r, "\n", "</li>\n");
    }
    raw(r, "\n", "</ul>\n");
}

static void
sec_notices(rep *r)
{
    const auditfs_bundle *b = r->b;
    const afs_bentry *fh = r->first_hit;
    char line[1024], t[32];
    raw(r, "## Notices given to the customer\n\n", "<h2>Notices given to the customer</h2>\n");
    if (fh) {
        auditfs_format_time(t, fh->e.time_us);
        snprintf(line, sizeof line, "First matching entry at %s: ", t);
        raw(r, "", "<p>");
        both(r, line);
        link_entry(r, fh);
        raw(r, ".\n\n", ".</p>\n");
    }
    raw(r, "", "<ul>\n");
    size_t nn = 0;
    for (size_t i = 0; i < b->n; i++) {
        const afs_bentry *x = r->ord[i];
        if (auditfs_entry_type_of(&x->e) != AUDITFS_TYPE_NOTICE || !concerns(b, x))
            continue;
        nn++;
        raw(r, "- ", "<li>");
        link_entry(r, x);
        auditfs_format_time(t, x->e.time_us);
        int before = fh && x->e.time_us < fh->e.time_us;
        snprintf(line, sizeof line, ": \"%s\" published %s%s", x->e.title, t,
                 fh ? (before ? ", BEFORE the first matching entry"
                              : ", after the first matching entry")
                    : "");
        both(r, line);
        if (x->e.has_effective) {
            auditfs_format_time(t, x->e.effective_us);
            snprintf(line, sizeof line, ", effective %s", t);
            both(r, line);
        }
        raw(r, "\n", "</li>\n");
    }
    raw(r, nn ? "\n" : "No notice concerning the tenant was published before the end of the "
                       "window.\n\n",
        nn ? "</ul>\n" : "</ul><p>No notice concerning the tenant was published before the end "
                         "of the window.</p>\n");
}

static void
sec_documents(rep *r)
{
    const auditfs_bundle *b = r->b;
    char line[1024], t[32];
    raw(r, "## Documents in force (SLA and others)\n\n",
        "<h2>Documents in force (SLA and others)</h2>\n");
    for (size_t i = 0; i < b->n; i++) {
        const afs_bentry *x = r->ord[i];
        if (auditfs_entry_type_of(&x->e) != AUDITFS_TYPE_DOCUMENT)
            continue;
        auditfs_format_time(t, x->e.time_us);
        raw(r, "### ", "<h3>");
        snprintf(line, sizeof line, "%s v%llu", x->e.name, (unsigned long long)x->e.version);
        both(r, line);
        raw(r, "\n\n", "</h3>\n<p>");
        snprintf(line, sizeof line, "Published %s (%s), %s: ", t,
                 x->e.time_us < b->t1 ? "in force when the window opened" : "inside the window",
                 x->e.content_type);
        both(r, line);
        link_entry(r, x);
        char href[256];
        snprintf(href, sizeof href, "ledgers/%.64s/content/%llu", b->lname[x->ledger],
                 (unsigned long long)x->e.seq);
        if (!r->err)
            r->err = afs_buf_printf(&r->md, ", [content](%s)\n\n", href);
        if (!r->err)
            r->err = afs_buf_printf(&r->html, ", <a href=\"%s\">content</a></p>\n", href);
        if (x->content && !strncmp(x->e.content_type, "text/", 5) &&
            is_text(x->content, x->content_len) && x->content_len <= 16384 &&
            !memmem(x->content, x->content_len, "````", 4)) {
            md_put(r, "````text\n");
            if (!r->err)
                r->err = afs_buf_put(&r->md, x->content, x->content_len);
            md_put(r, x->content_len && x->content[x->content_len - 1] == '\n' ? "````\n\n"
                                                                                : "\n````\n\n");
            html_put(r, "<pre>");
            html_esc(r, (const char *)x->content, x->content_len);
            html_put(r, "</pre>\n");
        }
    }
}

/* ---- version 3: receipts ---- */

/* One witness's cosignatures of one ledger, from the bundle's cosignatures/ files. */
typedef struct rcpt_w {
    size_t n;
    uint64_t *size;  /* cosigned sizes, ascending */
    uint64_t *first; /* the witness's earliest timestamp at that size */
} rcpt_w;

/* Earliest cosignature of a size > seq: 1 and *t, *sz, or 0 if none. */
static int
rcpt_ack(const rcpt_w *w, uint64_t seq, uint64_t *t, uint64_t *sz)
{
    int found = 0;
    for (size_t i = 0; i < w->n; i++)
        if (w->size[i] > seq && (!found || w->first[i] < *t)) {
            *t = w->first[i];
            *sz = w->size[i];
            found = 1;
        }
    return found;
}

/* A witness as the report names it: "<name>+<cosignature key id>". */
static void
rcpt_label(char out[300], const auditfs_verifier *w)
{
    snprintf(out, 300, "%s+%08x", auditfs_verifier_name(w), (unsigned)auditfs_cosig_key_id(w));
}

/* Gathers the valid cosignatures of every witness on ledger li's cosignatures/ files. */
static int
rcpt_gather(rcpt_w *ws, const auditfs_bundle *b, size_t li)
{
    size_t nc = b->ncosig[li];
    for (size_t k = 0; k < b->nwitness; k++) {
        ws[k].n = 0;
        ws[k].size = calloc(nc + 1, sizeof *ws[k].size);
        ws[k].first = calloc(nc + 1, sizeof *ws[k].first);
        if (!ws[k].size || !ws[k].first)
            return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    }
    for (size_t c = 0; c < nc; c++) {
        char *note = NULL;
        size_t len = 0;
        /* a file that fails the layout's checks gives no receipt (verify-bundle reports it) */
        if (afs_bundle_cosig_note(&note, &len, b, li, b->cosig[li][c]) != 0)
            continue;
        for (size_t k = 0; k < b->nwitness; k++) {
            uint64_t first = 0, last = 0;
            if (auditfs_cosig_verify(&first, &last, note, len, b->witness[k]) == 0) {
                ws[k].size[ws[k].n] = b->cosig[li][c];
                ws[k].first[ws[k].n++] = first;
            }
        }
        free(note);
    }
    auditfs_error_clear();
    return 0;
}

/* One notice or document version: publication, lead time, and a row per witness. */
static void
rcpt_entry(rep *r, const afs_bentry *x, const rcpt_w *ws)
{
    const auditfs_bundle *b = r->b;
    char line[1024], t[32], d[32], label[300];
    int notice = auditfs_entry_type_of(&x->e) == AUDITFS_TYPE_NOTICE;
    raw(r, "### ", "<h3>");
    if (notice)
        snprintf(line, sizeof line, "notice \"%s\" ", x->e.title);
    else
        snprintf(line, sizeof line, "%s v%llu ", x->e.name, (unsigned long long)x->e.version);
    both(r, line);
    raw(r, "(", "(");
    link_entry(r, x);
    raw(r, ")\n\n", ")</h3>\n");
    auditfs_format_time(t, x->e.time_us);
    if (x->e.has_effective) {
        char e[32];
        auditfs_format_time(e, x->e.effective_us);
        auditfs_format_duration(d, (x->e.effective_us - x->e.time_us) / 1000000);
        snprintf(line, sizeof line, "Published %s, effective %s: lead time %s%s.", t, e, d,
                 x->e.effective_us < x->e.time_us ? " (effective BEFORE it was published)" : "");
    } else {
        snprintf(line, sizeof line, "Published %s; no effective time recorded (in force on "
                 "publication).", t);
    }
    para(r, line);
    raw(r, "| witness | acknowledged at | after publication | cosigned tree size |\n"
           "|---|---|---|---|\n",
        "<table><tr><th>witness</th><th>acknowledged at</th><th>after publication</th>"
        "<th>cosigned tree size</th></tr>\n");
    afs_buf pending = AFS_BUF_INIT;
    size_t npending = 0;
    for (size_t k = 0; k < b->nwitness; k++) {
        uint64_t at = 0, sz = 0;
        rcpt_label(label, b->witness[k]);
        raw(r, "| ", "<tr><td>");
        both(r, label);
        if (rcpt_ack(&ws[k], x->e.seq, &at, &sz)) {
            auditfs_format_time(t, (int64_t)at * 1000000);
            auditfs_format_duration(d, (int64_t)at - x->e.time_us / 1000000);
            snprintf(line, sizeof line, "%s | %s | %llu", t, d, (unsigned long long)sz);
            raw(r, " | ", "</td><td>");
            md_put(r, line); /* generated: times, durations and sizes need no escaping */
            snprintf(line, sizeof line, "%s</td><td>%s</td><td>%llu", t, d,
                     (unsigned long long)sz);
            html_put(r, line);
        } else {
            raw(r, " | not acknowledged | - | -", "</td><td>not acknowledged</td><td>-</td>"
                                                 "<td>-");
            if (!r->err)
                r->err = afs_buf_printf(&pending, "%s%s", npending ? ", " : "", label);
            npending++;
        }
        raw(r, " |\n", "</td></tr>\n");
    }
    raw(r, "\n", "</table>\n");
    if (npending) {
        snprintf(line, sizeof line, "Not acknowledged by %zu of %zu witnesses: %s.", npending,
                 b->nwitness, pending.data ? pending.data : "");
        para(r, line);
    } else {
        snprintf(line, sizeof line, "Acknowledged by all %zu witnesses.", b->nwitness);
        para(r, line);
    }
    afs_buf_release(&pending);
}

/*
 * Longer than a screen because it is one section: the witnesses named in query.txt, then per
 * ledger every notice and document version concerning the tenant, in time order, with each
 * witness's receipt computed from the bundle's own cosignatures/ files.
 */
static void
sec_receipts(rep *r)
{
    const auditfs_bundle *b = r->b;
    char line[1024], label[300];
    rcpt_w ws[AFS_BUNDLE_MAX_WITNESSES];
    raw(r, "## Receipts: who acknowledged each notice and document version\n\n",
        "<h2>Receipts: who acknowledged each notice and document version</h2>\n");
    if (!b->nwitness) {
        para(r, "No witness keys were named when this bundle was written (auditfs incident "
                "--witness KEY.pub ...), so this report names no receipts.");
        return;
    }
    para(r, "A witness (a customer, an assessor) acknowledges everything a ledger held up to a "
            "tree size by cosigning that checkpoint (C2SP tlog-cosignature). Its receipt for a "
            "notice or document version is its earliest cosignature, among the bundle's "
            "ledgers/<name>/cosignatures/ files, of a checkpoint that includes the entry. The "
            "witness keys below are those named when the bundle was written (query.txt); "
            "auditfs verify-bundle --witness KEY.pub checks their cosignatures with keys you "
            "trust.");
    raw(r, "", "<ul>\n");
    for (size_t k = 0; k < b->nwitness; k++) {
        rcpt_label(label, b->witness[k]);
        raw(r, "- ", "<li>");
        both(r, label);
        raw(r, "\n", "</li>\n");
    }
    raw(r, "\n", "</ul>\n");
    for (size_t li = 0; li < b->nledgers && !r->err; li++) {
        memset(ws, 0, sizeof ws);
        size_t shown = 0;
        snprintf(line, sizeof line, "Ledger %s: cosigned checkpoints up to size %llu: %zu.",
                 b->lname[li], (unsigned long long)b->cp[li].size, b->ncosig[li]);
        para(r, line);
        int err = rcpt_gather(ws, b, li);
        if (err && !r->err)
            r->err = err;
        for (size_t i = 0; i < b->n && !r->err; i++) {
            const afs_bentry *x = r->ord[i];
            int ty = auditfs_entry_type_of(&x->e);
            if ((size_t)x->ledger != li || !concerns(b, x) ||
                (ty != AUDITFS_TYPE_NOTICE && ty != AUDITFS_TYPE_DOCUMENT))
                continue;
            rcpt_entry(r, x, ws);
            shown++;
        }
        if (!shown) {
            snprintf(line, sizeof line, "No notice or document version of ledger %s concerning "
                     "the tenant is in the bundle.", b->lname[li]);
            para(r, line);
        }
        for (size_t k = 0; k < b->nwitness; k++) {
            free(ws[k].size);
            free(ws[k].first);
        }
    }
}

static void
sec_files(rep *r)
{
    raw(r, "## Files\n\nEvery file of the bundle is listed with its SHA-256 in MANIFEST.sha256 "
           "(check with `sha256sum -c MANIFEST.sha256` or `auditfs verify-bundle`).\n",
        "<h2>Files</h2>\n<p>Every file of the bundle is listed with its SHA-256 in "
        "MANIFEST.sha256 (check with <code>sha256sum -c MANIFEST.sha256</code> or "
        "<code>auditfs verify-bundle</code>).</p>\n</body></html>\n");
}

int
auditfs_report_build(char **md, size_t *md_len, char **html, size_t *html_len,
                     const auditfs_bundle *b, int version)
{
    rep r;
    memset(&r, 0, sizeof r);
    *md = *html = NULL;
    *md_len = *html_len = 0;
    if (version < 1 || version > AUDITFS_REPORT_CURRENT)
        return afs_error_set(AUDITFS_EINVAL, "report format %d: this auditfs writes 1 to %d",
                             version, AUDITFS_REPORT_CURRENT);
    r.v = version;
    r.b = b;
    if (!(r.ord = calloc(b->n ? b->n : 1, sizeof *r.ord)))
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    for (size_t i = 0; i < b->n; i++)
        r.ord[i] = &b->e[i];
    qsort(r.ord, b->n, sizeof *r.ord, cmp_time);
    for (size_t i = 0; i < b->n; i++)
        if (r.ord[i]->hit) {
            r.hits++;
            if (!r.first_hit)
                r.first_hit = r.ord[i];
        }
    sec_head(&r);
    if (r.v >= 2)
        sec_summary(&r);
    sec_ledgers(&r);
    sec_proves(&r);
    sec_timeline(&r);
    if (r.v == 1)
        sec_counts(&r, "## Matching entries by party and layer\n\n| party |",
                   "<h2>Matching entries by party and layer</h2>\n<table><tr><th>party</th>");
    sec_responsibility(&r);
    sec_notices(&r);
    sec_documents(&r);
    if (r.v >= 3)
        sec_receipts(&r);
    sec_files(&r);
    free(r.ord);
    if (r.err) {
        afs_buf_release(&r.md);
        afs_buf_release(&r.html);
        return r.err;
    }
    *md = afs_buf_detach(&r.md, md_len);
    *html = afs_buf_detach(&r.html, html_len);
    return 0;
}
