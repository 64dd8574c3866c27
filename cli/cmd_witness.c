/*
 * cli/cmd_witness.c - witnesses and receipts:
 *   auditfs cosign               cosign the newest checkpoint of a local ledger as a witness
 *   auditfs cosignatures add     store cosignatures that arrived another way
 *   auditfs witness serve        the C2SP tlog-witness HTTP API (libmicrohttpd)
 *   auditfs witness request      send the newest checkpoint to witnesses (libcurl)
 *   auditfs acks                 who acknowledged which notice and SLA version, and when
 * and the quorum/freshness check that `verify` runs with --witness/--quorum/--policy/--max-age.
 */
#include "cli.h"
#include "auditfs/cosig.h"
#include "auditfs/policy.h"
#include "auditfs/trust.h"
#include "auditfs/witness.h"

#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_KEYS 64

/* ---- helpers ---- */

/* The state root: --state, $AUDITFS_STATE, $XDG_STATE_HOME/auditfs, ~/.local/state/auditfs. */
static const char *
state_root(const char *opt, char *buf, size_t cap)
{
    const char *e;
    if (opt && opt[0])
        return opt;
    if ((e = getenv("AUDITFS_STATE")) && e[0])
        return e;
    if ((e = getenv("XDG_STATE_HOME")) && e[0]) {
        snprintf(buf, cap, "%s/auditfs", e);
        return buf;
    }
    if ((e = getenv("HOME")) && e[0]) {
        snprintf(buf, cap, "%s/.local/state/auditfs", e);
        return buf;
    }
    return NULL;
}

/* Prints data with control characters and backslashes escaped (it may come from a peer). */
static void
put_escaped(FILE *f, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n' && i + 1 == n)
            break;
        if (c < 0x20 || c == 0x7f || c == '\\')
            fprintf(f, "\\x%02x", c);
        else
            fputc(c, f);
    }
}

static void
fmt_time_s(char out[32], uint64_t t)
{
    auditfs_format_time(out, (int64_t)t * 1000000);
    /* seconds precision: drop the ".000000" */
    char *dot = strchr(out, '.');
    if (dot) {
        dot[0] = 'Z';
        dot[1] = 0;
    }
}

/* "90", "90s", "15m", "2h", "7d" -> seconds; -1 if malformed. */
static int64_t
parse_duration(const char *s)
{
    char *end;
    errno = 0;
    if (!s || !*s || *s == '-')
        return -1;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || v < 0)
        return -1;
    long long mul = 1;
    if (*end == 's')
        end++;
    else if (*end == 'm')
        mul = 60, end++;
    else if (*end == 'h')
        mul = 3600, end++;
    else if (*end == 'd')
        mul = 86400, end++;
    if (*end || v > INT64_MAX / mul)
        return -1;
    return v * mul;
}


static int
open_ledger_rw(auditfs_ledger **l, const char *opt)
{
    const char *path;
    if (cli_ledger_arg(&path, opt) != 0)
        return EXIT_USAGE;
    int err = auditfs_ledger_open(l, path);
    return err ? cli_fail(err, path) : 0;
}

/* The witness's lines in a note ("— ..." lines whose name and 0x04 key id are the witness's),
 * malloc'd; *n 0 if none. */
static int
witness_lines(char **out, size_t *n, const char *note, size_t len, const auditfs_verifier *w)
{
    size_t tl, off;
    int err = auditfs_note_split(&tl, &off, note, len);
    *out = NULL;
    *n = 0;
    if (err)
        return err;
    char *buf = malloc(len - off + 1);
    if (!buf)
        return AUDITFS_ENOMEM;
    size_t k = 0;
    uint32_t id = auditfs_cosig_key_id(w);
    for (size_t p = off; p < len;) {
        const char *l = note + p;
        const char *nl = memchr(l, '\n', len - p);
        size_t m = (size_t)(nl - l);
        auditfs_cosig_line cl;
        p += m + 1;
        if (auditfs_cosig_parse_line(&cl, l, m) == 0 && cl.key_id == id &&
            strcmp(cl.name, auditfs_verifier_name(w)) == 0) {
            memcpy(buf + k, l, m + 1);
            k += m + 1;
        }
    }
    auditfs_error_clear();
    buf[k] = 0;
    *out = buf;
    *n = k;
    return 0;
}

/* ---- quorum and freshness (verify --witness/--quorum/--policy/--max-age) ---- */

int
cli_witness_policy(auditfs_policy **out, int64_t *max_age, const struct cli_witness_opts *o)
{
    auditfs_verifier *keys[MAX_KEYS] = {0};
    int rc = 0, err;
    *out = NULL;
    *max_age = -1;
    if (!o->policy && o->nkeys == 0) {
        if (o->quorum || o->max_age)
            return cli_usage_error("--quorum and --max-age need --witness KEY.pub or --policy");
        return 0;
    }
    if (o->policy && o->nkeys)
        return cli_usage_error("give either --policy or --witness keys, not both");
    if (o->max_age && (*max_age = parse_duration(o->max_age)) < 0)
        return cli_usage_error("--max-age: '%s' is not a duration (e.g. 90s, 15m, 2h, 7d)",
                               o->max_age);
    if (o->policy) {
        if (o->quorum)
            return cli_usage_error("--quorum comes from the policy file; do not give both");
        if ((err = auditfs_policy_load(out, o->policy)) != 0)
            return cli_fail(err, "--policy");
        return 0;
    }
    uint64_t k = o->nkeys;
    if (o->quorum && cli_parse_u64(&k, o->quorum, "--quorum"))
        return EXIT_USAGE;
    for (size_t i = 0; i < o->nkeys && !rc; i++)
        if ((err = auditfs_cosig_verifier_load(&keys[i], o->keys[i])) != 0)
            rc = cli_fail(err, "--witness");
    if (!rc && (err = auditfs_policy_threshold(out, keys, o->nkeys, (size_t)k)) != 0)
        rc = cli_fail(err, "--quorum");
    for (size_t i = 0; i < MAX_KEYS; i++)
        auditfs_verifier_free(keys[i]);
    return rc;
}

