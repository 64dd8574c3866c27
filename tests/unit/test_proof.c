#include "auditfs/proof.h"
#include "internal.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

/* The 8-leaf RFC 6962 reference tree of transparency-dev/merkle (its testdata JSON files). */
#define ROOT8 "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg="
#define ROOT6 "duZ9rbzfHhDht03cYIq9L5jfsW+851J3tSMqEn8gh+8="
#define P0_8_A "lqKW0iTyhcZ77pPDD4owkVfw2qNdxbh+QQt4YwoJz8c="
#define P0_8_B "Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4="
#define P0_8_C "a0eq8p7jwq+a+Im8H7klTavTEXfxYjLdaqsDXKOb9uQ="
#define C6_8_A "DrxdNDf74tsVi58Sah0RjjCBgQMdCpSfje3t68VY72o="
#define C6_8_B "yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA="
#define C6_8_C "037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc="

static auditfs_hash
B(const char *b64)
{
    auditfs_hash h;
    cr_assert_eq(afs_b64_decode(h.b, sizeof h.b, b64, strlen(b64)), 32, "fixture %s", b64);
    return h;
}

static const char incl_json[] = "{\"leaf_index\":0,\"tree_size\":8,\"audit_path\":[\"" P0_8_A
                                "\",\"" P0_8_B "\",\"" P0_8_C "\"]}";

static int
parse_incl(auditfs_inclusion_proof *p, const char *s)
{
    return auditfs_inclusion_proof_from_json(p, s, strlen(s));
}

Test(proof, inclusion_json_roundtrip_and_verifies)
{
    auditfs_inclusion_proof p = {0}, q;
    p.leaf_index = 0;
    p.tree_size = 8;
    p.path_len = 3;
    p.path[0] = B(P0_8_A);
    p.path[1] = B(P0_8_B);
    p.path[2] = B(P0_8_C);
    char *json = NULL;
    cr_assert_eq(auditfs_inclusion_proof_to_json(&json, &p), 0);
    cr_assert_str_eq(json, incl_json);
    cr_assert_eq(parse_incl(&q, json), 0, "%s", auditfs_error_last());
    cr_assert_eq(q.leaf_index, 0);
    cr_assert_eq(q.tree_size, 8);
    cr_assert_eq(q.path_len, 3);
    cr_assert_eq(memcmp(q.path, p.path, 3 * sizeof(auditfs_hash)), 0);
    free(json);

    auditfs_hash leaf, root = B(ROOT8);
    auditfs_leaf_hash(&leaf, "", 0);
    cr_assert_eq(auditfs_merkle_verify_inclusion(&leaf, q.leaf_index, q.tree_size, q.path,
                                                 q.path_len, &root),
                 0);

    /* empty path and the largest numbers */
    p.leaf_index = UINT64_MAX - 1;
    p.tree_size = UINT64_MAX;
    p.path_len = 0;
    cr_assert_eq(auditfs_inclusion_proof_to_json(&json, &p), 0);
    cr_assert_str_eq(json, "{\"leaf_index\":18446744073709551614,\"tree_size\":"
                           "18446744073709551615,\"audit_path\":[]}");
    cr_assert_eq(parse_incl(&q, json), 0);
    cr_assert(q.leaf_index == UINT64_MAX - 1 && q.tree_size == UINT64_MAX && q.path_len == 0);
    free(json);

    p.path_len = AUDITFS_MERKLE_MAX_INCLUSION + 1;
    cr_assert_eq(auditfs_inclusion_proof_to_json(&json, &p), AUDITFS_EINVAL);
}

