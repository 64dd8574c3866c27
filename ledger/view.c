/*
 * ledger/view.c - the ledger as a file tree pinned to a verified checkpoint (auditfs/view.h).
 *
 * How a byte is verified before it is served:
 *  1. At pin time (open, or a --follow step) one pass decodes every new frame, hashes every leaf
 *     (RFC 6962), checks seq, the prev chain and time order, and folds the leaf hashes into a
 *     streaming Merkle tree whose root must equal the signed checkpoint's root. Nothing is
 *     published before that check passes. The pass also stores, per frame, SHA-256 over the
 *     frame's leaf hashes (a 32-byte commitment to bytes that were just proven to be in the tree).
 *  2. A read decodes the frame from the git object again, hashes every leaf, and compares the
 *     frame digest with the stored one. Only then does the frame enter the bounded LRU and only
 *     then are bytes copied out. A frame that fails is marked bad for the rest of the mount; its
 *     neighbours are untouched.
 *  3. Documents and notices are checked against the content length and SHA-256 of their (verified)
 *     entry; proofs are checked against the pinned root before they are served.
 *
 * Layout of the per-file indexes: a "list" holds, for the entries of one stream (or one tenant's
 * stream), their seqs and cumulative end offsets (payload + '\n'). Because ledger time never goes
 * backwards, each day file is a contiguous slice [lo, hi) of its list, so day files cost nothing
 * beyond the list. Sizes and mtimes come from these arrays: stat never decompresses anything.
 *
 * Locks: `lock` (rwlock) guards the tree; readers hold it shared, a --follow step takes it
 * exclusively only to publish what it has verified. `git_lock` serialises the main libgit2
 * handle and zstd context (libgit2 objects are not thread-safe); `cache_lock` guards the LRU.
 * Order: lock, then git_lock or cache_lock (never both of the latter).
 */
#include "auditfs/view.h"
#include "auditfs/witness.h"
#include "auditfs/trust.h"

#include "auditfs/merkle.h"
#include "auditfs/proof.h"
#include "auditfs/query.h"
#include "entry.h"
#include "index.h"
#include "progress.h"
#include "segfetch.h"
#include "store.h"
#include "view_seam.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define ENT_BASE ((uint64_t)1 << 40)
#define PROOF_BASE ((uint64_t)2 << 40)
#define QUERY_BASE ((uint64_t)3 << 40)
#define QUERY_NAMES 1024                   /* query files remembered (names and sizes) */
#define QUERY_CACHE_FILES 16               /* results kept in memory */
#define QUERY_CACHE_BYTES ((size_t)256 << 20)
#define QUERY_MAX_RESULT ((size_t)256 << 20) /* a bigger result is refused (ETOOBIG) */
#define NO_END UINT64_MAX
#define DEFAULT_CACHE ((size_t)64 << 20)
#define BLOB_CACHE 4
#define TILE_CACHE 64

enum kind { K_DIR, K_TEXT, K_LIST, K_CONTENT, K_LINK, K_ENTRIES, K_PROOFS, K_QUERY };
enum text { T_README, T_CHECKPOINT, T_KEY, T_QUERY_README };

typedef struct vnode {
    char *name;
    uint64_t parent;
    uint8_t kind;
    uint8_t damaged;  /* a read of this file failed verification */
    uint32_t list;    /* K_LIST: its list; a stream directory: its list + 1 (0: none) */
    uint64_t lo, hi;  /* K_LIST: entry indexes [lo, hi) of the list; hi NO_END: to the end */
    uint32_t aux;     /* K_CONTENT: index into contents; K_TEXT: enum text */
    char *link;       /* K_LINK: target */
    uint64_t *kids;   /* K_DIR: child ids sorted by name */
    uint32_t nkids, capkids;
} vnode;

typedef struct vlist {
    uint64_t n, cap;
    uint64_t *seq;
    uint64_t *end; /* byte offset just after entry i in the list's all.jsonl */
    uint64_t dir, all, day_node;
    int64_t day; /* days since the epoch of day_node */
} vlist;

typedef struct vcontent {
    uint64_t seq;
    git_oid blob;
    int have_blob;
    uint64_t len;
    uint8_t sha[32];
} vcontent;

typedef struct vseg {
    git_oid id;
    uint64_t first;
    char where[32];
} vseg;

struct centry;

typedef struct vframe {
    uint32_t seg;
    uint32_t index; /* frame number inside the segment */
    uint64_t coff;
    uint32_t csize, usize, count;
    uint64_t first_seq;
    uint8_t digest[32]; /* SHA-256 over the frame's leaf hashes, taken when verified at pin */
    uint8_t bad;
    struct centry *cache;
} vframe;

/* A verified decoded frame. rec[i] is leaf i's offset in data (rec[count] = end marker
 * unused); pay[i] its payload's offset; len[i] the leaf length. */
typedef struct centry {
    uint32_t frame;
    int refs;
    afs_buf data;
    uint32_t *rec, *pay, *len;
    size_t bytes;
    struct centry *prev, *next;
} centry;

/*
 * A query file query/<terms>.jsonl. Its id is QUERY_BASE + k, k counting up (never reused). The
 * result is computed from verified frames for checkpoint cp_size; stat needs only len, so the
 * bytes (data) may be evicted and are recomputed on the next read, which must give the same
 * length for the same checkpoint.
 */
typedef struct vquery {
    char *name; /* the file name; NULL: a free slot */
    uint64_t k;
    uint64_t cp_size; /* UINT64_MAX: never computed */
    uint64_t len, hits, first_seq, last_seq;
    int64_t mtime_us;
    uint8_t *data; /* NULL when evicted */
    uint64_t used; /* LRU tick */
    uint8_t damaged;
} vquery;

/* Continuation of the verification pass: everything needed to verify the next leaf. */
typedef struct scan_state {
    uint64_t next;
    auditfs_hash prev;
    int64_t last_time;
    auditfs_merkle_stream ms;
} scan_state;

/* A growable array of T. */
#define VEC_PUSH(arr, n, cap, val, errlabel)                                                      \
    do {                                                                                          \
        if ((n) == (cap)) {                                                                       \
            size_t nc_ = (cap) ? (size_t)(cap) * 2 : 16;                                          \
            void *p_ = realloc((arr), nc_ * sizeof *(arr));                                       \
            if (!p_) {                                                                            \
                err = afs_error_set(AUDITFS_ENOMEM, "out of memory");                             \
                goto errlabel;                                                                    \
            }                                                                                     \
            (arr) = p_;                                                                           \
            (cap) = nc_;                                                                          \
        }                                                                                         \
        (arr)[(n)++] = (val);                                                                     \
    } while (0)

struct auditfs_view {
    pthread_rwlock_t lock;
    pthread_mutex_t git_lock;
    pthread_mutex_t cache_lock;
    char *path;
    auditfs_ledger *l;     /* reads by object id and tiles of `tree`, under git_lock */
    auditfs_ledger *probe; /* --follow only (one thread) */
    auditfs_state *state;  /* the verifier's memory, or NULL (not owned) */
    auditfs_verifier *key;
    int (*accept)(void *, const auditfs_checkpoint *, auditfs_ledger *); /* options.accept */
    void *accept_payload;
    ZSTD_DCtx *dctx; /* under git_lock */
    /* the last segment blobs read (git inflates a whole object per lookup), under git_lock;
     * their bytes are only ever decoded and verified, never served directly */
    struct {
        uint32_t seg;
        git_blob *blob;
    } blobs[BLOB_CACHE];
    unsigned blob_next;
    /* tiles of the pinned tree read for proofs, under git_lock; every proof built from them is
     * verified against the pinned root before it is served */
    struct {
        char path[AUDITFS_TILE_PATH_MAX];
        uint8_t *data;
    } tiles[TILE_CACHE];
    unsigned tile_next;
    git_tree *tree;  /* the pinned commit's tree, in l's repository */
    git_oid commit;
    git_oid refused; /* the last head a --follow step refused (not reported again) */
    int have_refused;
    auditfs_checkpoint cp;
    char *note;
    size_t note_len;
    afs_buf readme;
    char *keypub;
    size_t keypub_len;
    scan_state st;
    int64_t newest;

    vnode *nodes;
    size_t nnodes, capnodes;
    vlist *lists;
    size_t nlists, caplists;
    vcontent *contents;
    size_t ncontents, capcontents;
    vseg *segs;
    size_t nsegs, capsegs;
    vframe *frames;
    size_t nframes, capframes;
    int64_t *times;    /* per seq */
    uint32_t *leaflen; /* per seq */
    size_t capseq;
    uint64_t streams, tenants, documents, notices;

    /* nodes touched while applying a --follow step */
    int tracking;
    uint64_t *changed;
    size_t nchanged, capchanged;

    centry *lru_head, *lru_tail;
    size_t cache_bytes, cache_cap;

    /* query/: the table of query files. query_lock guards it; query_compute serialises
     * computing results (one result being built at a time bounds the memory). Order: lock,
     * query_compute, query_lock, then cache_lock or git_lock. */
    uint64_t query_dir;
    pthread_mutex_t query_lock;
    pthread_mutex_t query_compute;
    vquery *queries; /* QUERY_NAMES slots, allocated on first use */
    uint64_t query_next, query_tick;
    size_t query_bytes, query_files;
};

static void tiles_clear(auditfs_view *v);
static int query_stat(auditfs_view_stat *out, auditfs_view *v, uint64_t id, const char *name);
static int query_read(auditfs_view *v, uint64_t id, uint64_t off, uint8_t *buf, size_t len,
                      size_t *got, int *first);
static int query_list(auditfs_view *v, uint64_t base, uint64_t pos, auditfs_view_dirent_cb cb,
                      void *payload);
static void query_info(auditfs_view *v, uint64_t id, uint64_t *first, uint64_t *last,
                       int *damaged);

static const char query_readme[] =
    "query/: every entry that matches an expression, as one file\n"
    "\n"
    "  cat 'query/actor=ops-7,_time>=2026-11-17.jsonl'\n"
    "\n"
    "prints exactly what `auditfs query actor=ops-7 '_time>=2026-11-17'` prints for the pinned\n"
    "checkpoint: each matching entry's payload line, in ledger order (documents and notices as\n"
    "their entry's JSON). The name is the terms separated by ',' (or '&'), then .jsonl. A term\n"
    "is FIELD OP VALUE with OP one of = != ~ < <= > >=; names with a leading '_' are header\n"
    "fields (_seq _time _type _stream _tenant _party _layer _name _version _title _effective).\n"
    "Percent-encode what a name cannot hold: %2C for a ',' inside a value, %2F for '/', %26\n"
    "for '&', %25 for '%'.\n"
    "\n"
    "Any name that parses as an expression exists: looking it up computes the result from\n"
    "frames verified against ./checkpoint, so stat gives its exact size. A malformed\n"
    "expression does not exist (ENOENT; the mount's log names the bad term), a result over\n"
    "256 MiB is refused (EFBIG), and a result that touches data changed in the repository\n"
    "fails with EIO. ls lists this README and the queries recently used. With --follow, a\n"
    "query file follows the newly pinned checkpoint.\n";

/* ---- small helpers ---- */

static void
node_changed(auditfs_view *v, uint64_t id)
{
    if (!v->tracking)
        return;
    for (size_t i = v->nchanged; i-- > 0 && i + 8 >= v->nchanged;)
        if (v->changed[i] == id)
            return;
    if (v->nchanged == v->capchanged) {
        size_t nc = v->capchanged ? v->capchanged * 2 : 64;
        uint64_t *p = realloc(v->changed, nc * sizeof *p);
        if (!p)
            return; /* notifications are best effort; timeouts cover the rest */
        v->changed = p;
        v->capchanged = nc;
    }
    v->changed[v->nchanged++] = id;
}

static vnode *
node(auditfs_view *v, uint64_t id)
{
    return (id >= 1 && id <= v->nnodes) ? &v->nodes[id - 1] : NULL;
}

