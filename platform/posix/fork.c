/* The fork start method: the child runs the target in a copy of the parent. */
#include "posix.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

/* Threads of this process, or 1 where the OS does not tell cheaply. */
static long thread_count(void)
{
#if defined(__linux__)
    /* /proc/self/stat field 20 is num_threads (CPython >= 3.12 reads it too). */
    char buf[1024];
    ssize_t n;
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    char *p;
    long count = 1;

    if (fd < 0)
        return 1;
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 1;
    buf[n] = '\0';
    /* The command name may contain spaces: count fields after its ')'. */
    p = strrchr(buf, ')');
    for (int field = 2; p && field < 20; field++)
        p = strchr(p + 1, ' ');
    if (p)
        count = strtol(p + 1, NULL, 10);
    return count > 0 ? count : 1;
#else
    return 1;
#endif
}

int mproc__plat_fork(mproc__child **out, mproc__fork_fn fn, void *ud)
{
    mproc__child *c = mproc__posix_child_new(CHILD_PROCESS);
    int eof_pipe[2] = {-1, -1};
    int use_pidfd = mproc__posix_have_pidfd();
    long threads = thread_count();
    pid_t pid;
    int err;

    if (!c)
        return MPROC_ENOMEM;
    if (threads > 1)
        mproc__log(MPROC_LOG_WARNING,
                   "This process (pid=%ld) is multi-threaded (%ld threads), use of fork() may lead to deadlocks in "
                   "the child.",
                   (long)getpid(), threads);
    /* Without pidfds the sentinel is a pipe whose write end only the child
     * holds: EOF there means the child is gone. */
    if (!use_pidfd && pipe2(eof_pipe, O_CLOEXEC) != 0) {
        err = errno;
        mproc__plat_child_free(c);
        return mproc__sys_error(err);
    }
    /* Buffered output would otherwise be written twice, by both processes. */
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        err = errno;
        if (!use_pidfd) {
            close(eof_pipe[0]);
            close(eof_pipe[1]);
        }
        mproc__plat_child_free(c);
        return mproc__sys_error(err);
    }
    if (pid == 0) {
        if (!use_pidfd)
            close(eof_pipe[0]);
        fn(ud);
        _exit(255); /* fn does not return */
    }
    c->pid = pid;
    if (use_pidfd) {
        c->sentinel = mproc__posix_pidfd(pid);
    } else {
        close(eof_pipe[1]);
        c->sentinel = eof_pipe[0];
    }
    if (c->sentinel < 0) {
        /* pidfd_open failed after the probe worked (descriptor limit):
         * the child exists, so reap it rather than leave it untracked. */
        err = errno;
        kill(pid, SIGKILL);
        c->sentinel = -1;
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        mproc__plat_child_free(c);
        return mproc__sys_error(err);
    }
    *out = c;
    return 0;
}
