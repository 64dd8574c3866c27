/*
 * ledger/store.c - the git-backed ledger: open/init, tiles, segment lookup, reads and proofs.
 * The writer is in ingest.c, full verification in verify.c.
 *
 * Invariant kept by every writer: the head commit's tree holds, for its checkpoint size s, the
 * segments of entries [0, s), the full tiles and exactly the partial tiles that size implies
 * (format 2: of levels >= 1 only; level 0 is rebuilt from the segments, tile0.c), and a
 * checkpoint over MTH(leaves[0:s]) signed by the ledger's key.
 */
#include "store.h"
#include "odb.h"

#include "auditfs/merkle.h"
#include "auditfs/trust.h"

#include <assert.h>
#include <errno.h>
#include <sodium.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static pthread_once_t git_once = PTHREAD_ONCE_INIT;
static int git_init_rc;

static void
git_init_fn(void)
{
    git_init_rc = git_libgit2_init();
    if (git_init_rc >= 0) {
        /* Durability is handled by the writers (publish.h): one syncfs() of the repository's
         * file system after a batch's objects are written, then an fsync of the moved ref and
         * its directory. libgit2's own option fsyncs every object file and directory separately
         * (about 3,000 fsyncs for 300k entries, most of append's wall time here). */
        git_libgit2_opts(GIT_OPT_ENABLE_FSYNC_GITDIR, 0);
        /* an audit store checks every object's hash when it reads it */
        git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, 1);
        git_libgit2_opts(GIT_OPT_ENABLE_STRICT_OBJECT_CREATION, 1);
        /* tile/0 grows to a thousand entries (31 KB); libgit2 caches trees only up to 4 KiB
         * by default, so every tile lookup by path re-read and re-parsed it */
        git_libgit2_opts(GIT_OPT_SET_CACHE_OBJECT_LIMIT, GIT_OBJECT_TREE, (size_t)1 << 20);
        /* ...but the whole cache stays small: verify and append walk every commit's trees,
         * and with libgit2's default 256 MiB budget RSS grew with the ledger (108 MiB for
         * verify at 10M entries against 18 MiB at 1M). The budget counts object sizes, and a
         * parsed tree with its raw object takes ~2.7 times that: at 8 MiB verify's RSS still
         * grew (27 MiB at 1M, 42 MiB at 3M, 51 MiB at 10M); at 2 MiB it is flat. */
        git_libgit2_opts(GIT_OPT_SET_CACHE_MAX_SIZE, (ssize_t)2 << 20);
        /* a ledger owned by another user opens (root's boot mount of the auditfs user's ledger
         * failed with "safe.directory was not found"): that check guards git's config-driven
         * commands (hooks, fsmonitor, filters), none of which auditfs runs, and nothing read
         * from a ledger is trusted before it verifies against a pinned key */
        git_libgit2_opts(GIT_OPT_SET_OWNER_VALIDATION, 0);
    }
}

int
afs_git_init_once(void)
{
    pthread_once(&git_once, git_init_fn);
    if (git_init_rc < 0)
        return afs_error_git(AUDITFS_ERROR, "libgit2 initialisation failed");
    return 0;
}

/* ---- tiles ---- */

void
afs_tiles_init(afs_tiles *t)
{
    t->size = 0;
}

unsigned
afs_tiles_width(const afs_tiles *t, unsigned level)
{
    if (level >= AFS_TILE_LEVELS)
        return 0;
    return (unsigned)((t->size >> (8 * level)) & 255);
}

void
afs_hash_span(uint8_t out[32], const uint8_t (*hashes)[32], unsigned n)
{
    uint8_t tmp[128][32];
    assert(n >= 1 && n <= 256 && (n & (n - 1)) == 0); /* store.h: a power of two <= 256 */
    if (n == 1) {
        memcpy(out, hashes[0], 32);
        return;
    }
    for (unsigned i = 0; i < n / 2; i++)
        auditfs_node_hash((auditfs_hash *)tmp[i], (const auditfs_hash *)hashes[2 * i],
                          (const auditfs_hash *)hashes[2 * i + 1]);
    for (unsigned m = n / 2; m > 1; m /= 2)
        for (unsigned i = 0; i < m / 2; i++)
            auditfs_node_hash((auditfs_hash *)tmp[i], (const auditfs_hash *)tmp[2 * i],
                              (const auditfs_hash *)tmp[2 * i + 1]);
    memcpy(out, tmp[0], 32);
}

int
afs_tiles_push(afs_tiles *t, const auditfs_hash *leaf, afs_tile_cb cb, void *payload)
{
    uint8_t cur[32];
    uint64_t idx = t->size;
    memcpy(cur, leaf->b, 32);
    for (unsigned lv = 0; lv < AFS_TILE_LEVELS; lv++) {
        unsigned pos = (unsigned)(idx & 255);
        memcpy(t->h[lv][pos], cur, 32);
        if (pos != 255)
            break;
        if (cb) {
            int err = cb(lv, idx >> 8, &t->h[lv][0][0], payload);
            if (err)
                return err;
        }
        afs_hash_span(cur, (const uint8_t(*)[32])t->h[lv], 256);
        idx >>= 8;
    }
    t->size++;
    return 0;
}

void
afs_tiles_root(auditfs_hash *out, const afs_tiles *t)
{
    uint64_t s = t->size;
    int have = 0;
    auditfs_hash r, sub;
    if (s == 0) {
        auditfs_empty_root(out);
        return;
    }
    /* complete subtrees for each set bit of s, smallest (rightmost) first */
    for (unsigned i = 0; i < 64; i++) {
        if (!(s & ((uint64_t)1 << i)))
            continue;
        unsigned lv = i / 8, rr = i % 8;
        uint64_t start = (i + 1 >= 64) ? 0 : (s >> (i + 1)) << (i + 1);
        unsigned pos = (unsigned)((start >> (8 * lv)) & 255);
        afs_hash_span(sub.b, (const uint8_t(*)[32])t->h[lv][pos], 1u << rr);
        if (!have) {
            r = sub;
            have = 1;
        } else {
            auditfs_hash n;
            auditfs_node_hash(&n, &sub, &r);
            r = n;
        }
    }
    *out = r;
}

