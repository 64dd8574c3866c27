/*
 * ledger/receipts.c - receipts: for every notice and document (SLA) version of a ledger, which
 * witness acknowledged it by cosigning a checkpoint that includes it, when, and how long after
 * publication. `auditfs acks` prints them; incident bundles carry them (receipts.md,
 * receipts.jsonl). The records and their text and JSON forms are the library's, so both agree.
 */
#include "internal.h"
#include "json.h"
#include "auditfs/witness.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

struct ack_witness {
    const auditfs_verifier *key;
    size_t n;
    uint64_t *size;  /* cosigned sizes, ascending */
    uint64_t *first; /* earliest cosignature time at that size */
};

/* Earliest cosignature by w of a size > seq: 1 and *t, *sz, or 0 if none. */
static int
ack_for(const struct ack_witness *w, uint64_t seq, uint64_t *t, uint64_t *sz)
{
    int found = 0;
    for (size_t i = 0; i < w->n; i++) {
        if (w->size[i] <= seq)
            continue;
        if (!found || w->first[i] < *t) {
            *t = w->first[i];
            *sz = w->size[i];
        }
        found = 1;
    }
    return found;
}

/*
 * Longer than a screen: gathers the cosignatures per witness from every stored cosigned
 * checkpoint up to size (each opened with logkey when given), then walks every entry up to size
 * once and passes one record per notice or document version to cb.
 */
int
auditfs_receipts_run(auditfs_ledger *l, uint64_t size, const auditfs_policy *p,
                     const char *tenant, const auditfs_verifier *logkey, const char *origin,
                     auditfs_receipt_cb cb, void *ctx)
{
    auditfs_cursor *cur = NULL;
    uint64_t *sizes = NULL;
    size_t nsizes = 0, nw = auditfs_policy_witness_count(p);
    struct ack_witness aw[AUDITFS_POLICY_MAX_ITEMS];
    auditfs_receipt_ack acks[AUDITFS_POLICY_MAX_ITEMS];
    int err;
    memset(aw, 0, sizeof aw);
    if (nw > AUDITFS_POLICY_MAX_ITEMS)
        return afs_error_set(AUDITFS_EINVAL, "more than %d witnesses", AUDITFS_POLICY_MAX_ITEMS);
    if ((err = auditfs_cosig_store_sizes(&sizes, &nsizes, l)) != 0)
        return err;
    for (size_t i = 0; i < nw; i++) {
        aw[i].key = auditfs_policy_witness(p, i);
        aw[i].size = calloc(nsizes + 1, sizeof *aw[i].size);
        aw[i].first = calloc(nsizes + 1, sizeof *aw[i].first);
        if (!aw[i].size || !aw[i].first) {
            err = afs_error_set(AUDITFS_ENOMEM, "out of memory");
            goto cleanup;
        }
    }
    for (size_t s = 0; s < nsizes; s++) {
        char *note = NULL;
        size_t len = 0;
        if (sizes[s] > size)
            continue;
        if ((err = auditfs_cosig_store_checkpoint(&note, &len, l, sizes[s])) != 0)
            goto cleanup;
        auditfs_checkpoint cp;
        if (logkey && (err = auditfs_checkpoint_open(&cp, note, len, logkey, origin)) != 0) {
            free(note);
            goto cleanup;
        }
        for (size_t i = 0; i < nw; i++) {
            uint64_t first, last;
            if (auditfs_cosig_verify(&first, &last, note, len, aw[i].key) == 0) {
                aw[i].size[aw[i].n] = sizes[s];
                aw[i].first[aw[i].n++] = first;
            }
        }
        auditfs_error_clear();
        free(note);
    }
    if ((err = auditfs_cursor_new(&cur, l, 0, size)) != 0)
        goto cleanup;
    const uint8_t *leaf;
    size_t leaf_len;
    while ((err = auditfs_cursor_next(cur, &leaf, &leaf_len)) == 1) {
        auditfs_entry e;
        if ((err = auditfs_entry_parse(&e, leaf, leaf_len)) != 0)
            goto cleanup;
        auditfs_entry_type type = auditfs_entry_type_of(&e);
        if (type != AUDITFS_TYPE_NOTICE && type != AUDITFS_TYPE_DOCUMENT)
            continue;
        if (tenant && e.tenant[0] && strcmp(e.tenant, tenant) != 0)
            continue;
        for (size_t i = 0; i < nw; i++) {
            acks[i].witness = auditfs_policy_witness_name(p, i);
            acks[i].time = acks[i].tree_size = 0;
            acks[i].acked = ack_for(&aw[i], e.seq, &acks[i].time, &acks[i].tree_size);
        }
        auditfs_receipt r = {&e, acks, nw};
        if ((err = cb(ctx, &r)) != 0)
            goto cleanup;
    }
    if (err > 0)
        err = 0;
cleanup:
    auditfs_cursor_free(cur);
    for (size_t i = 0; i < nw; i++) {
        free(aw[i].size);
        free(aw[i].first);
    }
    free(sizes);
    return err;
}

