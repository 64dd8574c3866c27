/*
 * cli/main.c - the auditfs command: argument parsing, output and exit codes over the library.
 */
#include "cli.h"
#include "auditfs/witness.h"

#include "auditfs/trust.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

/* ---- shared helpers ---- */

int
cli_exit_code(int err)
{
    switch (err) {
    case AUDITFS_OK: return EXIT_OK;
    case AUDITFS_EVERIFY: return EXIT_VERIFY;
    case AUDITFS_EINVAL: return EXIT_USAGE;
    case AUDITFS_EFORMAT:
    case AUDITFS_ETOOBIG: return EXIT_DATA;
    case AUDITFS_EKEY: return EXIT_KEY;
    case AUDITFS_EBUSY: return EXIT_BUSY;
    case AUDITFS_ENOTFOUND: return EXIT_NOTFOUND;
    case AUDITFS_EFORK: return EXIT_FORK;
    default: return EXIT_IO;
    }
}

int
cli_errno_exit(int errnum)
{
    return errnum == ENOENT || errnum == ENOTDIR ? EXIT_NOTFOUND : EXIT_IO;
}

int
cli_fail(int err, const char *context)
{
    const char *msg = auditfs_error_last();
    if (context)
        fprintf(stderr, "auditfs: %s: %s\n", context, msg[0] ? msg : auditfs_error_name(err));
    else
        fprintf(stderr, "auditfs: %s\n", msg[0] ? msg : auditfs_error_name(err));
    return cli_exit_code(err);
}

int
cli_usage_error(const char *fmt, ...)
{
    va_list ap;
    fputs("auditfs: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs(" (see --help)\n", stderr);
    return EXIT_USAGE;
}

const char *
cli_ledger_path(const char *opt)
{
    if (opt)
        return opt;
    const char *env = getenv("AUDITFS_LEDGER");
    return env && env[0] ? env : NULL;
}

int
cli_parse_u64(uint64_t *out, const char *s, const char *what)
{
    char *end;
    errno = 0;
    if (!s || !*s || *s == '-') {
        cli_usage_error("%s: '%s' is not a non-negative number", what, s ? s : "");
        return -1;
    }
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end) {
        cli_usage_error("%s: '%s' is not a non-negative number", what, s);
        return -1;
    }
    *out = v;
    return 0;
}

int
cli_set_opt(char *dst, size_t cap, const char *val, const char *opt)
{
    size_t n = strlen(val);
    if (n >= cap)
        return cli_usage_error("%s: %zu bytes, over the limit of %zu (refused, not truncated)",
                               opt, n, cap - 1);
    memcpy(dst, val, n + 1);
    return 0;
}

int
cli_want_help(int argc, char **argv, const char *text)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(text, stdout);
            return 1;
        }
    }
    return 0;
}

static int
write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static int
load_signer(auditfs_signer **out, const char *path)
{
    if (!path)
        return cli_usage_error("--key FILE (the signer key) is required");
    int err = auditfs_signer_load(out, path);
    return err ? cli_fail(err, NULL) : 0;
}

static int
load_verifier(auditfs_verifier **out, const char *path)
{
    if (!path)
        return cli_usage_error("--key FILE.pub (the ledger's verifier key) is required");
    int err = auditfs_verifier_load(out, path);
    return err ? cli_fail(err, NULL) : 0;
}

/* ---- keygen ---- */

static const char keygen_help[] =
    "usage: auditfs keygen NAME -o FILE\n"
    "\n"
    "Creates an Ed25519 signer key named NAME in FILE (mode 0600) and its verifier key in\n"
    "FILE.pub. The formats are those of Go's golang.org/x/mod/sumdb/note.\n";

static int
cmd_keygen(int argc, char **argv)
{
    const char *out = NULL;
    int c;
    static const struct option opts[] = {{"output", required_argument, 0, 'o'}, {0, 0, 0, 0}};
    if (cli_want_help(argc, argv, keygen_help))
        return 0;
    while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        if (c == 'o')
            out = optarg;
        else
            return EXIT_USAGE;
    }
    if (optind + 1 != argc || !out)
        return cli_usage_error("keygen needs NAME and -o FILE");
    auditfs_signer *s = NULL;
    auditfs_verifier *v = NULL;
    char *vk = NULL;
    int err;
    if ((err = auditfs_signer_generate(&s, argv[optind])) != 0)
        return cli_fail(err, "keygen");
    char pub[4096];
    snprintf(pub, sizeof pub, "%s.pub", out);
    if (access(pub, F_OK) == 0) {
        auditfs_signer_free(s);
        fprintf(stderr, "auditfs: %s exists; refusing to overwrite it\n", pub);
        return EXIT_IO;
    }
    if ((err = auditfs_signer_save(s, out)) != 0 || (err = auditfs_signer_verifier(&v, s)) != 0 ||
        (err = auditfs_verifier_format(&vk, v)) != 0)
        goto done;
    FILE *f = fopen(pub, "wx");
    if (!f || fprintf(f, "%s\n", vk) < 0 || fclose(f) != 0) {
        fprintf(stderr, "auditfs: %s: %s\n", pub, strerror(errno));
        err = AUDITFS_EIO;
        goto done_quiet;
    }
    printf("%s\n", vk);
done:
    if (err)
        err = cli_fail(err, "keygen") ? err : err;
done_quiet:
    free(vk);
    auditfs_verifier_free(v);
    auditfs_signer_free(s);
    return err ? cli_exit_code(err) : 0;
}

/* ---- init ---- */

static const char init_help[] =
    "usage: auditfs init --ledger DIR --key FILE [--origin ORIGIN]\n"
    "\n"
    "Creates a new ledger (a bare git repository) whose first checkpoint, of size 0, is signed by\n"
    "the key. ORIGIN, the checkpoint's first line, defaults to the key's name; one key may sign\n"
    "several ledgers with different origins (e.g. one per tenant).\n";

/* The provider's own memory of a new ledger: its key pinned for the origin, the directory bound
 * to the origin, the first checkpoint remembered as seen and as signed. */
