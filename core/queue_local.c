/*
 * Queues of the thread context, as CPython's multiprocessing.dummy uses
 * queue.Queue: every item is copied into one allocation that get() hands
 * to its caller, kept in a ring of pointers guarded by one mutex.  There is
 * no pipe, no feeder thread and no shared-memory lock: a put or a get that
 * does not wait is one lock and one unlock.  A condition is signalled only
 * for a waiter no signal is on its way to yet (waiters and wake-ups are
 * counted), so neither side makes a system call while the other keeps up,
 * and a producer does not signal again for every item it puts while the
 * consumer it woke is still getting up.
 *
 * Nothing here can cross into another process.  Exporting one to a spawn or
 * forkserver child is refused (mproc__lqueue_refuse_export), a fork child
 * is refused before it starts (core/args.c), and the copy a forked child
 * inherits anyway (a global, say) refuses every call: its items are the
 * parent's, and its mutex may have been held by a thread the child lacks.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "queue_local.h"

#define LQUEUE_MAGIC 0x6c717565u /* "lque"; core/queue.c's queues start with another */
#define RING_FIRST 16u           /* slots of a new ring; it doubles when full */
#define RING_KEEP 4096u          /* a drained ring larger than this is given back */

typedef struct {
    void *data; /* malloc'd: what get() returns for mproc_free */
    size_t len;
} entry;

/* A condition and who waits on it (under the queue's mutex).  A waiter
 * that returns, woken or not, takes one wake-up off the count: a signal
 * meant for it but taken by another, or by nobody, is accounted for either
 * way, so the count never promises more wake-ups than are coming. */
typedef struct {
    mproc__cond *cv;
    unsigned waiters, woken;
} waitset;

typedef struct {
    uint32_t magic; /* first, as in core/queue.c's struct */
    int joinable;
    unsigned generation; /* fork_generation when made: another means a fork child's copy */
    size_t maxsize;
    atomic_size_t max_msg; /* read by put before it takes mu */
    mproc__mutex *mu;
    /* Everything below: mu. */
    waitset not_empty, not_full, all_done;
    entry *ring; /* cap slots, a power of two; count items from head on, wrapping */
    size_t cap, head, count;
    size_t unfinished; /* joinable: put and not yet task_done */
    int closed;
} lqueue;

/* Bumped in the child of every fork: queues made before it are copies. */
static atomic_uint fork_generation;

static void bump_generation_after_fork(void) { atomic_fetch_add(&fork_generation, 1); }

static lqueue *lq(mproc_queue *q) { return (lqueue *)(void *)q; }

int mproc__lqueue_is(const void *q)
{
    uint32_t magic;
    if (!q)
        return 0;
    /* A byte copy: q may be either kind of object. */
    memcpy(&magic, q, sizeof magic);
    return magic == LQUEUE_MAGIC;
}

static int inherited(const lqueue *q)
{
    return q->generation != atomic_load_explicit(&fork_generation, memory_order_relaxed);
}

static int refuse_inherited(void)
{
    return mproc__errorf(MPROC_ENOTSUP, "this queue of the thread context belongs to the process that forked this "
                                        "one: a forked child cannot use it (give children a process context's queue)");
}

int mproc__lqueue_refuse_export(void)
{
    return mproc__errorf(MPROC_ENOTSUP, "a queue of the thread context lives in its process only: it cannot be "
                                        "passed to a child process (make it with a process context, or NULL)");
}

static void lqueue_destroy(lqueue *q)
{
    for (size_t i = 0; i < q->count; i++)
        free(q->ring[(q->head + i) & (q->cap - 1)].data);
    free(q->ring);
    mproc__plat_cond_free(q->not_empty.cv);
    mproc__plat_cond_free(q->not_full.cv);
    mproc__plat_cond_free(q->all_done.cv);
    mproc__plat_mutex_free(q->mu);
    q->magic = 0;
    free(q);
}

mproc_queue *mproc__lqueue_new(size_t maxsize, int joinable)
{
    lqueue *q;
    if (maxsize > 0x7fffffffu)
        return mproc__null(MPROC_EINVAL);
    mproc__on_fork_child(bump_generation_after_fork);
    if (!(q = calloc(1, sizeof *q)))
        return mproc__null(MPROC_ENOMEM);
    q->magic = LQUEUE_MAGIC;
    q->joinable = joinable;
    q->generation = atomic_load(&fork_generation);
    q->maxsize = maxsize;
    atomic_init(&q->max_msg, MPROC__MSG_DEFAULT_MAX);
    q->mu = mproc__plat_mutex_new();
    q->not_empty.cv = mproc__plat_cond_new();
    q->not_full.cv = mproc__plat_cond_new();
    q->all_done.cv = joinable ? mproc__plat_cond_new() : NULL;
    if (!q->mu || !q->not_empty.cv || !q->not_full.cv || (joinable && !q->all_done.cv)) {
        lqueue_destroy(q);
        return mproc__null(MPROC_ENOMEM);
    }
    return (mproc_queue *)(void *)q;
}

