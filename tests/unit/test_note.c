/*
 * tests/unit/test_note.c - keys, signed notes and checkpoints against fixed vectors from Go's
 * golang.org/x/mod/sumdb/note tests, the C2SP signed-note spec and a real sum.golang.org
 * checkpoint (transparency-dev/formats log/note_test.go), plus round trips and tampering.
 */
#include "auditfs/note.h"
#include "internal.h"

#include <criterion/criterion.h>
#include <sodium.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define PETER_SKEY "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
#define PETER_VKEY "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
#define ENOCH_VKEY "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
#define TEXT                                                                                       \
    "If you think cryptography is the answer to your problem,\n"                                   \
    "then you don't know what your problem is.\n"
#define PETER_SIG                                                                                  \
    "\xe2\x80\x94 PeterNeumann "                                                                   \
    "x08go/ZJkuBS9UG/"                                                                             \
    "SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
#define ENOCH_SIG                                                                                  \
    "\xe2\x80\x94 EnochRoot "                                                                      \
    "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/"                                                 \
    "5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"

#define SPEC_VKEY "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
#define SPEC_NOTE                                                                                  \
    "This is an example message.\n\n"                                                              \
    "\xe2\x80\x94 example.com/foo "                                                                \
    "Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=" \
    "\n"

#define SUMDB_VKEY "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"
#define SUMDB_NOTE                                                                                 \
    "go.sum database tree\n6476701\nmb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=\n\n"              \
    "\xe2\x80\x94 sum.golang.org "                                                                 \
    "Az3grsLX85Gz+s1SiTbgkuqxgItqFq7gsMUEyVnrsa9LM7Us9S+1xbFIGu95949rj4nPRYfvimWEPWL+o3GeoWwOoAw=" \
    "\n"

static auditfs_verifier *
vkey(const char *s)
{
    auditfs_verifier *v = NULL;
    int rc = auditfs_verifier_parse(&v, s, strlen(s));
    cr_assert_eq(rc, 0, "verifier_parse(%s): %s", s, auditfs_error_last());
    return v;
}

static auditfs_signer *
skey(const char *s)
{
    auditfs_signer *k = NULL;
    int rc = auditfs_signer_parse(&k, s, strlen(s));
    cr_assert_eq(rc, 0, "signer_parse: %s", auditfs_error_last());
    return k;
}

static int
verify(const char *note, const auditfs_verifier *v)
{
    size_t tl = 0;
    return auditfs_note_verify(&tl, note, strlen(note), v);
}

static char *
repeat(const char *s, int n)
{
    size_t l = strlen(s);
    char *r = malloc(l * (size_t)n + 1);
    for (int i = 0; i < n; i++)
        memcpy(r + l * (size_t)i, s, l);
    r[l * (size_t)n] = '\0';
    return r;
}

static char *
cat(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *r = malloc(la + lb + 1);
    memcpy(r, a, la);
    memcpy(r + la, b, lb + 1);
    return r;
}

