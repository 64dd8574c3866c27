/*
 * auditfs/bundle.h - incident evidence bundles and whole-ledger archives.
 *
 * A bundle is a directory (docs/FORMAT.md, "Incident bundles"):
 *   query.txt                         the recorded query: window, tenant, terms, grep, ledgers,
 *                                     the report format version
 *   ledgers/<name>/checkpoint         the signed checkpoint every proof of that ledger is against,
 *                                     with its stored cosignature lines (auditfs/witness.h)
 *   ledgers/<name>/cosignatures/<size>.checkpoint   every stored cosigned checkpoint of that
 *                                     ledger up to the bundle's size (the witnesses' receipts)
 *   ledgers/<name>/key.pub            the ledger's verifier key (for reading; verification
 *                                     trusts only keys given by the caller)
 *   ledgers/<name>/entries/<seq>.leaf the exact leaf bytes
 *   ledgers/<name>/entries/<seq>.tlog-proof   c2sp.org/tlog-proof@v1 inclusion proof
 *   ledgers/<name>/content/<seq>      content of a document or notice entry
 *   responsibility-default.json       only when no ledger published matrix/responsibility;
 *                                     then exactly auditfs_matrix_default()
 *   report.md, report.html            generated from the files above and nothing else
 *   receipts.md, receipts.jsonl       only when witness keys were given: who acknowledged each
 *                                     notice and document version (auditfs_receipts_run)
 *   MANIFEST.sha256                   "<sha256>  <path>" for every other file (sha256sum -c)
 * A bundle holds exactly the files its entries imply and its manifest lists: regular files
 * only, each within a size limit.
 */
#ifndef AUDITFS_BUNDLE_H
#define AUDITFS_BUNDLE_H

#include "ledger.h"
#include "progress.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AUDITFS_BUNDLE_MAX_LEDGERS 8
#define AUDITFS_BUNDLE_MAX_TERMS 60
#define AUDITFS_BUNDLE_GREP_MAX 1023
/** Largest file a bundle may hold (a document's content; everything else is far smaller). */
#define AUDITFS_BUNDLE_FILE_MAX ((uint64_t)1 << 30)
/** Most files a bundle may hold. */
#define AUDITFS_BUNDLE_MAX_FILES 1000000

typedef struct auditfs_bundle auditfs_bundle;

/** What an incident bundle is about. */
typedef struct auditfs_bundle_spec {
    const char *since, *until;  /* RFC 3339 or YYYY-MM-DD: the window [since, until) */
    const char *tenant;         /* NULL: the value of a _tenant= term if any, else every tenant */
    const char *const *terms;   /* query terms (auditfs/query.h) */
    size_t nterms;
    const char *grep;           /* NULL: none */
    int64_t created_us;         /* 0: now */
    auditfs_progress progress;  /* "incident", units: entries written, per ledger */
    /* witness keys (auditfs_cosig_verifier_load): n > 0 adds receipts.md and receipts.jsonl */
    const auditfs_verifier *const *witnesses;
    size_t nwitnesses;
    /* 1: select the window [since, until) by each entry's event time (its event-time header;
     * the ledger time for an entry without one) and order the timeline by it (report format 4,
     * query.txt "time event"); 0: by ledger time */
    int time_event;
} auditfs_bundle_spec;
#define AUDITFS_BUNDLE_SPEC_INIT {NULL, NULL, NULL, NULL, 0, NULL, 0, {NULL, NULL}, NULL, 0, 0}

/** One ledger a bundle draws from. */
typedef struct auditfs_bundle_source {
    const char *name;           /* 1-64 of [A-Za-z0-9._-] */
    auditfs_ledger *ledger;
    const auditfs_verifier *key; /* the head checkpoint is checked with it before bundling */
} auditfs_bundle_source;
#define AUDITFS_BUNDLE_SOURCE_INIT {NULL, NULL, NULL}

/**
 * Writes a bundle for spec from n ledgers to dir, which must not exist (EEXISTS). A spec that
 * is not usable (bad time, window empty, a term or tenant malformed, too long) is EINVAL with
 * a message naming the argument.
 */
AUDITFS_API int auditfs_bundle_create(const char *dir, const auditfs_bundle_spec *spec,
                                      const auditfs_bundle_source *src, size_t n) AUDITFS_WUR;

/**
 * Like auditfs_bundle_create, but writes the bundle as one POSIX tar file at path (which must
 * not exist); `tar xf` gives a directory named after the file (without ".tar") that
 * verify-bundle checks.
 */
AUDITFS_API int auditfs_bundle_create_tar(const char *path, const auditfs_bundle_spec *spec,
                                          const auditfs_bundle_source *src,
                                          size_t n) AUDITFS_WUR;

/** Reads a bundle (query.txt, checkpoints, entries, contents, matrix). */
AUDITFS_API int auditfs_bundle_load(auditfs_bundle **out, const char *dir) AUDITFS_WUR;
AUDITFS_API void auditfs_bundle_free(auditfs_bundle *b);
AUDITFS_API size_t auditfs_bundle_ledger_count(const auditfs_bundle *b);
AUDITFS_API const char *auditfs_bundle_ledger_name(const auditfs_bundle *b, size_t i);
/** The report format version the bundle names (1 for bundles from before versioning). */
AUDITFS_API int auditfs_bundle_report_version(const auditfs_bundle *b);

