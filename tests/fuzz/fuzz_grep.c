/*
 * libFuzzer target: the regular-expression bounds (ledger/rebound.c). Whatever passes the
 * check must compile and match a 4 KiB text in bounded time and memory (libFuzzer's -timeout
 * and -rss_limit_mb catch a pattern that slips through); whatever fails must fail cleanly.
 */
#include "internal.h"

#include <regex.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *p = malloc(size + 1);
    static char text[4096];
    if (!p)
        return 0;
    memcpy(p, data, size);
    p[size] = 0;
    if (!text[0])
        for (size_t i = 0; i + 1 < sizeof text; i++)
            text[i] = "aab{\"actor\":\"ops-7\"}x("[i % 23];
    if (afs_regex_check(p) == 0) {
        regex_t re;
        if (regcomp(&re, p, REG_EXTENDED | REG_NOSUB) == 0) {
            (void)regexec(&re, text, 0, NULL, 0);
            regfree(&re);
        }
    }
    free(p);
    return 0;
}
