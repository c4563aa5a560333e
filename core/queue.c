/*
 * Queues, as CPython's multiprocessing/queues.py: a pipe, a reader lock, a
 * writer lock, a bounded semaphore for maxsize, and in each process that
 * puts, a feeder thread that moves items from a local buffer into the pipe
 * so that put() on an unbounded queue never blocks on a full pipe.  The
 * feeder writes everything buffered in one go: many frames per system call.
 *
 * Unlike CPython, qsize() works everywhere (a shared counter), and a dead
 * peer cannot hang anyone: the locks are robust, so a process killed while
 * holding one breaks the queue (MPROC_EBROKEN for everybody) instead of
 * deadlocking it, and a reader never waits on a message whose writer died.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "queue_local.h"

#define LIVENESS_SLICE MPROC__LIVENESS_SLICE /* how often a blocked reader checks its writer */

enum { Q_PLAIN = 1, Q_SIMPLE, Q_JOINABLE };

/* What a process has put and its feeder has not written yet: a list of
 * chunks of about CHUNK_SIZE (an item larger than that gets one of its own),
 * so a fast producer is bounded by memory, not by one contiguous buffer
 * (CPython's deque has no cap either).  A frame never spans two chunks. */
#define CHUNK_SIZE ((size_t)1 << 20)
typedef struct chunk {
    struct chunk *next;
    size_t len, cap;
    unsigned char data[];
} chunk;

static void chunks_free(chunk *c)
{
    while (c) {
        chunk *next = c->next;
        free(c);
        c = next;
    }
}
enum { RLOCK, WLOCK, SLOTS };

typedef struct {
    atomic_long items;      /* put and not yet got */
    atomic_long unfinished; /* joinable: put and not yet task_done */
    atomic_int broken;
    atomic_int one_at_a_time; /* no read-ahead: mproc_object_fd was asked for the pipe */
} queue_state;

/* The read-ahead: the pipe's next bytes, data[start, end), read by one
 * consumer beyond the item it wanted and kept in the queue's shared block
 * for whichever consumer gets next, so that one read() serves many small
 * items.  Only a holder of the reader lock touches it: a consumer killed
 * while copying from it breaks the queue as one killed mid-read does.
 * 64 KiB: a pipe holds that much (Linux's default; the size of a Windows
 * pipe from mproc__plat_pipe), so one read can empty it.  A frame over a
 * quarter of it never waits in it: its body goes straight into the item,
 * and moving a frame's beginning to the front to make room for its rest
 * stays cheap.  After such a large frame the next header is read alone, as
 * before the read-ahead: a stream of large items is copied once, not
 * through here too. */
#define READAHEAD_SIZE ((size_t)64 << 10)
#define READAHEAD_FRAME_MAX (READAHEAD_SIZE / 4)
typedef struct {
    uint32_t start, end;
    uint32_t after_large; /* the last frame went past: read the next header alone */
    unsigned char data[READAHEAD_SIZE];
} readahead;

struct mproc_queue {
    mproc__obj obj; /* MPROC__T_QUEUE; a thread context's queue has MPROC__T_QUEUE_LOCAL */
    int kind;
    size_t maxsize, max_msg;
    mproc__handle rd, wr;
    mproc__block b;
    mproc_cond *tasks; /* joinable */
    /* this process's side: the feeder and what it has yet to write */
    mproc__mutex *mu;
    mproc__cond *cv;
    chunk *head, *tail; /* frames put and not yet written, oldest first */
    chunk *spare;       /* a written chunk kept for the next puts */
    mproc__child *feeder;
    atomic_int closed; /* read without mu by put and get */
    int cancel_join;
    atomic_int abandon; /* freed after cancel_join_thread: stop writing */
    mproc__link link; /* in live: the queues of this process */
};
MPROC__TAG_FIRST(struct mproc_queue);

static mproc__link *live; /* global lock */

static void close_all_at_exit(void);
static void flush_all_at_exit(void);
static void reset_locals_after_fork(void);

static queue_state *state_of(mproc_queue *q) { return q->b.state; }

static int is_broken(mproc_queue *q) { return atomic_load(&state_of(q)->broken); }

static int mark_broken(mproc_queue *q)
{
    if (!atomic_exchange(&state_of(q)->broken, 1))
        mproc__log(MPROC_LOG_ERROR, "queue broken: a process died while holding its lock or mid-message");
    return MPROC_EBROKEN;
}

/* Whether the holder of lock which (RLOCK or WLOCK) died holding it: then
 * the queue is marked broken while this caller holds the lock in its place
 * (so no writer adds a frame after that) and MPROC_EBROKEN is returned.
 * A lock that is free or held by a live process reads as 0.  Called by a
 * side that has waited a slice for the other: a writer for room (is the
 * reader alive?), a reader for a header (is the writer?), a bounded put
 * for a slot.  Never with which held by the caller. */
static int holder_died(mproc_queue *q, int which)
{
    int rc = mproc__plat_pmutex_acquire(&q->b.prims[which], 0);
    if (rc == MPROC_ETIMEDOUT)
        return 0;
    if (rc == MPROC_EBROKEN)
        mark_broken(q);
    if (rc == 0 || rc == MPROC_EBROKEN)
        mproc__plat_pmutex_release(&q->b.prims[which]);
    return rc == MPROC_EBROKEN ? rc : 0;
}

