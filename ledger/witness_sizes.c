/*
 * ledger/witness_sizes.c - a provider's memory of the witnesses it asks: the size each one last
 * cosigned for an origin, so that `auditfs witness request` sends the right old size and a
 * consistency proof the first time instead of learning it from a 409 (C2SP tlog-witness).
 *
 * Invariant: the memory is only a hint. A wrong or stale size costs one 409 round trip and is
 * then corrected; it never makes a witness cosign anything it would not otherwise.
 */
#include "internal.h"
#include "state_int.h"
#include "auditfs/witness.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

/* <state>/origins/<enc>/witnesses[/<name>+<id>] */
static int
size_file(char *out, size_t cap, auditfs_state *st, const char *origin,
          const auditfs_verifier *w, int make)
{
    char dir[PATH_MAX];
    int err = afs_state_origin_dir(dir, sizeof dir, st, origin, make);
    if (err)
        return err;
    int k = snprintf(out, cap, "%s/witnesses", dir);
    if (k < 0 || (size_t)k >= cap)
        return afs_error_set(AUDITFS_EINVAL, "state path too long");
    if (make && (err = afs_mkdirs(out)) != 0)
        return err;
    char name[AUDITFS_NAME_MAX + 1];
    snprintf(name, sizeof name, "%s", auditfs_verifier_name(w));
    for (char *p = name; *p; p++)
        if (*p == '/')
            *p = '_';
    k = snprintf(out, cap, "%s/witnesses/%s+%08x", dir, name, (unsigned)auditfs_cosig_key_id(w));
    if (k < 0 || (size_t)k >= cap)
        return afs_error_set(AUDITFS_EINVAL, "state path too long");
    return 0;
}

int
auditfs_witness_size_get(uint64_t *size, auditfs_state *st, const char *origin,
                         const auditfs_verifier *witness)
{
    char path[PATH_MAX + 300], *text = NULL;
    size_t len = 0;
    int err;
    if (!size || !st || !origin || !witness)
        return afs_error_set(AUDITFS_EINVAL, "auditfs_witness_size_get: NULL argument");
    *size = 0;
    if ((err = size_file(path, sizeof path, st, origin, witness, 0)) != 0)
        return err;
    if ((err = afs_read_regular(&text, &len, path, 32)) != 0) {
        if (err == AUDITFS_ENOTFOUND)
            err = afs_error_set(AUDITFS_ENOTFOUND, "no size remembered for witness %s",
                                auditfs_verifier_name(witness));
        return err;
    }
    if (len < 2 || text[len - 1] != '\n' || !afs_parse_u64(size, text, len - 1))
        err = afs_error_set(AUDITFS_EFORMAT, "%s: not a size", path);
    free(text);
    return err;
}

int
auditfs_witness_size_put(auditfs_state *st, const char *origin, const auditfs_verifier *witness,
                         uint64_t size)
{
    char path[PATH_MAX + 300], line[32];
    int err;
    if (!st || !origin || !witness)
        return afs_error_set(AUDITFS_EINVAL, "auditfs_witness_size_put: NULL argument");
    if ((err = size_file(path, sizeof path, st, origin, witness, 1)) != 0)
        return err;
    snprintf(line, sizeof line, "%llu\n", (unsigned long long)size);
    return afs_write_atomic(path, line, strlen(line), 0600);
}
