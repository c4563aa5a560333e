/*
 * Shared memory.  With memfd_create: a file with no name at all.  Else:
 * shm_open of a random name, unlinked at once, so nothing is left in
 * /dev/shm (or the macOS equivalent) even when the process is killed right
 * after.  The descriptor is what a child needs to map the same pages.
 */
#include "posix.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

static int anonymous_fd(void)
{
#if MPROC_HAVE_MEMFD
    int fd = memfd_create("mproc", MFD_CLOEXEC);
    if (fd >= 0 || errno != ENOSYS)
        return fd;
#endif
    for (int attempt = 0; attempt < 64; attempt++) {
        static atomic_uint counter;
        char name[64];
        int fd;
        snprintf(name, sizeof name, "/mproc-%ld-%u-%d", (long)getpid(), atomic_fetch_add(&counter, 1) + 1, attempt);
        /* shm_open sets FD_CLOEXEC by POSIX; the lock covers systems
         * that set it a step later. */
        mproc__posix_fd_lock();
        fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
        if (fd >= 0)
            mproc__posix_cloexec(fd);
        mproc__posix_fd_unlock();
        if (fd >= 0) {
            shm_unlink(name);
            return fd;
        }
        if (errno != EEXIST)
            return -1;
    }
    return -1;
}

int mproc__plat_shm_create(size_t size, mproc__handle *h, void **ptr)
{
    int fd = anonymous_fd(), err, rc;
    if (fd < 0)
        return mproc__sys_error(errno);
    if (ftruncate(fd, (off_t)size) != 0) {
        err = errno;
        close(fd);
        return mproc__sys_error(err);
    }
    if ((rc = mproc__plat_shm_map(fd, size, ptr)) != 0) {
        close(fd);
        return rc;
    }
    *h = fd;
    return 0;
}

int mproc__plat_shm_map(mproc__handle h, size_t size, void **ptr)
{
    void *p = mmap(NULL, size ? size : 1, PROT_READ | PROT_WRITE, MAP_SHARED, (int)h, 0);
    if (p == MAP_FAILED)
        return mproc__sys_error(errno);
    *ptr = p;
    return 0;
}

void mproc__plat_shm_unmap(void *ptr, size_t size)
{
    if (ptr)
        munmap(ptr, size ? size : 1);
}
