/*
 * Unit tests of the library's incident pieces: the responsibility matrix parser and its
 * evaluation, the manifest and layout checks of a bundle, and golden reports (the committed
 * fixtures' report.md/html, regenerated in the version each bundle names).
 */
#include "auditfs/bundle.h"
#include "auditfs/matrix.h"
#include "auditfs/report.h"
#include "internal.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char scratch[] = "/tmp/auditfs-unit-bundle.XXXXXX";

static void
setup(void)
{
    cr_assert_not_null(mkdtemp(scratch));
    char state[600];
    snprintf(state, sizeof state, "%s/state", scratch);
    setenv("AUDITFS_STATE", state, 1);
}

static void
teardown(void)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", scratch);
    cr_assert_eq(system(cmd), 0);
}

static const char *
fixture(const char *rel)
{
    static char path[4096];
    const char *root = getenv("SOURCE_ROOT");
    snprintf(path, sizeof path, "%s/tests/fixtures/%s", root ? root : "..", rel);
    return path;
}

/* ---- the matrix ---- */

#define LAYERS_OK                                                                              \
    "\"facility\":\"provider\",\"hardware\":\"provider\",\"virtualization\":\"provider\","     \
    "\"platform\":\"customer\",\"application\":\"shared\",\"data\":\"customer\""

static int
parse(auditfs_matrix **m, const char *json)
{
    return auditfs_matrix_parse(m, (const uint8_t *)json, strlen(json));
}

Test(matrix, default_parses_and_evaluates)
{
    auditfs_matrix *m = NULL;
    cr_assert_eq(parse(&m, auditfs_matrix_default()), 0, "%s", auditfs_error_last());
    cr_assert_str_eq(auditfs_matrix_responsible(m, "IaaS", "data"), "customer");
    cr_assert_str_eq(auditfs_matrix_responsible(m, "PaaS", "platform"), "shared");
    cr_assert_null(auditfs_matrix_responsible(m, "FaaS", "data"));
    cr_assert_null(auditfs_matrix_responsible(m, "IaaS", "dat"));
    cr_assert_null(auditfs_matrix_service_type(m, "acme"), "the default names no tenant");
    auditfs_matrix_free(m);
}

Test(matrix, evaluation_verdicts)
{
    auditfs_matrix *m = NULL;
    const char *st, *rp;
    cr_assert_eq(parse(&m, "{\"format\":\"auditfs-responsibility/1\",\"service_types\":{\"IaaS\":{"
                           LAYERS_OK "}},\"tenants\":{\"acme\":\"IaaS\",\"beta\":\"SaaS\"}}"),
                 0, "%s", auditfs_error_last());
    cr_assert_eq(auditfs_matrix_evaluate(m, "acme", "provider", "data", &st, &rp),
                 AUDITFS_MATRIX_MISMATCH);
    cr_assert_str_eq(st, "IaaS");
    cr_assert_str_eq(rp, "customer");
    cr_assert_eq(auditfs_matrix_evaluate(m, "acme", "customer", "data", NULL, NULL),
                 AUDITFS_MATRIX_OK);
    cr_assert_eq(auditfs_matrix_evaluate(m, "acme", "provider", "application", NULL, NULL),
                 AUDITFS_MATRIX_OK, "a shared layer is nobody's mismatch");
    cr_assert_eq(auditfs_matrix_evaluate(m, "acme", "provider", "", NULL, NULL),
                 AUDITFS_MATRIX_NO_HEADERS);
    cr_assert_eq(auditfs_matrix_evaluate(m, "gamma", "provider", "data", &st, NULL),
                 AUDITFS_MATRIX_NO_TYPE);
    cr_assert_null(st);
    cr_assert_eq(auditfs_matrix_evaluate(m, "beta", "provider", "data", NULL, NULL),
                 AUDITFS_MATRIX_NO_LAYER, "SaaS is not in this matrix");
    auditfs_matrix_free(m);
}

static void
refused(const char *json, int code, const char *needle)
{
    auditfs_matrix *m = (auditfs_matrix *)1;
    int err = parse(&m, json);
    cr_assert_eq(err, code, "%s: got %d (%s)", json, err, auditfs_error_last());
    cr_assert_null(m);
    cr_assert(strstr(auditfs_error_last(), needle), "'%s' should say '%s'",
              auditfs_error_last(), needle);
}