static long
kid_find(auditfs_view *v, const vnode *dir, const char *name, uint32_t *pos)
{
    uint32_t lo = 0, hi = dir->nkids;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = strcmp(v->nodes[dir->kids[mid] - 1].name, name);
        if (c == 0) {
            *pos = mid;
            return (long)mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *pos = lo;
    return -1;
}

/* Adds a child node; returns its id or 0 (error set). */
static uint64_t
node_add(auditfs_view *v, uint64_t parent, const char *name, int kind)
{
    int err = 0;
    vnode n;
    memset(&n, 0, sizeof n);
    n.name = strdup(name);
    if (!n.name) {
        afs_error_set(AUDITFS_ENOMEM, "out of memory");
        return 0;
    }
    n.parent = parent ? parent : 1;
    n.kind = (uint8_t)kind;
    n.hi = NO_END;
    VEC_PUSH(v->nodes, v->nnodes, v->capnodes, n, fail);
    uint64_t id = v->nnodes;
    if (parent) {
        vnode *p = node(v, parent);
        uint32_t pos;
        if (kid_find(v, p, name, &pos) >= 0) {
            afs_error_set(AUDITFS_EEXISTS, "%s exists", name);
            goto fail_pop;
        }
        if (p->nkids == p->capkids) {
            uint32_t nc = p->capkids ? p->capkids * 2 : 4;
            uint64_t *k = realloc(p->kids, nc * sizeof *k);
            if (!k) {
                afs_error_set(AUDITFS_ENOMEM, "out of memory");
                goto fail_pop;
            }
            p->kids = k;
            p->capkids = nc;
        }
        memmove(p->kids + pos + 1, p->kids + pos, (p->nkids - pos) * sizeof *p->kids);
        p->kids[pos] = id;
        p->nkids++;
        node_changed(v, parent);
    }
    return id;
fail_pop:
    v->nnodes--;
fail:
    (void)err;
    free(n.name);
    return 0;
}

/* The directory `name` under parent, created if needed; 0 if a non-directory has that name. */
static uint64_t
dir_ensure(auditfs_view *v, uint64_t parent, const char *name)
{
    uint32_t pos;
    long i = kid_find(v, node(v, parent), name, &pos);
    if (i >= 0) {
        uint64_t id = node(v, parent)->kids[i];
        if (node(v, id)->kind != K_DIR) {
            afs_error_set(AUDITFS_EEXISTS, "%s is not a directory", name);
            return 0;
        }
        return id;
    }
    return node_add(v, parent, name, K_DIR);
}

static const char *
ext_for(const char *ctype)
{
    static const char *const map[][2] = {
        {"text/markdown", ".md"}, {"text/plain", ".txt"},      {"application/json", ".json"},
        {"text/html", ".html"},   {"application/pdf", ".pdf"}, {"text/csv", ".csv"},
        {"application/yaml", ".yaml"}, {NULL, NULL}};
    for (int i = 0; map[i][0]; i++)
        if (strcmp(ctype, map[i][0]) == 0)
            return map[i][1];
    return ".bin";
}

static void
slugify(char *out, size_t cap, const char *title)
{
    size_t n = 0;
    int dash = 0;
    for (const char *p = title; *p && n + 2 < cap && n < 48; p++) {
        char c = *p;
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            if (dash && n > 0)
                out[n++] = '-';
            dash = 0;
            out[n++] = c;
        } else {
            dash = 1;
        }
    }
    if (n == 0)
        n = (size_t)snprintf(out, cap, "notice");
    out[n] = 0;
}

static int64_t
day_of(int64_t us)
{
    int64_t d = us / 86400000000LL;
    if (us < 0 && us % 86400000000LL)
        d--;
    return d;
}

/* ---- applying verified entries to the tree ---- */

static int
seq_grow(auditfs_view *v, uint64_t seq)
{
    if (seq < v->capseq)
        return 0;
    size_t nc = v->capseq ? v->capseq * 2 : 1024;
    while (nc <= seq)
        nc *= 2;
    int64_t *t = realloc(v->times, nc * sizeof *t);
    if (!t)
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    v->times = t;
    uint32_t *ll = realloc(v->leaflen, nc * sizeof *ll);
    if (!ll)
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    v->leaflen = ll;
    v->capseq = nc;
    return 0;
}

/* The list of directory `dir` (a stream directory), created with its all.jsonl if needed. */
static int
list_of(uint32_t *out, auditfs_view *v, uint64_t dir)
{
    int err = 0;
    vnode *d = node(v, dir);
    if (d->list) {
        *out = d->list - 1;
        return 0;
    }
    vlist nl;
    memset(&nl, 0, sizeof nl);
    nl.dir = dir;
    nl.day = INT64_MIN;
    uint64_t all = node_add(v, dir, "all.jsonl", K_LIST);
    if (!all)
        return auditfs_error_last_code();
    nl.all = all;
    VEC_PUSH(v->lists, v->nlists, v->caplists, nl, fail);
    node(v, all)->list = (uint32_t)(v->nlists - 1);
    node(v, dir)->list = (uint32_t)v->nlists;
    *out = (uint32_t)(v->nlists - 1);
    return 0;
fail:
    return err;
}

static int
list_add(auditfs_view *v, uint32_t li, uint64_t seq, uint64_t bytes, int64_t time_us)
{
    vlist *l = &v->lists[li];
    int err = 0;
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 64;
        uint64_t *s = realloc(l->seq, nc * sizeof *s);
        if (!s)
            return afs_error_set(AUDITFS_ENOMEM, "out of memory");
        l->seq = s;
        uint64_t *e = realloc(l->end, nc * sizeof *e);
        if (!e)
            return afs_error_set(AUDITFS_ENOMEM, "out of memory");
        l->end = e;
        l->cap = nc;
    }
    l->seq[l->n] = seq;
    l->end[l->n] = (l->n ? l->end[l->n - 1] : 0) + bytes;
    l->n++;
    node_changed(v, l->all);
    int64_t day = day_of(time_us);
    if (day != l->day) {
        char y[16], m[16], d[24];
        struct tm tm;
        time_t secs = (time_t)(day * 86400);
        gmtime_r(&secs, &tm);
        snprintf(y, sizeof y, "%04d", tm.tm_year + 1900);
        snprintf(m, sizeof m, "%02d", tm.tm_mon + 1);
        snprintf(d, sizeof d, "%02d.jsonl", tm.tm_mday);
        if (l->day_node)
            node(v, l->day_node)->hi = l->n - 1;
        uint64_t yd = dir_ensure(v, l->dir, y);
        uint64_t md = yd ? dir_ensure(v, yd, m) : 0;
        uint64_t f = md ? node_add(v, md, d, K_LIST) : 0;
        if (!f)
            return err = auditfs_error_last_code();
        /* `l` may have moved: node_add does not touch lists, but be explicit */
        l = &v->lists[li];
        node(v, f)->list = li;
        node(v, f)->lo = l->n - 1;
        l->day_node = f;
        l->day = day;
    }
    node_changed(v, l->day_node);
    return err;
}

/* A verified entry, flattened (pointers valid during apply only). */
typedef struct vrec {
    uint64_t seq;
    int64_t time_us;
    uint32_t leaf_len;
    uint64_t payload_len;
    const auditfs_entry *e;
} vrec;

static int
content_blob(vcontent *c, auditfs_view *v, const char *path)
{
    git_tree_entry *te = NULL;
    pthread_mutex_lock(&v->git_lock);
    if (git_tree_entry_bypath(&te, v->tree, path) == 0 &&
        git_tree_entry_type(te) == GIT_OBJECT_BLOB) {
        git_oid_cpy(&c->blob, git_tree_entry_id(te));
        c->have_blob = 1;
    }
    git_tree_entry_free(te);
    pthread_mutex_unlock(&v->git_lock);
    return 0; /* a missing blob is damage: the file exists and reads fail */
}

static int
add_content_file(auditfs_view *v, uint64_t dir, const char *fname, const auditfs_entry *e,
                 const char *blob_path, uint64_t *out)
{
    vcontent c;
    int err = 0;
    memset(&c, 0, sizeof c);
    c.seq = e->seq;
    c.len = e->content_length;
    memcpy(c.sha, e->content_sha256, 32);
    content_blob(&c, v, blob_path);
    uint64_t id = node_add(v, dir, fname, K_CONTENT);
    if (!id)
        return auditfs_error_last_code();
    VEC_PUSH(v->contents, v->ncontents, v->capcontents, c, fail);
    node(v, id)->aux = (uint32_t)(v->ncontents - 1);
    *out = id;
    return 0;
fail:
    return err;
}

static int
apply(auditfs_view *v, const vrec *r)
{
    const auditfs_entry *e = r->e;
    int err;
    if ((err = seq_grow(v, r->seq)) != 0)
        return err;
    v->times[r->seq] = r->time_us;
    v->leaflen[r->seq] = r->leaf_len;
    if (r->time_us > v->newest)
        v->newest = r->time_us;
    if (!strcmp(e->type, "log") || !strcmp(e->type, "quarantine")) {
        uint32_t li;
        uint64_t sd = dir_ensure(v, v->streams, e->stream);
        if (!sd || (err = list_of(&li, v, sd)) != 0 ||
            (err = list_add(v, li, r->seq, r->payload_len + 1, r->time_us)) != 0)
            return sd ? err : auditfs_error_last_code();
        if (e->tenant[0]) {
            uint64_t td = dir_ensure(v, v->tenants, e->tenant);
            uint64_t tsd = td ? dir_ensure(v, td, e->stream) : 0;
            if (!tsd)
                return auditfs_error_last_code();
            if ((err = list_of(&li, v, tsd)) != 0 ||
                (err = list_add(v, li, r->seq, r->payload_len + 1, r->time_us)) != 0)
                return err;
        }
        return 0;
    }
    if (!strcmp(e->type, "document") && e->has_content) {
        char name[AUDITFS_DOCNAME_MAX + 1], fname[64], bpath[AUDITFS_DOCNAME_MAX + 40];
        uint64_t dir = v->documents, id;
        snprintf(name, sizeof name, "%s", e->name);
        for (char *seg = strtok(name, "/"); seg; seg = strtok(NULL, "/"))
            if (!(dir = dir_ensure(v, dir, seg)))
                return 0; /* a name clash (e.g. "current"): leave this version out */
        snprintf(fname, sizeof fname, "v%llu%s", (unsigned long long)e->version,
                 ext_for(e->content_type));
        snprintf(bpath, sizeof bpath, "doc/%s/v%llu", e->name, (unsigned long long)e->version);
        if ((err = add_content_file(v, dir, fname, e, bpath, &id)) != 0)
            return err == AUDITFS_EEXISTS ? 0 : err;
        uint32_t pos;
        long k = kid_find(v, node(v, dir), "current", &pos);
        uint64_t link = k >= 0 ? node(v, dir)->kids[k] : node_add(v, dir, "current", K_LINK);
        if (!link || node(v, link)->kind != K_LINK)
            return 0;
        char *t = strdup(fname);
        if (!t)
            return afs_error_set(AUDITFS_ENOMEM, "out of memory");
        free(node(v, link)->link);
        node(v, link)->link = t;
        node_changed(v, link);
        return 0;
    }
    if (!strcmp(e->type, "notice") && e->has_content) {
        char slug[64], fname[128], bpath[48];
        uint64_t id;
        slugify(slug, sizeof slug, e->title);
        snprintf(fname, sizeof fname, "%012llu-%s%s", (unsigned long long)r->seq, slug,
                 ext_for(e->content_type));
        snprintf(bpath, sizeof bpath, "notice/%llu", (unsigned long long)r->seq);
        err = add_content_file(v, v->notices, fname, e, bpath, &id);
        return err == AUDITFS_EEXISTS ? 0 : err;
    }
    return 0;
}

/* ---- the verification pass ---- */

typedef struct seg_ref {
    uint64_t first;
    git_oid id;
} seg_ref;

static int
collect_segs(seg_ref **out, size_t *n, size_t *cap, git_repository *repo, git_tree *t, int depth,
             char *acc)
{
    int err = 0;
    for (size_t i = 0; i < git_tree_entrycount(t); i++) {
        const git_tree_entry *te = git_tree_entry_byindex(t, i);
        const char *name = git_tree_entry_name(te);
        if (strlen(name) != 3 || name[0] < '0' || name[0] > '9' || name[1] < '0' ||
            name[1] > '9' || name[2] < '0' || name[2] > '9')
            return afs_error_set(AUDITFS_EVERIFY, "seg/: unexpected name '%s'", name);
        memcpy(acc + 3 * depth, name, 3);
        if (depth == 3) {
            if (git_tree_entry_type(te) != GIT_OBJECT_BLOB)
                return afs_error_set(AUDITFS_EVERIFY, "seg/...: not a blob");
            seg_ref r;
            acc[12] = 0;
            r.first = strtoull(acc, NULL, 10);
            git_oid_cpy(&r.id, git_tree_entry_id(te));
            VEC_PUSH(*out, *n, *cap, r, done);
            continue;
        }
        if (git_tree_entry_type(te) != GIT_OBJECT_TREE)
            return afs_error_set(AUDITFS_EVERIFY, "seg/: '%s' is not a directory", name);
        git_tree *sub = NULL;
        if (git_tree_lookup(&sub, repo, git_tree_entry_id(te)) < 0)
            return afs_error_git(AUDITFS_EVERIFY, "cannot read a segment directory");
        err = collect_segs(out, n, cap, repo, sub, depth + 1, acc);
        git_tree_free(sub);
        if (err)
            return err;
    }
done:
    return err;
}

