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
    "mount(8), fstab and .mount units: `mount -t fuse.auditfs LEDGER MOUNTPOINT -o OPTIONS`\n"
    "with key=FILE.pub (default: the key pinned for the ledger's origin), state=DIR (the state\n"
    "directory; default $AUDITFS_STATE, else for root /var/lib/auditfs-mount/<ledger name>),\n"
    "trusted=FILE, follow, allow_other, ... (man auditfs-mount).\n"
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

int
cmd_mount(int argc, char **argv)
{
    static char names[MAX_LEDGERS][CLI_NAME_MAX + 1];
    static char knames[MAX_LEDGERS][CLI_NAME_MAX + 1], tnames[MAX_LEDGERS][CLI_NAME_MAX + 1];
    const char *keys[MAX_LEDGERS], *trusts[MAX_LEDGERS];
    afs_mount_ledger ledgers[MAX_LEDGERS];
    size_t nl = 0, nk = 0, nt = 0;
    afs_mount_config cfg = AFS_MOUNT_CONFIG_INIT;
    char *fuse_opts = NULL;
    int c;
    static const struct option opts[] = {{"ledger", required_argument, 0, 'l'},
                                         {"key", required_argument, 0, 'k'},
                                         {"trusted", required_argument, 0, 'T'},
                                         {"follow", no_argument, 0, 'F'},
                                         {"foreground", no_argument, 0, 'f'},
                                         {"help", no_argument, 0, 'h'},
                                         {"witness", required_argument, 0, 'W'},
                                         {"quorum", required_argument, 0, 'Q'},
                                         {"policy", required_argument, 0, 'P'},
                                         {"max-age", required_argument, 0, 'A'},
                                         {0, 0, 0, 0}};
    struct cli_witness_opts wopts;
    auditfs_policy *policy = NULL;
    memset(&wopts, 0, sizeof wopts);
    memset(ledgers, 0, sizeof ledgers);
    while ((c = getopt_long(argc, argv, "fo:h", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            if (nl == MAX_LEDGERS)
                return cli_usage_error("at most %d ledgers", MAX_LEDGERS);
            if (cli_split_named(names[nl], &ledgers[nl].path, optarg) < 0) {
                free(fuse_opts);
                return cli_usage_error("--ledger '%s': NAME must be 1-64 of [A-Za-z0-9._-]", optarg);
            }
            nl++;
            break;
        case 'k':
            if (nk == MAX_LEDGERS)
                return cli_usage_error("at most %d keys", MAX_LEDGERS);
            if (cli_split_named(knames[nk], &keys[nk], optarg) < 0) {
                free(fuse_opts);
                return cli_usage_error("--key '%s': NAME must be 1-64 of [A-Za-z0-9._-]", optarg);
            }
            nk++;
            break;
        case 'T':
            if (nt == MAX_LEDGERS)
                return cli_usage_error("at most %d trusted checkpoints", MAX_LEDGERS);
            if (cli_split_named(tnames[nt], &trusts[nt], optarg) < 0) {
                free(fuse_opts);
                return cli_usage_error("--trusted '%s': NAME must be 1-64 of [A-Za-z0-9._-]", optarg);
            }
            nt++;
            break;
        case 'W':
            if (wopts.nkeys == sizeof wopts.keys / sizeof *wopts.keys)
                return cli_usage_error("too many --witness keys");
            wopts.keys[wopts.nkeys++] = optarg;
            break;
        case 'Q': wopts.quorum = optarg; break;
        case 'P': wopts.policy = optarg; break;
        case 'A': wopts.max_age = optarg; break;
        case 'F': cfg.follow = 1; break;
        case 'f': cfg.foreground = 1; break;
        case 'o': {
            size_t old = fuse_opts ? strlen(fuse_opts) : 0;
            char *p = realloc(fuse_opts, old + strlen(optarg) + 2);
            if (!p)
                return EXIT_IO;
            if (old)
                p[old++] = ',';
            strcpy(p + old, optarg);
            fuse_opts = p;
            break;
        }
        case 'h': fputs(mount_help, stdout); free(fuse_opts); return 0;
        default: free(fuse_opts); return EXIT_USAGE;
        }
    }
    int rc = EXIT_USAGE;
    if (optind + 1 != argc) {
        cli_usage_error("mount needs exactly one MOUNTPOINT");
        goto out;
    }
    if (nl == 0) {
        const char *env = cli_ledger_path(NULL);
        if (!env) {
            cli_usage_error("no ledger: give --ledger DIR or set AUDITFS_LEDGER");
            goto out;
        }
        ledgers[0].path = env;
        names[0][0] = 0;
        nl = 1;
    }
    /* match keys and trusted checkpoints to ledgers: by name, or by position when unnamed */
    for (size_t i = 0; i < nl; i++) {
        ledgers[i].name = names[i][0] ? names[i] : NULL;
        if (nl > 1 && !ledgers[i].name) {
            cli_usage_error("with several ledgers, give each a name: --ledger NAME=DIR (NAME of "
                            "[A-Za-z0-9._-])");
            goto out;
        }
        for (size_t j = 0; j < nk; j++)
            if ((knames[j][0] && ledgers[i].name && !strcmp(knames[j], ledgers[i].name)) ||
                (!knames[j][0] && j == i))
                ledgers[i].key = keys[j];
        for (size_t j = 0; j < nt; j++)
            if ((tnames[j][0] && ledgers[i].name && !strcmp(tnames[j], ledgers[i].name)) ||
                (!tnames[j][0] && j == i))
                ledgers[i].trusted = trusts[j];
        for (size_t j = 0; j < i; j++)
            if (ledgers[i].name && ledgers[j].name && !strcmp(ledgers[i].name, ledgers[j].name)) {
                cli_usage_error("ledger name %s given twice", ledgers[i].name);
                goto out;
            }
    }
    /* absolute paths: the daemon leaves the working directory, and the README and fsname
     * should name the ledger unambiguously */
    static char abs_paths[MAX_LEDGERS][4096];
    for (size_t i = 0; i < nl; i++)
        if (realpath(ledgers[i].path, abs_paths[i]))
            ledgers[i].path = abs_paths[i];
    /* the verifier's memory: each head checked against the pinned (or given, then pinned) key
     * and what this party saw before mounting; the views check again, and at every --follow */
    auditfs_state *st = NULL;
    auditfs_verifier *pinned[MAX_LEDGERS] = {0};
    for (size_t i = 0; i < nl; i++) {
        auditfs_ledger *l = NULL;
        auditfs_state *s1 = NULL;
        auditfs_checkpoint head;
        if ((rc = cli_open_trusted(&l, &s1, ledgers[i].path, ledgers[i].key, NULL)) != 0)
            goto out_trust;
        if (!ledgers[i].key && auditfs_ledger_head(&head, l) == 0 &&
            (rc = cli_pinned_key(&pinned[i], s1, head.origin)) == 0)
            ledgers[i].verifier = pinned[i];
        auditfs_ledger_free(l);
        if (!st)
            st = s1;
        else
            auditfs_state_free(s1);
        if (rc)
            goto out_trust;
    }
    cfg.state = st;
    if ((wopts.nkeys || wopts.policy || wopts.quorum || wopts.max_age) &&
        (rc = witness_precheck(&wopts, ledgers, nl)) != 0)
        goto out_trust;
    /* and the daemon pins and follows only checkpoints that have their quorum */
    if ((rc = cli_witness_policy(&policy, &cfg.max_age, &wopts)) != 0)
        goto out_trust;
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
out_trust:
    for (size_t i = 0; i < nl; i++)
        auditfs_verifier_free(pinned[i]);
    auditfs_state_free(st);
out:
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
