/* Unit tests of what ingestion relies on: the payload rule shared by append and verify,
 * position trailers, and JSON field extraction for --map. */
#include "auditfs/entry.h"
#include "auditfs/ingest.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int
leaf_with_payload(const char *type_extra, const char *payload, size_t n)
{
    char buf[2048];
    int h = snprintf(buf, sizeof buf,
                     "auditfs-entry/1\nseq 0\ntime 2026-11-21T22:13:11.123456Z\n%s"
                     "prev AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\nlength %zu\n\n",
                     type_extra, n);
    memcpy(buf + h, payload, n);
    auditfs_entry e;
    return auditfs_entry_parse(&e, (const uint8_t *)buf, (size_t)h + n);
}

Test(ingest, payload_problem_names_each_class)
{
    char why[AUDITFS_PROBLEM_MAX];
    cr_assert_null(
        auditfs_payload_problem(why, (const uint8_t *)"{\"a\":\"\t\xc2\xa0\"}", 11, 100));
    const struct {
        const char *p;
        size_t n;
        const char *want;
    } bad[] = {
        {"a\x00"
         "b",
         3, "NUL byte at byte 2"},
        {"a\nb", 3, "line break"},
        {"ab\r", 3, "carriage return at end of line"},
        {"a\rb", 3, "carriage return at byte 2"},
        {"a\x1b[31m", 6, "control character 0x1B at byte 2"},
        {"a\x7f", 2, "control character 0x7F"},
        {"x\xc2\x85y", 4, "C1 control character U+0085 at byte 2"},
        {"x\xc2\x9f", 3, "C1 control character U+009F"},
        {"x\xff", 2, "invalid UTF-8 at byte 2"},
        {"x\xe2\x82", 3, "invalid UTF-8 at byte 2"},
        {"\xed\xa0\x80", 3, "invalid UTF-8 at byte 1"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *r = auditfs_payload_problem(why, (const uint8_t *)bad[i].p, bad[i].n, 100);
        cr_assert_not_null(r, "case %zu accepted", i);
        cr_assert(strstr(r, bad[i].want), "case %zu: '%s' lacks '%s'", i, r, bad[i].want);
    }
    cr_assert_not_null(auditfs_payload_problem(why, (const uint8_t *)"abcdef", 6, 5));
}

Test(ingest, parse_rejects_what_append_refuses)
{
    const char *hdr = "type log\nstream api\n";
    cr_assert_eq(leaf_with_payload(hdr, "{\"a\":1}", 7), 0, "%s", auditfs_error_last());
    cr_assert_eq(leaf_with_payload(hdr, "one\ntwo", 7), AUDITFS_EFORMAT, "a newline verifies");
    cr_assert_eq(leaf_with_payload(hdr, "x\xc2\x85", 3), AUDITFS_EFORMAT, "C1 verifies");
    cr_assert_eq(leaf_with_payload(hdr, "x\x01", 2), AUDITFS_EFORMAT, "C0 verifies");
    /* quarantine entries keep the rejected bytes as they were */
    cr_assert_eq(
        leaf_with_payload("type quarantine\nstream quarantine\nreason bad\n", "x\xc2\x85\n", 4), 0,
        "%s", auditfs_error_last());
    /* C1 is a control character in header values too */
    cr_assert_eq(
        leaf_with_payload("type quarantine\nstream quarantine\nreason b\xc2\x85\n", "x", 1),
        AUDITFS_EFORMAT);
}

Test(ingest, encode_refuses_a_multiline_log_payload)
{
    auditfs_entry e;
    memset(&e, 0, sizeof e);
    strcpy(e.type, "log");
    strcpy(e.stream, "api");
    e.payload = (const uint8_t *)"a\nb";
    e.payload_len = 3;
    uint8_t *out = NULL;
    size_t n;
    cr_assert_eq(auditfs_entry_encode(&out, &n, &e), AUDITFS_EFORMAT);
    cr_assert_null(out);
}

Test(ingest, position_round_trip)
{
    auditfs_position p, q;
    memset(&p, 0, sizeof p);
    strcpy(p.key, "/var/log/app log%.jsonl");
    p.dev = 2049;
    p.ino = 123456;
    p.head_len = 4096;
    for (int i = 0; i < 32; i++)
        p.head_sha256[i] = (uint8_t)(i * 7);
    p.offset = 987654321;
    char *line = NULL;
    cr_assert_eq(auditfs_position_format(&line, &p), 0);
    const char *pre = "Auditfs-Position: ";
    cr_assert_eq(strncmp(line, pre, strlen(pre)), 0);
    cr_assert(strstr(line, "/var/log/app%20log%25.jsonl 2049:123456 4096:00070e"), "%s", line);
    size_t n = strlen(line) - strlen(pre) - 1;
    cr_assert_eq(auditfs_position_parse(&q, line + strlen(pre), n), 0, "%s", auditfs_error_last());
    cr_assert_str_eq(q.key, p.key);
    cr_assert_eq(q.dev, p.dev);
    cr_assert_eq(q.ino, p.ino);
    cr_assert_eq(q.offset, p.offset);
    cr_assert_eq(memcmp(q.head_sha256, p.head_sha256, 32), 0);
    /* one encoding per value */
    cr_assert_neq(
        auditfs_position_parse(&q,
                               "a%41 1:2 0:"
                               "0000000000000000000000000000000000000000000000000000000000000000 5",
                               78),
        0);
    const char *ok = "a 1:2 0:0000000000000000000000000000000000000000000000000000000000000000 5";
    cr_assert_eq(auditfs_position_parse(&q, ok, strlen(ok)), 0, "%s", auditfs_error_last());
    cr_assert_neq(auditfs_position_parse(&q, ok, strlen(ok) - 1 + 1 - 2), 0);
    const char *trail =
        "a 1:2 0:0000000000000000000000000000000000000000000000000000000000000000 5 ";
    cr_assert_neq(auditfs_position_parse(&q, trail, strlen(trail)), 0);
    free(line);
}

static int
field(char *out, const char *json, const char *path)
{
    return auditfs_json_field(out, (const uint8_t *)json, strlen(json), path);
}

Test(ingest, json_field)
{
    char v[AUDITFS_FIELD_MAX + 1];
    const char *j = "{\"x\":[1,{\"tenant\":\"no\"}],\"tenant\":\"acme\",\"n\":-1.5e3,\"b\":true,"
                    "\"z\":null,\"o\":{\"p\":{\"q\":\"deep\\u00e9\"}},\"e\":\"a\\\"b\"}";
    cr_assert_eq(field(v, j, "tenant"), 1);
    cr_assert_str_eq(v, "acme");
    cr_assert_eq(field(v, j, "n"), 1);
    cr_assert_str_eq(v, "-1.5e3");
    cr_assert_eq(field(v, j, "b"), 1);
    cr_assert_str_eq(v, "true");
    cr_assert_eq(field(v, j, "z"), 0);
    cr_assert_eq(field(v, j, "missing"), 0);
    cr_assert_eq(field(v, j, "o.p.q"), 1);
    cr_assert_str_eq(v, "deep\xc3\xa9");
    cr_assert_eq(field(v, j, "e"), 1);
    cr_assert_str_eq(v, "a\"b");
    cr_assert_eq(field(v, j, "o"), AUDITFS_EFORMAT, "an object is not a value");
    cr_assert_eq(field(v, j, "o.p.r"), 0);
    cr_assert_eq(field(v, "not json", "a"), AUDITFS_EFORMAT);
    cr_assert_eq(field(v, "[1,2]", "a"), AUDITFS_EFORMAT);
    cr_assert_eq(field(v, "{\"a\":1", "b"), AUDITFS_EFORMAT);
    cr_assert_eq(field(v, "{\"a\":\"\\ud800\"}", "a"), AUDITFS_EFORMAT, "lone surrogate");
    char big[400];
    snprintf(big, sizeof big, "{\"a\":\"%0300d\"}", 0);
    cr_assert_eq(field(v, big, "a"), AUDITFS_EFORMAT, "too long");
}

Test(ingest, event_time_is_an_optional_header)
{
    const char *old =
        "auditfs-entry/1\nseq 0\ntime 2026-11-21T22:13:11.123456Z\ntype log\n"
        "stream api\nprev AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\nlength 2\n\n{}";
    const char *neu =
        "auditfs-entry/1\nseq 0\ntime 2026-11-21T22:13:11.123456Z\n"
        "event-time 2026-11-21T22:13:09.500000Z\ntype log\n"
        "stream api\nprev AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\nlength 2\n\n{}";
    auditfs_entry e;
    uint8_t *out;
    size_t n;
    cr_assert_eq(auditfs_entry_parse(&e, (const uint8_t *)old, strlen(old)), 0);
    cr_assert_eq(e.has_event_time, 0);
    cr_assert_eq(auditfs_entry_encode(&out, &n, &e), 0);
    cr_assert(n == strlen(old) && memcmp(out, old, n) == 0, "an old leaf encodes as before");
    free(out);
    cr_assert_eq(auditfs_entry_parse(&e, (const uint8_t *)neu, strlen(neu)), 0, "%s",
                 auditfs_error_last());
    cr_assert_eq(e.has_event_time, 1);
    cr_assert_eq(e.time_us - e.event_time_us, 1623456);
    cr_assert_eq(auditfs_entry_encode(&out, &n, &e), 0);
    cr_assert(n == strlen(neu) && memcmp(out, neu, n) == 0);
    free(out);
    char *j = NULL;
    cr_assert_eq(auditfs_entry_to_json(&j, &e, 0), 0);
    cr_assert(strstr(j, "\"event_time\":\"2026-11-21T22:13:09.500000Z\""), "%s", j);
    free(j);
    /* one place only: after time */
    const char *moved =
        "auditfs-entry/1\nseq 0\ntime 2026-11-21T22:13:11.123456Z\ntype log\n"
        "event-time 2026-11-21T22:13:09.500000Z\n"
        "stream api\nprev AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\nlength 2\n\n{}";
    cr_assert_eq(auditfs_entry_parse(&e, (const uint8_t *)moved, strlen(moved)), AUDITFS_EFORMAT);
}

static void
commit_one(const char *dir, auditfs_signer *key, const char *payload, const char *trailer)
{
    auditfs_writer *w = NULL;
    auditfs_writer_options wo = AUDITFS_WRITER_OPTIONS_INIT;
    wo.wait_for_lock = 1;
    auditfs_entry e;
    uint64_t size;
    memset(&e, 0, sizeof e);
    strcpy(e.type, "log");
    strcpy(e.stream, "api");
    e.payload = (const uint8_t *)payload;
    e.payload_len = strlen(payload);
    cr_assert_eq(auditfs_writer_open(&w, dir, key, &wo), 0, "%s", auditfs_error_last());
    cr_assert_eq(auditfs_writer_add(w, &e, NULL, 0, NULL), 0, "%s", auditfs_error_last());
    if (trailer)
        cr_assert_eq(auditfs_writer_set_trailer(w, trailer), 0, "%s", auditfs_error_last());
    cr_assert_eq(auditfs_writer_commit(w, &size), 0, "%s", auditfs_error_last());
    auditfs_writer_free(w);
}

Test(ingest, trailers_are_durable_with_their_batch_and_found_newest_first)
{
    char dir[64], path[80];
    snprintf(dir, sizeof dir, "/tmp/auditfs-ingest-XXXXXX");
    cr_assert(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/l", dir);
    auditfs_signer *key = NULL;
    auditfs_verifier *v = NULL;
    cr_assert_eq(auditfs_signer_generate(&key, "ingest.test"), 0);
    cr_assert_eq(auditfs_signer_verifier(&v, key), 0);
    cr_assert_eq(auditfs_ledger_init(path, key, NULL), 0, "%s", auditfs_error_last());
    /* trailers are "Key: value" printable lines */
    auditfs_writer *w = NULL;
    auditfs_writer_options wo = AUDITFS_WRITER_OPTIONS_INIT;
    wo.wait_for_lock = 1;
    cr_assert_eq(auditfs_writer_open(&w, path, key, &wo), 0);
    cr_assert_eq(auditfs_writer_set_trailer(w, "no colon\n"), AUDITFS_EINVAL);
    cr_assert_eq(auditfs_writer_set_trailer(w, "A: b"), AUDITFS_EINVAL, "no final newline");
    cr_assert_eq(auditfs_writer_set_trailer(w, "A: \x01\n"), AUDITFS_EINVAL);
    auditfs_writer_free(w);
    commit_one(path, key, "{\"a\":1}",
               "Auditfs-Position: f 1:2 "
               "0:0000000000000000000000000000000000000000000000000000000000000000 8\n");
    commit_one(path, key, "{\"a\":2}", "Auditfs-Batch: 00112233445566778899aabbccddeeff\n");
    commit_one(path, key, "{\"a\":3}", NULL);
    auditfs_ledger *l = NULL;
    cr_assert_eq(auditfs_ledger_open(&l, path), 0);
    char *val = NULL;
    uint64_t at = 0;
    cr_assert_eq(auditfs_ledger_find_trailer(&val, &at, l, "Auditfs-Position: f ", 0), 0);
    cr_assert_not_null(val);
    cr_assert_str_eq(val,
                     "1:2 0:0000000000000000000000000000000000000000000000000000000000000000 8");
    cr_assert_eq(at, 1, "found in the commit of tree size 1");
    free(val);
    cr_assert_eq(auditfs_ledger_find_trailer(&val, NULL, l, "Auditfs-Position: f ", 2), 0);
    cr_assert_null(val, "beyond max_commits");
    cr_assert_eq(auditfs_ledger_find_trailer(&val, NULL, l,
                                             "Auditfs-Batch: 00112233445566778899aabbccddeeff", 0),
                 0);
    cr_assert(val && val[0] == '\0', "an exact line is found with an empty rest");
    free(val);
    cr_assert_eq(auditfs_ledger_find_trailer(&val, NULL, l, "Auditfs-Nothing: ", 0), 0);
    cr_assert_null(val);
    /* verify accepts (ignores) the trailers */
    auditfs_verify_report r;
    cr_assert_eq(auditfs_ledger_verify(&r, l, v, NULL, 0), 0, "%s", r.reason);
    auditfs_ledger_free(l);
    /* positions recognise a file by its head, also under another inode */
    char f1[96], f2[96];
    snprintf(f1, sizeof f1, "%s/a.log", dir);
    snprintf(f2, sizeof f2, "%s/a.log.copy", dir);
    FILE *f = fopen(f1, "w");
    cr_assert_not_null(f);
    fputs("line one\nline two\n", f);
    fclose(f);
    int fd = open(f1, O_RDONLY);
    auditfs_position p;
    memset(&p, 0, sizeof p);
    strcpy(p.key, f1);
    cr_assert_eq(auditfs_position_identify(&p, fd, 9), 0);
    cr_assert_eq(p.head_len, 9);
    int same = 0;
    cr_assert_eq(auditfs_position_matches(&p, fd, &same), 1);
    cr_assert_eq(same, 1);
    close(fd);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "cp %s %s", f1, f2);
    cr_assert_eq(system(cmd), 0);
    fd = open(f2, O_RDONLY);
    cr_assert_eq(auditfs_position_matches(&p, fd, &same), 1, "a copy matches by content");
    cr_assert_eq(same, 0, "under another inode");
    close(fd);
    f = fopen(f1, "w"); /* truncated and rewritten: another file now */
    fputs("LINE one\n", f);
    fclose(f);
    fd = open(f1, O_RDONLY);
    cr_assert_eq(auditfs_position_matches(&p, fd, &same), 0);
    close(fd);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
    auditfs_verifier_free(v);
    auditfs_signer_free(key);
}

static int
collect(const uint8_t *msg, size_t len, void *arg)
{
    char *out = arg;
    strncat(out, (const char *)msg, len);
    strcat(out, "|");
    return 0;
}

Test(ingest, spool_scan)
{
    char got[256];
    int committed;
    const char *s1 = "B\nM1:x\nA\nB\nM7:{\"a\":1}\nA\nM3:abc\nA\nM2:zz\n";
    got[0] = '\0';
    cr_assert_eq(auditfs_spool_scan((const uint8_t *)s1, strlen(s1), &committed, collect, got), 2);
    cr_assert_str_eq(got, "{\"a\":1}|abc|", "the last transaction's answered messages only");
    cr_assert_eq(committed, 0);
    const char *s2 = "B\nM1:a\nA\nC\n";
    got[0] = '\0';
    cr_assert_eq(auditfs_spool_scan((const uint8_t *)s2, strlen(s2), &committed, collect, got), 1);
    cr_assert_eq(committed, 1, "the commit mark came: rsyslog resends");
    const char *s3 = "B\nM9:abc\nA\n"; /* length beyond the data: cut short */
    got[0] = '\0';
    cr_assert_eq(auditfs_spool_scan((const uint8_t *)s3, strlen(s3), &committed, collect, got), 0);
    cr_assert_eq(auditfs_spool_scan((const uint8_t *)"", 0, &committed, collect, got), 0);
}

Test(ingest, journal_cursors_in_sd_journal_order)
{
    int o = 9;
    /* one seqnum id: by sequence number, whatever the times say */
    cr_assert_eq(auditfs_journal_cursor_cmp(&o, "s=ab;i=1f;b=c1;m=20;t=90;x=1",
                                            "s=ab;i=20;b=c1;m=10;t=10;x=2"), 0);
    cr_assert_eq(o, -1);
    cr_assert_eq(auditfs_journal_cursor_cmp(&o, "s=ab;i=20;b=c1;m=1;t=1;x=1",
                                            "s=ab;i=20;b=c1;m=1;t=1;x=1"), 0);
    cr_assert_eq(o, 0);
    /* other seqnum ids, one boot: by monotonic time */
    cr_assert_eq(auditfs_journal_cursor_cmp(&o, "s=aa;i=1;b=c1;m=30;t=1;x=1",
                                            "s=bb;i=9;b=c1;m=20;t=9;x=1"), 0);
    cr_assert_eq(o, 1);
    /* neither: by wall-clock time */
    cr_assert_eq(auditfs_journal_cursor_cmp(&o, "s=aa;i=1;b=c1;m=30;t=5;x=1",
                                            "s=bb;i=9;b=c2;m=20;t=6;x=1"), 0);
    cr_assert_eq(o, -1);
    /* nothing to compare: refused, not guessed */
    cr_assert_eq(auditfs_journal_cursor_cmp(&o, "garbage", "s=bb;i=9"), AUDITFS_EFORMAT);
    cr_assert_eq(auditfs_journal_cursor_cmp(&o, "s=aa;i=zz;t=", "s=aa;i=1;t="), AUDITFS_EFORMAT);
}

Test(ingest, low_water_text_last_line_wins)
{
    char *v = NULL;
    const char t[] = "Auditfs-Routed: a 1\nAuditfs-Routed: b 7\nAuditfs-Routed: a 12\n";
    cr_assert_eq(auditfs_trailer_text_find(&v, t, sizeof t - 1, "Auditfs-Routed: a "), 0);
    cr_assert_str_eq(v, "12");
    free(v);
    cr_assert_eq(auditfs_trailer_text_find(&v, t, sizeof t - 1, "Auditfs-Cursor: "), 0);
    cr_assert_null(v);
    cr_assert_eq(auditfs_trailer_text_find(&v, "a\0b", 3, "a"), AUDITFS_EFORMAT);
}

Test(ingest, journal_record_is_one_valid_line)
{
    auditfs_journal_record *r = NULL;
    size_t n = 0;
    char why[AUDITFS_PROBLEM_MAX];
    cr_assert_eq(auditfs_journal_record_new(&r), 0);
    cr_assert_eq(auditfs_journal_record_begin(r, 1, 1795300000000123ULL), 0);
    cr_assert_eq(auditfs_journal_record_field(r, "MESSAGE=two\nlines \x1b[1m", 22), 0);
    cr_assert_eq(auditfs_journal_record_field(r, "C1=a\xc2\x85z", 7), 0);
    cr_assert_eq(auditfs_journal_record_field(r, "BIN=\xff\xfe", 6), 0);
    cr_assert_eq(auditfs_journal_record_field(r, "Q=\"\\", 4), 0);
    const char *j = auditfs_journal_record_end(r, &n);
    cr_assert_str_eq(j, "{\"__REALTIME_TIMESTAMP\":\"1795300000000123\","
                        "\"MESSAGE\":\"two\\u000alines \\u001b[1m\",\"C1\":\"a\\u0085z\","
                        "\"BIN\":{\"binary_bytes\":2},\"Q\":\"\\\"\\\\\"}");
    cr_assert_eq(n, strlen(j));
    cr_assert_null(auditfs_payload_problem(why, (const uint8_t *)j, n, 65536));
    /* begin starts over */
    cr_assert_eq(auditfs_journal_record_begin(r, 0, 0), 0);
    cr_assert_eq(auditfs_journal_record_field(r, "A=b", 3), 0);
    cr_assert_str_eq(auditfs_journal_record_end(r, &n), "{\"A\":\"b\"}");
    auditfs_journal_record_free(r);
}
