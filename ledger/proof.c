/*
 * ledger/proof.c - JSON and c2sp.org/tlog-proof@v1 serialisations of Merkle proofs.
 *
 * The JSON reader is a hand-written recogniser for exactly one shape: an object with two
 * canonical non-negative integer members and one array of base64 SHA-256 hashes. It never
 * allocates, reads at most `len` bytes, and reports the byte offset of the first problem.
 */
#include "auditfs/proof.h"
#include "internal.h"
#include "json.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#define HASH_B64_LEN AFS_B64_LEN(AUDITFS_HASH_BYTES) /* 44 */

/* ---- JSON output ---- */

static int
put_hash_array(afs_buf *b, const auditfs_hash *path, size_t n)
{
    char enc[HASH_B64_LEN + 1];
    int err = afs_buf_puts(b, "[");
    for (size_t i = 0; !err && i < n; i++) {
        afs_b64_encode(enc, path[i].b, AUDITFS_HASH_BYTES);
        err = afs_buf_printf(b, "%s\"%s\"", i ? "," : "", enc);
    }
    if (!err)
        err = afs_buf_puts(b, "]}");
    return err;
}

static int
proof_to_json(char **out, const char *k1, uint64_t v1, const char *k2, uint64_t v2, const char *k3,
              const auditfs_hash *path, size_t n, size_t max)
{
    afs_buf b = AFS_BUF_INIT;
    int err;
    if (!out || (!path && n))
        return afs_error_set(AUDITFS_EINVAL, "proof to JSON: NULL argument");
    if (n > max)
        return afs_error_set(AUDITFS_EINVAL, "proof has %zu hashes, more than %zu", n, max);
    err = afs_buf_printf(&b, "{\"%s\":%" PRIu64 ",\"%s\":%" PRIu64 ",\"%s\":", k1, v1, k2, v2, k3);
    if (!err)
        err = put_hash_array(&b, path, n);
    if (err)
        goto cleanup;
    *out = afs_buf_detach(&b, NULL);
cleanup:
    afs_buf_release(&b);
    return err;
}

int
auditfs_inclusion_proof_to_json(char **out, const auditfs_inclusion_proof *p)
{
    if (!p)
        return afs_error_set(AUDITFS_EINVAL, "inclusion proof to JSON: NULL proof");
    return proof_to_json(out, "leaf_index", p->leaf_index, "tree_size", p->tree_size, "audit_path",
                         p->path, p->path_len, AUDITFS_MERKLE_MAX_INCLUSION);
}

int
auditfs_consistency_proof_to_json(char **out, const auditfs_consistency_proof *p)
{
    if (!p)
        return afs_error_set(AUDITFS_EINVAL, "consistency proof to JSON: NULL proof");
    return proof_to_json(out, "first", p->first, "second", p->second, "consistency", p->path,
                         p->path_len, AUDITFS_MERKLE_MAX_CONSISTENCY);
}

/* ---- JSON input ---- */

static int
jhash_array(afs_jr *r, auditfs_hash *path, size_t max, size_t *count)
{
    afs_buf enc = AFS_BUF_INIT;
    size_t n = 0;
    int err;
    if ((err = afs_jr_expect(r, '[')) != 0)
        return err;
    if (afs_jr_peek(r, ']')) {
        r->pos++;
        *count = 0;
        return 0;
    }
    for (;;) {
        afs_jr_ws(r);
        size_t at = r->pos;
        if (n == max) {
            char msg[64];
            snprintf(msg, sizeof msg, "more than %zu hashes", max);
            err = afs_jr_fail(r, at, msg);
            break;
        }
        enc.len = 0;
        if ((err = afs_jr_string(r, &enc)) != 0)
            break;
        if (enc.len != HASH_B64_LEN ||
            afs_b64_decode(path[n].b, AUDITFS_HASH_BYTES, enc.data, enc.len) != AUDITFS_HASH_BYTES) {
            err = afs_jr_fail(r, at, "hash is not base64 of 32 bytes");
            break;
        }
        n++;
        if (afs_jr_peek(r, ',')) {
            r->pos++;
            continue;
        }
        if (afs_jr_peek(r, ']')) {
            r->pos++;
            break;
        }
        err = afs_jr_fail(r, r->pos, "expected ',' or ']'");
        break;
    }
    afs_buf_release(&enc);
    if (!err)
        *count = n;
    return err;
}

