/*
 * Constructors leak nothing on failure.  Every public constructor that
 * takes OS resources is made to fail at each step where it can fail, and
 * the process must come back to where it was: the same open descriptors,
 * the same shared memory segments mapped, and (under the ASan build, whose
 * LeakSanitizer checks at exit) no heap block left behind.
 *
 * Two ways to fail a step:
 *  - descriptors run out: the soft RLIMIT_NOFILE is lowered and the table
 *    filled until exactly k slots remain, for k = 0, 1, 2, ... until the
 *    constructor succeeds;
 *  - an allocation fails: the program is linked with ld's --wrap for
 *    malloc, calloc and realloc (tests/CMakeLists.txt), so every allocation
 *    the library makes goes through the wrappers below, and the n-th one
 *    after arming fails, for n = 1, 2, 3, ... until none is reached.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h" /* mproc__error */
#include "testutil.h"

#ifndef _WIN32
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>
#endif

#define REPEAT 20        /* calls per k: a leak of one per call is unmistakable */
#define MAX_FREE 48      /* every constructor succeeds with this many descriptors free */
#define HEADROOM 64      /* free slots under the lowered limit, MAX_FREE and some */
#define MAX_ALLOCS 1000  /* every constructor succeeds with this many allocations */
#define EXIT_CODE 7      /* what the started target returns */

/* ---- the pressure a constructor call runs under ------------------------- */

enum { NO_PRESSURE, DESCRIPTORS, ALLOCATIONS };
static struct {
    int mode;
    int free_slots; /* DESCRIPTORS: slots left free during the call */
    long fail_nth;  /* ALLOCATIONS: the allocation that fails */
    int hit;        /* ALLOCATIONS: that allocation was reached (and failed) */
} pressure;

#ifndef MPROC_TEST_WRAP_ALLOC
#define MPROC_TEST_WRAP_ALLOC 0
#endif
/* A variable, not the macro: the check reads as code on every platform. */
static const int wrap_allocations = MPROC_TEST_WRAP_ALLOC;

#if MPROC_TEST_WRAP_ALLOC
/* The allocation hook.  Only the thread that armed it counts, and only in
 * the process that armed it: a thread child or a feeder allocating
 * meanwhile, or a fork child continuing the countdown in its copy, would
 * make the count depend on timing. */
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);

static _Thread_local int armed_here;
static atomic_long countdown; /* > 0: the countdown-th allocation from now fails */
static atomic_long armed_pid;
static atomic_int alloc_failed;

static int allocation_fails(void)
{
    if (!armed_here || atomic_load(&countdown) <= 0 || atomic_load(&armed_pid) != (long)getpid())
        return 0;
    if (atomic_fetch_sub(&countdown, 1) != 1)
        return 0;
    atomic_store(&alloc_failed, 1);
    return 1;
}

void *__wrap_malloc(size_t n)
{
    if (allocation_fails()) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
    if (allocation_fails()) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
    if (allocation_fails()) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_realloc(p, n);
}

static void arm_allocations(long n)
{
    atomic_store(&alloc_failed, 0);
    atomic_store(&armed_pid, (long)getpid());
    atomic_store(&countdown, n);
    armed_here = 1;
}

static int disarm_allocations(void)
{
    armed_here = 0;
    atomic_store(&countdown, 0);
    return atomic_load(&alloc_failed);
}
#endif

#ifndef _WIN32
static int null_fd = -1;
static int fillers[4096];
static int n_fillers;

/* Occupies every descriptor slot under the soft limit but k. */
static void fill_descriptors(int k)
{
    int fd;
    n_fillers = 0;
    while (n_fillers < (int)(sizeof fillers / sizeof fillers[0]) && (fd = fcntl(null_fd, F_DUPFD_CLOEXEC, 0)) >= 0)
        fillers[n_fillers++] = fd;
    for (; k > 0 && n_fillers > 0; k--)
        close(fillers[--n_fillers]);
}

