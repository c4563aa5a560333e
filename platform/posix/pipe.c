/*
 * Creating pipes and socketpairs close-on-exec: atomically where the OS can
 * (pipe2, SOCK_CLOEXEC), else under the descriptor lock (lock.c) so that no
 * fork or spawn sees them in between.
 */
#include "posix.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

int mproc__posix_cloexec(int fd)
{
    int flags = fcntl(fd, F_GETFD);
    return flags < 0 ? -1 : fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

#if !MPROC_HAVE_PIPE2 || !MPROC_HAVE_SOCK_CLOEXEC
static int set_nonblock(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    return flags < 0 ? -1 : fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

/* Marks a pair made without the atomic flags; closes it on failure. */
static int finish_pair(int fds[2], int nonblock)
{
    for (int i = 0; i < 2; i++) {
        if (mproc__posix_cloexec(fds[i]) != 0 || (nonblock && set_nonblock(fds[i]) != 0)) {
            int err = errno;
            close(fds[0]);
            close(fds[1]);
            errno = err;
            return -1;
        }
    }
    return 0;
}
#endif

int mproc__posix_pipe(int fds[2], int nonblock)
{
    int rc;
#if MPROC_HAVE_PIPE2
    rc = pipe2(fds, O_CLOEXEC | (nonblock ? O_NONBLOCK : 0));
#else
    mproc__posix_fd_lock();
    rc = pipe(fds);
    if (rc == 0)
        rc = finish_pair(fds, nonblock);
    mproc__posix_fd_unlock();
#endif
#if MPROC_HAVE_F_SETNOSIGPIPE
    if (rc == 0)
        (void)fcntl(fds[1], F_SETNOSIGPIPE, 1);
#endif
    return rc;
}

int mproc__posix_socketpair(int fds[2], int nonblock)
{
    int rc;
#if MPROC_HAVE_SOCK_CLOEXEC
    rc = socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0, fds);
#else
    mproc__posix_fd_lock();
    rc = socketpair(AF_UNIX, SOCK_STREAM, 0, fds);
    if (rc == 0)
        rc = finish_pair(fds, nonblock);
    mproc__posix_fd_unlock();
#endif
#if MPROC_HAVE_SO_NOSIGPIPE
    if (rc == 0) {
        int one = 1;
        (void)setsockopt(fds[0], SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
        (void)setsockopt(fds[1], SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
    }
#endif
    return rc;
}

int mproc__plat_pipe(int flags, mproc__handle h[2])
{
    int fds[2];
    int blocking = flags & MPROC__PIPE_BLOCKING;
    /* Otherwise non-blocking: a timed write must never block on a full pipe
     * beyond its timeout.  Every user of these descriptors goes through the
     * timed calls, or the whole-buffer ones that wait for readiness, so
     * sharing the mode across processes is harmless. */
    if (mproc__posix_pipe(fds, !blocking) != 0)
        return mproc__sys_error(errno);
#if MPROC_HAVE_F_SETPIPE_SZ
    /* Best effort: an unprivileged process may be limited by
     * /proc/sys/fs/pipe-max-size and pipe-user-pages-soft. */
    if (flags & MPROC__PIPE_LARGE)
        (void)fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);
#endif
    h[0] = fds[0];
    h[1] = fds[1];
    return 0;
}
