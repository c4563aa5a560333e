/*
 * The forkserver start method (CPython's popen_forkserver.py/forkserver.py).
 *
 * Client: the first request spawns a copy of the program in server mode,
 * connected by the inherited bootstrap channel (nothing in the file system,
 * nothing another user could connect to).  Each request sends the write
 * ends of two fresh pipes, then the child's bootstrap record with its
 * handles:
 *   - "status", written by the server: the child's exit code once the
 *     server reaped it, then closed (or, when the fork failed, the error);
 *   - "life", written by the child itself: its pid first, then held open
 *     until it ends.  End of file there means the child no longer runs,
 *     whoever reaps it, so its pid cannot have been reused before that.
 *
 * When the server dies (killed by someone), the status of its children dies
 * with it.  They are ended too, never reported ended while they run: the
 * client kills each as soon as it looks at it (join, is_alive, exitcode,
 * terminate, kill) and sees the end of file on its status pipe, and
 * reports it as killed by SIGKILL (-9) once its life pipe hits end of
 * file; the log hook is told why.  The next request starts a new server.
 *
 * Server: single-threaded and clean (it ran no application code), it forks
 * one child per request and reaps them as they end.  When its control
 * channel ends it takes no more requests.  If the parent retired it, it
 * stays until its last child ended and was reported, so that ending the
 * server never ends the children.  If the parent died, nobody is left to
 * report to: it leaves within a fraction of a second (CPython's forkserver
 * does the same), and its children live on unless they asked to die with
 * that parent (daemons do: they watch the parent itself, not the server).
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Exit code reported for a child whose server died: the client killed it
 * when it saw the server gone. */
#define KILLED_WITH_SERVER (-9)
/* How often a server without a control channel looks whether its parent
 * died (seconds). */
#define PARENT_CHECK 0.1

/* ---- client ---------------------------------------------------------------- */

/* The global lock guards the pointer; client_mu guards the rest. */
static mproc__mutex *client_mu;
static mproc__child *server;     /* its channel is the control channel */
static unsigned long server_gen; /* counts servers started: names the current one */
static mproc__child **retired;   /* servers told to stop, not yet reaped */
static size_t n_retired, cap_retired;
static int client_locked;        /* tests: whether client_mu is held */

static void close_server_handles(mproc__child *s)
{
    mproc__handle ch = mproc__plat_child_channel(s), sn = mproc__plat_child_sentinel(s);
    mproc__plat_close(ch);
    if (sn != ch)
        mproc__plat_close(sn);
}

