/*
 * libFuzzer target: the mount(8)/fstab option parser of `mount -t fuse.auditfs`
 * (cli/mount_helper.c). Invariants: it never reads or writes out of bounds (ASan), the FUSE
 * options it passes on are only whitelisted ones taken from the input and fit the buffer, and
 * key=/state=/trusted= point into the input.
 */
#include "../../cli/mount_helper.c"

#include <stdint.h>

/* the rest of the CLI is not linked: the helper's other callees are never reached here */
int
cmd_mount(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

int
cli_usage_error(const char *fmt, ...)
{
    (void)fmt;
    return EXIT_USAGE;
}

int
cli_valid_name(const char *s)
{
    (void)s;
    return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *opts = malloc(size + 1), *copy = malloc(size + 1), *fuse = malloc(size + 1);
    if (!opts || !copy || !fuse)
        abort();
    memcpy(opts, data, size);
    opts[size] = 0;
    memcpy(copy, opts, size + 1);
    cli_mount_opts mo;
    int r = cli_mount_opts_parse(&mo, opts, fuse);
    if (r == 0) {
        size_t fl = strlen(fuse);
        if (fl > strlen(copy))
            abort();
        char *save = NULL;
        for (char *o = fl ? strtok_r(fuse, ",", &save) : NULL; o; o = strtok_r(NULL, ",", &save))
            if (!is_fuse_passthrough(o))
                abort();
        if (mo.key && (mo.key < opts || mo.key > opts + size))
            abort();
        if (mo.trusted && (mo.trusted < opts || mo.trusted > opts + size))
            abort();
        if (mo.state && (mo.state < opts || mo.state > opts + size))
            abort();
    } else if (!mo.bad || mo.bad < opts || mo.bad > opts + size) {
        abort();
    }
    free(opts);
    free(copy);
    free(fuse);
    return 0;
}
