/*
 * What callers ask of a pool: map, imap (ordered or not) and apply_async.
 * Each is a job whose items the dispatcher reads and finishes in place:
 * map's inputs are the caller's records and its results go straight into
 * the caller's out array (no item of map costs an allocation, and the
 * caller sleeps until the last one is done); imap keeps a bounded window
 * of copied inputs and results that its loop, in the caller's thread,
 * refills and delivers, so input of any length runs in bounded memory and
 * callbacks (results, progress) run in the caller's thread with no lock
 * held.
 */
#include <stdlib.h>
#include <string.h>

#include "pool_internal.h"

/* ---- jobs ---------------------------------------------------------------------- */

#define MAX_CHUNK_ITEMS 1024

static int prepare_job(mproc_pool *p, mproc__pool_job *job, mproc_task_fn fn, size_t chunksize)
{
    int rc;
    memset(job, 0, sizeof *job);
    job->pool = p;
    job->fn = fn;
    /* A chunk beyond this many items buys nothing (consecutive chunks
     * travel together as far as a worker's window allows) and imap's
     * window of items in memory grows with it: CPython's default for
     * 2,000,000 items would be 250,000. */
    job->chunksize = chunksize == 0 ? 1 : chunksize > MAX_CHUNK_ITEMS ? MAX_CHUNK_ITEMS : chunksize;
    if ((rc = mproc__pool_task_ref(fn, p->tp->by_name, &job->task_name)) != 0)
        return rc;
    mproc__plat_mutex_lock(p->mu);
    rc = p->state != MPROC__POOL_RUNNING ? MPROC_ECLOSED : 0;
    mproc__plat_mutex_unlock(p->mu);
    return rc ? mproc__errorf(rc, "the pool was closed") : 0;
}

static mproc__pool_run *new_run(mproc__pool_job *job, size_t index, size_t count)
{
    mproc__pool_run *run = calloc(1, sizeof *run);
    if (run) {
        run->job = job;
        run->index = index;
        run->count = count;
    }
    return run;
}

static void finish_now(mproc__pool_job *job, size_t index, size_t count, int status)
{
    mproc_task_status st = {0, 0, 0, 0};
    st.status = status;
    mproc__pool_finish(job, index, count, &st, NULL, 0);
}

/* Hands runs (a list) to the dispatcher, or fails their items when the
 * pool was closed meanwhile.  Lock not held. */
static void submit(mproc_pool *p, mproc__pool_run *runs)
{
    int closed;
    if (!runs)
        return;
    mproc__plat_mutex_lock(p->mu);
    closed = p->state != MPROC__POOL_RUNNING;
    while (runs) {
        mproc__pool_run *run = runs;
        runs = run->next;
        if (closed) {
            finish_now(run->job, run->index, run->count, MPROC_ECLOSED);
            free(run);
        } else {
            mproc__pool_enqueue(p, run);
        }
    }
    mproc__plat_mutex_unlock(p->mu);
    if (!closed)
        mproc__pool_wake(p);
}

/* ---- map ----------------------------------------------------------------------- */

typedef struct {
    mproc__pool_job job; /* first: the dispatcher's view */
    unsigned char *out;
    size_t out_size;
    mproc_task_status *status;
    size_t n;
    size_t first_failed; /* the first failed item's index (n: none yet) */
    int first_failure;   /* its status */
} map_job;

static const void *map_input(mproc__pool_job *job, size_t index, size_t *len)
{
    *len = job->in_size;
    return job->in + index * job->in_size;
}

/* Results land in the caller's records: a result shorter than out_size is
 * zero-padded, a longer one fails its item with MPROC_ETOOBIG. */
