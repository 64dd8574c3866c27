/* cli/cli.h - shared helpers of the auditfs command. */
#ifndef AUDITFS_CLI_H
#define AUDITFS_CLI_H

#include "auditfs/ledger.h"
#include "auditfs/policy.h"

#include <stdio.h>

/* Exit codes (documented in README.md and `auditfs --help`). */
enum {
    EXIT_OK = 0,
    EXIT_VERIFY = 1,   /* verification failed: tampering, forgery, rollback */
    EXIT_USAGE = 2,    /* bad command line */
    EXIT_DATA = 3,     /* bad input data: records, keys, proofs, checkpoints, expressions */
    EXIT_IO = 4,       /* file system or repository error */
    EXIT_KEY = 5,      /* unusable key: loose mode, not the ledger's key */
    EXIT_BUSY = 6,     /* another appender holds the ledger */
    EXIT_NOTFOUND = 7, /* no such ledger, entry, document */
};

/** Maps a library error code to an exit code. */
int cli_exit_code(int err);
/** Prints "auditfs: <context>: <auditfs_error_last()>" and returns the exit code for err. */
int cli_fail(int err, const char *context);
__attribute__((format(printf, 1, 2))) int cli_usage_error(const char *fmt, ...);
/** The ledger directory from --ledger or $AUDITFS_LEDGER. */
const char *cli_ledger_path(const char *opt);
int cli_parse_u64(uint64_t *out, const char *s, const char *what);

int cmd_mount(int argc, char **argv);
int cmd_query(int argc, char **argv);
int cmd_index(int argc, char **argv);
int cmd_incident(int argc, char **argv);
int cmd_verify_bundle(int argc, char **argv);
int cmd_archive(int argc, char **argv);
/** Brings the query index up to date after a write; warns (never fails) if it cannot. */
void cli_index_after_write(const char *ledger_path);
int cmd_umount(int argc, char **argv);
/* cli/cmd_witness.c: cosign, cosignatures, witness serve|request, acks */
int cmd_cosign_main(int argc, char **argv);
int cmd_cosignatures_main(int argc, char **argv);
int cmd_witness_main(int argc, char **argv);
int cmd_acks_main(int argc, char **argv);
/** verify's witness options: --witness KEY.pub... [--quorum K] | --policy FILE; --max-age D. */
struct cli_witness_opts {
    const char *keys[64];
    size_t nkeys;
    const char *quorum, *policy, *max_age;
};
/**
 * `witness request` for the ledger at path: specs are URL=KEY.pub; each cosignature obtained is
 * reported on out, refusals on stderr; returns an exit code.
 */
int cli_witness_request(FILE *out, const char *ledger, const char *const *specs, size_t n,
                        long timeout);
/**
 * Writes DIR/receipts.md and DIR/receipts.jsonl (incident bundles): per ledger, every notice and
 * document version up to cps[i].size (tenant filter) with each witness's earliest covering
 * cosignature. Returns 0 or an auditfs error code.
 */
int cli_witness_receipts(const char *dir, auditfs_ledger *const *ls,
                         const auditfs_verifier *const *lkeys, const char *const *names,
                         const auditfs_checkpoint *cps, size_t nl, const char *const *wkeys,
                         size_t nw, const char *tenant);
/**
 * The policy the options describe (*out NULL when no witness option was given) and --max-age in
 * seconds (-1: none). Prints usage or load errors; returns an exit code.
 */
int cli_witness_policy(auditfs_policy **out, int64_t *max_age, const struct cli_witness_opts *o);
/** Checks the head's cosignatures against the options (0 if none given); prints a report. */
int cli_witness_check(const struct cli_witness_opts *o, auditfs_ledger *l,
                      const auditfs_checkpoint *head, int json);

#endif
