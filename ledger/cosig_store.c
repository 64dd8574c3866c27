/*
 * ledger/cosig_store.c - cosignatures stored with a ledger on the side ref
 * refs/auditfs/cosignatures (docs/FORMAT.md, "Cosignatures").
 *
 * Invariants: refs/heads/main is never read for writing or moved here; every stored note's text
 * is exactly the text of a checkpoint the ledger committed at that size, and every cosignature
 * line in it verified against that text when it was added. The side ref only moves forward
 * (each commit's parent is the previous tip, compare-and-swap), under auditfs-cosig.lock.
 */
#include "auditfs/witness.h"
#include "cosig_int.h"
#include "publish.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <unistd.h>

#define COSIG_LOCK "auditfs-cosig.lock"

static void
cosig_path(char out[32], uint64_t size)
{
    char d[13];
    snprintf(d, sizeof d, "%012llu", (unsigned long long)(size % 1000000000000ull));
    snprintf(out, 32, "cosig/%.3s/%.3s/%.3s/%.3s", d, d + 3, d + 6, d + 9);
}

/* The side ref's tip tree (NULL with ENOTFOUND-free 0 when the ref does not exist). */
static int
side_tree_ref(git_tree **tree, git_commit **commit, auditfs_ledger *l, const char *refname)
{
    git_reference *ref = NULL;
    *tree = NULL;
    if (commit)
        *commit = NULL;
    int rc = git_reference_lookup(&ref, l->repo, refname);
    if (rc == GIT_ENOTFOUND)
        return 0;
    if (rc < 0)
        return afs_error_git(AUDITFS_EIO, "%s: cannot read %s", l->path, refname);
    git_commit *c = NULL;
    int err = 0;
    if (git_commit_lookup(&c, l->repo, git_reference_target(ref)) < 0 ||
        git_commit_tree(tree, c) < 0)
        err = afs_error_git(AUDITFS_EIO, "%s: cannot read the tip of %s", l->path, refname);
    git_reference_free(ref);
    if (!err && commit)
        *commit = c;
    else
        git_commit_free(c);
    return err;
}

static int
side_tree(git_tree **tree, git_commit **commit, auditfs_ledger *l)
{
    return side_tree_ref(tree, commit, l, AUDITFS_COSIG_REF);
}

int
auditfs_cosig_store_get(char **out, size_t *len, auditfs_ledger *l, uint64_t size)
{
    return afs_cosig_store_get_ref(out, len, l, AUDITFS_COSIG_REF, size);
}

int
afs_cosig_store_get_ref(char **out, size_t *len, auditfs_ledger *l, const char *refname,
                        uint64_t size)
{
    git_tree *tree = NULL;
    char path[32];
    int err;
    if (!out || !len || !l)
        return afs_error_set(AUDITFS_EINVAL, "auditfs_cosig_store_get: NULL argument");
    *out = NULL;
    if ((err = side_tree_ref(&tree, NULL, l, refname)) != 0)
        return err;
    if (!tree)
        return afs_error_set(AUDITFS_ENOTFOUND, "no cosignatures are stored with %s", l->path);
    cosig_path(path, size);
    err = afs_tree_read((uint8_t **)out, len, l->repo, tree, path);
    git_tree_free(tree);
    if (err == AUDITFS_ENOTFOUND)
        return afs_error_set(AUDITFS_ENOTFOUND, "no cosignatures stored for tree size %llu",
                             (unsigned long long)size);
    if (!err && *len > AUDITFS_NOTE_MAX_BYTES) {
        free(*out);
        *out = NULL;
        return afs_error_set(AUDITFS_ETOOBIG, "%s: stored note exceeds %d bytes", path,
                             AUDITFS_NOTE_MAX_BYTES);
    }
    return err;
}

