/* Locks, semaphores, events, conditions and barriers across processes
 * (or threads) under the start method being tested. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define WORKERS 4
#define INCREMENTS 10000

/* A read-modify-write in two steps: racy without the lock, but not a C
 * data race (so ThreadSanitizer stays quiet about the demonstration). */
static void increment(atomic_long *counter)
{
    long v = atomic_load_explicit(counter, memory_order_relaxed);
    /* Some work between read and write, as real code has: it widens the
     * window in which another process's update gets lost. */
    for (volatile int spin = 0; spin < 200; spin++)
        ;
    atomic_store_explicit(counter, v + 1, memory_order_relaxed);
}

static int add_under_lock(mproc_args *a)
{
    atomic_long *counter = mproc_shm_ptr(mproc_args_shm(a, 0));
    mproc_lock *lock = mproc_args_count(a) > 2 ? mproc_args_lock(a, 2) : NULL;
    /* All start together, so the increments really overlap. */
    if (mproc_barrier_wait(mproc_args_barrier(a, 1), 60) < 0)
        return 3;
    for (int i = 0; i < INCREMENTS; i++) {
        if (lock && mproc_lock_acquire(lock, 60) != 0)
            return 1;
        increment(counter);
        if (lock && mproc_lock_release(lock) != 0)
            return 2;
    }
    return 0;
}
MPROC_TARGET(add_under_lock);

static long count_with(mproc_lock *lock)
{
    mproc_shm *shm = mproc_shm_new(NULL, sizeof(atomic_long));
    mproc_barrier *go = mproc_barrier_new(NULL, WORKERS);
    mproc_process *p[WORKERS];
    long total;
    for (int i = 0; i < WORKERS; i++) {
        mproc_args *a = mproc_args_new();
        mproc_args_add_shm(a, shm);
        mproc_args_add_barrier(a, go);
        if (lock)
            mproc_args_add_lock(a, lock);
        p[i] = tu_start(add_under_lock, a);
    }
    for (int i = 0; i < WORKERS; i++)
        CU_ASSERT_EQUAL(tu_finish(p[i], 60), 0);
    total = atomic_load((atomic_long *)mproc_shm_ptr(shm));
    mproc_shm_free(shm);
    mproc_barrier_free(go);
    return total;
}

/* The checks below take the context their locks are made with: NULL (the
 * default), and the thread context's, which live in this process. */
static void check_lock_gives_mutual_exclusion(mproc_ctx *ctx)
{
    mproc_lock *lock = mproc_lock_new(ctx);
    CU_ASSERT_EQUAL(count_with(lock), (long)WORKERS * INCREMENTS);
    mproc_lock_free(lock);
}

static void test_lock_gives_mutual_exclusion(void) { check_lock_gives_mutual_exclusion(NULL); }

static void test_without_the_lock_the_race_is_real(void)
{
    int lost = 0;
    for (int i = 0; i < 20 && !lost; i++)
        lost = count_with(NULL) < (long)WORKERS * INCREMENTS;
    if (!lost)
        printf("\n  (no lost update seen in 20 tries on %d CPU(s): the demonstration is inconclusive here)\n",
               mproc_cpu_count());
    if (mproc_cpu_count() > 1)
        CU_ASSERT_TRUE(lost);
}

static void check_release_of_unlocked_lock_is_estate(mproc_ctx *ctx)
{
    mproc_lock *lock = mproc_lock_new(ctx);
    CU_ASSERT_EQUAL(mproc_lock_release(lock), MPROC_ESTATE);
    CU_ASSERT_EQUAL(mproc_lock_acquire(lock, 0), 0);
    CU_ASSERT_EQUAL(mproc_lock_acquire(lock, 0), MPROC_ETIMEDOUT);
    CU_ASSERT_EQUAL(mproc_lock_release(lock), 0);
    CU_ASSERT_EQUAL(mproc_lock_release(lock), MPROC_ESTATE);
    mproc_lock_free(lock);
}

/* Tries with timeouts of 0 to 100 us: many waiters give up while others
 * release, and each successful hold is counted apart (args: shm of two
 * counters, barrier, lock). */
