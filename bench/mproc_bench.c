/*
 * mproc-bench: start+join time of a process whose target does nothing, per
 * start method, next to the raw syscalls it builds on, measured in the same
 * run (absolute times drift; compare ratios); then queue throughput and
 * pool.map throughput with the sizes and counts of
 * /work/shared/reference/pymp.py, whose CPython figures are the
 * comparison.  A first measurement: the benchmark issue makes it rigorous
 * (warm-up, spread, CPython and APR).
 *
 *     mproc-bench [iterations]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* The consumer: gets n items, as pymp.py's consumer does. */
static int consume(mproc_args *a)
{
    mproc_queue *q = mproc_args_queue(a, 0);
    int64_t n = mproc_args_i64(a, 1);
    for (int64_t i = 0; i < n; i++) {
        void *d;
        size_t len;
        if (mproc_queue_get(q, &d, &len, -1) != 0)
            return 1;
        mproc_free(d);
    }
    return 0;
}
MPROC_TARGET(consume);

/* Seconds for this process to put n items of size bytes to a consumer
 * process until that consumer has got them all (pymp.py's measurement). */
static double queue_run(mproc_method m, size_t size, long n)
{
    mproc_queue *q = mproc_queue_new(NULL, 0);
    mproc_args *a = mproc_args_new();
    char *payload = calloc(1, size);
    mproc_process *p;
    double t0;
    mproc_args_add_queue(a, q);
    mproc_args_add_i64(a, n);
    p = mproc_process_new(mproc_get_context(m), consume, a);
    if (!p || mproc_process_start(p) != 0)
        exit(1);
    t0 = mproc__plat_now();
    for (long i = 0; i < n; i++)
        mproc_queue_put(q, payload, size, -1);
    mproc_process_join(p, -1);
    t0 = mproc__plat_now() - t0;
    mproc_process_free(p);
    mproc_queue_free(q);
    free(payload);
    return t0;
}

/* pymp.py's Pool.map task: the square of an int64. */
static int square(const void *in, size_t len, mproc_out *out)
{
    int64_t v;
    if (len != sizeof v)
        return 1;
    memcpy(&v, in, sizeof v);
    v *= v;
    return mproc_out_write(out, &v, sizeof v);
}
MPROC_TASK(square);

/* Tasks per second of one mproc_pool_map of n squares with chunksize
 * (0: CPython's default) on pool; exits if any result is wrong. */
static double map_rate(mproc_pool *pool, size_t n, size_t chunksize)
{
    int64_t *in = malloc(n * sizeof *in), *out = malloc(n * sizeof *out);
    double t0;
    size_t wrong = 0;
    int rc;
    if (!in || !out)
        exit(1);
    for (size_t i = 0; i < n; i++)
        in[i] = (int64_t)i;
    t0 = mproc__plat_now();
    rc = mproc_pool_map(pool, square, in, n, sizeof *in, out, sizeof *out, chunksize, NULL);
    t0 = mproc__plat_now() - t0;
    for (size_t i = 0; i < n; i++)
        wrong += out[i] != (int64_t)i * (int64_t)i;
    if (rc != 0 || wrong) {
        fprintf(stderr, "pool map: %s, %zu wrong results\n", mproc_strerror(rc), wrong);
        exit(1);
    }
    free(in);
    free(out);
    return (double)n / t0;
}

/* pymp.py's two maps on one pool of 2 workers: 200,000 tasks one per
 * chunk, then 2,000,000 in CPython's default chunks.  As in pymp.py the
 * workers are up before the clock starts (a small untimed map waits for
 * them: spawn and forkserver workers start in the background). */
static void pool_rates(mproc_method m)
{
    mproc_pool *pool = mproc_pool_new(mproc_get_context(m), 2, NULL);
    char label[64];
    if (!pool) {
        fprintf(stderr, "%s: pool: %s\n", mproc_method_name(m), mproc_strerror(mproc_last_error()));
        exit(1);
    }
    (void)map_rate(pool, 16, 1);
    snprintf(label, sizeof label, "mproc %s chunksize 1", mproc_method_name(m));
    printf("%-32s %10.0f tasks/s\n", label, map_rate(pool, 200000, 1));
    snprintf(label, sizeof label, "mproc %s default chunks", mproc_method_name(m));
    printf("%-32s %10.0f tasks/s\n", label, map_rate(pool, 2000000, 0));
    fflush(stdout);
    mproc_pool_free(pool);
}

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
/* reference/pipe.c: a 4-byte length then the body, one write per message. */
static double raw_pipe(size_t size, long n)
{
    int fds[2];
    char *buf = calloc(1, size + 8);
    double t0;
    pid_t pid;
    if (pipe(fds) != 0)
        exit(1);
    if ((pid = fork()) == 0) {
        close(fds[1]);
        for (long i = 0; i < n; i++) {
            uint32_t len;
            size_t got = 0;
            while (got < 4) got += (size_t)read(fds[0], (char *)&len + got, 4 - got);
            for (got = 0; got < len;) {
                ssize_t r = read(fds[0], buf, len - got);
                if (r <= 0)
                    _exit(1);
                got += (size_t)r;
            }
        }
        _exit(0);
    }
    close(fds[0]);
    t0 = mproc__plat_now();
    for (long i = 0; i < n; i++) {
        uint32_t len = (uint32_t)size;
        size_t off = 0;
        memcpy(buf, &len, 4);
        while (off < size + 4) {
            ssize_t w = write(fds[1], buf + off, size + 4 - off);
            if (w <= 0)
                exit(1);
            off += (size_t)w;
        }
    }
    close(fds[1]);
    waitpid(pid, NULL, 0);
    free(buf);
    return mproc__plat_now() - t0;
}

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
    {
        /* pymp.py's sizes and counts: 64 B x 200,000 and 64 KiB x 20,000. */
        static const struct {
            size_t size;
            long n;
        } runs[] = {{64, 200000}, {65536, 20000}};
        mproc_method qm = mproc__plat_method_available(MPROC_FORK) ? MPROC_FORK : MPROC_SPAWN;
        printf("\none producer (this process) -> one consumer process (%s)\n", mproc_method_name(qm));
        for (int i = 0; i < 2; i++) {
            double dt = queue_run(qm, runs[i].size, runs[i].n);
            printf("mproc queue %6zu B       %10.0f msgs/s %8.1f MB/s\n", runs[i].size, runs[i].n / dt,
                   runs[i].n * (double)runs[i].size / dt / 1e6);
#ifndef _WIN32
            dt = raw_pipe(runs[i].size, runs[i].n);
            printf("raw pipe    %6zu B       %10.0f msgs/s %8.1f MB/s\n", runs[i].size, runs[i].n / dt,
                   runs[i].n * (double)runs[i].size / dt / 1e6);
#endif
        }
    }
    printf("\npool.map of square(int64), 2 workers\n");
    for (int i = 0; i < count && i < 8; i++)
        pool_rates(methods[i]);
    return 0;
}
