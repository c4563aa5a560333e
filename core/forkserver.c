/*
 * The forkserver start method (CPython's popen_forkserver.py/forkserver.py).
 *
 * Client: the first request spawns a copy of the program in server mode,
 * connected by the inherited bootstrap channel (nothing in the file system,
 * nothing another user could connect to).  Each request sends the write end
 * of a fresh "status" pipe, then the child's bootstrap record with its
 * handles; the server writes the child's pid there and, when it ends, its
 * exit code, then closes it.
 *
 * Server: single-threaded and clean (it ran no application code), it forks
 * one child per request and reaps them as they end.  It exits when its
 * parent goes away (end of file on the control channel).
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ---- client ---------------------------------------------------------------- */

/* The global lock guards the pointer; client_mu guards server. */
static mproc__mutex *client_mu;
static mproc__child *server; /* its channel is the control channel */
static int client_locked;    /* tests: whether client_mu is held */

static void forget_server_after_fork(void)
{
    /* The server belongs to the parent: a forked child starts its own.  The
     * lock may have been held by a thread that does not exist here, and the
     * parent's records are left alone (their memory is a copy). */
    client_mu = NULL;
    client_locked = 0;
    if (server) {
        mproc__handle ch = mproc__plat_child_channel(server), s = mproc__plat_child_sentinel(server);
        mproc__plat_close(ch);
        if (s != ch)
            mproc__plat_close(s);
        server = NULL;
    }
}

static mproc__mutex *client_lock(void)
{
    mproc__mutex *m;
    mproc__plat_global_lock();
    if (!client_mu)
        client_mu = mproc__plat_mutex_new();
    m = client_mu;
    mproc__plat_global_unlock();
    if (m) {
        mproc__log_hold();
        mproc__plat_mutex_lock(m);
        client_locked = 1;
    }
    return m;
}

static void client_unlock(mproc__mutex *m)
{
    client_locked = 0;
    mproc__plat_mutex_unlock(m);
    mproc__log_release();
}

int mproc__forkserver_client_locked(void) { return client_locked; }

/* With client_mu held: ends the server and forgets it; the next request
 * starts a new one. */
static void drop_server(void)
{
    int code;
    (void)mproc__plat_child_signal(server, 1);
    (void)mproc__plat_child_wait(server, -1, &code);
    mproc__plat_child_free(server);
    server = NULL;
}

/* With client_mu held: a running server, started or restarted as needed. */
static int ensure_server(void)
{
    mproc__record rec = {MPROC__BOOT_FORKSERVER, "", "forkserver", 0, 0, NULL};
    mproc__encoded enc;
    int rc, code;

    if (server) {
        /* A server that died (killed by someone) is replaced. */
        if (mproc__plat_child_wait(server, 0, &code) == MPROC_ETIMEDOUT)
            return 0;
        mproc__plat_child_free(server);
        server = NULL;
    }
    mproc__on_fork_child(forget_server_after_fork);
    rec.parent_pid = mproc__plat_getpid();
    if ((rc = mproc__record_encode(&enc, &rec)) != 0)
        return rc;
    rc = mproc__spawn_record(&server, &enc);
    mproc__buf_free(&enc.buf);
    return rc;
}

/* A child the server forked: its pid, and the pipe its end is reported on. */
typedef struct {
    long pid;
    mproc__handle status;
    mproc__mutex *mu; /* guards done and code */
    int done, code;
} fs_child;

static void fs_free(void *p)
{
    fs_child *c = p;
    if (!c)
        return;
    mproc__plat_close(c->status);
    mproc__plat_mutex_free(c->mu);
    free(c);
}

int mproc__forkserver_start(void **out, const mproc__encoded *rec)
{
    fs_child *c = calloc(1, sizeof *c);
    mproc__handle status[2] = {MPROC__NO_HANDLE, MPROC__NO_HANDLE};
    mproc__mutex *lock;
    int64_t pid;
    int rc;

    *out = NULL;
    if (!c || !(c->mu = mproc__plat_mutex_new())) {
        free(c);
        return mproc__error(MPROC_ENOMEM);
    }
    c->status = MPROC__NO_HANDLE;
    if ((rc = mproc__plat_pipe(0, status)) != 0) {
        fs_free(c);
        return rc;
    }
    c->status = status[0];
    if (!(lock = client_lock())) {
        mproc__plat_close(status[1]);
        fs_free(c);
        return mproc__error(MPROC_ENOMEM);
    }
    rc = ensure_server();
    if (rc == 0) {
        rc = mproc__plat_send_handles(mproc__plat_child_channel(server), NULL, &status[1], 1);
        if (rc == 0)
            rc = mproc__record_send(mproc__plat_child_channel(server), NULL, rec);
        if (rc != 0)
            drop_server(); /* its stream may hold half a request now */
    }
    client_unlock(lock);
    mproc__plat_close(status[1]);

    /* The pid arrives once the server forked; end of file means it could not. */
    if (rc == 0 && mproc__plat_read_all(c->status, &pid, sizeof pid) != 0)
        rc = mproc__errorf(MPROC_EBROKEN, "the forkserver did not start the child (it died?)");
    if (rc != 0) {
        fs_free(c);
        return rc;
    }
    c->pid = (long)pid;
    *out = c;
    return 0;
}

/* Collects the end of c if it was reported; caller holds c->mu. */
static void fs_collect(fs_child *c, int block)
{
    int32_t code;
    if (c->done || (!block && mproc__plat_readable(c->status, 0) != 1))
        return;
    /* The server writes the code, then closes; end of file alone means the
     * server died, reported as 255 as CPython does. */
    c->code = mproc__plat_read_all(c->status, &code, sizeof code) == 0 ? code : 255;
    c->done = 1;
}

