/*
 * tests/torture/forge.c - forges ledgers with valid git objects, for the torture suite.
 *
 * A forger who can write to the repository but does not hold the key (or does, case f) rewrites
 * the whole history consistently: every leaf is re-encoded with a correct seq and prev chain,
 * every segment and tile is rebuilt with the library's own writers, and every commit is replaced
 * by one with the same metadata. Only the checkpoints cannot be made right without the key:
 *
 *   forge LEDGER modify SEQ      change one byte of entry SEQ's payload
 *   forge LEDGER truncate M      drop the last M entries
 *   forge LEDGER remove SEQ      drop entry SEQ
 *   forge LEDGER swap I J        exchange entries I and J (times stay in place, so they ascend)
 *   forge LEDGER none            rebuild unchanged (with --resign: only the signatures change)
 * options (after the mode):
 *   --cp keep                    each commit keeps its original checkpoint (default)
 *   --cp old                     each commit gets the newest original checkpoint not larger than
 *                                its (new) size: an old, genuinely signed checkpoint
 *   --resign KEYFILE             each commit gets a checkpoint of its real size and root signed
 *                                with KEYFILE (another key: case e; the ledger's key: case f)
 * Single defects, each behind otherwise valid signatures and roots when combined with
 * `--resign` and the ledger's own key (tests/cli/cli_forge.sh: every one must fail verify):
 *   --break-prev SEQ             entry SEQ's prev is not the leaf hash of the entry before (the
 *                                chain continues from SEQ's real leaf hash)
 *   --back-time SEQ              entry SEQ's time is one second before the entry before it
 *   --bad-seq SEQ                entry SEQ's seq header says SEQ + 1
 *   --origin-at K ORIGIN         commit K (0 = the oldest) is signed with another origin
 *   --cp-file K FILE             commit K's checkpoint is FILE, as is (e.g. a genuinely signed
 *                                checkpoint of the same size taken from another ledger)
 *   --stale-tiles                every commit keeps its original tiles (with the original
 *                                checkpoints they hash to the signed roots; the leaves do not)
 *
 *   forge sign-note KEYFILE      signs standard input as a note (for the hostile corpus)
 *
 * The ledger is rewritten in place (use a clone): refs/heads/main points at the forged head,
 * which is printed with the new entry count. Exit 0 on success, 2 on bad arguments, 1 otherwise.
 */
#include "entry.h"
#include "store.h"
#include "commitsig.h"

#include "auditfs/ledger.h"
#include "auditfs/merkle.h"
#include "auditfs/note.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct leafrec {
    uint8_t *data; /* original leaf (owned) */
    size_t len;
} leafrec;

typedef struct crec {
    git_oid id;
    uint64_t size;   /* original checkpoint size */
    git_oid cp_blob; /* original checkpoint blob */
    uint64_t fsize;  /* size in the forged history */
} crec;

typedef struct pathid {
    char *path;
    git_oid id;
} pathid;

typedef struct plist {
    pathid *v;
    size_t n, cap;
} plist;

static int
die(const char *what)
{
    fprintf(stderr, "forge: %s: %s\n", what, auditfs_error_last()[0] ? auditfs_error_last() : "");
    return 1;
}

static int
die_git(const char *what)
{
    const git_error *e = git_error_last();
    fprintf(stderr, "forge: %s: %s\n", what, e ? e->message : "");
    return 1;
}

static int
plist_add(plist *p, const char *path, const git_oid *id)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        pathid *v = realloc(p->v, cap * sizeof *v);
        if (!v)
            return -1;
        p->v = v;
        p->cap = cap;
    }
    p->v[p->n].path = strdup(path);
    if (!p->v[p->n].path)
        return -1;
    git_oid_cpy(&p->v[p->n].id, id);
    p->n++;
    return 0;
}

static void
plist_free(plist *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->v[i].path);
    free(p->v);
    memset(p, 0, sizeof *p);
}

