/*
 * ledger/json.c - the one JSON reader and writer of the library (see json.h), and the two
 * public entry points built on them: auditfs_json_quote (the CLI's --json strings) and
 * auditfs_json_field (append --map).
 */
#include "json.h"

#include "auditfs/ingest.h"

#include <assert.h>
#include <stdio.h>

int
afs_jr_fail(afs_jr *r, size_t off, const char *what)
{
    if (r->quiet)
        return AUDITFS_EFORMAT;
    return afs_error_set(AUDITFS_EFORMAT, "offset %zu: %s", off, what);
}

void
afs_jr_ws(afs_jr *r)
{
    assert(r->pos <= r->n);
    while (r->pos < r->n && (r->p[r->pos] == ' ' || r->p[r->pos] == '\t' ||
                             r->p[r->pos] == '\n' || r->p[r->pos] == '\r'))
        r->pos++;
}

bool
afs_jr_peek(afs_jr *r, char c)
{
    afs_jr_ws(r);
    return r->pos < r->n && r->p[r->pos] == (uint8_t)c;
}

int
afs_jr_expect(afs_jr *r, char c)
{
    char msg[24];
    if (afs_jr_peek(r, c)) {
        r->pos++;
        return 0;
    }
    snprintf(msg, sizeof msg, "expected '%c'", c);
    return afs_jr_fail(r, r->pos, msg);
}

