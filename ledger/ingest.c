/*
 * ledger/ingest.c - the writer: batches entries and commits each batch as one durable git commit.
 *
 * Per batch: one segment blob, the tiles that became full, the new partial tiles, content blobs
 * of documents and notices, a signed checkpoint, the trees, one commit, then a compare-and-swap
 * of refs/heads/main. libgit2 fsyncs every object and the ref (GIT_OPT_ENABLE_FSYNC_GITDIR), so
 * when auditfs_writer_commit returns the batch survives a crash; before, a crash leaves the old
 * head and some unreachable objects, which `git gc` may prune. Nothing already committed is
 * rewritten: the new tree is the old tree plus additions, minus superseded partial tiles.
 */
#include "store.h"
#include "odb.h"
#include "packmerge.h"
#include "publish.h"
#include "entry.h"
#include "commitsig.h"
#include "state_int.h"

#include "auditfs/merkle.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct update {
    char *path;
    git_oid id;
    int remove;
} update;

typedef struct pending_doc {
    char name[AUDITFS_DOCNAME_MAX + 1];
    uint64_t version;
} pending_doc;

struct auditfs_writer {
    auditfs_ledger *l;
    int lock_fd;
    const auditfs_signer *key;
    char origin[AUDITFS_NAME_MAX + 1];
    auditfs_writer_options opts;
    /* committed state */
    afs_tiles committed_tiles;
    auditfs_hash committed_last;
    int64_t committed_time;
    /* state including the pending batch */
    afs_tiles tiles;
    auditfs_hash last;
    int64_t last_time;
    /* Two segment writers: seg[cur] takes leaves; seg[!cur] holds the segment closed last,
     * whose frame the helper thread compresses while seg[cur] fills (sealed = 1) until the next
     * close or the commit collects it. So compression (a quarter of append's CPU) overlaps
     * hashing and encoding on a second core, with at most two segments in memory. */
    afs_seg_writer seg[2];
    unsigned cur;
    int sealed;
    afs_buf leaf;
    afs_buf segblob;
    afs_buf segentry; /* the sealed segment's pack entry, built by the helper thread */
    size_t pending_bytes;
    uint64_t pending;
    uint64_t batch_first;
    size_t seg_bytes; /* leaf bytes in the segment being built */
    update *ups;
    size_t nups, capups;
    pending_doc *docs;
    size_t ndocs;
    char *trailer; /* commit-message trailer of the pending batch (auditfs_writer_set_trailer) */
};

static int
add_update(auditfs_writer *w, const char *path, const git_oid *id, int remove)
{
    if (w->nups == w->capups) {
        size_t cap = w->capups ? w->capups * 2 : 64;
        update *u = realloc(w->ups, cap * sizeof *u);
        if (!u)
            return afs_error_set(AUDITFS_ENOMEM, "out of memory");
        w->ups = u;
        w->capups = cap;
    }
    update *u = &w->ups[w->nups];
    u->path = strdup(path);
    if (!u->path)
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    if (id)
        git_oid_cpy(&u->id, id);
    u->remove = remove;
    w->nups++;
    return 0;
}

static void
clear_batch(auditfs_writer *w)
{
    for (size_t i = 0; i < w->nups; i++)
        free(w->ups[i].path);
    w->nups = 0;
    w->ndocs = 0;
    w->pending = 0;
    w->pending_bytes = 0;
    free(w->trailer);
    w->trailer = NULL;
}

static int
write_blob(git_oid *id, auditfs_writer *w, const void *data, size_t len)
{
    return afs_odb_write_blob(id, w->l->repo, data, len);
}

static int
full_tile_cb(unsigned level, uint64_t index, const uint8_t *hashes, void *payload)
{
    auditfs_writer *w = payload;
    char path[AUDITFS_TILE_PATH_MAX];
    git_oid id;
    if (level == 0 && w->l->format == 2)
        return 0; /* format 2 stores no level-0 tiles: readers rebuild them from the segments */
    int err = auditfs_tile_path(path, level, index, 256);
    if (!err)
        err = write_blob(&id, w, hashes, 256 * 32);
    if (!err)
        err = add_update(w, path, &id, 0);
    return err;
}

