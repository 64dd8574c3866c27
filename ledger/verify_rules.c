/*
 * ledger/verify_rules.c - the repository rules of docs/FORMAT.md section 6 that libgit2's view
 * of a tree would hide: every tree object is read raw and parsed strictly, so a ledger that
 * stock git (or git fsck) would read differently from auditfs does not verify.
 *
 * A tree is canonical when its bytes are exactly what git writes: entries "<mode> <name>\0<20
 * byte id>" back to back, mode "100644" (a file) or "40000" (a directory) and nothing else (no
 * zero padding, no executable bit, no links or submodules), names 1-255 bytes without '/' or
 * NUL and not "." or "..", in git's order (directories compared as if they ended in '/'),
 * strictly increasing, and no name twice (git fsck's duplicateEntries, which libgit2's binary
 * search would resolve to one of the two while git shows the other).
 */
#include "verify_rules.h"
#include "odb.h"

#include <stdio.h>
#include <stdlib.h>

/* ---- a set of object ids (open addressing; ids are uniformly distributed) ---- */

static size_t
oid_slot(const git_oid *id, size_t cap)
{
    size_t h;
    memcpy(&h, id->id, sizeof h);
    return h & (cap - 1);
}

/* 1 if id was added, 0 if it was there already, or ENOMEM. */
int
afs_oidset_add(afs_oidset *s, const git_oid *id)
{
    if ((s->n + 1) * 2 > s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 1024;
        git_oid *nv = calloc(ncap, sizeof *nv);
        unsigned char *nu = calloc(ncap, 1);
        if (!nv || !nu) {
            free(nv);
            free(nu);
            return afs_error_set(AUDITFS_ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < s->cap; i++) {
            if (!s->used[i])
                continue;
            size_t j = oid_slot(&s->v[i], ncap);
            while (nu[j])
                j = (j + 1) & (ncap - 1);
            nu[j] = 1;
            nv[j] = s->v[i];
        }
        free(s->v);
        free(s->used);
        s->v = nv;
        s->used = nu;
        s->cap = ncap;
    }
    size_t j = oid_slot(id, s->cap);
    while (s->used[j]) {
        if (git_oid_equal(&s->v[j], id))
            return 0;
        j = (j + 1) & (s->cap - 1);
    }
    s->used[j] = 1;
    s->v[j] = *id;
    s->n++;
    return 1;
}

void
afs_oidset_release(afs_oidset *s)
{
    free(s->v);
    free(s->used);
    memset(s, 0, sizeof *s);
}

/* ---- trees ---- */

typedef afs_tree_entry tentry;

/* git's tree order: byte order, a directory's name compared as if it ended in '/' */
static int
git_order(const tentry *a, const tentry *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->name, b->name, n);
    if (c)
        return c;
    unsigned c1 = n < a->len ? (unsigned char)a->name[n] : (a->dir ? '/' : 0);
    unsigned c2 = n < b->len ? (unsigned char)b->name[n] : (b->dir ? '/' : 0);
    return c1 < c2 ? -1 : c1 > c2;
}

static int
cmp_plain(const void *x, const void *y)
{
    const tentry *a = x, *b = y;
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->name, b->name, n);
    return c ? c : (a->len > b->len) - (a->len < b->len);
}

