/*
 * Locks of this process: the library-wide lock, the descriptor lock, the
 * per-object mutexes and condition variables, and what keeps them
 * consistent across fork().
 */
#include "posix.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

/* ---- the global lock, the descriptor lock, and fork --------------------- */

static pthread_mutex_t global_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t fd_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static void (*fork_child_fn)(void);

/* Taking the locks before fork() and releasing them on both sides means no
 * child is born with one held by a thread that does not exist there.  The
 * descriptor lock first: its holders never take the global lock. */
static void atfork_prepare(void)
{
    pthread_mutex_lock(&fd_lock);
    pthread_mutex_lock(&global_lock);
}

static void atfork_parent(void)
{
    pthread_mutex_unlock(&global_lock);
    pthread_mutex_unlock(&fd_lock);
}

/* The forking thread holds both in the child too, so it may unlock them
 * (plain mutexes: an rwlock would not do, glibc knows its writer by thread
 * id).  fork_child_fn is read under the global lock it was written under. */
static void atfork_child(void)
{
    void (*fn)(void) = fork_child_fn;
    pthread_mutex_unlock(&global_lock);
    pthread_mutex_unlock(&fd_lock);
    if (fn)
        fn();
}

static void register_atfork(void) { pthread_atfork(atfork_prepare, atfork_parent, atfork_child); }

void mproc__plat_global_lock(void)
{
    pthread_once(&atfork_once, register_atfork);
    pthread_mutex_lock(&global_lock);
}

void mproc__plat_global_unlock(void) { pthread_mutex_unlock(&global_lock); }

/* Called with the global lock held (core/lifecycle.c): that lock orders
 * the write before any fork's read in atfork_child. */
void mproc__plat_atfork_child(void (*fn)(void))
{
    pthread_once(&atfork_once, register_atfork);
    fork_child_fn = fn;
}

void mproc__posix_fd_lock(void)
{
    pthread_once(&atfork_once, register_atfork);
    pthread_mutex_lock(&fd_lock);
}

void mproc__posix_fd_unlock(void) { pthread_mutex_unlock(&fd_lock); }

/* ---- per-object mutexes ------------------------------------------------- */

struct mproc__mutex {
    pthread_mutex_t m;
};

mproc__mutex *mproc__plat_mutex_new(void)
{
    mproc__mutex *m = malloc(sizeof *m);
    if (m && pthread_mutex_init(&m->m, NULL) != 0) {
        free(m);
        m = NULL;
    }
    return m;
}

void mproc__plat_mutex_lock(mproc__mutex *m) { pthread_mutex_lock(&m->m); }

void mproc__plat_mutex_unlock(mproc__mutex *m) { pthread_mutex_unlock(&m->m); }

void mproc__plat_mutex_free(mproc__mutex *m)
{
    if (m) {
        pthread_mutex_destroy(&m->m);
        free(m);
    }
}

/* ---- condition variables for threads of this process -------------------- */

struct mproc__cond {
    pthread_cond_t c;
};

mproc__cond *mproc__plat_cond_new(void)
{
    mproc__cond *c = malloc(sizeof *c);
    pthread_condattr_t a;
    pthread_condattr_init(&a);
#if MPROC_HAVE_CONDATTR_SETCLOCK
    pthread_condattr_setclock(&a, MPROC__WAIT_CLOCK);
#endif
    if (c && pthread_cond_init(&c->c, &a) != 0) {
        free(c);
        c = NULL;
    }
    pthread_condattr_destroy(&a);
    return c;
}

struct timespec mproc__posix_deadline(double timeout)
{
    struct timespec ts;
    clock_gettime(MPROC__WAIT_CLOCK, &ts);
    ts.tv_sec += (time_t)timeout;
    ts.tv_nsec += (long)((timeout - (double)(time_t)timeout) * 1e9);
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

void mproc__posix_backoff(unsigned *round)
{
    long ns = 50000L << (*round < 8 ? *round : 8); /* 50 us .. 12.8 ms */
    struct timespec ts;
    if (ns > 10000000L)
        ns = 10000000L;
    ts.tv_sec = 0;
    ts.tv_nsec = ns;
    (*round)++;
    nanosleep(&ts, NULL);
}

int mproc__plat_cond_wait(mproc__cond *c, mproc__mutex *m, double timeout)
{
    struct timespec ts;
    int rc;
    if (timeout < 0)
        return pthread_cond_wait(&c->c, &m->m) == 0 ? 0 : MPROC_ESYS;
    ts = mproc__posix_deadline(timeout);
    rc = pthread_cond_timedwait(&c->c, &m->m, &ts);
    return rc == ETIMEDOUT ? MPROC_ETIMEDOUT : 0;
}

void mproc__plat_cond_signal(mproc__cond *c) { pthread_cond_signal(&c->c); }

void mproc__plat_cond_broadcast(mproc__cond *c) { pthread_cond_broadcast(&c->c); }

void mproc__plat_cond_free(mproc__cond *c)
{
    if (c) {
        pthread_cond_destroy(&c->c);
        free(c);
    }
}
