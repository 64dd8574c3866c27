/*
 * auditfs/entry.h - the canonical leaf encoding auditfs-entry/1.
 *
 * A leaf is a header of "key value\n" lines in one fixed order, each key at most once, a blank
 * line, then the payload bytes exactly as received:
 *
 *   auditfs-entry/1
 *   seq 41
 *   time 2026-11-21T22:13:11.123456Z
 *   type log
 *   stream api
 *   tenant acme                      (optional)
 *   party provider                   (optional)
 *   layer platform                   (optional)
 *   name sla/acme-compute            (documents)
 *   version 2                        (documents)
 *   title Maintenance window         (notices)
 *   effective 2026-12-01T00:00:00.000000Z   (notices, optional)
 *   content-type text/markdown       (documents, notices)
 *   content-length 1234              (documents, notices)
 *   content-sha256 <64 hex>          (documents, notices)
 *   reason <text>                    (quarantine)
 *   prev <base64 RFC 6962 leaf hash of entry seq-1; 32 zero bytes for entry 0>
 *   length 231
 *
 *   <payload>
 *
 * Parsing is strict (unknown or repeated keys, wrong order, non-canonical numbers are errors),
 * so every valid leaf has exactly one encoding. docs/FORMAT.md is the normative description.
 */
#ifndef AUDITFS_ENTRY_H
#define AUDITFS_ENTRY_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Default and hard limits on a log payload (a record larger than this is refused). */
#define AUDITFS_PAYLOAD_MAX_DEFAULT (64u * 1024u)
#define AUDITFS_PAYLOAD_MAX_HARD (1u << 20)
/** Largest leaf accepted by the parser (header plus payload). */
#define AUDITFS_LEAF_MAX (AUDITFS_PAYLOAD_MAX_HARD + 8192u)

#define AUDITFS_STREAM_MAX 64
#define AUDITFS_DOCNAME_MAX 200
#define AUDITFS_TITLE_MAX 256
#define AUDITFS_CTYPE_MAX 100
#define AUDITFS_REASON_MAX 200

/** A parsed entry. String fields are NUL-terminated; "" means absent. */
typedef struct auditfs_entry {
    uint64_t seq;
    int64_t time_us; /* ledger ingestion time, microseconds since the epoch, UTC */
    char type[16];   /* log | document | notice | quarantine */
    char stream[AUDITFS_STREAM_MAX + 1];
    char tenant[AUDITFS_STREAM_MAX + 1];
    char party[24];  /* provider | customer | security-vendor | assessor */
    char layer[24];  /* facility | hardware | virtualization | platform | application | data */
    char name[AUDITFS_DOCNAME_MAX + 1];
    uint64_t version; /* 0: absent */
    char title[AUDITFS_TITLE_MAX + 1];
    int64_t effective_us;
    int has_effective;
    char content_type[AUDITFS_CTYPE_MAX + 1];
    int has_content; /* content-length and content-sha256 present */
    uint64_t content_length;
    uint8_t content_sha256[32];
    char reason[AUDITFS_REASON_MAX + 1];
    auditfs_hash prev;
    const uint8_t *payload; /* points into the parsed leaf */
    size_t payload_len;
} auditfs_entry;

/** Parses and validates a leaf. Messages name the header line that is wrong. */
AUDITFS_API int auditfs_entry_parse(auditfs_entry *out, const uint8_t *leaf,
                                    size_t len) AUDITFS_WUR;

/** Encodes e (with e->payload) canonically; *out is malloc'd. Validates every field. */
AUDITFS_API int auditfs_entry_encode(uint8_t **out, size_t *out_len,
                                     const auditfs_entry *e) AUDITFS_WUR;

/**
 * One JSON object for the entry: {"seq":..,"time":"..","type":..,"stream":.., other headers,
 * "leaf_hash"?, "payload":...}. With with_payload, the payload is embedded as parsed JSON when it
 * is a JSON document, as a string when it is other text, and as "payload_base64" otherwise.
 */
AUDITFS_API int auditfs_entry_to_json(char **out, const auditfs_entry *e,
                                      int with_payload) AUDITFS_WUR;

/** Field validators shared by the CLI (return 1 if valid). */
AUDITFS_API int auditfs_valid_stream(const char *s);
AUDITFS_API int auditfs_valid_party(const char *s);
AUDITFS_API int auditfs_valid_layer(const char *s);
AUDITFS_API int auditfs_valid_docname(const char *s);
/**
 * 1 if a new document may be published under s: a valid name none of whose segments the
 * mount's documents/ layout uses (documents/<name>/v<N><ext> and documents/<name>/current),
 * so no segment is "current" or v<digits> followed by an extension. Stricter than
 * auditfs_valid_docname, which must keep accepting what older ledgers hold.
 */
AUDITFS_API int auditfs_docname_publishable(const char *s);
/** 1 if p is UTF-8 with no control characters (tab allowed if allow_tab). */
AUDITFS_API int auditfs_valid_text(const uint8_t *p, size_t n, int allow_tab);

/* ---- the closed vocabularies of the header (the one list each; entry.c) ---- */
/** Entry types, in the order of the `type` header's values. */
typedef enum auditfs_entry_type {
    AUDITFS_TYPE_UNKNOWN = -1,
    AUDITFS_TYPE_LOG = 0,
    AUDITFS_TYPE_DOCUMENT = 1,
    AUDITFS_TYPE_NOTICE = 2,
    AUDITFS_TYPE_QUARANTINE = 3,
} auditfs_entry_type;
#define AUDITFS_PARTY_COUNT 4 /* provider, customer, security-vendor, assessor */
#define AUDITFS_LAYER_COUNT 6 /* facility, hardware, virtualization, platform, application, data */
/** The type of a parsed entry (AUDITFS_TYPE_UNKNOWN only for an entry not from the parser). */
AUDITFS_API auditfs_entry_type auditfs_entry_type_of(const auditfs_entry *e);
/** The type named s ("log", ...), AUDITFS_TYPE_UNKNOWN if s is not one (exact names only). */
AUDITFS_API auditfs_entry_type auditfs_entry_type_parse(const char *s);
/** The name of type t ("log", ...), NULL if t is not a type. */
AUDITFS_API const char *auditfs_entry_type_name(int t);
/** The i-th party (0 <= i < AUDITFS_PARTY_COUNT) or layer, NULL past the end. */
AUDITFS_API const char *auditfs_party_name(int i);
AUDITFS_API const char *auditfs_layer_name(int i);
/** The index of an exact party or layer name, -1 if s is not one (no prefixes, no case folding). */
AUDITFS_API int auditfs_party_index(const char *s);
AUDITFS_API int auditfs_layer_index(const char *s);

#ifdef __cplusplus
}
#endif
#endif
