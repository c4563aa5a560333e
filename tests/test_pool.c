/*
 * Pools: map, imap, apply_async over every start method; a worker that
 * dies fails only the item it ran and the pool goes on; timeouts, retries,
 * worker recycling, terminate, progress.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "testutil.h"

static mproc_pool *new_pool(int workers, const mproc_pool_opts *opts)
{
    mproc_pool *p = mproc_pool_new(mproc_get_context(tu_method()), workers, opts);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    return p;
}

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

/* ---- a watchdog: a test that hangs fails instead of stalling the suite ---- */

static mproc__mutex *dog_mu;
static mproc__cond *dog_cv;
static int dog_armed;
static const char *dog_what;
static double dog_seconds;
static mproc__child *dog_thread;

static int dog_main(void *ud)
{
    double end = tu_now() + dog_seconds;
    (void)ud;
    mproc__plat_mutex_lock(dog_mu);
    while (dog_armed && tu_now() < end)
        (void)mproc__plat_cond_wait(dog_cv, dog_mu, end - tu_now());
    if (dog_armed) {
        fprintf(stderr, "FAILED: %s did not finish within %.0f s\n", dog_what, dog_seconds);
        fflush(stderr);
        mproc__plat_exit_now(1);
    }
    mproc__plat_mutex_unlock(dog_mu);
    return 0;
}

static void watchdog_arm(double seconds, const char *what)
{
    if (!dog_mu) {
        dog_mu = mproc__plat_mutex_new();
        dog_cv = mproc__plat_cond_new();
    }
    dog_armed = 1;
    dog_what = what;
    dog_seconds = seconds;
    CU_ASSERT_EQUAL_FATAL(mproc__plat_thread_start(&dog_thread, dog_main, NULL), 0);
}

static void watchdog_disarm(void)
{
    int code;
    mproc__plat_mutex_lock(dog_mu);
    dog_armed = 0;
    mproc__plat_cond_signal(dog_cv);
    mproc__plat_mutex_unlock(dog_mu);
    (void)mproc__plat_child_wait(dog_thread, -1, &code);
    mproc__plat_child_free(dog_thread);
}

/* ---- map ------------------------------------------------------------------- */

static void map_squares(size_t chunksize)
{
    enum { N = 100000 };
    int64_t *in = malloc(N * sizeof *in), *out = malloc(N * sizeof *out);
    mproc_pool *p = new_pool(2, NULL);
    int wrong = 0;
    for (int64_t i = 0; i < N; i++)
        in[i] = i;
    CU_ASSERT_EQUAL(mproc_pool_map(p, square, in, N, sizeof *in, out, sizeof *out, chunksize, NULL), 0);
    for (int64_t i = 0; i < N; i++)
        wrong += out[i] != i * i;
    CU_ASSERT_EQUAL(wrong, 0);
    mproc_pool_free(p);
    free(in);
    free(out);
}
static void test_map_of_100000_squares_in_order_with_chunksize_1(void) { map_squares(1); }
static void test_map_of_100000_squares_in_order_with_chunksize_7(void) { map_squares(7); }
static void test_map_of_100000_squares_in_order_with_the_default_chunksize(void) { map_squares(0); }

static int unregistered(const void *in, size_t len, mproc_out *out)
{
    (void)in;
    (void)len;
    (void)out;
    return 0;
}

static void test_an_unregistered_task_is_enotreg_before_anything_runs_under_spawn(void)
{
    int64_t in = 3, out = 0;
    mproc_pool *p;
    TU_SKIP_IF(tu_method() == MPROC_FORK || tu_method() == MPROC_THREAD,
               "fork and thread pools run unregistered tasks by address");
    p = new_pool(1, NULL);
    CU_ASSERT_EQUAL(mproc_pool_map(p, unregistered, &in, 1, sizeof in, &out, sizeof out, 0, NULL), MPROC_ENOTREG);
    CU_ASSERT_PTR_NULL(mproc_pool_apply_async(p, unregistered, &in, sizeof in));
    CU_ASSERT_EQUAL(mproc_last_error(), MPROC_ENOTREG);
    mproc_pool_free(p);
}

