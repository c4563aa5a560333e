/*
 * Every public call checks the type of each object it is given (issue 11):
 * an object of another type, or NULL where NULL means nothing, gives
 * MPROC_EINVAL (NULL + MPROC_EINVAL from a call returning a pointer, 0 +
 * MPROC_EINVAL from one returning a count, a pid or a method) instead of a
 * crash, and the free and close calls ignore it.  Also for the types that
 * are easy to mix up: mproc_wait's void * list, mproc_args_add_*, a task's
 * mproc_out.  No process is started: the pool is the thread context's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "testutil.h"

/* One live object of each type (two kinds of queue and of lock: the
 * thread context makes its own). */
enum {
    K_CTX,
    K_ARGS,
    K_PROCESS,
    K_QUEUE,
    K_LQUEUE,
    K_CONN,
    K_SHM,
    K_LOCK,
    K_LLOCK,
    K_SEM,
    K_EVENT,
    K_COND,
    K_BARRIER,
    K_POOL,
    K_RESULT,
    K_COUNT
};
static const char *const kind_names[K_COUNT] = {"context", "args",  "process", "queue",   "thread queue",
                                                "conn",    "shm",   "lock",    "thread lock", "semaphore",
                                                "event",   "cond",  "barrier", "pool",    "result"};

#define B(k) (1u << (k))
#define QUEUES (B(K_QUEUE) | B(K_LQUEUE))
#define LOCKS (B(K_LOCK) | B(K_LLOCK))
#define OUT B(K_COUNT) /* a task's mproc_out: exists only inside the task */
/* Every object a caller frees (mproc_object_*): not a context, not an out. */
#define OBJECTS ((B(K_COUNT) - 1) & ~B(K_CTX))

#define SHM_SIZE 64

static void *obj[K_COUNT];
static mproc_conn *peer; /* the other end of obj[K_CONN] */

static int nop_target(mproc_args *a)
{
    (void)a;
    return 0;
}

static int echo(const void *in, size_t len, mproc_out *out) { return mproc_out_write(out, in, len); }
MPROC_TASK(echo);

