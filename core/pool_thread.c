/*
 * The pool's transport over threads (multiprocessing.dummy): each worker
 * is a thread of this process with an inbox of messages; what workers send
 * goes to one list of events the dispatcher reads.  No pipe, no copy of the
 * task in a child: messages are handed over in memory.
 *
 * A thread cannot be killed.  A worker the pool gives up on (its item ran
 * past task_timeout, or the pool was terminated) is abandoned: it reports
 * its end at once, what it sends later is dropped, and its thread leaves
 * when its item returns; the transport joins it when it is freed.
 */
#include <stdlib.h>
#include <string.h>

#include "pool_internal.h"

typedef struct message {
    struct message *next;
    mproc__tp_event ev; /* to the dispatcher: the event; to a worker: data/len */
} message;

typedef struct threads threads;

typedef struct tworker {
    mproc__pool_endpoint ep;
    threads *ts;
    int index;
    mproc__child *thread;
    message *inbox, **inbox_tail; /* ts->mu */
    mproc__cond *inbox_cv;
    int abandoned;                /* ts->mu: its end was reported already */
    mproc__pool_slot slot;
    mproc_args *initargs;
    struct tworker *next_all;     /* every worker ever started, for joining */
} tworker;

struct threads {
    mproc__pool_transport tp;
    mproc_target_fn initializer;
    const mproc_args *initargs; /* the pool's copy */
    int maxtasks;
    size_t max_message;
    mproc__mutex *mu;
    mproc__cond *cv;                /* events or a wake for the dispatcher */
    message *events, **events_tail; /* mu */
    int woken;                      /* mu */
    tworker **w;                    /* current worker of each slot */
    tworker *all;
};

static threads *of(mproc__pool_transport *tp) { return (threads *)tp; }

static void push(message ***tail, message *m)
{
    m->next = NULL;
    **tail = m;
    *tail = &m->next;
}

static message *pop(message **head, message ***tail)
{
    message *m = *head;
    if (m && !(*head = m->next))
        *tail = head;
    return m;
}

/* ---- the worker's side ------------------------------------------------------ */

static int ep_recv(mproc__pool_endpoint *ep, void **data, size_t *len)
{
    tworker *tw = (tworker *)ep;
    message *m;
    mproc__plat_mutex_lock(tw->ts->mu);
    while (!tw->inbox && !tw->abandoned)
        (void)mproc__plat_cond_wait(tw->inbox_cv, tw->ts->mu, -1);
    m = tw->abandoned ? NULL : pop(&tw->inbox, &tw->inbox_tail);
    mproc__plat_mutex_unlock(tw->ts->mu);
    if (!m)
        return MPROC_ECLOSED;
    *data = m->ev.data;
    *len = m->ev.len;
    free(m);
    return 0;
}

static void ep_release(mproc__pool_endpoint *ep, void *data)
{
    (void)ep;
    free(data);
}

/* Queues an event for the dispatcher unless tw was abandoned (then it is
 * dropped: its end was reported already).  Takes m. */
static int post(tworker *tw, message *m)
{
    int dropped;
    mproc__plat_mutex_lock(tw->ts->mu);
    dropped = tw->abandoned;
    if (!dropped) {
        push(&tw->ts->events_tail, m);
        mproc__plat_cond_signal(tw->ts->cv);
    }
    mproc__plat_mutex_unlock(tw->ts->mu);
    if (dropped) {
        free(m->ev.data);
        free(m);
    }
    return dropped ? MPROC_ECLOSED : 0;
}

static int ep_send(mproc__pool_endpoint *ep, const void *data, size_t len)
{
    tworker *tw = (tworker *)ep;
    message *m = calloc(1, sizeof *m);
    if (!m || !(m->ev.data = malloc(len ? len : 1))) {
        free(m);
        return MPROC_ENOMEM;
    }
    memcpy(m->ev.data, data, len);
    m->ev.len = len;
    m->ev.kind = MPROC__TP_MESSAGE;
    m->ev.worker = tw->index;
    return post(tw, m);
}

