/*
 * This process as mproc sees it: the name and daemon flag its parent gave
 * it when mproc started it, how it was started and by whom (CPython's
 * current_process() and parent_process()); a thread-method child's own
 * identity on its thread (multiprocessing.dummy's current_process() is the
 * thread); the calling thread's number, which lock owners record; and the
 * CPUs this process may use.
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
static mproc_method self_method;  /* 0: mproc did not start this process */
static long self_parent_pid;      /* 0: the OS parent is the real one */
static char self_name[MPROC__NAME_MAX] = "MainProcess";

/* Set on a thread-method child's thread while it runs its target; points
 * into that thread's stack, so no other thread ever reads it. */
static MPROC_TLS mproc__thread_identity *self_thread;

static void copy_name(char *dst, size_t cap, const char *name)
{
    size_t n = strlen(name);
    n = n < cap ? n : cap - 1;
    memcpy(dst, name, n);
    dst[n] = '\0';
}

void mproc__current_set(const char *name, int daemon, mproc_method method, long parent_pid)
{
    /* A fork from a thread child's thread: the new process is not that
     * thread child. */
    self_thread = NULL;
    mproc__plat_global_lock();
    self_daemon = daemon != 0;
    self_method = method;
    self_parent_pid = parent_pid;
    if (name)
        copy_name(self_name, sizeof self_name, name);
    mproc__plat_global_unlock();
    if (name)
        mproc__plat_set_name(name, 1);
}

void mproc__current_thread_begin(mproc__thread_identity *id, const char *name, int daemon)
{
    copy_name(id->name, sizeof id->name, name ? name : "");
    id->daemon = daemon != 0;
    self_thread = id;
    mproc__plat_set_name(id->name, 0);
}

void mproc__current_thread_end(void) { self_thread = NULL; }

void mproc__current_name(char *buf, size_t cap)
{
    if (cap == 0)
        return;
    if (self_thread) {
        copy_name(buf, cap, self_thread->name);
        return;
    }
    mproc__plat_global_lock();
    copy_name(buf, cap, self_name);
    mproc__plat_global_unlock();
}

int mproc__current_is_daemon(void)
{
    int daemon;
    mproc__plat_global_lock();
    daemon = self_daemon;
    mproc__plat_global_unlock();
    return daemon;
}

long mproc_parent_pid(void)
{
    long pid;
    if (self_thread)
        return mproc__plat_getpid();
    mproc__plat_global_lock();
    pid = self_parent_pid;
    mproc__plat_global_unlock();
    return pid ? pid : mproc__plat_getppid();
}

int mproc_current_process(mproc_process_info *info)
{
    if (!info)
        return mproc__error(MPROC_EINVAL);
    memset(info, 0, sizeof *info);
    info->pid = mproc__plat_getpid();
    info->parent_pid = mproc_parent_pid();
    if (self_thread) {
        copy_name(info->name, sizeof info->name, self_thread->name);
        info->daemon = self_thread->daemon;
        info->method = MPROC_THREAD;
        return 0;
    }
    mproc__plat_global_lock();
    copy_name(info->name, sizeof info->name, self_name);
    info->daemon = self_daemon;
    info->method = self_method;
    mproc__plat_global_unlock();
    return 0;
}

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
