/* A queue between processes, and the order that avoids a deadlock:
 * drain the queue first, then join the producer. */
#include <stdio.h>
#include <string.h>

#include "mproc.h"

enum { ITEMS = 1000, ITEM_SIZE = 100 }; /* 100 KB: more than a pipe holds */

static int producer(mproc_args *args)
{
    mproc_queue *q = mproc_args_queue(args, 0);
    char item[ITEM_SIZE];

    for (int i = 0; i < ITEMS; i++) {
        memset(item, 'a' + i % 26, sizeof item);
        if (mproc_queue_put(q, item, sizeof item, -1) != 0) /* copied; returns at once */
            return 1;
    }
    /* On return the child waits until its queue feeder has written every
     * item to the pipe: until a consumer has read all but a pipe's worth. */
    return 0;
}
MPROC_TARGET(producer);

int main(int argc, char **argv)
{
    mproc_queue *q;
    mproc_args *args;
    mproc_process *p;
    int got = 0, code = -1;

    if (mproc_init(argc, argv) != 0 || !(q = mproc_queue_new(NULL, 0))) /* 0: unbounded */
        return 1;
    args = mproc_args_new();
    mproc_args_add_queue(args, q);
    if (!(p = mproc_process_new(NULL, producer, args)) || mproc_process_start(p) != 0)
        return 1;

    /* Joining p here, before getting its items, could wait for ever: p
     * waits for the pipe to drain and nobody drains it (CPython's
     * "joining processes that use queues" rule). */
    for (int i = 0; i < ITEMS; i++) {
        void *item;
        size_t len;
        if (mproc_queue_get(q, &item, &len, 10) != 0) /* MPROC_EEMPTY after 10 s */
            break;
        got += len == ITEM_SIZE && ((char *)item)[0] == 'a' + i % 26;
        mproc_free(item);
    }
    mproc_process_join(p, -1); /* now safe: everything was got */
    mproc_process_exitcode(p, &code);
    mproc_process_free(p);

    if (mproc_queue_empty(q) != 1) /* a predicate: 1, 0 or a negative error */
        return 1;
    mproc_queue_free(q);

    /* A bounded queue: put_nowait on a full one gives MPROC_EFULL, a get
     * that finds nothing in time MPROC_EEMPTY. */
    {
        mproc_queue *small = mproc_queue_new(NULL, 1);
        void *item;
        size_t len, n = 0;
        if (!small || mproc_queue_put_nowait(small, "x", 1) != 0 || mproc_queue_full(small) != 1 ||
            mproc_queue_put_nowait(small, "y", 1) != MPROC_EFULL || mproc_queue_qsize(small, &n) != 0 || n != 1)
            return 1;
        if (mproc_queue_get(small, &item, &len, -1) != 0)
            return 1;
        mproc_free(item);
        if (mproc_queue_get(small, &item, &len, 0.01) != MPROC_EEMPTY)
            return 1;
        mproc_queue_free(small);
    }
    printf("got %d of %d items in order; producer exited with %d\n", got, ITEMS, code);
    return got == ITEMS && code == 0 ? 0 : 1;
}
