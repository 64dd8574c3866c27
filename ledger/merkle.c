/*
 * ledger/merkle.c - RFC 6962 / RFC 9162 Merkle tree hashing, proofs and C2SP tlog-tiles paths.
 *
 * Proof generation never materialises a tree: it walks the RFC 6962 recursion from the root,
 * where every range [begin, end) it meets satisfies the invariant "begin is a multiple of the
 * smallest power of two >= end - begin". Under that invariant the left child of a split is a
 * complete, aligned subtree (one reader call) and the right child decomposes into complete
 * subtrees of strictly decreasing size (one reader call per set bit of its length). Only the
 * first right sibling on the tree's right edge can be incomplete, so a proof costs O(log n)
 * reads.
 */
#include "auditfs/merkle.h"
#include "internal.h"

#include <assert.h>
#include <inttypes.h>

void
auditfs_leaf_hash(auditfs_hash *out, const void *leaf, size_t len)
{
    static const uint8_t prefix = 0x00;
    afs_sha256_ctx c;
    afs_sha256_init(&c);
    afs_sha256_update(&c, &prefix, 1);
    if (len)
        afs_sha256_update(&c, leaf, len);
    afs_sha256_final(&c, out->b);
}

/* out may alias left or right: both are absorbed before the digest is written. */
void
auditfs_node_hash(auditfs_hash *out, const auditfs_hash *left, const auditfs_hash *right)
{
    uint8_t buf[1 + 2 * AUDITFS_HASH_BYTES];
    buf[0] = 0x01;
    memcpy(buf + 1, left->b, AUDITFS_HASH_BYTES);
    memcpy(buf + 1 + AUDITFS_HASH_BYTES, right->b, AUDITFS_HASH_BYTES);
    afs_sha256(out->b, buf, sizeof buf);
}

void
auditfs_empty_root(auditfs_hash *out)
{
    afs_sha256(out->b, "", 0);
}

int
auditfs_hash_equal(const auditfs_hash *a, const auditfs_hash *b)
{
    return afs_ct_equal(a->b, b->b, AUDITFS_HASH_BYTES);
}

/* ---- streaming tree ---- */

void
auditfs_merkle_stream_init(auditfs_merkle_stream *s)
{
    memset(s, 0, sizeof *s);
}

/* A stream that already holds 2^64 - 1 leaves cannot grow; the push is ignored. */
void
auditfs_merkle_stream_push(auditfs_merkle_stream *s, const auditfs_hash *leaf_hash)
{
    if (s->size == UINT64_MAX)
        return;
    auditfs_hash h = *leaf_hash;
    unsigned i = 0;
    while (s->size & ((uint64_t)1 << i)) {
        auditfs_node_hash(&h, &s->stack[i], &h);
        i++;
    }
    s->stack[i] = h;
    s->size++;
}

void
auditfs_merkle_stream_root(auditfs_hash *out, const auditfs_merkle_stream *s)
{
    if (s->size == 0) {
        auditfs_empty_root(out);
        return;
    }
    /* The smallest subtree is the rightmost; fold leftwards into ever larger ones. */
    unsigned i = (unsigned)__builtin_ctzll(s->size);
    auditfs_hash r = s->stack[i];
    for (i++; i < 64; i++) {
        if (s->size & ((uint64_t)1 << i))
            auditfs_node_hash(&r, &s->stack[i], &r);
    }
    *out = r;
}

/* ---- reading subtrees ---- */

static inline unsigned
log2_floor(uint64_t x)
{
    assert(x != 0);
    return 63u - (unsigned)__builtin_clzll(x);
}

/* The largest power of two strictly below n (n >= 2): the RFC 6962 split point. */
static inline uint64_t
split_point(uint64_t n)
{
    assert(n >= 2);
    return (uint64_t)1 << log2_floor(n - 1);
}

static int
read_node(auditfs_hash *out, unsigned level, uint64_t begin, auditfs_hash_reader reader,
          void *payload)
{
    assert(level < 64 && (begin & (((uint64_t)1 << level) - 1)) == 0); /* an aligned subtree */
    int rc = reader(out, level, begin >> level, payload);
    if (rc > 0)
        return afs_error_set(AUDITFS_ERROR, "hash reader returned %d", rc);
    return rc;
}

