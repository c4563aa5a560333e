/* Identity, clocks, environment, the global lock and its fork handling. */
#include "posix.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

mproc_os mproc__plat_os(void)
{
#if defined(__APPLE__)
    return MPROC_OS_MACOS;
#elif defined(__linux__)
    return MPROC_OS_LINUX;
#else
    return MPROC_OS_BSD;
#endif
}

int mproc__plat_method_available(mproc_method m) { return m >= MPROC_FORK && m <= MPROC_THREAD; }

double mproc__plat_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

long mproc__plat_getpid(void) { return (long)getpid(); }

long mproc__plat_getppid(void) { return (long)getppid(); }

int mproc__plat_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

const char *mproc__plat_getenv(const char *name) { return getenv(name); }

void mproc__plat_unsetenv(const char *name) { unsetenv(name); }

void mproc__plat_exit_now(int code)
{
    fflush(NULL);
    _exit(code);
}

/* ---- the global lock ---------------------------------------------------- */

static pthread_mutex_t global_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* Taking the lock before fork() and releasing it on both sides means no
 * child is born with the lock held by a thread that does not exist there. */
static void atfork_prepare(void) { pthread_mutex_lock(&global_lock); }

static void atfork_parent(void) { pthread_mutex_unlock(&global_lock); }

static void atfork_child(void)
{
    pthread_mutex_unlock(&global_lock);
    mproc__posix_forkserver_after_fork();
    mproc__after_fork_child();
}

static void register_atfork(void) { pthread_atfork(atfork_prepare, atfork_parent, atfork_child); }

void mproc__plat_global_lock(void)
{
    pthread_once(&atfork_once, register_atfork);
    pthread_mutex_lock(&global_lock);
}

void mproc__plat_global_unlock(void) { pthread_mutex_unlock(&global_lock); }

/* ---- per-object mutexes --------------------------------------------------- */

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

/* ---- condition variables for threads of this process --------------------- */

struct mproc__cond {
    pthread_cond_t c;
};

mproc__cond *mproc__plat_cond_new(void)
{
    mproc__cond *c = malloc(sizeof *c);
    pthread_condattr_t a;
    pthread_condattr_init(&a);
#if !defined(__APPLE__)
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
