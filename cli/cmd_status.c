/*
 * cli/cmd_status.c - `auditfs status`: what an operator checks first about a ledger.
 */
#include "cli.h"

#include "auditfs/cosig.h"
#include "auditfs/state.h"
#include "auditfs/status.h"
#include "auditfs/witness.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char status_help[] =
    "usage: auditfs status --ledger DIR [--json]\n"
    "\n"
    "Describes the ledger as stored (nothing is verified: use `auditfs verify`): its origin,\n"
    "size and root, the head commit and when it was made, how many commits, the ledger time of\n"
    "the newest entry (ingestion time, not the event's own time), and whether the query index\n"
    "covers every entry (\"fresh\") or how many it is behind; and this party's memory of the\n"
    "origin in $AUDITFS_STATE (`auditfs trust`): the pinned keys, the origin the directory is\n"
    "bound to, and the newest checkpoints this party verified and signed; the last successful\n"
    "`auditfs sync` or `clone` of this replica (when, from where, to which size); and, per\n"
    "witness key, the newest tree size it cosigned and when, from the cosignatures stored on\n"
    "refs/auditfs/cosignatures (as stored: `auditfs verify --witness` checks them). --json\n"
    "prints one object (docs/JSON.md).\n";

/* This party's memory of the origin (auditfs/state.h), as read: nothing is checked here. */
typedef struct trust_info {
    char state[4096];
    char bound[AUDITFS_NAME_MAX + 1]; /* "" if the directory is not bound */
    auditfs_verifier **keys;
    size_t nkeys;
    auditfs_checkpoint cp[2]; /* AUDITFS_STATE_SEEN, AUDITFS_STATE_SIGNED */
    int have[2];
    auditfs_sync_record sync; /* the last successful sync or clone, if have_sync */
    int have_sync;
} trust_info;

static int
trust_info_get(trust_info *t, const char *path, const char *origin)
{
    auditfs_state *st = NULL;
    memset(t, 0, sizeof *t);
    int err = auditfs_state_open(&st, NULL);
    if (err)
        return err;
    snprintf(t->state, sizeof t->state, "%s", auditfs_state_path(st));
    if (auditfs_state_bound_origin(t->bound, st, path) != 0)
        t->bound[0] = 0;
    if ((err = auditfs_state_keys(&t->keys, &t->nkeys, st, origin)) != 0)
        goto done;
    for (int k = 0; k < 2; k++) {
        char *note = NULL;
        size_t len = 0, tl, off;
        if (auditfs_state_checkpoint(&note, &len, st, origin, k) == 0 &&
            auditfs_note_split(&tl, &off, note, len) == 0 &&
            auditfs_checkpoint_parse(&t->cp[k], note, tl) == 0)
            t->have[k] = 1;
        free(note);
    }
    t->have_sync = auditfs_state_last_sync(&t->sync, st, path) == 0;
done:
    auditfs_error_clear();
    auditfs_state_free(st);
    return err;
}

/* One witness key's newest stored cosignature: the largest tree size it cosigned and when. */
typedef struct cosig_info {
    char name[AUDITFS_NAME_MAX + 1];
    uint32_t key_id;
    uint64_t size, time; /* time: POSIX seconds of its newest line on that size */
} cosig_info;

#define MAX_WITNESSES 256

/* Folds one parsed cosignature line on size into the per-witness list out[0..*n). */
static void
cosig_note(cosig_info *out, size_t *n, const auditfs_cosig_line *cl, uint64_t size)
{
    size_t k = 0;
    while (k < *n && !(out[k].key_id == cl->key_id && !strcmp(out[k].name, cl->name)))
        k++;
    if (k == *n && *n < MAX_WITNESSES) {
        memset(&out[k], 0, sizeof out[k]);
        snprintf(out[k].name, sizeof out[k].name, "%s", cl->name);
        out[k].key_id = cl->key_id;
        (*n)++;
    }
    if (k < *n && (size > out[k].size || (size == out[k].size && cl->timestamp > out[k].time))) {
        out[k].size = size;
        out[k].time = cl->timestamp;
    }
}

/*
 * The witnesses of the cosignatures stored on refs/auditfs/cosignatures (as stored, nothing
 * verified: a line only has to parse as an Ed25519 cosignature). Reads every stored cosigned
 * checkpoint once: the cost grows with the number of cosigned sizes, not with the ledger.
 */
static int
cosigs_get(cosig_info *out, size_t *n, auditfs_ledger *l)
{
    uint64_t *sizes = NULL;
    size_t ns = 0;
    *n = 0;
    int err = auditfs_cosig_store_sizes(&sizes, &ns, l);
    if (err)
        return err;
    for (size_t i = 0; i < ns; i++) {
        char *note = NULL;
        size_t len = 0, tl, off;
        if (auditfs_cosig_store_checkpoint(&note, &len, l, sizes[i]) != 0 ||
            auditfs_note_split(&tl, &off, note, len) != 0) {
            free(note);
            auditfs_error_clear();
            continue;
        }
        for (size_t p = off; p < len;) {
            const char *nl = memchr(note + p, '\n', len - p);
            size_t ll = nl ? (size_t)(nl - (note + p)) : len - p;
            auditfs_cosig_line cl;
            if (auditfs_cosig_parse_line(&cl, note + p, ll) == 0)
                cosig_note(out, n, &cl, sizes[i]);
            p += ll + 1;
        }
        free(note);
    }
    auditfs_error_clear();
    free(sizes);
    return 0;
}

