/*
 * The pool and its dispatcher thread.  Callers (core/pool_calls.c) put
 * items on one queue under the pool's lock; the dispatcher alone owns the
 * workers: it sends each a chunk at a time within a small window, reads
 * their results, and when one ends it knows exactly which items it held —
 * the one it was running (its status slot says which) fails or is retried,
 * the rest go back to the front of the queue — and starts a replacement.
 *
 * CPython's Pool loses the job of a dead worker and hangs (#10441,
 * #16103), and a worker killed holding the shared queue's lock blocks the
 * next (#96062); ProcessPoolExecutor breaks as a whole.  Here there is no
 * shared queue between processes and no task a dead worker can take along.
 */
#include <stdlib.h>
#include <string.h>

#include "pool_internal.h"

#define POOL_MAGIC 0x706f6f6cu
/* A window: a worker gets another chunk while it holds fewer than two (or
 * fewer than four items), and what is queued at it beyond its first chunk
 * fits any channel's buffer, so a send never waits on a busy worker. */
#define WINDOW_CHUNKS 2
#define WINDOW_ITEMS 4
#define WINDOW_BYTES 4096
/* Workers in a row that end before READY (initializer failed, or cannot
 * start) before the queue fails instead of starting more. */
#define MAX_START_FAILURES 3
/* An item sent to this many workers that each ended before starting it
 * fails rather than travel forever. */
#define MAX_BOUNCES 3

typedef struct mproc__pool_worker {
    int alive, ready, stopping;
    long pid;
    mproc__pool_item *flight, **flight_tail; /* sent, no result yet, in order */
    size_t items, chunks, bytes;             /* in flight */
    size_t sent;                             /* items sent to this worker (maxtasksperchild) */
    uint64_t timed_out;                      /* the item it was stopped for */
} pool_worker;

static mproc__link *pools; /* global lock: live pools, for exit */

/* ---- finishing items ----------------------------------------------------------- */

void mproc__pool_finish(mproc__pool_item *it, int status, int code, const void *data, size_t len)
{
    mproc__pool_job *job = it->job;
    it->st.status = status;
    it->st.code = code;
    if (status == 0 && len > 0) {
        if ((it->out = malloc(len)) != NULL) {
            memcpy(it->out, data, len);
            it->out_len = len;
        } else {
            it->st.status = MPROC_ENOMEM;
        }
    }
    it->done = 1;
    it->next = NULL;
    if (job->listed) {
        *job->done_tail = it;
        job->done_tail = &it->next;
    }
    job->finished++;
    if (job->orphaned && job->release)
        job->release(job);
}

/* Fails every queued item with status (terminate, or workers that cannot start). */
static void fail_queue(mproc_pool *p, int status, int code, long pid)
{
    while (p->queue) {
        mproc__pool_item *it = p->queue;
        p->queue = it->next;
        it->st.pid = pid;
        mproc__pool_finish(it, status, code, NULL, 0);
    }
    p->queue_tail = &p->queue;
}

void mproc__pool_enqueue(mproc_pool *p, mproc__pool_item *first, mproc__pool_item **last_next)
{
    if (!first)
        return;
    *last_next = NULL;
    *p->queue_tail = first;
    p->queue_tail = last_next;
    for (mproc__pool_item *it = first; it; it = it->next)
        it->id = ++p->next_id;
    /* New work: workers that could not start get another chance. */
    p->starts_blocked = 0;
    p->start_failures = 0;
}

void mproc__pool_wake(mproc_pool *p) { p->tp->ops->wake(p->tp); }

/* Puts items back at the front of the queue, in their order. */
static void requeue_front(mproc_pool *p, mproc__pool_item *first, mproc__pool_item **last_next)
{
    if (!first)
        return;
    *last_next = p->queue;
    if (!p->queue)
        p->queue_tail = last_next;
    p->queue = first;
}

/* ---- events from workers ------------------------------------------------------- */

