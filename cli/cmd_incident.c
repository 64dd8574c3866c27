/*
 * cli/cmd_incident.c - the front end of incident evidence bundles (`incident`, `incident
 * --check`, `verify-bundle`) and whole-ledger archives (`archive`): argument parsing, output
 * and exit codes. What a bundle is, how it is selected, written, reported and verified is the
 * library's (auditfs/bundle.h, auditfs/report.h, auditfs/matrix.h).
 */
#include "cli.h"

#include "auditfs/bundle.h"
#include "auditfs/matrix.h"
#include "auditfs/witness.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_LEDGERS AUDITFS_BUNDLE_MAX_LEDGERS
#define MAX_WITNESSES 64

/* Loads witness keys (either vkey form); returns an exit code, keys freed by the caller. */
static int
load_witnesses(auditfs_verifier **w, char **files, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int err = auditfs_cosig_verifier_load(&w[i], files[i]);
        if (err)
            return cli_fail(err, files[i]);
    }
    return 0;
}

static void
free_witnesses(auditfs_verifier **w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        auditfs_verifier_free(w[i]);
}

/* [NAME=]VALUE (cli_split_named); an unnamed value is ledger "ledger" */
static int
split_named(char name[CLI_NAME_MAX + 1], const char **value, const char *arg)
{
    int r = cli_split_named(name, value, arg);
    if (r == 0)
        snprintf(name, CLI_NAME_MAX + 1, "ledger");
    return r;
}

typedef struct ledger_arg {
    char name[AUDITFS_STREAM_MAX + 1];
    const char *path;
    const char *key;
    auditfs_ledger *l;
    auditfs_verifier *v;
} ledger_arg;

static int
ledger_args(ledger_arg *la, size_t *nla, char **ledgers, size_t nl, char **keys, size_t nk,
            int need_keys)
{
    *nla = 0;
    if (nl == 0)
        return cli_usage_error("--ledger [NAME=]DIR is required");
    if (nl > MAX_LEDGERS)
        return cli_usage_error("at most %d ledgers", MAX_LEDGERS);
    for (size_t i = 0; i < nl; i++) {
        if (split_named(la[i].name, &la[i].path, ledgers[i]) < 0)
            return cli_usage_error("--ledger '%s': NAME must be 1-64 of [A-Za-z0-9._-]",
                                   ledgers[i]);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(la[i].name, la[j].name))
                return cli_usage_error("two ledgers named '%s' (use NAME=DIR)", la[i].name);
        la[i].key = NULL;
    }
    *nla = nl;
    for (size_t k = 0; k < nk; k++) {
        char name[AUDITFS_STREAM_MAX + 1];
        const char *file;
        if (split_named(name, &file, keys[k]) < 0)
            return cli_usage_error("--key '%s': NAME must be 1-64 of [A-Za-z0-9._-]", keys[k]);
        size_t hit = SIZE_MAX;
        for (size_t i = 0; i < nl; i++)
            if (!strcmp(la[i].name, name) || (nk == 1 && nl == 1))
                hit = i;
        if (hit == SIZE_MAX)
            return cli_usage_error("--key '%s': no ledger named '%s'", keys[k], name);
        la[hit].key = nk == 1 && nl == 1 && !strchr(keys[k], '=') ? keys[k] : file;
    }
    for (size_t i = 0; i < nl && need_keys; i++)
        if (!la[i].key)
            return cli_usage_error("--key %s=FILE.pub is required for ledger '%s'", la[i].name,
                                   la[i].name);
    return 0;
}

static void
ledger_args_free(ledger_arg *la, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        auditfs_ledger_free(la[i].l);
        auditfs_verifier_free(la[i].v);
    }
}

/* prints a library finding as "<kind>: <message>" */
static void
print_finding(void *ctx, auditfs_bundle_finding kind, const char *msg)
{
    static const char *const label[] = {"ok", "FAIL", "note", "missing", "extra"};
    int *failures = ctx;
    if (kind == AUDITFS_BUNDLE_FAIL && failures)
        (*failures)++;
    printf("%s: %s\n", label[kind], msg);
}

