/*
 * Lock and RLock of the thread context: a flag taken by compare-and-swap,
 * so that taking a free lock and giving it back with nobody waiting are an
 * atomic operation each, and a mutex and condition only for threads that
 * have to wait.  No shared memory, no pid: the lock never leaves this
 * process (exporting it is refused, and a forked child's copy refuses every
 * call, as core/queue_local.c's queues do).
 *
 * A waiter counts itself in sleepers (under mu) before its last try; a
 * releaser clears the flag before it reads sleepers.  Both are sequentially
 * consistent, so either the waiter's try sees the lock free or the releaser
 * sees the waiter and signals it under mu, which the waiter holds until its
 * wait begins: no wake-up is lost.  A woken waiter tries again before it
 * looks at the time, so a wake-up it took is never wasted on a timeout.
 */
#include <stdatomic.h>
#include <stdlib.h>

#include "sync_local.h"

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)
#define STORE(x, v) atomic_store_explicit(&(x), (v), memory_order_relaxed)

struct mproc__llock {
    int recursive;
    unsigned generation; /* fork_generation when made: another means a fork child's copy */
    atomic_int held;
    atomic_uint sleepers; /* waiters past their first try (counted under mu) */
    /* Written by the holder only; read by anyone asking "is it mine?". */
    atomic_ullong owner; /* mproc__thread_id() */
    atomic_uint count;   /* recursion depth; 1 for a Lock */
    mproc__mutex *mu;
    mproc__cond *cv;
};

/* Bumped in the child of every fork: locks made before it are copies. */
static atomic_uint fork_generation;

static void bump_generation_after_fork(void) { atomic_fetch_add(&fork_generation, 1); }

static int inherited(const mproc__llock *l)
{
    return l->generation != atomic_load_explicit(&fork_generation, memory_order_relaxed);
}

static int refuse_inherited(void)
{
    return mproc__errorf(MPROC_ENOTSUP, "this lock of the thread context belongs to the process that forked this "
                                        "one: a forked child cannot use it (give children a process context's lock)");
}

int mproc__llock_refuse_export(void)
{
    return mproc__errorf(MPROC_ENOTSUP, "a lock of the thread context lives in its process only: it cannot be "
                                        "passed to a child process (make it with a process context, or NULL)");
}

mproc__llock *mproc__llock_new(int recursive)
{
    mproc__llock *l;
    mproc__on_fork_child(bump_generation_after_fork);
    if (!(l = calloc(1, sizeof *l)))
        return mproc__null(MPROC_ENOMEM);
    l->recursive = recursive;
    l->generation = atomic_load(&fork_generation);
    atomic_init(&l->held, 0);
    atomic_init(&l->sleepers, 0u);
    atomic_init(&l->owner, 0u);
    atomic_init(&l->count, 0u);
    l->mu = mproc__plat_mutex_new();
    l->cv = mproc__plat_cond_new();
    if (!l->mu || !l->cv) {
        mproc__llock_free(l);
        return mproc__null(MPROC_ENOMEM);
    }
    return l;
}

static int try_take(mproc__llock *l)
{
    int expected = 0;
    return atomic_compare_exchange_strong(&l->held, &expected, 1);
}

/* Past the first try: waits under mu until the flag is taken or the
 * timeout (> 0, or < 0 for ever) passes. */
static int take_waiting(mproc__llock *l, double timeout)
{
    double deadline = timeout > 0 ? mproc__plat_now() + timeout : -1;
    int rc = 0;
    mproc__plat_mutex_lock(l->mu);
    atomic_fetch_add(&l->sleepers, 1);
    for (;;) {
        double left = -1;
        if (try_take(l))
            break;
        if (timeout > 0 && (left = deadline - mproc__plat_now()) <= 0) {
            rc = MPROC_ETIMEDOUT;
            break;
        }
        (void)mproc__plat_cond_wait(l->cv, l->mu, left);
    }
    atomic_fetch_sub(&l->sleepers, 1);
    mproc__plat_mutex_unlock(l->mu);
    return rc;
}

int mproc__llock_is_mine(mproc__llock *l)
{
    return !inherited(l) && LOAD(l->count) > 0 && LOAD(l->owner) == mproc__thread_id();
}

int mproc__llock_acquire(mproc__llock *l, double timeout)
{
    int rc = 0;
    if (inherited(l))
        return refuse_inherited();
    if (l->recursive && mproc__llock_is_mine(l)) {
        STORE(l->count, LOAD(l->count) + 1);
        return 0;
    }
    if (!try_take(l))
        rc = timeout == 0 ? MPROC_ETIMEDOUT : take_waiting(l, timeout);
    if (rc != 0)
        return mproc__raise(rc);
    STORE(l->owner, mproc__thread_id());
    STORE(l->count, 1u);
    return 0;
}

int mproc__llock_release(mproc__llock *l)
{
    if (inherited(l))
        return refuse_inherited();
    if (l->recursive) {
        if (!mproc__llock_is_mine(l))
            return mproc__errorf(MPROC_ESTATE, "cannot release an RLock this thread does not hold");
        STORE(l->count, LOAD(l->count) - 1);
        if (LOAD(l->count) > 0)
            return 0;
    }
    /* A Lock may be released by any thread, as CPython's: only once. */
    STORE(l->owner, 0u);
    STORE(l->count, 0u);
    if (!atomic_exchange(&l->held, 0))
        return mproc__errorf(MPROC_ESTATE, "cannot release an unlocked Lock");
    if (atomic_load(&l->sleepers) > 0) {
        mproc__plat_mutex_lock(l->mu);
        mproc__plat_cond_signal(l->cv);
        mproc__plat_mutex_unlock(l->mu);
    }
    return 0;
}

unsigned mproc__llock_release_all(mproc__llock *l)
{
    unsigned count = LOAD(l->count);
    STORE(l->count, 1u);
    (void)mproc__llock_release(l);
    return count;
}

int mproc__llock_restore(mproc__llock *l, unsigned count)
{
    int rc = mproc__llock_acquire(l, -1);
    if (rc == 0)
        STORE(l->count, count);
    return rc;
}

void mproc__llock_free(mproc__llock *l)
{
    if (!l)
        return;
    if (inherited(l))
        return; /* the parent's: its mutex may be held by a thread this child lacks */
    mproc__plat_mutex_free(l->mu);
    mproc__plat_cond_free(l->cv);
    free(l);
}
