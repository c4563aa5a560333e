/* The exit rule (CPython's _exit_function): when a process ends normally it
 * joins its non-daemon children and terminates its daemon children. */
#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"

static int wait_gate(mproc_args *a) { return tu_gate_wait(mproc_args_str(a, 0), 60) == 0 ? 0 : 99; }
MPROC_TARGET(wait_gate);

/* Starts one child (method arg 3, daemon arg 1) that waits on gate arg 0,
 * writes its pid to file arg 2, opens gate arg 4, and returns without
 * joining: what happens next is the exit rule's work. */
static mproc_process *left_running; /* reachable: not a leak, a test subject */

static int start_one_and_return(mproc_args *a)
{
    mproc_args *ca = mproc_args_new();
    mproc_process *p;
    FILE *f;

    mproc_args_add_str(ca, mproc_args_str(a, 0));
    p = mproc_process_new(mproc_get_context((mproc_method)mproc_args_i64(a, 3)), wait_gate, ca);
    if (!p || mproc_process_set_daemon(p, (int)mproc_args_i64(a, 1)) != 0 || mproc_process_start(p) != 0)
        return 50;
    left_running = p;
    if (!(f = fopen(mproc_args_str(a, 2), "w")))
        return 51;
    fprintf(f, "%ld\n", mproc_process_pid(p));
    fclose(f);
    return tu_gate_release(mproc_args_str(a, 4)) == 0 ? 0 : 52;
}
MPROC_TARGET(start_one_and_return);

static int try_start_child(mproc_args *a)
{
    mproc_process *p = mproc_process_new(NULL, wait_gate, NULL);
    int rc = mproc_process_start(p);
    (void)a;
    if (rc == 0)
        mproc_process_join(p, 60);
    mproc_process_free(p);
    return -rc;
}
MPROC_TARGET(try_start_child);

typedef struct {
    char gate[64], started[64], pidfile[256];
    mproc_process *parent;
} family;

/* Starts a process (a real one, even under the thread method) that starts
 * one child under the method being tested. */
static void start_family(family *f, int daemon_child)
{
    mproc_args *a = mproc_args_new();
    tu_gate_name(f->gate);
    tu_gate_name(f->started);
    tu_temp_path(f->pidfile, "pid");
    CU_ASSERT_EQUAL_FATAL(tu_gate_create(f->gate), 0);
    CU_ASSERT_EQUAL_FATAL(tu_gate_create(f->started), 0);
    mproc_args_add_str(a, f->gate);
    mproc_args_add_i64(a, daemon_child);
    mproc_args_add_str(a, f->pidfile);
    mproc_args_add_i64(a, tu_method());
    mproc_args_add_str(a, f->started);
    f->parent = mproc_process_new(mproc_get_context(tu_process_method()), start_one_and_return, a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f->parent);
    CU_ASSERT_EQUAL_FATAL(mproc_process_start(f->parent), 0);
    CU_ASSERT_EQUAL_FATAL(tu_gate_wait(f->started, 60), 0);
}

static long read_pid(const char *path)
{
    FILE *f = fopen(path, "r");
    long pid = 0;
    if (f) {
        if (fscanf(f, "%ld", &pid) != 1)
            pid = 0;
        fclose(f);
    }
    return pid;
}

static void end_family(family *f)
{
    remove(f->pidfile);
    tu_gate_destroy(f->gate);
    tu_gate_destroy(f->started);
    mproc_process_free(f->parent);
}

static void test_exit_waits_for_non_daemon_children(void)
{
    family f;
    int code = -1;
    start_family(&f, 0);
    /* The parent's target has returned, but its child still runs. */
    CU_ASSERT_EQUAL(mproc_process_join(f.parent, 0.5), MPROC_ETIMEDOUT);
    CU_ASSERT_EQUAL(tu_gate_release(f.gate), 0);
    CU_ASSERT_EQUAL(mproc_process_join(f.parent, 60), 0);
    CU_ASSERT_EQUAL(mproc_process_exitcode(f.parent, &code), 0);
    CU_ASSERT_EQUAL(code, 0);
    end_family(&f);
}

static void test_exit_terminates_daemon_children(void)
{
    family f;
    int code = -1;
    long child;
    start_family(&f, 1);
    /* Nobody opens the gate: only termination ends the daemon child. */
    CU_ASSERT_EQUAL(mproc_process_join(f.parent, 60), 0);
    CU_ASSERT_EQUAL(mproc_process_exitcode(f.parent, &code), 0);
    CU_ASSERT_EQUAL(code, 0);
    child = read_pid(f.pidfile);
    CU_ASSERT(child > 0);
    if (tu_method() != MPROC_THREAD)
        CU_ASSERT_FALSE(tu_pid_alive(child));
    end_family(&f);
}

static void test_daemon_process_may_not_have_children(void)
{
    mproc_process *p = mproc_process_new(NULL, try_start_child, NULL);
    int code = 0;
    if (tu_method() == MPROC_THREAD) {
        /* A daemon thread runs in this (non-daemon) process. */
        mproc_process_free(p);
        p = mproc_process_new(mproc_get_context(tu_process_method()), try_start_child, NULL);
    }
    CU_ASSERT_EQUAL(mproc_process_set_daemon(p, 1), 0);
    CU_ASSERT_EQUAL_FATAL(mproc_process_start(p), 0);
    CU_ASSERT_EQUAL(mproc_process_join(p, 60), 0);
    CU_ASSERT_EQUAL(mproc_process_exitcode(p, &code), 0);
    CU_ASSERT_EQUAL(code, -MPROC_ESTATE);
    mproc_process_free(p);
}

static CU_TestInfo tests[] = {
    TU_TEST(test_exit_waits_for_non_daemon_children),
    TU_TEST(test_exit_terminates_daemon_children),
    TU_TEST(test_daemon_process_may_not_have_children),
    CU_TEST_INFO_NULL,
};

static void reg(void) { tu_add_suite("lifecycle", tests); }

int main(int argc, char **argv) { return tu_main(argc, argv, reg); }