typedef struct scan_out {
    vseg *segs;
    size_t nsegs, capsegs;
    vframe *frames;
    size_t nframes, capframes;
} scan_out;

/*
 * Verifies leaves [st->next, to) of `tree`: segments must start at st->next and be contiguous.
 * Calls apply() for each entry when v is not NULL. On success st is advanced; the caller checks
 * the Merkle root.
 */
static int
scan(auditfs_view *v, scan_state *st, scan_out *so, git_repository *repo, git_tree *tree,
     uint64_t to, uint32_t seg_base)
{
    seg_ref *refs = NULL;
    size_t nrefs = 0, caprefs = 0;
    git_tree_entry *te = NULL;
    git_tree *segt = NULL;
    git_blob *blob = NULL;
    afs_seg_index ix;
    afs_buf frame = AFS_BUF_INIT;
    ZSTD_DCtx *dctx = ZSTD_createDCtx();
    char acc[16];
    int err = 0;
    /* segments read and decoded ahead by a worker thread (segfetch.c), when it starts */
    afs_segfetch *sf = NULL;
    afs_segitem *it = NULL;
    git_oid *soids = NULL;
    char(*spaths)[64] = NULL;
    memset(&ix, 0, sizeof ix);
    if (!dctx)
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    if (st->next == to)
        goto done;
    if (git_tree_entry_bypath(&te, tree, "seg") < 0 ||
        git_tree_lookup(&segt, repo, git_tree_entry_id(te)) < 0) {
        err = afs_error_git(AUDITFS_EVERIFY, "no readable seg/ directory");
        goto done;
    }
    if ((err = collect_segs(&refs, &nrefs, &caprefs, repo, segt, 0, acc)) != 0)
        goto done;
    size_t s0 = 0;
    while (s0 < nrefs && refs[s0].first < st->next)
        s0++;
    if (nrefs > s0 && (soids = malloc((nrefs - s0) * sizeof *soids)) != NULL &&
        (spaths = malloc((nrefs - s0) * sizeof *spaths)) != NULL) {
        for (size_t k = s0; k < nrefs; k++) {
            git_oid_cpy(&soids[k - s0], &refs[k].id);
            afs_seg_path(spaths[k - s0], refs[k].first);
        }
        if (afs_segfetch_start(&sf, git_repository_path(repo), soids, spaths, nrefs - s0) != 0) {
            auditfs_error_clear(); /* read them in this thread */
            sf = NULL;
        }
    }
    for (size_t si = s0; si < nrefs && st->next < to; si++) {
        vseg s;
        memset(&s, 0, sizeof s);
        s.id = refs[si].id;
        s.first = refs[si].first;
        afs_seg_path(s.where, s.first);
        if (s.first != st->next) {
            err = afs_error_set(AUDITFS_EVERIFY, "entries %llu..%llu: no segment holds them",
                                (unsigned long long)st->next,
                                (unsigned long long)(s.first - 1));
            goto done;
        }
        const uint8_t *data = NULL;
        size_t dlen = 0;
        if (sf) {
            it = afs_segfetch_next(sf);
            if (it->status && it->kind == AFS_SEGFETCH_UNREADABLE) {
                err = afs_error_set(AUDITFS_EVERIFY, "%s", it->msg);
                goto done;
            }
            afs_seg_index_release(&ix);
            ix = it->ix; /* taken over: released with this segment */
            memset(&it->ix, 0, sizeof it->ix);
        } else {
            if (git_blob_lookup(&blob, repo, &s.id) < 0) {
                err = afs_error_git(AUDITFS_EVERIFY, "%s: cannot read the segment", s.where);
                goto done;
            }
            data = git_blob_rawcontent(blob);
            dlen = (size_t)git_blob_rawsize(blob);
            if ((err = afs_seg_index_parse(&ix, data, dlen, s.where)) != 0) {
                err = AUDITFS_EVERIFY;
                goto done;
            }
        }
        if (ix.first_seq != s.first) {
            err = afs_error_set(AUDITFS_EVERIFY, "%s: its index starts at entry %llu", s.where,
                                (unsigned long long)ix.first_seq);
            goto done;
        }
        VEC_PUSH(so->segs, so->nsegs, so->capsegs, s, done);
        for (uint32_t fi = 0; fi < ix.nframes; fi++) {
            const afs_seg_frame *f = &ix.frames[fi];
            afs_sha256_ctx fd;
            size_t off = 0;
            const uint8_t *leaf;
            size_t len;
            afs_buf *fb = &frame;
            if (it) {
                if (fi >= it->nframes) { /* the worker could not decode it */
                    err = afs_error_set(AUDITFS_EVERIFY, "%s", it->msg);
                    goto done;
                }
                fb = &it->frames[fi];
            } else if ((err = afs_seg_frame_decode(&frame, dctx, &ix, fi, data, dlen, s.where)) !=
                       0) {
                err = AUDITFS_EVERIFY;
                goto done;
            }
            afs_sha256_init(&fd);
            while (afs_seg_record_next(&leaf, &len, fb, &off)) {
                auditfs_entry e;
                auditfs_hash h;
                uint64_t seq = st->next;
                if (seq >= to) {
                    err = afs_error_set(AUDITFS_EVERIFY,
                                        "%s: holds entries beyond the checkpoint's %llu", s.where,
                                        (unsigned long long)to);
                    goto done;
                }
                auditfs_leaf_hash(&h, leaf, len);
                if ((err = auditfs_entry_parse(&e, leaf, len)) != 0) {
                    err = afs_error_wrap(AUDITFS_EVERIFY, "entry %llu", (unsigned long long)seq);
                    goto done;
                }
                if (e.seq != seq || !auditfs_hash_equal(&e.prev, &st->prev) ||
                    e.time_us < st->last_time) {
                    err = afs_error_set(AUDITFS_EVERIFY, "entry %llu (%s): %s",
                                        (unsigned long long)seq, s.where,
                                        e.seq != seq ? "wrong seq (entries reordered or removed)"
                                        : e.time_us < st->last_time
                                            ? "time goes backwards"
                                            : "prev does not match the entry before (chain "
                                              "broken)");
                    goto done;
                }
                afs_sha256_update(&fd, h.b, sizeof h.b);
                auditfs_merkle_stream_push(&st->ms, &h);
                st->prev = h;
                st->last_time = e.time_us;
                st->next++;
                afs_progress_tick("open", st->next, to);
                if (v) {
                    vrec r = {seq, e.time_us, (uint32_t)len, e.payload_len, &e};
                    if ((err = apply(v, &r)) != 0)
                        goto done;
                }
            }
            vframe vf;
            memset(&vf, 0, sizeof vf);
            vf.seg = seg_base + (uint32_t)(so->nsegs - 1);
            vf.index = fi;
            vf.coff = f->coff;
            vf.csize = f->csize;
            vf.usize = f->usize;
            vf.count = f->count;
            vf.first_seq = f->first_seq;
            afs_sha256_final(&fd, vf.digest);
            VEC_PUSH(so->frames, so->nframes, so->capframes, vf, done);
        }
        afs_seg_index_release(&ix);
        git_blob_free(blob);
        blob = NULL;
        if (it) {
            afs_segfetch_done(sf);
            it = NULL;
        }
    }
    if (st->next != to)
        err = afs_error_set(AUDITFS_EVERIFY, "entries %llu..%llu: no segment holds them",
                            (unsigned long long)st->next, (unsigned long long)(to - 1));
done:
    afs_segfetch_free(sf); /* stops the worker first: it must not write items being freed */
    free(soids);
    free(spaths);
    afs_seg_index_release(&ix);
    git_blob_free(blob);
    git_tree_free(segt);
    git_tree_entry_free(te);
    afs_buf_release(&frame);
    ZSTD_freeDCtx(dctx);
    free(refs);
    return err;
}

/* ---- README ---- */

static int
make_readme(auditfs_view *v)
{
    char root[48];
    auditfs_hash_base64(root, &v->cp.root);
    v->readme.len = 0;
    return afs_buf_printf(
        &v->readme,
        "auditfs: a verified, read-only view of an audit ledger\n"
        "\n"
        "Ledger      %s\n"
        "Origin      %s\n"
        "Entries     %llu\n"
        "Root        %s\n"
        "Key         %s"
        "\n"
        "Everything below is pinned to the signed checkpoint in ./checkpoint, whose signature\n"
        "was checked with ./key.pub when this view was mounted. Every leaf was hashed and the\n"
        "RFC 6962 Merkle root recomputed; it equals the root above. Each read is checked again\n"
        "against that checkpoint before any byte is returned: a part of the repository that was\n"
        "changed since then reads as an I/O error (EIO) and is never served.\n"
        "\n"
        "Layout\n"
        "  streams/<stream>/all.jsonl             every payload of the stream, one per line\n"
        "  streams/<stream>/YYYY/MM/DD.jsonl      the same, split by ledger time (UTC day)\n"
        "  tenants/<tenant>/<stream>/...          the same, for one tenant's entries\n"
        "  documents/<name>/v<N>.<ext>, current   every published version; current -> newest\n"
        "  notices/<seq>-<title>.<ext>            change notices, oldest first\n"
        "  entries/<seq>                          the exact leaf bytes of entry <seq>\n"
        "  proofs/<seq>.json                      its inclusion proof against ./checkpoint\n"
        "  query/<terms>.jsonl                    the hits of `auditfs query <terms>` (query/README)\n"
        "Extended attributes user.auditfs.* give each file's first and last entry, and the\n"
        "checkpoint size and root it was verified against (getfattr -d -m user.auditfs FILE).\n"
        "\n"
        "Verify it yourself, without trusting this program's mount:\n"
        "  auditfs verify --ledger %s --key key.pub --trusted checkpoint\n"
        "recomputes everything from the git objects. For a single entry, its leaf hash is\n"
        "SHA-256(0x00 || entries/<seq>); proofs/<seq>.json is the RFC 6962 audit path from that\n"
        "hash to the root in ./checkpoint (`auditfs prove` prints the same proof). Keep a copy of\n"
        "./checkpoint: mounting later with --trusted proves the ledger still extends it.\n",
        v->path, v->cp.origin, (unsigned long long)v->cp.size, root, v->keypub, v->path);
}

/* ---- open ---- */

/*
 * The pinned checkpoint as ./checkpoint shows it: with the cosignature lines stored beside the
 * ledger (docs/FORMAT.md 12.2) when they belong to exactly this checkpoint and the note's log
 * signature still verifies; otherwise the plain checkpoint stays. Never fails.
 */
static void
show_cosignatures(auditfs_view *v, auditfs_ledger *l)
{
    char *n = NULL;
    size_t len = 0;
    auditfs_checkpoint c;
    if (auditfs_cosig_store_checkpoint(&n, &len, l, v->cp.size) == 0 &&
        auditfs_checkpoint_open(&c, n, len, v->key, v->cp.origin) == 0 && c.size == v->cp.size &&
        auditfs_hash_equal(&c.root, &v->cp.root)) {
        free(v->note);
        v->note = n;
        v->note_len = len;
    } else {
        free(n);
    }
    auditfs_error_clear();
}

static int
check_trusted(auditfs_view *v, const char *note, size_t len)
{
    auditfs_checkpoint t;
    int err = auditfs_checkpoint_open(&t, note, len, v->key, v->cp.origin);
    if (err) /* a malformed file is bad input, as in verify; anything else does not verify */
        return afs_error_wrap(err == AUDITFS_EFORMAT ? AUDITFS_EFORMAT : AUDITFS_EVERIFY,
                              "--trusted checkpoint");
    if (t.size > v->cp.size)
        return afs_error_set(AUDITFS_EVERIFY,
                             "rollback: the trusted checkpoint has %llu entries, the ledger only "
                             "%llu",
                             (unsigned long long)t.size, (unsigned long long)v->cp.size);
    if (t.size == v->cp.size) {
        if (!auditfs_hash_equal(&t.root, &v->cp.root))
            return afs_error_set(AUDITFS_EVERIFY, "the ledger's checkpoint and the trusted one "
                                                  "have the same size but different roots (a "
                                                  "forked history)");
        return 0;
    }
    int prefix = 0;
    if (auditfs_ledger_has_prefix(&prefix, v->l, &t) != 0 || !prefix)
        return afs_error_set(AUDITFS_EVERIFY,
                             "the ledger does not extend the trusted checkpoint of %llu entries "
                             "(history rewritten)",
                             (unsigned long long)t.size);
    return 0;
}

