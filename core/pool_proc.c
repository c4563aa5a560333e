/*
 * The pool's transport over processes: each worker is a daemonic child
 * with a private duplex connection to the pool and a status slot in one
 * shared memory segment; its end is learnt from its sentinel, after every
 * message it sent has been read.  Built on the public objects (process,
 * connection, shared memory), so every start method and OS works alike.
 *
 * Under fork a worker inherits the pool's ends of the other workers'
 * channels, so a worker never learns of its pool's end by end of file
 * alone: the pool tells it to stop (STOP), and a killed pool takes its
 * workers with it through mproc_process_set_die_with_parent.
 */
#include <stdlib.h>
#include <string.h>

#include "pool_internal.h"

/* Handles one wait covers (Windows' MAXIMUM_WAIT_OBJECTS): a wake pipe
 * and two per worker. */
#define MAX_PROC_WORKERS 31

/* ---- in the worker --------------------------------------------------------- */

typedef struct {
    mproc__pool_endpoint ep;
    mproc_conn *conn;
} proc_endpoint;

static int ep_recv(mproc__pool_endpoint *ep, void **data, size_t *len)
{
    return mproc_conn_recv(((proc_endpoint *)ep)->conn, data, len, -1);
}
static void ep_release(mproc__pool_endpoint *ep, void *data)
{
    (void)ep;
    mproc_free(data);
}
static int ep_send(mproc__pool_endpoint *ep, const void *data, size_t len)
{
    return mproc_conn_send(((proc_endpoint *)ep)->conn, data, len);
}

/* Arguments: the connection, the slots, the slot index, maxtasks,
 * max_message, the initializer's name and address, then initargs. */
enum { ARG_CONN, ARG_SHM, ARG_SLOT, ARG_MAXTASKS, ARG_MAXMSG, ARG_INIT_NAME, ARG_INIT_ADDR, ARG_FIRST_INITARG };

static int mproc__pool_worker(mproc_args *a)
{
    proc_endpoint pe;
    mproc_target_fn init = NULL;
    const char *init_name = mproc_args_str(a, ARG_INIT_NAME);
    size_t addr_len = 0;
    const void *addr = mproc_args_bytes(a, ARG_INIT_ADDR, &addr_len);
    mproc_shm *shm = mproc_args_shm(a, ARG_SHM);
    mproc_args *initargs;
    int code;

    pe.conn = mproc_args_conn(a, ARG_CONN);
    if (!pe.conn || !shm || !init_name)
        return 70; /* EX_SOFTWARE: the pool sent what this worker cannot read */
    pe.ep.recv = ep_recv;
    pe.ep.release = ep_release;
    pe.ep.send = ep_send;
    pe.ep.slot = (mproc__pool_slot *)mproc_shm_ptr(shm) + mproc_args_i64(a, ARG_SLOT);
    pe.ep.maxtasks = (int)mproc_args_i64(a, ARG_MAXTASKS);
    pe.ep.max_message = (size_t)mproc_args_i64(a, ARG_MAXMSG);
    (void)mproc_conn_set_max_message(pe.conn, pe.ep.max_message + MPROC__POOL_SLACK);
    if (*init_name)
        init = mproc__target_find(init_name);
    else if (addr && addr_len == sizeof init)
        memcpy(&init, addr, sizeof init);
    if (!(initargs = mproc__args_split(a, ARG_FIRST_INITARG)))
        return 71;
    code = mproc__pool_worker_loop(&pe.ep, init, initargs);
    mproc_args_free(initargs);
    return code;
}
MPROC_TARGET(mproc__pool_worker);

/* ---- in the pool ----------------------------------------------------------- */

typedef struct {
    mproc_process *p;
    mproc_conn *conn; /* the pool's end */
    int ended;        /* its sentinel fired: drain, then report */
    int eof;          /* its channel reached end of file */
    mproc__buf outbox; /* frames its channel had no room for yet, from out_pos on */
    size_t out_pos;
} worker;

typedef struct {
    mproc__pool_transport tp;
    mproc_ctx *ctx;
    mproc_target_fn initializer;
    mproc_args *initargs; /* our copy */
    int maxtasks;
    size_t max_message;
    mproc_shm *shm;
    mproc_conn *wake_r, *wake_w;
    worker *w;
    atomic_int wake_pending; /* a wake byte is in the pipe: no need for another */
    int next_scan; /* where the next scan starts, so no worker is favoured */
} procs;

static procs *of(mproc__pool_transport *tp) { return (procs *)tp; }

