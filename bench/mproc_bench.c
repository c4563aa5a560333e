/*
 * mproc-bench: start+join time of a process whose target does nothing, per
 * start method, next to the raw syscalls it builds on, measured in the same
 * run (absolute times drift; compare ratios).  A first measurement: the
 * benchmark issue makes it rigorous (warm-up, spread, CPython and APR).
 *
 *     mproc-bench [iterations]
 */
#include <stdio.h>
#include <stdlib.h>

#include "mproc.h"
#include "platform.h"

#ifndef _WIN32
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
extern char **environ;
#endif

static int nothing(mproc_args *a)
{
    (void)a;
    return 0;
}
MPROC_TARGET(nothing);

static char **saved_argv;

static double per_start_join(mproc_method m, int n)
{
    mproc_ctx *ctx = mproc_get_context(m);
    double t0 = 0;
    /* One untimed round: the forkserver starts on first use. */
    for (int i = -1; i < n; i++) {
        mproc_process *p;
        if (i == 0)
            t0 = mproc__plat_now();
        p = mproc_process_new(ctx, nothing, NULL);
        if (!p || mproc_process_start(p) != 0 || mproc_process_join(p, -1) != 0) {
            fprintf(stderr, "%s: start failed: %s\n", mproc_method_name(m), mproc_strerror(mproc_last_error()));
            exit(1);
        }
        mproc_process_free(p);
    }
    return (mproc__plat_now() - t0) / n;
}

#ifndef _WIN32
static double raw_fork(int n)
{
    double t0 = mproc__plat_now();
    for (int i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid == 0)
            _exit(0);
        waitpid(pid, NULL, 0);
    }
    return (mproc__plat_now() - t0) / n;
}

static double raw_spawn(int n)
{
    char *args[] = {saved_argv[0], "--exit-now", NULL};
    double t0 = mproc__plat_now();
    for (int i = 0; i < n; i++) {
        pid_t pid;
        if (posix_spawn(&pid, "/proc/self/exe", NULL, NULL, args, environ) != 0)
            exit(1);
        waitpid(pid, NULL, 0);
    }
    return (mproc__plat_now() - t0) / n;
}
#endif

int main(int argc, char **argv)
{
    int n;
    mproc_method methods[8];
    int count;

    if (argc > 1 && argv[1][0] == '-' && argv[1][1] == '-')
        return 0; /* --exit-now: the raw posix_spawn baseline's child */
    if (mproc_init(argc, argv) != 0)
        return 1;
    saved_argv = argv;
    n = argc > 1 ? atoi(argv[1]) : 500;
    if (n <= 0)
        n = 500;
    printf("start+join of a target that returns 0, mean of %d\n", n);
#ifndef _WIN32
    {
        double fork_us = raw_fork(n) * 1e6, spawn_us = raw_spawn(n) * 1e6;
        printf("%-28s %10.1f us\n", "raw fork+_exit+waitpid", fork_us);
        printf("%-28s %10.1f us\n", "raw posix_spawn+waitpid", spawn_us);
    }
#endif
    count = mproc_get_all_start_methods(methods, 8);
    for (int i = 0; i < count && i < 8; i++) {
        char label[64];
        snprintf(label, sizeof label, "mproc %s", mproc_method_name(methods[i]));
        printf("%-28s %10.1f us\n", label, per_start_join(methods[i], n) * 1e6);
    }
    return 0;
}