Test(proof, inclusion_json_whitespace_and_key_order)
{
    auditfs_inclusion_proof q;
    const char *s = " \n{ \"audit_path\" :\t[ \"" P0_8_A "\" ,\r\n\"" P0_8_B
                    "\" ] , \"tree_size\":8 ,\"leaf_index\" : 0\n}\r\n\t ";
    cr_assert_eq(parse_incl(&q, s), 0, "%s", auditfs_error_last());
    cr_assert_eq(q.tree_size, 8);
    cr_assert_eq(q.path_len, 2);
    auditfs_hash b = B(P0_8_B);
    cr_assert_eq(memcmp(&q.path[1], &b, 32), 0);

    /* JSON escapes are decoded: "\/" for '/', \u for a key character */
    s = "{\"leaf\\u005findex\":1,\"tree_size\":8,\"audit_path\":[\"Xwg\\/ChozygdqlSeYMlgNs+DvRYS9"
        "\\/x9UyKNg9Q3jAx4=\"]}";
    cr_assert_eq(parse_incl(&q, s), 0, "%s", auditfs_error_last());
    cr_assert_eq(q.leaf_index, 1);
    cr_assert_eq(memcmp(&q.path[0], &b, 32), 0);

    /* the parser reads exactly len bytes: trailing bytes past len are ignored */
    char buf[sizeof incl_json + 8];
    memcpy(buf, incl_json, sizeof incl_json - 1);
    memcpy(buf + sizeof incl_json - 1, "garbage", 8);
    cr_assert_eq(auditfs_inclusion_proof_from_json(&q, buf, sizeof incl_json - 1), 0);
    cr_assert_neq(auditfs_inclusion_proof_from_json(&q, buf, sizeof buf - 1), 0);
}

Test(proof, inclusion_json_every_truncation_fails)
{
    auditfs_inclusion_proof q;
    for (size_t n = 0; n < strlen(incl_json); n++) {
        q.leaf_index = 42;
        cr_assert_eq(auditfs_inclusion_proof_from_json(&q, incl_json, n), AUDITFS_EFORMAT,
                     "prefix of %zu bytes", n);
        cr_assert_eq(q.leaf_index, 42, "output untouched on failure");
    }
}