/* Parses {k[0]: u64, k[1]: u64, k[2]: [hash, ...]} with each key exactly once, in any order. */
static int
proof_from_json(const char *json, size_t len, const char *const keys[3], uint64_t *v1, uint64_t *v2,
                auditfs_hash *path, size_t max, size_t *count)
{
    afs_jr r = AFS_JR_INIT(json, len);
    afs_buf key = AFS_BUF_INIT;
    unsigned seen = 0;
    int err;
    if (!json)
        return afs_error_set(AUDITFS_EINVAL, "proof from JSON: NULL input");
    if (len > AUDITFS_PROOF_MAX_BYTES)
        return afs_error_set(AUDITFS_ETOOBIG, "proof JSON is %zu bytes, more than %u", len,
                             AUDITFS_PROOF_MAX_BYTES);
    if ((err = afs_jr_expect(&r, '{')) != 0)
        return err;
    if (afs_jr_peek(&r, '}'))
        return afs_jr_fail(&r, r.pos, "missing key");
    for (;;) {
        afs_jr_ws(&r);
        size_t at = r.pos;
        key.len = 0;
        if ((err = afs_jr_string(&r, &key)) != 0)
            goto cleanup;
        int k = -1;
        for (int i = 0; i < 3; i++) {
            if (key.len == strlen(keys[i]) && memcmp(key.data, keys[i], key.len) == 0)
                k = i;
        }
        if (k < 0) {
            err = afs_jr_fail(&r, at, "unknown key");
            goto cleanup;
        }
        if (seen & (1u << k)) {
            char msg[48];
            snprintf(msg, sizeof msg, "duplicate key \"%s\"", keys[k]);
            err = afs_jr_fail(&r, at, msg);
            goto cleanup;
        }
        seen |= 1u << k;
        if ((err = afs_jr_expect(&r, ':')) != 0)
            goto cleanup;
        if (k == 0)
            err = afs_jr_u64(&r, v1);
        else if (k == 1)
            err = afs_jr_u64(&r, v2);
        else
            err = jhash_array(&r, path, max, count);
        if (err)
            goto cleanup;
        if (afs_jr_peek(&r, ',')) {
            r.pos++;
            continue;
        }
        if (afs_jr_peek(&r, '}')) {
            r.pos++;
            break;
        }
        err = afs_jr_fail(&r, r.pos, "expected ',' or '}'");
        goto cleanup;
    }
    for (int i = 0; i < 3; i++) {
        if (!(seen & (1u << i))) {
            char msg[48];
            snprintf(msg, sizeof msg, "missing key \"%s\"", keys[i]);
            err = afs_jr_fail(&r, r.pos, msg);
            goto cleanup;
        }
    }
    afs_jr_ws(&r);
    if (r.pos != r.n)
        err = afs_jr_fail(&r, r.pos, "trailing data after the object");
cleanup:
    afs_buf_release(&key);
    return err;
}

int
auditfs_inclusion_proof_from_json(auditfs_inclusion_proof *out, const char *json, size_t len)
{
    static const char *const keys[3] = {"leaf_index", "tree_size", "audit_path"};
    auditfs_inclusion_proof p = {0};
    if (!out)
        return afs_error_set(AUDITFS_EINVAL, "inclusion proof from JSON: NULL output");
    int err = proof_from_json(json, len, keys, &p.leaf_index, &p.tree_size, p.path,
                              AUDITFS_MERKLE_MAX_INCLUSION, &p.path_len);
    if (err)
        return afs_error_wrap(err, "inclusion proof JSON");
    *out = p;
    return 0;
}

