/*
 * What the pool's parts share: the messages between the dispatcher and a
 * worker, the worker's status slot, the worker's loop, and the transport
 * seam through which the dispatcher (core/pool.c) reaches workers.  The
 * dispatcher knows nothing of processes or threads: it starts, feeds,
 * hears from and stops workers only through mproc__pool_transport, of
 * which there is one over processes (core/pool_proc.c) and one over
 * threads (core/pool_thread.c) and one over MPI ranks (mpi/pool_mpi.c, an
 * optional component), which touches no dispatch code.
 */
#ifndef MPROC_POOL_INTERNAL_H
#define MPROC_POOL_INTERNAL_H

#include <stdatomic.h>

#include "internal.h"

/* ---- messages (one frame each) -------------------------------------------
 * Items travel in chunks: runs of items of one job whose ids are
 * consecutive, so a chunk names its first id only.  Integers little-endian.
 *
 * to a worker:   one or more chunk records, back to back:
 *                TASKS [u8][str task name][fn bytes][u64 first id][u32 count][u32 size] inputs
 *                MORE  [u8][u64 first id][u32 count][u32 size] inputs    (the task of the record before)
 *                        inputs: size != MPROC__POOL_VARIABLE: count x size bytes;
 *                        else count x ([u32 len][bytes])
 *                STOP  [u8]                     finish what was sent, then exit 0
 * from a worker: READY [u8]                     the initializer succeeded
 *                DONE  [u8][u8 flags][u64 id of the first][u32 count] groups
 *                        flags: MPROC__POOL_WATCHED when the worker answers flush and
 *                        give_back (its slot is the dispatcher's)
 *                        group: [u32 n][u32 status][u32 code][u32 len] then, when status is
 *                        0, n results of len bytes each (else nothing); the groups cover
 *                        count results, in the order the items were sent
 * The task travels by name (registered, spawn and forkserver) and by
 * address (fork and thread, where the address means the same function).
 * A worker runs its items in the order sent, so the dispatcher pairs
 * results with items by their order; the first id is a check. */
enum { MPROC__POOL_TASKS = 1, MPROC__POOL_STOP, MPROC__POOL_READY, MPROC__POOL_DONE, MPROC__POOL_MORE };
#define MPROC__POOL_VARIABLE UINT32_MAX
/* A group's status for items handed back unrun (see give_back); task
 * statuses are 0 or negative. */
#define MPROC__POOL_RETURNED 1
/* A DONE message's header, and a group's. */
#define MPROC__POOL_DONE_HEAD (1 + 1 + 8 + 4)
#define MPROC__POOL_WATCHED 1
#define MPROC__POOL_GROUP_HEAD (4 + 4 + 4 + 4)

/* Bytes a chunk may carry beyond its first item; what a worker buffers
 * before it sends results.  Channels accept max_message + MPROC__POOL_SLACK. */
#define MPROC__POOL_CHUNK_BYTES ((size_t)1 << 20)
#define MPROC__POOL_SLACK ((size_t)2 << 20)

/* What a worker is running, written by the worker and read by the
 * dispatcher at any time (shared memory between processes): the item that
 * crashed a worker, and since when an item runs (task_timeout).  Clocks
 * are mproc__plat_now(), monotonic and system-wide.  The dispatcher sets
 * timed and watched before it sends the worker anything; a slot it cannot
 * reach (an MPI rank's own) stays all zero: unwatched, untimed. */
typedef struct {
    atomic_ullong item;      /* id of the item running; 0 between items */
    atomic_llong since_us;   /* when it started, microseconds; kept only when timed */
    atomic_int timed;        /* the pool has a task_timeout: since_us is read */
    atomic_int watched;      /* the dispatcher asks for results through flush; else the
                                worker times its batch itself (a clock read per item) */
    atomic_int flush;        /* set by the dispatcher: send the results held, after this item */
    atomic_int give_back;    /* set by the dispatcher: hand back the items of this message
                                not started (another worker is idle) */
    /* Slots lie side by side (one segment for all a pool's processes):
     * each fills two cache lines of its own, so that workers writing
     * their item ids at every item do not slow one another down. */
    unsigned char pad[128 - 2 * 8 - 4 * 4];
} mproc__pool_slot;