/*
 * Collects the sealed segment, if any (waits for its frame, builds the blob): writes its blob
 * and schedules it at seg/<its first seq>. An error of the helper thread surfaces here.
 */
static int
collect_sealed(auditfs_writer *w)
{
    char segpath[32];
    git_oid id;
    int err;
    if (!w->sealed)
        return 0;
    afs_seg_writer *s = &w->seg[w->cur ^ 1];
    uint8_t sha1[20];
    uint32_t crc = 0;
    int packed = 0;
    w->sealed = 0;
    afs_seg_path(segpath, s->first_seq);
    if ((err = afs_seg_writer_finish_packed(s, &w->segblob, &w->segentry, &crc, sha1,
                                            &packed)) != 0)
        return err;
    /* the helper thread hashed the blob and built its pack entry (segment.c, job_pack) */
    if (packed)
        err = afs_odb_write_blob_entry(&id, w->l->repo, sha1, w->segblob.data, w->segblob.len,
                                       w->segentry.data, w->segentry.len, crc);
    else
        err = write_blob(&id, w, w->segblob.data, w->segblob.len);
    if (err || (err = add_update(w, segpath, &id, 0)) != 0)
        return err;
    return 0;
}

/*
 * Closes the segment being built (if it holds entries): hands it to the helper thread and
 * continues in the other writer, after collecting the segment closed before. A batch may hold
 * several segments: they are cut at AFS_SEG_MAX_LEAF bytes so that reading one entry never
 * means inflating a large git object.
 */
static int
close_segment(auditfs_writer *w)
{
    int err;
    if (w->seg[w->cur].count == 0)
        return 0;
    if ((err = collect_sealed(w)) != 0 || (err = afs_seg_writer_seal(&w->seg[w->cur])) != 0)
        return err;
    w->sealed = 1;
    w->cur ^= 1;
    afs_seg_writer_reset(&w->seg[w->cur], w->tiles.size);
    w->seg_bytes = 0;
    return 0;
}

/* Both writers empty, starting at the next entry (a commit or a discard). */
static void
reset_segments(auditfs_writer *w)
{
    afs_seg_writer_reset(&w->seg[0], w->tiles.size);
    afs_seg_writer_reset(&w->seg[1], w->tiles.size);
    w->sealed = 0;
    w->seg_bytes = 0;
}

static int
lock_ledger(auditfs_writer *w, const char *path, int wait)
{
    char lp[PATH_MAX];
    snprintf(lp, sizeof lp, "%s/%s", git_repository_path(w->l->repo), AFS_LOCKFILE);
    w->lock_fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (w->lock_fd < 0)
        return afs_error_set(AUDITFS_EIO, "%s: %s", lp, strerror(errno));
    int rc;
    while ((rc = flock(w->lock_fd, LOCK_EX | (wait ? 0 : LOCK_NB))) != 0 && errno == EINTR)
        ; /* a signal (SIGTERM while waiting) is handled by the caller after the commit */
    if (rc != 0) {
        if (errno == EWOULDBLOCK)
            return afs_error_set(AUDITFS_EBUSY, "%s: another writer is appending", path);
        return afs_error_set(AUDITFS_EIO, "%s: lock: %s", lp, strerror(errno));
    }
    return 0;
}

/*
 * A writer killed while moving the ref leaves refs/heads/main.lock behind, and libgit2 then
 * refuses to lock the ref. But git itself (gc, pack-refs, an admin's update-ref) takes the same
 * lock for a moment, so a main.lock is removed only when it is provably ours: before moving
 * the ref a writer records "moving <commit id>" in auditfs.lock (under its flock, flushed with
 * the batch's syncfs), and libgit2 writes exactly "<commit id>\n" into main.lock. A lock whose
 * content is a prefix of that line (a kill may come before the write completes) was left by
 * the writer recorded there; any other lock belongs to another program and is left alone (the
 * commit then fails with EBUSY and the caller retries). The ref itself is either the old or the
 * new commit, both complete (objects are synced before the ref moves).
 */
