/*
 * ledger/replica.c - replicas through git: clone, sync and push (auditfs/replica.h).
 *
 * Invariant: refs/heads/main of a replica only moves to a commit that (1) has a head checkpoint
 * signed by the pinned key with the pinned origin, (2) descends from the previous local head and
 * is consistent with it by a consistency proof, (3) passed auditfs_ledger_verify_from from the
 * previous head (or a full verification for a clone), and (4) extends the checkpoint this party
 * remembers. Fetched objects are only ever reachable from AUDITFS_REPLICA_INCOMING_REF until
 * then; no other command reads that ref.
 *
 * Everything this party remembers is read and written in one section below ("verifier state"),
 * so that it can be replaced by the state module of issue 8 without touching the rest.
 */
#include "commitsig.h"
#include "cosig_int.h"
#include "publish.h"
#include "progress.h"
#include "store.h"

#include "auditfs/merkle.h"
#include "auditfs/replica.h"
#include "auditfs/state.h"
#include "auditfs/trust.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define INCOMING AUDITFS_REPLICA_INCOMING_REF

/* ---- small file helpers ---- */

static int
mkdir_p(const char *path, mode_t mode)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
        return afs_error_set(AUDITFS_EINVAL, "%s: path too long", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(tmp, mode) != 0 && errno != EEXIST)
            return afs_error_set(AUDITFS_EIO, "%s: %s", tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, mode) != 0 && errno != EEXIST)
        return afs_error_set(AUDITFS_EIO, "%s: %s", tmp, strerror(errno));
    return 0;
}

/* Writes path atomically: a temporary file, fsync, rename, fsync of the directory. */
static int
write_atomic(const char *path, const void *data, size_t len)
{
    return afs_write_atomic(path, data, len, 0644); /* fileio.c: temp, fsync, rename, fsync dir */
}

