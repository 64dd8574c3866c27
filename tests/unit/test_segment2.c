/*
 * AFSSEG2 segments (docs/FORMAT.md section 7): leaves stored without their seq, prev and length
 * lines, rebuilt byte for byte by afs_seg_frame_decode; the writer refuses leaves it could not
 * rebuild; hostile stored records are rejected.
 */
#include "entry.h"
#include "pack.h"
#include "segment.h"

#include "auditfs/merkle.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <zlib.h>

#define NLEAVES 1500

typedef struct leaves {
    afs_buf leaf[NLEAVES];
    auditfs_hash hash[NLEAVES];
    size_t total;
} leaves;

/* Chained canonical leaves from seq `first`, of every shape the encoder writes: plain logs,
 * tenant/party/layer, event-time, documents (content fields, empty payload), notices,
 * quarantined lines whose payload holds blank lines. */
static void
make_leaves(leaves *L, uint64_t first, unsigned n)
{
    auditfs_hash prev;
    memset(&prev, 0x5a, sizeof prev); /* the hash of the leaf before the segment */
    L->total = 0;
    for (unsigned i = 0; i < n; i++) {
        auditfs_entry e;
        char payload[512];
        memset(&e, 0, sizeof e);
        e.seq = first + i;
        e.time_us = 1795299191123456LL + (int64_t)i * 37;
        snprintf(e.stream, sizeof e.stream, "api");
        snprintf(e.type, sizeof e.type, "log");
        int plen = snprintf(payload, sizeof payload,
                            "{\"actor\":\"user-%u\",\"action\":\"a%u\",\"pad\":\"%0*u\"}", i % 17,
                            i % 5, (int)(i % 200), i);
        switch (i % 7) {
        case 1:
            snprintf(e.tenant, sizeof e.tenant, "acme");
            snprintf(e.party, sizeof e.party, "provider");
            snprintf(e.layer, sizeof e.layer, "platform");
            break;
        case 2:
            e.has_event_time = 1;
            e.event_time_us = 1795299100000000LL - i;
            break;
        case 3:
            snprintf(e.type, sizeof e.type, "document");
            snprintf(e.stream, sizeof e.stream, "documents");
            snprintf(e.name, sizeof e.name, "sla/doc-%u", i);
            e.version = 1;
            snprintf(e.content_type, sizeof e.content_type, "text/markdown");
            e.has_content = 1;
            e.content_length = 1234;
            memset(e.content_sha256, 0xab, 32);
            plen = 0;
            break;
        case 4:
            snprintf(e.type, sizeof e.type, "quarantine");
            snprintf(e.stream, sizeof e.stream, "quarantine");
            snprintf(e.reason, sizeof e.reason, "not UTF-8");
            plen = snprintf(payload, sizeof payload, "a\n\nb\n\n\001\377 line %u", i);
            break;
        default:
            break;
        }
        e.payload = (const uint8_t *)payload;
        e.payload_len = (size_t)plen;
        e.prev = prev;
        afs_buf b = AFS_BUF_INIT;
        cr_assert_eq(afs_entry_encode_buf(&b, &e), 0, "%s", auditfs_error_last());
        auditfs_leaf_hash(&L->hash[i], b.data, b.len);
        prev = L->hash[i];
        L->leaf[i] = b;
        L->total += b.len;
    }
}

static void
free_leaves(leaves *L, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        afs_buf_release(&L->leaf[i]);
}

static void
write_seg2(afs_buf *out, const leaves *L, uint64_t first, unsigned n)
{
    afs_seg_writer w;
    cr_assert_eq(afs_seg_writer_init_version(&w, 1, 2), 0);
    afs_seg_writer_reset(&w, first);
    for (unsigned i = 0; i < n; i++)
        cr_assert_eq(afs_seg_writer_add_leaf(&w, L->leaf[i].data, L->leaf[i].len, L->hash[i].b), 0,
                     "leaf %u: %s", i, auditfs_error_last());
    cr_assert_eq(afs_seg_writer_finish(&w, out), 0);
    afs_seg_writer_release(&w);
}

