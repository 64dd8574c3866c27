/*
 * ledger/matrix.c - the responsibility matrix: parsing (exact names only) and evaluation.
 */
#include "auditfs/matrix.h"
#include "json.h"
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>

struct auditfs_matrix {
    size_t ntypes;
    char type[AUDITFS_MATRIX_MAX_TYPES][AUDITFS_MATRIX_TYPE_MAX + 1];
    /* index into resp_names, -1 unset */
    int resp[AUDITFS_MATRIX_MAX_TYPES][AUDITFS_LAYER_COUNT];
    size_t ntenants;
    char tenant[AUDITFS_MATRIX_MAX_TENANTS][AUDITFS_STREAM_MAX + 1];
    char tenant_type[AUDITFS_MATRIX_MAX_TENANTS][AUDITFS_MATRIX_TYPE_MAX + 1];
};

/* the parties plus "shared" */
#define RESP_SHARED AUDITFS_PARTY_COUNT

static const char default_matrix[] =
    "{\"format\":\"auditfs-responsibility/1\",\"source\":\"shared responsibility model 2.0 "
    "(default)\",\"service_types\":{\"IaaS\":{\"facility\":\"provider\",\"hardware\":"
    "\"provider\",\"virtualization\":\"provider\",\"platform\":\"customer\",\"application\":"
    "\"customer\",\"data\":\"customer\"},\"PaaS\":{\"facility\":\"provider\",\"hardware\":"
    "\"provider\",\"virtualization\":\"provider\",\"platform\":\"shared\",\"application\":"
    "\"customer\",\"data\":\"customer\"},\"SaaS\":{\"facility\":\"provider\",\"hardware\":"
    "\"provider\",\"virtualization\":\"provider\",\"platform\":\"provider\",\"application\":"
    "\"shared\",\"data\":\"customer\"}},\"tenants\":{}}\n";

const char *
auditfs_matrix_default(void)
{
    return default_matrix;
}

static const char *
resp_name(int i)
{
    return i == RESP_SHARED ? "shared" : auditfs_party_name(i);
}

typedef struct mctx {
    auditfs_matrix *m;
    int err;      /* first error, with its message set */
    size_t cur;   /* the service type being read */
} mctx;

static int
m_fail(mctx *c, int code, const char *fmt, const char *a, size_t al, const char *b, size_t bl)
{
    if (!c->err)
        c->err = afs_error_set(code, fmt, (int)(al > 64 ? 64 : al), a, (int)(bl > 64 ? 64 : bl),
                               b);
    return c->err;
}

static int
m_layer(void *vctx, const char *k, size_t kl, const char *v, size_t vl, int kind)
{
    mctx *c = vctx;
    const char *tn = c->m->type[c->cur];
    char name[32];
    int li = -1, ri = -1;
    if (kl < sizeof name) {
        memcpy(name, k, kl);
        name[kl] = 0;
        li = strlen(name) == kl ? auditfs_layer_index(name) : -1;
    }
    if (li < 0)
        return m_fail(c, AUDITFS_EFORMAT, "service_types.%.*s: '%.*s' is not a layer", tn,
                      strlen(tn), k, kl);
    if (kind == AFS_JSON_STRING && vl < sizeof name) {
        memcpy(name, v, vl);
        name[vl] = 0;
        /* an assessor examines, it is never the party responsible for a layer */
        if (strlen(name) == vl && strcmp(name, "assessor"))
            ri = !strcmp(name, "shared") ? RESP_SHARED : auditfs_party_index(name);
    }
    if (ri < 0)
        return m_fail(c, AUDITFS_EFORMAT,
                      "service_types.%.*s: '%.*s' is not provider, customer, security-vendor "
                      "or shared", tn, strlen(tn), v, kind == AFS_JSON_STRING ? vl : 0);
    if (c->m->resp[c->cur][li] >= 0)
        return m_fail(c, AUDITFS_EFORMAT, "service_types.%.*s: layer '%.*s' twice", tn,
                      strlen(tn), k, kl);
    c->m->resp[c->cur][li] = ri;
    return 0;
}

