/*
 * cli/notice_hook.c - reporting the notices and document versions a copy gained (`sync`,
 * `mount --follow`): the line on stdout and the --on-notice program, run without a shell
 * (fork + execve) with the details in its environment (auditfs/notices.h lists them).
 */
#include "cli.h"

#include "auditfs/notices.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* --on-notice-timeout: seconds a program may run (set once while parsing options) */
static long notice_timeout = CLI_NOTICE_TIMEOUT_DEFAULT;

int
cli_notice_timeout_opt(const char *arg)
{
    uint64_t v = 0;
    if (cli_parse_u64(&v, arg, "--on-notice-timeout") != 0)
        return EXIT_USAGE;
    if (v == 0 || v > 86400)
        return cli_usage_error("--on-notice-timeout: '%s' is not between 1 and 86400 seconds",
                               arg);
    notice_timeout = (long)v;
    return 0;
}

long
cli_notice_timeout(void)
{
    return notice_timeout;
}

/*
 * Waits for pid until the deadline (notice_timeout seconds), polling every 20 ms (a bounded
 * number of times); on expiry kills its process group (the program and whatever it started)
 * and reaps it: CLI_HOOK_TIMEOUT. Otherwise its exit status or 128+signal; -1 on error.
 */
static int
wait_bounded(pid_t pid)
{
    struct timespec start, now, tick = {0, 20 * 1000 * 1000};
    int status = 0;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR)
            return -1;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec >= notice_timeout) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL); /* if it left its group, it still ends */
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
            return CLI_HOOK_TIMEOUT;
        }
        nanosleep(&tick, NULL);
    }
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

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
        setpgid(0, 0); /* its own process group, so a timeout ends all it started */
        int fd = open("/dev/null", O_RDONLY);
        if (fd >= 0 && fd != 0) {
            dup2(fd, 0);
            close(fd);
        }
        execve(prog, argv, envp);
        _exit(127);
    }
    free(envp);
    setpgid(pid, pid); /* also here: no window in which a kill(-pid) would miss it */
    return wait_bounded(pid);
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
            if (rc == CLI_HOOK_TIMEOUT)
                fprintf(stderr, "auditfs: --on-notice %s: still running after %ld s for entry "
                        "%llu (--on-notice-timeout): its process group was killed\n", s->hook,
                        notice_timeout, (unsigned long long)e->seq);
            else if (rc < 0)
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
