/* cli/cli.h - shared helpers of the auditfs command. */
#ifndef AUDITFS_CLI_H
#define AUDITFS_CLI_H

#include "auditfs/entry.h"
#include "auditfs/ledger.h"
#include "auditfs/progress.h"
#include "auditfs/policy.h"
#include "auditfs/state.h"

#include <getopt.h>
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
/** 1 (after printing text) if argv asks for --help or -h before any "--". */
int cli_want_help(int argc, char **argv, const char *text);
/** The ledger directory from --ledger or $AUDITFS_LEDGER. */
const char *cli_ledger_path(const char *opt);
/** Like cli_ledger_path, but no ledger at all is a usage error: 0, or EXIT_USAGE (printed). */
int cli_ledger_arg(const char **path, const char *opt);
int cli_parse_u64(uint64_t *out, const char *s, const char *what);
/** Copies an option value into a fixed header field; a value that does not fit is a usage
 * error (returns EXIT_USAGE after the message), never truncated. */
int cli_set_opt(char *dst, size_t cap, const char *val, const char *opt);

/**
 * getopt_long, plus "did you mean '--json'?" (from longopts) after an unknown long option.
 * Every cli/ file gets it through the macro below; cli/help.c defines it.
 */
int cli_getopt_long(int argc, char *const argv[], const char *optstring,
                    const struct option *longopts, int *longindex);
#ifndef AUDITFS_CLI_NO_GETOPT_WRAP
#define getopt_long cli_getopt_long
#endif
/** The candidate closest to word by edit distance, or NULL if none is close. */
const char *cli_closest(const char *word, const char *const *candidates, size_t n);
/** Prints "Examples:" and the examples of command cmd (after its --help), if it has any. */
void cli_print_examples(const char *cmd);
/** Exit code for a failed open/read of a named input file: 7 if it does not exist, else 4. */
int cli_errno_exit(int errnum);

/* JSON output (cli/json.c; schemas in docs/JSON.md) */
void cli_json_str(FILE *f, const char *s);
void cli_json_strn(FILE *f, const char *s, size_t n);
/** s as a JSON string, or null when s is empty (an optional text field). */
void cli_json_str_or_null(FILE *f, const char *s);
/** {"origin","tree_size","root"} */
void cli_json_checkpoint(FILE *f, const auditfs_checkpoint *cp);
/**
 * With --json in argv (before "--"), wraps stdout and stderr while the command runs
 * (cli/json_error.c); cli_json_errors_end(rc) then prints {"ok":false,"exit":rc,"error":...}
 * if the command failed without printing anything on stdout, and returns the exit code.
 */
int cli_json_errors_begin(int argc, char **argv);
int cli_json_errors_end(int rc);
/** Captures stdout; cli_capture_end_json prints the captured "ok:/FAIL:" lines as JSON. */
int cli_capture_begin(void);
void cli_capture_end_json(int rc);

/* Progress on a terminal (cli/progress.c): a printer for the library's auditfs_progress. */
typedef struct cli_progress {
    int64_t t0_us, last_us;
    uint64_t last_done, done0; /* done0: the count when this phase's clock started */
    char what[16];             /* the phase being shown ("verify", "fetch", ...) */
    int printed;
    int no_delay;
} cli_progress;
/** The callback to put in an options struct: prints if stderr is a terminal, else {NULL}. */
auditfs_progress cli_progress_init(cli_progress *p);
/** Ends a progress line left open by an operation that failed part way. */
void cli_progress_done(cli_progress *p);
/** Longest NAME of a NAME=VALUE argument (a ledger, key or checkpoint name). */
#define CLI_NAME_MAX 64
/** 1 if s is 1-64 of [A-Za-z0-9._-] and not "." or "..". */
int cli_valid_name(const char *s);
/**
 * Splits a [NAME=]VALUE argument (--ledger, --key, --trusted of every command). Returns 1 with
 * name and *value set for NAME=VALUE; 0 with name "" and *value = arg for a plain VALUE (no
 * '=', or a '/' before it: a path); -1 if what precedes '=' is not a valid NAME.
 */
