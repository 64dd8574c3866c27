/* libFuzzer target: the append --rsyslog spool scanner (bounded, every message in range). */
#include "auditfs/ingest.h"

#include <stdlib.h>

static int
cb(const uint8_t *msg, size_t len, void *arg)
{
    const uint8_t *end = arg;
    if (msg + len > end)
        abort(); /* every message lies inside the input */
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int committed = 0;
    if (auditfs_spool_scan(data, size, &committed, cb, (void *)(data + size)) < 0)
        abort(); /* cb never fails here */
    return 0;
}
