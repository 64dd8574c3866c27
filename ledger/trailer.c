/*
 * ledger/trailer.c - commit-message trailers: where an input's position becomes durable
 * atomically with the batch that holds its lines (docs/FORMAT.md section 16).
 *
 * A trailer is part of the commit object, so it is written, synced and published by the same
 * ref move as the batch's segment: a crash leaves either both or neither. Trailers are not
 * part of the signed checkpoint; they are hints for resuming ingestion, and verify only checks
 * that they are well formed printable text.
 */
#include "store.h"

#include "auditfs/ingest.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* Finds "<prefix><value>\n" as a whole line of msg; the last such line wins. */
static const char *
find_line(size_t *vlen, const char *msg, const char *prefix)
{
    size_t pl = strlen(prefix);
    const char *best = NULL;
    for (const char *p = msg; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t ll = nl ? (size_t)(nl - p) : strlen(p);
        if (ll >= pl && memcmp(p, prefix, pl) == 0) {
            best = p + pl;
            *vlen = ll - pl;
        }
        p = nl ? nl + 1 : NULL;
    }
    return best;
}

int
auditfs_ledger_find_trailer(char **out, uint64_t *found_size, auditfs_ledger *l, const char *prefix,
                            uint64_t max_commits)
{
    git_commit *c = NULL, *parent = NULL;
    int err = 0;
    *out = NULL;
    if (found_size)
        *found_size = 0;
    if (!l->head)
        return 0;
    if (git_commit_dup(&c, l->head) < 0)
        return afs_error_git(AUDITFS_EIO, "%s: cannot read the head commit", l->path);
    for (uint64_t k = 0; c && (max_commits == 0 || k < max_commits); k++) {
        const char *msg = git_commit_message(c);
        size_t vlen = 0;
        const char *v = msg ? find_line(&vlen, msg, prefix) : NULL;
        if (v) {
            *out = strndup(v, vlen);
            if (!*out) {
                err = afs_error_set(AUDITFS_ENOMEM, "out of memory");
                break;
            }
            if (found_size) {
                /* "append N entries: tree size S" */
                const char *ts = strstr(msg, "tree size ");
                if (ts)
                    *found_size = strtoull(ts + 10, NULL, 10);
            }
            break;
        }
        if (git_commit_parentcount(c) == 0)
            break;
        if (git_commit_parent(&parent, c, 0) < 0) {
            err = afs_error_git(AUDITFS_EIO, "%s: cannot read a commit", l->path);
            break;
        }
        git_commit_free(c);
        c = parent;
        parent = NULL;
    }
    git_commit_free(c);
    return err;
}

static int
key_byte_plain(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '/' || c == '~' || c == '-';
}

void
auditfs_position_key(char *out, const char *key)
{
    static const char hx[] = "0123456789ABCDEF";
    for (; *key; key++) {
        unsigned char c = (unsigned char)*key;
        if (key_byte_plain(c)) {
            *out++ = (char)c;
        } else {
            *out++ = '%';
            *out++ = hx[c >> 4];
            *out++ = hx[c & 15];
        }
    }
    *out = '\0';
}

int
auditfs_position_format(char **out, const auditfs_position *p)
{
    size_t kl = strlen(p->key);
    if (kl == 0 || kl > AUDITFS_POSKEY_MAX || p->head_len > AUDITFS_POSHEAD_MAX)
        return afs_error_set(AUDITFS_EINVAL, "position key or head length out of range");
    char *key = malloc(3 * kl + 1);
    char hex[65];
    if (!key)
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    auditfs_position_key(key, p->key);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", p->head_sha256[i]);
    size_t cap = strlen(key) + 200;
    *out = malloc(cap);
    if (!*out) {
        free(key);
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    }
    snprintf(*out, cap, "Auditfs-Position: %s %llu:%llu %llu:%s %llu\n", key,
             (unsigned long long)p->dev, (unsigned long long)p->ino,
             (unsigned long long)p->head_len, hex, (unsigned long long)p->offset);
    free(key);
    return 0;
}

/* the next space-separated word of [*s, end): its start and length; fails on an empty word */
static int
word(const char **w, size_t *wl, const char **s, const char *end)
{
    const char *sp = memchr(*s, ' ', (size_t)(end - *s));
    *w = *s;
    *wl = sp ? (size_t)(sp - *s) : (size_t)(end - *s);
    *s = sp ? sp + 1 : end;
    return *wl > 0;
}

static int
u64_pair(uint64_t *a, uint64_t *b, const char *w, size_t n)
{
    const char *colon = memchr(w, ':', n);
    return colon && afs_parse_u64(a, w, (size_t)(colon - w)) &&
           afs_parse_u64(b, colon + 1, n - (size_t)(colon - w) - 1);
}

