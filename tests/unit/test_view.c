/* Unit tests of the FUSE-free view: tree, exact sizes, reads, follow, damage. */
#include "auditfs/ledger.h"
#include "auditfs/view.h"
#include "view_seam.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct fixture {
    char dir[64];
    char ledger[96];
    auditfs_signer *s;
    auditfs_verifier *v;
    char *api;  /* expected streams/api/all.jsonl */
    size_t api_len;
    char *auth; /* expected streams/auth/all.jsonl */
    size_t auth_len;
} fixture;

static void
append_lines(fixture *f, const char *stream, const char *tenant, unsigned n, unsigned seed,
             char **expect, size_t *expect_len)
{
    auditfs_writer *w = NULL;
    auditfs_writer_options o = AUDITFS_WRITER_OPTIONS_INIT;
    o.batch_bytes = 20000;
    o.wait_for_lock = 1;
    cr_assert_eq(auditfs_writer_open(&w, f->ledger, f->s, &o), 0, "%s", auditfs_error_last());
    for (unsigned i = 0; i < n; i++) {
        char line[128];
        auditfs_entry e;
        uint64_t seq;
        int len = snprintf(line, sizeof line, "{\"i\":%u,\"seed\":%u,\"stream\":\"%s\"}", i, seed,
                           stream);
        memset(&e, 0, sizeof e);
        snprintf(e.type, sizeof e.type, "log");
        snprintf(e.stream, sizeof e.stream, "%s", stream);
        if (tenant)
            snprintf(e.tenant, sizeof e.tenant, "%s", tenant);
        e.payload = (const uint8_t *)line;
        e.payload_len = (size_t)len;
        cr_assert_eq(auditfs_writer_add(w, &e, NULL, 0, &seq), 0, "%s", auditfs_error_last());
        if (auditfs_writer_pending_bytes(w) > 20000)
            cr_assert_eq(auditfs_writer_commit(w, NULL), 0, "%s", auditfs_error_last());
        *expect = realloc(*expect, *expect_len + (size_t)len + 2);
        memcpy(*expect + *expect_len, line, (size_t)len);
        (*expect)[*expect_len + (size_t)len] = '\n';
        *expect_len += (size_t)len + 1;
    }
    cr_assert_eq(auditfs_writer_commit(w, NULL), 0, "%s", auditfs_error_last());
    auditfs_writer_free(w);
}

