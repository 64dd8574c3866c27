/* ledger/bundle_int.h - the in-memory incident bundle, shared by bundle.c and report.c. */
#ifndef AUDITFS_BUNDLE_INT_H
#define AUDITFS_BUNDLE_INT_H

#include "auditfs/bundle.h"
#include "auditfs/cosig.h"
#include "auditfs/matrix.h"
#include "auditfs/query.h"
#include "auditfs/report.h"
#include "internal.h"

/** Most witness keys a bundle names (the tlog-policy limit). */
#define AFS_BUNDLE_MAX_WITNESSES 64

typedef struct afs_bentry {
    int ledger;
    auditfs_entry e;
    uint8_t *leaf;
    size_t leaf_len;
    uint8_t *content;
    size_t content_len;
    int hit; /* selected by the query (else context: documents, notices) */
} afs_bentry;

struct auditfs_bundle {
    char *dir;
    int report_version;
    char tool[32]; /* the auditfs version that wrote it (query.txt "tool", report 2 on) */
    char since[64], until[64], tenant[AUDITFS_STREAM_MAX + 1], created[40];
    char grep[AUDITFS_BUNDLE_GREP_MAX + 1];
    int64_t t1, t2;
    int time_event; /* report 4 on (query.txt "time event"): the window is by event time */
    char *terms[AUDITFS_BUNDLE_MAX_TERMS];
    size_t nterms;
    size_t nledgers;
    char lname[AUDITFS_BUNDLE_MAX_LEDGERS][AUDITFS_STREAM_MAX + 1];
    char *cp_note[AUDITFS_BUNDLE_MAX_LEDGERS];
    size_t cp_len[AUDITFS_BUNDLE_MAX_LEDGERS];
    auditfs_checkpoint cp[AUDITFS_BUNDLE_MAX_LEDGERS];
    uint32_t key_id[AUDITFS_BUNDLE_MAX_LEDGERS]; /* from key.pub (informative; 0: unreadable) */
    char key_name[AUDITFS_BUNDLE_MAX_LEDGERS][128];
    auditfs_verifier *key[AUDITFS_BUNDLE_MAX_LEDGERS]; /* key.pub parsed; NULL: unreadable */
    /* the canonical sizes of ledgers/<name>/cosignatures/<size>.checkpoint, ascending (the
     * files are read by the checks that need them) */
    uint64_t *cosig[AUDITFS_BUNDLE_MAX_LEDGERS];
    size_t ncosig[AUDITFS_BUNDLE_MAX_LEDGERS];
    afs_bentry *e;
    size_t n, cap;
    /* the responsibility matrix in force at the start of the window */
    auditfs_matrix *m;       /* NULL: none usable */
    char matrix_source[200]; /* where it came from, or why it is unusable */
    int matrix_default;      /* taken from responsibility-default.json */
    int matrix_default_exact; /* ... and it is byte for byte the built-in default */
    int has_matrix_doc;      /* some ledger's matrix/responsibility is in the bundle */
    auditfs_query *q;        /* terms + window + grep */
    /* report 3 on: the witness keys named when the bundle was written (query.txt "witness"
     * lines, cosignature vkeys), whose receipts the report lists; informative like key.pub */
    auditfs_verifier *witness[AFS_BUNDLE_MAX_WITNESSES];
    size_t nwitness;
};

/**
 * The checkpoint note ledgers/<name>/cosignatures/<size>.checkpoint of ledger li when it passes
 * the layout's checks (origin, size, root at the bundle's size; no signature checked), malloc'd;
 * EVERIFY naming why not.
 */
int afs_bundle_cosig_note(char **note, size_t *len, const auditfs_bundle *b, size_t li,
                          uint64_t size);

/** The current report format version (report.c). */
#define AFS_REPORT_CURRENT AUDITFS_REPORT_CURRENT

/** The query of the bundle: its terms, the window (by ledger time only) and the grep. */
int afs_bundle_query(auditfs_query **out, const auditfs_bundle *b);

/** The time an entry is placed at in b's window and timeline: with "time event", its event
 * time when it has one, else its ledger time. */
int64_t afs_bundle_when(const auditfs_bundle *b, const auditfs_entry *e);
/** 1 if e is inside b's window [t1, t2) by that time. */
int afs_bundle_in_window(const auditfs_bundle *b, const auditfs_entry *e);

#endif