static void register_live(mproc_queue *q)
{
    /* Before the global lock: registering takes it. */
    mproc__on_exit(MPROC__EXIT_CLOSE, close_all_at_exit);
    mproc__on_exit(MPROC__EXIT_FLUSH, flush_all_at_exit);
    mproc__on_fork_child(reset_locals_after_fork);
    mproc__link_add(&live, &q->link, q);
}

static int local_init(mproc_queue *q)
{
    q->mu = mproc__plat_mutex_new();
    q->cv = mproc__plat_cond_new();
    q->head = q->tail = q->spare = NULL;
    q->feeder = NULL;
    q->closed = q->cancel_join = 0;
    return q->mu && q->cv ? 0 : MPROC_ENOMEM;
}

static void queue_destroy(mproc_queue *q)
{
    mproc__plat_mutex_free(q->mu);
    mproc__plat_cond_free(q->cv);
    chunks_free(q->head);
    chunks_free(q->spare);
    if (q->rd != MPROC__NO_HANDLE)
        mproc__plat_close(q->rd);
    if (q->wr != MPROC__NO_HANDLE)
        mproc__plat_close(q->wr);
    if (q->b.shm)
        mproc__block_free(&q->b);
    if (q->tasks)
        mproc_cond_free(q->tasks);
    mproc__obj_clear(&q->obj);
    free(q);
}

static mproc_queue *queue_create(mproc_ctx *ctx, int kind, size_t maxsize)
{
    static const int kinds[] = {MPROC__PRIM_MUTEX, MPROC__PRIM_MUTEX, MPROC__PRIM_SEM};
    unsigned values[] = {0, 0, (unsigned)maxsize};
    mproc__handle h[2];
    mproc_queue *q;
    int rc;

    if (!mproc__ctx_ok(ctx))
        return mproc__null(MPROC_EINVAL);
    if (mproc__ctx_method(ctx) == MPROC_THREAD)
        return mproc__lqueue_new(maxsize, kind == Q_JOINABLE);
    if (maxsize > 0x7fffffffu)
        return mproc__null(MPROC_EINVAL);
    if (!(q = calloc(1, sizeof *q)))
        return mproc__null(MPROC_ENOMEM);
    mproc__obj_init(&q->obj, MPROC__T_QUEUE);
    q->kind = kind;
    q->maxsize = maxsize;
    q->max_msg = MPROC__MSG_DEFAULT_MAX;
    q->rd = q->wr = MPROC__NO_HANDLE;
    rc = local_init(q);
    if (rc == 0 && (rc = mproc__plat_pipe(MPROC__PIPE_LARGE, h)) == 0) {
        q->rd = h[0];
        q->wr = h[1];
    }
    if (rc == 0)
        rc = mproc__block_new_area(&q->b, sizeof(queue_state), sizeof(readahead), kinds, values, values,
                                   maxsize ? 3 : 2);
    if (rc == 0 && kind == Q_JOINABLE && !(q->tasks = mproc_cond_new(ctx, NULL)))
        rc = mproc_last_error();
    if (rc != 0) {
        queue_destroy(q);
        return mproc__raise_null(rc);
    }
    register_live(q);
    return q;
}

mproc_queue *mproc_queue_new(mproc_ctx *ctx, size_t maxsize) { return queue_create(ctx, Q_PLAIN, maxsize); }

mproc_queue *mproc_joinable_queue_new(mproc_ctx *ctx, size_t maxsize)
{
    return queue_create(ctx, Q_JOINABLE, maxsize);
}

mproc_queue *mproc_simple_queue_new(mproc_ctx *ctx) { return queue_create(ctx, Q_SIMPLE, 0); }

int mproc_queue_set_max_message(mproc_queue *q, size_t max)
{
    if (mproc__is(q, MPROC__T_QUEUE_LOCAL))
        return mproc__lqueue_set_max_message(q, max);
    if (!mproc__is(q, MPROC__T_QUEUE) || max > UINT32_MAX)
        return mproc__error(MPROC_EINVAL);
    q->max_msg = max;
    return 0;
}

/* ---- writing ---------------------------------------------------------------- */

/* Writes whole frames under the writer lock.  A writer that died holding
 * it left half a frame in the pipe: whoever takes the lock from the dead
 * marks the queue broken while still holding it, and every writer checks
 * the mark once it holds the lock, so no frame ever follows a torn one (it
 * would complete the torn item with another item's bytes).  Waits for room
 * in slices so that a queue broken meanwhile, or a reader that died holding
 * the reader lock, stops the wait (the exit flush included). */