static int add_when_taken(mproc_args *a)
{
    atomic_long *c = mproc_shm_ptr(mproc_args_shm(a, 0));
    mproc_lock *lock = mproc_args_lock(a, 2);
    if (mproc_barrier_wait(mproc_args_barrier(a, 1), 60) < 0)
        return 3;
    for (int i = 0; i < INCREMENTS; i++) {
        int rc = mproc_lock_acquire(lock, (i % 3) * 50e-6);
        if (rc == MPROC_ETIMEDOUT)
            continue;
        if (rc != 0)
            return 1;
        increment(&c[0]);
        atomic_fetch_add(&c[1], 1);
        if (mproc_lock_release(lock) != 0)
            return 2;
    }
    return 0;
}
MPROC_TARGET(add_when_taken);

/* A waiter that times out leaves a wake-up behind it (the lock's release
 * posts one for a sleeper that is gone): it must never make two holders. */
static void test_lock_stays_exclusive_when_waiters_time_out(void)
{
    mproc_lock *lock = mproc_lock_new(NULL);
    mproc_shm *shm = mproc_shm_new(NULL, 2 * sizeof(atomic_long));
    mproc_barrier *go = mproc_barrier_new(NULL, WORKERS);
    mproc_process *p[WORKERS];
    atomic_long *c = mproc_shm_ptr(shm);
    for (int i = 0; i < WORKERS; i++) {
        mproc_args *a = mproc_args_new();
        mproc_args_add_shm(a, shm);
        mproc_args_add_barrier(a, go);
        mproc_args_add_lock(a, lock);
        p[i] = tu_start(add_when_taken, a);
    }
    for (int i = 0; i < WORKERS; i++)
        CU_ASSERT_EQUAL(tu_finish(p[i], 120), 0);
    CU_ASSERT(atomic_load(&c[1]) > 0);
    CU_ASSERT_EQUAL(atomic_load(&c[0]), atomic_load(&c[1]));
    /* Free again, whatever wake-ups are left over. */
    CU_ASSERT_EQUAL(mproc_lock_acquire(lock, 0), 0);
    CU_ASSERT_EQUAL(mproc_lock_acquire(lock, 0), MPROC_ETIMEDOUT);
    CU_ASSERT_EQUAL(mproc_lock_release(lock), 0);
    mproc_shm_free(shm);
    mproc_barrier_free(go);
    mproc_lock_free(lock);
}
static void test_release_of_unlocked_lock_is_estate(void) { check_release_of_unlocked_lock_is_estate(NULL); }

static int release_lock(mproc_args *a) { return -mproc_lock_release(mproc_args_lock(a, 0)); }
MPROC_TARGET(release_lock);

static void check_lock_may_be_released_by_another(mproc_ctx *ctx)
{
    mproc_lock *lock = mproc_lock_new(ctx);
    mproc_args *a = mproc_args_new();
    CU_ASSERT_EQUAL(mproc_lock_acquire(lock, 0), 0);
    mproc_args_add_lock(a, lock);
    CU_ASSERT_EQUAL(tu_finish(tu_start(release_lock, a), 60), 0);
    CU_ASSERT_EQUAL(mproc_lock_acquire(lock, 0), 0);
    mproc_lock_release(lock);
    mproc_lock_free(lock);
}

static void test_lock_may_be_released_by_another_process(void) { check_lock_may_be_released_by_another(NULL); }

static void check_rlock_is_recursive_and_owner_checked(mproc_ctx *ctx)
{
    mproc_lock *r = mproc_rlock_new(ctx);
    mproc_args *a = mproc_args_new();
    CU_ASSERT_EQUAL(mproc_lock_acquire(r, 0), 0);
    CU_ASSERT_EQUAL(mproc_lock_acquire(r, 0), 0);
    mproc_args_add_lock(a, r);
    /* Someone else may not release it. */
    CU_ASSERT_EQUAL(tu_finish(tu_start(release_lock, a), 60), -MPROC_ESTATE);
    CU_ASSERT_EQUAL(mproc_lock_release(r), 0);
    CU_ASSERT_EQUAL(mproc_lock_release(r), 0);
    CU_ASSERT_EQUAL(mproc_lock_release(r), MPROC_ESTATE);
    mproc_lock_free(r);
}