static int
build_skeleton(auditfs_view *v)
{
    uint64_t id;
    if (!node_add(v, 0, "", K_DIR)) /* the root, id 1 */
        return auditfs_error_last_code();
    static const struct {
        const char *name;
        int text;
    } texts[] = {{"README", T_README}, {"checkpoint", T_CHECKPOINT}, {"key.pub", T_KEY}};
    for (size_t i = 0; i < 3; i++) {
        if (!(id = node_add(v, 1, texts[i].name, K_TEXT)))
            return auditfs_error_last_code();
        node(v, id)->aux = (uint32_t)texts[i].text;
    }
    if (!(v->streams = node_add(v, 1, "streams", K_DIR)) ||
        !(v->tenants = node_add(v, 1, "tenants", K_DIR)) ||
        !(v->documents = node_add(v, 1, "documents", K_DIR)) ||
        !(v->notices = node_add(v, 1, "notices", K_DIR)) ||
        !node_add(v, 1, "entries", K_ENTRIES) || !node_add(v, 1, "proofs", K_PROOFS) ||
        !(v->query_dir = node_add(v, 1, "query", K_QUERY)))
        return auditfs_error_last_code();
    if (!(id = node_add(v, v->query_dir, "README", K_TEXT)))
        return auditfs_error_last_code();
    node(v, id)->aux = T_QUERY_README;
    return 0;
}

static void
scan_out_release(scan_out *so)
{
    free(so->segs);
    free(so->frames);
    memset(so, 0, sizeof *so);
}

static int view_trust(auditfs_view *v, auditfs_state *st);

int
auditfs_view_open(auditfs_view **out, const char *path, const auditfs_verifier *key,
                  const auditfs_view_options *opts)
{
    auditfs_view *v = NULL;
    char *kfmt = NULL;
    scan_out so;
    int err;
    memset(&so, 0, sizeof so);
    *out = NULL;
    if (!(v = calloc(1, sizeof *v)))
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    pthread_rwlock_init(&v->lock, NULL);
    pthread_mutex_init(&v->git_lock, NULL);
    pthread_mutex_init(&v->cache_lock, NULL);
    pthread_mutex_init(&v->query_lock, NULL);
    pthread_mutex_init(&v->query_compute, NULL);
    v->cache_cap = opts && opts->cache_bytes ? opts->cache_bytes : DEFAULT_CACHE;
    v->st.last_time = INT64_MIN;
    auditfs_merkle_stream_init(&v->st.ms);
    if (!(v->path = strdup(path)) || !(v->dctx = ZSTD_createDCtx())) {
        err = afs_error_set(AUDITFS_ENOMEM, "out of memory");
        goto fail;
    }
    if ((err = auditfs_verifier_format(&kfmt, key)) != 0 ||
        (err = auditfs_verifier_parse(&v->key, kfmt, strlen(kfmt))) != 0)
        goto fail;
    v->keypub_len = strlen(kfmt) + 1;
    if (!(v->keypub = malloc(v->keypub_len + 1))) {
        err = afs_error_set(AUDITFS_ENOMEM, "out of memory");
        goto fail;
    }
    snprintf(v->keypub, v->keypub_len + 1, "%s\n", kfmt);
    if ((err = auditfs_ledger_open(&v->l, path)) != 0 ||
        (err = auditfs_ledger_open(&v->probe, path)) != 0)
        goto fail;
    /* signature and the head tiles (used for proofs) against the signed root */
    if ((err = auditfs_ledger_check_head(&v->cp, v->l, v->key)) != 0)
        goto fail;
    if ((err = auditfs_ledger_checkpoint_note(&v->note, &v->note_len, v->l)) != 0)
        goto fail;
    show_cosignatures(v, v->l);
    if (opts && opts->accept) {
        v->accept = opts->accept;
        v->accept_payload = opts->accept_payload;
        int ok = v->accept(v->accept_payload, &v->cp, v->l);
        if (ok <= 0) {
            err = ok < 0 ? ok
                         : afs_error_set(AUDITFS_EVERIFY,
                                         "%s: the checkpoint of size %llu is not accepted (its "
                                         "witness quorum is not met)",
                                         path, (unsigned long long)v->cp.size);
            goto fail;
        }
    }
    git_oid_cpy(&v->commit, &v->l->head_id);
    if (git_tree_lookup(&v->tree, v->l->repo, git_tree_id(v->l->tree)) < 0) {
        err = afs_error_git(AUDITFS_EIO, "%s: cannot read the head tree", path);
        goto fail;
    }
    if (opts && opts->trusted_note && (err = check_trusted(v, opts->trusted_note,
                                                           opts->trusted_len)) != 0)
        goto fail;
    if (opts && opts->state && (err = view_trust(v, opts->state)) != 0)
        goto fail;
    if ((err = build_skeleton(v)) != 0)
        goto fail;
    const auditfs_progress *pprev = afs_progress_begin(opts ? &opts->progress : NULL);
    err = scan(v, &v->st, &so, v->l->repo, v->tree, v->cp.size, 0);
    afs_progress_end(pprev);
    if (err) {
        err = afs_error_wrap(AUDITFS_EVERIFY, "%s", path);
        goto fail;
    }
    auditfs_hash root;
    auditfs_merkle_stream_root(&root, &v->st.ms);
    if (!auditfs_hash_equal(&root, &v->cp.root)) {
        err = afs_error_set(AUDITFS_EVERIFY,
                            "%s: the leaves do not hash to the signed checkpoint's root", path);
        goto fail;
    }
    v->segs = so.segs;
    v->nsegs = v->capsegs = so.nsegs;
    v->frames = so.frames;
    v->nframes = v->capframes = so.nframes;
    memset(&so, 0, sizeof so);
    if ((err = make_readme(v)) != 0)
        goto fail;
    free(kfmt);
    *out = v;
    return 0;
fail:
    free(kfmt);
    scan_out_release(&so);
    auditfs_view_free(v);
    return err;
}

static void
centry_free(centry *c)
{
    if (!c)
        return;
    afs_buf_release(&c->data);
    free(c->rec);
    free(c->pay);
    free(c->len);
    free(c);
}

void
auditfs_view_free(auditfs_view *v)
{
    if (!v)
        return;
    for (centry *c = v->lru_head, *n; c; c = n) {
        n = c->next;
        centry_free(c);
    }
    for (size_t i = 0; i < v->nnodes; i++) {
        free(v->nodes[i].name);
        free(v->nodes[i].link);
        free(v->nodes[i].kids);
    }
    for (size_t i = 0; i < v->nlists; i++) {
        free(v->lists[i].seq);
        free(v->lists[i].end);
    }
    free(v->nodes);
    free(v->lists);
    free(v->contents);
    free(v->segs);
    free(v->frames);
    free(v->times);
    free(v->leaflen);
    free(v->changed);
    for (size_t i = 0; v->queries && i < QUERY_NAMES; i++) {
        free(v->queries[i].name);
        free(v->queries[i].data);
    }
    free(v->queries);
    free(v->note);
    free(v->keypub);
    afs_buf_release(&v->readme);
    for (unsigned i = 0; i < BLOB_CACHE; i++)
        git_blob_free(v->blobs[i].blob);
    tiles_clear(v);
    git_tree_free(v->tree);
    auditfs_ledger_free(v->l);
    auditfs_ledger_free(v->probe);
    auditfs_verifier_free(v->key);
    ZSTD_freeDCtx(v->dctx);
    free(v->path);
    pthread_rwlock_destroy(&v->lock);
    pthread_mutex_destroy(&v->git_lock);
    pthread_mutex_destroy(&v->cache_lock);
    pthread_mutex_destroy(&v->query_lock);
    pthread_mutex_destroy(&v->query_compute);
    free(v);
}

void
auditfs_view_checkpoint(auditfs_checkpoint *out, auditfs_view *v)
{
    pthread_rwlock_rdlock(&v->lock);
    *out = v->cp;
    pthread_rwlock_unlock(&v->lock);
}

/* ---- verified frames ---- */

static uint32_t
frame_of(auditfs_view *v, uint64_t seq)
{
    size_t lo = 0, hi = v->nframes;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (v->frames[mid].first_seq <= seq)
            lo = mid;
        else
            hi = mid;
    }
    return (uint32_t)lo;
}

static void
lru_unlink(auditfs_view *v, centry *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        v->lru_head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        v->lru_tail = c->prev;
    c->prev = c->next = NULL;
}

static void
lru_front(auditfs_view *v, centry *c)
{
    c->next = v->lru_head;
    c->prev = NULL;
    if (v->lru_head)
        v->lru_head->prev = c;
    v->lru_head = c;
    if (!v->lru_tail)
        v->lru_tail = c;
}

/* Evicts unreferenced frames from the tail while over the cap (cache_lock held). */
static void
lru_trim(auditfs_view *v)
{
    centry *c = v->lru_tail;
    while (c && v->cache_bytes > v->cache_cap) {
        centry *p = c->prev;
        if (c->refs == 0) {
            lru_unlink(v, c);
            v->frames[c->frame].cache = NULL;
            v->cache_bytes -= c->bytes;
            centry_free(c);
        }
        c = p;
    }
}

static void
frame_put(auditfs_view *v, centry *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&v->cache_lock);
    c->refs--;
    lru_trim(v);
    pthread_mutex_unlock(&v->cache_lock);
}

static int
frame_damage(auditfs_view *v, uint32_t fi, int *first, const char *why)
{
    vframe *f = &v->frames[fi];
    pthread_mutex_lock(&v->cache_lock);
    if (first)
        *first = !f->bad;
    f->bad = 1;
    pthread_mutex_unlock(&v->cache_lock);
    return afs_error_set(AUDITFS_EVERIFY,
                         "entries %llu..%llu (%s, frame %u) fail verification against checkpoint "
                         "%llu: %s",
                         (unsigned long long)f->first_seq,
                         (unsigned long long)(f->first_seq + f->count - 1),
                         v->segs[f->seg].where, f->index, (unsigned long long)v->cp.size, why);
}

/* The blob of segment si (git_lock held; owned by the cache). */
static git_blob *
seg_blob(auditfs_view *v, uint32_t si)
{
    for (unsigned i = 0; i < BLOB_CACHE; i++)
        if (v->blobs[i].blob && v->blobs[i].seg == si)
            return v->blobs[i].blob;
    git_blob *b = NULL;
    if (git_blob_lookup(&b, v->l->repo, &v->segs[si].id) < 0)
        return NULL;
    unsigned slot = v->blob_next++ % BLOB_CACHE;
    git_blob_free(v->blobs[slot].blob);
    v->blobs[slot].blob = b;
    v->blobs[slot].seg = si;
    return b;
}

