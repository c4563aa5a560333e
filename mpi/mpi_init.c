/*
 * mproc_mpi_init and mproc_mpi_finalize: MPI's start and end for the
 * master and the worker ranks, and the exit hook that releases the
 * workers when the master returns from main without finalizing.
 */
#include <stdlib.h>

#include "mproc_mpi.h"
#include "mpi_internal.h"

/* How long finalize waits for every rank's BYE before it aborts the job. */
#define BYE_TIMEOUT 60.0

/* At the master's exit, unless the program finalized MPI itself (too
 * late then: see the header).  A fork child of the master inherits this
 * hook and the state, but MPI is not its own: mproc__mpi_mine() is 0 there. */
static void finalize_at_exit(void)
{
    int done = 0;
    if (!mproc__mpi_mine())
        return;
    MPI_Finalized(&done);
    if (!done)
        (void)mproc_mpi_finalize();
}

int mproc_mpi_init(int *argc, char ***argv)
{
    mproc__mpi_state *s = &mproc__mpi;
    int inited = 0, rc;
    long long pid;

    if (!mproc__plat_initialized())
        return mproc__errorf(MPROC_ENOINIT, "call mproc_init(argc, argv) before mproc_mpi_init");
    if (s->finalized)
        return mproc__errorf(MPROC_ESTATE, "MPI was finalized");
    if (s->inited)
        return mproc__mpi_mine() ? 0 : mproc__errorf(MPROC_ESTATE, "a fork child of an MPI process is not an MPI rank");
    MPI_Initialized(&inited);
    if (!inited) {
        MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &s->level);
        s->we_inited = 1;
    } else {
        MPI_Query_thread(&s->level);
    }
    if (s->level < MPI_THREAD_SERIALIZED) {
        /* Nothing is left behind: MPI is finalized again if we started it. */
        if (s->we_inited)
            MPI_Finalize();
        s->we_inited = 0;
        return mproc__errorf(MPROC_ENOTSUP, "MPI gives thread level %d; the pool's dispatcher thread needs "
                                            "MPI_THREAD_SERIALIZED or more", s->level);
    }
    if ((rc = mproc__mpi_state_init()) != 0)
        return rc;
    if (s->rank == 0 && (!(s->pids = calloc((size_t)s->size, sizeof *s->pids)) ||
                         !(s->stale = calloc((size_t)s->size, sizeof *s->stale))))
        MPI_Abort(MPI_COMM_WORLD, 1); /* the workers are waiting in the gather below */
    pid = mproc__plat_getpid();
    MPI_Gather(&pid, 1, MPI_LONG_LONG, s->pids, 1, MPI_LONG_LONG, 0, s->comm);
    s->inited = 1;
    s->owner = mproc__plat_getpid();
    if (s->rank != 0)
        mproc__mpi_serve(); /* does not return */
    mproc__on_exit(MPROC__EXIT_CHILDREN, finalize_at_exit);
    return 0;
}

int mproc_mpi_thread_level(void) { return mproc__mpi.inited ? mproc__mpi.level : -1; }

int mproc__mpi_mine(void) { return mproc__mpi.inited && mproc__mpi.owner == mproc__plat_getpid(); }

/* Every rank's BYE, dropping whatever else comes; 0, or -1 after BYE_TIMEOUT. */
static int wait_byes(void)
{
    mproc__mpi_state *s = &mproc__mpi;
    int left = s->size - 1;
    double deadline = mproc__plat_now() + BYE_TIMEOUT;
    (void)mproc__mpi_woken(); /* a wake left for a pool that is gone */
    while (left > 0) {
        mproc__mpi_msg *m;
        (void)mproc__mpi_poll();
        while ((m = mproc__mpi_take()) != NULL) {
            left -= m->tag == MPROC__MPI_BYE;
            mproc__mpi_msg_free(m);
        }
        if (left > 0 && mproc__plat_now() > deadline)
            return -1;
        if (left > 0)
            mproc__mpi_idle(-1);
    }
    return 0;
}

int mproc_mpi_finalize(void)
{
    mproc__mpi_state *s = &mproc__mpi;
    mproc_pool *live;
    if (s->finalized && mproc__mpi_mine())
        return 0;
    if (!s->inited || s->rank != 0 || !mproc__mpi_mine())
        return mproc__errorf(MPROC_ESTATE, "mproc_mpi_finalize is for the master, after mproc_mpi_init "
                                           "(not a fork child of it)");
    mproc__plat_mutex_lock(s->mu);
    live = s->live;
    mproc__plat_mutex_unlock(s->mu);
    if (live) {
        /* Its handle may be freed already (an mproc_result keeps it).  Its
         * dispatcher may wait on a large send to a rank busy in a task. */
        if (mproc__pool_stop(live, BYE_TIMEOUT) != 0) {
            mproc__log(MPROC_LOG_ERROR, "mproc_mpi_finalize: the MPI pool did not stop in 60 s (a worker rank "
                                        "busy in a task); aborting the MPI job");
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
    }
    s->finalized = 1;
    for (int r = 1; r < s->size; r++)
        (void)mproc__mpi_send(r, MPROC__MPI_SHUTDOWN, NULL, 0);
    if (wait_byes() != 0) {
        mproc__log(MPROC_LOG_ERROR, "mproc_mpi_finalize: a worker rank did not finish its task in 60 s; "
                                    "aborting the MPI job");
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    mproc__mpi_flush();
    while (s->head)
        mproc__mpi_msg_free(mproc__mpi_take());
    mproc__mpi_body_drop_spare();
    MPI_Comm_free(&s->comm);
    if (s->we_inited)
        MPI_Finalize();
    return 0;
}
