/* libFuzzer target: auditfs-entry/1 parsing; a parsed leaf must re-encode to itself. */
#include "auditfs/entry.h"

#include <stdlib.h>
#include <string.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    auditfs_entry e;
    if (auditfs_entry_parse(&e, data, size) != 0)
        return 0;
    uint8_t *out = NULL;
    size_t len = 0;
    if (auditfs_entry_encode(&out, &len, &e) != 0)
        abort(); /* everything the parser accepts must be encodable */
    if (len != size || memcmp(out, data, size) != 0)
        abort(); /* canonical: one encoding per entry */
    char *json = NULL;
    if (auditfs_entry_to_json(&json, &e, 1) != 0)
        abort();
    free(json);
    free(out);
    return 0;
}
