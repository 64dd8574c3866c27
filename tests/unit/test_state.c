/* Unit tests of the verifier's memory (auditfs/state.h, auditfs/trust.h). */
#include "auditfs/ledger.h"
#include "auditfs/state.h"
#include "auditfs/trust.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char top[64], sdir[96], ldir[96];
static auditfs_signer *key;
static auditfs_verifier *vkey;
static auditfs_state *st;

static void
setup(void)
{
    snprintf(top, sizeof top, "/tmp/auditfs-state-XXXXXX");
    cr_assert(mkdtemp(top));
    snprintf(sdir, sizeof sdir, "%s/state", top);
    snprintf(ldir, sizeof ldir, "%s/ledger", top);
    cr_assert_eq(auditfs_signer_generate(&key, "state.test/acme"), 0);
    cr_assert_eq(auditfs_signer_verifier(&vkey, key), 0);
    cr_assert_eq(auditfs_state_open(&st, sdir), 0, "%s", auditfs_error_last());
}

static void
teardown(void)
{
    char cmd[128];
    auditfs_state_free(st);
    snprintf(cmd, sizeof cmd, "rm -rf %s", top);
    cr_assert_eq(system(cmd), 0);
    auditfs_signer_free(key);
    auditfs_verifier_free(vkey);
}

TestSuite(state, .init = setup, .fini = teardown);

Test(state, default_path_prefers_auditfs_state)
{
    char p[256];
    setenv("AUDITFS_STATE", "/x/y", 1);
    cr_assert_eq(auditfs_state_default_path(p, sizeof p), 0);
    cr_assert_str_eq(p, "/x/y");
    unsetenv("AUDITFS_STATE");
    setenv("XDG_STATE_HOME", "/xdg", 1);
    cr_assert_eq(auditfs_state_default_path(p, sizeof p), 0);
    cr_assert_str_eq(p, "/xdg/auditfs");
    unsetenv("XDG_STATE_HOME");
    setenv("HOME", "/home/u", 1);
    cr_assert_eq(auditfs_state_default_path(p, sizeof p), 0);
    cr_assert_str_eq(p, "/home/u/.local/state/auditfs");
}

Test(state, pin_list_unpin)
{
    auditfs_verifier **keys = NULL;
    size_t n = 0;
    cr_assert_eq(auditfs_state_keys(&keys, &n, st, "state.test/acme"), 0);
    cr_assert_eq(n, 0);
    cr_assert_eq(auditfs_state_pin(st, "state.test/acme", vkey), 0);
    cr_assert_eq(auditfs_state_pin(st, "state.test/acme", vkey), 0, "pinning twice is a no-op");
    cr_assert_eq(auditfs_state_keys(&keys, &n, st, "state.test/acme"), 0);
    cr_assert_eq(n, 1);
    cr_assert(auditfs_verifier_equal(keys[0], vkey));
    auditfs_state_keys_free(keys, n);
    char path[256];
    struct stat sb;
    snprintf(path, sizeof path, "%s/origins/state.test%%2Facme/keys", auditfs_state_path(st));
    cr_assert_eq(stat(path, &sb), 0, "the origin is percent-encoded: %s", path);
    cr_assert_eq(sb.st_mode & 077, 0, "state files are private");
    char **origins = NULL;
    cr_assert_eq(auditfs_state_origins(&origins, &n, st), 0);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(origins[0], "state.test/acme");
    free(origins[0]);
    free(origins);
    cr_assert_eq(auditfs_state_unpin(st, "state.test/acme", vkey), 0);
    cr_assert_eq(auditfs_state_unpin(st, "state.test/acme", vkey), AUDITFS_ENOTFOUND);
}

Test(state, remember_is_atomic_replace)
{
    char *note = NULL;
    size_t len;
    cr_assert_eq(auditfs_state_checkpoint(&note, &len, st, "o", AUDITFS_STATE_SEEN),
                 AUDITFS_ENOTFOUND);
    cr_assert_eq(auditfs_state_remember(st, "o", AUDITFS_STATE_SEEN, "a\n", 2), 0);
    cr_assert_eq(auditfs_state_remember(st, "o", AUDITFS_STATE_SEEN, "bb\n", 3), 0);
    cr_assert_eq(auditfs_state_checkpoint(&note, &len, st, "o", AUDITFS_STATE_SEEN), 0);
    cr_assert_eq(len, 3);
    cr_assert_str_eq(note, "bb\n");
    free(note);
    cr_assert_eq(auditfs_state_checkpoint(&note, &len, st, "o", AUDITFS_STATE_SIGNED),
                 AUDITFS_ENOTFOUND, "seen and signed are separate");
}

Test(state, refused_inside_a_git_directory)
{
    auditfs_state *s2 = NULL;
    char inside[160];
    cr_assert_eq(auditfs_ledger_init(ldir, key, NULL), 0, "%s", auditfs_error_last());
    snprintf(inside, sizeof inside, "%s/state", ldir);
    cr_assert_eq(auditfs_state_open(&s2, inside), AUDITFS_EINVAL);
    cr_assert(strstr(auditfs_error_last(), "inside"));
    cr_assert_eq(auditfs_state_check_outside(st, ldir), 0);
    cr_assert_eq(auditfs_state_check_outside(st, top), AUDITFS_EINVAL);
}

