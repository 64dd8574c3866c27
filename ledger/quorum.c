/*
 * ledger/quorum.c - the one witness-quorum rule, shared by `verify`, `sync`, `clone` and the
 * mount (docs/FORMAT.md, section 12.6): the checkpoint of tree size s counts as witnessed when
 * the policy's quorum holds over the witnesses that have a valid cosignature (with max_age >= 0,
 * one at most max_age seconds older than now) on the checkpoint of size s or on a later
 * checkpoint of the same history.
 *
 * Invariants: a stored cosigned note is only ever used if its signed text is byte for byte the
 * checkpoint the ledger committed at that size (and, given a log key, opens with it), so a
 * witness line vouches for exactly a checkpoint of this history; the later checkpoint extends s
 * because both are commits of one first-parent chain whose entries the ledger's own Merkle tree
 * binds (verify checks the chain up to the head); a later checkpoint of the tail kept by a
 * witnessed sync (section 12.6.1; sync verified it before keeping it) counts only with
 * consistency proofs, from the tail's own tiles, that the head and it are both prefixes of the
 * tail's tree. A witness that cosigned size s' vouches for every s <= s' of that history (it
 * checked consistency before cosigning).
 */
#include "cosig_int.h"
#include "store.h"

#include <stdlib.h>

/* 1 if the note's signed text equals text (text_len bytes, the body before the signatures). */
static int
same_body(const char *note, size_t len, const char *text, size_t text_len)
{
    size_t tl, so;
    if (auditfs_note_split(&tl, &so, note, len) != 0)
        return 0;
    return tl == text_len && memcmp(note, text, tl) == 0;
}

static int
has_size(const uint64_t *v, size_t n, uint64_t s)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] == s)
            return 1;
        if (v[mid] < s)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

/*
 * Where the walk starts: l's head, or, for a ledger opened on refs/heads/main whose repository
 * holds AFS_WITNESS_TAIL_REF at a descendant of that head, the tail (the later checkpoints a
 * witnessed sync kept because a counted witness cosigned one of them). The tail is used only if
 * l's head checkpoint is a proven prefix of the tail's tree (a consistency proof from the tail's
 * own tiles, checked against both roots); *tail then holds it, to prove each later checkpoint
 * counted (count_tail). Nothing here fails: a tail that does not qualify is ignored.
 */
static void
walk_start(git_oid *start, auditfs_ledger **tail, auditfs_ledger *l)
{
    git_oid tid;
    int prefix = 0;
    git_oid_cpy(start, &l->head_id);
    *tail = NULL;
    if (l->ref != NULL || git_reference_name_to_id(&tid, l->repo, AFS_WITNESS_TAIL_REF) != 0 ||
        git_graph_descendant_of(l->repo, &tid, &l->head_id) != 1) {
        git_error_clear();
        return;
    }
    if (afs_ledger_open_ref(tail, l->path, AFS_WITNESS_TAIL_REF) != 0 ||
        auditfs_ledger_has_prefix(&prefix, *tail, &l->cp) != 0 || !prefix ||
        !git_oid_equal(&(*tail)->head_id, &tid)) {
        auditfs_ledger_free(*tail);
        *tail = NULL;
        auditfs_error_clear();
        return;
    }
    git_oid_cpy(start, &tid);
}

/* 1 if a checkpoint of the tail beyond l's head may count: its tree is a proven prefix of the
 * tail's, which l's head is a prefix of too, so it extends l's head. */
static int
count_tail(auditfs_ledger *tail, auditfs_ledger *l, const auditfs_checkpoint *ck)
{
    int prefix = 0;
    if (ck->size <= l->cp.size)
        return 1; /* l's own history */
    if (!tail || auditfs_ledger_has_prefix(&prefix, tail, ck) != 0)
        prefix = 0;
    auditfs_error_clear();
    return prefix;
}

/* Per witness: counts it at size s if its lines on note verify and are fresh enough. */
static void
count_note(afs_witnessed *out, const char *note, size_t len, uint64_t s, const auditfs_policy *p,
           int64_t max_age, uint64_t now)
{
    size_t nw = auditfs_policy_witness_count(p);
    for (size_t i = 0; i < nw; i++) {
        uint64_t first = 0, newest = 0;
        if (out->best[i] != 0 ||
            auditfs_cosig_verify(&first, &newest, note, len, auditfs_policy_witness(p, i)) != 0)
            continue;
        if (max_age < 0 || newest > now || now - newest <= (uint64_t)max_age) {
            out->best[i] = s;
            out->when[i] = newest;
        } else if (out->when[i] == 0) {
            out->when[i] = newest; /* the newest line seen, too old to count */
        }
    }
    auditfs_error_clear();
}

/*
 * One pass down the first-parent chain from the start (walk_start), newest first, so sizes
 * descend: each stored size is judged once (at its newest commit); the first size at which the
 * quorum holds is out->size, because a witness counted at a larger size counts at every smaller
 * one. The walk ends below `lowest` or when every witness is counted.
 */
