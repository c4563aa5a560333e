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

/* Says it runs, then gets n messages (args: queue, n, ready). */
static int consume(mproc_args *a)
{
    mproc_queue *q = mproc_args_queue(a, 0);
    int64_t n = mproc_args_i64(a, 1);
    if (mproc_sem_release(mproc_args_sem(a, 2)) != 0)
        return 1;
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

static int put_n(mproc_queue *q, int64_t n, size_t size)
{
    char *buf = calloc(1, size ? size : 1);
    int rc = buf ? 0 : 1;
    for (int64_t i = 0; i < n && rc == 0; i++)
        rc = mproc_queue_put(q, buf, size, 600) != 0;
    free(buf);
    return rc;
}

/* Waits for the start signal, then puts n messages of size bytes (args:
 * queue, n, size, go).  The process flushes its queue as it exits. */
static int produce(mproc_args *a)
{
    if (mproc_event_wait(mproc_args_event(a, 3), 600) != 0)
        return 1;
    return put_n(mproc_args_queue(a, 0), mproc_args_i64(a, 1), (size_t)mproc_args_i64(a, 2));
}
MPROC_TARGET(produce);

/* Echoes messages until an empty one (args: conn). */
static int echo(mproc_args *a)
{
    mproc_conn *c = mproc_args_conn(a, 0);
    for (;;) {
        void *d;
        size_t len;
        if (mproc_conn_recv(c, &d, &len, -1) != 0)
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

/* n producers -> n consumers through one queue; msgs/s, timed as the
 * baselines are: the consumers run before the clock starts, and it stops
 * when the last consumer has its last message.  1 -> 1: this process
 * produces (its feeder started by an untimed message), as the raw pipe's
 * and CPython's producers do; n -> n: n producer processes wait for one
 * start signal. */
static double queue_rate(const bench_params *bp, int n, char *why)
{
    mproc_ctx *ctx = mproc_get_context(bp->fig == FIG_QUEUE_THREAD ? MPROC_THREAD : bp->method);
    mproc_queue *q = ctx ? mproc_queue_new(ctx, 0) : NULL;
    mproc_sem *ready = ctx ? mproc_sem_new(ctx, 0) : NULL;
    mproc_event *go = ctx ? mproc_event_new(ctx) : NULL;
    mproc_process *prod[4] = {0}, *cons[4] = {0};
    int64_t per = bp->reps / n, warm = n == 1;
    double t0 = 0, t = -1;
    int bad = !q || !ready || !go;
    if (!bad)
        (void)mproc_queue_set_max_message(q, bp->size + 64);
    for (int i = 0; i < n && !bad; i++) {
        mproc_args *a = mproc_args_new();
        if (!a || mproc_args_add_queue(a, q) || mproc_args_add_i64(a, per + warm) || mproc_args_add_sem(a, ready))
            bad = 1;
        if (!(cons[i] = start(ctx, consume, a)))
            bad = 1;
    }
    for (int i = 0; i < n && !bad && n > 1; i++) {
        mproc_args *a = mproc_args_new();
        if (!a || mproc_args_add_queue(a, q) || mproc_args_add_i64(a, per) ||
            mproc_args_add_i64(a, (int64_t)bp->size) || mproc_args_add_event(a, go))
            bad = 1;
        if (!(prod[i] = start(ctx, produce, a)))
            bad = 1;
    }
    if (!bad && warm)
        bad = put_n(q, 1, bp->size);
    for (int i = 0; i < n && !bad; i++)
        bad = mproc_sem_acquire(ready, 600) != 0;
    if (!bad) {
        t0 = bench_now();
        bad = n > 1 ? mproc_event_set(go) != 0 : put_n(q, per, bp->size);
    }
    if (bad) /* the children would wait for ever */
        for (int i = 0; i < n; i++) {
            if (prod[i])
                (void)mproc_process_terminate(prod[i]);
            if (cons[i])
                (void)mproc_process_terminate(cons[i]);
        }
    for (int i = 0; i < n; i++)
        bad |= prod[i] && finish(prod[i]) != 0;
    for (int i = 0; i < n; i++)
        bad |= cons[i] && finish(cons[i]) != 0;
    if (!bad)
        t = (double)(per * n) / (bench_now() - t0);
    mproc_queue_free(q);
    mproc_sem_free(ready);
    mproc_event_free(go);
    if (t < 0) {
        if (!q || !ready || !go)
            return fail(why, "queue");
        snprintf(why, 160, "a producer or consumer failed");
    }
    return t;
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
        if (mproc_conn_send(mine, msg, sizeof msg) != 0 || mproc_conn_recv(mine, &d, &len, -1) != 0)
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
