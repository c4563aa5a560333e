/* Identity, clocks, environment and process exit. */
#include "posix.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
#if MPROC_HAVE_SCHED_GETAFFINITY
#include <sched.h>
#endif
#if MPROC_HAVE_CPUSET_GETAFFINITY
#include <sys/param.h>
#include <sys/cpuset.h>
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

/* CPUs in the calling thread's affinity mask, or -1 where not known. */
static long affinity_count(void)
{
#if MPROC_HAVE_SCHED_GETAFFINITY
    /* A cpu_set_t holds 1024 CPUs; the kernel refuses (EINVAL) a mask
     * smaller than its own: grow until it fits. */
    for (int ncpu = CPU_SETSIZE; ncpu <= (1 << 20); ncpu *= 2) {
        size_t size = CPU_ALLOC_SIZE(ncpu);
        cpu_set_t *set = CPU_ALLOC(ncpu);
        long n = -1;
        int err;
        if (!set)
            return -1;
        err = sched_getaffinity(0, size, set) == 0 ? 0 : errno;
        if (err == 0)
            n = CPU_COUNT_S(size, set);
        CPU_FREE(set);
        if (err != EINVAL)
            return n > 0 ? n : -1;
    }
#elif MPROC_HAVE_CPUSET_GETAFFINITY
    cpuset_t set;
    if (cpuset_getaffinity(CPU_LEVEL_WHICH, CPU_WHICH_PID, -1, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
#endif
    return -1;
}

#if MPROC_HAVE_PROCFS
/* A small file's text (cut to cap - 1 bytes), or -1. */
static ssize_t read_text(const char *path, char *buf, size_t cap)
{
    ssize_t n, got = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    while ((size_t)got < cap - 1 && (n = read(fd, buf + got, cap - 1 - (size_t)got)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            got = -1;
            break;
        }
        got += n;
    }
    close(fd);
    if (got >= 0)
        buf[got] = '\0';
    return got;
}

/* The CPUs a quota of quota microseconds per period allows, rounded up
 * (1.5 CPUs' worth keeps 2 busy part of the time), or -1 for none. */
static long quota_cpus(long long quota, long long period)
{
    if (quota <= 0 || period <= 0)
        return -1;
    return (long)((quota + period - 1) / period);
}

/* Reads the quota file of one cgroup directory: v2's cpu.max ("max
 * 100000" or "150000 100000"), v1's cpu.cfs_quota_us (-1: none) and
 * cpu.cfs_period_us.  -1 when none is set. */
static long cgroup_dir_limit(const char *dir, int v2)
{
    char path[PATH_MAX], text[64];
    long long quota, period;
    char *end;

    if (v2) {
        if (snprintf(path, sizeof path, "%s/cpu.max", dir) >= (int)sizeof path || read_text(path, text, sizeof text) < 0)
            return -1;
        quota = strtoll(text, &end, 10);
        if (end == text) /* "max" */
            return -1;
        period = strtoll(end, NULL, 10);
        return quota_cpus(quota, period);
    }
    if (snprintf(path, sizeof path, "%s/cpu.cfs_quota_us", dir) >= (int)sizeof path ||
        read_text(path, text, sizeof text) < 0)
        return -1;
    quota = strtoll(text, NULL, 10);
    if (snprintf(path, sizeof path, "%s/cpu.cfs_period_us", dir) >= (int)sizeof path ||
        read_text(path, text, sizeof text) < 0)
        return -1;
    period = strtoll(text, NULL, 10);
    return quota_cpus(quota, period);
}

/* The smallest CPU quota of cgroup path (as /proc/self/cgroup names it)
 * and its ancestors, under the hierarchy mounted at root.  Ancestors
 * count: a container's limit is often set one level up.  The root itself
 * is read last: in a container without its own cgroup namespace the path
 * is the host's, absent from the container's mount, whose root is then
 * the container's cgroup. */
static long cgroup_path_limit(const char *root, const char *path, int v2)
{
    char dir[PATH_MAX];
    long best = -1, n;
    size_t len;

    if (snprintf(dir, sizeof dir, "%s%s", root, path) >= (int)sizeof dir)
        return -1;
    for (;;) {
        len = strlen(dir);
        while (len > strlen(root) && dir[len - 1] == '/')
            dir[--len] = '\0';
        n = cgroup_dir_limit(dir, v2);
        if (n > 0 && (best < 0 || n < best))
            best = n;
        if (len <= strlen(root))
            break;
        *strrchr(dir, '/') = '\0';
    }
    return best;
}

/* Whether controller is in a v1 line's comma-separated list. */
static int has_controller(const char *list, size_t len, const char *controller)
{
    size_t clen = strlen(controller);
    for (const char *p = list, *end = list + len; p < end;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        size_t n = comma ? (size_t)(comma - p) : (size_t)(end - p);
        if (n == clen && memcmp(p, controller, n) == 0)
            return 1;
        p += n + 1;
    }
    return 0;
}

/* The CPU quota of this process's cgroup (v2 cpu.max, v1 CFS quota),
 * where cgroups are mounted at /sys/fs/cgroup; -1 when none. */
static long cgroup_cpu_limit(void)
{
    static const char *const v1_roots[] = {"/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct",
                                           "/sys/fs/cgroup/cpuacct,cpu"};
    char text[4096];
    long best = -1;

    if (read_text("/proc/self/cgroup", text, sizeof text) <= 0)
        return -1;
    /* Lines are "hierarchy:controllers:path"; v2's is "0::path". */
    for (char *line = text, *next; line && *line; line = next) {
        char *c1, *c2, *nl = strchr(line, '\n');
        long n = -1;
        next = nl ? nl + 1 : NULL;
        if (nl)
            *nl = '\0';
        if (!(c1 = strchr(line, ':')) || !(c2 = strchr(c1 + 1, ':')) || c2[1] != '/')
            continue;
        if (c2 == c1 + 1 && strncmp(line, "0:", 2) == 0) {
            n = cgroup_path_limit("/sys/fs/cgroup", c2 + 1, 1);
        } else if (has_controller(c1 + 1, (size_t)(c2 - c1 - 1), "cpu")) {
            for (size_t i = 0; i < sizeof v1_roots / sizeof v1_roots[0] && n < 0; i++)
                n = cgroup_path_limit(v1_roots[i], c2 + 1, 0);
        }
        if (n > 0 && (best < 0 || n < best))
            best = n;
    }
    return best;
}
#endif

int mproc__plat_cpu_count(void)
{
    long n = affinity_count(), quota = -1;
    if (n <= 0)
        n = sysconf(_SC_NPROCESSORS_ONLN);
#if MPROC_HAVE_PROCFS
    quota = cgroup_cpu_limit();
#endif
    if (quota > 0 && (n <= 0 || quota < n))
        n = quota;
    return n > 0 ? (n > INT_MAX ? INT_MAX : (int)n) : 1;
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
