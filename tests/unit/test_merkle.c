#include "auditfs/merkle.h"
#include "internal.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- helpers ---- */

static void
hex_to(uint8_t *out, size_t n, const char *hex)
{
    cr_assert_eq(strlen(hex), 2 * n, "bad hex fixture %s", hex);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        cr_assert_eq(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
}

static auditfs_hash
H(const char *hex)
{
    auditfs_hash h;
    hex_to(h.b, sizeof h.b, hex);
    return h;
}

static bool
heq(const auditfs_hash *a, const auditfs_hash *b)
{
    return memcmp(a->b, b->b, AUDITFS_HASH_BYTES) == 0;
}

/* A tree holding every complete subtree hash, served through the reader callback. */
typedef struct tree {
    uint64_t size;
    auditfs_hash *level[12];
    unsigned reads;
} tree;

static void
tree_build(tree *t, const auditfs_hash *leaves, uint64_t n)
{
    memset(t, 0, sizeof *t);
    t->size = n;
    cr_assert(n < (1u << 11));
    for (unsigned l = 0; l < 12; l++) {
        uint64_t cnt = n >> l;
        t->level[l] = calloc(cnt ? cnt : 1, sizeof(auditfs_hash));
        for (uint64_t i = 0; i < cnt; i++) {
            if (l == 0)
                t->level[0][i] = leaves[i];
            else
                auditfs_node_hash(&t->level[l][i], &t->level[l - 1][2 * i],
                                  &t->level[l - 1][2 * i + 1]);
        }
    }
}

static void
tree_free(tree *t)
{
    for (unsigned l = 0; l < 12; l++)
        free(t->level[l]);
}

/* Refuses anything that is not a complete subtree inside the tree. */
static int
tree_reader(auditfs_hash *out, unsigned level, uint64_t index, void *payload)
{
    tree *t = payload;
    t->reads++;
    if (level >= 12 || ((index + 1) << level) > t->size)
        return AUDITFS_ENOTFOUND;
    *out = t->level[level][index];
    return 0;
}

static int
failing_reader(auditfs_hash *out, unsigned level, uint64_t index, void *payload)
{
    (void)out, (void)level, (void)index, (void)payload;
    return AUDITFS_EIO;
}

/* ---- an independent, naive RFC 6962 section 2.1 implementation ---- */

static uint64_t
split(uint64_t n)
{
    uint64_t k = 1;
    while (k * 2 < n)
        k *= 2;
    return k;
}

static void
naive_mth(auditfs_hash *out, const auditfs_hash *d, uint64_t n)
{
    if (n == 0) {
        auditfs_empty_root(out);
    } else if (n == 1) {
        *out = d[0];
    } else {
        uint64_t k = split(n);
        auditfs_hash l, r;
        naive_mth(&l, d, k);
        naive_mth(&r, d + k, n - k);
        auditfs_node_hash(out, &l, &r);
    }
}

static void
naive_path(auditfs_hash *out, size_t *len, uint64_t m, const auditfs_hash *d, uint64_t n)
{
    if (n <= 1)
        return;
    uint64_t k = split(n);
    if (m < k) {
        naive_path(out, len, m, d, k);
        naive_mth(&out[(*len)++], d + k, n - k);
    } else {
        naive_path(out, len, m - k, d + k, n - k);
        naive_mth(&out[(*len)++], d, k);
    }
}

static void
naive_subproof(auditfs_hash *out, size_t *len, uint64_t m, const auditfs_hash *d, uint64_t n,
               bool b)
{
    if (m == n) {
        if (!b)
            naive_mth(&out[(*len)++], d, m);
        return;
    }
    uint64_t k = split(n);
    if (m <= k) {
        naive_subproof(out, len, m, d, k, b);
        naive_mth(&out[(*len)++], d + k, n - k);
    } else {
        naive_subproof(out, len, m - k, d + k, n - k, false);
        naive_mth(&out[(*len)++], d, k);
    }
}

/* ---- fixed data: transparency-dev/merkle rfc6962_test.go and proof/verify_test.go ---- */

/* clang-format off */
static const char *const ref_leaves_hex[8] = {
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
};

static const char *const ref_roots[8] = {
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

typedef struct ref_proof {
    uint64_t a, b; /* (leaf index, size) or (m, n) */
    size_t n;
    const char *hex[3];
} ref_proof;

/* verify_test.go lists leaves 1-based; these are 0-based indexes. */
static const ref_proof ref_inclusion[] = {
    {0, 8, 3,
     {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
    {5, 8, 3,
     {"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {2, 3, 1, {"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"}},
    {1, 5, 3,
     {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
    {0, 1, 0, {NULL}},
};

static const ref_proof ref_consistency[] = {
    {1, 8, 3,
     {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
    {6, 8, 3,
     {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {2, 5, 2,
     {"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
    {6, 7, 3,
     {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
      "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {1, 1, 0, {NULL}},
};

/* clang-format on */

static auditfs_hash ref_leaf[8];
static tree ref_tree;

static void
ref_setup(void)
{
    for (int i = 0; i < 8; i++) {
        uint8_t buf[16];
        size_t n = strlen(ref_leaves_hex[i]) / 2;
        hex_to(buf, n, ref_leaves_hex[i]);
        auditfs_leaf_hash(&ref_leaf[i], buf, n);
    }
    tree_build(&ref_tree, ref_leaf, 8);
}

static void
ref_teardown(void)
{
    tree_free(&ref_tree);
}

static void
load_ref(auditfs_hash *out, const ref_proof *r)
{
    for (size_t i = 0; i < r->n; i++)
        out[i] = H(r->hex[i]);
}

/* ---- hasher ---- */

Test(merkle, rfc6962_hasher_known_answers)
{
    auditfs_hash h, a, b;
    auditfs_empty_root(&h);
    cr_assert(heq(&h, &(auditfs_hash){0}) == false);
    auditfs_hash want = H("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    cr_assert(heq(&h, &want), "empty root");
    auditfs_leaf_hash(&h, NULL, 0);
    want = H("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
    cr_assert(heq(&h, &want), "empty leaf");
    auditfs_leaf_hash(&h, "L123456", 7);
    want = H("395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56");
    cr_assert(heq(&h, &want), "leaf L123456");

    /* HashChildren("N123", "N456"): node_hash only takes 32-byte children, so hash by hand. */
    uint8_t pre[9] = {0x01, 'N', '1', '2', '3', 'N', '4', '5', '6'};
    afs_sha256(h.b, pre, sizeof pre);
    want = H("aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb");
    cr_assert(heq(&h, &want), "node N123 N456");

    /* node_hash = SHA-256(0x01 || l || r), and order matters. */
    auditfs_leaf_hash(&a, "Hello", 5);
    auditfs_leaf_hash(&b, "World", 5);
    uint8_t cat[65];
    cat[0] = 1;
    memcpy(cat + 1, a.b, 32);
    memcpy(cat + 33, b.b, 32);
    auditfs_hash manual, n1, n2;
    afs_sha256(manual.b, cat, sizeof cat);
    auditfs_node_hash(&n1, &a, &b);
    auditfs_node_hash(&n2, &b, &a);
    cr_assert(heq(&n1, &manual));
    cr_assert(!heq(&n1, &n2));
    /* aliasing output with an input is allowed */
    auditfs_hash alias = a;
    auditfs_node_hash(&alias, &alias, &b);
    cr_assert(heq(&alias, &n1));
}

Test(merkle, hash_equal)
{
    auditfs_hash a = H("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328");
    auditfs_hash b = a;
    cr_assert_eq(auditfs_hash_equal(&a, &b), 1);
    b.b[31] ^= 1;
    cr_assert_eq(auditfs_hash_equal(&a, &b), 0);
    b = a;
    b.b[0] ^= 0x80;
    cr_assert_eq(auditfs_hash_equal(&a, &b), 0);
}

/* ---- roots ---- */

Test(merkle, reference_roots_1_to_8, .init = ref_setup, .fini = ref_teardown)
{
    auditfs_merkle_stream s;
    auditfs_merkle_stream_init(&s);
    for (uint64_t n = 1; n <= 8; n++) {
        auditfs_hash want = H(ref_roots[n - 1]), got;
        cr_assert_eq(auditfs_merkle_root(&got, n, tree_reader, &ref_tree), 0);
        cr_assert(heq(&got, &want), "reader root for size %lu", (unsigned long)n);
        naive_mth(&got, ref_leaf, n);
        cr_assert(heq(&got, &want), "naive root for size %lu", (unsigned long)n);
        auditfs_merkle_stream_push(&s, &ref_leaf[n - 1]);
        auditfs_merkle_stream_root(&got, &s);
        cr_assert(heq(&got, &want), "stream root for size %lu", (unsigned long)n);
        cr_assert_eq(s.size, n);
    }
    auditfs_hash e, want = H("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    cr_assert_eq(auditfs_merkle_root(&e, 0, tree_reader, &ref_tree), 0);
    cr_assert(heq(&e, &want));
    auditfs_merkle_stream_init(&s);
    auditfs_merkle_stream_root(&e, &s);
    cr_assert(heq(&e, &want));
}

Test(merkle, range_root, .init = ref_setup, .fini = ref_teardown)
{
    auditfs_hash got, want;
    /* valid subtree ranges of the 8-leaf tree */
    static const uint64_t ok[][2] = {{0, 8}, {4, 8}, {4, 7}, {4, 6}, {6, 7}, {0, 3},
                                     {2, 4}, {5, 6}, {0, 5}, {0, 7}, {2, 5}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        cr_assert_eq(auditfs_merkle_range_root(&got, ok[i][0], ok[i][1], tree_reader, &ref_tree),
                     0);
        naive_mth(&want, ref_leaf + ok[i][0], ok[i][1] - ok[i][0]);
        cr_assert(heq(&got, &want), "range [%lu,%lu)", (unsigned long)ok[i][0],
                  (unsigned long)ok[i][1]);
    }
    static const uint64_t bad[][2] = {{1, 3}, {2, 6}, {3, 5}, {1, 8}, {5, 5}, {6, 4}, {3, 6}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(auditfs_merkle_range_root(&got, bad[i][0], bad[i][1], tree_reader, &ref_tree),
                     AUDITFS_EINVAL, "range [%lu,%lu)", (unsigned long)bad[i][0],
                     (unsigned long)bad[i][1]);
    cr_assert_eq(auditfs_merkle_root(&got, 3, failing_reader, NULL), AUDITFS_EIO);
}

/* ---- inclusion ---- */

Test(merkle, reference_inclusion_proofs, .init = ref_setup, .fini = ref_teardown)
{
    for (size_t v = 0; v < sizeof ref_inclusion / sizeof ref_inclusion[0]; v++) {
        const ref_proof *r = &ref_inclusion[v];
        auditfs_hash want[3], got[AUDITFS_MERKLE_MAX_INCLUSION], root = H(ref_roots[r->b - 1]);
        size_t n = 99;
        load_ref(want, r);
        cr_assert_eq(auditfs_merkle_prove_inclusion(got, &n, r->a, r->b, tree_reader, &ref_tree),
                     0);
        cr_assert_eq(n, r->n, "proof length for %lu/%lu", (unsigned long)r->a, (unsigned long)r->b);
        for (size_t i = 0; i < n; i++)
            cr_assert(heq(&got[i], &want[i]), "proof[%zu] for %lu/%lu", i, (unsigned long)r->a,
                      (unsigned long)r->b);
        cr_assert_eq(
            auditfs_merkle_verify_inclusion(&ref_leaf[r->a], r->a, r->b, want, r->n, &root), 0,
            "%s", auditfs_error_last());
    }
}

Test(merkle, every_inclusion_proof_in_8_leaf_tree, .init = ref_setup, .fini = ref_teardown)
{
    for (uint64_t size = 1; size <= 8; size++) {
        auditfs_hash root = H(ref_roots[size - 1]);
        for (uint64_t i = 0; i < size; i++) {
            auditfs_hash got[64], want[64];
            size_t n, wn = 0;
            cr_assert_eq(auditfs_merkle_prove_inclusion(got, &n, i, size, tree_reader, &ref_tree),
                         0);
            naive_path(want, &wn, i, ref_leaf, size);
            cr_assert_eq(n, wn);
            for (size_t k = 0; k < n; k++)
                cr_assert(heq(&got[k], &want[k]));
            cr_assert_eq(auditfs_merkle_verify_inclusion(&ref_leaf[i], i, size, got, n, &root), 0,
                         "%lu/%lu: %s", (unsigned long)i, (unsigned long)size,
                         auditfs_error_last());
            /* the proof binds the leaf to its position */
            for (uint64_t j = 0; j < size; j++) {
                if (j != i)
                    cr_assert_neq(
                        auditfs_merkle_verify_inclusion(&ref_leaf[j], i, size, got, n, &root), 0);
            }
        }
    }
}

/* The corruptions of verify_test.go's corruptInclusionProof. */
static void
check_inclusion_corruptions(uint64_t index, uint64_t size, const auditfs_hash *proof, size_t n,
                            const auditfs_hash *root, const auditfs_hash *leaf)
{
    auditfs_hash some = H("abacaba000000000000000000000000000000000000000000060061e00123456");
    auditfs_hash empty = H("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    auditfs_hash zero = {{0}}, wrong_leaf, buf[70];
    auditfs_leaf_hash(&wrong_leaf, "WrongLeaf", 9);

    cr_assert_eq(auditfs_merkle_verify_inclusion(leaf, index, size, proof, n, root), 0);
    cr_assert_eq(auditfs_merkle_verify_inclusion(leaf, index - 1, size, proof, n, root),
                 AUDITFS_EVERIFY);
    cr_assert_eq(auditfs_merkle_verify_inclusion(leaf, index + 1, size, proof, n, root),
                 AUDITFS_EVERIFY);
    cr_assert_eq(auditfs_merkle_verify_inclusion(leaf, index ^ 2, size, proof, n, root),
                 AUDITFS_EVERIFY);
    cr_assert_eq(auditfs_merkle_verify_inclusion(leaf, index, size * 2, proof, n, root),
                 AUDITFS_EVERIFY);
    cr_assert_eq(auditfs_merkle_verify_inclusion(leaf, index, size / 2, proof, n, root),
                 AUDITFS_EVERIFY);
    cr_assert_eq(auditfs_merkle_verify_inclusion(&wrong_leaf, index, size, proof, n, root),
                 AUDITFS_EVERIFY);
    cr_assert_eq(auditfs_merkle_verify_inclusion(leaf, index, size, proof, n, &empty),
                 AUDITFS_EVERIFY);
    cr_assert_eq(auditfs_merkle_verify_inclusion(leaf, index, size, proof, n, &some),
                 AUDITFS_EVERIFY);
    /* trailing / preceding garbage and roots */
    const auditfs_hash *extra[] = {&zero, root};
    for (int e = 0; e < 2; e++) {
        memcpy(buf, proof, n * sizeof *buf);
        buf[n] = *extra[e];
        cr_assert_eq(auditfs_merkle_verify_inclusion(leaf, index, size, buf, n + 1, root),
                     AUDITFS_EVERIFY);
        buf[0] = *extra[e];
        memcpy(buf + 1, proof, n * sizeof *buf);
        cr_assert_eq(auditfs_merkle_verify_inclusion(leaf, index, size, buf, n + 1, root),
                     AUDITFS_EVERIFY);
    }
    for (size_t i = 0; i < n; i++) {
        memcpy(buf, proof, n * sizeof *buf);
        buf[i].b[0] ^= 8;
        cr_assert_eq(auditfs_merkle_verify_inclusion(leaf, index, size, buf, n, root),
                     AUDITFS_EVERIFY, "flipped proof[%zu]", i);
    }
    if (n > 0)
        cr_assert_eq(auditfs_merkle_verify_inclusion(leaf, index, size, proof, n - 1, root),
                     AUDITFS_EVERIFY, "removed component");
    if (n > 1) {
        buf[0] = proof[0];
        buf[1] = some;
        memcpy(buf + 2, proof + 1, (n - 1) * sizeof *buf);
        cr_assert_eq(auditfs_merkle_verify_inclusion(leaf, index, size, buf, n + 1, root),
                     AUDITFS_EVERIFY, "inserted component");
    }
}

Test(merkle, inclusion_negative_cases, .init = ref_setup, .fini = ref_teardown)
{
    for (size_t v = 0; v < sizeof ref_inclusion / sizeof ref_inclusion[0]; v++) {
        const ref_proof *r = &ref_inclusion[v];
        auditfs_hash proof[3], root = H(ref_roots[r->b - 1]);
        load_ref(proof, r);
        check_inclusion_corruptions(r->a, r->b, proof, r->n, &root, &ref_leaf[r->a]);
    }
    auditfs_hash some = H("abacaba000000000000000000000000000000000000000000060061e00123456");
    auditfs_hash empty = H("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    static const uint64_t probes[][2] = {{0, 0}, {1, 0}, {2, 1}, {1, 1}, {UINT64_MAX, 5}};
    for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
        cr_assert_eq(
            auditfs_merkle_verify_inclusion(&some, probes[i][0], probes[i][1], NULL, 0, &empty),
            AUDITFS_EVERIFY);
    }
    cr_assert(strstr(auditfs_error_last(), "not below tree size") != NULL, "%s",
              auditfs_error_last());
    /* a single-leaf tree: root == leaf, empty proof */
    cr_assert_eq(auditfs_merkle_verify_inclusion(&some, 0, 1, NULL, 0, &some), 0);
    cr_assert_eq(auditfs_merkle_verify_inclusion(&some, 0, 1, NULL, 0, &empty), AUDITFS_EVERIFY);
    /* generation rejects out-of-range indexes */
    auditfs_hash out[64];
    size_t n;
    cr_assert_eq(auditfs_merkle_prove_inclusion(out, &n, 8, 8, tree_reader, &ref_tree),
                 AUDITFS_EINVAL);
    cr_assert_eq(auditfs_merkle_prove_inclusion(out, &n, 0, 0, tree_reader, &ref_tree),
                 AUDITFS_EINVAL);
    cr_assert_eq(auditfs_merkle_prove_inclusion(out, &n, 0, 8, failing_reader, NULL), AUDITFS_EIO);
    /* over-long paths are refused before any hashing */
    auditfs_hash big[65] = {{{0}}};
    cr_assert_eq(auditfs_merkle_verify_inclusion(&some, 0, 8, big, 65, &empty), AUDITFS_EVERIFY);
}

/* ---- consistency ---- */

Test(merkle, reference_consistency_proofs, .init = ref_setup, .fini = ref_teardown)
{
    for (size_t v = 0; v < sizeof ref_consistency / sizeof ref_consistency[0]; v++) {
        const ref_proof *r = &ref_consistency[v];
        auditfs_hash want[3], got[AUDITFS_MERKLE_MAX_CONSISTENCY];
        auditfs_hash r1 = H(ref_roots[r->a - 1]), r2 = H(ref_roots[r->b - 1]);
        size_t n = 99;
        load_ref(want, r);
        cr_assert_eq(auditfs_merkle_prove_consistency(got, &n, r->a, r->b, tree_reader, &ref_tree),
                     0);
        cr_assert_eq(n, r->n);
        for (size_t i = 0; i < n; i++)
            cr_assert(heq(&got[i], &want[i]), "proof[%zu] for %lu->%lu", i, (unsigned long)r->a,
                      (unsigned long)r->b);
        cr_assert_eq(auditfs_merkle_verify_consistency(r->a, r->b, &r1, &r2, want, r->n), 0, "%s",
                     auditfs_error_last());
    }
}

Test(merkle, every_consistency_proof_in_8_leaf_tree, .init = ref_setup, .fini = ref_teardown)
{
    for (uint64_t m = 1; m <= 8; m++) {
        for (uint64_t n = m; n <= 8; n++) {
            auditfs_hash got[128], want[128];
            auditfs_hash r1 = H(ref_roots[m - 1]), r2 = H(ref_roots[n - 1]);
            size_t len, wlen = 0;
            cr_assert_eq(auditfs_merkle_prove_consistency(got, &len, m, n, tree_reader, &ref_tree),
                         0);
            if (m < n)
                naive_subproof(want, &wlen, m, ref_leaf, n, true);
            cr_assert_eq(len, wlen, "%lu->%lu", (unsigned long)m, (unsigned long)n);
            for (size_t k = 0; k < len; k++)
                cr_assert(heq(&got[k], &want[k]));
            cr_assert_eq(auditfs_merkle_verify_consistency(m, n, &r1, &r2, got, len), 0,
                         "%lu->%lu: %s", (unsigned long)m, (unsigned long)n, auditfs_error_last());
            if (m < n) {
                cr_assert_eq(auditfs_merkle_verify_consistency(m, n, &r2, &r1, got, len),
                             AUDITFS_EVERIFY, "swapped roots");
            }
        }
    }
}

static void
check_consistency_corruptions(uint64_t m, uint64_t n, const auditfs_hash *r1,
                              const auditfs_hash *r2, const auditfs_hash *proof, size_t len)
{
    auditfs_hash zero = {{0}}, wrong, buf[130];
    auditfs_leaf_hash(&wrong, "WrongRoot", 9);
#define BAD(a, b, x, y, p, l)                                                                      \
    cr_assert_eq(auditfs_merkle_verify_consistency(a, b, x, y, p, l), AUDITFS_EVERIFY,             \
                 "%lu->%lu %s", (unsigned long)m, (unsigned long)n, #a " " #b " " #x " " #y)
    cr_assert_eq(auditfs_merkle_verify_consistency(m, n, r1, r2, proof, len), 0);
    BAD(m - 1, n, r1, r2, proof, len);
    BAD(m + 1, n, r1, r2, proof, len);
    BAD(m ^ 2, n, r1, r2, proof, len);
    BAD(m, n * 2, r1, r2, proof, len);
    BAD(m, n / 2, r1, r2, proof, len);
    BAD(m, n, &wrong, r2, proof, len);
    BAD(m, n, r1, &wrong, proof, len);
    BAD(m, n, r2, r1, proof, len);
    BAD(m, n, r1, r2, proof, 0);
    const auditfs_hash *extra[] = {&zero, r1, r2, &proof[0]};
    for (int e = 0; e < 4; e++) {
        memcpy(buf, proof, len * sizeof *buf);
        buf[len] = *extra[e];
        if (e < 3)
            BAD(m, n, r1, r2, buf, len + 1);
        buf[0] = *extra[e];
        memcpy(buf + 1, proof, len * sizeof *buf);
        BAD(m, n, r1, r2, buf, len + 1);
    }
    BAD(m, n, r1, r2, proof, len - 1);
    for (size_t i = 0; i < len; i++) {
        memcpy(buf, proof, len * sizeof *buf);
        buf[i].b[0] ^= 16;
        BAD(m, n, r1, r2, buf, len);
    }
#undef BAD
}

Test(merkle, consistency_negative_cases, .init = ref_setup, .fini = ref_teardown)
{
    for (size_t v = 0; v < sizeof ref_consistency / sizeof ref_consistency[0]; v++) {
        const ref_proof *r = &ref_consistency[v];
        if (r->n == 0)
            continue;
        auditfs_hash proof[3], r1 = H(ref_roots[r->a - 1]), r2 = H(ref_roots[r->b - 1]);
        load_ref(proof, r);
        check_consistency_corruptions(r->a, r->b, &r1, &r2, proof, r->n);
    }

    /* TestVerifyConsistency's edge table */
    auditfs_hash root1, root2;
    auditfs_leaf_hash(&root1, "don't care 1", 12);
    auditfs_leaf_hash(&root2, "don't care 2", 12);
    auditfs_hash empty = H("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    auditfs_hash p2[1] = {empty};
    struct {
        uint64_t m, n;
        const auditfs_hash *a, *b, *p;
        size_t len;
        int want;
    } t[] = {
        {0, 0, &root1, &root2, NULL, 0, AUDITFS_EVERIFY},
        {1, 1, &root1, &root2, NULL, 0, AUDITFS_EVERIFY},
        {0, 0, &root1, &root1, NULL, 0, 0},
        {0, 1, &root1, &root2, NULL, 0, 0},
        {1, 1, &root2, &root2, NULL, 0, 0},
        {1, 0, &root1, &root2, NULL, 0, AUDITFS_EVERIFY},
        {2, 1, &root1, &root2, NULL, 0, AUDITFS_EVERIFY},
        {1, 2, &root1, &root2, NULL, 0, AUDITFS_EVERIFY},
        {0, 0, &empty, &root2, NULL, 0, AUDITFS_EVERIFY},
        {1, 1, &empty, &root2, NULL, 0, AUDITFS_EVERIFY},
        {0, 0, &empty, &empty, p2, 1, AUDITFS_EVERIFY},
        {0, 1, &empty, &empty, p2, 1, AUDITFS_EVERIFY},
        {1, 1, &empty, &empty, p2, 1, AUDITFS_EVERIFY},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        cr_assert_eq(
            auditfs_merkle_verify_consistency(t[i].m, t[i].n, t[i].a, t[i].b, t[i].p, t[i].len),
            t[i].want, "edge case %zu", i);

    auditfs_hash out[128];
    size_t n;
    cr_assert_eq(auditfs_merkle_prove_consistency(out, &n, 0, 8, tree_reader, &ref_tree),
                 AUDITFS_EINVAL);
    cr_assert_eq(auditfs_merkle_prove_consistency(out, &n, 9, 8, tree_reader, &ref_tree),
                 AUDITFS_EINVAL);
    cr_assert_eq(auditfs_merkle_prove_consistency(out, &n, 3, 7, failing_reader, NULL),
                 AUDITFS_EIO);
    cr_assert_eq(auditfs_merkle_prove_consistency(out, &n, 8, 8, failing_reader, NULL), 0);
    cr_assert_eq(n, 0);
}

/* ---- node-level shape: transparency-dev/merkle proof/proof_test.go ---- */

typedef struct node_id {
    unsigned level;
    uint64_t index;
} node_id;

typedef struct shape {
    uint64_t a, b;
    int begin, end; /* rehash range, as in proof.Nodes; begin == end when none */
    size_t n;
    node_id ids[9];
} shape;

/* clang-format off */
static const shape inclusion_shapes[] = {
    {1, 0, 0, 0, 0, {{0, 0}}},
    {2, 0, 0, 0, 1, {{0, 1}}},
    {2, 1, 0, 0, 1, {{0, 0}}},
    {3, 1, 0, 0, 2, {{0, 0}, {0, 2}}},
    {7, 0, 2, 4, 4, {{0, 1}, {1, 1}, {0, 6}, {1, 2}}},
    {7, 1, 2, 4, 4, {{0, 0}, {1, 1}, {0, 6}, {1, 2}}},
    {7, 2, 2, 4, 4, {{0, 3}, {1, 0}, {0, 6}, {1, 2}}},
    {7, 3, 2, 4, 4, {{0, 2}, {1, 0}, {0, 6}, {1, 2}}},
    {7, 4, 0, 0, 3, {{0, 5}, {0, 6}, {2, 0}}},
    {7, 5, 0, 0, 3, {{0, 4}, {0, 6}, {2, 0}}},
    {7, 6, 0, 0, 2, {{1, 2}, {2, 0}}},
    {4, 2, 0, 0, 2, {{0, 3}, {1, 0}}},
    {5, 3, 0, 0, 3, {{0, 2}, {1, 0}, {0, 4}}},
    {6, 3, 0, 0, 3, {{0, 2}, {1, 0}, {1, 2}}},
    {6, 4, 0, 0, 2, {{0, 5}, {2, 0}}},
    {15, 10, 2, 4, 5, {{0, 11}, {1, 4}, {0, 14}, {1, 6}, {3, 0}}},
    {31, 24, 2, 4, 6, {{0, 25}, {1, 13}, {0, 30}, {1, 14}, {3, 2}, {4, 0}}},
    {95, 81, 3, 6, 8, {{0, 80}, {1, 41}, {2, 21}, {0, 94}, {1, 46}, {2, 22}, {4, 4}, {6, 0}}},
};

static const shape consistency_shapes[] = {
    {1, 2, 0, 0, 1, {{0, 1}}},
    {1, 4, 0, 0, 2, {{0, 1}, {1, 1}}},
    {1, 6, 0, 0, 3, {{0, 1}, {1, 1}, {1, 2}}},
    {2, 3, 0, 0, 1, {{0, 2}}},
    {2, 8, 0, 0, 2, {{1, 1}, {2, 1}}},
    {3, 7, 3, 5, 5, {{0, 2}, {0, 3}, {1, 0}, {0, 6}, {1, 2}}},
    {4, 7, 0, 2, 2, {{0, 6}, {1, 2}}},
    {5, 7, 0, 0, 4, {{0, 4}, {0, 5}, {0, 6}, {2, 0}}},
    {6, 7, 0, 0, 3, {{1, 2}, {0, 6}, {2, 0}}},
    {7, 8, 0, 0, 4, {{0, 6}, {0, 7}, {1, 2}, {2, 0}}},
    {2, 4, 0, 0, 1, {{1, 1}}},
    {3, 5, 0, 0, 4, {{0, 2}, {0, 3}, {1, 0}, {0, 4}}},
    {3, 6, 0, 0, 4, {{0, 2}, {0, 3}, {1, 0}, {1, 2}}},
    {4, 6, 0, 0, 1, {{1, 2}}},
    {1, 7, 2, 4, 4, {{0, 1}, {1, 1}, {0, 6}, {1, 2}}},
    {10, 15, 2, 4, 5, {{1, 4}, {1, 5}, {0, 14}, {1, 6}, {3, 0}}},
    {24, 31, 1, 4, 5, {{3, 2}, {0, 30}, {1, 14}, {2, 6}, {4, 0}}},
    {81, 95, 4, 7, 9,
     {{0, 80}, {0, 81}, {1, 41}, {2, 21}, {0, 94}, {1, 46}, {2, 22}, {4, 4}, {6, 0}}},
    {5, 5, 0, 0, 0, {{0, 0}}},
};

/* clang-format on */

/* Expands a node-id shape into hashes; a rehash range folds into one node, right to left. */
static size_t
shape_hashes(auditfs_hash *out, const shape *s, const tree *t)
{
    auditfs_hash h[9];
    size_t o = 0;
    for (size_t i = 0; i < s->n; i++)
        h[i] = t->level[s->ids[i].level][s->ids[i].index];
    for (size_t i = 0; i < s->n; i++) {
        if (s->begin != s->end && i == (size_t)s->begin) {
            auditfs_hash acc = h[i];
            for (i++; i < (size_t)s->end; i++)
                auditfs_node_hash(&acc, &h[i], &acc);
            i--;
            out[o++] = acc;
        } else {
            out[o++] = h[i];
        }
    }
    return o;
}

Test(merkle, proof_shapes_match_transparency_dev)
{
    auditfs_hash leaves[100];
    for (uint64_t i = 0; i < 100; i++) {
        uint8_t b[8];
        afs_store_be64(b, i);
        auditfs_leaf_hash(&leaves[i], b, sizeof b);
    }
    tree t;
    tree_build(&t, leaves, 100);
    for (size_t v = 0; v < sizeof inclusion_shapes / sizeof inclusion_shapes[0]; v++) {
        const shape *s = &inclusion_shapes[v];
        auditfs_hash want[9], got[64], root;
        size_t wn = shape_hashes(want, s, &t), n;
        cr_assert_eq(auditfs_merkle_prove_inclusion(got, &n, s->b, s->a, tree_reader, &t), 0);
        cr_assert_eq(n, wn, "inclusion %lu in %lu", (unsigned long)s->b, (unsigned long)s->a);
        for (size_t i = 0; i < n; i++)
            cr_assert(heq(&got[i], &want[i]), "inclusion %lu in %lu [%zu]", (unsigned long)s->b,
                      (unsigned long)s->a, i);
        naive_mth(&root, leaves, s->a);
        cr_assert_eq(auditfs_merkle_verify_inclusion(&leaves[s->b], s->b, s->a, got, n, &root), 0);
    }
    for (size_t v = 0; v < sizeof consistency_shapes / sizeof consistency_shapes[0]; v++) {
        const shape *s = &consistency_shapes[v];
        auditfs_hash want[9], got[128], r1, r2;
        size_t wn = shape_hashes(want, s, &t), n;
        cr_assert_eq(auditfs_merkle_prove_consistency(got, &n, s->a, s->b, tree_reader, &t), 0);
        cr_assert_eq(n, wn, "consistency %lu->%lu", (unsigned long)s->a, (unsigned long)s->b);
        for (size_t i = 0; i < n; i++)
            cr_assert(heq(&got[i], &want[i]), "consistency %lu->%lu [%zu]", (unsigned long)s->a,
                      (unsigned long)s->b, i);
        naive_mth(&r1, leaves, s->a);
        naive_mth(&r2, leaves, s->b);
        cr_assert_eq(auditfs_merkle_verify_consistency(s->a, s->b, &r1, &r2, got, n), 0);
    }
    tree_free(&t);
}

/* ---- randomized cross-check against the naive implementation ---- */

static uint64_t
rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static unsigned
bitlen(uint64_t x)
{
    return x ? 64u - (unsigned)__builtin_clzll(x) : 0;
}

Test(merkle, randomized_against_naive, .timeout = 120)
{
    enum { N = 1024 };
    auditfs_hash *leaves = calloc(N, sizeof *leaves);
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    for (uint64_t i = 0; i < N; i++) {
        uint8_t b[8];
        afs_store_be64(b, rnd(&seed));
        auditfs_leaf_hash(&leaves[i], b, sizeof b);
    }
    tree t;
    tree_build(&t, leaves, N);

    /* the stream agrees with the naive root at every size */
    auditfs_merkle_stream s;
    auditfs_merkle_stream_init(&s);
    for (uint64_t n = 1; n <= N; n++) {
        auditfs_hash a, b, c;
        auditfs_merkle_stream_push(&s, &leaves[n - 1]);
        auditfs_merkle_stream_root(&a, &s);
        naive_mth(&b, leaves, n);
        cr_assert(heq(&a, &b), "stream root at %lu", (unsigned long)n);
        cr_assert_eq(auditfs_merkle_root(&c, n, tree_reader, &t), 0);
        cr_assert(heq(&c, &b), "reader root at %lu", (unsigned long)n);
    }

    for (int iter = 0; iter < 400; iter++) {
        uint64_t n = 1 + rnd(&seed) % N;
        uint64_t i = rnd(&seed) % n;
        uint64_t m = 1 + rnd(&seed) % n;
        auditfs_hash got[128], want[128], rn, rm;
        size_t len, wlen = 0;
        naive_mth(&rn, leaves, n);
        naive_mth(&rm, leaves, m);

        t.reads = 0;
        cr_assert_eq(auditfs_merkle_prove_inclusion(got, &len, i, n, tree_reader, &t), 0);
        cr_assert_leq(t.reads, 2 * bitlen(n) + 1, "inclusion reads %u for size %lu", t.reads,
                      (unsigned long)n);
        naive_path(want, &wlen, i, leaves, n);
        cr_assert_eq(len, wlen);
        for (size_t k = 0; k < len; k++)
            cr_assert(heq(&got[k], &want[k]), "inclusion %lu/%lu [%zu]", (unsigned long)i,
                      (unsigned long)n, k);
        cr_assert_eq(auditfs_merkle_verify_inclusion(&leaves[i], i, n, got, len, &rn), 0);
        if (len) {
            size_t k = rnd(&seed) % len;
            got[k].b[rnd(&seed) % 32] ^= (uint8_t)(1u << (rnd(&seed) % 8));
            cr_assert_eq(auditfs_merkle_verify_inclusion(&leaves[i], i, n, got, len, &rn),
                         AUDITFS_EVERIFY);
        }

        t.reads = 0;
        wlen = 0;
        cr_assert_eq(auditfs_merkle_prove_consistency(got, &len, m, n, tree_reader, &t), 0);
        cr_assert_leq(t.reads, 2 * bitlen(n) + 2, "consistency reads %u", t.reads);
        if (m < n)
            naive_subproof(want, &wlen, m, leaves, n, true);
        cr_assert_eq(len, wlen);
        for (size_t k = 0; k < len; k++)
            cr_assert(heq(&got[k], &want[k]), "consistency %lu->%lu [%zu]", (unsigned long)m,
                      (unsigned long)n, k);
        cr_assert_eq(auditfs_merkle_verify_consistency(m, n, &rm, &rn, got, len), 0, "%s",
                     auditfs_error_last());
        if (len) {
            size_t k = rnd(&seed) % len;
            got[k].b[rnd(&seed) % 32] ^= (uint8_t)(1u << (rnd(&seed) % 8));
            cr_assert_eq(auditfs_merkle_verify_consistency(m, n, &rm, &rn, got, len),
                         AUDITFS_EVERIFY);
        }
    }
    tree_free(&t);
    free(leaves);
}

/* Huge trees: only the proof's shape matters, so every subtree hash is derived from its id. */
static int
synthetic_reader(auditfs_hash *out, unsigned level, uint64_t index, void *payload)
{
    unsigned *reads = payload;
    (*reads)++;
    memset(out, 0, sizeof *out);
    out->b[0] = (uint8_t)level;
    afs_store_be64(out->b + 1, index);
    return 0;
}

Test(merkle, huge_tree_proofs_are_logarithmic)
{
    static const uint64_t sizes[] = {UINT64_MAX, (1ull << 63) + 1, 1ull << 63,
                                     0x123456789abcdefull};
    for (size_t v = 0; v < sizeof sizes / sizeof sizes[0]; v++) {
        uint64_t n = sizes[v];
        auditfs_hash p[128];
        size_t len;
        unsigned reads = 0;
        cr_assert_eq(auditfs_merkle_prove_inclusion(p, &len, n / 3, n, synthetic_reader, &reads),
                     0);
        cr_assert_leq(len, 64);
        cr_assert_leq(reads, 130);
        reads = 0;
        cr_assert_eq(auditfs_merkle_prove_inclusion(p, &len, n - 1, n, synthetic_reader, &reads),
                     0);
        reads = 0;
        cr_assert_eq(
            auditfs_merkle_prove_consistency(p, &len, n / 2 + 1, n, synthetic_reader, &reads), 0);
        cr_assert_leq(len, 65);
        cr_assert_leq(reads, 130);
        cr_assert_eq(auditfs_merkle_prove_consistency(p, &len, 1, n, synthetic_reader, &reads), 0);
        cr_assert_eq(auditfs_merkle_prove_consistency(p, &len, n - 1, n, synthetic_reader, &reads),
                     0);
    }
}

/* ---- tile paths: C2SP tlog-tiles, vectors from transparency-dev/tessera api/layout ---- */

Test(merkle, tile_path_format)
{
    static const struct {
        unsigned level;
        uint64_t index;
        unsigned width;
        const char *want;
    } t[] = {
        {0, 0, 256, "tile/0/000"},
        {0, 0, 255, "tile/0/000.p/255"},
        {1, 0, 1, "tile/1/000.p/1"},
        {1, 0, 4, "tile/1/000.p/4"},
        {15, 455667, 256, "tile/15/x455/667"},
        {3, 1234567, 256, "tile/3/x001/x234/567"},
        {15, 123456789, 256, "tile/15/x123/x456/789"},
        {0, 1234067, 256, "tile/0/x001/x234/067"},
        {0, 1234067, 89, "tile/0/x001/x234/067.p/89"},
        {0, 5, 256, "tile/0/005"},
        {0, 1000, 256, "tile/0/x001/000"},
        {0, 999, 256, "tile/0/999"},
        {63, 999999999999999999ull, 255, "tile/63/x999/x999/x999/x999/x999/999.p/255"},
        {63, UINT64_MAX, 10, "tile/63/x018/x446/x744/x073/x709/x551/615.p/10"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char p[AUDITFS_TILE_PATH_MAX];
        unsigned l, w;
        uint64_t idx;
        cr_assert_eq(auditfs_tile_path(p, t[i].level, t[i].index, t[i].width), 0);
        cr_assert_str_eq(p, t[i].want);
        cr_assert_eq(auditfs_tile_path_parse(&l, &idx, &w, p), 0, "%s: %s", p,
                     auditfs_error_last());
        cr_assert_eq(l, t[i].level);
        cr_assert_eq(idx, t[i].index);
        cr_assert_eq(w, t[i].width);
    }
    char p[AUDITFS_TILE_PATH_MAX];
    cr_assert_eq(auditfs_tile_path(p, 64, 0, 256), AUDITFS_EINVAL);
    cr_assert_eq(auditfs_tile_path(p, 0, 0, 0), AUDITFS_EINVAL);
    cr_assert_eq(auditfs_tile_path(p, 0, 0, 257), AUDITFS_EINVAL);
}

Test(merkle, tile_path_parse_rejects_bad_paths)
{
    static const char *const bad[] = {
        "tile/0/x001/x234/067.p/",
        "tile/0/x001/x234/067.p",
        "tile/0/x001/x234/",
        "tile/0/x001/x234",
        "tile/0/x001/",
        "tile/0/x001",
        "tile/1/x001/.p/abc",
        "tile/64/x001/002",
        "tile/-1/x001/002",
        "tile/abc/x001/002",
        "tile/8/001/002",
        "tile/8/x001/0002",
        "tile/8/x001/-002",
        "tile/8/x001/002.p/256",
        "tile/8/x001/002.p/0",
        "tile/8/x001/002.p/01",
        "tile/8/x001/002.p/1000",
        "tile/8/002.p/+5",
        "tile/00/000",
        "tile/01/000",
        "tile/0/x000/001",
        "tile/0/x018/x446/x744/x073/x709/x551/616",
        "tile/0/x001/x000/x000/x000/x000/x000/x000/000",
        "tile/0/00",
        "tile/0/0000",
        "tile/0/x1/000",
        "tile/0/000/",
        "tile/0/000x",
        "tile/0/000.p/255x",
        "tile/0/000.p/255/",
        "tile/0/000.q/5",
        "/tile/0/000",
        "tile//000",
        "tile/0",
        "tile/",
        "",
        "tile/entries/000",
        "TILE/0/000",
        "tile/0/X001/000",
        "tile/0/ 000",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        unsigned l = 77, w = 77;
        uint64_t idx = 77;
        cr_assert_eq(auditfs_tile_path_parse(&l, &idx, &w, bad[i]), AUDITFS_EFORMAT, "%s", bad[i]);
        cr_assert(l == 77 && idx == 77 && w == 77, "outputs untouched on failure");
    }
    unsigned l, w;
    uint64_t idx;
    cr_assert_eq(auditfs_tile_path_parse(&l, &idx, &w, "tile/0/001"), 0);
    cr_assert(l == 0 && idx == 1 && w == 256);
    cr_assert_eq(auditfs_tile_path_parse(&l, &idx, &w, "tile/0/x001/x234/067.p/89"), 0);
    cr_assert(l == 0 && idx == 1234067 && w == 89);
}
