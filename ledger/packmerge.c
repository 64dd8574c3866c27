/*
 * ledger/packmerge.c - geometric merging of batch packs (issue 13).
 *
 * Each batch is one pack (pack.c), so packs accumulate: ~60 per million entries, ~600 at 10M,
 * and every reader loads every .idx at start and searches them one by one. After a batch is
 * published, the writer (holding auditfs.lock) merges packs by size tiers growing geometrically
 * (factor AFS_PACK_FANIN = 16: tier 0 below 1 MiB, tier 1 below 16 MiB, ...): once a tier holds
 * 16 packs, they and all smaller packs become one pack of a higher tier. So a ledger keeps at
 * most 15 packs per tier, O(log n) packs, and each object is copied about log16(n / batch)
 * times over its life. Measured at 1M entries (60 batches of ~1.9 MB): factor 2 (`git repack
 * --geometric=2`) added 35% to append's CPU, factor 8 20% (two copies of each object; the time
 * is the kernel copying the new pack into the page cache), factor 16 about half that.
 *
 * Invariants (docs/FORMAT.md, "Merging batch packs"):
 *   - only packs with exactly a .pack and a .idx are merged: a .keep (an unpublished batch,
 *     git's, an operator's), .promisor, .bitmap, .rev or .mtimes leaves a pack alone;
 *   - every object is read through the checked reader (its SHA-1 recomputed) and written again
 *     undeltified; a pack holding a delta (git gc made it) is not merged;
 *   - the merged pack is written like a batch's: a .keep before it becomes visible, pack and
 *     index fsynced, renamed (.idx last), directory fsynced; only then are the old packs removed
 *     (.idx first, so no reader loads a pack whose file is going; readers that loaded one find
 *     its objects in the merged pack after a rescan), the directory fsynced, the .keep removed;
 *   - the ref never moves: a merge changes where objects are, never which objects a ledger has.
 * A crash at any point leaves every object in at least one complete pack; a left-over .keep with
 * AFS_PACK_KEEP content is removed by the next writer like a dead batch's.
 */
#include "packmerge.h"
#include "internal.h"
#include "pack.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct cand {
    char name[64]; /* pack-<hex> */
    uint64_t size;
} cand;

static int
cmp_cand(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->size != y->size)
        return x->size < y->size ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* 1 if dir/<name><ext> exists. */
static int
has(const char *dir, const char *name, const char *ext)
{
    char path[4200];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s%s", dir, name, ext);
    return lstat(path, &st) == 0;
}

/* The packs that may be merged: pack-<40 hex>.idx with its .pack and nothing else beside. */
static int
list_candidates(cand **out, size_t *n, const char *dir)
{
    cand *c = NULL;
    size_t nc = 0, cap = 0;
    DIR *d = opendir(dir);
    *out = NULL;
    *n = 0;
    if (!d)
        return 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t nl = strlen(de->d_name);
        char name[64], path[4200];
        struct stat st;
        if (nl != 5 + 40 + 4 || strncmp(de->d_name, "pack-", 5) != 0 ||
            strcmp(de->d_name + nl - 4, ".idx") != 0)
            continue;
        snprintf(name, sizeof name, "%.*s", (int)(nl - 4), de->d_name);
        snprintf(path, sizeof path, "%s/%s.pack", dir, name);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || has(dir, name, ".keep") ||
            has(dir, name, ".promisor") || has(dir, name, ".bitmap") || has(dir, name, ".rev") ||
            has(dir, name, ".mtimes"))
            continue;
        if (nc == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            cand *t = realloc(c, ncap * sizeof *t);
            if (!t) {
                free(c);
                closedir(d);
                return afs_error_set(AUDITFS_ENOMEM, "out of memory");
            }
            c = t;
            cap = ncap;
        }
        snprintf(c[nc].name, sizeof c[nc].name, "%s", name);
        c[nc].size = (uint64_t)st.st_size;
        nc++;
    }
    closedir(d);
    if (nc)
        qsort(c, nc, sizeof *c, cmp_cand);
    *out = c;
    *n = nc;
    return 0;
}

/* The size tier of a pack: 0 below AFS_PACK_TIER0 * AFS_PACK_FANIN (1 MiB), then one tier per
 * factor of AFS_PACK_FANIN. */
static unsigned
tier(uint64_t size)
{
    unsigned t = 0;
    for (uint64_t lim = AFS_PACK_TIER0 * AFS_PACK_FANIN; size >= lim && t < 20;
         lim *= AFS_PACK_FANIN)
        t++;
    return t;
}

size_t
afs_pack_merge_plan(const uint64_t *sizes, size_t n)
{
    /* sizes ascending, so each tier is a run: merge every pack up to the lowest tier that holds
     * AFS_PACK_FANIN packs (the smaller tiers hold fewer) */
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        unsigned t = tier(sizes[i]);
        while (j < n && tier(sizes[j]) == t)
            j++;
        if (j - i >= AFS_PACK_FANIN)
            return j;
        i = j;
    }
    return 0;
}

static int
cmp_name(const void *a, const void *b)
{
    return memcmp(a, b, 20);
}

static void *
plain_alloc(void *ctx, size_t n)
{
    (void)ctx;
    return malloc(n);
}

/* Removes dir/<name><ext>; ENOENT is fine (git gc may have removed it first). */
static int
remove_file(const char *dir, const char *name, const char *ext)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s%s", dir, name, ext);
    if (unlink(path) != 0 && errno != ENOENT)
        return afs_error_set(AUDITFS_EIO, "%s: %s", path, strerror(errno));
    return 0;
}

