/*
 * mproc's side of every figure, through the public API only (and a clock
 * of the benchmark's own): the same operations the baseline programs
 * (bench/baseline_raw.c, bench/baseline_python.py) time, timed the same
 * way (one warm-up by the driver, the mean over reps).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#ifdef _WIN32
#include <windows.h>
double bench_now(void)
{
    static LARGE_INTEGER freq;
    LARGE_INTEGER t;
    if (!freq.QuadPart)
        QueryPerformanceFrequency(&freq);
    QueryPerformanceCounter(&t);
    return (double)t.QuadPart / (double)freq.QuadPart;
}
#else
#include <time.h>
double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
#endif

long bench_queue_reps(size_t size)
{
    double n = 50e6 / ((double)size + 64);
    return n > 500000 ? 500000 : n < 50 ? 50 : (long)n;
}

static double fail(char *why, const char *what)
{
    snprintf(why, 160, "%s: %s", what, mproc_strerror(mproc_last_error()));
    return -1;
}

/* ---- targets ---------------------------------------------------------------- */

static int nothing(mproc_args *a)
{
    (void)a;
    return 0;
}
MPROC_TARGET(nothing);

/* Gets n messages (args: queue, n). */
static int consume(mproc_args *a)
{
    mproc_queue *q = mproc_args_queue(a, 0);
    int64_t n = mproc_args_i64(a, 1);
    for (int64_t i = 0; i < n; i++) {
        void *d;
        size_t len;
        if (mproc_queue_get(q, &d, &len, 600) != 0)
            return 1;
        mproc_free(d);
    }
    return 0;
}
MPROC_TARGET(consume);

/* Puts n messages of size bytes (args: queue, n, size). */
static int produce(mproc_args *a)
{
    mproc_queue *q = mproc_args_queue(a, 0);
    int64_t n = mproc_args_i64(a, 1);
    size_t size = (size_t)mproc_args_i64(a, 2);
    char *buf = calloc(1, size ? size : 1);
    int rc = buf ? 0 : 1;
    for (int64_t i = 0; i < n && rc == 0; i++)
        rc = mproc_queue_put(q, buf, size, 600) != 0;
    /* A process flushes its queues as it exits (a thread's consumer, in
     * the same process, would be cut off by a close here). */
    free(buf);
    return rc;
}
MPROC_TARGET(produce);

/* Echoes messages until an empty one (args: conn). */
static int echo(mproc_args *a)
{
    mproc_conn *c = mproc_args_conn(a, 0);
    for (;;) {
        void *d;
        size_t len;
        if (mproc_conn_recv(c, &d, &len, 600) != 0)
            return 1;
        if (len == 0) {
            mproc_free(d);
            return 0;
        }
        if (mproc_conn_send(c, d, len) != 0)
            return 1;
        mproc_free(d);
    }
}
MPROC_TARGET(echo);

/* The other side of the lock ping-pong: n times wait a, post b (args: a, b, n). */
static int pong(mproc_args *a)
{
    mproc_sem *ping = mproc_args_sem(a, 0), *back = mproc_args_sem(a, 1);
    int64_t n = mproc_args_i64(a, 2);
    for (int64_t i = 0; i < n; i++)
        if (mproc_sem_acquire(ping, 600) != 0 || mproc_sem_release(back) != 0)
            return 1;
    return 0;
}
MPROC_TARGET(pong);

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

/* ---- helpers ---------------------------------------------------------------- */

static mproc_process *start(mproc_ctx *ctx, mproc_target_fn fn, mproc_args *a)
{
    mproc_process *p = mproc_process_new(ctx, fn, a);
    if (p && mproc_process_start(p) != 0) {
        mproc_process_free(p);
        return NULL;
    }
    return p;
}

/* Joins and frees p; 0 when it exited 0. */
static int finish(mproc_process *p)
{
    int code = -1;
    if (!p)
        return -1;
    (void)mproc_process_join(p, -1);
    (void)mproc_process_exitcode(p, &code);
    mproc_process_free(p);
    return code;
}

/* ---- figures ------------------------------------------------------------------ */

static double start_join(const bench_params *bp, char *why)
{
    mproc_ctx *ctx = mproc_get_context(bp->method);
    double t0 = bench_now();
    if (!ctx)
        return fail(why, "context");
    for (long i = 0; i < bp->reps; i++) {
        mproc_process *p = mproc_process_new(ctx, nothing, NULL);
        if (!p || mproc_process_start(p) != 0) {
            mproc_process_free(p);
            return fail(why, "start");
        }
        (void)mproc_process_join(p, -1);
        mproc_process_free(p);
    }
    return (bench_now() - t0) / (double)bp->reps;
}