static int write_frames(mproc_queue *q, const unsigned char *p, size_t len)
{
    int rc = mproc__plat_pmutex_acquire(&q->b.prims[WLOCK], -1);
    if (rc != 0 && rc != MPROC_EBROKEN)
        return rc;
    mproc__log_hold();
    if (rc == MPROC_EBROKEN)
        mark_broken(q); /* a writer died mid-batch; we hold its lock now */
    else if (is_broken(q))
        rc = MPROC_EBROKEN;
    while (len > 0 && rc == 0) {
        long n = mproc__plat_write_timed(q->wr, p, len, LIVENESS_SLICE);
        if (n < 0)
            rc = (int)n;
        else if (is_broken(q))
            rc = MPROC_EBROKEN; /* a reader found the stream unusable */
        else if (n == 0 && atomic_load(&q->abandon))
            rc = MPROC_ECLOSED; /* may tear a frame: CPython's cancel_join_thread may too */
        else if (n == 0)
            rc = holder_died(q, RLOCK); /* a reader killed mid-message never reads on */
        p += n > 0 ? n : 0;
        len -= n > 0 ? (size_t)n : 0;
    }
    mproc__plat_pmutex_release(&q->b.prims[WLOCK]);
    mproc__log_release();
    return rc;
}

static int feeder_main(void *ud)
{
    mproc_queue *q = ud;
    for (;;) {
        chunk *batch;
        mproc__plat_mutex_lock(q->mu);
        while (!q->head && !q->closed)
            mproc__plat_cond_wait(q->cv, q->mu, -1);
        if (!q->head) {
            mproc__plat_mutex_unlock(q->mu);
            return 0;
        }
        batch = q->head;
        q->head = q->tail = NULL;
        mproc__plat_mutex_unlock(q->mu);
        /* Every frame buffered so far, a chunk per call: as few system calls
         * as the pipe allows. */
        for (chunk *c = batch; c; c = c->next)
            if (c->len > 0)
                (void)write_frames(q, c->data, c->len);
        /* One chunk of the usual size is kept: no allocation per batch. */
        mproc__plat_mutex_lock(q->mu);
        if (!q->spare && !q->closed && batch->cap == CHUNK_SIZE) {
            chunk *rest = batch->next;
            batch->next = NULL;
            batch->len = 0;
            q->spare = batch;
            batch = rest;
        }
        mproc__plat_mutex_unlock(q->mu);
        chunks_free(batch);
    }
}

/* With q->mu held: a chunk at the tail with room for need bytes, or NULL. */
static chunk *room_for(mproc_queue *q, size_t need)
{
    chunk *c = q->tail;
    if (c && c->cap - c->len >= need)
        return c;
    if (need <= CHUNK_SIZE && q->spare) {
        c = q->spare;
        q->spare = NULL;
    } else if (!(c = malloc(sizeof *c + (need > CHUNK_SIZE ? need : CHUNK_SIZE)))) {
        return NULL;
    } else {
        c->cap = need > CHUNK_SIZE ? need : CHUNK_SIZE;
    }
    c->next = NULL;
    c->len = 0;
    if (q->tail)
        q->tail->next = c;
    else
        q->head = c;
    q->tail = c;
    return c;
}

static int enqueue_locally(mproc_queue *q, const void *data, size_t len)
{
    unsigned char hdr[MPROC__MSG_HDR];
    size_t need = sizeof hdr + len;
    chunk *c;
    int rc = 0;

    mproc__msg_header(hdr, len);
    mproc__plat_mutex_lock(q->mu);
    if (q->closed) {
        rc = MPROC_ESTATE;
    } else if (!(c = room_for(q, need))) {
        rc = MPROC_ENOMEM;
    } else {
        memcpy(c->data + c->len, hdr, sizeof hdr);
        if (len)
            memcpy(c->data + c->len + sizeof hdr, data, len);
        c->len += need;
        if (!q->feeder && (rc = mproc__fault_hit(MPROC__FAULT_FEEDER_START)
                                    ? mproc__error(MPROC_ESYS) /* as with no descriptor left */
                                    : mproc__plat_thread_start(&q->feeder, feeder_main, q)) != 0) {
            q->feeder = NULL;
            c->len -= need; /* not queued after all */
        }
        mproc__plat_cond_signal(q->cv);
    }
    mproc__plat_mutex_unlock(q->mu);
    return rc;
}

/* While a bounded put waits for a slot: the queue broke, or a reader or
 * writer died holding its lock (then nobody would ever free a slot). */
static int slot_never_comes(void *ud)
{
    mproc_queue *q = ud;
    if (is_broken(q))
        return MPROC_EBROKEN;
    return holder_died(q, RLOCK) ? MPROC_EBROKEN : holder_died(q, WLOCK);
}

/* Takes the JoinableQueue's task lock; a process that died holding it
 * breaks the queue (it may have died mid-count). */
static int lock_tasks(mproc_queue *q)
{
    int rc = mproc_lock_acquire(mproc_cond_lock(q->tasks), -1);
    if (rc == MPROC_EBROKEN) {
        mark_broken(q);
        mproc_lock_release(mproc_cond_lock(q->tasks));
    }
    return rc;
}

