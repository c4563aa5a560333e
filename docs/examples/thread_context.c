/* The thread context (multiprocessing.dummy): the same calls run on
 * threads of this process, with in-memory queues and locks. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "mproc.h"

enum { THREADS = 4, PUTS = 100 };

static long total; /* threads share this process's globals; processes would not */

static int producer(mproc_args *args)
{
    mproc_queue *q = mproc_args_queue(args, 0);
    mproc_lock *lock = mproc_args_lock(args, 1);
    for (int64_t i = 0; i < PUTS; i++) {
        if (mproc_queue_put(q, &i, sizeof i, -1) != 0 || mproc_lock_acquire(lock, -1) != 0)
            return 1;
        total += 1;
        mproc_lock_release(lock);
    }
    return 1000; /* a thread's exit code is kept whole (a process keeps 8 bits) */
}
MPROC_TARGET(producer);

static int twice(const void *in, size_t len, mproc_out *out)
{
    int32_t v;
    if (len != sizeof v)
        return 1;
    memcpy(&v, in, sizeof v);
    v *= 2;
    return mproc_out_write(out, &v, sizeof v);
}
MPROC_TASK(twice);

int main(int argc, char **argv)
{
    mproc_ctx *threads;
    mproc_queue *q;
    mproc_lock *lock;
    mproc_process *p[THREADS];
    mproc_pool *pool;
    int32_t in[8] = {1, 2, 3, 4, 5, 6, 7, 8}, out[8];
    int64_t sum = 0;
    int codes = 0;

    if (mproc_init(argc, argv) != 0)
        return 1;
    threads = mproc_get_context(MPROC_THREAD);
    q = mproc_queue_new(threads, 0); /* queue.Queue: no pipe, no feeder thread */
    lock = mproc_lock_new(threads);  /* threading.Lock: for this process's threads only */
    if (!q || !lock)
        return 1;
    for (int i = 0; i < THREADS; i++) {
        mproc_args *args = mproc_args_new();
        mproc_args_add_queue(args, q); /* the thread uses this very object: keep it until joined */
        mproc_args_add_lock(args, lock);
        if (!(p[i] = mproc_process_new(threads, producer, args)) || mproc_process_start(p[i]) != 0)
            return 1;
    }
    if (mproc_process_terminate(p[0]) != MPROC_ENOTSUP) /* a thread cannot be killed */
        return 1;
    for (int i = 0; i < THREADS * PUTS; i++) {
        void *item;
        size_t len;
        int64_t v;
        if (mproc_queue_get(q, &item, &len, 10) != 0)
            return 1;
        memcpy(&v, item, sizeof v);
        mproc_free(item);
        sum += v;
    }
    for (int i = 0; i < THREADS; i++) {
        int code = 0;
        mproc_process_join(p[i], -1);
        mproc_process_exitcode(p[i], &code);
        codes += code == 1000;
        mproc_process_free(p[i]);
    }
    mproc_lock_free(lock);
    mproc_queue_free(q);

    /* A pool of threads (multiprocessing.dummy.Pool, ThreadPoolExecutor). */
    if (!(pool = mproc_pool_new(threads, 2, NULL)) ||
        mproc_pool_map(pool, twice, in, 8, sizeof *in, out, sizeof *out, 0, NULL) != 0)
        return 1;
    mproc_pool_close(pool);
    mproc_pool_join(pool, -1);
    mproc_pool_free(pool);

    printf("sum %lld, total %ld, %d exit codes of 1000, out[7] = %d\n", (long long)sum, total, codes, (int)out[7]);
    return sum == (int64_t)THREADS * PUTS * (PUTS - 1) / 2 && total == THREADS * PUTS && codes == THREADS &&
                   out[7] == 16
               ? 0
               : 1;
}
