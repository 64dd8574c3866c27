/*
 * ledger/view_int.h - the view's private state, shared by its files (not part of the public API).
 *
 * The view (auditfs/view.h) is the ledger as a file tree pinned to a verified checkpoint. It is
 * cut by concern:
 *   view_tree.c    the tree: nodes, per-stream lists, documents and notices, README
 *   view_open.c    pin-time verification: open, the verification pass, free
 *   view_cache.c   verified frames: decode, re-verify against the pin, bounded LRU
 *   view_read.c    stat, lookup, readdir, read, xattrs
 *   view_query.c   the query/ directory
 *   view_follow.c  --follow: verify a new head and publish it
 *
 * How a byte is verified before it is served:
 *  1. At pin time (open, or a --follow step) one pass (the segment walk of
 *     segwalk.c, shared with verify) decodes every new frame, hashes every leaf
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
 * handle (libgit2 objects are not thread-safe): a frame's object is read under it, and decoded
 * and verified outside it, with a decoder of its own; `cache_lock` guards the LRU, the frames'
 * loading flags and the free decoders; `evday_lock` the caches of by-event-day/ (never held
 * while a frame is read from git). Order: lock, evday_lock, then git_lock or cache_lock (never
 * both of the latter). The read-ahead workers (view_ahead.c) hold `lock` shared while they load
 * a frame; their queue's own mutex is taken with no other lock held or under `lock` only.
 */
#ifndef AUDITFS_VIEW_INT_H
#define AUDITFS_VIEW_INT_H

#include "auditfs/view.h"
#include "auditfs/merkle.h"
#include "auditfs/proof.h"
#include "auditfs/trust.h"
#include "segwalk.h"
#include "store.h"
#include "view_spill.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#define ENT_BASE ((uint64_t)1 << 40)
#define PROOF_BASE ((uint64_t)2 << 40)
#define QUERY_BASE ((uint64_t)3 << 40)
#define QUERY_NAMES 1024                   /* query files remembered (names and sizes) */
#define QUERY_CACHE_FILES 16               /* results kept in memory */
#define QUERY_CACHE_BYTES ((size_t)256 << 20)
#define QUERY_MAX_RESULT ((size_t)256 << 20) /* a bigger result is refused (ETOOBIG) */
#define NO_END UINT64_MAX
#define DEFAULT_CACHE ((size_t)16 << 20) /* frames and event-day stashes (docs/man: memory) */
#define TILE_CACHE 64

enum kind { K_DIR, K_TEXT, K_LIST, K_CONTENT, K_LINK, K_ENTRIES, K_PROOFS, K_QUERY, K_EVDAY };
enum text { T_README, T_CHECKPOINT, T_KEY, T_QUERY_README };

typedef struct vnode {
    char *name;
    uint64_t parent;
    uint8_t kind;
    uint8_t damaged;  /* a read of this file failed verification */
    uint32_t list;    /* K_LIST: its list; a stream directory: its list + 1 (0: none) */
    uint64_t lo, hi;  /* K_LIST: entry indexes [lo, hi) of the list; hi NO_END: to the end */
    uint32_t aux;     /* K_CONTENT: index into contents; K_TEXT: enum text; K_EVDAY: evdays */
    char *link;       /* K_LINK: target */
    uint64_t *kids;   /* K_DIR: child ids sorted by name */
    uint32_t nkids, capkids;
} vnode;

typedef struct vlist {
    uint64_t n;
    /* entry i: (seq, byte offset just after it in the list's all.jsonl), in the view's private
     * file (view_spill.h); read them with vw_list_seq and vw_list_end */
    vspill ix;
    uint64_t dir, all, day_node;
    int64_t day; /* days since the epoch of day_node */
    int64_t ev_day;  /* the event day of the last entry added (view_evday.c) */
    uint32_t ev_idx; /* its evdays index + 1 (0: none yet) */
    uint64_t ev_dir; /* the list's directory under by-event-day/ (0: not made yet) */
    uint32_t *evs;   /* its day files (indexes into evdays), sorted by day */
    uint32_t nevs, capevs;
} vlist;