static int
m_type(void *vctx, const char *k, size_t kl, const char *v, size_t vl, int kind)
{
    mctx *c = vctx;
    auditfs_matrix *m = c->m;
    if (m->ntypes >= AUDITFS_MATRIX_MAX_TYPES)
        return m_fail(c, AUDITFS_ETOOBIG, "service_types: more than 8 (at '%.*s')%.*s", k, kl,
                      "", 0);
    if (kind != AFS_JSON_CONTAINER || kl == 0 || kl > AUDITFS_MATRIX_TYPE_MAX ||
        memchr(k, 0, kl))
        return m_fail(c, AUDITFS_EFORMAT,
                      "service_types: '%.*s' must name an object of layers (name 1-15 bytes)%.*s",
                      k, kl, "", 0);
    for (size_t i = 0; i < m->ntypes; i++)
        if (strlen(m->type[i]) == kl && !memcmp(m->type[i], k, kl))
            return m_fail(c, AUDITFS_EFORMAT, "service_types: '%.*s' twice%.*s", k, kl, "", 0);
    c->cur = m->ntypes++;
    memcpy(m->type[c->cur], k, kl);
    m->type[c->cur][kl] = 0;
    for (int i = 0; i < AUDITFS_LAYER_COUNT; i++)
        m->resp[c->cur][i] = -1;
    if (afs_json_members((const uint8_t *)v, vl, m_layer, c) != 1 && !c->err)
        return m_fail(c, AUDITFS_EFORMAT, "service_types.%.*s: not a JSON object%.*s", k, kl,
                      "", 0);
    for (int i = 0; i < AUDITFS_LAYER_COUNT && !c->err; i++)
        if (m->resp[c->cur][i] < 0) {
            const char *ln = auditfs_layer_name(i);
            return m_fail(c, AUDITFS_EFORMAT, "service_types.%.*s: no party for layer '%.*s'",
                          k, kl, ln, strlen(ln));
        }
    return 0;
}

static int
m_tenant(void *vctx, const char *k, size_t kl, const char *v, size_t vl, int kind)
{
    mctx *c = vctx;
    auditfs_matrix *m = c->m;
    if (m->ntenants >= AUDITFS_MATRIX_MAX_TENANTS)
        return m_fail(c, AUDITFS_ETOOBIG, "tenants: more than 64 (at '%.*s')%.*s", k, kl, "",
                      0);
    char name[AUDITFS_STREAM_MAX + 1];
    if (kl == 0 || kl > AUDITFS_STREAM_MAX || memchr(k, 0, kl))
        return m_fail(c, AUDITFS_EFORMAT, "tenants: '%.*s' is not a tenant name%.*s", k, kl, "",
                      0);
    memcpy(name, k, kl);
    name[kl] = 0;
    if (!auditfs_valid_stream(name))
        return m_fail(c, AUDITFS_EFORMAT, "tenants: '%.*s' is not a tenant name%.*s", k, kl, "",
                      0);
    if (kind != AFS_JSON_STRING || vl == 0 || vl > AUDITFS_MATRIX_TYPE_MAX || memchr(v, 0, vl))
        return m_fail(c, AUDITFS_EFORMAT, "tenants.%.*s: '%.*s' is not a service type name", k,
                      kl, v, kind == AFS_JSON_STRING ? vl : 0);
    for (size_t i = 0; i < m->ntenants; i++)
        if (!strcmp(m->tenant[i], name))
            return m_fail(c, AUDITFS_EFORMAT, "tenants: '%.*s' twice%.*s", k, kl, "", 0);
    size_t i = m->ntenants++;
    memcpy(m->tenant[i], name, kl + 1);
    memcpy(m->tenant_type[i], v, vl);
    m->tenant_type[i][vl] = 0;
    return 0;
}