Test(note, peter_keys_parse_and_reformat)
{
    auditfs_signer *s = skey(PETER_SKEY);
    auditfs_verifier *v = vkey(PETER_VKEY);
    auditfs_verifier *sv = NULL;
    char buf[AUDITFS_SKEY_BYTES];
    char *str = NULL;

    cr_assert_str_eq(auditfs_signer_name(s), "PeterNeumann");
    cr_assert_eq(auditfs_signer_key_id(s), 0xc74f20a3u);
    cr_assert_str_eq(auditfs_verifier_name(v), "PeterNeumann");
    cr_assert_eq(auditfs_verifier_key_id(v), 0xc74f20a3u);
    cr_assert_eq(auditfs_signer_verifier(&sv, s), 0);
    cr_assert(auditfs_verifier_equal(sv, v));
    cr_assert_eq(auditfs_verifier_format(&str, sv), 0);
    cr_assert_str_eq(str, PETER_VKEY);
    cr_assert_eq(auditfs_signer_format(buf, sizeof buf, s), 0);
    cr_assert_str_eq(buf, PETER_SKEY);
    cr_assert_eq(auditfs_signer_format(buf, 20, s), AUDITFS_EINVAL);
    free(str);

    auditfs_verifier *v2 = NULL;
    cr_assert_eq(auditfs_verifier_parse(&v2, PETER_VKEY "\n", strlen(PETER_VKEY) + 1), 0,
                 "a trailing newline is allowed");
    cr_assert(auditfs_verifier_equal(v2, v));
    auditfs_verifier *e = vkey(ENOCH_VKEY);
    cr_assert_eq(auditfs_verifier_key_id(e), 0xaf0cfe78u);
    cr_assert(!auditfs_verifier_equal(e, v));
    auditfs_verifier *spec = vkey(SPEC_VKEY);
    cr_assert_eq(auditfs_verifier_key_id(spec), 0x530d903au);
    auditfs_verifier *sum = vkey(SUMDB_VKEY);
    cr_assert_eq(auditfs_verifier_key_id(sum), 0x033de0aeu, "base64 with '+' splits correctly");
    auditfs_verifier_free(sum);
    auditfs_verifier_free(spec);
    auditfs_verifier_free(e);
    auditfs_verifier_free(v2);
    auditfs_verifier_free(sv);
    auditfs_verifier_free(v);
    auditfs_signer_free(s);
}

/* Go's TestNewVerifier: every proper substring and every single-byte increment is refused. */
Test(note, verifier_manglings_rejected)
{
    char b[] = PETER_VKEY;
    size_t n = strlen(b);
    auditfs_verifier *v = NULL;
    for (size_t i = 0; i <= n; i++) {
        for (size_t j = i + 1; j <= n; j++) {
            if (i == 0 && j == n)
                continue;
            int rc = auditfs_verifier_parse(&v, b + i, j - i);
            cr_assert_eq(rc, AUDITFS_EKEY, "substring [%zu:%zu] accepted", i, j);
            cr_assert_null(v);
        }
    }
    for (size_t i = 0; i < n; i++) {
        b[i]++;
        cr_assert_eq(auditfs_verifier_parse(&v, b, n), AUDITFS_EKEY, "byte %zu++ accepted", i);
        b[i]--;
    }
    const char *wrong_len =
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==";
    cr_assert_eq(auditfs_verifier_parse(&v, wrong_len, strlen(wrong_len)), AUDITFS_EKEY);
    const char *unknown_alg = "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    cr_assert_eq(auditfs_verifier_parse(&v, unknown_alg, strlen(unknown_alg)), AUDITFS_EKEY);
    cr_assert(strstr(auditfs_error_last(), "unknown algorithm"), "%s", auditfs_error_last());
    const char *upper = "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    cr_assert_eq(auditfs_verifier_parse(&v, upper, strlen(upper)), AUDITFS_EKEY);
    cr_assert_eq(auditfs_verifier_parse(&v, "", 0), AUDITFS_EKEY);
}

/* Go's TestNewSigner. */
Test(note, signer_manglings_rejected)
{
    char b[] = PETER_SKEY;
    size_t n = strlen(b);
    auditfs_signer *s = NULL;
    for (size_t i = 0; i <= n; i++) {
        for (size_t j = i + 1; j <= n; j++) {
            if (i == 0 && j == n)
                continue;
            cr_assert_eq(auditfs_signer_parse(&s, b + i, j - i), AUDITFS_EKEY,
                         "substring [%zu:%zu] accepted", i, j);
            cr_assert_null(s);
        }
    }
    for (size_t i = 0; i < n; i++) {
        b[i]++;
        cr_assert_eq(auditfs_signer_parse(&s, b, n), AUDITFS_EKEY, "byte %zu++ accepted", i);
        cr_assert(!strstr(auditfs_error_last(), "AYEKFALV"), "error leaks the secret");
        b[i]--;
    }
}

