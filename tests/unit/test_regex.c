/* Regular expressions from users and from bundles are kept bounded (ledger/rebound.c). */
#include "auditfs/query.h"
#include "internal.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static int
grep(const char *pattern)
{
    auditfs_query *q = NULL;
    int err = auditfs_query_parse(&q, NULL, 0, NULL);
    cr_assert_eq(err, 0);
    err = auditfs_query_set_grep(q, pattern);
    auditfs_query_free(q);
    return err;
}

Test(regex, ordinary_patterns_pass)
{
    const char *ok[] = {"ops-7", "\"actor\":\"ops-[0-9]+\"", "(Stop|Start)Instance$",
                        "[[:alpha:]]{2,}x|y{3,}", "a{3}b{200}c{200}", "[]a]", "\\.\\*", "x{255}"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        cr_assert_eq(grep(ok[i]), 0, "%s: %s", ok[i], auditfs_error_last());
}

Test(regex, unbounded_patterns_are_refused)
{
    cr_assert_eq(grep("(a|aa)*\\1\\1b"), AUDITFS_EFORMAT);
    cr_assert(strstr(auditfs_error_last(), "back-references"), "%s", auditfs_error_last());
    cr_assert_eq(grep("((a{100}){100}){100}"), AUDITFS_EFORMAT);
    cr_assert(strstr(auditfs_error_last(), "4096 atoms"), "%s", auditfs_error_last());
    cr_assert_eq(grep("a{256}"), AUDITFS_EFORMAT);
    /* found by fuzz_grep: stacked repetitions take glibc exponential time */
    cr_assert_eq(grep("x*+++++++++++++++"), AUDITFS_EFORMAT);
    cr_assert(strstr(auditfs_error_last(), "repetition of a repetition"), "%s",
              auditfs_error_last());
    cr_assert_eq(grep("a+{2}"), AUDITFS_EFORMAT);
    char deep[100];
    memset(deep, '(', 33);
    deep[33] = 'a';
    memset(deep + 34, ')', 33);
    deep[67] = 0;
    cr_assert_eq(grep(deep), AUDITFS_EFORMAT);
    cr_assert(strstr(auditfs_error_last(), "32 deep"), "%s", auditfs_error_last());
}

Test(regex, thirty_thousand_parentheses_do_not_crash)
{
    size_t n = 30000;
    char *p = malloc(2 * n + 2);
    memset(p, '(', n);
    p[n] = 'a';
    memset(p + n + 1, ')', n);
    p[2 * n + 1] = 0;
    cr_assert_eq(grep(p), AUDITFS_EFORMAT);
    free(p);
}

/* The expansion bound holds when the last repetition ends the pattern (no later atom whose
 * own check would catch the sum): (a{100}){100} is 10,000 atoms (tests/mutation:
 * regex-expansion). */
Test(regex, expansion_bound_at_the_end_of_the_pattern)
{
    cr_assert_eq(grep("(a{100}){100}"), AUDITFS_EFORMAT);
    cr_assert(strstr(auditfs_error_last(), "4096 atoms"), "%s", auditfs_error_last());
    cr_assert_eq(grep("(ab{64}){64}"), AUDITFS_EFORMAT, "65 x 64 = 4160 atoms");
    cr_assert_eq(grep("(a{64}){64}"), 0, "4096 atoms is the limit, not over it: %s",
                 auditfs_error_last());
}
