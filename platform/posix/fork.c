/* fork(): the fork start method, and the forkserver's own children. */
#include "posix.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

/* CPython >= 3.12 warns the same way: a lock another thread holds at the
 * moment of fork stays locked in the child forever. */
static void warn_if_threaded(void)
{
    long threads = mproc__plat_thread_count();
    if (threads > 1) {
        mproc__log(MPROC_LOG_WARNING,
                   "This process (pid=%ld) is multi-threaded (%ld threads), use of fork() may lead to deadlocks in "
                   "the child.",
                   (long)getpid(), threads);
    } else if (threads < 0 && (threads = mproc__posix_threads_live()) > 0) {
        /* The OS does not tell: at least the threads mproc started run. */
        mproc__log(MPROC_LOG_WARNING,
                   "This process (pid=%ld) is multi-threaded (at least %ld threads), use of fork() may lead to "
                   "deadlocks in the child.",
                   (long)getpid(), threads + 1);
    }
}

int mproc__plat_fork(mproc__child **out, mproc__fork_fn fn, void *ud)
{
    mproc__child *c = mproc__posix_child_new();
    int eof_pipe[2] = {-1, -1};
    int use_pidfd = mproc__posix_have_pidfd();
    int reserve = -1;
    pid_t pid;
    int err;

    if (!c)
        return MPROC_ENOMEM;
    warn_if_threaded();
    /* Without pidfds the sentinel is a pipe whose write end only the child
     * holds: EOF there means the child is gone.  With them, a descriptor is
     * held free for the pidfd: a start that fails for want of one fails
     * before the child exists, not after it began running its target
     * (which would have to be killed, perhaps holding a shared lock). */
    if (use_pidfd ? (reserve = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0 && errno != ENOENT
                  : mproc__posix_pipe(eof_pipe, 0) != 0) {
        err = errno;
        mproc__plat_child_free(c);
        return mproc__sys_error(err);
    }
    /* Buffered output would otherwise be written twice, by both processes. */
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        err = errno;
        if (reserve >= 0)
            close(reserve);
        if (!use_pidfd) {
            close(eof_pipe[0]);
            close(eof_pipe[1]);
        }
        mproc__plat_child_free(c);
        return mproc__sys_error(err);
    }
    if (pid == 0) {
        if (reserve >= 0)
            close(reserve);
        /* This child's forks must not hold its sentinel's write end: its
         * parent would not see it end while a grandchild lives. */
        if (!use_pidfd) {
            close(eof_pipe[0]);
            (void)mproc__posix_keep_from_forks(eof_pipe[1]);
        }
        fn(ud);
        _exit(255); /* fn does not return */
    }
    c->pid = pid;
    if (use_pidfd) {
        if (reserve >= 0)
            close(reserve); /* the lowest free slot again: the pidfd's */
        c->sentinel = mproc__posix_pidfd(pid);
    } else {
        close(eof_pipe[1]);
        c->sentinel = eof_pipe[0];
    }
    if (c->sentinel < 0) {
        /* pidfd_open failed all the same (another thread took the reserved
         * slot, or /dev/null is missing): the child exists, so end and reap
         * it rather than leave it untracked. */
        err = errno;
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        mproc__plat_child_free(c);
        return mproc__sys_error(err);
    }
    *out = c;
    return 0;
}

int mproc__plat_fork_detached(long *pid, mproc__fork_fn fn, void *ud)
{
    pid_t p;
    fflush(NULL);
    p = fork();
    if (p < 0)
        return mproc__sys_error(errno);
    if (p == 0) {
        /* No PR_SET_PDEATHSIG here: a forkserver whose parent died leaves,
         * and its children that did not ask to die with that parent live
         * on, as CPython's do.  A child of a server killed by someone is
         * ended by the client when it sees the server gone. */
        mproc__posix_child_events_reset();
        mproc__plat_ignore_interrupt(0);
        fn(ud);
        _exit(255); /* fn does not return */
    }
    *pid = (long)p;
    return 0;
}
