/*
 * The library-wide lock and per-object mutexes on Windows.
 *
 * Slim reader/writer locks: statically initialisable (so the global lock
 * needs no init-once dance) and never fail to acquire.  Windows has no fork,
 * so nothing needs re-initialising in a child.  SRW locks are not
 * recursive, which the contract does not ask for.
 */
#include <stdlib.h>

#include "win.h"

static SRWLOCK global_lock = SRWLOCK_INIT;

void mproc__plat_global_lock(void) { AcquireSRWLockExclusive(&global_lock); }

void mproc__plat_global_unlock(void) { ReleaseSRWLockExclusive(&global_lock); }

struct mproc__mutex {
    SRWLOCK lock;
};

mproc__mutex *mproc__plat_mutex_new(void)
{
    mproc__mutex *m = malloc(sizeof *m);
    if (m != NULL)
        InitializeSRWLock(&m->lock);
    return m;
}

void mproc__plat_mutex_lock(mproc__mutex *m) { AcquireSRWLockExclusive(&m->lock); }

void mproc__plat_mutex_unlock(mproc__mutex *m) { ReleaseSRWLockExclusive(&m->lock); }

void mproc__plat_mutex_free(mproc__mutex *m) { free(m); }
