/*
 * libFuzzer target: the bundle text parsers that read data, not code - query.txt (with its
 * grep, through the regex bounds) and MANIFEST.sha256. The input is split at its first NUL:
 * query.txt before it, MANIFEST.sha256 after it, written into a scratch bundle directory that
 * also holds one small regular file. Loading and checking must fail cleanly or succeed; never
 * crash, hang or read outside the directory.
 */
#include "auditfs/bundle.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static void
put(const char *name, const uint8_t *p, size_t n)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    if (n && fwrite(p, 1, n, f) != n)
        abort();
    fclose(f);
}

static void
cleanup(void)
{
    static const char *const names[] = {"query.txt", "MANIFEST.sha256", "report.md", NULL};
    char path[128];
    for (int i = 0; names[i]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(dir, sizeof dir, "/tmp/auditfs-fuzz-bundle.XXXXXX");
    if (!mkdtemp(dir))
        abort();
    char state[128];
    snprintf(state, sizeof state, "%s/state", dir);
    setenv("AUDITFS_STATE", state, 1);
    put("report.md", (const uint8_t *)"x\n", 2);
    atexit(cleanup);
    return 0;
}

static void
note(void *ctx, auditfs_bundle_finding kind, const char *msg)
{
    (void)ctx;
    (void)kind;
    if (strchr(msg, '\n') || strchr(msg, '\r') || strchr(msg, '\033'))
        abort(); /* findings are escaped */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t ql = nul ? (size_t)(nul - data) : size;
    put("query.txt", data, ql);
    put("MANIFEST.sha256", nul ? nul + 1 : data, nul ? size - ql - 1 : 0);
    auditfs_bundle *b = NULL;
    (void)auditfs_bundle_check_manifest(dir, note, NULL);
    if (auditfs_bundle_load(&b, dir) == 0) {
        (void)auditfs_bundle_check_layout(b, note, NULL);
        auditfs_bundle_free(b);
    }
    return 0;
}
