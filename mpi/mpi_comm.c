/*
 * The MPI component's mailbox: nonblocking receives into a queue, sends
 * that keep receiving while they wait (so the master and a worker that
 * send to each other at once both get through), and an idle sleep with a
 * back-off in place of MPI's blocking calls, which spin at 100% of a core
 * in Open MPI and MPICH.  One thread at a time uses it on each rank (the
 * master's dispatcher, or the caller once no pool runs); only the wake
 * flag is shared between threads.
 */
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "mpi_internal.h"

mproc__mpi_state mproc__mpi = {.level = -1, .comm = MPI_COMM_NULL};

/* The idle sleep doubles from 1 us to 1 ms (mpi4py.futures' back-off),
 * and after a quarter second with nothing to do, to 5 ms: a rank idle
 * between tasks answers within a millisecond, one idle for long costs a
 * probe every 5 ms (about 0.5% of a core here, instead of 2%). */
#define BACKOFF_MIN 1e-6
#define BACKOFF_MAX 1e-3
#define DEEP_IDLE_AFTER 0.25
#define BACKOFF_DEEP 5e-3

int mproc__mpi_state_init(void)
{
    mproc__mpi_state *s = &mproc__mpi;
    if (!(s->mu = mproc__plat_mutex_new()) || !(s->cv = mproc__plat_cond_new()))
        return mproc__error(MPROC_ENOMEM);
    MPI_Comm_dup(MPI_COMM_WORLD, &s->comm);
    MPI_Comm_rank(s->comm, &s->rank);
    MPI_Comm_size(s->comm, &s->size);
    s->head = NULL;
    s->tail = &s->head;
    mproc__mpi_active();
    return 0;
}

static void nap(double limit);

/* A received body's allocation: its capacity in front of it. */
typedef union {
    size_t cap;
    max_align_t align;
} body_head;

void *mproc__mpi_body_alloc(size_t n)
{
    mproc__mpi_state *s = &mproc__mpi;
    body_head *h = s->spare;
    if (n >= MPROC__MPI_COPY_LIMIT && h && h->cap >= n) {
        s->spare = NULL;
        return h + 1;
    }
    if (!(h = malloc(sizeof *h + (n ? n : 1))))
        return NULL;
    h->cap = n;
    return h + 1;
}

void mproc__mpi_body_free(void *data)
{
    mproc__mpi_state *s = &mproc__mpi;
    body_head *h = data ? (body_head *)data - 1 : NULL;
    if (h && h->cap >= MPROC__MPI_COPY_LIMIT && (!s->spare || ((body_head *)s->spare)->cap < h->cap)) {
        free(s->spare);
        s->spare = h;
        return;
    }
    free(h);
}

void mproc__mpi_body_drop_spare(void)
{
    free(mproc__mpi.spare);
    mproc__mpi.spare = NULL;
}

/* Completes the sends MPI is done with. */
static void reap_sends(void)
{
    mproc__mpi_pending **pp = &mproc__mpi.pending;
    while (*pp) {
        int done = 0;
        MPI_Test(&(*pp)->req, &done, MPI_STATUS_IGNORE);
        if (done) {
            mproc__mpi_pending *d = *pp;
            *pp = d->next;
            free(d->copy);
            free(d);
        } else {
            pp = &(*pp)->next;
        }
    }
}

int mproc__mpi_poll(void)
{
    mproc__mpi_state *s = &mproc__mpi;
    int got = 0;
    reap_sends();
    for (;;) {
        int found = 0, count = 0;
        MPI_Status st;
        mproc__mpi_msg *m;
        /* Iprobe, then Recv of that source and tag: one thread receives on
         * this communicator, and messages from one source keep their order,
         * so the Recv takes the message probed.  Out of memory, it stays in
         * MPI's queue for the next poll. */
        MPI_Iprobe(s->rank == 0 ? MPI_ANY_SOURCE : 0, MPI_ANY_TAG, s->comm, &found, &st);
        if (!found)
            break;
        MPI_Get_count(&st, MPI_BYTE, &count);
        if (!(m = malloc(sizeof *m)) || !(m->data = mproc__mpi_body_alloc(count > 0 ? (size_t)count : 0))) {
            free(m);
            return mproc__error(MPROC_ENOMEM);
        }
        MPI_Recv(m->data, count, MPI_BYTE, st.MPI_SOURCE, st.MPI_TAG, s->comm, MPI_STATUS_IGNORE);
        m->next = NULL;
        m->src = st.MPI_SOURCE;
        m->tag = st.MPI_TAG;
        m->len = (size_t)count;
        *s->tail = m;
        s->tail = &m->next;
        got++;
    }
    if (got)
        mproc__mpi_active();
    return got;
}

void mproc__mpi_msg_free(mproc__mpi_msg *m)
{
    if (m) {
        mproc__mpi_body_free(m->data);
        free(m);
    }
}

static mproc__mpi_msg *pop(void)
{
    mproc__mpi_state *s = &mproc__mpi;
    mproc__mpi_msg *m = s->head;
    if (m) {
        s->head = m->next;
        if (!s->head)
            s->tail = &s->head;
        m->next = NULL;
    }
    return m;
}