static int fs_wait(void *p, double timeout, int *code)
{
    fs_child *c = p;
    int fired = 0;

    mproc__plat_mutex_lock(c->mu);
    fs_collect(c, 0);
    if (c->done || timeout == 0) {
        *code = c->code;
        fired = c->done;
        mproc__plat_mutex_unlock(c->mu);
        return fired ? 0 : MPROC_ETIMEDOUT;
    }
    mproc__plat_mutex_unlock(c->mu);
    /* Wait outside the lock so other threads may poll or signal meanwhile. */
    if ((fired = mproc__plat_readable(c->status, timeout)) < 0)
        return fired;
    mproc__plat_mutex_lock(c->mu);
    if (fired)
        fs_collect(c, 1);
    fired = c->done;
    *code = c->code;
    mproc__plat_mutex_unlock(c->mu);
    return fired ? 0 : MPROC_ETIMEDOUT;
}

static int fs_signal(void *p, int kill)
{
    fs_child *c = p;
    int rc = 0;
    mproc__plat_mutex_lock(c->mu);
    fs_collect(c, 0);
    /* Signal only a child not yet reported ended: the server has not
     * reaped it, so its pid cannot have been reused. */
    if (!c->done)
        rc = mproc__plat_kill_pid(c->pid, kill);
    mproc__plat_mutex_unlock(c->mu);
    return rc;
}

static mproc__handle fs_sentinel(void *p) { return ((fs_child *)p)->status; }

static long fs_pid(void *p) { return ((fs_child *)p)->pid; }

const mproc__child_ops mproc__fs_ops = {fs_wait, fs_signal, fs_sentinel, fs_pid, fs_free};

/* ---- server ---------------------------------------------------------------- */

typedef struct {
    long pid;
    mproc__handle status;
} running;

/* A request taken off the control channel, for the child to run. */
typedef struct {
    void *data;
    size_t len;
    mproc__handle hs[MPROC__MAX_HANDLES];
    size_t nh;
} request;

static void report_ended(running *table, size_t *count)
{
    long pid;
    int code;
    while (mproc__plat_reap_any(&pid, &code) == 1) {
        for (size_t i = 0; i < *count; i++) {
            if (table[i].pid == pid) {
                int32_t code32 = code;
                (void)mproc__plat_write_all(table[i].status, &code32, sizeof code32);
                mproc__plat_close(table[i].status);
                table[i] = table[--*count];
                break;
            }
        }
    }
}

static void child_main(void *ud)
{
    request *req = ud;
    mproc__record rec;
    /* The child holds nothing of the server's: not the control channel,
     * not other children's status pipes. */
    req->nh = mproc__plat_keep_only(req->hs, req->nh);
    if (mproc__record_decode(req->data, req->len, req->hs, req->nh, &rec) != 0)
        mproc__plat_exit_now(255);
    mproc__run_record(&rec, 0);
}

/* Takes one request and forks its child; 0, or a code that ends the server. */
static int serve_one(mproc__handle ctl, running **table, size_t *count, size_t *cap)
{
    request req;
    mproc__handle status;
    size_t n = 0;
    long pid;
    int rc = mproc__plat_recv_handles(ctl, &status, 1, &n);

    if (rc == 0 && n != 1)
        rc = MPROC_EBROKEN; /* a request always begins with its status pipe */
    if (rc != 0)
        return rc;
    if ((rc = mproc__record_recv(ctl, &req.data, &req.len, req.hs, &req.nh)) != 0) {
        mproc__plat_close(status);
        return rc == MPROC_ECLOSED ? MPROC_EBROKEN : rc;
    }
    if (*count == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        running *t = realloc(*table, ncap * sizeof *t);
        if (t) {
            *table = t;
            *cap = ncap;
        }
    }
    rc = *count < *cap ? mproc__plat_fork_detached(&pid, child_main, &req) : MPROC_ENOMEM;
    free(req.data);
    mproc__close_handles(req.hs, req.nh); /* the child has them now */
    if (rc != 0) {
        mproc__plat_close(status); /* the client reads end of file: not started */
        return 0;
    }
    {
        int64_t pid64 = pid;
        (void)mproc__plat_write_all(status, &pid64, sizeof pid64);
    }
    (*table)[*count].pid = pid;
    (*table)[*count].status = status;
    (*count)++;
    return 0;
}

void mproc__forkserver_serve(mproc__handle ctl)
{
    running *table = NULL;
    size_t count = 0, cap = 0;
    mproc__handle hs[2];

    /* Ctrl-C goes to the whole process group: the server outlives it so the
     * parent can still collect its children, as CPython's does. */
    mproc__plat_ignore_interrupt(1);
    hs[0] = ctl;
    hs[1] = mproc__plat_child_events();
    if (hs[1] == MPROC__NO_HANDLE)
        mproc__plat_exit_now(1);
    for (;;) {
        int ready[2] = {0, 0}, rc = mproc__plat_wait_handles(hs, 2, -1, ready);
        if (rc < 0)
            mproc__plat_exit_now(1);
        if (ready[1])
            report_ended(table, &count);
        if (!ready[0])
            continue;
        rc = serve_one(ctl, &table, &count, &cap);
        if (rc == MPROC_ECLOSED)
            mproc__plat_exit_now(0); /* the parent is gone */
        if (rc != 0)
            mproc__plat_exit_now(1); /* the stream lost its framing: nothing safe to do */
    }
}