static int
m_top(void *vctx, const char *k, size_t kl, const char *v, size_t vl, int kind)
{
    mctx *c = vctx;
    if (kl == 6 && !memcmp(k, "format", 6)) {
        if (kind != AFS_JSON_STRING || vl != 24 || memcmp(v, "auditfs-responsibility/1", 24))
            return m_fail(c, AUDITFS_EFORMAT, "format: '%.*s' is not auditfs-responsibility/1%.*s",
                          v, kind == AFS_JSON_STRING ? vl : 0, "", 0);
    } else if (kl == 13 && !memcmp(k, "service_types", 13)) {
        if (kind != AFS_JSON_CONTAINER ||
            (afs_json_members((const uint8_t *)v, vl, m_type, c) != 1 && !c->err))
            return m_fail(c, AUDITFS_EFORMAT, "service_types: not a JSON object%.*s%.*s", "", 0,
                          "", 0);
    } else if (kl == 7 && !memcmp(k, "tenants", 7)) {
        if (kind != AFS_JSON_CONTAINER ||
            (afs_json_members((const uint8_t *)v, vl, m_tenant, c) != 1 && !c->err))
            return m_fail(c, AUDITFS_EFORMAT, "tenants: not a JSON object%.*s%.*s", "", 0, "", 0);
    }
    /* other members ("source", comments) are ignored */
    return c->err;
}

int
auditfs_matrix_parse(auditfs_matrix **out, const uint8_t *p, size_t n)
{
    *out = NULL;
    if (n > AUDITFS_MATRIX_MAX_BYTES)
        return afs_error_set(AUDITFS_ETOOBIG, "responsibility matrix: %zu bytes (at most %u)", n,
                             AUDITFS_MATRIX_MAX_BYTES);
    auditfs_matrix *m = calloc(1, sizeof *m);
    if (!m)
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    mctx c = {m, 0, 0};
    int r = afs_json_members(p, n, m_top, &c);
    int err = c.err;
    if (!err && r != 1)
        err = afs_error_set(AUDITFS_EFORMAT, "responsibility matrix: not a JSON object");
    if (!err && m->ntypes == 0)
        err = afs_error_set(AUDITFS_EFORMAT, "responsibility matrix: no service_types");
    if (err) {
        free(m);
        return afs_error_wrap(err, "responsibility matrix");
    }
    *out = m;
    return 0;
}

void
auditfs_matrix_free(auditfs_matrix *m)
{
    free(m);
}

const char *
auditfs_matrix_service_type(const auditfs_matrix *m, const char *tenant)
{
    for (size_t i = 0; m && tenant && i < m->ntenants; i++)
        if (!strcmp(m->tenant[i], tenant))
            return m->tenant_type[i];
    return NULL;
}

const char *
auditfs_matrix_responsible(const auditfs_matrix *m, const char *stype, const char *layer)
{
    int li = layer ? auditfs_layer_index(layer) : -1;
    if (!m || !stype || li < 0)
        return NULL;
    for (size_t t = 0; t < m->ntypes; t++)
        if (!strcmp(m->type[t], stype))
            return resp_name(m->resp[t][li]);
    return NULL;
}

auditfs_matrix_verdict
auditfs_matrix_evaluate(const auditfs_matrix *m, const char *tenant, const char *party,
                        const char *layer, const char **stype, const char **resp)
{
    const char *st = tenant && tenant[0] ? auditfs_matrix_service_type(m, tenant) : NULL;
    const char *rp = layer && layer[0] ? auditfs_matrix_responsible(m, st, layer) : NULL;
    if (stype)
        *stype = st;
    if (resp)
        *resp = rp;
    if (!party || !party[0] || !layer || !layer[0])
        return AUDITFS_MATRIX_NO_HEADERS;
    if (!st)
        return AUDITFS_MATRIX_NO_TYPE;
    if (!rp)
        return AUDITFS_MATRIX_NO_LAYER;
    if (!strcmp(rp, "shared") || !strcmp(rp, party))
        return AUDITFS_MATRIX_OK;
    return AUDITFS_MATRIX_MISMATCH;
}
