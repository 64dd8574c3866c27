/*
 * tests/fuzz/fuzz_note.c - libFuzzer target: auditfs_note_verify over arbitrary bytes with a
 * fixed trusted key (Go's PeterNeumann test key). Invariants checked: success only with a text
 * length that is a proper prefix ending in "\n" followed by the blank line; errors are one of
 * the documented codes.
 */
#include "auditfs/note.h"

#include <stdlib.h>
#include <string.h>

static auditfs_verifier *verifier;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char vkey[] = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    (void)argc;
    (void)argv;
    if (auditfs_verifier_parse(&verifier, vkey, strlen(vkey)) != 0)
        abort();
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t text_len = (size_t)-1;
    int err = auditfs_note_verify(&text_len, (const char *)data, size, verifier);
    if (err == 0) {
        if (text_len == 0 || text_len + 2 > size || data[text_len - 1] != '\n' ||
            data[text_len] != '\n')
            abort();
    } else if (err != AUDITFS_EFORMAT && err != AUDITFS_EVERIFY && err != AUDITFS_ETOOBIG) {
        abort();
    }
    return 0;
}