static void test_rlock_is_recursive_and_owner_checked(void) { check_rlock_is_recursive_and_owner_checked(NULL); }

static void test_semaphore_acquire_times_out(void)
{
    mproc_sem *s = mproc_sem_new(NULL, 1);
    double t0;
    CU_ASSERT_EQUAL(mproc_sem_acquire(s, 0), 0);
    t0 = tu_now();
    CU_ASSERT_EQUAL(mproc_sem_acquire(s, 0.1), MPROC_ETIMEDOUT);
    CU_ASSERT(tu_now() - t0 >= 0.1 && tu_now() - t0 <= 0.6);
    CU_ASSERT_EQUAL(mproc_sem_release(s), 0);
    CU_ASSERT_EQUAL(mproc_sem_release(s), 0); /* unbounded: may exceed */
    CU_ASSERT_EQUAL(mproc_sem_acquire(s, 0), 0);
    CU_ASSERT_EQUAL(mproc_sem_acquire(s, 0), 0);
    mproc_sem_free(s);
}

static void test_bounded_semaphore_over_release_is_estate(void)
{
    mproc_sem *s = mproc_bounded_sem_new(NULL, 2);
    CU_ASSERT_EQUAL(mproc_sem_release(s), MPROC_ESTATE);
    CU_ASSERT_EQUAL(mproc_sem_acquire(s, 0), 0);
    CU_ASSERT_EQUAL(mproc_sem_release(s), 0);
    CU_ASSERT_EQUAL(mproc_sem_release(s), MPROC_ESTATE);
    mproc_sem_free(s);
}

/* Signals sem arg 1 then waits for event arg 0; returns 0 when it was set. */
static int wait_event(mproc_args *a)
{
    mproc_sem_release(mproc_args_sem(a, 1));
    return -mproc_event_wait(mproc_args_event(a, 0), 60);
}
MPROC_TARGET(wait_event);

static void test_event_wakes_a_waiting_process(void)
{
    mproc_event *e = mproc_event_new(NULL);
    mproc_sem *started = mproc_sem_new(NULL, 0);
    mproc_args *a = mproc_args_new();
    mproc_process *p;
    mproc_args_add_event(a, e);
    mproc_args_add_sem(a, started);
    p = tu_start(wait_event, a);
    CU_ASSERT_EQUAL(mproc_sem_acquire(started, 60), 0);
    CU_ASSERT_EQUAL(mproc_event_is_set(e), 0);
    CU_ASSERT_EQUAL(mproc_event_set(e), 0);
    CU_ASSERT_EQUAL(mproc_event_is_set(e), 1);
    CU_ASSERT_EQUAL(tu_finish(p, 60), 0);
    mproc_event_free(e);
    mproc_sem_free(started);
}

static void test_event_wait_times_out_and_clear_resets(void)
{
    mproc_event *e = mproc_event_new(NULL);
    double t0 = tu_now(), dt;
    CU_ASSERT_EQUAL(mproc_event_wait(e, 0.2), MPROC_ETIMEDOUT);
    dt = tu_now() - t0;
    CU_ASSERT(dt >= 0.2 && dt <= 0.7);
    mproc_event_set(e);
    CU_ASSERT_EQUAL(mproc_event_wait(e, 0), 0);
    mproc_event_clear(e);
    CU_ASSERT_EQUAL(mproc_event_is_set(e), 0);
    CU_ASSERT_EQUAL(mproc_event_wait(e, 0), MPROC_ETIMEDOUT);
    mproc_event_free(e);
}

/* Waits on cond arg 0 after telling sem arg 1; then tells sem arg 2. */
static int cond_waiter(mproc_args *a)
{
    mproc_cond *c = mproc_args_cond(a, 0);
    int rc;
    if (mproc_lock_acquire(mproc_cond_lock(c), 60) != 0)
        return 1;
    mproc_sem_release(mproc_args_sem(a, 1));
    rc = mproc_cond_wait(c, 60);
    mproc_sem_release(mproc_args_sem(a, 2));
    mproc_lock_release(mproc_cond_lock(c));
    return -rc;
}
MPROC_TARGET(cond_waiter);

