/*
 * ledger/cosig.c - C2SP tlog-cosignature v1 (timestamped Ed25519 cosignatures).
 *
 * Every parser here reads untrusted bytes: lengths come from the caller, strings need not be
 * NUL-terminated, nothing is read past `len`, and every loop is bounded by the input length or
 * by AUDITFS_NOTE_MAX_SIGS.
 */
#include "auditfs/cosig.h"
#include "internal.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>

#define ALG_ED25519 0x01
#define ALG_COSIG_V1 0x04
#define PK_BYTES 32
#define SIG_BYTES 64
#define KEY_FILE_MAX 1024
static const char sig_prefix[] = "\xe2\x80\x94 ";
#define SIG_PREFIX_LEN (sizeof sig_prefix - 1)
static const char cosig_header[] = "cosignature/v1\n";

static uint32_t
key_hash(const char *name, size_t name_len, uint8_t alg, const uint8_t pk[PK_BYTES])
{
    uint8_t sep[2] = {'\n', alg};
    uint8_t digest[32];
    afs_sha256_ctx c;
    afs_sha256_init(&c);
    afs_sha256_update(&c, name, name_len);
    afs_sha256_update(&c, sep, sizeof sep);
    afs_sha256_update(&c, pk, PK_BYTES);
    afs_sha256_final(&c, digest);
    return afs_load_be32(digest);
}

uint32_t
auditfs_cosig_key_id(const auditfs_verifier *w)
{
    if (!w)
        return 0;
    const char *name = auditfs_verifier_name(w);
    return key_hash(name, strlen(name), ALG_COSIG_V1, auditfs_verifier_public_key(w));
}

/* "<name>+<8 hex>+<base64>": split on the first two '+' (base64 may contain '+'). */
int
auditfs_cosig_verifier_parse(auditfs_verifier **out, const char *vkey, size_t len)
{
    uint8_t raw[1 + PK_BYTES];
    char b64[AFS_B64_LEN(1 + PK_BYTES) + 1];
    char buf[AUDITFS_NAME_MAX + 64];
    if (!out || (!vkey && len))
        return afs_error_set(AUDITFS_EINVAL, "auditfs_cosig_verifier_parse: NULL argument");
    *out = NULL;
    if (len && vkey[len - 1] == '\n')
        len--;
    const char *p1 = memchr(vkey, '+', len);
    const char *p2 = p1 ? memchr(p1 + 1, '+', len - (size_t)(p1 + 1 - vkey)) : NULL;
    if (!p1 || !p2)
        return afs_error_set(AUDITFS_EKEY, "witness key: expected <name>+<key id>+<base64 key>");
    size_t name_len = (size_t)(p1 - vkey);
    const char *hex = p1 + 1;
    const char *kb = p2 + 1;
    size_t kb_len = len - (size_t)(kb - vkey);
    if (name_len == 0 || name_len > AUDITFS_NAME_MAX)
        return afs_error_set(AUDITFS_EKEY, "witness key: name must be 1-%d bytes",
                             AUDITFS_NAME_MAX);
    if (p2 - hex != 8)
        return afs_error_set(AUDITFS_EKEY, "witness key %.*s: key id is not 8 hex digits",
                             (int)name_len, vkey);
    uint32_t id = 0;
    for (int i = 0; i < 8; i++) {
        char c = hex[i];
        int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
        if (d < 0)
            return afs_error_set(AUDITFS_EKEY,
                                 "witness key %.*s: key id is not 8 lowercase hex digits",
                                 (int)name_len, vkey);
        id = (id << 4) | (uint32_t)d;
    }
    if (afs_b64_decode(raw, sizeof raw, kb, kb_len) != (long)sizeof raw)
        return afs_error_set(AUDITFS_EKEY, "witness key %.*s: key is not base64 of %d bytes",
                             (int)name_len, vkey, 1 + PK_BYTES);
    if (raw[0] == ALG_ED25519) /* a plain note vkey: the note parser checks everything */
        return auditfs_verifier_parse(out, vkey, len);
    if (raw[0] != ALG_COSIG_V1)
        return afs_error_set(AUDITFS_EKEY,
                             "witness key %.*s: unknown type 0x%02x (want 0x01 or 0x04)",
                             (int)name_len, vkey, raw[0]);
    uint32_t want = key_hash(vkey, name_len, ALG_COSIG_V1, raw + 1);
    if (want != id)
        return afs_error_set(AUDITFS_EKEY,
                             "witness key %.*s: key id %08x does not match the key (%08x)",
                             (int)name_len, vkey, id, want);
    /* Re-encode as the equivalent note vkey so the name checks live in one place. */
    raw[0] = ALG_ED25519;
    afs_b64_encode(b64, raw, sizeof raw);
    int n = snprintf(buf, sizeof buf, "%.*s+%08x+%s", (int)name_len, vkey,
                     key_hash(vkey, name_len, ALG_ED25519, raw + 1), b64);
    if (n < 0 || (size_t)n >= sizeof buf)
        return afs_error_set(AUDITFS_EKEY, "witness key: too long");
    return auditfs_verifier_parse(out, buf, (size_t)n);
}