int mproc_queue_put(mproc_queue *q, const void *data, size_t len, double timeout)
{
    int rc;
    if (mproc__is(q, MPROC__T_QUEUE_LOCAL))
        return mproc__lqueue_put(q, data, len, timeout);
    if (mproc__timeout(&timeout) != 0)
        return mproc_last_error();

    if (!mproc__is(q, MPROC__T_QUEUE) || (!data && len > 0))
        return mproc__error(MPROC_EINVAL);
    if (len > q->max_msg)
        return mproc__errorf(MPROC_ETOOBIG, "item of %zu bytes exceeds the queue's limit of %zu", len, q->max_msg);
    if (is_broken(q))
        return mproc__error(MPROC_EBROKEN);
    if (q->closed)
        return mproc__errorf(MPROC_ESTATE, "queue is closed");
    if (q->maxsize && (rc = mproc__psem_acquire_watching(&q->b.prims[SLOTS], timeout, slot_never_comes, q)) != 0)
        return mproc__error(rc == MPROC_ETIMEDOUT ? MPROC_EFULL : rc);
    if (q->kind == Q_JOINABLE) {
        if ((rc = lock_tasks(q)) != 0) {
            if (q->maxsize)
                mproc__plat_psem_release(&q->b.prims[SLOTS]);
            return mproc__raise(rc);
        }
        atomic_fetch_add(&state_of(q)->unfinished, 1);
        mproc_lock_release(mproc_cond_lock(q->tasks));
    }
    atomic_fetch_add(&state_of(q)->items, 1);
    if (q->kind == Q_SIMPLE) {
        unsigned char hdr[MPROC__MSG_HDR];
        mproc__buf frame = {0};
        mproc__msg_header(hdr, len);
        mproc__buf_bytes(&frame, hdr, sizeof hdr);
        mproc__buf_bytes(&frame, data, len);
        rc = frame.failed ? MPROC_ENOMEM : write_frames(q, frame.data, frame.len);
        mproc__buf_free(&frame);
    } else {
        rc = enqueue_locally(q, data, len);
    }
    if (rc != 0) {
        atomic_fetch_sub(&state_of(q)->items, 1);
        if (q->maxsize)
            mproc__plat_psem_release(&q->b.prims[SLOTS]);
        /* The item never went in: neither does its task (else join hangs). */
        if (q->kind == Q_JOINABLE)
            (void)mproc_queue_task_done(q);
        return mproc__raise(rc);
    }
    return 0;
}

int mproc_queue_put_nowait(mproc_queue *q, const void *data, size_t len) { return mproc_queue_put(q, data, len, 0); }

/* ---- reading ---------------------------------------------------------------- */

/* Reads 1..n bytes of a message that has begun.  While none arrive it
 * checks the writer: a writer lock that is free (nobody is writing) or
 * abandoned (the writer died) means the rest will never come. */
static long read_more(mproc_queue *q, unsigned char *p, size_t n)
{
    for (;;) {
        long got = mproc__plat_read_timed(q->rd, p, n, LIVENESS_SLICE);
        int rc;
        if (got != 0)
            return got == MPROC_ECLOSED ? mark_broken(q) : got;
        if (is_broken(q))
            return MPROC_EBROKEN;
        rc = mproc__plat_pmutex_acquire(&q->b.prims[WLOCK], 0);
        if (rc == MPROC_ETIMEDOUT)
            continue; /* a live writer is mid-write */
        if (rc != 0 && rc != MPROC_EBROKEN)
            return rc;
        /* Free (nobody is writing) or taken from a dead writer: the rest
         * will never come.  Marked while holding it, so no writer adds
         * a frame to the torn one. */
        rc = mark_broken(q);
        mproc__plat_pmutex_release(&q->b.prims[WLOCK]);
        return rc;
    }
}

/* Reads exactly n bytes of a message that has begun (as read_more). */
static int read_rest(mproc_queue *q, unsigned char *p, size_t n)
{
    while (n > 0) {
        long got = read_more(q, p, n);
        if (got < 0)
            return (int)got;
        p += got;
        n -= (size_t)got;
    }
    return 0;
}

/* Waits up to timeout for the first bytes of a message and reads 1..n
 * bytes, in slices: a writer that died holding the writer lock (even
 * between two frames) will never write on, and nobody else can, so waiting
 * would never end.  The count, 0 when the timeout passed, or an error. */
static long read_first(mproc_queue *q, unsigned char *p, size_t n, double timeout)
{
    double deadline = mproc__plat_now() + timeout;
    for (;;) {
        double slice = LIVENESS_SLICE;
        long got;
        if (timeout >= 0) {
            double left = deadline - mproc__plat_now();
            slice = left < slice ? (left > 0 ? left : 0) : slice;
        }
        got = mproc__plat_read_timed(q->rd, p, n, slice);
        if (got != 0)
            return got == MPROC_ECLOSED ? mark_broken(q) : got;
        if (is_broken(q))
            return MPROC_EBROKEN;
        if (holder_died(q, WLOCK))
            return MPROC_EBROKEN;
        if (timeout >= 0 && mproc__plat_now() >= deadline)
            return 0;
    }
}

/* With the reader lock held: one read of whatever the pipe has into the
 * read-ahead's free space, mid-message (waiting as read_more does), or,
 * when the queue reads one item at a time, of no more than the need bytes
 * the frame being read lacks.  Never called when it is full: the frame
 * being read fits before its end. */
static int readahead_fill(mproc_queue *q, readahead *ra, size_t need, int one)
{
    size_t room = READAHEAD_SIZE - ra->end;
    long got = read_more(q, ra->data + ra->end, one && need < room ? need : room);
    if (got < 0)
        return (int)got;
    ra->end += (uint32_t)got;
    return 0;
}