/*
 * A day file of by-event-day/ (view_evday.c): the entries of one list whose event time (or
 * ledger time, without one) falls on one UTC day. Event times need not increase, so these are
 * not slices of the list: only their count, size and range are kept at pin time. Two bounded
 * caches make reading them cheap (view_evday.c says how):
 *  - positions (vpos): the list positions of its entries and their cumulative ends, found by a
 *    scan of [first_pos, last_pos]; at most EVDAY_POS_BYTES over all day files.
 *  - bytes (vstash): its lines as copied out of verified frames while another day file of the
 *    same list was read, compressed in chunks; at most EVDAY_STASH_BYTES over all day files,
 *    counted in the frame cache's bound (cache_cap).
 */
typedef struct vpos {
    int refs;     /* the cache's reference (while ev->pos points here) + reads in flight */
    uint64_t n;
    /* entry k of the day file: (its list position, the cumulative end of its line in the day
     * file), in v->evspill (view_spill.h) */
    vspill ix;
} vpos;

typedef struct vstash {
    uint64_t covered; /* every entry of the day file below this list position is held */
    uint64_t m, bytes; /* entries and bytes held: the first m lines, bytes [0, bytes) */
    uint8_t **chunk;   /* sealed chunks, EVDAY_CHUNK raw bytes each, zstd-compressed */
    uint32_t *clen;
    size_t nchunks, capchunks;
    uint8_t *tail; /* the bytes after the last sealed chunk (fewer than EVDAY_CHUNK) */
    size_t tail_len, tail_cap;
    size_t zbytes; /* sum of clen */
    size_t mem;    /* what it costs, charged to evday_stash_mem */
    uint64_t born; /* evday_tick when it was made */
} vstash;

typedef struct vevday {
    uint32_t list;
    int32_t day;
    uint64_t node; /* its K_EVDAY node */
    uint64_t n, bytes;
    uint64_t first_pos, last_pos; /* list positions of its first and last entry */
    vpos *pos;                    /* cached positions, or NULL */
    vstash *stash;                /* bytes copied ahead, or NULL */
    uint64_t used;                /* LRU tick of pos */
    uint64_t read;                /* evday_tick of the last read served from stash */
    uint64_t epoch;               /* harvest scratch (view_evday.c) */
    uint8_t take;
} vevday;

#define EVDAY_CHUNK ((size_t)64 << 10)
#define EVDAY_POS_BYTES ((size_t)4 << 20) /* memory of cached positions' block indexes */
/* kept lines (compressed), over all day files: at most half the frame cache's bound, which they
 * share with the verified frames */
#define EVDAY_STASH_BYTES(v) ((v)->cache_cap / 2)

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
    uint8_t loading; /* a thread is decoding it into the cache (under cache_lock) */
    struct centry *cache;
} vframe;

/* What decoding a frame needs (view_cache.c): a zstd context, a scratch buffer and room for the
 * leaf hashes. One thread uses a decoder at a time; at most DECODERS exist. */
typedef struct vdecoder {
    ZSTD_DCtx *dctx;
    afs_buf scratch;
    uint8_t (*hashes)[32];
    size_t hcap;
    struct vdecoder *next; /* in the free list */
} vdecoder;
#define DECODERS 4
#define SPARE_MAPS 4

struct vw_ahead; /* sequential read-ahead (view_ahead.c) */

/* A verified decoded frame. rec[i] is leaf i's offset in data (rec[count] = end marker
 * unused); pay[i] its payload's offset; len[i] the leaf length. data, rec, pay and len share
 * one anonymous mapping of data.cap bytes (view_cache.c says why). */
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
    afs_chain chain; /* the next entry, and the hash and time of the one before it */
    auditfs_merkle_stream ms;
} scan_state;

/* What a verification pass found: the segments and frames it verified, to be published. */
typedef struct scan_out {
    vseg *segs;
    size_t nsegs, capsegs;
    vframe *frames;
    size_t nframes, capframes;
} scan_out;