int
auditfs_cosig_verifier_load(auditfs_verifier **out, const char *path)
{
    char *buf = NULL;
    size_t len = 0;
    int err;
    if (!out || !path)
        return afs_error_set(AUDITFS_EINVAL, "auditfs_cosig_verifier_load: NULL argument");
    if ((err = afs_read_file(&buf, &len, path, KEY_FILE_MAX)) != 0)
        return err;
    err = auditfs_cosig_verifier_parse(out, buf, len);
    free(buf);
    if (err)
        return afs_error_wrap(err, "%s", path);
    return 0;
}

int
auditfs_cosig_verifier_format(char **out, const auditfs_verifier *w)
{
    uint8_t raw[1 + PK_BYTES];
    char b64[AFS_B64_LEN(1 + PK_BYTES) + 1];
    afs_buf b = AFS_BUF_INIT;
    int err;
    if (!out || !w)
        return afs_error_set(AUDITFS_EINVAL, "auditfs_cosig_verifier_format: NULL argument");
    raw[0] = ALG_COSIG_V1;
    memcpy(raw + 1, auditfs_verifier_public_key(w), PK_BYTES);
    afs_b64_encode(b64, raw, sizeof raw);
    if ((err = afs_buf_printf(&b, "%s+%08x+%s", auditfs_verifier_name(w),
                              auditfs_cosig_key_id(w), b64)) != 0) {
        afs_buf_release(&b);
        return err;
    }
    *out = afs_buf_detach(&b, NULL);
    return 0;
}

int
auditfs_cosig_message(char **out, size_t *out_len, const char *body, size_t body_len,
                      uint64_t timestamp)
{
    afs_buf b = AFS_BUF_INIT;
    int err;
    if (!out || (!body && body_len))
        return afs_error_set(AUDITFS_EINVAL, "auditfs_cosig_message: NULL argument");
    *out = NULL;
    if (timestamp > (uint64_t)AUDITFS_COSIG_MAX_TIME)
        return afs_error_set(AUDITFS_EINVAL, "cosignature timestamp %" PRIu64 " exceeds 2^63-1",
                             timestamp);
    if (body_len == 0 || body[body_len - 1] != '\n')
        return afs_error_set(AUDITFS_EFORMAT, "checkpoint body does not end in a newline");
    if ((err = afs_buf_puts(&b, cosig_header)) != 0 ||
        (err = afs_buf_printf(&b, "time %" PRIu64 "\n", timestamp)) != 0 ||
        (err = afs_buf_put(&b, body, body_len)) != 0) {
        afs_buf_release(&b);
        return err;
    }
    *out = afs_buf_detach(&b, out_len);
    return 0;
}

