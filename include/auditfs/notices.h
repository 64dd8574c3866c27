/*
 * auditfs/notices.h - what a reader is told when its copy of a ledger grows: the notices and
 * document (SLA) versions that arrived between two tree sizes, one line each, and the details a
 * hook program receives in its environment. `auditfs sync` and `auditfs mount --follow` both
 * call these, so they report the same things in the same words.
 */
#ifndef AUDITFS_NOTICES_H
#define AUDITFS_NOTICES_H

#include "entry.h"
#include "ledger.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Receives one new notice or document version (e is valid only during the call). */
typedef int (*auditfs_notice_cb)(void *ctx, const auditfs_entry *e);

/**
 * Calls cb, in ledger order, for every notice and document entry with from <= seq < to (the
 * entries a copy gained when it grew from size `from` to size `to`), each read and checked
 * against l's head tiles. With root not NULL, l's root at size `to` must equal it first
 * (EVERIFY otherwise: the handle is not the history the caller verified). With tenant not
 * NULL, only that tenant's entries and those without a tenant. A nonzero cb result stops the
 * walk and is returned. EINVAL if from > to or to > l's size.
 */
AUDITFS_API int auditfs_notices_between(auditfs_ledger *l, uint64_t from, uint64_t to,
                                        const auditfs_hash *root, const char *tenant,
                                        auditfs_notice_cb cb, void *ctx) AUDITFS_WUR;

/**
 * The one-line report of a new notice or document version, without a newline, data escaped:
 *   new notice 52: "Planned maintenance", tenant acme, 42 bytes, published
 *   2026-11-29T16:40:00Z, effective 2026-12-01T00:00:00Z (lead time 1d7h)
 *   new document 51: sla/acme-compute v2, tenant acme, 1234 bytes, published ...
 * (on one line; ", tenant T" only with a tenant, the effective part only for notices that
 * have one, "lead time -3h" when effective precedes publication). *out is malloc'd.
 */
AUDITFS_API int auditfs_notice_line(char **out, const auditfs_entry *e) AUDITFS_WUR;

/**
 * The environment a notice hook receives, as a NULL-terminated malloc'd array of malloc'd
 * "NAME=value" strings (free with auditfs_notice_env_free), values exactly as stored (entry
 * fields are UTF-8 without control characters; absent fields are empty):
 *   AUDITFS_NOTICE_INDEX      the entry's seq
 *   AUDITFS_NOTICE_TYPE       notice | document
 *   AUDITFS_NOTICE_TITLE      the notice's title, or the document's name
 *   AUDITFS_NOTICE_NAME       the document's name (empty for a notice)
 *   AUDITFS_NOTICE_VERSION    the document's version (empty for a notice)
 *   AUDITFS_NOTICE_TENANT     the tenant, or empty
 *   AUDITFS_NOTICE_PUBLISHED  the ledger time, 2026-11-29T16:40:00.123456Z
 *   AUDITFS_NOTICE_EFFECTIVE  the notice's effective time (same form), or empty
 *   AUDITFS_NOTICE_LEAD_SECONDS  effective minus published in seconds, or empty
 *   AUDITFS_NOTICE_SIZE       the content's length in bytes
 *   AUDITFS_NOTICE_SHA256     the content's SHA-256, hex
 *   AUDITFS_NOTICE_CONTENT_TYPE  the content's media type
 *   AUDITFS_ORIGIN            the ledger's origin (origin may be NULL: empty)
 *   AUDITFS_LEDGER            the ledger directory (ledger may be NULL: empty)
 *   AUDITFS_TREE_SIZE         the size the copy grew to
 */
AUDITFS_API int auditfs_notice_env(char ***out, const auditfs_entry *e, const char *origin,
                                   const char *ledger, uint64_t tree_size) AUDITFS_WUR;
AUDITFS_API void auditfs_notice_env_free(char **env);

#ifdef __cplusplus
}
#endif
#endif