int
cli_witness_check(const struct cli_witness_opts *o, auditfs_ledger *l,
                  const auditfs_checkpoint *head, int json)
{
    auditfs_policy *p = NULL;
    int64_t max_age = -1;
    int rc, err, ok = 0;
    if ((rc = cli_witness_policy(&p, &max_age, o)) != 0 || !p)
        return rc;
    size_t n = auditfs_policy_witness_count(p);
    int counted[AUDITFS_POLICY_MAX_ITEMS] = {0};
    uint64_t when[AUDITFS_POLICY_MAX_ITEMS] = {0}, at[AUDITFS_POLICY_MAX_ITEMS] = {0};
    uint64_t now = (uint64_t)time(NULL);
    /* the one rule (sync's too): this checkpoint or a later one of the same history */
    if ((err = auditfs_witness_quorum_sizes(&ok, when, at, l, head->size, p, max_age, now)) !=
        0) {
        rc = cli_fail(err, "cosignatures");
        goto cleanup;
    }
    int fresh_count = 0;
    for (size_t i = 0; i < n; i++)
        fresh_count += (counted[i] = at[i] != 0);
    if (json) {
        printf("{\"witnessed\":%s,\"tree_size\":%" PRIu64 ",\"max_age_seconds\":%lld,"
               "\"witnesses\":[",
               ok ? "true" : "false", head->size, (long long)max_age);
        for (size_t i = 0; i < n; i++) {
            char t[32] = "";
            printf("%s{\"name\":", i ? "," : "");
            cli_json_str(stdout, auditfs_policy_witness_name(p, i));
            if (when[i]) {
                fmt_time_s(t, when[i]);
                printf(",\"cosigned\":\"%s\",\"fresh\":%s", t, counted[i] ? "true" : "false");
                if (counted[i])
                    printf(",\"cosigned_size\":%" PRIu64, at[i]);
            }
            printf("}");
        }
        printf("]}\n");
    } else {
        for (size_t i = 0; i < n; i++) {
            char t[32], d[32];
            if (when[i]) {
                fmt_time_s(t, when[i]);
                auditfs_format_duration(d, (int64_t)now - (int64_t)when[i]);
                if (counted[i])
                    printf("witness %s: cosigned size %" PRIu64 " at %s (%s ago)%s\n",
                           auditfs_policy_witness_name(p, i), at[i], t, d,
                           at[i] > head->size ? ", a later checkpoint of this history" : "");
                else
                    printf("witness %s: cosigned at %s (%s ago), older than --max-age\n",
                           auditfs_policy_witness_name(p, i), t, d);
            } else {
                printf("witness %s: no valid cosignature of size %" PRIu64 "\n",
                       auditfs_policy_witness_name(p, i), head->size);
            }
        }
        printf("quorum: %s (%d of %zu witnesses%s)\n", ok ? "met" : "NOT met", fresh_count, n,
               max_age >= 0 ? " fresh" : "");
    }
    if (!ok) {
        fprintf(stderr,
                "auditfs: verification FAILED: checkpoint of size %" PRIu64
                " lacks the witness quorum%s\n",
                head->size, max_age >= 0 ? " within --max-age" : "");
        rc = EXIT_VERIFY;
    }
cleanup:
    auditfs_policy_free(p);
    return rc;
}

/* ---- auditfs cosign ---- */

static const char cosign_help[] =
    "usage: auditfs cosign --key WITNESS.key --log-key LOG.pub [--ledger DIR] [--state DIR]\n"
    "                      [--no-store] [--time T]\n"
    "\n"
    "Acts as a witness for a local copy of a ledger: checks that its newest checkpoint is signed\n"
    "by LOG.pub and extends the last checkpoint this witness cosigned for that origin (the first\n"
    "time: a full verify; afterwards: a consistency proof), records it in the witness state\n"
    "($AUDITFS_STATE/witness/...), prints the C2SP tlog-cosignature v1 line and stores it with\n"
    "the ledger (refs/auditfs/cosignatures) unless --no-store or the ledger is read-only.\n"
    "Cosigning the same size again refreshes the timestamp (kept as the newest cosignature).\n"
    "\n"
    "A checkpoint that does not extend what the witness cosigned, or what this party verified\n"
    "or signed before (the verifier's memory in the same state directory, `auditfs trust`), is\n"
    "refused: both signed checkpoints are written to the witness's evidence/ directory and\n"
    "the exit code is 8. Other exit codes: 1 the ledger does not verify, 5 unusable key.\n";

/* What one `cosign` run holds; released by cosign_release. */
typedef struct cosign_run {
    auditfs_signer *wkey;
    auditfs_verifier *wv, *logkey;
    auditfs_ledger *l;
    auditfs_witness_state *st;
    char *head_note, *prev, *body, *at_old, *evdir;
    size_t head_len, prev_len, body_len, at_old_len;
    auditfs_witness_result res;
    auditfs_checkpoint head, last;
    auditfs_consistency_proof proof;
    int trust_err;         /* auditfs_ledger_trust's verdict; EFORK is refused after the proof */
    char trust_ev[4096];   /* the verifier's memory's evidence directory, on EFORK */
} cosign_run;

static void
cosign_release(cosign_run *c)
{
    auditfs_witness_result_release(&c->res);
    free(c->evdir);
    free(c->at_old);
    free(c->body);
    free(c->prev);
    free(c->head_note);
    auditfs_witness_state_free(c->st);
    auditfs_ledger_free(c->l);
    auditfs_verifier_free(c->logkey);
    auditfs_verifier_free(c->wv);
    auditfs_signer_free(c->wkey);
}

/* Prints the refusal (reason, evidence directories) and returns EXIT_FORK. */
static int
cosign_refused(const char *reason, const char *evdir, const char *more)
{
    fprintf(stderr, "auditfs: cosign REFUSED: %s\nauditfs: evidence: %s%s%s\n", reason,
            evdir ? evdir : "", evdir && more && more[0] ? " and " : "", more ? more : "");
    return EXIT_FORK;
}

/*
 * The verifier's memory (auditfs/trust.h, the same state directory): the head must extend
 * every checkpoint this party verified or signed for the origin, not only the ones this
 * witness cosigned. A fork found there is refused later like one the witness state finds
 * (exit 8, evidence), before anything is signed. 0 or an exit code.
 */
static int
cosign_trust(cosign_run *c, const char *root)
{
    auditfs_state *vst = NULL;
    auditfs_trust_result tres;
    auditfs_trust_options topts = {NULL, c->logkey, 0};
    int err = auditfs_state_open(&vst, root);
    if (err)
        return cli_fail(err, "state directory");
    c->trust_err = auditfs_ledger_trust(&tres, c->l, vst, &topts);
    auditfs_state_free(vst);
    if (c->trust_err == AUDITFS_EFORK) {
        snprintf(c->trust_ev, sizeof c->trust_ev, "%s", tres.evidence);
        auditfs_error_clear();
    } else if (c->trust_err) {
        return cli_fail(c->trust_err, NULL);
    }
    return 0;
}

/*
 * What the head is checked from: the first time, the whole ledger verified (c->last.size 0);
 * afterwards the checkpoint this witness cosigned last, refused as a rollback if it is larger
 * than the head, else a consistency proof from it. 0 or an exit code.
 */