int
cli_init_remember(auditfs_state *st, const char *ledger, const auditfs_signer *s,
                  const char *origin)
{
    auditfs_verifier *v = NULL;
    auditfs_ledger *l = NULL;
    auditfs_trust_result res;
    char *note = NULL;
    size_t len = 0;
    int err;
    if ((err = auditfs_signer_verifier(&v, s)) != 0)
        return err;
    auditfs_trust_options o = {origin ? origin : auditfs_signer_name(s), v, 0};
    if ((err = auditfs_state_pin(st, o.origin, v)) == 0 &&
        (err = auditfs_ledger_open(&l, ledger)) == 0 &&
        (err = auditfs_ledger_trust(&res, l, st, &o)) == 0 &&
        (err = auditfs_ledger_checkpoint_note(&note, &len, l)) == 0) {
        /* a newer signed checkpoint of this origin means the key already signs another ledger
         * of that name: keep it, appends to the new ledger will be refused */
        char *old = NULL;
        size_t olen;
        if (auditfs_state_checkpoint(&old, &olen, st, o.origin, AUDITFS_STATE_SIGNED) ==
            AUDITFS_ENOTFOUND) {
            auditfs_error_clear();
            err = auditfs_state_remember(st, o.origin, AUDITFS_STATE_SIGNED, note, len);
        }
        free(old);
    }
    free(note);
    auditfs_ledger_free(l);
    auditfs_verifier_free(v);
    return err;
}

static int
cmd_init(int argc, char **argv)
{
    const char *ledger = NULL, *key = NULL, *origin = NULL;
    int c;
    static const struct option opts[] = {{"ledger", required_argument, 0, 'l'},
                                         {"key", required_argument, 0, 'k'},
                                         {"origin", required_argument, 0, 'O'},
                                         {0, 0, 0, 0}};
    if (cli_want_help(argc, argv, init_help))
        return 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'l': ledger = optarg; break;
        case 'k': key = optarg; break;
        case 'O': origin = optarg; break;
        default: return EXIT_USAGE;
        }
    }
    if (optind != argc)
        return cli_usage_error("init takes no arguments");
    if (cli_ledger_arg(&ledger, ledger) != 0)
        return EXIT_USAGE;
    auditfs_signer *s = NULL;
    int rc = load_signer(&s, key);
    if (rc)
        return rc;
    auditfs_state *st = NULL;
    if ((rc = cli_state_open(&st)) != 0) {
        auditfs_signer_free(s);
        return rc;
    }
    int err = auditfs_ledger_init(ledger, s, origin);
    if (!err)
        err = cli_init_remember(st, ledger, s, origin);
    auditfs_signer_free(s);
    auditfs_state_free(st);
    if (err)
        return cli_fail(err, "init");
    fprintf(stderr, "initialised ledger %s (origin %s); its key is pinned in %s\n", ledger,
            origin ? origin : "the key's name", getenv("AUDITFS_STATE") ? "$AUDITFS_STATE"
                                                                        : "the state directory");
    return 0;
}

/* ---- append: cli/cmd_ingest.c ---- */

/* ---- publish / notice ---- */

static const char publish_help[] =
    "usage: auditfs publish --ledger DIR --key FILE --name NAME [--content-type T]\n"
    "                       [--tenant T] [--party P] [--layer L] [--json] FILE\n"
    "\n"
    "Publishes FILE as the next version (numbered from 1) of the document NAME, e.g.\n"
    "sla/acme-compute or matrix/responsibility. The entry carries the name, version, content\n"
    "type, length and SHA-256; the content is stored as a git blob. NAME is '/'-separated\n"
    "segments of [a-z0-9._-]. Prints the entry's seq and version. --witness URL=KEY.pub\n"
    "(repeatable) then sends the new checkpoint to those witnesses (auditfs witness request).\n";

static const char notice_help[] =
    "usage: auditfs notice --ledger DIR --key FILE --title TITLE [--effective TIME]\n"
    "                      [--content-type T] [--tenant T] [--party P] [--layer L] [--json]\n"
    "                      FILE\n"
    "\n"
    "Publishes FILE as a change notice or security bulletin. --effective is when the change\n"
    "takes effect (RFC 3339 or YYYY-MM-DD, UTC). Prints the entry's seq. --witness URL=KEY.pub\n"
    "(repeatable) then sends the new checkpoint to those witnesses for their receipts.\n";

static const char *
guess_ctype(const char *file)
{
    const char *dot = strrchr(file, '.');
    if (!dot)
        return "application/octet-stream";
    if (!strcmp(dot, ".md"))
        return "text/markdown";
    if (!strcmp(dot, ".txt"))
        return "text/plain";
    if (!strcmp(dot, ".json"))
        return "application/json";
    if (!strcmp(dot, ".html") || !strcmp(dot, ".htm"))
        return "text/html";
    if (!strcmp(dot, ".pdf"))
        return "application/pdf";
    if (!strcmp(dot, ".csv"))
        return "text/csv";
    if (!strcmp(dot, ".yaml") || !strcmp(dot, ".yml"))
        return "application/yaml";
    return "application/octet-stream";
}

/* The options' checks of a document or notice entry; 0 or EXIT_USAGE (printed). */
static int
check_publish_entry(auditfs_entry *e, int is_notice, const char *effective, const char *ctype,
                    const char *file)
{
    if (is_notice && !e->title[0])
        return cli_usage_error("--title is required");
    if (!is_notice && !auditfs_valid_docname(e->name))
        return cli_usage_error("--name '%s': '/'-separated segments of [a-z0-9._-]", e->name);
    if (!is_notice && (e->title[0] || effective))
        return cli_usage_error("--title and --effective belong to notices");
    if (is_notice && e->name[0])
        return cli_usage_error("--name belongs to documents");
    if (effective) {
        if (!auditfs_parse_time(&e->effective_us, effective))
            return cli_usage_error("--effective '%s' is not RFC 3339 or YYYY-MM-DD", effective);
        e->has_effective = 1;
    }
    if (cli_set_opt(e->content_type, sizeof e->content_type, ctype ? ctype : guess_ctype(file),
                    "--content-type"))
        return EXIT_USAGE;
    if (e->tenant[0] && !auditfs_valid_stream(e->tenant))
        return cli_usage_error("--tenant '%s': 1-64 of [A-Za-z0-9._-]", e->tenant);
    if (e->party[0] && !auditfs_valid_party(e->party))
        return cli_usage_error("--party must be provider, customer, security-vendor or assessor");
    if (e->layer[0] && !auditfs_valid_layer(e->layer))
        return cli_usage_error("--layer must be facility, hardware, virtualization, platform, "
                               "application or data");
    if (is_notice && !auditfs_valid_text((const uint8_t *)e->title, strlen(e->title), 0))
        return cli_usage_error("--title: UTF-8 text without control characters");
    return 0;
}