/* n producers -> n consumers through one queue; msgs/s. */
static double queue_rate(const bench_params *bp, int n, char *why)
{
    mproc_ctx *ctx = mproc_get_context(bp->fig == FIG_QUEUE_THREAD ? MPROC_THREAD : bp->method);
    mproc_queue *q = ctx ? mproc_queue_new(ctx, 0) : NULL;
    mproc_process *prod[4] = {0}, *cons[4] = {0};
    long per = bp->reps / n;
    double t0, t;
    int bad = 0;
    if (!q)
        return fail(why, "queue");
    (void)mproc_queue_set_max_message(q, bp->size + 64);
    for (int i = 0; i < n; i++) {
        mproc_args *a = mproc_args_new();
        if (!a || mproc_args_add_queue(a, q) || mproc_args_add_i64(a, per))
            bad = 1;
        if (!(cons[i] = start(ctx, consume, a)))
            bad = 1;
    }
    t0 = bench_now();
    for (int i = 0; i < n; i++) {
        mproc_args *a = mproc_args_new();
        if (!a || mproc_args_add_queue(a, q) || mproc_args_add_i64(a, per) ||
            mproc_args_add_i64(a, (int64_t)bp->size))
            bad = 1;
        if (!(prod[i] = start(ctx, produce, a)))
            bad = 1;
    }
    for (int i = 0; i < n; i++)
        bad |= finish(prod[i]) != 0;
    for (int i = 0; i < n; i++)
        bad |= finish(cons[i]) != 0;
    t = bench_now() - t0;
    mproc_queue_free(q);
    if (bad) {
        snprintf(why, 160, "a producer or consumer failed");
        return -1;
    }
    return (double)(per * n) / t;
}

static double conn_rtt(const bench_params *bp, char *why)
{
    mproc_ctx *ctx = mproc_get_context(bp->method);
    mproc_conn *mine = NULL, *theirs = NULL;
    mproc_args *a = mproc_args_new();
    mproc_process *p;
    char msg[64] = {0};
    double t0, t = -1;
    if (!ctx || !a || mproc_pipe(ctx, 1, &mine, &theirs) != 0 || mproc_args_add_conn(a, theirs) != 0) {
        mproc_args_free(a);
        return fail(why, "pipe");
    }
    p = start(ctx, echo, a);
    mproc_conn_close(theirs);
    if (!p) {
        mproc_conn_close(mine);
        return fail(why, "start");
    }
    t0 = bench_now();
    for (long i = 0; i < bp->reps; i++) {
        void *d;
        size_t len;
        if (mproc_conn_send(mine, msg, sizeof msg) != 0 || mproc_conn_recv(mine, &d, &len, 600) != 0)
            break;
        mproc_free(d);
        if (i + 1 == bp->reps)
            t = (bench_now() - t0) / (double)bp->reps;
    }
    (void)mproc_conn_send(mine, "", 0);
    (void)finish(p);
    mproc_conn_close(mine);
    if (t < 0)
        snprintf(why, 160, "the echo child failed");
    return t;
}

static double lock_pair(const bench_params *bp, char *why)
{
    mproc_lock *l = mproc_lock_new(mproc_get_context(bp->method));
    double t0;
    if (!l)
        return fail(why, "lock");
    t0 = bench_now();
    for (long i = 0; i < bp->reps; i++) {
        (void)mproc_lock_acquire(l, -1);
        (void)mproc_lock_release(l);
    }
    t0 = (bench_now() - t0) / (double)bp->reps;
    mproc_lock_free(l);
    return t0;
}

static double lock_pingpong(const bench_params *bp, char *why)
{
    mproc_ctx *ctx = mproc_get_context(bp->method);
    mproc_sem *ping = mproc_sem_new(ctx, 0), *back = mproc_sem_new(ctx, 0);
    mproc_args *a = mproc_args_new();
    mproc_process *p = NULL;
    double t0, t = -1;
    if (ping && back && a && mproc_args_add_sem(a, ping) == 0 && mproc_args_add_sem(a, back) == 0 &&
        mproc_args_add_i64(a, bp->reps) == 0)
        p = start(ctx, pong, a);
    else
        mproc_args_free(a);
    if (p) {
        t0 = bench_now();
        for (long i = 0; i < bp->reps; i++)
            if (mproc_sem_release(ping) != 0 || mproc_sem_acquire(back, 600) != 0)
                break;
        t = (bench_now() - t0) / (double)bp->reps;
        if (finish(p) != 0)
            t = -1;
    }
    mproc_sem_free(ping);
    mproc_sem_free(back);
    if (t < 0)
        snprintf(why, 160, "the ping-pong child failed");
    return t;
}

static double pool_rate(const bench_params *bp, char *why)
{
    mproc_pool *pool = mproc_pool_new(mproc_get_context(bp->method), 2, NULL);
    size_t n = (size_t)bp->reps;
    int64_t *in = malloc(n * sizeof *in), *out = malloc(n * sizeof *out);
    double t0, t = -1;
    if (pool && in && out) {
        for (size_t i = 0; i < n; i++)
            in[i] = (int64_t)i;
        (void)mproc_pool_map(pool, square, in, 16, sizeof *in, out, sizeof *out, 1, NULL); /* workers up */
        t0 = bench_now();
        if (mproc_pool_map(pool, square, in, n, sizeof *in, out, sizeof *out, bp->chunksize, NULL) == 0)
            t = (double)n / (bench_now() - t0);
    }
    if (!pool)
        (void)fail(why, "pool");
    else if (t < 0)
        snprintf(why, 160, "map failed");
    mproc_pool_free(pool);
    free(in);
    free(out);
    return t;
}

double bench_mproc(const bench_params *bp, char *why)
{
    why[0] = 0;
    switch (bp->fig) {
    case FIG_START: return start_join(bp, why);
    case FIG_QUEUE:
    case FIG_QUEUE_THREAD: return queue_rate(bp, 1, why);
    case FIG_QUEUE_4X4: return queue_rate(bp, 4, why);
    case FIG_CONN_RTT: return conn_rtt(bp, why);
    case FIG_LOCK: return lock_pair(bp, why);
    case FIG_LOCK_PINGPONG: return lock_pingpong(bp, why);
    case FIG_POOL: return pool_rate(bp, why);
    default: snprintf(why, 160, "unknown figure"); return -1;
    }
}