static int
cosign_base(cosign_run *c)
{
    int err = auditfs_witness_state_get(&c->prev, &c->prev_len, c->st, c->head.origin);
    if (err == AUDITFS_ENOTFOUND) {
        /* first time: everything, from the first entry */
        auditfs_verify_report r;
        if ((err = auditfs_ledger_verify(&r, c->l, c->logkey, NULL, 0)) != 0) {
            fprintf(stderr, "auditfs: cosign: the ledger does not verify: %s\n",
                    r.reason[0] ? r.reason : auditfs_error_last());
            return cli_exit_code(err);
        }
        if (r.head.size != c->head.size) {
            fprintf(stderr, "auditfs: cosign: the ledger moved during verification; run again\n");
            return EXIT_VERIFY;
        }
        c->last.size = 0;
        return 0;
    }
    if (err)
        return cli_fail(err, "witness state");
    size_t tl, off;
    if ((err = auditfs_note_split(&tl, &off, c->prev, c->prev_len)) != 0 ||
        (err = auditfs_checkpoint_parse(&c->last, c->prev, tl)) != 0)
        return cli_fail(err, "witness state");
    /* what this ledger itself signed at the remembered size, if anything (evidence) */
    if (c->last.size <= c->head.size &&
        auditfs_ledger_checkpoint_at(&c->at_old, &c->at_old_len, c->l, c->last.size) != 0) {
        c->at_old = NULL;
        auditfs_error_clear();
    }
    if (c->last.size > c->head.size) {
        char reason[512];
        snprintf(reason, sizeof reason,
                 "rollback: \"%s\" shows size %" PRIu64 " but this witness cosigned size %" PRIu64,
                 c->head.origin, c->head.size, c->last.size);
        if ((err = auditfs_witness_state_evidence(&c->evdir, c->st, c->prev, c->prev_len,
                                                  c->head_note, c->head_len, NULL, 0,
                                                  reason)) != 0)
            return cli_fail(err, "evidence");
        return cosign_refused(reason, c->evdir, NULL);
    }
    if (c->last.size > 0 && c->last.size < c->head.size &&
        (err = auditfs_ledger_prove_consistency(&c->proof, c->l, c->last.size, c->head.size)) != 0)
        return cli_fail(err, "consistency proof");
    return 0;
}

/* The verifier's memory refused the head: nothing is signed; the witness keeps evidence too. */
static int
cosign_refuse_trust(cosign_run *c)
{
    char reason[512];
    int err;
    if (c->prev && c->head.size == c->last.size)
        snprintf(reason, sizeof reason,
                 "fork: the log signed two checkpoints of size %" PRIu64
                 " with different roots for \"%s\"",
                 c->head.size, c->head.origin);
    else
        snprintf(reason, sizeof reason,
                 "fork: size %" PRIu64 " of \"%s\" does not extend the checkpoint this party "
                 "verified or signed before",
                 c->head.size, c->head.origin);
    if (c->prev && (err = auditfs_witness_state_evidence(&c->evdir, c->st, c->prev, c->prev_len,
                                                         c->head_note, c->head_len, NULL, 0,
                                                         reason)) != 0)
        return cli_fail(err, "evidence");
    return cosign_refused(reason, c->evdir, c->trust_ev);
}

/* The witness refused the head as not an extension of what it cosigned: a fork; both signed
 * checkpoints (and what the ledger signed at that size, if it differs) are evidence. */
static int
cosign_refuse_fork(cosign_run *c)
{
    char reason[512];
    int err;
    snprintf(reason, sizeof reason,
             "fork: size %" PRIu64 " of \"%s\" does not extend the size %" PRIu64
             " this witness cosigned",
             c->head.size, c->head.origin, c->last.size);
    if (!c->res.evidence) {
        int conflicting = c->at_old && (c->at_old_len != c->prev_len ||
                                        memcmp(c->at_old, c->prev, c->prev_len));
        if ((err = auditfs_witness_state_evidence(
                 &c->evdir, c->st, c->prev, c->prev_len, c->head_note, c->head_len,
                 conflicting ? c->at_old : NULL, conflicting ? c->at_old_len : 0, reason)) != 0)
            return cli_fail(err, "evidence");
    }
    return cosign_refused(reason, c->res.evidence ? c->res.evidence : c->evdir, NULL);
}

/* Checks, cosigns and stores the head for keyf (the witness) over logkeyf; an exit code. */
static int
cosign_run_all(cosign_run *c, const char *ledger, const char *keyf, const char *logkeyf,
               const char *root, uint64_t now, int no_store)
{
    int rc, err;
    if ((err = auditfs_signer_load(&c->wkey, keyf)) != 0 ||
        (err = auditfs_signer_verifier(&c->wv, c->wkey)) != 0)
        return cli_fail(err, "--key");
    if ((err = auditfs_verifier_load(&c->logkey, logkeyf)) != 0)
        return cli_fail(err, "--log-key");
    if ((rc = open_ledger_rw(&c->l, ledger)) != 0)
        return rc;
    if ((err = auditfs_ledger_check_head(&c->head, c->l, c->logkey)) != 0 ||
        (err = auditfs_ledger_checkpoint_note(&c->head_note, &c->head_len, c->l)) != 0)
        return cli_fail(err, "head checkpoint");
    if ((rc = cosign_trust(c, root)) != 0)
        return rc;
    if ((err = auditfs_witness_state_open(&c->st, root, c->wv)) != 0)
        return cli_fail(err, NULL);
    if ((rc = cosign_base(c)) != 0)
        return rc;
    if ((err = auditfs_witness_request_format(&c->body, &c->body_len, c->last.size, &c->proof,
                                              c->head_note, c->head_len)) != 0)
        return cli_fail(err, NULL);
    if (c->trust_err == AUDITFS_EFORK)
        return cosign_refuse_trust(c);
    auditfs_witness_log log = {c->head.origin, c->logkey};
    if ((err = auditfs_witness_add_checkpoint(&c->res, c->st, c->wkey, &log, 1, c->body,
                                              c->body_len, now)) != 0)
        return cli_fail(err, "witness state");
    if (c->res.fork || (c->res.status == 422 && c->prev))
        return cosign_refuse_fork(c);
    if (c->res.status != 200) {
        fprintf(stderr, "auditfs: cosign refused (%d): ", c->res.status);
        put_escaped(stderr, c->res.body, c->res.body_len);
        fputc('\n', stderr);
        return EXIT_VERIFY;
    }
    fwrite(c->res.body, 1, c->res.body_len, stdout);
    fflush(stdout);
    if (!no_store) {
        int changed = 0;
        if (auditfs_cosig_store_add(&changed, c->l, c->head.size, c->res.body, c->res.body_len,
                                    c->wv) != 0)
            fprintf(stderr,
                    "auditfs: cosign: cosignature not stored with the ledger (%s); send the line "
                    "above to the provider (auditfs cosignatures add)\n",
                    auditfs_error_last());
    }
    return 0;
}

static int
cmd_cosign(int argc, char **argv)
{
    const char *ledger = NULL, *keyf = NULL, *logkeyf = NULL, *stateopt = NULL, *when = NULL;
    int no_store = 0, c;
    static const struct option opts[] = {{"ledger", required_argument, 0, 'l'},
                                         {"key", required_argument, 0, 'k'},
                                         {"log-key", required_argument, 0, 'L'},
                                         {"state", required_argument, 0, 's'},
                                         {"no-store", no_argument, 0, 'n'},
                                         {"time", required_argument, 0, 't'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'l': ledger = optarg; break;
        case 'k': keyf = optarg; break;
        case 'L': logkeyf = optarg; break;
        case 's': stateopt = optarg; break;
        case 'n': no_store = 1; break;
        case 't': when = optarg; break;
        case 'h': fputs(cosign_help, stdout); return 0;
        default: return EXIT_USAGE;
        }
    }
    if (optind != argc)
        return cli_usage_error("cosign takes no arguments");
    if (!keyf || !logkeyf)
        return cli_usage_error("--key WITNESS.key and --log-key LOG.pub are required");
    char sbuf[4096];
    const char *root = state_root(stateopt, sbuf, sizeof sbuf);
    if (!root)
        return cli_usage_error("no state directory: set AUDITFS_STATE or give --state DIR");
    uint64_t now = (uint64_t)time(NULL);
    if (when && cli_parse_u64(&now, when, "--time"))
        return EXIT_USAGE;
    cosign_run run;
    memset(&run, 0, sizeof run);
    int rc = cosign_run_all(&run, ledger, keyf, logkeyf, root, now, no_store);
    cosign_release(&run);
    return rc;
}

