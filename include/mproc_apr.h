/**
 * @file mproc_apr.h
 * @brief mproc inside APR programs: pools own mproc objects, apr_status_t
 * for mproc's codes, apr_pollfd_t for processes, connections and queues.
 *
 * mproc inside APR programs (optional component, CMake target mproc::apr,
 * library mproc_apr; built when pkg-config finds apr-1).
 *
 * APR starts executables (apr_proc_create) and forks (apr_proc_fork); mproc
 * runs a function in another process and moves data between processes.
 * This header makes mproc objects feel native in an APR program:
 * - lifetimes: an apr_pool_t owns mproc objects (mproc_apr_own), so that
 *   apr_pool_clear / apr_pool_destroy frees them with the pool's other
 *   resources;
 * - errors: apr_status_t for every mproc code (mproc_apr_status), and a
 *   sentence for each (mproc_apr_strerror);
 * - waiting: an apr_pollfd_t for a process, a connection or a queue
 *   (mproc_apr_pollfd), so that apr_pollset_poll / apr_poll wait on mproc
 *   objects and the program's own sockets together.
 *
 * It uses only mproc's public calls ("Objects of any type" in mproc.h): it
 * works with the static and the shared library alike.  mproc_init comes
 * first in main, as in any mproc program; apr_initialize may come before
 * or after it, and after it saves spawned children the work: a spawned
 * child runs its target inside mproc_init and exits without getting there
 * (a target that uses APR then initialises APR itself).
 */
#ifndef MPROC_APR_H
#define MPROC_APR_H

#include <apr_errno.h>
#include <apr_poll.h>
#include <apr_pools.h>

