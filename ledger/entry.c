/*
 * ledger/entry.c - auditfs-entry/1 encoding and strict parsing.
 *
 * Invariant: for every leaf L accepted by auditfs_entry_parse, encoding the parsed entry gives L
 * back byte for byte. The parser enforces the one key order, at most one line per key, canonical
 * numbers, times and base64, and that `length` covers exactly the rest of the leaf.
 */
#include "entry.h"
#include "json.h"

#include <stdio.h>
#include <stdlib.h>

#define MAGIC "auditfs-entry/1\n"

enum key {
    K_SEQ,
    K_TIME,
    K_EVTIME, /* optional, added compatibly: leaves without it encode as before */
    K_TYPE,
    K_STREAM,
    K_TENANT,
    K_PARTY,
    K_LAYER,
    K_NAME,
    K_VERSION,
    K_TITLE,
    K_EFFECTIVE,
    K_CTYPE,
    K_CLENGTH,
    K_CSHA,
    K_REASON,
    K_PREV,
    K_LENGTH,
    K_COUNT
};

static const char *const key_names[K_COUNT] = {
    "seq",   "time",      "event-time", "type",         "stream",         "tenant",         "party",
    "layer", "name",      "version",      "title",          "effective",      "content-type",
    "content-length", "content-sha256", "reason", "prev", "length"};

/* strlen of each key name, for the header loop (checked against key_names by the entry tests:
 * a wrong length makes that key unknown) */
#define KL(s) (sizeof(s) - 1)
static const unsigned char key_lens[K_COUNT] = {
    KL("seq"),   KL("time"),      KL("event-time"), KL("type"),         KL("stream"),
    KL("tenant"), KL("party"),    KL("layer"),      KL("name"),         KL("version"),
    KL("title"), KL("effective"), KL("content-type"), KL("content-length"),
    KL("content-sha256"), KL("reason"), KL("prev"), KL("length")};
#undef KL

static const char *const parties[] = {"provider", "customer", "security-vendor", "assessor", NULL};
static const char *const layers[] = {"facility", "hardware", "virtualization", "platform",
                                     "application", "data", NULL};
static const char *const types[] = {"log", "document", "notice", "quarantine", NULL};

static int
in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0)
            return 1;
    return 0;
}

int
auditfs_valid_stream(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > AUDITFS_STREAM_MAX || s[0] == '.' || s[0] == '-')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

int
auditfs_valid_party(const char *s)
{
    return in_list(s, parties);
}

int
auditfs_valid_layer(const char *s)
{
    return in_list(s, layers);
}

static int
list_index(const char *s, const char *const *list)
{
    for (int i = 0; list[i]; i++)
        if (strcmp(s, list[i]) == 0)
            return i;
    return -1;
}

auditfs_entry_type
auditfs_entry_type_parse(const char *s)
{
    return (auditfs_entry_type)list_index(s, types);
}

auditfs_entry_type
auditfs_entry_type_of(const auditfs_entry *e)
{
    return auditfs_entry_type_parse(e->type);
}

const char *
auditfs_entry_type_name(int t)
{
    return t >= 0 && t < 4 ? types[t] : NULL;
}

const char *
auditfs_party_name(int i)
{
    return i >= 0 && i < AUDITFS_PARTY_COUNT ? parties[i] : NULL;
}

const char *
auditfs_layer_name(int i)
{
    return i >= 0 && i < AUDITFS_LAYER_COUNT ? layers[i] : NULL;
}

int
auditfs_party_index(const char *s)
{
    return list_index(s, parties);
}

int
auditfs_layer_index(const char *s)
{
    return list_index(s, layers);
}

/* Document names are '/'-separated segments of [a-z0-9._-]; no empty, ".", ".." or "v<digits>"
 * segment (v<N> names the versions in the repository tree). */
int
auditfs_docname_publishable(const char *s)
{
    if (!auditfs_valid_docname(s))
        return 0;
    for (const char *seg = s; seg;) {
        const char *end = strchr(seg, '/');
        size_t len = end ? (size_t)(end - seg) : strlen(seg);
        if (len == 7 && !memcmp(seg, "current", 7))
            return 0;
        if (seg[0] == 'v' && len > 1 && seg[1] >= '0' && seg[1] <= '9') {
            size_t k = 1;
            while (k < len && seg[k] >= '0' && seg[k] <= '9')
                k++;
            if (k < len && seg[k] == '.')
                return 0; /* v2.md: a version file of the parent document */
        }
        seg = end ? end + 1 : NULL;
    }
    return 1;
}

