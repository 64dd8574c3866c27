/*
 * ledger/view_read.c - stat, lookup, readdir, readlink, read and xattrs of the pinned tree.
 *
 * stat never decompresses anything (sizes come from the tree's arrays); read copies bytes only
 * out of verified frames, verified contents, and proofs checked against the pinned root.
 */
#include "view_int.h"

#include <sodium.h>
#include <stdio.h>

/* ---- stat ---- */

static uint64_t
list_hi(const auditfs_view *v, const vnode *n)
{
    const vlist *l = &v->lists[n->list];
    return n->hi == NO_END || n->hi > l->n ? l->n : n->hi;
}

static uint64_t
incl_len(uint64_t index, uint64_t size)
{
    uint64_t n = 0;
    while (size > 1) {
        uint64_t k = 1;
        while (k * 2 < size)
            k *= 2;
        if (index < k) {
            size = k;
        } else {
            index -= k;
            size -= k;
        }
        n++;
    }
    return n;
}

static unsigned
digits(uint64_t x)
{
    unsigned d = 1;
    while (x >= 10) {
        x /= 10;
        d++;
    }
    return d;
}

/*
 * Length of proofs/<seq>.json without building the proof (ls -l of a million proofs):
 * {"leaf_index":N,"tree_size":T,"audit_path":["<44 base64 chars>",...]} plus '\n'.
 * read_proof checks that the proof it serves has exactly this length.
 */
static uint64_t
proof_size(uint64_t seq, uint64_t size)
{
    uint64_t n = incl_len(seq, size);
    return 14 + digits(seq) + 13 + digits(size) + 14 + 1 + 46 * n + (n ? n - 1 : 0) + 2 + 1;
}

static int
stat_locked(auditfs_view_stat *out, auditfs_view *v, uint64_t id)
{
    memset(out, 0, sizeof *out);
    out->id = id;
    out->mtime_us = v->newest;
    out->nlink = 1;
    if (id >= QUERY_BASE)
        return vw_query_stat(out, v, id, NULL);
    if (id >= ENT_BASE) {
        uint64_t seq = id >= PROOF_BASE ? id - PROOF_BASE : id - ENT_BASE;
        if (id >= PROOF_BASE + ENT_BASE || seq >= v->cp.size)
            return afs_error_set(AUDITFS_ENOTFOUND, "no node %llu", (unsigned long long)id);
        out->type = AUDITFS_NODE_FILE;
        out->mtime_us = vw_seq_time(v, seq);
        out->size = id >= PROOF_BASE ? proof_size(seq, v->cp.size) : vw_seq_leaflen(v, seq);
        return 0;
    }
    vnode *n = vw_node(v, id);
    if (!n)
        return afs_error_set(AUDITFS_ENOTFOUND, "no node %llu", (unsigned long long)id);
    switch (n->kind) {
    case K_DIR:
    case K_ENTRIES:
    case K_PROOFS:
    case K_QUERY:
        out->type = AUDITFS_NODE_DIR;
        out->nlink = 2;
        for (uint32_t i = 0; i < n->nkids; i++)
            out->nlink += v->nodes[n->kids[i] - 1].kind == K_DIR;
        if (n->kind == K_QUERY)
            out->flags = AUDITFS_VIEW_VOLATILE; /* its listing changes with use */
        break;
    case K_TEXT:
        out->type = AUDITFS_NODE_FILE;
        out->size = n->aux == T_README       ? v->readme.len
                    : n->aux == T_CHECKPOINT ? v->note_len
                    : n->aux == T_KEY        ? v->keypub_len
                                             : vw_query_readme_len;
        break;
    case K_LIST: {
        const vlist *l = &v->lists[n->list];
        uint64_t hi = list_hi(v, n);
        out->type = AUDITFS_NODE_FILE;
        if (hi > n->lo) {
            out->size = vw_list_end(v, l, hi - 1) - vw_list_start(v, l, n->lo);
            out->mtime_us = vw_seq_time(v, vw_list_seq(v, l, hi - 1));
        }
        break;
    }
    case K_EVDAY: {
        const vevday *ev = &v->evdays[n->aux];
        out->type = AUDITFS_NODE_FILE;
        out->size = ev->bytes;
        if (ev->n)
            out->mtime_us = vw_seq_time(v, vw_list_seq(v, &v->lists[ev->list], ev->last_pos));
        break;
    }
    case K_CONTENT:
        out->type = AUDITFS_NODE_FILE;
        out->size = v->contents[n->aux].len;
        out->mtime_us = vw_seq_time(v, v->contents[n->aux].seq);
        break;
    case K_LINK:
        out->type = AUDITFS_NODE_LINK;
        out->size = n->link ? strlen(n->link) : 0;
        break;
    }
    return 0;
}

