/*
 * tests/fuzz/fuzz_sshsig.c - libFuzzer target: auditfs_sshsig_verify over arbitrary armor bytes
 * with a fixed trusted key (Go's PeterNeumann test key) and message. Invariants: the errors are
 * the documented ones (EFORMAT for anything malformed, EVERIFY for a wrong namespace, key or
 * signature); success is impossible without the secret key, so it aborts.
 */
#include "auditfs/sshsig.h"

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
    static const char msg[] = "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n\nfuzz\n";
    int err = auditfs_sshsig_verify((const char *)data, size, verifier, "git", msg,
                                    sizeof msg - 1);
    if (err != AUDITFS_EFORMAT && err != AUDITFS_EVERIFY)
        abort();
    return 0;
}
