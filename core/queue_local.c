/*
 * Queues of the thread context, as CPython's multiprocessing.dummy uses
 * queue.Queue: a FIFO of slots guarded by one mutex.  There is no pipe, no
 * feeder thread and no shared-memory lock: a put or a get that does not
 * wait is one lock and one unlock.
 *
 * A small item is copied into its slot, and get() copies it out into a
 * block it allocates itself, so that the block the caller frees was
 * allocated in the caller's thread.  A block allocated by the producer and
 * freed by the consumer took glibc's malloc 45% of the time of a 64-byte
 * item passed between two threads on two cores (its free lists bouncing
 * between them); copying instead halved the CPU time per item.  A larger
 * item is copied by put() into a block of its own, which get() hands over
 * as it is.  The slots come in blocks of SLOTS_PER_BLOCK, kept in a list
 * (CPython's deque does the same): a queue grows without moving what it
 * holds, and a drained block is kept for reuse.
 *
 * A condition is signalled only for a waiter no signal is on its way to
 * yet (waiters and wake-ups are counted), so neither side makes a system
 * call while the other keeps up, and a producer does not signal again for
 * every item it puts while the consumer it woke is still getting up.
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

#define INLINE_MAX 120           /* the largest item kept in its slot: a slot is 128 bytes */
#define SLOTS_PER_BLOCK 64       /* 8 KiB a block */
#define SPARE_BLOCKS 2           /* drained blocks kept for the next puts */

typedef struct {
    size_t len;
    union {
        unsigned char bytes[INLINE_MAX]; /* len <= INLINE_MAX: the item */
        void *data;                      /* else: put's copy, for get's caller to mproc_free */
    } u;
} slot;

typedef struct block {
    struct block *next;
    slot slots[SLOTS_PER_BLOCK];
} block;

/* A condition and who waits on it (under the queue's mutex).  A waiter
 * that returns, woken or not, takes one wake-up off the count: a signal
 * meant for it but taken by another, or by nobody, is accounted for either
 * way, so the count never promises more wake-ups than are coming. */
typedef struct {
    mproc__cond *cv;
    unsigned waiters, woken;
} waitset;

typedef struct {
    mproc__obj obj; /* MPROC__T_QUEUE_LOCAL: how core/queue.c tells it from its own */
    int joinable;
    unsigned generation; /* fork_generation when made: another means a fork child's copy */
    size_t maxsize;
    atomic_size_t max_msg; /* read by put before it takes mu */
    mproc__mutex *mu;
    /* Everything below: mu. */
    waitset not_empty, not_full, all_done;
    block *head, *tail; /* items from head->slots[first] to tail->slots[end - 1] */
    size_t first, end, count;
    block *spare;   /* drained blocks, up to SPARE_BLOCKS */
    unsigned spares;
    size_t unfinished; /* joinable: put and not yet task_done */
    int closed;
} lqueue;
MPROC__TAG_FIRST(lqueue);

/* Bumped in the child of every fork: queues made before it are copies. */
static atomic_uint fork_generation;

static void bump_generation_after_fork(void) { atomic_fetch_add(&fork_generation, 1); }

static lqueue *lq(mproc_queue *q) { return (lqueue *)(void *)q; }

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

static void blocks_free(block *b)
{
    while (b) {
        block *next = b->next;
        free(b);
        b = next;
    }
}