mproc__mpi_msg *mproc__mpi_take(void)
{
    mproc__mpi_state *s = &mproc__mpi;
    mproc__mpi_msg *m;
    while ((m = pop()) != NULL) {
        if (s->rank != 0 || !s->stale || s->stale[m->src] == 0)
            return m;
        /* From a life the master gave up on: dropped until its ACK. */
        if (m->tag == MPROC__MPI_ACK)
            s->stale[m->src]--;
        mproc__mpi_msg_free(m);
    }
    return NULL;
}

void mproc__mpi_drop_from(int src)
{
    mproc__mpi_state *s = &mproc__mpi;
    mproc__mpi_msg **pp = &s->head;
    s->tail = &s->head;
    while (*pp) {
        mproc__mpi_msg *m = *pp;
        if (m->src == src) {
            /* An ACK among them still answers an earlier CANCEL. */
            if (m->tag == MPROC__MPI_ACK && s->stale && s->stale[src] > 0)
                s->stale[src]--;
            *pp = m->next;
            mproc__mpi_msg_free(m);
        } else {
            pp = &m->next;
            s->tail = pp;
        }
    }
}

void mproc__mpi_drop_until(mproc__mpi_msg *stop, int and_stop)
{
    mproc__mpi_state *s = &mproc__mpi;
    mproc__mpi_msg *m;
    while ((m = s->head) != stop) {
        s->head = m->next;
        mproc__mpi_msg_free(m);
    }
    if (and_stop) {
        s->head = stop->next;
        mproc__mpi_msg_free(stop);
    }
    if (!s->head)
        s->tail = &s->head;
}

int mproc__mpi_send(int dest, int tag, const void *data, size_t len)
{
    mproc__mpi_state *s = &mproc__mpi;
    MPI_Request req;
    double started;
    int done = 0;
    if (len > INT_MAX)
        return mproc__errorf(MPROC_ETOOBIG, "an MPI message holds at most %d bytes", INT_MAX);
    mproc__mpi_active();
    if (len < MPROC__MPI_COPY_LIMIT) {
        /* Small: a copy goes out in the background, the caller goes on. */
        mproc__mpi_pending *p = malloc(sizeof *p);
        if (!p || !(p->copy = malloc(len ? len : 1))) {
            free(p);
            return mproc__error(MPROC_ENOMEM);
        }
        if (len)
            memcpy(p->copy, data, len);
        MPI_Isend(p->copy, (int)len, MPI_BYTE, dest, tag, s->comm, &p->req);
        p->next = s->pending;
        s->pending = p;
        return 0;
    }
    /* Large: no copy; wait, receiving meanwhile (the peer may be sending
     * to us), polling every 50 us for the first 10 ms to keep a pipelined
     * transfer moving, then with the idle back-off (a peer busy in a task). */
    MPI_Isend(data, (int)len, MPI_BYTE, dest, tag, s->comm, &req);
    started = mproc__plat_now();
    for (;;) {
        MPI_Test(&req, &done, MPI_STATUS_IGNORE);
        if (done)
            break;
        if (mproc__mpi_poll() < 0) {
            MPI_Wait(&req, MPI_STATUS_IGNORE);
            return MPROC_ENOMEM;
        }
        nap(mproc__plat_now() - started < 0.01 ? 5e-5 : -1);
    }
    return 0;
}

void mproc__mpi_flush(void)
{
    while (mproc__mpi.pending) {
        mproc__mpi_pending *p = mproc__mpi.pending;
        mproc__mpi.pending = p->next;
        MPI_Wait(&p->req, MPI_STATUS_IGNORE);
        free(p->copy);
        free(p);
    }
}

/* The back-off's next step, at most limit (>= 0). */
static double next_sleep(double limit)
{
    mproc__mpi_state *s = &mproc__mpi;
    double t = s->backoff;
    double max = mproc__plat_now() - s->active_at > DEEP_IDLE_AFTER ? BACKOFF_DEEP : BACKOFF_MAX;
    s->backoff = t * 2 < max ? t * 2 : max;
    return limit >= 0 && limit < t ? limit : t;
}

/* The back-off's next sleep; a pending wake skips it when wakeable. */
static void sleep_step(double limit, int wakeable)
{
    mproc__mpi_state *s = &mproc__mpi;
    double t = next_sleep(limit);
    mproc__plat_mutex_lock(s->mu);
    if (t > 0 && !(wakeable && s->woken))
        (void)mproc__plat_cond_wait(s->cv, s->mu, t);
    mproc__plat_mutex_unlock(s->mu);
}

void mproc__mpi_idle(double limit) { sleep_step(limit, 1); }

/* As idle, but a pending wake does not stop it: a send in progress is
 * not the dispatcher's event loop, which sees the wake after. */
static void nap(double limit) { sleep_step(limit, 0); }

void mproc__mpi_active(void)
{
    mproc__mpi.backoff = BACKOFF_MIN;
    mproc__mpi.active_at = mproc__plat_now();
}

void mproc__mpi_wake(void)
{
    mproc__mpi_state *s = &mproc__mpi;
    mproc__plat_mutex_lock(s->mu);
    s->woken = 1;
    mproc__plat_cond_signal(s->cv);
    mproc__plat_mutex_unlock(s->mu);
}

int mproc__mpi_woken(void)
{
    mproc__mpi_state *s = &mproc__mpi;
    int w;
    mproc__plat_mutex_lock(s->mu);
    w = s->woken;
    s->woken = 0;
    mproc__plat_mutex_unlock(s->mu);
    return w;
}