int
afs_pack_merge(const char *objects_dir, size_t *merged, size_t *packs_after)
{
    char dir[4096], name[64] = "";
    cand *c = NULL;
    size_t nc = 0, take = 0;
    uint64_t *sizes = NULL;
    uint8_t *all = NULL, *taken = NULL;
    afs_packset *ps = NULL;
    afs_packw *w = NULL;
    int err = 0;
    *merged = 0;
    if (snprintf(dir, sizeof dir, "%s/pack", objects_dir) >= (int)sizeof dir)
        return afs_error_set(AUDITFS_EINVAL, "repository path too long");
    if ((err = list_candidates(&c, &nc, dir)) != 0)
        goto cleanup;
    *packs_after = nc;
    if (nc < 2)
        goto cleanup;
    if (!(sizes = malloc(nc * sizeof *sizes))) {
        err = afs_error_set(AUDITFS_ENOMEM, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < nc; i++)
        sizes[i] = c[i].size;
    if ((take = afs_pack_merge_plan(sizes, nc)) < 2)
        goto cleanup;
    /* a reader of just these packs, and a writer for the merged one */
    if ((err = afs_packset_new(&ps, objects_dir)) != 0 ||
        (err = afs_packw_new(&w, objects_dir)) != 0)
        goto cleanup;
    size_t total = 0;
    for (size_t i = 0; i < take; i++) {
        const uint8_t *names;
        uint32_t n;
        if (afs_packset_add(ps, c[i].name) != 0 ||
            afs_packset_names(ps, c[i].name, &names, &n) != 0) {
            /* gone (git gc) or not a pack we can read: merge nothing this time */
            err = afs_error_set(AUDITFS_EFORMAT, "%s/%s: cannot be merged", dir, c[i].name);
            goto cleanup;
        }
        total += n;
    }
    /* every name once: batches store their own copies of objects other packs hold */
    if (!(all = malloc((total ? total : 1) * 20)) || !(taken = calloc(total ? total : 1, 1))) {
        err = afs_error_set(AUDITFS_ENOMEM, "out of memory");
        goto cleanup;
    }
    size_t at = 0;
    for (size_t i = 0; i < take; i++) {
        const uint8_t *names;
        uint32_t n;
        (void)afs_packset_names(ps, c[i].name, &names, &n);
        memcpy(all + 20 * at, names, 20 * (size_t)n);
        at += n;
    }
    qsort(all, total, 20, cmp_name);
    for (size_t i = 0; i < take; i++) {
        const uint8_t *names;
        uint32_t n;
        (void)afs_packset_names(ps, c[i].name, &names, &n);
        for (uint32_t k = 0; k < n; k++) {
            const uint8_t *hit = bsearch(names + 20 * (size_t)k, all, total, 20, cmp_name);
            /* duplicates are adjacent in `all`: the first of the run stands for all of them */
            while (hit > all && memcmp(hit - 20, hit, 20) == 0)
                hit -= 20;
            if (taken[(size_t)(hit - all) / 20])
                continue;
            taken[(size_t)(hit - all) / 20] = 1;
            git_oid oid;
            void *data = NULL;
            size_t len = 0;
            git_object_t type;
            git_oid_fromraw(&oid, names + 20 * (size_t)k);
            int rc = afs_packset_read(ps, &oid, &data, &len, &type, plain_alloc, NULL);
            if (rc != 0) {
                /* a delta (rc GIT_ENOTFOUND) or a damaged object: leave these packs as they are */
                err = afs_error_set(AUDITFS_EFORMAT, "%s/%s: object %u %s", dir, c[i].name, k,
                                    rc == GIT_ENOTFOUND ? "is deltified" : "cannot be read");
                goto cleanup;
            }
            rc = afs_packw_add_new(w, &oid, type, data, len);
            free(data);
            if (rc != 0) {
                err = rc;
                goto cleanup;
            }
        }
    }
    /* durable and kept before anything is removed */
    if ((err = afs_packw_finish(w, name)) != 0)
        goto cleanup;
    for (size_t i = 0; i < take; i++) {
        if (strcmp(c[i].name, name) == 0)
            continue; /* the merge reproduced an existing pack byte for byte */
        if ((err = remove_file(dir, c[i].name, ".idx")) != 0 ||
            (err = remove_file(dir, c[i].name, ".pack")) != 0)
            goto cleanup;
    }
    if ((err = afs_fsync_dir(dir)) != 0)
        goto cleanup;
    afs_packw_unkeep(w);
    *merged = take;
    *packs_after = nc - take + 1;
cleanup:
    if (w && err)
        afs_packw_abort(w); /* a pack not yet finished is deleted; a finished one stays */
    afs_packw_free(w);
    afs_packset_free(ps);
    free(all);
    free(taken);
    free(sizes);
    free(c);
    return err;
}

void
afs_pack_merge_after_publish(git_repository *repo)
{
    char objects[4096];
    size_t merged, left;
    if (snprintf(objects, sizeof objects, "%sobjects", git_repository_path(repo)) >=
        (int)sizeof objects)
        return;
    /* best effort: a merge that cannot be done now leaves the packs as they were, and the
     * batch, already published, stays acknowledged */
    (void)afs_pack_merge(objects, &merged, &left);
}