/* Decodes and verifies frame fi from the repository. */
static int
frame_load(centry **out, auditfs_view *v, uint32_t fi, int *first)
{
    vframe *f = &v->frames[fi];
    git_blob *blob = NULL;
    char why[256] = "";
    centry *c = calloc(1, sizeof *c);
    if (!c)
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    c->frame = fi;
    pthread_mutex_lock(&v->git_lock);
    if (!(blob = seg_blob(v, f->seg))) {
        const git_error *ge = git_error_last();
        snprintf(why, sizeof why, "the segment object cannot be read (%s)",
                 ge && ge->message ? ge->message : "libgit2 error");
    } else if ((uint64_t)git_blob_rawsize(blob) < f->coff + f->csize) {
        snprintf(why, sizeof why, "the segment object is too short");
    } else {
        afs_seg_frame sf = {f->coff, f->first_seq, f->csize, f->usize, f->count};
        afs_seg_index ix = {f->first_seq, f->count, 1, &sf};
        if (afs_seg_frame_decode(&c->data, v->dctx, &ix, 0, git_blob_rawcontent(blob),
                                 (size_t)git_blob_rawsize(blob), v->segs[f->seg].where) != 0)
            snprintf(why, sizeof why, "%s", auditfs_error_last());
    }
    pthread_mutex_unlock(&v->git_lock);
    if (why[0])
        goto damaged;
    c->rec = malloc(f->count * sizeof *c->rec);
    c->pay = malloc(f->count * sizeof *c->pay);
    c->len = malloc(f->count * sizeof *c->len);
    if (!c->rec || !c->pay || !c->len) {
        centry_free(c);
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    }
    afs_sha256_ctx fd;
    afs_sha256_init(&fd);
    size_t off = 0;
    const uint8_t *leaf;
    size_t len;
    uint32_t i = 0;
    while (afs_seg_record_next(&leaf, &len, &c->data, &off) && i < f->count) {
        auditfs_hash h;
        const uint8_t *sep = memmem(leaf, len, "\n\n", 2);
        if (!sep) {
            snprintf(why, sizeof why, "entry %llu has no header end",
                     (unsigned long long)(f->first_seq + i));
            goto damaged;
        }
        auditfs_leaf_hash(&h, leaf, len);
        afs_sha256_update(&fd, h.b, sizeof h.b);
        c->rec[i] = (uint32_t)(leaf - (const uint8_t *)c->data.data);
        c->pay[i] = (uint32_t)(sep + 2 - (const uint8_t *)c->data.data);
        c->len[i] = (uint32_t)len;
        i++;
    }
    uint8_t digest[32];
    afs_sha256_final(&fd, digest);
    if (i != f->count || sodium_memcmp(digest, f->digest, 32) != 0) {
        snprintf(why, sizeof why, "leaf hashes differ from the verified ones (the segment was "
                                  "changed after the checkpoint was verified)");
        goto damaged;
    }
    c->bytes = c->data.cap + f->count * 12u + sizeof *c;
    *out = c;
    return 0;
damaged:
    centry_free(c);
    return frame_damage(v, fi, first, why);
}

/* A verified frame, referenced until frame_put. */
static int
frame_get(centry **out, auditfs_view *v, uint32_t fi, int *first)
{
    vframe *f = &v->frames[fi];
    pthread_mutex_lock(&v->cache_lock);
    if (f->cache) {
        centry *c = f->cache;
        c->refs++;
        lru_unlink(v, c);
        lru_front(v, c);
        pthread_mutex_unlock(&v->cache_lock);
        *out = c;
        return 0;
    }
    int bad = f->bad;
    pthread_mutex_unlock(&v->cache_lock);
    if (bad) {
        if (first)
            *first = 0;
        afs_error_set(AUDITFS_EVERIFY, "entries %llu..%llu (%s, frame %u): damaged",
                      (unsigned long long)f->first_seq,
                      (unsigned long long)(f->first_seq + f->count - 1), v->segs[f->seg].where,
                      f->index);
        return AUDITFS_EVERIFY;
    }
    centry *c = NULL;
    int err = frame_load(&c, v, fi, first);
    if (err)
        return err;
    pthread_mutex_lock(&v->cache_lock);
    if (f->cache) { /* another thread won the race */
        centry_free(c);
        c = f->cache;
    } else {
        f->cache = c;
        lru_front(v, c);
        v->cache_bytes += c->bytes;
    }
    c->refs++;
    lru_trim(v);
    pthread_mutex_unlock(&v->cache_lock);
    *out = c;
    return 0;
}

/* The verified leaf of seq inside frame entry c (which must hold it). */
static void
leaf_in(const centry *c, const vframe *f, uint64_t seq, const uint8_t **leaf, size_t *len,
        const uint8_t **payload)
{
    uint32_t i = (uint32_t)(seq - f->first_seq);
    *leaf = (const uint8_t *)c->data.data + c->rec[i];
    *len = c->len[i];
    if (payload)
        *payload = (const uint8_t *)c->data.data + c->pay[i];
}

/* ---- stat ---- */

static uint64_t
list_hi(const auditfs_view *v, const vnode *n)
{
    const vlist *l = &v->lists[n->list];
    return n->hi == NO_END || n->hi > l->n ? l->n : n->hi;
}

static uint64_t
incl_len(uint64_t index, uint64_t size)
{
    uint64_t n = 0;
    while (size > 1) {
        uint64_t k = 1;
        while (k * 2 < size)
            k *= 2;
        if (index < k) {
            size = k;
        } else {
            index -= k;
            size -= k;
        }
        n++;
    }
    return n;
}

static unsigned
digits(uint64_t x)
{
    unsigned d = 1;
    while (x >= 10) {
        x /= 10;
        d++;
    }
    return d;
}

/*
 * Length of proofs/<seq>.json without building the proof (ls -l of a million proofs):
 * {"leaf_index":N,"tree_size":T,"audit_path":["<44 base64 chars>",...]} plus '\n'.
 * read_proof checks that the proof it serves has exactly this length.
 */
static uint64_t
proof_size(uint64_t seq, uint64_t size)
{
    uint64_t n = incl_len(seq, size);
    return 14 + digits(seq) + 13 + digits(size) + 14 + 1 + 46 * n + (n ? n - 1 : 0) + 2 + 1;
}

static int
stat_locked(auditfs_view_stat *out, auditfs_view *v, uint64_t id)
{
    memset(out, 0, sizeof *out);
    out->id = id;
    out->mtime_us = v->newest;
    out->nlink = 1;
    if (id >= QUERY_BASE)
        return query_stat(out, v, id, NULL);
    if (id >= ENT_BASE) {
        uint64_t seq = id >= PROOF_BASE ? id - PROOF_BASE : id - ENT_BASE;
        if (id >= PROOF_BASE + ENT_BASE || seq >= v->cp.size)
            return afs_error_set(AUDITFS_ENOTFOUND, "no node %llu", (unsigned long long)id);
        out->type = AUDITFS_NODE_FILE;
        out->mtime_us = v->times[seq];
        out->size = id >= PROOF_BASE ? proof_size(seq, v->cp.size) : v->leaflen[seq];
        return 0;
    }
    vnode *n = node(v, id);
    if (!n)
        return afs_error_set(AUDITFS_ENOTFOUND, "no node %llu", (unsigned long long)id);
    switch (n->kind) {
    case K_DIR:
    case K_ENTRIES:
    case K_PROOFS:
    case K_QUERY:
        out->type = AUDITFS_NODE_DIR;
        out->nlink = 2;
        for (uint32_t i = 0; i < n->nkids; i++)
            out->nlink += v->nodes[n->kids[i] - 1].kind == K_DIR;
        if (n->kind == K_QUERY)
            out->flags = AUDITFS_VIEW_VOLATILE; /* its listing changes with use */
        break;
    case K_TEXT:
        out->type = AUDITFS_NODE_FILE;
        out->size = n->aux == T_README       ? v->readme.len
                    : n->aux == T_CHECKPOINT ? v->note_len
                    : n->aux == T_KEY        ? v->keypub_len
                                             : sizeof query_readme - 1;
        break;
    case K_LIST: {
        const vlist *l = &v->lists[n->list];
        uint64_t hi = list_hi(v, n);
        out->type = AUDITFS_NODE_FILE;
        if (hi > n->lo) {
            out->size = l->end[hi - 1] - (n->lo ? l->end[n->lo - 1] : 0);
            out->mtime_us = v->times[l->seq[hi - 1]];
        }
        break;
    }
    case K_CONTENT:
        out->type = AUDITFS_NODE_FILE;
        out->size = v->contents[n->aux].len;
        out->mtime_us = v->times[v->contents[n->aux].seq];
        break;
    case K_LINK:
        out->type = AUDITFS_NODE_LINK;
        out->size = n->link ? strlen(n->link) : 0;
        break;
    }
    return 0;
}

int
auditfs_view_getattr(auditfs_view_stat *out, auditfs_view *v, uint64_t id)
{
    pthread_rwlock_rdlock(&v->lock);
    int err = stat_locked(out, v, id);
    pthread_rwlock_unlock(&v->lock);
    return err;
}

uint64_t
auditfs_view_parent(auditfs_view *v, uint64_t id)
{
    uint64_t p = 1;
    pthread_rwlock_rdlock(&v->lock);
    if (id >= QUERY_BASE) {
        p = v->query_dir;
    } else if (id >= PROOF_BASE) {
        p = 0;
    } else if (id >= ENT_BASE) {
        p = 0;
    } else if (node(v, id)) {
        p = node(v, id)->parent;
    }
    if (p == 0) { /* entries/ or proofs/ */
        for (uint32_t i = 0; i < v->nodes[0].nkids; i++) {
            vnode *k = &v->nodes[v->nodes[0].kids[i] - 1];
            if (k->kind == (id >= PROOF_BASE ? K_PROOFS : K_ENTRIES))
                p = v->nodes[0].kids[i];
        }
    }
    pthread_rwlock_unlock(&v->lock);
    return p ? p : 1;
}

static int
parse_seq(uint64_t *out, const char *s, size_t len)
{
    return afs_parse_u64(out, s, len) ? 0 : -1;
}

static int
lookup_locked(auditfs_view_stat *out, auditfs_view *v, uint64_t dir, const char *name)
{
    vnode *d = dir < ENT_BASE ? node(v, dir) : NULL;
    uint64_t seq;
    if (!d)
        return afs_error_set(AUDITFS_ENOTFOUND, "no directory %llu", (unsigned long long)dir);
    if (d->kind == K_ENTRIES || d->kind == K_PROOFS) {
        size_t len = strlen(name);
        if (d->kind == K_PROOFS) {
            if (len < 6 || strcmp(name + len - 5, ".json") != 0)
                return afs_error_set(AUDITFS_ENOTFOUND, "%s: no such proof", name);
            len -= 5;
        }
        if (parse_seq(&seq, name, len) != 0 || seq >= v->cp.size)
            return afs_error_set(AUDITFS_ENOTFOUND, "%s: no such entry", name);
        return stat_locked(out, v, (d->kind == K_PROOFS ? PROOF_BASE : ENT_BASE) + seq);
    }
    if (d->kind != K_DIR && d->kind != K_QUERY)
        return afs_error_set(AUDITFS_EINVAL, "not a directory");
    uint32_t pos;
    long i = kid_find(v, d, name, &pos);
    if (i < 0 && d->kind == K_QUERY)
        return query_stat(out, v, 0, name);
    if (i < 0)
        return afs_error_set(AUDITFS_ENOTFOUND, "%s: no such file", name);
    return stat_locked(out, v, d->kids[i]);
}

int
auditfs_view_lookup(auditfs_view_stat *out, auditfs_view *v, uint64_t dir, const char *name)
{
    pthread_rwlock_rdlock(&v->lock);
    int err = lookup_locked(out, v, dir, name);
    pthread_rwlock_unlock(&v->lock);
    return err;
}

int
auditfs_view_lookup_path(auditfs_view_stat *out, auditfs_view *v, const char *path)
{
    char buf[1024];
    int err;
    snprintf(buf, sizeof buf, "%s", path);
    pthread_rwlock_rdlock(&v->lock);
    err = stat_locked(out, v, 1);
    for (char *save = NULL, *c = strtok_r(buf, "/", &save); c && !err;
         c = strtok_r(NULL, "/", &save))
        err = lookup_locked(out, v, out->id, c);
    pthread_rwlock_unlock(&v->lock);
    return err;
}

int
auditfs_view_readdir(auditfs_view *v, uint64_t dir, uint64_t pos, auditfs_view_dirent_cb cb,
                     void *payload)
{
    int err = 0;
    auditfs_view_stat st;
    pthread_rwlock_rdlock(&v->lock);
    vnode *d = dir < ENT_BASE ? node(v, dir) : NULL;
    if (!d) {
        err = afs_error_set(AUDITFS_ENOTFOUND, "no directory %llu", (unsigned long long)dir);
    } else if (d->kind == K_ENTRIES || d->kind == K_PROOFS) {
        char name[40];
        for (uint64_t s = pos; s < v->cp.size; s++) {
            snprintf(name, sizeof name, d->kind == K_PROOFS ? "%llu.json" : "%llu",
                     (unsigned long long)s);
            stat_locked(&st, v, (d->kind == K_PROOFS ? PROOF_BASE : ENT_BASE) + s);
            if (cb(name, &st, s + 1, payload))
                break;
        }
    } else if (d->kind != K_DIR && d->kind != K_QUERY) {
        err = afs_error_set(AUDITFS_EINVAL, "not a directory");
    } else {
        int stop = 0;
        for (uint64_t i = pos; i < d->nkids && !stop; i++) {
            stat_locked(&st, v, d->kids[i]);
            stop = cb(v->nodes[d->kids[i] - 1].name, &st, i + 1, payload);
        }
        if (!stop && d->kind == K_QUERY)
            err = query_list(v, d->nkids, pos, cb, payload);
    }
    pthread_rwlock_unlock(&v->lock);
    return err;
}

