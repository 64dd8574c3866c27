/*
 * ledger/view_spill.h - the view's per-entry arrays, kept out of anonymous memory.
 *
 * A spill array (vspill) is an append-only table of records of up to SPILL_MAXF unsigned 64-bit
 * fields, each field non-decreasing or not (any values work; monotone ones code small). Records
 * are grouped in blocks of SPILL_BLK; a sealed block is coded (each field as a zigzag varint of
 * its difference from the record before it in the block, the block's first record being held in
 * memory) and appended to one private, unlinked file (vspill_file). In memory stay, per block,
 * its file offset and length and its first record (so searches pick the block without reading
 * it), and the block still being filled, coded the same way.
 *
 * Reading decodes a whole block into a small per-thread cache (SPILL_TLS blocks): sequential
 * and nearby accesses cost no system call and no lock. A block's identity is (array serial,
 * block, record count), so a tail block that grew (a --follow step, under the view's exclusive
 * lock) is decoded again, and arrays of a freed view are never confused with a new one's.
 *
 * The file is derived state of this process only: created with O_TMPFILE (or made and
 * unlinked at once), mode 0600, never reopened or trusted across runs. Its bytes were computed
 * from leaves verified at pin time; they only locate and size lines, and every byte served is
 * still checked against the verified frame it is copied from (view_int.h).
 */
#ifndef AUDITFS_VIEW_SPILL_H
#define AUDITFS_VIEW_SPILL_H

#include <stddef.h>
#include <stdint.h>

#define SPILL_BLK 128
#define SPILL_MAXF 3
#define SPILL_TLS 16

typedef struct vspill_file {
    int fd;             /* -1: not open */
    uint64_t flushed;   /* bytes written to fd */
    uint8_t *wbuf;      /* bytes [flushed, flushed + wlen) not yet written */
    size_t wlen, wcap;
    uint64_t bytes;     /* flushed + wlen */
} vspill_file;

typedef struct vspill_blk {
    uint64_t off; /* in the file */
    uint32_t len;
} vspill_blk;

typedef struct vspill {
    uint64_t serial; /* unique in the process (never 0 once used) */
    uint8_t nf;
    uint64_t n;              /* records */
    vspill_blk *blk;         /* sealed blocks: n / SPILL_BLK */
    uint64_t *first;         /* first record of each block, sealed and tail: nf values each */
    size_t capblk, capfirst; /* in blocks */
    uint64_t prev[SPILL_MAXF]; /* the tail's last record */
    uint8_t *tail;           /* the tail block, coded (records after its first) */
    uint32_t tail_len, tail_cap;
} vspill;

/* Opens the file in dir (NULL or "": $TMPDIR or /tmp). */
int vspill_file_open(vspill_file *f, const char *dir);
/* Writes out what is buffered (the buffer is kept small: SPILL_WBUF). */
int vspill_file_flush(vspill_file *f);
void vspill_file_close(vspill_file *f);

void vspill_init(vspill *a, unsigned nf);
void vspill_free(vspill *a);
/* Appends a record of a->nf values. */
int vspill_push(vspill *a, vspill_file *f, const uint64_t *vals);
/* Record i's field k (i < a->n); 0 if its block cannot be read back (the file went away):
 * every byte served is still checked against a verified frame, so this cannot serve bad bytes. */
uint64_t vspill_get(const vspill *a, const vspill_file *f, uint64_t i, unsigned k);
/* The first i in [lo, hi) whose field k is > x (strict) or >= x, or hi; field k must be
 * non-decreasing. */
uint64_t vspill_bound(const vspill *a, const vspill_file *f, unsigned k, uint64_t x, int strict,
                      uint64_t lo, uint64_t hi);
/* Bytes of memory a holds. */
size_t vspill_mem(const vspill *a);

#endif
