/* cli/cli.h - shared helpers of the auditfs command. */
#ifndef AUDITFS_CLI_H
#define AUDITFS_CLI_H

#include "auditfs/ledger.h"

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
/** Copies an option value into a fixed header field; a value that does not fit is a usage
 * error (returns EXIT_USAGE after the message), never truncated. */
int cli_set_opt(char *dst, size_t cap, const char *val, const char *opt);

int cmd_mount(int argc, char **argv);
int cmd_query(int argc, char **argv);
int cmd_index(int argc, char **argv);
int cmd_incident(int argc, char **argv);
int cmd_verify_bundle(int argc, char **argv);
int cmd_archive(int argc, char **argv);
/** Brings the query index up to date after a write; warns (never fails) if it cannot. */
void cli_index_after_write(const char *ledger_path);
int cmd_umount(int argc, char **argv);
int cmd_append(int argc, char **argv);

#endif
