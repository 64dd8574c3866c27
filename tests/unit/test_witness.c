/*
 * tests/unit/test_witness.c - the library side of witnesses: the tlog-witness add-checkpoint
 * decision list (every status, state untouched unless 200), the witness state files, cosignatures
 * stored on refs/auditfs/cosignatures (main untouched, the view's ./checkpoint shows them), and
 * the tlog-policy parser and quorum evaluation.
 */
#include "auditfs/ledger.h"
#include "auditfs/policy.h"
#include "auditfs/view.h"
#include "auditfs/witness.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fx {
    char dir[64], ledger[96], state[96];
    auditfs_signer *log, *wit;
    auditfs_verifier *logv, *witv;
    auditfs_witness_state *st;
} fx;

static void
append(fx *f, unsigned n, unsigned seed)
{
    auditfs_writer *w = NULL;
    auditfs_writer_options o = AUDITFS_WRITER_OPTIONS_INIT;
    o.wait_for_lock = 1;
    cr_assert_eq(auditfs_writer_open(&w, f->ledger, f->log, &o), 0, "%s", auditfs_error_last());
    for (unsigned i = 0; i < n; i++) {
        char line[64];
        auditfs_entry e;
        memset(&e, 0, sizeof e);
        int len = snprintf(line, sizeof line, "{\"i\":%u,\"seed\":%u}", i, seed);
        snprintf(e.type, sizeof e.type, "log");
        snprintf(e.stream, sizeof e.stream, "api");
        e.payload = (const uint8_t *)line;
        e.payload_len = (size_t)len;
        cr_assert_eq(auditfs_writer_add(w, &e, NULL, 0, NULL), 0, "%s", auditfs_error_last());
    }
    cr_assert_eq(auditfs_writer_commit(w, NULL), 0, "%s", auditfs_error_last());
    auditfs_writer_free(w);
}

