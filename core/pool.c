/*
 * The pool and its dispatcher thread.  Callers (core/pool_calls.c) put
 * runs of items on one queue under the pool's lock; the dispatcher alone
 * owns the workers: it sends each whole chunks within a window, reads
 * their results (written straight where their caller wants them, through
 * the job), and when one ends it knows exactly which items it held — the
 * one it was running (its status slot says which) fails or is retried,
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

/* A window: a worker gets another chunk while it holds fewer than two
 * chunks' items or fewer than its window's, and at most WINDOW_BYTES of
 * messages travel to it at a time (the transport keeps what its channel
 * cannot take yet: no send waits on a busy worker).  The window is a few
 * items for slow ones (none hoards) and grows to about WINDOW_TIME of work
 * for fast ones, so that a worker's next items are already in its channel
 * when it sends its results (none idles on a round trip), and they travel
 * many to a write.  Should slow items follow fast ones, the worker hands
 * back those it has not started when another worker idles (rebalance). */
#define WINDOW_ITEMS 4
#define WINDOW_BYTES ((size_t)128 << 10)
#define WINDOW_TIME 1e-3
#define WINDOW_ITEMS_MAX 65536
/* Entries of a worker's flight: runs of consecutive items of one job (the
 * chunks sent to it, joined when they follow one another). */
#define MAX_FLIGHT 256
/* A worker that holds items and has sent nothing for this long is asked
 * for what it has (imap, progress and apply_async hear of a slow item's
 * result now, not at its chunk's end). */
#define FLUSH_AFTER 0.005
/* Workers in a row that end before READY (initializer failed, or cannot
 * start) before the queue fails instead of starting more. */
#define MAX_START_FAILURES 3
/* An item sent to this many workers that each ended with nothing to blame
 * (before starting any item) fails rather than travel forever. */
#define MAX_BOUNCES 3

/* Items sent to a worker and not yet reported: consecutive items of one
 * job (ids and indexes) with one history. */
typedef struct {
    mproc__pool_job *job;
    size_t index, count;
    uint64_t id;
    size_t bytes; /* the bytes they took on the wire, counted until all are reported */
    int attempts, bounces;
} flight_entry;

typedef struct mproc__pool_worker {
    int alive, ready, stopping;
    long pid;
    flight_entry *flight;       /* a ring of MAX_FLIGHT: sent, no result yet, in order */
    size_t head, chunks;        /* the oldest entry, and how many */
    size_t items, bytes;        /* in flight */
    size_t sent;                /* items sent to this worker (maxtasksperchild) */
    size_t window;              /* items it may hold (or two chunks' if more) */
    uint64_t timed_out;         /* the item it was stopped for */
    double heard;               /* its last results, or work given to it idle */
    int asked;                  /* a flush was asked for and not answered */
    int giving;                 /* asked to hand back what it has not started */
} pool_worker;

static mproc__link *pools; /* global lock: live pools, for exit */

/* A slot free for a new worker; its flight ring stays. */
static void worker_reset(pool_worker *w)
{
    flight_entry *ring = w->flight;
    *w = (pool_worker){0};
    w->flight = ring;
    w->window = WINDOW_ITEMS;
}

/* ---- finishing items ----------------------------------------------------------- */

void mproc__pool_finish(mproc__pool_job *job, size_t index, size_t count, const mproc_task_status *st,
                        const void *data, size_t len)
{
    job->finish(job, index, count, st, data, len);
    job->finished += count;
    if (job->finished >= job->notify_at)
        job->pool->notify = 1;
    if (job->orphaned && job->release)
        job->release(job);
}

static void finish_status(mproc__pool_job *job, size_t index, size_t count, int status, int code, long pid,
                          int attempts)
{
    mproc_task_status st;
    st.status = status;
    st.code = code;
    st.pid = pid;
    st.attempts = attempts;
    mproc__pool_finish(job, index, count, &st, NULL, 0);
}

/* Fails every queued item with status (terminate, or workers that cannot start). */
static void fail_queue(mproc_pool *p, int status, int code, long pid)
{
    while (p->queue) {
        mproc__pool_run *run = p->queue;
        p->queue = run->next;
        finish_status(run->job, run->index, run->count, status, code, pid, run->attempts);
        free(run);
    }
    p->queue_tail = &p->queue;
    p->queued = 0;
}

