/* Semaphore, BoundedSemaphore and Event. */
#include <stdio.h>

#include "mproc.h"

/* Waits for the start signal, then gives the parent a unit of "done". */
static int wait_for_start(mproc_args *args)
{
    if (mproc_event_wait(mproc_args_event(args, 0), 10) != 0)
        return 1;
    return mproc_sem_release(mproc_args_sem(args, 1)) == 0 ? 0 : 2;
}
MPROC_TARGET(wait_for_start);

int main(int argc, char **argv)
{
    mproc_sem *sem, *bounded, *done;
    mproc_event *start;
    mproc_args *args;
    mproc_process *p;
    int code = -1;

    if (mproc_init(argc, argv) != 0)
        return 1;

    /* A Semaphore counts: two units, a third acquire times out. */
    if (!(sem = mproc_sem_new(NULL, 2)) || mproc_sem_acquire(sem, -1) != 0 || mproc_sem_acquire(sem, -1) != 0 ||
        mproc_sem_acquire(sem, 0.01) != MPROC_ETIMEDOUT)
        return 1;
    mproc_sem_release(sem);
    mproc_sem_release(sem);
    mproc_sem_free(sem);
    /* A BoundedSemaphore refuses to go above its initial value. */
    if (!(bounded = mproc_bounded_sem_new(NULL, 1)) || mproc_sem_release(bounded) != MPROC_ESTATE)
        return 1;
    mproc_sem_free(bounded);

    /* An Event: the child waits until the parent sets it, then releases
     * a semaphore the parent waits on (units cross processes too). */
    if (!(start = mproc_event_new(NULL)) || mproc_event_is_set(start) != 0 || !(done = mproc_sem_new(NULL, 0)))
        return 1;
    args = mproc_args_new();
    mproc_args_add_event(args, start);
    mproc_args_add_sem(args, done);
    if (!(p = mproc_process_new(NULL, wait_for_start, args)) || mproc_process_start(p) != 0)
        return 1;
    if (mproc_event_set(start) != 0 || mproc_event_is_set(start) != 1) /* compare with == 1 */
        return 1;
    if (mproc_sem_acquire(done, 10) != 0)
        return 1;
    mproc_process_join(p, -1);
    mproc_process_exitcode(p, &code);
    mproc_process_free(p);
    if (mproc_event_clear(start) != 0 || mproc_event_wait(start, 0) != MPROC_ETIMEDOUT)
        return 1;
    mproc_event_free(start);
    mproc_sem_free(done);
    printf("the child saw the event: exit code %d\n", code);
    return code;
}
