/*
 * ledger/policy.c - the C2SP tlog-policy parser and quorum evaluation.
 *
 * Untrusted input: at most AUDITFS_POLICY_MAX_BYTES, at most AUDITFS_POLICY_MAX_ITEMS of each
 * kind, names and members bounded; groups only reference earlier definitions, so the member
 * graph is acyclic and evaluation (in definition order) is one pass.
 */
#include "auditfs/policy.h"
#include "auditfs/cosig.h"
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>

#define MAX_ITEMS AUDITFS_POLICY_MAX_ITEMS
#define NAME_MAX_LEN 255
#define KEY_FILE_MAX (1u << 20)

/* A name is a witness (index < MAX_ITEMS) or a group (MAX_ITEMS + index). */
struct group {
    char name[NAME_MAX_LEN + 1];
    size_t k, n;
    int members[MAX_ITEMS * 2];
};

struct auditfs_policy {
    size_t nlogs, nwit, ngroups;
    auditfs_verifier *logs[MAX_ITEMS];
    auditfs_verifier *wit[MAX_ITEMS];
    char wname[MAX_ITEMS][NAME_MAX_LEN + 1];
    char *wurl[MAX_ITEMS];
    struct group *groups[MAX_ITEMS];
    int quorum; /* -1: none; else a name index */
    int have_quorum;
};

void
auditfs_policy_free(auditfs_policy *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nlogs; i++)
        auditfs_verifier_free(p->logs[i]);
    for (size_t i = 0; i < p->nwit; i++) {
        auditfs_verifier_free(p->wit[i]);
        free(p->wurl[i]);
    }
    for (size_t i = 0; i < p->ngroups; i++)
        free(p->groups[i]);
    free(p);
}

/* Index of a defined name, or -1. */
static int
lookup(const auditfs_policy *p, const char *s, size_t n)
{
    for (size_t i = 0; i < p->nwit; i++)
        if (strlen(p->wname[i]) == n && memcmp(p->wname[i], s, n) == 0)
            return (int)i;
    for (size_t i = 0; i < p->ngroups; i++)
        if (strlen(p->groups[i]->name) == n && memcmp(p->groups[i]->name, s, n) == 0)
            return MAX_ITEMS + (int)i;
    return -1;
}

static int
is_ws(char c)
{
    return c == ' ' || c == '\t';
}

/* Splits a line into at most max fields (pointers into the line). */
static size_t
fields(const char **f, size_t *fl, size_t max, const char *s, size_t n, int *too_many)
{
    size_t k = 0, i = 0;
    *too_many = 0;
    while (i < n) {
        while (i < n && is_ws(s[i]))
            i++;
        if (i == n)
            break;
        size_t b = i;
        while (i < n && !is_ws(s[i]))
            i++;
        if (k == max) {
            *too_many = 1;
            break;
        }
        f[k] = s + b;
        fl[k++] = i - b;
    }
    return k;
}

static int
dup_key(auditfs_verifier *const *list, size_t n, const auditfs_verifier *v)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(auditfs_verifier_public_key(list[i]), auditfs_verifier_public_key(v), 32) == 0)
            return 1;
    return 0;
}

/*
 * Longer than a screen because each of the four line kinds has its own checks, all naming the
 * line number; every path frees what it allocated through auditfs_policy_free.
 */
int
auditfs_policy_parse(auditfs_policy **out, const char *text, size_t len)
{
    const char *f[MAX_ITEMS * 2 + 4];
    size_t fl[MAX_ITEMS * 2 + 4];
    auditfs_policy *p;
    size_t line = 0;
    int err = 0;
    if (!out || (!text && len))
        return afs_error_set(AUDITFS_EINVAL, "auditfs_policy_parse: NULL argument");
    *out = NULL;
    if (len > AUDITFS_POLICY_MAX_BYTES)
        return afs_error_set(AUDITFS_ETOOBIG, "policy of %zu bytes exceeds %d", len,
                             AUDITFS_POLICY_MAX_BYTES);
    if ((p = calloc(1, sizeof *p)) == NULL)
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    for (size_t pos = 0; pos < len;) {
        const char *s = text + pos;
        const char *nl = memchr(s, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - s) : len - pos;
        pos += n + (nl ? 1 : 0);
        line++;
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)s[i];
            if ((c < 0x20 && c != '\t') || c == 0x7f) {
                err = afs_error_set(AUDITFS_EFORMAT, "policy line %zu: control character",
                                    line);
                goto fail;
            }
        }
        int too_many;
        size_t k = fields(f, fl, sizeof f / sizeof *f, s, n, &too_many);
        if (too_many) {
            err = afs_error_set(AUDITFS_EFORMAT, "policy line %zu: too many items", line);
            goto fail;
        }
        if (k == 0 || f[0][0] == '#')
            continue;