int
auditfs_valid_docname(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > AUDITFS_DOCNAME_MAX)
        return 0;
    const char *seg = s;
    for (size_t i = 0; i <= n; i++) {
        char c = s[i];
        if (c == '/' || c == '\0') {
            size_t len = (size_t)(s + i - seg);
            if (len == 0 || (len == 1 && seg[0] == '.') ||
                (len == 2 && seg[0] == '.' && seg[1] == '.'))
                return 0;
            if (seg[0] == 'v' && len > 1) {
                size_t k = 1;
                while (k < len && seg[k] >= '0' && seg[k] <= '9')
                    k++;
                if (k == len)
                    return 0;
            }
            seg = s + i + 1;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-'))
            return 0;
    }
    return 1;
}

int
auditfs_valid_text(const uint8_t *p, size_t n, int allow_tab)
{
    return afs_utf8_valid(p, n, allow_tab != 0);
}

/*
 * The one rule for log payloads, used by `append` before it stores a line and by
 * auditfs_entry_parse (so by verify, the mount and every reader) for every stored log entry:
 * whoever wrote a leaf, a payload append would refuse does not verify. The fast path is one
 * afs_utf8_valid pass; only a bad payload is walked again to name the first bad byte.
 */
const char *
auditfs_payload_problem(char why[AUDITFS_PROBLEM_MAX], const uint8_t *p, size_t n, size_t max)
{
    if (n > max) {
        snprintf(why, AUDITFS_PROBLEM_MAX, "line longer than the record size limit (%zu > %zu bytes)",
                 n, max);
        return why;
    }
    if (afs_utf8_valid(p, n, true))
        return NULL;
    for (size_t i = 0; i < n;) {
        uint8_t c = p[i];
        size_t need = c < 0x80 ? 0 : (c >= 0xc2 && c <= 0xdf) ? 1 : (c >= 0xe0 && c <= 0xef) ? 2
                                   : (c >= 0xf0 && c <= 0xf4) ? 3 : 4;
        if (need == 0) {
            if (c == 0)
                snprintf(why, AUDITFS_PROBLEM_MAX, "NUL byte at byte %zu", i + 1);
            else if (c == '\n')
                snprintf(why, AUDITFS_PROBLEM_MAX, "line break (LF) inside the record at byte %zu",
                         i + 1);
            else if (c == '\r')
                snprintf(why, AUDITFS_PROBLEM_MAX,
                         i + 1 == n ? "carriage return at end of line (CRLF input?)"
                                    : "carriage return at byte %zu", i + 1);
            else if ((c < 0x20 && c != '\t') || c == 0x7f)
                snprintf(why, AUDITFS_PROBLEM_MAX, "control character 0x%02X at byte %zu", c,
                         i + 1);
            else {
                i++;
                continue;
            }
            return why;
        }
        if (need == 4 || need > n - i - 1 || !afs_utf8_valid(p + i, need + 1, true)) {
            if (need == 1 && need <= n - i - 1 && c == 0xc2 && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f)
                snprintf(why, AUDITFS_PROBLEM_MAX, "C1 control character U+%04X at byte %zu",
                         (unsigned)p[i + 1], i + 1);
            else
                snprintf(why, AUDITFS_PROBLEM_MAX, "invalid UTF-8 at byte %zu", i + 1);
            return why;
        }
        i += need + 1;
    }
    snprintf(why, AUDITFS_PROBLEM_MAX, "invalid UTF-8 or a control character");
    return why;
}

static int
valid_text(const char *s, size_t max)
{
    size_t n = strlen(s);
    return n > 0 && n <= max && afs_utf8_valid((const uint8_t *)s, n, false);
}

static int
valid_ctype(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > AUDITFS_CTYPE_MAX || !strchr(s, '/'))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] <= ' ' || s[i] > '~')
            return 0;
    return 1;
}

