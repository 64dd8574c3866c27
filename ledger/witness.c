/*
 * ledger/witness.c - the C2SP tlog-witness add-checkpoint operation, independent of HTTP.
 *
 * The body is hostile: at most AUDITFS_WITNESS_MAX_BODY bytes, "old <canonical decimal>\n",
 * at most 63 lines of strict base64 of 32 bytes, a blank line, then a signed note of at most
 * AUDITFS_NOTE_MAX_BYTES. The order of checks is the spec's: 400 (malformed), 404 (unknown
 * origin), 403 (signature), 400 (old > size), 409 (old != latest, or the same size with another
 * root), 422 (the proof). State changes only after every check passed, and is durable before
 * the cosignature is returned.
 */
#include "auditfs/witness.h"
#include "auditfs/merkle.h"
#include "internal.h"
#include "witness_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_PROOF_LINES 63

void
auditfs_witness_result_release(auditfs_witness_result *r)
{
    if (!r)
        return;
    free(r->body);
    free(r->evidence);
    memset(r, 0, sizeof *r);
}

int
auditfs_witness_request_format(char **out, size_t *out_len, uint64_t old_size,
                               const auditfs_consistency_proof *proof, const char *note,
                               size_t note_len)
{
    afs_buf b = AFS_BUF_INIT;
    char h[AFS_B64_LEN(AUDITFS_HASH_BYTES) + 1];
    int err;
    if (!out || (!note && note_len))
        return afs_error_set(AUDITFS_EINVAL, "auditfs_witness_request_format: NULL argument");
    *out = NULL;
    if (proof && proof->path_len > MAX_PROOF_LINES)
        return afs_error_set(AUDITFS_EINVAL, "consistency proof of %zu hashes exceeds %d",
                             proof->path_len, MAX_PROOF_LINES);
    if ((err = afs_buf_printf(&b, "old %" PRIu64 "\n", old_size)) != 0)
        goto fail;
    for (size_t i = 0; proof && i < proof->path_len; i++) {
        afs_b64_encode(h, proof->path[i].b, AUDITFS_HASH_BYTES);
        if ((err = afs_buf_printf(&b, "%s\n", h)) != 0)
            goto fail;
    }
    if ((err = afs_buf_puts(&b, "\n")) != 0 || (err = afs_buf_put(&b, note, note_len)) != 0)
        goto fail;
    *out = afs_buf_detach(&b, out_len);
    return 0;
fail:
    afs_buf_release(&b);
    return err;
}

/* Sets a plain-text reply; returns 0 (the request was handled) or ENOMEM. */
static int
reply(auditfs_witness_result *r, int status, const char *fmt, ...) AFS_PRINTF(3, 4);
static int
reply(auditfs_witness_result *r, int status, const char *fmt, ...)
{
    afs_buf b = AFS_BUF_INIT;
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    int err = afs_buf_printf(&b, "%s\n", tmp);
    if (err) {
        afs_buf_release(&b);
        return err;
    }
    free(r->body);
    r->status = status;
    r->body = afs_buf_detach(&b, &r->body_len);
    return 0;
}

/* Parses the request framing; 0 or a 400 reply already set (returns 1). */
static int
parse_body(auditfs_witness_result *r, uint64_t *old, auditfs_hash *proof, size_t *nproof,
           const char **note, size_t *note_len, const char *body, size_t len)
{
    size_t pos = 0, line = 1;
    const char *nl = memchr(body, '\n', len);
    if (!nl || nl - body < 5 || memcmp(body, "old ", 4) != 0 ||
        !afs_parse_u64(old, body + 4, (size_t)(nl - body) - 4)) {
        reply(r, 400, "line 1: expected \"old <size>\" (a canonical decimal)");
        return 1;
    }
    pos = (size_t)(nl - body) + 1;
    *nproof = 0;
    for (;;) {
        line++;
        if (pos >= len) {
            reply(r, 400, "line %zu: missing the blank line before the checkpoint", line);
            return 1;
        }
        nl = memchr(body + pos, '\n', len - pos);
        if (!nl) {
            reply(r, 400, "line %zu: unterminated", line);
            return 1;
        }
        size_t n = (size_t)(nl - (body + pos));
        if (n == 0) {
            pos++;
            break;
        }
        if (*nproof == MAX_PROOF_LINES) {
            reply(r, 400, "line %zu: more than %d consistency proof lines", line,
                  MAX_PROOF_LINES);
            return 1;
        }
        if (n != AFS_B64_LEN(AUDITFS_HASH_BYTES) ||
            afs_b64_decode(proof[*nproof].b, AUDITFS_HASH_BYTES, body + pos, n) !=
                AUDITFS_HASH_BYTES) {
            reply(r, 400, "line %zu: a proof line must be base64 of 32 bytes", line);
            return 1;
        }
        (*nproof)++;
        pos += n + 1;
    }
    *note = body + pos;
    *note_len = len - pos;
    return 0;
}

/*
 * Longer than a screen because it is the spec's decision list, in the spec's order; each step
 * returns with a reply and no state change, and only the last one writes.
 */
