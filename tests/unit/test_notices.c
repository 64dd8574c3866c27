/*
 * tests/unit/test_notices.c - the notices and document versions a copy gained between two sizes
 * (auditfs/notices.h: the walk, its root and bounds checks, the line and the hook environment),
 * and a provider's memory of its witnesses' sizes (auditfs_witness_size_get/put).
 */
#include "auditfs/ledger.h"
#include "auditfs/merkle.h"
#include "auditfs/notices.h"
#include "auditfs/state.h"
#include "auditfs/trust.h"
#include "auditfs/witness.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char dir[64], ledger[96];
static auditfs_signer *key;

static void
add(auditfs_writer *w, const char *type, const char *name, const char *title,
    const char *tenant, int64_t effective_us, const char *content)
{
    auditfs_entry e;
    memset(&e, 0, sizeof e);
    snprintf(e.type, sizeof e.type, "%s", type);
    snprintf(e.stream, sizeof e.stream, "%s", !strcmp(type, "log") ? "api" : type);
    snprintf(e.tenant, sizeof e.tenant, "%s", tenant);
    if (!strcmp(type, "log")) {
        e.payload = (const uint8_t *)"{\"a\":1}";
        e.payload_len = 7;
        cr_assert_eq(auditfs_writer_add(w, &e, NULL, 0, NULL), 0, "%s", auditfs_error_last());
        return;
    }
    snprintf(e.name, sizeof e.name, "%s", name);
    snprintf(e.title, sizeof e.title, "%s", title);
    snprintf(e.content_type, sizeof e.content_type, "text/plain");
    if (effective_us) {
        e.effective_us = effective_us;
        e.has_effective = 1;
    }
    cr_assert_eq(auditfs_writer_add(w, &e, content, strlen(content), NULL), 0, "%s",
                 auditfs_error_last());
}

static void
commit_batch(int which)
{
    auditfs_writer *w = NULL;
    auditfs_writer_options o = AUDITFS_WRITER_OPTIONS_INIT;
    o.wait_for_lock = 1;
    cr_assert_eq(auditfs_writer_open(&w, ledger, key, &o), 0, "%s", auditfs_error_last());
    if (which == 0) {
        add(w, "log", "", "", "acme", 0, "");
        add(w, "document", "sla/acme", "", "acme", 0, "SLA v1\n");
        add(w, "log", "", "", "acme", 0, "");
    } else {
        add(w, "notice", "", "Planned maintenance", "acme", 1893456000000000LL, "window\n");
        add(w, "log", "", "", "acme", 0, "");
        add(w, "notice", "", "Other tenant", "beta", 0, "x\n");
        add(w, "document", "sla/acme", "", "acme", 0, "SLA v2\n");
    }
    cr_assert_eq(auditfs_writer_commit(w, NULL), 0, "%s", auditfs_error_last());
    auditfs_writer_free(w);
}

static void
setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/auditfs-notices.XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(ledger, sizeof ledger, "%s/ledger", dir);
    cr_assert_eq(auditfs_signer_generate(&key, "notices.example"), 0);
    cr_assert_eq(auditfs_ledger_init(ledger, key, "notices.example"), 0, "%s",
                 auditfs_error_last());
    commit_batch(0);
    commit_batch(1);
}

