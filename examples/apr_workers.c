/*
 * mproc inside an APR program (include/mproc_apr.h, target mproc::apr), in
 * the shape of a prefork server's parent: one apr_pool_t owns a queue of
 * jobs, a connection the workers send results on and three spawn workers;
 * one apr_pollset waits on the results, on the workers (a worker's pollfd
 * fires when it ended) and on a listening socket of the program's own.
 * The parent squares nothing itself: it puts the jobs and a stop marker per
 * worker, collects every result, reaps each worker as its pollfd fires, and
 * then one apr_pool_destroy releases every object, mproc's and APR's.
 *
 *     build/examples/examples/apr_workers      (built when mproc::apr is)
 *
 * Error statuses are apr_status_t throughout: mproc's codes through
 * mproc_apr_status, printed with mproc_apr_strerror.  POSIX only: on
 * Windows mproc_apr_pollfd is APR_ENOTIMPL (use mproc_wait there).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <apr_general.h>
#include <apr_network_io.h>
#include <apr_poll.h>
#include <apr_pools.h>

#include "mproc_apr.h"

enum { WORKERS = 3, JOBS = 20 };

/* What a worker sends back for one job.  Both ends are this program, so the
 * struct's bytes are the encoding. */
typedef struct {
    int64_t job, square, worker;
} result;

/* A worker: squares the numbers it gets until the stop marker (an empty
 * item).  Several workers send on one end of the pipe: the lock keeps each
 * message whole, as CPython asks of a Pipe written by two processes. */
static int worker(mproc_args *args)
{
    mproc_queue *jobs = mproc_args_queue(args, 0);
    mproc_conn *results = mproc_args_conn(args, 1);
    mproc_lock *send_lock = mproc_args_lock(args, 2);
    int64_t id = mproc_args_i64(args, 3);

    for (;;) {
        void *item;
        size_t len;
        result r;
        int rc;
        if (mproc_queue_get(jobs, &item, &len, -1) != 0)
            return 1;
        if (len != sizeof r.job) {
            mproc_free(item);
            return len == 0 ? 0 : 1; /* 0: the stop marker */
        }
        memcpy(&r.job, item, sizeof r.job);
        mproc_free(item);
        r.square = r.job * r.job;
        r.worker = id;
        if (mproc_lock_acquire(send_lock, -1) != 0)
            return 1;
        rc = mproc_conn_send(results, &r, sizeof r);
        mproc_lock_release(send_lock);
        if (rc != 0)
            return 1;
    }
}
MPROC_TARGET(worker); /* spawn workers find it by this name */

/* The parent's state: everything in it lives in pool. */
typedef struct {
    apr_pool_t *pool;
    mproc_queue *jobs;
    mproc_conn *results;   /* the receiving end */
    mproc_conn *send_end;  /* the workers' end, in their arguments */
    mproc_lock *send_lock; /* taken around each send */
    mproc_process *workers[WORKERS];
    int reaped[WORKERS];
    apr_socket_t *listener;
    apr_pollset_t *pollset;
} server;

static int fail(const char *what, apr_status_t st)
{
    char buf[256];
    fprintf(stderr, "apr_workers: %s: %s\n", what, mproc_apr_strerror(st, buf, sizeof buf));
    return 1;
}

/* mproc's constructors return NULL and leave the code in mproc_last_error. */
static apr_status_t last_status(void)
{
    return mproc_apr_status(mproc_last_error());
}

/* The objects the workers share, each owned by the pool as soon as it
 * exists: a failure further on leaves nothing to free by hand. */
static apr_status_t make_objects(server *s, mproc_ctx *ctx)
{
    apr_status_t st;
    if (!(s->jobs = mproc_queue_new(ctx, 0)))
        return last_status();
    if ((st = mproc_apr_own(s->pool, s->jobs)) != APR_SUCCESS)
        return st;
    if ((st = mproc_apr_status(mproc_pipe(ctx, 0, &s->results, &s->send_end))) != APR_SUCCESS)
        return st;
    if ((st = mproc_apr_own(s->pool, s->results)) != APR_SUCCESS ||
        (st = mproc_apr_own(s->pool, s->send_end)) != APR_SUCCESS)
        return st;
    if (!(s->send_lock = mproc_lock_new(ctx)))
        return last_status();
    return mproc_apr_own(s->pool, s->send_lock);
}

static apr_status_t start_worker(server *s, mproc_ctx *ctx, int i)
{
    mproc_args *args = mproc_args_new();
    mproc_process *p;
    apr_status_t st;
    mproc_args_add_queue(args, s->jobs);
    mproc_args_add_conn(args, s->send_end);
    mproc_args_add_lock(args, s->send_lock);
    mproc_args_add_i64(args, i);
    if (!(p = mproc_process_new(ctx, worker, args))) /* takes args */
        return last_status();
    if ((st = mproc_apr_own(s->pool, p)) != APR_SUCCESS) {
        mproc_process_free(p);
        return st;
    }
    if ((st = mproc_apr_status(mproc_process_start(p))) != APR_SUCCESS)
        return st; /* p is the pool's: freed with it */
    s->workers[i] = p;
    return APR_SUCCESS;
}