/* ---- auditfs cosignatures add ---- */

static const char cosignatures_help[] =
    "usage: auditfs cosignatures add [--ledger DIR] --witness KEY.pub... FILE...\n"
    "       auditfs cosignatures list [--ledger DIR]\n"
    "\n"
    "add: each FILE is a cosigned checkpoint (the checkpoint note with cosignature lines, as a\n"
    "witness returns or mails it). Its text must be a checkpoint this ledger committed, and each\n"
    "line by one of the given witness keys must verify against it; those lines are stored on\n"
    "refs/auditfs/cosignatures. Lines by other keys are reported and ignored. A FILE that is not\n"
    "this ledger's checkpoint of that size (a split view) is refused with exit 1.\n"
    "list: prints every stored cosigned checkpoint, oldest size first.\n";

static int
cosignatures_list(auditfs_ledger *l)
{
    uint64_t *sizes = NULL;
    size_t n = 0;
    int err = auditfs_cosig_store_sizes(&sizes, &n, l);
    if (err)
        return cli_fail(err, "cosignatures");
    for (size_t i = 0; i < n; i++) {
        char *note = NULL;
        size_t len = 0;
        if ((err = auditfs_cosig_store_checkpoint(&note, &len, l, sizes[i])) != 0) {
            free(sizes);
            return cli_fail(err, "cosignatures");
        }
        fwrite(note, 1, len, stdout);
        if (i + 1 < n)
            fputc('\n', stdout);
        free(note);
    }
    free(sizes);
    return 0;
}

/* cosignatures add: the cosignatures by the witnesses ws in the checkpoint file path, stored
 * when the checkpoint is the one this ledger committed at its size. 0 or an exit code. */
static int
cosignatures_add_file(auditfs_ledger *l, const char *path, auditfs_verifier *const *ws,
                      size_t nw)
{
    uint8_t *note = NULL;
    char *cp = NULL;
    size_t len = 0, cplen = 0, tl, off, ctl, coff, stored = 0;
    auditfs_checkpoint parsed;
    int rc = 0, err;
    if ((err = auditfs_read_file(&note, &len, path, AUDITFS_NOTE_MAX_BYTES)) != 0 ||
        (err = auditfs_note_split(&tl, &off, (const char *)note, len)) != 0 ||
        (err = auditfs_checkpoint_parse(&parsed, (const char *)note, tl)) != 0) {
        rc = cli_fail(err, path);
        goto cleanup;
    }
    err = auditfs_ledger_checkpoint_at(&cp, &cplen, l, parsed.size);
    if (err || auditfs_note_split(&ctl, &coff, cp, cplen) != 0 || ctl != tl ||
        memcmp(cp, note, tl) != 0) {
        fprintf(stderr,
                "auditfs: %s: checkpoint of size %" PRIu64
                " is not the one this ledger committed (a split view, or another ledger)\n",
                path, parsed.size);
        rc = EXIT_VERIFY;
        goto cleanup;
    }
    for (size_t i = 0; i < nw; i++) {
        char *lines = NULL;
        size_t ln = 0;
        int changed = 0;
        if ((err = witness_lines(&lines, &ln, (const char *)note, len, ws[i])) == 0 && ln)
            err = auditfs_cosig_store_add(&changed, l, parsed.size, lines, ln, ws[i]);
        free(lines);
        if (err) {
            rc = cli_fail(err, path);
            goto cleanup;
        }
        if (ln == 0)
            continue;
        stored++;
        printf("%s: cosignature by %s for size %" PRIu64 " %s\n", path,
               auditfs_verifier_name(ws[i]), parsed.size, changed ? "stored" : "already stored");
    }
    if (stored == 0) {
        fprintf(stderr, "auditfs: %s: no cosignature by any of the given witness keys\n", path);
        rc = EXIT_VERIFY;
    }
cleanup:
    free(cp);
    free(note);
    return rc;
}

static int
cmd_cosignatures(int argc, char **argv)
{
    const char *ledger = NULL, *wkeys[MAX_KEYS];
    size_t nw = 0;
    int c, rc = 0, err;
    static const struct option opts[] = {{"ledger", required_argument, 0, 'l'},
                                         {"witness", required_argument, 0, 'w'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    if (argc < 2 || (strcmp(argv[1], "add") && strcmp(argv[1], "list"))) {
        if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
            fputs(cosignatures_help, stdout);
            return 0;
        }
        return cli_usage_error("usage: auditfs cosignatures add|list ...");
    }
    int add = !strcmp(argv[1], "add");
    argc--;
    argv++;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'l': ledger = optarg; break;
        case 'w':
            if (nw == MAX_KEYS)
                return cli_usage_error("at most %d --witness keys", MAX_KEYS);
            wkeys[nw++] = optarg;
            break;
        case 'h': fputs(cosignatures_help, stdout); return 0;
        default: return EXIT_USAGE;
        }
    }
    auditfs_ledger *l = NULL;
    /* list reads the ledger: the verifier's memory first (the pinned key); add checks each
     * file against the ledger's own checkpoints */
    if ((rc = add ? open_ledger_rw(&l, ledger) : cli_open_trusted(&l, NULL, ledger, NULL, NULL)) !=
        0)
        return rc;
    if (!add) {
        rc = cosignatures_list(l);
        auditfs_ledger_free(l);
        return rc;
    }
    if (nw == 0 || optind == argc) {
        auditfs_ledger_free(l);
        return cli_usage_error("cosignatures add needs --witness KEY.pub and FILE arguments");
    }
    auditfs_verifier *ws[MAX_KEYS] = {0};
    for (size_t i = 0; i < nw; i++)
        if ((err = auditfs_cosig_verifier_load(&ws[i], wkeys[i])) != 0) {
            rc = cli_fail(err, "--witness");
            goto cleanup;
        }
    for (int a = optind; a < argc && !rc; a++)
        rc = cosignatures_add_file(l, argv[a], ws, nw);
cleanup:
    for (size_t i = 0; i < nw; i++)
        auditfs_verifier_free(ws[i]);
    auditfs_ledger_free(l);
    return rc;
}

/* ---- auditfs witness serve ---- */

