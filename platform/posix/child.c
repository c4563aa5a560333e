/*
 * Started children: waiting, reaping, signalling.  Three kinds share one
 * shape: a process we can waitpid() (fork, spawn), a process the forkserver
 * forked (its status arrives on a socket), and a thread.  Each has a
 * sentinel descriptor that becomes readable when it ends, so waits with a
 * timeout are poll()s, never sleep loops.
 */
#include "posix.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

mproc__child *mproc__posix_child_new(int kind)
{
    mproc__child *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    if (pthread_mutex_init(&c->mu, NULL) != 0) {
        free(c);
        return NULL;
    }
    c->kind = kind;
    c->sentinel = -1;
    c->channel = -1;
    return c;
}

int mproc__posix_pidfd(pid_t pid)
{
#if defined(MPROC_HAVE_PIDFD) && defined(SYS_pidfd_open)
    /* pidfds are close-on-exec by definition. */
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    (void)pid;
    return -1;
#endif
}

int mproc__posix_have_pidfd(void)
{
    static atomic_int have = -1;
    int v = atomic_load(&have);
    if (v < 0) {
        int fd = mproc__posix_pidfd(getpid());
        v = fd >= 0;
        if (fd >= 0)
            close(fd);
        atomic_store(&have, v);
    }
    return v;
}

int mproc__posix_status_code(int status)
{
    if (WIFSIGNALED(status))
        return -WTERMSIG(status);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 255;
}

mproc__handle mproc__plat_child_channel(mproc__child *c) { return c->channel; }

mproc__handle mproc__plat_child_sentinel(mproc__child *c) { return c->sentinel; }

long mproc__plat_child_pid(mproc__child *c) { return c->kind == CHILD_THREAD ? (long)getpid() : (long)c->pid; }

/* Threads: defined in thread.c. */
int mproc__posix_thread_reap(mproc__child *c);
void mproc__posix_thread_release(mproc__child *c);

/* Collects the end of c if it has ended; caller holds c->mu.  block: the
 * sentinel fired, so the end is certain and waitpid may block briefly (a
 * descriptor can read EOF a moment before the exiting process is reapable). */
static void try_reap(mproc__child *c, int block)
{
    if (c->kind == CHILD_PROCESS) {
        int status;
        pid_t r;
        do
            r = waitpid(c->pid, &status, block ? 0 : WNOHANG);
        while (r < 0 && errno == EINTR);
        if (r == c->pid) {
            c->code = mproc__posix_status_code(status);
            c->done = 1;
        } else if (r < 0 && errno == ECHILD) {
            /* Someone else reaped it (SIGCHLD set to SIG_IGN): its status is
             * lost, which CPython reports as 255 too. */
            c->code = 255;
            c->done = 1;
        }
    } else if (c->kind == CHILD_FORKSERVER) {
        int32_t code;
        if (!block && mproc__posix_wait_readable(c->sentinel, 0) != 1)
            return;
        /* The server writes the status then closes; EOF alone means the
         * server died, reported as 255 as CPython does. */
        c->code = mproc__plat_read_all(c->sentinel, &code, sizeof code) == 0 ? code : 255;
        c->done = 1;
    } else {
        if (!block && mproc__posix_wait_readable(c->sentinel, 0) != 1)
            return;
        c->code = mproc__posix_thread_reap(c);
        c->done = 1;
    }
}

int mproc__plat_child_wait(mproc__child *c, double timeout, int *code)
{
    int fired = 0;

    pthread_mutex_lock(&c->mu);
    if (!c->done && timeout == 0)
        try_reap(c, 0);
    if (c->done) {
        *code = c->code;
        pthread_mutex_unlock(&c->mu);
        return 0;
    }
    pthread_mutex_unlock(&c->mu);
    if (timeout == 0)
        return MPROC_ETIMEDOUT;
    /* Wait outside the lock so other threads may poll or signal meanwhile. */
    fired = mproc__posix_wait_readable(c->sentinel, timeout);
    if (fired < 0)
        return fired;
    pthread_mutex_lock(&c->mu);
    if (!c->done && fired)
        try_reap(c, 1);
    if (c->done)
        *code = c->code;
    pthread_mutex_unlock(&c->mu);
    return c->done ? 0 : MPROC_ETIMEDOUT;
}

int mproc__plat_child_signal(mproc__child *c, int kill_it)
{
    int rc = 0;
    if (c->kind == CHILD_THREAD)
        return MPROC_ENOTSUP;
    pthread_mutex_lock(&c->mu);
    if (!c->done)
        try_reap(c, 0);
    /* Signal only an unreaped pid: once reaped, the number may be reused. */
    if (!c->done && kill(c->pid, kill_it ? SIGKILL : SIGTERM) != 0 && errno != ESRCH)
        rc = mproc__sys_error(errno);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

void mproc__plat_child_free(mproc__child *c)
{
    if (!c)
        return;
    if (c->kind == CHILD_THREAD)
        mproc__posix_thread_release(c);
    if (c->sentinel >= 0 && c->sentinel != c->channel)
        close(c->sentinel);
    if (c->channel >= 0)
        close(c->channel);
    pthread_mutex_destroy(&c->mu);
    free(c);
}
