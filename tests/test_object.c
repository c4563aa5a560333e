/*
 * Objects of any type (include/mproc.h): mproc_object_type names each,
 * mproc_object_free frees each with its own call, mproc_object_on_free's
 * hook runs once whichever call frees the object (and what belongs to
 * another object, which frees it, takes no hook), and mproc_object_fd's
 * descriptor works in a plain poll() loop of the caller's own, a queue's
 * staying readable while an item is left.  Under the start method in
 * MPROC_START_METHOD; under the thread method the children are threads and
 * the queues and connections they share are still process objects.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef _WIN32
#include <poll.h>
#endif

#include "testutil.h"

/* A bound on what must happen promptly (a child that was told to go). */
#define READY_WITHIN_MS 5000
/* A bound on what only hangs when something is broken. */
#define LONG_WAIT 60

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)((i * 31u + seed) >> 3);
}

#ifndef _WIN32
static int filled(const void *data, size_t n, unsigned seed)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)((i * 31u + seed) >> 3))
            return 0;
    return 1;
}

/* 1 when fd polls ready for reading within timeout_ms, 0 if not, -1 on
 * error.  Ready as an event loop takes it: data, or the end (a pipe whose
 * writers are all gone reports POLLHUP, on Linux without POLLIN). */
static int readable(intptr_t fd, int timeout_ms)
{
    struct pollfd p;
    int r;
    p.fd = (int)fd;
    p.events = POLLIN;
    p.revents = 0;
    r = poll(&p, 1, timeout_ms);
    if (r < 0 || (p.revents & (POLLERR | POLLNVAL)))
        return -1;
    return r > 0 && (p.revents & (POLLIN | POLLHUP)) != 0;
}
#endif

/* ---- targets ------------------------------------------------------------------ */

static int exit_zero(mproc_args *a)
{
    (void)a;
    return 0;
}
MPROC_TARGET(exit_zero);

/* Sets event arg 1 (it is waiting), waits for event arg 0, returns i64
 * arg 2; 99 when not told to go within a minute. */
static int wait_for_go(mproc_args *a)
{
    if (mproc_event_set(mproc_args_event(a, 1)) != 0)
        return 98;
    if (mproc_event_wait(mproc_args_event(a, 0), LONG_WAIT) != 0)
        return 99;
    return (int)mproc_args_i64(a, 2);
}
MPROC_TARGET(wait_for_go);

/* As wait_for_go, then sends "hello" on connection arg 2. */
static int send_on_go(mproc_args *a)
{
    if (mproc_event_set(mproc_args_event(a, 1)) != 0)
        return 98;
    if (mproc_event_wait(mproc_args_event(a, 0), LONG_WAIT) != 0)
        return 99;
    return mproc_conn_send(mproc_args_conn(a, 2), "hello", 5) == 0 ? 0 : 97;
}
MPROC_TARGET(send_on_go);

/* As wait_for_go, then puts "item" into queue arg 2. */
static int put_on_go(mproc_args *a)
{
    if (mproc_event_set(mproc_args_event(a, 1)) != 0)
        return 98;
    if (mproc_event_wait(mproc_args_event(a, 0), LONG_WAIT) != 0)
        return 99;
    return mproc_queue_put(mproc_args_queue(a, 2), "item", 4, LONG_WAIT) == 0 ? 0 : 97;
}
MPROC_TARGET(put_on_go);

/* Puts i64 arg 1 items of 16 bytes, "item %011d" of its index, into queue
 * arg 0. */
#define SMALL_ITEM 16
static void small_item(char out[SMALL_ITEM + 1], int i) { snprintf(out, SMALL_ITEM + 1, "item %011d", i); }

static int put_small_items(mproc_args *a)
{
    mproc_queue *q = mproc_args_queue(a, 0);
    int n = (int)mproc_args_i64(a, 1);
    for (int i = 0; i < n; i++) {
        char item[SMALL_ITEM + 1];
        small_item(item, i);
        if (mproc_queue_put(q, item, SMALL_ITEM, LONG_WAIT) != 0)
            return 1;
    }
    return 0;
}
MPROC_TARGET(put_small_items);

/* Large items among small ones: item i has mixed_sizes[i] bytes, fill()ed
 * with seed i.  Over a pipe's 64 KiB, over the read-ahead's frame limit
 * (16 KiB), and empty. */
static const size_t mixed_sizes[] = {16, (size_t)1 << 20, 16, 16, 20000, 16, (size_t)1 << 20, 0, 100, (size_t)1 << 20, 16};
#define MIXED_COUNT (sizeof mixed_sizes / sizeof mixed_sizes[0])

static int put_mixed_items(mproc_args *a)
{
    mproc_queue *q = mproc_args_queue(a, 0);
    unsigned char *buf = malloc((size_t)1 << 20);
    int rc = 0;
    if (!buf)
        return 2;
    for (size_t i = 0; rc == 0 && i < MIXED_COUNT; i++) {
        fill(buf, mixed_sizes[i], (unsigned)i);
        if (mproc_queue_put(q, buf, mixed_sizes[i], LONG_WAIT) != 0)
            rc = 1;
    }
    free(buf);
    return rc;
}
MPROC_TARGET(put_mixed_items);

static int echo(const void *in, size_t len, mproc_out *out) { return mproc_out_write(out, in, len); }
MPROC_TASK(echo);

/* ---- one object of every type ------------------------------------------------------ */

/* The pool results come from: made with the first, freed by
 * release_helpers() once its results are (each result is freed on its own:
 * what its hook sees is the result, never the pool). */
static mproc_pool *results_pool;

static mproc_ctx *process_ctx(void) { return mproc_get_context(tu_process_method()); }
static mproc_ctx *thread_ctx(void) { return mproc_get_context(MPROC_THREAD); }