/* 1 if a and b have the same signed text (everything before the last blank line). */
static int
same_text(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t at, ao, bt, bo;
    if (auditfs_note_split(&at, &ao, a, alen) != 0 || auditfs_note_split(&bt, &bo, b, blen) != 0)
        return 0;
    return at == bt && memcmp(a, b, at) == 0;
}

int
auditfs_cosig_store_checkpoint(char **out, size_t *len, auditfs_ledger *l, uint64_t size)
{
    char *cp = NULL, *st = NULL;
    size_t cplen = 0, stlen = 0;
    int err;
    if (!out || !len || !l)
        return afs_error_set(AUDITFS_EINVAL, "auditfs_cosig_store_checkpoint: NULL argument");
    if (size == UINT64_MAX)
        size = l->cp.size;
    if ((err = auditfs_ledger_checkpoint_at(&cp, &cplen, l, size)) != 0)
        return err;
    err = auditfs_cosig_store_get(&st, &stlen, l, size);
    if (err == 0 && same_text(st, stlen, cp, cplen)) {
        free(cp);
        *out = st;
        *len = stlen;
        return 0;
    }
    free(st); /* none stored, or for another text (never written by us): show the plain one */
    auditfs_error_clear();
    *out = cp;
    *len = cplen;
    return 0;
}

/*
 * Longer than a screen because it is one transaction: lock, read the base note, merge, write
 * blobs, then the commit and the ref's move in the one durable order (afs_commit_publish,
 * publish.h); every exit unlocks.
 */
int
auditfs_cosig_store_add(int *changed, auditfs_ledger *l, uint64_t size, const char *lines,
                        size_t lines_len, const auditfs_verifier *witness)
{
    char lockpath[PATH_MAX], path[32], msg[128];
    char *cp = NULL, *base = NULL, *merged = NULL;
    size_t cplen = 0, baselen = 0, mlen = 0;
    git_tree *tree = NULL;
    git_commit *tip = NULL;
    git_oid commit_id;
    int lockfd = -1, ch = 0, err;
    if (changed)
        *changed = 0;
    if (!l || !witness || (!lines && lines_len))
        return afs_error_set(AUDITFS_EINVAL, "auditfs_cosig_store_add: NULL argument");
    snprintf(lockpath, sizeof lockpath, "%s%s", git_repository_path(l->repo), COSIG_LOCK);
    lockfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lockfd < 0)
        return afs_error_set(errno == EACCES || errno == EROFS ? AUDITFS_EIO : AUDITFS_EIO,
                             "%s: %s (the ledger is not writable here)", lockpath,
                             strerror(errno));
    if (flock(lockfd, LOCK_EX) != 0) {
        err = afs_error_set(AUDITFS_EIO, "%s: flock: %s", lockpath, strerror(errno));
        goto cleanup;
    }
    /* The checkpoint the ledger committed at this size is the only acceptable text. */
    if ((err = auditfs_ledger_refresh(l)) != 0 ||
        (err = auditfs_ledger_checkpoint_at(&cp, &cplen, l, size)) != 0)
        goto cleanup;
    if ((err = side_tree(&tree, &tip, l)) != 0)
        goto cleanup;
    err = auditfs_cosig_store_get(&base, &baselen, l, size);
    if (err == AUDITFS_ENOTFOUND || (err == 0 && !same_text(base, baselen, cp, cplen))) {
        free(base);
        base = cp;
        baselen = cplen;
        cp = NULL;
        err = 0;
    } else if (err) {
        goto cleanup;
    }
    if ((err = auditfs_cosig_merge(&merged, &mlen, &ch, base, baselen, lines, lines_len,
                                   witness)) != 0)
        goto cleanup;
    if (!ch)
        goto cleanup;
    cosig_path(path, size);
    /* the first cosignature also writes the format marker, from no tree at all */
    static const char fmt[] = "auditfs-cosignatures/1\n";
    git_tree_update ups[2];
    size_t nups = tree ? 1 : 2;
    memset(ups, 0, sizeof ups);
    for (size_t i = 0; i < nups; i++) {
        ups[i].action = GIT_TREE_UPDATE_UPSERT;
        ups[i].filemode = GIT_FILEMODE_BLOB;
        ups[i].path = i + 1 == nups ? path : "format";
    }
    if (git_blob_create_from_buffer(&ups[nups - 1].id, l->repo, merged, mlen) < 0 ||
        (nups == 2 && git_blob_create_from_buffer(&ups[0].id, l->repo, fmt, sizeof fmt - 1) < 0)) {
        err = afs_error_git(AUDITFS_EIO, "%s: cannot write a cosignature blob", l->path);
        goto cleanup;
    }
    snprintf(msg, sizeof msg, "cosignature by %s for tree size %llu\n",
             auditfs_verifier_name(witness), (unsigned long long)size);
    if ((err = afs_commit_publish(&commit_id, l->repo, AUDITFS_COSIG_REF, tree, ups, nups, tip,
                                  msg, NULL, l->path)) != 0)
        goto cleanup;
    if (changed)
        *changed = 1;