/*
 * MTH(D[begin:end]) for begin < end with begin a multiple of the largest power of two <= len.
 * The range splits into complete subtrees of strictly decreasing size, one per set bit of len;
 * walking from the right, the smallest is read first and each larger one is its left sibling.
 */
static int
range_root(auditfs_hash *out, uint64_t begin, uint64_t end, auditfs_hash_reader reader,
           void *payload)
{
    uint64_t len = end - begin;
    uint64_t pos = end;
    auditfs_hash acc, piece;
    bool have = false;
    assert(begin < end && (begin & (((uint64_t)1 << log2_floor(len)) - 1)) == 0);
    for (unsigned b = 0; b < 64 && (len >> b) != 0; b++) {
        if (!(len & ((uint64_t)1 << b)))
            continue;
        pos -= (uint64_t)1 << b;
        int rc = read_node(have ? &piece : &acc, b, pos, reader, payload);
        if (rc)
            return rc;
        if (have)
            auditfs_node_hash(&acc, &piece, &acc);
        have = true;
    }
    *out = acc;
    return 0;
}

int
auditfs_merkle_range_root(auditfs_hash *out, uint64_t begin, uint64_t end,
                          auditfs_hash_reader reader, void *payload)
{
    if (!out || !reader)
        return afs_error_set(AUDITFS_EINVAL, "merkle range root: NULL argument");
    if (begin >= end)
        return afs_error_set(AUDITFS_EINVAL, "merkle range [%" PRIu64 ", %" PRIu64 ") is empty",
                             begin, end);
    uint64_t align = (uint64_t)1 << log2_floor(end - begin);
    if (begin & (align - 1))
        return afs_error_set(AUDITFS_EINVAL,
                             "merkle range [%" PRIu64 ", %" PRIu64 ") is not an RFC 6962 subtree",
                             begin, end);
    return range_root(out, begin, end, reader, payload);
}

int
auditfs_merkle_root(auditfs_hash *out, uint64_t size, auditfs_hash_reader reader, void *payload)
{
    if (!out || !reader)
        return afs_error_set(AUDITFS_EINVAL, "merkle root: NULL argument");
    if (size == 0) {
        auditfs_empty_root(out);
        return 0;
    }
    return range_root(out, 0, size, reader, payload);
}

/* ---- proof generation ---- */

/* The walk's invariant (top of file): begin is a multiple of the smallest power of two that is
 * at least end - begin. */
static bool
aligned_range(uint64_t begin, uint64_t end)
{
    unsigned b = end - begin <= 1 ? 0 : log2_floor(end - begin - 1) + 1;
    return b >= 64 ? begin == 0 : (begin & (((uint64_t)1 << b) - 1)) == 0;
}

/* Reverses src[0..n) into dst: the walk collects siblings root-first; proofs go leaf-first. */
static void
reverse_into(auditfs_hash *dst, const auditfs_hash *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = src[n - 1 - i];
}

int
auditfs_merkle_prove_inclusion(auditfs_hash out[AUDITFS_MERKLE_MAX_INCLUSION], size_t *out_len,
                               uint64_t index, uint64_t size, auditfs_hash_reader reader,
                               void *payload)
{
    auditfs_hash tmp[AUDITFS_MERKLE_MAX_INCLUSION];
    size_t n = 0;
    uint64_t begin = 0, end = size;
    if (!out || !out_len || !reader)
        return afs_error_set(AUDITFS_EINVAL, "inclusion proof: NULL argument");
    if (index >= size)
        return afs_error_set(AUDITFS_EINVAL,
                             "inclusion proof: index %" PRIu64 " is not below tree size %" PRIu64,
                             index, size);
    /* Each step halves the power of two bounding end - begin, so n never exceeds 64. */
    while (end - begin > 1) {
        uint64_t k = split_point(end - begin);
        uint64_t mid = begin + k;
        int rc;
        assert(n < AUDITFS_MERKLE_MAX_INCLUSION && aligned_range(begin, end));
        if (index < mid) {
            rc = range_root(&tmp[n], mid, end, reader, payload);
            end = mid;
        } else {
            rc = read_node(&tmp[n], log2_floor(k), begin, reader, payload);
            begin = mid;
        }
        if (rc)
            return rc;
        n++;
    }
    reverse_into(out, tmp, n);
    *out_len = n;
    return 0;
}