static int
remove_own_ref_lock(auditfs_writer *w)
{
    char reflock[PATH_MAX], intent[128], held[128];
    snprintf(reflock, sizeof reflock, "%s%s.lock", git_repository_path(w->l->repo), AFS_REF);
    ssize_t n = pread(w->lock_fd, intent, sizeof intent - 1, 0);
    if (n < 0)
        return afs_error_set(AUDITFS_EIO, "%s: %s", AFS_LOCKFILE, strerror(errno));
    intent[n] = '\0';
    if (n < 8 || memcmp(intent, "moving ", 7) != 0)
        return 0;
    int fd = open(reflock, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return 0;
    ssize_t h = read(fd, held, sizeof held);
    close(fd);
    const char *want = intent + 7; /* "<hex>\n" */
    if (h >= 0 && (size_t)h <= strlen(want) && memcmp(held, want, (size_t)h) == 0 &&
        unlink(reflock) != 0 && errno != ENOENT)
        return afs_error_set(AUDITFS_EIO, "%s: %s", reflock, strerror(errno));
    return 0;
}

/* Records (or clears, with NULL) the commit this writer is about to publish: see above. */
static int
record_intent(auditfs_writer *w, const git_oid *id)
{
    char line[GIT_OID_HEXSZ + 16];
    size_t n = 0;
    if (id) {
        char hex[GIT_OID_HEXSZ + 1];
        git_oid_tostr(hex, sizeof hex, id);
        n = (size_t)snprintf(line, sizeof line, "moving %s\n", hex);
    }
    if (ftruncate(w->lock_fd, 0) != 0 || (n && pwrite(w->lock_fd, line, n, 0) != (ssize_t)n) ||
        (n && fdatasync(w->lock_fd) != 0))
        return afs_error_set(AUDITFS_EIO, "%s: %s", AFS_LOCKFILE, strerror(errno));
    return 0;
}

int
auditfs_writer_set_trailer(auditfs_writer *w, const char *text)
{
    size_t n = strlen(text);
    if (n > 65536)
        return afs_error_set(AUDITFS_ETOOBIG, "commit trailer of %zu bytes exceeds 65536", n);
    /* "Key: value" lines of printable ASCII, each ending in a newline */
    for (size_t i = 0, start = 0; i < n; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '\n') {
            if (i == start || !memchr(text + start, ':', i - start))
                return afs_error_set(AUDITFS_EINVAL, "commit trailer line is not 'Key: value'");
            start = i + 1;
        } else if (c < 0x20 || c > 0x7e) {
            return afs_error_set(AUDITFS_EINVAL, "commit trailer holds a non-printable byte");
        }
    }
    if (n && text[n - 1] != '\n')
        return afs_error_set(AUDITFS_EINVAL, "commit trailer must end with a newline");
    char *t = strdup(text);
    if (!t)
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    free(w->trailer);
    w->trailer = t;
    return 0;
}


