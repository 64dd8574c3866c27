/*
 * cli/cmd_trust.c - the verifier's memory on the command line: `auditfs trust` (pin, list,
 * remove keys; unbind a ledger directory; check an evidence directory) and cli_open_trusted(),
 * which every reading command calls before it serves a byte.
 */
#include "cli.h"

#include "auditfs/merkle.h"
#include "auditfs/state.h"
#include "auditfs/trust.h"

#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

int
cli_state_open(auditfs_state **out)
{
    int err = auditfs_state_open(out, NULL);
    return err ? cli_fail(err, "state directory") : 0;
}

int
cli_open_trusted(auditfs_ledger **out, auditfs_state **st_out, const char *ledger_opt,
                 const char *key_path, const char *origin)
{
    const char *path;
    auditfs_state *st = NULL;
    auditfs_verifier *key = NULL;
    auditfs_ledger *l = NULL;
    auditfs_trust_result res;
    auditfs_trust_options o = {origin, NULL, 0};
    int err, rc;
    *out = NULL;
    if (st_out)
        *st_out = NULL;
    if ((rc = cli_ledger_arg(&path, ledger_opt)) != 0)
        return rc;
    if (key_path && (err = auditfs_verifier_load(&key, key_path)) != 0)
        return cli_fail(err, key_path);
    o.key = key;
    if ((rc = cli_state_open(&st)) != 0)
        goto fail;
    if ((err = auditfs_ledger_open(&l, path)) != 0) {
        rc = cli_fail(err, NULL);
        goto fail;
    }
    err = auditfs_ledger_trust(&res, l, st, &o);
    if (err) {
        rc = cli_fail(err, NULL);
        if (res.evidence[0])
            fprintf(stderr, "auditfs: evidence (both signed checkpoints and the proof) written to "
                            "%s\n",
                    res.evidence);
        goto fail;
    }
    if (res.pinned)
        fprintf(stderr, "auditfs: pinned key %s+%08x for origin \"%s\" in %s (first use)\n",
                auditfs_verifier_name(key), auditfs_verifier_key_id(key), res.head.origin,
                auditfs_state_path(st));
    auditfs_verifier_free(key);
    *out = l;
    if (st_out)
        *st_out = st;
    else
        auditfs_state_free(st);
    return 0;
fail:
    auditfs_ledger_free(l);
    auditfs_state_free(st);
    auditfs_verifier_free(key);
    return rc;
}

int
cli_pinned_key(auditfs_verifier **out, auditfs_state *st, const char *origin)
{
    auditfs_verifier **keys = NULL;
    size_t n = 0;
    int err = auditfs_state_keys(&keys, &n, st, origin);
    if (err)
        return cli_fail(err, "pinned keys");
    if (n == 0) {
        fprintf(stderr, "auditfs: no verifier key is pinned for origin \"%s\"\n", origin);
        return EXIT_KEY;
    }
    char *s = NULL;
    err = auditfs_verifier_format(&s, keys[0]);
    if (!err)
        err = auditfs_verifier_parse(out, s, strlen(s));
    free(s);
    auditfs_state_keys_free(keys, n);
    return err ? cli_fail(err, "pinned key") : 0;
}

/* ---- auditfs trust ---- */

static const char trust_help[] =
    "usage: auditfs trust add KEY.pub [--origin O]     pin a verifier key (origin: the key's name)\n"
    "       auditfs trust list [--origin O]            pinned keys and remembered checkpoints\n"
    "       auditfs trust remove KEY.pub [--origin O]  unpin a key\n"
    "       auditfs trust unbind --ledger DIR          forget which origin DIR holds\n"
    "       auditfs trust check-evidence DIR --key KEY.pub\n"
    "                                                  check an evidence directory offline\n"
    "\n"
    "The verifier's memory lives in $AUDITFS_STATE (default $XDG_STATE_HOME/auditfs, i.e.\n"
    "~/.local/state/auditfs; system services use /var/lib/auditfs). For each origin it keeps the\n"
    "pinned verifier keys, the newest signed checkpoint this party verified and the newest it\n"
    "signed, and evidence/ of every fork or rollback seen. Keys are never taken from a ledger:\n"
    "they are pinned here, by `auditfs init` (the provider's own key), or by --key on first use.\n"
    "Every reading command checks that the ledger extends what this party saw before (exit 8\n"
    "otherwise, with the evidence written).\n";

static int
trust_add_remove(int remove, const char *keyfile, const char *origin)
{
    auditfs_verifier *v = NULL;
    auditfs_state *st = NULL;
    int err, rc;
    if ((err = auditfs_verifier_load(&v, keyfile)) != 0)
        return cli_fail(err, keyfile);
    if (!origin)
        origin = auditfs_verifier_name(v);
    if ((rc = cli_state_open(&st)) != 0) {
        auditfs_verifier_free(v);
        return rc;
    }
    err = remove ? auditfs_state_unpin(st, origin, v) : auditfs_state_pin(st, origin, v);
    if (err)
        rc = cli_fail(err, remove ? "trust remove" : "trust add");
    else
        fprintf(stderr, "auditfs: %s key %s+%08x for origin \"%s\" in %s\n",
                remove ? "removed" : "pinned", auditfs_verifier_name(v),
                auditfs_verifier_key_id(v), origin, auditfs_state_path(st));
    auditfs_state_free(st);
    auditfs_verifier_free(v);
    return rc;
}