int
auditfs_cosig_sign(char **line, size_t *line_len, const char *body, size_t body_len,
                   const auditfs_signer *w, uint64_t timestamp)
{
    uint8_t raw[AUDITFS_COSIG_RAW_BYTES];
    char b64[AFS_B64_LEN(AUDITFS_COSIG_RAW_BYTES) + 1];
    auditfs_verifier *v = NULL;
    auditfs_checkpoint cp;
    char *msg = NULL;
    size_t msg_len = 0;
    afs_buf b = AFS_BUF_INIT;
    int err;
    if (!line || !w || (!body && body_len))
        return afs_error_set(AUDITFS_EINVAL, "auditfs_cosig_sign: NULL argument");
    *line = NULL;
    /* A witness states something about a tree head: refuse to sign anything else. */
    if ((err = auditfs_checkpoint_parse(&cp, body, body_len)) != 0)
        return err;
    if ((err = auditfs_cosig_message(&msg, &msg_len, body, body_len, timestamp)) != 0)
        return err;
    if ((err = auditfs_signer_verifier(&v, w)) != 0)
        goto cleanup;
    afs_store_be32(raw, auditfs_cosig_key_id(v));
    afs_store_be64(raw + 4, timestamp);
    if ((err = auditfs_signer_sign(raw + 12, w, msg, msg_len)) != 0)
        goto cleanup;
    afs_b64_encode(b64, raw, sizeof raw);
    if ((err = afs_buf_put(&b, sig_prefix, SIG_PREFIX_LEN)) != 0 ||
        (err = afs_buf_printf(&b, "%s %s\n", auditfs_signer_name(w), b64)) != 0)
        goto cleanup;
    *line = afs_buf_detach(&b, line_len);
cleanup:
    afs_buf_release(&b);
    auditfs_verifier_free(v);
    free(msg);
    return err;
}

int
auditfs_cosig_parse_line(auditfs_cosig_line *out, const char *line, size_t len)
{
    uint8_t raw[AUDITFS_COSIG_RAW_BYTES];
    if (!out || (!line && len))
        return afs_error_set(AUDITFS_EINVAL, "auditfs_cosig_parse_line: NULL argument");
    if (len && line[len - 1] == '\n')
        len--;
    if (len < SIG_PREFIX_LEN || memcmp(line, sig_prefix, SIG_PREFIX_LEN) != 0)
        return afs_error_set(AUDITFS_EFORMAT, "signature line does not start with \"— \"");
    const char *name = line + SIG_PREFIX_LEN;
    size_t rest = len - SIG_PREFIX_LEN;
    const char *sp = memchr(name, ' ', rest);
    if (!sp)
        return afs_error_set(AUDITFS_EFORMAT, "expected \"— <name> <base64 signature>\"");
    size_t name_len = (size_t)(sp - name);
    if (name_len == 0 || name_len > AUDITFS_NAME_MAX ||
        !afs_utf8_valid((const uint8_t *)name, name_len, false) || memchr(name, '+', name_len))
        return afs_error_set(AUDITFS_EFORMAT, "signature line: invalid key name");
    const char *b64 = sp + 1;
    size_t b64_len = rest - name_len - 1;
    if (b64_len != AFS_B64_LEN(AUDITFS_COSIG_RAW_BYTES) ||
        afs_b64_decode(raw, sizeof raw, b64, b64_len) != AUDITFS_COSIG_RAW_BYTES)
        return afs_error_set(AUDITFS_EFORMAT,
                             "signature line by %.*s is not base64 of a %d-byte cosignature",
                             (int)name_len, name, AUDITFS_COSIG_RAW_BYTES);
    uint64_t t = afs_load_be64(raw + 4);
    if (t > (uint64_t)AUDITFS_COSIG_MAX_TIME)
        return afs_error_set(AUDITFS_EFORMAT, "cosignature by %.*s: timestamp exceeds 2^63-1",
                             (int)name_len, name);
    memset(out, 0, sizeof *out);
    memcpy(out->name, name, name_len);
    out->key_id = afs_load_be32(raw);
    out->timestamp = t;
    memcpy(out->sig, raw + 12, SIG_BYTES);
    return 0;
}

