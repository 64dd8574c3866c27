/* cli/cmd_mount.c - `auditfs mount` and `auditfs umount`: argument parsing over fs/mount.c. */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#ifdef AUDITFS_HAVE_FUSE
#include "../fs/mount.h"

static const char mount_help[] =
    "usage: auditfs mount --ledger DIR [--key FILE.pub] [--trusted CHECKPOINT] [--follow] [-f]\n"
    "                     [-o FUSE-OPTIONS] MOUNTPOINT\n"
    "       auditfs mount --ledger NAME=DIR --key NAME=FILE.pub ... MOUNTPOINT\n"
    "\n"
    "Mounts the ledger as a read-only file system pinned to its current checkpoint, after\n"
    "checking the checkpoint's signature with the verifier key and recomputing its Merkle root\n"
    "from every leaf (one pass over the ledger). Every read is verified again against that\n"
    "checkpoint; data changed underneath reads as EIO and is reported. See docs/MOUNT.md.\n"
    "\n"
    "  --ledger [NAME=]DIR     a ledger; give it several times (with NAME=) to mount several,\n"
    "                          each under its own top-level directory NAME\n"
    "  --key [NAME=]FILE.pub   the verifier key of that ledger (default: the key pinned for its\n"
    "                          origin, see `auditfs trust`; a key given is pinned on first use)\n"
    "  --trusted [NAME=]FILE   a checkpoint kept from before: the ledger must extend it\n"
    "  --follow                pick up new commits once they are signed, consistent with the\n"
    "                          pinned checkpoint and verified; refuse (and report) anything else\n"
    "  -f                      stay in the foreground and log to stderr (default: daemonise\n"
    "                          once the mount is ready, log to syslog)\n"
    "  -o OPTIONS              extra FUSE mount options (e.g. allow_other; ro and auto_unmount are\n"
    "                          always set)\n"
    "  --witness KEY.pub --quorum K | --policy FILE  [--max-age DURATION]\n"
    "                          mount only if the head checkpoint is cosigned by a quorum of\n"
    "                          witnesses (as `auditfs verify`); one ledger; with --follow the\n"
    "                          mount moves only to checkpoints that have their quorum\n"
    "\n"
    "Exit codes: 0 unmounted cleanly, 1 verification failed, 2 usage, 4 I/O or mount error,\n"
    "5 unusable key, 7 no such ledger, 8 fork or rollback (the ledger does not extend the\n"
    "checkpoint this party saw before; evidence is written to the state directory).\n";

static const char umount_help[] =
    "usage: auditfs umount [-z] MOUNTPOINT\n"
    "\n"
    "Unmounts an auditfs mount (fusermount3 -u); -z detaches a busy mount lazily.\n";

#define MAX_LEDGERS 32

/*
 * --witness/--quorum/--policy/--max-age: the head checkpoint must have its witness quorum before
 * anything is mounted (the same check as `auditfs verify`). One ledger only.
 */
static int
witness_precheck(const struct cli_witness_opts *o, const afs_mount_ledger *ledgers, size_t nl)
{
    auditfs_verifier *key = NULL;
    auditfs_ledger *l = NULL;
    auditfs_checkpoint head;
    int err, rc;
    if (nl != 1)
        return cli_usage_error("witness options apply to a mount of one ledger");
    /* the key given, else the one pinned for the ledger's origin (cmd_mount looked it up) */
    const auditfs_verifier *k = ledgers[0].verifier;
    if (ledgers[0].key) {
        if ((err = auditfs_verifier_load(&key, ledgers[0].key)) != 0)
            return cli_fail(err, "--key");
        k = key;
    }
    if (!k)
        return cli_usage_error("no --key and no key pinned for ledger %s", ledgers[0].path);
    if ((err = auditfs_ledger_open(&l, ledgers[0].path)) != 0 ||
        (err = auditfs_ledger_check_head(&head, l, k)) != 0)
        rc = cli_fail(err, ledgers[0].path);
    else
        rc = cli_witness_check(o, l, &head, 0);
    auditfs_ledger_free(l);
    auditfs_verifier_free(key);
    return rc;
}

/* The NAME=VALUE options of one kind (--ledger, --key, --trusted), in the order given. */
typedef struct named_list {
    char names[MAX_LEDGERS][CLI_NAME_MAX + 1];
    const char *vals[MAX_LEDGERS];
    size_t n;
} named_list;

