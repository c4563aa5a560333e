/*
 * Descriptors crossing between processes: SCM_RIGHTS on a socket (the
 * bootstrap channel and the forkserver's control channel), adopting the
 * channel a spawned child inherited, and keeping only what a new child
 * needs.
 */
#include "posix.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The message: a u32 count (little-endian), the descriptors attached to it. */
#define COUNT_BYTES 4

int mproc__plat_send_handles(mproc__handle channel, mproc__child *to, const mproc__handle *hs, size_t n)
{
    union {
        struct cmsghdr align;
        char space[CMSG_SPACE(sizeof(int) * MPROC__MAX_HANDLES)];
    } control;
    unsigned char count[COUNT_BYTES];
    struct iovec iov = {count, sizeof count};
    struct msghdr msg;
    ssize_t sent;
    int flags = 0;

    (void)to; /* SCM_RIGHTS reaches whoever reads the socket */
    if (n > MPROC__MAX_HANDLES)
        return mproc__error(MPROC_ETOOBIG);
    for (int i = 0; i < COUNT_BYTES; i++)
        count[i] = (unsigned char)((uint32_t)n >> (8 * i));
    memset(&msg, 0, sizeof msg);
    memset(&control, 0, sizeof control);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (n > 0) {
        struct cmsghdr *cm;
        msg.msg_control = control.space;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * n);
        cm = CMSG_FIRSTHDR(&msg);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int) * n);
        for (size_t i = 0; i < n; i++) {
            int fd = (int)hs[i];
            memcpy(CMSG_DATA(cm) + i * sizeof(int), &fd, sizeof fd);
        }
    }
#if MPROC_HAVE_MSG_NOSIGNAL
    flags = MSG_NOSIGNAL;
    do
        sent = sendmsg((int)channel, &msg, flags);
    while (sent < 0 && errno == EINTR);
#else
    {
        sigset_t old;
        mproc__posix_sigpipe_block(&old);
        do
            sent = sendmsg((int)channel, &msg, flags);
        while (sent < 0 && errno == EINTR);
        mproc__posix_sigpipe_unblock(&old, sent < 0 && errno == EPIPE);
    }
#endif
    if (sent < 0)
        return errno == EPIPE || errno == ECONNRESET ? mproc__error(MPROC_ECLOSED) : mproc__sys_error(errno);
    /* The descriptors went with the first byte; the rest is plain data. */
    return (size_t)sent < sizeof count
               ? mproc__plat_write_all(channel, count + sent, sizeof count - (size_t)sent)
               : 0;
}

/* Takes the descriptors out of a received message into hs (close-on-exec),
 * closing those beyond cap.  Returns how many arrived in all. */
static size_t take_fds(struct msghdr *msg, mproc__handle *hs, size_t cap, size_t *kept)
{
    size_t total = 0;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(msg); cm; cm = CMSG_NXTHDR(msg, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        for (size_t i = 0; i < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof fd);
#if !MPROC_HAVE_MSG_CMSG_CLOEXEC
            mproc__posix_cloexec(fd);
#endif
            total++;
            if (*kept < cap)
                hs[(*kept)++] = fd;
            else
                close(fd);
        }
    }
    return total;
}

int mproc__plat_recv_handles(mproc__handle channel, mproc__handle *hs, size_t cap, size_t *n)
{
    union {
        struct cmsghdr align;
        char space[CMSG_SPACE(sizeof(int) * (MPROC__MAX_HANDLES + 1))];
    } control;
    unsigned char count[COUNT_BYTES];
    struct iovec iov = {count, sizeof count};
    struct msghdr msg;
    uint32_t announced = 0;
    size_t total;
    ssize_t got;
    int rc = 0, flags = 0;

    *n = 0;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.space;
    msg.msg_controllen = sizeof control.space;
#if MPROC_HAVE_MSG_CMSG_CLOEXEC
    flags = MSG_CMSG_CLOEXEC;
    do
        got = recvmsg((int)channel, &msg, flags);
    while (got < 0 && errno == EINTR);
    total = got > 0 ? take_fds(&msg, hs, cap, n) : 0;
#else
    /* Received descriptors are inheritable until marked: no fork or exec
     * may happen in between.  Wait first, so the lock is never held across
     * a blocking recvmsg. */
    flags = MSG_DONTWAIT;
    do {
        if ((rc = mproc__posix_wait_readable((int)channel, -1)) < 0)
            return rc;
        mproc__posix_fd_lock();
        got = recvmsg((int)channel, &msg, flags);
        total = got > 0 ? take_fds(&msg, hs, cap, n) : 0;
        mproc__posix_fd_unlock();
    } while (got < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK));
    rc = 0;