int
auditfs_view_readlink(char **out, auditfs_view *v, uint64_t id)
{
    int err = 0;
    pthread_rwlock_rdlock(&v->lock);
    vnode *n = id < ENT_BASE ? node(v, id) : NULL;
    if (!n || n->kind != K_LINK || !n->link)
        err = afs_error_set(AUDITFS_EINVAL, "not a link");
    else if (!(*out = strdup(n->link)))
        err = afs_error_set(AUDITFS_ENOMEM, "out of memory");
    pthread_rwlock_unlock(&v->lock);
    return err;
}

/* ---- read ---- */

static void
copy_range(uint8_t *dst, uint64_t want_off, size_t want_len, const void *src, uint64_t src_off,
           size_t src_len)
{
    /* copies the intersection of [src_off, src_off+src_len) with the wanted range */
    uint64_t a = src_off > want_off ? src_off : want_off;
    uint64_t b1 = src_off + src_len, b2 = want_off + want_len;
    uint64_t b = b1 < b2 ? b1 : b2;
    if (a < b)
        memcpy(dst + (a - want_off), (const uint8_t *)src + (a - src_off), (size_t)(b - a));
}

static int
read_list(auditfs_view *v, vnode *n, uint64_t off, uint8_t *buf, size_t len, int *first)
{
    const vlist *l = &v->lists[n->list];
    uint64_t hi = list_hi(v, n);
    uint64_t base = n->lo ? l->end[n->lo - 1] : 0;
    uint64_t abs = base + off;
    /* the first entry whose end is beyond abs */
    uint64_t lo = n->lo, h = hi;
    while (lo < h) {
        uint64_t mid = lo + (h - lo) / 2;
        if (l->end[mid] <= abs)
            lo = mid + 1;
        else
            h = mid;
    }
    centry *c = NULL;
    uint32_t cfi = UINT32_MAX;
    int err = 0;
    for (uint64_t i = lo; i < hi; i++) {
        uint64_t start = i ? l->end[i - 1] : 0;
        if (start >= abs + len)
            break;
        uint64_t seq = l->seq[i];
        uint32_t fi = frame_of(v, seq);
        if (fi != cfi) {
            frame_put(v, c);
            c = NULL;
            if ((err = frame_get(&c, v, fi, first)) != 0)
                break;
            cfi = fi;
        }
        const uint8_t *leaf, *payload;
        size_t leaf_len;
        leaf_in(c, &v->frames[fi], seq, &leaf, &leaf_len, &payload);
        size_t plen = (size_t)(leaf + leaf_len - payload);
        if (plen + 1 != l->end[i] - start) {
            err = frame_damage(v, fi, first, "payload length differs from the index");
            break;
        }
        copy_range(buf, abs, len, payload, start, plen);
        copy_range(buf, abs, len, "\n", start + plen, 1);
    }
    frame_put(v, c);
    return err;
}

static int
read_leaf(auditfs_view *v, uint64_t seq, uint64_t off, uint8_t *buf, size_t len, int *first)
{
    centry *c = NULL;
    uint32_t fi = frame_of(v, seq);
    int err = frame_get(&c, v, fi, first);
    if (err)
        return err;
    const uint8_t *leaf;
    size_t leaf_len;
    leaf_in(c, &v->frames[fi], seq, &leaf, &leaf_len, NULL);
    copy_range(buf, off, len, leaf, 0, leaf_len);
    frame_put(v, c);
    return 0;
}

static void
tiles_clear(auditfs_view *v)
{
    for (unsigned i = 0; i < TILE_CACHE; i++) {
        free(v->tiles[i].data);
        v->tiles[i].data = NULL;
        v->tiles[i].path[0] = 0;
    }
}

/* Hash reader over the tiles of the pinned tree (git_lock held). */
static int
pinned_tile_reader(auditfs_hash *out, unsigned level, uint64_t index, void *payload)
{
    auditfs_view *v = payload;
    unsigned tl = level / 8, r = level % 8;
    uint64_t first = index << r, tidx = first >> 8, size = v->cp.size;
    uint64_t full = (8 * (tl + 1) >= 64) ? 0 : size >> (8 * (tl + 1));
    unsigned width = tidx < full ? 256 : (unsigned)((size >> (8 * tl)) & 255);
    char path[AUDITFS_TILE_PATH_MAX];
    uint8_t *data = NULL;
    size_t len = 0;
    int err;
    if (width == 0 || (first & 255) + (1u << r) > width)
        return afs_error_set(AUDITFS_EVERIFY, "tile %u/%llu: out of range", tl,
                             (unsigned long long)tidx);
    if ((err = auditfs_tile_path(path, tl, tidx, width)) != 0)
        return err;
    for (unsigned i = 0; i < TILE_CACHE; i++) {
        if (v->tiles[i].data && strcmp(v->tiles[i].path, path) == 0) {
            afs_hash_span(out->b, (const uint8_t(*)[32])(v->tiles[i].data + (first & 255) * 32),
                          1u << r);
            return 0;
        }
    }
    if ((err = afs_tree_read(&data, &len, v->l->repo, v->tree, path)) != 0)
        return err;
    if (len != (size_t)width * 32) {
        free(data);
        return afs_error_set(AUDITFS_EVERIFY, "%s: wrong size", path);
    }
    afs_hash_span(out->b, (const uint8_t(*)[32])(data + (first & 255) * 32), 1u << r);
    unsigned slot = v->tile_next++ % TILE_CACHE;
    free(v->tiles[slot].data);
    v->tiles[slot].data = data;
    snprintf(v->tiles[slot].path, sizeof v->tiles[slot].path, "%s", path);
    return 0;
}

static int
read_proof(auditfs_view *v, uint64_t seq, uint64_t off, uint8_t *buf, size_t len, int *first)
{
    auditfs_inclusion_proof p;
    centry *c = NULL;
    char *json = NULL;
    uint32_t fi = frame_of(v, seq);
    int err = frame_get(&c, v, fi, first);
    if (err)
        return err;
    const uint8_t *leaf;
    size_t leaf_len;
    auditfs_hash h;
    leaf_in(c, &v->frames[fi], seq, &leaf, &leaf_len, NULL);
    auditfs_leaf_hash(&h, leaf, leaf_len);
    frame_put(v, c);
    memset(&p, 0, sizeof p);
    p.leaf_index = seq;
    p.tree_size = v->cp.size;
    pthread_mutex_lock(&v->git_lock);
    err = auditfs_merkle_prove_inclusion(p.path, &p.path_len, seq, v->cp.size, pinned_tile_reader,
                                         v);
    pthread_mutex_unlock(&v->git_lock);
    if (err || auditfs_merkle_verify_inclusion(&h, seq, v->cp.size, p.path, p.path_len,
                                               &v->cp.root) != 0) {
        if (first)
            *first = 1;
        return afs_error_set(AUDITFS_EVERIFY,
                             "proofs/%llu.json: the tiles in the repository do not prove entry "
                             "%llu against checkpoint %llu",
                             (unsigned long long)seq, (unsigned long long)seq,
                             (unsigned long long)v->cp.size);
    }
    if ((err = auditfs_inclusion_proof_to_json(&json, &p)) != 0)
        return err;
    size_t jl = strlen(json);
    if (jl + 1 != proof_size(seq, v->cp.size)) {
        free(json);
        return afs_error_set(AUDITFS_ERROR, "proofs/%llu.json: unexpected length",
                             (unsigned long long)seq);
    }
    copy_range(buf, off, len, json, 0, jl);
    copy_range(buf, off, len, "\n", jl, 1);
    free(json);
    return 0;
}

static int
read_content(auditfs_view *v, const vcontent *ct, uint64_t off, uint8_t *buf, size_t len,
             int *first)
{
    git_blob *blob = NULL;
    uint8_t h[32];
    int ok = 0;
    pthread_mutex_lock(&v->git_lock);
    if (ct->have_blob && git_blob_lookup(&blob, v->l->repo, &ct->blob) == 0 &&
        (uint64_t)git_blob_rawsize(blob) == ct->len) {
        afs_sha256(h, git_blob_rawcontent(blob), (size_t)ct->len);
        if (sodium_memcmp(h, ct->sha, 32) == 0) {
            copy_range(buf, off, len, git_blob_rawcontent(blob), 0, (size_t)ct->len);
            ok = 1;
        }
    }
    git_blob_free(blob);
    pthread_mutex_unlock(&v->git_lock);
    if (ok)
        return 0;
    if (first)
        *first = 1;
    return afs_error_set(AUDITFS_EVERIFY,
                         "content of entry %llu does not match its length and SHA-256",
                         (unsigned long long)ct->seq);
}

/* ---- query/<terms>.jsonl ---- */

/* A verified frame: the cached one if there is one, else decoded and verified for this use only
 * (*owned = 1: free it with centry_free), so a scan does not flush the cache of hot frames. */
static int
frame_peek(centry **out, int *owned, auditfs_view *v, uint32_t fi, int *first)
{
    vframe *f = &v->frames[fi];
    pthread_mutex_lock(&v->cache_lock);
    if (f->cache) {
        f->cache->refs++;
        *out = f->cache;
        *owned = 0;
        pthread_mutex_unlock(&v->cache_lock);
        return 0;
    }
    int bad = f->bad;
    pthread_mutex_unlock(&v->cache_lock);
    if (bad)
        return frame_get(out, v, fi, first); /* reports the known damage */
    *owned = 1;
    return frame_load(out, v, fi, first);
}

/*
 * The seqs in [lo, hi) that may match q. From this party's authenticated query index when there
 * is a usable one (index.c: a forged, foreign or damaged index is ignored or widens the set, and
 * every candidate is still read from a verified frame and matched), else all of [lo, hi). The
 * index is opened for each result computed, so an index updated while mounted is picked up; it
 * must be a prefix of the tree the mount opened (v->l), which the pinned tree extends.
 */
static int
query_candidates(afs_ivals *out, auditfs_view *v, const auditfs_query *q, uint64_t lo,
                 uint64_t hi)
{
    afs_ivals all = AFS_IVALS_INIT, range = AFS_IVALS_INIT;
    afs_index *ix = NULL;
    char why[200];
    int err;
    pthread_mutex_lock(&v->git_lock);
    err = afs_index_open(&ix, v->l, why, sizeof why);
    pthread_mutex_unlock(&v->git_lock);
    if (err) { /* slower, never wrong: scan */
        auditfs_error_clear();
        ix = NULL;
    }
    if ((err = afs_ivals_push(&range, lo, hi)) != 0)
        goto done;
    if (!ix) {
        *out = range;
        range = (afs_ivals)AFS_IVALS_INIT;
        goto done;
    }
    if ((err = afs_query_index_candidates(&all, ix, q, v->cp.size)) != 0)
        goto done;
    err = afs_ivals_intersect(out, &all, &range);
done:
    afs_index_close(ix);
    afs_ivals_release(&all);
    afs_ivals_release(&range);
    return err;
}

/*
 * The result of q over the pinned checkpoint (lock held): for every entry, in ledger order, the
 * bytes `auditfs query` prints (AUDITFS_QUERY_PAYLOADS), taken only from verified frames.
 */