int
auditfs_witness_add_checkpoint(auditfs_witness_result *r, auditfs_witness_state *st,
                               const auditfs_signer *witness, const auditfs_witness_log *logs,
                               size_t nlogs, const char *body, size_t len, uint64_t now)
{
    auditfs_hash proof[MAX_PROOF_LINES];
    size_t nproof = 0, note_len = 0, text_len, off;
    const char *note = NULL;
    uint64_t old = 0;
    char *prev = NULL, *line = NULL;
    size_t prev_len = 0, line_len = 0;
    auditfs_checkpoint cp, last;
    const auditfs_witness_log *log = NULL;
    int err = 0;
    if (!r || !st || !witness || (!logs && nlogs) || (!body && len))
        return afs_error_set(AUDITFS_EINVAL, "auditfs_witness_add_checkpoint: NULL argument");
    memset(r, 0, sizeof *r);
    if (len > AUDITFS_WITNESS_MAX_BODY)
        return reply(r, 400, "request body of %zu bytes exceeds %d", len,
                     AUDITFS_WITNESS_MAX_BODY);
    if (parse_body(r, &old, proof, &nproof, &note, &note_len, body, len))
        return r->body ? 0 : afs_error_set(AUDITFS_ENOMEM, "out of memory");
    r->old_size = old;
    /* the origin line, to find the log, before any signature work */
    if (auditfs_note_split(&text_len, &off, note, note_len) != 0) {
        reply(r, 400, "checkpoint: %s", auditfs_error_last());
        return 0;
    }
    const char *onl = memchr(note, '\n', text_len);
    size_t olen = (size_t)(onl - note);
    for (size_t i = 0; i < nlogs && !log; i++)
        if (strlen(logs[i].origin) == olen && memcmp(logs[i].origin, note, olen) == 0)
            log = &logs[i];
    if (!log) {
        reply(r, 404, "unknown log origin \"%.*s\"", (int)(olen > 200 ? 200 : olen), note);
        return 0;
    }
    snprintf(r->origin, sizeof r->origin, "%s", log->origin);
    err = auditfs_checkpoint_open(&cp, note, note_len, log->key, log->origin);
    if (err == AUDITFS_EVERIFY) {
        auditfs_error_clear();
        return reply(r, 403, "no valid signature by the log's key %s+%08x",
                     auditfs_verifier_name(log->key), auditfs_verifier_key_id(log->key));
    }
    if (err) {
        reply(r, 400, "checkpoint: %s", auditfs_error_last());
        auditfs_error_clear();
        return 0;
    }
    r->new_size = cp.size;
    if (old > cp.size)
        return reply(r, 400, "old size %" PRIu64 " is larger than the checkpoint's %" PRIu64,
                     old, cp.size);
    /* from here to the signature, no other process may move this witness's state */
    if ((err = afs_witness_state_lock(st)) != 0)
        return err;
    /* the witness's latest view of this log */
    uint64_t latest = 0;
    err = auditfs_witness_state_get(&prev, &prev_len, st, log->origin);
    if (err == AUDITFS_ENOTFOUND) {
        err = 0;
        auditfs_error_clear();
    } else if (err) {
        goto cleanup;
    } else {
        size_t ptl, pof;
        if ((err = auditfs_note_split(&ptl, &pof, prev, prev_len)) != 0 ||
            (err = auditfs_checkpoint_parse(&last, prev, ptl)) != 0) {
            err = afs_error_wrap(err, "witness state for \"%s\" is damaged", log->origin);
            goto cleanup;
        }
        latest = last.size;
    }
    if (old != latest) {
        free(r->body);
        r->body = NULL;
        afs_buf b = AFS_BUF_INIT;
        if ((err = afs_buf_printf(&b, "%" PRIu64 "\n", latest)) != 0)
            goto cleanup;
        r->status = 409;
        r->body = afs_buf_detach(&b, &r->body_len);
        goto cleanup;
    }
    if (old == cp.size) {
        auditfs_hash want;
        if (prev)
            want = last.root;
        else
            auditfs_empty_root(&want);
        if (nproof != 0) {
            reply(r, 422, "a checkpoint of the old size takes an empty proof");
            goto cleanup;
        }
        if (!auditfs_hash_equal(&want, &cp.root)) {
            /* the spec's answer is 409 with the witness's size, as for a stale old size */
            afs_buf b = AFS_BUF_INIT;
            if ((err = afs_buf_printf(&b, "%" PRIu64 "\n", latest)) != 0)
                goto cleanup;
            free(r->body);
            r->status = 409;
            r->body = afs_buf_detach(&b, &r->body_len);
            if (prev) {
                /* two checkpoints of one size with different roots, both signed: a fork */
                char reason[512];
                r->fork = 1;
                snprintf(reason, sizeof reason,
                         "fork: the log signed two checkpoints of size %" PRIu64
                         " with different roots for \"%s\"",
                         cp.size, log->origin);
                err = auditfs_witness_state_evidence(&r->evidence, st, prev, prev_len, note,
                                                     note_len, NULL, 0, reason);
            }
            goto cleanup;
        }
    } else if (old == 0) {
        if (nproof != 0) {
            reply(r, 422, "a consistency proof from size 0 must be empty");
            goto cleanup;
        }
    } else if (auditfs_merkle_verify_consistency(old, cp.size, &last.root, &cp.root, proof,
                                                 nproof) != 0) {
        auditfs_error_clear();
        reply(r, 422, "the consistency proof from size %" PRIu64 " to %" PRIu64
                      " does not verify against the checkpoint this witness cosigned",
              old, cp.size);
        goto cleanup;
    }
    /* durable first, then the cosignature leaves */
    if (cp.size != latest || !prev) {
        if ((err = auditfs_witness_state_put(st, log->origin, note, note_len)) != 0)
            goto cleanup;
    }
    if ((err = auditfs_cosig_sign(&line, &line_len, note, text_len, witness, now)) != 0)
        goto cleanup;
    free(r->body);
    r->status = 200;
    r->body = line;
    r->body_len = line_len;
    line = NULL;
cleanup:
    afs_witness_state_unlock(st);
    free(line);
    free(prev);
    return err;
}