static int fail_on_odd(const void *in, size_t len, mproc_out *out)
{
    int64_t v;
    (void)out;
    memcpy(&v, in, len < sizeof v ? len : sizeof v);
    return v % 2 ? 40 + (int)v : 0;
}
MPROC_TASK(fail_on_odd);

static void test_a_task_returning_nonzero_fails_that_item_with_etask_and_its_code(void)
{
    int64_t in[4] = {0, 1, 2, 3}, out[4];
    mproc_task_status st[4];
    mproc_pool *p = new_pool(2, NULL);
    CU_ASSERT_EQUAL(mproc_pool_map(p, fail_on_odd, in, 4, sizeof *in, out, sizeof *out, 1, st), MPROC_ETASK);
    CU_ASSERT_EQUAL(st[0].status, 0);
    CU_ASSERT_EQUAL(st[1].status, MPROC_ETASK);
    CU_ASSERT_EQUAL(st[1].code, 41);
    CU_ASSERT_EQUAL(st[3].code, 43);
    CU_ASSERT_EQUAL(st[2].status, 0);
    CU_ASSERT_EQUAL(st[2].attempts, 1);
    CU_ASSERT(st[2].pid > 0);
    mproc_pool_free(p);
}

/* ---- imap -------------------------------------------------------------------- */

typedef struct {
    int64_t next, n, value;
    size_t delivered, in_order, wrong;
    unsigned char *seen;
} counter;

static int count_up(void *ud, const void **data, size_t *len)
{
    counter *c = ud;
    if (c->next == c->n)
        return 0;
    c->value = c->next++;
    *data = &c->value;
    *len = sizeof c->value;
    return 1;
}

static void check_square(void *ud, size_t index, const mproc_task_status *st, const void *data, size_t len)
{
    counter *c = ud;
    int64_t v = -1;
    if (st->status == 0 && len == sizeof v)
        memcpy(&v, data, sizeof v);
    c->wrong += v != (int64_t)index * (int64_t)index;
    c->in_order += index == c->delivered;
    if (c->seen)
        c->seen[index]++;
    c->delivered++;
}

static void test_imap_delivers_in_input_order(void)
{
    counter c = {0, 5000, 0, 0, 0, 0, NULL};
    mproc_pool *p = new_pool(2, NULL);
    CU_ASSERT_EQUAL(mproc_pool_imap(p, square, count_up, &c, check_square, &c, 3, 1), 0);
    CU_ASSERT_EQUAL(c.delivered, 5000);
    CU_ASSERT_EQUAL(c.in_order, 5000);
    CU_ASSERT_EQUAL(c.wrong, 0);
    mproc_pool_free(p);
}

static void test_imap_unordered_delivers_every_result_exactly_once(void)
{
    counter c = {0, 5000, 0, 0, 0, 0, calloc(5000, 1)};
    mproc_pool *p = new_pool(2, NULL);
    size_t once = 0;
    CU_ASSERT_EQUAL(mproc_pool_imap(p, square, count_up, &c, check_square, &c, 1, 0), 0);
    for (int i = 0; i < 5000; i++)
        once += c.seen[i] == 1;
    CU_ASSERT_EQUAL(once, 5000);
    CU_ASSERT_EQUAL(c.wrong, 0);
    free(c.seen);
    mproc_pool_free(p);
}

