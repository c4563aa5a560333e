/* mproc_process_set_die_with_parent under the start method in
 * MPROC_START_METHOD: a child that asked is gone within a second of its
 * parent's death by SIGKILL; one that did not outlives it (CPython's
 * behaviour); neither a sibling started later nor the end of the thread
 * that started the child changes that.
 *
 * The parent that dies is a middle process the test starts and kills; the
 * child under test is its child, the test's grandchild, started with the
 * same method.  Under the thread method the middle and the grandchild are
 * processes (tu_process_method): a thread cannot outlive its process. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "internal.h" /* mproc__forkserver_pid */
#include "testutil.h"

/* Runs fn(ud) in a new thread of this process and waits until the thread
 * has ended.  Not the thread start method: its join waits for every child
 * forked while the thread ran (they inherit its sentinel's write end). */
typedef struct {
    void (*fn)(void *ud);
    void *ud;
} thread_job;

#ifdef _WIN32
#include <windows.h>
static DWORD WINAPI thread_main(LPVOID job)
{
    ((thread_job *)job)->fn(((thread_job *)job)->ud);
    return 0;
}
static int run_in_thread(void (*fn)(void *ud), void *ud)
{
    thread_job job = {fn, ud};
    HANDLE h = CreateThread(NULL, 0, thread_main, &job, 0, NULL);
    if (!h)
        return -1;
    WaitForSingleObject(h, INFINITE);
    CloseHandle(h);
    return 0;
}
#else
#include <pthread.h>
static void *thread_main(void *job)
{
    ((thread_job *)job)->fn(((thread_job *)job)->ud);
    return NULL;
}
static int run_in_thread(void (*fn)(void *ud), void *ud)
{
    thread_job job = {fn, ud};
    pthread_t t;
    if (pthread_create(&t, NULL, thread_main, &job) != 0)
        return -1;
    return pthread_join(t, NULL) == 0 ? 0 : -1;
}
#endif

/* Waits on the gate named by arg 0 (bounded: nothing outlives the test by
 * much), then sends "alive" on the conn in arg 1 when there is one, and
 * returns 42. */
static int grandchild(mproc_args *a)
{
    mproc_conn *report = mproc_args_count(a) > 1 ? mproc_args_conn(a, 1) : NULL;
    if (tu_gate_wait(mproc_args_str(a, 0), 60) != 0)
        return 99;
    if (report && mproc_conn_send(report, "alive", 5) != 0)
        return 98;
    return 42;
}
MPROC_TARGET(grandchild);

/* How the grandchild is started. */
enum { PLAIN = 0, DIES_WITH_PARENT = 1, DAEMON = 2 };

/* Starts grandchild(gate, report) under method m, as mode says. */
static mproc_process *start_grandchild(mproc_method m, int mode, const char *gate, mproc_conn *report)
{
    mproc_args *a = mproc_args_new();
    mproc_process *p;
    if (!a || mproc_args_add_str(a, gate) != 0 || (report && mproc_args_add_conn(a, report) != 0)) {
        mproc_args_free(a);
        return NULL;
    }
    if (!(p = mproc_process_new(mproc_get_context(m), grandchild, a)))
        return NULL;
    if ((mode == DAEMON ? mproc_process_set_daemon(p, 1) : mproc_process_set_die_with_parent(p, mode)) != 0 ||
        mproc_process_start(p) != 0) {
        mproc_process_free(p);
        return NULL;
    }
    return p;
}

/* What the middle process starts: the grandchild, then maybe a sibling. */
typedef struct {
    mproc_args *a;
    mproc_process *g, *s;
    int rc;
} middle_job;

static void middle_start(void *ud)
{
    middle_job *j = ud;
    mproc_method m = (mproc_method)mproc_args_i64(j->a, 1);
    const char *sibling_gate = mproc_args_str(j->a, 5);
    if (!(j->g = start_grandchild(m, (int)mproc_args_i64(j->a, 2), mproc_args_str(j->a, 3), mproc_args_conn(j->a, 0))))
        j->rc = 90;
    else if (sibling_gate[0] && !(j->s = start_grandchild(m, 0, sibling_gate, NULL)))
        j->rc = 91;
}

