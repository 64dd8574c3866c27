/*
 * ledger/view_ahead.c - sequential read-ahead: verified frames decoded on other cores before
 * a reader asks for them.
 *
 * A cold sequential read of all.jsonl used to decode, hash and verify each frame on the FUSE
 * thread that asked for it, one frame at a time, while the kernel waited (about one core, and
 * the reader's own work on top of it). When reads of a file go forward, the next frames the file
 * needs are queued for AHEAD_WORKERS threads, which load them into the frame cache exactly as a
 * read would (view_cache.c: decoded from the object, every leaf hashed, the digest compared with
 * the pin's) and leave them there, unreferenced, for the read.
 *
 * Bounds: at most AHEAD frames past the reader's position per file (and a fifth of the cache),
 * AHEAD_QUEUE queued frames in all (when the workers fall behind, the oldest are dropped); what
 * the workers load counts in the cache's bound like any frame. Nothing a worker finds wrong is
 * recorded: a frame that fails is dropped, and the read that needs it loads it again and reports
 * it (EIO, one log line), so the read-ahead can neither serve nor mark anything. Random reads
 * (a read that does not start where the last one of its file ended, give or take a little
 * reordering by the kernel) queue nothing.
 */
#include "view_int.h"
#include "view_seam.h"

#define AHEAD 6          /* frames past the reader's, per file */
#define AHEAD_WORKERS 2  /* both cores of the machines we measure on */
#define AHEAD_QUEUE 32
#define AHEAD_FILES 8    /* files followed at a time */
#define AHEAD_SLACK 1024 /* items a read may start away from where the last one ended (the
                          * kernel sends a few reads at once) and still count as going forward */

typedef struct ahead_file {
    const void *key;   /* the file: its list, or its event-day positions (ahead_key) */
    uint64_t next;     /* the item after the last one read */
    uint32_t queued;   /* frames up to this one were queued (or read) */
    uint64_t used;     /* LRU tick */
} ahead_file;

struct vw_ahead {
    auditfs_view *v;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_cond_t idle; /* signalled when a worker finishes a frame */
    unsigned busy;       /* workers loading a frame */
    pthread_t th[AHEAD_WORKERS];
    unsigned nth;
    int started, stop;
    uint32_t q[AHEAD_QUEUE];
    unsigned qhead, qlen;
    ahead_file files[AHEAD_FILES];
    uint64_t tick;
    unsigned depth; /* frames ahead, from the cache's bound */
};

int
vw_ahead_init(auditfs_view *v)
{
    struct vw_ahead *a = calloc(1, sizeof *a);
    if (!a)
        return -1;
    a->v = v;
    if (pthread_mutex_init(&a->mu, NULL) != 0) {
        free(a);
        return -1;
    }
    if (pthread_cond_init(&a->cv, NULL) != 0) {
        pthread_mutex_destroy(&a->mu);
        free(a);
        return -1;
    }
    if (pthread_cond_init(&a->idle, NULL) != 0) {
        pthread_cond_destroy(&a->cv);
        pthread_mutex_destroy(&a->mu);
        free(a);
        return -1;
    }
    /* a frame takes up to ~0.4 MiB in the cache: keep the read-ahead within a fifth of it */
    size_t depth = v->cache_cap / ((size_t)2 << 20);
    a->depth = depth > AHEAD ? AHEAD : (unsigned)depth;
    v->ahead = a;
    return 0;
}

void
vw_ahead_free(auditfs_view *v)
{
    struct vw_ahead *a = v->ahead;
    if (!a)
        return;
    pthread_mutex_lock(&a->mu);
    a->stop = 1;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
    for (unsigned i = 0; i < a->nth; i++)
        pthread_join(a->th[i], NULL);
    pthread_cond_destroy(&a->idle);
    pthread_cond_destroy(&a->cv);
    pthread_mutex_destroy(&a->mu);
    free(a);
    v->ahead = NULL;
}

