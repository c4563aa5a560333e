/*
 * The pool as a program that outgrows one machine uses it: one source,
 * built twice.  test_pool_scale runs it on a process pool of 2 workers
 * (every start method); test_pool_mpi (MPROC_TEST_MPI) runs the very same
 * tests on an MPI pool under `mpiexec -n 3` (1 master, 2 worker ranks).
 * new_pool() is the only difference: swapping one for the other is the
 * constructor alone.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifndef _WIN32
#include <unistd.h>
#endif

#include "testutil.h"
#ifdef MPROC_TEST_MPI
#include "mproc_mpi.h"
#endif

enum { WORKERS = 2, SQUARES = 100000, BIG = 16 << 20 };

static mproc_pool *new_pool(const mproc_pool_opts *opts)
{
#ifdef MPROC_TEST_MPI
    return mproc_mpi_pool_new(MPI_COMM_WORLD, opts);
#else
    return mproc_pool_new(NULL, WORKERS, opts);
#endif
}

/* ---- tasks (every rank and every spawned worker registers them) ---------- */

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

static int returns_5(const void *in, size_t len, mproc_out *out)
{
    (void)in, (void)len, (void)out;
    return 5;
}
MPROC_TASK(returns_5);

/* Every byte flipped: a result as big as its input. */
static int flip(const void *in, size_t len, mproc_out *out)
{
    unsigned char *copy = malloc(len ? len : 1);
    int rc;
    if (!copy)
        return 12;
    for (size_t i = 0; i < len; i++)
        copy[i] = (unsigned char)(((const unsigned char *)in)[i] ^ 0xa5);
    rc = mproc_out_write(out, copy, len);
    free(copy);
    return rc;
}
MPROC_TASK(flip);

/* Busy for about 2 ms: work a terminate finds in flight. */
static int busy(const void *in, size_t len, mproc_out *out)
{
    double end = tu_now() + 0.002;
    (void)in, (void)len, (void)out;
    while (tu_now() < end)
        ;
    return 0;
}
MPROC_TASK(busy);

/* What the initializer left in its worker and how many times it has run
 * in this process, as the task's result (atomic: thread workers share
 * them).  A new worker life is a new process (process pool), or another
 * run of the initializer in the same process (MPI rank, thread). */
static atomic_llong from_initializer = -1;
static atomic_llong initializer_runs = 0;
static int pool_init(mproc_args *a)
{
    atomic_store(&from_initializer, mproc_args_i64(a, 0));
    atomic_fetch_add(&initializer_runs, 1);
    return 0;
}
MPROC_TARGET(pool_init);
static int initialized_value(const void *in, size_t len, mproc_out *out)
{
    int64_t v[2];
    v[0] = atomic_load(&from_initializer);
    v[1] = atomic_load(&initializer_runs);
    (void)in, (void)len;
    return mproc_out_write(out, v, sizeof v);
}
MPROC_TASK(initialized_value);

/* Registered at run time in the master only: no worker image knows it. */
static int master_only(const void *in, size_t len, mproc_out *out)
{
    (void)in, (void)len, (void)out;
    return 0;
}

static uint64_t fnv1a(const unsigned char *p, size_t n, unsigned char xor_with)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)(p[i] ^ xor_with)) * 1099511628211ull;
    return h;
}

/* ---- map ------------------------------------------------------------------ */

static void progress(size_t done, size_t total, void *ud)
{
    size_t *seen = ud;
    seen[0] = done;
    seen[1] = total;
}

/* 100,000 squares; the process-pool build takes a tenth under the
 * sanitizer, musl and Wine stages (tu_cycles), the MPI build never does. */
static int squares_count(void)
{
#ifdef MPROC_TEST_MPI
    return SQUARES;
#else
    return tu_cycles(SQUARES);
#endif
}

static void map_squares(size_t chunksize)
{
    const int n = squares_count();
    int64_t *in = malloc((size_t)n * sizeof *in), *out = malloc((size_t)n * sizeof *out);
    size_t seen[2] = {0, 0};
    mproc_pool_opts o = {0};
    mproc_pool *p;
    int wrong = 0;
    CU_ASSERT_FATAL(in && out);
    o.progress = progress;
    o.progress_ud = seen;
    p = new_pool(&o);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    for (int i = 0; i < n; i++)
        in[i] = i, out[i] = -1;
    CU_ASSERT_EQUAL(mproc_pool_map(p, square, in, (size_t)n, sizeof *in, out, sizeof *out, chunksize, NULL), 0);
    for (int i = 0; i < n; i++)
        wrong += out[i] != (int64_t)i * i;
    CU_ASSERT_EQUAL(wrong, 0);
    CU_ASSERT_EQUAL(seen[0], (size_t)n);
    CU_ASSERT_EQUAL(seen[1], (size_t)n);
    CU_ASSERT_EQUAL(mproc_pool_close(p), 0);
    CU_ASSERT_EQUAL(mproc_pool_join(p, 60), 0);
    mproc_pool_free(p);
    free(in);
    free(out);
}

