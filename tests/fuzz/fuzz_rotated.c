/* libFuzzer target: a rotated file read decompressed (auditfs_rotated_open, .gz and .zst): any
 * bytes are decompressed within the limit or refused, never more than the limit written. */
#include "auditfs/rotated.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static void
one(const char *path, const uint8_t *data, size_t size, uint64_t limit)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, data, size) != (ssize_t)size)
        abort();
    close(fd);
    int out = -1, complete = 0;
    if (auditfs_rotated_open(&out, &complete, path, limit) == 0) {
        struct stat st;
        if (fstat(out, &st) != 0 || (uint64_t)st.st_size > limit)
            abort(); /* bounded by the limit */
        close(out);
    } else if (out != -1) {
        abort(); /* a refusal leaves nothing open */
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char gz[64], zst[64];
    snprintf(gz, sizeof gz, "/tmp/fuzz-rotated-%ld.gz", (long)getpid());
    snprintf(zst, sizeof zst, "/tmp/fuzz-rotated-%ld.zst", (long)getpid());
    one(gz, data, size, 1 << 20);
    one(zst, data, size, 1 << 20);
    one(gz, data, size, 4096);
    unlink(gz);
    unlink(zst);
    return 0;
}
