/*
 * ledger/jsonfield.c - one field's value out of a JSON object payload, for --map.
 *
 * Not a general JSON parser: one forward pass that skips every value it is not asked for and
 * copies out the one it is. Bounded in time (each byte is looked at a constant number of times)
 * and memory (nothing is allocated; nesting is counted, at most 64 deep). A payload it cannot
 * read is EFORMAT, so a mapped header is never guessed.
 */
#include "internal.h"

#include "auditfs/ingest.h"

#include <stdio.h>

#define MAX_DEPTH 64

typedef struct jp {
    const uint8_t *p, *end;
} jp;

static void
ws(jp *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static int
put_utf8(char *out, size_t *n, size_t cap, uint32_t cp)
{
    uint8_t b[4];
    size_t k;
    if (cp < 0x80) {
        b[0] = (uint8_t)cp;
        k = 1;
    } else if (cp < 0x800) {
        b[0] = (uint8_t)(0xc0 | cp >> 6);
        b[1] = (uint8_t)(0x80 | (cp & 0x3f));
        k = 2;
    } else if (cp < 0x10000) {
        b[0] = (uint8_t)(0xe0 | cp >> 12);
        b[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (uint8_t)(0x80 | (cp & 0x3f));
        k = 3;
    } else {
        b[0] = (uint8_t)(0xf0 | cp >> 18);
        b[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
        b[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        b[3] = (uint8_t)(0x80 | (cp & 0x3f));
        k = 4;
    }
    if (out) {
        if (*n + k > cap)
            return -1;
        memcpy(out + *n, b, k);
    }
    *n += k;
    return 0;
}

static int
hex4(uint32_t *v, const uint8_t *p)
{
    *v = 0;
    for (int i = 0; i < 4; i++) {
        int h = afs_hexval(p[i]);
        if (h < 0)
            return -1;
        *v = *v << 4 | (uint32_t)h;
    }
    return 0;
}

/* A string at j->p (the opening quote); unescaped into out (cap bytes) if out is not NULL.
 * Returns 0, -1 on bad syntax, -2 if out is too small. */
static int
string(jp *j, char *out, size_t cap, size_t *len)
{
    size_t n = 0;
    if (j->p >= j->end || *j->p != '"')
        return -1;
    j->p++;
    while (j->p < j->end) {
        uint8_t c = *j->p++;
        if (c == '"') {
            *len = n;
            return 0;
        }
        if (c < 0x20)
            return -1;
        if (c != '\\') {
            if (out) {
                if (n >= cap)
                    return -2;
                out[n] = (char)c;
            }
            n++;
            continue;
        }
        if (j->p >= j->end)
            return -1;
        uint8_t e = *j->p++;
        uint32_t cp;
        switch (e) {
        case '"':
        case '\\':
        case '/':
            cp = e;
            break;
        case 'b':
            cp = '\b';
            break;
        case 'f':
            cp = '\f';
            break;
        case 'n':
            cp = '\n';
            break;
        case 'r':
            cp = '\r';
            break;
        case 't':
            cp = '\t';
            break;
        case 'u':
            if (j->end - j->p < 4 || hex4(&cp, j->p) != 0)
                return -1;
            j->p += 4;
            if (cp >= 0xd800 && cp <= 0xdbff) {
                uint32_t lo;
                if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u' ||
                    hex4(&lo, j->p + 2) != 0 || lo < 0xdc00 || lo > 0xdfff)
                    return -1;
                j->p += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                return -1;
            }
            break;
        default:
            return -1;
        }
        if (put_utf8(out, &n, cap, cp) != 0)
            return -2;
    }
    return -1;
}

/* Skips any value; depth bounds the nesting. */
static int
skip(jp *j, int depth)
{
    size_t len;
    ws(j);
    if (j->p >= j->end || depth > MAX_DEPTH)
        return -1;
    uint8_t c = *j->p;
    if (c == '"')
        return string(j, NULL, 0, &len);
    if (c == '{' || c == '[') {
        uint8_t close = c == '{' ? '}' : ']';
        j->p++;
        ws(j);
        if (j->p < j->end && *j->p == close) {
            j->p++;
            return 0;
        }
        for (;;) {
            if (c == '{') {
                ws(j);
                if (string(j, NULL, 0, &len) != 0)
                    return -1;
                ws(j);
                if (j->p >= j->end || *j->p++ != ':')
                    return -1;
            }
            if (skip(j, depth + 1) != 0)
                return -1;
            ws(j);
            if (j->p >= j->end)
                return -1;
            if (*j->p == ',') {
                j->p++;
                continue;
            }
            if (*j->p++ != close)
                return -1;
            return 0;
        }
    }
    /* number or literal: the bytes up to a delimiter, checked loosely */
    const uint8_t *s = j->p;
    while (j->p < j->end &&
           (*j->p == '-' || *j->p == '+' || *j->p == '.' || (*j->p >= '0' && *j->p <= '9') ||
            (*j->p >= 'a' && *j->p <= 'z') || *j->p == 'E'))
        j->p++;
    size_t n = (size_t)(j->p - s);
    if (n == 0)
        return -1;
    if ((s[0] >= 'a' && s[0] <= 'z') &&
        !((n == 4 && !memcmp(s, "true", 4)) || (n == 5 && !memcmp(s, "false", 5)) ||
          (n == 4 && !memcmp(s, "null", 4))))
        return -1;
    return 0;
}

int
auditfs_json_field(char out[AUDITFS_FIELD_MAX + 1], const uint8_t *json, size_t n, const char *path)
{
    jp j = {json, json + n};
    const char *seg = path;
    char key[AUDITFS_FIELD_MAX + 1];
    out[0] = '\0';
    for (int depth = 0;; depth++) {
        const char *dot = strchr(seg, '.');
        size_t segl = dot ? (size_t)(dot - seg) : strlen(seg);
        int found = 0;
        ws(&j);
        if (depth > MAX_DEPTH || j.p >= j.end || *j.p != '{')
            return depth == 0 ? afs_error_set(AUDITFS_EFORMAT, "the payload is not a JSON object")
                              : afs_error_set(AUDITFS_EFORMAT, "field '%s': not an object", path);
        j.p++;
        ws(&j);
        if (j.p < j.end && *j.p == '}')
            return 0;
        for (;;) {
            size_t kl = 0;
            ws(&j);
            int r = string(&j, key, sizeof key - 1, &kl);
            if (r == -1)
                return afs_error_set(AUDITFS_EFORMAT, "the payload is not valid JSON");
            ws(&j);
            if (j.p >= j.end || *j.p++ != ':')
                return afs_error_set(AUDITFS_EFORMAT, "the payload is not valid JSON");
            /* the first occurrence of a key counts; a repeated key is not looked at */
            if (r == 0 && kl == segl && memcmp(key, seg, segl) == 0) {
                found = 1;
                break;
            }
            if (skip(&j, depth + 1) != 0)
                return afs_error_set(AUDITFS_EFORMAT, "the payload is not valid JSON");
            ws(&j);
            if (j.p < j.end && *j.p == ',') {
                j.p++;
                continue;
            }
            if (j.p < j.end && *j.p == '}')
                return 0;
            return afs_error_set(AUDITFS_EFORMAT, "the payload is not valid JSON");
        }
        if (!found)
            return 0;
        ws(&j);
        if (dot) {
            if (j.p < j.end && j.p[0] == 'n' && j.end - j.p >= 4 && !memcmp(j.p, "null", 4))
                return 0;
            seg = dot + 1;
            continue; /* descend into the object value */
        }
        if (j.p >= j.end)
            return afs_error_set(AUDITFS_EFORMAT, "the payload is not valid JSON");
        if (*j.p == '"') {
            size_t vl = 0;
            int r = string(&j, out, AUDITFS_FIELD_MAX, &vl);
            if (r == -2)
                return afs_error_set(AUDITFS_EFORMAT, "field '%s': value longer than %d bytes",
                                     path, AUDITFS_FIELD_MAX);
            if (r != 0)
                return afs_error_set(AUDITFS_EFORMAT, "field '%s': bad string", path);
            out[vl] = '\0';
            if (memchr(out, '\0', vl))
                return afs_error_set(AUDITFS_EFORMAT, "field '%s': NUL in the value", path);
            return 1;
        }
        if (*j.p == '{' || *j.p == '[')
            return afs_error_set(AUDITFS_EFORMAT, "field '%s': an object or array, not a value",
                                 path);
        const uint8_t *s = j.p;
        if (skip(&j, depth + 1) != 0)
            return afs_error_set(AUDITFS_EFORMAT, "field '%s': bad value", path);
        size_t vl = (size_t)(j.p - s);
        if (vl == 4 && !memcmp(s, "null", 4))
            return 0;
        if (vl > AUDITFS_FIELD_MAX)
            return afs_error_set(AUDITFS_EFORMAT, "field '%s': value longer than %d bytes", path,
                                 AUDITFS_FIELD_MAX);
        memcpy(out, s, vl);
        out[vl] = '\0';
        return 1;
    }
}
