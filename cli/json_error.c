/*
 * cli/json_error.c - with --json, a command that fails before it printed anything on standard
 * output prints one error object there instead of nothing (docs/JSON.md, "Errors"):
 *
 *   {"ok":false,"exit":7,"error":"/srv/ledgers/nope: cannot open the ledger repository: ..."}
 *
 * so a script that parses stdout always gets JSON. Every command fails in many places (usage
 * errors, unreadable inputs, library errors), so instead of threading a flag through each of
 * them, run_command() wraps the whole command: while it runs, stdout counts the bytes written
 * and stderr remembers its first line (the diagnostic that names the cause; it is still
 * written to standard error unchanged). Both are fopencookie streams over file descriptors 1
 * and 2. A command that printed its own JSON (verify's {"ok":false,...}, lines of append or
 * log before a failure) is left alone: the object is only printed when stdout is empty.
 */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static FILE *saved_out, *saved_err;
static unsigned long long out_bytes;
static char first_line[1024];
static size_t first_len;
static int first_done;

static ssize_t
write_all(int fd, const char *buf, size_t n)
{
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(fd, buf + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        off += (size_t)w;
    }
    return (ssize_t)n;
}

static ssize_t
out_write(void *cookie, const char *buf, size_t n)
{
    (void)cookie;
    out_bytes += n;
    return write_all(1, buf, n);
}

/* Keeps the first complete line that is not a progress redraw ("\r..."), without "auditfs: ". */
static ssize_t
err_write(void *cookie, const char *buf, size_t n)
{
    (void)cookie;
    for (size_t i = 0; i < n && !first_done; i++) {
        char c = buf[i];
        if (c == '\n') {
            if (first_len && first_line[0] != '\r')
                first_done = 1;
            else
                first_len = 0;
        } else if (first_len + 1 < sizeof first_line) {
            first_line[first_len++] = c;
        }
    }
    return write_all(2, buf, n);
}

int
cli_json_errors_begin(int argc, char **argv)
{
    int json = 0;
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--json") == 0)
            json = 1;
    if (!json)
        return 0;
    cookie_io_functions_t out_fns = {NULL, out_write, NULL, NULL};
    cookie_io_functions_t err_fns = {NULL, err_write, NULL, NULL};
    fflush(stdout);
    fflush(stderr);
    FILE *o = fopencookie(NULL, "w", out_fns);
    FILE *e = fopencookie(NULL, "w", err_fns);
    if (!o || !e) {
        if (o)
            fclose(o);
        if (e)
            fclose(e);
        return 0; /* out of memory: run the command as it is */
    }
    /* as the real streams: stdout line-buffered on a terminal, stderr unbuffered */
    setvbuf(o, NULL, isatty(1) ? _IOLBF : _IOFBF, BUFSIZ);
    setvbuf(e, NULL, _IONBF, 0);
    saved_out = stdout;
    saved_err = stderr;
    stdout = o;
    stderr = e;
    out_bytes = 0;
    first_len = 0;
    first_done = 0;
    return 1;
}

int
cli_json_errors_end(int rc)
{
    if (!saved_out)
        return rc;
    fflush(stdout);
    if (rc != 0 && out_bytes == 0) {
        char *msg = first_line;
        first_line[first_len < sizeof first_line ? first_len : sizeof first_line - 1] = 0;
        if (strncmp(msg, "auditfs: ", 9) == 0)
            msg += 9;
        printf("{\"ok\":false,\"exit\":%d,\"error\":", rc);
        if (*msg)
            cli_json_str(stdout, msg);
        else
            printf("\"failed with exit status %d (see standard error)\"", rc);
        printf("}\n");
    }
    int bad = fflush(stdout) != 0 || ferror(stdout);
    FILE *o = stdout, *e = stderr;
    stdout = saved_out;
    stderr = saved_err;
    saved_out = saved_err = NULL;
    fclose(o);
    fclose(e);
    return rc == 0 && bad ? EXIT_IO : rc;
}