int
afs_tree_read(uint8_t **out, size_t *len, git_repository *repo, git_tree *tree, const char *path)
{
    git_tree_entry *te = NULL;
    git_blob *blob = NULL;
    int err = 0;
    int rc = git_tree_entry_bypath(&te, tree, path);
    if (rc == GIT_ENOTFOUND)
        return afs_error_set(AUDITFS_ENOTFOUND, "%s: not in the ledger tree", path);
    if (rc < 0)
        return afs_error_git(AUDITFS_EIO, "%s", path);
    if (git_tree_entry_type(te) != GIT_OBJECT_BLOB) {
        err = afs_error_set(AUDITFS_EFORMAT, "%s: not a file", path);
        goto cleanup;
    }
    /* through the checked readers when they have it (hashed once, not again by libgit2) */
    git_object_t type;
    void *data = NULL;
    rc = afs_odb_read_checked(&data, len, &type, repo, git_tree_entry_id(te));
    if (rc == 0 && type == GIT_OBJECT_BLOB) {
        *out = data; /* NUL-terminated */
        goto cleanup;
    }
    free(data);
    if (rc == 0 || (rc != GIT_ENOTFOUND)) {
        err = rc == 0 ? afs_error_set(AUDITFS_EFORMAT, "%s: not a blob", path)
                      : afs_error_git(AUDITFS_EIO, "%s: cannot read blob", path);
        goto cleanup;
    }
    if (git_blob_lookup(&blob, repo, git_tree_entry_id(te)) < 0) {
        err = afs_error_git(AUDITFS_EIO, "%s: cannot read blob", path);
        goto cleanup;
    }
    size_t n = (size_t)git_blob_rawsize(blob);
    *out = malloc(n + 1);
    if (!*out) {
        err = afs_error_set(AUDITFS_ENOMEM, "out of memory");
        goto cleanup;
    }
    memcpy(*out, git_blob_rawcontent(blob), n);
    (*out)[n] = 0;
    *len = n;
cleanup:
    git_blob_free(blob);
    git_tree_entry_free(te);
    return err;
}

int
afs_tiles_load(afs_tiles *t, git_repository *repo, git_tree *tree, uint64_t size)
{
    int format = 1;
    (void)afs_tree_format(&format, repo, tree); /* anything but format 2 reads stored tiles */
    int err = afs_tiles_load_stored(t, repo, tree, size, format == 2 ? 2 : 1);
    unsigned w = afs_tiles_width(t, 0);
    if (!err && format == 2 && w)
        err = afs_tile0_rebuild(t->h[0][0], repo, tree, NULL, size >> 8, w);
    return err;
}

int
afs_tiles_load_stored(afs_tiles *t, git_repository *repo, git_tree *tree, uint64_t size,
                      int format)
{
    t->size = size;
    for (unsigned lv = format == 2 ? 1 : 0; lv < AFS_TILE_LEVELS; lv++) {
        unsigned w = afs_tiles_width(t, lv);
        if (w == 0)
            continue;
        char path[AUDITFS_TILE_PATH_MAX];
        uint8_t *data = NULL;
        size_t len = 0;
        uint64_t index = (8 * (lv + 1) >= 64) ? 0 : size >> (8 * (lv + 1));
        int err = auditfs_tile_path(path, lv, index, w);
        if (err)
            return err;
        if ((err = afs_tree_read(&data, &len, repo, tree, path)) != 0)
            return afs_error_wrap(AUDITFS_EVERIFY, "partial tile for size %llu",
                                  (unsigned long long)size);
        if (len != (size_t)w * 32) {
            free(data);
            return afs_error_set(AUDITFS_EVERIFY, "%s: %zu bytes, expected %u", path, len, w * 32);
        }
        memcpy(t->h[lv], data, len);
        free(data);
    }
    return 0;
}

/* ---- segments ---- */

void
afs_seg_path(char out[32], uint64_t seq)
{
    char d[32];
    snprintf(d, sizeof d, "%012llu", (unsigned long long)(seq % 1000000000000ULL));
    snprintf(out, 32, "seg/%.3s/%.3s/%.3s/%.3s", d, d + 3, d + 6, d + 9);
}