Test(segment2, roundtrip_every_leaf_byte_for_byte)
{
    static leaves L;
    afs_buf seg = AFS_BUF_INIT, frame = AFS_BUF_INIT;
    afs_seg_index ix;
    ZSTD_DCtx *d = ZSTD_createDCtx();
    make_leaves(&L, 999990, NLEAVES); /* seq crosses a digit boundary (999999 -> 1000000) */
    write_seg2(&seg, &L, 999990, NLEAVES);
    cr_assert_eq(memcmp(seg.data + 8, "AFSSEG2", 8), 0);
    cr_assert_eq(afs_seg_index_parse(&ix, (uint8_t *)seg.data, seg.len, "t"), 0, "%s",
                 auditfs_error_last());
    cr_assert_eq(ix.count, NLEAVES);
    cr_assert_gt(ix.nframes, 1, "more than 256 KiB of stored leaves: several frames");
    uint64_t stored = 0;
    unsigned k = 0;
    for (uint32_t f = 0; f < ix.nframes; f++) {
        stored += ix.frames[f].usize;
        cr_assert_eq(afs_seg_frame_decode(&frame, d, &ix, f, (uint8_t *)seg.data, seg.len, "t"), 0,
                     "frame %u: %s", f, auditfs_error_last());
        size_t off = 0;
        const uint8_t *leaf;
        size_t len;
        while (afs_seg_record_next(&leaf, &len, &frame, &off)) {
            cr_assert_lt(k, NLEAVES);
            cr_assert_eq(len, L.leaf[k].len, "leaf %u length", k);
            cr_assert_eq(memcmp(leaf, L.leaf[k].data, len), 0, "leaf %u bytes", k);
            k++;
        }
    }
    cr_assert_eq(k, NLEAVES);
    /* seq, prev (50 bytes) and length lines are not stored */
    cr_assert_lt(stored + (uint64_t)NLEAVES * 70, L.total + (uint64_t)NLEAVES * 4);
    /* a point read of one frame alone, as the mount and queries do */
    uint32_t f = afs_seg_index_find(&ix, 999990 + NLEAVES - 1);
    cr_assert_gt(f, 0);
    cr_assert_eq(afs_seg_frame_decode(&frame, d, &ix, f, (uint8_t *)seg.data, seg.len, "t"), 0);
    size_t off = 0;
    const uint8_t *leaf;
    size_t len;
    uint64_t s = ix.frames[f].first_seq;
    while (afs_seg_record_next(&leaf, &len, &frame, &off) && s < 999990 + NLEAVES - 1)
        s++;
    cr_assert_eq(len, L.leaf[NLEAVES - 1].len);
    cr_assert_eq(memcmp(leaf, L.leaf[NLEAVES - 1].data, len), 0);
    afs_seg_index_release(&ix);
    afs_buf_release(&frame);
    afs_buf_release(&seg);
    free_leaves(&L, NLEAVES);
    ZSTD_freeDCtx(d);
}

