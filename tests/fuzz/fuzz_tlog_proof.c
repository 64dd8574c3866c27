/*
 * libFuzzer target: the c2sp.org/tlog-proof@v1 parser. Any accepted input must be reproduced
 * byte for byte by the formatter from the parsed index, path, extra data and note.
 */
#include "auditfs/proof.h"
#include "internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char header[] = "c2sp.org/tlog-proof@v1\nextra ";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    auditfs_inclusion_proof p, q;
    const char *note, *note2;
    size_t note_len, note2_len, out_len;
    uint8_t *extra = NULL;
    size_t extra_len = 0;
    char *out = NULL;

    if (auditfs_tlog_proof_parse(&p, &note, &note_len, text, size) != 0)
        return 0;
    if (p.path_len > AUDITFS_MERKLE_MAX_INCLUSION || note_len == 0 || note < text ||
        note + note_len != text + size)
        abort();

    /* The parser does not return the extra data, so recover it from its line. */
    size_t hl = sizeof header - 1;
    if (size >= hl && memcmp(text, header, hl) == 0) {
        const char *b64 = text + hl;
        const char *nl = memchr(b64, '\n', size - hl);
        if (!nl)
            abort();
        size_t n = (size_t)(nl - b64);
        extra = malloc(n / 4 * 3 + 1);
        if (!extra)
            abort();
        long d = afs_b64_decode(extra, n / 4 * 3 + 1, b64, n);
        if (d < 0)
            abort();
        extra_len = (size_t)d;
    }

    if (auditfs_tlog_proof_format(&out, &out_len, &p, note, note_len, extra, extra_len) != 0)
        abort();
    if (out_len != size || memcmp(out, data, size) != 0)
        abort();
    if (auditfs_tlog_proof_parse(&q, &note2, &note2_len, out, out_len) != 0)
        abort();
    if (q.leaf_index != p.leaf_index || q.path_len != p.path_len ||
        memcmp(q.path, p.path, p.path_len * sizeof p.path[0]) != 0 || note2_len != note_len)
        abort();
    free(out);
    free(extra);
    return 0;
}
