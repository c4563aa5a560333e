/*
 * This process as mproc sees it: the name and daemon flag its parent gave
 * it when mproc started it (CPython's current_process()); and the calling
 * thread's identity, which lock owners record.
 */
#include <stdatomic.h>

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

void mproc__current_set(const char *name, int daemon)
{
    (void)name;
    mproc__plat_global_lock();
    self_daemon = daemon != 0;
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