Test(note, invalid_names)
{
    auditfs_signer *s = NULL;
    char longname[AUDITFS_NAME_MAX + 2];
    const char *bad[] = {
        "",      "a+b", "a b", "a\tb", "a\nb", "a\xc2\xa0z", "a\xe2\x80\x83z", "a\xe3\x80\x80z",
        "a\x7f", "\xff"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(auditfs_signer_generate(&s, bad[i]), AUDITFS_EINVAL, "name %zu accepted", i);
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    cr_assert_eq(auditfs_signer_generate(&s, longname), AUDITFS_EINVAL);
    longname[AUDITFS_NAME_MAX] = '\0';
    cr_assert_eq(auditfs_signer_generate(&s, longname), 0, "%s", auditfs_error_last());
    auditfs_signer_free(s);
    cr_assert_eq(auditfs_signer_generate(&s, "Se\xc3\xb1or-1/example.com"), 0);
    auditfs_signer_free(s);
}

/* Go's TestSign: Ed25519 is deterministic, so the output is byte-identical. */
Test(note, sign_matches_go)
{
    auditfs_signer *s = skey(PETER_SKEY);
    char *out = NULL;
    size_t len = 0;
    cr_assert_eq(auditfs_note_sign(&out, &len, TEXT, strlen(TEXT), s), 0);
    cr_assert_str_eq(out, TEXT "\n" PETER_SIG);
    cr_assert_eq(len, strlen(out));
    free(out);

    cr_assert_eq(auditfs_note_sign(&out, &len, "abc", 3, s), AUDITFS_EFORMAT);
    cr_assert_eq(auditfs_note_sign(&out, &len, "a\x01\n", 3, s), AUDITFS_EFORMAT);
    cr_assert_eq(auditfs_note_sign(&out, &len, "ok\n\xc3\n", 5, s), AUDITFS_EFORMAT);
    cr_assert(strstr(auditfs_error_last(), "line 2"), "%s", auditfs_error_last());
    cr_assert_eq(auditfs_note_sign(&out, &len, "a\0b\n", 4, s), AUDITFS_EFORMAT);
    auditfs_signer_free(s);
}

Test(note, open_matches_go)
{
    auditfs_verifier *peter = vkey(PETER_VKEY);
    auditfs_verifier *enoch = vkey(ENOCH_VKEY);
    auditfs_signer *other = NULL;
    auditfs_verifier *otherv = NULL;
    size_t tl = 0;
    const char *both = TEXT "\n" PETER_SIG ENOCH_SIG;

    cr_assert_eq(auditfs_note_verify(&tl, both, strlen(both), peter), 0, "%s",
                 auditfs_error_last());
    cr_assert_eq(tl, strlen(TEXT));
    cr_assert_eq(auditfs_note_verify(&tl, both, strlen(both), enoch), 0, "%s",
                 auditfs_error_last());
    cr_assert_eq(tl, strlen(TEXT));

    /* Neither signature is by a trusted key. */
    cr_assert_eq(auditfs_signer_generate(&other, "PeterNeumann"), 0);
    cr_assert_eq(auditfs_signer_verifier(&otherv, other), 0);
    cr_assert_eq(verify(both, otherv), AUDITFS_EVERIFY);
    cr_assert(strstr(auditfs_error_last(), "no signature by PeterNeumann+"), "%s",
              auditfs_error_last());

    /* Too many signatures: 100 are accepted, 101 are not, whoever signed them. */
    char *s100 = repeat(PETER_SIG, 100), *s101 = repeat(PETER_SIG, 101);
    char *n100 = cat(TEXT "\n", s100), *n101 = cat(TEXT "\n", s101);
    cr_assert_eq(verify(n100, peter), 0, "%s", auditfs_error_last());
    cr_assert_eq(verify(n101, peter), AUDITFS_EFORMAT);
    cr_assert_eq(verify(n101, otherv), AUDITFS_EFORMAT);
    free(s100), free(s101), free(n100), free(n101);

    /* Invalid signature: "ABCD" spliced into the base64 keeps name and key id. */
    char bad[256];
    snprintf(bad, sizeof bad, "%s\n%.60sABCD%s", TEXT, PETER_SIG, PETER_SIG + 60);
    cr_assert_eq(verify(bad, peter), AUDITFS_EVERIFY);
    cr_assert(strstr(auditfs_error_last(), "line 4: invalid signature by PeterNeumann+c74f20a3"),
              "%s", auditfs_error_last());

    /* Duplicated verified and unverified signatures. */
    char dup[1024];
    snprintf(dup, sizeof dup, "%s\n%s%s%s%s%.60sABCD%s", TEXT, PETER_SIG, PETER_SIG, ENOCH_SIG,
             ENOCH_SIG, ENOCH_SIG, ENOCH_SIG + 60);
    cr_assert_eq(verify(dup, peter), 0, "%s", auditfs_error_last());
    cr_assert_eq(verify(dup, enoch), AUDITFS_EVERIFY, "a bad line by the trusted key rejects");

    /* Go's badMsgs. */
    const char *bad_msgs[] = {
        TEXT,
        TEXT "\n",
        TEXT "\n" PETER_SIG,
        "\x01" TEXT "\n" PETER_SIG,
        "\xff" TEXT "\n" PETER_SIG,
        TEXT "\n\xe2\x80\x94 Bad Name "
             "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6Ryy"
             "BwJnAM=",
        TEXT "\n" PETER_SIG "Unexpected line.\n",
    };
    for (size_t i = 0; i < sizeof bad_msgs / sizeof bad_msgs[0]; i++) {
        size_t l = strlen(bad_msgs[i]);
        if (i == 2)
            l--; /* peterSig without its final newline */
        cr_assert_eq(auditfs_note_verify(&tl, bad_msgs[i], l, peter), AUDITFS_EFORMAT,
                     "bad message %zu accepted", i);
    }
    cr_assert_eq(verify(TEXT "\n" PETER_SIG "Unexpected line.\n", peter), AUDITFS_EFORMAT);
    cr_assert(strstr(auditfs_error_last(), "line 5"), "%s", auditfs_error_last());
    cr_assert_eq(verify("\xff" TEXT "\n" PETER_SIG, peter), AUDITFS_EFORMAT);
    cr_assert(strstr(auditfs_error_last(), "line 1"), "%s", auditfs_error_last());

    /* A wrong name or key id is someone else's signature: ignored, so nothing verifies. */
    const char *misnamed = TEXT "\n\xe2\x80\x94 CarmenSandiego "
                                "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKv"
                                "qfqdngotpRZb6KE6RyyBwJnAM=\n";
    cr_assert_eq(verify(misnamed, peter), AUDITFS_EVERIFY);
    const char *wrong_id = TEXT "\n\xe2\x80\x94 PeterNeumann "
                                "xxxxo/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKv"
                                "qfqdngotpRZb6KE6RyyBwJnAM=\n";
    cr_assert_eq(verify(wrong_id, peter), AUDITFS_EVERIFY);
    cr_assert(strstr(auditfs_error_last(), "no signature"), "%s", auditfs_error_last());

    auditfs_verifier_free(otherv);
    auditfs_signer_free(other);
    auditfs_verifier_free(enoch);
    auditfs_verifier_free(peter);
}

Test(note, malformed_signature_lines)
{
    auditfs_verifier *peter = vkey(PETER_VKEY);
    const char *cases[] = {
        TEXT "\n\xe2\x80\x94PeterNeumann AAAAAAAA\n",      /* no space after the dash */
        TEXT "\n- PeterNeumann AAAAAAAA\n",                /* ASCII hyphen */
        TEXT "\n\xe2\x80\x94 PeterNeumann\n",              /* no signature */
        TEXT "\n\xe2\x80\x94 PeterNeumann \n",             /* empty signature */
        TEXT "\n\xe2\x80\x94 PeterNeumann AAAA\n",         /* 3 bytes: too short */
        TEXT "\n\xe2\x80\x94 PeterNeumann AAAAAAB=\n",     /* non-canonical base64 (bits) */
        TEXT "\n\xe2\x80\x94 PeterNeumann AAAAAA==AAAA\n", /* padding in the middle */
        TEXT "\n\xe2\x80\x94 Peter+Neumann AAAAAAAA\n",    /* '+' in the name */
        TEXT "\n\xe2\x80\x94  AAAAAAAA\n",                 /* empty name */
        TEXT "\n" PETER_SIG "\xe2\x80\x94 x AAAAAAAA \n",  /* trailing space */
        TEXT "\n" PETER_SIG "\xe2\x80\x94 x AAAA\rAAAA\n", /* control character */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_assert_eq(verify(cases[i], peter), AUDITFS_EFORMAT, "case %zu: %s", i,
                     auditfs_error_last());
    /* Unknown signatures of any length >= 5 bytes are well-formed and ignored. */
    cr_assert_eq(verify(TEXT "\n\xe2\x80\x94 other AAAAAAA=\n" PETER_SIG, peter), 0, "%s",
                 auditfs_error_last());
    char big[AUDITFS_NOTE_MAX_BYTES + 2];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    size_t tl;
    cr_assert_eq(auditfs_note_verify(&tl, big, sizeof big - 1, peter), AUDITFS_ETOOBIG);
    auditfs_verifier_free(peter);
}

/* The text ends at the last blank line; earlier blank lines belong to the text. */
Test(note, blank_lines_in_text)
{
    auditfs_signer *s = NULL;
    auditfs_verifier *v = NULL;
    const char *texts[] = {"a\n\nb\n", "a\n\n", "\n", "\n\n\n"};
    cr_assert_eq(auditfs_signer_generate(&s, "example.com/log"), 0);
    cr_assert_eq(auditfs_signer_verifier(&v, s), 0);
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        char *note = NULL;
        size_t len = 0, tl = 0;
        cr_assert_eq(auditfs_note_sign(&note, &len, texts[i], strlen(texts[i]), s), 0);
        cr_assert_eq(auditfs_note_verify(&tl, note, len, v), 0, "text %zu: %s", i,
                     auditfs_error_last());
        cr_assert_eq(tl, strlen(texts[i]));
        cr_assert_eq(memcmp(note, texts[i], tl), 0);
        free(note);
    }
    auditfs_verifier_free(v);
    auditfs_signer_free(s);
}

Test(note, c2sp_spec_example)
{
    auditfs_verifier *v = vkey(SPEC_VKEY);
    size_t tl = 0;
    cr_assert_eq(auditfs_note_verify(&tl, SPEC_NOTE, strlen(SPEC_NOTE), v), 0, "%s",
                 auditfs_error_last());
    cr_assert_eq(tl, strlen("This is an example message.\n"));
    char tampered[] = SPEC_NOTE;
    tampered[0] = 't';
    cr_assert_eq(verify(tampered, v), AUDITFS_EVERIFY);
    auditfs_verifier_free(v);
}

Test(note, sumdb_checkpoint)
{
    auditfs_verifier *v = vkey(SUMDB_VKEY);
    auditfs_checkpoint c;
    uint8_t root[32];
    cr_assert_eq(
        auditfs_checkpoint_open(&c, SUMDB_NOTE, strlen(SUMDB_NOTE), v, "go.sum database tree"), 0,
        "%s", auditfs_error_last());
    cr_assert_str_eq(c.origin, "go.sum database tree");
    cr_assert_eq(c.size, 6476701u);
    cr_assert_eq(afs_b64_decode(root, 32, "mb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=", 44), 32);
    cr_assert_eq(memcmp(c.root.b, root, 32), 0);
    cr_assert_eq(auditfs_checkpoint_open(&c, SUMDB_NOTE, strlen(SUMDB_NOTE), v,
                                         "Go rocks but I might have the wrong ID"),
                 AUDITFS_EVERIFY);
    cr_assert_eq(auditfs_checkpoint_open(&c, SUMDB_NOTE, strlen(SUMDB_NOTE), v, NULL), 0);
    auditfs_verifier_free(v);
}

Test(note, checkpoint_roundtrip_and_tampering)
{
    auditfs_signer *s = NULL;
    auditfs_verifier *v = NULL;
    auditfs_checkpoint c = {.origin = "example.com/log", .size = 1234567};
    auditfs_checkpoint got;
    char *body = NULL, *note = NULL;
    size_t blen = 0, nlen = 0;
    for (int i = 0; i < 32; i++)
        c.root.b[i] = (uint8_t)(i * 7 + 3);
    cr_assert_eq(auditfs_signer_generate(&s, "example.com/log"), 0);
    cr_assert_eq(auditfs_signer_verifier(&v, s), 0);

    cr_assert_eq(auditfs_checkpoint_format(&body, &blen, &c), 0);
    cr_assert_eq(auditfs_checkpoint_parse(&got, body, blen), 0);
    cr_assert_str_eq(got.origin, c.origin);
    cr_assert_eq(got.size, c.size);
    cr_assert_eq(memcmp(got.root.b, c.root.b, 32), 0);

    cr_assert_eq(auditfs_checkpoint_sign(&note, &nlen, &c, s), 0);
    cr_assert_eq(memcmp(note, body, blen), 0, "the note text is the checkpoint body");
    memset(&got, 0, sizeof got);
    cr_assert_eq(auditfs_checkpoint_open(&got, note, nlen, v, "example.com/log"), 0, "%s",
                 auditfs_error_last());
    cr_assert_eq(got.size, c.size);
    cr_assert_eq(memcmp(got.root.b, c.root.b, 32), 0);
    cr_assert_eq(auditfs_checkpoint_open(&got, note, nlen, v, "example.com/other"),
                 AUDITFS_EVERIFY);

    /* One changed byte anywhere meaningful must fail verification. */
    size_t size_at = strlen("example.com/log\n");
    size_t root_at = size_at + strlen("1234567\n");
    size_t sig_at = blen + 1 + strlen("\xe2\x80\x94 example.com/log ") + 10;
    struct {
        size_t at;
        char to;
    } edits[] = {{size_at, '2'},
                 {root_at + 3, root_at + 3 < nlen && note[root_at + 3] == 'Q' ? 'R' : 'Q'},
                 {0, 'E'},
                 {sig_at, note[sig_at] == 'A' ? 'B' : 'A'}};
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        char *t = malloc(nlen);
        memcpy(t, note, nlen);
        t[edits[i].at] = edits[i].to;
        cr_assert_eq(auditfs_checkpoint_open(&got, t, nlen, v, NULL), AUDITFS_EVERIFY,
                     "edit %zu: %s", i, auditfs_error_last());
        free(t);
    }

    free(body);
    body = NULL;
    c.origin[0] = '\0';
    cr_assert_eq(auditfs_checkpoint_format(&body, &blen, &c), AUDITFS_EINVAL);
    free(note);
    free(body);
    auditfs_verifier_free(v);
    auditfs_signer_free(s);
}

