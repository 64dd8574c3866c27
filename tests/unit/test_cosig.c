/*
 * tests/unit/test_cosig.c - C2SP tlog-cosignature v1 against fixed vectors:
 *  - the spec's example checkpoint and cosignature line (witness.example.com/w1: key id
 *    8d66cf3f, time 1679315147) and its signed-message example, byte for byte;
 *  - a cosignature by Go's PeterNeumann test key over the spec's checkpoint at the spec's time,
 *    cross-checked with Python's `cryptography` Ed25519 (docs: research anchors-ledger.md 3.9);
 *  - the 0x04 vkey form of that key (PeterNeumann+18b9780b+BB...).
 * Plus tampering, foreign lines, merges and the log signature still opening.
 */
#include "auditfs/cosig.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#define PETER_SKEY "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
#define PETER_VKEY "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
#define PETER_COSIG_VKEY "PeterNeumann+18b9780b+BBpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
#define SPEC_BODY                                                                                  \
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
#define SPEC_LOG_LINE                                                                              \
    "\xe2\x80\x94 example.com/behind-the-sofa "                                                    \
    "Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
#define SPEC_COSIG_LINE                                                                            \
    "\xe2\x80\x94 witness.example.com/w1 "                                                         \
    "jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+"     \
    "mbIUBkBIfZ+qnA==\n"
#define SPEC_TIME 1679315147u
#define PETER_COSIG_LINE                                                                           \
    "\xe2\x80\x94 PeterNeumann "                                                                   \
    "GLl4CwAAAABkGFDLJeR//pqzhnEKVvEm2wWbh2RJ6oru5+cUUfm5X9NnlaGr8aSH9QE5RVZD4QGlxl2F5UpVIIi94p17" \
    "8KLfqPPsAA==\n"

static auditfs_signer *
peter(void)
{
    auditfs_signer *s = NULL;
    cr_assert_eq(auditfs_signer_parse(&s, PETER_SKEY, strlen(PETER_SKEY)), 0, "%s",
                 auditfs_error_last());
    return s;
}

static auditfs_verifier *
wkey(const char *s)
{
    auditfs_verifier *v = NULL;
    cr_assert_eq(auditfs_cosig_verifier_parse(&v, s, strlen(s)), 0, "%s: %s", s,
                 auditfs_error_last());
    return v;
}

Test(cosig, spec_message_bytes)
{
    char *msg = NULL;
    size_t len = 0;
    cr_assert_eq(auditfs_cosig_message(&msg, &len, SPEC_BODY, strlen(SPEC_BODY), SPEC_TIME), 0);
    const char *want = "cosignature/v1\ntime 1679315147\n" SPEC_BODY;
    cr_assert_eq(len, strlen(want));
    cr_assert(memcmp(msg, want, len) == 0);
    free(msg);
    cr_assert_eq(auditfs_cosig_message(&msg, &len, SPEC_BODY, strlen(SPEC_BODY),
                                       (uint64_t)1 << 63),
                 AUDITFS_EINVAL);
}

Test(cosig, spec_line_decodes)
{
    auditfs_cosig_line cl;
    cr_assert_eq(auditfs_cosig_parse_line(&cl, SPEC_COSIG_LINE, strlen(SPEC_COSIG_LINE)), 0, "%s",
                 auditfs_error_last());
    cr_assert_str_eq(cl.name, "witness.example.com/w1");
    cr_assert_eq(cl.key_id, 0x8d66cf3fu);
    cr_assert_eq(cl.timestamp, SPEC_TIME);
    /* the log's 68-byte signature line is not a cosignature */
    cr_assert_eq(auditfs_cosig_parse_line(&cl, SPEC_LOG_LINE, strlen(SPEC_LOG_LINE)),
                 AUDITFS_EFORMAT);
}

Test(cosig, peter_vector_byte_exact)
{
    auditfs_signer *s = peter();
    char *line = NULL;
    size_t len = 0;
    cr_assert_eq(auditfs_cosig_sign(&line, &len, SPEC_BODY, strlen(SPEC_BODY), s, SPEC_TIME), 0,
                 "%s", auditfs_error_last());
    cr_assert_eq(len, strlen(PETER_COSIG_LINE));
    cr_assert(memcmp(line, PETER_COSIG_LINE, len) == 0, "got %s", line);
    free(line);
    auditfs_signer_free(s);
}

