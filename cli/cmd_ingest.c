/*
 * cli/cmd_ingest.c - `auditfs append`: lines from files, standard input, followed files
 * (--follow), rsyslog's omprog (--rsyslog) or the journal (--journal), committed in batches
 * that lose nothing.
 *
 * Invariants:
 *  - A line read is either in a committed batch, or still in memory (the pending batch), or
 *    stops the append with FILE:LINE: reason before anything after it is stored. A failed commit
 *    (git gc, a lock held by git, a full disk) keeps the batch and is retried with backoff.
 *  - The ledger lock is held for one commit only (writer opened, batch added, committed, writer
 *    closed), so several producers feed one ledger at once, each batch contiguous.
 *  - Where an input was read to (a followed file's position, a journal cursor) is stored in the
 *    commit that holds its lines (a commit-message trailer, docs/FORMAT.md section 16), so a
 *    restart resumes exactly: never a line twice, never a gap.
 *  - A size printed on standard output (or "OK" to rsyslog) is only ever printed after the
 *    batch is durable.
 */
#include "cli.h"

#include "auditfs/ingest.h"
#include "auditfs/rotated.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#ifdef AUDITFS_HAVE_SYSTEMD
#include <systemd/sd-journal.h>
#endif

static const char append_help[] =
    "usage: auditfs append --ledger DIR --key FILE --stream S [--tenant T] [--party P]\n"
    "                      [--layer L] [--quarantine] [--max-record BYTES] [--batch-bytes N]\n"
    "                      [--flush-ms MS] [--no-wait] [--no-index]\n"
    "                      [--map HEADER=FIELD,...] [--value HEADER:FROM=TO]...\n"
    "                      [--follow [--poll-ms MS] [--once]] [--rsyslog]\n"
    "                      [--journal [--journal-file F]... [--match FIELD=VALUE]...\n"
    "                       [--cursor-key K]] [--spool DIR]\n"
    "                      [--route-by tenant --ledgers DIR] [--retry-secs N] [--json]\n"
    "                      [--tlog-tiles OUTDIR] [--witness URL=KEY.pub]... [FILE...]\n"
    "\n"
    "Appends one entry per input line (standard input when no FILE), signing and committing in\n"
    "batches: a batch is committed when it holds --batch-bytes (default 16 MiB) or when its first\n"
    "line is --flush-ms old (default 1000). Each durable commit prints the new tree size on\n"
    "standard output: every entry up to it is acknowledged (fsynced). The ledger is locked for\n"
    "one commit at a time (back-to-back batches of a file or standard input keep it for at\n"
    "most a second), so several appenders feed one ledger at once; a commit that fails\n"
    "(git gc, a ref lock held by git) is retried with backoff for --retry-secs (300), its batch\n"
    "kept; a full disk fails at once (exit 4).\n"
    "Lines must be UTF-8 without NUL or control characters (tab allowed), at most --max-record\n"
    "bytes (default 65536), and end with a newline. A bad line stops the append with\n"
    "FILE:LINE: reason and exit code 3 after committing everything before it; with\n"
    "--quarantine the line is stored byte-exact in the 'quarantine' stream instead.\n"
    "SIGTERM/SIGINT: commit what was read, print its size, exit 0. SIGHUP: reopen files.\n"
    "--json prints each acknowledgment as {\"tree_size\",\"entries\",\"quarantined\"} (and\n"
    "\"tenant\" with --route-by). --tlog-tiles OUTDIR brings a static C2SP tlog-tiles tree up to\n"
    "date after each commit (see `auditfs export`; a failed export warns, the commit stands).\n"
    "--witness URL=KEY.pub (repeatable) sends every new checkpoint to those C2SP tlog-witness\n"
    "witnesses after its commit and stores their cosignatures; refusals go to stderr and the\n"
    "append goes on (a slow witness delays the next batch, up to 30 s).\n"
    "\n"
    "--follow FILE...   read each FILE like `tail -F` from its start, or from the position\n"
    "                   stored with the last batch holding its lines (exactly once across\n"
    "                   restarts and crashes); survives rename-and-create and copytruncate\n"
    "                   rotation; files rotated while auditfs was down, or more than once\n"
    "                   between two checks, are found in FILE's directory (FILE.*, also .gz\n"
    "                   and .zst) and read in modification-time order. Lines that are gone\n"
    "                   (a truncated file with no copy) are reported and recorded in the\n"
    "                   stream auditfs-input. Until a position is stored, the first file is\n"
    "                   marked in LEDGER/auditfs-follow/ (DIR/.auditfs-route/ when routing).\n"
    "--once             with --follow: read each file (and rotated files found at the start)\n"
    "                   to its end, commit, store the positions and exit (a cron job, or a\n"
    "                   catch-up before a service starts).\n"
    "--map tenant=F,party=F,layer=F,stream=F,time=F   take headers from fields of each JSON\n"
    "                   payload ('a.b' for nested fields); --tenant/--party/--layer/--stream are\n"
    "                   the defaults when a field is absent; --value party:aws=provider maps a\n"
    "                   field value first. An invalid mapped value is refused (or quarantined),\n"
    "                   never replaced. time=F stores the event time (RFC 3339, or a number of\n"
    "                   seconds, milliseconds or microseconds since the epoch) as event-time.\n"
    "--rsyslog          speak rsyslog omprog's protocol on stdin/stdout (confirmMessages,\n"
    "                   useTransactions): DEFER_COMMIT per message, OK once a transaction is\n"
    "                   durable; bad messages are always quarantined. Deferred messages are\n"
    "                   spooled (--spool DIR, default LEDGER/auditfs-rsyslog.spool/) so that a\n"
    "                   transaction cut by our death is committed at the next start (rsyslog\n"
    "                   does not resend those). See contrib/rsyslog/.\n"
    "--journal          read the systemd journal (--journal-file F, repeatable, or the\n"
    "                   system journal) through sd-journal; --match FIELD=VALUE filters. Each\n"
    "                   entry becomes a JSON object of its fields; the cursor is stored with\n"
    "                   each batch (exactly once). With --follow, waits for new entries.\n"
    "--cursor-key K     the key the journal cursor is stored under (default journal), so\n"
    "                   appenders with different --match resume from their own cursors.\n"
    "--route-by tenant --ledgers DIR   one ledger per tenant, DIR/<tenant>, created on first\n"
    "                   use (origin <key name>/<tenant>, signed by --key). With --follow,\n"
    "                   --journal or --rsyslog too, exactly once: a restart reads from the\n"
    "                   low-water mark in DIR/.auditfs-route/ and skips lines a tenant's\n"
    "                   ledger already holds (its commits say how far).\n"
    "P is provider|customer|security-vendor|assessor; L is facility|hardware|virtualization|\n"
    "platform|application|data.\n";

/* ---- signals ---- */

static volatile sig_atomic_t g_stop, g_hup;
static int g_sigpipe[2] = {-1, -1};

static void
on_signal(int sig)
{
    int e = errno;
    if (sig == SIGHUP)
        g_hup = 1;
    else
        g_stop = 1;
    if (g_sigpipe[1] >= 0) {
        ssize_t r = write(g_sigpipe[1], "x", 1);
        (void)r;
    }
    errno = e;
}

static int
install_signals(void)
{
    if (pipe2(g_sigpipe, O_CLOEXEC | O_NONBLOCK) != 0)
        return -1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: poll and read return EINTR */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    return 0;
}

static void
drain_sigpipe(void)
{
    char b[64];
    while (read(g_sigpipe[0], b, sizeof b) > 0)
        ;
}

static int64_t
mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Sleeps ms, or less if a signal arrives (once a stop was asked for, a plain sleep). */
static void
sleep_ms(int ms)
{
    struct pollfd p = {.fd = g_sigpipe[0], .events = POLLIN};
    poll(&p, g_stop ? 0 : 1, ms);
}

/* ---- the pending batch: records kept compactly until their commit ---- */

typedef struct hdrs {
    char stream[AUDITFS_STREAM_MAX + 1];
    char tenant[AUDITFS_STREAM_MAX + 1];
    char party[24];
    char layer[24];
} hdrs;

typedef struct rec {
    size_t off; /* payload in the arena */
    size_t len;
    size_t reason_off; /* quarantine reason in the arena; reason_len 0 for log entries */
    size_t reason_len;
    uint32_t hdr; /* index in the header table */
    int has_event;
    int64_t event_us;
} rec;

typedef struct batch {
    uint8_t *arena;
    size_t alen, acap;
    rec *recs;
    size_t n, cap;
    hdrs *h;
    size_t nh, caph;
    size_t bytes;
    int64_t started; /* mono_us of the first record, 0 if empty */
} batch;

static int
arena_put(batch *b, size_t *off, const void *p, size_t n)
{
    if (b->alen + n > b->acap) {
        size_t cap = b->acap ? b->acap : 1 << 20;
        while (cap < b->alen + n)
            cap *= 2;
        uint8_t *a = realloc(b->arena, cap);
        if (!a)
            return -1;
        b->arena = a;
        b->acap = cap;
    }
    memcpy(b->arena + b->alen, p, n);
    *off = b->alen;
    b->alen += n;
    return 0;
}

static int
batch_add(batch *b, const hdrs *h, const uint8_t *p, size_t n, const char *reason, int has_event,
          int64_t event_us)
{
    uint32_t hi;
    /* a stream of records mostly repeats the last header tuple */
    if (b->nh && memcmp(&b->h[b->nh - 1], h, sizeof *h) == 0) {
        hi = (uint32_t)(b->nh - 1);
    } else {
        if (b->nh == b->caph) {
            size_t cap = b->caph ? b->caph * 2 : 16;
            hdrs *t = realloc(b->h, cap * sizeof *t);
            if (!t)
                return -1;
            b->h = t;
            b->caph = cap;
        }
        b->h[b->nh] = *h;
        hi = (uint32_t)b->nh++;
    }
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 1024;
        rec *r = realloc(b->recs, cap * sizeof *r);
        if (!r)
            return -1;
        b->recs = r;
        b->cap = cap;
    }
    rec *r = &b->recs[b->n];
    memset(r, 0, sizeof *r);
    r->len = n;
    r->hdr = hi;
    r->has_event = has_event;
    r->event_us = event_us;
    if (arena_put(b, &r->off, p, n) != 0)
        return -1;
    if (reason) {
        r->reason_len = strlen(reason);
        if (arena_put(b, &r->reason_off, reason, r->reason_len) != 0)
            return -1;
    }
    b->n++;
    b->bytes += n + 200;
    if (!b->started)
        b->started = mono_us();
    return 0;
}

static void
batch_clear(batch *b)
{
    b->alen = b->n = b->nh = b->bytes = 0;
    b->started = 0;
}

static void
batch_free(batch *b)
{
    free(b->arena);
    free(b->recs);
    free(b->h);
    memset(b, 0, sizeof *b);
}

/* ---- positions and cursors of the inputs, stored with the batch that holds their lines ---- */

typedef struct fsrc fsrc;

/* A target ledger and its pending batch (one, or one per tenant with --route-by). */
typedef struct target {
    char *path;
    char tenant[AUDITFS_STREAM_MAX + 1];
    batch b;
    uint64_t committed;
    int wrote;
    /* --route-by with --follow/--journal: where this ledger's trailers say its lines stop
     * (loaded on first use); a line routed here before that point is already in it */
    int loaded;
    int pinned; /* its origin's key is pinned in the writer's memory */
    uint64_t *rseq; /* per followed file: Auditfs-Routed sequence, 0 if none */
    char *rcursor;  /* journal: Auditfs-Cursor of the newest commit, or NULL */
} target;

typedef struct ingest {
    const char *ledger;
    const char *ledgers_dir; /* --route-by tenant */
    auditfs_signer *key;
    auditfs_writer_options wo;
    hdrs defaults;
    int quarantine, rsyslog, no_wait;
    int64_t retry_us; /* how long a failing commit is retried (--retry-secs) */
    int commit_failed;
    size_t max_record, batch_bytes;
    int64_t flush_us;
    uint64_t quarantined;
    /* --map */
    char map_field[5][128]; /* tenant, party, layer, stream, time: "" if not mapped */
    struct vmap {
        int header;
        char from[AUDITFS_FIELD_MAX + 1];
        char to[AUDITFS_FIELD_MAX + 1];
    } * vmaps;
    size_t nvmaps;
    /* targets */
    target *t;
    size_t nt;
    /* followed files: their positions go into the trailer of the batch holding their lines */
    fsrc **srcs;
    size_t nsrcs;
    char *cursor; /* journal cursor after the last entry in the batch, or NULL */
    char *cursor_key;
    const char *spool; /* --spool FILE for --rsyslog */
    FILE *ack;         /* where sizes are printed: stdout, or stderr with --rsyslog */
    int json;          /* acknowledgments as JSON lines */
    const char *tlog_dir;      /* --tlog-tiles: export after each commit */
    auditfs_verifier *tlog_key;
    const char *witnesses[64]; /* --witness URL=KEY.pub: asked after every commit */
    size_t nwitnesses;
    /* routing a followed file or the journal: the line being ingested, for the skip test */
    int line_src;            /* index in srcs of the line's file, -1 if none */
    uint64_t line_seq;       /* its routed sequence (bytes of the source before it) */
    const char *line_cursor; /* journal: its cursor */
    uint64_t skipped;        /* lines found already in their ledger after a restart */
    int once;                /* --once: --follow reads to the end of its files and exits */
    /* plain inputs: the batch being committed by the committer thread while the next one is
     * read (commit_async); one at a time, so acknowledgments stay in order */
    struct {
        int running;     /* a committer thread was started and not yet joined */
        pthread_t thread;
        batch b;         /* the batch it commits (swapped out of t[0].b) */
        uint64_t quarantined; /* g->quarantined when it was handed over */
        int rc;          /* its result, read after the join */
        atomic_int done; /* set by the committer when it has finished */
        auditfs_writer *keep; /* the committer's writer, kept between its batches */
        int64_t held_since;   /* mono_us when keep was opened (took the lock) */
    } pipe;
} ingest;

enum { H_TENANT, H_PARTY, H_LAYER, H_STREAM, H_TIME };
static const char *const map_names[] = {"tenant", "party", "layer", "stream", "time"};

struct fsrc {
    char *name; /* as given: the position key */
    int fd;
    uint64_t dev, ino;
    uint64_t off; /* file offset of buf[0] */
    uint8_t *buf;
    size_t len, cap;
    uint64_t lineno;
    auditfs_position pos; /* after the last line added to the pending batch */
    int dirty;            /* pos changed since the last commit */
    char **queue;         /* rotated files to read before NAME itself (after a restart) */
    size_t nqueue, iqueue;
    int from_queue; /* fd is a rotated file from the queue, not NAME */
    /* the file that was NAME when the queue was made: read after the queue (if NAME was
     * rotated meanwhile, from where it was rotated to) */
    int have_next;
    uint64_t next_dev, next_ino;
    /* routing (docs/FORMAT.md section 16): bytes of this source's lineage, across rotations,
     * before buf[0] (seq) and before pos.offset (done_seq); noskip after a lost file */
    uint64_t seq, done_seq;
    int noskip;
    int idx; /* in g->srcs */
    /* the coarse wall-clock time taken before the last check (or open) that found the file
     * read to be NAME: a file that was NAME after it was written at or after it (find_between) */
    struct timespec seen;
    /* NAME's rotated siblings (dev, inode, mtime seconds, nanoseconds) when the file read was
     * opened as NAME: old history, never a file NAME named after it (find_between); the mtime
     * tells a file that reuses a deleted one's inode number from it */
    uint64_t *older;
    size_t nolder;
    /* the files read to their end in this process, newest last (first bytes and length) */
    auditfs_position done[8];
    size_t ndone;
    /* the start marker (docs/FORMAT.md section 16.2): 0 not needed (a position is stored),
     * 1 to be written before the file is read, 2 written for marker_dev/ino, its first
     * marker_head bytes */
    int marker;
    uint64_t marker_dev, marker_ino, marker_head;
    /* a loss to record in the stream auditfs-input (record_gap), -1 for an unknown end */
    int gap;
    uint64_t gap_ino, gap_from;
    int64_t gap_to;
    const char *gap_why;
};