int cli_split_named(char name[CLI_NAME_MAX + 1], const char **value, const char *arg);

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
int cmd_status(int argc, char **argv);
int cmd_export(int argc, char **argv);
/** Brings the tlog-tiles tree in dir up to date after a commit; warns (and returns) on error. */
int cli_tlog_export(const char *ledger_path, const auditfs_verifier *key, const char *dir);
/** argv looks like mount.fuse3's `auditfs SOURCE MOUNTPOINT -o OPTS` (cli/mount_helper.c). */
int cli_is_mount_helper_call(int argc, char **argv);
int cli_mount_helper(int argc, char **argv);
typedef struct cli_mount_opts {
    const char *key, *trusted; /* point into the parsed string */
    const char *state;         /* state=DIR: the state directory ($AUDITFS_STATE) */
    int follow;
    char *fuse;                /* the FUSE options to pass on, comma-separated */
    const char *bad;           /* on failure: the option refused */
} cli_mount_opts;
/**
 * Parses mount(8)/fstab options (comma-separated, modified in place). fuse must hold
 * strlen(opts) + 1 bytes. 0, or -1 with out->bad naming an option that is not ours.
 */
int cli_mount_opts_parse(cli_mount_opts *out, char *opts, char *fuse);
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
/** The getopt_long entries of the witness options (their short codes are 'W', 'Q', 'P', 'A'). */
#define CLI_WITNESS_LONGOPTS                                                                      \
    {"witness", required_argument, 0, 'W'}, {"quorum", required_argument, 0, 'Q'},               \
        {"policy", required_argument, 0, 'P'}, {"max-age", required_argument, 0, 'A'}
/** Takes option c (arg) into o if it is a witness option: 0, EXIT_USAGE (printed) if there
 * are too many keys, or -1 if c is not a witness option. (cli/args.c) */
int cli_witness_opt(struct cli_witness_opts *o, int c, const char *arg);
/**
 * `witness request` for the ledger at path: specs are URL=KEY.pub; each cosignature obtained is
 * reported on out, refusals on stderr; returns an exit code.
 */
int cli_witness_request(FILE *out, const char *ledger, const char *const *specs, size_t n,
                        long timeout);
/**
 * The policy the options describe (*out NULL when no witness option was given) and --max-age in
 * seconds (-1: none). Prints usage or load errors; returns an exit code.
 */
int cli_witness_policy(auditfs_policy **out, int64_t *max_age, const struct cli_witness_opts *o);
/** Checks the head's cosignatures against the options (0 if none given); prints a report. */
int cli_witness_check(const struct cli_witness_opts *o, auditfs_ledger *l,
                      const auditfs_checkpoint *head, int json);
int cmd_append(int argc, char **argv);
int cmd_trust(int argc, char **argv);

/* cli/notice_hook.c: new notices and document versions on sync and mount --follow */
/** --on-notice-timeout SECONDS (default 60): how long an --on-notice program may run. */
#define CLI_NOTICE_TIMEOUT_DEFAULT 60
#define CLI_OPT_NOTICE_TIMEOUT 0x4e54 /* a getopt code that is no character */
#define CLI_NOTICE_TIMEOUT_LONGOPT                                                                \
    { "on-notice-timeout", required_argument, 0, CLI_OPT_NOTICE_TIMEOUT }
/** Sets the timeout from arg (1..86400): 0 or EXIT_USAGE (printed). */
int cli_notice_timeout_opt(const char *arg);
long cli_notice_timeout(void);
/** cli_notice_hook_run's result when the program outlived the timeout (its group was killed);
 *  the same value as fs/mount.h's AFS_NOTICE_TIMED_OUT. */
#define CLI_HOOK_TIMEOUT 1000
/** Runs prog (no shell, no arguments, stdin /dev/null, its own process group) with vars added
 *  to the environment and waits at most the --on-notice-timeout; returns its exit status,
 *  128+signal, CLI_HOOK_TIMEOUT, or -1 if it could not be started. */
int cli_notice_hook_run(const char *prog, char *const *vars);
/** The --on-notice hook for one entry (ctx: the program, or NULL for none). */
int cli_notice_hook_entry(void *ctx, const auditfs_entry *e, const char *ledger,
                          const char *origin, uint64_t tree_size);
/** Prints a line per notice/document entry in [from, to) of ledger and runs hook (may be NULL)
 *  for each; EXIT_IO if a hook failed (after all ran). */
int cli_report_notices(const char *ledger, const char *origin, uint64_t from, uint64_t to,
                       const char *hook);

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
/**
 * The provider's memory of a ledger it just created (init, append --route-by): its key pinned
 * for the origin, the directory bound, the first checkpoint remembered as seen and signed.
 * Returns 0 or a library error code.
 */
int cli_init_remember(auditfs_state *st, const char *ledger, const auditfs_signer *s,
                      const char *origin);
/** The first key pinned for origin (EXIT_KEY if none). */
int cli_pinned_key(auditfs_verifier **out, auditfs_state *st, const char *origin);

#endif
