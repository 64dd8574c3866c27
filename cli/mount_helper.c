/*
 * cli/mount_helper.c - `mount -t fuse.auditfs LEDGER MOUNTPOINT -o key=FILE.pub,...` and fstab.
 *
 * mount(8) hands a fuse.TYPE mount to mount.fuse3, which runs `TYPE SOURCE MOUNTPOINT -o OPTS`
 * through /bin/sh with mount(8)'s fixed PATH (/usr/local/sbin:/usr/local/bin:/usr/sbin:...), so
 * the installed `auditfs` is called with a ledger path where a command name would be. main()
 * sends such calls here; they become `auditfs mount --ledger SOURCE --key K ... MOUNTPOINT`.
 *
 * Options: key=FILE.pub, state=DIR, trusted=FILE, follow, and the FUSE options allow_other,
 * allow_root, default_permissions, kernel_cache, max_read=N, fsname=S. The generic options
 * mount(8) and mount.fuse3 add or that fstab carries (ro, rw, dev, nodev, suid, nosuid, exec,
 * noexec, atime, noatime, relatime, defaults, auto, noauto, user, users, nouser, nofail,
 * _netdev, x-*, comment=*) are accepted and ignored: the mount is always read-only, nodev and
 * nosuid. Anything else is a usage error naming it, so a typo in fstab is not silently lost.
 *
 * Without key= the mount uses the verifier key pinned for the ledger's origin in the state
 * directory (never a key found in the ledger; none pinned: exit 5 naming `auditfs trust add`).
 * The state directory: state=DIR; else $AUDITFS_STATE; else, for root (a mount at boot, where
 * no HOME or XDG variable can be relied on), /var/lib/auditfs-mount/<LEDGER's base name>, the
 * directory auditfs-mount@.service uses; root-owned, apart from the auditfs user's
 * /var/lib/auditfs/state/<name> (root's files there would lock that user's services out);
 * else the user's default.
 */
#include "cli.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/** Where root's mounts keep their state when no state= or $AUDITFS_STATE says otherwise. */
#define AUDITFS_MOUNT_STATE_ROOT "/var/lib/auditfs-mount"

static int
is_ignored(const char *o)
{
    static const char *const generic[] = {
        "ro", "rw", "dev", "nodev", "suid", "nosuid", "exec", "noexec", "atime", "noatime",
        "relatime", "norelatime", "strictatime", "nodiratime", "defaults", "auto", "noauto",
        "user", "users", "nouser", "owner", "group", "nofail", "_netdev", "async", "sync",
        "silent", "loud", NULL};
    for (const char *const *g = generic; *g; g++)
        if (strcmp(o, *g) == 0)
            return 1;
    return strncmp(o, "x-", 2) == 0 || strncmp(o, "comment=", 8) == 0;
}

static int
is_fuse_passthrough(const char *o)
{
    static const char *const plain[] = {"allow_other", "allow_root", "default_permissions",
                                        "kernel_cache", NULL};
    for (const char *const *p = plain; *p; p++)
        if (strcmp(o, *p) == 0)
            return 1;
    return strncmp(o, "max_read=", 9) == 0 || strncmp(o, "fsname=", 7) == 0;
}

int
cli_mount_opts_parse(cli_mount_opts *out, char *opts, char *fuse)
{
    char *save = NULL;
    size_t fl = 0;
    memset(out, 0, sizeof *out);
    out->fuse = fuse;
    fuse[0] = 0;
    for (char *o = opts ? strtok_r(opts, ",", &save) : NULL; o; o = strtok_r(NULL, ",", &save)) {
        if (strncmp(o, "key=", 4) == 0)
            out->key = o + 4;
        else if (strncmp(o, "state=", 6) == 0)
            out->state = o + 6;
        else if (strncmp(o, "trusted=", 8) == 0)
            out->trusted = o + 8;
        else if (strcmp(o, "follow") == 0)
            out->follow = 1;
        else if (is_fuse_passthrough(o)) {
            /* fuse has strlen(opts) + 1 bytes and only options of opts go in, each once */
            if (fl)
                fuse[fl++] = ',';
            size_t ol = strlen(o);
            memcpy(fuse + fl, o, ol + 1);
            fl += ol;
        } else if (!is_ignored(o)) {
            out->bad = o;
            return -1;
        }
    }
    return 0;
}

