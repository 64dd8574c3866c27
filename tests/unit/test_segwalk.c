/* Unit tests of the one segment walk (ledger/segwalk.c) that verify and the mount share. */
#include "auditfs/ledger.h"
#include "auditfs/merkle.h"
#include "segwalk.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENTRIES 1200

typedef struct fixture {
    char dir[64];
    char ledger[96];
    auditfs_signer *s;
    auditfs_ledger *l;
} fixture;

/* ENTRIES log entries, committed in batches of ~20 KB (one or more segments each). */
static void
setup(fixture *f)
{
    auditfs_writer *w = NULL;
    auditfs_writer_options o = AUDITFS_WRITER_OPTIONS_INIT;
    memset(f, 0, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/auditfs-segwalk.XXXXXX");
    cr_assert_not_null(mkdtemp(f->dir));
    snprintf(f->ledger, sizeof f->ledger, "%s/ledger", f->dir);
    cr_assert_eq(auditfs_signer_generate(&f->s, "segwalk.example"), 0);
    cr_assert_eq(auditfs_ledger_init(f->ledger, f->s, "segwalk.example"), 0, "%s",
                 auditfs_error_last());
    o.batch_bytes = 20000;
    o.wait_for_lock = 1;
    cr_assert_eq(auditfs_writer_open(&w, f->ledger, f->s, &o), 0, "%s", auditfs_error_last());
    for (unsigned i = 0; i < ENTRIES; i++) {
        char line[96];
        auditfs_entry e;
        uint64_t seq;
        int len = snprintf(line, sizeof line, "{\"i\":%u,\"pad\":\"segwalk-test\"}", i);
        memset(&e, 0, sizeof e);
        snprintf(e.type, sizeof e.type, "log");
        snprintf(e.stream, sizeof e.stream, "api");
        e.payload = (const uint8_t *)line;
        e.payload_len = (size_t)len;
        cr_assert_eq(auditfs_writer_add(w, &e, NULL, 0, &seq), 0, "%s", auditfs_error_last());
        if (auditfs_writer_pending_bytes(w) > 20000)
            cr_assert_eq(auditfs_writer_commit(w, NULL), 0, "%s", auditfs_error_last());
    }
    cr_assert_eq(auditfs_writer_commit(w, NULL), 0, "%s", auditfs_error_last());
    auditfs_writer_free(w);
    cr_assert_eq(auditfs_ledger_open(&f->l, f->ledger), 0, "%s", auditfs_error_last());
}

static void
teardown(fixture *f)
{
    char cmd[160];
    auditfs_ledger_free(f->l);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    cr_expect_eq(system(cmd), 0);
    auditfs_signer_free(f->s);
}

/* What a walk handed over. */
typedef struct seen {
    auditfs_merkle_stream ms;
    uint64_t leaves, next_seq, segments, segment_ends, frames, frames_expected, leaf_bytes;
    uint64_t seg_first[64];
    int order_ok;
    uint64_t failed_at;
    int fail_calls;
} seen;

static void
seen_init(seen *s)
{
    memset(s, 0, sizeof *s);
    auditfs_merkle_stream_init(&s->ms);
    s->order_ok = 1;
    s->failed_at = UINT64_MAX;
}

static int
on_segment(void *payload, const afs_walk_seg *seg)
{
    seen *s = payload;
    if (s->segments < 64)
        s->seg_first[s->segments] = seg->first;
    s->segments++;
    s->frames_expected += seg->ix->nframes;
    s->order_ok &= seg->first == s->next_seq;
    return 0;
}

static int
on_leaf(void *payload, const afs_walk_leaf *wl)
{
    seen *s = payload;
    auditfs_hash h;
    auditfs_leaf_hash(&h, wl->bytes, wl->len);
    s->order_ok &=
        wl->seq == s->next_seq && wl->e->seq == wl->seq && auditfs_hash_equal(&h, &wl->hash);
    s->next_seq = wl->seq + 1;
    s->leaves++;
    s->leaf_bytes += wl->len;
    auditfs_merkle_stream_push(&s->ms, &wl->hash);
    return 0;
}

static int
on_frame(void *payload, const afs_walk_seg *seg, uint32_t frame)
{
    seen *s = payload;
    (void)seg;
    (void)frame;
    s->frames++;
    return 0;
}

static int
on_segment_end(void *payload, const afs_walk_seg *seg)
{
    seen *s = payload;
    s->segment_ends++;
    s->order_ok &= seg->end == s->next_seq;
    return 0;
}

static int
on_fail(void *payload, uint64_t seq, int code)
{
    seen *s = payload;
    s->failed_at = seq;
    s->fail_calls++;
    return code;
}

static int
walk(seen *s, afs_chain *c, fixture *f, uint64_t to)
{
    afs_walk_ops ops = {on_segment, on_leaf, on_frame, on_segment_end, on_fail, s};
    s->next_seq = c->next;
    return afs_segwalk(c, f->l, f->l->tree, to, &ops);
}

TestSuite(segwalk, .timeout = 120);

Test(segwalk, every_entry_in_order_both_read_paths)
{
    fixture f;
    setup(&f);
    cr_assert_eq(f.l->cp.size, ENTRIES);
    for (int inline_read = 0; inline_read < 2; inline_read++) {
        seen s;
        afs_chain c = AFS_CHAIN_INIT;
        auditfs_hash root;
        seen_init(&s);
        afs_segwalk_no_readahead = inline_read;
        cr_assert_eq(walk(&s, &c, &f, UINT64_MAX), 0, "%s", auditfs_error_last());
        cr_expect_eq(s.leaves, ENTRIES, "inline %d", inline_read);
        cr_expect_eq(c.next, ENTRIES);
        cr_expect(s.order_ok, "entries, segments and frames come in order");
        cr_expect_gt(s.segments, 2, "the fixture has several segments");
        cr_expect_eq(s.segments, s.segment_ends);
        cr_expect_eq(s.frames, s.frames_expected);
        cr_expect_eq(s.fail_calls, 0);
        auditfs_merkle_stream_root(&root, &s.ms);
        cr_expect(auditfs_hash_equal(&root, &f.l->cp.root),
                  "the leaf hashes it hands over give the checkpoint's root");
    }
    afs_segwalk_no_readahead = 0;
    teardown(&f);
}

Test(segwalk, stops_at_to_and_resumes_from_the_chain)
{
    fixture f;
    seen all, a, b;
    afs_chain c = AFS_CHAIN_INIT, c2 = AFS_CHAIN_INIT;
    auditfs_hash root;
    setup(&f);
    seen_init(&all);
    cr_assert_eq(walk(&all, &c, &f, UINT64_MAX), 0, "%s", auditfs_error_last());
    uint64_t mid = all.seg_first[2]; /* a segment boundary */
    cr_assert_gt(mid, 0);
    seen_init(&a);
    cr_assert_eq(walk(&a, &c2, &f, mid), 0, "%s", auditfs_error_last());
    cr_expect_eq(c2.next, mid);
    cr_expect_eq(a.leaves, mid, "nothing beyond `to` is read");
    /* the rest, from the chain where it stopped: earlier segments are skipped, not re-read */
    seen_init(&b);
    b.ms = a.ms;
    cr_assert_eq(walk(&b, &c2, &f, UINT64_MAX), 0, "%s", auditfs_error_last());
    cr_expect_eq(b.seg_first[0], mid);
    cr_expect_eq(a.leaves + b.leaves, ENTRIES);
    cr_expect(b.order_ok);
    auditfs_merkle_stream_root(&root, &b.ms);
    cr_expect(auditfs_hash_equal(&root, &f.l->cp.root));
    teardown(&f);
}

Test(segwalk, refuses_what_the_chain_does_not_allow)
{
    fixture f;
    seen all, s;
    afs_chain c = AFS_CHAIN_INIT;
    setup(&f);
    seen_init(&all);
    cr_assert_eq(walk(&all, &c, &f, UINT64_MAX), 0, "%s", auditfs_error_last());

    /* `to` inside a segment: its entry at `to` is beyond the checkpoint */
    uint64_t inside = all.seg_first[1] + 1;
    seen_init(&s);
    c = (afs_chain)AFS_CHAIN_INIT;
    cr_expect_eq(walk(&s, &c, &f, inside), AUDITFS_EVERIFY);
    cr_expect_eq(s.failed_at, inside);
    cr_expect(strstr(auditfs_error_last(), "holds entries beyond the checkpoint's"), "%s",
              auditfs_error_last());

    /* `to` beyond the last entry */
    seen_init(&s);
    c = (afs_chain)AFS_CHAIN_INIT;
    cr_expect_eq(walk(&s, &c, &f, ENTRIES + 5), AUDITFS_EVERIFY);
    cr_expect_eq(s.failed_at, ENTRIES);
    cr_expect(strstr(auditfs_error_last(), "no segment holds them"), "%s", auditfs_error_last());

    /* a chain whose prev is not entry 0's: the first entry breaks it */
    seen_init(&s);
    c = (afs_chain)AFS_CHAIN_INIT;
    c.prev.b[0] = 1;
    cr_expect_eq(walk(&s, &c, &f, UINT64_MAX), AUDITFS_EVERIFY);
    cr_expect_eq(s.failed_at, 0);
    cr_expect_eq(s.leaves, 0, "no entry is handed over before its chain check");
    cr_expect(strstr(auditfs_error_last(), "chain broken"), "%s", auditfs_error_last());

    /* a chain whose last time is later than entry 0's */
    seen_init(&s);
    c = (afs_chain)AFS_CHAIN_INIT;
    c.last_time = INT64_MAX;
    cr_expect_eq(walk(&s, &c, &f, UINT64_MAX), AUDITFS_EVERIFY);
    cr_expect_eq(s.failed_at, 0);
    cr_expect(strstr(auditfs_error_last(), "time goes backwards"), "%s", auditfs_error_last());

    /* a chain that expects another first entry: the first segment is not the next one */
    seen_init(&s);
    c = (afs_chain)AFS_CHAIN_INIT;
    c.next = 1;
    cr_expect_eq(walk(&s, &c, &f, UINT64_MAX), AUDITFS_EVERIFY);
    cr_expect_eq(s.failed_at, 1);
    cr_expect(strstr(auditfs_error_last(), "expected the segment starting at entry 1"), "%s",
              auditfs_error_last());
    teardown(&f);
}