static mproc__pool_item *take_in_flight(pool_worker *w, uint64_t id)
{
    mproc__pool_item **pp = &w->flight;
    while (*pp && (*pp)->id != id)
        pp = &(*pp)->next;
    if (!*pp)
        return NULL;
    mproc__pool_item *it = *pp;
    *pp = it->next;
    if (w->flight_tail == &it->next)
        w->flight_tail = pp;
    w->items--;
    w->bytes -= it->len;
    w->chunks -= it->chunk_last;
    return it;
}

static void on_results(mproc_pool *p, int wi, mproc__reader *r)
{
    pool_worker *w = &p->ws[wi];
    uint32_t count = mproc__rd_u32(r);
    for (uint32_t i = 0; i < count && !r->bad; i++) {
        uint64_t id = mproc__rd_u64(r);
        int status = (int)mproc__rd_u32(r);
        int code = (int)mproc__rd_u32(r);
        uint32_t len = mproc__rd_u32(r);
        const void *data = mproc__rd_bytes(r, len);
        mproc__pool_item *it;
        if (r->bad || !(it = take_in_flight(w, id)))
            break;
        it->st.attempts++;
        it->st.pid = w->pid;
        mproc__pool_finish(it, status, code, data, len);
    }
}

static void on_message(mproc_pool *p, int wi, const void *data, size_t len)
{
    mproc__reader r = {data, len, 0, 0};
    switch (mproc__rd_u8(&r)) {
    case MPROC__POOL_READY:
        p->ws[wi].ready = 1;
        p->start_failures = 0;
        break;
    case MPROC__POOL_DONE: on_results(p, wi, &r); break;
    default: break;
    }
}

static int any_ready(mproc_pool *p)
{
    for (int i = 0; i < p->nworkers; i++)
        if (p->ws[i].alive && p->ws[i].ready)
            return 1;
    return 0;
}

/* Worker wi ended: the item it ran is to blame, the rest go back. */
static void on_ended(mproc_pool *p, int wi, int code, uint64_t running)
{
    pool_worker *w = &p->ws[wi];
    mproc__pool_item *back = NULL, **back_tail = &back;

    while (w->flight) {
        mproc__pool_item *it = w->flight;
        w->flight = it->next;
        if (p->state == MPROC__POOL_TERMINATING) {
            it->st.pid = w->pid;
            mproc__pool_finish(it, MPROC_ECLOSED, 0, NULL, 0);
        } else if (it->id == running) {
            it->st.attempts++;
            it->st.pid = w->pid;
            if (w->timed_out == it->id)
                mproc__pool_finish(it, MPROC_ETIMEDOUT, code, NULL, 0);
            else if (it->st.attempts <= p->opts.max_retries)
                *back_tail = it, back_tail = &it->next;
            else
                mproc__pool_finish(it, MPROC_EBROKEN, code, NULL, 0);
        } else if (++it->bounces > MAX_BOUNCES) {
            it->st.pid = w->pid;
            mproc__pool_finish(it, MPROC_EBROKEN, code, NULL, 0);
        } else {
            *back_tail = it;
            back_tail = &it->next;
        }
    }
    requeue_front(p, back, back_tail);
    if (!w->ready) {
        p->start_failures++;
        p->last_failure_code = code;
        p->last_failure_pid = w->pid;
    }
    *w = (pool_worker){0};
    w->flight_tail = &w->flight;
    if (p->start_failures >= MAX_START_FAILURES && !any_ready(p)) {
        /* Every new worker fails: report it on the work instead of
         * starting workers in a loop; new work tries again. */
        fail_queue(p, MPROC_EBROKEN, p->last_failure_code, p->last_failure_pid);
        p->starts_blocked = 1;
    }
}

/* ---- sending work ---------------------------------------------------------------- */

typedef struct {
    int worker;
    mproc__buf msg;
} outgoing;

/* Takes from the queue's head the next chunk for worker w, if its window
 * has room: into out, the items moved to its flight. */