int
cli_is_mount_helper_call(int argc, char **argv)
{
    struct stat a, b;
    /* SOURCE MOUNTPOINT [-o OPTS]: both exist, the mount point is a directory */
    return argc >= 3 && argv[1][0] != '-' && stat(argv[1], &a) == 0 && stat(argv[2], &b) == 0 &&
           S_ISDIR(b.st_mode);
}

/*
 * Sets AUDITFS_STATE for the mount: state=DIR, else the environment's, else for root
 * /var/lib/auditfs-mount/<base name of the ledger's real path> (see the top of this file).
 */
static int
mount_state_dir(const char *source, const char *state)
{
    const char *env = getenv("AUDITFS_STATE");
    char abs[PATH_MAX], dir[PATH_MAX + 64];
    if (state)
        return setenv("AUDITFS_STATE", state, 1) == 0 ? 0 : EXIT_IO;
    if ((env && *env) || geteuid() != 0)
        return 0;
    if (!realpath(source, abs))
        return 0; /* the mount itself reports the missing ledger */
    const char *base = strrchr(abs, '/');
    base = base && base[1] ? base + 1 : abs;
    if (!cli_valid_name(base))
        return cli_usage_error("mount of %s: no state=DIR given, and the ledger's name '%s' "
                               "cannot name a directory under " AUDITFS_MOUNT_STATE_ROOT,
                               source, base);
    snprintf(dir, sizeof dir, "%s/%s", AUDITFS_MOUNT_STATE_ROOT, base);
    return setenv("AUDITFS_STATE", dir, 1) == 0 ? 0 : EXIT_IO;
}

int
cli_mount_helper(int argc, char **argv)
{
    const char *source = argv[1], *mountpoint = argv[2];
    char *opts = NULL, *fuse = NULL;
    const char *key = NULL, *trusted = NULL;
    int follow = 0, foreground = 0, rc = EXIT_USAGE;
    size_t fl = 0;
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            size_t ol = opts ? strlen(opts) : 0, al = strlen(argv[i + 1]);
            char *p = realloc(opts, ol + al + 2);
            if (!p)
                goto out;
            if (ol)
                p[ol++] = ',';
            memcpy(p + ol, argv[i + 1], al + 1);
            opts = p;
            i++;
        } else if (strcmp(argv[i], "-f") == 0) {
            foreground = 1;
        } else if (strcmp(argv[i], "-n") == 0 || strcmp(argv[i], "-v") == 0 ||
                   strcmp(argv[i], "-s") == 0) {
            /* mount(8) helper flags: no mtab, verbose, sloppy */
        } else {
            cli_usage_error("mount helper: unexpected argument '%s' (usage: auditfs LEDGER "
                            "MOUNTPOINT [-o key=FILE.pub,state=DIR,...])", argv[i]);
            goto out;
        }
    }
    fuse = calloc(1, opts ? strlen(opts) + 1 : 1);
    if (!fuse)
        goto out;
    cli_mount_opts mo;
    if (cli_mount_opts_parse(&mo, opts, fuse) != 0) {
        cli_usage_error("mount option '%s' is not an auditfs option (key=FILE.pub, "
                        "state=DIR, trusted=FILE, follow, allow_other, ...)", mo.bad);
        goto out;
    }
    key = mo.key;
    trusted = mo.trusted;
    follow = mo.follow;
    fl = strlen(fuse);
    if ((key && !*key) || (mo.state && !*mo.state)) {
        cli_usage_error("mount of %s: key= and state= need a value (key=FILE.pub, state=DIR)",
                        source);
        goto out;
    }
    if ((rc = mount_state_dir(source, mo.state)) != 0)
        goto out;
    rc = EXIT_USAGE;
    char *margv[16];
    int n = 0;
    margv[n++] = "mount";
    margv[n++] = "--ledger";
    margv[n++] = (char *)source;
    if (key) { /* else the key pinned for the ledger's origin (cmd_mount, cli_open_trusted) */
        margv[n++] = "--key";
        margv[n++] = (char *)key;
    }
    if (trusted) {
        margv[n++] = "--trusted";
        margv[n++] = (char *)trusted;
    }
    if (follow)
        margv[n++] = "--follow";
    if (foreground)
        margv[n++] = "-f";
    if (fl) {
        margv[n++] = "-o";
        margv[n++] = fuse;
    }
    margv[n++] = (char *)mountpoint;
    margv[n] = NULL;
    optind = 1;
    rc = cmd_mount(n, margv);
out:
    free(opts);
    free(fuse);
    return rc;
}