static void
print_remembered(auditfs_state *st, const char *origin, int kind, const char *label)
{
    char *note = NULL;
    size_t len;
    auditfs_checkpoint cp;
    if (auditfs_state_checkpoint(&note, &len, st, origin, kind) != 0)
        return;
    const char *sep = strstr(note, "\n\n");
    if (sep && auditfs_checkpoint_parse(&cp, note, (size_t)(sep - note) + 1) == 0) {
        char root[48];
        auditfs_hash_base64(root, &cp.root);
        printf("  %s size %llu root %s\n", label, (unsigned long long)cp.size, root);
    }
    free(note);
}

static int
trust_list(const char *only)
{
    auditfs_state *st = NULL;
    char **origins = NULL;
    size_t n = 0;
    int err, rc = cli_state_open(&st);
    if (rc)
        return rc;
    if ((err = auditfs_state_origins(&origins, &n, st)) != 0) {
        rc = cli_fail(err, "trust list");
        goto out;
    }
    printf("state %s\n", auditfs_state_path(st));
    for (size_t i = 0; i < n; i++) {
        if (only && strcmp(only, origins[i]) != 0)
            continue;
        auditfs_verifier **keys = NULL;
        size_t nk = 0;
        printf("origin %s\n", origins[i]);
        if (auditfs_state_keys(&keys, &nk, st, origins[i]) == 0) {
            for (size_t k = 0; k < nk; k++) {
                char *s = NULL;
                if (auditfs_verifier_format(&s, keys[k]) == 0)
                    printf("  key %s\n", s);
                free(s);
            }
            auditfs_state_keys_free(keys, nk);
        }
        print_remembered(st, origins[i], AUDITFS_STATE_SEEN, "seen  ");
        print_remembered(st, origins[i], AUDITFS_STATE_SIGNED, "signed");
    }
out:
    for (size_t i = 0; i < n; i++)
        free(origins[i]);
    free(origins);
    auditfs_state_free(st);
    return rc;
}

static int
trust_unbind(const char *ledger)
{
    auditfs_state *st = NULL;
    const char *path = cli_ledger_path(ledger);
    if (!path)
        return cli_usage_error("trust unbind needs --ledger DIR");
    int rc = cli_state_open(&st);
    if (rc)
        return rc;
    int err = auditfs_state_unbind(st, path);
    if (err)
        rc = cli_fail(err, "trust unbind");
    auditfs_state_free(st);
    return rc;
}

/* Reads DIR/name (a note or proof) into a malloc'd buffer. */
static int
read_in(char **out, size_t *len, const char *dir, const char *name, size_t max)
{
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return auditfs_read_file((uint8_t **)out, len, p, max);
}

/*
 * Offline check of an evidence directory with only the provider's key: both notes must verify
 * with it for one origin; then either they have one size and two roots (equivocation), or the
 * proof shows that the presented tree has another root at the remembered size than the
 * remembered checkpoint (a fork), or the presented one is smaller (a rollback of the storage,
 * not by itself a contradiction of the provider).
 */
/* The presented tree's root at the remembered size, from the evidence README's
 * presented-root-at-remembered-size line. 0 or an exit code (printed). */
static int
readme_root(auditfs_hash *at, const char *dir)
{
    char *readme = NULL;
    size_t ml;
    int rc = 0;
    const char *line;
    if (read_in(&readme, &ml, dir, "README", 65536) != 0 ||
        (line = strstr(readme, "\npresented-root-at-remembered-size ")) == NULL) {
        fprintf(stderr, "auditfs: %s/README: no presented-root-at-remembered-size line\n", dir);
        rc = EXIT_DATA;
        goto cleanup;
    }
    line += strlen("\npresented-root-at-remembered-size ");
    const char *nl = strchr(line, '\n');
    char b64[64];
    size_t bl = nl ? (size_t)(nl - line) : strlen(line);
    if (bl != 44) {
        fprintf(stderr, "auditfs: %s/README: bad root\n", dir);
        rc = EXIT_DATA;
        goto cleanup;
    }
    memcpy(b64, line, bl);
    b64[bl] = 0;
    /* reuse the checkpoint parser for strict base64 of a 32-byte hash */
    {
        char text[600];
        auditfs_checkpoint tmp;
        snprintf(text, sizeof text, "x\n1\n%s\n", b64);
        if (auditfs_checkpoint_parse(&tmp, text, strlen(text)) != 0) {
            fprintf(stderr, "auditfs: %s/README: bad root\n", dir);
            rc = EXIT_DATA;
            goto cleanup;
        }
        *at = tmp.root;
    }
cleanup:
    free(readme);
    return rc;
}

