/*
 * ledger/view_tree.c - the tree: nodes, per-stream lists, day files, documents, notices and README.
 *
 * Everything here runs with the tree's lock held exclusively (or before the view is published):
 * verified entries are applied to the tree, and stat reads the arrays it builds.
 */
#include "view_int.h"

#include "auditfs/entry.h"

#include <stdio.h>
#include <time.h>

/* ---- small helpers ---- */

void
vw_node_changed(auditfs_view *v, uint64_t id)
{
    if (!v->tracking)
        return;
    for (size_t i = v->nchanged; i-- > 0 && i + 8 >= v->nchanged;)
        if (v->changed[i] == id)
            return;
    if (v->nchanged == v->capchanged) {
        size_t nc = v->capchanged ? v->capchanged * 2 : 64;
        uint64_t *p = realloc(v->changed, nc * sizeof *p);
        if (!p)
            return; /* notifications are best effort; timeouts cover the rest */
        v->changed = p;
        v->capchanged = nc;
    }
    v->changed[v->nchanged++] = id;
}

vnode *
vw_node(auditfs_view *v, uint64_t id)
{
    return (id >= 1 && id <= v->nnodes) ? &v->nodes[id - 1] : NULL;
}

long
vw_kid_find(auditfs_view *v, const vnode *dir, const char *name, uint32_t *pos)
{
    uint32_t lo = 0, hi = dir->nkids;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = strcmp(v->nodes[dir->kids[mid] - 1].name, name);
        if (c == 0) {
            *pos = mid;
            return (long)mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *pos = lo;
    return -1;
}

/* Adds a child node; returns its id or 0 (error set). */
static uint64_t
node_add(auditfs_view *v, uint64_t parent, const char *name, int kind)
{
    int err = 0;
    vnode n;
    memset(&n, 0, sizeof n);
    n.name = strdup(name);
    if (!n.name) {
        afs_error_set(AUDITFS_ENOMEM, "out of memory");
        return 0;
    }
    n.parent = parent ? parent : 1;
    n.kind = (uint8_t)kind;
    n.hi = NO_END;
    VEC_PUSH(v->nodes, v->nnodes, v->capnodes, n, fail);
    uint64_t id = v->nnodes;
    if (parent) {
        vnode *p = vw_node(v, parent);
        uint32_t pos;
        if (vw_kid_find(v, p, name, &pos) >= 0) {
            afs_error_set(AUDITFS_EEXISTS, "%s exists", name);
            goto fail_pop;
        }
        if (p->nkids == p->capkids) {
            uint32_t nc = p->capkids ? p->capkids * 2 : 4;
            uint64_t *k = realloc(p->kids, nc * sizeof *k);
            if (!k) {
                afs_error_set(AUDITFS_ENOMEM, "out of memory");
                goto fail_pop;
            }
            p->kids = k;
            p->capkids = nc;
        }
        memmove(p->kids + pos + 1, p->kids + pos, (p->nkids - pos) * sizeof *p->kids);
        p->kids[pos] = id;
        p->nkids++;
        vw_node_changed(v, parent);
    }
    return id;
fail_pop:
    v->nnodes--;
fail:
    (void)err;
    free(n.name);
    return 0;
}

/* The directory `name` under parent, created if needed; 0 if a non-directory has that name. */
static uint64_t
dir_ensure(auditfs_view *v, uint64_t parent, const char *name)
{
    uint32_t pos;
    long i = vw_kid_find(v, vw_node(v, parent), name, &pos);
    if (i >= 0) {
        uint64_t id = vw_node(v, parent)->kids[i];
        if (vw_node(v, id)->kind != K_DIR) {
            afs_error_set(AUDITFS_EEXISTS, "%s is not a directory", name);
            return 0;
        }
        return id;
    }
    return node_add(v, parent, name, K_DIR);
}

static const char *
ext_for(const char *ctype)
{
    static const char *const map[][2] = {
        {"text/markdown", ".md"}, {"text/plain", ".txt"},      {"application/json", ".json"},
        {"text/html", ".html"},   {"application/pdf", ".pdf"}, {"text/csv", ".csv"},
        {"application/yaml", ".yaml"}, {NULL, NULL}};
    for (int i = 0; map[i][0]; i++)
        if (strcmp(ctype, map[i][0]) == 0)
            return map[i][1];
    return ".bin";
}

static void
slugify(char *out, size_t cap, const char *title)
{
    size_t n = 0;
    int dash = 0;
    for (const char *p = title; *p && n + 2 < cap && n < 48; p++) {
        char c = *p;
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            if (dash && n > 0)
                out[n++] = '-';
            dash = 0;
            out[n++] = c;
        } else {
            dash = 1;
        }
    }
    if (n == 0)
        n = (size_t)snprintf(out, cap, "notice");
    out[n] = 0;
}

