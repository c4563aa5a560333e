/*
 * Process-shared semaphores and mutexes where the OS has no robust mutexes
 * (macOS, OpenBSD, and every build with MPROC_FORCE_FALLBACKS).
 *
 * A process-shared pthread mutex there would hang every other process
 * forever once its holder is killed, and CPython's multiprocessing does hang
 * so on macOS.  Here no kernel lock is ever held: each primitive is a lock-
 * free word in the shared memory, and a waiter polls it in growing slices
 * (CPython's own sem_timedwait emulation for macOS polls too, up to 20 ms;
 * here 50 us doubling to 10 ms).  A mutex keeps its holder's pid and thread
 * beside it; a waiter looks at that pid every MPROC__LIVENESS_SLICE seconds
 * and, once the process is gone, takes the mutex from it (and holds it,
 * as EOWNERDEAD would) and reports MPROC_EBROKEN.
 *
 * Limits: a dead holder is seen once its pid no longer runs: a zombie is
 * recognised by its parent (waitid's WNOWAIT) and, where the OS tells any
 * process's state (/proc, sysctl's p_stat), by everyone; otherwise only once
 * its parent has reaped it.  A pid reused by a new process in between hides
 * the death until that process ends.
 */
#include "posix.h"

#if !MPROC_HAVE_ROBUST_MUTEX

#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

/* A holder: pid in the high half, a per-thread tag in the low half. */
typedef struct {
    atomic_uint_least64_t owner; /* 0 = free */
} pmutex;

typedef struct {
    atomic_uint value;
    unsigned max;
} psem;

_Static_assert(sizeof(pmutex) <= MPROC__SYNC_MEM, "MPROC__SYNC_MEM too small for a mutex");
_Static_assert(sizeof(psem) <= MPROC__SYNC_MEM, "MPROC__SYNC_MEM too small for a semaphore");

static MPROC_TLS uint32_t thread_tag;
static atomic_uint next_tag = 1;

static uint64_t me(void)
{
    if (!thread_tag)
        thread_tag = atomic_fetch_add(&next_tag, 1);
    return (uint64_t)(uint32_t)getpid() << 32 | thread_tag;
}

/* A polling wait: 1 when the time is up, else sleeps a slice and returns 0. */
static int slice_or_timeout(double deadline, int forever, unsigned *round)
{
    if (!forever && mproc__plat_now() >= deadline)
        return 1;
    mproc__posix_backoff(round);
    return 0;
}

int mproc__plat_psem_init(mproc__psync *s, void *mem, unsigned value, unsigned max)
{
    psem *p = mem;
    if (!atomic_is_lock_free(&p->value))
        return mproc__errorf(MPROC_ENOTSUP, "no lock-free atomics to share a semaphore between processes");
    memset(p, 0, sizeof *p);
    atomic_init(&p->value, value);
    p->max = max;
    s->mem = mem;
    s->h = MPROC__NO_HANDLE;
    return 0;
}

int mproc__plat_psem_acquire(mproc__psync *s, double timeout)
{
    psem *p = s->mem;
    double deadline = mproc__plat_now() + timeout;
    unsigned round = 0;
    for (;;) {
        unsigned v = atomic_load(&p->value);
        if (v > 0) {
            if (atomic_compare_exchange_weak(&p->value, &v, v - 1))
                return 0;
            continue;
        }
        if (timeout == 0 || slice_or_timeout(deadline, timeout < 0, &round))
            return MPROC_ETIMEDOUT;
    }
}

int mproc__plat_psem_release(mproc__psync *s)
{
    psem *p = s->mem;
    unsigned v = atomic_load(&p->value);
    do {
        if (v >= p->max)
            return MPROC_ESTATE;
    } while (!atomic_compare_exchange_weak(&p->value, &v, v + 1));
    return 0;
}

/* The check is one compare in the loop that adds. */
int mproc__plat_psem_post(mproc__psync *s) { return mproc__plat_psem_release(s); }

int mproc__plat_pmutex_init(mproc__psync *m, void *mem)
{
    pmutex *p = mem;
    if (!atomic_is_lock_free(&p->owner))
        return mproc__errorf(MPROC_ENOTSUP, "no lock-free 64-bit atomics to share a mutex between processes");
    memset(p, 0, sizeof *p);
    atomic_init(&p->owner, 0);
    m->mem = mem;
    m->h = MPROC__NO_HANDLE;
    return 0;
}

int mproc__plat_pmutex_acquire(mproc__psync *m, double timeout)
{
    pmutex *p = m->mem;
    uint64_t self = me();
    double now = mproc__plat_now(), deadline = now + timeout, next_check = now;
    unsigned round = 0;
    for (;;) {
        uint64_t holder = 0;
        if (atomic_compare_exchange_strong(&p->owner, &holder, self))
            return 0;
        /* holder is now who has it.  Is it still there?  At the first
         * failure, every slice after, and before giving up: a short timeout
         * must still see a holder that is long dead. */
        now = mproc__plat_now();
        if (now >= next_check || (timeout >= 0 && now >= deadline)) {
            if (!mproc__posix_pid_alive((pid_t)(holder >> 32))) {
                /* Only one waiter takes it from the dead, and holds it:
                 * that one reports the death and releases it after. */
                if (atomic_compare_exchange_strong(&p->owner, &holder, self))
                    return MPROC_EBROKEN;
                continue;
            }
            next_check = now + MPROC__LIVENESS_SLICE;
        }
        if (timeout == 0 || slice_or_timeout(deadline, timeout < 0, &round))
            return MPROC_ETIMEDOUT;
    }
}

int mproc__plat_pmutex_release(mproc__psync *m)
{
    pmutex *p = m->mem;
    uint64_t self = me();
    return atomic_compare_exchange_strong(&p->owner, &self, 0) ? 0 : MPROC_ESTATE;
}

#else
/* With robust mutexes: sync.c. */
typedef int mproc__have_robust_mutexes;
#endif /* !MPROC_HAVE_ROBUST_MUTEX */