Test(matrix, party_names_are_exact)
{
    refused("{\"service_types\":{\"IaaS\":{\"facility\":\"p\",\"hardware\":\"provider\","
            "\"virtualization\":\"provider\",\"platform\":\"customer\",\"application\":"
            "\"customer\",\"data\":\"c\"}}}",
            AUDITFS_EFORMAT, "'p' is not provider");
    refused("{\"service_types\":{\"IaaS\":{" LAYERS_OK ",\"data\":\"customers\"}}}",
            AUDITFS_EFORMAT, "customers");
    refused("{\"service_types\":{\"IaaS\":{\"facility\":\"Provider\",\"hardware\":\"provider\","
            "\"virtualization\":\"provider\",\"platform\":\"customer\",\"application\":"
            "\"customer\",\"data\":\"customer\"}}}",
            AUDITFS_EFORMAT, "'Provider'");
    refused("{\"service_types\":{\"IaaS\":{\"facil\":\"provider\"}}}", AUDITFS_EFORMAT,
            "'facil' is not a layer");
}

Test(matrix, malformed_documents)
{
    refused("{\"format\":\"auditfs-responsibility/2\",\"service_types\":{\"IaaS\":{" LAYERS_OK
            "}}}", AUDITFS_EFORMAT, "format");
    refused("{\"service_types\":{\"IaaS\":{\"facility\":\"provider\"}}}", AUDITFS_EFORMAT,
            "no party for layer 'hardware'");
    refused("{\"service_types\":{}}", AUDITFS_EFORMAT, "no service_types");
    refused("{\"service_types\":{\"IaaS\":{" LAYERS_OK "},\"IaaS\":{" LAYERS_OK "}}}",
            AUDITFS_EFORMAT, "twice");
    refused("{\"service_types\":{\"IaaS\":{" LAYERS_OK "}},\"tenants\":{\"acme\":7}}",
            AUDITFS_EFORMAT, "not a service type");
    refused("{\"service_types\":{\"IaaS\":{" LAYERS_OK "}},\"tenants\":{\"a b\":\"IaaS\"}}",
            AUDITFS_EFORMAT, "not a tenant name");
    refused("[1]", AUDITFS_EFORMAT, "not a JSON object");
    refused("{\"service_types\":{\"IaaS\":{" LAYERS_OK "}}", AUDITFS_EFORMAT,
            "not a JSON object");
}

/* ---- golden reports ---- */

static void
golden(const char *bundle, int version)
{
    char rel[256];
    auditfs_bundle *b = NULL;
    char *md = NULL, *html = NULL;
    uint8_t *want = NULL;
    size_t ml, hl, wl;
    cr_assert_eq(auditfs_bundle_load(&b, fixture(bundle)), 0, "%s", auditfs_error_last());
    cr_assert_eq(auditfs_bundle_report_version(b), version);
    cr_assert_eq(auditfs_report_build(&md, &ml, &html, &hl, b, version), 0);
    snprintf(rel, sizeof rel, "%s/report.md", bundle);
    cr_assert_eq(auditfs_read_file(&want, &wl, fixture(rel), 1 << 24), 0);
    cr_assert(wl == ml && !memcmp(want, md, ml), "%s: report.md differs from the golden file",
              bundle);
    free(want);
    snprintf(rel, sizeof rel, "%s/report.html", bundle);
    cr_assert_eq(auditfs_read_file(&want, &wl, fixture(rel), 1 << 24), 0);
    cr_assert(wl == hl && !memcmp(want, html, hl), "%s: report.html differs", bundle);
    free(want);
    free(md);
    free(html);
    auditfs_bundle_free(b);
}

Test(report, golden_v1_from_0_1_0) { golden("bundle-v1", AUDITFS_REPORT_V1); }
Test(report, golden_v2) { golden("bundle-v2", AUDITFS_REPORT_V2); }
Test(report, golden_v3_receipts) { golden("bundle-v3", AUDITFS_REPORT_V3); }

/* Report 3: per notice and SLA version, who acknowledged it, when, the delay and lead time, and
 * who has not (tests/fixtures/make-bundle-v3.sh says what the fixture holds). */