int64_t
vw_day_of(int64_t us)
{
    int64_t d = us / 86400000000LL;
    if (us < 0 && us % 86400000000LL)
        d--;
    return d;
}

/* ---- applying verified entries to the tree ---- */

/* ---- the per-entry arrays (view_spill.h) ---- */

uint64_t
vw_seq_time_bound(const auditfs_view *v, int64_t t, int strict, uint64_t lo, uint64_t hi)
{
    return vspill_bound(&v->perseq, &v->spill, 0, (uint64_t)t ^ TIME_BIAS, strict, lo, hi);
}

uint64_t
vw_list_find_offset(const auditfs_view *v, const vlist *l, uint64_t off, uint64_t lo,
                    uint64_t hi)
{
    return vspill_bound(&l->ix, &v->spill, 1, off, 1, lo, hi);
}

uint64_t
vw_list_lower(const auditfs_view *v, const vlist *l, uint64_t seq)
{
    return vspill_bound(&l->ix, &v->spill, 0, seq, 0, 0, l->n);
}

uint64_t
vw_lines_pos(const auditfs_view *v, const vw_lines *ln, uint64_t k)
{
    (void)v;
    return ln->px ? vspill_get(ln->px, ln->pf, k, 0) : k;
}

uint64_t
vw_lines_end(const auditfs_view *v, const vw_lines *ln, uint64_t k)
{
    return ln->px ? vspill_get(ln->px, ln->pf, k, 1) : vw_list_end(v, ln->l, k);
}

uint64_t
vw_lines_find(const auditfs_view *v, const vw_lines *ln, uint64_t abs)
{
    if (ln->px)
        return vspill_bound(ln->px, ln->pf, 1, abs, 1, ln->from, ln->to);
    return vw_list_find_offset(v, ln->l, abs, ln->from, ln->to);
}

int
vw_spill_flush(auditfs_view *v)
{
    return vspill_file_flush(&v->spill);
}

/* The list of directory `dir` (a stream directory), created with its all.jsonl if needed. */
static int
list_of(uint32_t *out, auditfs_view *v, uint64_t dir)
{
    int err = 0;
    vnode *d = vw_node(v, dir);
    if (d->list) {
        *out = d->list - 1;
        return 0;
    }
    vlist nl;
    memset(&nl, 0, sizeof nl);
    vspill_init(&nl.ix, 2);
    nl.dir = dir;
    nl.day = INT64_MIN;
    uint64_t all = node_add(v, dir, "all.jsonl", K_LIST);
    if (!all)
        return auditfs_error_last_code();
    nl.all = all;
    VEC_PUSH(v->lists, v->nlists, v->caplists, nl, fail);
    vw_node(v, all)->list = (uint32_t)(v->nlists - 1);
    vw_node(v, dir)->list = (uint32_t)v->nlists;
    *out = (uint32_t)(v->nlists - 1);
    return 0;
fail:
    return err;
}

