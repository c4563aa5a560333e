/*
 * The pool's third transport: workers are MPI ranks (mpi4py.futures'
 * static mode).  The dispatcher (core/pool.c) is the one every pool has;
 * this file only maps its calls onto messages (mpi/mpi_internal.h):
 * start sends START, send sends the frame from the dispatcher's own buffer
 * (no copy at 64 KiB and over), next receives, and stop gives a rank up at
 * once (CANCEL; its ENDED is reported here, and what the rank still sends
 * for that life is dropped until its ACK).  A rank cannot die without
 * taking the job down, so nothing here watches for that.
 */
#include <stdlib.h>
#include <string.h>

#include "mproc_mpi.h"
#include "mpi_internal.h"

typedef struct {
    mproc__pool_transport tp;
    int *rank_of;          /* worker slot -> rank of the private communicator */
    int *worker_of;        /* rank -> worker slot, -1 when not in this pool */
    mproc__pool_slot *slots; /* the dispatcher's, on the master only: ranks never see them (no task_timeout) */
    mproc__buf start;      /* the START message, the same for every life */
    char *gave_up;         /* per worker: stopped, its ENDED not yet reported */
} ranks;

static ranks *of(mproc__pool_transport *tp) { return (ranks *)tp; }

static int ranks_start(mproc__pool_transport *tp, int w)
{
    ranks *rs = of(tp);
    return mproc__mpi_send(rs->rank_of[w], MPROC__MPI_START, rs->start.data, rs->start.len);
}

static long ranks_pid(mproc__pool_transport *tp, int w) { return (long)mproc__mpi.pids[of(tp)->rank_of[w]]; }

static void ranks_stop(mproc__pool_transport *tp, int w);

static int ranks_send(mproc__pool_transport *tp, int w, const void *msg, size_t len)
{
    int rc = mproc__mpi_send(of(tp)->rank_of[w], MPROC__MPI_FRAME, msg, len);
    if (rc != 0)
        ranks_stop(tp, w); /* the contract: an error means ENDED follows */
    return rc;
}

static void ranks_release(mproc__pool_transport *tp, void *data)
{
    (void)tp;
    mproc__mpi_body_free(data);
}

static void ranks_wake(mproc__pool_transport *tp)
{
    (void)tp;
    mproc__mpi_wake();
}

static mproc__pool_slot *ranks_slot(mproc__pool_transport *tp, int w) { return &of(tp)->slots[w]; }

static void ranks_stop(mproc__pool_transport *tp, int w)
{
    ranks *rs = of(tp);
    int r = rs->rank_of[w];
    mproc__mpi_drop_from(r);
    /* Out of memory for the CANCEL: nothing tells the rank, and what it
     * still sends is not recognised as stale; results for items no longer
     * in flight are ignored by the dispatcher all the same. */
    if (mproc__mpi_send(r, MPROC__MPI_CANCEL, NULL, 0) == 0)
        mproc__mpi.stale[r]++;
    rs->gave_up[w] = 1;
}

/* A message from a rank as the dispatcher's event; 0 when it is none of
 * this pool's business (dropped). */
static int to_event(ranks *rs, mproc__mpi_msg *m, mproc__tp_event *ev)
{
    int w = m->src >= 0 && m->src < mproc__mpi.size ? rs->worker_of[m->src] : -1;
    if (w >= 0 && m->tag == MPROC__MPI_FRAME) {
        ev->kind = MPROC__TP_MESSAGE;
        ev->worker = w;
        ev->data = m->data;
        ev->len = m->len;
        free(m);
        return 1;
    }
    if (w >= 0 && m->tag == MPROC__MPI_END) {
        mproc__reader r = {m->data, m->len, 0, 0};
        uint32_t code = mproc__rd_u32(&r);
        ev->kind = MPROC__TP_ENDED;
        ev->worker = w;
        ev->code = (int)code;
        ev->running = 0;
    }
    mproc__mpi_msg_free(m);
    return ev->kind == MPROC__TP_ENDED;
}

