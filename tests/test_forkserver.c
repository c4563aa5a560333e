/* The forkserver's failures (issue 7, case 9): a server killed under its
 * children, a server that cannot fork, a server that could not start.
 * Only the forkserver start method has a server: under the others every
 * test reports itself skipped. */
#include "testutil.h"

#ifdef _WIN32
int main(void) { return tu_skip_program("forkserver", "Windows has no fork(), so no forkserver"); }
#else

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <unistd.h>

#include "internal.h" /* mproc__forkserver_pid */

#define NOT_FORKSERVER "only the forkserver start method has a server to lose"

/* Targets (registered: forkserver children find them by name). */

static int return_arg(mproc_args *a) { return (int)mproc_args_i64(a, 0); }
MPROC_TARGET(return_arg);

/* Waits on the gate named by arg 0 (at most 60 s), then returns 0. */
static int wait_gate(mproc_args *a) { return tu_gate_wait(mproc_args_str(a, 0), 60) == 0 ? 0 : 99; }
MPROC_TARGET(wait_gate);

/* Helpers */

static mproc_process *start_blocked(char gate[64])
{
    mproc_args *a = mproc_args_new();
    mproc_process *p;
    tu_gate_name(gate);
    CU_ASSERT_EQUAL_FATAL(tu_gate_create(gate), 0);
    mproc_args_add_str(a, gate);
    p = mproc_process_new(NULL, wait_gate, a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL_FATAL(mproc_process_start(p), 0);
    return p;
}

static int run_returning(int code)
{
    mproc_args *a = mproc_args_new();
    mproc_process *p;
    int rc;
    mproc_args_add_i64(a, code);
    p = mproc_process_new(NULL, return_arg, a);
    if (!p)
        return -1000;
    if ((rc = mproc_process_start(p)) != 0) {
        mproc_process_free(p);
        return rc - 2000;
    }
    return tu_finish(p, 60);
}

/* Whether pid stops running within timeout: polls the process table (the
 * processes are not ours to wait on), bounded. */
static int ends_within(long pid, double timeout)
{
    double deadline = tu_now() + timeout;
    while (tu_pid_alive(pid)) {
        if (tu_now() > deadline)
            return 0;
        usleep(1000);
    }
    return 1;
}

/* SIGKILLs the running forkserver and waits until it is gone. */
static void kill_server(void)
{
    long server = mproc__forkserver_pid();
    CU_ASSERT_FATAL(server > 0);
    CU_ASSERT_EQUAL_FATAL(kill((pid_t)server, SIGKILL), 0);
    CU_ASSERT_FATAL(ends_within(server, 30));
}

/* Tests */

static void test_child_of_a_killed_forkserver_is_reported_ended_only_once_it_no_longer_runs(void)
{
    char gate[64];
    mproc_process *p;
    long pid;
    int code = 0;

    TU_SKIP_IF(tu_method() != MPROC_FORKSERVER, NOT_FORKSERVER);
    p = start_blocked(gate);
    pid = mproc_process_pid(p);
    kill_server();
    CU_ASSERT_EQUAL(mproc_process_join(p, 60), 0);
    /* Ended means ended: it was killed with the server, not left running
     * (it waits on its gate for 60 s otherwise).  The kernel closes a dying
     * process's descriptors, which is what the library sees, a moment
     * before the process table shows it gone: that moment is allowed. */
    CU_ASSERT(ends_within(pid, 10));
    CU_ASSERT_EQUAL(mproc_process_exitcode(p, &code), 0);
    CU_ASSERT_EQUAL(code, -9);
    tu_gate_release(gate);
    tu_gate_destroy(gate);
    mproc_process_free(p);
}

static void test_kill_ends_a_child_of_a_killed_forkserver(void)
{
    char gate[64];
    mproc_process *p;
    long pid;

    TU_SKIP_IF(tu_method() != MPROC_FORKSERVER, NOT_FORKSERVER);
    p = start_blocked(gate);
    pid = mproc_process_pid(p);
    kill_server();
    CU_ASSERT_EQUAL(mproc_process_kill(p), 0);
    /* The child waits on its gate for 60 s: only the kill (or the death of
     * its server) ends it sooner. */
    CU_ASSERT(ends_within(pid, 30));
    CU_ASSERT_EQUAL(mproc_process_join(p, 60), 0);
    CU_ASSERT_EQUAL(mproc_process_is_alive(p), 0);
    tu_gate_release(gate);
    tu_gate_destroy(gate);
    mproc_process_free(p);
}

static void test_active_children_returns_after_the_forkserver_was_killed(void)
{
    char gate[64];
    mproc_process *p, *listed[4];
    int n;

    TU_SKIP_IF(tu_method() != MPROC_FORKSERVER, NOT_FORKSERVER);
    p = start_blocked(gate);
    kill_server();
    /* Finding the child's server gone logs a warning: the hook must not be
     * called under the lock the listing holds (it once waited on itself). */
    n = mproc_active_children(listed, 4);
    CU_ASSERT(n == 0 || n == 1);
    CU_ASSERT_EQUAL(mproc_process_join(p, 60), 0);
    tu_gate_release(gate);
    tu_gate_destroy(gate);
    mproc_process_free(p);
}

/* Collects what the log hook receives. */
static char logged[2048];
static void keep_log(int level, const char *msg, void *ud)
{
    (void)level;
    (void)ud;
    if (strlen(logged) + strlen(msg) + 2 < sizeof logged) {
        strcat(logged, msg);
        strcat(logged, "\n");
    }
}

static void test_death_of_the_forkserver_is_reported_through_the_log_hook(void)
{
    char gate[64];
    mproc_process *p;

    TU_SKIP_IF(tu_method() != MPROC_FORKSERVER, NOT_FORKSERVER);
    p = start_blocked(gate);
    kill_server();
    logged[0] = '\0';
    mproc_set_log_handler(keep_log, NULL);
    CU_ASSERT_EQUAL(mproc_process_join(p, 60), 0);
    mproc_set_log_handler(NULL, NULL);
    CU_ASSERT_PTR_NOT_NULL(strstr(logged, "forkserver"));
    CU_ASSERT_PTR_NOT_NULL(strstr(logged, "died"));
    tu_gate_release(gate);
    tu_gate_destroy(gate);
    mproc_process_free(p);
}

static void test_start_right_after_the_forkserver_was_killed_starts_a_new_one(void)
{
    TU_SKIP_IF(tu_method() != MPROC_FORKSERVER, NOT_FORKSERVER);
    /* No wait between the kill and the start: the client must not trust a
     * server that is still dying. */
    for (int i = 0; i < 10; i++) {
        long server;
        CU_ASSERT_EQUAL_FATAL(run_returning(7), 7);
        server = mproc__forkserver_pid();
        CU_ASSERT_FATAL(server > 0);
        CU_ASSERT_EQUAL_FATAL(kill((pid_t)server, SIGKILL), 0);
        CU_ASSERT_EQUAL_FATAL(run_returning(7), 7);
        CU_ASSERT_NOT_EQUAL(mproc__forkserver_pid(), server);
    }
}

/* RLIMIT_NPROC: counted per user, and never enforced for root.  The helper
 * (a fork, so the test runner's own limit is untouched) becomes a user id
 * no other process has, so the count is its own processes only. */
enum { HELPER_OK = 0, HELPER_STARTED_UNDER_LIMIT = 1, HELPER_FAILED_AFTER_LIMIT = 2, HELPER_SETUP = 3, HELPER_NO_EXEC = 4 };

static mproc_process *returning_five(mproc_ctx *fs)
{
    mproc_args *args = mproc_args_new();
    mproc_args_add_i64(args, 5);
    return mproc_process_new(fs, return_arg, args);
}

static int under_nproc_limit(mproc_args *a)
{
    long limit = (long)mproc_args_i64(a, 0);
    uid_t uid = (uid_t)mproc_args_i64(a, 1);
    mproc_ctx *fs = mproc_get_context(MPROC_FORKSERVER);
    struct rlimit low = {(rlim_t)limit, 64}, lifted = {64, 64};
    mproc_process *p;
    int rc, code = -1;

    if (!fs || setgid((gid_t)uid) != 0 || setuid(uid) != 0)
        return HELPER_SETUP;
    /* The server is this program run again: the new user must be able to
     * reach it (a clone in a private directory, e.g. mktemp -d, is not). */
    if (access(mproc_args_str(a, 2), X_OK) != 0)
        return HELPER_NO_EXEC;
    if (setrlimit(RLIMIT_NPROC, &low) != 0)
        return HELPER_SETUP;
    /* Limit 1: this helper is the user's only process, so the server cannot
     * be spawned.  Limit 2: the server is spawned, but cannot fork. */
    if (!(p = returning_five(fs)))
        return HELPER_SETUP;
    rc = mproc_process_start(p);
    mproc_process_free(p);
    if (rc == 0)
        return HELPER_STARTED_UNDER_LIMIT;
    if (setrlimit(RLIMIT_NPROC, &lifted) != 0)
        return HELPER_SETUP;
    if (!(p = returning_five(fs)))
        return HELPER_SETUP;
    rc = mproc_process_start(p);
    if (rc == 0 && mproc_process_join(p, 60) == 0)
        (void)mproc_process_exitcode(p, &code);
    mproc_process_free(p);
    return rc == 0 && code == 5 ? HELPER_OK : HELPER_FAILED_AFTER_LIMIT;
}

static void check_start_after_nproc_lifted(long limit)
{
    char exe[PATH_MAX];
    mproc_args *a;
    mproc_process *p;
    int code = -1;

    TU_SKIP_IF(tu_method() != MPROC_FORKSERVER, NOT_FORKSERVER);
    TU_SKIP_IF(geteuid() != 0, "RLIMIT_NPROC counts every process of the user: only root can switch the helper to "
                               "a user id with no other process, which makes the count exact");
    a = mproc_args_new();
    mproc_args_add_i64(a, limit);
    /* A user id no other process has: drawn at random from 2^30 ids above
     * those of real users (processes of an earlier run may linger as
     * zombies where nothing reaps orphans, and they count). */
    mproc_args_add_i64(a, 100000 + (((long)getpid() * 1000003L) ^ (long)(tu_now() * 1e6)) % (1L << 30));
    mproc_args_add_str(a, realpath(tu_argv[0], exe) ? exe : tu_argv[0]);
    p = mproc_process_new(mproc_get_context(MPROC_FORK), under_nproc_limit, a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL_FATAL(mproc_process_start(p), 0);
    CU_ASSERT_EQUAL(mproc_process_join(p, 120), 0);
    CU_ASSERT_EQUAL(mproc_process_exitcode(p, &code), 0);
    mproc_process_free(p);
    if (code == HELPER_SETUP) {
        tu_skip("the helper could not switch user or set RLIMIT_NPROC");
        return;
    }
    if (code == HELPER_NO_EXEC) {
        tu_skip("the test program is not reachable by an unprivileged user (a directory on its path is private), "
                "and RLIMIT_NPROC only binds such a user");
        return;
    }
    CU_ASSERT_EQUAL(code, HELPER_OK);
}

static void test_start_after_a_refused_server_spawn_retries_once_the_limit_is_lifted(void)
{
    check_start_after_nproc_lifted(1);
}

static void test_server_that_cannot_fork_is_replaced_once_the_limit_is_lifted(void)
{
    check_start_after_nproc_lifted(2);
}

static CU_TestInfo tests[] = {
    TU_TEST(test_child_of_a_killed_forkserver_is_reported_ended_only_once_it_no_longer_runs),
    TU_TEST(test_kill_ends_a_child_of_a_killed_forkserver),
    TU_TEST(test_active_children_returns_after_the_forkserver_was_killed),
    TU_TEST(test_death_of_the_forkserver_is_reported_through_the_log_hook),
    TU_TEST(test_start_right_after_the_forkserver_was_killed_starts_a_new_one),
    TU_TEST(test_start_after_a_refused_server_spawn_retries_once_the_limit_is_lifted),
    TU_TEST(test_server_that_cannot_fork_is_replaced_once_the_limit_is_lifted),
    CU_TEST_INFO_NULL,
};

static void reg(void) { tu_add_suite("forkserver", tests); }

int main(int argc, char **argv) { return tu_main(argc, argv, reg); }

#endif /* _WIN32 */
