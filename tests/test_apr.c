/*
 * mproc in APR programs (include/mproc_apr.h), under the start method in
 * MPROC_START_METHOD:
 * - an apr_pool_t owns mproc objects: destroying or clearing it frees
 *   them, in reverse order of registration, and leaves no descriptor or
 *   mapping behind; an object freed first by hand is not freed twice; an
 *   apr_proc_fork child's cleanup leaves the parent's queue working;
 * - what belongs to another object (args a process took, a condition's
 *   own lock) no pool may own, nor free under it; a fork child frees what
 *   it inherited from a busy mproc_pool without hanging;
 * - apr_status_t for every mproc code, and its sentence;
 * - a queue, a connection and a process in an apr_pollset or apr_poll
 *   beside an APR socket: ready within 100 ms of another process's put,
 *   send or end, and not before.
 * main calls apr_initialize and registers apr_terminate, as an APR
 * program does; tu_main then runs mproc_init.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_network_io.h>
#include <apr_poll.h>
#include <apr_pools.h>
#include <apr_thread_proc.h>

#include "mproc_apr.h"
#include "testutil.h"

#ifndef _WIN32
#include <signal.h> /* SIGKILL */
#include <sys/resource.h>
#include <unistd.h> /* _exit */
#endif
#ifdef __GLIBC__
#include <malloc.h> /* mallopt */
#endif


/* mproc_apr_pollfd's contract: an object is reported ready this soon after
 * another process made it so (seconds). */
#define READY_WITHIN 0.1
/* A late wake-up is tried again (a new scene) up to this many times in all
 * before the test fails: on a loaded 2-core machine the parent may not be
 * scheduled for a while, and a process's end includes its exit path.  A
 * descriptor that wakes late every time (a poll in slices, a missed
 * readiness) still fails every attempt. */
#define READY_ATTEMPTS 3
/* The bound on a wait that must end: a hang fails the test, never the run. */
#define HANG_BOUND 5.0
/* A wait that must end with nothing ready. */
#define NOT_YET 0.2

/* ---- targets ----------------------------------------------------------------- */

static int return_zero(mproc_args *a)
{
    (void)a;
    return 0;
}
MPROC_TARGET(return_zero);

/* Puts "from a child" into queue arg 0. */
static int put_one(mproc_args *a) { return mproc_queue_put(mproc_args_queue(a, 0), "from a child", 12, 60) == 0 ? 0 : 1; }
MPROC_TARGET(put_one);

static int twice(const void *in, size_t len, mproc_out *out)
{
    int v;
    if (len != sizeof v)
        return 1;
    memcpy(&v, in, sizeof v);
    v *= 2;
    return mproc_out_write(out, &v, sizeof v);
}
MPROC_TASK(twice);

/* Each step of the string arg 0, the i-th once event arg 4 + i is set:
 * 'q' puts "item" into queue arg 3, 'c' sends "message" on connection
 * arg 2, 'e' returns 0 (the process ends).  Right before acting, notes
 * the time (tu_now, a clock every process shares) in slot i of shared
 * memory arg 1 (nanoseconds).  Returns 0, or 10 + the step that failed. */
static int act_on_go(mproc_args *a)
{
    const char *steps = mproc_args_str(a, 0);
    atomic_llong *stamps = mproc_shm_ptr(mproc_args_shm(a, 1));
    if (!steps || !stamps)
        return 9;
    for (int i = 0; steps[i]; i++) {
        int rc = 0;
        if (mproc_event_wait(mproc_args_event(a, 4 + (size_t)i), 60) != 0)
            return 10 + i;
        atomic_store(&stamps[i], (long long)(tu_now() * 1e9));
        switch (steps[i]) {
        case 'q': rc = mproc_queue_put(mproc_args_queue(a, 3), "item", 4, 60); break;
        case 'c': rc = mproc_conn_send(mproc_args_conn(a, 2), "message", 7); break;
        case 'e': return 0;
        default: rc = -1;
        }
        if (rc != 0)
            return 10 + i;
    }
    return 0;
}
MPROC_TARGET(act_on_go);

/* ---- a pool frees what it owns ------------------------------------------------ */

typedef struct {
    int descriptors, mappings, segments, zombies;
} footprint;

static footprint measure(void)
{
    footprint f;
    f.descriptors = tu_open_handle_count();
    f.mappings = tu_mapping_count();
    f.segments = tu_segment_count();
    f.zombies = tu_zombie_count();
    return f;
}

/* Every mapping counts in the plain builds.  A sanitizer's allocator maps
 * memory of its own at will (ASan keeps freed blocks in quarantine and maps
 * new ones meanwhile): there only the library's shared memory segments,
 * as tests/test_leaks.c counts them. */
#ifdef MPROC_TEST_SANITIZED
static const int count_every_mapping = 0;
#else
static const int count_every_mapping = 1;
#endif

static void assert_same_footprint(const char *what, int cycles, footprint before)
{
    footprint now = measure();
    int mappings_same = !count_every_mapping || now.mappings == before.mappings;
    CU_ASSERT_EQUAL(now.descriptors, before.descriptors);
    CU_ASSERT_TRUE(mappings_same);
    CU_ASSERT_EQUAL(now.segments, before.segments);
    CU_ASSERT_EQUAL(now.zombies, before.zombies);
    if (now.descriptors != before.descriptors || !mappings_same || now.segments != before.segments ||
        now.zombies != before.zombies)
        printf("\n    after %d cycles of %s: descriptors %d -> %d, mappings %d -> %d, "
               "shared memory segments %d -> %d, zombies %d -> %d\n",
               cycles, what, before.descriptors, now.descriptors, before.mappings, now.mappings, before.segments,
               now.segments, before.zombies, now.zombies);
    if (before.mappings < 0)
        tu_skip_part("mappings", "this OS does not list a process's mappings to the test helper");
    else if (!count_every_mapping)
        tu_skip_part("every mapping", "a sanitizer's allocator maps memory of its own at will: "
                                      "only the library's shared memory segments are counted");
}

/* The context of the method under test: the thread method's objects are
 * the thread context's (a queue, a lock of this process's threads only),
 * NULL's are every other method's. */
static mproc_ctx *ctx_under_test(void) { return mproc_get_context(tu_method()); }

/* object made (not NULL) and owned by pool. */
static int owned(apr_pool_t *pool, void *object) { return object && mproc_apr_own(pool, object) == APR_SUCCESS; }

/* One cycle: a new pool owns one object of every kind that starts no
 * process, each used once (a queue's feeder thread, a message's buffers),
 * then the pool is destroyed.  1 when every step succeeded. */
static int own_every_kind_then_destroy(void)
{
    mproc_ctx *ctx = ctx_under_test();
    apr_pool_t *pool;
    mproc_queue *q;
    mproc_conn *rd = NULL, *wr = NULL;
    mproc_lock *lock;
    mproc_sem *sem;
    mproc_event *event;
    mproc_cond *cond;
    mproc_barrier *barrier;
    mproc_shm *shm;
    mproc_args *args;
    void *d = NULL;
    size_t n = 0;
    int ok;

    if (apr_pool_create(&pool, NULL) != APR_SUCCESS)
        return 0;
    ok = owned(pool, q = mproc_queue_new(ctx, 0));
    ok &= mproc_pipe(NULL, 0, &rd, &wr) == 0 && owned(pool, rd) && owned(pool, wr);
    ok &= owned(pool, lock = mproc_lock_new(ctx));
    ok &= owned(pool, sem = mproc_sem_new(ctx, 1));
    ok &= owned(pool, event = mproc_event_new(ctx));
    ok &= owned(pool, cond = mproc_cond_new(ctx, NULL));
    ok &= owned(pool, barrier = mproc_barrier_new(ctx, 2));
    ok &= owned(pool, shm = mproc_shm_new(ctx, 4096));
    ok &= owned(pool, args = mproc_args_new());

    ok &= mproc_queue_put(q, "item", 4, -1) == 0 && mproc_queue_get(q, &d, &n, 60) == 0 && n == 4;
    mproc_free(d);
    d = NULL;
    ok &= mproc_conn_send(wr, "message", 7) == 0 && mproc_conn_recv(rd, &d, &n, 60) == 0 && n == 7;
    mproc_free(d);
    ok &= mproc_lock_acquire(lock, -1) == 0 && mproc_lock_release(lock) == 0;
    ok &= mproc_sem_acquire(sem, -1) == 0 && mproc_sem_release(sem) == 0;
    ok &= mproc_event_set(event) == 0;
    ok &= mproc_args_add_event(args, event) == 0 && mproc_args_add_shm(args, shm) == 0;
    ok &= mproc_shm_ptr(shm) != NULL && mproc_barrier_reset(barrier) == 0 && mproc_cond_lock(cond) != NULL;
    apr_pool_destroy(pool);
    return ok;
}