int
auditfs_merkle_prove_consistency(auditfs_hash out[AUDITFS_MERKLE_MAX_CONSISTENCY], size_t *out_len,
                                 uint64_t m, uint64_t n, auditfs_hash_reader reader, void *payload)
{
    auditfs_hash tmp[AUDITFS_MERKLE_MAX_INCLUSION + 1];
    size_t cnt = 0;
    uint64_t begin = 0, end = n;
    bool whole = true; /* RFC 6962 SUBPROOF's b: D[begin:end] is a prefix the verifier knows */
    int rc;
    if (!out || !out_len || !reader)
        return afs_error_set(AUDITFS_EINVAL, "consistency proof: NULL argument");
    if (m == 0 || m > n)
        return afs_error_set(
            AUDITFS_EINVAL,
            "consistency proof: sizes %" PRIu64 " -> %" PRIu64 " are not 0 < m <= n", m, n);
    /* SUBPROOF(m - begin, D[begin:end], whole); once it recurses left every range is complete. */
    while (m - begin != end - begin) {
        uint64_t k = split_point(end - begin);
        uint64_t mid = begin + k;
        assert(cnt < sizeof tmp / sizeof tmp[0] && aligned_range(begin, end));
        if (m <= mid) {
            rc = range_root(&tmp[cnt], mid, end, reader, payload);
            end = mid;
        } else {
            rc = read_node(&tmp[cnt], log2_floor(k), begin, reader, payload);
            begin = mid;
            whole = false;
        }
        if (rc)
            return rc;
        cnt++;
    }
    size_t o = 0;
    if (!whole) {
        /* D[begin:end] is complete here: whole is false only after a right step, which the
         * loop can leave only after a later left step into a power-of-two range. */
        assert(((end - begin) & (end - begin - 1)) == 0);
        rc = range_root(&out[o++], begin, end, reader, payload);
        if (rc)
            return rc;
    }
    assert(o + cnt <= AUDITFS_MERKLE_MAX_CONSISTENCY);
    reverse_into(out + o, tmp, cnt);
    *out_len = o + cnt;
    return 0;
}

/* ---- verification (RFC 9162 2.1.3.2 and 2.1.4.2) ---- */

/* The length of the inclusion path for index < size. */
static size_t
inclusion_len(uint64_t index, uint64_t size)
{
    uint64_t last = size - 1;
    unsigned inner = (index ^ last) ? log2_floor(index ^ last) + 1 : 0;
    unsigned border = inner < 64 ? (unsigned)__builtin_popcountll(index >> inner) : 0;
    return (size_t)inner + border;
}