static void release_descriptors(void)
{
    while (n_fillers > 0)
        close(fillers[--n_fillers]);
}
#endif

/* Around the one call under test (the constructor), nothing else: what the
 * test does before and after runs unhindered. */
static void pressure_on(void)
{
#ifndef _WIN32
    if (pressure.mode == DESCRIPTORS)
        fill_descriptors(pressure.free_slots);
#endif
#if MPROC_TEST_WRAP_ALLOC
    if (pressure.mode == ALLOCATIONS)
        arm_allocations(pressure.fail_nth);
#endif
}

static void pressure_off(void)
{
#ifndef _WIN32
    if (pressure.mode == DESCRIPTORS)
        release_descriptors();
#endif
#if MPROC_TEST_WRAP_ALLOC
    if (pressure.mode == ALLOCATIONS)
        pressure.hit = disarm_allocations();
#endif
}

/* ---- the constructors ------------------------------------------------------ */

/* Each maker runs one constructor under pressure, frees what it made, and
 * returns 0 or the constructor's error (its mproc_last_error()). */
typedef int (*maker)(void);

/* Objects the constructors under test are given; made once, unpressured. */
static mproc_lock *given_lock;
static mproc_shm *given_shm;

static void make_given(void)
{
    if (!given_lock)
        given_lock = mproc_lock_new(NULL);
    if (!given_shm)
        given_shm = mproc_shm_new(NULL, 4096);
    CU_ASSERT_PTR_NOT_NULL_FATAL(given_lock);
    CU_ASSERT_PTR_NOT_NULL_FATAL(given_shm);
}

/* The error of a failed constructor: read before anything else can change
 * it (releasing the pressure does not call the library). */
#define MADE(obj, free_fn)                                                                                             \
    do {                                                                                                               \
        pressure_off();                                                                                                \
        if (!(obj))                                                                                                    \
            return mproc_last_error();                                                                                 \
        free_fn(obj);                                                                                                  \
        return 0;                                                                                                      \
    } while (0)

static int make_queue(void)
{
    mproc_queue *q;
    pressure_on();
    q = mproc_queue_new(NULL, 4);
    MADE(q, mproc_queue_free);
}

static int make_joinable_queue(void)
{
    mproc_queue *q;
    pressure_on();
    q = mproc_joinable_queue_new(NULL, 0);
    MADE(q, mproc_queue_free);
}

static int make_simple_queue(void)
{
    mproc_queue *q;
    pressure_on();
    q = mproc_simple_queue_new(NULL);
    MADE(q, mproc_queue_free);
}

static int make_thread_queue(void)
{
    mproc_queue *q;
    pressure_on();
    q = mproc_joinable_queue_new(mproc_get_context(MPROC_THREAD), 4);
    MADE(q, mproc_queue_free);
}

static int make_thread_rlock(void)
{
    mproc_lock *l;
    pressure_on();
    l = mproc_rlock_new(mproc_get_context(MPROC_THREAD));
    MADE(l, mproc_lock_free);
}

static int make_pipe(int duplex)
{
    mproc_conn *a = NULL, *b = NULL;
    int rc;
    pressure_on();
    rc = mproc_pipe(NULL, duplex, &a, &b);
    pressure_off();
    if (rc != 0) {
        CU_ASSERT_PTR_NULL(a);
        CU_ASSERT_PTR_NULL(b);
        return rc;
    }
    mproc_conn_close(a);
    mproc_conn_close(b);
    return 0;
}

static int make_duplex_pipe(void) { return make_pipe(1); }
static int make_simplex_pipe(void) { return make_pipe(0); }

static int make_lock(void)
{
    mproc_lock *l;
    pressure_on();
    l = mproc_lock_new(NULL);
    MADE(l, mproc_lock_free);
}

static int make_rlock(void)
{
    mproc_lock *l;
    pressure_on();
    l = mproc_rlock_new(NULL);
    MADE(l, mproc_lock_free);
}