static void marker_clear(const ingest *g, fsrc *f);

/* ---- committing, with retries ---- */

static int
random_hex(char out[33])
{
    uint8_t r[16];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
        return -1;
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", r[i]);
    return 0;
}

/* The trailer of target t's batch: a batch id, and (single target) every input's position,
 * or (routing) how far each input's lines routed to this ledger are in it. */
static int
build_trailer(char **out, ingest *g, const target *t, const char *batch_id, int with_positions)
{
    size_t cap = 64 + (g->cursor ? strlen(g->cursor) + 200 + strlen(g->cursor_key) : 0);
    for (size_t i = 0; i < g->nsrcs; i++)
        cap += 3 * strlen(g->srcs[i]->name) + 200;
    char *s = malloc(cap);
    if (!s)
        return AUDITFS_ENOMEM;
    size_t n = (size_t)snprintf(s, cap, "Auditfs-Batch: %s\n", batch_id);
    for (size_t i = 0; with_positions && i < g->nsrcs; i++) {
        fsrc *f = g->srcs[i];
        if (!f->dirty)
            continue;
        char *line = NULL;
        int err = auditfs_position_format(&line, &f->pos);
        if (err) {
            free(s);
            return err;
        }
        n += (size_t)snprintf(s + n, cap - n, "%s", line);
        free(line);
    }
    /* routing: every line of source i before done_seq that was routed here is in this
     * commit or an earlier one (lines go to their ledger's batch in order, and a batch is
     * committed whole) */
    for (size_t i = 0; !with_positions && g->ledgers_dir && i < g->nsrcs; i++) {
        char enc[3 * AUDITFS_POSKEY_MAX + 1];
        /* never less than what the ledger said before this process started: a restart from
         * a low-water mark behind it has not reached that point again yet, and a smaller
         * value would make the next restart store those lines twice */
        uint64_t v = g->srcs[i]->done_seq;
        if (t->rseq && t->rseq[i] > v)
            v = t->rseq[i];
        auditfs_position_key(enc, g->srcs[i]->name);
        n += (size_t)snprintf(s + n, cap - n, "Auditfs-Routed: %s %llu\n", enc,
                              (unsigned long long)v);
    }
    const char *cur = g->cursor;
    int order = 0;
    /* routing: as for Auditfs-Routed, never behind what the ledger said before */
    if (!with_positions && cur && t->rcursor &&
        auditfs_journal_cursor_cmp(&order, cur, t->rcursor) == 0 && order < 0 &&
        strlen(t->rcursor) <= strlen(cur) + 64)
        cur = t->rcursor;
    if ((with_positions || g->ledgers_dir) && cur)
        n += (size_t)snprintf(s + n, cap - n, "Auditfs-Cursor: %s %s\n", g->cursor_key, cur);
    *out = s;
    return 0;
}

/* I/O and lock failures are retried for as long as it takes; a head that does not verify or an
 * object not found may be a read racing `git repack -ad` (packs replaced under us), so those
 * are retried a few times before they count. */
static int
retryable(int err, int attempts)
{
    if (err == AUDITFS_EIO || err == AUDITFS_EBUSY || err == AUDITFS_ERROR)
        return 1;
    return (err == AUDITFS_EVERIFY || err == AUDITFS_ENOTFOUND) && attempts < 5;
}

/* Has a commit with this batch id reached the ledger (a failure after the ref moved)? */
static int
already_committed(uint64_t *size, const char *path, const char *batch_id)
{
    auditfs_ledger *l = NULL;
    char *v = NULL;
    int found = 0;
    if (auditfs_ledger_open(&l, path) != 0)
        return 0;
    char prefix[64];
    snprintf(prefix, sizeof prefix, "Auditfs-Batch: %s", batch_id);
    /* the id is looked for in the newest 4096 commits: a retry follows its failure within
     * seconds, and other producers commit at most a few batches a second each */
    if (auditfs_ledger_find_trailer(&v, size, l, prefix, 4096) == 0 && v)
        found = v[0] == '\0';
    free(v);
    auditfs_ledger_free(l);
    return found;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP)
        rmdir(path);
    else
        unlink(path);
    return 0;
}

/* Removes a directory tree this process created (a half-initialised ledger), best effort. */
static void
remove_tree(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int
ledger_for(ingest *g, target *t)
{
    struct stat st;
    if (!g->ledgers_dir)
        return 0;
    /* routing: a tenant's ledger is created on first use, with its own origin */
    char origin[AUDITFS_NAME_MAX + 1];
    int n = snprintf(origin, sizeof origin, "%s/%s", auditfs_signer_name(g->key), t->tenant);
    if (n < 0 || (size_t)n >= sizeof origin)
        return auditfs_error_last_code() ? auditfs_error_last_code() : AUDITFS_EINVAL;
    if (stat(t->path, &st) == 0) {
        /* a router killed between creating the ledger and pinning its key: pin it now */
        auditfs_verifier **keys = NULL;
        size_t nk = 0;
        int err = 0;
        if (t->pinned || !g->wo.state)
            return 0;
        if (auditfs_state_keys(&keys, &nk, g->wo.state, origin) == 0 && nk == 0)
            err = cli_init_remember(g->wo.state, t->path, g->key, origin);
        auditfs_state_keys_free(keys, nk);
        t->pinned = !err;
        return err;
    }
    /* created whole or not at all: initialised under a temporary name in DIR, then renamed
     * (a router killed inside init leaves only DIR/.auditfs-init-*, never a DIR/<tenant> that
     * is not a ledger and stops every restart) */
    char tmp[PATH_MAX + 64];
    snprintf(tmp, sizeof tmp, "%s/.auditfs-init-%s-%ld", g->ledgers_dir, t->tenant,
             (long)getpid());
    remove_tree(tmp);
    int err = auditfs_ledger_init(tmp, g->key, origin);
    if (!err && rename(tmp, t->path) != 0) {
        int e = errno;
        remove_tree(tmp);
        if (e == EEXIST || e == ENOTEMPTY)
            return 0; /* another producer created it meanwhile; it pins it, or we do later */
        fprintf(stderr, "auditfs: %s: %s\n", t->path, strerror(e));
        return EXIT_IO;
    }
    if (err) {
        remove_tree(tmp);
        return cli_fail(err, "append --route-by");
    }
    /* like init: pin the key for the new origin and remember its first checkpoint */
    if (!err && g->wo.state)
        err = cli_init_remember(g->wo.state, t->path, g->key, origin);
    if (!err)
        fprintf(stderr, "auditfs: created ledger %s (origin %s) for tenant %s\n", t->path, origin,
                t->tenant);
    return err;
}

/* How long the committer thread keeps one writer (and so the ledger's lock) across batches
 * before it lets other writers in: each open checks the head, the trust state (two fsyncs) and
 * the last leaf, ~12% of the committer's CPU per batch; a writer waiting for the lock waits at
 * most this long plus one batch. */
#define KEEP_LOCK_US 1000000

/*
 * Commits target t's batch: opens a writer (takes the lock), adds every record, sets the
 * trailer, commits, closes (releases the lock). A retryable failure (I/O, git maintenance,
 * a ref lock held by git) is retried with backoff from 50 ms to 2 s, the batch kept in memory;
 * before each retry the recent history is searched for the batch id, so a batch published
 * by a commit that then reported an error is never stored twice. Returns 0 or an exit code.
 * This is commit_target for batch b; with keep (the committer thread), the writer may be one
 * kept from the batch before (it holds the lock: the head is what it published) and is kept
 * afterwards while it has held the lock less than KEEP_LOCK_US.
 */
static int
commit_batch(ingest *g, target *t, batch *b, uint64_t quarantined, int with_positions,
             auditfs_writer **keep)
{
    char id[33];
    char *trailer = NULL;
    int err = 0, delay = 50, attempts = 0;
    uint64_t size = 0;
    int64_t t0 = mono_us();
    if (b->n == 0)
        return 0;
    if (random_hex(id) != 0 || build_trailer(&trailer, g, t, id, with_positions) != 0) {
        fprintf(stderr, "auditfs: out of memory or entropy\n");
        return EXIT_IO;
    }
    for (;; attempts++) {
        auditfs_writer *w = NULL;
        if (attempts > 0 && already_committed(&size, t->path, id)) {
            err = 0;
            break;
        }
        if (keep && *keep && attempts == 0) {
            w = *keep; /* still locked since its last commit: nothing else has written */
            *keep = NULL;
            err = 0;
        } else {
            err = ledger_for(g, t);
            if (!err)
                err = auditfs_writer_open(&w, t->path, g->key, &g->wo);
            if (keep)
                g->pipe.held_since = mono_us();
        }
        /* opening may itself publish our batch: a commit whose ref move failed after the
         * writer's memory recorded it is published by the next writer (trust.c) instead of a
         * second root for that size; so look for our batch id again before adding it */
        if (!err && attempts > 0 && already_committed(&size, t->path, id)) {
            auditfs_writer_free(w);
            break;
        }
        for (size_t i = 0; !err && i < b->n; i++) {
            const rec *r = &b->recs[i];
            const hdrs *h = &b->h[r->hdr];
            auditfs_entry e;
            memset(&e, 0, sizeof e);
            /* per record: constant names copied, not printed */
            if (r->reason_len) {
                memcpy(e.type, "quarantine", sizeof "quarantine");
                memcpy(e.stream, "quarantine", sizeof "quarantine");
                memcpy(e.reason, b->arena + r->reason_off, r->reason_len);
                e.reason[r->reason_len] = '\0';
            } else {
                memcpy(e.type, "log", sizeof "log");
                memcpy(e.stream, h->stream, sizeof e.stream);
                memcpy(e.party, h->party, sizeof e.party);
                memcpy(e.layer, h->layer, sizeof e.layer);
                e.has_event_time = r->has_event;
                e.event_time_us = r->event_us;
            }
            memcpy(e.tenant, h->tenant, sizeof e.tenant);
            e.payload = b->arena + r->off;
            e.payload_len = r->len;
            err = auditfs_writer_add(w, &e, NULL, 0, NULL);
        }
        if (!err)
            err = auditfs_writer_set_trailer(w, trailer);
        if (!err)
            err = auditfs_writer_commit(w, &size);
        if (!err && keep && mono_us() - g->pipe.held_since < KEEP_LOCK_US)
            *keep = w; /* for the next batch */
        else
            auditfs_writer_free(w); /* releases the lock */
        if (!err)
            break;
        if (err == AUDITFS_EBUSY && g->no_wait && attempts == 0) {
            free(trailer);
            return cli_fail(err, "append");
        }
        /* a full disk needs an operator, not a retry loop: it fails now (exit 4) */
        const char *msg = auditfs_error_last();
        if (!retryable(err, attempts) || strstr(msg, "No space left") || strstr(msg, "quota")) {
            free(trailer);
            return cli_fail(err, "commit");
        }
        int64_t spent = mono_us() - t0;
        if (spent > g->retry_us || (g_stop && spent > 10000000)) {
            int rc = cli_fail(err, "commit");
            fprintf(stderr,
                    "auditfs: gave up after %d attempts in %lld s: %zu entries read were "
                    "not committed (a refs/heads/main.lock that stays may be left by a "
                    "killed git: remove it only if no git process runs)\n",
                    attempts + 1, (long long)(spent / 1000000), b->n);
            free(trailer);
            return rc;
        }
        if (attempts % 10 == 0)
            fprintf(stderr,
                    "auditfs: commit of %zu entries to %s failed (%s); retrying, the "
                    "batch is kept\n",
                    b->n, t->path, msg);
        sleep_ms(delay);
        delay = delay * 2 > 2000 ? 2000 : delay * 2;
    }
    free(trailer);
    t->committed = size;
    t->wrote = 1;
    if (with_positions) {
        for (size_t i = 0; i < g->nsrcs; i++) {
            if (g->srcs[i]->dirty)
                marker_clear(g, g->srcs[i]); /* its position is stored now */
            g->srcs[i]->dirty = 0;
        }
        free(g->cursor);
        g->cursor = NULL;
    }
    size_t n = b->n;
    batch_clear(b);
    if (g->json) {
        fprintf(g->ack, "{");
        if (g->ledgers_dir) {
            fprintf(g->ack, "\"tenant\":");
            cli_json_str(g->ack, t->tenant);
            fprintf(g->ack, ",");
        }
        fprintf(g->ack, "\"tree_size\":%llu,\"entries\":%zu,\"quarantined\":%llu}\n",
                (unsigned long long)size, n, (unsigned long long)quarantined);
    } else if (g->ledgers_dir)
        fprintf(g->ack, "%s %llu\n", t->tenant, (unsigned long long)size);
    else
        fprintf(g->ack, "%llu\n", (unsigned long long)size);
    fflush(g->ack);
    /* after the acknowledgment: exports and witnesses never hold back a durable batch */
    if (g->tlog_dir)
        cli_tlog_export(t->path, g->tlog_key, g->tlog_dir);
    if (g->nwitnesses)
        (void)cli_witness_request(stderr, t->path, g->witnesses, g->nwitnesses, 30);
    return 0;
}

/* ---- routing a followed file or the journal: the low-water mark (FORMAT.md 16.1) ---- */

/*
 * Positions cannot be committed atomically across several ledgers. So each tenant ledger's
 * commit says how far the lines routed to it are in it (Auditfs-Routed: a byte sequence
 * number of the source's lineage across rotations; Auditfs-Cursor for the journal), and the
 * router keeps a low-water mark L in DIR/.auditfs-route/, replaced atomically (written,
 * fsynced, renamed, directory fsynced) only after every ledger with lines of a flush has
 * committed: every line before L is in its ledger. A restart reads from L and skips a line
 * routed to ledger i if it starts before what i's newest trailer says: exactly once, with
 * the crash between two ledgers' commits covered by the skip.
 */

/* DIR/.auditfs-route/<name>: "pos-<FNV-1a 64 of the followed name>" or "cursor-<key>" */
static void
route_state_path(char *out, size_t cap, const ingest *g, const fsrc *f)
{
    if (!f) {
        snprintf(out, cap, "%s/.auditfs-route/cursor-%s", g->ledgers_dir, g->cursor_key);
        return;
    }
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *p = (const unsigned char *)f->name; *p; p++)
        h = (h ^ *p) * 0x100000001b3ULL;
    snprintf(out, cap, "%s/.auditfs-route/pos-%016llx", g->ledgers_dir, (unsigned long long)h);
}