static int
put_utf8(afs_buf *b, uint32_t cp)
{
    uint8_t u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (uint8_t)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (uint8_t)(0xc0 | cp >> 6);
        u[1] = (uint8_t)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (uint8_t)(0xe0 | cp >> 12);
        u[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (uint8_t)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        u[0] = (uint8_t)(0xf0 | cp >> 18);
        u[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (uint8_t)(0x80 | (cp & 0x3f));
        n = 4;
    }
    return afs_buf_put(b, u, n);
}

static bool
hex4(const afs_jr *r, size_t at, uint32_t *out)
{
    if (r->n - at < 4)
        return false;
    uint32_t v = 0;
    for (size_t k = 0; k < 4; k++) {
        int h = afs_hexval(r->p[at + k]);
        if (h < 0)
            return false;
        v = v << 4 | (uint32_t)h;
    }
    *out = v;
    return true;
}

int
afs_jr_string(afs_jr *r, afs_buf *out)
{
    static const char esc_in[] = "\"\\/bfnrt";
    static const char esc_out[] = "\"\\/\b\f\n\r\t";
    if (!afs_jr_peek(r, '"'))
        return afs_jr_fail(r, r->pos, "expected '\"'");
    r->pos++;
    for (;;) {
        if (r->pos >= r->n)
            return afs_jr_fail(r, r->pos, "unterminated string");
        uint8_t c = r->p[r->pos];
        if (c == '"') {
            r->pos++;
            return 0;
        }
        if (c < 0x20)
            return afs_jr_fail(r, r->pos, "control character in string");
        if (c != '\\') {
            size_t s = r->pos;
            while (r->pos < r->n && r->p[r->pos] != '"' && r->p[r->pos] != '\\' &&
                   r->p[r->pos] >= 0x20)
                r->pos++;
            if (out && afs_buf_put(out, r->p + s, r->pos - s) != 0)
                return AUDITFS_ENOMEM;
            continue;
        }
        if (r->n - r->pos < 2)
            return afs_jr_fail(r, r->pos, "unterminated escape");
        uint8_t e = r->p[r->pos + 1];
        const char *k = e ? strchr(esc_in, e) : NULL;
        uint32_t cp;
        if (k) {
            cp = (uint8_t)esc_out[k - esc_in];
            r->pos += 2;
        } else if (e == 'u') {
            if (r->n - r->pos < 6)
                return afs_jr_fail(r, r->pos, "truncated \\u escape");
            if (!hex4(r, r->pos + 2, &cp))
                return afs_jr_fail(r, r->pos, "bad \\u escape");
            if (cp >= 0xd800 && cp < 0xdc00) {
                uint32_t lo;
                if (r->n - r->pos < 12 || r->p[r->pos + 6] != '\\' || r->p[r->pos + 7] != 'u' ||
                    !hex4(r, r->pos + 8, &lo) || lo < 0xdc00 || lo >= 0xe000)
                    return afs_jr_fail(r, r->pos, "bad \\u escape (unpaired surrogate)");
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                r->pos += 6;
            } else if (cp >= 0xdc00 && cp < 0xe000) {
                return afs_jr_fail(r, r->pos, "bad \\u escape (unpaired surrogate)");
            }
            r->pos += 6;
        } else {
            return afs_jr_fail(r, r->pos, "bad escape");
        }
        if (out && put_utf8(out, cp) != 0)
            return AUDITFS_ENOMEM;
    }
}

int
afs_jr_u64(afs_jr *r, uint64_t *v)
{
    afs_jr_ws(r);
    size_t start = r->pos, end = r->pos;
    while (end < r->n && r->p[end] >= '0' && r->p[end] <= '9')
        end++;
    if (end == start)
        return afs_jr_fail(r, start, "expected a non-negative integer");
    if (end < r->n && (r->p[end] == '.' || r->p[end] == 'e' || r->p[end] == 'E'))
        return afs_jr_fail(r, end, "number is not an integer");
    if (r->p[start] == '0' && end - start > 1)
        return afs_jr_fail(r, start, "number has a leading zero");
    if (!afs_parse_u64(v, (const char *)r->p + start, end - start))
        return afs_jr_fail(r, start, "number does not fit in 64 bits");
    r->pos = end;
    return 0;
}

int
afs_jr_number(afs_jr *r)
{
    size_t s = r->pos;
    if (r->pos < r->n && r->p[r->pos] == '-')
        r->pos++;
    if (r->pos >= r->n)
        return afs_jr_fail(r, s, "bad number");
    if (r->p[r->pos] == '0')
        r->pos++;
    else if (r->p[r->pos] >= '1' && r->p[r->pos] <= '9')
        while (r->pos < r->n && r->p[r->pos] >= '0' && r->p[r->pos] <= '9')
            r->pos++;
    else
        return afs_jr_fail(r, s, "expected a value");
    if (r->pos < r->n && r->p[r->pos] == '.') {
        size_t d = ++r->pos;
        while (r->pos < r->n && r->p[r->pos] >= '0' && r->p[r->pos] <= '9')
            r->pos++;
        if (r->pos == d)
            return afs_jr_fail(r, s, "bad number");
    }
    if (r->pos < r->n && (r->p[r->pos] == 'e' || r->p[r->pos] == 'E')) {
        r->pos++;
        if (r->pos < r->n && (r->p[r->pos] == '+' || r->p[r->pos] == '-'))
            r->pos++;
        size_t d = r->pos;
        while (r->pos < r->n && r->p[r->pos] >= '0' && r->p[r->pos] <= '9')
            r->pos++;
        if (r->pos == d)
            return afs_jr_fail(r, s, "bad number");
    }
    return 0;
}

static int
literal(afs_jr *r, const char *lit)
{
    size_t n = strlen(lit);
    if (r->n - r->pos < n || memcmp(r->p + r->pos, lit, n) != 0)
        return afs_jr_fail(r, r->pos, "expected a value");
    r->pos += n;
    return 0;
}

/* An object or array at the cursor; nested strings are checked, not decoded. Recursion is
 * bounded by AFS_JSON_MAX_DEPTH (64 frames of a few words). */
static int
container(afs_jr *r)
{
    uint8_t open = r->p[r->pos], close = open == '{' ? '}' : ']';
    int err, kind;
    if (r->depth >= AFS_JSON_MAX_DEPTH)
        return afs_jr_fail(r, r->pos, "nested more than 64 deep");
    r->depth++;
    r->pos++;
    if (afs_jr_peek(r, (char)close)) {
        r->pos++;
        r->depth--;
        return 0;
    }
    for (;;) {
        if (open == '{') {
            if ((err = afs_jr_string(r, NULL)) != 0 || (err = afs_jr_expect(r, ':')) != 0)
                return err;
        }
        if ((err = afs_jr_value(r, &kind, NULL)) != 0)
            return err;
        if (afs_jr_peek(r, ',')) {
            r->pos++;
            continue;
        }
        if (afs_jr_peek(r, (char)close)) {
            r->pos++;
            r->depth--;
            return 0;
        }
        return afs_jr_fail(r, r->pos, open == '{' ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

int
afs_jr_value(afs_jr *r, int *kind, afs_buf *str)
{
    afs_jr_ws(r);
    if (r->pos >= r->n)
        return afs_jr_fail(r, r->pos, "expected a value");
    uint8_t c = r->p[r->pos];
    if (c == '"') {
        *kind = AFS_JSON_STRING;
        return afs_jr_string(r, str);
    }
    if (c == '{' || c == '[') {
        *kind = AFS_JSON_CONTAINER;
        return container(r);
    }
    if (c == 't' || c == 'f' || c == 'n') {
        *kind = AFS_JSON_LITERAL;
        return literal(r, c == 't' ? "true" : c == 'f' ? "false" : "null");
    }
    *kind = AFS_JSON_NUMBER;
    return afs_jr_number(r);
}

int
afs_jr_end(afs_jr *r)
{
    afs_jr_ws(r);
    return r->pos == r->n ? 0 : afs_jr_fail(r, r->pos, "trailing data after the value");
}

/* ---- whole documents ---- */

int
afs_json_valid(const uint8_t *p, size_t n)
{
    afs_jr r = AFS_JR_INIT(p, n);
    int kind;
    r.quiet = 1;
    return afs_jr_value(&r, &kind, NULL) == 0 && afs_jr_end(&r) == 0;
}

int
afs_json_embeddable(const uint8_t *p, size_t n)
{
    return !memchr(p, '\n', n) && !memchr(p, '\r', n) && afs_utf8_valid(p, n, true) &&
           afs_json_valid(p, n);
}

int
afs_json_members(const uint8_t *p, size_t n, afs_json_member_cb cb, void *ctx)
{
    afs_jr r = AFS_JR_INIT(p, n);
    afs_buf key = AFS_BUF_INIT, val = AFS_BUF_INIT;
    int rc = 1, kind;
    r.quiet = 1;
    if (!afs_jr_peek(&r, '{') || !afs_json_valid(p, n))
        return 0;
    /* second pass: the document is valid, so only allocation can fail */
    r.pos++;
    if (afs_jr_peek(&r, '}'))
        goto done;
    for (;;) {
        key.len = 0;
        val.len = 0;
        if (afs_buf_put(&key, "", 0) != 0 || afs_jr_string(&r, &key) != 0 ||
            afs_jr_expect(&r, ':') != 0) {
            rc = afs_error_set(AUDITFS_ENOMEM, "out of memory");
            break;
        }
        afs_jr_ws(&r);
        size_t vs = r.pos;
        if (afs_buf_put(&val, "", 0) != 0 || afs_jr_value(&r, &kind, &val) != 0) {
            rc = afs_error_set(AUDITFS_ENOMEM, "out of memory");
            break;
        }
        const char *v = val.data;
        size_t vl = val.len;
        if (kind != AFS_JSON_STRING) {
            v = (const char *)p + vs;
            vl = r.pos - vs;
        }
        int c = cb(ctx, key.data, key.len, v, vl, kind);
        if (c < 0) {
            rc = c;
            break;
        }
        if (afs_jr_peek(&r, ',')) {
            r.pos++;
            continue;
        }
        break;
    }
done:
    afs_buf_release(&key);
    afs_buf_release(&val);
    return rc;
}

/* ---- the writer ---- */

int
afs_json_put_string(afs_buf *b, const uint8_t *s, size_t n)
{
    static const char hexd[] = "0123456789abcdef";
    int err = afs_buf_put(b, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n && !err; i++) {
        uint8_t c = s[i];
        if (c != '"' && c != '\\' && c >= 0x20 && c != 0x7f)
            continue;
        err = afs_buf_put(b, s + run, i - run);
        run = i + 1;
        if (err)
            break;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            err = afs_buf_put(b, e, 2);
        } else {
            char e[6] = {'\\', 'u', '0', '0', hexd[c >> 4], hexd[c & 15]};
            err = afs_buf_put(b, e, 6);
        }
    }
    if (!err)
        err = afs_buf_put(b, s + run, n - run);
    return err ? err : afs_buf_put(b, "\"", 1);
}

int
afs_json_put_field(afs_buf *b, const char *key, const char *value)
{
    int err = afs_buf_printf(b, ",\"%s\":", key);
    return err ? err : afs_json_put_string(b, (const uint8_t *)value, strlen(value));
}

int
auditfs_json_quote(char **out, const char *s, size_t n)
{
    afs_buf b = AFS_BUF_INIT;
    int err;
    *out = NULL;
    if ((err = afs_json_put_string(&b, (const uint8_t *)s, n)) != 0 ||
        (err = afs_buf_put(&b, "", 1)) != 0) {
        afs_buf_release(&b);
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    }
    *out = b.data;
    return 0;
}

/* ---- one field of an object (append --map), on the same cursor ---- */

/* The reason a field could not be read: the cursor runs quiet, so this names the failure. */
static int
field_fail(int err, const char *path, const char *what)
{
    if (err == AUDITFS_ENOMEM)
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    if (!path)
        return afs_error_set(AUDITFS_EFORMAT, "%s", what);
    return afs_error_set(AUDITFS_EFORMAT, "field '%s': %s", path, what);
}

/*
 * Moves the cursor, which is just inside an object, to the value of its first member named
 * seg (segl bytes): 1 there, 0 if the object has none (the members before the end are
 * checked, the rest of the payload is not read), or an error code. A repeated key is not
 * looked at: the first occurrence counts.
 */
static int
field_find(afs_jr *r, afs_buf *key, const char *seg, size_t segl)
{
    int err, kind;
    if (afs_jr_peek(r, '}'))
        return 0;
    for (;;) {
        key->len = 0;
        if ((err = afs_jr_string(r, key)) != 0 || (err = afs_jr_expect(r, ':')) != 0)
            return err;
        if (key->len == segl && (segl == 0 || memcmp(key->data, seg, segl) == 0))
            return 1;
        if ((err = afs_jr_value(r, &kind, NULL)) != 0)
            return err;
        if (afs_jr_peek(r, ',')) {
            r->pos++;
            continue;
        }
        if (afs_jr_peek(r, '}'))
            return 0;
        return AUDITFS_EFORMAT;
    }
}

int
auditfs_json_field(char out[AUDITFS_FIELD_MAX + 1], const uint8_t *json, size_t n, const char *path)
{
    afs_jr r = AFS_JR_INIT(json, n);
    afs_buf key = AFS_BUF_INIT, val = AFS_BUF_INIT;
    const char *seg = path, *dot, *v;
    size_t vl;
    int rc, kind;
    r.quiet = 1;
    out[0] = '\0';
    for (;;) {
        dot = strchr(seg, '.');
        if (r.depth >= AFS_JSON_MAX_DEPTH || !afs_jr_peek(&r, '{')) {
            rc = r.depth == 0 ? field_fail(0, NULL, "the payload is not a JSON object")
                              : field_fail(0, path, "not an object");
            goto cleanup;
        }
        r.pos++;
        r.depth++;
        rc = field_find(&r, &key, seg, dot ? (size_t)(dot - seg) : strlen(seg));
        if (rc < 0) {
            rc = field_fail(rc, NULL, "the payload is not valid JSON");
            goto cleanup;
        }
        if (rc == 0)
            goto cleanup;
        afs_jr_ws(&r);
        if (!dot)
            break;
        if (r.n - r.pos >= 4 && memcmp(r.p + r.pos, "null", 4) == 0) {
            rc = 0;
            goto cleanup;
        }
        seg = dot + 1; /* descend into the object value */
    }
    if (r.pos >= r.n) {
        rc = field_fail(0, NULL, "the payload is not valid JSON");
        goto cleanup;
    }
    if (r.p[r.pos] == '{' || r.p[r.pos] == '[') {
        rc = field_fail(0, path, "an object or array, not a value");
        goto cleanup;
    }
    size_t vs = r.pos;
    if ((rc = afs_jr_value(&r, &kind, &val)) != 0) {
        rc = field_fail(rc, path, r.p[vs] == '"' ? "bad string" : "bad value");
        goto cleanup;
    }
    if (!afs_jr_peek(&r, ',') && !afs_jr_peek(&r, '}')) { /* "01", "1x": not one whole value */
        rc = field_fail(0, path, "bad value");
        goto cleanup;
    }
    v = kind == AFS_JSON_STRING ? val.data : (const char *)json + vs;
    vl = kind == AFS_JSON_STRING ? val.len : r.pos - vs;
    if (kind == AFS_JSON_LITERAL && vl == 4 && memcmp(v, "null", 4) == 0) {
        rc = 0;
        goto cleanup;
    }
    if (vl > AUDITFS_FIELD_MAX) {
        rc = afs_error_set(AUDITFS_EFORMAT, "field '%s': value longer than %d bytes", path,
                           AUDITFS_FIELD_MAX);
        goto cleanup;
    }
    if (vl > 0 && memchr(v, '\0', vl)) {
        rc = field_fail(0, path, "NUL in the value");
        goto cleanup;
    }
    if (vl > 0)
        memcpy(out, v, vl);
    out[vl] = '\0';
    rc = 1;
cleanup:
    afs_buf_release(&key);
    afs_buf_release(&val);
    return rc;
}