static int
check_fields(const auditfs_entry *e)
{
    if (!in_list(e->type, types))
        return afs_error_set(AUDITFS_EFORMAT, "type '%s' is not log, document, notice or quarantine",
                             e->type);
    if (!auditfs_valid_stream(e->stream))
        return afs_error_set(AUDITFS_EFORMAT,
                             "stream '%s' must be 1-64 of [A-Za-z0-9._-], not starting with . or -",
                             e->stream);
    if (e->tenant[0] && !auditfs_valid_stream(e->tenant))
        return afs_error_set(AUDITFS_EFORMAT, "tenant '%s' must be 1-64 of [A-Za-z0-9._-]",
                             e->tenant);
    if (e->party[0] && !auditfs_valid_party(e->party))
        return afs_error_set(AUDITFS_EFORMAT,
                             "party '%s' is not provider, customer, security-vendor or assessor",
                             e->party);
    if (e->layer[0] && !auditfs_valid_layer(e->layer))
        return afs_error_set(AUDITFS_EFORMAT,
                             "layer '%s' is not facility, hardware, virtualization, platform, "
                             "application or data",
                             e->layer);
    auditfs_entry_type type = auditfs_entry_type_of(e);
    int is_doc = type == AUDITFS_TYPE_DOCUMENT;
    int is_notice = type == AUDITFS_TYPE_NOTICE;
    int is_quar = type == AUDITFS_TYPE_QUARANTINE;
    if (is_doc != (e->name[0] != '\0') || is_doc != (e->version != 0))
        return afs_error_set(AUDITFS_EFORMAT, "name and version belong to documents only");
    if (is_doc && !auditfs_valid_docname(e->name))
        return afs_error_set(AUDITFS_EFORMAT, "document name '%s' is not valid", e->name);
    if (is_notice != (e->title[0] != '\0'))
        return afs_error_set(AUDITFS_EFORMAT, "title belongs to notices only");
    if (is_notice && !valid_text(e->title, AUDITFS_TITLE_MAX))
        return afs_error_set(AUDITFS_EFORMAT, "title must be 1-256 bytes of UTF-8 text");
    if (e->has_effective && !is_notice)
        return afs_error_set(AUDITFS_EFORMAT, "effective belongs to notices only");
    if ((is_doc || is_notice) != (e->has_content != 0) ||
        (is_doc || is_notice) != (e->content_type[0] != '\0'))
        return afs_error_set(AUDITFS_EFORMAT,
                             "content-type, content-length and content-sha256 belong to documents "
                             "and notices, and are required there");
    if (e->content_type[0] && !valid_ctype(e->content_type))
        return afs_error_set(AUDITFS_EFORMAT, "content-type '%s' is not a media type",
                             e->content_type);
    if (is_quar != (e->reason[0] != '\0'))
        return afs_error_set(AUDITFS_EFORMAT, "reason belongs to quarantine entries only");
    if (is_quar && !valid_text(e->reason, AUDITFS_REASON_MAX))
        return afs_error_set(AUDITFS_EFORMAT, "reason must be 1-200 bytes of UTF-8 text");
    if ((is_doc || is_notice) && e->payload_len != 0)
        return afs_error_set(AUDITFS_EFORMAT, "documents and notices carry their content by "
                                              "reference: the payload must be empty");
    if (e->payload_len > AUDITFS_PAYLOAD_MAX_HARD)
        return afs_error_set(AUDITFS_ETOOBIG, "payload of %zu bytes exceeds %u", e->payload_len,
                             AUDITFS_PAYLOAD_MAX_HARD);
    if (type == AUDITFS_TYPE_LOG) {
        char why[AUDITFS_PROBLEM_MAX];
        if (auditfs_payload_problem(why, e->payload, e->payload_len, AUDITFS_PAYLOAD_MAX_HARD))
            return afs_error_set(AUDITFS_EFORMAT, "log payload: %s", why);
    }
    return 0;
}

/* Appends "key value\n" without printf: the encoder runs once per ingested record. */
static int
put_kv(afs_buf *b, const char *key, size_t klen, const char *val, size_t vlen)
{
    int err = afs_buf_grow(b, klen + vlen + 2);
    if (err)
        return err;
    char *p = b->data + b->len;
    memcpy(p, key, klen);
    p[klen] = ' ';
    memcpy(p + klen + 1, val, vlen);
    p[klen + 1 + vlen] = '\n';
    b->len += klen + vlen + 2;
    b->data[b->len] = '\0';
    return 0;
}

static int
put_kstr(afs_buf *b, const char *key, const char *val)
{
    return put_kv(b, key, strlen(key), val, strlen(val));
}

