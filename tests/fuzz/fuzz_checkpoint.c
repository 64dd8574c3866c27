/*
 * tests/fuzz/fuzz_checkpoint.c - libFuzzer target: auditfs_checkpoint_parse over arbitrary bytes.
 * Parsing is strict, so anything accepted must format back to exactly the input.
 */
#include "auditfs/note.h"

#include <stdlib.h>
#include <string.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    auditfs_checkpoint c;
    char *out = NULL;
    size_t out_len = 0;
    int err = auditfs_checkpoint_parse(&c, (const char *)data, size);
    if (err != 0) {
        if (err != AUDITFS_EFORMAT && err != AUDITFS_ETOOBIG)
            abort();
        return 0;
    }
    if (auditfs_checkpoint_format(&out, &out_len, &c) != 0)
        abort();
    if (out_len != size || memcmp(out, data, size) != 0)
        abort();
    free(out);
    return 0;
}