static int
list_add(auditfs_view *v, uint32_t li, uint64_t seq, uint64_t bytes, int64_t time_us)
{
    vlist *l = &v->lists[li];
    int err = 0;
    uint64_t rec[2] = {seq, (l->n ? l->ix.prev[1] : 0) + bytes};
    if ((err = vspill_push(&l->ix, &v->spill, rec)) != 0)
        return err;
    l->n++;
    vw_node_changed(v, l->all);
    int64_t day = vw_day_of(time_us);
    if (day != l->day) {
        char y[16], m[16], d[24];
        struct tm tm;
        time_t secs = (time_t)(day * 86400);
        gmtime_r(&secs, &tm);
        snprintf(y, sizeof y, "%04d", tm.tm_year + 1900);
        snprintf(m, sizeof m, "%02d", tm.tm_mon + 1);
        snprintf(d, sizeof d, "%02d.jsonl", tm.tm_mday);
        if (l->day_node)
            vw_node(v, l->day_node)->hi = l->n - 1;
        uint64_t yd = dir_ensure(v, l->dir, y);
        uint64_t md = yd ? dir_ensure(v, yd, m) : 0;
        uint64_t f = md ? node_add(v, md, d, K_LIST) : 0;
        if (!f)
            return err = auditfs_error_last_code();
        /* `l` may have moved: node_add does not touch lists, but be explicit */
        l = &v->lists[li];
        vw_node(v, f)->list = li;
        vw_node(v, f)->lo = l->n - 1;
        l->day_node = f;
        l->day = day;
    }
    vw_node_changed(v, l->day_node);
    return err;
}

static int
content_blob(vcontent *c, auditfs_view *v, const char *path)
{
    git_tree_entry *te = NULL;
    pthread_mutex_lock(&v->git_lock);
    if (git_tree_entry_bypath(&te, v->tree, path) == 0 &&
        git_tree_entry_type(te) == GIT_OBJECT_BLOB) {
        git_oid_cpy(&c->blob, git_tree_entry_id(te));
        c->have_blob = 1;
    }
    git_tree_entry_free(te);
    pthread_mutex_unlock(&v->git_lock);
    return 0; /* a missing blob is damage: the file exists and reads fail */
}

static int
add_content_file(auditfs_view *v, uint64_t dir, const char *fname, const auditfs_entry *e,
                 const char *blob_path, uint64_t *out)
{
    vcontent c;
    int err = 0;
    memset(&c, 0, sizeof c);
    c.seq = e->seq;
    c.len = e->content_length;
    memcpy(c.sha, e->content_sha256, 32);
    content_blob(&c, v, blob_path);
    uint64_t id = node_add(v, dir, fname, K_CONTENT);
    if (!id)
        return auditfs_error_last_code();
    VEC_PUSH(v->contents, v->ncontents, v->capcontents, c, fail);
    vw_node(v, id)->aux = (uint32_t)(v->ncontents - 1);
    *out = id;
    return 0;
fail:
    return err;
}