#define KW(i, w) (fl[i] == sizeof(w) - 1 && memcmp(f[i], w, sizeof(w) - 1) == 0)
        if (KW(0, "log")) {
            auditfs_verifier *v = NULL;
            if (k < 2 || k > 3) {
                err = afs_error_set(AUDITFS_EFORMAT, "policy line %zu: want log <vkey> [<url>]",
                                    line);
                goto fail;
            }
            if (p->nlogs == MAX_ITEMS) {
                err = afs_error_set(AUDITFS_EFORMAT, "policy line %zu: more than %d logs", line,
                                    MAX_ITEMS);
                goto fail;
            }
            if ((err = auditfs_verifier_parse(&v, f[1], fl[1])) != 0) {
                err = afs_error_wrap(err, "policy line %zu", line);
                goto fail;
            }
            if (dup_key(p->logs, p->nlogs, v)) {
                auditfs_verifier_free(v);
                err = afs_error_set(AUDITFS_EFORMAT, "policy line %zu: duplicate log key", line);
                goto fail;
            }
            p->logs[p->nlogs++] = v;
        } else if (KW(0, "witness")) {
            auditfs_verifier *v = NULL;
            if (k < 3 || k > 4 || fl[1] > NAME_MAX_LEN) {
                err = afs_error_set(AUDITFS_EFORMAT,
                                    "policy line %zu: want witness <name> <vkey> [<url>]", line);
                goto fail;
            }
            if (p->nwit == MAX_ITEMS) {
                err = afs_error_set(AUDITFS_EFORMAT, "policy line %zu: more than %d witnesses",
                                    line, MAX_ITEMS);
                goto fail;
            }
            if (KW(1, "none") || lookup(p, f[1], fl[1]) >= 0) {
                err = afs_error_set(AUDITFS_EFORMAT, "policy line %zu: name %.*s is taken", line,
                                    (int)fl[1], f[1]);
                goto fail;
            }
            if ((err = auditfs_cosig_verifier_parse(&v, f[2], fl[2])) != 0) {
                err = afs_error_wrap(err, "policy line %zu", line);
                goto fail;
            }
            if (dup_key(p->wit, p->nwit, v)) {
                auditfs_verifier_free(v);
                err = afs_error_set(AUDITFS_EFORMAT, "policy line %zu: duplicate witness key",
                                    line);
                goto fail;
            }
            memcpy(p->wname[p->nwit], f[1], fl[1]);
            p->wname[p->nwit][fl[1]] = 0;
            if (k == 4 && (p->wurl[p->nwit] = strndup(f[3], fl[3])) == NULL) {
                auditfs_verifier_free(v);
                err = afs_error_set(AUDITFS_ENOMEM, "out of memory");
                goto fail;
            }
            p->wit[p->nwit++] = v;
        } else if (KW(0, "group")) {
            struct group *g;
            if (k < 4 || k - 3 > MAX_ITEMS * 2 || fl[1] > NAME_MAX_LEN) {
                err = afs_error_set(AUDITFS_EFORMAT,
                                    "policy line %zu: want group <name> all|any|<k> <member>...",
                                    line);
                goto fail;
            }
            if (p->ngroups == MAX_ITEMS) {
                err = afs_error_set(AUDITFS_EFORMAT, "policy line %zu: more than %d groups",
                                    line, MAX_ITEMS);
                goto fail;
            }
            if (KW(1, "none") || lookup(p, f[1], fl[1]) >= 0) {
                err = afs_error_set(AUDITFS_EFORMAT, "policy line %zu: name %.*s is taken", line,
                                    (int)fl[1], f[1]);
                goto fail;
            }
            if ((g = calloc(1, sizeof *g)) == NULL) {
                err = afs_error_set(AUDITFS_ENOMEM, "out of memory");
                goto fail;
            }
            p->groups[p->ngroups++] = g;
            memcpy(g->name, f[1], fl[1]);
            g->n = k - 3;
            for (size_t i = 3; i < k; i++) {
                int m = lookup(p, f[i], fl[i]);
                if (m < 0 || m == MAX_ITEMS + (int)p->ngroups - 1) {
                    err = afs_error_set(AUDITFS_EFORMAT,
                                        "policy line %zu: member %.*s is not defined above",
                                        line, (int)(fl[i] > 64 ? 64 : fl[i]), f[i]);
                    goto fail;
                }
                for (size_t j = 0; j < i - 3; j++)
                    if (g->members[j] == m) {
                        err = afs_error_set(AUDITFS_EFORMAT,
                                            "policy line %zu: member %.*s listed twice", line,
                                            (int)(fl[i] > 64 ? 64 : fl[i]), f[i]);
                        goto fail;
                    }
                g->members[i - 3] = m;
            }
            if (KW(2, "all"))
                g->k = g->n;
            else if (KW(2, "any"))
                g->k = 1;
            else {
                uint64_t kk;
                if (!afs_parse_u64(&kk, f[2], fl[2]) || kk < 1 || kk > g->n) {
                    err = afs_error_set(AUDITFS_EFORMAT,
                                        "policy line %zu: threshold must be all, any or 1..%zu",
                                        line, g->n);
                    goto fail;
                }
                g->k = (size_t)kk;
            }
        } else if (KW(0, "quorum")) {
            if (k != 2) {
                err = afs_error_set(AUDITFS_EFORMAT, "policy line %zu: want quorum <name>", line);
                goto fail;
            }
            if (p->have_quorum) {
                err = afs_error_set(AUDITFS_EFORMAT, "policy line %zu: a second quorum line",
                                    line);
                goto fail;
            }
            if (KW(1, "none"))
                p->quorum = -1;
            else if ((p->quorum = lookup(p, f[1], fl[1])) < 0) {
                err = afs_error_set(AUDITFS_EFORMAT,
                                    "policy line %zu: quorum %.*s is not defined above", line,
                                    (int)(fl[1] > 64 ? 64 : fl[1]), f[1]);
                goto fail;
            }
            p->have_quorum = 1;
        } else {
            err = afs_error_set(AUDITFS_EFORMAT, "policy line %zu: unknown keyword %.*s", line,
                                (int)(fl[0] > 32 ? 32 : fl[0]), f[0]);
            goto fail;
        }
