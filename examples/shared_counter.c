/*
 * Processes incrementing one counter in shared memory under a Lock.
 *
 *     python: v = Value('i', 0); with lock: v.value += 1
 */
#include <stdio.h>

#include "mproc.h"

#define WORKERS 4
#define INCREMENTS 10000

static int work(mproc_args *args)
{
    long *counter = mproc_shm_ptr(mproc_args_shm(args, 0));
    mproc_lock *lock = mproc_args_lock(args, 1);
    for (int i = 0; i < INCREMENTS; i++) {
        mproc_lock_acquire(lock, -1);
        (*counter)++;
        mproc_lock_release(lock);
    }
    return 0;
}
MPROC_TARGET(work);

int main(int argc, char **argv)
{
    mproc_process *workers[WORKERS];
    mproc_shm *shm;
    mproc_lock *lock;

    if (mproc_init(argc, argv) != 0 || !(shm = mproc_shm_new(NULL, sizeof(long))) || !(lock = mproc_lock_new(NULL)))
        return 1;
    for (int i = 0; i < WORKERS; i++) {
        mproc_args *args = mproc_args_new();
        mproc_args_add_shm(args, shm);
        mproc_args_add_lock(args, lock);
        workers[i] = mproc_process_new(NULL, work, args);
        if (!workers[i] || mproc_process_start(workers[i]) != 0)
            return 1;
    }
    for (int i = 0; i < WORKERS; i++) {
        mproc_process_join(workers[i], -1);
        mproc_process_free(workers[i]);
    }
    printf("counter = %ld (expected %d)\n", *(long *)mproc_shm_ptr(shm), WORKERS * INCREMENTS);
    mproc_lock_free(lock);
    mproc_shm_free(shm);
    return 0;
}
