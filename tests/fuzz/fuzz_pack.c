/*
 * libFuzzer target: the checked pack reader (ledger/pack.c) on a hostile .idx and .pack, and
 * the unchecked span reader of stored-deflate blobs (afs_packset_read_span) beside it.
 * Input: u32be length of the .idx, the .idx bytes, then the .pack bytes. Every object the .idx
 * names (up to 64) and one absent name are read: each read returns an object whose SHA-1 matches
 * its name, or fails; nothing else.
 */
#define OPENSSL_API_COMPAT 0x10101000L
#include "internal.h"
#include "pack.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static void *
plain_alloc(void *ctx, size_t n)
{
    (void)ctx;
    return malloc(n);
}

static void
put(const char *path, const uint8_t *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    if (n && fwrite(p, 1, n, f) != n)
        abort();
    fclose(f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char objects[64], dir[80], idxp[128], packp[128];
    if (!objects[0]) {
        snprintf(objects, sizeof objects, "/tmp/fuzz-pack.XXXXXX");
        if (!mkdtemp(objects))
            abort();
        snprintf(dir, sizeof dir, "%s/pack", objects);
        mkdir(dir, 0700);
        snprintf(idxp, sizeof idxp, "%s/pack-fuzz.idx", dir);
        snprintf(packp, sizeof packp, "%s/pack-fuzz.pack", dir);
    }
    if (size < 4)
        return 0;
    size_t il = afs_load_be32(data);
    if (il > size - 4)
        il = size - 4;
    put(idxp, data + 4, il);
    put(packp, data + 4 + il, size - 4 - il);
    afs_packset *ps = NULL;
    if (afs_packset_new(&ps, objects) != 0)
        abort();
    afs_packset_refresh(ps);
    for (size_t i = 0; i <= 64; i++) {
        git_oid oid;
        size_t at = 4 + 8 + 1024 + 20 * i;
        if (i < 64 && at + 20 <= 4 + il)
            git_oid_fromraw(&oid, data + at);
        else
            memset(&oid, 0xab, sizeof oid);
        void *obj = NULL;
        size_t len = 0;
        git_object_t type;
        int read_ok = afs_packset_read(ps, &oid, &obj, &len, &type, plain_alloc, NULL) == 0;
        /* the unchecked span reader (query hits): bounded on any bytes, and where both
         * readers succeed, the same bytes as the checked one */
        uint64_t sz = 0, sz2 = 0;
        static uint8_t span[4096];
        if (afs_packset_read_span(ps, &oid, 0, span, 0, &sz) == 0) {
            size_t n = sz < sizeof span ? (size_t)sz : sizeof span;
            uint64_t from = (sz - n) / 2;
            if (afs_packset_read_span(ps, &oid, from, span, n, &sz2) == 0 &&
                (sz2 != sz || (read_ok && (sz != len || memcmp(span, (uint8_t *)obj + from, n)))))
                abort();
        }
        if (read_ok) {
            char hdr[64];
            uint8_t sha[20];
            SHA_CTX c;
            int hl = snprintf(hdr, sizeof hdr, "%s %zu", git_object_type2string(type), len);
            SHA1_Init(&c);
            SHA1_Update(&c, hdr, (size_t)hl + 1);
            SHA1_Update(&c, obj, len);
            SHA1_Final(sha, &c);
            if (memcmp(sha, oid.id, 20) != 0)
                abort(); /* a read that succeeds returned the named object */
            free(obj);
        }
        if (i == 64 || at + 20 > 4 + il)
            break;
    }
    afs_packset_free(ps);
    return 0;
}