static const char witness_help[] =
    "usage: auditfs witness serve --key WITNESS.key --listen 127.0.0.1:PORT\n"
    "                             --log ORIGIN=LOG.pub... [--state DIR] [--rate N]\n"
    "       auditfs witness request [--ledger DIR] --witness URL=KEY.pub... [--timeout S]\n"
    "\n"
    "serve: the C2SP tlog-witness HTTP API. POST /add-checkpoint with \"old <size>\", the\n"
    "consistency proof lines, a blank line and the signed checkpoint; answers 200 with a\n"
    "cosignature line, 409 with the witness's size (text/x.tlog.size) for a stale old size or a\n"
    "conflicting root, 404 unknown log, 403 bad signature, 400 malformed, 422 bad proof, 413\n"
    "body over 72 KiB, 429 over\n"
    "the per-log rate (--rate requests per minute, default 60, bursts of 10). The new state is\n"
    "fsynced before the cosignature is sent. Port 0 picks a free port; the first line printed\n"
    "is \"listening on ADDR:PORT\". Stops on SIGTERM or SIGINT.\n"
    "\n"
    "request: sends the ledger's newest checkpoint with a consistency proof from each witness's\n"
    "size, as remembered in the state directory ($AUDITFS_STATE/origins/ORIGIN/witnesses/) from\n"
    "its last answer (a missing or wrong memory costs one 409, which teaches the size), to every\n"
    "URL, checks each returned cosignature with KEY.pub and\n"
    "stores it with the ledger. A witness that refuses is reported with its status and reason;\n"
    "exit 1 if any refused, 4 if any could not be reached, 0 if all cosigned.\n";

struct bucket {
    double tokens;
    struct timespec last;
};

struct server {
    auditfs_witness_state *st;
    auditfs_signer *key;
    auditfs_witness_log logs[MAX_KEYS];
    auditfs_verifier *logkeys[MAX_KEYS];
    char *origins[MAX_KEYS];
    struct bucket buckets[MAX_KEYS];
    size_t nlogs;
    double rate_per_s, burst;
    pthread_mutex_t mu;
};

struct request {
    char *buf;
    size_t len, cap;
    int too_big;
};

/* 1 if a request for log i may proceed now (token bucket). Called under mu. */
static int
take_token(struct server *s, size_t i)
{
    struct timespec now;
    struct bucket *b = &s->buckets[i];
    clock_gettime(CLOCK_MONOTONIC, &now);
    double dt = (double)(now.tv_sec - b->last.tv_sec) + (double)(now.tv_nsec - b->last.tv_nsec) / 1e9;
    b->last = now;
    b->tokens += dt * s->rate_per_s;
    if (b->tokens > s->burst)
        b->tokens = s->burst;
    if (b->tokens < 1.0)
        return 0;
    b->tokens -= 1.0;
    return 1;
}

/* The log a body names (its checkpoint's first line), or -1: a cheap look before any crypto. */
static int
find_log(const struct server *s, const char *body, size_t len)
{
    const char *sep = NULL;
    for (size_t i = 0; i + 1 < len; i++)
        if (body[i] == '\n' && body[i + 1] == '\n') {
            sep = body + i + 2;
            break;
        }
    if (!sep)
        return -1;
    const char *nl = memchr(sep, '\n', len - (size_t)(sep - body));
    if (!nl)
        return -1;
    size_t n = (size_t)(nl - sep);
    for (size_t i = 0; i < s->nlogs; i++)
        if (strlen(s->origins[i]) == n && memcmp(s->origins[i], sep, n) == 0)
            return (int)i;
    return -1;
}

static enum MHD_Result
send_reply(struct MHD_Connection *c, unsigned status, const char *ctype, const char *body,
           size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", ctype);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result
send_text(struct MHD_Connection *c, unsigned status, const char *text)
{
    return send_reply(c, status, "text/plain; charset=utf-8", text, strlen(text));
}

static void
log_request(const auditfs_witness_result *r)
{
    fprintf(stderr, "witness: add-checkpoint %s old %" PRIu64 " size %" PRIu64 ": %d%s%s\n",
            r->origin[0] ? r->origin : "?", r->old_size, r->new_size, r->status,
            r->fork ? " FORK, evidence " : "", r->fork && r->evidence ? r->evidence : "");
}

/*
 * libmicrohttpd calls this once with the headers, then once per body chunk, then once more
 * with *upload_data_size == 0, when the reply is queued. The body never exceeds
 * AUDITFS_WITNESS_MAX_BODY in memory: larger requests are answered 413 without reading on.
 */
static enum MHD_Result
handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
       const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    struct server *s = cls;
    struct request *rq = *con_cls;
    (void)version;
    if (!rq) {
        if (strcmp(url, "/add-checkpoint") != 0)
            return send_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
        if (strcmp(method, "POST") != 0)
            return send_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "use POST\n");
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > AUDITFS_WITNESS_MAX_BODY)
            return send_text(c, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large\n");
        if ((rq = calloc(1, sizeof *rq)) == NULL)
            return MHD_NO;
        *con_cls = rq;
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (rq->too_big || rq->len + n > AUDITFS_WITNESS_MAX_BODY) {
            rq->too_big = 1;
            return MHD_YES;
        }
        if (rq->len + n > rq->cap) {
            size_t nc = rq->cap ? rq->cap : 4096;
            while (nc < rq->len + n)
                nc *= 2;
            char *nb = realloc(rq->buf, nc);
            if (!nb)
                return MHD_NO;
            rq->buf = nb;
            rq->cap = nc;
        }
        memcpy(rq->buf + rq->len, upload, n);
        rq->len += n;
        return MHD_YES;
    }
    if (rq->too_big)
        return send_text(c, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large\n");
    pthread_mutex_lock(&s->mu);
    int li = find_log(s, rq->buf ? rq->buf : "", rq->len);
    if (li >= 0 && !take_token(s, (size_t)li)) {
        pthread_mutex_unlock(&s->mu);
        fprintf(stderr, "witness: add-checkpoint %s: 429 rate limited\n", s->origins[li]);
        return send_text(c, MHD_HTTP_TOO_MANY_REQUESTS, "rate limited\n");
    }
    auditfs_witness_result r;
    int err = auditfs_witness_add_checkpoint(&r, s->st, s->key, s->logs, s->nlogs,
                                             rq->buf ? rq->buf : "", rq->len,
                                             (uint64_t)time(NULL));
    pthread_mutex_unlock(&s->mu);
    if (err) {
        fprintf(stderr, "witness: state error, nothing cosigned: %s\n", auditfs_error_last());
        return send_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "witness state error\n");
    }
    log_request(&r);
    const char *ctype = r.status == 409   ? "text/x.tlog.size"
                        : r.status == 200 ? "text/x.tlog.signature"
                                          : "text/plain; charset=utf-8";
    enum MHD_Result ret = send_reply(c, (unsigned)r.status, ctype, r.body, r.body_len);
    auditfs_witness_result_release(&r);
    return ret;
}

static void
completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode t)
{
    struct request *rq = *con_cls;
    (void)cls;
    (void)c;
    (void)t;
    if (rq) {
        free(rq->buf);
        free(rq);
        *con_cls = NULL;
    }
}

static int
parse_listen(struct sockaddr_in *sa, const char *s)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    if (!colon || (size_t)(colon - s) >= sizeof host)
        return -1;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = 0;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535)
        return -1;
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

