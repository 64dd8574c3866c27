#include "auditfs/entry.h"
#include "entry.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

static const char golden[] = "auditfs-entry/1\n"
                             "seq 41\n"
                             "time 2026-11-21T22:13:11.123456Z\n"
                             "type log\n"
                             "stream api\n"
                             "tenant acme\n"
                             "party provider\n"
                             "layer platform\n"
                             "prev AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
                             "length 23\n"
                             "\n"
                             "{\"actor\":\"ops-7\",\"a\":1}";

Test(entry, parse_golden_and_reencode)
{
    auditfs_entry e;
    size_t n = sizeof golden - 1;
    cr_assert_eq(auditfs_entry_parse(&e, (const uint8_t *)golden, n), 0, "%s", auditfs_error_last());
    cr_assert_eq(e.seq, 41);
    cr_assert_eq(e.time_us, 1795299191123456LL);
    cr_assert_str_eq(e.type, "log");
    cr_assert_str_eq(e.stream, "api");
    cr_assert_str_eq(e.tenant, "acme");
    cr_assert_str_eq(e.party, "provider");
    cr_assert_str_eq(e.layer, "platform");
    cr_assert_eq(e.payload_len, 23);
    cr_assert_eq(memcmp(e.payload, "{\"actor\":\"ops-7\",\"a\":1}", 23), 0);
    uint8_t *out;
    size_t len;
    cr_assert_eq(auditfs_entry_encode(&out, &len, &e), 0);
    cr_assert_eq(len, n);
    cr_assert_eq(memcmp(out, golden, n), 0, "canonical re-encoding");
    free(out);
}

static int
parse_variant(const char *from, const char *to)
{
    char buf[1024];
    const char *p = strstr(golden, from);
    cr_assert(p, "pattern %s", from);
    size_t pre = (size_t)(p - golden);
    snprintf(buf, sizeof buf, "%.*s%s%s", (int)pre, golden, to, p + strlen(from));
    auditfs_entry e;
    return auditfs_entry_parse(&e, (const uint8_t *)buf, strlen(buf));
}