static int
query_compute(afs_buf *out, vquery *r, auditfs_view *v, const auditfs_query *q, int *first)
{
    int err = 0;
    uint64_t lo, hi, a, b;
    int64_t tlo, thi;
    r->hits = 0;
    r->first_seq = r->last_seq = 0;
    r->mtime_us = v->newest;
    /* only the entries the _seq and _time terms allow (ledger time never goes backwards) */
    auditfs_query_range(q, &lo, &hi, &tlo, &thi);
    if (hi > v->cp.size)
        hi = v->cp.size;
    for (a = 0, b = v->cp.size; a < b;) {
        uint64_t mid = a + (b - a) / 2;
        if (v->times[mid] < tlo)
            a = mid + 1;
        else
            b = mid;
    }
    lo = a > lo ? a : lo;
    for (a = 0, b = v->cp.size; a < b;) {
        uint64_t mid = a + (b - a) / 2;
        if (v->times[mid] <= thi)
            a = mid + 1;
        else
            b = mid;
    }
    hi = a < hi ? a : hi;
    if (lo >= hi || v->nframes == 0)
        return 0;
    afs_ivals cand = AFS_IVALS_INIT;
    if ((err = query_candidates(&cand, v, q, lo, hi)) != 0)
        return err;
    /* every frame holding a candidate, once, in ledger order; k walks the candidate intervals */
    size_t k = 0;
    uint64_t pos = cand.n ? cand.v[0][0] : hi;
    while (k < cand.n && !err) {
        uint32_t fi = frame_of(v, pos);
        vframe *f = &v->frames[fi];
        uint64_t fend = f->first_seq + f->count;
        centry *c = NULL;
        int owned = 0;
        if (pos >= fend) { /* cannot happen for pos < cp.size; do not loop */
            err = afs_error_set(AUDITFS_EVERIFY, "entry %llu is in no frame",
                                (unsigned long long)pos);
            break;
        }
        if ((err = frame_peek(&c, &owned, v, fi, first)) != 0)
            break;
        for (uint64_t seq = pos; seq < fend && k < cand.n && !err; seq++) {
            const uint8_t *leaf;
            size_t len;
            auditfs_entry e;
            if (seq >= cand.v[k][1]) {
                if (++k == cand.n)
                    break;
                seq = cand.v[k][0];
                if (seq >= fend)
                    break;
            }
            pos = seq + 1;
            leaf_in(c, f, seq, &leaf, &len, NULL);
            if (auditfs_entry_parse(&e, leaf, len) != 0 || e.seq != seq) {
                err = afs_error_set(AUDITFS_EVERIFY, "entry %llu no longer parses",
                                    (unsigned long long)seq);
                break;
            }
            if (!auditfs_query_match(q, &e))
                continue;
            if (e.has_content) {
                char *line = NULL;
                size_t ll = 0;
                if ((err = auditfs_query_format_hit(&line, &ll, v->l, &e,
                                                    AUDITFS_QUERY_PAYLOADS)) == 0)
                    err = afs_buf_put(out, line, ll);
                free(line);
            } else if ((err = afs_buf_put(out, e.payload, e.payload_len)) == 0) {
                err = afs_buf_put(out, "\n", 1);
            }
            if (!err && out->len > QUERY_MAX_RESULT)
                err = afs_error_set(AUDITFS_ETOOBIG,
                                    "the result is larger than %zu MiB (narrow the expression)",
                                    QUERY_MAX_RESULT >> 20);
            if (!r->hits)
                r->first_seq = seq;
            r->last_seq = seq;
            r->mtime_us = e.time_us;
            r->hits++;
        }
        if (owned)
            centry_free(c);
        else
            frame_put(v, c);
        /* the next candidate: the rest of interval k, or the start of the next one */
        while (k < cand.n && pos >= cand.v[k][1])
            k++;
        if (k < cand.n && pos < cand.v[k][0])
            pos = cand.v[k][0];
    }
    afs_ivals_release(&cand);
    return err;
}

static vquery *
query_by_id(auditfs_view *v, uint64_t id)
{
    for (size_t i = 0; v->queries && i < QUERY_NAMES; i++)
        if (v->queries[i].name && QUERY_BASE + v->queries[i].k == id)
            return &v->queries[i];
    return NULL;
}

static vquery *
query_by_name(auditfs_view *v, const char *name)
{
    for (size_t i = 0; v->queries && i < QUERY_NAMES; i++)
        if (v->queries[i].name && strcmp(v->queries[i].name, name) == 0)
            return &v->queries[i];
    return NULL;
}

static void
query_fill(auditfs_view_stat *out, const vquery *r)
{
    memset(out, 0, sizeof *out);
    out->id = QUERY_BASE + r->k;
    out->type = AUDITFS_NODE_FILE;
    out->size = r->len;
    out->mtime_us = r->mtime_us;
    out->nlink = 1;
    out->flags = AUDITFS_VIEW_VOLATILE;
}

/* Drops cached results, least recently used first, beyond the bounds (query_lock held). */
static void
query_trim(auditfs_view *v, const vquery *keep)
{
    while (v->query_files > QUERY_CACHE_FILES || v->query_bytes > QUERY_CACHE_BYTES) {
        vquery *lru = NULL;
        for (size_t i = 0; i < QUERY_NAMES; i++) {
            vquery *r = &v->queries[i];
            if (r->data && r != keep && (!lru || r->used < lru->used))
                lru = r;
        }
        if (!lru)
            return;
        free(lru->data);
        lru->data = NULL;
        v->query_bytes -= lru->len;
        v->query_files--;
    }
}

/* A usable slot for a new name: a free one, else the least recently used (query_lock held). */
static vquery *
query_slot(auditfs_view *v)
{
    vquery *lru = NULL;
    for (size_t i = 0; i < QUERY_NAMES; i++) {
        vquery *r = &v->queries[i];
        if (!r->name)
            return r;
        if (!lru || r->used < lru->used)
            lru = r;
    }
    free(lru->name);
    if (lru->data) {
        free(lru->data);
        v->query_bytes -= lru->len;
        v->query_files--;
    }
    memset(lru, 0, sizeof *lru);
    return lru;
}

/*
 * Makes query file `id` (or, with id 0, the file `name` in query/) current for the pinned
 * checkpoint (lock held): stat in out, and with buf, bytes [off, off+len) copied into buf.
 */
static int
query_get(auditfs_view_stat *out, auditfs_view *v, uint64_t id, const char *name, uint64_t off,
          uint8_t *buf, size_t len, size_t *got, int *first)
{
    vquery *r;
    vquery res;
    char *qname = NULL;
    auditfs_query *q = NULL;
    afs_buf b = AFS_BUF_INIT;
    int err = 0, have_compute = 0;
    size_t nl;
    if (got)
        *got = 0;
    if (!id) {
        nl = strlen(name);
        if (nl < 6 || strcmp(name + nl - 6, ".jsonl") != 0)
            return afs_error_set(AUDITFS_ENOTFOUND, "query/%s: not a query (<terms>.jsonl)",
                                 name);
    }
    for (int pass = 0; pass < 2; pass++) {
        if (pass) {
            pthread_mutex_lock(&v->query_compute);
            have_compute = 1;
        }
        pthread_mutex_lock(&v->query_lock);
        if (!v->queries && !(v->queries = calloc(QUERY_NAMES, sizeof *v->queries))) {
            pthread_mutex_unlock(&v->query_lock);
            err = afs_error_set(AUDITFS_ENOMEM, "out of memory");
            goto out;
        }
        r = id ? query_by_id(v, id) : query_by_name(v, name);
        if (r && r->cp_size == v->cp.size && (!buf || r->data)) {
            r->used = ++v->query_tick;
            query_fill(out, r);
            if (buf && off < r->len) {
                size_t n = r->len - off < len ? (size_t)(r->len - off) : len;
                memcpy(buf, r->data + off, n);
                *got = n;
            }
            pthread_mutex_unlock(&v->query_lock);
            goto out;
        }
        if (pass == 1) {
            if (!r && id) {
                err = afs_error_set(AUDITFS_ENOTFOUND, "query file %llu is forgotten",
                                    (unsigned long long)(id - QUERY_BASE));
            } else if (!(qname = strdup(r ? r->name : name))) {
                err = afs_error_set(AUDITFS_ENOMEM, "out of memory");
            }
        }
        pthread_mutex_unlock(&v->query_lock);
        if (err)
            goto out;
    }
    /* compute it (query_compute held) */
    nl = strlen(qname);
    qname[nl - 6] = 0;
    err = auditfs_query_parse_name(&q, qname, NULL);
    qname[nl - 6] = '.';
    if (err) {
        err = afs_error_wrap(err, "query/%s", qname);
        goto out;
    }
    memset(&res, 0, sizeof res);
    if ((err = afs_buf_put(&b, "", 0)) != 0 || (err = query_compute(&b, &res, v, q, first)) != 0) {
        err = afs_error_wrap(err, "query/%s", qname);
        pthread_mutex_lock(&v->query_lock);
        if ((r = query_by_name(v, qname)) != NULL && err == AUDITFS_EVERIFY)
            r->damaged = 1;
        pthread_mutex_unlock(&v->query_lock);
        goto out;
    }
    pthread_mutex_lock(&v->query_lock);
    r = query_by_name(v, qname);
    if (r && r->cp_size == v->cp.size && r->len != b.len) {
        /* the same checkpoint must give the same bytes */
        r->damaged = 1;
        pthread_mutex_unlock(&v->query_lock);
        err = afs_error_set(AUDITFS_EVERIFY, "query/%s: the result changed within checkpoint %llu",
                            qname, (unsigned long long)v->cp.size);
        goto out;
    }
    if (!r) {
        r = query_slot(v);
        r->name = qname;
        qname = NULL;
        r->k = v->query_next++;
    }
    if (r->data) {
        free(r->data);
        v->query_bytes -= r->len;
        v->query_files--;
    }
    r->cp_size = v->cp.size;
    r->hits = res.hits;
    r->first_seq = res.first_seq;
    r->last_seq = res.last_seq;
    r->mtime_us = res.mtime_us;
    r->len = b.len;
    r->data = (uint8_t *)afs_buf_detach(&b, NULL);
    r->used = ++v->query_tick;
    v->query_bytes += r->len;
    v->query_files++;
    query_trim(v, r);
    query_fill(out, r);
    if (buf && off < r->len) {
        size_t n = r->len - off < len ? (size_t)(r->len - off) : len;
        memcpy(buf, r->data + off, n);
        *got = n;
    }
    pthread_mutex_unlock(&v->query_lock);
out:
    if (have_compute)
        pthread_mutex_unlock(&v->query_compute);
    afs_buf_release(&b);
    auditfs_query_free(q);
    free(qname);
    return err;
}

static int
query_stat(auditfs_view_stat *out, auditfs_view *v, uint64_t id, const char *name)
{
    return query_get(out, v, id, name, 0, NULL, 0, NULL, NULL);
}

static int
query_read(auditfs_view *v, uint64_t id, uint64_t off, uint8_t *buf, size_t len, size_t *got,
           int *first)
{
    auditfs_view_stat st;
    return query_get(&st, v, id, NULL, off, buf, len, got, first);
}

static void
query_info(auditfs_view *v, uint64_t id, uint64_t *first, uint64_t *last, int *damaged)
{
    pthread_mutex_lock(&v->query_lock);
    vquery *r = query_by_id(v, id);
    if (r && r->hits) {
        *first = r->first_seq;
        *last = r->last_seq;
    }
    if (r)
        *damaged = r->damaged;
    pthread_mutex_unlock(&v->query_lock);
}

typedef struct qlisted {
    uint64_t k;
    char *name;
    auditfs_view_stat st;
} qlisted;

static int
qlisted_cmp(const void *a, const void *b)
{
    uint64_t x = ((const qlisted *)a)->k, y = ((const qlisted *)b)->k;
    return x < y ? -1 : x > y;
}

/* Lists the query files computed for the pinned checkpoint, at positions base + k. */
static int
query_list(auditfs_view *v, uint64_t base, uint64_t pos, auditfs_view_dirent_cb cb,
           void *payload)
{
    qlisted *l = NULL;
    size_t n = 0;
    int err = 0;
    pthread_mutex_lock(&v->query_lock);
    if (v->queries && !(l = calloc(QUERY_NAMES, sizeof *l)))
        err = afs_error_set(AUDITFS_ENOMEM, "out of memory");
    for (size_t i = 0; l && i < QUERY_NAMES; i++) {
        vquery *r = &v->queries[i];
        if (!r->name || r->cp_size != v->cp.size || base + r->k < pos)
            continue;
        if (!(l[n].name = strdup(r->name))) {
            err = afs_error_set(AUDITFS_ENOMEM, "out of memory");
            break;
        }
        l[n].k = r->k;
        query_fill(&l[n].st, r);
        n++;
    }
    pthread_mutex_unlock(&v->query_lock);
    if (n)
        qsort(l, n, sizeof *l, qlisted_cmp);
    for (size_t i = 0; i < n && !err; i++)
        if (cb(l[i].name, &l[i].st, base + l[i].k + 1, payload))
            break;
    for (size_t i = 0; i < n; i++)
        free(l[i].name);
    free(l);
    return err;
}

