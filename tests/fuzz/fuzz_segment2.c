/*
 * libFuzzer target: AFSSEG2 stored-leaf rebuilding (ledger/segment.c, afs_seg2_rebuild).
 * Input: u64be seq | 32-byte prev | stored leaf. A rebuilt leaf must be framed as promised, fit
 * the promised bound, and store back (writer) and decode (frame decoder) to the same bytes.
 */
#include "segment.h"

#include "auditfs/merkle.h"

#include <stdlib.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ZSTD_DCtx *dctx;
    if (size < 40 || size > (1u << 20))
        return 0;
    if (!dctx)
        dctx = ZSTD_createDCtx();
    uint64_t seq = afs_load_be64(data) >> 1; /* any seq the decimal line can hold */
    const uint8_t *prev = data + 8, *stored = data + 40;
    size_t len = size - 40, cap = len + 4 + AFS_SEG2_MAX_ADDED, got;
    uint8_t *out = malloc(cap);
    if (!out)
        return 0;
    if (afs_seg2_rebuild(&got, out, cap, stored, len, seq, prev) != 0)
        goto done;
    if (got < 4 || got > cap || afs_load_be32(out) != got - 4)
        abort();
    /* what the writer stores for this leaf decodes to the same leaf */
    afs_seg_writer w;
    afs_buf seg = AFS_BUF_INIT, frame = AFS_BUF_INIT;
    afs_seg_index ix;
    auditfs_hash h;
    auditfs_leaf_hash(&h, out + 4, got - 4);
    if (afs_seg_writer_init_version(&w, 1, 2) != 0)
        goto done;
    afs_seg_writer_reset(&w, seq);
    if (afs_seg_writer_add_leaf(&w, out + 4, got - 4, h.b) != 0 ||
        afs_seg_writer_finish(&w, &seg) != 0)
        abort(); /* every rebuilt leaf can be stored */
    if (afs_seg_index_parse(&ix, (uint8_t *)seg.data, seg.len, "fuzz") != 0 ||
        afs_seg_frame_decode(&frame, dctx, &ix, 0, (uint8_t *)seg.data, seg.len, "fuzz") != 0)
        abort();
    if (frame.len != got || memcmp(frame.data, out, got) != 0)
        abort();
    afs_seg_index_release(&ix);
    afs_buf_release(&frame);
    afs_buf_release(&seg);
    afs_seg_writer_release(&w);
done:
    free(out);
    return 0;
}
