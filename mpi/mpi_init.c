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

static void finalize_at_exit(void) { (void)mproc_mpi_finalize(); }

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
        return 0;
    MPI_Initialized(&inited);
    if (!inited) {
        MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &s->level);
        s->we_inited = 1;
    } else {
        MPI_Query_thread(&s->level);
    }
    if (s->level < MPI_THREAD_SERIALIZED)
        return mproc__errorf(MPROC_ENOTSUP, "MPI gives thread level %d; the pool's dispatcher thread needs "
                                            "MPI_THREAD_SERIALIZED or more", s->level);
    if ((rc = mproc__mpi_state_init()) != 0)
        return rc;
    if (s->rank == 0 && (!(s->pids = calloc((size_t)s->size, sizeof *s->pids)) ||
                         !(s->stale = calloc((size_t)s->size, sizeof *s->stale))))
        MPI_Abort(MPI_COMM_WORLD, 1); /* the workers are waiting in the gather below */
    {
        long long *all = s->rank == 0 ? malloc((size_t)s->size * sizeof *all) : NULL;
        if (s->rank == 0 && !all)
            MPI_Abort(MPI_COMM_WORLD, 1);
        pid = mproc__plat_getpid();
        MPI_Gather(&pid, 1, MPI_LONG_LONG, all, 1, MPI_LONG_LONG, 0, s->comm);
        for (int i = 0; all && i < s->size; i++)
            s->pids[i] = (long)all[i];
        free(all);
    }
    s->inited = 1;
    if (s->rank != 0)
        mproc__mpi_serve(); /* does not return */
    mproc__on_exit(MPROC__EXIT_CHILDREN, finalize_at_exit);
    return 0;
}

int mproc_mpi_thread_level(void) { return mproc__mpi.inited ? mproc__mpi.level : -1; }

/* Every rank's BYE, dropping whatever else comes; 0, or -1 after BYE_TIMEOUT. */
static int wait_byes(void)
{
    mproc__mpi_state *s = &mproc__mpi;
    int left = s->size - 1;
    double deadline = mproc__plat_now() + BYE_TIMEOUT;
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
    if (s->finalized)
        return 0;
    if (!s->inited || s->rank != 0)
        return mproc__errorf(MPROC_ESTATE, "mproc_mpi_finalize is for the master, after mproc_mpi_init");
    if (s->live) {
        (void)mproc_pool_terminate(s->live);
        (void)mproc_pool_join(s->live, -1);
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
