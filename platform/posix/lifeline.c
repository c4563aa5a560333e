/*
 * Children that die with their parent: the lifeline.
 *
 * The parent keeps the write end of a pipe and never writes to it; the
 * child blocks reading the other end in a small watcher thread.  The
 * kernel closes the write end when the parent dies, however it dies
 * (SIGKILL included), and the watcher then reads end of file and kills
 * its process.  This works on every POSIX system and follows the parent
 * *process*, whichever of its threads started the child.
 *
 * It holds only while no other process keeps a copy of the write end, so
 * every write end is close-on-exec and listed here, and the child of every
 * fork() of this process (the library's, the application's, one racing
 * with lifeline_open in another thread) closes all of them: the list
 * changes only under the descriptor lock, which fork() takes.
 *
 * Linux's PR_SET_PDEATHSIG follows the parent *thread* instead: the child
 * is signalled when the thread that forked it ends, even while the parent
 * process lives on, so a child started from a short-lived thread (a pool's
 * helper, a request handler) would be killed early.  It is added only for
 * the child of a fork() from the main thread, which ends with the process
 * (unless the program calls pthread_exit in main: then such a child dies
 * with the main thread, as with any PDEATHSIG user).  There it is the
 * kernel's own guarantee, needing no thread in the child to be scheduled.
 * A spawned child cannot have it: it would have to set it after the exec,
 * against whichever thread spawned it.
 */
#include "posix.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#if MPROC_HAVE_PDEATHSIG
#include <sys/prctl.h>
#include <sys/syscall.h>
#endif

/* The descriptor lock guards these: the write ends this process keeps. */
static int *keeps;
static size_t n_keeps, cap_keeps;
/* This process's own read end, watched by its watcher thread (a child's
 * forks do not inherit the thread, so they close it). */
static int own_give = -1;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* The pid of this thread's process when it is the main thread and opened a
 * lifeline, else 0: the child of a fork() from this thread inherits it
 * (a thread-local copy) and knows PDEATHSIG is safe; a spawned child or
 * another thread's fork sees 0. */
static MPROC_TLS pid_t opened_on_main_thread;

/* In the child of any fork: single-threaded, nothing else runs. */
static void close_in_child(void)
{
    for (size_t i = 0; i < n_keeps; i++)
        close(keeps[i]);
    /* The list is the parent's; the memory is a copy this child may reuse. */
    n_keeps = 0;
    if (own_give >= 0)
        close(own_give);
    own_give = -1;
}

static void register_atfork(void) { pthread_atfork(NULL, NULL, close_in_child); }

static int on_main_thread(void)
{
#if MPROC_HAVE_PDEATHSIG
    return (pid_t)syscall(SYS_gettid) == getpid();
#else
    return 0;
#endif
}

/* Room for one more entry in keeps (descriptor lock held): 0 or ENOMEM. */
static int room_for_one_more(void)
{
    if (n_keeps == cap_keeps) {
        size_t ncap = cap_keeps ? cap_keeps * 2 : 8;
        int *k = realloc(keeps, ncap * sizeof *k);
        if (!k)
            return MPROC_ENOMEM;
        keeps = k;
        cap_keeps = ncap;
    }
    return 0;
}

/* Lists fd, which this process already holds, among those closed in the
 * child of each of its forks.  0 or MPROC_ENOMEM. */
int mproc__posix_keep_from_forks(int fd)
{
    int rc;
    pthread_once(&atfork_once, register_atfork);
    mproc__posix_fd_lock();
    if ((rc = room_for_one_more()) == 0)
        keeps[n_keeps++] = fd;
    mproc__posix_fd_unlock();
    return rc;
}

/* A pipe whose write end only this process holds: close-on-exec, and closed
 * in the child of every fork (also used for thread.c's end-of-thread pipes,
 * which a forked child holding would keep from ever reading as ended). */