int
auditfs_view_getattr(auditfs_view_stat *out, auditfs_view *v, uint64_t id)
{
    pthread_rwlock_rdlock(&v->lock);
    int err = stat_locked(out, v, id);
    pthread_rwlock_unlock(&v->lock);
    return err;
}

uint64_t
auditfs_view_parent(auditfs_view *v, uint64_t id)
{
    uint64_t p = 1;
    pthread_rwlock_rdlock(&v->lock);
    if (id >= QUERY_BASE) {
        p = v->query_dir;
    } else if (id >= PROOF_BASE) {
        p = 0;
    } else if (id >= ENT_BASE) {
        p = 0;
    } else if (vw_node(v, id)) {
        p = vw_node(v, id)->parent;
    }
    if (p == 0) { /* entries/ or proofs/ */
        for (uint32_t i = 0; i < v->nodes[0].nkids; i++) {
            vnode *k = &v->nodes[v->nodes[0].kids[i] - 1];
            if (k->kind == (id >= PROOF_BASE ? K_PROOFS : K_ENTRIES))
                p = v->nodes[0].kids[i];
        }
    }
    pthread_rwlock_unlock(&v->lock);
    return p ? p : 1;
}

static int
parse_seq(uint64_t *out, const char *s, size_t len)
{
    return afs_parse_u64(out, s, len) ? 0 : -1;
}

static int
lookup_locked(auditfs_view_stat *out, auditfs_view *v, uint64_t dir, const char *name)
{
    vnode *d = dir < ENT_BASE ? vw_node(v, dir) : NULL;
    uint64_t seq;
    if (!d)
        return afs_error_set(AUDITFS_ENOTFOUND, "no directory %llu", (unsigned long long)dir);
    if (d->kind == K_ENTRIES || d->kind == K_PROOFS) {
        size_t len = strlen(name);
        if (d->kind == K_PROOFS) {
            if (len < 6 || strcmp(name + len - 5, ".json") != 0)
                return afs_error_set(AUDITFS_ENOTFOUND, "%s: no such proof", name);
            len -= 5;
        }
        if (parse_seq(&seq, name, len) != 0 || seq >= v->cp.size)
            return afs_error_set(AUDITFS_ENOTFOUND, "%s: no such entry", name);
        return stat_locked(out, v, (d->kind == K_PROOFS ? PROOF_BASE : ENT_BASE) + seq);
    }
    if (d->kind != K_DIR && d->kind != K_QUERY)
        return afs_error_set(AUDITFS_EINVAL, "not a directory");
    uint32_t pos;
    long i = vw_kid_find(v, d, name, &pos);
    if (i < 0 && d->kind == K_QUERY)
        return vw_query_stat(out, v, 0, name);
    if (i < 0)
        return afs_error_set(AUDITFS_ENOTFOUND, "%s: no such file", name);
    return stat_locked(out, v, d->kids[i]);
}

int
auditfs_view_lookup(auditfs_view_stat *out, auditfs_view *v, uint64_t dir, const char *name)
{
    pthread_rwlock_rdlock(&v->lock);
    int err = lookup_locked(out, v, dir, name);
    pthread_rwlock_unlock(&v->lock);
    return err;
}

int
auditfs_view_lookup_path(auditfs_view_stat *out, auditfs_view *v, const char *path)
{
    char buf[1024];
    int err;
    snprintf(buf, sizeof buf, "%s", path);
    pthread_rwlock_rdlock(&v->lock);
    err = stat_locked(out, v, 1);
    for (char *save = NULL, *c = strtok_r(buf, "/", &save); c && !err;
         c = strtok_r(NULL, "/", &save))
        err = lookup_locked(out, v, out->id, c);
    pthread_rwlock_unlock(&v->lock);
    return err;
}

