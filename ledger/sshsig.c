/*
 * ledger/sshsig.c - SSH signatures (PROTOCOL.sshsig) with the ledger's Ed25519 key, and the
 * signed git commits built on them (docs/FORMAT.md section 10).
 *
 * What Ed25519 signs (pure Ed25519, not Ed25519ph) is the 95-byte "signed data":
 *   "SSHSIG" || string(namespace) || string("") || string("sha512") || string(SHA-512(msg))
 * and the blob inside the armor is
 *   "SSHSIG" || uint32(1) || string(pubkey blob) || string(namespace) || string("")
 *            || string(hash alg) || string(string("ssh-ed25519") || string(64-byte sig))
 * where string(x) is a big-endian uint32 length followed by x. For Ed25519 the blob is exactly
 * 173 bytes (with "sha512"; 173 with "sha256" too, the names have the same length), so the
 * parser reads fixed offsets after checking every length field: nothing in the input decides
 * how much is read.
 */
#include "commitsig.h"
#include "internal.h"

#include "auditfs/sshsig.h"

#include <sodium.h>
#include <stdlib.h>

#define ARMOR_BEGIN "-----BEGIN SSH SIGNATURE-----"
#define ARMOR_END "-----END SSH SIGNATURE-----"
#define KEYTYPE "ssh-ed25519"
#define PUBBLOB_LEN (4 + 11 + 4 + 32)     /* 51 */
#define SIGBLOB_LEN (4 + 11 + 4 + 64)     /* 83 */
#define BLOB_LEN(nslen) (6 + 4 + 4 + PUBBLOB_LEN + 4 + (nslen) + 4 + 4 + 6 + 4 + SIGBLOB_LEN)
#define NS_MAX 64

static uint8_t *
put_string(uint8_t *p, const void *s, size_t n)
{
    afs_store_be32(p, (uint32_t)n);
    memcpy(p + 4, s, n);
    return p + 4 + n;
}

static void
pub_blob(uint8_t out[PUBBLOB_LEN], const uint8_t pk[32])
{
    uint8_t *p = put_string(out, KEYTYPE, 11);
    put_string(p, pk, 32);
}

/* The bytes Ed25519 signs; returns their length. out needs 6+4+ns+4+4+6+4+64 bytes. */
static size_t
signed_data(uint8_t *out, const char *ns, const char *alg, const void *msg, size_t len)
{
    uint8_t h[crypto_hash_sha512_BYTES];
    size_t hlen;
    if (strcmp(alg, "sha512") == 0) {
        crypto_hash_sha512(h, msg, len);
        hlen = crypto_hash_sha512_BYTES;
    } else {
        crypto_hash_sha256(h, msg, len);
        hlen = crypto_hash_sha256_BYTES;
    }
    uint8_t *p = out;
    memcpy(p, "SSHSIG", 6);
    p = put_string(p + 6, ns, strlen(ns));
    p = put_string(p, "", 0);
    p = put_string(p, alg, 6);
    p = put_string(p, h, hlen);
    return (size_t)(p - out);
}

static int
check_ns(const char *ns)
{
    if (!ns || !ns[0] || strlen(ns) > NS_MAX)
        return afs_error_set(AUDITFS_EINVAL, "SSH signature namespace must be 1-%d bytes", NS_MAX);
    return 0;
}

