/*
 * baseline_apr.c -- the APR baselines of mproc-bench (start + join).
 *
 * What a user of the Apache Portable Runtime writes to start a process and
 * wait for it, timed as mproc-bench-raw (bench/baseline_raw.c) times fork
 * and posix_spawn, so that mproc-bench can set the three side by side:
 *
 *   apr_fork         apr_proc_fork(); the child calls _exit(0) at once (no
 *                    APR call in the child, as raw fork's child runs no
 *                    exit handlers); the parent apr_proc_wait()s.
 *   apr_proc_create  apr_proc_create() of this same executable by absolute
 *                    path with the argument --child-exit, cmdtype
 *                    APR_PROGRAM (exec without a shell or a PATH search,
 *                    and, as APR_PROGRAM means, an empty environment), no
 *                    other attribute; then apr_proc_wait().
 *
 * Command line, output and exit status follow baseline_raw's conventions:
 *   baseline_apr FIGURE [--rss MIB] [--reps N]
 *   baseline_apr --child-exit
 *       exits 0 at once; the child of the apr_proc_create figure.
 *
 *   FIGURE           unit  default reps
 *   apr_fork         s     200
 *   apr_proc_create  s     50
 *
 *   --rss MIB   before measuring, malloc that many MiB and write every
 *               4096th byte, so the parent has that much resident memory.
 *   --reps N    number of timed operations, >= 1.
 *
 * Output, one line on stdout:
 *   {"figure": "...", "impl": "...", "rss_mib": N, "unit": "s",
 *    "value": V, "reps": N}
 * value: seconds per start + wait, the mean of a block of N timed after
 * one untimed warm-up (clock_gettime(CLOCK_MONOTONIC)).  A figure this APR
 * cannot run (apr_proc_fork needs APR_HAS_FORK):
 *   {"figure": "...", "skipped": "reason"}   and exit 0.
 * Bad arguments: message on stderr, exit 2.  A failure while measuring:
 * message on stderr, nothing on stdout, exit 1.
 *
 * APR is initialised once and one pool made for the run; each start + wait
 * allocates from a subpool that is cleared after it, so memory does not
 * grow with the number of reps.  Every child is waited for.
 *
 * Build (POSIX; CMake builds it as mproc-bench-apr when pkg-config finds
 * apr-1 and the compiler links it):
 *   cc -std=c11 -O2 bench/baseline_apr.c $(pkg-config --cflags --libs apr-1) -o baseline_apr
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "baseline_util.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_thread_proc.h>

#define EXIT_USAGE 2
#define MAX_REPS 1000000000000LL /* 1e12: keeps every counter far from overflow */
#define EXE_BUF 4096

typedef struct {
    const char *name;
    const char *impl;
    long long def_reps;
    int (*prepare)(const char *argv0); /* NULL: nothing to prepare */
    int (*once)(void);                 /* NULL: skipped with skip_reason */
    const char *skip_reason;
} figure_t;

static apr_pool_t *g_pool;    /* the run's */
static apr_pool_t *g_op_pool; /* one operation's; cleared after each */
static apr_procattr_t *g_attr;
static char g_exe[EXE_BUF];
static char g_child_flag[] = "--child-exit";

static void usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s FIGURE [--rss MIB] [--reps N]\n"
            "       %s --child-exit\n"
            "FIGURE: apr_fork apr_proc_create\n",
            prog, prog);
}

static int flush_stdout(void)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "baseline_apr: writing stdout failed\n");
        return -1;
    }
    return 0;
}

