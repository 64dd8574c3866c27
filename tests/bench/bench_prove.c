/*
 * tests/bench/bench_prove.c - times inclusion proofs in process.
 *
 *   bench_prove LEDGER [N [SEED]]
 *
 * Opens the ledger read-only with the library and times N inclusion proofs (default 100000)
 * of uniformly random indices in the head tree (auditfs_ledger_prove, size 0 = head). The clock
 * starts after auditfs_ledger_open, so the first proofs pay for loading tiles. Afterwards, outside
 * the timing, 256 of the proofs are checked against the head root with their leaves, so the
 * figure is of real proofs.
 *
 * Baseline: the same N indices proved by auditfs_merkle_prove_inclusion over an in-memory tree
 * (every level of complete subtree hashes in arrays, built from the leaves with a cursor before
 * the clock starts), i.e. the cost of the proof arithmetic and hashing without tile I/O.
 * Prints one line of JSON:
 *   {"proofs":N,"seconds":S,"per_sec":R,"mem_seconds":S2,"mem_per_sec":R2,"tree_size":T,
 *    "checked":C}
 */
#include "auditfs/ledger.h"
#include "auditfs/merkle.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t
splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* every level of complete subtrees: lv[k][i] = MTH(D[i*2^k : (i+1)*2^k]) */
typedef struct memtree {
    auditfs_hash *lv[64];
    uint64_t n[64];
    unsigned levels;
} memtree;

static int
mem_reader(auditfs_hash *out, unsigned level, uint64_t index, void *payload)
{
    const memtree *t = payload;
    if (level >= t->levels || index >= t->n[level])
        return -1;
    *out = t->lv[level][index];
    return 0;
}

static int
fail(const char *what)
{
    fprintf(stderr, "bench_prove: %s: %s\n", what, auditfs_error_last());
    return 1;
}

int
main(int argc, char **argv)
{
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: bench_prove LEDGER [N [SEED]]\n");
        return 2;
    }
    uint64_t n = argc > 2 ? strtoull(argv[2], NULL, 10) : 100000;
    uint64_t seed = argc > 3 ? strtoull(argv[3], NULL, 10) : 1;
    if (n == 0) {
        fprintf(stderr, "bench_prove: N must be positive\n");
        return 2;
    }

    auditfs_ledger *l;
    if (auditfs_ledger_open(&l, argv[1]) != 0)
        return fail("open");
    auditfs_checkpoint head;
    if (auditfs_ledger_head(&head, l) != 0)
        return fail("head");
    if (head.size == 0) {
        fprintf(stderr, "bench_prove: the ledger is empty\n");
        return 1;
    }

    enum { CHECK = 256 };
    static auditfs_inclusion_proof keep[CHECK];
    size_t kept = 0;
    uint64_t every = n / CHECK ? n / CHECK : 1;
    uint64_t s = seed;
    auditfs_inclusion_proof p;
    uint64_t sink = 0;

    double t0 = now();
    for (uint64_t i = 0; i < n; i++) {
        uint64_t idx = (uint64_t)(((unsigned __int128)splitmix(&s) * head.size) >> 64);
        if (auditfs_ledger_prove(&p, l, idx, 0) != 0)
            return fail("prove");
        sink += p.path_len;
        if (i % every == 0 && kept < CHECK)
            keep[kept++] = p;
    }
    double secs = now() - t0;

    /* check the kept proofs against their leaves and the head root (not timed) */
    for (size_t i = 0; i < kept; i++) {
        uint8_t *leaf;
        size_t len;
        if (auditfs_ledger_leaf(&leaf, &len, l, keep[i].leaf_index) != 0)
            return fail("leaf");
        auditfs_hash lh;
        auditfs_leaf_hash(&lh, leaf, len);
        free(leaf);
        if (keep[i].tree_size != head.size ||
            auditfs_merkle_verify_inclusion(&lh, keep[i].leaf_index, keep[i].tree_size,
                                            keep[i].path, keep[i].path_len, &head.root) != 0) {
            fprintf(stderr, "bench_prove: proof of %" PRIu64 " does not verify\n",
                    keep[i].leaf_index);
            return 1;
        }
    }
    /* baseline: the same indices against an in-memory tree */
    memtree t = {.levels = 0};
    t.n[0] = head.size;
    t.lv[0] = malloc(head.size * sizeof(auditfs_hash));
    if (!t.lv[0])
        return fail("malloc");
    auditfs_cursor *c;
    if (auditfs_cursor_new(&c, l, 0, head.size) != 0)
        return fail("cursor");
    for (uint64_t i = 0; i < head.size; i++) {
        const uint8_t *leaf;
        size_t len;
        if (auditfs_cursor_next(c, &leaf, &len) != 1)
            return fail("cursor_next");
        auditfs_leaf_hash(&t.lv[0][i], leaf, len);
    }
    auditfs_cursor_free(c);
    t.levels = 1;
    while (t.n[t.levels - 1] >= 2) {
        unsigned k = t.levels;
        t.n[k] = t.n[k - 1] / 2;
        t.lv[k] = malloc(t.n[k] * sizeof(auditfs_hash));
        if (!t.lv[k])
            return fail("malloc");
        for (uint64_t i = 0; i < t.n[k]; i++)
            auditfs_node_hash(&t.lv[k][i], &t.lv[k - 1][2 * i], &t.lv[k - 1][2 * i + 1]);
        t.levels++;
    }
    s = seed;
    auditfs_hash path[AUDITFS_MERKLE_MAX_INCLUSION];
    size_t plen;
    double m0 = now();
    for (uint64_t i = 0; i < n; i++) {
        uint64_t idx = (uint64_t)(((unsigned __int128)splitmix(&s) * head.size) >> 64);
        if (auditfs_merkle_prove_inclusion(path, &plen, idx, head.size, mem_reader, &t) != 0)
            return fail("prove (in memory)");
        sink += plen;
        if (i % every == 0 && i / every < kept &&
            (plen != keep[i / every].path_len ||
             memcmp(path, keep[i / every].path, plen * sizeof path[0]) != 0)) {
            fprintf(stderr, "bench_prove: in-memory proof of %" PRIu64 " differs\n", idx);
            return 1;
        }
    }
    double msecs = now() - m0;
    for (unsigned k = 0; k < t.levels; k++)
        free(t.lv[k]);

    if (sink == 0 && head.size > 1) {
        fprintf(stderr, "bench_prove: empty proofs\n");
        return 1;
    }
    printf("{\"proofs\":%" PRIu64 ",\"seconds\":%.6f,\"per_sec\":%.1f,\"mem_seconds\":%.6f,"
           "\"mem_per_sec\":%.1f,\"tree_size\":%" PRIu64 ",\"checked\":%zu}\n",
           n, secs, (double)n / secs, msecs, (double)n / msecs, head.size, kept);
    auditfs_ledger_free(l);
    return 0;
}
