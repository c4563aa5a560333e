/* Waiting on descriptors with a timeout: poll(), restarted on signals. */
#include "posix.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>

#define MAX_WAIT 64

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

/* poll() until something is ready or the deadline passes; the count. */
static int poll_until(struct pollfd *fds, size_t n, double timeout)
{
    double deadline = mproc__plat_now() + timeout;
    for (;;) {
        int rc = poll(fds, (nfds_t)n, timeout_ms(timeout));
        if (rc >= 0)
            return rc;
        if (errno != EINTR)
            return mproc__sys_error(errno);
        if (timeout >= 0 && (timeout = deadline - mproc__plat_now()) < 0)
            timeout = 0;
    }
}

int mproc__plat_handles_are_fds(void) { return 1; }

int mproc__plat_wait_handles(const mproc__handle *hs, size_t n, double timeout, int *ready)
{
    struct pollfd fds[MAX_WAIT];
    int rc;

    if (n == 0 || n > MAX_WAIT)
        return mproc__error(MPROC_EINVAL);
    for (size_t i = 0; i < n; i++) {
        fds[i].fd = (int)hs[i];
        fds[i].events = POLLIN;
        fds[i].revents = 0;
    }
    if ((rc = poll_until(fds, n, timeout)) < 0)
        return rc;
    rc = 0;
    for (size_t i = 0; i < n; i++) {
        ready[i] = (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) != 0;
        rc += ready[i];
    }
    return rc;
}

int mproc__posix_wait_io(int fd, short events, double timeout)
{
    struct pollfd p = {fd, events, 0};
    int rc = poll_until(&p, 1, timeout);
    return rc < 0 ? rc : rc > 0;
}

int mproc__posix_wait_readable(int fd, double timeout) { return mproc__posix_wait_io(fd, POLLIN, timeout); }

int mproc__plat_readable(mproc__handle h, double timeout) { return mproc__posix_wait_io((int)h, POLLIN, timeout); }

void mproc__plat_sleep(double seconds)
{
    struct timespec ts;
    if (seconds <= 0)
        return;
    ts.tv_sec = (time_t)seconds;
    ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
    nanosleep(&ts, NULL);
}
