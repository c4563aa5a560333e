/*
 * Objects of any type (include/mproc.h): mproc_object_type names each,
 * mproc_object_free frees each with its own call, mproc_object_on_free's
 * hook runs once whichever call frees the object.  Under the start method
 * in MPROC_START_METHOD.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* A bound on what only hangs when something is broken. */
#define LONG_WAIT 60

/* ---- targets ------------------------------------------------------------------ */

static int exit_zero(mproc_args *a)
{
    (void)a;
    return 0;
}
MPROC_TARGET(exit_zero);

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

static void test_on_free_refuses_what_is_not_an_object(void)
{
    int not_an_object = 0;
    CU_ASSERT_EQUAL(mproc_object_on_free(NULL, remember_free, NULL), MPROC_EINVAL);
    CU_ASSERT_EQUAL(mproc_object_on_free(NULL, NULL, NULL), MPROC_EINVAL);
    CU_ASSERT_EQUAL(mproc_object_on_free(&not_an_object, remember_free, NULL), MPROC_EINVAL);
    CU_ASSERT_EQUAL(not_an_object, 0);
    CU_ASSERT_EQUAL(mproc_object_on_free(process_ctx(), remember_free, NULL), MPROC_EINVAL);
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
    TU_TEST(test_on_free_refuses_what_is_not_an_object),
    CU_TEST_INFO_NULL,
};

static void reg(void) { tu_add_suite("object", tests); }

int main(int argc, char **argv) { return tu_main(argc, argv, reg); }
