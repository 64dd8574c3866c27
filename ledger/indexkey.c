/*
 * ledger/indexkey.c - the reading party's secret that authenticates the derived query index.
 *
 * The index under <gitdir>/auditfs-index/ is written into a directory that other people may be
 * able to write, so its meta file carries HMAC-SHA256 under a 32-byte key that only this party
 * holds: <state>/index.key, where <state> is $AUDITFS_STATE, else $XDG_STATE_HOME/auditfs, else
 * $HOME/.local/state/auditfs. The file holds exactly 32 random bytes, mode 0600, owned by the
 * caller; a looser mode, another owner or another length is refused (the index is then not
 * used: a query scans). Invariant: the key is only ever held in sodium_malloc memory.
 *
 * All state-directory handling of this file is in afs_index_key_load(), so that it can be pointed
 * at a shared state-directory module without touching the index code.
 */
#include "auditfs/state.h"
#include "indexkey.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_FILE "index.key"

/* The state directory (without creating it). */
static int
state_dir(char *out, size_t cap)
{
    /* the party's one state directory (state.c resolves $AUDITFS_STATE and the defaults) */
    return auditfs_state_default_path(out, cap);
}

/* mkdir -p with mode 0700 for the directories it creates. */
static int
mkdirs(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        int r = mkdir(path, 0700);
        *p = '/';
        if (r != 0 && errno != EEXIST)
            return afs_error_set(AUDITFS_EIO, "%s: %s", path, strerror(errno));
    }
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return afs_error_set(AUDITFS_EIO, "%s: %s", path, strerror(errno));
    return 0;
}

/* Reads the key from an open descriptor after checking owner, mode and length. */
static int
key_read(uint8_t *key, int fd, const char *path)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return afs_error_set(AUDITFS_EIO, "%s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode) || st.st_uid != geteuid())
        return afs_error_set(AUDITFS_EKEY, "%s: not a regular file owned by this user", path);
    if (st.st_mode & 077)
        return afs_error_set(AUDITFS_EKEY, "%s: mode %03o is too open (must be 0600)", path,
                             (unsigned)(st.st_mode & 0777));
    if (st.st_size != AFS_INDEX_KEY_BYTES)
        return afs_error_set(AUDITFS_EKEY, "%s: %lld bytes, expected %d", path,
                             (long long)st.st_size, AFS_INDEX_KEY_BYTES);
    size_t got = 0;
    while (got < AFS_INDEX_KEY_BYTES) {
        ssize_t r = read(fd, key + got, AFS_INDEX_KEY_BYTES - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return afs_error_set(AUDITFS_EIO, "%s: short read", path);
        got += (size_t)r;
    }
    return 0;
}

/* Creates the key file with O_EXCL (a concurrent creator wins and its key is read instead). */
static int
key_create(uint8_t *key, const char *dir, const char *path)
{
    char tmp[4200];
    int err, fd;
    if (snprintf(tmp, sizeof tmp, "%s", dir) >= (int)sizeof tmp)
        return afs_error_set(AUDITFS_EINVAL, "state directory path too long");
    if ((err = mkdirs(tmp)) != 0)
        return err;
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        if (errno != EEXIST)
            return afs_error_set(AUDITFS_EIO, "%s: %s", path, strerror(errno));
        if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
            return afs_error_set(AUDITFS_EIO, "%s: %s", path, strerror(errno));
        err = key_read(key, fd, path);
        close(fd);
        return err;
    }
    randombytes_buf(key, AFS_INDEX_KEY_BYTES);
    if (write(fd, key, AFS_INDEX_KEY_BYTES) != AFS_INDEX_KEY_BYTES || fsync(fd) != 0) {
        err = afs_error_set(AUDITFS_EIO, "%s: %s", path, strerror(errno));
        close(fd);
        unlink(path);
        return err;
    }
    close(fd);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    return 0;
}

int
afs_index_key_load(uint8_t **out, int create)
{
    char dir[4096], path[4200];
    int err, fd;
    uint8_t *key;
    *out = NULL;
    if (sodium_init() < 0)
        return afs_error_set(AUDITFS_ERROR, "libsodium cannot be initialised");
    if ((err = state_dir(dir, sizeof dir)) != 0)
        return err;
    snprintf(path, sizeof path, "%s/%s", dir, KEY_FILE);
    if (!(key = sodium_malloc(AFS_INDEX_KEY_BYTES)))
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd >= 0) {
        err = key_read(key, fd, path);
        close(fd);
    } else if (errno == ENOENT && create) {
        err = key_create(key, dir, path);
    } else if (errno == ENOENT) {
        err = afs_error_set(AUDITFS_ENOTFOUND, "%s: no index key (this party built no index)",
                            path);
    } else {
        err = afs_error_set(AUDITFS_EIO, "%s: %s", path, strerror(errno));
    }
    if (err) {
        sodium_free(key);
        return err;
    }
    *out = key;
    return 0;
}

void
afs_index_key_free(uint8_t *key)
{
    if (key)
        sodium_free(key);
}
