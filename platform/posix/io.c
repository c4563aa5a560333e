/* Reading and writing descriptors: whole buffers, and timed single moves. */
#include "posix.h"

#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

/* write() to a pipe or socket whose reader is gone raises SIGPIPE, which
 * would kill a program that never asked for it.  Sockets take MSG_NOSIGNAL
 * where it exists; where descriptors can say so themselves (macOS:
 * F_SETNOSIGPIPE, SO_NOSIGPIPE, set by pipe.c) a plain write is safe.
 * Otherwise the signal is blocked in this thread around the write and a
 * pending one consumed (the libcurl and OpenSSL technique), leaving the
 * process's disposition untouched. */
#if MPROC_HAVE_F_SETNOSIGPIPE && MPROC_HAVE_SO_NOSIGPIPE
#define DESCRIPTORS_SAY_NOSIGPIPE 1
#else
#define DESCRIPTORS_SAY_NOSIGPIPE 0
#endif

void mproc__posix_sigpipe_block(sigset_t *old)
{
    sigset_t pipe_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, old);
}

void mproc__posix_sigpipe_unblock(const sigset_t *old, int raised)
{
    int saved = errno;
    if (raised && !sigismember(old, SIGPIPE)) {
        /* The call raised it for this thread, where it is now pending. */
        sigset_t pipe_set;
        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
#if MPROC_HAVE_SIGTIMEDWAIT
        {
            struct timespec zero = {0, 0};
            while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
                ;
        }
#else
        {
            sigset_t pending;
            int sig;
            if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE))
                sigwait(&pipe_set, &sig);
        }
#endif
    }
    pthread_sigmask(SIG_SETMASK, old, NULL);
    errno = saved;
}

#if MPROC_HAVE_MSG_NOSIGNAL
/* The descriptors send() called ENOTSOCK (pipes): their writes skip that
 * failing try, one system call of four.  A number since reused by a socket
 * only costs that socket the pipe's way, which works for both. */
#define KNOWN_FDS 4096
static atomic_uchar not_a_socket[KNOWN_FDS];
#endif

static ssize_t write_nosigpipe(int fd, const void *buf, size_t len)
{
    sigset_t old;
    ssize_t n;

    if (DESCRIPTORS_SAY_NOSIGPIPE)
        return write(fd, buf, len);
#if MPROC_HAVE_MSG_NOSIGNAL
    if (fd < 0 || fd >= KNOWN_FDS || !atomic_load_explicit(&not_a_socket[fd], memory_order_relaxed)) {
        n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n >= 0 || errno != ENOTSOCK)
            return n;
        if (fd >= 0 && fd < KNOWN_FDS)
            atomic_store_explicit(&not_a_socket[fd], 1, memory_order_relaxed);
    }
#endif
    mproc__posix_sigpipe_block(&old);
    n = write(fd, buf, len);
    mproc__posix_sigpipe_unblock(&old, n < 0 && errno == EPIPE);
    return n;
}

int mproc__plat_write_all(mproc__handle h, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write_nosigpipe((int)h, p, len);
        if (n < 0) {
            int rc;
            if (errno == EINTR)
                continue;
            if (errno == EPIPE || errno == ECONNRESET)
                return mproc__error(MPROC_ECLOSED);
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                return mproc__sys_error(errno);
            /* A non-blocking descriptor: wait for room. */
            if ((rc = mproc__posix_wait_io((int)h, POLLOUT, -1)) < 0)
                return rc;
            continue;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int mproc__plat_read_all(mproc__handle h, void *buf, size_t len)
{
    char *p = buf;
    while (len > 0) {
        ssize_t n = read((int)h, p, len);
        if (n == 0)
            return mproc__error(MPROC_ECLOSED);
        if (n < 0) {
            int rc;
            if (errno == EINTR)
                continue;
            if (errno == ECONNRESET)
                return mproc__error(MPROC_ECLOSED);
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                return mproc__sys_error(errno);
            if ((rc = mproc__posix_wait_io((int)h, POLLIN, -1)) < 0)
                return rc;
            continue;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

void mproc__plat_close(mproc__handle h)
{
    if (h >= 0)
        close((int)h);
}

static ssize_t do_read(int fd, void *buf, size_t len) { return read(fd, buf, len); }

static ssize_t do_write(int fd, void *buf, size_t len) { return write_nosigpipe(fd, buf, len); }

/* One non-blocking read or write that moves at least one byte, waiting up
 * to timeout for the descriptor to be ready.  The count, 0 on timeout,
 * MPROC_ECLOSED at EOF / without a reader. */
static long timed_io(int fd, ssize_t (*op)(int, void *, size_t), short events, void *buf, size_t len, double timeout)
{
    double deadline = mproc__plat_now() + timeout;
    for (;;) {
        ssize_t n = op(fd, buf, len);
        int rc;
        if (n > 0 || (n == 0 && op == do_write))
            return (long)n;
        if (n == 0 || errno == EPIPE || errno == ECONNRESET)
            return mproc__error(MPROC_ECLOSED);
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return mproc__sys_error(errno);
        if (timeout == 0)
            return 0;
        if ((rc = mproc__posix_wait_io(fd, events, timeout)) <= 0)
            return rc;
        if (timeout > 0 && (timeout = deadline - mproc__plat_now()) < 0)
            timeout = 0;
    }
}

long mproc__plat_read_timed(mproc__handle h, void *buf, size_t len, double timeout)
{
    return timed_io((int)h, do_read, POLLIN, buf, len, timeout);
}

long mproc__plat_write_timed(mproc__handle h, const void *buf, size_t len, double timeout)
{
    /* do_write only reads buf: the cast serves the shared signature. */
    return timed_io((int)h, do_write, POLLOUT, (void *)(uintptr_t)buf, len, timeout);
}