static int ranks_next(mproc__pool_transport *tp, double timeout, mproc__tp_event *ev)
{
    ranks *rs = of(tp);
    double deadline = timeout >= 0 ? mproc__plat_now() + timeout : 0;
    memset(ev, 0, sizeof *ev);
    for (;;) {
        mproc__mpi_msg *m;
        for (int w = 0; w < tp->workers; w++) {
            if (rs->gave_up[w]) {
                rs->gave_up[w] = 0;
                ev->kind = MPROC__TP_ENDED;
                ev->worker = w;
                return ev->kind;
            }
        }
        if (mproc__mpi_poll() < 0)
            return MPROC_ENOMEM;
        while ((m = mproc__mpi_take()) != NULL)
            if (to_event(rs, m, ev))
                return ev->kind;
        if (mproc__mpi_woken())
            return ev->kind = MPROC__TP_WOKEN;
        if (timeout >= 0) {
            double left = deadline - mproc__plat_now();
            if (left <= 0)
                return ev->kind = MPROC__TP_TIMEOUT;
            mproc__mpi_idle(left);
        } else {
            mproc__mpi_idle(-1);
        }
    }
}

static void ranks_free(mproc__pool_transport *tp)
{
    ranks *rs = of(tp);
    if (!rs)
        return;
    free(rs->gave_up);
    free(rs->rank_of);
    free(rs->worker_of);
    free(rs->slots);
    mproc__buf_free(&rs->start);
    free(rs);
    /* The last reference to the pool may go on any thread. */
    mproc__plat_mutex_lock(mproc__mpi.mu);
    mproc__mpi.live = NULL;
    mproc__mpi.live_transport = 0;
    mproc__plat_mutex_unlock(mproc__mpi.mu);
}

static const mproc__pool_transport_ops ranks_ops = {ranks_start, ranks_pid,  ranks_send, ranks_next, ranks_release,
                                                    ranks_wake,  ranks_slot, ranks_stop, ranks_free};

/* What mproc_mpi_pool_new found: the workers' ranks. */
typedef struct {
    int *rank_of;
    int n;
} made_of;

static mproc__pool_transport *ranks_new(void *ud, int workers, const mproc__pool_worker_cfg *cfg)
{
    made_of *mo = ud;
    mproc__handle hs[MPROC__MAX_HANDLES];
    size_t nh = 0;
    int rc;
    const char *init_name = cfg->initializer ? mproc__target_name(cfg->initializer) : "";
    ranks *rs = calloc(1, sizeof *rs);
    if (!rs)
        return mproc__null(MPROC_ENOMEM);
    rs->tp.ops = &ranks_ops;
    rs->tp.workers = workers;
    rs->tp.by_name = 1;
    (void)mproc__mpi_woken(); /* a wake left over from an earlier pool */
    rs->rank_of = mo->rank_of;
    mo->rank_of = NULL;
    mproc__buf_u32(&rs->start, (uint32_t)cfg->maxtasks);
    mproc__buf_u64(&rs->start, (uint64_t)cfg->max_message);
    mproc__buf_str(&rs->start, init_name ? init_name : "");
    rc = mproc__args_encode(cfg->initargs, &rs->start, hs, &nh);
    if (rc != 0 || nh > 0) {
        ranks_free(&rs->tp);
        if (rc == 0) /* handles were exported: a rank elsewhere cannot use them */
            return mproc__null(mproc__errorf(MPROC_EINVAL, "an MPI pool's initargs hold plain values only: "
                                                           "handles cannot travel to other machines"));
        return mproc__raise_null(rc);
    }
    if (rs->start.failed || !(rs->worker_of = malloc((size_t)mproc__mpi.size * sizeof *rs->worker_of)) ||
        !(rs->slots = calloc((size_t)workers, sizeof *rs->slots)) || !(rs->gave_up = calloc((size_t)workers, 1))) {
        ranks_free(&rs->tp);
        return mproc__null(MPROC_ENOMEM);
    }
    for (int r = 0; r < mproc__mpi.size; r++)
        rs->worker_of[r] = -1;
    for (int w = 0; w < workers; w++)
        rs->worker_of[rs->rank_of[w]] = w;
    return &rs->tp;
}

