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
 * to a worker:   TASKS [u8][str task name][fn bytes][u32 count] count x ([u64 id][u32 len][bytes])
 *                STOP  [u8]                     finish what was sent, then exit 0
 * from a worker: READY [u8]                     the initializer succeeded
 *                DONE  [u8][u32 count] count x ([u64 id][u32 status][u32 code][u32 len][bytes])
 * The task travels by name (registered, spawn and forkserver) and by
 * address (fork and thread, where the address means the same function). */
enum { MPROC__POOL_TASKS = 1, MPROC__POOL_STOP, MPROC__POOL_READY, MPROC__POOL_DONE };

/* Bytes a chunk may carry beyond its first item; what a worker buffers
 * before it sends results.  Channels accept max_message + MPROC__POOL_SLACK. */
#define MPROC__POOL_CHUNK_BYTES ((size_t)1 << 20)
#define MPROC__POOL_SLACK ((size_t)2 << 20)

/* What a worker is running, written by the worker and read by the
 * dispatcher at any time (shared memory between processes): the item that
 * crashed a worker, and since when an item runs (task_timeout).  Clocks
 * are mproc__plat_now(), monotonic and system-wide. */
typedef struct {
    atomic_ullong item;      /* id of the item running; 0 between items */
    atomic_llong since_us;   /* when it started, microseconds */
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
    /* Sends one message to worker w.  May block while its channel is full:
     * the dispatcher sends only what a worker's channel holds, or to a
     * worker with nothing in flight (which is reading).  An error means the
     * worker is ending: its ENDED follows. */
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

/* One input.  Owned by the call that made it; the dispatcher holds it from
 * enqueue until it finishes it (done = 1, under the pool's lock). */
typedef struct mproc__pool_item {
    struct mproc__pool_item *next; /* in the queue, a worker's flight, or a job's done list */
    mproc__pool_job *job;
    size_t index;
    uint64_t id;
    const void *in;
    size_t len;
    void *own_in;    /* a copy of the input the item owns, or NULL */
    int chunk_last;  /* the last item of the chunk it was sent in */
    int bounces;     /* sent to workers that ended before starting it */
    int done;
    mproc_task_status st;
    void *out;       /* imap, apply: the result (malloc) */
    size_t out_len;
} mproc__pool_item;

enum { MPROC__JOB_STREAM = 1, MPROC__JOB_APPLY };

struct mproc__pool_job {
    int kind;
    const char *task_name; /* "" when sent by address */
    mproc_task_fn fn;
    size_t chunksize;
    int listed;   /* finished items go on done_list (imap_unordered); else the caller
                     looks at each item's done flag and frees it as soon as it is */
    mproc__pool_item *done_list, **done_tail; /* finished, not yet taken by the caller */
    size_t finished;
    int orphaned; /* apply: the caller freed its result first */
    void (*release)(mproc__pool_job *job); /* frees an orphaned job once finished (lock held) */
};

enum { MPROC__POOL_RUNNING, MPROC__POOL_CLOSED, MPROC__POOL_TERMINATING };

struct mproc_pool {
    unsigned magic;
    long owner;       /* the process that made it: a fork child may not use it */
    mproc__pool_transport *tp;
    mproc_pool_opts opts;
    mproc_args *initargs;
    int nworkers;
    struct mproc__pool_worker *ws;
    mproc__mutex *mu;
    mproc__cond *cv;  /* items finished, or the dispatcher ended */
    mproc__pool_item *queue, **queue_tail; /* mu */
    uint64_t next_id; /* mu */
    int state;        /* mu */
    int dispatcher_ended, joined; /* mu */
    int refs;         /* mu: the pool handle and every mproc_result */
    mproc__child *thread;
    mproc__link link;
    /* Workers that ended before READY in a row; at MAX the queue fails. */
    int start_failures, starts_blocked, last_failure_code;
    long last_failure_pid;
};

/* With the pool's lock held: queues items (the dispatcher is woken by the
 * caller after unlocking), finishes one item. */
void mproc__pool_enqueue(mproc_pool *p, mproc__pool_item *first, mproc__pool_item **last_next);
/* Ends an item with its status (and, on success, a copy of its result):
 * done, on its job's list when the job lists, an orphaned job released.
 * The lock held; the dispatcher's or the caller's (an item that never
 * reaches a worker). */
void mproc__pool_finish(mproc__pool_item *it, int status, int code, const void *data, size_t len);
void mproc__pool_wake(mproc_pool *p);
/* Drops a reference to p; the last frees it.  Lock not held. */
void mproc__pool_unref(mproc_pool *p);
/* 0, or the error a call on p gets now (EINVAL, ECLOSED). */
int mproc__pool_usable(mproc_pool *p);

#endif