static void test_map_chunksize_1(void) { map_squares(1); }
static void test_map_chunksize_7(void) { map_squares(7); }
static void test_map_default_chunksize(void) { map_squares(0); }

/* ---- imap ----------------------------------------------------------------- */

typedef struct {
    int64_t next, n, value;
    unsigned char *seen; /* results: how many times each index came */
    size_t results, out_of_order, wrong;
} stream;

static int next_int(void *ud, const void **data, size_t *len)
{
    stream *s = ud;
    if (s->next >= s->n)
        return 0;
    s->value = s->next++; /* lazily made: valid until the next call */
    *data = &s->value;
    *len = sizeof s->value;
    return 1;
}

static void on_square(void *ud, size_t index, const mproc_task_status *st, const void *data, size_t len)
{
    stream *s = ud;
    int64_t v = -1;
    if (len == sizeof v)
        memcpy(&v, data, sizeof v);
    s->wrong += st->status != 0 || v != (int64_t)index * (int64_t)index;
    s->out_of_order += index != s->results;
    if ((int64_t)index < s->n)
        s->seen[index]++;
    s->results++;
}

static void imap_squares(int ordered)
{
    stream s = {0, 20000, 0, NULL, 0, 0, 0};
    mproc_pool *p = new_pool(NULL);
    size_t once = 0;
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    s.seen = calloc((size_t)s.n, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s.seen);
    CU_ASSERT_EQUAL(mproc_pool_imap(p, square, next_int, &s, on_square, &s, ordered ? 1 : 3, ordered), 0);
    for (int64_t i = 0; i < s.n; i++)
        once += s.seen[i] == 1;
    CU_ASSERT_EQUAL(s.results, (size_t)s.n);
    CU_ASSERT_EQUAL(once, (size_t)s.n);
    CU_ASSERT_EQUAL(s.wrong, 0);
    if (ordered)
        CU_ASSERT_EQUAL(s.out_of_order, 0);
    mproc_pool_free(p);
    free(s.seen);
}

static void test_imap_ordered_lazy_input(void) { imap_squares(1); }
static void test_imap_unordered_each_result_once(void) { imap_squares(0); }

/* ---- 16 MiB ------------------------------------------------------------------ */

typedef struct {
    unsigned char *buf;
    int made, n;
    uint64_t want[4];
    int ok, bad;
} big_stream;

static int next_big(void *ud, const void **data, size_t *len)
{
    big_stream *b = ud;
    if (b->made >= b->n)
        return 0;
    for (size_t i = 0; i < BIG; i++)
        b->buf[i] = (unsigned char)(i * 31 + (size_t)b->made * 7 + (i >> 12));
    b->want[b->made] = fnv1a(b->buf, BIG, 0xa5); /* of the flipped bytes */
    b->made++;
    *data = b->buf;
    *len = BIG;
    return 1;
}

static void on_big(void *ud, size_t index, const mproc_task_status *st, const void *data, size_t len)
{
    big_stream *b = ud;
    if (st->status == 0 && len == BIG && index < 4 && fnv1a(data, len, 0) == b->want[index])
        b->ok++;
    else
        b->bad++;
}

static void test_16mib_inputs_and_results(void)
{
    big_stream b = {NULL, 0, 3, {0}, 0, 0};
    mproc_pool *p = new_pool(NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    b.buf = malloc(BIG);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b.buf);
    CU_ASSERT_EQUAL(mproc_pool_imap(p, flip, next_big, &b, on_big, &b, 1, 1), 0);
    CU_ASSERT_EQUAL(b.ok, b.n);
    CU_ASSERT_EQUAL(b.bad, 0);
    {
        /* apply_async: one more each way, checked byte for byte. */
        mproc_result *r;
        void *data = NULL;
        size_t len = 0;
        mproc_task_status st;
        memset(b.buf, 0x3c, BIG);
        r = mproc_pool_apply_async(p, flip, b.buf, BIG);
        CU_ASSERT_PTR_NOT_NULL_FATAL(r);
        CU_ASSERT_EQUAL(mproc_result_get(r, &data, &len, 120, &st), 0);
        CU_ASSERT_EQUAL(len, (size_t)BIG);
        CU_ASSERT(data && len == BIG && fnv1a(data, len, 0) == fnv1a(b.buf, BIG, 0xa5));
        mproc_free(data);
        mproc_result_free(r);
    }
    mproc_pool_free(p);
    free(b.buf);
}

/* ---- failures --------------------------------------------------------------- */