int
auditfs_note_split(size_t *text_len, size_t *sigs_off, const char *note, size_t len)
{
    if (!text_len || !sigs_off || (!note && len))
        return afs_error_set(AUDITFS_EINVAL, "auditfs_note_split: NULL argument");
    if (len > AUDITFS_NOTE_MAX_BYTES)
        return afs_error_set(AUDITFS_ETOOBIG, "note of %zu bytes exceeds the limit of %d", len,
                             AUDITFS_NOTE_MAX_BYTES);
    if (len == 0 || note[len - 1] != '\n')
        return afs_error_set(AUDITFS_EFORMAT, "note does not end in a newline");
    /* The text ends at the last blank line. */
    for (size_t i = len - 1; i > 0; i--) {
        if (note[i] == '\n' && note[i - 1] == '\n') {
            if (i + 1 == len)
                return afs_error_set(AUDITFS_EFORMAT, "note has no signature lines");
            *text_len = i;
            *sigs_off = i + 1;
            return 0;
        }
    }
    return afs_error_set(AUDITFS_EFORMAT, "note has no blank line before its signatures");
}

/* Checks one parsed line against the witness and the note text; 0 or EVERIFY. */
static int
check_line(const auditfs_cosig_line *cl, const char *text, size_t text_len,
           const auditfs_verifier *w)
{
    char *msg = NULL;
    size_t msg_len = 0;
    int err = auditfs_cosig_message(&msg, &msg_len, text, text_len, cl->timestamp);
    if (err)
        return err;
    if (crypto_sign_verify_detached(cl->sig, (const uint8_t *)msg, msg_len,
                                    auditfs_verifier_public_key(w)) != 0)
        err = afs_error_set(AUDITFS_EVERIFY, "invalid cosignature by %s+%08x at time %" PRIu64,
                            auditfs_verifier_name(w), auditfs_cosig_key_id(w), cl->timestamp);
    free(msg);
    return err;
}

/* 1 if the line's name and key id are the witness's. */
static int
line_is_witness(const auditfs_cosig_line *cl, const auditfs_verifier *w, uint32_t id)
{
    return cl->key_id == id && strcmp(cl->name, auditfs_verifier_name(w)) == 0;
}

/*
 * Walks the signature block: for each line calls fn with the raw line (without newline) and,
 * when it parses as a cosignature, the parsed form (else NULL). Bounded by
 * AUDITFS_NOTE_MAX_SIGS lines.
 */
typedef int (*line_fn)(const char *l, size_t n, const auditfs_cosig_line *cl, void *payload);

static int
walk_sigs(const char *note, size_t len, size_t off, line_fn fn, void *payload)
{
    unsigned count = 0;
    while (off < len) {
        const char *l = note + off;
        const char *nl = memchr(l, '\n', len - off);
        size_t n = (size_t)(nl - l); /* the note ends in '\n', so nl is never NULL */
        off += n + 1;
        if (++count > AUDITFS_NOTE_MAX_SIGS)
            return afs_error_set(AUDITFS_EFORMAT, "note has more than %d signatures",
                                 AUDITFS_NOTE_MAX_SIGS);
        if (n < SIG_PREFIX_LEN || memcmp(l, sig_prefix, SIG_PREFIX_LEN) != 0)
            return afs_error_set(AUDITFS_EFORMAT, "signature line %u does not start with \"— \"",
                                 count);
        auditfs_cosig_line cl;
        int ok = auditfs_cosig_parse_line(&cl, l, n) == 0;
        int err = fn(l, n, ok ? &cl : NULL, payload);
        if (err)
            return err;
    }
    auditfs_error_clear();
    return 0;
}