/* The middle process.  Args: 0 conn (reports), 1 method, 2 die_with_parent
 * for the grandchild, 3 the grandchild's gate, 4 own gate, 5 a sibling's
 * gate or "" for none, 6 whether to start them from a thread that then
 * ends.  Starts the grandchild (which reports "alive" on the conn once
 * released), then the sibling (no flag), sends their pids as two int64,
 * and waits to be killed. */
static int middle(mproc_args *a)
{
    middle_job j = {a, NULL, NULL, 0};
    int64_t pids[3] = {0, 0, 0};

    if (mproc_args_i64(a, 6) ? run_in_thread(middle_start, &j) != 0 : (middle_start(&j), 0))
        return 89;
    if (j.rc)
        return j.rc;
    pids[0] = mproc_process_pid(j.g);
    pids[1] = j.s ? mproc_process_pid(j.s) : 0;
    pids[2] = mproc__forkserver_pid(); /* 0 unless the method is forkserver */
    if (mproc_conn_send(mproc_args_conn(a, 0), pids, sizeof pids) != 0)
        return 92;
    /* Killed here; a test that fails before its kill releases the gate. */
    if (tu_gate_wait(mproc_args_str(a, 4), 60) != 0)
        return 93;
    mproc_process_free(j.g);
    mproc_process_free(j.s);
    return 0;
}
MPROC_TARGET(middle);

typedef struct {
    char gate_g[64], gate_m[64], gate_s[64];
    mproc_conn *r, *w;
    mproc_process *m;
    long gpid, spid, fspid;
} family;

/* Starts the middle process and reads its children's pids. */
static int family_start(family *f, int mode, int sibling, int from_thread)
{
    mproc_method method = tu_process_method();
    mproc_args *a = mproc_args_new();
    void *data = NULL;
    size_t len = 0;
    int64_t pids[3];

    memset(f, 0, sizeof *f);
    tu_gate_name(f->gate_g);
    tu_gate_name(f->gate_m);
    tu_gate_name(f->gate_s);
    CU_ASSERT_EQUAL_FATAL(tu_gate_create(f->gate_g), 0);
    CU_ASSERT_EQUAL_FATAL(tu_gate_create(f->gate_m), 0);
    CU_ASSERT_EQUAL_FATAL(tu_gate_create(f->gate_s), 0);
    CU_ASSERT_EQUAL_FATAL(mproc_pipe(mproc_get_context(method), 0, &f->r, &f->w), 0);
    mproc_args_add_conn(a, f->w);
    mproc_args_add_i64(a, method);
    mproc_args_add_i64(a, mode);
    mproc_args_add_str(a, f->gate_g);
    mproc_args_add_str(a, f->gate_m);
    mproc_args_add_str(a, sibling ? f->gate_s : "");
    mproc_args_add_i64(a, from_thread);
    f->m = mproc_process_new(mproc_get_context(method), middle, a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f->m);
    CU_ASSERT_EQUAL_FATAL(mproc_process_start(f->m), 0);
    if (mproc_conn_recv(f->r, &data, &len, 60) != 0 || len != sizeof pids) {
        int code = -1000;
        mproc_free(data);
        (void)mproc_process_join(f->m, 0);
        (void)mproc_process_exitcode(f->m, &code);
        printf("(the middle process reported no pids; its exit code: %d) ", code);
        return -1;
    }
    memcpy(pids, data, sizeof pids);
    mproc_free(data);
    f->gpid = (long)pids[0];
    f->spid = (long)pids[1];
    f->fspid = (long)pids[2];
    return 0;
}

/* Kills the middle process and waits until it has been reaped. */
static void family_kill_middle(family *f)
{
    CU_ASSERT_EQUAL(mproc_process_kill(f->m), 0);
    CU_ASSERT_EQUAL(mproc_process_join(f->m, 60), 0);
}

/* Seconds from since until pid no longer runs (it is not our child to wait
 * on, so the process table is polled), or a value >= bound when it still
 * ran at bound.  Between checks it waits 2 ms on the report pipe, on which
 * nothing arrives meanwhile: a portable pause, not a synchronisation. */
