/*
 * ledger/notices.c - the notices and document versions a copy gained between two sizes
 * (auditfs/notices.h): one walk, one line format and one hook environment for `auditfs sync`
 * and `auditfs mount --follow`.
 *
 * Invariant: only entries already checked against the head tiles (the cursor's check) are
 * reported, and with a root given only from the history whose root at `to` the caller verified.
 */
#include "internal.h"
#include "auditfs/merkle.h"
#include "auditfs/notices.h"
#include "auditfs/trust.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

int
auditfs_notices_between(auditfs_ledger *l, uint64_t from, uint64_t to, const auditfs_hash *root,
                        const char *tenant, auditfs_notice_cb cb, void *ctx)
{
    auditfs_cursor *cur = NULL;
    auditfs_checkpoint head;
    int err;
    if (!l || !cb)
        return afs_error_set(AUDITFS_EINVAL, "auditfs_notices_between: NULL argument");
    if ((err = auditfs_ledger_head(&head, l)) != 0)
        return err;
    if (from > to || to > head.size)
        return afs_error_set(AUDITFS_EINVAL, "notices between sizes %" PRIu64 " and %" PRIu64
                             ": the ledger has %" PRIu64, from, to, head.size);
    if (from == to)
        return 0;
    if (root) {
        auditfs_hash r;
        if ((err = auditfs_ledger_root_at(&r, l, to)) != 0)
            return err;
        if (!auditfs_hash_equal(&r, root))
            return afs_error_set(AUDITFS_EVERIFY, "the ledger's root at size %" PRIu64
                                 " is not the verified one: another history", to);
    }
    if ((err = auditfs_cursor_new(&cur, l, from, to)) != 0)
        return err;
    const uint8_t *leaf;
    size_t len;
    int stop = 0;
    while (!stop && (err = auditfs_cursor_next(cur, &leaf, &len)) == 1) {
        auditfs_entry e;
        if ((err = auditfs_entry_parse(&e, leaf, len)) != 0)
            break;
        auditfs_entry_type type = auditfs_entry_type_of(&e);
        if (type != AUDITFS_TYPE_NOTICE && type != AUDITFS_TYPE_DOCUMENT)
            continue;
        if (tenant && e.tenant[0] && strcmp(e.tenant, tenant) != 0)
            continue;
        if ((stop = cb(ctx, &e)) != 0)
            break;
    }
    if (stop)
        err = stop; /* the callback's own result, whatever its sign */
    else if (err > 0)
        err = 0;
    auditfs_cursor_free(cur);
    return err;
}

/* "2026-11-29T16:40:00Z": the ledger time to the second, for a line a person reads */
static void
short_time(char out[32], int64_t us)
{
    char t[32];
    auditfs_format_time(t, us);
    snprintf(out, 32, "%.19sZ", t);
}

int
auditfs_notice_line(char **out, const auditfs_entry *e)
{
    afs_buf b = AFS_BUF_INIT;
    char esc[4 * AUDITFS_TITLE_MAX + 8], t[32], d[32];
    int notice, err;
    if (!out || !e)
        return afs_error_set(AUDITFS_EINVAL, "auditfs_notice_line: NULL argument");
    notice = auditfs_entry_type_of(e) == AUDITFS_TYPE_NOTICE;
    *out = NULL;
    if (notice) {
        afs_escape(esc, sizeof esc, e->title, strlen(e->title));
        err = afs_buf_printf(&b, "new notice %" PRIu64 ": \"%s\"", e->seq, esc);
    } else {
        afs_escape(esc, sizeof esc, e->name, strlen(e->name));
        err = afs_buf_printf(&b, "new %s %" PRIu64 ": %s v%" PRIu64, e->type, e->seq, esc,
                             e->version);
    }
    if (!err && e->tenant[0]) {
        afs_escape(esc, sizeof esc, e->tenant, strlen(e->tenant));
        err = afs_buf_printf(&b, ", tenant %s", esc);
    }
    short_time(t, e->time_us);
    if (!err)
        err = afs_buf_printf(&b, ", %" PRIu64 " bytes, published %s", e->content_length, t);
    if (!err && e->has_effective) {
        short_time(t, e->effective_us);
        auditfs_format_duration(d, (e->effective_us - e->time_us) / 1000000);
        err = afs_buf_printf(&b, ", effective %s (lead time %s)", t, d);
    }
    if (err) {
        afs_buf_release(&b);
        return err;
    }
    *out = afs_buf_detach(&b, NULL);
    return 0;
}

void
auditfs_notice_env_free(char **env)
{
    if (!env)
        return;
    for (char **p = env; *p; p++)
        free(*p);
    free(env);
}

#define NOTICE_ENV_VARS 15

int
auditfs_notice_env(char ***out, const auditfs_entry *e, const char *origin, const char *ledger,
                   uint64_t tree_size)
{
    char seq[24], ver[24], size[24], tsz[24], lead[24] = "", pub[32], eff[32] = "", hex[65];
    int notice;
    if (!out || !e)
        return afs_error_set(AUDITFS_EINVAL, "auditfs_notice_env: NULL argument");
    *out = NULL;
    notice = auditfs_entry_type_of(e) == AUDITFS_TYPE_NOTICE;
    snprintf(seq, sizeof seq, "%" PRIu64, e->seq);
    snprintf(ver, sizeof ver, "%" PRIu64, e->version);
    snprintf(size, sizeof size, "%" PRIu64, e->content_length);
    snprintf(tsz, sizeof tsz, "%" PRIu64, tree_size);
    auditfs_format_time(pub, e->time_us);
    if (e->has_effective) {
        auditfs_format_time(eff, e->effective_us);
        snprintf(lead, sizeof lead, "%lld", (long long)((e->effective_us - e->time_us) / 1000000));
    }
    hex[0] = 0;
    if (e->has_content)
        for (int i = 0; i < 32; i++)
            snprintf(hex + 2 * i, 3, "%02x", e->content_sha256[i]);
    const char *vars[NOTICE_ENV_VARS][2] = {
        {"AUDITFS_NOTICE_INDEX", seq},
        {"AUDITFS_NOTICE_TYPE", e->type},
        {"AUDITFS_NOTICE_TITLE", notice ? e->title : e->name},
        {"AUDITFS_NOTICE_NAME", notice ? "" : e->name},
        {"AUDITFS_NOTICE_VERSION", notice ? "" : ver},
        {"AUDITFS_NOTICE_TENANT", e->tenant},
        {"AUDITFS_NOTICE_PUBLISHED", pub},
        {"AUDITFS_NOTICE_EFFECTIVE", eff},
        {"AUDITFS_NOTICE_LEAD_SECONDS", lead},
        {"AUDITFS_NOTICE_SIZE", size},
        {"AUDITFS_NOTICE_SHA256", hex},
        {"AUDITFS_NOTICE_CONTENT_TYPE", e->content_type},
        {"AUDITFS_ORIGIN", origin ? origin : ""},
        {"AUDITFS_LEDGER", ledger ? ledger : ""},
        {"AUDITFS_TREE_SIZE", tsz},
    };
    char **env = calloc(NOTICE_ENV_VARS + 1, sizeof *env);
    if (!env)
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    for (size_t i = 0; i < NOTICE_ENV_VARS; i++) {
        size_t n = strlen(vars[i][0]) + strlen(vars[i][1]) + 2;
        if (!(env[i] = malloc(n))) {
            auditfs_notice_env_free(env);
            return afs_error_set(AUDITFS_ENOMEM, "out of memory");
        }
        snprintf(env[i], n, "%s=%s", vars[i][0], vars[i][1]);
    }
    *out = env;
    return 0;
}
