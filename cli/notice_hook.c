/*
 * cli/notice_hook.c - reporting the notices and document versions a copy gained (`sync`,
 * `mount --follow`): the line on stdout and the --on-notice program, run without a shell
 * (fork + execve) with the details in its environment (auditfs/notices.h lists them).
 */
#include "cli.h"

#include "auditfs/notices.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* 1 if the "NAME=value" string s sets a variable that vars also sets */
static int
overridden(const char *s, char *const *vars)
{
    const char *eq = strchr(s, '=');
    size_t n = eq ? (size_t)(eq - s) : strlen(s);
    for (; *vars; vars++)
        if (strncmp(*vars, s, n) == 0 && (*vars)[n] == '=')
            return 1;
    return 0;
}

int
cli_notice_hook_run(const char *prog, char *const *vars)
{
    size_t n = 0, k = 0, nv = 0;
    for (char **e = environ; e && *e; e++)
        n++;
    while (vars[nv])
        nv++;
    /* everything the child needs is built before fork: the mount's follower is one thread of
     * many, so the child may only call async-signal-safe functions */
    char **envp = calloc(n + nv + 1, sizeof *envp);
    if (!envp)
        return -1;
    for (char **e = environ; e && *e; e++)
        if (!overridden(*e, vars))
            envp[k++] = *e;
    for (size_t i = 0; i < nv; i++)
        envp[k++] = vars[i];
    envp[k] = NULL;
    char *argv[2] = {(char *)prog, NULL};
    pid_t pid = fork();
    if (pid < 0) {
        free(envp);
        return -1;
    }
    if (pid == 0) {
        int fd = open("/dev/null", O_RDONLY);
        if (fd >= 0 && fd != 0) {
            dup2(fd, 0);
            close(fd);
        }
        execve(prog, argv, envp);
        _exit(127);
    }
    free(envp);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

int
cli_notice_hook_entry(void *ctx, const auditfs_entry *e, const char *ledger, const char *origin,
                      uint64_t tree_size)
{
    const char *prog = ctx;
    char **vars = NULL;
    if (!prog)
        return 0;
    if (auditfs_notice_env(&vars, e, origin, ledger, tree_size) != 0)
        return -1;
    int rc = cli_notice_hook_run(prog, vars);
    auditfs_notice_env_free(vars);
    return rc;
}

struct sync_notices {
    const char *hook, *ledger, *origin;
    uint64_t tree_size;
    size_t count, failed;
};

static int
sync_notice(void *ctx, const auditfs_entry *e)
{
    struct sync_notices *s = ctx;
    char *line = NULL;
    if (auditfs_notice_line(&line, e) == 0)
        printf("%s\n", line);
    free(line);
    fflush(stdout);
    s->count++;
    if (s->hook) {
        int rc = cli_notice_hook_entry((void *)s->hook, e, s->ledger, s->origin, s->tree_size);
        if (rc != 0) {
            s->failed++;
            if (rc < 0)
                fprintf(stderr, "auditfs: --on-notice %s: cannot run it: %s\n", s->hook,
                        strerror(errno));
            else
                fprintf(stderr, "auditfs: --on-notice %s: exited %d for entry %llu\n", s->hook,
                        rc, (unsigned long long)e->seq);
        }
    }
    return 0;
}

int
cli_report_notices(const char *ledger, const char *origin, uint64_t from, uint64_t to,
                   const char *hook)
{
    auditfs_ledger *l = NULL;
    struct sync_notices s = {hook, ledger, origin, to, 0, 0};
    int err;
    if (from >= to)
        return EXIT_OK;
    if ((err = auditfs_ledger_open(&l, ledger)) != 0)
        return cli_fail(err, ledger);
    err = auditfs_notices_between(l, from, to, NULL, NULL, sync_notice, &s);
    auditfs_ledger_free(l);
    if (err)
        return cli_fail(err, "new notices");
    return s.failed ? EXIT_IO : EXIT_OK;
}