/* A TCP listener on 127.0.0.1, port chosen by the system; *addr is the
 * address it got. */
static apr_status_t listen_local(server *s, apr_sockaddr_t **addr)
{
    apr_sockaddr_t *any_port;
    apr_status_t st;
    if ((st = apr_sockaddr_info_get(&any_port, "127.0.0.1", APR_INET, 0, 0, s->pool)) != APR_SUCCESS)
        return st;
    if ((st = apr_socket_create(&s->listener, APR_INET, SOCK_STREAM, APR_PROTO_TCP, s->pool)) != APR_SUCCESS)
        return st;
    if ((st = apr_socket_bind(s->listener, any_port)) != APR_SUCCESS)
        return st;
    if ((st = apr_socket_listen(s->listener, 8)) != APR_SUCCESS)
        return st;
    return apr_socket_addr_get(addr, APR_LOCAL, s->listener);
}

/* The pollset, in the same pool after the objects it watches: a pool runs
 * its cleanups in reverse order, so it goes before them. */
static apr_status_t make_pollset(server *s)
{
    apr_pollfd_t fd;
    apr_status_t st;
    if ((st = apr_pollset_create(&s->pollset, WORKERS + 2, s->pool, 0)) != APR_SUCCESS)
        return st;
    if ((st = mproc_apr_pollfd(s->pool, s->results, &fd)) != APR_SUCCESS ||
        (st = apr_pollset_add(s->pollset, &fd)) != APR_SUCCESS)
        return st;
    for (int i = 0; i < WORKERS; i++)
        if ((st = mproc_apr_pollfd(s->pool, s->workers[i], &fd)) != APR_SUCCESS ||
            (st = apr_pollset_add(s->pollset, &fd)) != APR_SUCCESS)
            return st;
    memset(&fd, 0, sizeof fd);
    fd.p = s->pool;
    fd.desc_type = APR_POLL_SOCKET;
    fd.reqevents = APR_POLLIN;
    fd.desc.s = s->listener;
    fd.client_data = s->listener;
    return apr_pollset_add(s->pollset, &fd);
}

/* Everything the loop counts, checked at the end. */
typedef struct {
    int results, reaped, accepted, exited_nonzero;
    int64_t sum;
} tally;

/* The results connection woke: receive every message there (the pipe
 * stays readable while one is left, so taking one per wake-up would do as
 * well; draining saves wake-ups). */
static apr_status_t take_results(server *s, tally *t)
{
    int ready;
    while ((ready = mproc_conn_poll(s->results, 0)) == 1) {
        void *msg;
        size_t len;
        result r;
        apr_status_t st = mproc_apr_status(mproc_conn_recv(s->results, &msg, &len, 0));
        if (st != APR_SUCCESS)
            return st;
        if (len != sizeof r) {
            mproc_free(msg);
            return mproc_apr_status(MPROC_EBROKEN);
        }
        memcpy(&r, msg, sizeof r);
        mproc_free(msg);
        t->results++;
        t->sum += r.square;
    }
    return mproc_apr_status(ready);
}

/* A worker's pollfd fired: it ended.  Reap it, and stop watching it (its
 * descriptor would stay readable, and must leave the pollset before the
 * pool frees the process). */
static apr_status_t reap(server *s, const apr_pollfd_t *fired, int i, tally *t)
{
    int code = -1;
    apr_status_t st = mproc_apr_status(mproc_process_join(s->workers[i], 0));
    if (st != APR_SUCCESS)
        return st;
    if ((st = mproc_apr_status(mproc_process_exitcode(s->workers[i], &code))) != APR_SUCCESS)
        return st;
    s->reaped[i] = 1;
    t->reaped++;
    t->exited_nonzero += code != 0;
    return apr_pollset_remove(s->pollset, fired);
}

/* The listening socket woke the same loop: accept, say who came, close. */
static apr_status_t accept_one(server *s, tally *t)
{
    apr_socket_t *peer;
    apr_sockaddr_t *remote;
    char *ip = NULL;
    apr_status_t st;
    if ((st = apr_socket_accept(&peer, s->listener, s->pool)) != APR_SUCCESS)
        return st;
    if (apr_socket_addr_get(&remote, APR_REMOTE, peer) == APR_SUCCESS)
        apr_sockaddr_ip_get(&ip, remote);
    printf("apr_workers: the listening socket woke the loop: a connection from %s, closed\n", ip ? ip : "?");
    t->accepted++;
    return apr_socket_close(peer);
}

/* The loop of a prefork parent: one apr_pollset_poll for results, workers
 * and the socket alike, until every result is in and every worker reaped. */