/* Hostile input: every length is checked before it is used. */
int
afs_tree_parse(afs_tree_entry **out, size_t *nout, const char *data, size_t len, const char *path)
{
    tentry *e = NULL;
    size_t n = 0, cap = 0, off = 0;
    while (off < len) {
        const char *sp = memchr(data + off, ' ', len - off);
        if (!sp)
            goto bad;
        size_t ml = (size_t)(sp - (data + off));
        int dir;
        if (ml == 6 && memcmp(data + off, "100644", 6) == 0)
            dir = 0;
        else if (ml == 5 && memcmp(data + off, "40000", 5) == 0)
            dir = 1;
        else {
            free(e);
            return afs_error_set(AUDITFS_EVERIFY,
                                 "tree %s: entry %zu has mode '%.*s' (only 100644 and 40000 are "
                                 "allowed)",
                                 path[0] ? path : "/", n, (int)(ml < 12 ? ml : 12), data + off);
        }
        off += ml + 1;
        const char *nul = memchr(data + off, 0, len - off);
        if (!nul)
            goto bad;
        size_t nl = (size_t)(nul - (data + off));
        if (nl == 0 || nl > 255 || memchr(data + off, '/', nl) ||
            (nl == 1 && data[off] == '.') || (nl == 2 && data[off] == '.' && data[off + 1] == '.')) {
            free(e);
            return afs_error_set(AUDITFS_EVERIFY, "tree %s: entry %zu has an invalid name",
                                 path[0] ? path : "/", n);
        }
        if (len - (off + nl + 1) < GIT_OID_RAWSZ)
            goto bad;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            tentry *g = realloc(e, cap * sizeof *e);
            if (!g) {
                free(e);
                return afs_error_set(AUDITFS_ENOMEM, "out of memory");
            }
            e = g;
        }
        e[n].name = data + off;
        e[n].len = nl;
        e[n].dir = dir;
        git_oid_fromraw(&e[n].id, (const unsigned char *)data + off + nl + 1);
        off += nl + 1 + GIT_OID_RAWSZ;
        if (n > 0 && git_order(&e[n - 1], &e[n]) >= 0) {
            free(e);
            return afs_error_set(AUDITFS_EVERIFY,
                                 "tree %s: entries out of git's order or repeated at '%.*s'",
                                 path[0] ? path : "/", (int)nl, data + off - nl - 1 - GIT_OID_RAWSZ);
        }
        n++;
    }
    *out = e;
    *nout = n;
    return 0;
bad:
    free(e);
    return afs_error_set(AUDITFS_EVERIFY, "tree %s: truncated or malformed entry %zu",
                         path[0] ? path : "/", n);
}

/* No name twice, whatever the types (a file "a" and a directory "a" sort apart). */
int
afs_tree_check_duplicates(afs_tree_entry *e, size_t n, const char *path)
{
    if (n < 2)
        return 0;
    tentry *c = malloc(n * sizeof *c);
    if (!c)
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    memcpy(c, e, n * sizeof *c);
    qsort(c, n, sizeof *c, cmp_plain);
    int err = 0;
    for (size_t i = 1; i < n && !err; i++)
        if (c[i].len == c[i - 1].len && memcmp(c[i].name, c[i - 1].name, c[i].len) == 0)
            err = afs_error_set(AUDITFS_EVERIFY, "tree %s: '%.*s' appears twice (git fsck: "
                                                 "duplicateEntries)",
                                path[0] ? path : "/", (int)c[i].len, c[i].name);
    free(c);
    return err;
}

/*
 * Tree id's raw bytes (*data malloc'd), through the ledger's checked readers (hashed once, with
 * OpenSSL) or, for what they do not hold, libgit2's (which re-hashes). Never through libgit2's
 * object cache: verify reads every commit's changed trees, and the cache grew with the ledger
 * (verify's peak RSS 27 MiB at 1M entries, 41 MiB at 3M, 51 MiB at 10M).
 */
int
afs_tree_read_raw(char **data, size_t *len, git_repository *repo, const git_oid *id,
                  const char *path)
{
    git_object_t type = GIT_OBJECT_INVALID;
    void *p = NULL;
    int rc = afs_odb_read_checked(&p, len, &type, repo, id);
    if (rc == GIT_ENOTFOUND) {
        git_odb *odb = NULL;
        git_odb_object *obj = NULL;
        rc = -1;
        if (git_repository_odb(&odb, repo) == 0 && git_odb_read(&obj, odb, id) == 0) {
            type = git_odb_object_type(obj);
            *len = git_odb_object_size(obj);
            if ((p = malloc(*len + 1)) != NULL) {
                memcpy(p, git_odb_object_data(obj), *len);
                ((char *)p)[*len] = 0;
                rc = 0;
            }
        }
        git_odb_object_free(obj);
        git_odb_free(odb);
    }
    if (rc != 0) {
        free(p);
        return afs_error_git(AUDITFS_EVERIFY, "tree %s: unreadable", path[0] ? path : "/");
    }
    if (type != GIT_OBJECT_TREE) {
        free(p);
        return afs_error_set(AUDITFS_EVERIFY, "%s: a directory entry that is not a tree",
                             path[0] ? path : "/");
    }
    *data = p;
    return 0;
}