int
auditfs_view_readdir(auditfs_view *v, uint64_t dir, uint64_t pos, auditfs_view_dirent_cb cb,
                     void *payload)
{
    int err = 0;
    auditfs_view_stat st;
    pthread_rwlock_rdlock(&v->lock);
    vnode *d = dir < ENT_BASE ? vw_node(v, dir) : NULL;
    if (!d) {
        err = afs_error_set(AUDITFS_ENOTFOUND, "no directory %llu", (unsigned long long)dir);
    } else if (d->kind == K_ENTRIES || d->kind == K_PROOFS) {
        char name[40];
        for (uint64_t s = pos; s < v->cp.size; s++) {
            snprintf(name, sizeof name, d->kind == K_PROOFS ? "%llu.json" : "%llu",
                     (unsigned long long)s);
            stat_locked(&st, v, (d->kind == K_PROOFS ? PROOF_BASE : ENT_BASE) + s);
            if (cb(payload, name, &st, s + 1))
                break;
        }
    } else if (d->kind != K_DIR && d->kind != K_QUERY) {
        err = afs_error_set(AUDITFS_EINVAL, "not a directory");
    } else {
        int stop = 0;
        for (uint64_t i = pos; i < d->nkids && !stop; i++) {
            stat_locked(&st, v, d->kids[i]);
            stop = cb(payload, v->nodes[d->kids[i] - 1].name, &st, i + 1);
        }
        if (!stop && d->kind == K_QUERY)
            err = vw_query_list(v, d->nkids, pos, cb, payload);
    }
    pthread_rwlock_unlock(&v->lock);
    return err;
}

int
auditfs_view_readlink(char **out, auditfs_view *v, uint64_t id)
{
    int err = 0;
    pthread_rwlock_rdlock(&v->lock);
    vnode *n = id < ENT_BASE ? vw_node(v, id) : NULL;
    if (!n || n->kind != K_LINK || !n->link)
        err = afs_error_set(AUDITFS_EINVAL, "not a link");
    else if (!(*out = strdup(n->link)))
        err = afs_error_set(AUDITFS_ENOMEM, "out of memory");
    pthread_rwlock_unlock(&v->lock);
    return err;
}

/* ---- read ---- */

static void
copy_range(uint8_t *dst, uint64_t want_off, size_t want_len, const void *src, uint64_t src_off,
           size_t src_len)
{
    /* copies the intersection of [src_off, src_off+src_len) with the wanted range */
    uint64_t a = src_off > want_off ? src_off : want_off;
    uint64_t b1 = src_off + src_len, b2 = want_off + want_len;
    uint64_t b = b1 < b2 ? b1 : b2;
    if (a < b)
        memcpy(dst + (a - want_off), (const uint8_t *)src + (a - src_off), (size_t)(b - a));
}

int
vw_lines_read(auditfs_view *v, const vw_lines *ln, uint64_t off, uint8_t *buf, size_t len,
              int *first)
{
    const vlist *l = ln->l;
    uint64_t abs = ln->base + off;
    /* the first item whose end is beyond abs */
    uint64_t lo = vw_lines_find(v, ln, abs);
    centry *c = NULL;
    uint32_t cfi = UINT32_MAX;
    int err = 0;
    uint64_t k;
    for (k = lo; k < ln->to; k++) {
        uint64_t start = k ? vw_lines_end(v, ln, k - 1) : 0;
        if (start >= abs + len)
            break;
        uint64_t seq = vw_list_seq(v, l, vw_lines_pos(v, ln, k));
        /* the frame of the item before, most of the time (no search) */
        uint32_t fi = cfi != UINT32_MAX && seq - v->frames[cfi].first_seq < v->frames[cfi].count
                          ? cfi
                          : vw_frame_of(v, seq);
        if (fi != cfi) {
            vw_frame_put(v, c);
            c = NULL;
            if ((err = vw_frame_get(&c, v, fi, first)) != 0 ||
                (ln->on_frame && (err = ln->on_frame(ln->payload, v, c, fi, first)) != 0))
                break;
            cfi = fi;
        }
        const uint8_t *leaf, *payload;
        size_t leaf_len;
        vw_leaf_in(c, &v->frames[fi], seq, &leaf, &leaf_len, &payload);
        size_t plen = (size_t)(leaf + leaf_len - payload);
        if (plen + 1 != vw_lines_end(v, ln, k) - start) {
            err = vw_frame_damage(v, fi, first, "payload length differs from the index");
            break;
        }
        copy_range(buf, abs, len, payload, start, plen);
        copy_range(buf, abs, len, "\n", start + plen, 1);
    }
    vw_frame_put(v, c);
    if (!err && cfi != UINT32_MAX)
        vw_ahead_note(v, ln, lo, k, cfi);
    return err;
}

