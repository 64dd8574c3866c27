#include "auditfs/query.h"
#include "index.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int
parse_err(const char *const *terms, size_t n, size_t *bad)
{
    auditfs_query *q = NULL;
    int err = auditfs_query_parse(&q, terms, n, bad);
    auditfs_query_free(q);
    return err;
}

Test(query, good_terms_parse)
{
    const char *t[] = {"actor=ops-7",   "action~ecs:Stop*", "result!=success", "_stream=api",
                       "_tenant=acme",  "_party=provider",  "_layer=data",     "_type=notice",
                       "_seq>=1000",    "_time>=2026-11-17", "_time<2026-11-18T00:00:00Z",
                       "n<=5",          "n>1.5e3",          "x=",              "x=a=b",
                       "_version>2",    "_effective<=2026-12-01", "_seq~1*", "_name~sla/*"};
    size_t bad = 99;
    cr_assert_eq(parse_err(t, sizeof t / sizeof *t, &bad), 0, "%s", auditfs_error_last());
    cr_assert_eq(bad, SIZE_MAX);
}

static void
expect_bad(const char *term, size_t pos, const char *needle)
{
    const char *t[3] = {"actor=ops-7", "_stream=api", NULL};
    size_t bad = 99;
    t[pos] = term;
    size_t n = pos + 1 > 2 ? pos + 1 : 2;
    int err = parse_err(t, n, &bad);
    cr_assert_eq(err, AUDITFS_EFORMAT, "term '%s' should be refused", term);
    cr_assert_eq(bad, pos, "term '%s': bad index %zu", term, bad);
    char want[64];
    snprintf(want, sizeof want, "term %zu '", pos + 1);
    cr_assert(strstr(auditfs_error_last(), want), "message '%s' names the term position",
              auditfs_error_last());
    cr_assert(strstr(auditfs_error_last(), term), "message '%s' quotes the term",
              auditfs_error_last());
    cr_assert(strstr(auditfs_error_last(), needle), "message '%s' says '%s'",
              auditfs_error_last(), needle);
}

Test(query, bad_terms_point_at_the_term)
{
    expect_bad("actor", 0, "no operator");
    expect_bad("=x", 1, "no field name");
    expect_bad("actor!x", 2, "'!'");
    expect_bad("_foo=1", 1, "unknown header field");
    expect_bad("_seq>=abc", 2, "not a non-negative integer");
    expect_bad("_seq=-1", 1, "not a non-negative integer");
    expect_bad("_time>=yesterday", 0, "not an RFC 3339");
    expect_bad("_party=provder", 2, "not a party");
    expect_bad("_layer=os", 1, "not a layer");
    expect_bad("_type=doc", 0, "not an entry type");
    expect_bad("n<", 2, "needs a value");
    expect_bad("my field=1", 1, "space in the field name");
}

Test(query, empty_term_and_too_many)
{
    const char *t[] = {""};
    size_t bad;
    cr_assert_eq(parse_err(t, 1, &bad), AUDITFS_EFORMAT);
    cr_assert_eq(bad, 0);
    const char *many[70];
    for (int i = 0; i < 70; i++)
        many[i] = "a=b";
    cr_assert_eq(parse_err(many, 70, &bad), AUDITFS_EFORMAT);
    cr_assert_eq(bad, 64);
}

Test(query, bad_grep)
{
    auditfs_query *q = NULL;
    cr_assert_eq(auditfs_query_parse(&q, NULL, 0, NULL), 0);
    cr_assert_eq(auditfs_query_set_grep(q, "a("), AUDITFS_EFORMAT);
    cr_assert(strstr(auditfs_error_last(), "--grep"));
    auditfs_query_free(q);
}

static auditfs_entry
mk(const char *payload)
{
    auditfs_entry e;
    memset(&e, 0, sizeof e);
    e.seq = 1500;
    e.time_us = 1795299191123456LL; /* 2026-11-21T22:13:11.123456Z */
    strcpy(e.type, "log");
    strcpy(e.stream, "api");
    strcpy(e.tenant, "acme");
    strcpy(e.party, "provider");
    strcpy(e.layer, "data");
    e.payload = (const uint8_t *)payload;
    e.payload_len = strlen(payload);
    return e;
}