/* A verified entry, flattened (pointers valid during apply only). */
typedef struct vrec {
    uint64_t seq;
    int64_t time_us;
    uint32_t leaf_len;
    uint64_t payload_len;
    const auditfs_entry *e;
} vrec;

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
    uint64_t frame_loads; /* frames decoded from git by reads, under git_lock (a test seam) */
    /* decoding frames (view_cache.c), under cache_lock: the free decoders and how many exist;
     * frame_cond is signalled when a decoder is returned or a frame's load ends */
    vdecoder *dec_free;
    unsigned ndec;
    pthread_cond_t frame_cond;
    /* mappings of evicted frames, kept for the next loads (under cache_lock): a new mapping
     * costs its page faults and zeroing, a tenth of a cold read's CPU */
    struct {
        void *p;
        size_t cap;
    } spare[SPARE_MAPS];
    unsigned nspare;
    struct vw_ahead *ahead; /* view_ahead.c */
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
    /* per seq: (ledger time ^ TIME_BIAS, leaf length, event day), in the private file; read
     * them with vw_seq_time, vw_seq_leaflen and vw_seq_evday */
    vspill perseq;
    vspill_file spill; /* the private file of perseq and every list's ix (view_spill.h); written
                        * only at open or under `lock` held exclusively */
    vspill_file evspill; /* of by-event-day/ positions: written under evday_lock, and flushed
                          * before the positions are published (readers only pread it) */
    uint64_t streams, tenants, documents, notices;
    /* by-event-day/ (view_evday.c): the UTC event day of each seq, and the day files; the
     * cached positions are guarded by evday_lock (order: lock, evday_lock, then cache_lock or
     * git_lock) */
    uint64_t ev_streams, ev_tenants; /* by-event-day/streams, by-event-day/tenants */
    vevday *evdays;
    size_t nevdays, capevdays;
    pthread_mutex_t evday_lock;
    uint64_t evday_tick, evday_epoch;
    size_t evday_pos_mem; /* bytes held by cached positions */
    /* bytes held by stashes: written under evday_lock, read by lru_trim (view_cache.c), which
     * keeps the verified frames and the stashes together within cache_cap */
    _Atomic size_t evday_stash_mem;
    ZSTD_CCtx *evday_cctx;                 /* stash chunks, under evday_lock */
    ZSTD_DCtx *evday_dctx;
    uint8_t *evday_buf; /* ZSTD_compressBound(EVDAY_CHUNK) bytes, under evday_lock */

    /* the lists of the last log entry applied (vw_apply): consecutive entries of one stream
     * and tenant skip the directory lookups; 0: none yet, else list index + 1 */
    char last_stream[AUDITFS_STREAM_MAX + 1], last_tenant[AUDITFS_STREAM_MAX + 1];
    uint32_t last_list, last_tlist;

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


/* ---- view_tree.c ---- */

/* Records that node id changed (while a --follow step tracks changes). */
void vw_node_changed(auditfs_view *v, uint64_t id);
/* Node id (1 is the root), or NULL. */
vnode *vw_node(auditfs_view *v, uint64_t id);
/* The index of name among dir's children, or -1 with *pos where it would go. */
long vw_kid_find(auditfs_view *v, const vnode *dir, const char *name, uint32_t *pos);
/* Adds the fixed part of the tree (the root's texts and directories). */
int vw_build_skeleton(auditfs_view *v);
/* Adds a verified entry to the tree. */
int vw_apply(auditfs_view *v, const vrec *r);
/* (Re)writes ./README for the pinned checkpoint. */
int vw_make_readme(auditfs_view *v);
/* A child node (0: error set); the directory `name` under parent, created if needed. */
uint64_t vw_node_add(auditfs_view *v, uint64_t parent, const char *name, int kind);
uint64_t vw_dir_ensure(auditfs_view *v, uint64_t parent, const char *name);
/* UTC day number of a time in microseconds. */
int64_t vw_day_of(int64_t us);