/* Moves what the read-ahead holds (the start of one frame that fits it)
 * to its front, so that the rest of that frame fits after it. */
static void readahead_compact(readahead *ra)
{
    memmove(ra->data, ra->data + ra->start, ra->end - ra->start);
    ra->end -= ra->start;
    ra->start = 0;
}

/* With the reader lock held: the next item, from the read-ahead when it
 * holds one, else from the pipe through it (one read brings as much of the
 * stream as the pipe has) or, for the body of a large frame, straight into
 * the item.  The wait for a message to begin is bounded by timeout; once
 * one has begun its rest must come (or its writer be gone). */
static int read_message(mproc_queue *q, void **data, size_t *len, double timeout)
{
    readahead *ra = q->b.area;
    unsigned char *body;
    size_t have;
    int rc = 0, one = atomic_load(&state_of(q)->one_at_a_time);

    if (ra->start > ra->end || ra->end > READAHEAD_SIZE)
        return mark_broken(q); /* not what any reader leaves behind */
    if (ra->start == ra->end) {
        long got = read_first(q, ra->data, ra->after_large || one ? MPROC__MSG_HDR : READAHEAD_SIZE, timeout);
        if (got <= 0)
            return got == 0 ? MPROC_EEMPTY : (int)got;
        ra->start = 0;
        ra->end = (uint32_t)got;
    }
    if (ra->start + MPROC__MSG_HDR > READAHEAD_SIZE)
        readahead_compact(ra);
    while (rc == 0 && ra->end - ra->start < MPROC__MSG_HDR)
        rc = readahead_fill(q, ra, MPROC__MSG_HDR - (ra->end - ra->start), one);
    if (rc != 0)
        return rc;
    if (mproc__msg_parse(ra->data + ra->start, q->max_msg, len) != 0)
        return mark_broken(q); /* the stream lost its framing */
    if (!(body = malloc(*len ? *len : 1)))
        return mark_broken(q); /* cannot skip it safely either */
    if (*len <= READAHEAD_FRAME_MAX - MPROC__MSG_HDR) {
        if (ra->start + MPROC__MSG_HDR + *len > READAHEAD_SIZE)
            readahead_compact(ra);
        while (rc == 0 && ra->end - ra->start - MPROC__MSG_HDR < *len)
            rc = readahead_fill(q, ra, MPROC__MSG_HDR + *len - (ra->end - ra->start), one);
    }
    have = ra->end - ra->start - MPROC__MSG_HDR; /* of the body */
    if (rc == 0 && have >= *len) {
        memcpy(body, ra->data + ra->start + MPROC__MSG_HDR, *len);
        ra->start += (uint32_t)(MPROC__MSG_HDR + *len);
        ra->after_large = 0;
    } else if (rc == 0) {
        /* A large frame, and all the read-ahead holds is its beginning. */
        memcpy(body, ra->data + ra->start + MPROC__MSG_HDR, have);
        ra->start = ra->end = 0;
        ra->after_large = 1;
        rc = read_rest(q, body + have, *len - have);
    }
    if (rc != 0) {
        free(body);
        return rc;
    }
    *data = body;
    return 0;
}

int mproc_queue_get(mproc_queue *q, void **data, size_t *len, double timeout)
{
    double waited = 0;
    int rc;
    if (mproc__is(q, MPROC__T_QUEUE_LOCAL))
        return mproc__lqueue_get(q, data, len, timeout);
    if (mproc__timeout(&timeout) != 0)
        return mproc_last_error();

    if (!mproc__is(q, MPROC__T_QUEUE) || !data || !len)
        return mproc__error(MPROC_EINVAL);
    *data = NULL;
    *len = 0;
    if (is_broken(q))
        return mproc__error(MPROC_EBROKEN);
    if (q->closed)
        return mproc__errorf(MPROC_ESTATE, "queue is closed");
    /* A free lock is taken without reading the clock: with the read-ahead
     * holding the item, the clock would be most of a get's cost. */
    rc = mproc__plat_pmutex_acquire(&q->b.prims[RLOCK], 0);
    if (rc == MPROC_ETIMEDOUT && timeout != 0) {
        double t0 = mproc__plat_now();
        rc = mproc__plat_pmutex_acquire(&q->b.prims[RLOCK], timeout);
        waited = mproc__plat_now() - t0;
    }
    if (rc == MPROC_ETIMEDOUT)
        return mproc__error(MPROC_EEMPTY);
    if (rc == MPROC_EBROKEN) {
        /* The previous reader died holding it, perhaps mid-message. */
        mproc__log_hold();
        rc = mark_broken(q);
        mproc__plat_pmutex_release(&q->b.prims[RLOCK]);
        mproc__log_release();
        return mproc__raise(rc);
    }
    if (rc != 0)
        return mproc__raise(rc);
    mproc__log_hold();
    rc = is_broken(q) ? MPROC_EBROKEN
                      : read_message(q, data, len, timeout < 0 ? -1 : timeout > waited ? timeout - waited : 0);
    mproc__plat_pmutex_release(&q->b.prims[RLOCK]);
    mproc__log_release();
    if (rc != 0)
        return mproc__raise(rc);
    atomic_fetch_sub(&state_of(q)->items, 1);
    if (q->maxsize)
        mproc__plat_psem_release(&q->b.prims[SLOTS]);
    return 0;
}

