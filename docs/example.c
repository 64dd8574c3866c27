/*
 * docs/example.c - open a ledger, verify it with its verifier key, print its size.
 *
 * Build against an installed auditfs:
 *     cc -o example example.c $(pkg-config --cflags --libs auditfs)
 * Run:
 *     ./example LEDGER KEY.pub
 * Exit status: 0 verified, 1 verification failed, 2 usage or any other error.
 */
#include <auditfs/ledger.h>

#include <stdio.h>

int
main(int argc, char **argv)
{
    auditfs_ledger *ledger = NULL;
    auditfs_verifier *key = NULL;
    auditfs_verify_report report;
    int err, status = 2;

    if (argc != 3) {
        fprintf(stderr, "usage: %s LEDGER KEY.pub\n", argv[0]);
        return 2;
    }
    if ((err = auditfs_verifier_load(&key, argv[2])) != 0 ||
        (err = auditfs_ledger_open(&ledger, argv[1])) != 0)
        goto cleanup;
    /* No trusted checkpoint: check the whole history against the key alone. */
    err = auditfs_ledger_verify(&report, ledger, key, NULL, 0);
    if (err == AUDITFS_EVERIFY) {
        status = 1;
        goto cleanup;
    }
    if (err)
        goto cleanup;
    printf("%s: %llu entries verified, tree size %llu, auditfs %s\n", report.head.origin,
           (unsigned long long)report.entries, (unsigned long long)report.head.size,
           auditfs_version());
    status = 0;

cleanup:
    if (err)
        fprintf(stderr, "example: %s (%s)\n", auditfs_error_last(), auditfs_error_name(err));
    auditfs_ledger_free(ledger);
    auditfs_verifier_free(key);
    return status;
}