int
auditfs_writer_open(auditfs_writer **out, const char *path, const auditfs_signer *key,
                    const auditfs_writer_options *opts)
{
    auditfs_writer *w = NULL;
    auditfs_verifier *v = NULL;
    auditfs_checkpoint cp;
    afs_buf leaf = AFS_BUF_INIT;
    int err;
    *out = NULL;
    w = calloc(1, sizeof *w);
    if (!w)
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    w->lock_fd = -1;
    w->key = key;
    if (opts)
        w->opts = *opts;
    if (w->opts.zstd_level == 0)
        w->opts.zstd_level = 1;
    if (w->opts.batch_bytes == 0)
        w->opts.batch_bytes = AUDITFS_BATCH_BYTES_DEFAULT;
    if ((err = auditfs_ledger_open(&w->l, path)) != 0)
        goto fail;
    if ((err = lock_ledger(w, path, w->opts.wait_for_lock)) != 0)
        goto fail;
    /* every object of a batch goes into one pack (odb.c, pack.c) */
    if ((err = afs_odb_batch_begin(w->l->repo)) != 0)
        goto fail;
    if ((err = remove_own_ref_lock(w)) != 0)
        goto fail;
    /* the head may have moved while we waited for the lock */
    if ((err = auditfs_ledger_refresh(w->l)) != 0)
        goto fail;
    if ((err = auditfs_signer_verifier(&v, key)) != 0)
        goto fail;
    if ((err = auditfs_checkpoint_open(&cp, w->l->cp_note, w->l->cp_note_len, v, NULL)) != 0) {
        err = afs_error_wrap(AUDITFS_EKEY,
                             "%s: the head checkpoint is not signed by key %s (not this ledger's "
                             "key, or the head is forged)",
                             path, auditfs_signer_name(key));
        goto fail;
    }
    snprintf(w->origin, sizeof w->origin, "%s", cp.origin);
    if ((err = auditfs_ledger_check_head(NULL, w->l, v)) != 0) {
        err = afs_error_wrap(AUDITFS_EVERIFY, "refusing to append to a ledger that does not verify");
        goto fail;
    }
    if (w->opts.state) {
        int rolled = 0;
        afs_test_hold("AUDITFS_TEST_HOLD_BEFORE_ROLL_FORWARD");
        if ((err = afs_trust_writer_open(w->opts.state, w->l, &rolled)) != 0)
            goto fail;
        if (rolled && (err = auditfs_ledger_check_head(&cp, w->l, v)) != 0)
            goto fail;
    }
    /* only now, with a dead writer's saved commit published (the ref names its pack), are
     * the .keep files of dead writers removed: before, a git gc could delete that pack */
    afs_odb_remove_stale_keeps(w->l->repo);
    if ((err = afs_tiles_load(&w->committed_tiles, w->l->repo, w->l->tree, cp.size)) != 0)
        goto fail;
    memset(&w->committed_last, 0, sizeof w->committed_last);
    w->committed_time = 0;
    if (cp.size > 0) {
        auditfs_entry e;
        auditfs_hash h;
        if ((err = afs_read_leaf_raw(&leaf, w->l, cp.size - 1)) != 0)
            goto fail_verify;
        auditfs_hash want;
        auditfs_leaf_hash(&h, leaf.data, leaf.len);
        /* from the tiles, not the partial tile state: at a multiple of 256 it is in a full tile */
        if ((err = afs_leaf_hash_from_tiles(&want, w->l, cp.size - 1)) != 0)
            goto fail_verify;
        if (!auditfs_hash_equal(&h, &want)) {
            err = afs_error_set(AUDITFS_EVERIFY, "entry %llu does not hash to its tile",
                                (unsigned long long)(cp.size - 1));
            goto fail_verify;
        }
        if ((err = auditfs_entry_parse(&e, (const uint8_t *)leaf.data, leaf.len)) != 0)
            goto fail_verify;
        if (e.seq != cp.size - 1) {
            err = afs_error_set(AUDITFS_EVERIFY, "the last entry says seq %llu, expected %llu",
                                (unsigned long long)e.seq, (unsigned long long)(cp.size - 1));
            goto fail_verify;
        }
        w->committed_last = h;
        w->committed_time = e.time_us;
    }
    w->tiles = w->committed_tiles;
    w->last = w->committed_last;
    w->last_time = w->committed_time;
    if ((err = afs_seg_writer_init_version(&w->seg[0], w->opts.zstd_level, 2)) != 0 ||
        (err = afs_seg_writer_init_version(&w->seg[1], w->opts.zstd_level, 2)) != 0)
        goto fail;
    reset_segments(w);
    w->batch_first = cp.size;
    auditfs_verifier_free(v);
    afs_buf_release(&leaf);
    *out = w;
    return 0;
fail_verify:
    err = afs_error_wrap(AUDITFS_EVERIFY, "refusing to append to a ledger that does not verify");
fail:
    auditfs_verifier_free(v);
    afs_buf_release(&leaf);
    auditfs_writer_free(w);
    return err;
}