Test(segment2, writer_refuses_leaves_it_could_not_rebuild)
{
    static leaves L;
    afs_seg_writer w;
    make_leaves(&L, 10, 4);
    cr_assert_eq(afs_seg_writer_init_version(&w, 1, 2), 0);
    /* wrong seq: the segment starts at 11 but the leaf says 10 */
    afs_seg_writer_reset(&w, 11);
    cr_assert_eq(afs_seg_writer_add_leaf(&w, L.leaf[0].data, L.leaf[0].len, L.hash[0].b),
                 AUDITFS_ERROR);
    cr_assert(strstr(auditfs_error_last(), "seq"), "%s", auditfs_error_last());
    /* a broken chain: leaf 2 after leaf 0 */
    afs_seg_writer_reset(&w, 10);
    cr_assert_eq(afs_seg_writer_add_leaf(&w, L.leaf[0].data, L.leaf[0].len, L.hash[0].b), 0);
    w.count = 2; /* pretend seq 11 was added, with leaf 0's hash as the last */
    cr_assert_eq(afs_seg_writer_add_leaf(&w, L.leaf[2].data, L.leaf[2].len, L.hash[2].b),
                 AUDITFS_ERROR);
    cr_assert(strstr(auditfs_error_last(), "prev"), "%s", auditfs_error_last());
    /* a length line that does not match the payload */
    afs_seg_writer_reset(&w, 10);
    afs_buf bad = AFS_BUF_INIT;
    cr_assert_eq(afs_buf_put(&bad, L.leaf[0].data, L.leaf[0].len), 0);
    cr_assert_eq(afs_buf_put(&bad, "x", 1), 0);
    cr_assert_eq(afs_seg_writer_add_leaf(&w, bad.data, bad.len, L.hash[0].b), AUDITFS_ERROR);
    /* AFSSEG1 leaves of any shape go through afs_seg_writer_add; AFSSEG2 refuses that call */
    cr_assert_eq(afs_seg_writer_add(&w, "leaf", 4), AUDITFS_EINVAL);
    afs_buf_release(&bad);
    afs_seg_writer_release(&w);
    free_leaves(&L, 4);
}

/* Builds an AFSSEG2 segment of one frame from raw frame content (prev + records). */
static void
raw_seg2(afs_buf *out, uint64_t first, const void *content, size_t clen, uint32_t count)
{
    uint8_t head[40];
    size_t cap = ZSTD_compressBound(clen);
    uint8_t *z = malloc(cap);
    size_t zl = ZSTD_compress(z, cap, content, clen, 1);
    cr_assert(!ZSTD_isError(zl));
    afs_store_le32(head, AFS_SEG_SKIPPABLE);
    afs_store_le32(head + 4, 32);
    memcpy(head + 8, "AFSSEG2", 8);
    afs_store_be64(head + 16, first);
    afs_store_be32(head + 24, 1);
    afs_store_be32(head + 28, (uint32_t)zl);
    afs_store_be32(head + 32, (uint32_t)clen);
    afs_store_be32(head + 36, count);
    out->len = 0;
    cr_assert_eq(afs_buf_put(out, head, sizeof head), 0);
    cr_assert_eq(afs_buf_put(out, z, zl), 0);
    free(z);
}

static int
decode_raw(const void *content, size_t clen, uint32_t count)
{
    afs_buf seg = AFS_BUF_INIT, frame = AFS_BUF_INIT;
    afs_seg_index ix;
    ZSTD_DCtx *d = ZSTD_createDCtx();
    raw_seg2(&seg, 7, content, clen, count);
    int err = afs_seg_index_parse(&ix, (uint8_t *)seg.data, seg.len, "t");
    if (!err) {
        err = afs_seg_frame_decode(&frame, d, &ix, 0, (uint8_t *)seg.data, seg.len, "t");
        afs_seg_index_release(&ix);
    }
    afs_buf_release(&frame);
    afs_buf_release(&seg);
    ZSTD_freeDCtx(d);
    return err;
}

static size_t
put_record(uint8_t *p, const char *s)
{
    size_t n = strlen(s);
    afs_store_be32(p, (uint32_t)n);
    memcpy(p + 4, s, n);
    return 4 + n;
}

