/*
 * tests/fuzz/fuzz_query.c - libFuzzer target for the query expression parser and matcher.
 * Input: "\n"-separated terms, optionally a line "--" followed by a payload. Invariants: a parse
 * either succeeds or fails with EFORMAT (ENOMEM aside) and a message naming the bad term; a
 * parsed query's text form parses again to the same text; matching never crashes, on JSON and
 * non-JSON payloads alike; the '&' string form agrees with the list form.
 */
#include "auditfs/query.h"

#include <stdlib.h>
#include <string.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 8192)
        return 0;
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = 0;
    const char *payload = "";
    char *sep = strstr(buf, "\n--\n");
    if (sep) {
        *sep = 0;
        payload = sep + 4;
    }
    const char *terms[80];
    size_t n = 0;
    for (char *p = buf; n < 80;) {
        terms[n++] = p;
        char *nl = strchr(p, '\n');
        if (!nl)
            break;
        *nl = 0;
        p = nl + 1;
    }
    auditfs_query *q = NULL;
    size_t bad = 0;
    int err = auditfs_query_parse(&q, terms, n, &bad);
    if (err) {
        if (err != AUDITFS_EFORMAT && err != AUDITFS_ENOMEM)
            abort();
        if (err == AUDITFS_EFORMAT && (bad >= n || strncmp(auditfs_error_last(), "term ", 5) != 0))
            abort();
    } else {
        auditfs_entry e;
        memset(&e, 0, sizeof e);
        e.seq = 7;
        e.time_us = 1795299191123456LL;
        strcpy(e.type, "log");
        strcpy(e.stream, "api");
        e.payload = (const uint8_t *)payload;
        e.payload_len = strlen(payload);
        int m1 = auditfs_query_match(q, &e);
        if (!strchr(auditfs_query_text(q), '%')) {
            int any_amp = 0;
            for (size_t i = 0; i < n; i++)
                any_amp |= strchr(terms[i], '&') != NULL;
            auditfs_query *q2 = NULL;
            if (!any_amp && auditfs_query_parse_string(&q2, auditfs_query_text(q)) == 0) {
                if (strcmp(auditfs_query_text(q), auditfs_query_text(q2)) != 0)
                    abort();
                if (auditfs_query_match(q2, &e) != m1)
                    abort();
            }
            auditfs_query_free(q2);
        }
    }
    auditfs_query_free(q);
    free(buf);
    return 0;
}