int
afs_tree_check_canonical(afs_oidset *seen, git_repository *repo, const git_oid *id,
                         const char *path, int depth)
{
    char *raw = NULL;
    size_t len = 0;
    tentry *e = NULL;
    size_t n = 0;
    int err = afs_oidset_add(seen, id);
    if (err <= 0)
        return err; /* checked before (0), or out of memory */
    if (depth > 16)
        return afs_error_set(AUDITFS_EVERIFY, "tree %s: nested too deep", path);
    if ((err = afs_tree_read_raw(&raw, &len, repo, id, path)) != 0)
        goto cleanup;
    if ((err = afs_tree_parse(&e, &n, raw, len, path)) != 0 ||
        (err = afs_tree_check_duplicates(e, n, path)) != 0)
        goto cleanup;
    for (size_t i = 0; i < n && !err; i++) {
        if (!e[i].dir)
            continue;
        char sub[1024];
        snprintf(sub, sizeof sub, "%s%s%.*s", path, path[0] ? "/" : "", (int)e[i].len, e[i].name);
        err = afs_tree_check_canonical(seen, repo, &e[i].id, sub, depth + 1);
    }
cleanup:
    free(e);
    free(raw);
    return err;
}

static int
path_is_mutable(const char *path)
{
    return strcmp(path, "checkpoint") == 0 ||
           (strncmp(path, "tile/", 5) == 0 && strstr(path, ".p") != NULL);
}

/* The entry of e (n of them, sorted by cmp_plain) named name, or NULL. */
static const tentry *
find_name(const tentry *e, size_t n, const char *name, size_t len)
{
    tentry key = {name, len, 0, {{0}}};
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp_plain(&e[mid], &key);
        if (c == 0)
            return &e[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/*
 * Long because it is one comparison of two raw trees: read, parse, then every entry of old
 * looked up in new by name, recursing where both are trees with different ids. prefix is the
 * path of the trees with a trailing '/' ("" at the top).
 */
int
afs_tree_extends(git_repository *repo, const git_oid *old_id, const git_oid *new_id,
                 const char *prefix, int depth)
{
    char *od = NULL, *nd = NULL, path[1024];
    size_t olen = 0, nlen = 0, on = 0, nn = 0, plen = strlen(prefix);
    tentry *oe = NULL, *ne = NULL;
    int err;
    /* the trees' own path, for messages: prefix without its '/' */
    snprintf(path, sizeof path, "%.*s", plen ? (int)plen - 1 : 0, prefix);
    if (depth > 16 || plen + 256 + 2 > sizeof path) {
        err = afs_error_set(AUDITFS_EVERIFY, "tree %s: nested too deep", path);
        goto cleanup;
    }
    if ((err = afs_tree_read_raw(&od, &olen, repo, old_id, path)) != 0 ||
        (err = afs_tree_read_raw(&nd, &nlen, repo, new_id, path)) != 0 ||
        (err = afs_tree_parse(&oe, &on, od, olen, path)) != 0 ||
        (err = afs_tree_parse(&ne, &nn, nd, nlen, path)) != 0)
        goto cleanup;
    qsort(ne, nn, sizeof *ne, cmp_plain); /* looked up by name, whatever the type */
    memcpy(path, prefix, plen);
    for (size_t i = 0; i < on && !err; i++) {
        memcpy(path + plen, oe[i].name, oe[i].len); /* names are at most 255 bytes */
        path[plen + oe[i].len] = 0;
        if (path_is_mutable(path))
            continue;
        const tentry *m = find_name(ne, nn, oe[i].name, oe[i].len);
        if (!m) {
            err = afs_error_set(AUDITFS_EVERIFY, "%s was removed (history rewritten)", path);
            break;
        }
        if (git_oid_equal(&oe[i].id, &m->id))
            continue;
        if (oe[i].dir && m->dir) {
            path[plen + oe[i].len] = '/';
            path[plen + oe[i].len + 1] = 0;
            err = afs_tree_extends(repo, &oe[i].id, &m->id, path, depth + 1);
            continue;
        }
        err = afs_error_set(AUDITFS_EVERIFY, "%s was changed (history rewritten)", path);
    }
cleanup:
    free(oe);
    free(ne);
    free(od);
    free(nd);
    return err;
}