static int
m(const char *payload, const char *expr)
{
    auditfs_query *q = NULL;
    auditfs_entry e = mk(payload);
    int err = auditfs_query_parse_string(&q, expr);
    cr_assert_eq(err, 0, "%s: %s", expr, auditfs_error_last());
    int r = auditfs_query_match(q, &e);
    auditfs_query_free(q);
    return r;
}

Test(query, matching)
{
    const char *p = "{\"actor\":\"ops-7\",\"action\":\"ecs:StopInstance\",\"n\":42,"
                    "\"ok\":true,\"tags\":[1,2],\"esc\":\"a\\u0026b\\\"c\"}";
    cr_assert(m(p, "actor=ops-7"));
    cr_assert(!m(p, "actor=ops-8"));
    cr_assert(m(p, "actor=ops-8&actor=ops-7"), "same field with = is ORed");
    cr_assert(!m(p, "actor=ops-7&action=x"), "different fields are ANDed");
    cr_assert(m(p, "action~ecs:Stop*"));
    cr_assert(!m(p, "action~ecs:Start*"));
    cr_assert(m(p, "action~ecs:St?pInstance"));
    cr_assert(m(p, "n>41&n<=42"));
    cr_assert(!m(p, "n>42"));
    cr_assert(m(p, "n=42"));
    cr_assert(m(p, "ok=true"));
    cr_assert(m(p, "tags=[1,2]"));
    cr_assert(m(p, "esc=a%26b\"c"), "escapes are decoded");
    cr_assert(m(p, "result!=success"), "!= matches an absent field");
    cr_assert(!m(p, "actor!=ops-7"));
    cr_assert(!m(p, "missing>1"), "an absent field never compares");
    cr_assert(m(p, "_stream=api&_tenant=acme&_party=provider&_layer=data&_type=log"));
    cr_assert(!m(p, "_party=customer"));
    cr_assert(m(p, "_seq>=1000&_seq<2000"));
    cr_assert(!m(p, "_seq>=1000&_seq<1500"));
    cr_assert(m(p, "_seq=7&_seq=1500"));
    cr_assert(m(p, "_time>=2026-11-21&_time<2026-11-22"));
    cr_assert(m(p, "_time=2026-11-21"), "a bare date is the whole day");
    cr_assert(!m(p, "_time=2026-11-22"));
    cr_assert(m(p, "_time~2026-11-21T22:*"));
    cr_assert(!m(p, "_time>2026-11-21T22:13:11.123456Z"));
    cr_assert(m(p, "_time>=2026-11-21T23:13:11.123456+01:00"));
    cr_assert(!m(p, "_name=x"));
    cr_assert(m(p, "_name="), "absent header values are empty");
}

Test(query, non_json_payloads)
{
    cr_assert(m("actor=ops-7 stopped i-1", "_stream=api"));
    cr_assert(!m("actor=ops-7 stopped i-1", "actor=ops-7"));
    cr_assert(m("actor=ops-7 stopped i-1", "actor!=ops-7"));
    cr_assert(!m("{\"actor\":\"ops-7\"} trailing", "actor=ops-7"), "not one JSON object");
    cr_assert(!m("[{\"actor\":\"ops-7\"}]", "actor=ops-7"), "an array is not an object");
}

Test(query, grep)
{
    auditfs_query *q = NULL;
    auditfs_entry e = mk("{\"msg\":\"disk /dev/sda1 failed\"}");
    cr_assert_eq(auditfs_query_parse(&q, NULL, 0, NULL), 0);
    cr_assert_eq(auditfs_query_set_grep(q, "sd[a-z][0-9] fail"), 0);
    cr_assert(auditfs_query_match(q, &e));
    cr_assert_eq(auditfs_query_set_grep(q, "^nope"), 0);
    cr_assert(!auditfs_query_match(q, &e));
    auditfs_query_free(q);
}

Test(query, parse_string_percent)
{
    auditfs_query *q = NULL;
    cr_assert_eq(auditfs_query_parse_string(&q, "a=x%26y&_stream=api"), 0);
    cr_assert_str_eq(auditfs_query_text(q), "a=x&y&_stream=api");
    auditfs_query_free(q);
    cr_assert_eq(auditfs_query_parse_string(&q, "a=1&bogus"), AUDITFS_EFORMAT);
    cr_assert(strstr(auditfs_error_last(), "term 2 'bogus'"));
}