struct verify_state {
    const char *text;
    size_t text_len;
    const auditfs_verifier *w;
    uint32_t id;
    unsigned found;
    uint64_t first, last;
};

static int
verify_one(const char *l, size_t n, const auditfs_cosig_line *cl, void *payload)
{
    struct verify_state *s = payload;
    (void)l;
    (void)n;
    if (!cl || !line_is_witness(cl, s->w, s->id))
        return 0; /* another key's line: ignored, as signed-note requires */
    int err = check_line(cl, s->text, s->text_len, s->w);
    if (err)
        return err;
    if (s->found == 0 || cl->timestamp < s->first)
        s->first = cl->timestamp;
    if (s->found == 0 || cl->timestamp > s->last)
        s->last = cl->timestamp;
    s->found++;
    return 0;
}

int
auditfs_cosig_verify(uint64_t *first, uint64_t *last, const char *note, size_t len,
                     const auditfs_verifier *w)
{
    size_t text_len, off;
    int err;
    if (!w || (!note && len))
        return afs_error_set(AUDITFS_EINVAL, "auditfs_cosig_verify: NULL argument");
    if ((err = auditfs_note_split(&text_len, &off, note, len)) != 0)
        return err;
    struct verify_state s = {note, text_len, w, auditfs_cosig_key_id(w), 0, 0, 0};
    if ((err = walk_sigs(note, len, off, verify_one, &s)) != 0)
        return err;
    if (s.found == 0)
        return afs_error_set(AUDITFS_ENOTFOUND, "no cosignature by %s+%08x",
                             auditfs_verifier_name(w), s.id);
    if (first)
        *first = s.first;
    if (last)
        *last = s.last;
    return 0;
}

struct merge_state {
    afs_buf *b;
    const auditfs_verifier *w;
    uint32_t id;
    /* the witness's oldest and newest lines seen so far (copies) */
    int have;
    unsigned others; /* lines of other keys copied */
    auditfs_cosig_line lo, hi;
    char lo_line[512], hi_line[512];
};

static int
merge_one(const char *l, size_t n, const auditfs_cosig_line *cl, void *payload)
{
    struct merge_state *s = payload;
    if (!cl || !line_is_witness(cl, s->w, s->id)) {
        s->others++;
        int err = afs_buf_put(s->b, l, n);
        return err ? err : afs_buf_puts(s->b, "\n");
    }
    if (n >= sizeof s->lo_line) /* a 76-byte cosignature line is far shorter */
        return afs_error_set(AUDITFS_EFORMAT, "cosignature line too long");
    if (!s->have || cl->timestamp < s->lo.timestamp) {
        s->lo = *cl;
        memcpy(s->lo_line, l, n);
        s->lo_line[n] = 0;
    }
    if (!s->have || cl->timestamp > s->hi.timestamp) {
        s->hi = *cl;
        memcpy(s->hi_line, l, n);
        s->hi_line[n] = 0;
    }
    s->have = 1;
    return 0;
}

/*
 * Long because the merge is one pass over the note that must keep its order: check the new lines,
 * then write the text, the other keys' lines and the witness's newest two, within the limits.
 */