void mproc__pool_enqueue(mproc_pool *p, mproc__pool_run *run)
{
    run->next = NULL;
    run->id = p->next_id + 1;
    p->next_id += run->count;
    p->queued += run->count;
    *p->queue_tail = run;
    p->queue_tail = &run->next;
    /* New work: workers that could not start get another chance. */
    p->starts_blocked = 0;
    p->start_failures = 0;
}

void mproc__pool_wake(mproc_pool *p) { p->tp->ops->wake(p->tp); }

/* ---- events from workers ------------------------------------------------------- */

/* k items of worker w's oldest flight entry are reported. */
static void flight_advance(pool_worker *w, size_t k)
{
    flight_entry *c = &w->flight[w->head];
    c->index += k;
    c->id += k;
    c->count -= k;
    w->items -= k;
    if (c->count == 0) {
        w->bytes -= c->bytes;
        w->head = (w->head + 1) % MAX_FLIGHT;
        w->chunks--;
    }
}

/* Items of a flight entry that go back to the queue (at the end of *tail). */
static void requeue_part(mproc__pool_run ***tail, const flight_entry *c, size_t skip, size_t count, int attempts,
                         int bounces, long pid)
{
    mproc__pool_run *run;
    if (count == 0)
        return;
    if (!(run = malloc(sizeof *run))) {
        finish_status(c->job, c->index + skip, count, MPROC_ENOMEM, 0, pid, attempts);
        return;
    }
    run->next = NULL;
    run->job = c->job;
    run->index = c->index + skip;
    run->count = count;
    run->id = c->id + skip;
    run->attempts = attempts;
    run->bounces = bounces;
    **tail = run;
    *tail = &run->next;
}

/* Items a worker held that it was not running when it ended: back to the
 * queue.  When no item was running (nothing to blame: it failed to start,
 * or died between items) they count a bounce and fail once they have
 * bounced too often; when one was, that one took its blame and the rest
 * go back as they were (a window holds many, and a run of crashing items
 * must not fail the ones that happened to travel with them). */
static void bounce(mproc__pool_run ***tail, const flight_entry *c, size_t skip, size_t count, long pid, int code,
                   int blamed)
{
    if (count == 0)
        return;
    if (blamed)
        requeue_part(tail, c, skip, count, c->attempts, c->bounces, pid);
    else if (c->bounces + 1 > MAX_BOUNCES)
        finish_status(c->job, c->index + skip, count, MPROC_EBROKEN, code, pid, c->attempts);
    else
        requeue_part(tail, c, skip, count, c->attempts, c->bounces + 1, pid);
}

/* Puts runs back at the front of the queue, in their order. */
static void requeue_front(mproc_pool *p, mproc__pool_run *back, mproc__pool_run **back_tail)
{
    for (mproc__pool_run *run = back; run; run = run->next)
        p->queued += run->count;
    if (back) {
        *back_tail = p->queue;
        if (!p->queue)
            p->queue_tail = back_tail;
        p->queue = back;
    }
}

/* A DONE message: its results pair with worker wi's items in flight, in
 * order.  Returns nonzero when it does not (the worker is then stopped:
 * its ENDED gives back what it held). */
