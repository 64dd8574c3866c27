#include "internal.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

Test(util, base64_roundtrip_and_strictness)
{
    char enc[64];
    uint8_t dec[64];
    cr_assert_eq(afs_b64_encode(enc, "foobar", 6), 8);
    cr_assert_str_eq(enc, "Zm9vYmFy");
    afs_b64_encode(enc, "fo", 2);
    cr_assert_str_eq(enc, "Zm8=");
    cr_assert_eq(afs_b64_decode(dec, sizeof dec, "Zm8=", 4), 2);
    cr_assert_eq(memcmp(dec, "fo", 2), 0);
    cr_assert_eq(afs_b64_decode(dec, sizeof dec, "Zm9=", 4), -1, "non-canonical trailing bits");
    cr_assert_eq(afs_b64_decode(dec, sizeof dec, "Zm8", 3), -1, "missing padding");
    cr_assert_eq(afs_b64_decode(dec, sizeof dec, "Z=8=", 4), -1, "data after padding");
    cr_assert_eq(afs_b64_decode(dec, sizeof dec, "Zm 8", 4), -1, "space");
    cr_assert_eq(afs_b64_decode(dec, 1, "Zm8=", 4), -1, "does not fit");
}

Test(util, parse_u64_canonical)
{
    uint64_t v;
    cr_assert(afs_parse_u64(&v, "0", 1) && v == 0);
    cr_assert(afs_parse_u64(&v, "18446744073709551615", 20) && v == UINT64_MAX);
    cr_assert(!afs_parse_u64(&v, "18446744073709551616", 20));
    cr_assert(!afs_parse_u64(&v, "01", 2));
    cr_assert(!afs_parse_u64(&v, "-1", 2));
    cr_assert(!afs_parse_u64(&v, "", 0));
}

Test(util, time_roundtrip)
{
    char s[32];
    int64_t t;
    afs_format_time(s, 1795299191123456LL);
    cr_assert_str_eq(s, "2026-11-21T22:13:11.123456Z");
    cr_assert(afs_parse_time(&t, s, strlen(s)));
    cr_assert_eq(t, 1795299191123456LL);
    cr_assert(!afs_parse_time(&t, "2026-02-30T00:00:00.000000Z", 27));
    cr_assert(afs_parse_time_loose(&t, "2026-11-17"));
    afs_format_time(s, t);
    cr_assert_str_eq(s, "2026-11-17T00:00:00.000000Z");
    cr_assert(afs_parse_time_loose(&t, "2026-11-17T01:00:00+01:00"));
    afs_format_time(s, t);
    cr_assert_str_eq(s, "2026-11-17T00:00:00.000000Z");
    cr_assert(!afs_parse_time_loose(&t, "yesterday"));
}

Test(util, utf8)
{
    cr_assert(afs_utf8_valid((const uint8_t *)"h\xc3\xa9llo", 6, false));
    cr_assert(!afs_utf8_valid((const uint8_t *)"\xc3", 1, false));
    cr_assert(!afs_utf8_valid((const uint8_t *)"\xed\xa0\x80", 3, false), "surrogate");
    cr_assert(!afs_utf8_valid((const uint8_t *)"\xc0\xaf", 2, false), "overlong");
    cr_assert(!afs_utf8_valid((const uint8_t *)"a\x01", 2, false), "control");
    cr_assert(afs_utf8_valid((const uint8_t *)"a\tb", 3, true));
}

Test(util, sha256_known_answer)
{
    uint8_t h[32];
    char hex[65];
    afs_sha256(h, "abc", 3);
    for (int i = 0; i < 32; i++)
        sprintf(hex + 2 * i, "%02x", h[i]);
    cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

#include <time.h>

Test(util, format_time_matches_gmtime)
{
    /* the hand-written civil-date conversion against libc over 1970-2200, leap days included */
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int64_t us = (int64_t)(x % 7258118400000000ULL); /* up to 2200-01-01 */
        if (i < 4)
            us = (int64_t[]){0, 951782400000000LL, 1709164800999999LL, 4107542399999999LL}[i];
        char got[32], want[64];
        time_t t = (time_t)(us / 1000000);
        struct tm tm;
        gmtime_r(&t, &tm);
        snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (int)(us % 1000000));
        afs_format_time(got, us);
        cr_assert_str_eq(got, want, "us=%lld", (long long)us);
        int64_t back;
        cr_assert(afs_parse_time(&back, got, 27) && back == us);
    }
}

Test(util, utf8_fast_path_agrees_with_bytewise)
{
    /* every single-byte corruption of an ASCII line, at every alignment, is still caught */
    uint8_t line[64];
    for (size_t len = 1; len <= 40; len++) {
        for (size_t at = 0; at < len; at++) {
            static const uint8_t bad[] = {0x00, 0x01, 0x1f, 0x7f, 0x80, 0xc3, 0xff};
            for (size_t b = 0; b < sizeof bad; b++) {
                memset(line, 'a', len);
                line[at] = bad[b];
                cr_assert(!afs_utf8_valid(line, len, true), "len %zu at %zu byte %02x", len, at,
                          bad[b]);
            }
            memset(line, '~', len);
            line[at] = '\t';
            cr_assert(afs_utf8_valid(line, len, true), "tab allowed");
            cr_assert(!afs_utf8_valid(line, len, false), "tab refused");
        }
        memset(line, ' ', len);
        cr_assert(afs_utf8_valid(line, len, false));
    }
}

/* afs_ct_equal: every byte counts, whatever its place (whole words and the tail) and length */
Test(util, ct_equal_every_byte)
{
    uint8_t a[8200], b[8200];
    for (size_t i = 0; i < sizeof a; i++)
        a[i] = b[i] = (uint8_t)(i * 131 + 7);
    static const size_t lens[] = {0, 1, 7, 8, 9, 31, 32, 33, 64, 8192, 8199};
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        size_t n = lens[li];
        cr_assert(afs_ct_equal(a, b, n), "equal, n=%zu", n);
        for (size_t i = 0; i < n; i++) {
            for (unsigned bit = 0; bit < 8; bit += 7) {
                b[i] ^= (uint8_t)(1u << bit);
                cr_assert(!afs_ct_equal(a, b, n), "byte %zu bit %u of %zu", i, bit, n);
                b[i] ^= (uint8_t)(1u << bit);
            }
        }
        /* a difference just past n is not looked at */
        b[n] ^= 1;
        cr_assert(afs_ct_equal(a, b, n), "beyond n=%zu", n);
        b[n] ^= 1;
    }
}