static void map_finish(mproc__pool_job *job, size_t index, size_t count, const mproc_task_status *st,
                       const void *data, size_t len)
{
    map_job *m = (map_job *)job;
    int status = st->status == 0 && len > m->out_size ? MPROC_ETOOBIG : st->status;
    if (m->out) {
        unsigned char *dst = m->out + index * m->out_size;
        const unsigned char *src = data;
        if (status != 0)
            memset(dst, 0, count * m->out_size);
        else if (len == m->out_size && len > 0)
            memcpy(dst, src, count * len);
        else
            for (size_t i = 0; i < count; i++, dst += m->out_size) {
                if (len)
                    memcpy(dst, src + i * len, len);
                memset(dst + len, 0, m->out_size - len);
            }
    }
    if (m->status)
        for (size_t i = 0; i < count; i++) {
            m->status[index + i] = *st;
            m->status[index + i].status = status;
        }
    if (status != 0 && index < m->first_failed) {
        m->first_failed = index;
        m->first_failure = status;
    }
}

int mproc_pool_map(mproc_pool *p, mproc_task_fn fn, const void *in, size_t n, size_t in_size, void *out,
                   size_t out_size, size_t chunksize, mproc_task_status *status)
{
    map_job m;
    mproc__pool_run *run = NULL;
    size_t told = 0;
    int rc = mproc__pool_usable(p);

    if (rc != 0)
        return rc;
    if (!fn || (n > 0 && !in) || (out_size > 0 && n > 0 && !out))
        return mproc__error(MPROC_EINVAL);
    if (chunksize == 0) {
        /* CPython's rule: chunksize, extra = divmod(n, 4 * workers). */
        size_t per = 4 * (size_t)p->nworkers;
        chunksize = n / per + (n % per != 0);
    }
    if ((rc = prepare_job(p, &m.job, fn, chunksize)) != 0)
        return rc;
    m.job.in = in;
    m.job.in_size = in_size;
    m.job.fixed = in_size < MPROC__POOL_VARIABLE;
    if (in_size > 0 && m.job.chunksize > MPROC__POOL_CHUNK_BYTES / in_size)
        m.job.chunksize = in_size < MPROC__POOL_CHUNK_BYTES ? MPROC__POOL_CHUNK_BYTES / in_size : 1;
    m.job.input = map_input;
    m.job.finish = map_finish;
    m.out = out;
    m.out_size = out_size;
    m.status = status;
    m.n = n;
    m.first_failed = n;
    m.first_failure = 0;
    if (n == 0)
        return 0;
    if (!(run = new_run(&m.job, 0, n)))
        return mproc__error(MPROC_ENOMEM);
    if (in_size > p->opts.max_message) {
        mproc__plat_mutex_lock(p->mu);
        finish_now(&m.job, 0, n, MPROC_ETOOBIG);
        mproc__plat_mutex_unlock(p->mu);
        free(run);
    } else {
        submit(p, run);
    }
    /* Asleep until the last item is done (or, with a progress callback,
     * until each batch of results). */
    mproc__plat_mutex_lock(p->mu);
    for (;;) {
        size_t done = m.job.finished;
        if (p->opts.progress && done > told) {
            mproc__plat_mutex_unlock(p->mu);
            p->opts.progress(done, n, p->opts.progress_ud);
            told = done;
            mproc__plat_mutex_lock(p->mu);
            continue;
        }
        if (done == n)
            break;
        m.job.notify_at = p->opts.progress ? done + 1 : n;
        (void)mproc__plat_cond_wait(p->cv, p->mu, -1);
    }
    mproc__plat_mutex_unlock(p->mu);
    return m.first_failure ? mproc__error(m.first_failure) : 0;
}

/* ---- imap ---------------------------------------------------------------------- */

/* One item of imap's window, in a slot of its ring.  The dispatcher knows
 * items by their slot (consecutive slots make a run), the caller by their
 * index in the input. */
typedef struct {
    int used;     /* pulled and not yet delivered (the caller's) */
    size_t index; /* in the input */
    void *in;     /* its own copy of its input */
    size_t len;
    int done;     /* lock */
    mproc_task_status st;
    void *out;    /* its result (malloc) */
    size_t out_len;
} stream_item;

typedef struct {
    mproc__pool_job job; /* first: the dispatcher's view */
    stream_item *ring;
    size_t slots;  /* ordered: window (item i in slot i % window); unordered: twice that */
    size_t window; /* items outstanding: pulled and not yet delivered */
    size_t cursor; /* the next slot to try */
    int ordered;
    size_t *finished_order;         /* unordered: slots as their items finish, a ring of window */
    size_t order_head, order_count; /* lock */
} stream_job;