int
auditfs_sshsig_sign(char **out, const auditfs_signer *s, const char *ns, const void *msg,
                    size_t len, int trailing_newline)
{
    uint8_t sd[6 + 4 + NS_MAX + 4 + 4 + 6 + 4 + 64];
    uint8_t blob[BLOB_LEN(NS_MAX)], sig[64], pub[PUBBLOB_LEN], sigblob[SIGBLOB_LEN];
    char b64[AFS_B64_LEN(sizeof blob) + 1];
    afs_buf b = AFS_BUF_INIT;
    auditfs_verifier *v = NULL;
    int err;

    *out = NULL;
    if ((err = check_ns(ns)) != 0)
        return err;
    if ((err = auditfs_signer_verifier(&v, s)) != 0)
        return err;
    size_t sdlen = signed_data(sd, ns, "sha512", msg, len);
    if ((err = auditfs_signer_sign(sig, s, sd, sdlen)) != 0)
        goto cleanup;
    pub_blob(pub, auditfs_verifier_public_key(v));
    put_string(put_string(sigblob, KEYTYPE, 11), sig, 64);
    uint8_t *p = blob;
    memcpy(p, "SSHSIG", 6);
    afs_store_be32(p + 6, 1);
    p = put_string(p + 10, pub, sizeof pub);
    p = put_string(p, ns, strlen(ns));
    p = put_string(p, "", 0);
    p = put_string(p, "sha512", 6);
    p = put_string(p, sigblob, sizeof sigblob);
    size_t n = afs_b64_encode(b64, blob, (size_t)(p - blob));
    /* ssh-keygen wraps the base64 at 70 columns (sshbuf_dtob64); so do we, byte for byte */
    if ((err = afs_buf_puts(&b, ARMOR_BEGIN "\n")) != 0)
        goto cleanup;
    for (size_t i = 0; i < n && !err; i += 70)
        if ((err = afs_buf_put(&b, b64 + i, n - i < 70 ? n - i : 70)) == 0)
            err = afs_buf_puts(&b, "\n");
    if (!err)
        err = afs_buf_puts(&b, trailing_newline ? ARMOR_END "\n" : ARMOR_END);
    if (!err)
        *out = afs_buf_detach(&b, NULL);
cleanup:
    afs_buf_release(&b);
    auditfs_verifier_free(v);
    sodium_memzero(sig, sizeof sig);
    return err;
}

/*
 * Strips the armor: the begin line, base64 lines (LF or CRLF, any width up to 76), the end
 * line, optionally one final newline. Decodes into blob (cap bytes); returns its length or a
 * negative error.
 */
static long
dearmor(uint8_t *blob, size_t cap, const char *a, size_t n)
{
    char b64[AUDITFS_SSHSIG_MAX_ARMOR];
    size_t bl = 0, i = 0, bl_len = strlen(ARMOR_BEGIN), el_len = strlen(ARMOR_END);
    if (n > AUDITFS_SSHSIG_MAX_ARMOR)
        return afs_error_set(AUDITFS_EFORMAT, "SSH signature: longer than %d bytes",
                             AUDITFS_SSHSIG_MAX_ARMOR);
    if (n < bl_len || memcmp(a, ARMOR_BEGIN, bl_len) != 0)
        return afs_error_set(AUDITFS_EFORMAT, "SSH signature: does not start with %s",
                             ARMOR_BEGIN);
    i = bl_len;
    for (int line = 2;; line++) {
        if (i < n && a[i] == '\r')
            i++;
        if (i >= n || a[i] != '\n')
            return afs_error_set(AUDITFS_EFORMAT, "SSH signature: line %d: expected a newline",
                                 line - 1);
        i++;
        if (n - i >= el_len && memcmp(a + i, ARMOR_END, el_len) == 0) {
            i += el_len;
            if (i < n && a[i] == '\r')
                i++;
            if (i < n && a[i] == '\n')
                i++;
            if (i != n)
                return afs_error_set(AUDITFS_EFORMAT, "SSH signature: data after %s", ARMOR_END);
            break;
        }
        size_t start = i;
        while (i < n && a[i] != '\n' && a[i] != '\r') {
            char c = a[i];
            if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '+' || c == '/' || c == '='))
                return afs_error_set(AUDITFS_EFORMAT,
                                     "SSH signature: line %d: byte %zu is not base64", line,
                                     i - start + 1);
            i++;
        }
        if (i == start || i - start > 76)
            return afs_error_set(AUDITFS_EFORMAT, "SSH signature: line %d: %zu base64 characters",
                                 line, i - start);
        memcpy(b64 + bl, a + start, i - start);
        bl += i - start;
    }
    long got = afs_b64_decode(blob, cap, b64, bl);
    if (got < 0)
        return afs_error_set(AUDITFS_EFORMAT, "SSH signature: the base64 is not canonical or "
                                              "longer than an Ed25519 signature");
    return got;
}

