/*
 * ledger/util.c - base64, buffers, numbers, times, files and UTF-8 checks.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t
afs_b64_encode(char *out, const void *in, size_t n)
{
    const uint8_t *p = in;
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = ((uint32_t)p[i] << 16) | ((uint32_t)p[i + 1] << 8) | p[i + 2];
        out[o++] = b64chars[v >> 18];
        out[o++] = b64chars[(v >> 12) & 63];
        out[o++] = b64chars[(v >> 6) & 63];
        out[o++] = b64chars[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        out[o++] = b64chars[v >> 18];
        out[o++] = b64chars[(v >> 12) & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (n - i == 2) {
        uint32_t v = ((uint32_t)p[i] << 16) | ((uint32_t)p[i + 1] << 8);
        out[o++] = b64chars[v >> 18];
        out[o++] = b64chars[(v >> 12) & 63];
        out[o++] = b64chars[(v >> 6) & 63];
        out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}

bool
afs_ct_equal(const void *a, const void *b, size_t n)
{
    const uint8_t *p = a, *q = b;
    uint64_t d = 0;
    size_t i = 0;
    for (; n - i >= 8; i += 8) {
        uint64_t x, y;
        memcpy(&x, p + i, 8);
        memcpy(&y, q + i, 8);
        d |= x ^ y;
        __asm__("" : "+r"(d)); /* an opaque accumulator: the compiler cannot stop early */
    }
    for (; i < n; i++)
        d |= (uint64_t)(p[i] ^ q[i]);
    __asm__("" : "+r"(d));
    return d == 0;
}

/* 0-63 for the alphabet, 64 for anything else (checked per group, no branches per char) */
static const uint8_t b64dec[256] = {
#define X64 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64
    X64, X64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 62, 64, 64, 64, 63,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 64, 64, 64, 64, 64, 64,
    64, 0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14,
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 64, 64, 64, 64, 64,
    64, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 64, 64, 64, 64, 64,
    X64, X64, X64, X64, X64, X64, X64, X64,
#undef X64
};

static int
b64val(char c)
{
    uint8_t v = b64dec[(uint8_t)c];
    return v == 64 ? -1 : v;
}

long
afs_b64_decode(uint8_t *out, size_t cap, const char *in, size_t len)
{
    size_t o = 0;
    if (len % 4 != 0)
        return -1;
    size_t fast = len >= 4 ? len - 4 : 0; /* every group but the last has no padding */
    size_t i = 0;
    for (; i < fast; i += 4) {
        const uint8_t *q = (const uint8_t *)in + i;
        uint32_t a = b64dec[q[0]], b = b64dec[q[1]], c = b64dec[q[2]], d = b64dec[q[3]];
        if ((a | b | c | d) & 64)
            return -1;
        if (o + 3 > cap)
            return -1;
        uint32_t w = a << 18 | b << 12 | c << 6 | d;
        out[o++] = (uint8_t)(w >> 16);
        out[o++] = (uint8_t)(w >> 8);
        out[o++] = (uint8_t)w;
    }
    for (; i < len; i += 4) {
        int v[4];
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            char c = in[i + k];
            if (c == '=' && i + 4 == len && k >= 2) {
                v[k] = 0;
                pad++;
                continue;
            }
            if (pad)
                return -1; /* data after padding */
            v[k] = b64val(c);
            if (v[k] < 0)
                return -1;
        }
        uint32_t w = ((uint32_t)v[0] << 18) | ((uint32_t)v[1] << 12) | ((uint32_t)v[2] << 6) | v[3];
        size_t nb = 3 - (size_t)pad;
        /* canonical: the bits below the last data byte must be zero */
        if (pad == 1 && (w & 0xff) != 0)
            return -1;
        if (pad == 2 && (w & 0xffff) != 0)
            return -1;
        if (o + nb > cap)
            return -1;
        out[o++] = (uint8_t)(w >> 16);
        if (nb > 1)
            out[o++] = (uint8_t)(w >> 8);
        if (nb > 2)
            out[o++] = (uint8_t)w;
    }
    return (long)o;
}

int
afs_buf_grow(afs_buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return 0;
    if (extra > SIZE_MAX / 2 - b->len)
        return afs_error_set(AUDITFS_ENOMEM, "buffer too large");
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d)
        return afs_error_set(AUDITFS_ENOMEM, "out of memory (%zu bytes)", cap);
    b->data = d;
    b->cap = cap;
    return 0;
}