/* What publish or notice added: one JSON object, or one line. */
static void
print_published(const auditfs_entry *e, int is_notice, int json, uint64_t seq, uint64_t size,
                size_t len)
{
    if (json) {
        printf("{\"type\":\"%s\",\"seq\":%llu,\"tree_size\":%llu,", e->type,
               (unsigned long long)seq, (unsigned long long)size);
        if (is_notice) {
            printf("\"title\":");
            cli_json_str(stdout, e->title);
        } else {
            printf("\"name\":");
            cli_json_str(stdout, e->name);
            printf(",\"version\":%llu", (unsigned long long)e->version);
        }
        printf(",\"content_length\":%llu}\n", (unsigned long long)len);
    } else if (is_notice)
        printf("notice seq %llu, tree size %llu\n", (unsigned long long)seq,
               (unsigned long long)size);
    else
        printf("%s v%llu seq %llu, tree size %llu\n", e->name, (unsigned long long)e->version,
               (unsigned long long)seq, (unsigned long long)size);
}

/* Appends e (its content) and commits: 0 with *seq and *size, an exit code (> 0, printed) if
 * the key or the state directory is unusable, or the library's error (< 0, not printed). */
static int
publish_write(uint64_t *seq, uint64_t *size, const char *ledger, const char *key,
              auditfs_entry *e, const uint8_t *content, size_t len)
{
    auditfs_signer *s = NULL;
    auditfs_writer *w = NULL;
    auditfs_writer_options wo = AUDITFS_WRITER_OPTIONS_INIT;
    auditfs_state *st = NULL;
    int err, rc = load_signer(&s, key);
    if (!rc && (rc = cli_state_open(&st)) != 0)
        auditfs_signer_free(s);
    if (rc)
        return rc;
    wo.wait_for_lock = 1;
    wo.state = st;
    if ((err = auditfs_writer_open(&w, ledger, s, &wo)) == 0 &&
        (err = auditfs_writer_add(w, e, content, len, seq)) == 0)
        err = auditfs_writer_commit(w, size);
    auditfs_writer_free(w);
    auditfs_signer_free(s);
    auditfs_state_free(st);
    return err;
}

/*
 * Long because it is the option table and parse of two commands (publish, notice): each option
 * is one case; the checks, the write and the output are the functions above.
 */
static int
publish_common(int argc, char **argv, int is_notice)
{
    const char *ledger = NULL, *key = NULL, *ctype = NULL, *effective = NULL;
    auditfs_entry e;
    int c, err;
    static const struct option opts[] = {{"ledger", required_argument, 0, 'l'},
                                         {"key", required_argument, 0, 'k'},
                                         {"name", required_argument, 0, 'n'},
                                         {"title", required_argument, 0, 'T'},
                                         {"effective", required_argument, 0, 'E'},
                                         {"content-type", required_argument, 0, 'C'},
                                         {"tenant", required_argument, 0, 't'},
                                         {"party", required_argument, 0, 'p'},
                                         {"layer", required_argument, 0, 'y'},
                                         {"json", no_argument, 0, 'J'},
                                         {"witness", required_argument, 0, 'W'},
                                         {0, 0, 0, 0}};
    int json = 0;
    const char *witnesses[64];
    size_t nwitnesses = 0;
    if (cli_want_help(argc, argv, is_notice ? notice_help : publish_help))
        return 0;
    memset(&e, 0, sizeof e);
    snprintf(e.type, sizeof e.type, "%s",
             auditfs_entry_type_name(is_notice ? AUDITFS_TYPE_NOTICE : AUDITFS_TYPE_DOCUMENT));
    snprintf(e.stream, sizeof e.stream, "%s", is_notice ? "notices" : "documents");
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'l': ledger = optarg; break;
        case 'k': key = optarg; break;
        case 'n':
            if (cli_set_opt(e.name, sizeof e.name, optarg, "--name"))
                return EXIT_USAGE;
            break;
        case 'T':
            if (cli_set_opt(e.title, sizeof e.title, optarg, "--title"))
                return EXIT_USAGE;
            break;
        case 'E': effective = optarg; break;
        case 'C': ctype = optarg; break;
        case 't':
            if (cli_set_opt(e.tenant, sizeof e.tenant, optarg, "--tenant"))
                return EXIT_USAGE;
            break;
        case 'p':
            if (cli_set_opt(e.party, sizeof e.party, optarg, "--party"))
                return EXIT_USAGE;
            break;
        case 'y':
            if (cli_set_opt(e.layer, sizeof e.layer, optarg, "--layer"))
                return EXIT_USAGE;
            break;
        case 'J': json = 1; break;
        case 'W':
            if (nwitnesses == sizeof witnesses / sizeof *witnesses)
                return cli_usage_error("too many --witness");
            witnesses[nwitnesses++] = optarg;
            break;
        default: return EXIT_USAGE;
        }
    }
    if (optind + 1 != argc)
        return cli_usage_error("give exactly one FILE");
    if ((err = check_publish_entry(&e, is_notice, effective, ctype, argv[optind])) != 0)
        return err;
    if (cli_ledger_arg(&ledger, ledger) != 0)
        return EXIT_USAGE;
    uint8_t *content = NULL;
    size_t len = 0;
    if ((err = auditfs_read_file(&content, &len, argv[optind], (size_t)1 << 30)) != 0)
        return cli_fail(err, NULL);
    uint64_t seq = 0, size = 0;
    int rc = publish_write(&seq, &size, ledger, key, &e, content, len);
    if (rc == 0)
        print_published(&e, is_notice, json, seq, size, len);
    else if (rc < 0)
        rc = cli_fail(rc, is_notice ? "notice" : "publish");
    if (rc == 0)
        cli_index_after_write(ledger);
    if (rc == 0 && nwitnesses) /* receipts: the new checkpoint goes to the witnesses at once */
        rc = cli_witness_request(stdout, ledger, witnesses, nwitnesses, 30);
    free(content);
    return rc;
}

static int
cmd_publish(int argc, char **argv)
{
    return publish_common(argc, argv, 0);
}

static int
cmd_notice(int argc, char **argv)
{
    return publish_common(argc, argv, 1);
}

/* ---- checkpoint ---- */

static const char checkpoint_help[] =
    "usage: auditfs checkpoint --ledger DIR [--key FILE.pub] [--origin O] [--size N] [--json]\n"
    "\n"
    "Prints the latest signed checkpoint (a C2SP signed note), or the one committed for tree\n"
    "size N. Check it with `auditfs verify` or any signed-note verifier. --json prints\n"
    "{\"origin\",\"tree_size\",\"root\",\"note\"} (the note verbatim, unverified).\n";