/* Reads string(expect) at *p (bounded by end); 0 if it matches exactly. */
static int
expect_string(const uint8_t **p, const uint8_t *end, const void *expect, size_t n)
{
    if ((size_t)(end - *p) < 4 + n || afs_load_be32(*p) != n || memcmp(*p + 4, expect, n) != 0)
        return -1;
    *p += 4 + n;
    return 0;
}

int
auditfs_sshsig_verify(const char *armor, size_t armor_len, const auditfs_verifier *v,
                      const char *ns, const void *msg, size_t len)
{
    uint8_t blob[BLOB_LEN(NS_MAX) + 4];
    uint8_t pub[PUBBLOB_LEN], sd[6 + 4 + NS_MAX + 4 + 4 + 6 + 4 + 64];
    int err;
    if ((err = check_ns(ns)) != 0)
        return err;
    long n = dearmor(blob, sizeof blob, armor, armor_len);
    if (n < 0)
        return (int)n;
    const uint8_t *p = blob, *end = blob + n;
    const char *alg = NULL;
    if (n < 10 || memcmp(p, "SSHSIG", 6) != 0)
        return afs_error_set(AUDITFS_EFORMAT, "SSH signature: no SSHSIG magic");
    if (afs_load_be32(p + 6) != 1)
        return afs_error_set(AUDITFS_EFORMAT, "SSH signature: version %u, only 1 is known",
                             afs_load_be32(p + 6));
    p += 10;
    /* the public key must be an Ed25519 key; which one is checked below, against v */
    if ((size_t)(end - p) < 4 + PUBBLOB_LEN || afs_load_be32(p) != PUBBLOB_LEN ||
        afs_load_be32(p + 4) != 11 || memcmp(p + 8, KEYTYPE, 11) != 0 ||
        afs_load_be32(p + 19) != 32)
        return afs_error_set(AUDITFS_EFORMAT, "SSH signature: the key is not an %s key", KEYTYPE);
    memcpy(pub, p + 4, PUBBLOB_LEN);
    p += 4 + PUBBLOB_LEN;
    if (expect_string(&p, end, ns, strlen(ns)) != 0)
        return afs_error_set(AUDITFS_EVERIFY, "SSH signature: the namespace is not \"%s\"", ns);
    if (expect_string(&p, end, "", 0) != 0)
        return afs_error_set(AUDITFS_EFORMAT, "SSH signature: the reserved field is not empty");
    if (expect_string(&p, end, "sha512", 6) == 0)
        alg = "sha512";
    else if (expect_string(&p, end, "sha256", 6) == 0)
        alg = "sha256";
    else
        return afs_error_set(AUDITFS_EFORMAT, "SSH signature: hash is not sha512 or sha256");
    if ((size_t)(end - p) != 4 + SIGBLOB_LEN || afs_load_be32(p) != SIGBLOB_LEN ||
        afs_load_be32(p + 4) != 11 || memcmp(p + 8, KEYTYPE, 11) != 0 ||
        afs_load_be32(p + 19) != 64)
        return afs_error_set(AUDITFS_EFORMAT, "SSH signature: not one %s signature of 64 bytes "
                                              "ending the blob",
                             KEYTYPE);
    const uint8_t *sig = p + 23;
    /* the named key must be the trusted one: never trust a key found in the data */
    if (sodium_memcmp(pub + 4 + 11 + 4, auditfs_verifier_public_key(v), 32) != 0)
        return afs_error_set(AUDITFS_EVERIFY, "SSH signature: made by another key than %s",
                             auditfs_verifier_name(v));
    size_t sdlen = signed_data(sd, ns, alg, msg, len);
    if (crypto_sign_verify_detached(sig, sd, sdlen, auditfs_verifier_public_key(v)) != 0)
        return afs_error_set(AUDITFS_EVERIFY, "SSH signature: does not verify with %s",
                             auditfs_verifier_name(v));
    return 0;
}