int
afs_buf_put(afs_buf *b, const void *p, size_t n)
{
    int err = afs_buf_grow(b, n);
    if (err)
        return err;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int
afs_buf_puts(afs_buf *b, const char *s)
{
    return afs_buf_put(b, s, strlen(s));
}

int
afs_buf_printf(afs_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return afs_error_set(AUDITFS_ERROR, "format error");
    int err = afs_buf_grow(b, (size_t)n);
    if (err)
        return err;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

int
afs_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

void
afs_buf_release(afs_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *
afs_buf_detach(afs_buf *b, size_t *len)
{
    char *d = b->data;
    if (!d) {
        d = calloc(1, 1);
        if (len)
            *len = 0;
    } else if (len) {
        *len = b->len;
    }
    b->data = NULL;
    b->len = b->cap = 0;
    return d;
}

bool
afs_parse_u64(uint64_t *out, const char *s, size_t len)
{
    uint64_t v = 0;
    if (len == 0 || len > 20)
        return false;
    if (s[0] == '0' && len > 1)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian), Howard Hinnant's algorithm. */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static bool
days_in_month_ok(int64_t y, unsigned m, unsigned d)
{
    static const unsigned dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12 || d < 1)
        return false;
    unsigned max = dim[m - 1];
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        max = 29;
    return d <= max;
}

static void
put_digits(char *p, unsigned v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

void
afs_format_time(char out[32], int64_t us)
{
    /* the writer formats one time per entry, nearly all in the same second as the one
     * before: the calendar part of that second is kept per thread */
    static _Thread_local int64_t last_secs = INT64_MIN;
    static _Thread_local char last[28];
    int64_t secs = us >= 0 ? us / 1000000 : (us - 999999) / 1000000;
    int64_t frac = us - secs * 1000000;
    if (secs == last_secs) {
        memcpy(out, last, 28);
        put_digits(out + 20, (unsigned)frac, 6);
        return;
    }
    int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
    int64_t sod = secs - days * 86400;
    /* civil_from_days (Howard Hinnant) */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    /* the year is clamped to 4 digits: times come from the clock or a validated header */
    if (y < 0)
        y = 0;
    if (y > 9999)
        y = 9999;
    memcpy(out, "0000-00-00T00:00:00.000000Z", 28);
    put_digits(out, (unsigned)y, 4);
    put_digits(out + 5, m, 2);
    put_digits(out + 8, d, 2);
    put_digits(out + 11, (unsigned)(sod / 3600), 2);
    put_digits(out + 14, (unsigned)(sod / 60 % 60), 2);
    put_digits(out + 17, (unsigned)(sod % 60), 2);
    put_digits(out + 20, (unsigned)frac, 6);
    memcpy(last, out, 28);
    last_secs = secs;
}

static bool
digits(const char *s, size_t n, unsigned *out)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return true;
}

/* Parses "YYYY-MM-DD" at s; returns days since epoch. */
static bool
parse_date(int64_t *days, const char *s)
{
    unsigned y, m, d;
    if (!digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &m) || s[7] != '-' ||
        !digits(s + 8, 2, &d))
        return false;
    if (!days_in_month_ok(y, m, d))
        return false;
    *days = days_from_civil(y, m, d);
    return true;
}

bool
afs_parse_time(int64_t *out, const char *s, size_t len)
{
    int64_t days;
    unsigned hh, mm, ss, us;
    if (len != 27 || !parse_date(&days, s) || s[10] != 'T' || !digits(s + 11, 2, &hh) ||
        s[13] != ':' || !digits(s + 14, 2, &mm) || s[16] != ':' || !digits(s + 17, 2, &ss) ||
        s[19] != '.' || !digits(s + 20, 6, &us) || s[26] != 'Z')
        return false;
    if (hh > 23 || mm > 59 || ss > 59)
        return false;
    *out = ((days * 86400) + hh * 3600 + mm * 60 + ss) * 1000000 + us;
    return true;
}

bool
afs_parse_time_loose(int64_t *out, const char *s)
{
    size_t len = strlen(s);
    int64_t days;
    unsigned hh = 0, mm = 0, ss = 0;
    int64_t frac_us = 0;
    if (len < 10 || !parse_date(&days, s))
        return false;
    const char *p = s + 10;
    int64_t offset_s = 0;
    if (*p) {
        if (*p != 'T' && *p != 't' && *p != ' ')
            return false;
        p++;
        if (strlen(p) < 5 || !digits(p, 2, &hh) || p[2] != ':' || !digits(p + 3, 2, &mm))
            return false;
        p += 5;
        if (*p == ':') {
            if (!digits(p + 1, 2, &ss))
                return false;
            p += 3;
            if (*p == '.') {
                p++;
                int nd = 0;
                int64_t scale = 100000;
                while (*p >= '0' && *p <= '9') {
                    if (nd < 6)
                        frac_us += (*p - '0') * scale;
                    scale /= 10;
                    nd++;
                    p++;
                }
                if (nd == 0)
                    return false;
            }
        }
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            unsigned oh, om;
            int sign = *p == '-' ? -1 : 1;
            if (!digits(p + 1, 2, &oh) || p[3] != ':' || !digits(p + 4, 2, &om))
                return false;
            offset_s = sign * (int64_t)(oh * 3600 + om * 60);
            p += 6;
        } else if (*p) {
            return false;
        }
        if (*p)
            return false;
        if (hh > 23 || mm > 59 || ss > 60)
            return false;
    }
    *out = ((days * 86400) + hh * 3600 + mm * 60 + ss - offset_s) * 1000000 + frac_us;
    return true;
}

