/*
 * tests/unit/test_replica.c - incremental verification (auditfs_ledger_verify_from), which
 * replicas rely on: from every ancestor it accepts exactly what the full verification accepts,
 * across tile boundaries, and it refuses additions a full verification refuses although they
 * only touch the new part (an extra tile, an extra segment before the base, a segment changed).
 */
#include "auditfs/ledger.h"
#include "commitsig.h"

#include <criterion/criterion.h>
#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char dir[64];
static auditfs_signer *key;
static auditfs_verifier *vkey;

static void
setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/auditfs-replica-XXXXXX");
    cr_assert(mkdtemp(dir));
    strcat(dir, "/l");
    cr_assert_eq(auditfs_signer_generate(&key, "replica.test"), 0);
    cr_assert_eq(auditfs_signer_verifier(&vkey, key), 0);
    cr_assert_eq(auditfs_ledger_init(dir, key, NULL), 0, "%s", auditfs_error_last());
}

static void
teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %.*s", (int)(strlen(dir) - 2), dir);
    cr_assert_eq(system(cmd), 0);
    auditfs_signer_free(key);
    auditfs_verifier_free(vkey);
}

static void
append(unsigned n)
{
    auditfs_writer *w;
    uint64_t size;
    cr_assert_eq(auditfs_writer_open(&w, dir, key, NULL), 0, "%s", auditfs_error_last());
    for (unsigned i = 0; i < n; i++) {
        auditfs_entry e;
        char p[64];
        memset(&e, 0, sizeof e);
        strcpy(e.type, "log");
        strcpy(e.stream, "api");
        int len = snprintf(p, sizeof p, "{\"i\":%u}", i);
        e.payload = (const uint8_t *)p;
        e.payload_len = (size_t)len;
        cr_assert_eq(auditfs_writer_add(w, &e, NULL, 0, NULL), 0, "%s", auditfs_error_last());
    }
    cr_assert_eq(auditfs_writer_commit(w, &size), 0, "%s", auditfs_error_last());
    auditfs_writer_free(w);
}

/* commit ids, newest first */
static size_t
commits(char ids[][41], size_t cap)
{
    char cmd[128];
    size_t n = 0;
    snprintf(cmd, sizeof cmd, "git -C %s rev-list refs/heads/main", dir);
    FILE *f = popen(cmd, "r");
    cr_assert(f);
    while (n < cap && fscanf(f, "%40s", ids[n]) == 1)
        n++;
    pclose(f);
    return n;
}

TestSuite(replica, .init = setup, .fini = teardown);

Test(replica, from_every_ancestor)
{
    static const unsigned batches[] = {255, 1, 300, 256, 188, 65536 - 1000 + 7, 3};
    for (size_t i = 0; i < sizeof batches / sizeof *batches; i++)
        append(batches[i]);
    char ids[16][41];
    size_t n = commits(ids, 16);
    cr_assert_eq(n, 8);
    auditfs_ledger *l;
    cr_assert_eq(auditfs_ledger_open(&l, dir), 0);
    auditfs_verify_report full, r;
    cr_assert_eq(auditfs_ledger_verify(&full, l, vkey, NULL, 0), 0, "%s", full.reason);
    cr_assert_eq(full.signed_commits, 8);
    for (size_t k = 0; k < n; k++) {
        cr_assert_eq(auditfs_ledger_verify_from(&r, l, vkey, ids[k]), 0, "from %s: %s", ids[k],
                     r.reason);
        cr_assert_eq(r.entries, full.entries);
        cr_assert_eq(r.commits, k, "from the commit %zu back, %llu new commits", k,
                     (unsigned long long)r.commits);
        cr_assert(auditfs_hash_equal(&r.head.root, &full.head.root));
    }
    cr_assert_eq(auditfs_ledger_verify_from(&r, l, vkey, NULL), 0);
    cr_assert_eq(r.commits, 8);
    cr_assert_eq(auditfs_ledger_verify_from(&r, l, vkey, "xyz"), AUDITFS_EINVAL);
    cr_assert_eq(auditfs_ledger_verify_from(&r, l, vkey, "0123456789012345678901234567890123456789"),
                 AUDITFS_EVERIFY);
    auditfs_ledger_free(l);
}

/* A new signed commit whose tree is the head's tree with one blob added at path. */
static void
commit_with_extra(const char *path, int remove_instead)
{
    git_repository *repo;
    git_oid head, blob, tree_id, id;
    git_commit *hc;
    git_tree *ht, *nt;
    git_signature *sig;
    cr_assert_eq(git_libgit2_init() > 0, 1);
    cr_assert_eq(git_repository_open(&repo, dir), 0);
    cr_assert_eq(git_reference_name_to_id(&head, repo, "refs/heads/main"), 0);
    cr_assert_eq(git_commit_lookup(&hc, repo, &head), 0);
    cr_assert_eq(git_commit_tree(&ht, hc), 0);
    cr_assert_eq(git_blob_create_from_buffer(&blob, repo, "extra", 5), 0);
    git_tree_update u = {remove_instead ? GIT_TREE_UPDATE_REMOVE : GIT_TREE_UPDATE_UPSERT, blob,
                         GIT_FILEMODE_BLOB, path};
    cr_assert_eq(git_tree_create_updated(&tree_id, repo, ht, 1, &u), 0, "%s", git_error_last()->message);
    cr_assert_eq(git_tree_lookup(&nt, repo, &tree_id), 0);
    cr_assert_eq(git_signature_now(&sig, "auditfs", "auditfs@localhost"), 0);
    const git_commit *parents[1] = {hc};
    cr_assert_eq(afs_commit_create_signed(&id, repo, sig, "extra\n", nt, 1, parents, key), 0);
    git_reference *ref;
    cr_assert_eq(git_reference_create(&ref, repo, "refs/heads/main", &id, 1, "test"), 0);
    git_reference_free(ref);
    git_signature_free(sig);
    git_tree_free(nt);
    git_tree_free(ht);
    git_commit_free(hc);
    git_repository_free(repo);
    git_libgit2_shutdown();
}

static void
both_refuse(const char *what)
{
    char ids[16][41];
    size_t n = commits(ids, 16);
    auditfs_ledger *l;
    auditfs_verify_report r;
    cr_assert_eq(auditfs_ledger_open(&l, dir), 0);
    cr_assert_eq(auditfs_ledger_verify(&r, l, vkey, NULL, 0), AUDITFS_EVERIFY, "full: %s", what);
    cr_assert_eq(auditfs_ledger_verify_from(&r, l, vkey, ids[1]), AUDITFS_EVERIFY,
                 "incremental: %s", what);
    cr_assert(r.reason[0]);
    (void)n;
    auditfs_ledger_free(l);
}

Test(replica, extra_tile_in_new_part)
{
    append(300);
    append(20);
    commit_with_extra("tile/0/999", 0);
    both_refuse("an extra tile");
}

Test(replica, extra_segment_before_base)
{
    append(300);
    append(20);
    commit_with_extra("seg/000/000/000/005", 0);
    both_refuse("an extra segment below the base size");
}

Test(replica, extra_content)
{
    append(30);
    commit_with_extra("notice/7", 0);
    both_refuse("a content file no entry references");
}

Test(replica, removed_segment)
{
    append(30);
    append(30);
    commit_with_extra("seg/000/000/000/030", 1);
    both_refuse("a segment removed");
}
