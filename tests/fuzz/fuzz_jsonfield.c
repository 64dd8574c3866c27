/* libFuzzer target: JSON field extraction for `append --map` (bounded, never reads out of range).
 */
#include "auditfs/ingest.h"

#include <stdlib.h>
#include <string.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const paths[] = {"tenant", "a.b", "time", "x.y.z", ""};
    char out[AUDITFS_FIELD_MAX + 1];
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        int r = auditfs_json_field(out, data, size, paths[i]);
        if (r == 1 && strlen(out) > AUDITFS_FIELD_MAX)
            abort();
        if (r != 0 && r != 1 && r != AUDITFS_EFORMAT)
            abort();
    }
    return 0;
}
