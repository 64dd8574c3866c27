/* libFuzzer target: a router's low-water text and journal cursors (auditfs_trailer_text_find,
 * auditfs_journal_cursor_cmp): no crash, a found value is a line of the input, and the order
 * of two cursors is antisymmetric. */
#include "auditfs/ingest.h"

#include <stdlib.h>
#include <string.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *v = NULL;
    if (auditfs_trailer_text_find(&v, (const char *)data, size, "Auditfs-Cursor: journal ") == 0 &&
        v) {
        if (strlen(v) > size)
            abort();
        /* the two halves of the found value as two cursors */
        size_t h = strlen(v) / 2;
        char *a = strndup(v, h), *b = strdup(v + h);
        int x = 0, y = 0;
        if (a && b && auditfs_journal_cursor_cmp(&x, a, b) == 0 &&
            (auditfs_journal_cursor_cmp(&y, b, a) != 0 || x != -y))
            abort();
        free(a);
        free(b);
    }
    free(v);
    return 0;
}