Test(state, bindings)
{
    char o[AUDITFS_NAME_MAX + 1];
    cr_assert_eq(auditfs_ledger_init(ldir, key, NULL), 0);
    cr_assert_eq(auditfs_state_bound_origin(o, st, ldir), AUDITFS_ENOTFOUND);
    cr_assert_eq(auditfs_state_bind(st, ldir, "state.test/acme"), 0);
    cr_assert_eq(auditfs_state_bound_origin(o, st, ldir), 0);
    cr_assert_str_eq(o, "state.test/acme");
    cr_assert_eq(auditfs_state_unbind(st, ldir), 0);
    cr_assert_eq(auditfs_state_bound_origin(o, st, ldir), AUDITFS_ENOTFOUND);
}

/* the trust check: pins on first use, remembers, refuses a smaller head with EFORK */
Test(state, trust_pins_remembers_and_refuses_rollback)
{
    auditfs_ledger *l = NULL;
    auditfs_writer *w = NULL;
    auditfs_trust_result r;
    auditfs_trust_options none = {NULL, NULL, 0}, withkey = {NULL, vkey, 0};
    auditfs_writer_options wo = AUDITFS_WRITER_OPTIONS_INIT;
    wo.wait_for_lock = 1;
    uint64_t size;
    cr_assert_eq(auditfs_ledger_init(ldir, key, NULL), 0);
    cr_assert_eq(auditfs_ledger_open(&l, ldir), 0);
    cr_assert_eq(auditfs_ledger_trust(&r, l, st, &none), AUDITFS_EKEY, "no key pinned");
    cr_assert(strstr(auditfs_error_last(), "state.test/acme"), "names the origin");
    cr_assert_eq(auditfs_ledger_trust(&r, l, st, &withkey), 0, "%s", auditfs_error_last());
    cr_assert_eq(r.pinned, 1);
    cr_assert_eq(r.bound, 1);
    auditfs_ledger_free(l);
    /* two batches, read in between and after */
    for (int b = 0; b < 2; b++) {
        cr_assert_eq(auditfs_writer_open(&w, ldir, key, &wo), 0, "%s", auditfs_error_last());
        auditfs_entry e;
        memset(&e, 0, sizeof e);
        snprintf(e.type, sizeof e.type, "log");
        snprintf(e.stream, sizeof e.stream, "api");
        e.payload = (const uint8_t *)"{}";
        e.payload_len = 2;
        cr_assert_eq(auditfs_writer_add(w, &e, NULL, 0, NULL), 0);
        cr_assert_eq(auditfs_writer_commit(w, &size), 0);
        auditfs_writer_free(w);
        cr_assert_eq(auditfs_ledger_open(&l, ldir), 0);
        cr_assert_eq(auditfs_ledger_trust(&r, l, st, &none), 0, "%s", auditfs_error_last());
        cr_assert_eq(r.advanced, 1);
        auditfs_ledger_free(l);
    }
    /* the memory holds size 2: a consistency proof from it is needed, and a rollback fails */
    char *seen = NULL;
    size_t seenlen;
    cr_assert_eq(auditfs_state_checkpoint(&seen, &seenlen, st, "state.test/acme",
                                          AUDITFS_STATE_SEEN), 0);
    cr_assert(strstr(seen, "\n2\n"));
    free(seen);
    /* another ledger of the same origin and key at size 0 (its directory is not bound yet):
     * a rollback from the remembered size 2 */
    auditfs_ledger *l0 = NULL;
    char l0dir[160];
    snprintf(l0dir, sizeof l0dir, "%s/l0", top);
    cr_assert_eq(auditfs_ledger_init(l0dir, key, NULL), 0);
    cr_assert_eq(auditfs_ledger_open(&l0, l0dir), 0);
    cr_assert_eq(auditfs_ledger_trust(&r, l0, st, &none), AUDITFS_EFORK);
    cr_assert(strstr(auditfs_error_last(), "rollback"), "%s", auditfs_error_last());
    cr_assert_neq(r.evidence[0], 0, "evidence written");
    char p[4200];
    struct stat sb;
    snprintf(p, sizeof p, "%s/presented.checkpoint", r.evidence);
    cr_assert_eq(stat(p, &sb), 0);
    auditfs_ledger_free(l0);
}