int mproc_queue_get_nowait(mproc_queue *q, void **data, size_t *len) { return mproc_queue_get(q, data, len, 0); }

/* ---- size, joinable, lifetime ----------------------------------------------- */

int mproc_queue_qsize(mproc_queue *q, size_t *n)
{
    long items;
    if (mproc__is(q, MPROC__T_QUEUE_LOCAL))
        return mproc__lqueue_qsize(q, n);
    if (!mproc__is(q, MPROC__T_QUEUE) || !n)
        return mproc__error(MPROC_EINVAL);
    if (is_broken(q)) {
        *n = 0; /* nothing can be got any more: what was put will never come */
        return mproc__error(MPROC_EBROKEN);
    }
    items = atomic_load(&state_of(q)->items);
    *n = items > 0 ? (size_t)items : 0;
    return 0;
}

int mproc_queue_empty(mproc_queue *q)
{
    size_t n = 0;
    return mproc_queue_qsize(q, &n) == 0 ? n == 0 : mproc_last_error();
}

int mproc_queue_full(mproc_queue *q)
{
    size_t n = 0;
    if (mproc__is(q, MPROC__T_QUEUE_LOCAL))
        return mproc__lqueue_full(q);
    if (mproc_queue_qsize(q, &n) != 0)
        return mproc_last_error();
    return q->maxsize > 0 && n >= q->maxsize;
}

int mproc_queue_task_done(mproc_queue *q)
{
    int rc = 0;
    if (mproc__is(q, MPROC__T_QUEUE_LOCAL))
        return mproc__lqueue_task_done(q);
    if (!mproc__is(q, MPROC__T_QUEUE) || q->kind != Q_JOINABLE)
        return mproc__error(MPROC_EINVAL);
    if (is_broken(q))
        return mproc__error(MPROC_EBROKEN);
    if ((rc = lock_tasks(q)) != 0)
        return mproc__raise(rc);
    if (atomic_load(&state_of(q)->unfinished) <= 0)
        rc = MPROC_ESTATE;
    else if (atomic_fetch_sub(&state_of(q)->unfinished, 1) == 1)
        mproc_cond_notify_all(q->tasks);
    mproc_lock_release(mproc_cond_lock(q->tasks));
    return rc ? mproc__errorf(rc, "task_done() called too many times") : 0;
}

int mproc_queue_join_timeout(mproc_queue *q, double timeout)
{
    double deadline;
    int rc;
    if (mproc__is(q, MPROC__T_QUEUE_LOCAL))
        return mproc__lqueue_join_timeout(q, timeout);
    if (mproc__timeout(&timeout) != 0)
        return mproc_last_error();
    if (!mproc__is(q, MPROC__T_QUEUE) || q->kind != Q_JOINABLE)
        return mproc__error(MPROC_EINVAL);
    deadline = mproc__plat_now() + timeout;
    if ((rc = lock_tasks(q)) != 0)
        return mproc__raise(rc);
    /* In slices: a queue that breaks meanwhile ends the wait. */
    while (rc == 0 && atomic_load(&state_of(q)->unfinished) > 0) {
        double slice = LIVENESS_SLICE;
        if (timeout >= 0) {
            double left = deadline - mproc__plat_now();
            if (left <= 0) {
                rc = MPROC_ETIMEDOUT;
                break;
            }
            slice = left < slice ? left : slice;
        }
        if (is_broken(q))
            rc = MPROC_EBROKEN;
        else if (mproc_cond_wait(q->tasks, slice) == MPROC_EBROKEN)
            rc = mark_broken(q);
    }
    mproc_lock_release(mproc_cond_lock(q->tasks));
    return rc ? mproc__raise(rc) : 0;
}

int mproc_queue_join(mproc_queue *q) { return mproc_queue_join_timeout(q, -1); }

void mproc_queue_close(mproc_queue *q)
{
    if (mproc__is(q, MPROC__T_QUEUE_LOCAL)) {
        mproc__lqueue_close(q);
        return;
    }
    if (!mproc__is(q, MPROC__T_QUEUE))
        return;
    mproc__plat_mutex_lock(q->mu);
    q->closed = 1;
    mproc__plat_cond_signal(q->cv);
    mproc__plat_mutex_unlock(q->mu);
}

int mproc_queue_join_thread(mproc_queue *q)
{
    mproc__child *feeder;
    int code;
    if (mproc__is(q, MPROC__T_QUEUE_LOCAL))
        return mproc__lqueue_join_thread(q);
    if (!mproc__is(q, MPROC__T_QUEUE))
        return mproc__error(MPROC_EINVAL);
    mproc__plat_mutex_lock(q->mu);
    feeder = q->closed ? q->feeder : NULL;
    if (q->closed)
        q->feeder = NULL;
    mproc__plat_mutex_unlock(q->mu);
    if (!q->closed)
        return mproc__errorf(MPROC_ESTATE, "join_thread() needs close() first");
    if (feeder) {
        mproc__plat_child_wait(feeder, -1, &code);
        mproc__plat_child_free(feeder);
    }
    return 0;
}