static void forget_server_after_fork(void)
{
    /* The servers belong to the parent: a forked child starts its own.  The
     * lock may have been held by a thread that does not exist here, and the
     * parent's records are left alone (their memory is a copy). */
    client_mu = NULL;
    client_locked = 0;
    if (server)
        close_server_handles(server);
    for (size_t i = 0; i < n_retired; i++)
        close_server_handles(retired[i]);
    server = NULL;
    retired = NULL;
    n_retired = cap_retired = 0;
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

long mproc__forkserver_pid(void)
{
    mproc__mutex *m = client_lock();
    long pid = 0;
    if (!m)
        return 0;
    if (server)
        pid = mproc__plat_child_pid(server);
    client_unlock(m);
    return pid;
}

/* With client_mu held: reaps the retired servers that have exited. */
static void reap_retired(void)
{
    int code;
    for (size_t i = 0; i < n_retired;) {
        if (mproc__plat_child_wait(retired[i], 0, &code) == 0) {
            mproc__plat_child_free(retired[i]);
            retired[i] = retired[--n_retired];
        } else {
            i++;
        }
    }
}

/* With client_mu held: sends the current server no more requests; the
 * next one starts a new server.  Its control channel is closed, never the
 * server killed: a live one then finishes with the children it runs (their
 * codes still reach their status pipes) and exits, and is reaped later by
 * reap_retired; a dead one is reaped now. */
static void retire_server(void)
{
    int code;
    if (!server)
        return;
    mproc__plat_child_close_channel(server);
    if (mproc__plat_child_wait(server, 0, &code) != 0) {
        if (n_retired == cap_retired) {
            size_t ncap = cap_retired ? cap_retired * 2 : 4;
            mproc__child **r = realloc(retired, ncap * sizeof *r);
            if (r) {
                retired = r;
                cap_retired = ncap;
            }
        }
        if (n_retired < cap_retired) {
            retired[n_retired++] = server;
            server = NULL;
            return;
        }
        /* Out of memory: it is left to end unreaped (a zombie until this
         * process exits) rather than waited for, which could take as long
         * as its children run. */
    }
    mproc__plat_child_free(server);
    server = NULL;
}

/* With client_mu held: a running server, started or restarted as needed. */
static int ensure_server(void)
{
    mproc__record rec = {MPROC__BOOT_FORKSERVER, "", "forkserver", 0, 0, NULL, 0, MPROC__NO_HANDLE, NULL};
    mproc__encoded enc;
    int rc, code;

    reap_retired();
    if (server) {
        /* A server that died (killed by someone) is replaced.  One still
         * dying looks alive here: the request to it fails, and the caller
         * asks again (mproc__forkserver_start). */
        if (mproc__plat_child_wait(server, 0, &code) == MPROC_ETIMEDOUT)
            return 0;
        mproc__log(MPROC_LOG_WARNING, "the forkserver (pid %ld) died (exit code %d): starting a new one",
                   mproc__plat_child_pid(server), code);
        mproc__plat_child_free(server);
        server = NULL;
    }
    mproc__on_fork_child(forget_server_after_fork);
    rec.parent_pid = mproc__plat_getpid();
    if ((rc = mproc__record_encode(&enc, &rec)) != 0)
        return rc;
    rc = mproc__spawn_record(&server, &enc);
    mproc__buf_free(&enc.buf);
    server_gen++;
    return rc;
}

/* A child the server forked: its pid, and the pipes its end is known by. */
typedef struct {
    long pid;
    mproc__handle status; /* from the server: the exit code, then end of file */
    mproc__handle life;   /* from the child: end of file once it no longer runs */
    mproc__mutex *mu;     /* guards the fields below */
    int done, code;
    int orphaned; /* the server died before reporting the end: the child is killed */
} fs_child;

static void fs_free(void *p)
{
    fs_child *c = p;
    if (!c)
        return;
    mproc__plat_close(c->status);
    mproc__plat_close(c->life);
    mproc__plat_mutex_free(c->mu);
    free(c);
}

static void close_pair(mproc__handle h[2])
{
    mproc__plat_close(h[0]);
    mproc__plat_close(h[1]);
    h[0] = h[1] = MPROC__NO_HANDLE;
}

/* One request to the current server (started first if need be): 0 with
 * c's pid and pipes set, or the error, with *retry set when a new server
 * may succeed where this one failed (it died, or could not fork). */
static int request(fs_child *c, const mproc__encoded *rec, int *retry)
{
    mproc__handle status[2] = {MPROC__NO_HANDLE, MPROC__NO_HANDLE}, life[2] = {MPROC__NO_HANDLE, MPROC__NO_HANDLE};
    mproc__mutex *lock;
    unsigned long gen = 0;
    int32_t report[2];
    int64_t pid = 0;
    int rc, got_pid;

    *retry = 0;
    if ((rc = mproc__plat_pipe(0, status)) != 0 || (rc = mproc__plat_pipe(0, life)) != 0)
        goto done;
    if (!(lock = client_lock())) {
        rc = mproc__error(MPROC_ENOMEM);
        goto done;
    }
    rc = ensure_server();
    if (rc == 0) {
        mproc__handle ends[2];
        ends[0] = status[1];
        ends[1] = life[1];
        gen = server_gen;
        rc = mproc__plat_send_handles(mproc__plat_child_channel(server), NULL, ends, 2);
        if (rc == 0)
            rc = mproc__record_send(mproc__plat_child_channel(server), NULL, rec);
        if (rc != 0) {
            /* Its stream may hold half a request now: it can serve no more. */
            retire_server();
            if (rc == MPROC_ECLOSED) {
                rc = mproc__errorf(MPROC_EBROKEN, "the forkserver died (its control channel closed)");
                *retry = 1;
            }
        }
    }
    client_unlock(lock);
    /* From now on only the server and the child it forks hold the write
     * ends: end of file on life means no child runs. */
    mproc__plat_close(status[1]);
    mproc__plat_close(life[1]);
    status[1] = life[1] = MPROC__NO_HANDLE;
    if (rc != 0)
        goto done;

    /* The child writes its pid once it has its record, so the pid arrives
     * even when the server dies right after the fork; -1 and a report
     * when it cannot run (it exits, and the server reaps it). */
    got_pid = mproc__plat_read_all(life[0], &pid, sizeof pid) == 0;
    if (got_pid && pid < 0) {
        int32_t why[2];
        if (mproc__plat_read_all(life[0], why, sizeof why) == 0)
            rc = mproc__child_failed(why[0] < 0 ? why[0] : MPROC_EBROKEN, why[1], rec);
        else
            rc = mproc__errorf(MPROC_EBROKEN, "the forkserver's child ended before it reported");
        goto done;
    }
    if (got_pid) {
        c->pid = (long)pid;
        c->status = status[0];
        c->life = life[0];
        return 0;
    }
    /* No child: the server says why it could not fork, or it died. */
    if (mproc__plat_read_all(status[0], report, sizeof report) == 0) {
        rc = report[0] == MPROC_ESYS ? mproc__sys_error(report[1]) : mproc__error(report[0] < 0 ? report[0] : MPROC_EBROKEN);
        /* Its limits may be stale (RLIMIT_NPROC is inherited when the server
         * is spawned): a new server has this process's limits of now. */
        mproc__log(MPROC_LOG_WARNING, "the forkserver could not fork a child (%s, OS error %d): starting a new one",
                   mproc_strerror(report[0]), (int)report[1]);
    } else {
        rc = mproc__errorf(MPROC_EBROKEN, "the forkserver died before it started the child");
    }
    if ((lock = client_lock()) != NULL) {
        if (server && server_gen == gen)
            retire_server();
        client_unlock(lock);
    }
    *retry = 1;
done:
    close_pair(status);
    close_pair(life);
    return rc;
}

int mproc__forkserver_start(void **out, const mproc__encoded *rec)
{
    fs_child *c = calloc(1, sizeof *c);
    int rc = 0, retry = 1;

    *out = NULL;
    if (!c || !(c->mu = mproc__plat_mutex_new())) {
        free(c);
        return mproc__error(MPROC_ENOMEM);
    }
    c->status = c->life = MPROC__NO_HANDLE;
    /* A server that died or could not fork is replaced once: the second
     * attempt runs on a new server, and its failure is the answer. */
    for (int attempt = 0; attempt < 2 && retry; attempt++)
        rc = request(c, rec, &retry);
    if (rc != 0) {
        fs_free(c);
        return mproc__raise(rc);
    }
    *out = c;
    return 0;
}

/* The server died before it reported c's end, and c's status died with it.
 * c is ended (where the kernel did not kill it with the server already)
 * and reported as killed by SIGKILL once it no longer runs.  Caller holds
 * c->mu (and the log). */
static void orphan(fs_child *c)
{
    c->orphaned = 1;
    /* Its life pipe is open, so it has not ended and its pid is its own. */
    if (mproc__plat_readable(c->life, 0) != 1)
        (void)mproc__plat_kill_pid(c->pid, 1);
    mproc__log(MPROC_LOG_WARNING,
               "the forkserver died before its child %ld ended: the child is killed with it (exit code %d)", c->pid,
               KILLED_WITH_SERVER);
}

/* Collects the end of c if it is known by now; caller holds c->mu (and the
 * log). */
static void fs_collect(fs_child *c)
{
    int32_t code;
    if (c->done)
        return;
    if (!c->orphaned && mproc__plat_readable(c->status, 0) == 1) {
        /* The server writes the code, then closes: end of file alone means
         * the server died. */
        if (mproc__plat_read_all(c->status, &code, sizeof code) == 0) {
            c->code = code;
            c->done = 1;
            return;
        }
        orphan(c);
    }
    if (c->orphaned && mproc__plat_readable(c->life, 0) == 1) {
        c->code = KILLED_WITH_SERVER;
        c->done = 1;
    }
}

static int fs_wait(void *p, double timeout, int *code)
{
    fs_child *c = p;
    double deadline = mproc__plat_now() + timeout;

    for (;;) {
        mproc__handle h;
        double left = timeout;
        int done, ready;

        mproc__log_hold();
        mproc__plat_mutex_lock(c->mu);
        fs_collect(c);
        done = c->done;
        if (done)
            *code = c->code;
        /* The server reports the end; once it died, the child's pipe does. */
        h = c->orphaned ? c->life : c->status;
        mproc__plat_mutex_unlock(c->mu);
        mproc__log_release();
        if (done)
            return 0;
        /* Its life pipe at end of file: the child has ended and its server
         * reports it now, so even a wait of 0 (a caller its sentinel woke)
         * waits for that report. */
        if (timeout == 0 && mproc__plat_readable(c->life, 0) == 1)
            left = timeout = -1;
        if (timeout == 0)
            return MPROC_ETIMEDOUT;
        if (timeout > 0 && (left = deadline - mproc__plat_now()) <= 0)
            return MPROC_ETIMEDOUT;
        /* Wait outside the lock so other threads may poll or signal meanwhile. */
        if ((ready = mproc__plat_readable(h, left)) < 0)
            return ready;
        if (ready == 0)
            return MPROC_ETIMEDOUT;
    }
}

static int fs_signal(void *p, int kill)
{
    fs_child *c = p;
    int rc = 0;
    mproc__log_hold();
    mproc__plat_mutex_lock(c->mu);
    fs_collect(c);
    /* Signal only a child whose life pipe is still open: it has not ended,
     * so no one has reaped it and its pid cannot have been reused. */
    if (!c->done && mproc__plat_readable(c->life, 0) != 1)
        rc = mproc__plat_kill_pid(c->pid, kill);
    mproc__plat_mutex_unlock(c->mu);
    mproc__log_release();
    return rc;
}

/* Ready once the child no longer runs, whether or not its server lives. */
static mproc__handle fs_sentinel(void *p) { return ((fs_child *)p)->life; }

static long fs_pid(void *p) { return ((fs_child *)p)->pid; }

const mproc__child_ops mproc__fs_ops = {fs_wait, fs_signal, fs_sentinel, fs_pid, fs_free};

/* ---- server ---------------------------------------------------------------- */

typedef struct {
    long pid;
    mproc__handle status;
} running;

/* A request taken off the control channel, for the child to run. */
typedef struct {
    mproc__handle status, life;
    void *data;
    size_t len;
    mproc__handle hs[MPROC__MAX_HANDLES + 1]; /* + room for the life pipe in keep_only */
    size_t nh;
} request_in;

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

/* In a forkserver child: its life pipe, which its own forks must not keep
 * (the client takes its end of file to mean that this child ended). */
static mproc__handle own_life = MPROC__NO_HANDLE;

static void close_life_after_fork(void)
{
    mproc__plat_close(own_life);
    own_life = MPROC__NO_HANDLE;
}

static void child_main(void *ud)
{
    request_in *req = ud;
    mproc__record rec;
    int64_t pid = mproc__plat_getpid();
    int rc, stage = MPROC__FAIL_RECORD;

    /* The child holds nothing of the server's: not the control channel,
     * not other children's status pipes, not its own (whose end of file
     * must mean the server is gone).  It keeps its life pipe. */
    req->hs[req->nh] = req->life;
    (void)mproc__plat_keep_only(req->hs, req->nh + 1);
    own_life = req->hs[req->nh];
    mproc__on_fork_child(close_life_after_fork);
    /* The client learns the pid (even if the server dies now), or, in its
     * place, why this child cannot run: pid -1, then the code and stage. */
    if ((rc = mproc__record_decode(req->data, req->len, req->hs, req->nh, &rec)) != 0 ||
        (rc = mproc__record_prepare(&rec, &stage)) != 0) {
        unsigned char report[sizeof(int64_t) + 2 * sizeof(int32_t)];
        int64_t none = -1;
        int32_t why[2];
        why[0] = rc;
        why[1] = stage;
        memcpy(report, &none, sizeof none);
        memcpy(report + sizeof none, why, sizeof why);
        (void)mproc__plat_write_all(own_life, report, sizeof report);
        mproc__plat_exit_now(255);
    }
    if (mproc__plat_write_all(own_life, &pid, sizeof pid) != 0)
        mproc__plat_exit_now(255);
    mproc__run_record(&rec, 0);
}

/* Takes one request and forks its child; 0, or a code after which the
 * control channel is unusable (MPROC_ECLOSED: the client closed it). */
static int serve_one(mproc__handle ctl, running **table, size_t *count, size_t *cap)
{
    request_in req;
    mproc__handle pipes[2] = {MPROC__NO_HANDLE, MPROC__NO_HANDLE};
    size_t n = 0;
    long pid;
    int rc = mproc__plat_recv_handles(ctl, pipes, 2, &n);

    if (rc == 0 && n != 2) {
        mproc__close_handles(pipes, n < 2 ? n : 2);
        rc = MPROC_EBROKEN; /* a request always begins with its two pipes */
    }
    if (rc != 0)
        return rc;
    req.status = pipes[0];
    req.life = pipes[1];
    if ((rc = mproc__record_recv(ctl, &req.data, &req.len, req.hs, &req.nh)) != 0) {
        mproc__close_handles(pipes, 2);
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
    /* The life pipe is the child's alone: its end of file must not wait for
     * the server. */
    mproc__plat_close(req.life);
    if (rc != 0) {
        /* No child: the client reads end of file on life, then this. */
        int32_t report[2];
        report[0] = rc;
        report[1] = rc == MPROC_ESYS ? (int32_t)mproc_last_os_error() : 0;
        (void)mproc__plat_write_all(req.status, report, sizeof report);
        mproc__plat_close(req.status);
        return 0;
    }
    (*table)[*count].pid = pid;
    (*table)[*count].status = req.status;
    (*count)++;
    return 0;
}

void mproc__forkserver_serve(mproc__handle ctl)
{
    running *table = NULL;
    size_t count = 0, cap = 0;
    mproc__handle hs[2];
    int last = 0;
    long parent = mproc__plat_getppid();

    /* Ctrl-C goes to the whole process group: the server outlives it so the
     * parent can still collect its children, as CPython's does. */
    mproc__plat_ignore_interrupt(1);
    hs[0] = mproc__plat_child_events();
    hs[1] = ctl;
    if (hs[0] == MPROC__NO_HANDLE)
        mproc__plat_exit_now(1);
    for (;;) {
        int ready[2] = {0, 0};
        /* Without a control channel, look every PARENT_CHECK whether the
         * parent died: it may have closed the channel while dying, before
         * this process was given to a new parent. */
        int rc = mproc__plat_wait_handles(hs, ctl != MPROC__NO_HANDLE ? 2 : 1, ctl != MPROC__NO_HANDLE ? -1 : PARENT_CHECK,
                                          ready);
        if (rc < 0)
            mproc__plat_exit_now(1);
        if (ready[0])
            report_ended(table, &count);
        if (ctl != MPROC__NO_HANDLE && ready[1] && (rc = serve_one(ctl, &table, &count, &cap)) != 0) {
            /* The parent went away or retired this server (end of file), or
             * the stream lost its framing: take no more requests, but stay
             * until the last child ended and was reported (leaving would
             * lose their status), unless the parent died. */
            mproc__plat_close(ctl);
            ctl = MPROC__NO_HANDLE;
            last = rc == MPROC_ECLOSED ? 0 : 1;
        }
        if (ctl == MPROC__NO_HANDLE && (count == 0 || mproc__plat_getppid() != parent))
            mproc__plat_exit_now(last);
    }
}
