/*
 * cli/cmd_replica.c - replicas through git (`auditfs clone`, `sync`, `push`) and the SSH form of
 * a verifier key for stock git (`auditfs allowed-signers`). Argument parsing and output over
 * include/auditfs/replica.h and auditfs/sshsig.h.
 */
#include "cli.h"

#include "auditfs/replica.h"
#include "auditfs/sshsig.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>


/* ---- allowed-signers ---- */

static const char allowed_signers_help[] =
    "usage: auditfs allowed-signers --key FILE.pub [--public-key]\n"
    "\n"
    "Prints the line of an OpenSSH allowed-signers file for the ledger's verifier key, so that\n"
    "stock git checks the signature of every ledger commit without auditfs:\n"
    "\n"
    "  auditfs allowed-signers --key provider.pub > allowed_signers\n"
    "  git -c gpg.format=ssh -c gpg.ssh.allowedSignersFile=allowed_signers \\\n"
    "      log --show-signature            # or: git verify-commit COMMIT\n"
    "\n"
    "The same file works with `ssh-keygen -Y verify -f allowed_signers -I PRINCIPAL -n git`.\n"
    "\n"
    "  --key FILE.pub   the verifier key (never a key found in a repository)\n"
    "  --public-key     print only the OpenSSH public key (ssh-ed25519 AAAA...)\n"
    "\n"
    "Exit codes: 0 printed, 2 usage, 3 or 5 a malformed key file, 4 unreadable file.\n";

int
cmd_allowed_signers(int argc, char **argv)
{
    const char *key = NULL;
    int only_pk = 0, c;
    static const struct option opts[] = {{"key", required_argument, 0, 'k'},
                                         {"public-key", no_argument, 0, 'P'},
                                         {0, 0, 0, 0}};
    if (cli_want_help(argc, argv, allowed_signers_help))
        return 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'k': key = optarg; break;
        case 'P': only_pk = 1; break;
        default: return EXIT_USAGE;
        }
    }
    if (optind != argc || !key)
        return cli_usage_error("allowed-signers needs --key FILE.pub and no arguments");
    auditfs_verifier *v = NULL;
    char *line = NULL;
    int err = auditfs_verifier_load(&v, key);
    if (err)
        return cli_fail(err, key);
    err = only_pk ? auditfs_verifier_ssh_public(&line, v) : auditfs_verifier_allowed_signer(&line, v);
    auditfs_verifier_free(v);
    if (err)
        return cli_fail(err, key);
    printf("%s\n", line);
    free(line);
    return fflush(stdout) == 0 ? EXIT_OK : EXIT_IO;
}

/* ---- clone, sync, push ---- */

/* Prints a failed replica operation; a fork (evidence written) is EXIT_FORK. */
static int
replica_fail(int err, const auditfs_replica_result *r, const char *what)
{
    if (r->fork) {
        fprintf(stderr, "auditfs: %s: FORK: %s\n", what, auditfs_error_last());
        if (r->evidence[0])
            fprintf(stderr, "auditfs: evidence (both signed checkpoints): %s\n", r->evidence);
        return EXIT_FORK;
    }
    if (err == AUDITFS_EVERIFY && r->report.reason[0])
        fprintf(stderr, "auditfs: %s: verification FAILED: %s\n", what, r->report.reason);
    else
        return cli_fail(err, what);
    return EXIT_VERIFY;
}

static const char clone_help[] =
    "usage: auditfs clone URL DIR --key FILE.pub [--origin ORIGIN] [--remote NAME]\n"
    "                     [--witness KEY.pub ... [--quorum K] | --policy FILE] [--max-age D]\n"
    "\n"
    "Creates a replica of a ledger: fetches the remote's refs/heads/main, verifies the whole\n"
    "ledger with the verifier key (checkpoint and commit signatures, every entry, tile and\n"
    "root), pins the key for the ledger's origin in the state directory ($AUDITFS_STATE, else\n"
    "$XDG_STATE_HOME/auditfs, else ~/.local/state/auditfs) and remembers the head checkpoint.\n"
    "URL: a path, file://, git://, http(s):// (smart protocol) or ssh://.\n"
    "\n"
    "  --key FILE.pub     the provider's verifier key (never taken from the repository)\n"
    "  --origin ORIGIN    the ledger expected (default: the origin the remote's head names)\n"
    "  --remote NAME      the name the remote is saved under for `auditfs sync` (origin)\n"
    "  --witness KEY.pub  (repeatable) with --quorum K (default: all), or --policy FILE (C2SP\n"
    "                     tlog-policy): the replica starts only at the newest checkpoint that\n"
    "                     K witnesses cosigned (it or a later one), as `auditfs sync --witness`;\n"
    "                     their cosignatures come along. If none carries the quorum, nothing is\n"
    "                     cloned and clone exits 1 (NOT WITNESSED)\n"
    "  --max-age D        count only cosignatures younger than D (90s, 15m, 2h, 7d)\n"
    "\n"
    "Exit codes: 0 cloned, 1 verification failed or no witnessed checkpoint, 2 usage, 4 I/O or network, 5 the key is not\n"
    "the key pinned for that origin, 7 no ledger at URL, 8 the remote does not extend the\n"
    "checkpoint remembered for its origin (evidence written).\n";