static double now(void)
{
    struct timespec t;
    if (clock_gettime(CLOCK_MONOTONIC, &t) != 0) {
        perror("baseline_apr: clock_gettime");
        exit(EXIT_FAILURE);
    }
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void report(const char *what, apr_status_t st)
{
    char buf[256];
    fprintf(stderr, "baseline_apr: %s: %s\n", what, apr_strerror(st, buf, sizeof buf));
}

/* Waits for proc; 0 if it exited with status 0. */
static int wait_ok(apr_proc_t *proc, const char *what)
{
    int code = 0;
    apr_exit_why_e why = APR_PROC_EXIT;
    apr_status_t st = apr_proc_wait(proc, &code, &why, APR_WAIT);

    if (st != APR_CHILD_DONE) {
        report("apr_proc_wait", st);
        return -1;
    }
    if (!APR_PROC_CHECK_EXIT(why) || code != 0) {
        if (APR_PROC_CHECK_SIGNALED(why))
            fprintf(stderr, "baseline_apr: %s killed by signal %d\n", what, code);
        else
            fprintf(stderr, "baseline_apr: %s exited with status %d\n", what, code);
        return -1;
    }
    return 0;
}

/* ---- apr_fork ---------------------------------------------------------------- */

#if APR_HAS_FORK
static int fork_once(void)
{
    apr_proc_t proc;
    apr_status_t st = apr_proc_fork(&proc, g_op_pool);

    if (st == APR_INCHILD)
        _exit(0);
    if (st != APR_INPARENT) {
        report("apr_proc_fork", st);
        return -1;
    }
    return wait_ok(&proc, "forked child");
}
#define FORK_ONCE fork_once
#define FORK_SKIPPED NULL
#else
#define FORK_ONCE NULL
#define FORK_SKIPPED "this APR has no apr_proc_fork (APR_HAS_FORK is 0)"
#endif

/* ---- apr_proc_create ------------------------------------------------------------ */

/* This executable's absolute path for APR_PROGRAM, which runs execve()
 * without a PATH search: /proc/self/exe where there is one (Linux), else
 * argv[0] made absolute.  Started through PATH on a system without
 * /proc/self/exe, the only way back to the file is PATH itself: then
 * APR_PROGRAM_PATH with argv[0]. */
static int prepare_create(const char *argv0)
{
    apr_cmdtype_e cmdtype = APR_PROGRAM;
    apr_status_t st;
    ssize_t n = readlink("/proc/self/exe", g_exe, sizeof g_exe - 1);

    if (n > 0 && (size_t)n < sizeof g_exe - 1) {
        g_exe[n] = '\0';
        if (access(g_exe, X_OK) != 0) /* e.g. "... (deleted)" */
            n = -1;
    } else {
        n = -1;
    }
    if (n < 0) {
        char *abs = strchr(argv0, '/') != NULL ? realpath(argv0, NULL) : NULL;
        const char *path = abs != NULL ? abs : argv0;
        if (strlen(path) >= sizeof g_exe) {
            fprintf(stderr, "baseline_apr: this program's path is too long\n");
            free(abs);
            return -1;
        }
        strcpy(g_exe, path);
        if (abs == NULL)
            cmdtype = APR_PROGRAM_PATH;
        free(abs);
    }
    if ((st = apr_procattr_create(&g_attr, g_pool)) != APR_SUCCESS) {
        report("apr_procattr_create", st);
        return -1;
    }
    if ((st = apr_procattr_cmdtype_set(g_attr, cmdtype)) != APR_SUCCESS) {
        report("apr_procattr_cmdtype_set", st);
        return -1;
    }
    return 0;
}

static int create_once(void)
{
    const char *child_argv[3];
    apr_proc_t proc;
    apr_status_t st;

    child_argv[0] = g_exe;
    child_argv[1] = g_child_flag;
    child_argv[2] = NULL;
    st = apr_proc_create(&proc, g_exe, child_argv, NULL, g_attr, g_op_pool);
    if (st != APR_SUCCESS) {
        report("apr_proc_create", st);
        return -1;
    }
    return wait_ok(&proc, "created child");
}

static const figure_t figures[] = {
    {"apr_fork", "APR apr_proc_fork+apr_proc_wait", 200, NULL, FORK_ONCE, FORK_SKIPPED},
    {"apr_proc_create", "APR apr_proc_create+apr_proc_wait", 50, prepare_create, create_once, NULL},
};

/* ---- main ------------------------------------------------------------------------ */

/* Warm-up, then reps timed operations; the JSON line on stdout. */
static int measure(const figure_t *fig, const char *argv0, long long rss_mib, long long reps)
{
    apr_status_t st;
    double t0 = 0.0;
    long long r;

    if ((st = apr_pool_create(&g_pool, NULL)) != APR_SUCCESS ||
        (st = apr_pool_create(&g_op_pool, g_pool)) != APR_SUCCESS) {
        report("apr_pool_create", st);
        return -1;
    }
    if (fig->prepare != NULL && fig->prepare(argv0) != 0)
        return -1;
    if (baseline_ballast_alloc("baseline_apr", rss_mib) != 0)
        return -1;
    for (r = -1; r < reps; r++) { /* r == -1: untimed warm-up */
        if (r == 0)
            t0 = now();
        if (fig->once() != 0)
            return -1;
        apr_pool_clear(g_op_pool);
    }
    printf("{\"figure\": \"%s\", \"impl\": \"%s\", \"rss_mib\": %lld, \"unit\": \"s\", "
           "\"value\": %.9g, \"reps\": %lld}\n",
           fig->name, fig->impl, rss_mib, (now() - t0) / (double)reps, reps);
    return flush_stdout();
}

int main(int argc, char **argv)
{
    const char *prog = (argc > 0 && argv[0] != NULL) ? argv[0] : "baseline_apr";
    const figure_t *fig = NULL;
    long long rss_mib = -1, reps = -1;
    apr_status_t st;
    size_t i;
    int a, rc;

    /* The created child of apr_proc_create: nothing else. */
    if (argc == 2 && strcmp(argv[1], "--child-exit") == 0)
        return 0;

    if (argc < 2 || argv[1][0] == '-') {
        fprintf(stderr, "%s: %s\n", prog,
                argc >= 2 && strcmp(argv[1], "--child-exit") == 0 ? "--child-exit takes no other arguments"
                                                                  : "missing FIGURE");
        usage(prog);
        return EXIT_USAGE;
    }
    for (i = 0; i < sizeof figures / sizeof figures[0]; i++)
        if (strcmp(argv[1], figures[i].name) == 0)
            fig = &figures[i];
    if (fig == NULL) {
        fprintf(stderr, "%s: unknown figure '%s'\n", prog, argv[1]);
        usage(prog);
        return EXIT_USAGE;
    }
    for (a = 2; a < argc; a += 2) {
        const char *opt = argv[a], *val = a + 1 < argc ? argv[a + 1] : NULL;
        int is_reps = strcmp(opt, "--reps") == 0;
        long long *dst = is_reps ? &reps : &rss_mib;
        long long max = is_reps ? MAX_REPS : (long long)(SIZE_MAX >> 20);

        if (!is_reps && strcmp(opt, "--rss") != 0) {
            fprintf(stderr, "%s: unknown argument '%s'\n", prog, opt);
            usage(prog);
            return EXIT_USAGE;
        }
        if (*dst >= 0) {
            fprintf(stderr, "%s: %s given twice\n", prog, opt);
            return EXIT_USAGE;
        }
        if (baseline_parse_count(val, is_reps ? 1 : 0, max, dst) != 0) {
            fprintf(stderr, "%s: %s needs an integer in %s..%lld, got '%s'\n", prog, opt, is_reps ? "1" : "0", max,
                    val != NULL ? val : "(nothing)");
            return EXIT_USAGE;
        }
    }
    if (fig->once == NULL) {
        printf("{\"figure\": \"%s\", \"skipped\": \"%s\"}\n", fig->name, fig->skip_reason);
        return flush_stdout() == 0 ? 0 : EXIT_FAILURE;
    }

    if ((st = apr_initialize()) != APR_SUCCESS) {
        report("apr_initialize", st);
        return EXIT_FAILURE;
    }
    rc = measure(fig, prog, rss_mib < 0 ? 0 : rss_mib, reps > 0 ? reps : fig->def_reps);
    baseline_ballast_free();
    apr_terminate(); /* destroys every pool */
    return rc == 0 ? 0 : EXIT_FAILURE;
}
