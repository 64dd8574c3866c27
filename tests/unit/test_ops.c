/*
 * Unit tests of the operator-facing library calls: progress callbacks in the options structs
 * (verify, index, view open, export), auditfs_ledger_status_get and the tlog-tiles export.
 */
#include "auditfs/export.h"
#include "auditfs/ledger.h"
#include "auditfs/merkle.h"
#include "auditfs/progress.h"
#include "auditfs/query.h"
#include "auditfs/status.h"
#include "auditfs/view.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[64], dir[80], out[80];
static auditfs_signer *key;
static auditfs_verifier *vkey;

static void
setup(void)
{
    snprintf(root, sizeof root, "/tmp/auditfs-ops-XXXXXX");
    cr_assert(mkdtemp(root));
    snprintf(dir, sizeof dir, "%s/l", root);
    snprintf(out, sizeof out, "%s/tlog", root);
    cr_assert_eq(auditfs_signer_generate(&key, "ops.test"), 0);
    cr_assert_eq(auditfs_signer_verifier(&vkey, key), 0);
    cr_assert_eq(auditfs_ledger_init(dir, key, NULL), 0, "%s", auditfs_error_last());
}

static void
teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    cr_assert_eq(system(cmd), 0);
    auditfs_signer_free(key);
    auditfs_verifier_free(vkey);
}

static void
append(unsigned n, unsigned base)
{
    auditfs_writer *w;
    uint64_t size;
    cr_assert_eq(auditfs_writer_open(&w, dir, key, NULL), 0, "%s", auditfs_error_last());
    for (unsigned i = 0; i < n; i++) {
        auditfs_entry e;
        char p[64];
        memset(&e, 0, sizeof e);
        strcpy(e.type, "log");
        strcpy(e.stream, "api");
        int len = snprintf(p, sizeof p, "{\"actor\":\"a%u\"}", base + i);
        e.payload = (const uint8_t *)p;
        e.payload_len = (size_t)len;
        cr_assert_eq(auditfs_writer_add(w, &e, NULL, 0, NULL), 0, "%s", auditfs_error_last());
    }
    cr_assert_eq(auditfs_writer_commit(w, &size), 0, "%s", auditfs_error_last());
    auditfs_writer_free(w);
}

/* records every report: what, and that done never decreases and never passes total */
typedef struct rec {
    char what[16];
    uint64_t calls, last_done, last_total;
    int bad;
} rec;

static void
record(void *ctx, const char *what, uint64_t done, uint64_t total)
{
    rec *r = ctx;
    if (r->calls && (done < r->last_done || strcmp(r->what, what) != 0))
        r->bad = 1;
    if (total && done > total)
        r->bad = 1;
    snprintf(r->what, sizeof r->what, "%s", what);
    r->calls++;
    r->last_done = done;
    r->last_total = total;
}

TestSuite(ops, .init = setup, .fini = teardown);

Test(ops, verify_progress_reaches_total)
{
    append(3000, 0);
    auditfs_ledger *l;
    auditfs_verify_report vr;
    rec r = {0};
    auditfs_verify_options o = {{record, &r}, NULL, 0};
    cr_assert_eq(auditfs_ledger_open(&l, dir), 0);
    cr_assert_eq(auditfs_ledger_verify_opts(&vr, l, vkey, &o), 0, "%s", auditfs_error_last());
    cr_assert_eq(vr.entries, 3000);
    cr_assert_str_eq(r.what, "verify");
    cr_assert_eq(r.last_done, 3000);
    cr_assert_eq(r.last_total, 3000);
    cr_assert_eq(r.calls, 2 + 1, "at 1024, 2048 and at the end: %llu calls",
                 (unsigned long long)r.calls);
    cr_assert_not(r.bad);
    /* without options nothing is reported, and the old entry point still works */
    rec none = {0};
    cr_assert_eq(auditfs_ledger_verify_opts(&vr, l, vkey, NULL), 0);
    cr_assert_eq(auditfs_ledger_verify(&vr, l, vkey, NULL, 0), 0);
    cr_assert_eq(none.calls, 0);
    auditfs_ledger_free(l);
}

Test(ops, index_and_view_progress)
{
    append(2100, 0);
    auditfs_ledger *l;
    rec r = {0};
    auditfs_index_options io = {{record, &r}, 1, NULL};
    cr_assert_eq(auditfs_ledger_open(&l, dir), 0);
    cr_assert_eq(auditfs_index_update_opts(l, &io), 0, "%s", auditfs_error_last());
    cr_assert_str_eq(r.what, "index");
    cr_assert_eq(r.last_done, 2100);
    cr_assert_not(r.bad);
    auditfs_ledger_free(l);

    rec v = {0};
    auditfs_view *view;
    auditfs_view_options vo = AUDITFS_VIEW_OPTIONS_INIT;
    vo.progress = (auditfs_progress){record, &v};
    cr_assert_eq(auditfs_view_open(&view, dir, vkey, &vo), 0, "%s", auditfs_error_last());
    cr_assert_str_eq(v.what, "open");
    cr_assert_eq(v.last_done, 2100);
    cr_assert_eq(v.last_total, 2100);
    cr_assert_not(v.bad);
    auditfs_view_free(view);
}