static void *
worker(void *arg)
{
    struct vw_ahead *a = arg;
    auditfs_view *v = a->v;
    pthread_mutex_lock(&a->mu);
    for (;;) {
        while (!a->stop && a->qlen == 0)
            pthread_cond_wait(&a->cv, &a->mu);
        if (a->stop)
            break;
        uint32_t fi = a->q[a->qhead];
        a->qhead = (a->qhead + 1) % AHEAD_QUEUE;
        a->qlen--;
        a->busy++;
        pthread_mutex_unlock(&a->mu);
        /* shared: a --follow step may grow the frame array, never while a load is in flight */
        pthread_rwlock_rdlock(&v->lock);
        if (fi < v->nframes)
            vw_frame_prefetch(v, fi);
        pthread_rwlock_unlock(&v->lock);
        pthread_mutex_lock(&a->mu);
        a->busy--;
        pthread_cond_broadcast(&a->idle);
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

/* Starts the workers on first use (a->mu held); 0 if there are none (then nothing is queued).
 * Not at open: the mount daemonises (forks) after opening its views, and threads do not
 * survive a fork; the first read comes after it. */
static unsigned
workers(struct vw_ahead *a)
{
    if (!a->started) {
        a->started = 1;
        for (unsigned i = 0; i < AHEAD_WORKERS; i++)
            if (pthread_create(&a->th[a->nth], NULL, worker, a) == 0)
                a->nth++;
    }
    return a->nth;
}

static uint64_t
item_seq(const auditfs_view *v, const vw_lines *ln, uint64_t k)
{
    return vw_list_seq(v, ln->l, vw_lines_pos(v, ln, k));
}

/* What names a file here: its event-day positions, or its list (a list's day files are slices
 * of it, whose items are list positions too). Only a hint: a key reused after its positions
 * were dropped makes one read-ahead guess wrong, nothing else. */
static const void *
ahead_key(const vw_lines *ln)
{
    return ln->px ? (const void *)ln->px : (const void *)ln->l;
}

/* The first item in [k, to) whose seq is at least seq (items' seqs increase), or to. */
static uint64_t
item_from(const auditfs_view *v, const vw_lines *ln, uint64_t k, uint64_t seq)
{
    uint64_t hi = ln->to;
    while (k < hi) {
        uint64_t mid = k + (hi - k) / 2;
        if (item_seq(v, ln, mid) < seq)
            k = mid + 1;
        else
            hi = mid;
    }
    return k;
}

void
vw_ahead_note(auditfs_view *v, const vw_lines *ln, uint64_t lo, uint64_t kend, uint32_t fi)
{
    struct vw_ahead *a = v->ahead;
    if (!a || a->depth == 0)
        return;
    pthread_mutex_lock(&a->mu);
    ahead_file *af = NULL, *old = &a->files[0];
    for (unsigned i = 0; i < AHEAD_FILES && !af; i++) {
        if (a->files[i].key == ahead_key(ln))
            af = &a->files[i];
        else if (a->files[i].used < old->used)
            old = &a->files[i];
    }
    a->tick++;
    if (!af) { /* a file not followed yet: remember where this read ended */
        *old = (ahead_file){ahead_key(ln), kend, fi, a->tick};
        pthread_mutex_unlock(&a->mu);
        return;
    }
    af->used = a->tick;
    if (lo + AHEAD_SLACK < af->next || lo > af->next + AHEAD_SLACK) { /* a jump: start over */
        *af = (ahead_file){ahead_key(ln), kend, fi, a->tick};
        pthread_mutex_unlock(&a->mu);
        return;
    }
    if (kend > af->next)
        af->next = kend;
    if (af->queued < fi || af->queued >= v->nframes)
        af->queued = fi;
    if (af->queued - fi >= a->depth) { /* queued far enough already (exactly so when every
                                         * frame holds some of the file's lines) */
        pthread_mutex_unlock(&a->mu);
        return;
    }
    /* the next `depth` frames the file needs after the reader's, those not queued yet */
    unsigned seen = 0;
    uint64_t k = af->next;
    while (k < ln->to && seen < a->depth) {
        uint32_t g = vw_frame_of(v, item_seq(v, ln, k));
        if (g > fi)
            seen++;
        if (g > af->queued && workers(a)) {
            if (a->qlen == AHEAD_QUEUE) { /* full: the oldest is the least likely still ahead */
                a->qhead = (a->qhead + 1) % AHEAD_QUEUE;
                a->qlen--;
            }
            a->q[(a->qhead + a->qlen) % AHEAD_QUEUE] = g;
            a->qlen++;
            af->queued = g;
            pthread_cond_signal(&a->cv);
        }
        if ((size_t)g + 1 >= v->nframes)
            break;
        k = item_from(v, ln, k + 1, v->frames[g + 1].first_seq);
    }
    pthread_mutex_unlock(&a->mu);
}

/* ---- test seam (view_seam.h) ---- */

void
afs_view_ahead_drain(auditfs_view *v)
{
    struct vw_ahead *a = v->ahead;
    if (!a)
        return;
    pthread_mutex_lock(&a->mu);
    while (a->qlen || a->busy)
        pthread_cond_wait(&a->idle, &a->mu);
    pthread_mutex_unlock(&a->mu);
}