/*
 * The per-entry arrays (all kept in v->spill, view_spill.h). Safe under v->lock held shared
 * from any number of threads (each thread decodes into its own small cache).
 */
#define TIME_BIAS ((uint64_t)1 << 63) /* unsigned order of time ^ TIME_BIAS is signed order */
static inline int64_t
vw_seq_time(const auditfs_view *v, uint64_t seq)
{
    return (int64_t)(vspill_get(&v->perseq, &v->spill, seq, 0) ^ TIME_BIAS);
}
static inline uint32_t
vw_seq_leaflen(const auditfs_view *v, uint64_t seq)
{
    return (uint32_t)vspill_get(&v->perseq, &v->spill, seq, 1);
}
static inline int32_t
vw_seq_evday(const auditfs_view *v, uint64_t seq)
{
    return (int32_t)(int64_t)vspill_get(&v->perseq, &v->spill, seq, 2);
}
/* The first seq in [lo, hi) whose time is > t (strict) or >= t, or hi. */
uint64_t vw_seq_time_bound(const auditfs_view *v, int64_t t, int strict, uint64_t lo, uint64_t hi);
/* Entry i of list l: its seq; the end of its line; the start of its line. */
static inline uint64_t
vw_list_seq(const auditfs_view *v, const vlist *l, uint64_t i)
{
    return vspill_get(&l->ix, &v->spill, i, 0);
}
static inline uint64_t
vw_list_end(const auditfs_view *v, const vlist *l, uint64_t i)
{
    return vspill_get(&l->ix, &v->spill, i, 1);
}
static inline uint64_t
vw_list_start(const auditfs_view *v, const vlist *l, uint64_t i)
{
    return i ? vspill_get(&l->ix, &v->spill, i - 1, 1) : 0;
}
/* The first i in [lo, hi) of list l whose line ends beyond byte off, or hi. */
uint64_t vw_list_find_offset(const auditfs_view *v, const vlist *l, uint64_t off, uint64_t lo,
                             uint64_t hi);
/* The first position of list l whose seq is at least seq (l->n if none). */
uint64_t vw_list_lower(const auditfs_view *v, const vlist *l, uint64_t seq);
/* Writes out what the pin-time pass buffered for v->spill. */
int vw_spill_flush(auditfs_view *v);

/* ---- view_evday.c ---- */

/* The UTC event day of r (of its ledger time without an event time); EINVAL out of range. */
int vw_evday_of(int32_t *out, const vrec *r);
/* Files the log entry r (at position pos of list li, event day day) under by-event-day/ of the
 * list's directory. */
int vw_evday_add(auditfs_view *v, uint32_t li, uint64_t pos, const vrec *r, int32_t day);
/* Reads a day file (v->lock held shared; takes evday_lock only for its caches). */
int vw_evday_read(auditfs_view *v, vnode *n, uint64_t off, uint8_t *buf, size_t len, int *first);
void vw_evday_free(auditfs_view *v);

/* ---- view_open.c ---- */

/* Verifies leaves [st->chain.next, to) of tree, applying them to v when v is not NULL. */
int vw_scan(auditfs_view *v, scan_state *st, scan_out *so, auditfs_ledger *l, git_tree *tree,
            uint64_t to, uint32_t seg_base);
void vw_scan_out_release(scan_out *so);
/* ./checkpoint with the cosignatures stored for exactly this checkpoint, if any. */
void vw_show_cosignatures(auditfs_view *v, auditfs_ledger *l);

/* ---- view_cache.c ---- */

/* The frame holding seq. */
uint32_t vw_frame_of(auditfs_view *v, uint64_t seq);
void vw_centry_free(centry *c);
/* A verified frame, referenced until vw_frame_put. */
int vw_frame_get(centry **out, auditfs_view *v, uint32_t fi, int *first);
/* The cached frame if there is one, else one verified for this use only (*owned: free it). */
int vw_frame_peek(centry **out, int *owned, auditfs_view *v, uint32_t fi, int *first);
void vw_frame_put(auditfs_view *v, centry *c);
/* Frame fi if it is in the cache (referenced until vw_frame_put), else NULL: never reads git. */
centry *vw_frame_cached(auditfs_view *v, uint32_t fi);
/* Marks frame fi bad for the rest of the mount; returns AUDITFS_EVERIFY with why. */
int vw_frame_damage(auditfs_view *v, uint32_t fi, int *first, const char *why);
/* The verified leaf of seq inside frame entry c (which must hold it). */
void vw_leaf_in(const centry *c, const vframe *f, uint64_t seq, const uint8_t **leaf, size_t *len,
                const uint8_t **payload);