/* Replaces path with text durably: a crash leaves the old or the new file, whole. */
static int
write_atomic(const char *path, const char *text)
{
    char tmp[PATH_MAX + 64], dir[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    mkdir(dir, 0755);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    size_t n = strlen(text);
    int ok = fd >= 0 && write(fd, text, n) == (ssize_t)n && fsync(fd) == 0;
    if (fd >= 0)
        ok = close(fd) == 0 && ok;
    ok = ok && rename(tmp, path) == 0;
    if (ok) {
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ok = dfd >= 0 && fsync(dfd) == 0;
        if (dfd >= 0)
            close(dfd);
    }
    if (!ok) {
        fprintf(stderr, "auditfs: %s: %s\n", path, strerror(errno));
        unlink(tmp);
        return EXIT_IO;
    }
    return 0;
}

/* The value after prefix in a low-water file, or NULL (no file, or no such line). */
static int
route_state_read(char **out, const char *path, const char *prefix)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return 0;
    if (fd < 0) {
        fprintf(stderr, "auditfs: %s: %s\n", path, strerror(errno));
        return EXIT_IO;
    }
    char b[16384];
    ssize_t n = read(fd, b, sizeof b);
    close(fd);
    if (n < 0 || (size_t)n == sizeof b) {
        fprintf(stderr, "auditfs: %s: unreadable or larger than %zu bytes\n", path, sizeof b - 1);
        return EXIT_DATA;
    }
    if (auditfs_trailer_text_find(out, b, (size_t)n, prefix) != 0) {
        fprintf(stderr, "auditfs: %s: %s\n", path, auditfs_error_last());
        return EXIT_DATA;
    }
    return 0;
}

/* After every ledger of a flush committed: L moves to where the sources now stand. */
static int
route_save(ingest *g)
{
    char path[PATH_MAX + 64];
    for (size_t i = 0; i < g->nsrcs; i++) {
        fsrc *f = g->srcs[i];
        char *pos = NULL, enc[3 * AUDITFS_POSKEY_MAX + 1];
        if (!f->dirty)
            continue;
        if (auditfs_position_format(&pos, &f->pos) != 0)
            return cli_fail(auditfs_error_last_code(), "append --route-by");
        auditfs_position_key(enc, f->name);
        size_t cap = strlen(pos) + strlen(enc) + 64;
        char *text = malloc(cap);
        if (!text) {
            free(pos);
            return cli_fail(AUDITFS_ENOMEM, "append");
        }
        snprintf(text, cap, "%sAuditfs-Routed: %s %llu\n", pos, enc,
                 (unsigned long long)f->done_seq);
        free(pos);
        route_state_path(path, sizeof path, g, f);
        int rc = write_atomic(path, text);
        free(text);
        if (rc)
            return rc;
        marker_clear(g, f); /* the low-water mark holds its position now */
        f->dirty = 0;
    }
    if (g->cursor) {
        size_t cap = strlen(g->cursor) + 100;
        char *text = malloc(cap);
        if (!text)
            return cli_fail(AUDITFS_ENOMEM, "append");
        snprintf(text, cap, "Auditfs-Cursor: %s %s\n", g->cursor_key, g->cursor);
        route_state_path(path, sizeof path, g, NULL);
        int rc = write_atomic(path, text);
        free(text);
        if (rc)
            return rc;
        free(g->cursor);
        g->cursor = NULL;
    }
    return 0;
}

/* A strict canonical decimal */
static int
parse_dec(uint64_t *v, const char *s)
{
    char *end;
    if (!s || !*s || (s[0] == '0' && s[1]) || *s < '0' || *s > '9')
        return 0;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || *end)
        return 0;
    *v = x;
    return 1;
}

/* Where target t's trailers say its routed lines stop (read once, on its first line). */
static int
route_load(ingest *g, target *t)
{
    struct stat st;
    auditfs_ledger *l = NULL;
    int rc = 0;
    t->loaded = 1;
    if (g->nsrcs && !(t->rseq = calloc(g->nsrcs, sizeof *t->rseq)))
        return cli_fail(AUDITFS_ENOMEM, "append");
    if (stat(t->path, &st) != 0)
        return 0; /* created on first use: nothing in it yet */
    /* a writer killed after signing a commit and before publishing it left it in the
     * writer's memory; opening a writer publishes it (trust.c), and its trailer counts */
    auditfs_writer *w = NULL;
    int err = ledger_for(g, t);
    if (!err)
        err = auditfs_writer_open(&w, t->path, g->key, &g->wo);
    auditfs_writer_free(w);
    if (err)
        return cli_fail(err, "append --route-by");
    if (auditfs_ledger_open(&l, t->path) != 0)
        return cli_fail(auditfs_error_last_code(), "append --route-by");
    for (size_t i = 0; !rc && i < g->nsrcs; i++) {
        char enc[3 * AUDITFS_POSKEY_MAX + 1], prefix[3 * AUDITFS_POSKEY_MAX + 32];
        char *v = NULL;
        auditfs_position_key(enc, g->srcs[i]->name);
        snprintf(prefix, sizeof prefix, "Auditfs-Routed: %s ", enc);
        if (auditfs_ledger_find_trailer(&v, NULL, l, prefix, 0) != 0)
            rc = cli_fail(auditfs_error_last_code(), "append --route-by");
        else if (v && !parse_dec(&t->rseq[i], v)) {
            fprintf(stderr, "auditfs: %s: malformed trailer '%s%.40s'\n", t->path, prefix, v);
            rc = EXIT_DATA;
        }
        free(v);
    }
    if (!rc && g->line_cursor) {
        char prefix[128];
        snprintf(prefix, sizeof prefix, "Auditfs-Cursor: %s ", g->cursor_key);
        if (auditfs_ledger_find_trailer(&t->rcursor, NULL, l, prefix, 0) != 0)
            rc = cli_fail(auditfs_error_last_code(), "append --route-by");
    }
    auditfs_ledger_free(l);
    return rc;
}

/* 1 if the line being ingested, routed to t, is already in t (committed before a crash that
 * came before L moved); 0 if not; negative: an exit code (negated). */
static int
route_skip(ingest *g, target *t)
{
    if (!g->ledgers_dir || (g->line_src < 0 && !g->line_cursor))
        return 0;
    if (!t->loaded) {
        int rc = route_load(g, t);
        if (rc)
            return -rc;
    }
    if (g->line_src >= 0) {
        const fsrc *f = g->srcs[g->line_src];
        return !f->noskip && g->line_seq < t->rseq[g->line_src];
    }
    int order = 0;
    if (!t->rcursor)
        return 0;
    if (auditfs_journal_cursor_cmp(&order, g->line_cursor, t->rcursor) != 0) {
        fprintf(stderr, "auditfs: %s: %s (stored %.60s); not skipping\n", t->path,
                auditfs_error_last(), t->rcursor);
        free(t->rcursor);
        t->rcursor = NULL;
        return 0;
    }
    return order <= 0;
}

static int
commit_target(ingest *g, target *t, int with_positions)
{
    return commit_batch(g, t, &t->b, g->quarantined, with_positions, NULL);
}

/*
 * Pipelining plain inputs (issue 13): the committer thread commits a full batch (opens the
 * writer, hashes, encodes, writes the pack, fsyncs, publishes, acknowledges) while this thread
 * reads, validates and batches the next lines, so the commit's fsyncs and the reading overlap on
 * the two cores. At most one commit is in flight, and it is joined before any other commit
 * starts (the next full batch, the last one, a refused line's, a flush by age), so
 * acknowledgments are printed in order, each after its batch's fsyncs, exactly as without the
 * thread. Only for one target without stored positions (no --follow, --journal, --rsyslog,
 * --route-by): the committer then touches nothing this thread uses but its own batch, the
 * acknowledgment stream (only it writes there meanwhile) and the target's result fields (read
 * after the join). The committer keeps its writer, and so the lock, from one batch to the next
 * for up to KEEP_LOCK_US; any other commit frees it first (commit_all).
 */
static void *
committer_main(void *arg)
{
    ingest *g = arg;
    g->pipe.rc = commit_batch(g, &g->t[0], &g->pipe.b, g->pipe.quarantined, 0, &g->pipe.keep);
    atomic_store(&g->pipe.done, 1);
    return NULL;
}

/* Joins the commit in flight, if any: its exit code (0 when it committed); a failure also
 * marks the run's commit as failed, as a synchronous one would. */
static int
pipe_wait(ingest *g)
{
    if (!g->pipe.running)
        return 0;
    pthread_join(g->pipe.thread, NULL);
    g->pipe.running = 0;
    if (g->pipe.rc)
        g->commit_failed = 1;
    return g->pipe.rc;
}

/* 1 if the commit in flight has failed (the reader then stops early, nothing it read after the
 * failed batch is committed). */
static int
pipe_failed(ingest *g)
{
    return g->pipe.running && atomic_load(&g->pipe.done) && g->pipe.rc != 0;
}

static int commit_all(ingest *g);

/* Hands target 0's full batch to the committer thread (after joining the one before), or
 * commits synchronously where pipelining does not apply. */
static int
commit_async(ingest *g)
{
    int rc;
    if (g->nt != 1 || g->ledgers_dir || g->nsrcs || g->cursor || g->rsyslog)
        return commit_all(g);
    if ((rc = pipe_wait(g)) != 0)
        return rc;
    if (g->t[0].b.n == 0)
        return 0;
    batch tmp = g->pipe.b;
    g->pipe.b = g->t[0].b;
    g->t[0].b = tmp;
    batch_clear(&g->t[0].b);
    g->pipe.quarantined = g->quarantined;
    g->pipe.rc = 0;
    atomic_store(&g->pipe.done, 0);
    /* signals stay with this thread (poll on the signal pipe); the committer (and the
     * compression thread it starts) block them */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int cr = pthread_create(&g->pipe.thread, NULL, committer_main, g);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (cr == 0) {
        g->pipe.running = 1;
        return 0;
    }
    /* no thread to be had: commit here */
    rc = commit_batch(g, &g->t[0], &g->pipe.b, g->pipe.quarantined, 0, NULL);
    if (rc)
        g->commit_failed = 1;
    return rc;
}

/* Commits every target's batch; positions go with the single target's batch, or (routing)
 * into the low-water mark once every target has committed. */
static int
commit_all(ingest *g)
{
    int prc = pipe_wait(g);
    /* the committer's writer lets the lock go before any other commit opens one */
    auditfs_writer_free(g->pipe.keep);
    g->pipe.keep = NULL;
    if (prc)
        return prc;
    for (size_t i = 0; i < g->nt; i++) {
        int rc = commit_target(g, &g->t[i], g->ledgers_dir == NULL);
        if (rc) {
            g->commit_failed = 1;
            return rc;
        }
    }
    if (g->ledgers_dir) {
        int rc = route_save(g);
        if (rc) {
            g->commit_failed = 1;
            return rc;
        }
    }
    return 0;
}

static size_t
pending_bytes(const ingest *g)
{
    size_t n = 0;
    for (size_t i = 0; i < g->nt; i++)
        n += g->t[i].b.bytes;
    return n;
}

static int64_t
oldest_pending(const ingest *g)
{
    int64_t o = 0;
    for (size_t i = 0; i < g->nt; i++)
        if (g->t[i].b.started && (!o || g->t[i].b.started < o))
            o = g->t[i].b.started;
    return o;
}

static target *
target_for(ingest *g, const char *tenant)
{
    if (!g->ledgers_dir)
        return &g->t[0];
    for (size_t i = 0; i < g->nt; i++)
        if (strcmp(g->t[i].tenant, tenant) == 0)
            return &g->t[i];
    target *t = realloc(g->t, (g->nt + 1) * sizeof *t);
    if (!t)
        return NULL;
    g->t = t;
    t = &g->t[g->nt];
    memset(t, 0, sizeof *t);
    snprintf(t->tenant, sizeof t->tenant, "%s", tenant);
    size_t n = strlen(g->ledgers_dir) + strlen(tenant) + 2;
    t->path = malloc(n);
    if (!t->path)
        return NULL;
    snprintf(t->path, n, "%s/%s", g->ledgers_dir, tenant);
    g->nt++;
    return t;
}

/* ---- one line: validate, map headers, add to its target's batch ---- */

/* Event times: RFC 3339, or seconds / milliseconds / microseconds since the epoch. */
static int
parse_event_time(int64_t *us, const char *v)
{
    if (auditfs_parse_time(us, v))
        return 1;
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || d < 0 || d > 9.3e15)
        return 0;
    if (d >= 1e14)
        *us = (int64_t)d; /* microseconds */
    else if (d >= 1e11)
        *us = (int64_t)(d * 1000.0); /* milliseconds */
    else
        *us = (int64_t)(d * 1e6 + 0.5);
    return 1;
}

/* Fills h (and the event time) for payload p from --map; a problem text if a value is bad. */
static const char *
map_headers(ingest *g, hdrs *h, int *has_event, int64_t *event_us, const uint8_t *p, size_t n,
            char *why, size_t whycap)
{
    *h = g->defaults;
    *has_event = 0;
    for (int k = 0; k < 5; k++) {
        char v[AUDITFS_FIELD_MAX + 1];
        if (!g->map_field[k][0])
            continue;
        int r = auditfs_json_field(v, p, n, g->map_field[k]);
        if (r < 0) {
            snprintf(why, whycap, "--map %s=%s: %s", map_names[k], g->map_field[k],
                     auditfs_error_last());
            return why;
        }
        if (r == 0)
            continue; /* absent: the default stays */
        for (size_t i = 0; i < g->nvmaps; i++) {
            if (g->vmaps[i].header == k && strcmp(g->vmaps[i].from, v) == 0) {
                snprintf(v, sizeof v, "%s", g->vmaps[i].to);
                break;
            }
        }
        int ok = 0;
        switch (k) {
        case H_TENANT:
            ok = auditfs_valid_stream(v);
            if (ok)
                memcpy(h->tenant, v, strlen(v) + 1); /* validated: fits */
            break;
        case H_STREAM:
            ok = auditfs_valid_stream(v) && strcmp(v, "quarantine") != 0;
            if (ok)
                memcpy(h->stream, v, strlen(v) + 1); /* validated: fits */
            break;
        case H_PARTY:
            ok = auditfs_valid_party(v);
            if (ok)
                memcpy(h->party, v, strlen(v) + 1); /* validated: fits */
            break;
        case H_LAYER:
            ok = auditfs_valid_layer(v);
            if (ok)
                memcpy(h->layer, v, strlen(v) + 1); /* validated: fits */
            break;
        case H_TIME:
            ok = parse_event_time(event_us, v);
            *has_event = ok;
            break;
        }
        if (!ok) {
            /* the value came from data: escape it before printing */
            char shown[64];
            size_t j = 0;
            for (size_t i = 0; v[i] && j + 5 < sizeof shown; i++) {
                unsigned char c = (unsigned char)v[i];
                if (c < 0x20 || c == 0x7f || c >= 0x80)
                    j += (size_t)snprintf(shown + j, sizeof shown - j, "\\x%02x", c);
                else
                    shown[j++] = (char)c;
            }
            shown[j] = '\0';
            snprintf(why, whycap, "%s '%s%s' from field '%s' is not valid", map_names[k], shown,
                     strlen(v) > j ? "..." : "", g->map_field[k]);
            return why;
        }
    }
    if (!h->stream[0]) {
        snprintf(why, whycap, "no stream: field '%s' is absent and no --stream default",
                 g->map_field[H_STREAM]);
        return why;
    }
    if (g->ledgers_dir && !h->tenant[0]) {
        snprintf(why, whycap, "no tenant to route by (field '%s' absent, no --tenant)",
                 g->map_field[H_TENANT][0] ? g->map_field[H_TENANT] : "-");
        return why;
    }
    return NULL;
}