static int
read_list(auditfs_view *v, vnode *n, uint64_t off, uint8_t *buf, size_t len, int *first)
{
    const vlist *l = &v->lists[n->list];
    vw_lines ln = {l, NULL, NULL, n->lo, list_hi(v, n), vw_list_start(v, l, n->lo), NULL, NULL};
    return vw_lines_read(v, &ln, off, buf, len, first);
}

/* Leaf seq of the pinned tree: *leaf points into frame *c, valid until vw_frame_put(v, *c). */
static int
leaf_get(centry **c, const uint8_t **leaf, size_t *leaf_len, auditfs_view *v, uint64_t seq,
         int *first)
{
    uint32_t fi = vw_frame_of(v, seq);
    int err = vw_frame_get(c, v, fi, first);
    if (err)
        return err;
    vw_leaf_in(*c, &v->frames[fi], seq, leaf, leaf_len, NULL);
    return 0;
}

static int
read_leaf(auditfs_view *v, uint64_t seq, uint64_t off, uint8_t *buf, size_t len, int *first)
{
    centry *c = NULL;
    const uint8_t *leaf;
    size_t leaf_len;
    int err = leaf_get(&c, &leaf, &leaf_len, v, seq, first);
    if (err)
        return err;
    copy_range(buf, off, len, leaf, 0, leaf_len);
    vw_frame_put(v, c);
    return 0;
}

void
vw_tiles_clear(auditfs_view *v)
{
    for (unsigned i = 0; i < TILE_CACHE; i++) {
        free(v->tiles[i].data);
        v->tiles[i].data = NULL;
        v->tiles[i].path[0] = 0;
    }
}

/* Hash reader over the tiles of the pinned tree (git_lock held). */
static int
pinned_tile_reader(auditfs_hash *out, unsigned level, uint64_t index, void *payload)
{
    auditfs_view *v = payload;
    unsigned tl = level / 8, r = level % 8;
    uint64_t first = index << r, tidx = first >> 8, size = v->cp.size;
    uint64_t full = (8 * (tl + 1) >= 64) ? 0 : size >> (8 * (tl + 1));
    unsigned width = tidx < full ? 256 : (unsigned)((size >> (8 * tl)) & 255);
    char path[AUDITFS_TILE_PATH_MAX];
    uint8_t *data = NULL;
    size_t len = 0;
    int err;
    if (width == 0 || (first & 255) + (1u << r) > width)
        return afs_error_set(AUDITFS_EVERIFY, "tile %u/%llu: out of range", tl,
                             (unsigned long long)tidx);
    if ((err = auditfs_tile_path(path, tl, tidx, width)) != 0)
        return err;
    for (unsigned i = 0; i < TILE_CACHE; i++) {
        if (v->tiles[i].data && strcmp(v->tiles[i].path, path) == 0) {
            afs_hash_span(out->b, (const uint8_t(*)[32])(v->tiles[i].data + (first & 255) * 32),
                          1u << r);
            return 0;
        }
    }
    /* format 2: level 0 rebuilt from the pinned tree's segments (the proof is checked below) */
    if ((err = afs_tile_read(&data, &len, v->l->repo, v->tree, v->l->format, NULL, tl, tidx,
                             width)) != 0)
        return err;
    if (len != (size_t)width * 32) {
        free(data);
        return afs_error_set(AUDITFS_EVERIFY, "%s: wrong size", path);
    }
    afs_hash_span(out->b, (const uint8_t(*)[32])(data + (first & 255) * 32), 1u << r);
    unsigned slot = v->tile_next++ % TILE_CACHE;
    free(v->tiles[slot].data);
    v->tiles[slot].data = data;
    snprintf(v->tiles[slot].path, sizeof v->tiles[slot].path, "%s", path);
    return 0;
}