static void test_destroying_a_pool_frees_every_object_it_owns(void)
{
    int cycles = tu_cycles(1000), failed = 0;
    footprint before;
    /* The first cycle makes what is made once per process (the forkserver,
     * exit handlers, APR's allocator blocks, a thread stack cache). */
    CU_ASSERT_FATAL(own_every_kind_then_destroy());
    before = measure();
    for (int i = 0; i < cycles; i++)
        failed += !own_every_kind_then_destroy();
    CU_ASSERT_EQUAL(failed, 0);
    assert_same_footprint("pool + every kind of object", cycles, before);
}

/* One cycle: a new pool owns a started and joined process and two results
 * of a pool of two workers that ran a map; a subpool owns the workers, so
 * that destroying the pool frees them first (terminated and joined: a
 * result may outlive its pool), then the results, then the process.
 * 1 when every step succeeded. */
static int own_processes_then_destroy(void)
{
    apr_pool_t *pool, *sub;
    mproc_process *p;
    mproc_pool *workers;
    mproc_result *done, *pending;
    int in[4] = {1, 2, 3, 4}, out[4] = {0}, code = -1, ok;

    if (apr_pool_create(&pool, NULL) != APR_SUCCESS)
        return 0;
    ok = apr_pool_create(&sub, pool) == APR_SUCCESS;
    ok &= owned(pool, p = mproc_process_new(NULL, return_zero, NULL));
    ok &= mproc_process_start(p) == 0 && mproc_process_join(p, 60) == 0;
    ok &= mproc_process_exitcode(p, &code) == 0 && code == 0;
    ok &= owned(sub, workers = mproc_pool_new(NULL, 2, NULL));
    ok &= mproc_pool_map(workers, twice, in, 4, sizeof in[0], out, sizeof out[0], 1, NULL) == 0 && out[3] == 8;
    ok &= owned(pool, done = mproc_pool_apply_async(workers, twice, &in[0], sizeof in[0]));
    ok &= mproc_result_wait(done, 60) == 0;
    ok &= owned(pool, pending = mproc_pool_apply_async(workers, twice, &in[1], sizeof in[1]));
    apr_pool_destroy(pool);
    return ok;
}

static void test_destroying_a_pool_frees_a_process_an_mproc_pool_and_results_it_owns(void)
{
    int cycles = tu_cycles(20), failed = 0;
    footprint before;
    CU_ASSERT_FATAL(own_processes_then_destroy());
    before = measure();
    for (int i = 0; i < cycles; i++)
        failed += !own_processes_then_destroy();
    CU_ASSERT_EQUAL(failed, 0);
    assert_same_footprint("pool + process + mproc_pool + results", cycles, before);
}

/* The send end's close is what a pool's cleanup does that another
 * process (here: the receiving end) can see: end of file. */
static int peer_closed(mproc_conn *rd) { return mproc_conn_poll(rd, 0) == 1; }

static void test_clearing_a_pool_frees_its_objects_and_it_owns_new_ones(void)
{
    apr_pool_t *pool;
    mproc_conn *rd[2] = {NULL, NULL}, *wr[2] = {NULL, NULL};
    void *d = NULL;
    size_t n;

    CU_ASSERT_EQUAL_FATAL(apr_pool_create(&pool, NULL), APR_SUCCESS);
    for (int i = 0; i < 2; i++) {
        CU_ASSERT_EQUAL_FATAL(mproc_pipe(NULL, 0, &rd[i], &wr[i]), 0);
        CU_ASSERT_EQUAL(mproc_apr_own(pool, wr[i]), APR_SUCCESS);
        CU_ASSERT_FALSE(peer_closed(rd[i]));
        apr_pool_clear(pool);
        CU_ASSERT_TRUE(peer_closed(rd[i]));
        CU_ASSERT_EQUAL(mproc_conn_recv(rd[i], &d, &n, 0), MPROC_ECLOSED);
        mproc_conn_close(rd[i]);
    }
    apr_pool_destroy(pool);
}

/* ---- freed once ------------------------------------------------------------------ */

/* A cleanup of the test's own that counts its runs. */
static apr_status_t count_run(void *counter)
{
    ++*(int *)counter;
    return APR_SUCCESS;
}

/* Under the ASan build, a second free (or the pool's cleanup reading the
 * freed object) is a report that fails the test.  Here: the pool's other
 * cleanups still run, once each, and a later object is still freed. */
static void test_a_queue_freed_by_hand_is_not_freed_again_by_its_pool(void)
{
    apr_pool_t *pool;
    mproc_queue *q = mproc_queue_new(ctx_under_test(), 0);
    mproc_conn *rd = NULL, *wr = NULL;
    void *d = NULL;
    size_t n;
    int runs = 0;

    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT_EQUAL_FATAL(mproc_pipe(NULL, 0, &rd, &wr), 0);
    CU_ASSERT_EQUAL_FATAL(apr_pool_create(&pool, NULL), APR_SUCCESS);
    apr_pool_cleanup_register(pool, &runs, count_run, apr_pool_cleanup_null);
    CU_ASSERT_EQUAL(mproc_apr_own(pool, q), APR_SUCCESS);
    CU_ASSERT_EQUAL(mproc_apr_own(pool, wr), APR_SUCCESS);
    CU_ASSERT_EQUAL(mproc_queue_put(q, "item", 4, -1), 0);
    CU_ASSERT_EQUAL(mproc_queue_get(q, &d, &n, 60), 0);
    mproc_free(d);
    mproc_queue_free(q);
    apr_pool_destroy(pool);
    CU_ASSERT_EQUAL(runs, 1);
    CU_ASSERT_TRUE(peer_closed(rd));
    mproc_conn_close(rd);
}

static void test_objects_freed_by_mproc_object_free_are_not_freed_again_by_their_pool(void)
{
    mproc_ctx *ctx = ctx_under_test();
    apr_pool_t *pool;
    mproc_conn *rd = NULL, *wr = NULL;
    void *objects[11];
    int n = 0, runs = 0;

    CU_ASSERT_EQUAL_FATAL(mproc_pipe(NULL, 0, &rd, &wr), 0);
    objects[n++] = mproc_queue_new(ctx, 0);
    objects[n++] = rd;
    objects[n++] = wr;
    objects[n++] = mproc_lock_new(ctx);
    objects[n++] = mproc_sem_new(ctx, 1);
    objects[n++] = mproc_event_new(ctx);
    objects[n++] = mproc_cond_new(ctx, NULL);
    objects[n++] = mproc_barrier_new(ctx, 2);
    objects[n++] = mproc_shm_new(ctx, 4096);
    objects[n++] = mproc_args_new();
    objects[n++] = mproc_pool_new(NULL, 1, NULL);
    CU_ASSERT_EQUAL_FATAL(apr_pool_create(&pool, NULL), APR_SUCCESS);
    apr_pool_cleanup_register(pool, &runs, count_run, apr_pool_cleanup_null);
    for (int i = 0; i < n; i++) {
        CU_ASSERT_PTR_NOT_NULL_FATAL(objects[i]);
        CU_ASSERT_EQUAL(mproc_apr_own(pool, objects[i]), APR_SUCCESS);
    }
    for (int i = 0; i < n; i++)
        mproc_object_free(objects[i]);
    apr_pool_destroy(pool);
    CU_ASSERT_EQUAL(runs, 1);
}

/* A cleanup registered after the object runs before the pool's cleanup of
 * it (reverse order) and frees it by hand, as a program's own struct with
 * a queue in it would: the pool then does not free it again. */
typedef struct {
    mproc_queue *q;
    int runs;
} holder;

static apr_status_t free_holders_queue(void *arg)
{
    holder *h = arg;
    mproc_queue_free(h->q);
    h->runs++;
    return APR_SUCCESS;
}

static void test_an_object_freed_by_another_cleanup_of_its_pool_is_not_freed_again(void)
{
    apr_pool_t *pool;
    holder h = {mproc_queue_new(ctx_under_test(), 0), 0};
    int runs = 0;

    CU_ASSERT_PTR_NOT_NULL_FATAL(h.q);
    CU_ASSERT_EQUAL_FATAL(apr_pool_create(&pool, NULL), APR_SUCCESS);
    apr_pool_cleanup_register(pool, &runs, count_run, apr_pool_cleanup_null);
    CU_ASSERT_EQUAL(mproc_apr_own(pool, h.q), APR_SUCCESS);
    apr_pool_cleanup_register(pool, &h, free_holders_queue, apr_pool_cleanup_null);
    CU_ASSERT_EQUAL(mproc_queue_put(h.q, "item", 4, -1), 0);
    apr_pool_destroy(pool);
    CU_ASSERT_EQUAL(h.runs, 1);
    CU_ASSERT_EQUAL(runs, 1);
}