/* Prints a name that came from the command line or the file system with controls escaped. */
static void
print_name(FILE *f, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f)
            fprintf(f, "\\x%02x", c);
        else
            fputc(c, f);
    }
}

/*
 * One input line (without its newline). Returns 0, or an exit code after committing what came
 * before (a refused line: EXIT_DATA).
 */
static int
ingest_line(ingest *g, const char *fname, uint64_t lineno, const uint8_t *p, size_t n,
            const char *problem)
{
    char why[AUDITFS_PROBLEM_MAX], mwhy[512];
    hdrs h;
    int has_event = 0;
    int64_t event_us = 0;
    if (!problem)
        problem = auditfs_payload_problem(why, p, n, g->max_record);
    if (!problem)
        problem = map_headers(g, &h, &has_event, &event_us, p, n, mwhy, sizeof mwhy);
    if (problem) {
        if ((!g->quarantine && !g->rsyslog) || n > AUDITFS_PAYLOAD_MAX_HARD) {
            int rc = commit_all(g);
            print_name(stderr, fname);
            fprintf(stderr, ":%llu: %s\n", (unsigned long long)lineno, problem);
            return rc ? rc : EXIT_DATA;
        }
        char reason[AUDITFS_REASON_MAX + 1];
        snprintf(reason, sizeof reason, "%.100s:%llu: %.80s", fname, (unsigned long long)lineno,
                 problem);
        if (!auditfs_valid_text((const uint8_t *)reason, strlen(reason), 0))
            snprintf(reason, sizeof reason, "line %llu: %.150s", (unsigned long long)lineno,
                     problem);
        if (!auditfs_valid_text((const uint8_t *)reason, strlen(reason), 0))
            snprintf(reason, sizeof reason, "line %llu: refused", (unsigned long long)lineno);
        h = g->defaults;
        if (!auditfs_valid_stream(h.tenant))
            h.tenant[0] = '\0';
        target *t = target_for(g, g->ledgers_dir ? (h.tenant[0] ? h.tenant : "quarantine") : "");
        if (!t)
            return cli_fail(AUDITFS_ENOMEM, "append");
        int skip = route_skip(g, t);
        if (skip)
            return skip < 0 ? -skip : (g->skipped++, 0);
        if (batch_add(&t->b, &h, p, n, reason, 0, 0) != 0)
            return cli_fail(AUDITFS_ENOMEM, "append");
        g->quarantined++;
        return 0;
    }
    target *t = target_for(g, h.tenant);
    if (!t)
        return cli_fail(AUDITFS_ENOMEM, "append");
    int skip = route_skip(g, t);
    if (skip)
        return skip < 0 ? -skip : (g->skipped++, 0);
    if (batch_add(&t->b, &h, p, n, NULL, has_event, event_us) != 0)
        return cli_fail(AUDITFS_ENOMEM, "append");
    return 0;
}

static int
maybe_flush(ingest *g, int force)
{
    int64_t o = oldest_pending(g);
    if (force || pending_bytes(g) >= g->batch_bytes || (o && mono_us() - o >= g->flush_us))
        return commit_all(g);
    return 0;
}

/* ---- plain inputs: standard input or files, read to their end ---- */

static int
plain_input(ingest *g, int fd, const char *fname)
{
    size_t cap = g->max_record + 2 > 65536 ? g->max_record + 2 : 65536;
    cap = cap < AUDITFS_PAYLOAD_MAX_HARD + 2 ? AUDITFS_PAYLOAD_MAX_HARD + 2 : cap;
    uint8_t *buf = malloc(cap);
    size_t len = 0;
    uint64_t lineno = 0;
    int rc = 0;
    if (!buf)
        return cli_fail(AUDITFS_ENOMEM, "append");
    while (!g_stop) {
        int timeout = -1;
        int64_t o = oldest_pending(g);
        if (o) {
            int64_t left = o + g->flush_us - mono_us();
            timeout = left <= 0 ? 0 : (int)((left + 999) / 1000);
        }
        struct pollfd pfd[2] = {{.fd = fd, .events = POLLIN},
                                {.fd = g_sigpipe[0], .events = POLLIN}};
        int pr = poll(pfd, 2, timeout);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pfd[1].revents) {
            drain_sigpipe();
            continue;
        }
        if (pr == 0) {
            if ((rc = maybe_flush(g, 1)) != 0)
                break;
            continue;
        }
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            fprintf(stderr, "auditfs: ");
            print_name(stderr, fname);
            fprintf(stderr, ": %s\n", strerror(errno));
            rc = EXIT_IO;
            break;
        }
        if (r == 0) {
            if (len > 0)
                rc = ingest_line(g, fname, ++lineno, buf, len, "unterminated last line");
            len = 0;
            break;
        }
        len += (size_t)r;
        size_t start = 0;
        for (;;) {
            uint8_t *nl = memchr(buf + start, '\n', len - start);
            if (!nl)
                break;
            size_t n = (size_t)(nl - (buf + start));
            if ((rc = ingest_line(g, fname, ++lineno, buf + start, n, NULL)) != 0)
                goto out;
            start += n + 1;
            /* per line only the size bound (no clock read per record); the age of the batch
             * is checked once per read below, and by poll's timeout */
            if (pending_bytes(g) >= g->batch_bytes && (rc = commit_async(g)) != 0)
                goto out;
        }
        if (pipe_failed(g)) {
            rc = pipe_wait(g);
            break;
        }
        memmove(buf, buf + start, len - start);
        len -= start;
        if (len == cap) {
            rc =
                ingest_line(g, fname, ++lineno, buf, len, "line longer than the hard record limit");
            if (!rc)
                rc = EXIT_DATA;
            break;
        }
        if ((rc = maybe_flush(g, 0)) != 0)
            break;
    }
out:
    if (g_stop && len > 0 && rc == 0) {
        fprintf(stderr, "auditfs: stopped by a signal: %zu bytes of an unterminated line of ", len);
        print_name(stderr, fname);
        fprintf(stderr, " were not stored\n");
    }
    free(buf);
    return rc;
}

/* ---- rsyslog omprog: confirmMessages with transactions ---- */

/*
 * The protocol (rsyslog omprog, confirmMessages="on" useTransactions="on"): we write "OK" once
 * ready; rsyslog writes "BEGIN TRANSACTION", messages, "COMMIT TRANSACTION". Each message is
 * answered "DEFER_COMMIT" (kept in the batch), the commit mark "OK" once the batch is durable.
 * A message outside a transaction is committed alone and answered "OK". Anything else we write
 * is an error to rsyslog, which then retries the transaction: so a batch is either durable and
 * confirmed, durable and unconfirmed (killed between the two: rsyslog sends it again, the only
 * source of duplicates), or not durable and sent again.
 */
/*
 * The spool: rsyslog 8.2302 (Debian 12) does not resend messages it had sent in a transaction
 * and we had answered DEFER_COMMIT when we die before the commit mark (rsyslog issue #2420:
 * only the message in flight is retried). So each deferred message is also written to a spool
 * file before its answer, followed by an "answered" record after it: "B\n" begins a
 * transaction, "M<len>:<bytes>\n" is a message, "A\n" says it was answered, "C\n" that the
 * commit mark arrived (rsyslog then resends the whole transaction if we fail). The spool is
 * emptied once the batch is durable. At start, answered messages of a transaction without
 * "C" are committed: rsyslog will never send them again. No fsync: the spool only has to
 * survive our death, not rsyslog's (whose in-memory queue a power loss would take anyway).
 */
static int
spool_put(int fd, char type, const uint8_t *p, size_t n)
{
    char hdr[32];
    int hl = type == 'M' ? snprintf(hdr, sizeof hdr, "M%zu:", n)
                         : snprintf(hdr, sizeof hdr, "%c\n", type);
    struct iovec iov[3] = {{hdr, (size_t)hl}, {(void *)p, n}, {"\n", 1}};
    int cnt = type == 'M' ? 3 : 1;
    size_t want = (size_t)hl + (type == 'M' ? n + 1 : 0);
    ssize_t w = writev(fd, iov, cnt);
    return w == (ssize_t)want ? 0 : -1;
}

typedef struct spool_ctx {
    ingest *g;
    uint64_t n;
    int rc;
} spool_ctx;

static int
spool_msg(const uint8_t *msg, size_t len, void *arg)
{
    spool_ctx *c = arg;
    c->rc = ingest_line(c->g, "<rsyslog spool>", ++c->n, msg, len, NULL);
    return c->rc ? -1 : 0;
}

/* Commits the answered messages of an interrupted transaction found in the spool. */
static int
spool_recover(ingest *g, int fd, uint64_t *recovered)
{
    struct stat st;
    spool_ctx c = {g, 0, 0};
    int committed = 0, rc = 0;
    *recovered = 0;
    if (fstat(fd, &st) != 0 || st.st_size == 0)
        return 0;
    if ((uint64_t)st.st_size > (uint64_t)2048 * AUDITFS_PAYLOAD_MAX_HARD)
        return 0; /* not ours to trust: larger than any transaction we write */
    size_t n = (size_t)st.st_size;
    uint8_t *b = malloc(n);
    if (!b || pread(fd, b, n, 0) != (ssize_t)n) {
        free(b);
        return cli_fail(AUDITFS_EIO, "append --rsyslog: spool");
    }
    int r = auditfs_spool_scan(b, n, &committed, spool_msg, &c);
    free(b);
    if (r < 0)
        return c.rc;
    if (committed) {
        /* rsyslog resends the whole transaction: what we read from the spool is dropped */
        for (size_t k = 0; k < g->nt; k++)
            batch_clear(&g->t[k].b);
    } else {
        *recovered = (uint64_t)r;
    }
    if (*recovered)
        rc = commit_all(g);
    if (rc == 0 && ftruncate(fd, 0) != 0)
        rc = cli_fail(AUDITFS_EIO, "append --rsyslog: spool");
    return rc;
}

/* Commits what the spools of dead instances (files not locked) hold that rsyslog will not
 * resend, and removes them. Run at start and before each transaction: rsyslog may run
 * several instances, and one may die while another lives on. */
static int
recover_dead_spools(ingest *g, const char *sdir, const char *own, uint64_t *recovered)
{
    DIR *d = opendir(sdir);
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && d && (de = readdir(d)) != NULL) {
        char other[PATH_MAX + 300];
        uint64_t got = 0;
        if (de->d_name[0] == '.')
            continue;
        snprintf(other, sizeof other, "%s/%s", sdir, de->d_name);
        if (strcmp(other, own) == 0)
            continue;
        int ofd = open(other, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
        if (ofd < 0)
            continue;
        if (flock(ofd, LOCK_EX | LOCK_NB) == 0) {
            rc = spool_recover(g, ofd, &got);
            if (rc == 0)
                unlink(other);
            *recovered += got;
            if (got)
                fprintf(stderr,
                        "auditfs: committed %llu message(s) of a transaction interrupted "
                        "before its commit mark (rsyslog does not resend those: rsyslog "
                        "issue #2420)\n",
                        (unsigned long long)got);
        }
        close(ofd);
    }
    if (d)
        closedir(d);
    return rc;
}

static int
rsyslog_input(ingest *g)
{
    size_t cap = AUDITFS_PAYLOAD_MAX_HARD + 2;
    uint8_t *buf = malloc(cap);
    size_t len = 0;
    uint64_t lineno = 0, recovered = 0;
    int rc = 0, in_tx = 0, sp = -1;
    char sdir[PATH_MAX], spath[PATH_MAX + 64];
    if (!buf)
        return cli_fail(AUDITFS_ENOMEM, "append");
    /* one spool per running instance (rsyslog may run several, and starts a new one before
     * it has reaped the old): DIR/<pid>, flock'ed while its owner lives */
    snprintf(sdir, sizeof sdir, "%s", g->spool ? g->spool : "");
    if (!g->spool && g->ledgers_dir)
        snprintf(sdir, sizeof sdir, "%s/.auditfs-rsyslog.spool", g->ledgers_dir);
    else if (!g->spool)
        snprintf(sdir, sizeof sdir, "%s/auditfs-rsyslog.spool", g->ledger);
    if (mkdir(sdir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "auditfs: %s: %s\n", sdir, strerror(errno));
        printf("ERROR spool\n");
        fflush(stdout);
        free(buf);
        return EXIT_IO;
    }
    /* pid plus a random part: a reused pid never truncates a dead instance's spool */
    char rnd[33];
    if (random_hex(rnd) != 0)
        snprintf(rnd, sizeof rnd, "%lld", (long long)mono_us());
    snprintf(spath, sizeof spath, "%s/%ld-%.8s", sdir, (long)getpid(), rnd);
    sp = open(spath, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_APPEND, 0600);
    if (sp < 0 || flock(sp, LOCK_EX | LOCK_NB) != 0) {
        fprintf(stderr, "auditfs: %s: %s\n", spath, strerror(errno));
        printf("ERROR spool\n");
        fflush(stdout);
        if (sp >= 0)
            close(sp);
        free(buf);
        return EXIT_IO;
    }
    rc = recover_dead_spools(g, sdir, spath, &recovered);
    if (rc != 0) {
        printf("ERROR recovery\n");
        fflush(stdout);
        close(sp);
        unlink(spath);
        free(buf);
        return rc;
    }
    printf("OK\n");
    fflush(stdout);
    while (!g_stop) {
        ssize_t r = read(0, buf + len, cap - len);
        if (r < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            rc = EXIT_IO;
            break;
        }
        if (r == 0)
            break;
        len += (size_t)r;
        size_t start = 0;
        for (;;) {
            uint8_t *nl = memchr(buf + start, '\n', len - start);
            if (!nl)
                break;
            size_t n = (size_t)(nl - (buf + start));
            const char *reply;
            lineno++;
            int spool_err = 0, answered = 0;
            if (n == 17 && !memcmp(buf + start, "BEGIN TRANSACTION", 17)) {
                if ((rc = recover_dead_spools(g, sdir, spath, &recovered)) != 0)
                    goto out;
                in_tx = 1;
                spool_err = ftruncate(sp, 0) != 0 || spool_put(sp, 'B', NULL, 0) != 0;
                reply = "OK";
            } else if (n == 18 && !memcmp(buf + start, "COMMIT TRANSACTION", 18)) {
                in_tx = 0;
                if (spool_put(sp, 'C', NULL, 0) != 0) {
                    rc = cli_fail(AUDITFS_EIO, "append --rsyslog: spool");
                    goto out;
                }
                if ((rc = commit_all(g)) != 0)
                    goto out;
                spool_err = ftruncate(sp, 0) != 0;
                reply = "OK";
            } else {
                if (in_tx && spool_put(sp, 'M', buf + start, n) != 0) {
                    rc = cli_fail(AUDITFS_EIO, "append --rsyslog: spool");
                    goto out;
                }
                if ((rc = ingest_line(g, "<rsyslog>", lineno, buf + start, n, NULL)) != 0)
                    goto out;
                if (!in_tx && (rc = commit_all(g)) != 0)
                    goto out;
                reply = in_tx ? "DEFER_COMMIT" : "OK";
                answered = in_tx;
            }
            /* "answered" is recorded before the answer: a kill between the two makes rsyslog
             * resend that one message (a duplicate), never lose it */
            if (spool_err || (answered && spool_put(sp, 'A', NULL, 0) != 0)) {
                rc = cli_fail(AUDITFS_EIO, "append --rsyslog: spool");
                goto out;
            }
            printf("%s\n", reply);
            fflush(stdout);
            start += n + 1;
        }
        memmove(buf, buf + start, len - start);
        len -= start;
        if (len == cap) {
            rc = EXIT_DATA;
            fprintf(stderr, "auditfs: <rsyslog>:%llu: message longer than the hard record limit\n",
                    (unsigned long long)lineno + 1);
            break;
        }
    }
out:
    /* a transaction rsyslog has not committed is not confirmed: it stays in the spool (the
     * next start commits what rsyslog will not resend) and is not stored now */
    if (in_tx)
        for (size_t i = 0; i < g->nt; i++)
            batch_clear(&g->t[i].b);
    /* an interrupted transaction stays in the spool for the next instance; else it goes */
    if (!in_tx)
        unlink(spath);
    close(sp);
    free(buf);
    return rc;
}