Test(note, checkpoint_parse_strict)
{
    auditfs_checkpoint c;
    const char *root = "mb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=";
    struct {
        const char *body;
        int line;
    } cases[] = {
        {"o\n1\nmb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=\next\n", 4},
        {"o\n1\nmb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=\n\n", 4},
        {"o\n01\nmb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=\n", 2},
        {"o\n-1\nmb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=\n", 2},
        {"o\n+1\nmb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=\n", 2},
        {"o\n18446744073709551616\nmb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=\n", 2},
        {"o\nten\nmb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=\n", 2},
        {"o\n1\nmb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk\n", 3},
        {"o\n1\nmb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wl=\n", 3},
        {"o\n1\nmb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Q==\n", 3},
        {"o\n1\n!b8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=\n", 3},
        {"\n1\nmb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=\n", 1},
        {"o\x7f\n1\nmb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=\n", 1},
        {"o\n1\n", 3},
        {"o\n", 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char want[32];
        cr_assert_eq(auditfs_checkpoint_parse(&c, cases[i].body, strlen(cases[i].body)),
                     AUDITFS_EFORMAT, "case %zu accepted", i);
        snprintf(want, sizeof want, "line %d", cases[i].line);
        cr_assert(strstr(auditfs_error_last(), want), "case %zu: %s", i, auditfs_error_last());
    }
    char ok[128];
    snprintf(ok, sizeof ok, "o\n1\n%s", root);
    cr_assert_eq(auditfs_checkpoint_parse(&c, ok, strlen(ok)), AUDITFS_EFORMAT, "no newline");
    snprintf(ok, sizeof ok, "example.com/log\n18446744073709551615\n%s\n", root);
    cr_assert_eq(auditfs_checkpoint_parse(&c, ok, strlen(ok)), 0, "%s", auditfs_error_last());
    cr_assert_eq(c.size, UINT64_MAX);
    snprintf(ok, sizeof ok, "example.com/log\n0\n%s\n", root);
    cr_assert_eq(auditfs_checkpoint_parse(&c, ok, strlen(ok)), 0);
    cr_assert_eq(c.size, 0);
    char origin[AUDITFS_NAME_MAX + 2 + 64];
    memset(origin, 'o', AUDITFS_NAME_MAX + 1);
    snprintf(origin + AUDITFS_NAME_MAX + 1, 64, "\n1\n%s\n", root);
    cr_assert_eq(auditfs_checkpoint_parse(&c, origin, strlen(origin)), AUDITFS_EFORMAT,
                 "origin too long");
}

static char tmpdir[64];

static void
make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/auditfs-note-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
}