Test(cosig, key_forms)
{
    auditfs_verifier *a = wkey(PETER_VKEY), *b = wkey(PETER_COSIG_VKEY);
    cr_assert(auditfs_verifier_equal(a, b));
    cr_assert_eq(auditfs_cosig_key_id(a), 0x18b9780bu);
    char *f = NULL;
    cr_assert_eq(auditfs_cosig_verifier_format(&f, a), 0);
    cr_assert_str_eq(f, PETER_COSIG_VKEY);
    free(f);
    auditfs_verifier *bad = NULL;
    /* 0x04 key with the 0x01 key id, and the reverse: refused */
    const char *k1 = "PeterNeumann+c74f20a3+BBpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const char *k2 = "PeterNeumann+18b9780b+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const char *k3 = "PeterNeumann+18b9780b+BRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    cr_assert_eq(auditfs_cosig_verifier_parse(&bad, k1, strlen(k1)), AUDITFS_EKEY);
    cr_assert_eq(auditfs_cosig_verifier_parse(&bad, k2, strlen(k2)), AUDITFS_EKEY);
    cr_assert_eq(auditfs_cosig_verifier_parse(&bad, k3, strlen(k3)), AUDITFS_EKEY);
    auditfs_verifier_free(a);
    auditfs_verifier_free(b);
}

Test(cosig, verify_spec_note_with_cosig)
{
    const char *note = SPEC_BODY "\n" SPEC_LOG_LINE SPEC_COSIG_LINE PETER_COSIG_LINE;
    auditfs_verifier *w = wkey(PETER_COSIG_VKEY);
    uint64_t first = 0, last = 0;
    cr_assert_eq(auditfs_cosig_verify(&first, &last, note, strlen(note), w), 0, "%s",
                 auditfs_error_last());
    cr_assert_eq(first, SPEC_TIME);
    cr_assert_eq(last, SPEC_TIME);
    /* a different body: EVERIFY */
    char *bad = strdup(note);
    bad[30] = '4'; /* 20852163 -> 20852143 */
    cr_assert_eq(auditfs_cosig_verify(&first, &last, bad, strlen(bad), w), AUDITFS_EVERIFY);
    free(bad);
    /* no line by this witness: ENOTFOUND */
    const char *other = SPEC_BODY "\n" SPEC_LOG_LINE SPEC_COSIG_LINE;
    cr_assert_eq(auditfs_cosig_verify(NULL, NULL, other, strlen(other), w), AUDITFS_ENOTFOUND);
    auditfs_verifier_free(w);
}

Test(cosig, cosigned_note_still_opens_with_log_key)
{
    auditfs_signer *log = peter();
    auditfs_verifier *lv = NULL;
    auditfs_signer *wit = NULL;
    auditfs_verifier *wv = NULL;
    cr_assert_eq(auditfs_signer_verifier(&lv, log), 0);
    cr_assert_eq(auditfs_signer_generate(&wit, "witness.example/w2"), 0);
    cr_assert_eq(auditfs_signer_verifier(&wv, wit), 0);
    auditfs_checkpoint cp = {.size = 7};
    strcpy(cp.origin, "PeterNeumann");
    char *note = NULL, *line = NULL, *merged = NULL, *again = NULL;
    size_t nlen, llen, mlen, alen;
    int changed = -1;
    cr_assert_eq(auditfs_checkpoint_sign(&note, &nlen, &cp, log), 0);
    size_t tlen, off;
    cr_assert_eq(auditfs_note_split(&tlen, &off, note, nlen), 0);
    cr_assert_eq(auditfs_cosig_sign(&line, &llen, note, tlen, wit, 1000), 0);
    cr_assert_eq(auditfs_cosig_merge(&merged, &mlen, &changed, note, nlen, line, llen, wv), 0,
                 "%s", auditfs_error_last());
    cr_assert_eq(changed, 1);
    auditfs_checkpoint got;
    cr_assert_eq(auditfs_checkpoint_open(&got, merged, mlen, lv, "PeterNeumann"), 0, "%s",
                 auditfs_error_last());
    cr_assert_eq(got.size, 7);
    /* the same line again: unchanged */
    cr_assert_eq(auditfs_cosig_merge(&again, &alen, &changed, merged, mlen, line, llen, wv), 0);
    cr_assert_eq(changed, 0);
    cr_assert_eq(alen, mlen);
    free(again);
    free(line);
    /* a newer one: kept as the second line; a third replaces the newest, never the oldest */
    cr_assert_eq(auditfs_cosig_sign(&line, &llen, note, tlen, wit, 2000), 0);
    cr_assert_eq(auditfs_cosig_merge(&again, &alen, &changed, merged, mlen, line, llen, wv), 0);
    cr_assert_eq(changed, 1);
    free(line);
    free(merged);
    merged = again;
    mlen = alen;
    cr_assert_eq(auditfs_cosig_sign(&line, &llen, note, tlen, wit, 3000), 0);
    cr_assert_eq(auditfs_cosig_merge(&again, &alen, &changed, merged, mlen, line, llen, wv), 0);
    uint64_t first, last;
    cr_assert_eq(auditfs_cosig_verify(&first, &last, again, alen, wv), 0);
    cr_assert_eq(first, 1000);
    cr_assert_eq(last, 3000);
    cr_assert_eq(auditfs_checkpoint_open(&got, again, alen, lv, NULL), 0);
    /* a line by another key, or over another body, is refused */
    free(merged);
    merged = NULL;
    cr_assert_eq(auditfs_cosig_merge(&merged, &mlen, &changed, note, nlen, PETER_COSIG_LINE,
                                     strlen(PETER_COSIG_LINE), wv),
                 AUDITFS_EVERIFY);
    auditfs_verifier *pw = wkey(PETER_COSIG_VKEY);
    cr_assert_eq(auditfs_cosig_merge(&merged, &mlen, &changed, note, nlen, PETER_COSIG_LINE,
                                     strlen(PETER_COSIG_LINE), pw),
                 AUDITFS_EVERIFY);
    auditfs_verifier_free(pw);
    free(again);
    free(line);
    free(note);
    auditfs_verifier_free(wv);
    auditfs_signer_free(wit);
    auditfs_verifier_free(lv);
    auditfs_signer_free(log);
}