static int take_chunk(mproc_pool *p, pool_worker *w, mproc__buf *out)
{
    mproc__pool_item *it = p->queue;
    mproc__pool_job *job;
    size_t n = 0, bytes = 0, limit;
    if (!it)
        return 0;
    job = it->job;
    limit = job->chunksize ? job->chunksize : 1;
    if (p->opts.maxtasksperchild > 0) {
        size_t left = (size_t)p->opts.maxtasksperchild - w->sent;
        if (left == 0)
            return 0;
        limit = limit < left ? limit : left;
    }
    for (mproc__pool_item *x = it; x && x->job == job && n < limit; x = x->next) {
        if (n > 0 && bytes + x->len > MPROC__POOL_CHUNK_BYTES)
            break;
        n++;
        bytes += x->len;
    }
    if (w->chunks > 0 && (w->chunks >= WINDOW_CHUNKS && w->items + n > WINDOW_ITEMS))
        return 0;
    if (w->chunks > 0 && w->bytes + bytes > WINDOW_BYTES)
        return 0;
    mproc__buf_u8(out, MPROC__POOL_TASKS);
    mproc__buf_str(out, job->task_name);
    mproc__buf_bytes(out, &job->fn, sizeof job->fn);
    mproc__buf_u32(out, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        it = p->queue;
        p->queue = it->next;
        mproc__buf_u64(out, it->id);
        mproc__buf_u32(out, (uint32_t)it->len);
        mproc__buf_bytes(out, it->in, it->len);
        it->chunk_last = i + 1 == n;
        it->next = NULL;
        *w->flight_tail = it;
        w->flight_tail = &it->next;
    }
    if (!p->queue)
        p->queue_tail = &p->queue;
    w->items += n;
    w->chunks++;
    w->bytes += bytes;
    w->sent += n;
    return 1;
}

/* Builds at most one message per worker: whole chunks its window takes.
 * Level by level (every worker's first chunk, then every worker's second),
 * so work goes to idle workers before it queues behind a busy one. */
static size_t assign(mproc_pool *p, outgoing *out)
{
    size_t nout = 0;
    int *slot_of = calloc((size_t)p->nworkers, sizeof *slot_of);
    if (!slot_of)
        return 0;
    for (int i = 0; i < p->nworkers; i++)
        slot_of[i] = -1;
    for (size_t level = 1; level <= WINDOW_ITEMS && p->queue; level++) {
        for (int i = 0; i < p->nworkers && p->queue; i++) {
            pool_worker *w = &p->ws[i];
            mproc__buf msg = {0};
            if (!w->alive || w->stopping || w->chunks >= level)
                continue;
            if (slot_of[i] >= 0)
                msg = out[slot_of[i]].msg;
            if (!take_chunk(p, w, &msg) && slot_of[i] < 0) {
                mproc__buf_free(&msg);
                continue;
            }
            if (slot_of[i] < 0) {
                slot_of[i] = (int)nout;
                out[nout++] = (outgoing){i, msg};
            } else {
                out[slot_of[i]].msg = msg;
            }
        }
    }
    free(slot_of);
    return nout;
}

static int work_left(mproc_pool *p)
{
    if (p->queue)
        return 1;
    for (int i = 0; i < p->nworkers; i++)
        if (p->ws[i].items)
            return 1;
    return 0;
}

static int workers_alive(mproc_pool *p)
{
    for (int i = 0; i < p->nworkers; i++)
        if (p->ws[i].alive)
            return 1;
    return 0;
}

/* Starts workers in free slots while the pool has use for them.  Called
 * with the lock held; drops it around each start (a spawn takes a while). */
