/**
 * @file mproc_mpi.h
 * @brief The mproc pool on MPI ranks: mpi4py.futures' static mode, in C.
 *
 * mproc_mpi.h — the mproc pool on MPI ranks (optional component, CMake
 * target mproc::mpi, library mproc_mpi; built when CMake's FindMPI finds an
 * implementation).  mpi4py.futures' static mode, in C:
 *
 * @code
 *     int main(int argc, char **argv) {
 *         mproc_init(argc, argv);
 *         mproc_mpi_init(&argc, &argv);   // ranks 1..N-1 serve tasks here and exit 0
 *         mproc_pool *pool = mproc_mpi_pool_new(MPI_COMM_WORLD, NULL);
 *         mproc_pool_map(pool, square, ...);  // the whole mproc_pool API
 *         mproc_pool_close(pool); mproc_pool_join(pool, -1); mproc_pool_free(pool);
 *         mproc_mpi_finalize();
 *     }
 * @endcode
 *
 * @code{.sh}
 *     mpiexec -n 3 ./prog                      (one machine: 1 master, 2 workers)
 *     mpiexec -n 64 --hostfile nodes ./prog    (a cluster)
 * @endcode
 *
 * Every rank runs the same program, so tasks travel by the name MPROC_TASK
 * gave them; a name a worker does not know fails that task with
 * MPROC_ENOTREG.  A task's nonzero return fails that task with MPROC_ETASK
 * and its code, as on one machine.
 *
 * Failure: MPI has no recovery from a lost rank (short of ULFM): a rank that
 * dies takes the whole MPI job down, master included, where a process pool
 * would replace the worker and report MPROC_EBROKEN.  max_retries never
 * applies.  A rank cannot be killed either, so task_timeout is refused
 * (MPROC_EINVAL), and mproc_pool_terminate() stops waiting for the ranks at
 * once while a rank busy in a task finishes it (its results are dropped)
 * before it serves again; mproc_mpi_finalize() waits for that.
 *
 * Threads: the pool's dispatcher thread calls MPI, so mproc_mpi_init asks
 * for MPI_THREAD_MULTIPLE and needs at least MPI_THREAD_SERIALIZED.  The
 * program's own MPI calls while an MPI pool runs need MPI_THREAD_MULTIPLE
 * (mproc_mpi_thread_level() says which level MPI gave).  mproc's messages
 * use a private duplicate of MPI_COMM_WORLD, never the program's
 * communicators.
 */
#ifndef MPROC_MPI_H
#define MPROC_MPI_H

#include <mpi.h>

#include "mproc.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @defgroup mproc_mpi_pool The pool on MPI ranks
 * mproc_mpi.h: rank 0 is the master and runs the program; the other ranks
 * serve its pools' tasks.  Everything but the constructor is the
 * mproc_pool API (@ref mproc_pools).
 * @{
 */

/** Call right after mproc_init() in main, on every rank, with main's argc
 * and argv.  Initialises MPI (MPI_Init_thread) unless the program already
 * has.  On rank 0 of MPI_COMM_WORLD it returns 0 and the program goes on as
 * the master.  Every other rank does not return: it serves the master's
 * pools until mproc_mpi_finalize() (or the master's exit), then finalizes
 * MPI and exits with status 0.  A second call on the master returns 0.
 * Errors: MPROC_ENOINIT (mproc_init has not run), MPROC_ENOTSUP (MPI gives
 * less than MPI_THREAD_SERIALIZED; every rank returns it, and MPI is
 * finalized again if this call initialised it), MPROC_ESTATE (after
 * mproc_mpi_finalize, or in a fork child of the master: MPI is not its). */
int mproc_mpi_init(int *argc, char ***argv);

/** On the master (rank 0): a pool whose workers are the other ranks of comm
 * (MPI_COMM_WORLD, or a communicator holding the master and some of the
 * others); everything else is the mproc_pool API, freed with
 * mproc_pool_free.  Each worker rank runs opts->initializer (registered
 * with MPROC_TARGET; its initargs hold plain values only: handles cannot
 * travel to other machines) once per worker life, and maxtasksperchild
 * restarts that life on the same rank.  One MPI pool exists at a time (an
 * mproc_result not yet freed keeps its pool alive after mproc_pool_free).
 * NULL on error (mproc_last_error()): MPROC_ESTATE (not the master,
 * mproc_mpi_init has not run or MPI is finalized, or another MPI pool is
 * alive), MPROC_EINVAL (comm has no other rank, is an intercommunicator;
 * task_timeout > 0; initargs with handles), MPROC_ENOTREG (an unregistered
 * initializer), MPROC_ENOMEM. */
mproc_pool *mproc_mpi_pool_new(MPI_Comm comm, const mproc_pool_opts *opts);

/** On the master: terminates and joins a pool still alive (the caller still
 * frees it), releases every worker rank (each finalizes MPI and exits 0,
 * after the task it may be running) and finalizes MPI if mproc_mpi_init
 * initialised it.  A master that returns from main without calling it
 * releases the workers at exit all the same.  A program that initialised
 * MPI itself calls this before its own MPI_Finalize (which the worker
 * ranks, still serving, would never join).  Waits up to 60 s for the pool
 * to stop and for the ranks, then aborts the MPI job (a task that never
 * ends) rather than hang.  0, or MPROC_ESTATE when mproc_mpi_init has not
 * run in this process; a second call returns 0. */
int mproc_mpi_finalize(void);

/** The thread level MPI provided (MPI_THREAD_*), or -1 before mproc_mpi_init. */
int mproc_mpi_thread_level(void);

/** @} */

#ifdef __cplusplus
}
#endif

#endif
