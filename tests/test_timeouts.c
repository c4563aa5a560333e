/* Every blocking call follows one timeout rule: NaN is MPROC_EINVAL; a
 * negative value, -inf, +inf and anything beyond 1e9 s wait forever, and do
 * so without spinning; 0, tiny and denormal values poll.  Run under UBSan,
 * this also shows that no timeout overflows a conversion. */
#include <float.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"

/* The objects of one call, made fresh for each value tried. */
typedef struct {
    mproc_lock *lock;
    mproc_sem *sem;
    mproc_event *event, *never, *child_go;
    mproc_cond *cond;
    mproc_barrier *barrier;
    mproc_queue *queue, *full;
    mproc_conn *rd, *wr;
    mproc_process *child;
    atomic_int done; /* the blocking call has returned */
} objects;

typedef struct {
    const char *name;
    int (*call)(objects *o, double timeout); /* the blocking call */
    void (*release)(objects *o);             /* what ends its wait */
    int released, timed_out;                 /* its results either way */
} blocking_call;

/* A thread child of the process under test: ends a wait after 0.3 s. */
static objects *current;
static const blocking_call *current_call;

static int release_later(mproc_args *a)
{
    (void)a;
    (void)mproc_event_wait(current->never, 0.3); /* a bounded wait, not a spin */
    current_call->release(current);
    return 0;
}

static int wait_for_go(mproc_args *a)
{
    (void)a;
    return mproc_event_wait(current->child_go, -1);
}

static int call_lock(objects *o, double t) { return mproc_lock_acquire(o->lock, t); }
static void release_lock(objects *o) { mproc_lock_release(o->lock); }
static int call_sem(objects *o, double t) { return mproc_sem_acquire(o->sem, t); }
static void release_sem(objects *o) { mproc_sem_release(o->sem); }
static int call_event(objects *o, double t) { return mproc_event_wait(o->event, t); }
static void release_event(objects *o) { mproc_event_set(o->event); }

static int call_cond(objects *o, double t)
{
    int rc;
    mproc_lock_acquire(mproc_cond_lock(o->cond), -1);
    rc = mproc_cond_wait(o->cond, t);
    mproc_lock_release(mproc_cond_lock(o->cond));
    return rc;
}

static void release_cond(objects *o)
{
    /* A notify before the waiter sleeps is lost: repeat until it woke. */
    while (!atomic_load(&o->done)) {
        mproc_lock_acquire(mproc_cond_lock(o->cond), -1);
        mproc_cond_notify_all(o->cond);
        mproc_lock_release(mproc_cond_lock(o->cond));
        (void)mproc_event_wait(o->never, 0.05);
    }
}

static int call_barrier(objects *o, double t) { return mproc_barrier_wait(o->barrier, t) >= 0 ? 0 : mproc_last_error(); }
static void release_barrier(objects *o) { (void)mproc_barrier_wait(o->barrier, -1); }

static int call_get(objects *o, double t)
{
    void *d = NULL;
    size_t n;
    int rc = mproc_queue_get(o->queue, &d, &n, t);
    mproc_free(d);
    return rc;
}
static void release_get(objects *o) { mproc_queue_put(o->queue, "x", 1, -1); }

static int call_put(objects *o, double t) { return mproc_queue_put(o->full, "y", 1, t); }
static void release_put(objects *o)
{
    void *d = NULL;
    size_t n;
    mproc_queue_get(o->full, &d, &n, -1);
    mproc_free(d);
}

static int call_recv(objects *o, double t)
{
    void *d = NULL;
    size_t n;
    int rc = mproc_conn_recv(o->rd, &d, &n, t);
    mproc_free(d);
    return rc;
}
static void release_conn(objects *o) { mproc_conn_send(o->wr, "z", 1); }
static int call_poll(objects *o, double t) { return mproc_conn_poll(o->rd, t); }

static int call_join(objects *o, double t) { return mproc_process_join(o->child, t); }
static void release_join(objects *o) { mproc_event_set(o->child_go); }

static int call_wait(objects *o, double t)
{
    void *objs[1];
    int ready[1];
    objs[0] = o->rd;
    return mproc_wait(objs, 1, t, ready);
}

static const blocking_call calls[] = {
    {"lock_acquire", call_lock, release_lock, 0, MPROC_ETIMEDOUT},
    {"sem_acquire", call_sem, release_sem, 0, MPROC_ETIMEDOUT},
    {"event_wait", call_event, release_event, 0, MPROC_ETIMEDOUT},
    {"cond_wait", call_cond, release_cond, 0, MPROC_ETIMEDOUT},
    {"barrier_wait", call_barrier, release_barrier, 0, MPROC_ETIMEDOUT},
    {"queue_get", call_get, release_get, 0, MPROC_EEMPTY},
    {"queue_put (full)", call_put, release_put, 0, MPROC_EFULL},
    {"conn_recv", call_recv, release_conn, 0, MPROC_ETIMEDOUT},
    {"conn_poll", call_poll, release_conn, 1, 0},
    {"process_join", call_join, release_join, 0, MPROC_ETIMEDOUT},
    {"mproc_wait", call_wait, release_conn, 1, 0},
};
#define N_CALLS (sizeof calls / sizeof calls[0])

