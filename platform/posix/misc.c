/* Identity, clocks, environment and process exit. */
#include "posix.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#if MPROC_HAVE_PROC_PIDINFO
#include <libproc.h>
#endif
#if MPROC_HAVE_KINFO_PROC_NUMTHREADS
#include <sys/sysctl.h>
#include <sys/user.h>
#endif

/* OS identity (the default start method follows the OS), from CMake. */
mproc_os mproc__plat_os(void) { return MPROC_CONFIG_OS; }

int mproc__plat_method_available(mproc_method m) { return m >= MPROC_FORK && m <= MPROC_THREAD; }

double mproc__plat_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* getpid() is a system call (glibc stopped caching it in 2.25), and every
 * lock acquire records its owner's pid: cached here, and forgotten in the
 * child of every fork() (pthread_atfork; a child made by a raw clone or
 * _Fork that calls into mproc would see its parent's pid). */
static atomic_long cached_pid;
static pthread_once_t pid_once = PTHREAD_ONCE_INIT;
static void forget_pid(void) { atomic_store_explicit(&cached_pid, 0, memory_order_relaxed); }
static void register_forget_pid(void) { pthread_atfork(NULL, NULL, forget_pid); }

long mproc__plat_getpid(void)
{
    long pid = atomic_load_explicit(&cached_pid, memory_order_relaxed);
    if (pid)
        return pid;
    pthread_once(&pid_once, register_forget_pid);
    pid = (long)getpid();
    atomic_store_explicit(&cached_pid, pid, memory_order_relaxed);
    return pid;
}

long mproc__plat_getppid(void) { return (long)getppid(); }

int mproc__plat_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

#if MPROC_HAVE_PROCFS
/* /proc/self/stat field 20 is num_threads (CPython >= 3.12 reads it too). */
static long procfs_thread_count(void)
{
    char buf[1024];
    ssize_t n;
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    char *p;
    long count = -1;

    if (fd < 0)
        return -1;
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    /* The command name may contain spaces: count fields after its ')'. */
    p = strrchr(buf, ')');
    for (int field = 2; p && field < 20; field++)
        p = strchr(p + 1, ' ');
    if (p)
        count = strtol(p + 1, NULL, 10);
    return count > 0 ? count : -1;
}
#endif

long mproc__plat_thread_count(void)
{
    long n = -1;
#if MPROC_HAVE_PROCFS
    n = procfs_thread_count();
#endif
#if MPROC_HAVE_PROC_PIDINFO
    if (n < 0) {
        struct proc_taskinfo info;
        if (proc_pidinfo(getpid(), PROC_PIDTASKINFO, 0, &info, sizeof info) == (int)sizeof info)
            n = info.pti_threadnum;
    }
#endif
#if MPROC_HAVE_KINFO_PROC_NUMTHREADS
    if (n < 0) {
        struct kinfo_proc info;
        size_t len = sizeof info;
        int mib[4] = {CTL_KERN, KERN_PROC, KERN_PROC_PID, (int)getpid()};
        if (sysctl(mib, 4, &info, &len, NULL, 0) == 0 && len == sizeof info)
            n = info.ki_numthreads;
    }
#endif
    return n > 0 ? n : -1;
}

const char *mproc__plat_getenv(const char *name) { return getenv(name); }

void mproc__plat_unsetenv(const char *name) { unsetenv(name); }

void mproc__plat_ignore_interrupt(int ignore) { signal(SIGINT, ignore ? SIG_IGN : SIG_DFL); }

void mproc__plat_exit_now(int code)
{
    fflush(NULL);
    _exit(code);
}