static apr_status_t serve(server *s, tally *t)
{
    while (t->results < JOBS || t->reaped < WORKERS || t->accepted < 1) {
        const apr_pollfd_t *fired;
        apr_int32_t n;
        apr_status_t st = apr_pollset_poll(s->pollset, apr_time_from_sec(30), &n, &fired);
        if (APR_STATUS_IS_EINTR(st))
            continue;
        if (st != APR_SUCCESS)
            return st; /* APR_TIMEUP: 30 s with nothing ready */
        for (apr_int32_t k = 0; k < n; k++) {
            const void *who = fired[k].client_data;
            if (who == s->results)
                st = take_results(s, t);
            else if (who == s->listener)
                st = accept_one(s, t);
            for (int i = 0; i < WORKERS; i++)
                if (who == s->workers[i])
                    st = reap(s, &fired[k], i, t);
            if (st != APR_SUCCESS)
                return st;
        }
    }
    return APR_SUCCESS;
}

static int run(void)
{
    mproc_ctx *ctx = mproc_get_context(MPROC_SPAWN);
    server s;
    tally t;
    apr_sockaddr_t *addr;
    apr_socket_t *client = NULL;
    const char *what;
    int64_t expected = 0;
    apr_status_t st;
    int rc = 1;

    memset(&s, 0, sizeof s);
    memset(&t, 0, sizeof t);
    if ((st = apr_pool_create(&s.pool, NULL)) != APR_SUCCESS)
        return fail("apr_pool_create", st);

    what = "the queue, the pipe and the lock";
    if ((st = make_objects(&s, ctx)) != APR_SUCCESS)
        goto done;
    what = "starting a worker";
    for (int i = 0; i < WORKERS; i++)
        if ((st = start_worker(&s, ctx, i)) != APR_SUCCESS)
            goto done;
    what = "putting the jobs";
    for (int64_t job = 1; job <= JOBS; job++) {
        expected += job * job;
        if ((st = mproc_apr_status(mproc_queue_put(s.jobs, &job, sizeof job, -1))) != APR_SUCCESS)
            goto done;
    }
    for (int i = 0; i < WORKERS; i++)
        if ((st = mproc_apr_status(mproc_queue_put(s.jobs, "", 0, -1))) != APR_SUCCESS)
            goto done;
    printf("apr_workers: %d spawn workers, %d jobs and %d stop markers put\n", WORKERS, JOBS, WORKERS);

    what = "the listening socket";
    if ((st = listen_local(&s, &addr)) != APR_SUCCESS)
        goto done;
    printf("apr_workers: listening on 127.0.0.1, a port the system chose\n");
    what = "the pollset";
    if ((st = make_pollset(&s)) != APR_SUCCESS)
        goto done;
    /* Connect to ourselves once: the loop below sees the listener ready
     * among the results and the workers. */
    what = "connecting to the listener";
    if ((st = apr_socket_create(&client, APR_INET, SOCK_STREAM, APR_PROTO_TCP, s.pool)) != APR_SUCCESS ||
        (st = apr_socket_connect(client, addr)) != APR_SUCCESS)
        goto done;

    what = "the loop";
    if ((st = serve(&s, &t)) != APR_SUCCESS)
        goto done;
    apr_socket_close(client);
    printf("apr_workers: %d results, sum of squares 1..%d = %lld\n", t.results, JOBS, (long long)t.sum);
    printf("apr_workers: %d workers reaped as their pollfd fired, %d exited nonzero\n", t.reaped, t.exited_nonzero);
    if (t.sum != expected || t.exited_nonzero != 0) {
        fprintf(stderr, "apr_workers: expected the sum %lld and every worker to exit 0\n", (long long)expected);
        goto done;
    }
    printf("summary: %d jobs, %d results, %d workers reaped, %d connection accepted: ok\n", JOBS, t.results,
           t.reaped, t.accepted);
    rc = 0;

done:
    if (st != APR_SUCCESS)
        rc = fail(what, st);
    /* A worker still running is not stopped by the pool (a process is freed
     * as mproc_process_free frees it): stop and reap it first. */
    for (int i = 0; i < WORKERS; i++)
        if (s.workers[i] && !s.reaped[i]) {
            mproc_process_terminate(s.workers[i]);
            mproc_process_join(s.workers[i], -1);
        }
    /* The pollset, the sockets, the queue, the pipe's ends, the lock and the
     * workers' process objects: one call, no mproc_*_free. */
    apr_pool_destroy(s.pool);
    return rc;
}

int main(int argc, char **argv)
{
    int rc = mproc_init(argc, argv); /* first: a spawned worker runs its target in here and exits */
    if (rc != 0) {
        fprintf(stderr, "apr_workers: mproc_init: %s\n", mproc_strerror(rc));
        return 1;
    }
    if (apr_initialize() != APR_SUCCESS)
        return 1;
    rc = run();
    apr_terminate();
    return rc;
}