/* The worker's side of its channel. */
typedef struct mproc__pool_endpoint mproc__pool_endpoint;
struct mproc__pool_endpoint {
    /* Blocks for the next message; MPROC_ECLOSED when the pool is gone. */
    int (*recv)(mproc__pool_endpoint *ep, void **data, size_t *len);
    void (*release)(mproc__pool_endpoint *ep, void *data); /* a message recv returned */
    int (*send)(mproc__pool_endpoint *ep, const void *data, size_t len);
    mproc__pool_slot *slot;
    int maxtasks;       /* 0: unlimited */
    size_t max_message; /* largest result */
};

/* A worker: runs initializer(initargs) when set (nonzero: returns that code
 * without READY), then tasks until STOP, end of channel or maxtasks items.
 * Returns the worker's exit code. */
int mproc__pool_worker_loop(mproc__pool_endpoint *ep, mproc_target_fn initializer, mproc_args *initargs);

/* Fills in the task's name and address (fork/thread) for a TASKS message.
 * MPROC_ENOTREG when by_name and fn is not registered. */
int mproc__pool_task_ref(mproc_task_fn fn, int by_name, const char **name);

/* ---- the transport seam -------------------------------------------------- */

/* What a worker needs at start; the transport copies what it keeps. */
typedef struct {
    mproc_target_fn initializer;
    const mproc_args *initargs;
    int maxtasks;
    size_t max_message;
} mproc__pool_worker_cfg;

enum { MPROC__TP_TIMEOUT, MPROC__TP_MESSAGE, MPROC__TP_ENDED, MPROC__TP_WOKEN };

typedef struct {
    int kind;    /* MPROC__TP_* */
    int worker;  /* MESSAGE, ENDED: the slot */
    void *data;  /* MESSAGE: the message (give back with ops->release) */
    size_t len;
    int code;    /* ENDED: exit code, -N for signal N */
    uint64_t running; /* ENDED: the item it was running when it ended (0: none) */
} mproc__tp_event;

typedef struct mproc__pool_transport mproc__pool_transport;
typedef struct {
    /* Starts a worker in slot w (free, or its last worker reported ENDED).
     * 0 or an error (nothing started). */
    int (*start)(mproc__pool_transport *tp, int w);
    /* The worker's pid (threads: this process's). */
    long (*pid)(mproc__pool_transport *tp, int w);
    /* Sends one message to worker w, after those sent before.  Must not
     * stall on a worker that does not read, which may be waiting for the
     * dispatcher to read its results: what its channel cannot take now is
     * kept and written later (processes), or its results are received
     * while the send waits (MPI).  An error means the worker is ending:
     * its ENDED follows. */
    int (*send)(mproc__pool_transport *tp, int w, const void *msg, size_t len);
    /* The next event, waiting up to timeout: a worker's message (in the
     * order sent), a worker's end (after all its messages), a wake, or
     * TIMEOUT.  Called by the dispatcher thread only. */
    int (*next)(mproc__pool_transport *tp, double timeout, mproc__tp_event *ev);
    void (*release)(mproc__pool_transport *tp, void *data);
    /* From any thread: the dispatcher's next() returns WOKEN soon. */
    void (*wake)(mproc__pool_transport *tp);
    /* Worker w's status slot. */
    mproc__pool_slot *(*slot)(mproc__pool_transport *tp, int w);
    /* Ends worker w now (kill != 0: it is killed, or for a thread given up
     * on) or once it has read what was sent (STOP is sent by the caller).
     * Its ENDED follows either way. */
    void (*stop)(mproc__pool_transport *tp, int w);
    /* Every worker has ENDED: releases the transport. */
    void (*free)(mproc__pool_transport *tp);
} mproc__pool_transport_ops;

struct mproc__pool_transport {
    const mproc__pool_transport_ops *ops;
    int workers;
    int by_name; /* tasks must be registered (a fresh program image) */
};

/* The transports: NULL on error (mproc_last_error()). */
mproc__pool_transport *mproc__pool_procs_new(mproc_ctx *ctx, int workers, const mproc__pool_worker_cfg *cfg);
mproc__pool_transport *mproc__pool_threads_new(int workers, const mproc__pool_worker_cfg *cfg);

/* Makes a pool's transport for its workers (ud: the maker's own). */
typedef mproc__pool_transport *(*mproc__pool_transport_new)(void *ud, int workers, const mproc__pool_worker_cfg *cfg);
/* A pool of workers > 0 reached through make's transport: mproc_pool_new
 * over processes or threads, mproc_mpi_pool_new over MPI ranks.  NULL on
 * error (mproc_last_error()). */
mproc_pool *mproc__pool_create(int workers, const mproc_pool_opts *opts, mproc__pool_transport_new make, void *ud);

