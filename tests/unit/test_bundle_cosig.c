/*
 * Unit tests of the cosignatures and receipts an incident bundle carries: the writer puts the
 * head checkpoint with its cosignature lines and every stored cosigned checkpoint up to the
 * bundle's size in ledgers/<name>/cosignatures/<size>.checkpoint; the layout check accepts
 * exactly those (and receipts.md/jsonl) and refuses anything else; verify_ledger checks their
 * log signatures with the given key; verify_witnesses checks the witnesses' lines.
 */
#include "auditfs/bundle.h"
#include "auditfs/ledger.h"
#include "auditfs/witness.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct fx {
    char dir[64], ledger[96], bundle[96];
    auditfs_signer *log, *wit, *evil;
    auditfs_verifier *logv, *witv;
    uint64_t size; /* the bundle's tree size */
} fx;

static void
append(fx *f, unsigned n)
{
    auditfs_writer *w = NULL;
    auditfs_writer_options o = AUDITFS_WRITER_OPTIONS_INIT;
    o.wait_for_lock = 1;
    cr_assert_eq(auditfs_writer_open(&w, f->ledger, f->log, &o), 0, "%s", auditfs_error_last());
    for (unsigned i = 0; i < n; i++) {
        char line[64];
        auditfs_entry e;
        memset(&e, 0, sizeof e);
        int len = snprintf(line, sizeof line, "{\"i\":%u}", i);
        snprintf(e.type, sizeof e.type, "log");
        snprintf(e.stream, sizeof e.stream, "api");
        e.payload = (const uint8_t *)line;
        e.payload_len = (size_t)len;
        cr_assert_eq(auditfs_writer_add(w, &e, NULL, 0, NULL), 0, "%s", auditfs_error_last());
    }
    cr_assert_eq(auditfs_writer_commit(w, NULL), 0, "%s", auditfs_error_last());
    auditfs_writer_free(w);
}

/* the witness cosigns the ledger's head and the cosignature is stored with the ledger */
static void
cosign_head(fx *f)
{
    auditfs_ledger *l = NULL;
    auditfs_checkpoint head;
    char *note = NULL, *line = NULL;
    size_t nlen, llen, tl, off;
    cr_assert_eq(auditfs_ledger_open(&l, f->ledger), 0);
    cr_assert_eq(auditfs_ledger_head(&head, l), 0);
    cr_assert_eq(auditfs_ledger_checkpoint_note(&note, &nlen, l), 0);
    cr_assert_eq(auditfs_note_split(&tl, &off, note, nlen), 0);
    cr_assert_eq(auditfs_cosig_sign(&line, &llen, note, tl, f->wit, 1800000000 + head.size), 0);
    cr_assert_eq(auditfs_cosig_store_add(NULL, l, head.size, line, llen, f->witv), 0, "%s",
                 auditfs_error_last());
    free(note);
    free(line);
    auditfs_ledger_free(l);
}