static int make_sem(void)
{
    mproc_sem *s;
    pressure_on();
    s = mproc_sem_new(NULL, 1);
    MADE(s, mproc_sem_free);
}

static int make_bounded_sem(void)
{
    mproc_sem *s;
    pressure_on();
    s = mproc_bounded_sem_new(NULL, 2);
    MADE(s, mproc_sem_free);
}

static int make_event(void)
{
    mproc_event *e;
    pressure_on();
    e = mproc_event_new(NULL);
    MADE(e, mproc_event_free);
}

static int make_cond_with_own_lock(void)
{
    mproc_cond *c;
    pressure_on();
    c = mproc_cond_new(NULL, NULL);
    MADE(c, mproc_cond_free);
}

static int make_cond_with_given_lock(void)
{
    mproc_cond *c;
    pressure_on();
    c = mproc_cond_new(NULL, given_lock);
    MADE(c, mproc_cond_free);
}

static int make_barrier(void)
{
    mproc_barrier *br;
    pressure_on();
    br = mproc_barrier_new(NULL, 3);
    MADE(br, mproc_barrier_free);
}

static int make_shm(void)
{
    mproc_shm *s;
    pressure_on();
    s = mproc_shm_new(NULL, 3 * 4096);
    MADE(s, mproc_shm_free);
}

/* An argument list of every kind of value; NULL (last error set) when an
 * add failed.  Runs under the caller's pressure. */
static mproc_args *new_args(void)
{
    static const unsigned char bytes[3] = {1, 2, 3};
    mproc_args *a = mproc_args_new();
    int rc = 0;
    if (!a)
        return NULL;
    if ((rc = mproc_args_add_i64(a, EXIT_CODE)) == 0 && (rc = mproc_args_add_f64(a, 0.5)) == 0 &&
        (rc = mproc_args_add_str(a, "a string argument")) == 0 &&
        (rc = mproc_args_add_bytes(a, bytes, sizeof bytes)) == 0 && (rc = mproc_args_add_shm(a, given_shm)) == 0)
        rc = mproc_args_add_lock(a, given_lock);
    if (rc != 0) {
        mproc_args_free(a);
        mproc__error(rc); /* what the add said, whatever freeing did */
        return NULL;
    }
    return a;
}

static int make_args(void)
{
    mproc_args *a;
    pressure_on();
    a = new_args();
    MADE(a, mproc_args_free);
}

static int exit_with_first_arg(mproc_args *a)
{
    /* Checks the objects arrived, but does not take the lock: a start that
     * fails after fork (no descriptor left for the pidfd) kills its child,
     * which must not leave the lock held for the next attempt. */
    if (!mproc_shm_ptr(mproc_args_shm(a, 4)) || !mproc_args_lock(a, 5))
        return 100;
    return (int)mproc_args_i64(a, 0);
}
MPROC_TARGET(exit_with_first_arg);

static int make_process(void)
{
    mproc_process *p;
    mproc_args *a;
    pressure_on();
    a = new_args();
    p = a ? mproc_process_new(NULL, exit_with_first_arg, a) : NULL;
    MADE(p, mproc_process_free);
}

/* mproc_process_start is the constructor of the child: a descriptor for
 * its sentinel, a channel, a thread... */
static int start_process(void)
{
    mproc_args *a = new_args();
    mproc_process *p = a ? mproc_process_new(NULL, exit_with_first_arg, a) : NULL;
    int rc, code = -1;
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    pressure_on();
    rc = mproc_process_start(p);
    pressure_off();
    if (rc == 0) {
        rc = mproc_process_join(p, 60);
        CU_ASSERT_EQUAL(rc, 0);
        CU_ASSERT_EQUAL(mproc_process_exitcode(p, &code), 0);
        CU_ASSERT_EQUAL(code, EXIT_CODE);
    }
    mproc_process_free(p);
    return rc;
}

/* ---- the checks ------------------------------------------------------------ */