static int
named_add(named_list *l, const char *arg, const char *opt, const char *what)
{
    if (l->n == MAX_LEDGERS)
        return cli_usage_error("at most %d %s", MAX_LEDGERS, what);
    if (cli_split_named(l->names[l->n], &l->vals[l->n], arg) < 0)
        return cli_usage_error("%s '%s': NAME must be 1-64 of [A-Za-z0-9._-]", opt, arg);
    l->n++;
    return 0;
}

/* The value in l for ledger i named name (NULL: unnamed): by name, or by position when the
 * value is unnamed; the last one given wins. */
static const char *
named_for(const named_list *l, size_t i, const char *name)
{
    const char *v = NULL;
    for (size_t j = 0; j < l->n; j++)
        if ((l->names[j][0] && name && !strcmp(l->names[j], name)) || (!l->names[j][0] && j == i))
            v = l->vals[j];
    return v;
}

/*
 * The ledgers to mount from the options (or $AUDITFS_LEDGER), each with its key and trusted
 * checkpoint and an absolute path (the daemon leaves the working directory, and the README and
 * fsname should name the ledger unambiguously). 0, or EXIT_USAGE (printed).
 */
static int
match_ledgers(afs_mount_ledger *ledgers, size_t *nl, named_list *L, const named_list *K,
              const named_list *T)
{
    static char abs_paths[MAX_LEDGERS][4096];
    if (L->n == 0) {
        if (cli_ledger_arg(&L->vals[0], NULL) != 0)
            return EXIT_USAGE;
        L->names[0][0] = 0;
        L->n = 1;
    }
    *nl = L->n;
    for (size_t i = 0; i < L->n; i++) {
        ledgers[i].path = L->vals[i];
        ledgers[i].name = L->names[i][0] ? L->names[i] : NULL;
        if (L->n > 1 && !ledgers[i].name)
            return cli_usage_error("with several ledgers, give each a name: --ledger NAME=DIR "
                                   "(NAME of [A-Za-z0-9._-])");
        ledgers[i].key = named_for(K, i, ledgers[i].name);
        ledgers[i].trusted = named_for(T, i, ledgers[i].name);
        for (size_t j = 0; j < i; j++)
            if (ledgers[i].name && ledgers[j].name && !strcmp(ledgers[i].name, ledgers[j].name))
                return cli_usage_error("ledger name %s given twice", ledgers[i].name);
        if (realpath(ledgers[i].path, abs_paths[i]))
            ledgers[i].path = abs_paths[i];
    }
    return 0;
}

/*
 * The verifier's memory: each head checked against the pinned (or given, then pinned) key and
 * what this party saw before mounting; the views check again, and at every --follow. *st is the
 * state directory, pinned[i] the key found pinned for a ledger mounted without --key.
 */
static int
trust_ledgers(auditfs_state **st, auditfs_verifier **pinned, afs_mount_ledger *ledgers,
              size_t nl)
{
    int rc = 0;
    for (size_t i = 0; i < nl && !rc; i++) {
        auditfs_ledger *l = NULL;
        auditfs_state *s1 = NULL;
        auditfs_checkpoint head;
        if ((rc = cli_open_trusted(&l, &s1, ledgers[i].path, ledgers[i].key, NULL)) != 0)
            break;
        if (!ledgers[i].key && auditfs_ledger_head(&head, l) == 0 &&
            (rc = cli_pinned_key(&pinned[i], s1, head.origin)) == 0)
            ledgers[i].verifier = pinned[i];
        auditfs_ledger_free(l);
        if (!*st)
            *st = s1;
        else
            auditfs_state_free(s1);
    }
    return rc;
}

/* -o OPTS, repeatable: appended to *opts, comma-separated. */
static int
append_opts(char **opts, const char *more)
{
    size_t old = *opts ? strlen(*opts) : 0;
    char *p = realloc(*opts, old + strlen(more) + 2);
    if (!p)
        return -1;
    if (old)
        p[old++] = ',';
    strcpy(p + old, more);
    *opts = p;
    return 0;
}

/*
 * Long because it is the command's option table and parse: each option is one case; matching,
 * the trust check and the session are the functions above and fs/mount.c.
 */
