/*
 * Process-shared semaphores and robust mutexes where the OS has robust
 * mutexes (MPROC_HAVE_ROBUST_MUTEX), kept entirely in shared memory the
 * core provides (sem_open names would outlive a killed process).  A
 * process killed while holding a mutex leaves EOWNERDEAD for the next
 * locker rather than a lock held forever.
 *
 * A semaphore is an unnamed process-shared sem_t where there is one
 * (MPROC_HAVE_SEM_TIMEDWAIT), plus a robust mutex that serialises releases
 * so that a bounded one never passes its maximum.  Not a pthread condition
 * variable: glibc's process-shared condition keeps a count of the waiters
 * in each group, a waiter killed inside pthread_cond_wait never gives its
 * share back, and the next pthread_cond_signal waits for it for ever.  A
 * sem_t waiter holds nothing (glibc and musl wait on a futex; a dead one
 * at most costs a later post a needless wake-up).  Elsewhere the mutex +
 * condition + count below is kept, with that limit.  Without robust
 * mutexes, sync_owner.c is built instead.
 */
#include "posix.h"

#if MPROC_HAVE_ROBUST_MUTEX

#include <errno.h>
#include <string.h>
#include <time.h>
#if MPROC_HAVE_SEM_TIMEDWAIT
#include <semaphore.h>
#endif

#if MPROC_HAVE_SEM_TIMEDWAIT
typedef struct {
    sem_t sem;
    pthread_mutex_t release_mu;
    unsigned max;
} psem;
#else
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned value, max;
    int broken; /* a holder of mu died mid-update: counts untrustworthy */
} psem;
#endif

typedef struct {
    pthread_mutex_t mu;
    int recovered; /* the holder took it from a dead one (written by the holder only) */
} pmutex;

_Static_assert(sizeof(psem) <= MPROC__SYNC_MEM, "MPROC__SYNC_MEM too small for a semaphore");
_Static_assert(sizeof(pmutex) <= MPROC__SYNC_MEM, "MPROC__SYNC_MEM too small for a mutex");

#if defined(__SANITIZE_THREAD__)
#define MPROC_UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MPROC_UNDER_TSAN 1
#endif
#endif

/* 0, or an MPROC error: ENOTSUP where mutexes cannot be process-shared
 * (OpenBSD says so; using one anyway would lock only within a process). */
static int init_mutex(pthread_mutex_t *m)
{
    pthread_mutexattr_t a;
    int rc;
    pthread_mutexattr_init(&a);
    rc = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    if (rc == 0)
        rc = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    if (rc != 0) {
        pthread_mutexattr_destroy(&a);
        return mproc__errorf(MPROC_ENOTSUP, "this OS cannot share a robust mutex between processes (error %d)", rc);
    }
    rc = pthread_mutex_init(m, &a);
    pthread_mutexattr_destroy(&a);
    return rc ? mproc__sys_error(rc) : 0;
}

/* Locks m with an optional deadline: 0, ETIMEDOUT, or EOWNERDEAD (then held
 * and marked consistent: the caller decides what the death means). */
static int lock_until(pthread_mutex_t *m, const struct timespec *deadline)
{
    int rc;
    if (!deadline) {
        rc = pthread_mutex_lock(m);
    } else {
#if MPROC_HAVE_MUTEX_CLOCKLOCK && !defined(MPROC_UNDER_TSAN)
        rc = pthread_mutex_clocklock(m, MPROC__WAIT_CLOCK, deadline);
#elif MPROC_HAVE_MUTEX_TIMEDLOCK
        /* pthread_mutex_timedlock takes CLOCK_REALTIME deadlines only (and is
         * what ThreadSanitizer intercepts: clang 14's TSan misses clocklock and
         * then reports every unlock as "unlock of an unlocked mutex"). */
        struct timespec now_wait, now_real, abs = *deadline;
        clock_gettime(MPROC__WAIT_CLOCK, &now_wait);
        clock_gettime(CLOCK_REALTIME, &now_real);
        abs.tv_sec += now_real.tv_sec - now_wait.tv_sec;
        abs.tv_nsec += now_real.tv_nsec - now_wait.tv_nsec;
        if (abs.tv_nsec >= 1000000000L) {
            abs.tv_sec++;
            abs.tv_nsec -= 1000000000L;
        } else if (abs.tv_nsec < 0) {
            abs.tv_sec--;
            abs.tv_nsec += 1000000000L;
        }
        rc = pthread_mutex_timedlock(m, &abs);
#else
        /* No timed lock at all: try in growing slices until the deadline. */
        unsigned round = 0;
        while ((rc = pthread_mutex_trylock(m)) == EBUSY) {
            struct timespec now;
            clock_gettime(MPROC__WAIT_CLOCK, &now);
            if (now.tv_sec > deadline->tv_sec || (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec)) {
                rc = ETIMEDOUT;
                break;
            }
            mproc__posix_backoff(&round);
        }
#endif
    }
    if (rc == EOWNERDEAD)
        pthread_mutex_consistent(m);
    return rc;
}