static int
read_proof(auditfs_view *v, uint64_t seq, uint64_t off, uint8_t *buf, size_t len, int *first)
{
    auditfs_inclusion_proof p;
    centry *c = NULL;
    char *json = NULL;
    const uint8_t *leaf;
    size_t leaf_len;
    auditfs_hash h;
    int err = leaf_get(&c, &leaf, &leaf_len, v, seq, first);
    if (err)
        return err;
    auditfs_leaf_hash(&h, leaf, leaf_len);
    vw_frame_put(v, c);
    memset(&p, 0, sizeof p);
    p.leaf_index = seq;
    p.tree_size = v->cp.size;
    pthread_mutex_lock(&v->git_lock);
    err = auditfs_merkle_prove_inclusion(p.path, &p.path_len, seq, v->cp.size, pinned_tile_reader,
                                         v);
    pthread_mutex_unlock(&v->git_lock);
    if (err || auditfs_merkle_verify_inclusion(&h, seq, v->cp.size, p.path, p.path_len,
                                               &v->cp.root) != 0) {
        if (first)
            *first = 1;
        return afs_error_set(AUDITFS_EVERIFY,
                             "proofs/%llu.json: the tiles in the repository do not prove entry "
                             "%llu against checkpoint %llu",
                             (unsigned long long)seq, (unsigned long long)seq,
                             (unsigned long long)v->cp.size);
    }
    if ((err = auditfs_inclusion_proof_to_json(&json, &p)) != 0)
        return err;
    size_t jl = strlen(json);
    if (jl + 1 != proof_size(seq, v->cp.size)) {
        free(json);
        return afs_error_set(AUDITFS_ERROR, "proofs/%llu.json: unexpected length",
                             (unsigned long long)seq);
    }
    copy_range(buf, off, len, json, 0, jl);
    copy_range(buf, off, len, "\n", jl, 1);
    free(json);
    return 0;
}

static int
read_content(auditfs_view *v, const vcontent *ct, uint64_t off, uint8_t *buf, size_t len,
             int *first)
{
    git_blob *blob = NULL;
    uint8_t h[32];
    int ok = 0;
    pthread_mutex_lock(&v->git_lock);
    if (ct->have_blob && git_blob_lookup(&blob, v->l->repo, &ct->blob) == 0 &&
        (uint64_t)git_blob_rawsize(blob) == ct->len) {
        afs_sha256(h, git_blob_rawcontent(blob), (size_t)ct->len);
        if (sodium_memcmp(h, ct->sha, 32) == 0) {
            copy_range(buf, off, len, git_blob_rawcontent(blob), 0, (size_t)ct->len);
            ok = 1;
        }
    }
    git_blob_free(blob);
    pthread_mutex_unlock(&v->git_lock);
    if (ok)
        return 0;
    if (first)
        *first = 1;
    return afs_error_set(AUDITFS_EVERIFY,
                         "content of entry %llu does not match its length and SHA-256",
                         (unsigned long long)ct->seq);
}

