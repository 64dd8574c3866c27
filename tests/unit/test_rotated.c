/* Unit tests of auditfs_rotated_open: a followed file's rotated copy read decompressed (.gz with
 * several members, .zst with several frames), bounded by its limit, and refused when cut short
 * or corrupt (a compression still running must not be taken for the whole file). */
#include "auditfs/rotated.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

static char dir[] = "/tmp/auditfs-rotated-XXXXXX";
static char text[200000];
static size_t text_len;

static void
setup(void)
{
    cr_assert_not_null(mkdtemp(dir));
    text_len = 0;
    for (int i = 0; text_len + 64 < sizeof text; i++)
        text_len += (size_t)snprintf(text + text_len, sizeof text - text_len,
                                     "{\"i\":%d,\"msg\":\"line %d\"}\n", i, i * 7919 % 1000);
}

static void
teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

static void
put(const char *name, const void *p, size_t n)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(p, 1, n, f), n);
    fclose(f);
}

/* gzip members of text[a..b) appended to path */
static void
gz_member(const char *name, size_t a, size_t b)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    gzFile z = gzopen(path, "ab");
    cr_assert_not_null(z);
    cr_assert_eq(gzwrite(z, text + a, (unsigned)(b - a)), (int)(b - a));
    cr_assert_eq(gzclose(z), Z_OK);
}

static void
read_all(const char *name, uint64_t limit, int want_complete, size_t want_len)
{
    char path[256];
    int fd = -1, complete = -1;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    cr_assert_eq(auditfs_rotated_open(&fd, &complete, path, limit), 0, "%s", name);
    cr_assert_eq(complete, want_complete, "%s: complete %d", name, complete);
    struct stat st;
    cr_assert_eq(fstat(fd, &st), 0);
    cr_assert_eq((size_t)st.st_size, want_len, "%s: %lld bytes", name, (long long)st.st_size);
    char *b = malloc(want_len + 1);
    cr_assert_eq(pread(fd, b, want_len, 0), (ssize_t)want_len);
    cr_assert(memcmp(b, text, want_len) == 0, "%s: content differs", name);
    free(b);
    close(fd);
}

TestSuite(rotated, .init = setup, .fini = teardown);

Test(rotated, kind_by_name)
{
    cr_assert_eq(auditfs_rotated_kind("/var/log/a.log.1"), AUDITFS_ROTATED_PLAIN);
    cr_assert_eq(auditfs_rotated_kind("a.log.1.gz"), AUDITFS_ROTATED_GZIP);
    cr_assert_eq(auditfs_rotated_kind("a.log.2.zst"), AUDITFS_ROTATED_ZSTD);
    cr_assert_eq(auditfs_rotated_kind("a.log.3.xz"), AUDITFS_ROTATED_OTHER);
    cr_assert_eq(auditfs_rotated_kind(".gz"), AUDITFS_ROTATED_PLAIN);
}

Test(rotated, gzip_members_and_limit)
{
    gz_member("a.gz", 0, 1000);
    gz_member("a.gz", 1000, text_len); /* gzip -c a b > c: two members */
    read_all("a.gz", AUDITFS_ROTATED_MAX, 1, text_len);
    read_all("a.gz", 4096, 0, 4096);
    read_all("a.gz", 500, 0, 500);
}

Test(rotated, zstd_frames_and_limit)
{
    size_t cap = ZSTD_compressBound(text_len) * 2;
    uint8_t *z = malloc(cap);
    size_t n1 = ZSTD_compress(z, cap, text, 70000, 3);
    cr_assert(!ZSTD_isError(n1));
    size_t n2 = ZSTD_compress(z + n1, cap - n1, text + 70000, text_len - 70000, 19);
    cr_assert(!ZSTD_isError(n2));
    put("a.zst", z, n1 + n2);
    read_all("a.zst", AUDITFS_ROTATED_MAX, 1, text_len);
    read_all("a.zst", 100000, 0, 100000);
    /* cut short: a compression still being written is not the whole file */
    put("cut.zst", z, n1 + n2 / 2);
    char path[256];
    int fd = -1, complete = 0;
    snprintf(path, sizeof path, "%s/cut.zst", dir);
    cr_assert_eq(auditfs_rotated_open(&fd, &complete, path, AUDITFS_ROTATED_MAX), AUDITFS_EFORMAT);
    cr_assert_eq(fd, -1);
    free(z);
}

Test(rotated, gzip_cut_or_corrupt_refused)
{
    gz_member("a.gz", 0, text_len);
    char path[256];
    snprintf(path, sizeof path, "%s/a.gz", dir);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    uint8_t *b = malloc((size_t)st.st_size);
    FILE *f = fopen(path, "rb");
    cr_assert_eq(fread(b, 1, (size_t)st.st_size, f), (size_t)st.st_size);
    fclose(f);
    put("cut.gz", b, (size_t)st.st_size / 2);
    b[(size_t)st.st_size / 2] ^= 0x55;
    put("bad.gz", b, (size_t)st.st_size);
    put("notgz.gz", "plain text\n", 11);
    const char *names[] = {"cut.gz", "bad.gz", "notgz.gz"};
    for (int i = 0; i < 3; i++) {
        int fd = -1, complete = 0;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        cr_assert_eq(auditfs_rotated_open(&fd, &complete, path, AUDITFS_ROTATED_MAX),
                     AUDITFS_EFORMAT, "%s accepted", names[i]);
        cr_assert_eq(fd, -1);
    }
    free(b);
}

Test(rotated, plain_and_other)
{
    put("a.1", text, text_len);
    read_all("a.1", 10, 1, text_len); /* a plain file is itself: the limit does not apply */
    put("a.xz", "x", 1);
    char path[256];
    int fd = -1, complete = 0;
    snprintf(path, sizeof path, "%s/a.xz", dir);
    cr_assert_eq(auditfs_rotated_open(&fd, &complete, path, 100), AUDITFS_EINVAL);
    snprintf(path, sizeof path, "%s/missing.gz", dir);
    cr_assert_eq(auditfs_rotated_open(&fd, &complete, path, 100), AUDITFS_ENOTFOUND);
}
