/*
 * cli/help.c - what the dispatcher adds to every command: "did you mean" for mistyped
 * commands and options, and the examples appended to each command's --help.
 *
 * Options are checked through cli_getopt_long, which cli.h substitutes for getopt_long in
 * every cli/ file: when getopt rejects an unknown long option, the suggestion is computed from
 * the very option table the command passed, so a new command gets suggestions with no code.
 */
#define AUDITFS_CLI_NO_GETOPT_WRAP 1
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

/*
 * Edit distance of a and b (optimal string alignment: insertions, deletions, substitutions
 * and transpositions of neighbours each cost 1, so "--jsno" is one edit from "--json").
 * Strings longer than 63 bytes are never "close".
 */
static size_t
edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t d[64][64];
    if (la > 63 || lb > 63)
        return SIZE_MAX;
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < best)
                best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[la][lb];
}

const char *
cli_closest(const char *word, const char *const *candidates, size_t n)
{
    const char *best = NULL;
    size_t best_d = SIZE_MAX;
    size_t wl = strlen(word);
    for (size_t i = 0; i < n; i++) {
        if (!candidates[i])
            continue;
        size_t d = edit_distance(word, candidates[i]);
        /* a prefix of a real name is a plausible abbreviation too */
        if (wl >= 3 && strncmp(word, candidates[i], wl) == 0)
            d = 1;
        if (d < best_d) {
            best_d = d;
            best = candidates[i];
        }
    }
    /* close enough: at most a third of the word (min 1, max 3) edits away */
    size_t limit = wl / 3;
    limit = limit < 1 ? 1 : limit > 3 ? 3 : limit;
    return best_d <= limit ? best : NULL;
}

int
cli_getopt_long(int argc, char *const argv[], const char *optstring,
                const struct option *longopts, int *longindex)
{
    int prev = optind;
    int c = getopt_long(argc, argv, optstring, longopts, longindex);
    if (c != '?' || !longopts)
        return c;
    /* getopt already said "unrecognized option"; find the word it rejected */
    int at = optind > prev ? optind - 1 : prev;
    if (at <= 0 || at >= argc || strncmp(argv[at], "--", 2) != 0)
        return c;
    char name[64];
    const char *w = argv[at] + 2;
    size_t wl = strcspn(w, "=");
    if (wl == 0 || wl >= sizeof name)
        return c;
    memcpy(name, w, wl);
    name[wl] = 0;
    const char *cands[128];
    size_t n = 0;
    for (const struct option *o = longopts; o->name && n < 128; o++)
        cands[n++] = o->name;
    const char *best = cli_closest(name, cands, n);
    if (best && strcmp(best, name) != 0)
        fprintf(stderr, "auditfs: did you mean '--%s'?\n", best);
    return c;
}

/* ---- examples shown at the end of each command's --help (and in its man page) ---- */

struct example {
    const char *cmd;
    const char *text;
};

