/* What a child gets instead of this process's own: its std streams'
 * files, its working directory, its environment (mproc__child_attrs). */
#include "posix.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int mproc__plat_open_std(const char *path, int mode, mproc__handle *h)
{
    int flags = O_CLOEXEC, fd;
    switch (mode) {
    case MPROC__STD_READ: flags |= O_RDONLY; break;
    case MPROC__STD_WRITE: flags |= O_WRONLY | (path ? O_CREAT | O_TRUNC : 0); break;
    case MPROC__STD_APPEND: flags |= O_WRONLY | (path ? O_CREAT | O_APPEND : 0); break;
    default: return mproc__error(MPROC_EINVAL);
    }
    /* O_NOCTTY: a terminal given as a file must not become the
     * controlling terminal of this process. */
    do
        fd = open(path ? path : "/dev/null", flags | O_NOCTTY, 0666);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return mproc__sys_error(errno);
    *h = fd;
    return 0;
}

int mproc__plat_check_dir(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return mproc__sys_error(errno);
    if (!S_ISDIR(st.st_mode))
        return mproc__sys_error(ENOTDIR);
    /* Search permission is what chdir needs. */
    if (access(path, X_OK) != 0)
        return mproc__sys_error(errno);
    return 0;
}

int mproc__plat_setenv(const char *name, const char *value)
{
    int rc = value ? setenv(name, value, 1) : unsetenv(name);
    return rc != 0 ? mproc__sys_error(errno) : 0;
}

int mproc__plat_chdir(const char *path) { return chdir(path) != 0 ? mproc__sys_error(errno) : 0; }

int mproc__plat_redirect_std(int which, mproc__handle h)
{
    int fd = (int)h;
    if (which < 0 || which > 2 || h < 0)
        return mproc__error(MPROC_EINVAL);
    /* dup2(fd, fd) would keep the close-on-exec flag: clear it instead. */
    if (fd == which)
        return fcntl(fd, F_SETFD, 0) != 0 ? mproc__sys_error(errno) : 0;
    while (dup2(fd, which) < 0)
        if (errno != EINTR)
            return mproc__sys_error(errno);
    return 0;
}