static int
cmd_checkpoint(int argc, char **argv)
{
    const char *ledger = NULL, *key = NULL, *origin = NULL;
    uint64_t size = UINT64_MAX;
    int c;
    static const struct option opts[] = {{"ledger", required_argument, 0, 'l'},
                                         {"key", required_argument, 0, 'k'},
                                         {"origin", required_argument, 0, 'O'},
                                         {"size", required_argument, 0, 'S'},
                                         {"json", no_argument, 0, 'J'},
                                         {0, 0, 0, 0}};
    int json = 0;
    if (cli_want_help(argc, argv, checkpoint_help))
        return 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'l')
            ledger = optarg;
        else if (c == 'J')
            json = 1;
        else if (c == 'k')
            key = optarg;
        else if (c == 'O')
            origin = optarg;
        else if (c == 'S') {
            if (cli_parse_u64(&size, optarg, "--size"))
                return EXIT_USAGE;
        } else
            return EXIT_USAGE;
    }
    auditfs_ledger *l = NULL;
    int rc = cli_open_trusted(&l, NULL, ledger, key, origin);
    if (rc)
        return rc;
    char *note = NULL;
    size_t len;
    /* with the cosignature lines stored on refs/auditfs/cosignatures, if any */
    int err = auditfs_cosig_store_checkpoint(&note, &len, l, size);
    auditfs_checkpoint cp;
    if (!err && json) {
        /* the body is the note up to the blank line before the signatures */
        const char *end = memmem(note, len, "\n\n", 2);
        err = auditfs_checkpoint_parse(&cp, note, end ? (size_t)(end - note) + 1 : len);
    }
    if (err)
        rc = cli_fail(err, "checkpoint");
    else if (json) {
        char root[48];
        auditfs_hash_base64(root, &cp.root);
        printf("{\"origin\":");
        cli_json_str(stdout, cp.origin);
        printf(",\"tree_size\":%llu,\"root\":\"%s\",\"note\":", (unsigned long long)cp.size, root);
        cli_json_strn(stdout, note, len);
        printf("}\n");
    } else
        fwrite(note, 1, len, stdout);
    free(note);
    auditfs_ledger_free(l);
    return rc;
}

/* ---- verify ---- */

static const char verify_help[] =
    "usage: auditfs verify --ledger DIR [--key FILE.pub] [--origin O] [--trusted CHECKPOINT]\n"
    "                      [--json]\n"
    "\n"
    "Recomputes everything from the git objects with only the verifier key given: every segment,\n"
    "leaf hash and chain link, the tiles, the Merkle root of every checkpoint in history, every\n"
    "signature, and that each commit extends the one before; canonical trees, the first commit,\n"
    "one batch per commit. The key defaults to the one pinned for the ledger's origin, and the\n"
    "head must extend the checkpoint this party saw before (exit 8). With --trusted, also checks that\n"
    "the ledger extends a checkpoint you kept earlier (detects rollback and rewritten history).\n"
    "Exit 0 if everything verifies, 1 (naming the first bad entry or commit) if not.\n"
    "\n"
    "Witnesses: --witness KEY.pub (repeatable) --quorum K, or --policy FILE (C2SP tlog-policy),\n"
    "also require that the head checkpoint is cosigned by a quorum of witnesses (stored on\n"
    "refs/auditfs/cosignatures): each counts with a cosignature of the head or of a later\n"
    "checkpoint of the same history (a replica's refs/auditfs/witnessed-tail), the rule\n"
    "sync, clone and mount apply too; --max-age DURATION (90s, 15m, 2h, 7d) counts only cosignatures\n"
    "younger than that, so a frozen, stale view fails. With --json a second JSON line reports\n"
    "the witnesses.\n";

/* 1 if the head checkpoint carries a signature line by v's key name (whether or not it is valid). */
static int
key_signs_head(auditfs_ledger *l, const auditfs_verifier *v)
{
    char *note = NULL, want[300];
    size_t len;
    if (auditfs_ledger_checkpoint_note(&note, &len, l) != 0)
        return 1; /* cannot tell: keep the verification failure */
    snprintf(want, sizeof want, "\n\xe2\x80\x94 %s ", auditfs_verifier_name(v));
    int found = memmem(note, len, want, strlen(want)) != NULL;
    free(note);
    return found;
}

/* The likely cause of a failure with --key: the head has no signature by that key. */
static void
hint_wrong_key(auditfs_ledger *l, const auditfs_verifier *v, const char *key)
{
    if (!key_signs_head(l, v))
        fprintf(stderr, "auditfs: %s is not the key of this ledger (its head checkpoint has no "
                        "signature by it): wrong key or wrong ledger?\n", key);
}

/* verify's report: one JSON object, or the "ok:" lines (a failure is reported by the caller). */
static void
print_verify_report(const auditfs_verify_report *r, int err, int json, double secs)
{
    char root[64];
    auditfs_hash_base64(root, &r->head.root);
    if (json) {
        printf("{\"ok\":%s,\"entries\":%llu,\"segments\":%llu,\"commits\":%llu,\"documents\":%llu,"
               "\"notices\":%llu,\"leaf_bytes\":%llu,\"origin\":",
               err ? "false" : "true", (unsigned long long)r->entries,
               (unsigned long long)r->segments, (unsigned long long)r->commits,
               (unsigned long long)r->documents, (unsigned long long)r->notices,
               (unsigned long long)r->leaf_bytes);
        cli_json_str(stdout, r->head.origin);
        printf(",\"tree_size\":%llu,\"root\":\"%s\",\"trusted_checked\":%s,\"seconds\":%.3f",
               (unsigned long long)r->head.size, root, r->trusted_checked ? "true" : "false", secs);
        printf(",\"signed_commits\":%llu,\"unsigned_commits\":%llu",
               (unsigned long long)r->signed_commits, (unsigned long long)r->unsigned_commits);
        if (err) {
            printf(",\"error\":");
            cli_json_str(stdout, r->reason[0] ? r->reason : auditfs_error_last());
            if (r->bad_entry != UINT64_MAX)
                printf(",\"bad_entry\":%llu", (unsigned long long)r->bad_entry);
            if (r->bad_commit[0])
                printf(",\"bad_commit\":\"%s\"", r->bad_commit);
        }
        printf("}\n");
    } else if (!err) {
        printf("ok: %s: %llu entries (%llu leaf bytes) in %llu segments, %llu commits, %llu "
               "documents, %llu notices\n",
               r->head.origin, (unsigned long long)r->entries, (unsigned long long)r->leaf_bytes,
               (unsigned long long)r->segments, (unsigned long long)r->commits,
               (unsigned long long)r->documents, (unsigned long long)r->notices);
        printf("checkpoint: size %llu root %s%s (%.2f s)\n", (unsigned long long)r->head.size, root,
               r->trusted_checked ? ", extends the trusted checkpoint" : "", secs);
        if (r->unsigned_commits)
            printf("commits: %llu signed; %llu unsigned legacy commits (written before commits "
                   "were signed) come first\n",
                   (unsigned long long)r->signed_commits, (unsigned long long)r->unsigned_commits);
    }
}

