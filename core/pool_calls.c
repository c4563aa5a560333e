/*
 * What callers ask of a pool: map, imap (ordered or not) and apply_async.
 * map and imap are one loop in the caller's thread: pull inputs while
 * fewer than a window's worth are outstanding, hand them to the dispatcher,
 * deliver what finished.  So input of any length runs in bounded memory,
 * and callbacks (results, progress) run in the caller's thread with no
 * lock held.
 */
#include <stdlib.h>
#include <string.h>

#include "pool_internal.h"

/* ---- the streaming loop ------------------------------------------------------ */

#define MAX_CHUNK_ITEMS 1024

typedef struct {
    /* Source: 1 with an item (*own: a copy the item keeps, else data must
     * stay valid for the whole call), 0 at the end, < 0 to stop. */
    int (*next)(void *ud, const void **data, size_t *len, void **own);
    void *next_ud;
    void (*deliver)(void *ud, size_t index, const mproc_task_status *st, const void *data, size_t len);
    void *deliver_ud;
    size_t total; /* for progress; 0 unknown */
    int ordered;
} stream;

static int prepare_job(mproc_pool *p, mproc__pool_job *job, mproc_task_fn fn, size_t chunksize, int kind)
{
    int rc;
    memset(job, 0, sizeof *job);
    job->kind = kind;
    job->fn = fn;
    /* A chunk beyond this many items buys nothing (its message is capped
     * at MPROC__POOL_CHUNK_BYTES anyway) and the window of items in memory
     * grows with it: CPython's default for 2,000,000 items would be 250,000. */
    job->chunksize = chunksize == 0 ? 1 : chunksize > MAX_CHUNK_ITEMS ? MAX_CHUNK_ITEMS : chunksize;
    job->done_tail = &job->done_list;
    if ((rc = mproc__pool_task_ref(fn, p->tp->by_name, &job->task_name)) != 0)
        return rc;
    mproc__plat_mutex_lock(p->mu);
    rc = p->state != MPROC__POOL_RUNNING ? MPROC_ECLOSED : 0;
    mproc__plat_mutex_unlock(p->mu);
    return rc ? mproc__errorf(rc, "the pool was closed") : 0;
}

static mproc__pool_item *new_item(mproc__pool_job *job, size_t index, const void *in, size_t len, void *own)
{
    mproc__pool_item *it = calloc(1, sizeof *it);
    if (!it)
        return NULL;
    it->job = job;
    it->index = index;
    it->in = in;
    it->len = len;
    it->own_in = own;
    return it;
}

static void free_item(mproc__pool_item *it)
{
    free(it->own_in);
    free(it->out);
    free(it);
}

static int run_stream(mproc_pool *p, mproc__pool_job *job, const stream *s)
{
    /* Outstanding items (sent, queued or finished and not yet delivered)
     * stay within the window: a few chunks per worker. */
    size_t window = 4 * (size_t)p->nworkers * job->chunksize + 16;
    mproc__pool_item **ring = calloc(window, sizeof *ring);
    size_t pulled = 0, delivered = 0;
    int rc = 0, first_failure = 0, ended = 0;

    if (!ring)
        return mproc__error(MPROC_ENOMEM);
    job->listed = !s->ordered;
    for (;;) {
        mproc__pool_item *batch = NULL, **tail = &batch, *ready = NULL;
        int closed;
        /* Pull what the window allows. */
        while (!ended && pulled - delivered < window) {
            const void *data = NULL;
            size_t len = 0;
            void *own = NULL;
            mproc__pool_item *it;
            int r = s->next(s->next_ud, &data, &len, &own);
            if (r <= 0) {
                ended = 1;
                rc = r < 0 ? r : 0;
                break;
            }
            if (!(it = new_item(job, pulled, data, len, own))) {
                free(own);
                ended = 1;
                rc = MPROC_ENOMEM;
                break;
            }
            ring[pulled++ % window] = it;
            if (len > p->opts.max_message) {
                mproc__plat_mutex_lock(p->mu);
                mproc__pool_finish(it, MPROC_ETOOBIG, 0, NULL, 0);
                mproc__plat_mutex_unlock(p->mu);
            } else {
                *tail = it;
                tail = &it->next;
            }
        }
        mproc__plat_mutex_lock(p->mu);
        closed = p->state != MPROC__POOL_RUNNING;
        if (batch && !closed)
            mproc__pool_enqueue(p, batch, tail);
        else if (batch)
            for (mproc__pool_item *it = batch, *nx; it; it = nx) {
                nx = it->next;
                mproc__pool_finish(it, MPROC_ECLOSED, 0, NULL, 0);
            }
        mproc__plat_mutex_unlock(p->mu);
        if (batch && !closed)
            mproc__pool_wake(p);
        if (ended && delivered == pulled)
            break;
        /* Wait for what can be delivered next. */
        mproc__plat_mutex_lock(p->mu);
        for (;;) {
            if (s->ordered) {
                mproc__pool_item *it = ring[delivered % window];
                if (delivered < pulled && it->done)
                    break;
            } else if (job->done_list) {
                break;
            }
            if (!ended && pulled - delivered < window)
                break; /* room to pull more first */
            (void)mproc__plat_cond_wait(p->cv, p->mu, -1);
        }
        if (job->listed) {
            ready = job->done_list;
            job->done_list = NULL;
            job->done_tail = &job->done_list;
        }
        mproc__plat_mutex_unlock(p->mu);
        /* Deliver without the lock (the ring's slots are this thread's). */
        if (s->ordered) {
            while (delivered < pulled) {
                mproc__pool_item *it = ring[delivered % window];
                int done;
                mproc__plat_mutex_lock(p->mu);
                done = it->done;
                mproc__plat_mutex_unlock(p->mu);
                if (!done)
                    break;
                if (it->st.status != 0 && first_failure == 0)
                    first_failure = it->st.status;
                s->deliver(s->deliver_ud, it->index, &it->st, it->out, it->out_len);
                ring[delivered++ % window] = NULL;
                free_item(it);
            }
        } else {
            while (ready) {
                mproc__pool_item *it = ready;
                ready = it->next;
                if (it->st.status != 0 && first_failure == 0)
                    first_failure = it->st.status;
                s->deliver(s->deliver_ud, it->index, &it->st, it->out, it->out_len);
                delivered++;
                free_item(it);
            }
        }
        if (p->opts.progress)
            p->opts.progress(delivered, s->total, p->opts.progress_ud);
    }
    free(ring);
    if (rc != 0)
        return rc;
    return first_failure;
}

