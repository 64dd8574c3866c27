/*
 * cli/json.c - JSON output helpers shared by the commands' --json modes (docs/JSON.md).
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

/* data-derived strings, quoted and escaped by the library's one JSON string writer */
void
cli_json_strn(FILE *f, const char *s, size_t n)
{
    char *q = NULL;
    if (auditfs_json_quote(&q, s, n) != 0) {
        fputs("\"\"", f); /* out of memory: an empty string keeps the line valid JSON */
        return;
    }
    fputs(q, f);
    free(q);
}

void
cli_json_str(FILE *f, const char *s)
{
    cli_json_strn(f, s, strlen(s));
}

void
cli_json_str_or_null(FILE *f, const char *s)
{
    if (s[0])
        cli_json_str(f, s);
    else
        fputs("null", f);
}

void
cli_json_checkpoint(FILE *f, const auditfs_checkpoint *cp)
{
    char root[48];
    auditfs_hash_base64(root, &cp->root);
    fputs("{\"origin\":", f);
    cli_json_str(f, cp->origin);
    fprintf(f, ",\"tree_size\":%llu,\"root\":\"%s\"}", (unsigned long long)cp->size, root);
}

/*
 * The line reports of verify-bundle and incident --check ("ok: ...", "FAIL: ...", "note: ...",
 * a final "VERIFIED..." or "FAILED...") as one JSON object: stdout is captured while the
 * command runs, then each line becomes {"status","message"}. The text stays the single
 * source of what was checked, so the two outputs cannot disagree.
 */
static FILE *capture_saved;
static char *capture_buf;
static size_t capture_len;

int
cli_capture_begin(void)
{
    fflush(stdout);
    FILE *m = open_memstream(&capture_buf, &capture_len);
    if (!m)
        return -1;
    capture_saved = stdout;
    stdout = m;
    return 0;
}

void
cli_capture_end_json(int rc)
{
    fclose(stdout);
    stdout = capture_saved;
    printf("{\"ok\":%s,\"exit\":%d,\"checks\":[", rc == 0 ? "true" : "false", rc);
    int first = 1;
    for (char *line = capture_buf, *nl; line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        if (nl)
            *nl = 0;
        if (!*line)
            continue;
        const char *status = "info", *msg = line;
        static const struct { const char *prefix, *status; } kinds[] = {
            {"ok: ", "ok"}, {"FAIL: ", "fail"}, {"note: ", "note"},
            {"FAILED: ", "failed"}, {"VERIFIED: ", "verified"}};
        for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
            if (strncmp(line, kinds[i].prefix, strlen(kinds[i].prefix)) == 0) {
                status = kinds[i].status;
                msg = line + strlen(kinds[i].prefix);
            }
        printf("%s{\"status\":\"%s\",\"message\":", first ? "" : ",", status);
        cli_json_str(stdout, msg);
        putchar('}');
        first = 0;
    }
    printf("]");
    /* a failure also says why in one member, as every --json command's error object does */
    if (rc != 0) {
        const char *why = NULL, *sum = NULL;
        /* the loop above cut the lines at their newlines: walk the NUL-separated lines */
        for (size_t i = 0; capture_buf && i < capture_len; i += strlen(capture_buf + i) + 1) {
            const char *line = capture_buf + i;
            if (!why && strncmp(line, "FAIL: ", 6) == 0)
                why = line + 6;
            else if (!sum && strncmp(line, "FAILED: ", 8) == 0)
                sum = line + 8;
        }
        printf(",\"error\":");
        if (why || sum)
            cli_json_str(stdout, why ? why : sum);
        else
            printf("\"failed with exit status %d (see standard error)\"", rc);
    }
    printf("}\n");
    free(capture_buf);
    capture_buf = NULL;
}