Test(proof, inclusion_json_hostile)
{
    static const struct {
        const char *json;
        const char *msg;
    } t[] = {
        {"", "offset 0: expected '{'"},
        {"[]", "offset 0: expected '{'"},
        {"{}", "offset 1: missing key"},
        {"{\"leaf_index\":0 \"tree_size\":8}", "offset 16: expected ',' or '}'"},
        {"{\"leaf_index\":0,\"tree_size\":8,\"audit_path\":[],\"x\":1}", "offset 46: unknown key"},
        {"{\"leaf_index\":0,\"leaf_index\":0,\"tree_size\":8,\"audit_path\":[]}",
         "duplicate key \"leaf_index\""},
        {"{\"leaf_index\":0,\"tree_size\":8}", "missing key \"audit_path\""},
        {"{\"leaf_index\":01,\"tree_size\":8,\"audit_path\":[]}", "leading zero"},
        {"{\"leaf_index\":00,\"tree_size\":8,\"audit_path\":[]}", "leading zero"},
        {"{\"leaf_index\":18446744073709551616,\"tree_size\":8,\"audit_path\":[]}", "64 bits"},
        {"{\"leaf_index\":99999999999999999999999,\"tree_size\":8,\"audit_path\":[]}", "64 bits"},
        {"{\"leaf_index\":-1,\"tree_size\":8,\"audit_path\":[]}", "non-negative integer"},
        {"{\"leaf_index\":+1,\"tree_size\":8,\"audit_path\":[]}", "non-negative integer"},
        {"{\"leaf_index\":1.0,\"tree_size\":8,\"audit_path\":[]}", "not an integer"},
        {"{\"leaf_index\":1e3,\"tree_size\":8,\"audit_path\":[]}", "not an integer"},
        {"{\"leaf_index\":\"1\",\"tree_size\":8,\"audit_path\":[]}", "non-negative integer"},
        {"{\"leaf_index\":0,\"tree_size\":8,\"audit_path\":null}", "expected '['"},
        {"{\"leaf_index\":0,\"tree_size\":8,\"audit_path\":[\"!!!!\"]}", "base64 of 32 bytes"},
        /* 44 characters without padding decode to 33 bytes */
        {"{\"leaf_index\":0,\"tree_size\":8,\"audit_path\":"
         "[\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"]}",
         "offset 44: hash is not base64 of 32 bytes"},
        /* 31 bytes */
        {"{\"leaf_index\":0,\"tree_size\":8,\"audit_path\":"
         "[\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\"]}",
         "base64 of 32 bytes"},
        /* non-canonical padding bits */
        {"{\"leaf_index\":0,\"tree_size\":8,\"audit_path\":"
         "[\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=\"]}",
         "base64 of 32 bytes"},
        /* base64 of 32 bytes with a stray character appended */
        {"{\"leaf_index\":0,\"tree_size\":8,\"audit_path\":[\"" P0_8_A "A\"]}",
         "base64 of 32 bytes"},
        {"{\"leaf_index\":0,\"tree_size\":8,\"audit_path\":[\"" P0_8_A "\",]}", "expected '\"'"},
        {"{\"leaf_index\":0,\"tree_size\":8,\"audit_path\":[],}", "expected '\"'"},
        {"{\"leaf_index\":0,\"tree_size\":8,\"audit_path\":[]}x", "trailing data"},
        {"{\"leaf_index\":0,\"tree_size\":8,\"audit_path\":[]}{}", "trailing data"},
        {"{\"leaf_index\":0,\"tree_size\":8,\"audit_path\":[[]]}", "expected '\"'"},
        {"{\"leaf_index\":0,\"tree_size\":8,\"audit_path\":[\"a\tb\"]}", "control character"},
        {"{\"leaf_index\":0,\"tree_size\":8,\"audit_path\":[\"\\x\"]}", "bad escape"},
        {"{\"leaf_index\":0,\"tree_size\":8,\"audit_path\":[\"\\u00zz\"]}", "bad \\u escape"},
        {"{'leaf_index':0}", "expected '\"'"},
        {"{\"leaf_index\"0}", "expected ':'"},
        {"{\"first\":0,\"second\":8,\"consistency\":[]}", "unknown key"},
        {"\xef\xbb\xbf{}", "offset 0: expected '{'"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        auditfs_inclusion_proof q;
        int rc = parse_incl(&q, t[i].json);
        cr_assert_eq(rc, AUDITFS_EFORMAT, "case %zu: %s", i, t[i].json);
        cr_assert(strstr(auditfs_error_last(), t[i].msg) != NULL,
                  "case %zu: got \"%s\", want \"%s\"", i, auditfs_error_last(), t[i].msg);
    }

    /* an embedded NUL is just a bad byte */
    auditfs_inclusion_proof q;
    static const char nul[] = "{\"leaf_index\":0\0,\"tree_size\":8,\"audit_path\":[]}";
    cr_assert_eq(auditfs_inclusion_proof_from_json(&q, nul, sizeof nul - 1), AUDITFS_EFORMAT);

    /* oversize input is refused before parsing */
    cr_assert_eq(auditfs_inclusion_proof_from_json(&q, incl_json, AUDITFS_PROOF_MAX_BYTES + 1),
                 AUDITFS_ETOOBIG);
    cr_assert_eq(auditfs_inclusion_proof_from_json(&q, NULL, 0), AUDITFS_EINVAL);
}

Test(proof, inclusion_json_array_bound)
{
    afs_buf b = AFS_BUF_INIT;
    auditfs_inclusion_proof q;
    cr_assert_eq(afs_buf_puts(&b, "{\"leaf_index\":0,\"tree_size\":8,\"audit_path\":["), 0);
    for (int i = 0; i < AUDITFS_MERKLE_MAX_INCLUSION; i++)
        cr_assert_eq(afs_buf_printf(&b, "%s\"%s\"", i ? "," : "", P0_8_A), 0);
    size_t at = b.len;
    cr_assert_eq(afs_buf_puts(&b, "]}"), 0);
    cr_assert_eq(auditfs_inclusion_proof_from_json(&q, b.data, b.len), 0);
    cr_assert_eq(q.path_len, AUDITFS_MERKLE_MAX_INCLUSION);
    b.len = at;
    cr_assert_eq(afs_buf_printf(&b, ",\"%s\"]}", P0_8_A), 0);
    cr_assert_eq(auditfs_inclusion_proof_from_json(&q, b.data, b.len), AUDITFS_EFORMAT);
    cr_assert(strstr(auditfs_error_last(), "more than 64 hashes") != NULL, "%s",
              auditfs_error_last());
    afs_buf_release(&b);
}

