/*
 * The "try" pattern: get_nowait with a default when the queue is empty,
 * and put_nowait reporting a full bounded queue instead of waiting.
 *
 *     python: try: item = q.get_nowait() except queue.Empty: item = default
 */
#include <stdio.h>
#include <string.h>

#include "mproc.h"

static int fill(mproc_args *args)
{
    mproc_queue *q = mproc_args_queue(args, 0);
    for (int i = 0;; i++) {
        char item[32];
        int n = snprintf(item, sizeof item, "task-%d", i);
        int rc = mproc_queue_put_nowait(q, item, (size_t)n);
        if (rc == MPROC_EFULL) {
            printf("child: queue full after %d items, not waiting\n", i);
            fflush(stdout);
            return 0;
        }
        if (rc != 0)
            return 1;
    }
}
MPROC_TARGET(fill);

int main(int argc, char **argv)
{
    mproc_queue *q;
    mproc_process *p;
    mproc_args *args;

    if (mproc_init(argc, argv) != 0 || !(q = mproc_queue_new(NULL, 3)))
        return 1;
    args = mproc_args_new();
    mproc_args_add_queue(args, q);
    p = mproc_process_new(NULL, fill, args);
    if (!p || mproc_process_start(p) != 0 || mproc_process_join(p, -1) != 0)
        return 1;
    mproc_process_free(p);
    for (int i = 0; i < 5; i++) {
        void *item;
        size_t len;
        /* The items are in the pipe once the child has exited (it flushed). */
        if (mproc_queue_get_nowait(q, &item, &len) == 0) {
            printf("got %.*s\n", (int)len, (const char *)item);
            mproc_free(item);
        } else {
            printf("empty: using the default\n");
        }
    }
    mproc_queue_free(q);
    return 0;
}