static int start_workers(mproc_pool *p)
{
    int failed = 0;
    for (int i = 0; i < p->nworkers; i++) {
        int rc;
        if (p->ws[i].alive || p->starts_blocked || p->state == MPROC__POOL_TERMINATING ||
            (p->state == MPROC__POOL_CLOSED && !work_left(p)))
            continue;
        mproc__plat_mutex_unlock(p->mu);
        rc = p->tp->ops->start(p->tp, i);
        mproc__plat_mutex_lock(p->mu);
        if (rc != 0) {
            failed = 1;
            p->start_failures++;
            p->last_failure_code = rc;
            p->last_failure_pid = 0;
            if (p->start_failures >= MAX_START_FAILURES && !any_ready(p)) {
                fail_queue(p, MPROC_EBROKEN, rc, 0);
                p->starts_blocked = 1;
            }
            continue;
        }
        p->ws[i] = (pool_worker){0};
        p->ws[i].alive = 1;
        p->ws[i].flight_tail = &p->ws[i].flight;
        p->ws[i].pid = p->tp->ops->pid(p->tp, i);
    }
    return failed;
}

/* Kills workers whose item ran past task_timeout; returns how long the
 * dispatcher may wait before it looks again (-1: no item is timed). */
static double enforce_timeouts(mproc_pool *p)
{
    double limit = p->opts.task_timeout, now, wait = -1;
    if (limit <= 0)
        return -1;
    now = mproc__plat_now();
    for (int i = 0; i < p->nworkers; i++) {
        pool_worker *w = &p->ws[i];
        mproc__pool_slot *slot;
        uint64_t item;
        double left;
        if (!w->alive || !w->items || w->timed_out)
            continue;
        slot = p->tp->ops->slot(p->tp, i);
        item = atomic_load(&slot->item);
        left = item ? (double)atomic_load(&slot->since_us) / 1e6 + limit - now : limit;
        if (item && left <= 0) {
            w->timed_out = item;
            w->stopping = 1;
            p->tp->ops->stop(p->tp, i);
            continue;
        }
        /* An item may start at any moment without an event: look often. */
        left = left < 0.05 ? left : 0.05;
        wait = wait < 0 || left < wait ? left : wait;
    }
    return wait;
}

static void stop_all(mproc_pool *p, int kill, outgoing *out, size_t *nout)
{
    static const unsigned char stop = MPROC__POOL_STOP;
    for (int i = 0; i < p->nworkers; i++) {
        pool_worker *w = &p->ws[i];
        if (!w->alive || (w->stopping && !kill))
            continue;
        if (kill) {
            p->tp->ops->stop(p->tp, i);
        } else {
            mproc__buf msg = {0};
            mproc__buf_bytes(&msg, &stop, 1);
            out[(*nout)++] = (outgoing){i, msg};
        }
        w->stopping = 1;
    }
}

static int dispatcher(void *ud)
{
    mproc_pool *p = ud;
    outgoing *out = calloc((size_t)p->nworkers, sizeof *out);
    int killed = 0;

    mproc__plat_mutex_lock(p->mu);
    for (;;) {
        size_t nout = 0;
        double timeout;
        mproc__tp_event ev;
        int retry_start = 0;

        if (p->state == MPROC__POOL_TERMINATING) {
            if (!killed)
                stop_all(p, 1, out, &nout);
            killed = 1;
            fail_queue(p, MPROC_ECLOSED, 0, 0);
        } else {
            retry_start = start_workers(p);
            if (out)
                nout = assign(p, out);
            if (p->state == MPROC__POOL_CLOSED && !work_left(p) && out)
                stop_all(p, 0, out, &nout);
        }
        mproc__plat_cond_broadcast(p->cv);
        if (!workers_alive(p) && (p->state == MPROC__POOL_TERMINATING || (p->state == MPROC__POOL_CLOSED &&
                                                                          (!work_left(p) || p->starts_blocked))))
            break;
        timeout = enforce_timeouts(p);
        if (retry_start && (timeout < 0 || timeout > 0.1))
            timeout = 0.1;
        mproc__plat_mutex_unlock(p->mu);

        for (size_t i = 0; i < nout; i++) {
            (void)p->tp->ops->send(p->tp, out[i].worker, out[i].msg.data, out[i].msg.len);
            mproc__buf_free(&out[i].msg);
        }
        /* Every event that is there, then back to assigning. */
        for (int n = 0; n < 256; n++) {
            int kind = p->tp->ops->next(p->tp, n == 0 ? timeout : 0, &ev);
            if (kind < 0 || kind == MPROC__TP_TIMEOUT)
                break;
            if (kind == MPROC__TP_WOKEN)
                continue;
            mproc__plat_mutex_lock(p->mu);
            if (kind == MPROC__TP_MESSAGE)
                on_message(p, ev.worker, ev.data, ev.len);
            else if (kind == MPROC__TP_ENDED)
                on_ended(p, ev.worker, ev.code, ev.running);
            mproc__plat_mutex_unlock(p->mu);
            if (kind == MPROC__TP_MESSAGE)
                p->tp->ops->release(p->tp, ev.data);
        }
        mproc__plat_mutex_lock(p->mu);
    }
    p->dispatcher_ended = 1;
    mproc__plat_cond_broadcast(p->cv);
    mproc__plat_mutex_unlock(p->mu);
    free(out);
    return 0;
}