int
vw_apply(auditfs_view *v, const vrec *r)
{
    const auditfs_entry *e = r->e;
    int err;
    int32_t evday;
    if (r->seq != v->perseq.n)
        return afs_error_set(AUDITFS_EVERIFY, "entry %llu applied out of order",
                             (unsigned long long)r->seq);
    auditfs_entry_type type = auditfs_entry_type_of(e);
    int log = type == AUDITFS_TYPE_LOG || type == AUDITFS_TYPE_QUARANTINE;
    if ((err = vw_evday_of(&evday, r)) != 0) {
        if (log) /* only log entries are filed by event day */
            return err;
        evday = 0;
        auditfs_error_clear();
    }
    uint64_t rec[3] = {(uint64_t)r->time_us ^ TIME_BIAS, r->leaf_len, (uint64_t)(int64_t)evday};
    if ((err = vspill_push(&v->perseq, &v->spill, rec)) != 0)
        return err;
    if (r->time_us > v->newest)
        v->newest = r->time_us;
    if (log) {
        uint32_t li;
        int same = v->last_list && strcmp(v->last_stream, e->stream) == 0;
        if (same) {
            li = v->last_list - 1;
        } else {
            uint64_t sd = dir_ensure(v, v->streams, e->stream);
            if (!sd)
                return auditfs_error_last_code();
            if ((err = list_of(&li, v, sd)) != 0)
                return err;
            snprintf(v->last_stream, sizeof v->last_stream, "%s", e->stream);
            v->last_list = li + 1;
            v->last_tlist = 0;
        }
        if ((err = list_add(v, li, r->seq, r->payload_len + 1, r->time_us)) != 0 ||
            (err = vw_evday_add(v, li, v->lists[li].n - 1, r, evday)) != 0)
            return err;
        if (e->tenant[0]) {
            if (v->last_tlist && strcmp(v->last_tenant, e->tenant) == 0) {
                li = v->last_tlist - 1;
            } else {
                uint64_t td = dir_ensure(v, v->tenants, e->tenant);
                uint64_t tsd = td ? dir_ensure(v, td, e->stream) : 0;
                if (!tsd)
                    return auditfs_error_last_code();
                if ((err = list_of(&li, v, tsd)) != 0)
                    return err;
                snprintf(v->last_tenant, sizeof v->last_tenant, "%s", e->tenant);
                v->last_tlist = li + 1;
            }
            if ((err = list_add(v, li, r->seq, r->payload_len + 1, r->time_us)) != 0 ||
                (err = vw_evday_add(v, li, v->lists[li].n - 1, r, evday)) != 0)
                return err;
        }
        return 0;
    }
    if (type == AUDITFS_TYPE_DOCUMENT && e->has_content) {
        char name[AUDITFS_DOCNAME_MAX + 1], fname[64], bpath[AUDITFS_DOCNAME_MAX + 40];
        uint64_t dir = v->documents, id;
        snprintf(name, sizeof name, "%s", e->name);
        for (char *seg = strtok(name, "/"); seg; seg = strtok(NULL, "/"))
            if (!(dir = dir_ensure(v, dir, seg)))
                return 0; /* a name clash (e.g. "current"): leave this version out */
        snprintf(fname, sizeof fname, "v%llu%s", (unsigned long long)e->version,
                 ext_for(e->content_type));
        snprintf(bpath, sizeof bpath, "doc/%s/v%llu", e->name, (unsigned long long)e->version);
        if ((err = add_content_file(v, dir, fname, e, bpath, &id)) != 0)
            return err == AUDITFS_EEXISTS ? 0 : err;
        uint32_t pos;
        long k = vw_kid_find(v, vw_node(v, dir), "current", &pos);
        uint64_t link = k >= 0 ? vw_node(v, dir)->kids[k] : node_add(v, dir, "current", K_LINK);
        if (!link || vw_node(v, link)->kind != K_LINK)
            return 0;
        char *t = strdup(fname);
        if (!t)
            return afs_error_set(AUDITFS_ENOMEM, "out of memory");
        free(vw_node(v, link)->link);
        vw_node(v, link)->link = t;
        vw_node_changed(v, link);
        return 0;
    }
    if (type == AUDITFS_TYPE_NOTICE && e->has_content) {
        char slug[64], fname[128], bpath[48];
        uint64_t id;
        slugify(slug, sizeof slug, e->title);
        snprintf(fname, sizeof fname, "%012llu-%s%s", (unsigned long long)r->seq, slug,
                 ext_for(e->content_type));
        snprintf(bpath, sizeof bpath, "notice/%llu", (unsigned long long)r->seq);
        err = add_content_file(v, v->notices, fname, e, bpath, &id);
        return err == AUDITFS_EEXISTS ? 0 : err;
    }
    return 0;
}

/* ---- README ---- */