Test(query, parse_name_commas)
{
    auditfs_query *q = NULL;
    size_t bad = 0;
    cr_assert_eq(auditfs_query_parse_name(&q, "actor=ops-7,_time>=2026-11-17", &bad), 0);
    cr_assert_str_eq(auditfs_query_text(q), "actor=ops-7&_time>=2026-11-17");
    auditfs_query_free(q);
    cr_assert_eq(auditfs_query_parse_name(&q, "tags=[1%2C2]&note~a%2Fb%25", NULL), 0);
    cr_assert_str_eq(auditfs_query_text(q), "tags=[1,2]&note~a/b%");
    auditfs_query_free(q);
    cr_assert_eq(auditfs_query_parse_name(&q, "", NULL), 0);
    cr_assert_str_eq(auditfs_query_text(q), "");
    auditfs_query_free(q);
    cr_assert_eq(auditfs_query_parse_name(&q, "a=1,_bogus=2", &bad), AUDITFS_EFORMAT);
    cr_assert_eq(bad, 1);
    cr_assert(strstr(auditfs_error_last(), "term 2 '_bogus=2'"));
    cr_assert_eq(auditfs_query_parse_name(&q, "a=1,,b=2", &bad), AUDITFS_EFORMAT);
    cr_assert_eq(bad, 1);
}

Test(query, range_bounds)
{
    auditfs_query *q = NULL;
    uint64_t lo, hi;
    int64_t tlo, thi;
    cr_assert_eq(auditfs_query_parse_name(&q, "_seq>=10,_seq<20,_seq>5,actor=x", NULL), 0);
    auditfs_query_range(q, &lo, &hi, &tlo, &thi);
    cr_expect(lo == 10 && hi == 20 && tlo == INT64_MIN && thi == INT64_MAX);
    auditfs_query_free(q);
    cr_assert_eq(auditfs_query_parse_name(&q, "_seq=7,_seq=3,_seq<=5", NULL), 0);
    auditfs_query_range(q, &lo, &hi, &tlo, &thi);
    cr_expect(lo == 3 && hi == 6, "%llu %llu", (unsigned long long)lo, (unsigned long long)hi);
    auditfs_query_free(q);
    cr_assert_eq(auditfs_query_parse_name(&q, "_time=2026-11-17,_seq!=4,_time~x*", NULL), 0);
    auditfs_query_range(q, &lo, &hi, &tlo, &thi);
    cr_expect(lo == 0 && hi == UINT64_MAX);
    cr_expect_eq(tlo, 1794873600000000LL);
    cr_expect_eq(thi, 1794873600000000LL + 86400000000LL - 1);
    auditfs_query_free(q);
}

Test(query, json_scanner)
{
    cr_assert(afs_json_valid((const uint8_t *)" {\"a\":[1,{\"b\":null}],\"c\":-1.5e+3} ", 34));
    cr_assert(!afs_json_valid((const uint8_t *)"{\"a\":01}", 8));
    cr_assert(!afs_json_valid((const uint8_t *)"{\"a\":1,}", 8));
    cr_assert(!afs_json_valid((const uint8_t *)"{\"a\":\"\\ud800\"}", 14), "lone surrogate");
    char deep[300];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    cr_assert(!afs_json_valid((const uint8_t *)deep, 200), "depth limit");
}

Test(query, intervals)
{
    afs_ivals a = AFS_IVALS_INIT, b = AFS_IVALS_INIT, c = AFS_IVALS_INIT;
    cr_assert_eq(afs_ivals_push(&a, 0, 10), 0);
    cr_assert_eq(afs_ivals_push(&a, 10, 12), 0);
    cr_assert_eq(a.n, 1, "adjacent intervals join");
    cr_assert_eq(afs_ivals_push(&a, 20, 30), 0);
    cr_assert_eq(afs_ivals_add(&b, 25, 40), 0);
    cr_assert_eq(afs_ivals_add(&b, 5, 8), 0);
    cr_assert_eq(afs_ivals_intersect(&c, &a, &b), 0);
    cr_assert_eq(c.n, 2);
    cr_assert_eq(afs_ivals_count(&c), 3 + 5);
    cr_assert_eq(afs_ivals_union(&c, &a, &b), 0);
    cr_assert_eq(afs_ivals_count(&c), 12 + 20);
    afs_ivals_release(&a);
    afs_ivals_release(&b);
    afs_ivals_release(&c);
}

