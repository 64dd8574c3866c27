/* cli/cmd_mount.c - `auditfs mount` and `auditfs umount`: argument parsing over fs/mount.c. */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    "  --witness [NAME=]KEY.pub --quorum [NAME=]K | --policy [NAME=]FILE\n"
    "  [--max-age [NAME=]DURATION]\n"
    "                          mount only if the head checkpoint is cosigned by a quorum of\n"
    "                          witnesses (as `auditfs verify`); with --follow the mount moves\n"
    "                          only to checkpoints that have their quorum. With several\n"
    "                          ledgers the quorum is per ledger: options without NAME= apply\n"
    "                          to every ledger, NAME= ones to that ledger only (replacing the\n"
    "                          unnamed ones for it)\n"
    "  --on-notice PROGRAM     with --follow: run PROGRAM (no shell, no arguments) once per\n"
    "                          notice or document version a step brings in, with the details\n"
    "                          in its environment as `auditfs sync --on-notice` (each such\n"
    "                          entry is also logged: \"new notice 52: ...\")\n"
    "  --on-notice-timeout SECONDS\n"
    "                          how long PROGRAM may run per entry (default 60, at most 86400);\n"
    "                          then its process group is killed and that is logged\n"
    "\n"
    "Examples:\n"
    "  auditfs mount --ledger acme --follow -f /mnt/acme\n"
    "  auditfs mount --ledger acme --follow --on-notice /usr/local/bin/page-legal /mnt/acme\n"
    "  auditfs mount --ledger acme=/srv/acme --ledger prov=/srv/prov --policy acme=acme.policy \\\n"
    "      --witness prov=assessor.pub --quorum prov=1 /mnt/audit\n"
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
 * --witness/--quorum/--policy/--max-age: the head checkpoint of a ledger must have its witness
 * quorum before anything is mounted (the same check as `auditfs verify`).
 */
static int
witness_precheck(const struct cli_witness_opts *o, const afs_mount_ledger *lg)
{
    auditfs_verifier *key = NULL;
    auditfs_ledger *l = NULL;
    auditfs_checkpoint head;
    int err, rc;
    /* the key given, else the one pinned for the ledger's origin (cmd_mount looked it up) */
    const auditfs_verifier *k = lg->verifier;
    if (lg->key) {
        if ((err = auditfs_verifier_load(&key, lg->key)) != 0)
            return cli_fail(err, "--key");
        k = key;
    }
    if (!k)
        return cli_usage_error("no --key and no key pinned for ledger %s", lg->path);
    if ((err = auditfs_ledger_open(&l, lg->path)) != 0 ||
        (err = auditfs_ledger_check_head(&head, l, k)) != 0)
        rc = cli_fail(err, lg->path);
    else {
        if (lg->name)
            printf("ledger %s:\n", lg->name);
        rc = cli_witness_check(o, l, &head, 0);
    }
    auditfs_ledger_free(l);
    auditfs_verifier_free(key);
    return rc;
}

/*
 * The witness options of one ledger (NAME= prefixed) or of every ledger (no prefix): a
 * ledger's own group, when it has one, replaces the unnamed group for it.
 */
typedef struct wgroup {
    char name[CLI_NAME_MAX + 1]; /* "" for the unnamed group */
    struct cli_witness_opts o;
    int used;
} wgroup;

/* The group for NAME=VALUE (or VALUE) in arg; *val receives VALUE. NULL after a usage error. */
static wgroup *
wgroup_for(wgroup *g, size_t *ng, size_t cap, const char **val, const char *arg, const char *opt)
{
    char name[CLI_NAME_MAX + 1];
    if (cli_split_named(name, val, arg) < 0) {
        cli_usage_error("%s '%s': NAME must be 1-64 of [A-Za-z0-9._-]", opt, arg);
        return NULL;
    }
    for (size_t i = 0; i < *ng; i++)
        if (!strcmp(g[i].name, name))
            return &g[i];
    if (*ng == cap) {
        cli_usage_error("%s: too many ledger names", opt);
        return NULL;
    }
    memset(&g[*ng], 0, sizeof g[*ng]);
    snprintf(g[*ng].name, sizeof g[*ng].name, "%s", name);
    return &g[(*ng)++];
}