/* ---- map ----------------------------------------------------------------------- */

typedef struct {
    const unsigned char *in;
    size_t n, in_size, next;
    unsigned char *out;
    size_t out_size;
    mproc_task_status *status;
    int first_failure; /* in input order, counting results too long for their record */
} map_state;

static int map_next(void *ud, const void **data, size_t *len, void **own)
{
    map_state *m = ud;
    (void)own;
    if (m->next == m->n)
        return 0;
    *data = m->in + m->next++ * m->in_size;
    *len = m->in_size;
    return 1;
}

static void map_deliver(void *ud, size_t index, const mproc_task_status *st, const void *data, size_t len)
{
    map_state *m = ud;
    mproc_task_status s = *st;
    unsigned char *dst = m->out ? m->out + index * m->out_size : NULL;
    if (s.status == 0 && len > m->out_size)
        s.status = MPROC_ETOOBIG;
    if (dst) {
        size_t n = s.status == 0 ? len : 0;
        if (n)
            memcpy(dst, data, n);
        memset(dst + n, 0, m->out_size - n);
    }
    if (m->status)
        m->status[index] = s;
    if (s.status != 0 && m->first_failure == 0)
        m->first_failure = s.status;
}

int mproc_pool_map(mproc_pool *p, mproc_task_fn fn, const void *in, size_t n, size_t in_size, void *out,
                   size_t out_size, size_t chunksize, mproc_task_status *status)
{
    mproc__pool_job job;
    map_state m = {in, n, in_size, 0, out, out_size, status, 0};
    stream s = {map_next, &m, map_deliver, &m, n, 1};
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
    if ((rc = prepare_job(p, &job, fn, chunksize, MPROC__JOB_STREAM)) != 0)
        return rc;
    rc = run_stream(p, &job, &s);
    /* map's own view, in input order: a result too long for its record
     * fails that item too. */
    if (m.first_failure != 0 && rc != MPROC_ENOMEM)
        rc = m.first_failure;
    return rc ? mproc__error(rc) : 0;
}

/* ---- imap ---------------------------------------------------------------------- */

typedef struct {
    mproc_input_fn next;
    void *ud;
} imap_source;

static int imap_next(void *ud, const void **data, size_t *len, void **own)
{
    imap_source *src = ud;
    const void *d = NULL;
    size_t n = 0;
    int r = src->next(src->ud, &d, &n);
    if (r <= 0)
        return r;
    if (n > 0 && !d)
        return MPROC_EINVAL;
    /* Valid only until the next call: the item keeps a copy. */
    if (!(*own = malloc(n ? n : 1)))
        return MPROC_ENOMEM;
    if (n)
        memcpy(*own, d, n);
    *data = *own;
    *len = n;
    return 1;
}

