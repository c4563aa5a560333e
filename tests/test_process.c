/* Processes under the start method in MPROC_START_METHOD (each CTest run
 * picks one): exit codes, join timeouts, signals, state errors, arguments. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h" /* mproc__plat_getpid */
#include "testutil.h"

/* Targets (registered: spawn and forkserver children find them by name). */

static int return_arg(mproc_args *a) { return (int)mproc_args_i64(a, 0); }
MPROC_TARGET(return_arg);

/* Waits on the gate named by arg 0, then returns arg 1. */
static int wait_gate(mproc_args *a)
{
    if (tu_gate_wait(mproc_args_str(a, 0), 60) != 0)
        return 99;
    return (int)mproc_args_i64(a, 1);
}
MPROC_TARGET(wait_gate);

/* Returns 0 when every typed value arrived intact, else the first bad index + 1. */
static int check_values(mproc_args *a)
{
    size_t len = 0;
    const unsigned char *b;
    if (mproc_args_count(a) != 5)
        return 100;
    if (mproc_args_i64(a, 0) != INT64_MIN)
        return 1;
    if (mproc_args_f64(a, 1) != -0.125)
        return 2;
    if (!mproc_args_str(a, 2) || strcmp(mproc_args_str(a, 2), "naïve ✓") != 0)
        return 3;
    b = mproc_args_bytes(a, 3, &len);
    if (!b || len != 300 || b[0] != 0 || b[299] != (299 & 0xff))
        return 4;
    if (mproc_args_i64(a, 4) != INT64_MAX)
        return 5;
    return 0;
}
MPROC_TARGET(check_values);

/* Returns 0 when this process's argv equals the strings passed as args. */
static int compare_argv(mproc_args *a)
{
    if ((size_t)tu_argc != mproc_args_count(a))
        return 1;
    for (int i = 0; i < tu_argc; i++)
        if (strcmp(tu_argv[i], mproc_args_str(a, (size_t)i)) != 0)
            return 2;
    return 0;
}
MPROC_TARGET(compare_argv);

static int unregistered_target(mproc_args *a)
{
    (void)a;
    return 0;
}

/* Helpers */