static int on_results(mproc_pool *p, int wi, mproc__reader *r)
{
    pool_worker *w = &p->ws[wi];
    int flags = mproc__rd_u8(r);
    uint64_t first = mproc__rd_u64(r);
    uint32_t count = mproc__rd_u32(r);
    size_t before = w->items, returned = 0;
    mproc__pool_run *back = NULL, **back_tail = &back;

    if (r->bad || count == 0 || count > w->items || w->flight[w->head].id != first)
        return -1;
    if (w->giving && !w->stopping) {
        /* It answered (or finished): no more to hand back for now.  (A
         * stopped worker's slot may be gone: a thread given up on.) */
        atomic_store(&p->tp->ops->slot(p->tp, wi)->give_back, 0);
        w->giving = 0;
    }
    while (count > 0) {
        uint32_t n = mproc__rd_u32(r);
        mproc_task_status st;
        uint32_t len;
        const unsigned char *data = NULL;
        st.status = (int)mproc__rd_u32(r);
        st.code = (int)mproc__rd_u32(r);
        len = mproc__rd_u32(r);
        st.pid = w->pid;
        if (r->bad || n == 0 || n > count || (st.status != 0 && len != 0) ||
            (st.status == 0 && len > 0 && (size_t)n > (r->len - r->pos) / len) ||
            (st.status == 0 && !(data = mproc__rd_bytes(r, (size_t)n * len)) && n * (size_t)len > 0))
            break;
        count -= n;
        while (n > 0) {
            flight_entry *c = &w->flight[w->head];
            size_t k = c->count < n ? c->count : n;
            if (st.status == MPROC__POOL_RETURNED) {
                requeue_part(&back_tail, c, 0, k, c->attempts, c->bounces, w->pid);
                returned += k;
            } else {
                st.attempts = c->attempts + 1;
                mproc__pool_finish(c->job, c->index, k, &st, data, len);
            }
            if (data)
                data += k * len;
            n -= (uint32_t)k;
            flight_advance(w, k);
        }
    }
    /* Handed back: the oldest work not started, so first in line again. */
    requeue_front(p, back, back_tail);
    if (count > 0)
        return -1;
    /* Its speed sets its window: about WINDOW_TIME of its items (the time
     * since it last spoke covers the round trip too), at most doubling.
     * Only for a worker that hands back what it has not started when
     * another is idle: one that cannot (an MPI rank) keeps the least. */
    if (before > w->items + returned) {
        double now = mproc__plat_now(), per_item = (now - w->heard) / (double)(before - w->items - returned);
        double fit = per_item > 0 ? WINDOW_TIME / per_item : (double)WINDOW_ITEMS_MAX;
        size_t want = fit >= (double)WINDOW_ITEMS_MAX ? WINDOW_ITEMS_MAX : fit <= WINDOW_ITEMS ? WINDOW_ITEMS : (size_t)fit;
        if (!(flags & MPROC__POOL_WATCHED))
            want = WINDOW_ITEMS;
        w->window = want > 2 * w->window ? 2 * w->window : want;
        w->heard = now;
        w->asked = 0;
    }
    return 0;
}

static void on_message(mproc_pool *p, int wi, const void *data, size_t len)
{
    mproc__reader r = {data, len, 0, 0};
    switch (mproc__rd_u8(&r)) {
    case MPROC__POOL_READY:
        p->ws[wi].ready = 1;
        p->start_failures = 0;
        break;
    case MPROC__POOL_DONE:
        if (on_results(p, wi, &r) != 0 && !p->ws[wi].stopping) {
            /* Results that pair with nothing it was sent: a worker that
             * is not following the protocol holds its items for ever. */
            p->ws[wi].stopping = 1;
            p->tp->ops->stop(p->tp, wi);
        }
        break;
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
    mproc__pool_run *back = NULL, **back_tail = &back;
    int blamed = 0;

    for (size_t k = 0; k < w->chunks; k++) {
        const flight_entry *c = &w->flight[(w->head + k) % MAX_FLIGHT];
        blamed |= running >= c->id && running - c->id < c->count;
    }
    for (; w->chunks > 0; w->chunks--, w->head = (w->head + 1) % MAX_FLIGHT) {
        const flight_entry *c = &w->flight[w->head];
        if (p->state == MPROC__POOL_TERMINATING) {
            finish_status(c->job, c->index, c->count, MPROC_ECLOSED, 0, w->pid, c->attempts);
        } else if (running >= c->id && running - c->id < c->count) {
            size_t at = (size_t)(running - c->id);
            int attempts = c->attempts + 1;
            bounce(&back_tail, c, 0, at, w->pid, code, 1);
            if (w->timed_out == running)
                finish_status(c->job, c->index + at, 1, MPROC_ETIMEDOUT, code, w->pid, attempts);
            else if (attempts <= p->opts.max_retries)
                requeue_part(&back_tail, c, at, 1, attempts, c->bounces, w->pid);
            else
                finish_status(c->job, c->index + at, 1, MPROC_EBROKEN, code, w->pid, attempts);
            bounce(&back_tail, c, at + 1, c->count - at - 1, w->pid, code, 1);
        } else {
            bounce(&back_tail, c, 0, c->count, w->pid, code, blamed);
        }
    }
    requeue_front(p, back, back_tail);
    if (!w->ready) {
        p->start_failures++;
        p->last_failure_code = code;
        p->last_failure_pid = w->pid;
    }
    worker_reset(w);
    if (p->start_failures >= MAX_START_FAILURES && !any_ready(p)) {
        /* Every new worker fails: report it on the work instead of
         * starting workers in a loop; new work tries again. */
        fail_queue(p, MPROC_EBROKEN, p->last_failure_code, p->last_failure_pid);
        p->starts_blocked = 1;
    }
}

/* ---- sending work ---------------------------------------------------------------- */

/* One message being built for a worker: its chunk records. */
typedef struct {
    int worker;
    mproc__buf msg;
    size_t items;
    int full;             /* it takes no more (nor, the first, once the second began) */
    mproc__pool_job *job; /* of the last record */
    uint64_t next_id;     /* the id after the last record's items */
    size_t count_at;      /* where the last record's count is */
    uint32_t count;
} outgoing;

static void put_u32_at(mproc__buf *b, size_t at, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b->data[at + i] = (unsigned char)(v >> (8 * i));
}

/* How many items from the head of run a chunk takes (at most limit, and
 * for variable inputs no more than MPROC__POOL_CHUNK_BYTES beyond the
 * first: map's chunksize already fits), and their input bytes. */
static size_t chunk_extent(const mproc__pool_run *run, size_t limit, size_t *bytes)
{
    mproc__pool_job *job = run->job;
    size_t n = run->count < limit ? run->count : limit;
    if (job->fixed) {
        *bytes = n * job->in_size;
        return n;
    }
    *bytes = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len;
        (void)job->input(job, run->index + i, &len);
        if (i > 0 && *bytes + len > MPROC__POOL_CHUNK_BYTES)
            return i;
        *bytes += len;
    }
    return n;
}

