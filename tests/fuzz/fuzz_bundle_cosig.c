/*
 * libFuzzer target: a cosigned checkpoint in an incident bundle
 * (ledgers/<name>/cosignatures/<size>.checkpoint). The input is the file's content, written into
 * a scratch bundle whose ledger "acme" has a genuinely signed head checkpoint of size 10; the
 * layout check (shape: origin, size, root) and verify_ledger (the log signature) must accept it
 * or refuse it cleanly with escaped findings; never crash, hang or read past it.
 */
#include "auditfs/bundle.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];
static auditfs_verifier *logv;

static void
put(const char *name, const void *p, size_t n)
{
    char path[160];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    if (n && fwrite(p, 1, n, f) != n)
        abort();
    fclose(f);
}

static void
cleanup(void)
{
    static const char *const names[] = {"ledgers/acme/cosignatures/5.checkpoint",
                                        "ledgers/acme/checkpoint", "query.txt", "report.md",
                                        "report.html", "responsibility-default.json", NULL};
    static const char *const dirs[] = {"ledgers/acme/cosignatures", "ledgers/acme", "ledgers",
                                       "", NULL};
    char path[160];
    for (int i = 0; names[i]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    for (int i = 0; dirs[i]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, dirs[i]);
        rmdir(path);
    }
    auditfs_verifier_free(logv);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    auditfs_signer *s = NULL;
    auditfs_checkpoint c;
    char *note = NULL, path[160];
    size_t len = 0;
    snprintf(dir, sizeof dir, "/tmp/auditfs-fuzz-bcosig.XXXXXX");
    if (!mkdtemp(dir))
        abort();
    snprintf(path, sizeof path, "%s/state", dir);
    setenv("AUDITFS_STATE", path, 1);
    snprintf(path, sizeof path, "%s/ledgers/acme/cosignatures", dir);
    if (mkdir(path, 0755) != 0) {
        snprintf(path, sizeof path, "%s/ledgers", dir);
        mkdir(path, 0755);
        snprintf(path, sizeof path, "%s/ledgers/acme", dir);
        mkdir(path, 0755);
        snprintf(path, sizeof path, "%s/ledgers/acme/cosignatures", dir);
        if (mkdir(path, 0755) != 0)
            abort();
    }
    if (auditfs_signer_generate(&s, "log.example") != 0 || auditfs_signer_verifier(&logv, s) != 0)
        abort();
    memset(&c, 0, sizeof c);
    snprintf(c.origin, sizeof c.origin, "log.example");
    c.size = 10;
    if (auditfs_checkpoint_sign(&note, &len, &c, s) != 0)
        abort();
    auditfs_signer_free(s);
    put("ledgers/acme/checkpoint", note, len);
    free(note);
    static const char q[] = "auditfs-incident/1\nsince 2000-01-01\nuntil 2100-01-01\n"
                            "created 2026-01-01T00:00:00Z\nledger acme\n";
    put("query.txt", q, strlen(q));
    put("report.md", "x\n", 2);
    atexit(cleanup);
    return 0;
}

static void
finding(void *ctx, auditfs_bundle_finding kind, const char *msg)
{
    (void)ctx;
    (void)kind;
    if (strchr(msg, '\n') || strchr(msg, '\r') || strchr(msg, '\033'))
        abort(); /* findings are escaped */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    auditfs_bundle *b = NULL;
    put("ledgers/acme/cosignatures/5.checkpoint", data, size);
    if (auditfs_bundle_load(&b, dir) == 0) {
        (void)auditfs_bundle_check_layout(b, finding, NULL);
        (void)auditfs_bundle_verify_ledger(b, 0, logv, finding, NULL);
        auditfs_bundle_free(b);
    }
    return 0;
}
