/*
 * tests/bench/bench_randread.c - random 4 KiB preads of a file.
 *
 *   bench_randread FILE [N [SEED]]
 *
 * Times N (default 100000) pread()s of 4096 bytes at uniformly random 4 KiB-aligned offsets of
 * FILE (one thread; the file is opened once before the clock starts). Prints one line of JSON:
 *   {"reads":N,"seconds":S,"per_sec":R,"bytes":B}
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static uint64_t
splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

int
main(int argc, char **argv)
{
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: bench_randread FILE [N [SEED]]\n");
        return 2;
    }
    uint64_t n = argc > 2 ? strtoull(argv[2], NULL, 10) : 100000;
    uint64_t s = argc > 3 ? strtoull(argv[3], NULL, 10) : 1;
    int fd = open(argv[1], O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        perror(argv[1]);
        return 1;
    }
    uint64_t blocks = (uint64_t)st.st_size / 4096;
    if (blocks == 0 || n == 0) {
        fprintf(stderr, "bench_randread: %s is smaller than 4 KiB, or N is 0\n", argv[1]);
        return 1;
    }
    static char buf[4096];
    uint64_t total = 0;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t blk = (uint64_t)(((unsigned __int128)splitmix(&s) * blocks) >> 64);
        ssize_t r = pread(fd, buf, sizeof buf, (off_t)(blk * 4096));
        if (r != (ssize_t)sizeof buf) {
            fprintf(stderr, "bench_randread: short or failed read at block %" PRIu64 "\n", blk);
            return 1;
        }
        total += (uint64_t)r;
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    double secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    printf("{\"reads\":%" PRIu64 ",\"seconds\":%.6f,\"per_sec\":%.1f,\"bytes\":%" PRIu64 "}\n", n,
           secs, (double)n / secs, total);
    close(fd);
    return 0;
}
