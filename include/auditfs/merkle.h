/*
 * auditfs/merkle.h - RFC 6962 / RFC 9162 Merkle tree hashing and proofs, and C2SP tlog-tiles paths.
 *
 * leaf hash  = SHA-256(0x00 || leaf bytes)
 * node hash  = SHA-256(0x01 || left || right)
 * empty root = SHA-256("")
 * MTH(D[0:n]) splits at k, the largest power of two smaller than n.
 *
 * Proof generation reads complete-subtree hashes through a callback, so it costs O(log n) reads
 * whatever stores them (tiles in git, an array in a test). Verification follows RFC 9162
 * 2.1.3.2 (inclusion) and 2.1.4.2 (consistency) and compares digests in constant time.
 */
#ifndef AUDITFS_MERKLE_H
#define AUDITFS_MERKLE_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Longest inclusion proof (tree sizes are below 2^63). */
#define AUDITFS_MERKLE_MAX_INCLUSION 64
/** Longest consistency proof. */
#define AUDITFS_MERKLE_MAX_CONSISTENCY 128

AUDITFS_API void auditfs_leaf_hash(auditfs_hash *out, const void *leaf, size_t len);
AUDITFS_API void auditfs_node_hash(auditfs_hash *out, const auditfs_hash *left,
                                   const auditfs_hash *right);
AUDITFS_API void auditfs_empty_root(auditfs_hash *out);

/** Constant-time digest comparison: 1 if equal, 0 if not. */
AUDITFS_API int auditfs_hash_equal(const auditfs_hash *a, const auditfs_hash *b);

/**
 * A streaming tree: push leaf hashes in order, read MTH of everything pushed so far at any time.
 * State is O(log n): stack[i] holds the root of a complete subtree of 2^i leaves when bit i of
 * size is set. Embedded in caller storage; no allocation.
 */
typedef struct auditfs_merkle_stream {
    uint64_t size;
    auditfs_hash stack[64];
} auditfs_merkle_stream;

AUDITFS_API void auditfs_merkle_stream_init(auditfs_merkle_stream *s);
AUDITFS_API void auditfs_merkle_stream_push(auditfs_merkle_stream *s, const auditfs_hash *leaf_hash);
/** MTH of the leaves pushed so far (the empty root when none). */
AUDITFS_API void auditfs_merkle_stream_root(auditfs_hash *out, const auditfs_merkle_stream *s);

/**
 * Reads the hash of the complete subtree at tree level `level` (covering 2^level leaves) with
 * index `index`, i.e. MTH(D[index*2^level : (index+1)*2^level]). Level 0 is a leaf hash.
 * Returns 0, or a negative AUDITFS_E* code which the caller passes on.
 */
typedef int (*auditfs_hash_reader)(auditfs_hash *out, unsigned level, uint64_t index, void *payload);

/** MTH(D[begin:end]) for any range that is a valid RFC 6962 subtree split, via the reader. */
AUDITFS_API int auditfs_merkle_range_root(auditfs_hash *out, uint64_t begin, uint64_t end,
                                          auditfs_hash_reader reader, void *payload) AUDITFS_WUR;

/** The RFC 6962 root of a tree of `size` leaves via the reader. */
AUDITFS_API int auditfs_merkle_root(auditfs_hash *out, uint64_t size, auditfs_hash_reader reader,
                                    void *payload) AUDITFS_WUR;

/** Inclusion proof (audit path, leaf sibling first) for `index` in a tree of `size` leaves. */
AUDITFS_API int auditfs_merkle_prove_inclusion(auditfs_hash out[AUDITFS_MERKLE_MAX_INCLUSION],
                                               size_t *out_len, uint64_t index, uint64_t size,
                                               auditfs_hash_reader reader,
                                               void *payload) AUDITFS_WUR;

/** Consistency proof from size m to size n (0 < m <= n); empty when m == n. */
AUDITFS_API int auditfs_merkle_prove_consistency(auditfs_hash out[AUDITFS_MERKLE_MAX_CONSISTENCY],
                                                 size_t *out_len, uint64_t m, uint64_t n,
                                                 auditfs_hash_reader reader,
                                                 void *payload) AUDITFS_WUR;

/** 0 if the path proves leaf_hash at index in the tree of `size` with `root`, else EVERIFY. */
AUDITFS_API int auditfs_merkle_verify_inclusion(const auditfs_hash *leaf_hash, uint64_t index,
                                                uint64_t size, const auditfs_hash *path,
                                                size_t path_len,
                                                const auditfs_hash *root) AUDITFS_WUR;

/** 0 if the proof shows tree (m, root1) is a prefix of tree (n, root2), else EVERIFY. */
AUDITFS_API int auditfs_merkle_verify_consistency(uint64_t m, uint64_t n, const auditfs_hash *root1,
                                                  const auditfs_hash *root2,
                                                  const auditfs_hash *proof,
                                                  size_t proof_len) AUDITFS_WUR;

/* ---- C2SP tlog-tiles ---- */

#define AUDITFS_TILE_HEIGHT 8
#define AUDITFS_TILE_WIDTH 256
/** Longest tile path: "tile/63/" + 7 groups "x000/" + ".p/255" with room to spare. */
#define AUDITFS_TILE_PATH_MAX 64

/**
 * Formats "tile/<L>/<N>[.p/<W>]" into out (NUL-terminated). width is 1..256; 256 is a full
 * tile (no .p suffix). level is the tile level (0..63), index the tile index.
 */
AUDITFS_API int auditfs_tile_path(char out[AUDITFS_TILE_PATH_MAX], unsigned level, uint64_t index,
                                  unsigned width) AUDITFS_WUR;

/** Parses a tile path formatted as above; rejects leading zeroes, bad groups, width 0 or > 255. */
AUDITFS_API int auditfs_tile_path_parse(unsigned *level, uint64_t *index, unsigned *width,
                                        const char *path) AUDITFS_WUR;

#ifdef __cplusplus
}
#endif
#endif