static void check_condition_notify_wakes_exactly_n(mproc_lock *lock)
{
    mproc_cond *c = mproc_cond_new(NULL, lock);
    mproc_sem *ready = mproc_sem_new(NULL, 0), *woke = mproc_sem_new(NULL, 0);
    mproc_process *p[3];
    for (int i = 0; i < 3; i++) {
        mproc_args *a = mproc_args_new();
        mproc_args_add_cond(a, c);
        mproc_args_add_sem(a, ready);
        mproc_args_add_sem(a, woke);
        p[i] = tu_start(cond_waiter, a);
    }
    for (int i = 0; i < 3; i++)
        CU_ASSERT_EQUAL(mproc_sem_acquire(ready, 60), 0);
    /* Every waiter is counted as sleeping once it gave the lock up. */
    CU_ASSERT_EQUAL(mproc_lock_acquire(mproc_cond_lock(c), 60), 0);
    CU_ASSERT_EQUAL(mproc_cond_notify(c, 2), 0);
    CU_ASSERT_EQUAL(mproc_lock_release(mproc_cond_lock(c)), 0);
    CU_ASSERT_EQUAL(mproc_sem_acquire(woke, 60), 0);
    CU_ASSERT_EQUAL(mproc_sem_acquire(woke, 60), 0);
    CU_ASSERT_EQUAL(mproc_sem_acquire(woke, 0.3), MPROC_ETIMEDOUT); /* the third sleeps on */
    CU_ASSERT_EQUAL(mproc_lock_acquire(mproc_cond_lock(c), 60), 0);
    CU_ASSERT_EQUAL(mproc_cond_notify_all(c), 0);
    CU_ASSERT_EQUAL(mproc_lock_release(mproc_cond_lock(c)), 0);
    for (int i = 0; i < 3; i++)
        CU_ASSERT_EQUAL(tu_finish(p[i], 60), 0);
    mproc_cond_free(c);
    mproc_sem_free(ready);
    mproc_sem_free(woke);
}

static void test_condition_notify_wakes_exactly_n(void) { check_condition_notify_wakes_exactly_n(NULL); }

static void check_condition_wait_needs_the_lock_and_times_out(mproc_ctx *ctx)
{
    mproc_lock *lock = mproc_lock_new(ctx);
    mproc_cond *c = mproc_cond_new(NULL, lock);
    double t0, dt;
    CU_ASSERT_EQUAL(mproc_cond_wait(c, 0), MPROC_ESTATE);
    CU_ASSERT_EQUAL(mproc_cond_notify(c, 1), MPROC_ESTATE);
    CU_ASSERT_EQUAL(mproc_lock_acquire(lock, 0), 0);
    t0 = tu_now();
    CU_ASSERT_EQUAL(mproc_cond_wait(c, 0.2), MPROC_ETIMEDOUT);
    dt = tu_now() - t0;
    CU_ASSERT(dt >= 0.2 && dt <= 0.7);
    /* The lock is held again after the wait. */
    CU_ASSERT_EQUAL(mproc_lock_acquire(lock, 0), MPROC_ETIMEDOUT);
    CU_ASSERT_EQUAL(mproc_lock_release(lock), 0);
    mproc_cond_free(c);
    mproc_lock_free(lock);
}

static void test_condition_wait_needs_the_lock_and_times_out(void)
{
    check_condition_wait_needs_the_lock_and_times_out(NULL);
}

/* Waits at barrier arg 0; writes its arrival index into shm arg 1 slot i64 arg 2. */
static int barrier_party(mproc_args *a)
{
    int index = mproc_barrier_wait(mproc_args_barrier(a, 0), 60);
    int *slots = mproc_shm_ptr(mproc_args_shm(a, 1));
    if (index < 0)
        return -index;
    slots[mproc_args_i64(a, 2)] = index + 1;
    return 0;
}
MPROC_TARGET(barrier_party);

