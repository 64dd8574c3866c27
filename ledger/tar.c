/*
 * ledger/tar.c - an incident bundle as one file: a POSIX ustar archive (readable by any tar)
 * of the bundle directory, written after the directory is complete and then removed.
 * Deterministic: sorted paths, mode 0644/0755, uid/gid 0, the bundle's files' own sizes,
 * mtime 0.
 */
#include "bundle_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct tar_out {
    FILE *f;
    const char *root; /* the bundle directory */
    const char *top;  /* the archive's top directory name */
    int err;
} tar_out;

static void
octal(char *dst, size_t n, uint64_t v)
{
    snprintf(dst, n, "%0*llo", (int)n - 1, (unsigned long long)v);
}

/* one 512-byte ustar header; name split into prefix/name when longer than 100 bytes */
static int
header(tar_out *t, const char *path, uint64_t size, int dir)
{
    uint8_t h[512];
    size_t len = strlen(path);
    memset(h, 0, sizeof h);
    if (len <= 100) {
        memcpy(h, path, len);
    } else {
        const char *cut = NULL;
        for (const char *p = path; (p = strchr(p, '/')) != NULL; p++)
            if ((size_t)(p - path) <= 155 && len - (size_t)(p - path) - 1 <= 100)
                cut = p;
        if (!cut)
            return afs_error_set(AUDITFS_ETOOBIG, "%s: path too long for a tar archive", path);
        memcpy(h + 345, path, (size_t)(cut - path));
        memcpy(h, cut + 1, len - (size_t)(cut - path) - 1);
    }
    octal((char *)h + 100, 8, dir ? 0755 : 0644);
    octal((char *)h + 108, 8, 0);
    octal((char *)h + 116, 8, 0);
    octal((char *)h + 124, 12, dir ? 0 : size);
    octal((char *)h + 136, 12, 0);
    h[156] = dir ? '5' : '0';
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (size_t i = 0; i < sizeof h; i++)
        sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
    h[155] = ' ';
    if (fwrite(h, 1, sizeof h, t->f) != sizeof h)
        return afs_error_set(AUDITFS_EIO, "writing the archive: %s", strerror(errno));
    return 0;
}

static int
cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* rel is "" or "a/b"; writes the directory's entries in sorted order, recursively */
static int
add_dir(tar_out *t, const char *rel, int depth)
{
    char path[4096], arc[4400];
    char **names = NULL;
    size_t n = 0, cap = 0;
    int err = 0;
    if (depth > 8)
        return afs_error_set(AUDITFS_EFORMAT, "%s: nested too deep", rel);
    snprintf(path, sizeof path, "%s%s%s", t->root, rel[0] ? "/" : "", rel);
    DIR *d = opendir(path);
    if (!d)
        return afs_error_set(AUDITFS_EIO, "%s: %s", path, strerror(errno));
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            char **v = realloc(names, cap * sizeof *v);
            if (!v) {
                err = afs_error_set(AUDITFS_ENOMEM, "out of memory");
                break;
            }
            names = v;
        }
        if (!(names[n++] = strdup(de->d_name))) {
            err = afs_error_set(AUDITFS_ENOMEM, "out of memory");
            break;
        }
    }
    closedir(d);
    if (!err)
        qsort(names, n, sizeof *names, cmp_names);
    for (size_t i = 0; i < n && !err; i++) {
        char r2[4096], full[8200];
        struct stat st;
        snprintf(r2, sizeof r2, "%s%s%s", rel, rel[0] ? "/" : "", names[i]);
        snprintf(full, sizeof full, "%s/%s", t->root, r2);
        snprintf(arc, sizeof arc, "%s/%s", t->top, r2);
        if (lstat(full, &st) != 0) {
            err = afs_error_set(AUDITFS_EIO, "%s: %s", full, strerror(errno));
        } else if (S_ISDIR(st.st_mode)) {
            strcat(arc, "/");
            if (!(err = header(t, arc, 0, 1)))
                err = add_dir(t, r2, depth + 1);
        } else if (S_ISREG(st.st_mode)) {
            char *data = NULL;
            size_t len = 0;
            static const uint8_t zero[512];
            if (!(err = afs_read_regular(&data, &len, full, AUDITFS_BUNDLE_FILE_MAX)) &&
                !(err = header(t, arc, len, 0)) &&
                (fwrite(data, 1, len, t->f) != len ||
                 fwrite(zero, 1, (512 - len % 512) % 512, t->f) != (512 - len % 512) % 512))
                err = afs_error_set(AUDITFS_EIO, "writing the archive: %s", strerror(errno));
            free(data);
        } else {
            err = afs_error_set(AUDITFS_EFORMAT, "%s: not a regular file", full);
        }
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return err;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int
auditfs_bundle_create_tar(const char *path, const auditfs_bundle_spec *spec,
                          const auditfs_bundle_source *src, size_t n)
{
    char dir[4200], tmp[4200], top[256];
    struct stat st;
    int err;
    if (snprintf(dir, sizeof dir, "%s.d.tmp", path) >= (int)sizeof dir ||
        snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return afs_error_set(AUDITFS_EINVAL, "%.100s...: path too long", path);
    if (lstat(path, &st) == 0)
        return afs_error_set(AUDITFS_EEXISTS, "%s: exists", path);
    /* the archive's top directory: the file's base name without ".tar" */
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t bl = strlen(base);
    if (bl > 4 && !strcmp(base + bl - 4, ".tar"))
        bl -= 4;
    snprintf(top, sizeof top, "%.*s", (int)(bl < 100 ? bl : 100), base);
    if (!top[0] || !strcmp(top, ".") || !strcmp(top, ".."))
        snprintf(top, sizeof top, "bundle");
    if ((err = auditfs_bundle_create(dir, spec, src, n)) != 0) {
        if (err != AUDITFS_EEXISTS && err != AUDITFS_EINVAL)
            nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        return err;
    }
    tar_out t = {NULL, dir, top, 0};
    if (!(t.f = fopen(tmp, "wb"))) {
        err = afs_error_set(AUDITFS_EIO, "%s: %s", tmp, strerror(errno));
        goto cleanup;
    }
    static const uint8_t zero[1024];
    char topdir[300];
    snprintf(topdir, sizeof topdir, "%s/", top);
    if (!(err = header(&t, topdir, 0, 1)) && !(err = add_dir(&t, "", 0)) &&
        fwrite(zero, 1, sizeof zero, t.f) != sizeof zero)
        err = afs_error_set(AUDITFS_EIO, "%s: %s", tmp, strerror(errno));
    if (!err && (fflush(t.f) != 0 || fsync(fileno(t.f)) != 0))
        err = afs_error_set(AUDITFS_EIO, "%s: %s", tmp, strerror(errno));
    if (fclose(t.f) != 0 && !err)
        err = afs_error_set(AUDITFS_EIO, "%s: %s", tmp, strerror(errno));
    if (!err && rename(tmp, path) != 0)
        err = afs_error_set(AUDITFS_EIO, "%s: %s", path, strerror(errno));
    if (!err)
        err = afs_fsync_dir(path);
cleanup:
    if (err)
        unlink(tmp);
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return err;
}
