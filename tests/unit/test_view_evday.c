/*
 * Unit tests of the view's by-event-day/ files when event times are scattered: contents equal
 * to the entries of each day in ledger order whatever the order and interleaving of reads, and
 * reading every day file of a stream decodes each frame about once (the lines of the other day
 * files are kept while a frame is in hand), even when the frame cache holds only part of the
 * ledger.
 */
#include "auditfs/ledger.h"
#include "auditfs/view.h"
#include "view_seam.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DAYS 6
#define LINES 20000
#define DAY0 ((int64_t)20513) /* 2026-03-01 */

typedef struct fixture {
    char dir[64];
    char ledger[96];
    auditfs_signer *s;
    auditfs_verifier *v;
    char *want[DAYS]; /* expected by-event-day/streams/s/2026/03/0D.jsonl */
    size_t want_len[DAYS];
} fixture;

static uint64_t rng = 7;

static uint32_t
below(uint32_t n)
{
    rng = rng * 6364136223846793005u + 1442695040888963407u;
    return (uint32_t)((rng >> 33) % n);
}

static void
setup(fixture *f)
{
    auditfs_writer *w = NULL;
    auditfs_writer_options o = AUDITFS_WRITER_OPTIONS_INIT;
    memset(f, 0, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/auditfs-evday.XXXXXX");
    cr_assert_not_null(mkdtemp(f->dir));
    snprintf(f->ledger, sizeof f->ledger, "%s/ledger", f->dir);
    cr_assert_eq(auditfs_signer_generate(&f->s, "evday.example"), 0);
    cr_assert_eq(auditfs_signer_verifier(&f->v, f->s), 0);
    cr_assert_eq(auditfs_ledger_init(f->ledger, f->s, "evday.example"), 0, "%s",
                 auditfs_error_last());
    o.batch_bytes = 1 << 20;
    o.wait_for_lock = 1;
    cr_assert_eq(auditfs_writer_open(&w, f->ledger, f->s, &o), 0, "%s", auditfs_error_last());
    for (unsigned i = 0; i < LINES; i++) {
        char line[256];
        auditfs_entry e;
        uint64_t seq;
        unsigned d = below(DAYS);
        int len = snprintf(line, sizeof line,
                           "{\"i\":%u,\"day\":%u,\"actor\":\"ops-%u\",\"action\":\"ecs:Stop\","
                           "\"resource\":\"arn:aws:ecs:eu-west-1:%012u:task/%u\"}",
                           i, d + 1, below(97), below(1000000), below(100000));
        memset(&e, 0, sizeof e);
        snprintf(e.type, sizeof e.type, "log");
        snprintf(e.stream, sizeof e.stream, "s");
        e.has_event_time = 1;
        e.event_time_us = ((DAY0 + (int64_t)d) * 86400 + below(86400)) * 1000000;
        e.payload = (const uint8_t *)line;
        e.payload_len = (size_t)len;
        cr_assert_eq(auditfs_writer_add(w, &e, NULL, 0, &seq), 0, "%s", auditfs_error_last());
        if (auditfs_writer_pending_bytes(w) > (1 << 20))
            cr_assert_eq(auditfs_writer_commit(w, NULL), 0, "%s", auditfs_error_last());
        f->want[d] = realloc(f->want[d], f->want_len[d] + (size_t)len + 1);
        memcpy(f->want[d] + f->want_len[d], line, (size_t)len);
        f->want[d][f->want_len[d] + (size_t)len] = '\n';
        f->want_len[d] += (size_t)len + 1;
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
    for (int d = 0; d < DAYS; d++)
        free(f->want[d]);
}

static uint64_t
day_id(auditfs_view *v, int d, uint64_t *size)
{
    char path[96];
    auditfs_view_stat st;
    snprintf(path, sizeof path, "by-event-day/streams/s/2026/03/%02d.jsonl", d + 1);
    cr_assert_eq(auditfs_view_lookup_path(&st, v, path), 0, "%s: %s", path,
                 auditfs_error_last());
    *size = st.size;
    return st.id;
}

/* Reads [off, off + len) of day file d in reads of at most `step` bytes (as FUSE does). */
static int
read_range(auditfs_view *v, int d, uint64_t off, size_t len, size_t step, char *out)
{
    uint64_t size;
    uint64_t id = day_id(v, d, &size);
    for (size_t at = 0; at < len;) {
        size_t got = 0, n = len - at < step ? len - at : step;
        int err = auditfs_view_read(v, id, off + at, out + at, n, &got, NULL);
        if (err || got != n)
            return err ? err : -1;
        at += n;
    }
    return 0;
}

static void
expect_day(fixture *f, auditfs_view *v, int d, size_t step)
{
    uint64_t size;
    day_id(v, d, &size);
    cr_assert_eq(size, f->want_len[d], "day %d: size %llu, wanted %zu", d + 1,
                 (unsigned long long)size, f->want_len[d]);
    char *buf = malloc(size + 1);
    cr_assert_eq(read_range(v, d, 0, size, step, buf), 0, "%s", auditfs_error_last());
    cr_expect(memcmp(buf, f->want[d], size) == 0, "day %d differs", d + 1);
    free(buf);
}

static auditfs_view *
open_small(fixture *f)
{
    auditfs_view *v = NULL;
    auditfs_view_options o = AUDITFS_VIEW_OPTIONS_INIT;
    o.cache_bytes = 2 << 20; /* a few frames: the ledger's frames do not fit */
    cr_assert_eq(auditfs_view_open(&v, f->ledger, f->v, &o), 0, "%s", auditfs_error_last());
    return v;
}

Test(view_evday, all_day_files_cost_about_one_pass)
{
    fixture f;
    setup(&f);
    auditfs_view *v = open_small(&f);
    uint64_t nframes, loads;
    for (int d = 0; d < DAYS; d++)
        expect_day(&f, v, d, 128 << 10);
    loads = afs_view_frame_loads(v, &nframes);
    cr_assert_gt(nframes, 16, "the test needs more frames than the cache holds (%llu)",
                 (unsigned long long)nframes);
    /* without the kept lines every day file decodes every frame: DAYS * nframes */
    cr_expect_leq(loads, nframes + nframes / 4, "%llu frame loads for %llu frames",
                  (unsigned long long)loads, (unsigned long long)nframes);
    /* again, in reverse order: days 6..2 come from the kept lines; day 1, the file read first,
     * was not kept (the kernel's page cache holds a file that was read) and costs one pass */
    for (int d = DAYS - 1; d >= 0; d--)
        expect_day(&f, v, d, 128 << 10);
    cr_expect_leq(afs_view_frame_loads(v, &nframes), loads + nframes + nframes / 4);
    auditfs_view_free(v);
    teardown(&f);
}

Test(view_evday, reads_that_jump_keep_the_others_exact)
{
    fixture f;
    setup(&f);
    auditfs_view *v = open_small(&f);
    char head[4096];
    size_t tail = 8192;
    char *buf = malloc(tail);
    /* day 1: its start, then its end (frames far from the first ones); then the others in small
     * reads, so that most are served from what the two reads kept */
    cr_assert_eq(read_range(v, 0, 0, sizeof head, sizeof head, head), 0);
    cr_expect(memcmp(head, f.want[0], sizeof head) == 0);
    cr_assert_eq(read_range(v, 0, f.want_len[0] - tail, tail, tail, buf), 0);
    cr_expect(memcmp(buf, f.want[0] + f.want_len[0] - tail, tail) == 0);
    for (int d = 1; d < DAYS; d++)
        expect_day(&f, v, d, 4096);
    /* a read at an odd offset of a day file kept whole */
    cr_assert_eq(read_range(v, 3, 1001, 5000, 333, buf), 0);
    cr_expect(memcmp(buf, f.want[3] + 1001, 5000) == 0);
    free(buf);
    auditfs_view_free(v);
    teardown(&f);
}

typedef struct reader {
    fixture *f;
    auditfs_view *v;
    int d, ok;
} reader;

static void *
read_day(void *p)
{
    reader *r = p;
    size_t len = r->f->want_len[r->d];
    char *buf = malloc(len + 1);
    r->ok = read_range(r->v, r->d, 0, len, 64 << 10, buf) == 0 &&
            memcmp(buf, r->f->want[r->d], len) == 0;
    free(buf);
    return NULL;
}

Test(view_evday, parallel_readers)
{
    fixture f;
    setup(&f);
    auditfs_view *v = open_small(&f);
    pthread_t t[DAYS];
    reader r[DAYS];
    for (int round = 0; round < 2; round++) {
        for (int d = 0; d < DAYS; d++) {
            r[d] = (reader){&f, v, d, 0};
            cr_assert_eq(pthread_create(&t[d], NULL, read_day, &r[d]), 0);
        }
        for (int d = 0; d < DAYS; d++) {
            pthread_join(t[d], NULL);
            cr_expect(r[d].ok, "round %d: day %d differs or failed", round, d + 1);
        }
    }
    auditfs_view_free(v);
    teardown(&f);
}
