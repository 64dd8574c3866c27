/*
 * cli/cmd_status.c - `auditfs status`: what an operator checks first about a ledger.
 */
#include "cli.h"

#include "auditfs/status.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char status_help[] =
    "usage: auditfs status --ledger DIR [--json]\n"
    "\n"
    "Describes the ledger as stored (nothing is verified: use `auditfs verify`): its origin,\n"
    "size and root, the head commit and when it was made, how many commits, the ledger time of\n"
    "the newest entry (ingestion time, not the event's own time), and whether the query index\n"
    "covers every entry (\"fresh\") or how many it is behind. --json prints one object\n"
    "(docs/JSON.md).\n";

int
cmd_status(int argc, char **argv)
{
    const char *ledger = NULL;
    int json = 0, c;
    static const struct option opts[] = {{"ledger", required_argument, 0, 'l'},
                                         {"json", no_argument, 0, 'J'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'l': ledger = optarg; break;
        case 'J': json = 1; break;
        case 'h': fputs(status_help, stdout); return 0;
        default: return EXIT_USAGE;
        }
    }
    if (optind != argc)
        return cli_usage_error("status takes no arguments");
    const char *path = cli_ledger_path(ledger);
    if (!path)
        return cli_usage_error("no ledger: give --ledger DIR or set AUDITFS_LEDGER");
    auditfs_ledger *l = NULL;
    auditfs_ledger_status st;
    int err = auditfs_ledger_open(&l, path);
    if (!err)
        err = auditfs_ledger_status_get(&st, l);
    auditfs_ledger_free(l);
    if (err)
        return cli_fail(err, "status");

    char root[48], ctime_s[32], last[32];
    struct tm tm;
    time_t ct = (time_t)st.commit_time;
    auditfs_hash_base64(root, &st.head.root);
    gmtime_r(&ct, &tm);
    strftime(ctime_s, sizeof ctime_s, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (st.head.size)
        auditfs_format_time(last, st.last_entry_us);
    uint64_t behind = st.index_present && st.index_size <= st.head.size
                          ? st.head.size - st.index_size
                          : st.head.size;
    int fresh = st.index_present && behind == 0 && !st.index_problem[0];
    if (json) {
        printf("{\"ledger\":");
        cli_json_str(stdout, path);
        printf(",\"origin\":");
        cli_json_str(stdout, st.head.origin);
        printf(",\"tree_size\":%llu,\"root\":\"%s\",\"last_commit\":{\"id\":\"%s\",\"time\":\"%s\"},"
               "\"commits\":%llu,\"last_entry_time\":",
               (unsigned long long)st.head.size, root, st.commit, ctime_s,
               (unsigned long long)st.commits);
        if (st.head.size)
            printf("\"%s\"", last);
        else
            printf("null");
        printf(",\"index\":{\"present\":%s,\"entries\":%llu,\"behind\":%llu,\"fresh\":%s,"
               "\"problem\":",
               st.index_present ? "true" : "false", (unsigned long long)st.index_size,
               (unsigned long long)behind, fresh ? "true" : "false");
        if (st.index_problem[0])
            cli_json_str(stdout, st.index_problem);
        else
            printf("null");
        printf("}}\n");
        return 0;
    }
    /* the origin comes from data: control characters are shown as '?' */
    printf("ledger:       %s\norigin:       ", path);
    for (const char *o = st.head.origin; *o; o++)
        putchar((unsigned char)*o < 0x20 || *o == 0x7f ? '?' : *o);
    printf("\nsize:         %llu entries\nroot:         %s\n", (unsigned long long)st.head.size,
           root);
    printf("last commit:  %s at %s (%llu commits)\n", st.commit, ctime_s,
           (unsigned long long)st.commits);
    printf("last entry:   %s\n", st.head.size ? last : "(none: the ledger is empty)");
    if (fresh)
        printf("index:        fresh (covers all %llu entries)\n", (unsigned long long)st.index_size);
    else if (!st.index_present)
        printf("index:        none (%s); queries scan, `auditfs index` builds it\n",
               st.index_problem[0] ? st.index_problem : "not built yet");
    else
        printf("index:        %llu entries behind%s%s; queries catch up, or run `auditfs index`\n",
               (unsigned long long)behind, st.index_problem[0] ? ", " : "", st.index_problem);
    return 0;
}
