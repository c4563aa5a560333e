/* apply_async, waiting with a timeout, a pool initializer and task_timeout. */
#include <stdio.h>
#include <string.h>

#include "mproc.h"

static mproc_event *gate; /* each worker process's own, set by init_worker */

static int init_worker(mproc_args *args)
{
    gate = mproc_args_event(args, 0);
    return 0; /* nonzero: this worker exits and the pool reports it */
}
MPROC_TARGET(init_worker);

/* Echoes its input once the gate is open. */
static int after_gate(const void *in, size_t len, mproc_out *out)
{
    if (mproc_event_wait(gate, -1) != 0)
        return 1;
    return mproc_out_write(out, in, len);
}
MPROC_TASK(after_gate);

int main(int argc, char **argv)
{
    mproc_pool_opts opts;
    mproc_task_status st;
    mproc_ctx *ctx;
    mproc_pool *pool;
    mproc_result *r;
    mproc_event *event;
    mproc_args *initargs;
    void *data;
    size_t len;

    if (mproc_init(argc, argv) != 0 || !(event = mproc_event_new(NULL)) || !(initargs = mproc_args_new()))
        return 1;
    mproc_args_add_event(initargs, event);
    memset(&opts, 0, sizeof opts); /* zero: CPython's defaults */
    opts.initializer = init_worker;
    opts.initargs = initargs; /* copied for each worker: still ours */
    opts.task_timeout = 0.3;  /* an item running longer is killed with its worker */
    /* Processes, even under MPROC_START_METHOD=thread: the gate above is a
     * global of each worker process (thread workers would share one). */
    ctx = mproc_get_start_method() == MPROC_THREAD ? mproc_get_context(MPROC_SPAWN) : NULL;
    if (!(pool = mproc_pool_new(ctx, 1, &opts)))
        return 1;

    /* The gate is shut: the result cannot be ready. */
    if (!(r = mproc_pool_apply_async(pool, after_gate, "first", 5)) || mproc_result_ready(r) != 0 ||
        mproc_result_wait(r, 0.05) != MPROC_ETIMEDOUT)
        return 1;
    /* Waiting longer: the task passes task_timeout and its worker is killed. */
    if (mproc_result_get(r, &data, &len, -1, &st) != MPROC_ETIMEDOUT || st.status != MPROC_ETIMEDOUT)
        return 1;
    mproc_result_free(r);

    /* A new worker took its place; with the gate open the task completes. */
    mproc_event_set(event);
    if (!(r = mproc_pool_apply_async(pool, after_gate, "second", 6)) || mproc_result_wait(r, 10) != 0 ||
        mproc_result_ready(r) != 1 || mproc_result_get(r, &data, &len, 0, &st) != 0)
        return 1;
    printf("second: %.*s (worker pid %ld, attempts %d)\n", (int)len, (const char *)data, st.pid, st.attempts);
    mproc_free(data);
    mproc_result_free(r);

    mproc_pool_close(pool);
    mproc_pool_join(pool, -1);
    mproc_pool_free(pool);
    mproc_args_free(initargs);
    mproc_event_free(event);
    return 0;
}