static double seconds_until_gone(family *f, long pid, double since, double bound)
{
    while (tu_pid_alive(pid) && tu_now() - since < bound)
        (void)mproc_conn_poll(f->r, 0.002);
    return tu_now() - since;
}

/* Releases every gate (whoever still waits ends on its own), frees all. */
static void family_end(family *f)
{
    tu_gate_release(f->gate_g);
    tu_gate_release(f->gate_m);
    tu_gate_release(f->gate_s);
    if (f->m) {
        (void)mproc_process_join(f->m, 60);
        mproc_process_free(f->m);
    }
    mproc_conn_close(f->r);
    mproc_conn_close(f->w);
    tu_gate_destroy(f->gate_g);
    tu_gate_destroy(f->gate_m);
    tu_gate_destroy(f->gate_s);
}

/* Tests */

static void test_set_die_with_parent_on_null_is_einval(void)
{
    CU_ASSERT_EQUAL(mproc_process_set_die_with_parent(NULL, 1), MPROC_EINVAL);
}

static void test_set_die_with_parent_after_start_is_estate(void)
{
    char gate[64];
    mproc_process *p;
    tu_gate_name(gate);
    CU_ASSERT_EQUAL_FATAL(tu_gate_create(gate), 0);
    p = start_grandchild(tu_method(), 0, gate, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL(mproc_process_set_die_with_parent(p, 1), MPROC_ESTATE);
    tu_gate_release(gate);
    CU_ASSERT_EQUAL(tu_finish(p, 60), 42);
    tu_gate_destroy(gate);
}

static void test_child_with_die_with_parent_is_gone_within_1s_of_its_parent_killed(void)
{
    family f;
    double start, took;
    if (family_start(&f, 1, 0, 0) == 0) {
        start = tu_now();
        family_kill_middle(&f);
        took = seconds_until_gone(&f, f.gpid, start, 10);
        printf("(gone after %.3f s) ", took);
        CU_ASSERT(took < 1.0);
    } else {
        CU_FAIL("the middle process did not start its child");
    }
    family_end(&f);
}

static void test_daemon_child_is_gone_within_1s_of_its_parent_killed(void)
{
    family f;
    double start, took;
    if (family_start(&f, DAEMON, 0, 0) == 0) {
        start = tu_now();
        family_kill_middle(&f);
        took = seconds_until_gone(&f, f.gpid, start, 10);
        printf("(gone after %.3f s) ", took);
        CU_ASSERT(took < 1.0);
    } else {
        CU_FAIL("the middle process did not start its child");
    }
    family_end(&f);
}

static void test_forkserver_is_gone_within_1s_of_its_parent_killed(void)
{
    family f;
    double start, took;
    TU_SKIP_IF(tu_process_method() != MPROC_FORKSERVER, "only the forkserver method starts a forkserver");
    if (family_start(&f, PLAIN, 0, 0) == 0) {
        CU_ASSERT_FATAL(f.fspid > 0);
        start = tu_now();
        family_kill_middle(&f);
        took = seconds_until_gone(&f, f.fspid, start, 10);
        printf("(gone after %.3f s) ", took);
        CU_ASSERT(took < 1.0);
    } else {
        CU_FAIL("the middle process did not start its child");
    }
    family_end(&f);
}

static void test_child_without_die_with_parent_outlives_its_parent_killed(void)
{
    family f;
    void *data = NULL;
    size_t len = 0;
    if (family_start(&f, 0, 0, 0) == 0) {
        family_kill_middle(&f);
        /* Released only after its parent is gone: it answers, so it lived. */
        CU_ASSERT_EQUAL(tu_gate_release(f.gate_g), 0);
        CU_ASSERT_EQUAL(mproc_conn_recv(f.r, &data, &len, 60), 0);
        CU_ASSERT(len == 5 && data && memcmp(data, "alive", 5) == 0);
        mproc_free(data);
        (void)seconds_until_gone(&f, f.gpid, tu_now(), 60);
    } else {
        CU_FAIL("the middle process did not start its child");
    }
    family_end(&f);
}

static void test_child_started_from_an_ended_thread_dies_with_parent_while_a_later_sibling_lives(void)
{
    family f;
    double start, took;
    if (family_start(&f, 1, 1, 1) == 0) {
        start = tu_now();
        family_kill_middle(&f);
        /* The sibling was started after the lifeline existed: had it (or
         * the child itself) kept a copy of the parent's end, the child would
         * live as long as it.  Both were started from a thread that ended,
         * so on Linux no parent-death signal hides that. */
        took = seconds_until_gone(&f, f.gpid, start, 10);
        printf("(gone after %.3f s) ", took);
        CU_ASSERT(took < 1.0);
        CU_ASSERT(tu_pid_alive(f.spid));
        CU_ASSERT_EQUAL(tu_gate_release(f.gate_s), 0);
        CU_ASSERT(seconds_until_gone(&f, f.spid, tu_now(), 60) < 60);
    } else {
        CU_FAIL("the middle process did not start its children");
    }
    family_end(&f);
}

/* Releases the gate in arg 0 (it runs its target: whatever ties it to its
 * parent is in place), waits on the gate in arg 1, returns 42. */
static int ready_then_wait(mproc_args *a)
{
    if (tu_gate_release(mproc_args_str(a, 0)) != 0 || tu_gate_wait(mproc_args_str(a, 1), 60) != 0)
        return 99;
    return 42;
}
MPROC_TARGET(ready_then_wait);

typedef struct {
    const char *ready, *gate;
    mproc_process *child;
} starter_job;

/* In a thread that ends once the child it started runs its target. */
static void starter(void *ud)
{
    starter_job *job = ud;
    mproc_args *a = mproc_args_new();
    mproc_args_add_str(a, job->ready);
    mproc_args_add_str(a, job->gate);
    if (!(job->child = mproc_process_new(mproc_get_context(tu_process_method()), ready_then_wait, a)))
        return;
    if (mproc_process_set_die_with_parent(job->child, 1) != 0 || mproc_process_start(job->child) != 0 ||
        tu_gate_wait(job->ready, 60) != 0) {
        (void)mproc_process_kill(job->child);
        (void)tu_finish(job->child, 60);
        job->child = NULL;
    }
}

static void test_child_with_die_with_parent_outlives_the_thread_that_started_it(void)
{
    char ready[64], gate[64];
    starter_job job;

    /* Linux's PR_SET_PDEATHSIG fires when the *thread* that forked ends,
     * not the process: the child must live on while its parent process
     * does.  (The kernel sends that signal as the thread exits, before the
     * gate below is released and the child wakes to answer.) */
    tu_gate_name(ready);
    tu_gate_name(gate);
    CU_ASSERT_EQUAL_FATAL(tu_gate_create(ready), 0);
    CU_ASSERT_EQUAL_FATAL(tu_gate_create(gate), 0);
    job.ready = ready;
    job.gate = gate;
    job.child = NULL;
    CU_ASSERT_EQUAL_FATAL(run_in_thread(starter, &job), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(job.child);
    CU_ASSERT_EQUAL(tu_gate_release(gate), 0);
    CU_ASSERT_EQUAL(tu_finish(job.child, 60), 42);
    tu_gate_destroy(ready);
    tu_gate_destroy(gate);
}

static CU_TestInfo tests[] = {
    TU_TEST(test_set_die_with_parent_on_null_is_einval),
    TU_TEST(test_set_die_with_parent_after_start_is_estate),
    TU_TEST(test_child_with_die_with_parent_is_gone_within_1s_of_its_parent_killed),
    TU_TEST(test_daemon_child_is_gone_within_1s_of_its_parent_killed),
    TU_TEST(test_forkserver_is_gone_within_1s_of_its_parent_killed),
    TU_TEST(test_child_without_die_with_parent_outlives_its_parent_killed),
    TU_TEST(test_child_started_from_an_ended_thread_dies_with_parent_while_a_later_sibling_lives),
    TU_TEST(test_child_with_die_with_parent_outlives_the_thread_that_started_it),
    CU_TEST_INFO_NULL,
};

static void reg(void) { tu_add_suite("die_with_parent", tests); }

int main(int argc, char **argv) { return tu_main(argc, argv, reg); }