Test(segment2, rejects_hostile_stored_records)
{
    uint8_t c[512];
    size_t n;
    const char *good =
        "auditfs-entry/1\ntime 2026-11-21T22:13:11.123456Z\ntype log\nstream a\n\n{}";
    /* control: a well-formed stored leaf decodes */
    memset(c, 7, 32);
    n = 32 + put_record(c + 32, good);
    cr_assert_eq(decode_raw(c, n, 1), 0, "%s", auditfs_error_last());
    /* no entry magic */
    n = 32 + put_record(c + 32, "auditfs-entry/2\ntime x\n\n{}");
    cr_assert_eq(decode_raw(c, n, 1), AUDITFS_EFORMAT);
    cr_assert(strstr(auditfs_error_last(), "auditfs-entry/1"), "%s", auditfs_error_last());
    /* no blank line ending the header */
    n = 32 + put_record(c + 32, "auditfs-entry/1\ntime 2026-11-21T22:13:11.123456Z\ntype log");
    cr_assert_eq(decode_raw(c, n, 1), AUDITFS_EFORMAT);
    cr_assert(strstr(auditfs_error_last(), "blank line"), "%s", auditfs_error_last());
    /* one record more than the index says, and one fewer */
    n = 32 + put_record(c + 32, good);
    n += put_record(c + n, good);
    cr_assert_eq(decode_raw(c, n, 1), AUDITFS_EFORMAT, "2 records where the index says 1");
    cr_assert_eq(decode_raw(c, n, 3), AUDITFS_EFORMAT, "2 records where the index says 3");
    cr_assert_eq(decode_raw(c, n, 2), 0, "%s", auditfs_error_last());
    /* a record count the frame's size cannot hold (bounds the memory decoding takes) */
    cr_assert_eq(decode_raw(c, n, 100), AUDITFS_EFORMAT);
    /* a frame too short for its prev hash */
    cr_assert_eq(decode_raw(c, 20, 1), AUDITFS_EFORMAT);
    /* the same count bound when a caller builds its own one-frame index (the mount does) */
    afs_buf seg = AFS_BUF_INIT, frame = AFS_BUF_INIT;
    ZSTD_DCtx *d = ZSTD_createDCtx();
    raw_seg2(&seg, 7, c, n, 2);
    afs_seg_frame sf = {40, 7, (uint32_t)(seg.len - 40), (uint32_t)n, 1000000};
    afs_seg_index own = {7, 1000000, 1, &sf};
    cr_assert_eq(afs_seg_frame_decode(&frame, d, &own, 0, (uint8_t *)seg.data, seg.len, "t"),
                 AUDITFS_EFORMAT);
    cr_assert(strstr(auditfs_error_last(), "cannot fit"), "%s", auditfs_error_last());
    sf.count = 2;
    own.count = 2;
    cr_assert_eq(afs_seg_frame_decode(&frame, d, &own, 0, (uint8_t *)seg.data, seg.len, "t"), 0,
                 "%s", auditfs_error_last());
    afs_buf_release(&frame);
    afs_buf_release(&seg);
    ZSTD_freeDCtx(d);
}

Test(segment2, rebuilt_leaf_is_the_canonical_one)
{
    /* the example of docs/FORMAT.md section 7 */
    const char *stored = "auditfs-entry/1\ntime 2026-11-21T22:13:11.123456Z\ntype log\n"
                         "stream api\ntenant acme\nparty provider\nlayer platform\n\n"
                         "{\"actor\":\"ops-7\",\"a\":1}";
    const char *want = "auditfs-entry/1\nseq 41\ntime 2026-11-21T22:13:11.123456Z\ntype log\n"
                       "stream api\ntenant acme\nparty provider\nlayer platform\n"
                       "prev pZ0RvIbSo1mH5s8mIbJ8Qj0sVCGK6a1PqWIkR8pDk9c=\nlength 23\n\n"
                       "{\"actor\":\"ops-7\",\"a\":1}";
    uint8_t prev[32], out[1024];
    size_t got;
    cr_assert_eq(afs_b64_decode(prev, 32, "pZ0RvIbSo1mH5s8mIbJ8Qj0sVCGK6a1PqWIkR8pDk9c=", 44), 32);
    cr_assert_eq(
        afs_seg2_rebuild(&got, out, sizeof out, (const uint8_t *)stored, strlen(stored), 41, prev),
        0, "%s", auditfs_error_last());
    cr_assert_eq(got, 4 + strlen(want));
    cr_assert_eq(afs_load_be32(out), strlen(want));
    cr_assert_eq(memcmp(out + 4, want, strlen(want)), 0, "%.*s", (int)(got - 4), out + 4);
    /* and it parses as the entry it claims to be */
    auditfs_entry e;
    cr_assert_eq(auditfs_entry_parse(&e, out + 4, got - 4), 0, "%s", auditfs_error_last());
    cr_assert_eq(e.seq, 41);
    cr_assert_eq(e.payload_len, 23);
    /* too small an output buffer is refused, not overrun */
    cr_assert_eq(
        afs_seg2_rebuild(&got, out, 100, (const uint8_t *)stored, strlen(stored), 41, prev),
        AUDITFS_EFORMAT);
}

