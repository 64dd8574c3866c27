/*
 * ledger/lastsync.c - the last successful sync or clone of a replica, remembered in the state
 * directory (auditfs/state.h, docs/FORMAT.md section 15) so that `auditfs status` can say how
 * fresh a replica is.
 *
 * <state>/syncs/<sha256 hex of the replica's realpath>:
 *   auditfs-sync/1
 *   ledger <realpath>
 *   origin <origin>
 *   remote <remote as given>
 *   url <url fetched from>
 *   time <RFC 3339 UTC, microseconds>
 *   size <decimal>
 *   commit <40 hex>
 *
 * Invariants: a value never holds a newline or another control byte (written as '?'), and a
 * URL never holds the password of its userinfo; the file is replaced atomically (afs_write_atomic)
 * and read with a size cap, every line checked: a damaged file is EFORMAT naming it.
 */
#include "internal.h"

#include "auditfs/state.h"
#include "state_int.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SYNC_FORMAT "auditfs-sync/1\n"
#define SYNC_FILE_MAX 16384

/* <state>/syncs/<SHA-256 of the ledger's real path>, as the bindings in <state>/ledgers/ */
static int
sync_file(char *out, size_t cap, char *abs, auditfs_state *s, const char *ledger_path)
{
    return afs_state_ledger_file(out, cap, abs, s, "syncs", ledger_path);
}

/*
 * Copies a value into out (cap bytes): control bytes become '?', and in a URL the password of
 * "scheme://user:password@host..." is dropped (the user is kept).
 */
static void
clean_value(char *out, size_t cap, const char *v, int is_url)
{
    size_t o = 0;
    const char *skip_from = NULL, *skip_to = NULL;
    if (is_url) {
        const char *auth = strstr(v, "://");
        if (auth) {
            auth += 3;
            const char *end = auth + strcspn(auth, "/?#");
            const char *at = NULL;
            for (const char *p = auth; p < end; p++)
                if (*p == '@')
                    at = p; /* the last '@' before the path ends the userinfo */
            if (at) {
                const char *colon = memchr(auth, ':', (size_t)(at - auth));
                if (colon) {
                    skip_from = colon;
                    skip_to = at;
                }
            }
        }
    }
    for (const char *p = v; *p && o + 1 < cap; p++) {
        if (skip_from && p >= skip_from && p < skip_to)
            continue;
        unsigned char c = (unsigned char)*p;
        out[o++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    out[o] = 0;
}

int
auditfs_state_record_sync(auditfs_state *s, const char *ledger_path, const auditfs_sync_record *r)
{
    char f[PATH_MAX + 128], abs[PATH_MAX], d[PATH_MAX + 16], when[32];
    char origin[AUDITFS_NAME_MAX + 1], remote[1024], url[1024], ledger[PATH_MAX];
    afs_buf b = AFS_BUF_INIT;
    int err;
    if (!s || !ledger_path || !r)
        return afs_error_set(AUDITFS_EINVAL, "auditfs_state_record_sync: NULL argument");
    if ((err = sync_file(f, sizeof f, abs, s, ledger_path)) != 0)
        return err;
    clean_value(ledger, sizeof ledger, abs, 0);
    clean_value(origin, sizeof origin, r->origin, 0);
    clean_value(remote, sizeof remote, r->remote, 1);
    clean_value(url, sizeof url, r->url, 1);
    auditfs_format_time(when, r->time_us);
    snprintf(d, sizeof d, "%s/syncs", auditfs_state_path(s));
    if ((err = afs_mkdirs(d)) == 0 &&
        (err = afs_buf_printf(&b,
                              SYNC_FORMAT "ledger %s\norigin %s\nremote %s\nurl %s\ntime %s\n"
                                          "size %llu\ncommit %.40s\n",
                              ledger, origin, remote, url, when, (unsigned long long)r->size,
                              r->commit)) == 0)
        err = afs_write_atomic(f, b.data, b.len, 0600);
    afs_buf_release(&b);
    return err;
}

/* The value of "key " on the line starting at *p (advanced past it), into out (cap bytes). */
static int
take_line(char *out, size_t cap, char **p, const char *key)
{
    size_t kl = strlen(key);
    char *nl = strchr(*p, '\n');
    if (!nl || strncmp(*p, key, kl) != 0 || (*p)[kl] != ' ')
        return -1;
    size_t vl = (size_t)(nl - (*p + kl + 1));
    if (vl >= cap)
        return -1;
    memcpy(out, *p + kl + 1, vl);
    out[vl] = 0;
    for (size_t i = 0; i < vl; i++)
        if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
            return -1;
    *p = nl + 1;
    return 0;
}

int
auditfs_state_last_sync(auditfs_sync_record *out, auditfs_state *s, const char *ledger_path)
{
    char f[PATH_MAX + 128], abs[PATH_MAX], ledger[PATH_MAX], when[64], size[32];
    char *data = NULL, *p, *end;
    size_t len;
    int err;
    if (!out || !s || !ledger_path)
        return afs_error_set(AUDITFS_EINVAL, "auditfs_state_last_sync: NULL argument");
    memset(out, 0, sizeof *out);
    if ((err = sync_file(f, sizeof f, abs, s, ledger_path)) != 0)
        return err;
    if ((err = afs_read_regular(&data, &len, f, SYNC_FILE_MAX)) != 0) {
        if (err == AUDITFS_ENOTFOUND) { /* never synced (or cloned) into this state directory */
            auditfs_error_clear();
            return afs_error_set(AUDITFS_ENOTFOUND, "%s: no sync recorded", ledger_path);
        }
        return err;
    }
    p = data;
    if (strlen(data) != len || strncmp(p, SYNC_FORMAT, strlen(SYNC_FORMAT)) != 0)
        goto bad;
    p += strlen(SYNC_FORMAT);
    unsigned long long sz;
    if (take_line(ledger, sizeof ledger, &p, "ledger") || strcmp(ledger, abs) != 0 ||
        take_line(out->origin, sizeof out->origin, &p, "origin") ||
        take_line(out->remote, sizeof out->remote, &p, "remote") ||
        take_line(out->url, sizeof out->url, &p, "url") ||
        take_line(when, sizeof when, &p, "time") ||
        !auditfs_parse_time(&out->time_us, when) ||
        take_line(size, sizeof size, &p, "size") || size[0] < '0' || size[0] > '9' ||
        (errno = 0, sz = strtoull(size, &end, 10), *end != 0 || errno != 0) ||
        take_line(out->commit, sizeof out->commit, &p, "commit") || strlen(out->commit) != 40 ||
        *p != 0)
        goto bad;
    out->size = sz;
    free(data);
    return 0;
bad:
    free(data);
    auditfs_error_clear();
    memset(out, 0, sizeof *out);
    return afs_error_set(AUDITFS_EFORMAT, "%s: not an auditfs-sync/1 record of %s", f, abs);
}