int
auditfs_consistency_proof_from_json(auditfs_consistency_proof *out, const char *json, size_t len)
{
    static const char *const keys[3] = {"first", "second", "consistency"};
    auditfs_consistency_proof p = {0};
    if (!out)
        return afs_error_set(AUDITFS_EINVAL, "consistency proof from JSON: NULL output");
    int err = proof_from_json(json, len, keys, &p.first, &p.second, p.path,
                              AUDITFS_MERKLE_MAX_CONSISTENCY, &p.path_len);
    if (err)
        return afs_error_wrap(err, "consistency proof JSON");
    *out = p;
    return 0;
}

/* ---- c2sp.org/tlog-proof@v1 ---- */

static const char tlog_header[] = "c2sp.org/tlog-proof@v1";

int
auditfs_tlog_proof_format(char **out, size_t *out_len, const auditfs_inclusion_proof *p,
                          const char *checkpoint_note, size_t note_len, const uint8_t *extra,
                          size_t extra_len)
{
    afs_buf b = AFS_BUF_INIT;
    char enc[HASH_B64_LEN + 1];
    int err;
    if (!out || !p || !checkpoint_note || (!extra && extra_len))
        return afs_error_set(AUDITFS_EINVAL, "tlog-proof format: NULL argument");
    if (p->path_len > AUDITFS_MERKLE_MAX_INCLUSION)
        return afs_error_set(AUDITFS_EINVAL, "tlog-proof format: %zu hashes, more than %d",
                             p->path_len, AUDITFS_MERKLE_MAX_INCLUSION);
    if (note_len == 0)
        return afs_error_set(AUDITFS_EINVAL, "tlog-proof format: empty checkpoint");
    if (note_len > AUDITFS_PROOF_MAX_BYTES || extra_len > AUDITFS_TLOG_EXTRA_MAX_BYTES)
        return afs_error_set(AUDITFS_ETOOBIG, "tlog-proof format: checkpoint or extra too large");
    if ((err = afs_buf_printf(&b, "%s\n", tlog_header)) != 0)
        goto cleanup;
    if (extra) {
        size_t elen = AFS_B64_LEN(extra_len);
        if ((err = afs_buf_puts(&b, "extra ")) != 0 || (err = afs_buf_grow(&b, elen + 1)) != 0)
            goto cleanup;
        b.len += afs_b64_encode(b.data + b.len, extra, extra_len);
        if ((err = afs_buf_puts(&b, "\n")) != 0)
            goto cleanup;
    }
    if ((err = afs_buf_printf(&b, "index %" PRIu64 "\n", p->leaf_index)) != 0)
        goto cleanup;
    for (size_t i = 0; i < p->path_len; i++) {
        afs_b64_encode(enc, p->path[i].b, AUDITFS_HASH_BYTES);
        if ((err = afs_buf_printf(&b, "%s\n", enc)) != 0)
            goto cleanup;
    }
    if ((err = afs_buf_puts(&b, "\n")) != 0 || (err = afs_buf_put(&b, checkpoint_note, note_len)))
        goto cleanup;
    if (b.len > AUDITFS_PROOF_MAX_BYTES) {
        err = afs_error_set(AUDITFS_ETOOBIG, "tlog-proof would be %zu bytes, more than %u", b.len,
                            AUDITFS_PROOF_MAX_BYTES);
        goto cleanup;
    }
    *out = afs_buf_detach(&b, out_len);
cleanup:
    afs_buf_release(&b);
    return err;
}

/* The next '\n'-terminated line at *pos (without the newline); false if there is none. */
static bool
next_line(const char *text, size_t len, size_t *pos, const char **line, size_t *line_len)
{
    const char *start = text + *pos;
    const char *nl = memchr(start, '\n', len - *pos);
    if (!nl)
        return false;
    *line = start;
    *line_len = (size_t)(nl - start);
    *pos += *line_len + 1;
    return true;
}