int
auditfs_position_parse(auditfs_position *out, const char *s, size_t n)
{
    const char *end = s + n, *w;
    size_t wl, k = 0;
    memset(out, 0, sizeof *out);
    if (n > 4 * AUDITFS_POSKEY_MAX)
        return afs_error_set(AUDITFS_EFORMAT, "position of %zu bytes is too long", n);
    if (!word(&w, &wl, &s, end))
        return afs_error_set(AUDITFS_EFORMAT, "position: no key");
    for (size_t i = 0; i < wl; i++) {
        unsigned char c = (unsigned char)w[i];
        if (c == '%') {
            int hi = i + 2 < wl ? afs_hexval(w[i + 1]) : -1;
            int lo = i + 2 < wl ? afs_hexval(w[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (w[i + 1] >= 'a') || (w[i + 2] >= 'a') ||
                key_byte_plain((unsigned char)(hi << 4 | lo)) || (hi == 0 && lo == 0))
                return afs_error_set(AUDITFS_EFORMAT, "position: bad %%-escape in the key");
            c = (unsigned char)(hi << 4 | lo);
            i += 2;
        } else if (!key_byte_plain(c)) {
            return afs_error_set(AUDITFS_EFORMAT, "position: byte 0x%02x in the key", c);
        }
        if (k >= AUDITFS_POSKEY_MAX)
            return afs_error_set(AUDITFS_EFORMAT, "position: key too long");
        out->key[k++] = (char)c;
    }
    out->key[k] = '\0';
    if (!word(&w, &wl, &s, end) || !u64_pair(&out->dev, &out->ino, w, wl))
        return afs_error_set(AUDITFS_EFORMAT, "position: expected <dev>:<inode>");
    if (!word(&w, &wl, &s, end) || wl < 66 || w[wl - 65] != ':' ||
        !afs_parse_u64(&out->head_len, w, wl - 65) || out->head_len > AUDITFS_POSHEAD_MAX)
        return afs_error_set(AUDITFS_EFORMAT, "position: expected <length>:<sha256 hex>");
    for (int i = 0; i < 32; i++) {
        const char *h = w + wl - 64 + 2 * i;
        int hi = afs_hexval(h[0]), lo = afs_hexval(h[1]);
        if (hi < 0 || lo < 0 || (h[0] >= 'A' && h[0] <= 'F') || (h[1] >= 'A' && h[1] <= 'F'))
            return afs_error_set(AUDITFS_EFORMAT, "position: the hash is not lowercase hex");
        out->head_sha256[i] = (uint8_t)(hi << 4 | lo);
    }
    if (!word(&w, &wl, &s, end) || !afs_parse_u64(&out->offset, w, wl) || w + wl != end ||
        out->head_len > out->offset + AUDITFS_POSHEAD_MAX)
        return afs_error_set(AUDITFS_EFORMAT, "position: expected <offset> at the end");
    return 0;
}

static int
hash_head(uint8_t out[32], int fd, uint64_t n)
{
    uint8_t buf[AUDITFS_POSHEAD_MAX];
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, buf + got, (size_t)n - got, (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    afs_sha256(out, buf, (size_t)n);
    return 0;
}

int
auditfs_position_identify(auditfs_position *p, int fd, uint64_t offset)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return afs_error_set(AUDITFS_EIO, "fstat: %s", strerror(errno));
    p->dev = (uint64_t)st.st_dev;
    p->ino = (uint64_t)st.st_ino;
    p->offset = offset;
    p->head_len = offset < AUDITFS_POSHEAD_MAX ? offset : AUDITFS_POSHEAD_MAX;
    if (hash_head(p->head_sha256, fd, p->head_len) != 0)
        return afs_error_set(AUDITFS_EIO, "cannot read the first %llu bytes",
                             (unsigned long long)p->head_len);
    return 0;
}

int
auditfs_position_matches(const auditfs_position *p, int fd, int *same_inode)
{
    struct stat st;
    uint8_t h[32];
    if (same_inode)
        *same_inode = 0;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size < p->offset ||
        hash_head(h, fd, p->head_len) != 0 || sodium_memcmp(h, p->head_sha256, 32) != 0)
        return 0;
    if (same_inode)
        *same_inode = (uint64_t)st.st_dev == p->dev && (uint64_t)st.st_ino == p->ino;
    return 1;
}

/* One record of a spool at b[i]: its type and, for 'M', the message; 0 at the end or at a
 * record cut short (a kill while writing it), else the offset after it. */