static mproc_args *worker_args(procs *ps, int w, mproc_conn *child_end)
{
    mproc_args *a = mproc_args_new();
    const char *init_name = ps->initializer ? mproc__target_name(ps->initializer) : NULL;
    mproc_target_fn init = ps->initializer;
    if (!a)
        return NULL;
    if (mproc_args_add_conn(a, child_end) || mproc_args_add_shm(a, ps->shm) || mproc_args_add_i64(a, w) ||
        mproc_args_add_i64(a, ps->maxtasks) || mproc_args_add_i64(a, (int64_t)ps->max_message) ||
        mproc_args_add_str(a, init_name ? init_name : "") || mproc_args_add_bytes(a, &init, sizeof init) ||
        mproc__args_append(a, ps->initargs)) {
        mproc_args_free(a);
        return NULL;
    }
    return a;
}

static int procs_start(mproc__pool_transport *tp, int w)
{
    procs *ps = of(tp);
    mproc_conn *mine = NULL, *theirs = NULL;
    mproc_args *a = NULL;
    mproc_process *p = NULL;
    mproc__pool_slot *slot = (mproc__pool_slot *)mproc_shm_ptr(ps->shm) + w;
    int rc;

    atomic_store(&slot->item, 0);
    if ((rc = mproc__pipe(1, MPROC__PIPE_LARGE, &mine, &theirs)) != 0)
        return rc;
    (void)mproc_conn_set_max_message(mine, ps->max_message + MPROC__POOL_SLACK);
    if (!(a = worker_args(ps, w, theirs)) || !(p = mproc_process_new(ps->ctx, mproc__pool_worker, a))) {
        rc = mproc_last_error();
        goto done;
    }
    a = NULL; /* the process owns it */
    mproc__process_set_internal(p); /* the pool's, not the user's child */
    (void)mproc_process_set_name(p, "mproc-pool-worker");
    (void)mproc_process_set_daemon(p, 1);
    (void)mproc_process_set_die_with_parent(p, 1);
    if ((rc = mproc_process_start(p)) != 0)
        goto done;
    ps->w[w] = (worker){p, mine, 0, 0, {0}, 0};
    p = NULL;
    mine = NULL;
done:
    /* The worker holds its own end now (or never will). */
    mproc_conn_close(theirs);
    mproc_conn_close(mine);
    mproc_args_free(a);
    mproc_process_free(p);
    return rc;
}

static long procs_pid(mproc__pool_transport *tp, int w)
{
    return of(tp)->w[w].p ? mproc_process_pid(of(tp)->w[w].p) : 0;
}

/* ---- sending: never stalled by a busy worker ------------------------------------
 *
 * The dispatcher must not block on a worker that does not read (it may be
 * waiting for the dispatcher to read its results), and how much a channel
 * holds differs between systems.  So a write goes on while the worker
 * takes what is written (a large input streams to a worker that reads),
 * and what its channel does not take within PATIENCE waits in its outbox,
 * written by later calls (next() tries again at least every PATIENCE
 * while any waits).  Frames are the connection's own (mproc__msg_header),
 * written on its write handle by the dispatcher thread alone. */
#define PATIENCE 1e-3
#define SMALL_FRAME 16384             /* header and payload in one write below this */
#define OUTBOX_KEEP ((size_t)1 << 20) /* an emptied outbox keeps its buffer up to this */

/* Writes from p while the channel takes it within patience: the count
 * written, or an error (the worker is ending). */
static long write_while_taken(worker *wk, const unsigned char *p, size_t len, double patience)
{
    mproc__handle h = mproc__conn_write_handle(wk->conn);
    size_t done = 0;
    while (done < len) {
        long n = mproc__plat_write_timed(h, p + done, len - done, patience);
        if (n < 0)
            return n;
        if (n == 0)
            break;
        done += (size_t)n;
    }
    return (long)done;
}

static int waiting(const worker *wk) { return wk->out_pos < wk->outbox.len; }

/* Writes what the outbox holds: 0 (written, or left waiting), or an error. */
static int flush_outbox(worker *wk, double patience)
{
    long n = write_while_taken(wk, wk->outbox.data + wk->out_pos, wk->outbox.len - wk->out_pos, patience);
    if (n < 0)
        return (int)n;
    wk->out_pos += (size_t)n;
    if (!waiting(wk)) {
        wk->outbox.len = wk->out_pos = 0;
        if (wk->outbox.cap > OUTBOX_KEEP)
            mproc__buf_free(&wk->outbox);
    }
    return 0;
}