static void make_objects(void)
{
    mproc_ctx *threads = mproc_get_context(MPROC_THREAD);
    mproc_conn *conn = NULL;
    obj[K_CTX] = threads;
    obj[K_ARGS] = mproc_args_new();
    obj[K_PROCESS] = mproc_process_new(threads, nop_target, NULL);
    obj[K_QUEUE] = mproc_queue_new(NULL, 0);
    obj[K_LQUEUE] = mproc_queue_new(threads, 0);
    CU_ASSERT_EQUAL_FATAL(mproc_pipe(NULL, 1, &conn, &peer), 0);
    obj[K_CONN] = conn;
    obj[K_SHM] = mproc_shm_new(NULL, SHM_SIZE);
    obj[K_LOCK] = mproc_lock_new(NULL);
    obj[K_LLOCK] = mproc_lock_new(threads);
    obj[K_SEM] = mproc_sem_new(NULL, 1);
    obj[K_EVENT] = mproc_event_new(NULL);
    obj[K_COND] = mproc_cond_new(NULL, NULL);
    obj[K_BARRIER] = mproc_barrier_new(NULL, 2);
    obj[K_POOL] = mproc_pool_new(threads, 1, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(obj[K_POOL]);
    obj[K_RESULT] = mproc_pool_apply_async(obj[K_POOL], echo, "x", 1);
    for (int k = 0; k < K_COUNT; k++)
        CU_ASSERT_PTR_NOT_NULL_FATAL(obj[k]);
    CU_ASSERT_EQUAL_FATAL(mproc_result_wait(obj[K_RESULT], -1), 0);
}

static void free_objects(void)
{
    mproc_result_free(obj[K_RESULT]);
    mproc_pool_free(obj[K_POOL]);
    mproc_barrier_free(obj[K_BARRIER]);
    mproc_cond_free(obj[K_COND]);
    mproc_event_free(obj[K_EVENT]);
    mproc_sem_free(obj[K_SEM]);
    mproc_lock_free(obj[K_LLOCK]);
    mproc_lock_free(obj[K_LOCK]);
    mproc_shm_free(obj[K_SHM]);
    mproc_conn_close(peer);
    mproc_conn_close(obj[K_CONN]);
    mproc_queue_free(obj[K_LQUEUE]);
    mproc_queue_free(obj[K_QUEUE]);
    mproc_process_free(obj[K_PROCESS]);
    mproc_args_free(obj[K_ARGS]);
    memset(obj, 0, sizeof obj);
}

/* Whether the object of kind k still works as one (a call that fails with
 * MPROC_EINVAL on anything else, and changes nothing that matters). */
static int still_works(int k)
{
    void *o = obj[k];
    size_t n = 0;
    switch (k) {
    case K_CTX: return mproc_ctx_method(o) == MPROC_THREAD;
    case K_ARGS: return mproc_args_add_i64(o, 1) == 0;
    case K_PROCESS: return mproc_process_set_daemon(o, 0) == 0;
    case K_QUEUE:
    case K_LQUEUE: return mproc_queue_qsize(o, &n) == 0 && n == 0;
    case K_CONN: return mproc_conn_poll(o, 0) == 0;
    case K_SHM: return mproc_shm_size(o) == SHM_SIZE;
    case K_LOCK:
    case K_LLOCK: return mproc_lock_acquire(o, 0) == 0 && mproc_lock_release(o) == 0;
    case K_SEM: return mproc_sem_acquire(o, 0) == 0 && mproc_sem_release(o) == 0;
    case K_EVENT: return mproc_event_is_set(o) == 0;
    case K_COND: return mproc_cond_lock(o) != NULL;
    case K_BARRIER: return mproc_barrier_reset(o) == 0;
    case K_POOL: return mproc_pool_join(o, 0) == MPROC_ESTATE; /* running: join needs close first */
    case K_RESULT: return mproc_result_ready(o) == 1;
    default: return 0;
    }
}

/* ---- every call that takes an object, one argument at a time ------------ */

/* What a call gave, as an int: its code; for a call returning a pointer,
 * the last error when it returned NULL, else 1 (what it made is freed);
 * for a call returning a number, the last error when it returned 0, else 1.
 * The last error is cleared before each call. */
static int made(void *p, void (*release)(void *))
{
    if (!p)
        return mproc_last_error();
    if (release)
        release(p);
    return 1;
}
static int got(const void *p) { return p ? 1 : mproc_last_error(); }
static int zero(int is_zero) { return is_zero ? mproc_last_error() : 1; }

static void free_process(void *p) { mproc_process_free(p); }
static void free_queue(void *p) { mproc_queue_free(p); }
static void free_shm(void *p) { mproc_shm_free(p); }
static void free_lock(void *p) { mproc_lock_free(p); }
static void free_sem(void *p) { mproc_sem_free(p); }
static void free_event(void *p) { mproc_event_free(p); }
static void free_cond(void *p) { mproc_cond_free(p); }
static void free_barrier(void *p) { mproc_barrier_free(p); }
static void free_pool(void *p) { mproc_pool_free(p); }
static void free_result(void *p) { mproc_result_free(p); }

static int next_nothing(void *ud, const void **data, size_t *len)
{
    (void)ud;
    (void)data;
    (void)len;
    return 0;
}

static void on_result(void *ud, size_t index, const mproc_task_status *st, const void *data, size_t len)
{
    (void)ud;
    (void)index;
    (void)st;
    (void)data;
    (void)len;
}

#define A_ARGS ((mproc_args *)obj[K_ARGS])
#define A_CTX ((mproc_ctx *)obj[K_CTX])

static void *taken_ptr;
static size_t taken_len;

/* C(name, expression using o): a call with o in the argument named. */
#define C(fn, expr)                                                                                                    \
    static int fn(void *o) { return (expr); }

C(c_ctx_method, zero(mproc_ctx_method(o) == 0))
C(c_process_new_ctx, made(mproc_process_new(o, nop_target, NULL), free_process))
C(c_queue_new_ctx, made(mproc_queue_new(o, 0), free_queue))
C(c_joinable_queue_new_ctx, made(mproc_joinable_queue_new(o, 0), free_queue))
C(c_simple_queue_new_ctx, made(mproc_simple_queue_new(o), free_queue))
C(c_shm_new_ctx, made(mproc_shm_new(o, 8), free_shm))
C(c_lock_new_ctx, made(mproc_lock_new(o), free_lock))
C(c_rlock_new_ctx, made(mproc_rlock_new(o), free_lock))
C(c_sem_new_ctx, made(mproc_sem_new(o, 1), free_sem))
C(c_bounded_sem_new_ctx, made(mproc_bounded_sem_new(o, 1), free_sem))
C(c_event_new_ctx, made(mproc_event_new(o), free_event))
C(c_cond_new_ctx, made(mproc_cond_new(o, NULL), free_cond))
C(c_barrier_new_ctx, made(mproc_barrier_new(o, 1), free_barrier))
C(c_pool_new_ctx, made(mproc_pool_new(o, 1, NULL), free_pool))

static int c_pipe_ctx(void *o)
{
    mproc_conn *a = NULL, *b = NULL;
    int rc = mproc_pipe(o, 1, &a, &b);
    mproc_conn_close(a);
    mproc_conn_close(b);
    return rc;
}

static int c_pool_new_initargs(void *o)
{
    mproc_pool_opts opts;
    memset(&opts, 0, sizeof opts);
    opts.initargs = o;
    return made(mproc_pool_new(A_CTX, 1, &opts), free_pool);
}

C(c_args_add_i64, mproc_args_add_i64(o, 1))
C(c_args_add_f64, mproc_args_add_f64(o, 1.0))
C(c_args_add_str, mproc_args_add_str(o, "s"))
C(c_args_add_bytes, mproc_args_add_bytes(o, "b", 1))
C(c_args_add_queue_args, mproc_args_add_queue(o, obj[K_QUEUE]))
C(c_args_add_conn_args, mproc_args_add_conn(o, obj[K_CONN]))
C(c_args_add_shm_args, mproc_args_add_shm(o, obj[K_SHM]))
C(c_args_add_lock_args, mproc_args_add_lock(o, obj[K_LOCK]))
C(c_args_add_sem_args, mproc_args_add_sem(o, obj[K_SEM]))
C(c_args_add_event_args, mproc_args_add_event(o, obj[K_EVENT]))
C(c_args_add_cond_args, mproc_args_add_cond(o, obj[K_COND]))
C(c_args_add_barrier_args, mproc_args_add_barrier(o, obj[K_BARRIER]))
C(c_args_add_queue, mproc_args_add_queue(A_ARGS, o))
C(c_args_add_conn, mproc_args_add_conn(A_ARGS, o))
C(c_args_add_shm, mproc_args_add_shm(A_ARGS, o))
C(c_args_add_lock, mproc_args_add_lock(A_ARGS, o))
C(c_args_add_sem, mproc_args_add_sem(A_ARGS, o))
C(c_args_add_event, mproc_args_add_event(A_ARGS, o))
C(c_args_add_cond, mproc_args_add_cond(A_ARGS, o))
C(c_args_add_barrier, mproc_args_add_barrier(A_ARGS, o))
C(c_args_count, zero(mproc_args_count(o) == 0))
C(c_args_i64, zero(mproc_args_i64(o, 0) == 0))
C(c_args_f64, zero(mproc_args_f64(o, 0) == 0.0))
C(c_args_str, got(mproc_args_str(o, 0)))
C(c_args_bytes, got(mproc_args_bytes(o, 0, NULL)))
C(c_args_shm, got(mproc_args_shm(o, 0)))
C(c_args_conn, got(mproc_args_conn(o, 0)))
C(c_args_queue, got(mproc_args_queue(o, 0)))
C(c_args_lock, got(mproc_args_lock(o, 0)))
C(c_args_sem, got(mproc_args_sem(o, 0)))
C(c_args_event, got(mproc_args_event(o, 0)))
C(c_args_cond, got(mproc_args_cond(o, 0)))
C(c_args_barrier, got(mproc_args_barrier(o, 0)))
C(c_process_new_args, made(mproc_process_new(A_CTX, nop_target, o), free_process))

C(c_process_set_name, mproc_process_set_name(o, "n"))
C(c_process_name, got(mproc_process_name(o)))
C(c_process_set_daemon, mproc_process_set_daemon(o, 0))
C(c_process_set_die_with_parent, mproc_process_set_die_with_parent(o, 0))
C(c_process_setenv, mproc_process_setenv(o, "MPROC_TYPES_VAR", "1"))
C(c_process_set_cwd, mproc_process_set_cwd(o, "."))
C(c_process_set_stdio_file, mproc_process_set_stdio_file(o, MPROC_STDOUT, "types.out", 0))
C(c_process_set_stdio_null, mproc_process_set_stdio_null(o, MPROC_STDERR))
C(c_process_set_stdio_conn, mproc_process_set_stdio_conn(o, MPROC_STDOUT, obj[K_CONN]))
C(c_process_set_stdio_conn_conn, mproc_process_set_stdio_conn(obj[K_PROCESS], MPROC_STDOUT, o))
C(c_process_start, mproc_process_start(o))
C(c_process_join, mproc_process_join(o, 0))
C(c_process_is_alive, mproc_process_is_alive(o))
C(c_process_exitcode, mproc_process_exitcode(o, &(int){0}))
C(c_process_terminate, mproc_process_terminate(o))
C(c_process_kill, mproc_process_kill(o))
C(c_process_pid, zero(mproc_process_pid(o) == 0))
C(c_process_sentinel, mproc_process_sentinel(o, &(intptr_t){0}))

static int c_wait(void *o)
{
    void *list[1];
    list[0] = o;
    return mproc_wait(list, 1, 0, NULL);
}

/* mproc_object_type never fails: MPROC_TYPE_NONE is how it refuses. */
static int c_object_type(void *o) { return mproc_object_type(o) == MPROC_TYPE_NONE ? MPROC_EINVAL : 1; }

static void hook_never_run(void *object, void *arg)
{
    (void)object;
    (void)arg;
}

/* A hook set is removed at once: the object must free as it was. */
static int c_object_on_free(void *o)
{
    int rc = mproc_object_on_free(o, hook_never_run, NULL);
    if (rc == 0)
        (void)mproc_object_on_free(o, NULL, NULL);
    return rc;
}

C(c_object_fd, mproc_object_fd(o, &(intptr_t){0}))

C(c_queue_put, mproc_queue_put(o, "x", 1, 0))
C(c_queue_get, mproc_queue_get(o, &taken_ptr, &taken_len, 0))
C(c_queue_put_nowait, mproc_queue_put_nowait(o, "x", 1))
C(c_queue_get_nowait, mproc_queue_get_nowait(o, &taken_ptr, &taken_len))
C(c_queue_qsize, mproc_queue_qsize(o, &taken_len))
C(c_queue_empty, mproc_queue_empty(o))
C(c_queue_full, mproc_queue_full(o))
C(c_queue_set_max_message, mproc_queue_set_max_message(o, 1024))
C(c_queue_task_done, mproc_queue_task_done(o))
C(c_queue_join, mproc_queue_join(o))
C(c_queue_join_timeout, mproc_queue_join_timeout(o, 0))
C(c_queue_join_thread, mproc_queue_join_thread(o))

C(c_conn_send, mproc_conn_send(o, "x", 1))
C(c_conn_recv, mproc_conn_recv(o, &taken_ptr, &taken_len, 0))
C(c_conn_poll, mproc_conn_poll(o, 0))
C(c_conn_read_raw, mproc_conn_read_raw(o, &(char){0}, 1, &taken_len, 0))
C(c_conn_set_max_message, mproc_conn_set_max_message(o, 1024))

C(c_shm_ptr, got(mproc_shm_ptr(o)))
C(c_shm_size, zero(mproc_shm_size(o) == 0))

C(c_lock_acquire, mproc_lock_acquire(o, 0))
C(c_lock_release, mproc_lock_release(o))
C(c_cond_new_lock, made(mproc_cond_new(NULL, o), free_cond))
C(c_sem_acquire, mproc_sem_acquire(o, 0))
C(c_sem_release, mproc_sem_release(o))
C(c_event_set, mproc_event_set(o))
C(c_event_clear, mproc_event_clear(o))
C(c_event_is_set, mproc_event_is_set(o))
C(c_event_wait, mproc_event_wait(o, 0))
C(c_cond_lock, got(mproc_cond_lock(o)))
C(c_cond_wait, mproc_cond_wait(o, 0))
C(c_cond_notify, mproc_cond_notify(o, 1))
C(c_cond_notify_all, mproc_cond_notify_all(o))
C(c_barrier_wait, mproc_barrier_wait(o, 0))
C(c_barrier_abort, mproc_barrier_abort(o))
C(c_barrier_reset, mproc_barrier_reset(o))

C(c_out_write, mproc_out_write(o, "x", 1))
C(c_pool_map, mproc_pool_map(o, echo, "x", 1, 1, &(char){0}, 1, 0, NULL))
C(c_pool_imap, mproc_pool_imap(o, echo, next_nothing, NULL, on_result, NULL, 0, 1))
C(c_pool_apply_async, made(mproc_pool_apply_async(o, echo, "x", 1), free_result))
C(c_pool_close, mproc_pool_close(o))
C(c_pool_terminate, mproc_pool_terminate(o))
C(c_pool_join, mproc_pool_join(o, 0))
C(c_result_wait, mproc_result_wait(o, 0))
C(c_result_ready, mproc_result_ready(o))
C(c_result_get, mproc_result_get(o, &taken_ptr, &taken_len, 0, NULL))

typedef struct {
    const char *name;    /* the call, and the argument o goes in */
    int (*call)(void *o);
    unsigned accepts;    /* the kinds that are valid there */
    int null_ok;         /* NULL means something there (the default) */
} call;

#define E(name, accepts, null_ok) {#name, c_##name, accepts, null_ok}
static const call calls[] = {
    E(ctx_method, B(K_CTX), 0),
    E(process_new_ctx, B(K_CTX), 1),
    E(queue_new_ctx, B(K_CTX), 1),
    E(joinable_queue_new_ctx, B(K_CTX), 1),
    E(simple_queue_new_ctx, B(K_CTX), 1),
    E(pipe_ctx, B(K_CTX), 1),
    E(shm_new_ctx, B(K_CTX), 1),
    E(lock_new_ctx, B(K_CTX), 1),
    E(rlock_new_ctx, B(K_CTX), 1),
    E(sem_new_ctx, B(K_CTX), 1),
    E(bounded_sem_new_ctx, B(K_CTX), 1),
    E(event_new_ctx, B(K_CTX), 1),
    E(cond_new_ctx, B(K_CTX), 1),
    E(barrier_new_ctx, B(K_CTX), 1),
    E(pool_new_ctx, B(K_CTX), 1),
    E(pool_new_initargs, B(K_ARGS), 1),
    E(args_add_i64, B(K_ARGS), 0),
    E(args_add_f64, B(K_ARGS), 0),
    E(args_add_str, B(K_ARGS), 0),
    E(args_add_bytes, B(K_ARGS), 0),
    E(args_add_queue_args, B(K_ARGS), 0),
    E(args_add_conn_args, B(K_ARGS), 0),
    E(args_add_shm_args, B(K_ARGS), 0),
    E(args_add_lock_args, B(K_ARGS), 0),
    E(args_add_sem_args, B(K_ARGS), 0),
    E(args_add_event_args, B(K_ARGS), 0),
    E(args_add_cond_args, B(K_ARGS), 0),
    E(args_add_barrier_args, B(K_ARGS), 0),
    E(args_add_queue, QUEUES, 0),
    E(args_add_conn, B(K_CONN), 0),
    E(args_add_shm, B(K_SHM), 0),
    E(args_add_lock, LOCKS, 0),
    E(args_add_sem, B(K_SEM), 0),
    E(args_add_event, B(K_EVENT), 0),
    E(args_add_cond, B(K_COND), 0),
    E(args_add_barrier, B(K_BARRIER), 0),
    E(args_count, B(K_ARGS), 0),
    E(args_i64, B(K_ARGS), 0),
    E(args_f64, B(K_ARGS), 0),
    E(args_str, B(K_ARGS), 0),
    E(args_bytes, B(K_ARGS), 0),
    E(args_shm, B(K_ARGS), 0),
    E(args_conn, B(K_ARGS), 0),
    E(args_queue, B(K_ARGS), 0),
    E(args_lock, B(K_ARGS), 0),
    E(args_sem, B(K_ARGS), 0),
    E(args_event, B(K_ARGS), 0),
    E(args_cond, B(K_ARGS), 0),
    E(args_barrier, B(K_ARGS), 0),
    E(process_new_args, B(K_ARGS), 1),
    E(process_set_name, B(K_PROCESS), 0),
    E(process_name, B(K_PROCESS), 0),
    E(process_set_daemon, B(K_PROCESS), 0),
    E(process_set_die_with_parent, B(K_PROCESS), 0),
    E(process_setenv, B(K_PROCESS), 0),
    E(process_set_cwd, B(K_PROCESS), 0),
    E(process_set_stdio_file, B(K_PROCESS), 0),
    E(process_set_stdio_null, B(K_PROCESS), 0),
    E(process_set_stdio_conn, B(K_PROCESS), 0),
    E(process_set_stdio_conn_conn, B(K_CONN), 0),
    E(process_start, B(K_PROCESS), 0),
    E(process_join, B(K_PROCESS), 0),
    E(process_is_alive, B(K_PROCESS), 0),
    E(process_exitcode, B(K_PROCESS), 0),
    E(process_terminate, B(K_PROCESS), 0),
    E(process_kill, B(K_PROCESS), 0),
    E(process_pid, B(K_PROCESS), 0),
    E(wait, B(K_PROCESS) | B(K_CONN) | QUEUES | B(K_EVENT), 0),
    E(process_sentinel, B(K_PROCESS), 0),
    E(object_type, OBJECTS, 0),
    E(object_on_free, OBJECTS, 0),
    E(object_fd, OBJECTS, 0),
    E(queue_put, QUEUES, 0),
    E(queue_get, QUEUES, 0),
    E(queue_put_nowait, QUEUES, 0),
    E(queue_get_nowait, QUEUES, 0),
    E(queue_qsize, QUEUES, 0),
    E(queue_empty, QUEUES, 0),
    E(queue_full, QUEUES, 0),
    E(queue_set_max_message, QUEUES, 0),
    E(queue_task_done, QUEUES, 0),
    E(queue_join, QUEUES, 0),
    E(queue_join_timeout, QUEUES, 0),
    E(queue_join_thread, QUEUES, 0),
    E(conn_send, B(K_CONN), 0),
    E(conn_recv, B(K_CONN), 0),
    E(conn_poll, B(K_CONN), 0),
    E(conn_read_raw, B(K_CONN), 0),
    E(conn_set_max_message, B(K_CONN), 0),
    E(shm_ptr, B(K_SHM), 0),
    E(shm_size, B(K_SHM), 0),
    E(lock_acquire, LOCKS, 0),
    E(lock_release, LOCKS, 0),
    E(cond_new_lock, LOCKS, 1),
    E(sem_acquire, B(K_SEM), 0),
    E(sem_release, B(K_SEM), 0),
    E(event_set, B(K_EVENT), 0),
    E(event_clear, B(K_EVENT), 0),
    E(event_is_set, B(K_EVENT), 0),
    E(event_wait, B(K_EVENT), 0),
    E(cond_lock, B(K_COND), 0),
    E(cond_wait, B(K_COND), 0),
    E(cond_notify, B(K_COND), 0),
    E(cond_notify_all, B(K_COND), 0),
    E(barrier_wait, B(K_BARRIER), 0),
    E(barrier_abort, B(K_BARRIER), 0),
    E(barrier_reset, B(K_BARRIER), 0),
    E(out_write, OUT, 0),
    E(pool_map, B(K_POOL), 0),
    E(pool_imap, B(K_POOL), 0),
    E(pool_apply_async, B(K_POOL), 0),
    E(pool_close, B(K_POOL), 0),
    E(pool_terminate, B(K_POOL), 0),
    E(pool_join, B(K_POOL), 0),
    E(result_wait, B(K_RESULT), 0),
    E(result_ready, B(K_RESULT), 0),
    E(result_get, B(K_RESULT), 0),
};
#define NCALLS (sizeof calls / sizeof calls[0])

/* The calls returning nothing: given what is not theirs, they do nothing. */
typedef struct {
    const char *name;
    void (*call)(void *o);
    unsigned accepts;
} void_call;

static void v_args_free(void *o) { mproc_args_free(o); }
static void v_process_free(void *o) { mproc_process_free(o); }
static void v_queue_close(void *o) { mproc_queue_close(o); }
static void v_queue_cancel_join_thread(void *o) { mproc_queue_cancel_join_thread(o); }
static void v_queue_free(void *o) { mproc_queue_free(o); }
static void v_conn_close(void *o) { mproc_conn_close(o); }
static void v_shm_free(void *o) { mproc_shm_free(o); }
static void v_lock_free(void *o) { mproc_lock_free(o); }
static void v_sem_free(void *o) { mproc_sem_free(o); }
static void v_event_free(void *o) { mproc_event_free(o); }
static void v_cond_free(void *o) { mproc_cond_free(o); }
static void v_barrier_free(void *o) { mproc_barrier_free(o); }
static void v_pool_free(void *o) { mproc_pool_free(o); }
static void v_result_free(void *o) { mproc_result_free(o); }
static void v_object_free(void *o) { mproc_object_free(o); }

#define V(name, accepts) {#name, v_##name, accepts}
static const void_call void_calls[] = {
    V(args_free, B(K_ARGS)),        V(process_free, B(K_PROCESS)),
    V(queue_close, QUEUES),         V(queue_cancel_join_thread, QUEUES),
    V(queue_free, QUEUES),          V(conn_close, B(K_CONN)),
    V(shm_free, B(K_SHM)),          V(lock_free, LOCKS),
    V(sem_free, B(K_SEM)),          V(event_free, B(K_EVENT)),
    V(cond_free, B(K_COND)),        V(barrier_free, B(K_BARRIER)),
    V(pool_free, B(K_POOL)),        V(result_free, B(K_RESULT)),
    V(object_free, OBJECTS),
};
#define NVOID (sizeof void_calls / sizeof void_calls[0])

/* Runs every call with o in every argument that does not accept it;
 * returns how many did not give MPROC_EINVAL, the first one's name and
 * result in *which and *rc. */
static int refusals_missed(void *o, unsigned kind_bit, const char **which, int *rc)
{
    int missed = 0;
    for (size_t i = 0; i < NCALLS; i++) {
        int r;
        if (calls[i].accepts & kind_bit)
            continue;
        mproc__error(MPROC_OK);
        if ((r = calls[i].call(o)) != MPROC_EINVAL && missed++ == 0) {
            *which = calls[i].name;
            *rc = r;
        }
    }
    return missed;
}

static void test_every_call_refuses_an_object_of_another_type(void)
{
    make_objects();
    for (int k = 0; k < K_COUNT; k++) {
        const char *which = NULL;
        int rc = 0, missed = refusals_missed(obj[k], B(k), &which, &rc);
        if (missed)
            printf("\n  given a %s, %d calls did not refuse it; first %s: %d\n", kind_names[k], missed, which, rc);
        CU_ASSERT_EQUAL(missed, 0);
    }
    /* Refused before anything was done: every object is as it was. */
    for (int k = 0; k < K_COUNT; k++) {
        if (!still_works(k))
            printf("\n  the %s no longer works\n", kind_names[k]);
        CU_ASSERT(still_works(k));
    }
    free_objects();
}

static void test_every_call_refuses_null_where_it_means_nothing(void)
{
    make_objects();
    for (size_t i = 0; i < NCALLS; i++) {
        int rc;
        if (calls[i].null_ok)
            continue;
        mproc__error(MPROC_OK);
        if ((rc = calls[i].call(NULL)) != MPROC_EINVAL)
            printf("\n  %s(NULL): %d\n", calls[i].name, rc);
        CU_ASSERT_EQUAL(rc, MPROC_EINVAL);
    }
    free_objects();
}

static void test_free_and_close_ignore_null_and_objects_of_another_type(void)
{
    make_objects();
    for (size_t i = 0; i < NVOID; i++) {
        void_calls[i].call(NULL);
        for (int k = 0; k < K_COUNT; k++)
            if (!(void_calls[i].accepts & B(k)))
                void_calls[i].call(obj[k]);
    }
    for (int k = 0; k < K_COUNT; k++) {
        if (!still_works(k))
            printf("\n  the %s no longer works\n", kind_names[k]);
        CU_ASSERT(still_works(k));
    }
    free_objects();
}

static void test_predicates_give_einval_never_1_for_a_wrong_object(void)
{
    make_objects();
    CU_ASSERT_EQUAL(mproc_event_is_set(NULL), MPROC_EINVAL);
    CU_ASSERT_EQUAL(mproc_event_is_set(obj[K_LOCK]), MPROC_EINVAL);
    CU_ASSERT_EQUAL(mproc_queue_empty(obj[K_EVENT]), MPROC_EINVAL);
    CU_ASSERT_EQUAL(mproc_queue_full(obj[K_CONN]), MPROC_EINVAL);
    CU_ASSERT_EQUAL(mproc_process_is_alive(obj[K_QUEUE]), MPROC_EINVAL);
    CU_ASSERT_EQUAL(mproc_result_ready(obj[K_POOL]), MPROC_EINVAL);
    CU_ASSERT_EQUAL(mproc_conn_poll(obj[K_PROCESS], 0), MPROC_EINVAL);
    free_objects();
}

static void test_wait_refuses_an_object_it_cannot_wait_for(void)
{
    void *list[2];
    make_objects();
    list[0] = obj[K_CONN];
    for (int k = 0; k < K_COUNT; k++) {
        if (k == K_PROCESS || k == K_CONN || k == K_QUEUE || k == K_LQUEUE || k == K_EVENT)
            continue;
        list[1] = obj[k];
        CU_ASSERT_EQUAL(mproc_wait(list, 2, 0, NULL), MPROC_EINVAL);
    }
    /* The connection alone is fine: nothing to receive yet. */
    CU_ASSERT_EQUAL(mproc_wait(list, 1, 0, NULL), 0);
    free_objects();
}

/* A task's mproc_out given to every other call, and the other objects
 * given to mproc_out_write (in the worker thread; checked by the test). */
static int out_missed, out_rc;
static const char *out_which;

static int misuse_out(const void *in, size_t len, mproc_out *out)
{
    int missed = refusals_missed(out, OUT, &out_which, &out_rc);
    for (size_t i = 0; i < NVOID; i++)
        void_calls[i].call(out);
    for (int k = 0; k < K_COUNT; k++)
        missed += mproc_out_write(obj[k], in, len) != MPROC_EINVAL;
    out_missed = missed;
    return mproc_out_write(out, in, len);
}
MPROC_TASK(misuse_out);

static void test_a_tasks_out_is_refused_by_other_calls_and_refuses_other_objects(void)
{
    mproc_result *r;
    void *data = NULL;
    size_t len = 0;
    make_objects();
    r = mproc_pool_apply_async(obj[K_POOL], misuse_out, "y", 1);
    CU_ASSERT_EQUAL_FATAL(mproc_result_get(r, &data, &len, -1, NULL), 0);
    /* The out itself still worked after all that. */
    CU_ASSERT(len == 1 && data && memcmp(data, "y", 1) == 0);
    if (out_missed)
        printf("\n  %d calls did not refuse the out; first %s: %d\n", out_missed, out_which ? out_which : "-",
               out_rc);
    CU_ASSERT_EQUAL(out_missed, 0);
    mproc_free(data);
    mproc_result_free(r);
    free_objects();
}

/* Double frees, where the memory is deterministically still there. */

/* The calls on an object of any type take a freed one for what it is:
 * nothing (mproc_object_free a third time frees nothing). */
static void object_calls_refuse_freed(void *o)
{
    intptr_t fd = -1;
    CU_ASSERT_EQUAL(mproc_object_type(o), MPROC_TYPE_NONE);
    CU_ASSERT_EQUAL(mproc_object_on_free(o, hook_never_run, NULL), MPROC_EINVAL);
    CU_ASSERT_EQUAL(mproc_object_on_free(o, NULL, NULL), MPROC_EINVAL);
    CU_ASSERT_EQUAL(mproc_object_fd(o, &fd), MPROC_EINVAL);
    CU_ASSERT_EQUAL(fd, -1);
    mproc_object_free(o);
}

static int blocked_on_gate(const void *in, size_t len, mproc_out *out)
{
    (void)in;
    (void)len;
    (void)out;
    return mproc_sem_acquire(obj[K_SEM], -1);
}
MPROC_TASK(blocked_on_gate);

static void test_a_result_freed_twice_before_its_task_ends_is_freed_once(void)
{
    mproc_result *r;
    make_objects();
    CU_ASSERT_EQUAL_FATAL(mproc_sem_acquire(obj[K_SEM], 0), 0); /* the gate: closed */
    r = mproc_pool_apply_async(obj[K_POOL], blocked_on_gate, "", 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    /* The pool keeps the result until its task returns, which it cannot
     * before the gate opens: the memory is still there, untagged. */
    mproc_result_free(r);
    mproc_result_free(r);
    CU_ASSERT_EQUAL(mproc_result_ready(r), MPROC_EINVAL);
    CU_ASSERT_EQUAL(mproc_result_wait(r, 0), MPROC_EINVAL);
    object_calls_refuse_freed(r);
    CU_ASSERT_EQUAL(mproc_sem_release(obj[K_SEM]), 0);
    CU_ASSERT_EQUAL(mproc_pool_close(obj[K_POOL]), 0);
    CU_ASSERT_EQUAL(mproc_pool_join(obj[K_POOL], -1), 0);
    free_objects();
}

static void test_a_pool_freed_twice_while_a_result_keeps_it_is_freed_once(void)
{
    mproc_pool *p = mproc_pool_new(mproc_get_context(MPROC_THREAD), 1, NULL);
    mproc_result *r;
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    r = mproc_pool_apply_async(p, echo, "z", 1);
    CU_ASSERT_EQUAL_FATAL(mproc_result_wait(r, -1), 0);
    /* The result holds the pool's memory until it is freed itself. */
    mproc_pool_free(p);
    mproc_pool_free(p);
    CU_ASSERT_EQUAL(mproc_pool_close(p), MPROC_EINVAL);
    CU_ASSERT_PTR_NULL(mproc_pool_apply_async(p, echo, "z", 1));
    CU_ASSERT_EQUAL(mproc_last_error(), MPROC_EINVAL);
    object_calls_refuse_freed(p);
    CU_ASSERT_EQUAL(mproc_result_ready(r), 1);
    mproc_result_free(r);
}

static CU_TestInfo tests[] = {
    TU_TEST(test_every_call_refuses_an_object_of_another_type),
    TU_TEST(test_every_call_refuses_null_where_it_means_nothing),
    TU_TEST(test_free_and_close_ignore_null_and_objects_of_another_type),
    TU_TEST(test_predicates_give_einval_never_1_for_a_wrong_object),
    TU_TEST(test_wait_refuses_an_object_it_cannot_wait_for),
    TU_TEST(test_a_tasks_out_is_refused_by_other_calls_and_refuses_other_objects),
    TU_TEST(test_a_result_freed_twice_before_its_task_ends_is_freed_once),
    TU_TEST(test_a_pool_freed_twice_while_a_result_keeps_it_is_freed_once),
    CU_TEST_INFO_NULL,
};

static void reg(void) { tu_add_suite("types", tests); }

int main(int argc, char **argv) { return tu_main(argc, argv, reg); }