size_t
auditfs_writer_pending_bytes(const auditfs_writer *w)
{
    return w->pending_bytes;
}

uint64_t
auditfs_writer_pending_count(const auditfs_writer *w)
{
    return w->pending;
}

static uint64_t
doc_next_version(auditfs_writer *w, const char *name)
{
    uint64_t v = 0;
    for (size_t i = 0; i < w->ndocs; i++)
        if (strcmp(w->docs[i].name, name) == 0 && w->docs[i].version > v)
            v = w->docs[i].version;
    if (v == 0 && auditfs_ledger_doc_latest(&v, w->l, name) != 0)
        v = 0;
    return v + 1;
}

int
auditfs_writer_add(auditfs_writer *w, auditfs_entry *e, const void *content, size_t content_len,
                   uint64_t *seq_out)
{
    int err;
    /* by the type's name parsed once (exact names only): an unknown type has no content */
    auditfs_entry_type type = auditfs_entry_type_parse(e->type);
    int is_doc = type == AUDITFS_TYPE_DOCUMENT;
    int has_content = is_doc || type == AUDITFS_TYPE_NOTICE;
    uint64_t seq = w->tiles.size;
    int64_t now = afs_now_us();
    e->seq = seq;
    /* ledger time never goes backwards, even if the clock does */
    e->time_us = now > w->last_time ? now : w->last_time;
    e->prev = w->last;
    if (has_content) {
        e->has_content = 1;
        e->content_length = content_len;
        afs_sha256(e->content_sha256, content, content_len);
        e->payload = NULL;
        e->payload_len = 0;
        if (is_doc) {
            if (!auditfs_docname_publishable(e->name))
                return afs_error_set(AUDITFS_EINVAL, "document name '%s' is not valid (or a "
                                     "segment is 'current' or v<N>.<ext>, names the mount uses)",
                                     e->name);
            e->version = doc_next_version(w, e->name);
        }
    }
    w->leaf.len = 0;
    if ((err = afs_entry_encode_buf(&w->leaf, e)) != 0)
        return err;
    if (has_content) {
        char path[AUDITFS_DOCNAME_MAX + 64];
        git_oid id;
        if (is_doc)
            snprintf(path, sizeof path, "doc/%s/v%llu", e->name, (unsigned long long)e->version);
        else
            snprintf(path, sizeof path, "notice/%llu", (unsigned long long)seq);
        if ((err = write_blob(&id, w, content, content_len)) != 0 ||
            (err = add_update(w, path, &id, 0)) != 0)
            return err;
        if (is_doc) {
            pending_doc *d = realloc(w->docs, (w->ndocs + 1) * sizeof *d);
            if (!d)
                return afs_error_set(AUDITFS_ENOMEM, "out of memory");
            w->docs = d;
            snprintf(d[w->ndocs].name, sizeof d[w->ndocs].name, "%s", e->name);
            d[w->ndocs].version = e->version;
            w->ndocs++;
        }
    }
    auditfs_hash h;
    auditfs_leaf_hash(&h, w->leaf.data, w->leaf.len);
    if (w->seg_bytes >= AFS_SEG_MAX_LEAF && (err = close_segment(w)) != 0)
        return err;
    if ((err = afs_seg_writer_add_leaf(&w->seg[w->cur], w->leaf.data, w->leaf.len, h.b)) != 0)
        return err;
    w->seg_bytes += w->leaf.len;
    if ((err = afs_tiles_push(&w->tiles, &h, full_tile_cb, w)) != 0)
        return err;
    w->last = h;
    w->last_time = e->time_us;
    w->pending++;
    w->pending_bytes += w->leaf.len;
    if (seq_out)
        *seq_out = seq;
    return 0;
}


static int
cmp_update(const void *a, const void *b)
{
    return strcmp(((const update *)a)->path, ((const update *)b)->path);
}