static void
print_report_line(const char *verb, const auditfs_replica_result *r)
{
    printf("%s %s: size %llu, commit %.12s; verified %llu new commits, %llu segments\n", verb,
           r->origin, (unsigned long long)r->new_size, r->new_commit,
           (unsigned long long)r->report.commits, (unsigned long long)r->report.segments);
}

int
cmd_clone(int argc, char **argv)
{
    const char *key = NULL, *origin = NULL, *remote = NULL;
    struct cli_witness_opts wopts = {0};
    int c;
    static const struct option opts[] = {{"key", required_argument, 0, 'k'},
                                         {"origin", required_argument, 0, 'O'},
                                         {"remote", required_argument, 0, 'r'},
                                         CLI_WITNESS_LONGOPTS,
                                         {0, 0, 0, 0}};
    if (cli_want_help(argc, argv, clone_help))
        return 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'k': key = optarg; break;
        case 'O': origin = optarg; break;
        case 'r': remote = optarg; break;
        default: {
            int w = cli_witness_opt(&wopts, c, optarg);
            if (w != 0)
                return w < 0 ? EXIT_USAGE : w;
        }
        }
    }
    if (optind + 2 != argc)
        return cli_usage_error("clone needs URL and DIR");
    if (!key)
        return cli_usage_error("--key FILE.pub (the ledger's verifier key) is required");
    auditfs_policy *pol = NULL;
    int64_t max_age = -1;
    int rc = cli_witness_policy(&pol, &max_age, &wopts);
    if (rc)
        return rc;
    auditfs_verifier *v = NULL;
    int err = auditfs_verifier_load(&v, key);
    if (err) {
        auditfs_policy_free(pol);
        return cli_fail(err, key);
    }
    auditfs_replica_result *r = malloc(sizeof *r);
    if (!r) {
        auditfs_verifier_free(v);
        auditfs_policy_free(pol);
        return cli_fail(AUDITFS_ENOMEM, "clone");
    }
    cli_progress prog;
    auditfs_replica_options ro = {cli_progress_init(&prog), NULL, 0, 0};
    ro.policy = pol;
    ro.max_age = max_age;
    ro.now = (uint64_t)time(NULL);
    err = auditfs_replica_clone_opts(r, argv[optind], argv[optind + 1], v, origin, remote, &ro);
    cli_progress_done(&prog);
    rc = EXIT_OK;
    if (err && r->unwitnessed) {
        fprintf(stderr, "auditfs: %s: NOT WITNESSED: %s\n", argv[optind], auditfs_error_last());
        rc = EXIT_VERIFY;
    } else if (err) {
        rc = replica_fail(err, r, argv[optind]);
    } else {
        print_report_line("cloned", r);
        if (pol && r->remote_size > r->new_size)
            printf("witnessed: size %llu carries the quorum; the remote's head (size %llu) does "
                   "not yet\n",
                   (unsigned long long)r->new_size, (unsigned long long)r->remote_size);
        fflush(stdout);
        cli_index_after_write(argv[optind + 1]);
    }
    free(r);
    auditfs_verifier_free(v);
    auditfs_policy_free(pol);
    return rc;
}

