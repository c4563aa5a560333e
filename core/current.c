/*
 * This process as mproc sees it: the name and daemon flag its parent gave
 * it when mproc started it (CPython's current_process()); the calling
 * thread's identity, which lock owners record; and the CPUs this process
 * may use.
 */
#include <stdatomic.h>
#include <string.h>

#include "internal.h"

uint64_t mproc__thread_id(void)
{
    static atomic_uint_fast64_t next = 1;
    static MPROC_TLS uint64_t id;
    if (!id)
        id = atomic_fetch_add(&next, 1);
    return id;
}

/* The global lock guards these. */
static int self_daemon;
static char self_name[MPROC__NAME_MAX] = "MainProcess";

void mproc__current_set(const char *name, int daemon)
{
    mproc__plat_global_lock();
    self_daemon = daemon != 0;
    if (name) {
        size_t n = strlen(name);
        n = n < sizeof self_name ? n : sizeof self_name - 1;
        memcpy(self_name, name, n);
        self_name[n] = '\0';
    }
    mproc__plat_global_unlock();
}

void mproc__current_name(char *buf, size_t cap)
{
    if (cap == 0)
        return;
    mproc__plat_global_lock();
    strncpy(buf, self_name, cap - 1);
    mproc__plat_global_unlock();
    buf[cap - 1] = '\0';
}

int mproc__current_is_daemon(void)
{
    int daemon;
    mproc__plat_global_lock();
    daemon = self_daemon;
    mproc__plat_global_unlock();
    return daemon;
}

long mproc_parent_pid(void) { return mproc__plat_getppid(); }

/* More than any machine has, and few enough that a pool of this many is
 * only a mistake, not an overflow. */
#define CPU_COUNT_MAX 1048576

/* MPROC_CPU_COUNT as a count, or 0 when unset or not a plain decimal
 * number from 1 to CPU_COUNT_MAX (then ignored, as CPython ignores a bad
 * PYTHON_CPU_COUNT). */
static int cpu_count_from_env(void)
{
    const char *s = mproc__plat_getenv("MPROC_CPU_COUNT");
    long n = 0;
    if (!s || !*s)
        return 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return 0;
        n = n * 10 + (*s - '0');
        if (n > CPU_COUNT_MAX)
            return 0;
    }
    return (int)n;
}

int mproc_cpu_count(void)
{
    int n = cpu_count_from_env();
    return n > 0 ? n : mproc__plat_cpu_count();
}
