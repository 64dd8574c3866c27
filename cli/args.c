/* cli/args.c - argument forms shared by several commands (one definition each). */
#include "cli.h"

#include <string.h>

int
cli_valid_name(const char *s)
{
    if (!s[0] || !strcmp(s, ".") || !strcmp(s, "..") || strlen(s) > CLI_NAME_MAX)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '.' || *s == '_' || *s == '-'))
            return 0;
    return 1;
}

int
cli_split_named(char name[CLI_NAME_MAX + 1], const char **value, const char *arg)
{
    const char *eq = strchr(arg, '=');
    const char *slash = strchr(arg, '/');
    name[0] = 0;
    *value = arg;
    if (!eq || (slash && slash < eq))
        return 0; /* a plain VALUE (a path may hold '=' after a '/') */
    size_t n = (size_t)(eq - arg);
    if (n == 0 || n > CLI_NAME_MAX)
        return -1;
    memcpy(name, arg, n);
    name[n] = 0;
    if (!cli_valid_name(name))
        return -1;
    *value = eq + 1;
    return 1;
}

int
cli_ledger_arg(const char **path, const char *opt)
{
    *path = cli_ledger_path(opt);
    return *path ? 0 : cli_usage_error("no ledger: give --ledger DIR or set AUDITFS_LEDGER");
}

int
cli_witness_opt(struct cli_witness_opts *o, int c, const char *arg)
{
    switch (c) {
    case 'W':
        if (o->nkeys == sizeof o->keys / sizeof *o->keys)
            return cli_usage_error("too many --witness keys");
        o->keys[o->nkeys++] = arg;
        return 0;
    case 'Q': o->quorum = arg; return 0;
    case 'P': o->policy = arg; return 0;
    case 'A': o->max_age = arg; return 0;
    default: return -1;
    }
}