/* ---- the pool's life ----------------------------------------------------------- */

int mproc__pool_usable(mproc_pool *p)
{
    if (!p || p->magic != POOL_MAGIC)
        return mproc__error(MPROC_EINVAL);
    if (p->owner != mproc__plat_getpid())
        return mproc__errorf(MPROC_ESTATE, "a pool belongs to the process that made it (this is a fork child)");
    return 0;
}

static void pool_release(mproc_pool *p)
{
    if (p->tp)
        p->tp->ops->free(p->tp);
    if (p->thread)
        mproc__plat_child_free(p->thread);
    mproc_args_free(p->initargs);
    free(p->ws);
    if (p->cv)
        mproc__plat_cond_free(p->cv);
    if (p->mu)
        mproc__plat_mutex_free(p->mu);
    p->magic = 0;
    free(p);
}

void mproc__pool_unref(mproc_pool *p)
{
    int last;
    mproc__plat_mutex_lock(p->mu);
    last = --p->refs == 0;
    mproc__plat_mutex_unlock(p->mu);
    if (last)
        pool_release(p);
}

/* At exit, before children are terminated or joined: each pool stops
 * restarting workers and ends them (CPython terminates pools at exit). */
static void terminate_pools_at_exit(void)
{
    mproc_pool **all = NULL;
    size_t n = 0, i = 0;
    mproc__plat_global_lock();
    for (mproc__link *l = pools; l; l = l->next)
        n++;
    if (n && (all = malloc(n * sizeof *all)) != NULL)
        for (mproc__link *l = pools; l; l = l->next)
            all[i++] = l->obj;
    mproc__plat_global_unlock();
    for (i = 0; all && i < n; i++) {
        (void)mproc_pool_terminate(all[i]);
        (void)mproc_pool_join(all[i], 5);
    }
    free(all);
}

static void forget_pools_after_fork(void) { pools = NULL; }

mproc_pool *mproc__pool_create(int workers, const mproc_pool_opts *opts, mproc__pool_transport_new make, void *ud)
{
    static const mproc_pool_opts defaults = {0};
    mproc_pool *p;
    mproc__pool_worker_cfg cfg;
    int rc = 0;

    opts = opts ? opts : &defaults;
    if (workers <= 0 || opts->maxtasksperchild < 0 || opts->max_retries < 0 || opts->task_timeout != opts->task_timeout)
        return mproc__null(MPROC_EINVAL);
    if (!(p = calloc(1, sizeof *p)))
        return mproc__null(MPROC_ENOMEM);
    p->magic = POOL_MAGIC;
    p->owner = mproc__plat_getpid();
    p->opts = *opts;
    if (p->opts.max_message == 0)
        p->opts.max_message = (size_t)64 << 20;
    p->nworkers = workers;
    p->refs = 1;
    p->queue_tail = &p->queue;
    cfg.initializer = opts->initializer;
    cfg.maxtasks = opts->maxtasksperchild;
    cfg.max_message = p->opts.max_message;
    if (!(p->mu = mproc__plat_mutex_new()) || !(p->cv = mproc__plat_cond_new()) ||
        !(p->ws = calloc((size_t)workers, sizeof *p->ws)) || !(p->initargs = mproc_args_new()) ||
        mproc__args_append(p->initargs, opts->initargs) != 0) {
        rc = MPROC_ENOMEM;
        goto done;
    }
    cfg.initargs = p->initargs;
    if (!(p->tp = make(ud, workers, &cfg))) {
        rc = mproc_last_error();
        goto done;
    }
    for (int i = 0; i < workers; i++)
        p->ws[i].flight_tail = &p->ws[i].flight;
    mproc__on_exit(MPROC__EXIT_CLOSE, terminate_pools_at_exit);
    mproc__on_fork_child(forget_pools_after_fork);
    if ((rc = mproc__plat_thread_start(&p->thread, dispatcher, p)) != 0) {
        p->thread = NULL;
        goto done;
    }
    mproc__link_add(&pools, &p->link, p);
done:
    if (rc != 0) {
        pool_release(p);
        return mproc__null(rc);
    }
    return p;
}