Test(cosig, hostile_lines)
{
    static const char *bad[] = {
        "",
        "\xe2\x80\x94 ",
        "\xe2\x80\x94 name",
        "- name AAAA\n",
        "\xe2\x80\x94 name AAAA\n",
        "\xe2\x80\x94 a+b jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZ"
        "qhf5nNo0xUe+mbIUBkBIfZ+qnA==\n",
        /* timestamp 2^63 */
        "\xe2\x80\x94 w jWbPP4AAAAAAAAAAEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZ"
        "qhf5nNo0xUe+mbIUBkBIfZ+qnA==\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        auditfs_cosig_line cl;
        cr_assert_eq(auditfs_cosig_parse_line(&cl, bad[i], strlen(bad[i])), AUDITFS_EFORMAT,
                     "case %zu", i);
    }
}

/* Two witnesses of the same name with different keys: each one's line is ignored when verifying
 * the other's (signed-note identifies a key by name AND key id; a line by another key id is not
 * this witness's, even under its name). Kills mutant cosig-other-key-line. */
Test(cosig, same_name_other_key_ignored)
{
    auditfs_signer *log = peter(), *wa = NULL, *wb = NULL;
    auditfs_verifier *va = NULL, *vb = NULL;
    cr_assert_eq(auditfs_signer_generate(&wa, "witness.example/same"), 0);
    cr_assert_eq(auditfs_signer_generate(&wb, "witness.example/same"), 0);
    cr_assert_eq(auditfs_signer_verifier(&va, wa), 0);
    cr_assert_eq(auditfs_signer_verifier(&vb, wb), 0);
    cr_assert_neq(auditfs_cosig_key_id(va), auditfs_cosig_key_id(vb));
    auditfs_checkpoint cp = {.size = 9};
    strcpy(cp.origin, "PeterNeumann");
    char *note = NULL, *la = NULL, *lb = NULL, *m1 = NULL, *m2 = NULL;
    size_t nlen, lalen, lblen, m1len, m2len, tlen, off;
    int changed = -1;
    cr_assert_eq(auditfs_checkpoint_sign(&note, &nlen, &cp, log), 0);
    cr_assert_eq(auditfs_note_split(&tlen, &off, note, nlen), 0);
    cr_assert_eq(auditfs_cosig_sign(&lb, &lblen, note, tlen, wb, 500), 0);
    cr_assert_eq(auditfs_cosig_sign(&la, &lalen, note, tlen, wa, 1000), 0);
    cr_assert_eq(auditfs_cosig_merge(&m1, &m1len, &changed, note, nlen, lb, lblen, vb), 0, "%s",
                 auditfs_error_last());
    cr_assert_eq(auditfs_cosig_merge(&m2, &m2len, &changed, m1, m1len, la, lalen, va), 0, "%s",
                 auditfs_error_last());
    uint64_t first = 0, last = 0;
    cr_assert_eq(auditfs_cosig_verify(&first, &last, m2, m2len, va), 0, "%s",
                 auditfs_error_last());
    cr_assert_eq(first, 1000);
    cr_assert_eq(last, 1000);
    cr_assert_eq(auditfs_cosig_verify(&first, &last, m2, m2len, vb), 0, "%s",
                 auditfs_error_last());
    cr_assert_eq(first, 500);
    free(note);
    free(la);
    free(lb);
    free(m1);
    free(m2);
    auditfs_verifier_free(va);
    auditfs_verifier_free(vb);
    auditfs_signer_free(wa);
    auditfs_signer_free(wb);
    auditfs_signer_free(log);
}
