/*
 * mproc_wait, as multiprocessing.connection.wait, for more kinds of object:
 * processes and connections (a handle each: a sentinel, a pipe), queues
 * (an item can be got) and events (set).
 *
 * Some of these have no handle that tells their readiness: an event is a
 * flag in shared memory, a thread context's queue a list in this process,
 * and a process queue's items may sit in its read-ahead (shared memory
 * another consumer filled beyond the item it took) while its pipe is
 * empty.  For a list holding any of them, the wait is a loop of slices:
 * look at each of them, then wait on the handles (or sleep, when there
 * are none) for a slice, and look again.  The slice starts at WAIT_SLICE_MIN
 * and doubles up to WAIT_SLICE_MAX, so a wake-up soon after the call is
 * seen soon, and a long wait costs a few wake-ups a second.
 *
 * Why not a handle per event that set writes to (an eventfd, a pipe per
 * waiter): the setter may be any process, started by any method, and
 * would have to reach the handle of every process waiting, which no
 * process can learn about after it started (spawn and forkserver children
 * get their handles once, with their record); an event holding a pipe of
 * its own from its creation would make every event cost two descriptors
 * (and two more handles in each child's record) for the few users who wait
 * on one with mproc_wait, and still leave the read-ahead without a handle.
 * The loop is correct under every start method (what it looks at is what
 * every process holding the object shares), loses no wake-up (it looks at
 * state, which stays set, not at notifications, which can be missed), and
 * a list of processes and connections only (CPython's case) never takes
 * it: one wait on the handles, as before.  The price is latency: an event
 * set while the caller waits is seen within a slice.
 */
#include "internal.h"

#define WAIT_MAX 64             /* objects in one call (the platform's limit on handles) */
#define WAIT_SLICE_MIN 0.001    /* seconds */
#define WAIT_SLICE_MAX 0.01

enum { BY_HANDLE, QUEUE, EVENT };

/* Looks at every object that has no handle (or more than its handle);
 * sets ready[i] for those ready and returns their count. */
static int look(void *const objects[], const int *kind, size_t n, int ready[])
{
    int count = 0;
    for (size_t i = 0; i < n; i++) {
        ready[i] = kind[i] == QUEUE   ? mproc__queue_ready(objects[i])
                   : kind[i] == EVENT ? mproc__event_ready(objects[i])
                                      : 0;
        count += ready[i];
    }
    return count;
}

int mproc_wait(void *const objects[], size_t n, double timeout, int ready[])
{
    mproc__handle hs[WAIT_MAX];
    size_t owner[WAIT_MAX]; /* hs[j] belongs to objects[owner[j]] */
    int kind[WAIT_MAX], r[WAIT_MAX], mine[WAIT_MAX];
    size_t nh = 0;
    int sliced = 0, count, rc;
    double deadline, slice = WAIT_SLICE_MIN;

    if (mproc__timeout(&timeout) != 0)
        return mproc_last_error();
    if (!objects || n == 0 || n > WAIT_MAX)
        return mproc__error(MPROC_EINVAL);
    for (size_t i = 0; i < n; i++) {
        mproc__handle h = MPROC__NO_HANDLE;
        kind[i] = BY_HANDLE;
        if (mproc__is(objects[i], MPROC__T_CONN)) {
            if ((h = mproc__conn_sentinel(objects[i])) == MPROC__NO_HANDLE)
                return mproc__errorf(MPROC_ESTATE, "a send-only connection (item %zu) is never ready to receive", i);
        } else if (mproc__is(objects[i], MPROC__T_PROCESS)) {
            intptr_t s;
            if ((rc = mproc_process_sentinel(objects[i], &s)) != 0)
                return rc;
            h = (mproc__handle)s;
        } else if (mproc__is_queue(objects[i])) {
            kind[i] = QUEUE;
            h = mproc__queue_wait_handle(objects[i]);
        } else if (mproc__is(objects[i], MPROC__T_EVENT)) {
            kind[i] = EVENT;
        } else {
            return mproc__error(MPROC_EINVAL);
        }
        sliced |= kind[i] != BY_HANDLE;
        if (h != MPROC__NO_HANDLE) {
            hs[nh] = h;
            owner[nh++] = i;
        }
    }

    deadline = mproc__plat_now() + timeout;
    for (;;) {
        double wait = 0;
        count = sliced ? look(objects, kind, n, mine) : 0;
        if (!sliced)
            for (size_t i = 0; i < n; i++)
                mine[i] = 0;
        if (count == 0 && timeout != 0) {
            wait = sliced ? slice : timeout;
            if (timeout > 0) {
                double left = deadline - mproc__plat_now();
                wait = left <= 0 ? 0 : (wait < 0 || left < wait) ? left : wait;
            }
        }
        if (nh > 0) {
            /* After a ready look, only to fill in the handles' part. */
            if ((rc = mproc__plat_wait_handles(hs, nh, wait, r)) < 0)
                return mproc__raise(rc);
            for (size_t j = 0; j < nh; j++)
                mine[owner[j]] |= r[j];
        } else {
            mproc__plat_sleep(wait);
        }
        count = 0;
        for (size_t i = 0; i < n; i++)
            count += mine[i];
        if (count > 0 || timeout == 0 || !sliced || (timeout > 0 && mproc__plat_now() >= deadline))
            break;
        slice = slice * 2 < WAIT_SLICE_MAX ? slice * 2 : WAIT_SLICE_MAX;
    }
    for (size_t i = 0; ready && i < n; i++)
        ready[i] = mine[i];
    return count;
}