static mproc__pool_transport *local_transport(void *ud, int workers, const mproc__pool_worker_cfg *cfg)
{
    mproc_ctx *ctx = ud;
    if (mproc_ctx_method(ctx) == MPROC_THREAD)
        return mproc__pool_threads_new(workers, cfg);
    return mproc__pool_procs_new(ctx, workers, cfg);
}

mproc_pool *mproc_pool_new(mproc_ctx *ctx, int workers, const mproc_pool_opts *opts)
{
    ctx = ctx ? ctx : mproc_get_context(mproc_get_start_method());
    if (!ctx)
        return NULL;
    if (workers < 0)
        return mproc__null(MPROC_EINVAL);
    if (workers == 0) {
        workers = mproc_cpu_count();
        if (mproc_ctx_method(ctx) != MPROC_THREAD && workers > 31)
            workers = 31;
    }
    return mproc__pool_create(workers, opts, local_transport, ctx);
}

static int set_state(mproc_pool *p, int state)
{
    int rc = mproc__pool_usable(p);
    if (rc != 0)
        return rc;
    mproc__plat_mutex_lock(p->mu);
    if (p->state < state)
        p->state = state;
    mproc__plat_mutex_unlock(p->mu);
    mproc__pool_wake(p);
    return 0;
}

int mproc_pool_close(mproc_pool *p) { return set_state(p, MPROC__POOL_CLOSED); }
int mproc_pool_terminate(mproc_pool *p) { return set_state(p, MPROC__POOL_TERMINATING); }

int mproc_pool_join(mproc_pool *p, double timeout)
{
    double deadline;
    int rc = mproc__pool_usable(p), code;
    if (rc != 0)
        return rc;
    if (mproc__timeout(&timeout) != 0)
        return mproc_last_error();
    deadline = mproc__plat_now() + timeout;
    mproc__plat_mutex_lock(p->mu);
    if (p->state == MPROC__POOL_RUNNING)
        rc = MPROC_ESTATE;
    while (rc == 0 && !p->dispatcher_ended) {
        double left = deadline - mproc__plat_now();
        if (timeout >= 0 && left <= 0)
            rc = MPROC_ETIMEDOUT;
        else
            (void)mproc__plat_cond_wait(p->cv, p->mu, timeout < 0 ? -1 : left);
    }
    mproc__plat_mutex_unlock(p->mu);
    if (rc == MPROC_ESTATE)
        return mproc__errorf(rc, "join() needs close() or terminate() first");
    if (rc != 0)
        return mproc__error(rc);
    /* The dispatcher has returned: its thread ends at once. */
    (void)mproc__plat_child_wait(p->thread, -1, &code);
    return 0;
}

void mproc_pool_free(mproc_pool *p)
{
    if (mproc__pool_usable(p) != 0)
        return;
    mproc__link_remove(&pools, &p->link);
    (void)mproc_pool_terminate(p);
    (void)mproc_pool_join(p, -1);
    mproc__pool_unref(p);
}
