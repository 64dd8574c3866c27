/* ledger/pack.c: one pack per batch written, read back by git and by the checked reader, and
 * hostile packs (flipped bytes, impossible sizes, a truncated pack, a bad .idx) refused. */
#include "internal.h"
#include "pack.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64], objects[96];

static void
setup(void)
{
    char cmd[160];
    git_libgit2_init();
    snprintf(dir, sizeof dir, "/tmp/auditfs-pack-XXXXXX");
    cr_assert(mkdtemp(dir));
    snprintf(cmd, sizeof cmd, "git init -q --bare %s/r", dir);
    cr_assert_eq(system(cmd), 0);
    snprintf(objects, sizeof objects, "%s/r/objects", dir);
}

static void
teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
    git_libgit2_shutdown();
}

TestSuite(pack, .init = setup, .fini = teardown);

static void *
plain_alloc(void *ctx, size_t n)
{
    (void)ctx;
    return malloc(n);
}

/* writes three blobs (one of 200,000 bytes: several stored blocks) as one pack */
static void
write_three(git_oid ids[3], uint8_t **big, char name[64])
{
    afs_packw *w;
    static const char *small[2] = {"hello\n", ""};
    *big = malloc(200000);
    for (size_t i = 0; i < 200000; i++)
        (*big)[i] = (uint8_t)(i * 7 + (i >> 9));
    cr_assert_eq(git_odb_hash(&ids[0], small[0], 6, GIT_OBJECT_BLOB), 0);
    cr_assert_eq(git_odb_hash(&ids[1], small[1], 0, GIT_OBJECT_BLOB), 0);
    cr_assert_eq(git_odb_hash(&ids[2], *big, 200000, GIT_OBJECT_BLOB), 0);
    cr_assert_eq(afs_packw_new(&w, objects), 0);
    cr_assert_eq(afs_packw_add(w, &ids[0], GIT_OBJECT_BLOB, small[0], 6), 0);
    cr_assert_eq(afs_packw_add(w, &ids[1], GIT_OBJECT_BLOB, small[1], 0), 0);
    cr_assert_eq(afs_packw_add(w, &ids[2], GIT_OBJECT_BLOB, *big, 200000), 0);
    cr_assert_eq(afs_packw_add(w, &ids[0], GIT_OBJECT_BLOB, small[0], 6), 0, "duplicates skipped");
    cr_assert_eq(afs_packw_count(w), 3);
    void *back;
    size_t len;
    git_object_t t;
    cr_assert_eq(afs_packw_read(w, &ids[2], &back, &len, &t), 0, "a pending object reads back");
    cr_assert_eq(len, 200000);
    cr_assert(memcmp(back, *big, len) == 0);
    free(back);
    cr_assert_eq(afs_packw_finish(w, name), 0, "%s", git_error_last() ? git_error_last()->message : "");
    cr_assert(strncmp(name, "pack-", 5) == 0);
    afs_packw_free(w);
}

static int
read_obj(const git_oid *id, void **data, size_t *len)
{
    afs_packset *ps;
    git_object_t t;
    cr_assert_eq(afs_packset_new(&ps, objects), 0);
    int rc = afs_packset_read(ps, id, data, len, &t, plain_alloc, NULL);
    afs_packset_free(ps);
    return rc;
}

Test(pack, written_pack_reads_back_and_git_agrees)
{
    git_oid ids[3];
    uint8_t *big;
    char name[64], cmd[512], hex[41];
    write_three(ids, &big, name);
    for (int i = 0; i < 3; i++) {
        void *d;
        size_t len;
        cr_assert_eq(read_obj(&ids[i], &d, &len), 0);
        cr_assert_eq(len, i == 0 ? 6u : i == 1 ? 0u : 200000u);
        if (i == 2)
            cr_assert(memcmp(d, big, len) == 0);
        free(d);
    }
    git_oid_tostr(hex, sizeof hex, &ids[2]);
    snprintf(cmd, sizeof cmd,
             "cd %s/r && git verify-pack objects/pack/%s.idx && test \"$(git cat-file -s %s)\" = 200000",
             dir, name, hex);
    cr_assert_eq(system(cmd), 0, "git reads the pack");
    git_oid absent;
    memset(&absent, 0x5a, sizeof absent);
    void *d;
    size_t len;
    cr_assert_eq(read_obj(&absent, &d, &len), GIT_ENOTFOUND);
    free(big);
}

/* xors one byte of the pack file at off */
static void
flip(const char *name, long off)
{
    char path[256];
    snprintf(path, sizeof path, "%s/pack/%s.pack", objects, name);
    chmod(path, 0644);
    int fd = open(path, O_RDWR);
    cr_assert(fd >= 0);
    uint8_t b;
    if (off < 0)
        off += lseek(fd, 0, SEEK_END);
    cr_assert_eq(pread(fd, &b, 1, off), 1);
    b ^= 0x41;
    cr_assert_eq(pwrite(fd, &b, 1, off), 1);
    close(fd);
}