/*
 * The ledger and the key to recompute it with. The verifier's memory first: the head against
 * the pinned (or given) key and against every checkpoint this party saw or signed. 0 or an
 * exit code (printed; with json also as a JSON line).
 */
static int
verify_open(auditfs_ledger **lp, auditfs_verifier **vp, const char *ledger, const char *key,
            const char *origin, int json)
{
    auditfs_verifier *v = NULL;
    auditfs_ledger *l = NULL;
    auditfs_state *st = NULL;
    int rc = cli_open_trusted(&l, &st, ledger, key, origin);
    if (rc == EXIT_VERIFY && key && !json) {
        /* still exit 1: without the right key nothing here verifies, but say the likely cause */
        const char *path = cli_ledger_path(ledger);
        if (path && auditfs_ledger_open(&l, path) == 0 && auditfs_verifier_load(&v, key) == 0)
            hint_wrong_key(l, v, key);
        auditfs_verifier_free(v);
        auditfs_ledger_free(l);
        l = NULL;
    }
    if (rc)
        return rc; /* with --json, run_command prints the error object naming the cause */
    auditfs_checkpoint head;
    if (auditfs_ledger_head(&head, l) != 0)
        head.origin[0] = 0;
    rc = key ? load_verifier(&v, key) : cli_pinned_key(&v, st, head.origin);
    auditfs_state_free(st);
    if (rc) {
        auditfs_ledger_free(l);
        return rc;
    }
    *lp = l;
    *vp = v;
    return 0;
}

static int
cmd_verify(int argc, char **argv)
{
    const char *ledger = NULL, *key = NULL, *trusted = NULL, *origin = NULL;
    int json = 0, c;
    struct cli_witness_opts wopts = {0};
    static const struct option opts[] = {{"ledger", required_argument, 0, 'l'},
                                         {"key", required_argument, 0, 'k'},
                                         {"origin", required_argument, 0, 'O'},
                                         {"trusted", required_argument, 0, 'T'},
                                         {"json", no_argument, 0, 'J'},
                                         CLI_WITNESS_LONGOPTS,
                                         {0, 0, 0, 0}};
    if (cli_want_help(argc, argv, verify_help))
        return 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'l': ledger = optarg; break;
        case 'k': key = optarg; break;
        case 'T': trusted = optarg; break;
        case 'J': json = 1; break;
        case 'W':
        case 'Q':
        case 'P':
        case 'A':
            if (cli_witness_opt(&wopts, c, optarg) != 0)
                return EXIT_USAGE;
            break;
        case 'O': origin = optarg; break;
        default: return EXIT_USAGE;
        }
    }
    if (optind != argc)
        return cli_usage_error("verify takes no arguments");
    auditfs_verifier *v = NULL;
    auditfs_ledger *l = NULL;
    uint8_t *tnote = NULL;
    size_t tlen = 0;
    int rc = verify_open(&l, &v, ledger, key, origin, json);
    if (rc)
        return rc;
    if (trusted) {
        int err = auditfs_read_file(&tnote, &tlen, trusted, 65536);
        if (err) {
            auditfs_verifier_free(v);
            auditfs_ledger_free(l);
            return cli_fail(err, "--trusted");
        }
    }
    auditfs_verify_report r;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cli_progress prog;
    auditfs_verify_options vo = {cli_progress_init(&prog), (const char *)tnote, tlen};
    int err = auditfs_ledger_verify_opts(&r, l, v, &vo);
    cli_progress_done(&prog);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    print_verify_report(&r, err, json, secs);
    if (err) {
        if (!json)
            fprintf(stderr, "auditfs: verification FAILED: %s\n",
                    r.reason[0] ? r.reason : auditfs_error_last());
        rc = cli_exit_code(err);
        /* still exit 1: without the right key nothing here verifies, but say the likely cause */
        if (err == AUDITFS_EVERIFY && !json)
            hint_wrong_key(l, v, key);
    } else {
        rc = cli_witness_check(&wopts, l, &r.head, json);
    }
    auditfs_ledger_free(l);
    auditfs_verifier_free(v);
    free(tnote);
    return rc;
}

/* ---- prove / consistency ---- */

static const char prove_help[] =
    "usage: auditfs prove --ledger DIR [--key FILE.pub] [--origin O] --index N [--size T]\n"
    "                     [--tlog-proof]\n"
    "\n"
    "Prints the inclusion proof of entry N in the tree of size T (default: the latest) as JSON\n"
    "with the Certificate Transparency field names {\"leaf_index\",\"tree_size\",\"audit_path\"}.\n"
    "With --tlog-proof, prints a c2sp.org/tlog-proof@v1 file instead: the proof plus the signed\n"
    "checkpoint, verifiable offline.\n";

static const char consistency_help[] =
    "usage: auditfs consistency --ledger DIR [--key FILE.pub] [--origin O] --from M [--to N]\n"
    "\n"
    "Prints the consistency proof between tree sizes M and N (default: the latest) as JSON\n"
    "{\"first\",\"second\",\"consistency\"}: proof that the tree of size N extends that of M.\n";