Test(ops, status)
{
    auditfs_ledger *l;
    auditfs_ledger_status st;
    cr_assert_eq(auditfs_ledger_open(&l, dir), 0);
    cr_assert_eq(auditfs_ledger_status_get(&st, l), 0, "%s", auditfs_error_last());
    cr_assert_eq(st.head.size, 0);
    cr_assert_eq(st.last_entry_us, 0);
    cr_assert_eq(st.commits, 1);
    cr_assert_eq(strlen(st.commit), 40);
    auditfs_ledger_free(l);

    append(10, 0);
    append(5, 10);
    cr_assert_eq(auditfs_ledger_open(&l, dir), 0);
    cr_assert_eq(auditfs_ledger_status_get(&st, l), 0);
    cr_assert_eq(st.head.size, 15);
    cr_assert_eq(st.commits, 3);
    cr_assert_gt(st.last_entry_us, 0);
    cr_assert_eq(st.index_present, 0, "no index built yet");
    cr_assert_eq(auditfs_index_update(l), 0);
    cr_assert_eq(auditfs_ledger_status_get(&st, l), 0);
    cr_assert_eq(st.index_present, 1);
    cr_assert_eq(st.index_size, 15);
    auditfs_ledger_free(l);
}

static uint8_t *
slurp(size_t *len, const char *path)
{
    uint8_t *d = NULL;
    cr_assert_eq(auditfs_read_file(&d, len, path, 1 << 24), 0, "%s", auditfs_error_last());
    return d;
}

Test(ops, export_bundles_hash_into_the_tiles)
{
    append(600, 0);
    auditfs_ledger *l;
    auditfs_export_report r;
    cr_assert_eq(auditfs_ledger_open(&l, dir), 0);
    cr_assert_eq(auditfs_export_tlog_tiles(&r, l, vkey, out, NULL), 0, "%s", auditfs_error_last());
    cr_assert_eq(r.head.size, 600);
    cr_assert_eq(r.bundles_written, 3);
    cr_assert_eq(r.entries_written, 600);
    cr_assert_eq(r.tiles_written, 3 + 1, "tile/0/000, 001, 002.p/88 and tile/1/000.p/2");
    /* every entry of every bundle hashes to the matching hash of the level-0 tile */
    const char *names[3][2] = {{"tile/entries/000", "tile/0/000"},
                               {"tile/entries/001", "tile/0/001"},
                               {"tile/entries/002.p/88", "tile/0/002.p/88"}};
    for (int b = 0; b < 3; b++) {
        char p1[160], p2[160];
        size_t blen, tlen, off = 0;
        snprintf(p1, sizeof p1, "%s/%s", out, names[b][0]);
        snprintf(p2, sizeof p2, "%s/%s", out, names[b][1]);
        uint8_t *bundle = slurp(&blen, p1), *tile = slurp(&tlen, p2);
        unsigned n = 0;
        while (off < blen) {
            cr_assert_leq(off + 2, blen);
            size_t len = (size_t)bundle[off] << 8 | bundle[off + 1];
            cr_assert_leq(off + 2 + len, blen);
            auditfs_hash h;
            auditfs_leaf_hash(&h, bundle + off + 2, len);
            cr_assert_lt((size_t)n * 32 + 32, tlen + 1);
            cr_assert_eq(memcmp(h.b, tile + n * 32, 32), 0, "bundle %d entry %u", b, n);
            off += 2 + len;
            n++;
        }
        cr_assert_eq((size_t)n * 32, tlen);
        free(bundle);
        free(tile);
    }
    auditfs_ledger_free(l);

    /* again after an append: only what changed */
    append(100, 600);
    cr_assert_eq(auditfs_ledger_open(&l, dir), 0);
    cr_assert_eq(auditfs_export_tlog_tiles(&r, l, vkey, out, NULL), 0, "%s", auditfs_error_last());
    cr_assert_eq(r.head.size, 700);
    cr_assert_eq(r.bundles_written, 1, "only tile/entries/002.p/188");
    cr_assert_eq(r.entries_written, 188);
    auditfs_ledger_free(l);
}

Test(ops, export_refuses_wrong_key_and_foreign_directory)
{
    append(300, 0);
    auditfs_signer *other;
    auditfs_verifier *ovk;
    auditfs_ledger *l;
    auditfs_export_report r;
    cr_assert_eq(auditfs_signer_generate(&other, "ops.test"), 0);
    cr_assert_eq(auditfs_signer_verifier(&ovk, other), 0);
    cr_assert_eq(auditfs_ledger_open(&l, dir), 0);
    cr_assert_neq(auditfs_export_tlog_tiles(&r, l, ovk, out, NULL), 0, "another key");
    cr_assert_eq(auditfs_export_tlog_tiles(&r, l, vkey, out, NULL), 0, "%s", auditfs_error_last());
    auditfs_ledger_free(l);
    /* a different ledger with the same origin must not be exported over this one */
    char dir2[96];
    snprintf(dir2, sizeof dir2, "%s/l2", root);
    cr_assert_eq(auditfs_ledger_init(dir2, key, NULL), 0);
    auditfs_writer *w;
    uint64_t size;
    cr_assert_eq(auditfs_writer_open(&w, dir2, key, NULL), 0);
    for (unsigned i = 0; i < 400; i++) {
        auditfs_entry e;
        memset(&e, 0, sizeof e);
        strcpy(e.type, "log");
        strcpy(e.stream, "other");
        e.payload = (const uint8_t *)"x";
        e.payload_len = 1;
        cr_assert_eq(auditfs_writer_add(w, &e, NULL, 0, NULL), 0);
    }
    cr_assert_eq(auditfs_writer_commit(w, &size), 0);
    auditfs_writer_free(w);
    cr_assert_eq(auditfs_ledger_open(&l, dir2), 0);
    cr_assert_eq(auditfs_export_tlog_tiles(&r, l, vkey, out, NULL), AUDITFS_EVERIFY);
    auditfs_ledger_free(l);
    auditfs_verifier_free(ovk);
    auditfs_signer_free(other);
}