/* Appends n items of run to o's message: a record of their own, or more of
 * the last record's when they follow its items. */
static void encode_chunk(outgoing *o, const mproc__pool_run *run, size_t n)
{
    mproc__pool_job *job = run->job;
    mproc__buf *b = &o->msg;
    if (b->failed)
        return; /* no memory: the worker reads a message cut short, and ends */
    if (o->job == job && o->next_id == run->id && o->count + n <= UINT32_MAX) {
        o->count += (uint32_t)n;
        put_u32_at(b, o->count_at, o->count);
    } else {
        if (o->job == job) {
            mproc__buf_u8(b, MPROC__POOL_MORE);
        } else {
            mproc__buf_u8(b, MPROC__POOL_TASKS);
            mproc__buf_str(b, job->task_name);
            mproc__buf_bytes(b, &job->fn, sizeof job->fn);
        }
        mproc__buf_u64(b, run->id);
        o->count_at = b->len;
        mproc__buf_u32(b, (uint32_t)n);
        mproc__buf_u32(b, job->fixed ? (uint32_t)job->in_size : MPROC__POOL_VARIABLE);
        o->job = job;
        o->count = (uint32_t)n;
    }
    if (b->failed)
        return;
    if (job->fixed) {
        mproc__buf_bytes(b, job->in + run->index * job->in_size, n * job->in_size);
    } else {
        for (size_t i = 0; i < n; i++) {
            size_t len;
            const void *in = job->input(job, run->index + i, &len);
            mproc__buf_u32(b, (uint32_t)len);
            mproc__buf_bytes(b, in, len);
        }
    }
    o->next_id = run->id + n;
}

/* A MORE record's header: what a chunk costs on the wire beyond its inputs
 * (a TASKS record's also names the task, once per message). */
#define RECORD_HEAD (1 + 8 + 4 + 4)

/* Items of per bytes each that fit between used and limit. */
static size_t fit(size_t limit, size_t used, size_t per)
{
    return used >= limit ? 0 : per ? (limit - used) / per : (size_t)-1;
}

static size_t at_most(size_t a, size_t b) { return a < b ? a : b; }

