/* JoinableQueue: the parent waits until every task was marked done.
 * SimpleQueue: the results come back on a queue with no feeder thread. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "mproc.h"

enum { TASKS = 20 };

static int worker(mproc_args *args)
{
    mproc_queue *tasks = mproc_args_queue(args, 0);
    mproc_queue *results = mproc_args_queue(args, 1);

    for (;;) {
        void *item;
        size_t len;
        int64_t v;
        if (mproc_queue_get(tasks, &item, &len, -1) != 0)
            return 1;
        if (len != sizeof v) { /* an empty item: no more tasks */
            mproc_free(item);
            return mproc_queue_task_done(tasks) == 0 ? 0 : 1;
        }
        memcpy(&v, item, sizeof v);
        mproc_free(item);
        v *= v;
        /* The result first, then task_done: once join returns, it is there. */
        if (mproc_queue_put(results, &v, sizeof v, -1) != 0 || mproc_queue_task_done(tasks) != 0)
            return 1;
    }
}
MPROC_TARGET(worker);

int main(int argc, char **argv)
{
    mproc_queue *tasks, *results;
    mproc_args *args;
    mproc_process *p;
    int64_t sum = 0;

    if (mproc_init(argc, argv) != 0)
        return 1;
    tasks = mproc_joinable_queue_new(NULL, 0);
    results = mproc_simple_queue_new(NULL);
    args = mproc_args_new();
    if (!tasks || !results || !args || mproc_args_add_queue(args, tasks) != 0 ||
        mproc_args_add_queue(args, results) != 0)
        return 1;
    if (!(p = mproc_process_new(NULL, worker, args)) || mproc_process_start(p) != 0)
        return 1;

    for (int64_t i = 1; i <= TASKS; i++)
        mproc_queue_put(tasks, &i, sizeof i, -1);
    mproc_queue_put(tasks, "", 0, -1);
    if (mproc_queue_join(tasks) != 0) /* every item got and marked done */
        return 1;
    for (int i = 0; i < TASKS; i++) {
        void *item;
        size_t len;
        int64_t v;
        if (mproc_queue_get(results, &item, &len, 10) != 0 || len != sizeof v)
            return 1;
        memcpy(&v, item, sizeof v);
        mproc_free(item);
        sum += v;
    }
    mproc_process_join(p, -1);
    mproc_process_free(p);
    mproc_queue_free(results);
    mproc_queue_free(tasks);
    printf("sum of squares 1..%d = %lld\n", TASKS, (long long)sum);
    return sum == TASKS * (TASKS + 1) * (2 * TASKS + 1) / 6 ? 0 : 1;
}