static void test_barrier_gives_each_party_an_index(void)
{
    mproc_barrier *b = mproc_barrier_new(NULL, 3);
    mproc_shm *shm = mproc_shm_new(NULL, 3 * sizeof(int));
    mproc_process *p[2];
    int *slots = mproc_shm_ptr(shm), mine, seen = 0;
    for (int i = 0; i < 2; i++) {
        mproc_args *a = mproc_args_new();
        mproc_args_add_barrier(a, b);
        mproc_args_add_shm(a, shm);
        mproc_args_add_i64(a, i);
        p[i] = tu_start(barrier_party, a);
    }
    mine = mproc_barrier_wait(b, 60);
    CU_ASSERT(mine >= 0 && mine < 3);
    for (int i = 0; i < 2; i++)
        CU_ASSERT_EQUAL(tu_finish(p[i], 60), 0);
    slots[2] = mine + 1;
    for (int i = 0; i < 3; i++)
        seen |= 1 << (slots[i] - 1);
    CU_ASSERT_EQUAL(seen, 7); /* indices 0, 1, 2, each once */
    mproc_barrier_free(b);
    mproc_shm_free(shm);
}

static void test_barrier_timeout_breaks_it_and_reset_repairs_it(void)
{
    mproc_barrier *b = mproc_barrier_new(NULL, 2);
    double t0 = tu_now(), dt;
    CU_ASSERT_EQUAL(mproc_barrier_wait(b, 0.2), MPROC_ETIMEDOUT);
    dt = tu_now() - t0;
    CU_ASSERT(dt >= 0.2 && dt <= 0.7);
    CU_ASSERT_EQUAL(mproc_barrier_wait(b, 0), MPROC_EBROKEN);
    CU_ASSERT_EQUAL(mproc_barrier_reset(b), 0);
    CU_ASSERT_EQUAL(mproc_barrier_wait(b, 0.05), MPROC_ETIMEDOUT);
    mproc_barrier_free(b);
}

static void test_barrier_abort_breaks_waiters(void)
{
    mproc_barrier *b = mproc_barrier_new(NULL, 3);
    mproc_shm *shm = mproc_shm_new(NULL, 3 * sizeof(int));
    mproc_args *a = mproc_args_new();
    mproc_process *p;
    mproc_args_add_barrier(a, b);
    mproc_args_add_shm(a, shm);
    mproc_args_add_i64(a, 0);
    p = tu_start(barrier_party, a);
    CU_ASSERT_EQUAL(mproc_barrier_abort(b), 0);
    CU_ASSERT_EQUAL(tu_finish(p, 60), -MPROC_EBROKEN);
    CU_ASSERT_EQUAL(mproc_barrier_wait(b, 0), MPROC_EBROKEN);
    mproc_barrier_free(b);
    mproc_shm_free(shm);
}

static int touch_all(mproc_args *a)
{
    mproc_lock *l = mproc_args_lock(a, 0);
    mproc_event *e = mproc_args_event(a, 1);
    if (mproc_lock_acquire(l, 10) != 0 || mproc_lock_release(l) != 0)
        return 1;
    return mproc_event_set(e) == 0 ? 0 : 2;
}
MPROC_TARGET(touch_all);

static void test_1000_create_transfer_free_cycles_leak_nothing(void)
{
    int before = 0, maps = 0, failures = 0;
    for (int i = -1, cycles = tu_cycles(1000); i < cycles; i++) {
        mproc_lock *l;
        mproc_event *e;
        mproc_args *a;
        if (i == 0) {
            before = tu_open_handle_count();
            maps = tu_mapping_count();
        }
        l = mproc_lock_new(NULL);
        e = mproc_event_new(NULL);
        a = mproc_args_new();
        mproc_args_add_lock(a, l);
        mproc_args_add_event(a, e);
        {
            mproc_process *p = mproc_process_new(NULL, touch_all, a);
            int code = -1;
            if (!p || mproc_process_start(p) != 0 || mproc_process_join(p, 60) != 0 ||
                mproc_process_exitcode(p, &code) != 0 || code != 0 || !mproc_event_is_set(e))
                failures++;
            mproc_process_free(p);
        }
        mproc_lock_free(l);
        mproc_event_free(e);
    }
    CU_ASSERT_EQUAL(failures, 0);
    CU_ASSERT_EQUAL(tu_open_handle_count(), before);
    /* A leaked segment per cycle would add 1,000 mappings; allocators and
     * sanitizers legitimately add a few of their own. */
    if (maps < 0)
        tu_skip_part("mapping count", "this OS does not list a process's mappings to the test helper");
    else
        CU_ASSERT(tu_mapping_count() - maps < 50);
}

