/*
 * ledger/json.h - the library's JSON reader (RFC 8259; query.c): validation and a walk over the
 * top-level members of an object, used by the query engine, the index and the bundle code.
 */
#ifndef AUDITFS_LEDGER_JSON_H
#define AUDITFS_LEDGER_JSON_H

#include <stddef.h>
#include <stdint.h>

/* ---- JSON payloads: top-level members of one JSON object ---- */
enum { AFS_JSON_STRING, AFS_JSON_NUMBER, AFS_JSON_LITERAL, AFS_JSON_CONTAINER };
/** Called per member in order; val is decoded for strings, the raw text otherwise. */
typedef int (*afs_json_member_cb)(void *ctx, const char *key, size_t klen, const char *val,
                                  size_t vlen, int kind);
/**
 * If p is exactly one JSON object (RFC 8259, surrounding whitespace allowed, depth <= 64),
 * calls cb for each top-level member and returns 1; returns 0 without calling cb if it is not.
 * A negative return from cb stops the walk and is returned.
 */
int afs_json_members(const uint8_t *p, size_t n, afs_json_member_cb cb, void *ctx);
/** 1 if p is exactly one JSON value. */
int afs_json_valid(const uint8_t *p, size_t n);

#endif