/* afs_seg_frame_decode_hashed: the hash of every record handed out, in order (the read-ahead
 * hands these to the walk instead of it hashing again), for AFSSEG2 and AFSSEG1 alike. */
Test(segment2, decode_hashed_gives_every_leaf_hash)
{
    static leaves L;
    static uint8_t hashes[NLEAVES][32];
    afs_buf seg = AFS_BUF_INIT, frame = AFS_BUF_INIT;
    afs_seg_index ix;
    ZSTD_DCtx *d = ZSTD_createDCtx();
    make_leaves(&L, 5000, NLEAVES);
    for (int version = 1; version <= 2; version++) {
        if (version == 2) {
            write_seg2(&seg, &L, 5000, NLEAVES);
        } else {
            afs_seg_writer w;
            cr_assert_eq(afs_seg_writer_init(&w, 1), 0);
            afs_seg_writer_reset(&w, 5000);
            for (unsigned i = 0; i < NLEAVES; i++)
                cr_assert_eq(afs_seg_writer_add(&w, L.leaf[i].data, L.leaf[i].len), 0);
            cr_assert_eq(afs_seg_writer_finish(&w, &seg), 0);
            afs_seg_writer_release(&w);
        }
        cr_assert_eq(afs_seg_index_parse(&ix, (uint8_t *)seg.data, seg.len, "t"), 0);
        cr_assert_gt(ix.nframes, 1, "several frames, so the last leaf of each is hashed too");
        memset(hashes, 0, sizeof hashes);
        unsigned k = 0;
        for (uint32_t f = 0; f < ix.nframes; f++) {
            uint8_t(*h)[32] = hashes + (ix.frames[f].first_seq - 5000);
            cr_assert_eq(afs_seg_frame_decode_hashed(&frame, h, d, &ix, f, (uint8_t *)seg.data,
                                                     seg.len, "t"),
                         0, "frame %u: %s", f, auditfs_error_last());
            size_t off = 0;
            const uint8_t *leaf;
            size_t len;
            while (afs_seg_record_next(&leaf, &len, &frame, &off)) {
                auditfs_hash want;
                auditfs_leaf_hash(&want, leaf, len);
                cr_assert_eq(memcmp(hashes[k], want.b, 32), 0, "v%d leaf %u", version, k);
                cr_assert_eq(memcmp(hashes[k], L.hash[k].b, 32), 0, "v%d leaf %u", version, k);
                k++;
            }
        }
        cr_assert_eq(k, NLEAVES);
        afs_seg_index_release(&ix);
    }
    afs_buf_release(&frame);
    afs_buf_release(&seg);
    free_leaves(&L, NLEAVES);
    ZSTD_freeDCtx(d);
}

/* A sealed one-frame segment: the helper thread builds the blob, its git id and its pack entry
 * (segment.c job_pack); they are what the writer's own path builds, the entry inflates with
 * zlib to the blob, its CRC-32 is zlib's, the id is libgit2's. Several frames: no packed form. */
/* Seals the first n of L (from seq 4096) and checks that the helper thread packed the segment:
 * the same blob as the writer's own path (write_seg2), libgit2's blob id, and a pack entry whose
 * CRC-32 and zlib stream (adler32) are right. */