Test(report, v3_names_receipts_per_notice_and_version)
{
    auditfs_bundle *b = NULL;
    char *md = NULL, *html = NULL;
    size_t ml, hl;
    cr_assert_eq(auditfs_bundle_load(&b, fixture("bundle-v3")), 0, "%s", auditfs_error_last());
    cr_assert_eq(auditfs_report_build(&md, &ml, &html, &hl, b, AUDITFS_REPORT_V3), 0);
    const char *rc = strstr(md, "## Receipts: who acknowledged each notice and document version");
    cr_assert(rc && rc < strstr(md, "## Files"), "the receipts section comes before Files");
    cr_assert(strstr(rc, "- customer-a.example+baac1ce9\n- assessor.example+39c6f79c\n"
                         "- customer-b.example+258e5f20\n"), "the witnesses are named");
    const char *n1 = strstr(rc, "### notice \"Planned maintenance\"");
    const char *v2 = strstr(rc, "### sla/acme-compute v2");
    const char *n2 = strstr(rc, "### notice \"Price change\"");
    cr_assert(n1 && v2 && n2 && n1 < v2 && v2 < n2, "in time order");
    cr_assert(strstr(n1, "effective 2030-01-01T00:00:00.000000Z: lead time 1128d"),
              "the lead time of a notice with an effective time");
    cr_assert(strstr(n1, "| customer-a.example+baac1ce9 | 2026-") < v2, "A acknowledged it");
    cr_assert(strstr(n1, "| 3 |") < v2, "at the tree size A cosigned");
    cr_assert(strstr(n1, "| customer-b.example+258e5f20 | not acknowledged | - | - |") < v2);
    cr_assert(strstr(n1, "Not acknowledged by 1 of 3 witnesses: customer-b.example+258e5f20.") <
              v2);
    cr_assert(strstr(n2, "Not acknowledged by 3 of 3 witnesses"), "nobody acknowledged it");
    cr_assert(strstr(html, "<h2>Receipts: who acknowledged each notice and document "
                           "version</h2>"));
    free(md);
    free(html);
    /* the same bundle in version 2 has no receipts section */
    cr_assert_eq(auditfs_report_build(&md, &ml, &html, &hl, b, AUDITFS_REPORT_V2), 0);
    cr_assert_null(strstr(md, "## Receipts"));
    free(md);
    free(html);
    auditfs_bundle_free(b);
}

/* query.txt witness lines: only from report 3 on, each key once, well-formed */
Test(bundle, query_txt_witness_lines)
{
    char tmpl[] = "/tmp/auditfs-test-bundle-wq.XXXXXX", dir[64], cmd[8192];
    auditfs_bundle *b = NULL;
    cr_assert_not_null(mkdtemp(tmpl));
    snprintf(dir, sizeof dir, "%s/b", tmpl);
    snprintf(cmd, sizeof cmd, "cp -r '%s' %s", fixture("bundle-v3"), dir);
    cr_assert_eq(system(cmd), 0);
    cr_assert_eq(auditfs_bundle_load(&b, dir), 0, "%s", auditfs_error_last());
    auditfs_bundle_free(b);
    b = NULL;
    /* a witness line twice */
    snprintf(cmd, sizeof cmd, "grep '^witness ' %s/query.txt | head -1 >> %s/query.txt", dir, dir);
    cr_assert_eq(system(cmd), 0);
    cr_assert_eq(auditfs_bundle_load(&b, dir), AUDITFS_EFORMAT);
    cr_assert(strstr(auditfs_error_last(), "witness named twice"), "%s", auditfs_error_last());
    /* a malformed key */
    snprintf(cmd, sizeof cmd, "sed -i '$d' %s/query.txt && echo 'witness x+00000000+AAAA' >> "
             "%s/query.txt", dir, dir);
    cr_assert_eq(system(cmd), 0);
    cr_assert_eq(auditfs_bundle_load(&b, dir), AUDITFS_EFORMAT);
    /* in a report-2 bundle a witness line is unknown */
    snprintf(cmd, sizeof cmd, "sed -i '$d; s/^report 3$/report 2/' %s/query.txt", dir);
    cr_assert_eq(system(cmd), 0);
    cr_assert_eq(auditfs_bundle_load(&b, dir), AUDITFS_EFORMAT);
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpl);
    cr_assert_eq(system(cmd), 0);
}