/* ---- the pool object (core/pool.c: dispatcher; core/pool_calls.c: map,
 * imap, apply_async) ----------------------------------------------------- */

typedef struct mproc__pool_job mproc__pool_job;

/* One call's work (a map, an imap, an apply_async).  Its items are
 * numbered from 0; the dispatcher reads their inputs and hands over their
 * results through the job, so an item costs no allocation of its own. */
struct mproc__pool_job {
    mproc_pool *pool;
    const char *task_name; /* "" when sent by address */
    mproc_task_fn fn;
    size_t chunksize; /* items; fixed-size inputs: at most MPROC__POOL_CHUNK_BYTES of them */
    /* Inputs: fixed-size records (fixed: item i's in_size bytes at
     * in + i * in_size), else input()'s.  Read by the dispatcher while the
     * item is queued or in flight. */
    int fixed;
    const unsigned char *in;
    size_t in_size;
    const void *(*input)(mproc__pool_job *job, size_t index, size_t *len);
    /* count items from index on ended with st; with st->status 0, data
     * holds their results, len bytes each.  Lock held; dispatcher's or
     * caller's thread.  Called through mproc__pool_finish only. */
    void (*finish)(mproc__pool_job *job, size_t index, size_t count, const mproc_task_status *st,
                   const void *data, size_t len);
    size_t finished;  /* lock */
    size_t notify_at; /* lock: the caller sleeps until finished reaches it */
    int orphaned;     /* apply: the caller freed its result first */
    void (*release)(mproc__pool_job *job); /* frees an orphaned job once finished (lock held) */
};

/* Queued work: items [index, index + count) of job, ids [id, id + count).
 * Owned by the pool once queued. */
typedef struct mproc__pool_run {
    struct mproc__pool_run *next;
    mproc__pool_job *job;
    size_t index, count;
    uint64_t id;
    int attempts; /* starts that ended with their worker's death (retried) */
    int bounces;  /* sent to workers that ended before starting it */
} mproc__pool_run;

enum { MPROC__POOL_RUNNING, MPROC__POOL_CLOSED, MPROC__POOL_TERMINATING };

struct mproc_pool {
    mproc__obj obj;
    long owner;       /* the process that made it: a fork child may not use it */
    mproc__pool_transport *tp;
    mproc_pool_opts opts;
    mproc_args *initargs;
    int nworkers;
    struct mproc__pool_worker *ws;
    mproc__mutex *mu;
    mproc__cond *cv;  /* items finished that a caller waits for, or the dispatcher ended */
    mproc__pool_run *queue, **queue_tail; /* mu */
    size_t queued;    /* mu: items on the queue */
    uint64_t next_id; /* mu */
    int state;        /* mu */
    int notify;       /* mu: a job reached its notify_at: the dispatcher broadcasts cv */
    int dispatcher_ended, joined; /* mu */
    int refs;         /* mu: the pool handle and every mproc_result */
    mproc__child *thread;
    mproc__link link;
    /* Workers that ended before READY in a row; at MAX the queue fails. */
    int start_failures, starts_blocked, last_failure_code;
    long last_failure_pid;
};
MPROC__TAG_FIRST(struct mproc_pool);

/* With the pool's lock held: queues a run (taken; the dispatcher is woken
 * by the caller after unlocking), numbering its items. */
void mproc__pool_enqueue(mproc_pool *p, mproc__pool_run *run);
/* Ends count items of job from index on (see job->finish), counts them,
 * and releases an orphaned job.  The lock held; the dispatcher's or the
 * caller's (items that never reach a worker). */
void mproc__pool_finish(mproc__pool_job *job, size_t index, size_t count, const mproc_task_status *st,
                        const void *data, size_t len);
void mproc__pool_wake(mproc_pool *p);
/* Drops a reference to p; the last frees it.  Lock not held. */
void mproc__pool_unref(mproc_pool *p);
/* 0, or the error a call on p gets now (EINVAL: not a pool, or its handle
 * was freed; ESTATE: a fork child's copy). */
int mproc__pool_usable(mproc_pool *p);
/* Terminates p and waits up to timeout for it to stop, as
 * mproc_pool_terminate and mproc_pool_join, also after mproc_pool_free
 * while an mproc_result keeps p alive (mproc_mpi_finalize).  0,
 * MPROC_ETIMEDOUT, MPROC_ESTATE (not this process's pool). */
int mproc__pool_stop(mproc_pool *p, double timeout);

#endif
