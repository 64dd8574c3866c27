/*
 * libFuzzer target: the library's one JSON reader and writer (ledger/json.c). Properties:
 * validity answers agree between the whole-document check, the member walk and the cursor;
 * every decoded member key and string value re-encodes with the writer to valid JSON; an
 * embeddable payload is one line.
 */
#include "json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int
member(void *ctx, const char *k, size_t kl, const char *v, size_t vl, int kind)
{
    afs_buf b = AFS_BUF_INIT;
    (void)ctx;
    if (afs_json_put_string(&b, (const uint8_t *)k, kl) != 0)
        abort();
    if (!afs_json_valid((const uint8_t *)b.data, b.len))
        abort();
    if (kind == AFS_JSON_STRING) {
        b.len = 0;
        if (afs_json_put_string(&b, (const uint8_t *)v, vl) != 0 ||
            !afs_json_valid((const uint8_t *)b.data, b.len))
            abort();
    } else if (!afs_json_valid((const uint8_t *)v, vl)) {
        abort(); /* a raw member value is itself a JSON value */
    }
    afs_buf_release(&b);
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int valid = afs_json_valid(data, size);
    afs_jr r = AFS_JR_INIT(data, size);
    int kind;
    r.quiet = 1;
    int cur = afs_jr_value(&r, &kind, NULL) == 0 && afs_jr_end(&r) == 0;
    if (cur != valid)
        abort();
    int m = afs_json_members(data, size, member, NULL);
    if (m == 1 && !valid)
        abort();
    if (afs_json_embeddable(data, size) && (!valid || memchr(data, '\n', size)))
        abort();
    /* noisy mode: the same answer, with a message */
    afs_jr r2 = AFS_JR_INIT(data, size);
    int loud = afs_jr_value(&r2, &kind, NULL) == 0 && afs_jr_end(&r2) == 0;
    if (loud != valid)
        abort();
    return 0;
}