Test(report, v2_says_what_a_regulator_needs)
{
    auditfs_bundle *b = NULL;
    char *md = NULL, *html = NULL;
    size_t ml, hl;
    cr_assert_eq(auditfs_bundle_load(&b, fixture("bundle-v2")), 0, "%s", auditfs_error_last());
    cr_assert_eq(auditfs_report_build(&md, &ml, &html, &hl, b, AUDITFS_REPORT_V2), 0);
    const char *sum = strstr(md, "## Summary"), *tl = strstr(md, "## Timeline");
    cr_assert(sum && tl && sum < strstr(md, "## Ledgers"), "the summary comes first");
    cr_assert(strstr(md, "1 mismatch, 2 undetermined"));
    cr_assert(strstr(md, "| beta | undetermined | virtualization |"));
    cr_assert(strstr(md, "| 2026-11-17T09:00:00Z |"), "the event's own time is shown");
    cr_assert(strstr(md, "+b5eca953"), "the key ID is named");
    cr_assert(strstr(md, "by auditfs 0.1.0, report format 2"));
    cr_assert(strstr(html, "<h2>Summary</h2>"));
    free(md);
    free(html);
    cr_assert_eq(auditfs_report_build(&md, &ml, &html, &hl, b, AUDITFS_REPORT_CURRENT + 1),
                 AUDITFS_EINVAL);
    auditfs_bundle_free(b);
}

/* ---- manifest and layout ---- */

typedef struct seen {
    int fails;
    char last[4096]; /* every failure message, one a line */
} seen;

static void
collect(void *ctx, auditfs_bundle_finding kind, const char *msg)
{
    seen *s = ctx;
    if (kind == AUDITFS_BUNDLE_FAIL) {
        s->fails++;
        size_t n = strlen(s->last);
        if (!strstr(msg, "do not match"))
            snprintf(s->last + n, sizeof s->last - n, "%s\n", msg);
    }
}

static const char *
copy_fixture(void)
{
    static char dir[700];
    char cmd[6000];
    snprintf(dir, sizeof dir, "%s/b", scratch);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s' '%s'", dir, fixture("bundle-v1"), dir);
    cr_assert_eq(system(cmd), 0);
    return dir;
}

/* adds a correct manifest line for rel (a forger who regenerates the manifest) */
static void
list_in_manifest(const char *dir, const char *rel, const void *data, size_t n)
{
    char path[1000], hx[65];
    uint8_t h[32];
    afs_sha256(h, data, n);
    for (int i = 0; i < 32; i++)
        snprintf(hx + 2 * i, 3, "%02x", h[i]);
    snprintf(path, sizeof path, "%s/MANIFEST.sha256", dir);
    FILE *f = fopen(path, "a");
    cr_assert_not_null(f);
    fprintf(f, "%s  %s\n", hx, rel);
    fclose(f);
}