/* A ledger cosigned at sizes 10 and 15, head 18, and a bundle of it with receipts. */
static void
setup(fx *f)
{
    memset(f, 0, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/auditfs-bcosig.XXXXXX");
    cr_assert_not_null(mkdtemp(f->dir));
    char state[128];
    snprintf(state, sizeof state, "%s/state", f->dir);
    setenv("AUDITFS_STATE", state, 1);
    snprintf(f->ledger, sizeof f->ledger, "%s/ledger", f->dir);
    snprintf(f->bundle, sizeof f->bundle, "%s/b", f->dir);
    cr_assert_eq(auditfs_signer_generate(&f->log, "log.example"), 0);
    cr_assert_eq(auditfs_signer_verifier(&f->logv, f->log), 0);
    cr_assert_eq(auditfs_signer_generate(&f->wit, "witness.example"), 0);
    cr_assert_eq(auditfs_signer_verifier(&f->witv, f->wit), 0);
    cr_assert_eq(auditfs_signer_generate(&f->evil, "log.example"), 0);
    cr_assert_eq(auditfs_ledger_init(f->ledger, f->log, "log.example"), 0, "%s",
                 auditfs_error_last());
    append(f, 10);
    cosign_head(f);
    append(f, 5);
    cosign_head(f);
    append(f, 3);
    f->size = 18;

    auditfs_ledger *l = NULL;
    cr_assert_eq(auditfs_ledger_open(&l, f->ledger), 0);
    const auditfs_verifier *w[1] = {f->witv};
    auditfs_bundle_spec spec = AUDITFS_BUNDLE_SPEC_INIT;
    spec.since = "2000-01-01";
    spec.until = "2100-01-01";
    spec.witnesses = w;
    spec.nwitnesses = 1;
    auditfs_bundle_source src = {"acme", l, f->logv};
    cr_assert_eq(auditfs_bundle_create(f->bundle, &spec, &src, 1), 0, "%s", auditfs_error_last());
    auditfs_ledger_free(l);
}

static void
teardown(fx *f)
{
    char cmd[128];
    auditfs_signer_free(f->log);
    auditfs_signer_free(f->wit);
    auditfs_signer_free(f->evil);
    auditfs_verifier_free(f->logv);
    auditfs_verifier_free(f->witv);
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    cr_assert_eq(system(cmd), 0);
}

typedef struct seen {
    int fails;
    char last[4096];
} seen;

static void
collect(void *ctx, auditfs_bundle_finding kind, const char *msg)
{
    seen *s = ctx;
    if (kind == AUDITFS_BUNDLE_FAIL) {
        s->fails++;
        size_t n = strlen(s->last);
        snprintf(s->last + n, sizeof s->last - n, "%s\n", msg);
    }
}

static char *
slurp(const char *dir, const char *rel, size_t *len)
{
    char path[400];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    FILE *fp = fopen(path, "rb");
    cr_assert_not_null(fp, "%s", path);
    char *buf = calloc(1, 1 << 16);
    *len = fread(buf, 1, (1 << 16) - 1, fp);
    fclose(fp);
    return buf;
}

static void
put(const char *dir, const char *rel, const char *data, size_t len)
{
    char path[400];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    FILE *fp = fopen(path, "wb");
    cr_assert_not_null(fp, "%s", path);
    cr_assert_eq(fwrite(data, 1, len, fp), len);
    fclose(fp);
}

/* a checkpoint of the ledger's origin, signed by s */
static char *
signed_checkpoint(const auditfs_signer *s, uint64_t size, uint8_t root_byte, size_t *len)
{
    auditfs_checkpoint c;
    char *note = NULL;
    memset(&c, 0, sizeof c);
    snprintf(c.origin, sizeof c.origin, "log.example");
    c.size = size;
    memset(c.root.b, root_byte, sizeof c.root.b);
    cr_assert_eq(auditfs_checkpoint_sign(&note, len, &c, s), 0);
    return note;
}

Test(bundle_cosig, written_and_accepted)
{
    fx f;
    setup(&f);
    seen s = {0, ""};
    auditfs_bundle *b = NULL;
    size_t len;
    char *head = slurp(f.bundle, "ledgers/acme/checkpoint", &len);
    cr_assert(strstr(head, "log.example\n18\n"), "%s", head);
    free(head);
    char *c10 = slurp(f.bundle, "ledgers/acme/cosignatures/10.checkpoint", &len);
    cr_assert(strstr(c10, "\n\xe2\x80\x94 witness.example "), "the cosignature line: %s", c10);
    free(c10);
    free(slurp(f.bundle, "ledgers/acme/cosignatures/15.checkpoint", &len));
    char *rj = slurp(f.bundle, "receipts.jsonl", &len);
    cr_assert(len == 0 || strstr(rj, "\"ledger\":\"acme\""), "%s", rj);
    free(rj);
    free(slurp(f.bundle, "receipts.md", &len));
    cr_assert_eq(auditfs_bundle_check_manifest(f.bundle, collect, &s), 0, "%s", s.last);
    cr_assert_eq(auditfs_bundle_load(&b, f.bundle), 0, "%s", auditfs_error_last());
    cr_assert_eq(auditfs_bundle_check_layout(b, collect, &s), 0, "%s", s.last);
    cr_assert_eq(auditfs_bundle_verify_ledger(b, 0, f.logv, collect, &s), 0, "%s", s.last);
    const auditfs_verifier *w[1] = {f.witv};
    cr_assert_eq(auditfs_bundle_verify_witnesses(b, 0, w, 1, collect, &s), 0, "%s", s.last);
    auditfs_bundle_free(b);
    teardown(&f);
}

/* one hostile file added to the bundle: the layout check must refuse it */
static void
layout_refuses(fx *f, const char *rel, const char *data, size_t len, const char *why)
{
    seen s = {0, ""};
    auditfs_bundle *b = NULL;
    put(f->bundle, rel, data, len);
    cr_assert_eq(auditfs_bundle_load(&b, f->bundle), 0, "%s", auditfs_error_last());
    cr_assert_eq(auditfs_bundle_check_layout(b, collect, &s), AUDITFS_EVERIFY, "%s accepted",
                 rel);
    cr_assert(strstr(s.last, why), "%s: wanted '%s' in: %s", rel, why, s.last);
    auditfs_bundle_free(b);
    char path[400];
    snprintf(path, sizeof path, "%s/%s", f->bundle, rel);
    cr_assert_eq(unlink(path), 0);
}

Test(bundle_cosig, extra_or_misnamed_files_are_refused)
{
    fx f;
    setup(&f);
    size_t len;
    char *c10 = slurp(f.bundle, "ledgers/acme/cosignatures/10.checkpoint", &len);
    layout_refuses(&f, "ledgers/acme/cosignatures/notes.txt", "x", 1, "not part of a bundle");
    layout_refuses(&f, "ledgers/acme/cosignatures/010.checkpoint", c10, len,
                   "not part of a bundle");
    layout_refuses(&f, "ledgers/acme/cosignatures/12.checkpoint", c10, len,
                   "another size than its name");
    layout_refuses(&f, "ledgers/acme/cosignatures/12.checkpoint", "not a note\n", 11,
                   "not a checkpoint note");
    layout_refuses(&f, "receipts.txt", "x", 1, "not part of a bundle");
    free(c10);
    /* beyond the bundle's size, even if genuinely signed */
    char *n = signed_checkpoint(f.log, 19, 1, &len);
    layout_refuses(&f, "ledgers/acme/cosignatures/19.checkpoint", n, len,
                   "beyond the bundle's checkpoint");
    free(n);
    /* the bundle's size with another root: an equivocation signed by the log key */
    n = signed_checkpoint(f.log, f.size, 7, &len);
    layout_refuses(&f, "ledgers/acme/cosignatures/18.checkpoint", n, len, "another root");
    free(n);
    /* a checkpoint of another log */
    auditfs_checkpoint c = {"other.example", 12, {{0}}};
    cr_assert_eq(auditfs_checkpoint_sign(&n, &len, &c, f.log), 0);
    layout_refuses(&f, "ledgers/acme/cosignatures/12.checkpoint", n, len, "another log");
    free(n);
    teardown(&f);
}

Test(bundle_cosig, forged_cosigned_checkpoint_fails_verification)
{
    fx f;
    setup(&f);
    seen s = {0, ""};
    auditfs_bundle *b = NULL;
    size_t len;
    /* well-formed, of a size the bundle covers, but signed by a forger's key of the same name:
     * the layout accepts the shape, the key given to verify_ledger refuses it */
    char *n = signed_checkpoint(f.evil, 12, 3, &len);
    put(f.bundle, "ledgers/acme/cosignatures/12.checkpoint", n, len);
    free(n);
    cr_assert_eq(auditfs_bundle_load(&b, f.bundle), 0, "%s", auditfs_error_last());
    cr_assert_eq(auditfs_bundle_check_layout(b, collect, &s), 0, "%s", s.last);
    cr_assert_eq(auditfs_bundle_verify_ledger(b, 0, f.logv, collect, &s), AUDITFS_EVERIFY);
    cr_assert(strstr(s.last, "cosignatures/12.checkpoint: not signed by the ledger's key"), "%s",
              s.last);
    auditfs_bundle_free(b);
    teardown(&f);
}

Test(bundle_cosig, forged_cosignature_line_fails_with_the_witness_key)
{
    fx f;
    setup(&f);
    seen s = {0, ""};
    auditfs_bundle *b = NULL;
    size_t len;
    char *c10 = slurp(f.bundle, "ledgers/acme/cosignatures/10.checkpoint", &len);
    /* flip one base64 character of the witness's signature (inside its 64 signature bytes) */
    char *wl = strstr(c10, "\xe2\x80\x94 witness.example ");
    cr_assert_not_null(wl);
    char *nl = strchr(wl, '\n');
    nl[-5] = nl[-5] == 'A' ? 'B' : 'A';
    put(f.bundle, "ledgers/acme/cosignatures/10.checkpoint", c10, len);
    free(c10);
    cr_assert_eq(auditfs_bundle_load(&b, f.bundle), 0, "%s", auditfs_error_last());
    cr_assert_eq(auditfs_bundle_check_layout(b, collect, &s), 0, "%s", s.last);
    /* the log signature still holds: lines of unknown keys are carried */
    cr_assert_eq(auditfs_bundle_verify_ledger(b, 0, f.logv, collect, &s), 0, "%s", s.last);
    const auditfs_verifier *w[1] = {f.witv};
    cr_assert_eq(auditfs_bundle_verify_witnesses(b, 0, w, 1, collect, &s), AUDITFS_EVERIFY);
    cr_assert(strstr(s.last, "cosignatures/10.checkpoint: a cosignature by witness.example"),
              "%s", s.last);
    auditfs_bundle_free(b);
    teardown(&f);
}
