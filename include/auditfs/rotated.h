/*
 * auditfs/rotated.h - reading a followed file's rotated copies that logrotate compressed
 * (`compress`: FILE.1.gz, or FILE.1.zst with compresscmd zstd), so that `append --follow`
 * recognises and reads them like uncompressed ones (docs/FORMAT.md section 16.2).
 */
#ifndef AUDITFS_ROTATED_H
#define AUDITFS_ROTATED_H

#include "common.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** How a rotated file's name says it is stored. */
enum {
    AUDITFS_ROTATED_PLAIN = 0, /* as written */
    AUDITFS_ROTATED_GZIP = 1,  /* .gz (zlib, gzip members) */
    AUDITFS_ROTATED_ZSTD = 2,  /* .zst (zstd frames) */
    AUDITFS_ROTATED_OTHER = 3  /* .xz, .bz2, .lz4, .Z: compressed, not readable here */
};

/** Most decompressed bytes read from one rotated file (16 GiB): bounds a decompression bomb. */
#define AUDITFS_ROTATED_MAX ((uint64_t)16 << 30)

/** AUDITFS_ROTATED_* for a file name (by its ending only). */
AUDITFS_API int auditfs_rotated_kind(const char *name);

/**
 * Opens a rotated file for reading with pread: a plain file itself (limit ignored, *complete
 * 1), or the first min(limit, its size) decompressed bytes of a .gz or .zst file in an
 * unlinked temporary file (O_TMPFILE in $TMPDIR or /tmp, else a memfd); *complete says whether
 * that is all of it. A stream that is corrupt or cut short (a compression still running) is
 * EFORMAT, OTHER is EINVAL. *out_fd is closed by the caller.
 */
AUDITFS_API int auditfs_rotated_open(int *out_fd, int *complete, const char *path,
                                     uint64_t limit) AUDITFS_WUR;

#ifdef __cplusplus
}
#endif
#endif