Test(pack, hostile_bytes_are_refused)
{
    git_oid ids[3];
    uint8_t *big;
    char name[64];
    write_three(ids, &big, name);
    void *d = NULL;
    size_t len;
    /* a data byte of the large object: its SHA-1 no longer matches */
    flip(name, 12 + 3 + 2 + 5 + 1000 + 40);
    int rc = -2;
    for (int i = 0; i < 3; i++) {
        int r = read_obj(&ids[i], &d, &len);
        if (r == 0)
            free(d);
        else
            rc = r;
    }
    cr_assert_eq(rc, -1, "the damaged object is refused");
    free(big);
}

Test(pack, impossible_size_is_refused_before_allocating)
{
    git_oid ids[3];
    uint8_t *big;
    char name[64], path[256];
    write_three(ids, &big, name);
    /* rewrite the first object's header to declare 2^40 bytes (continuation bits set) */
    snprintf(path, sizeof path, "%s/pack/%s.pack", objects, name);
    chmod(path, 0644);
    int fd = open(path, O_RDWR);
    uint8_t h[16];
    cr_assert_eq(pread(fd, h, sizeof h, 12), (ssize_t)sizeof h);
    uint8_t evil[6] = {(uint8_t)(0x80 | (3 << 4)), 0xff, 0xff, 0xff, 0xff, 0x7f};
    cr_assert_eq(pwrite(fd, evil, sizeof evil, 12), (ssize_t)sizeof evil);
    close(fd);
    int refused = 0;
    for (int i = 0; i < 3; i++) {
        void *d;
        size_t len;
        int r = read_obj(&ids[i], &d, &len);
        if (r == 0)
            free(d);
        refused += r == -1;
    }
    cr_assert_geq(refused, 1);
    free(big);
}

Test(pack, truncated_pack_or_bad_index_is_not_used)
{
    git_oid ids[3];
    uint8_t *big;
    char name[64], path[256];
    write_three(ids, &big, name);
    snprintf(path, sizeof path, "%s/pack/%s.pack", objects, name);
    chmod(path, 0644);
    cr_assert_eq(truncate(path, 100), 0);
    void *d;
    size_t len;
    for (int i = 0; i < 3; i++)
        cr_assert_eq(read_obj(&ids[i], &d, &len), GIT_ENOTFOUND,
                     "a pack whose trailer does not match its index is not loaded");
    snprintf(path, sizeof path, "%s/pack/%s.idx", objects, name);
    chmod(path, 0644);
    cr_assert_eq(truncate(path, 1000), 0);
    cr_assert_eq(read_obj(&ids[0], &d, &len), GIT_ENOTFOUND);
    free(big);
}

/* A checked .idx is remembered per process (a writer reloads every index for each batch); an
 * index changed since, or a pack that no longer matches it, is not served from that copy. */
Test(pack, remembered_index_is_rechecked_when_files_change)
{
    git_oid ids[3];
    uint8_t *big;
    char name[64], path[256];
    void *d;
    size_t len;
    write_three(ids, &big, name);
    cr_assert_eq(read_obj(&ids[0], &d, &len), 0, "first load: checked and remembered");
    free(d);
    cr_assert_eq(read_obj(&ids[0], &d, &len), 0, "second load: from the remembered copy");
    free(d);
    /* flip one byte of the first object name in the index, in place (same inode and size) */
    snprintf(path, sizeof path, "%s/pack/%s.idx", objects, name);
    chmod(path, 0644);
    int fd = open(path, O_RDWR);
    cr_assert(fd >= 0);
    uint8_t b;
    cr_assert_eq(pread(fd, &b, 1, 8 + 1024 + 5), 1);
    b ^= 0x01;
    usleep(20000); /* a later mtime/ctime even on coarse clocks */
    cr_assert_eq(pwrite(fd, &b, 1, 8 + 1024 + 5), 1);
    close(fd);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(read_obj(&ids[i], &d, &len), GIT_ENOTFOUND,
                     "an index changed after it was remembered is checked again (and refused)");
    /* restored: loads again; then a truncated pack is refused although its index is known */
    b ^= 0x01;
    fd = open(path, O_RDWR);
    cr_assert_eq(pwrite(fd, &b, 1, 8 + 1024 + 5), 1);
    close(fd);
    cr_assert_eq(read_obj(&ids[0], &d, &len), 0);
    free(d);
    snprintf(path, sizeof path, "%s/pack/%s.pack", objects, name);
    chmod(path, 0644);
    cr_assert_eq(truncate(path, 100), 0);
    cr_assert_eq(read_obj(&ids[0], &d, &len), GIT_ENOTFOUND,
                 "the pack is compared with a remembered index on every load");
    free(big);
}
