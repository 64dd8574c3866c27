/*
 * ledger/segment.h - segments: zstd-compressed runs of consecutive leaves with a frame index.
 *
 * Layout of a segment blob (docs/FORMAT.md, "Segment"):
 *   [skippable frame 0x184D2A5A: index] [zstd frame 0] ... [zstd frame n-1]
 * index payload: "AFSSEG1\0" | u64be first_seq | u32be n | n x (u32be csize, u32be usize,
 *                u32be count)
 * Each zstd frame decompresses to `count` records "u32be leaf length | leaf bytes" and nothing
 * else. Stock `zstd -dc` decodes a segment (it skips the index frame). A reader seeks to any
 * entry by the index and decompresses one frame.
 *
 * AFSSEG2 (magic "AFSSEG2\0", same index): each frame decompresses to the 32-byte leaf hash of
 * the entry before its first one, then `count` records "u32be length | stored leaf", where a
 * stored leaf is the canonical leaf without its `seq`, `prev` and `length` lines. Those are
 * derivable (seq from the index, prev from the hash of the leaf before, length from the
 * payload), so afs_seg_frame_decode rebuilds the canonical leaves and hands out exactly the
 * records an AFSSEG1 frame would have held: callers never see the stored form.
 */
#ifndef AUDITFS_SEGMENT_H
#define AUDITFS_SEGMENT_H

#include "internal.h"

#include <pthread.h>
#include <zstd.h>

#define AFS_SEG_MAGIC "AFSSEG1"
#define AFS_SEG2_MAGIC "AFSSEG2"
/** AFSSEG2 frames end once they reach this many uncompressed bytes (a writer's choice: readers
 * take any frame size up to AFS_SEG_MAX_FRAME_USIZE). 64 KiB, about four frames per segment:
 * a reader of one entry (query hits, proofs, the mount's random reads) decodes a quarter of
 * what a whole-segment frame costs, for 13% more storage than 256 KiB frames (measured at 1M
 * entries; 32 KiB: 22% more). docs/FORMAT.md section 18. */
#define AFS_SEG2_FRAME_TARGET (64u * 1024u)
#define AFS_SEG_SKIPPABLE 0x184D2A5Au
/** Frames end once they reach this many uncompressed bytes. */
#define AFS_SEG_FRAME_TARGET (128u * 1024u)
/** A writer starts a new segment once one holds this many leaf bytes (two frames, ~64 KiB stored). */
#define AFS_SEG_MAX_LEAF (256u << 10)
/** Hard limits applied to hostile segments. */
#define AFS_SEG_MAX_FRAMES (1u << 20)
#define AFS_SEG_MAX_FRAME_USIZE (8u << 20)

typedef struct afs_seg_frame {
    uint64_t coff;      /* offset of the compressed frame in the blob */
    uint64_t first_seq; /* seq of its first entry */
    uint32_t csize;
    uint32_t usize;
    uint32_t count;
} afs_seg_frame;

typedef struct afs_seg_index {
    uint64_t first_seq;
    uint64_t count; /* entries in the segment */
    uint32_t nframes;
    afs_seg_frame *frames;
} afs_seg_index;

/** Parses and checks the index against the blob's size; no decompression. */
int afs_seg_index_parse(afs_seg_index *out, const uint8_t *blob, size_t len, const char *where);
/** afs_seg_index_parse from the first head_len bytes of a blob of blob_len bytes (a reader
 * that fetches frames one by one): EFORMAT if they do not hold the whole index frame. */
int afs_seg_index_parse_head(afs_seg_index *out, const uint8_t *head, size_t head_len,
                             size_t blob_len, const char *where);
void afs_seg_index_release(afs_seg_index *ix);
/** The frame holding seq (ix must contain it). */
uint32_t afs_seg_index_find(const afs_seg_index *ix, uint64_t seq);

/**
 * Decompresses frame i into out (replacing its contents) and checks it holds exactly `count`
 * well-framed records and nothing else. The format comes from the blob's magic (callers may
 * build a one-frame index of their own); for AFSSEG2 the records handed out are the rebuilt
 * canonical leaves (see above), never the stored form.
 */
int afs_seg_frame_decode(afs_buf *out, ZSTD_DCtx *dctx, const afs_seg_index *ix, uint32_t i,
                         const uint8_t *blob, size_t len, const char *where);

/**
 * afs_seg_frame_decode, and the RFC 6962 leaf hash of every record handed out into hashes
 * (f->count of them, in order) unless hashes is NULL. AFSSEG2 hashes each rebuilt leaf anyway
 * (the next one's prev), so its hashes cost one more leaf hash per frame; a walker that gets
 * them need not hash the leaves again (segfetch.c does this on the read-ahead core).
 */
int afs_seg_frame_decode_hashed(afs_buf *out, uint8_t (*hashes)[32], ZSTD_DCtx *dctx,
                                const afs_seg_index *ix, uint32_t i, const uint8_t *blob,
                                size_t len, const char *where);

/**
 * Decompresses frame i into out as stored, checking its framing like afs_seg_frame_decode,
 * without rebuilding: AFSSEG1 (*version 1) holds the leaves; AFSSEG2 (*version 2) holds the
 * 32-byte prev hash, then the stored records (walk them from offset 32 with
 * afs_seg_record_next and rebuild the ones needed with afs_seg2_rebuild). For readers that
 * check each leaf against its tile anyway: they have the hash of the leaf before for free.
 */
int afs_seg_frame_load(afs_buf *out, int *version, ZSTD_DCtx *dctx, const afs_seg_index *ix,
                       uint32_t i, const uint8_t *blob, size_t len, const char *where);

/** Walks records in a decoded frame: returns 1 and sets leaf/len, 0 at the end. */
int afs_seg_record_next(const uint8_t **leaf, size_t *len, const afs_buf *frame, size_t *off);