static const void *stream_input(mproc__pool_job *job, size_t slot, size_t *len)
{
    stream_item *it = &((stream_job *)job)->ring[slot];
    *len = it->len;
    return it->in;
}

static void stream_finish(mproc__pool_job *job, size_t slot, size_t count, const mproc_task_status *st,
                          const void *data, size_t len)
{
    stream_job *s = (stream_job *)job;
    for (size_t i = 0; i < count; i++) {
        stream_item *it = &s->ring[slot + i];
        it->st = *st;
        if (st->status == 0 && len > 0) {
            if ((it->out = malloc(len)) != NULL) {
                memcpy(it->out, (const unsigned char *)data + i * len, len);
                it->out_len = len;
            } else {
                it->st.status = MPROC_ENOMEM;
            }
        }
        it->done = 1;
        if (!s->ordered)
            s->finished_order[(s->order_head + s->order_count++) % s->window] = slot + i;
    }
}

static void item_clear(stream_item *it)
{
    free(it->in);
    free(it->out);
    memset(it, 0, sizeof *it);
}

/* Pulls inputs while the window has room: copies them into free slots and
 * queues them.  Returns 1 at the end of the input (*rc: 0 or the error
 * that stopped it), else 0. */
static int pull(mproc_pool *p, stream_job *s, mproc_input_fn next, void *ud, size_t *pulled, size_t delivered,
                int *rc)
{
    mproc__pool_run *runs = NULL, **tail = &runs, *run = NULL;
    int ended = 0;
    while (*pulled - delivered < s->window) {
        const void *d = NULL;
        size_t n = 0, slot;
        stream_item *it;
        int r = next(ud, &d, &n);
        if (r <= 0 || (n > 0 && !d)) {
            *rc = r < 0 ? r : r == 0 ? 0 : MPROC_EINVAL;
            ended = 1;
            break;
        }
        /* A free slot: the next one, but for (unordered) one whose item
         * is still out; fewer than window are, in twice as many slots. */
        while (s->ring[s->cursor].used)
            s->cursor = (s->cursor + 1) % s->slots;
        slot = s->cursor;
        it = &s->ring[slot];
        /* Valid only until the next call: the item keeps a copy. */
        if (!(it->in = malloc(n ? n : 1))) {
            *rc = MPROC_ENOMEM;
            ended = 1;
            break;
        }
        if (n)
            memcpy(it->in, d, n);
        it->len = n;
        it->used = 1;
        it->index = (*pulled)++;
        s->cursor = (slot + 1) % s->slots;
        if (n > p->opts.max_message) {
            mproc__plat_mutex_lock(p->mu);
            finish_now(&s->job, slot, 1, MPROC_ETOOBIG);
            mproc__plat_mutex_unlock(p->mu);
            run = NULL;
        } else if (run && run->index + run->count == slot) {
            run->count++;
        } else if ((run = new_run(&s->job, slot, 1)) != NULL) {
            *tail = run;
            tail = &run->next;
        } else {
            mproc__plat_mutex_lock(p->mu);
            finish_now(&s->job, slot, 1, MPROC_ENOMEM);
            mproc__plat_mutex_unlock(p->mu);
        }
    }
    submit(p, runs);
    return ended;
}

