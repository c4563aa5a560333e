/* Lock and RLock: processes adding to one counter in shared memory. */
#include <stdio.h>

#include "mproc.h"

enum { WORKERS = 3, ADDS = 1000 };

static int add(mproc_args *args)
{
    long *counter = mproc_shm_ptr(mproc_args_shm(args, 0));
    mproc_lock *lock = mproc_args_lock(args, 1);
    for (int i = 0; i < ADDS; i++) {
        if (mproc_lock_acquire(lock, -1) != 0)
            return 1;
        ++*counter; /* read, add, write: only one holder at a time */
        mproc_lock_release(lock);
    }
    return 0;
}
MPROC_TARGET(add);

int main(int argc, char **argv)
{
    mproc_process *workers[WORKERS];
    mproc_shm *shm;
    mproc_lock *lock, *rlock;
    long total;

    if (mproc_init(argc, argv) != 0)
        return 1;
    shm = mproc_shm_new(NULL, sizeof(long)); /* zero-filled */
    lock = mproc_lock_new(NULL);
    rlock = mproc_rlock_new(NULL);
    if (!shm || !lock || !rlock)
        return 1;
    for (int i = 0; i < WORKERS; i++) {
        mproc_args *args = mproc_args_new();
        mproc_args_add_shm(args, shm);
        mproc_args_add_lock(args, lock);
        workers[i] = mproc_process_new(NULL, add, args);
        if (!workers[i] || mproc_process_start(workers[i]) != 0)
            return 1;
    }
    for (int i = 0; i < WORKERS; i++) {
        mproc_process_join(workers[i], -1);
        mproc_process_free(workers[i]);
    }
    total = *(long *)mproc_shm_ptr(shm);

    /* A Lock is not recursive: its holder trying again times out.  An RLock
     * is taken again by the thread that holds it, and released as often. */
    if (mproc_lock_acquire(lock, -1) != 0 || mproc_lock_acquire(lock, 0.01) != MPROC_ETIMEDOUT ||
        mproc_lock_release(lock) != 0 || mproc_lock_release(lock) != MPROC_ESTATE)
        return 1;
    if (mproc_lock_acquire(rlock, -1) != 0 || mproc_lock_acquire(rlock, 0) != 0 || mproc_lock_release(rlock) != 0 ||
        mproc_lock_release(rlock) != 0 || mproc_lock_release(rlock) != MPROC_ESTATE)
        return 1;

    mproc_lock_free(rlock);
    mproc_lock_free(lock);
    mproc_shm_free(shm);
    printf("counter = %ld (expected %d)\n", total, WORKERS * ADDS);
    return total == WORKERS * ADDS ? 0 : 1;
}