int mproc_pool_imap(mproc_pool *p, mproc_task_fn fn, mproc_input_fn next, void *in_ud, mproc_result_fn on_result,
                    void *out_ud, size_t chunksize, int ordered)
{
    mproc__pool_job job;
    imap_source src = {next, in_ud};
    stream s = {imap_next, &src, on_result, out_ud, 0, ordered != 0};
    int rc = mproc__pool_usable(p);
    if (rc != 0)
        return rc;
    if (!fn || !next || !on_result)
        return mproc__error(MPROC_EINVAL);
    if ((rc = prepare_job(p, &job, fn, chunksize, MPROC__JOB_STREAM)) != 0)
        return rc;
    rc = run_stream(p, &job, &s);
    return rc ? mproc__error(rc) : 0;
}

/* ---- apply_async --------------------------------------------------------------- */

struct mproc_result {
    mproc__pool_job job; /* first: the job's release finds the result */
    mproc__pool_item *item;
    mproc_pool *pool;
    int taken; /* get handed the result over */
};

static void result_release(mproc__pool_job *job)
{
    mproc_result *r = (mproc_result *)job;
    free_item(r->item);
    /* The pool's reference is dropped by whoever frees last; here the
     * caller already let go and the lock is held: defer to the count. */
    r->pool->refs--;
    free(r);
}

mproc_result *mproc_pool_apply_async(mproc_pool *p, mproc_task_fn fn, const void *in, size_t len)
{
    mproc_result *r;
    void *copy;
    int rc = mproc__pool_usable(p);
    if (rc != 0)
        return NULL;
    if (!fn || (len > 0 && !in))
        return mproc__null(MPROC_EINVAL);
    if (!(r = calloc(1, sizeof *r)) || !(copy = malloc(len ? len : 1))) {
        free(r);
        return mproc__null(MPROC_ENOMEM);
    }
    if (len)
        memcpy(copy, in, len);
    if ((rc = prepare_job(p, &r->job, fn, 1, MPROC__JOB_APPLY)) != 0 ||
        !(r->item = new_item(&r->job, 0, copy, len, copy))) {
        free(copy);
        free(r);
        return mproc__null(rc ? rc : MPROC_ENOMEM);
    }
    r->job.release = result_release;
    r->pool = p;
    mproc__plat_mutex_lock(p->mu);
    if (p->state != MPROC__POOL_RUNNING) {
        rc = MPROC_ECLOSED;
    } else {
        p->refs++;
        if (len > p->opts.max_message)
            mproc__pool_finish(r->item, MPROC_ETOOBIG, 0, NULL, 0);
        else
            mproc__pool_enqueue(p, r->item, &r->item->next);
    }
    mproc__plat_mutex_unlock(p->mu);
    if (rc != 0) {
        free_item(r->item);
        free(r);
        return mproc__null(rc);
    }
    mproc__pool_wake(p);
    return r;
}

int mproc_result_wait(mproc_result *r, double timeout)
{
    double deadline;
    int rc = 0;
    if (!r)
        return mproc__error(MPROC_EINVAL);
    if (mproc__timeout(&timeout) != 0)
        return mproc_last_error();
    deadline = mproc__plat_now() + timeout;
    mproc__plat_mutex_lock(r->pool->mu);
    while (!r->item->done) {
        double left = deadline - mproc__plat_now();
        if (timeout >= 0 && left <= 0) {
            rc = MPROC_ETIMEDOUT;
            break;
        }
        (void)mproc__plat_cond_wait(r->pool->cv, r->pool->mu, timeout < 0 ? -1 : left);
    }
    mproc__plat_mutex_unlock(r->pool->mu);
    return rc ? mproc__error(rc) : 0;
}

int mproc_result_ready(mproc_result *r)
{
    int done;
    if (!r)
        return mproc__error(MPROC_EINVAL);
    mproc__plat_mutex_lock(r->pool->mu);
    done = r->item->done;
    mproc__plat_mutex_unlock(r->pool->mu);
    return done;
}

int mproc_result_get(mproc_result *r, void **data, size_t *len, double timeout, mproc_task_status *st)
{
    int rc;
    if (!r || !data != !len)
        return mproc__error(MPROC_EINVAL);
    if (data) {
        *data = NULL;
        *len = 0;
    }
    if ((rc = mproc_result_wait(r, timeout)) != 0)
        return rc;
    if (st)
        *st = r->item->st;
    if (r->item->st.status != 0)
        return mproc__error(r->item->st.status);
    if (data && !r->taken) {
        *data = r->item->out;
        *len = r->item->out_len;
        r->item->out = NULL;
        r->taken = 1;
    }
    return 0;
}

void mproc_result_free(mproc_result *r)
{
    mproc_pool *p;
    int done;
    if (!r)
        return;
    p = r->pool;
    mproc__plat_mutex_lock(p->mu);
    done = r->item->done;
    if (!done)
        r->job.orphaned = 1; /* the dispatcher frees it when it finishes */
    mproc__plat_mutex_unlock(p->mu);
    if (done) {
        free_item(r->item);
        free(r);
        mproc__pool_unref(p);
    }
}
