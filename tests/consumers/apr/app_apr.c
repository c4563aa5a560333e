/*
 * The consumer program of mproc::apr (tests/consumers/apr/, run by
 * ci/consumers.sh): an APR pool owns a queue and a spawn child; the queue's
 * pollfd wakes an apr_pollset when the child's item arrives; destroying the
 * pool frees both.  Exits 0 when all of that worked, 1 with a message
 * otherwise.
 */
#include <stdio.h>
#include <string.h>

#include <apr_general.h>

#include "mproc_apr.h"

#define MESSAGE "hello through an apr_pollset"

static int producer(mproc_args *args)
{
    mproc_queue *q = mproc_args_queue(args, 0);
    return mproc_queue_put(q, MESSAGE, sizeof MESSAGE, -1) == 0 ? 0 : 1;
}
MPROC_TARGET(producer);

static int fail(const char *what, apr_status_t st)
{
    char buf[256];
    fprintf(stderr, "consumer_apr: %s: %s\n", what, mproc_apr_strerror(st, buf, sizeof buf));
    return 1;
}

int main(int argc, char **argv)
{
    apr_pool_t *pool;
    apr_pollset_t *set;
    apr_pollfd_t pfd;
    const apr_pollfd_t *out;
    apr_int32_t n = 0;
    apr_status_t st;
    mproc_ctx *ctx;
    mproc_queue *q;
    mproc_args *args;
    mproc_process *p;
    void *data;
    size_t len;
    int rc;

    if ((rc = mproc_init(argc, argv)) != 0)
        return fail("mproc_init", mproc_apr_status(rc));
    if ((st = apr_initialize()) != APR_SUCCESS || (st = apr_pool_create(&pool, NULL)) != APR_SUCCESS)
        return fail("apr_initialize / apr_pool_create", st);
    if (!(ctx = mproc_get_context(MPROC_SPAWN)) || !(q = mproc_queue_new(ctx, 0)) || !(args = mproc_args_new()))
        return fail("mproc_queue_new", mproc_apr_status(mproc_last_error()));
    if ((st = mproc_apr_own(pool, q)) != APR_SUCCESS || (st = mproc_apr_pollfd(pool, q, &pfd)) != APR_SUCCESS)
        return fail("mproc_apr_own / mproc_apr_pollfd", st);
    if ((st = apr_pollset_create(&set, 4, pool, 0)) != APR_SUCCESS || (st = apr_pollset_add(set, &pfd)) != APR_SUCCESS)
        return fail("apr_pollset_create / add", st);
    if ((rc = mproc_args_add_queue(args, q)) != 0 || !(p = mproc_process_new(ctx, producer, args)) ||
        (st = mproc_apr_own(pool, p)) != APR_SUCCESS || (rc = mproc_process_start(p)) != 0)
        return fail("starting the child", mproc_apr_status(rc ? rc : mproc_last_error()));
    if ((st = apr_pollset_poll(set, apr_time_from_sec(60), &n, &out)) != APR_SUCCESS || n != 1 ||
        out[0].client_data != q)
        return fail("apr_pollset_poll", st != APR_SUCCESS ? st : APR_EGENERAL);
    if ((rc = mproc_queue_get(q, &data, &len, 0)) != 0)
        return fail("mproc_queue_get", mproc_apr_status(rc));
    if (len != sizeof MESSAGE || memcmp(data, MESSAGE, len) != 0) {
        fprintf(stderr, "consumer_apr: got %zu bytes that are not \"%s\"\n", len, MESSAGE);
        return 1;
    }
    mproc_free(data);
    if ((rc = mproc_process_join(p, 60.0)) != 0)
        return fail("mproc_process_join", mproc_apr_status(rc));
    apr_pollset_remove(set, &pfd);
    apr_pool_destroy(pool); /* frees the process and the queue */
    apr_terminate();
    printf("consumer_apr: mproc %s, a spawn child's item woke an apr_pollset\n", mproc_version_string());
    return 0;
}
