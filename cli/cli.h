/* cli/cli.h - shared helpers of the auditfs command. */
#ifndef AUDITFS_CLI_H
#define AUDITFS_CLI_H

#include "auditfs/ledger.h"
#include "auditfs/state.h"

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
    EXIT_FORK = 8,     /* fork or rollback: not an extension of a checkpoint seen or signed */
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
int cmd_allowed_signers(int argc, char **argv);
int cmd_clone(int argc, char **argv);
int cmd_sync(int argc, char **argv);
int cmd_push(int argc, char **argv);
int cmd_trust(int argc, char **argv);

/* cmd_trust.c: the verifier's memory ($AUDITFS_STATE). */
/** Opens the state directory; prints the error and returns an exit code on failure. */
int cli_state_open(auditfs_state **out);
/**
 * Opens the ledger (--ledger or $AUDITFS_LEDGER) and runs auditfs_ledger_trust with the key file
 * (may be NULL: the pinned keys) and the expected origin (may be NULL) before anything is read.
 * Prints errors (and where evidence was written) and returns an exit code; on success *out is
 * the checked ledger and *st (if st is not NULL) the open state.
 */
int cli_open_trusted(auditfs_ledger **out, auditfs_state **st, const char *ledger_opt,
                     const char *key_path, const char *origin);
/** The first key pinned for origin (EXIT_KEY if none). */
int cli_pinned_key(auditfs_verifier **out, auditfs_state *st, const char *origin);

#endif