/* --log ORIGIN=KEY.pub: one more log this witness cosigns for. 0 or an exit code. */
static int
server_add_log(struct server *s, const char *arg)
{
    const char *eq = strrchr(arg, '=');
    int err;
    if (!eq || eq == arg)
        return cli_usage_error("--log wants ORIGIN=KEY.pub, not '%s'", arg);
    if (s->nlogs == MAX_KEYS)
        return cli_usage_error("at most %d logs", MAX_KEYS);
    size_t i = s->nlogs;
    s->origins[i] = strndup(arg, (size_t)(eq - arg));
    if ((err = auditfs_verifier_load(&s->logkeys[i], eq + 1)) != 0) {
        free(s->origins[i]);
        return cli_fail(err, "--log");
    }
    s->logs[i].origin = s->origins[i];
    s->logs[i].key = s->logkeys[i];
    s->nlogs++;
    return 0;
}

/* --rate N (requests a minute per log, default 60) and a full bucket of 10 for each log. */
static int
server_rate(struct server *s, const char *rate)
{
    s->rate_per_s = 1.0;
    if (rate) {
        uint64_t r;
        if (cli_parse_u64(&r, rate, "--rate") || r == 0)
            return EXIT_USAGE;
        s->rate_per_s = (double)r / 60.0;
    }
    s->burst = 10;
    for (size_t i = 0; i < s->nlogs; i++) {
        s->buckets[i].tokens = s->burst;
        clock_gettime(CLOCK_MONOTONIC, &s->buckets[i].last);
    }
    return 0;
}

/* Serves the tlog-witness API on sa until SIGINT or SIGTERM; *dp is the daemon (the caller
 * stops it). 0 or an exit code. */
static int
serve_until_signal(struct MHD_Daemon **dp, struct server *s, struct sockaddr_in *sa,
                   const char *listen_at, const auditfs_verifier *wv)
{
    struct MHD_Daemon *d;
    /* the serving thread inherits this mask, so only sigwait below sees the signals */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                         handle, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)sa,
                         MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
                         MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)16,
                         MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
                         MHD_OPTION_NOTIFY_COMPLETED, completed, s, MHD_OPTION_END);
    *dp = d;
    if (!d) {
        fprintf(stderr, "auditfs: witness serve: cannot listen on %s\n", listen_at);
        return EXIT_IO;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    char addr[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &sa->sin_addr, addr, sizeof addr);
    printf("listening on %s:%u\n", addr, info ? (unsigned)info->port : 0u);
    fflush(stdout);
    char *vk = NULL;
    if (auditfs_cosig_verifier_format(&vk, wv) == 0)
        fprintf(stderr, "witness: key %s, state %s\n", vk, auditfs_witness_state_dir(s->st));
    free(vk);
    int sig = 0;
    sigwait(&set, &sig);
    fprintf(stderr, "witness: stopping (signal %d)\n", sig);
    return 0;
}

static int
witness_serve(int argc, char **argv)
{
    const char *keyf = NULL, *listen_at = NULL, *stateopt = NULL, *rate = NULL;
    struct server *s = calloc(1, sizeof *s);
    struct MHD_Daemon *d = NULL;
    auditfs_verifier *wv = NULL;
    int c, rc = 0, err;
    static const struct option opts[] = {{"key", required_argument, 0, 'k'},
                                         {"listen", required_argument, 0, 'a'},
                                         {"log", required_argument, 0, 'L'},
                                         {"state", required_argument, 0, 's'},
                                         {"rate", required_argument, 0, 'r'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    if (!s)
        return cli_fail(AUDITFS_ENOMEM, NULL);
    pthread_mutex_init(&s->mu, NULL);
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'k': keyf = optarg; break;
        case 'a': listen_at = optarg; break;
        case 's': stateopt = optarg; break;
        case 'r': rate = optarg; break;
        case 'h': fputs(witness_help, stdout); goto cleanup;
        case 'L':
            if ((rc = server_add_log(s, optarg)) != 0)
                goto cleanup;
            break;
        default: rc = EXIT_USAGE; goto cleanup;
        }
    }
    struct sockaddr_in sa;
    if (!keyf || !listen_at || s->nlogs == 0) {
        rc = cli_usage_error("witness serve needs --key, --listen and at least one --log");
        goto cleanup;
    }
    if (parse_listen(&sa, listen_at) != 0) {
        rc = cli_usage_error("--listen: '%s' is not IPV4:PORT", listen_at);
        goto cleanup;
    }
    if ((rc = server_rate(s, rate)) != 0)
        goto cleanup;
    char sbuf[4096];
    const char *root = state_root(stateopt, sbuf, sizeof sbuf);
    if (!root) {
        rc = cli_usage_error("no state directory: set AUDITFS_STATE or give --state DIR");
        goto cleanup;
    }
    if ((err = auditfs_signer_load(&s->key, keyf)) != 0 ||
        (err = auditfs_signer_verifier(&wv, s->key)) != 0) {
        rc = cli_fail(err, "--key");
        goto cleanup;
    }
    if ((err = auditfs_witness_state_open(&s->st, root, wv)) != 0) {
        rc = cli_fail(err, NULL);
        goto cleanup;
    }
    rc = serve_until_signal(&d, s, &sa, listen_at, wv);
cleanup:
    if (d)
        MHD_stop_daemon(d);
    auditfs_witness_state_free(s->st);
    auditfs_signer_free(s->key);
    auditfs_verifier_free(wv);
    for (size_t i = 0; i < s->nlogs; i++) {
        auditfs_verifier_free(s->logkeys[i]);
        free(s->origins[i]);
    }
    pthread_mutex_destroy(&s->mu);
    free(s);
    return rc;
}

/* ---- auditfs witness request ---- */

struct response {
    char *buf;
    size_t len;
    int too_big;
};

static size_t
on_data(char *p, size_t size, size_t nmemb, void *ud)
{
    struct response *r = ud;
    size_t n = size * nmemb;
    if (r->too_big || r->len + n > 65536) {
        r->too_big = 1;
        return 0; /* aborts the transfer */
    }
    char *nb = realloc(r->buf, r->len + n + 1);
    if (!nb)
        return 0;
    r->buf = nb;
    memcpy(r->buf + r->len, p, n);
    r->len += n;
    r->buf[r->len] = 0;
    return n;
}

/* POSTs body to url; *status the HTTP status, resp the body. 0 or -1 (transport error). */
static int
post(long *status, struct response *resp, const char *url, const char *body, size_t len,
     long timeout, char errbuf[CURL_ERROR_SIZE])
{
    CURL *h = curl_easy_init();
    struct curl_slist *hdr = NULL;
    int rc = -1;
    memset(resp, 0, sizeof *resp);
    errbuf[0] = 0;
    if (!h) {
        snprintf(errbuf, CURL_ERROR_SIZE, "curl_easy_init failed");
        return -1;
    }
    hdr = curl_slist_append(hdr, "Content-Type: text/plain; charset=utf-8");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_USERAGENT, "auditfs/" AUDITFS_VERSION);
    if (curl_easy_perform(h) == CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
        rc = 0;
    } else if (!errbuf[0]) {
        snprintf(errbuf, CURL_ERROR_SIZE, "transfer failed");
    }
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    return rc;
}

