/* fs/mount.h - `auditfs mount`: the FUSE adapter over auditfs/view.h. */
#ifndef AUDITFS_FS_MOUNT_H
#define AUDITFS_FS_MOUNT_H

#include "auditfs/entry.h"
#include "auditfs/progress.h"
#include "auditfs/policy.h"

#include <stddef.h>
#include <stdint.h>

typedef struct afs_mount_ledger {
    const char *name;    /* top-level directory when several ledgers are mounted */
    const char *path;    /* the ledger repository */
    const char *key;     /* verifier key file, or NULL: `verifier` */
    const struct auditfs_verifier *verifier; /* the key when no file is given (pinned) */
    const char *trusted; /* optional checkpoint file the ledger must extend */
    /* optional: this ledger's own witness quorum (overrides afs_mount_config.policy for it);
     * max_age as afs_mount_config.max_age, used only with policy */
    const auditfs_policy *policy;
    int64_t max_age;
} afs_mount_ledger;

typedef struct afs_mount_config {
    const afs_mount_ledger *ledgers;
    size_t nledgers;
    const char *mountpoint;
    const char *fuse_opts; /* extra -o options, comma-separated, or NULL */
    int foreground;        /* -f: stay in the foreground, log to stderr */
    int follow;            /* --follow: pick up new verified checkpoints */
    unsigned follow_ms;    /* poll interval for --follow */
    size_t cache_bytes;    /* verified-frame cache per ledger; 0: the default */
    const char *cache_dir; /* the views' private files (auditfs_view_options.cache_dir) */
    auditfs_progress progress; /* reports the verifying scan of each ledger before mounting */
    const auditfs_policy *policy; /* optional: pin and follow only witness-quorum checkpoints */
    int64_t max_age;       /* with policy: cosignatures older than this many seconds do not
                              count; -1: any age */
    struct auditfs_state *state; /* the verifier's memory (auditfs/state.h), or NULL */
    /* --follow: each notice or document version a step brought in is logged (the line of
     * auditfs_notice_line) and, when on_notice is set, passed to it from the follower thread
     * with the ledger's path, origin and new size; a nonzero result is logged
     * (AFS_NOTICE_TIMED_OUT: the program outlived its timeout and was killed) */
    int (*on_notice)(void *ctx, const struct auditfs_entry *e, const char *ledger,
                     const char *origin, uint64_t tree_size);
    void *on_notice_ctx;
} afs_mount_config;
#define AFS_NOTICE_TIMED_OUT 1000
#define AFS_MOUNT_CONFIG_INIT {.ledgers = NULL, .max_age = -1}

/**
 * Verifies, mounts and serves until unmounted. Prints its own errors; returns 0 or a library
 * error code (AUDITFS_E*: EVERIFY a ledger that does not verify, EKEY/ENOTFOUND a key, EINVAL a
 * bad FUSE option, EIO the mount itself); the CLI maps it to an exit code.
 */
int afs_mount_run(const afs_mount_config *cfg);

/** Unmounts MOUNTPOINT (fusermount3 -u, or umount2 as root). Returns 0 or AUDITFS_EIO. */
int afs_umount_run(const char *mountpoint, int lazy);

#endif