static bool
has_prefix(const char *line, size_t n, const char *prefix)
{
    size_t k = strlen(prefix);
    return n >= k && memcmp(line, prefix, k) == 0;
}

/* Strict base64 of any length, checked 4 characters at a time without a buffer. */
static bool
b64_valid(const char *s, size_t n)
{
    uint8_t tmp[3];
    if (n % 4 != 0)
        return false;
    for (size_t i = 0; i < n; i += 4) {
        if (i + 4 < n && memchr(s + i, '=', 4))
            return false;
        if (afs_b64_decode(tmp, sizeof tmp, s + i, 4) < 0)
            return false;
    }
    return true;
}

int
auditfs_tlog_proof_parse(auditfs_inclusion_proof *out, const char **note, size_t *note_len,
                         const char *text, size_t len)
{
    auditfs_inclusion_proof p = {0};
    const char *line;
    size_t n, pos = 0;
    unsigned lineno = 1;
    if (!out || !note || !note_len || !text)
        return afs_error_set(AUDITFS_EINVAL, "tlog-proof parse: NULL argument");
    if (len > AUDITFS_PROOF_MAX_BYTES)
        return afs_error_set(AUDITFS_ETOOBIG, "tlog-proof is %zu bytes, more than %u", len,
                             AUDITFS_PROOF_MAX_BYTES);
    if (!next_line(text, len, &pos, &line, &n) || n != strlen(tlog_header) ||
        memcmp(line, tlog_header, n) != 0)
        return afs_error_set(AUDITFS_EFORMAT, "tlog-proof line 1: expected \"%s\"", tlog_header);

    lineno++;
    if (!next_line(text, len, &pos, &line, &n))
        return afs_error_set(AUDITFS_EFORMAT, "tlog-proof line %u: missing index line", lineno);
    if (has_prefix(line, n, "extra ")) {
        if (n - 6 > AFS_B64_LEN(AUDITFS_TLOG_EXTRA_MAX_BYTES))
            return afs_error_set(AUDITFS_EFORMAT, "tlog-proof line %u: extra data too long",
                                 lineno);
        if (!b64_valid(line + 6, n - 6))
            return afs_error_set(AUDITFS_EFORMAT, "tlog-proof line %u: extra is not base64",
                                 lineno);
        lineno++;
        if (!next_line(text, len, &pos, &line, &n))
            return afs_error_set(AUDITFS_EFORMAT, "tlog-proof line %u: missing index line", lineno);
    }
    if (!has_prefix(line, n, "index ") || !afs_parse_u64(&p.leaf_index, line + 6, n - 6))
        return afs_error_set(AUDITFS_EFORMAT,
                             "tlog-proof line %u: expected \"index <canonical decimal>\"", lineno);

    for (;;) {
        lineno++;
        if (!next_line(text, len, &pos, &line, &n))
            return afs_error_set(AUDITFS_EFORMAT,
                                 "tlog-proof line %u: missing empty line before the checkpoint",
                                 lineno);
        if (n == 0)
            break;
        if (p.path_len == AUDITFS_MERKLE_MAX_INCLUSION)
            return afs_error_set(AUDITFS_EFORMAT, "tlog-proof line %u: more than %d hashes", lineno,
                                 AUDITFS_MERKLE_MAX_INCLUSION);
        if (n != HASH_B64_LEN ||
            afs_b64_decode(p.path[p.path_len].b, AUDITFS_HASH_BYTES, line, n) != AUDITFS_HASH_BYTES)
            return afs_error_set(AUDITFS_EFORMAT,
                                 "tlog-proof line %u: hash is not base64 of 32 bytes", lineno);
        p.path_len++;
    }
    if (pos == len)
        return afs_error_set(AUDITFS_EFORMAT, "tlog-proof line %u: missing checkpoint", lineno + 1);
    *out = p;
    *note = text + pos;
    *note_len = len - pos;
    return 0;
}