static void test_imap_of_10000000_lazy_inputs_keeps_memory_bounded(void)
{
    counter c = {0, tu_cycles(10000000), 0, 0, 0, 0, NULL};
    long before = tu_peak_memory_kib();
    mproc_pool *p;
    TU_SKIP_IF(before < 0, "this OS does not report peak memory to the test helper");
    p = new_pool(2, NULL);
    CU_ASSERT_EQUAL(mproc_pool_imap(p, square, count_up, &c, check_square, &c, 1000, 1), 0);
    CU_ASSERT_EQUAL(c.delivered, (size_t)c.n);
    CU_ASSERT_EQUAL(c.wrong, 0);
#ifdef MPROC_TEST_SANITIZED
    tu_skip_part("peak memory", "a sanitizer's allocator keeps freed memory in quarantine");
#else
    CU_ASSERT(tu_peak_memory_kib() - before < 64 * 1024);
#endif
    mproc_pool_free(p);
}

/* ---- workers that die ---------------------------------------------------------- */

enum { CRASH_SEGV = 1, CRASH_ABORT, CRASH_EXIT, CRASH_KILL };
typedef struct {
    int64_t value;
    int32_t crash;      /* how this item ends its worker, 0: it does not */
    int32_t only_first; /* crash only when the marker file does not exist yet */
    char marker[300];
} crash_input;

static int crash_or_square(const void *in, size_t len, mproc_out *out)
{
    crash_input c;
    int64_t v;
    if (len != sizeof c)
        return 1;
    memcpy(&c, in, sizeof c);
    if (c.crash && c.only_first) {
        FILE *f = fopen(c.marker, "r");
        if (f) {
            fclose(f);
            c.crash = 0;
        } else if ((f = fopen(c.marker, "w")) != NULL) {
            fclose(f);
        }
    }
    switch (c.crash) {
    case CRASH_SEGV:
        /* The default action: a sanitizer's handler would turn the signal
         * into a report and exit code 1. */
        signal(SIGSEGV, SIG_DFL);
        raise(SIGSEGV);
        break;
    case CRASH_ABORT: abort();
    case CRASH_EXIT: mproc__plat_exit_now(3);
    case CRASH_KILL:
        /* As the OOM killer would; a kill that fails fails the item instead. */
        if (mproc__plat_kill_pid(mproc__plat_getpid(), 1) != 0)
            return 99;
        for (;;)
            (void)mproc_cpu_count(); /* until the kill lands */
    default: break;
    }
    v = c.value * c.value;
    return mproc_out_write(out, &v, sizeof v);
}
MPROC_TASK(crash_or_square);

static int expected_code(int crash)
{
#ifdef _WIN32
    (void)crash;
    return 0; /* Windows has no signals: checked as nonzero */
#else
    switch (crash) {
    case CRASH_SEGV: return -SIGSEGV;
    case CRASH_ABORT: return -SIGABRT;
    case CRASH_EXIT: return 3;
    default: return -SIGKILL;
    }
#endif
}

static void crash_items_13_and_77(int crash, int retries)
{
    enum { N = 200 };
    crash_input *in = calloc(N, sizeof *in);
    int64_t out[N];
    mproc_task_status st[N];
    mproc_pool_opts opts = {0};
    mproc_pool *p;
    int rounds = retries ? 1 : tu_cycles(20), wrong = 0;
    char base[256];

    tu_temp_path(base, "pool-marker");
    opts.max_retries = retries;
    p = new_pool(2, &opts);
    for (int round = 0; round < rounds; round++) {
        for (int i = 0; i < N; i++) {
            in[i].value = i;
            in[i].crash = i == 13 || i == 77 ? crash : 0;
            in[i].only_first = retries > 0;
            snprintf(in[i].marker, sizeof in[i].marker, "%s-%d", base, i);
        }
        watchdog_arm(30, "a map with crashing items");
        CU_ASSERT_EQUAL(mproc_pool_map(p, crash_or_square, in, N, sizeof *in, out, sizeof *out, 0, st),
                        retries ? 0 : MPROC_EBROKEN);
        watchdog_disarm();
        for (int i = 0; i < N; i++) {
            if ((i == 13 || i == 77) && !retries) {
                wrong += st[i].status != MPROC_EBROKEN || st[i].pid <= 0 || st[i].attempts != 1;
                wrong += expected_code(crash) ? st[i].code != expected_code(crash) : st[i].code == 0;
            } else {
                wrong += st[i].status != 0 || out[i] != (int64_t)i * i;
                if (i == 13 || i == 77)
                    wrong += st[i].attempts != 2;
            }
        }
    }
    CU_ASSERT_EQUAL(wrong, 0);
    /* And the pool is usable afterwards. */
    {
        int64_t x = 9, y = 0;
        CU_ASSERT_EQUAL(mproc_pool_map(p, square, &x, 1, sizeof x, &y, sizeof y, 1, NULL), 0);
        CU_ASSERT_EQUAL(y, 81);
    }
    mproc_pool_free(p);
    for (int i = 0; i < N; i++)
        remove(in[i].marker);
    free(in);
}