static int
cmd_prove(int argc, char **argv)
{
    const char *ledger = NULL, *key = NULL, *origin = NULL;
    uint64_t index = UINT64_MAX, size = 0;
    int tlog = 0, c;
    static const struct option opts[] = {{"ledger", required_argument, 0, 'l'},
                                         {"key", required_argument, 0, 'k'},
                                         {"origin", required_argument, 0, 'O'},
                                         {"index", required_argument, 0, 'i'},
                                         {"size", required_argument, 0, 'S'},
                                         {"tlog-proof", no_argument, 0, 'P'},
                                         {0, 0, 0, 0}};
    if (cli_want_help(argc, argv, prove_help))
        return 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'l': ledger = optarg; break;
        case 'i':
            if (cli_parse_u64(&index, optarg, "--index"))
                return EXIT_USAGE;
            break;
        case 'S':
            if (cli_parse_u64(&size, optarg, "--size"))
                return EXIT_USAGE;
            break;
        case 'P': tlog = 1; break;
        case 'k': key = optarg; break;
        case 'O': origin = optarg; break;
        default: return EXIT_USAGE;
        }
    }
    if (index == UINT64_MAX)
        return cli_usage_error("--index N is required");
    auditfs_ledger *l = NULL;
    int rc = cli_open_trusted(&l, NULL, ledger, key, origin);
    if (rc)
        return rc;
    auditfs_inclusion_proof p;
    char *out = NULL, *note = NULL;
    size_t out_len = 0, note_len = 0;
    int err = auditfs_ledger_prove(&p, l, index, size);
    if (!err && tlog) {
        err = auditfs_ledger_checkpoint_at(&note, &note_len, l, p.tree_size);
        if (!err)
            err = auditfs_tlog_proof_format(&out, &out_len, &p, note, note_len, NULL, 0);
    } else if (!err) {
        err = auditfs_inclusion_proof_to_json(&out, &p);
        out_len = out ? strlen(out) : 0;
    }
    if (err)
        rc = cli_fail(err, "prove");
    else {
        fwrite(out, 1, out_len, stdout);
        if (!tlog)
            putchar('\n');
    }
    free(out);
    free(note);
    auditfs_ledger_free(l);
    return rc;
}

static int
cmd_consistency(int argc, char **argv)
{
    const char *ledger = NULL, *key = NULL, *origin = NULL;
    uint64_t from = 0, to = 0;
    int c;
    static const struct option opts[] = {{"ledger", required_argument, 0, 'l'},
                                         {"key", required_argument, 0, 'k'},
                                         {"origin", required_argument, 0, 'O'},
                                         {"from", required_argument, 0, 'f'},
                                         {"to", required_argument, 0, 't'},
                                         {0, 0, 0, 0}};
    if (cli_want_help(argc, argv, consistency_help))
        return 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'l': ledger = optarg; break;
        case 'f':
            if (cli_parse_u64(&from, optarg, "--from"))
                return EXIT_USAGE;
            break;
        case 't':
            if (cli_parse_u64(&to, optarg, "--to"))
                return EXIT_USAGE;
            break;
        case 'k': key = optarg; break;
        case 'O': origin = optarg; break;
        default: return EXIT_USAGE;
        }
    }
    if (from == 0)
        return cli_usage_error("--from M (M >= 1) is required");
    auditfs_ledger *l = NULL;
    int rc = cli_open_trusted(&l, NULL, ledger, key, origin);
    if (rc)
        return rc;
    auditfs_consistency_proof p;
    char *out = NULL;
    int err = auditfs_ledger_prove_consistency(&p, l, from, to);
    if (!err)
        err = auditfs_consistency_proof_to_json(&out, &p);
    if (err)
        rc = cli_fail(err, "consistency");
    else
        printf("%s\n", out);
    free(out);
    auditfs_ledger_free(l);
    return rc;
}

/* ---- leaf / leaves / log ---- */

static const char leaf_help[] =
    "usage: auditfs leaf --ledger DIR [--key FILE.pub] [--origin O] N\n"
    "\n"
    "Writes the exact leaf bytes of entry N (checked against the tiles) to standard output.\n";

static const char leaves_help[] =
    "usage: auditfs leaves --ledger DIR [--key FILE.pub] [--origin O] [--from A] [--to B]\n"
    "\n"
    "Prints entries A (default 0) to B (exclusive; default the end) as one base64 leaf per line.\n";

static const char log_help[] =
    "usage: auditfs log --ledger DIR [--key FILE.pub] [--origin O] [--stream S] [--from A]\n"
    "                   [--to B] [--json] [--since T] [--until T] [--time ledger|event]\n"
    "\n"
    "Lists entries: seq, time, type, stream and a summary. --json prints one object per entry\n"
    "with every header field and the payload (as a string when it is text). --since/--until\n"
    "(RFC 3339 or YYYY-MM-DD, UTC) select by ledger time, or with --time event by the entry's\n"
    "event-time (entries without one are left out); the time column shows the chosen time.\n";

static int
cmd_leaf(int argc, char **argv)
{
    const char *ledger = NULL, *key = NULL, *origin = NULL;
    int c;
    static const struct option opts[] = {{"ledger", required_argument, 0, 'l'},
                                         {"key", required_argument, 0, 'k'},
                                         {"origin", required_argument, 0, 'O'},
                                         {0, 0, 0, 0}};
    if (cli_want_help(argc, argv, leaf_help))
        return 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'l')
            ledger = optarg;
        else if (c == 'k')
            key = optarg;
        else if (c == 'O')
            origin = optarg;
        else
            return EXIT_USAGE;
    }
    uint64_t n;
    if (optind + 1 != argc)
        return cli_usage_error("leaf needs N");
    if (cli_parse_u64(&n, argv[optind], "N"))
        return EXIT_USAGE;
    auditfs_ledger *l = NULL;
    int rc = cli_open_trusted(&l, NULL, ledger, key, origin);
    if (rc)
        return rc;
    uint8_t *leaf = NULL;
    size_t len;
    int err = auditfs_ledger_leaf(&leaf, &len, l, n);
    if (err)
        rc = cli_fail(err, "leaf");
    else if (write_all(1, leaf, len) != 0)
        rc = EXIT_IO;
    free(leaf);
    auditfs_ledger_free(l);
    return rc;
}

/* time selection of `log` (NULL for commands without it) */
typedef struct time_sel {
    int64_t since, until; /* [since, until) */
    int event;            /* select and show event-time instead of ledger time */
} time_sel;

