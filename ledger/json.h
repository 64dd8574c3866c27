/*
 * ledger/json.h - the library's one JSON reader and writer (RFC 8259), in json.c.
 *
 * The reader is a cursor over a byte range that never reads past it, nests at most
 * AFS_JSON_MAX_DEPTH deep (iteratively bounded, so hostile input costs linear time and constant
 * stack), and reports failures as EFORMAT "offset N: what" (or silently, for callers that only
 * want a yes/no on every payload of a scan). The proof parser (proof.c) drives the cursor; the
 * query engine, the index and the bundle code use the whole-document helpers below it.
 */
#ifndef AUDITFS_LEDGER_JSON_H
#define AUDITFS_LEDGER_JSON_H

#include "internal.h"

#define AFS_JSON_MAX_DEPTH 64

/* ---- the cursor ---- */
typedef struct afs_jr {
    const uint8_t *p;
    size_t n;
    size_t pos;  /* invariant: pos <= n */
    int depth;
    int quiet;   /* 1: failures return EFORMAT without setting the thread's error */
} afs_jr;
#define AFS_JR_INIT(p, n) {(const uint8_t *)(p), (n), 0, 0, 0}

/** Fails at offset off: EFORMAT "offset <off>: <what>" (message unless quiet). */
int afs_jr_fail(afs_jr *r, size_t off, const char *what);
/** Skips JSON whitespace. */
void afs_jr_ws(afs_jr *r);
/** Skips whitespace; true if the next byte is c (not consumed). */
bool afs_jr_peek(afs_jr *r, char c);
/** Skips whitespace and consumes c, or fails "expected 'c'". */
int afs_jr_expect(afs_jr *r, char c);
/** A string at the cursor; its decoded UTF-8 is appended to out if out is not NULL. */
int afs_jr_string(afs_jr *r, afs_buf *out);
/** A canonical non-negative integer that fits in 64 bits (no sign, fraction, exponent, 0-prefix). */
int afs_jr_u64(afs_jr *r, uint64_t *v);
/** A number (RFC 8259 grammar) exactly at the cursor, no whitespace skipped. */
int afs_jr_number(afs_jr *r);
/** Any value; *kind (AFS_JSON_*) is its kind; a top-level string is decoded into str if set. */
int afs_jr_value(afs_jr *r, int *kind, afs_buf *str);
/** Skips whitespace; fails "trailing data after the value" unless at the end. */
int afs_jr_end(afs_jr *r);

/* ---- whole documents ---- */
enum { AFS_JSON_STRING, AFS_JSON_NUMBER, AFS_JSON_LITERAL, AFS_JSON_CONTAINER };
/** Called per member in order; val is decoded for strings, the raw text otherwise. */
typedef int (*afs_json_member_cb)(void *ctx, const char *key, size_t klen, const char *val,
                                  size_t vlen, int kind);
/**
 * If p is exactly one JSON object (surrounding whitespace allowed), calls cb for each top-level
 * member and returns 1; returns 0 without calling cb if it is not. A negative return from cb
 * stops the walk and is returned.
 */
int afs_json_members(const uint8_t *p, size_t n, afs_json_member_cb cb, void *ctx);
/** 1 if p is exactly one JSON value (surrounding whitespace allowed). */
int afs_json_valid(const uint8_t *p, size_t n);
/**
 * 1 if p can be copied verbatim into a JSON Lines output as a value: one JSON value, UTF-8,
 * and no line break (whitespace between tokens may hold one; that would split the line).
 */
int afs_json_embeddable(const uint8_t *p, size_t n);

/* ---- the writer ---- */
/** Appends s (n bytes) as a JSON string literal: quotes, \" \\ and \u00XX for controls. */
int afs_json_put_string(afs_buf *b, const uint8_t *s, size_t n);
/** Appends ,"key":"value" (key a literal without escapes; value escaped). */
int afs_json_put_field(afs_buf *b, const char *key, const char *value);

#endif
