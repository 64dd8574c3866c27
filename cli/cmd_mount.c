/* cli/cmd_mount.c - `auditfs mount` and `auditfs umount`: argument parsing over fs/mount.c. */
#include "cli.h"

#include <errno.h>
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
    "  --cache MIB             verified frames kept in memory per ledger (default 16, 1-4096)\n"
    "  --cache-dir DIR         where the daemon keeps its private, unlinked file of per-entry\n"
    "                          positions (default: the state directory)\n"
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
 * A NAME=VALUE option (--ledger, --key, --trusted and the witness options): NAME= is optional,
 * NAME is 1-64 of [A-Za-z0-9._-] (cli_split_named). 0, or EXIT_USAGE after saying why.
 */
static int
split_named_opt(char name[CLI_NAME_MAX + 1], const char **val, const char *arg, const char *opt)
{
    if (cli_split_named(name, val, arg) < 0)
        return cli_usage_error("%s '%s': NAME must be 1-64 of [A-Za-z0-9._-]", opt, arg);
    return 0;
}

/*
 * The values of one NAME=VALUE option given several times, in order; name[i] is "" for an
 * unnamed value. Unnamed values are matched to ledgers by position, named ones by name.
 */
typedef struct named_list {
    char name[MAX_LEDGERS][CLI_NAME_MAX + 1];
    const char *val[MAX_LEDGERS];
    size_t n;
} named_list;

/* Appends arg to l; what names the values in the "at most" message ("keys"). */
static int
named_add(named_list *l, const char *arg, const char *opt, const char *what)
{
    if (l->n == MAX_LEDGERS)
        return cli_usage_error("at most %d %s", MAX_LEDGERS, what);
    if (split_named_opt(l->name[l->n], &l->val[l->n], arg, opt) != 0)
        return EXIT_USAGE;
    l->n++;
    return 0;
}

/* The value of l for ledger i named name (NULL if unnamed): the last one given for it. */
static const char *
named_for(const named_list *l, size_t i, const char *name)
{
    const char *v = NULL;
    for (size_t j = 0; j < l->n; j++)
        if ((l->name[j][0] && name && !strcmp(l->name[j], name)) || (!l->name[j][0] && j == i))
            v = l->val[j];
    return v;
}

/*
 * The witness options of one ledger (NAME= prefixed) or of every ledger (no prefix): a
 * ledger's own group, when it has one, replaces the unnamed group for it.
 */
typedef struct wgroup {
    char name[CLI_NAME_MAX + 1]; /* "" for the unnamed group */
    struct cli_witness_opts o;
} wgroup;

