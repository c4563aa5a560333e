/*
 * N producers and M consumers sharing one queue; each consumer stops at a
 * sentinel (an empty item), one per consumer, put after the producers end.
 *
 *     python: q = Queue(); Process(target=producer, args=(q,)) ...; q.put(None)
 */
#include <stdio.h>
#include <string.h>

#include "mproc.h"

#define PRODUCERS 3
#define CONSUMERS 2
#define ITEMS 5

static int producer(mproc_args *args)
{
    mproc_queue *q = mproc_args_queue(args, 0);
    int64_t id = mproc_args_i64(args, 1);
    for (int i = 0; i < ITEMS; i++) {
        char item[64];
        int n = snprintf(item, sizeof item, "item %d from producer %lld", i, (long long)id);
        if (mproc_queue_put(q, item, (size_t)n, -1) != 0)
            return 1;
    }
    return 0;
}
MPROC_TARGET(producer);

static int consumer(mproc_args *args)
{
    mproc_queue *q = mproc_args_queue(args, 0);
    int64_t id = mproc_args_i64(args, 1);
    for (;;) {
        void *item;
        size_t len;
        if (mproc_queue_get(q, &item, &len, -1) != 0)
            return 1;
        if (len == 0) { /* the sentinel */
            mproc_free(item);
            return 0;
        }
        printf("consumer %lld got: %.*s\n", (long long)id, (int)len, (const char *)item);
        fflush(stdout);
        mproc_free(item);
    }
}
MPROC_TARGET(consumer);

static mproc_process *start(mproc_target_fn fn, mproc_queue *q, int64_t id)
{
    mproc_args *args = mproc_args_new();
    mproc_process *p;
    mproc_args_add_queue(args, q);
    mproc_args_add_i64(args, id);
    p = mproc_process_new(NULL, fn, args);
    if (!p || mproc_process_start(p) != 0) {
        fprintf(stderr, "start: %s\n", mproc_strerror(mproc_last_error()));
        return NULL;
    }
    return p;
}

int main(int argc, char **argv)
{
    mproc_process *producers[PRODUCERS], *consumers[CONSUMERS];
    mproc_queue *q;

    if (mproc_init(argc, argv) != 0 || !(q = mproc_queue_new(NULL, 0)))
        return 1;
    for (int i = 0; i < CONSUMERS; i++)
        if (!(consumers[i] = start(consumer, q, i)))
            return 1;
    for (int i = 0; i < PRODUCERS; i++)
        if (!(producers[i] = start(producer, q, i)))
            return 1;
    for (int i = 0; i < PRODUCERS; i++) {
        mproc_process_join(producers[i], -1);
        mproc_process_free(producers[i]);
    }
    for (int i = 0; i < CONSUMERS; i++)
        mproc_queue_put(q, "", 0, -1);
    for (int i = 0; i < CONSUMERS; i++) {
        mproc_process_join(consumers[i], -1);
        mproc_process_free(consumers[i]);
    }
    mproc_queue_free(q);
    printf("all %d items consumed\n", PRODUCERS * ITEMS);
    return 0;
}