static int procs_send(mproc__pool_transport *tp, int w, const void *msg, size_t len)
{
    procs *ps = of(tp);
    worker *wk = &ps->w[w];
    unsigned char hdr[MPROC__MSG_HDR];
    const unsigned char *rest = msg;
    int rc = 0;
    if (!wk->conn || wk->ended)
        return MPROC_ECLOSED;
    if (len > ps->max_message + MPROC__POOL_SLACK)
        return mproc__error(MPROC_ETOOBIG);
    mproc__msg_header(hdr, len);
    mproc__buf_bytes(&wk->outbox, hdr, sizeof hdr);
    /* Small, or behind frames still waiting: all of it through the outbox. */
    if (len <= SMALL_FRAME || wk->outbox.len > sizeof hdr) {
        mproc__buf_bytes(&wk->outbox, msg, len);
        len = 0;
    }
    if (!wk->outbox.failed && (rc = flush_outbox(wk, PATIENCE)) == 0 && len > 0 && !waiting(wk)) {
        /* A large payload straight from msg. */
        long n = write_while_taken(wk, rest, len, PATIENCE);
        if (n < 0)
            return (int)n;
        rest += n;
        len -= (size_t)n;
    }
    if (len > 0 && !wk->outbox.failed)
        mproc__buf_bytes(&wk->outbox, rest, len);
    if (wk->outbox.failed) {
        /* Its channel would miss a frame: it goes, ENDED gives its items back. */
        (void)mproc_process_kill(wk->p);
        return mproc__error(MPROC_ENOMEM);
    }
    return rc;
}

static void procs_release(mproc__pool_transport *tp, void *data)
{
    (void)tp;
    mproc_free(data);
}

static void procs_wake(mproc__pool_transport *tp)
{
    static const char one = 1;
    if (atomic_exchange(&of(tp)->wake_pending, 1) == 0)
        (void)mproc_conn_send(of(tp)->wake_w, &one, 1);
}

static mproc__pool_slot *procs_slot(mproc__pool_transport *tp, int w)
{
    return (mproc__pool_slot *)mproc_shm_ptr(of(tp)->shm) + w;
}

static void procs_stop(mproc__pool_transport *tp, int w)
{
    worker *wk = &of(tp)->w[w];
    if (wk->p && !wk->ended)
        (void)mproc_process_kill(wk->p);
}

/* A message from worker i if one is whole (1), or its end of file. */
static int take_message(worker *wk, int i, mproc__tp_event *ev)
{
    int rc;
    if (wk->eof)
        return 0;
    rc = mproc_conn_recv(wk->conn, &ev->data, &ev->len, 0);
    if (rc == 0) {
        ev->kind = MPROC__TP_MESSAGE;
        ev->worker = i;
        return 1;
    }
    if (rc != MPROC_ETIMEDOUT)
        wk->eof = 1; /* closed, or a malformed frame: nothing more comes */
    return 0;
}

/* Worker i ended and all it sent was read: report and free the slot. */
static void report_end(procs *ps, int i, mproc__tp_event *ev)
{
    worker *wk = &ps->w[i];
    int code = 0;
    (void)mproc_process_join(wk->p, -1);
    (void)mproc_process_exitcode(wk->p, &code);
    ev->kind = MPROC__TP_ENDED;
    ev->worker = i;
    ev->code = code;
    ev->running = atomic_load(&((mproc__pool_slot *)mproc_shm_ptr(ps->shm) + i)->item);
    mproc_process_free(wk->p);
    mproc_conn_close(wk->conn);
    mproc__buf_free(&wk->outbox);
    *wk = (worker){NULL, NULL, 0, 0, {0}, 0};
}