/* a side ref (what a fetch writes) is checked against the memory without advancing it */
Test(state, side_ref_checked_without_advancing)
{
    auditfs_ledger *l = NULL, *side = NULL;
    auditfs_writer *w = NULL;
    auditfs_trust_result r;
    auditfs_trust_options withkey = {NULL, vkey, 0};
    auditfs_writer_options wo = AUDITFS_WRITER_OPTIONS_INIT;
    wo.wait_for_lock = 1;
    char cmd[512], *note = NULL;
    size_t len;
    cr_assert_eq(auditfs_ledger_init(ldir, key, NULL), 0);
    for (int b = 0; b < 2; b++) {
        auditfs_entry e;
        memset(&e, 0, sizeof e);
        snprintf(e.type, sizeof e.type, "log");
        snprintf(e.stream, sizeof e.stream, "api");
        e.payload = (const uint8_t *)"{}";
        e.payload_len = 2;
        cr_assert_eq(auditfs_writer_open(&w, ldir, key, &wo), 0);
        cr_assert_eq(auditfs_writer_add(w, &e, NULL, 0, NULL), 0);
        cr_assert_eq(auditfs_writer_commit(w, NULL), 0);
        auditfs_writer_free(w);
    }
    /* the side ref is one batch behind main; the memory is at main */
    snprintf(cmd, sizeof cmd, "git -C %s update-ref refs/auditfs/incoming main~1", ldir);
    cr_assert_eq(system(cmd), 0);
    cr_assert_eq(auditfs_ledger_open(&l, ldir), 0);
    cr_assert_eq(auditfs_ledger_trust(&r, l, st, &withkey), 0, "%s", auditfs_error_last());
    cr_assert_eq(auditfs_ledger_open_ref(&side, ldir, "refs/auditfs/incoming"), 0, "%s",
                 auditfs_error_last());
    cr_assert_eq(auditfs_ledger_checkpoint_note(&note, &len, side), 0);
    cr_assert_eq(auditfs_trust_check(&r, st, side, note, len, AUDITFS_TRUST_NO_ADVANCE),
                 AUDITFS_EFORK, "a side ref behind the memory is a rollback");
    free(note);
    /* and main itself, checked through the side-ref handle of a later state, passes */
    cr_assert_eq(auditfs_ledger_checkpoint_note(&note, &len, l), 0);
    cr_assert_eq(auditfs_trust_check(&r, st, l, note, len, AUDITFS_TRUST_NO_ADVANCE), 0);
    cr_assert_eq(r.advanced, 0);
    free(note);
    auditfs_ledger_free(side);
    auditfs_ledger_free(l);
}

/* a reader between a writer's "remember the signed checkpoint" and "move the ref" (or after
 * the writer was killed there) sees the parent as the head: that is not a rollback, and the next
 * writer publishes the remembered commit instead of signing another root for its size */
Test(state, pending_batch_is_not_a_rollback)
{
    auditfs_ledger *l = NULL;
    auditfs_writer *w = NULL;
    auditfs_trust_result r;
    auditfs_trust_options withkey = {NULL, vkey, 0};
    auditfs_writer_options wo = AUDITFS_WRITER_OPTIONS_INIT;
    wo.wait_for_lock = 1;
    wo.state = st;
    char cmd[512];
    uint64_t size = 0;
    cr_assert_eq(auditfs_ledger_init(ldir, key, NULL), 0);
    for (int b = 0; b < 2; b++) {
        auditfs_entry e;
        memset(&e, 0, sizeof e);
        snprintf(e.type, sizeof e.type, "log");
        snprintf(e.stream, sizeof e.stream, "api");
        e.payload = (const uint8_t *)"{}";
        e.payload_len = 2;
        cr_assert_eq(auditfs_writer_open(&w, ldir, key, &wo), 0, "%s", auditfs_error_last());
        cr_assert_eq(auditfs_writer_add(w, &e, NULL, 0, NULL), 0);
        cr_assert_eq(auditfs_writer_commit(w, &size), 0);
        auditfs_writer_free(w);
    }
    cr_assert_eq(size, 2);
    /* the state remembers size 2 as signed, with its commit; the ref goes back to size 1 */
    snprintf(cmd, sizeof cmd, "git -C %s update-ref refs/heads/main main~1", ldir);
    cr_assert_eq(system(cmd), 0);
    cr_assert_eq(auditfs_ledger_open(&l, ldir), 0);
    cr_assert_eq(auditfs_ledger_trust(&r, l, st, &withkey), 0, "%s", auditfs_error_last());
    auditfs_ledger_free(l);
    /* the next writer publishes the remembered batch (size 2), it does not sign another */
    cr_assert_eq(auditfs_writer_open(&w, ldir, key, &wo), 0, "%s", auditfs_error_last());
    cr_assert_eq(auditfs_writer_commit(w, &size), 0);
    cr_assert_eq(size, 2, "the writer moved forward to the remembered commit");
    auditfs_writer_free(w);
    /* two commits back is a rollback, pending batch or not */
    snprintf(cmd, sizeof cmd, "git -C %s update-ref refs/heads/main main~2", ldir);
    cr_assert_eq(system(cmd), 0);
    cr_assert_eq(auditfs_writer_open(&w, ldir, key, &wo), AUDITFS_EFORK);
    cr_assert_eq(auditfs_ledger_open(&l, ldir), 0);
    cr_assert_eq(auditfs_ledger_trust(&r, l, st, &withkey), AUDITFS_EFORK);
    auditfs_ledger_free(l);
}
