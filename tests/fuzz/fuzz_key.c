/*
 * tests/fuzz/fuzz_key.c - libFuzzer target: auditfs_signer_parse and auditfs_verifier_parse over
 * arbitrary bytes. Key strings are canonical, so an accepted key must format back to the input
 * (less one optional trailing newline), and a signer's verifier must verify its signatures.
 */
#include "auditfs/note.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static size_t
without_newline(const uint8_t *data, size_t size)
{
    return size > 0 && data[size - 1] == '\n' ? size - 1 : size;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    auditfs_signer *s = NULL;
    auditfs_verifier *v = NULL;
    char *vs = NULL;
    size_t n = without_newline(data, size);

    if (auditfs_signer_parse(&s, (const char *)data, size) == 0) {
        char buf[AUDITFS_SKEY_BYTES];
        uint8_t sig[64];
        if (auditfs_signer_format(buf, sizeof buf, s) != 0 || strlen(buf) != n ||
            memcmp(buf, data, n) != 0)
            abort();
        sodium_memzero(buf, sizeof buf);
        if (auditfs_signer_verifier(&v, s) != 0 || auditfs_signer_sign(sig, s, data, size) != 0 ||
            crypto_sign_verify_detached(sig, data, size, auditfs_verifier_public_key(v)) != 0)
            abort();
        auditfs_verifier_free(v);
        auditfs_signer_free(s);
        v = NULL;
    } else if (s != NULL) {
        abort();
    }

    if (auditfs_verifier_parse(&v, (const char *)data, size) == 0) {
        if (auditfs_verifier_format(&vs, v) != 0 || strlen(vs) != n || memcmp(vs, data, n) != 0)
            abort();
        free(vs);
        auditfs_verifier_free(v);
    } else if (v != NULL) {
        abort();
    }
    return 0;
}