int
auditfs_view_read(auditfs_view *v, uint64_t id, uint64_t off, void *buf, size_t len, size_t *got,
                  int *first_report)
{
    auditfs_view_stat st;
    int err;
    *got = 0;
    if (first_report)
        *first_report = 0;
    pthread_rwlock_rdlock(&v->lock);
    if ((err = stat_locked(&st, v, id)) != 0)
        goto done;
    if (st.type != AUDITFS_NODE_FILE) {
        err = afs_error_set(AUDITFS_EINVAL, "not a file");
        goto done;
    }
    if (off >= st.size)
        goto done;
    if (len > st.size - off)
        len = (size_t)(st.size - off);
    if (id >= QUERY_BASE) {
        err = vw_query_read(v, id, off, buf, len, got, first_report);
        len = *got;
    } else if (id >= PROOF_BASE) {
        err = read_proof(v, id - PROOF_BASE, off, buf, len, first_report);
    } else if (id >= ENT_BASE) {
        err = read_leaf(v, id - ENT_BASE, off, buf, len, first_report);
    } else {
        vnode *n = vw_node(v, id);
        switch (n->kind) {
        case K_TEXT: {
            const char *t = n->aux == T_README       ? v->readme.data
                            : n->aux == T_CHECKPOINT ? v->note
                            : n->aux == T_KEY        ? v->keypub
                                                     : vw_query_readme;
            memcpy(buf, t + off, len);
            break;
        }
        case K_LIST: err = read_list(v, n, off, buf, len, first_report); break;
        case K_EVDAY: err = vw_evday_read(v, n, off, buf, len, first_report); break;
        case K_CONTENT:
            err = read_content(v, &v->contents[n->aux], off, buf, len, first_report);
            break;
        default: err = afs_error_set(AUDITFS_EINVAL, "not a file"); break;
        }
        if (err == AUDITFS_EVERIFY)
            n->damaged = 1;
    }
    if (!err)
        *got = len;
done:
    pthread_rwlock_unlock(&v->lock);
    return err;
}

/* ---- xattrs ---- */

static void
xattr_set(auditfs_view_xattr *x, size_t *k, const char *name, const char *fmt, ...)
    AFS_PRINTF(4, 5);
static void
xattr_set(auditfs_view_xattr *x, size_t *k, const char *name, const char *fmt, ...)
{
    va_list ap;
    snprintf(x[*k].name, sizeof x[*k].name, "user.auditfs.%s", name);
    va_start(ap, fmt);
    vsnprintf(x[*k].value, sizeof x[*k].value, fmt, ap);
    va_end(ap);
    (*k)++;
}

int
auditfs_view_xattrs(auditfs_view_xattr out[AUDITFS_VIEW_XATTR_MAX], size_t *n, auditfs_view *v,
                    uint64_t id)
{
    auditfs_view_stat st;
    char root[48];
    uint64_t first = UINT64_MAX, last = 0;
    int damaged = 0;
    size_t k = 0;
    pthread_rwlock_rdlock(&v->lock);
    int err = stat_locked(&st, v, id);
    if (err)
        goto done;
    if (id >= QUERY_BASE) {
        vw_query_info(v, id, &first, &last, &damaged);
    } else if (id >= ENT_BASE) {
        first = last = id >= PROOF_BASE ? id - PROOF_BASE : id - ENT_BASE;
    } else {
        vnode *nd = vw_node(v, id);
        damaged = nd->damaged;
        if (nd->kind == K_LIST) {
            const vlist *l = &v->lists[nd->list];
            uint64_t hi = list_hi(v, nd);
            if (hi > nd->lo) {
                first = vw_list_seq(v, l, nd->lo);
                last = vw_list_seq(v, l, hi - 1);
            }
        } else if (nd->kind == K_EVDAY && v->evdays[nd->aux].n) {
            const vevday *ev = &v->evdays[nd->aux];
            first = vw_list_seq(v, &v->lists[ev->list], ev->first_pos);
            last = vw_list_seq(v, &v->lists[ev->list], ev->last_pos);
        } else if (nd->kind == K_CONTENT) {
            first = last = v->contents[nd->aux].seq;
        } else if (nd->kind == K_TEXT && v->cp.size) {
            first = 0;
            last = v->cp.size - 1;
        }
    }
    if (first != UINT64_MAX) {
        xattr_set(out, &k, "first_seq", "%llu", (unsigned long long)first);
        xattr_set(out, &k, "last_seq", "%llu", (unsigned long long)last);
    }
    auditfs_hash_base64(root, &v->cp.root);
    xattr_set(out, &k, "checkpoint_size", "%llu", (unsigned long long)v->cp.size);
    xattr_set(out, &k, "checkpoint_root", "%s", root);
    xattr_set(out, &k, "origin", "%.90s", v->cp.origin);
    xattr_set(out, &k, "verified", "%s",
              damaged ? "no: a read failed verification (see the mount's log)" : "yes");
done:
    pthread_rwlock_unlock(&v->lock);
    *n = k;
    return err;
}