/* The size a witness answered 409 with (the size it cosigned last): 0 with *old set, or
 * EXIT_VERIFY (printed) if the body is not a size or the size is beyond ours. */
static int
their_size(uint64_t *old, const struct response *r, const char *url, uint64_t ours)
{
    uint64_t their = 0;
    size_t n = r->len;
    char tmp[32];
    if (n && r->buf[n - 1] == '\n')
        n--;
    if (n == 0 || n >= sizeof tmp) {
        fprintf(stderr, "auditfs: witness %s: 409 without a size\n", url);
        return EXIT_VERIFY;
    }
    memcpy(tmp, r->buf, n);
    tmp[n] = 0;
    if (cli_parse_u64(&their, tmp, "witness size"))
        return EXIT_VERIFY;
    if (their > ours) {
        fprintf(stderr,
                "auditfs: witness %s: REFUSED: it has cosigned size %" PRIu64
                ", beyond our %" PRIu64 " (a rollback or split view)\n",
                url, their, ours);
        return EXIT_VERIFY;
    }
    *old = their;
    return 0;
}

/* One witness: at most two attempts (the second after learning its size from a 409). Returns
 * 0 cosigned and stored, EXIT_VERIFY refused, EXIT_IO unreachable. */
static int
request_one(FILE *out, auditfs_ledger *l, const auditfs_checkpoint *head, const char *note,
            size_t note_len, const char *url, const auditfs_verifier *wk, long timeout,
            auditfs_state *st)
{
    uint64_t old = 0;
    /* the size this witness last cosigned, as remembered: the right old size and proof the
     * first time; a stale or wrong one costs the 409 round trip below, nothing more */
    if (st && auditfs_witness_size_get(&old, st, head->origin, wk) != 0)
        old = 0;
    if (old > head->size)
        old = 0;
    auditfs_error_clear();
    char errbuf[CURL_ERROR_SIZE];
    char full[2048];
    size_t ul = strlen(url);
    snprintf(full, sizeof full, "%s%s", url,
             ul >= 15 && !strcmp(url + ul - 15, "/add-checkpoint") ? ""
             : url[ul ? ul - 1 : 0] == '/'                         ? "add-checkpoint"
                                                                   : "/add-checkpoint");
    for (int attempt = 0; attempt < 2; attempt++) {
        auditfs_consistency_proof proof;
        char *body = NULL;
        size_t blen = 0;
        int err;
        memset(&proof, 0, sizeof proof);
        if (old > 0 && old < head->size &&
            (err = auditfs_ledger_prove_consistency(&proof, l, old, head->size)) != 0)
            return cli_fail(err, "consistency proof");
        if ((err = auditfs_witness_request_format(&body, &blen, old, &proof, note, note_len)) != 0)
            return cli_fail(err, NULL);
        long status = 0;
        struct response r;
        int trc = post(&status, &r, full, body, blen, timeout, errbuf);
        free(body);
        if (trc != 0) {
            fprintf(stderr, "auditfs: witness %s: unreachable: ", url);
            put_escaped(stderr, errbuf, strlen(errbuf));
            fputc('\n', stderr);
            free(r.buf);
            return EXIT_IO;
        }
        if (status == 409 && attempt == 1) {
            /* the same size back: it cosigned another root for it (two checkpoints of one
             * size); another size: it moved on while we asked */
            char want[32];
            snprintf(want, sizeof want, "%" PRIu64 "\n", old);
            if (r.buf && strcmp(r.buf, want) == 0)
                fprintf(stderr,
                        "auditfs: witness %s: REFUSED (409): it cosigned a different checkpoint "
                        "of size %" PRIu64 ": a fork or split view\n",
                        url, old);
            else
                fprintf(stderr, "auditfs: witness %s: REFUSED (409): its size changed while we "
                                "asked; run again\n", url);
            free(r.buf);
            return EXIT_VERIFY;
        }
        if (status == 409 && attempt == 0) {
            int rc = their_size(&old, &r, url, head->size);
            free(r.buf);
            if (rc)
                return rc;
            if (st && auditfs_witness_size_put(st, head->origin, wk, old) != 0)
                auditfs_error_clear(); /* only a hint: the retry below does not need it */
            continue;
        }
        if (status != 200) {
            fprintf(stderr, "auditfs: witness %s: REFUSED (%ld): ", url, status);
            put_escaped(stderr, r.buf ? r.buf : "", r.len);
            fputc('\n', stderr);
            free(r.buf);
            return EXIT_VERIFY;
        }
        int changed = 0;
        err = auditfs_cosig_store_add(&changed, l, head->size, r.buf ? r.buf : "", r.len, wk);
        if (err) {
            fprintf(stderr, "auditfs: witness %s: its reply is not a valid cosignature by %s: %s\n",
                    url, auditfs_verifier_name(wk), auditfs_error_last());
            free(r.buf);
            return err == AUDITFS_EIO ? EXIT_IO : EXIT_VERIFY;
        }
        fprintf(out, "witness %s (%s): cosigned size %" PRIu64 "\n", auditfs_verifier_name(wk),
                url, head->size);
        free(r.buf);
        if (st && auditfs_witness_size_put(st, head->origin, wk, head->size) != 0) {
            fprintf(stderr, "auditfs: witness %s: cannot remember its size: %s\n", url,
                    auditfs_error_last());
        }
        return 0;
    }
    fprintf(stderr, "auditfs: witness %s: still 409 after learning its size\n", url);
    return EXIT_VERIFY;
}

static int
witness_request(int argc, char **argv)
{
    const char *ledger = NULL, *specs[MAX_KEYS];
    size_t n = 0;
    long timeout = 30;
    int c;
    static const struct option opts[] = {{"ledger", required_argument, 0, 'l'},
                                         {"witness", required_argument, 0, 'w'},
                                         {"timeout", required_argument, 0, 't'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'l': ledger = optarg; break;
        case 'w':
            if (n == MAX_KEYS)
                return cli_usage_error("at most %d witnesses", MAX_KEYS);
            specs[n++] = optarg;
            break;
        case 't': {
            uint64_t t;
            if (cli_parse_u64(&t, optarg, "--timeout") || t == 0 || t > 3600)
                return EXIT_USAGE;
            timeout = (long)t;
            break;
        }
        case 'h': fputs(witness_help, stdout); return 0;
        default: return EXIT_USAGE;
        }
    }
    if (n == 0 || optind != argc)
        return cli_usage_error("witness request needs --witness URL=KEY.pub (repeatable)");
    return cli_witness_request(stdout, ledger, specs, n, timeout);
}

