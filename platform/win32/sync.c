/*
 * Process-shared semaphores and robust mutexes on Windows: kernel
 * semaphores and mutexes without names, reached by children through
 * handles duplicated into them (handles.c).  The shared memory the core
 * provides for each is not needed here.
 *
 * Kernel mutexes are robust by nature: when the thread holding one ends,
 * even by TerminateProcess, the next waiter gets it with WAIT_ABANDONED
 * (MPROC_EBROKEN, the mutex held by that waiter).
 * Unlike a POSIX mutex they are recursive (the holding thread may take one
 * again, and must release it as often), and only the holding thread can
 * release them.
 */
#include <limits.h>

#include "win.h"

static int psync_wait(const mproc__psync *s, double timeout)
{
    HANDLE h = (HANDLE)s->h;
    DWORD r = mproc__win_wait(&h, 1, timeout);
    if (r == WAIT_OBJECT_0)
        return 0;
    if (r == WAIT_ABANDONED_0)
        return MPROC_EBROKEN; /* a mutex, now held by the caller */
    if (r == WAIT_TIMEOUT)
        return MPROC_ETIMEDOUT;
    return mproc__sys_error((long)GetLastError());
}

static int psync_set(mproc__psync *s, void *mem, HANDLE h)
{
    if (h == NULL)
        return mproc__sys_error((long)GetLastError());
    s->mem = mem;
    s->h = (mproc__handle)h;
    return 0;
}

int mproc__plat_psem_init(mproc__psync *s, void *mem, unsigned value, unsigned max)
{
    /* Kernel semaphores count in a LONG and need a maximum of at least 1. */
    LONG limit = max > LONG_MAX ? LONG_MAX : (LONG)max;
    if (max == 0 || value > (unsigned)limit)
        return mproc__error(MPROC_EINVAL);
    return psync_set(s, mem, CreateSemaphoreW(NULL, (LONG)value, limit, NULL));
}

int mproc__plat_psem_acquire(mproc__psync *s, double timeout) { return psync_wait(s, timeout); }

int mproc__plat_psem_release(mproc__psync *s)
{
    if (ReleaseSemaphore((HANDLE)s->h, 1, NULL))
        return 0;
    return GetLastError() == ERROR_TOO_MANY_POSTS ? MPROC_ESTATE : mproc__sys_error((long)GetLastError());
}

/* The kernel checks the maximum within the one call. */
int mproc__plat_psem_post(mproc__psync *s) { return mproc__plat_psem_release(s); }

int mproc__plat_pmutex_init(mproc__psync *m, void *mem) { return psync_set(m, mem, CreateMutexW(NULL, FALSE, NULL)); }

/* An abandoned mutex comes with its ownership (WAIT_ABANDONED), as the
 * contract wants: the caller reports the death, then releases it. */
int mproc__plat_pmutex_acquire(mproc__psync *m, double timeout) { return psync_wait(m, timeout); }

int mproc__plat_pmutex_release(mproc__psync *m)
{
    if (ReleaseMutex((HANDLE)m->h))
        return 0;
    return GetLastError() == ERROR_NOT_OWNER ? MPROC_ESTATE : mproc__sys_error((long)GetLastError());
}

mproc__handle mproc__plat_psync_handle(const mproc__psync *s) { return s->h; }

int mproc__plat_psync_attach(mproc__psync *s, void *mem, mproc__handle h)
{
    s->mem = mem;
    s->h = h;
    /* Here the kernel object is all there is: no handle, no primitive. */
    return h == MPROC__NO_HANDLE ? mproc__error(MPROC_EBROKEN) : 0;
}

void mproc__plat_psync_close(mproc__psync *s)
{
    mproc__plat_close(s->h);
    s->h = MPROC__NO_HANDLE;
    s->mem = NULL;
}