/* How many items from the head of run worker w takes into o now, and
 * their input bytes: whole chunks of limit items (the run's last may be
 * shorter), at most want.  An idle worker takes any chunk; a busy one
 * while it holds fewer than two chunks' items or its window's, and at
 * most WINDOW_BYTES travel to it.  A message holds at most half of that
 * (but a chunk), so that a worker reports the results of one while it
 * runs the next.  0: none now. */
static size_t extent(const pool_worker *w, const outgoing *o, const mproc__pool_run *run, size_t limit, size_t want,
                     size_t *bytes)
{
    mproc__pool_job *job = run->job;
    size_t window = w->window > 2 * limit ? w->window : 2 * limit, n;
    if (job->fixed) {
        n = at_most(run->count, want);
        if (w->items > 0) {
            n = at_most(n, window > w->items ? window - w->items : 0);
            n = at_most(n, fit(WINDOW_BYTES, w->bytes + RECORD_HEAD, job->in_size));
        }
        {
            size_t msg = at_most(window / 2 > o->items ? window / 2 - o->items : 0,
                                 fit(WINDOW_BYTES / 2, o->msg.len + RECORD_HEAD, job->in_size));
            n = at_most(n, o->items == 0 && msg < limit ? limit : msg);
        }
        if (n < run->count)
            n -= n % limit;
        if (n == 0 && w->items == 0)
            n = at_most(limit, run->count);
        *bytes = n * job->in_size;
        return n;
    }
    /* Variable inputs: one chunk at a time. */
    n = chunk_extent(run, limit, bytes);
    if (w->items > 0 && (w->items + n > window || w->bytes + *bytes + RECORD_HEAD + 4 * n > WINDOW_BYTES))
        return 0;
    if (o->items > 0 && (o->items + n > window / 2 || o->msg.len + *bytes + RECORD_HEAD + 4 * n > WINDOW_BYTES / 2))
        return 0;
    return n;
}

/* Takes from the queue's head what worker w's window takes now, at most
 * want items: into o's message, the items into its flight (the last
 * entry grows when they follow its items).  Returns how many it took. */
static size_t take_chunks(mproc_pool *p, pool_worker *w, outgoing *o, size_t want, double now)
{
    mproc__pool_run *run = p->queue;
    flight_entry *c = w->chunks ? &w->flight[(w->head + w->chunks - 1) % MAX_FLIGHT] : NULL;
    size_t n, bytes, limit, wire, before;
    if (!run)
        return 0;
    limit = run->job->chunksize ? run->job->chunksize : 1;
    if (p->opts.maxtasksperchild > 0) {
        size_t left = (size_t)p->opts.maxtasksperchild - w->sent;
        if (left == 0)
            return 0;
        limit = at_most(limit, left);
        want = at_most(want, left);
    }
    if ((n = extent(w, o, run, limit, want, &bytes)) == 0)
        return 0;
    if (c && (c->job != run->job || c->id + c->count != run->id || c->index + c->count != run->index ||
              c->attempts != run->attempts || c->bounces != run->bounces))
        c = NULL;
    if (!c && w->chunks == MAX_FLIGHT)
        return 0;
    before = o->msg.len;
    encode_chunk(o, run, n);
    wire = o->msg.len - before;
    if (!c) {
        c = &w->flight[(w->head + w->chunks++) % MAX_FLIGHT];
        c->job = run->job;
        c->index = run->index;
        c->count = 0;
        c->id = run->id;
        c->bytes = 0;
        c->attempts = run->attempts;
        c->bounces = run->bounces;
    }
    c->count += n;
    c->bytes += wire;
    if (w->items == 0) {
        w->heard = now; /* busy from now on */
        w->asked = 0;
    }
    w->items += n;
    w->bytes += wire;
    w->sent += n;
    o->items += n;
    p->queued -= n;
    run->index += n;
    run->id += n;
    if ((run->count -= n) == 0) {
        if (!(p->queue = run->next))
            p->queue_tail = &p->queue;
        free(run);
    }
    return n;
}

/* Builds at most two messages per worker (see take_chunks) from whole
 * chunks its window takes.  Idle workers first, then every worker in
 * turn, each taking up to a fair share of the queue at a time: work goes
 * to idle workers before it queues behind a busy one, and a long queue
 * goes out in runs of consecutive items (one record, one entry of the
 * worker's flight).  out has room for 2 x nworkers messages. */
