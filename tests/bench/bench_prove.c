/*
 * tests/bench/bench_prove.c - times inclusion proofs in process.
 *
 *   bench_prove LEDGER [N [SEED]]
 *
 * Opens the ledger read-only with the library and times N inclusion proofs (default 100000)
 * of uniformly random indices in the head tree (auditfs_ledger_prove, size 0 = head). The clock
 * starts after auditfs_ledger_open, so the first proofs pay for loading tiles. Afterwards, outside
 * the timing, 256 of the proofs are checked against the head root with their leaves, so the
 * figure is of real proofs. Prints one line of JSON:
 *   {"proofs":N,"seconds":S,"per_sec":R,"tree_size":T,"checked":C}
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
    if (sink == 0 && head.size > 1) {
        fprintf(stderr, "bench_prove: empty proofs\n");
        return 1;
    }
    printf("{\"proofs\":%" PRIu64 ",\"seconds\":%.6f,\"per_sec\":%.1f,\"tree_size\":%" PRIu64
           ",\"checked\":%zu}\n",
           n, secs, (double)n / secs, head.size, kept);
    auditfs_ledger_free(l);
    return 0;
}