Test(entry, rejects_non_canonical)
{
    cr_assert_eq(parse_variant("seq 41", "seq 041"), AUDITFS_EFORMAT, "leading zero");
    cr_assert_eq(parse_variant("type log\nstream api\n", "stream api\ntype log\n"),
                 AUDITFS_EFORMAT, "order");
    cr_assert_eq(parse_variant("tenant acme\n", "tenant acme\ntenant acme\n"), AUDITFS_EFORMAT,
                 "repeat");
    cr_assert_eq(parse_variant("tenant acme\n", "colour blue\n"), AUDITFS_EFORMAT, "unknown key");
    cr_assert_eq(parse_variant("length 23", "length 22"), AUDITFS_EFORMAT, "length");
    cr_assert_eq(parse_variant("length 23", "length 24"), AUDITFS_EFORMAT, "length");
    cr_assert_eq(parse_variant("party provider", "party landlord"), AUDITFS_EFORMAT, "party");
    cr_assert_eq(parse_variant("layer platform", "layer roof"), AUDITFS_EFORMAT, "layer");
    cr_assert_eq(parse_variant(".123456Z", ".123456"), AUDITFS_EFORMAT, "time");
    cr_assert_eq(parse_variant("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "AAAA"),
                 AUDITFS_EFORMAT, "prev");
    cr_assert_eq(parse_variant("auditfs-entry/1", "auditfs-entry/2"), AUDITFS_EFORMAT, "magic");
    cr_assert_eq(parse_variant("stream api", "stream ../x"), AUDITFS_EFORMAT, "stream");
    cr_assert_eq(parse_variant("type log", "type document"), AUDITFS_EFORMAT,
                 "document without name");
    cr_assert_eq(parse_variant("prev ", "prev  "), AUDITFS_EFORMAT, "double space");
    cr_assert_str_neq(auditfs_error_last(), "");
}

Test(entry, error_names_the_line)
{
    parse_variant("party provider", "party landlord");
    cr_assert(strstr(auditfs_error_last(), "landlord"), "%s", auditfs_error_last());
    parse_variant("seq 41", "seq 041");
    cr_assert(strstr(auditfs_error_last(), "line 2"), "%s", auditfs_error_last());
}

Test(entry, document_and_notice_roundtrip)
{
    auditfs_entry e;
    memset(&e, 0, sizeof e);
    e.seq = 7;
    e.time_us = 1;
    strcpy(e.type, "document");
    strcpy(e.stream, "documents");
    strcpy(e.name, "sla/acme-compute");
    e.version = 3;
    strcpy(e.content_type, "text/markdown");
    e.has_content = 1;
    e.content_length = 10;
    memset(e.content_sha256, 0xab, 32);
    uint8_t *out;
    size_t len;
    cr_assert_eq(auditfs_entry_encode(&out, &len, &e), 0, "%s", auditfs_error_last());
    auditfs_entry back;
    cr_assert_eq(auditfs_entry_parse(&back, out, len), 0, "%s", auditfs_error_last());
    cr_assert_str_eq(back.name, "sla/acme-compute");
    cr_assert_eq(back.version, 3);
    cr_assert_eq(back.content_sha256[31], 0xab);
    cr_assert(strstr((char *)out, "content-sha256 abab"));
    free(out);
    /* a notice must not carry a name; a document must carry content */
    strcpy(e.type, "notice");
    cr_assert_eq(auditfs_entry_encode(&out, &len, &e), AUDITFS_EFORMAT);
    strcpy(e.type, "document");
    e.has_content = 0;
    cr_assert_eq(auditfs_entry_encode(&out, &len, &e), AUDITFS_EFORMAT);
}

Test(entry, docname_rules)
{
    cr_assert(auditfs_valid_docname("sla/acme-compute"));
    cr_assert(auditfs_valid_docname("matrix/v2x"));
    cr_assert(!auditfs_valid_docname("sla/v2"), "v<digits> names versions");
    cr_assert(!auditfs_valid_docname("../etc"));
    cr_assert(!auditfs_valid_docname("a//b"));
    cr_assert(!auditfs_valid_docname("A"));
    cr_assert(!auditfs_valid_docname(""));
}

Test(entry, json_embeds_json_payload_and_escapes_text)
{
    auditfs_entry e;
    cr_assert_eq(auditfs_entry_parse(&e, (const uint8_t *)golden, sizeof golden - 1), 0);
    char *j;
    cr_assert_eq(auditfs_entry_to_json(&j, &e, 1), 0);
    cr_assert(strstr(j, "\"payload\":{\"actor\":\"ops-7\",\"a\":1}"), "%s", j);
    free(j);
    e.payload = (const uint8_t *)"say \"hi\"";
    e.payload_len = 8;
    cr_assert_eq(auditfs_entry_to_json(&j, &e, 1), 0);
    cr_assert(strstr(j, "\"payload\":\"say \\\"hi\\\"\""), "%s", j);
    free(j);
}

/* Required headers and the content triple (tests/mutation/ mutants entry-required-prev and
 * entry-content-triple): each alone is refused. */
Test(entry, rejects_missing_and_partial_headers)
{
    cr_assert_eq(parse_variant("prev AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", ""),
                 AUDITFS_EFORMAT, "no prev");
    cr_assert_eq(parse_variant("seq 41\n", ""), AUDITFS_EFORMAT, "no seq");
    cr_assert_eq(parse_variant("length 23\n", ""), AUDITFS_EFORMAT, "no length");
    cr_assert_eq(parse_variant("layer platform\n",
                               "layer platform\ncontent-type text/plain\ncontent-length 0\n"),
                 AUDITFS_EFORMAT, "content-type and content-length without content-sha256");
    cr_assert(strstr(auditfs_error_last(), "go together"), "%s", auditfs_error_last());
    cr_assert_eq(parse_variant("layer platform\n",
                               "layer platform\ncontent-sha256 "
                               "0000000000000000000000000000000000000000000000000000000000000000\n"),
                 AUDITFS_EFORMAT, "content-sha256 alone");
}

/* A header value longer than its field is refused, never cut to fit: a cut value would make
 * two different leaves parse to the same entry (tests/mutation: entry-header-value-truncated). */
Test(entry, overlong_header_values_are_refused_not_cut)
{
    char from[128], to[512];
    for (size_t n = AUDITFS_STREAM_MAX; n <= AUDITFS_STREAM_MAX + 2; n++) {
        char v[AUDITFS_STREAM_MAX + 3];
        memset(v, 'a', n);
        v[n] = 0;
        snprintf(from, sizeof from, "stream api\n");
        snprintf(to, sizeof to, "stream %s\n", v);
        int want = n <= AUDITFS_STREAM_MAX ? 0 : AUDITFS_EFORMAT;
        cr_assert_eq(parse_variant(from, to), want, "stream of %zu bytes: %s", n,
                     auditfs_error_last());
        snprintf(from, sizeof from, "tenant acme\n");
        snprintf(to, sizeof to, "tenant %s\n", v);
        cr_assert_eq(parse_variant(from, to), want, "tenant of %zu bytes: %s", n,
                     auditfs_error_last());
    }
    cr_assert_eq(parse_variant("type log\n", "type loglogloglogloglog\n"), AUDITFS_EFORMAT,
                 "a type longer than its field");
}