Test(proof, consistency_json_roundtrip_and_verifies)
{
    const char *want =
        "{\"first\":6,\"second\":8,\"consistency\":[\"" C6_8_A "\",\"" C6_8_B "\",\"" C6_8_C "\"]}";
    auditfs_consistency_proof p = {0}, q;
    p.first = 6;
    p.second = 8;
    p.path_len = 3;
    p.path[0] = B(C6_8_A);
    p.path[1] = B(C6_8_B);
    p.path[2] = B(C6_8_C);
    char *json = NULL;
    cr_assert_eq(auditfs_consistency_proof_to_json(&json, &p), 0);
    cr_assert_str_eq(json, want);
    cr_assert_eq(auditfs_consistency_proof_from_json(&q, json, strlen(json)), 0);
    cr_assert(q.first == 6 && q.second == 8 && q.path_len == 3);
    cr_assert_eq(memcmp(q.path, p.path, 3 * sizeof(auditfs_hash)), 0);
    free(json);
    auditfs_hash r1 = B(ROOT6), r2 = B(ROOT8);
    cr_assert_eq(auditfs_merkle_verify_consistency(q.first, q.second, &r1, &r2, q.path, q.path_len),
                 0);

    /* consistency arrays may hold up to 128 hashes */
    afs_buf b = AFS_BUF_INIT;
    cr_assert_eq(afs_buf_puts(&b, "{\"consistency\":["), 0);
    for (int i = 0; i < AUDITFS_MERKLE_MAX_CONSISTENCY; i++)
        cr_assert_eq(afs_buf_printf(&b, "%s\"%s\"", i ? "," : "", C6_8_A), 0);
    cr_assert_eq(afs_buf_puts(&b, "],\"second\":2,\"first\":1}"), 0);
    cr_assert_eq(auditfs_consistency_proof_from_json(&q, b.data, b.len), 0);
    cr_assert_eq(q.path_len, AUDITFS_MERKLE_MAX_CONSISTENCY);
    afs_buf_release(&b);

    const char *dup = "{\"first\":1,\"second\":2,\"consistency\":[],\"second\":3}";
    cr_assert_eq(auditfs_consistency_proof_from_json(&q, dup, strlen(dup)), AUDITFS_EFORMAT);
    const char *unk = "{\"first\":1,\"second\":2,\"audit_path\":[]}";
    cr_assert_eq(auditfs_consistency_proof_from_json(&q, unk, strlen(unk)), AUDITFS_EFORMAT);
    cr_assert(strstr(auditfs_error_last(), "consistency proof JSON: offset 22: unknown key") !=
                  NULL,
              "%s", auditfs_error_last());
}

/* ---- c2sp.org/tlog-proof@v1 ---- */

#define NOTE8                                                                                      \
    "PeterNeumann\n8\n" ROOT8 "\n\n\xe2\x80\x94"                                                   \
    " PeterNeumann "                                                                               \
    "x08gozdSgLMzAnw63LH1RGViJhUfW60EUGKY7Kmr004fQNOSqfrcd1hIk3BCtdcLWIqvGtX67sL24VN"              \
    "+44uTlxMnbAA=\n"

static const char tlog_vector[] = "c2sp.org/tlog-proof@v1\n"
                                  "index 0\n" P0_8_A "\n" P0_8_B "\n" P0_8_C "\n"
                                  "\n" NOTE8;

Test(proof, tlog_proof_vector)
{
    auditfs_inclusion_proof p;
    const char *note;
    size_t note_len;
    cr_assert_eq(
        auditfs_tlog_proof_parse(&p, &note, &note_len, tlog_vector, sizeof tlog_vector - 1), 0,
        "%s", auditfs_error_last());
    cr_assert_eq(p.leaf_index, 0);
    cr_assert_eq(p.tree_size, 0);
    cr_assert_eq(p.path_len, 3);
    cr_assert_eq(note_len, strlen(NOTE8));
    cr_assert_eq(memcmp(note, NOTE8, note_len), 0);
    cr_assert(note >= tlog_vector && note + note_len == tlog_vector + sizeof tlog_vector - 1);

    /* the path proves leaf "" at index 0 in the checkpointed tree (size 8, root XcnaeacG...) */
    auditfs_hash leaf, root = B(ROOT8);
    auditfs_leaf_hash(&leaf, "", 0);
    cr_assert_eq(auditfs_merkle_verify_inclusion(&leaf, p.leaf_index, 8, p.path, p.path_len, &root),
                 0, "%s", auditfs_error_last());
    cr_assert_eq(auditfs_merkle_verify_inclusion(&leaf, p.leaf_index, 4, p.path, p.path_len, &root),
                 AUDITFS_EVERIFY);
    cr_assert_eq(auditfs_merkle_verify_inclusion(&leaf, 1, 8, p.path, p.path_len, &root),
                 AUDITFS_EVERIFY);

    char *out;
    size_t out_len;
    cr_assert_eq(auditfs_tlog_proof_format(&out, &out_len, &p, note, note_len, NULL, 0), 0);
    cr_assert_eq(out_len, sizeof tlog_vector - 1);
    cr_assert_eq(memcmp(out, tlog_vector, out_len), 0);
    free(out);
}