static unsigned
check_packed(const leaves *L, unsigned n)
{
    afs_buf blob = AFS_BUF_INIT, entry = AFS_BUF_INIT, want = AFS_BUF_INIT, e2 = AFS_BUF_INIT;
    uint8_t sha1[20], sha2[20];
    uint32_t crc = 0, crc2 = 0;
    int packed = -1;
    afs_seg_writer w;
    cr_assert_eq(afs_seg_writer_init_version(&w, 1, 2), 0);
    afs_seg_writer_reset(&w, 4096);
    for (unsigned i = 0; i < n; i++)
        cr_assert_eq(afs_seg_writer_add_leaf(&w, L->leaf[i].data, L->leaf[i].len, L->hash[i].b), 0);
    cr_assert_eq(afs_seg_writer_seal(&w), 0);
    cr_assert_eq(afs_seg_writer_finish_packed(&w, &blob, &entry, &crc, sha1, &packed), 0, "%s",
                 auditfs_error_last());
    cr_assert_eq(packed, 1, "a sealed segment of %u leaves is packed by the helper", n);
    write_seg2(&want, L, 4096, n);
    cr_assert_eq(blob.len, want.len, "%u leaves", n);
    cr_assert_eq(memcmp(blob.data, want.data, want.len), 0, "the same blob as the inline path");
    cr_assert_eq(afs_pack_blob_entry(&e2, &crc2, sha2, want.data, want.len), 0);
    cr_assert_eq(entry.len, e2.len);
    cr_assert_eq(memcmp(entry.data, e2.data, e2.len), 0);
    cr_assert_eq(crc, crc2);
    cr_assert_eq(crc, (uint32_t)crc32(crc32(0, NULL, 0), (const Bytef *)entry.data,
                                      (uInt)entry.len));
    git_oid id;
    cr_assert_eq(git_odb_hash(&id, want.data, want.len, GIT_OBJECT_BLOB), 0);
    cr_assert_eq(memcmp(id.id, sha1, 20), 0, "libgit2's blob id");
    /* object header: type blob, size; then a zlib stream of the blob */
    const uint8_t *p = (const uint8_t *)entry.data;
    size_t h = 1, size = p[0] & 15, shift = 4;
    cr_assert_eq((p[0] >> 4) & 7, GIT_OBJECT_BLOB);
    for (uint8_t c = p[0]; c & 0x80; h++, shift += 7) {
        c = p[h];
        size |= (size_t)(c & 0x7f) << shift;
    }
    cr_assert_eq(size, want.len);
    uLongf got = (uLongf)want.len + 1;
    uint8_t *inflated = malloc(got);
    cr_assert_eq(uncompress(inflated, &got, p + h, (uLong)(entry.len - h)), Z_OK);
    cr_assert_eq(got, want.len);
    cr_assert_eq(memcmp(inflated, want.data, want.len), 0);
    free(inflated);
    const uint8_t *q = (const uint8_t *)want.data + 24; /* the index head's frame count */
    unsigned nframes = (unsigned)q[0] << 24 | (unsigned)q[1] << 16 | (unsigned)q[2] << 8 | q[3];
    afs_seg_writer_release(&w);
    afs_buf_release(&blob);
    afs_buf_release(&entry);
    afs_buf_release(&want);
    afs_buf_release(&e2);
    return nframes;
}

Test(segment2, sealed_segment_packed_by_the_helper)
{
    static leaves L;
    make_leaves(&L, 4096, NLEAVES);
    /* one frame, and several: the last frame's job builds the blob from the frames collected
     * before it */
    cr_assert_eq(check_packed(&L, 30), 1);
    unsigned n300 = check_packed(&L, 300), nall = check_packed(&L, NLEAVES);
    cr_assert_gt(nall, 2, "%u frames", nall);
    cr_assert_geq(nall, n300);
    free_leaves(&L, NLEAVES);
}
