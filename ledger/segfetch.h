/*
 * ledger/segfetch.h - segments read and zstd-decoded ahead, in order, by a worker thread.
 */
#ifndef AUDITFS_SEGFETCH_H
#define AUDITFS_SEGFETCH_H

#include "internal.h"
#include "segment.h"
#include "store.h"

#include <git2.h>

enum { AFS_SEGFETCH_UNREADABLE = 1, AFS_SEGFETCH_FRAME = 2 };

/** One segment, decoded. Only frames [0, nframes) are valid. */
typedef struct afs_segitem {
    int status;        /* 0, or AUDITFS_EVERIFY with msg */
    int kind;          /* AFS_SEGFETCH_*: unreadable (object or index), or frame fail_seq */
    char msg[512];
    uint64_t fail_seq; /* AFS_SEGFETCH_FRAME: first seq of the frame that did not decode */
    uint64_t first_seq; /* from the segment's index */
    uint32_t nframes, total, cap;
    afs_buf *frames;
    afs_seg_index ix; /* the segment's parsed index (valid unless kind is UNREADABLE) */
    /* the leaf hashes of the segment's first nhashed entries (entry first_seq + k at k), each
     * hashed by the reader right after it wrote the record, so the walker need not hash the same
     * bytes again; it hashes entries beyond nhashed itself (segfetch.c says which frames are
     * not hashed: none of a well-formed segment) */
    uint8_t (*hashes)[32];
    size_t hcap;
    uint64_t nhashed;
} afs_segitem;

/**
 * Reads segment blob oid of l (named path, for messages) into it and decodes its frames: the
 * worker's step, also used in the caller's thread when no worker runs; also the leaf hashes of
 * its entries (it->hashes). Never fails: the outcome is in it->status, it->kind and it->msg
 * (the error state is left clear).
 */
void afs_segitem_read(afs_segitem *it, auditfs_ledger *l, const git_oid *oid, const char *path);
/** Frees what an item holds and zeroes it. */
void afs_segitem_release(afs_segitem *it);

typedef struct afs_segfetch afs_segfetch;
/**
 * Starts the workers (two, or one if the second cannot start) that read the n segment blobs
 * oids (named paths, for messages) of the ledger at path, handed out in order, through one
 * repository handle of their own. oids and paths must outlive them.
 */
int afs_segfetch_start(afs_segfetch **out, const char *path, const git_oid *oids,
                       char (*paths)[64], size_t n);
/** The next segment in order (blocks until it is ready); call afs_segfetch_done after use. */
afs_segitem *afs_segfetch_next(afs_segfetch *f);
void afs_segfetch_done(afs_segfetch *f);
/** Stops the workers (also early) and frees everything. */
void afs_segfetch_free(afs_segfetch *f);

#endif