int
vw_make_readme(auditfs_view *v)
{
    char root[48];
    auditfs_hash_base64(root, &v->cp.root);
    v->readme.len = 0;
    return afs_buf_printf(
        &v->readme,
        "auditfs: a verified, read-only view of an audit ledger\n"
        "\n"
        "Ledger      %s\n"
        "Origin      %s\n"
        "Entries     %llu\n"
        "Root        %s\n"
        "Key         %s"
        "\n"
        "Everything below is pinned to the signed checkpoint in ./checkpoint, whose signature\n"
        "was checked with ./key.pub when this view was mounted. Every leaf was hashed and the\n"
        "RFC 6962 Merkle root recomputed; it equals the root above. Each read is checked again\n"
        "against that checkpoint before any byte is returned: a part of the repository that was\n"
        "changed since then reads as an I/O error (EIO) and is never served.\n"
        "\n"
        "Layout\n"
        "  streams/<stream>/all.jsonl             every payload of the stream, one per line\n"
        "  streams/<stream>/YYYY/MM/DD.jsonl      the same, split by ledger time (UTC day)\n"
        "  by-event-day/streams/<stream>/YYYY/MM/DD.jsonl\n"
        "  by-event-day/tenants/<tenant>/<stream>/YYYY/MM/DD.jsonl\n"
        "                                         the same, split by event time (the entry's\n"
        "                                         event-time header; an entry without one falls\n"
        "                                         under its ledger time), in ledger order\n"
        "  tenants/<tenant>/<stream>/...          the same, for one tenant's entries\n"
        "  documents/<name>/v<N>.<ext>, current   every published version; current -> newest\n"
        "  notices/<seq>-<title>.<ext>            change notices, oldest first\n"
        "  entries/<seq>                          the exact leaf bytes of entry <seq>\n"
        "  proofs/<seq>.json                      its inclusion proof against ./checkpoint\n"
        "  query/<terms>.jsonl                    the hits of `auditfs query <terms>` (query/README)\n"
        "Extended attributes user.auditfs.* give each file's first and last entry, and the\n"
        "checkpoint size and root it was verified against (getfattr -d -m user.auditfs FILE).\n"
        "\n"
        "Verify it yourself, without trusting this program's mount:\n"
        "  auditfs verify --ledger %s --key key.pub --trusted checkpoint\n"
        "recomputes everything from the git objects. For a single entry, its leaf hash is\n"
        "SHA-256(0x00 || entries/<seq>); proofs/<seq>.json is the RFC 6962 audit path from that\n"
        "hash to the root in ./checkpoint (`auditfs prove` prints the same proof). Keep a copy of\n"
        "./checkpoint: mounting later with --trusted proves the ledger still extends it.\n",
        v->path, v->cp.origin, (unsigned long long)v->cp.size, root, v->keypub, v->path);
}

uint64_t
vw_node_add(auditfs_view *v, uint64_t parent, const char *name, int kind)
{
    return node_add(v, parent, name, kind);
}

uint64_t
vw_dir_ensure(auditfs_view *v, uint64_t parent, const char *name)
{
    return dir_ensure(v, parent, name);
}

int
vw_build_skeleton(auditfs_view *v)
{
    uint64_t id;
    if (!node_add(v, 0, "", K_DIR)) /* the root, id 1 */
        return auditfs_error_last_code();
    static const struct {
        const char *name;
        int text;
    } texts[] = {{"README", T_README}, {"checkpoint", T_CHECKPOINT}, {"key.pub", T_KEY}};
    for (size_t i = 0; i < 3; i++) {
        if (!(id = node_add(v, 1, texts[i].name, K_TEXT)))
            return auditfs_error_last_code();
        vw_node(v, id)->aux = (uint32_t)texts[i].text;
    }
    if (!(v->streams = node_add(v, 1, "streams", K_DIR)) ||
        !(v->tenants = node_add(v, 1, "tenants", K_DIR)) ||
        !(v->documents = node_add(v, 1, "documents", K_DIR)) ||
        !(v->notices = node_add(v, 1, "notices", K_DIR)) ||
        !node_add(v, 1, "entries", K_ENTRIES) || !node_add(v, 1, "proofs", K_PROOFS) ||
        !(v->query_dir = node_add(v, 1, "query", K_QUERY)) ||
        !(id = node_add(v, 1, "by-event-day", K_DIR)) ||
        !(v->ev_streams = node_add(v, id, "streams", K_DIR)) ||
        !(v->ev_tenants = node_add(v, id, "tenants", K_DIR)))
        return auditfs_error_last_code();
    if (!(id = node_add(v, v->query_dir, "README", K_TEXT)))
        return auditfs_error_last_code();
    vw_node(v, id)->aux = T_QUERY_README;
    return 0;
}