typedef struct {
    int handles, segments;
} footprint;

/* Segments, not all mappings: allocators and sanitizers map and unmap
 * memory of their own at will (ThreadSanitizer does around threads). */
static footprint measure(void)
{
    footprint f;
    f.handles = tu_open_handle_count();
    f.segments = tu_segment_count();
    return f;
}

/* Compares with before; says what differs.  Returns 1 when equal. */
static int same_footprint(const char *what, const char *step, long at, footprint before)
{
    footprint now = measure();
    int same = now.handles == before.handles && now.segments == before.segments;
    if (!same)
        printf("\n    %s, %s %ld: descriptors %d -> %d, shared memory segments %d -> %d\n", what, step, at,
               before.handles, now.handles, before.segments, now.segments);
    return same;
}

static void note_uncounted_segments(void)
{
    if (tu_segment_count() < 0)
        tu_skip_part("shared memory segments", "this OS does not list a process's mappings to the test helper");
}

/* The first call of each constructor starts what is made once per process
 * (the forkserver, exit handlers, the pidfd probe, a thread stack cache):
 * that is not a leak, so it happens before anything is measured. */
static void warm_up(const char *what, maker make)
{
    int rc;
    pressure.mode = NO_PRESSURE;
    rc = make();
    if (rc != 0)
        printf("\n    %s failed with no pressure: %s\n", what, mproc_strerror(rc));
    CU_ASSERT_EQUAL_FATAL(rc, 0);
}

static void check_descriptors(const char *what, maker make)
{
#ifdef _WIN32
    (void)what;
    (void)make;
    tu_skip("Windows has no per-process descriptor limit to lower (RLIMIT_NOFILE): handles are bounded by memory");
#else
    struct rlimit saved, low;
    int highest = -1, bad_code = 0, leaks = 0, succeeded_at = -1;

    make_given();
    warm_up(what, make);
    note_uncounted_segments();
    if (null_fd < 0)
        null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    CU_ASSERT_FATAL(null_fd >= 0);
    for (int fd = 0; fd < 4096; fd++)
        if (fcntl(fd, F_GETFD) >= 0)
            highest = fd;
    CU_ASSERT_FATAL(getrlimit(RLIMIT_NOFILE, &saved) == 0);
    low = saved;
    low.rlim_cur = (rlim_t)(highest + 1 + HEADROOM);
    TU_SKIP_IF(low.rlim_cur > saved.rlim_max || highest + 1 + HEADROOM > 4096,
               "too many descriptors open to lower the limit to just above them");
    CU_ASSERT_FATAL(setrlimit(RLIMIT_NOFILE, &low) == 0);

    for (int k = 0; k <= MAX_FREE && succeeded_at < 0; k++) {
        footprint before = measure();
        pressure.mode = DESCRIPTORS;
        pressure.free_slots = k;
        for (int i = 0; i < REPEAT; i++) {
            int rc = make();
            if (rc == 0) {
                succeeded_at = k;
            } else if (rc != MPROC_ESYS || mproc_last_os_error() != EMFILE) {
                printf("\n    %s, %d free: %s (os error %ld), not ESYS/EMFILE\n", what, k, mproc_strerror(rc),
                       mproc_last_os_error());
                bad_code++;
            }
        }
        pressure.mode = NO_PRESSURE;
        leaks += !same_footprint(what, "descriptors free", k, before);
    }
    setrlimit(RLIMIT_NOFILE, &saved);
    CU_ASSERT_EQUAL(bad_code, 0);
    CU_ASSERT_EQUAL(leaks, 0);
    if (succeeded_at < 0)
        printf("\n    %s never succeeded, even with %d descriptors free\n", what, MAX_FREE);
    CU_ASSERT(succeeded_at >= 0);
#endif
}