static int
range_opts(int argc, char **argv, const char *help, const char **ledger, uint64_t *from,
           uint64_t *to, const char **stream, int *json, const char **key, const char **origin,
           time_sel *ts)
{
    int c;
    static const struct option opts[] = {{"since", required_argument, 0, 'S'},
                                         {"until", required_argument, 0, 'U'},
                                         {"time", required_argument, 0, 'T'},
                                         {"ledger", required_argument, 0, 'l'},
                                         {"key", required_argument, 0, 'k'},
                                         {"origin", required_argument, 0, 'O'},
                                         {"from", required_argument, 0, 'f'},
                                         {"to", required_argument, 0, 't'},
                                         {"stream", required_argument, 0, 's'},
                                         {"json", no_argument, 0, 'J'},
                                         {0, 0, 0, 0}};
    if (cli_want_help(argc, argv, help))
        return -1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'l': *ledger = optarg; break;
        case 'f':
            if (cli_parse_u64(from, optarg, "--from"))
                return EXIT_USAGE;
            break;
        case 't':
            if (cli_parse_u64(to, optarg, "--to"))
                return EXIT_USAGE;
            break;
        case 's':
            if (!stream)
                return cli_usage_error("--stream is not an option here");
            *stream = optarg;
            break;
        case 'J':
            if (!json)
                return cli_usage_error("--json is not an option here");
            *json = 1;
            break;
        case 'S':
        case 'U':
            if (!ts)
                return cli_usage_error("--since/--until are not options here");
            if (!auditfs_parse_time(c == 'S' ? &ts->since : &ts->until, optarg))
                return cli_usage_error("'%s' is not RFC 3339 or YYYY-MM-DD", optarg);
            break;
        case 'T':
            if (!ts || (strcmp(optarg, "event") && strcmp(optarg, "ledger")))
                return cli_usage_error("--time is 'ledger' or 'event' (log only)");
            ts->event = strcmp(optarg, "event") == 0;
            break;
        case 'k': *key = optarg; break;
        case 'O': *origin = optarg; break;
        default: return EXIT_USAGE;
        }
    }
    if (optind != argc)
        return cli_usage_error("unexpected argument '%s'", argv[optind]);
    return 0;
}

static int
cmd_leaves(int argc, char **argv)
{
    const char *ledger = NULL, *key = NULL, *origin = NULL;
    uint64_t from = 0, to = UINT64_MAX;
    int rc = range_opts(argc, argv, leaves_help, &ledger, &from, &to, NULL, NULL, &key, &origin,
                        NULL);
    if (rc)
        return rc < 0 ? 0 : rc;
    auditfs_ledger *l = NULL;
    if ((rc = cli_open_trusted(&l, NULL, ledger, key, origin)) != 0)
        return rc;
    auditfs_cursor *cur = NULL;
    int err = auditfs_cursor_new(&cur, l, from, to);
    const uint8_t *leaf;
    size_t len;
    char *b64 = NULL;
    size_t cap = 0;
    while (!err && (err = auditfs_cursor_next(cur, &leaf, &len)) == 1) {
        size_t need = (len + 2) / 3 * 4 + 1;
        if (need > cap) {
            free(b64);
            cap = need * 2;
            b64 = malloc(cap);
            if (!b64) {
                err = AUDITFS_ENOMEM;
                break;
            }
        }
        auditfs_base64_encode(b64, leaf, len);
        puts(b64);
        err = 0;
    }
    if (err < 0)
        rc = cli_fail(err, "leaves");
    free(b64);
    auditfs_cursor_free(cur);
    auditfs_ledger_free(l);
    return rc;
}

static void
summary(char *out, size_t cap, const auditfs_entry *e)
{
    auditfs_entry_type type = auditfs_entry_type_of(e);
    if (type == AUDITFS_TYPE_DOCUMENT)
        snprintf(out, cap, "%s v%llu (%s, %llu bytes)", e->name, (unsigned long long)e->version,
                 e->content_type, (unsigned long long)e->content_length);
    else if (type == AUDITFS_TYPE_NOTICE)
        snprintf(out, cap, "%s (%s, %llu bytes)", e->title, e->content_type,
                 (unsigned long long)e->content_length);
    else {
        size_t n = e->payload_len < cap - 1 ? e->payload_len : cap - 1;
        if (n > 100)
            n = 100;
        memcpy(out, e->payload, n);
        out[n] = 0;
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)out[i] < 0x20)
                out[i] = '?';
        if (!auditfs_valid_text((const uint8_t *)out, strlen(out), 1))
            snprintf(out, cap, "(%zu bytes, not text)", e->payload_len);
    }
}

static int
cmd_log(int argc, char **argv)
{
    const char *ledger = NULL, *stream = NULL, *key = NULL, *origin = NULL;
    uint64_t from = 0, to = UINT64_MAX;
    int json = 0;
    time_sel ts = {INT64_MIN, INT64_MAX, 0};
    int rc = range_opts(argc, argv, log_help, &ledger, &from, &to, &stream, &json, &key,
                        &origin, &ts);
    if (rc)
        return rc < 0 ? 0 : rc;
    auditfs_ledger *l = NULL;
    if ((rc = cli_open_trusted(&l, NULL, ledger, key, origin)) != 0)
        return rc;
    auditfs_cursor *cur = NULL;
    int err = auditfs_cursor_new(&cur, l, from, to);
    const uint8_t *leaf;
    size_t len;
    while (!err && (err = auditfs_cursor_next(cur, &leaf, &len)) == 1) {
        auditfs_entry e;
        char t[32], sum[640];
        err = auditfs_entry_parse(&e, leaf, len);
        if (err)
            break;
        if (stream && strcmp(stream, e.stream) != 0)
            continue;
        int64_t when = ts.event ? e.event_time_us : e.time_us;
        if ((ts.event && !e.has_event_time) || when < ts.since || when >= ts.until)
            continue;
        auditfs_format_time(t, when);
        if (json) {
            char *j = NULL;
            if ((err = auditfs_entry_to_json(&j, &e, 1)) != 0)
                break;
            puts(j);
            free(j);
        } else {
            summary(sum, sizeof sum, &e);
            printf("%-8llu %s %-10s %-12s %s\n", (unsigned long long)e.seq, t, e.type, e.stream,
                   sum);
        }
    }
    if (err < 0)
        rc = cli_fail(err, "log");
    auditfs_cursor_free(cur);
    auditfs_ledger_free(l);
    return rc;
}

/* ---- dispatch ---- */