static void lqueue_destroy(lqueue *q)
{
    block *b = q->head;
    for (size_t i = q->first, n = 0; n < q->count; i++, n++) {
        if (i == SLOTS_PER_BLOCK) {
            b = b->next;
            i = 0;
        }
        if (b->slots[i].len > INLINE_MAX)
            free(b->slots[i].u.data);
    }
    blocks_free(q->head);
    blocks_free(q->spare);
    mproc__plat_cond_free(q->not_empty.cv);
    mproc__plat_cond_free(q->not_full.cv);
    mproc__plat_cond_free(q->all_done.cv);
    mproc__plat_mutex_free(q->mu);
    mproc__obj_clear(&q->obj);
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
    mproc__obj_init(&q->obj, MPROC__T_QUEUE_LOCAL);
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

/* With mu held: the slot the next item goes to (a spare or a new block
 * when the tail block is full or there is none), or NULL when out of
 * memory (nothing changed). */
static slot *next_free_slot(lqueue *q)
{
    block *b;
    if (q->tail && q->end < SLOTS_PER_BLOCK)
        return &q->tail->slots[q->end];
    if ((b = q->spare) != NULL) {
        q->spare = b->next;
        q->spares--;
    } else if (!(b = malloc(sizeof *b))) {
        return NULL;
    }
    b->next = NULL;
    if (q->tail)
        q->tail->next = b;
    else
        q->head = b;
    q->tail = b;
    q->end = 0;
    if (q->count == 0)
        q->first = 0;
    return &b->slots[0];
}

/* With mu held and an item in the queue: takes the oldest one off, a
 * small one copied to small (INLINE_MAX bytes), a large one's block to
 * *big; returns its length.  A drained block becomes a spare. */
static size_t take_oldest(lqueue *q, void *small, void **big)
{
    block *b = q->head;
    slot *s = &b->slots[q->first++];
    size_t len = s->len;
    if (len > INLINE_MAX)
        *big = s->u.data;
    else if (len)
        memcpy(small, s->u.bytes, len);
    if (--q->count == 0) {
        /* Empty (so head is tail): start again at its first slot, which
         * keeps a queue drained as fast as it is filled in one block. */
        q->first = q->end = 0;
    } else if (q->first == SLOTS_PER_BLOCK) {
        q->head = b->next;
        q->first = 0;
        if (q->spares < SPARE_BLOCKS) {
            b->next = q->spare;
            q->spare = b;
            q->spares++;
        } else {
            free(b);
        }
    }
    return len;
}

int mproc__lqueue_put(mproc_queue *queue, const void *data, size_t len, double timeout)
{
    lqueue *q = lq(queue);
    double deadline = -1;
    size_t max;
    void *copy = NULL;
    slot *s = NULL;
    int rc = 0;

    if (mproc__timeout(&timeout) != 0)
        return mproc_last_error();
    if (!data && len > 0)
        return mproc__error(MPROC_EINVAL);
    if (inherited(q))
        return refuse_inherited();
    if (len > (max = atomic_load_explicit(&q->max_msg, memory_order_relaxed)))
        return mproc__errorf(MPROC_ETOOBIG, "item of %zu bytes exceeds the queue's limit of %zu", len, max);
    /* A large item's copy is made before the lock is taken: a getter never
     * waits on it. */
    if (len > INLINE_MAX) {
        if (!(copy = malloc(len)))
            return mproc__error(MPROC_ENOMEM);
        memcpy(copy, data, len);
    }
    mproc__plat_mutex_lock(q->mu);
    while (!q->closed && q->maxsize && q->count >= q->maxsize && rc == 0)
        rc = wait_on(q, &q->not_full, timeout, &deadline);
    if (q->closed)
        rc = MPROC_ESTATE;
    else if (rc == 0 && !(s = next_free_slot(q)))
        rc = MPROC_ENOMEM;
    if (rc == 0) {
        s->len = len;
        if (copy)
            s->u.data = copy;
        else if (len)
            memcpy(s->u.bytes, data, len);
        q->end++;
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
    size_t got = 0;
    void *small, *big = NULL;
    int rc = 0;

    if (mproc__timeout(&timeout) != 0)
        return mproc_last_error();
    if (!data || !len)
        return mproc__error(MPROC_EINVAL);
    *data = NULL;
    *len = 0;
    if (inherited(q))
        return refuse_inherited();
    /* Where a small item goes: allocated before the lock is taken, and
     * before anything is taken off (no item is lost to a failed malloc). */
    if (!(small = malloc(INLINE_MAX)))
        return mproc__error(MPROC_ENOMEM);
    mproc__plat_mutex_lock(q->mu);
    while (!q->closed && q->count == 0 && rc == 0)
        rc = wait_on(q, &q->not_empty, timeout, &deadline);
    if (q->closed) {
        rc = MPROC_ESTATE;
    } else if (rc == 0) {
        got = take_oldest(q, small, &big);
        wake_one(&q->not_full);
        if (got > atomic_load_explicit(&q->max_msg, memory_order_relaxed)) {
            /* Put before the limit was lowered: refused here, and done
             * with, so that a join does not wait for it. */
            rc = MPROC_ETOOBIG;
            if (q->joinable && --q->unfinished == 0)
                wake_all(&q->all_done);
        }
    }
    mproc__plat_mutex_unlock(q->mu);
    if (rc == 0) {
        if (big)
            free(small);
        *data = big ? big : small;
        *len = got;
        return 0;
    }
    free(small);
    free(big);
    if (rc == MPROC_ESTATE)
        return mproc__errorf(rc, "queue is closed");
    if (rc == MPROC_ETOOBIG)
        return mproc__errorf(rc, "an item of %zu bytes exceeds the queue's limit (lowered after it was put): dropped",
                             got);
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

int mproc__lqueue_join_timeout(mproc_queue *queue, double timeout)
{
    lqueue *q = lq(queue);
    double deadline = -1;
    int rc = 0;
    if (mproc__timeout(&timeout) != 0)
        return mproc_last_error();
    if (!q->joinable)
        return mproc__error(MPROC_EINVAL);
    if (inherited(q))
        return refuse_inherited();
    mproc__plat_mutex_lock(q->mu);
    while (rc == 0 && q->unfinished > 0)
        rc = wait_on(q, &q->all_done, timeout, &deadline);
    mproc__plat_mutex_unlock(q->mu);
    return rc ? mproc__error(rc) : 0;
}

int mproc__lqueue_join(mproc_queue *queue) { return mproc__lqueue_join_timeout(queue, -1); }

int mproc__lqueue_ready(mproc_queue *queue)
{
    lqueue *q = lq(queue);
    size_t count;
    if (inherited(q))
        return 1; /* a get fails at once */
    mproc__plat_mutex_lock(q->mu);
    count = q->count;
    mproc__plat_mutex_unlock(q->mu);
    return count > 0;
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
        /* The parent's: its list may be half-updated and its mutex held by
         * a thread this child lacks.  Left alone, as a fork child leaves
         * the rest of its parent's memory; a second free finds no tag. */
        mproc__obj_clear(&q->obj);
        return;
    }
    lqueue_destroy(q);
}