static void count_hook(void *object, void *counter)
{
    (void)object;
    ++*(int *)counter;
}

static void test_owning_an_owned_object_again_is_eexist(void)
{
    apr_pool_t *pool, *other;
    int hooks = 0;
    mproc_queue *q = mproc_queue_new(NULL, 0);
    mproc_event *e = mproc_event_new(NULL);
    apr_status_t st;

    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_EQUAL_FATAL(apr_pool_create(&pool, NULL), APR_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(apr_pool_create(&other, NULL), APR_SUCCESS);
    CU_ASSERT_EQUAL(mproc_apr_own(pool, q), APR_SUCCESS);
    st = mproc_apr_own(pool, q);
    CU_ASSERT_EQUAL(st, mproc_apr_status(MPROC_EEXIST));
    CU_ASSERT_TRUE(MPROC_APR_IS_ERROR(st));
    CU_ASSERT_EQUAL(mproc_apr_code(st), MPROC_EEXIST);
    CU_ASSERT_EQUAL(mproc_apr_own(other, q), mproc_apr_status(MPROC_EEXIST));
    /* A free hook of the program's own is an owner too; removed, a pool may own it. */
    CU_ASSERT_EQUAL(mproc_object_on_free(e, count_hook, &hooks), 0);
    CU_ASSERT_EQUAL(mproc_apr_own(pool, e), mproc_apr_status(MPROC_EEXIST));
    CU_ASSERT_EQUAL(mproc_object_on_free(e, NULL, NULL), 0);
    CU_ASSERT_EQUAL(mproc_apr_own(other, e), APR_SUCCESS);
    apr_pool_destroy(other);
    apr_pool_destroy(pool);
    CU_ASSERT_EQUAL(hooks, 0);
}

static void test_owning_null_or_a_non_object_is_einval(void)
{
    apr_pool_t *pool;
    union {
        long long words[8];
        void *pointers[8];
    } not_an_object;
    mproc_queue *q = mproc_queue_new(NULL, 0);

    memset(&not_an_object, 0x5a, sizeof not_an_object);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT_EQUAL_FATAL(apr_pool_create(&pool, NULL), APR_SUCCESS);
    CU_ASSERT_EQUAL(mproc_apr_own(NULL, q), APR_EINVAL);
    CU_ASSERT_EQUAL(mproc_apr_own(pool, NULL), APR_EINVAL);
    CU_ASSERT_EQUAL(mproc_apr_own(pool, &not_an_object), APR_EINVAL);
    /* Refused: q has no owner, and a pool may own it now. */
    CU_ASSERT_EQUAL(mproc_apr_own(pool, q), APR_SUCCESS);
    apr_pool_destroy(pool);
}

/* Markers between the owned objects note, when the pool runs them, their
 * order and which send ends are closed by then (end of file at their
 * receiving ends): an object owned after another is freed before it. */
typedef struct {
    mproc_conn *rd[2];
    int order[3], closed[3][2], n;
} trace;

typedef struct {
    trace *t;
    int id;
} marker;

static apr_status_t note_marker(void *arg)
{
    marker *m = arg;
    trace *t = m->t;
    if (t->n < 3) {
        for (int i = 0; i < 2; i++)
            t->closed[t->n][i] = peer_closed(t->rd[i]);
        t->order[t->n] = m->id;
    }
    t->n++;
    return APR_SUCCESS;
}

static void test_a_pool_frees_its_objects_in_reverse_order_of_registration(void)
{
    apr_pool_t *pool;
    trace t;
    marker m[3];
    mproc_conn *wr[2] = {NULL, NULL};

    memset(&t, 0, sizeof t);
    for (int i = 0; i < 2; i++)
        CU_ASSERT_EQUAL_FATAL(mproc_pipe(NULL, 0, &t.rd[i], &wr[i]), 0);
    CU_ASSERT_EQUAL_FATAL(apr_pool_create(&pool, NULL), APR_SUCCESS);
    /* marker 0, wr[0], marker 1, wr[1], marker 2 */
    for (int i = 0; i < 3; i++) {
        m[i].t = &t;
        m[i].id = i;
        apr_pool_cleanup_register(pool, &m[i], note_marker, apr_pool_cleanup_null);
        if (i < 2)
            CU_ASSERT_EQUAL(mproc_apr_own(pool, wr[i]), APR_SUCCESS);
    }
    apr_pool_destroy(pool);
    CU_ASSERT_EQUAL_FATAL(t.n, 3);
    CU_ASSERT(t.order[0] == 2 && t.order[1] == 1 && t.order[2] == 0);
    CU_ASSERT(!t.closed[0][0] && !t.closed[0][1]); /* marker 2: before either */
    CU_ASSERT(!t.closed[1][0] && t.closed[1][1]);  /* marker 1: wr[1] closed, wr[0] not yet */
    CU_ASSERT(t.closed[2][0] && t.closed[2][1]);   /* marker 0: both */
    for (int i = 0; i < 2; i++)
        mproc_conn_close(t.rd[i]);
}

/* ---- what another object took, no pool frees ---------------------------------- */

/* What the targets below read from their args: still there, the args are. */
#define ARGS_TEXT "read by the target after its pool went"

/* 0 when str arg 0 is ARGS_TEXT. */
static int reads_its_args(mproc_args *a)
{
    const char *s = mproc_args_str(a, 0);
    return s && strcmp(s, ARGS_TEXT) == 0 ? 0 : 1;
}
MPROC_TARGET(reads_its_args);

/* Sets event arg 1 (it runs), waits for event arg 0, then reads str arg 2
 * as reads_its_args. */
static int reads_its_args_on_go(mproc_args *a)
{
    const char *s;
    if (mproc_event_set(mproc_args_event(a, 1)) != 0)
        return 98;
    if (mproc_event_wait(mproc_args_event(a, 0), 60) != 0)
        return 99;
    s = mproc_args_str(a, 2);
    return s && strcmp(s, ARGS_TEXT) == 0 ? 0 : 1;
}
MPROC_TARGET(reads_its_args_on_go);

/* mproc_process_new takes the args: the pool that owned them lets go of
 * them then, and its destruction before the start frees nothing the
 * process uses (the ASan build reports a use after free or a second free
 * of them otherwise). */
static void test_args_a_process_took_outlive_their_pool_destroyed_before_the_start(void)
{
    apr_pool_t *pool;
    mproc_args *a = mproc_args_new();
    mproc_process *p;

    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_EQUAL_FATAL(mproc_args_add_str(a, ARGS_TEXT), 0);
    CU_ASSERT_EQUAL_FATAL(apr_pool_create(&pool, NULL), APR_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(mproc_apr_own(pool, a), APR_SUCCESS);
    p = mproc_process_new(NULL, reads_its_args, a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    apr_pool_destroy(pool);
    CU_ASSERT_EQUAL_FATAL(mproc_process_start(p), 0);
    CU_ASSERT_EQUAL(tu_finish(p, 60), 0);
}

/* A thread's args are the very ones given to mproc_process_new: destroying
 * the pool that owned them while the thread runs leaves them to it.  A
 * thread of the thread context under every start method. */
static void test_args_a_running_thread_took_outlive_their_pool_destroyed_meanwhile(void)
{
    mproc_ctx *threads = mproc_get_context(MPROC_THREAD);
    apr_pool_t *pool;
    mproc_event *go = mproc_event_new(threads), *running = mproc_event_new(threads);
    mproc_args *a = mproc_args_new();
    mproc_process *p;

    CU_ASSERT_PTR_NOT_NULL_FATAL(go);
    CU_ASSERT_PTR_NOT_NULL_FATAL(running);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_EQUAL_FATAL(mproc_args_add_event(a, go), 0);
    CU_ASSERT_EQUAL_FATAL(mproc_args_add_event(a, running), 0);
    CU_ASSERT_EQUAL_FATAL(mproc_args_add_str(a, ARGS_TEXT), 0);
    CU_ASSERT_EQUAL_FATAL(apr_pool_create(&pool, NULL), APR_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(mproc_apr_own(pool, a), APR_SUCCESS);
    p = mproc_process_new(threads, reads_its_args_on_go, a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL_FATAL(mproc_process_start(p), 0);
    CU_ASSERT_EQUAL_FATAL(mproc_event_wait(running, 60), 0);
    apr_pool_destroy(pool);
    CU_ASSERT_EQUAL(mproc_event_set(go), 0);
    CU_ASSERT_EQUAL(tu_finish(p, 60), 0);
    mproc_event_free(running);
    mproc_event_free(go);
}

/* Once a process took them, the args are its own: neither another pool
 * nor a hook of the program's may own them (a pool that owned them before
 * let go of them then). */
static void test_args_a_process_took_cannot_be_owned_again(void)
{
    apr_pool_t *pool, *other;
    mproc_args *a = mproc_args_new();
    mproc_process *p;
    int hooks = 0;

    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_EQUAL_FATAL(apr_pool_create(&pool, NULL), APR_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(apr_pool_create(&other, NULL), APR_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(mproc_apr_own(pool, a), APR_SUCCESS);
    p = mproc_process_new(NULL, return_zero, a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL(mproc_apr_own(other, a), mproc_apr_status(MPROC_ESTATE));
    CU_ASSERT_EQUAL(mproc_object_on_free(a, count_hook, &hooks), MPROC_ESTATE);
    mproc_process_free(p); /* frees a, once */
    apr_pool_destroy(other);
    apr_pool_destroy(pool);
    CU_ASSERT_EQUAL(hooks, 0);
}

/* mproc_cond_new(ctx, NULL)'s lock is the condition's, which frees it: a
 * pool owning it too would free it twice (the ASan build reports it). */
static void test_a_conditions_own_lock_cannot_be_owned_by_a_pool(void)
{
    apr_pool_t *pool;
    mproc_cond *c = mproc_cond_new(ctx_under_test(), NULL);

    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL_FATAL(apr_pool_create(&pool, NULL), APR_SUCCESS);
    CU_ASSERT_EQUAL(mproc_apr_own(pool, mproc_cond_lock(c)), mproc_apr_status(MPROC_ESTATE));
    apr_pool_destroy(pool);
    mproc_cond_free(c); /* and its lock, once */
}

/* ---- an apr_proc_fork child --------------------------------------------------- */

/* Why apr_proc_fork is not tried here, or NULL. */
static const char *no_apr_fork(void)
{
#if !APR_HAS_FORK
    return "APR has no apr_proc_fork on this system";
#elif defined(UNDER_TSAN)
    return "ThreadSanitizer cannot follow fork() of a process with threads (a queue's feeder, a pool's "
           "handlers): the plain and ASan builds run it";
#else
    return NULL;
#endif
}

#if APR_HAS_FORK
/* apr_proc_fork; the child destroys its copy of pool, which frees its
 * copies of the objects pool owns, and leaves through exit, not _exit, so
 * that the atexit handlers (mproc's, apr_terminate) run too.  The parent
 * waits for it: 1 when it exited with 0. */
static int apr_fork_child_destroys(apr_pool_t *pool)
{
    apr_proc_t proc;
    apr_exit_why_e why = APR_PROC_SIGNAL;
    apr_status_t st = apr_proc_fork(&proc, pool);
    int code = -1;

    if (st == APR_INCHILD) {
        apr_pool_destroy(pool);
#ifdef UNDER_ASAN
        /* LeakSanitizer would check at exit, and report the copies of the
         * parent's state that mproc sets aside in a fork child and never
         * frees there (core/queue.c reset_locals_after_fork: a queue
         * feeder's mutex, condition, buffered chunks and record; an
         * mproc_pool's dispatcher and connection locks): _exit, as mproc's
         * own fork children leave. */
        _exit(0);
#else
        exit(0);
#endif
    }
#ifdef UNDER_ASAN
    tu_skip_part("the child leaving through exit()",
                 "LeakSanitizer reports the copies of the parent's queue and pool state mproc sets aside "
                 "in a fork child (core/queue.c reset_locals_after_fork): it leaves by _exit; the plain "
                 "builds run exit()");
#endif
    CU_ASSERT_EQUAL_FATAL(st, APR_INPARENT);
    CU_ASSERT_EQUAL(apr_proc_wait(&proc, &code, &why, APR_WAIT), APR_CHILD_DONE);
    CU_ASSERT_EQUAL(why, APR_PROC_EXIT);
    CU_ASSERT_EQUAL(code, 0);
    return why == APR_PROC_EXIT && code == 0;
}
#endif

static void test_an_apr_fork_childs_pool_cleanup_leaves_the_parents_queue_working(void)
{
#if APR_HAS_FORK
    apr_pool_t *pool;
    mproc_queue *q;
    mproc_args *a;
    mproc_process *p;
    void *d = NULL;
    size_t n = 0;

    TU_SKIP_IF(no_apr_fork(), no_apr_fork());
    q = mproc_queue_new(ctx_under_test(), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT_EQUAL_FATAL(apr_pool_create(&pool, NULL), APR_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(mproc_apr_own(pool, q), APR_SUCCESS);
    CU_ASSERT_EQUAL(mproc_queue_put(q, "before", 6, -1), 0);
    apr_fork_child_destroys(pool);

    /* The item from before the fork, once: the child neither took nor wrote it. */
    CU_ASSERT_EQUAL_FATAL(mproc_queue_get(q, &d, &n, HANG_BOUND), 0);
    CU_ASSERT(n == 6 && memcmp(d, "before", 6) == 0);
    mproc_free(d);
    CU_ASSERT_EQUAL(mproc_queue_put(q, "after", 5, -1), 0);
    CU_ASSERT_EQUAL_FATAL(mproc_queue_get(q, &d, &n, HANG_BOUND), 0);
    CU_ASSERT(n == 5 && memcmp(d, "after", 5) == 0);
    mproc_free(d);

    /* A child mproc starts afterwards puts into it. */
    a = mproc_args_new();
    CU_ASSERT_EQUAL_FATAL(mproc_args_add_queue(a, q), 0);
    p = tu_start(put_one, a);
    CU_ASSERT_EQUAL_FATAL(mproc_queue_get(q, &d, &n, 60), 0);
    CU_ASSERT(n == 12 && memcmp(d, "from a child", 12) == 0);
    mproc_free(d);
    CU_ASSERT_EQUAL(tu_finish(p, 60), 0);
    CU_ASSERT_EQUAL(mproc_queue_get(q, &d, &n, 0), MPROC_EEMPTY);
    apr_pool_destroy(pool);
#else
    tu_skip(no_apr_fork());
#endif
}

/* Waits for event arg 0, returns 7. */
static int wait_then_seven(mproc_args *a) { return mproc_event_wait(mproc_args_event(a, 0), 60) == 0 ? 7 : 1; }
MPROC_TARGET(wait_then_seven);

/* mproc_apr.h: "a pool's workers and a process's child are the parent's". */
static void test_an_apr_fork_childs_pool_cleanup_leaves_the_parents_workers_and_child_running(void)
{
#if APR_HAS_FORK
    apr_pool_t *pool;
    mproc_pool *workers;
    mproc_event *go;
    mproc_args *a;
    mproc_process *p;
    int in[4] = {1, 2, 3, 4}, out[4] = {0}, code = -1;

    TU_SKIP_IF(no_apr_fork(), no_apr_fork());
    CU_ASSERT_EQUAL_FATAL(apr_pool_create(&pool, NULL), APR_SUCCESS);
    workers = mproc_pool_new(NULL, 2, NULL);
    CU_ASSERT_EQUAL_FATAL(mproc_apr_own(pool, workers), APR_SUCCESS);
    go = mproc_event_new(NULL);
    CU_ASSERT_EQUAL_FATAL(mproc_apr_own(pool, go), APR_SUCCESS);
    a = mproc_args_new();
    CU_ASSERT_EQUAL_FATAL(mproc_args_add_event(a, go), 0);
    p = mproc_process_new(NULL, wait_then_seven, a);
    CU_ASSERT_EQUAL_FATAL(mproc_apr_own(pool, p), APR_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(mproc_process_start(p), 0);
    CU_ASSERT_EQUAL(mproc_pool_map(workers, twice, in, 4, sizeof in[0], out, sizeof out[0], 1, NULL), 0);

    apr_fork_child_destroys(pool);

    CU_ASSERT_EQUAL(mproc_process_is_alive(p), 1);
    memset(out, 0, sizeof out);
    CU_ASSERT_EQUAL(mproc_pool_map(workers, twice, in, 4, sizeof in[0], out, sizeof out[0], 1, NULL), 0);
    CU_ASSERT(out[0] == 2 && out[3] == 8);
    CU_ASSERT_EQUAL(mproc_event_set(go), 0);
    CU_ASSERT_EQUAL(mproc_process_join(p, 60), 0);
    CU_ASSERT_EQUAL(mproc_process_exitcode(p, &code), 0);
    CU_ASSERT_EQUAL(code, 7);
    apr_pool_destroy(pool);
#else
    tu_skip(no_apr_fork());
#endif
}

/* A fork child may come while a thread of the parent holds a pool's mutex:
 * the child has no such thread, and a call that takes that mutex there
 * never returns.  A thread context's pool (its dispatcher and workers are
 * threads), kept busy by two threads of the parent, and FORKS children,
 * each of which frees what it inherited and leaves. */
#define FORKS 100
/* How long a child that only frees one object may take; longer is a hang. */
#define CHILD_BOUND 10.0

#if APR_HAS_FORK && APR_HAS_THREADS
/* The stream of tasks: until stop, each thread applies one and waits for it. */
typedef struct {
    mproc_pool *workers;
    atomic_int stop, failed;
} stream;

static void *APR_THREAD_FUNC apply_until_stopped(apr_thread_t *thread, void *arg)
{
    stream *s = arg;
    int v = 21;
    while (!atomic_load(&s->stop) && !atomic_load(&s->failed)) {
        mproc_result *r = mproc_pool_apply_async(s->workers, twice, &v, sizeof v);
        if (!r || mproc_result_wait(r, 60) != 0)
            atomic_store(&s->failed, 1);
        mproc_result_free(r);
    }
    apr_thread_exit(thread, APR_SUCCESS);
    return NULL;
}

/* The exit code of the apr_proc_fork child proc, waited for CHILD_BOUND
 * seconds at most (polled every millisecond): still there then, it is
 * killed and reaped, and the result is CHILD_HUNG; CHILD_SIGNALLED when a
 * signal ended it (or the wait failed). */
#define CHILD_HUNG (-1)
#define CHILD_SIGNALLED (-2)
static int wait_bounded(apr_proc_t *proc)
{
    double deadline = tu_now() + CHILD_BOUND;
    apr_exit_why_e why = APR_PROC_EXIT;
    apr_status_t st;
    int code = -1;

    while ((st = apr_proc_wait(proc, &code, &why, APR_NOWAIT)) != APR_CHILD_DONE) {
        if (!APR_STATUS_IS_CHILD_NOTDONE(st) && !APR_STATUS_IS_EINTR(st))
            return CHILD_SIGNALLED;
        if (tu_now() > deadline) {
            apr_proc_kill(proc, SIGKILL);
            (void)apr_proc_wait(proc, &code, &why, APR_WAIT);
            return CHILD_HUNG;
        }
        apr_sleep(1000);
    }
    return why == APR_PROC_EXIT ? code : CHILD_SIGNALLED;
}

typedef enum { FREE_A_DONE_RESULT, FREE_THE_POOL } inherited;

static int pool_hooks;

/* Each child frees a result the parent waited for, or the pool itself
 * (then exits 1 + how often the free hook the parent set ran, when not
 * once), and _exits. */
static void fork_children_of_a_busy_pool(inherited what)
{
    apr_pool_t *pool;
    apr_thread_t *threads[2];
    apr_status_t st;
    stream s;
    mproc_result *done;
    int v = 1, hung = 0, wrong = 0, started = 0, i;

    CU_ASSERT_EQUAL_FATAL(apr_pool_create(&pool, NULL), APR_SUCCESS);
    s.workers = mproc_pool_new(mproc_get_context(MPROC_THREAD), 2, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s.workers);
    atomic_init(&s.stop, 0);
    atomic_init(&s.failed, 0);
    pool_hooks = 0;
    CU_ASSERT_EQUAL_FATAL(mproc_object_on_free(s.workers, count_hook, &pool_hooks), 0);
    done = mproc_pool_apply_async(s.workers, twice, &v, sizeof v);
    CU_ASSERT_PTR_NOT_NULL_FATAL(done);
    CU_ASSERT_EQUAL_FATAL(mproc_result_wait(done, 60), 0);
    for (; started < 2; started++)
        if (apr_thread_create(&threads[started], NULL, apply_until_stopped, &s, pool) != APR_SUCCESS)
            break;
    CU_ASSERT_EQUAL(started, 2);

    for (i = 0; i < FORKS && started == 2 && !hung; i++) {
        apr_proc_t proc;
        int code;
        st = apr_proc_fork(&proc, pool);
        if (st == APR_INCHILD) {
            if (what == FREE_A_DONE_RESULT) {
                mproc_result_free(done);
                _exit(0);
            }
            mproc_pool_free(s.workers);
            _exit(pool_hooks == 1 ? 0 : 1 + pool_hooks);
        }
        CU_ASSERT_EQUAL(st, APR_INPARENT);
        if (st != APR_INPARENT)
            break; /* the threads are stopped below all the same */
        code = wait_bounded(&proc);
        hung = code == CHILD_HUNG;
        if (hung)
            printf("\n    child %d of %d still there after %.0f s: killed\n", i + 1, FORKS, CHILD_BOUND);
        else if (code != 0 && ++wrong == 1)
            printf("\n    child %d of %d exited with %d\n", i + 1, FORKS, code);
    }
    CU_ASSERT_EQUAL(hung, 0);
    CU_ASSERT_EQUAL(wrong, 0);

    atomic_store(&s.stop, 1);
    for (i = 0; i < started; i++) {
        apr_status_t ended;
        CU_ASSERT_EQUAL(apr_thread_join(&ended, threads[i]), APR_SUCCESS);
    }
    CU_ASSERT_EQUAL(atomic_load(&s.failed), 0);
    mproc_result_free(done);
    mproc_pool_free(s.workers);
    CU_ASSERT_EQUAL(pool_hooks, 1); /* ours, once: no child's ran here */
    apr_pool_destroy(pool);
}
#endif

/* Why the children of a busy pool are not tried here, or NULL. */
static const char *no_busy_pool_fork(void)
{
#if !APR_HAS_THREADS
    return "APR has no threads on this system: the parent's stream of tasks needs two";
#else
    return no_apr_fork();
#endif
}

static void test_an_apr_fork_child_frees_a_done_result_of_a_busy_pool_without_hanging(void)
{
#if APR_HAS_FORK && APR_HAS_THREADS
    TU_SKIP_IF(no_busy_pool_fork(), no_busy_pool_fork());
    fork_children_of_a_busy_pool(FREE_A_DONE_RESULT);
#else
    tu_skip(no_busy_pool_fork());
#endif
}

/* The child's free is its own: the hook the parent set runs there, once. */
static void test_an_apr_fork_child_frees_a_busy_pool_without_hanging_and_its_hook_runs_once(void)
{
#if APR_HAS_FORK && APR_HAS_THREADS
    TU_SKIP_IF(no_busy_pool_fork(), no_busy_pool_fork());
    fork_children_of_a_busy_pool(FREE_THE_POOL);
#else
    tu_skip(no_busy_pool_fork());
#endif
}

/* ---- statuses ------------------------------------------------------------------- */

static void test_success_and_counts_are_apr_success(void)
{
    CU_ASSERT_EQUAL(mproc_apr_status(0), APR_SUCCESS);
    CU_ASSERT_EQUAL(mproc_apr_status(1), APR_SUCCESS);
    CU_ASSERT_EQUAL(mproc_apr_status(12345), APR_SUCCESS);
}

static void test_codes_with_an_apr_meaning_map_to_apr_statuses(void)
{
    static const struct {
        int code;
        apr_status_t status;
    } map[] = {
        {MPROC_ETIMEDOUT, APR_TIMEUP}, {MPROC_EEMPTY, APR_EAGAIN},   {MPROC_EFULL, APR_EAGAIN},
        {MPROC_ECLOSED, APR_EOF},      {MPROC_ENOTSUP, APR_ENOTIMPL}, {MPROC_EINVAL, APR_EINVAL},
        {MPROC_ENOMEM, APR_ENOMEM},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        apr_status_t st = mproc_apr_status(map[i].code);
        CU_ASSERT_EQUAL(st, map[i].status);
        CU_ASSERT_FALSE(MPROC_APR_IS_ERROR(st));
        CU_ASSERT_EQUAL(mproc_apr_code(st), 0);
    }
    CU_ASSERT_TRUE(APR_STATUS_IS_TIMEUP(mproc_apr_status(MPROC_ETIMEDOUT)));
    CU_ASSERT_TRUE(APR_STATUS_IS_EAGAIN(mproc_apr_status(MPROC_EEMPTY)));
    CU_ASSERT_TRUE(APR_STATUS_IS_EAGAIN(mproc_apr_status(MPROC_EFULL)));
    CU_ASSERT_TRUE(APR_STATUS_IS_EOF(mproc_apr_status(MPROC_ECLOSED)));
    CU_ASSERT_TRUE(APR_STATUS_IS_ENOTIMPL(mproc_apr_status(MPROC_ENOTSUP)));
    CU_ASSERT_TRUE(APR_STATUS_IS_EINVAL(mproc_apr_status(MPROC_EINVAL)));
    CU_ASSERT_TRUE(APR_STATUS_IS_ENOMEM(mproc_apr_status(MPROC_ENOMEM)));
}

static void test_esys_is_the_os_error_of_the_failed_call(void)
{
#ifdef _WIN32
    tu_skip("runs out of descriptors with setrlimit (POSIX)");
#else
    /* No descriptor left: the OS refuses the pipe (EMFILE). */
    struct rlimit old, none;
    mproc_conn *a = NULL, *b = NULL;
    apr_status_t st;
    long os;
    int rc;

    CU_ASSERT_EQUAL_FATAL(getrlimit(RLIMIT_NOFILE, &old), 0);
    none = old;
    none.rlim_cur = 3;
    CU_ASSERT_EQUAL_FATAL(setrlimit(RLIMIT_NOFILE, &none), 0);
    rc = mproc_pipe(NULL, 1, &a, &b);
    st = mproc_apr_status(rc);
    os = mproc_last_os_error();
    CU_ASSERT_EQUAL(setrlimit(RLIMIT_NOFILE, &old), 0);
    CU_ASSERT_EQUAL_FATAL(rc, MPROC_ESYS);
    CU_ASSERT_EQUAL(os, EMFILE);
    CU_ASSERT_EQUAL(st, APR_FROM_OS_ERROR(EMFILE));
    CU_ASSERT_EQUAL(st, APR_FROM_OS_ERROR(os));
    CU_ASSERT_FALSE(MPROC_APR_IS_ERROR(st));
    CU_ASSERT_EQUAL(mproc_apr_code(st), 0);
#endif
}

static const int own_range_codes[] = {MPROC_ENOTREG, MPROC_ENOINIT, MPROC_ESTATE, MPROC_EEXIST,
                                      MPROC_EBROKEN, MPROC_ETOOBIG, MPROC_ETASK};

static void test_codes_without_an_apr_meaning_are_in_mprocs_range_and_round_trip(void)
{
    for (size_t i = 0; i < sizeof own_range_codes / sizeof own_range_codes[0]; i++) {
        int code = own_range_codes[i];
        apr_status_t st = mproc_apr_status(code);
        CU_ASSERT_EQUAL(st, (apr_status_t)(MPROC_APR_START_ERROR - code));
        CU_ASSERT_TRUE(MPROC_APR_IS_ERROR(st));
        CU_ASSERT_EQUAL(mproc_apr_code(st), code);
    }
    /* A code of a later version falls in the range too. */
    CU_ASSERT_TRUE(MPROC_APR_IS_ERROR(mproc_apr_status(MPROC_ETASK - 1)));
    CU_ASSERT_EQUAL(mproc_apr_code(mproc_apr_status(MPROC_ETASK - 1)), MPROC_ETASK - 1);
    /* The range is APR's for applications and holds nothing of APR's own. */
    CU_ASSERT_TRUE(MPROC_APR_START_ERROR >= APR_OS_START_USERERR);
    CU_ASSERT_FALSE(MPROC_APR_IS_ERROR(APR_SUCCESS));
    CU_ASSERT_FALSE(MPROC_APR_IS_ERROR(APR_EOF));
    CU_ASSERT_FALSE(MPROC_APR_IS_ERROR(APR_FROM_OS_ERROR(EMFILE)));
    CU_ASSERT_EQUAL(mproc_apr_code(APR_EGENERAL), 0);
}

static void test_strerror_gives_mprocs_sentence_in_its_range_and_aprs_elsewhere(void)
{
    char buf[256], apr[256];
    for (size_t i = 0; i < sizeof own_range_codes / sizeof own_range_codes[0]; i++) {
        int code = own_range_codes[i];
        CU_ASSERT_PTR_EQUAL(mproc_apr_strerror(mproc_apr_status(code), buf, sizeof buf), buf);
        CU_ASSERT_STRING_EQUAL(buf, mproc_strerror(code));
    }
    CU_ASSERT_STRING_EQUAL(mproc_apr_strerror(APR_EOF, buf, sizeof buf), apr_strerror(APR_EOF, apr, sizeof apr));
    CU_ASSERT_STRING_EQUAL(mproc_apr_strerror(mproc_apr_status(MPROC_ETIMEDOUT), buf, sizeof buf),
                           apr_strerror(APR_TIMEUP, apr, sizeof apr));
}

static void test_strerror_truncates_to_a_terminated_string(void)
{
    char buf[8], whole[256];
    apr_status_t st = mproc_apr_status(MPROC_EBROKEN);

    CU_ASSERT_FATAL(strlen(mproc_strerror(MPROC_EBROKEN)) >= sizeof buf);
    memset(buf, 'x', sizeof buf);
    mproc_apr_strerror(st, buf, sizeof buf);
    CU_ASSERT_EQUAL(buf[sizeof buf - 1], '\0');
    CU_ASSERT_EQUAL(strncmp(buf, mproc_strerror(MPROC_EBROKEN), sizeof buf - 1), 0);

    memset(buf, 'x', sizeof buf);
    mproc_apr_strerror(st, buf, 1);
    CU_ASSERT_EQUAL(buf[0], '\0');
    CU_ASSERT_EQUAL(buf[1], 'x'); /* nothing past bufsize */

    memset(buf, 'x', sizeof buf);
    mproc_apr_strerror(APR_EOF, buf, sizeof buf);
    CU_ASSERT_EQUAL(buf[sizeof buf - 1], '\0');
    CU_ASSERT_EQUAL(strncmp(buf, apr_strerror(APR_EOF, whole, sizeof whole), sizeof buf - 1), 0);
}

/* ---- waiting in an apr_pollset or apr_poll ----------------------------------------- */

/* The same waits through either of APR's calls. */
typedef struct {
    int use_pollset; /* apr_pollset_poll; else apr_poll on fds */
    apr_pollset_t *set;
    apr_pollfd_t fds[8];
    int n;
} poller;

static void poller_init(poller *w, apr_pool_t *pool, int use_pollset)
{
    memset(w, 0, sizeof *w);
    w->use_pollset = use_pollset;
    if (use_pollset)
        CU_ASSERT_EQUAL_FATAL(apr_pollset_create(&w->set, 8, pool, 0), APR_SUCCESS);
}

static void poller_add(poller *w, const apr_pollfd_t *fd)
{
    CU_ASSERT_FATAL(w->n < 8);
    w->fds[w->n++] = *fd;
    if (w->use_pollset)
        CU_ASSERT_EQUAL(apr_pollset_add(w->set, fd), APR_SUCCESS);
}

static void poller_remove(poller *w, void *client_data)
{
    for (int i = 0; i < w->n; i++) {
        if (w->fds[i].client_data != client_data)
            continue;
        if (w->use_pollset)
            CU_ASSERT_EQUAL(apr_pollset_remove(w->set, &w->fds[i]), APR_SUCCESS);
        w->fds[i] = w->fds[--w->n];
        return;
    }
    CU_FAIL("removing a descriptor that was not added");
}

/* Waits up to timeout seconds for any to be ready (EINTR: again, for what
 * is left).  Stores the client_data of those ready in ready[] and returns
 * how many; the call's status in *status (APR_TIMEUP when none). */
static int poller_wait(poller *w, double timeout, void *ready[8], apr_status_t *status)
{
    double deadline = tu_now() + timeout;
    int count = 0;
    apr_int32_t num = 0;
    const apr_pollfd_t *results = NULL;
    apr_status_t st;

    for (;;) {
        apr_interval_time_t left = (apr_interval_time_t)((deadline - tu_now()) * 1e6);
        if (left < 0)
            left = 0;
        num = 0;
        if (w->use_pollset) {
            st = apr_pollset_poll(w->set, left, &num, &results);
        } else {
            for (int i = 0; i < w->n; i++)
                w->fds[i].rtnevents = 0;
            st = apr_poll(w->fds, w->n, &num, left);
            results = w->fds;
            num = st == APR_SUCCESS ? w->n : 0; /* apr_poll marks them in place */
        }
        if (!APR_STATUS_IS_EINTR(st))
            break;
    }
    *status = st;
    for (int i = 0; i < num; i++) {
        if (results[i].rtnevents == 0)
            continue;
        CU_ASSERT(results[i].rtnevents & (APR_POLLIN | APR_POLLHUP | APR_POLLERR));
        if (count < 8)
            ready[count] = results[i].client_data;
        count++;
    }
    return count;
}

/* The objects of the waits below, a child acting on them on cue
 * (act_on_go), and where it notes when it acted. */
typedef struct {
    apr_pool_t *pool;
    mproc_queue *q;
    mproc_conn *rd, *wr;
    mproc_shm *stamps;
    mproc_event *go[3];
    mproc_process *child;
} scene;

/* steps as act_on_go's.  The queue is of a process context (a thread
 * context's queue has no descriptor), the child of the method under test. */
static void scene_start(scene *s, const char *steps)
{
    mproc_args *a = mproc_args_new();
    memset(s, 0, sizeof *s);
    CU_ASSERT_EQUAL_FATAL(apr_pool_create(&s->pool, NULL), APR_SUCCESS);
    s->q = mproc_queue_new(mproc_get_context(tu_process_method()), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s->q);
    CU_ASSERT_EQUAL_FATAL(mproc_pipe(NULL, 0, &s->rd, &s->wr), 0);
    s->stamps = mproc_shm_new(NULL, 3 * sizeof(atomic_llong));
    CU_ASSERT_PTR_NOT_NULL_FATAL(s->stamps);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_EQUAL(mproc_args_add_str(a, steps), 0);
    CU_ASSERT_EQUAL(mproc_args_add_shm(a, s->stamps), 0);
    CU_ASSERT_EQUAL(mproc_args_add_conn(a, s->wr), 0);
    CU_ASSERT_EQUAL(mproc_args_add_queue(a, s->q), 0);
    for (int i = 0; i < 3; i++) {
        s->go[i] = mproc_event_new(NULL);
        CU_ASSERT_PTR_NOT_NULL_FATAL(s->go[i]);
        CU_ASSERT_EQUAL(mproc_args_add_event(a, s->go[i]), 0);
    }
    s->child = tu_start(act_on_go, a);
}

/* Every go set (a child still waiting then goes on and ends), the child
 * joined, everything freed. */
static void scene_end(scene *s)
{
    for (int i = 0; i < 3; i++)
        mproc_event_set(s->go[i]);
    CU_ASSERT_EQUAL(tu_finish(s->child, 60), 0);
    for (int i = 0; i < 3; i++)
        mproc_event_free(s->go[i]);
    mproc_shm_free(s->stamps);
    mproc_conn_close(s->rd);
    mproc_conn_close(s->wr);
    mproc_queue_free(s->q);
    apr_pool_destroy(s->pool);
}

static void add_object(poller *w, scene *s, void *object)
{
    apr_pollfd_t fd;
    memset(&fd, 0xff, sizeof fd);
    CU_ASSERT_EQUAL_FATAL(mproc_apr_pollfd(s->pool, object, &fd), APR_SUCCESS);
    CU_ASSERT_PTR_EQUAL(fd.client_data, object);
    CU_ASSERT_PTR_EQUAL(fd.p, s->pool);
    CU_ASSERT_EQUAL(fd.desc_type, APR_POLL_FILE);
    CU_ASSERT_EQUAL(fd.reqevents, APR_POLLIN);
    CU_ASSERT_EQUAL(fd.rtnevents, 0);
    poller_add(w, &fd);
}

/* Wake-ups later than READY_WITHIN in the current attempt. */
static int late_wakeups;

/* Nothing is ready while the child waits for go[step]; once set, object
 * alone is ready, within READY_WITHIN of the child's act (a late one is
 * counted in late_wakeups, for the caller to try again).  Then takes
 * what made it ready (an item, a message, the end), so that it is not
 * ready any more (a process stays ready: the caller removes it). */
static void expect_ready_on_cue(poller *w, scene *s, int step, void *object)
{
    void *ready[8] = {NULL};
    apr_status_t st = APR_SUCCESS;
    atomic_llong *stamps = mproc_shm_ptr(s->stamps);
    double woke, acted;
    void *d = NULL;
    size_t n = 0;
    int count, code = -1;

    count = poller_wait(w, NOT_YET, ready, &st);
    CU_ASSERT_EQUAL(count, 0);
    CU_ASSERT_TRUE(APR_STATUS_IS_TIMEUP(st));

    CU_ASSERT_EQUAL_FATAL(mproc_event_set(s->go[step]), 0);
    count = poller_wait(w, HANG_BOUND, ready, &st);
    woke = tu_now();
    CU_ASSERT_EQUAL(st, APR_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(count, 1);
    CU_ASSERT_PTR_EQUAL(ready[0], object);

    switch (mproc_object_type(object)) {
    case MPROC_TYPE_QUEUE:
        CU_ASSERT_EQUAL(mproc_queue_get(object, &d, &n, 0), 0);
        CU_ASSERT(n == 4 && d && memcmp(d, "item", 4) == 0);
        break;
    case MPROC_TYPE_CONN:
        CU_ASSERT_EQUAL(mproc_conn_recv(object, &d, &n, 0), 0);
        CU_ASSERT(n == 7 && d && memcmp(d, "message", 7) == 0);
        break;
    case MPROC_TYPE_PROCESS:
        CU_ASSERT_EQUAL(mproc_process_join(object, 0), 0);
        CU_ASSERT_EQUAL(mproc_process_exitcode(object, &code), 0);
        CU_ASSERT_EQUAL(code, 0);
        break;
    default: CU_FAIL("not an object of the waits");
    }
    mproc_free(d);
    /* Read after what the child did was taken: the stamp was written before. */
    acted = (double)atomic_load(&stamps[step]) / 1e9;
    CU_ASSERT(acted > 0);
    CU_ASSERT(woke >= acted);
    if (woke - acted > READY_WITHIN) {
        late_wakeups++;
        printf("\n    ready %.1f ms after the child's act (contract: %.0f ms)\n", (woke - acted) * 1e3,
               READY_WITHIN * 1e3);
    }
}

static int poll_skipped(void)
{
#ifdef _WIN32
    tu_skip("Windows pipes are not descriptors an apr_pollset waits on (mproc_apr_pollfd: APR_ENOTIMPL)");
    return 1;
#else
    return 0;
#endif
}

static void one_object_ready_on_cue(int use_pollset, char step)
{
    scene s;
    poller w;
    void *object;
    char steps[2] = {step, 0};

    if (poll_skipped())
        return;
    late_wakeups = 1;
    for (int attempt = 0; attempt < READY_ATTEMPTS && late_wakeups > 0; attempt++) {
        late_wakeups = 0;
        scene_start(&s, steps);
        object = step == 'q' ? (void *)s.q : step == 'c' ? (void *)s.rd : (void *)s.child;
        poller_init(&w, s.pool, use_pollset);
        add_object(&w, &s, object);
        expect_ready_on_cue(&w, &s, 0, object);
        poller_remove(&w, object);
        scene_end(&s);
    }
    CU_ASSERT_EQUAL(late_wakeups, 0);
}

static void test_pollset_reports_a_queue_ready_after_a_put_from_another_process(void)
{
    one_object_ready_on_cue(1, 'q');
}
static void test_pollset_reports_a_connection_ready_after_a_send_from_another_process(void)
{
    one_object_ready_on_cue(1, 'c');
}
static void test_pollset_reports_a_process_ready_after_it_ends(void) { one_object_ready_on_cue(1, 'e'); }
static void test_apr_poll_reports_a_queue_ready_after_a_put_from_another_process(void)
{
    one_object_ready_on_cue(0, 'q');
}
static void test_apr_poll_reports_a_connection_ready_after_a_send_from_another_process(void)
{
    one_object_ready_on_cue(0, 'c');
}
static void test_apr_poll_reports_a_process_ready_after_it_ends(void) { one_object_ready_on_cue(0, 'e'); }

/* A queue, a connection and a process of mproc's beside a listening APR
 * socket of the program's own: each wait reports only the one ready. */
static void all_together_once(int use_pollset)
{
    scene s;
    poller w;
    apr_socket_t *listener = NULL, *client = NULL, *accepted = NULL;
    apr_sockaddr_t *addr = NULL, *bound = NULL;
    apr_pollfd_t sock;
    void *ready[8] = {NULL};
    apr_status_t st;

    if (poll_skipped())
        return;
    scene_start(&s, "qce");
    poller_init(&w, s.pool, use_pollset);
    add_object(&w, &s, s.q);
    add_object(&w, &s, s.rd);
    add_object(&w, &s, s.child);

    CU_ASSERT_EQUAL_FATAL(apr_sockaddr_info_get(&addr, "127.0.0.1", APR_INET, 0, 0, s.pool), APR_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(apr_socket_create(&listener, APR_INET, SOCK_STREAM, APR_PROTO_TCP, s.pool), APR_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(apr_socket_bind(listener, addr), APR_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(apr_socket_listen(listener, 4), APR_SUCCESS);
    memset(&sock, 0, sizeof sock);
    sock.p = s.pool;
    sock.desc_type = APR_POLL_SOCKET;
    sock.reqevents = APR_POLLIN;
    sock.desc.s = listener;
    sock.client_data = listener;
    poller_add(&w, &sock);

    expect_ready_on_cue(&w, &s, 0, s.q);
    expect_ready_on_cue(&w, &s, 1, s.rd);
    expect_ready_on_cue(&w, &s, 2, s.child);
    poller_remove(&w, s.child);

    /* The socket's turn: a connection to accept, and nothing else ready. */
    CU_ASSERT_EQUAL_FATAL(apr_socket_addr_get(&bound, APR_LOCAL, listener), APR_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(apr_socket_create(&client, APR_INET, SOCK_STREAM, APR_PROTO_TCP, s.pool), APR_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(apr_socket_connect(client, bound), APR_SUCCESS);
    CU_ASSERT_EQUAL(poller_wait(&w, HANG_BOUND, ready, &st), 1);
    CU_ASSERT_EQUAL(st, APR_SUCCESS);
    CU_ASSERT_PTR_EQUAL(ready[0], listener);
    CU_ASSERT_EQUAL(apr_socket_accept(&accepted, listener, s.pool), APR_SUCCESS);
    CU_ASSERT_EQUAL(poller_wait(&w, 0, ready, &st), 0);
    CU_ASSERT_TRUE(APR_STATUS_IS_TIMEUP(st));

    poller_remove(&w, s.q);
    poller_remove(&w, s.rd);
    poller_remove(&w, listener);
    apr_socket_close(accepted);
    apr_socket_close(client);
    apr_socket_close(listener);
    scene_end(&s);
}

static void all_together(int use_pollset)
{
    if (poll_skipped())
        return;
    late_wakeups = 1;
    for (int attempt = 0; attempt < READY_ATTEMPTS && late_wakeups > 0; attempt++) {
        late_wakeups = 0;
        all_together_once(use_pollset);
    }
    CU_ASSERT_EQUAL(late_wakeups, 0);
}

static void test_pollset_reports_only_the_ready_ones_of_mproc_objects_and_an_apr_socket(void) { all_together(1); }
static void test_apr_poll_reports_only_the_ready_ones_of_mproc_objects_and_an_apr_socket(void) { all_together(0); }

static void test_pollfd_is_enotimpl_for_objects_without_a_descriptor(void)
{
    apr_pool_t *pool;
    apr_pollfd_t fd;
    mproc_event *e = mproc_event_new(NULL);
    mproc_lock *lock = mproc_lock_new(NULL);
    mproc_queue *local = mproc_queue_new(mproc_get_context(MPROC_THREAD), 0);

    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(lock);
    CU_ASSERT_PTR_NOT_NULL_FATAL(local);
    CU_ASSERT_EQUAL_FATAL(apr_pool_create(&pool, NULL), APR_SUCCESS);
    CU_ASSERT_EQUAL(mproc_apr_pollfd(pool, e, &fd), APR_ENOTIMPL);
    CU_ASSERT_EQUAL(mproc_apr_pollfd(pool, lock, &fd), APR_ENOTIMPL);
    CU_ASSERT_EQUAL(mproc_apr_pollfd(pool, local, &fd), APR_ENOTIMPL);
    apr_pool_destroy(pool);
    mproc_queue_free(local);
    mproc_lock_free(lock);
    mproc_event_free(e);
}

static void test_pollfd_is_einval_without_a_pool_an_out_or_an_object(void)
{
    apr_pool_t *pool;
    apr_pollfd_t fd;
    mproc_conn *rd = NULL, *wr = NULL;
    long long not_an_object[8];

    memset(not_an_object, 0x5a, sizeof not_an_object);
    CU_ASSERT_EQUAL_FATAL(mproc_pipe(NULL, 0, &rd, &wr), 0);
    CU_ASSERT_EQUAL_FATAL(apr_pool_create(&pool, NULL), APR_SUCCESS);
    CU_ASSERT_EQUAL(mproc_apr_pollfd(NULL, rd, &fd), APR_EINVAL);
    CU_ASSERT_EQUAL(mproc_apr_pollfd(pool, rd, NULL), APR_EINVAL);
    CU_ASSERT_EQUAL(mproc_apr_pollfd(pool, NULL, &fd), APR_EINVAL);
    CU_ASSERT_EQUAL(mproc_apr_pollfd(pool, not_an_object, &fd), APR_EINVAL);
    apr_pool_destroy(pool);
    mproc_conn_close(rd);
    mproc_conn_close(wr);
}

static void test_pollfd_of_a_send_end_or_an_unstarted_process_is_estate(void)
{
    apr_pool_t *pool;
    apr_pollfd_t fd;
    mproc_conn *rd = NULL, *wr = NULL;
    mproc_process *p = mproc_process_new(NULL, return_zero, NULL);

    if (poll_skipped())
        return;
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL_FATAL(mproc_pipe(NULL, 0, &rd, &wr), 0);
    CU_ASSERT_EQUAL_FATAL(apr_pool_create(&pool, NULL), APR_SUCCESS);
    CU_ASSERT_EQUAL(mproc_apr_pollfd(pool, wr, &fd), mproc_apr_status(MPROC_ESTATE));
    CU_ASSERT_EQUAL(mproc_apr_pollfd(pool, p, &fd), mproc_apr_status(MPROC_ESTATE));
    apr_pool_destroy(pool);
    mproc_process_free(p);
    mproc_conn_close(rd);
    mproc_conn_close(wr);
}

static CU_TestInfo tests[] = {
    TU_TEST(test_destroying_a_pool_frees_every_object_it_owns),
    TU_TEST(test_destroying_a_pool_frees_a_process_an_mproc_pool_and_results_it_owns),
    TU_TEST(test_clearing_a_pool_frees_its_objects_and_it_owns_new_ones),
    TU_TEST(test_a_queue_freed_by_hand_is_not_freed_again_by_its_pool),
    TU_TEST(test_objects_freed_by_mproc_object_free_are_not_freed_again_by_their_pool),
    TU_TEST(test_an_object_freed_by_another_cleanup_of_its_pool_is_not_freed_again),
    TU_TEST(test_owning_an_owned_object_again_is_eexist),
    TU_TEST(test_owning_null_or_a_non_object_is_einval),
    TU_TEST(test_a_pool_frees_its_objects_in_reverse_order_of_registration),
    TU_TEST(test_args_a_process_took_outlive_their_pool_destroyed_before_the_start),
    TU_TEST(test_args_a_running_thread_took_outlive_their_pool_destroyed_meanwhile),
    TU_TEST(test_args_a_process_took_cannot_be_owned_again),
    TU_TEST(test_a_conditions_own_lock_cannot_be_owned_by_a_pool),
    TU_TEST(test_an_apr_fork_childs_pool_cleanup_leaves_the_parents_queue_working),
    TU_TEST(test_an_apr_fork_childs_pool_cleanup_leaves_the_parents_workers_and_child_running),
    TU_TEST(test_an_apr_fork_child_frees_a_done_result_of_a_busy_pool_without_hanging),
    TU_TEST(test_an_apr_fork_child_frees_a_busy_pool_without_hanging_and_its_hook_runs_once),
    TU_TEST(test_success_and_counts_are_apr_success),
    TU_TEST(test_codes_with_an_apr_meaning_map_to_apr_statuses),
    TU_TEST(test_esys_is_the_os_error_of_the_failed_call),
    TU_TEST(test_codes_without_an_apr_meaning_are_in_mprocs_range_and_round_trip),
    TU_TEST(test_strerror_gives_mprocs_sentence_in_its_range_and_aprs_elsewhere),
    TU_TEST(test_strerror_truncates_to_a_terminated_string),
    TU_TEST(test_pollset_reports_a_queue_ready_after_a_put_from_another_process),
    TU_TEST(test_pollset_reports_a_connection_ready_after_a_send_from_another_process),
    TU_TEST(test_pollset_reports_a_process_ready_after_it_ends),
    TU_TEST(test_pollset_reports_only_the_ready_ones_of_mproc_objects_and_an_apr_socket),
    TU_TEST(test_apr_poll_reports_a_queue_ready_after_a_put_from_another_process),
    TU_TEST(test_apr_poll_reports_a_connection_ready_after_a_send_from_another_process),
    TU_TEST(test_apr_poll_reports_a_process_ready_after_it_ends),
    TU_TEST(test_apr_poll_reports_only_the_ready_ones_of_mproc_objects_and_an_apr_socket),
    TU_TEST(test_pollfd_is_enotimpl_for_objects_without_a_descriptor),
    TU_TEST(test_pollfd_is_einval_without_a_pool_an_out_or_an_object),
    TU_TEST(test_pollfd_of_a_send_end_or_an_unstarted_process_is_estate),
    CU_TEST_INFO_NULL,
};

static void reg(void) { tu_add_suite("apr", tests); }

int main(int argc, char **argv)
{
#if defined(__GLIBC__) && defined(M_ARENA_MAX)
    /* One malloc arena: glibc maps a new one (two lines of /proc/self/maps)
     * the first time a thread that has none allocates or frees while the
     * others are taken, which a queue's feeder thread does or not by the
     * timing of its last free.  The mappings counted are then mproc's and
     * APR's alone. */
    mallopt(M_ARENA_MAX, 1);
#endif
    /* As an APR program starts: APR first, torn down at exit. */
    if (apr_initialize() != APR_SUCCESS) {
        fprintf(stderr, "apr_initialize failed\n");
        return 2;
    }
    atexit(apr_terminate);
    return tu_main(argc, argv, reg);
}
