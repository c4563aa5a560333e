/*
 * multiprocessing.dummy's Pool in C: the pool of examples/pool_map.c on
 * threads.  The one-line switch is the context given to mproc_pool_new;
 * tasks, calls and results are the same.  Shown here: map, apply_async,
 * imap_unordered, and a task that fails by returning a code.
 *
 *     python: from multiprocessing.dummy import Pool
 *
 * What a thread pool cannot do: survive a crashing task.  A thread that
 * calls abort() or dereferences NULL takes the whole process with it, so
 * the crash of examples/pool_map.c has no counterpart here; use a process
 * pool for code that may crash.  Nor can it kill a task that runs past
 * task_timeout: the item fails and its thread is abandoned (replaced).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "mproc.h"

enum { N = 100 };

/* The library never prints; show its warnings and error details. */
static void log_to_stderr(int level, const char *msg, void *ud)
{
    (void)ud;
    fprintf(stderr, "mproc[%d]: %s\n", level, msg);
}

/* A task reads one input and writes one result; here both are an int64_t.
 * Returning nonzero fails the item with MPROC_ETASK and that code. */
static int square(const void *in, size_t len, mproc_out *out)
{
    int64_t v;
    if (len != sizeof v)
        return 1;
    memcpy(&v, in, sizeof v); /* the input carries no alignment promise */
    v *= v;
    return mproc_out_write(out, &v, sizeof v);
}
MPROC_TASK(square); /* thread pools do not need it; it costs nothing and
                       lets the same task run on a spawn or forkserver pool */

/* imap_unordered pulls its inputs one at a time: 0..count-1 here, made on
 * demand, so an input stream of any length runs in bounded memory. */
typedef struct {
    int64_t next, count, current;
} numbers;

static int next_number(void *ud, const void **data, size_t *len)
{
    numbers *n = ud;
    if (n->next == n->count)
        return 0; /* the end */
    n->current = n->next++;
    *data = &n->current; /* valid until the next call */
    *len = sizeof n->current;
    return 1;
}

/* Results arrive in this (the calling) thread as items complete. */
typedef struct {
    size_t received, wrong;
    int64_t sum;
} totals;

static void add_square(void *ud, size_t index, const mproc_task_status *st, const void *data, size_t len)
{
    totals *t = ud;
    int64_t v = -1;
    if (st->status == 0 && len == sizeof v)
        memcpy(&v, data, sizeof v);
    t->wrong += v != (int64_t)index * (int64_t)index;
    t->sum += v;
    t->received++;
}

int main(int argc, char **argv)
{
    int64_t in[N], out[N], seven = 7, result = -1;
    void *data = NULL;
    mproc_result *async, *failing;
    mproc_task_status st;
    numbers inputs = {0, 1000, 0};
    totals got = {0, 0, 0};
    size_t len = 0;
    mproc_pool *pool;
    int rc, failed = 0;

    mproc_set_log_handler(log_to_stderr, NULL);
    rc = mproc_init(argc, argv);
    if (rc != 0) {
        fprintf(stderr, "mproc_init: %s\n", mproc_strerror(rc));
        return 1;
    }
    printf("start method: thread\n");

    /* The only line that differs from a process pool. */
    pool = mproc_pool_new(mproc_get_context(MPROC_THREAD), 2, NULL);
    if (!pool) {
        fprintf(stderr, "mproc_pool_new: %s\n", mproc_strerror(mproc_last_error()));
        return 1;
    }

    /* map: as in examples/pool_map.c. */
    for (int i = 0; i < N; i++)
        in[i] = i;
    rc = mproc_pool_map(pool, square, in, N, sizeof *in, out, sizeof *out, 0, NULL);
    failed |= rc != 0;
    printf("map: %s; squares: %lld %lld %lld ... %lld\n", mproc_strerror(rc), (long long)out[0], (long long)out[1],
           (long long)out[2], (long long)out[N - 1]);

    /* apply_async: one task in the background, its result fetched later.
     * The input is copied at once; the result is ours to mproc_free. */
    async = mproc_pool_apply_async(pool, square, &seven, sizeof seven);
    /* A one-byte input: square returns 1, the item fails with ETASK. */
    failing = mproc_pool_apply_async(pool, square, &seven, 1);
    if (!async || !failing) {
        fprintf(stderr, "apply_async: %s\n", mproc_strerror(mproc_last_error()));
        return 1;
    }
    rc = mproc_result_get(async, &data, &len, -1, &st); /* < 0: wait as long as it takes */
    if (rc == 0 && len == sizeof result)
        memcpy(&result, data, sizeof result);
    mproc_free(data);
    failed |= rc != 0 || result != 49;
    printf("apply_async(square, 7): %s, result %lld\n", mproc_strerror(rc), (long long)result);
    rc = mproc_result_get(failing, &data, &len, -1, &st); /* a failed item hands over no data */
    failed |= rc != MPROC_ETASK || st.code != 1;
    printf("apply_async(square, 1 byte): %s, code %d\n", mproc_strerror(rc), st.code);
    mproc_result_free(async);
    mproc_result_free(failing);

    /* imap_unordered (ordered = 0): 1000 lazily made inputs, chunks of 10;
     * ordered = 1 would be imap, results in input order. */
    rc = mproc_pool_imap(pool, square, next_number, &inputs, add_square, &got, 10, 0);
    failed |= rc != 0 || got.received != 1000 || got.wrong != 0;
    printf("imap_unordered: %s, %zu results, %zu wrong, sum of squares %lld\n", mproc_strerror(rc), got.received,
           got.wrong, (long long)got.sum);

    mproc_pool_close(pool);
    mproc_pool_join(pool, -1);
    mproc_pool_free(pool);
    return failed;
}
