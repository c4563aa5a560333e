/*
 * Queues of the thread context (core/queue_local.c), as CPython's
 * multiprocessing.dummy uses queue.Queue: the items stay in this process,
 * in a FIFO guarded by one mutex, with no pipe, no feeder thread and no
 * shared-memory lock.
 *
 * Such a queue is its own object behind the same opaque mproc_queue
 * pointer, tagged MPROC__T_QUEUE_LOCAL (core/object.h) where core/queue.c's
 * are tagged MPROC__T_QUEUE: core/queue.c's public functions hand it over
 * here first, and nothing here calls back into core/queue.c.
 *
 * Every function below has the semantics and error codes of the public
 * mproc_queue_* call of the same name (include/mproc.h), takes a queue
 * whose tag the caller checked, validates its other arguments itself and
 * sets the last error as that call does.
 */
#ifndef MPROC_QUEUE_LOCAL_H
#define MPROC_QUEUE_LOCAL_H

#include "internal.h"

/* A new one (joinable: with task_done/join).  NULL + MPROC_EINVAL
 * (maxsize over 2^31-1) or MPROC_ENOMEM. */
mproc_queue *mproc__lqueue_new(size_t maxsize, int joinable);

int mproc__lqueue_put(mproc_queue *q, const void *data, size_t len, double timeout);
int mproc__lqueue_get(mproc_queue *q, void **data, size_t *len, double timeout);
int mproc__lqueue_qsize(mproc_queue *q, size_t *n);
int mproc__lqueue_full(mproc_queue *q);
int mproc__lqueue_set_max_message(mproc_queue *q, size_t max);
int mproc__lqueue_task_done(mproc_queue *q);
int mproc__lqueue_join(mproc_queue *q);
int mproc__lqueue_join_timeout(mproc_queue *q, double timeout);
/* For mproc_wait: 1 when a get would not wait (an item is there, or the
 * queue is a forked child's copy, which refuses every call), else 0. */
int mproc__lqueue_ready(mproc_queue *q);
void mproc__lqueue_close(mproc_queue *q);
int mproc__lqueue_join_thread(mproc_queue *q);
void mproc__lqueue_free(mproc_queue *q);
/* What exporting one to a child process gives: MPROC_ENOTSUP, logged. */
int mproc__lqueue_refuse_export(void);

#endif /* MPROC_QUEUE_LOCAL_H */
