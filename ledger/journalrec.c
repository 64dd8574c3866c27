/*
 * ledger/journalrec.c - one systemd journal entry as one JSON object (`append --journal`),
 * written with the library's one JSON writer (json.c).
 *
 * Invariant: the object is valid one-line UTF-8 JSON whatever the fields hold: names and text
 * values are escaped (C0, DEL and C1 controls as \u00XX, so a value with a newline or ESC
 * stays one line and passes the payload rules), and a value that is not UTF-8 text once its
 * controls are escaped is replaced by {"binary_bytes":N}, never stored raw.
 */
#include "internal.h"
#include "json.h"

#include "auditfs/entry.h"
#include "auditfs/ingest.h"

#include <stdlib.h>
#include <string.h>

struct auditfs_journal_record {
    afs_buf b;
    int fields;
};

int
auditfs_journal_record_new(auditfs_journal_record **out)
{
    *out = calloc(1, sizeof **out);
    return *out ? 0 : afs_error_set(AUDITFS_ENOMEM, "out of memory");
}

void
auditfs_journal_record_free(auditfs_journal_record *r)
{
    if (!r)
        return;
    afs_buf_release(&r->b);
    free(r);
}

int
auditfs_journal_record_begin(auditfs_journal_record *r, int has_realtime, uint64_t realtime_us)
{
    r->b.len = 0;
    r->fields = 0;
    int err = afs_buf_put(&r->b, "{", 1);
    /* microseconds as a string, for --map time=__REALTIME_TIMESTAMP */
    if (!err && has_realtime) {
        err = afs_buf_printf(&r->b, "\"__REALTIME_TIMESTAMP\":\"%llu\"",
                             (unsigned long long)realtime_us);
        r->fields = 1;
    }
    return err ? afs_error_set(AUDITFS_ENOMEM, "out of memory") : 0;
}

/* Appends s as JSON string content (no quotes) with the one writer: its output, unquoted. */
static int
put_inner(afs_buf *b, const uint8_t *s, size_t n)
{
    size_t at = b->len;
    int err = afs_json_put_string(b, s, n);
    if (err)
        return err;
    memmove((char *)b->data + at, (char *)b->data + at + 1, b->len - at - 2);
    b->len -= 2;
    return 0;
}

/* A string with C1 controls (U+0080-U+009F, UTF-8 C2 80-C2 9F) escaped as well as C0 and DEL:
 * afs_json_put_string passes C1 through, and the payload rules (docs/FORMAT.md) forbid it. */
static int
put_c1(afs_buf *b, const uint8_t *s, size_t n)
{
    size_t run = 0;
    int err = afs_buf_put(b, "\"", 1);
    for (size_t i = 0; i + 1 < n && !err; i++) {
        if (s[i] != 0xc2 || s[i + 1] < 0x80 || s[i + 1] >= 0xa0)
            continue;
        err = put_inner(b, s + run, i - run);
        if (!err)
            err = afs_buf_printf(b, "\\u00%02x", s[i + 1]);
        run = i + 2;
        i++;
    }
    if (!err)
        err = put_inner(b, s + run, n - run);
    return err ? err : afs_buf_put(b, "\"", 1);
}

int
auditfs_journal_record_field(auditfs_journal_record *r, const void *data, size_t len)
{
    const uint8_t *s = data;
    const uint8_t *eq = memchr(s, '=', len);
    if (!eq)
        return 0; /* not a field: skipped, as sd-journal never gives one */
    size_t kl = (size_t)(eq - s), vl = len - kl - 1;
    int err = r->fields ? afs_buf_put(&r->b, ",", 1) : 0;
    r->fields++;
    if (!err)
        err = afs_json_put_string(&r->b, s, kl);
    if (!err)
        err = afs_buf_put(&r->b, ":", 1);
    if (err)
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    /* text once its controls are escaped: C0/DEL and C1 replaced by spaces for the check */
    uint8_t *t = malloc(vl ? vl : 1);
    if (!t)
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    int c1 = 0;
    for (size_t i = 0; i < vl; i++) {
        uint8_t c = eq[1 + i];
        t[i] = (c < 0x20 || c == 0x7f) ? ' ' : c;
        if (c == 0xc2 && i + 1 < vl && eq[2 + i] >= 0x80 && eq[2 + i] < 0xa0) {
            t[i] = ' ';
            t[++i] = ' ';
            c1 = 1;
        }
    }
    int text = auditfs_valid_text(t, vl, 1);
    free(t);
    if (!text)
        err = afs_buf_printf(&r->b, "{\"binary_bytes\":%zu}", vl);
    else if (!c1)
        err = afs_json_put_string(&r->b, eq + 1, vl);
    else
        err = put_c1(&r->b, eq + 1, vl);
    return err ? afs_error_set(AUDITFS_ENOMEM, "out of memory") : 0;
}

const char *
auditfs_journal_record_end(auditfs_journal_record *r, size_t *len)
{
    if (afs_buf_put(&r->b, "}", 1) != 0) {
        afs_error_set(AUDITFS_ENOMEM, "out of memory");
        return NULL;
    }
    *len = r->b.len;
    return (const char *)r->b.data;
}