/* ---- incident ---- */

static const char incident_help[] =
    "usage: auditfs incident --since T1 --until T2 [TERM...] [--grep RE] [--tenant T]\n"
    "                        --ledger [NAME=]DIR --key [NAME=]FILE.pub [...] -o DIR\n"
    "                        [--format dir|tar] [--witness KEY.pub ...] [--time ledger|event]\n"
    "                        [--json]\n"
    "       auditfs incident --check DIR --ledger [NAME=]DIR [...] [--json]\n"
    "       auditfs incident --default-matrix\n"
    "       (--json: what was written, or the --check lines, as JSON; see docs/JSON.md)\n"
    "\n"
    "Writes a self-contained evidence bundle to DIR (which must not exist): every entry in\n"
    "[T1, T2) that matches the TERMs (see `auditfs query --help`) with its leaf bytes and an\n"
    "inclusion proof (c2sp.org/tlog-proof) against its own ledger's signed checkpoint; the\n"
    "checkpoints and verifier keys; every document version in force during the window (the last\n"
    "one published before T1 and any inside it) and every notice published or effective before\n"
    "T2, with their contents and proofs, limited to those that concern the tenant (no tenant\n"
    "header, or --tenant T; default: the value of a _tenant= term); the responsibility matrix\n"
    "(the document matrix/responsibility in force at T1, else the built-in default shared-\n"
    "responsibility model, marked as unproven); report.md and report.html (timeline, counts by\n"
    "party x layer, acting vs responsible party with mismatches, notices given before the first\n"
    "matching entry, the SLA terms in force, each fact linked to the entry that proves it); and\n"
    "MANIFEST.sha256. --ledger and --key may be repeated as NAME=... for several ledgers (a\n"
    "tenant's and the provider-wide one); each entry is proved against its own ledger.\n"
    "Each checkpoint carries its stored cosignatures, and every stored cosigned checkpoint up to\n"
    "the bundle's size is in ledgers/NAME/cosignatures/SIZE.checkpoint.\n"
    "--witness KEY.pub (repeatable) adds receipts.md and receipts.jsonl: for every notice and\n"
    "document version, which witness (customer, assessor) acknowledged it by cosigning, when,\n"
    "and how long after publication (see `auditfs acks`); the witnesses are named in query.txt\n"
    "and the report (format 3) gains a \"Receipts\" section: per notice and SLA version, who\n"
    "acknowledged it, when, the delay, the lead time (published vs. effective), who has not.\n"
    "\n"
    "--time event selects the window [T1, T2) by each entry's event time (its event-time\n"
    "header; the ledger time for an entry without one) instead of its ledger time (the default)\n"
    "and orders the report's timeline by it; both times are shown. query.txt records the\n"
    "choice (`time event`), so verify-bundle and --check regenerate the same selection.\n"
    "\n"
    "--check DIR re-runs the bundle's recorded query against the full ledgers (up to the\n"
    "bundle's checkpoints, which must be prefixes of them), scanning every entry rather than\n"
    "trusting the index, and compares the entries: exit 0 if\n"
    "the bundle holds exactly what the query selects, 1 if anything was left out or added.\n"
    "--format tar writes the bundle as one POSIX tar file instead (-o B.tar; `tar xf B.tar`\n"
    "gives the directory B that verify-bundle checks).\n"
    "--default-matrix prints the built-in responsibility matrix (docs/RESPONSIBILITY.md).\n";

