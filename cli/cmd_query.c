/*
 * cli/cmd_query.c - `auditfs query` and `auditfs index`.
 */
#include "cli.h"

#include "auditfs/query.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char query_help[] =
    "usage: auditfs query --ledger DIR [TERM...] [--since T] [--until T] [--time ledger|event]\n"
    "                     [--grep PATTERN]\n"
    "                     [--json | --entries | --prove] [--limit N] [--no-index] [--stats]\n"
    "                     [--key FILE.pub] [--origin O]\n"
    "\n"
    "Prints the entries that match every TERM, in ledger order. A TERM is FIELD OP VALUE with OP\n"
    "one of = != ~ (glob: * ? \\) < <= > >=. Bare names are top-level fields of JSON payloads\n"
    "(actor=ops-7, action~ecs:Stop*, result!=success); names with a leading underscore are the\n"
    "entry's header fields: _seq _time _type _stream _tenant _party _layer _name _version _title\n"
    "_effective _event_time (_time=2026-11-17 is that whole UTC day). Terms on different fields are ANDed; the\n"
    "same field repeated with = is ORed (actor=a actor=b); other repeats are ANDed (_seq>=10\n"
    "_seq<20). != also matches entries without the field. < <= > >= compare numbers when both\n"
    "sides are numbers and bytes otherwise. --since T is _time>=T and --until T is _time<T\n"
    "(RFC 3339 or YYYY-MM-DD, UTC); with --time event they select by _event_time, the event's\n"
    "own time (entries without one are not selected). --grep is a POSIX extended regular expression that must\n"
    "match the raw payload. Non-JSON payloads match only header terms and --grep.\n"
    "\n"
    "Output: each hit's payload line (pipe it into jq); documents and notices print their entry.\n"
    "  --json     every payload as one JSON value per line (non-JSON text as a JSON string)\n"
    "  --entries  one JSON object per hit: seq, time, the headers and the payload\n"
    "  --prove    --entries plus each hit's inclusion proof and the signed checkpoint it is\n"
    "             against (check with any RFC 6962 verifier)\n"
    "  --limit N  stop after N hits\n"
    "  --stats    print how many entries were read and how the index was used (stderr)\n"
    "\n"
    "Every hit is read back from the verified segments (each leaf checked against the signed\n"
    "tree's tiles) and checked against the whole expression; the index (see `auditfs index`)\n"
    "only decides which entries are read. --no-index scans every entry instead: same answer,\n"
    "slower. A malformed term exits 3 with a message naming it.\n";

typedef struct out_ctx {
    auditfs_ledger *l;
    int format;
    int err_io;
} out_ctx;

static int
print_hit(void *vctx, const auditfs_entry *e, const uint8_t *leaf, size_t len)
{
    out_ctx *c = vctx;
    char *s = NULL;
    size_t n = 0;
    (void)leaf;
    (void)len;
    int err = auditfs_query_format_hit(&s, &n, c->l, e, c->format);
    if (err)
        return err;
    if (fwrite(s, 1, n, stdout) != n) {
        c->err_io = errno ? errno : EIO;
        free(s);
        return AUDITFS_EIO;
    }
    free(s);
    return 0;
}

/* --since/--until as a term on tfield ("_time" or "_event_time"): 0, or an exit code (printed). */
static int
window_term(auditfs_query *q, const char *tfield, const char *op, const char *value,
            const char *opt)
{
    char term[300];
    int64_t t;
    int err;
    if (!value)
        return 0;
    if (!auditfs_parse_time(&t, value))
        return cli_usage_error("%s '%s' is not RFC 3339 or YYYY-MM-DD", opt, value);
    snprintf(term, sizeof term, "%s%s%s", tfield, op, value);
    if ((err = auditfs_query_add_term(q, term)) != 0)
        return cli_fail(err, "query");
    return 0;
}

/* --stats on stderr, or a warning there when the index was found damaged. */
static void
report_stats(const auditfs_query_stats *st, int stats_flag, int no_index, double ms)
{
    if (stats_flag)
        fprintf(stderr,
                "query: %llu hits, %llu entries read of %llu, index %s (covers %llu), %.3f ms%s%s\n",
                (unsigned long long)st->hits, (unsigned long long)st->examined,
                (unsigned long long)st->head_size, st->index_used ? "used" : "not used",
                (unsigned long long)st->indexed, ms, st->note[0] ? "; " : "", st->note);
    else if (st->note[0] && !no_index && strstr(st->note, "damaged"))
        fprintf(stderr, "auditfs: warning: %s\n", st->note);
}