int
auditfs_writer_commit(auditfs_writer *w, uint64_t *size)
{
    auditfs_ledger *l = w->l;
    git_tree_update *gu = NULL;
    git_oid tree_id, commit_id, id;
    git_tree *tree = NULL;
    git_signature *sig = NULL;
    git_reference *ref = NULL;
    char *note = NULL, *msg = NULL;
    size_t note_len = 0;
    char path[AUDITFS_TILE_PATH_MAX];
    int err = 0;

    if (w->pending == 0) {
        if (size)
            *size = w->tiles.size;
        return 0;
    }
    /* the last segment of the batch, and the one before it */
    if ((err = close_segment(w)) != 0 || (err = collect_sealed(w)) != 0)
        goto fail;
    /* partial tiles: the new ones, and removal of superseded ones */
    for (unsigned lv = l->format == 2 ? 1 : 0; lv < AFS_TILE_LEVELS; lv++) {
        unsigned nw = afs_tiles_width(&w->tiles, lv);
        unsigned ow = afs_tiles_width(&w->committed_tiles, lv);
        uint64_t ni = (8 * (lv + 1) >= 64) ? 0 : w->tiles.size >> (8 * (lv + 1));
        uint64_t oi = (8 * (lv + 1) >= 64) ? 0 : w->committed_tiles.size >> (8 * (lv + 1));
        if (ow && (ow != nw || oi != ni)) {
            if ((err = auditfs_tile_path(path, lv, oi, ow)) != 0 ||
                (err = add_update(w, path, NULL, 1)) != 0)
                goto fail;
        }
        if (nw && (ow != nw || oi != ni)) {
            if ((err = auditfs_tile_path(path, lv, ni, nw)) != 0 ||
                (err = write_blob(&id, w, w->tiles.h[lv], (size_t)nw * 32)) != 0 ||
                (err = add_update(w, path, &id, 0)) != 0)
                goto fail;
        }
    }
    /* checkpoint */
    auditfs_checkpoint cp;
    snprintf(cp.origin, sizeof cp.origin, "%s", w->origin);
    cp.size = w->tiles.size;
    afs_tiles_root(&cp.root, &w->tiles);
    if ((err = auditfs_checkpoint_sign(&note, &note_len, &cp, w->key)) != 0 ||
        (err = write_blob(&id, w, note, note_len)) != 0 ||
        (err = add_update(w, "checkpoint", &id, 0)) != 0)
        goto fail;
    /* tree */
    qsort(w->ups, w->nups, sizeof *w->ups, cmp_update);
    gu = calloc(w->nups, sizeof *gu);
    if (!gu) {
        err = afs_error_set(AUDITFS_ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < w->nups; i++) {
        gu[i].action = w->ups[i].remove ? GIT_TREE_UPDATE_REMOVE : GIT_TREE_UPDATE_UPSERT;
        gu[i].filemode = GIT_FILEMODE_BLOB;
        gu[i].path = w->ups[i].path;
        if (!w->ups[i].remove)
            git_oid_cpy(&gu[i].id, &w->ups[i].id);
    }
    if (git_tree_create_updated(&tree_id, l->repo, l->tree, w->nups, gu) < 0) {
        err = afs_error_git(AUDITFS_EIO, "%s: cannot build the new tree", l->path);
        goto fail;
    }
    if (git_tree_lookup(&tree, l->repo, &tree_id) < 0 ||
        git_signature_now(&sig, "auditfs", "auditfs@localhost") < 0) {
        err = afs_error_git(AUDITFS_EIO, "%s: cannot prepare the commit", l->path);
        goto fail;
    }
    char head[128];
    snprintf(head, sizeof head, "append %llu entries: tree size %llu\n",
             (unsigned long long)w->pending, (unsigned long long)cp.size);
    /* the trailer (positions of followed inputs, a batch id) becomes durable with the batch */
    size_t tl = w->trailer ? strlen(w->trailer) : 0;
    msg = malloc(strlen(head) + tl + 2);
    if (!msg) {
        err = afs_error_set(AUDITFS_ENOMEM, "out of memory");
        goto fail;
    }
    sprintf(msg, "%s%s%s", head, tl ? "\n" : "", tl ? w->trailer : "");
    const git_commit *parents[1] = {l->head};
    if ((err = afs_commit_create_signed(&commit_id, l->repo, sig, msg, tree, 1, parents,
                                        w->key)) != 0) {
        err = afs_error_wrap(err, "%s", l->path);
        goto fail;
    }
    /* durable before published: the batch's pack (fsynced with its index and directory), a
     * syncfs only if something was written as loose objects, then the intent record that lets
     * the next writer recognise a ref lock of ours (fsynced by record_intent) */
    int loose = 1;
    if ((err = afs_odb_batch_finish(l->repo, &loose)) != 0 ||
        (loose && (err = afs_repo_sync(l->repo)) != 0) || (err = record_intent(w, &commit_id)) != 0)
        goto fail;
    /* remembered before it is published (state_int.h) */
    if (w->opts.state) {
        char hex[GIT_OID_HEXSZ + 1];
        git_oid_tostr(hex, sizeof hex, &commit_id);
        if ((err = afs_trust_writer_signed(w->opts.state, cp.origin, note, note_len, hex)) != 0)
            goto fail;
    }
    afs_test_hold("AUDITFS_TEST_HOLD_BEFORE_PUBLISH");
    /* publish: compare-and-swap so that a concurrent writer can never be overwritten */
    if (git_reference_create_matching(&ref, l->repo, AFS_REF, &commit_id, 1, &l->head_id,
                                      msg) < 0) {
        /* a lock held by git (gc, pack-refs) is EBUSY: nothing was published, retry later */
        err = afs_error_git(git_error_last() && git_error_last()->klass == GIT_ERROR_REFERENCE
                                ? AUDITFS_EBUSY : AUDITFS_EIO,
                            "%s: cannot advance %s", l->path, AFS_REF);
        goto fail;
    }
    if ((err = afs_ref_sync(l->repo, AFS_REF)) != 0)
        goto fail;
    /* reachable from the ref now: git gc may repack the batch's pack (kept until here) */
    afs_odb_batch_published(l->repo);
    /* published: a main.lock seen from now on is not ours (no fsync needed: after a power loss
     * the record can only name a commit whose lock file is gone) */
    if ((err = record_intent(w, NULL)) != 0)
        goto fail;
    /* batch packs merged geometrically, under the lock, after the publish (packmerge.c) */
    afs_pack_merge_after_publish(l->repo);
    if ((err = auditfs_ledger_refresh(l)) != 0)
        goto fail;
    w->committed_tiles = w->tiles;
    w->committed_last = w->last;
    w->committed_time = w->last_time;
    w->batch_first = w->tiles.size;
    reset_segments(w);
    clear_batch(w);
    if (size)
        *size = w->tiles.size;
    goto cleanup;
fail:
    /* the batch is lost but the ledger is untouched: roll back to the committed state */
    auditfs_writer_discard(w);
cleanup:
    git_reference_free(ref);
    git_signature_free(sig);
    git_tree_free(tree);
    free(gu);
    free(note);
    free(msg);
    return err;
}

void
auditfs_writer_discard(auditfs_writer *w)
{
    afs_odb_batch_abort(w->l->repo);
    w->tiles = w->committed_tiles;
    w->last = w->committed_last;
    w->last_time = w->committed_time;
    w->batch_first = w->tiles.size;
    reset_segments(w);
    clear_batch(w);
}

void
auditfs_writer_free(auditfs_writer *w)
{
    if (!w)
        return;
    clear_batch(w);
    free(w->ups);
    free(w->docs);
    afs_seg_writer_release(&w->seg[0]);
    afs_seg_writer_release(&w->seg[1]);
    afs_buf_release(&w->leaf);
    afs_buf_release(&w->segblob);
    afs_buf_release(&w->segentry);
    free(w->trailer);
    auditfs_ledger_free(w->l);
    if (w->lock_fd >= 0)
        close(w->lock_fd); /* releases the flock */
    free(w);
}

/* ---- init ---- */

int
auditfs_ledger_init(const char *path, const auditfs_signer *key, const char *origin)
{
    git_repository *repo = NULL;
    git_repository_init_options opts;
    git_treebuilder *tb = NULL;
    git_signature *sig = NULL;
    git_tree *tree = NULL;
    git_reference *ref = NULL;
    git_oid fmt_id, cp_id, tree_id, commit_id;
    char *note = NULL;
    size_t note_len;
    auditfs_checkpoint cp;
    int err;

    if ((err = afs_git_init_once()) != 0)
        return err;
    git_repository_init_options_init(&opts, GIT_REPOSITORY_INIT_OPTIONS_VERSION);
    if (!origin)
        origin = auditfs_signer_name(key);
    if (strlen(origin) == 0 || strlen(origin) > AUDITFS_NAME_MAX)
        return afs_error_set(AUDITFS_EINVAL, "origin must be 1-%d bytes", AUDITFS_NAME_MAX);
    if (git_repository_open_ext(NULL, path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) == 0)
        return afs_error_set(AUDITFS_EEXISTS, "%s: a repository exists there already", path);
    opts.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH |
                 GIT_REPOSITORY_INIT_NO_REINIT;
    opts.initial_head = "main";
    opts.description = "auditfs ledger";
    if (git_repository_init_ext(&repo, path, &opts) < 0)
        return afs_error_git(AUDITFS_EIO, "%s: cannot create the repository", path);
    memset(&cp, 0, sizeof cp);
    snprintf(cp.origin, sizeof cp.origin, "%s", origin);
    cp.size = 0;
    auditfs_empty_root(&cp.root);
    if ((err = auditfs_checkpoint_sign(&note, &note_len, &cp, key)) != 0)
        goto cleanup;
    /* new ledgers are format 2; AUDITFS_TEST_LEDGER_FORMAT=1 makes a format-1 ledger, for the
     * tests that compare both formats (format 1 ledgers keep being read and appended to) */
    const char *test_fmt = getenv("AUDITFS_TEST_LEDGER_FORMAT");
    const char *fmt = test_fmt && strcmp(test_fmt, "1") == 0 ? AFS_FORMAT1 : AFS_FORMAT2;
    if (git_blob_create_from_buffer(&fmt_id, repo, fmt, strlen(fmt)) < 0 ||
        git_blob_create_from_buffer(&cp_id, repo, note, note_len) < 0 ||
        git_treebuilder_new(&tb, repo, NULL) < 0 ||
        git_treebuilder_insert(NULL, tb, "checkpoint", &cp_id, GIT_FILEMODE_BLOB) < 0 ||
        git_treebuilder_insert(NULL, tb, "format", &fmt_id, GIT_FILEMODE_BLOB) < 0 ||
        git_treebuilder_write(&tree_id, tb) < 0 || git_tree_lookup(&tree, repo, &tree_id) < 0 ||
        git_signature_now(&sig, "auditfs", "auditfs@localhost") < 0 ||
        afs_commit_create_signed(&commit_id, repo, sig, "init: empty ledger\n", tree, 0, NULL,
                                 key) != 0 ||
        git_reference_create(&ref, repo, AFS_REF, &commit_id, 0, "init") < 0) {
        err = afs_error_git(AUDITFS_EIO, "%s: cannot write the initial commit", path);
        goto cleanup;
    }
    /* pack.deltaCacheSize=1 turns off delta search in libgit2 1.5 (it reads the big-file
     * threshold from that key); segments are zstd and never delta well */
    git_config *cfg = NULL;
    if (git_repository_config(&cfg, repo) == 0) {
        git_config_set_int32(cfg, "pack.deltaCacheSize", 1);
        git_config_set_bool(cfg, "core.logAllRefUpdates", 0);
        git_config_free(cfg);
    }
    if ((err = afs_repo_sync(repo)) == 0)
        err = afs_ref_sync(repo, AFS_REF);
cleanup:
    git_reference_free(ref);
    git_signature_free(sig);
    git_tree_free(tree);
    git_treebuilder_free(tb);
    git_repository_free(repo);
    free(note);
    return err;
}
