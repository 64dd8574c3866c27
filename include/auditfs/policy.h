/*
 * auditfs/policy.h - C2SP tlog-policy: which logs and witnesses a verifier trusts and the quorum
 * of cosignatures a checkpoint needs.
 *
 *   log <vkey> [<url>]
 *   witness <name> <vkey> [<url>]
 *   group <name> all|any|<k> <member>...
 *   quorum <name>|none
 *
 * Items are separated by spaces and tabs; blank lines and lines starting with '#' are ignored;
 * a group or the quorum may only name witnesses and groups defined on earlier lines, each member
 * at most once; exactly one quorum line; no duplicate keys. Witness keys may be 0x01 or 0x04
 * vkeys (auditfs_cosig_verifier_parse). Limits: 64 logs, 64 witnesses, 64 groups, 64 KiB.
 */
#ifndef AUDITFS_POLICY_H
#define AUDITFS_POLICY_H

#include "note.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AUDITFS_POLICY_MAX_BYTES 65536
#define AUDITFS_POLICY_MAX_ITEMS 64

typedef struct auditfs_policy auditfs_policy;

/** Parses a policy; EFORMAT names the line and the problem, EKEY a bad key. */
AUDITFS_API int auditfs_policy_parse(auditfs_policy **out, const char *text,
                                     size_t len) AUDITFS_WUR;
AUDITFS_API int auditfs_policy_load(auditfs_policy **out, const char *path) AUDITFS_WUR;
/**
 * A policy requiring k of the given witness keys (k = 0: none). The witnesses are named by
 * their key names. EINVAL if k > n or a key repeats.
 */
AUDITFS_API int auditfs_policy_threshold(auditfs_policy **out, auditfs_verifier *const *witnesses,
                                         size_t n, size_t k) AUDITFS_WUR;
AUDITFS_API void auditfs_policy_free(auditfs_policy *p);

AUDITFS_API size_t auditfs_policy_log_count(const auditfs_policy *p);
AUDITFS_API const auditfs_verifier *auditfs_policy_log(const auditfs_policy *p, size_t i);
AUDITFS_API size_t auditfs_policy_witness_count(const auditfs_policy *p);
AUDITFS_API const auditfs_verifier *auditfs_policy_witness(const auditfs_policy *p, size_t i);
/** The witness's name in the policy (not its key name). */
AUDITFS_API const char *auditfs_policy_witness_name(const auditfs_policy *p, size_t i);
/** The witness's URL, or NULL. */
AUDITFS_API const char *auditfs_policy_witness_url(const auditfs_policy *p, size_t i);
/** 1 if the quorum is "none". */
AUDITFS_API int auditfs_policy_quorum_none(const auditfs_policy *p);
/**
 * 1 if the quorum is met when exactly the witnesses i with cosigned[i] != 0 witnessed the
 * checkpoint (cosigned has auditfs_policy_witness_count entries), else 0.
 */
AUDITFS_API int auditfs_policy_satisfied(const auditfs_policy *p, const int *cosigned);

#ifdef __cplusplus
}
#endif
#endif