int mproc_pool_imap(mproc_pool *p, mproc_task_fn fn, mproc_input_fn next, void *in_ud, mproc_result_fn on_result,
                    void *out_ud, size_t chunksize, int ordered)
{
    stream_job s;
    size_t pulled = 0, delivered = 0;
    int rc = mproc__pool_usable(p), first_failure = 0, ended = 0, stop = 0;

    if (rc != 0)
        return rc;
    if (!fn || !next || !on_result)
        return mproc__error(MPROC_EINVAL);
    memset(&s, 0, sizeof s);
    if ((rc = prepare_job(p, &s.job, fn, chunksize)) != 0)
        return rc;
    s.job.input = stream_input;
    s.job.finish = stream_finish;
    s.ordered = ordered != 0;
    /* Outstanding items (sent, queued or finished and not yet delivered)
     * stay within the window: a few chunks per worker. */
    s.window = 4 * (size_t)p->nworkers * s.job.chunksize + 16;
    s.slots = s.ordered ? s.window : 2 * s.window;
    if (!(s.ring = calloc(s.slots, sizeof *s.ring)) ||
        (!s.ordered && !(s.finished_order = malloc(s.window * sizeof *s.finished_order)))) {
        free(s.ring);
        return mproc__error(MPROC_ENOMEM);
    }
    for (;;) {
        size_t ready = 0, first = 0;
        if (!ended)
            ended = pull(p, &s, next, in_ud, &pulled, delivered, &stop);
        if (ended && delivered == pulled)
            break;
        /* Asleep until something can be delivered (or pulled). */
        mproc__plat_mutex_lock(p->mu);
        for (;;) {
            if (s.ordered) {
                while (delivered + ready < pulled && s.ring[(delivered + ready) % s.slots].done)
                    ready++;
            } else {
                ready = s.order_count;
                first = s.order_head;
                s.order_head = (s.order_head + ready) % s.window;
                s.order_count = 0;
            }
            if (ready || (!ended && pulled - delivered < s.window))
                break;
            s.job.notify_at = s.job.finished + 1;
            (void)mproc__plat_cond_wait(p->cv, p->mu, -1);
        }
        mproc__plat_mutex_unlock(p->mu);
        /* Delivered without the lock: finished items are this thread's. */
        for (size_t k = 0; k < ready; k++) {
            size_t slot = s.ordered ? delivered % s.slots : s.finished_order[(first + k) % s.window];
            stream_item *it = &s.ring[slot];
            if (it->st.status != 0 && first_failure == 0)
                first_failure = it->st.status;
            on_result(out_ud, it->index, &it->st, it->out, it->out_len);
            item_clear(it);
            delivered++;
        }
        if (p->opts.progress && ready)
            p->opts.progress(delivered, 0, p->opts.progress_ud);
    }
    free(s.ring);
    free(s.finished_order);
    rc = stop != 0 ? stop : first_failure;
    return rc ? mproc__raise(rc) : 0;
}

/* ---- apply_async --------------------------------------------------------------- */

struct mproc_result {
    mproc__obj obj;
    mproc__pool_job job; /* the dispatcher's view (result_of) */
    mproc_pool *pool;
    void *in; /* a copy */
    size_t len;
    int done; /* lock */
    mproc_task_status st;
    void *out; /* the result (malloc) */
    size_t out_len;
    int taken; /* get handed the result over */
};
MPROC__TAG_FIRST(struct mproc_result);

static mproc_result *result_of(mproc__pool_job *job)
{
    return (mproc_result *)(void *)((char *)job - offsetof(mproc_result, job));
}

static const void *apply_input(mproc__pool_job *job, size_t index, size_t *len)
{
    mproc_result *r = result_of(job);
    (void)index;
    *len = r->len;
    return r->in;
}

static void apply_finish(mproc__pool_job *job, size_t index, size_t count, const mproc_task_status *st,
                         const void *data, size_t len)
{
    mproc_result *r = result_of(job);
    (void)index;
    (void)count;
    r->st = *st;
    if (st->status == 0 && len > 0) {
        if ((r->out = malloc(len)) != NULL) {
            memcpy(r->out, data, len);
            r->out_len = len;
        } else {
            r->st.status = MPROC_ENOMEM;
        }
    }
    r->done = 1;
}

static void result_destroy(mproc_result *r)
{
    free(r->in);
    free(r->out);
    mproc__obj_clear(&r->obj);
    free(r);
}

static void result_release(mproc__pool_job *job)
{
    mproc_result *r = result_of(job);
    /* The pool's reference is dropped by whoever frees last; here the
     * caller already let go and the lock is held: defer to the count. */
    r->pool->refs--;
    result_destroy(r);
}