/* With mu held: wakes one waiter of w that no wake-up is on its way to. */
static void wake_one(waitset *w)
{
    if (w->waiters > w->woken) {
        w->woken++;
        mproc__plat_cond_signal(w->cv);
    }
}

static void wake_all(waitset *w)
{
    if (w->waiters > w->woken) {
        w->woken = w->waiters;
        mproc__plat_cond_broadcast(w->cv);
    }
}

/* With mu held: waits on w for at most what is left of timeout (< 0: for
 * ever, and deadline may be NULL; else *deadline starts < 0 and is set by
 * the first wait).  0 after a wake-up (perhaps early: the caller
 * re-checks), or MPROC_ETIMEDOUT once the time is up. */
static int wait_on(lqueue *q, waitset *w, double timeout, double *deadline)
{
    double left = -1;
    if (timeout == 0)
        return MPROC_ETIMEDOUT;
    if (timeout > 0) {
        double now = mproc__plat_now();
        if (*deadline < 0)
            *deadline = now + timeout;
        if ((left = *deadline - now) <= 0)
            return MPROC_ETIMEDOUT;
    }
    w->waiters++;
    (void)mproc__plat_cond_wait(w->cv, q->mu, left);
    w->waiters--;
    if (w->woken > 0)
        w->woken--;
    return 0;
}

/* With mu held and the ring full: twice the slots, the items in order
 * from slot 0.  0 or MPROC_ENOMEM (the ring unchanged). */
static int grow(lqueue *q)
{
    size_t cap = q->cap ? q->cap * 2 : RING_FIRST, first = q->cap - q->head;
    entry *ring;
    if (cap > SIZE_MAX / sizeof *ring || !(ring = malloc(cap * sizeof *ring)))
        return MPROC_ENOMEM;
    if (q->count) {
        memcpy(ring, q->ring + q->head, first * sizeof *ring);
        memcpy(ring + first, q->ring, (q->count - first) * sizeof *ring);
    }
    free(q->ring);
    q->ring = ring;
    q->cap = cap;
    q->head = 0;
    return 0;
}

int mproc__lqueue_put(mproc_queue *queue, const void *data, size_t len, double timeout)
{
    lqueue *q = lq(queue);
    double deadline = -1;
    size_t max;
    void *copy;
    int rc = 0;

    if (mproc__timeout(&timeout) != 0)
        return mproc_last_error();
    if (!data && len > 0)
        return mproc__error(MPROC_EINVAL);
    if (inherited(q))
        return refuse_inherited();
    if (len > (max = atomic_load_explicit(&q->max_msg, memory_order_relaxed)))
        return mproc__errorf(MPROC_ETOOBIG, "item of %zu bytes exceeds the queue's limit of %zu", len, max);
    /* The copy is made before the lock is taken: a getter never waits on it. */
    if (!(copy = malloc(len ? len : 1)))
        return mproc__error(MPROC_ENOMEM);
    if (len)
        memcpy(copy, data, len);
    mproc__plat_mutex_lock(q->mu);
    while (!q->closed && q->maxsize && q->count >= q->maxsize && rc == 0)
        rc = wait_on(q, &q->not_full, timeout, &deadline);
    if (q->closed)
        rc = MPROC_ESTATE;
    else if (rc == 0 && q->count == q->cap)
        rc = grow(q);
    if (rc == 0) {
        entry *e = &q->ring[(q->head + q->count) & (q->cap - 1)];
        e->data = copy;
        e->len = len;
        q->count++;
        if (q->joinable)
            q->unfinished++;
        wake_one(&q->not_empty);
    }
    mproc__plat_mutex_unlock(q->mu);
    if (rc == 0)
        return 0;
    free(copy);
    if (rc == MPROC_ESTATE)
        return mproc__errorf(rc, "queue is closed");
    return mproc__error(rc == MPROC_ETIMEDOUT ? MPROC_EFULL : rc);
}