/* ---- locks of the thread context (in this process, no shared memory) ---- */

static mproc_ctx *thread_ctx(void) { return mproc_get_context(MPROC_THREAD); }

static void test_thread_lock_gives_mutual_exclusion(void) { check_lock_gives_mutual_exclusion(thread_ctx()); }

static void test_thread_lock_release_of_unlocked_is_estate(void)
{
    check_release_of_unlocked_lock_is_estate(thread_ctx());
}

static void test_thread_lock_may_be_released_by_another_thread(void)
{
    check_lock_may_be_released_by_another(thread_ctx());
}

static void test_thread_rlock_is_recursive_and_owner_checked(void)
{
    check_rlock_is_recursive_and_owner_checked(thread_ctx());
}

/* Takes lock arg 0 with no timeout, sets event arg 1, releases. */
static int acquire_then_signal(mproc_args *a)
{
    mproc_lock *l = mproc_args_lock(a, 0);
    int rc = mproc_lock_acquire(l, -1);
    if (rc != 0)
        return -rc;
    mproc_event_set(mproc_args_event(a, 1));
    return -mproc_lock_release(l);
}

static void test_thread_lock_waiters_time_out_or_get_it_on_release(void)
{
    mproc_lock *lock = mproc_lock_new(thread_ctx());
    mproc_event *got = mproc_event_new(NULL);
    mproc_args *a = mproc_args_new();
    mproc_process *p;
    double t0;
    CU_ASSERT_EQUAL(mproc_lock_acquire(lock, 0), 0);
    mproc_args_add_lock(a, lock);
    mproc_args_add_event(a, got);
    p = mproc_process_new(thread_ctx(), acquire_then_signal, a);
    CU_ASSERT_EQUAL_FATAL(mproc_process_start(p), 0);
    CU_ASSERT_EQUAL(mproc_event_wait(got, 0.2), MPROC_ETIMEDOUT); /* it waits for us */
    t0 = tu_now();
    CU_ASSERT_EQUAL(mproc_lock_acquire(lock, 0.1), MPROC_ETIMEDOUT); /* a Lock is not recursive */
    CU_ASSERT(tu_now() - t0 >= 0.1);
    CU_ASSERT_EQUAL(mproc_lock_release(lock), 0);
    CU_ASSERT_EQUAL(tu_finish(p, 60), 0);
    CU_ASSERT_EQUAL(mproc_event_is_set(got), 1);
    CU_ASSERT_EQUAL(mproc_lock_acquire(lock, 0), 0);
    CU_ASSERT_EQUAL(mproc_lock_release(lock), 0);
    mproc_event_free(got);
    mproc_lock_free(lock);
}

static void test_thread_lock_serves_a_condition(void)
{
    mproc_lock *r = mproc_rlock_new(thread_ctx());
    check_condition_wait_needs_the_lock_and_times_out(thread_ctx());
    check_condition_notify_wakes_exactly_n(r);
    mproc_lock_free(r);
}

static int refusals_logged;

static void count_refusals(int level, const char *msg, void *ud)
{
    (void)level;
    (void)ud;
    refusals_logged += strstr(msg, "thread context") != NULL;
}

static int never_runs(mproc_args *a)
{
    (void)a;
    return 9;
}
MPROC_TARGET(never_runs);

static void test_thread_lock_never_goes_to_a_process(void)
{
    static const mproc_method methods[] = {MPROC_FORK, MPROC_SPAWN, MPROC_FORKSERVER};
    mproc_lock *lock = mproc_lock_new(thread_ctx());
    mproc_cond *c = mproc_cond_new(NULL, lock);
    int refused = 0, tried = 0;
    refusals_logged = 0;
    mproc_set_log_handler(count_refusals, NULL);
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        mproc_ctx *ctx = mproc_get_context(methods[i]);
        for (int with_cond = 0; ctx && with_cond < 2; with_cond++) {
            mproc_args *a = mproc_args_new();
            mproc_process *p;
            if (with_cond)
                mproc_args_add_cond(a, c);
            else
                mproc_args_add_lock(a, lock);
            p = mproc_process_new(ctx, never_runs, a);
            CU_ASSERT_PTR_NOT_NULL_FATAL(p);
            tried++;
            refused += mproc_process_start(p) == MPROC_ENOTSUP;
            mproc_process_free(p);
        }
    }
    mproc_set_log_handler(NULL, NULL);
    CU_ASSERT(tried > 0);
    CU_ASSERT_EQUAL(refused, tried);
    CU_ASSERT_EQUAL(refusals_logged, tried);
    mproc_cond_free(c);
    mproc_lock_free(lock);
}