/* The ranks of comm other than this one, as ranks of the private
 * communicator (a duplicate of MPI_COMM_WORLD). */
static int worker_ranks(MPI_Comm comm, made_of *mo)
{
    MPI_Group mine, world;
    int size = 0, me = 0, inter = 0, *from, *to;
    MPI_Comm_test_inter(comm, &inter);
    if (inter)
        return mproc__errorf(MPROC_EINVAL, "an MPI pool needs an intracommunicator");
    MPI_Comm_size(comm, &size);
    MPI_Comm_rank(comm, &me);
    if (size < 2)
        return mproc__errorf(MPROC_EINVAL, "the communicator has no rank but this one: launch with "
                                           "mpiexec -n 2 or more");
    from = malloc((size_t)size * sizeof *from);
    to = malloc((size_t)size * sizeof *to);
    mo->rank_of = malloc((size_t)(size - 1) * sizeof *mo->rank_of);
    if (!from || !to || !mo->rank_of) {
        free(from);
        free(to);
        return mproc__error(MPROC_ENOMEM);
    }
    for (int i = 0; i < size; i++)
        from[i] = i;
    MPI_Comm_group(comm, &mine);
    MPI_Comm_group(mproc__mpi.comm, &world);
    MPI_Group_translate_ranks(mine, size, from, world, to);
    MPI_Group_free(&mine);
    MPI_Group_free(&world);
    mo->n = 0;
    for (int i = 0; i < size; i++)
        if (i != me && to[i] != MPI_UNDEFINED && to[i] != 0)
            mo->rank_of[mo->n++] = to[i];
    free(from);
    free(to);
    return 0;
}

mproc_pool *mproc_mpi_pool_new(MPI_Comm comm, const mproc_pool_opts *opts)
{
    mproc__mpi_state *s = &mproc__mpi;
    made_of mo = {NULL, 0};
    mproc_pool *p;
    int rc, busy;

    if (!s->inited || s->finalized || s->rank != 0 || !mproc__mpi_mine()) {
        mproc__errorf(MPROC_ESTATE, "mproc_mpi_pool_new is for the master (rank 0), after mproc_mpi_init and "
                                    "before mproc_mpi_finalize");
        return NULL;
    }
    if (comm == MPI_COMM_NULL)
        return mproc__null(MPROC_EINVAL);
    if (opts && opts->task_timeout > 0) {
        mproc__errorf(MPROC_EINVAL, "an MPI pool has no task_timeout: a rank cannot be killed");
        return NULL;
    }
    if (opts && opts->initializer && !mproc__target_name(opts->initializer)) {
        mproc__errorf(MPROC_ENOTREG, "an MPI pool's initializer must be registered with MPROC_TARGET");
        return NULL;
    }
    if ((rc = worker_ranks(comm, &mo)) != 0)
        return NULL;
    if (mo.n == 0) {
        free(mo.rank_of);
        mproc__errorf(MPROC_EINVAL, "the communicator holds no worker rank");
        return NULL;
    }
    mproc__plat_mutex_lock(s->mu);
    busy = s->live_transport;
    s->live_transport = 1;
    mproc__plat_mutex_unlock(s->mu);
    if (busy) {
        free(mo.rank_of);
        mproc__errorf(MPROC_ESTATE, "one MPI pool at a time: free the other first (and its results: "
                                    "an mproc_result keeps its pool)");
        return NULL;
    }
    p = mproc__pool_create(mo.n, opts, ranks_new, &mo);
    free(mo.rank_of); /* NULL once the transport took it */
    mproc__plat_mutex_lock(s->mu);
    s->live = p;
    if (!p)
        s->live_transport = 0;
    mproc__plat_mutex_unlock(s->mu);
    return p;
}
