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
