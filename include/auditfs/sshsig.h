/*
 * auditfs/sshsig.h - SSH signatures (OpenSSH PROTOCOL.sshsig, Ed25519 only) with the ledger key,
 * as git carries them in a commit's `gpgsig` header, and the OpenSSH public-key forms that stock
 * tools (`git verify-commit` with gpg.format=ssh, `ssh-keygen -Y verify`) need to check them.
 *
 * docs/FORMAT.md section 10 gives the byte layout. Parsers are strict: one armored Ed25519
 * signature of exactly 173 bytes, version 1, hash sha512 or sha256, the expected namespace; any
 * other input is EFORMAT, a signature that does not verify with the given key is EVERIFY.
 */
#ifndef AUDITFS_SSHSIG_H
#define AUDITFS_SSHSIG_H

#include "note.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Namespace git uses for commit and tag signatures. */
#define AUDITFS_SSHSIG_GIT_NAMESPACE "git"
/** Largest armored signature accepted (the Ed25519 one is 297 bytes). */
#define AUDITFS_SSHSIG_MAX_ARMOR 4096

/**
 * Signs msg as an SSHSIG in namespace ns with hash sha512 and returns the armor
 * ("-----BEGIN SSH SIGNATURE-----\n" ... "-----END SSH SIGNATURE-----", malloc'd). With
 * trailing_newline 0 the final "\n" is left off, as a git commit header needs it.
 */
AUDITFS_API int auditfs_sshsig_sign(char **out, const auditfs_signer *s, const char *ns,
                                    const void *msg, size_t len,
                                    int trailing_newline) AUDITFS_WUR;

/**
 * Checks an armored SSHSIG over msg: namespace ns, and made by key v's Ed25519 public key
 * (a signature by any other key is EVERIFY, whatever key it names).
 */
AUDITFS_API int auditfs_sshsig_verify(const char *armor, size_t armor_len,
                                      const auditfs_verifier *v, const char *ns, const void *msg,
                                      size_t len) AUDITFS_WUR;

/** "ssh-ed25519 AAAA..." (the OpenSSH public key of v), malloc'd, no newline. */
AUDITFS_API int auditfs_verifier_ssh_public(char **out, const auditfs_verifier *v) AUDITFS_WUR;

/**
 * A line for git's gpg.ssh.allowedSignersFile (and `ssh-keygen -Y verify -f`):
 * `<principal> namespaces="git" ssh-ed25519 AAAA...`, malloc'd, no newline. The principal is
 * the key name with every character outside [A-Za-z0-9._@/-] replaced by '_' (principals are
 * OpenSSH patterns, so '*', '?', ',' and '!' must not reach them).
 */
AUDITFS_API int auditfs_verifier_allowed_signer(char **out, const auditfs_verifier *v) AUDITFS_WUR;

#ifdef __cplusplus
}
#endif
#endif