#include "mproc.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @defgroup mproc_apr mproc in APR programs (mproc_apr.h)
 * @{
 */

/** Where mproc's own codes sit in APR's range for applications
 * (APR_OS_START_USERERR ... ): MPROC_APR_START_ERROR - code for each
 * negative mproc code, 100 codes wide.  Clear of serf's (APR_OS_START_USERERR
 * + 100 ...) and Subversion's (APR_OS_START_USERERR + 5000 ... + 150000). */
#define MPROC_APR_START_ERROR (APR_OS_START_USERERR + 9 * APR_OS_ERRSPACE_SIZE)
/** 1 when status is one of mproc's codes in APR's range (mproc_apr_status). */
#define MPROC_APR_IS_ERROR(status) ((status) > MPROC_APR_START_ERROR && (status) < MPROC_APR_START_ERROR + 100)

/**
 * Ties object to pool: clearing or destroying pool frees object, with the
 * pool's other cleanups, in reverse order of registration (an object owned
 * after another is freed before it).  object is any mproc object
 * (mproc_object_type): a process, queue, connection, lock, semaphore,
 * event, condition, barrier, shared memory, pool, pool result or argument
 * list.  It is freed by its own free call (mproc_object_free): a running
 * process is not stopped (terminate and join it first, or own a pool,
 * which terminates its workers), a pool is terminated and joined.
 *
 * Freeing object by hand before the pool goes (mproc_queue_free(q), any
 * free call) also removes it from the pool: it is never freed twice.  That
 * removal is an apr_pool_cleanup_kill on pool, and APR pools are not
 * thread-safe: free an owned object in a thread that may use pool.
 *
 * Processes started from the pool's program:
 * - apr_proc_fork: the child has a copy of the pool; its clear or destroy
 *   frees the child's copy of object only and leaves what the parent uses
 *   working (a queue, a lock, a pool's workers and a process's child are
 *   the parent's): a queue, connection, shared memory or synchronization
 *   object closes the child's copies of its descriptors; a process's or a
 *   pool's stay open in the child until it exits or execs (so a long-lived
 *   child holds a pool's worker channels open).  State the
 *   parent's threads were using at the fork (a queue's unsent items, a
 *   pool's dispatcher) may have been mid-update and is left allocated in
 *   the child, as the rest of the parent's memory: a child that leaves
 *   by exit() rather than _exit() shows it to a leak checker once;
 * - apr_proc_create (a fork then an exec): APR's child cleanup for object
 *   does nothing, since mproc's descriptors are close-on-exec.
 *
 * Returns APR_SUCCESS; APR_EINVAL when pool is NULL or object is not a
 * live mproc object; mproc_apr_status(MPROC_EEXIST) when object already
 * has an owner (a pool, or a hook set with mproc_object_on_free);
 * mproc_apr_status(MPROC_ESTATE) when it belongs to another mproc object,
 * which frees it (args given to mproc_process_new, a condition's own lock,
 * what a spawned target got in its args).  Args owned by a pool and then
 * given to mproc_process_new leave the pool at that moment: the process
 * frees them.
 */
apr_status_t mproc_apr_own(apr_pool_t *pool, void *object);

/**
 * The apr_status_t for an mproc return code:
 * - 0 and positive codes (counts): APR_SUCCESS;
 * - MPROC_ETIMEDOUT: APR_TIMEUP;
 * - MPROC_EEMPTY, MPROC_EFULL: APR_EAGAIN (APR_STATUS_IS_EAGAIN);
 * - MPROC_ECLOSED: APR_EOF;
 * - MPROC_ENOTSUP: APR_ENOTIMPL;
 * - MPROC_EINVAL: APR_EINVAL;
 * - MPROC_ENOMEM: APR_ENOMEM;
 * - MPROC_ESYS: APR_FROM_OS_ERROR(mproc_last_os_error()), the OS error of
 *   this thread's last failure (read it right after the failing call);
 *   when there is none, as the codes below;
 * - every other code (MPROC_ENOTREG, MPROC_ENOINIT, MPROC_ESTATE,
 *   MPROC_EEXIST, MPROC_EBROKEN, MPROC_ETOOBIG, MPROC_ETASK, and codes of
 *   later versions down to -99): MPROC_APR_START_ERROR - code, which
 *   MPROC_APR_IS_ERROR recognises and mproc_apr_strerror describes;
 *   a code below -99 (none exists): APR_EGENERAL.
 */
apr_status_t mproc_apr_status(int code);

/** The mproc code for a status from mproc_apr_status that is in mproc's
 * range (MPROC_APR_IS_ERROR), else 0. */
int mproc_apr_code(apr_status_t status);

/**
 * apr_strerror that knows mproc's codes: for a status in mproc's range
 * mproc_strerror's sentence for its code (mproc_apr_code), for any other
 * apr_strerror's.
 * APR has no hook to teach apr_strerror new codes: call this one where a
 * status may come from mproc_apr_status.  Writes at most bufsize bytes
 * (always terminated when bufsize > 0) and returns buf.
 */
char *mproc_apr_strerror(apr_status_t status, char *buf, apr_size_t bufsize);

/**
 * Fills *out for apr_pollset_add / apr_poll: a descriptor of object,
 * readable (APR_POLLIN) when
 * - object is an mproc_process: it ended (then mproc_process_join(p, 0));
 * - an mproc_conn: a message or end of file is there to receive;
 * - an mproc_queue (of a process context): an item may be got; another
 *   consumer may take it first, so get with a timeout of 0 and expect
 *   MPROC_EEMPTY.  The queue's consumers read one item at a time from then
 *   on (mproc_object_fd): call it before the queue's first get.
 * out->desc_type is APR_POLL_FILE, out->reqevents APR_POLLIN,
 * out->rtnevents 0, out->p pool, out->client_data object: a poll result
 * tells which object woke.  The apr_file_t is allocated in pool and does
 * not own the descriptor, which stays object's: remove the pollfd from
 * the pollset before object is freed.  Error, end of file and hang-up
 * (APR_POLLERR, APR_POLLHUP) may come with or instead of APR_POLLIN: treat
 * them as ready and let the call that follows (join, recv, get) report.
 *
 * Returns APR_SUCCESS; APR_EINVAL (pool or out NULL, object not live);
 * APR_ENOTIMPL for an object with no descriptor (events, locks, shared
 * memory, pools, a thread context's queue) and on Windows, where pipes
 * are not descriptors a pollset waits on (use mproc_wait there); the
 * status of mproc_object_fd's other errors (MPROC_ESTATE: a process not
 * started or not this process's, a send-only connection).
 */
apr_status_t mproc_apr_pollfd(apr_pool_t *pool, void *object, apr_pollfd_t *out);

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* MPROC_APR_H */
