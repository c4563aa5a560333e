/*
 * This process as mproc sees it: the name and daemon flag its parent gave
 * it when mproc started it (CPython's current_process()); and the calling
 * thread's identity, which lock owners record.
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