static void
teardown(void)
{
    char cmd[128];
    auditfs_signer_free(key);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

struct seen {
    uint64_t seq[16];
    char line[16][512];
    size_t n;
};

static int
collect(void *ctx, const auditfs_entry *e)
{
    struct seen *s = ctx;
    char *line = NULL;
    cr_assert_lt(s->n, 16);
    cr_assert_eq(auditfs_notice_line(&line, e), 0);
    snprintf(s->line[s->n], sizeof s->line[s->n], "%s", line);
    free(line);
    s->seq[s->n++] = e->seq;
    return 0;
}

TestSuite(notices, .init = setup, .fini = teardown);

Test(notices, between_two_sizes_only_notices_and_documents)
{
    auditfs_ledger *l = NULL;
    struct seen s = {0};
    cr_assert_eq(auditfs_ledger_open(&l, ledger), 0);
    /* size 3 -> 7: the notice (3), the other tenant's notice (5) and SLA v2 (6); not the log */
    cr_assert_eq(auditfs_notices_between(l, 3, 7, NULL, NULL, collect, &s), 0, "%s",
                 auditfs_error_last());
    cr_assert_eq(s.n, 3);
    cr_assert_eq(s.seq[0], 3);
    cr_assert_eq(s.seq[1], 5);
    cr_assert_eq(s.seq[2], 6);
    cr_assert(!strncmp(s.line[0], "new notice 3: \"Planned maintenance\", tenant acme, 7 bytes, "
                                  "published ", 69), "%s", s.line[0]);
    cr_assert(strstr(s.line[0], ", effective 2030-01-01T00:00:00Z (lead time "), "%s", s.line[0]);
    cr_assert(!strncmp(s.line[2], "new document 6: sla/acme v2, tenant acme, 7 bytes, published ",
                       61), "%s", s.line[2]);
    cr_assert_null(strstr(s.line[2], "effective"));
    /* with a tenant: the other tenant's notice is left out */
    memset(&s, 0, sizeof s);
    cr_assert_eq(auditfs_notices_between(l, 0, 7, NULL, "acme", collect, &s), 0);
    cr_assert_eq(s.n, 3);
    cr_assert_eq(s.seq[0], 1);
    cr_assert_eq(s.seq[1], 3);
    cr_assert_eq(s.seq[2], 6);
    /* nothing between equal sizes */
    memset(&s, 0, sizeof s);
    cr_assert_eq(auditfs_notices_between(l, 3, 3, NULL, NULL, collect, &s), 0);
    cr_assert_eq(s.n, 0);
    auditfs_ledger_free(l);
}

Test(notices, bounds_and_the_verified_root)
{
    auditfs_ledger *l = NULL;
    struct seen s = {0};
    auditfs_hash root, other;
    cr_assert_eq(auditfs_ledger_open(&l, ledger), 0);
    cr_assert_eq(auditfs_notices_between(l, 5, 3, NULL, NULL, collect, &s), AUDITFS_EINVAL);
    cr_assert_eq(auditfs_notices_between(l, 0, 8, NULL, NULL, collect, &s), AUDITFS_EINVAL);
    cr_assert_eq(auditfs_ledger_root_at(&root, l, 3), 0);
    cr_assert_eq(auditfs_notices_between(l, 0, 3, &root, NULL, collect, &s), 0);
    cr_assert_eq(s.n, 1);
    other = root;
    other.b[31] ^= 1;
    cr_assert_eq(auditfs_notices_between(l, 0, 3, &other, NULL, collect, &s), AUDITFS_EVERIFY,
                 "a handle whose root differs from the verified one is refused");
    auditfs_ledger_free(l);
}

static int
stop_at_first(void *ctx, const auditfs_entry *e)
{
    (void)e;
    (*(int *)ctx)++;
    return 42;
}

Test(notices, callback_stops_the_walk)
{
    auditfs_ledger *l = NULL;
    int calls = 0;
    cr_assert_eq(auditfs_ledger_open(&l, ledger), 0);
    cr_assert_eq(auditfs_notices_between(l, 0, 7, NULL, NULL, stop_at_first, &calls), 42);
    cr_assert_eq(calls, 1);
    auditfs_ledger_free(l);
}

static int
env_of(void *ctx, const auditfs_entry *e)
{
    char ***out = ctx;
    if (e->seq == 3)
        cr_assert_eq(auditfs_notice_env(out, e, "notices.example", "/srv/l", 7), 0);
    return 0;
}

static const char *
get(char **env, const char *name)
{
    size_t n = strlen(name);
    for (; *env; env++)
        if (!strncmp(*env, name, n) && (*env)[n] == '=')
            return *env + n + 1;
    return NULL;
}

Test(notices, hook_environment)
{
    auditfs_ledger *l = NULL;
    char **env = NULL;
    cr_assert_eq(auditfs_ledger_open(&l, ledger), 0);
    cr_assert_eq(auditfs_notices_between(l, 0, 7, NULL, NULL, env_of, &env), 0);
    cr_assert_not_null(env);
    cr_assert_str_eq(get(env, "AUDITFS_NOTICE_INDEX"), "3");
    cr_assert_str_eq(get(env, "AUDITFS_NOTICE_TYPE"), "notice");
    cr_assert_str_eq(get(env, "AUDITFS_NOTICE_TITLE"), "Planned maintenance");
    cr_assert_str_eq(get(env, "AUDITFS_NOTICE_NAME"), "");
    cr_assert_str_eq(get(env, "AUDITFS_NOTICE_VERSION"), "");
    cr_assert_str_eq(get(env, "AUDITFS_NOTICE_TENANT"), "acme");
    cr_assert_str_eq(get(env, "AUDITFS_NOTICE_EFFECTIVE"), "2030-01-01T00:00:00.000000Z");
    cr_assert_str_eq(get(env, "AUDITFS_NOTICE_SIZE"), "7");
    /* SHA-256("window\n") */
    cr_assert_str_eq(get(env, "AUDITFS_NOTICE_SHA256"),
                     "6d3929ad0e72c76ef7f249ed7b4cb922040c51d64fe0b625a6d3c2eaea2833ae");
    cr_assert_str_eq(get(env, "AUDITFS_NOTICE_CONTENT_TYPE"), "text/plain");
    cr_assert_str_eq(get(env, "AUDITFS_ORIGIN"), "notices.example");
    cr_assert_str_eq(get(env, "AUDITFS_LEDGER"), "/srv/l");
    cr_assert_str_eq(get(env, "AUDITFS_TREE_SIZE"), "7");
    long long lead = atoll(get(env, "AUDITFS_NOTICE_LEAD_SECONDS"));
    cr_assert_gt(lead, 0);
    auditfs_notice_env_free(env);
    auditfs_ledger_free(l);
}

Test(notices, witness_size_memory)
{
    auditfs_state *st = NULL;
    auditfs_signer *ws = NULL;
    auditfs_verifier *wv = NULL;
    uint64_t size = 1;
    char path[256], cmd[512];
    snprintf(path, sizeof path, "%s/state", dir);
    cr_assert_eq(auditfs_state_open(&st, path), 0, "%s", auditfs_error_last());
    cr_assert_eq(auditfs_signer_generate(&ws, "org.example/witness"), 0);
    cr_assert_eq(auditfs_signer_verifier(&wv, ws), 0);
    cr_assert_eq(auditfs_witness_size_get(&size, st, "notices.example", wv), AUDITFS_ENOTFOUND);
    cr_assert_eq(auditfs_witness_size_put(st, "notices.example", wv, 1234), 0);
    cr_assert_eq(auditfs_witness_size_get(&size, st, "notices.example", wv), 0);
    cr_assert_eq(size, 1234);
    cr_assert_eq(auditfs_witness_size_put(st, "notices.example", wv, 7), 0);
    cr_assert_eq(auditfs_witness_size_get(&size, st, "notices.example", wv), 0);
    cr_assert_eq(size, 7, "a smaller size replaces it too (a 409 may teach one)");
    cr_assert_eq(auditfs_witness_size_get(&size, st, "other.example", wv), AUDITFS_ENOTFOUND,
                 "per origin");
    snprintf(cmd, sizeof cmd, "printf 012 > %s/origins/notices.example/witnesses/"
             "org.example_witness+%08x", path, (unsigned)auditfs_cosig_key_id(wv));
    cr_assert_eq(system(cmd), 0);
    cr_assert_eq(auditfs_witness_size_get(&size, st, "notices.example", wv), AUDITFS_EFORMAT,
                 "not canonical, no newline: malformed");
    auditfs_verifier_free(wv);
    auditfs_signer_free(ws);
    auditfs_state_free(st);
}