static void
setup(fixture *f)
{
    memset(f, 0, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/auditfs-view.XXXXXX");
    cr_assert_not_null(mkdtemp(f->dir));
    snprintf(f->ledger, sizeof f->ledger, "%s/ledger", f->dir);
    cr_assert_eq(auditfs_signer_generate(&f->s, "view.example"), 0);
    cr_assert_eq(auditfs_signer_verifier(&f->v, f->s), 0);
    cr_assert_eq(auditfs_ledger_init(f->ledger, f->s, "view.example"), 0, "%s",
                 auditfs_error_last());
    append_lines(f, "api", "acme", 1500, 1, &f->api, &f->api_len);
    append_lines(f, "auth", NULL, 300, 2, &f->auth, &f->auth_len);
}

static void
teardown(fixture *f)
{
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    cr_expect_eq(system(cmd), 0);
    auditfs_signer_free(f->s);
    auditfs_verifier_free(f->v);
    free(f->api);
    free(f->auth);
}

static char *
read_all(auditfs_view *v, const char *path, size_t *len, int *err)
{
    auditfs_view_stat st;
    size_t got = 0;
    *err = auditfs_view_lookup_path(&st, v, path);
    if (*err)
        return NULL;
    char *buf = malloc(st.size + 1);
    *err = auditfs_view_read(v, st.id, 0, buf, st.size, &got, NULL);
    *len = got;
    return buf;
}

static int
collect(void *payload, const char *name, const auditfs_view_stat *st, uint64_t next)
{
    (void)st;
    (void)next;
    strcat(payload, name);
    strcat(payload, " ");
    return 0;
}

Test(view, tree_sizes_and_reads)
{
    fixture f;
    auditfs_view *v = NULL;
    auditfs_view_stat st;
    char names[512] = "";
    size_t len;
    int err;
    setup(&f);
    cr_assert_eq(auditfs_view_open(&v, f.ledger, f.v, NULL), 0, "%s", auditfs_error_last());
    cr_assert_eq(auditfs_view_readdir(v, AUDITFS_VIEW_ROOT, 0, collect, names), 0);
    cr_expect_str_eq(names, "README by-event-day checkpoint documents entries key.pub notices "
                            "proofs query streams tenants ");

    /* stat is exact, without reading anything */
    cr_assert_eq(auditfs_view_lookup_path(&st, v, "streams/api/all.jsonl"), 0);
    cr_expect_eq(st.size, f.api_len);
    cr_assert_eq(auditfs_view_lookup_path(&st, v, "tenants/acme/api/all.jsonl"), 0);
    cr_expect_eq(st.size, f.api_len);
    cr_expect_eq(auditfs_view_lookup_path(&st, v, "tenants/acme/auth"), AUDITFS_ENOTFOUND);

    char *got = read_all(v, "streams/api/all.jsonl", &len, &err);
    cr_assert_eq(err, 0, "%s", auditfs_error_last());
    cr_assert_eq(len, f.api_len);
    cr_expect_eq(memcmp(got, f.api, len), 0);
    free(got);
    got = read_all(v, "streams/auth/all.jsonl", &len, &err);
    cr_assert_eq(err, 0);
    cr_expect(len == f.auth_len && memcmp(got, f.auth, len) == 0);
    free(got);

    /* reads at odd offsets and across frames */
    cr_assert_eq(auditfs_view_lookup_path(&st, v, "streams/api/all.jsonl"), 0);
    for (uint64_t off = 0; off < f.api_len; off += 7919) {
        char buf[5000];
        size_t n;
        cr_assert_eq(auditfs_view_read(v, st.id, off, buf, sizeof buf, &n, NULL), 0);
        size_t want = f.api_len - off < sizeof buf ? f.api_len - off : sizeof buf;
        cr_assert_eq(n, want);
        cr_assert_eq(memcmp(buf, f.api + off, n), 0, "offset %llu", (unsigned long long)off);
    }
    /* reading at or past the end is empty */
    char b1[8];
    size_t n1 = 99;
    cr_expect_eq(auditfs_view_read(v, st.id, f.api_len, b1, sizeof b1, &n1, NULL), 0);
    cr_expect_eq(n1, 0);

    /* entries and proofs */
    cr_assert_eq(auditfs_view_lookup_path(&st, v, "entries/1799"), 0);
    cr_expect_eq(auditfs_view_lookup_path(&st, v, "entries/1800"), AUDITFS_ENOTFOUND);
    cr_expect_eq(auditfs_view_lookup_path(&st, v, "entries/01"), AUDITFS_ENOTFOUND);
    got = read_all(v, "proofs/5.json", &len, &err);
    cr_assert_eq(err, 0, "%s", auditfs_error_last());
    cr_expect(len > 20 && got[len - 1] == '\n');
    free(got);

    auditfs_view_xattr x[AUDITFS_VIEW_XATTR_MAX];
    size_t nx;
    cr_assert_eq(auditfs_view_lookup_path(&st, v, "streams/auth/all.jsonl"), 0);
    cr_assert_eq(auditfs_view_xattrs(x, &nx, v, st.id), 0);
    cr_assert(nx >= 4);
    cr_expect_str_eq(x[0].name, "user.auditfs.first_seq");
    cr_expect_str_eq(x[0].value, "1500");
    cr_expect_str_eq(x[1].value, "1799");

    /* nothing new: follow is a no-op */
    cr_expect_eq(auditfs_view_follow(v, NULL, NULL), 0);
    auditfs_view_free(v);
    teardown(&f);
}

Test(view, follow_extends)
{
    fixture f;
    auditfs_view *v = NULL;
    auditfs_view_stat st;
    uint64_t *changed = NULL;
    size_t nchanged = 0, len;
    int err;
    setup(&f);
    cr_assert_eq(auditfs_view_open(&v, f.ledger, f.v, NULL), 0, "%s", auditfs_error_last());
    append_lines(&f, "api", "acme", 200, 3, &f.api, &f.api_len);
    cr_assert_eq(auditfs_view_follow(v, &changed, &nchanged), 1, "%s", auditfs_error_last());
    cr_expect(nchanged > 0);
    free(changed);
    cr_assert_eq(auditfs_view_lookup_path(&st, v, "streams/api/all.jsonl"), 0);
    cr_expect_eq(st.size, f.api_len);
    char *got = read_all(v, "streams/api/all.jsonl", &len, &err);
    cr_assert_eq(err, 0, "%s", auditfs_error_last());
    cr_expect(len == f.api_len && memcmp(got, f.api, len) == 0);
    free(got);
    auditfs_checkpoint cp;
    auditfs_view_checkpoint(&cp, v);
    cr_expect_eq(cp.size, 2000);
    auditfs_view_free(v);
    teardown(&f);
}

Test(view, query_files)
{
    fixture f;
    auditfs_view *v = NULL;
    auditfs_view_stat st, st2;
    uint64_t *changed = NULL;
    size_t nchanged = 0, len;
    char names[512] = "";
    int err;
    setup(&f);
    cr_assert_eq(auditfs_view_open(&v, f.ledger, f.v, NULL), 0, "%s", auditfs_error_last());
    /* a query over one stream is that stream's all.jsonl */
    cr_assert_eq(auditfs_view_lookup_path(&st, v, "query/_stream=api.jsonl"), 0, "%s",
                 auditfs_error_last());
    cr_expect_eq(st.size, f.api_len);
    cr_expect(st.flags & AUDITFS_VIEW_VOLATILE);
    char *got = read_all(v, "query/_stream=api.jsonl", &len, &err);
    cr_assert_eq(err, 0, "%s", auditfs_error_last());
    cr_expect(len == f.api_len && memcmp(got, f.api, len) == 0);
    free(got);
    /* the same name is the same node; ',' and '&' both separate terms */
    cr_assert_eq(auditfs_view_lookup_path(&st2, v, "query/_stream=api.jsonl"), 0);
    cr_expect_eq(st2.id, st.id);
    cr_assert_eq(auditfs_view_lookup_path(&st, v, "query/_stream=auth,i=7.jsonl"), 0);
    cr_assert_eq(auditfs_view_lookup_path(&st2, v, "query/_stream=auth&i=7.jsonl"), 0);
    cr_expect_eq(st.size, st2.size);
    cr_expect_eq(st.size, strlen("{\"i\":7,\"seed\":2,\"stream\":\"auth\"}\n"));
    /* a malformed expression names the bad term; other names do not exist */
    cr_expect_eq(auditfs_view_lookup_path(&st, v, "query/i=1,_nope=2.jsonl"), AUDITFS_EFORMAT);
    cr_expect(strstr(auditfs_error_last(), "term 2 '_nope=2'") != NULL, "%s",
              auditfs_error_last());
    cr_expect_eq(auditfs_view_lookup_path(&st, v, "query/i=1"), AUDITFS_ENOTFOUND);
    /* the listing has the README and the queries used */
    names[0] = 0;
    cr_assert_eq(auditfs_view_lookup_path(&st, v, "query"), 0);
    cr_assert_eq(auditfs_view_readdir(v, st.id, 0, collect, names), 0);
    cr_expect_str_eq(names, "README _stream=api.jsonl _stream=auth,i=7.jsonl "
                            "_stream=auth&i=7.jsonl ");
    /* after --follow the query stands for the new checkpoint */
    append_lines(&f, "api", "acme", 200, 3, &f.api, &f.api_len);
    cr_assert_eq(auditfs_view_follow(v, &changed, &nchanged), 1, "%s", auditfs_error_last());
    cr_assert_eq(auditfs_view_lookup_path(&st2, v, "query/_stream=api.jsonl"), 0);
    int listed = 0;
    for (size_t i = 0; i < nchanged; i++)
        listed |= changed[i] == st2.id;
    cr_expect(listed, "the query file is among the changed nodes");
    free(changed);
    cr_expect_eq(st2.size, f.api_len);
    got = read_all(v, "query/_stream=api.jsonl", &len, &err);
    cr_assert_eq(err, 0, "%s", auditfs_error_last());
    cr_expect(len == f.api_len && memcmp(got, f.api, len) == 0);
    free(got);
    auditfs_view_free(v);
    teardown(&f);
}

Test(view, damage_is_isolated)
{
    fixture f;
    auditfs_view *v = NULL;
    auditfs_view_stat st;
    char cmd[1024], buf[256];
    size_t n;
    int first = 0;
    setup(&f);
    cr_assert_eq(auditfs_view_open(&v, f.ledger, f.v, NULL), 0, "%s", auditfs_error_last());
    /* corrupt the first segment's stored bytes in place (loose, or in its batch's pack) */
    snprintf(cmd, sizeof cmd,
             "cd '%s' && o=$(git rev-parse main:seg/000/000/000/000) && "
             "f=objects/$(echo $o | cut -c1-2)/$(echo $o | cut -c3-) && off=40 && "
             "if [ ! -f $f ]; then for i in objects/pack/pack-*.idx; do "
             "p=$(git show-index < $i | awk -v o=$o '$2 == o { print $1 + 40 }'); "
             "if [ -n \"$p\" ]; then f=${i%%.idx}.pack; off=$p; fi; done; fi && "
             "chmod u+w $f && printf 'XXXXXXXX' | dd of=$f bs=1 seek=$off conv=notrunc 2>/dev/null",
             f.ledger);
    cr_assert_eq(system(cmd), 0);
    cr_assert_eq(auditfs_view_lookup_path(&st, v, "streams/api/all.jsonl"), 0);
    cr_expect_eq(auditfs_view_read(v, st.id, 0, buf, sizeof buf, &n, &first), AUDITFS_EVERIFY);
    cr_expect_eq(first, 1);
    cr_expect(strstr(auditfs_error_last(), "seg/000/000/000/000") != NULL, "%s",
              auditfs_error_last());
    cr_expect_eq(n, 0);
    cr_expect_eq(auditfs_view_read(v, st.id, 10, buf, sizeof buf, &n, &first), AUDITFS_EVERIFY);
    cr_expect_eq(first, 0, "a damaged frame is reported once");
    /* the other stream lives in other segments */
    cr_assert_eq(auditfs_view_lookup_path(&st, v, "streams/auth/all.jsonl"), 0);
    cr_expect_eq(auditfs_view_read(v, st.id, 0, buf, sizeof buf, &n, NULL), 0);
    cr_expect_eq(memcmp(buf, f.auth, n), 0);
    auditfs_view_free(v);
    /* and a new view refuses the damaged ledger */
    cr_expect_eq(auditfs_view_open(&v, f.ledger, f.v, NULL), AUDITFS_EVERIFY);
    teardown(&f);
}

Test(view, wrong_key_refused)
{
    fixture f;
    auditfs_view *v = NULL;
    auditfs_signer *other = NULL;
    auditfs_verifier *ov = NULL;
    setup(&f);
    cr_assert_eq(auditfs_signer_generate(&other, "view.example"), 0);
    cr_assert_eq(auditfs_signer_verifier(&ov, other), 0);
    cr_expect_eq(auditfs_view_open(&v, f.ledger, ov, NULL), AUDITFS_EVERIFY);
    cr_expect_null(v);
    auditfs_verifier_free(ov);
    auditfs_signer_free(other);
    teardown(&f);
}

/* The read path's frame-digest check, through a seam (ledger/view_seam.h): a frame whose leaf
 * hashes no longer match the ones verified at pin time is refused, named once, and isolated. */
Test(view, frame_digest_checked_on_read)
{
    fixture f;
    auditfs_view *v = NULL;
    auditfs_view_stat st;
    char buf[256];
    size_t n = 0;
    int first = 0;
    setup(&f);
    cr_assert_eq(auditfs_view_open(&v, f.ledger, f.v, NULL), 0, "%s", auditfs_error_last());
    uint8_t *d = afs_view_frame_digest(v, 0);
    cr_assert_not_null(d);
    cr_expect_null(afs_view_frame_digest(v, 1800), "no frame holds entry 1800");
    d[31] ^= 1; /* frame 0 now differs from what was verified */
    cr_assert_eq(auditfs_view_lookup_path(&st, v, "streams/api/all.jsonl"), 0);
    cr_expect_eq(auditfs_view_read(v, st.id, 0, buf, sizeof buf, &n, &first), AUDITFS_EVERIFY);
    cr_expect_eq(first, 1);
    cr_expect_eq(n, 0, "no byte of an unverified frame is served");
    cr_expect(strstr(auditfs_error_last(), "entries 0..") != NULL, "%s", auditfs_error_last());
    cr_expect_eq(auditfs_view_read(v, st.id, 0, buf, sizeof buf, &n, &first), AUDITFS_EVERIFY);
    cr_expect_eq(first, 0, "a damaged frame is reported once");
    /* the other stream's frames are untouched */
    cr_assert_eq(auditfs_view_lookup_path(&st, v, "streams/auth/all.jsonl"), 0);
    cr_expect_eq(auditfs_view_read(v, st.id, 0, buf, sizeof buf, &n, NULL), 0);
    cr_expect_eq(memcmp(buf, f.auth, n), 0);
    auditfs_view_free(v);
    teardown(&f);
}