#define SKIP_IF_THREADS()                                                                                             \
    TU_SKIP_IF(tu_method() == MPROC_THREAD, "a thread that crashes takes its process with it: only process pools "    \
                                            "survive a crashing task")
static void test_segfaulting_items_fail_alone_and_the_pool_goes_on(void)
{
    SKIP_IF_THREADS();
    crash_items_13_and_77(CRASH_SEGV, 0);
}
static void test_aborting_items_fail_alone_and_the_pool_goes_on(void)
{
    SKIP_IF_THREADS();
    crash_items_13_and_77(CRASH_ABORT, 0);
}
static void test_items_that_exit_3_fail_alone_and_the_pool_goes_on(void)
{
    SKIP_IF_THREADS();
    crash_items_13_and_77(CRASH_EXIT, 0);
}
static void test_items_whose_worker_is_sigkilled_fail_alone_and_the_pool_goes_on(void)
{
    SKIP_IF_THREADS();
    crash_items_13_and_77(CRASH_KILL, 0);
}
static void test_a_crash_on_the_first_attempt_only_succeeds_with_one_retry(void)
{
    SKIP_IF_THREADS();
    crash_items_13_and_77(CRASH_EXIT, 1);
}

/* ---- timeouts, recycling, apply_async, terminate, progress ---------------------- */

static int sleep_for(const void *in, size_t len, mproc_out *out)
{
    double seconds = 0;
    mproc_event *never = mproc_event_new(NULL);
    memcpy(&seconds, in, len < sizeof seconds ? len : sizeof seconds);
    if (never)
        (void)mproc_event_wait(never, seconds);
    mproc_event_free(never);
    return mproc_out_write(out, &seconds, sizeof seconds);
}
MPROC_TASK(sleep_for);

static void test_an_item_past_task_timeout_is_etimedout_within_a_second(void)
{
    double in[4] = {0, 5, 0, 0}, out[4];
    mproc_task_status st[4];
    mproc_pool_opts opts = {0};
    mproc_pool *p;
    double t0;
    opts.task_timeout = 0.2;
    p = new_pool(2, &opts);
    t0 = tu_now();
    CU_ASSERT_EQUAL(mproc_pool_map(p, sleep_for, in, 4, sizeof *in, out, sizeof *out, 1, st), MPROC_ETIMEDOUT);
    CU_ASSERT(tu_now() - t0 < 1.0);
    CU_ASSERT_EQUAL(st[1].status, MPROC_ETIMEDOUT);
    CU_ASSERT_EQUAL(st[0].status, 0);
    CU_ASSERT_EQUAL(st[2].status, 0);
    CU_ASSERT_EQUAL(st[3].status, 0);
    mproc_pool_free(p);
}

static int my_pid(const void *in, size_t len, mproc_out *out)
{
    long pid = mproc__plat_getpid();
    (void)in;
    (void)len;
    return mproc_out_write(out, &pid, sizeof pid);
}
MPROC_TASK(my_pid);