static int
check_bundle(const char *dir, ledger_arg *la, size_t nla)
{
    auditfs_bundle *b = NULL;
    int err = auditfs_bundle_load(&b, dir), rc = 0;
    if (err)
        return cli_fail(err, dir);
    size_t nb = auditfs_bundle_ledger_count(b);
    for (size_t li = 0; li < nb; li++) {
        const char *name = auditfs_bundle_ledger_name(b, li);
        ledger_arg *a = NULL;
        for (size_t i = 0; i < nla; i++)
            if (!strcmp(la[i].name, name) || (nla == 1 && nb == 1))
                a = &la[i];
        if (!a) {
            fprintf(stderr, "auditfs: the bundle's ledger '%s' was not given (--ledger %s=DIR)\n",
                    name, name);
            rc = EXIT_USAGE;
            break;
        }
        if ((rc = cli_open_trusted(&a->l, NULL, a->path, a->key, NULL)) != 0)
            break;
        err = auditfs_bundle_check_complete(b, li, a->l, print_finding, NULL);
        if (err == AUDITFS_EVERIFY)
            rc = EXIT_VERIFY;
        else if (err) {
            rc = cli_fail(err, a->path);
            break;
        }
    }
    auditfs_bundle_free(b);
    return rc;
}

/* Opens the ledgers and keys of la and writes the bundle (a directory or, with format "tar",
 * one file). Returns the exit code. */
/* --json: the bundle written and, per ledger, its name and checkpoint (docs/JSON.md) */
static void
print_created_json(const char *out, ledger_arg *la, size_t nla)
{
    printf("{\"bundle\":");
    cli_json_str(stdout, out);
    printf(",\"ledgers\":[");
    for (size_t i = 0; i < nla; i++) {
        auditfs_checkpoint cp;
        /* the handle's head: the checkpoint the bundle was written against */
        if (auditfs_ledger_head(&cp, la[i].l) != 0)
            memset(&cp, 0, sizeof cp);
        printf("%s{\"name\":", i ? "," : "");
        cli_json_str(stdout, la[i].name);
        printf(",\"checkpoint\":");
        cli_json_checkpoint(stdout, &cp);
        putchar('}');
    }
    printf("]}\n");
}

static int
incident_create(const char *out, const char *format, const char *since, const char *until,
                const char *tenant, const char *grep, const char *const *terms, size_t nterms,
                ledger_arg *la, size_t nla, const auditfs_verifier *const *witnesses, size_t nw,
                int json, int time_event)
{
    int rc = 0;
    cli_progress prog;
    auditfs_bundle_spec spec = AUDITFS_BUNDLE_SPEC_INIT;
    spec.time_event = time_event;
    spec.witnesses = witnesses;
    spec.nwitnesses = nw;
    spec.progress = cli_progress_init(&prog);
    auditfs_bundle_source src[MAX_LEDGERS];
    spec.since = since;
    spec.until = until;
    spec.tenant = tenant;
    spec.grep = grep;
    spec.terms = terms;
    spec.nterms = nterms;
    int err = 0;
    for (size_t i = 0; i < nla && !err; i++) {
        if ((err = auditfs_verifier_load(&la[i].v, la[i].key)) != 0)
            break;
        /* the verifier's memory first (exit 8 on a fork or rollback) */
        if ((rc = cli_open_trusted(&la[i].l, NULL, la[i].path, la[i].key, NULL)) != 0) {
            cli_progress_done(&prog);
            return rc;
        }
        src[i].name = la[i].name;
        src[i].ledger = la[i].l;
        src[i].key = la[i].v;
    }
    if (!err)
        err = !strcmp(format, "tar") ? auditfs_bundle_create_tar(out, &spec, src, nla)
                                     : auditfs_bundle_create(out, &spec, src, nla);
    cli_progress_done(&prog);
    if (err == AUDITFS_EINVAL)
        rc = cli_usage_error("incident: %s", auditfs_error_last());
    else if (err)
        rc = cli_fail(err, "incident");
    else if (json)
        print_created_json(out, la, nla);
    else if (!strcmp(format, "tar"))
        fprintf(stderr, "wrote %s; check it with: tar xf %s && auditfs verify-bundle DIR --key "
                "NAME=FILE.pub\n", out, out);
    else
        fprintf(stderr, "wrote %s; check it with: auditfs verify-bundle %s --key NAME=FILE.pub\n",
                out, out);
    return rc;
}