/* A close-on-exec pipe; the caller holds the descriptor lock.  pipe2 is
 * one call where the fallback takes five (thread starts make these). */
static int cloexec_pipe(int fds[2])
{
#if MPROC_HAVE_PIPE2
    return pipe2(fds, O_CLOEXEC);
#else
    int err;
    if (pipe(fds) != 0)
        return -1;
    if (mproc__posix_cloexec(fds[0]) == 0 && mproc__posix_cloexec(fds[1]) == 0)
        return 0;
    err = errno;
    close(fds[0]);
    close(fds[1]);
    errno = err;
    return -1;
#endif
}

int mproc__posix_parent_only_pipe(int fds[2])
{
    int rc = 0, err = 0;

    pthread_once(&atfork_once, register_atfork);
    /* pipe() and FD_CLOEXEC and the list entry under one hold of the
     * descriptor lock: no fork or spawn sees the pipe without the others. */
    mproc__posix_fd_lock();
    rc = room_for_one_more();
    if (rc != 0) {
        /* reported below, once the lock is let go */
    } else if (cloexec_pipe(fds) != 0) {
        err = errno;
    } else {
        keeps[n_keeps++] = fds[1];
    }
    mproc__posix_fd_unlock();
    if (rc != 0)
        return mproc__error(rc);
    if (err != 0)
        return mproc__sys_error(err);
    return 0;
}

void mproc__posix_parent_only_close(int fd)
{
    mproc__posix_fd_lock();
    for (size_t i = 0; i < n_keeps; i++) {
        if (keeps[i] == fd) {
            keeps[i] = keeps[--n_keeps];
            break;
        }
    }
    close(fd);
    mproc__posix_fd_unlock();
}

int mproc__plat_lifeline_open(mproc__handle *keep, mproc__handle *give)
{
    int fds[2], rc;

    *keep = *give = MPROC__NO_HANDLE;
    if ((rc = mproc__posix_parent_only_pipe(fds)) != 0)
        return rc;
    opened_on_main_thread = on_main_thread() ? getpid() : 0;
    *keep = fds[1];
    *give = fds[0];
    return 0;
}

int mproc__plat_lifeline_bind(mproc__child *c)
{
    (void)c; /* the child holds its end already */
    return 0;
}

void mproc__plat_lifeline_close(mproc__handle keep)
{
    if (keep != MPROC__NO_HANDLE)
        mproc__posix_parent_only_close((int)keep);
}

/* As if the parent's death had killed us: SIGKILL cannot be caught, so no
 * handler or atexit function of the application runs. */
static _Noreturn void die_with_parent(void)
{
    kill(getpid(), SIGKILL);
    _exit(128 + SIGKILL); /* not reached */
}

static void *watcher_main(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[16];
    ssize_t n;

    /* The parent never writes: only end of file (it died) or an error (the
     * end was taken from us, so we can no longer tell) comes. */
    while ((n = read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
        ;
    die_with_parent();
}

int mproc__plat_lifeline_watch(mproc__handle give, long parent_pid)
{
    pthread_attr_t attr;
    pthread_t thread;
    sigset_t all, old;
    int err;

    if (give == MPROC__NO_HANDLE)
        return 0;
#if MPROC_HAVE_PDEATHSIG
    if (opened_on_main_thread != 0 && (long)opened_on_main_thread == parent_pid) {
        /* The parent may have died before the prctl: then we are
         * orphaned already and follow it the same way. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) == 0 && (long)getppid() != parent_pid)
            die_with_parent();
    }
#else
    (void)parent_pid;
#endif
    opened_on_main_thread = 0;
    pthread_once(&atfork_once, register_atfork);
    own_give = (int)give;
    /* Signals stay with the application's threads; a small stack will do. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    (void)pthread_attr_setstacksize(&attr, 128 * 1024);
    err = pthread_create(&thread, &attr, watcher_main, (void *)(intptr_t)give);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return err ? mproc__sys_error(err) : 0;
}