static void make(objects *o)
{
    memset(o, 0, sizeof *o);
    o->lock = mproc_lock_new(NULL);
    mproc_lock_acquire(o->lock, -1); /* held: acquire waits */
    o->sem = mproc_sem_new(NULL, 0);
    o->event = mproc_event_new(NULL);
    o->never = mproc_event_new(NULL);
    o->child_go = mproc_event_new(NULL);
    o->cond = mproc_cond_new(NULL, NULL);
    o->barrier = mproc_barrier_new(NULL, 2);
    o->queue = mproc_queue_new(NULL, 0);
    o->full = mproc_queue_new(NULL, 1);
    mproc_queue_put(o->full, "f", 1, -1);
    CU_ASSERT_EQUAL_FATAL(mproc_pipe(NULL, 0, &o->rd, &o->wr), 0);
    current = o;
    o->child = mproc_process_new(mproc_get_context(MPROC_THREAD), wait_for_go, NULL);
    CU_ASSERT_EQUAL_FATAL(mproc_process_start(o->child), 0);
    atomic_init(&o->done, 0);
}

static void unmake(objects *o)
{
    mproc_event_set(o->child_go);
    CU_ASSERT_EQUAL(tu_finish(o->child, 30), 0);
    mproc_lock_free(o->lock);
    mproc_sem_free(o->sem);
    mproc_event_free(o->event);
    mproc_event_free(o->never);
    mproc_event_free(o->child_go);
    mproc_cond_free(o->cond);
    mproc_barrier_free(o->barrier);
    mproc_queue_free(o->queue);
    mproc_queue_cancel_join_thread(o->full);
    mproc_queue_free(o->full);
    mproc_conn_close(o->rd);
    mproc_conn_close(o->wr);
}

static void test_nan_timeout_is_einval_everywhere(void)
{
    for (size_t i = 0; i < N_CALLS; i++) {
        objects o;
        int rc;
        make(&o);
        rc = calls[i].call(&o, NAN);
        if (rc != MPROC_EINVAL)
            printf("\n    %s(NaN) returned %d\n", calls[i].name, rc);
        CU_ASSERT_EQUAL(rc, MPROC_EINVAL);
        unmake(&o);
    }
}

static void test_forever_timeouts_wait_without_spinning(void)
{
    const double forever[] = {INFINITY, -INFINITY, -1, 1e19, 1e300, DBL_MAX};
    for (size_t i = 0; i < N_CALLS; i++) {
        for (size_t v = 0; v < sizeof forever / sizeof forever[0]; v++) {
            objects o;
            mproc_process *releaser;
            double wall, cpu;
            int rc;
            make(&o);
            current_call = &calls[i];
            releaser = mproc_process_new(mproc_get_context(MPROC_THREAD), release_later, NULL);
            CU_ASSERT_EQUAL_FATAL(mproc_process_start(releaser), 0);
            wall = tu_now();
            cpu = tu_cpu_seconds();
            rc = calls[i].call(&o, forever[v]);
            cpu = tu_cpu_seconds() - cpu;
            wall = tu_now() - wall;
            atomic_store(&o.done, 1);
            /* + 0.035 s: Windows counts CPU time in 15.6 ms ticks, and two
             * ticks in a 0.3 s wait are noise (Wine showed 0.030 s); a
             * spinning wait would show about wall. */
            if (rc != calls[i].released || cpu > 0.05 * wall + 0.035)
                printf("\n    %s(%g): %d after %.3f s, %.4f s of CPU\n", calls[i].name, forever[v], rc, wall, cpu);
            CU_ASSERT_EQUAL(rc, calls[i].released);
            CU_ASSERT(wall >= 0.25); /* it did wait for the release */
            CU_ASSERT(cpu <= 0.05 * wall + 0.035);
            CU_ASSERT_EQUAL(tu_finish(releaser, 30), 0);
            unmake(&o);
        }
    }
}

static void test_zero_tiny_and_denormal_timeouts_poll(void)
{
    const double polls[] = {0, 1e-9, 4.9e-324};
    for (size_t i = 0; i < N_CALLS; i++) {
        for (size_t v = 0; v < sizeof polls / sizeof polls[0]; v++) {
            objects o;
            double t0;
            int rc;
            make(&o);
            t0 = tu_now();
            rc = calls[i].call(&o, polls[v]);
            if (rc != calls[i].timed_out)
                printf("\n    %s(%g) returned %d\n", calls[i].name, polls[v], rc);
            CU_ASSERT_EQUAL(rc, calls[i].timed_out);
            CU_ASSERT(tu_now() - t0 < 1.0);
            unmake(&o);
        }
    }
}

static CU_TestInfo tests[] = {
    TU_TEST(test_nan_timeout_is_einval_everywhere),
    TU_TEST(test_forever_timeouts_wait_without_spinning),
    TU_TEST(test_zero_tiny_and_denormal_timeouts_poll),
    CU_TEST_INFO_NULL,
};

static void reg(void) { tu_add_suite("timeouts", tests); }

int main(int argc, char **argv) { return tu_main(argc, argv, reg); }
