/*
 * What both POSIX implementations of process-shared semaphores and mutexes
 * (sync.c with robust mutexes, sync_owner.c without) have in common: all of
 * a primitive lives in the shared memory, so a child needs no handle for
 * it, re-attaches to its own mapping, and closing destroys nothing (other
 * processes may still use the memory, which goes with its last mapping).
 */
#include "posix.h"

mproc__handle mproc__plat_psync_handle(const mproc__psync *s)
{
    (void)s;
    return MPROC__NO_HANDLE;
}

int mproc__plat_psync_attach(mproc__psync *s, void *mem, mproc__handle h)
{
    s->mem = mem;
    s->h = h;
    return 0;
}

void mproc__plat_psync_close(mproc__psync *s) { s->mem = NULL; }