static void
setup(fx *f)
{
    memset(f, 0, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/auditfs-witness.XXXXXX");
    cr_assert_not_null(mkdtemp(f->dir));
    snprintf(f->ledger, sizeof f->ledger, "%s/ledger", f->dir);
    snprintf(f->state, sizeof f->state, "%s/state", f->dir);
    cr_assert_eq(auditfs_signer_generate(&f->log, "log.example"), 0);
    cr_assert_eq(auditfs_signer_verifier(&f->logv, f->log), 0);
    cr_assert_eq(auditfs_signer_generate(&f->wit, "witness.example"), 0);
    cr_assert_eq(auditfs_signer_verifier(&f->witv, f->wit), 0);
    cr_assert_eq(auditfs_ledger_init(f->ledger, f->log, "log.example"), 0, "%s",
                 auditfs_error_last());
    cr_assert_eq(auditfs_witness_state_open(&f->st, f->state, f->witv), 0, "%s",
                 auditfs_error_last());
}

static void
teardown(fx *f)
{
    char cmd[128];
    auditfs_witness_state_free(f->st);
    auditfs_signer_free(f->log);
    auditfs_signer_free(f->wit);
    auditfs_verifier_free(f->logv);
    auditfs_verifier_free(f->witv);
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    cr_assert_eq(system(cmd), 0);
}

/* The add-checkpoint body for the ledger's head, from `old` (proof from the ledger). */
static char *
body_for(fx *f, uint64_t old, size_t *len, char **note_out, size_t *note_len_out)
{
    auditfs_ledger *l = NULL;
    auditfs_checkpoint head;
    auditfs_consistency_proof p;
    char *note = NULL, *body = NULL;
    size_t nlen = 0;
    memset(&p, 0, sizeof p);
    cr_assert_eq(auditfs_ledger_open(&l, f->ledger), 0);
    cr_assert_eq(auditfs_ledger_head(&head, l), 0);
    cr_assert_eq(auditfs_ledger_checkpoint_note(&note, &nlen, l), 0);
    if (old > 0 && old < head.size)
        cr_assert_eq(auditfs_ledger_prove_consistency(&p, l, old, head.size), 0);
    cr_assert_eq(auditfs_witness_request_format(&body, len, old, &p, note, nlen), 0);
    auditfs_ledger_free(l);
    if (note_out) {
        *note_out = note;
        *note_len_out = nlen;
    } else {
        free(note);
    }
    return body;
}

static int
add(fx *f, const char *body, size_t len, auditfs_witness_result *r)
{
    auditfs_witness_log log = {"log.example", f->logv};
    int err = auditfs_witness_add_checkpoint(r, f->st, f->wit, &log, 1, body, len, 1800000000);
    cr_assert_eq(err, 0, "%s", auditfs_error_last());
    return r->status;
}

static char *
state_copy(fx *f, size_t *len)
{
    char *n = NULL;
    int err = auditfs_witness_state_get(&n, len, f->st, "log.example");
    if (err == AUDITFS_ENOTFOUND)
        return strdup("");
    cr_assert_eq(err, 0);
    return n;
}

Test(witness, add_checkpoint_statuses)
{
    fx f;
    setup(&f);
    auditfs_witness_result r;
    size_t len, slen0, slen1;
    append(&f, 10, 1);
    char *b10 = body_for(&f, 0, &len, NULL, NULL);
    cr_assert_eq(add(&f, b10, len, &r), 200, "%.*s", (int)r.body_len, r.body);
    cr_assert(strncmp(r.body, "\xe2\x80\x94 witness.example ", 20) == 0);
    auditfs_witness_result_release(&r);
    char *s0 = state_copy(&f, &slen0);
    cr_assert_gt(slen0, 0);

    append(&f, 5, 2);
    size_t l15;
    char *note15 = NULL;
    size_t note15_len = 0;
    char *b15 = body_for(&f, 10, &l15, &note15, &note15_len);
    /* hostile and stale requests: each gets its status and leaves the state alone */
    cr_assert_eq(add(&f, b10, len, &r), 409);
    cr_assert_eq(r.body_len, 3);
    cr_assert(memcmp(r.body, "10\n", 3) == 0);
    auditfs_witness_result_release(&r);
    char *bad = strdup(b15);
    bad[7] = bad[7] == 'A' ? 'B' : 'A'; /* first proof line, after "old 10\n" */
    cr_assert_eq(add(&f, bad, l15, &r), 422);
    auditfs_witness_result_release(&r);
    cr_assert_eq(add(&f, "old 10\n", 7, &r), 400);
    auditfs_witness_result_release(&r);
    char *big = strdup(b15);
    memcpy(big, "old 99", 6);
    cr_assert_eq(add(&f, big, l15, &r), 400);
    auditfs_witness_result_release(&r);
    char unknown[] = "old 0\n\nother.example\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n"
                     "\xe2\x80\x94 other.example AAAAAAAA\n";
    cr_assert_eq(add(&f, unknown, strlen(unknown), &r), 404);
    auditfs_witness_result_release(&r);
    char *forged = strdup(b15);
    char *sig = strstr(forged, "\xe2\x80\x94 log.example ") + strlen("\xe2\x80\x94 log.example ") + 8;
    *sig = *sig == 'A' ? 'B' : 'A';
    cr_assert_eq(add(&f, forged, l15, &r), 403);
    auditfs_witness_result_release(&r);
    s0 = (free(s0), state_copy(&f, &slen1));
    cr_assert_eq(slen1, slen0);

    /* the real extension: 200, state moves to 15; the same request again: 409 */
    cr_assert_eq(add(&f, b15, l15, &r), 200);
    auditfs_witness_result_release(&r);
    char *s1 = state_copy(&f, &slen1);
    cr_assert_eq(slen1, note15_len);
    cr_assert(memcmp(s1, note15, slen1) == 0, "the state holds the cosigned note");
    cr_assert_eq(add(&f, b15, l15, &r), 409);
    auditfs_witness_result_release(&r);
    /* same size, same root, empty proof: a fresh cosignature, no state change */
    char *same = NULL;
    size_t same_len;
    cr_assert_eq(auditfs_witness_request_format(&same, &same_len, 15, NULL, note15, note15_len),
                 0);
    cr_assert_eq(add(&f, same, same_len, &r), 200);
    cr_assert_not(r.fork);
    auditfs_witness_result_release(&r);
    free(same);
    free(s1);
    free(s0);
    free(forged);
    free(big);
    free(bad);
    free(note15);
    free(b15);
    free(b10);
    teardown(&f);
}

Test(witness, same_size_other_root_is_a_fork_with_evidence)
{
    fx f;
    setup(&f);
    auditfs_witness_result r;
    size_t len;
    append(&f, 3, 1);
    char *b = body_for(&f, 0, &len, NULL, NULL);
    cr_assert_eq(add(&f, b, len, &r), 200);
    auditfs_witness_result_release(&r);
    /* the log signs another checkpoint of size 3 */
    auditfs_checkpoint other = {.size = 3};
    strcpy(other.origin, "log.example");
    memset(other.root.b, 7, sizeof other.root.b);
    char *note = NULL, *body = NULL;
    size_t nlen, blen;
    cr_assert_eq(auditfs_checkpoint_sign(&note, &nlen, &other, f.log), 0);
    cr_assert_eq(auditfs_witness_request_format(&body, &blen, 3, NULL, note, nlen), 0);
    cr_assert_eq(add(&f, body, blen, &r), 409);
    cr_assert_eq(r.body_len, 2);
    cr_assert(memcmp(r.body, "3\n", 2) == 0);
    cr_assert(r.fork);
    cr_assert_not_null(r.evidence);
    char path[512];
    snprintf(path, sizeof path, "%s/offered.checkpoint", r.evidence);
    uint8_t *ev = NULL;
    size_t evlen = 0;
    cr_assert_eq(auditfs_read_file(&ev, &evlen, path, 65536), 0);
    cr_assert_eq(evlen, nlen);
    cr_assert(memcmp(ev, note, nlen) == 0);
    free(ev);
    auditfs_witness_result_release(&r);
    free(body);
    free(note);
    free(b);
    teardown(&f);
}

Test(witness, store_keeps_main_and_shows_in_view)
{
    fx f;
    setup(&f);
    append(&f, 20, 1);
    auditfs_ledger *l = NULL;
    char *note = NULL, *line = NULL, *shown = NULL;
    size_t nlen, llen, slen, tl, off;
    auditfs_checkpoint head;
    cr_assert_eq(auditfs_ledger_open(&l, f.ledger), 0);
    cr_assert_eq(auditfs_ledger_head(&head, l), 0);
    cr_assert_eq(auditfs_ledger_checkpoint_note(&note, &nlen, l), 0);
    cr_assert_eq(auditfs_note_split(&tl, &off, note, nlen), 0);
    cr_assert_eq(auditfs_cosig_store_get(&shown, &slen, l, head.size), AUDITFS_ENOTFOUND);
    cr_assert_eq(auditfs_cosig_sign(&line, &llen, note, tl, f.wit, 1800000000), 0);
    int changed = 0;
    cr_assert_eq(auditfs_cosig_store_add(&changed, l, head.size, line, llen, f.witv), 0, "%s",
                 auditfs_error_last());
    cr_assert_eq(changed, 1);
    cr_assert_eq(auditfs_cosig_store_add(&changed, l, head.size, line, llen, f.witv), 0);
    cr_assert_eq(changed, 0);
    /* a line over another size's checkpoint does not verify there */
    cr_assert_eq(auditfs_cosig_store_add(&changed, l, 0, line, llen, f.witv), AUDITFS_EVERIFY);
    cr_assert_eq(auditfs_cosig_store_checkpoint(&shown, &slen, l, UINT64_MAX), 0);
    cr_assert_eq(slen, nlen + llen);
    uint64_t t1, t2;
    cr_assert_eq(auditfs_cosig_verify(&t1, &t2, shown, slen, f.witv), 0);
    cr_assert_eq(t1, 1800000000);
    free(shown);
    uint64_t *sizes = NULL;
    size_t n = 0;
    cr_assert_eq(auditfs_cosig_store_sizes(&sizes, &n, l), 0);
    cr_assert_eq(n, 1);
    cr_assert_eq(sizes[0], 20);
    free(sizes);
    /* main did not move; the ledger still verifies */
    auditfs_checkpoint again;
    cr_assert_eq(auditfs_ledger_refresh(l), 0);
    cr_assert_eq(auditfs_ledger_head(&again, l), 0);
    cr_assert_eq(again.size, head.size);
    auditfs_verify_report rep;
    cr_assert_eq(auditfs_ledger_verify(&rep, l, f.logv, NULL, 0), 0, "%s", rep.reason);
    /* the view's ./checkpoint shows the cosignature */
    auditfs_view *v = NULL;
    auditfs_view_stat st;
    cr_assert_eq(auditfs_view_open(&v, f.ledger, f.logv, NULL), 0, "%s", auditfs_error_last());
    cr_assert_eq(auditfs_view_lookup_path(&st, v, "checkpoint"), 0);
    cr_assert_eq(st.size, nlen + llen);
    char buf[4096];
    size_t got = 0;
    cr_assert_eq(auditfs_view_read(v, st.id, 0, buf, sizeof buf, &got, NULL), 0);
    cr_assert_eq(got, nlen + llen);
    cr_assert(memcmp(buf + nlen, line, llen) == 0);
    auditfs_view_free(v);
    free(line);
    free(note);
    auditfs_ledger_free(l);
    teardown(&f);
}

Test(witness, policy_parse_and_quorum)
{
    static const char *w1 = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    static const char *w2 = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
    char text[1024];
    auditfs_policy *p = NULL;
    snprintf(text, sizeof text,
             "# comment\n\n  witness X1 %s https://x1.example/\n\twitness Y1 %s\n"
             "group X any X1\ngroup XY all X Y1\nquorum XY\n",
             w1, w2);
    cr_assert_eq(auditfs_policy_parse(&p, text, strlen(text)), 0, "%s", auditfs_error_last());
    cr_assert_eq(auditfs_policy_witness_count(p), 2);
    cr_assert_str_eq(auditfs_policy_witness_name(p, 0), "X1");
    cr_assert_str_eq(auditfs_policy_witness_url(p, 0), "https://x1.example/");
    int none[2] = {0, 0}, one[2] = {1, 0}, both[2] = {1, 1};
    cr_assert_not(auditfs_policy_satisfied(p, none));
    cr_assert_not(auditfs_policy_satisfied(p, one));
    cr_assert(auditfs_policy_satisfied(p, both));
    auditfs_policy_free(p);
    static const struct {
        const char *fmt;
        const char *why;
    } bad[] = {
        {"witness A %s\n", "no quorum"},
        {"witness A %s\nquorum B\n", "undefined quorum"},
        {"witness A %s\ngroup g 2 A\nquorum g\n", "k > n"},
        {"witness A %s\ngroup g 0 A\nquorum g\n", "k = 0"},
        {"witness A %s\ngroup g any A A\nquorum g\n", "member twice"},
        {"witness A %s\nwitness A %s\nquorum A\n", "duplicate name"},
        {"witness A %s\nquorum A\nquorum A\n", "two quorums"},
        {"witness none %s\nquorum none\n", "reserved name"},
        {"witness A %s\ngroup g any g\nquorum g\n", "self reference"},
        {"frobnicate %s\nquorum none\n", "unknown keyword"},
        {"witness A %s\x01\nquorum A\n", "control character"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(text, sizeof text, bad[i].fmt, w1, w2);
        cr_assert_neq(auditfs_policy_parse(&p, text, strlen(text)), 0, "%s accepted", bad[i].why);
    }
    snprintf(text, sizeof text, "witness A %s\nwitness B %s\nquorum A\n", w1, w1);
    cr_assert_eq(auditfs_policy_parse(&p, text, strlen(text)), AUDITFS_EFORMAT, "duplicate key");
    auditfs_verifier *ks[2] = {NULL, NULL};
    cr_assert_eq(auditfs_verifier_parse(&ks[0], w1, strlen(w1)), 0);
    cr_assert_eq(auditfs_verifier_parse(&ks[1], w2, strlen(w2)), 0);
    cr_assert_eq(auditfs_policy_threshold(&p, ks, 2, 1), 0, "%s", auditfs_error_last());
    cr_assert(auditfs_policy_satisfied(p, one));
    cr_assert_not(auditfs_policy_satisfied(p, none));
    cr_assert_str_eq(auditfs_policy_witness_name(p, 1), "EnochRoot");
    auditfs_policy_free(p);
    cr_assert_eq(auditfs_policy_threshold(&p, ks, 2, 3), AUDITFS_EINVAL);
    auditfs_verifier_free(ks[0]);
    auditfs_verifier_free(ks[1]);
}

/* The one quorum rule: a cosignature of a later checkpoint of the same history counts for an
 * earlier one (never the reverse), with --max-age applied to the note counted. */
Test(witness, quorum_counts_a_later_checkpoint)
{
    fx f;
    setup(&f);
    append(&f, 10, 1);
    append(&f, 5, 2);
    auditfs_ledger *l = NULL;
    char *note = NULL, *line = NULL;
    size_t nlen, llen, tl, off;
    cr_assert_eq(auditfs_ledger_open(&l, f.ledger), 0);
    cr_assert_eq(auditfs_ledger_checkpoint_note(&note, &nlen, l), 0);
    cr_assert_eq(auditfs_note_split(&tl, &off, note, nlen), 0);
    cr_assert_eq(auditfs_cosig_sign(&line, &llen, note, tl, f.wit, 1800000000), 0);
    cr_assert_eq(auditfs_cosig_store_add(NULL, l, 15, line, llen, f.witv), 0, "%s",
                 auditfs_error_last());
    auditfs_signer *other = NULL;
    auditfs_verifier *otherv = NULL;
    cr_assert_eq(auditfs_signer_generate(&other, "other.example"), 0);
    cr_assert_eq(auditfs_signer_verifier(&otherv, other), 0);
    auditfs_verifier *one[1] = {f.witv}, *two[2] = {f.witv, otherv};
    auditfs_policy *p1 = NULL, *p2 = NULL;
    cr_assert_eq(auditfs_policy_threshold(&p1, one, 1, 1), 0);
    cr_assert_eq(auditfs_policy_threshold(&p2, two, 2, 2), 0);
    int met = -1;
    uint64_t when[2] = {0}, at[2] = {0};
    /* size 10: the witness cosigned 15, which extends it */
    cr_assert_eq(auditfs_witness_quorum_sizes(&met, when, at, l, 10, p1, -1, 1800000000), 0);
    cr_assert_eq(met, 1);
    cr_assert_eq(at[0], 15);
    cr_assert_eq(when[0], 1800000000);
    cr_assert_eq(auditfs_witness_quorum_sizes(&met, when, at, l, 15, p1, -1, 1800000000), 0);
    cr_assert_eq(met, 1);
    /* --max-age: 100 s later with a 10 s limit the line is seen but does not count */
    cr_assert_eq(auditfs_witness_quorum_sizes(&met, when, at, l, 10, p1, 10, 1800000100), 0);
    cr_assert_eq(met, 0);
    cr_assert_eq(at[0], 0);
    cr_assert_eq(when[0], 1800000000);
    /* 2 of 2 with one witness silent: not met, the other counted through the later size */
    cr_assert_eq(auditfs_witness_quorum_sizes(&met, when, at, l, 10, p2, -1, 1800000000), 0);
    cr_assert_eq(met, 0);
    cr_assert_eq(at[0], 15);
    cr_assert_eq(at[1], 0);
    /* the other witness cosigns size 10: counts at 10, never at the later 15 */
    char *cp10 = NULL, *line10 = NULL;
    size_t cp10len, l10len;
    cr_assert_eq(auditfs_ledger_checkpoint_at(&cp10, &cp10len, l, 10), 0);
    cr_assert_eq(auditfs_note_split(&tl, &off, cp10, cp10len), 0);
    cr_assert_eq(auditfs_cosig_sign(&line10, &l10len, cp10, tl, other, 1800000000), 0);
    cr_assert_eq(auditfs_cosig_store_add(NULL, l, 10, line10, l10len, otherv), 0, "%s",
                 auditfs_error_last());
    cr_assert_eq(auditfs_witness_quorum_sizes(&met, when, at, l, 10, p2, -1, 1800000000), 0);
    cr_assert_eq(met, 1);
    cr_assert_eq(at[1], 10);
    cr_assert_eq(auditfs_witness_quorum_sizes(&met, when, at, l, 15, p2, -1, 1800000000), 0);
    cr_assert_eq(met, 0);
    cr_assert_eq(at[1], 0);
    free(cp10);
    free(line10);
    auditfs_policy_free(p1);
    auditfs_policy_free(p2);
    auditfs_verifier_free(otherv);
    auditfs_signer_free(other);
    free(line);
    free(note);
    auditfs_ledger_free(l);
    teardown(&f);
}