int
auditfs_view_read(auditfs_view *v, uint64_t id, uint64_t off, void *buf, size_t len, size_t *got,
                  int *first_report)
{
    auditfs_view_stat st;
    int err;
    *got = 0;
    if (first_report)
        *first_report = 0;
    pthread_rwlock_rdlock(&v->lock);
    if ((err = stat_locked(&st, v, id)) != 0)
        goto done;
    if (st.type != AUDITFS_NODE_FILE) {
        err = afs_error_set(AUDITFS_EINVAL, "not a file");
        goto done;
    }
    if (off >= st.size)
        goto done;
    if (len > st.size - off)
        len = (size_t)(st.size - off);
    if (id >= QUERY_BASE) {
        err = query_read(v, id, off, buf, len, got, first_report);
        len = *got;
    } else if (id >= PROOF_BASE) {
        err = read_proof(v, id - PROOF_BASE, off, buf, len, first_report);
    } else if (id >= ENT_BASE) {
        err = read_leaf(v, id - ENT_BASE, off, buf, len, first_report);
    } else {
        vnode *n = node(v, id);
        switch (n->kind) {
        case K_TEXT: {
            const char *t = n->aux == T_README       ? v->readme.data
                            : n->aux == T_CHECKPOINT ? v->note
                            : n->aux == T_KEY        ? v->keypub
                                                     : query_readme;
            memcpy(buf, t + off, len);
            break;
        }
        case K_LIST: err = read_list(v, n, off, buf, len, first_report); break;
        case K_CONTENT:
            err = read_content(v, &v->contents[n->aux], off, buf, len, first_report);
            break;
        default: err = afs_error_set(AUDITFS_EINVAL, "not a file"); break;
        }
        if (err == AUDITFS_EVERIFY)
            n->damaged = 1;
    }
    if (!err)
        *got = len;
done:
    pthread_rwlock_unlock(&v->lock);
    return err;
}

/* ---- xattrs ---- */

static void
xattr_set(auditfs_view_xattr *x, size_t *k, const char *name, const char *fmt, ...)
    AFS_PRINTF(4, 5);
static void
xattr_set(auditfs_view_xattr *x, size_t *k, const char *name, const char *fmt, ...)
{
    va_list ap;
    snprintf(x[*k].name, sizeof x[*k].name, "user.auditfs.%s", name);
    va_start(ap, fmt);
    vsnprintf(x[*k].value, sizeof x[*k].value, fmt, ap);
    va_end(ap);
    (*k)++;
}

int
auditfs_view_xattrs(auditfs_view_xattr out[AUDITFS_VIEW_XATTR_MAX], size_t *n, auditfs_view *v,
                    uint64_t id)
{
    auditfs_view_stat st;
    char root[48];
    uint64_t first = UINT64_MAX, last = 0;
    int damaged = 0;
    size_t k = 0;
    pthread_rwlock_rdlock(&v->lock);
    int err = stat_locked(&st, v, id);
    if (err)
        goto done;
    if (id >= QUERY_BASE) {
        query_info(v, id, &first, &last, &damaged);
    } else if (id >= ENT_BASE) {
        first = last = id >= PROOF_BASE ? id - PROOF_BASE : id - ENT_BASE;
    } else {
        vnode *nd = node(v, id);
        damaged = nd->damaged;
        if (nd->kind == K_LIST) {
            const vlist *l = &v->lists[nd->list];
            uint64_t hi = list_hi(v, nd);
            if (hi > nd->lo) {
                first = l->seq[nd->lo];
                last = l->seq[hi - 1];
            }
        } else if (nd->kind == K_CONTENT) {
            first = last = v->contents[nd->aux].seq;
        } else if (nd->kind == K_TEXT && v->cp.size) {
            first = 0;
            last = v->cp.size - 1;
        }
    }
    if (first != UINT64_MAX) {
        xattr_set(out, &k, "first_seq", "%llu", (unsigned long long)first);
        xattr_set(out, &k, "last_seq", "%llu", (unsigned long long)last);
    }
    auditfs_hash_base64(root, &v->cp.root);
    xattr_set(out, &k, "checkpoint_size", "%llu", (unsigned long long)v->cp.size);
    xattr_set(out, &k, "checkpoint_root", "%s", root);
    xattr_set(out, &k, "origin", "%.90s", v->cp.origin);
    xattr_set(out, &k, "verified", "%s",
              damaged ? "no: a read failed verification (see the mount's log)" : "yes");
done:
    pthread_rwlock_unlock(&v->lock);
    *n = k;
    return err;
}

/* ---- --follow ---- */

/* The verifier's memory at open (auditfs_view_options.state). */
static int
view_trust(auditfs_view *v, auditfs_state *st)
{
    char bound[AUDITFS_NAME_MAX + 1];
    auditfs_trust_result r;
    int err = auditfs_state_bound_origin(bound, st, v->path);
    if (err == 0 && strcmp(bound, v->cp.origin) != 0)
        return afs_error_set(AUDITFS_EVERIFY, "%s holds origin \"%s\" for this party, not \"%s\"",
                             v->path, bound, v->cp.origin);
    if (err && err != AUDITFS_ENOTFOUND)
        return err;
    auditfs_error_clear();
    v->state = st;
    return auditfs_trust_check(&r, st, v->l, v->note, v->note_len, 0);
}

static int
refuse(auditfs_view *v, const char *new_note, size_t new_len, const char *fmt, const char *detail)
{
    git_oid_cpy(&v->refused, &v->probe->head_id);
    v->have_refused = 1;
    return afs_error_set_lines(AUDITFS_EVERIFY,
                         "refusing the ledger's new head %s: %s%s\n"
                         "--- pinned checkpoint (still served) ---\n%.*s"
                         "--- new checkpoint ---\n%.*s",
                         git_oid_tostr_s(&v->probe->head_id), fmt, detail, (int)v->note_len,
                         v->note, (int)new_len, new_note);
}

int
auditfs_view_follow(auditfs_view *v, uint64_t **changed, size_t *nchanged)
{
    auditfs_checkpoint ncp;
    scan_state st;
    scan_out so;
    git_commit *commit = NULL;
    git_tree *ntree = NULL;
    char *nnote = NULL;
    size_t nlen;
    int err;
    memset(&so, 0, sizeof so);
    if (changed)
        *changed = NULL;
    if (nchanged)
        *nchanged = 0;
    if ((err = auditfs_ledger_refresh(v->probe)) != 0)
        return afs_error_wrap(AUDITFS_EVERIFY, "refusing the ledger's new head");
    if (git_oid_equal(&v->probe->head_id, &v->commit) ||
        (v->have_refused && git_oid_equal(&v->probe->head_id, &v->refused)))
        return 0;
    if ((err = auditfs_ledger_checkpoint_note(&nnote, &nlen, v->probe)) != 0)
        return err;
    /* signature and origin */
    if (auditfs_checkpoint_open(&ncp, nnote, nlen, v->key, v->cp.origin) != 0) {
        char d[300];
        snprintf(d, sizeof d, ": %s", auditfs_error_last());
        err = refuse(v, nnote, nlen, "its checkpoint is not signed by the key", d);
        goto done;
    }
    /* it must extend the pinned tree */
    if (ncp.size < v->cp.size) {
        err = refuse(v, nnote, nlen, "it has fewer entries than the pinned checkpoint (rollback)",
                     "");
        goto done;
    }
    if (ncp.size == v->cp.size) {
        if (!auditfs_hash_equal(&ncp.root, &v->cp.root)) {
            err = refuse(v, nnote, nlen,
                         "two signed checkpoints of the same size with different roots", "");
            goto done;
        }
    } else {
        int prefix = 0; /* the probe's head is ncp */
        if (auditfs_ledger_has_prefix(&prefix, v->probe, &v->cp) != 0 || !prefix) {
            err = refuse(v, nnote, nlen,
                         "no valid consistency proof: the new history does not extend the pinned "
                         "one",
                         "");
            goto done;
        }
    }
    /* the caller's policy (a witness quorum): not yet is not a refusal, ask again next time */
    if (v->accept) {
        int ok = v->accept(v->accept_payload, &ncp, v->probe);
        if (ok <= 0) {
            err = ok;
            goto done;
        }
    }
    /* every new leaf, against the new root */
    st = v->st;
    if (scan(NULL, &st, &so, v->probe->repo, v->probe->tree, ncp.size, (uint32_t)v->nsegs) != 0) {
        char d[300];
        snprintf(d, sizeof d, ": %s", auditfs_error_last());
        err = refuse(v, nnote, nlen, "its new entries do not verify", d);
        goto done;
    }
    auditfs_hash root;
    auditfs_merkle_stream_root(&root, &st.ms);
    if (!auditfs_hash_equal(&root, &ncp.root)) {
        err = refuse(v, nnote, nlen, "its leaves do not hash to its signed root", "");
        goto done;
    }
    /* the verifier's memory: this head must extend what this party saw (another process may
     * have moved it) and becomes what it saw */
    if (v->state) {
        auditfs_trust_result r;
        if (auditfs_trust_check(&r, v->state, v->probe, nnote, nlen, 0) != 0) {
            char d[1200];
            snprintf(d, sizeof d, ": %s", auditfs_error_last());
            err = refuse(v, nnote, nlen, "it does not extend the checkpoint this party remembers",
                         d);
            goto done;
        }
    }
    /* publish: the new frames are verified; their entries are re-read through the verified path */
    pthread_mutex_lock(&v->git_lock);
    if (git_commit_lookup(&commit, v->l->repo, &v->probe->head_id) < 0 ||
        git_commit_tree(&ntree, commit) < 0)
        err = afs_error_git(AUDITFS_EIO, "cannot read the new head");
    pthread_mutex_unlock(&v->git_lock);
    if (err)
        goto done;
    pthread_rwlock_wrlock(&v->lock);
    size_t old_nframes = v->nframes;
    for (size_t i = 0; i < so.nsegs && !err; i++)
        VEC_PUSH(v->segs, v->nsegs, v->capsegs, so.segs[i], unlock);
    for (size_t i = 0; i < so.nframes && !err; i++)
        VEC_PUSH(v->frames, v->nframes, v->capframes, so.frames[i], unlock);
    pthread_mutex_lock(&v->git_lock);
    git_tree_free(v->tree);
    v->tree = ntree;
    ntree = NULL;
    tiles_clear(v);
    pthread_mutex_unlock(&v->git_lock);
    v->tracking = 1;
    v->nchanged = 0;
    for (size_t fi = old_nframes; fi < v->nframes && !err; fi++) {
        centry *c = NULL;
        vframe *f = &v->frames[fi];
        if ((err = frame_get(&c, v, (uint32_t)fi, NULL)) != 0)
            break;
        for (uint32_t i = 0; i < f->count && !err; i++) {
            const uint8_t *leaf, *payload;
            size_t len;
            auditfs_entry e;
            leaf_in(c, f, f->first_seq + i, &leaf, &len, &payload);
            if ((err = auditfs_entry_parse(&e, leaf, len)) == 0) {
                vrec r = {e.seq, e.time_us, (uint32_t)len, e.payload_len, &e};
                err = apply(v, &r);
            }
        }
        frame_put(v, c);
    }
    if (!err) {
        v->st = st;
        v->cp = ncp;
        git_oid_cpy(&v->commit, &v->probe->head_id);
        free(v->note);
        v->note = nnote;
        v->note_len = nlen;
        nnote = NULL;
        show_cosignatures(v, v->probe);
        err = make_readme(v);
    }
    /*
     * A failure here (out of memory, or the new segment changed between the two passes) leaves
     * entries added for part of the step; they were verified, but the checkpoint stays the old
     * one, so stat of entries/ and proofs/ never goes beyond it.
     */
unlock:
    /* entries/, proofs/, README and checkpoint change with every step */
    for (uint32_t i = 0; i < v->nodes[0].nkids; i++) {
        vnode *k = &v->nodes[v->nodes[0].kids[i] - 1];
        if (k->kind == K_ENTRIES || k->kind == K_PROOFS || k->kind == K_TEXT ||
            k->kind == K_QUERY)
            node_changed(v, v->nodes[0].kids[i]);
    }
    /* every query file now stands for the new checkpoint (recomputed on its next use) */
    pthread_mutex_lock(&v->query_lock);
    for (size_t i = 0; v->queries && i < QUERY_NAMES; i++)
        if (v->queries[i].name)
            node_changed(v, QUERY_BASE + v->queries[i].k);
    pthread_mutex_unlock(&v->query_lock);
    v->tracking = 0;
    if (changed && !err) {
        *changed = v->changed;
        *nchanged = v->nchanged;
        v->changed = NULL;
        v->nchanged = v->capchanged = 0;
    }
    pthread_rwlock_unlock(&v->lock);
    if (!err)
        err = 1;
done:
    git_tree_free(ntree);
    git_commit_free(commit);
    scan_out_release(&so);
    free(nnote);
    return err;
}

/* ---- test seam (view_seam.h) ---- */

uint8_t *
afs_view_frame_digest(auditfs_view *v, uint64_t seq)
{
    if (!v || v->nframes == 0)
        return NULL;
    vframe *f = &v->frames[frame_of(v, seq)];
    return seq >= f->first_seq && seq - f->first_seq < f->count ? f->digest : NULL;
}