typedef struct forge_ctx {
    git_repository *repo;
    plist full_tiles; /* full tiles written so far: never change */
    int format;       /* the ledger's: format 2 stores no level-0 tiles */
} forge_ctx;

static int
full_tile_cb(unsigned level, uint64_t index, const uint8_t *hashes, void *payload)
{
    forge_ctx *c = payload;
    char path[AUDITFS_TILE_PATH_MAX];
    git_oid id;
    if (level == 0 && c->format == 2)
        return 0;
    if (auditfs_tile_path(path, level, index, 256) != 0)
        return -1;
    if (git_blob_create_from_buffer(&id, c->repo, hashes, 256 * 32) < 0)
        return -1;
    return plist_add(&c->full_tiles, path, &id);
}

/* Collects blob paths of tree, except seg/, tile/ and checkpoint (rebuilt by the forger). */
typedef struct walk_ctx {
    plist *out;
    int err;
    int keep_tiles; /* --stale-tiles: tile/ is copied too */
} walk_ctx;

static int
walk_cb(const char *root, const git_tree_entry *te, void *payload)
{
    walk_ctx *w = payload;
    char path[1024];
    if (git_tree_entry_type(te) != GIT_OBJECT_BLOB)
        return 0;
    snprintf(path, sizeof path, "%s%s", root, git_tree_entry_name(te));
    if (!strncmp(path, "seg/", 4) || (!w->keep_tiles && !strncmp(path, "tile/", 5)) ||
        !strcmp(path, "checkpoint"))
        return 0;
    if (plist_add(w->out, path, git_tree_entry_id(te)) != 0) {
        w->err = 1;
        return -1;
    }
    return 0;
}

static int
cmp_update(const void *a, const void *b)
{
    return strcmp(((const git_tree_update *)a)->path, ((const git_tree_update *)b)->path);
}

static void
change_payload(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] >= 'a' && p[i] <= 'z') {
            p[i] = p[i] == 'z' ? 'a' : (uint8_t)(p[i] + 1);
            return;
        }
        if (p[i] >= '0' && p[i] <= '9') {
            p[i] = p[i] == '9' ? '0' : (uint8_t)(p[i] + 1);
            return;
        }
    }
    if (n)
        p[0] ^= 1;
}

static int
parse_u64(uint64_t *out, const char *s)
{
    char *end;
    if (!s || !*s)
        return -1;
    *out = strtoull(s, &end, 10);
    return *end ? -1 : 0;
}

static int
sign_note(const char *keyfile)
{
    auditfs_signer *s = NULL;
    char buf[70000];
    size_t n = fread(buf, 1, sizeof buf - 1, stdin);
    char *out = NULL;
    size_t out_len;
    buf[n] = 0;
    if (auditfs_signer_load(&s, keyfile) != 0)
        return die(keyfile);
    if (auditfs_note_sign(&out, &out_len, buf, n, s) != 0) {
        auditfs_signer_free(s);
        return die("sign");
    }
    fwrite(out, 1, out_len, stdout);
    free(out);
    auditfs_signer_free(s);
    return 0;
}

static int
usage(void)
{
    fputs("usage: forge LEDGER modify SEQ | truncate M | remove SEQ | swap I J | none\n"
          "             [--cp keep|old] [--resign KEYFILE] [--break-prev SEQ]\n"
          "             [--back-time SEQ] [--bad-seq SEQ] [--origin-at K ORIGIN] [--cp-file K FILE]\n"
          "             [--stale-tiles]\n"
          "       forge sign-note KEYFILE < TEXT\n",
          stderr);
    return 2;
}