int mproc__lqueue_get(mproc_queue *queue, void **data, size_t *len, double timeout)
{
    lqueue *q = lq(queue);
    double deadline = -1;
    entry e = {NULL, 0};
    int rc = 0;

    if (mproc__timeout(&timeout) != 0)
        return mproc_last_error();
    if (!data || !len)
        return mproc__error(MPROC_EINVAL);
    *data = NULL;
    *len = 0;
    if (inherited(q))
        return refuse_inherited();
    mproc__plat_mutex_lock(q->mu);
    while (!q->closed && q->count == 0 && rc == 0)
        rc = wait_on(q, &q->not_empty, timeout, &deadline);
    if (q->closed) {
        rc = MPROC_ESTATE;
    } else if (rc == 0) {
        e = q->ring[q->head];
        q->head = (q->head + 1) & (q->cap - 1);
        q->count--;
        wake_one(&q->not_full);
        if (e.len > atomic_load_explicit(&q->max_msg, memory_order_relaxed)) {
            /* Put before the limit was lowered: refused here, and done
             * with, so that a join does not wait for it. */
            rc = MPROC_ETOOBIG;
            if (q->joinable && --q->unfinished == 0)
                wake_all(&q->all_done);
        }
        if (q->count == 0 && q->cap > RING_KEEP) {
            /* A burst is over: its ring goes back (put makes a new one). */
            free(q->ring);
            q->ring = NULL;
            q->cap = q->head = 0;
        }
    }
    mproc__plat_mutex_unlock(q->mu);
    if (rc == 0) {
        *data = e.data;
        *len = e.len;
        return 0;
    }
    free(e.data);
    if (rc == MPROC_ESTATE)
        return mproc__errorf(rc, "queue is closed");
    if (rc == MPROC_ETOOBIG)
        return mproc__errorf(rc, "an item of %zu bytes exceeds the queue's limit (lowered after it was put): dropped",
                             e.len);
    return mproc__error(MPROC_EEMPTY);
}

int mproc__lqueue_qsize(mproc_queue *queue, size_t *n)
{
    lqueue *q = lq(queue);
    if (!n)
        return mproc__error(MPROC_EINVAL);
    *n = 0;
    if (inherited(q))
        return refuse_inherited();
    mproc__plat_mutex_lock(q->mu);
    *n = q->count;
    mproc__plat_mutex_unlock(q->mu);
    return 0;
}

int mproc__lqueue_full(mproc_queue *queue)
{
    size_t n = 0;
    if (mproc__lqueue_qsize(queue, &n) != 0)
        return mproc_last_error();
    return lq(queue)->maxsize > 0 && n >= lq(queue)->maxsize;
}

int mproc__lqueue_set_max_message(mproc_queue *queue, size_t max)
{
    if (max > UINT32_MAX)
        return mproc__error(MPROC_EINVAL);
    atomic_store(&lq(queue)->max_msg, max);
    return 0;
}

int mproc__lqueue_task_done(mproc_queue *queue)
{
    lqueue *q = lq(queue);
    int rc = 0;
    if (!q->joinable)
        return mproc__error(MPROC_EINVAL);
    if (inherited(q))
        return refuse_inherited();
    mproc__plat_mutex_lock(q->mu);
    if (q->unfinished == 0)
        rc = MPROC_ESTATE;
    else if (--q->unfinished == 0)
        wake_all(&q->all_done);
    mproc__plat_mutex_unlock(q->mu);
    return rc ? mproc__errorf(rc, "task_done() called too many times") : 0;
}

int mproc__lqueue_join(mproc_queue *queue)
{
    lqueue *q = lq(queue);
    if (!q->joinable)
        return mproc__error(MPROC_EINVAL);
    if (inherited(q))
        return refuse_inherited();
    mproc__plat_mutex_lock(q->mu);
    while (q->unfinished > 0)
        (void)wait_on(q, &q->all_done, -1, NULL);
    mproc__plat_mutex_unlock(q->mu);
    return 0;
}

void mproc__lqueue_close(mproc_queue *queue)
{
    lqueue *q = lq(queue);
    if (inherited(q))
        return;
    mproc__plat_mutex_lock(q->mu);
    q->closed = 1;
    /* Whoever waits to put or get gives up (MPROC_ESTATE). */
    wake_all(&q->not_empty);
    wake_all(&q->not_full);
    mproc__plat_mutex_unlock(q->mu);
}

int mproc__lqueue_join_thread(mproc_queue *queue)
{
    lqueue *q = lq(queue);
    int closed;
    if (inherited(q))
        return refuse_inherited();
    /* There is no feeder: nothing to wait for once closed. */
    mproc__plat_mutex_lock(q->mu);
    closed = q->closed;
    mproc__plat_mutex_unlock(q->mu);
    return closed ? 0 : mproc__errorf(MPROC_ESTATE, "join_thread() needs close() first");
}

void mproc__lqueue_free(mproc_queue *queue)
{
    lqueue *q = lq(queue);
    if (inherited(q)) {
        /* The parent's: its ring may be half-updated and its mutex held by
         * a thread this child lacks.  Left alone, as a fork child leaves
         * the rest of its parent's memory. */
        q->magic = 0;
        return;
    }
    lqueue_destroy(q);
}
