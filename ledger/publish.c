/*
 * ledger/publish.c - moving a ref durably (see publish.h): the side ref of cosignatures
 * (cosig_store.c), a clone's head (replica.c) and the crash roll-forward (trust.c) use it; the
 * ledger writer (ingest.c) calls afs_repo_sync and afs_ref_sync itself, in the same order, with
 * its pack and intent record in between.
 */
#include "publish.h"

#include "commitsig.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int
afs_repo_sync(git_repository *repo)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%sobjects", git_repository_path(repo));
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return afs_error_set(AUDITFS_EIO, "%s: %s", dir, strerror(errno));
    int rc = syncfs(fd);
    int e = errno;
    close(fd);
    if (rc != 0)
        return afs_error_set(AUDITFS_EIO, "%s: syncfs: %s", dir, strerror(e));
    return 0;
}

int
afs_ref_sync(git_repository *repo, const char *refname)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s%s", git_repository_path(repo), refname);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        /* `git pack-refs` moved the ref into packed-refs after our rename (it holds the ref's
         * lock while it does): what must be durable is packed-refs and the directories */
        snprintf(path, sizeof path, "%spacked-refs", git_repository_path(repo));
        fd = open(path, O_RDONLY | O_CLOEXEC);
    }
    if (fd < 0)
        return afs_error_set(AUDITFS_EIO, "%s: %s", path, strerror(errno));
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    if (rc != 0)
        return afs_error_set(AUDITFS_EIO, "%s: fsync: %s", path, strerror(e));
    return afs_fsync_dir(path);
}

int
afs_ref_publish(git_repository *repo, const char *refname, const git_oid *id,
                const git_oid *old, const char *msg, const char *where)
{
    git_reference *ref = NULL;
    int rc = old ? git_reference_create_matching(&ref, repo, refname, id, 1, old, msg)
                 : git_reference_create(&ref, repo, refname, id, 0, msg);
    git_reference_free(ref);
    if (rc < 0) {
        /* a lock held by git (gc, pack-refs) is EBUSY: nothing was published, retry later */
        const git_error *ge = git_error_last();
        return afs_error_git(ge && ge->klass == GIT_ERROR_REFERENCE ? AUDITFS_EBUSY
                                 : AUDITFS_EIO,
                             "%s: cannot advance %s", where, refname);
    }
    return afs_ref_sync(repo, refname);
}

int
afs_commit_publish(git_oid *out, git_repository *repo, const char *refname,
                   const git_tree *base, const git_tree_update *ups, size_t nups,
                   const git_commit *parent, const char *msg, const auditfs_signer *key,
                   const char *where)
{
    git_oid tree_id;
    git_tree *tree = NULL;
    git_signature *sig = NULL;
    const git_commit *parents[1] = {parent};
    int err;
    /* libgit2 accepts a NULL baseline: a first commit leaves no intermediate tree behind */
    if (git_tree_create_updated(&tree_id, repo, (git_tree *)base, nups, ups) < 0) {
        err = afs_error_git(AUDITFS_EIO, "%s: cannot build the tree for %s", where, refname);
        goto cleanup;
    }
    if (git_tree_lookup(&tree, repo, &tree_id) < 0 ||
        git_signature_now(&sig, "auditfs", "auditfs@localhost") < 0) {
        err = afs_error_git(AUDITFS_EIO, "%s: cannot prepare the commit for %s", where, refname);
        goto cleanup;
    }
    if (key) {
        if ((err = afs_commit_create_signed(out, repo, sig, msg, tree, parent ? 1 : 0, parents,
                                            key)) != 0) {
            err = afs_error_wrap(err, "%s", where);
            goto cleanup;
        }
    } else if (git_commit_create(out, repo, NULL, sig, sig, NULL, msg, tree, parent ? 1 : 0,
                                 parents) < 0) {
        err = afs_error_git(AUDITFS_EIO, "%s: cannot write the commit for %s", where, refname);
        goto cleanup;
    }
    /* durable before published */
    if ((err = afs_repo_sync(repo)) != 0)
        goto cleanup;
    err = afs_ref_publish(repo, refname, out, parent ? git_commit_id(parent) : NULL, msg, where);
cleanup:
    git_signature_free(sig);
    git_tree_free(tree);
    return err;
}
