/*
 * ledger/archive.c - the whole ledger as one git bundle (v2) that stock `git clone` reads.
 *
 * The repository is the one auditfs_ledger_open opened: its object database has the checked
 * loose-object reader (odb.c) in front, so a corrupt or hostile object fails cleanly here as it
 * does everywhere else. The archive is exactly the opened head commit (not whatever the ref
 * says by the time we write), and the checkpoint written beside it is that commit's.
 */
#include "auditfs/bundle.h"
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct pack_out {
    FILE *f;
    int err;
} pack_out;

static int
pack_cb(void *buf, size_t size, void *payload)
{
    pack_out *o = payload;
    if (fwrite(buf, 1, size, o->f) != size) {
        o->err = errno ? errno : EIO;
        return -1;
    }
    return 0;
}

int
auditfs_archive_write(const char *path, auditfs_ledger *l, size_t *objects, uint64_t *size)
{
    git_revwalk *walk = NULL;
    git_packbuilder *pb = NULL;
    FILE *f = NULL;
    char tmp[4200], cpath[4200], oid[GIT_OID_HEXSZ + 1];
    int err = 0;
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp ||
        snprintf(cpath, sizeof cpath, "%s.checkpoint", path) >= (int)sizeof cpath)
        return afs_error_set(AUDITFS_EINVAL, "%.100s...: path too long", path);
    if (!l->head || !l->cp_note)
        return afs_error_set(AUDITFS_ENOTFOUND, "the ledger has no head commit");
    if (git_revwalk_new(&walk, l->repo) < 0 || git_revwalk_push(walk, &l->head_id) < 0 ||
        git_packbuilder_new(&pb, l->repo) < 0 || git_packbuilder_insert_walk(pb, walk) < 0) {
        err = afs_error_git(AUDITFS_EIO, "archive: collecting objects");
        goto cleanup;
    }
    git_oid_tostr(oid, sizeof oid, &l->head_id);
    if (!(f = fopen(tmp, "wb")) ||
        fprintf(f, "# v2 git bundle\n%s refs/heads/main\n%s HEAD\n\n", oid, oid) < 0) {
        err = afs_error_set(AUDITFS_EIO, "%s: %s", tmp, strerror(errno));
        goto cleanup;
    }
    pack_out po = {f, 0};
    if (git_packbuilder_foreach(pb, pack_cb, &po) < 0 || po.err) {
        err = po.err ? afs_error_set(AUDITFS_EIO, "%s: %s", tmp, strerror(po.err))
                     : afs_error_git(AUDITFS_EIO, "archive: writing the pack");
        goto cleanup;
    }
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
        err = afs_error_set(AUDITFS_EIO, "%s: %s", tmp, strerror(errno));
        goto cleanup;
    }
    if (fclose(f) != 0) {
        f = NULL;
        err = afs_error_set(AUDITFS_EIO, "%s: %s", tmp, strerror(errno));
        goto cleanup;
    }
    f = NULL;
    if ((err = afs_write_atomic(cpath, l->cp_note, l->cp_note_len, 0644)) != 0)
        goto cleanup;
    if (rename(tmp, path) != 0) {
        err = afs_error_set(AUDITFS_EIO, "%s: %s", path, strerror(errno));
        goto cleanup;
    }
    err = afs_fsync_dir(path);
    if (objects)
        *objects = git_packbuilder_object_count(pb);
    if (size)
        *size = l->cp.size;
cleanup:
    if (f)
        fclose(f);
    if (err)
        unlink(tmp);
    git_packbuilder_free(pb);
    git_revwalk_free(walk);
    return err;
}