static const char sync_help[] =
    "usage: auditfs sync [--ledger DIR] [--remote NAME|URL] [--key FILE.pub]\n"
    "                    [--witness KEY.pub ... [--quorum K] | --policy FILE] [--max-age D]\n"
    "                    [--on-notice PROGRAM [--on-notice-timeout SECONDS]]\n"
    "\n"
    "Brings a replica up to date: fetches the remote's refs/heads/main into\n"
    "refs/auditfs/incoming, checks its head checkpoint with the pinned key, checks that it\n"
    "extends the local head (git ancestry and an RFC 6962 consistency proof from the tiles) and\n"
    "the checkpoint remembered in the state directory, verifies only the new commits and\n"
    "entries, then fast-forwards refs/heads/main. A rollback, rewritten history or split view\n"
    "leaves the replica where it was, writes both signed checkpoints (and the failing proof)\n"
    "to $AUDITFS_STATE/origins/<origin>/evidence/, and exits 8 (`auditfs trust --help`).\n"
    "\n"
    "  --ledger DIR        the replica (default $AUDITFS_LEDGER)\n"
    "  --remote NAME|URL   where to fetch from (default: origin)\n"
    "  --key FILE.pub      must equal the pinned key; pins it if none is pinned\n"
    "  --on-notice PROGRAM run PROGRAM (no shell, no arguments) once per new notice or\n"
    "                      document version, with AUDITFS_NOTICE_INDEX, _TYPE, _TITLE, _NAME,\n"
    "                      _VERSION, _TENANT, _PUBLISHED, _EFFECTIVE, _LEAD_SECONDS, _SIZE,\n"
    "                      _SHA256, _CONTENT_TYPE, AUDITFS_ORIGIN, AUDITFS_LEDGER and\n"
    "                      AUDITFS_TREE_SIZE in its environment (auditfs-sync(1))\n"
    "  --on-notice-timeout SECONDS\n"
    "                      how long PROGRAM may run per entry (default 60, at most 86400);\n"
    "                      then its process group is killed, that is reported, and it counts\n"
    "                      as a failing PROGRAM (exit 4)\n"
    "\n"
    "Every notice and document (SLA) version the sync brought in is printed on its own line:\n"
    "  new notice 52: \"Planned maintenance\", tenant acme, 42 bytes, published\n"
    "  2026-11-29T16:40:00Z, effective 2026-12-01T00:00:00Z (lead time 1d7h)   (one line)\n"
    "\n"
    "Witnesses: with --witness KEY.pub (repeatable) --quorum K (default: all), or --policy FILE\n"
    "(C2SP tlog-policy), the remote's refs/auditfs/cosignatures is fetched too and the replica\n"
    "moves only to the newest checkpoint that K witnesses cosigned (that checkpoint or a later\n"
    "one); --max-age DURATION (90s, 15m, 2h, 7d) counts only cosignatures younger than that.\n"
    "The witnesses' cosignatures come along into the replica's own refs/auditfs/cosignatures.\n"
    "If nothing new carries the quorum, the replica stays where it was and sync exits 1, as\n"
    "`auditfs verify --quorum` does (the message says NOT WITNESSED).\n"
    "\n"
    "Exit codes: 0 up to date, 1 the new part does not verify or lacks its witness quorum,\n"
    "2 usage, 4 I/O or network, 5 the key is not the pinned one, 7 no key pinned for the\n"
    "origin, 8 fork or rollback. A PROGRAM that fails or cannot run is reported and makes sync\n"
    "exit 4 after the sync itself completed.\n"
    "On a terminal, progress (objects fetched, deltas resolved, new entries verified:\n"
    "done/total, rate, ETA) is shown on standard error; nothing otherwise.\n"
    "\n"
    "Examples:\n"
    "  auditfs sync --ledger replica\n"
    "  auditfs sync --ledger replica --witness alice.pub --witness assessor.pub --quorum 2\n"
    "  auditfs sync --ledger replica --policy witnesses.policy --max-age 1h\n"
    "  auditfs sync --ledger replica --on-notice /usr/local/bin/page-legal\n";