#if MPROC_HAVE_SEM_TIMEDWAIT

int mproc__plat_psem_init(mproc__psync *s, void *mem, unsigned value, unsigned max)
{
    psem *p = mem;
    int rc;
    memset(p, 0, sizeof *p);
    if ((rc = init_mutex(&p->release_mu)) != 0)
        return rc;
    if (sem_init(&p->sem, 1, value) != 0) {
        rc = errno;
        pthread_mutex_destroy(&p->release_mu);
        return rc == ENOSYS ? mproc__errorf(MPROC_ENOTSUP, "this OS cannot share a semaphore between processes")
                            : mproc__sys_error(rc);
    }
    p->max = max;
    s->mem = mem;
    s->h = MPROC__NO_HANDLE;
    return 0;
}

int mproc__plat_psem_acquire(mproc__psync *s, double timeout)
{
    psem *p = s->mem;
    struct timespec deadline;
    int rc;
    if (timeout > 0) {
        /* sem_timedwait counts on the realtime clock. */
        double whole = (double)(long)timeout;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += (time_t)whole;
        deadline.tv_nsec += (long)((timeout - whole) * 1e9);
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
    }
    do {
        rc = timeout == 0 ? sem_trywait(&p->sem)
             : timeout < 0 ? sem_wait(&p->sem)
                           : sem_timedwait(&p->sem, &deadline);
    } while (rc != 0 && errno == EINTR);
    if (rc == 0)
        return 0;
    return errno == ETIMEDOUT || errno == EAGAIN ? MPROC_ETIMEDOUT : mproc__sys_error(errno);
}

int mproc__plat_psem_release(mproc__psync *s)
{
    psem *p = s->mem;
    int value = 0, rc = lock_until(&p->release_mu, NULL);
    if (rc != 0 && rc != EOWNERDEAD)
        return mproc__sys_error(rc);
    /* Acquirers only lower the value, so checked under the release lock it
     * cannot pass max. */
    sem_getvalue(&p->sem, &value);
    if (value >= 0 && (unsigned)value >= p->max)
        rc = MPROC_ESTATE;
    else
        rc = sem_post(&p->sem) == 0 ? 0 : mproc__sys_error(errno);
    pthread_mutex_unlock(&p->release_mu);
    return rc;
}

int mproc__plat_psem_post(mproc__psync *s)
{
    psem *p = s->mem;
    return sem_post(&p->sem) == 0 ? 0 : mproc__sys_error(errno);
}

#else /* !MPROC_HAVE_SEM_TIMEDWAIT */

int mproc__plat_psem_init(mproc__psync *s, void *mem, unsigned value, unsigned max)
{
    psem *p = mem;
    pthread_condattr_t ca;
    int rc;

    memset(p, 0, sizeof *p);
    if ((rc = init_mutex(&p->mu)) != 0)
        return rc;
    pthread_condattr_init(&ca);
    if ((rc = pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED)) != 0) {
        pthread_condattr_destroy(&ca);
        pthread_mutex_destroy(&p->mu);
        return mproc__errorf(MPROC_ENOTSUP, "this OS cannot share a condition variable between processes");
    }
#if MPROC_HAVE_CONDATTR_SETCLOCK
    pthread_condattr_setclock(&ca, MPROC__WAIT_CLOCK);
#endif
    rc = pthread_cond_init(&p->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (rc != 0) {
        pthread_mutex_destroy(&p->mu);
        return mproc__sys_error(rc);
    }
    p->value = value;
    p->max = max;
    s->mem = mem;
    s->h = MPROC__NO_HANDLE;
    return 0;
}

