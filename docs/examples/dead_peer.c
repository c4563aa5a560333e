/* A process that dies holding a Lock: the next acquire returns
 * MPROC_EBROKEN instead of waiting for ever, with the lock held. */
#include <stdio.h>

#include "mproc.h"

/* Takes the lock and ends without releasing it (as a crash would). */
static int die_holding(mproc_args *args)
{
    return mproc_lock_acquire(mproc_args_lock(args, 0), -1) == 0 ? 0 : 1;
}
MPROC_TARGET(die_holding);

int main(int argc, char **argv)
{
    mproc_lock *lock;
    mproc_args *args;
    mproc_process *p;
    mproc_ctx *ctx = NULL;
    int *state, rc;
    mproc_shm *shm;

    if (mproc_init(argc, argv) != 0 || !(lock = mproc_lock_new(NULL)) || !(shm = mproc_shm_new(NULL, sizeof(int))))
        return 1;
    state = mproc_shm_ptr(shm);
    /* A thread that ends holding a lock is not dead (its process lives on):
     * this needs a process, spawn when MPROC_START_METHOD=thread. */
    if (mproc_get_start_method() == MPROC_THREAD)
        ctx = mproc_get_context(MPROC_SPAWN);
    args = mproc_args_new();
    mproc_args_add_lock(args, lock);
    if (!(p = mproc_process_new(ctx, die_holding, args)) || mproc_process_start(p) != 0 ||
        mproc_process_join(p, -1) != 0)
        return 1;
    mproc_process_free(p);

    rc = mproc_lock_acquire(lock, 10); /* within about a second */
    if (rc == MPROC_EBROKEN) {
        *state = 0; /* the caller holds the lock: repair what it guarded */
        mproc_lock_release(lock);
    }
    printf("acquire after the holder died: %s\n", mproc_strerror(rc));
    if (rc != MPROC_EBROKEN || mproc_lock_acquire(lock, 0) != 0 || mproc_lock_release(lock) != 0)
        return 1;
    mproc_lock_free(lock);
    mproc_shm_free(shm);
    return 0;
}