#undef KW
    }
    if (!p->have_quorum) {
        err = afs_error_set(AUDITFS_EFORMAT, "policy has no quorum line");
        goto fail;
    }
    *out = p;
    return 0;
fail:
    auditfs_policy_free(p);
    return err;
}

int
auditfs_policy_load(auditfs_policy **out, const char *path)
{
    char *buf = NULL;
    size_t len = 0;
    int err;
    if (!out || !path)
        return afs_error_set(AUDITFS_EINVAL, "auditfs_policy_load: NULL argument");
    if ((err = afs_read_file(&buf, &len, path, AUDITFS_POLICY_MAX_BYTES)) != 0)
        return err;
    err = auditfs_policy_parse(out, buf, len);
    free(buf);
    return err ? afs_error_wrap(err, "%s", path) : 0;
}

int
auditfs_policy_threshold(auditfs_policy **out, auditfs_verifier *const *ws, size_t n, size_t k)
{
    afs_buf b = AFS_BUF_INIT;
    int err = 0;
    if (!out || (!ws && n))
        return afs_error_set(AUDITFS_EINVAL, "auditfs_policy_threshold: NULL argument");
    if (k > n)
        return afs_error_set(AUDITFS_EINVAL, "quorum %zu is more than the %zu witnesses given",
                             k, n);
    for (size_t i = 0; i < n && !err; i++) {
        char *vk = NULL;
        if ((err = auditfs_cosig_verifier_format(&vk, ws[i])) == 0)
            err = afs_buf_printf(&b, "witness w%zu %s\n", i, vk);
        free(vk);
    }
    if (!err && k > 0) {
        err = afs_buf_printf(&b, "group q %zu", k);
        for (size_t i = 0; i < n && !err; i++)
            err = afs_buf_printf(&b, " w%zu", i);
        if (!err)
            err = afs_buf_puts(&b, "\nquorum q\n");
    } else if (!err) {
        err = afs_buf_puts(&b, "quorum none\n");
    }
    if (!err) {
        err = auditfs_policy_parse(out, b.data ? b.data : "", b.len);
        if (err == AUDITFS_EFORMAT)
            err = afs_error_set(AUDITFS_EINVAL, "witness keys: %s", auditfs_error_last());
    }
    if (!err) /* name the witnesses by their key names, as a user would */
        for (size_t i = 0; i < n; i++)
            snprintf((*out)->wname[i], sizeof (*out)->wname[i], "%s",
                     auditfs_verifier_name(ws[i]));
    afs_buf_release(&b);
    return err;
}

size_t
auditfs_policy_log_count(const auditfs_policy *p)
{
    return p ? p->nlogs : 0;
}

const auditfs_verifier *
auditfs_policy_log(const auditfs_policy *p, size_t i)
{
    return p && i < p->nlogs ? p->logs[i] : NULL;
}

size_t
auditfs_policy_witness_count(const auditfs_policy *p)
{
    return p ? p->nwit : 0;
}

const auditfs_verifier *
auditfs_policy_witness(const auditfs_policy *p, size_t i)
{
    return p && i < p->nwit ? p->wit[i] : NULL;
}

const char *
auditfs_policy_witness_name(const auditfs_policy *p, size_t i)
{
    return p && i < p->nwit ? p->wname[i] : NULL;
}

const char *
auditfs_policy_witness_url(const auditfs_policy *p, size_t i)
{
    return p && i < p->nwit ? p->wurl[i] : NULL;
}

int
auditfs_policy_quorum_none(const auditfs_policy *p)
{
    return p && p->quorum < 0;
}

int
auditfs_policy_satisfied(const auditfs_policy *p, const int *cosigned)
{
    int gok[MAX_ITEMS];
    if (!p || !cosigned)
        return 0;
    if (p->quorum < 0)
        return 1;
    /* groups only reference earlier names, so definition order is a topological order */
    for (size_t i = 0; i < p->ngroups; i++) {
        const struct group *g = p->groups[i];
        size_t got = 0;
        for (size_t j = 0; j < g->n; j++) {
            int m = g->members[j];
            got += m < MAX_ITEMS ? (cosigned[m] != 0) : gok[m - MAX_ITEMS];
        }
        gok[i] = got >= g->k;
    }
    return p->quorum < MAX_ITEMS ? cosigned[p->quorum] != 0 : gok[p->quorum - MAX_ITEMS];
}
