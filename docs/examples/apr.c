/* mproc in an APR program (include/mproc_apr.h, target mproc::apr): a pool
 * owns the objects, an apr_pollset waits on a connection and a process,
 * and mproc's codes are apr_status_t. */
#include <stdio.h>
#include <stdlib.h>

#include <apr_general.h>

#include "mproc_apr.h"

static int greet(mproc_args *args)
{
    return mproc_conn_send(mproc_args_conn(args, 0), "hello", 5) == 0 ? 0 : 1;
}
MPROC_TARGET(greet);

static int fail(const char *what, apr_status_t st)
{
    char buf[128];
    printf("%s: %s\n", what, mproc_apr_strerror(st, buf, sizeof buf));
    return 1;
}

int main(int argc, char **argv)
{
    apr_pool_t *pool;
    apr_pollset_t *set;
    apr_pollfd_t fd;
    const apr_pollfd_t *fired;
    apr_int32_t n;
    apr_status_t st;
    mproc_conn *r, *w;
    mproc_args *args;
    mproc_process *p;
    int watching = 2;
    char buf[128];

    if (mproc_init(argc, argv) != 0 || apr_initialize() != APR_SUCCESS) /* mproc_init first */
        return 1;
    atexit(apr_terminate);
    apr_pool_create(&pool, NULL);
    if ((st = mproc_apr_status(mproc_pipe(NULL, 0, &r, &w))) != APR_SUCCESS)
        return fail("mproc_pipe", st);
    mproc_apr_own(pool, r); /* freed by apr_pool_destroy, with the pool's other resources */
    mproc_apr_own(pool, w);
    args = mproc_args_new();
    mproc_args_add_conn(args, w);
    if (!(p = mproc_process_new(NULL, greet, args)))
        return fail("mproc_process_new", mproc_apr_status(mproc_last_error()));
    mproc_apr_own(pool, p);
    if ((st = mproc_apr_status(mproc_process_start(p))) != APR_SUCCESS)
        return fail("mproc_process_start", st);

    /* Made after the objects it watches, in the same pool: destroyed before them. */
    apr_pollset_create(&set, 2, pool, 0);
    mproc_apr_pollfd(pool, r, &fd); /* readable: a message (or end of file) */
    apr_pollset_add(set, &fd);
    mproc_apr_pollfd(pool, p, &fd); /* readable: the process ended */
    apr_pollset_add(set, &fd);
    while (watching > 0) {
        if ((st = apr_pollset_poll(set, apr_time_from_sec(10), &n, &fired)) != APR_SUCCESS)
            return fail("apr_pollset_poll", st); /* APR_TIMEUP after 10 s */
        for (apr_int32_t i = 0; i < n; i++) {
            if (fired[i].client_data == r) {
                void *msg;
                size_t len;
                if ((st = mproc_apr_status(mproc_conn_recv(r, &msg, &len, 0))) != APR_SUCCESS)
                    return fail("mproc_conn_recv", st);
                printf("received \"%.*s\"\n", (int)len, (char *)msg);
                mproc_free(msg);
            } else {
                mproc_process_join(p, 0); /* it ended: reaped at once */
                printf("the child ended\n");
            }
            apr_pollset_remove(set, &fired[i]); /* one event each here */
            watching--;
        }
    }

    /* A code APR has no name for: in mproc's range, with mproc's sentence. */
    st = mproc_apr_status(mproc_process_start(p)); /* started twice: MPROC_ESTATE */
    printf("start again: %s (mproc code %d)\n", mproc_apr_strerror(st, buf, sizeof buf), mproc_apr_code(st));
    apr_pool_destroy(pool); /* the pollset, then p, w and r: no mproc_*_free */
    return MPROC_APR_IS_ERROR(st) && mproc_apr_code(st) == MPROC_ESTATE ? 0 : 1;
}
