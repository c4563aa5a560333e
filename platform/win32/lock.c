/*
 * The library-wide lock, per-object mutexes and thread condition variables
 * on Windows.
 *
 * Slim reader/writer locks: statically initialisable (so the global lock
 * needs no init-once dance) and never fail to acquire.  Windows has no fork,
 * so nothing needs re-initialising in a child.  SRW locks are not
 * recursive, which the contract does not ask for.
 */
#include <stdlib.h>

#include "win.h"

static SRWLOCK global_lock = SRWLOCK_INIT;

void mproc__plat_global_lock(void) { AcquireSRWLockExclusive(&global_lock); }

void mproc__plat_global_unlock(void) { ReleaseSRWLockExclusive(&global_lock); }

/* No fork, so nothing ever runs in a fork child. */
void mproc__plat_atfork_child(void (*fn)(void)) { (void)fn; }

struct mproc__mutex {
    SRWLOCK lock;
};

mproc__mutex *mproc__plat_mutex_new(void)
{
    mproc__mutex *m = malloc(sizeof *m);
    if (m != NULL)
        InitializeSRWLock(&m->lock);
    return m;
}

void mproc__plat_mutex_lock(mproc__mutex *m) { AcquireSRWLockExclusive(&m->lock); }

void mproc__plat_mutex_unlock(mproc__mutex *m) { ReleaseSRWLockExclusive(&m->lock); }

void mproc__plat_mutex_free(mproc__mutex *m) { free(m); }

/* Condition variables for threads of this process, paired with the SRW
 * lock of an mproc__mutex. */
struct mproc__cond {
    CONDITION_VARIABLE cv;
};

mproc__cond *mproc__plat_cond_new(void)
{
    mproc__cond *c = malloc(sizeof *c);
    if (c != NULL)
        InitializeConditionVariable(&c->cv);
    return c;
}

int mproc__plat_cond_wait(mproc__cond *c, mproc__mutex *m, double timeout)
{
    double deadline = mproc__plat_now() + timeout;
    if (SleepConditionVariableSRW(&c->cv, &m->lock, timeout < 0 ? INFINITE : mproc__win_ms(timeout), 0))
        return 0;
    if (GetLastError() != ERROR_TIMEOUT)
        return mproc__sys_error((long)GetLastError());
    /* The sleep ends on a timer tick, which can come a little early: report
     * that as a spurious wake-up, so the caller waits out the rest. */
    return timeout > 0 && mproc__plat_now() < deadline ? 0 : MPROC_ETIMEDOUT;
}

void mproc__plat_cond_signal(mproc__cond *c) { WakeConditionVariable(&c->cv); }

void mproc__plat_cond_broadcast(mproc__cond *c) { WakeAllConditionVariable(&c->cv); }

void mproc__plat_cond_free(mproc__cond *c) { free(c); }
