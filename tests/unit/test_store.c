#include "auditfs/ledger.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char dir[64];
static auditfs_signer *key;
static auditfs_verifier *vkey;

static void
setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/auditfs-store-XXXXXX");
    cr_assert(mkdtemp(dir));
    strcat(dir, "/l");
    cr_assert_eq(auditfs_signer_generate(&key, "store.test"), 0);
    cr_assert_eq(auditfs_signer_verifier(&vkey, key), 0);
    cr_assert_eq(auditfs_ledger_init(dir, key, "store.test/tenant-a"), 0, "%s",
                 auditfs_error_last());
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
add_logs(auditfs_writer *w, unsigned n, unsigned base)
{
    for (unsigned i = 0; i < n; i++) {
        auditfs_entry e;
        char p[64];
        memset(&e, 0, sizeof e);
        strcpy(e.type, "log");
        strcpy(e.stream, "api");
        int len = snprintf(p, sizeof p, "{\"i\":%u}", base + i);
        e.payload = (const uint8_t *)p;
        e.payload_len = (size_t)len;
        cr_assert_eq(auditfs_writer_add(w, &e, NULL, 0, NULL), 0, "%s", auditfs_error_last());
    }
}

TestSuite(store, .init = setup, .fini = teardown);

Test(store, append_read_prove_verify)
{
    auditfs_writer *w;
    uint64_t size;
    cr_assert_eq(auditfs_writer_open(&w, dir, key, NULL), 0, "%s", auditfs_error_last());
    add_logs(w, 700, 0);
    cr_assert_eq(auditfs_writer_commit(w, &size), 0, "%s", auditfs_error_last());
    cr_assert_eq(size, 700);
    add_logs(w, 5, 700);
    cr_assert_eq(auditfs_writer_commit(w, &size), 0);
    cr_assert_eq(size, 705);
    auditfs_writer_free(w);

    auditfs_ledger *l;
    cr_assert_eq(auditfs_ledger_open(&l, dir), 0);
    auditfs_checkpoint cp;
    cr_assert_eq(auditfs_ledger_check_head(&cp, l, vkey), 0, "%s", auditfs_error_last());
    cr_assert_eq(cp.size, 705);
    cr_assert_str_eq(cp.origin, "store.test/tenant-a");
    uint8_t *leaf;
    size_t len;
    cr_assert_eq(auditfs_ledger_leaf(&leaf, &len, l, 702), 0);
    auditfs_entry e;
    cr_assert_eq(auditfs_entry_parse(&e, leaf, len), 0);
    cr_assert_eq(e.seq, 702);
    cr_assert_eq(memcmp(e.payload, "{\"i\":702}", 9), 0);
    /* every inclusion proof verifies against the signed root */
    for (uint64_t i = 0; i < 705; i += 37) {
        auditfs_inclusion_proof p;
        uint8_t *lf;
        size_t ll;
        auditfs_hash h;
        cr_assert_eq(auditfs_ledger_prove(&p, l, i, 0), 0, "%s", auditfs_error_last());
        cr_assert_eq(auditfs_ledger_leaf(&lf, &ll, l, i), 0);
        auditfs_leaf_hash(&h, lf, ll);
        cr_assert_eq(auditfs_merkle_verify_inclusion(&h, i, 705, p.path, p.path_len, &cp.root), 0);
        free(lf);
    }
    /* the consistency proof from the first commit's size */
    char *old;
    size_t oldlen;
    auditfs_checkpoint ocp;
    cr_assert_eq(auditfs_ledger_checkpoint_at(&old, &oldlen, l, 700), 0);
    cr_assert_eq(auditfs_checkpoint_open(&ocp, old, oldlen, vkey, NULL), 0);
    auditfs_consistency_proof cpf;
    cr_assert_eq(auditfs_ledger_prove_consistency(&cpf, l, 700, 705), 0);
    cr_assert_eq(auditfs_merkle_verify_consistency(700, 705, &ocp.root, &cp.root, cpf.path,
                                                   cpf.path_len),
                 0);
    auditfs_verify_report r;
    cr_assert_eq(auditfs_ledger_verify(&r, l, vkey, old, oldlen), 0, "%s", r.reason);
    cr_assert_eq(r.entries, 705);
    cr_assert_eq(r.commits, 3);
    cr_assert(r.trusted_checked);
    free(old);
    free(leaf);
    auditfs_ledger_free(l);
}