static void test_maxtasksperchild_3_over_100_tasks_uses_at_least_34_workers(void)
{
    enum { N = 100 };
    char in[N] = {0};
    long out[N];
    mproc_task_status st[N];
    mproc_pool_opts opts = {0};
    mproc_pool *p;
    size_t distinct = 0;
    TU_SKIP_IF(tu_method() == MPROC_THREAD, "thread workers share one pid");
    opts.maxtasksperchild = 3;
    p = new_pool(2, &opts);
    CU_ASSERT_EQUAL(mproc_pool_map(p, my_pid, in, N, 1, out, sizeof *out, 1, st), 0);
    for (int i = 0; i < N; i++) {
        int seen = 0;
        for (int j = 0; j < i; j++)
            seen |= out[j] == out[i];
        distinct += !seen;
        CU_ASSERT_EQUAL(st[i].status, 0);
    }
    CU_ASSERT(distinct >= 34);
    mproc_pool_free(p);
}

static void test_apply_async_get_times_out_then_returns_the_result(void)
{
    double one = 1, *got = NULL;
    size_t len = 0;
    mproc_task_status st;
    mproc_pool *p = new_pool(1, NULL);
    mproc_result *r = mproc_pool_apply_async(p, sleep_for, &one, sizeof one);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(mproc_result_get(r, (void **)&got, &len, 0.1, &st), MPROC_ETIMEDOUT);
    CU_ASSERT_EQUAL(mproc_result_ready(r), 0);
    CU_ASSERT_EQUAL(mproc_result_get(r, (void **)&got, &len, -1, &st), 0);
    CU_ASSERT_EQUAL(st.status, 0);
    CU_ASSERT_EQUAL(len, sizeof one);
    CU_ASSERT(got && *got == 1);
    mproc_free(got);
    mproc_result_free(r);
    mproc_pool_free(p);
}

static void test_terminate_during_10000_queued_tasks_returns_within_a_second(void)
{
    enum { N = 10000 };
    double tiny = 0.001;
    mproc_result **r = calloc(N, sizeof *r);
    int handles_before = tu_open_handle_count(), closed = 0, other = 0;
    mproc_pool *p = new_pool(2, NULL);
    double t0;
    for (int i = 0; i < N; i++)
        r[i] = mproc_pool_apply_async(p, sleep_for, &tiny, sizeof tiny);
    t0 = tu_now();
    CU_ASSERT_EQUAL(mproc_pool_terminate(p), 0);
    CU_ASSERT_EQUAL(mproc_pool_join(p, 10), 0);
    CU_ASSERT(tu_now() - t0 < 1.0);
    for (int i = 0; i < N; i++) {
        mproc_task_status st;
        void *d = NULL;
        size_t len;
        int rc = mproc_result_get(r[i], &d, &len, 0, &st);
        closed += rc == MPROC_ECLOSED;
        other += rc != 0 && rc != MPROC_ECLOSED;
        mproc_free(d);
        mproc_result_free(r[i]);
    }
    CU_ASSERT(closed > 0);
    CU_ASSERT_EQUAL(other, 0);
    mproc_pool_free(p);
    free(r);
    CU_ASSERT_EQUAL(tu_open_handle_count(), handles_before);
    if (tu_zombie_count() >= 0)
        CU_ASSERT_EQUAL(tu_zombie_count(), 0);
}

typedef struct {
    size_t last, calls, backwards, total;
} progress_seen;

static void on_progress(size_t done, size_t total, void *ud)
{
    progress_seen *s = ud;
    s->backwards += done < s->last;
    s->last = done;
    s->total = total;
    s->calls++;
}

static void test_progress_is_monotonic_and_ends_at_total(void)
{
    enum { N = 1000 };
    int64_t in[N], out[N];
    progress_seen seen = {0, 0, 0, 0};
    mproc_pool_opts opts = {0};
    mproc_pool *p;
    for (int i = 0; i < N; i++)
        in[i] = i;
    opts.progress = on_progress;
    opts.progress_ud = &seen;
    p = new_pool(2, &opts);
    CU_ASSERT_EQUAL(mproc_pool_map(p, square, in, N, sizeof *in, out, sizeof *out, 10, NULL), 0);
    CU_ASSERT(seen.calls > 0);
    CU_ASSERT_EQUAL(seen.backwards, 0);
    CU_ASSERT_EQUAL(seen.last, N);
    CU_ASSERT_EQUAL(seen.total, N);
    mproc_pool_free(p);
}