static int
put_ku64(afs_buf *b, const char *key, uint64_t v)
{
    char d[24];
    size_t n = sizeof d;
    do {
        d[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return put_kv(b, key, strlen(key), d + n, sizeof d - n);
}

int
afs_entry_encode_buf(afs_buf *b, const auditfs_entry *e)
{
    char tbuf[32];
    char b64[AFS_B64_LEN(32) + 1];
    int err = check_fields(e);
    if (err)
        return err;
    afs_format_time(tbuf, e->time_us);
    err = afs_buf_put(b, MAGIC, sizeof MAGIC - 1);
    if (!err)
        err = put_ku64(b, "seq", e->seq);
    if (!err)
        err = put_kv(b, "time", 4, tbuf, 27);
    if (!err && e->has_event_time) {
        afs_format_time(tbuf, e->event_time_us);
        err = put_kv(b, "event-time", 10, tbuf, 27);
    }
    if (!err)
        err = put_kstr(b, "type", e->type);
    if (!err)
        err = put_kstr(b, "stream", e->stream);
    if (!err && e->tenant[0])
        err = put_kstr(b, "tenant", e->tenant);
    if (!err && e->party[0])
        err = put_kstr(b, "party", e->party);
    if (!err && e->layer[0])
        err = put_kstr(b, "layer", e->layer);
    if (!err && e->name[0]) {
        err = put_kstr(b, "name", e->name);
        if (!err)
            err = put_ku64(b, "version", e->version);
    }
    if (!err && e->title[0])
        err = put_kstr(b, "title", e->title);
    if (!err && e->has_effective) {
        afs_format_time(tbuf, e->effective_us);
        err = put_kv(b, "effective", 9, tbuf, 27);
    }
    if (!err && e->has_content) {
        static const char hx[] = "0123456789abcdef";
        char hex[64];
        for (int i = 0; i < 32; i++) {
            hex[2 * i] = hx[e->content_sha256[i] >> 4];
            hex[2 * i + 1] = hx[e->content_sha256[i] & 15];
        }
        err = put_kstr(b, "content-type", e->content_type);
        if (!err)
            err = put_ku64(b, "content-length", e->content_length);
        if (!err)
            err = put_kv(b, "content-sha256", 14, hex, 64);
    }
    if (!err && e->reason[0])
        err = put_kstr(b, "reason", e->reason);
    if (!err) {
        afs_b64_encode(b64, e->prev.b, 32);
        err = put_kv(b, "prev", 4, b64, 44);
    }
    if (!err)
        err = put_ku64(b, "length", e->payload_len);
    if (!err)
        err = afs_buf_put(b, "\n", 1);
    if (!err)
        err = afs_buf_put(b, e->payload, e->payload_len);
    return err;
}

int
auditfs_entry_encode(uint8_t **out, size_t *out_len, const auditfs_entry *e)
{
    afs_buf b = AFS_BUF_INIT;
    int err = afs_entry_encode_buf(&b, e);
    if (err) {
        afs_buf_release(&b);
        return err;
    }
    *out = (uint8_t *)afs_buf_detach(&b, out_len);
    return 0;
}

static int
copy_field(char *dst, size_t cap, const char *v, size_t n, unsigned line)
{
    if (n == 0 || n >= cap)
        return afs_error_set(AUDITFS_EFORMAT, "header line %u: value length %zu out of range", line,
                             n);
    memcpy(dst, v, n);
    dst[n] = '\0';
    return 0;
}

static int
hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int
auditfs_entry_parse(auditfs_entry *out, const uint8_t *leaf, size_t len)
{
    const char *p = (const char *)leaf;
    const char *end = p + len;
    int seen_max = -1;
    unsigned line = 1;
    uint64_t length = 0;
    int have[K_COUNT] = {0};

    memset(out, 0, sizeof *out);
    if (len > AUDITFS_LEAF_MAX)
        return afs_error_set(AUDITFS_ETOOBIG, "leaf of %zu bytes exceeds %u", len,
                             AUDITFS_LEAF_MAX);
    if (len < sizeof MAGIC - 1 || memcmp(p, MAGIC, sizeof MAGIC - 1) != 0)
        return afs_error_set(AUDITFS_EFORMAT, "line 1: not an auditfs-entry/1 leaf");
    p += sizeof MAGIC - 1;
    for (;;) {
        line++;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            return afs_error_set(AUDITFS_EFORMAT, "line %u: header not terminated", line);
        if (nl == p) {
            p++;
            break; /* blank line: payload follows */
        }
        const char *sp = memchr(p, ' ', (size_t)(nl - p));
        if (!sp)
            return afs_error_set(AUDITFS_EFORMAT, "line %u: expected 'key value'", line);
        size_t klen = (size_t)(sp - p);
        const char *v = sp + 1;
        size_t vlen = (size_t)(nl - v);
        /* keys come in canonical order: look after the last one first (the names are distinct,
         * so the other half only finds a repeated or out-of-order key, refused below) */
        int k = -1;
        for (int i = seen_max + 1; i < K_COUNT && k < 0; i++)
            if (key_lens[i] == klen && memcmp(key_names[i], p, klen) == 0)
                k = i;
        for (int i = 0; i <= seen_max && k < 0; i++)
            if (key_lens[i] == klen && memcmp(key_names[i], p, klen) == 0)
                k = i;
        if (k < 0)
            return afs_error_set(AUDITFS_EFORMAT, "line %u: unknown header '%.*s'", line,
                                 (int)(klen > 40 ? 40 : klen), p);
        if (k <= seen_max)
            return afs_error_set(AUDITFS_EFORMAT,
                                 "line %u: header '%s' repeated or out of canonical order", line,
                                 key_names[k]);
        seen_max = k;
        have[k] = 1;
        if (!afs_utf8_valid((const uint8_t *)v, vlen, false))
            return afs_error_set(AUDITFS_EFORMAT, "line %u: value is not UTF-8 text", line);
        int err = 0;
        switch (k) {
        case K_SEQ:
        case K_VERSION:
        case K_CLENGTH:
        case K_LENGTH: {
            uint64_t n;
            if (!afs_parse_u64(&n, v, vlen))
                return afs_error_set(AUDITFS_EFORMAT, "line %u: '%s' is not a canonical number",
                                     line, key_names[k]);
            if (k == K_SEQ)
                out->seq = n;
            else if (k == K_VERSION) {
                if (n == 0)
                    return afs_error_set(AUDITFS_EFORMAT, "line %u: versions start at 1", line);
                out->version = n;
            } else if (k == K_CLENGTH)
                out->content_length = n;
            else
                length = n;
            break;
        }
        case K_TIME:
        case K_EVTIME:
        case K_EFFECTIVE: {
            int64_t t;
            if (!afs_parse_time(&t, v, vlen))
                return afs_error_set(AUDITFS_EFORMAT,
                                     "line %u: '%s' is not YYYY-MM-DDThh:mm:ss.uuuuuuZ", line,
                                     key_names[k]);
            if (k == K_TIME)
                out->time_us = t;
            else if (k == K_EVTIME) {
                out->event_time_us = t;
                out->has_event_time = 1;
            } else {
                out->effective_us = t;
                out->has_effective = 1;
            }
            break;
        }
        case K_TYPE: err = copy_field(out->type, sizeof out->type, v, vlen, line); break;
        case K_STREAM: err = copy_field(out->stream, sizeof out->stream, v, vlen, line); break;
        case K_TENANT: err = copy_field(out->tenant, sizeof out->tenant, v, vlen, line); break;
        case K_PARTY: err = copy_field(out->party, sizeof out->party, v, vlen, line); break;
        case K_LAYER: err = copy_field(out->layer, sizeof out->layer, v, vlen, line); break;
        case K_NAME: err = copy_field(out->name, sizeof out->name, v, vlen, line); break;
        case K_TITLE: err = copy_field(out->title, sizeof out->title, v, vlen, line); break;
        case K_CTYPE:
            err = copy_field(out->content_type, sizeof out->content_type, v, vlen, line);
            break;
        case K_REASON: err = copy_field(out->reason, sizeof out->reason, v, vlen, line); break;
        case K_CSHA:
            if (vlen != 64)
                return afs_error_set(AUDITFS_EFORMAT, "line %u: content-sha256 needs 64 hex digits",
                                     line);
            for (int i = 0; i < 32; i++) {
                int hi = hexval(v[2 * i]), lo = hexval(v[2 * i + 1]);
                if (hi < 0 || lo < 0)
                    return afs_error_set(AUDITFS_EFORMAT,
                                         "line %u: content-sha256 is not lowercase hex", line);
                out->content_sha256[i] = (uint8_t)(hi << 4 | lo);
            }
            break;
        case K_PREV:
            if (vlen != 44 || afs_b64_decode(out->prev.b, 32, v, vlen) != 32)
                return afs_error_set(AUDITFS_EFORMAT, "line %u: prev is not a base64 SHA-256",
                                     line);
            break;
        }
        if (err)
            return err;
        p = nl + 1;
    }
    if (!have[K_SEQ] || !have[K_TIME] || !have[K_TYPE] || !have[K_STREAM] || !have[K_PREV] ||
        !have[K_LENGTH])
        return afs_error_set(AUDITFS_EFORMAT,
                             "missing one of the required headers seq, time, type, stream, prev, "
                             "length");
    if (have[K_CTYPE] != have[K_CLENGTH] || have[K_CLENGTH] != have[K_CSHA])
        return afs_error_set(AUDITFS_EFORMAT,
                             "content-type, content-length and content-sha256 go together");
    out->has_content = have[K_CSHA];
    if (length != (uint64_t)(end - p))
        return afs_error_set(AUDITFS_EFORMAT, "length %llu but %zu payload bytes follow",
                             (unsigned long long)length, (size_t)(end - p));
    out->payload = (const uint8_t *)p;
    out->payload_len = (size_t)(end - p);
    return check_fields(out);
}


int
auditfs_entry_to_json(char **out, const auditfs_entry *e, int with_payload)
{
    afs_buf b = AFS_BUF_INIT;
    char t[32];
    int err;
    afs_format_time(t, e->time_us);
    err = afs_buf_printf(&b, "{\"seq\":%llu,\"time\":\"%s\"", (unsigned long long)e->seq, t);
    if (!err && e->has_event_time) {
        afs_format_time(t, e->event_time_us);
        err = afs_json_put_field(&b, "event_time", t);
    }
    if (!err)
        err = afs_json_put_field(&b, "type", e->type);
    if (!err)
        err = afs_json_put_field(&b, "stream", e->stream);
    if (!err && e->tenant[0])
        err = afs_json_put_field(&b, "tenant", e->tenant);
    if (!err && e->party[0])
        err = afs_json_put_field(&b, "party", e->party);
    if (!err && e->layer[0])
        err = afs_json_put_field(&b, "layer", e->layer);
    if (!err && e->name[0]) {
        err = afs_json_put_field(&b, "name", e->name);
        if (!err)
            err = afs_buf_printf(&b, ",\"version\":%llu", (unsigned long long)e->version);
    }
    if (!err && e->title[0])
        err = afs_json_put_field(&b, "title", e->title);
    if (!err && e->has_effective) {
        afs_format_time(t, e->effective_us);
        err = afs_json_put_field(&b, "effective", t);
    }
    if (!err && e->has_content) {
        char hex[65];
        for (int i = 0; i < 32; i++)
            snprintf(hex + 2 * i, 3, "%02x", e->content_sha256[i]);
        err = afs_json_put_field(&b, "content_type", e->content_type);
        if (!err)
            err = afs_buf_printf(&b, ",\"content_length\":%llu,\"content_sha256\":\"%s\"",
                                 (unsigned long long)e->content_length, hex);
    }
    if (!err && e->reason[0])
        err = afs_json_put_field(&b, "reason", e->reason);
    if (!err && with_payload && !e->has_content) {
        if (afs_json_embeddable(e->payload, e->payload_len)) {
            err = afs_buf_puts(&b, ",\"payload\":");
            if (!err)
                err = afs_buf_put(&b, e->payload, e->payload_len);
        } else if (afs_utf8_valid(e->payload, e->payload_len, true)) {
            err = afs_buf_puts(&b, ",\"payload\":");
            if (!err)
                err = afs_json_put_string(&b, e->payload, e->payload_len);
        } else {
            char *b64 = malloc(AFS_B64_LEN(e->payload_len) + 1);
            if (!b64)
                err = afs_error_set(AUDITFS_ENOMEM, "out of memory");
            else {
                afs_b64_encode(b64, e->payload, e->payload_len);
                err = afs_buf_printf(&b, ",\"payload_base64\":\"%s\"", b64);
                free(b64);
            }
        }
    }
    if (!err)
        err = afs_buf_puts(&b, "}");
    if (err) {
        afs_buf_release(&b);
        return err;
    }
    *out = afs_buf_detach(&b, NULL);
    return 0;
}