/* ---- the text and JSON forms ---- */

/* data (it may come from a peer) with control characters and backslashes as \xHH */
static int
put_escaped(afs_buf *o, const char *s)
{
    int err = 0;
    size_t n = strlen(s);
    for (size_t i = 0; i < n && !err; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n' && i + 1 == n)
            break;
        err = c < 0x20 || c == 0x7f || c == '\\' ? afs_buf_printf(o, "\\x%02x", c)
                                                 : afs_buf_put(o, &s[i], 1);
    }
    return err;
}

/* s as a JSON string literal (ledger/json.c's writer) */
static int
put_json(afs_buf *o, const char *s)
{
    return afs_json_put_string(o, (const uint8_t *)s, strlen(s));
}

static void
fmt_time_s(char out[32], uint64_t t)
{
    auditfs_format_time(out, (int64_t)t * 1000000);
    char *dot = strchr(out, '.'); /* seconds precision: drop the fraction */
    if (dot) {
        dot[0] = 'Z';
        dot[1] = 0;
    }
}

void
auditfs_format_duration(char out[32], int64_t s)
{
    const char *sign = s < 0 ? "-" : "";
    if (s < 0)
        s = -s;
    if (s < 120)
        snprintf(out, 32, "%s%llds", sign, (long long)s);
    else if (s < 7200)
        snprintf(out, 32, "%s%lldm%llds", sign, (long long)(s / 60), (long long)(s % 60));
    else if (s < 172800)
        snprintf(out, 32, "%s%lldh%lldm", sign, (long long)(s / 3600), (long long)(s % 3600 / 60));
    else
        snprintf(out, 32, "%s%lldd%lldh", sign, (long long)(s / 86400),
                 (long long)(s % 86400 / 3600));
}