Test(proof, tlog_proof_extra_roundtrip)
{
    auditfs_inclusion_proof p = {0}, q;
    p.leaf_index = 10;
    p.path_len = 1;
    p.path[0] = B(P0_8_B);
    char *out;
    size_t out_len;
    const char *note;
    size_t note_len;
    cr_assert_eq(auditfs_tlog_proof_format(&out, &out_len, &p, "checkpoint data\n", 16,
                                           (const uint8_t *)"extra information", 17),
                 0);
    cr_assert_str_eq(out,
                     "c2sp.org/tlog-proof@v1\nextra ZXh0cmEgaW5mb3JtYXRpb24=\nindex 10\n" P0_8_B
                     "\n\ncheckpoint data\n");
    cr_assert_eq(auditfs_tlog_proof_parse(&q, &note, &note_len, out, out_len), 0);
    cr_assert(q.leaf_index == 10 && q.path_len == 1);
    cr_assert_eq(memcmp(&q.path[0], &p.path[0], 32), 0);
    cr_assert(note_len == 16 && memcmp(note, "checkpoint data\n", 16) == 0);
    free(out);

    /* present but empty extra data */
    p.path_len = 0;
    cr_assert_eq(auditfs_tlog_proof_format(&out, &out_len, &p, "c\n", 2, (const uint8_t *)"", 0),
                 0);
    cr_assert_str_eq(out, "c2sp.org/tlog-proof@v1\nextra \nindex 10\n\nc\n");
    cr_assert_eq(auditfs_tlog_proof_parse(&q, &note, &note_len, out, out_len), 0);
    cr_assert(q.path_len == 0 && note_len == 2);
    free(out);

    cr_assert_eq(auditfs_tlog_proof_format(&out, &out_len, &p, "", 0, NULL, 0), AUDITFS_EINVAL);
    p.path_len = 65;
    cr_assert_eq(auditfs_tlog_proof_format(&out, &out_len, &p, "c\n", 2, NULL, 0), AUDITFS_EINVAL);
}

