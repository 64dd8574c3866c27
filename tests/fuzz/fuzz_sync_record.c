/*
 * libFuzzer target: the last-sync record of the state directory (ledger/lastsync.c,
 * auditfs_state_last_sync; docs/FORMAT.md section 15). The input is the record file's content.
 * Invariants: no crash or out-of-bounds read (ASan); an accepted record has NUL-terminated
 * fields free of control bytes, a 40-character commit, and is written back identically
 * (auditfs_state_record_sync of what was read, then read again, gives the same fields).
 */
#include "auditfs/state.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sodium.h>
#include <unistd.h>

static char top[64], ledger[96], abs_ledger[4096], recfile[4300];
static auditfs_state *st;

static void
init_once(void)
{
    if (st)
        return;
    snprintf(top, sizeof top, "/tmp/fuzz-sync-XXXXXX");
    if (!mkdtemp(top))
        abort();
    snprintf(ledger, sizeof ledger, "%s/ledger", top);
    char sdir[96];
    snprintf(sdir, sizeof sdir, "%s/state", top);
    if (mkdir(ledger, 0700) != 0 || auditfs_state_open(&st, sdir) != 0 ||
        !realpath(ledger, abs_ledger) || sodium_init() < 0)
        abort();
    /* the record's file: syncs/<sha256 hex of the ledger's realpath> */
    unsigned char h[32];
    char hex[65];
    crypto_hash_sha256(h, (const unsigned char *)abs_ledger, strlen(abs_ledger));
    for (int i = 0; i < 32; i++)
        sprintf(hex + 2 * i, "%02x", h[i]);
    snprintf(recfile, sizeof recfile, "%s/syncs/%s", auditfs_state_path(st), hex);
    char d[200];
    snprintf(d, sizeof d, "%s/syncs", auditfs_state_path(st));
    mkdir(d, 0700);
}

static void
clean_field(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    if (n == cap)
        abort();
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init_once();
    if (size > 20000)
        return 0;
    FILE *f = fopen(recfile, "wb");
    if (!f)
        abort();
    /* an input starting with 0x01 gets the format line and this ledger's line in front, so
     * the fuzzer reaches the later fields; any other input is the whole file */
    if (size && data[0] == 1) {
        fprintf(f, "auditfs-sync/1\nledger %s\n", abs_ledger);
        data++;
        size--;
    }
    fwrite(data, 1, size, f);
    fclose(f);
    auditfs_sync_record r, again;
    if (auditfs_state_last_sync(&r, st, ledger) != 0)
        return 0;
    clean_field(r.origin, sizeof r.origin);
    clean_field(r.remote, sizeof r.remote);
    clean_field(r.url, sizeof r.url);
    if (strlen(r.commit) != 40)
        abort();
    if (auditfs_state_record_sync(st, ledger, &r) != 0 ||
        auditfs_state_last_sync(&again, st, ledger) != 0 || again.size != r.size ||
        strcmp(again.origin, r.origin) != 0 || strcmp(again.commit, r.commit) != 0)
        abort();
    return 0;
}