int
afs_quorum_walk(afs_witnessed *out, auditfs_ledger *l, const char *refname,
                const auditfs_verifier *logkey, const auditfs_policy *p, int64_t max_age,
                uint64_t now, uint64_t lowest)
{
    uint64_t *sizes = NULL;
    size_t nsizes = 0;
    int ok[AUDITFS_POLICY_MAX_ITEMS];
    git_oid cur;
    git_commit *c = NULL;
    auditfs_ledger *tail = NULL;
    uint64_t last_size = UINT64_MAX;
    int err;
    if (!out || !l || !refname || !p)
        return afs_error_set(AUDITFS_EINVAL, "afs_quorum_walk: NULL argument");
    memset(out, 0, sizeof *out);
    size_t nw = auditfs_policy_witness_count(p);
    if (auditfs_policy_quorum_none(p)) {
        /* no witness needed: the head itself */
        if (l->cp.size >= lowest) {
            out->size = l->cp.size;
            git_oid_cpy(&out->commit, &l->head_id);
        }
        return 0;
    }
    if ((err = afs_cosig_store_sizes_ref(&sizes, &nsizes, l, refname)) != 0)
        return err;
    if (nsizes == 0 || sizes[nsizes - 1] < lowest)
        goto cleanup;
    walk_start(&cur, &tail, l);
    for (;;) {
        git_tree *tree = NULL;
        char *cp = NULL, *st = NULL;
        size_t cplen = 0, stlen = 0, tl = 0, so = 0;
        auditfs_checkpoint ck;
        if (git_commit_lookup(&c, l->repo, &cur) < 0 || git_commit_tree(&tree, c) < 0) {
            err = afs_error_git(AUDITFS_EIO, "%s: cannot read history", l->path);
            break;
        }
        err = afs_tree_read((uint8_t **)&cp, &cplen, l->repo, tree, "checkpoint");
        git_tree_free(tree);
        if (err)
            break;
        /* the committed checkpoint must open with the log key (when given) and parse;
         * anything else vouches nothing */
        if (auditfs_note_split(&tl, &so, cp, cplen) != 0 ||
            (logkey ? auditfs_checkpoint_open(&ck, cp, cplen, logkey, NULL)
                    : auditfs_checkpoint_parse(&ck, cp, tl)) != 0) {
            auditfs_error_clear();
            free(cp);
            err = afs_error_set(AUDITFS_EVERIFY, "%s: a committed checkpoint does not %s", l->path,
                                logkey ? "open with the log key" : "parse");
            break;
        }
        if (ck.size < lowest) {
            free(cp);
            break;
        }
        if (ck.size != last_size && has_size(sizes, nsizes, ck.size) &&
            afs_cosig_store_get_ref(&st, &stlen, l, refname, ck.size) == 0 &&
            same_body(st, stlen, cp, tl) && count_tail(tail, l, &ck)) {
            count_note(out, st, stlen, ck.size, p, max_age, now);
            size_t have = 0;
            for (size_t i = 0; i < nw; i++)
                have += (ok[i] = out->best[i] != 0);
            if (out->top == 0 && have > 0) {
                out->top = ck.size;
                git_oid_cpy(&out->top_commit, &cur);
            }
            if (out->size == 0 && auditfs_policy_satisfied(p, ok)) {
                out->size = ck.size;
                git_oid_cpy(&out->commit, &cur);
            }
            if (have == nw) {
                free(st);
                free(cp);
                break;
            }
        }
        auditfs_error_clear();
        free(st);
        free(cp);
        last_size = ck.size;
        if (git_commit_parentcount(c) == 0)
            break;
        git_oid_cpy(&cur, git_commit_parent_id(c, 0));
        git_commit_free(c);
        c = NULL;
    }
cleanup:
    git_commit_free(c);
    auditfs_ledger_free(tail);
    free(sizes);
    return err;
}

int
auditfs_witness_quorum_sizes(int *met, uint64_t *when, uint64_t *cosigned, auditfs_ledger *l,
                             uint64_t size, const auditfs_policy *p, int64_t max_age, uint64_t now)
{
    afs_witnessed w;
    int err;
    if (!met || !l || !p)
        return afs_error_set(AUDITFS_EINVAL, "auditfs_witness_quorum: NULL argument");
    *met = 0;
    if (size == UINT64_MAX)
        size = l->cp.size;
    if ((err = afs_quorum_walk(&w, l, AUDITFS_COSIG_REF, NULL, p, max_age, now, size)) != 0)
        return err;
    size_t n = auditfs_policy_witness_count(p);
    for (size_t i = 0; i < n; i++) {
        if (when)
            when[i] = w.when[i];
        if (cosigned)
            cosigned[i] = w.best[i];
    }
    *met = w.size >= size && (w.size != 0 || auditfs_policy_quorum_none(p));
    return 0;
}

int
auditfs_witness_quorum(int *met, uint64_t *when, int *counted, auditfs_ledger *l, uint64_t size,
                       const auditfs_policy *p, int64_t max_age, uint64_t now)
{
    uint64_t cosigned[AUDITFS_POLICY_MAX_ITEMS] = {0};
    int err = auditfs_witness_quorum_sizes(met, when, cosigned, l, size, p, max_age, now);
    if (!err && counted)
        for (size_t i = 0; i < auditfs_policy_witness_count(p); i++)
            counted[i] = cosigned[i] != 0;
    return err;
}