int
auditfs_verifier_ssh_public(char **out, const auditfs_verifier *v)
{
    uint8_t pub[PUBBLOB_LEN];
    char b64[AFS_B64_LEN(PUBBLOB_LEN) + 1];
    pub_blob(pub, auditfs_verifier_public_key(v));
    afs_b64_encode(b64, pub, sizeof pub);
    afs_buf b = AFS_BUF_INIT;
    int err = afs_buf_printf(&b, "%s %s", KEYTYPE, b64);
    if (err) {
        afs_buf_release(&b);
        return err;
    }
    *out = afs_buf_detach(&b, NULL);
    return 0;
}

int
auditfs_verifier_allowed_signer(char **out, const auditfs_verifier *v)
{
    char principal[AUDITFS_NAME_MAX + 1];
    char *pk = NULL;
    const char *name = auditfs_verifier_name(v);
    size_t i = 0;
    for (; name[i] && i < AUDITFS_NAME_MAX; i++) {
        char c = name[i];
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == '@' || c == '/' || c == '-';
        principal[i] = ok ? c : '_';
    }
    principal[i] = 0;
    int err = auditfs_verifier_ssh_public(&pk, v);
    if (err)
        return err;
    afs_buf b = AFS_BUF_INIT;
    err = afs_buf_printf(&b, "%s namespaces=\"%s\" %s", principal, AUDITFS_SSHSIG_GIT_NAMESPACE,
                         pk);
    free(pk);
    if (err) {
        afs_buf_release(&b);
        return err;
    }
    *out = afs_buf_detach(&b, NULL);
    return 0;
}

/* ---- signed commits ---- */

int
afs_commit_create_signed(git_oid *out, git_repository *repo, const git_signature *who,
                         const char *message, const git_tree *tree, size_t nparents,
                         const git_commit *parents[], const auditfs_signer *key)
{
    git_buf payload = GIT_BUF_INIT;
    char *sig = NULL;
    int err;
    if (git_commit_create_buffer(&payload, repo, who, who, NULL, message, tree, nparents,
                                 parents) < 0)
        return afs_error_git(AUDITFS_EIO, "cannot format the commit");
    /* no final newline: libgit2 would turn it into an extra " \n" line that git never writes */
    if ((err = auditfs_sshsig_sign(&sig, key, AUDITFS_SSHSIG_GIT_NAMESPACE, payload.ptr,
                                   payload.size, 0)) != 0)
        goto cleanup;
    if (git_commit_create_with_signature(out, repo, payload.ptr, sig, NULL) < 0)
        err = afs_error_git(AUDITFS_EIO, "cannot write the signed commit");
cleanup:
    git_buf_dispose(&payload);
    free(sig);
    return err;
}

int
afs_commit_check_signature(int *is_signed, git_repository *repo, const git_oid *id,
                           const auditfs_verifier *key)
{
    git_buf sig = GIT_BUF_INIT, data = GIT_BUF_INIT;
    int err = 0;
    *is_signed = 0;
    int rc = git_commit_extract_signature(&sig, &data, repo, (git_oid *)id, NULL);
    if (rc == GIT_ENOTFOUND) {
        git_error_clear();
        return 0;
    }
    if (rc < 0)
        return afs_error_git(AUDITFS_EVERIFY, "unreadable commit signature");
    *is_signed = 1;
    if ((err = auditfs_sshsig_verify(sig.ptr, sig.size, key, AUDITFS_SSHSIG_GIT_NAMESPACE,
                                     data.ptr, data.size)) != 0)
        err = afs_error_wrap(AUDITFS_EVERIFY, "gpgsig");
    git_buf_dispose(&sig);
    git_buf_dispose(&data);
    return err;
}