static int procs_next(mproc__pool_transport *tp, double timeout, mproc__tp_event *ev)
{
    procs *ps = of(tp);
    void *objs[1 + 2 * MAX_PROC_WORKERS];
    int ready[1 + 2 * MAX_PROC_WORKERS], who[1 + 2 * MAX_PROC_WORKERS];
    size_t n;
    int rc, nw = tp->workers;

    memset(ev, 0, sizeof *ev);
    for (;;) {
        int pending = 0;
        for (int i = 0; i < nw; i++) {
            worker *wk = &ps->w[i];
            if (wk->p && waiting(wk) && (wk->ended || flush_outbox(wk, 0) != 0))
                wk->outbox.len = wk->out_pos = 0; /* no reader any more: its ENDED follows */
            pending |= wk->p && waiting(wk);
        }
        if (pending && (timeout < 0 || timeout > PATIENCE))
            timeout = PATIENCE;
        /* A worker that ended: what it sent first, then its end. */
        for (int k = 0; k < nw; k++) {
            int i = (ps->next_scan + k) % nw;
            if (!ps->w[i].p || !ps->w[i].ended)
                continue;
            if (!take_message(&ps->w[i], i, ev))
                report_end(ps, i, ev);
            return ev->kind;
        }
        n = 0;
        objs[n] = ps->wake_r;
        who[n++] = -1;
        for (int k = 0; k < nw; k++) {
            int i = (ps->next_scan + k) % nw;
            if (!ps->w[i].p)
                continue;
            if (!ps->w[i].eof) {
                objs[n] = ps->w[i].conn;
                who[n++] = i;
            }
            objs[n] = ps->w[i].p;
            who[n++] = -2 - i;
        }
        rc = mproc_wait(objs, n, timeout, ready);
        if (rc < 0)
            return rc;
        if (rc == 0)
            return ev->kind = MPROC__TP_TIMEOUT;
        ps->next_scan = (ps->next_scan + 1) % (nw > 0 ? nw : 1);
        if (ready[0]) {
            void *d;
            size_t len;
            /* Drained before the flag is cleared: a wake in between finds
             * the flag set and sends nothing, and the dispatcher, back from
             * this WOKEN, sees what it was for. */
            while (mproc_conn_recv(ps->wake_r, &d, &len, 0) == 0)
                mproc_free(d);
            atomic_store(&ps->wake_pending, 0);
            return ev->kind = MPROC__TP_WOKEN;
        }
        for (size_t j = 1; j < n; j++) {
            if (!ready[j])
                continue;
            if (who[j] >= 0 && take_message(&ps->w[who[j]], who[j], ev))
                return ev->kind;
            if (who[j] < -1)
                ps->w[-2 - who[j]].ended = 1;
        }
        timeout = 0; /* something was ready: look again without waiting */
    }
}

static void procs_free(mproc__pool_transport *tp)
{
    procs *ps = of(tp);
    if (!ps)
        return;
    for (int i = 0; ps->w && i < tp->workers; i++) {
        if (ps->w[i].p) {
            (void)mproc_process_kill(ps->w[i].p);
            (void)mproc_process_join(ps->w[i].p, -1);
            mproc_process_free(ps->w[i].p);
        }
        mproc_conn_close(ps->w[i].conn);
        mproc__buf_free(&ps->w[i].outbox);
    }
    free(ps->w);
    mproc_conn_close(ps->wake_r);
    mproc_conn_close(ps->wake_w);
    mproc_shm_free(ps->shm);
    mproc_args_free(ps->initargs);
    free(ps);
}

static const mproc__pool_transport_ops procs_ops = {procs_start, procs_pid,  procs_send, procs_next, procs_release,
                                                    procs_wake,  procs_slot, procs_stop, procs_free};

mproc__pool_transport *mproc__pool_procs_new(mproc_ctx *ctx, int workers, const mproc__pool_worker_cfg *cfg)
{
    procs *ps;
    int rc = 0;
    if (workers > MAX_PROC_WORKERS) {
        mproc__errorf(MPROC_EINVAL, "a process pool has at most %d workers (one wait covers 64 handles; "
                                    "CPython's limit on Windows is 61)", MAX_PROC_WORKERS);
        return NULL;
    }
    if (cfg->initializer && mproc_ctx_method(ctx) != MPROC_FORK && !mproc__target_name(cfg->initializer)) {
        mproc__errorf(MPROC_ENOTREG, "pool initializer not registered with MPROC_TARGET");
        return NULL;
    }
    /* Else every worker would fail to start, and every item with it. */
    if (mproc__args_check_for_process(cfg->initargs, mproc_method_name(mproc_ctx_method(ctx))) != 0)
        return NULL;
    if (!(ps = calloc(1, sizeof *ps)))
        return mproc__null(MPROC_ENOMEM);
    ps->tp.ops = &procs_ops;
    ps->tp.workers = workers;
    ps->tp.by_name = mproc_ctx_method(ctx) != MPROC_FORK;
    ps->ctx = ctx;
    ps->initializer = cfg->initializer;
    ps->maxtasks = cfg->maxtasks;
    ps->max_message = cfg->max_message;
    if (!(ps->w = calloc((size_t)workers, sizeof *ps->w)) || !(ps->initargs = mproc_args_new()) ||
        mproc__args_append(ps->initargs, cfg->initargs) != 0 ||
        !(ps->shm = mproc_shm_new(ctx, (size_t)workers * sizeof(mproc__pool_slot))) ||
        mproc__pipe(0, 0, &ps->wake_r, &ps->wake_w) != 0)
        rc = mproc_last_error() ? mproc_last_error() : MPROC_ENOMEM;
    if (rc != 0) {
        procs_free(&ps->tp);
        return mproc__raise_null(rc);
    }
    return &ps->tp;
}