static const char main_help[] =
    "usage: auditfs COMMAND [OPTIONS]   (auditfs COMMAND --help for details)\n"
    "\n"
    "Providers:\n"
    "  keygen NAME -o FILE       create a signer key (FILE, 0600) and verifier key (FILE.pub)\n"
    "  init                      create a ledger\n"
    "  append                    append log lines as entries, committed in signed batches\n"
    "  publish                   publish a new version of a document (SLA, matrix, ...)\n"
    "  notice                    publish a change notice or security bulletin\n"
    "Everyone:\n"
    "  status                    the ledger, its size, last commit and the index's freshness\n"
    "  checkpoint                print the latest signed checkpoint\n"
    "  verify                    verify the whole ledger with the verifier key\n"
    "  prove, consistency        inclusion and consistency proofs\n"
    "  leaf N, leaves, log       read entries\n"
    "  query                     find entries by header and JSON field values (indexed)\n"
    "  index                     show, update or rebuild the query index\n"
    "  incident                  write a self-contained incident evidence bundle\n"
    "  verify-bundle DIR         check a bundle offline with the verifier key(s)\n"
    "  archive -o FILE           the whole ledger as one git bundle file (git clone FILE)\n"
    "  mount, umount             the ledger as a read-only, verify-on-read filesystem\n"
    "  export --tlog-tiles DIR   the ledger as a static C2SP tlog-tiles tree for any web server\n"
    "Replicas (git):\n"
    "  clone URL DIR --key F.pub fetch a ledger, verify everything, pin the key\n"
    "  sync                      fetch, verify what is new, fast-forward; forks exit 8\n"
    "  push REMOTE               publish the ledger to a git remote, fast-forward only\n"
    "  allowed-signers --key F   the allowed-signers line for `git verify-commit`\n"
    "Witnesses (customers, assessors):\n"
    "  cosign                    cosign the newest checkpoint of a copy (refuses forks: exit 8)\n"
    "  cosignatures add|list     store cosignatures that arrived another way; list them\n"
    "  witness serve|request     the C2SP tlog-witness HTTP API, and the provider's client\n"
    "  acks                      who acknowledged which notice and SLA version, and when\n"
    "\n"
    "Verifier's memory:\n"
    "  trust                     pin verifier keys; the verifier's memory ($AUDITFS_STATE)\n"
    "\n"
    "Every command takes --ledger DIR (default $AUDITFS_LEDGER). Every reading command first\n"
    "checks the head with the key pinned for the ledger's origin (or --key FILE.pub, pinned on\n"
    "first use; --origin O names the expected ledger) and that it extends the checkpoint this\n"
    "party saw before (`auditfs trust --help`). `auditfs help COMMAND` is\n"
    "`auditfs COMMAND --help`; -V prints the version; man auditfs-COMMAND has the details.\n"
    "Exit codes (the same mistake gives the same code from every command): 0 ok,\n"
    "1 verification failed, 2 usage, 3 bad input data, 4 I/O or repository error,\n"
    "5 unusable key (or a signer key where a verifier key belongs, or the reverse),\n"
    "6 ledger busy, 7 not found (no such ledger, input file, entry or checkpoint),\n"
    "8 fork or rollback: the ledger does not extend what this party saw (evidence written).\n"
    "\n"
    "Example:\n"
    "  auditfs keygen provider.example/acme -o provider.key\n"
    "  auditfs init --ledger /srv/ledgers/acme --key provider.key\n"
    "  echo '{\"actor\":\"ops-7\"}' | auditfs append --ledger /srv/ledgers/acme --key provider.key --stream api\n"
    "  auditfs verify --ledger /srv/ledgers/acme --key provider.key.pub\n";

struct command {
    const char *name;
    int (*fn)(int, char **);
};

static const struct command commands[] = {
    {"keygen", cmd_keygen},   {"init", cmd_init},         {"append", cmd_append},
    {"publish", cmd_publish}, {"notice", cmd_notice},     {"checkpoint", cmd_checkpoint},
    {"verify", cmd_verify},   {"prove", cmd_prove},       {"consistency", cmd_consistency},
    {"leaf", cmd_leaf},       {"leaves", cmd_leaves},     {"log", cmd_log},
    {"mount", cmd_mount},     {"umount", cmd_umount},     {"query", cmd_query},
    {"index", cmd_index},     {"incident", cmd_incident}, {"verify-bundle", cmd_verify_bundle},
    {"archive", cmd_archive},
    {"allowed-signers", cmd_allowed_signers},
    {"clone", cmd_clone},
    {"sync", cmd_sync},
    {"push", cmd_push},
    {"status", cmd_status},
    {"export", cmd_export},
    {"cosign", cmd_cosign_main},
    {"cosignatures", cmd_cosignatures_main},
    {"witness", cmd_witness_main},
    {"acks", cmd_acks_main},
    {"trust", cmd_trust},
    {NULL, NULL}};

static const char *const *
command_names(size_t *n)
{
    static const char *names[sizeof commands / sizeof commands[0]];
    size_t k = 0;
    for (const struct command *c = commands; c->name; c++)
        names[k++] = c->name;
    *n = k;
    return names;
}

static const struct command *
find_command(const char *name)
{
    for (const struct command *c = commands; c->name; c++)
        if (strcmp(name, c->name) == 0)
            return c;
    return NULL;
}

static int
unknown_command(const char *name)
{
    size_t n;
    const char *const *names = command_names(&n);
    const char *best = cli_closest(name, names, n);
    if (best)
        return cli_usage_error("unknown command '%s'; did you mean '%s'?", name, best);
    return cli_usage_error("unknown command '%s'", name);
}

/* Runs a command; after its --help, adds the examples. `auditfs help CMD` comes here too. */
static int
run_command(const struct command *c, int argc, char **argv)
{
    int help = 0;
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            help = 1;
    optind = 1;
    cli_json_errors_begin(argc, argv); /* --json: a failure prints JSON too (json_error.c) */
    int rc = cli_json_errors_end(c->fn(argc, argv));
    if (help && rc == 0) {
        cli_print_examples(c->name);
        fflush(stdout);
    }
    return rc;
}

int
main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        (!strcmp(argv[1], "help") && argc == 2)) {
        fputs(main_help, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
        printf("auditfs %s\n", auditfs_version());
        return 0;
    }
    if (!strcmp(argv[1], "--list-commands")) {
        /* for the bash completion and the man page test: the dispatch table, one per line */
        for (const struct command *c = commands; c->name; c++)
            puts(c->name);
        return 0;
    }
    if (!strcmp(argv[1], "help")) {
        /* auditfs help CMD == auditfs CMD --help */
        const struct command *c = find_command(argv[2]);
        if (!c)
            return unknown_command(argv[2]);
        char *hargv[] = {argv[2], "--help", NULL};
        return run_command(c, 2, hargv);
    }
    const struct command *c = find_command(argv[1]);
    if (!c && cli_is_mount_helper_call(argc, argv))
        return cli_mount_helper(argc, argv); /* mount -t fuse.auditfs, fstab */
    if (!c)
        return unknown_command(argv[1]);
    return run_command(c, argc - 1, argv + 1);
}
