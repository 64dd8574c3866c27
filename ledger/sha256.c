/*
 * ledger/sha256.c - SHA-256 through OpenSSL's low-level API.
 *
 * Measured on the target machines (no SHA-NI): OpenSSL's SHA256_Update runs at about 395 MB/s and
 * 0.84 M leaves/s against libsodium's 221 MB/s and 0.49 M leaves/s; re-initialising an EVP
 * context per leaf loses most of the gain. The low-level API is deprecated in OpenSSL 3 but is
 * the fast path; OPENSSL_API_COMPAT keeps it visible without warnings.
 */
#define OPENSSL_API_COMPAT 0x10101000L
#include "internal.h"

#include <openssl/sha.h>

_Static_assert(sizeof(SHA256_CTX) <= sizeof(afs_sha256_ctx), "afs_sha256_ctx too small");

void
afs_sha256_init(afs_sha256_ctx *c)
{
    SHA256_Init((SHA256_CTX *)c);
}

void
afs_sha256_update(afs_sha256_ctx *c, const void *p, size_t n)
{
    SHA256_Update((SHA256_CTX *)c, p, n);
}

void
afs_sha256_final(afs_sha256_ctx *c, uint8_t out[32])
{
    SHA256_Final(out, (SHA256_CTX *)c);
}

void
afs_sha256(uint8_t out[32], const void *p, size_t n)
{
    afs_sha256_ctx c;
    afs_sha256_init(&c);
    afs_sha256_update(&c, p, n);
    afs_sha256_final(&c, out);
}