/* ---- followed files ---- */

static char *
dir_of(const char *path, const char **base)
{
    const char *slash = strrchr(path, '/');
    *base = slash ? slash + 1 : path;
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

/* A rotated sibling of NAME: NAME.<something>, plain, .gz or .zst (other compressions are
 * not read: they are reported nowhere, as before). */
typedef struct cand {
    char *path;
    struct timespec mtime;
    struct timespec btime; /* birth (statx), if have_btime */
    int have_btime;
    uint64_t dev, ino;
} cand;

static int
cmp_cand(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->mtime.tv_sec != y->mtime.tv_sec)
        return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
    if (x->mtime.tv_nsec != y->mtime.tv_nsec)
        return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
    return strcmp(x->path, y->path);
}

static void
cands_free(cand *c, size_t nc)
{
    for (size_t i = 0; i < nc; i++)
        free(c[i].path);
    free(c);
}

/* NAME's rotated siblings (regular files NAME.*, plain, .gz or .zst) except the file NAME now
 * names, oldest modification first (logrotate keeps the original's time on what it compresses,
 * so a compressed file sorts where its content was written). */
static int
list_siblings(cand **out, size_t *nout, const fsrc *f)
{
    const char *base;
    char *dir = dir_of(f->name, &base);
    DIR *d = dir ? opendir(dir) : NULL;
    cand *c = NULL;
    size_t nc = 0;
    struct stat cur;
    int have_cur = stat(f->name, &cur) == 0;
    *out = NULL;
    *nout = 0;
    if (!d) {
        free(dir);
        return 0;
    }
    struct dirent *de;
    size_t bl = strlen(base);
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, base, bl) != 0 || de->d_name[bl] != '.' ||
            auditfs_rotated_kind(de->d_name) == AUDITFS_ROTATED_OTHER)
            continue;
        size_t pl = strlen(dir) + strlen(de->d_name) + 2;
        char *p = malloc(pl);
        struct statx sx;
        if (!p)
            break;
        snprintf(p, pl, "%s/%s", dir, de->d_name);
        if (statx(AT_FDCWD, p, 0, STATX_BASIC_STATS | STATX_BTIME, &sx) != 0 ||
            !S_ISREG(sx.stx_mode) ||
            (have_cur && sx.stx_ino == (uint64_t)cur.st_ino &&
             makedev(sx.stx_dev_major, sx.stx_dev_minor) == cur.st_dev)) {
            free(p);
            continue;
        }
        cand *t = realloc(c, (nc + 1) * sizeof *c);
        if (!t) {
            free(p);
            break;
        }
        c = t;
        memset(&c[nc], 0, sizeof *c);
        c[nc].path = p;
        c[nc].mtime.tv_sec = sx.stx_mtime.tv_sec;
        c[nc].mtime.tv_nsec = sx.stx_mtime.tv_nsec;
        c[nc].have_btime = (sx.stx_mask & STATX_BTIME) != 0;
        c[nc].btime.tv_sec = sx.stx_btime.tv_sec;
        c[nc].btime.tv_nsec = sx.stx_btime.tv_nsec;
        c[nc].dev = (uint64_t)makedev(sx.stx_dev_major, sx.stx_dev_minor);
        c[nc].ino = sx.stx_ino;
        nc++;
    }
    closedir(d);
    free(dir);
    if (nc)
        qsort(c, nc, sizeof *c, cmp_cand); /* c is NULL when no sibling was found */
    *out = c;
    *nout = nc;
    return 0;
}

/* Remembers which rotated siblings exist as NAME is opened (they were NAME before it). */
static void
note_older(fsrc *f)
{
    cand *c = NULL;
    size_t nc = 0;
    list_siblings(&c, &nc, f);
    uint64_t *o = nc ? calloc(4 * nc, sizeof *o) : NULL;
    free(f->older);
    f->older = o;
    f->nolder = o ? nc : 0;
    for (size_t i = 0; i < f->nolder; i++) {
        o[4 * i] = c[i].dev;
        o[4 * i + 1] = c[i].ino;
        o[4 * i + 2] = (uint64_t)c[i].mtime.tv_sec;
        o[4 * i + 3] = (uint64_t)c[i].mtime.tv_nsec;
    }
    cands_free(c, nc);
}

/* Opens a rotated sibling for reading with pread: the file, or its content decompressed. */
static int
sib_open(const char *path)
{
    int fd = -1, complete = 0;
    if (auditfs_rotated_open(&fd, &complete, path, AUDITFS_ROTATED_MAX) != 0) {
        fprintf(stderr, "auditfs: %s\n", auditfs_error_last());
        return -1;
    }
    if (!complete) {
        fprintf(stderr, "auditfs: %s: more than %llu bytes decompressed: not read\n", path,
                (unsigned long long)AUDITFS_ROTATED_MAX);
        close(fd);
        return -1;
    }
    return fd;
}

/* Does the sibling path hold what p describes (auditfs_position_matches)? A compressed one is
 * decompressed only as far as p's head unless that matches; it is never the same inode. */
static int
sib_matches(const auditfs_position *p, const char *path, int *same)
{
    int fd = -1, complete = 0, r = 0;
    if (same)
        *same = 0;
    if (auditfs_rotated_kind(path) == AUDITFS_ROTATED_PLAIN) {
        if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
            return 0;
        r = auditfs_position_matches(p, fd, same);
        close(fd);
        return r;
    }
    auditfs_position head = *p;
    head.offset = head.head_len;
    if (auditfs_rotated_open(&fd, &complete, path, p->head_len) != 0)
        return 0;
    r = auditfs_position_matches(&head, fd, NULL);
    close(fd);
    if (!r || p->offset <= p->head_len)
        return r;
    if ((fd = sib_open(path)) < 0)
        return 0;
    r = auditfs_position_matches(p, fd, NULL);
    close(fd);
    return r;
}

/* The identity of a sibling's first min(size, 4096) bytes (offset set to that length). */
static int
sib_head(auditfs_position *p, const char *path)
{
    int fd = -1, complete = 0;
    struct stat st;
    memset(p, 0, sizeof *p);
    if (auditfs_rotated_open(&fd, &complete, path, AUDITFS_POSHEAD_MAX) != 0)
        return -1;
    int ok = fstat(fd, &st) == 0 &&
             auditfs_position_identify(p, fd,
                                       (uint64_t)st.st_size < AUDITFS_POSHEAD_MAX
                                           ? (uint64_t)st.st_size
                                           : AUDITFS_POSHEAD_MAX) == 0;
    close(fd);
    return ok ? 0 : -1;
}

static void
queue_free(fsrc *f)
{
    for (size_t i = 0; i < f->nqueue; i++)
        free(f->queue[i]);
    free(f->queue);
    f->queue = NULL;
    f->nqueue = f->iqueue = 0;
}

/*
 * After a restart whose saved file is no longer NAME: finds it among NAME's rotated siblings
 * (NAME.*, plain, .gz or .zst) by its head hash (same inode preferred: a copytruncate or
 * compressed copy has another; a position of no bytes at all identifies only by its inode),
 * and queues it, read from the saved offset, then every sibling modified after it, oldest
 * first, except a second copy of one already queued (NAME.1 and NAME.1.gz); NAME itself comes
 * last, from its start. Returns 1 if found.
 */
static int
find_rotated(fsrc *f, const auditfs_position *saved)
{
    cand *c = NULL;
    size_t nc = 0;
    int found = -1, found_same = 0;
    struct stat cur;
    int have_cur = stat(f->name, &cur) == 0;
    f->have_next = have_cur;
    f->next_dev = have_cur ? (uint64_t)cur.st_dev : 0;
    f->next_ino = have_cur ? (uint64_t)cur.st_ino : 0;
    list_siblings(&c, &nc, f);
    for (size_t i = 0; i < nc; i++) {
        int same = 0;
        if (sib_matches(saved, c[i].path, &same) && (same || saved->head_len > 0) &&
            (found < 0 || (same && !found_same))) {
            found = (int)i;
            found_same = same;
        }
    }
    queue_free(f);
    if (found >= 0) {
        auditfs_position *heads = calloc(nc, sizeof *heads);
        f->queue = calloc(nc, sizeof *f->queue);
        for (size_t i = (size_t)found; heads && f->queue && i < nc; i++) {
            auditfs_position *h = &heads[f->nqueue];
            int dup = 0;
            if (sib_head(h, c[i].path) != 0)
                memset(h, 0, sizeof *h);
            /* only a compressed file is taken for a copy of one queued before it */
            for (size_t k = 0; i > (size_t)found && h->head_len && k < f->nqueue &&
                               auditfs_rotated_kind(c[i].path) != AUDITFS_ROTATED_PLAIN;
                 k++)
                dup |= heads[k].head_len == h->head_len &&
                       !memcmp(heads[k].head_sha256, h->head_sha256, 32);
            if (dup)
                continue;
            f->queue[f->nqueue++] = c[i].path;
            c[i].path = NULL;
        }
        free(heads);
    }
    cands_free(c, nc);
    return found >= 0 && f->nqueue;
}

/* Remembers the file just read to its end (its first bytes and length), so that a copy of it
 * (compressed by logrotate) is never taken for a file rotated in between (find_between). */
static void
src_done(fsrc *f)
{
    auditfs_position d;
    memset(&d, 0, sizeof d);
    if (f->fd < 0 || f->off == 0 || auditfs_position_identify(&d, f->fd, f->off) != 0)
        return;
    if (f->ndone == sizeof f->done / sizeof *f->done) {
        memmove(f->done, f->done + 1, sizeof f->done - sizeof *f->done);
        f->ndone--;
    }
    f->done[f->ndone++] = d;
}

static int
ts_before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec != b->tv_sec ? a->tv_sec < b->tv_sec : a->tv_nsec < b->tv_nsec;
}

/* Could c have been NAME after `seen` with lines in it? Written then (mtime), and created then
 * where the file system records a birth time. Old history was last written before. */
static int
written_since(const cand *c, const struct timespec *seen)
{
    return !ts_before(&c->mtime, seen) && (!c->have_btime || !ts_before(&c->btime, seen));
}

/*
 * NAME names another file than the one read (rename-and-create rotation) and that file was
 * read to its end: the files that were NAME in between (NAME rotated twice or more between
 * two checks) are its rotated siblings that (1) are not the file read, nor NAME now, nor one
 * that was there (same inode and mtime) when the file read was opened as NAME; (2) were
 * written, and created where the file system says, at or after f->seen, the coarse wall-clock
 * time taken before the last check that found the file read still named NAME (a file written
 * after that check has a timestamp at or after it: file times come from the same coarse
 * clock); (3) are not a copy of a file read to its end in this process (f->done: logrotate's
 * `compress` makes one). A file that was NAME before our file was cannot meet (2), so old
 * history is never read again. Queues them oldest first; returns how many.
 */
static size_t
find_between(fsrc *f)
{
    cand *c = NULL;
    size_t nc = 0;
    list_siblings(&c, &nc, f);
    queue_free(f);
    f->queue = nc ? calloc(nc, sizeof *f->queue) : NULL;
    for (size_t i = 0; f->queue && i < nc; i++) {
        int copy = c[i].dev == f->dev && c[i].ino == f->ino;
        for (size_t k = 0; !copy && k < f->nolder; k++)
            copy = c[i].dev == f->older[4 * k] && c[i].ino == f->older[4 * k + 1] &&
                   (uint64_t)c[i].mtime.tv_sec == f->older[4 * k + 2] &&
                   (uint64_t)c[i].mtime.tv_nsec == f->older[4 * k + 3];
        if (copy || !written_since(&c[i], &f->seen))
            continue;
        for (size_t k = 0; !copy && k < f->ndone; k++)
            copy = sib_matches(&f->done[k], c[i].path, NULL);
        if (copy)
            continue;
        f->queue[f->nqueue++] = c[i].path;
        c[i].path = NULL;
    }
    cands_free(c, nc);
    return f->nqueue;
}

/* The path of NAME's rotated sibling (NAME.*, uncompressed) that is the file dev/ino, or NULL. */
static char *
find_inode(const fsrc *f, uint64_t dev, uint64_t ino)
{
    const char *base;
    char *dir = dir_of(f->name, &base), *found = NULL;
    DIR *d = dir ? opendir(dir) : NULL;
    struct dirent *de;
    size_t bl = dir ? strlen(base) : 0;
    while (d && !found && (de = readdir(d)) != NULL) {
        struct stat st;
        char p[PATH_MAX + 300];
        if (strncmp(de->d_name, base, bl) != 0 || de->d_name[bl] != '.' ||
            auditfs_rotated_kind(de->d_name) != AUDITFS_ROTATED_PLAIN)
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_dev == dev &&
            (uint64_t)st.st_ino == ino)
            found = strdup(p);
    }
    if (d)
        closedir(d);
    free(dir);
    return found;
}

/*
 * Test hooks (tests/cli/cli_route_lineage.sh, cli_follow_rotate.sh): with the variable set to
 * FILE, creates FILE and waits (at most 60 s) until FILE is removed, the first time only, so
 * that a test can rotate NAME in exactly that window. AUDITFS_TEST_HOLD_QUEUE_END: a restart
 * has read the rotated files it queued, before it moves on to NAME. AUDITFS_TEST_HOLD_CHECK:
 * a check found the file read still NAME, after reading it to its end. AUDITFS_TEST_HOLD_READ:
 * the first round that read lines, before any of them is committed.
 */