/*
 * The lines of one file: item k (from <= k < to) is the payload of list entry
 * px ? px[k].pos : k and a '\n', ending at byte px[k].end of the file's coordinates (px NULL:
 * the list's own ends, vw_list_end; read them with vw_lines_pos, vw_lines_end, vw_lines_find);
 * the file
 * starts at byte base (the end of the item before `from`, 0 for k = 0). on_frame, when set, sees
 * each verified frame the read uses (it may fail the read). Used by a list's day files and
 * all.jsonl (pos and end NULL) and by event-day files (their positions).
 */
typedef struct vw_lines {
    const vlist *l;
    const vspill *px;       /* NULL: the list's own entries */
    const vspill_file *pf;  /* px's file */
    uint64_t from, to, base;
    int (*on_frame)(void *payload, auditfs_view *v, const centry *c, uint32_t fi, int *first);
    void *payload;
} vw_lines;
/* List position of item k of ln; its end; the first item in [from, to) whose end is beyond byte abs, or to. */
uint64_t vw_lines_pos(const auditfs_view *v, const vw_lines *ln, uint64_t k);
uint64_t vw_lines_end(const auditfs_view *v, const vw_lines *ln, uint64_t k);
uint64_t vw_lines_find(const auditfs_view *v, const vw_lines *ln, uint64_t abs);
/* Copies bytes [off, off + len) of the file ln out of verified frames into buf. Each payload's
 * length must equal the one recorded at pin time, or its frame is marked damaged. */
int vw_lines_read(auditfs_view *v, const vw_lines *ln, uint64_t off, uint8_t *buf, size_t len,
                  int *first);

/* Sets up and releases what decoding frames needs (decoders, read-ahead): view_new, view_free. */
int vw_frames_init(auditfs_view *v);
void vw_frames_free(auditfs_view *v);
/* Loads frame fi into the cache for a read expected soon (a read-ahead worker, v->lock held
 * shared): nothing if it is cached, bad or being loaded. A frame that fails is not marked: the
 * read that needs it loads it again and reports the damage. */
void vw_frame_prefetch(auditfs_view *v, uint32_t fi);

/* ---- view_ahead.c ---- */

int vw_ahead_init(auditfs_view *v);
/* Stops and joins the workers (no read in flight). */
void vw_ahead_free(auditfs_view *v);
struct vw_lines;
/* A read of ln covered items [lo, kend), the last of them in frame fi (v->lock held shared):
 * when reads of ln go forward, queue the next frames of ln for the workers. */
void vw_ahead_note(auditfs_view *v, const struct vw_lines *ln, uint64_t lo, uint64_t kend,
                   uint32_t fi);

/* ---- view_read.c ---- */

/* Drops the tiles read for proofs (git_lock held, or no other thread). */
void vw_tiles_clear(auditfs_view *v);

/* ---- view_query.c ---- */

extern const char vw_query_readme[];
extern const size_t vw_query_readme_len;
int vw_query_stat(auditfs_view_stat *out, auditfs_view *v, uint64_t id, const char *name);
int vw_query_read(auditfs_view *v, uint64_t id, uint64_t off, uint8_t *buf, size_t len,
                  size_t *got, int *first);
int vw_query_list(auditfs_view *v, uint64_t base, uint64_t pos, auditfs_view_dirent_cb cb,
                  void *payload);
void vw_query_info(auditfs_view *v, uint64_t id, uint64_t *first, uint64_t *last, int *damaged);

#endif
