#include "segment.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

static void
build(afs_buf *out, uint64_t first, unsigned n)
{
    afs_seg_writer w;
    char leaf[600];
    cr_assert_eq(afs_seg_writer_init(&w, 1), 0);
    afs_seg_writer_reset(&w, first);
    for (unsigned i = 0; i < n; i++) {
        int len = snprintf(leaf, sizeof leaf, "leaf %u %0500u", i, i);
        cr_assert_eq(afs_seg_writer_add(&w, leaf, (size_t)len), 0);
    }
    cr_assert_eq(afs_seg_writer_finish(&w, out), 0);
    afs_seg_writer_release(&w);
}

Test(segment, roundtrip_many_frames_and_seek)
{
    afs_buf seg = AFS_BUF_INIT, frame = AFS_BUF_INIT;
    afs_seg_index ix;
    ZSTD_DCtx *d = ZSTD_createDCtx();
    build(&seg, 1000, 2000);
    cr_assert_eq(afs_seg_index_parse(&ix, (uint8_t *)seg.data, seg.len, "t"), 0, "%s",
                 auditfs_error_last());
    cr_assert_eq(ix.first_seq, 1000);
    cr_assert_eq(ix.count, 2000);
    cr_assert_gt(ix.nframes, 2, "frames of ~128 KiB");
    /* seek: the frame holding entry 1000+1234 starts at or before it */
    uint32_t f = afs_seg_index_find(&ix, 2234);
    cr_assert_leq(ix.frames[f].first_seq, 2234);
    cr_assert_gt(ix.frames[f].first_seq + ix.frames[f].count, 2234);
    cr_assert_eq(afs_seg_frame_decode(&frame, d, &ix, f, (uint8_t *)seg.data, seg.len, "t"), 0);
    size_t off = 0;
    const uint8_t *leaf;
    size_t len;
    uint64_t s = ix.frames[f].first_seq;
    while (afs_seg_record_next(&leaf, &len, &frame, &off) && s < 2234)
        s++;
    char want[64];
    snprintf(want, sizeof want, "leaf %u ", 1234u);
    cr_assert_eq(memcmp(leaf, want, strlen(want)), 0);
    afs_seg_index_release(&ix);
    afs_buf_release(&frame);
    afs_buf_release(&seg);
    ZSTD_freeDCtx(d);
}

Test(segment, rejects_trailing_and_truncated_data)
{
    afs_buf seg = AFS_BUF_INIT;
    afs_seg_index ix;
    build(&seg, 0, 10);
    cr_assert_eq(afs_buf_put(&seg, "x", 1), 0);
    cr_assert_eq(afs_seg_index_parse(&ix, (uint8_t *)seg.data, seg.len, "t"), AUDITFS_EFORMAT,
                 "a trailing byte");
    cr_assert(strstr(auditfs_error_last(), "extra"), "%s", auditfs_error_last());
    cr_assert_eq(afs_seg_index_parse(&ix, (uint8_t *)seg.data, seg.len - 2, "t"),
                 AUDITFS_EFORMAT, "truncated");
    cr_assert_eq(afs_seg_index_parse(&ix, (uint8_t *)seg.data, 10, "t"), AUDITFS_EFORMAT);
    afs_buf_release(&seg);
}

Test(segment, rejects_wrong_counts)
{
    afs_buf seg = AFS_BUF_INIT, frame = AFS_BUF_INIT;
    afs_seg_index ix;
    ZSTD_DCtx *d = ZSTD_createDCtx();
    build(&seg, 0, 10);
    /* index entry 0: csize(4) usize(4) count(4) at offset 28; claim 11 records */
    afs_store_be32((uint8_t *)seg.data + 28 + 8, 11);
    cr_assert_eq(afs_seg_index_parse(&ix, (uint8_t *)seg.data, seg.len, "t"), 0);
    cr_assert_eq(afs_seg_frame_decode(&frame, d, &ix, 0, (uint8_t *)seg.data, seg.len, "t"),
                 AUDITFS_EFORMAT);
    afs_seg_index_release(&ix);
    afs_buf_release(&frame);
    afs_buf_release(&seg);
    ZSTD_freeDCtx(d);
}

Test(segment, stock_zstd_frames)
{
    /* everything after the index frame is plain zstd frames: ZSTD_decompress sees the leaves */
    afs_buf seg = AFS_BUF_INIT;
    build(&seg, 0, 3);
    size_t skip = ZSTD_findFrameCompressedSize(seg.data, seg.len);
    cr_assert(!ZSTD_isError(skip), "the index is a valid skippable frame");
    unsigned long long sz = ZSTD_getFrameContentSize(seg.data + skip, seg.len - skip);
    cr_assert_neq(sz, ZSTD_CONTENTSIZE_ERROR);
    cr_assert_neq(sz, ZSTD_CONTENTSIZE_UNKNOWN);
    cr_assert_gt(sz, 1500);
    cr_assert_eq(skip + ZSTD_findFrameCompressedSize(seg.data + skip, seg.len - skip), seg.len);
    afs_buf_release(&seg);
}

/* A frame holding more records than its index entry says, and a frame slot holding a second
 * (empty) zstd frame after the first: both refused (tests/mutation/ mutants segment-*). */
Test(segment, rejects_extra_records_and_second_frame)
{
    afs_buf seg = AFS_BUF_INIT, frame = AFS_BUF_INIT;
    afs_seg_index ix;
    ZSTD_DCtx *d = ZSTD_createDCtx();
    build(&seg, 0, 10);
    afs_store_be32((uint8_t *)seg.data + 28 + 8, 9); /* claim 9 of the 10 records */
    cr_assert_eq(afs_seg_index_parse(&ix, (uint8_t *)seg.data, seg.len, "t"), 0);
    cr_assert_eq(afs_seg_frame_decode(&frame, d, &ix, 0, (uint8_t *)seg.data, seg.len, "t"),
                 AUDITFS_EFORMAT, "10 records where the index says 9");
    afs_seg_index_release(&ix);
    afs_buf_release(&seg);

    /* one frame, then an empty zstd frame inside the same slot (csize grown to cover it) */
    build(&seg, 0, 3);
    uint8_t empty[64];
    size_t elen = ZSTD_compress(empty, sizeof empty, "", 0, 1);
    cr_assert(!ZSTD_isError(elen));
    cr_assert_eq(afs_buf_put(&seg, empty, elen), 0);
    uint32_t csize = afs_load_be32((uint8_t *)seg.data + 28);
    afs_store_be32((uint8_t *)seg.data + 28, csize + (uint32_t)elen);
    cr_assert_eq(afs_seg_index_parse(&ix, (uint8_t *)seg.data, seg.len, "t"), 0, "%s",
                 auditfs_error_last());
    cr_assert_eq(afs_seg_frame_decode(&frame, d, &ix, 0, (uint8_t *)seg.data, seg.len, "t"),
                 AUDITFS_EFORMAT, "a second zstd frame in the slot");
    cr_assert(strstr(auditfs_error_last(), "exactly one zstd frame"), "%s", auditfs_error_last());
    afs_seg_index_release(&ix);
    afs_buf_release(&frame);
    afs_buf_release(&seg);
    ZSTD_freeDCtx(d);
}