static int init_fails(mproc_args *a)
{
    (void)a;
    return 5;
}
MPROC_TARGET(init_fails);

static void test_workers_whose_initializer_fails_fail_the_work_instead_of_spinning(void)
{
    int64_t in[3] = {1, 2, 3}, out[3];
    mproc_task_status st[3];
    mproc_pool_opts opts = {0};
    mproc_pool *p;
    opts.initializer = init_fails;
    p = new_pool(2, &opts);
    watchdog_arm(30, "a map on a pool whose workers cannot start");
    CU_ASSERT_EQUAL(mproc_pool_map(p, square, in, 3, sizeof *in, out, sizeof *out, 1, st), MPROC_EBROKEN);
    watchdog_disarm();
    CU_ASSERT_EQUAL(st[0].status, MPROC_EBROKEN);
    CU_ASSERT_EQUAL(st[0].code, 5);
    mproc_pool_free(p);
}

static void test_close_then_join_finishes_the_queued_work(void)
{
    double tiny = 0.01, *got = NULL;
    size_t len;
    mproc_pool *p = new_pool(2, NULL);
    mproc_result *r = mproc_pool_apply_async(p, sleep_for, &tiny, sizeof tiny);
    CU_ASSERT_EQUAL(mproc_pool_join(p, 0), MPROC_ESTATE);
    CU_ASSERT_EQUAL(mproc_pool_close(p), 0);
    CU_ASSERT_PTR_NULL(mproc_pool_apply_async(p, sleep_for, &tiny, sizeof tiny));
    CU_ASSERT_EQUAL(mproc_last_error(), MPROC_ECLOSED);
    CU_ASSERT_EQUAL(mproc_pool_join(p, 60), 0);
    CU_ASSERT_EQUAL(mproc_result_get(r, (void **)&got, &len, 0, NULL), 0);
    mproc_free(got);
    mproc_result_free(r);
    mproc_pool_free(p);
}

/* ---- workers never outlive the pool's process -------------------------------- */

/* Says it runs (a gate named by its input), then sleeps 120 s. */
static int busy_task(const void *in, size_t len, mproc_out *out)
{
    char gate[128];
    double long_time = 120;
    if (len >= sizeof gate)
        return 1;
    memcpy(gate, in, len);
    gate[len] = 0;
    (void)tu_gate_release(gate);
    return sleep_for(&long_time, sizeof long_time, out);
}
MPROC_TASK(busy_task);

/* In a middle process: a pool whose two workers are both running a task,
 * their pids sent to the test. */
static int pool_owner(mproc_args *a)
{
    mproc_conn *to_test = mproc_args_conn(a, 0);
    const char *gate = mproc_args_str(a, 1);
    mproc_pool *p = mproc_pool_new(NULL, 2, NULL);
    char in[20] = {0};
    long pids[20];
    mproc_event *never = mproc_event_new(NULL);
    if (!p || !gate || mproc_pool_map(p, my_pid, in, 20, 1, pids, sizeof *pids, 1, NULL) != 0)
        return 1;
    for (int i = 0; i < 2; i++)
        (void)mproc_pool_apply_async(p, busy_task, gate, strlen(gate));
    for (int i = 0; i < 2; i++)
        if (tu_gate_wait(gate, 60) != 0)
            return 4;
    if (mproc_conn_send(to_test, pids, sizeof pids) != 0)
        return 2;
    (void)mproc_event_wait(never, 120); /* until killed */
    return 3;
}
MPROC_TARGET(pool_owner);

