/*
 * tests/fuzz/fuzz_cosig.c - libFuzzer target for the tlog-cosignature parsers: the input is
 * split at its first NUL into a note and cosignature lines; runs auditfs_cosig_parse_line on the
 * whole input, auditfs_cosig_verify on the note with a fixed witness key (Go's PeterNeumann test
 * key), and auditfs_cosig_merge of the lines into the note. Invariants: only documented error
 * codes; a successful merge yields a note that verifies with the witness key and is no larger
 * than the note limit.
 */
#include "auditfs/cosig.h"

#include <stdlib.h>
#include <string.h>

static auditfs_verifier *witness;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char vkey[] = "PeterNeumann+18b9780b+BBpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    (void)argc;
    (void)argv;
    if (auditfs_cosig_verifier_parse(&witness, vkey, strlen(vkey)) != 0)
        abort();
    return 0;
}

static int
documented(int err)
{
    return err == 0 || err == AUDITFS_EFORMAT || err == AUDITFS_EVERIFY ||
           err == AUDITFS_ETOOBIG || err == AUDITFS_ENOTFOUND;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    auditfs_cosig_line cl;
    uint64_t first, last;
    if (!documented(auditfs_cosig_parse_line(&cl, s, size)))
        abort();
    const char *nul = memchr(s, 0, size);
    size_t nlen = nul ? (size_t)(nul - s) : size;
    if (!documented(auditfs_cosig_verify(&first, &last, s, nlen, witness)))
        abort();
    if (nul) {
        char *out = NULL;
        size_t out_len = 0;
        int changed = 0;
        int err = auditfs_cosig_merge(&out, &out_len, &changed, s, nlen, nul + 1,
                                      size - nlen - 1, witness);
        if (!documented(err))
            abort();
        if (err == 0 && (out_len > AUDITFS_NOTE_MAX_BYTES ||
                         auditfs_cosig_verify(&first, &last, out, out_len, witness) != 0))
            abort();
        free(out);
    }
    return 0;
}
