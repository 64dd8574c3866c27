/*
 * ledger/view_spill.c - append-only coded arrays in a private unlinked file (view_spill.h).
 */
#include "view_spill.h"

#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SPILL_WBUF ((size_t)64 << 10)
#define VARINT_MAX 10

static _Atomic uint64_t spill_serial;

/* ---- the file ---- */

int
vspill_file_open(vspill_file *f, const char *dir)
{
    memset(f, 0, sizeof *f);
    f->fd = -1;
    if (!dir || !*dir)
        dir = getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) { /* a file system without O_TMPFILE: make a file and unlink it at once */
        char path[4096];
        if (snprintf(path, sizeof path, "%s/auditfs-view-XXXXXX", dir) >= (int)sizeof path)
            return afs_error_set(AUDITFS_EINVAL, "%s: directory name too long", dir);
        fd = mkostemp(path, O_CLOEXEC);
        if (fd >= 0) {
            unlink(path);
            if (fchmod(fd, 0600) != 0) {
                close(fd);
                fd = -1;
            }
        }
    }
    if (fd < 0)
        return afs_error_set(AUDITFS_EIO, "%s: cannot make the view's private index file: %s",
                             dir, strerror(errno));
    f->wbuf = malloc(SPILL_WBUF);
    if (!f->wbuf) {
        close(fd);
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    }
    f->wcap = SPILL_WBUF;
    f->fd = fd;
    return 0;
}

int
vspill_file_flush(vspill_file *f)
{
    size_t done = 0;
    while (done < f->wlen) {
        ssize_t w = pwrite(f->fd, f->wbuf + done, f->wlen - done, (off_t)(f->flushed + done));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return afs_error_set(AUDITFS_EIO, "cannot write the view's private index file: %s",
                                 w < 0 ? strerror(errno) : "no space");
        done += (size_t)w;
    }
    /* atomic: readers in other threads compare offsets with it (view_int.h, evspill) */
    __atomic_store_n(&f->flushed, f->flushed + f->wlen, __ATOMIC_RELEASE);
    f->wlen = 0;
    return 0;
}

void
vspill_file_close(vspill_file *f)
{
    if (f->fd >= 0)
        close(f->fd);
    free(f->wbuf);
    memset(f, 0, sizeof *f);
    f->fd = -1;
}

/* Appends len bytes as one piece (never split between file and buffer); *off: where. */
static int
file_append(vspill_file *f, const uint8_t *p, size_t len, uint64_t *off)
{
    int err;
    if (f->wlen + len > f->wcap && (err = vspill_file_flush(f)) != 0)
        return err;
    *off = f->flushed + f->wlen;
    memcpy(f->wbuf + f->wlen, p, len); /* len <= SPILL_BLK * SPILL_MAXF * VARINT_MAX < wcap */
    f->wlen += len;
    f->bytes = f->flushed + f->wlen;
    return 0;
}

/* ---- coding ---- */

static size_t
put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/* Reads a varint from [*p, e); 0 past the end (a short block decodes as zeros, never beyond). */
static uint64_t
get_varint(const uint8_t **p, const uint8_t *e)
{
    uint64_t v = 0;
    for (unsigned s = 0; *p < e && s < 64; s += 7) {
        uint8_t b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << s;
        if (!(b & 0x80))
            break;
    }
    return v;
}

static uint64_t
zigzag(uint64_t d)
{
    return (d << 1) ^ (uint64_t)-(int64_t)(d >> 63);
}

static uint64_t
unzigzag(uint64_t z)
{
    return (z >> 1) ^ (uint64_t)-(int64_t)(z & 1);
}

/* ---- arrays ---- */

void
vspill_init(vspill *a, unsigned nf)
{
    memset(a, 0, sizeof *a);
    a->nf = (uint8_t)(nf > SPILL_MAXF ? SPILL_MAXF : nf);
    a->serial = ++spill_serial;
}

void
vspill_free(vspill *a)
{
    free(a->blk);
    free(a->first);
    free(a->tail);
    memset(a, 0, sizeof *a);
}

size_t
vspill_mem(const vspill *a)
{
    return a->capblk * sizeof *a->blk + a->capfirst * a->nf * sizeof *a->first + a->tail_cap;
}

int
vspill_push(vspill *a, vspill_file *f, const uint64_t *vals)
{
    int err;
    unsigned nf = a->nf;
    if (a->n % SPILL_BLK == 0) { /* a new block: seal the tail, note the first record */
        uint64_t b = a->n / SPILL_BLK;
        if (b > 0) {
            if (b - 1 >= a->capblk) {
                size_t nc = a->capblk ? a->capblk * 2 : 4;
                vspill_blk *nb = realloc(a->blk, nc * sizeof *nb);
                if (!nb)
                    return afs_error_set(AUDITFS_ENOMEM, "out of memory");
                a->blk = nb;
                a->capblk = nc;
            }
            vspill_blk *sb = &a->blk[b - 1];
            if ((err = file_append(f, a->tail, a->tail_len, &sb->off)) != 0)
                return err;
            sb->len = a->tail_len;
            free(a->tail); /* a list that stops growing keeps no buffer */
            a->tail = NULL;
            a->tail_len = a->tail_cap = 0;
        }
        if (b >= a->capfirst) {
            size_t nc = a->capfirst ? a->capfirst * 2 : 4;
            uint64_t *nf_ = realloc(a->first, nc * nf * sizeof *nf_);
            if (!nf_)
                return afs_error_set(AUDITFS_ENOMEM, "out of memory");
            a->first = nf_;
            a->capfirst = nc;
        }
        memcpy(a->first + b * nf, vals, nf * sizeof *vals);
    } else {
        if (a->tail_len + nf * VARINT_MAX > a->tail_cap) {
            uint32_t nc = a->tail_cap ? a->tail_cap * 2 : 32;
            while (nc < a->tail_len + nf * VARINT_MAX)
                nc *= 2;
            uint8_t *nt = realloc(a->tail, nc);
            if (!nt)
                return afs_error_set(AUDITFS_ENOMEM, "out of memory");
            a->tail = nt;
            a->tail_cap = nc;
        }
        for (unsigned k = 0; k < nf; k++)
            a->tail_len += (uint32_t)put_varint(a->tail + a->tail_len, zigzag(vals[k] - a->prev[k]));
    }
    memcpy(a->prev, vals, nf * sizeof *vals);
    a->n++;
    return 0;
}