int
cli_witness_request(FILE *out, const char *ledger, const char *const *specs, size_t n,
                    long timeout)
{
    int rc = 0, err;
    auditfs_ledger *l = NULL;
    char *note = NULL;
    size_t len = 0;
    auditfs_checkpoint head;
    if ((rc = open_ledger_rw(&l, ledger)) != 0)
        return rc;
    if ((err = auditfs_ledger_head(&head, l)) != 0 ||
        (err = auditfs_ledger_checkpoint_note(&note, &len, l)) != 0) {
        rc = cli_fail(err, "head checkpoint");
        goto cleanup;
    }
    /* the provider's memory of its witnesses' sizes (optional: without it, 409 teaches them) */
    auditfs_state *st = NULL;
    if (auditfs_state_open(&st, NULL) != 0) {
        auditfs_error_clear();
        st = NULL;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int refused = 0, unreachable = 0;
    for (size_t i = 0; i < n; i++) {
        /* URL=KEY: the key file is after the last '=' (URLs may hold '=' in a query) */
        const char *eq = strrchr(specs[i], '=');
        if (!eq || eq == specs[i]) {
            rc = cli_usage_error("--witness wants URL=KEY.pub, not '%s'", specs[i]);
            goto cleanup_curl;
        }
        char url[1024];
        snprintf(url, sizeof url, "%.*s", (int)(eq - specs[i]), specs[i]);
        auditfs_verifier *wk = NULL;
        if ((err = auditfs_cosig_verifier_load(&wk, eq + 1)) != 0) {
            rc = cli_fail(err, "--witness");
            goto cleanup_curl;
        }
        int r = request_one(out, l, &head, note, len, url, wk, timeout, st);
        auditfs_verifier_free(wk);
        refused += r == EXIT_VERIFY;
        unreachable += r != 0 && r != EXIT_VERIFY;
    }
    rc = unreachable ? EXIT_IO : refused ? EXIT_VERIFY : 0;
cleanup_curl:
    curl_global_cleanup();
    auditfs_state_free(st);
cleanup:
    free(note);
    auditfs_ledger_free(l);
    return rc;
}

static int
cmd_witness(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "serve"))
        return witness_serve(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "request"))
        return witness_request(argc - 1, argv + 1);
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fputs(witness_help, stdout);
        return 0;
    }
    return cli_usage_error("usage: auditfs witness serve|request ...");
}

/* ---- auditfs acks ---- */

static const char acks_help[] =
    "usage: auditfs acks [--ledger DIR] (--witness KEY.pub... | --policy FILE) [--tenant T]\n"
    "                    [--key LOG.pub] [--json]\n"
    "\n"
    "Receipts: for every notice and document (SLA) version, which witnesses (customers,\n"
    "assessors) cosigned a checkpoint that includes it, when (the earliest such cosignature's\n"
    "time), how long after publication, and who has not yet. With --tenant, only entries for\n"
    "that tenant and entries without a tenant. With --key, every stored checkpoint's log\n"
    "signature is checked too. --json prints one object per notice or version.\n";

/* Prints each receipt as the library formats it (auditfs_receipt_format). */
struct acks_print {
    FILE *out;
    int json;
    const char *lname;
    size_t records;
};

static int
acks_print_one(void *ctx, const auditfs_receipt *r)
{
    struct acks_print *ap = ctx;
    char *text = NULL;
    size_t len = 0;
    int err = auditfs_receipt_format(&text, &len, r, ap->json, ap->lname);
    if (err)
        return err;
    fwrite(text, 1, len, ap->out);
    free(text);
    ap->records++;
    return 0;
}

/* The receipts of l up to size on out (text, or JSON lines); 0 or an auditfs error code. */
static int
acks_emit(FILE *out, int json, auditfs_ledger *l, uint64_t size, const auditfs_policy *p,
          const char *tenant, const auditfs_verifier *logkey, const char *origin)
{
    struct acks_print ap = {out, json, NULL, 0};
    int err = auditfs_receipts_run(l, size, p, tenant, logkey, origin, acks_print_one, &ap);
    if (!err && !json && ap.records == 0)
        fprintf(out, "no notices or documents%s%s\n", tenant ? " for tenant " : "",
                tenant ? tenant : "");
    return err;
}

static int
cmd_acks(int argc, char **argv)
{
    const char *ledger = NULL, *policyf = NULL, *tenant = NULL, *logkeyf = NULL;
    const char *wkeys[MAX_KEYS];
    size_t nk = 0;
    int json = 0, c, rc = 0, err;
    static const struct option opts[] = {{"ledger", required_argument, 0, 'l'},
                                         {"witness", required_argument, 0, 'w'},
                                         {"policy", required_argument, 0, 'P'},
                                         {"tenant", required_argument, 0, 'T'},
                                         {"key", required_argument, 0, 'k'},
                                         {"json", no_argument, 0, 'J'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'l': ledger = optarg; break;
        case 'w':
            if (nk == MAX_KEYS)
                return cli_usage_error("at most %d --witness keys", MAX_KEYS);
            wkeys[nk++] = optarg;
            break;
        case 'P': policyf = optarg; break;
        case 'T': tenant = optarg; break;
        case 'k': logkeyf = optarg; break;
        case 'J': json = 1; break;
        case 'h': fputs(acks_help, stdout); return 0;
        default: return EXIT_USAGE;
        }
    }
    if (optind != argc || (!nk && !policyf) || (nk && policyf))
        return cli_usage_error("acks needs either --witness KEY.pub... or --policy FILE");
    auditfs_policy *p = NULL;
    auditfs_verifier *keys[MAX_KEYS] = {0}, *logkey = NULL;
    auditfs_ledger *l = NULL;
    if (policyf) {
        if ((err = auditfs_policy_load(&p, policyf)) != 0)
            return cli_fail(err, "--policy");
    } else {
        for (size_t i = 0; i < nk; i++)
            if ((err = auditfs_cosig_verifier_load(&keys[i], wkeys[i])) != 0) {
                rc = cli_fail(err, "--witness");
                goto cleanup;
            }
        if ((err = auditfs_policy_threshold(&p, keys, nk, 0)) != 0) {
            rc = cli_fail(err, "--witness");
            goto cleanup;
        }
    }
    if (logkeyf && (err = auditfs_verifier_load(&logkey, logkeyf)) != 0) {
        rc = cli_fail(err, "--key");
        goto cleanup;
    }
    /* the verifier's memory first: the head with the pinned key (or --key, pinned on first
     * use) and that it extends what this party saw */
    if ((rc = cli_open_trusted(&l, NULL, ledger, logkeyf, NULL)) != 0)
        goto cleanup;
    auditfs_checkpoint head;
    if ((err = logkey ? auditfs_ledger_check_head(&head, l, logkey) : auditfs_ledger_head(&head, l)) !=
        0) {
        rc = cli_fail(err, "ledger");
        goto cleanup;
    }
    if ((err = acks_emit(stdout, json, l, head.size, p, tenant, logkey, head.origin)) != 0)
        rc = cli_fail(err, "acks");
cleanup:
    auditfs_ledger_free(l);
    auditfs_verifier_free(logkey);
    for (size_t i = 0; i < MAX_KEYS; i++)
        auditfs_verifier_free(keys[i]);
    auditfs_policy_free(p);
    return rc;
}

/* ---- registration (cli/main.c's commands[] table) ---- */

int
cmd_cosign_main(int argc, char **argv)
{
    return cmd_cosign(argc, argv);
}

int
cmd_cosignatures_main(int argc, char **argv)
{
    return cmd_cosignatures(argc, argv);
}

int
cmd_witness_main(int argc, char **argv)
{
    return cmd_witness(argc, argv);
}

int
cmd_acks_main(int argc, char **argv)
{
    return cmd_acks(argc, argv);
}
