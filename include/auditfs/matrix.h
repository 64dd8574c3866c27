/*
 * auditfs/matrix.h - the responsibility matrix (docs/RESPONSIBILITY.md): which party is
 * responsible for each layer of each service type, and each tenant's service type.
 *
 * The document is JSON, format "auditfs-responsibility/1":
 *   {"format":"auditfs-responsibility/1", "source":"...",
 *    "service_types":{"IaaS":{"facility":"provider", ... all six layers ...}, ...},
 *    "tenants":{"acme":"IaaS", ...}}
 * Layer names and responsible parties are exact names (provider, customer, security-vendor, or
 * "shared" for a layer both sides answer for); a prefix such as "c" is not "customer".
 */
#ifndef AUDITFS_MATRIX_H
#define AUDITFS_MATRIX_H

#include "entry.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct auditfs_matrix auditfs_matrix;

/** Limits of a matrix document. */
#define AUDITFS_MATRIX_MAX_BYTES (1u << 20)
#define AUDITFS_MATRIX_MAX_TYPES 8
#define AUDITFS_MATRIX_MAX_TENANTS 64
#define AUDITFS_MATRIX_TYPE_MAX 15

/** The document name a ledger publishes its matrix under. */
#define AUDITFS_MATRIX_DOC "matrix/responsibility"

/**
 * Parses a matrix document. EFORMAT names what is wrong ("service_types.IaaS.data: 'c' is not
 * provider, customer, security-vendor, assessor or shared"); ETOOBIG beyond the limits above.
 */
AUDITFS_API int auditfs_matrix_parse(auditfs_matrix **out, const uint8_t *p,
                                     size_t n) AUDITFS_WUR;
AUDITFS_API void auditfs_matrix_free(auditfs_matrix *m);

/** The service type of tenant ("IaaS"), NULL if the matrix does not name the tenant. */
AUDITFS_API const char *auditfs_matrix_service_type(const auditfs_matrix *m, const char *tenant);
/**
 * The party responsible for layer under service type stype ("provider", ..., or "shared"),
 * NULL if stype is NULL or not in the matrix, or layer is not a layer.
 */
AUDITFS_API const char *auditfs_matrix_responsible(const auditfs_matrix *m, const char *stype,
                                                   const char *layer);

/** The outcome of comparing an acting party with the responsible one. */
typedef enum auditfs_matrix_verdict {
    AUDITFS_MATRIX_OK = 0,           /* the responsible party acted, or the layer is shared */
    AUDITFS_MATRIX_MISMATCH = 1,     /* another party acted */
    AUDITFS_MATRIX_NO_HEADERS = 2,   /* the entry records no party or no layer */
    AUDITFS_MATRIX_NO_TYPE = 3,      /* the tenant's service type is unknown */
    AUDITFS_MATRIX_NO_LAYER = 4,     /* the service type does not assign the layer */
} auditfs_matrix_verdict;
/** Evaluates party acting on layer for tenant; *resp (may be NULL) gets the responsible party. */
AUDITFS_API auditfs_matrix_verdict auditfs_matrix_evaluate(const auditfs_matrix *m,
                                                           const char *tenant,
                                                           const char *party,
                                                           const char *layer,
                                                           const char **stype,
                                                           const char **resp);

/** The built-in default matrix (the shared responsibility model; NUL-terminated JSON). */
AUDITFS_API const char *auditfs_matrix_default(void);

#ifdef __cplusplus
}
#endif
#endif
