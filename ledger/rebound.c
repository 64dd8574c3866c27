/*
 * ledger/rebound.c - keeps POSIX extended regular expressions (query --grep, a bundle's
 * query.txt, mount query names) within bounded time and memory before regcomp sees them.
 *
 * glibc's regcomp recurses once per nesting level (30,000 '(' overflow the stack) and its
 * regexec backtracks only for back-references; without them matching is a simulation of the
 * compiled automaton, polynomial in pattern and text. So a pattern is refused if it has a
 * back-reference, nests groups deeper than AFS_RE_MAX_DEPTH, is longer than AFS_RE_MAX_LEN, or
 * expands (counted repetitions multiplied out, e.g. ((a{100}){100}){100}) to more than
 * AFS_RE_MAX_NODES atoms, or repeats a repetition (a*+++: glibc copies the operand per
 * operator, which the fuzzer found takes exponential time). Data is not code: a pattern from a
 * bundle gets the same treatment.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>

#define AFS_RE_MAX_LEN 1024
#define AFS_RE_MAX_DEPTH 32
#define AFS_RE_MAX_NODES 4096
#define AFS_RE_MAX_REPEAT 255

typedef struct level {
    uint64_t sum;  /* atoms in this group so far */
    uint64_t last; /* the size of the last item (what a repetition applies to) */
} level;

static int
refuse(const char *pattern, size_t at, const char *why)
{
    return afs_error_set(AUDITFS_EFORMAT, "regular expression '%.60s%s' at byte %zu: %s",
                         pattern, strlen(pattern) > 60 ? "..." : "", at, why);
}

/* the end of a bracket expression starting at p[i] == '[' (index of its ']'), or 0 */
static size_t
bracket_end(const char *p, size_t i)
{
    size_t j = i + 1;
    if (p[j] == '^')
        j++;
    if (p[j] == ']')
        j++;
    for (; p[j]; j++) {
        if (p[j] == '[' && (p[j + 1] == ':' || p[j + 1] == '=' || p[j + 1] == '.')) {
            char close = p[j + 1];
            const char *e = strchr(p + j + 2, close);
            while (e && e[1] != ']')
                e = strchr(e + 1, close);
            if (!e)
                return 0;
            j = (size_t)(e - p) + 1;
        } else if (p[j] == ']') {
            return j;
        }
    }
    return 0;
}

/* One pass over the pattern, one case per ERE token; longer than a screen because the cases
 * share the per-group size stack and the "previous token was a repetition" state. */
int
afs_regex_check(const char *pattern)
{
    level st[AFS_RE_MAX_DEPTH + 1];
    size_t d = 0, n = strlen(pattern);
    int quant = 0; /* the previous token was a repetition operator */
    if (n > AFS_RE_MAX_LEN)
        return refuse(pattern, AFS_RE_MAX_LEN, "longer than 1024 bytes");
    memset(st, 0, sizeof st);
    for (size_t i = 0; i < n; i++) {
        char c = pattern[i];
        uint64_t item = 1;
        switch (c) {
        case '\\':
            if (i + 1 < n && pattern[i + 1] >= '1' && pattern[i + 1] <= '9')
                return refuse(pattern, i, "back-references are not supported (unbounded time)");
            i++;
            break;
        case '[': {
            size_t e = bracket_end(pattern, i);
            if (e)
                i = e;
            break;
        }
        case '(':
            quant = 0;
            if (d == AFS_RE_MAX_DEPTH)
                return refuse(pattern, i, "groups nested more than 32 deep");
            d++;
            st[d].sum = st[d].last = 0;
            continue;
        case ')':
            if (d == 0)
                break; /* a literal ')' in ERE; regcomp decides */
            item = st[d].sum ? st[d].sum : 1;
            d--;
            break;
        case '|':
            quant = 0;
            st[d].last = 0;
            continue;
        case '*':
        case '+':
        case '?':
            if (quant)
                return refuse(pattern, i, "a repetition of a repetition");
            quant = 1;
            continue;
        case '{': {
            char *end;
            unsigned long lo = strtoul(pattern + i + 1, &end, 10), hi = lo;
            if (end == pattern + i + 1)
                break; /* not an interval: a literal '{' */
            if (*end == ',') {
                const char *h = end + 1;
                hi = strtoul(h, &end, 10);
                if (end == h)
                    hi = lo + 1; /* {m,}: a loop around m copies and one more */
            }
            if (*end != '}')
                break;
            if (quant)
                return refuse(pattern, i, "a repetition of a repetition");
            quant = 1;
            if (lo > AFS_RE_MAX_REPEAT || hi > AFS_RE_MAX_REPEAT)
                return refuse(pattern, i, "a repetition count above 255");
            uint64_t mult = hi > 1 ? hi : 1;
            st[d].sum += st[d].last * (mult - 1);
            st[d].last *= mult;
            if (st[d].sum > AFS_RE_MAX_NODES)
                return refuse(pattern, i, "expands to more than 4096 atoms");
            i = (size_t)(end - pattern);
            continue;
        }
        default: break;
        }
        quant = 0;
        st[d].sum += item;
        st[d].last = item;
        if (st[d].sum > AFS_RE_MAX_NODES)
            return refuse(pattern, i, "expands to more than 4096 atoms");
    }
    return 0;
}