static const struct example examples[] = {
    {"keygen", "  auditfs keygen provider.example/acme -o provider.key\n"},
    {"init", "  auditfs init --ledger /srv/ledgers/acme --key provider.key\n"
             "  auditfs init --ledger /srv/ledgers/acme-t1 --key provider.key --origin acme/t1\n"},
    {"append", "  tail -F /var/log/api-audit.jsonl | auditfs append --ledger /srv/ledgers/acme \\\n"
               "      --key provider.key --stream api --tenant acme --party provider --layer platform\n"
               "  auditfs append --key provider.key --stream api --json --quarantine batch.jsonl\n"
               "  auditfs append --key provider.key --stream api --follow api-audit.jsonl ops.jsonl\n"
               "  auditfs append --key provider.key --stream api --map tenant=org,time=eventTime \\\n"
               "      --route-by tenant --ledgers ledgers in.jsonl\n"},
    {"publish", "  auditfs publish --key provider.key --name sla/acme-compute sla-v3.md\n"},
    {"notice", "  auditfs notice --key provider.key --title \"Planned maintenance\" \\\n"
               "      --effective 2026-12-01 notice.md\n"},
    {"checkpoint", "  auditfs checkpoint --ledger /srv/ledgers/acme > kept.checkpoint\n"
                   "  auditfs checkpoint --size 1000 --json\n"},
    {"verify", "  auditfs verify --ledger /srv/ledgers/acme --key provider.key.pub\n"
               "  auditfs verify --key provider.key.pub --trusted kept.checkpoint --json\n"},
    {"prove", "  auditfs prove --index 42\n  auditfs prove --index 42 --tlog-proof > entry42.proof\n"},
    {"consistency", "  auditfs consistency --from 1000 --to 2000\n"},
    {"leaf", "  auditfs leaf 42 > entry42.leaf\n"},
    {"leaves", "  auditfs leaves --from 0 --to 10\n"},
    {"log", "  auditfs log --stream api --from 100 --to 200\n  auditfs log --json | jq .\n"},
    {"mount", "  auditfs mount --ledger /srv/ledgers/acme --key provider.key.pub /mnt/audit\n"
              "  mount -t fuse.auditfs /srv/ledgers/acme /mnt/audit -o key=provider.key.pub\n"
              "  auditfs mount --ledger acme --follow --on-notice /usr/local/bin/page-legal /mnt/acme\n"
              "  auditfs mount --ledger acme=/srv/acme --ledger prov=/srv/prov --policy acme=acme.policy --witness prov=assessor.pub --quorum prov=1 /mnt/audit\n"},
    {"umount", "  auditfs umount /mnt/audit\n"},
    {"query", "  auditfs query actor=ops-7 --since 2026-11-17 --until 2026-11-18 | jq .\n"
              "  auditfs query _stream=api result!=success --entries\n"},
    {"index", "  auditfs index --json\n  auditfs index --rebuild --fields actor,action\n"},
    {"incident", "  auditfs incident --since 2026-11-17T02:00Z --until 2026-11-17T04:00Z actor=ops-7 \\\n"
                 "      --ledger /srv/ledgers/acme --key provider.key.pub -o bundle/\n"
                 "  auditfs incident --since 2026-11-17 --until 2026-11-18 --time event \\\n"
                 "      --ledger /srv/ledgers/acme --key provider.key.pub -o by-event-time/\n"
                 "  auditfs incident --check bundle/ --ledger /srv/ledgers/acme\n"},
    {"verify-bundle", "  auditfs verify-bundle bundle/ --key provider.key.pub --json\n"},
    {"archive", "  auditfs archive --ledger /srv/ledgers/acme -o acme-2026.bundle\n"},
    {"status", "  auditfs status --ledger /srv/ledgers/acme\n  auditfs status --json | jq .size\n"},
    {"export", "  auditfs export --ledger /srv/ledgers/acme --tlog-tiles /var/www/tlog/acme\n"},
    {"allowed-signers", "  auditfs allowed-signers --key provider.key.pub > allowed_signers\n"
                        "  git -C acme -c gpg.format=ssh -c gpg.ssh.allowedSignersFile=$PWD/allowed_signers \\\n"
                        "      log --show-signature\n"
                        "  auditfs allowed-signers --key provider.key.pub --public-key\n"},
    {"clone", "  auditfs clone https://git.provider.example/acme.git acme --key provider.key.pub\n"
              "  auditfs clone /srv/ledgers/acme acme-copy --key provider.key.pub \\\n"
              "      --origin provider.example/acme --remote provider\n"
              "  auditfs clone https://git.provider.example/acme.git acme --key provider.key.pub \\\n"
              "      --witness customer-a.pub --witness assessor.pub --quorum 2 --max-age 1d\n"},
    {"sync", "  auditfs sync --ledger acme\n"
             "  auditfs sync --ledger acme --remote https://mirror.example/acme.git --key provider.key.pub\n"
             "  auditfs sync --ledger acme --witness customer-a.pub --witness assessor.pub --quorum 2\n"
             "  auditfs sync --ledger acme --policy witnesses.policy --max-age 1h\n"
             "  auditfs sync --ledger acme --on-notice /usr/local/bin/page-legal\n"},
    {"push", "  auditfs push git://git.provider.example/acme.git --ledger /srv/ledgers/acme\n"
             "  git init -q --bare /srv/mirror/acme.git\n"
             "  auditfs push /srv/mirror/acme.git --ledger /srv/ledgers/acme\n"},
    {"cosign", "  auditfs cosign --ledger acme.git --key cust.key --log-key provider.key.pub\n"
               "  auditfs checkpoint --ledger acme.git > mailed.checkpoint\n"},
    {"cosignatures", "  auditfs cosignatures add --ledger /srv/ledgers/acme --witness cust.key.pub \\\n"
                     "      mailed.checkpoint\n"
                     "  auditfs cosignatures list --ledger /srv/ledgers/acme\n"},
    {"witness", "  auditfs witness serve --key cust.key --listen 127.0.0.1:7380 \\\n"
                "      --log provider.example/acme=provider.key.pub\n"
                "  auditfs witness request --ledger /srv/ledgers/acme \\\n"
                "      --witness http://127.0.0.1:7380=cust.key.pub\n"},
    {"acks", "  auditfs acks --ledger /srv/ledgers/acme --witness cust.key.pub --tenant acme\n"
             "  auditfs acks --witness cust.key.pub --witness assessor.key.pub --json\n"},
    {"trust", "  auditfs trust add provider.key.pub --origin provider.example/acme\n"
              "  auditfs trust list\n"
              "  auditfs trust check-evidence ~/.local/state/auditfs/origins/*/evidence/* \\\n"
              "      --key provider.key.pub\n"},
    {NULL, NULL}};

void
cli_print_examples(const char *cmd)
{
    for (const struct example *e = examples; e->cmd; e++) {
        if (strcmp(e->cmd, cmd) == 0) {
            printf("\nExamples:\n%s", e->text);
            return;
        }
    }
}