#endif
    if (got == 0)
        return mproc__error(MPROC_ECLOSED);
    if (got < 0)
        return errno == ECONNRESET ? mproc__error(MPROC_ECLOSED) : mproc__sys_error(errno);
    if ((size_t)got < sizeof count)
        rc = mproc__plat_read_all(channel, count + got, sizeof count - (size_t)got);
    for (int i = 0; rc == 0 && i < COUNT_BYTES; i++)
        announced |= (uint32_t)count[i] << (8 * i);
    if (rc == 0 && (announced != total || total > cap))
        rc = mproc__error(MPROC_EBROKEN);
    if (rc != 0) {
        for (size_t i = 0; i < *n; i++)
            close((int)hs[i]);
        *n = 0;
        return rc == MPROC_ECLOSED ? mproc__error(MPROC_EBROKEN) : rc;
    }
    return 0;
}

int mproc__plat_adopt_channel(mproc__handle h)
{
    struct stat st;
    if (h < 0 || h > INT_MAX || fstat((int)h, &st) != 0 || !S_ISSOCK(st.st_mode))
        return MPROC_EINVAL;
    if (mproc__posix_cloexec((int)h) != 0)
        return MPROC_EINVAL;
    /* Without pidfds the channel is this child's sentinel in its parent:
     * its own forks must not hold it. */
    return mproc__posix_keep_from_forks((int)h);
}

/* ---- enumerating and closing descriptors ------------------------------ */

/* A directory listing every open descriptor of this process, or NULL.
 * /dev/fd lists them all when a file system of its own serves it (Linux's
 * link into /proc, fdescfs); a plain directory on /dev's own device (the
 * BSDs without fdescfs) shows only 0-2, as CPython's _posixsubprocess
 * knows. */
static DIR *open_fd_dir(void)
{
    struct stat dev, fd;
#if MPROC_HAVE_PROCFS
    DIR *d = opendir("/proc/self/fd");
    if (d)
        return d;
#endif
    if (stat("/dev", &dev) != 0 || stat("/dev/fd", &fd) != 0 || dev.st_dev == fd.st_dev)
        return NULL;
    return opendir("/dev/fd");
}

void mproc__posix_each_fd(int lowfd, void (*fn)(int fd, void *ud), void *ud)
{
    DIR *d = open_fd_dir();
    if (d) {
        int self = dirfd(d), count = 0, fds[256];
        struct dirent *e;
        /* Collect first: fn may close descriptors while we list. */
        for (;;) {
            count = 0;
            while (count < 256 && (e = readdir(d)) != NULL) {
                char *end;
                long fd = strtol(e->d_name, &end, 10);
                if (*end == '\0' && e->d_name[0] != '\0' && fd >= lowfd && fd != self && fd <= INT_MAX)
                    fds[count++] = (int)fd;
            }
            for (int i = 0; i < count; i++)
                fn(fds[i], ud);
            if (count < 256)
                break;
        }
        closedir(d);
        return;
    }
    {
        long max = sysconf(_SC_OPEN_MAX);
        if (max < 0 || max > 65536)
            max = 65536;
        for (int fd = lowfd; fd < max; fd++)
            if (fcntl(fd, F_GETFD) >= 0)
                fn(fd, ud);
    }
}

#if !MPROC_HAVE_CLOSEFROM
static void close_one(int fd, void *ud)
{
    (void)ud;
    close(fd);
}
#endif

/* Closes every descriptor >= lowfd (in a new child, single-threaded). */
static void close_from(int lowfd)
{
#if MPROC_HAVE_CLOSE_RANGE
    if (syscall(SYS_close_range, (unsigned)lowfd, ~0u, 0) == 0)
        return;
#endif
#if MPROC_HAVE_CLOSEFROM
    closefrom(lowfd);
#else
    mproc__posix_each_fd(lowfd, close_one, NULL);
#endif
}

size_t mproc__plat_keep_only(mproc__handle *hs, size_t n)
{
    int moved[MPROC__MAX_HANDLES];
    if (n > MPROC__MAX_HANDLES)
        n = MPROC__MAX_HANDLES;
    /* Move the keepers above every number they will take, then down to
     * 3, 4, ... so no dup2 overwrites a keeper not yet moved. */
    for (size_t i = 0; i < n; i++) {
        moved[i] = fcntl((int)hs[i], F_DUPFD_CLOEXEC, 3 + (int)n);
        close((int)hs[i]);
    }
    for (size_t i = 0; i < n; i++) {
        hs[i] = 3 + (int)i;
        dup2(moved[i], (int)hs[i]);
        mproc__posix_cloexec((int)hs[i]);
        close(moved[i]);
    }
    close_from(3 + (int)n);
    return n;
}