/* The lock a forked child finds in its copy of memory, held by the parent. */
static mproc_lock *inherited_lock;

static int use_inherited_lock(mproc_args *a)
{
    int bad = 0;
    (void)a;
    bad += mproc_lock_acquire(inherited_lock, 0) != MPROC_ENOTSUP;
    bad += mproc_lock_release(inherited_lock) != MPROC_ENOTSUP;
    mproc_lock_free(inherited_lock); /* forgotten, not touched */
    return bad;
}

static void test_thread_lock_copy_in_a_fork_child_refuses_every_call(void)
{
    mproc_ctx *fork_ctx = mproc_get_context(MPROC_FORK);
    mproc_process *p;
    TU_SKIP_IF(!fork_ctx, "no fork on this OS");
    inherited_lock = mproc_lock_new(thread_ctx());
    CU_ASSERT_EQUAL(mproc_lock_acquire(inherited_lock, 0), 0);
    p = mproc_process_new(fork_ctx, use_inherited_lock, NULL);
    CU_ASSERT_EQUAL_FATAL(mproc_process_start(p), 0);
    CU_ASSERT_EQUAL(tu_finish(p, 60), 0);
    CU_ASSERT_EQUAL(mproc_lock_release(inherited_lock), 0); /* still ours here */
    mproc_lock_free(inherited_lock);
}

static CU_TestInfo tests[] = {
    TU_TEST(test_lock_gives_mutual_exclusion),
    TU_TEST(test_without_the_lock_the_race_is_real),
    TU_TEST(test_release_of_unlocked_lock_is_estate),
    TU_TEST(test_lock_stays_exclusive_when_waiters_time_out),
    TU_TEST(test_lock_may_be_released_by_another_process),
    TU_TEST(test_rlock_is_recursive_and_owner_checked),
    TU_TEST(test_semaphore_acquire_times_out),
    TU_TEST(test_bounded_semaphore_over_release_is_estate),
    TU_TEST(test_event_wakes_a_waiting_process),
    TU_TEST(test_event_wait_times_out_and_clear_resets),
    TU_TEST(test_condition_notify_wakes_exactly_n),
    TU_TEST(test_condition_wait_needs_the_lock_and_times_out),
    TU_TEST(test_barrier_gives_each_party_an_index),
    TU_TEST(test_barrier_timeout_breaks_it_and_reset_repairs_it),
    TU_TEST(test_barrier_abort_breaks_waiters),
    TU_TEST(test_1000_create_transfer_free_cycles_leak_nothing),
    CU_TEST_INFO_NULL,
};

/* They make their own thread context: once is enough, with the thread
 * method's run (whose threads are the workers and waiters above). */
static CU_TestInfo thread_context_tests[] = {
    TU_TEST(test_thread_lock_gives_mutual_exclusion),
    TU_TEST(test_thread_lock_release_of_unlocked_is_estate),
    TU_TEST(test_thread_lock_may_be_released_by_another_thread),
    TU_TEST(test_thread_rlock_is_recursive_and_owner_checked),
    TU_TEST(test_thread_lock_waiters_time_out_or_get_it_on_release),
    TU_TEST(test_thread_lock_serves_a_condition),
    TU_TEST(test_thread_lock_never_goes_to_a_process),
    TU_TEST(test_thread_lock_copy_in_a_fork_child_refuses_every_call),
    CU_TEST_INFO_NULL,
};

static void reg(void)
{
    tu_add_suite("sync", tests);
    if (tu_method() == MPROC_THREAD)
        tu_add_suite("sync_thread_context", thread_context_tests);
}

int main(int argc, char **argv) { return tu_main(argc, argv, reg); }