static int worker_main(void *ud)
{
    tworker *tw = ud;
    int code = mproc__pool_worker_loop(&tw->ep, tw->ts->initializer, tw->initargs);
    message *m = calloc(1, sizeof *m);
    if (m) {
        m->ev.kind = MPROC__TP_ENDED;
        m->ev.worker = tw->index;
        m->ev.code = code;
        (void)post(tw, m);
    }
    /* Without memory for the event the slot would never be reported free:
     * the dispatcher's next() reports it from tw->thread ending instead. */
    return code;
}

/* ---- the dispatcher's side --------------------------------------------------- */

static void tworker_free(tworker *tw)
{
    message *m;
    if (tw->thread) {
        int code;
        (void)mproc__plat_child_wait(tw->thread, -1, &code);
        mproc__plat_child_free(tw->thread);
    }
    while ((m = pop(&tw->inbox, &tw->inbox_tail)) != NULL) {
        free(m->ev.data);
        free(m);
    }
    mproc__plat_cond_free(tw->inbox_cv);
    mproc_args_free(tw->initargs);
    free(tw);
}

static int threads_start(mproc__pool_transport *tp, int w)
{
    threads *ts = of(tp);
    tworker *tw = calloc(1, sizeof *tw);
    int rc;
    if (!tw || !(tw->inbox_cv = mproc__plat_cond_new()) || !(tw->initargs = mproc_args_new()) ||
        mproc__args_append(tw->initargs, ts->initargs) != 0) {
        if (tw) {
            mproc__plat_cond_free(tw->inbox_cv);
            mproc_args_free(tw->initargs);
        }
        free(tw);
        return MPROC_ENOMEM;
    }
    tw->ep.recv = ep_recv;
    tw->ep.release = ep_release;
    tw->ep.send = ep_send;
    tw->ep.slot = &tw->slot;
    tw->ep.maxtasks = ts->maxtasks;
    tw->ep.max_message = ts->max_message;
    tw->ts = ts;
    tw->index = w;
    tw->inbox_tail = &tw->inbox;
    if ((rc = mproc__plat_thread_start(&tw->thread, worker_main, tw)) != 0) {
        tw->thread = NULL;
        tworker_free(tw);
        return rc;
    }
    mproc__plat_mutex_lock(ts->mu);
    ts->w[w] = tw;
    tw->next_all = ts->all;
    ts->all = tw;
    mproc__plat_mutex_unlock(ts->mu);
    return 0;
}

static long threads_pid(mproc__pool_transport *tp, int w)
{
    (void)tp;
    (void)w;
    return mproc__plat_getpid();
}

static int threads_send(mproc__pool_transport *tp, int w, const void *data, size_t len)
{
    threads *ts = of(tp);
    message *m = calloc(1, sizeof *m);
    int rc = 0;
    if (!m || !(m->ev.data = malloc(len ? len : 1))) {
        free(m);
        return MPROC_ENOMEM;
    }
    memcpy(m->ev.data, data, len);
    m->ev.len = len;
    mproc__plat_mutex_lock(ts->mu);
    if (ts->w[w] && !ts->w[w]->abandoned) {
        push(&ts->w[w]->inbox_tail, m);
        mproc__plat_cond_signal(ts->w[w]->inbox_cv);
        m = NULL;
    } else {
        rc = MPROC_ECLOSED;
    }
    mproc__plat_mutex_unlock(ts->mu);
    if (m) {
        free(m->ev.data);
        free(m);
    }
    return rc;
}

static int threads_next(mproc__pool_transport *tp, double timeout, mproc__tp_event *ev)
{
    threads *ts = of(tp);
    double deadline = mproc__plat_now() + timeout;
    message *m = NULL;
    memset(ev, 0, sizeof *ev);
    mproc__plat_mutex_lock(ts->mu);
    for (;;) {
        double left = deadline - mproc__plat_now();
        if ((m = pop(&ts->events, &ts->events_tail)) != NULL) {
            *ev = m->ev;
            if (ev->kind == MPROC__TP_ENDED && ts->w[ev->worker] && !ts->w[ev->worker]->abandoned) {
                ev->running = atomic_load(&ts->w[ev->worker]->slot.item);
                ts->w[ev->worker] = NULL;
            }
            break;
        }
        if (ts->woken) {
            ts->woken = 0;
            ev->kind = MPROC__TP_WOKEN;
            break;
        }
        if (timeout >= 0 && left <= 0) {
            ev->kind = MPROC__TP_TIMEOUT;
            break;
        }
        (void)mproc__plat_cond_wait(ts->cv, ts->mu, timeout < 0 ? -1 : left);
    }
    mproc__plat_mutex_unlock(ts->mu);
    free(m);
    return ev->kind;
}