static void check_allocations(const char *what, maker make)
{
    int bad_code = 0, leaks = 0, succeeded = 0;

    TU_SKIP_IF(!wrap_allocations,
               "allocation failures are injected through ld --wrap, which this toolchain does not offer (GNU ld on "
               "ELF only: not MinGW, where the C library's allocations do not go through it, nor macOS)");
    make_given();
    warm_up(what, make);
    note_uncounted_segments();
    for (long n = 1; n <= MAX_ALLOCS && !succeeded; n++) {
        footprint before = measure();
        int rc;
        pressure.mode = ALLOCATIONS;
        pressure.fail_nth = n;
        pressure.hit = 0;
        rc = make();
        pressure.mode = NO_PRESSURE;
        if (!pressure.hit) {
            /* The constructor made fewer than n allocations: done. */
            if (rc != 0)
                printf("\n    %s failed with no allocation failing: %s\n", what, mproc_strerror(rc));
            succeeded = rc == 0;
            bad_code += rc != 0;
        } else if (rc != 0 && rc != MPROC_ENOMEM) {
            printf("\n    %s, allocation %ld failing: %s, not ENOMEM\n", what, n, mproc_strerror(rc));
            bad_code++;
        }
        leaks += !same_footprint(what, "allocation failing", n, before);
        if (bad_code)
            break;
    }
    CU_ASSERT_EQUAL(bad_code, 0);
    CU_ASSERT_EQUAL(leaks, 0);
    CU_ASSERT(succeeded);
}

#define LEAK_TESTS(name, make)                                                                                         \
    static void test_##name##_leaks_nothing_when_descriptors_run_out(void) { check_descriptors(#name, make); }         \
    static void test_##name##_leaks_nothing_when_an_allocation_fails(void) { check_allocations(#name, make); }

LEAK_TESTS(queue_new, make_queue)
LEAK_TESTS(joinable_queue_new, make_joinable_queue)
LEAK_TESTS(simple_queue_new, make_simple_queue)
LEAK_TESTS(thread_context_queue_new, make_thread_queue)
LEAK_TESTS(duplex_pipe, make_duplex_pipe)
LEAK_TESTS(simplex_pipe, make_simplex_pipe)
LEAK_TESTS(lock_new, make_lock)
LEAK_TESTS(rlock_new, make_rlock)
LEAK_TESTS(thread_context_rlock_new, make_thread_rlock)
LEAK_TESTS(sem_new, make_sem)
LEAK_TESTS(bounded_sem_new, make_bounded_sem)
LEAK_TESTS(event_new, make_event)
LEAK_TESTS(cond_new_with_its_own_lock, make_cond_with_own_lock)
LEAK_TESTS(cond_new_with_a_given_lock, make_cond_with_given_lock)
LEAK_TESTS(barrier_new, make_barrier)
LEAK_TESTS(shm_new, make_shm)
LEAK_TESTS(args_new_and_adds, make_args)
LEAK_TESTS(process_new, make_process)
LEAK_TESTS(process_start, start_process)

#define BOTH(name) TU_TEST(test_##name##_leaks_nothing_when_descriptors_run_out), \
                   TU_TEST(test_##name##_leaks_nothing_when_an_allocation_fails)

static CU_TestInfo tests[] = {
    BOTH(queue_new),
    BOTH(joinable_queue_new),
    BOTH(simple_queue_new),
    BOTH(thread_context_queue_new),
    BOTH(duplex_pipe),
    BOTH(simplex_pipe),
    BOTH(lock_new),
    BOTH(rlock_new),
    BOTH(thread_context_rlock_new),
    BOTH(sem_new),
    BOTH(bounded_sem_new),
    BOTH(event_new),
    BOTH(cond_new_with_its_own_lock),
    BOTH(cond_new_with_a_given_lock),
    BOTH(barrier_new),
    BOTH(shm_new),
    BOTH(args_new_and_adds),
    BOTH(process_new),
    BOTH(process_start),
    CU_TEST_INFO_NULL,
};

static void reg(void) { tu_add_suite("leaks", tests); }

int main(int argc, char **argv) { return tu_main(argc, argv, reg); }