/* Finds in `tree` (sorted 3-digit names) the largest name <= target; -1 if none. */
static long
floor_index(const git_tree *tree, const char *target)
{
    size_t lo = 0, hi = git_tree_entrycount(tree);
    long best = -1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *name = git_tree_entry_name(git_tree_entry_byindex(tree, mid));
        if (strncmp(name, target, 3) <= 0 && strlen(name) == 3) {
            best = (long)mid;
            lo = mid + 1;
        } else if (strncmp(name, target, 3) <= 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return best;
}

static int
seg_floor(uint64_t *first, git_oid *id, git_repository *repo, git_tree *tree, const char *digits,
          int depth, int exact, char *acc)
{
    long i = exact ? floor_index(tree, digits + 3 * depth)
                   : (long)git_tree_entrycount(tree) - 1;
    for (; i >= 0; i--) {
        const git_tree_entry *te = git_tree_entry_byindex(tree, (size_t)i);
        const char *name = git_tree_entry_name(te);
        if (strlen(name) != 3)
            continue;
        memcpy(acc + 3 * depth, name, 3);
        int still_exact = exact && memcmp(name, digits + 3 * depth, 3) == 0;
        if (depth == 3) {
            if (git_tree_entry_type(te) != GIT_OBJECT_BLOB)
                return afs_error_set(AUDITFS_EFORMAT, "seg/...: not a blob");
            acc[12] = 0;
            uint64_t v;
            const char *a = acc;
            while (*a == '0' && a[1])
                a++;
            if (!afs_parse_u64(&v, a, strlen(a)))
                return afs_error_set(AUDITFS_EFORMAT, "bad segment name %s", acc);
            *first = v;
            git_oid_cpy(id, git_tree_entry_id(te));
            return 0;
        }
        if (git_tree_entry_type(te) != GIT_OBJECT_TREE)
            continue;
        git_tree *sub = NULL;
        if (git_tree_lookup(&sub, repo, git_tree_entry_id(te)) < 0) {
            /* name the tree (seg/DDD[/DDD[/DDD]]): a damaged one must be findable */
            char path[20] = "seg";
            for (int k = 0; k <= depth; k++)
                snprintf(path + 3 + 4 * k, sizeof path - 3 - 4 * (size_t)k, "/%.3s", acc + 3 * k);
            return afs_error_git(AUDITFS_EIO, "%s: cannot read the segment tree", path);
        }
        int err = seg_floor(first, id, repo, sub, digits, depth + 1, still_exact, acc);
        git_tree_free(sub);
        if (err != AUDITFS_ENOTFOUND)
            return err;
    }
    return AUDITFS_ENOTFOUND;
}

int
afs_seg_find(uint64_t *first, git_oid *id, git_repository *repo, git_tree *tree, uint64_t seq)
{
    git_tree_entry *te = NULL;
    git_tree *segs = NULL;
    char digits[16], acc[16];
    int err;
    snprintf(digits, sizeof digits, "%012llu", (unsigned long long)seq);
    if (git_tree_entry_bypath(&te, tree, "seg") < 0)
        return afs_error_set(AUDITFS_ENOTFOUND, "entry %llu: the ledger has no segments",
                             (unsigned long long)seq);
    if (git_tree_lookup(&segs, repo, git_tree_entry_id(te)) < 0) {
        git_tree_entry_free(te);
        return afs_error_git(AUDITFS_EIO, "cannot read seg/");
    }
    err = seg_floor(first, id, repo, segs, digits, 0, 1, acc);
    if (err == AUDITFS_ENOTFOUND)
        afs_error_set(AUDITFS_ENOTFOUND, "entry %llu: no segment holds it",
                      (unsigned long long)seq);
    git_tree_free(segs);
    git_tree_entry_free(te);
    return err;
}

/* ---- open / init ---- */

static void tile_cache_clear(struct afs_tile_cache *c);

static int
load_head(auditfs_ledger *l)
{
    git_reference *ref = NULL;
    int err = 0;
    git_commit_free(l->head);
    git_tree_free(l->tree);
    l->head = NULL;
    l->tree = NULL;
    free(l->cp_note);
    l->cp_note = NULL;
    l->cache_valid = 0;
    tile_cache_clear(l->tiles);
    l->partials_ok = 0;
    const char *refname = l->ref ? l->ref : AFS_REF;
    if (git_reference_lookup(&ref, l->repo, refname) < 0)
        return afs_error_git(AUDITFS_EFORMAT, "%s: no %s: not an auditfs ledger", l->path, refname);
    const git_oid *target = git_reference_target(ref);
    if (!target) {
        err = afs_error_set(AUDITFS_EFORMAT, "%s: %s is symbolic", l->path, refname);
        goto cleanup;
    }
    git_oid_cpy(&l->head_id, target);
    /* The ref exists, so its commit, tree and checkpoint must be readable: a failure here is
     * a damaged or tampered repository (EVERIFY, exit 1), not an I/O problem of ours. */
    char hex[GIT_OID_HEXSZ + 1];
    git_oid_tostr(hex, sizeof hex, &l->head_id);
    if (git_commit_lookup(&l->head, l->repo, &l->head_id) < 0 ||
        git_commit_tree(&l->tree, l->head) < 0) {
        err = afs_error_git(AUDITFS_EVERIFY, "%s: commit %s (the head) is missing or corrupt",
                            l->path, hex);
        goto cleanup;
    }
    if ((err = afs_tree_read((uint8_t **)&l->cp_note, &l->cp_note_len, l->repo, l->tree,
                             "checkpoint")) != 0) {
        err = afs_error_wrap(AUDITFS_EVERIFY, "%s: commit %s (the head)", l->path, hex);
        goto cleanup;
    }
    size_t text_len = 0;
    /* the body ends at the blank line before the signatures */
    const char *sep = strstr(l->cp_note, "\n\n");
    text_len = sep ? (size_t)(sep - l->cp_note) + 1 : l->cp_note_len;
    if ((err = auditfs_checkpoint_parse(&l->cp, l->cp_note, text_len)) != 0)
        err = afs_error_wrap(AUDITFS_EVERIFY, "%s: head checkpoint", l->path);
    /* any format file but format 2's reads as format 1: a bad one fails verify, and format 1
     * readers need every tile stored */
    if (afs_tree_format(&l->format, l->repo, l->tree) != 0 || l->format != 2)
        l->format = 1;
cleanup:
    git_reference_free(ref);
    return err;
}

int
auditfs_ledger_open(auditfs_ledger **out, const char *path)
{
    return afs_ledger_open_ref(out, path, NULL);
}

int
auditfs_ledger_open_ref(auditfs_ledger **out, const char *path, const char *refname)
{
    int err;
    *out = NULL;
    if ((err = afs_git_init_once()) != 0)
        return err;
    if (!refname || strncmp(refname, "refs/", 5) != 0 || !git_reference_is_valid_name(refname))
        return afs_error_set(AUDITFS_EINVAL, "%s: not a ref name", refname ? refname : "(null)");
    return afs_ledger_open_ref(out, path, refname);
}

int
afs_ledger_open_ref(auditfs_ledger **out, const char *path, const char *refname)
{
    auditfs_ledger *l = NULL;
    int err;
    *out = NULL;
    if ((err = afs_git_init_once()) != 0)
        return err;
    l = calloc(1, sizeof *l);
    if (!l)
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    l->path = strdup(path);
    l->ref = refname ? strdup(refname) : NULL;
    l->dctx = ZSTD_createDCtx();
    if (!l->path || !l->dctx || (refname && !l->ref)) {
        err = afs_error_set(AUDITFS_ENOMEM, "out of memory");
        goto fail;
    }
    if (git_repository_open_ext(&l->repo, path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0) {
        err = afs_error_git(AUDITFS_ENOTFOUND, "%s: cannot open the ledger repository", path);
        goto fail;
    }
    if ((err = afs_odb_harden(l->repo)) != 0)
        goto fail;
    if ((err = load_head(l)) != 0)
        goto fail;
    *out = l;
    return 0;
fail:
    auditfs_ledger_free(l);
    return err;
}

int
auditfs_ledger_refresh(auditfs_ledger *l)
{
    return load_head(l);
}

/*
 * Tiles of the head commit, read once and kept with their interior levels: lv[r] holds the
 * w >> r complete subtree hashes of 2^r tile entries (lv[0] is the tile itself), computed on
 * first use. Direct-mapped, TILE_SLOTS entries of at most 16 KiB each. Everything cached comes
 * from the immutable head commit; load_head() empties the cache when the head moves.
 */
#define TILE_SLOTS 1024
typedef struct tile_slot {
    int used;
    unsigned level;
    uint64_t index;
    unsigned width;
    uint8_t *lv[8];
} tile_slot;

struct afs_tile_cache {
    tile_slot e[TILE_SLOTS];
};

static void
tile_slot_clear(tile_slot *t)
{
    for (int r = 0; r < 8; r++)
        free(t->lv[r]);
    memset(t, 0, sizeof *t);
}

static void
tile_cache_clear(struct afs_tile_cache *c)
{
    if (!c)
        return;
    for (int i = 0; i < TILE_SLOTS; i++)
        if (c->e[i].used)
            tile_slot_clear(&c->e[i]);
}

void
auditfs_ledger_free(auditfs_ledger *l)
{
    if (!l)
        return;
    tile_cache_clear(l->tiles);
    free(l->tiles);
    free(l->partials);
    afs_tile0_cache_close(l);
    git_commit_free(l->head);
    git_tree_free(l->tree);
    git_repository_free(l->repo);
    ZSTD_freeDCtx(l->dctx);
    afs_buf_release(&l->cache_buf);
    free(l->cp_note);
    free(l->path);
    free(l->ref);
    free(l);
}

int
auditfs_ledger_head(auditfs_checkpoint *out, auditfs_ledger *l)
{
    *out = l->cp;
    return 0;
}

int
auditfs_ledger_checkpoint_note(char **out, size_t *len, auditfs_ledger *l)
{
    *out = malloc(l->cp_note_len + 1);
    if (!*out)
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    memcpy(*out, l->cp_note, l->cp_note_len + 1);
    *len = l->cp_note_len;
    return 0;
}

/*
 * The head's partial tiles hash to the checkpoint's root (once per head). Together with the
 * check of every full tile against its parent below, every tile hash a reader uses is bound to
 * the root in the checkpoint: a leaf changed together with its level-0 tile is caught because
 * that tile no longer hashes to its entry one level up.
 */
static int
verify_partials(auditfs_ledger *l)
{
    auditfs_hash root;
    if (l->partials_ok)
        return 0;
    if (!l->partials && !(l->partials = malloc(sizeof *l->partials)))
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    int err = afs_tiles_load(l->partials, l->repo, l->tree, l->cp.size);
    if (err)
        return err;
    afs_tiles_root(&root, l->partials);
    if (!auditfs_hash_equal(&root, &l->cp.root))
        return afs_error_set(AUDITFS_EVERIFY,
                             "%s: the head's tiles do not hash to the checkpoint's root", l->path);
    l->partials_ok = 1;
    return 0;
}

static int head_tile_slot(tile_slot **out, auditfs_ledger *l, unsigned level, uint64_t index);

/* Checks a tile just read (not yet cached) against the verified tiles above it. */
static int
verify_tile(auditfs_ledger *l, unsigned level, uint64_t index, unsigned width,
            const uint8_t *data, const char *path)
{
    int err = verify_partials(l);
    if (err)
        return err;
    if (width < 256) {
        /* the head's partial tile at this level: equal to the one checked against the root */
        if (sodium_memcmp(data, l->partials->h[level], (size_t)width * 32) != 0)
            return afs_error_set(AUDITFS_EVERIFY, "%s does not match the checkpoint's root",
                                 path);
        return 0;
    }
    if (level + 1 >= AFS_TILE_LEVELS)
        return afs_error_set(AUDITFS_EVERIFY, "%s: no level above it", path);
    auditfs_hash top;
    afs_hash_span(top.b, (const uint8_t(*)[32])data, 256);
    tile_slot *parent;
    if ((err = head_tile_slot(&parent, l, level + 1, index >> 8)) != 0)
        return err;
    if (!auditfs_hash_equal(&top, (const auditfs_hash *)(parent->lv[0] + (index & 255) * 32)))
        return afs_error_set(AUDITFS_EVERIFY,
                             "%s does not hash to its entry in the tile above (tampered tiles)",
                             path);
    return 0;
}

static int
tile0_cache_cb(void *payload, uint64_t index, const uint8_t tile[8192])
{
    afs_tile0_cache_put(payload, index, tile);
    return 0;
}

/* The cached, verified tile (level, index) of the head tree: full, or the head's partial. */
static int
head_tile_slot(tile_slot **out, auditfs_ledger *l, unsigned level, uint64_t index)
{
    uint64_t size = l->cp.size;
    uint64_t full = (8 * (level + 1) >= 64) ? 0 : size >> (8 * (level + 1));
    unsigned width = index < full ? 256 : (unsigned)((size >> (8 * level)) & 255);
    if (index > full || width == 0)
        return afs_error_set(AUDITFS_ENOTFOUND, "tile %u/%llu is beyond the tree", level,
                             (unsigned long long)index);
    if (!l->tiles && !(l->tiles = calloc(1, sizeof *l->tiles)))
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    size_t slot = (index * 8 + level) % TILE_SLOTS;
    tile_slot *t = &l->tiles->e[slot];
    if (t->used && t->level == level && t->index == index && t->width == width) {
        *out = t;
        return 0;
    }
    char path[AUDITFS_TILE_PATH_MAX];
    uint8_t *data = NULL;
    size_t len;
    int err = auditfs_tile_path(path, level, index, width);
    if (err)
        return err;
    int rebuilt = level == 0 && l->format == 2, from_disk = 0;
    if (rebuilt && width < 256) {
        /* the head's level-0 partial, rebuilt once with the partials checked against the root */
        if ((err = verify_partials(l)) != 0)
            return err;
        if (!(data = malloc((size_t)width * 32)))
            return afs_error_set(AUDITFS_ENOMEM, "out of memory");
        memcpy(data, l->partials->h[0], (size_t)width * 32);
        len = (size_t)width * 32;
    } else if (rebuilt && (data = malloc(8192)) != NULL && afs_tile0_cache_get(l, index, data) &&
               verify_tile(l, 0, index, 256, data, path) == 0) {
        len = 8192; /* a slot of the derived cache that hashes to its level-1 entry */
        from_disk = 1;
    } else if (rebuilt) {
        /* rebuilt from the segments; the complete tiles after it in the same frame go to the
         * derived cache unchecked (each is checked when it is read back) */
        free(data);
        if (!(data = malloc(8192)))
            return afs_error_set(AUDITFS_ENOMEM, "out of memory");
        if ((err = afs_tile0_rebuild_more(data, l->repo, l->tree, l->dctx, index, 256,
                                          tile0_cache_cb, l)) != 0) {
            free(data);
            return afs_error_wrap(AUDITFS_EVERIFY, "tile needed for size %llu",
                                  (unsigned long long)size);
        }
        len = 8192;
    } else {
        free(data);
        data = NULL;
        if ((err = afs_tile_read(&data, &len, l->repo, l->tree, l->format, l->dctx, level, index,
                                 width)) != 0)
            return afs_error_wrap(AUDITFS_EVERIFY, "tile needed for size %llu",
                                  (unsigned long long)size);
    }
    if (len != (size_t)width * 32) {
        free(data);
        return afs_error_set(AUDITFS_EVERIFY, "%s: %zu bytes, expected %u", path, len,
                             width * 32);
    }
    /* verified before it is cached (the check may itself load tiles into other slots) */
    if (!from_disk && (err = verify_tile(l, level, index, width, data, path)) != 0) {
        free(data);
        return err;
    }
    if (rebuilt && width == 256 && !from_disk)
        afs_tile0_cache_put(l, index, data);
    t = &l->tiles->e[slot];
    if (t->used)
        tile_slot_clear(t);
    t->used = 1;
    t->level = level;
    t->index = index;
    t->width = width;
    t->lv[0] = data;
    *out = t;
    return 0;
}

int
afs_head_tile_copy(uint8_t **out, unsigned *width, auditfs_ledger *l, unsigned level,
                   uint64_t index)
{
    tile_slot *t;
    *out = NULL;
    int err = head_tile_slot(&t, l, level, index);
    if (err)
        return err;
    if (!(*out = malloc((size_t)t->width * 32)))
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    memcpy(*out, t->lv[0], (size_t)t->width * 32);
    *width = t->width;
    return 0;
}

static int
head_tile(const uint8_t **out, auditfs_ledger *l, unsigned level, uint64_t index)
{
    tile_slot *t;
    int err = head_tile_slot(&t, l, level, index);
    if (!err)
        *out = t->lv[0];
    return err;
}

/* Level r of a cached tile: w >> r hashes, each the root of 2^r consecutive tile entries. */
static int
tile_level(const uint8_t **out, tile_slot *t, unsigned r)
{
    if (!t->lv[r]) {
        const uint8_t *below;
        int err = tile_level(&below, t, r - 1);
        if (err)
            return err;
        unsigned n = t->width >> r;
        uint8_t *lv = malloc(n ? (size_t)n * 32 : 1);
        if (!lv)
            return afs_error_set(AUDITFS_ENOMEM, "out of memory");
        for (unsigned i = 0; i < n; i++)
            auditfs_node_hash((auditfs_hash *)(lv + 32 * i), (const auditfs_hash *)(below + 64 * i),
                              (const auditfs_hash *)(below + 64 * i + 32));
        t->lv[r] = lv;
    }
    *out = t->lv[r];
    return 0;
}

int
afs_leaf_hash_from_tiles(auditfs_hash *out, auditfs_ledger *l, uint64_t seq)
{
    const uint8_t *tile;
    if (seq >= l->cp.size)
        return afs_error_set(AUDITFS_ENOTFOUND, "entry %llu: the tree has %llu entries",
                             (unsigned long long)seq, (unsigned long long)l->cp.size);
    int err = head_tile(&tile, l, 0, seq >> 8);
    if (err)
        return err;
    memcpy(out->b, tile + (seq & 255) * 32, 32);
    return 0;
}

/* auditfs_hash_reader over the head tiles; valid for any complete subtree below the head size. */
static int
tile_reader(auditfs_hash *out, unsigned level, uint64_t index, void *payload)
{
    auditfs_ledger *l = payload;
    unsigned tl = level / 8, r = level % 8;
    uint64_t first = index << r; /* index of the first hash at tile level tl */
    tile_slot *t;
    const uint8_t *lv;
    int err = head_tile_slot(&t, l, tl, first >> 8);
    if (!err)
        err = tile_level(&lv, t, r);
    if (err)
        return err;
    memcpy(out->b, lv + ((first & 255) >> r) * 32, 32);
    return 0;
}

int
auditfs_ledger_prove(auditfs_inclusion_proof *out, auditfs_ledger *l, uint64_t index,
                     uint64_t size)
{
    if (size == 0)
        size = l->cp.size;
    if (size > l->cp.size || index >= size)
        return afs_error_set(AUDITFS_EINVAL,
                             "cannot prove entry %llu in a tree of %llu (the ledger has %llu)",
                             (unsigned long long)index, (unsigned long long)size,
                             (unsigned long long)l->cp.size);
    out->leaf_index = index;
    out->tree_size = size;
    return auditfs_merkle_prove_inclusion(out->path, &out->path_len, index, size, tile_reader, l);
}

int
auditfs_ledger_prove_consistency(auditfs_consistency_proof *out, auditfs_ledger *l, uint64_t m,
                                 uint64_t n)
{
    if (n == 0)
        n = l->cp.size;
    if (m == 0 || m > n || n > l->cp.size)
        return afs_error_set(AUDITFS_EINVAL,
                             "cannot prove consistency from %llu to %llu (the ledger has %llu)",
                             (unsigned long long)m, (unsigned long long)n,
                             (unsigned long long)l->cp.size);
    out->first = m;
    out->second = n;
    return auditfs_merkle_prove_consistency(out->path, &out->path_len, m, n, tile_reader, l);
}

int
auditfs_ledger_check_head(auditfs_checkpoint *out, auditfs_ledger *l, const auditfs_verifier *key)
{
    auditfs_checkpoint cp;
    afs_tiles *t = NULL;
    int err = auditfs_checkpoint_open(&cp, l->cp_note, l->cp_note_len, key, NULL);
    if (err)
        return afs_error_wrap(err == AUDITFS_EFORMAT ? AUDITFS_EVERIFY : err,
                              "%s: head checkpoint", l->path);
    int format;
    if ((err = afs_tree_check_top(l->repo, l->tree)) != 0 ||
        (err = afs_tree_format(&format, l->repo, l->tree)) != 0)
        return afs_error_wrap(AUDITFS_EVERIFY, "%s: the head", l->path); /* which tiles to read */
    t = malloc(sizeof *t);
    if (!t)
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    if ((err = afs_tiles_load(t, l->repo, l->tree, cp.size)) == 0) {
        auditfs_hash root;
        afs_tiles_root(&root, t);
        if (!auditfs_hash_equal(&root, &cp.root))
            err = afs_error_set(AUDITFS_EVERIFY,
                                "%s: the head's tiles do not hash to the checkpoint's root", l->path);
    }
    free(t);
    if (!err && out)
        *out = cp;
    return err;
}

/* ---- reading leaves ---- */

typedef struct seg_handle {
    git_oid id;
    git_blob *blob; /* read through libgit2, or */
    void *own;      /* read through the checked readers (afs_odb_read_checked) */
    const uint8_t *data;
    size_t len;
    afs_seg_index ix;
    char where[64];
} seg_handle;

static int
seg_open(seg_handle *h, git_repository *repo, const git_oid *id, uint64_t first)
{
    git_object_t type;
    memset(h, 0, sizeof *h);
    git_oid_cpy(&h->id, id);
    afs_seg_path(h->where, first);
    /* the checked readers hash the object once (OpenSSL); libgit2 would hash it again */
    int rc = afs_odb_read_checked(&h->own, &h->len, &type, repo, id);
    if (rc == 0 && type != GIT_OBJECT_BLOB)
        return afs_error_set(AUDITFS_EVERIFY, "%s: not a blob", h->where);
    if (rc == 0) {
        h->data = h->own;
    } else if (rc == GIT_ENOTFOUND && git_blob_lookup(&h->blob, repo, id) == 0) {
        h->data = git_blob_rawcontent(h->blob);
        h->len = (size_t)git_blob_rawsize(h->blob);
    } else {
        return afs_error_git(AUDITFS_EVERIFY, "%s: cannot read the segment", h->where);
    }
    int err = afs_seg_index_parse(&h->ix, h->data, h->len, h->where);
    if (!err && h->ix.first_seq != first)
        err = afs_error_set(AUDITFS_EVERIFY, "%s: its index starts at entry %llu", h->where,
                            (unsigned long long)h->ix.first_seq);
    return err;
}

static void
seg_close(seg_handle *h)
{
    afs_seg_index_release(&h->ix);
    git_blob_free(h->blob);
    h->blob = NULL;
    free(h->own);
    h->own = NULL;
    h->data = NULL;
}

/* Copies entry seq out of the decoded frame cached in l (which must hold it). */
static int
leaf_from_cached_frame(afs_buf *out, auditfs_ledger *l, uint64_t seq)
{
    size_t off = 0;
    const uint8_t *leaf;
    size_t len;
    for (uint64_t s = l->cache_first; afs_seg_record_next(&leaf, &len, &l->cache_buf, &off); s++)
        if (s == seq) {
            out->len = 0;
            return afs_buf_put(out, leaf, len);
        }
    return afs_error_set(AUDITFS_EVERIFY, "entry %llu missing from its frame",
                         (unsigned long long)seq);
}

int
afs_read_leaf_raw(afs_buf *out, auditfs_ledger *l, uint64_t seq)
{
    uint64_t first;
    git_oid id;
    seg_handle h;
    /* consecutive reads from one frame find, open and decode its segment once */
    if (l->cache_valid && seq >= l->cache_first && seq - l->cache_first < l->cache_count)
        return leaf_from_cached_frame(out, l, seq);
    int err = afs_seg_find(&first, &id, l->repo, l->tree, seq);
    if (err)
        return err;
    if ((err = seg_open(&h, l->repo, &id, first)) != 0)
        goto cleanup;
    if (seq >= h.ix.first_seq + h.ix.count) {
        err = afs_error_set(AUDITFS_EVERIFY, "%s: entry %llu missing", h.where,
                            (unsigned long long)seq);
        goto cleanup;
    }
    uint32_t fi = afs_seg_index_find(&h.ix, seq);
    l->cache_valid = 0;
    if ((err = afs_seg_frame_decode(&l->cache_buf, l->dctx, &h.ix, fi,
                                    h.data, h.len,
                                    h.where)) != 0)
        goto cleanup;
    l->cache_first = h.ix.frames[fi].first_seq;
    l->cache_count = h.ix.frames[fi].count;
    l->cache_valid = 1;
    err = leaf_from_cached_frame(out, l, seq);
cleanup:
    seg_close(&h);
    return err;
}

int
auditfs_ledger_leaf(uint8_t **out, size_t *len, auditfs_ledger *l, uint64_t seq)
{
    afs_buf b = AFS_BUF_INIT;
    auditfs_hash want, got;
    int err;
    if (seq >= l->cp.size)
        return afs_error_set(AUDITFS_ENOTFOUND, "entry %llu: the ledger has %llu entries",
                             (unsigned long long)seq, (unsigned long long)l->cp.size);
    if ((err = afs_leaf_hash_from_tiles(&want, l, seq)) != 0 ||
        (err = afs_read_leaf_raw(&b, l, seq)) != 0)
        goto fail;
    auditfs_leaf_hash(&got, b.data, b.len);
    if (!auditfs_hash_equal(&want, &got)) {
        err = afs_error_set(AUDITFS_EVERIFY, "entry %llu: leaf does not hash to its tile",
                            (unsigned long long)seq);
        goto fail;
    }
    *out = (uint8_t *)afs_buf_detach(&b, len);
    return 0;
fail:
    afs_buf_release(&b);
    return err;
}

struct auditfs_cursor {
    auditfs_ledger *l;
    uint64_t next, to;
    seg_handle seg;
    int seg_open;
    uint32_t frame;
    afs_buf buf;
    size_t off;
    int frame_loaded;
    /* AFSSEG2 frames are loaded as stored and each leaf rebuilt when it is read: its prev is
     * the hash checked for the leaf before (or the level-0 tile entry before it after a seek),
     * so reading one entry of a frame rebuilds and hashes one leaf, not the whole frame */
    int stored;
    afs_buf leaf;
    auditfs_hash prev;
    int have_prev;
};

int
auditfs_cursor_new(auditfs_cursor **out, auditfs_ledger *l, uint64_t from, uint64_t to)
{
    auditfs_cursor *c = calloc(1, sizeof *c);
    if (!c)
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    if (to > l->cp.size)
        to = l->cp.size;
    c->l = l;
    c->next = from;
    c->to = to;
    *out = c;
    return 0;
}

int
auditfs_cursor_next(auditfs_cursor *c, const uint8_t **leaf, size_t *len)
{
    int err;
    if (c->next >= c->to)
        return 0;
    if (!c->seg_open || c->next >= c->seg.ix.first_seq + c->seg.ix.count) {
        uint64_t first;
        git_oid id;
        if (c->seg_open)
            seg_close(&c->seg);
        c->seg_open = 0;
        c->frame_loaded = 0;
        if ((err = afs_seg_find(&first, &id, c->l->repo, c->l->tree, c->next)) != 0)
            return err;
        if ((err = seg_open(&c->seg, c->l->repo, &id, first)) != 0) {
            seg_close(&c->seg);
            return err;
        }
        c->seg_open = 1;
        if (c->next >= first + c->seg.ix.count)
            return afs_error_set(AUDITFS_EVERIFY, "%s: entry %llu missing", c->seg.where,
                                 (unsigned long long)c->next);
    }
    if (!c->frame_loaded ||
        c->next >= c->seg.ix.frames[c->frame].first_seq + c->seg.ix.frames[c->frame].count) {
        int version;
        c->frame = afs_seg_index_find(&c->seg.ix, c->next);
        if ((err = afs_seg_frame_load(&c->buf, &version, c->l->dctx, &c->seg.ix, c->frame,
                                      c->seg.data, c->seg.len, c->seg.where)) != 0)
            return err;
        c->frame_loaded = 1;
        c->stored = version == 2;
        c->off = c->stored ? 32 : 0;
        uint64_t s = c->seg.ix.frames[c->frame].first_seq;
        c->have_prev = c->stored && s == c->next;
        if (c->have_prev)
            memcpy(c->prev.b, c->buf.data, 32);
        for (; s < c->next; s++)
            afs_seg_record_next(leaf, len, &c->buf, &c->off);
    }
    if (!afs_seg_record_next(leaf, len, &c->buf, &c->off))
        return afs_error_set(AUDITFS_EVERIFY, "entry %llu missing", (unsigned long long)c->next);
    auditfs_hash want, got;
    if (c->stored) {
        size_t got_len;
        if (!c->have_prev && (err = afs_leaf_hash_from_tiles(&c->prev, c->l, c->next - 1)) != 0)
            return err;
        c->leaf.len = 0;
        if ((err = afs_buf_grow(&c->leaf, *len + 4 + AFS_SEG2_MAX_ADDED)) != 0)
            return err;
        if ((err = afs_seg2_rebuild(&got_len, (uint8_t *)c->leaf.data, c->leaf.cap, *leaf, *len,
                                    c->next, c->prev.b)) != 0) {
            char why[512];
            snprintf(why, sizeof why, "%s", auditfs_error_last());
            return afs_error_set(err, "%s: %s", c->seg.where, why);
        }
        /* NUL after the leaf, as after a frame's last leaf (afs_buf): REG_STARTEND users and
         * ASan's regexec interceptor read up to a NUL */
        c->leaf.len = got_len;
        c->leaf.data[got_len] = '\0';
        *leaf = (const uint8_t *)c->leaf.data + 4;
        *len = got_len - 4;
    }
    if ((err = afs_leaf_hash_from_tiles(&want, c->l, c->next)) != 0)
        return err;
    auditfs_leaf_hash(&got, *leaf, *len);
    if (!auditfs_hash_equal(&want, &got))
        return afs_error_set(AUDITFS_EVERIFY, "entry %llu: leaf does not hash to its tile",
                             (unsigned long long)c->next);
    c->prev = got;
    c->have_prev = 1;
    c->next++;
    return 1;
}

/* Moves the cursor to seq, keeping the open segment and decoded frame when they still apply. */
int
afs_cursor_seek(auditfs_cursor *c, uint64_t seq)
{
    const uint8_t *leaf;
    size_t len;
    if (seq < c->next || !c->seg_open || seq < c->seg.ix.first_seq ||
        seq >= c->seg.ix.first_seq + c->seg.ix.count) {
        if (c->seg_open && (seq < c->seg.ix.first_seq ||
                            seq >= c->seg.ix.first_seq + c->seg.ix.count)) {
            seg_close(&c->seg);
            c->seg_open = 0;
        }
        c->frame_loaded = 0;
        c->next = seq;
        return 0;
    }
    if (c->frame_loaded &&
        seq < c->seg.ix.frames[c->frame].first_seq + c->seg.ix.frames[c->frame].count) {
        for (; c->next < seq; c->next++) {
            if (!afs_seg_record_next(&leaf, &len, &c->buf, &c->off))
                return afs_error_set(AUDITFS_EVERIFY, "entry %llu missing",
                                     (unsigned long long)c->next);
            c->have_prev = 0; /* skipped: the next leaf's prev comes from the tiles */
        }
        return 0;
    }
    c->frame_loaded = 0;
    c->next = seq;
    return 0;
}

void
auditfs_cursor_free(auditfs_cursor *c)
{
    if (!c)
        return;
    if (c->seg_open)
        seg_close(&c->seg);
    afs_buf_release(&c->buf);
    afs_buf_release(&c->leaf);
    free(c);
}

/* ---- contents ---- */

static void
content_path(char *out, size_t cap, const auditfs_entry *e)
{
    if (auditfs_entry_type_of(e) == AUDITFS_TYPE_DOCUMENT)
        snprintf(out, cap, "doc/%s/v%llu", e->name, (unsigned long long)e->version);
    else
        snprintf(out, cap, "notice/%llu", (unsigned long long)e->seq);
}

int
auditfs_ledger_content(uint8_t **out, size_t *len, auditfs_ledger *l, const auditfs_entry *e)
{
    char path[AUDITFS_DOCNAME_MAX + 64];
    uint8_t h[32];
    if (!e->has_content)
        return afs_error_set(AUDITFS_EINVAL, "entry %llu has no content", (unsigned long long)e->seq);
    content_path(path, sizeof path, e);
    int err = afs_tree_read(out, len, l->repo, l->tree, path);
    if (err)
        return err;
    afs_sha256(h, *out, *len);
    if (*len != e->content_length || sodium_memcmp(h, e->content_sha256, 32) != 0) {
        free(*out);
        *out = NULL;
        return afs_error_set(AUDITFS_EVERIFY, "%s: content does not match entry %llu's hash",
                             path, (unsigned long long)e->seq);
    }
    return 0;
}

int
auditfs_ledger_doc_latest(uint64_t *out, auditfs_ledger *l, const char *name)
{
    char path[AUDITFS_DOCNAME_MAX + 8];
    git_tree_entry *te = NULL;
    git_tree *t = NULL;
    *out = 0;
    snprintf(path, sizeof path, "doc/%s", name);
    if (git_tree_entry_bypath(&te, l->tree, path) < 0)
        return 0;
    if (git_tree_entry_type(te) == GIT_OBJECT_TREE && git_tree_lookup(&t, l->repo, git_tree_entry_id(te)) == 0) {
        for (size_t i = 0; i < git_tree_entrycount(t); i++) {
            const git_tree_entry *c = git_tree_entry_byindex(t, i);
            const char *n = git_tree_entry_name(c);
            uint64_t v;
            if (n[0] == 'v' && git_tree_entry_type(c) == GIT_OBJECT_BLOB &&
                afs_parse_u64(&v, n + 1, strlen(n + 1)) && v > *out)
                *out = v;
        }
    }
    git_tree_free(t);
    git_tree_entry_free(te);
    return 0;
}

int
auditfs_ledger_checkpoint_at(char **out, size_t *len, auditfs_ledger *l, uint64_t size)
{
    git_oid cur = l->head_id;
    git_commit *c = NULL;
    int err = AUDITFS_ENOTFOUND;
    if (size == l->cp.size)
        return auditfs_ledger_checkpoint_note(out, len, l);
    if (size > l->cp.size)
        return afs_error_set(AUDITFS_ENOTFOUND, "no checkpoint of size %llu: the ledger has %llu",
                             (unsigned long long)size, (unsigned long long)l->cp.size);
    for (;;) {
        git_tree *tree = NULL;
        char *note = NULL;
        size_t nlen;
        auditfs_checkpoint cp;
        if (git_commit_lookup(&c, l->repo, &cur) < 0 || git_commit_tree(&tree, c) < 0) {
            err = afs_error_git(AUDITFS_EIO, "cannot read history");
            break;
        }
        int rc = afs_tree_read((uint8_t **)&note, &nlen, l->repo, tree, "checkpoint");
        git_tree_free(tree);
        if (rc) {
            err = rc;
            break;
        }
        const char *sep = strstr(note, "\n\n");
        if (sep && auditfs_checkpoint_parse(&cp, note, (size_t)(sep - note) + 1) == 0) {
            if (cp.size == size) {
                *out = note;
                *len = nlen;
                err = 0;
                break;
            }
            if (cp.size < size) {
                free(note);
                err = afs_error_set(AUDITFS_ENOTFOUND,
                                    "no checkpoint was committed at size %llu (sizes are batch "
                                    "boundaries; see git log)",
                                    (unsigned long long)size);
                break;
            }
        }
        free(note);
        if (git_commit_parentcount(c) == 0) {
            err = afs_error_set(AUDITFS_ENOTFOUND, "no checkpoint of size %llu",
                                (unsigned long long)size);
            break;
        }
        git_oid_cpy(&cur, git_commit_parent_id(c, 0));
        git_commit_free(c);
        c = NULL;
    }
    git_commit_free(c);
    return err;
}

int
auditfs_ledger_root_at(auditfs_hash *out, auditfs_ledger *l, uint64_t size)
{
    if (size > l->cp.size)
        return afs_error_set(AUDITFS_EINVAL, "no root at size %llu: the ledger has %llu",
                             (unsigned long long)size, (unsigned long long)l->cp.size);
    return auditfs_merkle_root(out, size, tile_reader, l);
}

const char *
auditfs_ledger_path(const auditfs_ledger *l)
{
    return l->path;
}
