/* Unit tests of the last-sync record in the state directory (auditfs_state_record_sync). */
#include "auditfs/state.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char top[64], sdir[96], ldir[96];
static auditfs_state *st;

static void
setup(void)
{
    snprintf(top, sizeof top, "/tmp/auditfs-lastsync-XXXXXX");
    cr_assert(mkdtemp(top));
    snprintf(sdir, sizeof sdir, "%s/state", top);
    snprintf(ldir, sizeof ldir, "%s/ledger", top);
    cr_assert_eq(mkdir(ldir, 0700), 0);
    cr_assert_eq(auditfs_state_open(&st, sdir), 0, "%s", auditfs_error_last());
}

static void
teardown(void)
{
    char cmd[128];
    auditfs_state_free(st);
    snprintf(cmd, sizeof cmd, "rm -rf %s", top);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(lastsync, .init = setup, .fini = teardown);

static auditfs_sync_record
sample(void)
{
    auditfs_sync_record r;
    memset(&r, 0, sizeof r);
    r.time_us = 1764421200123456LL;
    r.size = 1303;
    memset(r.commit, 'a', 40);
    snprintf(r.origin, sizeof r.origin, "provider.example/acme");
    snprintf(r.remote, sizeof r.remote, "origin");
    snprintf(r.url, sizeof r.url, "https://alice:s3cret@ledgers.example/acme.git");
    return r;
}

/* the whole file, for checks on what was written */
static char *
slurp_record(void)
{
    char cmd[256], *buf = calloc(1, 8192);
    snprintf(cmd, sizeof cmd, "cat %s/syncs/*", sdir);
    FILE *p = popen(cmd, "r");
    cr_assert(p && buf);
    size_t n = fread(buf, 1, 8191, p);
    buf[n] = 0;
    pclose(p);
    return buf;
}

Test(lastsync, none_recorded_is_notfound)
{
    auditfs_sync_record r;
    cr_assert_eq(auditfs_state_last_sync(&r, st, ldir), AUDITFS_ENOTFOUND);
}

Test(lastsync, round_trip_without_the_password)
{
    auditfs_sync_record w = sample(), r;
    cr_assert_eq(auditfs_state_record_sync(st, ldir, &w), 0, "%s", auditfs_error_last());
    cr_assert_eq(auditfs_state_last_sync(&r, st, ldir), 0, "%s", auditfs_error_last());
    cr_assert_eq(r.time_us, w.time_us);
    cr_assert_eq(r.size, 1303);
    cr_assert_str_eq(r.commit, w.commit);
    cr_assert_str_eq(r.origin, "provider.example/acme");
    cr_assert_str_eq(r.remote, "origin");
    cr_assert_str_eq(r.url, "https://alice@ledgers.example/acme.git");
    char *file = slurp_record();
    cr_assert_null(strstr(file, "s3cret"), "the password was written: %s", file);
    cr_assert(strncmp(file, "auditfs-sync/1\nledger ", 22) == 0, "%s", file);
    free(file);
}

Test(lastsync, a_newer_record_replaces_the_old_one)
{
    auditfs_sync_record w = sample(), r;
    cr_assert_eq(auditfs_state_record_sync(st, ldir, &w), 0);
    w.size = 2000;
    w.time_us += 3600000000LL;
    cr_assert_eq(auditfs_state_record_sync(st, ldir, &w), 0);
    cr_assert_eq(auditfs_state_last_sync(&r, st, ldir), 0);
    cr_assert_eq(r.size, 2000);
    cr_assert_eq(r.time_us, w.time_us);
}

Test(lastsync, control_bytes_never_reach_the_file)
{
    auditfs_sync_record w = sample(), r;
    snprintf(w.remote, sizeof w.remote, "evil\nsize 9\x1b[2J");
    cr_assert_eq(auditfs_state_record_sync(st, ldir, &w), 0);
    cr_assert_eq(auditfs_state_last_sync(&r, st, ldir), 0, "%s", auditfs_error_last());
    cr_assert_str_eq(r.remote, "evil?size 9?[2J");
    cr_assert_eq(r.size, 1303);
}

Test(lastsync, a_damaged_record_is_a_format_error)
{
    auditfs_sync_record w = sample(), r;
    cr_assert_eq(auditfs_state_record_sync(st, ldir, &w), 0);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "sed -i 's/^size .*/size 12x/' %s/syncs/*", sdir);
    cr_assert_eq(system(cmd), 0);
    cr_assert_eq(auditfs_state_last_sync(&r, st, ldir), AUDITFS_EFORMAT);
    cr_assert_eq(r.size, 0);
}

Test(lastsync, a_record_of_another_directory_is_refused)
{
    auditfs_sync_record w = sample(), r;
    char other[128], cmd[512];
    snprintf(other, sizeof other, "%s/other", top);
    cr_assert_eq(mkdir(other, 0700), 0);
    cr_assert_eq(auditfs_state_record_sync(st, other, &w), 0);
    /* the other directory's record copied under this directory's name: it names another path */
    snprintf(cmd, sizeof cmd,
             "f=$(ls %s/syncs/*); h=$(printf %%s \"$(realpath %s)\" | sha256sum | cut -c1-64); "
             "mv \"$f\" %s/syncs/$h",
             sdir, ldir, sdir);
    cr_assert_eq(system(cmd), 0);
    cr_assert_eq(auditfs_state_last_sync(&r, st, ldir), AUDITFS_EFORMAT);
}