/* A cosignature timestamp (seconds) as RFC 3339; "" beyond what the formatter takes. */
static void
cosig_time(char out[32], uint64_t secs)
{
    out[0] = 0;
    if (secs <= (uint64_t)INT64_MAX / 1000000)
        auditfs_format_time(out, (int64_t)secs * 1000000);
}

static void
json_remembered(const trust_info *t, int k)
{
    char root[48];
    if (!t->have[k]) {
        printf("null");
        return;
    }
    auditfs_hash_base64(root, &t->cp[k].root);
    printf("{\"tree_size\":%llu,\"root\":\"%s\"}", (unsigned long long)t->cp[k].size, root);
}

/* What both outputs show, derived from the status once. */
typedef struct status_view {
    const char *path;
    const auditfs_ledger_status *st;
    const trust_info *t;
    const cosig_info *cos;
    size_t ncos;
    char root[48], commit_time[32], last[32], synced[32];
    uint64_t behind;
    int fresh;
} status_view;

static void
status_view_init(status_view *v, const char *path, const auditfs_ledger_status *st,
                 const trust_info *t, const cosig_info *cos, size_t ncos)
{
    struct tm tm;
    time_t ct = (time_t)st->commit_time;
    memset(v, 0, sizeof *v);
    v->path = path;
    v->st = st;
    v->t = t;
    v->cos = cos;
    v->ncos = ncos;
    if (t->have_sync)
        auditfs_format_time(v->synced, t->sync.time_us);
    auditfs_hash_base64(v->root, &st->head.root);
    gmtime_r(&ct, &tm);
    strftime(v->commit_time, sizeof v->commit_time, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (st->head.size)
        auditfs_format_time(v->last, st->last_entry_us);
    v->behind = st->index_present && st->index_size <= st->head.size
                    ? st->head.size - st->index_size
                    : st->head.size;
    v->fresh = st->index_present && v->behind == 0 && !st->index_problem[0];
}

/* text from data (origins, key names): control characters are shown as '?' */
static void
put_safe(const char *s)
{
    for (; *s; s++)
        putchar((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
}

static void
print_status_json(const status_view *v)
{
    const auditfs_ledger_status *st = v->st;
    const trust_info *t = v->t;
    printf("{\"ledger\":");
    cli_json_str(stdout, v->path);
    printf(",\"origin\":");
    cli_json_str(stdout, st->head.origin);
    printf(",\"tree_size\":%llu,\"root\":\"%s\",\"last_commit\":{\"id\":\"%s\",\"time\":\"%s\"},"
           "\"commits\":%llu,\"last_entry_time\":",
           (unsigned long long)st->head.size, v->root, st->commit, v->commit_time,
           (unsigned long long)st->commits);
    if (st->head.size)
        printf("\"%s\"", v->last);
    else
        printf("null");
    printf(",\"index\":{\"present\":%s,\"entries\":%llu,\"behind\":%llu,\"fresh\":%s,"
           "\"problem\":",
           st->index_present ? "true" : "false", (unsigned long long)st->index_size,
           (unsigned long long)v->behind, v->fresh ? "true" : "false");
    cli_json_str_or_null(stdout, st->index_problem);
    printf("},\"trust\":{\"state\":");
    cli_json_str(stdout, t->state);
    printf(",\"bound_origin\":");
    cli_json_str_or_null(stdout, t->bound);
    printf(",\"pinned_keys\":[");
    for (size_t i = 0; i < t->nkeys; i++) {
        char id[300];
        snprintf(id, sizeof id, "%s+%08x", auditfs_verifier_name(t->keys[i]),
                 auditfs_verifier_key_id(t->keys[i]));
        printf("%s", i ? "," : "");
        cli_json_str(stdout, id);
    }
    printf("],\"seen\":");
    json_remembered(t, AUDITFS_STATE_SEEN);
    printf(",\"signed\":");
    json_remembered(t, AUDITFS_STATE_SIGNED);
    printf("},\"last_sync\":");
    if (t->have_sync) {
        printf("{\"time\":\"%s\",\"remote\":", v->synced);
        cli_json_str(stdout, t->sync.remote);
        printf(",\"url\":");
        cli_json_str(stdout, t->sync.url);
        printf(",\"tree_size\":%llu,\"commit\":\"%s\"}", (unsigned long long)t->sync.size,
               t->sync.commit);
    } else {
        printf("null");
    }
    printf(",\"cosignatures\":[");
    for (size_t i = 0; i < v->ncos; i++) {
        char id[300], when[32];
        snprintf(id, sizeof id, "%s+%08x", v->cos[i].name, v->cos[i].key_id);
        cosig_time(when, v->cos[i].time);
        printf("%s{\"witness\":", i ? "," : "");
        cli_json_str(stdout, id);
        printf(",\"tree_size\":%llu,\"time\":", (unsigned long long)v->cos[i].size);
        if (when[0])
            printf("\"%s\"}", when);
        else
            printf("null}");
    }
    printf("]}\n");
}

/* The text lines "last sync:" and "cosigned:" (without the final newline). */
static void
print_sync_and_cosigs_text(const status_view *v)
{
    const trust_info *t = v->t;
    printf("\nlast sync:    ");
    if (t->have_sync) {
        char ago[32];
        auditfs_format_duration(ago, (int64_t)(time(NULL) - t->sync.time_us / 1000000));
        printf("%s (%s ago) from ", v->synced, ago);
        put_safe(t->sync.remote);
        if (strcmp(t->sync.remote, t->sync.url) != 0 && t->sync.url[0]) {
            printf(" (");
            put_safe(t->sync.url);
            printf(")");
        }
        printf(", size %llu, commit %.12s", (unsigned long long)t->sync.size, t->sync.commit);
    } else {
        printf("never (not a replica, or not synced with this state directory)");
    }
    printf("\ncosigned:     ");
    if (!v->ncos)
        printf("none stored (`auditfs witness request` or `auditfs cosignatures add`)");
    for (size_t i = 0; i < v->ncos; i++) {
        char when[32];
        cosig_time(when, v->cos[i].time);
        printf("%s", i ? "\n              " : "");
        put_safe(v->cos[i].name);
        printf("+%08x: size %llu at %s", v->cos[i].key_id, (unsigned long long)v->cos[i].size,
               when[0] ? when : "(time out of range)");
    }
}

static void
print_status_text(const status_view *v)
{
    const auditfs_ledger_status *st = v->st;
    const trust_info *t = v->t;
    printf("ledger:       %s\norigin:       ", v->path);
    put_safe(st->head.origin);
    printf("\nsize:         %llu entries\nroot:         %s\n", (unsigned long long)st->head.size,
           v->root);
    printf("last commit:  %s at %s (%llu commits)\n", st->commit, v->commit_time,
           (unsigned long long)st->commits);
    printf("last entry:   %s\n", st->head.size ? v->last : "(none: the ledger is empty)");
    if (v->fresh)
        printf("index:        fresh (covers all %llu entries)\n", (unsigned long long)st->index_size);
    else if (!st->index_present)
        printf("index:        none (%s); queries scan, `auditfs index` builds it\n",
               st->index_problem[0] ? st->index_problem : "not built yet");
    else
        printf("index:        %llu entries behind%s%s; queries catch up, or run `auditfs index`\n",
               (unsigned long long)v->behind, st->index_problem[0] ? ", " : "",
               st->index_problem);
    printf("state:        %s\n", t->state);
    printf("bound to:     ");
    put_safe(t->bound[0] ? t->bound : "(not bound yet)");
    printf("\npinned keys:  ");
    if (!t->nkeys)
        printf("none (`auditfs trust add KEY.pub` pins one)");
    for (size_t i = 0; i < t->nkeys; i++) {
        printf("%s", i ? ", " : "");
        put_safe(auditfs_verifier_name(t->keys[i]));
        printf("+%08x", auditfs_verifier_key_id(t->keys[i]));
    }
    for (int k = 0; k < 2; k++) {
        char r[48];
        printf("\n%s", k == AUDITFS_STATE_SEEN ? "verified:     " : "signed:       ");
        if (!t->have[k]) {
            printf("none");
            continue;
        }
        auditfs_hash_base64(r, &t->cp[k].root);
        printf("size %llu root %s", (unsigned long long)t->cp[k].size, r);
    }
    print_sync_and_cosigs_text(v);
    printf("\n");
}

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
    const char *path;
    if (cli_ledger_arg(&path, ledger) != 0)
        return EXIT_USAGE;
    auditfs_ledger *l = NULL;
    auditfs_ledger_status st;
    cosig_info *cos = calloc(MAX_WITNESSES, sizeof *cos);
    size_t ncos = 0;
    if (!cos)
        return cli_fail(AUDITFS_ENOMEM, "status");
    int err = auditfs_ledger_open(&l, path);
    if (!err)
        err = auditfs_ledger_status_get(&st, l);
    if (!err)
        err = cosigs_get(cos, &ncos, l);
    auditfs_ledger_free(l);
    if (err) {
        free(cos);
        return cli_fail(err, "status");
    }
    trust_info t;
    if ((err = trust_info_get(&t, path, st.head.origin)) != 0) {
        free(cos);
        return cli_fail(err, "state directory");
    }
    status_view v;
    status_view_init(&v, path, &st, &t, cos, ncos);
    if (json)
        print_status_json(&v);
    else
        print_status_text(&v);
    auditfs_state_keys_free(t.keys, t.nkeys);
    free(cos);
    return 0;
}