static void
test_hold(const char *var, int *held)
{
    const char *h = getenv(var);
    struct stat st;
    if (!h || !h[0] || (*held)++)
        return;
    int fd = open(h, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    close(fd);
    for (int i = 0; i < 6000 && stat(h, &st) == 0; i++)
        usleep(10000);
}

/* Counts the lines before offset (for FILE:LINE messages after a resume). */
static uint64_t
count_lines(int fd, uint64_t offset)
{
    uint8_t b[65536];
    uint64_t n = 0, at = 0;
    while (at < offset) {
        size_t want = offset - at < sizeof b ? (size_t)(offset - at) : sizeof b;
        ssize_t r = pread(fd, b, want, (off_t)at);
        if (r <= 0)
            break;
        for (ssize_t i = 0; i < r; i++)
            n += b[i] == '\n';
        at += (uint64_t)r;
    }
    return n;
}

/* Opens path for f at offset (position identity taken from the file). */
static int
src_open(fsrc *f, const char *path, uint64_t offset, int from_queue)
{
    struct stat st;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME_COARSE, &now);
    /* a rotated file from the queue may be compressed (.gz, .zst): read decompressed */
    int fd = from_queue ? sib_open(path) : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (!from_queue) {
        f->seen = now; /* NAME was this file at (or after) now */
        note_older(f);
    }
    if (fstat(fd, &st) != 0) {
        close(fd);
        return -1;
    }
    if (f->fd >= 0)
        close(f->fd);
    f->fd = fd;
    f->dev = (uint64_t)st.st_dev;
    f->ino = (uint64_t)st.st_ino;
    f->off = offset;
    f->len = 0;
    f->from_queue = from_queue;
    f->lineno = offset ? count_lines(fd, offset) : 0;
    if (auditfs_position_identify(&f->pos, fd, offset) != 0)
        return -1;
    return 0;
}

/*
 * The start marker (docs/FORMAT.md section 16.2). A followed file that has no stored position
 * (a first run) could be rotated away after its lines were read and before the batch holding
 * them is committed; a restart would then have nothing to find it by and start on the new
 * NAME. So before the file is read, its identity (dev:inode, the hash of its first bytes, offset
 * 0) is made durable in LEDGER/auditfs-follow/start-<hash> (routing: DIR/.auditfs-route/), and
 * rewritten as its first bytes grow to 4096; a restart without a stored position resumes from
 * it as from a position. Removed once a position of the file is stored.
 */
static void
marker_path(char *out, size_t cap, const ingest *g, const fsrc *f)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *p = (const unsigned char *)f->name; *p; p++)
        h = (h ^ *p) * 0x100000001b3ULL;
    if (g->ledgers_dir)
        snprintf(out, cap, "%s/.auditfs-route/start-%016llx", g->ledgers_dir,
                 (unsigned long long)h);
    else
        snprintf(out, cap, "%s/auditfs-follow/start-%016llx", g->ledger, (unsigned long long)h);
}

/* Before f's file is read: its marker, written (or its head grown) durably. */
static int
marker_update(ingest *g, fsrc *f)
{
    struct stat st;
    char path[PATH_MAX + 64], *pos = NULL;
    if (f->fd < 0 || fstat(f->fd, &st) != 0)
        return 0;
    uint64_t h = (uint64_t)st.st_size < AUDITFS_POSHEAD_MAX ? (uint64_t)st.st_size
                                                            : AUDITFS_POSHEAD_MAX;
    /* only the first file read is marked: a later one is read after it, from the marker on */
    if (f->marker == 2 && (f->marker_dev != (uint64_t)st.st_dev ||
                           f->marker_ino != (uint64_t)st.st_ino || h <= f->marker_head))
        return 0;
    auditfs_position m = f->pos;
    snprintf(m.key, sizeof m.key, "%s", f->name);
    if (auditfs_position_identify(&m, f->fd, h) != 0)
        return cli_fail(auditfs_error_last_code(), "append --follow");
    m.offset = 0;
    if (auditfs_position_format(&pos, &m) != 0)
        return cli_fail(auditfs_error_last_code(), "append --follow");
    const char *pp = "Auditfs-Position: ";
    size_t cap = strlen(pos) + 32;
    char *text = malloc(cap);
    if (!text) {
        free(pos);
        return cli_fail(AUDITFS_ENOMEM, "append");
    }
    snprintf(text, cap, "Auditfs-Start: %s", pos + strlen(pp));
    free(pos);
    marker_path(path, sizeof path, g, f);
    int rc = write_atomic(path, text);
    free(text);
    if (rc)
        return rc;
    f->marker = 2;
    f->marker_dev = (uint64_t)st.st_dev;
    f->marker_ino = (uint64_t)st.st_ino;
    f->marker_head = h;
    return 0;
}

/* A position of f is stored: its marker is not needed any more. */
static void
marker_clear(const ingest *g, fsrc *f)
{
    char path[PATH_MAX + 64];
    if (!f->marker)
        return;
    marker_path(path, sizeof path, g, f);
    if (f->marker == 2)
        unlink(path); /* best effort: a stored position takes precedence over a marker */
    f->marker = 0;
}

/*
 * Lines that are gone (a copytruncate whose copy is nowhere, a file read last deleted): one
 * line on stderr naming the file and the bytes, and an entry in the stream auditfs-input,
 * committed with the next batch (routing: in the ledger of the --tenant default, else
 * DIR/quarantine); docs/FORMAT.md section 16.2.
 */
static int
record_gaps(ingest *g)
{
    for (size_t i = 0; i < g->nsrcs; i++) {
        fsrc *f = g->srcs[i];
        char enc[3 * AUDITFS_POSKEY_MAX + 1], to[32], payload[3 * AUDITFS_POSKEY_MAX + 512];
        if (!f->gap)
            continue;
        f->gap = 0;
        auditfs_position_key(enc, f->name);
        if (f->gap_to < 0)
            snprintf(to, sizeof to, "null");
        else
            snprintf(to, sizeof to, "%lld", (long long)f->gap_to);
        int n = snprintf(payload, sizeof payload,
                         "{\"event\":\"input-gap\",\"file\":\"%s\",\"inode\":%llu,"
                         "\"from\":%llu,\"to\":%s,\"reason\":\"%s\"}",
                         enc, (unsigned long long)f->gap_ino, (unsigned long long)f->gap_from,
                         to, f->gap_why);
        fprintf(stderr, "auditfs: ");
        print_name(stderr, f->name);
        if (f->gap_to < 0)
            fprintf(stderr, ": %s: bytes %llu to its end of that file (inode %llu) are lost",
                    f->gap_why, (unsigned long long)f->gap_from,
                    (unsigned long long)f->gap_ino);
        else
            fprintf(stderr, ": %s: bytes %llu-%lld of that file (inode %llu) are lost", f->gap_why,
                    (unsigned long long)f->gap_from, (long long)f->gap_to,
                    (unsigned long long)f->gap_ino);
        fprintf(stderr, "; recorded in the stream auditfs-input\n");
        hdrs h = g->defaults;
        snprintf(h.stream, sizeof h.stream, "auditfs-input");
        if (!auditfs_valid_stream(h.tenant))
            h.tenant[0] = '\0';
        target *t = target_for(g, g->ledgers_dir ? (h.tenant[0] ? h.tenant : "quarantine") : "");
        if (!t)
            return cli_fail(AUDITFS_ENOMEM, "append");
        if (g->ledgers_dir && !t->loaded) {
            int rc = route_load(g, t);
            if (rc)
                return rc;
        }
        if (n < 0 || (size_t)n >= sizeof payload ||
            batch_add(&t->b, &h, (const uint8_t *)payload, (size_t)n, NULL, 0, 0) != 0)
            return cli_fail(AUDITFS_ENOMEM, "append");
    }
    return 0;
}

/* The start of following f: from the saved position if there is one. */
static int
src_start(ingest *g, fsrc *f, auditfs_ledger *l)
{
    char prefix[3 * AUDITFS_POSKEY_MAX + 32];
    char enc[3 * AUDITFS_POSKEY_MAX + 1];
    char *v = NULL;
    auditfs_position saved;
    int have = 0;
    snprintf(f->pos.key, sizeof f->pos.key, "%s", f->name);
    auditfs_position_key(enc, f->name);
    snprintf(prefix, sizeof prefix, "Auditfs-Position: %s ", enc);
    if (l && auditfs_ledger_find_trailer(&v, NULL, l, prefix, 0) != 0)
        return cli_fail(auditfs_error_last_code(), "append --follow");
    if (g->ledgers_dir) {
        /* routing: from the low-water mark, the byte sequence number going on from it */
        char path[PATH_MAX + 64], *sv = NULL;
        route_state_path(path, sizeof path, g, f);
        int rc = route_state_read(&v, path, prefix);
        if (!rc && v) {
            char sp[3 * AUDITFS_POSKEY_MAX + 32];
            snprintf(sp, sizeof sp, "Auditfs-Routed: %s ", enc);
            rc = route_state_read(&sv, path, sp);
            if (!rc && !parse_dec(&f->seq, sv)) {
                fprintf(stderr, "auditfs: %s: no valid Auditfs-Routed line\n", path);
                rc = EXIT_DATA;
            }
            f->done_seq = f->seq;
            free(sv);
        }
        if (rc) {
            free(v);
            return rc;
        }
    }
    int from_marker = 0;
    if (!v) {
        /* no position stored: the marker of a run that stored none either, if any */
        char mp[PATH_MAX + 64], mprefix[3 * AUDITFS_POSKEY_MAX + 32];
        marker_path(mp, sizeof mp, g, f);
        snprintf(mprefix, sizeof mprefix, "Auditfs-Start: %s ", enc);
        int rc = route_state_read(&v, mp, mprefix);
        if (rc)
            return rc;
        f->marker = 1;
        from_marker = v != NULL;
    }
    if (v) {
        size_t vl = strlen(enc) + 1 + strlen(v);
        char *full = malloc(vl + 1);
        if (full) {
            snprintf(full, vl + 1, "%s %s", enc, v);
            have = auditfs_position_parse(&saved, full, vl) == 0;
        }
        free(full);
        free(v);
    }
    if (have && from_marker) {
        f->marker = 2;
        f->marker_dev = saved.dev;
        f->marker_ino = saved.ino;
        f->marker_head = saved.head_len;
    }
    f->fd = -1;
    if (!have) {
        if (src_open(f, f->name, 0, 0) != 0 && errno != ENOENT) {
            fprintf(stderr, "auditfs: %s: %s\n", f->name, strerror(errno));
            return EXIT_IO;
        }
        return 0;
    }
    int fd = open(f->name, O_RDONLY | O_CLOEXEC);
    int same = 0;
    if (fd >= 0 && auditfs_position_matches(&saved, fd, &same) && same) {
        close(fd);
        if (src_open(f, f->name, saved.offset, 0) != 0)
            return EXIT_IO;
        return 0;
    }
    if (fd >= 0)
        close(fd);
    if (find_rotated(f, &saved)) {
        if (src_open(f, f->queue[0], saved.offset, 1) != 0)
            return EXIT_IO;
        f->iqueue = 1;
        fprintf(stderr, "auditfs: %s: resuming in rotated file %s at byte %llu\n", f->name,
                f->queue[0], (unsigned long long)saved.offset);
        return 0;
    }
    fprintf(stderr,
            "auditfs: %s: the file read last (inode %llu, %llu bytes in) is gone; "
            "reading %s from its start\n",
            f->name, (unsigned long long)saved.ino, (unsigned long long)saved.offset, f->name);
    f->gap = 1;
    f->gap_ino = saved.ino;
    f->gap_from = saved.offset;
    f->gap_to = -1;
    f->gap_why = "the file read last is gone, not found among its rotated copies";
    /* routing: the byte sequence no longer follows the one the ledgers' trailers count, so
     * nothing is skipped as already stored (a restart here may store lines twice, never lose) */
    f->noskip = 1;
    if (src_open(f, f->name, 0, 0) != 0 && errno != ENOENT) {
        fprintf(stderr, "auditfs: %s: %s\n", f->name, strerror(errno));
        return EXIT_IO;
    }
    return 0;
}

/* Reads what f's file has and ingests its complete lines; at_end: also an unterminated tail
 * (the file was rotated away and will not grow). Returns 0 or an exit code; *progress set. */
static int
src_pump(ingest *g, fsrc *f, int at_end, int *progress)
{
    if (f->fd < 0)
        return 0;
    /* not the file we identified any more (copytruncate and written again past our offset):
     * read nothing, src_check starts it over from its beginning */
    if (f->pos.head_len > 0 && !auditfs_position_matches(&f->pos, f->fd, NULL))
        return 0;
    if (f->marker) {
        int rc = marker_update(g, f);
        if (rc)
            return rc;
    }
    for (;;) {
        if (f->cap - f->len < 65536) {
            size_t cap = f->cap ? f->cap * 2 : 1 << 20;
            if (cap > AUDITFS_PAYLOAD_MAX_HARD * 4)
                cap = AUDITFS_PAYLOAD_MAX_HARD * 4;
            if (cap <= f->cap) {
                g->line_src = f->idx;
                g->line_seq = f->seq;
                int rc = ingest_line(g, f->name, f->lineno + 1, f->buf, f->len,
                                     "line longer than the hard record limit");
                return rc ? rc : EXIT_DATA;
            }
            uint8_t *b = realloc(f->buf, cap);
            if (!b)
                return cli_fail(AUDITFS_ENOMEM, "append");
            f->buf = b;
            f->cap = cap;
        }
        ssize_t r = pread(f->fd, f->buf + f->len, f->cap - f->len, (off_t)(f->off + f->len));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            fprintf(stderr, "auditfs: %s: %s\n", f->name, strerror(errno));
            return EXIT_IO;
        }
        if (r == 0)
            break;
        *progress = 1;
        f->len += (size_t)r;
        size_t start = 0;
        for (;;) {
            uint8_t *nl = memchr(f->buf + start, '\n', f->len - start);
            if (!nl)
                break;
            size_t n = (size_t)(nl - (f->buf + start));
            g->line_src = f->idx;
            g->line_seq = f->seq + start;
            int rc = ingest_line(g, f->name, ++f->lineno, f->buf + start, n, NULL);
            if (rc)
                return rc;
            start += n + 1;
            /* the position now covers this line: it goes into the trailer with it */
            f->pos.offset = f->off + start;
            f->done_seq = f->seq + start;
            if (f->pos.head_len < AUDITFS_POSHEAD_MAX && f->pos.offset > f->pos.head_len &&
                auditfs_position_identify(&f->pos, f->fd, f->pos.offset) != 0)
                return cli_fail(auditfs_error_last_code(), "append --follow");
            f->dirty = 1;
            if ((rc = maybe_flush(g, 0)) != 0)
                return rc;
        }
        memmove(f->buf, f->buf + start, f->len - start);
        f->len -= start;
        f->off += start;
        f->seq += start;
    }
    if (at_end && f->len > 0) {
        /* the writer of a rotated file is done with it: its last line ends here */
        g->line_src = f->idx;
        g->line_seq = f->seq;
        int rc = ingest_line(g, f->name, ++f->lineno, f->buf, f->len, NULL);
        if (rc)
            return rc;
        f->off += f->len;
        f->seq += f->len;
        f->done_seq = f->seq;
        f->len = 0;
        f->pos.offset = f->off;
        f->dirty = 1;
    }
    return 0;
}

/* Rotation: NAME now names another file (rename-and-create), or the file shrank below what
 * we read (copytruncate). Drains the old file, then moves to the new one from its start. */
