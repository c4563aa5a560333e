/*
 * Lock and RLock of the thread context (core/sync_local.c), as
 * multiprocessing.dummy uses threading's: a lock for the threads of this
 * process only, with no shared memory.  core/sync.c's mproc_lock holds one
 * and hands each call over (nothing here calls back into core/sync.c).
 *
 * The functions have the semantics of core/sync.c's calls of the same name
 * (include/mproc.h): a Lock may be released by any thread, an RLock only by
 * its owner; Condition reads the owner and the recursion count through
 * is_mine, release_all and restore.  They return 0 or an MPROC_E* code and
 * set the last error (with a message) where the public call would.
 */
#ifndef MPROC_SYNC_LOCAL_H
#define MPROC_SYNC_LOCAL_H

#include "internal.h"

typedef struct mproc__llock mproc__llock;

/* NULL + MPROC_ENOMEM. */
mproc__llock *mproc__llock_new(int recursive);
/* timeout already checked by the caller (mproc__timeout): 0, MPROC_ETIMEDOUT. */
int mproc__llock_acquire(mproc__llock *l, double timeout);
/* 0, MPROC_ESTATE (a Lock not held; an RLock not held by the caller). */
int mproc__llock_release(mproc__llock *l);
int mproc__llock_is_mine(mproc__llock *l);
/* Condition's wait: gives the lock up whatever its recursion count, which
 * it returns; restore takes it back with that count (0). */
unsigned mproc__llock_release_all(mproc__llock *l);
int mproc__llock_restore(mproc__llock *l, unsigned count);
void mproc__llock_free(mproc__llock *l);
/* What exporting one to a child process gives: MPROC_ENOTSUP, logged. */
int mproc__llock_refuse_export(void);

#endif /* MPROC_SYNC_LOCAL_H */