Test(store, discard_and_documents)
{
    auditfs_writer *w;
    uint64_t size, seq;
    cr_assert_eq(auditfs_writer_open(&w, dir, key, NULL), 0);
    add_logs(w, 10, 0);
    auditfs_writer_discard(w);
    cr_assert_eq(auditfs_writer_pending_count(w), 0);
    auditfs_entry d;
    memset(&d, 0, sizeof d);
    strcpy(d.type, "document");
    strcpy(d.stream, "documents");
    strcpy(d.name, "sla/x");
    strcpy(d.content_type, "text/plain");
    cr_assert_eq(auditfs_writer_add(w, &d, "v1", 2, &seq), 0, "%s", auditfs_error_last());
    cr_assert_eq(seq, 0, "the discarded entries left no trace");
    cr_assert_eq(d.version, 1);
    cr_assert_eq(auditfs_writer_add(w, &d, "v2!", 3, &seq), 0);
    cr_assert_eq(d.version, 2, "versions count within a batch too");
    cr_assert_eq(auditfs_writer_commit(w, &size), 0, "%s", auditfs_error_last());
    cr_assert_eq(size, 2);
    auditfs_writer_free(w);
    auditfs_ledger *l;
    cr_assert_eq(auditfs_ledger_open(&l, dir), 0);
    uint64_t latest;
    cr_assert_eq(auditfs_ledger_doc_latest(&latest, l, "sla/x"), 0);
    cr_assert_eq(latest, 2);
    uint8_t *leaf, *content;
    size_t len, clen;
    auditfs_entry e;
    cr_assert_eq(auditfs_ledger_leaf(&leaf, &len, l, 1), 0);
    cr_assert_eq(auditfs_entry_parse(&e, leaf, len), 0);
    cr_assert_eq(auditfs_ledger_content(&content, &clen, l, &e), 0);
    cr_assert_eq(clen, 3);
    cr_assert_eq(memcmp(content, "v2!", 3), 0);
    free(content);
    free(leaf);
    auditfs_ledger_free(l);
}

Test(store, second_writer_is_busy_and_wrong_key_refused)
{
    auditfs_writer *w, *w2;
    auditfs_writer_options o = AUDITFS_WRITER_OPTIONS_INIT;
    cr_assert_eq(auditfs_writer_open(&w, dir, key, &o), 0);
    cr_assert_eq(auditfs_writer_open(&w2, dir, key, &o), AUDITFS_EBUSY);
    auditfs_writer_free(w);
    auditfs_signer *other;
    cr_assert_eq(auditfs_signer_generate(&other, "store.test"), 0);
    cr_assert_eq(auditfs_writer_open(&w2, dir, other, &o), AUDITFS_EKEY);
    auditfs_signer_free(other);
}

Test(store, reopen_at_tile_boundaries)
{
    /* a writer must resume at sizes that end a tile (256) or a level-1 tile (65536 is too slow
     * here; 256 and 512 exercise the full-tile path) */
    uint64_t size;
    for (unsigned round = 0; round < 3; round++) {
        auditfs_writer *w;
        cr_assert_eq(auditfs_writer_open(&w, dir, key, NULL), 0, "round %u: %s", round,
                     auditfs_error_last());
        add_logs(w, 256, round * 256);
        cr_assert_eq(auditfs_writer_commit(w, &size), 0);
        cr_assert_eq(size, 256 * (round + 1));
        auditfs_writer_free(w);
    }
    auditfs_ledger *l;
    auditfs_verify_report r;
    cr_assert_eq(auditfs_ledger_open(&l, dir), 0);
    cr_assert_eq(auditfs_ledger_verify(&r, l, vkey, NULL, 0), 0, "%s", r.reason);
    auditfs_ledger_free(l);
}