static void threads_release(mproc__pool_transport *tp, void *data)
{
    (void)tp;
    free(data);
}

static void threads_wake(mproc__pool_transport *tp)
{
    threads *ts = of(tp);
    mproc__plat_mutex_lock(ts->mu);
    ts->woken = 1;
    mproc__plat_cond_signal(ts->cv);
    mproc__plat_mutex_unlock(ts->mu);
}

static mproc__pool_slot *threads_slot(mproc__pool_transport *tp, int w)
{
    return &of(tp)->w[w]->slot;
}

/* Gives up on worker w: its end is reported now, the thread leaves once
 * its item returns. */
static void threads_stop(mproc__pool_transport *tp, int w)
{
    threads *ts = of(tp);
    tworker *tw;
    message *m = calloc(1, sizeof *m);
    mproc__plat_mutex_lock(ts->mu);
    tw = ts->w[w];
    if (tw && !tw->abandoned) {
        /* Queued first, so the dispatcher hears of the end once. */
        if (m) {
            m->ev.kind = MPROC__TP_ENDED;
            m->ev.worker = w;
            m->ev.code = -9;
            m->ev.running = atomic_load(&tw->slot.item);
            push(&ts->events_tail, m);
            m = NULL;
        }
        tw->abandoned = 1;
        ts->w[w] = NULL;
        mproc__plat_cond_signal(tw->inbox_cv);
        mproc__plat_cond_signal(ts->cv);
    }
    mproc__plat_mutex_unlock(ts->mu);
    free(m);
}

static void threads_free(mproc__pool_transport *tp)
{
    threads *ts = of(tp);
    message *m;
    if (!ts)
        return;
    if (ts->mu) {
        /* Every worker, current or abandoned, is told to leave and joined. */
        mproc__plat_mutex_lock(ts->mu);
        for (tworker *tw = ts->all; tw; tw = tw->next_all) {
            tw->abandoned = 1;
            mproc__plat_cond_signal(tw->inbox_cv);
        }
        mproc__plat_mutex_unlock(ts->mu);
    }
    while (ts->all) {
        tworker *tw = ts->all;
        ts->all = tw->next_all;
        tworker_free(tw);
    }
    while ((m = pop(&ts->events, &ts->events_tail)) != NULL) {
        free(m->ev.data);
        free(m);
    }
    free(ts->w);
    mproc__plat_cond_free(ts->cv);
    if (ts->mu)
        mproc__plat_mutex_free(ts->mu);
    free(ts);
}

static const mproc__pool_transport_ops threads_ops = {threads_start,   threads_pid,  threads_send,
                                                      threads_next,    threads_release, threads_wake,
                                                      threads_slot,    threads_stop, threads_free};

mproc__pool_transport *mproc__pool_threads_new(int workers, const mproc__pool_worker_cfg *cfg)
{
    threads *ts = calloc(1, sizeof *ts);
    if (!ts)
        return mproc__null(MPROC_ENOMEM);
    ts->tp.ops = &threads_ops;
    ts->tp.workers = workers;
    ts->tp.by_name = 0;
    ts->initializer = cfg->initializer;
    ts->initargs = cfg->initargs;
    ts->maxtasks = cfg->maxtasks;
    ts->max_message = cfg->max_message;
    ts->events_tail = &ts->events;
    if (!(ts->mu = mproc__plat_mutex_new()) || !(ts->cv = mproc__plat_cond_new()) ||
        !(ts->w = calloc((size_t)workers, sizeof *ts->w))) {
        threads_free(&ts->tp);
        return mproc__null(MPROC_ENOMEM);
    }
    return &ts->tp;
}
