/*
 * libFuzzer target: the strict raw tree parser of verify (ledger/verify_rules.c). An accepted
 * tree is canonical, so writing its entries back in git's format must give the input exactly,
 * and every mode and name must be one the rules allow.
 */
#include "verify_rules.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    afs_tree_entry *e = NULL;
    size_t n = 0;
    if (afs_tree_parse(&e, &n, (const char *)data, size, "fuzz") != 0)
        return 0;
    uint8_t *again = malloc(size + 1);
    size_t off = 0;
    if (!again)
        abort();
    for (size_t i = 0; i < n; i++) {
        const char *mode = e[i].dir ? "40000" : "100644";
        size_t ml = strlen(mode);
        if (e[i].len == 0 || e[i].len > 255 || memchr(e[i].name, '/', e[i].len) ||
            memchr(e[i].name, 0, e[i].len) || off + ml + 1 + e[i].len + 1 + 20 > size)
            abort();
        memcpy(again + off, mode, ml);
        again[off + ml] = ' ';
        off += ml + 1;
        memcpy(again + off, e[i].name, e[i].len);
        off += e[i].len;
        again[off++] = 0;
        memcpy(again + off, e[i].id.id, 20);
        off += 20;
    }
    if (off != size || memcmp(again, data, size) != 0)
        abort();
    (void)afs_tree_check_duplicates(e, n, "fuzz");
    free(again);
    free(e);
    return 0;
}