/* Percent-encodes an origin into one file name: [A-Za-z0-9._-] stay, everything else is %XX. */
static void
origin_file_name(char *out, size_t cap, const char *origin)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)origin; *p && o + 4 < cap; p++) {
        int keep = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                   (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' ||
                   (*p == '.' && p != (const unsigned char *)origin);
        if (keep) {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    out[o] = 0;
}

/* ======================================================================================
 * Verifier state: the one place where a replica reads and advances what this party saw.
 * $AUDITFS_STATE, else $XDG_STATE_HOME/auditfs, else ~/.local/state/auditfs.
 * It is the verifier's memory of auditfs/state.h (docs/FORMAT.md section 15): the pinned keys
 * and the remembered checkpoints per origin; a refused fetch's evidence goes to the origin's
 * evidence/ directory there too.
 * ====================================================================================== */

/* A copy of a verifier (the state's arrays are freed by their owner). */
static int
verifier_copy(auditfs_verifier **out, const auditfs_verifier *v)
{
    char *vk = NULL;
    int err = auditfs_verifier_format(&vk, v);
    if (!err)
        err = auditfs_verifier_parse(out, vk, strlen(vk));
    free(vk);
    return err;
}

/*
 * The key pinned for origin in the verifier's memory (auditfs/state.h; a copy in *out). given
 * (a key from the command line) must be one of the pinned keys (EKEY); with none pinned it is
 * used, and with pin set it is pinned (call that only once what it verified was accepted). No
 * key given and none pinned: ENOTFOUND naming the origin and how to pin one.
 */
static int
state_pinned_key(auditfs_verifier **out, const char *origin, const auditfs_verifier *given,
                 int pin)
{
    auditfs_state *st = NULL;
    auditfs_verifier **keys = NULL;
    size_t n = 0;
    int err;
    *out = NULL;
    if ((err = auditfs_state_open(&st, NULL)) != 0 ||
        (err = auditfs_state_keys(&keys, &n, st, origin)) != 0)
        goto cleanup;
    if (n == 0) {
        if (!given) {
            err = afs_error_set(AUDITFS_ENOTFOUND,
                                "no verifier key is pinned for origin '%s' (%s): pin one with "
                                "`auditfs trust add FILE.pub --origin '%s'`, `auditfs clone URL "
                                "DIR --key FILE.pub` or give --key FILE.pub",
                                origin, auditfs_state_path(st), origin);
            goto cleanup;
        }
        if (pin && (err = auditfs_state_pin(st, origin, given)) != 0)
            goto cleanup;
        err = verifier_copy(out, given);
        goto cleanup;
    }
    if (given) {
        int found = 0;
        for (size_t i = 0; i < n; i++)
            found |= auditfs_verifier_equal(keys[i], given);
        if (!found) {
            err = afs_error_set(AUDITFS_EKEY,
                                "the key given is not the key pinned for origin '%s' (%s): a "
                                "pinned key is never replaced silently (auditfs trust)",
                                origin, auditfs_state_path(st));
            goto cleanup;
        }
    }
    err = verifier_copy(out, given ? given : keys[0]);
cleanup:
    auditfs_state_keys_free(keys, n);
    auditfs_state_free(st);
    return err;
}

/* Evidence: a new directory under evidence/, one file per artifact, and a README. */
typedef struct evidence {
    char dir[1024];
} evidence;

static int
evidence_open(evidence *ev, const char *origin)
{
    char name[AUDITFS_NAME_MAX * 3 + 1], when[32];
    auditfs_state *st = NULL;
    time_t now = time(NULL);
    struct tm tm;
    int err = auditfs_state_open(&st, NULL);
    if (err)
        return err;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y%m%dT%H%M%SZ", &tm);
    origin_file_name(name, sizeof name, origin);
    if (snprintf(ev->dir, sizeof ev->dir, "%s/origins/%s/evidence/%s-%ld-sync",
                 auditfs_state_path(st), name, when, (long)getpid()) >= (int)sizeof ev->dir)
        err = afs_error_set(AUDITFS_EINVAL, "evidence path too long");
    auditfs_state_free(st);
    return err ? err : mkdir_p(ev->dir, 0700);
}

static int
evidence_put(const evidence *ev, const char *file, const void *data, size_t len)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", ev->dir, file);
    return write_atomic(path, data, len);
}

/*
 * Checks that the head the replica is about to take extends the checkpoints this party
 * remembers for its origin (the newest it verified and the newest it signed), by consistency
 * proofs from inc's tiles (inc's head has been checked against its signed root), then
 * remembers head_note: auditfs_trust_check. One it does not extend is a fork: *is_fork = 1 and
 * the evidence (both signed checkpoints and the proof) is in ev_out->dir. The caller has
 * verified head_note with the pinned key.
 */
static int
state_check_and_advance(int *is_fork, evidence *ev_out, auditfs_ledger *inc,
                        const auditfs_checkpoint *head, const char *head_note, size_t head_len,
                        const auditfs_verifier *key)
{
    auditfs_state *st = NULL;
    auditfs_trust_result r;
    int err;
    (void)head;
    (void)key;
    *is_fork = 0;
    ev_out->dir[0] = 0;
    if ((err = auditfs_state_open(&st, NULL)) != 0)
        return err;
    if ((err = auditfs_state_check_outside(st, inc->path)) == 0)
        err = auditfs_trust_check(&r, st, inc, head_note, head_len, 0);
    if (err == AUDITFS_EFORK) {
        *is_fork = 1;
        snprintf(ev_out->dir, sizeof ev_out->dir, "%.*s", (int)sizeof ev_out->dir - 1, r.evidence);
        err = afs_error_wrap(AUDITFS_EVERIFY, "the remote head");
    }
    auditfs_state_free(st);
    return err;
}

/* Binds the replica's directory to its origin in the verifier's memory (auditfs/state.h), so
 * every later read of it expects that ledger. */
static int
state_bind(const char *dir, const char *origin)
{
    auditfs_state *st = NULL;
    int err = auditfs_state_open(&st, NULL);
    if (!err)
        err = auditfs_state_bind(st, dir, origin);
    auditfs_state_free(st);
    return err;
}

/* Records a successful clone or sync (auditfs_state_record_sync) for `auditfs status`. */
static int
state_record_sync(const char *dir, const auditfs_replica_result *res, const char *remote,
                  const char *url)
{
    auditfs_state *st = NULL;
    auditfs_sync_record rec;
    memset(&rec, 0, sizeof rec);
    rec.time_us = afs_now_us();
    rec.size = res->new_size;
    snprintf(rec.commit, sizeof rec.commit, "%s", res->new_commit);
    snprintf(rec.origin, sizeof rec.origin, "%s", res->origin);
    snprintf(rec.remote, sizeof rec.remote, "%s", remote ? remote : "");
    snprintf(rec.url, sizeof rec.url, "%s", url ? url : "");
    int err = auditfs_state_open(&st, NULL);
    if (!err)
        err = auditfs_state_record_sync(st, dir, &rec);
    auditfs_state_free(st);
    return err;
}

/* ==================================================================================== */

static void
result_init(auditfs_replica_result *r)
{
    memset(r, 0, sizeof *r);
    r->report.bad_entry = UINT64_MAX;
}

/* A remote by name, else the string as a URL (anonymous remote). */
static int
remote_open(git_remote **out, git_repository *repo, const char *name)
{
    char abs[4096];
    if (git_remote_lookup(out, repo, name) == 0)
        return 0;
    /* a local path: libgit2's local transport wants it absolute */
    if (!strchr(name, ':') && realpath(name, abs) != NULL)
        name = abs;
    if (strchr(name, '/') || strchr(name, ':')) {
        if (git_remote_create_anonymous(out, repo, name) == 0)
            return 0;
        return afs_error_git(AUDITFS_EINVAL, "%s: not a usable remote URL", name);
    }
    return afs_error_git(AUDITFS_ENOTFOUND, "no remote named '%s'", name);
}

/*
 * The CA certificates for https:// remotes: Debian's libgit2 uses mbedTLS, which reads only the
 * bundle compiled in. GIT_SSL_CAINFO (git's variable) or SSL_CERT_FILE (OpenSSL's) name another
 * bundle, e.g. a private CA or a test server's certificate.
 */
static int
tls_setup(void)
{
    const char *ca = getenv("GIT_SSL_CAINFO");
    if (!ca || !*ca)
        ca = getenv("SSL_CERT_FILE");
    if (ca && *ca && git_libgit2_opts(GIT_OPT_SET_SSL_CERT_LOCATIONS, ca, NULL) < 0)
        return afs_error_git(AUDITFS_EINVAL, "%s: unusable CA certificate file", ca);
    return 0;
}

/* The last counts reported, so that libgit2's repeated calls with the same numbers (it calls
 * for every chunk received and every delta resolved) report each step once. */
typedef struct fetch_progress {
    unsigned int received, indexed_deltas;
} fetch_progress;

/* libgit2's transfer progress as the library's progress ("fetch" objects, "resolve" deltas). */
static int
transfer_progress_cb(const git_indexer_progress *st, void *payload)
{
    fetch_progress *fp = payload;
    if (st->received_objects < st->total_objects || st->total_deltas == 0) {
        if (st->received_objects != fp->received) {
            fp->received = st->received_objects;
            afs_progress_tick("fetch", st->received_objects, st->total_objects);
        }
    } else if (st->indexed_deltas != fp->indexed_deltas) {
        fp->indexed_deltas = st->indexed_deltas;
        afs_progress_tick("resolve", st->indexed_deltas, st->total_deltas);
    }
    return 0;
}

/*
 * Fetches the remote's refs/heads/main into INCOMING (forced: it is only ever a candidate), and
 * with cosigs its refs/auditfs/cosignatures (if any) into AFS_INCOMING_COSIG_REF.
 */
static int
fetch_incoming(git_repository *repo, git_remote *remote, int cosigs)
{
    fetch_progress fp = {0, 0};
    int err = tls_setup();
    if (err)
        return err;
    char *spec[2] = {"+refs/heads/main:" INCOMING,
                     "+" AUDITFS_COSIG_REF ":" AFS_INCOMING_COSIG_REF};
    git_strarray specs = {spec, cosigs ? 2 : 1};
    if (cosigs) {
        /* a remote without cosignatures must not leave an older fetch's copy to be read */
        git_reference *old = NULL;
        if (git_reference_lookup(&old, repo, AFS_INCOMING_COSIG_REF) == 0) {
            git_reference_delete(old);
            git_reference_free(old);
        }
    }
    git_fetch_options fo;
    git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
    fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
    fo.update_fetchhead = 0;
    fo.prune = GIT_FETCH_NO_PRUNE;
    fo.callbacks.transfer_progress = transfer_progress_cb;
    fo.callbacks.payload = &fp;
    if (git_remote_fetch(remote, &specs, &fo, "auditfs: fetch") < 0)
        return afs_error_git(AUDITFS_EIO, "fetching refs/heads/main from %s",
                             git_remote_url(remote));
    git_reference *ref = NULL;
    if (git_reference_lookup(&ref, repo, INCOMING) < 0)
        return afs_error_set(AUDITFS_ENOTFOUND, "%s has no refs/heads/main: not a ledger",
                             git_remote_url(remote));
    git_reference_free(ref);
    return 0;
}

/*
 * Writes the evidence of a refused remote head: both signed checkpoints, the remote's own
 * checkpoint at the local size if it committed one (same size, other root: two signed notes
 * that cannot both be true), the consistency proof that fails, and a README saying what was seen.
 */
static int
write_fork_evidence(auditfs_replica_result *res, auditfs_ledger *loc, auditfs_ledger *inc,
                    const char *kind, const char *remote_url, const auditfs_consistency_proof *p)
{
    evidence ev;
    afs_buf readme = AFS_BUF_INIT;
    char *note = NULL, *json = NULL;
    size_t len = 0;
    char lroot[48], rroot[48];
    int err;
    if ((err = evidence_open(&ev, res->origin)) != 0 ||
        (err = evidence_put(&ev, "local.checkpoint", loc->cp_note, loc->cp_note_len)) != 0 ||
        (err = evidence_put(&ev, "remote.checkpoint", inc->cp_note, inc->cp_note_len)) != 0)
        goto cleanup;
    if (inc->cp.size > loc->cp.size &&
        auditfs_ledger_checkpoint_at(&note, &len, inc, loc->cp.size) == 0) {
        char name[64];
        snprintf(name, sizeof name, "remote-at-%llu.checkpoint", (unsigned long long)loc->cp.size);
        if ((err = evidence_put(&ev, name, note, len)) != 0)
            goto cleanup;
    }
    if (p && p->first > 0 && auditfs_consistency_proof_to_json(&json, p) == 0 &&
        (err = evidence_put(&ev, "consistency.json", json, strlen(json))) != 0)
        goto cleanup;
    auditfs_hash_base64(lroot, &loc->cp.root);
    auditfs_hash_base64(rroot, &inc->cp.root);
    afs_buf_printf(&readme,
                   "auditfs replica evidence: %s\n"
                   "origin: %s\nremote: %s\n"
                   "local:  commit %s size %llu root %s (local.checkpoint)\n"
                   "remote: commit %s size %llu root %s (remote.checkpoint)\n\n"
                   "Both checkpoints are signed notes (c2sp.org/signed-note) by the ledger key.\n"
                   "A consistency proof (RFC 6962) from the smaller to the larger tree does not\n"
                   "exist when they disagree; consistency.json, when present, is the proof the\n"
                   "remote's tiles give, which fails. remote-at-N.checkpoint, when present, is\n"
                   "the remote's own signed checkpoint for the local size with another root.\n"
                   "The local replica was left at the local commit.\n",
                   kind, res->origin, remote_url, res->old_commit,
                   (unsigned long long)loc->cp.size, lroot, res->remote_commit,
                   (unsigned long long)inc->cp.size, rroot);
    if ((err = evidence_put(&ev, "README", readme.data, readme.len)) != 0)
        goto cleanup;
    snprintf(res->evidence, sizeof res->evidence, "%s", ev.dir);
cleanup:
    afs_buf_release(&readme);
    free(note);
    free(json);
    return err;
}

/*
 * Classifies the remote head against the local one: 0 if it is a descendant consistent with
 * it; otherwise sets res->fork/fork_kind, writes the evidence and returns EVERIFY. The proof
 * is taken from the larger tree's tiles, whose head was checked against its signed root.
 */
static int
check_extends_local(auditfs_replica_result *res, git_repository *repo, auditfs_ledger *loc,
                    auditfs_ledger *inc, const char *remote_url)
{
    auditfs_consistency_proof *p = calloc(1, sizeof *p);
    const char *kind = NULL;
    int err = 0;
    if (!p)
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    uint64_t m = loc->cp.size, n = inc->cp.size;
    int consistent;
    if (m == n) {
        consistent = auditfs_hash_equal(&loc->cp.root, &inc->cp.root);
    } else {
        auditfs_ledger *big = m < n ? inc : loc;
        uint64_t lo = m < n ? m : n, hi = m < n ? n : m;
        const auditfs_hash *rlo = m < n ? &loc->cp.root : &inc->cp.root;
        const auditfs_hash *rhi = m < n ? &inc->cp.root : &loc->cp.root;
        if (lo == 0) {
            consistent = 1;
        } else if ((err = auditfs_ledger_prove_consistency(p, big, lo, hi)) != 0) {
            consistent = 0; /* the tiles cannot even give a proof */
            err = 0;
        } else {
            consistent =
                auditfs_merkle_verify_consistency(lo, hi, rlo, rhi, p->path, p->path_len) == 0;
        }
    }
    int descends = git_oid_equal(&inc->head_id, &loc->head_id) ||
                   git_graph_descendant_of(repo, &inc->head_id, &loc->head_id) == 1;
    if (!consistent)
        kind = n < m ? "split view (a rollback to another history)" : "split view";
    else if (n < m)
        kind = "rollback";
    else if (!descends)
        kind = "rewrite";
    if (kind) {
        res->fork = 1;
        res->fork_kind = kind;
        if ((err = write_fork_evidence(res, loc, inc, kind, remote_url, consistent ? NULL : p)) ==
            0)
            err = afs_error_set(AUDITFS_EVERIFY,
                                "%s: the remote head (commit %.12s, size %llu) does not extend "
                                "the local head (commit %.12s, size %llu); the replica was left "
                                "where it was; evidence in %s",
                                kind, res->remote_commit, (unsigned long long)n,
                                res->old_commit, (unsigned long long)m, res->evidence);
    }
    free(p);
    return err;
}

/*
 * The common part of clone and sync once INCOMING is fetched: check the remote head, verify what
 * is new, consult the state, and move refs/heads/main. loc is NULL for a clone.
 */
static int
take_incoming(auditfs_replica_result *res, const char *dir, git_repository *repo,
              auditfs_ledger *loc, const auditfs_verifier *key, const char *want_origin,
              const char *remote_url)
{
    auditfs_ledger *inc = NULL;
    auditfs_checkpoint head;
    evidence ev;
    int err, is_fork = 0;

    if ((err = afs_ledger_open_ref(&inc, dir, INCOMING)) != 0)
        return afs_error_wrap(err, "the fetched history");
    git_oid_tostr(res->remote_commit, sizeof res->remote_commit, &inc->head_id);
    res->remote_size = inc->cp.size;
    /* the remote head's signature and origin before anything else is looked at */
    if ((err = auditfs_ledger_check_head(&head, inc, key)) != 0) {
        err = afs_error_wrap(AUDITFS_EVERIFY, "%s (commit %.12s)", remote_url,
                             res->remote_commit);
        goto cleanup;
    }
    const char *expect = want_origin ? want_origin : loc ? loc->cp.origin : NULL;
    if (expect && strcmp(head.origin, expect) != 0) {
        err = afs_error_set(AUDITFS_EVERIFY,
                            "%s serves the ledger of origin '%s', not '%s'", remote_url,
                            head.origin, expect);
        goto cleanup;
    }
    snprintf(res->origin, sizeof res->origin, "%s", head.origin);
    if (loc) {
        if ((err = check_extends_local(res, repo, loc, inc, remote_url)) != 0)
            goto cleanup;
        if (git_oid_equal(&inc->head_id, &loc->head_id)) {
            res->new_size = loc->cp.size;
            snprintf(res->new_commit, sizeof res->new_commit, "%s", res->old_commit);
        }
        if ((err = auditfs_ledger_verify_from(&res->report, inc, key, res->old_commit)) != 0)
            goto cleanup;
    } else if ((err = auditfs_ledger_verify_from(&res->report, inc, key, NULL)) != 0) {
        goto cleanup;
    }
    if ((err = state_check_and_advance(&is_fork, &ev, inc, &head, inc->cp_note,
                                       inc->cp_note_len, key)) != 0) {
        if (is_fork) {
            res->fork = 1;
            res->fork_kind = "rollback or split view (against the remembered checkpoint)";
            snprintf(res->evidence, sizeof res->evidence, "%s", ev.dir);
            afs_error_wrap(err, "%s; evidence in %s", res->fork_kind, ev.dir);
        }
        goto cleanup;
    }
    res->new_commits = res->report.commits;
    if (loc && git_oid_equal(&inc->head_id, &loc->head_id))
        goto cleanup; /* up to date */
    /* publish: the fetched pack is durable before the ref names it; compare-and-swap */
    if ((err = afs_repo_sync(repo)) != 0 ||
        (err = afs_ref_publish(repo, AFS_REF, &inc->head_id, loc ? &loc->head_id : NULL,
                               loc ? "auditfs sync" : "auditfs clone", dir)) != 0)
        goto cleanup;
    git_oid_tostr(res->new_commit, sizeof res->new_commit, &inc->head_id);
    res->new_size = inc->cp.size;
cleanup:
    auditfs_ledger_free(inc);
    return err;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/*
 * Long because a clone is one transaction (create, configure, fetch, verify and pin, publish)
 * whose every failure must remove what it created: one cleanup path for all of them.
 */
static int import_cosigs(auditfs_replica_result *out, const char *dir, const auditfs_policy *p);
static int witnessed_target(auditfs_replica_result *res, const char *dir, git_repository *repo,
                            auditfs_ledger *loc, const auditfs_verifier *key,
                            const auditfs_policy *p, int64_t max_age, uint64_t now,
                            const char *remote_url);

/* clone, with a witness policy p (NULL: none): the replica starts at a witnessed checkpoint */
static int
clone_impl(auditfs_replica_result *out, const char *url, const char *dir,
           const auditfs_verifier *key, const char *origin, const char *remote_name,
           const auditfs_policy *p, int64_t max_age, uint64_t now)
{
    git_repository *repo = NULL;
    git_remote *remote = NULL;
    git_repository_init_options opts;
    auditfs_verifier *pinned = NULL;
    git_config *cfg = NULL;
    struct stat st;
    int err;

    result_init(out);
    if (!remote_name)
        remote_name = "origin";
    if ((err = afs_git_init_once()) != 0)
        return err;
    int created = stat(dir, &st) != 0;
    if (!created) {
        DIR *d = opendir(dir);
        struct dirent *de;
        int empty = d != NULL;
        while (d && (de = readdir(d)) != NULL)
            if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                empty = 0;
        if (d)
            closedir(d);
        if (!empty)
            return afs_error_set(AUDITFS_EEXISTS, "%s exists and is not an empty directory", dir);
    }
    git_repository_init_options_init(&opts, GIT_REPOSITORY_INIT_OPTIONS_VERSION);
    opts.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH |
                 GIT_REPOSITORY_INIT_NO_REINIT;
    opts.initial_head = "main";
    opts.description = "auditfs ledger replica";
    if (git_repository_init_ext(&repo, dir, &opts) < 0)
        return afs_error_git(AUDITFS_EIO, "%s: cannot create the repository", dir);
    if (git_repository_config(&cfg, repo) == 0) {
        git_config_set_int32(cfg, "pack.deltaCacheSize", 1);
        git_config_free(cfg);
    }
    /* a local path is saved absolute, so that sync works from any directory */
    char abs[4096];
    if (!strchr(url, ':') && realpath(url, abs) != NULL)
        url = abs;
    if (git_remote_create_with_fetchspec(&remote, repo, remote_name, url,
                                         "+refs/heads/main:" INCOMING) < 0) {
        err = afs_error_git(AUDITFS_EINVAL, "%s: cannot add the remote", url);
        goto cleanup;
    }
    if ((err = fetch_incoming(repo, remote, p != NULL)) != 0)
        goto cleanup;
    /* the remote head's origin decides which pinned key applies; it is checked against it */
    {
        auditfs_ledger *inc = NULL;
        if ((err = afs_ledger_open_ref(&inc, dir, INCOMING)) != 0)
            goto cleanup;
        char o[AUDITFS_NAME_MAX + 1];
        snprintf(o, sizeof o, "%s", origin ? origin : inc->cp.origin);
        auditfs_ledger_free(inc);
        if ((err = state_pinned_key(&pinned, o, key, 0)) != 0)
            goto cleanup;
    }
    if (p && (err = witnessed_target(out, dir, repo, NULL, pinned, p, max_age, now, url)) != 0)
        goto cleanup;
    uint64_t remote_head = out->remote_size;
    err = take_incoming(out, dir, repo, NULL, pinned, origin, url);
    if (out->remote_size < remote_head)
        out->remote_size = remote_head; /* INCOMING was moved back to the witnessed commit */
    if (!err && p)
        err = import_cosigs(out, dir, p);
    if (!err) {
        auditfs_verifier *again = NULL;
        err = state_pinned_key(&again, out->origin, key, 1);
        auditfs_verifier_free(again);
        if (!err)
            err = state_bind(dir, out->origin);
        if (!err)
            err = state_record_sync(dir, out, remote_name, url);
    }
cleanup:
    auditfs_verifier_free(pinned);
    git_remote_free(remote);
    git_repository_free(repo);
    /* a clone that failed leaves nothing behind: a directory it created is removed, an empty
     * directory it was given is emptied again (the checks above ensure it held nothing) */
    if (err) {
        nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        if (!created)
            mkdir(dir, st.st_mode & 07777);
    }
    return err;
}

/*
 * With a witness policy: the newest commit of INCOMING whose checkpoint the quorum vouches for
 * (afs_quorum_walk, cosignatures fetched with it). INCOMING is moved back to that commit when it
 * is older than the remote head, so take_incoming verifies and takes exactly that; the later
 * checkpoints a counted witness cosigned are verified too and kept as AFS_WITNESS_TAIL_REF, so
 * that the replica's own history proves what was counted (section 12.6.1). If the quorum vouches
 * for nothing beyond the local head (loc NULL for a clone: nothing at all), the remote is still
 * checked for a fork (which wins: it has evidence) and then EVERIFY with out->unwitnessed set.
 */
static int
witnessed_target(auditfs_replica_result *res, const char *dir, git_repository *repo,
                 auditfs_ledger *loc, const auditfs_verifier *key, const auditfs_policy *p,
                 int64_t max_age, uint64_t now, const char *remote_url)
{
    auditfs_ledger *inc = NULL, *tail = NULL;
    git_reference *ref = NULL;
    afs_witnessed w;
    uint64_t have = loc ? loc->cp.size : 0;
    int err;
    if ((err = afs_ledger_open_ref(&inc, dir, INCOMING)) != 0)
        return afs_error_wrap(err, "the fetched history");
    if ((err = auditfs_ledger_check_head(NULL, inc, key)) != 0) {
        err = afs_error_wrap(AUDITFS_EVERIFY, "%s", remote_url);
        goto cleanup;
    }
    res->remote_size = inc->cp.size;
    if (loc && inc->cp.size <= loc->cp.size)
        goto cleanup; /* nothing new to vouch for: the usual checks decide */
    if ((err = afs_quorum_walk(&w, inc, AFS_INCOMING_COSIG_REF, key, p, max_age, now,
                               have + 1)) != 0)
        goto cleanup;
    res->witnessed_size = w.size;
    if (w.size == 0) {
        git_oid_tostr(res->remote_commit, sizeof res->remote_commit, &inc->head_id);
        snprintf(res->origin, sizeof res->origin, "%s", inc->cp.origin);
        if (loc && (err = check_extends_local(res, repo, loc, inc, remote_url)) != 0)
            goto cleanup;
        res->unwitnessed = 1;
        if (loc)
            err = afs_error_set(AUDITFS_EVERIFY,
                                "the remote head (size %llu) lacks its witness quorum%s, and so "
                                "does every checkpoint after the local head (size %llu): the "
                                "replica stays where it was",
                                (unsigned long long)inc->cp.size,
                                max_age >= 0 ? " within --max-age" : "",
                                (unsigned long long)loc->cp.size);
        else
            err = afs_error_set(AUDITFS_EVERIFY,
                                "the remote head (size %llu) lacks its witness quorum%s, and so "
                                "does every earlier checkpoint: nothing to clone",
                                (unsigned long long)inc->cp.size,
                                max_age >= 0 ? " within --max-age" : "");
        goto cleanup;
    }
    /* the tail: from the witnessed checkpoint up to the newest one a counted witness cosigned */
    if (w.top > w.size) {
        char from[GIT_OID_HEXSZ + 1];
        auditfs_verify_report rep;
        if (git_reference_create(&ref, repo, AFS_WITNESS_TAIL_REF, &w.top_commit, 1,
                                 "auditfs sync: witnessed tail") < 0) {
            err = afs_error_git(AUDITFS_EIO, "%s: cannot set %s", dir, AFS_WITNESS_TAIL_REF);
            goto cleanup;
        }
        git_reference_free(ref);
        ref = NULL;
        if (loc)
            git_oid_tostr(from, sizeof from, &loc->head_id);
        if ((err = afs_ledger_open_ref(&tail, dir, AFS_WITNESS_TAIL_REF)) != 0 ||
            (err = auditfs_ledger_verify_from(&rep, tail, key, loc ? from : NULL)) != 0) {
            err = afs_error_wrap(err, "%s: the checkpoints after the witnessed one (up to size "
                                 "%llu)", remote_url, (unsigned long long)w.top);
            if (git_reference_lookup(&ref, repo, AFS_WITNESS_TAIL_REF) == 0)
                git_reference_delete(ref);
            goto cleanup;
        }
    } else if (git_reference_lookup(&ref, repo, AFS_WITNESS_TAIL_REF) == 0) {
        git_reference_delete(ref); /* the new head is the newest cosigned: no tail */
        git_reference_free(ref);
        ref = NULL;
    }
    git_error_clear();
    if (w.size < inc->cp.size &&
        git_reference_create(&ref, repo, INCOMING, &w.commit, 1, "auditfs sync: witnessed") < 0)
        err = afs_error_git(AUDITFS_EIO, "%s: cannot move %s", dir, INCOMING);
cleanup:
    git_reference_free(ref);
    auditfs_ledger_free(tail);
    auditfs_ledger_free(inc);
    return err;
}

/*
 * The witnesses' lines for what the replica now holds travel with it: up to the head, and up to
 * the tail's head when sync kept one (checked against the tail's history, which contains the
 * head's).
 */
static int
import_cosigs(auditfs_replica_result *out, const char *dir, const auditfs_policy *p)
{
    auditfs_ledger *dst = NULL, *inc = NULL;
    git_oid tail;
    int err, has_tail = 0;
    if ((err = auditfs_ledger_open(&dst, dir)) != 0)
        return err;
    if (git_reference_name_to_id(&tail, dst->repo, AFS_WITNESS_TAIL_REF) == 0 &&
        git_graph_descendant_of(dst->repo, &tail, &dst->head_id) == 1)
        has_tail = 1;
    git_error_clear();
    if (has_tail) {
        auditfs_ledger_free(dst);
        dst = NULL;
        if ((err = afs_ledger_open_ref(&dst, dir, AFS_WITNESS_TAIL_REF)) != 0)
            return err;
    }
    if ((err = afs_ledger_open_ref(&inc, dir, INCOMING)) == 0)
        err = afs_cosig_import(&out->cosignatures_added, &out->cosignatures_skipped, dst, inc,
                               AFS_INCOMING_COSIG_REF, p, dst->cp.size);
    auditfs_ledger_free(inc);
    auditfs_ledger_free(dst);
    return err;
}

/* The common part of sync with and without a witness policy (p NULL: without). */
static int
sync_impl(auditfs_replica_result *out, const char *dir, const char *remote_name,
          const auditfs_verifier *key, const auditfs_policy *p, int64_t max_age, uint64_t now)
{
    auditfs_ledger *loc = NULL;
    git_repository *repo = NULL;
    git_remote *remote = NULL;
    auditfs_verifier *pinned = NULL;
    int err;

    result_init(out);
    if (!remote_name)
        remote_name = "origin";
    if ((err = auditfs_ledger_open(&loc, dir)) != 0)
        return err;
    snprintf(out->origin, sizeof out->origin, "%s", loc->cp.origin);
    git_oid_tostr(out->old_commit, sizeof out->old_commit, &loc->head_id);
    out->old_size = out->new_size = loc->cp.size;
    snprintf(out->new_commit, sizeof out->new_commit, "%s", out->old_commit);
    /* the origin named by the (unverified) local head only selects the pinned key; the head
     * is then checked with it, so a wrong origin fails instead of choosing a key */
    if ((err = state_pinned_key(&pinned, loc->cp.origin, key, 0)) != 0)
        goto cleanup;
    if ((err = auditfs_ledger_check_head(NULL, loc, pinned)) != 0) {
        err = afs_error_wrap(err, "%s (the local replica)", dir);
        goto cleanup;
    }
    if (git_repository_open_ext(&repo, dir, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0) {
        err = afs_error_git(AUDITFS_EIO, "%s: cannot open the repository", dir);
        goto cleanup;
    }
    if ((err = remote_open(&remote, repo, remote_name)) != 0 ||
        (err = fetch_incoming(repo, remote, p != NULL)) != 0)
        goto cleanup;
    if (p && (err = witnessed_target(out, dir, repo, loc, pinned, p, max_age, now,
                                     git_remote_url(remote))) != 0)
        goto cleanup;
    uint64_t remote_head = out->remote_size;
    err = take_incoming(out, dir, repo, loc, pinned, NULL, git_remote_url(remote));
    if (out->remote_size < remote_head)
        out->remote_size = remote_head; /* INCOMING was moved back to the witnessed commit */
    if (!err && key) {
        auditfs_verifier *again = NULL;
        err = state_pinned_key(&again, out->origin, key, 1);
        auditfs_verifier_free(again);
    }
    if (!err && p)
        err = import_cosigs(out, dir, p);
    if (!err)
        err = state_record_sync(dir, out, remote_name, git_remote_url(remote));
cleanup:
    auditfs_verifier_free(pinned);
    git_remote_free(remote);
    git_repository_free(repo);
    auditfs_ledger_free(loc);
    return err;
}

int
auditfs_replica_sync(auditfs_replica_result *out, const char *dir, const char *remote_name,
                     const auditfs_verifier *key)
{
    return sync_impl(out, dir, remote_name, key, NULL, -1, 0);
}

int
auditfs_replica_sync_witnessed(auditfs_replica_result *out, const char *dir,
                               const char *remote_name, const auditfs_verifier *key,
                               const auditfs_policy *p, int64_t max_age, uint64_t now)
{
    if (!p) {
        result_init(out);
        return afs_error_set(AUDITFS_EINVAL, "auditfs_replica_sync_witnessed: no policy");
    }
    return sync_impl(out, dir, remote_name, key, p, max_age, now);
}

int
auditfs_replica_clone(auditfs_replica_result *out, const char *url, const char *dir,
                      const auditfs_verifier *key, const char *origin, const char *remote_name)
{
    return clone_impl(out, url, dir, key, origin, remote_name, NULL, -1, 0);
}

int
auditfs_replica_clone_opts(auditfs_replica_result *out, const char *url, const char *dir,
                           const auditfs_verifier *key, const char *origin,
                           const char *remote_name, const auditfs_replica_options *opts)
{
    const auditfs_progress *prev = afs_progress_begin(opts ? &opts->progress : NULL);
    int err = clone_impl(out, url, dir, key, origin, remote_name, opts ? opts->policy : NULL,
                         opts && opts->max_age > 0 ? opts->max_age : -1, opts ? opts->now : 0);
    afs_progress_end(prev);
    return err;
}

int
auditfs_replica_sync_opts(auditfs_replica_result *out, const char *dir, const char *remote_name,
                          const auditfs_verifier *key, const auditfs_replica_options *opts)
{
    const auditfs_progress *prev = afs_progress_begin(opts ? &opts->progress : NULL);
    int err = opts && opts->policy
                  ? auditfs_replica_sync_witnessed(out, dir, remote_name, key, opts->policy,
                                                   opts->max_age > 0 ? opts->max_age : -1,
                                                   opts->now)
                  : auditfs_replica_sync(out, dir, remote_name, key);
    afs_progress_end(prev);
    return err;
}

/* ---- push ---- */

typedef struct push_status {
    char msg[256];
    int rejected;
} push_status;

static int
push_update_cb(const char *refname, const char *status, void *data)
{
    push_status *ps = data;
    if (status) {
        ps->rejected = 1;
        snprintf(ps->msg, sizeof ps->msg, "%s: %s", refname, status);
    }
    return 0;
}

int
auditfs_replica_push(auditfs_replica_result *out, const char *dir, const char *remote_name)
{
    auditfs_ledger *loc = NULL;
    git_repository *repo = NULL;
    git_remote *remote = NULL;
    const git_remote_head **heads = NULL;
    size_t nheads = 0;
    push_status ps;
    git_remote_callbacks cb;
    git_push_options po;
    int err;

    result_init(out);
    memset(&ps, 0, sizeof ps);
    if ((err = auditfs_ledger_open(&loc, dir)) != 0)
        return err;
    snprintf(out->origin, sizeof out->origin, "%s", loc->cp.origin);
    git_oid_tostr(out->new_commit, sizeof out->new_commit, &loc->head_id);
    out->new_size = loc->cp.size;
    if (git_repository_open_ext(&repo, dir, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0) {
        err = afs_error_git(AUDITFS_EIO, "%s: cannot open the repository", dir);
        goto cleanup;
    }
    if ((err = remote_open(&remote, repo, remote_name)) != 0)
        goto cleanup;
    if ((err = tls_setup()) != 0)
        goto cleanup;
    git_remote_init_callbacks(&cb, GIT_REMOTE_CALLBACKS_VERSION);
    cb.push_update_reference = push_update_cb;
    cb.payload = &ps;
    /* one connection: the remote's main is read, checked and updated against that value, so
     * a concurrent push in between makes the remote refuse ours instead of being overwritten */
    if (git_remote_connect(remote, GIT_DIRECTION_PUSH, &cb, NULL, NULL) < 0) {
        err = afs_error_git(AUDITFS_EIO, "cannot connect to %s", git_remote_url(remote));
        goto cleanup;
    }
    if (git_remote_ls(&heads, &nheads, remote) < 0) {
        err = afs_error_git(AUDITFS_EIO, "cannot list the refs of %s", git_remote_url(remote));
        goto cleanup;
    }
    /* the cosignatures travel too (FORMAT.md 12.2): the side ref only moves forward, so it is
     * pushed only when the remote has none or an ancestor of ours; a remote whose side ref went
     * elsewhere keeps it (the ledger push is not refused for that) */
    git_oid cosig_id;
    int have_cosig = git_reference_name_to_id(&cosig_id, repo, AUDITFS_COSIG_REF) == 0;
    int push_main = 1, push_cosig = have_cosig;
    for (size_t i = 0; i < nheads; i++) {
        if (have_cosig && strcmp(heads[i]->name, AUDITFS_COSIG_REF) == 0)
            push_cosig = !git_oid_equal(&heads[i]->oid, &cosig_id) &&
                         git_graph_descendant_of(repo, &cosig_id, &heads[i]->oid) == 1;
        if (strcmp(heads[i]->name, AFS_REF) != 0)
            continue;
        const git_oid *rid = &heads[i]->oid;
        git_oid_tostr(out->remote_commit, sizeof out->remote_commit, rid);
        if (git_oid_equal(rid, &loc->head_id)) {
            push_main = 0; /* up to date */
            continue;
        }
        if (git_graph_descendant_of(repo, &loc->head_id, rid) != 1) {
            out->fork = 1;
            out->fork_kind = "rewrite";
            err = afs_error_set(AUDITFS_EVERIFY,
                                "%s holds commit %.12s on %s, which is not in this ledger's "
                                "history: refusing anything but a fast-forward",
                                git_remote_url(remote), out->remote_commit, AFS_REF);
            goto cleanup;
        }
    }
    git_error_clear();
    if (!push_main && !push_cosig)
        goto cleanup; /* up to date */
    /* no '+': the remote must fast-forward too */
    char *spec[2];
    size_t nspec = 0;
    if (push_main)
        spec[nspec++] = AFS_REF ":" AFS_REF;
    if (push_cosig)
        spec[nspec++] = AUDITFS_COSIG_REF ":" AUDITFS_COSIG_REF;
    git_strarray specs = {spec, nspec};
    git_push_options_init(&po, GIT_PUSH_OPTIONS_VERSION);
    po.callbacks = cb;
    if (git_remote_upload(remote, &specs, &po) < 0 ||
        git_remote_update_tips(remote, &cb, 0, GIT_REMOTE_DOWNLOAD_TAGS_NONE, NULL) < 0) {
        err = afs_error_git(AUDITFS_EIO, "pushing to %s", git_remote_url(remote));
        goto cleanup;
    }
    if (ps.rejected) {
        err = afs_error_set(AUDITFS_EIO, "%s refused the push: %s", git_remote_url(remote),
                            ps.msg);
        goto cleanup;
    }
    out->cosignatures_pushed = push_cosig;
    if (!push_main)
        goto cleanup;
    out->new_commits = 1;
cleanup:
    if (remote)
        git_remote_disconnect(remote);
    git_remote_free(remote);
    git_repository_free(repo);
    auditfs_ledger_free(loc);
    return err;
}
