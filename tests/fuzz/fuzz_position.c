/* libFuzzer target: Auditfs-Position trailer values; a parsed value must re-format to itself. */
#include "auditfs/ingest.h"

#include <stdlib.h>
#include <string.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    auditfs_position p;
    if (auditfs_position_parse(&p, (const char *)data, size) != 0)
        return 0;
    char *line = NULL;
    if (auditfs_position_format(&line, &p) != 0)
        abort(); /* everything the parser accepts must be formattable */
    size_t pre = strlen("Auditfs-Position: ");
    if (strlen(line) != pre + size + 1 || memcmp(line + pre, data, size) != 0)
        abort(); /* one encoding per position */
    free(line);
    return 0;
}