static mproc_process *start_returning(int code)
{
    mproc_args *a = mproc_args_new();
    mproc_process *p;
    mproc_args_add_i64(a, code);
    p = mproc_process_new(NULL, return_arg, a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL_FATAL(mproc_process_start(p), 0);
    return p;
}

static int exit_code_of(int code)
{
    mproc_process *p = start_returning(code);
    int got = -1000;
    CU_ASSERT_EQUAL(mproc_process_join(p, 60), 0);
    CU_ASSERT_EQUAL(mproc_process_exitcode(p, &got), 0);
    mproc_process_free(p);
    return got;
}

static mproc_process *start_blocked(char gate[64])
{
    mproc_args *a = mproc_args_new();
    mproc_process *p;
    tu_gate_name(gate);
    CU_ASSERT_EQUAL_FATAL(tu_gate_create(gate), 0);
    mproc_args_add_str(a, gate);
    mproc_args_add_i64(a, 0);
    p = mproc_process_new(NULL, wait_gate, a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL_FATAL(mproc_process_start(p), 0);
    return p;
}

static void release_and_join(mproc_process *p, const char *gate)
{
    int code = -1;
    CU_ASSERT_EQUAL(tu_gate_release(gate), 0);
    CU_ASSERT_EQUAL(mproc_process_join(p, 60), 0);
    CU_ASSERT_EQUAL(mproc_process_exitcode(p, &code), 0);
    CU_ASSERT_EQUAL(code, 0);
    tu_gate_destroy(gate);
    mproc_process_free(p);
}

/* Tests */

static void test_exit_code_zero(void) { CU_ASSERT_EQUAL(exit_code_of(0), 0); }

static void test_exit_code_seven(void) { CU_ASSERT_EQUAL(exit_code_of(7), 7); }

static void test_exit_code_255(void) { CU_ASSERT_EQUAL(exit_code_of(255), 255); }

static void test_join_with_timeout_on_blocked_child_is_etimedout(void)
{
    char gate[64];
    mproc_process *p = start_blocked(gate);
    double t0 = tu_now(), dt;
    CU_ASSERT_EQUAL(mproc_process_join(p, 0.2), MPROC_ETIMEDOUT);
    dt = tu_now() - t0;
    CU_ASSERT(dt >= 0.2 && dt <= 1.0);
    CU_ASSERT_EQUAL(mproc_process_is_alive(p), 1);
    release_and_join(p, gate);
}

static void test_join_zero_timeout_does_not_wait(void)
{
    char gate[64];
    mproc_process *p = start_blocked(gate);
    double t0 = tu_now();
    CU_ASSERT_EQUAL(mproc_process_join(p, 0), MPROC_ETIMEDOUT);
    CU_ASSERT(tu_now() - t0 < 0.1);
    release_and_join(p, gate);
}

static void check_signal(int use_kill, int expected)
{
    char gate[64];
    mproc_process *p = start_blocked(gate);
    int code = 0;
    if (tu_method() == MPROC_THREAD) {
        CU_ASSERT_EQUAL(use_kill ? mproc_process_kill(p) : mproc_process_terminate(p), MPROC_ENOTSUP);
        release_and_join(p, gate);
        return;
    }
    CU_ASSERT_EQUAL(use_kill ? mproc_process_kill(p) : mproc_process_terminate(p), 0);
    CU_ASSERT_EQUAL(mproc_process_join(p, 60), 0);
    CU_ASSERT_EQUAL(mproc_process_exitcode(p, &code), 0);
    CU_ASSERT_EQUAL(code, expected);
    CU_ASSERT_EQUAL(mproc_process_is_alive(p), 0);
    /* Signalling an ended process has no effect. */
    CU_ASSERT_EQUAL(mproc_process_terminate(p), 0);
    tu_gate_destroy(gate);
    mproc_process_free(p);
}

static void test_kill_gives_minus_9(void) { check_signal(1, -9); }

static void test_terminate_gives_minus_15(void) { check_signal(0, -15); }

static void test_exitcode_while_running_is_estate(void)
{
    char gate[64];
    mproc_process *p = start_blocked(gate);
    int code = 1234;
    CU_ASSERT_EQUAL(mproc_process_exitcode(p, &code), MPROC_ESTATE);
    CU_ASSERT_EQUAL(code, 1234);
    release_and_join(p, gate);
}

static void test_state_errors_before_start_and_on_double_start(void)
{
    mproc_args *a = mproc_args_new();
    mproc_process *p;
    int code;
    mproc_args_add_i64(a, 3);
    p = mproc_process_new(NULL, return_arg, a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL(mproc_process_join(p, 0), MPROC_ESTATE);
    CU_ASSERT_EQUAL(mproc_process_exitcode(p, &code), MPROC_ESTATE);
    CU_ASSERT_EQUAL(mproc_process_terminate(p), MPROC_ESTATE);
    CU_ASSERT_EQUAL(mproc_process_is_alive(p), 0);
    CU_ASSERT_EQUAL(mproc_process_pid(p), 0);
    CU_ASSERT_EQUAL(mproc_process_start(p), 0);
    CU_ASSERT_EQUAL(mproc_process_start(p), MPROC_ESTATE);
    CU_ASSERT_EQUAL(mproc_process_set_name(p, "late"), MPROC_ESTATE);
    CU_ASSERT_EQUAL(mproc_process_set_daemon(p, 1), MPROC_ESTATE);
    CU_ASSERT_EQUAL(mproc_process_join(p, 60), 0);
    CU_ASSERT_EQUAL(mproc_process_exitcode(p, &code), 0);
    CU_ASSERT_EQUAL(code, 3);
    CU_ASSERT_EQUAL(mproc_process_start(p), MPROC_ESTATE);
    mproc_process_free(p);
}

static void test_new_rejects_null_target(void)
{
    CU_ASSERT_PTR_NULL(mproc_process_new(NULL, NULL, mproc_args_new()));
    CU_ASSERT_EQUAL(mproc_last_error(), MPROC_EINVAL);
}

static void test_name_and_pid(void)
{
    mproc_process *p = mproc_process_new(NULL, return_arg, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_NSTRING_EQUAL(mproc_process_name(p), "Process-", 8);
    CU_ASSERT_EQUAL(mproc_process_set_name(p, "worker-1"), 0);
    CU_ASSERT_STRING_EQUAL(mproc_process_name(p), "worker-1");
    CU_ASSERT_EQUAL(mproc_process_set_name(p, NULL), MPROC_EINVAL);
    CU_ASSERT_EQUAL(mproc_process_start(p), 0);
    CU_ASSERT(mproc_process_pid(p) > 0);
    CU_ASSERT_EQUAL(mproc_process_join(p, 60), 0);
    mproc_process_free(p);
}

static void test_typed_arguments_reach_the_child(void)
{
    unsigned char blob[300];
    mproc_args *a = mproc_args_new();
    for (int i = 0; i < 300; i++)
        blob[i] = (unsigned char)i;
    mproc_args_add_i64(a, INT64_MIN);
    mproc_args_add_f64(a, -0.125);
    mproc_args_add_str(a, "naïve ✓");
    mproc_args_add_bytes(a, blob, sizeof blob);
    mproc_args_add_i64(a, INT64_MAX);
    CU_ASSERT_EQUAL(tu_finish(tu_start(check_values, a), 60), 0);
}

static void test_child_argv_equals_parent_argv(void)
{
    mproc_args *a = mproc_args_new();
    for (int i = 0; i < tu_argc; i++)
        mproc_args_add_str(a, tu_argv[i]);
    CU_ASSERT_EQUAL(tu_finish(tu_start(compare_argv, a), 60), 0);
}

static void test_unregistered_target(void)
{
    mproc_process *p = mproc_process_new(NULL, unregistered_target, NULL);
    mproc_method m = tu_method();
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    if (m == MPROC_SPAWN || m == MPROC_FORKSERVER) {
        CU_ASSERT_EQUAL(mproc_process_start(p), MPROC_ENOTREG);
        /* Nothing started: the object is still new. */
        CU_ASSERT_EQUAL(mproc_process_pid(p), 0);
        CU_ASSERT_EQUAL(mproc_process_join(p, 0), MPROC_ESTATE);
    } else {
        /* fork and thread run any function, as CPython does. */
        CU_ASSERT_EQUAL(mproc_process_start(p), 0);
        CU_ASSERT_EQUAL(mproc_process_join(p, 60), 0);
    }
    mproc_process_free(p);
}

static void test_is_alive_turns_false_after_end(void)
{
    char gate[64];
    mproc_process *p = start_blocked(gate);
    CU_ASSERT_EQUAL(mproc_process_is_alive(p), 1);
    CU_ASSERT_EQUAL(tu_gate_release(gate), 0);
    CU_ASSERT_EQUAL(mproc_process_join(p, 60), 0);
    CU_ASSERT_EQUAL(mproc_process_is_alive(p), 0);
    tu_gate_destroy(gate);
    mproc_process_free(p);
}

static void test_wait_reports_the_ended_process(void)
{
    char gate[64];
    mproc_process *blocked = start_blocked(gate);
    mproc_process *quick = start_returning(0);
    void *objs[2] = {blocked, quick};
    int ready[2] = {-1, -1};
    double t0;

    CU_ASSERT_EQUAL(mproc_wait(objs, 2, 60, ready), 1);
    CU_ASSERT_EQUAL(ready[0], 0);
    CU_ASSERT_EQUAL(ready[1], 1);
    t0 = tu_now();
    CU_ASSERT_EQUAL(mproc_wait(objs, 1, 0.2, ready), 0);
    CU_ASSERT(tu_now() - t0 >= 0.2);
    CU_ASSERT_EQUAL(ready[0], 0);
    CU_ASSERT_EQUAL(mproc_process_join(quick, 60), 0);
    mproc_process_free(quick);
    release_and_join(blocked, gate);
}

static void test_wait_rejects_bad_objects(void)
{
    int not_a_process = 0;
    void *objs[1] = {&not_a_process};
    mproc_process *p = mproc_process_new(NULL, return_arg, NULL);
    CU_ASSERT_EQUAL(mproc_wait(objs, 1, 0, NULL), MPROC_EINVAL);
    CU_ASSERT_EQUAL(mproc_wait(objs, 0, 0, NULL), MPROC_EINVAL);
    objs[0] = p;
    CU_ASSERT_EQUAL(mproc_wait(objs, 1, 0, NULL), MPROC_ESTATE);
    mproc_process_free(p);
}

/* Returns 0 when this process's parent is the pid passed as arg 0. */
static int check_parent_pid(mproc_args *a) { return mproc_parent_pid() == (long)mproc_args_i64(a, 0) ? 0 : 1; }
MPROC_TARGET(check_parent_pid);

static void test_parent_pid_and_cpu_count(void)
{
    /* A spawned child's parent is this process.  This process's own parent
     * is not asked for: under Wine a program started from a Unix shell has
     * no Windows parent, and its parent pid reads 0. */
    mproc_args *a = mproc_args_new();
    mproc_process *p;
    int code = -1;
    mproc_args_add_i64(a, mproc__plat_getpid());
    p = mproc_process_new(mproc_get_context(MPROC_SPAWN), check_parent_pid, a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL_FATAL(mproc_process_start(p), 0);
    CU_ASSERT_EQUAL(mproc_process_join(p, 60), 0);
    CU_ASSERT_EQUAL(mproc_process_exitcode(p, &code), 0);
    CU_ASSERT_EQUAL(code, 0);
    mproc_process_free(p);
    CU_ASSERT(mproc_cpu_count() >= 1);
}

static CU_TestInfo tests[] = {
    TU_TEST(test_exit_code_zero),
    TU_TEST(test_exit_code_seven),
    TU_TEST(test_exit_code_255),
    TU_TEST(test_join_with_timeout_on_blocked_child_is_etimedout),
    TU_TEST(test_join_zero_timeout_does_not_wait),
    TU_TEST(test_kill_gives_minus_9),
    TU_TEST(test_terminate_gives_minus_15),
    TU_TEST(test_exitcode_while_running_is_estate),
    TU_TEST(test_state_errors_before_start_and_on_double_start),
    TU_TEST(test_new_rejects_null_target),
    TU_TEST(test_name_and_pid),
    TU_TEST(test_typed_arguments_reach_the_child),
    TU_TEST(test_child_argv_equals_parent_argv),
    TU_TEST(test_unregistered_target),
    TU_TEST(test_is_alive_turns_false_after_end),
    TU_TEST(test_wait_reports_the_ended_process),
    TU_TEST(test_wait_rejects_bad_objects),
    TU_TEST(test_parent_pid_and_cpu_count),
    CU_TEST_INFO_NULL,
};

static void reg(void) { tu_add_suite("process", tests); }

int main(int argc, char **argv) { return tu_main(argc, argv, reg); }