cleanup:
    git_tree_free(tree);
    git_commit_free(tip);
    free(merged);
    free(base);
    free(cp);
    if (lockfd >= 0)
        close(lockfd); /* releases the flock */
    return err;
}

struct size_list {
    uint64_t *v;
    size_t n, cap;
    int err;
};

static int
collect_size(const char *root, const git_tree_entry *e, void *payload)
{
    struct size_list *s = payload;
    char digits[13];
    size_t k = 0;
    uint64_t v;
    if (git_tree_entry_type(e) != GIT_OBJECT_BLOB || strncmp(root, "cosig/", 6) != 0)
        return 0;
    /* root is "cosig/DDD/DDD/DDD/", the name "DDD" */
    for (const char *p = root + 6; *p && k < 9; p++)
        if (*p >= '0' && *p <= '9')
            digits[k++] = *p;
    const char *name = git_tree_entry_name(e);
    if (k != 9 || strlen(name) != 3)
        return 0;
    memcpy(digits + 9, name, 3);
    digits[12] = 0;
    /* leading zeroes are part of the fixed-width name */
    v = strtoull(digits, NULL, 10);
    if (s->n == s->cap) {
        size_t nc = s->cap ? 2 * s->cap : 64;
        uint64_t *nv = realloc(s->v, nc * sizeof *nv);
        if (!nv) {
            s->err = afs_error_set(AUDITFS_ENOMEM, "out of memory");
            return -1;
        }
        s->v = nv;
        s->cap = nc;
    }
    s->v[s->n++] = v;
    return 0;
}

int
auditfs_cosig_store_sizes(uint64_t **sizes, size_t *n, auditfs_ledger *l)
{
    return afs_cosig_store_sizes_ref(sizes, n, l, AUDITFS_COSIG_REF);
}

int
afs_cosig_store_sizes_ref(uint64_t **sizes, size_t *n, auditfs_ledger *l, const char *refname)
{
    git_tree *tree = NULL;
    struct size_list s = {NULL, 0, 0, 0};
    int err;
    if (!sizes || !n || !l)
        return afs_error_set(AUDITFS_EINVAL, "auditfs_cosig_store_sizes: NULL argument");
    *sizes = NULL;
    *n = 0;
    if ((err = side_tree_ref(&tree, NULL, l, refname)) != 0)
        return err;
    if (!tree)
        return 0;
    /* git trees are sorted by name and the names are fixed-width digits: ascending order */
    if (git_tree_walk(tree, GIT_TREEWALK_PRE, collect_size, &s) < 0 && !s.err)
        s.err = afs_error_git(AUDITFS_EIO, "%s: cannot walk %s", l->path, refname);
    git_tree_free(tree);
    if (s.err) {
        free(s.v);
        return s.err;
    }
    *sizes = s.v;
    *n = s.n;
    return 0;
}
