/* Reading, writing and waiting on descriptors. */
#include "posix.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <string.h>
#include <unistd.h>

/* write() to a pipe whose reader is gone raises SIGPIPE, which would kill a
 * program that never asked for it.  Sockets take MSG_NOSIGNAL; for pipes the
 * signal is blocked in this thread and a pending one consumed (the libcurl
 * and OpenSSL technique), leaving the process's disposition untouched. */
static ssize_t write_nosigpipe(int fd, const void *buf, size_t len)
{
    sigset_t pipe_set, old;
    ssize_t n;
    int saved;
    struct timespec zero = {0, 0};

    n = send(fd, buf, len, MSG_NOSIGNAL);
    if (n >= 0 || errno != ENOTSOCK)
        return n;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    n = write(fd, buf, len);
    saved = errno;
    if (n < 0 && saved == EPIPE && !sigismember(&old, SIGPIPE))
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
            ;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = saved;
    return n;
}

int mproc__plat_write_all(mproc__handle h, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write_nosigpipe((int)h, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EPIPE || errno == ECONNRESET)
                return mproc__error(MPROC_ECLOSED);
            return mproc__sys_error(errno);
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
            if (errno == EINTR)
                continue;
            if (errno == ECONNRESET)
                return mproc__error(MPROC_ECLOSED);
            return mproc__sys_error(errno);
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

/* Milliseconds for poll(), rounded up so a wait never ends early. */
static int timeout_ms(double seconds)
{
    double ms = seconds * 1000.0;
    int whole;
    if (seconds < 0)
        return -1;
    if (ms >= INT_MAX)
        return INT_MAX;
    whole = (int)ms;
    return whole < ms ? whole + 1 : whole;
}

int mproc__plat_wait_handles(const mproc__handle *hs, size_t n, double timeout, int *ready)
{
    struct pollfd fds[64];
    double deadline = mproc__plat_now() + timeout;
    int rc;

    if (n == 0 || n > 64)
        return mproc__error(MPROC_EINVAL);
    for (size_t i = 0; i < n; i++) {
        fds[i].fd = (int)hs[i];
        fds[i].events = POLLIN;
        fds[i].revents = 0;
    }
    for (;;) {
        rc = poll(fds, (nfds_t)n, timeout_ms(timeout));
        if (rc >= 0)
            break;
        if (errno != EINTR)
            return mproc__sys_error(errno);
        if (timeout >= 0 && (timeout = deadline - mproc__plat_now()) < 0)
            timeout = 0;
    }
    rc = 0;
    for (size_t i = 0; i < n; i++) {
        ready[i] = (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) != 0;
        rc += ready[i];
    }
    return rc;
}

int mproc__posix_wait_readable(int fd, double timeout)
{
    mproc__handle h = fd;
    int ready;
    int rc = mproc__plat_wait_handles(&h, 1, timeout, &ready);
    return rc < 0 ? rc : ready;
}

int mproc__posix_cloexec(int fd)
{
    int flags = fcntl(fd, F_GETFD);
    return flags < 0 ? -1 : fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

int mproc__posix_send_fds(int sock, const void *buf, size_t len, const int *fds, size_t nfds)
{
    union {
        struct cmsghdr align;
        char space[CMSG_SPACE(sizeof(int) * 64)];
    } control;
    struct iovec iov;
    struct msghdr msg = {0};
    ssize_t n;

    if (nfds > 64 || len == 0)
        return mproc__error(MPROC_EINVAL);
    iov.iov_base = (void *)buf;
    iov.iov_len = len;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (nfds > 0) {
        struct cmsghdr *cm;
        msg.msg_control = control.space;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
        cm = CMSG_FIRSTHDR(&msg);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
        for (size_t i = 0; i < nfds; i++)
            memcpy(CMSG_DATA(cm) + i * sizeof(int), &fds[i], sizeof(int));
    }
    do
        n = sendmsg(sock, &msg, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno == EPIPE || errno == ECONNRESET ? mproc__error(MPROC_ECLOSED) : mproc__sys_error(errno);
    /* The descriptors went with the first byte; the rest is plain data. */
    return (size_t)n < len ? mproc__plat_write_all(sock, (const char *)buf + n, len - (size_t)n) : 0;
}

int mproc__posix_recv_frame_fds(int sock, void **data, size_t *len, size_t max, int *fds, size_t *nfds, size_t cap)
{
    union {
        struct cmsghdr align;
        char space[CMSG_SPACE(sizeof(int) * (MPROC__MAX_HANDLES + 1))];
    } control;
    unsigned char hdr[4];
    struct iovec iov = {hdr, sizeof hdr};
    struct msghdr msg = {0};
    uint32_t n = 0;
    ssize_t got;
    int rc;

    *data = NULL;
    *len = 0;
    *nfds = 0;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.space;
    msg.msg_controllen = sizeof control.space;
    do
        got = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    while (got < 0 && errno == EINTR);
    if (got == 0)
        return mproc__error(MPROC_ECLOSED);
    if (got < 0)
        return errno == ECONNRESET ? mproc__error(MPROC_ECLOSED) : mproc__sys_error(errno);
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        for (size_t i = 0; i < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof fd);
            if (*nfds < cap)
                fds[(*nfds)++] = fd;
            else
                close(fd);
        }
    }
    rc = (size_t)got < sizeof hdr ? mproc__plat_read_all(sock, hdr + got, sizeof hdr - (size_t)got) : 0;
    for (int i = 0; rc == 0 && i < 4; i++)
        n |= (uint32_t)hdr[i] << (8 * i);
    if (rc == 0 && n > max)
        rc = mproc__error(MPROC_ETOOBIG);
    if (rc == 0 && !(*data = malloc(n ? n : 1)))
        rc = mproc__error(MPROC_ENOMEM);
    if (rc == 0 && n && (rc = mproc__plat_read_all(sock, *data, n)) != 0) {
        free(*data);
        *data = NULL;
    }
    if (rc != 0) {
        for (size_t i = 0; i < *nfds; i++)
            close(fds[i]);
        *nfds = 0;
        return rc == MPROC_ECLOSED ? mproc__error(MPROC_EBROKEN) : rc;
    }
    *len = n;
    return 0;
}

int mproc__plat_send_bootstrap(mproc__child *c, const void *frame, size_t len, const mproc__handle *hs, size_t n)
{
    int fds[MPROC__MAX_HANDLES];
    if (n > MPROC__MAX_HANDLES)
        return mproc__error(MPROC_ETOOBIG);
    for (size_t i = 0; i < n; i++)
        fds[i] = (int)hs[i];
    return mproc__posix_send_fds(c->channel, frame, len, fds, n);
}

int mproc__plat_recv_bootstrap(mproc__handle ch, void **data, size_t *len, size_t max, mproc__handle *hs, size_t *n)
{
    int fds[MPROC__MAX_HANDLES];
    int rc = mproc__posix_recv_frame_fds((int)ch, data, len, max, fds, n, MPROC__MAX_HANDLES);
    for (size_t i = 0; rc == 0 && i < *n; i++)
        hs[i] = fds[i];
    return rc;
}

/* ---- pipes with timed I/O ------------------------------------------------ */

int mproc__plat_pipe(int duplex, mproc__handle h[2])
{
    int fds[2];
    /* Non-blocking: a timed write must never block on a full pipe beyond
     * its timeout.  Every user of these descriptors goes through the timed
     * calls below, so sharing the mode across processes is harmless. */
    if (duplex ? socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds) != 0
               : pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0)
        return mproc__sys_error(errno);
#if defined(__linux__) && defined(F_SETPIPE_SZ)
    /* A 1 MiB pipe lets a feeder's batch go in one write (best effort: an
     * unprivileged process may be limited by /proc/sys/fs/pipe-max-size). */
    if (!duplex)
        (void)fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);
#endif
    h[0] = fds[0];
    h[1] = fds[1];
    return 0;
}

int mproc__plat_readable(mproc__handle h, double timeout) { return mproc__posix_wait_readable((int)h, timeout); }

static int wait_io(int fd, short events, double timeout)
{
    struct pollfd p = {fd, events, 0};
    double deadline = mproc__plat_now() + timeout;
    for (;;) {
        int rc = poll(&p, 1, timeout_ms(timeout));
        if (rc >= 0)
            return rc > 0;
        if (errno != EINTR)
            return mproc__sys_error(errno);
        if (timeout >= 0 && (timeout = deadline - mproc__plat_now()) < 0)
            timeout = 0;
    }
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
        if ((rc = wait_io(fd, events, timeout)) <= 0)
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