int
main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "sign-note"))
        return sign_note(argv[2]);
    if (argc < 3)
        return usage();
    const char *path = argv[1], *mode = argv[2], *cp_policy = "keep", *resign = NULL;
    const char *origin_at_name = NULL, *cp_file = NULL;
    uint64_t a1 = 0, a2 = 0;
    uint64_t break_prev = UINT64_MAX, back_time = UINT64_MAX, bad_seq = UINT64_MAX;
    uint64_t origin_at = UINT64_MAX, cp_file_at = UINT64_MAX;
    int stale_tiles = 0;
    int ai = 3;
    if (!strcmp(mode, "modify") || !strcmp(mode, "truncate") || !strcmp(mode, "remove")) {
        if (argc < 4 || parse_u64(&a1, argv[3]))
            return usage();
        ai = 4;
    } else if (!strcmp(mode, "swap")) {
        if (argc < 5 || parse_u64(&a1, argv[3]) || parse_u64(&a2, argv[4]) || a1 == a2)
            return usage();
        if (a1 > a2) {
            uint64_t t = a1;
            a1 = a2;
            a2 = t;
        }
        ai = 5;
    } else if (strcmp(mode, "none") != 0) {
        return usage();
    }
    for (; ai < argc; ai++) {
        int ok_arg = 1;
        if (!strcmp(argv[ai], "--cp") && ai + 1 < argc)
            cp_policy = argv[++ai];
        else if (!strcmp(argv[ai], "--resign") && ai + 1 < argc)
            resign = argv[++ai];
        else if (!strcmp(argv[ai], "--stale-tiles"))
            stale_tiles = 1;
        else if (!strcmp(argv[ai], "--break-prev") && ai + 1 < argc)
            ok_arg = !parse_u64(&break_prev, argv[++ai]);
        else if (!strcmp(argv[ai], "--back-time") && ai + 1 < argc)
            ok_arg = !parse_u64(&back_time, argv[++ai]);
        else if (!strcmp(argv[ai], "--bad-seq") && ai + 1 < argc)
            ok_arg = !parse_u64(&bad_seq, argv[++ai]);
        else if (!strcmp(argv[ai], "--origin-at") && ai + 2 < argc) {
            ok_arg = !parse_u64(&origin_at, argv[++ai]);
            origin_at_name = argv[++ai];
        } else if (!strcmp(argv[ai], "--cp-file") && ai + 2 < argc) {
            ok_arg = !parse_u64(&cp_file_at, argv[++ai]);
            cp_file = argv[++ai];
        } else
            return usage();
        if (!ok_arg)
            return usage();
    }
    if (strcmp(cp_policy, "keep") && strcmp(cp_policy, "old"))
        return usage();
    if (origin_at_name && !resign) {
        fprintf(stderr, "forge: --origin-at needs --resign\n");
        return 2;
    }

    auditfs_ledger *l = NULL;
    auditfs_signer *key = NULL;
    if (auditfs_ledger_open(&l, path) != 0)
        return die(path);
    if (resign && auditfs_signer_load(&key, resign) != 0)
        return die(resign);
    git_repository *repo = l->repo;
    uint64_t n = l->cp.size;

    /* 1. every leaf of the head, checked against its tiles */
    leafrec *leaves = calloc(n ? n : 1, sizeof *leaves);
    auditfs_cursor *cur = NULL;
    if (!leaves || auditfs_cursor_new(&cur, l, 0, n) != 0)
        return die("cursor");
    for (uint64_t i = 0; i < n; i++) {
        const uint8_t *p;
        size_t len;
        if (auditfs_cursor_next(cur, &p, &len) != 1)
            return die("reading leaves");
        leaves[i].data = malloc(len ? len : 1);
        if (!leaves[i].data)
            return die("out of memory");
        memcpy(leaves[i].data, p, len);
        leaves[i].len = len;
    }
    auditfs_cursor_free(cur);

    /* 2. history, oldest first, with each commit's checkpoint */
    crec *cs = NULL;
    size_t nc = 0, capc = 0;
    git_oid id = l->head_id;
    for (;;) {
        git_commit *c = NULL;
        git_tree *t = NULL;
        git_tree_entry *te = NULL;
        if (git_commit_lookup(&c, repo, &id) < 0 || git_commit_tree(&t, c) < 0 ||
            git_tree_entry_bypath(&te, t, "checkpoint") < 0)
            return die_git("history");
        if (nc == capc) {
            capc = capc ? capc * 2 : 64;
            cs = realloc(cs, capc * sizeof *cs);
            if (!cs)
                return die("out of memory");
        }
        uint8_t *note = NULL;
        size_t nl;
        auditfs_checkpoint ck;
        if (afs_tree_read(&note, &nl, repo, t, "checkpoint") != 0)
            return die("checkpoint");
        const char *sep = strstr((char *)note, "\n\n");
        if (!sep || auditfs_checkpoint_parse(&ck, (char *)note, (size_t)(sep - (char *)note) + 1))
            return die("checkpoint parse");
        free(note);
        cs[nc].id = id;
        cs[nc].size = ck.size;
        git_oid_cpy(&cs[nc].cp_blob, git_tree_entry_id(te));
        nc++;
        git_tree_entry_free(te);
        git_tree_free(t);
        int np = (int)git_commit_parentcount(c);
        if (np > 0)
            git_oid_cpy(&id, git_commit_parent_id(c, 0));
        git_commit_free(c);
        if (np == 0)
            break;
    }
    for (size_t i = 0; i < nc / 2; i++) {
        crec t = cs[i];
        cs[i] = cs[nc - 1 - i];
        cs[nc - 1 - i] = t;
    }
    char origin[AUDITFS_NAME_MAX + 1];
    snprintf(origin, sizeof origin, "%s", l->cp.origin);

    /* 3. the forged sequence: order[p] = original index of the entry at position p */
    uint64_t *order = calloc(n ? n : 1, sizeof *order);
    uint64_t nf = 0;
    if (!order)
        return die("out of memory");
    if ((!strcmp(mode, "modify") || !strcmp(mode, "remove")) && a1 >= n) {
        fprintf(stderr, "forge: entry %llu: the ledger has %llu\n", (unsigned long long)a1,
                (unsigned long long)n);
        return 2;
    }
    if ((!strcmp(mode, "truncate") && (a1 == 0 || a1 > n)) || (!strcmp(mode, "swap") && a2 >= n))
        return usage();
    for (uint64_t i = 0; i < n; i++) {
        if (!strcmp(mode, "truncate") && i >= n - a1)
            break;
        if (!strcmp(mode, "remove") && i == a1)
            continue;
        order[nf++] = i;
    }
    if (!strcmp(mode, "swap")) {
        order[a1] = a2;
        order[a2] = a1;
    }
    for (size_t k = 0; k < nc; k++) {
        uint64_t s = cs[k].size;
        if (!strcmp(mode, "truncate"))
            cs[k].fsize = s < nf ? s : nf;
        else if (!strcmp(mode, "remove"))
            cs[k].fsize = s - (a1 < s ? 1 : 0);
        else
            cs[k].fsize = s;
    }

    /* 4. rewrite every commit */
    forge_ctx fc = {repo, {NULL, 0, 0}, l->format};
    plist segs = {NULL, 0, 0};
    afs_tiles *tiles = malloc(sizeof *tiles);
    afs_seg_writer sw;
    afs_buf segblob = AFS_BUF_INIT;
    auditfs_hash prev;
    uint64_t pos = 0;
    git_oid parent;
    int have_parent = 0;
    memset(&prev, 0, sizeof prev);
    if (!tiles || afs_seg_writer_init(&sw, 1) != 0)
        return die("init");
    afs_tiles_init(tiles);
    for (size_t k = 0; k < nc; k++) {
        uint64_t end = cs[k].fsize;
        if (end > pos) {
            afs_seg_writer_reset(&sw, pos);
            for (; pos < end; pos++) {
                auditfs_entry e, et;
                uint64_t o = order[pos];
                uint8_t *pl = NULL, *leaf = NULL;
                size_t leaf_len;
                if (auditfs_entry_parse(&e, leaves[o].data, leaves[o].len) != 0)
                    return die("parse");
                if (e.has_content && !strcmp(e.type, "notice") && e.seq != pos) {
                    fprintf(stderr, "forge: notice %llu would move: choose later targets\n",
                            (unsigned long long)e.seq);
                    return 2;
                }
                if (o != pos) { /* keep times ascending by position */
                    if (auditfs_entry_parse(&et, leaves[pos].data, leaves[pos].len) != 0)
                        return die("parse");
                    e.time_us = et.time_us;
                }
                e.seq = pos;
                e.prev = prev;
                if (pos == break_prev)
                    e.prev.b[0] ^= 1;
                if (pos == bad_seq)
                    e.seq = pos + 1;
                if (pos == back_time && pos > 0) {
                    auditfs_entry before;
                    if (auditfs_entry_parse(&before, leaves[order[pos - 1]].data,
                                            leaves[order[pos - 1]].len) != 0)
                        return die("parse");
                    e.time_us = before.time_us - 1000000;
                }
                if (!strcmp(mode, "modify") && o == a1) {
                    if (e.has_content || e.payload_len == 0) {
                        fprintf(stderr, "forge: entry %llu has no payload to modify\n",
                                (unsigned long long)o);
                        return 2;
                    }
                    pl = malloc(e.payload_len);
                    if (!pl)
                        return die("out of memory");
                    memcpy(pl, e.payload, e.payload_len);
                    change_payload(pl, e.payload_len);
                    e.payload = pl;
                }
                if (auditfs_entry_encode(&leaf, &leaf_len, &e) != 0)
                    return die("encode");
                free(pl);
                auditfs_leaf_hash(&prev, leaf, leaf_len);
                if (afs_seg_writer_add(&sw, leaf, leaf_len) != 0 ||
                    afs_tiles_push(tiles, &prev, full_tile_cb, &fc) != 0)
                    return die_git("segment or tile");
                free(leaf);
            }
            char sp[32];
            git_oid sid;
            afs_seg_path(sp, cs[k].fsize > 0 ? sw.first_seq : 0);
            if (afs_seg_writer_finish(&sw, &segblob) != 0 ||
                git_blob_create_from_buffer(&sid, repo, segblob.data, segblob.len) < 0 ||
                plist_add(&segs, sp, &sid) != 0)
                return die_git("segment");
        }
        /* the tree: original other blobs + forged segments, tiles and checkpoint */
        plist all = {NULL, 0, 0};
        git_commit *oc = NULL;
        git_tree *ot = NULL;
        if (git_commit_lookup(&oc, repo, &cs[k].id) < 0 || git_commit_tree(&ot, oc) < 0)
            return die_git("original commit");
        walk_ctx wc = {&all, 0, stale_tiles};
        if (git_tree_walk(ot, GIT_TREEWALK_PRE, walk_cb, &wc) < 0 || wc.err)
            return die_git("walk");
        for (size_t i = 0; i < segs.n; i++)
            if (plist_add(&all, segs.v[i].path, &segs.v[i].id) != 0)
                return die("out of memory");
        for (size_t i = 0; i < fc.full_tiles.n && !stale_tiles; i++)
            if (plist_add(&all, fc.full_tiles.v[i].path, &fc.full_tiles.v[i].id) != 0)
                return die("out of memory");
        for (unsigned lv = fc.format == 2 ? 1 : 0; lv < AFS_TILE_LEVELS; lv++) {
            unsigned w = afs_tiles_width(tiles, lv);
            char tp[AUDITFS_TILE_PATH_MAX];
            git_oid tid;
            if (!w || stale_tiles)
                continue;
            uint64_t idx = (8 * (lv + 1) >= 64) ? 0 : tiles->size >> (8 * (lv + 1));
            if (auditfs_tile_path(tp, lv, idx, w) != 0 ||
                git_blob_create_from_buffer(&tid, repo, tiles->h[lv], (size_t)w * 32) < 0 ||
                plist_add(&all, tp, &tid) != 0)
                return die_git("partial tile");
        }
        git_oid cpid = cs[k].cp_blob;
        if (k == cp_file_at) {
            char *note = NULL;
            size_t nl;
            if (afs_read_file(&note, &nl, cp_file, 1 << 16) != 0 ||
                git_blob_create_from_buffer(&cpid, repo, note, nl) < 0)
                return die(cp_file);
            free(note);
        } else if (key) {
            auditfs_checkpoint ck;
            char *note = NULL;
            size_t nl;
            snprintf(ck.origin, sizeof ck.origin, "%s", k == origin_at ? origin_at_name : origin);
            ck.size = tiles->size;
            afs_tiles_root(&ck.root, tiles);
            if (auditfs_checkpoint_sign(&note, &nl, &ck, key) != 0 ||
                git_blob_create_from_buffer(&cpid, repo, note, nl) < 0)
                return die("resign");
            free(note);
        } else if (!strcmp(cp_policy, "old")) {
            size_t best = 0;
            for (size_t j = 0; j < nc; j++)
                if (cs[j].size <= tiles->size && cs[j].size >= cs[best].size)
                    best = j;
            cpid = cs[best].cp_blob;
        }
        if (plist_add(&all, "checkpoint", &cpid) != 0)
            return die("out of memory");
        git_tree_update *ups = calloc(all.n, sizeof *ups);
        if (!ups)
            return die("out of memory");
        for (size_t i = 0; i < all.n; i++) {
            ups[i].action = GIT_TREE_UPDATE_UPSERT;
            ups[i].filemode = GIT_FILEMODE_BLOB;
            ups[i].path = all.v[i].path;
            git_oid_cpy(&ups[i].id, &all.v[i].id);
        }
        qsort(ups, all.n, sizeof *ups, cmp_update);
        git_oid tree_id, commit_id;
        git_tree *nt = NULL;
        if (git_tree_create_updated(&tree_id, repo, NULL, all.n, ups) < 0 ||
            git_tree_lookup(&nt, repo, &tree_id) < 0)
            return die_git("tree");
        git_commit *pc = NULL;
        if (have_parent && git_commit_lookup(&pc, repo, &parent) < 0)
            return die_git("parent");
        const git_commit *parents[1] = {pc};
        /* with a key (--resign) the forger signs its commits as a writer would (an insider);
         * without one they carry no signature (an outsider cannot make one) */
        if (key ? afs_commit_create_signed(&commit_id, repo, git_commit_committer(oc),
                                           git_commit_message(oc), nt, have_parent ? 1 : 0,
                                           parents, key) != 0
                : git_commit_create(&commit_id, repo, NULL, git_commit_author(oc),
                                    git_commit_committer(oc), NULL, git_commit_message(oc), nt,
                                    have_parent ? 1 : 0, parents) < 0)
            return die_git("commit");
        parent = commit_id;
        have_parent = 1;
        git_commit_free(pc);
        git_tree_free(nt);
        free(ups);
        plist_free(&all);
        git_tree_free(ot);
        git_commit_free(oc);
    }
    git_reference *ref = NULL;
    if (git_reference_create(&ref, repo, AFS_REF, &parent, 1, "forge") < 0)
        return die_git("ref");
    char hex[GIT_OID_HEXSZ + 1];
    git_oid_tostr(hex, sizeof hex, &parent);
    printf("%s %llu\n", hex, (unsigned long long)nf);
    git_reference_free(ref);
    for (uint64_t i = 0; i < n; i++)
        free(leaves[i].data);
    free(leaves);
    free(order);
    free(cs);
    free(tiles);
    afs_buf_release(&segblob);
    afs_seg_writer_release(&sw);
    plist_free(&segs);
    plist_free(&fc.full_tiles);
    auditfs_signer_free(key);
    auditfs_ledger_free(l);
    return 0;
}