/* Runs q, printing each hit in format; the exit code. */
static int
run_query(auditfs_ledger *l, const auditfs_query *q, const auditfs_query_options *o, int format,
          int stats_flag)
{
    out_ctx ctx = {l, format, 0};
    auditfs_query_stats st;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int err = auditfs_query_run(l, q, o, print_hit, &ctx, &st);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (fflush(stdout) != 0 && !err)
        err = AUDITFS_EIO;
    report_stats(&st, stats_flag, o->no_index,
                 (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
    if (err && ctx.err_io) {
        fprintf(stderr, "auditfs: query: writing the output: %s\n", strerror(ctx.err_io));
        return EXIT_IO;
    }
    return err ? cli_fail(err, "query") : 0;
}

/*
 * Long because it is the command's option table and parse: each option is one case; the terms,
 * the run and the output are the functions above.
 */
int
cmd_query(int argc, char **argv)
{
    const char *ledger = NULL, *since = NULL, *until = NULL, *grep = NULL, *key = NULL,
               *origin = NULL;
    const char *tfield = "_time"; /* --time ledger (default) or event: _event_time */
    int format = AUDITFS_QUERY_PAYLOADS, stats_flag = 0, c;
    auditfs_query_options o = AUDITFS_QUERY_OPTIONS_INIT;
    static const struct option opts[] = {{"ledger", required_argument, 0, 'l'},
                                         {"key", required_argument, 0, 'k'},
                                         {"origin", required_argument, 0, 'O'},
                                         {"since", required_argument, 0, 's'},
                                         {"until", required_argument, 0, 'u'},
                                         {"grep", required_argument, 0, 'g'},
                                         {"json", no_argument, 0, 'J'},
                                         {"entries", no_argument, 0, 'E'},
                                         {"prove", no_argument, 0, 'P'},
                                         {"limit", required_argument, 0, 'n'},
                                         {"no-index", no_argument, 0, 'X'},
                                         {"no-update", no_argument, 0, 'U'},
                                         {"stats", no_argument, 0, 'S'},
                                         {"time", required_argument, 0, 'T'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    if (cli_want_help(argc, argv, query_help))
        return 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'l': ledger = optarg; break;
        case 's': since = optarg; break;
        case 'u': until = optarg; break;
        case 'g': grep = optarg; break;
        case 'J': format = AUDITFS_QUERY_JSON; break;
        case 'E':
            if (format != AUDITFS_QUERY_PROVE)
                format = AUDITFS_QUERY_ENTRIES;
            break;
        case 'P': format = AUDITFS_QUERY_PROVE; break;
        case 'n':
            if (cli_parse_u64(&o.limit, optarg, "--limit"))
                return EXIT_USAGE;
            break;
        case 'X': o.no_index = 1; break;
        case 'U': o.no_update = 1; break;
        case 'S': stats_flag = 1; break;
        case 'T':
            if (strcmp(optarg, "event") && strcmp(optarg, "ledger"))
                return cli_usage_error("--time is 'ledger' or 'event'");
            tfield = strcmp(optarg, "event") ? "_time" : "_event_time";
            break;
        case 'k': key = optarg; break;
        case 'O': origin = optarg; break;
        default: return EXIT_USAGE;
        }
    }
    auditfs_query *q = NULL;
    size_t bad;
    int err = auditfs_query_parse(&q, (const char *const *)argv + optind, (size_t)(argc - optind),
                                  &bad);
    if (err)
        return cli_fail(err, "query");
    int rc;
    if ((rc = window_term(q, tfield, ">=", since, "--since")) != 0 ||
        (rc = window_term(q, tfield, "<", until, "--until")) != 0) {
        auditfs_query_free(q);
        return rc;
    }
    if (grep && (err = auditfs_query_set_grep(q, grep)) != 0)
        goto fail;
    auditfs_ledger *l = NULL;
    rc = cli_open_trusted(&l, NULL, ledger, key, origin); /* no ledger: a usage error */
    if (rc) {
        auditfs_query_free(q);
        return rc;
    }
    rc = run_query(l, q, &o, format, stats_flag);
    auditfs_ledger_free(l);
    auditfs_query_free(q);
    return rc;
fail:
    auditfs_query_free(q);
    return cli_fail(err, "query");
}

/* ---- index ---- */

static const char index_help[] =
    "usage: auditfs index --ledger DIR [--rebuild] [--fields F1,F2,...] [--check] [--json]\n"
    "                     [--key FILE.pub] [--origin O]\n"
    "\n"
    "The query index is derived data kept in <repository>/auditfs-index/: postings per header\n"
    "value (_type _stream _tenant _party _layer _name), per value of the configured JSON fields\n"
    "(default " AUDITFS_INDEX_DEFAULT_FIELDS "), and the seq range of each UTC\n"
    "day. append, publish and notice keep it up to date; a query catches up with entries it\n"
    "does not cover yet. It is never needed: a clone without it answers every query the same.\n"
    "\n"
    "Without options, prints its state and brings it up to date.\n"
    "  --rebuild      discard it and build it again from the verified ledger\n"
    "  --fields LIST  the JSON fields to index (implies --rebuild)\n"
    "  --check        read every byte of every index file against the checksums in its meta\n"
    "                 file; exit 1 if anything is damaged (queries stay correct regardless: a\n"
    "                 damaged part is scanned instead)\n"
    "  --json         the state as one JSON object (docs/JSON.md)\n";

/* The index's state (after an update, which took secs, unless check) as text or JSON. */
static void
print_index_status(const auditfs_index_status *st, int json, int check, double secs)
{
    if (json) {
        printf("{\"present\":%s,\"entries\":%llu,\"runs\":%llu,\"keys\":%llu,\"bytes\":%llu,"
               "\"fields\":", st->present ? "true" : "false", (unsigned long long)st->size,
               (unsigned long long)st->runs, (unsigned long long)st->keys,
               (unsigned long long)st->bytes);
        cli_json_str(stdout, st->fields);
        printf(",\"problem\":");
        cli_json_str_or_null(stdout, st->problem);
        if (!check)
            printf(",\"seconds\":%.3f", secs);
        printf("}\n");
    } else if (!st->present)
        printf("no usable index: %s\n", st->problem);
    else
        printf("index: %llu entries, %llu runs, %llu keys, %llu bytes; fields %s%s%s\n",
               (unsigned long long)st->size, (unsigned long long)st->runs,
               (unsigned long long)st->keys, (unsigned long long)st->bytes, st->fields,
               st->problem[0] ? "\nproblem: " : "", st->problem);
    if (!check && !json)
        printf("updated in %.3f s\n", secs);
}

int
cmd_index(int argc, char **argv)
{
    const char *ledger = NULL, *fields = NULL, *key = NULL, *origin = NULL;
    int rebuild = 0, check = 0, json = 0, c;
    static const struct option opts[] = {{"ledger", required_argument, 0, 'l'},
                                         {"key", required_argument, 0, 'k'},
                                         {"origin", required_argument, 0, 'O'},
                                         {"rebuild", no_argument, 0, 'r'},
                                         {"fields", required_argument, 0, 'f'},
                                         {"check", no_argument, 0, 'c'},
                                         {"help", no_argument, 0, 'h'},
                                         {"json", no_argument, 0, 'J'},
                                         {0, 0, 0, 0}};
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'l': ledger = optarg; break;
        case 'J': json = 1; break;
        case 'r': rebuild = 1; break;
        case 'f': fields = optarg; break;
        case 'c': check = 1; break;
        case 'k': key = optarg; break;
        case 'O': origin = optarg; break;
        case 'h': fputs(index_help, stdout); return 0;
        default: return EXIT_USAGE;
        }
    }
    if (optind != argc)
        return cli_usage_error("index takes no arguments");
    const char *path;
    if (cli_ledger_arg(&path, ledger) != 0)
        return EXIT_USAGE;
    auditfs_ledger *l = NULL;
    int err, rc = cli_open_trusted(&l, NULL, path, key, origin);
    if (rc)
        return rc;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (!check) {
        cli_progress prog;
        auditfs_index_options io = {cli_progress_init(&prog), rebuild || fields, fields};
        err = auditfs_index_update_opts(l, &io);
        cli_progress_done(&prog);
        if (err) {
            rc = cli_fail(err, "index");
            goto out;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    auditfs_index_status st;
    if ((err = auditfs_index_status_get(&st, l, check)) != 0) {
        rc = cli_fail(err, "index");
        goto out;
    }
    print_index_status(&st, json, check,
                       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    if (check && (!st.present || st.problem[0]))
        rc = EXIT_VERIFY;
out:
    auditfs_ledger_free(l);
    return rc;
}

void
cli_index_after_write(const char *path)
{
    auditfs_ledger *l = NULL;
    int err = auditfs_ledger_open(&l, path);
    if (!err)
        err = auditfs_index_update(l);
    if (err && err != AUDITFS_EBUSY)
        fprintf(stderr, "auditfs: warning: the query index was not updated (%s); queries stay "
                        "correct, run `auditfs index` to catch up\n",
                auditfs_error_last());
    auditfs_error_clear();
    auditfs_ledger_free(l);
}
