/* Unit tests of the view's sequential read-ahead (ledger/view_ahead.c): what it loads ahead is
 * served byte for byte, and a damaged frame ahead of the reader is reported by the read that
 * reaches it, never by the read-ahead. */
#include "auditfs/ledger.h"
#include "auditfs/view.h"
#include "view_seam.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LINES 6000

typedef struct fixture {
    char dir[64];
    char ledger[96];
    auditfs_signer *s;
    auditfs_verifier *v;
    char *all; /* expected streams/api/all.jsonl */
    size_t len;
    size_t *end; /* end offset of line i */
} fixture;

/* LINES entries of stream api, committed every ~20 kB (many segments, one or two frames each) */
static void
setup(fixture *f)
{
    auditfs_writer *w = NULL;
    auditfs_writer_options o = AUDITFS_WRITER_OPTIONS_INIT;
    memset(f, 0, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/auditfs-ahead.XXXXXX");
    cr_assert_not_null(mkdtemp(f->dir));
    snprintf(f->ledger, sizeof f->ledger, "%s/ledger", f->dir);
    cr_assert_eq(auditfs_signer_generate(&f->s, "ahead.example"), 0);
    cr_assert_eq(auditfs_signer_verifier(&f->v, f->s), 0);
    cr_assert_eq(auditfs_ledger_init(f->ledger, f->s, "ahead.example"), 0, "%s",
                 auditfs_error_last());
    o.batch_bytes = 20000;
    o.wait_for_lock = 1;
    cr_assert_eq(auditfs_writer_open(&w, f->ledger, f->s, &o), 0, "%s", auditfs_error_last());
    f->all = malloc((size_t)LINES * 160);
    f->end = malloc(LINES * sizeof *f->end);
    cr_assert(f->all && f->end);
    const char *pad = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
    for (unsigned i = 0; i < LINES; i++) {
        char line[160];
        auditfs_entry e;
        uint64_t seq;
        int len = snprintf(line, sizeof line,
                           "{\"i\":%u,\"actor\":\"ops-%u\",\"action\":\"ecs:StopInstance\","
                           "\"resource\":\"i-%06u\",\"pad\":\"%.*s\"}",
                           i, i % 13, i * 7, (int)(i % 41), pad);
        memset(&e, 0, sizeof e);
        snprintf(e.type, sizeof e.type, "log");
        snprintf(e.stream, sizeof e.stream, "api");
        e.payload = (const uint8_t *)line;
        e.payload_len = (size_t)len;
        cr_assert_eq(auditfs_writer_add(w, &e, NULL, 0, &seq), 0, "%s", auditfs_error_last());
        cr_assert_eq(seq, i);
        if (auditfs_writer_pending_bytes(w) > 20000)
            cr_assert_eq(auditfs_writer_commit(w, NULL), 0, "%s", auditfs_error_last());
        memcpy(f->all + f->len, line, (size_t)len);
        f->all[f->len + (size_t)len] = '\n';
        f->len += (size_t)len + 1;
        f->end[i] = f->len;
    }
    cr_assert_eq(auditfs_writer_commit(w, NULL), 0, "%s", auditfs_error_last());
    auditfs_writer_free(w);
}

static void
teardown(fixture *f)
{
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    cr_expect_eq(system(cmd), 0);
    auditfs_signer_free(f->s);
    auditfs_verifier_free(f->v);
    free(f->all);
    free(f->end);
}

/* The line holding byte off of all.jsonl. */
static unsigned
line_at(const fixture *f, size_t off)
{
    unsigned lo = 0, hi = LINES;
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        if (f->end[mid] <= off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* How many frames hold entries [0, n): frames are told apart by their stored digests. */
static unsigned
frames_upto(auditfs_view *v, unsigned n)
{
    unsigned k = 0;
    const uint8_t *last = NULL;
    for (unsigned i = 0; i < n; i++) {
        const uint8_t *d = afs_view_frame_digest(v, i);
        if (d != last)
            k++;
        last = d;
    }
    return k;
}

Test(view_ahead, sequential_and_random_reads_match)
{
    fixture f;
    auditfs_view *v = NULL;
    auditfs_view_stat st;
    uint64_t nframes = 0;
    setup(&f);
    cr_assert_eq(auditfs_view_open(&v, f.ledger, f.v, NULL), 0, "%s", auditfs_error_last());
    cr_assert_eq(auditfs_view_lookup_path(&st, v, "streams/api/all.jsonl"), 0);
    cr_assert_eq(st.size, f.len);
    afs_view_frame_loads(v, &nframes);
    cr_assert_gt(nframes, 12, "a multi-frame file (%llu frames)", (unsigned long long)nframes);

    /* forward in 16 KiB reads: after a few, the frames ahead of the reader are already loaded */
    char *buf = malloc(f.len);
    size_t off = 0, got = 0;
    int checked = 0;
    while (off < f.len) {
        size_t want = f.len - off < 16384 ? f.len - off : 16384;
        cr_assert_eq(auditfs_view_read(v, st.id, off, buf + off, want, &got, NULL), 0, "%s",
                     auditfs_error_last());
        cr_assert_eq(got, want);
        off += got;
        if (!checked && off > f.len / 3) {
            afs_view_ahead_drain(v);
            unsigned used = frames_upto(v, line_at(&f, off - 1) + 1);
            uint64_t loads = afs_view_frame_loads(v, &nframes);
            cr_expect_gt(loads, used, "read-ahead loaded frames past the reader (%llu loads, %u "
                                      "frames read)", (unsigned long long)loads, used);
            cr_expect_leq(loads, used + 8, "and a bounded number of them (%llu loads, %u read)",
                          (unsigned long long)loads, used);
            checked = 1;
        }
    }
    cr_expect_eq(memcmp(buf, f.all, f.len), 0, "sequential read = the payloads written");
    afs_view_ahead_drain(v);
    uint64_t loads = afs_view_frame_loads(v, &nframes);
    cr_expect_leq(loads, nframes, "each frame loaded once (cache big enough): %llu of %llu",
                  (unsigned long long)loads, (unsigned long long)nframes);

    /* random offsets and lengths, some across frame boundaries */
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < 400; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t o = (size_t)(x % f.len), n = 1 + (size_t)((x >> 32) % 9000);
        if (n > f.len - o)
            n = f.len - o;
        char tmp[9000];
        cr_assert_eq(auditfs_view_read(v, st.id, o, tmp, n, &got, NULL), 0, "%s",
                     auditfs_error_last());
        cr_assert_eq(got, n);
        cr_assert_eq(memcmp(tmp, f.all + o, n), 0, "random read at %zu (+%zu)", o, n);
    }
    free(buf);
    auditfs_view_free(v);
    teardown(&f);
}

Test(view_ahead, damaged_frame_ahead_is_reported_by_the_read)
{
    fixture f;
    auditfs_view *v = NULL;
    auditfs_view_stat st;
    uint64_t nframes = 0;
    setup(&f);
    cr_assert_eq(auditfs_view_open(&v, f.ledger, f.v, NULL), 0, "%s", auditfs_error_last());
    cr_assert_eq(auditfs_view_lookup_path(&st, v, "streams/api/all.jsonl"), 0);
    afs_view_frame_loads(v, &nframes);
    cr_assert_gt(nframes, 12);

    /* damage the frame holding the middle line: its bytes no longer match the pin */
    unsigned mid = LINES / 2, first = mid;
    uint8_t *d = afs_view_frame_digest(v, mid);
    cr_assert_not_null(d);
    while (first > 0 && afs_view_frame_digest(v, first - 1) == d)
        first--;
    d[0] ^= 1;
    size_t bad_off = first ? f.end[first - 1] : 0; /* the damaged frame's first byte */
    cr_assert_gt(bad_off, 65536);

    /* forward in 4 KiB reads up to the damaged frame: all served, while the read-ahead has
     * already tried the damaged frame (queued when the reader is a few frames before it; the
     * workers are let finish after each read, so that a loaded machine cannot make them late) */
    char buf[4096];
    size_t off = 0, got = 0;
    while (off < bad_off) {
        size_t want = bad_off - off < sizeof buf ? bad_off - off : sizeof buf;
        int rep = -1;
        cr_assert_eq(auditfs_view_read(v, st.id, off, buf, want, &got, &rep), 0,
                     "offset %zu, before the damage: %s", off, auditfs_error_last());
        cr_assert_eq(memcmp(buf, f.all + off, want), 0);
        off += want;
        afs_view_ahead_drain(v);
    }
    uint64_t loads = afs_view_frame_loads(v, &nframes);
    unsigned used = frames_upto(v, first);
    cr_expect_gt(loads, used, "the read-ahead tried the damaged frame first (%llu loads, %u read)",
                 (unsigned long long)loads, used);

    /* the read that reaches it fails, and is the first report (the read-ahead marked nothing) */
    int rep = 0;
    cr_expect_eq(auditfs_view_read(v, st.id, bad_off, buf, sizeof buf, &got, &rep),
                 AUDITFS_EVERIFY);
    cr_expect_eq(rep, 1, "first report of the damage");
    const char *msg = auditfs_error_last();
    char want[64];
    snprintf(want, sizeof want, "entries %u..", first);
    cr_expect(strstr(msg, want) && strstr(msg, "(seg/") && strstr(msg, "leaf hashes differ"),
              "names the entries and segment: %s", msg);
    rep = 1;
    cr_expect_eq(auditfs_view_read(v, st.id, bad_off + 10, buf, 10, &got, &rep), AUDITFS_EVERIFY);
    cr_expect_eq(rep, 0, "reported once");

    /* earlier frames and the frames after it still read */
    cr_expect_eq(auditfs_view_read(v, st.id, 0, buf, sizeof buf, &got, NULL), 0);
    cr_expect_eq(memcmp(buf, f.all, sizeof buf), 0);
    size_t after = f.end[LINES - 200];
    cr_expect_eq(auditfs_view_read(v, st.id, after, buf, 1000, &got, NULL), 0, "%s",
                 auditfs_error_last());
    cr_expect_eq(memcmp(buf, f.all + after, 1000), 0);
    d[0] ^= 1;
    auditfs_view_free(v);
    teardown(&f);
}
