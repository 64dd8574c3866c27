/*
 * auditfs/trust.h - the one check every reading command makes before serving a byte, and the
 * check writers make before signing.
 *
 * auditfs_ledger_trust(): with the ledger open, decide which origin is expected (the caller's,
 * else the origin this ledger directory was bound to, else - first use only - the origin the
 * head claims), take the key (the caller's, which must be pinned for that origin or is pinned
 * now, else the pinned ones; never a key from the repository), verify the head checkpoint's
 * signature and origin and that the head's tiles hash to its root, then check that the head
 * extends every checkpoint this party remembers for the origin (the newest it verified and the
 * newest it signed): the same size must mean the same root, a larger size needs a consistency
 * proof from the tiles (O(log n) tile reads), a smaller size is a rollback. Only then is the
 * remembered checkpoint advanced and the directory bound to the origin.
 *
 * Errors: EKEY when no key is known for the origin (the message names the origin and how to pin
 * one) or the given key is not the pinned one; EVERIFY for a bad signature, wrong origin or bad
 * tiles; EFORK when the head does not extend what this party saw or signed, after writing the
 * evidence directory (auditfs_trust_result.evidence); EINVAL if the state lives inside the ledger.
 */
#ifndef AUDITFS_TRUST_H
#define AUDITFS_TRUST_H

#include "ledger.h"
#include "state.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Do not pin opts->key when the origin has no pinned key (it must then be pinned already). */
#define AUDITFS_TRUST_NO_PIN 1u
/** Check only: leave the remembered checkpoint and the ledger's binding as they are. */
#define AUDITFS_TRUST_NO_ADVANCE 2u

typedef struct auditfs_trust_options {
    const char *origin;          /* the expected origin (--origin), or NULL */
    const auditfs_verifier *key; /* a key given by the user (--key), or NULL: the pinned keys */
    unsigned flags;              /* AUDITFS_TRUST_* */
} auditfs_trust_options;

typedef struct auditfs_trust_result {
    auditfs_checkpoint head;           /* the verified head checkpoint */
    int pinned;                        /* 1: opts->key was pinned for the origin by this call */
    int bound;                         /* 1: the ledger directory was bound by this call */
    int advanced;                      /* 1: the remembered (seen) checkpoint moved to head */
    uint64_t remembered_size;          /* the seen checkpoint's size before; UINT64_MAX: none */
    char evidence[4096];               /* EFORK: the evidence directory written ("" if none) */
} auditfs_trust_result;

/**
 * The check described above, on an open ledger (its current head). st may not be NULL.
 * res is filled on success and, as far as known, on failure.
 */
AUDITFS_API int auditfs_ledger_trust(auditfs_trust_result *res, auditfs_ledger *l,
                                     auditfs_state *st,
                                     const auditfs_trust_options *opts) AUDITFS_WUR;

/**
 * The memory half alone, for a checkpoint the caller has already verified with key: checks that
 * the signed checkpoint `note` (origin taken from it) extends the seen and signed checkpoints
 * remembered for its origin, with consistency proofs computed from l's head tiles (l's head must
 * be the note's tree or a later state of it: every proof is verified against both roots, so a
 * different tree fails). On success, unless AUDITFS_TRUST_NO_ADVANCE, the seen checkpoint moves
 * to note when it is larger. EFORK (evidence written) otherwise. `sync` and `mount --follow`
 * call this for each new head they accept.
 */
AUDITFS_API int auditfs_trust_check(auditfs_trust_result *res, auditfs_state *st,
                                    auditfs_ledger *l, const char *note, size_t len,
                                    unsigned flags) AUDITFS_WUR;

/**
 * The RFC 6962 root of the first `size` entries of the ledger, from the head's tiles (each
 * checked against the tile above it and the head's root): O(log n) tile reads.
 */
AUDITFS_API int auditfs_ledger_root_at(auditfs_hash *out, auditfs_ledger *l,
                                       uint64_t size) AUDITFS_WUR;

/**
 * Opens a ledger read-only whose head is the commit refname points to instead of
 * refs/heads/main (e.g. a side ref a fetch wrote): reads, proofs and auditfs_trust_check work on
 * it as on the head. Writers always use refs/heads/main.
 */
AUDITFS_API int auditfs_ledger_open_ref(auditfs_ledger **out, const char *path,
                                        const char *refname) AUDITFS_WUR;

/** The path a ledger was opened with. */
AUDITFS_API const char *auditfs_ledger_path(const auditfs_ledger *l);

#ifdef __cplusplus
}
#endif
#endif