mproc_result *mproc_pool_apply_async(mproc_pool *p, mproc_task_fn fn, const void *in, size_t len)
{
    mproc_result *r;
    mproc__pool_run *run = NULL;
    int rc = mproc__pool_usable(p);
    if (rc != 0)
        return NULL;
    if (!fn || (len > 0 && !in))
        return mproc__null(MPROC_EINVAL);
    if (!(r = calloc(1, sizeof *r)) || !(r->in = malloc(len ? len : 1))) {
        free(r);
        return mproc__null(MPROC_ENOMEM);
    }
    if (len)
        memcpy(r->in, in, len);
    mproc__obj_init(&r->obj, MPROC__T_RESULT);
    r->len = len;
    if ((rc = prepare_job(p, &r->job, fn, 1)) != 0 || !(run = new_run(&r->job, 0, 1))) {
        result_destroy(r);
        return mproc__null(rc ? rc : MPROC_ENOMEM);
    }
    r->job.input = apply_input;
    r->job.finish = apply_finish;
    r->job.notify_at = 1;
    r->job.release = result_release;
    r->pool = p;
    mproc__plat_mutex_lock(p->mu);
    if (p->state != MPROC__POOL_RUNNING) {
        rc = MPROC_ECLOSED;
    } else {
        p->refs++;
        if (len > p->opts.max_message) {
            finish_now(&r->job, 0, 1, MPROC_ETOOBIG);
            free(run);
            run = NULL;
        } else {
            mproc__pool_enqueue(p, run);
        }
    }
    mproc__plat_mutex_unlock(p->mu);
    if (rc != 0) {
        free(run);
        result_destroy(r);
        return mproc__raise_null(rc);
    }
    if (run)
        mproc__pool_wake(p);
    return r;
}

int mproc_result_wait(mproc_result *r, double timeout)
{
    double deadline;
    int rc = 0;
    if (!mproc__is(r, MPROC__T_RESULT))
        return mproc__error(MPROC_EINVAL);
    if (mproc__timeout(&timeout) != 0)
        return mproc_last_error();
    deadline = mproc__plat_now() + timeout;
    mproc__plat_mutex_lock(r->pool->mu);
    while (!r->done) {
        double left = deadline - mproc__plat_now();
        if (timeout >= 0 && left <= 0) {
            rc = MPROC_ETIMEDOUT;
            break;
        }
        (void)mproc__plat_cond_wait(r->pool->cv, r->pool->mu, timeout < 0 ? -1 : left);
    }
    mproc__plat_mutex_unlock(r->pool->mu);
    return rc ? mproc__raise(rc) : 0;
}

int mproc_result_ready(mproc_result *r)
{
    int done;
    if (!mproc__is(r, MPROC__T_RESULT))
        return mproc__error(MPROC_EINVAL);
    mproc__plat_mutex_lock(r->pool->mu);
    done = r->done;
    mproc__plat_mutex_unlock(r->pool->mu);
    return done;
}

int mproc_result_get(mproc_result *r, void **data, size_t *len, double timeout, mproc_task_status *st)
{
    int rc;
    if (!mproc__is(r, MPROC__T_RESULT) || !data != !len)
        return mproc__error(MPROC_EINVAL);
    if (data) {
        *data = NULL;
        *len = 0;
    }
    if ((rc = mproc_result_wait(r, timeout)) != 0)
        return rc;
    if (st)
        *st = r->st;
    if (r->st.status != 0)
        return mproc__error(r->st.status);
    if (data && !r->taken) {
        *data = r->out;
        *len = r->out_len;
        r->out = NULL;
        r->taken = 1;
    }
    return 0;
}

void mproc_result_free(mproc_result *r)
{
    mproc_pool *p;
    int done;
    if (!mproc__is(r, MPROC__T_RESULT))
        return;
    /* The handle is gone now, whenever the dispatcher lets the memory go. */
    mproc__obj_clear(&r->obj);
    p = r->pool;
    if (p->owner != mproc__plat_getpid())
        return; /* a fork child's copy: the pool's mutex may have been held by a thread it lacks */
    mproc__plat_mutex_lock(p->mu);
    done = r->done;
    if (!done)
        r->job.orphaned = 1; /* the dispatcher frees it when it finishes */
    mproc__plat_mutex_unlock(p->mu);
    if (done) {
        result_destroy(r);
        mproc__pool_unref(p);
    }
}
