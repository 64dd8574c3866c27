/*
 * cli/progress.c - prints the library's progress reports on standard error, only when it is a
 * terminal: "verify: 1234567/10000000 entries (12%)  85000/s  ETA 1:43", redrawn in place at
 * most four times a second, and a final line with the elapsed time. Not a terminal (a pipe, a
 * log, a systemd unit): silent, so scripts and journals see only results.
 * AUDITFS_PROGRESS=0 silences it on a terminal too; AUDITFS_PROGRESS=now drops the half-second
 * grace before the first line (for tests).
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int64_t
now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
fmt_secs(char *out, size_t cap, double s)
{
    unsigned long t = s < 0 ? 0 : (unsigned long)(s + 0.5);
    if (t >= 3600)
        snprintf(out, cap, "%lu:%02lu:%02lu", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(out, cap, "%lu:%02lu", t / 60, t % 60);
}

static void
print_progress(void *ctx, const char *what, uint64_t done, uint64_t total)
{
    cli_progress *p = ctx;
    int64_t now = now_us();
    /* a new operation (or phase: fetch, resolve, verify) starts the clock and the count again;
     * an incremental one (sync's verify) starts part way: the rate counts from there */
    if (p->printed && strcmp(what, p->what) != 0) {
        fputc('\n', stderr); /* the previous phase's unfinished line stays as it was */
        p->printed = 0;
        p->t0_us = 0;
    }
    if (p->t0_us == 0 || done < p->last_done || strcmp(what, p->what) != 0) {
        p->t0_us = now;
        p->last_us = 0;
        p->done0 = done;
        snprintf(p->what, sizeof p->what, "%s", what);
    }
    p->last_done = done;
    int final = total && done >= total;
    if (!final && now - p->last_us < 250000)
        return;
    /* operations shorter than half a second print nothing at all */
    if (!p->printed && !p->no_delay && now - p->t0_us < 500000) {
        if (final)
            p->t0_us = 0;
        return;
    }
    p->last_us = now;
    double el = (double)(now - p->t0_us) / 1e6;
    /* no rate from a tiny interval; fetch and resolve count git objects, the rest entries */
    double rate = el > 0.2 ? (double)(done - p->done0) / el : 0;
    const char *unit = !strcmp(what, "fetch") ? "objects" : !strcmp(what, "resolve") ? "deltas"
                                                                                     : "entries";
    char eta[32] = "", els[32];
    if (total && rate > 0 && !final) {
        char t[24];
        fmt_secs(t, sizeof t, (double)(total - done) / rate);
        snprintf(eta, sizeof eta, "  ETA %s", t);
    }
    fmt_secs(els, sizeof els, el);
    if (total)
        fprintf(stderr, "\r%s: %llu/%llu %s (%d%%)  %.0f/s%s%s\033[K", what,
                (unsigned long long)done, (unsigned long long)total, unit,
                (int)(done * 100 / total), rate, eta, final ? "" : "");
    else
        fprintf(stderr, "\r%s: %llu %s  %.0f/s\033[K", what, (unsigned long long)done, unit,
                rate);
    if (final) {
        fprintf(stderr, "  done in %s\n", els);
        p->t0_us = 0;
    }
    p->printed = !final;
}

auditfs_progress
cli_progress_init(cli_progress *p)
{
    auditfs_progress r = {NULL, NULL};
    memset(p, 0, sizeof *p);
    const char *env = getenv("AUDITFS_PROGRESS");
    if (!isatty(2) || (env && strcmp(env, "0") == 0))
        return r;
    p->no_delay = env && strcmp(env, "now") == 0;
    r.fn = print_progress;
    r.ctx = p;
    return r;
}

void
cli_progress_done(cli_progress *p)
{
    /* an operation that stopped early (an error) leaves the line unfinished: end it */
    if (p->printed)
        fputc('\n', stderr);
    p->printed = 0;
}