int
cmd_sync(int argc, char **argv)
{
    const char *ledger = NULL, *key = NULL, *remote = NULL, *hook = NULL;
    struct cli_witness_opts wopts = {0};
    int c, has_timeout = 0;
    static const struct option opts[] = {{"ledger", required_argument, 0, 'l'},
                                         {"remote", required_argument, 0, 'r'},
                                         {"key", required_argument, 0, 'k'},
                                         CLI_WITNESS_LONGOPTS,
                                         {"on-notice", required_argument, 0, 'N'},
                                         CLI_NOTICE_TIMEOUT_LONGOPT,
                                         {0, 0, 0, 0}};
    if (cli_want_help(argc, argv, sync_help))
        return 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'l': ledger = optarg; break;
        case 'r': remote = optarg; break;
        case 'k': key = optarg; break;
        case 'N': hook = optarg; break;
        case CLI_OPT_NOTICE_TIMEOUT:
            if (cli_notice_timeout_opt(optarg) != 0)
                return EXIT_USAGE;
            has_timeout = 1;
            break;
        default: {
            int w = cli_witness_opt(&wopts, c, optarg);
            if (w != 0)
                return w < 0 ? EXIT_USAGE : w;
        }
        }
    }
    if (optind != argc)
        return cli_usage_error("sync takes no arguments");
    if (has_timeout && !hook)
        return cli_usage_error("--on-notice-timeout needs --on-notice PROGRAM");
    if (hook && access(hook, X_OK) != 0)
        return cli_usage_error("--on-notice '%s': not an executable file (give a program's "
                               "path; it runs without a shell)", hook);
    const char *path;
    if (cli_ledger_arg(&path, ledger) != 0)
        return EXIT_USAGE;
    auditfs_policy *pol = NULL;
    int64_t max_age = -1;
    int rc = cli_witness_policy(&pol, &max_age, &wopts);
    if (rc)
        return rc;
    auditfs_verifier *v = NULL;
    int err;
    if (key && (err = auditfs_verifier_load(&v, key)) != 0) {
        auditfs_policy_free(pol);
        return cli_fail(err, key);
    }
    auditfs_replica_result *r = malloc(sizeof *r);
    if (!r) {
        auditfs_verifier_free(v);
        auditfs_policy_free(pol);
        return cli_fail(AUDITFS_ENOMEM, "sync");
    }
    cli_progress prog;
    auditfs_replica_options ro = {cli_progress_init(&prog), NULL, 0, 0};
    ro.policy = pol;
    ro.max_age = max_age;
    ro.now = (uint64_t)time(NULL);
    err = auditfs_replica_sync_opts(r, path, remote, v, &ro);
    cli_progress_done(&prog);
    rc = EXIT_OK;
    if (err && r->unwitnessed) {
        fprintf(stderr, "auditfs: %s: NOT WITNESSED: %s\n", path, auditfs_error_last());
        rc = EXIT_VERIFY;
    } else if (err) {
        rc = replica_fail(err, r, path);
    } else if (r->new_size == r->old_size && strcmp(r->new_commit, r->old_commit) == 0) {
        printf("up to date %s: size %llu, commit %.12s\n", r->origin,
               (unsigned long long)r->new_size, r->new_commit);
    } else {
        printf("synced %s: size %llu -> %llu, commit %.12s -> %.12s; verified %llu new commits, "
               "%llu segments\n",
               r->origin, (unsigned long long)r->old_size, (unsigned long long)r->new_size,
               r->old_commit, r->new_commit, (unsigned long long)r->report.commits,
               (unsigned long long)r->report.segments);
        fflush(stdout);
        cli_index_after_write(path); /* the query index follows the replica, as after append */
        rc = cli_report_notices(path, r->origin, r->old_size, r->new_size, hook);
    }
    if (pol && !err) {
        if (r->remote_size > r->new_size)
            printf("witnessed: size %llu carries the quorum; the remote's head (size %llu) does "
                   "not yet\n",
                   (unsigned long long)r->new_size, (unsigned long long)r->remote_size);
        if (r->cosignatures_added || r->cosignatures_skipped)
            printf("cosignatures: %zu checkpoints gained lines%s\n", r->cosignatures_added,
                   r->cosignatures_skipped ? ", some fetched lines did not verify (not stored)"
                                           : "");
    }
    free(r);
    auditfs_verifier_free(v);
    auditfs_policy_free(pol);
    return rc;
}

static const char push_help[] =
    "usage: auditfs push REMOTE [--ledger DIR]\n"
    "\n"
    "Publishes the ledger's refs/heads/main to REMOTE (a remote configured in the ledger's\n"
    "repository, or a URL: path, file://, git://, http(s)://, ssh://) as a fast-forward only.\n"
    "The remote's main is read and updated on one connection; if it holds a commit that is not\n"
    "in this ledger's history (a rewrite or another writer), nothing is pushed and push exits 8.\n"
    "The cosignatures (refs/auditfs/cosignatures) go along, fast-forward only, so replicas of\n"
    "REMOTE can require a witness quorum (`auditfs sync --witness`); a remote side ref that\n"
    "went elsewhere is left as it is.\n"
    "\n"
    "Exit codes: 0 pushed or up to date, 2 usage, 4 I/O, network or refused by the remote,\n"
    "7 no such ledger or remote, 8 the remote is not an ancestor of the ledger.\n";

int
cmd_push(int argc, char **argv)
{
    const char *ledger = NULL;
    int c;
    static const struct option opts[] = {{"ledger", required_argument, 0, 'l'}, {0, 0, 0, 0}};
    if (cli_want_help(argc, argv, push_help))
        return 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'l')
            ledger = optarg;
        else
            return EXIT_USAGE;
    }
    if (optind + 1 != argc)
        return cli_usage_error("push needs REMOTE");
    const char *path;
    if (cli_ledger_arg(&path, ledger) != 0)
        return EXIT_USAGE;
    auditfs_replica_result *r = malloc(sizeof *r);
    if (!r)
        return cli_fail(AUDITFS_ENOMEM, "push");
    int err = auditfs_replica_push(r, path, argv[optind]);
    int rc = EXIT_OK;
    if (err)
        rc = replica_fail(err, r, argv[optind]);
    else if (r->new_commits)
        printf("pushed %s: size %llu, commit %.12s\n", r->origin, (unsigned long long)r->new_size,
               r->new_commit);
    else
        printf("up to date %s: size %llu, commit %.12s\n", r->origin,
               (unsigned long long)r->new_size, r->new_commit);
    if (!err && r->cosignatures_pushed)
        printf("pushed the cosignatures (refs/auditfs/cosignatures)\n");
    free(r);
    return rc;
}