/*
 * A bundle to check must be a directory this process can read: a missing path is 7, a file
 * that is not a directory (a .tar bundle must be extracted first) 3, an unreadable one 4, each
 * named on stderr before any check runs (so --json prints one error object, json_error.c).
 */
static int
bundle_dir_usable(const char *cmd, const char *dir)
{
    struct stat st;
    if (stat(dir, &st) != 0) {
        fprintf(stderr, "auditfs: %s: %s: %s\n", cmd, dir, strerror(errno));
        return errno == ENOENT || errno == ENOTDIR ? EXIT_NOTFOUND : EXIT_IO;
    }
    if (!S_ISDIR(st.st_mode)) {
        fprintf(stderr, "auditfs: %s: %s: not a directory (an incident bundle is a directory; "
                        "extract a .tar bundle first: tar -xf FILE)\n", cmd, dir);
        return EXIT_DATA;
    }
    if (access(dir, R_OK | X_OK) != 0) {
        fprintf(stderr, "auditfs: %s: %s: %s\n", cmd, dir, strerror(errno));
        return EXIT_IO;
    }
    return 0;
}

/*
 * Long because it is the command's option table and parse: each option is one case, and the
 * work is in the library (auditfs/bundle.h) and in the helpers above.
 */
int
cmd_incident(int argc, char **argv)
{
    const char *since = NULL, *until = NULL, *out = NULL, *check = NULL, *grep = NULL,
               *tenant = NULL, *format = "dir";
    char *ledgers[MAX_LEDGERS + 1], *keys[MAX_LEDGERS + 1], *wfiles[MAX_WITNESSES];
    size_t nl = 0, nk = 0, nw = 0;
    int c, print_matrix = 0, json = 0, time_event = -1;
    static const struct option opts[] = {{"since", required_argument, 0, 's'},
                                         {"until", required_argument, 0, 'u'},
                                         {"ledger", required_argument, 0, 'l'},
                                         {"key", required_argument, 0, 'k'},
                                         {"output", required_argument, 0, 'o'},
                                         {"check", required_argument, 0, 'C'},
                                         {"grep", required_argument, 0, 'g'},
                                         {"tenant", required_argument, 0, 't'},
                                         {"default-matrix", no_argument, 0, 'M'},
                                         {"format", required_argument, 0, 'F'},
                                         {"witness", required_argument, 0, 'W'},
                                         {"json", no_argument, 0, 'J'},
                                         {"time", required_argument, 0, 'T'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        switch (c) {
        case 's': since = optarg; break;
        case 'u': until = optarg; break;
        case 'l':
            if (nl > MAX_LEDGERS)
                return cli_usage_error("at most %d ledgers", MAX_LEDGERS);
            ledgers[nl++] = optarg;
            break;
        case 'k':
            if (nk > MAX_LEDGERS)
                return cli_usage_error("at most %d keys", MAX_LEDGERS);
            keys[nk++] = optarg;
            break;
        case 'o': out = optarg; break;
        case 'C': check = optarg; break;
        case 'g': grep = optarg; break;
        case 't': tenant = optarg; break;
        case 'M': print_matrix = 1; break;
        case 'F': format = optarg; break;
        case 'W':
            if (nw == MAX_WITNESSES)
                return cli_usage_error("at most %d --witness keys", MAX_WITNESSES);
            wfiles[nw++] = optarg;
            break;
        case 'J': json = 1; break;
        case 'T':
            if (strcmp(optarg, "ledger") && strcmp(optarg, "event"))
                return cli_usage_error("--time is 'ledger' or 'event', not '%s'", optarg);
            time_event = !strcmp(optarg, "event");
            break;
        case 'h': fputs(incident_help, stdout); return 0;
        default: return EXIT_USAGE;
        }
    }
    if (print_matrix) {
        fputs(auditfs_matrix_default(), stdout);
        return 0;
    }
    ledger_arg la[MAX_LEDGERS + 1];
    size_t nla = 0;
    memset(la, 0, sizeof la);
    if (nl == 0 && cli_ledger_path(NULL))
        ledgers[nl++] = (char *)cli_ledger_path(NULL);
    int rc = ledger_args(la, &nla, ledgers, nl, keys, nk, !check);
    if (rc)
        return rc;
    if (check) {
        if (optind != argc || since || until || out || nw || time_event >= 0)
            return cli_usage_error("--check DIR takes only --ledger (the bundle's query.txt "
                                   "names the window and its time)");
        if ((rc = bundle_dir_usable("incident --check", check)) != 0) {
            ledger_args_free(la, nla);
            return rc;
        }
        if (json && cli_capture_begin() != 0)
            json = 0;
        rc = check_bundle(check, la, nla);
        if (json)
            cli_capture_end_json(rc);
        ledger_args_free(la, nla);
        return rc;
    }
    if (strcmp(format, "dir") && strcmp(format, "tar"))
        return cli_usage_error("--format must be dir or tar");
    if (!since || !until || !out)
        return cli_usage_error("--since T1, --until T2 and -o DIR are required");
    if (argc - optind > AUDITFS_BUNDLE_MAX_TERMS)
        return cli_usage_error("too many terms (at most %d)", AUDITFS_BUNDLE_MAX_TERMS);
    auditfs_verifier *wk[MAX_WITNESSES] = {0};
    rc = load_witnesses(wk, wfiles, nw);
    if (!rc)
        rc = incident_create(out, format, since, until, tenant, grep,
                             (const char *const *)argv + optind, (size_t)(argc - optind), la,
                             nla, (const auditfs_verifier *const *)wk, nw, json,
                             time_event > 0);
    free_witnesses(wk, nw);
    ledger_args_free(la, nla);
    return rc;
}

/* ---- verify-bundle ---- */

static const char verify_bundle_help[] =
    "usage: auditfs verify-bundle DIR --key [NAME=]FILE.pub [--key NAME=FILE.pub ...]\n"
    "                             [--witness KEY.pub ...] [--json]\n"
    "\n"
    "Checks an incident bundle offline, with nothing but the bundle and the verifier key of\n"
    "each of its ledgers: every file against MANIFEST.sha256 (and no file missing or added),\n"
    "each checkpoint's signature with the key you give (not the key.pub in the bundle), every\n"
    "entry's inclusion proof against its ledger's checkpoint, every document and notice content\n"
    "against its entry's length and SHA-256, and that report.md and report.html are exactly what\n"
    "the bundle's entries produce. Exit 0 if all of it holds, 1 if anything does not.\n"
    "The cosigned checkpoints (ledgers/NAME/cosignatures/) must be signed by the same key, each\n"
    "of its size and on the bundle's tree; with --witness KEY.pub (repeatable) every cosignature\n"
    "line of that witness must verify too (others are carried, not checked), and every witness\n"
    "key query.txt names (the keys the report's receipts were computed with) must be one of\n"
    "yours: a key that only came with the bundle fails the check. --json prints the\n"
    "same lines as one JSON object (docs/JSON.md). A DIR that does not exist is exit 7.\n"
    "\n"
    "What it cannot show is that nothing relevant was left out of the bundle: for that, run\n"
    "`auditfs incident --check DIR --ledger NAME=DIR ...` against the full ledgers.\n";

/* The checks run in a fixed order (files, layout, signatures and proofs per ledger, witnesses,
 * report), each printing its findings; one function so the order is read top to bottom. */
static int
verify_bundle_run(const char *dir, char **keys, size_t nk,
                  const auditfs_verifier *const *witnesses, size_t nw)
{
    int failures = 0, err;
    auditfs_bundle *b = NULL;

    /* 1. exactly the files of the manifest, regular and bounded */
    err = auditfs_bundle_check_manifest(dir, print_finding, &failures);
    if (err && err != AUDITFS_EVERIFY) {
        printf("FAIL: the manifest cannot be checked: %s\n", auditfs_error_last());
        failures++;
    }
    /* 2. load; exactly the files its entries imply */
    if ((err = auditfs_bundle_load(&b, dir)) != 0) {
        printf("FAIL: the bundle cannot be read: %s\n", auditfs_error_last());
        return EXIT_VERIFY;
    }
    err = auditfs_bundle_check_layout(b, print_finding, &failures);
    if (err && err != AUDITFS_EVERIFY)
        failures++;
    /* 3. signatures and proofs, with the keys given here only */
    for (size_t li = 0; li < auditfs_bundle_ledger_count(b); li++) {
        const char *ln = auditfs_bundle_ledger_name(b, li), *kf = NULL;
        for (size_t k = 0; k < nk; k++) {
            char name[AUDITFS_STREAM_MAX + 1];
            const char *file;
            if (split_named(name, &file, keys[k]) < 0)
                continue;
            if (!strcmp(name, ln) || (nk == 1 && !strchr(keys[k], '=')))
                kf = nk == 1 && !strchr(keys[k], '=') ? keys[k] : file;
        }
        if (!kf) {
            printf("FAIL: %s: no key given (--key %s=FILE.pub)\n", ln, ln);
            failures++;
            continue;
        }
        auditfs_verifier *v = NULL;
        if ((err = auditfs_verifier_load(&v, kf)) != 0) {
            auditfs_bundle_free(b);
            return cli_fail(err, kf);
        }
        err = auditfs_bundle_verify_ledger(b, li, v, print_finding, &failures);
        auditfs_verifier_free(v);
        if (!err || err == AUDITFS_EVERIFY) {
            if (err && !failures)
                failures++;
            err = nw ? auditfs_bundle_verify_witnesses(b, li, witnesses, nw, print_finding,
                                                       &failures)
                     : 0;
            if (err == AUDITFS_EVERIFY && !failures)
                failures++;
        }
        if (err && err != AUDITFS_EVERIFY) {
            auditfs_bundle_free(b);
            return cli_fail(err, "verify-bundle");
        }
    }
    /* 4. the witness keys the report's receipts use must be among the reader's */
    err = auditfs_bundle_check_witness_keys(b, witnesses, nw, print_finding, &failures);
    if (err && err != AUDITFS_EVERIFY) {
        auditfs_bundle_free(b);
        return cli_fail(err, "verify-bundle");
    }
    /* 5. the report, regenerated in the version the bundle names */
    err = auditfs_bundle_verify_report(b, print_finding, &failures);
    auditfs_bundle_free(b);
    if (err && err != AUDITFS_EVERIFY)
        return cli_fail(err, "verify-bundle");
    if (failures) {
        printf("FAILED: %d check(s) failed; do not rely on this bundle\n", failures);
        return EXIT_VERIFY;
    }
    printf("VERIFIED: every entry in this bundle is in its ledger as signed by the given key(s).\n"
           "Not shown by this check: that the bundle holds every relevant entry; run `auditfs "
           "incident --check %s --ledger NAME=DIR ...` against the full ledger(s).\n", dir);
    return 0;
}

int
cmd_verify_bundle(int argc, char **argv)
{
    char *keys[MAX_LEDGERS + 1], *wfiles[MAX_WITNESSES];
    size_t nk = 0, nw = 0;
    int c, json = 0, rc;
    static const struct option opts[] = {{"key", required_argument, 0, 'k'},
                                         {"witness", required_argument, 0, 'W'},
                                         {"json", no_argument, 0, 'J'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'k':
            if (nk > MAX_LEDGERS)
                return cli_usage_error("at most %d keys", MAX_LEDGERS);
            keys[nk++] = optarg;
            break;
        case 'W':
            if (nw == MAX_WITNESSES)
                return cli_usage_error("at most %d --witness keys", MAX_WITNESSES);
            wfiles[nw++] = optarg;
            break;
        case 'J': json = 1; break;
        case 'h': fputs(verify_bundle_help, stdout); return 0;
        default: return EXIT_USAGE;
        }
    }
    if (optind + 1 != argc)
        return cli_usage_error("verify-bundle needs DIR");
    if (!nk)
        return cli_usage_error("--key [NAME=]FILE.pub is required");
    const char *dir = argv[optind];
    if ((rc = bundle_dir_usable("verify-bundle", dir)) != 0)
        return rc;
    auditfs_verifier *wk[MAX_WITNESSES] = {0};
    rc = load_witnesses(wk, wfiles, nw);
    if (!rc) {
        if (json && cli_capture_begin() != 0)
            json = 0;
        rc = verify_bundle_run(dir, keys, nk, (const auditfs_verifier *const *)wk, nw);
        if (json)
            cli_capture_end_json(rc);
    }
    free_witnesses(wk, nw);
    return rc;
}

/* ---- archive ---- */

static const char archive_help[] =
    "usage: auditfs archive --ledger DIR -o FILE [--json]\n"
    "\n"
    "Writes the whole ledger as one file that stock `git clone FILE DIR` reads (a git bundle,\n"
    "v2, of refs/heads/main with every object it reaches, and refs/auditfs/cosignatures when\n"
    "the ledger has stored cosignatures) and its signed checkpoint to\n"
    "FILE.checkpoint. `auditfs verify --ledger DIR --key FILE.pub --trusted FILE.checkpoint`\n"
    "works on the clone. --json prints what was written (docs/JSON.md).\n";

int
cmd_archive(int argc, char **argv)
{
    const char *ledger = NULL, *out = NULL;
    int c, json = 0;
    static const struct option opts[] = {{"ledger", required_argument, 0, 'l'},
                                         {"output", required_argument, 0, 'o'},
                                         {"json", no_argument, 0, 'J'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        switch (c) {
        case 'l': ledger = optarg; break;
        case 'o': out = optarg; break;
        case 'J': json = 1; break;
        case 'h': fputs(archive_help, stdout); return 0;
        default: return EXIT_USAGE;
        }
    }
    if (optind != argc || !out)
        return cli_usage_error("archive needs -o FILE");
    const char *path;
    if (cli_ledger_arg(&path, ledger) != 0)
        return EXIT_USAGE;
    auditfs_ledger *l = NULL;
    size_t objects = 0;
    uint64_t size = 0;
    auditfs_checkpoint cp;
    /* the verifier's memory first: the head against the pinned key and what this party saw */
    int rc = cli_open_trusted(&l, NULL, path, NULL, NULL);
    if (rc)
        return rc;
    int err = auditfs_archive_write(out, l, &objects, &size);
    if (!err && json && auditfs_ledger_head(&cp, l) == 0) {
        printf("{\"file\":");
        cli_json_str(stdout, out);
        printf(",\"checkpoint_file\":");
        char *cpath = malloc(strlen(out) + sizeof ".checkpoint");
        if (cpath) {
            sprintf(cpath, "%s.checkpoint", out);
            cli_json_str(stdout, cpath);
            free(cpath);
        }
        printf(",\"objects\":%zu,\"checkpoint\":", objects);
        cli_json_checkpoint(stdout, &cp);
        printf("}\n");
    }
    auditfs_ledger_free(l);
    if (err)
        return cli_fail(err, "archive");
    if (json)
        return 0;
    fprintf(stderr, "wrote %s (%zu objects, tree size %llu) and %s.checkpoint\n", out, objects,
            (unsigned long long)size, out);
    return 0;
}