static size_t assign(mproc_pool *p, outgoing *out, double now)
{
    size_t nout = 0, share, eligible = 0;
    int took = 1;
    for (int i = 0; i < 2 * p->nworkers; i++)
        out[i] = (outgoing){i / 2, {0}, 0, 0, NULL, 0, 0, 0};
    for (int i = 0; i < p->nworkers; i++) {
        eligible += p->ws[i].alive && !p->ws[i].stopping;
        /* A busy worker reports a message's results while it runs the one
         * after: one message at a time keeps two in its channel. */
        out[2 * i + 1].full = p->ws[i].items > 0;
    }
    if (!eligible || !p->queue)
        return 0;
    share = p->queued / eligible + (p->queued % eligible != 0);
    for (int pass = 0; took && p->queue; pass++) {
        took = 0;
        for (int i = 0; i < p->nworkers && p->queue; i++) {
            pool_worker *w = &p->ws[i];
            size_t taken = 0, k;
            if (!w->alive || w->stopping || (pass == 0 && w->items > 0))
                continue;
            /* The second message once the first is full, never back: the
             * worker runs its items in the order they were sent. */
            for (int m = 0; m < 2 && p->queue && taken < share; m++) {
                outgoing *o = &out[2 * i + m];
                if (o->full)
                    continue;
                while (p->queue && taken < share && (k = take_chunks(p, w, o, share - taken, now)) > 0)
                    taken += k;
                if (taken < share)
                    o->full = 1; /* its worker's window or the message is full */
            }
            took |= taken > 0;
        }
        took |= pass == 0; /* the idle pass alone proves nothing */
    }
    /* The messages to send, in order, compacted. */
    for (int i = 0; i < 2 * p->nworkers; i++) {
        if (out[i].msg.len == 0) {
            mproc__buf_free(&out[i].msg);
            continue;
        }
        out[nout++] = out[i];
    }
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
        mproc__pool_slot *slot;
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
        worker_reset(&p->ws[i]);
        p->ws[i].alive = 1;
        p->ws[i].pid = p->tp->ops->pid(p->tp, i);
        /* Before it is sent anything: how it reports. */
        slot = p->tp->ops->slot(p->tp, i);
        atomic_store(&slot->timed, p->opts.task_timeout > 0);
        atomic_store(&slot->flush, 0);
        atomic_store(&slot->give_back, 0);
        atomic_store(&slot->watched, 1);
    }
    return failed;
}

/* Kills workers whose item ran past task_timeout; returns how long the
 * dispatcher may wait before it looks again (-1: no item is timed). */
static double enforce_timeouts(mproc_pool *p, double now)
{
    double limit = p->opts.task_timeout, wait = -1;
    /* Terminating: every worker is being stopped already (and a thread
     * worker given up on has no slot any more). */
    if (limit <= 0 || p->state == MPROC__POOL_TERMINATING)
        return -1;
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

/* Asks workers that hold items and have been silent for FLUSH_AFTER for
 * what they have; returns how long the dispatcher may wait before it
 * looks again (-1: no one to ask). */
static double ask_for_results(mproc_pool *p, double now)
{
    double wait = -1;
    for (int i = 0; i < p->nworkers; i++) {
        pool_worker *w = &p->ws[i];
        double left;
        if (!w->alive || w->stopping || !w->items || w->asked)
            continue;
        left = w->heard + FLUSH_AFTER - now;
        if (left <= 0) {
            atomic_store(&p->tp->ops->slot(p->tp, i)->flush, 1);
            w->asked = 1; /* once: it answers after its item, however long that runs */
            continue;
        }
        wait = wait < 0 || left < wait ? left : wait;
    }
    return wait;
}

/* Nothing queued and a worker idle: workers that hold more than a few
 * items and have been silent for FLUSH_AFTER (their items are slow) are
 * asked to hand back those they have not started, which then go to the
 * idle one.  A window sized by fast items may meet slow ones; this keeps
 * one worker from sitting on them while another waits.  (Fast workers
 * are left alone: they are through their items sooner than a round trip
 * would move them.) */
static void rebalance(mproc_pool *p, double now)
{
    int idle = 0;
    if (p->queue)
        return;
    for (int i = 0; i < p->nworkers; i++)
        idle |= p->ws[i].alive && !p->ws[i].stopping && p->ws[i].items == 0;
    for (int i = 0; idle && i < p->nworkers; i++) {
        pool_worker *w = &p->ws[i];
        if (!w->alive || w->stopping || w->giving || w->items <= WINDOW_ITEMS || now - w->heard < FLUSH_AFTER)
            continue;
        atomic_store(&p->tp->ops->slot(p->tp, i)->give_back, 1);
        w->giving = 1;
    }
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
            out[(*nout)++] = (outgoing){i, msg, 0, 0, NULL, 0, 0, 0};
        }
        w->stopping = 1;
    }
}

