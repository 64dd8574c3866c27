/* The library's one JSON reader and writer (ledger/json.c) and where it is used for output. */
#include "auditfs/entry.h"
#include "auditfs/ingest.h"
#include "json.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
valid(const char *s)
{
    return afs_json_valid((const uint8_t *)s, strlen(s));
}

Test(json, values)
{
    const char *ok[] = {"{}", "[]", " {\"a\": [1, -2.5e3, true, false, null, \"x\\u00e9\\ud83d\\ude00\"]} ",
                        "0", "\"\"", "{\"a\":{\"b\":{}}}"};
    const char *bad[] = {"{\"a\": tru}", "{\"a\": 01}", "{\"a\":}", "{\"a\" 1}", "[1,]", "{,}",
                         "\"\\ud800\"", "\"\\x\"", "\"a\tb\"", "{} {}", "", "-", "1.", "1e",
                         "[", "{\"a\":1", "nul", "\"\\u12\""};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        cr_assert(valid(ok[i]), "%s should be valid", ok[i]);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_assert(!valid(bad[i]), "%s should be invalid", bad[i]);
}

Test(json, depth_is_bounded)
{
    char deep[200];
    memset(deep, '[', 65);
    memset(deep + 65, ']', 65);
    deep[130] = 0;
    cr_assert(!valid(deep), "65 levels are refused");
    memset(deep, '[', 64);
    memset(deep + 64, ']', 64);
    deep[128] = 0;
    cr_assert(valid(deep), "64 levels are fine");
    /* 30,000 levels: linear time, no stack overflow */
    size_t n = 30000;
    char *huge = malloc(2 * n + 1);
    memset(huge, '[', n);
    memset(huge + n, ']', n);
    huge[2 * n] = 0;
    cr_assert(!valid(huge));
    free(huge);
}

Test(json, errors_name_the_offset)
{
    afs_jr r = AFS_JR_INIT("{\"a\": tru}", 10);
    int kind;
    cr_assert_eq(afs_jr_value(&r, &kind, NULL), AUDITFS_EFORMAT);
    cr_assert(strstr(auditfs_error_last(), "offset 6: expected a value"), "%s",
              auditfs_error_last());
}

static int
count_member(void *ctx, const char *k, size_t kl, const char *v, size_t vl, int kind)
{
    (void)k;
    (void)kl;
    (void)v;
    (void)vl;
    (void)kind;
    ++*(int *)ctx;
    return 0;
}

Test(json, members_only_of_valid_objects)
{
    int n = 0;
    const char *s = "{\"a\":1,\"b\":\"x\"}";
    cr_assert_eq(afs_json_members((const uint8_t *)s, strlen(s), count_member, &n), 1);
    cr_assert_eq(n, 2);
    n = 0;
    s = "{\"a\":1,\"b\": tru}";
    cr_assert_eq(afs_json_members((const uint8_t *)s, strlen(s), count_member, &n), 0);
    cr_assert_eq(n, 0, "no member of an invalid object is reported");
}

Test(json, writer_escapes)
{
    afs_buf b = AFS_BUF_INIT;
    cr_assert_eq(afs_json_put_string(&b, (const uint8_t *)"a\"b\\c\n\x1b\x7f", 8), 0);
    cr_assert_str_eq(b.data, "\"a\\\"b\\\\c\\u000a\\u001b\\u007f\"");
    cr_assert(afs_json_valid((const uint8_t *)b.data, b.len));
    afs_buf_release(&b);
    /* the public face of the same writer, used by the CLI's --json output */
    char *q = NULL;
    cr_assert_eq(auditfs_json_quote(&q, "a\"b\\c\n\x1b\x7f", 8), 0);
    cr_assert_str_eq(q, "\"a\\\"b\\\\c\\u000a\\u001b\\u007f\"");
    free(q);
}

/* auditfs_json_field (append --map) reads with the same cursor: what the reader refuses, it
 * refuses, and a field past the first occurrence of its key is not looked at */
Test(json, field_uses_the_strict_reader)
{
    char v[AUDITFS_FIELD_MAX + 1];
    const char *j = "{\"a\": tru, \"b\": 1}";
    cr_assert_eq(auditfs_json_field(v, (const uint8_t *)j, strlen(j), "b"), AUDITFS_EFORMAT);
    j = "{\"a\": 01}";
    cr_assert_eq(auditfs_json_field(v, (const uint8_t *)j, strlen(j), "a"), AUDITFS_EFORMAT);
    j = "{\"k\": \"first\", \"k\": \"second\"}";
    cr_assert_eq(auditfs_json_field(v, (const uint8_t *)j, strlen(j), "k"), 1);
    cr_assert_str_eq(v, "first");
    j = "{\"k\": {\"\": 7}}";
    cr_assert_eq(auditfs_json_field(v, (const uint8_t *)j, strlen(j), "k."), 1);
    cr_assert_str_eq(v, "7");
    j = "{\"k\": \"a\\u0000b\"}";
    cr_assert_eq(auditfs_json_field(v, (const uint8_t *)j, strlen(j), "k"), AUDITFS_EFORMAT);
}

/* `query --entries` and `log --json` embed payloads: an almost-JSON payload must become a
 * string, never be copied verbatim (that printed invalid JSON before) */
static void
entry_json_is_valid(const char *payload, int embedded)
{
    auditfs_entry e;
    memset(&e, 0, sizeof e);
    snprintf(e.type, sizeof e.type, "log");
    snprintf(e.stream, sizeof e.stream, "api");
    e.payload = (const uint8_t *)payload;
    e.payload_len = strlen(payload);
    char *j = NULL;
    cr_assert_eq(auditfs_entry_to_json(&j, &e, 1), 0, "%s", auditfs_error_last());
    cr_assert(afs_json_valid((const uint8_t *)j, strlen(j)), "not JSON: %s", j);
    cr_assert(!strchr(j, '\n'), "one line: %s", j);
    char want[256];
    snprintf(want, sizeof want, "\"payload\":%s", payload);
    cr_assert_eq(strstr(j, want) != NULL, embedded, "%s", j);
    free(j);
}

Test(json, entry_payloads)
{
    entry_json_is_valid("{\"a\": true}", 1);
    entry_json_is_valid("{\"a\": tru}", 0);
    entry_json_is_valid("[1, 2", 0);
    entry_json_is_valid("{\"a\":\n1}", 0);
    entry_json_is_valid("{\"a\":\"}\"}", 1);
    entry_json_is_valid("plain text", 0);
}