/** A frame being compressed by a helper thread while the writer fills the next one. */
typedef struct afs_seg_job {
    ZSTD_CCtx *cctx;
    afs_buf in;     /* records, uncompressed */
    afs_buf out;    /* the compressed frame */
    uint32_t count; /* records in it */
    size_t result;  /* ZSTD_compress2's return */
    int fail;       /* test hook: report an error for this frame (AUDITFS_TEST_FAIL_COMPRESS) */
    /* the last frame of a sealed segment (whole = 1): the helper also builds the segment blob
     * (pre_index and pre_frames: the writer's pre_n frames before this one), its git id and
     * its pack entry (afs_pack_blob_entry), packed = 1 once it did */
    int whole, packed;
    const afs_buf *pre_index, *pre_frames;
    uint32_t pre_n;
    uint64_t first_seq;
    int version;
    afs_buf blob, entry;
    uint32_t crc;
    uint8_t sha1[20];
    int running;    /* a frame is handed over and not yet collected */
    /* one worker thread for the writer's lifetime (started on the first frame) */
    int started, quit, posted, done;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} afs_seg_job;

/**
 * Builds a segment from leaves appended in order. Frames are compressed by a helper thread, one
 * frame in flight while the caller hashes and encodes the next: on two cores compression no
 * longer adds to ingest time. Frame order and content are the same as compressing inline.
 */
typedef struct afs_seg_writer {
    afs_seg_job job;
    int level;
    uint64_t first_seq;
    uint64_t count;
    afs_buf raw;    /* the current frame, uncompressed */
    uint32_t raw_count;
    afs_buf frames; /* compressed frames so far */
    afs_buf index;  /* index entries so far (12 bytes each) */
    uint32_t nframes;
    int version;    /* segment format written: 1 or 2 */
    int sealing;    /* inside afs_seg_writer_seal */
    uint8_t last[32]; /* AFSSEG2: leaf hash of the last leaf added */
    char last_b64[44]; /* AFSSEG2: its base64, as the next leaf's prev line holds it */
    uint64_t test_fail_from; /* AUDITFS_TEST_FAIL_COMPRESS: frames holding seq >= this fail */
} afs_seg_writer;

/** A writer of AFSSEG1 segments (any leaf bytes). */
int afs_seg_writer_init(afs_seg_writer *w, int level);
/** A writer of segments in the given format (1 or 2); format 2 takes only canonical leaves
 * added with afs_seg_writer_add_leaf. */
int afs_seg_writer_init_version(afs_seg_writer *w, int level, int version);
/** Starts a new segment whose first leaf is seq (drops anything unfinished). */
void afs_seg_writer_reset(afs_seg_writer *w, uint64_t first_seq);
int afs_seg_writer_add(afs_seg_writer *w, const void *leaf, size_t len);
/**
 * Adds a canonical leaf with its leaf hash (AFSSEG2 needs it for the next leaf's `prev`). For
 * AFSSEG2 the leaf must be the entry at the next seq, with a `prev` equal to the hash of the
 * leaf added before it (unless it starts the segment) and a `length` equal to its payload's:
 * anything else is refused (AUDITFS_ERROR) rather than stored in a form that would not rebuild.
 */
int afs_seg_writer_add_leaf(afs_seg_writer *w, const void *leaf, size_t len,
                            const uint8_t hash[32]);
/** The most bytes a rebuilt leaf has beyond its stored form: "seq " + 20 digits + LF,
 * "prev " + 44 base64 + LF, "length " + 20 digits + LF. */
#define AFS_SEG2_MAX_ADDED 103u
/** The smallest stored record: u32 length, the 16-byte magic line and the blank line. */
#define AFS_SEG2_MIN_RECORD 21u
/**
 * AFSSEG2: rebuilds the canonical leaf of a stored one (at `seq`, after a leaf whose hash is
 * prev) as "u32be length | leaf" into dst (cap bytes, at least len + 4 + AFS_SEG2_MAX_ADDED);
 * *written gets its size. EFORMAT if the stored leaf does not start with the entry magic line
 * or has no blank line ending its header. dst may overlap stored in one buffer if dst + 4 +
 * AFS_SEG2_MAX_ADDED <= stored: every byte is then written after the stored bytes at its
 * position were read (frame decoding rebuilds in place).
 */
int afs_seg2_rebuild(size_t *written, uint8_t *dst, size_t cap, const uint8_t *stored, size_t len,
                     uint64_t seq, const uint8_t prev[32]);
/**
 * Hands the segment's last frame to the helper thread without waiting for it: the caller may
 * fill another writer meanwhile, and then afs_seg_writer_finish collects it (ledger/ingest.c
 * keeps two writers, one sealed segment compressing while the next is built). Adding to a
 * sealed writer before finishing it is not allowed. An error of the helper thread is returned
 * by afs_seg_writer_finish.
 */
int afs_seg_writer_seal(afs_seg_writer *w);
/** Writes the complete segment blob into out (replacing it). */
int afs_seg_writer_finish(afs_seg_writer *w, afs_buf *out);
/**
 * afs_seg_writer_finish, and for a segment sealed as one frame (nearly all: the frame target is
 * the segment's size) what the helper thread built with it: *packed = 1, the blob's git id in
 * sha1 and its pack entry (afs_pack_blob_entry) in entry with its CRC-32 in *crc. Otherwise
 * *packed = 0 (the caller writes the blob itself). The buffers are swapped, not copied.
 */
int afs_seg_writer_finish_packed(afs_seg_writer *w, afs_buf *out, afs_buf *entry, uint32_t *crc,
                                 uint8_t sha1[20], int *packed);
void afs_seg_writer_release(afs_seg_writer *w);

#endif