static int
format_json(afs_buf *o, const auditfs_receipt *r, const char *lname)
{
    const auditfs_entry *e = r->entry;
    int notice = auditfs_entry_type_of(e) == AUDITFS_TYPE_NOTICE, err = afs_buf_puts(o, "{");
    char pub[32], ts[32];
    auditfs_format_time(pub, e->time_us);
    if (!err && lname && !(err = afs_buf_puts(o, "\"ledger\":")) && !(err = put_json(o, lname)))
        err = afs_buf_puts(o, ",");
    if (!err)
        err = afs_buf_printf(o, "\"seq\":%" PRIu64 ",\"type\":\"%s\",", e->seq, e->type);
    if (!err && notice && !(err = afs_buf_puts(o, "\"title\":")))
        err = put_json(o, e->title);
    if (!err && !notice && !(err = afs_buf_puts(o, "\"name\":")) && !(err = put_json(o, e->name)))
        err = afs_buf_printf(o, ",\"version\":%" PRIu64, e->version);
    if (!err && e->tenant[0] && !(err = afs_buf_puts(o, ",\"tenant\":")))
        err = put_json(o, e->tenant);
    if (!err)
        err = afs_buf_printf(o, ",\"published\":\"%s\"", pub);
    if (!err && e->has_effective) {
        char eff[32];
        auditfs_format_time(eff, e->effective_us);
        err = afs_buf_printf(o, ",\"effective\":\"%s\"", eff);
    }
    if (!err)
        err = afs_buf_puts(o, ",\"acks\":[");
    for (size_t i = 0, k = 0; i < r->nacks && !err; i++) {
        const auditfs_receipt_ack *a = &r->acks[i];
        if (!a->acked)
            continue;
        fmt_time_s(ts, a->time);
        if (!(err = afs_buf_puts(o, k++ ? ",{\"witness\":" : "{\"witness\":")) &&
            !(err = put_json(o, a->witness)))
            err = afs_buf_printf(o, ",\"time\":\"%s\",\"after_seconds\":%lld,\"tree_size\":%"
                                 PRIu64 "}", ts,
                                 (long long)((int64_t)a->time - e->time_us / 1000000),
                                 a->tree_size);
    }
    if (!err)
        err = afs_buf_puts(o, "],\"pending\":[");
    for (size_t i = 0, k = 0; i < r->nacks && !err; i++)
        if (!r->acks[i].acked && !(err = afs_buf_puts(o, k++ ? "," : "")))
            err = put_json(o, r->acks[i].witness);
    return err ? err : afs_buf_puts(o, "]}\n");
}

static int
format_text(afs_buf *o, const auditfs_receipt *r)
{
    const auditfs_entry *e = r->entry;
    char pub[32], eff[32] = "";
    int err;
    auditfs_format_time(pub, e->time_us);
    if (e->has_effective)
        auditfs_format_time(eff, e->effective_us);
    if (auditfs_entry_type_of(e) == AUDITFS_TYPE_NOTICE) {
        if (!(err = afs_buf_printf(o, "notice %" PRIu64 " \"", e->seq)) &&
            !(err = put_escaped(o, e->title)))
            err = afs_buf_puts(o, "\"");
    } else {
        if (!(err = afs_buf_printf(o, "document %" PRIu64 " ", e->seq)) &&
            !(err = put_escaped(o, e->name)))
            err = afs_buf_printf(o, " v%" PRIu64, e->version);
    }
    if (!err && e->tenant[0] && !(err = afs_buf_puts(o, " tenant ")))
        err = put_escaped(o, e->tenant);
    if (!err)
        err = afs_buf_printf(o, " published %s%s%s\n", pub, eff[0] ? " effective " : "", eff);
    for (size_t i = 0; i < r->nacks && !err; i++) {
        const auditfs_receipt_ack *a = &r->acks[i];
        char ts[32], d[32];
        if (!(err = afs_buf_printf(o, "  %-24s ", a->witness)) && a->acked) {
            fmt_time_s(ts, a->time);
            auditfs_format_duration(d, (int64_t)a->time - e->time_us / 1000000);
            err = afs_buf_printf(o, "acknowledged %s (%s after publication, size %" PRIu64 ")\n",
                                 ts, d, a->tree_size);
        } else if (!err) {
            err = afs_buf_puts(o, "NOT YET acknowledged\n");
        }
    }
    return err;
}

int
auditfs_receipt_format(char **out, size_t *len, const auditfs_receipt *r, int json,
                       const char *lname)
{
    afs_buf o = AFS_BUF_INIT;
    int err = json ? format_json(&o, r, lname) : format_text(&o, r);
    if (!err)
        err = afs_buf_put(&o, "", 1); /* NUL-terminated, not counted */
    if (err) {
        afs_buf_release(&o);
        return err;
    }
    *out = (char *)o.data;
    *len = o.len - 1;
    return 0;
}