static void
remove_tmpdir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    cr_assert_eq(system(cmd), 0);
}

static void
write_file(const char *path, const char *data, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, data, strlen(data)), (ssize_t)strlen(data));
    cr_assert_eq(fchmod(fd, mode), 0);
    close(fd);
}

Test(note, key_file_mode, .init = make_tmpdir, .fini = remove_tmpdir)
{
    char path[128];
    auditfs_signer *s = NULL;
    snprintf(path, sizeof path, "%s/key.sec", tmpdir);
    write_file(path, PETER_SKEY "\n", 0644);
    cr_assert_eq(auditfs_signer_load(&s, path), AUDITFS_EKEY);
    cr_assert_null(s);
    cr_assert(strstr(auditfs_error_last(), "key.sec: mode 0644 is readable by group or others"),
              "%s", auditfs_error_last());
    cr_assert_eq(chmod(path, 0620), 0);
    cr_assert_eq(auditfs_signer_load(&s, path), AUDITFS_EKEY, "group-writable");
    cr_assert_eq(chmod(path, 0600), 0);
    cr_assert_eq(auditfs_signer_load(&s, path), 0, "%s", auditfs_error_last());
    cr_assert_eq(auditfs_signer_key_id(s), 0xc74f20a3u);
    auditfs_signer_free(s);
    cr_assert_eq(chmod(path, 0400), 0);
    cr_assert_eq(auditfs_signer_load(&s, path), 0, "%s", auditfs_error_last());
    auditfs_signer_free(s);

    cr_assert_eq(auditfs_signer_load(&s, tmpdir), AUDITFS_EKEY, "a directory");
    cr_assert(strstr(auditfs_error_last(), "not a regular file"), "%s", auditfs_error_last());
    snprintf(path, sizeof path, "%s/missing", tmpdir);
    cr_assert_eq(auditfs_signer_load(&s, path), AUDITFS_ENOTFOUND);
    snprintf(path, sizeof path, "%s/garbage", tmpdir);
    write_file(path, "PRIVATE+KEY+x+00000000+AAAA\n", 0600);
    cr_assert_eq(auditfs_signer_load(&s, path), AUDITFS_EKEY);
    cr_assert(strstr(auditfs_error_last(), "garbage"), "%s", auditfs_error_last());

    auditfs_verifier *v = NULL;
    snprintf(path, sizeof path, "%s/key.pub", tmpdir);
    write_file(path, PETER_VKEY "\n", 0644);
    cr_assert_eq(auditfs_verifier_load(&v, path), 0, "public keys may be world-readable");
    cr_assert_eq(auditfs_verifier_key_id(v), 0xc74f20a3u);
    auditfs_verifier_free(v);
}