int64_t
afs_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int
afs_read_file(char **out, size_t *len, const char *path, size_t max)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    afs_buf b = AFS_BUF_INIT;
    int err = 0;
    if (fd < 0)
        return afs_error_set(errno == ENOENT ? AUDITFS_ENOTFOUND : AUDITFS_EIO, "%s: %s", path,
                             strerror(errno));
    for (;;) {
        if ((err = afs_buf_grow(&b, 65536)) != 0)
            goto cleanup;
        ssize_t n = read(fd, b.data + b.len, b.cap - b.len - 1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            err = afs_error_set(AUDITFS_EIO, "%s: %s", path, strerror(errno));
            goto cleanup;
        }
        if (n == 0)
            break;
        b.len += (size_t)n;
        if (b.len > max) {
            err = afs_error_set(AUDITFS_ETOOBIG, "%s: larger than %zu bytes", path, max);
            goto cleanup;
        }
    }
    b.data[b.len] = '\0';
    *out = afs_buf_detach(&b, len);
cleanup:
    close(fd);
    afs_buf_release(&b);
    return err;
}

int
afs_fsync_dir(const char *path)
{
    char dir[PATH_MAX];
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(dir, sizeof dir, "%s", path);
    } else {
        snprintf(dir, sizeof dir, "%s", path);
        char *slash = strrchr(dir, '/');
        if (slash == dir)
            dir[1] = '\0';
        else if (slash)
            *slash = '\0';
        else
            snprintf(dir, sizeof dir, ".");
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return afs_error_set(AUDITFS_EIO, "%s: %s", dir, strerror(errno));
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    if (rc != 0)
        return afs_error_set(AUDITFS_EIO, "fsync %s: %s", dir, strerror(e));
    return 0;
}

/* SWAR tests on 8 bytes at once: any byte >= 0x80, < 0x20, or == 0x7f */
#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

bool
afs_utf8_valid(const uint8_t *s, size_t n, bool allow_tab)
{
    size_t i = 0;
    while (i < n) {
#ifdef __SSE2__
        /* fast path: sixteen printable ASCII bytes at a time (every x86-64 has SSE2). Signed
         * compares: bytes >= 0x80 are negative, so "< 0x20" flags them too. This check was
         * 6% of verify's CPU eight bytes at a time. */
        while (n - i >= 16) {
            __m128i w = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
            __m128i bad = _mm_or_si128(_mm_cmplt_epi8(w, _mm_set1_epi8(0x20)),
                                       _mm_cmpeq_epi8(w, _mm_set1_epi8(0x7f)));
            if (_mm_movemask_epi8(bad))
                break;
            i += 16;
        }
#endif
        /* then eight printable ASCII bytes (the common case of JSON log lines) */
        while (n - i >= 8) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            uint64_t lt20 = (w - ONES * 0x20) & ~w & HIGHS;
            uint64_t x7f = w ^ (ONES * 0x7f);
            uint64_t eq7f = (x7f - ONES) & ~x7f & HIGHS;
            if ((w & HIGHS) | lt20 | eq7f)
                break;
            i += 8;
        }
        if (i >= n)
            break;
        uint8_t c = s[i];
        if (c < 0x80) {
            if ((c < 0x20 && !(allow_tab && c == '\t')) || c == 0x7f)
                return false;
            i++;
            continue;
        }
        size_t need;
        uint32_t cp;
        if (c >= 0xc2 && c <= 0xdf) {
            need = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            need = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (need >= n - i)
            return false;
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        /* overlong forms, surrogates, beyond U+10FFFF, and the C1 controls U+0080-U+009F
         * (control characters like C0 and DEL: docs/FORMAT.md forbids them everywhere) */
        if ((need == 1 && cp < 0xa0) || (need == 2 && cp < 0x800) ||
            (need == 3 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += need + 1;
    }
    return true;
}

size_t
auditfs_base64_encode(char *out, const void *in, size_t n)
{
    return afs_b64_encode(out, in, n);
}

void
auditfs_hash_base64(char out[48], const auditfs_hash *h)
{
    afs_b64_encode(out, h->b, sizeof h->b);
}

void
auditfs_format_time(char out[32], int64_t us)
{
    afs_format_time(out, us);
}

int
auditfs_parse_time(int64_t *out, const char *s)
{
    return afs_parse_time_loose(out, s);
}

int
auditfs_read_file(uint8_t **out, size_t *len, const char *path, size_t max)
{
    return afs_read_file((char **)out, len, path, max);
}