static double min_wait(double a, double b) { return a < 0 ? b : b < 0 ? a : a < b ? a : b; }

static int dispatcher(void *ud)
{
    mproc_pool *p = ud;
    outgoing *out = calloc(2 * (size_t)p->nworkers, sizeof *out);
    int killed = 0;

    mproc__plat_mutex_lock(p->mu);
    for (;;) {
        size_t nout = 0;
        double timeout, now;
        mproc__tp_event ev;
        int retry_start = 0;

        if (p->state == MPROC__POOL_TERMINATING) {
            if (!killed)
                stop_all(p, 1, out, &nout);
            killed = 1;
            fail_queue(p, MPROC_ECLOSED, 0, 0);
        } else {
            retry_start = start_workers(p);
            now = mproc__plat_now();
            if (out)
                nout = assign(p, out, now);
            if (p->state == MPROC__POOL_CLOSED && !work_left(p) && out)
                stop_all(p, 0, out, &nout);
        }
        if (p->notify || p->state != MPROC__POOL_RUNNING) {
            p->notify = 0;
            mproc__plat_cond_broadcast(p->cv);
        }
        if (!workers_alive(p) && (p->state == MPROC__POOL_TERMINATING || (p->state == MPROC__POOL_CLOSED &&
                                                                          (!work_left(p) || p->starts_blocked))))
            break;
        now = mproc__plat_now();
        if (p->state != MPROC__POOL_TERMINATING)
            rebalance(p, now);
        timeout = min_wait(enforce_timeouts(p, now), ask_for_results(p, now));
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
    if (!mproc__is(p, MPROC__T_POOL))
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
    while (p->queue) {
        mproc__pool_run *run = p->queue;
        p->queue = run->next;
        free(run);
    }
    for (int i = 0; p->ws && i < p->nworkers; i++)
        free(p->ws[i].flight);
    free(p->ws);
    if (p->cv)
        mproc__plat_cond_free(p->cv);
    if (p->mu)
        mproc__plat_mutex_free(p->mu);
    mproc__obj_clear(&p->obj);
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
    if (workers <= 0 || opts->maxtasksperchild < 0 || opts->max_retries < 0 || opts->task_timeout != opts->task_timeout ||
        (opts->initargs && !mproc__is(opts->initargs, MPROC__T_ARGS)))
        return mproc__null(MPROC_EINVAL);
    if (!(p = calloc(1, sizeof *p)))
        return mproc__null(MPROC_ENOMEM);
    mproc__obj_init(&p->obj, MPROC__T_POOL);
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
    for (int i = 0; i < workers; i++) {
        if (!(p->ws[i].flight = calloc(MAX_FLIGHT, sizeof *p->ws[i].flight))) {
            rc = MPROC_ENOMEM;
            goto done;
        }
        worker_reset(&p->ws[i]);
    }
    mproc__on_exit(MPROC__EXIT_CLOSE, terminate_pools_at_exit);
    mproc__on_fork_child(forget_pools_after_fork);
    /* The first workers start here, in the caller's thread, as CPython's
     * Pool.__init__ starts its own: a fork method's forks then happen while
     * the caller is in this call, not while it allocates in a map that has
     * begun.  glibc's malloc is fork-safe; a sanitizer's allocator is not
     * (clang 14's ASan: a worker forked while the caller held its lock hung
     * in its first malloc).  A start that fails is retried by the
     * dispatcher, as a replacement is. */
    mproc__plat_mutex_lock(p->mu);
    (void)start_workers(p);
    mproc__plat_mutex_unlock(p->mu);
    if ((rc = mproc__plat_thread_start(&p->thread, dispatcher, p)) != 0) {
        p->thread = NULL;
        goto done;
    }
    mproc__link_add(&pools, &p->link, p);
done:
    if (rc != 0) {
        pool_release(p);
        return mproc__raise_null(rc);
    }
    return p;
}

static mproc__pool_transport *local_transport(void *ud, int workers, const mproc__pool_worker_cfg *cfg)
{
    mproc_ctx *ctx = ud;
    if (mproc__ctx_method(ctx) == MPROC_THREAD)
        return mproc__pool_threads_new(workers, cfg);
    return mproc__pool_procs_new(ctx, workers, cfg);
}

mproc_pool *mproc_pool_new(mproc_ctx *ctx, int workers, const mproc_pool_opts *opts)
{
    if (!mproc__ctx_ok(ctx))
        return mproc__null(MPROC_EINVAL);
    ctx = ctx ? ctx : mproc_get_context(mproc_get_start_method());
    if (!ctx)
        return NULL;
    if (workers < 0)
        return mproc__null(MPROC_EINVAL);
    if (workers == 0) {
        workers = mproc_cpu_count();
        if (mproc__ctx_method(ctx) != MPROC_THREAD && workers > 31)
            workers = 31;
    }
    return mproc__pool_create(workers, opts, local_transport, ctx);
}

static void set_state(mproc_pool *p, int state)
{
    mproc__plat_mutex_lock(p->mu);
    if (p->state < state)
        p->state = state;
    mproc__plat_mutex_unlock(p->mu);
    mproc__pool_wake(p);
}

int mproc_pool_close(mproc_pool *p)
{
    int rc = mproc__pool_usable(p);
    if (rc == 0)
        set_state(p, MPROC__POOL_CLOSED);
    return rc;
}

int mproc_pool_terminate(mproc_pool *p)
{
    int rc = mproc__pool_usable(p);
    if (rc == 0)
        set_state(p, MPROC__POOL_TERMINATING);
    return rc;
}

/* mproc_pool_join of a pool known to be usable, its timeout checked. */
static int join(mproc_pool *p, double timeout)
{
    double deadline = mproc__plat_now() + timeout;
    int rc = 0, code;
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
        return mproc__raise(rc);
    /* The dispatcher has returned: its thread ends at once. */
    (void)mproc__plat_child_wait(p->thread, -1, &code);
    return 0;
}

int mproc_pool_join(mproc_pool *p, double timeout)
{
    int rc = mproc__pool_usable(p);
    if (rc != 0)
        return rc;
    if (mproc__timeout(&timeout) != 0)
        return mproc_last_error();
    return join(p, timeout);
}

int mproc__pool_stop(mproc_pool *p, double timeout)
{
    if (p->owner != mproc__plat_getpid())
        return mproc__error(MPROC_ESTATE);
    set_state(p, MPROC__POOL_TERMINATING);
    return join(p, timeout);
}

void mproc_pool_free(mproc_pool *p)
{
    if (mproc__is(p, MPROC__T_POOL) && p->owner != mproc__plat_getpid()) {
        /* A fork child's copy: the workers, the dispatcher and the channels
         * are the parent's.  The handle is gone (a free hook runs); the
         * memory and descriptors stay, as the rest of the parent's. */
        mproc__obj_clear(&p->obj);
        return;
    }
    if (mproc__pool_usable(p) != 0)
        return;
    mproc__link_remove(&pools, &p->link);
    set_state(p, MPROC__POOL_TERMINATING);
    if (join(p, -1) == 0 && p->tp) {
        /* The dispatcher is gone and nothing wakes it any more (every
         * call checks the state first): the workers' channels and the
         * rest of the transport go now, not when the last result still
         * held does. */
        p->tp->ops->free(p->tp);
        p->tp = NULL;
    }
    /* The handle is gone, though an mproc_result may keep the pool alive
     * (mproc__pool_unref): a second free, or any call, now finds no tag. */
    mproc__obj_clear(&p->obj);
    mproc__pool_unref(p);
}
