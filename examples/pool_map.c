/*
 * Pool.map in C: the squares of 0..99 computed by a pool of two worker
 * processes, then a map in which one input crashes the worker that runs
 * it.  Only that item fails (MPROC_EBROKEN, with the worker's exit code
 * and pid); every other item gets its result, the dead worker is replaced
 * and the same pool goes on.  CPython's Pool.map hangs here forever
 * (python/cpython#66587), and ProcessPoolExecutor fails every pending item
 * (BrokenProcessPool).
 *
 *     python: with Pool(2) as pool: print(pool.map(square, range(100)))
 *
 * The pool uses the default start method (forkserver on Linux, spawn on
 * macOS and Windows) or MPROC_START_METHOD.  examples/pool_threads.c is the
 * same pool on threads.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mproc.h"

enum { N = 100, CRASHING_INPUT = 13 };

/* The library never prints; show its warnings and error details. */
static void log_to_stderr(int level, const char *msg, void *ud)
{
    (void)ud;
    fprintf(stderr, "mproc[%d]: %s\n", level, msg);
}

/* A task reads one input and writes one result; here both are an int64_t.
 * Returning nonzero fails the item with MPROC_ETASK and that code. */
static int square(const void *in, size_t len, mproc_out *out)
{
    int64_t v;
    if (len != sizeof v)
        return 1;
    memcpy(&v, in, sizeof v); /* the input carries no alignment promise */
    v *= v;
    return mproc_out_write(out, &v, sizeof v);
}
MPROC_TASK(square); /* spawn and forkserver workers find the task by name */

/* The same task with a fatal bug on one input: the worker dies there. */
static int square_but_crash_on_13(const void *in, size_t len, mproc_out *out)
{
    int64_t v;
    if (len != sizeof v)
        return 1;
    memcpy(&v, in, sizeof v);
    if (v == CRASHING_INPUT)
        abort(); /* SIGABRT on POSIX; exit code 3 on Windows */
    v *= v;
    return mproc_out_write(out, &v, sizeof v);
}
MPROC_TASK(square_but_crash_on_13);

/* What became of one item: its status, how its worker ended (an exit code,
 * or -N for signal N), which worker ran it and how many times it started. */
static void print_status(int64_t input, const mproc_task_status *st)
{
    printf("item %lld: status %d (%s)\n", (long long)input, st->status, mproc_strerror(st->status));
    if (st->code < 0)
        printf("  its worker, pid %ld, was killed by signal %d", st->pid, -st->code);
    else
        printf("  its worker, pid %ld, exited with code %d", st->pid, st->code);
    printf("; attempts: %d\n", st->attempts);
}

/* Counts the items whose result is not the square of their input. */
static int wrong_squares(const int64_t *in, const int64_t *out, const mproc_task_status *st, int64_t skip)
{
    int wrong = 0;
    for (int i = 0; i < N; i++)
        if (in[i] != skip)
            wrong += out[i] != in[i] * in[i] || (st && st[i].status != 0);
    return wrong;
}

int main(int argc, char **argv)
{
    int64_t in[N], out[N];
    mproc_task_status st[N];
    mproc_pool *pool;
    int rc, wrong, failed = 0;

    mproc_set_log_handler(log_to_stderr, NULL);
    rc = mproc_init(argc, argv); /* first: a spawned worker runs from here */
    if (rc != 0) {
        fprintf(stderr, "mproc_init: %s\n", mproc_strerror(rc));
        return 1;
    }
    printf("start method: %s\n", mproc_method_name(mproc_get_start_method()));
    fflush(stdout); /* a spawned worker has its own buffers: print ours first */

    /* NULL: the default context; 2 workers (0 would mean one per CPU);
     * NULL options: CPython's defaults (no timeout, no retries). */
    pool = mproc_pool_new(NULL, 2, NULL);
    if (!pool) {
        fprintf(stderr, "mproc_pool_new: %s\n", mproc_strerror(mproc_last_error()));
        return 1;
    }
    for (int i = 0; i < N; i++)
        in[i] = i;

    /* N records of sizeof *in bytes in, N of sizeof *out out, in order;
     * chunksize 0 chooses CPython's ceil(N / (4 * workers)). */
    rc = mproc_pool_map(pool, square, in, N, sizeof *in, out, sizeof *out, 0, NULL);
    if (rc != 0) {
        fprintf(stderr, "map: %s\n", mproc_strerror(rc));
        return 1;
    }
    printf("squares: %lld %lld %lld ... %lld\n", (long long)out[0], (long long)out[1], (long long)out[2],
           (long long)out[N - 1]);

    if (mproc_get_start_method() == MPROC_THREAD) {
        /* MPROC_START_METHOD=thread: a worker is a thread of this process,
         * and abort() there ends the process.  Only a process pool
         * survives a crashing task. */
        printf("thread workers: the crash is left out (it would end this process)\n");
    } else {
        /* Every item still runs; map returns the status of the first that
         * failed and st says what became of each one. */
        rc = mproc_pool_map(pool, square_but_crash_on_13, in, N, sizeof *in, out, sizeof *out, 0, st);
        printf("map with a crash returned %s: %s\n", rc == MPROC_EBROKEN ? "MPROC_EBROKEN" : "unexpectedly",
               mproc_strerror(rc));
        print_status(in[CRASHING_INPUT], &st[CRASHING_INPUT]);
        wrong = wrong_squares(in, out, st, CRASHING_INPUT);
        printf("the other %d items: %d wrong\n", N - 1, wrong);
        failed |= rc != MPROC_EBROKEN || st[CRASHING_INPUT].status != MPROC_EBROKEN || wrong != 0;

        /* The crashed worker was replaced: the pool goes on. */
        rc = mproc_pool_map(pool, square, in, N, sizeof *in, out, sizeof *out, 0, NULL);
        wrong = rc == 0 ? wrong_squares(in, out, NULL, -1) : N;
        printf("the same pool afterwards: %s, %d wrong\n", mproc_strerror(rc), wrong);
        failed |= rc != 0 || wrong != 0;
    }

    /* close: no new work; join: the workers finish and are reaped. */
    mproc_pool_close(pool);
    mproc_pool_join(pool, -1);
    mproc_pool_free(pool);
    return failed;
}