static void *make_process(void) { return mproc_process_new(NULL, exit_zero, NULL); }
static void *make_ended_process(void)
{
    mproc_process *p = tu_start(exit_zero, NULL);
    CU_ASSERT_EQUAL(mproc_process_join(p, LONG_WAIT), 0);
    return p;
}
static void *make_queue(void) { return mproc_queue_new(process_ctx(), 0); }
static void *make_thread_queue(void) { return mproc_queue_new(thread_ctx(), 0); }
static void *make_joinable_queue(void) { return mproc_joinable_queue_new(process_ctx(), 4); }
static void *make_simple_queue(void) { return mproc_simple_queue_new(process_ctx()); }
static void *make_conn(void)
{
    mproc_conn *a = NULL, *b = NULL;
    CU_ASSERT_EQUAL(mproc_pipe(NULL, 1, &a, &b), 0);
    mproc_conn_close(b);
    return a;
}
static void *make_shm(void) { return mproc_shm_new(NULL, 4096); }
static void *make_lock(void) { return mproc_lock_new(process_ctx()); }
static void *make_rlock(void) { return mproc_rlock_new(process_ctx()); }
static void *make_thread_lock(void) { return mproc_lock_new(thread_ctx()); }
static void *make_sem(void) { return mproc_sem_new(NULL, 1); }
static void *make_bounded_sem(void) { return mproc_bounded_sem_new(NULL, 1); }
static void *make_event(void) { return mproc_event_new(NULL); }
static void *make_cond(void) { return mproc_cond_new(NULL, NULL); }
static void *make_barrier(void) { return mproc_barrier_new(NULL, 2); }
static void *make_pool(void) { return mproc_pool_new(NULL, 1, NULL); }
static void *make_result(void)
{
    mproc_result *r;
    if (!results_pool)
        results_pool = mproc_pool_new(NULL, 1, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(results_pool);
    r = mproc_pool_apply_async(results_pool, echo, "x", 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(mproc_result_wait(r, LONG_WAIT), 0);
    return r;
}
static void *make_args(void)
{
    mproc_args *a = mproc_args_new();
    if (a)
        mproc_args_add_str(a, "kept until freed");
    return a;
}

static void free_process(void *o) { mproc_process_free(o); }
static void free_queue(void *o) { mproc_queue_free(o); }
static void free_conn(void *o) { mproc_conn_close(o); }
static void free_shm(void *o) { mproc_shm_free(o); }
static void free_lock(void *o) { mproc_lock_free(o); }
static void free_sem(void *o) { mproc_sem_free(o); }
static void free_event(void *o) { mproc_event_free(o); }
static void free_cond(void *o) { mproc_cond_free(o); }
static void free_barrier(void *o) { mproc_barrier_free(o); }
static void free_pool(void *o) { mproc_pool_free(o); }
static void free_result(void *o) { mproc_result_free(o); }
static void free_args(void *o) { mproc_args_free(o); }

typedef struct {
    const char *name;
    mproc_type type;
    void *(*make)(void);
    void (*free)(void *o); /* the type's own call */
} kind;

static const kind kinds[] = {
    {"process", MPROC_TYPE_PROCESS, make_process, free_process},
    {"ended process", MPROC_TYPE_PROCESS, make_ended_process, free_process},
    {"queue", MPROC_TYPE_QUEUE, make_queue, free_queue},
    {"thread context's queue", MPROC_TYPE_QUEUE, make_thread_queue, free_queue},
    {"joinable queue", MPROC_TYPE_QUEUE, make_joinable_queue, free_queue},
    {"simple queue", MPROC_TYPE_QUEUE, make_simple_queue, free_queue},
    {"conn", MPROC_TYPE_CONN, make_conn, free_conn},
    {"shm", MPROC_TYPE_SHM, make_shm, free_shm},
    {"lock", MPROC_TYPE_LOCK, make_lock, free_lock},
    {"rlock", MPROC_TYPE_LOCK, make_rlock, free_lock},
    {"thread context's lock", MPROC_TYPE_LOCK, make_thread_lock, free_lock},
    {"sem", MPROC_TYPE_SEM, make_sem, free_sem},
    {"bounded sem", MPROC_TYPE_SEM, make_bounded_sem, free_sem},
    {"event", MPROC_TYPE_EVENT, make_event, free_event},
    {"cond", MPROC_TYPE_COND, make_cond, free_cond},
    {"barrier", MPROC_TYPE_BARRIER, make_barrier, free_barrier},
    {"pool", MPROC_TYPE_POOL, make_pool, free_pool},
    {"result", MPROC_TYPE_RESULT, make_result, free_result},
    {"args", MPROC_TYPE_ARGS, make_args, free_args},
};
#define NKINDS (sizeof kinds / sizeof kinds[0])

static void *make(const kind *k)
{
    void *o = k->make();
    if (!o)
        printf("\n  could not make a %s: %s\n", k->name, mproc_strerror(mproc_last_error()));
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    return o;
}

static void release_helpers(void)
{
    mproc_pool_free(results_pool);
    results_pool = NULL;
}

/* ---- mproc_object_type ------------------------------------------------------------ */

static void test_object_type_names_every_type(void)
{
    for (size_t i = 0; i < NKINDS; i++) {
        void *o = make(&kinds[i]);
        mproc_type t = mproc_object_type(o);
        if (t != kinds[i].type)
            printf("\n  a %s: type %d, expected %d\n", kinds[i].name, (int)t, (int)kinds[i].type);
        CU_ASSERT_EQUAL(t, kinds[i].type);
        kinds[i].free(o);
    }
    release_helpers();
}

static void test_object_type_is_none_for_null_other_memory_and_a_context(void)
{
    int not_an_object = 0x12345678;
    int zero = 0;
    CU_ASSERT_EQUAL(mproc_object_type(NULL), MPROC_TYPE_NONE);
    CU_ASSERT_EQUAL(mproc_object_type(&not_an_object), MPROC_TYPE_NONE);
    CU_ASSERT_EQUAL(mproc_object_type(&zero), MPROC_TYPE_NONE);
    /* A context is no object a caller frees or waits on. */
    CU_ASSERT_EQUAL(mproc_object_type(process_ctx()), MPROC_TYPE_NONE);
}

/* Freed objects whose memory is deterministically still there: a pool
 * that a result keeps, and a result whose task has not returned yet. */
static void test_object_type_is_none_for_a_freed_object(void)
{
    mproc_pool *p = mproc_pool_new(thread_ctx(), 1, NULL);
    mproc_result *r;
    intptr_t fd = -1;
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    r = mproc_pool_apply_async(p, echo, "z", 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL_FATAL(mproc_result_wait(r, LONG_WAIT), 0);
    CU_ASSERT_EQUAL(mproc_object_type(p), MPROC_TYPE_POOL);
    mproc_pool_free(p); /* the result holds its memory until it is freed itself */
    CU_ASSERT_EQUAL(mproc_object_type(p), MPROC_TYPE_NONE);
    /* and the other three calls take it for what it is: nothing */
    mproc_object_free(p);
    CU_ASSERT_EQUAL(mproc_object_on_free(p, NULL, NULL), MPROC_EINVAL);
    CU_ASSERT_EQUAL(mproc_object_fd(p, &fd), MPROC_EINVAL);
    CU_ASSERT_EQUAL(mproc_object_type(r), MPROC_TYPE_RESULT);
    mproc_result_free(r);
}

/* ---- mproc_object_free ------------------------------------------------------------ */

/* Every type, made and freed by mproc_object_free; the second time round
 * (after what a first use sets up once: a forkserver, a log, a registry)
 * this process holds as many handles and shared segments as before.
 * Memory: the sanitizer build's LeakSanitizer checks it at exit. */
static void make_and_free_every_type(void)
{
    for (size_t i = 0; i < NKINDS; i++)
        mproc_object_free(make(&kinds[i]));
    release_helpers();
}

static void test_object_free_frees_every_type(void)
{
    int handles, segments;
    make_and_free_every_type();
    handles = tu_open_handle_count();
    segments = tu_segment_count();
    make_and_free_every_type();
    CU_ASSERT_EQUAL(tu_open_handle_count(), handles);
    if (segments < 0)
        tu_skip_part("shared segments count", "this test helper cannot count them on this system");
    else
        CU_ASSERT_EQUAL(tu_segment_count(), segments);
}

static void test_object_free_ignores_null_and_what_is_not_an_object(void)
{
    int not_an_object = 0x12345678;
    mproc_event *e = mproc_event_new(NULL);
    mproc_object_free(NULL);
    mproc_object_free(&not_an_object);
    mproc_object_free(process_ctx());
    CU_ASSERT_EQUAL(not_an_object, 0x12345678);
    CU_ASSERT_EQUAL(mproc_ctx_method(process_ctx()), tu_process_method());
    /* and frees nothing else meanwhile */
    CU_ASSERT_EQUAL(mproc_event_set(e), 0);
    CU_ASSERT_EQUAL(mproc_event_is_set(e), 1);
    mproc_object_free(e);
}

/* ---- mproc_object_on_free --------------------------------------------------------- */

static int hook_calls;
static uintptr_t hook_object;
static void *hook_arg;

/* Only remembers: the object is being torn down, and a freed pointer is
 * compared as a number. */
static void remember_free(void *object, void *arg)
{
    hook_calls++;
    hook_object = (uintptr_t)object;
    hook_arg = arg;
}

static int other_hook_calls;
static void other_hook(void *object, void *arg)
{
    (void)object;
    (void)arg;
    other_hook_calls++;
}

static void reset_hooks(void)
{
    hook_calls = other_hook_calls = 0;
    hook_object = 0;
    hook_arg = NULL;
}

/* Sets the hook on an object of every type, frees it with free_it (the
 * type's own call when NULL), and checks the hook ran once with the object
 * and the arg. */
static void hook_runs_once_for_every_type(void (*free_it)(void *o))
{
    static int marker;
    for (size_t i = 0; i < NKINDS; i++) {
        void *o = make(&kinds[i]);
        uintptr_t address = (uintptr_t)o;
        reset_hooks();
        CU_ASSERT_EQUAL_FATAL(mproc_object_on_free(o, remember_free, &marker), 0);
        CU_ASSERT_EQUAL(hook_calls, 0); /* set, not run */
        (free_it ? free_it : kinds[i].free)(o);
        if (hook_calls != 1 || hook_object != address || hook_arg != &marker)
            printf("\n  a %s: hook ran %d times, object %s, arg %s\n", kinds[i].name, hook_calls,
                   hook_object == address ? "right" : "wrong", hook_arg == &marker ? "right" : "wrong");
        CU_ASSERT_EQUAL(hook_calls, 1);
        CU_ASSERT(hook_object == address);
        CU_ASSERT_PTR_EQUAL(hook_arg, &marker);
    }
    /* The pool that results came from: freeing it runs no hook of theirs. */
    release_helpers();
    CU_ASSERT_EQUAL(hook_calls, 1);
}

static void test_free_hook_runs_once_when_the_types_own_call_frees(void) { hook_runs_once_for_every_type(NULL); }

static void test_free_hook_runs_once_when_object_free_frees(void) { hook_runs_once_for_every_type(mproc_object_free); }

static void test_a_second_hook_is_eexist_and_the_first_stays(void)
{
    mproc_queue *q = mproc_queue_new(process_ctx(), 0);
    int first, second;
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    reset_hooks();
    CU_ASSERT_EQUAL(mproc_object_on_free(q, remember_free, &first), 0);
    CU_ASSERT_EQUAL(mproc_object_on_free(q, other_hook, &second), MPROC_EEXIST);
    CU_ASSERT_EQUAL(mproc_object_on_free(q, remember_free, &second), MPROC_EEXIST);
    mproc_object_free(q);
    CU_ASSERT_EQUAL(hook_calls, 1);
    CU_ASSERT_PTR_EQUAL(hook_arg, &first);
    CU_ASSERT_EQUAL(other_hook_calls, 0);
}

static void test_a_null_hook_removes_the_one_set(void)
{
    mproc_event *e = mproc_event_new(NULL), *f = mproc_event_new(NULL);
    int arg;
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    reset_hooks();
    CU_ASSERT_EQUAL(mproc_object_on_free(e, remember_free, &arg), 0);
    CU_ASSERT_EQUAL(mproc_object_on_free(e, NULL, NULL), 0);
    mproc_event_free(e);
    CU_ASSERT_EQUAL(hook_calls, 0);

    /* Removed, another may be set in its place; removing none is fine. */
    CU_ASSERT_EQUAL(mproc_object_on_free(f, NULL, NULL), 0);
    CU_ASSERT_EQUAL(mproc_object_on_free(f, remember_free, &arg), 0);
    CU_ASSERT_EQUAL(mproc_object_on_free(f, NULL, NULL), 0);
    CU_ASSERT_EQUAL(mproc_object_on_free(f, other_hook, &arg), 0);
    mproc_object_free(f);
    CU_ASSERT_EQUAL(hook_calls, 0);
    CU_ASSERT_EQUAL(other_hook_calls, 1);
}

/* In a fork child: frees its copy of event arg 0, on which the parent set
 * remember_free with arg &fork_marker.  0 when the hook ran once there,
 * with the object and the arg; 1 + how often it ran otherwise. */
static int fork_marker;
static int free_forked_copy(mproc_args *a)
{
    mproc_event *e = mproc_args_event(a, 0);
    uintptr_t address = (uintptr_t)e;
    reset_hooks();
    mproc_object_free(e);
    if (hook_calls != 1)
        return 1 + hook_calls;
    return hook_object == address && hook_arg == &fork_marker ? 0 : 10;
}
MPROC_TARGET(free_forked_copy);

static void test_free_hook_set_in_the_parent_runs_when_a_fork_child_frees_its_copy(void)
{
    mproc_event *e;
    mproc_args *a;
    TU_SKIP_IF(tu_method() != MPROC_FORK, "only a fork child has a copy of the parent's object and its hook");
    e = mproc_event_new(NULL);
    a = mproc_args_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    reset_hooks();
    CU_ASSERT_EQUAL_FATAL(mproc_object_on_free(e, remember_free, &fork_marker), 0);
    mproc_args_add_event(a, e);
    CU_ASSERT_EQUAL(tu_finish(tu_start(free_forked_copy, a), LONG_WAIT), 0);
    /* The child's free was its own: ours still works, and still runs the hook. */
    CU_ASSERT_EQUAL(hook_calls, 0);
    CU_ASSERT_EQUAL(mproc_event_set(e), 0);
    CU_ASSERT_EQUAL(mproc_event_is_set(e), 1);
    mproc_event_free(e);
    CU_ASSERT_EQUAL(hook_calls, 1);
    CU_ASSERT_PTR_EQUAL(hook_arg, &fork_marker);
}

/* The pool a fork child inherits (there is no mproc_args_add for pools). */
static mproc_pool *inherited_pool;

/* In a fork child: frees its copy of inherited_pool, on which the parent
 * set remember_free with arg &fork_marker.  0 when the hook ran once
 * there, with the pool and the arg; 1 + how often it ran otherwise. */
static int free_inherited_pool(mproc_args *a)
{
    uintptr_t address = (uintptr_t)inherited_pool;
    (void)a;
    reset_hooks();
    mproc_pool_free(inherited_pool);
    if (hook_calls != 1)
        return 1 + hook_calls;
    return hook_object == address && hook_arg == &fork_marker ? 0 : 10;
}
MPROC_TARGET(free_inherited_pool);

/* A pool's workers and dispatcher are the parent's: the child's free only
 * lets go of its handle, and that runs the hook as any free does. */
static void test_free_hook_set_in_the_parent_runs_when_a_fork_child_frees_its_copy_of_a_pool(void)
{
    mproc_result *r;
    TU_SKIP_IF(tu_method() != MPROC_FORK, "only a fork child has a copy of the parent's pool and its hook");
    inherited_pool = mproc_pool_new(NULL, 1, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(inherited_pool);
    reset_hooks();
    CU_ASSERT_EQUAL_FATAL(mproc_object_on_free(inherited_pool, remember_free, &fork_marker), 0);
    CU_ASSERT_EQUAL(tu_finish(tu_start(free_inherited_pool, NULL), LONG_WAIT), 0);
    /* Ours still works, and still runs the hook. */
    CU_ASSERT_EQUAL(hook_calls, 0);
    r = mproc_pool_apply_async(inherited_pool, echo, "y", 1);
    CU_ASSERT_PTR_NOT_NULL(r);
    CU_ASSERT_EQUAL(mproc_result_wait(r, LONG_WAIT), 0);
    mproc_result_free(r);
    mproc_pool_free(inherited_pool);
    inherited_pool = NULL;
    CU_ASSERT_EQUAL(hook_calls, 1);
    CU_ASSERT_PTR_EQUAL(hook_arg, &fork_marker);
}

static void test_on_free_refuses_what_is_not_an_object(void)
{
    int not_an_object = 0;
    CU_ASSERT_EQUAL(mproc_object_on_free(NULL, remember_free, NULL), MPROC_EINVAL);
    CU_ASSERT_EQUAL(mproc_object_on_free(NULL, NULL, NULL), MPROC_EINVAL);
    CU_ASSERT_EQUAL(mproc_object_on_free(&not_an_object, remember_free, NULL), MPROC_EINVAL);
    CU_ASSERT_EQUAL(not_an_object, 0);
    CU_ASSERT_EQUAL(mproc_object_on_free(process_ctx(), remember_free, NULL), MPROC_EINVAL);
}

/* ---- what belongs to another object ------------------------------------------------ */

/* mproc_cond_new(ctx, NULL)'s lock is the condition's, which frees it: no
 * hook may own it, mproc_object_free leaves it, and the condition goes on
 * working (the ASan build reports a use after free or a second free of
 * the lock otherwise). */
static void test_a_conditions_own_lock_cannot_be_owned_nor_freed_through_object_free(void)
{
    mproc_cond *c = mproc_cond_new(process_ctx(), NULL);
    mproc_lock *lock;
    int arg;

    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    lock = mproc_cond_lock(c);
    CU_ASSERT_PTR_NOT_NULL_FATAL(lock);
    reset_hooks();
    CU_ASSERT_EQUAL(mproc_object_on_free(lock, remember_free, &arg), MPROC_ESTATE);
    mproc_object_free(lock);
    CU_ASSERT_EQUAL(mproc_object_type(lock), MPROC_TYPE_LOCK);
    CU_ASSERT_EQUAL(mproc_lock_acquire(mproc_cond_lock(c), LONG_WAIT), 0);
    CU_ASSERT_EQUAL(mproc_cond_notify(c, 1), 0);
    CU_ASSERT_EQUAL(mproc_cond_wait(c, 0), MPROC_ETIMEDOUT); /* releases and takes it again */
    CU_ASSERT_EQUAL(mproc_lock_release(mproc_cond_lock(c)), 0);
    mproc_cond_free(c); /* and its lock, once */
    CU_ASSERT_EQUAL(hook_calls, 0);
}

/* A lock given to mproc_cond_new stays the caller's: it may own it, and
 * freeing the condition leaves it. */
static void test_a_lock_given_to_a_condition_stays_the_callers(void)
{
    mproc_lock *lock = mproc_lock_new(process_ctx());
    mproc_cond *c;
    int arg;

    CU_ASSERT_PTR_NOT_NULL_FATAL(lock);
    c = mproc_cond_new(process_ctx(), lock);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_PTR_EQUAL(mproc_cond_lock(c), lock);
    reset_hooks();
    CU_ASSERT_EQUAL(mproc_object_on_free(lock, remember_free, &arg), 0);
    mproc_cond_free(c);
    CU_ASSERT_EQUAL(hook_calls, 0);
    mproc_object_free(lock);
    CU_ASSERT_EQUAL(hook_calls, 1);
    CU_ASSERT_PTR_EQUAL(hook_arg, &arg);
}

/* Tries to own its args and queue arg 0 with a hook (removed at once when
 * set), then puts the two codes into the queue. */
static int try_owning_what_it_got(mproc_args *a)
{
    mproc_queue *q = mproc_args_queue(a, 0);
    void *got[2];
    int codes[2];

    got[0] = a;
    got[1] = q;
    for (int i = 0; i < 2; i++)
        if ((codes[i] = mproc_object_on_free(got[i], other_hook, NULL)) == 0)
            (void)mproc_object_on_free(got[i], NULL, NULL);
    return mproc_queue_put(q, codes, sizeof codes, LONG_WAIT) == 0 ? 0 : 1;
}
MPROC_TARGET(try_owning_what_it_got);

/* The args a target receives are its process's under every method
 * (mproc_process_new took them).  A spawn or forkserver child decodes
 * objects of its own from them, which they free: those cannot be owned
 * either.  A fork child's queue is its copy of ours and a thread's is
 * ours, both with no owner. */
static void test_what_a_target_got_in_its_args_cannot_be_owned_there(void)
{
    mproc_queue *q = mproc_queue_new(process_ctx(), 0);
    mproc_args *a = mproc_args_new();
    mproc_method m = tu_method();
    int codes[2] = {1, 1};
    void *d = NULL;
    size_t n = 0;

    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_EQUAL_FATAL(mproc_args_add_queue(a, q), 0);
    CU_ASSERT_EQUAL(tu_finish(tu_start(try_owning_what_it_got, a), LONG_WAIT), 0);
    CU_ASSERT_EQUAL_FATAL(mproc_queue_get(q, &d, &n, LONG_WAIT), 0);
    CU_ASSERT_EQUAL(n, sizeof codes);
    if (n == sizeof codes)
        memcpy(codes, d, sizeof codes);
    mproc_free(d);
    CU_ASSERT_EQUAL(codes[0], MPROC_ESTATE);
    CU_ASSERT_EQUAL(codes[1], m == MPROC_SPAWN || m == MPROC_FORKSERVER ? MPROC_ESTATE : 0);
    mproc_queue_free(q);
}

/* ---- mproc_object_fd ---------------------------------------------------------------- */

#ifdef _WIN32
#define NO_POLL_REASON "Windows pipes and processes are HANDLEs no poll() waits on: mproc_object_fd is MPROC_ENOTSUP there"
#endif

/* Starts fn(go, waiting, ...) and returns once it waits for go. */
static mproc_process *start_waiting(mproc_target_fn fn, mproc_args *a, mproc_event *waiting)
{
    mproc_process *p = tu_start(fn, a);
    CU_ASSERT_EQUAL_FATAL(mproc_event_wait(waiting, LONG_WAIT), 0);
    return p;
}

static mproc_args *go_args(mproc_event *go, mproc_event *waiting)
{
    mproc_args *a = mproc_args_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    mproc_args_add_event(a, go);
    mproc_args_add_event(a, waiting);
    return a;
}

static void test_fd_of_a_process_is_readable_once_it_ended(void)
{
    mproc_event *go = mproc_event_new(NULL), *waiting = mproc_event_new(NULL);
    mproc_args *a = go_args(go, waiting);
    mproc_process *p;
    intptr_t fd = -1;
    int code = -1;

    mproc_args_add_i64(a, 7);
    p = start_waiting(wait_for_go, a, waiting);
#ifdef _WIN32
    CU_ASSERT_EQUAL(mproc_object_fd(p, &fd), MPROC_ENOTSUP);
    tu_skip_part("poll on a process's fd", NO_POLL_REASON);
    CU_ASSERT_EQUAL(mproc_event_set(go), 0);
    CU_ASSERT_EQUAL(mproc_process_join(p, LONG_WAIT), 0);
#else
    CU_ASSERT_EQUAL_FATAL(mproc_object_fd(p, &fd), 0);
    CU_ASSERT_EQUAL(readable(fd, 0), 0);
    CU_ASSERT_EQUAL(readable(fd, 50), 0); /* still waiting: only we set go */
    CU_ASSERT_EQUAL(mproc_event_set(go), 0);
    CU_ASSERT_EQUAL(readable(fd, READY_WITHIN_MS), 1);
    /* Readable once it ended: a join that does not wait reaps it. */
    CU_ASSERT_EQUAL(mproc_process_join(p, 0), 0);
    CU_ASSERT_EQUAL(readable(fd, 0), 1);
#endif
    CU_ASSERT_EQUAL(mproc_process_exitcode(p, &code), 0);
    CU_ASSERT_EQUAL(code, 7);
    mproc_process_free(p);
    mproc_event_free(waiting);
    mproc_event_free(go);
}

static void test_fd_of_a_process_not_started_is_estate(void)
{
    mproc_process *p = mproc_process_new(NULL, exit_zero, NULL);
    intptr_t fd = -1;
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
#ifdef _WIN32
    CU_ASSERT_EQUAL(mproc_object_fd(p, &fd), MPROC_ENOTSUP);
#else
    CU_ASSERT_EQUAL(mproc_object_fd(p, &fd), MPROC_ESTATE);
#endif
    mproc_process_free(p);
}

static void test_fd_of_a_receiving_end_is_readable_for_a_message_and_at_eof(void)
{
    mproc_event *go = mproc_event_new(NULL), *waiting = mproc_event_new(NULL);
    mproc_args *a = go_args(go, waiting);
    mproc_conn *rd = NULL, *wr = NULL;
    mproc_process *p;
    intptr_t fd = -1;

    CU_ASSERT_EQUAL_FATAL(mproc_pipe(NULL, 0, &rd, &wr), 0);
    mproc_args_add_conn(a, wr);
    p = start_waiting(send_on_go, a, waiting);
#ifdef _WIN32
    CU_ASSERT_EQUAL(mproc_object_fd(rd, &fd), MPROC_ENOTSUP);
    tu_skip_part("poll on a connection's fd", NO_POLL_REASON);
    CU_ASSERT_EQUAL(mproc_event_set(go), 0);
    CU_ASSERT_EQUAL(tu_finish(p, LONG_WAIT), 0);
    mproc_conn_close(wr);
#else
    {
        void *d = NULL;
        size_t n = 0;
        CU_ASSERT_EQUAL_FATAL(mproc_object_fd(rd, &fd), 0);
        CU_ASSERT_EQUAL(readable(fd, 0), 0);
        CU_ASSERT_EQUAL(readable(fd, 50), 0); /* nothing sent before go */
        CU_ASSERT_EQUAL(mproc_event_set(go), 0);
        CU_ASSERT_EQUAL(readable(fd, READY_WITHIN_MS), 1);
        CU_ASSERT_EQUAL(mproc_conn_recv(rd, &d, &n, 0), 0);
        CU_ASSERT(n == 5 && d && memcmp(d, "hello", 5) == 0);
        mproc_free(d);
        CU_ASSERT_EQUAL(tu_finish(p, LONG_WAIT), 0);
        /* The child's copy of the sending end went with it (a thread's is
         * ours): with ours closed, the end of file is there to read. */
        CU_ASSERT_EQUAL(readable(fd, 0), 0);
        mproc_conn_close(wr);
        CU_ASSERT_EQUAL(readable(fd, READY_WITHIN_MS), 1);
        CU_ASSERT_EQUAL(mproc_conn_recv(rd, &d, &n, 0), MPROC_ECLOSED);
    }
#endif
    mproc_conn_close(rd);
    mproc_event_free(waiting);
    mproc_event_free(go);
}

static void test_fd_of_a_send_only_end_is_estate(void)
{
    mproc_conn *rd = NULL, *wr = NULL, *x = NULL, *y = NULL;
    intptr_t fd = -1;
    CU_ASSERT_EQUAL_FATAL(mproc_pipe(NULL, 0, &rd, &wr), 0);
    CU_ASSERT_EQUAL_FATAL(mproc_pipe(NULL, 1, &x, &y), 0);
#ifdef _WIN32
    CU_ASSERT_EQUAL(mproc_object_fd(wr, &fd), MPROC_ENOTSUP);
    CU_ASSERT_EQUAL(mproc_object_fd(x, &fd), MPROC_ENOTSUP);
#else
    CU_ASSERT_EQUAL(mproc_object_fd(wr, &fd), MPROC_ESTATE);
    /* Both ends of a duplex pipe receive. */
    CU_ASSERT_EQUAL(mproc_object_fd(x, &fd), 0);
    CU_ASSERT_EQUAL(mproc_object_fd(y, &fd), 0);
    CU_ASSERT_EQUAL(readable(fd, 0), 0);
    CU_ASSERT_EQUAL(mproc_conn_send(x, "m", 1), 0);
    CU_ASSERT_EQUAL(readable(fd, READY_WITHIN_MS), 1);
#endif
    mproc_conn_close(y);
    mproc_conn_close(x);
    mproc_conn_close(wr);
    mproc_conn_close(rd);
}

static void test_fd_of_a_queue_is_readable_while_an_item_is_left(void)
{
    mproc_event *go = mproc_event_new(NULL), *waiting = mproc_event_new(NULL);
    mproc_args *a = go_args(go, waiting);
    mproc_queue *q = mproc_queue_new(process_ctx(), 0);
    mproc_process *p;
    intptr_t fd = -1;

    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    mproc_args_add_queue(a, q);
#ifdef _WIN32
    p = start_waiting(put_on_go, a, waiting);
    CU_ASSERT_EQUAL(mproc_object_fd(q, &fd), MPROC_ENOTSUP);
    tu_skip_part("poll on a queue's fd", NO_POLL_REASON);
    CU_ASSERT_EQUAL(mproc_event_set(go), 0);
    {
        void *d = NULL;
        size_t n = 0;
        CU_ASSERT_EQUAL(mproc_queue_get(q, &d, &n, LONG_WAIT), 0);
        mproc_free(d);
    }
    CU_ASSERT_EQUAL(tu_finish(p, LONG_WAIT), 0);
#else
    {
        void *d = NULL;
        size_t n = 0;
        /* Before the child and before any get, as the call asks. */
        CU_ASSERT_EQUAL_FATAL(mproc_object_fd(q, &fd), 0);
        p = start_waiting(put_on_go, a, waiting);
        CU_ASSERT_EQUAL(readable(fd, 0), 0);
        CU_ASSERT_EQUAL(readable(fd, 50), 0); /* nothing put before go */
        CU_ASSERT_EQUAL(mproc_event_set(go), 0);
        CU_ASSERT_EQUAL(readable(fd, READY_WITHIN_MS), 1);
        CU_ASSERT_EQUAL(mproc_queue_get(q, &d, &n, 0), 0);
        CU_ASSERT(n == 4 && d && memcmp(d, "item", 4) == 0);
        mproc_free(d);
        CU_ASSERT_EQUAL(readable(fd, 0), 0); /* empty again */
        CU_ASSERT_EQUAL(tu_finish(p, LONG_WAIT), 0);
        /* The same descriptor when asked again. */
        {
            intptr_t again = -1;
            CU_ASSERT_EQUAL(mproc_object_fd(q, &again), 0);
            CU_ASSERT_EQUAL(again, fd);
        }
    }
#endif
    mproc_queue_free(q);
    mproc_event_free(waiting);
    mproc_event_free(go);
}

static void test_fd_is_enotsup_for_objects_without_a_descriptor(void)
{
    static const char *const none[] = {"thread context's queue", "shm", "lock", "rlock", "thread context's lock",
                                       "sem", "bounded sem", "event", "cond", "barrier", "pool", "result", "args"};
    for (size_t i = 0; i < NKINDS; i++) {
        void *o;
        intptr_t fd = -1;
        int rc, has_none = 0;
        for (size_t j = 0; j < sizeof none / sizeof none[0]; j++)
            has_none |= strcmp(kinds[i].name, none[j]) == 0;
        if (!has_none)
            continue;
        o = make(&kinds[i]);
        rc = mproc_object_fd(o, &fd);
        if (rc != MPROC_ENOTSUP)
            printf("\n  a %s: %d\n", kinds[i].name, rc);
        CU_ASSERT_EQUAL(rc, MPROC_ENOTSUP);
        CU_ASSERT_EQUAL(fd, -1); /* untouched */
        kinds[i].free(o);
    }
    release_helpers();
}

static void test_fd_is_einval_for_a_null_fd_or_what_is_not_an_object(void)
{
    int not_an_object = 0;
    intptr_t fd = -1;
    for (size_t i = 0; i < NKINDS; i++) {
        void *o = make(&kinds[i]);
        CU_ASSERT_EQUAL(mproc_object_fd(o, NULL), MPROC_EINVAL);
        kinds[i].free(o);
    }
    release_helpers();
    CU_ASSERT_EQUAL(mproc_object_fd(NULL, &fd), MPROC_EINVAL);
    CU_ASSERT_EQUAL(mproc_object_fd(NULL, NULL), MPROC_EINVAL);
    CU_ASSERT_EQUAL(mproc_object_fd(&not_an_object, &fd), MPROC_EINVAL);
    CU_ASSERT_EQUAL(mproc_object_fd(process_ctx(), &fd), MPROC_EINVAL);
    CU_ASSERT_EQUAL(fd, -1);
}

/* ---- a queue's fd in a level-triggered loop ------------------------------------------ */

#define SMALL_COUNT 200

#ifndef _WIN32
/* Whether item i of a test's stream is right. */
typedef int (*item_check)(size_t i, const void *data, size_t len);

static int is_small_item(size_t i, const void *data, size_t len)
{
    char expect[SMALL_ITEM + 1];
    small_item(expect, (int)i);
    return len == SMALL_ITEM && memcmp(data, expect, SMALL_ITEM) == 0;
}

static int is_mixed_item(size_t i, const void *data, size_t len)
{
    return len == mixed_sizes[i] && filled(data, len, (unsigned)i);
}

/* What a caller's event loop does, count times: wait on the fd, then take
 * exactly one item without waiting.  Asserts that every poll saw the fd
 * readable and every item came, whole and in order. */
static void take_one_per_poll(mproc_queue *q, intptr_t fd, size_t count, item_check check)
{
    size_t got = 0, wrong = 0;
    int timed_out = 0, rc = 0;
    while (got < count) {
        void *d = NULL;
        size_t n = 0;
        if (readable(fd, READY_WITHIN_MS) != 1) {
            timed_out = 1;
            break;
        }
        if ((rc = mproc_queue_get(q, &d, &n, 0)) != 0)
            break;
        if (!check(got, d, n)) {
            printf("\n  item %zu is not what was put (%zu bytes)\n", got, n);
            wrong++;
        }
        mproc_free(d);
        got++;
    }
    if (got != count)
        printf("\n  got %zu of %zu items, then %s%s\n", got, count, timed_out ? "poll timed out" : "get gave ",
               timed_out ? "" : mproc_strerror(rc));
    CU_ASSERT_EQUAL(got, count);
    CU_ASSERT_EQUAL(timed_out, 0);
    CU_ASSERT_EQUAL(wrong, 0);
}
#endif

/* The queue reads one item at a time since its fd was asked for, so every
 * item left is still in the pipe and the fd stays readable; with a
 * read-ahead, the first get would take every item the pipe held and the
 * next poll would time out. */
static void test_queue_fd_stays_readable_until_the_last_of_200_small_items(void)
{
    mproc_queue *q = mproc_queue_new(process_ctx(), 0);
    intptr_t fd = -1;

    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
#ifdef _WIN32
    CU_ASSERT_EQUAL(mproc_object_fd(q, &fd), MPROC_ENOTSUP);
    tu_skip_part("poll on a queue's fd", NO_POLL_REASON);
#else
    {
        mproc_args *a = mproc_args_new();
        mproc_process *p;
        CU_ASSERT_EQUAL_FATAL(mproc_object_fd(q, &fd), 0);
        mproc_args_add_queue(a, q);
        mproc_args_add_i64(a, SMALL_COUNT);
        p = tu_start(put_small_items, a);
        /* A child process writes all its items into the pipe before it
         * ends (200 x 24 bytes fit in it): the first get finds all 200
         * there, the case a read-ahead would swallow. */
        CU_ASSERT_EQUAL(tu_finish(p, LONG_WAIT), 0);
        take_one_per_poll(q, fd, SMALL_COUNT, is_small_item);
        /* All taken: the fd says so. */
        CU_ASSERT_EQUAL(readable(fd, 0), 0);
        CU_ASSERT_EQUAL(mproc_queue_empty(q), 1);
    }
#endif
    mproc_queue_free(q);
}

/* Large items go straight into the item, small ones through the shared
 * read-ahead: one at a time, both arrive whole and in order. */
static void test_queue_fd_large_and_small_items_interleave_intact(void)
{
    mproc_queue *q = mproc_queue_new(process_ctx(), 0);
    intptr_t fd = -1;

    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
#ifdef _WIN32
    CU_ASSERT_EQUAL(mproc_object_fd(q, &fd), MPROC_ENOTSUP);
    tu_skip_part("poll on a queue's fd", NO_POLL_REASON);
#else
    {
        mproc_args *a = mproc_args_new();
        mproc_process *p;
        CU_ASSERT_EQUAL_FATAL(mproc_object_fd(q, &fd), 0);
        mproc_args_add_queue(a, q);
        /* Running while we read: 1 MiB items do not fit in the pipe. */
        p = tu_start(put_mixed_items, a);
        take_one_per_poll(q, fd, MIXED_COUNT, is_mixed_item);
        CU_ASSERT_EQUAL(tu_finish(p, LONG_WAIT), 0);
        CU_ASSERT_EQUAL(readable(fd, 0), 0);
        CU_ASSERT_EQUAL(mproc_queue_empty(q), 1);
    }
#endif
    mproc_queue_free(q);
}

static CU_TestInfo tests[] = {
    TU_TEST(test_object_type_names_every_type),
    TU_TEST(test_object_type_is_none_for_null_other_memory_and_a_context),
    TU_TEST(test_object_type_is_none_for_a_freed_object),
    TU_TEST(test_object_free_frees_every_type),
    TU_TEST(test_object_free_ignores_null_and_what_is_not_an_object),
    TU_TEST(test_free_hook_runs_once_when_the_types_own_call_frees),
    TU_TEST(test_free_hook_runs_once_when_object_free_frees),
    TU_TEST(test_a_second_hook_is_eexist_and_the_first_stays),
    TU_TEST(test_a_null_hook_removes_the_one_set),
    TU_TEST(test_free_hook_set_in_the_parent_runs_when_a_fork_child_frees_its_copy),
    TU_TEST(test_free_hook_set_in_the_parent_runs_when_a_fork_child_frees_its_copy_of_a_pool),
    TU_TEST(test_on_free_refuses_what_is_not_an_object),
    TU_TEST(test_a_conditions_own_lock_cannot_be_owned_nor_freed_through_object_free),
    TU_TEST(test_a_lock_given_to_a_condition_stays_the_callers),
    TU_TEST(test_what_a_target_got_in_its_args_cannot_be_owned_there),
    TU_TEST(test_fd_of_a_process_is_readable_once_it_ended),
    TU_TEST(test_fd_of_a_process_not_started_is_estate),
    TU_TEST(test_fd_of_a_receiving_end_is_readable_for_a_message_and_at_eof),
    TU_TEST(test_fd_of_a_send_only_end_is_estate),
    TU_TEST(test_fd_of_a_queue_is_readable_while_an_item_is_left),
    TU_TEST(test_fd_is_enotsup_for_objects_without_a_descriptor),
    TU_TEST(test_fd_is_einval_for_a_null_fd_or_what_is_not_an_object),
    TU_TEST(test_queue_fd_stays_readable_until_the_last_of_200_small_items),
    TU_TEST(test_queue_fd_large_and_small_items_interleave_intact),
    CU_TEST_INFO_NULL,
};

static void reg(void) { tu_add_suite("object", tests); }

int main(int argc, char **argv) { return tu_main(argc, argv, reg); }