#include "segment.h"
#include "store.h"

/* Format-1 copies of the forgery tests below (a ledger made before format 2 stores its level-0
 * tiles, and they are forged together with the leaf); the store suite runs them on format 2,
 * where the level-0 tile is rebuilt from the forged segment itself. */
static void
setup_f1(void)
{
    setenv("AUDITFS_TEST_LEDGER_FORMAT", "1", 1);
    setup();
    unsetenv("AUDITFS_TEST_LEDGER_FORMAT");
}
TestSuite(store_f1, .init = setup_f1, .fini = teardown);
static void tampered_leaf_and_tile(void);
static void forged_leaf_and_partial(void);
Test(store_f1, tampered_leaf_and_tile_together_are_refused)
{
    tampered_leaf_and_tile();
}
Test(store_f1, forged_leaf_and_partial_tile_are_refused)
{
    forged_leaf_and_partial();
}

/* Rewrites entry 5's leaf and (format 1) its level-0 tile entry consistently with valid git
 * objects (no key needed: the checkpoint is left as it was). Reads must refuse it: the level-0
 * tile (stored or rebuilt) no longer hashes to its entry in the level-1 tile. */
Test(store, tampered_leaf_and_tile_together_are_refused)
{
    tampered_leaf_and_tile();
}

static void
tampered_leaf_and_tile(void)
{
    auditfs_writer *w;
    uint64_t size;
    cr_assert_eq(auditfs_writer_open(&w, dir, key, NULL), 0);
    add_logs(w, 600, 0); /* two full level-0 tiles, so tile/0/000 has a parent entry */
    cr_assert_eq(auditfs_writer_commit(w, &size), 0);
    auditfs_writer_free(w);

    auditfs_ledger *l;
    cr_assert_eq(auditfs_ledger_open(&l, dir), 0);
    /* the forged leaf 5: same headers, another payload */
    uint8_t *leaf;
    size_t len;
    cr_assert_eq(auditfs_ledger_leaf(&leaf, &len, l, 5), 0);
    auditfs_entry e;
    cr_assert_eq(auditfs_entry_parse(&e, leaf, len), 0);
    e.payload = (const uint8_t *)"{\"i\":999}";
    e.payload_len = 9;
    uint8_t *forged;
    size_t flen;
    cr_assert_eq(auditfs_entry_encode(&forged, &flen, &e), 0);
    /* rebuild the segment holding entries 0.. with the forged leaf */
    uint64_t first;
    git_oid segid;
    cr_assert_eq(afs_seg_find(&first, &segid, l->repo, l->tree, 5), 0);
    afs_seg_writer sw;
    afs_buf seg = AFS_BUF_INIT, raw = AFS_BUF_INIT;
    cr_assert_eq(afs_seg_writer_init(&sw, 1), 0);
    afs_seg_writer_reset(&sw, first);
    uint64_t seg_end = first;
    {
        git_blob *b;
        afs_seg_index ix;
        cr_assert_eq(git_blob_lookup(&b, l->repo, &segid), 0);
        cr_assert_eq(afs_seg_index_parse(&ix, git_blob_rawcontent(b),
                                         (size_t)git_blob_rawsize(b), "t"),
                     0);
        seg_end = first + ix.count;
        afs_seg_index_release(&ix);
        git_blob_free(b);
    }
    for (uint64_t s = first; s < seg_end; s++) {
        if (s == 5) {
            cr_assert_eq(afs_seg_writer_add(&sw, forged, flen), 0);
            continue;
        }
        uint8_t *x;
        size_t xl;
        cr_assert_eq(auditfs_ledger_leaf(&x, &xl, l, s), 0);
        cr_assert_eq(afs_seg_writer_add(&sw, x, xl), 0);
        free(x);
    }
    cr_assert_eq(afs_seg_writer_finish(&sw, &seg), 0);
    /* level-0 tile 0 with entry 5 replaced (format 1; format 2 has none to forge) */
    uint8_t *tile = NULL;
    size_t tlen = 0;
    int f1 = l->format == 1;
    if (f1) {
        cr_assert_eq(afs_tree_read(&tile, &tlen, l->repo, l->tree, "tile/0/000"), 0);
        cr_assert_eq(tlen, 8192);
        auditfs_leaf_hash((auditfs_hash *)(tile + 5 * 32), forged, flen);
    } else {
        cr_assert_neq(afs_tree_read(&tile, &tlen, l->repo, l->tree, "tile/0/000"), 0);
    }
    git_oid sid, tid, treeid, cid;
    memset(&tid, 0, sizeof tid);
    char segpath[32];
    afs_seg_path(segpath, first);
    cr_assert_eq(git_blob_create_from_buffer(&sid, l->repo, seg.data, seg.len), 0);
    if (f1)
        cr_assert_eq(git_blob_create_from_buffer(&tid, l->repo, tile, tlen), 0);
    git_tree_update up[2] = {{GIT_TREE_UPDATE_UPSERT, sid, GIT_FILEMODE_BLOB, segpath},
                             {GIT_TREE_UPDATE_UPSERT, tid, GIT_FILEMODE_BLOB, "tile/0/000"}};
    cr_assert_eq(git_tree_create_updated(&treeid, l->repo, l->tree, f1 ? 2 : 1, up), 0);
    git_tree *tree;
    git_signature *sig;
    cr_assert_eq(git_tree_lookup(&tree, l->repo, &treeid), 0);
    cr_assert_eq(git_signature_now(&sig, "forger", "f@x"), 0);
    const git_commit *parents[1] = {l->head};
    cr_assert_eq(git_commit_create(&cid, l->repo, "refs/heads/main", sig, sig, NULL, "forged\n",
                                   tree, 1, parents),
                 0);
    git_signature_free(sig);
    git_tree_free(tree);
    auditfs_ledger_free(l);

    cr_assert_eq(auditfs_ledger_open(&l, dir), 0);
    uint8_t *got;
    size_t glen;
    cr_assert_eq(auditfs_ledger_leaf(&got, &glen, l, 5), AUDITFS_EVERIFY,
                 "a leaf forged together with its tile must not be served");
    cr_assert(strstr(auditfs_error_last(), "tile"), "%s", auditfs_error_last());
    cr_assert_eq(auditfs_ledger_leaf(&got, &glen, l, 300), 0, "other tiles still read");
    free(got);
    auditfs_verify_report r;
    cr_assert_eq(auditfs_ledger_verify(&r, l, vkey, NULL, 0), AUDITFS_EVERIFY);
    auditfs_ledger_free(l);
    free(tile);
    free(forged);
    free(leaf);
    afs_buf_release(&seg);
    afs_buf_release(&raw);
    afs_seg_writer_release(&sw);
}