static size_t
spool_record(char *type, const uint8_t **msg, size_t *mlen, const uint8_t *b, size_t n, size_t i)
{
    if (i + 1 >= n)
        return 0;
    *type = (char)b[i];
    if (b[i] == 'B' || b[i] == 'A' || b[i] == 'C')
        return b[i + 1] == '\n' ? i + 2 : 0;
    if (b[i] != 'M')
        return 0;
    size_t len = 0, j = i + 1;
    while (j < n && j < i + 21 && b[j] >= '0' && b[j] <= '9')
        len = len * 10 + (size_t)(b[j++] - '0');
    /* "M<len>:<len bytes>\n", all inside the buffer */
    if (j == i + 1 || j >= n || b[j] != ':' || len >= n - j - 1 || b[j + 1 + len] != '\n')
        return 0;
    *msg = b + j + 1;
    *mlen = len;
    return j + 2 + len;
}

/* The spool is written by one auditfs --rsyslog and read back by the next one; it is parsed as
 * untrusted bytes all the same (a truncated write, a stray file): records are read in order
 * from the start, so no message byte is ever taken for a record. */
int
auditfs_spool_scan(const uint8_t *b, size_t n, int *committed,
                   int (*cb)(const uint8_t *msg, size_t len, void *arg), void *arg)
{
    size_t i = 0, next, last_begin = n;
    const uint8_t *msg = NULL, *pend = NULL;
    size_t mlen = 0, plen = 0;
    char type;
    int count = 0;
    *committed = 0;
    /* pass 1: where the last transaction begins */
    for (i = 0; (next = spool_record(&type, &msg, &mlen, b, n, i)) != 0; i = next)
        if (type == 'B')
            last_begin = next;
    if (last_begin >= n)
        return 0;
    /* pass 2: its answered messages, unless its commit mark came */
    for (i = last_begin; (next = spool_record(&type, &msg, &mlen, b, n, i)) != 0; i = next) {
        if (type == 'M') {
            pend = msg;
            plen = mlen;
        } else if (type == 'A' && pend) {
            int r = cb(pend, plen, arg);
            if (r)
                return r;
            count++;
            pend = NULL;
        } else if (type == 'C') {
            *committed = 1;
            break;
        } else if (type == 'B') {
            break;
        }
    }
    return count;
}

/* ---- routing (docs/FORMAT.md section 16.1) ---- */

int
auditfs_trailer_text_find(char **out, const char *text, size_t n, const char *prefix)
{
    size_t vlen = 0;
    *out = NULL;
    if (memchr(text, '\0', n))
        return afs_error_set(AUDITFS_EFORMAT, "NUL byte in trailer text");
    char *t = strndup(text, n);
    if (!t)
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    const char *v = find_line(&vlen, t, prefix);
    if (v && !(*out = strndup(v, vlen))) {
        free(t);
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    }
    free(t);
    return 0;
}

/* One "k=value" field of an sd-journal cursor ("s=..;i=..;b=..;m=..;t=..;x=.."): the value's
 * start and length, or NULL. Values are hex digits; each field at most once is not checked
 * (the first wins), the cursor being opaque text to everyone but sd-journal. */
static const char *
cursor_field(size_t *vl, const char *c, char k)
{
    for (const char *p = c; *p;) {
        const char *semi = strchr(p, ';');
        size_t fl = semi ? (size_t)(semi - p) : strlen(p);
        if (fl >= 2 && p[0] == k && p[1] == '=') {
            *vl = fl - 2;
            return p + 2;
        }
        p = semi ? semi + 1 : p + fl;
    }
    return NULL;
}

/* A hex field as a number: 1-16 hex digits. */
static int
cursor_hex(uint64_t *v, const char *c, char k)
{
    size_t n = 0;
    const char *s = cursor_field(&n, c, k);
    if (!s || n == 0 || n > 16)
        return 0;
    *v = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        int d = ch >= '0' && ch <= '9'   ? ch - '0'
                : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                         : -1;
        if (d < 0)
            return 0;
        *v = *v << 4 | (uint64_t)d;
    }
    return 1;
}

/* 1 if field k has the same (non-empty) text in both cursors */
static int
cursor_same(const char *a, const char *b, char k)
{
    size_t al = 0, bl = 0;
    const char *x = cursor_field(&al, a, k), *y = cursor_field(&bl, b, k);
    return x && y && al && al == bl && memcmp(x, y, al) == 0;
}

int
auditfs_journal_cursor_cmp(int *order, const char *a, const char *b)
{
    uint64_t x, y;
    /* sd-journal's own order of entries from different files: by sequence number within one
     * sequence-number id, else by monotonic time within one boot, else by wall-clock time */
    if (cursor_same(a, b, 's') && cursor_hex(&x, a, 'i') && cursor_hex(&y, b, 'i')) {
    } else if (cursor_same(a, b, 'b') && cursor_hex(&x, a, 'm') && cursor_hex(&y, b, 'm')) {
    } else if (cursor_hex(&x, a, 't') && cursor_hex(&y, b, 't')) {
    } else {
        return afs_error_set(AUDITFS_EFORMAT, "journal cursors that cannot be ordered");
    }
    *order = x < y ? -1 : x > y ? 1 : 0;
    return 0;
}