/* ---- over a real ledger: the byte stream, the index and a scan agree ---- */


static char tmpl[] = "/tmp/auditfs-query-XXXXXX";

static char *
tmp_ledger(auditfs_signer **key)
{
    cr_assert_not_null(mkdtemp(tmpl));
    char *path = NULL;
    cr_assert(asprintf(&path, "%s/ledger", tmpl) > 0);
    cr_assert_eq(auditfs_signer_generate(key, "unit.example"), 0);
    cr_assert_eq(auditfs_ledger_init(path, *key, NULL), 0, "%s", auditfs_error_last());
    return path;
}

static int
count_cb(void *ctx, const auditfs_entry *e, const uint8_t *leaf, size_t len)
{
    (void)e;
    (void)leaf;
    (void)len;
    (*(int *)ctx)++;
    return 0;
}

Test(query, byte_stream_and_index_over_a_ledger)
{
    auditfs_signer *key = NULL;
    char *path = tmp_ledger(&key);
    auditfs_writer *w = NULL;
    auditfs_writer_options wo = AUDITFS_WRITER_OPTIONS_INIT;
    wo.wait_for_lock = 1;
    cr_assert_eq(auditfs_writer_open(&w, path, key, &wo), 0, "%s", auditfs_error_last());
    for (int i = 0; i < 500; i++) {
        char p[128];
        auditfs_entry e;
        memset(&e, 0, sizeof e);
        strcpy(e.type, "log");
        strcpy(e.stream, i % 2 ? "api" : "ops");
        snprintf(p, sizeof p, "{\"actor\":\"ops-%d\",\"resource\":\"i-%d\"}", i % 7, i % 50);
        e.payload = (const uint8_t *)p;
        e.payload_len = strlen(p);
        cr_assert_eq(auditfs_writer_add(w, &e, NULL, 0, NULL), 0);
        if (i % 100 == 99) {
            uint64_t size;
            cr_assert_eq(auditfs_writer_commit(w, &size), 0);
        }
    }
    auditfs_writer_free(w);
    auditfs_ledger *l = NULL;
    cr_assert_eq(auditfs_ledger_open(&l, path), 0);
    cr_assert_eq(auditfs_index_update(l), 0, "%s", auditfs_error_last());
    auditfs_query *q = NULL;
    cr_assert_eq(auditfs_query_parse_string(&q, "actor=ops-3&_stream=api"), 0);
    uint8_t *out = NULL;
    size_t len = 0;
    cr_assert_eq(auditfs_query_bytes(&out, &len, l, q, AUDITFS_QUERY_PAYLOADS, 0), 0);
    int lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += out[i] == '\n';
    int scanned = 0, indexed = 0;
    auditfs_query_options scan = {1, 1, 0}, ix = {0, 1, 0};
    auditfs_query_stats st;
    cr_assert_eq(auditfs_query_run(l, q, &scan, count_cb, &scanned, NULL), 0);
    cr_assert_eq(auditfs_query_run(l, q, &ix, count_cb, &indexed, &st), 0);
    cr_assert_gt(scanned, 0);
    cr_assert_eq(lines, scanned);
    cr_assert_eq(indexed, scanned);
    cr_assert(st.index_used);
    cr_assert_lt(st.examined, 100, "the index narrows the candidates (%llu)",
                 (unsigned long long)st.examined);
    cr_assert(strstr((const char *)out, "\"actor\":\"ops-3\""));
    free(out);
    cr_assert_eq(auditfs_query_bytes(&out, &len, l, q, AUDITFS_QUERY_ENTRIES, 10),
                 AUDITFS_ETOOBIG);
    auditfs_query_free(q);
    auditfs_ledger_free(l);
    auditfs_signer_free(key);
    char *rm = NULL;
    cr_assert(asprintf(&rm, "rm -rf '%s'", tmpl) > 0);
    cr_assert_eq(system(rm), 0);
    free(rm);
    free(path);
}