void mproc_queue_cancel_join_thread(mproc_queue *q)
{
    if (!mproc__is(q, MPROC__T_QUEUE)) /* a thread context's queue has no feeder to cancel */
        return;
    mproc__plat_mutex_lock(q->mu);
    q->cancel_join = 1;
    mproc__plat_mutex_unlock(q->mu);
}

void mproc_queue_free(mproc_queue *q)
{
    if (mproc__is(q, MPROC__T_QUEUE_LOCAL)) {
        mproc__lqueue_free(q);
        return;
    }
    if (!mproc__is(q, MPROC__T_QUEUE))
        return;
    mproc__link_remove(&live, &q->link);
    mproc_queue_close(q);
    if (q->cancel_join) {
        /* Whatever is still buffered is dropped, as CPython drops it, and a
         * feeder waiting for room in the pipe gives up within a slice. */
        mproc__plat_mutex_lock(q->mu);
        chunks_free(q->head);
        q->head = q->tail = NULL;
        atomic_store(&q->abandon, 1);
        mproc__plat_mutex_unlock(q->mu);
    }
    mproc_queue_join_thread(q);
    queue_destroy(q);
}

/* Tests only: the queue's pipe; holding the reader lock in the middle of a
 * message (what a consumer killed mid-message leaves behind: the first
 * byte of the next item taken from the read-ahead, read into it first
 * when empty); the bytes the read-ahead holds; holding the writer lock
 * with half a header written (a producer killed mid-write). */
/* ---- waiting on several objects (core/wait.c) ------------------------------- */

mproc__handle mproc__queue_wait_handle(mproc_queue *q)
{
    return mproc__is(q, MPROC__T_QUEUE_LOCAL) ? MPROC__NO_HANDLE : q->rd;
}

int mproc__queue_ready(mproc_queue *q)
{
    readahead *ra;
    int rc, ready;
    if (mproc__is(q, MPROC__T_QUEUE_LOCAL))
        return mproc__lqueue_ready(q);
    if (is_broken(q))
        return 1; /* a get fails at once */
    /* The read-ahead belongs to whoever holds the reader lock: a reader at
     * work now leaves it to the pipe, or to the caller's next look. */
    rc = mproc__plat_pmutex_acquire(&q->b.prims[RLOCK], 0);
    if (rc == MPROC_ETIMEDOUT)
        return 0;
    if (rc != 0 && rc != MPROC_EBROKEN)
        return 1; /* let the get report it */
    mproc__log_hold();
    ra = q->b.area;
    ready = rc == MPROC_EBROKEN ? (mark_broken(q), 1) : ra->start != ra->end;
    mproc__plat_pmutex_release(&q->b.prims[RLOCK]);
    mproc__log_release();
    return ready;
}

mproc__handle mproc__queue_write_handle(mproc_queue *q) { return q->wr; }

/* mproc_object_fd: from now on no consumer keeps items in the read-ahead,
 * so that the pipe is readable whenever one is left. */
int mproc__queue_read_one_at_a_time(mproc_queue *q)
{
    if (is_broken(q))
        return MPROC_EBROKEN;
    atomic_store(&state_of(q)->one_at_a_time, 1);
    return 0;
}

int mproc__queue_hold_reader_mid_message(mproc_queue *q)
{
    readahead *ra = q->b.area;
    int rc = mproc__plat_pmutex_acquire(&q->b.prims[RLOCK], -1);
    if (rc != 0)
        return rc;
    if (ra->start == ra->end) {
        long got = mproc__plat_read_timed(q->rd, ra->data, READAHEAD_SIZE, -1);
        if (got <= 0)
            return MPROC_EBROKEN;
        ra->start = 0;
        ra->end = (uint32_t)got;
    }
    ra->start++; /* the first byte of the next item taken */
    return 0;
}

size_t mproc__queue_read_ahead(mproc_queue *q)
{
    readahead *ra = q->b.area;
    size_t n;
    int rc = mproc__plat_pmutex_acquire(&q->b.prims[RLOCK], -1);
    if (rc != 0 && rc != MPROC_EBROKEN)
        return 0;
    mproc__log_hold();
    if (rc == MPROC_EBROKEN)
        mark_broken(q); /* before the release hides the death */
    n = rc == 0 ? ra->end - ra->start : 0;
    mproc__plat_pmutex_release(&q->b.prims[RLOCK]);
    mproc__log_release();
    return n;
}

int mproc__queue_hold_writer_mid_message(mproc_queue *q, size_t body)
{
    unsigned char frame[MPROC__MSG_HDR + 4096];
    size_t half = body ? MPROC__MSG_HDR + body / 2 : MPROC__MSG_HDR / 2;
    int rc = mproc__plat_pmutex_acquire(&q->b.prims[WLOCK], -1);
    if (rc != 0)
        return rc;
    if (half > sizeof frame)
        return MPROC_EINVAL;
    memset(frame, 'v', sizeof frame);
    mproc__msg_header(frame, body ? body : 100);
    atomic_fetch_add(&state_of(q)->items, 1);
    return mproc__write_fully(q->wr, frame, half);
}