static int
wgroup_any(const wgroup *g)
{
    return g->o.nkeys || g->o.policy || g->o.quorum || g->o.max_age;
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
                                         CLI_WITNESS_LONGOPTS,
                                         {"on-notice", required_argument, 0, 'N'},
                                         CLI_NOTICE_TIMEOUT_LONGOPT,
                                         {0, 0, 0, 0}};
    static wgroup groups[MAX_LEDGERS + 1];
    int has_notice_timeout = 0;
    size_t ngroups = 0;
    wgroup *g;
    const char *val;
    auditfs_policy *policies[MAX_LEDGERS] = {0};
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
        case 'Q':
        case 'P':
        case 'A':
            g = wgroup_for(groups, &ngroups, MAX_LEDGERS + 1, &val, optarg,
                           c == 'W' ? "--witness" : c == 'Q' ? "--quorum"
                                                  : c == 'P' ? "--policy" : "--max-age");
            if (!g) {
                free(fuse_opts);
                return EXIT_USAGE;
            }
            /* the same options as verify, sync and clone, for this ledger's group */
            if (cli_witness_opt(&g->o, c, val) != 0) {
                free(fuse_opts);
                return EXIT_USAGE;
            }
            break;
        case 'F': cfg.follow = 1; break;
        case 'N': cfg.on_notice_ctx = optarg; break;
        case CLI_OPT_NOTICE_TIMEOUT:
            if (cli_notice_timeout_opt(optarg) != 0) {
                free(fuse_opts);
                return EXIT_USAGE;
            }
            has_notice_timeout = 1;
            break;
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
    if (has_notice_timeout && !cfg.on_notice_ctx) {
        cli_usage_error("--on-notice-timeout needs --on-notice PROGRAM");
        goto out;
    }
    if (cfg.on_notice_ctx) {
        if (!cfg.follow) {
            cli_usage_error("--on-notice needs --follow (a pinned mount never gains notices)");
            goto out;
        }
        if (access(cfg.on_notice_ctx, X_OK) != 0) {
            cli_usage_error("--on-notice '%s': not an executable file (give a program's path; "
                            "it runs without a shell)", (const char *)cfg.on_notice_ctx);
            goto out;
        }
        /* the daemon leaves the working directory: an absolute path */
        static char hook_abs[4096];
        if (realpath(cfg.on_notice_ctx, hook_abs))
            cfg.on_notice_ctx = hook_abs;
        cfg.on_notice = cli_notice_hook_entry;
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
    /* witnesses, per ledger: its own NAME= group, else the unnamed group; a NAME= group must
     * name a mounted ledger. Each head must have its quorum before anything is mounted, and
     * the daemon pins and follows only checkpoints that have their quorum. */
    for (size_t k = 0; k < ngroups; k++) {
        int found = !groups[k].name[0];
        for (size_t i = 0; i < nl && !found; i++)
            found = ledgers[i].name && !strcmp(ledgers[i].name, groups[k].name);
        if (!found) {
            rc = cli_usage_error("witness options for '%s': no ledger of that name is mounted",
                                 groups[k].name);
            goto out_trust;
        }
    }
    for (size_t i = 0; i < nl; i++) {
        wgroup *mine = NULL;
        for (size_t k = 0; k < ngroups; k++)
            if (groups[k].name[0] && ledgers[i].name && !strcmp(groups[k].name, ledgers[i].name))
                mine = &groups[k];
        for (size_t k = 0; k < ngroups && !mine; k++)
            if (!groups[k].name[0])
                mine = &groups[k];
        if (!mine || !wgroup_any(mine))
            continue;
        mine->used = 1;
        if ((rc = witness_precheck(&mine->o, &ledgers[i])) != 0 ||
            (rc = cli_witness_policy(&policies[i], &ledgers[i].max_age, &mine->o)) != 0)
            goto out_trust;
        ledgers[i].policy = policies[i];
    }
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
    for (size_t i = 0; i < MAX_LEDGERS; i++)
        auditfs_policy_free(policies[i]);
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