/* ---- reading: the per-thread cache of decoded blocks ---- */

typedef struct tls_blk {
    uint64_t serial, blk;
    uint32_t count;
    uint64_t vals[SPILL_BLK * SPILL_MAXF];
} tls_blk;

static _Thread_local tls_blk tls_cache[SPILL_TLS];
static _Thread_local unsigned tls_last, tls_next;

/* Reads len bytes at off of the file (from its buffer if not written yet). */
static int
file_read(const vspill_file *f, uint8_t *p, size_t len, uint64_t off)
{
    uint64_t flushed = __atomic_load_n(&f->flushed, __ATOMIC_ACQUIRE);
    if (off >= flushed) { /* only at open, or under the writer's lock (view_int.h) */
        if (off - flushed + len > f->wlen)
            return -1;
        memcpy(p, f->wbuf + (off - flushed), len);
        return 0;
    }
    size_t done = 0;
    while (done < len) {
        ssize_t r = pread(f->fd, p + done, len - done, (off_t)(off + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        done += (size_t)r;
    }
    return 0;
}

/* Block b of a, decoded (in this thread's cache). */
static const tls_blk *
block(const vspill *a, const vspill_file *f, uint64_t b)
{
    uint64_t nblk = (a->n + SPILL_BLK - 1) / SPILL_BLK;
    uint32_t count = (uint32_t)(b + 1 < nblk ? SPILL_BLK : a->n - b * SPILL_BLK);
    tls_blk *t = &tls_cache[tls_last];
    if (t->serial == a->serial && t->blk == b && t->count == count)
        return t;
    for (unsigned i = 0; i < SPILL_TLS; i++) {
        t = &tls_cache[i];
        if (t->serial == a->serial && t->blk == b && t->count == count) {
            tls_last = i;
            return t;
        }
    }
    tls_last = tls_next;
    tls_next = (tls_next + 1) % SPILL_TLS;
    t = &tls_cache[tls_last];
    unsigned nf = a->nf;
    uint8_t raw[SPILL_BLK * SPILL_MAXF * VARINT_MAX];
    const uint8_t *p, *e;
    if (b + 1 < nblk) {
        const vspill_blk *sb = &a->blk[b];
        if (sb->len > sizeof raw || file_read(f, raw, sb->len, sb->off) != 0) {
            memset(raw, 0, sizeof raw);
            p = raw;
            e = raw;
        } else {
            p = raw;
            e = raw + sb->len;
        }
    } else {
        p = a->tail;
        e = a->tail ? a->tail + a->tail_len : NULL;
    }
    memcpy(t->vals, a->first + b * nf, nf * sizeof *t->vals);
    for (uint32_t i = 1; i < count; i++)
        for (unsigned k = 0; k < nf; k++)
            t->vals[i * nf + k] = t->vals[(i - 1) * nf + k] + unzigzag(get_varint(&p, e));
    t->serial = a->serial;
    t->blk = b;
    t->count = count;
    return t;
}

uint64_t
vspill_get(const vspill *a, const vspill_file *f, uint64_t i, unsigned k)
{
    if (i >= a->n || k >= a->nf)
        return 0;
    const tls_blk *t = block(a, f, i / SPILL_BLK);
    return t->vals[(i % SPILL_BLK) * a->nf + k];
}

static int
hit(uint64_t v, uint64_t x, int strict)
{
    return strict ? v > x : v >= x;
}

uint64_t
vspill_bound(const vspill *a, const vspill_file *f, unsigned k, uint64_t x, int strict,
             uint64_t lo, uint64_t hi)
{
    if (hi > a->n)
        hi = a->n;
    if (lo >= hi)
        return hi;
    unsigned nf = a->nf;
    /* the first block whose first record satisfies the bound: the answer is in the block
     * before it, or is its first record */
    uint64_t blo = lo / SPILL_BLK, bhi = (hi - 1) / SPILL_BLK + 1;
    while (blo < bhi) {
        uint64_t mid = blo + (bhi - blo) / 2;
        if (hit(a->first[mid * nf + k], x, strict))
            bhi = mid;
        else
            blo = mid + 1;
    }
    uint64_t r = blo * SPILL_BLK;
    if (blo > 0) {
        uint64_t b = blo - 1;
        const tls_blk *t = block(a, f, b);
        uint32_t l = 0, h = t->count;
        while (l < h) {
            uint32_t mid = l + (h - l) / 2;
            if (hit(t->vals[mid * nf + k], x, strict))
                h = mid;
            else
                l = mid + 1;
        }
        r = b * SPILL_BLK + l;
    }
    return r < lo ? lo : r > hi ? hi : r;
}
