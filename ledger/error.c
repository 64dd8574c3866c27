/*
 * ledger/error.c - the per-thread last error (libgit2's git_error_last() model).
 */
#include "internal.h"

#include <git2.h>
#include <stdio.h>

/* meson defines it; standalone builds (the libFuzzer targets) do not. */
#ifndef AUDITFS_VERSION
#define AUDITFS_VERSION "unknown"
#endif

static _Thread_local char err_msg[1024];
static _Thread_local int err_code;
static _Thread_local int err_lines; /* the message is a deliberate multi-line report */

/* Messages name inputs, and inputs are data: no control byte reaches a terminal or a log. */
static void
sanitize(void)
{
    char tmp[sizeof err_msg];
    memcpy(tmp, err_msg, sizeof tmp);
    auditfs_escape_controls(err_msg, sizeof err_msg, tmp, err_lines);
}

static int
verror(int code, const char *suffix, const char *fmt, va_list ap)
{
    int n = vsnprintf(err_msg, sizeof err_msg, fmt, ap);
    if (suffix && n >= 0 && (size_t)n < sizeof err_msg)
        snprintf(err_msg + n, sizeof err_msg - (size_t)n, ": %s", suffix);
    sanitize();
    err_code = code;
    return code;
}

int
afs_error_set(int code, const char *fmt, ...)
{
    va_list ap;
    err_lines = 0;
    va_start(ap, fmt);
    verror(code, NULL, fmt, ap);
    va_end(ap);
    return code;
}

int
afs_error_set_lines(int code, const char *fmt, ...)
{
    va_list ap;
    err_lines = 1;
    va_start(ap, fmt);
    verror(code, NULL, fmt, ap);
    va_end(ap);
    return code;
}

int
afs_error_git(int code, const char *fmt, ...)
{
    const git_error *ge = git_error_last();
    va_list ap;
    err_lines = 0;
    va_start(ap, fmt);
    verror(code, ge && ge->message ? ge->message : "libgit2 error", fmt, ap);
    va_end(ap);
    return code;
}

int
afs_error_wrap(int code, const char *fmt, ...)
{
    char prev[sizeof err_msg];
    char ctx[512];
    va_list ap;
    memcpy(prev, err_msg, sizeof prev);
    va_start(ap, fmt);
    vsnprintf(ctx, sizeof ctx, fmt, ap);
    va_end(ap);
    snprintf(err_msg, sizeof err_msg, "%s: %s", ctx, prev);
    sanitize();
    err_code = code;
    return code;
}

const char *
auditfs_error_last(void)
{
    return err_msg;
}

int
auditfs_error_last_code(void)
{
    return err_code;
}

void
auditfs_error_clear(void)
{
    err_msg[0] = '\0';
    err_code = 0;
}

const char *
auditfs_error_name(int code)
{
    switch (code) {
    case AUDITFS_OK: return "OK";
    case AUDITFS_EINVAL: return "EINVAL";
    case AUDITFS_EFORMAT: return "EFORMAT";
    case AUDITFS_EVERIFY: return "EVERIFY";
    case AUDITFS_EIO: return "EIO";
    case AUDITFS_ENOTFOUND: return "ENOTFOUND";
    case AUDITFS_EEXISTS: return "EEXISTS";
    case AUDITFS_EBUSY: return "EBUSY";
    case AUDITFS_EKEY: return "EKEY";
    case AUDITFS_ENOMEM: return "ENOMEM";
    case AUDITFS_ETOOBIG: return "ETOOBIG";
    case AUDITFS_EFORK: return "EFORK";
    default: return "ERROR";
    }
}

const char *
auditfs_version(void)
{
    return AUDITFS_VERSION;
}