static void test_task_code_5_is_etask(void)
{
    int64_t in[10] = {0}, out[10];
    mproc_task_status st[10];
    mproc_pool *p = new_pool(NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL(mproc_pool_map(p, returns_5, in, 10, sizeof *in, out, sizeof *out, 3, st), MPROC_ETASK);
    for (int i = 0; i < 10; i++) {
        CU_ASSERT_EQUAL(st[i].status, MPROC_ETASK);
        CU_ASSERT_EQUAL(st[i].code, 5);
        CU_ASSERT_EQUAL(st[i].attempts, 1);
        CU_ASSERT(st[i].pid > 0);
    }
    /* The pool goes on. */
    CU_ASSERT_EQUAL(mproc_pool_map(p, square, in, 10, sizeof *in, out, sizeof *out, 0, NULL), 0);
    mproc_pool_free(p);
}

static void test_unknown_task_name_is_enotreg(void)
{
    int64_t in[4] = {1, 2, 3, 4}, out[4];
    mproc_task_status st[4];
    mproc_pool *p;
#ifndef MPROC_TEST_MPI
    TU_SKIP_IF(mproc_get_start_method() == MPROC_FORK || mproc_get_start_method() == MPROC_THREAD,
               "fork and thread workers share the master's registry: every name is known there");
#endif
    CU_ASSERT_EQUAL(mproc_register_task("master_only", master_only), 0);
    p = new_pool(NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL(mproc_pool_map(p, master_only, in, 4, sizeof *in, out, sizeof *out, 1, st), MPROC_ENOTREG);
    for (int i = 0; i < 4; i++)
        CU_ASSERT_EQUAL(st[i].status, MPROC_ENOTREG);
    CU_ASSERT_EQUAL(mproc_pool_map(p, square, in, 4, sizeof *in, out, sizeof *out, 1, NULL), 0);
    CU_ASSERT_EQUAL(out[3], 16);
    mproc_pool_free(p);
}

/* ---- worker lives ---------------------------------------------------------- */

static void test_initializer_and_maxtasksperchild(void)
{
    enum { N = 50 };
    int64_t in[N] = {0}, out[N][2];
    mproc_task_status st[N];
    mproc_args *a = mproc_args_new();
    mproc_pool_opts o = {0};
    mproc_pool *p;
    int wrong = 0, lives = 0;
    CU_ASSERT_FATAL(a && mproc_args_add_i64(a, 42) == 0);
    o.initializer = pool_init;
    o.initargs = a;
    o.maxtasksperchild = 3; /* every third task, a new life (and initializer run) */
    p = new_pool(&o);
    mproc_args_free(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL(mproc_pool_map(p, initialized_value, in, N, sizeof *in, out, sizeof *out, 2, st), 0);
    /* Every item saw the initializer's value; the distinct (worker pid,
     * initializer runs) pairs count the lives: at 3 tasks a life, 50 items
     * take at least 17 (asserted: more than the 2 first lives). */
    for (int i = 0; i < N; i++) {
        int seen = 0;
        wrong += out[i][0] != 42;
        for (int k = 0; k < i; k++)
            seen |= st[k].pid == st[i].pid && out[k][1] == out[i][1];
        lives += !seen;
    }
    CU_ASSERT_EQUAL(wrong, 0);
    CU_ASSERT(lives > WORKERS);
    mproc_pool_free(p);
}

/* terminate with work in flight, then a new pool on the same workers. */
static void test_terminate_then_new_pool(void)
{
    enum { N = 2000 };
    static int64_t in[N], out[N];
    mproc_pool *p = new_pool(NULL);
    mproc_result *r;
    mproc_task_status st;
    double t0;
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    r = mproc_pool_apply_async(p, busy, "x", 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    for (int i = 0; i < 200; i++)
        mproc_result_free(mproc_pool_apply_async(p, busy, "x", 1));
    CU_ASSERT_EQUAL(mproc_result_wait(r, 60), 0);
    t0 = tu_now();
    CU_ASSERT_EQUAL(mproc_pool_terminate(p), 0);
    CU_ASSERT_EQUAL(mproc_pool_join(p, 30), 0);
    CU_ASSERT(tu_now() - t0 < 10);
    mproc_result_free(r);
    r = mproc_pool_apply_async(p, busy, "x", 1);
    CU_ASSERT_PTR_NULL(r);
    CU_ASSERT_EQUAL(mproc_last_error(), MPROC_ECLOSED);
    mproc_pool_free(p);

    p = new_pool(NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    for (int i = 0; i < N; i++)
        in[i] = i;
    CU_ASSERT_EQUAL(mproc_pool_map(p, square, in, N, sizeof *in, out, sizeof *out, 1, NULL), 0);
    /* Every item: a late result of the terminated pool's (ids start at 1
     * in every pool) must not stand in for one of this pool's. */
    {
        int wrong = 0;
        for (int i = 0; i < N; i++)
            wrong += out[i] != (int64_t)i * i;
        CU_ASSERT_EQUAL(wrong, 0);
    }
    r = mproc_pool_apply_async(p, square, &in[9], sizeof in[9]);
    CU_ASSERT_EQUAL(mproc_result_get(r, NULL, NULL, 60, &st), 0);
    mproc_result_free(r);
    mproc_pool_free(p);
}

/* ---- idle workers -------------------------------------------------------------- */

/* This process's pid, to probe whether another's CPU time is readable. */
static long pids_probe(void)
{
#ifdef _WIN32
    return 0;
#else
    return (long)getpid();
#endif
}

static void test_idle_workers_use_under_5_percent(void)
{
    enum { N = 64 };
    int64_t in[N], out[N];
    mproc_task_status st[N];
    long pids[WORKERS] = {0};
    double before[WORKERS], used;
    int npids = 0;
    mproc_pool *p;
    TU_SKIP_IF(mproc_get_start_method() == MPROC_THREAD, "thread workers are this process's own threads");
    TU_SKIP_IF(tu_process_cpu_seconds(pids_probe()) < 0, "reads another process's CPU time from /proc/<pid>/stat");
    p = new_pool(NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    for (int i = 0; i < N; i++)
        in[i] = i;
    CU_ASSERT_EQUAL_FATAL(mproc_pool_map(p, square, in, N, sizeof *in, out, sizeof *out, 1, st), 0);
    for (int i = 0; i < N; i++) {
        int known = 0;
        for (int k = 0; k < npids; k++)
            known |= pids[k] == st[i].pid;
        if (!known && npids < WORKERS)
            pids[npids++] = st[i].pid;
    }
    CU_ASSERT_EQUAL_FATAL(npids, WORKERS);
    for (int k = 0; k < npids; k++)
        before[k] = tu_process_cpu_seconds(pids[k]);
    /* The master waits 2 s on an event nobody sets: the window measured,
     * not a synchronisation. */
    {
        mproc_event *never = mproc_event_new(mproc_get_context(MPROC_THREAD));
        CU_ASSERT_PTR_NOT_NULL_FATAL(never);
        CU_ASSERT_EQUAL(mproc_event_wait(never, 2.0), MPROC_ETIMEDOUT);
        mproc_event_free(never);
    }
    for (int k = 0; k < npids; k++) {
        used = tu_process_cpu_seconds(pids[k]) - before[k];
        printf("idle worker %ld: %.3f s of CPU in 2 s\n", pids[k], used);
        CU_ASSERT(before[k] >= 0 && used >= 0 && used < 0.05 * 2);
    }
    mproc_pool_free(p);
}

static CU_TestInfo tests[] = {
    TU_TEST(test_map_chunksize_1),
    TU_TEST(test_map_chunksize_7),
    TU_TEST(test_map_default_chunksize),
    TU_TEST(test_imap_ordered_lazy_input),
    TU_TEST(test_imap_unordered_each_result_once),
    TU_TEST(test_16mib_inputs_and_results),
    TU_TEST(test_task_code_5_is_etask),
    TU_TEST(test_unknown_task_name_is_enotreg),
    TU_TEST(test_initializer_and_maxtasksperchild),
    TU_TEST(test_terminate_then_new_pool),
    TU_TEST(test_idle_workers_use_under_5_percent),
    CU_TEST_INFO_NULL,
};

static void reg(void)
{
#ifdef MPROC_TEST_MPI
    /* Worker ranks serve from here and exit 0; rank 0 runs the suite. */
    if (mproc_mpi_init(&tu_argc, &tu_argv) != 0) {
        fprintf(stderr, "mproc_mpi_init: %s\n", mproc_strerror(mproc_last_error()));
        exit(1);
    }
    tu_add_suite("pool_mpi", tests);
#else
    tu_add_suite("pool_scale", tests);
#endif
}

int main(int argc, char **argv)
{
    int rc = tu_main(argc, argv, reg);
#ifdef MPROC_TEST_MPI
    /* MPROC_TEST_MPI_NO_FINALIZE: the master returns from main without
     * mproc_mpi_finalize, leaving a pool alive with work in flight; the
     * exit hooks must still stop it and release the ranks (each exits 0). */
    if (getenv("MPROC_TEST_MPI_NO_FINALIZE")) {
        mproc_pool *p = new_pool(NULL);
        for (int i = 0; p && i < 100; i++)
            mproc_result_free(mproc_pool_apply_async(p, busy, "x", 1));
        return p ? rc : 1;
    }
    if (mproc_mpi_finalize() != 0)
        rc = 1;
#endif
    return rc;
}