int mproc__queue_hold_writer_between_frames(mproc_queue *q, int frames)
{
    unsigned char frame[MPROC__MSG_HDR + 4];
    int rc = mproc__plat_pmutex_acquire(&q->b.prims[WLOCK], -1);
    mproc__msg_header(frame, 4);
    memcpy(frame + MPROC__MSG_HDR, "item", 4);
    for (int i = 0; i < frames && rc == 0; i++) {
        atomic_fetch_add(&state_of(q)->items, 1);
        rc = mproc__write_fully(q->wr, frame, sizeof frame);
    }
    return rc;
}

unsigned mproc__queue_task_sleepers(mproc_queue *q) { return q->tasks ? mproc__cond_sleepers(q->tasks) : 0; }

mproc_lock *mproc__queue_task_lock(mproc_queue *q) { return q->kind == Q_JOINABLE ? mproc_cond_lock(q->tasks) : NULL; }

int mproc__queue_reader_lock_free(mproc_queue *q)
{
    int rc = mproc__plat_pmutex_acquire(&q->b.prims[RLOCK], 0);
    if (rc != 0 && rc != MPROC_EBROKEN)
        return 0;
    mproc__plat_pmutex_release(&q->b.prims[RLOCK]);
    return 1;
}

/* At exit (CPython's finalizers around _exit_function): close every queue
 * so feeders finish after flushing; after the children were joined, wait
 * for the feeders, except where cancel_join_thread said not to. */
static void close_all_at_exit(void)
{
    mproc__plat_global_lock();
    for (mproc__link *l = live; l; l = l->next)
        mproc_queue_close(l->obj);
    mproc__plat_global_unlock();
}

static void flush_all_at_exit(void)
{
    for (;;) {
        mproc_queue *q = NULL;
        /* The next queue whose feeder has items to flush. */
        mproc__plat_global_lock();
        for (mproc__link *l = live; l && !q; l = l->next) {
            mproc_queue *each = l->obj;
            if (!each->cancel_join && each->feeder)
                q = each;
        }
        mproc__plat_global_unlock();
        if (!q)
            return;
        mproc_queue_join_thread(q);
    }
}

/* In a forked child: the parent's feeders do not exist here, and what they
 * had buffered is theirs to write.  Start this process's side afresh (the
 * old mutex may have been held by a thread that is gone). */
static void reset_locals_after_fork(void)
{
    for (mproc__link *l = live; l; l = l->next)
        (void)local_init(l->obj); /* the old ones are the parent's: left as they are */
}

/* ---- passing to children ------------------------------------------------ */

extern const mproc__objtype mproc__cond_type;

/* [rd, wr] handles; kind, sizes; the joinable's condition (nested); then
 * the shared block, which takes the remaining handles. */
static int queue_export(void *obj, mproc__buf *b, mproc__handle *hs, size_t *n, size_t cap)
{
    mproc_queue *q = obj;
    int rc = 0;
    if (mproc__is(q, MPROC__T_QUEUE_LOCAL))
        return mproc__lqueue_refuse_export();
    if (*n + 2 > cap)
        return MPROC_ETOOBIG;
    hs[(*n)++] = q->rd;
    hs[(*n)++] = q->wr;
    mproc__buf_u8(b, (uint8_t)q->kind);
    mproc__buf_u64(b, (uint64_t)q->maxsize);
    mproc__buf_u64(b, (uint64_t)q->max_msg);
    if (q->kind == Q_JOINABLE)
        rc = mproc__export_nested(&mproc__cond_type, q->tasks, b, hs, n, cap);
    return rc ? rc : mproc__block_export(&q->b, b, hs, n, cap);
}

static void *queue_import(mproc__reader *r, const mproc__handle *hs, size_t n)
{
    mproc_queue *q = calloc(1, sizeof *q);
    size_t used = 0;

    if (!q || n < 3) {
        free(q);
        mproc__close_handles(hs, n);
        return mproc__null(q ? MPROC_EBROKEN : MPROC_ENOMEM);
    }
    mproc__obj_init(&q->obj, MPROC__T_QUEUE);
    q->rd = hs[0];
    q->wr = hs[1];
    q->kind = mproc__rd_u8(r);
    q->maxsize = (size_t)mproc__rd_u64(r);
    q->max_msg = (size_t)mproc__rd_u64(r);
    if (local_init(q) != 0 || r->bad || q->kind < Q_PLAIN || q->kind > Q_JOINABLE || q->max_msg > UINT32_MAX ||
        q->maxsize > 0x7fffffffu) {
        mproc__close_handles(hs + 2, n - 2);
        queue_destroy(q);
        return mproc__null(MPROC_EBROKEN);
    }
    if (q->kind == Q_JOINABLE && !(q->tasks = mproc__import_nested(&mproc__cond_type, r, hs + 2, n - 2, &used))) {
        mproc__close_handles(hs + 2 + used, n - 2 - used);
        queue_destroy(q);
        return mproc__null(MPROC_EBROKEN);
    }
    if (mproc__block_import(&q->b, r, hs + 2 + used, n - 2 - used) != 0 || q->b.area_len != sizeof(readahead)) {
        queue_destroy(q);
        return mproc__null(MPROC_EBROKEN);
    }
    register_live(q);
    return q;
}

static void queue_release(void *obj) { mproc_queue_free(obj); }

const mproc__objtype mproc__queue_type = {queue_export, queue_import, queue_release};