int
auditfs_merkle_verify_inclusion(const auditfs_hash *leaf_hash, uint64_t index, uint64_t size,
                                const auditfs_hash *path, size_t path_len, const auditfs_hash *root)
{
    if (!leaf_hash || !root || (!path && path_len))
        return afs_error_set(AUDITFS_EINVAL, "verify inclusion: NULL argument");
    if (index >= size)
        return afs_error_set(
            AUDITFS_EVERIFY,
            "inclusion proof: leaf index %" PRIu64 " is not below tree size %" PRIu64, index, size);
    size_t want = inclusion_len(index, size);
    if (path_len != want)
        return afs_error_set(AUDITFS_EVERIFY,
                             "inclusion proof for leaf %" PRIu64 " in tree of size %" PRIu64
                             " has %zu hashes, expected %zu",
                             index, size, path_len, want);
    uint64_t fn = index, sn = size - 1;
    auditfs_hash r = *leaf_hash;
    for (size_t i = 0; i < path_len; i++) {
        if (sn == 0)
            return afs_error_set(AUDITFS_EVERIFY, "inclusion proof is too long");
        if ((fn & 1) || fn == sn) {
            auditfs_node_hash(&r, &path[i], &r);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            auditfs_node_hash(&r, &r, &path[i]);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0)
        return afs_error_set(AUDITFS_EVERIFY, "inclusion proof is too short");
    if (!auditfs_hash_equal(&r, root))
        return afs_error_set(AUDITFS_EVERIFY,
                             "inclusion proof for leaf %" PRIu64 " in tree of size %" PRIu64
                             " does not lead to the expected root",
                             index, size);
    return 0;
}

int
auditfs_merkle_verify_consistency(uint64_t m, uint64_t n, const auditfs_hash *root1,
                                  const auditfs_hash *root2, const auditfs_hash *proof,
                                  size_t proof_len)
{
    if (!root1 || !root2 || (!proof && proof_len))
        return afs_error_set(AUDITFS_EINVAL, "verify consistency: NULL argument");
    if (m > n)
        return afs_error_set(
            AUDITFS_EVERIFY,
            "consistency proof: first size %" PRIu64 " exceeds second size %" PRIu64, m, n);
    if (m == n) {
        if (proof_len)
            return afs_error_set(AUDITFS_EVERIFY,
                                 "consistency proof between equal sizes must be empty");
        if (!auditfs_hash_equal(root1, root2))
            return afs_error_set(AUDITFS_EVERIFY,
                                 "trees of equal size %" PRIu64 " have different roots", m);
        return 0;
    }
    if (m == 0) {
        if (proof_len)
            return afs_error_set(AUDITFS_EVERIFY,
                                 "consistency proof from the empty tree must be empty");
        return 0;
    }
    if (proof_len == 0)
        return afs_error_set(AUDITFS_EVERIFY,
                             "consistency proof %" PRIu64 " -> %" PRIu64 " is empty", m, n);
    if (proof_len > AUDITFS_MERKLE_MAX_CONSISTENCY)
        return afs_error_set(AUDITFS_EVERIFY, "consistency proof has %zu hashes, more than %d",
                             proof_len, AUDITFS_MERKLE_MAX_CONSISTENCY);

    /* When m is a power of two the old root is itself the first node of the proof. */
    bool prepend = (m & (m - 1)) == 0;
    size_t total = proof_len + prepend;
    uint64_t fn = m - 1, sn = n - 1;
    while (fn & 1) {
        fn >>= 1;
        sn >>= 1;
    }
    auditfs_hash fr = prepend ? *root1 : proof[0];
    auditfs_hash sr = fr;
    for (size_t i = 1; i < total; i++) {
        const auditfs_hash *c = &proof[i - prepend];
        if (sn == 0)
            return afs_error_set(AUDITFS_EVERIFY,
                                 "consistency proof %" PRIu64 " -> %" PRIu64 " is too long", m, n);
        if ((fn & 1) || fn == sn) {
            auditfs_node_hash(&fr, c, &fr);
            auditfs_node_hash(&sr, c, &sr);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            auditfs_node_hash(&sr, &sr, c);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0)
        return afs_error_set(AUDITFS_EVERIFY,
                             "consistency proof %" PRIu64 " -> %" PRIu64 " is too short", m, n);
    int ok1 = auditfs_hash_equal(&fr, root1);
    int ok2 = auditfs_hash_equal(&sr, root2);
    if (!(ok1 & ok2))
        return afs_error_set(AUDITFS_EVERIFY,
                             "consistency proof %" PRIu64 " -> %" PRIu64
                             " does not match the %s root",
                             m, n, ok1 ? "second" : "first");
    return 0;
}

/* ---- C2SP tlog-tiles paths ---- */

int
auditfs_tile_path(char out[AUDITFS_TILE_PATH_MAX], unsigned level, uint64_t index, unsigned width)
{
    char groups[7][3];
    int ng = 0;
    if (!out)
        return afs_error_set(AUDITFS_EINVAL, "tile path: NULL output");
    if (level > 63)
        return afs_error_set(AUDITFS_EINVAL, "tile level %u is above 63", level);
    if (width == 0 || width > AUDITFS_TILE_WIDTH)
        return afs_error_set(AUDITFS_EINVAL, "tile width %u is not in 1..%d", width,
                             AUDITFS_TILE_WIDTH);
    do {
        unsigned g = (unsigned)(index % 1000);
        groups[ng][0] = (char)('0' + g / 100);
        groups[ng][1] = (char)('0' + g / 10 % 10);
        groups[ng][2] = (char)('0' + g % 10);
        ng++;
        index /= 1000;
    } while (index);

    /* Worst case: "tile/63/" + 6 * "x000/" + "000" + ".p/255" + NUL = 48 bytes. */
    char *p = out;
    memcpy(p, "tile/", 5);
    p += 5;
    if (level >= 10)
        *p++ = (char)('0' + level / 10);
    *p++ = (char)('0' + level % 10);
    *p++ = '/';
    for (int i = ng - 1; i >= 0; i--) {
        if (i > 0)
            *p++ = 'x';
        memcpy(p, groups[i], 3);
        p += 3;
        if (i > 0)
            *p++ = '/';
    }
    if (width < AUDITFS_TILE_WIDTH) {
        memcpy(p, ".p/", 3);
        p += 3;
        if (width >= 100)
            *p++ = (char)('0' + width / 100);
        if (width >= 10)
            *p++ = (char)('0' + width / 10 % 10);
        *p++ = (char)('0' + width % 10);
    }
    *p = '\0';
    return 0;
}

static bool
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Three decimal digits at p; sets *v. */
static bool
group3(const char *p, unsigned *v)
{
    if (!is_digit(p[0]) || !is_digit(p[1]) || !is_digit(p[2]))
        return false;
    *v = (unsigned)(p[0] - '0') * 100 + (unsigned)(p[1] - '0') * 10 + (unsigned)(p[2] - '0');
    return true;
}

/*
 * Canonical decimal of 1..maxdigits digits at *pp without leading zeroes, advancing *pp.
 * The result is at most 999 so it cannot overflow.
 */
static bool
small_decimal(const char **pp, unsigned maxdigits, unsigned *v)
{
    const char *p = *pp;
    unsigned n = 0, x = 0;
    while (n < maxdigits && is_digit(p[n])) {
        x = x * 10 + (unsigned)(p[n] - '0');
        n++;
    }
    if (n == 0 || is_digit(p[n]) || (p[0] == '0' && n > 1))
        return false;
    *pp = p + n;
    *v = x;
    return true;
}

int
auditfs_tile_path_parse(unsigned *level, uint64_t *index, unsigned *width, const char *path)
{
    const char *p = path;
    unsigned lv, g, w = AUDITFS_TILE_WIDTH;
    uint64_t idx = 0;
    int ng = 0;
    if (!level || !index || !width || !path)
        return afs_error_set(AUDITFS_EINVAL, "tile path parse: NULL argument");
    if (strncmp(p, "tile/", 5) != 0)
        return afs_error_set(AUDITFS_EFORMAT, "tile path \"%.80s\": expected \"tile/\"", path);
    p += 5;
    if (!small_decimal(&p, 2, &lv) || lv > 63 || *p != '/')
        return afs_error_set(AUDITFS_EFORMAT, "tile path \"%.80s\": bad level", path);
    p++;
    /* "x" groups, each followed by '/', then one final group without the prefix. */
    for (;;) {
        bool x = *p == 'x';
        if (x)
            p++;
        if (!group3(p, &g))
            return afs_error_set(AUDITFS_EFORMAT, "tile path \"%.80s\": bad index group", path);
        p += 3;
        if (ng == 0 && x && g == 0)
            return afs_error_set(AUDITFS_EFORMAT, "tile path \"%.80s\": leading zero group", path);
        if (idx > (UINT64_MAX - g) / 1000)
            return afs_error_set(AUDITFS_EFORMAT, "tile path \"%.80s\": index overflows", path);
        idx = idx * 1000 + g;
        ng++;
        if (!x)
            break;
        if (*p != '/')
            return afs_error_set(AUDITFS_EFORMAT, "tile path \"%.80s\": expected '/' after group",
                                 path);
        p++;
    }
    if (*p == '.') {
        if (strncmp(p, ".p/", 3) != 0)
            return afs_error_set(AUDITFS_EFORMAT, "tile path \"%.80s\": bad partial suffix", path);
        p += 3;
        if (!small_decimal(&p, 3, &w) || w == 0 || w >= AUDITFS_TILE_WIDTH)
            return afs_error_set(AUDITFS_EFORMAT, "tile path \"%.80s\": bad partial width", path);
    }
    if (*p != '\0')
        return afs_error_set(AUDITFS_EFORMAT, "tile path \"%.80s\": trailing characters", path);
    *level = lv;
    *index = idx;
    *width = w;
    return 0;
}
