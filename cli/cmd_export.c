/*
 * cli/cmd_export.c - `auditfs export --tlog-tiles DIR`: the ledger for standard tlog clients.
 */
#include "cli.h"

#include "auditfs/export.h"

#include <string.h>

static const char export_help[] =
    "usage: auditfs export --ledger DIR [--key FILE.pub] [--origin O] --tlog-tiles OUTDIR [--full]\n"
    "                      [--json]\n"
    "\n"
    "Writes the ledger as a static C2SP tlog-tiles tree in OUTDIR, for any web server, CDN or\n"
    "object store to serve to standard tlog clients, mirrors and monitors: checkpoint (the\n"
    "signed checkpoint), tile/<L>/<N>[.p/<W>] (hash tiles) and tile/entries/<N>[.p/<W>]\n"
    "(bundles of 256 leaves, each a big-endian uint16 length and the leaf bytes). The head is\n"
    "checked first: its signature with the verifier key (default: the key pinned for the\n"
    "ledger's origin; --origin O names the expected ledger), its root against the tiles, and\n"
    "that it extends the checkpoint this party saw before (exit 8: `auditfs trust --help`); each leaf\n"
    "is checked as it is read. Run it again after appending (or give append --tlog-tiles):\n"
    "it starts from the checkpoint already in OUTDIR, once the ledger is proved to extend it\n"
    "(an OUTDIR holding another ledger or a fork is refused, exit 1), writes only new tiles\n"
    "and bundles, and replaces the checkpoint last. --full also re-creates any missing file\n"
    "before that checkpoint.\n"
    "Entry bundles limit an entry to 65,535 bytes: a longer leaf stops the export (exit 3)\n"
    "naming it, with the previous export left intact. --json prints what was written.\n";

int
cmd_export(int argc, char **argv)
{
    const char *ledger = NULL, *key = NULL, *out = NULL, *origin = NULL;
    int json = 0, full = 0, c;
    static const struct option opts[] = {{"ledger", required_argument, 0, 'l'},
                                         {"key", required_argument, 0, 'k'},
                                         {"origin", required_argument, 0, 'O'},
                                         {"tlog-tiles", required_argument, 0, 't'},
                                         {"json", no_argument, 0, 'J'},
                                         {"full", no_argument, 0, 'F'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'l': ledger = optarg; break;
        case 'k': key = optarg; break;
        case 'O': origin = optarg; break;
        case 't': out = optarg; break;
        case 'J': json = 1; break;
        case 'F': full = 1; break;
        case 'h': fputs(export_help, stdout); return 0;
        default: return EXIT_USAGE;
        }
    }
    if (optind != argc)
        return cli_usage_error("export takes no arguments");
    if (!out)
        return cli_usage_error("--tlog-tiles OUTDIR is required");
    const char *path;
    if (cli_ledger_arg(&path, ledger) != 0)
        return EXIT_USAGE;
    auditfs_verifier *v = NULL;
    auditfs_ledger *l = NULL;
    auditfs_export_report r;
    cli_progress prog;
    auditfs_export_options eo = {cli_progress_init(&prog), full};
    /* the verifier's memory first: the head against the pinned (or given) key and what this
     * party saw; then the key the export checks every tile and leaf with */
    auditfs_state *st = NULL;
    int err, rc = cli_open_trusted(&l, &st, path, key, origin);
    if (rc)
        return rc;
    if (key) {
        if ((err = auditfs_verifier_load(&v, key)) != 0)
            rc = cli_fail(err, key);
    } else {
        auditfs_checkpoint head;
        if ((err = auditfs_ledger_head(&head, l)) != 0)
            rc = cli_fail(err, "export");
        else
            rc = cli_pinned_key(&v, st, head.origin);
    }
    auditfs_state_free(st);
    if (rc) {
        auditfs_ledger_free(l);
        return rc;
    }
    err = auditfs_export_tlog_tiles(&r, l, v, out, &eo);
    cli_progress_done(&prog);
    auditfs_ledger_free(l);
    auditfs_verifier_free(v);
    if (err)
        return cli_fail(err, "export");
    if (json) {
        printf("{\"dir\":");
        cli_json_str(stdout, out);
        printf(",\"checkpoint\":");
        cli_json_checkpoint(stdout, &r.head);
        printf(",\"tiles_written\":%llu,\"bundles_written\":%llu,\"entries_written\":%llu}\n",
               (unsigned long long)r.tiles_written, (unsigned long long)r.bundles_written,
               (unsigned long long)r.entries_written);
    } else {
        printf("exported tree size %llu to %s: %llu tiles, %llu entry bundles (%llu entries) "
               "written\n",
               (unsigned long long)r.head.size, out, (unsigned long long)r.tiles_written,
               (unsigned long long)r.bundles_written, (unsigned long long)r.entries_written);
    }
    return 0;
}

int
cli_tlog_export(const char *ledger_path, const auditfs_verifier *key, const char *dir)
{
    auditfs_ledger *l = NULL;
    auditfs_export_report r;
    int err = auditfs_ledger_open(&l, ledger_path);
    if (!err)
        err = auditfs_export_tlog_tiles(&r, l, key, dir, NULL);
    auditfs_ledger_free(l);
    if (err) {
        /* the commit is durable regardless: warn, and the next commit's export catches up */
        fprintf(stderr, "auditfs: warning: tlog-tiles export to %s failed: %s\n", dir,
                auditfs_error_last());
        auditfs_error_clear();
    }
    return err;
}