static void test_workers_are_gone_within_a_second_of_their_pool_process_killed(void)
{
    mproc_conn *r, *w;
    mproc_args *a;
    mproc_process *owner;
    long *pids = NULL;
    size_t len = 0;
    int alive = 1;
    double t0, took;
    char gate[64];
    TU_SKIP_IF(tu_method() == MPROC_THREAD, "thread workers are threads of the pool's own process");
    tu_gate_name(gate);
    CU_ASSERT_EQUAL_FATAL(tu_gate_create(gate), 0);
    CU_ASSERT_EQUAL_FATAL(mproc_pipe(NULL, 0, &r, &w), 0);
    a = mproc_args_new();
    mproc_args_add_conn(a, w);
    mproc_args_add_str(a, gate);
    owner = tu_start(pool_owner, a);
    CU_ASSERT_EQUAL_FATAL(mproc_conn_recv(r, (void **)&pids, &len, 120), 0);
    CU_ASSERT_EQUAL_FATAL(len, 20 * sizeof *pids);
    t0 = tu_now();
    CU_ASSERT_EQUAL(mproc_process_kill(owner), 0);
    /* Bounded at 10 s so nothing hangs; the promise is 1 s. */
    while (alive && tu_now() - t0 < 10) {
        alive = 0;
        for (int i = 0; i < 20; i++)
            alive |= tu_pid_alive(pids[i]);
    }
    took = tu_now() - t0;
    printf("(workers gone after %.3f s) ", took);
    CU_ASSERT(!alive);
    CU_ASSERT(took < 1.0);
    CU_ASSERT_EQUAL(tu_finish(owner, 30), -9);
    tu_gate_destroy(gate);
    mproc_free(pids);
    mproc_conn_close(r);
    mproc_conn_close(w);
}

static CU_TestInfo tests[] = {
    TU_TEST(test_map_of_100000_squares_in_order_with_chunksize_1),
    TU_TEST(test_map_of_100000_squares_in_order_with_chunksize_7),
    TU_TEST(test_map_of_100000_squares_in_order_with_the_default_chunksize),
    TU_TEST(test_an_unregistered_task_is_enotreg_before_anything_runs_under_spawn),
    TU_TEST(test_a_task_returning_nonzero_fails_that_item_with_etask_and_its_code),
    TU_TEST(test_imap_delivers_in_input_order),
    TU_TEST(test_imap_unordered_delivers_every_result_exactly_once),
    TU_TEST(test_imap_of_10000000_lazy_inputs_keeps_memory_bounded),
    TU_TEST(test_segfaulting_items_fail_alone_and_the_pool_goes_on),
    TU_TEST(test_aborting_items_fail_alone_and_the_pool_goes_on),
    TU_TEST(test_items_that_exit_3_fail_alone_and_the_pool_goes_on),
    TU_TEST(test_items_whose_worker_is_sigkilled_fail_alone_and_the_pool_goes_on),
    TU_TEST(test_a_crash_on_the_first_attempt_only_succeeds_with_one_retry),
    TU_TEST(test_an_item_past_task_timeout_is_etimedout_within_a_second),
    TU_TEST(test_maxtasksperchild_3_over_100_tasks_uses_at_least_34_workers),
    TU_TEST(test_apply_async_get_times_out_then_returns_the_result),
    TU_TEST(test_terminate_during_10000_queued_tasks_returns_within_a_second),
    TU_TEST(test_progress_is_monotonic_and_ends_at_total),
    TU_TEST(test_workers_whose_initializer_fails_fail_the_work_instead_of_spinning),
    TU_TEST(test_close_then_join_finishes_the_queued_work),
    TU_TEST(test_workers_are_gone_within_a_second_of_their_pool_process_killed),
    CU_TEST_INFO_NULL,
};

static void reg(void) { tu_add_suite("pool", tests); }

int main(int argc, char **argv) { return tu_main(argc, argv, reg); }
