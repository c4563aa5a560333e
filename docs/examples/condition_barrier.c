/* Condition and Barrier. */
#include <stdio.h>

#include "mproc.h"

enum { PARTIES = 3 }; /* the parent and two children */

/* Waits (under the condition's lock) until the parent has published a
 * value, then meets the others at the barrier; returns the value plus
 * its arrival index at the barrier. */
static int child(mproc_args *args)
{
    int *shared = mproc_shm_ptr(mproc_args_shm(args, 0));
    mproc_cond *cond = mproc_args_cond(args, 1);
    mproc_barrier *barrier = mproc_args_barrier(args, 2);
    int value, index;

    if (mproc_lock_acquire(mproc_cond_lock(cond), -1) != 0)
        return 100;
    while (*shared == 0) /* re-check: wake-ups may come for other reasons */
        if (mproc_cond_wait(cond, 10) != 0)
            return 101;
    value = *shared;
    mproc_lock_release(mproc_cond_lock(cond));

    index = mproc_barrier_wait(barrier, 10); /* 0..PARTIES-1, or a negative error */
    return index < 0 ? 102 : value + index;
}
MPROC_TARGET(child);

int main(int argc, char **argv)
{
    mproc_process *children[PARTIES - 1];
    mproc_shm *shm;
    mproc_cond *cond;
    mproc_barrier *barrier;
    int index, sum;

    if (mproc_init(argc, argv) != 0)
        return 1;
    shm = mproc_shm_new(NULL, sizeof(int));
    cond = mproc_cond_new(NULL, NULL); /* NULL lock: the condition makes its own RLock */
    barrier = mproc_barrier_new(NULL, PARTIES);
    if (!shm || !cond || !barrier)
        return 1;
    for (int i = 0; i < PARTIES - 1; i++) {
        mproc_args *args = mproc_args_new();
        mproc_args_add_shm(args, shm);
        mproc_args_add_cond(args, cond);
        mproc_args_add_barrier(args, barrier);
        if (!(children[i] = mproc_process_new(NULL, child, args)) || mproc_process_start(children[i]) != 0)
            return 1;
    }

    mproc_lock_acquire(mproc_cond_lock(cond), -1);
    *(int *)mproc_shm_ptr(shm) = 10;
    mproc_cond_notify_all(cond); /* with the lock held */
    mproc_lock_release(mproc_cond_lock(cond));

    if ((index = mproc_barrier_wait(barrier, 10)) < 0)
        return 1;
    sum = index;
    for (int i = 0; i < PARTIES - 1; i++) {
        int code = -1;
        mproc_process_join(children[i], -1);
        mproc_process_exitcode(children[i], &code);
        mproc_process_free(children[i]);
        sum += code - 10;
    }
    mproc_barrier_free(barrier);
    mproc_cond_free(cond);
    mproc_shm_free(shm);
    printf("arrival indices add up to %d (expected 0 + 1 + 2)\n", sum);
    return sum == 0 + 1 + 2 ? 0 : 1;
}
