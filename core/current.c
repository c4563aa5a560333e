/*
 * This process as mproc sees it: the name and daemon flag its parent gave
 * it when mproc started it (CPython's current_process()).
 */
#include "internal.h"

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