static int
src_check(ingest *g, fsrc *f, int force)
{
    struct stat st, cur;
    int progress = 0, rc;
    if (f->from_queue) {
        /* a rotated file found at restart: read to its end, then the next one */
        if ((rc = src_pump(g, f, 1, &progress)) != 0)
            return rc;
        src_done(f);
        if (f->iqueue < f->nqueue) {
            const char *next = f->queue[f->iqueue++];
            if (src_open(f, next, 0, 1) != 0) {
                /* gone meanwhile, or a compressed file that does not decompress */
                struct stat gs;
                f->gap = 1;
                f->gap_ino = stat(next, &gs) == 0 ? (uint64_t)gs.st_ino : 0;
                f->gap_from = 0;
                f->gap_to = -1;
                f->gap_why = "a rotated file to read could not be read";
                return src_check(g, f, force);
            }
            return 0;
        }
        static int held_queue_end;
        test_hold("AUDITFS_TEST_HOLD_QUEUE_END", &held_queue_end);
        /* NAME was rotated while the queue was read: the file it named then comes first (a
         * chain of rotations is followed one file at a time), else its lines are skipped */
        struct stat now;
        if (f->have_next && stat(f->name, &now) == 0 &&
            ((uint64_t)now.st_ino != f->next_ino || (uint64_t)now.st_dev != f->next_dev)) {
            char *p = find_inode(f, f->next_dev, f->next_ino);
            uint64_t lost_ino = f->next_ino;
            f->next_dev = (uint64_t)now.st_dev;
            f->next_ino = (uint64_t)now.st_ino;
            if (p && src_open(f, p, 0, 1) == 0) {
                f->dirty = 1;
                free(p);
                return 0;
            }
            if (!p) {
                f->gap = 1;
                f->gap_ino = lost_ino;
                f->gap_from = 0;
                f->gap_to = -1;
                f->gap_why = "rotated while the files rotated before it were read, and not "
                             "found among its rotated copies";
            }
            free(p);
        }
        f->have_next = 0;
        close(f->fd);
        f->fd = -1;
        f->from_queue = 0;
        if (src_open(f, f->name, 0, 0) == 0)
            f->dirty = 1;
        return 0;
    }
    struct timespec tcheck;
    clock_gettime(CLOCK_REALTIME_COARSE, &tcheck); /* before the stat: see find_between */
    if (stat(f->name, &st) != 0) {
        if (f->fd < 0 || errno != ENOENT)
            return 0;
        return 0; /* NAME removed: keep reading the old file until a new NAME appears */
    }
    if (f->fd < 0) {
        if (src_open(f, f->name, 0, 0) == 0)
            f->dirty = 1;
        return 0;
    }
    if ((uint64_t)st.st_ino != f->ino || (uint64_t)st.st_dev != f->dev) {
        if ((rc = src_pump(g, f, 1, &progress)) != 0)
            return rc;
        src_done(f);
        /* NAME rotated more than once since the last check: the files in between first */
        size_t n = find_between(f);
        if (n > 0) {
            f->have_next = 1;
            f->next_dev = (uint64_t)st.st_dev;
            f->next_ino = (uint64_t)st.st_ino;
            fprintf(stderr, "auditfs: ");
            print_name(stderr, f->name);
            fprintf(stderr, ": rotated more than once between two checks: reading %zu "
                            "rotated file(s) first, from ", n);
            print_name(stderr, f->queue[0]);
            fputc('\n', stderr);
            if (src_open(f, f->queue[0], 0, 1) == 0) {
                f->iqueue = 1;
                f->dirty = 1;
                return 0;
            }
            /* unreadable now: the next check tries it again, then records it lost */
            f->iqueue = 0;
            f->from_queue = 1;
            return 0;
        }
        if (src_open(f, f->name, 0, 0) == 0)
            f->dirty = 1;
        return 0;
    }
    f->seen = tcheck;
    static int held_check;
    test_hold("AUDITFS_TEST_HOLD_CHECK", &held_check);
    /* truncated: smaller than what we read, or (truncated and written again past our offset
     * between two checks) its first bytes are no longer those we identified it by */
    if (fstat(f->fd, &cur) == 0 &&
        ((uint64_t)cur.st_size < f->off + f->len ||
         (f->pos.head_len > 0 && !auditfs_position_matches(&f->pos, f->fd, NULL)))) {
        /* copytruncate: what we had not read yet is in the copy, if we can find it */
        auditfs_position p = f->pos;
        fsrc tmp;
        memset(&tmp, 0, sizeof tmp);
        tmp.name = f->name;
        tmp.fd = -1;
        int fd = find_rotated(&tmp, &p) ? sib_open(tmp.queue[0]) : -1;
        if (fd >= 0) {
            close(f->fd);
            f->fd = fd;
            if ((rc = src_pump(g, f, 1, &progress)) != 0) {
                queue_free(&tmp);
                return rc;
            }
            src_done(f);
        } else {
            /* no copy anywhere (NAME.*, plain, .gz or .zst): everything from the first byte
             * not stored to the truncation is gone, and how far it went with it */
            f->gap = 1;
            f->gap_ino = f->ino;
            f->gap_from = f->off;
            f->gap_to = -1;
            f->gap_why = "truncated (copytruncate) and no copy found beside it";
        }
        queue_free(&tmp);
        if (src_open(f, f->name, 0, 0) == 0)
            f->dirty = 1;
        return 0;
    }
    (void)force;
    return 0;
}

/*
 * Routing, a followed file whose saved file is gone (noskip): its byte sequence starts a new
 * lineage from the low-water mark, while a tenant ledger's trailer may count further along
 * the old one (a crash between its commit and the low-water write). Trailers never go back
 * (build_trailer), so a later restart would skip lines of the new lineage below that count
 * that were never stored. The new lineage therefore starts past what any tenant ledger in DIR
 * says for this file. Run once every source is known (route_load sizes rseq by g->nsrcs).
 */
static int
route_rebase(ingest *g)
{
    int any = 0, rc = 0;
    for (size_t i = 0; i < g->nsrcs; i++)
        any |= g->srcs[i]->noskip;
    if (!any)
        return 0;
    DIR *d = opendir(g->ledgers_dir);
    struct dirent *de;
    while (!rc && d && (de = readdir(d)) != NULL) {
        char head[PATH_MAX + 300];
        struct stat st;
        if (de->d_name[0] == '.' || strlen(de->d_name) >= sizeof g->t->tenant ||
            !auditfs_valid_stream(de->d_name))
            continue;
        snprintf(head, sizeof head, "%s/%s/HEAD", g->ledgers_dir, de->d_name);
        if (stat(head, &st) != 0)
            continue;
        target *t = target_for(g, de->d_name);
        if (!t)
            rc = cli_fail(AUDITFS_ENOMEM, "append");
        else if (!t->loaded)
            rc = route_load(g, t);
    }
    if (d)
        closedir(d);
    for (size_t i = 0; !rc && i < g->nsrcs; i++) {
        fsrc *f = g->srcs[i];
        for (size_t k = 0; f->noskip && k < g->nt; k++)
            if (g->t[k].rseq && g->t[k].rseq[i] > f->seq)
                f->seq = g->t[k].rseq[i];
        f->done_seq = f->seq;
    }
    return rc;
}

static int
follow_input(ingest *g, char **names, int n, int poll_ms)
{
    auditfs_ledger *l = NULL;
    int rc = 0;
    if (!g->ledgers_dir && auditfs_ledger_open(&l, g->ledger) != 0)
        return cli_fail(auditfs_error_last_code(), "append --follow");
    g->srcs = calloc((size_t)n, sizeof *g->srcs);
    if (!g->srcs) {
        auditfs_ledger_free(l);
        return cli_fail(AUDITFS_ENOMEM, "append");
    }
    for (int i = 0; i < n && !rc; i++) {
        fsrc *f = calloc(1, sizeof *f);
        if (!f || !(f->name = strdup(names[i]))) {
            free(f);
            rc = cli_fail(AUDITFS_ENOMEM, "append");
            break;
        }
        f->fd = -1;
        f->idx = (int)g->nsrcs;
        g->srcs[g->nsrcs++] = f;
        if (strlen(f->name) > AUDITFS_POSKEY_MAX)
            rc = cli_usage_error("--follow: name longer than %d bytes", AUDITFS_POSKEY_MAX);
        else
            rc = src_start(g, f, l);
    }
    auditfs_ledger_free(l);
    if (!rc && g->ledgers_dir)
        rc = route_rebase(g);
    int idle = 0, held_read = 0;
    while (!rc && !g_stop) {
        int progress = 0;
        /* losses found by the last check (or at the start) go in before the lines after them */
        if ((rc = record_gaps(g)) != 0)
            break;
        for (size_t i = 0; i < g->nsrcs && !rc; i++)
            rc = src_pump(g, g->srcs[i], 0, &progress);
        if (rc)
            break;
        if (progress)
            test_hold("AUDITFS_TEST_HOLD_READ", &held_read);
        int hup = g_hup;
        g_hup = 0;
        for (size_t i = 0; i < g->nsrcs && !rc; i++)
            rc = src_check(g, g->srcs[i], hup);
        if (rc || (rc = maybe_flush(g, 0)) != 0)
            break;
        if (g->once) {
            /* --once: done when two rounds in a row read nothing and no rotated file found at
             * the start is still queued (a round may only have moved to the next file) */
            int queued = 0;
            for (size_t i = 0; i < g->nsrcs; i++)
                queued |= g->srcs[i]->from_queue;
            idle = progress || queued ? 0 : idle + 1;
            if (idle >= 2)
                break;
        }
        if (!progress) {
            int wait = poll_ms;
            int64_t o = oldest_pending(g);
            if (o) {
                int64_t left = (o + g->flush_us - mono_us()) / 1000;
                if (left < wait)
                    wait = left < 0 ? 0 : (int)left;
            }
            sleep_ms(wait);
            drain_sigpipe();
        }
    }
    if (!rc)
        rc = record_gaps(g); /* a loss found by the last check is committed with the rest */
    return rc;
}

/* ---- the journal ---- */

#ifdef AUDITFS_HAVE_SYSTEMD
/* One journal entry as a JSON object (auditfs_journal_record_*: the realtime timestamp, for
 * --map time=__REALTIME_TIMESTAMP, and every field). The cursor is not in the payload: it goes
 * into the commit's trailer. */
static const char *
journal_entry_json(size_t *len, auditfs_journal_record *rec, sd_journal *j)
{
    const void *d;
    size_t dl;
    uint64_t rt = 0;
    int has_rt = sd_journal_get_realtime_usec(j, &rt) >= 0;
    if (auditfs_journal_record_begin(rec, has_rt, rt) != 0)
        return NULL;
    SD_JOURNAL_FOREACH_DATA(j, d, dl)
    {
        if (auditfs_journal_record_field(rec, d, dl) != 0)
            return NULL;
    }
    return auditfs_journal_record_end(rec, len);
}

static int
journal_input(ingest *g, char **files, size_t nfiles, char **matches, size_t nmatches, int follow)
{
    sd_journal *j = NULL;
    auditfs_ledger *l = NULL;
    char *cur = NULL;
    auditfs_journal_record *rec = NULL;
    uint64_t n = 0;
    int rc = 0, r;
    char prefix[300];
    if (nfiles) {
        const char **fl = calloc(nfiles + 1, sizeof *fl);
        if (!fl)
            return cli_fail(AUDITFS_ENOMEM, "append");
        for (size_t i = 0; i < nfiles; i++)
            fl[i] = files[i];
        r = sd_journal_open_files(&j, fl, 0);
        free(fl);
    } else {
        r = sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY);
    }
    if (r < 0) {
        fprintf(stderr, "auditfs: cannot open the journal: %s\n", strerror(-r));
        return EXIT_IO;
    }
    for (size_t i = 0; i < nmatches; i++) {
        if ((r = sd_journal_add_match(j, matches[i], 0)) < 0) {
            fprintf(stderr, "auditfs: --match '%s': %s\n", matches[i], strerror(-r));
            sd_journal_close(j);
            return EXIT_USAGE;
        }
    }
    snprintf(prefix, sizeof prefix, "Auditfs-Cursor: %s ", g->cursor_key);
    if (g->ledgers_dir) {
        /* routing: resume at the low-water mark; lines already in their ledger are skipped */
        char path[PATH_MAX + 64];
        route_state_path(path, sizeof path, g, NULL);
        if ((rc = route_state_read(&cur, path, prefix)) != 0) {
            sd_journal_close(j);
            return rc;
        }
    } else {
        if ((rc = auditfs_ledger_open(&l, g->ledger)) != 0) {
            sd_journal_close(j);
            return cli_fail(rc, "append --journal");
        }
        if (auditfs_ledger_find_trailer(&cur, NULL, l, prefix, 0) != 0) {
            auditfs_ledger_free(l);
            sd_journal_close(j);
            return cli_fail(auditfs_error_last_code(), "append --journal");
        }
        auditfs_ledger_free(l);
    }
    if (cur) {
        /* resume after the last entry stored: seek to it, step over it */
        if ((r = sd_journal_seek_cursor(j, cur)) < 0) {
            fprintf(stderr, "auditfs: stored journal cursor not usable: %s\n", strerror(-r));
            rc = EXIT_DATA;
            goto out;
        }
        r = sd_journal_next(j);
        if (r > 0 && sd_journal_test_cursor(j, cur) <= 0) {
            /* the cursor's entry is gone (vacuumed): this is the first one after it */
            sd_journal_previous(j);
        }
    } else {
        sd_journal_seek_head(j);
    }
    if (auditfs_journal_record_new(&rec) != 0) {
        rc = cli_fail(AUDITFS_ENOMEM, "append");
        goto out;
    }
    while (!g_stop) {
        r = sd_journal_next(j);
        if (r < 0) {
            fprintf(stderr, "auditfs: journal: %s\n", strerror(-r));
            rc = EXIT_IO;
            break;
        }
        if (r == 0) {
            if ((rc = maybe_flush(g, 1)) != 0 || !follow)
                break;
            sd_journal_wait(j, 200000);
            continue;
        }
        n++;
        size_t plen = 0;
        const char *payload = journal_entry_json(&plen, rec, j);
        if (!payload) {
            rc = cli_fail(auditfs_error_last_code(), "append --journal");
            break;
        }
        char *c = NULL;
        if (sd_journal_get_cursor(j, &c) < 0 || !c) {
            fprintf(stderr, "auditfs: journal: no cursor for entry %llu\n", (unsigned long long)n);
            rc = EXIT_IO;
            break;
        }
        g->line_cursor = c; /* routing: is it already in the ledger it goes to? */
        rc = ingest_line(g, "<journal>", n, (const uint8_t *)payload, plen, NULL);
        g->line_cursor = NULL;
        if (rc) {
            free(c);
            break;
        }
        free(g->cursor);
        g->cursor = c;
        if ((rc = maybe_flush(g, 0)) != 0)
            break;
    }
out:
    free(cur);
    auditfs_journal_record_free(rec);
    sd_journal_close(j);
    return rc;
}
#endif

/* ---- the command ---- */

static int
parse_map(ingest *g, const char *spec)
{
    char *s = strdup(spec), *save = NULL;
    if (!s)
        return cli_fail(AUDITFS_ENOMEM, "append");
    for (char *tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        int k = -1;
        for (int i = 0; eq && i < 5; i++)
            if ((size_t)(eq - tok) == strlen(map_names[i]) &&
                !strncmp(tok, map_names[i], (size_t)(eq - tok)))
                k = i;
        if (k < 0 || !eq[1] || strlen(eq + 1) >= sizeof g->map_field[k]) {
            free(s);
            return cli_usage_error("--map '%s': expected tenant|party|layer|stream|time=FIELD",
                                   tok);
        }
        snprintf(g->map_field[k], sizeof g->map_field[k], "%s", eq + 1);
    }
    free(s);
    return 0;
}