static void
put(const char *dir, const char *rel, const char *text)
{
    char path[1000];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

Test(bundle, fixture_manifest_and_layout_hold, .init = setup, .fini = teardown)
{
    seen s = {0, ""};
    const char *dir = copy_fixture();
    auditfs_bundle *b = NULL;
    cr_assert_eq(auditfs_bundle_check_manifest(dir, collect, &s), 0, "%s", s.last);
    cr_assert_eq(auditfs_bundle_load(&b, dir), 0);
    cr_assert_eq(auditfs_bundle_check_layout(b, collect, &s), 0, "%s", s.last);
    cr_assert_eq(auditfs_bundle_verify_report(b, collect, &s), 0, "%s", s.last);
    auditfs_bundle_free(b);
}

Test(bundle, unlisted_file_fails, .init = setup, .fini = teardown)
{
    seen s = {0, ""};
    const char *dir = copy_fixture();
    put(dir, "ledgers/provider/entries/extra.txt", "x");
    cr_assert_eq(auditfs_bundle_check_manifest(dir, collect, &s), AUDITFS_EVERIFY);
    cr_assert(strstr(s.last, "extra.txt") && strstr(s.last, "does not list"), "%s", s.last);
}

Test(bundle, changed_file_fails, .init = setup, .fini = teardown)
{
    seen s = {0, ""};
    const char *dir = copy_fixture();
    put(dir, "ledgers/provider/content/0", "# a different SLA\n");
    cr_assert_eq(auditfs_bundle_check_manifest(dir, collect, &s), AUDITFS_EVERIFY);
    cr_assert(strstr(s.last, "content/0 (changed"), "%s", s.last);
}

Test(bundle, forged_leaf_beside_the_real_one_fails_even_when_listed, .init = setup,
     .fini = teardown)
{
    seen s = {0, ""};
    const char *dir = copy_fixture();
    auditfs_bundle *b = NULL;
    put(dir, "ledgers/provider/entries/05.leaf", "forged");
    list_in_manifest(dir, "ledgers/provider/entries/05.leaf", "forged", 6);
    char other[800];
    snprintf(other, sizeof other, "%s/ledgers/other", dir);
    cr_assert_eq(mkdir(other, 0755), 0);
    put(dir, "ledgers/other/checkpoint", "x");
    list_in_manifest(dir, "ledgers/other/checkpoint", "x", 1);
    put(dir, "ledgers/provider/content/3", "content for a log entry");
    list_in_manifest(dir, "ledgers/provider/content/3", "content for a log entry", 23);
    /* sha256sum -c would pass now; the layout check must not */
    cr_assert_eq(auditfs_bundle_check_manifest(dir, collect, &s), 0, "%s", s.last);
    cr_assert_eq(auditfs_bundle_load(&b, dir), 0, "%s", auditfs_error_last());
    cr_assert_eq(auditfs_bundle_check_layout(b, collect, &s), AUDITFS_EVERIFY);
    cr_assert_eq(s.fails, 3, "one finding per unexpected file (%s)", s.last);
    auditfs_bundle_free(b);
}

Test(bundle, special_files_fail_without_being_read, .init = setup, .fini = teardown)
{
    seen s = {0, ""};
    const char *dir = copy_fixture();
    char path[1000];
    snprintf(path, sizeof path, "%s/ledgers/provider/content/0", dir);
    cr_assert_eq(unlink(path), 0);
    cr_assert_eq(symlink("/dev/zero", path), 0);
    snprintf(path, sizeof path, "%s/fifo", dir);
    cr_assert_eq(mkfifo(path, 0644), 0);
    /* would block forever if opened for reading without O_NONBLOCK, or read 1 GiB of zeroes */
    cr_assert_eq(auditfs_bundle_check_manifest(dir, collect, &s), AUDITFS_EVERIFY);
    cr_assert_geq(s.fails, 3, "%s", s.last);
    auditfs_bundle *b = NULL;
    cr_assert_neq(auditfs_bundle_load(&b, dir), 0, "a symlinked content is not read");
}

Test(bundle, oversized_file_fails_without_being_read, .init = setup, .fini = teardown)
{
    seen s = {0, ""};
    const char *dir = copy_fixture();
    char path[1000];
    snprintf(path, sizeof path, "%s/ledgers/provider/content/0", dir);
    int fd = open(path, O_WRONLY);
    cr_assert_geq(fd, 0);
    cr_assert_eq(ftruncate(fd, (off_t)AUDITFS_BUNDLE_FILE_MAX + 1), 0); /* sparse */
    close(fd);
    cr_assert_eq(auditfs_bundle_check_manifest(dir, collect, &s), AUDITFS_EVERIFY);
    cr_assert(strstr(s.last, "larger than 1 GiB"), "%s", s.last);
}

Test(bundle, default_matrix_must_be_the_builtin_one, .init = setup, .fini = teardown)
{
    seen s = {0, ""};
    const char *dir = copy_fixture();
    auditfs_bundle *b = NULL;
    /* drop the published matrix from the bundle's view by adding a forged default */
    char m[4096];
    snprintf(m, sizeof m, "%s", auditfs_matrix_default());
    char *p = strstr(m, "\"data\":\"customer\"");
    cr_assert_not_null(p);
    memcpy(p, "\"data\":\"provider\"", 17);
    put(dir, "responsibility-default.json", m);
    cr_assert_eq(auditfs_bundle_load(&b, dir), 0);
    cr_assert_eq(auditfs_bundle_check_layout(b, collect, &s), AUDITFS_EVERIFY);
    cr_assert(strstr(s.last, "responsibility-default.json"), "%s", s.last);
    auditfs_bundle_free(b);
}

Test(bundle, hostile_manifest_lines_are_refused, .init = setup, .fini = teardown)
{
    seen s = {0, ""};
    const char *dir = copy_fixture();
    list_in_manifest(dir, "../../etc/passwd", "", 0);
    cr_assert_eq(auditfs_bundle_check_manifest(dir, collect, &s), AUDITFS_EFORMAT);
    cr_assert(strstr(auditfs_error_last(), "line"), "%s", auditfs_error_last());
}