int mproc__plat_psem_acquire(mproc__psync *s, double timeout)
{
    psem *p = s->mem;
    struct timespec deadline = mproc__posix_deadline(timeout > 0 ? timeout : 0);
    int rc = lock_until(&p->mu, NULL);

    if (rc == EOWNERDEAD)
        p->broken = 1; /* only counts were at stake: carry on */
    else if (rc != 0)
        return mproc__sys_error(rc);
    while (p->value == 0) {
        if (timeout == 0) {
            rc = ETIMEDOUT;
            break;
        }
        rc = timeout < 0 ? pthread_cond_wait(&p->cv, &p->mu) : pthread_cond_timedwait(&p->cv, &p->mu, &deadline);
        if (rc == EOWNERDEAD) {
            pthread_mutex_consistent(&p->mu);
            p->broken = 1;
            rc = 0;
        }
        if (rc == ETIMEDOUT && p->value == 0)
            break;
        rc = 0;
    }
    if (p->value > 0) {
        p->value--;
        rc = 0;
    }
    pthread_mutex_unlock(&p->mu);
    return rc == ETIMEDOUT ? MPROC_ETIMEDOUT : 0;
}

int mproc__plat_psem_release(mproc__psync *s)
{
    psem *p = s->mem;
    int rc = lock_until(&p->mu, NULL);
    if (rc == EOWNERDEAD)
        p->broken = 1;
    else if (rc != 0)
        return mproc__sys_error(rc);
    if (p->value >= p->max) {
        pthread_mutex_unlock(&p->mu);
        return MPROC_ESTATE;
    }
    p->value++;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

/* The count is checked under the mutex taken anyway. */
int mproc__plat_psem_post(mproc__psync *s) { return mproc__plat_psem_release(s); }

#endif /* MPROC_HAVE_SEM_TIMEDWAIT */

int mproc__plat_pmutex_init(mproc__psync *m, void *mem)
{
    pmutex *p = mem;
    int rc;
    memset(p, 0, sizeof *p);
    if ((rc = init_mutex(&p->mu)) != 0)
        return rc;
    m->mem = mem;
    m->h = MPROC__NO_HANDLE;
    return 0;
}

/* Releases a mutex taken with EOWNERDEAD.  (Named so that ThreadSanitizer,
 * which does not see an EOWNERDEAD acquisition, can be told about this
 * unlock: tests/tsan.supp names this frame, so it must stay one.) */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((noinline))
#endif
static int release_recovered_mutex(pthread_mutex_t *m)
{
    return pthread_mutex_unlock(m);
}

int mproc__plat_pmutex_acquire(mproc__psync *m, double timeout)
{
    pmutex *p = m->mem;
    struct timespec deadline;
    int rc;

    if (timeout == 0) {
        rc = pthread_mutex_trylock(&p->mu);
        if (rc == EBUSY)
            return MPROC_ETIMEDOUT;
        if (rc == EOWNERDEAD)
            pthread_mutex_consistent(&p->mu);
    } else {
        /* In slices, even to wait for ever: a waiter can miss its wake-up
         * when the holder is killed (the lock word is left free, the
         * waiter asleep on its old value: seen with glibc 2.36 on Linux
         * 6.x in about one death in 500 under the chaos test); the next
         * slice takes the lock. */
        double end = mproc__plat_now() + timeout;
        for (;;) {
            double slice = MPROC__LIVENESS_SLICE, left = end - mproc__plat_now();
            if (timeout > 0 && left < slice)
                slice = left > 0 ? left : 0;
            deadline = mproc__posix_deadline(slice);
            rc = lock_until(&p->mu, &deadline);
            if (rc != ETIMEDOUT || (timeout > 0 && mproc__plat_now() >= end))
                break;
        }
    }
    if (rc == 0)
        return 0;
    if (rc == ETIMEDOUT)
        return MPROC_ETIMEDOUT;
    if (rc == EOWNERDEAD) {
        /* Held, and consistent again: the caller decides what the death
         * means for what the mutex guarded, then releases it. */
        p->recovered = 1;
        return MPROC_EBROKEN;
    }
    return mproc__sys_error(rc);
}

int mproc__plat_pmutex_release(mproc__psync *m)
{
    pmutex *p = m->mem;
    int rc;
    if (p->recovered) {
        p->recovered = 0;
        rc = release_recovered_mutex(&p->mu);
    } else {
        rc = pthread_mutex_unlock(&p->mu);
    }
    return rc == 0 ? 0 : rc == EPERM ? MPROC_ESTATE : mproc__sys_error(rc);
}

#else
/* Without robust mutexes: sync_owner.c. */
typedef int mproc__no_robust_mutexes;
#endif /* MPROC_HAVE_ROBUST_MUTEX */