/* The head's partial tiles are checked against the checkpoint's root by the store itself, not
 * only by auditfs_ledger_check_head (which the CLI calls, a library user may not): a leaf forged
 * together with its entry in the head's partial level-0 tile (no full tile above to catch it)
 * must not be served (tests/mutation: store-partials-root). */
Test(store, forged_leaf_and_partial_tile_are_refused)
{
    forged_leaf_and_partial();
}

static void
forged_leaf_and_partial(void)
{
    auditfs_writer *w;
    uint64_t size;
    cr_assert_eq(auditfs_writer_open(&w, dir, key, NULL), 0);
    add_logs(w, 100, 0); /* one partial level-0 tile, tile/0/000.p/100, and nothing above */
    cr_assert_eq(auditfs_writer_commit(w, &size), 0);
    auditfs_writer_free(w);

    auditfs_ledger *l;
    cr_assert_eq(auditfs_ledger_open(&l, dir), 0);
    uint8_t *leaf;
    size_t len;
    cr_assert_eq(auditfs_ledger_leaf(&leaf, &len, l, 5), 0);
    auditfs_entry e;
    cr_assert_eq(auditfs_entry_parse(&e, leaf, len), 0);
    e.payload = (const uint8_t *)"{\"i\":999}";
    e.payload_len = 9;
    uint8_t *forged;
    size_t flen;
    cr_assert_eq(auditfs_entry_encode(&forged, &flen, &e), 0);
    uint64_t first;
    git_oid segid;
    cr_assert_eq(afs_seg_find(&first, &segid, l->repo, l->tree, 5), 0);
    cr_assert_eq(first, 0);
    afs_seg_writer sw;
    afs_buf seg = AFS_BUF_INIT;
    cr_assert_eq(afs_seg_writer_init(&sw, 1), 0);
    afs_seg_writer_reset(&sw, 0);
    for (uint64_t s = 0; s < 100; s++) {
        if (s == 5) {
            cr_assert_eq(afs_seg_writer_add(&sw, forged, flen), 0);
            continue;
        }
        uint8_t *x;
        size_t xl;
        cr_assert_eq(auditfs_ledger_leaf(&x, &xl, l, s), 0);
        cr_assert_eq(afs_seg_writer_add(&sw, x, xl), 0);
        free(x);
    }
    cr_assert_eq(afs_seg_writer_finish(&sw, &seg), 0);
    uint8_t *tile = NULL;
    size_t tlen = 0;
    int f1 = l->format == 1;
    if (f1) {
        cr_assert_eq(afs_tree_read(&tile, &tlen, l->repo, l->tree, "tile/0/000.p/100"), 0);
        cr_assert_eq(tlen, 100 * 32);
        auditfs_leaf_hash((auditfs_hash *)(tile + 5 * 32), forged, flen);
    }
    git_oid sid, tid, treeid, cid;
    memset(&tid, 0, sizeof tid);
    char segpath[32];
    afs_seg_path(segpath, 0);
    cr_assert_eq(git_blob_create_from_buffer(&sid, l->repo, seg.data, seg.len), 0);
    if (f1)
        cr_assert_eq(git_blob_create_from_buffer(&tid, l->repo, tile, tlen), 0);
    git_tree_update up[2] = {{GIT_TREE_UPDATE_UPSERT, sid, GIT_FILEMODE_BLOB, segpath},
                             {GIT_TREE_UPDATE_UPSERT, tid, GIT_FILEMODE_BLOB, "tile/0/000.p/100"}};
    cr_assert_eq(git_tree_create_updated(&treeid, l->repo, l->tree, f1 ? 2 : 1, up), 0);
    git_tree *tree;
    git_signature *sig;
    cr_assert_eq(git_tree_lookup(&tree, l->repo, &treeid), 0);
    cr_assert_eq(git_signature_now(&sig, "forger", "f@x"), 0);
    const git_commit *parents[1] = {l->head};
    cr_assert_eq(git_commit_create(&cid, l->repo, "refs/heads/main", sig, sig, NULL, "forged\n",
                                   tree, 1, parents),
                 0);
    git_signature_free(sig);
    git_tree_free(tree);
    auditfs_ledger_free(l);

    cr_assert_eq(auditfs_ledger_open(&l, dir), 0);
    uint8_t *got = NULL;
    size_t glen;
    cr_assert_eq(auditfs_ledger_leaf(&got, &glen, l, 5), AUDITFS_EVERIFY,
                 "a leaf forged together with its partial tile must not be served");
    cr_assert(strstr(auditfs_error_last(), "root"), "%s", auditfs_error_last());
    auditfs_ledger_free(l);
    free(tile);
    free(forged);
    free(leaf);
    afs_buf_release(&seg);
    afs_seg_writer_release(&sw);
}