Test(proof, tlog_proof_hostile)
{
    static const struct {
        const char *text;
        const char *msg;
    } t[] = {
        {"wrong-header\nindex 0\n\ncheckpoint\n", "line 1"},
        {"c2sp.org/tlog-proof@v1", "line 1"},
        {"c2sp.org/tlog-proof@v1\r\nindex 0\n\ncheckpoint\n", "line 1"},
        {"c2sp.org/tlog-proof@v2\nindex 0\n\ncheckpoint\n", "line 1"},
        {"c2sp.org/tlog-proof@v1\nextra !!notbase64!!\nindex 0\n\ncheckpoint\n",
         "line 2: extra is not base64"},
        {"c2sp.org/tlog-proof@v1\nextra Zm9=\nindex 0\n\ncheckpoint\n", "extra is not base64"},
        {"c2sp.org/tlog-proof@v1\nextra Zm==Zm8=\nindex 0\n\ncheckpoint\n", "extra is not base64"},
        {"c2sp.org/tlog-proof@v1\n\n\ncheckpoint\n", "line 2: expected \"index"},
        {"c2sp.org/tlog-proof@v1\nindex notanumber\n\ncheckpoint\n", "expected \"index"},
        {"c2sp.org/tlog-proof@v1\nindex -5\n\ncheckpoint\n", "expected \"index"},
        {"c2sp.org/tlog-proof@v1\nindex 05\n\ncheckpoint\n", "expected \"index"},
        {"c2sp.org/tlog-proof@v1\nindex 18446744073709551616\n\ncheckpoint\n", "expected \"index"},
        {"c2sp.org/tlog-proof@v1\nindex  5\n\ncheckpoint\n", "expected \"index"},
        {"c2sp.org/tlog-proof@v1\nindex 5 \n\ncheckpoint\n", "expected \"index"},
        {"c2sp.org/tlog-proof@v1\nindex 5", "missing index line"},
        {"c2sp.org/tlog-proof@v1\nindex 0\n!!notbase64!!\n\ncheckpoint\n",
         "line 3: hash is not base64"},
        {"c2sp.org/tlog-proof@v1\nindex 0\n"
         "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="
         "\n\ncheckpoint\n",
         "hash is not base64 of 32 bytes"},
        {"c2sp.org/tlog-proof@v1\nindex 0\n" P0_8_A "\r\n\ncheckpoint\n", "hash is not base64"},
        {"c2sp.org/tlog-proof@v1\nindex 0\n" P0_8_A "\n", "line 4: missing empty line"},
        {"c2sp.org/tlog-proof@v1\nindex 0\n" P0_8_A, "missing empty line"},
        {"c2sp.org/tlog-proof@v1\nindex 0\n" P0_8_A "\n\n", "line 5: missing checkpoint"},
        {"c2sp.org/tlog-proof@v1\nindex 0\nextra AAAA\n\ncheckpoint\n", "line 3: hash"},
        {"extra AAAA\nc2sp.org/tlog-proof@v1\nindex 0\n\ncheckpoint\n", "line 1"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        auditfs_inclusion_proof p;
        const char *note;
        size_t note_len;
        int rc = auditfs_tlog_proof_parse(&p, &note, &note_len, t[i].text, strlen(t[i].text));
        cr_assert_eq(rc, AUDITFS_EFORMAT, "case %zu", i);
        cr_assert(strstr(auditfs_error_last(), t[i].msg) != NULL,
                  "case %zu: got \"%s\", want \"%s\"", i, auditfs_error_last(), t[i].msg);
    }

    /* at most 64 hashes */
    afs_buf b = AFS_BUF_INIT;
    auditfs_inclusion_proof p;
    const char *note;
    size_t note_len;
    cr_assert_eq(afs_buf_puts(&b, "c2sp.org/tlog-proof@v1\nindex 0\n"), 0);
    for (int i = 0; i < 64; i++)
        cr_assert_eq(afs_buf_puts(&b, P0_8_A "\n"), 0);
    size_t at = b.len;
    cr_assert_eq(afs_buf_puts(&b, "\nnote\n"), 0);
    cr_assert_eq(auditfs_tlog_proof_parse(&p, &note, &note_len, b.data, b.len), 0);
    cr_assert_eq(p.path_len, 64);
    b.len = at;
    cr_assert_eq(afs_buf_puts(&b, P0_8_A "\n\nnote\n"), 0);
    cr_assert_eq(auditfs_tlog_proof_parse(&p, &note, &note_len, b.data, b.len), AUDITFS_EFORMAT);
    cr_assert(strstr(auditfs_error_last(), "more than 64 hashes") != NULL);
    afs_buf_release(&b);

    /* oversize extra line and oversize file */
    char *big = malloc(AUDITFS_PROOF_MAX_BYTES + 2);
    memset(big, 'A', AUDITFS_PROOF_MAX_BYTES + 1);
    memcpy(big, "c2sp.org/tlog-proof@v1\nextra ", 29);
    memcpy(big + 29 + 65536 + 4, "\nindex 0\n\nnote\n", 15);
    cr_assert_eq(auditfs_tlog_proof_parse(&p, &note, &note_len, big, 29 + 65536 + 4 + 15),
                 AUDITFS_EFORMAT);
    cr_assert(strstr(auditfs_error_last(), "extra data too long") != NULL, "%s",
              auditfs_error_last());
    cr_assert_eq(auditfs_tlog_proof_parse(&p, &note, &note_len, big, AUDITFS_PROOF_MAX_BYTES + 1),
                 AUDITFS_ETOOBIG);
    free(big);
}