static int
parse_value(ingest *g, const char *spec)
{
    const char *colon = strchr(spec, ':'), *eq = colon ? strchr(colon, '=') : NULL;
    int k = -1;
    for (int i = 0; colon && i < 4; i++)
        if ((size_t)(colon - spec) == strlen(map_names[i]) &&
            !strncmp(spec, map_names[i], (size_t)(colon - spec)))
            k = i;
    if (k < 0 || !eq || (size_t)(eq - colon - 1) > AUDITFS_FIELD_MAX ||
        strlen(eq + 1) > AUDITFS_FIELD_MAX)
        return cli_usage_error("--value '%s': expected tenant|party|layer|stream:FROM=TO", spec);
    struct vmap *v = realloc(g->vmaps, (g->nvmaps + 1) * sizeof *v);
    if (!v)
        return cli_fail(AUDITFS_ENOMEM, "append");
    g->vmaps = v;
    v += g->nvmaps++;
    v->header = k;
    snprintf(v->from, sizeof v->from, "%.*s", (int)(eq - colon - 1), colon + 1);
    snprintf(v->to, sizeof v->to, "%s", eq + 1);
    return 0;
}

/*
 * `auditfs append`. Long because it is the one place that parses every option of every input
 * (files, stdin, --follow, --rsyslog, --journal), checks their combinations, and dispatches;
 * each input's loop is its own function above.
 */
int
cmd_append(int argc, char **argv)
{
    const char *key = NULL, *route_by = NULL;
    auditfs_state *st = NULL;
    ingest g;
    int64_t flush_ms = 1000;
    int c, rc = 0, update_index = 1, follow = 0, journal = 0, poll_ms = 100;
    char **jfiles = NULL, **matches = NULL;
    size_t njfiles = 0, nmatches = 0;
    static const struct option opts[] = {{"ledger", required_argument, 0, 'l'},
                                         {"key", required_argument, 0, 'k'},
                                         {"stream", required_argument, 0, 's'},
                                         {"tenant", required_argument, 0, 't'},
                                         {"party", required_argument, 0, 'p'},
                                         {"layer", required_argument, 0, 'y'},
                                         {"quarantine", no_argument, 0, 'Q'},
                                         {"max-record", required_argument, 0, 'M'},
                                         {"batch-bytes", required_argument, 0, 'B'},
                                         {"flush-ms", required_argument, 0, 'F'},
                                         {"no-wait", no_argument, 0, 'N'},
                                         {"no-index", no_argument, 0, 'X'},
                                         {"follow", no_argument, 0, 'f'},
                                         {"poll-ms", required_argument, 0, 'P'},
                                         {"map", required_argument, 0, 'm'},
                                         {"value", required_argument, 0, 'v'},
                                         {"rsyslog", no_argument, 0, 'R'},
                                         {"journal", no_argument, 0, 'J'},
                                         {"journal-file", required_argument, 0, 'j'},
                                         {"match", required_argument, 0, 'a'},
                                         {"cursor-key", required_argument, 0, 'c'},
                                         {"route-by", required_argument, 0, 'r'},
                                         {"ledgers", required_argument, 0, 'L'},
                                         {"retry-secs", required_argument, 0, 'W'},
                                         {"spool", required_argument, 0, 'Z'},
                                         {"json", no_argument, 0, 1001},
                                         {"tlog-tiles", required_argument, 0, 1002},
                                         {"witness", required_argument, 0, 1003},
                                         {"once", no_argument, 0, 1004},
                                         {0, 0, 0, 0}};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--"))
            break;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(append_help, stdout);
            return 0;
        }
    }
    memset(&g, 0, sizeof g);
    g.max_record = AUDITFS_PAYLOAD_MAX_DEFAULT;
    g.wo.wait_for_lock = 1;
    g.cursor_key = "journal";
    g.retry_us = 300 * 1000000LL;
    g.ack = stdout;
    g.line_src = -1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        uint64_t v;
        switch (c) {
        case 1001: g.json = 1; break;
        case 1002: g.tlog_dir = optarg; break;
        case 1004: g.once = 1; break;
        case 1003:
            if (g.nwitnesses == sizeof g.witnesses / sizeof *g.witnesses)
                return cli_usage_error("too many --witness");
            g.witnesses[g.nwitnesses++] = optarg;
            break;
        case 'l':
            g.ledger = optarg;
            break;
        case 'k':
            key = optarg;
            break;
        case 's':
            if (cli_set_opt(g.defaults.stream, sizeof g.defaults.stream, optarg, "--stream"))
                return EXIT_USAGE;
            break;
        case 't':
            if (cli_set_opt(g.defaults.tenant, sizeof g.defaults.tenant, optarg, "--tenant"))
                return EXIT_USAGE;
            break;
        case 'p':
            if (cli_set_opt(g.defaults.party, sizeof g.defaults.party, optarg, "--party"))
                return EXIT_USAGE;
            break;
        case 'y':
            if (cli_set_opt(g.defaults.layer, sizeof g.defaults.layer, optarg, "--layer"))
                return EXIT_USAGE;
            break;
        case 'Q':
            g.quarantine = 1;
            break;
        case 'M':
            if (cli_parse_u64(&v, optarg, "--max-record"))
                return EXIT_USAGE;
            if (v == 0 || v > AUDITFS_PAYLOAD_MAX_HARD)
                return cli_usage_error("--max-record must be 1..%u", AUDITFS_PAYLOAD_MAX_HARD);
            g.max_record = (size_t)v;
            break;
        case 'B':
            if (cli_parse_u64(&v, optarg, "--batch-bytes"))
                return EXIT_USAGE;
            g.wo.batch_bytes = (size_t)v;
            break;
        case 'F':
            if (cli_parse_u64(&v, optarg, "--flush-ms"))
                return EXIT_USAGE;
            flush_ms = (int64_t)v;
            break;
        case 'P':
            if (cli_parse_u64(&v, optarg, "--poll-ms") || v == 0 || v > 60000)
                return cli_usage_error("--poll-ms must be 1..60000");
            poll_ms = (int)v;
            break;
        case 'N':
            g.no_wait = 1;
            g.wo.wait_for_lock = 0;
            break;
        case 'X':
            update_index = 0;
            break;
        case 'f':
            follow = 1;
            break;
        case 'm':
            if ((rc = parse_map(&g, optarg)) != 0)
                return rc;
            break;
        case 'v':
            if ((rc = parse_value(&g, optarg)) != 0)
                return rc;
            break;
        case 'R':
            g.rsyslog = 1;
            break;
        case 'J':
            journal = 1;
            break;
        case 'j':
        case 'a': {
            char ***list = c == 'j' ? &jfiles : &matches;
            size_t *nl = c == 'j' ? &njfiles : &nmatches;
            char **t = realloc(*list, (*nl + 1) * sizeof *t);
            if (!t)
                return cli_fail(AUDITFS_ENOMEM, "append");
            t[(*nl)++] = optarg;
            *list = t;
            break;
        }
        case 'c':
            if (!optarg[0] || strchr(optarg, ' ') || strlen(optarg) > 64 ||
                !auditfs_valid_stream(optarg))
                return cli_usage_error("--cursor-key: 1-64 of [A-Za-z0-9._-]");
            g.cursor_key = optarg;
            break;
        case 'r':
            route_by = optarg;
            break;
        case 'L':
            g.ledgers_dir = optarg;
            break;
        case 'Z':
            g.spool = optarg;
            break;
        case 'W':
            if (cli_parse_u64(&v, optarg, "--retry-secs") || v > 86400 * 365)
                return EXIT_USAGE;
            g.retry_us = (int64_t)v * 1000000;
            break;
        default:
            return EXIT_USAGE;
        }
    }
    if (!g.defaults.stream[0] && !g.map_field[H_STREAM][0])
        return cli_usage_error("--stream S (or --map stream=FIELD) is required");
    if (g.defaults.stream[0] &&
        (!auditfs_valid_stream(g.defaults.stream) || !strcmp(g.defaults.stream, "quarantine")))
        return cli_usage_error("--stream '%s': 1-64 of [A-Za-z0-9._-] (and not 'quarantine')",
                               g.defaults.stream);
    if (g.defaults.tenant[0] && !auditfs_valid_stream(g.defaults.tenant))
        return cli_usage_error("--tenant '%s': 1-64 of [A-Za-z0-9._-]", g.defaults.tenant);
    if (g.defaults.party[0] && !auditfs_valid_party(g.defaults.party))
        return cli_usage_error("--party must be provider, customer, security-vendor or assessor");
    if (g.defaults.layer[0] && !auditfs_valid_layer(g.defaults.layer))
        return cli_usage_error("--layer must be facility, hardware, virtualization, platform, "
                               "application or data");
    if ((route_by != NULL) != (g.ledgers_dir != NULL) || (route_by && strcmp(route_by, "tenant")))
        return cli_usage_error("--route-by tenant and --ledgers DIR go together");
    if (follow + journal + g.rsyslog > 1 && !(follow && journal))
        return cli_usage_error("--follow, --rsyslog and --journal are different inputs");
    if (g.once && (!follow || journal))
        return cli_usage_error("--once belongs to --follow FILE... (without it, FILE arguments "
                               "and --journal already stop at their end)");
    if (follow && !journal && optind == argc)
        return cli_usage_error("--follow needs FILE arguments");
    if ((journal || g.rsyslog) && optind != argc)
        return cli_usage_error("--journal and --rsyslog take no FILE arguments");
    if ((njfiles || nmatches) && !journal)
        return cli_usage_error("--journal-file and --match belong to --journal");
#ifndef AUDITFS_HAVE_SYSTEMD
    if (journal)
        return cli_usage_error("this auditfs was built without libsystemd: no --journal");
#endif
    if (!g.ledgers_dir) {
        g.ledger = cli_ledger_path(g.ledger);
        if (!g.ledger)
            return cli_usage_error("no ledger: give --ledger DIR or set AUDITFS_LEDGER");
    }
    g.batch_bytes = g.wo.batch_bytes ? g.wo.batch_bytes : AUDITFS_BATCH_BYTES_DEFAULT;
    g.flush_us = flush_ms * 1000;
    if (g.rsyslog)
        g.ack = stderr; /* stdout speaks omprog's protocol */
    if (auditfs_signer_load(&g.key, key ? key : "") != 0)
        return key ? cli_fail(auditfs_error_last_code(), NULL)
                   : cli_usage_error("--key FILE (the signer key) is required");
    if (g.tlog_dir && g.ledgers_dir) {
        auditfs_signer_free(g.key);
        return cli_usage_error("--tlog-tiles exports one ledger: not with --route-by");
    }
    if (g.tlog_dir && auditfs_signer_verifier(&g.tlog_key, g.key) != 0) {
        auditfs_signer_free(g.key);
        return cli_fail(auditfs_error_last_code(), "--tlog-tiles");
    }
    /* the writer's memory: never sign a head that does not extend what this party signed */
    if ((rc = cli_state_open(&st)) != 0) {
        auditfs_signer_free(g.key);
        auditfs_verifier_free(g.tlog_key);
        return rc;
    }
    g.wo.state = st;
    if (install_signals() != 0) {
        auditfs_signer_free(g.key);
        auditfs_verifier_free(g.tlog_key);
        auditfs_state_free(st);
        return cli_fail(AUDITFS_EIO, "append");
    }
    if (!g.ledgers_dir) {
        /* one target; check now that the key is the ledger's and the head verifies */
        auditfs_writer *w = NULL;
        int err;
        g.t = calloc(1, sizeof *g.t);
        if (!g.t || !(g.t->path = strdup(g.ledger))) {
            rc = cli_fail(AUDITFS_ENOMEM, "append");
            goto done;
        }
        g.nt = 1;
        if ((err = auditfs_writer_open(&w, g.ledger, g.key, &g.wo)) != 0) {
            rc = cli_fail(err, "append");
            if (g.rsyslog)
                printf("ERROR %s\n", auditfs_error_last());
            goto done;
        }
        auditfs_writer_free(w);
    } else if (mkdir(g.ledgers_dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "auditfs: %s: %s\n", g.ledgers_dir, strerror(errno));
        rc = EXIT_IO;
        goto done;
    }
    if (g.rsyslog) {
        rc = rsyslog_input(&g);
#ifdef AUDITFS_HAVE_SYSTEMD
    } else if (journal) {
        rc = journal_input(&g, jfiles, njfiles, matches, nmatches, follow);
#endif
    } else if (follow) {
        rc = follow_input(&g, argv + optind, argc - optind, poll_ms);
    } else if (optind == argc) {
        rc = plain_input(&g, 0, "<stdin>");
    } else {
        for (int i = optind; i < argc && rc == 0 && !g_stop; i++) {
            int fd = open(argv[i], O_RDONLY | O_CLOEXEC);
            if (fd < 0) {
                fprintf(stderr, "auditfs: ");
                print_name(stderr, argv[i]);
                fprintf(stderr, ": %s\n", strerror(errno));
                rc = cli_errno_exit(errno);
                break;
            }
            rc = plain_input(&g, fd, argv[i]);
            close(fd);
        }
    }
    /* the commit in flight (plain inputs) first: a failure there is the run's result */
    int prc = pipe_wait(&g);
    if (prc && (rc == 0 || rc == EXIT_IO))
        rc = prc;
    /* commit what was read: at the end, on SIGTERM/SIGINT, after a read error; after a refused
     * line it was done before the message; after a failed commit there is nothing to add */
    if (rc == 0 || (rc == EXIT_IO && !g.commit_failed)) {
        int crc = commit_all(&g);
        if (!rc)
            rc = crc;
    }
    if (g.quarantined)
        fprintf(stderr, "auditfs: %llu bad line(s) stored in the quarantine stream\n",
                (unsigned long long)g.quarantined);
    if (g.skipped)
        fprintf(stderr,
                "auditfs: %llu line(s) were already in their tenant's ledger (committed before "
                "the low-water mark moved) and were not stored again\n",
                (unsigned long long)g.skipped);
    if (g_stop && rc == 0)
        fprintf(stderr, "auditfs: stopped by a signal after committing everything read\n");
    for (size_t i = 0; i < g.nt; i++)
        if (g.t[i].wrote && update_index)
            cli_index_after_write(g.t[i].path);
done:
    for (size_t i = 0; i < g.nt; i++) {
        free(g.t[i].path);
        free(g.t[i].rseq);
        free(g.t[i].rcursor);
        batch_free(&g.t[i].b);
    }
    batch_free(&g.pipe.b);
    auditfs_writer_free(g.pipe.keep);
    free(g.t);
    for (size_t i = 0; i < g.nsrcs; i++) {
        if (g.srcs[i]->fd >= 0)
            close(g.srcs[i]->fd);
        for (size_t k = 0; k < g.srcs[i]->nqueue; k++)
            free(g.srcs[i]->queue[k]);
        free(g.srcs[i]->queue);
        free(g.srcs[i]->older);
        free(g.srcs[i]->buf);
        free(g.srcs[i]->name);
        free(g.srcs[i]);
    }
    free(g.srcs);
    free(g.vmaps);
    free(g.cursor);
    free(jfiles);
    free(matches);
    auditfs_signer_free(g.key);
    auditfs_verifier_free(g.tlog_key);
    auditfs_state_free(st);
    return rc;
}