static int
trust_check_evidence(const char *dir, const char *keyfile)
{
    auditfs_verifier *v = NULL;
    char *rn = NULL, *pn = NULL, *pj = NULL;
    size_t rl, pl, jl;
    auditfs_checkpoint r, p;
    int err, rc = 0;
    if (!keyfile)
        return cli_usage_error("check-evidence needs --key KEY.pub");
    if ((err = auditfs_verifier_load(&v, keyfile)) != 0)
        return cli_fail(err, keyfile);
    if ((err = read_in(&rn, &rl, dir, "remembered.checkpoint", 65536)) != 0 ||
        (err = read_in(&pn, &pl, dir, "presented.checkpoint", 65536)) != 0) {
        rc = cli_fail(err, dir);
        goto out;
    }
    if ((err = auditfs_checkpoint_open(&r, rn, rl, v, NULL)) != 0) {
        rc = cli_fail(err, "remembered.checkpoint");
        goto out;
    }
    if ((err = auditfs_checkpoint_open(&p, pn, pl, v, r.origin)) != 0) {
        rc = cli_fail(err, "presented.checkpoint");
        goto out;
    }
    if (r.size == p.size) {
        if (auditfs_hash_equal(&r.root, &p.root)) {
            fprintf(stderr, "auditfs: the two checkpoints are the same: no contradiction\n");
            rc = EXIT_VERIFY;
        } else
            printf("equivocation: key %s+%08x signed two roots for size %llu of %s\n",
                   auditfs_verifier_name(v), auditfs_verifier_key_id(v),
                   (unsigned long long)r.size, r.origin);
        goto out;
    }
    if (p.size < r.size) {
        printf("rollback: both checkpoints verify; the ledger presented size %llu after this "
               "party had seen %llu of %s (stale or rolled-back storage)\n",
               (unsigned long long)p.size, (unsigned long long)r.size, r.origin);
        goto out;
    }
    /* a fork: the presented tree's root at the remembered size, and the proof to its head */
    auditfs_hash at;
    auditfs_consistency_proof cproof;
    if ((rc = readme_root(&at, dir)) != 0)
        goto out;
    if (r.size > 0) {
        if ((err = read_in(&pj, &jl, dir, "consistency.json", 1 << 20)) != 0 ||
            (err = auditfs_consistency_proof_from_json(&cproof, pj, jl)) != 0) {
            rc = cli_fail(err, "consistency.json");
            goto out;
        }
        if (cproof.first != r.size || cproof.second != p.size ||
            auditfs_merkle_verify_consistency(r.size, p.size, &at, &p.root, cproof.path,
                                              cproof.path_len) != 0) {
            fprintf(stderr, "auditfs: consistency.json does not prove the presented tree's root "
                            "at the remembered size\n");
            rc = EXIT_VERIFY;
            goto out;
        }
    }
    if (auditfs_hash_equal(&at, &r.root)) {
        fprintf(stderr, "auditfs: the presented tree extends the remembered one: no fork\n");
        rc = EXIT_VERIFY;
        goto out;
    }
    printf("fork: key %s+%08x signed size %llu of %s, and size %llu of a tree whose first %llu "
           "entries have another root (proven by consistency.json)\n",
           auditfs_verifier_name(v), auditfs_verifier_key_id(v), (unsigned long long)r.size,
           r.origin, (unsigned long long)p.size, (unsigned long long)r.size);
out:
    free(rn);
    free(pn);
    free(pj);
    auditfs_verifier_free(v);
    return rc;
}

int
cmd_trust(int argc, char **argv)
{
    const char *origin = NULL, *ledger = NULL, *key = NULL;
    int c;
    static const struct option opts[] = {{"origin", required_argument, 0, 'O'},
                                         {"ledger", required_argument, 0, 'l'},
                                         {"key", required_argument, 0, 'k'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'O': origin = optarg; break;
        case 'l': ledger = optarg; break;
        case 'k': key = optarg; break;
        case 'h': fputs(trust_help, stdout); return 0;
        default: return EXIT_USAGE;
        }
    }
    if (optind >= argc)
        return cli_usage_error("trust needs add, list, remove, unbind or check-evidence");
    const char *sub = argv[optind];
    int nargs = argc - optind - 1;
    if (!strcmp(sub, "add") || !strcmp(sub, "remove")) {
        if (nargs != 1)
            return cli_usage_error("trust %s needs KEY.pub", sub);
        return trust_add_remove(sub[0] == 'r', argv[optind + 1], origin);
    }
    if (!strcmp(sub, "list") && nargs == 0)
        return trust_list(origin);
    if (!strcmp(sub, "unbind") && nargs == 0)
        return trust_unbind(ledger);
    if (!strcmp(sub, "check-evidence") && nargs == 1)
        return trust_check_evidence(argv[optind + 1], key);
    return cli_usage_error("trust: unknown subcommand or wrong arguments '%s'", sub);
}