/* The group for NAME=VALUE (or VALUE) in arg; *val receives VALUE. NULL after a usage error. */
static wgroup *
wgroup_for(wgroup *g, size_t *ng, size_t cap, const char **val, const char *arg, const char *opt)
{
    char name[CLI_NAME_MAX + 1];
    if (split_named_opt(name, val, arg, opt) != 0)
        return NULL;
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

/* What the command line says, before any ledger is opened. */
typedef struct mount_args {
    named_list ledgers, keys, trusts; /* --ledger, --key, --trusted */
    wgroup groups[MAX_LEDGERS + 1];   /* --witness/--quorum/--policy/--max-age by NAME */
    size_t ngroups;
    char *fuse_opts; /* the -o options joined with ',' (malloc'd), NULL when none */
    const char *mountpoint;
} mount_args;

/* One --witness/--quorum/--policy/--max-age (c is its getopt code) into its group. */
static int
add_witness_opt(mount_args *a, int c, const char *arg)
{
    const char *val;
    wgroup *g = wgroup_for(a->groups, &a->ngroups, MAX_LEDGERS + 1, &val, arg,
                           c == 'W' ? "--witness" : c == 'Q' ? "--quorum"
                                                  : c == 'P' ? "--policy" : "--max-age");
    if (!g)
        return EXIT_USAGE;
    /* the same options as verify, sync and clone, for this ledger's group */
    return cli_witness_opt(&g->o, c, val) != 0 ? EXIT_USAGE : 0;
}

/* -o OPTIONS: appended to the options given before, comma-separated. */
static int
add_fuse_opts(char **fuse_opts, const char *arg)
{
    size_t old = *fuse_opts ? strlen(*fuse_opts) : 0;
    char *p = realloc(*fuse_opts, old + strlen(arg) + 2);
    if (!p)
        return EXIT_IO;
    if (old)
        p[old++] = ',';
    strcpy(p + old, arg);
    *fuse_opts = p;
    return 0;
}

/*
 * --on-notice needs --follow and an executable; the daemon leaves the working directory, so
 * the program is kept by its absolute path.
 */
static int
check_on_notice(afs_mount_config *cfg)
{
    static char hook_abs[4096];
    if (!cfg->on_notice_ctx)
        return 0;
    if (!cfg->follow)
        return cli_usage_error("--on-notice needs --follow (a pinned mount never gains notices)");
    if (access(cfg->on_notice_ctx, X_OK) != 0)
        return cli_usage_error("--on-notice '%s': not an executable file (give a program's path; "
                               "it runs without a shell)", (const char *)cfg->on_notice_ctx);
    if (realpath(cfg->on_notice_ctx, hook_abs))
        cfg->on_notice_ctx = hook_abs;
    cfg->on_notice = cli_notice_hook_entry;
    return 0;
}

/*
 * Step 1, the options. 0 and *done = 0 to go on; otherwise the exit code (0 after --help).
 * a->fuse_opts is the caller's to free either way.
 */
static int
parse_mount_args(mount_args *a, afs_mount_config *cfg, int *done, int argc, char **argv)
{
    static const struct option opts[] = {{"ledger", required_argument, 0, 'l'},
                                         {"key", required_argument, 0, 'k'},
                                         {"trusted", required_argument, 0, 'T'},
                                         {"follow", no_argument, 0, 'F'},
                                         {"foreground", no_argument, 0, 'f'},
                                         {"help", no_argument, 0, 'h'},
                                         CLI_WITNESS_LONGOPTS,
                                         {"on-notice", required_argument, 0, 'N'},
                                         CLI_NOTICE_TIMEOUT_LONGOPT,
                                         {"cache", required_argument, 0, 'C'},
                                         {"cache-dir", required_argument, 0, 'D'},
                                         {0, 0, 0, 0}};
    int c, rc = 0, has_notice_timeout = 0;
    *done = 1;
    while ((c = getopt_long(argc, argv, "fo:h", opts, NULL)) != -1) {
        switch (c) {
        case 'l': rc = named_add(&a->ledgers, optarg, "--ledger", "ledgers"); break;
        case 'k': rc = named_add(&a->keys, optarg, "--key", "keys"); break;
        case 'T': rc = named_add(&a->trusts, optarg, "--trusted", "trusted checkpoints"); break;
        case 'W':
        case 'Q':
        case 'P':
        case 'A': rc = add_witness_opt(a, c, optarg); break;
        case 'F': cfg->follow = 1; break;
        case 'N': cfg->on_notice_ctx = optarg; break;
        case CLI_OPT_NOTICE_TIMEOUT:
            rc = cli_notice_timeout_opt(optarg) != 0 ? EXIT_USAGE : 0;
            has_notice_timeout = 1;
            break;
        case 'f': cfg->foreground = 1; break;
        case 'C': {
            char *e = NULL;
            errno = 0;
            unsigned long long mib = strtoull(optarg, &e, 10);
            if (errno || !e || *e || e == optarg || mib < 1 || mib > 4096)
                return cli_usage_error("--cache: \"%s\" is not a size in MiB from 1 to 4096",
                                       optarg);
            cfg->cache_bytes = (size_t)mib << 20;
            break;
        }
        case 'D': cfg->cache_dir = optarg; break;
        case 'o': rc = add_fuse_opts(&a->fuse_opts, optarg); break;
        case 'h': fputs(mount_help, stdout); return 0;
        default: return EXIT_USAGE;
        }
        if (rc)
            return rc;
    }
    if (optind + 1 != argc)
        return cli_usage_error("mount needs exactly one MOUNTPOINT");
    if (has_notice_timeout && !cfg->on_notice_ctx)
        return cli_usage_error("--on-notice-timeout needs --on-notice PROGRAM");
    if ((rc = check_on_notice(cfg)) != 0)
        return rc;
    a->mountpoint = argv[optind];
    *done = 0;
    return 0;
}

/*
 * Step 2, the ledgers and their names: each --ledger (or $AUDITFS_LEDGER) with the --key and
 * --trusted given for it, by name or, unnamed, by position; several ledgers must each have a
 * distinct name. Paths become absolute: the daemon leaves the working directory, and the
 * README and fsname should name the ledger unambiguously.
 */
static int
match_ledgers(afs_mount_ledger ledgers[MAX_LEDGERS], size_t *nl, mount_args *a)
{
    static char abs_paths[MAX_LEDGERS][4096];
    if (a->ledgers.n == 0) {
        const char *env = cli_ledger_path(NULL);
        if (!env)
            return cli_usage_error("no ledger: give --ledger DIR or set AUDITFS_LEDGER");
        a->ledgers.val[0] = env;
        a->ledgers.name[0][0] = 0;
        a->ledgers.n = 1;
    }
    *nl = a->ledgers.n;
    for (size_t i = 0; i < *nl; i++) {
        ledgers[i].path = a->ledgers.val[i];
        ledgers[i].name = a->ledgers.name[i][0] ? a->ledgers.name[i] : NULL;
        if (*nl > 1 && !ledgers[i].name)
            return cli_usage_error("with several ledgers, give each a name: --ledger NAME=DIR "
                                   "(NAME of [A-Za-z0-9._-])");
        ledgers[i].key = named_for(&a->keys, i, ledgers[i].name);
        ledgers[i].trusted = named_for(&a->trusts, i, ledgers[i].name);
        for (size_t j = 0; j < i; j++)
            if (ledgers[i].name && ledgers[j].name && !strcmp(ledgers[i].name, ledgers[j].name))
                return cli_usage_error("ledger name %s given twice", ledgers[i].name);
    }
    for (size_t i = 0; i < *nl; i++)
        if (realpath(ledgers[i].path, abs_paths[i]))
            ledgers[i].path = abs_paths[i];
    return 0;
}

/*
 * Step 3, the verifier's memory: each head checked against the pinned (or given, then pinned)
 * key and what this party saw before mounting; the views check again, and at every --follow.
 * *st is the first ledger's state (all share the state directory); pinned[i] the key pinned
 * for ledger i when none was given. Both are the caller's to free, whatever is returned.
 */
static int
trust_ledgers(auditfs_state **st, auditfs_verifier *pinned[MAX_LEDGERS],
              afs_mount_ledger *ledgers, size_t nl)
{
    int rc = 0;
    for (size_t i = 0; i < nl; i++) {
        auditfs_ledger *l = NULL;
        auditfs_state *s1 = NULL;
        auditfs_checkpoint head;
        if ((rc = cli_open_trusted(&l, &s1, ledgers[i].path, ledgers[i].key, NULL)) != 0)
            return rc;
        if (!ledgers[i].key && auditfs_ledger_head(&head, l) == 0 &&
            (rc = cli_pinned_key(&pinned[i], s1, head.origin)) == 0)
            ledgers[i].verifier = pinned[i];
        auditfs_ledger_free(l);
        if (!*st)
            *st = s1;
        else
            auditfs_state_free(s1);
        if (rc)
            return rc;
    }
    return 0;
}

/*
 * Step 4, witnesses, per ledger: its own NAME= group, else the unnamed group; a NAME= group
 * must name a mounted ledger. Each head must have its quorum before anything is mounted, and
 * the daemon pins and follows only checkpoints that have their quorum (policies[i], the
 * caller's to free).
 */
static int
witness_ledgers(auditfs_policy *policies[MAX_LEDGERS], afs_mount_ledger *ledgers, size_t nl,
                const mount_args *a)
{
    int rc;
    for (size_t k = 0; k < a->ngroups; k++) {
        int found = !a->groups[k].name[0];
        for (size_t i = 0; i < nl && !found; i++)
            found = ledgers[i].name && !strcmp(ledgers[i].name, a->groups[k].name);
        if (!found)
            return cli_usage_error("witness options for '%s': no ledger of that name is mounted",
                                   a->groups[k].name);
    }
    for (size_t i = 0; i < nl; i++) {
        const wgroup *mine = NULL;
        for (size_t k = 0; k < a->ngroups; k++)
            if (a->groups[k].name[0] && ledgers[i].name &&
                !strcmp(a->groups[k].name, ledgers[i].name))
                mine = &a->groups[k];
        for (size_t k = 0; k < a->ngroups && !mine; k++)
            if (!a->groups[k].name[0])
                mine = &a->groups[k];
        if (!mine || !wgroup_any(mine))
            continue;
        if ((rc = witness_precheck(&mine->o, &ledgers[i])) != 0 ||
            (rc = cli_witness_policy(&policies[i], &ledgers[i].max_age, &mine->o)) != 0)
            return rc;
        ledgers[i].policy = policies[i];
    }
    return 0;
}

int
cmd_mount(int argc, char **argv)
{
    static mount_args a; /* large (names of every list): not on the stack */
    afs_mount_ledger ledgers[MAX_LEDGERS];
    afs_mount_config cfg = AFS_MOUNT_CONFIG_INIT;
    auditfs_state *st = NULL;
    auditfs_verifier *pinned[MAX_LEDGERS] = {0};
    auditfs_policy *policies[MAX_LEDGERS] = {0};
    size_t nl = 0;
    int done, rc;
    memset(ledgers, 0, sizeof ledgers);
    memset(&a, 0, sizeof a);
    if ((rc = parse_mount_args(&a, &cfg, &done, argc, argv)) != 0 || done)
        goto cleanup;
    if ((rc = match_ledgers(ledgers, &nl, &a)) != 0 ||
        (rc = trust_ledgers(&st, pinned, ledgers, nl)) != 0)
        goto cleanup;
    cfg.state = st;
    if ((rc = witness_ledgers(policies, ledgers, nl, &a)) != 0)
        goto cleanup;
    cfg.ledgers = ledgers;
    cfg.nledgers = nl;
    cfg.mountpoint = a.mountpoint;
    cfg.fuse_opts = a.fuse_opts;
    const char *ms = getenv("AUDITFS_FOLLOW_MS");
    cfg.follow_ms = ms ? (unsigned)strtoul(ms, NULL, 10) : 1000;
    cli_progress prog;
    cfg.progress = cli_progress_init(&prog);
    rc = cli_exit_code(afs_mount_run(&cfg));
cleanup:
    for (size_t i = 0; i < MAX_LEDGERS; i++) {
        auditfs_verifier_free(pinned[i]);
        auditfs_policy_free(policies[i]);
    }
    auditfs_state_free(st);
    free(a.fuse_opts);
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