Test(note, save_and_load, .init = make_tmpdir, .fini = remove_tmpdir)
{
    char path[128];
    char *data = NULL;
    size_t len = 0;
    struct stat st;
    auditfs_signer *s = skey(PETER_SKEY), *back = NULL;
    snprintf(path, sizeof path, "%s/new.sec", tmpdir);
    cr_assert_eq(auditfs_signer_save(s, path), 0, "%s", auditfs_error_last());
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    cr_assert_eq(afs_read_file(&data, &len, path, 4096), 0);
    cr_assert_str_eq(data, PETER_SKEY "\n");
    free(data);
    cr_assert_eq(auditfs_signer_save(s, path), AUDITFS_EEXISTS);
    cr_assert_eq(afs_read_file(&data, &len, path, 4096), 0);
    cr_assert_str_eq(data, PETER_SKEY "\n", "the existing key is untouched");
    free(data);
    cr_assert_eq(auditfs_signer_load(&back, path), 0, "%s", auditfs_error_last());
    cr_assert_eq(auditfs_signer_key_id(back), auditfs_signer_key_id(s));
    auditfs_signer_free(back);
    auditfs_signer_free(s);
}

Test(note, generate_sign_verify)
{
    auditfs_signer *s = NULL, *s2 = NULL;
    auditfs_verifier *v = NULL, *v2 = NULL;
    char buf[AUDITFS_SKEY_BYTES];
    char *vs = NULL, *note = NULL;
    size_t len = 0, tl = 0;
    uint8_t sig[64];
    cr_assert_eq(auditfs_signer_generate(&s, "auditfs.example/ledger"), 0);
    cr_assert_eq(auditfs_signer_verifier(&v, s), 0);
    cr_assert_eq(auditfs_signer_key_id(s), auditfs_verifier_key_id(v));

    /* Re-parsing the formatted strings gives the same keys. */
    cr_assert_eq(auditfs_signer_format(buf, sizeof buf, s), 0);
    cr_assert_eq(auditfs_signer_parse(&s2, buf, strlen(buf)), 0);
    cr_assert_eq(auditfs_verifier_format(&vs, v), 0);
    cr_assert_eq(auditfs_verifier_parse(&v2, vs, strlen(vs)), 0);
    cr_assert(auditfs_verifier_equal(v, v2));
    cr_assert_eq(auditfs_signer_key_id(s2), auditfs_signer_key_id(s));

    cr_assert_eq(auditfs_signer_sign(sig, s, "hi", 2), 0);
    cr_assert_eq(
        crypto_sign_verify_detached(sig, (const uint8_t *)"hi", 2, auditfs_verifier_public_key(v)),
        0);

    const char *text = "h\xc3\xa9llo, w\xc3\xb6rld\n";
    cr_assert_eq(auditfs_note_sign(&note, &len, text, strlen(text), s2), 0);
    cr_assert_eq(auditfs_note_verify(&tl, note, len, v2), 0, "%s", auditfs_error_last());
    cr_assert_eq(tl, strlen(text));
    note[0] = 'H';
    cr_assert_eq(auditfs_note_verify(&tl, note, len, v2), AUDITFS_EVERIFY);

    free(note);
    free(vs);
    auditfs_verifier_free(v2);
    auditfs_verifier_free(v);
    auditfs_signer_free(s2);
    auditfs_signer_free(s);
}
