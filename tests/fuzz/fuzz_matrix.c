/*
 * libFuzzer target: the responsibility-matrix parser (ledger/matrix.c). Anything accepted
 * answers lookups with exact vocabulary names only.
 */
#include "auditfs/matrix.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    auditfs_matrix *m = NULL;
    static const char *const types[] = {"IaaS", "PaaS", "SaaS", "x", NULL};
    if (auditfs_matrix_parse(&m, data, size) != 0) {
        if (m)
            abort();
        return 0;
    }
    for (int t = 0; types[t]; t++)
        for (int l = 0; l < AUDITFS_LAYER_COUNT; l++) {
            const char *r = auditfs_matrix_responsible(m, types[t], auditfs_layer_name(l));
            if (r && strcmp(r, "shared") && auditfs_party_index(r) < 0)
                abort();
        }
    const char *st = auditfs_matrix_service_type(m, "acme");
    if (st && strlen(st) > AUDITFS_MATRIX_TYPE_MAX)
        abort();
    (void)auditfs_matrix_evaluate(m, "acme", "provider", "data", NULL, NULL);
    auditfs_matrix_free(m);
    return 0;
}