/** Kinds of finding passed to an auditfs_bundle_cb. */
typedef enum auditfs_bundle_finding {
    AUDITFS_BUNDLE_OK = 0,      /* a check that passed */
    AUDITFS_BUNDLE_FAIL = 1,    /* a check that failed */
    AUDITFS_BUNDLE_NOTE = 2,    /* something the reader should know */
    AUDITFS_BUNDLE_MISSING = 3, /* completeness: selected but not in the bundle */
    AUDITFS_BUNDLE_EXTRA = 4,   /* completeness: in the bundle but not selected */
} auditfs_bundle_finding;
/** Receives one finding; msg is data-escaped text without a trailing newline. */
typedef void (*auditfs_bundle_cb)(void *ctx, auditfs_bundle_finding kind, const char *msg);

/**
 * Checks that dir holds exactly the files MANIFEST.sha256 lists, each a regular file (no
 * symlink, FIFO or device) of at most AUDITFS_BUNDLE_FILE_MAX bytes with the listed SHA-256,
 * without reading more than that. 0 if it does; EVERIFY (findings through cb) if not.
 */
AUDITFS_API int auditfs_bundle_check_manifest(const char *dir, auditfs_bundle_cb cb,
                                              void *ctx) AUDITFS_WUR;
/**
 * Checks the facts of a loaded bundle that need no key: the files are exactly those its
 * entries imply (no unlisted ledger, leaf, proof or content file), and a default matrix is
 * exactly the built-in one. Besides those it accepts receipts.md and receipts.jsonl, and
 * ledgers/<name>/cosignatures/<size>.checkpoint when <size> is canonical decimal, at most the
 * bundle's size for that ledger, and the file is a checkpoint note of that ledger's origin and
 * that size (with the bundle's root when the size is the bundle's); anything else is a failure.
 * The signatures of those files are checked by auditfs_bundle_verify_ledger. 0 or EVERIFY.
 */
AUDITFS_API int auditfs_bundle_check_layout(const auditfs_bundle *b, auditfs_bundle_cb cb,
                                            void *ctx) AUDITFS_WUR;
/**
 * Checks ledger i of the bundle with key (never the bundle's own key.pub): the checkpoint's
 * signature, every entry's inclusion proof against it, every content against its entry, and
 * every cosignatures/<size>.checkpoint: signed by key, of that size, with the bundle's root
 * when the size is the bundle's. 0 or EVERIFY.
 */
AUDITFS_API int auditfs_bundle_verify_ledger(const auditfs_bundle *b, size_t i,
                                             const auditfs_verifier *key, auditfs_bundle_cb cb,
                                             void *ctx) AUDITFS_WUR;
/**
 * Checks the witness keys query.txt names (report 3 on; the keys the report's receipts were
 * computed with) against the keys the reader gives (same name and public key): a FAIL finding
 * for each named key not given (EVERIFY), an ok finding for each given; with nw == 0 and named
 * witnesses, one note that they were not checked (0). Nothing if query.txt names none.
 */
AUDITFS_API int auditfs_bundle_check_witness_keys(const auditfs_bundle *b,
                                                  const auditfs_verifier *const *witnesses,
                                                  size_t nw, auditfs_bundle_cb cb,
                                                  void *ctx) AUDITFS_WUR;
/**
 * Checks the cosignature lines of the given witnesses (auditfs_cosig_verifier_load) on every
 * checkpoint file of ledger i (the head and cosignatures/): each line with a witness's name and
 * key id must verify (EVERIFY otherwise); lines of other keys are carried, not checked. Reports
 * per witness how many of the checkpoints it cosigned.
 */
AUDITFS_API int auditfs_bundle_verify_witnesses(const auditfs_bundle *b, size_t i,
                                                const auditfs_verifier *const *witnesses,
                                                size_t n, auditfs_bundle_cb cb,
                                                void *ctx) AUDITFS_WUR;
/** Regenerates the reports in the version the bundle names and compares bytes. 0 or EVERIFY. */
AUDITFS_API int auditfs_bundle_verify_report(const auditfs_bundle *b, auditfs_bundle_cb cb,
                                             void *ctx) AUDITFS_WUR;
/**
 * Completeness: re-runs the bundle's selection over the first checkpoint-size entries of l (a
 * full scan, never the index) and compares it with the bundle's entries of ledger i. EVERIFY
 * if the checkpoint is not a prefix of l or the sets differ (findings through cb).
 */
AUDITFS_API int auditfs_bundle_check_complete(const auditfs_bundle *b, size_t i,
                                              auditfs_ledger *l, auditfs_bundle_cb cb,
                                              void *ctx) AUDITFS_WUR;

/**
 * Writes the whole ledger as a git bundle (v2) of refs/heads/main that stock `git clone` reads,
 * (and refs/auditfs/cosignatures when the ledger has stored cosignatures), and its head
 * checkpoint to <path>.checkpoint. Every object is read through the library's
 * checked object reader. *objects and *size (may be NULL) get the object count and tree size.
 */
AUDITFS_API int auditfs_archive_write(const char *path, auditfs_ledger *l, size_t *objects,
                                      uint64_t *size) AUDITFS_WUR;

#ifdef __cplusplus
}
#endif
#endif