int
cmd_mount(int argc, char **argv)
{
    static named_list lopt, kopt, topt;
    afs_mount_ledger ledgers[MAX_LEDGERS];
    size_t nl = 0;
    afs_mount_config cfg = AFS_MOUNT_CONFIG_INIT;
    char *fuse_opts = NULL;
    int c, rc = EXIT_USAGE;
    static const struct option opts[] = {{"ledger", required_argument, 0, 'l'},
                                         {"key", required_argument, 0, 'k'},
                                         {"trusted", required_argument, 0, 'T'},
                                         {"follow", no_argument, 0, 'F'},
                                         {"foreground", no_argument, 0, 'f'},
                                         {"help", no_argument, 0, 'h'},
                                         CLI_WITNESS_LONGOPTS,
                                         {0, 0, 0, 0}};
    struct cli_witness_opts wopts;
    auditfs_policy *policy = NULL;
    auditfs_state *st = NULL;
    auditfs_verifier *pinned[MAX_LEDGERS] = {0};
    memset(&wopts, 0, sizeof wopts);
    memset(ledgers, 0, sizeof ledgers);
    while ((c = getopt_long(argc, argv, "fo:h", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            if (named_add(&lopt, optarg, "--ledger", "ledgers") != 0)
                goto out;
            break;
        case 'k':
            if (named_add(&kopt, optarg, "--key", "keys") != 0)
                goto out;
            break;
        case 'T':
            if (named_add(&topt, optarg, "--trusted", "trusted checkpoints") != 0)
                goto out;
            break;
        case 'W':
        case 'Q':
        case 'P':
        case 'A':
            if (cli_witness_opt(&wopts, c, optarg) != 0)
                goto out;
            break;
        case 'F': cfg.follow = 1; break;
        case 'f': cfg.foreground = 1; break;
        case 'o':
            if (append_opts(&fuse_opts, optarg) != 0) {
                rc = EXIT_IO;
                goto out;
            }
            break;
        case 'h': fputs(mount_help, stdout); free(fuse_opts); return 0;
        default: goto out;
        }
    }
    if (optind + 1 != argc) {
        cli_usage_error("mount needs exactly one MOUNTPOINT");
        goto out;
    }
    if ((rc = match_ledgers(ledgers, &nl, &lopt, &kopt, &topt)) != 0 ||
        (rc = trust_ledgers(&st, pinned, ledgers, nl)) != 0)
        goto out;
    cfg.state = st;
    if ((wopts.nkeys || wopts.policy || wopts.quorum || wopts.max_age) &&
        (rc = witness_precheck(&wopts, ledgers, nl)) != 0)
        goto out;
    /* and the daemon pins and follows only checkpoints that have their quorum */
    if ((rc = cli_witness_policy(&policy, &cfg.max_age, &wopts)) != 0)
        goto out;
    cfg.policy = policy;
    cfg.ledgers = ledgers;
    cfg.nledgers = nl;
    cfg.mountpoint = argv[optind];
    cfg.fuse_opts = fuse_opts;
    const char *ms = getenv("AUDITFS_FOLLOW_MS");
    cfg.follow_ms = ms ? (unsigned)strtoul(ms, NULL, 10) : 1000;
    cli_progress prog;
    cfg.progress = cli_progress_init(&prog);
    rc = cli_exit_code(afs_mount_run(&cfg));
out:
    for (size_t i = 0; i < MAX_LEDGERS; i++)
        auditfs_verifier_free(pinned[i]);
    auditfs_state_free(st);
    auditfs_policy_free(policy);
    free(fuse_opts);
    return rc;
}

int
cmd_umount(int argc, char **argv)
{
    int lazy = 0, c;
    static const struct option opts[] = {{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    while ((c = getopt_long(argc, argv, "zh", opts, NULL)) != -1) {
        if (c == 'z')
            lazy = 1;
        else if (c == 'h') {
            fputs(umount_help, stdout);
            return 0;
        } else
            return EXIT_USAGE;
    }
    if (optind + 1 != argc)
        return cli_usage_error("umount needs exactly one MOUNTPOINT");
    return cli_exit_code(afs_umount_run(argv[optind], lazy));
}

#else

int
cmd_mount(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "auditfs: this build has no FUSE support (libfuse3 was not found)\n");
    return EXIT_USAGE;
}

int
cmd_umount(int argc, char **argv)
{
    return cmd_mount(argc, argv);
}

#endif