int
auditfs_cosig_merge(char **out, size_t *out_len, int *changed, const char *note, size_t len,
                    const char *lines, size_t lines_len, const auditfs_verifier *w)
{
    size_t text_len, off;
    afs_buf b = AFS_BUF_INIT;
    struct merge_state *s = NULL;
    int err;
    if (!out || !w || (!note && len) || (!lines && lines_len))
        return afs_error_set(AUDITFS_EINVAL, "auditfs_cosig_merge: NULL argument");
    *out = NULL;
    if ((err = auditfs_note_split(&text_len, &off, note, len)) != 0)
        return err;
    /* The new lines must all be the witness's and verify against this note's text. */
    if (lines_len == 0 || lines[lines_len - 1] != '\n')
        return afs_error_set(AUDITFS_EFORMAT, "cosignature lines do not end in a newline");
    if (lines_len > AUDITFS_NOTE_MAX_BYTES)
        return afs_error_set(AUDITFS_ETOOBIG, "cosignature lines exceed %d bytes",
                             AUDITFS_NOTE_MAX_BYTES);
    uint32_t id = auditfs_cosig_key_id(w);
    for (size_t p = 0; p < lines_len;) {
        const char *l = lines + p;
        const char *nl = memchr(l, '\n', lines_len - p);
        size_t n = (size_t)(nl - l);
        auditfs_cosig_line cl;
        p += n + 1;
        if ((err = auditfs_cosig_parse_line(&cl, l, n)) != 0)
            return err;
        if (!line_is_witness(&cl, w, id))
            return afs_error_set(AUDITFS_EVERIFY,
                                 "cosignature line by \"%s\" key id %08x is not by %s+%08x",
                                 cl.name, cl.key_id, auditfs_verifier_name(w), id);
        if ((err = check_line(&cl, note, text_len, w)) != 0)
            return err;
    }
    if ((s = calloc(1, sizeof *s)) == NULL)
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    s->b = &b;
    s->w = w;
    s->id = id;
    /* the note's text, the blank line, the other keys' lines in order, then the witness's */
    if ((err = afs_buf_put(&b, note, off)) != 0 ||
        (err = walk_sigs(note, len, off, merge_one, s)) != 0)
        goto cleanup;
    int had = s->have;
    uint64_t old_lo = s->lo.timestamp, old_hi = s->hi.timestamp;
    /* existing lines of the witness were checked too: a bad one would be carried forward */
    for (int pass = 0; pass < 2; pass++) {
        const char *src = pass == 0 ? note + off : lines;
        size_t srclen = pass == 0 ? len - off : lines_len;
        for (size_t p = 0; p < srclen;) {
            const char *l = src + p;
            const char *nl = memchr(l, '\n', srclen - p);
            size_t n = (size_t)(nl - l);
            auditfs_cosig_line cl;
            p += n + 1;
            if (auditfs_cosig_parse_line(&cl, l, n) != 0 || !line_is_witness(&cl, w, id))
                continue;
            if (pass == 0 && (err = check_line(&cl, note, text_len, w)) != 0)
                goto cleanup;
            if (pass == 1 && (err = merge_one(l, n, &cl, s)) != 0)
                goto cleanup;
        }
    }
    auditfs_error_clear();
    if (had && s->lo.timestamp == old_lo && s->hi.timestamp == old_hi) {
        /* nothing new: hand back the note exactly as it was */
        b.len = 0;
        if ((err = afs_buf_put(&b, note, len)) != 0)
            goto cleanup;
        if (changed)
            *changed = 0;
        *out = afs_buf_detach(&b, out_len);
        goto cleanup;
    }
    if (s->others + 1 + (s->hi.timestamp != s->lo.timestamp) > AUDITFS_NOTE_MAX_SIGS) {
        err = afs_error_set(AUDITFS_EFORMAT, "a cosigned note would have more than %d signatures",
                            AUDITFS_NOTE_MAX_SIGS);
        goto cleanup;
    }
    if ((err = afs_buf_puts(&b, s->lo_line)) != 0 || (err = afs_buf_puts(&b, "\n")) != 0)
        goto cleanup;
    if (s->hi.timestamp != s->lo.timestamp &&
        ((err = afs_buf_puts(&b, s->hi_line)) != 0 || (err = afs_buf_puts(&b, "\n")) != 0))
        goto cleanup;
    if (b.len > AUDITFS_NOTE_MAX_BYTES) {
        err = afs_error_set(AUDITFS_ETOOBIG, "cosigned note exceeds %d bytes",
                            AUDITFS_NOTE_MAX_BYTES);
        goto cleanup;
    }
    if (changed)
        *changed = 1;
    *out = afs_buf_detach(&b, out_len);
cleanup:
    afs_buf_release(&b);
    free(s);
    return err;
}
