/* libFuzzer target: segment index and frame decoding of hostile segment blobs. */
#include "segment.h"

#include <stdlib.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ZSTD_DCtx *dctx;
    afs_seg_index ix;
    afs_buf frame = AFS_BUF_INIT;
    if (!dctx)
        dctx = ZSTD_createDCtx();
    if (afs_seg_index_parse(&ix, data, size, "fuzz") != 0)
        return 0;
    uint64_t seen = 0;
    for (uint32_t i = 0; i < ix.nframes; i++) {
        if (afs_seg_frame_decode(&frame, dctx, &ix, i, data, size, "fuzz") != 0)
            break;
        size_t off = 0;
        const uint8_t *leaf;
        size_t len;
        uint32_t n = 0;
        while (afs_seg_record_next(&leaf, &len, &frame, &off))
            n++;
        if (n != ix.frames[i].count)
            abort(); /* decode promised exactly count records */
        seen += n;
    }
    (void)seen;
    afs_buf_release(&frame);
    afs_seg_index_release(&ix);
    return 0;
}
